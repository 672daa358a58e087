//! Moving from another SFA: deals and their stage history imported from
//! files, and every pipeline view giving the figures of that history —
//! computed here independently from the same files.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};

use crate::common::{Session, TestApp};

const IMPORT: &str = "mutation($k: ImportKind!, $t: String!, $d: Boolean, $s: Boolean) {
  importData(kind: $k, text: $t, dryRun: $d, skipBadRows: $s) {
    rows created updated unchanged skipped errorCount applied errors { line message } } }";

const CUSTOMERS: &str = include_str!("../fixtures/history/customers.csv");
const DEALS: &str = include_str!("../fixtures/history/deals.csv");
const HISTORY: &str = include_str!("../fixtures/history/stage_history.csv");

async fn import(app: &TestApp, s: &Session, kind: &str, text: &str) -> Value {
    app.ok(s, IMPORT, json!({"k": kind, "t": text, "d": false, "s": false}))
        .await["importData"]
        .clone()
}

/// (created, updated, unchanged, errorCount).
fn counts(r: &Value) -> (i64, i64, i64, i64) {
    let n = |k: &str| r[k].as_i64().unwrap_or(-1);
    (n("created"), n("updated"), n("unchanged"), n("errorCount"))
}

/// The rows of a fixture (no quoted cells in them) by column name.
fn rows(csv: &str) -> Vec<HashMap<String, String>> {
    let mut lines = csv.lines();
    let header: Vec<String> = lines.next().expect("header").split(',').map(str::to_owned).collect();
    lines
        .map(|l| header.iter().cloned().zip(l.split(',').map(str::to_owned)).collect())
        .collect()
}

fn at(s: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
        .expect("time")
        .and_utc()
}

/// The open stages of the default process, in order.
const OPEN: [&str; 4] = ["inquiry", "hearing", "proposal", "negotiation"];

async fn imported(app: &TestApp, s: &Session) {
    assert_eq!(counts(&import(app, s, "CUSTOMERS", CUSTOMERS).await), (3, 0, 0, 0));
    let r = import(app, s, "DEALS", DEALS).await;
    assert_eq!(counts(&r), (5, 0, 0, 0), "{r}");
    let r = import(app, s, "DEAL_STAGE_HISTORY", HISTORY).await;
    assert_eq!(counts(&r), (15, 0, 0, 0), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_history_gives_the_funnel_time_in_stage_and_conversion_of_the_files() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    imported(&app, &t.admin).await;
    // Importing the same files again changes nothing.
    assert_eq!(counts(&import(&app, &t.admin, "DEALS", DEALS).await), (0, 0, 5, 0));
    assert_eq!(
        counts(&import(&app, &t.admin, "DEAL_STAGE_HISTORY", HISTORY).await),
        (0, 0, 15, 0)
    );

    let deals = rows(DEALS);
    let history = rows(HISTORY);
    let created: HashMap<&str, DateTime<Utc>> = deals
        .iter()
        .map(|d| (d["code"].as_str(), at(&d["created_at"])))
        .collect();

    // The funnel as it stood on a past date.
    let as_of = at("2026-10-15 12:00");
    let mut expected: HashMap<String, i64> = HashMap::new();
    for d in &deals {
        let code = d["code"].as_str();
        if created[code] > as_of {
            continue;
        }
        let stage = history
            .iter()
            .rfind(|h| h["deal_code"] == code && at(&h["changed_at"]) <= as_of)
            .map(|h| h["to_stage"].clone())
            .expect("a stage by then");
        *expected.entry(stage).or_default() += 1;
    }
    let body = app
        .ok(
            &t.manager,
            "query($a: DateTime) { pipeline { stages(asOf: $a) { stage { key } deals } } }",
            json!({"a": as_of.to_rfc3339()}),
        )
        .await;
    let got: HashMap<String, i64> = body["pipeline"]["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter(|s| s["deals"].as_i64() > Some(0))
        .map(|s| {
            (
                s["stage"]["key"].as_str().expect("key").to_owned(),
                s["deals"].as_i64().expect("n"),
            )
        })
        .collect();
    assert_eq!(got, expected, "the funnel of 2026-10-15");
    assert_eq!(expected.values().sum::<i64>(), 4);

    // Time in stage: each stay that ended in the range, by the stage left.
    let (lo, hi) = (at("2026-09-01 00:00"), at("2026-12-01 00:00"));
    let mut stays: HashMap<String, Vec<f64>> = HashMap::new();
    for pair in history.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let end = at(&b["changed_at"]);
        if a["deal_code"] == b["deal_code"] && end >= lo && end < hi {
            let days = (end - at(&a["changed_at"])).num_seconds() as f64 / 86_400.0;
            stays.entry(b["from_stage"].clone()).or_default().push(days);
        }
    }
    let body = app
        .ok(
            &t.manager,
            "{ pipeline { stageDurations(from: \"2026-09-01\", to: \"2026-11-30\") { stage { key } stays averageDays } } }",
            json!({}),
        )
        .await;
    for s in body["pipeline"]["stageDurations"].as_array().expect("durations") {
        let key = s["stage"]["key"].as_str().expect("key");
        let want = stays.get(key).cloned().unwrap_or_default();
        assert_eq!(s["stays"].as_i64(), Some(want.len() as i64), "stays in {key}");
        if !want.is_empty() {
            let avg = want.iter().sum::<f64>() / want.len() as f64;
            let got = s["averageDays"].as_f64().expect("average");
            assert!((got - avg).abs() < 1e-6, "{key}: {got} vs {avg}");
        }
    }
    assert!(stays.values().map(Vec::len).sum::<usize>() >= 9);

    // October's cohort: how far each got, won and lost.
    let (lo, hi) = (at("2026-10-01 00:00"), at("2026-11-01 00:00"));
    let ord = |stage: &str| match stage {
        "lost" => -1,
        "won" => OPEN.len() as i64,
        s => OPEN.iter().position(|o| *o == s).expect("open stage") as i64,
    };
    let cohort: Vec<&HashMap<String, String>> = deals
        .iter()
        .filter(|d| (lo..hi).contains(&created[d["code"].as_str()]))
        .collect();
    let tops: Vec<i64> = cohort
        .iter()
        .map(|d| {
            history
                .iter()
                .filter(|h| h["deal_code"] == d["code"])
                .map(|h| ord(&h["to_stage"]))
                .max()
                .unwrap_or(-1)
        })
        .collect();
    let status = |d: &&HashMap<String, String>| ord(&d["stage"]);
    let body = app
        .ok(
            &t.manager,
            "{ pipeline { conversion(from: \"2026-10-01\", to: \"2026-10-31\") { cohort won lost steps { stage { key } reached } } } }",
            json!({}),
        )
        .await;
    let c = &body["pipeline"]["conversion"];
    assert_eq!(c["cohort"].as_i64(), Some(cohort.len() as i64));
    assert_eq!(
        c["won"].as_i64(),
        Some(cohort.iter().filter(|d| status(d) == OPEN.len() as i64).count() as i64)
    );
    assert_eq!(
        c["lost"].as_i64(),
        Some(cohort.iter().filter(|d| status(d) == -1).count() as i64)
    );
    for (i, step) in c["steps"].as_array().expect("steps").iter().enumerate() {
        assert_eq!(step["stage"]["key"], OPEN[i]);
        let want = tops.iter().filter(|t| **t >= i as i64).count() as i64;
        assert_eq!(step["reached"].as_i64(), Some(want), "reached {}", OPEN[i]);
    }

    // Won and lost last month, with the reason.
    let body = app
        .ok(
            &t.manager,
            "{ pipeline { outcomes(from: \"2026-10-01\", to: \"2026-11-30\") { won wonAmount lost lostReasons { reason deals } } } }",
            json!({}),
        )
        .await;
    let o = &body["pipeline"]["outcomes"];
    assert_eq!((o["won"].as_i64(), o["lost"].as_i64()), (Some(1), Some(1)), "{o}");
    assert_eq!(o["wonAmount"], json!(1_000_000));
    assert_eq!(o["lostReasons"][0]["reason"], "price");

    // The deal as imported: its timeline of stages, its owner a member.
    let body = app
        .ok(
            &t.manager,
            "{ deals(first: 10, filter: {stages: [\"negotiation\"]}) { nodes { name amount owner { email } members { member { email } } stageHistory { nodes { toStage changedAt } } } } }",
            json!({}),
        )
        .await;
    let d = &body["deals"]["nodes"][0];
    assert_eq!(d["name"], "Beta second line");
    assert_eq!(d["owner"]["email"], "rep@acme.test");
    assert_eq!(d["members"][0]["member"]["email"], "rep@acme.test");
    assert_eq!(d["stageHistory"]["nodes"].as_array().map(Vec::len), Some(2), "{d}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_history_rows_are_reported_by_line_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    assert_eq!(
        counts(&import(&app, &t.admin, "CUSTOMERS", CUSTOMERS).await),
        (3, 0, 0, 0)
    );
    let bad_deals = "code,customer_code,name,stage,owner_email,amount,status,created_at,closed_at\n\
        B1,C9,No customer,inquiry,rep@acme.test,100,,2026-10-01 09:00,\n\
        B2,C1,No stage,sleeping,rep@acme.test,100,,2026-10-01 09:00,\n\
        B3,C1,No owner,inquiry,ghost@acme.test,100,,2026-10-01 09:00,\n\
        B4,C1,Wrong type,inquiry,rep@acme.test,lots,,2026-10-01 09:00,\n\
        B5,C1,Won without date,won,rep@acme.test,100,won,2026-10-01 09:00,\n\
        B6,C1,Status against stage,inquiry,rep@acme.test,100,won,2026-10-01 09:00,\n\
        B7,C1,From the future,inquiry,rep@acme.test,100,,2099-01-01 09:00,\n\
        B8,C1,Fine,inquiry,rep@acme.test,100,,2026-10-01 09:00,\n\
        B8,C1,Twice,inquiry,rep@acme.test,100,,2026-10-01 09:00,\n";
    let r = import(&app, &t.admin, "DEALS", bad_deals).await;
    assert_eq!(r["errorCount"], 8, "{r:#}");
    assert_eq!(r["applied"], false);
    let errors: Vec<(i64, String)> = r["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["line"].as_i64().expect("line"),
                e["message"].as_str().expect("message").to_owned(),
            )
        })
        .collect();
    for (line, words) in [
        (2, "no customer has the code `C9`"),
        (3, "`sleeping` is not a stage"),
        (4, "no member has the e-mail `ghost@acme.test`"),
        (5, "`lots` is not a whole number"),
        (6, "needs the time it was won or lost"),
        (7, "does not fit the stage `inquiry`"),
        (8, "in the future"),
        (10, "appears again (first on line 9)"),
    ] {
        assert!(
            errors.iter().any(|(l, m)| *l == line && m.contains(words)),
            "line {line}: {words}: {errors:#?}"
        );
    }
    assert_eq!(app.rows("deal").await, 0, "nothing written");

    // The good deals, then a history with every kind of mistake.
    assert_eq!(counts(&import(&app, &t.admin, "DEALS", DEALS).await), (5, 0, 0, 0));
    let history_before = app.rows("deal_stage_history").await;
    let bad_history = "deal_code,from_stage,to_stage,changed_at\n\
        D1,,inquiry,2026-09-01 10:00\n\
        D1,inquiry,won,2026-08-01 10:00\n\
        D2,,inquiry,2026-10-05 09:00\n\
        D2,hearing,proposal,2026-10-25 09:00\n\
        D3,,inquiry,2026-10-10 09:00\n\
        D3,inquiry,proposal,2026-10-18 09:00\n\
        D4,,inquiry,2026-10-15 09:00\n\
        D4,inquiry,hearing,2099-11-10 09:00\n\
        D9,,inquiry,2026-10-15 09:00\n\
        D5,,nowhere,2026-11-03 09:00\n\
        D5,hearing,negotiation,yesterday\n";
    let r = import(&app, &t.admin, "DEAL_STAGE_HISTORY", bad_history).await;
    let messages = r["errors"].to_string();
    for words in [
        "goes back in time",
        "is not where the previous row (line 4) left the deal (`inquiry`)",
        "is now in `lost`; its history must end there",
        "in the future",
        "no deal has the code `D9`",
        "`nowhere` is not a stage",
        "`yesterday` is not a time",
    ] {
        assert!(messages.contains(words), "{words}: {r:#}");
    }
    assert_eq!(r["applied"], false);
    assert_eq!(app.rows("deal_stage_history").await, history_before, "nothing written");
}

#[tokio::test(flavor = "multi_thread")]
async fn teams_members_and_targets_are_imported_and_checked() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let teams = "name,parent,manager_email\nEast,Sales,\nSales,,\nWest,Sales,\n";
    assert_eq!(
        counts(&import(&app, &t.admin, "TEAMS", teams).await),
        (3, 0, 0, 0),
        "a parent may come later"
    );
    let members = "email,name,role,team\nMgr.East@acme.test,East Manager,manager,East\nr1@acme.test,Rep One,rep,East\nr2@acme.test,Rep Two,,West\n";
    assert_eq!(counts(&import(&app, &t.admin, "MEMBERS", members).await), (3, 0, 0, 0));
    assert_eq!(
        counts(&import(&app, &t.admin, "MEMBERS", members).await),
        (0, 0, 3, 0),
        "again: unchanged"
    );
    let managers = "name,parent,manager_email\nEast,Sales,mgr.east@acme.test\n";
    assert_eq!(counts(&import(&app, &t.admin, "TEAMS", managers).await), (0, 1, 0, 0));
    let targets = "member_email,team,period_start,metric,value\n\
        r1@acme.test,,2026-11-01,sales_amount,3000000\n\
        ,East,2026-11-01,sales_amount,\"9,000,000\"\n";
    assert_eq!(counts(&import(&app, &t.admin, "TARGETS", targets).await), (2, 0, 0, 0));
    let changed = targets.replace("3000000", "3500000");
    assert_eq!(counts(&import(&app, &t.admin, "TARGETS", &changed).await), (0, 1, 1, 0));

    let org = app
        .ok(
            &t.admin,
            "{ teams { name parent { name } manager { email } members { email role } } \
               targets(first: 10) { nodes { value member { email } team { name } } } }",
            json!({}),
        )
        .await;
    let east = org["teams"]
        .as_array()
        .expect("teams")
        .iter()
        .find(|t| t["name"] == "East")
        .expect("East")
        .clone();
    assert_eq!(east["parent"]["name"], "Sales");
    assert_eq!(east["manager"]["email"], "mgr.east@acme.test");
    let mut emails: Vec<&str> = east["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["email"].as_str())
        .collect();
    emails.sort();
    assert_eq!(emails, ["mgr.east@acme.test", "r1@acme.test"]);
    let values: Vec<i64> = org["targets"]["nodes"]
        .as_array()
        .expect("targets")
        .iter()
        .filter_map(|t| t["value"].as_i64())
        .collect();
    assert!(values.contains(&3_500_000) && values.contains(&9_000_000), "{org}");

    // No password until an admin gives one.
    let refused = app
        .gql(
            None,
            "mutation { login(email: \"r1@acme.test\", password: \"!imported\") { token } }",
            json!({}),
        )
        .await;
    assert_eq!(crate::common::error_code(&refused), "UNAUTHENTICATED");
    let id = app
        .ok(&t.admin, "{ members(first: 50) { nodes { id email } } }", json!({}))
        .await["members"]["nodes"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["email"] == "r1@acme.test")
        .expect("r1")["id"]
        .clone();
    let reset = app
        .ok(
            &t.admin,
            "mutation($id: ID!) { resetMemberPassword(id: $id) { temporaryPassword } }",
            json!({"id": id}),
        )
        .await;
    let password = reset["resetMemberPassword"]["temporaryPassword"]
        .as_str()
        .expect("password");
    app.login("r1@acme.test", password).await;

    // Mistakes, each by line; nothing written.
    let before = (
        app.rows("team").await,
        app.rows("member").await,
        app.rows("target").await,
    );
    let r = import(
        &app,
        &t.admin,
        "TEAMS",
        "name,parent,manager_email\nSales,West,\nNorth,Nowhere,\nSouth,,r2@acme.test\n",
    )
    .await;
    let messages = r["errors"].to_string();
    for words in [
        "would be among its own parents",
        "no team is named `Nowhere`",
        "is a rep; a team is led by a manager",
    ] {
        assert!(messages.contains(words), "{words}: {r:#}");
    }
    let r = import(
        &app,
        &t.admin,
        "MEMBERS",
        "email,name,role,team,active\nx@acme.test,X,boss,,\ny@acme.test,Y,rep,Nowhere,\nnot-an-email,Z,,,\nadmin@acme.test,Me,rep,,\nw@acme.test,W,,,maybe\n",
    )
    .await;
    let messages = r["errors"].to_string();
    for words in [
        "`boss` is not rep, manager or admin",
        "no team is named `Nowhere`",
        "is not an e-mail address",
        "this is you",
        "is not true/false",
    ] {
        assert!(messages.contains(words), "{words}: {r:#}");
    }
    let r = import(
        &app,
        &t.admin,
        "TARGETS",
        "member_email,team,period_start,metric,value,period_kind\n\
         r1@acme.test,East,2026-11-01,sales_amount,1,\n\
         r1@acme.test,,2026-11-15,sales_amount,1,\n\
         r1@acme.test,,2026-11-01,sales_amount,-5,\n\
         r1@acme.test,,2026-11-03,visits,1,week\n\
         r2@acme.test,,2026-12-01,visits,1,\n\
         r2@acme.test,,2026-12-01,visits,2,\n",
    )
    .await;
    let messages = r["errors"].to_string();
    for words in [
        "exactly one of member_email and team",
        "must be the 1st of a month",
        "must not be negative",
        "must be a Monday",
        "appears again (first on line 6)",
    ] {
        assert!(messages.contains(words), "{words}: {r:#}");
    }
    assert_eq!(r["errorCount"], 5, "{r:#}");
    assert_eq!(
        (
            app.rows("team").await,
            app.rows("member").await,
            app.rows("target").await
        ),
        before
    );
}

const CONTACTS: &str = include_str!("../fixtures/history/contacts.csv");
const PRODUCTS: &str = include_str!("../fixtures/history/products.csv");
const ACTIVITIES: &str = include_str!("../fixtures/history/activities.csv");
const TASKS: &str = include_str!("../fixtures/history/tasks.csv");

#[tokio::test(flavor = "multi_thread")]
async fn activities_are_scored_on_import_and_tasks_come_with_them() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    imported(&app, &t.admin).await;
    assert_eq!(
        counts(&import(&app, &t.admin, "CONTACTS", CONTACTS).await),
        (3, 0, 0, 0)
    );
    assert_eq!(
        counts(&import(&app, &t.admin, "PRODUCTS", PRODUCTS).await),
        (2, 0, 0, 0)
    );
    let r = import(&app, &t.admin, "ACTIVITIES", ACTIVITIES).await;
    assert_eq!(counts(&r), (4, 0, 0, 0), "{r:#}");
    assert_eq!(
        counts(&import(&app, &t.admin, "ACTIVITIES", ACTIVITIES).await),
        (0, 0, 4, 0),
        "again: unchanged"
    );
    let r = import(&app, &t.admin, "TASKS", TASKS).await;
    assert_eq!(counts(&r), (2, 0, 0, 0), "{r:#}");
    assert_eq!(counts(&import(&app, &t.admin, "TASKS", TASKS).await), (0, 0, 2, 0));

    let q = "{ activities(first: 10) { nodes { subject status scheduledAt doneAt energyPoints energyVersion reactions
                 contacts { name } products { name } deal { name } customer { id name lastContactAt } } } }";
    let got = app.ok(&t.admin, q, json!({})).await;
    let nodes = got["activities"]["nodes"].as_array().expect("activities").clone();
    let by = |subject: &str| nodes.iter().find(|a| a["subject"] == subject).expect(subject).clone();
    let kickoff = by("Kick-off");
    assert_eq!(kickoff["status"], "DONE");
    assert_eq!(kickoff["deal"]["name"], "Alpha renewal");
    assert_eq!(kickoff["reactions"], json!(["met_executive"]));
    assert_eq!(kickoff["contacts"].as_array().map(Vec::len), Some(2));
    assert_eq!(kickoff["products"][0]["name"], "Copier");
    let follow_up = by("Follow-up");
    assert_eq!(
        follow_up["doneAt"], follow_up["scheduledAt"],
        "done without a time: done when scheduled"
    );
    assert!(by("Pilot review")["energyPoints"].is_null(), "planned: not scored");

    // The same visit entered by hand scores the same.
    let customer = kickoff["customer"]["id"].clone();
    let contacts = app
        .ok(
            &t.admin,
            "query($c: ID!) { customer(id: $c) { contacts { id name } } }",
            json!({"c": customer}),
        )
        .await["customer"]["contacts"]
        .as_array()
        .expect("contacts")
        .iter()
        .filter(|k| k["name"] == "Sato Ichiro" || k["name"] == "Suzuki Hana")
        .map(|k| k["id"].clone())
        .collect::<Vec<_>>();
    let by_hand = app
        .ok(
            &t.rep,
            "mutation($i: ActivityInput!) { createActivity(input: $i) { energyPoints energyVersion } }",
            json!({"i": {"customerId": customer, "kind": "VISIT", "status": "DONE", "subject": "by hand",
                         "scheduledAt": "2026-09-03T10:00:00Z", "doneAt": "2026-09-03T11:00:00Z",
                         "durationMinutes": 60, "attendeeCount": 2, "contactIds": contacts,
                         "reactions": ["met_executive"]}}),
        )
        .await;
    assert!(kickoff["energyPoints"].as_i64() > Some(0), "{kickoff}");
    assert_eq!(kickoff["energyPoints"], by_hand["createActivity"]["energyPoints"]);
    assert_eq!(kickoff["energyVersion"], by_hand["createActivity"]["energyVersion"]);
    // The customer's last contact is the latest imported one (the demo of 2026-10-12 for Beta).
    let beta = by("Demo");
    assert_eq!(beta["customer"]["lastContactAt"], beta["doneAt"]);

    let tasks = app
        .ok(
            &t.rep,
            "{ tasks(first: 10) { nodes { title status dueDate completedAt deal { name } customer { name } } } }",
            json!({}),
        )
        .await;
    let nodes = tasks["tasks"]["nodes"].as_array().expect("tasks");
    let quote = nodes.iter().find(|k| k["title"] == "Send the quote").expect("T1");
    assert_eq!(
        (quote["status"].as_str(), quote["completedAt"].is_string()),
        (Some("DONE"), true)
    );
    let pilot = nodes.iter().find(|k| k["title"] == "Pilot checklist").expect("T2");
    assert_eq!(pilot["customer"]["name"], "Gamma Denki", "the deal's customer");

    // Mistakes: each by its line, nothing written.
    let before = app.rows("activity").await;
    let bad = "ref,customer_code,member_email,kind,scheduled_at,status,done_at,deal_code,contact_codes,reactions\n\
        X1,C1,rep@acme.test,dance,2026-10-01 10:00,done,,,,\n\
        X2,C1,rep@acme.test,visit,2026-10-01 10:00,done,2099-01-01 10:00,,,\n\
        X3,C1,rep@acme.test,visit,2099-10-01 10:00,done,,,,\n\
        X4,C2,rep@acme.test,visit,2026-10-01 10:00,done,,D1,,\n\
        X5,C2,rep@acme.test,visit,2026-10-01 10:00,done,,,K1,\n\
        X6,C1,rep@acme.test,visit,2026-10-01 10:00,done,,,,clapped\n\
        X7,C1,ghost@acme.test,visit,2026-10-01 10:00,planned,2026-10-01 11:00,,,\n\
        X7,C1,rep@acme.test,visit,2026-10-01 10:00,,,,,\n";
    let r = import(&app, &t.admin, "ACTIVITIES", bad).await;
    let messages = r["errors"].to_string();
    for words in [
        "`dance` is not visit",
        "in the future",
        "a done activity cannot lie in the future",
        "the deal is of another customer",
        "a contact of another customer",
        "`clapped` is not a reaction",
        "no member has the e-mail `ghost@acme.test`",
        "only a done activity has a done_at",
        "appears again (first on line 8)",
    ] {
        assert!(messages.contains(words), "{words}: {r:#}");
    }
    assert_eq!(r["errorCount"], 8, "{r:#}");
    assert_eq!(app.rows("activity").await, before);
}

/// One import through the service, `batch` rows at a time, committed as the command line does.
async fn batched(
    app: &TestApp,
    actor: &sfa::service::Actor,
    kind: sfa::service::import::ImportKind,
    text: &str,
    batch: usize,
) -> sfa::service::import::Report {
    use sfa::service::import::{self, ImportFormat, Options, Source};
    let txn = sfa::db::begin_write(&app.db).await.expect("begin");
    let source = Source::Bytes(text.as_bytes().into());
    let report = import::run_in_batches(&txn, actor, kind, ImportFormat::Csv, &source, Options::default(), batch)
        .await
        .expect("import");
    txn.commit().await.expect("commit");
    report
}

/// Each company's deals by code: stage entered, last activity; customers by code: last contact.
async fn derived(app: &TestApp, company_id: uuid::Uuid) -> Vec<(String, Option<String>, Option<String>)> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mut out = Vec::new();
    for d in entity::deal::Entity::find()
        .filter(entity::deal::Column::CompanyId.eq(company_id))
        .all(&app.db)
        .await
        .expect("deals")
    {
        out.push((
            d.external_code.unwrap_or_default(),
            Some(d.stage_entered_at.to_rfc3339()),
            d.last_activity_at.map(|t| t.to_rfc3339()),
        ));
    }
    for c in entity::customer::Entity::find()
        .filter(entity::customer::Column::CompanyId.eq(company_id))
        .all(&app.db)
        .await
        .expect("customers")
    {
        out.push((
            c.external_code.unwrap_or_default(),
            None,
            c.last_contact_at.map(|t| t.to_rfc3339()),
        ));
    }
    out.sort();
    out
}

/// A long file is read a batch at a time: the same files read one or two
/// rows at a time leave the same history, stage times and last contacts as
/// read whole; a code twice in different batches is caught; a deal's
/// history rows split over batches are refused; and a bad row in the last
/// batch undoes the batches written before it.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_read_in_batches_imports_as_a_whole_one_and_a_late_bad_row_undoes_it() {
    use sfa::service::import::ImportKind;
    let app = TestApp::spawn().await;
    let whole = app.tenant("whole").await;
    let t = app.tenant("acme").await;
    // The same files, read whole through the API, by a company whose members are @whole.test.
    for (kind, text, created) in [
        ("CUSTOMERS", CUSTOMERS, 3),
        ("CONTACTS", CONTACTS, 3),
        ("PRODUCTS", PRODUCTS, 2),
        ("DEALS", DEALS, 5),
        ("DEAL_STAGE_HISTORY", HISTORY, 15),
        ("ACTIVITIES", ACTIVITIES, 4),
    ] {
        let r = import(&app, &whole.admin, kind, &text.replace("@acme.test", "@whole.test")).await;
        assert_eq!(counts(&r), (created, 0, 0, 0), "{kind}: {r}");
    }

    let actor = crate::common::actor_of(&app, t.admin.member_id).await;
    for (kind, text, created) in [
        (ImportKind::Customers, CUSTOMERS, 3),
        (ImportKind::Contacts, CONTACTS, 3),
        (ImportKind::Products, PRODUCTS, 2),
        (ImportKind::Deals, DEALS, 5),
        (ImportKind::DealStageHistory, HISTORY, 15),
        (ImportKind::Activities, ACTIVITIES, 4),
    ] {
        let r = batched(&app, &actor, kind, text, 2).await;
        assert_eq!(
            (r.created, r.error_count, r.applied),
            (created, 0, true),
            "{kind:?}: {r:?}"
        );
    }
    // The whole file and the batches agree on everything derived from them.
    let theirs: Vec<_> = derived(&app, whole.company_id).await;
    let ours: Vec<_> = derived(&app, t.company_id).await;
    assert_eq!(ours, theirs);
    assert!(
        ours.iter().any(|(code, _, last)| code == "C1" && last.is_some()),
        "{ours:?}"
    );

    // A code twice, in the first and the third batch.
    let r = batched(&app, &actor, ImportKind::Customers, "code,name\nN1,a\nN2,b\nN1,c\n", 1).await;
    assert_eq!((r.error_count, r.applied), (1, false), "{r:?}");
    assert!(r.errors[0].message.contains("appears again (first on line 2)"), "{r:?}");

    // D2's rows apart, in different batches.
    let split = "deal_code,from_stage,to_stage,changed_at\n\
        D2,,inquiry,2026-10-05 09:00\n\
        D4,,inquiry,2026-10-15 09:00\n\
        D4,inquiry,hearing,2026-11-10 09:00\n\
        D2,inquiry,proposal,2026-10-25 09:00\n";
    let r = batched(&app, &actor, ImportKind::DealStageHistory, split, 1).await;
    assert!(!r.applied, "{r:?}");
    assert!(
        r.errors
            .iter()
            .any(|e| e.line == 5 && e.message.contains("must follow each other")),
        "{r:?}"
    );

    // Three good deals, each in a batch of its own and written, then a bad one: none stays.
    let deals_before = app.rows("deal").await;
    let late = "code,customer_code,name,stage,owner_email,created_at\n\
        E1,C1,One,inquiry,rep@acme.test,2026-10-01 09:00\n\
        E2,C1,Two,inquiry,rep@acme.test,2026-10-01 09:00\n\
        E3,C1,Three,inquiry,rep@acme.test,2026-10-01 09:00\n\
        E4,C1,Four,sleeping,rep@acme.test,2026-10-01 09:00\n";
    let r = batched(&app, &actor, ImportKind::Deals, late, 1).await;
    assert_eq!((r.created, r.error_count, r.applied), (0, 1, false), "{r:?}");
    assert_eq!(r.errors[0].line, 5, "{r:?}");
    assert_eq!(
        app.rows("deal").await,
        deals_before,
        "the batches before the bad row were undone"
    );
    // With skipBadRows the good ones stay.
    let opts = sfa::service::import::Options {
        dry_run: false,
        skip_bad_rows: true,
    };
    let txn = sfa::db::begin_write(&app.db).await.expect("begin");
    let source = sfa::service::import::Source::Bytes(late.as_bytes().into());
    let r = sfa::service::import::run_in_batches(
        &txn,
        &actor,
        ImportKind::Deals,
        sfa::service::import::ImportFormat::Csv,
        &source,
        opts,
        1,
    )
    .await
    .expect("import");
    txn.commit().await.expect("commit");
    assert_eq!((r.created, r.skipped, r.applied), (3, 1, true), "{r:?}");
    assert_eq!(app.rows("deal").await, deals_before + 3);
}
