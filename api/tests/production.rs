//! `rete serve` without `--demo` as a real process: it refuses the demo key
//! and introspection nobody asked for, and key files that are missing,
//! unreadable or not keys are errors that name the config key and the file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use common::{rete, serve_until_listening};
use rete_api::auth::keys::SigningKey;

const ISSUER: &str = "https://idp.rete.test";

/// The public half of a key as `BEGIN PUBLIC KEY` PEM.
fn public_pem(key: &SigningKey) -> String {
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key.pkcs8).unwrap();
    let der = pair.public_key().as_der().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// A config trusting `ISSUER` with the key in `key_file`, plus `extra`.
fn config(dir: &Path, key_file: &str, extra: &str) {
    std::fs::write(
        dir.join("rete.toml"),
        format!(
            "[[auth.issuers]]\nissuer = \"{ISSUER}\"\n[[auth.issuers.keys]]\nkid = \"k1\"\nalg = \"ES256\"\nfile = \"{key_file}\"\n{extra}"
        ),
    )
    .unwrap();
}

/// Run `rete serve` (no `--demo`) with `rete.toml`; it must fail. Its stderr.
fn refused(dir: &Path) -> String {
    let out = rete(dir)
        .args(["--config", "rete.toml", "serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    err
}

fn own_key(dir: &Path) -> SigningKey {
    let key = SigningKey::generate_es256("k1").unwrap();
    std::fs::write(dir.join("idp.pem"), public_pem(&key)).unwrap();
    key
}

#[test]
fn a_production_config_that_enables_the_demo_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    own_key(dir.path());
    config(dir.path(), "idp.pem", "[demo]\nenabled = true\n");
    let err = refused(dir.path());
    assert!(err.contains("invalid config key `demo.enabled`"), "{err}");
}

#[test]
fn a_production_issuer_whose_key_is_the_demo_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The demo key where `demo.key_file` says, as `rete serve --demo` leaves it.
    let demo = SigningKey::generate_es256("rete-demo-es256").unwrap();
    std::fs::write(d.join("rete-demo-key.pem"), demo.to_pem()).unwrap();
    // Its public half, under another name.
    std::fs::write(d.join("partner.pem"), public_pem(&demo)).unwrap();
    config(d, "partner.pem", "");
    let err = refused(d);
    assert!(
        err.contains(
            "invalid config key `auth.issuers[0].keys[0].file`: partner.pem is the demo key"
        ),
        "{err}"
    );
    // The demo key file itself.
    config(d, "rete-demo-key.pem", "");
    let err = refused(d);
    assert!(
        err.contains("`auth.issuers[0].keys[0].file`: rete-demo-key.pem is the demo key"),
        "{err}"
    );
    // The demo issuer by name.
    std::fs::write(
        d.join("rete.toml"),
        "[[auth.issuers]]\nissuer = \"rete-demo\"\njwks_url = \"https://idp.example.it/jwks\"\n",
    )
    .unwrap();
    let err = refused(d);
    assert!(err.contains("`auth.issuers[0].issuer`"), "{err}");
}

#[test]
fn production_refuses_introspection_unless_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    own_key(dir.path());
    config(dir.path(), "idp.pem", "[limits]\nintrospection = true\n");
    let err = refused(dir.path());
    assert!(
        err.contains("invalid config key `limits.introspection`")
            && err.contains("limits.introspection_in_production = true"),
        "{err}"
    );
}

#[test]
fn missing_unreadable_and_malformed_key_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    config(d, "absent.pem", "");
    let err = refused(d);
    assert!(
        err.contains("auth.issuers[0].keys[0].file: cannot read key file absent.pem"),
        "{err}"
    );
    // A directory cannot be read as a file (running as root, modes would not stop us).
    std::fs::create_dir(d.join("a-dir.pem")).unwrap();
    config(d, "a-dir.pem", "");
    let err = refused(d);
    assert!(
        err.contains("auth.issuers[0].keys[0].file: cannot read key file a-dir.pem"),
        "{err}"
    );
    std::fs::write(d.join("junk.pem"), "hello\n").unwrap();
    config(d, "junk.pem", "");
    let err = refused(d);
    assert!(
        err.contains("junk.pem is not a PEM public key (expected `-----BEGIN PUBLIC KEY-----`"),
        "{err}"
    );
    std::fs::write(
        d.join("bad.pem"),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    config(d, "bad.pem", "");
    let err = refused(d);
    assert!(
        err.contains("bad.pem is not a usable ES256 public key"),
        "{err}"
    );
    // The hub's own signing key, when it exists but is not a key.
    std::fs::write(d.join("hub.pem"), "not a key\n").unwrap();
    own_key(d);
    config(d, "idp.pem", "[audit]\nsigning_key_file = \"hub.pem\"\n");
    let err = refused(d);
    assert!(
        err.contains("key hub.pem is not a PEM private key"),
        "{err}"
    );
}

async fn introspect(addr: &str, token: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(r#"{"query":"{ __schema { queryType { name } } }"}"#)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_hides_the_schema_by_default_and_shows_it_when_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = own_key(d);
    // An agency for the token to speak for (a production hub seeds none).
    let out = rete(d).arg("migrate").output().unwrap();
    assert!(out.status.success());
    let db = rete_api::db::connect(&format!("sqlite://{}/rete.db", d.display()), 1)
        .await
        .unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        &db,
        "INSERT INTO agency (id, name, kind, created_at) VALUES ('polo-nord', 'Polo Nord', 'SOCIAL_SERVICE', '2026-01-01T00:00:00Z')",
    )
    .await
    .unwrap();
    db.close().await.unwrap();
    let claims = SigningKey::claims(
        ISSUER,
        "rete",
        "anna",
        "polo-nord",
        "CASE_MANAGER",
        "CASE_MANAGEMENT",
        600,
    );
    let token = key.sign(&claims).unwrap();
    let serve = || {
        let mut cmd = rete(d);
        cmd.args(["--config", "rete.toml", "serve", "--listen", "127.0.0.1:0"]);
        serve_until_listening(cmd)
    };

    config(d, "idp.pem", "");
    let (server, addr, _) = serve();
    let (status, body) = introspect(&addr, &token).await;
    assert_eq!(status, 400, "{body:#}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert!(body["data"].is_null(), "{body:#}");
    drop(server);

    config(
        d,
        "idp.pem",
        "[limits]\nintrospection = true\nintrospection_in_production = true\n",
    );
    let (server, addr, _) = serve();
    let (status, body) = introspect(&addr, &token).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    drop(server);
}
