//! The court connector's transport against the test court on 127.0.0.1
//! (`connectors::court::peer`): paging by `seq`, the cursor, the bearer
//! token, every fault and how it is classified; and the test court's own
//! `POST /messages`, which the hub's outbox is tested against.

use std::time::Duration;

use connectors::config::{InstanceConfig, KindConfig};
use connectors::court::CourtConnector;
use connectors::court::peer::{CourtPeer, Es256Key, HUB_ISSUER};
use connectors::{Connector, FetchError, Mapped};
use serde_json::{Value, json};

const COURT: &str = "tm-torino";

struct Setup {
    court: CourtPeer,
    hub: Es256Key,
    dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let hub = Es256Key::generate("rete-hub-es256");
    let court = CourtPeer::start(COURT, hub.public_jwk())
        .await
        .expect("court");
    let dir = tempfile::tempdir().expect("dir");
    court
        .write_public_key(&dir.path().join("court.jwk"))
        .expect("key file");
    Setup { court, hub, dir }
}

impl Setup {
    fn connector(&self, extra: &str) -> CourtConnector {
        self.try_connector(extra).expect("valid connector")
    }

    fn try_connector(
        &self,
        extra: &str,
    ) -> Result<CourtConnector, connectors::config::ConfigError> {
        let text = format!(
            "kind = \"court\"\nagency = \"{COURT}\"\nbase_url = \"{}\"\ncourt_key_file = \"{}\"\npage_size = 2\ntimeout_ms = 800\n{extra}",
            self.court.base_url(),
            self.dir.path().join("court.jwk").display()
        );
        let instance: InstanceConfig = toml::from_str(&text).expect("toml");
        let KindConfig::Court(cfg) = &instance.kind else {
            panic!("court")
        };
        CourtConnector::new("tribunale", &instance, cfg)
    }
}

fn order(id: &str) -> Value {
    json!({"id": id, "type": "ORDER", "kind": "OTHER", "docket_number": format!("V.G. {id}"),
           "case_reference": "RETE-DEMO-0001", "issued_on": "2026-03-02", "summary": "Decreto",
           "mandates": []})
}

#[tokio::test]
async fn a_run_pages_through_the_feed_by_seq_and_reports_the_last_seq_as_cursor() {
    let s = setup().await;
    for i in 1..=5 {
        s.court.publish(order(&format!("TM-{i}")));
    }
    let c = s.connector("");
    let mut next = None;
    let mut ids = Vec::new();
    let mut last_cursor = None;
    loop {
        let page = c.fetch(None, next.as_deref()).await.expect("page");
        for item in &page.items {
            assert!(matches!(c.map(item), Mapped::Records(_)), "{item:?}");
            ids.push(item.external_id.clone().unwrap_or_default());
        }
        last_cursor = page.high_water.or(last_cursor);
        match page.next {
            Some(n) => next = Some(n),
            None => break,
        }
    }
    assert_eq!(ids, ["TM-1", "TM-2", "TM-3", "TM-4", "TM-5"]);
    assert_eq!(last_cursor.as_deref(), Some("5"));
    assert_eq!(
        s.court.order_requests(),
        [
            "/orders?limit=2",
            "/orders?after=2&limit=2",
            "/orders?after=4&limit=2"
        ]
    );

    // From the stored cursor: only what came after.
    s.court.publish(order("TM-6"));
    let page = c.fetch(Some("5"), None).await.expect("page");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].position, Some(6));
    assert_eq!(page.high_water.as_deref(), Some("6"));
    assert!(page.next.is_none());
    // Nothing new: an empty page, and no cursor to move.
    let page = c.fetch(Some("6"), None).await.expect("page");
    assert!(page.items.is_empty() && page.high_water.is_none());
}

#[tokio::test]
async fn a_stored_cursor_that_is_not_a_seq_is_permanent() {
    let s = setup().await;
    let err = s.connector("").fetch(Some("yesterday"), None).await.err();
    assert!(matches!(err, Some(FetchError::Permanent(m)) if m.contains("not a seq")));
}

#[tokio::test]
async fn the_bearer_token_is_sent_when_configured_and_a_refusal_is_permanent() {
    let s = setup().await;
    s.court.publish(order("TM-1"));
    s.court.require_bearer(Some("s3cret-token"));
    let err = s.connector("").fetch(None, None).await.err();
    assert!(
        matches!(&err, Some(FetchError::Permanent(m)) if m.contains("401")),
        "{err:?}"
    );
    let token_file = s.dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n").expect("token");
    let c = s.connector(&format!(
        "auth = {{ file = \"{}\" }}\n",
        token_file.display()
    ));
    let page = c.fetch(None, None).await.expect("page with the token");
    assert_eq!(page.items.len(), 1);
}

#[tokio::test]
async fn server_errors_and_timeouts_are_transient_and_a_down_court_too() {
    let s = setup().await;
    s.court.publish(order("TM-1"));
    let c = s.connector("");

    s.court.fail_next(1, 503);
    assert!(matches!(
        c.fetch(None, None).await,
        Err(FetchError::Transient { .. })
    ));
    s.court.fail_next(1, 429);
    assert!(matches!(
        c.fetch(None, None).await,
        Err(FetchError::Transient { .. })
    ));
    s.court.fail_next(1, 404);
    assert!(matches!(
        c.fetch(None, None).await,
        Err(FetchError::Permanent(_))
    ));

    s.court.delay_next(1, Duration::from_millis(1500));
    let err = c.fetch(None, None).await.err();
    assert!(
        matches!(&err, Some(FetchError::Transient { reason, .. }) if reason.contains("timed out")),
        "{err:?}"
    );

    s.court.set_down(true).await;
    assert!(s.court.is_down());
    let err = c.fetch(None, None).await.err();
    assert!(
        matches!(&err, Some(FetchError::Transient { reason, .. }) if reason.contains("cannot connect")),
        "{err:?}"
    );
    s.court.set_down(false).await;
    assert_eq!(c.fetch(None, None).await.expect("up again").items.len(), 1);
}

#[tokio::test]
async fn a_config_names_its_bad_key() {
    let s = setup().await;
    let err = |extra: &str| s.try_connector(extra).err().map(|e| e.key);
    assert_eq!(
        err("algorithms = [\"HS256\"]\n").as_deref(),
        Some("connectors.tribunale.algorithms[0]")
    );
    assert_eq!(
        err("algorithms = [\"RS256\"]\n").as_deref(),
        Some("connectors.tribunale.court_key_file")
    );
    assert_eq!(
        err("auth = { env = \"RETE_TEST_SURELY_UNSET_COURT\" }\n").as_deref(),
        Some("connectors.tribunale.auth")
    );
    assert_eq!(
        err("schedule = \"soon\"\n").as_deref(),
        Some("connectors.tribunale.schedule")
    );
    let text = format!(
        "kind = \"court\"\nagency = \"{COURT}\"\nbase_url = \"http://x\"\ncourt_key_file = \"k\"\ncourt_key = \"k\"\n"
    );
    let typo = toml::from_str::<InstanceConfig>(&text)
        .err()
        .map(|e| e.to_string());
    assert!(typo.is_some_and(|e| e.contains("court_key")));
}

// ---- POST /messages: what the hub's outbox sends the court ----

fn message(s: &Setup, id: &str) -> Value {
    json!({
        "id": id, "kind": "COURT_REPORT", "sender": "rete-hub", "receiver": COURT,
        "created_at": "2026-11-28T10:00:00Z", "sent_at": "2026-11-28T10:00:02Z",
        "data": {"report": {"title": "Relazione"}}, "withheld": [],
        "iss": HUB_ISSUER, "aud": s.court.agency(), "iat": chrono::Utc::now().timestamp(), "jti": id,
    })
}

async fn post(s: &Setup, key: &str, body: String) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/messages", s.court.base_url()))
        .header("content-type", "application/jose")
        .header("idempotency-key", key)
        .body(body)
        .send()
        .await
        .expect("post");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_message_is_recorded_once_and_a_duplicate_gets_the_same_receipt() {
    let s = setup().await;
    let (status, first) = post(&s, "m-1", s.hub.sign(&message(&s, "m-1"))).await;
    assert_eq!(status, 201, "{first}");
    // Sent again (a worker died before recording the delivery): signed anew.
    let mut again = message(&s, "m-1");
    again["sent_at"] = json!("2026-11-28T10:05:00Z");
    let (status, second) = post(&s, "m-1", s.hub.sign(&again)).await;
    assert_eq!(status, 200);
    assert_eq!(first["receipt"], second["receipt"]);
    let (status, _) = post(&s, "m-2", s.hub.sign(&message(&s, "m-2"))).await;
    assert_eq!(status, 201);
    let received = s.court.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0]["jti"], "m-1");
    assert_eq!(received[0]["sent_at"], "2026-11-28T10:00:02Z");
    assert_eq!(received[1]["jti"], "m-2");
    assert_eq!(s.court.attempts(), 3);
}

#[tokio::test]
async fn a_message_not_signed_by_the_hub_or_not_for_this_court_is_refused() {
    let s = setup().await;
    let impostor = Es256Key::generate("rete-hub-es256");
    let (status, body) = post(&s, "m-1", impostor.sign(&message(&s, "m-1"))).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        body["error"],
        "the signature does not verify with the hub's key"
    );

    let mut other = message(&s, "m-1");
    other["aud"] = json!("tm-milano");
    let (status, body) = post(&s, "m-1", s.hub.sign(&other)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("aud is not tm-torino"))
    );

    let mut wrong_iss = message(&s, "m-1");
    wrong_iss["iss"] = json!("someone");
    assert_eq!(post(&s, "m-1", s.hub.sign(&wrong_iss)).await.0, 400);

    let (status, body) = post(&s, "m-other", s.hub.sign(&message(&s, "m-1"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("jti is not the Idempotency-Key"))
    );

    let (status, _) = post(&s, "m-1", "not a jws".into()).await;
    assert_eq!(status, 400);

    let resp = reqwest::Client::new()
        .post(format!("{}/messages", s.court.base_url()))
        .header("content-type", "application/json")
        .header("idempotency-key", "m-1")
        .body(s.hub.sign(&message(&s, "m-1")))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 415);

    assert!(s.court.received().is_empty());
    assert_eq!(s.court.refusals().len(), 6);
    assert_eq!(s.court.attempts(), 6);
}

#[tokio::test]
async fn messages_fail_on_demand_and_a_slow_answer_still_records_the_message() {
    let s = setup().await;
    s.court.fail_next(2, 503);
    assert_eq!(
        post(&s, "m-1", s.hub.sign(&message(&s, "m-1"))).await.0,
        503
    );
    assert_eq!(
        post(&s, "m-1", s.hub.sign(&message(&s, "m-1"))).await.0,
        503
    );
    assert!(s.court.received().is_empty());

    s.court.delay_next(1, Duration::from_millis(600));
    let slow = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client")
        .post(format!("{}/messages", s.court.base_url()))
        .header("content-type", "application/jose")
        .header("idempotency-key", "m-1")
        .body(s.hub.sign(&message(&s, "m-1")))
        .send()
        .await;
    assert!(slow.is_err_and(|e| e.is_timeout()));
    // The court got it; the answer was lost. Sent again: the same receipt.
    assert_eq!(s.court.received().len(), 1);
    assert_eq!(
        post(&s, "m-1", s.hub.sign(&message(&s, "m-1"))).await.0,
        200
    );
    assert_eq!(s.court.attempts(), 4);
}

#[tokio::test]
async fn a_court_that_is_down_refuses_connections_then_comes_back() {
    let s = setup().await;
    let client = reqwest::Client::new();
    // A pooled keep-alive connection exists before the court goes down.
    assert_eq!(
        post(&s, "m-1", s.hub.sign(&message(&s, "m-1"))).await.0,
        201
    );
    let warm = client
        .get(format!("{}/orders", s.court.base_url()))
        .send()
        .await
        .expect("get");
    assert_eq!(warm.status().as_u16(), 200);

    s.court.set_down(true).await;
    let err = client
        .post(format!("{}/messages", s.court.base_url()))
        .header("content-type", "application/jose")
        .header("idempotency-key", "m-2")
        .body(s.hub.sign(&message(&s, "m-2")))
        .send()
        .await
        .err();
    assert!(err.is_some_and(|e| e.is_connect()), "refused while down");
    assert_eq!(s.court.attempts(), 1);

    s.court.set_down(false).await;
    assert_eq!(
        post(&s, "m-2", s.hub.sign(&message(&s, "m-2"))).await.0,
        201
    );
    assert_eq!(s.court.received().len(), 2);
}
