//! The policy file (`policy::Policy::from_toml`, what `rete serve` and
//! `rete policy check` read). Any text: no panic. A file that loads has the
//! version hash of its canonical form, writes back to a file that loads to the
//! same version, and differs from itself by no grant; a refused file names at
//! least one problem, each on a line of the file, in line order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::Policy;
use rete_fuzz::{line_count, policy_file};
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return; // the file is read as UTF-8 text before it is parsed
    };
    match Policy::from_toml("fuzz.toml", text) {
        Ok(policy) => {
            let canonical = policy.canonical();
            assert_eq!(
                policy.version,
                hex::encode(Sha256::digest(canonical.as_bytes())),
                "the version is the hash of the canonical form"
            );
            assert!(
                serde_json::from_str::<serde_json::Value>(&canonical).is_ok(),
                "the canonical form is JSON"
            );
            let written = policy_file(&policy);
            let again = match Policy::from_toml("written.toml", &written) {
                Ok(p) => p,
                Err(e) => panic!("a loaded policy, written back, is refused:\n{e}\n---\n{written}"),
            };
            assert_eq!(
                again.canonical(),
                canonical,
                "written back, it reads the same"
            );
            assert!(
                policy::diff(&policy, &again).is_empty(),
                "a policy differs from its own copy by no grant"
            );
        }
        Err(e) => {
            assert!(!e.problems.is_empty(), "a refusal names a problem");
            let lines = line_count(text);
            for p in &e.problems {
                assert!(
                    (1..=lines).contains(&p.line),
                    "problem on line {} of a {lines}-line file: {}",
                    p.line,
                    p.message
                );
            }
            assert!(
                e.problems.windows(2).all(|w| w[0].line <= w[1].line),
                "problems come in line order"
            );
            assert!(e.render().starts_with("fuzz.toml:"));
        }
    }
});
