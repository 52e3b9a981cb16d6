//! The community test peer's receiving side, as the outbox's tests will use
//! it: it checks the hub's signature, applies each idempotency key once,
//! refuses a replayed nonce, and fails, waits or goes down on demand.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::time::Duration;

use chrono::Utc;
use connectors::third_sector::peer::{Attempt, CommunityPeer};
use connectors::third_sector::signature;
use serde_json::{Value, json};

const SECRET: &[u8] = b"aurora-and-the-hub-share-32-bytes-or-more";

fn envelope(id: &str) -> Value {
    json!({
        "id": id,
        "kind": "PLACEMENT_REQUEST",
        "sender": "rete-hub",
        "receiver": "comunita-aurora",
        "created_at": "2026-11-28T10:00:00Z",
        "sent_at": "2026-11-28T10:00:02Z",
        "data": {"placement": {"id": "p-1"}},
        "withheld": [],
    })
}

/// POSTs `body` to `/messages`, signed with `secret` now, with `nonce`.
async fn post(
    client: &reqwest::Client,
    peer: &CommunityPeer,
    secret: &[u8],
    nonce: &str,
    key: Option<&str>,
    body: &Value,
) -> Result<reqwest::StatusCode, reqwest::Error> {
    let body = body.to_string();
    let ts = Utc::now().timestamp();
    let mut req = client
        .post(format!("{}/messages", peer.base_url()))
        .header("content-type", "application/json")
        .header(signature::TIMESTAMP_HEADER, ts.to_string())
        .header(signature::NONCE_HEADER, nonce)
        .header(
            signature::SIGNATURE_HEADER,
            signature::sign(secret, ts, nonce, body.as_bytes()),
        )
        .body(body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    Ok(req.send().await?.status())
}

fn nonce(n: u32) -> String {
    format!("nonce-{n:032}")
}

#[tokio::test]
async fn a_message_is_applied_once_whatever_the_deliveries() {
    let peer = CommunityPeer::start(SECRET).await.unwrap();
    let client = reqwest::Client::new();
    let m = envelope("m-1");
    let first = post(&client, &peer, SECRET, &nonce(1), Some("m-1"), &m).await;
    assert_eq!(first.unwrap().as_u16(), 201);
    let again = post(&client, &peer, SECRET, &nonce(2), Some("m-1"), &m).await;
    assert_eq!(again.unwrap().as_u16(), 200, "a duplicate is acknowledged");
    let other = post(
        &client,
        &peer,
        SECRET,
        &nonce(3),
        Some("m-2"),
        &envelope("m-2"),
    )
    .await;
    assert_eq!(other.unwrap().as_u16(), 201);
    assert_eq!(peer.received(), vec![m, envelope("m-2")]);
    assert_eq!(
        peer.attempts(),
        vec![
            Attempt {
                idempotency_key: Some("m-1".into()),
                status: 201
            },
            Attempt {
                idempotency_key: Some("m-1".into()),
                status: 200
            },
            Attempt {
                idempotency_key: Some("m-2".into()),
                status: 201
            },
        ]
    );
}

#[tokio::test]
async fn a_bad_signature_a_replayed_nonce_or_a_key_that_is_not_the_id_is_refused() {
    let peer = CommunityPeer::start(SECRET).await.unwrap();
    let client = reqwest::Client::new();
    let wrong = b"not the secret the community shares with the hub";
    let m = envelope("m-1");
    let s = post(&client, &peer, wrong, &nonce(1), Some("m-1"), &m).await;
    assert_eq!(s.unwrap().as_u16(), 401);
    let s = post(&client, &peer, SECRET, &nonce(2), Some("m-9"), &m).await;
    assert_eq!(
        s.unwrap().as_u16(),
        400,
        "Idempotency-Key is the envelope's id"
    );
    let s = post(&client, &peer, SECRET, &nonce(3), None, &m).await;
    assert_eq!(s.unwrap().as_u16(), 400, "no Idempotency-Key");
    let s = post(&client, &peer, SECRET, &nonce(4), Some("m-1"), &m).await;
    assert_eq!(s.unwrap().as_u16(), 201);
    let s = post(&client, &peer, SECRET, &nonce(4), Some("m-1"), &m).await;
    assert_eq!(s.unwrap().as_u16(), 409, "the same nonce twice");
    assert_eq!(peer.received().len(), 1);
    let statuses: Vec<u16> = peer.attempts().iter().map(|a| a.status).collect();
    assert_eq!(statuses, vec![401, 400, 400, 201, 409]);
}

#[tokio::test]
async fn faults_come_in_the_order_asked_then_messages_go_in() {
    let peer = CommunityPeer::start(SECRET).await.unwrap();
    let client = reqwest::Client::new();
    peer.fail_next(2, 503);
    peer.fail_next(1, 429);
    let m = envelope("m-1");
    for (n, expected) in [(1, 503), (2, 503), (3, 429), (4, 201)] {
        let s = post(&client, &peer, SECRET, &nonce(n), Some("m-1"), &m).await;
        assert_eq!(s.unwrap().as_u16(), expected, "attempt {n}");
    }
    assert_eq!(peer.received().len(), 1);
    assert_eq!(peer.attempts().len(), 4);

    peer.delay_next(1, Duration::from_millis(800));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let m2 = envelope("m-2");
    let timed_out = post(&impatient, &peer, SECRET, &nonce(5), Some("m-2"), &m2).await;
    assert!(timed_out.is_err_and(|e| e.is_timeout()));
    let s = post(&client, &peer, SECRET, &nonce(6), Some("m-2"), &m2).await;
    assert!(
        matches!(s.unwrap().as_u16(), 200 | 201),
        "the late first delivery or this one applies it"
    );
}

#[tokio::test]
async fn a_peer_that_is_down_refuses_connections_and_comes_back_on_its_port() {
    let peer = CommunityPeer::start(SECRET).await.unwrap();
    let base = peer.base_url();
    // A client with a pooled keep-alive connection must not get through either.
    let client = reqwest::Client::new();
    let s = post(
        &client,
        &peer,
        SECRET,
        &nonce(1),
        Some("m-1"),
        &envelope("m-1"),
    )
    .await;
    assert_eq!(s.unwrap().as_u16(), 201);

    peer.set_down(true).await.unwrap();
    let refused = post(
        &client,
        &peer,
        SECRET,
        &nonce(2),
        Some("m-2"),
        &envelope("m-2"),
    )
    .await;
    let err = refused.expect_err("down");
    assert!(err.is_connect(), "{err:?}");
    peer.set_down(true).await.unwrap();

    peer.set_down(false).await.unwrap();
    assert_eq!(peer.base_url(), base);
    let s = post(
        &client,
        &peer,
        SECRET,
        &nonce(3),
        Some("m-2"),
        &envelope("m-2"),
    )
    .await;
    assert_eq!(s.unwrap().as_u16(), 201);
    assert_eq!(peer.received().len(), 2, "what it had received is kept");
}
