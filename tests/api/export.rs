//! CSV export: the list's filters and read rules, names for people, a BOM
//! for spreadsheets, Japanese intact, formulas defused.

use serde_json::{Value, json};

use crate::common::{Session, TestApp, customer, deal};

/// Parses an export into its header and rows.
fn parse(export: &Value) -> (Vec<String>, Vec<Vec<String>>) {
    let text = export["csv"].as_str().unwrap();
    let body = text.strip_prefix('\u{feff}').expect("starts with a BOM");
    let mut r = csv::Reader::from_reader(body.as_bytes());
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(export["rows"], json!(rows.len()));
    (header, rows)
}

fn column(header: &[String], rows: &[Vec<String>], name: &str) -> Vec<String> {
    let i = header.iter().position(|h| h == name).unwrap();
    let mut v: Vec<String> = rows.iter().map(|r| r[i].clone()).collect();
    v.sort();
    v
}

async fn export(app: &TestApp, s: &Session, field: &str, filter: Value) -> Value {
    let q = format!(
        "query($f: {}) {{ {field}(filter: $f) {{ fileName rows csv }} }}",
        filter_type(field)
    );
    app.ok(s, &q, json!({"f": filter})).await[field].clone()
}

fn filter_type(field: &str) -> &'static str {
    match field {
        "customersCsv" => "CustomerFilter",
        "dealsCsv" => "DealFilter",
        "activitiesCsv" => "ActivityFilter",
        _ => "TaskFilter",
    }
}

#[tokio::test]
async fn exports_follow_filters_and_permissions() {
    let app = TestApp::spawn().await;
    let t = app.tenant("exp").await;
    // A rep outside the team, in a company where reps see their team only.
    let made = app
        .ok(
            &t.admin,
            "mutation { createMember(input: {email: \"loner@exp.test\", name: \"一匹狼\", role: REP, password: \"pw-1234567890\"}) { member { id } } }",
            json!({}),
        )
        .await;
    assert!(made["createMember"]["member"]["id"].is_string());
    let loner = Session {
        member_id: uuid::Uuid::nil(),
        token: app.login("loner@exp.test", "pw-1234567890").await,
    };
    app.ok(
        &t.admin,
        "mutation { updateCompanySettings(repVisibility: TEAM) { repVisibility } }",
        json!({}),
    )
    .await;

    let acme = customer(&app, &t.rep, "株式会社アクメ, 東京").await;
    customer(&app, &t.rep, "=HYPERLINK(\"http://evil\")").await;
    // Fullwidth triggers (typed by Japanese input methods) are formulas too.
    customer(&app, &t.rep, "＝HYPERLINK(\"http://evil\")").await;
    customer(&app, &t.rep, "＋81-3-1234").await;
    let lone = customer(&app, &loner, "Loner Ltd").await;
    let (d1, v1) = deal(&app, &t.rep, &acme, "複合機 入替").await;
    deal(&app, &t.rep, &acme, "保守契約").await;
    deal(&app, &loner, &lone, "Loner deal").await;
    app.ok(
        &t.rep,
        "mutation($d: ID!, $v: Int!) { moveDealStage(id: $d, version: $v, stage: \"proposal\") { id } }",
        json!({"d": d1, "v": v1}),
    )
    .await;
    app.ok(
        &t.rep,
        "mutation($c: ID!, $d: ID!) { createActivity(input: {customerId: $c, dealId: $d, kind: VISIT, subject: \"提案\", scheduledAt: \"2026-11-20T01:00:00Z\", notes: \"line one\\nline two\"}) { id } }",
        json!({"c": acme, "d": d1}),
    )
    .await;
    app.ok(
        &t.rep,
        "mutation($c: ID!) { createTask(input: {title: \"見積送付\", customerId: $c, dueDate: \"2026-11-30\"}) { id } }",
        json!({"c": acme}),
    )
    .await;

    // The admin sees every customer; the rep only the team's; the loner only theirs.
    let all = export(&app, &t.admin, "customersCsv", json!(null)).await;
    assert!(all["fileName"].as_str().unwrap().starts_with("customers-"));
    let (h, rows) = parse(&all);
    let mut names = column(&h, &rows, "name");
    names.sort();
    assert_eq!(
        names,
        [
            "'=HYPERLINK(\"http://evil\")",
            "'＋81-3-1234",
            "'＝HYPERLINK(\"http://evil\")",
            "Loner Ltd",
            "株式会社アクメ, 東京"
        ],
        "the formula is defused, the comma quoted"
    );
    let mut owners = column(&h, &rows, "owner");
    owners.sort();
    assert_eq!(
        owners,
        ["rep of exp", "rep of exp", "rep of exp", "rep of exp", "一匹狼"]
    );
    let (h, rows) = parse(&export(&app, &t.rep, "customersCsv", json!(null)).await);
    assert_eq!(column(&h, &rows, "name").len(), 4);
    assert!(!column(&h, &rows, "name").contains(&"Loner Ltd".to_owned()));
    let (h, rows) = parse(&export(&app, &loner, "customersCsv", json!(null)).await);
    assert_eq!(column(&h, &rows, "name"), ["Loner Ltd"]);
    let (_, rows) = parse(&export(&app, &t.admin, "customersCsv", json!({"search": "アクメ"})).await);
    assert_eq!(rows.len(), 1, "the list's filter applies");

    // Deals: filter by stage, the customer and stage by name.
    let (h, rows) = parse(&export(&app, &t.manager, "dealsCsv", json!({"stages": ["proposal"]})).await);
    assert_eq!(rows.len(), 1);
    assert_eq!(column(&h, &rows, "name"), ["複合機 入替"]);
    assert_eq!(column(&h, &rows, "customer"), ["株式会社アクメ, 東京"]);
    assert_eq!(column(&h, &rows, "stage_name"), ["提案"]);
    let (_, rows) = parse(&export(&app, &t.rep, "dealsCsv", json!(null)).await);
    assert_eq!(rows.len(), 2, "not the loner's deal");
    let listed = app.ok(&t.rep, "{ deals { totalCount } }", json!({})).await;
    assert_eq!(
        listed["deals"]["totalCount"],
        json!(rows.len()),
        "the same rows as the list"
    );

    // Activities and tasks.
    let (h, rows) = parse(&export(&app, &t.manager, "activitiesCsv", json!(null)).await);
    assert_eq!(column(&h, &rows, "notes"), ["line one\nline two"]);
    assert_eq!(column(&h, &rows, "deal"), ["複合機 入替"]);
    assert_eq!(column(&h, &rows, "member"), ["rep of exp"]);
    let (h, rows) = parse(&export(&app, &t.rep, "tasksCsv", json!({"dueTo": "2026-12-31"})).await);
    assert_eq!(column(&h, &rows, "title"), ["見積送付"]);
    assert_eq!(column(&h, &rows, "customer"), ["株式会社アクメ, 東京"]);
    let (_, rows) = parse(&export(&app, &loner, "tasksCsv", json!(null)).await);
    assert!(rows.is_empty(), "the loner cannot read the team's tasks");
}
