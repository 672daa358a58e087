use serde_json::{Value, json};

use crate::common::TestApp;

/// POSTs over a raw socket: the server may answer (413) before taking the
/// whole body, and an HTTP client library would report that as a failure.
async fn post_raw(app: &TestApp, body: Vec<u8>, chunked: bool) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let framing = if chunked {
        "transfer-encoding: chunked".to_owned()
    } else {
        format!("content-length: {}", body.len())
    };
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n{framing}\r\nconnection: close\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        for part in body.chunks(64 * 1024) {
            if chunked {
                wr.write_all(format!("{:x}\r\n", part.len()).as_bytes()).await?;
                wr.write_all(part).await?;
                wr.write_all(b"\r\n").await?;
            } else {
                wr.write_all(part).await?;
            }
        }
        if chunked {
            wr.write_all(b"0\r\n\r\n").await?;
        }
        // Hand the socket back: dropping it would half-close the connection,
        // and a server may drop a request whose client hung up.
        Ok::<_, std::io::Error>(wr)
    });
    let mut raw = Vec::new();
    let _ = rd.read_to_end(&mut raw).await;
    writer.abort();
    let text = String::from_utf8_lossy(&raw);
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_get_graphql_errors_with_codes() {
    let app = TestApp::spawn().await;
    let big = serde_json::to_vec(&json!({"query": "{ __typename }", "variables": {"x": "a".repeat(3_000_000)}}))
        .expect("json");
    for chunked in [false, true] {
        let (status, body) = post_raw(&app, big.clone(), chunked).await;
        assert_eq!(status, 413, "chunked={chunked}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "PAYLOAD_TOO_LARGE");
    }
    let (status, body) = post_raw(&app, b"{not json".to_vec(), false).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let batch = br#"[{"query":"{ __typename }"},{"query":"{ __typename }"}]"#.to_vec();
    let (status, body) = post_raw(&app, batch, false).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mutation_over_get_is_not_executed() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let before = app.rows("customer").await;
    let resp = app
        .http
        .get(app.url("/graphql"))
        .query(&[(
            "query",
            "mutation { createCustomer(input: {name: \"via GET\"}) { id } }",
        )])
        .bearer_auth(&t.admin.token)
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "METHOD_NOT_ALLOWED");
    assert_eq!(app.rows("customer").await, before);
    // Without an operation, GET is the GraphiQL page.
    let page = app.http.get(app.url("/graphql")).send().await.expect("get");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("GraphiQL"));
}
