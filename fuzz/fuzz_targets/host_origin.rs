//! The Host/Origin check behind HTTP and WebSocket (DNS-rebinding protection): it must
//! never panic, and whatever it allows without configured names must be loopback, as a
//! second, simpler reading of the same text decides (std's address parsers, `localhost`).
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use mcp_core::transport::origin::{host_allowed, origin_allowed, parse_authority};

/// The host of `host[:port]` when the port is digits (or absent); brackets kept.
fn host_part(authority: &str) -> Option<&str> {
    if authority.starts_with('[') {
        let end = authority.find(']')?;
        let after = &authority[end + 1..];
        let port_ok = after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| p.parse::<u16>().is_ok() && p.bytes().all(|b| b.is_ascii_digit()));
        return port_ok.then_some(&authority[..=end]);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() && port.bytes().all(|b| b.is_ascii_digit()) => Some(host),
        Some(_) => None,
        None => Some(authority),
    }
}

fn is_loopback(host: &str) -> bool {
    if let Some(inside) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inside
            .parse::<Ipv6Addr>()
            .is_ok_and(|a| a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()));
    }
    host.eq_ignore_ascii_case("localhost")
        || host.eq_ignore_ascii_case("localhost.")
        || host.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}

fn names(host: &str, name: &str) -> bool {
    host.eq_ignore_ascii_case(name) || host.strip_suffix('.').is_some_and(|h| h.eq_ignore_ascii_case(name))
}

/// `http(s)://` and an authority without userinfo or path.
fn origin_authority(origin: &str) -> Option<&str> {
    let (scheme, rest) = origin.split_once("://")?;
    let web = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    (web && !rest.contains(['@', '/', '?', '#', '\\'])).then_some(rest)
}

fuzz_target!(|data: &[u8]| {
    // Header values reach the check as text (non-UTF-8 ones are refused before it).
    let Ok(text) = std::str::from_utf8(data) else { return };
    let configured = ["mcp.example.com".to_string()];
    let configured_origins = ["https://app.example.com".to_string()];

    let host = host_allowed(text, &[]);
    if host {
        let loopback = host_part(text).is_some_and(is_loopback);
        assert!(loopback, "Host {text:?} allowed without configured names, but it is not loopback");
    }
    if host_allowed(text, &configured) {
        let ok = host_part(text).is_some_and(|h| is_loopback(h) || names(h, "mcp.example.com"));
        assert!(ok, "Host {text:?} allowed, but it is neither loopback nor the configured name");
    } else {
        assert!(!host, "configuring a name refused Host {text:?}");
    }
    // `*` allows exactly the well-formed hosts.
    assert_eq!(host_allowed(text, &["*".to_string()]), parse_authority(text).is_some());

    let origin = origin_allowed(text, &[]);
    if origin {
        let loopback = origin_authority(text).and_then(host_part).is_some_and(is_loopback);
        assert!(loopback, "Origin {text:?} allowed without configured origins, but it is not loopback");
    }
    if origin_allowed(text, &configured_origins) {
        let ok =
            origin_authority(text).and_then(host_part).is_some_and(|h| is_loopback(h) || names(h, "app.example.com"));
        assert!(ok, "Origin {text:?} allowed, but it is neither loopback nor the configured origin");
    } else {
        assert!(!origin, "configuring an origin refused Origin {text:?}");
    }
    assert!(!origin_allowed(text, &["*".to_string()]) || text != "null", "* must not allow the null origin");
});
