//! TLS for outgoing HTTPS: the client, JWKS downloads, connectors' HTTP backends (n8n).
//! rustls with ring, the crypto sqlx and kube already build with, and the platform's
//! trust store. reqwest is built without a crypto provider of its own, so every client
//! must come from [`http_client`] (or follow [`install_crypto_provider`]).

use std::sync::Once;

/// Makes ring the process's rustls crypto provider, once; harmless if one is installed.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // An error means another provider is already installed: it serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A reqwest client builder that can speak HTTPS.
pub fn http_client() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

/// A reqwest client built on its first use: building one loads the platform's trust
/// store (a few milliseconds and about a MiB), which a server that is never asked to call
/// its backend should not pay at start. A build error is kept and returned by every use.
pub struct LazyClient {
    make: Box<dyn Fn() -> reqwest::ClientBuilder + Send + Sync>,
    client: std::sync::OnceLock<Result<reqwest::Client, String>>,
}

impl std::fmt::Debug for LazyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyClient").field("built", &self.client.get().is_some()).finish_non_exhaustive()
    }
}

impl LazyClient {
    /// A client that `configure` sets up from [`http_client`], when first used.
    pub fn new(configure: impl Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync + 'static) -> Self {
        Self { make: Box::new(move || configure(http_client())), client: std::sync::OnceLock::new() }
    }

    /// The client, built now if it was not yet; the builder's error as text otherwise.
    pub fn get(&self) -> Result<&reqwest::Client, String> {
        self.client
            .get_or_init(|| (self.make)().build().map_err(|e| format!("HTTP client: {e}")))
            .as_ref()
            .map_err(Clone::clone)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clients_can_be_built_with_tls() {
        let client = super::http_client().https_only(true).build();
        assert!(client.is_ok(), "{client:?}");
    }

    #[test]
    fn a_lazy_client_is_built_once_on_first_use() {
        let client = super::LazyClient::new(|b| b.https_only(true));
        assert!(format!("{client:?}").contains("built: false"));
        let first = client.get().map(|c| c as *const reqwest::Client);
        assert!(first.is_ok(), "{first:?}");
        assert_eq!(first, client.get().map(|c| c as *const reqwest::Client));
        assert!(format!("{client:?}").contains("built: true"));
    }
}
