//! The manager's views. Every expected figure is counted by hand from the fixture.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use entity::enums::{ActivityKind, ActivityStatus, DealStatus};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::json;
use uuid::Uuid;

use crate::common::{Tenant, TestApp, insert_customer};

async fn customer(app: &TestApp, t: &Tenant, name: &str, owner: Uuid, priority: bool, group: Option<Uuid>) -> Uuid {
    insert_customer(app, t.company_id, owner, name, priority, group).await
}

/// An activity of the rep `days_ago` days ago (negative: in the future).
async fn activity(
    app: &TestApp,
    t: &Tenant,
    customer: Uuid,
    days_ago: i64,
    status: ActivityStatus,
    deal: Option<Uuid>,
    deleted: bool,
) -> DateTime<Utc> {
    let when = (Utc::now() - Duration::days(days_ago)).trunc_subsecs(6);
    entity::activity::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        member_id: Set(t.rep.member_id),
        customer_id: Set(customer),
        deal_id: Set(deal),
        kind: Set(ActivityKind::Visit),
        status: Set(status),
        subject: Set("fixture".into()),
        scheduled_at: Set(when),
        done_at: Set((status == ActivityStatus::Done).then_some(when)),
        attendee_count: Set(1),
        energy_points: Set((status == ActivityStatus::Done).then_some(5)),
        version: Set(1),
        created_at: Set(when),
        updated_at: Set(when),
        deleted_at: Set(deleted.then_some(when)),
        external_ref: Set(None),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("activity");
    when
}

#[tokio::test(flavor = "multi_thread")]
async fn uncontacted_customers_priority_first_never_contacted_first() {
    let app = TestApp::spawn().await;
    let t = app.tenant("quiet").await;
    let now = Utc::now();
    let group = entity::customer_group::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        name: Set("Kanto".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("group")
    .id;
    let (rep, manager) = (t.rep.member_id, t.manager.member_id);
    let done = ActivityStatus::Done;

    // A: a priority customer last seen 40 days ago, with an open deal worked on then.
    let a = customer(&app, &t, "A", rep, true, None).await;
    let deal = entity::deal::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        customer_id: Set(a),
        owner_id: Set(rep),
        name: Set("A deal".into()),
        stage: Set("hearing".into()),
        stage_entered_at: Set(now),
        amount: Set(Some(1_000)),
        status: Set(DealStatus::Open),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("deal")
    .id;
    let a_last = activity(&app, &t, a, 40, done, Some(deal), false).await;
    activity(&app, &t, a, 45, done, None, false).await;
    // B: never contacted.
    let b = customer(&app, &t, "B", rep, false, None).await;
    // C: seen 10 days ago.
    let c = customer(&app, &t, "C", rep, false, None).await;
    activity(&app, &t, c, 10, done, None, false).await;
    // D: seen 50 days ago; a deleted visit 5 days ago and a planned one next week do not count.
    let d = customer(&app, &t, "D", rep, false, None).await;
    let d_last = activity(&app, &t, d, 50, done, None, false).await;
    activity(&app, &t, d, 5, done, None, true).await;
    activity(&app, &t, d, -7, ActivityStatus::Planned, None, false).await;
    // E: deleted, never contacted.
    let e = customer(&app, &t, "E", rep, false, None).await;
    entity::customer::ActiveModel {
        id: Set(e),
        deleted_at: Set(Some(now)),
        external_code: Set(None),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .expect("delete");
    // F: the manager's priority customer in group Kanto, never contacted.
    let f = customer(&app, &t, "F", manager, true, Some(group)).await;

    let q = "query($days: Int!, $owner: ID, $prio: Boolean, $first: Int, $offset: Int) {
      uncontactedCustomers(days: $days, ownerId: $owner, priorityOnly: $prio, first: $first, offset: $offset) {
        days totalCount
        groups { group { name } owner { id } count priorityCount }
        nodes { customer { id name } lastContactAt daysSinceContact openDeals openDealsAmount openDealsEnergy }
      } }";
    let report = app.ok(&t.manager, q, json!({"days": 30})).await["uncontactedCustomers"].clone();
    let names: Vec<&str> = report["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["customer"]["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["F", "A", "B", "D"],
        "priority first, never contacted first, then the oldest"
    );
    assert_eq!(report["totalCount"], 4);
    let node = |i: usize| report["nodes"][i].clone();
    assert_eq!(
        node(1),
        json!({"customer": {"id": a, "name": "A"}, "lastContactAt": a_last.to_rfc3339(), "daysSinceContact": 40,
               "openDeals": 1, "openDealsAmount": 1000, "openDealsEnergy": 5})
    );
    assert_eq!(node(0)["customer"]["id"], json!(f));
    assert_eq!(node(0)["lastContactAt"], json!(null));
    assert_eq!(node(0)["daysSinceContact"], json!(null));
    assert_eq!(node(3)["lastContactAt"], json!(d_last.to_rfc3339()));
    assert_eq!(
        (&node(2)["customer"]["id"], &node(2)["openDeals"]),
        (&json!(b), &json!(0))
    );
    assert_eq!(
        report["groups"],
        json!([
            {"group": {"name": "Kanto"}, "owner": {"id": manager}, "count": 1, "priorityCount": 1},
            {"group": null, "owner": {"id": rep}, "count": 3, "priorityCount": 1},
        ])
    );

    // Filters and paging.
    let page = app.ok(&t.rep, q, json!({"days": 30, "first": 1, "offset": 1})).await;
    assert_eq!(page["uncontactedCustomers"]["totalCount"], 4);
    assert_eq!(page["uncontactedCustomers"]["nodes"][0]["customer"]["name"], "A");
    let mine = app.ok(&t.rep, q, json!({"days": 30, "owner": rep})).await;
    assert_eq!(mine["uncontactedCustomers"]["totalCount"], 3);
    let priority = app.ok(&t.rep, q, json!({"days": 30, "prio": true})).await;
    assert_eq!(priority["uncontactedCustomers"]["totalCount"], 2);
    // Over 42 days, A (seen 40 days ago) is contacted; over 60, D too.
    let longer = app.ok(&t.rep, q, json!({"days": 42})).await;
    assert_eq!(longer["uncontactedCustomers"]["totalCount"], 3);
    let longest = app.ok(&t.rep, q, json!({"days": 60})).await;
    assert_eq!(longest["uncontactedCustomers"]["totalCount"], 2);
    assert_eq!(app.err(&t.rep, q, json!({"days": 0})).await, "BAD_USER_INPUT");

    // Another company's view holds none of these.
    let other = app.tenant("loud").await;
    let theirs = app.ok(&other.admin, q, json!({"days": 30})).await;
    assert_eq!(theirs["uncontactedCustomers"]["totalCount"], 0);
}

/// An activity for the calendar: scheduled at `at`, done at `done` if given.
#[allow(clippy::too_many_arguments)]
async fn event(
    app: &TestApp,
    t: &Tenant,
    member: Uuid,
    customer: Uuid,
    deal: Option<Uuid>,
    title: &str,
    status: ActivityStatus,
    at: &str,
    done: Option<&str>,
    duration: Option<i32>,
    deleted: bool,
) {
    let at: DateTime<Utc> = at.parse().expect("at");
    entity::activity::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        member_id: Set(member),
        customer_id: Set(customer),
        deal_id: Set(deal),
        kind: Set(ActivityKind::Visit),
        status: Set(status),
        subject: Set(title.into()),
        scheduled_at: Set(at),
        done_at: Set(done.map(|d| d.parse().expect("done"))),
        duration_minutes: Set(duration),
        attendee_count: Set(1),
        version: Set(1),
        created_at: Set(at),
        updated_at: Set(at),
        deleted_at: Set(deleted.then_some(at)),
        external_ref: Set(None),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("activity");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_calendar_of_planned_and_done_activities_in_the_companys_days() {
    let app = TestApp::spawn().await;
    let t = app.tenant("calendar").await;
    app.ok(
        &t.admin,
        "mutation { updateCompanySettings(timeZone: \"Asia/Tokyo\") { timeZone } }",
        json!({}),
    )
    .await;
    let (rep, manager) = (t.rep.member_id, t.manager.member_id);
    let vip = customer(&app, &t, "VIP", rep, true, None).await;
    let plain = customer(&app, &t, "Plain", rep, false, None).await;
    let key = crate::common::DealFixture {
        customer: vip,
        owner: rep,
        amount: Some(1),
        moves: &[("proposal", "2026-10-01T00:00:00Z")],
        ..Default::default()
    }
    .insert(&app, t.company_id)
    .await;
    let early = crate::common::DealFixture {
        customer: plain,
        owner: rep,
        moves: &[("hearing", "2026-10-01T00:00:00Z")],
        ..Default::default()
    }
    .insert(&app, t.company_id)
    .await;
    let (planned, done, cancelled) = (ActivityStatus::Planned, ActivityStatus::Done, ActivityStatus::Cancelled);
    // Nov 2nd 08:30 in Tokyo, an hour long, at the priority customer on a deal in proposal.
    event(
        &app,
        &t,
        rep,
        vip,
        Some(key),
        "e1",
        planned,
        "2026-11-01T23:30:00Z",
        None,
        Some(60),
        false,
    )
    .await;
    // Done an hour after its slot, on a deal in hearing (20 %): not a key deal.
    let done_at = Some("2026-11-02T02:00:00Z");
    event(
        &app,
        &t,
        rep,
        plain,
        Some(early),
        "e2",
        done,
        "2026-11-02T01:00:00Z",
        done_at,
        None,
        false,
    )
    .await;
    event(
        &app,
        &t,
        rep,
        plain,
        None,
        "e3",
        cancelled,
        "2026-11-02T03:00:00Z",
        None,
        None,
        false,
    )
    .await;
    // Nov 3rd 00:30 in Tokyo: outside; Nov 1st 00:30 in Tokyo: inside.
    event(
        &app,
        &t,
        rep,
        plain,
        None,
        "e4",
        planned,
        "2026-11-02T15:30:00Z",
        None,
        None,
        false,
    )
    .await;
    event(
        &app,
        &t,
        rep,
        plain,
        None,
        "e5",
        planned,
        "2026-10-31T15:30:00Z",
        None,
        None,
        false,
    )
    .await;
    event(
        &app,
        &t,
        rep,
        plain,
        None,
        "e6",
        planned,
        "2026-11-01T03:00:00Z",
        None,
        None,
        true,
    )
    .await;
    // Planned in October, done on Nov 1st: on the day it was done.
    let late = Some("2026-11-01T05:00:00Z");
    event(
        &app,
        &t,
        rep,
        plain,
        None,
        "e7",
        done,
        "2026-10-20T01:00:00Z",
        late,
        None,
        false,
    )
    .await;
    event(
        &app,
        &t,
        manager,
        plain,
        None,
        "m1",
        planned,
        "2026-11-01T03:00:00Z",
        None,
        None,
        false,
    )
    .await;

    let q = "query($m: ID, $t: ID, $from: Date!, $to: Date!, $c: Boolean) {
      calendar(memberId: $m, teamId: $t, from: $from, to: $to, includeCancelled: $c) {
        title day start end status priorityCustomer keyDeal activity { member { id } } } }";
    let days = json!({"from": "2026-11-01", "to": "2026-11-02"});
    let mine = app.ok(&t.rep, q, days.clone()).await["calendar"].clone();
    let titles: Vec<&str> = mine
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["title"].as_str())
        .collect();
    assert_eq!(titles, ["e5", "e7", "e1", "e2"]);
    assert_eq!(
        mine[2],
        json!({"title": "e1", "day": "2026-11-02", "start": "2026-11-01T23:30:00+00:00", "end": "2026-11-02T00:30:00+00:00",
               "status": "PLANNED", "priorityCustomer": true, "keyDeal": true, "activity": {"member": {"id": rep}}})
    );
    assert_eq!(
        (&mine[3]["start"], &mine[3]["keyDeal"], &mine[3]["priorityCustomer"]),
        (&json!("2026-11-02T02:00:00+00:00"), &json!(false), &json!(false))
    );
    assert_eq!(
        (&mine[0]["day"], &mine[1]["day"]),
        (&json!("2026-11-01"), &json!("2026-11-01"))
    );

    let with_cancelled = app
        .ok(&t.rep, q, json!({"from": "2026-11-01", "to": "2026-11-02", "c": true}))
        .await;
    assert_eq!(with_cancelled["calendar"].as_array().map(Vec::len), Some(5));
    let team_id = app.ok(&t.manager, "{ me { team { id } } }", json!({})).await["me"]["team"]["id"].clone();
    let team = app
        .ok(
            &t.manager,
            q,
            json!({"t": team_id, "from": "2026-11-01", "to": "2026-11-02"}),
        )
        .await;
    assert_eq!(
        team["calendar"].as_array().map(Vec::len),
        Some(5),
        "the manager's own m1 too"
    );
    assert_eq!(
        app.err(
            &t.rep,
            q,
            json!({"t": team_id, "from": "2026-11-01", "to": "2026-11-02"})
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.err(&t.rep, q, json!({"from": "2026-01-01", "to": "2026-12-31"}))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(&t.rep, q, json!({"from": "2026-11-02", "to": "2026-11-01"}))
            .await,
        "BAD_USER_INPUT"
    );
    // Chrono's last dates: refused as input, never an overflow.
    let edge = json!({"from": "+262142-12-30", "to": "+262142-12-31"});
    assert_eq!(app.err(&t.rep, q, edge).await, "BAD_USER_INPUT");
}
