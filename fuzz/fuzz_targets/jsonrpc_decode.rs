//! The JSON-RPC parser every transport calls on a frame (a stdio line, an HTTP body, a
//! WebSocket text message): it must never panic, and what it accepts must survive the
//! trip out and back unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_core::protocol::{Message, parse_message};

fuzz_target!(|data: &[u8]| {
    match parse_message(data) {
        Ok(message) => {
            let bytes = message.to_vec();
            // Written out, a message is one stdio line.
            assert!(!bytes.contains(&b'\n'), "a serialized message spans lines: {bytes:?}");
            let again =
                parse_message(&bytes).unwrap_or_else(|r| panic!("{message:?} written out does not parse: {r:?}"));
            assert_eq!(again, message, "the message changed on its way out and back");
        }
        Err(rejection) => {
            // The error answer is valid JSON on one line, whatever the input was.
            let bytes = Message::Response(rejection.into_response()).to_vec();
            assert!(!bytes.contains(&b'\n'), "an error answer spans lines");
            assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(), "an error answer is not JSON");
        }
    }
});
