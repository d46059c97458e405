//! DNS-rebinding protection: which `Host` and `Origin` values the HTTP listener answers.
//!
//! A page on `attacker.example` whose name was made to resolve to 127.0.0.1 reaches a
//! loopback server with `Host: attacker.example` and its own `Origin`. So the listener
//! answers only authorities that name this machine's loopback interface, or that the
//! operator listed (`--allowed-hosts`, `--allowed-origins`). The decision is made on the
//! parsed authority, never on how it is spelled: `127.attacker.example` is a name, not an
//! address, and a name is loopback only when it is `localhost`.
//!
//! The parser is strict, as browsers are in what they send: `host[:port]` with a host that
//! is a bracketed IPv6 address, a dotted-quad IPv4 address (as [`std::net::Ipv4Addr`]
//! parses it: exactly four decimal parts, no leading zeros), or a DNS name of letters,
//! digits, `-`, `_` and `.`. Anything else is refused: userinfo (`@`), paths, spaces,
//! percent-encoding, empty or out-of-range ports, and names whose last label is a number
//! (`2130706433`, `0x7f.1`, `127.1`, `127.0.0.1.`), which URL parsers and resolvers read
//! as IPv4 addresses in ways that differ from one to the next.

use std::net::IpAddr;

/// The host of an authority, as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An IP address (IPv6 from between brackets).
    Ip(IpAddr),
    /// A DNS name, in ASCII lowercase, without its trailing dot.
    Name(String),
}

impl Host {
    /// Whether this host is this machine's loopback interface: `localhost`, an address in
    /// 127.0.0.0/8, `::1`, or an IPv4-mapped loopback address (`::ffff:127.0.0.1`, which
    /// the kernel delivers to 127.0.0.1).
    pub fn is_loopback(&self) -> bool {
        match self {
            Host::Name(name) => name == "localhost",
            Host::Ip(IpAddr::V4(v4)) => v4.is_loopback(),
            Host::Ip(IpAddr::V6(v6)) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        }
    }
}

/// `host[:port]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// The host.
    pub host: Host,
    /// The port, when the authority names one.
    pub port: Option<u16>,
}

/// Longest authority considered: a DNS name has at most 253 characters.
const MAX_AUTHORITY: usize = 300;

/// Parses a `Host` header value or an origin's authority; `None` when it is malformed.
pub fn parse_authority(text: &str) -> Option<Authority> {
    if text.is_empty() || text.len() > MAX_AUTHORITY {
        return None;
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        // Only an IPv6 address: no zone identifier, no IPvFuture.
        let ip: std::net::Ipv6Addr = inside.parse().ok()?;
        (Host::Ip(IpAddr::V6(ip)), after)
    } else {
        let end = text.find(':').unwrap_or(text.len());
        (parse_host(&text[..end])?, &text[end..])
    };
    let port = match port {
        "" => None,
        _ => Some(parse_port(port.strip_prefix(':')?)?),
    };
    Some(Authority { host, port })
}

/// A host outside brackets: an IPv4 address or a DNS name.
fn parse_host(text: &str) -> Option<Host> {
    if let Ok(v4) = text.parse::<std::net::Ipv4Addr>() {
        return Some(Host::Ip(IpAddr::V4(v4)));
    }
    let name = text.strip_suffix('.').unwrap_or(text);
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    let mut labels = name.split('.').peekable();
    while let Some(label) = labels.next() {
        let valid = !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return None;
        }
        // A name ending in a number is an IPv4 address in another spelling (WHATWG URL
        // reads `0x7f.1` as 127.0.0.1, and inet_aton reads `2130706433` so): refused.
        if labels.peek().is_none() && is_numeric_label(label) {
            return None;
        }
    }
    Some(Host::Name(name.to_ascii_lowercase()))
}

/// Decimal digits, or `0x` followed by hex digits.
fn is_numeric_label(label: &str) -> bool {
    let hex = label.strip_prefix("0x").or_else(|| label.strip_prefix("0X"));
    match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => label.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// One to five decimal digits, at most 65535.
fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// An origin's scheme; only web origins are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `http`
    Http,
    /// `https`
    Https,
}

/// `scheme://host[:port]`, parsed (the serialization of an origin: no userinfo, no path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The scheme.
    pub scheme: Scheme,
    /// The host.
    pub host: Host,
    /// The port, the scheme's default when the origin names none.
    pub port: u16,
}

/// Parses an `Origin` header value; `None` when malformed, not http(s), or `null`.
pub fn parse_origin(text: &str) -> Option<Origin> {
    let (scheme, authority) = text.split_once("://")?;
    let scheme = if scheme.eq_ignore_ascii_case("http") {
        Scheme::Http
    } else if scheme.eq_ignore_ascii_case("https") {
        Scheme::Https
    } else {
        return None;
    };
    // The authority parser refuses `@`, `/`, `?` and `#`: no userinfo, no path.
    let Authority { host, port } = parse_authority(authority)?;
    let port = port.unwrap_or(match scheme {
        Scheme::Http => 80,
        Scheme::Https => 443,
    });
    Some(Origin { scheme, host, port })
}

/// Whether a `Host` header value may be answered: a loopback host, or one listed in
/// `allowed` (`NAME`, `NAME:PORT`, an IP address, or `*` for any well-formed host).
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let Some(authority) = parse_authority(host) else { return false };
    authority.host.is_loopback()
        || allowed.iter().any(|entry| {
            entry.trim() == "*"
                || parse_authority(entry.trim())
                    .is_some_and(|e| e.host == authority.host && e.port.is_none_or(|p| authority.port == Some(p)))
        })
}

/// Whether an `Origin` header value may be answered: an http(s) origin on a loopback
/// host, or one listed in `allowed` (compared as parsed: scheme, host and port, the
/// default port filled in), or `*` for any well-formed http(s) origin. The opaque origin
/// `null` (sandboxed frames, `file:` pages) only when `null` itself is listed.
pub fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    if origin == "null" {
        return allowed.iter().any(|entry| entry.trim() == "null");
    }
    let Some(parsed) = parse_origin(origin) else { return false };
    parsed.host.is_loopback()
        || allowed.iter().any(|entry| entry.trim() == "*" || parse_origin(entry.trim()).is_some_and(|e| e == parsed))
}

/// Checks the configured lists, so that an entry that could never match is reported at
/// start-up instead of refusing requests later.
pub fn check_allowed(hosts: &[String], origins: &[String]) -> Result<(), String> {
    for host in hosts {
        if host.trim() != "*" && parse_authority(host.trim()).is_none() {
            return Err(format!("--allowed-hosts entry {host:?} is not a host name, IP address or host:port (or *)"));
        }
    }
    for origin in origins {
        let origin = origin.trim();
        if origin != "*" && origin != "null" && parse_origin(origin).is_none() {
            return Err(format!(
                "--allowed-origins entry {origin:?} is not an origin like https://app.example.com[:port] (or * or null)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(list: &[&str]) -> Vec<String> {
        list.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn hosts_are_decided_on_their_parsed_form() {
        // (Host header, allowed with no configured names)
        let table: &[(&str, bool)] = &[
            // loopback names and addresses, any port, any case
            ("localhost", true),
            ("localhost:8080", true),
            ("LOCALHOST:8080", true),
            ("LocalHost.", true),
            ("localhost.:8080", true),
            ("127.0.0.1", true),
            ("127.0.0.1:3000", true),
            ("127.0.0.2:3000", true),
            ("127.255.255.254", true),
            ("[::1]", true),
            ("[::1]:8080", true),
            ("[0:0:0:0:0:0:0:1]:8080", true),
            ("[0000:0000:0000:0000:0000:0000:0000:0001]", true),
            // IPv4-mapped loopback is delivered to 127.0.0.1 by the kernel.
            ("[::ffff:127.0.0.1]:8080", true),
            ("[::FFFF:7f00:1]", true),
            // DNS rebinding: names that merely start like loopback
            ("127.attacker.example", false),
            ("127.attacker.example:8080", false),
            ("127.0.0.1.nip.io", false),
            ("127.0.0.1.nip.io:8080", false),
            ("localhost.attacker.example", false),
            ("attacker-localhost", false),
            ("sub.localhost", false),
            ("evil.com", false),
            // other spellings of 127.0.0.1 that parsers and resolvers read differently
            ("2130706433", false),
            ("0x7f000001", false),
            ("0x7f.1", false),
            ("017700000001", false),
            ("0177.0.0.1", false),
            ("127.0.0.01", false),
            ("127.1", false),
            ("127.0.1", false),
            ("127.0.0.1.", false),
            ("127.0.0.1.:80", false),
            // not loopback addresses
            ("[::]", false),
            ("0.0.0.0", false),
            ("[::127.0.0.1]", false),
            ("[::ffff:10.0.0.1]", false),
            ("10.0.0.1", false),
            // malformed authorities
            ("", false),
            (":8080", false),
            ("localhost:", false),
            ("localhost:http", false),
            ("localhost:65536", false),
            ("localhost:+80", false),
            ("localhost:-1", false),
            ("localhost:8080:80", false),
            ("localhost :8080", false),
            (" localhost", false),
            ("local host", false),
            ("user@localhost", false),
            ("evil.com@localhost", false),
            ("localhost@evil.com", false),
            ("localhost/", false),
            ("localhost?x", false),
            ("localhost#x", false),
            ("localhost%2e", false),
            ("::1", false),
            ("[::1", false),
            ("::1]", false),
            ("[::1]x", false),
            ("[::1]:", false),
            ("[::1]:80x", false),
            ("[::1]]", false),
            ("[[::1]]", false),
            ("[fe80::1%25eth0]", false),
            ("[127.0.0.1]", false),
            ("[v1.x]", false),
            ("localhost..", false),
            ("..", false),
            (".", false),
            ("locälhost", false),
        ];
        for (host, allowed) in table {
            assert_eq!(host_allowed(host, &[]), *allowed, "Host {host:?}");
        }
    }

    #[test]
    fn configured_hosts_match_exactly_on_the_parsed_name() {
        let allowed = s(&["mcp.example.com", "api.example.com:8443", "10.0.0.5", "[fd00::1]"]);
        let table: &[(&str, bool)] = &[
            ("mcp.example.com", true),
            ("MCP.Example.COM:8080", true),
            ("mcp.example.com.", true),
            ("api.example.com:8443", true),
            ("api.example.com:8080", false),
            ("api.example.com", false),
            ("10.0.0.5:8080", true),
            ("[fd00::1]:8080", true),
            ("[fd00:0::1]", true),
            ("x.mcp.example.com", false),
            ("mcp.example.com.evil.com", false),
            ("mcp.example.co", false),
            ("mcp.example.com@evil.com", false),
            ("localhost", true),
        ];
        for (host, expected) in table {
            assert_eq!(host_allowed(host, &allowed), *expected, "Host {host:?}");
        }
        assert!(host_allowed("anything.example", &s(&["*"])));
        assert!(!host_allowed("bad host", &s(&["*"])), "* allows any well-formed host only");
    }

    #[test]
    fn origins_are_web_origins_without_userinfo_or_path() {
        let table: &[(&str, bool)] = &[
            ("http://localhost", true),
            ("http://localhost:3000", true),
            ("HTTP://LOCALHOST:3000", true),
            ("https://127.0.0.1:8443", true),
            ("http://127.0.0.2", true),
            ("http://[::1]:3000", true),
            ("http://[::ffff:127.0.0.1]", true),
            ("http://127.attacker.example", false),
            ("http://127.0.0.1.nip.io:3000", false),
            ("http://127.0.0.1@evil.com", false),
            ("http://evil.com@127.0.0.1", false),
            ("http://user:pass@localhost", false),
            ("http://localhost/", false),
            ("http://localhost/path", false),
            ("http://localhost:3000/x", false),
            ("http://localhost?x", false),
            ("http://localhost#x", false),
            ("http://localhost\\@evil.com", false),
            ("ftp://localhost", false),
            ("file://localhost", false),
            ("ws://localhost", false),
            ("chrome-extension://abc", false),
            ("localhost", false),
            ("http:/localhost", false),
            ("http://", false),
            ("null", false),
            ("Null", false),
            ("", false),
            ("http://2130706433", false),
            ("http://0x7f.1", false),
        ];
        for (origin, allowed) in table {
            assert_eq!(origin_allowed(origin, &[]), *allowed, "Origin {origin:?}");
        }
    }

    #[test]
    fn configured_origins_compare_scheme_host_and_port() {
        let allowed = s(&["https://app.example.com", "http://tool.example.com:8080", "null"]);
        let table: &[(&str, bool)] = &[
            ("https://app.example.com", true),
            ("https://APP.example.com:443", true),
            ("http://app.example.com", false),
            ("https://app.example.com:8443", false),
            ("https://app.example.com.evil.com", false),
            ("https://app.example.com@evil.com", false),
            ("http://tool.example.com:8080", true),
            ("http://tool.example.com", false),
            ("null", true),
        ];
        for (origin, expected) in table {
            assert_eq!(origin_allowed(origin, &allowed), *expected, "Origin {origin:?}");
        }
        assert!(!origin_allowed("null", &s(&["*"])), "null needs to be listed itself");
        assert!(origin_allowed("https://any.example", &s(&["*"])));
        assert!(!origin_allowed("https://a@any.example", &s(&["*"])));
    }

    #[test]
    fn configured_entries_are_checked_at_start_up() {
        assert!(
            check_allowed(&s(&["mcp.example.com", "*", "10.0.0.1:80"]), &s(&["https://a.example", "*", "null"]))
                .is_ok()
        );
        let err = check_allowed(&s(&["https://mcp.example.com"]), &[]).expect_err("a URL is not a host");
        assert!(err.contains("--allowed-hosts"), "{err}");
        let err = check_allowed(&[], &s(&["app.example.com"])).expect_err("a host is not an origin");
        assert!(err.contains("--allowed-origins"), "{err}");
    }
}
