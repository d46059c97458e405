//! `mcp audit verify` reads a trail an attacker may have edited: any bytes must give an
//! answer (intact, or the first broken line), never a panic, keyed or not. A trail found
//! intact must verify again against the head and line count it reported, as a deployment
//! that recorded them would check it later.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_core::security::audit::{AuditKey, Expected, verify_with};

fuzz_target!(|data: &[u8]| {
    let key = AuditKey::new(&[0x5a; 32]).expect("a 32-byte key");
    for keyed in [None, Some(&key)] {
        let open = Expected { key: keyed, ..Expected::default() };
        let Ok(found) = verify_with(data, &open) else { continue };
        let anchored = Expected { key: keyed, head: Some(&found.head), lines: Some(found.lines), after: None };
        let again = verify_with(data, &anchored);
        assert!(again.is_ok(), "intact with {} lines and head {}, but not against them: {again:?}", found.lines, found.head);
    }
    // A rotated file's continuation, with a made-up previous head.
    let after = Expected { after: Some("00ff"), ..Expected::default() };
    let _ = verify_with(data, &after);
});
