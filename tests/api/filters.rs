use serde_json::{Value, json};

use crate::common::{TestApp, customer};

fn names(v: &Value) -> Vec<&str> {
    v["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["name"].as_str().unwrap_or(""))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_search_and_nulls_last_ordering() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    // A team tree: Sales > East; the rep is in East.
    let team =
        "mutation($n: String!, $p: ID, $m: ID) { createTeam(input: {name: $n, parentId: $p, managerId: $m}) { id } }";
    let sales = app
        .ok(
            &t.admin,
            team,
            json!({"n": "Sales", "m": t.manager.member_id.to_string()}),
        )
        .await["createTeam"]["id"]
        .clone();
    let east = app.ok(&t.admin, team, json!({"n": "East", "p": sales})).await["createTeam"]["id"].clone();
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let east_id = uuid::Uuid::parse_str(east.as_str().expect("id")).expect("uuid");
    entity::member::Entity::update_many()
        .col_expr(entity::member::Column::TeamId, Expr::value(east_id))
        .filter(entity::member::Column::Id.eq(t.rep.member_id))
        .exec(&app.db)
        .await
        .expect("move rep");

    let a = customer(&app, &t.rep, "100% Natural").await;
    let b = customer(&app, &t.rep, "Alpha Foods").await;
    let _c = customer(&app, &t.admin, "Beta Steel").await;

    let q = "query($f: CustomerFilter, $o: CustomerOrder) { customers(filter: $f, orderBy: $o) { totalCount nodes { name } } }";
    let found = app.ok(&t.rep, q, json!({"f": {"search": "0% n"}})).await;
    assert_eq!(
        names(&found["customers"]),
        vec!["100% Natural"],
        "% is literal, case-insensitive"
    );
    let found = app.ok(&t.rep, q, json!({"f": {"search": "%"}})).await;
    assert_eq!(found["customers"]["totalCount"], 1);
    let in_sales = app.ok(&t.manager, q, json!({"f": {"teamId": sales}})).await;
    assert_eq!(
        names(&in_sales["customers"]),
        vec!["100% Natural", "Alpha Foods"],
        "team subtree"
    );

    // Contact one customer; never-contacted ones count as "not contacted since".
    app.ok(&t.rep, "mutation($c: ID!) { createActivity(input: {customerId: $c, kind: CALL, subject: \"c\", scheduledAt: \"2026-11-02T00:00:00Z\"}) { id } }", json!({"c": b})).await;
    let stale = app
        .ok(&t.rep, q, json!({"f": {"lastContactBefore": "2026-11-01T00:00:00Z"}}))
        .await;
    assert_eq!(names(&stale["customers"]), vec!["100% Natural", "Beta Steel"]);
    let by_contact = app
        .ok(
            &t.rep,
            q,
            json!({"o": {"field": "LAST_CONTACT_AT", "direction": "ASC"}}),
        )
        .await;
    assert_eq!(
        names(&by_contact["customers"])[0],
        "Alpha Foods",
        "never-contacted customers last"
    );

    // Deals: amount order with unknown amounts last, walked page by page.
    let mk = "mutation($c: ID!, $n: String!, $a: Money, $s: String!) { createDeal(input: {customerId: $c, name: $n, stage: $s, amount: $a}) { id } }";
    for (n, amount, stage) in [
        ("d1", json!(500), "proposal"),
        ("d2", Value::Null, "hearing"),
        ("d3", json!(900), "proposal"),
        ("d4", Value::Null, "proposal"),
        ("d5", json!(100), "hearing"),
    ] {
        app.ok(&t.rep, mk, json!({"c": a, "n": n, "a": amount, "s": stage}))
            .await;
    }
    let page = "query($after: String) { deals(first: 2, after: $after, orderBy: {field: AMOUNT, direction: DESC}) { pageInfo { hasNextPage endCursor } nodes { name amount } } }";
    let mut order = Vec::new();
    let mut after = Value::Null;
    loop {
        let p = app.ok(&t.rep, page, json!({"after": after})).await["deals"].clone();
        order.extend(
            p["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .map(|n| n["name"].as_str().unwrap_or("").to_owned()),
        );
        if p["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = p["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(&order[..3], &["d3", "d1", "d5"]);
    assert_eq!(order.len(), 5, "every deal exactly once: {order:?}");
    let asc = app
        .ok(
            &t.rep,
            "{ deals(orderBy: {field: AMOUNT}) { nodes { name } } }",
            json!({}),
        )
        .await;
    let asc = names(&asc["deals"]);
    assert_eq!(&asc[..3], &["d5", "d1", "d3"], "unknown amounts last ascending too");

    let staged = app
        .ok(
            &t.rep,
            "{ deals(filter: {stages: [\"hearing\"]}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(staged["deals"]["totalCount"], 2);
    let mine = app
        .ok(
            &t.manager,
            "query($m: ID!) { deals(filter: {memberId: $m}) { totalCount } }",
            json!({"m": t.rep.member_id.to_string()}),
        )
        .await;
    assert_eq!(mine["deals"]["totalCount"], 5);
    let team_acts = app.ok(&t.manager, "query($t: ID!) { activities(filter: {teamId: $t, from: \"2026-11-01T00:00:00Z\", to: \"2026-11-03T00:00:00Z\"}) { totalCount } }", json!({"t": sales})).await;
    assert_eq!(team_acts["activities"]["totalCount"], 1);

    // Tasks by deadline: undated last.
    for (title, due) in [
        ("later", json!("2030-01-01")),
        ("undated", Value::Null),
        ("soon", json!("2029-01-01")),
    ] {
        app.ok(
            &t.rep,
            "mutation($t: String!, $d: Date) { createTask(input: {title: $t, dueDate: $d}) { id } }",
            json!({"t": title, "d": due}),
        )
        .await;
    }
    let tasks = app.ok(&t.rep, "{ tasks { nodes { title } } }", json!({})).await;
    let titles: Vec<_> = tasks["tasks"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["title"].clone())
        .collect();
    assert_eq!(titles, vec![json!("soon"), json!("later"), json!("undated")]);
}
