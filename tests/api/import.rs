//! Import from the sales-management system: 10,000 sales records with three
//! bad rows (reported by line, nothing written), the same with skip (9,997),
//! a re-import changing nothing; Japanese text behind a UTF-8 BOM; JSON,
//! contacts and touchpoints; a multipart upload; the CLI.

use serde_json::{Value, json};

use crate::common::{Session, TestApp, error_code};

const IMPORT: &str = "mutation($k: ImportKind!, $t: String!, $d: Boolean, $s: Boolean, $f: ImportFormat) {
  importData(kind: $k, text: $t, dryRun: $d, skipBadRows: $s, format: $f) {
    rows created updated unchanged skipped errorCount applied dryRun errors { line message } } }";

async fn import(app: &TestApp, s: &Session, kind: &str, text: &str, dry: bool, skip: bool) -> Value {
    let vars = json!({"k": kind, "t": text, "d": dry, "s": skip});
    app.ok(s, IMPORT, vars).await["importData"].clone()
}

fn counts(r: &Value) -> (i64, i64, i64, i64, i64) {
    let n = |k: &str| r[k].as_i64().unwrap();
    (
        n("created"),
        n("updated"),
        n("unchanged"),
        n("skipped"),
        n("errorCount"),
    )
}

/// Customers C0000–C0199 with Japanese names, products P1–P5.
async fn masters(app: &TestApp, s: &Session) {
    let mut csv = String::from("\u{feff}code,name,name_kana,industry,owner_email,priority\r\n");
    for i in 0..200 {
        csv.push_str(&format!("C{i:04},株式会社テスト{i},テスト,製造業,,{}\r\n", i % 2));
    }
    let r = import(app, s, "CUSTOMERS", &csv, false, false).await;
    assert_eq!(counts(&r), (200, 0, 0, 0, 0), "{r}");
    let products = "code,name,category,unit_price,focus\nP1,複合機,OA,\"1,200,000\",yes\nP2,保守,サービス,50000,no\nP3,トナー,,3000,\nP4,用紙,,500,0\nP5,ソフト,,80000,1\n";
    let r = import(app, s, "PRODUCTS", products, false, false).await;
    assert_eq!(counts(&r), (5, 0, 0, 0, 0), "{r}");
}

fn sales_file(bad: bool) -> String {
    let mut csv = String::from("ref,sold_on,customer_code,product_code,member_email,amount,gross_profit,quantity\n");
    for i in 0..10_000 {
        let customer = match (bad, i) {
            (true, 1234) => "C9999".to_owned(),
            _ => format!("C{:04}", i % 200),
        };
        let date = if bad && i == 5000 {
            "2026-13-01".to_owned()
        } else {
            format!("2026/{:02}/{:02}", 1 + i % 12, 1 + i % 28)
        };
        let amount = if bad && i == 9998 {
            "十万".to_owned()
        } else {
            format!("{}", 10_000 + i)
        };
        csv.push_str(&format!(
            "S{i:06},{date},{customer},P{},,{amount},{},{}\n",
            1 + i % 5,
            2_000 + i,
            1 + i % 3
        ));
    }
    csv
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_sales_records_with_three_bad_rows() {
    let app = TestApp::spawn().await;
    let t = app.tenant("imp").await;
    masters(&app, &t.admin).await;

    // Three bad rows: nothing imported, each reported on its line (header = line 1).
    let file = sales_file(true);
    let r = import(&app, &t.admin, "SALES_RECORDS", &file, false, false).await;
    assert_eq!(r["applied"], json!(false));
    assert_eq!(r["rows"], json!(10_000));
    assert_eq!(r["errorCount"], json!(3));
    let errors = r["errors"].as_array().unwrap();
    let lines: Vec<i64> = errors.iter().map(|e| e["line"].as_i64().unwrap()).collect();
    assert_eq!(lines, [1236, 5002, 10000]);
    let msg = |i: usize| errors[i]["message"].as_str().unwrap();
    assert!(
        msg(0).contains("customer_code") && msg(0).contains("C9999"),
        "{}",
        msg(0)
    );
    assert!(
        msg(1).contains("sold_on") && msg(1).contains("2026-13-01"),
        "{}",
        msg(1)
    );
    assert!(msg(2).contains("amount") && msg(2).contains("十万"), "{}", msg(2));
    assert_eq!(app.rows("sales_record").await, 0);

    // A dry run with skip: what would happen, nothing written.
    let r = import(&app, &t.admin, "SALES_RECORDS", &file, true, true).await;
    assert_eq!(counts(&r), (9_997, 0, 0, 3, 3), "{r}");
    assert_eq!((r["applied"].clone(), r["dryRun"].clone()), (json!(false), json!(true)));
    assert_eq!(app.rows("sales_record").await, 0);

    // Skipping the bad rows: 9,997 imported.
    let r = import(&app, &t.admin, "SALES_RECORDS", &file, false, true).await;
    assert_eq!(counts(&r), (9_997, 0, 0, 3, 3), "{r}");
    assert_eq!(r["applied"], json!(true));
    assert_eq!(app.rows("sales_record").await, 9_997);
    let audit_before = app.rows("audit_log").await;

    // The same file again: nothing changes, nothing is written.
    let r = import(&app, &t.admin, "SALES_RECORDS", &file, false, true).await;
    assert_eq!(counts(&r), (0, 0, 9_997, 3, 3), "{r}");
    assert_eq!(app.rows("sales_record").await, 9_997);
    assert_eq!(
        app.rows("audit_log").await,
        audit_before,
        "an import that changes nothing records nothing"
    );

    // The corrected file: the three missing rows arrive, the rest stay.
    let r = import(&app, &t.admin, "SALES_RECORDS", &sales_file(false), false, false).await;
    assert_eq!(counts(&r), (3, 0, 9_997, 0, 0), "{r}");
    assert_eq!(app.rows("sales_record").await, 10_000);

    // The records feed the analytics: a BI total over what was imported.
    let total = app
        .ok(
            &t.admin,
            "{ aggregate(fact: \"sales_records\", dimensions: [\"product\"], measures: [\"sum:amount\", \"count\"], filter: {from: \"2026-01-01\", to: \"2026-12-31\"}) { rows { keys values } } }",
            json!({}),
        )
        .await;
    let rows = total["aggregate"]["rows"].as_array().unwrap();
    let count: f64 = rows.iter().map(|r| r["values"][1].as_f64().unwrap()).sum();
    let sum: f64 = rows.iter().map(|r| r["values"][0].as_f64().unwrap()).sum();
    assert_eq!(count, 10_000.0);
    assert_eq!(sum, (0..10_000).map(|i| 10_000.0 + i as f64).sum::<f64>());
}

#[tokio::test]
async fn japanese_text_bom_updates_json_contacts_and_touchpoints() {
    let app = TestApp::spawn().await;
    let t = app.tenant("imp-j").await;
    let other = app.tenant("imp-o").await;
    masters(&app, &t.admin).await;

    // The BOM did not become part of the first column's name, and the text is intact.
    let c = app
        .ok(
            &t.admin,
            "{ customers(filter: {search: \"テスト7\"}, first: 50) { nodes { id name nameKana externalCode isPriority version } } }",
            json!({}),
        )
        .await;
    let node = c["customers"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["externalCode"] == json!("C0007"))
        .cloned()
        .expect("C0007 imported");
    assert_eq!(node["name"], json!("株式会社テスト7"));
    assert_eq!(node["nameKana"], json!("テスト"));
    assert_eq!(node["isPriority"], json!(true));

    // One name changed in the master: one update, its version bumped.
    let file = "code,name\nC0007,株式会社テスト七\nC0008,株式会社テスト8\n";
    let r = import(&app, &t.admin, "CUSTOMERS", file, false, false).await;
    assert_eq!(counts(&r), (0, 1, 1, 0, 0), "{r}");
    let after = app
        .ok(
            &t.admin,
            "query($id: ID!) { customer(id: $id) { name version } }",
            json!({"id": node["id"]}),
        )
        .await;
    assert_eq!(after["customer"]["name"], json!("株式会社テスト七"));
    assert_eq!(
        after["customer"]["version"],
        json!(node["version"].as_i64().unwrap() + 1)
    );

    // Contacts and touchpoints, as JSON.
    let contacts = json!([
        {"code": "K1", "customer_code": "C0001", "name": "山田 太郎", "department": "総務部", "level": "manager"},
        {"code": "K2", "customer_code": "C0002", "name": "佐藤 花子", "email": "hanako@example.jp"},
        {"code": "K3", "customer_code": "C0003", "name": "鈴木 一郎", "level": "shogun"}
    ])
    .to_string();
    let vars = json!({"k": "CONTACTS", "t": contacts, "d": false, "s": false, "f": "JSON"});
    let r = app.ok(&t.admin, IMPORT, vars.clone()).await["importData"].clone();
    assert_eq!(r["errorCount"], json!(1), "{r}");
    assert_eq!(r["errors"][0]["line"], json!(3), "JSON rows are counted from 1");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("shogun"), "{r}");
    let mut vars = vars;
    vars["s"] = json!(true);
    let r = app.ok(&t.admin, IMPORT, vars).await["importData"].clone();
    assert_eq!(counts(&r), (2, 0, 0, 1, 1), "{r}");

    let touch = "ref,customer_code,contact_code,kind,occurred_at,title,url,source\n\
        W1,C0001,K1,web_view,2026-11-20 10:15,料金ページ,https://example.jp/price,ma\n\
        W2,C0002,,seminar,2026-11-18,DXセミナー,,ma\n\
        W3,C0002,K1,web_view,2026-11-20T01:00:00Z,,,ma\n\
        W4,C0001,,Web View!,yesterday,,,ma\n";
    let r = import(&app, &t.admin, "TOUCHPOINTS", touch, false, true).await;
    assert_eq!(counts(&r), (2, 0, 0, 2, 2), "{r}");
    assert!(
        r["errors"][0]["message"].as_str().unwrap().contains("another customer"),
        "{r}"
    );
    let m = r["errors"][1]["message"].as_str().unwrap();
    assert!(
        m.contains("kind") && m.contains("occurred_at"),
        "every problem of a row is listed: {m}"
    );
    let again = import(&app, &t.admin, "TOUCHPOINTS", touch, false, true).await;
    assert_eq!(counts(&again), (0, 0, 2, 2, 2), "{again}");

    // Whole-file problems: line 0, nothing written.
    for (kind, text, says) in [
        ("CUSTOMERS", "name\nx\n", "missing column(s): code"),
        ("CUSTOMERS", "code,name,colour\nX,x,red\n", "unknown column `colour`"),
        ("CUSTOMERS", "code,name\nX,x,extra\n", "line 2: 3 cells"),
        ("CUSTOMERS", "code,name\nA,a\nA,b\n", "appears again (first on line 2)"),
    ] {
        let r = import(&app, &t.admin, kind, text, false, false).await;
        assert_eq!(r["applied"], json!(false), "{r}");
        assert!(r["errors"][0]["message"].as_str().unwrap().contains(says), "{r}");
    }
    // Admins only; another company's codes are not found.
    let r = app
        .gql(
            Some(&t.rep.token),
            IMPORT,
            json!({"k": "CUSTOMERS", "t": "code,name\nZ,z\n", "d": false, "s": false}),
        )
        .await;
    assert_eq!(error_code(&r), "FORBIDDEN");
    let r = import(
        &app,
        &other.admin,
        "CONTACTS",
        "code,customer_code,name\nK9,C0001,x\n",
        false,
        false,
    )
    .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no customer has the code `C0001`"),
        "{r}"
    );
    let theirs = app.ok(&other.admin, "{ customers { totalCount } }", json!({})).await;
    assert_eq!(theirs["customers"]["totalCount"], json!(0));
}

#[tokio::test]
async fn a_file_uploaded_as_multipart() {
    let app = TestApp::spawn().await;
    let t = app.tenant("imp-u").await;
    let body = "\u{feff}code,name\nU1,アップロード商事\nU2,Second Co\n";
    let operations = json!({
        "query": "mutation($f: Upload!) { importData(kind: CUSTOMERS, file: $f) { created applied } }",
        "variables": {"f": null}
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({"0": ["variables.f"]}).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(body.as_bytes().to_vec())
                .file_name("customers.csv")
                .mime_str("text/csv")
                .unwrap(),
        );
    let res: Value = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&t.admin.token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        res["data"]["importData"],
        json!({"created": 2, "applied": true}),
        "{res}"
    );
    let r = app
        .gql(
            Some(&t.admin.token),
            "mutation { importData(kind: CUSTOMERS) { created } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
}

#[test]
fn the_cli_imports_and_refuses_a_bad_file() {
    use std::process::Command;
    let dir = std::env::temp_dir().join(format!("sfa-import-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.join("sfa.db").display());
    let sfa = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sfa"))
            .args(args)
            .current_dir(&dir)
            .env("DATABASE_URL", &db)
            .env("SFA_PLUGINS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/plugins"))
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let seeded = sfa(&["seed-demo", "--customers", "20", "--months", "1"]);
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    std::fs::write(dir.join("good.csv"), "code,name\nX1,輸入商事\nX2,Import Ltd\n").unwrap();
    std::fs::write(
        dir.join("bad.json"),
        r#"[{"code": "Y1", "name": "ok"}, {"code": "Y2"}]"#,
    )
    .unwrap();

    let out = sfa(&["import", "customers", "good.csv", "--company", "demo", "--dry-run"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("would import 2 rows"));
    let out = sfa(&["import", "customers", "good.csv", "--company", "demo"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("2 created"), "{stdout}");
    let out = sfa(&["import", "customers", "good.csv", "--company", "demo"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 created, 0 updated, 2 unchanged"));

    let out = sfa(&["import", "customers", "bad.json", "--company", "demo"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a bad row fails the command");
    assert!(stderr.contains("line 2: name: is empty"), "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    let out = sfa(&[
        "import",
        "customers",
        "bad.json",
        "--company",
        "demo",
        "--skip-bad-rows",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 created"));
    let out = sfa(&["import", "customers", "good.csv", "--company", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no company has the slug `nope`"));
    std::fs::remove_dir_all(&dir).ok();
}
