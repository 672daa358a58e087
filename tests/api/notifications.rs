//! Notification routing: each event reaches exactly the members it should,
//! and nobody outside the access rules; the inbox API around it.

use std::collections::BTreeMap;

use entity::enums::Role;
use serde_json::{Value, json};
use sfa::service;
use uuid::Uuid;

use crate::common::{Session, TestApp, actor_of, customer, deal, error_code};

/// A company whose reps see only their own team (`repVisibility: TEAM`):
/// M leads T with R and R1b; M2 leads T2 with R2; A is the admin.
struct Org {
    s: BTreeMap<&'static str, Session>,
}

impl Org {
    fn id(&self, who: &str) -> Uuid {
        self.s[who].member_id
    }
}

async fn org(app: &TestApp) -> Org {
    let t = app.tenant("notify").await;
    let admin = actor_of(app, t.admin.member_id).await;
    let team = service::catalog::create_team(
        &app.db,
        &admin,
        service::catalog::TeamFields {
            name: "T2".into(),
            parent_id: None,
            manager_id: None,
        },
    )
    .await
    .expect("t2")
    .id;
    let rep_team = actor_of(app, t.rep.member_id).await.team_id;
    let mut s = BTreeMap::from([("A", t.admin), ("M", t.manager), ("R", t.rep)]);
    for (who, role, team) in [
        ("R1b", Role::Rep, rep_team),
        ("M2", Role::Manager, Some(team)),
        ("R2", Role::Rep, Some(team)),
    ] {
        let email = format!("{}@notify.test", who.to_lowercase());
        let f = service::members::NewMember {
            email: email.clone(),
            name: who.into(),
            role,
            team_id: team,
            password: Some("notify-password".into()),
        };
        let id = service::members::create(&app.db, &admin, f).await.expect("member").0.id;
        let token = app.login(&email, "notify-password").await;
        s.insert(who, Session { member_id: id, token });
    }
    let lead = service::catalog::TeamPatch {
        manager_id: Some(Some(s["M2"].member_id)),
        ..Default::default()
    };
    service::catalog::update_team(&app.db, &admin, team, lead)
        .await
        .expect("lead t2");
    let narrow = "mutation { updateCompanySettings(repVisibility: TEAM) { repVisibility } }";
    app.ok(&s["A"], narrow, json!({})).await;
    Org { s }
}

const INBOX: &str = "{ notifications { totalCount nodes { id kind subjectType subjectId summary read actor { id } comment { body } } } unreadNotificationCount }";

/// Each member's inbox: (kind, subject type) pairs, newest first.
async fn inboxes(app: &TestApp, o: &Org) -> BTreeMap<&'static str, Vec<(String, String)>> {
    let mut out = BTreeMap::new();
    for (who, s) in &o.s {
        let body = app.ok(s, INBOX, json!({})).await;
        let nodes = body["notifications"]["nodes"].as_array().expect("nodes");
        assert_eq!(body["unreadNotificationCount"], json!(nodes.len()), "{who}: {body}");
        let got = nodes
            .iter()
            .map(|n| {
                (
                    n["kind"].as_str().expect("kind").to_owned(),
                    n["subjectType"].as_str().expect("type").to_owned(),
                )
            })
            .collect();
        out.insert(*who, got);
    }
    out
}

fn expect(pairs: &[(&'static str, &[(&str, &str)])]) -> BTreeMap<&'static str, Vec<(String, String)>> {
    let mut out: BTreeMap<&'static str, Vec<(String, String)>> = ["A", "M", "M2", "R", "R1b", "R2"]
        .into_iter()
        .map(|w| (w, Vec::new()))
        .collect();
    for (who, list) in pairs {
        out.insert(who, list.iter().map(|(k, t)| (k.to_string(), t.to_string())).collect());
    }
    out
}

async fn read_all(app: &TestApp, o: &Org) {
    for s in o.s.values() {
        app.ok(s, "mutation { markNotificationsRead(all: true) }", json!({}))
            .await;
    }
}

async fn version(app: &TestApp, s: &Session, deal: &str) -> i64 {
    let body = app
        .ok(s, "query($id: ID!) { deal(id: $id) { version } }", json!({"id": deal}))
        .await;
    body["deal"]["version"].as_i64().expect("version")
}

#[tokio::test(flavor = "multi_thread")]
async fn each_event_reaches_exactly_the_members_it_should() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let c = customer(&app, &o.s["R"], "Acme").await;
    let (d, _) = deal(&app, &o.s["R"], &c, "Acme renewal").await;
    for who in ["R1b", "R2"] {
        app.ok(
            &o.s["R"],
            "mutation($d: ID!, $m: ID!) { addDealMember(dealId: $d, memberId: $m) { role } }",
            json!({"d": d, "m": o.id(who)}),
        )
        .await;
    }
    // Nothing so far: creating and staffing a deal notifies nobody.
    assert_eq!(inboxes(&app, &o).await, expect(&[]));

    // A stage move by the manager: the owner and the deal's members, not the
    // mover, not the admin, not the other team's manager.
    let v = version(&app, &o.s["M"], &d).await;
    app.ok(
        &o.s["M"],
        "mutation($d: ID!, $v: Int!) { moveDealStage(id: $d, version: $v, stage: \"proposal\") { id } }",
        json!({"d": d, "v": v}),
    )
    .await;
    let stage = &[("DEAL_STAGE", "DEAL")][..];
    assert_eq!(
        inboxes(&app, &o).await,
        expect(&[("R", stage), ("R1b", stage), ("R2", stage)])
    );
    let body = app.ok(&o.s["R"], INBOX, json!({})).await;
    let n = &body["notifications"]["nodes"][0];
    assert_eq!(n["subjectId"], json!(d));
    assert_eq!(n["actor"]["id"], json!(o.id("M").to_string()));
    assert!(n["summary"].as_str().unwrap().contains("Acme renewal"), "{n}");
    read_all(&app, &o).await;

    // A daily report touching the deal: the author's manager hears of the
    // report; the deal's members of the deal's activity (they may not read
    // the author's whole report).
    let report = "mutation($c: ID!, $d: ID!) { submitDailyReport(input: {reportDate: \"2026-11-20\", body: \"visited\", activities: [{customerId: $c, dealId: $d, kind: VISIT, subject: \"demo\", scheduledAt: \"2026-11-20T01:00:00Z\"}]}) { id } }";
    app.ok(&o.s["R"], report, json!({"c": c, "d": d})).await;
    let on_deal = &[("DAILY_REPORT", "ACTIVITY")][..];
    assert_eq!(
        unread(&app, &o).await,
        expect(&[
            ("M", &[("DAILY_REPORT", "DAILY_REPORT")]),
            ("R1b", on_deal),
            ("R2", on_deal)
        ])
    );
    let r2 = app.ok(&o.s["R2"], INBOX, json!({})).await;
    let activity = r2["notifications"]["nodes"][0]["subjectId"].clone();
    app.ok(
        &o.s["R2"],
        "query($id: ID!) { activity(id: $id) { id } }",
        json!({"id": activity}),
    )
    .await;
    // Saving the same report again is not a second submission.
    let again = "mutation { submitDailyReport(input: {reportDate: \"2026-11-20\", body: \"visited twice\", version: 1}) { id } }";
    app.ok(&o.s["R"], again, json!({})).await;
    read_all(&app, &o).await;
    assert_eq!(unread(&app, &o).await, expect(&[]));

    // Quality: the maintainer (the owner's manager) checks an indicator.
    let q = "mutation($d: ID!) { setDealQuality(dealId: $d, indicator: \"referral\", checked: true) { checked } }";
    app.ok(&o.s["M"], q, json!({"d": d})).await;
    let quality = &[("QUALITY", "DEAL")][..];
    assert_eq!(
        unread(&app, &o).await,
        expect(&[("R", quality), ("R1b", quality), ("R2", quality)])
    );
    read_all(&app, &o).await;

    // R mutes lost deals; R2 leaves the deal (and can no longer read it).
    app.ok(
        &o.s["R"],
        "mutation { setNotificationKindMuted(kind: DEAL_LOST, muted: true) }",
        json!({}),
    )
    .await;
    let muted = app.ok(&o.s["R"], "{ mutedNotificationKinds }", json!({})).await;
    assert_eq!(muted["mutedNotificationKinds"], json!(["DEAL_LOST"]));
    app.ok(
        &o.s["R"],
        "mutation($d: ID!, $m: ID!) { removeDealMember(dealId: $d, memberId: $m) }",
        json!({"d": d, "m": o.id("R2")}),
    )
    .await;
    let v = version(&app, &o.s["M"], &d).await;
    app.ok(
        &o.s["M"],
        "mutation($d: ID!, $v: Int!) { closeDeal(id: $d, version: $v, outcome: LOST, lostReason: \"budget\") { status } }",
        json!({"d": d, "v": v}),
    )
    .await;
    assert_eq!(unread(&app, &o).await, expect(&[("R1b", &[("DEAL_LOST", "DEAL")])]));
}

/// Unread inboxes only.
async fn unread(app: &TestApp, o: &Org) -> BTreeMap<&'static str, Vec<(String, String)>> {
    let mut out = BTreeMap::new();
    for (who, s) in &o.s {
        let body = app
            .ok(
                s,
                "{ notifications(unreadOnly: true) { nodes { kind subjectType } } }",
                json!({}),
            )
            .await;
        let got = body["notifications"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| {
                (
                    n["kind"].as_str().expect("kind").to_owned(),
                    n["subjectType"].as_str().expect("type").to_owned(),
                )
            })
            .collect();
        out.insert(*who, got);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn comments_reach_owners_followers_and_mentions_within_the_access_rules() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let c = customer(&app, &o.s["R"], "Globex").await;
    let (d, _) = deal(&app, &o.s["R"], &c, "Globex pilot").await;
    app.ok(
        &o.s["R"],
        "mutation($d: ID!, $m: ID!) { addDealMember(dealId: $d, memberId: $m) { role } }",
        json!({"d": d, "m": o.id("R2")}),
    )
    .await;
    let comment = "mutation($d: ID!, $b: String!, $m: [ID!]) { addComment(subjectType: DEAL, subjectId: $d, body: $b, mentionIds: $m) { id } }";

    // R2 (a deal member) comments: the owner hears; R2 now follows the deal.
    app.ok(&o.s["R2"], comment, json!({"d": d, "b": "How did the demo go?"}))
        .await;
    assert_eq!(unread(&app, &o).await, expect(&[("R", &[("COMMENT", "DEAL")])]));
    read_all(&app, &o).await;

    // The manager answers mentioning the admin: the admin gets a mention (not
    // also a comment); the owner and the follower R2 get the comment.
    let m = app
        .ok(
            &o.s["M"],
            comment,
            json!({"d": d, "b": "Ask A for a discount", "m": [o.id("A")]}),
        )
        .await;
    assert!(m["addComment"]["id"].is_string());
    assert_eq!(
        unread(&app, &o).await,
        expect(&[
            ("A", &[("MENTION", "DEAL")]),
            ("R", &[("COMMENT", "DEAL")]),
            ("R2", &[("COMMENT", "DEAL")]),
        ])
    );
    let a = app.ok(&o.s["A"], INBOX, json!({})).await;
    assert_eq!(
        a["notifications"]["nodes"][0]["comment"]["body"],
        "Ask A for a discount"
    );
    read_all(&app, &o).await;

    // Mentioning someone who cannot read the deal is refused, and writes nothing.
    let before = app.rows("comment").await;
    let refused = app
        .gql(
            Some(&o.s["M"].token),
            comment,
            json!({"d": d, "b": "M2, look", "m": [o.id("M2")]}),
        )
        .await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");
    assert!(refused.to_string().contains("cannot read this deal"), "{refused}");
    assert_eq!(app.rows("comment").await, before);

    // R2 leaves the deal: as a follower they would hear, but they may no
    // longer read it, so they do not.
    app.ok(
        &o.s["R"],
        "mutation($d: ID!, $m: ID!) { removeDealMember(dealId: $d, memberId: $m) }",
        json!({"d": d, "m": o.id("R2")}),
    )
    .await;
    // (The admin was only mentioned: a mention does not follow the deal.)
    app.ok(&o.s["R"], comment, json!({"d": d, "b": "Signed!"})).await;
    assert_eq!(unread(&app, &o).await, expect(&[("M", &[("COMMENT", "DEAL")])]));
    read_all(&app, &o).await;

    // Unfollowing stops comments; following (as a reader) starts them.
    app.ok(
        &o.s["M"],
        "mutation($d: ID!) { unfollow(subjectType: DEAL, subjectId: $d) }",
        json!({"d": d}),
    )
    .await;
    app.ok(
        &o.s["A"],
        "mutation($d: ID!) { follow(subjectType: DEAL, subjectId: $d) }",
        json!({"d": d}),
    )
    .await;
    app.ok(&o.s["R"], comment, json!({"d": d, "b": "Kick-off on Monday"}))
        .await;
    assert_eq!(unread(&app, &o).await, expect(&[("A", &[("COMMENT", "DEAL")])]));
    let follow = "mutation($d: ID!) { follow(subjectType: DEAL, subjectId: $d) }";
    let foreign = app.gql(Some(&o.s["R2"].token), follow, json!({"d": d})).await;
    assert_eq!(error_code(&foreign), "FORBIDDEN", "{foreign}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tasks_notify_the_assignee_and_remind_once_per_deadline() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let today = chrono::Utc::now().date_naive();
    let create = "mutation($t: String!, $a: ID, $due: Date) { createTask(input: {title: $t, assigneeId: $a, dueDate: $due}) { id version } }";
    // Own tasks notify nobody; a task the manager gives R notifies R.
    app.ok(&o.s["R"], create, json!({"t": "call back"})).await;
    let tomorrow = (today + chrono::Duration::days(1)).to_string();
    app.ok(
        &o.s["M"],
        create,
        json!({"t": "send the quote", "a": o.id("R"), "due": tomorrow}),
    )
    .await;
    assert_eq!(unread(&app, &o).await, expect(&[("R", &[("TASK_ASSIGNED", "TASK")])]));
    read_all(&app, &o).await;
    let yesterday = (today - chrono::Duration::days(1)).to_string();
    let late = app
        .ok(&o.s["R1b"], create, json!({"t": "fix the invoice", "due": yesterday}))
        .await;
    let in_a_week = (today + chrono::Duration::days(7)).to_string();
    app.ok(&o.s["R1b"], create, json!({"t": "later", "due": in_a_week}))
        .await;

    // Two runs (or two replicas) of the reminder job: one reminder each.
    for _ in 0..2 {
        let outbox = sfa::events::Outbox::default();
        service::notify::remind_tasks(&app.db, &app.plugins, &outbox)
            .await
            .expect("reminders");
    }
    assert_eq!(
        unread(&app, &o).await,
        expect(&[("R", &[("TASK_DUE", "TASK")]), ("R1b", &[("TASK_OVERDUE", "TASK")])])
    );
    // Reassigning the late task to R2 notifies R2.
    let id = late["createTask"]["id"].clone();
    app.ok(
        &o.s["R1b"],
        "mutation($id: ID!, $a: ID!) { reassignTask(id: $id, version: 1, assigneeId: $a) { id } }",
        json!({"id": id, "a": o.id("R2")}),
    )
    .await;
    let r2 = unread(&app, &o).await;
    assert_eq!(r2["R2"], vec![("TASK_ASSIGNED".to_string(), "TASK".to_string())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_inbox_marks_read_by_id_or_all_and_stays_private() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let create = "mutation($t: String!, $a: ID) { createTask(input: {title: $t, assigneeId: $a}) { id } }";
    for t in ["one", "two", "three"] {
        app.ok(&o.s["M"], create, json!({"t": t, "a": o.id("R")})).await;
    }
    let body = app.ok(&o.s["R"], INBOX, json!({})).await;
    assert_eq!(body["unreadNotificationCount"], 3);
    let ids: Vec<Value> = body["notifications"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    // Newest first.
    assert!(
        body["notifications"]["nodes"][0]["summary"]
            .as_str()
            .unwrap()
            .contains("three")
    );

    // Someone else's notification cannot be marked (nor seen).
    let other = app
        .ok(
            &o.s["M"],
            "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }",
            json!({"ids": [ids[0]]}),
        )
        .await;
    assert_eq!(other["markNotificationsRead"], 0);
    let m = app.ok(&o.s["M"], INBOX, json!({})).await;
    assert_eq!(m["notifications"]["totalCount"], 0);

    let mark = "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }";
    let one = app.ok(&o.s["R"], mark, json!({"ids": [ids[0]]})).await;
    assert_eq!(one["markNotificationsRead"], 1);
    let again = app.ok(&o.s["R"], mark, json!({"ids": [ids[0]]})).await;
    assert_eq!(again["markNotificationsRead"], 0);
    let left = app
        .ok(
            &o.s["R"],
            "{ unreadNotificationCount notifications(unreadOnly: true) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(left["unreadNotificationCount"], 2);
    assert_eq!(left["notifications"]["totalCount"], 2);
    let all = app
        .ok(&o.s["R"], "mutation { markNotificationsRead(all: true) }", json!({}))
        .await;
    assert_eq!(all["markNotificationsRead"], 2);

    let neither = app
        .gql(Some(&o.s["R"].token), "mutation { markNotificationsRead }", json!({}))
        .await;
    assert_eq!(error_code(&neither), "BAD_USER_INPUT");
    assert!(neither.to_string().contains("`ids`"), "{neither}");
}
