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

#[cfg(test)]
mod tests {
    #[test]
    fn clients_can_be_built_with_tls() {
        let client = super::http_client().https_only(true).build();
        assert!(client.is_ok(), "{client:?}");
    }
}
