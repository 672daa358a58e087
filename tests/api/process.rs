//! A company's process through the API: validate, dry-run, publish,
//! versions with diffs, rollback, a shipped set again; admins only, and
//! invisible to other companies.

use serde_json::{Value, json};

use crate::common::{TestApp, customer, deal, error_code};

const VALIDATE: &str = "query($f: [ProcessFileInput!]!) { validateProcess(files: $f) { ok
    errors { code file line column message } warnings { code file message }
    process { stages { key } contactLevels { key } functions { file name inherited } } } }";
const PUBLISH: &str =
    "mutation($f: [ProcessFileInput!]!, $n: String!) { publishProcess(files: $f, note: $n) { version kind active } }";
const MOVE: &str =
    "mutation($id: ID!, $v: Int!, $s: String!) { moveDealStage(id: $id, version: $v, stage: $s) { stage version } }";
const PROCESS: &str = "{ process { pluginSet storedVersion stages { key name } } }";
const VERSIONS: &str = "{ processVersions { version kind active note restoredFrom shippedSet author { name }
    files { name } diff { file added removed patch } } }";

/// Stages `hearing`, `proposal`, `won`, `lost`, named after `tag`, with `extra` functions.
fn process_file(tag: &str, extra: &str) -> Value {
    let source = format!(
        r#"fn stages() {{
    [
        #{{ key: "hearing", name: "Hearing {tag}", probability: 20 }},
        #{{ key: "proposal", name: "Proposal {tag}", probability: 50 }},
        #{{ key: "won", name: "Won", probability: 100, outcome: "won" }},
        #{{ key: "lost", name: "Lost", outcome: "lost" }},
    ]
}}
{extra}"#
    );
    json!([{"name": "process.rhai", "source": source}])
}

const STRICT: &str = r#"fn exit_check(deal, from, to) {
    if to == "proposal" { return "v2 allows no proposals"; }
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_publishes_versions_rolls_back_and_returns_to_a_shipped_set() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let c = customer(&app, &t.rep, "ACME").await;
    let (deal_id, v) = deal(&app, &t.rep, &c, "D").await;

    // A syntax error: file, line and column; nothing published.
    let broken = json!([{"name": "process.rhai", "source": "fn stages() {\n  [ #{ key: \"open\" \n}"}]);
    let check = app.ok(&t.admin, VALIDATE, json!({"f": broken})).await["validateProcess"].clone();
    assert_eq!(check["ok"], false);
    let e = &check["errors"][0];
    assert_eq!(
        (e["code"].as_str(), e["file"].as_str()),
        (Some("SYNTAX_ERROR"), Some("process.rhai")),
        "{check:#}"
    );
    assert!(
        e["line"].as_i64().is_some() && e["column"].as_i64().is_some(),
        "{check:#}"
    );
    assert!(check["process"].is_null());

    // A good file: what it inherits is listed, and dropping a stage with deals is a warning.
    let without_hearing = json!([{"name": "process.rhai",
        "source": "fn stages() { [#{ key: \"open\" }, #{ key: \"won\", outcome: \"won\" }] }"}]);
    let check = app.ok(&t.admin, VALIDATE, json!({"f": without_hearing})).await["validateProcess"].clone();
    assert_eq!(check["ok"], true, "{check:#}");
    let warning = check["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .find(|w| w["code"] == "STAGE_REMOVED");
    assert!(
        warning.is_some_and(|w| w["message"].as_str().unwrap_or("").contains("`hearing` has 1 deals")),
        "{check:#}"
    );
    let functions = check["process"]["functions"].as_array().expect("functions");
    let origin = |name: &str| {
        functions
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| (f["file"].clone(), f["inherited"].clone()))
    };
    assert_eq!(origin("stages"), Some((json!("process.rhai"), json!(false))));
    assert_eq!(origin("exit_check"), Some((json!("process.rhai"), json!(true))));
    assert_eq!(origin("activity_points"), Some((json!("scoring.rhai"), json!(true))));
    assert_eq!(
        check["process"]["contactLevels"].as_array().map(Vec::len),
        Some(3),
        "default's levels"
    );

    // Members other than admins cannot.
    for s in [&t.rep, &t.manager] {
        assert_eq!(app.err(s, VALIDATE, json!({"f": without_hearing})).await, "FORBIDDEN");
        let f = process_file("x", "");
        assert_eq!(app.err(s, PUBLISH, json!({"f": f, "n": ""})).await, "FORBIDDEN");
    }
    // Files that are not files of a process.
    let odd = json!([{"name": "evil.rhai", "source": "fn x() {}"}]);
    assert_eq!(app.err(&t.admin, VALIDATE, json!({"f": odd})).await, "BAD_USER_INPUT");
    assert_eq!(app.err(&t.admin, VALIDATE, json!({"f": []})).await, "BAD_USER_INPUT");

    // Version 1 lets moves through; version 2 refuses proposals.
    let v1 = app
        .ok(
            &t.admin,
            PUBLISH,
            json!({"f": process_file("v1", ""), "n": "our stages"}),
        )
        .await;
    assert_eq!(
        v1["publishProcess"],
        json!({"version": 1, "kind": "PUBLISHED", "active": true})
    );
    let p = app.ok(&t.rep, PROCESS, json!({})).await["process"].clone();
    assert_eq!(
        (p["pluginSet"].as_str(), p["storedVersion"].as_i64()),
        (Some("stored v1"), Some(1))
    );
    assert_eq!(p["stages"][0]["name"], "Hearing v1");
    let v2 = app
        .ok(
            &t.admin,
            PUBLISH,
            json!({"f": process_file("v2", STRICT), "n": "no proposals"}),
        )
        .await;
    assert_eq!(v2["publishProcess"]["version"], 2);
    let refused = app
        .gql(
            Some(&t.rep.token),
            MOVE,
            json!({"id": deal_id, "v": v, "s": "proposal"}),
        )
        .await;
    assert_eq!(error_code(&refused), "EXIT_CRITERIA_NOT_MET");
    assert_eq!(refused["errors"][0]["message"], "v2 allows no proposals");

    // A broken publish is refused and changes nothing.
    let body = app
        .gql(Some(&t.admin.token), PUBLISH, json!({"f": broken, "n": ""}))
        .await;
    assert_eq!(error_code(&body), "PLUGIN_ERROR");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("process.rhai"),
        "{body:#}"
    );

    // Rolling back to version 1 is version 3, and the move goes through.
    let back = app
        .ok(
            &t.admin,
            "mutation { rollbackProcess(version: 1) { version kind restoredFrom note } }",
            json!({}),
        )
        .await;
    assert_eq!(
        back["rollbackProcess"],
        json!({"version": 3, "kind": "ROLLBACK", "restoredFrom": 1, "note": "rollback to version 1"})
    );
    let moved = app
        .ok(&t.rep, MOVE, json!({"id": deal_id, "v": v, "s": "proposal"}))
        .await;
    assert_eq!(moved["moveDealStage"]["stage"], "proposal");
    let missing = "mutation { rollbackProcess(version: 99) { version } }";
    assert_eq!(app.err(&t.admin, missing, json!({})).await, "NOT_FOUND");

    // The history, newest first, with who, why and what changed.
    let versions = app.ok(&t.admin, VERSIONS, json!({})).await["processVersions"].clone();
    let list = versions.as_array().expect("versions");
    assert_eq!(
        list.iter().map(|v| v["version"].as_i64()).collect::<Vec<_>>(),
        [Some(3), Some(2), Some(1)]
    );
    assert_eq!(list.iter().filter(|v| v["active"] == true).count(), 1);
    assert_eq!(list[0]["active"], true);
    assert_eq!(list[1]["note"], "no proposals");
    assert_eq!(list[1]["author"]["name"], "admin of acme");
    assert_eq!(list[1]["files"], json!([{"name": "process.rhai"}]));
    let diff = &list[1]["diff"][0];
    assert_eq!(diff["file"], "process.rhai");
    let patch = diff["patch"].as_str().unwrap_or("");
    assert!(patch.contains("+fn exit_check(deal, from, to) {"), "{patch}");
    assert!(
        patch.contains("-        #{ key: \"hearing\", name: \"Hearing v1\""),
        "{patch}"
    );
    assert!(
        diff["added"].as_i64() > Some(2) && diff["removed"].as_i64() == Some(2),
        "{diff:#}"
    );
    assert!(
        list[2]["diff"][0]["patch"]
            .as_str()
            .unwrap_or("")
            .starts_with("--- a/process.rhai")
    );

    // Back to a shipped set.
    let shipped =
        "mutation($n: String!) { useShippedProcess(name: $n, note: \"the library's\") { version kind shippedSet } }";
    let body = app.ok(&t.admin, shipped, json!({"n": "sfa7"})).await;
    assert_eq!(
        body["useShippedProcess"],
        json!({"version": 4, "kind": "SHIPPED", "shippedSet": "sfa7"})
    );
    let p = app.ok(&t.rep, PROCESS, json!({})).await["process"].clone();
    assert_eq!(
        (p["pluginSet"].as_str(), p["storedVersion"].as_i64()),
        (Some("sfa7"), None)
    );
    assert_eq!(app.err(&t.admin, shipped, json!({"n": "nope"})).await, "BAD_USER_INPUT");
    // Rolling back to a stored version after a shipped one works the same.
    app.ok(
        &t.admin,
        "mutation { rollbackProcess(version: 2) { version } }",
        json!({}),
    )
    .await;
    assert_eq!(app.ok(&t.rep, PROCESS, json!({})).await["process"]["storedVersion"], 5);

    // Another company sees none of it.
    assert_eq!(
        app.ok(&other.admin, VERSIONS, json!({})).await["processVersions"],
        json!([])
    );
    // Nor can it restore one of them: acme's version 1 is no version of its own.
    let restore = "mutation { rollbackProcess(version: 1) { version } }";
    assert_eq!(app.err(&other.admin, restore, json!({})).await, "NOT_FOUND");
    let theirs = app.ok(&other.rep, PROCESS, json!({})).await["process"].clone();
    assert_eq!(
        (theirs["pluginSet"].as_str(), theirs["storedVersion"].as_i64()),
        (Some("default"), None)
    );
    assert_eq!(app.rows("process_version").await, 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_shows_unknown_stages_rankings_and_kpis_before_and_after() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let c = customer(&app, &t.rep, "ACME").await;
    let (deal_id, _) = deal(&app, &t.rep, &c, "D").await;
    let at = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    app.ok(
        &t.rep,
        "mutation($c: ID!, $at: DateTime!) { createActivity(input: {customerId: $c, kind: VISIT, status: DONE, subject: \"Visit\", scheduledAt: $at, doneAt: $at}) { id } }",
        json!({"c": c, "at": at}),
    )
    .await;
    let files = json!([
        {"name": "process.rhai", "source": "fn stages() { [#{ key: \"open\" }, #{ key: \"won\", outcome: \"won\" }] }"},
        {"name": "scoring.rhai", "source": "fn activity_points(a) { 1000 }"},
        {"name": "kpi.rhai", "source": "fn kpis() { [#{ key: \"visits\", name: \"Visits\" }] } fn visits(m) { m.visits_done }"},
    ]);
    let q = "query($f: [ProcessFileInput!]!) { dryRunProcess(files: $f, days: 30) {
        validation { ok warnings { code } }
        scoring { activities changed totalAfter topCustomers { customer { name } after } }
        unknownStages { key name deals sample { id } }
        kpis { teamName key before after } } }";
    let run = app.ok(&t.admin, q, json!({"f": files})).await["dryRunProcess"].clone();
    assert_eq!(run["validation"]["ok"], true, "{run:#}");
    let codes: Vec<&str> = run["validation"]["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w["code"].as_str())
        .collect();
    for code in ["STAGE_REMOVED", "KPI_REMOVED", "SCORING_CHANGED"] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    assert_eq!(run["scoring"]["activities"], 1);
    assert_eq!(run["scoring"]["totalAfter"], 1000);
    assert_eq!(run["scoring"]["topCustomers"][0]["customer"]["name"], "ACME");
    assert_eq!(
        run["unknownStages"],
        json!([{"key": "hearing", "name": "ヒアリング", "deals": 1, "sample": [{"id": deal_id}]}])
    );
    let kpis = run["kpis"].as_array().expect("kpis");
    let visits = kpis.iter().find(|k| k["key"] == "visits").expect("the new KPI");
    assert_eq!(
        (
            visits["teamName"].as_str(),
            visits["before"].clone(),
            visits["after"].as_f64()
        ),
        (Some("acme sales"), Value::Null, Some(1.0))
    );
    assert!(
        kpis.iter()
            .any(|k| k["key"] == "visit_plan_rate" && k["after"].is_null()),
        "a KPI the new process drops is listed with no value after: {kpis:#?}"
    );
    // Nothing was written.
    assert_eq!(app.rows("process_version").await, 0);
    let p = app.ok(&t.rep, PROCESS, json!({})).await;
    assert_eq!(p["process"]["pluginSet"], "default");
}
