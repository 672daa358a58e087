//! The company's process in action: exit checks, per-company sets, unknown
//! stages, and a runaway script that does not stop the server.

use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::json;
use uuid::Uuid;

use crate::common::{Session, TestApp, customer};

async fn use_set(app: &TestApp, company: Uuid, set: &str) {
    entity::company::Entity::update_many()
        .col_expr(entity::company::Column::PluginSet, Expr::value(set))
        .filter(entity::company::Column::Id.eq(company))
        .exec(&app.db)
        .await
        .expect("set plugin set");
}

const MOVE: &str =
    "mutation($id: ID!, $v: Int!, $s: String!) { moveDealStage(id: $id, version: $v, stage: $s) { stage version } }";

#[tokio::test(flavor = "multi_thread")]
async fn exit_checks_refuse_and_allow_as_the_script_says() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let cust = customer(&app, &t.rep, "ACME").await;
    let mk = "mutation($c: ID!) { createDeal(input: {customerId: $c, name: \"D\", stage: \"hearing\"}) { id version stageInfo { name probability known } } }";
    let d = app.ok(&t.rep, mk, json!({"c": cust})).await["createDeal"].clone();
    assert_eq!(
        d["stageInfo"],
        json!({"name": "ヒアリング", "probability": 20, "known": true})
    );
    let body = app
        .gql(
            Some(&t.rep.token),
            MOVE,
            json!({"id": d["id"], "v": 1, "s": "proposal"}),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "EXIT_CRITERIA_NOT_MET");
    assert_eq!(body["errors"][0]["message"], "提案に進む前に見積金額を入力してください");
    app.ok(
        &t.rep,
        "mutation($id: ID!) { updateDeal(input: {id: $id, version: 1, amount: 500000}) { id } }",
        json!({"id": d["id"]}),
    )
    .await;
    let moved = app
        .ok(&t.rep, MOVE, json!({"id": d["id"], "v": 2, "s": "proposal"}))
        .await;
    assert_eq!(moved["moveDealStage"]["stage"], "proposal");
    let unknown = app
        .gql(Some(&t.rep.token), MOVE, json!({"id": d["id"], "v": 3, "s": "ghost"}))
        .await;
    assert_eq!(unknown["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let to_won = app
        .gql(Some(&t.rep.token), MOVE, json!({"id": d["id"], "v": 3, "s": "won"}))
        .await;
    assert_eq!(
        to_won["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "winning is closeDeal's job"
    );
    let history = app
        .ok(
            &t.rep,
            "query($id: ID!) { deal(id: $id) { stageHistory { nodes { toStage } } } }",
            json!({"id": d["id"]}),
        )
        .await;
    assert_eq!(
        history["deal"]["stageHistory"]["nodes"],
        json!([{"toStage": "proposal"}, {"toStage": "hearing"}])
    );

    // The process is there for a frontend to draw.
    let p = app.ok(&t.rep, "{ process { pluginSet stages { key outcome } qualityIndicators { key name } contactLevels { key } reactions { key } } }", json!({})).await;
    assert_eq!(p["process"]["pluginSet"], "default");
    assert_eq!(p["process"]["stages"][4], json!({"key": "won", "outcome": "WON"}));
    assert_eq!(p["process"]["qualityIndicators"].as_array().map(Vec::len), Some(5));
    let bad_level = app
        .gql(
            Some(&t.rep.token),
            "mutation($c: ID!) { createContact(customerId: $c, input: {name: \"K\", level: \"ceo\"}) { id } }",
            json!({"c": cust}),
        )
        .await;
    assert_eq!(bad_level["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_company_runs_its_own_process() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    use_set(&app, t.company_id, "b2b8").await;
    let cust = customer(&app, &t.rep, "ACME").await;
    let p = app
        .ok(&t.rep, "{ process { pluginSet stages { key } } }", json!({}))
        .await;
    assert_eq!(p["process"]["pluginSet"], "b2b8");
    assert_eq!(p["process"]["stages"].as_array().map(Vec::len), Some(9));
    let old = app
        .gql(
            Some(&t.rep.token),
            "mutation($c: ID!) { createDeal(input: {customerId: $c, name: \"D\", stage: \"hearing\"}) { id } }",
            json!({"c": cust}),
        )
        .await;
    assert_eq!(
        old["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "default's stages are not b2b8's"
    );
    let d = app
        .ok(
            &t.rep,
            "mutation($c: ID!) { createDeal(input: {customerId: $c, name: \"D\", stage: \"potential\"}) { id } }",
            json!({"c": cust}),
        )
        .await;
    let id = d["createDeal"]["id"].clone();
    let refused = app
        .gql(
            Some(&t.rep.token),
            MOVE,
            json!({"id": id, "v": 1, "s": "problem_agreed"}),
        )
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "EXIT_CRITERIA_NOT_MET");
    // The clearance condition is a quality indicator, set by the manager (the maintainer).
    app.ok(
        &t.manager,
        "mutation($id: ID!) { setDealQuality(dealId: $id, indicator: \"budget\", checked: true) { checked } }",
        json!({"id": id}),
    )
    .await;
    app.ok(&t.rep, MOVE, json!({"id": id, "v": 1, "s": "problem_agreed"}))
        .await;

    // A stage removed from the process leaves the deal readable as "unknown stage".
    let deal_id = Uuid::parse_str(id.as_str().expect("id")).expect("uuid");
    entity::deal::Entity::update_many()
        .col_expr(entity::deal::Column::Stage, Expr::value("retired_stage"))
        .filter(entity::deal::Column::Id.eq(deal_id))
        .exec(&app.db)
        .await
        .expect("retire");
    let read = app
        .ok(
            &t.rep,
            "query($id: ID!) { deal(id: $id) { stage stageInfo { name known outcome } } deals { totalCount } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        read["deal"]["stageInfo"],
        json!({"name": "unknown stage", "known": false, "outcome": "OPEN"})
    );
    assert_eq!(read["deal"]["stage"], "retired_stage");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runaway_script_is_stopped_and_the_server_keeps_serving() {
    let dir = std::env::temp_dir().join(format!("sfa-plugins-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(dir.join("evil")).expect("dir");
    std::fs::write(
        dir.join("evil/scoring.rhai"),
        "fn activity_points(a) { let n = 0; loop { n += 1; } }",
    )
    .expect("write");
    let plugin_dir = dir.clone();
    let app = TestApp::spawn_with(move |c| c.plugins_dir = plugin_dir).await;
    let t = app.tenant("acme").await;
    use_set(&app, t.company_id, "evil").await;
    let cust = customer(&app, &t.rep, "ACME").await;
    let rep = Session {
        member_id: t.rep.member_id,
        token: t.rep.token.clone(),
    };

    let started = Instant::now();
    let create = "mutation($c: ID!) { createActivity(input: {customerId: $c, kind: VISIT, subject: \"v\", scheduledAt: \"2026-11-01T01:00:00Z\"}) { id energyPoints } }";
    let (created, health, me) = tokio::join!(
        app.gql(Some(&rep.token), create, json!({"c": cust})),
        app.http.get(app.url("/healthz")).send(),
        app.gql(Some(&t.manager.token), "{ me { id } }", json!({})),
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // The rep's work is kept, unscored; other requests were answered meanwhile.
    assert!(created.get("errors").is_none(), "{created}");
    assert!(created["data"]["createActivity"]["energyPoints"].is_null());
    assert_eq!(health.expect("healthz").status(), 200);
    assert!(me["data"]["me"]["id"].is_string());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_takes_good_changes_and_refuses_broken_ones() {
    let dir = std::env::temp_dir().join(format!("sfa-plugins-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(dir.join("acme")).expect("dir");
    let stages = |name: &str| {
        format!("fn stages() {{ [#{{ key: \"open\", name: \"{name}\" }}, #{{ key: \"won\", outcome: \"won\" }}] }}")
    };
    std::fs::write(dir.join("acme/process.rhai"), stages("Before")).expect("write");
    let plugin_dir = dir.clone();
    let app = TestApp::spawn_with(move |c| c.plugins_dir = plugin_dir).await;
    let t = app.tenant("acme").await;
    use_set(&app, t.company_id, "acme").await;
    let q = "{ process { version stages { name } } }";
    let before = app.ok(&t.rep, q, json!({})).await;
    assert_eq!(before["process"]["stages"][0]["name"], "Before");

    std::fs::write(dir.join("acme/process.rhai"), stages("After")).expect("write");
    let reload = "mutation { reloadPlugins { version stages { name } } }";
    assert_eq!(app.err(&t.rep, reload, json!({})).await, "FORBIDDEN");
    let after = app.ok(&t.admin, reload, json!({})).await;
    assert_eq!(after["reloadPlugins"]["stages"][0]["name"], "After");
    assert_ne!(after["reloadPlugins"]["version"], before["process"]["version"]);
    assert_eq!(
        app.ok(&t.rep, q, json!({})).await["process"]["stages"][0]["name"],
        "After"
    );

    std::fs::write(dir.join("acme/process.rhai"), "fn stages() {\n  [ #{ key: \"open\" \n}").expect("write");
    let broken = app.gql(Some(&t.admin.token), reload, json!({})).await;
    assert_eq!(broken["errors"][0]["extensions"]["code"], "PLUGIN_ERROR");
    let message = broken["errors"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("acme") && message.contains("process.rhai") && message.contains("line"),
        "{message}"
    );
    assert_eq!(
        app.ok(&t.rep, q, json!({})).await["process"]["stages"][0]["name"],
        "After",
        "the last good version stays"
    );
    let status = app.ok(&t.admin, "{ process { loadError } }", json!({})).await;
    assert!(
        status["process"]["loadError"]
            .as_str()
            .is_some_and(|e| e.contains("line")),
        "{status}"
    );
    std::fs::write(dir.join("acme/process.rhai"), stages("Fixed")).expect("write");
    app.ok(&t.admin, reload, json!({})).await;
    let status = app
        .ok(&t.admin, "{ process { loadError stages { name } } }", json!({}))
        .await;
    assert_eq!(status["process"]["loadError"], json!(null));
    assert_eq!(status["process"]["stages"][0]["name"], "Fixed");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Polls `query` until `done` holds (the watcher runs every 100 ms here).
async fn eventually(
    app: &TestApp,
    s: &Session,
    query: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = app.ok(s, query, json!({})).await;
        if done(&got) {
            return got;
        }
        assert!(Instant::now() < deadline, "not picked up in time: {got}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watcher_picks_up_changed_files_and_keeps_the_last_good_version() {
    let dir = std::env::temp_dir().join(format!("sfa-plugins-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(dir.join("acme")).expect("dir");
    let stages = |name: &str| {
        format!("fn stages() {{ [#{{ key: \"open\", name: \"{name}\" }}, #{{ key: \"won\", outcome: \"won\" }}] }}")
    };
    std::fs::write(dir.join("acme/process.rhai"), stages("One")).expect("write");
    let plugin_dir = dir.clone();
    let app = TestApp::spawn_with(move |c| {
        c.plugins_dir = plugin_dir;
        c.plugins_poll_ms = 100;
    })
    .await;
    let t = app.tenant("acme").await;
    use_set(&app, t.company_id, "acme").await;
    let q = "{ process { loadError stages { name } kpis { key } } }";
    let name = |p: &serde_json::Value| p["process"]["stages"][0]["name"].clone();
    assert_eq!(name(&app.ok(&t.rep, q, json!({})).await), "One");

    std::fs::write(dir.join("acme/process.rhai"), stages("Two")).expect("write");
    eventually(&app, &t.rep, q, |p| name(p) == "Two").await;

    // A broken save: reported, and "Two" keeps running.
    std::fs::write(dir.join("acme/process.rhai"), "fn stages() {\n  [ #{ key: \"open\" \n}").expect("write");
    let broken = eventually(&app, &t.rep, q, |p| p["process"]["loadError"].is_string()).await;
    assert_eq!(name(&broken), "Two");
    let error = broken["process"]["loadError"].as_str().unwrap_or("");
    assert!(
        error.contains("acme") && error.contains("process.rhai") && error.contains("line"),
        "{error}"
    );

    // The broken save reverted to what runs: the error clears by itself.
    std::fs::write(dir.join("acme/process.rhai"), stages("Two")).expect("write");
    let reverted = eventually(&app, &t.rep, q, |p| p["process"]["loadError"].is_null()).await;
    assert_eq!(name(&reverted), "Two");

    // A new kpi.rhai of the set's own replaces default's KPIs.
    std::fs::write(dir.join("acme/process.rhai"), stages("Three")).expect("write");
    std::fs::write(
        dir.join("acme/kpi.rhai"),
        "fn kpis() { [#{ key: \"calls\" }] } fn calls(m) { m.calls_done }",
    )
    .expect("write");
    let fixed = eventually(&app, &t.rep, q, |p| {
        name(p) == "Three" && p["process"]["kpis"] == json!([{"key": "calls"}])
    })
    .await;
    assert_eq!(fixed["process"]["loadError"], json!(null));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scoring_change_rescores_every_stored_activity() {
    let dir = std::env::temp_dir().join(format!("sfa-plugins-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(dir.join("acme")).expect("dir");
    std::fs::write(dir.join("acme/scoring.rhai"), "fn activity_points(a) { 1 }").expect("write");
    let plugin_dir = dir.clone();
    let app = TestApp::spawn_with(move |c| c.plugins_dir = plugin_dir).await;
    let t = app.tenant("acme").await;
    use_set(&app, t.company_id, "acme").await;
    let cust = customer(&app, &t.rep, "ACME").await;
    let create = "mutation($c: ID!) { createActivity(input: {customerId: $c, kind: VISIT, subject: \"v\", scheduledAt: \"2026-11-01T01:00:00Z\"}) { energyPoints } }";
    for _ in 0..3 {
        let a = app.ok(&t.rep, create, json!({"c": cust})).await;
        assert_eq!(a["createActivity"]["energyPoints"], 1);
    }

    std::fs::write(dir.join("acme/scoring.rhai"), "fn activity_points(a) { 3 + 4 }").expect("write");
    let reloaded = app
        .ok(
            &t.admin,
            "mutation { reloadPlugins { scoringVersion staleScores } }",
            json!({}),
        )
        .await;
    let version = reloaded["reloadPlugins"]["scoringVersion"].clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    let job = loop {
        let job = app
            .ok(
                &t.admin,
                "{ rescoreJob { status total done scoringVersion } }",
                json!({}),
            )
            .await["rescoreJob"]
            .clone();
        if job["status"] == "DONE" {
            break job;
        }
        assert_ne!(job["status"], "FAILED", "{job}");
        assert!(Instant::now() < deadline, "re-score did not finish: {job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        job,
        json!({"status": "DONE", "total": 3, "done": 3, "scoringVersion": version})
    );
    let after = app
        .ok(
            &t.admin,
            "{ process { staleScores } activities { nodes { energyPoints energyVersion } } }",
            json!({}),
        )
        .await;
    assert_eq!(after["process"]["staleScores"], 0);
    for a in after["activities"]["nodes"].as_array().expect("activities") {
        assert_eq!(a, &json!({"energyPoints": 7, "energyVersion": version}));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_shows_the_ranking_a_changed_script_would_give_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (a, b) = (customer(&app, &t.rep, "A").await, customer(&app, &t.rep, "B").await);
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let create = "mutation($c: ID!, $k: ActivityKind!, $at: DateTime!) { createActivity(input: {customerId: $c, kind: $k, subject: \"x\", scheduledAt: $at}) { energyPoints } }";
    for (c, kind) in [(&a, "VISIT"), (&a, "VISIT"), (&b, "CALL")] {
        app.ok(&t.rep, create, json!({"c": c, "k": kind, "at": yesterday}))
            .await;
    }
    let stored = "{ activities { nodes { energyPoints energyVersion } } }";
    let before = app.ok(&t.admin, stored, json!({})).await;

    let q =
        "query($s: String) { scoringDryRun(script: $s, days: 30) { scoringVersion activities changed failed firstError
        totalBefore totalAfter topCustomers { customer { id } before after rankBefore rankAfter } } }";
    let calls_count = "fn activity_points(a) { if a.kind == \"call\" { 10 } else { 1 } }";
    let run = app.ok(&t.admin, q, json!({"s": calls_count})).await["scoringDryRun"].clone();
    // Default weights: a visit 3, a call 1. The candidate: a call 10, anything else 1.
    assert_eq!(
        (
            &run["activities"],
            &run["changed"],
            &run["failed"],
            &run["totalBefore"],
            &run["totalAfter"]
        ),
        (&json!(3), &json!(3), &json!(0), &json!(7), &json!(12))
    );
    assert_eq!(
        run["topCustomers"],
        json!([
            {"customer": {"id": b}, "before": 1, "after": 10, "rankBefore": 2, "rankAfter": 1},
            {"customer": {"id": a}, "before": 6, "after": 2, "rankBefore": 1, "rankAfter": 2},
        ])
    );
    let current = app.ok(&t.admin, "{ process { scoringVersion } }", json!({})).await;
    assert_ne!(run["scoringVersion"], current["process"]["scoringVersion"]);
    assert_eq!(app.ok(&t.admin, stored, json!({})).await, before, "nothing written");

    // Without a script: the file on disk, which is what runs: nothing changes.
    let same = app.ok(&t.admin, q, json!({})).await["scoringDryRun"].clone();
    assert_eq!((&same["changed"], &same["totalAfter"]), (&json!(0), &json!(7)));

    // A script failing at run time is counted; one that does not compile is refused.
    let failing = "fn activity_points(a) { if a.kind == \"call\" { throw \"no calls\" } 1 }";
    let run = app.ok(&t.admin, q, json!({"s": failing})).await["scoringDryRun"].clone();
    assert_eq!(run["failed"], 1);
    assert!(
        run["firstError"].as_str().is_some_and(|e| e.contains("no calls")),
        "{run}"
    );
    let broken = app
        .gql(
            Some(&t.admin.token),
            q,
            json!({"s": "fn activity_points(a) {\n  1 +\n}"}),
        )
        .await;
    assert_eq!(broken["errors"][0]["extensions"]["code"], "PLUGIN_ERROR");
    assert!(
        broken["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("scoring.rhai") && m.contains("line 3")),
        "{broken}"
    );
    assert_eq!(app.err(&t.manager, q, json!({"s": calls_count})).await, "FORBIDDEN");
    let too_far = app
        .gql(
            Some(&t.admin.token),
            "{ scoringDryRun(days: 0) { activities } }",
            json!({}),
        )
        .await;
    assert_eq!(
        too_far["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{too_far}"
    );
}
