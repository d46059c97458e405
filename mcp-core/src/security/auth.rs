//! Authentication of network clients, two ways, usable together:
//!
//! - Named bearer tokens, compared in constant time. They come from a file or an
//!   environment variable, one `name=token` per line (or comma-separated), `#` starting a
//!   comment; the token's name becomes the client's [`Identity`].
//! - OAuth 2.1, as a resource server (the specification's authorization pages): JWT
//!   access tokens verified against a JWKS (file or URL), their issuer, their audience
//!   (this server), their expiry and their scopes; the subject becomes the identity and
//!   its scopes select policy sections. The protected-resource metadata document tells
//!   clients where to get tokens. Tokens are never passed on to backends.
//!
//! A client without a valid token gets 401 with a `WWW-Authenticate` challenge, one
//! without a required scope 403. Tokens are never logged.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::identity::Identity;
use crate::sync::lock;

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    /// A token that is not valid here.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// A valid token without a scope this server requires.
    #[error("insufficient scope: the token needs {0}")]
    InsufficientScope(String),
}

/// Where the JWT signing keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// A JWKS document on disk.
    File(std::path::PathBuf),
    /// A JWKS URL, fetched at start and again when a token names an unknown key.
    Url(String),
}

/// The OAuth resource-server settings.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The authorization server: tokens must carry it as `iss`.
    pub issuer: String,
    /// This server's resource URL (e.g. `https://mcp.example.com/mcp`): tokens must carry
    /// it in `aud`, so that a token minted for another service is refused.
    pub audience: String,
    /// The signing keys.
    pub jwks: JwksSource,
    /// Scopes every token must hold.
    pub required_scopes: Vec<String>,
}

struct OAuth {
    config: OAuthConfig,
    keys: Mutex<(JwkSet, Instant)>,
}

#[derive(serde::Deserialize)]
struct Claims {
    sub: String,
    scope: Option<String>,
    scp: Option<Vec<String>>,
    #[serde(default)]
    groups: Option<Groups>,
}

/// The `groups` claim: a list of names, or one name (some issuers send a string).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Groups {
    List(Vec<String>),
    One(String),
}

/// Most groups an identity carries: each may become a request header downstream.
const MAX_GROUPS: usize = 64;

/// The groups of a `groups` claim: empty names dropped, duplicates once, at most
/// [`MAX_GROUPS`] (a token naming more is refused rather than silently narrowed, since
/// a missing group could grant or deny differently downstream).
fn groups_of(claim: Option<Groups>) -> Result<Vec<String>, AuthError> {
    let mut groups: Vec<String> = match claim {
        None => Vec::new(),
        Some(Groups::One(g)) => vec![g],
        Some(Groups::List(list)) => list,
    };
    groups.retain(|g| !g.trim().is_empty());
    let mut seen = std::collections::HashSet::new();
    groups.retain(|g| seen.insert(g.clone()));
    if groups.len() > MAX_GROUPS {
        return Err(AuthError::Invalid(format!("the token names {} groups (at most {MAX_GROUPS})", groups.len())));
    }
    Ok(groups)
}

async fn load_jwks(source: &JwksSource) -> Result<JwkSet, String> {
    let text = match source {
        JwksSource::File(path) => {
            std::fs::read_to_string(path).map_err(|e| format!("cannot read JWKS {}: {e}", path.display()))?
        }
        JwksSource::Url(url) => crate::tls::http_client()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot fetch JWKS {url}: {e}"))?
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("cannot fetch JWKS {url}: {e}"))?
            .text()
            .await
            .map_err(|e| format!("cannot read JWKS {url}: {e}"))?,
    };
    serde_json::from_str(&text).map_err(|e| format!("JWKS is not a valid key set: {e}"))
}

impl OAuth {
    async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let invalid = |why: String| AuthError::Invalid(why);
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(format!("not a JWT: {e}")))?;
        let kid = header.kid.clone().unwrap_or_default();
        let mut jwk = lock(&self.keys).0.find(&kid).cloned();
        if jwk.is_none() && matches!(self.config.jwks, JwksSource::Url(_)) {
            // Keys rotate: look again, at most once a minute.
            let stale = lock(&self.keys).1.elapsed() > Duration::from_secs(60);
            if stale && let Ok(fresh) = load_jwks(&self.config.jwks).await {
                jwk = fresh.find(&kid).cloned();
                *lock(&self.keys) = (fresh, Instant::now());
            }
        }
        let jwk = jwk.ok_or_else(|| invalid(format!("signed with an unknown key {kid:?}")))?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| invalid(format!("unusable key {kid:?}: {e}")))?;
        if let Some(alg) = jwk.common.key_algorithm
            && alg.to_string() != format!("{:?}", header.alg)
        {
            return Err(invalid(format!("algorithm {:?} does not match the key's {alg}", header.alg)));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            invalid(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired".into(),
                ErrorKind::InvalidIssuer => format!("the token was not issued by {}", self.config.issuer),
                ErrorKind::InvalidAudience => format!("the token is not meant for {}", self.config.audience),
                ErrorKind::InvalidSignature => "bad signature".into(),
                other => format!("{other:?}"),
            })
        })?;
        let claims = data.claims;
        let scopes: Vec<String> = match (claims.scope, claims.scp) {
            (Some(s), _) => s.split_whitespace().map(str::to_string).collect(),
            (None, Some(list)) => list,
            (None, None) => Vec::new(),
        };
        let missing: Vec<&String> = self.config.required_scopes.iter().filter(|s| !scopes.contains(s)).collect();
        if !missing.is_empty() {
            let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            return Err(AuthError::InsufficientScope(list.join(" ")));
        }
        let groups = groups_of(claims.groups)?;
        Ok(Identity { name: claims.sub, scopes, groups })
    }
}

struct NamedToken {
    name: String,
    digest: [u8; 32],
}

/// Checks the `Authorization` header of HTTP and WebSocket requests.
#[derive(Default)]
pub struct Authenticator {
    tokens: Vec<NamedToken>,
    oauth: Option<OAuth>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.tokens.iter().map(|t| t.name.as_str()).collect();
        let oauth = self.oauth.as_ref().map(|o| &o.config.issuer);
        f.debug_struct("Authenticator").field("tokens", &names).field("oauth_issuer", &oauth).finish()
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
        Ok(Self { tokens, oauth: None })
    }

    /// Accepts OAuth access tokens too (loads the JWKS now).
    pub async fn with_oauth(mut self, config: OAuthConfig) -> Result<Self, String> {
        if config.audience.is_empty() || config.issuer.is_empty() {
            return Err("OAuth needs both an issuer and an audience (this server's URL)".into());
        }
        let keys = load_jwks(&config.jwks).await?;
        self.oauth = Some(OAuth { config, keys: Mutex::new((keys, Instant::now())) });
        Ok(self)
    }

    /// The protected-resource metadata document (RFC 9728), when OAuth is on.
    pub fn resource_metadata(&self) -> Option<Value> {
        let c = &self.oauth.as_ref()?.config;
        Some(json!({
            "resource": c.audience,
            "authorization_servers": [c.issuer],
            "scopes_supported": c.required_scopes,
            "bearer_methods_supported": ["header"],
        }))
    }

    /// Where the metadata document is served for this resource.
    fn resource_metadata_url(&self) -> Option<String> {
        let audience = &self.oauth.as_ref()?.config.audience;
        let (scheme, rest) = audience.split_once("://")?;
        let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
        let path = if path.is_empty() { String::new() } else { format!("/{path}") };
        Some(format!("{scheme}://{host}/.well-known/oauth-protected-resource{path}"))
    }

    /// Tokens from a file.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_tokens(&text, &path.display().to_string())
    }

    /// Who sent this `Authorization` header value.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Identity, AuthError> {
        let Some(value) = authorization else { return Err(AuthError::Missing) };
        let Some(token) = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")) else {
            return Err(AuthError::Invalid("the Authorization scheme must be Bearer".into()));
        };
        if let Some(oauth) = &self.oauth
            && token.split('.').count() == 3
        {
            return oauth.verify(token.trim()).await;
        }
        self.static_token(token)
    }

    fn static_token(&self, token: &str) -> Result<Identity, AuthError> {
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

    /// The `WWW-Authenticate` value that goes with a 401 or 403 for `error`.
    pub fn challenge(&self, error: &AuthError) -> String {
        let mut value = String::from(r#"Bearer realm="mcp""#);
        if let Some(url) = self.resource_metadata_url() {
            value.push_str(&format!(r#", resource_metadata="{url}""#));
        }
        match error {
            AuthError::Missing => {}
            AuthError::Invalid(why) => {
                value.push_str(&format!(r#", error="invalid_token", error_description="{}""#, why.replace('"', "'")))
            }
            AuthError::InsufficientScope(scope) => {
                value.push_str(&format!(r#", error="insufficient_scope", scope="{scope}""#))
            }
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn named_tokens_authenticate_and_others_do_not() {
        let auth = Authenticator::from_tokens(
            "# team tokens\nalice = aaaaaaaaaaaaaaaaaaaa\nci=bbbbbbbbbbbbbbbbbbbbbbbb",
            "test",
        )
        .expect("tokens");
        assert_eq!(auth.authenticate(Some("Bearer aaaaaaaaaaaaaaaaaaaa")).await, Ok(Identity::named("alice")));
        assert_eq!(auth.authenticate(Some("Bearer bbbbbbbbbbbbbbbbbbbbbbbb")).await, Ok(Identity::named("ci")));
        assert_eq!(auth.authenticate(None).await, Err(AuthError::Missing));
        assert!(matches!(auth.authenticate(Some("Bearer nope-nope-nope-nope")).await, Err(AuthError::Invalid(_))));
        assert!(matches!(auth.authenticate(Some("Basic YWxpY2U6eA==")).await, Err(AuthError::Invalid(_))));
        assert!(!format!("{auth:?}").contains("aaaa"), "tokens must not appear in debug output");
    }

    #[test]
    fn weak_or_malformed_token_lists_are_refused() {
        assert!(Authenticator::from_tokens("alice=short", "t").is_err());
        assert!(Authenticator::from_tokens("justatokenwithoutname", "t").is_err());
        assert!(Authenticator::from_tokens("a=xxxxxxxxxxxxxxxxxx,a=yyyyyyyyyyyyyyyyyy", "t").is_err());
        assert!(Authenticator::from_tokens("# nothing", "t").is_err());
    }

    /// An access token signed with the test key, carrying `extra` claims.
    async fn oauth_identity(extra: serde_json::Value) -> Result<Identity, AuthError> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let config = OAuthConfig {
            issuer: "https://issuer.test".into(),
            audience: "https://mcp.test/mcp".into(),
            jwks: JwksSource::File(format!("{dir}/oauth-test-jwks.json").into()),
            required_scopes: vec![],
        };
        let auth = Authenticator::default().with_oauth(config).await.expect("oauth");
        let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() + 600;
        let mut claims = serde_json::json!({"iss": "https://issuer.test", "aud": "https://mcp.test/mcp", "sub": "user-42", "exp": exp});
        if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("test-key-1".into());
        let pem = std::fs::read(format!("{dir}/oauth-test-key.pem")).expect("test key");
        let key = jsonwebtoken::EncodingKey::from_ec_pem(&pem).expect("test key");
        let token = jsonwebtoken::encode(&header, &claims, &key).expect("sign");
        auth.authenticate(Some(&format!("Bearer {token}"))).await
    }

    #[tokio::test]
    async fn the_groups_claim_becomes_the_identity_groups() {
        let id = oauth_identity(serde_json::json!({"groups": ["dev", "", "ops", "dev"]})).await.expect("valid");
        assert_eq!((id.name.as_str(), id.groups), ("user-42", vec!["dev".to_string(), "ops".to_string()]));
        let one = oauth_identity(serde_json::json!({"groups": "sre"})).await.expect("valid");
        assert_eq!(one.groups, vec!["sre".to_string()]);
        let none = oauth_identity(serde_json::json!({})).await.expect("valid");
        assert!(none.groups.is_empty());
        let many: Vec<String> = (0..=MAX_GROUPS).map(|i| format!("g{i}")).collect();
        let refused = oauth_identity(serde_json::json!({"groups": many})).await;
        assert!(matches!(&refused, Err(AuthError::Invalid(why)) if why.contains("groups")), "{refused:?}");
        // Named bearer tokens carry no groups.
        assert!(Identity::named("ci").groups.is_empty());
    }
}
