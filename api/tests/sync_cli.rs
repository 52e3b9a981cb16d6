//! `rete sync` as a real process: the contract integrators script against.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::path::Path;

use common::rete;

fn config(dir: &Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("rete.toml");
    std::fs::write(&path, body).unwrap();
    path
}

const CONSULTORIO: &str =
    "[connectors.centro]\nkind = \"consultorio\"\nagency = \"consultorio-centro\"\n";

fn sync(dir: &Path, cfg: Option<&Path>, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = rete(dir);
    if let Some(c) = cfg {
        cmd.arg("--config").arg(c);
    }
    let out = cmd.arg("sync").args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn status_without_instances_says_how_to_add_one() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = sync(dir.path(), None, &["status"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("no connector instances are configured"),
        "{out}"
    );
}

#[test]
fn an_unknown_instance_is_named_with_the_configured_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), CONSULTORIO);
    let (code, _, err) = sync(dir.path(), Some(&cfg), &["run", "centr"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("no connector instance named `centr` (configured: centro)"),
        "{err}"
    );
}

#[test]
fn a_typo_in_an_instance_is_refused_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "[connectors.centro]\nkind = \"consultorio\"\nagency = \"consultorio-centro\"\nshedule = \"15m\"\n",
    );
    let (code, _, err) = sync(dir.path(), Some(&cfg), &["status"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("shedule"), "{err}");
    let cfg = config(
        dir.path(),
        "[connectors.centro]\nkind = \"consultorio\"\nagency = \"consultorio-centro\"\nschedule = \"often\"\n",
    );
    let (code, _, err) = sync(dir.path(), Some(&cfg), &["status"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("connectors.centro.schedule"), "{err}");
}

#[test]
fn an_import_needs_an_instance_of_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), CONSULTORIO);
    std::fs::write(dir.path().join("b.json"), "{}").unwrap();
    let (code, _, err) = sync(dir.path(), Some(&cfg), &["import", "fhir", "b.json"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no `fhir` instance is configured"), "{err}");
    let (code, _, err) = sync(
        dir.path(),
        Some(&cfg),
        &["import", "fhir", "b.json", "--instance", "centro"],
    );
    assert_eq!(code, Some(1));
    assert!(
        err.contains("--instance centro is a `consultorio` instance, not `fhir`"),
        "{err}"
    );
}
