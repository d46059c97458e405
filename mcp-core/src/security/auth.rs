//! Authentication of network clients: named bearer tokens, compared in constant time.
//! A client without a valid token gets 401 with a `WWW-Authenticate` challenge; the
//! token's name becomes the client's [`Identity`] for the policy and the audit trail.
//!
//! Tokens come from a file or an environment variable, one `name=token` per line (or
//! comma-separated), `#` starting a comment. The tokens themselves are never logged.

use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Identity;

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    /// A token that is not valid here.
    #[error("invalid token: {0}")]
    Invalid(String),
}

struct NamedToken {
    name: String,
    digest: [u8; 32],
}

/// Checks the `Authorization` header of HTTP and WebSocket requests.
pub struct Authenticator {
    tokens: Vec<NamedToken>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.tokens.iter().map(|t| t.name.as_str()).collect();
        f.debug_struct("Authenticator").field("tokens", &names).finish()
    }
}

impl Authenticator {
    /// Tokens from text: `name=token` entries separated by newlines or commas.
    pub fn from_tokens(text: &str, origin: &str) -> Result<Self, String> {
        let mut tokens = Vec::new();
        for (i, entry) in text.split(['\n', ',']).enumerate() {
            let entry = entry.split('#').next().unwrap_or_default().trim();
            if entry.is_empty() {
                continue;
            }
            let Some((name, token)) = entry.split_once('=') else {
                return Err(format!("{origin}: entry {} is not `name=token`", i + 1));
            };
            let (name, token) = (name.trim(), token.trim());
            if name.is_empty() || token.len() < 16 {
                return Err(format!("{origin}: entry {} needs a name and a token of at least 16 characters", i + 1));
            }
            if tokens.iter().any(|t: &NamedToken| t.name == name) {
                return Err(format!("{origin}: token name {name:?} is used twice"));
            }
            tokens.push(NamedToken { name: name.to_string(), digest: Sha256::digest(token.as_bytes()).into() });
        }
        if tokens.is_empty() {
            return Err(format!("{origin} holds no tokens"));
        }
        Ok(Self { tokens })
    }

    /// Tokens from a file.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_tokens(&text, &path.display().to_string())
    }

    /// Who sent this `Authorization` header value.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Identity, AuthError> {
        let Some(value) = authorization else { return Err(AuthError::Missing) };
        let Some(token) = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")) else {
            return Err(AuthError::Invalid("the Authorization scheme must be Bearer".into()));
        };
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        // Compare against every token, so the time taken says nothing about which matched.
        let mut found = None;
        for t in &self.tokens {
            if bool::from(t.digest.ct_eq(&digest)) {
                found = Some(&t.name);
            }
        }
        found.map(Identity::named).ok_or_else(|| AuthError::Invalid("unknown bearer token".into()))
    }

    /// The `WWW-Authenticate` value that goes with a 401 for `error`.
    pub fn challenge(&self, error: &AuthError) -> String {
        match error {
            AuthError::Missing => r#"Bearer realm="mcp""#.to_string(),
            AuthError::Invalid(why) => {
                format!(r#"Bearer realm="mcp", error="invalid_token", error_description="{}""#, why.replace('"', "'"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_tokens_authenticate_and_others_do_not() {
        let auth = Authenticator::from_tokens(
            "# team tokens\nalice = aaaaaaaaaaaaaaaaaaaa\nci=bbbbbbbbbbbbbbbbbbbbbbbb",
            "test",
        )
        .expect("tokens");
        assert_eq!(auth.authenticate(Some("Bearer aaaaaaaaaaaaaaaaaaaa")), Ok(Identity::named("alice")));
        assert_eq!(auth.authenticate(Some("Bearer bbbbbbbbbbbbbbbbbbbbbbbb")), Ok(Identity::named("ci")));
        assert_eq!(auth.authenticate(None), Err(AuthError::Missing));
        assert!(matches!(auth.authenticate(Some("Bearer nope-nope-nope-nope")), Err(AuthError::Invalid(_))));
        assert!(matches!(auth.authenticate(Some("Basic YWxpY2U6eA==")), Err(AuthError::Invalid(_))));
        assert!(!format!("{auth:?}").contains("aaaa"), "tokens must not appear in debug output");
    }

    #[test]
    fn weak_or_malformed_token_lists_are_refused() {
        assert!(Authenticator::from_tokens("alice=short", "t").is_err());
        assert!(Authenticator::from_tokens("justatokenwithoutname", "t").is_err());
        assert!(Authenticator::from_tokens("a=xxxxxxxxxxxxxxxxxx,a=yyyyyyyyyyyyyyyyyy", "t").is_err());
        assert!(Authenticator::from_tokens("# nothing", "t").is_err());
    }
}
