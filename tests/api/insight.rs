//! Customer 360 and customer value, worked out by hand.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use entity::enums::{ActivityKind, ActivityStatus};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::json;
use uuid::Uuid;

use crate::common::{Tenant, TestApp, insert_customer};

async fn contact(app: &TestApp, t: &Tenant, customer: Uuid, name: &str, level: &str) -> Uuid {
    let now = Utc::now();
    entity::contact::ActiveModel {
        external_code: Set(None),
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        customer_id: Set(customer),
        name: Set(name.into()),
        level: Set(level.into()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("contact")
    .id
}

async fn product(app: &TestApp, t: &Tenant, name: &str, focus: bool) -> Uuid {
    let now = Utc::now();
    entity::product::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        name: Set(name.into()),
        is_focus: Set(focus),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("product")
    .id
}

#[allow(clippy::too_many_arguments)]
async fn activity(
    app: &TestApp,
    t: &Tenant,
    customer: Uuid,
    status: ActivityStatus,
    at: DateTime<Utc>,
    points: i32,
    deleted: bool,
    contacts: &[Uuid],
    products: &[Uuid],
) {
    let id = entity::activity::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        member_id: Set(t.rep.member_id),
        customer_id: Set(customer),
        kind: Set(ActivityKind::Visit),
        status: Set(status),
        subject: Set("fixture".into()),
        scheduled_at: Set(at),
        done_at: Set((status == ActivityStatus::Done).then_some(at)),
        attendee_count: Set(1),
        energy_points: Set(Some(points)),
        version: Set(1),
        created_at: Set(at),
        updated_at: Set(at),
        deleted_at: Set(deleted.then_some(at)),
        external_ref: Set(None),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("activity")
    .id;
    for c in contacts {
        entity::activity_contact::ActiveModel {
            activity_id: Set(id),
            contact_id: Set(*c),
            company_id: Set(t.company_id),
        }
        .insert(&app.db)
        .await
        .expect("met");
    }
    for p in products {
        entity::activity_product::ActiveModel {
            activity_id: Set(id),
            product_id: Set(*p),
            company_id: Set(t.company_id),
        }
        .insert(&app.db)
        .await
        .expect("proposed");
    }
}

async fn sale(app: &TestApp, t: &Tenant, customer: Uuid, product: Uuid, on: NaiveDate, amount: i64) {
    entity::sales_record::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        customer_id: Set(customer),
        product_id: Set(Some(product)),
        member_id: Set(Some(t.rep.member_id)),
        sold_on: Set(on),
        amount: Set(amount),
        gross_profit: Set(amount / 10),
        external_ref: Set(Uuid::now_v7().to_string()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("sale");
}

const C360: &str = "query($id: ID!, $months: Int) { customer360(id: $id) {
  customer { name }
  contactLevels { level { key name } contacts met lastMetAt }
  salesByMonth(months: $months) { month amount grossProfit }
  unproposedFocusProducts { name }
  value { lifetimeSales lifetimeGrossProfit salesRecords firstSaleOn lastSaleOn last12MonthsSales productsBought }
  crossSell { similarCustomers candidates { product { name } buyers share amount } }
  energy(weeks: 2) { points activities }
} }";

#[tokio::test(flavor = "multi_thread")]
async fn everything_about_a_customer_in_one_query() {
    let app = TestApp::spawn().await;
    let t = app.tenant("c360").await;
    let now = Utc::now();
    let group = entity::customer_group::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        name: Set("G".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("group")
    .id;
    let (rep, manager) = (t.rep.member_id, t.manager.member_id);
    let x = insert_customer(&app, t.company_id, rep, "X", false, Some(group)).await;
    let a = insert_customer(&app, t.company_id, manager, "A", false, Some(group)).await;
    let b = insert_customer(&app, t.company_id, rep, "B", false, Some(group)).await;
    let w = insert_customer(&app, t.company_id, rep, "W", false, None).await;

    // Contacts: two staff (one met), a manager met twice, an intern (a level the process lacks).
    let staff_met = contact(&app, &t, x, "s1", "staff").await;
    let staff_unmet = contact(&app, &t, x, "s2", "staff").await;
    let boss = contact(&app, &t, x, "m1", "manager").await;
    contact(&app, &t, x, "i1", "intern").await;
    let (f1, f2, f3) = (
        product(&app, &t, "F1", true).await,
        product(&app, &t, "F2", true).await,
        product(&app, &t, "F3", true).await,
    );
    let plain = product(&app, &t, "Plain", false).await;
    let (done, planned) = (ActivityStatus::Done, ActivityStatus::Planned);
    let (t1, t2) = (
        (now - Duration::days(3)).with_timezone(&Utc),
        (now - Duration::days(1)).with_timezone(&Utc),
    );
    let t1 = t1 - Duration::nanoseconds(i64::from(t1.timestamp_subsec_nanos()));
    let t2 = t2 - Duration::nanoseconds(i64::from(t2.timestamp_subsec_nanos()));
    activity(&app, &t, x, done, t1, 5, false, &[staff_met, boss], &[f1, plain]).await;
    activity(&app, &t, x, done, t2, 7, false, &[boss], &[]).await;
    // Planned and deleted ones neither meet nor propose.
    activity(&app, &t, x, planned, t2, 0, false, &[staff_unmet], &[f2]).await;
    activity(&app, &t, x, done, t2, 0, true, &[staff_unmet], &[f3]).await;
    // A proposal to another customer does not count for X.
    activity(&app, &t, a, done, t2, 1, false, &[], &[f2]).await;

    // Sales: this month, last month, and thirteen months ago.
    let today = now.date_naive();
    let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).expect("month");
    let last_month = this_month - Months::new(1);
    let long_ago = this_month - Months::new(13);
    let (p1, p2, p3, p4) = (
        product(&app, &t, "P1", false).await,
        product(&app, &t, "P2", false).await,
        product(&app, &t, "P3", false).await,
        product(&app, &t, "P4", false).await,
    );
    sale(&app, &t, x, p1, this_month, 100).await;
    sale(&app, &t, x, p1, last_month + Duration::days(14), 200).await;
    sale(&app, &t, x, p2, long_ago, 1000).await;
    // The group's other customers: P3 bought by both, P4 by one; P1 X already has.
    sale(&app, &t, a, p3, last_month, 500).await;
    sale(&app, &t, a, p1, last_month, 50).await;
    sale(&app, &t, b, p3, last_month, 300).await;
    sale(&app, &t, b, p4, last_month, 10).await;
    sale(&app, &t, w, p4, last_month, 10_000).await;

    let c = app.ok(&t.rep, C360, json!({"id": x, "months": 3})).await["customer360"].clone();
    assert_eq!(c["customer"]["name"], "X");
    assert_eq!(
        c["contactLevels"],
        json!([
            {"level": {"key": "staff", "name": "担当者"}, "contacts": 2, "met": 1, "lastMetAt": t1.to_rfc3339()},
            {"level": {"key": "manager", "name": "管理職"}, "contacts": 1, "met": 1, "lastMetAt": t2.to_rfc3339()},
            {"level": {"key": "executive", "name": "経営層"}, "contacts": 0, "met": 0, "lastMetAt": null},
            {"level": {"key": "intern", "name": "intern"}, "contacts": 1, "met": 0, "lastMetAt": null},
        ])
    );
    assert_eq!(
        c["salesByMonth"],
        json!([
            {"month": (this_month - Months::new(2)).to_string(), "amount": 0, "grossProfit": 0},
            {"month": last_month.to_string(), "amount": 200, "grossProfit": 20},
            {"month": this_month.to_string(), "amount": 100, "grossProfit": 10},
        ])
    );
    assert_eq!(c["unproposedFocusProducts"], json!([{"name": "F2"}, {"name": "F3"}]));
    assert_eq!(
        c["value"],
        json!({"lifetimeSales": 1300, "lifetimeGrossProfit": 130, "salesRecords": 3,
               "firstSaleOn": long_ago.to_string(), "lastSaleOn": this_month.to_string(),
               "last12MonthsSales": 300, "productsBought": 2})
    );
    assert_eq!(
        c["crossSell"],
        json!({"similarCustomers": 2, "candidates": [
            {"product": {"name": "P3"}, "buyers": 2, "share": 1.0, "amount": 800},
            {"product": {"name": "P4"}, "buyers": 1, "share": 0.5, "amount": 10},
        ]})
    );
    assert_eq!(c["energy"], json!({"points": 12, "activities": 2}));

    // A customer in no group and of no industry has no peers.
    let lonely = app.ok(&t.rep, C360, json!({"id": w})).await["customer360"]["crossSell"].clone();
    assert_eq!(lonely, json!({"similarCustomers": 0, "candidates": []}));
    let other = app.tenant("c360-other").await;
    assert_eq!(app.err(&other.admin, C360, json!({"id": x})).await, "NOT_FOUND");
    assert_eq!(
        app.err(&t.rep, C360, json!({"id": x, "months": 0})).await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_history_comes_from_the_audit_log() {
    let app = TestApp::spawn().await;
    let t = app.tenant("owners").await;
    let created = app
        .ok(
            &t.admin,
            "mutation($o: ID!) { createCustomer(input: {name: \"O\", ownerId: $o}) { id version } }",
            json!({"o": t.rep.member_id}),
        )
        .await["createCustomer"]
        .clone();
    let id = created["id"].as_str().expect("id").to_string();
    app.ok(
        &t.admin,
        "mutation($id: ID!, $v: Int!) { updateCustomer(input: {id: $id, version: $v, name: \"O2\"}) { version } }",
        json!({"id": id, "v": created["version"]}),
    )
    .await;
    app.ok(
        &t.manager,
        "mutation($id: ID!, $o: ID!) { updateCustomer(input: {id: $id, version: 2, ownerId: $o}) { version } }",
        json!({"id": id, "o": t.manager.member_id}),
    )
    .await;
    let q = "query($id: ID!) { customer360(id: $id) { ownerHistory { from { id } to { id } by { id } } } }";
    let history = app.ok(&t.manager, q, json!({"id": id})).await["customer360"]["ownerHistory"].clone();
    assert_eq!(
        history,
        json!([
            {"from": null, "to": {"id": t.rep.member_id}, "by": {"id": t.admin.member_id}},
            {"from": {"id": t.rep.member_id}, "to": {"id": t.manager.member_id}, "by": {"id": t.manager.member_id}},
        ]),
        "the rename is not an owner change"
    );
}
