//! From a hospital's referral to a case with a team, notes and a court order:
//! each mutation over real HTTP, with its validation and its permission checks.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use rete_tests::{Answer, TestHub, hub_test};
use serde_json::{Value, json};

const SUBMIT: &str = r#"mutation($input: SubmitReferralInput!) {
  submitReferral(input: $input) { id urgency reporter { id } addressedTo { id } reasons
    subjects { role person { id givenName } } } }"#;

const TRIAGE: &str = r#"mutation($input: TriageReferralInput!) {
  triageReferral(input: $input) { id triageOutcome triagedBy redirectedTo { id }
    case { id reference status leadAgency { id } riskLevel caseManager
      subjects { role person { givenName fiscalCode } } team { agency { id } role active } } } }"#;

fn referral_input(addressed_to: &str, fiscal: &str) -> Value {
    json!({"input": {
        "addressedTo": addressed_to,
        "channel": "PHONE",
        "urgency": "IMMEDIATE",
        "reasons": ["MALTREATMENT", "NEGLECT"],
        "description": "Bambina con lividi in PS (test).",
        "subjects": [
            {"role": "CHILD", "newPerson": {"givenName": "Testina", "familyName": "Demo Prova", "fiscalCode": fiscal, "birthOn": "2019-05-01"}},
            {"role": "MOTHER", "newPerson": {"givenName": "Madre", "familyName": "Demo Prova"}}
        ]
    }})
}

fn code_of(a: &Answer) -> String {
    a.codes().first().cloned().unwrap_or_default()
}

fn field_of(a: &Answer) -> String {
    a.errors()
        .first()
        .and_then(|e| {
            e.pointer("/extensions/field")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default()
}

async fn a_referral_becomes_a_case_led_by_the_triaging_social_service(hub: TestHub) {
    let hospital = hub.token("ospedale-regina", "HEALTH_PROFESSIONAL", "HEALTHCARE");
    let intake = hub.token("polo-sud", "INTAKE_OPERATOR", "CASE_MANAGEMENT");

    let a = hub
        .gql(
            &hospital,
            SUBMIT,
            referral_input("polo-sud", "TSTPRV19E41L219X"),
        )
        .await;
    assert_eq!(
        a.data("/submitReferral/reporter/id"),
        "ospedale-regina",
        "{:#}",
        a.body
    );
    assert_eq!(a.data("/submitReferral/urgency"), "IMMEDIATE");
    // The reporter is linked to the referral, not (yet) entitled to identities.
    assert!(
        a.data("/submitReferral/subjects/0/person/givenName")
            .is_null()
    );
    assert!(
        a.codes().iter().all(|c| c == "FIELD_WITHHELD"),
        "{:#}",
        a.body
    );
    let withheld = a
        .errors()
        .into_iter()
        .find(|e| e["path"] == json!(["submitReferral", "subjects", 0, "person", "givenName"]))
        .expect("a FIELD_WITHHELD error at the withheld field's path");
    assert_eq!(
        withheld.pointer("/extensions/dataClass").unwrap(),
        "IDENTITY"
    );
    let referral_id = a.data("/submitReferral/id").as_str().unwrap().to_string();

    // It waits in polo-sud's queue, most urgent first.
    let q = hub
        .gql(
            &intake,
            "{ referralQueue(first: 100) { id urgency receivedAt } }",
            json!({}),
        )
        .await
        .ok();
    let queue = q.data("/referralQueue").as_array().unwrap().clone();
    assert!(queue.iter().any(|r| r["id"] == referral_id.as_str()));
    let rank = |u: &Value| {
        ["IMMEDIATE", "HIGH", "MEDIUM", "LOW"]
            .iter()
            .position(|x| u == x)
            .unwrap()
    };
    let ranks: Vec<usize> = queue.iter().map(|r| rank(&r["urgency"])).collect();
    assert!(
        ranks.windows(2).all(|w| w[0] <= w[1]),
        "queue not by urgency: {ranks:?}"
    );
    // Another social service does not see it.
    let nord = hub.token("polo-nord", "INTAKE_OPERATOR", "CASE_MANAGEMENT");
    let other = hub
        .gql(&nord, "{ referralQueue(first: 100) { id } }", json!({}))
        .await
        .ok();
    assert!(
        !other
            .data("/referralQueue")
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == referral_id.as_str())
    );
    // Only intake operators and case managers of social services have a queue.
    let denied = hub
        .gql(&hospital, "{ referralQueue { id } }", json!({}))
        .await;
    assert_eq!(code_of(&denied), "FORBIDDEN");

    let t = hub
        .gql(
            &intake,
            TRIAGE,
            json!({"input": {"referralId": referral_id, "decision": "ACCEPT", "reason": "Presa in carico urgente", "riskLevel": "HIGH", "caseManager": "polo-sud-operator"}}),
        )
        .await
        .ok();
    assert_eq!(t.data("/triageReferral/triageOutcome"), "ACCEPTED");
    assert_eq!(t.data("/triageReferral/case/status"), "INTAKE");
    assert_eq!(t.data("/triageReferral/case/leadAgency/id"), "polo-sud");
    assert_eq!(t.data("/triageReferral/case/riskLevel"), "HIGH");
    assert_eq!(
        t.data("/triageReferral/case/subjects/0/person/fiscalCode"),
        "TSTPRV19E41L219X"
    );
    assert_eq!(t.data("/triageReferral/case/team/0/agency/id"), "polo-sud");
    assert_eq!(t.data("/triageReferral/case/team/0/active"), true);
    assert!(
        t.data("/triageReferral/case/reference")
            .as_str()
            .unwrap()
            .starts_with("RETE-")
    );

    // Triage happens once.
    let again = hub
        .gql(
            &intake,
            TRIAGE,
            json!({"input": {"referralId": referral_id, "decision": "DISMISS", "reason": "x"}}),
        )
        .await;
    assert_eq!(code_of(&again), "CONFLICT");
}
hub_test!(
    a_referral_becomes_a_case_led_by_the_triaging_social_service,
    TestHub::builder().demo()
);

async fn redirect_forwards_a_copy_and_dismiss_needs_a_reason(hub: TestHub) {
    let hospital = hub.token("ospedale-regina", "HEALTH_PROFESSIONAL", "HEALTHCARE");
    let nord = hub.token("polo-nord", "INTAKE_OPERATOR", "CASE_MANAGEMENT");
    let sud = hub.token("polo-sud", "INTAKE_OPERATOR", "CASE_MANAGEMENT");
    let a = hub
        .gql(
            &hospital,
            SUBMIT,
            referral_input("polo-nord", "TSTRDR19E41L219X"),
        )
        .await;
    let id = a.data("/submitReferral/id").as_str().unwrap().to_string();

    let bad = hub
        .gql(
            &nord,
            TRIAGE,
            json!({"input": {"referralId": id, "decision": "DISMISS", "reason": "   "}}),
        )
        .await;
    assert_eq!(code_of(&bad), "BAD_USER_INPUT");
    assert_eq!(field_of(&bad), "reason");

    let no_target = hub.gql(&nord, TRIAGE, json!({"input": {"referralId": id, "decision": "REDIRECT", "reason": "Residenza a sud"}})).await;
    assert_eq!(field_of(&no_target), "redirectTo");
    let not_social = hub
        .gql(&nord, TRIAGE, json!({"input": {"referralId": id, "decision": "REDIRECT", "reason": "x", "redirectTo": "ospedale-regina"}}))
        .await;
    assert_eq!(field_of(&not_social), "redirectTo");

    let r = hub
        .gql(&nord, TRIAGE, json!({"input": {"referralId": id, "decision": "REDIRECT", "reason": "Residenza a sud", "redirectTo": "polo-sud"}}))
        .await
        .ok();
    assert_eq!(r.data("/triageReferral/triageOutcome"), "REDIRECTED");
    assert_eq!(r.data("/triageReferral/redirectedTo/id"), "polo-sud");
    // polo-sud now has an untriaged copy with the same subjects.
    let q = hub
        .gql(
            &sud,
            "{ referralQueue(first: 100) { id description subjects { person { fiscalCode } } } }",
            json!({}),
        )
        .await
        .ok();
    let copy = q
        .data("/referralQueue")
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r.pointer("/subjects/0/person/fiscalCode") == Some(&json!("TSTRDR19E41L219X")))
        .cloned()
        .expect("a forwarded copy in polo-sud's queue");
    let d = hub
        .gql(&sud, TRIAGE, json!({"input": {"referralId": copy["id"], "decision": "DISMISS", "reason": "Già seguita"}}))
        .await
        .ok();
    assert_eq!(d.data("/triageReferral/triageOutcome"), "DISMISSED");
    assert!(d.data("/triageReferral/case").is_null());
}
hub_test!(
    redirect_forwards_a_copy_and_dismiss_needs_a_reason,
    TestHub::builder().demo()
);

async fn bad_referrals_are_refused_naming_the_field_and_write_nothing(hub: TestHub) {
    let hospital = hub.token("ospedale-regina", "HEALTH_PROFESSIONAL", "HEALTHCARE");
    let persons = hub.count("SELECT COUNT(*) FROM person").await;
    let referrals = hub.count("SELECT COUNT(*) FROM referral").await;

    let mut input = referral_input("ospedale-regina", "TSTBAD19E41L219X");
    let a = hub.gql(&hospital, SUBMIT, input.clone()).await;
    assert_eq!(
        (code_of(&a), field_of(&a)),
        ("BAD_USER_INPUT".into(), "addressedTo".into())
    );

    input = referral_input("polo-nord", "TSTBAD19E41L219X");
    input["input"]["reasons"] = json!([]);
    let a = hub.gql(&hospital, SUBMIT, input).await;
    assert_eq!(field_of(&a), "reasons");

    input = referral_input("polo-nord", "TOO-SHORT");
    let a = hub.gql(&hospital, SUBMIT, input).await;
    assert_eq!(field_of(&a), "subjects[0].newPerson.fiscalCode");

    // The second subject is a person the hospital cannot reach: nothing of the
    // first (valid) subject may be written either.
    input = referral_input("polo-nord", "TSTBAD19E41L219X");
    input["input"]["subjects"][1] =
        json!({"role": "MOTHER", "personId": uuid::Uuid::now_v7().to_string()});
    let a = hub.gql(&hospital, SUBMIT, input).await;
    assert_eq!(
        (code_of(&a), field_of(&a)),
        ("BAD_USER_INPUT".into(), "subjects[1].personId".into())
    );

    input = referral_input("polo-nord", "TSTBAD19E41L219X");
    input["input"]["subjects"][0]["personId"] = json!(uuid::Uuid::now_v7().to_string());
    let a = hub.gql(&hospital, SUBMIT, input).await;
    assert_eq!(field_of(&a), "subjects[0]");

    assert_eq!(hub.count("SELECT COUNT(*) FROM person").await, persons);
    assert_eq!(hub.count("SELECT COUNT(*) FROM referral").await, referrals);
}
hub_test!(
    bad_referrals_are_refused_naming_the_field_and_write_nothing,
    TestHub::builder().demo()
);

/// A demo case of polo-nord in the given status.
async fn case_in(hub: &TestHub, status: &str) -> String {
    let a = hub
        .gql(
            &hub.polo_nord(),
            "query($s: [CaseStatus!]) { cases(first: 50, filter: {status: $s}) { edges { node { id leadAgency { id } } } } }",
            json!({"s": [status]}),
        )
        .await
        .ok();
    a.data("/cases/edges")
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e.pointer("/node/leadAgency/id") == Some(&json!("polo-nord")))
        .and_then(|e| e.pointer("/node/id").and_then(Value::as_str))
        .expect("a case in that status")
        .to_string()
}

const STATUS: &str = "mutation($input: ChangeCaseStatusInput!) { changeCaseStatus(input: $input) { status closedOn notes { body } } }";

async fn a_case_moves_only_along_allowed_transitions(hub: TestHub) {
    let t = hub.polo_nord();
    let id = case_in(&hub, "INTAKE").await;
    let skip = hub
        .gql(
            &t,
            STATUS,
            json!({"input": {"caseId": id, "status": "ACTIVE", "reason": "salto"}}),
        )
        .await;
    assert_eq!(code_of(&skip), "CONFLICT");
    assert!(
        skip.errors()[0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot move from Intake to Active")
    );

    for (to, closed) in [
        ("ASSESSMENT", false),
        ("ACTIVE", false),
        ("SUSPENDED", false),
        ("CLOSED", true),
        ("ASSESSMENT", false),
    ] {
        let a = hub
            .gql(
                &t,
                STATUS,
                json!({"input": {"caseId": id, "status": to, "reason": "passo"}}),
            )
            .await
            .ok();
        assert_eq!(a.data("/changeCaseStatus/status"), to);
        assert_eq!(!a.data("/changeCaseStatus/closedOn").is_null(), closed);
    }
    // Every move left a note with its reason.
    let a = hub
        .gql(
            &t,
            "query($id: ID!) { case(id: $id) { notes { body } } }",
            json!({"id": id}),
        )
        .await
        .ok();
    let moves = a
        .data("/case/notes")
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["body"].as_str().unwrap().starts_with("Status "))
        .count();
    assert_eq!(moves, 5);

    // Only the lead agency's case managers steer the case.
    let psych = hub.token("polo-nord", "PSYCHOLOGIST", "CASE_MANAGEMENT");
    let a = hub
        .gql(
            &psych,
            STATUS,
            json!({"input": {"caseId": id, "status": "ACTIVE", "reason": "x"}}),
        )
        .await;
    assert_eq!(code_of(&a), "FORBIDDEN");
    let sud = hub.token("polo-sud", "CASE_MANAGER", "CASE_MANAGEMENT");
    let a = hub
        .gql(
            &sud,
            STATUS,
            json!({"input": {"caseId": id, "status": "ACTIVE", "reason": "x"}}),
        )
        .await;
    assert_eq!(
        code_of(&a),
        "NOT_FOUND",
        "an unrelated agency does not learn the case exists"
    );
}
hub_test!(
    a_case_moves_only_along_allowed_transitions,
    TestHub::builder().demo()
);

const ADD_MEMBER: &str = "mutation($input: AddTeamMemberInput!) { addTeamMember(input: $input) { id agency { id } operator role active } }";

async fn the_lead_manages_the_team_and_the_team_writes_notes(hub: TestHub) {
    let t = hub.polo_nord();
    let id = case_in(&hub, "ACTIVE").await;
    let input = json!({"input": {"caseId": id, "agencyId": "comunita-aurora", "operator": "educatrice-1", "role": "EDUCATOR"}});
    let a = hub.gql(&t, ADD_MEMBER, input.clone()).await.ok();
    assert_eq!(a.data("/addTeamMember/active"), true);
    let membership = a.data("/addTeamMember/id").as_str().unwrap().to_string();
    assert_eq!(
        code_of(&hub.gql(&t, ADD_MEMBER, input.clone()).await),
        "CONFLICT"
    );

    // The new member now reaches the case and may add a note.
    let educator = hub.token_as("educatrice-1", "comunita-aurora", "EDUCATOR", "PLACEMENT");
    let note = hub
        .gql(&educator, "mutation($i: AddCaseNoteInput!) { addCaseNote(input: $i) { body dataClass authorAgency { id } } }",
            json!({"i": {"caseId": id, "body": "Inserimento sereno."}}))
        .await
        .ok();
    assert_eq!(note.data("/addCaseNote/dataClass"), "SOCIAL");
    assert_eq!(note.data("/addCaseNote/authorAgency/id"), "comunita-aurora");
    // ...but may not change the team.
    let a = hub.gql(&educator, ADD_MEMBER, json!({"input": {"caseId": id, "agencyId": "coop-ponte", "operator": "m", "role": "MEDIATOR"}})).await;
    assert_eq!(code_of(&a), "FORBIDDEN");
    let admin_note = hub
        .gql(
            &educator,
            "mutation($i: AddCaseNoteInput!) { addCaseNote(input: $i) { id } }",
            json!({"i": {"caseId": id, "body": "x", "dataClass": "ADMINISTRATIVE"}}),
        )
        .await;
    assert_eq!(field_of(&admin_note), "dataClass");

    let end =
        "mutation($i: EndTeamMembershipInput!) { endTeamMembership(input: $i) { active untilOn } }";
    let bad = hub
        .gql(
            &t,
            end,
            json!({"i": {"membershipId": membership, "untilOn": "2000-01-01"}}),
        )
        .await;
    assert_eq!(field_of(&bad), "untilOn");
    let a = hub
        .gql(&t, end, json!({"i": {"membershipId": membership}}))
        .await
        .ok();
    assert!(!a.data("/endTeamMembership/untilOn").is_null());
    assert_eq!(
        code_of(
            &hub.gql(&t, end, json!({"i": {"membershipId": membership}}))
                .await
        ),
        "CONFLICT"
    );
}
hub_test!(
    the_lead_manages_the_team_and_the_team_writes_notes,
    TestHub::builder().demo()
);

// What the court itself may read back is the policy's business (the interim
// agreement gives a court of record administrative data only).
const ORDER: &str = r#"mutation($i: RecordCourtOrderInput!) { recordCourtOrder(input: $i) {
  id court { id } case { courtOfRecord { id } } } }"#;

async fn the_court_records_orders_with_deadlines(hub: TestHub) {
    let id = case_in(&hub, "ACTIVE").await;
    let judge = hub.token("tm-torino", "JUDGE", "JUDICIAL");
    let input = json!({"i": {"caseId": id, "docketNumber": "999/2026 V.G. test", "kind": "REPORT_REQUEST", "issuedOn": "2026-01-15",
        "summary": "Richiesta di relazione", "mandates": [{"agencyId": "polo-nord", "description": "Relazione sul nucleo", "dueOn": "2026-03-01"}]}});
    let a = hub.gql(&judge, ORDER, input.clone()).await;
    assert_eq!(
        a.data("/recordCourtOrder/court/id"),
        "tm-torino",
        "{:#}",
        a.body
    );
    assert_eq!(
        a.data("/recordCourtOrder/case/courtOfRecord/id"),
        "tm-torino"
    );
    assert_eq!(
        code_of(&hub.gql(&judge, ORDER, input).await),
        "CONFLICT",
        "docket numbers are unique per court"
    );

    // The lead sees the order on the case; the mandate is a due item.
    let t = hub.polo_nord();
    let a = hub
        .gql(&t, "query($id: ID!) { courtOrders(caseId: $id) { docketNumber mandates { dueOn agency { id } } } case(id: $id) { courtOfRecord { id } } }", json!({"id": id}))
        .await
        .ok();
    let order = a
        .data("/courtOrders")
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["docketNumber"] == "999/2026 V.G. test")
        .cloned()
        .expect("the order on the case");
    assert_eq!(order.pointer("/mandates/0/dueOn").unwrap(), "2026-03-01");
    assert_eq!(order.pointer("/mandates/0/agency/id").unwrap(), "polo-nord");
    assert_eq!(a.data("/case/courtOfRecord/id"), "tm-torino");

    // A social service registers a decree only naming a real court, and only as lead.
    let bad = hub
        .gql(&t, ORDER, json!({"i": {"caseId": id, "courtId": "polo-sud", "docketNumber": "1", "kind": "OTHER", "issuedOn": "2026-01-01", "summary": "x"}}))
        .await;
    assert_eq!(field_of(&bad), "courtId");
    let future = hub
        .gql(&judge, ORDER, json!({"i": {"caseId": id, "docketNumber": "2", "kind": "OTHER", "issuedOn": "2999-01-01", "summary": "x"}}))
        .await;
    assert_eq!(field_of(&future), "issuedOn");
}
hub_test!(
    the_court_records_orders_with_deadlines,
    TestHub::builder().demo()
);
