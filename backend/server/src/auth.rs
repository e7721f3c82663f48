//! API tokens and roles. A token is 32 random bytes shown once; the database keeps only its
//! SHA-256 (a fast hash is enough for a secret with 256 bits of entropy, and it keeps the
//! per-request check to one indexed lookup). Every request looks its token up again, so a
//! revoked token stops working on every server process at once.
//!
//! The browser sends `Authorization: Bearer <token>`; no cookie is ever set, so a page on
//! another site cannot make a request with the user's authority (no CSRF).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use sha2::{Digest, Sha256};

pub use nodefit_api::auth::Role;

use super::error::ApiError;
use super::state::AppState;

/// Every token starts with this, so that secret scanners can recognise a leaked one.
pub const TOKEN_PREFIX: &str = "nft_";
/// Shortest `NODEFIT_ADMIN_TOKEN` accepted: a guessable admin token would be the whole
/// service's password.
pub const MIN_GIVEN_TOKEN_CHARS: usize = 16;

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The token's name: what `createdBy` records.
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// 403 unless the caller's role includes `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {} role; the token {:?} has {}",
                needed.as_str(),
                self.name,
                self.role.as_str()
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "send an API token: Authorization: Bearer <token>",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
            })?;
        match state.db.token_by_hash(&hash_token(token)).await? {
            Some(caller) => Ok(caller),
            None => Err(ApiError::unauthorized("unknown or revoked API token")),
        }
    }
}

/// A new random token.
pub fn generate_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// What the database keeps of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Checks a token given by the operator (`NODEFIT_ADMIN_TOKEN`).
pub fn check_given_token(token: &str) -> Result<(), String> {
    if token.chars().count() < MIN_GIVEN_TOKEN_CHARS {
        return Err(format!(
            "must be at least {MIN_GIVEN_TOKEN_CHARS} characters"
        ));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_before() {
        assert_eq!(Role::Viewer.permissions(), ["read"]);
        assert_eq!(Role::Publisher.permissions(), ["read", "write", "publish"]);
        assert_eq!(
            Role::Admin.permissions(),
            ["read", "write", "publish", "admin"]
        );
        assert!(Role::Author < Role::Publisher);
        assert_eq!(Role::parse("author"), Some(Role::Author));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_ne!(a, b);
        assert!(
            a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 43,
            "{a}"
        );
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
        assert!(check_given_token("short").is_err());
        assert!(check_given_token("a very long token with spaces").is_err());
        assert!(check_given_token("0123456789abcdef").is_ok());
    }
}
