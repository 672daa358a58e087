use serde_json::{Value, json};

use crate::common::TestApp;

fn names(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn cursors_walk_forward_and_back() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    for i in 0..7 {
        // Two customers share each name, so ties are broken by id.
        let name = format!("Customer {}", i / 2);
        app.ok(
            &t.rep,
            "mutation($n: String!) { createCustomer(input: {name: $n}) { id } }",
            json!({"n": name}),
        )
        .await;
    }
    let q = "query($f: Int, $a: String, $l: Int, $b: String) { customers(first: $f, after: $a, last: $l, before: $b) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { name } } } }";
    let all = app.ok(&t.rep, q, json!({"f": 100})).await["customers"].clone();
    assert_eq!(all["totalCount"], 7);
    let all_names = names(&all);

    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = app.ok(&t.rep, q, json!({"f": 3, "a": after})).await["customers"].clone();
        seen.extend(names(&page));
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, all_names);

    let tail = app.ok(&t.rep, q, json!({"l": 3})).await["customers"].clone();
    assert_eq!(names(&tail), all_names[4..].to_vec());
    assert_eq!(tail["pageInfo"]["hasPreviousPage"], true);
    let before = app
        .ok(&t.rep, q, json!({"l": 2, "b": tail["pageInfo"]["startCursor"]}))
        .await["customers"]
        .clone();
    assert_eq!(names(&before), all_names[2..4].to_vec());

    let desc = app
        .ok(
            &t.rep,
            "{ customers(orderBy: {field: NAME, direction: DESC}) { nodes { name } } }",
            json!({}),
        )
        .await;
    let desc: Vec<_> = desc["customers"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["name"].as_str().unwrap_or("").to_owned())
        .collect();
    let mut sorted = desc.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(desc, sorted);
}
