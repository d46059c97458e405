//! Resources that exist at request time: a connector's lister adds them to
//! `resources/list` after the static ones, sees who asks, and the framework pages the lot.

mod common;

use std::sync::Arc;

use common::serve_on_loopback;
use mcp_core::client::{Client, ClientOptions, EraChoice};
use mcp_core::protocol::{Resource, ResourceContents};
use mcp_core::security::Authenticator;
use mcp_core::server::Server;
use mcp_core::transport::http::HttpConfig;
use mcp_core::{Context, ToolError, resource};

fn item(uri: String) -> Resource {
    Resource {
        name: uri.clone(),
        uri,
        title: None,
        description: None,
        mime_type: Some("application/json".into()),
        size: None,
    }
}

async fn start() -> String {
    let server = Server::builder("lister-test", "1.0.0")
        .resource(resource("test://static", "static", |_ctx: Context| async {
            Ok::<_, ToolError>(ResourceContents::text("test://static", "text/plain", "s"))
        }))
        .resource_lister(|ctx: Context| async move {
            // What a client sees depends on who it is.
            let count = if ctx.identity().name == "admin" { 5 } else { 2 };
            Ok::<_, ToolError>((0..count).map(|i| item(format!("test://dynamic/{i}"))).collect())
        })
        .configure(|c| c.page_size = 2)
        .build();
    let auth = Authenticator::from_tokens("admin=admin-token-0123456789\nguest=guest-token-0123456789", "test")
        .expect("tokens");
    let config = HttpConfig { auth: Some(Arc::new(auth)), ..Default::default() };
    format!("http://{}/mcp", serve_on_loopback(server, config).await)
}

#[tokio::test]
async fn listed_resources_follow_the_static_ones_per_client_and_page() {
    let url = start().await;
    for era in [EraChoice::Handshake, EraChoice::Stateless] {
        for (token, expected) in [("admin-token-0123456789", 5), ("guest-token-0123456789", 2)] {
            let options = ClientOptions { era, bearer_token: Some(token.into()), ..Default::default() };
            let client = Client::connect_http(&url, options).await.expect("connect");
            assert_eq!(client.server_capabilities()["resources"]["listChanged"], true);
            // Pages of two, across the static resource and the listed ones.
            let all = client.list_resources().await.expect("list");
            let uris: Vec<&str> = all.iter().filter_map(|r| r["uri"].as_str()).collect();
            let mut want = vec!["test://static".to_string()];
            want.extend((0..expected).map(|i| format!("test://dynamic/{i}")));
            assert_eq!(uris, want, "{era:?} {token}");
        }
    }
}
