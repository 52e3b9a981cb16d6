//! The HTTP layer of `/graphql` and `/health`, over real HTTP: content
//! negotiation, the GraphQL-over-HTTP status codes, the refusals of malformed
//! requests, GET, and every configured limit (each shown to bite, and a request
//! under it shown to pass). Every error of every response must carry an
//! `extensions.code`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use rete_api::config::Limits;
use rete_tests::{Answer, StatusCode, TestHub};
use serde_json::{Value, json};

const GQL: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// A query heavy enough to outlast a 1 ms time limit (and within the default
/// depth and complexity limits).
const HEAVY: &str = "{ cases(first: 100) { edges { node { subjects { person { givenName healthEvents { kind } } } placements { guests { givenName } } team { operator } } } } }";

const INTROSPECTION: &str = "{ __schema { queryType { name } } }";

// ---------------------------------------------------------------- helpers --

async fn demo_hub() -> TestHub {
    TestHub::with_demo().await
}

async fn hub_with(limits: impl FnOnce(&mut Limits)) -> TestHub {
    TestHub::builder()
        .demo()
        .limits(limits)
        .start()
        .await
        .expect("sqlite hub")
}

/// Every error in `body` (a response, or a batch of them) carries a message and
/// a non-empty string `extensions.code`.
fn assert_every_error_has_a_code(body: &Value) {
    match body {
        Value::Array(items) => items.iter().for_each(assert_every_error_has_a_code),
        Value::Object(o) => {
            if let Some(errors) = o.get("errors") {
                let errors = errors
                    .as_array()
                    .unwrap_or_else(|| panic!("`errors` is not a list: {body:#}"));
                assert!(
                    !errors.is_empty(),
                    "`errors` is present but empty: {body:#}"
                );
                for e in errors {
                    let code = e.pointer("/extensions/code").and_then(Value::as_str);
                    assert!(
                        code.is_some_and(|c| !c.is_empty()),
                        "an error without `extensions.code`: {e:#}\nin {body:#}"
                    );
                    assert!(
                        e.get("message")
                            .and_then(Value::as_str)
                            .is_some_and(|m| !m.is_empty()),
                        "an error without a message: {e:#}"
                    );
                }
            }
        }
        other => panic!("the response is not a GraphQL JSON response: {other:#}"),
    }
}

/// Read a response, checking that each of its errors carries a code.
async fn answer(resp: reqwest::Response) -> Answer {
    let a = TestHub::answer(resp).await;
    assert_every_error_has_a_code(&a.body);
    a
}

/// POST a raw body with the given headers.
async fn post_raw(
    hub: &TestHub,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> Answer {
    let mut req = hub.client.post(hub.url("/graphql")).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    answer(req.send().await.expect("send")).await
}

/// POST `{"query": ...}` as the Polo Nord case manager with an `Accept` header.
async fn post_query(hub: &TestHub, accept: &str, query: &str) -> Answer {
    post_json(hub, accept, &json!({ "query": query })).await
}

/// POST any JSON body as the Polo Nord case manager.
async fn post_json(hub: &TestHub, accept: &str, body: &Value) -> Answer {
    let token = format!("Bearer {}", hub.polo_nord());
    let headers = [
        ("content-type", JSON),
        ("authorization", token.as_str()),
        ("accept", accept),
    ];
    post_raw(hub, &headers, body.to_string()).await
}

/// `/graphql?query=...`, percent-encoded.
fn get_url(hub: &TestHub, query: &str) -> reqwest::Url {
    reqwest::Url::parse_with_params(&hub.url("/graphql"), &[("query", query)]).expect("url")
}

/// GET `/graphql?query=...` with the given headers.
async fn get_query(hub: &TestHub, query: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = hub.client.get(get_url(hub, query));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    answer(req.send().await.expect("send")).await
}

/// Send a hand-written HTTP/1.1 request and read the answer: reqwest always
/// adds `Accept: */*`, so a request without `Accept` has to be written by hand.
/// `head` is the request line and headers, without a trailing CRLF.
async fn raw_http(hub: &TestHub, head: &str, body: &str) -> Answer {
    use std::io::{Read, Write};
    let addr = hub.base.trim_start_matches("http://").to_string();
    let request = format!(
        "{head}\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let raw = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
        stream.write_all(request.as_bytes()).expect("write");
        let mut out = Vec::new();
        stream.read_to_end(&mut out).expect("read");
        String::from_utf8(out).expect("a UTF-8 answer")
    })
    .await
    .expect("join");
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let content_type = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let body: Value = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    assert_every_error_has_a_code(&body);
    Answer {
        status: StatusCode::from_u16(status).expect("a status"),
        content_type,
        body,
    }
}

fn assert_media(a: &Answer, media: &str) {
    assert!(
        a.content_type.starts_with(media),
        "expected content-type {media}, got `{}` (status {}): {:#}",
        a.content_type,
        a.status,
        a.body
    );
}

/// The response is exactly one error with `code`, whose message contains
/// `needle`, sent with `status` and `media`.
fn assert_error(a: &Answer, status: u16, media: &str, code: &str, needle: &str) {
    assert_eq!(a.status, status, "status; body: {:#}", a.body);
    assert_media(a, media);
    assert_eq!(
        a.codes(),
        vec![code.to_string()],
        "codes; body: {:#}",
        a.body
    );
    let message = a.errors()[0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.to_lowercase().contains(&needle.to_lowercase()),
        "the message `{message}` does not name the problem (`{needle}`)"
    );
}

/// A request error: the operation never ran, so there is no `data` entry.
fn assert_no_data(a: &Answer) {
    assert!(
        a.body.get("data").is_none(),
        "a request error has no `data`: {:#}",
        a.body
    );
}

/// A successful `graphql-response+json` answer with data and no errors.
fn assert_ok(a: &Answer) {
    assert_eq!(a.status, 200, "status; body: {:#}", a.body);
    assert_media(a, GQL);
    assert!(a.errors().is_empty(), "unexpected errors: {:#}", a.body);
    assert!(
        a.body.get("data").is_some_and(Value::is_object),
        "no data: {:#}",
        a.body
    );
}

/// The id of a case Polo Nord leads.
async fn a_polo_nord_case(hub: &TestHub) -> String {
    let a = post_query(hub, GQL, "{ cases(first: 1) { edges { node { id } } } }").await;
    assert_ok(&a);
    a.data("/cases/edges/0/node/id")
        .as_str()
        .expect("a case id")
        .to_string()
}

// ---------------------------------------------------------------- /health --

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_ok_without_a_token() {
    let hub = demo_hub().await;
    let resp = hub
        .client
        .get(hub.url("/health"))
        .send()
        .await
        .expect("send");
    let a = answer(resp).await;
    assert_eq!(a.status, 200);
    assert_media(&a, JSON);
    assert_eq!(a.body["status"], "ok", "{:#}", a.body);
    assert_eq!(a.body["database"], "ok", "{:#}", a.body);
}

// ---------------------------------------------------- content negotiation --

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_graphql_response_json_gets_graphql_response_json() {
    let hub = demo_hub().await;
    let a = post_query(&hub, GQL, "{ me { operator } }").await;
    assert_ok(&a);
    assert_eq!(a.data("/me/operator"), "polo-nord-operator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_application_json_gets_application_json() {
    let hub = demo_hub().await;
    let a = post_query(&hub, JSON, "{ me { operator } }").await;
    assert_eq!(a.status, 200);
    assert_media(&a, JSON);
    assert_eq!(a.data("/me/operator"), "polo-nord-operator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_accept_header_gets_application_json() {
    let hub = demo_hub().await;
    let head = format!(
        "POST /graphql HTTP/1.1\r\nContent-Type: application/json\r\nAuthorization: Bearer {}",
        hub.polo_nord()
    );
    let body = json!({ "query": "{ me { operator } }" }).to_string();
    let a = raw_http(&hub, &head, &body).await;
    assert_eq!(a.status, 200, "{:#}", a.body);
    assert_media(&a, JSON);
    assert_eq!(a.data("/me/operator"), "polo-nord-operator");

    // So a request error without Accept is application/json, hence a 200.
    let body = json!({ "query": "{ me { shoeSize } }" }).to_string();
    let a = raw_http(&hub, &head, &body).await;
    assert_error(&a, 200, JSON, "GRAPHQL_VALIDATION_FAILED", "shoeSize");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_anything_gets_graphql_response_json() {
    let hub = demo_hub().await;
    let a = post_query(&hub, "*/*", "{ me { operator } }").await;
    assert_ok(&a);
    // Preferences by q are honoured.
    let a = post_query(
        &hub,
        "application/json;q=0.5, application/graphql-response+json",
        "{ me { operator } }",
    )
    .await;
    assert_ok(&a);
    let a = post_query(
        &hub,
        "application/graphql-response+json;q=0.1, application/json",
        "{ me { operator } }",
    )
    .await;
    assert_eq!(a.status, 200);
    assert_media(&a, JSON);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_only_text_plain_is_406() {
    let hub = demo_hub().await;
    let a = post_query(&hub, "text/plain", "{ me { operator } }").await;
    assert_error(
        &a,
        406,
        JSON,
        "BAD_REQUEST",
        "application/graphql-response+json",
    );
}

// ------------------------------------------------------------ status codes --

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parse_error_is_400_with_graphql_response_json_but_200_with_json() {
    let hub = demo_hub().await;
    let a = post_query(&hub, GQL, "{ me { operator ").await;
    assert_error(&a, 400, GQL, "GRAPHQL_PARSE_FAILED", "expected");
    assert_no_data(&a);

    let a = post_query(&hub, JSON, "{ me { operator ").await;
    assert_error(&a, 200, JSON, "GRAPHQL_PARSE_FAILED", "expected");
    assert_no_data(&a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validation_error_is_400_with_graphql_response_json_but_200_with_json() {
    let hub = demo_hub().await;
    let a = post_query(&hub, GQL, "{ me { operator shoeSize } }").await;
    assert_error(&a, 400, GQL, "GRAPHQL_VALIDATION_FAILED", "shoeSize");
    assert_no_data(&a);

    let a = post_query(&hub, JSON, "{ me { operator shoeSize } }").await;
    assert_error(&a, 200, JSON, "GRAPHQL_VALIDATION_FAILED", "shoeSize");
    assert_no_data(&a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_case_id_is_an_execution_error_with_data_and_200() {
    let hub = demo_hub().await;
    let q = r#"{ case(id: "not-a-uuid") { reference } }"#;
    let a = post_query(&hub, GQL, q).await;
    assert_error(&a, 200, GQL, "BAD_USER_INPUT", "not-a-uuid");
    assert_eq!(a.body["errors"][0]["path"], json!(["case"]), "{:#}", a.body);
    // The operation ran, so `data` is present. (async-graphql 7.2 leaves a
    // failed field out of its object rather than setting it to null, so with a
    // single root field `data` is null rather than `{"case": null}`.)
    assert!(a.body.get("data").is_some(), "no `data`: {:#}", a.body);

    let a = post_query(&hub, JSON, q).await;
    assert_error(&a, 200, JSON, "BAD_USER_INPUT", "not-a-uuid");
    assert!(a.body.get("data").is_some(), "no `data`: {:#}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_case_is_not_found_with_data_and_200() {
    let hub = demo_hub().await;
    let id = uuid::Uuid::new_v4();
    let q = format!(r#"{{ me {{ operator }} case(id: "{id}") {{ reference }} }}"#);
    let a = post_query(&hub, GQL, &q).await;
    assert_error(&a, 200, GQL, "NOT_FOUND", &id.to_string());
    assert_eq!(a.body["errors"][0]["path"], json!(["case"]), "{:#}", a.body);
    assert_eq!(
        a.data("/me/operator"),
        "polo-nord-operator",
        "the other field still ran"
    );
    assert_eq!(a.data("/case"), &Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_token_is_401_unauthenticated() {
    let hub = demo_hub().await;
    let body = json!({ "query": "{ me { operator } }" }).to_string();
    let a = post_raw(&hub, &[("content-type", JSON), ("accept", GQL)], body).await;
    assert_error(&a, 401, GQL, "UNAUTHENTICATED", "authorization");
}

// ------------------------------------------------------- malformed POSTs --

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_json_content_type_is_415() {
    let hub = demo_hub().await;
    let token = format!("Bearer {}", hub.polo_nord());
    let body = json!({ "query": "{ me { operator } }" }).to_string();
    for content_type in [None, Some("text/plain"), Some("application/graphql")] {
        let mut headers = vec![("accept", GQL), ("authorization", token.as_str())];
        if let Some(ct) = content_type {
            headers.push(("content-type", ct));
        }
        let a = post_raw(&hub, &headers, body.clone()).await;
        assert_error(
            &a,
            415,
            GQL,
            "BAD_REQUEST",
            "content-type: application/json",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_json_is_400() {
    let hub = demo_hub().await;
    let token = format!("Bearer {}", hub.polo_nord());
    let headers = [
        ("accept", GQL),
        ("authorization", token.as_str()),
        ("content-type", JSON),
    ];
    for body in ["{ me { operator } }", r#"{"query": 42}"#, ""] {
        let a = post_raw(&hub, &headers, body).await;
        assert_error(&a, 400, GQL, "BAD_REQUEST", "not a GraphQL request in JSON");
        assert_no_data(&a);
    }
}

// -------------------------------------------------------------------- GET --

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_runs_a_query() {
    let hub = demo_hub().await;
    let token = format!("Bearer {}", hub.polo_nord());
    let headers = [("authorization", token.as_str()), ("accept", GQL)];
    let a = get_query(&hub, "{me{operator}}", &headers).await;
    assert_ok(&a);
    assert_eq!(a.data("/me/operator"), "polo-nord-operator");

    // Without Accept, GET answers application/json too.
    let url = get_url(&hub, "{me{operator}}");
    let head = format!(
        "GET /graphql?{} HTTP/1.1\r\nAuthorization: {token}",
        url.query().unwrap_or_default()
    );
    let a = raw_http(&hub, &head, "").await;
    assert_eq!(a.status, 200, "{:#}", a.body);
    assert_media(&a, JSON);
    assert_eq!(a.data("/me/operator"), "polo-nord-operator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_refuses_a_mutation_with_405_and_writes_nothing() {
    let hub = demo_hub().await;
    let token = format!("Bearer {}", hub.polo_nord());
    let case = a_polo_nord_case(&hub).await;
    let mutation = format!(
        r#"mutation {{ addCaseNote(input: {{ caseId: "{case}", body: "sent by GET" }}) {{ id }} }}"#
    );
    let notes = "SELECT COUNT(*) FROM case_note";
    let before = hub.count(notes).await;

    let headers = [("authorization", token.as_str()), ("accept", GQL)];
    let a = get_query(&hub, &mutation, &headers).await;
    assert_error(&a, 405, GQL, "BAD_REQUEST", "send mutations with POST");
    assert_no_data(&a);
    let resp = hub
        .client
        .get(get_url(&hub, &mutation))
        .header("authorization", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        resp.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    assert_eq!(hub.count(notes).await, before, "a GET wrote a note");

    // The same mutation by POST does write: the count above is a real witness.
    let a = post_query(&hub, GQL, &mutation).await;
    assert_ok(&a);
    assert_eq!(hub.count(notes).await, before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_from_a_browser_without_a_query_serves_graphiql() {
    let hub = demo_hub().await;
    let resp = hub
        .client
        .get(hub.url("/graphql"))
        .header(
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        )
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("text/html"), "content-type `{ct}`");
    let html = resp.text().await.expect("body");
    assert!(
        html.to_lowercase().contains("graphiql"),
        "not the GraphiQL page: {html}"
    );
    assert!(
        html.contains("/graphql"),
        "GraphiQL does not point at /graphql"
    );

    // A GET without a query and without text/html is a request error.
    let resp = hub
        .client
        .get(hub.url("/graphql"))
        .header("accept", GQL)
        .bearer_auth(hub.polo_nord())
        .send()
        .await
        .expect("send");
    let a = answer(resp).await;
    assert_error(&a, 400, GQL, "GRAPHQL_PARSE_FAILED", "expected");
}

// ----------------------------------------------------------------- limits --

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_depth_refuses_a_deeper_query() {
    let hub = hub_with(|l| l.max_depth = 4).await;
    assert_ok(&post_query(&hub, GQL, "{ me { agency { id } } }").await);
    let deep = "{ cases(first: 1) { edges { node { subjects { person { givenName } } } } } }";
    let a = post_query(&hub, GQL, deep).await;
    assert_error(&a, 400, GQL, "GRAPHQL_VALIDATION_FAILED", "nested too deep");
    assert_no_data(&a);
    let a = post_query(&hub, JSON, deep).await;
    assert_error(
        &a,
        200,
        JSON,
        "GRAPHQL_VALIDATION_FAILED",
        "nested too deep",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_complexity_refuses_a_costlier_query() {
    let hub = hub_with(|l| l.max_complexity = 50).await;
    assert_ok(&post_query(&hub, GQL, "{ cases(first: 5) { edges { node { id } } } }").await);
    let a = post_query(&hub, GQL, "{ cases(first: 100) { edges { node { id } } } }").await;
    assert_error(&a, 400, GQL, "GRAPHQL_VALIDATION_FAILED", "too complex");
    assert_no_data(&a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_aliases_counts_aliases_in_operations_and_fragments() {
    let hub = hub_with(|l| l.max_aliases = 2).await;
    assert_ok(&post_query(&hub, GQL, "{ a: me { operator } b: me { role } }").await);
    assert_ok(
        &post_query(
            &hub,
            GQL,
            "{ a: me { operator } ...F } fragment F on Query { b: me { role } }",
        )
        .await,
    );

    let three = "3 aliases; the limit is 2";
    let a = post_query(
        &hub,
        GQL,
        "{ a: me { operator } b: me { role } c: me { purpose } }",
    )
    .await;
    assert_error(&a, 400, GQL, "GRAPHQL_VALIDATION_FAILED", three);
    assert_no_data(&a);

    // Hidden in a fragment, or split between the operation and a fragment.
    let a = post_query(
        &hub,
        GQL,
        "{ ...F } fragment F on Query { a: me { operator } b: me { role } c: me { purpose } }",
    )
    .await;
    assert_error(&a, 400, GQL, "GRAPHQL_VALIDATION_FAILED", three);
    let a = post_query(
        &hub,
        GQL,
        "{ a: me { operator } ...F } fragment F on Query { me { b: role c: purpose } }",
    )
    .await;
    assert_error(&a, 400, GQL, "GRAPHQL_VALIDATION_FAILED", three);

    // With application/json the refusal is a 200, still with its code.
    let a = post_query(
        &hub,
        JSON,
        "{ a: me { operator } b: me { role } c: me { purpose } }",
    )
    .await;
    assert_error(&a, 200, JSON, "GRAPHQL_VALIDATION_FAILED", three);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_root_fields_refuses_more_root_fields() {
    let hub = hub_with(|l| l.max_root_fields = 2).await;
    assert_ok(&post_query(&hub, GQL, "{ me { operator } agencies { id } }").await);
    let three = "3 root fields; the limit is 2";
    let a = post_query(
        &hub,
        GQL,
        "{ me { operator } agencies { id } cases(first: 1) { totalCount } }",
    )
    .await;
    assert_error(&a, 400, GQL, "GRAPHQL_VALIDATION_FAILED", three);
    assert_no_data(&a);
    // Root fields brought in by a fragment count too.
    let a = post_query(
        &hub,
        GQL,
        "{ me { operator } ...R } fragment R on Query { agencies { id } cases(first: 1) { totalCount } }",
    )
    .await;
    assert_error(&a, 400, GQL, "GRAPHQL_VALIDATION_FAILED", three);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_two_operations_returns_two_results() {
    let hub = demo_hub().await;
    let batch = json!([
        { "query": "{ me { operator } }" },
        {
            "query": "query A($n: Int) { cases(first: $n) { edges { node { id } } } }",
            "variables": { "n": 2 },
        },
    ]);
    let a = post_json(&hub, GQL, &batch).await;
    assert_eq!(a.status, 200, "{:#}", a.body);
    assert_media(&a, GQL);
    let results = a.body.as_array().expect("an array of results");
    assert_eq!(results.len(), 2, "{:#}", a.body);
    assert_eq!(results[0]["data"]["me"]["operator"], "polo-nord-operator");
    assert_eq!(
        results[1]["data"]["cases"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert!(
        results.iter().all(|r| r.get("errors").is_none()),
        "{:#}",
        a.body
    );

    // A failing operation does not sink the other one, and keeps its code.
    let batch = json!([{ "query": "{ me { operator } }" }, { "query": "{ me { " }]);
    let a = post_json(&hub, GQL, &batch).await;
    assert_eq!(a.status, 200, "{:#}", a.body);
    let results = a.body.as_array().expect("an array of results");
    assert_eq!(results.len(), 2, "{:#}", a.body);
    assert_eq!(results[0]["data"]["me"]["operator"], "polo-nord-operator");
    assert_eq!(
        results[1]["errors"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_batch_refuses_a_larger_batch() {
    let hub = hub_with(|l| l.max_batch = 2).await;
    let op = json!({ "query": "{ me { operator } }" });
    let a = post_json(&hub, GQL, &json!([op, op])).await;
    assert_eq!(a.status, 200, "{:#}", a.body);
    assert_eq!(a.body.as_array().map(Vec::len), Some(2), "{:#}", a.body);

    let a = post_json(&hub, GQL, &json!([op, op, op])).await;
    assert_error(
        &a,
        400,
        GQL,
        "BAD_REQUEST",
        "a batch holds 1 to 2 operations, got 3",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_body_bytes_refuses_a_larger_body_with_413() {
    let hub = hub_with(|l| l.max_body_bytes = 1024).await;
    let small = json!({ "query": "{ me { operator } }" });
    assert!(small.to_string().len() < 1024);
    assert_ok(&post_json(&hub, GQL, &small).await);

    let padded = format!("{{ me {{ operator }} }} # {}", "x".repeat(2048));
    let a = post_query(&hub, GQL, &padded).await;
    assert_error(&a, 413, GQL, "BAD_REQUEST", "limit of 1024 bytes");
    let a = post_query(&hub, JSON, &padded).await;
    assert_error(&a, 413, JSON, "BAD_REQUEST", "limit of 1024 bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeout_stops_a_heavy_query_with_503() {
    let hub = hub_with(|l| l.request_timeout_ms = 1).await;
    let a = post_query(&hub, GQL, HEAVY).await;
    assert_error(&a, 503, GQL, "TIMEOUT", "time limit of 1 ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heavy_query_passes_under_the_default_time_limit() {
    let hub = demo_hub().await;
    let a = post_query(&hub, GQL, HEAVY).await;
    assert_eq!(a.status, 200, "{:#}", a.body);
    assert_media(&a, GQL);
    assert_eq!(a.data("/cases/edges").as_array().map(Vec::len), Some(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_is_on_by_default() {
    let hub = demo_hub().await;
    let a = post_query(&hub, GQL, INTROSPECTION).await;
    assert_ok(&a);
    assert_eq!(a.data("/__schema/queryType/name"), "Query");
    let a = post_query(&hub, GQL, r#"{ __type(name: "Case") { name } }"#).await;
    assert_ok(&a);
    assert_eq!(a.data("/__type/name"), "Case");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_can_be_turned_off() {
    let hub = hub_with(|l| l.introspection = Some(false)).await;
    let a = post_query(&hub, GQL, INTROSPECTION).await;
    assert_error(&a, 400, GQL, "GRAPHQL_VALIDATION_FAILED", "introspection");
    assert_no_data(&a);
    // `__type`, and introspection hidden in a fragment, are refused as well.
    let a = post_query(&hub, GQL, r#"{ __type(name: "Case") { name } }"#).await;
    assert_error(&a, 400, GQL, "GRAPHQL_VALIDATION_FAILED", "introspection");
    let a = post_query(
        &hub,
        GQL,
        "{ ...I } fragment I on Query { __schema { types { name } } }",
    )
    .await;
    assert_error(&a, 400, GQL, "GRAPHQL_VALIDATION_FAILED", "introspection");
    // Ordinary queries, `__typename` included, still work.
    let a = post_query(&hub, GQL, "{ __typename me { operator } }").await;
    assert_ok(&a);
    assert_eq!(a.data("/__typename"), "Query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_full_of_mistakes_gets_a_hundred_errors_and_a_count_of_the_rest() {
    let hub = demo_hub().await;
    // 300 fields with 20 unknown directives each: 6000 validation errors, in
    // a document of 15 KB (found while checking graphql-cop's directive
    // overloading, whose own probe on `__typename` async-graphql ignores).
    let field = format!("operator{}", " @nope".repeat(20));
    let query = format!("{{ me {{ {} }} }}", vec![field; 300].join(" "));
    let a = post_query(&hub, GQL, &query).await;
    assert_eq!(a.status, 400, "{:#}", a.body);
    assert_no_data(&a);
    let errors = a.errors();
    assert_eq!(errors.len(), 101, "100 errors and the count of the rest");
    assert!(
        errors[..100]
            .iter()
            .all(|e| e["message"] == "Unknown directive \"nope\""),
        "{:#}",
        errors[0]
    );
    assert_eq!(
        errors[100]["message"],
        "too many errors: the first 100 of 6000 are shown"
    );
    assert!(
        a.body.to_string().len() < 20_000,
        "the answer stays small: {} bytes",
        a.body.to_string().len()
    );
    // Under the cap, every error is there.
    let few = format!("{{ me {{ {} }} }}", ["operator @nope"; 3].join(" "));
    let a = post_query(&hub, GQL, &few).await;
    assert_eq!(a.errors().len(), 3, "{:#}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_without_introspection_serves_no_graphiql() {
    let hub = hub_with(|l| l.introspection = Some(false)).await;
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    // A browser with no token gets the 401 of any other request, not a page.
    let resp = hub
        .client
        .get(hub.url("/graphql"))
        .header("accept", browser)
        .send()
        .await
        .expect("send");
    let a = answer(resp).await;
    assert_error(&a, 401, GQL, "UNAUTHENTICATED", "authorization");
    // With a token, a GET without a query is the request error it is
    // everywhere else.
    let resp = hub
        .client
        .get(hub.url("/graphql"))
        .header("accept", browser)
        .bearer_auth(hub.polo_nord())
        .send()
        .await
        .expect("send");
    let a = answer(resp).await;
    assert_error(&a, 400, GQL, "GRAPHQL_PARSE_FAILED", "expected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_without_introspection_suggests_no_field_or_argument_names() {
    let typos = [
        ("{ me { operatr } }", "unknown field \"operatr\""),
        (
            "{ cases(firs: 1) { totalCount } }",
            "unknown argument \"firs\"",
        ),
    ];
    // With introspection on (the demo) a typo gets a suggestion: the schema
    // is open to every token holder there anyway.
    let hub = demo_hub().await;
    for (query, problem) in typos {
        let a = post_query(&hub, GQL, query).await;
        assert_error(&a, 400, GQL, "GRAPHQL_VALIDATION_FAILED", problem);
        assert_error(&a, 400, GQL, "GRAPHQL_VALIDATION_FAILED", "did you mean");
    }
    // Without it the error names the problem and nothing of the schema.
    let hub = hub_with(|l| l.introspection = Some(false)).await;
    for (query, problem) in typos {
        let a = post_query(&hub, GQL, query).await;
        assert_error(&a, 400, GQL, "GRAPHQL_VALIDATION_FAILED", problem);
        let message = a.errors()[0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            !message.contains("Did you mean"),
            "a suggestion from a hub that hides its schema: `{message}`"
        );
    }
}
