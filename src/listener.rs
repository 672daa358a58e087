//! The HTTP listener: accepts connections, refuses those beyond the caps
//! (in total and per client address), closes connections that are slow or
//! silent, and serves the rest with the application router. `axum::serve`
//! sets none of these limits: a client trickling its headers, or holding an
//! idle keep-alive connection, could keep a socket forever.
//!
//! - A connection must send a request's headers within
//!   `header_timeout_secs`, counted from when it starts waiting for that
//!   request: the same timer closes slow headers and idle keep-alive
//!   connections. Bodies and handlers are bounded by `request_timeout_secs`.
//! - `max_connections` open connections in all, `max_connections_per_client`
//!   from one address (trusted proxies are not counted per client): beyond
//!   them a connection gets `503` with a JSON error and is closed at once.

use std::{
    collections::HashMap,
    future::Future,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, extract::ConnectInfo};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{io::AsyncWriteExt, net::TcpListener};

use crate::config::Config;

/// The listener's limits, from the configuration.
#[derive(Debug, Clone)]
pub struct Limits {
    /// See `Config::header_timeout_secs`.
    pub header_timeout: Duration,
    /// See `Config::max_connections`.
    pub max_connections: usize,
    /// See `Config::max_connections_per_client`.
    pub max_connections_per_client: usize,
    /// Addresses not counted per client (the load balancer in front).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Limits {
    /// The limits `config` sets.
    pub fn of(config: &Config) -> Self {
        Self {
            header_timeout: Duration::from_secs(config.header_timeout_secs.max(1)),
            max_connections: config.max_connections.max(1),
            max_connections_per_client: config.max_connections_per_client.max(1),
            trusted_proxies: config.trusted_proxies.clone(),
        }
    }
}

/// Open connections, in all and per client address.
#[derive(Default)]
struct Open {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// One open connection, counted until dropped.
struct Slot {
    open: Arc<Mutex<Open>>,
    client: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Ok(mut open) = self.open.lock() else { return };
        open.total = open.total.saturating_sub(1);
        if let Some(ip) = self.client
            && let Some(n) = open.per_client.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                open.per_client.remove(&ip);
            }
        }
    }
}

/// Why a connection was refused, or its slot.
fn admit(open: &Arc<Mutex<Open>>, limits: &Limits, peer: IpAddr) -> Result<Slot, &'static str> {
    let counted = !limits.trusted_proxies.iter().any(|net| net.contains(&peer));
    let mut state = open.lock().map_err(|_| "the server is restarting")?;
    if state.total >= limits.max_connections {
        return Err("the server has too many open connections; try again shortly");
    }
    if counted {
        let n = state.per_client.entry(peer).or_insert(0);
        if *n >= limits.max_connections_per_client {
            return Err("too many open connections from your address; close some and try again");
        }
        *n += 1;
    }
    state.total += 1;
    Ok(Slot {
        open: open.clone(),
        client: counted.then_some(peer),
    })
}

/// Answers a refused connection with 503 and closes it.
async fn refuse(mut stream: tokio::net::TcpStream, why: &str) {
    let body =
        serde_json::json!({"errors": [{"message": why, "extensions": {"code": "TOO_MANY_CONNECTIONS"}}]}).to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(response.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops
/// accepting and waits for the open connections to finish their requests
/// (idle keep-alive connections close at once; the caller bounds the wait).
/// Each request carries the client's socket address as `ConnectInfo`.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, shutdown: impl Future<Output = ()>) {
    let open: Arc<Mutex<Open>> = Arc::default();
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match admit(&open, &limits, peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                tracing::warn!(client = %peer.ip(), reason = why, "connection refused");
                tokio::spawn(refuse(stream, why));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            let mut router = router.clone();
            async move { tower::Service::call(&mut router, req).await }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            tokio::pin!(conn);
            // Errors here are the client's: a reset, a header timeout.
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => {
                    // The request in flight finishes; keep-alive ends.
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    stopping.send_replace(true);
    while open.lock().map_or(0, |o| o.total) > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The client's address of a request (see [`serve`]), if the listener set it.
pub fn peer(extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}
