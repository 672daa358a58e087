//! Member lifecycle, API keys, login throttling and the audit log.

use serde_json::json;

use crate::common::{Session, TestApp, error_code};

#[tokio::test(flavor = "multi_thread")]
async fn member_lifecycle() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let create = "mutation($t: ID) { createMember(input: {email: \"New@Acme.test\", name: \"新人\", role: REP, teamId: $t}) { member { id email role } temporaryPassword } }";
    let made = app.ok(&t.admin, create, json!({"t": null})).await;
    let temp = made["createMember"]["temporaryPassword"]
        .as_str()
        .expect("generated password")
        .to_owned();
    let id = made["createMember"]["member"]["id"].as_str().expect("id").to_owned();
    assert_eq!(made["createMember"]["member"]["email"], "new@acme.test");
    assert_eq!(
        app.err(&t.admin, create, json!({"t": null})).await,
        "CONFLICT",
        "e-mail taken"
    );
    assert_eq!(app.err(&t.rep, create, json!({"t": null})).await, "FORBIDDEN");

    let token = app.login("new@acme.test", &temp).await;
    let newbie = Session {
        member_id: uuid::Uuid::nil(),
        token,
    };
    app.ok(&newbie, "{ me { id } }", json!({})).await;

    // Changing one's password ends other sessions and returns a new token.
    let change =
        "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { token } }";
    assert_eq!(
        app.err(&newbie, change, json!({"c": "wrong-password", "n": "brand-new-pass"}))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.err(&newbie, change, json!({"c": temp, "n": "short"})).await,
        "BAD_USER_INPUT"
    );
    let changed = app.ok(&newbie, change, json!({"c": temp, "n": "brand-new-pass"})).await;
    assert_eq!(
        app.err(&newbie, "{ me { id } }", json!({})).await,
        "UNAUTHENTICATED",
        "old token revoked"
    );
    let newbie = Session {
        member_id: uuid::Uuid::nil(),
        token: changed["changePassword"]["token"].as_str().expect("token").into(),
    };
    app.ok(&newbie, "{ me { id } }", json!({})).await;

    // Role change, reset and deactivation take effect at once.
    app.ok(
        &t.admin,
        "mutation($id: ID!) { updateMember(input: {id: $id, role: MANAGER}) { role } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(app.err(&newbie, "{ me { id } }", json!({})).await, "UNAUTHENTICATED");
    let reset = app
        .ok(
            &t.admin,
            "mutation($id: ID!) { resetMemberPassword(id: $id) { temporaryPassword } }",
            json!({"id": id}),
        )
        .await;
    let again = app
        .login(
            "new@acme.test",
            reset["resetMemberPassword"]["temporaryPassword"].as_str().expect("pw"),
        )
        .await;
    let newbie = Session {
        member_id: uuid::Uuid::nil(),
        token: again,
    };
    assert_eq!(
        app.ok(&newbie, "{ me { role } }", json!({})).await["me"]["role"],
        "MANAGER"
    );
    app.ok(
        &t.admin,
        "mutation($id: ID!) { deactivateMember(id: $id) { active } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(app.err(&newbie, "{ me { id } }", json!({})).await, "UNAUTHENTICATED");
    let q = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }";
    let refused = app
        .gql(None, q, json!({"e": "new@acme.test", "p": "brand-new-pass"}))
        .await;
    assert_eq!(error_code(&refused), "UNAUTHENTICATED");
    let self_off = app
        .err(
            &t.admin,
            "mutation($id: ID!) { deactivateMember(id: $id) { id } }",
            json!({"id": t.admin.member_id.to_string()}),
        )
        .await;
    assert_eq!(self_off, "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_read_write_and_revoke() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let create =
        "mutation($s: ApiKeyScope!) { createApiKey(name: \"BI\", scope: $s) { key apiKey { id scope lastUsedAt } } }";
    let ro = app.ok(&t.admin, create, json!({"s": "READ_ONLY"})).await["createApiKey"].clone();
    let rw = app.ok(&t.admin, create, json!({"s": "READ_WRITE"})).await["createApiKey"].clone();
    assert!(ro["apiKey"]["lastUsedAt"].is_null());
    let ro_key = Session {
        member_id: uuid::Uuid::nil(),
        token: ro["key"].as_str().expect("key").into(),
    };
    let rw_key = Session {
        member_id: uuid::Uuid::nil(),
        token: rw["key"].as_str().expect("key").into(),
    };
    assert_eq!(app.err(&t.rep, create, json!({"s": "READ_ONLY"})).await, "FORBIDDEN");

    let customer = "mutation { createCustomer(input: {name: \"via key\"}) { id } }";
    assert_eq!(
        app.err(&ro_key, customer, json!({})).await,
        "FORBIDDEN",
        "read-only key cannot write"
    );
    let made = app.ok(&rw_key, customer, json!({})).await;
    let listed = app.ok(&ro_key, "{ customers { totalCount } }", json!({})).await;
    assert_eq!(listed["customers"]["totalCount"], 1);

    // The audit log names the key; only admins read it.
    let log = "query($id: ID!) { auditLog(filter: {entityId: $id}) { nodes { action apiKey { id } actor { id } } } }";
    let entries = app.ok(&t.admin, log, json!({"id": made["createCustomer"]["id"]})).await;
    assert_eq!(entries["auditLog"]["nodes"][0]["apiKey"]["id"], rw["apiKey"]["id"]);
    assert_eq!(
        entries["auditLog"]["nodes"][0]["actor"]["id"],
        t.admin.member_id.to_string()
    );
    assert_eq!(
        app.err(&t.rep, log, json!({"id": made["createCustomer"]["id"]})).await,
        "FORBIDDEN"
    );
    let keys = app.ok(&t.admin, "{ apiKeys { id lastUsedAt } }", json!({})).await;
    assert!(
        keys["apiKeys"]
            .as_array()
            .expect("keys")
            .iter()
            .all(|k| k["lastUsedAt"].is_string()),
        "{keys}"
    );

    app.ok(
        &t.admin,
        "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }",
        json!({"id": ro["apiKey"]["id"]}),
    )
    .await;
    assert_eq!(
        app.err(&ro_key, "{ customers { totalCount } }", json!({})).await,
        "UNAUTHENTICATED"
    );
    let mut forged = rw_key.token.clone();
    forged.push('x');
    let body = app.gql(Some(&forged), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    // A key stops working when its admin stops being one.
    app.ok(
        &t.admin,
        "mutation($id: ID!) { updateMember(input: {id: $id, role: ADMIN}) { id } }",
        json!({"id": t.manager.member_id.to_string()}),
    )
    .await;
    let manager_admin = Session {
        member_id: t.manager.member_id,
        token: app.login("manager@acme.test", "pw-123456").await,
    };
    app.ok(
        &manager_admin,
        "mutation($id: ID!) { updateMember(input: {id: $id, role: REP}) { id } }",
        json!({"id": t.admin.member_id.to_string()}),
    )
    .await;
    assert_eq!(app.err(&rw_key, "{ me { id } }", json!({})).await, "UNAUTHENTICATED");
}

/// A login as sent through a trusted proxy for the client `from`.
async fn login_from(
    app: &TestApp,
    from: &str,
    email: &str,
    password: &str,
    company: Option<&str>,
) -> serde_json::Value {
    let q = "mutation($e: String!, $p: String!, $c: String) { login(email: $e, password: $p, company: $c) { token member { id } } }";
    app.http
        .post(app.url("/graphql"))
        .header("x-forwarded-for", from)
        .json(&json!({"query": q, "variables": {"e": email, "p": password, "c": company}}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json")
}

/// The load balancer in front is trusted; its `X-Forwarded-For` names the client.
fn behind_a_proxy(c: &mut sfa::config::Config) {
    c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    c.auth.login_backoff_secs = 1;
    c.auth.max_failed_logins_per_client = 10;
}

/// A stranger guessing at a member's password slows down only their own
/// guesses, with a wait that doubles; the member, from their own client,
/// signs in all along.
#[tokio::test(flavor = "multi_thread")]
async fn password_guessing_slows_the_guesser_not_the_member() {
    let app = TestApp::spawn_with(behind_a_proxy).await;
    app.tenant("acme").await;
    let stranger = "203.0.113.7";
    for _ in 0..5 {
        let body = login_from(&app, stranger, "rep@acme.test", "guess", None).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }
    let body = login_from(&app, stranger, "rep@acme.test", "pw-123456", None).await;
    assert_eq!(
        error_code(&body),
        "TOO_MANY_ATTEMPTS",
        "even the right password waits: {body}"
    );
    let own = login_from(&app, "198.51.100.2", "rep@acme.test", "pw-123456", None).await;
    assert!(
        own["data"]["login"]["token"].is_string(),
        "the member is not locked out: {own}"
    );

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = login_from(&app, stranger, "rep@acme.test", "guess", None).await;
    assert_eq!(error_code(&again), "UNAUTHENTICATED", "a try after the wait: {again}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let doubled = login_from(&app, stranger, "rep@acme.test", "guess", None).await;
    assert_eq!(
        error_code(&doubled),
        "TOO_MANY_ATTEMPTS",
        "the next wait is longer: {doubled}"
    );
}

/// One client trying many addresses is stopped after its budget, whichever
/// addresses; other clients sign in.
#[tokio::test(flavor = "multi_thread")]
async fn one_client_trying_many_emails_is_stopped() {
    let app = TestApp::spawn_with(behind_a_proxy).await;
    app.tenant("acme").await;
    let sprayer = "203.0.113.9";
    for i in 0..10 {
        let body = login_from(&app, sprayer, &format!("user{i}@acme.test"), "guess", None).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }
    let body = login_from(&app, sprayer, "rep@acme.test", "pw-123456", None).await;
    assert_eq!(error_code(&body), "TOO_MANY_ATTEMPTS", "{body}");
    let other = login_from(&app, "198.51.100.3", "rep@acme.test", "pw-123456", None).await;
    assert!(other["data"]["login"]["token"].is_string(), "{other}");
}

/// Wrong current passwords in `changePassword` count like failed logins.
#[tokio::test(flavor = "multi_thread")]
async fn wrong_current_passwords_are_throttled_too() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let q =
        "mutation($c: String!) { changePassword(currentPassword: $c, newPassword: \"a-new-password-1\") { token } }";
    for _ in 0..5 {
        assert_eq!(app.err(&t.rep, q, json!({"c": "guess"})).await, "FORBIDDEN");
    }
    assert_eq!(app.err(&t.rep, q, json!({"c": "pw-123456"})).await, "TOO_MANY_ATTEMPTS");
}

/// `logout` ends this token only, `logoutEverywhere` every one of the
/// member's; `mySessions` lists them and `revokeSession` ends another.
#[tokio::test(flavor = "multi_thread")]
async fn sessions_are_listed_and_signed_out() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let phone = Session {
        member_id: t.rep.member_id,
        token: app.login("rep@acme.test", "pw-123456").await,
    };
    let laptop = Session {
        member_id: t.rep.member_id,
        token: app.login("rep@acme.test", "pw-123456").await,
    };
    let listed = app
        .ok(&phone, "{ mySessions { id current userAgent } }", json!({}))
        .await;
    let sessions = listed["mySessions"].as_array().expect("list");
    assert_eq!(
        sessions.len(),
        3,
        "the tenant's sign-in, the phone and the laptop: {listed}"
    );
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);

    assert_eq!(app.ok(&phone, "mutation { logout }", json!({})).await["logout"], true);
    assert_eq!(app.err(&phone, "{ me { id } }", json!({})).await, "UNAUTHENTICATED");
    app.ok(&laptop, "{ me { id } }", json!({})).await;

    // Newest first: the oldest is the tenant's sign-in, `t.rep`.
    let first = sessions
        .last()
        .and_then(|s| s["id"].as_str())
        .expect("a session")
        .to_owned();
    let revoke = "mutation($id: ID!) { revokeSession(id: $id) }";
    assert_eq!(
        app.ok(&laptop, revoke, json!({"id": first})).await["revokeSession"],
        true
    );
    assert_eq!(app.err(&t.rep, "{ me { id } }", json!({})).await, "UNAUTHENTICATED");
    assert_eq!(
        app.err(&laptop, revoke, json!({"id": first})).await,
        "NOT_FOUND",
        "ended already"
    );
    let other_company = app.tenant("other").await;
    assert_eq!(
        app.err(&other_company.rep, revoke, json!({"id": first})).await,
        "NOT_FOUND",
        "another member's session is not found"
    );

    let ended = app.ok(&laptop, "mutation { logoutEverywhere }", json!({})).await;
    assert!(ended["logoutEverywhere"].as_i64().unwrap_or(0) >= 1, "{ended}");
    assert_eq!(app.err(&laptop, "{ me { id } }", json!({})).await, "UNAUTHENTICATED");
    app.ok(&t.manager, "{ me { id } }", json!({})).await;
}

/// E-mail addresses are unique per company: whether another company has a
/// member with an address changes nothing in this one. A person in two
/// companies signs in to the one their password opens, or names it.
#[tokio::test(flavor = "multi_thread")]
async fn an_email_in_another_company_changes_nothing_here() {
    let app = TestApp::spawn().await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let create = "mutation($e: String!, $p: String!) { createMember(input: {email: $e, name: \"Kim\", role: REP, password: $p}) { member { id } } }";
    app.ok(&b.admin, create, json!({"e": "kim@shared.test", "p": "pw-for-beta-1"}))
        .await;
    app.ok(&a.admin, create, json!({"e": "kim@shared.test", "p": "pw-for-alpha-1"}))
        .await;
    assert_eq!(
        app.err(&a.admin, create, json!({"e": "KIM@shared.test", "p": "pw-for-alpha-1"}))
            .await,
        "CONFLICT",
        "twice in one company is a conflict"
    );
    let login =
        "mutation($e: String!, $p: String!, $c: String) { login(email: $e, password: $p, company: $c) { token } }";
    let company_of = |body: serde_json::Value| {
        let app = &app;
        async move {
            let token = body["data"]["login"]["token"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
                .to_owned();
            app.gql(Some(&token), "{ company { slug } }", json!({})).await["data"]["company"]["slug"].clone()
        }
    };
    let alpha = app
        .gql(None, login, json!({"e": "kim@shared.test", "p": "pw-for-alpha-1"}))
        .await;
    assert_eq!(company_of(alpha).await, "alpha");
    let beta = app
        .gql(None, login, json!({"e": "kim@shared.test", "p": "pw-for-beta-1"}))
        .await;
    assert_eq!(company_of(beta).await, "beta");

    // The same password in both: the company must be named.
    app.ok(
        &b.admin,
        create,
        json!({"e": "lee@shared.test", "p": "same-password-1"}),
    )
    .await;
    app.ok(
        &a.admin,
        create,
        json!({"e": "lee@shared.test", "p": "same-password-1"}),
    )
    .await;
    let both = app
        .gql(None, login, json!({"e": "lee@shared.test", "p": "same-password-1"}))
        .await;
    assert_eq!(error_code(&both), "COMPANY_REQUIRED", "{both}");
    let named = app
        .gql(
            None,
            login,
            json!({"e": "lee@shared.test", "p": "same-password-1", "c": "beta"}),
        )
        .await;
    assert_eq!(company_of(named).await, "beta");
    let wrong = app
        .gql(
            None,
            login,
            json!({"e": "lee@shared.test", "p": "same-password-1", "c": "gamma"}),
        )
        .await;
    assert_eq!(
        error_code(&wrong),
        "UNAUTHENTICATED",
        "an unknown company is a wrong login"
    );
}
