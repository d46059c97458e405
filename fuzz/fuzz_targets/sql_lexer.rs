//! mcp-postgres's SQL guard reads statements with `guard/lexer.rs` (PostgreSQL's lexical
//! rules). It must never panic, and its tokens must tile the text as the guard assumes:
//! in order, not overlapping, on character boundaries, every name resolved.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../mcp-postgres/src/guard/lexer.rs"]
#[allow(dead_code)]
mod lexer;

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else { return };
    let (tokens, _error) = lexer::tokens(sql);
    let mut last_end = 0;
    for t in &tokens {
        assert!(t.start >= last_end && t.start < t.end && t.end <= sql.len(), "{t:?} in {sql:?}");
        assert!(sql.is_char_boundary(t.start) && sql.is_char_boundary(t.end), "{t:?} in {sql:?}");
        if t.kind == lexer::Kind::Ident {
            let name = t.name.as_deref().expect("every name is resolved");
            let source = &sql[t.start..t.end];
            // An unquoted name is its own text, lower-cased.
            if !source.starts_with(['"', 'u', 'U']) || !source.contains('"') {
                assert_eq!(name, source.to_lowercase(), "{sql:?}");
            }
        }
        last_end = t.end;
    }
    // The escapes of U&"..." names, with any escape character.
    if let Some((&first, rest)) = data.split_first()
        && let Ok(raw) = std::str::from_utf8(rest)
    {
        let _ = lexer::decode_unicode(raw, char::from(first));
    }
});
