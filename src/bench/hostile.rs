//! Hostile requests (`sfa reliability hostile`): documents and bodies an
//! attacker would send, each repeated, against this binary started as the
//! server, while a probe keeps asking `/healthz` and a simple query. Each
//! must be answered with its code (or HTTP status) in under 100 ms, and the
//! probe's p99 must stay under 50 ms.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use super::{
    http::{Http, Server},
    load::{Load, Stats, bench_company, op, sign_in},
};
use crate::error::{AppError, AppResult};

/// Connections sending each hostile request at the same time.
const ATTACKERS: usize = 4;
/// Target for each hostile request.
const ANSWER_MS: f64 = 100.0;
/// Target for the probe's p99.
const PROBE_P99_MS: f64 = 50.0;

/// One kind of hostile request.
#[derive(Debug, Serialize)]
pub struct Case {
    /// What it is.
    pub name: String,
    /// Bytes sent.
    pub bytes: usize,
    /// What may answer it: `extensions.code`s and/or `HTTP nnn`.
    pub expected: Vec<String>,
    /// What answered it (distinct).
    pub got: Vec<String>,
    /// Milliseconds.
    pub p50_ms: f64,
    /// Milliseconds.
    pub max_ms: f64,
}

impl Case {
    fn answered_right(&self) -> bool {
        !self.got.is_empty() && self.got.iter().all(|g| self.expected.contains(g))
    }
}

/// The run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Times each request was sent.
    pub repeats: usize,
    /// Each kind.
    pub cases: Vec<Case>,
    /// `/healthz` meanwhile.
    pub healthz: Stats,
    /// `{ me { id } }` meanwhile.
    pub query: Stats,
}

impl Report {
    /// Every request answered with its code, and the probe never failed.
    pub fn answered_right(&self) -> bool {
        self.cases.iter().all(Case::answered_right) && self.healthz.failures == 0 && self.query.failures == 0
    }

    /// Every time target met.
    pub fn in_time(&self) -> bool {
        self.cases.iter().all(|c| c.max_ms < ANSWER_MS)
            && self.healthz.p99_ms < PROBE_P99_MS
            && self.query.p99_ms < PROBE_P99_MS
    }

    /// The report as a table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "hostile requests, each sent {} times (target: its code in < {ANSWER_MS} ms)\n\n{:<34} {:>9}  {:>7} {:>7}  {:<56} answered with\n",
            self.repeats, "request", "bytes", "p50 ms", "max ms", "expected"
        );
        for c in &self.cases {
            out.push_str(&format!(
                "{:<34} {:>9}  {:>7.1} {:>7.1}  {:<56} {}{}\n",
                c.name,
                c.bytes,
                c.p50_ms,
                c.max_ms,
                c.expected.join(" | "),
                c.got.join(", "),
                if !c.answered_right() {
                    "  WRONG"
                } else if c.max_ms >= ANSWER_MS {
                    "  SLOW"
                } else {
                    ""
                }
            ));
        }
        for (name, s) in [("/healthz", &self.healthz), ("{ me { id } }", &self.query)] {
            out.push_str(&format!(
                "\nmeanwhile {name}: {} answers, p50 {:.1} ms, p99 {:.1} ms (target < {PROBE_P99_MS}), max {:.1} ms, {} failed",
                s.ops, s.p50_ms, s.p99_ms, s.max_ms, s.failures
            ));
            if let Some(f) = &s.first_failure {
                out.push_str(&format!(" (first: {f})"));
            }
        }
        out.push_str(&format!(
            "\n\n{}\n",
            match (self.answered_right(), self.in_time()) {
                (true, true) => "PASS: every request answered with its code, in time",
                (true, false) => "codes PASS, time targets MISSED (see SLOW / p99)",
                _ => "FAIL: a request was answered wrongly or the probe failed",
            }
        ));
        out
    }
}

/// A request as sent: method, path, body, content type.
struct Raw {
    name: String,
    method: &'static str,
    path: String,
    body: Vec<u8>,
    expected: &'static [&'static str],
}

fn post(name: &str, body: Value, expected: &'static [&'static str]) -> Raw {
    Raw {
        name: name.into(),
        method: "POST",
        path: "/graphql".into(),
        body: serde_json::to_vec(&body).unwrap_or_default(),
        expected,
    }
}

fn cases() -> Vec<Raw> {
    const N: usize = 10_000;
    let q = |query: String| json!({ "query": query });
    let depth = format!("{{{}b{}", "a{".repeat(N), "}".repeat(N + 1));
    let mut chain = "query { ...F0 }".to_owned();
    for i in 0..N {
        chain.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
    }
    chain.push_str(&format!(" fragment F{N} on Query {{ __typename }}"));
    let mut doubling = "query { ...F0 }".to_owned();
    for i in 0..60 {
        doubling.push_str(&format!(" fragment F{i} on Query {{ ...F{n} ...F{n} }}", n = i + 1));
    }
    doubling.push_str(" fragment F60 on Query { __typename }");
    let directives = format!("{{ __typename {} }}", "@include(if: true) ".repeat(N));
    let few_directives = format!("{{ __typename {} }}", "@skip(if: false) ".repeat(1000));
    let aliases: String = (0..N).map(|i| format!("a{i}: __typename ")).collect();
    let heavy_aliases: String = (0..800)
        .map(|i| format!("a{i}: deals(first: 100) {{ nodes {{ id }} }} "))
        .collect();
    let batch: Vec<Value> = (0..1000).map(|_| json!({"query": "{ me { id } }"})).collect();
    let mut nested_vars = String::new();
    for _ in 0..N {
        nested_vars.push('[');
    }
    nested_vars.push_str(&"]".repeat(N));
    let too_deep = &["QUERY_TOO_DEEP"][..];
    vec![
        post("depth bomb, 10,000 levels", q(depth), too_deep),
        post(
            "fragment chain, 10,000 levels",
            q(chain),
            &["QUERY_TOO_LARGE", "QUERY_TOO_DEEP"],
        ),
        post(
            "fragment doubling, 2^60 fields",
            q(doubling),
            &["QUERY_TOO_DEEP", "QUERY_TOO_COMPLEX", "TOO_MANY_FIELDS"],
        ),
        post(
            "10,000 directives on one field",
            q(directives),
            &["QUERY_TOO_LARGE", "TOO_MANY_DIRECTIVES"],
        ),
        post(
            "1,000 directives on one field",
            q(few_directives),
            &["TOO_MANY_DIRECTIVES"],
        ),
        post(
            "10,000 aliases",
            q(format!("{{ {aliases} }}")),
            &["QUERY_TOO_LARGE", "TOO_MANY_ALIASES"],
        ),
        post(
            "800 aliased pages of 100",
            q(format!("{{ {heavy_aliases} }}")),
            &["TOO_MANY_ALIASES", "QUERY_TOO_COMPLEX"],
        ),
        Raw {
            name: "batch array of 1,000 queries".into(),
            method: "POST",
            path: "/graphql".into(),
            body: serde_json::to_vec(&batch).unwrap_or_default(),
            expected: &["HTTP 400"],
        },
        Raw {
            name: "variables nested 10,000 deep".into(),
            method: "POST",
            path: "/graphql".into(),
            body: format!(r#"{{"query":"{{ __typename }}","variables":{{"x":{nested_vars}}}}}"#).into_bytes(),
            expected: &["HTTP 400"],
        },
        Raw {
            name: "10 MB body".into(),
            method: "POST",
            path: "/graphql".into(),
            body: {
                let mut b = br#"{"query":"{ __typename }","variables":{"x":""#.to_vec();
                b.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
                b.extend(br#""}}"#);
                b
            },
            expected: &["HTTP 413"],
        },
        Raw {
            name: "mutation over GET".into(),
            method: "GET",
            path: "/graphql?query=mutation%20%7B%20__typename%20%7D".into(),
            body: Vec::new(),
            expected: &["HTTP 405"],
        },
    ]
}

/// Sends `r` over its own connection (the server may answer before reading a
/// huge body, which an HTTP client library reports as a failure) and returns
/// what answered: the first error's code, or `HTTP nnn` for a non-200.
async fn send(base: &str, token: &str, r: &Raw) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "{} {} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nauthorization: Bearer {token}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        r.method,
        r.path,
        r.body.len()
    );
    let body = r.body.clone();
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        wr.write_all(&body).await?;
        Ok::<_, std::io::Error>(wr)
    });
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), rd.read_to_end(&mut raw)).await;
    writer.abort();
    if read.is_err() {
        return Err("no answer within 30 s".into());
    }
    let text = String::from_utf8_lossy(&raw);
    let status: u16 = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    if status != 200 {
        return Ok(format!("HTTP {status}"));
    }
    let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap_or("")).unwrap_or(Value::Null);
    Ok(body["errors"][0]["extensions"]["code"]
        .as_str()
        .map_or_else(|| "no error".to_owned(), str::to_owned))
}

/// Runs the harness (see the module's doc).
pub async fn run(
    db: &sea_orm::DatabaseConnection,
    config: Option<&std::path::Path>,
    repeats: usize,
) -> AppResult<Report> {
    let server = Server::start(config).await?;
    let result = attack(db, &server.http, repeats).await;
    server.stop(result.as_ref().map_or(true, |r| !r.answered_right())).await;
    result
}

async fn attack(db: &sea_orm::DatabaseConnection, http: &Http, repeats: usize) -> AppResult<Report> {
    let company = bench_company(db).await?;
    let token = sign_in(db, http, company, "rep").await?;
    let (h, t) = (http.clone(), token.clone());
    let healthz = Load::start(
        op(move |_, _| {
            let h = h.clone();
            async move { h.get("/healthz").await.map(|_| ()) }
        }),
        1,
        Some(50.0),
    );
    let h = http.clone();
    let query = Load::start(
        op(move |_, _| {
            let (h, t) = (h.clone(), t.clone());
            async move { h.post(Some(&t), "{ me { id } }", json!({}), false).await.map(|_| ()) }
        }),
        1,
        Some(50.0),
    );
    let mut out = Vec::new();
    for r in cases() {
        let r = std::sync::Arc::new(r);
        // ATTACKERS connections send the request at once, `repeats` times in all.
        let attackers: Vec<_> = (0..ATTACKERS)
            .map(|a| {
                let (r, base, token) = (r.clone(), http.base().to_owned(), token.clone());
                let n = repeats.max(1) / ATTACKERS + usize::from(a < repeats.max(1) % ATTACKERS);
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    for _ in 0..n {
                        let t0 = Instant::now();
                        let answer = send(&base, &token, &r).await?;
                        seen.push((t0.elapsed().as_micros() as u64, answer));
                    }
                    Ok::<_, String>(seen)
                })
            })
            .collect();
        let mut lat = Vec::new();
        let mut got: Vec<String> = Vec::new();
        for a in attackers {
            let seen = a
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?
                .map_err(AppError::bad)?;
            for (us, answer) in seen {
                lat.push(us);
                if !got.contains(&answer) {
                    got.push(answer);
                }
            }
        }
        let Ok(r) = std::sync::Arc::try_unwrap(r) else {
            return Err(AppError::Internal("attackers still running".into()));
        };
        let s = Stats::of(lat, vec![], 1.0);
        out.push(Case {
            name: r.name,
            bytes: r.body.len(),
            expected: r.expected.iter().map(|e| (*e).to_owned()).collect(),
            got,
            p50_ms: s.p50_ms,
            max_ms: s.max_ms,
        });
    }
    Ok(Report {
        repeats: repeats.max(1),
        cases: out,
        healthz: healthz.finish().await,
        query: query.finish().await,
    })
}
