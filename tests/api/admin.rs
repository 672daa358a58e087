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

#[tokio::test(flavor = "multi_thread")]
async fn password_guessing_is_throttled() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let q = "mutation($p: String!) { login(email: \"rep@acme.test\", password: $p) { token } }";
    for _ in 0..5 {
        let body = app.gql(None, q, json!({"p": "guess"})).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }
    let body = app.gql(None, q, json!({"p": "pw-123456"})).await;
    assert_eq!(error_code(&body), "TOO_MANY_ATTEMPTS", "even the right password waits");
    let other = app.login("manager@acme.test", "pw-123456").await;
    assert!(!other.is_empty(), "other accounts are not affected");
}
