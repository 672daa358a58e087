//! Chat webhooks against a local receiver on 127.0.0.1 that fails, times out
//! and recovers: every event arrives exactly once, signed, in order per deal;
//! a dead endpoint blocks nobody; admins manage webhooks and read the log.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use hmac::{Hmac, Mac};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::common::{TestApp, customer, deal, error_code};

const OK: u8 = 0;
const FAIL: u8 = 1;
const HANG: u8 = 2;

/// What the receiver accepted, in arrival order, and how often it was called.
#[derive(Default)]
struct Receiver {
    mode: AtomicU8,
    calls: AtomicUsize,
    accepted: Mutex<Vec<(HeaderMap, String)>>,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: String) -> StatusCode {
    r.calls.fetch_add(1, Ordering::SeqCst);
    match r.mode.load(Ordering::SeqCst) {
        FAIL => StatusCode::INTERNAL_SERVER_ERROR,
        HANG => {
            // Longer than the server waits: it gives up and retries later.
            tokio::time::sleep(Duration::from_secs(2)).await;
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => {
            r.accepted.lock().unwrap().push((headers, body));
            StatusCode::NO_CONTENT
        }
    }
}

async fn start_receiver() -> (Arc<Receiver>, String) {
    let r = Arc::new(Receiver::default());
    let app = Router::new().route("/hook", post(receive)).with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (r, url)
}

/// A port nothing listens on.
async fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}/hook")
}

async fn spawn_app(allow_private: bool) -> TestApp {
    TestApp::spawn_with(|c| {
        c.webhooks.poll_ms = 50;
        c.webhooks.timeout_ms = 300;
        c.webhooks.retry_base_ms = 50;
        c.webhooks.retry_max_ms = 200;
        c.webhooks.max_attempts = 1000;
        c.webhooks.allow_private_targets = allow_private;
    })
    .await
}

const CREATE: &str =
    "mutation($i: WebhookInput!) { createWebhook(input: $i) { secret webhook { id name url events active } } }";
const LOG: &str = "query($w: ID, $s: WebhookDeliveryStatus) { webhookDeliveries(webhookId: $w, status: $s, first: 100) { totalCount nodes { id eventId eventKind status attempts responseStatus lastError deliveredAt payload } } }";

fn verify(secret: &str, headers: &HeaderMap, body: &str) -> bool {
    let ts = headers["x-sfa-timestamp"].to_str().unwrap();
    let age = chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.{body}").as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    (0..300).contains(&age) && headers["x-sfa-signature"].to_str().unwrap() == format!("sha256={hex}")
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn events_reach_a_flaky_receiver_exactly_once_signed_and_in_order() {
    let app = spawn_app(true).await;
    let t = app.tenant("hooks").await;
    let (rx, url) = start_receiver().await;
    rx.mode.store(FAIL, Ordering::SeqCst);
    let events = json!(["DEAL_STAGE", "DEAL_WON", "COMMENT", "DAILY_REPORT"]);
    let made = app
        .ok(
            &t.admin,
            CREATE,
            json!({"i": {"name": "#sales", "url": url, "events": events}}),
        )
        .await;
    let secret = made["createWebhook"]["secret"].as_str().unwrap().to_owned();
    let hook = made["createWebhook"]["webhook"]["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{made}");
    let dead = app
        .ok(
            &t.admin,
            CREATE,
            json!({"i": {"name": "gone", "url": dead_url().await, "events": events}}),
        )
        .await;
    let dead = dead["createWebhook"]["webhook"]["id"].as_str().unwrap().to_owned();

    // Two deals moved back and forth, one won, a comment: nine events.
    let c = customer(&app, &t.rep, "Acme").await;
    let (d1, mut v1) = deal(&app, &t.rep, &c, "Acme renewal").await;
    let (d2, mut v2) = deal(&app, &t.rep, &c, "Acme expansion").await;
    let mv = "mutation($d: ID!, $v: Int!, $s: String!) { moveDealStage(id: $d, version: $v, stage: $s) { version } }";
    let mut expected_stages: HashMap<String, Vec<&str>> = HashMap::new();
    for (d, v, stages) in [
        (&d1, &mut v1, &["proposal", "hearing", "proposal", "hearing"][..]),
        (&d2, &mut v2, &["proposal", "hearing", "inquiry"][..]),
    ] {
        for s in stages {
            let r = app.ok(&t.rep, mv, json!({"d": d, "v": *v, "s": s})).await;
            *v = r["moveDealStage"]["version"].as_i64().unwrap();
            expected_stages.entry(d.clone()).or_default().push(s);
        }
    }
    app.ok(
        &t.rep,
        "mutation($d: ID!, $v: Int!) { closeDeal(id: $d, version: $v, outcome: WON) { id } }",
        json!({"d": d2, "v": v2}),
    )
    .await;
    app.ok(
        &t.manager,
        "mutation($d: ID!) { addComment(subjectType: DEAL, subjectId: $d, body: \"ナイス！ next step?\") { id } }",
        json!({"d": d1}),
    )
    .await;
    // A write that fails queues nothing.
    let stale = app
        .gql(Some(&t.rep.token), mv, json!({"d": d1, "v": 1, "s": "proposal"}))
        .await;
    assert_eq!(error_code(&stale), "CONFLICT");
    let events_sent = 9;

    // Failing: tried, nothing accepted, the log says why.
    wait_for("failed attempts", || rx.calls.load(Ordering::SeqCst) >= 3).await;
    let log = app.ok(&t.admin, LOG, json!({"w": hook})).await;
    assert_eq!(log["webhookDeliveries"]["totalCount"], json!(events_sent));
    let tried: Vec<&Value> = log["webhookDeliveries"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["attempts"].as_i64().unwrap() > 0)
        .collect();
    assert!(!tried.is_empty());
    for n in &tried {
        assert_eq!(n["status"], json!("PENDING"), "{n}");
        assert_eq!(n["responseStatus"], json!(500), "{n}");
        assert!(n["lastError"].as_str().unwrap().contains("500"), "{n}");
    }
    // Hanging: the server gives up after its timeout and tries again later.
    rx.mode.store(HANG, Ordering::SeqCst);
    let calls = rx.calls.load(Ordering::SeqCst);
    wait_for("timed-out attempts", || rx.calls.load(Ordering::SeqCst) >= calls + 2).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let log = app.ok(&t.admin, LOG, json!({"w": hook, "s": "PENDING"})).await;
    assert!(
        log["webhookDeliveries"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["lastError"]
                .as_str()
                .is_some_and(|e| e.contains("no answer within 300 ms"))),
        "{log}"
    );
    assert!(rx.accepted.lock().unwrap().is_empty());

    // Recovered: everything arrives.
    rx.mode.store(OK, Ordering::SeqCst);
    wait_for("every event", || rx.accepted.lock().unwrap().len() >= events_sent).await;
    // Nothing more comes later (no duplicate from a late retry).
    tokio::time::sleep(Duration::from_millis(800)).await;
    let accepted = rx.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), events_sent, "exactly once each");
    let mut ids: Vec<&str> = accepted
        .iter()
        .map(|(h, _)| h["x-sfa-event-id"].to_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), events_sent, "no event twice");

    let mut stages: HashMap<String, Vec<String>> = HashMap::new();
    let mut kinds: Vec<String> = Vec::new();
    for (headers, body) in &accepted {
        assert!(verify(&secret, headers, body), "signature of {body}");
        let v: Value = serde_json::from_str(body).unwrap();
        assert!(v["text"].as_str().is_some_and(|t| !t.is_empty()), "{v}");
        assert_eq!(
            headers["x-sfa-event"].to_str().unwrap(),
            v["event"]["kind"].as_str().unwrap()
        );
        kinds.push(v["event"]["kind"].as_str().unwrap().to_owned());
        if v["event"]["kind"] == json!("DEAL_STAGE") {
            let d = v["event"]["details"]["dealId"].as_str().unwrap().to_owned();
            stages
                .entry(d)
                .or_default()
                .push(v["event"]["details"]["stage"].as_str().unwrap().to_owned());
        }
    }
    // Order kept per deal, even across retries.
    for (d, want) in &expected_stages {
        assert_eq!(stages[d], *want, "stage events of {d} in order");
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [vec!["COMMENT"], vec!["DEAL_STAGE"; 7], vec!["DEAL_WON"]].concat()
    );
    let comment = accepted
        .iter()
        .map(|(_, b)| serde_json::from_str::<Value>(b).unwrap())
        .find(|v| v["event"]["kind"] == json!("COMMENT"))
        .unwrap();
    assert!(comment["text"].as_str().unwrap().contains("ナイス！"), "{comment}");

    let log = app.ok(&t.admin, LOG, json!({"w": hook, "s": "DELIVERED"})).await;
    assert_eq!(log["webhookDeliveries"]["totalCount"], json!(events_sent));
    for n in log["webhookDeliveries"]["nodes"].as_array().unwrap() {
        assert_eq!(n["responseStatus"], json!(204), "{n}");
        assert!(
            n["attempts"].as_i64().unwrap() >= 1 && n["deliveredAt"].is_string(),
            "{n}"
        );
    }
    // The dead endpoint: still pending, tried, blocking nobody.
    let log = app.ok(&t.admin, LOG, json!({"w": dead})).await;
    assert_eq!(log["webhookDeliveries"]["totalCount"], json!(events_sent));
    for n in log["webhookDeliveries"]["nodes"].as_array().unwrap() {
        assert_eq!(n["status"], json!("PENDING"), "{n}");
    }
    let tried = log["webhookDeliveries"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["attempts"].as_i64().unwrap() > 0)
        .expect("the dead endpoint was tried");
    assert!(
        tried["lastError"].as_str().unwrap().contains("could not connect"),
        "{tried}"
    );

    // Deleting it fails what it had not delivered; an admin can queue one again.
    app.ok(
        &t.admin,
        "mutation($w: ID!) { deleteWebhook(id: $w) { id } }",
        json!({"w": dead}),
    )
    .await;
    let log = app.ok(&t.admin, LOG, json!({"w": dead, "s": "FAILED"})).await;
    assert_eq!(log["webhookDeliveries"]["totalCount"], json!(events_sent));
    let again = app
        .gql(
            Some(&t.admin.token),
            "mutation($d: ID!) { retryWebhookDelivery(id: $d) { status } }",
            json!({"d": log["webhookDeliveries"]["nodes"][0]["id"]}),
        )
        .await;
    assert_eq!(error_code(&again), "NOT_FOUND", "the webhook is gone: {again}");
    let delivered = app.ok(&t.admin, LOG, json!({"w": hook, "s": "DELIVERED"})).await;
    let one = &delivered["webhookDeliveries"]["nodes"][0];
    let r = app
        .ok(
            &t.admin,
            "mutation($d: ID!) { retryWebhookDelivery(id: $d) { status } }",
            json!({"d": one["id"]}),
        )
        .await;
    assert_eq!(r["retryWebhookDelivery"]["status"], json!("PENDING"));
    wait_for("the retried delivery", || {
        rx.accepted.lock().unwrap().len() > events_sent
    })
    .await;
    let accepted = rx.accepted.lock().unwrap();
    assert_eq!(
        accepted.last().unwrap().0["x-sfa-event-id"].to_str().unwrap(),
        one["eventId"].as_str().unwrap(),
        "the same event id, so the receiver can tell it is a repeat"
    );
}

#[tokio::test]
async fn webhooks_are_for_admins_checked_and_private_targets_refused() {
    let app = spawn_app(false).await;
    let t = app.tenant("hooks-a").await;
    let other = app.tenant("hooks-b").await;
    let (rx, url) = start_receiver().await;
    let input = |url: &str, events: Value| json!({"i": {"name": "#sales", "url": url, "events": events}});

    for s in [&t.rep, &t.manager] {
        let r = app.gql(Some(&s.token), CREATE, input(&url, json!(["DEAL_WON"]))).await;
        assert_eq!(error_code(&r), "FORBIDDEN", "{r}");
        let r = app.gql(Some(&s.token), LOG, json!({})).await;
        assert_eq!(error_code(&r), "FORBIDDEN", "{r}");
    }
    for (bad, events, says) in [
        ("ftp://example.com/x", json!(["DEAL_WON"]), "https://"),
        ("not a url", json!(["DEAL_WON"]), "not a valid URL"),
        ("https://u:p@example.com/", json!(["DEAL_WON"]), "password"),
        ("https://example.com/", json!([]), "at least one"),
        ("https://example.com/", json!(["MENTION"]), "personal"),
        (
            "http://169.254.169.254/latest/meta-data/",
            json!(["DEAL_WON"]),
            "public addresses",
        ),
        ("http://0x0a.0.0.1/", json!(["DEAL_WON"]), "10.0.0.1"),
        ("http://167772161/", json!(["DEAL_WON"]), "10.0.0.1"),
        ("http://[::127.0.0.1]/", json!(["DEAL_WON"]), "public addresses"),
        ("http://localhost./", json!(["DEAL_WON"]), "public addresses"),
        (url.as_str(), json!(["DEAL_WON"]), "127.0.0.1"),
    ] {
        let r = app.gql(Some(&t.admin.token), CREATE, input(bad, events)).await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
        assert!(r["errors"][0]["message"].as_str().unwrap().contains(says), "{r}");
    }
    assert_eq!(app.rows("webhook").await, 0);

    let made = app
        .ok(
            &t.admin,
            CREATE,
            input("https://hooks.example.com/sales", json!(["DEAL_WON", "DEAL_LOST"])),
        )
        .await;
    let hook = made["createWebhook"]["webhook"]["id"].as_str().unwrap().to_owned();
    // Saved while private targets were allowed (or by an older version):
    // delivery checks the target again.
    app.db
        .execute_unprepared(&format!("UPDATE webhook SET url = '{url}'"))
        .await
        .expect("point the webhook inside");
    let secret = made["createWebhook"]["secret"].as_str().unwrap().to_owned();
    // The secret is shown once: not in the list, not in the audit log.
    let list = app
        .ok(
            &t.admin,
            "{ webhooks { id events active } auditLog(first: 50) { nodes { changes } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["webhooks"][0]["events"], json!(["DEAL_LOST", "DEAL_WON"]));
    assert!(!list.to_string().contains(&secret));
    // Another company sees none of it and can touch none of it.
    let theirs = app.ok(&other.admin, "{ webhooks { id } }", json!({})).await;
    assert_eq!(theirs["webhooks"], json!([]));
    for m in [
        "mutation($w: ID!) { deleteWebhook(id: $w) { id } }",
        "mutation($w: ID!) { rotateWebhookSecret(id: $w) { secret } }",
    ] {
        let r = app.gql(Some(&other.admin.token), m, json!({"w": hook})).await;
        assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
    }
    let rotated = app
        .ok(
            &t.admin,
            "mutation($w: ID!) { rotateWebhookSecret(id: $w) { secret } }",
            json!({"w": hook}),
        )
        .await;
    assert_ne!(rotated["rotateWebhookSecret"]["secret"].as_str().unwrap(), secret);

    // The other company's deal won: not queued for this company's webhook.
    let c = customer(&app, &other.rep, "Theirs").await;
    let (d, v) = deal(&app, &other.rep, &c, "Their deal").await;
    let close = "mutation($d: ID!, $v: Int!) { closeDeal(id: $d, version: $v, outcome: WON) { id } }";
    app.ok(&other.rep, close, json!({"d": d, "v": v})).await;
    assert_eq!(app.rows("webhook_delivery").await, 0);

    // Our deal won: queued, but 127.0.0.1 is the server's own network.
    let c = customer(&app, &t.rep, "Ours").await;
    let (d, v) = deal(&app, &t.rep, &c, "Our deal").await;
    app.ok(&t.rep, close, json!({"d": d, "v": v})).await;
    let mut last = Value::Null;
    for _ in 0..100 {
        last = app.ok(&t.admin, LOG, json!({"w": hook})).await;
        if last["webhookDeliveries"]["nodes"][0]["attempts"].as_i64() > Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let n = &last["webhookDeliveries"]["nodes"][0];
    assert!(
        n["lastError"]
            .as_str()
            .unwrap()
            .contains("may only reach public addresses"),
        "{n}"
    );
    assert_eq!(rx.calls.load(Ordering::SeqCst), 0, "never reached");
    let theirs = app.ok(&other.admin, LOG, json!({})).await;
    assert_eq!(theirs["webhookDeliveries"]["totalCount"], json!(0));

    // Paused: no new deliveries.
    app.ok(
        &t.admin,
        "mutation($w: ID!, $i: WebhookInput!) { updateWebhook(id: $w, input: $i) { active } }",
        json!({"w": hook, "i": {"name": "#sales", "url": "https://hooks.example.com/sales", "events": ["DEAL_WON"], "active": false}}),
    )
    .await;
    // An update is checked like a creation.
    let r = app
        .gql(
            Some(&t.admin.token),
            "mutation($w: ID!, $i: WebhookInput!) { updateWebhook(id: $w, input: $i) { active } }",
            json!({"w": hook, "i": {"name": "#sales", "url": "http://[fd00::1]/", "events": ["DEAL_WON"]}}),
        )
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    let (d, v) = deal(&app, &t.rep, &c, "Another").await;
    app.ok(&t.rep, close, json!({"d": d, "v": v})).await;
    assert_eq!(app.rows("webhook_delivery").await, 1);
}
