//! The README's path, on the real binary: `sfa serve --demo` on a fresh
//! directory, the first query, then a graceful stop on SIGTERM.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

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
    let mut child = Command::new(env!("CARGO_BIN_EXE_sfa"))
        .args(["serve", "--demo"])
        .current_dir(&dir)
        .env("SFA_CONFIG", &config)
        .env("SFA_PLUGINS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/plugins"))
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sfa");
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
