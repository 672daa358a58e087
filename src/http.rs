//! HTTP endpoints: `POST /graphql` (the API), `GET /graphql` (GraphiQL),
//! `GET /graphql/ws` (subscriptions over WebSocket), `GET /api/aggregate.csv`
//! (the BI aggregate as CSV), `GET /healthz`, `POST /operator/graphql` (the
//! operator API, when configured).

use std::time::Duration;

use async_graphql::{ParseRequestError, ServerError, dataloader::DataLoader, http::GraphiQLSource};
use async_graphql_axum::{
    GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket, rejection::GraphQLRejection,
};
use axum::{
    Json, Router,
    extract::{State, WebSocketUpgrade},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use tower_http::{catch_panic::CatchPanicLayer, limit::RequestBodyLimitLayer, timeout::TimeoutLayer};

use crate::{
    error::AppError,
    graphql::{batch::LoadQueue, export::csv_field, limits, loader::AppLoader},
    service,
    state::AppState,
};

/// The application router.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    let router = Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/graphql/ws", get(graphql_ws))
        .route("/operator/graphql", axum::routing::post(operator))
        .route("/api/aggregate.csv", get(aggregate_csv))
        .route("/healthz", get(healthz))
        .route("/version", get(version));
    let router = if state.config.serves_metrics() {
        router.route("/metrics", get(metrics))
    } else {
        router
    };
    router
        .fallback(not_found)
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, timeout))
        .layer(axum::middleware::map_response(json_limit_errors))
        .layer(CatchPanicLayer::custom(|_| {
            // A panic is a bug; the client still gets a GraphQL-shaped error.
            tracing::error!("panic while serving a request");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error; it has been logged",
            )
        }))
}

/// The GraphiQL page (off in production unless `graphql.graphiql`).
/// Operations are not run over GET (a link or an image tag could then make
/// a signed-in browser write): a GET carrying a query is answered 405.
async fn graphiql(State(state): State<AppState>, uri: axum::http::Uri) -> Response {
    let has_query = uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv.split('=').next() == Some("query")));
    if has_query {
        let mut resp = json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "send GraphQL operations with POST (application/json)",
        );
        resp.headers_mut()
            .insert(axum::http::header::ALLOW, axum::http::HeaderValue::from_static("POST"));
        return resp;
    }
    if !state.config.serves_graphiql() {
        return json_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "GraphiQL is off in production; send operations with POST, or set graphql.graphiql = true",
        );
    }
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .title("SFA GraphQL")
            .finish(),
    )
    .into_response()
}

/// 200 when the database answers: as the monitor last saw it over its own
/// connection (a saturated pool does not fail the check), or, when no
/// monitor runs, by a ping through the pool that gives up after 2 s.
async fn healthz(State(state): State<AppState>) -> Response {
    use crate::state::DbHealth;
    let ping = match state.breaker.health() {
        DbHealth::Reachable => Ok(()),
        DbHealth::Unreachable => Err(sea_orm::DbErr::Custom("the database is down".into())),
        DbHealth::Unknown => tokio::time::timeout(Duration::from_secs(2), state.db.ping())
            .await
            .unwrap_or_else(|_| Err(sea_orm::DbErr::Custom("no answer within 2 s".into()))),
    };
    match ping {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "database unavailable"})),
            )
                .into_response()
        }
    }
}

/// The server's name and version: static JSON, no database (also the
/// benchmark's floor for what any HTTP answer costs).
async fn version() -> Json<serde_json::Value> {
    Json(serde_json::json!({"name": "sfa", "version": env!("CARGO_PKG_VERSION")}))
}

/// Prometheus counters (see [`crate::metrics`]); off in production unless
/// `metrics = true`, and behind a bearer token when `metrics_token` is set.
async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(token) = &state.config.metrics_token
        && !bearer_is(&headers, token)
    {
        let mut resp = json_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "/metrics needs Authorization: Bearer <metrics_token>",
        );
        resp.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
        return resp;
    }
    (
        [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// Whether the request's `Authorization: Bearer` is `secret` (compared in constant time).
fn bearer_is(headers: &HeaderMap, secret: &str) -> bool {
    use subtle::ConstantTimeEq;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    bool::from(given.as_bytes().ct_eq(secret.as_bytes()))
}

/// The operator API (see [`crate::graphql::operator`]): 404 unless
/// `operator_key` is configured, 401 without it (a member's token included).
async fn operator(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: Result<GraphQLRequest, GraphQLRejection>,
) -> Response {
    let Some(key) = &state.config.operator_key else {
        return json_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "the operator API is off on this server; set operator_key to turn it on",
        );
    };
    if !bearer_is(&headers, key) {
        let mut resp = json_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "the operator API needs Authorization: Bearer <operator_key>; a member's token does not open it",
        );
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        return resp;
    }
    let request = match req {
        Ok(req) => req.into_inner(),
        Err(rejection) => return rejected(rejection.0),
    };
    if state.breaker.is_open() {
        return error_response(AppError::Db(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal(
            "the circuit breaker is open".into(),
        ))))
        .into_response();
    }
    let mut response = state.operator.execute(request).await;
    code_builtin_errors(&mut response.errors);
    GraphQLResponse::from(response).into_response()
}

/// Errors raised by the GraphQL layer itself (syntax, validation, argument
/// coercion, limits) carry no code: they are all the client's input.
fn code_builtin_errors(errors: &mut [ServerError]) {
    for error in errors {
        let has_code = error.extensions.as_ref().is_some_and(|ext| ext.get("code").is_some());
        if !has_code {
            let code = limits::code_of_builtin(&error.message).unwrap_or("BAD_USER_INPUT");
            if let Some(short) = limits::tidy_parse_message(&error.message) {
                error.message = short;
            }
            error.extensions.get_or_insert_with(Default::default).set("code", code);
        }
    }
}

/// The client of a request: the socket's address, or for a request from a
/// trusted proxy the last address of `X-Forwarded-For` that is not one.
pub fn client_of(
    config: &crate::config::Config,
    extensions: &axum::http::Extensions,
    headers: &HeaderMap,
) -> service::auth::Client {
    let trusted = |ip: &std::net::IpAddr| config.trusted_proxies.iter().any(|net| net.contains(ip));
    let mut addr = crate::listener::peer(extensions).map(|p| p.ip());
    if addr.as_ref().is_some_and(trusted) {
        let forwarded: Vec<std::net::IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        if let Some(client) = forwarded.iter().rev().find(|ip| !trusted(ip)).or(forwarded.first()) {
            addr = Some(*client);
        }
    }
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(256)
        .collect();
    service::auth::Client { addr, user_agent }
}

async fn graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    req: Result<GraphQLRequest, GraphQLRejection>,
) -> Response {
    let mut request = match req {
        Ok(req) => req.into_inner(),
        Err(rejection) => return rejected(rejection.0),
    };
    request = request.data(client_of(&state.config, &extensions, &headers));
    if state.breaker.is_open() {
        return error_response(AppError::Db(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal(
            "the circuit breaker is open".into(),
        ))))
        .into_response();
    }
    let loads = LoadQueue::default();
    // Ends the request's script budget when the request ends, however it
    // ends: answered, timed out (the timeout layer drops this future) or
    // abandoned by the client.
    let mut _scripts_end = None;
    match authenticate(&state, &headers).await {
        Ok(Some(mut actor)) => {
            let deadline = std::time::Instant::now() + Duration::from_secs(state.config.request_timeout_secs);
            actor.scripts = crate::plugins::ScriptBudget::for_request(&state.plugins.limits(), Some(deadline));
            _scripts_end = Some(actor.scripts.guard());
            let queue = loads.clone();
            let actor = std::sync::Arc::new(actor);
            let loader = DataLoader::new(AppLoader::new(state.db.clone(), actor.clone()), move |f| queue.spawn(f))
                // Batches run when the request is quiescent (see `batch`), not after a timer.
                .delay(Duration::ZERO)
                .max_batch_size(1000);
            request = request.data(actor.as_ref().clone()).data(loader);
        }
        Ok(None) => {}
        Err(err) => return error_response(err).into_response(),
    }
    let mut response = loads.run(state.schema.execute(request)).await;
    let down = response.errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|ext| ext.get("reason"))
            .is_some_and(|r| *r == async_graphql::Value::from("DATABASE_DOWN"))
    });
    if down {
        state.breaker.trip(&state.db);
    }
    code_builtin_errors(&mut response.errors);
    collapse_server_failures(&mut response.errors);
    state.metrics.request(!response.errors.is_empty());
    GraphQLResponse::from(response).into_response()
}

/// A failure of the server's own (the database unavailable, an internal
/// error) hits every field that needed it: a page of customers with nested
/// lists gets hundreds of copies of one error. The client needs it once; the
/// first copy, with its path, stays.
fn collapse_server_failures(errors: &mut Vec<ServerError>) {
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| {
        let code = e
            .extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .and_then(|c| match c {
                async_graphql::Value::String(s) => Some(s.clone()),
                _ => None,
            });
        match code.as_deref() {
            Some("UNAVAILABLE" | "INTERNAL" | "TIMEOUT") => seen.insert((code, e.message.clone())),
            _ => true,
        }
    });
}

/// Subscriptions: `graphql-transport-ws` (what the `graphql-ws` client
/// speaks) or the older `graphql-ws` protocol. The `connection_init`
/// payload carries the token: `{"authorization": "Bearer <token>"}` (or
/// `{"token": "<token>"}`); without a valid one the server closes the
/// socket with 4403 and the reason.
async fn graphql_ws(State(state): State<AppState>, protocol: GraphQLProtocol, upgrade: WebSocketUpgrade) -> Response {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };

    use axum::extract::ws::Message;
    use futures_util::{SinkExt, StreamExt};

    let schema = state.schema.clone();
    let refused = Arc::new(AtomicBool::new(false));
    // The token the connection signed in with, checked again periodically.
    let signed_in: Arc<std::sync::OnceLock<String>> = Arc::default();
    let recheck = Duration::from_secs(state.config.graphql.ws_auth_recheck_secs.max(1));
    let watcher_state = state.clone();
    upgrade
        // The 128 KiB defaults, allocated per socket, cost 250 KiB for each
        // idle subscriber; messages here are small, and larger ones still
        // arrive, read in several chunks. Writes go out at once.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(256 * 1024)
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let (sink, stream) = socket.split();
            // async-graphql closes a refused connection_init with 1002
            // (protocol error); the protocol asks for 4403 (Forbidden), which
            // tells a client not to retry with the same token.
            let flag = refused.clone();
            let sink = sink.with(move |msg: Message| {
                let msg = match msg {
                    Message::Close(Some(mut frame)) if frame.code == 1002 && flag.load(Ordering::Acquire) => {
                        frame.code = 4403;
                        Message::Close(Some(frame))
                    }
                    other => other,
                };
                std::future::ready(Ok::<_, axum::Error>(msg))
            });
            // The connection ends once its token stops being valid.
            let token = signed_in.clone();
            let revoked = async move {
                loop {
                    tokio::time::sleep(recheck).await;
                    if let Some(t) = token.get()
                        && let Err(e) = authenticate_token(&watcher_state, t).await
                    {
                        tracing::info!(reason = %e.message(), "closing a WebSocket whose token is no longer valid");
                        return;
                    }
                }
            };
            let stream = stream.take_until(Box::pin(revoked));
            // The sink is shared so that a stopping server can still send
            // its close frame once the GraphQL side is dropped.
            let sink = Arc::new(tokio::sync::Mutex::new(sink));
            let graphql_sink = futures_util::sink::unfold(sink.clone(), |sink, msg: Message| async move {
                sink.lock().await.send(msg).await?;
                Ok::<_, axum::Error>(sink)
            });
            let shutdown = state.shutdown.clone();
            let open = shutdown.socket();
            // graphql-transport-ws: a client that has not sent
            // `connection_init` in time is closed with 4408.
            let init_timeout = Duration::from_secs(state.config.graphql.ws_init_timeout_secs.max(1));
            let initialised = signed_in.clone();
            let uninitialised = async move {
                tokio::time::sleep(init_timeout).await;
                if initialised.get().is_some() {
                    std::future::pending::<()>().await;
                }
            };
            let serve = GraphQLWebSocket::new_with_pair(graphql_sink, stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let data = ws_init(state, payload, signed_in).await;
                    if data.is_err() {
                        refused.store(true, Ordering::Release);
                    }
                    data
                })
                .serve();
            async move {
                tokio::select! {
                    () = serve => {}
                    () = shutdown.stopping() => {
                        let frame = axum::extract::ws::CloseFrame {
                            code: 1001,
                            reason: "the server is restarting; reconnect shortly".into(),
                        };
                        let mut sink = sink.lock().await;
                        let _ = sink.send(Message::Close(Some(frame))).await;
                        let _ = sink.close().await;
                    }
                    () = uninitialised => {
                        let frame = axum::extract::ws::CloseFrame {
                            code: 4408,
                            reason: "Connection initialisation timeout".into(),
                        };
                        let mut sink = sink.lock().await;
                        let _ = sink.send(Message::Close(Some(frame))).await;
                        let _ = sink.close().await;
                    }
                }
                drop(open);
            }
        })
}

async fn ws_init(
    state: AppState,
    payload: serde_json::Value,
    signed_in: std::sync::Arc<std::sync::OnceLock<String>>,
) -> async_graphql::Result<async_graphql::Data> {
    let token = ["authorization", "Authorization", "token"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
        .map(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v)
                .trim()
                .to_owned()
        });
    let Some(token) = token else {
        return Err("send your token in the connection_init payload: {\"authorization\": \"Bearer <token>\"}".into());
    };
    let actor = authenticate_token(&state, &token)
        .await
        .map_err(|e| async_graphql::Error::new(e.message()))?;
    let _ = signed_in.set(token);
    let actor = std::sync::Arc::new(actor);
    let loader = DataLoader::new(AppLoader::new(state.db.clone(), actor.clone()), tokio::spawn);
    let mut data = async_graphql::Data::default();
    data.insert(actor.as_ref().clone());
    data.insert(loader);
    Ok(data)
}

/// The member (or API key) behind a token, as every request checks it:
/// signature, expiry, active member, current sign-in, unrevoked key.
async fn authenticate_token(state: &AppState, token: &str) -> Result<service::Actor, AppError> {
    if service::api_keys::is_api_key(token) {
        service::api_keys::authenticate(&state.db, &state.plugins, token).await
    } else {
        let claims = state.keys.verify(token)?;
        service::auth::actor_for(&state.db, &state.plugins, &claims).await
    }
}

/// A request that is not a GraphQL request at all, answered as one anyway.
fn rejected(err: ParseRequestError) -> Response {
    let too_large = matches!(&err, ParseRequestError::PayloadTooLarge)
        || matches!(&err, ParseRequestError::Io(e) if e.to_string().contains("length limit"));
    let (status, code, message) = if too_large {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "the request body is too large".to_owned(),
        )
    } else if matches!(err, ParseRequestError::UnsupportedBatch) {
        (
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "send one GraphQL operation per request, not a batch".to_owned(),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            format!("not a valid GraphQL request: {err}"),
        )
    };
    json_error(status, code, &message)
}

/// Any other path (and `/metrics` where it is off): a coded 404.
async fn not_found(uri: axum::http::Uri) -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!("nothing is served at {}; the API is POST /graphql", uri.path()),
    )
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"message": message, "extensions": {"code": code}}]});
    (status, Json(body)).into_response()
}

/// The body-limit and timeout layers answer by themselves, in plain text; say it in JSON.
async fn json_limit_errors(response: Response) -> Response {
    match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "the request body is too large",
        ),
        StatusCode::GATEWAY_TIMEOUT => json_error(
            StatusCode::GATEWAY_TIMEOUT,
            "TIMEOUT",
            "the request took too long and was stopped",
        ),
        _ => response,
    }
}

fn error_response(err: AppError) -> GraphQLResponse {
    let gql: async_graphql::Error = err.into();
    let mut server_error = ServerError::new(gql.message, None);
    server_error.extensions = gql.extensions;
    async_graphql::Response::from_errors(vec![server_error]).into()
}

/// The query string of `/api/aggregate.csv`: the aggregate's arguments,
/// lists comma-separated.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AggregateParams {
    fact: Option<String>,
    dimensions: Option<String>,
    measures: Option<String>,
    from: Option<String>,
    to: Option<String>,
    member_id: Option<String>,
    team_id: Option<String>,
    customer_id: Option<String>,
    group_id: Option<String>,
    product_id: Option<String>,
    stage: Option<String>,
    kind: Option<String>,
    status: Option<String>,
    limit: Option<String>,
}

impl AggregateParams {
    fn request(self) -> Result<service::aggregate::AggregateRequest, AppError> {
        use service::aggregate::{AggregateFilter, AggregateRequest, Fact};
        let list = |v: Option<String>| -> Vec<String> {
            v.map(|s| {
                s.split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default()
        };
        let date = |name: &str, v: Option<String>| {
            v.map(|s| {
                s.parse::<chrono::NaiveDate>()
                    .ok()
                    .filter(|d| (1..=9999).contains(&chrono::Datelike::year(d)))
                    .ok_or_else(|| AppError::bad(format!("`{name}` must be a date (YYYY-MM-DD)")))
            })
            .transpose()
        };
        let id = |name: &str, v: Option<String>| {
            v.map(|s| uuid::Uuid::parse_str(s.trim()).map_err(|_| AppError::bad(format!("`{name}` is not a valid id"))))
                .transpose()
        };
        let fact = self
            .fact
            .ok_or_else(|| AppError::bad("`fact` is required (activities, deals, tasks or sales_records)"))?;
        let limit = match self.limit {
            Some(l) => l.parse().map_err(|_| AppError::bad("`limit` must be a whole number"))?,
            None => 1_000,
        };
        Ok(AggregateRequest {
            fact: Fact::parse(&fact)?,
            dimensions: list(self.dimensions),
            measures: list(self.measures),
            filter: AggregateFilter {
                from: date("from", self.from)?,
                to: date("to", self.to)?,
                member_id: id("memberId", self.member_id)?,
                team_id: id("teamId", self.team_id)?,
                customer_id: id("customerId", self.customer_id)?,
                group_id: id("groupId", self.group_id)?,
                product_id: id("productId", self.product_id)?,
                stage: self.stage,
                kind: self.kind,
                status: self.status,
            },
            limit,
        })
    }
}

/// The BI aggregate as CSV, for tools that cannot speak GraphQL:
/// authenticated like the API (an API key is the usual choice). The header
/// row names each dimension (and `<dimension>_name` for those with names)
/// and each measure; `X-Truncated: true` says more rows exist than `limit`.
async fn aggregate_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<axum::extract::Query<AggregateParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let fail = |e: AppError| {
        let status = match e.code() {
            "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
            "FORBIDDEN" => StatusCode::FORBIDDEN,
            "NOT_FOUND" => StatusCode::NOT_FOUND,
            "INTERNAL" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e.message(), "aggregate CSV failed");
        }
        json_error(status, e.code(), &e.public_message())
    };
    let actor = match authenticate(&state, &headers).await {
        Ok(Some(actor)) => actor,
        Ok(None) => {
            return fail(AppError::Unauthenticated(
                "send `Authorization: Bearer <API key>`".into(),
            ));
        }
        Err(e) => return fail(e),
    };
    let params = match query {
        Ok(q) => q.0,
        Err(e) => return fail(AppError::bad(format!("bad query string: {}", e.body_text()))),
    };
    let req = match params.request() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let result = match service::aggregate::run(&state.db, &actor, &req).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let mut out = String::new();
    let mut header = Vec::new();
    for d in &req.dimensions {
        header.push(d.clone());
        if service::aggregate::has_label(d) {
            header.push(format!("{d}_name"));
        }
    }
    header.extend(req.measures.iter().cloned());
    for (i, h) in header.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(&mut out, h, true);
    }
    out.push_str("\r\n");
    for row in &result.rows {
        let mut first = true;
        let mut sep = |out: &mut String| {
            if !first {
                out.push(',');
            }
            first = false;
        };
        for (i, d) in req.dimensions.iter().enumerate() {
            sep(&mut out);
            csv_field(&mut out, row.keys[i].as_deref().unwrap_or(""), false);
            if service::aggregate::has_label(d) {
                sep(&mut out);
                csv_field(&mut out, row.labels[i].as_deref().unwrap_or(""), true);
            }
        }
        for v in &row.values {
            sep(&mut out);
            if let Some(v) = v {
                out.push_str(&v.to_string());
            }
        }
        out.push_str("\r\n");
    }
    let disposition = format!("attachment; filename=\"{}.csv\"", req.fact.name());
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::HeaderName::from_static("x-truncated"),
                result.truncated.to_string(),
            ),
        ],
        out,
    )
        .into_response()
}

/// The member behind the bearer token, if one was sent.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Option<service::Actor>, AppError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .ok_or_else(|| AppError::Unauthenticated("the Authorization header must be `Bearer <token>`".into()))?;
    authenticate_token(state, token.trim()).await.map(Some)
}

#[cfg(test)]
mod tests {
    use async_graphql::{ErrorExtensions, ServerError};

    fn error(code: &str, message: &str, path: &str) -> ServerError {
        let mut e = async_graphql::Error::new(message)
            .extend_with(|_, ext| ext.set("code", code))
            .into_server_error(Default::default());
        e.path = vec![async_graphql::PathSegment::Field(path.into())];
        e
    }

    #[test]
    fn one_unavailable_error_per_response_however_many_fields_failed() {
        let mut errors: Vec<ServerError> = (0..556)
            .map(|i| error("UNAVAILABLE", "the database is busy", &format!("f{i}")))
            .collect();
        errors.push(error("FORBIDDEN", "not yours", "a"));
        errors.push(error("FORBIDDEN", "not yours", "b"));
        errors.push(error("INTERNAL", "internal error", "c"));
        errors.push(error("INTERNAL", "internal error", "d"));
        super::collapse_server_failures(&mut errors);
        let kept: Vec<(String, String)> = errors
            .iter()
            .map(|e| (e.message.clone(), format!("{:?}", e.path)))
            .collect();
        assert_eq!(errors.len(), 4, "{kept:?}");
        assert_eq!(errors[0].path, vec![async_graphql::PathSegment::Field("f0".into())]);
        assert_eq!(
            errors.iter().filter(|e| e.message == "not yours").count(),
            2,
            "a refusal per field is information, and stays"
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::AggregateParams;

    fn param() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("\\PC{0,30}|[a-zA-Z_,]{0,30}|[0-9-]{0,12}")
    }

    proptest! {
        /// The filters of `/api/aggregate.csv`, whatever a client puts in
        /// the query string: a request, or BAD_USER_INPUT with a message.
        #[test]
        fn csv_filters_are_parsed_or_refused(
            fact in param(), dimensions in param(), measures in param(), from in param(), to in param(),
            member_id in param(), stage in param(), kind in param(), status in param(), limit in param(),
        ) {
            let params = AggregateParams {
                fact, dimensions, measures, from, to, member_id, stage, kind, status, limit,
                ..Default::default()
            };
            if let Err(e) = params.request() {
                prop_assert_eq!(e.code(), "BAD_USER_INPUT");
                prop_assert!(!e.message().is_empty());
            }
        }
    }
}
