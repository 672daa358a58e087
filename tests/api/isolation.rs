//! Tenant isolation: company B tries every query and mutation that takes an
//! id with each of company A's ids (directly, in filters, as links of new
//! records, as cursors). Each answer must be exactly the answer for an id
//! that does not exist (no existence oracle), contain none of A's ids, and
//! A's data must not change.

use std::collections::HashMap;

use chrono::Utc;
use entity::enums::{ActivityKind, CommentSubject, PeriodKind};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use sfa::service::{self, access::ApiKeyScope};
use uuid::Uuid;

use crate::common::{TestApp, actor_of};

/// Company A's records, by kind.
async fn seed_alpha(app: &TestApp, admin: Uuid, rep: Uuid, team: Uuid) -> HashMap<&'static str, Vec<Uuid>> {
    use service::{activity as act, customer as cust, deal};
    let db = &app.db;
    let admin = actor_of(app, admin).await;
    let r = actor_of(app, rep).await;
    let mut ids: HashMap<&'static str, Vec<Uuid>> = HashMap::new();
    let mut add = |k: &'static str, id: Uuid| ids.entry(k).or_default().push(id);
    let group = service::catalog::create_group(
        db,
        &admin,
        service::catalog::GroupFields {
            name: "ALPHA group".into(),
            description: None,
        },
    )
    .await
    .expect("group");
    add("group", group.id);
    for p in 0..3 {
        let f = service::catalog::ProductFields {
            code: None,
            name: format!("ALPHA product {p}"),
            category: None,
            is_focus: true,
            unit_price: None,
        };
        add(
            "product",
            service::catalog::create_product(db, &admin, f)
                .await
                .expect("product")
                .id,
        );
    }
    for i in 0..6 {
        let c = cust::create(
            db,
            &r,
            cust::NewCustomer {
                group_id: Some(group.id),
                is_priority: true,
                ..cust::NewCustomer::named(format!("ALPHA customer {i}"))
            },
        )
        .await
        .expect("customer");
        add("customer", c.id);
        let k = cust::create_contact(db, &r, c.id, cust::ContactFields::named(format!("ALPHA contact {i}")))
            .await
            .expect("contact");
        add("contact", k.id);
        let d = deal::create(
            db,
            &r,
            deal::NewDeal {
                amount: Some(1_000_000),
                ..deal::NewDeal::new(c.id, format!("ALPHA deal {i}"), "hearing")
            },
        )
        .await
        .expect("deal");
        add("deal", d.id);
        let q = deal::create_quote(
            db,
            &r,
            d.id,
            deal::QuoteFields {
                title: Some("ALPHA quote".into()),
                amount: Some(9),
                ..Default::default()
            },
        )
        .await
        .expect("quote");
        add("quote", q.id);
        let a = act::create(
            db,
            &r,
            act::NewActivity {
                deal_id: Some(d.id),
                ..act::NewActivity::planned(c.id, ActivityKind::Visit, "ALPHA visit", Utc::now())
            },
            None,
        )
        .await
        .expect("activity");
        add("activity", a.id);
        let t = service::task::create(
            db,
            &r,
            service::task::NewTask {
                activity_id: Some(a.id),
                ..service::task::NewTask::titled("ALPHA task")
            },
        )
        .await
        .expect("task");
        add("task", t.id);
        add(
            "comment",
            service::comment::add(db, &r, CommentSubject::Deal, d.id, "ALPHA comment", None, &[])
                .await
                .expect("c")
                .id,
        );
        if i < 3 {
            let report = act::submit_report(
                db,
                &r,
                act::ReportSubmission {
                    date: chrono::NaiveDate::from_ymd_opt(2026, 1, 1 + i as u32).unwrap_or_default(),
                    body: "ALPHA report".into(),
                    version: None,
                    submit: true,
                    activities: vec![],
                    completed: vec![],
                },
            )
            .await
            .expect("report");
            add("report", report.id);
        }
    }
    let month = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    let target = service::plan::set(
        db,
        &admin,
        service::plan::Subject::Member(rep),
        PeriodKind::Month,
        month,
        "visits_done",
        40,
    )
    .await
    .expect("target");
    add("target", target.id);
    let (key, _) = service::api_keys::create(db, &admin, "ALPHA key", ApiKeyScope::ReadOnly)
        .await
        .expect("key");
    add("apikey", key.id);
    let (hook, delivery) = crate::common::webhook_with_delivery(db, admin.company_id, "ALPHA hook").await;
    add("webhook", hook);
    let question = service::qa::ask(db, &admin, "proposal", "ALPHA question", "ALPHA body")
        .await
        .expect("question");
    let answer = service::qa::answer(db, &admin, question.id, "ALPHA answer")
        .await
        .expect("answer");
    add("question", question.id);
    add("answer", answer.id);
    add("delivery", delivery);
    add("team", team);
    add("member", rep);
    add("member", admin.member_id);
    ids
}

/// (kind of id, document using `$id`; `$own*` are B's own records).
const ATTEMPTS: &[(&str, &str)] = &[
    ("customer", "query($id: ID!) { customer(id: $id) { id name } }"),
    ("customer", "query($id: ID!) { energy(customerId: $id) { points } }"),
    (
        "customer",
        "query($id: ID!) { customer360(id: $id) { value { lifetimeSales } unproposedFocusProducts { id } } }",
    ),
    (
        "customer",
        "query($id: ID!) { aggregate(fact: \"activities\", dimensions: [\"member\"], measures: [\"count\"], filter: {customerId: $id}) { rows { keys values } } }",
    ),
    (
        "customer",
        "query($id: ID!) { contacts(customerId: $id) { totalCount nodes { id } } }",
    ),
    (
        "customer",
        "query($id: ID!) { deals(filter: {customerId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "customer",
        "query($id: ID!) { activities(filter: {customerId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "customer",
        "query($id: ID!) { tasks(filter: {customerId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "customer",
        "query($id: ID!) { salesRecords(filter: {customerId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "customer",
        "mutation($id: ID!) { updateCustomer(input: {id: $id, version: 1, name: \"x\"}) { id } }",
    ),
    (
        "customer",
        "mutation($id: ID!) { deleteCustomer(id: $id, version: 1) { id } }",
    ),
    (
        "customer",
        "mutation($id: ID!) { createContact(customerId: $id, input: {name: \"x\"}) { id } }",
    ),
    (
        "customer",
        "mutation($id: ID!) { createDeal(input: {customerId: $id, name: \"x\", stage: \"hearing\"}) { id } }",
    ),
    (
        "customer",
        "mutation($id: ID!) { createActivity(input: {customerId: $id, kind: CALL, subject: \"x\", scheduledAt: \"2026-01-01T00:00:00Z\"}) { id } }",
    ),
    (
        "customer",
        "mutation($id: ID!) { createTask(input: {title: \"x\", customerId: $id}) { id } }",
    ),
    (
        "customer",
        "mutation($id: ID!) { recordTouchpoint(input: {customerId: $id, kind: \"web_view\", occurredAt: \"2026-01-01T00:00:00Z\"}) { id } }",
    ),
    (
        "customer",
        "mutation($id: ID!) { addComment(subjectType: CUSTOMER, subjectId: $id, body: \"x\") { id } }",
    ),
    (
        "customer",
        "mutation($id: ID!) { submitDailyReport(input: {reportDate: \"2031-01-01\", activities: [{customerId: $id, kind: CALL, subject: \"x\", scheduledAt: \"2031-01-01T01:00:00Z\"}]}) { id } }",
    ),
    ("contact", "query($id: ID!) { contact(id: $id) { id name } }"),
    (
        "contact",
        "mutation($id: ID!) { updateContact(id: $id, version: 1, input: {title: \"x\"}) { id } }",
    ),
    (
        "contact",
        "mutation($id: ID!) { deleteContact(id: $id, version: 1) { id } }",
    ),
    (
        "contact",
        "mutation($id: ID!, $ownCustomer: ID!) { createActivity(input: {customerId: $ownCustomer, kind: VISIT, subject: \"x\", scheduledAt: \"2026-01-01T00:00:00Z\", contactIds: [$id]}) { id } }",
    ),
    ("deal", "query($id: ID!) { deal(id: $id) { id name } }"),
    ("deal", "query($id: ID!) { energy(dealId: $id) { points } }"),
    (
        "deal",
        "query($id: ID!) { activities(filter: {dealId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "deal",
        "query($id: ID!) { tasks(filter: {dealId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "deal",
        "mutation($id: ID!) { updateDeal(input: {id: $id, version: 1, name: \"x\"}) { id } }",
    ),
    (
        "deal",
        "mutation($id: ID!) { moveDealStage(id: $id, version: 1, stage: \"proposal\") { id } }",
    ),
    (
        "deal",
        "mutation($id: ID!) { closeDeal(id: $id, version: 1, outcome: WON) { id } }",
    ),
    ("deal", "mutation($id: ID!) { deleteDeal(id: $id, version: 1) { id } }"),
    (
        "deal",
        "mutation($id: ID!, $ownMember: ID!) { addDealMember(dealId: $id, memberId: $ownMember) { role } }",
    ),
    (
        "deal",
        "mutation($id: ID!) { createQuote(dealId: $id, input: {title: \"x\", amount: 1}) { id } }",
    ),
    (
        "deal",
        "mutation($id: ID!) { createTask(input: {title: \"x\", dealId: $id}) { id } }",
    ),
    (
        "deal",
        "mutation($id: ID!) { addComment(subjectType: DEAL, subjectId: $id, body: \"x\") { id } }",
    ),
    (
        "deal",
        "mutation($id: ID!, $ownCustomer: ID!) { createActivity(input: {customerId: $ownCustomer, dealId: $id, kind: CALL, subject: \"x\", scheduledAt: \"2026-01-01T00:00:00Z\"}) { id } }",
    ),
    ("quote", "query($id: ID!) { quote(id: $id) { id } }"),
    (
        "quote",
        "mutation($id: ID!) { updateQuote(id: $id, version: 1, input: {amount: 2}) { id } }",
    ),
    (
        "quote",
        "mutation($id: ID!) { deleteQuote(id: $id, version: 1) { id } }",
    ),
    (
        "quote",
        "mutation($id: ID!) { createTask(input: {title: \"x\", quoteId: $id}) { id } }",
    ),
    ("activity", "query($id: ID!) { activity(id: $id) { id } }"),
    (
        "activity",
        "mutation($id: ID!) { updateActivity(input: {id: $id, version: 1, subject: \"x\"}) { id } }",
    ),
    (
        "activity",
        "mutation($id: ID!) { completeActivity(input: {id: $id, version: 1}) { id } }",
    ),
    (
        "activity",
        "mutation($id: ID!) { cancelActivity(id: $id, version: 1) { id } }",
    ),
    (
        "activity",
        "mutation($id: ID!) { deleteActivity(id: $id, version: 1) { id } }",
    ),
    (
        "activity",
        "mutation($id: ID!) { createTask(input: {title: \"x\", activityId: $id}) { id } }",
    ),
    (
        "activity",
        "mutation($id: ID!) { addComment(subjectType: ACTIVITY, subjectId: $id, body: \"x\") { id } }",
    ),
    (
        "activity",
        "mutation($id: ID!) { submitDailyReport(input: {reportDate: \"2031-02-01\", completed: [{id: $id, version: 1}]}) { id } }",
    ),
    ("task", "query($id: ID!) { task(id: $id) { id } }"),
    (
        "task",
        "mutation($id: ID!) { updateTask(input: {id: $id, version: 1, title: \"x\"}) { id } }",
    ),
    (
        "task",
        "mutation($id: ID!) { completeTask(id: $id, version: 1) { id } }",
    ),
    (
        "task",
        "mutation($id: ID!, $ownMember: ID!) { reassignTask(id: $id, version: 1, assigneeId: $ownMember) { id } }",
    ),
    ("task", "mutation($id: ID!) { deleteTask(id: $id, version: 1) { id } }"),
    ("report", "query($id: ID!) { dailyReport(id: $id) { id } }"),
    (
        "report",
        "mutation($id: ID!) { addComment(subjectType: DAILY_REPORT, subjectId: $id, body: \"x\") { id } }",
    ),
    ("comment", "query($id: ID!) { comment(id: $id) { id body } }"),
    (
        "comment",
        "mutation($id: ID!) { updateComment(id: $id, body: \"x\") { id } }",
    ),
    ("comment", "mutation($id: ID!) { deleteComment(id: $id) }"),
    (
        "comment",
        "mutation($id: ID!, $ownDeal: ID!) { addComment(subjectType: DEAL, subjectId: $ownDeal, body: \"x\", parentId: $id) { id } }",
    ),
    ("product", "query($id: ID!) { product(id: $id) { id } }"),
    (
        "product",
        "query($id: ID!) { aggregate(fact: \"sales_records\", dimensions: [\"product\"], measures: [\"count\"], filter: {productId: $id}) { rows { keys values } } }",
    ),
    (
        "product",
        "mutation($id: ID!) { updateProduct(id: $id, input: {name: \"x\"}) { id } }",
    ),
    ("product", "mutation($id: ID!) { deleteProduct(id: $id) }"),
    (
        "product",
        "mutation($id: ID!, $ownCustomer: ID!) { createActivity(input: {customerId: $ownCustomer, kind: VISIT, subject: \"x\", scheduledAt: \"2026-01-01T00:00:00Z\", productIds: [$id]}) { id } }",
    ),
    (
        "group",
        "query($id: ID!) { customers(filter: {groupId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "group",
        "mutation($id: ID!) { updateCustomerGroup(id: $id, name: \"x\") { id } }",
    ),
    ("group", "mutation($id: ID!) { deleteCustomerGroup(id: $id) }"),
    (
        "group",
        "query($id: ID!) { aggregate(fact: \"activities\", dimensions: [\"customer\"], measures: [\"count\"], filter: {groupId: $id}) { rows { keys values } } }",
    ),
    (
        "group",
        "query($id: ID!) { pipeline(groupId: $id) { stages { deals amount } stalled(days: 1) { totalCount } } }",
    ),
    (
        "group",
        "mutation($id: ID!) { createCustomer(input: {name: \"x\", groupId: $id}) { id } }",
    ),
    ("target", "mutation($id: ID!) { deleteTarget(id: $id) }"),
    (
        "webhook",
        "query($id: ID!) { webhookDeliveries(webhookId: $id) { totalCount nodes { id payload } } }",
    ),
    ("webhook", "mutation($id: ID!) { deleteWebhook(id: $id) { id } }"),
    (
        "webhook",
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
    ),
    (
        "webhook",
        "mutation($id: ID!) { updateWebhook(id: $id, input: {name: \"x\", url: \"https://x.example.com/\", events: [DEAL_WON]}) { id } }",
    ),
    (
        "delivery",
        "mutation($id: ID!) { retryWebhookDelivery(id: $id) { id } }",
    ),
    ("question", "query($id: ID!) { question(id: $id) { title } }"),
    (
        "customer",
        "query($id: ID!) { dealsCsv(filter: {customerId: $id}) { rows csv } }",
    ),
    (
        "customer",
        "query($id: ID!) { activitiesCsv(filter: {customerId: $id}) { rows csv } }",
    ),
    (
        "customer",
        "query($id: ID!) { tasksCsv(filter: {customerId: $id}) { rows csv } }",
    ),
    (
        "member",
        "query($id: ID!) { customersCsv(filter: {ownerId: $id}) { rows csv } }",
    ),
    (
        "question",
        "mutation($id: ID!) { answerQuestion(questionId: $id, body: \"x\") { id } }",
    ),
    (
        "question",
        "mutation($id: ID!) { acceptAnswer(questionId: $id) { id } }",
    ),
    (
        "question",
        "mutation($id: ID!) { updateQuestion(id: $id, input: {stage: \"hearing\", title: \"x\", body: \"y\"}) { id } }",
    ),
    ("question", "mutation($id: ID!) { deleteQuestion(id: $id) }"),
    (
        "question",
        "mutation($id: ID!) { follow(subjectType: QUESTION, subjectId: $id) }",
    ),
    ("answer", "mutation($id: ID!) { deleteAnswer(id: $id) }"),
    ("apikey", "mutation($id: ID!) { revokeApiKey(id: $id) { id } }"),
    (
        "apikey",
        "query($id: ID!) { auditLog(filter: {apiKeyId: $id}) { totalCount nodes { id } } }",
    ),
    ("team", "query($id: ID!) { team(id: $id) { id } }"),
    ("team", "query($id: ID!) { kpiReport(teamId: $id) { daysTotal } }"),
    (
        "team",
        "query($id: ID!) { kpiBreakdown(teamId: $id, by: MEMBER) { member { id } } }",
    ),
    (
        "member",
        "query($id: ID!) { kpiBreakdown(memberId: $id, by: DAY) { daysTotal } }",
    ),
    (
        "team",
        "query($id: ID!) { uncontactedCustomers(days: 1, teamId: $id) { totalCount } }",
    ),
    (
        "member",
        "query($id: ID!) { uncontactedCustomers(days: 1, ownerId: $id) { totalCount nodes { customer { id } } } }",
    ),
    ("member", "query($id: ID!) { kpiReport(memberId: $id) { daysTotal } }"),
    ("member", "query($id: ID!) { energy(memberId: $id) { points } }"),
    (
        "team",
        "query($id: ID!) { energyRanking(by: MEMBER, teamId: $id) { points member { id } } }",
    ),
    (
        "member",
        "query($id: ID!) { calendar(memberId: $id, from: \"2026-01-01\", to: \"2026-01-31\") { title } }",
    ),
    (
        "team",
        "query($id: ID!) { calendar(teamId: $id, from: \"2026-01-01\", to: \"2026-01-31\") { title } }",
    ),
    (
        "member",
        "query($id: ID!) { aggregate(fact: \"sales_records\", dimensions: [\"customer\"], measures: [\"sum:amount\"], filter: {memberId: $id}) { rows { keys values } } }",
    ),
    (
        "team",
        "query($id: ID!) { aggregate(fact: \"deals\", dimensions: [\"member\"], measures: [\"count\"], filter: {teamId: $id}) { rows { keys values } } }",
    ),
    (
        "member",
        "query($id: ID!) { forecast(memberId: $id) { landing history { landing } } }",
    ),
    (
        "team",
        "query($id: ID!) { forecast(teamId: $id) { landing members { landing } } }",
    ),
    (
        "team",
        "query($id: ID!) { pipeline(teamId: $id) { stages { deals amount } stalled(days: 1) { totalCount } } }",
    ),
    (
        "member",
        "query($id: ID!) { pipeline(ownerId: $id) { stages { deals amount } outcomes { lost } } }",
    ),
    (
        "team",
        "query($id: ID!) { members(filter: {teamId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "team",
        "query($id: ID!) { customers(filter: {teamId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "team",
        "mutation($id: ID!) { createTeam(input: {name: \"x\", parentId: $id}) { id } }",
    ),
    (
        "team",
        "mutation($id: ID!) { updateTeam(id: $id, input: {name: \"x\"}) { id } }",
    ),
    (
        "team",
        "mutation($id: ID!) { setTarget(input: {teamId: $id, periodKind: MONTH, periodStart: \"2026-01-01\", metric: \"x\", value: 1}) { id } }",
    ),
    (
        "team",
        "mutation($id: ID!) { createMember(input: {email: \"spy@beta.test\", name: \"x\", role: REP, teamId: $id}) { member { id } } }",
    ),
    ("member", "query($id: ID!) { member(id: $id) { id email } }"),
    (
        "member",
        "query($id: ID!) { customers(filter: {ownerId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "member",
        "query($id: ID!) { deals(filter: {ownerId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "member",
        "query($id: ID!) { deals(filter: {memberId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "member",
        "query($id: ID!) { activities(filter: {memberId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "member",
        "query($id: ID!) { tasks(filter: {assigneeId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "member",
        "query($id: ID!) { dailyReports(filter: {memberId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "member",
        "query($id: ID!) { targets(filter: {memberId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "member",
        "query($id: ID!) { auditLog(filter: {actorId: $id}) { totalCount nodes { id } } }",
    ),
    (
        "member",
        "mutation($id: ID!) { updateMember(input: {id: $id, name: \"x\"}) { id } }",
    ),
    ("member", "mutation($id: ID!) { deactivateMember(id: $id) { id } }"),
    (
        "member",
        "mutation($id: ID!) { resetMemberPassword(id: $id) { temporaryPassword } }",
    ),
    (
        "member",
        "mutation($id: ID!) { createTask(input: {title: \"x\", assigneeId: $id}) { id } }",
    ),
    (
        "member",
        "mutation($id: ID!) { createCustomer(input: {name: \"x\", ownerId: $id}) { id } }",
    ),
    (
        "member",
        "mutation($id: ID!) { setTarget(input: {memberId: $id, periodKind: MONTH, periodStart: \"2026-01-01\", metric: \"x\", value: 1}) { id } }",
    ),
    (
        "member",
        "mutation($id: ID!, $ownDeal: ID!) { addDealMember(dealId: $ownDeal, memberId: $id) { role } }",
    ),
    (
        "member",
        "mutation($id: ID!) { createTeam(input: {name: \"x\", managerId: $id}) { id } }",
    ),
];

/// A digest of company A's rows: count and latest change per table.
async fn snapshot(app: &TestApp, company: Uuid) -> Vec<(String, String)> {
    let backend = app.db.get_database_backend();
    let mut out = Vec::new();
    for table in [
        "customer",
        "contact",
        "deal",
        "deal_member",
        "deal_stage_history",
        "quote",
        "activity",
        "activity_contact",
        "activity_product",
        "daily_report",
        "task",
        "comment",
        "product",
        "customer_group",
        "target",
        "member",
        "team",
        "api_key",
        "touchpoint",
        "webhook",
        "webhook_delivery",
        "question",
        "answer",
    ] {
        let version = match table {
            "customer" | "contact" | "deal" | "quote" | "activity" | "daily_report" | "task" => "SUM(version)",
            _ => "0",
        };
        let sql = format!("SELECT COUNT(*) AS n, CAST({version} AS BIGINT) AS v FROM {table} WHERE company_id = $1");
        let sql = if backend == sea_orm::DbBackend::Sqlite {
            sql.replace("$1", "?")
        } else {
            sql
        };
        let row = app
            .db
            .query_one_raw(Statement::from_sql_and_values(backend, sql, [company.into()]))
            .await
            .expect("snapshot")
            .expect("row");
        let n: i64 = row.try_get("", "n").expect("n");
        let v: Option<i64> = row.try_get("", "v").unwrap_or(None);
        out.push((table.to_owned(), format!("{n}/{v:?}")));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn another_company_can_neither_see_nor_touch_anything() {
    let app = TestApp::spawn().await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let team: Uuid = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::team::Entity::find()
            .filter(entity::team::Column::CompanyId.eq(a.company_id))
            .one(&app.db)
            .await
            .expect("q")
            .expect("team")
            .id
    };
    let alpha = seed_alpha(&app, a.admin.member_id, a.rep.member_id, team).await;
    let before = snapshot(&app, a.company_id).await;
    let alpha_ids: Vec<String> = alpha.values().flatten().map(Uuid::to_string).collect();

    // B's own records, for attempts that mix B's and A's ids.
    let own_customer = crate::common::customer(&app, &b.rep, "beta customer").await;
    let (own_deal, _) = crate::common::deal(&app, &b.rep, &own_customer, "beta deal").await;
    let own = json!({"ownCustomer": own_customer, "ownDeal": own_deal, "ownMember": b.rep.member_id.to_string()});

    let mut attempts = 0;
    let mut problems = Vec::new();
    for caller in [&b.admin, &b.manager, &b.rep] {
        for (kind, doc) in ATTEMPTS {
            for id in alpha.get(kind).expect("kind seeded") {
                let missing = Uuid::now_v7();
                let mut vars = own.clone();
                vars["id"] = json!(id.to_string());
                let foreign = app.gql(Some(&caller.token), doc, vars.clone()).await;
                vars["id"] = json!(missing.to_string());
                let absent = app.gql(Some(&caller.token), doc, vars).await;
                attempts += 1;
                let f = foreign.to_string().replace(&id.to_string(), "ID");
                let m = absent.to_string().replace(&missing.to_string(), "ID");
                if f != m {
                    problems.push(format!(
                        "{doc} answers differently for A's id:\n  A: {f}\n  missing: {m}"
                    ));
                }
                if let Some(leak) = alpha_ids
                    .iter()
                    .find(|x| foreign.to_string().contains(x.as_str()) && **x != id.to_string())
                {
                    problems.push(format!("{doc} leaked {leak}"));
                }
                if foreign.to_string().contains("ALPHA") {
                    problems.push(format!("{doc} leaked A's data: {foreign}"));
                }
            }
        }
    }

    // Cursors taken from A's lists select nothing of A's in B's lists.
    for list in ["customers", "deals", "activities", "tasks", "contacts", "dailyReports"] {
        let q = format!(
            "query($after: String) {{ {list}(first: 2, after: $after) {{ nodes {{ id }} pageInfo {{ endCursor }} }} }}"
        );
        let mine = app.gql(Some(&a.admin.token), &q, json!({"after": null})).await;
        let cursor = mine["data"][list]["pageInfo"]["endCursor"].clone();
        assert!(cursor.is_string(), "{list}: {mine}");
        let theirs = app.gql(Some(&b.admin.token), &q, json!({"after": cursor})).await;
        attempts += 1;
        if alpha_ids.iter().any(|x| theirs.to_string().contains(x.as_str())) {
            problems.push(format!("cursor of A's {list} leaked: {theirs}"));
        }
    }

    assert!(attempts >= 1000, "only {attempts} attempts");
    assert!(
        problems.is_empty(),
        "{} problems in {attempts} attempts:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(snapshot(&app, a.company_id).await, before, "company A changed");
}
