//! Passwords (argon2id) and login tokens.
//!
//! A token is `sfa1.<claims>.<signature>`: base64url JSON claims signed with
//! HMAC-SHA256. Claims name the member, the company and the member's
//! `token_version`, so bumping that version (deactivation, password change)
//! revokes every token at once.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier, password_hash::SaltString};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

const PREFIX: &str = "sfa1.";

/// What a valid token says about its bearer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Member id.
    pub sub: Uuid,
    /// Company id.
    pub cid: Uuid,
    /// The member's `token_version` when the token was issued.
    pub tv: i32,
    /// The sign-in session (see `login_session`): signing out ends it.
    pub sid: Uuid,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
}

/// Signs and checks tokens with one secret.
#[derive(Clone)]
pub struct TokenKeys {
    secret: Vec<u8>,
    ttl: chrono::Duration,
}

impl TokenKeys {
    /// Keys from a secret and a token lifetime in hours.
    pub fn new(secret: &[u8], ttl_hours: i64) -> Self {
        Self {
            secret: secret.to_vec(),
            ttl: chrono::Duration::hours(ttl_hours.max(1)),
        }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length: this cannot fail.
        Hmac::<Sha256>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!())
    }

    /// How long a token lasts.
    pub fn ttl(&self) -> chrono::Duration {
        self.ttl
    }

    /// Issues a token of session `session` that expires at `expires`
    /// (`service::auth::open_session` makes the session first).
    pub fn issue_until(
        &self,
        member: Uuid,
        company: Uuid,
        token_version: i32,
        session: Uuid,
        expires: DateTime<Utc>,
    ) -> (String, DateTime<Utc>) {
        let claims = Claims {
            sub: member,
            cid: company,
            tv: token_version,
            sid: session,
            exp: expires.timestamp(),
        };
        let body = format!(
            "{PREFIX}{}",
            B64.encode(serde_json::to_vec(&claims).unwrap_or_default())
        );
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        (format!("{body}.{sig}"), expires)
    }

    /// Checks signature and expiry; returns the claims.
    pub fn verify(&self, token: &str) -> AppResult<Claims> {
        let invalid = || AppError::Unauthenticated("invalid or expired token; log in again".into());
        let (body, sig) = token.rsplit_once('.').ok_or_else(invalid)?;
        let payload = body.strip_prefix(PREFIX).ok_or_else(invalid)?;
        let sig = B64.decode(sig).map_err(|_| invalid())?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&sig).map_err(|_| invalid())?;
        let claims: Claims =
            serde_json::from_slice(&B64.decode(payload).map_err(|_| invalid())?).map_err(|_| invalid())?;
        if claims.exp < Utc::now().timestamp() {
            return Err(invalid());
        }
        Ok(claims)
    }
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> AppResult<String> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(|e| AppError::Internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("hashing failed: {e}")))
}

/// True when `password` matches the stored PHC hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// The configured secret, or the one kept in `server_setting` (generated on
/// first start; the insert is race-free across replicas).
pub async fn load_or_create_secret(db: &impl ConnectionTrait, configured: Option<&str>) -> AppResult<Vec<u8>> {
    if let Some(secret) = configured {
        if secret.len() < 32 {
            return Err(AppError::bad("auth.secret must be at least 32 characters"));
        }
        return Ok(secret.as_bytes().to_vec());
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let generated = B64.encode(bytes);
    let backend = db.get_database_backend();
    let insert = match backend {
        DbBackend::Postgres => "INSERT INTO server_setting (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        _ => "INSERT INTO server_setting (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
    };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        insert,
        ["token_secret".into(), generated.into()],
    ))
    .await?;
    let select = match backend {
        DbBackend::Postgres => "SELECT value FROM server_setting WHERE key = $1",
        _ => "SELECT value FROM server_setting WHERE key = ?",
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, select, ["token_secret".into()]))
        .await?
        .ok_or_else(|| AppError::Internal("token secret missing after insert".into()))?;
    let value: String = row.try_get("", "value")?;
    Ok(value.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip_and_tamper() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 1);
        let (m, c) = (Uuid::now_v7(), Uuid::now_v7());
        let sid = Uuid::now_v7();
        let (token, _) = keys.issue_until(m, c, 3, sid, Utc::now() + chrono::Duration::hours(1));
        let claims = keys.verify(&token).expect("valid token");
        assert_eq!((claims.sub, claims.cid, claims.tv, claims.sid), (m, c, 3, sid));
        let mut forged = token.clone();
        forged.insert(8, 'x');
        assert!(keys.verify(&forged).is_err());
        let other = TokenKeys::new(b"another-secret-another-secret-xx", 1);
        assert!(other.verify(&token).is_err());
    }

    #[test]
    fn password_hash_verifies() {
        let hash = hash_password("s3cret!").expect("hash");
        assert!(verify_password("s3cret!", &hash));
        assert!(!verify_password("wrong", &hash));
    }
}
