//! Percent-decoding for the parts of URIs that tools read (resource template variables,
//! URL path segments): strict, so that a malformed escape is an error the caller reports
//! rather than text it passes on as if it were decoded.

/// `s` with each `%XX` decoded; `None` when a `%` is not followed by two hex digits or
/// the bytes are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            // Two hex digits exactly (`from_str_radix` alone would take `+1`).
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn escapes_decode_and_malformed_ones_are_refused() {
        assert_eq!(percent_decode("caf%C3%A9%20x").as_deref(), Some("café x"));
        assert_eq!(percent_decode("%252e").as_deref(), Some("%2e"));
        for bad in ["%", "x%2", "%zz", "%+1", "%C3"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }
}
