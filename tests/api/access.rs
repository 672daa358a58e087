//! The permission matrix: every query and mutation of the schema, for every
//! kind of caller, against records owned by rep R1 of team T1.
//!
//! Callers: R1 (the owner), R2 (a rep of team T2), M1 (manager of T1), M2
//! (manager of T2), A (admin), RO / RW (read-only and read-write API keys);
//! and for every row: no token, an expired token and a deactivated member,
//! which must all be UNAUTHENTICATED. A field of the schema without a row
//! fails the test.
//!
//! Outcomes: `ok`, `F` (FORBIDDEN), `has` / `hides` (a list contains the
//! record or not). Mutations run on a fresh target for every caller.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::enums::{ActivityKind, PeriodKind, Role};
use serde_json::{Value, json};
use sfa::service::{self, Actor, access::ApiKeyScope};
use uuid::Uuid;

use crate::common::{TestApp, actor_of};

const CALLERS: [&str; 7] = ["R1", "R2", "M1", "M2", "A", "RO", "RW"];

/// Who/what the rows need.
struct Org {
    ids: HashMap<&'static str, Uuid>,
    tokens: HashMap<&'static str, String>,
    r1: Actor,
    admin: Actor,
    shared: Value,
    counter: std::sync::atomic::AtomicU32,
}

async fn member(app: &TestApp, admin: &Actor, email: &str, role: Role, team: Option<Uuid>) -> Uuid {
    let f = service::members::NewMember {
        email: email.into(),
        name: email.into(),
        role,
        team_id: team,
        password: Some("matrix-password".into()),
    };
    service::members::create(&app.db, admin, f).await.expect("member").0.id
}

async fn org(app: &TestApp) -> Org {
    let t = app.tenant("matrix").await;
    let admin = actor_of(app, t.admin.member_id).await;
    let team = |name: &str, manager| service::catalog::TeamFields {
        name: name.into(),
        parent_id: None,
        manager_id: Some(manager),
    };
    let m1 = member(app, &admin, "m1@matrix.test", Role::Manager, None).await;
    let m2 = member(app, &admin, "m2@matrix.test", Role::Manager, None).await;
    let t1 = service::catalog::create_team(&app.db, &admin, team("T1", m1))
        .await
        .expect("t1")
        .id;
    let t2 = service::catalog::create_team(&app.db, &admin, team("T2", m2))
        .await
        .expect("t2")
        .id;
    for (m, team) in [(m1, t1), (m2, t2)] {
        let p = service::members::MemberPatch {
            team_id: Some(Some(team)),
            ..Default::default()
        };
        service::members::update(&app.db, &admin, m, p).await.expect("team");
    }
    let r1 = member(app, &admin, "r1@matrix.test", Role::Rep, Some(t1)).await;
    let r2 = member(app, &admin, "r2@matrix.test", Role::Rep, Some(t2)).await;
    let gone = member(app, &admin, "gone@matrix.test", Role::Rep, Some(t1)).await;
    let mut tokens = HashMap::new();
    for (who, email) in [
        ("R1", "r1"),
        ("R2", "r2"),
        ("M1", "m1"),
        ("M2", "m2"),
        ("DEACT", "gone"),
    ] {
        tokens.insert(who, app.login(&format!("{email}@matrix.test"), "matrix-password").await);
    }
    tokens.insert("A", t.admin.token.clone());
    service::members::set_active(&app.db, &admin, gone, false)
        .await
        .expect("deactivate");
    for (who, scope) in [("RO", ApiKeyScope::ReadOnly), ("RW", ApiKeyScope::ReadWrite)] {
        let (_, key) = service::api_keys::create(&app.db, &admin, who, scope)
            .await
            .expect("key");
        tokens.insert(who, key);
    }
    let secret = sfa::auth::load_or_create_secret(&app.db, None).await.expect("secret");
    let keys = sfa::auth::TokenKeys::new(&secret, 1);
    let (expired, _) = keys.issue_until(
        r1,
        t.company_id,
        0,
        uuid::Uuid::now_v7(),
        Utc::now() - chrono::Duration::minutes(1),
    );
    tokens.insert("EXPIRED", expired);
    let ids = HashMap::from([
        ("r1", r1),
        ("r2", r2),
        ("m1", m1),
        ("m2", m2),
        ("t1", t1),
        ("admin", t.admin.member_id),
    ]);
    let r1_actor = actor_of(app, r1).await;
    let admin = actor_of(app, t.admin.member_id).await;
    let mut o = Org {
        ids,
        tokens,
        r1: r1_actor,
        admin,
        shared: Value::Null,
        counter: Default::default(),
    };
    o.shared = prepare(app, &o).await;
    o
}

fn s(id: Uuid) -> Value {
    json!(id.to_string())
}

/// A fresh set of records owned by R1: every id a row may need.
async fn prepare(app: &TestApp, o: &Org) -> Value {
    use service::{activity as act, customer as cust, deal, task};
    let n = o.counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let db = &app.db;
    let r1 = &o.r1;
    let c = cust::create(db, r1, cust::NewCustomer::named(format!("Customer {n}")))
        .await
        .expect("customer");
    let contact = cust::create_contact(db, r1, c.id, cust::ContactFields::named("K"))
        .await
        .expect("contact");
    let new_deal = |name: &str| deal::NewDeal {
        amount: Some(1000),
        member_ids: vec![o.ids["admin"]],
        ..deal::NewDeal::new(c.id, name, "hearing")
    };
    let d = deal::create(db, r1, new_deal("D")).await.expect("deal");
    let closed = deal::create(db, r1, new_deal("closed")).await.expect("deal");
    let closed = deal::close(
        db,
        r1,
        closed.id,
        1,
        entity::enums::DealStatus::Lost,
        Some("price".into()),
        None,
    )
    .await
    .expect("close");
    let q = deal::create_quote(
        db,
        r1,
        d.id,
        deal::QuoteFields {
            title: Some("Q".into()),
            amount: Some(5),
            ..Default::default()
        },
    )
    .await
    .expect("quote");
    let a = act::create(
        db,
        r1,
        act::NewActivity {
            deal_id: Some(d.id),
            ..act::NewActivity::planned(c.id, ActivityKind::Visit, "visit", Utc::now())
        },
        None,
    )
    .await
    .expect("activity");
    let report = act::submit_report(
        db,
        r1,
        act::ReportSubmission {
            date: chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default() + chrono::Duration::days(n as i64),
            body: "report".into(),
            version: None,
            submit: true,
            activities: vec![],
            completed: vec![],
        },
    )
    .await
    .expect("report");
    let k = task::create(
        db,
        r1,
        task::NewTask {
            customer_id: Some(c.id),
            ..task::NewTask::titled("T")
        },
    )
    .await
    .expect("task");
    let comment = service::comment::add(db, r1, entity::enums::CommentSubject::Deal, d.id, "hi", None, &[])
        .await
        .expect("comment");
    let admin = &o.admin;
    let product = service::catalog::create_product(
        db,
        admin,
        service::catalog::ProductFields {
            code: None,
            name: format!("P{n}"),
            category: None,
            is_focus: false,
            unit_price: None,
        },
    )
    .await
    .expect("product");
    let group = service::catalog::create_group(
        db,
        admin,
        service::catalog::GroupFields {
            name: format!("G{n}"),
            description: None,
        },
    )
    .await
    .expect("group");
    let month = chrono::NaiveDate::from_ymd_opt(2030 + n as i32, 1, 1).unwrap_or_default();
    let target = service::plan::set(
        db,
        admin,
        service::plan::Subject::Member(o.ids["r1"]),
        PeriodKind::Month,
        month,
        "visits_done",
        40,
    )
    .await
    .expect("target");
    let victim = member(app, admin, &format!("victim{n}@matrix.test"), Role::Rep, None).await;
    let (key, _) = service::api_keys::create(db, admin, "victim", ApiKeyScope::ReadOnly)
        .await
        .expect("key");
    let (hook, delivery) = crate::common::webhook_with_delivery(db, o.r1.company_id, "victim hook").await;
    let question = service::qa::ask(db, r1, "proposal", &format!("Q{n}"), "how?")
        .await
        .expect("question");
    let answer = service::qa::answer(db, r1, question.id, "like this")
        .await
        .expect("answer");
    json!({
        "question": s(question.id), "answer": s(answer.id),
        "webhook": s(hook), "delivery": s(delivery),
        "customer": s(c.id), "contact": s(contact.id), "deal": s(d.id), "closed": s(closed.id), "quote": s(q.id),
        "activity": s(a.id), "report": s(report.id), "task": s(k.id), "comment": s(comment.id), "product": s(product.id),
        "group": s(group.id), "target": s(target.id), "victim": s(victim), "key": s(key.id),
        "r1": s(o.ids["r1"]), "r2": s(o.ids["r2"]), "m1": s(o.ids["m1"]), "t1": s(o.ids["t1"]), "admin": s(o.ids["admin"]),
        "date": format!("{}", chrono::NaiveDate::from_ymd_opt(2100, 1, 1).unwrap_or_default() + chrono::Duration::days(n as i64)),
        "month": month.to_string(),
        "email": format!("new{n}@matrix.test"),
    })
}

/// (field, document, expected outcome for R1 R2 M1 M2 A RO RW).
const QUERIES: &[(&str, &str, &str)] = &[
    ("me", "{ me { id } }", "ok ok ok ok ok ok ok"),
    ("mySessions", "{ mySessions { id } }", "ok ok ok ok ok ok ok"),
    ("process", "{ process { stages { key } } }", "ok ok ok ok ok ok ok"),
    ("rescoreJob", "{ rescoreJob { status } }", "F F F F ok ok ok"),
    // Scripts run on the company's data: admins with write rights only.
    ("scoringDryRun", "{ scoringDryRun { activities } }", "F F F F ok F ok"),
    (
        "validateProcess",
        "{ validateProcess(files: [{name: \"scoring.rhai\", source: \"fn activity_points(a) { 2 }\"}]) { ok } }",
        "F F F F ok F ok",
    ),
    (
        "dryRunProcess",
        "{ dryRunProcess(files: [{name: \"scoring.rhai\", source: \"fn activity_points(a) { 2 }\"}]) { kpis { key } } }",
        "F F F F ok F ok",
    ),
    // The company's process versions: admins, read-only keys included.
    ("processVersions", "{ processVersions { version } }", "F F F F ok ok ok"),
    ("kpiReport", "{ kpiReport { daysTotal } }", "ok ok ok ok ok ok ok"),
    (
        "uncontactedCustomers",
        "{ uncontactedCustomers(days: 30) { totalCount } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "kpiReport",
        "query($r1: ID!) { kpiReport(memberId: $r1) { daysTotal } }",
        "ok F ok F ok ok ok",
    ),
    (
        "kpiReport",
        "query($t1: ID!) { kpiReport(teamId: $t1) { daysTotal } }",
        "F F ok F ok ok ok",
    ),
    (
        "kpiBreakdown",
        "{ kpiBreakdown(by: WEEK) { daysTotal } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "kpiBreakdown",
        "query($t1: ID!) { kpiBreakdown(teamId: $t1, by: MEMBER) { daysTotal } }",
        "F F ok F ok ok ok",
    ),
    (
        "pipeline",
        "{ pipeline { stages { deals } conversion { cohort } outcomes { won } stalled(days: 30) { totalCount } } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "forecast",
        "{ forecast { landing history { landing } } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "forecast",
        "query($r1: ID!) { forecast(memberId: $r1) { landing } }",
        "ok F ok F ok ok ok",
    ),
    (
        "forecast",
        "query($t1: ID!) { forecast(teamId: $t1) { landing members { landing } } }",
        "F F ok F ok ok ok",
    ),
    (
        "aggregate",
        "{ aggregate(fact: \"deals\", dimensions: [\"stage\"], measures: [\"count\"]) { rows { values } } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "aggregateCatalog",
        "{ aggregateCatalog { name } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "calendar",
        "{ calendar(from: \"2026-11-01\", to: \"2026-11-30\") { title } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "calendar",
        "query($r1: ID!) { calendar(memberId: $r1, from: \"2026-11-01\", to: \"2026-11-30\") { title } }",
        "ok F ok F ok ok ok",
    ),
    (
        "energy",
        "query($r1: ID!) { energy(memberId: $r1) { points } }",
        "ok F ok F ok ok ok",
    ),
    (
        "energy",
        "query($customer: ID!) { energy(customerId: $customer) { points } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "energyRanking",
        "{ energyRanking(by: CUSTOMER) { points } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "customer360",
        "query($customer: ID!) { customer360(id: $customer) { value { lifetimeSales } crossSell { similarCustomers } ownerHistory { at } } }",
        "ok ok ok ok ok ok ok",
    ),
    ("company", "{ company { id } }", "ok ok ok ok ok ok ok"),
    ("teams", "{ teams { id } }", "ok ok ok ok ok ok ok"),
    (
        "team",
        "query($t1: ID!) { team(id: $t1) { id } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "member",
        "query($r1: ID!) { member(id: $r1) { id } }",
        "ok ok ok ok ok ok ok",
    ),
    ("members", "{ members { totalCount } }", "ok ok ok ok ok ok ok"),
    (
        "customer",
        "query($customer: ID!) { customer(id: $customer) { id } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "customers",
        "{ customers(first: 100) { nodes { id } } }",
        "has has has has has has has",
    ),
    ("customerGroups", "{ customerGroups { id } }", "ok ok ok ok ok ok ok"),
    (
        "contact",
        "query($contact: ID!) { contact(id: $contact) { id } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "contacts",
        "{ contacts(first: 100) { nodes { id } } }",
        "has has has has has has has",
    ),
    (
        "deal",
        "query($deal: ID!) { deal(id: $deal) { id } }",
        "ok F ok F ok ok ok",
    ),
    (
        "deals",
        "{ deals(first: 100) { nodes { id } } }",
        "has hides has hides has has has",
    ),
    (
        "quote",
        "query($quote: ID!) { quote(id: $quote) { id } }",
        "ok F ok F ok ok ok",
    ),
    (
        "activity",
        "query($activity: ID!) { activity(id: $activity) { id } }",
        "ok F ok F ok ok ok",
    ),
    (
        "activities",
        "{ activities(first: 100) { nodes { id } } }",
        "has hides has hides has has has",
    ),
    (
        "dailyReport",
        "query($report: ID!) { dailyReport(id: $report) { id } }",
        "ok F ok F ok ok ok",
    ),
    (
        "dailyReports",
        "{ dailyReports(first: 100) { nodes { id } } }",
        "has hides has hides has has has",
    ),
    (
        "task",
        "query($task: ID!) { task(id: $task) { id } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "tasks",
        "{ tasks(first: 100) { nodes { id } } }",
        "has has has has has has has",
    ),
    (
        "comment",
        "query($comment: ID!) { comment(id: $comment) { id } }",
        "ok F ok F ok ok ok",
    ),
    (
        "product",
        "query($product: ID!) { product(id: $product) { id } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "products",
        "{ products(first: 100) { nodes { id } } }",
        "has has has has has has has",
    ),
    (
        "salesRecords",
        "{ salesRecords { totalCount } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "targets",
        "{ targets(first: 100) { nodes { id } } }",
        "has has has has has has has",
    ),
    ("apiKeys", "{ apiKeys { id } }", "F F F F ok ok ok"),
    (
        "notifications",
        "{ notifications(unreadOnly: true) { totalCount } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "unreadNotificationCount",
        "{ unreadNotificationCount }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "mutedNotificationKinds",
        "{ mutedNotificationKinds }",
        "ok ok ok ok ok ok ok",
    ),
    ("auditLog", "{ auditLog(first: 1) { totalCount } }", "F F F F ok ok ok"),
    ("webhooks", "{ webhooks { id } }", "F F F F ok ok ok"),
    ("customersCsv", "{ customersCsv { rows } }", "ok ok ok ok ok ok ok"),
    ("dealsCsv", "{ dealsCsv { rows } }", "ok ok ok ok ok ok ok"),
    ("activitiesCsv", "{ activitiesCsv { rows } }", "ok ok ok ok ok ok ok"),
    ("tasksCsv", "{ tasksCsv { rows } }", "ok ok ok ok ok ok ok"),
    (
        "questions",
        "{ questions(stage: \"proposal\", search: \"Q\") { totalCount nodes { answers { id } } } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "question",
        "query($question: ID!) { question(id: $question) { title } }",
        "ok ok ok ok ok ok ok",
    ),
    (
        "webhookDeliveries",
        "{ webhookDeliveries(first: 5) { totalCount } }",
        "F F F F ok ok ok",
    ),
];

/// Which id a list row looks for.
fn list_target(field: &str) -> &'static str {
    match field {
        "customers" => "customer",
        "contacts" => "contact",
        "deals" => "deal",
        "activities" => "activity",
        "dailyReports" => "report",
        "tasks" => "task",
        "products" => "product",
        "targets" => "target",
        _ => "",
    }
}

const EDIT: &str = "ok F ok F ok F ok";
const ANYONE: &str = "ok ok ok ok ok F ok";
const ADMIN: &str = "F F F F ok F ok";

const MUTATIONS: &[(&str, &str, &str)] = &[
    (
        "createTeam",
        "mutation { createTeam(input: {name: \"X\"}) { id } }",
        ADMIN,
    ),
    (
        "updateTeam",
        "mutation($t1: ID!) { updateTeam(id: $t1, input: {name: \"T1\"}) { id } }",
        ADMIN,
    ),
    (
        "createCustomer",
        "mutation { createCustomer(input: {name: \"N\"}) { id } }",
        ANYONE,
    ),
    (
        "updateCustomer",
        "mutation($customer: ID!) { updateCustomer(input: {id: $customer, version: 1, name: \"N2\"}) { id } }",
        EDIT,
    ),
    (
        "deleteCustomer",
        "mutation($customer: ID!) { deleteCustomer(id: $customer, version: 1) { id } }",
        EDIT,
    ),
    (
        "createCustomerGroup",
        "mutation { createCustomerGroup(name: \"G\") { id } }",
        ADMIN,
    ),
    (
        "updateCustomerGroup",
        "mutation($group: ID!) { updateCustomerGroup(id: $group, name: \"G2\") { id } }",
        ADMIN,
    ),
    (
        "deleteCustomerGroup",
        "mutation($group: ID!) { deleteCustomerGroup(id: $group) }",
        ADMIN,
    ),
    (
        "createContact",
        "mutation($customer: ID!) { createContact(customerId: $customer, input: {name: \"K2\"}) { id } }",
        ANYONE,
    ),
    (
        "updateContact",
        "mutation($contact: ID!) { updateContact(id: $contact, version: 1, input: {title: \"部長\"}) { id } }",
        ANYONE,
    ),
    (
        "deleteContact",
        "mutation($contact: ID!) { deleteContact(id: $contact, version: 1) { id } }",
        EDIT,
    ),
    (
        "recordTouchpoint",
        "mutation($customer: ID!) { recordTouchpoint(input: {customerId: $customer, kind: \"web_view\", occurredAt: \"2026-01-01T00:00:00Z\"}) { id } }",
        ADMIN,
    ),
    (
        "createDeal",
        "mutation($customer: ID!) { createDeal(input: {customerId: $customer, name: \"D2\", stage: \"hearing\"}) { id } }",
        ANYONE,
    ),
    (
        "updateDeal",
        "mutation($deal: ID!) { updateDeal(input: {id: $deal, version: 1, name: \"D2\"}) { id } }",
        EDIT,
    ),
    (
        "moveDealStage",
        "mutation($deal: ID!) { moveDealStage(id: $deal, version: 1, stage: \"proposal\") { id } }",
        EDIT,
    ),
    (
        "closeDeal",
        "mutation($deal: ID!) { closeDeal(id: $deal, version: 1, outcome: WON) { id } }",
        EDIT,
    ),
    (
        "reopenDeal",
        "mutation($closed: ID!) { reopenDeal(id: $closed, version: 2, stage: \"proposal\") { id } }",
        EDIT,
    ),
    (
        "deleteDeal",
        "mutation($deal: ID!) { deleteDeal(id: $deal, version: 1) { id } }",
        EDIT,
    ),
    (
        "addDealMember",
        "mutation($deal: ID!, $m1: ID!) { addDealMember(dealId: $deal, memberId: $m1) { role } }",
        EDIT,
    ),
    (
        "removeDealMember",
        "mutation($deal: ID!, $admin: ID!) { removeDealMember(dealId: $deal, memberId: $admin) }",
        EDIT,
    ),
    (
        "setDealQuality",
        "mutation($deal: ID!) { setDealQuality(dealId: $deal, indicator: \"referral\", checked: true) { checked } }",
        "F F ok F ok F ok",
    ),
    (
        "assignQualityMaintainer",
        "mutation($deal: ID!, $r1: ID!) { assignQualityMaintainer(dealId: $deal, memberId: $r1) { id } }",
        "F F ok F ok F ok",
    ),
    ("reloadPlugins", "mutation { reloadPlugins { version } }", ADMIN),
    (
        "publishProcess",
        "mutation { publishProcess(files: [{name: \"scoring.rhai\", source: \"fn activity_points(a) { 2 }\"}]) { version } }",
        ADMIN,
    ),
    (
        "rollbackProcess",
        "mutation { rollbackProcess(version: 1) { version } }",
        ADMIN,
    ),
    (
        "useShippedProcess",
        "mutation { useShippedProcess(name: \"default\") { version } }",
        ADMIN,
    ),
    ("rescoreActivities", "mutation { rescoreActivities { status } }", ADMIN),
    ("takeForecastSnapshots", "mutation { takeForecastSnapshots }", ADMIN),
    (
        "createQuote",
        "mutation($deal: ID!) { createQuote(dealId: $deal, input: {title: \"Q2\", amount: 1}) { id } }",
        EDIT,
    ),
    (
        "updateQuote",
        "mutation($quote: ID!) { updateQuote(id: $quote, version: 1, input: {amount: 2}) { id } }",
        EDIT,
    ),
    (
        "deleteQuote",
        "mutation($quote: ID!) { deleteQuote(id: $quote, version: 1) { id } }",
        EDIT,
    ),
    (
        "createActivity",
        "mutation($customer: ID!) { createActivity(input: {customerId: $customer, kind: CALL, subject: \"c\", scheduledAt: \"2026-01-01T00:00:00Z\"}) { id } }",
        ANYONE,
    ),
    (
        "updateActivity",
        "mutation($activity: ID!) { updateActivity(input: {id: $activity, version: 1, subject: \"s\"}) { id } }",
        EDIT,
    ),
    (
        "completeActivity",
        "mutation($activity: ID!) { completeActivity(input: {id: $activity, version: 1}) { id } }",
        EDIT,
    ),
    (
        "cancelActivity",
        "mutation($activity: ID!) { cancelActivity(id: $activity, version: 1) { id } }",
        EDIT,
    ),
    (
        "deleteActivity",
        "mutation($activity: ID!) { deleteActivity(id: $activity, version: 1) { id } }",
        EDIT,
    ),
    (
        "submitDailyReport",
        "mutation($date: Date!) { submitDailyReport(input: {reportDate: $date, body: \"b\"}) { id } }",
        ANYONE,
    ),
    (
        "createTask",
        "mutation($customer: ID!) { createTask(input: {title: \"t\", customerId: $customer}) { id } }",
        ANYONE,
    ),
    (
        "updateTask",
        "mutation($task: ID!) { updateTask(input: {id: $task, version: 1, title: \"t2\"}) { id } }",
        EDIT,
    ),
    (
        "completeTask",
        "mutation($task: ID!) { completeTask(id: $task, version: 1) { id } }",
        EDIT,
    ),
    (
        "reopenTask",
        "mutation($task: ID!) { completeTask(id: $task, version: 1) { id } reopenTask(id: $task, version: 2) { id } }",
        EDIT,
    ),
    (
        "cancelTask",
        "mutation($task: ID!) { cancelTask(id: $task, version: 1) { id } }",
        EDIT,
    ),
    (
        "reassignTask",
        "mutation($task: ID!, $r1: ID!) { reassignTask(id: $task, version: 1, assigneeId: $r1) { id } }",
        EDIT,
    ),
    (
        "deleteTask",
        "mutation($task: ID!) { deleteTask(id: $task, version: 1) { id } }",
        EDIT,
    ),
    (
        "addComment",
        "mutation($deal: ID!) { addComment(subjectType: DEAL, subjectId: $deal, body: \"b\") { id } }",
        EDIT,
    ),
    (
        "follow",
        "mutation($deal: ID!) { follow(subjectType: DEAL, subjectId: $deal) }",
        EDIT,
    ),
    (
        "unfollow",
        "mutation($deal: ID!) { unfollow(subjectType: DEAL, subjectId: $deal) }",
        ANYONE,
    ),
    (
        "markNotificationsRead",
        "mutation { markNotificationsRead(all: true) }",
        ANYONE,
    ),
    (
        "setNotificationKindMuted",
        "mutation { setNotificationKindMuted(kind: QUALITY, muted: true) }",
        ANYONE,
    ),
    (
        "updateComment",
        "mutation($comment: ID!) { updateComment(id: $comment, body: \"b2\") { id } }",
        "ok F F F F F F",
    ),
    (
        "deleteComment",
        "mutation($comment: ID!) { deleteComment(id: $comment) }",
        "ok F F F F F F",
    ),
    (
        "createProduct",
        "mutation { createProduct(input: {name: \"P\"}) { id } }",
        ADMIN,
    ),
    (
        "updateProduct",
        "mutation($product: ID!) { updateProduct(id: $product, input: {name: \"P2\"}) { id } }",
        ADMIN,
    ),
    (
        "deleteProduct",
        "mutation($product: ID!) { deleteProduct(id: $product) }",
        ADMIN,
    ),
    (
        "setTarget",
        "mutation($r1: ID!, $month: Date!) { setTarget(input: {memberId: $r1, periodKind: MONTH, periodStart: $month, metric: \"visits_done\", value: 30}) { id } }",
        "F F ok F ok F ok",
    ),
    (
        "deleteTarget",
        "mutation($target: ID!) { deleteTarget(id: $target) }",
        "F F ok F ok F ok",
    ),
    (
        "createMember",
        "mutation($email: String!) { createMember(input: {email: $email, name: \"N\", role: REP}) { member { id } } }",
        ADMIN,
    ),
    (
        "updateMember",
        "mutation($victim: ID!) { updateMember(input: {id: $victim, name: \"V\"}) { id } }",
        ADMIN,
    ),
    (
        "deactivateMember",
        "mutation($victim: ID!) { deactivateMember(id: $victim) { id } }",
        ADMIN,
    ),
    (
        "reactivateMember",
        "mutation($victim: ID!) { reactivateMember(id: $victim) { id } }",
        ADMIN,
    ),
    (
        "resetMemberPassword",
        "mutation($victim: ID!) { resetMemberPassword(id: $victim) { temporaryPassword } }",
        ADMIN,
    ),
    (
        "createApiKey",
        "mutation { createApiKey(name: \"k\", scope: READ_ONLY) { key } }",
        "F F F F ok F F",
    ),
    (
        "revokeApiKey",
        "mutation($key: ID!) { revokeApiKey(id: $key) { id } }",
        ADMIN,
    ),
    (
        "askQuestion",
        "mutation { askQuestion(input: {stage: \"proposal\", title: \"t\", body: \"b\"}) { id } }",
        ANYONE,
    ),
    (
        "updateQuestion",
        "mutation($question: ID!) { updateQuestion(id: $question, input: {stage: \"hearing\", title: \"t\", body: \"b\"}) { id } }",
        "ok F F F F F F",
    ),
    (
        "answerQuestion",
        "mutation($question: ID!) { answerQuestion(questionId: $question, body: \"b\") { id } }",
        ANYONE,
    ),
    (
        "acceptAnswer",
        "mutation($question: ID!, $answer: ID!) { acceptAnswer(questionId: $question, answerId: $answer) { id } }",
        "ok F F F ok F ok",
    ),
    (
        "deleteQuestion",
        "mutation($question: ID!) { deleteQuestion(id: $question) }",
        "ok F F F ok F ok",
    ),
    (
        "deleteAnswer",
        "mutation($answer: ID!) { deleteAnswer(id: $answer) }",
        "ok F F F ok F ok",
    ),
    (
        "importData",
        "mutation { importData(kind: PRODUCTS, text: \"code,name\\nIMP,Imported\", dryRun: true) { rows } }",
        ADMIN,
    ),
    (
        "createWebhook",
        "mutation { createWebhook(input: {name: \"h\", url: \"https://chat.example.com/h\", events: [DEAL_WON]}) { secret } }",
        ADMIN,
    ),
    (
        "updateWebhook",
        "mutation($webhook: ID!) { updateWebhook(id: $webhook, input: {name: \"h2\", url: \"https://chat.example.com/h\", events: [DEAL_LOST]}) { id } }",
        ADMIN,
    ),
    (
        "rotateWebhookSecret",
        "mutation($webhook: ID!) { rotateWebhookSecret(id: $webhook) { secret } }",
        ADMIN,
    ),
    (
        "deleteWebhook",
        "mutation($webhook: ID!) { deleteWebhook(id: $webhook) { id } }",
        ADMIN,
    ),
    (
        "retryWebhookDelivery",
        "mutation($delivery: ID!) { retryWebhookDelivery(id: $delivery) { status } }",
        ADMIN,
    ),
    (
        "updateCompanySettings",
        "mutation { updateCompanySettings(repVisibility: COMPANY) { id } }",
        ADMIN,
    ),
];

/// Fields with no row, and why.
const EXEMPT: &[(&str, &str)] = &[
    ("login", "anonymous by design; covered by auth tests"),
    ("changePassword", "ends the caller's sessions; covered by admin tests"),
    ("logout", "ends the caller's session; covered by admin tests"),
    ("logoutEverywhere", "ends the caller's sessions; covered by admin tests"),
    (
        "revokeSession",
        "the caller's own sessions only; covered by admin tests",
    ),
];

fn outcome(body: &Value, field: &str, expect_id: Option<&Value>) -> String {
    if let Some(code) = body["errors"][0]["extensions"]["code"].as_str() {
        return match code {
            "FORBIDDEN" => "F".into(),
            other => other.to_owned(),
        };
    }
    match expect_id {
        Some(id) => {
            let nodes = body["data"][field]["nodes"].as_array().cloned().unwrap_or_default();
            if nodes.iter().any(|n| &n["id"] == id) {
                "has".into()
            } else {
                "hides".into()
            }
        }
        None => "ok".into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn permission_matrix() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;

    // Every field of the schema has a row (or a reason not to).
    let schema = app
        .gql(
            Some(&o.tokens["A"]),
            "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }",
            json!({}),
        )
        .await;
    let covered: HashSet<&str> = QUERIES
        .iter()
        .chain(MUTATIONS)
        .map(|r| r.0)
        .chain(EXEMPT.iter().map(|e| e.0))
        .collect();
    let mut missing = Vec::new();
    for kind in ["queryType", "mutationType"] {
        for f in schema["data"]["__schema"][kind]["fields"].as_array().expect("fields") {
            let name = f["name"].as_str().unwrap_or("");
            if !covered.contains(name) {
                missing.push(name.to_owned());
            }
        }
    }
    assert!(missing.is_empty(), "no permission rule in the matrix for: {missing:?}");

    let mut failures = Vec::new();
    let mut checked = 0;
    for (field, doc, expected) in QUERIES {
        let target = list_target(field);
        let id = (!target.is_empty()).then(|| &o.shared[target]);
        for (caller, want) in CALLERS.iter().zip(expected.split_whitespace()) {
            let body = app.gql(Some(&o.tokens[caller]), doc, o.shared.clone()).await;
            let got = outcome(&body, field, id);
            checked += 1;
            if got != *want {
                failures.push(format!(
                    "query {field} as {caller}: expected {want}, got {got} ({body})"
                ));
            }
        }
    }
    for (field, doc, expected) in MUTATIONS {
        for (caller, want) in CALLERS.iter().zip(expected.split_whitespace()) {
            let vars = prepare(&app, &o).await;
            let body = app.gql(Some(&o.tokens[caller]), doc, vars).await;
            let got = outcome(&body, field, None);
            checked += 1;
            if got != *want {
                failures.push(format!(
                    "mutation {field} as {caller}: expected {want}, got {got} ({body})"
                ));
            }
        }
    }
    // Without a valid token nothing answers but UNAUTHENTICATED.
    for (field, doc, _) in QUERIES.iter().chain(MUTATIONS) {
        for caller in ["ANON", "EXPIRED", "DEACT"] {
            let token = o.tokens.get(caller).map(String::as_str);
            let body = app.gql(token, doc, o.shared.clone()).await;
            let got = body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("ok")
                .to_owned();
            checked += 1;
            if got != "UNAUTHENTICATED" {
                failures.push(format!("{field} as {caller}: expected UNAUTHENTICATED, got {got}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn team_visibility_setting_narrows_rep_reads() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let q = "query($customer: ID!) { customer(id: $customer) { id } customers { totalCount } tasks { totalCount } }";
    let company_wide = app.gql(Some(&o.tokens["R2"]), q, o.shared.clone()).await;
    assert!(company_wide.get("errors").is_none(), "{company_wide}");
    let all_customers = company_wide["data"]["customers"]["totalCount"].clone();
    assert!(all_customers.as_i64() > Some(0));

    let set = "mutation($v: RepVisibility!) { updateCompanySettings(repVisibility: $v) { repVisibility } }";
    let body = app.gql(Some(&o.tokens["A"]), set, json!({"v": "TEAM"})).await;
    assert_eq!(body["data"]["updateCompanySettings"]["repVisibility"], "TEAM");

    // R2 (team T2) no longer reads R1's customer or tasks; counts agree.
    let narrowed = app.gql(Some(&o.tokens["R2"]), q, o.shared.clone()).await;
    assert_eq!(narrowed["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let lists = app
        .gql(
            Some(&o.tokens["R2"]),
            "{ customers { totalCount nodes { id } } tasks { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(lists["data"]["customers"]["totalCount"], 0);
    assert_eq!(lists["data"]["tasks"]["totalCount"], 0);
    // R1's team still reads it all; managers and admins are unaffected.
    for who in ["R1", "M1", "A"] {
        let body = app.gql(Some(&o.tokens[who]), q, o.shared.clone()).await;
        assert!(body.get("errors").is_none(), "{who}: {body}");
        assert_eq!(body["data"]["customers"]["totalCount"], all_customers, "{who}");
    }
    let m2 = app.gql(Some(&o.tokens["M2"]), q, o.shared.clone()).await;
    assert_eq!(m2["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handover_shows_the_history_to_the_new_owner() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let history =
        "query($customer: ID!) { customer(id: $customer) { activities { totalCount } deals { totalCount } } }";
    let before = app.gql(Some(&o.tokens["R2"]), history, o.shared.clone()).await;
    assert_eq!(
        before["data"]["customer"]["activities"]["totalCount"], 0,
        "not R2's customer yet"
    );
    let hand = "mutation($customer: ID!, $r2: ID!) { updateCustomer(input: {id: $customer, version: 1, ownerId: $r2}) { owner { id } } }";
    let done = app.gql(Some(&o.tokens["M1"]), hand, o.shared.clone()).await;
    assert_eq!(done["data"]["updateCustomer"]["owner"]["id"], o.shared["r2"], "{done}");
    let after = app.gql(Some(&o.tokens["R2"]), history, o.shared.clone()).await;
    assert_eq!(after["data"]["customer"]["activities"]["totalCount"], 1, "{after}");
    assert_eq!(after["data"]["customer"]["deals"]["totalCount"], 2);
}
