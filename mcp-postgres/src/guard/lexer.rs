//! PostgreSQL's lexical rules (the server's `scan.l`, as of PostgreSQL 15), so that the
//! guard reads a statement's names the way the server will: unquoted names folded to
//! lower case, `"quoted"` and `U&"\0070g..."` names decoded (with `UESCAPE`), strings of
//! every kind (`'..'`, `E'..'`, `U&'..'`, `B'..'`, `X'..'`, `$tag$..$tag$`) and nested
//! comments skipped as the server skips them.
//!
//! Where the server would reject the text anyway, this lexer may split it differently;
//! where it accepts the text, the tokens must be the server's. Standard-conforming
//! strings are assumed: every transaction the connector opens sets them.
//!
//! Self-contained (no crate imports) so that the fuzz target compiles this very file.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A name or keyword; its `name` is what the server reads.
    Ident,
    /// A string constant of any kind, or a bit string.
    String,
    /// A number.
    Number,
    /// A parameter, `$1`.
    Param,
    /// A run of operator characters (`+`, `->>`, `@>`, ...).
    Operator,
    /// A single character of punctuation: `( ) [ ] , ; : .`, or anything else alone.
    Punct(u8),
}

/// One token of the text, by byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    /// For identifiers: the name as the server resolves it, lower-cased whether quoted
    /// or not (the guard compares case-insensitively, which can only refuse more).
    pub name: Option<String>,
    /// A `U&"..."` identifier whose escapes still wait for a possible `UESCAPE`.
    unicode_raw: Option<String>,
}

/// Why a text could not be read; the server would refuse it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexError {
    /// A string, quoted name or comment that never ends.
    Unterminated { what: &'static str, at: usize },
    /// A `U&` name or a `UESCAPE` clause the server would not accept.
    BadUnicode { at: usize },
    /// `""`: the server refuses zero-length names.
    EmptyName { at: usize },
}

impl std::fmt::Display for LexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LexError::Unterminated { what, at } => write!(f, "unterminated {what} starting at byte {at}"),
            LexError::BadUnicode { at } => write!(f, "invalid Unicode escape in the name at byte {at}"),
            LexError::EmptyName { at } => write!(f, "zero-length quoted name at byte {at}"),
        }
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_cont(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

fn is_op_char(b: u8) -> bool {
    b"~!@#^&|`?+-*/%<>=".contains(&b)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// The text's tokens, comments and white space left out. Reading goes on past an error,
/// so that every part of the text is still looked at; the first error is returned beside.
pub fn tokens(sql: &str) -> (Vec<Token>, Option<LexError>) {
    let mut lexer = Lexer { s: sql.as_bytes(), i: 0, out: Vec::new(), error: None };
    lexer.run();
    let Lexer { mut out, mut error, .. } = lexer;
    resolve_unicode_names(sql, &mut out, &mut error);
    (out, error)
}

/// The statement without a final `;`, when it can stand as a subquery (a SELECT, WITH,
/// VALUES or TABLE statement, or one in parentheses).
pub fn subquery_body(sql: &str) -> Option<&str> {
    let (tokens, error) = tokens(sql);
    if error.is_some() {
        return None;
    }
    let first = tokens.iter().find(|t| t.kind != Kind::Punct(b'('))?;
    if !matches!(first.name.as_deref(), Some("select" | "with" | "values" | "table")) {
        return None;
    }
    match tokens.last() {
        Some(last) if last.kind == Kind::Punct(b';') => Some(&sql[..last.start]),
        Some(_) => Some(sql),
        None => None,
    }
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
    out: Vec<Token>,
    error: Option<LexError>,
}

impl Lexer<'_> {
    fn at(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }

    fn fail(&mut self, e: LexError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    fn push(&mut self, kind: Kind, start: usize) {
        self.out.push(Token { kind, start, end: self.i, name: None, unicode_raw: None });
    }

    fn run(&mut self) {
        while let Some(b) = self.at(0) {
            let start = self.i;
            match b {
                _ if is_space(b) => self.i += 1,
                b'-' if self.at(1) == Some(b'-') => {
                    while self.at(0).is_some_and(|c| c != b'\n' && c != b'\r') {
                        self.i += 1;
                    }
                }
                b'/' if self.at(1) == Some(b'*') => self.block_comment(),
                b'\'' => {
                    self.i += 1;
                    self.quoted(b'\'', false, "string", start);
                    self.push(Kind::String, start);
                }
                b'"' => {
                    self.i += 1;
                    let name = self.quoted(b'"', false, "quoted name", start);
                    if name.is_empty() {
                        self.fail(LexError::EmptyName { at: start });
                    }
                    self.out.push(Token {
                        kind: Kind::Ident,
                        start,
                        end: self.i,
                        name: Some(name.to_lowercase()),
                        unicode_raw: None,
                    });
                }
                b'$' => self.dollar(start),
                b'0'..=b'9' => self.number(start),
                b'.' if self.at(1).is_some_and(|c| c.is_ascii_digit()) => self.number(start),
                _ if is_ident_start(b) => self.word(start),
                _ if is_op_char(b) => {
                    // An operator ends where a comment starts, as in the server.
                    while self.at(0).is_some_and(is_op_char)
                        && !(self.at(0) == Some(b'-') && self.at(1) == Some(b'-'))
                        && !(self.at(0) == Some(b'/') && self.at(1) == Some(b'*'))
                    {
                        self.i += 1;
                    }
                    self.push(Kind::Operator, start);
                }
                _ => {
                    self.i += 1;
                    self.push(Kind::Punct(b), start);
                }
            }
        }
    }

    /// `/* ... */`, which nest.
    fn block_comment(&mut self) {
        let start = self.i;
        let mut depth = 0usize;
        while self.i < self.s.len() {
            if self.at(0) == Some(b'/') && self.at(1) == Some(b'*') {
                depth += 1;
                self.i += 2;
            } else if self.at(0) == Some(b'*') && self.at(1) == Some(b'/') {
                depth -= 1;
                self.i += 2;
                if depth == 0 {
                    return;
                }
            } else {
                self.i += 1;
            }
        }
        self.fail(LexError::Unterminated { what: "comment", at: start });
    }

    /// The body of a quoted string or name after its opening quote, up to the closing
    /// one; a doubled quote stands for itself, and with `backslash` a backslash escapes
    /// the next byte (`E'...'`). Returns the body with doubled quotes undone.
    fn quoted(&mut self, quote: u8, backslash: bool, what: &'static str, start: usize) -> String {
        let mut body = Vec::new();
        loop {
            match self.at(0) {
                None => {
                    self.fail(LexError::Unterminated { what, at: start });
                    break;
                }
                Some(b'\\') if backslash => {
                    body.extend_from_slice(&self.s[self.i..(self.i + 2).min(self.s.len())]);
                    self.i += 2;
                }
                Some(c) if c == quote => {
                    if self.at(1) == Some(quote) {
                        body.push(quote);
                        self.i += 2;
                    } else {
                        self.i += 1;
                        break;
                    }
                }
                Some(c) => {
                    body.push(c);
                    self.i += 1;
                }
            }
        }
        self.i = self.i.min(self.s.len());
        String::from_utf8_lossy(&body).into_owned()
    }

    /// `$1`, `$tag$ ... $tag$`, or a lone `$`.
    fn dollar(&mut self, start: usize) {
        if self.at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
            while self.at(0).is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            self.push(Kind::Param, start);
            return;
        }
        // A delimiter: `$`, an optional tag (a name without `$`), `$`.
        let mut j = self.i + 1;
        if self.s.get(j).copied().is_some_and(is_ident_start) {
            j += 1;
            while self.s.get(j).copied().is_some_and(|c| is_ident_start(c) || c.is_ascii_digit()) {
                j += 1;
            }
        }
        if self.s.get(j) != Some(&b'$') {
            self.i += 1;
            self.push(Kind::Punct(b'$'), start);
            return;
        }
        let delimiter = &self.s[self.i..=j];
        self.i = j + 1;
        // The body ends at the first occurrence of the same delimiter (which is where
        // the server's scanner, putting back the last `$` of any other tag, ends it).
        match find(&self.s[self.i..], delimiter) {
            Some(k) => self.i += k + delimiter.len(),
            None => {
                self.i = self.s.len();
                self.fail(LexError::Unterminated { what: "dollar-quoted string", at: start });
            }
        }
        self.push(Kind::String, start);
    }

    fn number(&mut self, start: usize) {
        let digits = |l: &mut Self| {
            while l.at(0).is_some_and(|c| c.is_ascii_digit()) {
                l.i += 1;
            }
        };
        digits(self);
        // `1..2` is an integer followed by `..`, as in the server.
        if self.at(0) == Some(b'.') && self.at(1) != Some(b'.') {
            self.i += 1;
            digits(self);
        }
        if matches!(self.at(0), Some(b'e' | b'E'))
            && (self.at(1).is_some_and(|c| c.is_ascii_digit())
                || (matches!(self.at(1), Some(b'+' | b'-')) && self.at(2).is_some_and(|c| c.is_ascii_digit())))
        {
            self.i += 2;
            digits(self);
        }
        // A name right after a number is an error to PostgreSQL 15 ("trailing junk");
        // older servers read it as a separate name, and so does this lexer.
        self.push(Kind::Number, start);
    }

    /// A name, a keyword, or a prefixed string (`E'`, `B'`, `X'`, `N'`, `U&'`, `U&"`).
    fn word(&mut self, start: usize) {
        let first = self.s[self.i];
        let prefix = |c: u8| first.eq_ignore_ascii_case(&c);
        if self.at(1) == Some(b'\'') && (prefix(b'e') || prefix(b'b') || prefix(b'x') || prefix(b'n')) {
            self.i += 2;
            if prefix(b'e') {
                self.quoted(b'\'', true, "string", start);
            } else if prefix(b'n') {
                self.quoted(b'\'', false, "string", start);
            } else {
                // Bit strings end at the first quote.
                match self.s[self.i..].iter().position(|&c| c == b'\'') {
                    Some(k) => self.i += k + 1,
                    None => {
                        self.i = self.s.len();
                        self.fail(LexError::Unterminated { what: "bit string", at: start });
                    }
                }
            }
            self.push(Kind::String, start);
            return;
        }
        if prefix(b'u') && self.at(1) == Some(b'&') && matches!(self.at(2), Some(b'\'' | b'"')) {
            let quote = self.s[self.i + 2];
            self.i += 3;
            let body = self.quoted(quote, false, if quote == b'"' { "quoted name" } else { "string" }, start);
            if quote == b'\'' {
                self.push(Kind::String, start);
            } else {
                if body.is_empty() {
                    self.fail(LexError::EmptyName { at: start });
                }
                self.out.push(Token { kind: Kind::Ident, start, end: self.i, name: None, unicode_raw: Some(body) });
            }
            return;
        }
        while self.at(0).is_some_and(is_ident_cont) {
            self.i += 1;
        }
        let name = String::from_utf8_lossy(&self.s[start..self.i]).to_lowercase();
        self.out.push(Token { kind: Kind::Ident, start, end: self.i, name: Some(name), unicode_raw: None });
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes each `U&"..."` name, with the escape character of a `UESCAPE '<c>'` that
/// follows it (the clause's two tokens are then dropped: they are part of the name).
fn resolve_unicode_names(sql: &str, out: &mut Vec<Token>, error: &mut Option<LexError>) {
    let mut i = 0;
    while i < out.len() {
        let Some(raw) = out[i].unicode_raw.take() else {
            i += 1;
            continue;
        };
        let mut escape = '\\';
        // The keyword, unquoted: a quoted "uescape" is a name, and the server then
        // decodes with the default escape.
        let has_clause = out.get(i + 1).is_some_and(|t| {
            t.name.as_deref() == Some("uescape") && t.kind == Kind::Ident && sql.as_bytes()[t.start] != b'"'
        }) && out.get(i + 2).is_some_and(|t| t.kind == Kind::String);
        let mut valid = true;
        if has_clause {
            let literal = &sql[out[i + 2].start..out[i + 2].end];
            match literal.strip_prefix('\'').and_then(|l| l.strip_suffix('\'')) {
                Some(c) if c.chars().count() == 1 => {
                    escape = c.chars().next().unwrap_or('\\');
                    valid =
                        !(escape.is_ascii_hexdigit() || matches!(escape, '+' | '\'' | '"') || escape.is_whitespace());
                }
                _ => valid = false,
            }
            out.drain(i + 1..i + 3);
        }
        let decoded = if valid { decode_unicode(&raw, escape) } else { None };
        match decoded {
            Some(name) => out[i].name = Some(name.to_lowercase()),
            None => {
                // Unreadable: keep the raw text as the name, so that the guard still
                // looks at it, and report the error.
                out[i].name = Some(raw.to_lowercase());
                if error.is_none() {
                    *error = Some(LexError::BadUnicode { at: out[i].start });
                }
            }
        }
        i += 1;
    }
}

/// `\XXXX`, `\+XXXXXX` and `\\` (with `escape` for `\`), surrogate pairs joined, as the
/// server decodes them; `None` where it would refuse.
pub fn decode_unicode(raw: &str, escape: char) -> Option<String> {
    let mut out = String::new();
    let chars: Vec<char> = raw.chars().collect();
    let mut i = 0;
    let mut high: Option<u32> = None;
    let hex = |s: &[char]| -> Option<u32> {
        if s.iter().all(char::is_ascii_hexdigit) {
            u32::from_str_radix(&s.iter().collect::<String>(), 16).ok()
        } else {
            None
        }
    };
    while i < chars.len() {
        if chars[i] != escape {
            if high.is_some() {
                return None;
            }
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let code = if chars.get(i + 1) == Some(&escape) {
            if high.is_some() {
                return None;
            }
            out.push(escape);
            i += 2;
            continue;
        } else if chars.get(i + 1) == Some(&'+') {
            let code = hex(chars.get(i + 2..i + 8)?)?;
            i += 8;
            code
        } else {
            let code = hex(chars.get(i + 1..i + 5)?)?;
            i += 5;
            code
        };
        match (high.take(), code) {
            (None, 0xD800..=0xDBFF) => high = Some(code),
            (Some(h), 0xDC00..=0xDFFF) => out.push(char::from_u32(0x10000 + ((h - 0xD800) << 10) + (code - 0xDC00))?),
            (Some(_), _) => return None,
            (None, 0) => return None,
            (None, _) => out.push(char::from_u32(code)?),
        }
    }
    if high.is_some() { None } else { Some(out) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str) -> Vec<String> {
        tokens(sql).0.into_iter().filter_map(|t| t.name).collect()
    }

    #[test]
    fn a_reading_statement_becomes_a_subquery_without_its_semicolon() {
        assert_eq!(subquery_body("select 1;"), Some("select 1"));
        assert_eq!(subquery_body("select 1; -- done"), Some("select 1"));
        assert_eq!(subquery_body("(select 1) union (select 2)"), Some("(select 1) union (select 2)"));
        assert_eq!(subquery_body("TABLE t"), Some("TABLE t"));
        assert_eq!(subquery_body("show work_mem"), None);
        assert_eq!(subquery_body("explain select 1"), None);
        assert_eq!(subquery_body("select 'unterminated"), None);
    }

    #[test]
    fn names_are_read_as_the_server_reads_them() {
        assert_eq!(names("SELECT \"Pg_Read_File\" FROM x$y$"), ["select", "pg_read_file", "from", "x$y$"]);
        assert_eq!(names(r#"select U&"\0070g_read_file""#), ["select", "pg_read_file"]);
        assert_eq!(names(r#"select u&"!0070g_read_file" /* c */ UESCAPE '!'"#), ["select", "pg_read_file"]);
        assert_eq!(names(r#"select U&"\+000070g""#), ["select", "pg"]);
        assert_eq!(names(r#"select U&"\0070g_ls_dir" "uescape" '!'"#), ["select", "pg_ls_dir", "uescape"]);
        assert_eq!(names(r#"select U&"\D83D\DE00""#), ["select", "\u{1F600}"]);
        assert_eq!(names("select \"a\"\"b\""), ["select", "a\"b"]);
    }

    #[test]
    fn strings_and_comments_hide_nothing_the_server_reads() {
        // Backslashes end nothing in a standard string; they escape in an E string.
        assert_eq!(names(r"select '\', pg_read_file('x') --'"), ["select", "pg_read_file"]);
        assert_eq!(names(r"select E'\', pg_read_file('x') --'"), ["select"]);
        // Comments nest.
        assert_eq!(names("select /* /* */ f( */ g()"), ["select", "g"]);
        // A dollar quote needs its own tag to end; `$` inside a name is part of it.
        assert_eq!(names("select $a$ $b$ f() $a$, g()"), ["select", "g"]);
        assert_eq!(names("select x$a$, f() --$a$"), ["select", "x$a$", "f"]);
        assert_eq!(names("select $1, $$ f() $$"), ["select"]);
        // An operator ends where a comment starts.
        assert_eq!(names("select 1 +-- f()\n g()"), ["select", "g"]);
        assert_eq!(names("select 1 */* f() */ g()"), ["select", "g"]);
        // Prefixed strings only as a whole token.
        assert_eq!(names(r"select xe'\', f() --'"), ["select", "xe", "f"]);
        assert_eq!(names("select b'1', x'ff', n'n', u&'\\0041'"), ["select"]);
    }

    #[test]
    fn errors_are_reported_and_reading_goes_on() {
        let (tokens, error) = tokens("select 'abc");
        assert_eq!(error, Some(LexError::Unterminated { what: "string", at: 7 }));
        assert_eq!(tokens.len(), 2);
        assert!(super::tokens("select /* x").1.is_some());
        assert!(super::tokens("select \"\"").1.is_some());
        assert!(super::tokens(r#"select U&"\zzzz""#).1.is_some());
        assert!(super::tokens(r#"select U&"!0070" UESCAPE '0'"#).1.is_some());
        assert!(super::tokens(r#"select U&"\D83D""#).1.is_some());
    }

    #[test]
    fn numbers_and_punctuation() {
        let kinds: Vec<Kind> = tokens("select 1.5e3, .5, 1..2, a.b::int").0.into_iter().map(|t| t.kind).collect();
        use Kind::*;
        assert_eq!(
            kinds,
            [
                Ident,
                Number,
                Punct(b','),
                Number,
                Punct(b','),
                Number,
                Punct(b'.'),
                Number,
                Punct(b','),
                Ident,
                Punct(b'.'),
                Ident,
                Punct(b':'),
                Punct(b':'),
                Ident
            ]
        );
    }
}
