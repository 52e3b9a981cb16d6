//! The court's JWS verification and the mapping of its orders, with keys
//! generated per test (the test peer's [`Es256Key`]).

use base64::Engine;
use entities::enums::CourtOrderKind;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::peer::Es256Key;
use super::*;
use crate::model::{Inbound, MandateIn};

const COURT: &str = "tm-torino";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn ctx_with(key_text: &str, algorithms: &[&str]) -> MapContext {
    let algorithms: Vec<String> = algorithms.iter().map(|a| a.to_string()).collect();
    MapContext {
        agency: COURT.into(),
        system: system_of(COURT),
        keys: CourtKeys::parse(key_text, &algorithms, "connectors.tribunale.court_key_file")
            .expect("a usable key"),
    }
}

fn ctx(key: &Es256Key) -> MapContext {
    ctx_with(
        &serde_json::to_string(&key.public_jwk()).expect("jwk"),
        &["ES256"],
    )
}

fn order() -> Value {
    json!({
        "id": "TM-2026-17",
        "type": "ORDER",
        "docket_number": "V.G. 123/2026",
        "case_reference": "RETE-DEMO-0001",
        "kind": "CUSTODY_TO_SOCIAL_SERVICE",
        "issued_on": "2026-03-02",
        "summary": "Affidamento al servizio sociale",
        "text": "Il tribunale dispone …",
        "mandates": [{"agency": "polo-nord", "description": "Relazione sulla situazione del minore",
                      "due_on": "2026-05-31"}]
    })
}

fn claims(order: Value) -> Value {
    json!({"iss": COURT, "iat": 1_772_000_000, "order": order})
}

fn item(jws: String) -> RawItem {
    RawItem {
        resource_type: RESOURCE_TYPE.into(),
        external_id: Some("TM-2026-17".into()),
        position: Some(1),
        payload: jws,
    }
}

fn rejected(m: Mapped) -> String {
    match m {
        Mapped::Rejected(r) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_signed_order_becomes_a_court_order_with_its_mandates() {
    let key = Es256Key::generate("tm-1");
    let m = map_item(&ctx(&key), &item(key.sign(&claims(order()))));
    let Mapped::Records(records) = m else {
        panic!("records expected, got {m:?}")
    };
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        r.key,
        crate::ExternalKey::new("court:tm-torino", "court-order", "TM-2026-17")
    );
    let Inbound::CourtOrder(o) = &r.body else {
        panic!("a court order")
    };
    assert_eq!(o.kind, CourtOrderKind::CustodyToSocialService);
    assert_eq!(o.case_reference, "RETE-DEMO-0001");
    assert_eq!(o.issued_on.to_string(), "2026-03-02");
    assert_eq!(
        o.mandates,
        vec![MandateIn {
            agency: "polo-nord".into(),
            description: "Relazione sulla situazione del minore".into(),
            due_on: chrono::NaiveDate::from_ymd_opt(2026, 5, 31),
        }]
    );
}

#[test]
fn the_same_order_signed_twice_has_the_same_content_hash() {
    let key = Es256Key::generate("tm-1");
    let c = ctx(&key);
    let hash = |iat: i64| {
        let mut cl = claims(order());
        cl["iat"] = json!(iat);
        match map_item(&c, &item(key.sign(&cl))) {
            Mapped::Records(r) => r[0].content_hash(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(hash(1), hash(2), "iat is not content");
}

#[test]
fn a_pem_public_key_verifies_too() {
    let key = Es256Key::generate("tm-1");
    let c = ctx_with(&key.public_pem(), &["ES256"]);
    assert!(matches!(
        map_item(&c, &item(key.sign(&claims(order())))),
        Mapped::Records(_)
    ));
}

#[test]
fn an_unsigned_item_with_alg_none_is_rejected() {
    let key = Es256Key::generate("tm-1");
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(claims(order()).to_string().as_bytes());
    let reason = rejected(map_item(&ctx(&key), &item(format!("{header}.{payload}."))));
    assert!(reason.starts_with("unsigned"), "{reason}");
    // `none` in any case, even with something where the signature goes.
    let header = b64(br#"{"alg":"NoNe"}"#);
    let reason = rejected(map_item(
        &ctx(&key),
        &item(format!("{header}.{payload}.AAAA")),
    ));
    assert!(reason.starts_with("unsigned"), "{reason}");
}

#[test]
fn an_item_that_is_not_a_jws_is_rejected() {
    let key = Es256Key::generate("tm-1");
    for payload in ["", "{\"order\": {}}", "a.b", "a.b.c.d"] {
        let reason = rejected(map_item(&ctx(&key), &item(payload.into())));
        assert!(
            reason.starts_with("not a compact JWS"),
            "{payload}: {reason}"
        );
    }
}

#[test]
fn an_order_signed_with_another_key_is_rejected() {
    let court = Es256Key::generate("tm-1");
    let forger = Es256Key::generate("tm-1");
    let reason = rejected(map_item(&ctx(&court), &item(forger.sign(&claims(order())))));
    assert_eq!(reason, "the signature does not verify with the court's key");
}

#[test]
fn a_kid_the_court_does_not_have_is_rejected() {
    let court = Es256Key::generate("tm-1");
    let other = Es256Key::generate("tm-2");
    let reason = rejected(map_item(&ctx(&court), &item(other.sign(&claims(order())))));
    assert_eq!(reason, "kid `tm-2` is not a key of the court");
}

#[test]
fn an_order_of_another_issuer_is_rejected() {
    let key = Es256Key::generate("tm-1");
    let mut c = claims(order());
    c["iss"] = json!("tm-milano");
    let reason = rejected(map_item(&ctx(&key), &item(key.sign(&c))));
    assert_eq!(
        reason,
        "iss `tm-milano` is not tm-torino, the court this instance reads"
    );
    c.as_object_mut().map(|o| o.remove("iss"));
    let reason = rejected(map_item(&ctx(&key), &item(key.sign(&c))));
    assert_eq!(reason, "the claims have no iss");
}

#[test]
fn an_order_without_iat_is_rejected() {
    let key = Es256Key::generate("tm-1");
    let mut c = claims(order());
    c.as_object_mut().map(|o| o.remove("iat"));
    assert_eq!(
        rejected(map_item(&ctx(&key), &item(key.sign(&c)))),
        "the claims have no iat"
    );
}

#[test]
fn a_tampered_payload_is_rejected() {
    let key = Es256Key::generate("tm-1");
    let jws = key.sign(&claims(order()));
    let parts: Vec<&str> = jws.split('.').collect();
    let mut changed = order();
    changed["case_reference"] = json!("RETE-DEMO-0002");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims(changed).to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(
        rejected(map_item(&ctx(&key), &item(forged))),
        "the signature does not verify with the court's key"
    );
}

#[test]
fn an_hmac_signed_with_the_public_key_is_refused_for_its_alg() {
    // The classic confusion: the public key, known to all, used as an HMAC secret.
    let key = Es256Key::generate("tm-1");
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("tm-1".into());
    let jws = jsonwebtoken::encode(
        &header,
        &claims(order()),
        &EncodingKey::from_secret(key.public_pem().as_bytes()),
    )
    .expect("hs256");
    assert_eq!(
        rejected(map_item(&ctx(&key), &item(jws))),
        "alg `HS256` is not accepted (accepted: ES256)"
    );
}

#[test]
fn a_critical_header_parameter_is_refused() {
    let key = Es256Key::generate("tm-1");
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("tm-1".into());
    header.crit = Some(vec!["exp".into()]);
    let reason = rejected(map_item(
        &ctx(&key),
        &item(key.sign_with(header, &claims(order()))),
    ));
    assert!(reason.contains("critical"), "{reason}");
}

#[test]
fn an_expired_or_not_yet_valid_order_is_rejected() {
    let key = Es256Key::generate("tm-1");
    let mut c = claims(order());
    c["exp"] = json!(1_000);
    assert_eq!(
        rejected(map_item(&ctx(&key), &item(key.sign(&c)))),
        "the JWS has expired (exp)"
    );
    let mut c = claims(order());
    c["nbf"] = json!(chrono::Utc::now().timestamp() + 3600);
    assert_eq!(
        rejected(map_item(&ctx(&key), &item(key.sign(&c)))),
        "the JWS is not valid yet (nbf)"
    );
}

#[test]
fn the_listing_id_must_be_the_signed_id() {
    let key = Es256Key::generate("tm-1");
    let mut it = item(key.sign(&claims(order())));
    it.external_id = Some("TM-2026-99".into());
    assert_eq!(
        rejected(map_item(&ctx(&key), &it)),
        "order.id differs from the id the court's feed lists the item under"
    );
}

fn rejects(change: impl FnOnce(&mut Value)) -> String {
    let key = Es256Key::generate("tm-1");
    let mut o = order();
    change(&mut o);
    rejected(map_item(&ctx(&key), &item(key.sign(&claims(o)))))
}

#[test]
fn bad_fields_are_named_in_the_reason() {
    assert_eq!(
        rejects(|o| o["kind"] = json!("ADOPTION")),
        "order.kind: `ADOPTION` is not a court order kind (CUSTODY_TO_SOCIAL_SERVICE, COMMUNITY_PLACEMENT, PARENTAL_RESPONSIBILITY_LIMITATION, EMERGENCY_REMOVAL_RATIFICATION, REPORT_REQUEST, OTHER)"
    );
    assert_eq!(
        rejects(|o| o["issued_on"] = json!("2026-02-30")),
        "order.issued_on: `2026-02-30` is not a date (YYYY-MM-DD)"
    );
    assert_eq!(
        rejects(|o| o["issued_on"] = json!("2/3/2026")),
        "order.issued_on: `2/3/2026` is not a date (YYYY-MM-DD)"
    );
    assert_eq!(
        rejects(|o| o["mandates"][0]["description"] = json!("  ")),
        "order.mandates[0].description: is empty"
    );
    assert_eq!(
        rejects(|o| o["mandates"][0]["due_on"] = json!("2026-01-31")),
        "order.mandates[0].due_on: 2026-01-31 is before the order was issued (2026-03-02)"
    );
    assert_eq!(
        rejects(|o| o["mandates"][0]["agency"] = json!(7)),
        "order.mandates[0].agency: is not a string"
    );
    assert_eq!(
        rejects(|o| o["type"] = json!("DECREE")),
        "order.type: `DECREE` is not ORDER or REPORT_REQUEST"
    );
    assert_eq!(
        rejects(|o| {
            o.as_object_mut().map(|m| m.remove("docket_number"));
        }),
        "order.docket_number: is missing"
    );
    assert_eq!(
        rejects(|o| o["summary"] = json!("x".repeat(2001))),
        "order.summary: is longer than 2000 characters"
    );
    assert_eq!(
        rejects(|o| o["kind"] = json!("REPORT_REQUEST")),
        "order.kind: REPORT_REQUEST is the kind of an item of type REPORT_REQUEST"
    );
}

#[test]
fn a_report_request_says_who_reports_by_when() {
    let key = Es256Key::generate("tm-1");
    let mut o = order();
    o["type"] = json!("REPORT_REQUEST");
    o.as_object_mut().map(|m| m.remove("kind"));
    let m = map_item(&ctx(&key), &item(key.sign(&claims(o.clone()))));
    let Mapped::Records(r) = m else {
        panic!("{m:?}")
    };
    let Inbound::CourtOrder(got) = &r[0].body else {
        panic!("a court order")
    };
    assert_eq!(got.kind, CourtOrderKind::ReportRequest);

    let mut no_due = o.clone();
    no_due["mandates"][0]
        .as_object_mut()
        .map(|m| m.remove("due_on"));
    assert_eq!(
        rejected(map_item(&ctx(&key), &item(key.sign(&claims(no_due))))),
        "order.mandates[0].due_on: a report request says by when the report is due"
    );
    let mut nobody = o;
    nobody["mandates"] = json!([]);
    assert_eq!(
        rejected(map_item(&ctx(&key), &item(key.sign(&claims(nobody))))),
        "order.mandates: a report request names who reports, by when"
    );
}

#[test]
fn reasons_never_quote_the_order_s_text() {
    let key = Es256Key::generate("tm-1");
    let mut o = order();
    o["summary"] = json!("Mario Rossi, nato il 01/01/2015");
    o["docket_number"] = json!("");
    let reason = rejected(map_item(&ctx(&key), &item(key.sign(&claims(o)))));
    assert_eq!(reason, "order.docket_number: is empty");
    assert!(!reason.contains("Rossi"));
}

#[test]
fn a_key_file_is_checked_against_the_accepted_algorithms() {
    let key = Es256Key::generate("tm-1");
    let jwk = serde_json::to_string(&key.public_jwk()).expect("jwk");
    let err = |text: &str, algs: &[&str]| {
        let algs: Vec<String> = algs.iter().map(|a| a.to_string()).collect();
        CourtKeys::parse(text, &algs, "connectors.t.court_key_file")
            .err()
            .map(|e| e.message)
            .unwrap_or_default()
    };
    assert!(
        err(&key.public_pem(), &["RS256"]).contains("none of the accepted algorithms"),
        "a P-256 key cannot verify RS256"
    );
    assert!(err(&key.public_pem(), &["ES384"]).contains("EC P-256"));
    assert!(err(&jwk, &["ES384"]).contains("not among the accepted algorithms"));
    assert!(
        err(
            "-----BEGIN PRIVATE KEY-----\nMIG...\n-----END PRIVATE KEY-----\n",
            &["ES256"]
        )
        .contains("private key")
    );
    assert!(err(r#"{"kty":"oct","k":"c2VjcmV0"}"#, &["ES256"]).contains("shared secret"));
    assert!(err("hello", &["ES256"]).contains("neither"));
    let two = json!({"keys": [key.public_jwk(), {"kty": "EC", "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]});
    assert!(err(&two.to_string(), &["ES256"]).contains("each its `kid`"));
}

#[test]
fn a_jwk_set_lets_the_court_rotate_keys() {
    let old = Es256Key::generate("tm-2025");
    let new = Es256Key::generate("tm-2026");
    let set = json!({"keys": [old.public_jwk(), new.public_jwk()]}).to_string();
    let c = ctx_with(&set, &["ES256"]);
    for k in [&old, &new] {
        assert!(matches!(
            map_item(&c, &item(k.sign(&claims(order())))),
            Mapped::Records(_)
        ));
    }
}
