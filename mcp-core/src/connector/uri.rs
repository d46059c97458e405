//! Names in resource URIs: a connector builds `scheme://{a}/{b}` from names that may hold
//! `/`, `%`, spaces or anything else (a kubeconfig context named after an EKS ARN, a
//! table called `Order Items`), so each variable is percent-encoded on the way out and
//! decoded strictly by [`crate::protocol::uri::percent_decode`] on the way in.

/// `s` with every byte outside RFC 3986's unreserved set (`A-Z a-z 0-9 - . _ ~`)
/// percent-encoded: one URI path segment, whatever `s` holds.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode_segment;
    use crate::protocol::uri::percent_decode;

    #[test]
    fn segments_round_trip_and_hold_no_separator() {
        for name in ["main", "arn:aws:eks:eu-west-1:123:cluster/prod", "Order Items", "100%", "naïve", "a/b?c#d"] {
            let encoded = encode_segment(name);
            assert!(!encoded.contains(['/', '?', '#', ' ']), "{encoded}");
            assert_eq!(percent_decode(&encoded).as_deref(), Some(name));
        }
        assert_eq!(encode_segment("kind-mcp"), "kind-mcp");
        assert_eq!(encode_segment("a/b"), "a%2Fb");
    }
}
