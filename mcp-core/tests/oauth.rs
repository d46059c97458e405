//! OAuth 2.1 resource server over real HTTP: JWT access tokens checked against a JWKS
//! fetched from a URL (signature, issuer, audience, expiry, scopes), the protected-resource
//! metadata document, the challenges, and scopes selecting policy sections.

mod common;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{NoArgs, mcp_post};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcp_core::client::{Client, ClientOptions, EraChoice};
use mcp_core::security::auth::{JwksSource, OAuthConfig};
use mcp_core::security::{Authenticator, Policy};
use mcp_core::server::Server;
use mcp_core::transport::http::{HttpConfig, serve_listener};
use mcp_core::{Context, ToolError, tool};
use serde_json::{Value, json};

const KEY: &str = include_str!("fixtures/oauth-test-key.pem");
const JWKS: &str = include_str!("fixtures/oauth-test-jwks.json");
const ISSUER: &str = "https://issuer.test";

/// Serves the JWKS on loopback, as an authorization server would.
async fn jwks_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    let app = axum::Router::new()
        .route("/jwks.json", axum::routing::get(|| async { ([("content-type", "application/json")], JWKS) }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Starts the server; returns its `/mcp` URL (which is also the tokens' audience).
async fn start() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let audience = format!("{base}/mcp");
    let config = OAuthConfig {
        issuer: ISSUER.into(),
        audience: audience.clone(),
        jwks: JwksSource::Url(jwks_url().await),
        required_scopes: vec!["mcp".into()],
    };
    let auth = Authenticator::default().with_oauth(config).await.expect("oauth");
    let policy = Policy::default()
        .with_toml("read_only = true\n[identities.\"scope:mcp.write\"]\nread_only = false", "test")
        .expect("policy");
    let server = Server::builder("oauth-test", "1.0.0")
        .tool(
            tool("whoami", |ctx: Context, _: NoArgs| async move { Ok::<_, ToolError>(ctx.identity().name.clone()) })
                .read_only(),
        )
        .tool(tool("write", |_ctx: Context, _: NoArgs| async { Ok::<_, ToolError>("written") }).additive())
        .policy(policy)
        .build();
    let http = HttpConfig { auth: Some(Arc::new(auth)), ..Default::default() };
    tokio::spawn(serve_listener(server, listener, http, futures::future::pending()));
    audience
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

fn token(claims: Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("test-key-1".into());
    let key = EncodingKey::from_ec_pem(KEY.as_bytes()).expect("test key");
    jsonwebtoken::encode(&header, &claims, &key).expect("sign")
}

fn claims(audience: &str, scope: &str) -> Value {
    json!({"iss": ISSUER, "aud": audience, "sub": "user-42", "exp": now() + 600, "iat": now(), "scope": scope})
}

async fn post_with(url: &str, bearer: &str) -> reqwest::Response {
    mcp_post(url, json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})).bearer_auth(bearer).send().await.expect("send")
}

#[tokio::test]
async fn valid_tokens_are_accepted_and_scopes_select_the_policy() {
    let url = start().await;
    for (scope, tools) in [("mcp", vec!["whoami"]), ("mcp mcp.write", vec!["whoami", "write"])] {
        let options = ClientOptions {
            era: EraChoice::Stateless,
            bearer_token: Some(token(claims(&url, scope))),
            ..Default::default()
        };
        let client = Client::connect_http(&url, options).await.expect("connect with a valid token");
        let names: Vec<String> = client.list_tools().await.expect("list").into_iter().map(|t| t.name).collect();
        assert_eq!(names, tools, "scope {scope}");
        let me = client.call_tool("whoami", json!({})).await.expect("whoami");
        assert_eq!(me.content[0].as_text(), Some("user-42"));
    }
}

#[tokio::test]
async fn bad_tokens_are_refused_with_the_reason() {
    let url = start().await;
    let mut expired = claims(&url, "mcp");
    expired["exp"] = json!(now() - 3600);
    let mut foreign = claims("https://other.example/mcp", "mcp");
    foreign["sub"] = json!("mallory");
    let mut wrong_issuer = claims(&url, "mcp");
    wrong_issuer["iss"] = json!("https://evil.example");
    let good = token(claims(&url, "mcp"));
    let (head, rest) = good.split_once('.').expect("jwt");
    let (_, signature) = rest.split_once('.').expect("jwt");
    let forged_claims = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(&url, "mcp mcp.write"),
        &EncodingKey::from_secret(b"x"),
    )
    .expect("sign");
    let forged_payload = forged_claims.split('.').nth(1).expect("payload");
    let tampered = format!("{head}.{forged_payload}.{signature}");

    for (label, bearer, status, reason) in [
        ("expired", token(expired), 401, "expired"),
        ("wrong audience", token(foreign), 401, "not meant for"),
        ("wrong issuer", token(wrong_issuer), 401, "not issued by"),
        ("tampered", tampered, 401, "signature"),
        ("missing scope", token(claims(&url, "profile")), 403, "insufficient_scope"),
    ] {
        let resp = post_with(&url, &bearer).await;
        assert_eq!(resp.status(), status, "{label}");
        let challenge =
            resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let metadata_url = url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp");
        assert!(challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")), "{label}: {challenge}");
        let body = resp.text().await.unwrap_or_default();
        assert!(challenge.contains(reason) || body.contains(reason), "{label}: {challenge} / {body}");
    }
}

#[tokio::test]
async fn the_protected_resource_metadata_names_the_issuer() {
    let url = start().await;
    let doc: Value = mcp_core::tls::http_client()
        .build()
        .expect("an HTTP client")
        .get(url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["resource"], url);
    assert_eq!(doc["authorization_servers"], json!([ISSUER]));
    assert_eq!(doc["scopes_supported"], json!(["mcp"]));
}
