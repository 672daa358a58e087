use serde_json::json;

use crate::common::{TestApp, customer, deal};

#[tokio::test(flavor = "multi_thread")]
async fn two_updates_from_one_version_one_wins() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let cust = customer(&app, &t.rep, "ACME").await;
    let (id, version) = deal(&app, &t.rep, &cust, "Big deal").await;
    let audits = app.rows("audit_log").await;

    let q = "mutation($id: ID!, $v: Int!, $n: String!) { updateDeal(input: {id: $id, version: $v, name: $n}) { name version } }";
    let (a, b) = tokio::join!(
        app.gql(Some(&t.rep.token), q, json!({"id": id, "v": version, "n": "by rep"})),
        app.gql(
            Some(&t.manager.token),
            q,
            json!({"id": id, "v": version, "n": "by manager"})
        ),
    );
    let outcomes = [&a, &b];
    let winners: Vec<_> = outcomes.iter().filter(|r| r.get("errors").is_none()).collect();
    let losers: Vec<_> = outcomes.iter().filter(|r| r.get("errors").is_some()).collect();
    assert_eq!(winners.len(), 1, "exactly one winner: {a:#} {b:#}");
    assert_eq!(crate::common::error_code(losers[0]), "CONFLICT");
    let winner_name = winners[0]["data"]["updateDeal"]["name"].clone();

    let now = app
        .ok(
            &t.rep,
            "query($id: ID!) { deal(id: $id) { name version } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(now["deal"]["name"], winner_name);
    assert_eq!(now["deal"]["version"], version + 1);
    assert_eq!(app.rows("audit_log").await, audits + 1, "only the winner is audited");

    // A stale version keeps failing and changes nothing.
    let stale = app
        .gql(Some(&t.rep.token), q, json!({"id": id, "v": version, "n": "late"}))
        .await;
    assert_eq!(crate::common::error_code(&stale), "CONFLICT");
}

#[tokio::test(flavor = "multi_thread")]
async fn stage_moves_are_recorded_and_closing_checks_reasons() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let cust = customer(&app, &t.rep, "ACME").await;
    let (id, v) = deal(&app, &t.rep, &cust, "Deal").await;
    let mv = "mutation($id: ID!, $v: Int!, $s: String!) { moveDealStage(id: $id, version: $v, stage: $s) { stage version } }";
    let moved = app.ok(&t.rep, mv, json!({"id": id, "v": v, "s": "proposal"})).await;
    assert_eq!(moved["moveDealStage"]["stage"], "proposal");
    assert_eq!(
        app.err(&t.rep, mv, json!({"id": id, "v": v + 1, "s": "proposal"}))
            .await,
        "BAD_USER_INPUT"
    );

    let close = "mutation($id: ID!, $v: Int!, $o: DealStatus!, $r: String) { closeDeal(id: $id, version: $v, outcome: $o, lostReason: $r, stage: \"lost\") { status lostReason version } }";
    assert_eq!(
        app.err(&t.rep, close, json!({"id": id, "v": v + 1, "o": "LOST"})).await,
        "BAD_USER_INPUT"
    );
    let lost = app
        .ok(&t.rep, close, json!({"id": id, "v": v + 1, "o": "LOST", "r": "price"}))
        .await;
    assert_eq!(lost["closeDeal"]["status"], "LOST");
    assert_eq!(
        app.err(&t.rep, mv, json!({"id": id, "v": v + 2, "s": "proposal"}))
            .await,
        "BAD_USER_INPUT"
    );

    let history = app
        .ok(&t.manager, "query($id: ID!) { deal(id: $id) { stageHistory { totalCount nodes { fromStage toStage changedBy { id } } } members { member { id } } } }", json!({"id": id}))
        .await;
    let nodes = history["deal"]["stageHistory"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    let path: Vec<_> = nodes
        .iter()
        .map(|n| (n["fromStage"].clone(), n["toStage"].clone()))
        .collect();
    assert_eq!(
        path,
        vec![
            (json!("proposal"), json!("lost")),
            (json!("hearing"), json!("proposal")),
            (json!(null), json!("hearing"))
        ]
    );
    assert_eq!(history["deal"]["stageHistory"]["totalCount"], 3);
    assert_eq!(
        history["deal"]["members"][0]["member"]["id"],
        t.rep.member_id.to_string(),
        "owner is a deal member"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn quality_indicators_are_written_by_the_maintainer_only() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let cust = customer(&app, &t.rep, "ACME").await;
    let (id, _) = deal(&app, &t.rep, &cust, "Deal").await;
    let set = "mutation($id: ID!, $k: String!, $c: Boolean!) { setDealQuality(dealId: $id, indicator: $k, checked: $c) { indicator checked changedBy { id } } }";
    let who = "query($id: ID!) { deal(id: $id) { qualityMaintainer { id } quality { indicator checked } } }";

    // By default the owner's team manager maintains the indicators.
    let d = app.ok(&t.rep, who, json!({"id": id})).await;
    assert_eq!(d["deal"]["qualityMaintainer"]["id"], t.manager.member_id.to_string());
    assert_eq!(
        app.err(&t.rep, set, json!({"id": id, "k": "referral", "c": true}))
            .await,
        "FORBIDDEN"
    );
    let done = app
        .ok(&t.manager, set, json!({"id": id, "k": "referral", "c": true}))
        .await;
    assert_eq!(
        done["setDealQuality"]["changedBy"]["id"],
        t.manager.member_id.to_string()
    );

    // The manager hands the job to the rep.
    let assign = "mutation($id: ID!, $m: ID) { assignQualityMaintainer(dealId: $id, memberId: $m) { qualityMaintainer { id } } }";
    assert_eq!(
        app.err(&t.rep, assign, json!({"id": id, "m": t.rep.member_id.to_string()}))
            .await,
        "FORBIDDEN"
    );
    app.ok(&t.manager, assign, json!({"id": id, "m": t.rep.member_id.to_string()}))
        .await;
    assert_eq!(
        app.err(&t.manager, set, json!({"id": id, "k": "empathy", "c": true}))
            .await,
        "FORBIDDEN"
    );
    for k in ["empathy", "budget", "decision_maker", "timeline"] {
        app.ok(&t.rep, set, json!({"id": id, "k": k, "c": true})).await;
    }
    app.ok(&t.rep, set, json!({"id": id, "k": "referral", "c": false}))
        .await;
    assert_eq!(
        app.err(&t.rep, set, json!({"id": id, "k": "sixth", "c": true})).await,
        "BAD_USER_INPUT",
        "five at most"
    );
    let d = app.ok(&t.rep, who, json!({"id": id})).await;
    assert_eq!(d["deal"]["quality"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        d["deal"]["quality"][3],
        json!({"indicator": "referral", "checked": false})
    );
    let back = app.ok(&t.manager, assign, json!({"id": id, "m": null})).await;
    assert_eq!(
        back["assignQualityMaintainer"]["qualityMaintainer"]["id"],
        t.manager.member_id.to_string()
    );
}

/// The deal read rule decided in memory (live subscriptions) agrees with the
/// SQL rule (everything else), for every kind of reader.
#[tokio::test]
async fn the_in_memory_deal_rule_agrees_with_the_sql_rule() {
    use entity::enums::Role;
    use sfa::service::{self, access};

    let app = TestApp::spawn().await;
    let t = app.tenant("rule").await;
    let admin = crate::common::actor_of(&app, t.admin.member_id).await;
    let mut people = vec![t.admin.member_id, t.manager.member_id, t.rep.member_id];
    for (i, role) in [Role::Rep, Role::Rep, Role::Rep, Role::Manager].into_iter().enumerate() {
        let f = service::members::NewMember {
            email: format!("p{i}@rule.test"),
            name: format!("p{i}"),
            role,
            team_id: None,
            password: Some("rule-password-1".into()),
        };
        people.push(service::members::create(&app.db, &admin, f).await.unwrap().0.id);
    }
    // p0's customer; deals owned by the team's rep, one with p1 as a member.
    let p0 = crate::common::actor_of(&app, people[3]).await;
    let rep = crate::common::actor_of(&app, t.rep.member_id).await;
    let theirs = service::customer::create(&app.db, &p0, service::customer::NewCustomer::named("p0's"))
        .await
        .unwrap();
    let ours = service::customer::create(&app.db, &rep, service::customer::NewCustomer::named("ours"))
        .await
        .unwrap();
    let mut deals = Vec::new();
    for c in [theirs.id, ours.id] {
        let d = service::deal::create(&app.db, &rep, service::deal::NewDeal::new(c, "d", "hearing"))
            .await
            .unwrap();
        deals.push(d.id);
    }
    service::deal::add_member(&app.db, &rep, deals[1], people[4], None)
        .await
        .unwrap();
    let mut checked = 0;
    for who in &people {
        let reader = crate::common::actor_of(&app, *who).await;
        for d in &deals {
            let sql = access::find_readable::<entity::deal::Entity>(&app.db, &reader, *d, None)
                .await
                .is_ok();
            let facts = access::deal_facts(&app.db, reader.company_id, *d)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(access::may_read_deal(&reader, &facts), sql, "reader {who}, deal {d}");
            checked += usize::from(sql);
        }
    }
    // Both outcomes occur: admin, manager, rep, p0 (one), p1 (one) read; p2, p3 do not.
    assert!(checked > 0 && checked < people.len() * deals.len(), "{checked}");
}
