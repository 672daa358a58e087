//! The operator API (`POST /operator/graphql`): off unless configured, only
//! with the operator key, and every company command through it.

use serde_json::{Value, json};

use crate::common::{Session, TestApp, error_code};

const KEY: &str = "an-operator-key-of-at-least-32-characters";

/// Sends an operator request with `key` as the bearer (none when `None`):
/// (HTTP status, body).
async fn operator(app: &TestApp, key: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
    let mut req = app
        .http
        .post(app.url("/operator/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

/// An operator request that must succeed; its `data`.
async fn op_ok(app: &TestApp, query: &str, variables: Value) -> Value {
    let (status, body) = operator(app, Some(KEY), query, variables).await;
    assert_eq!(status, 200, "{body:#}");
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"].clone()
}

/// An operator request that must fail: (code, message).
async fn op_err(app: &TestApp, query: &str, variables: Value) -> (String, String) {
    let (_, body) = operator(app, Some(KEY), query, variables).await;
    (
        error_code(&body),
        body["errors"][0]["message"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn login(app: &TestApp, email: &str, password: &str, company: &str) -> Value {
    app.gql(
        None,
        "mutation($e: String!, $p: String!, $c: String) { login(email: $e, password: $p, company: $c) { token } }",
        json!({"e": email, "p": password, "c": company}),
    )
    .await
}

const CREATE: &str = "mutation($i: CreateCompanyInput!) { createCompany(input: $i) { \
    company { id slug name process timeZone currency disabledAt } adminEmail oneTimePassword } }";

#[tokio::test(flavor = "multi_thread")]
async fn off_unless_configured_and_only_with_the_key() {
    let off = TestApp::spawn().await;
    let (status, body) = operator(&off, Some(KEY), "{ companies { slug } }", json!({})).await;
    assert_eq!((status, error_code(&body).as_str()), (404, "NOT_FOUND"), "{body}");

    let app = TestApp::spawn_with(|c| c.operator_key = Some(KEY.into())).await;
    let t = app.tenant("acme").await;
    let (status, body) = operator(&app, None, "{ companies { slug } }", json!({})).await;
    assert_eq!((status, error_code(&body).as_str()), (401, "UNAUTHENTICATED"), "{body}");
    let (status, body) = operator(&app, Some("wrong"), "{ companies { slug } }", json!({})).await;
    assert_eq!(status, 401, "{body}");
    // A company admin's token opens nothing here…
    let (status, body) = operator(&app, Some(&t.admin.token), "{ companies { slug } }", json!({})).await;
    assert_eq!((status, error_code(&body).as_str()), (401, "UNAUTHENTICATED"), "{body}");
    // … and the key opens nothing of the company API.
    let as_member = app.gql(Some(KEY), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&as_member), "UNAUTHENTICATED", "{as_member}");
    // The company API has no operator fields.
    let probe = app
        .gql(
            Some(&t.admin.token),
            "mutation { deleteCompany(slug: \"acme\", confirm: \"acme\") { rows } }",
            json!({}),
        )
        .await;
    assert!(probe["errors"].is_array(), "{probe}");

    let listed = op_ok(
        &app,
        "{ companies { slug members activeMembers disabledAt } processSets }",
        json!({}),
    )
    .await;
    assert_eq!(
        listed["companies"],
        json!([{"slug": "acme", "members": 3, "activeMembers": 3, "disabledAt": null}])
    );
    assert!(
        listed["processSets"]
            .as_array()
            .expect("sets")
            .iter()
            .any(|s| s == "default")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_a_company_and_log_in_as_its_admin() {
    let app = TestApp::spawn_with(|c| c.operator_key = Some(KEY.into())).await;
    let input = json!({"name": "  Nishi Trading ", "slug": "Nishi", "adminEmail": "Boss@Nishi.example",
                       "adminName": "Boss", "timeZone": "Europe/Berlin", "currency": "eur", "process": "sfa7"});
    let created = op_ok(&app, CREATE, json!({"i": input})).await["createCompany"].clone();
    assert_eq!(created["company"]["slug"], "nishi");
    assert_eq!(created["company"]["name"], "Nishi Trading");
    assert_eq!(created["company"]["process"], "sfa7");
    assert_eq!(created["company"]["timeZone"], "Europe/Berlin");
    assert_eq!(created["company"]["currency"], "EUR");
    assert_eq!(created["adminEmail"], "boss@nishi.example");
    let password = created["oneTimePassword"]
        .as_str()
        .expect("a generated password")
        .to_owned();
    assert!(password.len() >= 12);

    let body = login(&app, "boss@nishi.example", &password, "nishi").await;
    let token = body["data"]["login"]["token"].as_str().expect("token").to_owned();
    let admin = Session {
        member_id: uuid::Uuid::nil(),
        token,
    };
    let me = app
        .ok(
            &admin,
            "{ me { role } company { slug pluginSet timeZone currency } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me,
        json!({"me": {"role": "ADMIN"}, "company": {"slug": "nishi", "pluginSet": "sfa7", "timeZone": "Europe/Berlin", "currency": "EUR"}})
    );
    // The admin can invite the team at once.
    let invited = app
        .ok(
            &admin,
            "mutation { createMember(input: {email: \"rep@nishi.example\", name: \"Rep\", role: REP}) { temporaryPassword } }",
            json!({}),
        )
        .await;
    assert!(invited["createMember"]["temporaryPassword"].is_string(), "{invited}");

    // Defaults, and a password of one's own.
    let input = json!({"name": "Higashi", "slug": "higashi", "adminEmail": "a@higashi.example", "adminPassword": "a-password-of-mine"});
    let created = op_ok(&app, CREATE, json!({"i": input})).await["createCompany"].clone();
    assert_eq!(created["oneTimePassword"], Value::Null);
    assert_eq!(
        (
            &created["company"]["timeZone"],
            &created["company"]["currency"],
            &created["company"]["process"]
        ),
        (&json!("Asia/Tokyo"), &json!("JPY"), &json!("default"))
    );
    assert!(
        login(&app, "a@higashi.example", "a-password-of-mine", "higashi").await["data"]["login"]["token"].is_string()
    );

    // A taken slug, and every field checked.
    let base = json!({"name": "X", "slug": "xco", "adminEmail": "a@x.example"});
    let with = |key: &str, value: Value| {
        let mut i = base.clone();
        i[key] = value;
        json!({"i": i})
    };
    let (code, message) = op_err(&app, CREATE, with("slug", json!("nishi"))).await;
    assert_eq!(code, "CONFLICT");
    assert!(message.contains("nishi"), "{message}");
    for (key, value, words) in [
        ("slug", json!("-x"), "slug"),
        ("slug", json!("a"), "slug"),
        ("slug", json!("ＡＢＣ"), "slug"),
        ("slug", json!("a_b"), "slug"),
        ("name", json!("   "), "name"),
        ("adminEmail", json!("nobody"), "e-mail"),
        ("timeZone", json!("Mars/Olympus"), "time zone"),
        ("currency", json!("YENS"), "currency"),
        ("process", json!("nope"), "plugin set"),
        ("adminPassword", json!("short"), "password"),
    ] {
        let (code, message) = op_err(&app, CREATE, with(key, value.clone())).await;
        assert_eq!(code, "BAD_USER_INPUT", "{key} = {value}: {message}");
        assert!(message.contains(words), "{key} = {value}: {message}");
    }
    assert_eq!(app.rows("company").await, 2, "nothing half written");
    assert_eq!(app.rows("member").await, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_company_is_refused_until_enabled() {
    let app = TestApp::spawn_with(|c| c.operator_key = Some(KEY.into())).await;
    let t = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let key = app
        .ok(
            &t.admin,
            "mutation { createApiKey(name: \"BI\", scope: READ_ONLY) { key } }",
            json!({}),
        )
        .await["createApiKey"]["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let disabled = op_ok(
        &app,
        "mutation { disableCompany(slug: \"acme\") { slug disabledAt } }",
        json!({}),
    )
    .await;
    assert!(disabled["disableCompany"]["disabledAt"].is_string());

    let me = "{ me { id } }";
    for token in [&t.admin.token, &t.rep.token, &key] {
        let body = app.gql(Some(token), me, json!({})).await;
        assert_eq!(error_code(&body), "COMPANY_DISABLED", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("disabled")
        );
    }
    let body = login(&app, "rep@acme.test", "pw-123456", "acme").await;
    assert_eq!(error_code(&body), "COMPANY_DISABLED", "{body}");
    // A wrong password still gets the usual answer: the state is not told to a guesser.
    let body = login(&app, "rep@acme.test", "wrong-password", "acme").await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    // Other companies are untouched.
    assert!(app.ok(&other.rep, me, json!({})).await["me"]["id"].is_string());
    let listed = op_ok(&app, "{ company(slug: \"acme\") { disabledAt } }", json!({})).await;
    assert!(listed["company"]["disabledAt"].is_string());

    op_ok(
        &app,
        "mutation { enableCompany(slug: \"acme\") { disabledAt } }",
        json!({}),
    )
    .await;
    for token in [&t.admin.token, &key] {
        let body = app.gql(Some(token), me, json!({})).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    let (code, _) = op_err(&app, "mutation { disableCompany(slug: \"nope\") { slug } }", json!({})).await;
    assert_eq!(code, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_out_admin_gets_a_new_password() {
    let app = TestApp::spawn_with(|c| c.operator_key = Some(KEY.into())).await;
    let t = app.tenant("acme").await;
    // Locked out: deactivated, and too many failed logins.
    for _ in 0..6 {
        login(&app, "admin@acme.test", "forgotten-it", "acme").await;
    }
    let set = op_ok(
        &app,
        "mutation { setMemberPassword(company: \"acme\", email: \"Admin@acme.test\") { email oneTimePassword } }",
        json!({}),
    )
    .await["setMemberPassword"]
        .clone();
    assert_eq!(set["email"], "admin@acme.test");
    let password = set["oneTimePassword"].as_str().expect("generated");
    let body = app.gql(Some(&t.admin.token), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "the old sessions ended: {body}");
    let body = login(&app, "admin@acme.test", password, "acme").await;
    assert!(body["data"]["login"]["token"].is_string(), "{body}");

    let (code, _) = op_err(
        &app,
        "mutation { setMemberPassword(company: \"acme\", email: \"nobody@acme.test\") { email } }",
        json!({}),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    let (code, _) = op_err(
        &app,
        "mutation { setMemberPassword(company: \"acme\", email: \"rep@acme.test\", password: \"short\") { email } }",
        json!({}),
    )
    .await;
    assert_eq!(code, "BAD_USER_INPUT");
}

/// Every table with a `company_id` column, from the database's catalog.
async fn tenant_tables(app: &TestApp) -> Vec<String> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Sqlite => {
            "SELECT m.name AS t FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = 'company_id' ORDER BY 1"
        }
        _ => {
            "SELECT table_name::text AS t FROM information_schema.columns \
             WHERE column_name = 'company_id' AND table_schema = current_schema() ORDER BY 1"
        }
    };
    let rows = app
        .db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("catalog");
    rows.iter()
        .map(|r| r.try_get::<String>("", "t").expect("name"))
        .collect()
}

async fn rows_of(app: &TestApp, table: &str, company: uuid::Uuid) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = app.db.get_database_backend();
    let stmt = Statement::from_sql_and_values(
        backend,
        format!("SELECT COUNT(*) AS n FROM {table} WHERE company_id = $1"),
        [company.into()],
    );
    let row = app.db.query_one_raw(stmt).await.expect("count").expect("row");
    row.try_get::<i64>("", "n").expect("n")
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_company_removes_all_its_rows_and_nothing_else() {
    let app = TestApp::spawn_with(|c| c.operator_key = Some(KEY.into())).await;
    let mut tables = tenant_tables(&app).await;
    let mut listed: Vec<String> = sfa::service::company::TENANT_TABLES
        .iter()
        .map(|t| t.to_string())
        .collect();
    tables.sort();
    listed.sort();
    assert_eq!(
        listed, tables,
        "service::company::TENANT_TABLES lists every table with a company_id"
    );

    let other = app.tenant("other").await;
    sfa::seed::ensure_demo(
        &app.db,
        &app.plugins,
        3,
        sfa::seed::DemoSize {
            customers: 60,
            months: 2,
        },
    )
    .await
    .expect("seed");
    let demo = sfa::service::company::by_slug(&app.db, sfa::seed::DEMO_SLUG)
        .await
        .expect("demo");
    let mut before = Vec::new();
    for table in &tables {
        before.push((table.clone(), rows_of(&app, table, other.company_id).await));
    }
    let filled = {
        let mut n = 0;
        for table in &tables {
            n += usize::from(rows_of(&app, table, demo.id).await > 0);
        }
        n
    };
    assert!(filled >= 15, "the demo fills most tables ({filled})");

    let (code, message) = op_err(
        &app,
        "mutation($s: String!) { deleteCompany(slug: $s, confirm: \"other\") { rows } }",
        json!({"s": demo.slug}),
    )
    .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(message.contains("confirm"), "{message}");
    let deleted = op_ok(
        &app,
        "mutation($s: String!) { deleteCompany(slug: $s, confirm: $s) { slug rows } }",
        json!({"s": demo.slug}),
    )
    .await["deleteCompany"]
        .clone();
    assert!(deleted["rows"].as_u64().expect("rows") > 1000, "{deleted}");
    for table in &tables {
        assert_eq!(
            rows_of(&app, table, demo.id).await,
            0,
            "{table} keeps rows of the deleted company"
        );
    }
    for (table, n) in &before {
        assert_eq!(
            rows_of(&app, table, other.company_id).await,
            *n,
            "{table} of another company changed"
        );
    }
    assert_eq!(app.rows("company").await, 1);
    let body = login(&app, "rep01@demo.example", sfa::seed::DEMO_PASSWORD, "").await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    assert!(app.ok(&other.admin, "{ me { id } }", json!({})).await["me"]["id"].is_string());
    let (code, _) = op_err(
        &app,
        "mutation { deleteCompany(slug: \"demo\", confirm: \"demo\") { rows } }",
        json!({}),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
}
