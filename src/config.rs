//! Configuration: built-in defaults, then an optional TOML file, then
//! environment variables (`SFA_*`, nested keys joined by `__`, plus the
//! conventional `DATABASE_URL`). Every default works on a fresh machine.

use std::{net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// The whole server configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// `sqlite://…` or `postgres://…`; when unset, an SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// Where the embedded SQLite database lives.
    pub data_dir: PathBuf,
    /// Folder of the companies' plugin scripts.
    pub plugins_dir: PathBuf,
    /// How often the plugin folder is checked for changed scripts, in
    /// milliseconds; 0 turns the watcher off (reload with `reloadPlugins`).
    pub plugins_poll_ms: u64,
    /// How often this week's forecast snapshots are refreshed, in minutes;
    /// 0 turns the task off (an admin can still run `takeForecastSnapshots`).
    pub forecast_snapshot_minutes: u64,
    /// How often open tasks due tomorrow or overdue are reminded to their
    /// assignees, in minutes (once per task and deadline); 0 turns it off.
    pub task_reminder_minutes: u64,
    /// Outgoing chat webhooks.
    pub webhooks: WebhookConfig,
    /// Login tokens.
    pub auth: AuthConfig,
    /// GraphQL endpoint limits.
    pub graphql: GraphqlConfig,
    /// Limits of the companies' scripts, per call and per request.
    pub scripts: crate::plugins::ScriptLimits,
    /// Maximum size of a request body, in bytes.
    pub max_body_bytes: usize,
    /// Requests running longer than this are cut off, in seconds.
    pub request_timeout_secs: u64,
    /// A connection must send a request's headers within this many seconds
    /// of starting to wait for it (so it is also how long an idle
    /// keep-alive connection stays open).
    pub header_timeout_secs: u64,
    /// Open connections at most; more are answered 503 and closed.
    pub max_connections: usize,
    /// Open connections from one client address at most (addresses in
    /// `trusted_proxies` are not limited).
    pub max_connections_per_client: usize,
    /// The load balancers in front of the server (CIDR ranges): their
    /// `X-Forwarded-For` names the client, and their connections are not
    /// counted per client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// On SIGTERM, how long requests in flight may take to finish before the
    /// server exits anyway, in seconds.
    pub shutdown_grace_secs: u64,
    /// `development` (the default) or `production`: decides defaults such as introspection.
    pub environment: Environment,
    /// Serve process counters (statements, requests, memory) at `/metrics`;
    /// default: on in development, off in production.
    pub metrics: Option<bool>,
    /// When set, `/metrics` answers only requests with
    /// `Authorization: Bearer <metrics_token>` (Prometheus' `authorization`).
    pub metrics_token: Option<String>,
    /// The key of the operator API (`POST /operator/graphql`, `Authorization:
    /// Bearer <operator_key>`), at least 32 characters; off when unset.
    pub operator_key: Option<String>,
}

/// Where the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A developer's machine: introspection and suggestions on.
    #[default]
    Development,
    /// A real deployment: introspection and suggestions off unless enabled.
    Production,
}

/// Login tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HMAC secret for tokens; when unset, one is generated once and kept in
    /// the database, so every replica on the same database shares it.
    pub secret: Option<String>,
    /// Lifetime of a login token, in hours.
    pub token_ttl_hours: i64,
    /// Failed logins per e-mail and client address within
    /// `login_window_minutes` before each further try must wait.
    pub max_failed_logins: u32,
    /// The first wait after those, in seconds; doubled after each further
    /// failure, up to the window.
    pub login_backoff_secs: i64,
    /// Failed logins from one client address, whatever the e-mails, within
    /// the window; then that address is refused until the window has passed.
    pub max_failed_logins_per_client: u32,
    /// Window of the failed-login counts, in minutes.
    pub login_window_minutes: i64,
}

/// Outgoing chat webhooks: the delivery worker's pace and patience.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// How often the worker looks for due deliveries, in milliseconds; 0
    /// turns the worker off on this replica (another one may send).
    pub poll_ms: u64,
    /// How long an endpoint may take to answer, in milliseconds.
    pub timeout_ms: u64,
    /// Attempts before a delivery is marked failed (an admin can retry it).
    pub max_attempts: i32,
    /// Wait before the first retry, in milliseconds; doubled after each failure.
    pub retry_base_ms: u64,
    /// Longest wait between two attempts, in milliseconds.
    pub retry_max_ms: u64,
    /// Deliveries sent at once by one replica.
    pub concurrency: usize,
    /// Allow endpoints on loopback, private and link-local addresses. Off by
    /// default: a company admin must not reach the server's own network.
    pub allow_private_targets: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            poll_ms: 1000,
            timeout_ms: 5000,
            max_attempts: 12,
            retry_base_ms: 10_000,
            retry_max_ms: 3_600_000,
            concurrency: 16,
            allow_private_targets: false,
        }
    }
}

/// GraphQL endpoint limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphqlConfig {
    /// Largest `first`/`last` a connection accepts.
    pub max_page_size: u32,
    /// Page size when neither `first` nor `last` is given.
    pub default_page_size: u32,
    /// Maximum nesting depth of a query.
    pub max_depth: usize,
    /// Maximum complexity of a query; a connection costs its page size times its fields.
    pub max_complexity: usize,
    /// Maximum aliases in one query.
    pub max_aliases: usize,
    /// Maximum fields selected in one query (fragments counted once).
    pub max_fields: usize,
    /// Maximum length of the query text, in bytes.
    pub max_query_bytes: usize,
    /// A WebSocket that has not sent `connection_init` within this many
    /// seconds is closed with 4408.
    pub ws_init_timeout_secs: u64,
    /// How often an open WebSocket's token is checked again, in seconds: a
    /// member deactivated, signed out or with a revoked key loses their
    /// subscriptions within this time.
    pub ws_auth_recheck_secs: u64,
    /// Schema introspection; default: on in development, off in production.
    pub introspection: Option<bool>,
    /// The GraphiQL page at `GET /graphql`; default: on in development,
    /// off in production.
    pub graphiql: Option<bool>,
    /// "Did you mean …" suggestions in errors; default: on in development, off in production.
    pub suggestions: Option<bool>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            data_dir: PathBuf::from("data"),
            plugins_dir: PathBuf::from("plugins"),
            plugins_poll_ms: 2000,
            forecast_snapshot_minutes: 60,
            task_reminder_minutes: 15,
            webhooks: WebhookConfig::default(),
            auth: AuthConfig::default(),
            graphql: GraphqlConfig::default(),
            scripts: Default::default(),
            max_body_bytes: 1024 * 1024 + 64 * 1024,
            request_timeout_secs: 30,
            header_timeout_secs: 10,
            max_connections: 16_384,
            max_connections_per_client: 512,
            trusted_proxies: Vec::new(),
            shutdown_grace_secs: 20,
            environment: Environment::Development,
            metrics: None,
            metrics_token: None,
            operator_key: None,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            secret: None,
            token_ttl_hours: 24 * 7,
            max_failed_logins: 5,
            login_backoff_secs: 30,
            max_failed_logins_per_client: 30,
            login_window_minutes: 15,
        }
    }
}

impl Default for GraphqlConfig {
    fn default() -> Self {
        Self {
            max_page_size: 100,
            default_page_size: 20,
            max_depth: 12,
            max_complexity: 50_000,
            max_aliases: 30,
            max_fields: 500,
            max_query_bytes: 32 * 1024,
            ws_init_timeout_secs: 10,
            ws_auth_recheck_secs: 60,
            introspection: None,
            graphiql: None,
            suggestions: None,
        }
    }
}

impl Config {
    /// Loads defaults, then `file` (or `sfa.toml` when present), then the environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => fig = fig.merge(Toml::file_exact(path)),
            None => fig = fig.merge(Toml::file("sfa.toml")),
        }
        fig = fig
            // `SFA_CONFIG` names this file (see the CLI); it is not a setting.
            .merge(Env::prefixed("SFA_").ignore(&["config"]).split("__"))
            .merge(Env::raw().only(&["DATABASE_URL"]).map(|_| "database_url".into()));
        let config: Self = fig.extract().map_err(Box::new)?;
        if config.operator_key.as_ref().is_some_and(|k| k.chars().count() < 32) {
            return Err(Box::new(figment::Error::from(
                "operator_key must have at least 32 characters (e.g. `openssl rand -hex 32`)".to_owned(),
            )));
        }
        Ok(config)
    }

    /// Whether this is a developer's machine (the default).
    pub fn development(&self) -> bool {
        self.environment == Environment::Development
    }

    /// Whether `/metrics` is served: as configured, else in development only.
    pub fn serves_metrics(&self) -> bool {
        self.metrics.unwrap_or(self.development())
    }

    /// Whether the GraphiQL page is served: as configured, else in development only.
    pub fn serves_graphiql(&self) -> bool {
        self.graphql.graphiql.unwrap_or(self.development())
    }

    /// The database URL to use: the configured one, or the embedded SQLite file.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("sfa.db").display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use figment::providers::{Format, Serialized, Toml};

    use super::*;

    /// The example in the README is a valid configuration, equal to the defaults.
    #[test]
    fn readme_example_is_the_defaults() {
        let readme = include_str!("../README.md");
        let start = readme.find("```toml\n").expect("a TOML example in the README") + 8;
        let example = &readme[start..start + readme[start..].find("```").expect("closing fence")];
        let loaded: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(example))
            .extract()
            .expect("the README example parses");
        assert_eq!(format!("{loaded:?}"), format!("{:?}", Config::default()));
    }
}
