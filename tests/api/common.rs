//! `TestApp`: the real router on a real socket, over a fresh database.
//!
//! SQLite by default (a temporary file per test); PostgreSQL when
//! `TEST_DATABASE_URL` names one (a fresh schema per test), so the same
//! suite proves both backends and tests run in parallel.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use entity::{company, enums::Role, member};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, Set};
use serde_json::{Value, json};
use sfa::{AppState, config::Config};
use uuid::Uuid;

/// A running server and a way to talk to it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub db: DatabaseConnection,
    pub http: reqwest::Client,
    statements: Arc<AtomicUsize>,
    /// The server's plugin registry (to build service actors in tests).
    pub plugins: Arc<sfa::plugins::Plugins>,
    /// The SQLite file, when the tests run on SQLite.
    pub sqlite_file: Option<PathBuf>,
}

/// A company with one member of each role, signed in; the manager leads
/// the team the rep is in.
pub struct Tenant {
    #[allow(dead_code)]
    pub company_id: Uuid,
    pub admin: Session,
    pub manager: Session,
    pub rep: Session,
}

/// A signed-in member.
#[derive(Clone)]
pub struct Session {
    pub member_id: Uuid,
    pub token: String,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(path) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
}

impl TestApp {
    /// Starts a server on a fresh, migrated database.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server with an adjusted configuration.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_with_pool(adjust, |_| {}).await
    }

    /// Starts a server with an adjusted configuration and pool (for fault
    /// injection through the pool's hooks).
    pub async fn spawn_with_pool(
        adjust: impl FnOnce(&mut Config),
        pool: impl FnOnce(&mut sea_orm::ConnectOptions),
    ) -> Self {
        let statements = Arc::new(AtomicUsize::new(0));
        let (url, schema, sqlite_file) = match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if url.starts_with("postgres") => {
                let schema = format!("t_{}", Uuid::now_v7().simple());
                let admin = sfa::db::connect(&url).await.expect("connect to TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                    .await
                    .expect("create schema");
                admin.close().await.ok();
                (url, Some(schema), None)
            }
            _ => {
                let path = std::env::temp_dir().join(format!("sfa-test-{}.db", Uuid::now_v7().simple()));
                (format!("sqlite://{}?mode=rwc", path.display()), None, Some(path))
            }
        };
        let mut db = sfa::db::connect_with(&url, |opts| {
            if let Some(schema) = &schema {
                opts.set_schema_search_path(schema.clone());
            }
            opts.max_connections(5);
            pool(opts);
        })
        .await
        .expect("connect test database");
        let counter = statements.clone();
        db.set_metric_callback(move |info| {
            counter.fetch_add(1, Ordering::SeqCst);
            if std::env::var("SQL_LOG").is_ok() {
                let sql = info.statement.sql.chars().take(110).collect::<String>();
                eprintln!("SQL {sql}");
            }
        });
        sfa::db::migrate(&db).await.expect("migrate");
        let mut config = Config {
            listen: "127.0.0.1:0".parse().expect("addr"),
            // Tests that change scripts reload explicitly, or turn the watcher on.
            plugins_poll_ms: 0,
            forecast_snapshot_minutes: 0,
            task_reminder_minutes: 0,
            // Tests that post webhooks turn the worker on (it polls the database).
            webhooks: sfa::config::WebhookConfig {
                poll_ms: 0,
                ..Default::default()
            },
            ..Config::default()
        };
        adjust(&mut config);
        let state = AppState::new(db.clone(), config).await.expect("state");
        sfa::server::watch_database(&state, &url).await;
        let plugins = state.plugins.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let limits = sfa::listener::Limits::of(&state.config);
        tokio::spawn(sfa::listener::serve(
            listener,
            sfa::app(state),
            limits,
            std::future::pending(),
        ));
        Self {
            addr,
            db,
            http: reqwest::Client::new(),
            statements,
            plugins,
            sqlite_file,
        }
    }

    /// `http://addr/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends a GraphQL request and returns the whole JSON response.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        assert!(resp.status().is_success(), "HTTP {}", resp.status());
        resp.json().await.expect("json body")
    }

    /// Sends a request that must succeed; returns `data`.
    pub async fn ok(&self, s: &Session, query: &str, variables: Value) -> Value {
        let body = self.gql(Some(&s.token), query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// Sends a request that must fail; returns the first error's code.
    pub async fn err(&self, s: &Session, query: &str, variables: Value) -> String {
        let body = self.gql(Some(&s.token), query, variables).await;
        error_code(&body)
    }

    /// Number of SQL statements run so far.
    pub fn statements(&self) -> usize {
        self.statements.load(Ordering::SeqCst)
    }

    /// Signs in and returns the token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let body = self
            .gql(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
                json!({"e": email, "p": password}),
            )
            .await;
        body["data"]["login"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("login failed: {body:#}"))
            .to_owned()
    }

    /// Creates a company with an admin, a manager and a rep, all signed in.
    pub async fn tenant(&self, slug: &str) -> Tenant {
        let now = chrono::Utc::now();
        let company_id = Uuid::now_v7();
        company::ActiveModel {
            id: Set(company_id),
            name: Set(format!("{slug} Inc.")),
            slug: Set(slug.into()),
            plugin_set: Set(None),
            currency: Set("JPY".into()),
            time_zone: Set("UTC".into()),
            settings: Set(json!({})),
            created_at: Set(now),
            updated_at: Set(now),
            disabled_at: Set(None),
            process_version: Set(None),
        }
        .insert(&self.db)
        .await
        .expect("company");
        let hash = sfa::auth::hash_password("pw-123456").expect("hash");
        // One team, led by the manager, with the manager and the rep in it.
        let team_id = Uuid::now_v7();
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        entity::team::ActiveModel {
            id: Set(team_id),
            company_id: Set(company_id),
            parent_id: Set(None),
            name: Set(format!("{slug} sales")),
            manager_id: Set(Some(ids[1])),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        }
        .insert(&self.db)
        .await
        .expect("team");
        let mut sessions = Vec::new();
        for (role, id) in [Role::Admin, Role::Manager, Role::Rep].into_iter().zip(ids) {
            let email = format!("{}@{slug}.test", role.as_str());
            member::ActiveModel {
                id: Set(id),
                company_id: Set(company_id),
                team_id: Set((role != Role::Admin).then_some(team_id)),
                email: Set(email.clone()),
                name: Set(format!("{} of {slug}", role.as_str())),
                role: Set(role),
                password_hash: Set(hash.clone()),
                active: Set(true),
                token_version: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&self.db)
            .await
            .expect("member");
            sessions.push(Session {
                member_id: id,
                token: self.login(&email, "pw-123456").await,
            });
        }
        let rep = sessions.pop().expect("rep");
        let manager = sessions.pop().expect("manager");
        let admin = sessions.pop().expect("admin");
        Tenant {
            company_id,
            admin,
            manager,
            rep,
        }
    }

    /// Number of rows in `table` (for "nothing was written" checks).
    pub async fn rows(&self, table: &str) -> i64 {
        let stmt = sea_orm::Statement::from_string(
            self.db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        );
        let row = self.db.query_one_raw(stmt).await.expect("count").expect("row");
        row.try_get::<i64>("", "n").expect("n")
    }
}

/// The service-layer actor of a member (to prepare data without HTTP).
pub async fn actor_of(app: &TestApp, member: Uuid) -> sfa::service::Actor {
    use sea_orm::EntityTrait;
    let m = entity::member::Entity::find_by_id(member)
        .one(&app.db)
        .await
        .expect("query")
        .expect("member");
    sfa::service::auth::actor_of(&app.db, &app.plugins, &m, None)
        .await
        .expect("actor")
}

/// The first error's `extensions.code`, or a panic showing the body.
pub fn error_code(body: &Value) -> String {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error with a code: {body:#}"))
        .to_owned()
}

/// Creates a customer and returns its id.
pub async fn customer(app: &TestApp, s: &Session, name: &str) -> String {
    let data = app
        .ok(
            s,
            "mutation($n: String!) { createCustomer(input: {name: $n}) { id } }",
            json!({"n": name}),
        )
        .await;
    data["createCustomer"]["id"].as_str().expect("id").to_owned()
}

/// Creates a deal on a customer and returns `(id, version)`.
pub async fn deal(app: &TestApp, s: &Session, customer_id: &str, name: &str) -> (String, i64) {
    let data = app
        .ok(
            s,
            "mutation($c: ID!, $n: String!) { createDeal(input: {customerId: $c, name: $n, stage: \"hearing\", amount: 1000000}) { id version } }",
            json!({"c": customer_id, "n": name}),
        )
        .await;
    (
        data["createDeal"]["id"].as_str().expect("id").to_owned(),
        data["createDeal"]["version"].as_i64().expect("v"),
    )
}

/// Inserts a customer straight into the database (for fixtures that need
/// exact owners, groups and flags) and returns its id.
pub async fn insert_customer(
    app: &TestApp,
    company_id: Uuid,
    owner: Uuid,
    name: &str,
    priority: bool,
    group: Option<Uuid>,
) -> Uuid {
    use sea_orm::ActiveModelTrait;
    let now = chrono::Utc::now();
    entity::customer::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(company_id),
        owner_id: Set(owner),
        group_id: Set(group),
        name: Set(name.into()),
        is_priority: Set(priority),
        status: Set(entity::enums::CustomerStatus::Active),
        custom_fields: Set(json!({})),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("customer")
    .id
}

/// A deal for a fixture, inserted straight into the database with its stage
/// history: `moves` are (stage, instant), the first one its creation.
#[derive(Default)]
pub struct DealFixture<'a> {
    pub customer: Uuid,
    pub owner: Uuid,
    pub amount: Option<i64>,
    pub moves: &'a [(&'a str, &'a str)],
    pub status: Option<entity::enums::DealStatus>,
    pub closed_at: Option<&'a str>,
    pub lost_reason: Option<&'a str>,
    pub expected_close_date: Option<&'a str>,
    pub last_activity_at: Option<chrono::DateTime<chrono::Utc>>,
    pub deleted: bool,
}

impl DealFixture<'_> {
    /// Inserts the deal and its history; returns its id.
    pub async fn insert(&self, app: &TestApp, company_id: Uuid) -> Uuid {
        use sea_orm::ActiveModelTrait;
        let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().expect("instant");
        let (first, last) = (self.moves[0], self.moves[self.moves.len() - 1]);
        let id = Uuid::now_v7();
        entity::deal::ActiveModel {
            id: Set(id),
            company_id: Set(company_id),
            customer_id: Set(self.customer),
            owner_id: Set(self.owner),
            name: Set("fixture deal".into()),
            stage: Set(last.0.into()),
            stage_entered_at: Set(at(last.1)),
            amount: Set(self.amount),
            expected_close_date: Set(self.expected_close_date.map(|d| d.parse().expect("date"))),
            status: Set(self.status.unwrap_or(entity::enums::DealStatus::Open)),
            lost_reason: Set(self.lost_reason.map(Into::into)),
            closed_at: Set(self.closed_at.map(at)),
            last_activity_at: Set(self.last_activity_at),
            version: Set(1),
            created_at: Set(at(first.1)),
            updated_at: Set(at(last.1)),
            deleted_at: Set(self.deleted.then(|| at(last.1))),
            external_code: Set(None),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .expect("deal");
        let mut from: Option<&str> = None;
        for (stage, when) in self.moves {
            entity::deal_stage_history::ActiveModel {
                id: Set(Uuid::now_v7()),
                company_id: Set(company_id),
                deal_id: Set(id),
                from_stage: Set(from.map(Into::into)),
                to_stage: Set((*stage).into()),
                changed_by: Set(self.owner),
                changed_at: Set(at(when)),
            }
            .insert(&app.db)
            .await
            .expect("history");
            from = Some(stage);
        }
        id
    }
}

/// A webhook of the company with one delivered event: returns `(webhook id,
/// delivery id)`. The company's other webhooks are deleted first, so fixtures
/// made again and again stay under the limit per company.
pub async fn webhook_with_delivery(db: &DatabaseConnection, company_id: Uuid, name: &str) -> (Uuid, Uuid) {
    use entity::{enums::WebhookDeliveryStatus, webhook, webhook_delivery};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let now = chrono::Utc::now();
    webhook::Entity::update_many()
        .col_expr(webhook::Column::DeletedAt, Expr::value(now))
        .filter(webhook::Column::CompanyId.eq(company_id))
        .filter(webhook::Column::DeletedAt.is_null())
        .exec(db)
        .await
        .expect("delete webhooks");
    let hook = webhook::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(company_id),
        name: Set(name.into()),
        url: Set("https://chat.example.com/hook".into()),
        secret: Set("whsec_test".into()),
        events: Set(json!(["deal_won"])),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(db)
    .await
    .expect("webhook");
    let delivery = webhook_delivery::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(company_id),
        webhook_id: Set(hook.id),
        event_id: Set(Uuid::now_v7()),
        event_kind: Set(entity::enums::NotificationKind::DealWon),
        ordering_key: Set(Uuid::now_v7()),
        payload: Set(json!({"text": name}).to_string()),
        status: Set(WebhookDeliveryStatus::Delivered),
        attempts: Set(1),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        response_status: Set(Some(200)),
        last_error: Set(None),
        dedupe_key: Set(None),
        created_at: Set(now),
        last_attempt_at: Set(Some(now)),
        delivered_at: Set(Some(now)),
    }
    .insert(db)
    .await
    .expect("delivery");
    (hook.id, delivery.id)
}
