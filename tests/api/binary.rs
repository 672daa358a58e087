//! The README's path, on the real binary: `sfa serve --demo` on a fresh
//! directory, the first query, then a graceful stop on SIGTERM.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

/// Starts the binary as a server in `dir` (SQLite there, the shipped plugins,
/// the given config file or, without one, a free port) and waits for the URL it prints.
async fn serve(
    dir: &std::path::Path,
    args: &[&str],
    config: Option<&std::path::Path>,
) -> (std::process::Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sfa"));
    cmd.args(args)
        .current_dir(dir)
        .env("SFA_PLUGINS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/plugins"))
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    match config {
        Some(c) => cmd.env("SFA_CONFIG", c),
        None => cmd.env_remove("SFA_CONFIG").env("SFA_LISTEN", "127.0.0.1:0"),
    };
    let mut child = cmd.spawn().expect("start sfa");
    let stdout = child.stdout.take().expect("stdout");
    let url = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().map_while(Result::ok).find_map(|line| {
            line.split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(str::to_owned)
        })
    })
    .await
    .expect("read stdout")
    .expect("the server prints its URL");
    (child, url)
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_demo_answers_the_readme_query_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("sfa-bin-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("custom.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nrequest_timeout_secs = 3\n[graphql]\nmax_page_size = 10\n\
         [scripts]\nmax_request_operations = 100000000000\nmax_request_bytes = 100000000000\n",
    )
    .expect("config file");
    let (mut child, url) = serve(&dir, &["serve", "--demo"], Some(&config)).await;
    assert!(
        dir.join("data/sfa.db").exists(),
        "SQLite file created in the data directory"
    );

    let http = reqwest::Client::new();
    let gql = |token: Option<String>, query: &str| {
        let mut req = http.post(&url).json(&json!({"query": query}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.expect("request").json::<Value>().await.expect("json") }
    };
    let login = gql(
        None,
        "mutation { login(email: \"rep01@demo.example\", password: \"demo-password\") { token } }",
    )
    .await;
    let token = login["data"]["login"]["token"].as_str().expect("token").to_owned();
    let token_copy = token.clone();
    let data = gql(Some(token), include_str!("../../docs/first-query.graphql")).await;
    assert!(data.get("errors").is_none(), "{data:#}");
    let deals = data["data"]["deals"]["nodes"].as_array().expect("deals");
    assert_eq!(deals.len(), 10);
    assert!(
        deals
            .iter()
            .all(|d| d["customer"]["name"].is_string() && d["owner"]["name"].is_string())
    );
    let too_many = gql(Some(token_copy), "{ customers(first: 11) { totalCount } }").await;
    assert_eq!(
        too_many["errors"][0]["extensions"]["code"], "PAGE_TOO_LARGE",
        "the config file's page size applies"
    );

    // A runaway scoring script in an admin's dry run, with a request budget
    // too large to stop it (the config file's): the request is cut off at
    // the timeout, and the script work stops with it (it used to go on
    // scoring the year's activities, 100 ms of CPU each).
    let admin = gql(
        None,
        "mutation { login(email: \"admin@demo.example\", password: \"demo-password\") { token } }",
    )
    .await["data"]["login"]["token"]
        .as_str()
        .expect("admin token")
        .to_owned();
    let asked = Instant::now();
    let runaway = gql(
        Some(admin.clone()),
        "{ scoringDryRun(script: \"fn activity_points(a) { loop {} }\", days: 365) { activities } }",
    )
    .await;
    assert_eq!(runaway["errors"][0]["extensions"]["code"], "TIMEOUT", "{runaway}");
    assert!(asked.elapsed() < Duration::from_secs(5), "cut off at the timeout");
    let cpu_seconds = |pid: u32| -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        (ticks(11) + ticks(12)) / 100.0
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = cpu_seconds(child.id());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let burnt = cpu_seconds(child.id()) - before;
    assert!(
        burnt < 0.5,
        "no script work after the request timed out: {burnt:.2} CPU-seconds in 2 s"
    );
    // The same, abandoned by its client after 0.5 s, well before the timeout.
    let abandoned = http
        .post(&url)
        .bearer_auth(&admin)
        .timeout(Duration::from_millis(500))
        .json(&json!({"query": "{ scoringDryRun(script: \"fn activity_points(a) { loop {} }\", days: 365) { activities } }"}))
        .send()
        .await;
    assert!(abandoned.is_err(), "the client gave up");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = cpu_seconds(child.id());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let burnt = cpu_seconds(child.id()) - before;
    assert!(
        burnt < 0.4,
        "no script work after the client left: {burnt:.2} CPU-seconds in 1.5 s"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `sfa` run as a command in `dir`: (success, stdout, stderr).
fn sfa_command(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    sfa_command_with(dir, args, stdin, &[])
}

/// [`sfa_command`] with more environment variables.
fn sfa_command_with(
    dir: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
    envs: &[(&str, &str)],
) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sfa"))
        .args(args)
        .current_dir(dir)
        .env("SFA_PLUGINS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/plugins"))
        .env("SFA_LISTEN", "127.0.0.1:0")
        .env_remove("DATABASE_URL")
        .env_remove("SFA_CONFIG")
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sfa");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("sfa ends");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An operator on an empty server, with nothing but the binary: create a
/// company, its admin logs in, disable and enable it while the server runs,
/// set a locked-out admin's password, list, delete.
#[tokio::test(flavor = "multi_thread")]
async fn the_operator_creates_a_company_and_its_admin_logs_in() {
    let dir = std::env::temp_dir().join(format!("sfa-op-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (ok, out, err) = sfa_command(
        &dir,
        &[
            "company",
            "create",
            "--name",
            "Kita Sangyo",
            "--slug",
            "kita",
            "--admin-email",
            "ceo@kita.example",
        ],
        None,
    );
    assert!(ok, "{err}");
    assert!(out.contains("created company \"Kita Sangyo\" (kita)"), "{out}");
    assert!(!out.contains("INFO"), "logs stay on stderr: {out}");
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("one-time password: "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a one-time password is printed")
        .to_owned();
    let (ok, _, err) = sfa_command(
        &dir,
        &[
            "company",
            "create",
            "--name",
            "Again",
            "--slug",
            "kita",
            "--admin-email",
            "x@kita.example",
        ],
        None,
    );
    assert!(!ok && err.contains("already exists"), "{err}");

    // The README's next step: bring the organisation and the history in.
    let fixtures = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/history"));
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("file");
        path
    };
    // Teams, their members, then the teams again with their managers (the README's order).
    let files = [
        ("teams", write("teams.csv", "name,parent,manager_email\nSales,,\n")),
        (
            "members",
            write(
                "members.csv",
                "email,name,role,team\nmanager@acme.test,Mana Ger,manager,Sales\nrep@acme.test,Rep Resent,rep,Sales\n",
            ),
        ),
        (
            "teams",
            write("managers.csv", "name,parent,manager_email\nSales,,manager@acme.test\n"),
        ),
        ("customers", fixtures.join("customers.csv")),
        ("contacts", fixtures.join("contacts.csv")),
        ("products", fixtures.join("products.csv")),
        ("deals", fixtures.join("deals.csv")),
        ("deal-stage-history", fixtures.join("stage_history.csv")),
        ("activities", fixtures.join("activities.csv")),
        ("tasks", fixtures.join("tasks.csv")),
    ];
    for (kind, file) in &files {
        let path = file.to_string_lossy();
        let (ok, out, err) = sfa_command(&dir, &["import", kind, &path, "--company", "kita"], None);
        assert!(ok && out.starts_with("imported"), "{kind}: {out}{err}");
    }

    let (mut child, url) = serve(&dir, &["serve"], None).await;
    let http = reqwest::Client::new();
    let gql = |token: Option<String>, query: String| {
        let mut req = http.post(&url).json(&json!({"query": query}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.expect("request").json::<Value>().await.expect("json") }
    };
    let login = |password: String| {
        gql(
            None,
            format!(
                "mutation {{ login(email: \"ceo@kita.example\", password: \"{password}\", company: \"kita\") {{ token }} }}"
            ),
        )
    };
    let body = login(password.clone()).await;
    let token = body["data"]["login"]["token"].as_str().expect("token").to_owned();
    let me = gql(Some(token.clone()), "{ me { role } company { slug timeZone } }".into()).await;
    assert_eq!(
        me["data"],
        json!({"me": {"role": "ADMIN"}, "company": {"slug": "kita", "timeZone": "Asia/Tokyo"}})
    );

    // Invite the manager (imported members have no password yet), who runs the first query.
    let members = gql(
        Some(token.clone()),
        "{ members(first: 10) { nodes { id email } } }".into(),
    )
    .await;
    let manager = members["data"]["members"]["nodes"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["email"] == "manager@acme.test")
        .expect("the imported manager")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let reset = gql(
        Some(token.clone()),
        format!("mutation {{ resetMemberPassword(id: \"{manager}\") {{ temporaryPassword }} }}"),
    )
    .await;
    let temporary = reset["data"]["resetMemberPassword"]["temporaryPassword"]
        .as_str()
        .expect("password");
    let manager_login = gql(
        None,
        format!(
            "mutation {{ login(email: \"manager@acme.test\", password: \"{temporary}\", company: \"kita\") {{ token }} }}"
        ),
    )
    .await;
    let manager_token = manager_login["data"]["login"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let dashboard = gql(
        Some(manager_token.clone()),
        include_str!("../../docs/first-query.graphql").into(),
    )
    .await;
    assert!(dashboard.get("errors").is_none(), "{dashboard:#}");
    assert_eq!(dashboard["data"]["me"]["role"], "MANAGER");
    let funnel = gql(
        Some(manager_token),
        "{ pipeline { stages(asOf: \"2026-10-15T12:00:00Z\") { stage { key } deals } } }".into(),
    )
    .await;
    let total: i64 = funnel["data"]["pipeline"]["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(|s| s["deals"].as_i64())
        .sum();
    assert_eq!(total, 4, "the imported history's funnel of 2026-10-15: {funnel}");

    let (ok, out, err) = sfa_command(&dir, &["company", "disable", "kita"], None);
    assert!(ok && out.contains("disabled"), "{out}{err}");
    let refused = gql(Some(token.clone()), "{ me { id } }".into()).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "COMPANY_DISABLED",
        "{refused}"
    );
    let (ok, listed, _) = sfa_command(&dir, &["company", "list", "--json"], None);
    assert!(ok);
    let row: Value = serde_json::from_str(listed.lines().next().expect("one line")).expect("JSON line");
    assert_eq!((row["slug"].as_str(), row["members"].as_i64()), (Some("kita"), Some(3)));
    assert!(row["disabledAt"].is_string(), "{row}");
    assert!(sfa_command(&dir, &["company", "enable", "kita"], None).0);
    let again = gql(Some(token.clone()), "{ me { id } }".into()).await;
    assert!(again.get("errors").is_none(), "{again}");

    let (ok, _, err) = sfa_command(
        &dir,
        &[
            "member",
            "set-password",
            "--company",
            "kita",
            "--email",
            "ceo@kita.example",
            "--password-stdin",
        ],
        Some("a-brand-new-password\n"),
    );
    assert!(ok, "{err}");
    let old = gql(Some(token), "{ me { id } }".into()).await;
    assert_eq!(old["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{old}");
    assert!(login("a-brand-new-password".into()).await["data"]["login"]["token"].is_string());

    let (ok, _, err) = sfa_command(&dir, &["company", "delete", "kita"], None);
    assert!(!ok && err.contains("--confirm kita"), "{err}");
    let (ok, out, err) = sfa_command(&dir, &["company", "delete", "kita", "--confirm", "kita"], None);
    assert!(ok && out.contains("deleted kita"), "{out}{err}");
    let gone = login("a-brand-new-password".into()).await;
    assert_eq!(gone["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{gone}");
    let (_, listed, _) = sfa_command(&dir, &["company", "list"], None);
    assert!(listed.contains("0 companies"), "{listed}");

    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two replicas on one PostgreSQL database (the PostgreSQL run of the
/// suite; SQLite is one process): a version published on A runs on B
/// within a second — a stage move B refuses by the new exit check — and so
/// does a rollback.
#[tokio::test(flavor = "multi_thread")]
async fn a_process_published_on_one_replica_runs_on_the_other_within_a_second() {
    use sea_orm::ConnectionTrait;
    let Some(base) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
    else {
        return;
    };
    let name = format!("sfa_replicas_{}", uuid::Uuid::now_v7().simple());
    let server = sea_orm::Database::connect(&base).await.expect("connect");
    server
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let url = format!("{}/{name}", base.rsplit_once('/').expect("a database URL").0);
    let dir = std::env::temp_dir().join(format!("sfa-replicas-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = [("SFA_DATABASE_URL", url.as_str())];
    let (ok, _, err) = sfa_command_with(
        &dir,
        &[
            "company",
            "create",
            "--name",
            "Acme",
            "--slug",
            "acme",
            "--admin-email",
            "admin@acme.example",
            "--password-stdin",
        ],
        Some("replica-password-1\n"),
        &db,
    );
    assert!(ok, "{err}");
    let config = dir.join("sfa.toml");
    std::fs::write(&config, format!("listen = \"127.0.0.1:0\"\ndatabase_url = \"{url}\"\n")).expect("config");
    let (mut a, url_a) = serve(&dir, &["serve"], Some(&config)).await;
    let (mut b, url_b) = serve(&dir, &["serve"], Some(&config)).await;

    let http = reqwest::Client::new();
    let gql = |url: &str, token: Option<&str>, query: &str, variables: Value| {
        let mut req = http.post(url).json(&json!({"query": query, "variables": variables}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.expect("request").json::<Value>().await.expect("json") }
    };
    let login = gql(
        &url_a,
        None,
        "mutation { login(company: \"acme\", email: \"admin@acme.example\", password: \"replica-password-1\") { token } }",
        json!({}),
    )
    .await;
    let token = login["data"]["login"]["token"].as_str().expect("token").to_owned();
    let made = gql(
        &url_b,
        Some(&token),
        "mutation { c: createCustomer(input: {name: \"ACME\"}) { id } }",
        json!({}),
    )
    .await;
    let customer = made["data"]["c"]["id"].clone();
    let deal = gql(
        &url_b,
        Some(&token),
        "mutation($c: ID!) { createDeal(input: {customerId: $c, name: \"D\", stage: \"hearing\", amount: 1000}) { id version } }",
        json!({"c": customer}),
    )
    .await;
    let deal = deal["data"]["createDeal"].clone();
    let strict = "fn exit_check(deal, from, to) { if to == \"proposal\" { return \"refused by the new version\"; } }";
    let publish = "mutation($f: [ProcessFileInput!]!) { publishProcess(files: $f) { version } }";
    let published = gql(
        &url_a,
        Some(&token),
        publish,
        json!({"f": [{"name": "process.rhai", "source": strict}]}),
    )
    .await;
    assert_eq!(published["data"]["publishProcess"]["version"], 1, "{published:#}");
    let published_at = Instant::now();

    // B refuses the move by the new exit check, within a second.
    let probe = "mutation($id: ID!, $v: Int!) { moveDealStage(id: $id, version: $v, stage: \"proposal\") { version } }";
    let vars = json!({"id": deal["id"], "v": deal["version"]});
    let refused = gql(&url_b, Some(&token), probe, vars.clone()).await;
    assert!(published_at.elapsed() < Duration::from_secs(1));
    assert_eq!(
        refused["errors"][0]["message"], "refused by the new version",
        "{refused:#}"
    );
    let on_b = gql(&url_b, Some(&token), "{ process { storedVersion } }", json!({})).await;
    assert_eq!(on_b["data"]["process"]["storedVersion"], 1);

    // A rollback to the shipped default on A: B lets the move through.
    let back = gql(
        &url_a,
        Some(&token),
        "mutation { useShippedProcess(name: \"default\") { version } }",
        json!({}),
    )
    .await;
    assert_eq!(back["data"]["useShippedProcess"]["version"], 2, "{back:#}");
    let rolled_at = Instant::now();
    let moved = gql(&url_b, Some(&token), probe, vars.clone()).await;
    assert!(rolled_at.elapsed() < Duration::from_secs(1));
    assert!(moved.get("errors").is_none(), "{moved:#}");
    let again = gql(
        &url_a,
        Some(&token),
        "mutation { rollbackProcess(version: 1) { version } }",
        json!({}),
    )
    .await;
    assert_eq!(again["data"]["rollbackProcess"]["version"], 3, "{again:#}");
    let v = moved["data"]["moveDealStage"]["version"].clone();
    let back_to_hearing =
        "mutation($id: ID!, $v: Int!) { moveDealStage(id: $id, version: $v, stage: \"hearing\") { version } }";
    let hearing = gql(&url_b, Some(&token), back_to_hearing, json!({"id": deal["id"], "v": v})).await;
    let v = hearing["data"]["moveDealStage"]["version"].clone();
    let refused = gql(&url_b, Some(&token), probe, json!({"id": deal["id"], "v": v})).await;
    assert_eq!(
        refused["errors"][0]["message"], "refused by the new version",
        "{refused:#}"
    );

    for child in [&mut a, &mut b] {
        let _ = child.kill();
        let _ = child.wait();
    }
    drop(
        server
            .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await,
    );
}
