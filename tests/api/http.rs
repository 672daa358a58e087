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

/// Reads until the server closes the connection (or `limit` passes);
/// returns what it sent and how long it took to close.
async fn until_closed(
    stream: &mut tokio::net::TcpStream,
    limit: std::time::Duration,
) -> (Vec<u8>, Option<std::time::Duration>) {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        match tokio::time::timeout(limit - started.elapsed(), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, Some(started.elapsed())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    (got, None)
}

/// A client trickling its headers, one holding an idle keep-alive
/// connection: both are closed after `header_timeout_secs`.
#[tokio::test(flavor = "multi_thread")]
async fn slow_and_idle_connections_are_closed() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn_with(|c| c.header_timeout_secs = 1).await;

    let mut slow = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    slow.write_all(b"POST /graphql HTTP/1.1\r\nhost: test\r\n")
        .await
        .expect("write");
    let trickle = {
        let (_, mut wr) = slow.split();
        async move {
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if wr.write_all(b"x").await.is_err() {
                    break;
                }
            }
        }
    };
    trickle.await;
    let (_, closed) = until_closed(&mut slow, Duration::from_secs(3)).await;
    assert!(closed.is_some(), "a connection trickling its headers is closed");

    let mut idle = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    idle.write_all(b"GET /version HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .expect("write");
    let (answer, closed) = until_closed(&mut idle, Duration::from_secs(4)).await;
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "answered first"
    );
    let closed = closed.expect("an idle keep-alive connection is closed");
    assert!(closed < Duration::from_millis(2500), "after about a second: {closed:?}");
}

/// Connections beyond the caps, per client address and in all, are
/// answered 503 TOO_MANY_CONNECTIONS and closed; the others are served.
#[tokio::test(flavor = "multi_thread")]
async fn connections_beyond_the_caps_are_refused_clearly() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    for (per_client, total) in [(3, 100), (100, 3)] {
        let app = TestApp::spawn_with(|c| {
            c.max_connections_per_client = per_client;
            c.max_connections = total;
        })
        .await;
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(tokio::net::TcpStream::connect(app.addr).await.expect("connect"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut extra = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
        let _ = extra.write_all(b"GET /version HTTP/1.1\r\nhost: test\r\n\r\n").await;
        let (answer, closed) = until_closed(&mut extra, Duration::from_secs(3)).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 503"), "refused: {text}");
        assert!(text.contains("TOO_MANY_CONNECTIONS"), "with a code: {text}");
        assert!(closed.is_some(), "and closed");
        drop(held);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let ok = app.http.get(app.url("/version")).send().await.expect("served again");
        assert_eq!(ok.status(), 200, "served once connections are free");
    }
}

/// A WebSocket that never sends `connection_init` is closed with 4408
/// (graphql-transport-ws), after `ws_init_timeout_secs`.
#[tokio::test(flavor = "multi_thread")]
async fn a_websocket_without_connection_init_is_closed_with_4408() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn_with(|c| c.graphql.ws_init_timeout_secs = 1).await;
    let mut ws = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    ws.write_all(
        b"GET /graphql/ws HTTP/1.1\r\nhost: test\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
          sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\
          sec-websocket-protocol: graphql-transport-ws\r\n\r\n",
    )
    .await
    .expect("handshake");
    let started = std::time::Instant::now();
    let (got, closed) = until_closed(&mut ws, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "closed");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 101"), "upgraded: {text}");
    let frame = &got[got.windows(4).position(|w| w == b"\r\n\r\n").expect("end of head") + 4..];
    assert_eq!(frame.first(), Some(&0x88), "a close frame: {frame:?}");
    let code = u16::from_be_bytes([frame[2], frame[3]]);
    assert_eq!(code, 4408, "{:?}", String::from_utf8_lossy(&frame[4..]));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "after the timeout, not at once"
    );
}
