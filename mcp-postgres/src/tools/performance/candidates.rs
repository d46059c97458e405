//! The candidate indexes a plan suggests: the columns its conditions compare, read with
//! the guard's lexer, and the tables they belong to.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::ident::quote_ident;

use crate::guard::lexer::{self, Kind};

use crate::tools::plan_tree::{nodes, text};

/// A candidate index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Candidate {
    pub(super) schema: String,
    pub(super) table: String,
    pub(super) columns: Vec<String>,
}

impl Candidate {
    pub(super) fn target(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.table))
    }
    pub(super) fn create(&self, concurrently: bool) -> String {
        format!(
            "CREATE INDEX {}ON {} ({})",
            if concurrently { "CONCURRENTLY " } else { "" },
            self.target(),
            self.columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
        )
    }
    pub(super) fn label(&self) -> String {
        format!("{}.{} ({})", self.schema, self.table, self.columns.join(", "))
    }
}

/// An identifier, quoted only when it must be.
pub(super) fn ident(name: &str) -> String {
    const RESERVED: &[&str] = &[
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "current_date",
        "current_role",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "initially",
        "intersect",
        "into",
        "lateral",
        "leading",
        "limit",
        "localtime",
        "localtimestamp",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "placing",
        "primary",
        "references",
        "returning",
        "select",
        "session_user",
        "some",
        "symmetric",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "when",
        "where",
        "window",
        "with",
    ];
    let simple = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if simple && !RESERVED.contains(&name) { name.to_string() } else { quote_ident(name) }
}

/// What the advisor knows of a table.
#[derive(Debug, Default)]
pub(super) struct TableInfo {
    pub(super) columns: BTreeSet<String>,
    pub(super) rows: f64,
    /// Key columns of each existing valid index, in order.
    pub(super) indexes: Vec<Vec<String>>,
    /// A table an index can be created on (not a view, not a system catalog).
    pub(super) indexable: bool,
}

/// How a column is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `=`, `= ANY`, `IS NULL`: any position in a btree.
    Eq,
    /// `<`, `>`, `<=`, `>=`: a btree's last used column.
    Range,
    /// Anything else (`<>`, `~~`, functions): no btree help assumed.
    Other,
}

/// A column a condition refers to: (alias, column, how compared).
type ColumnRef = (Option<String>, String, Op);

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Dot,
    Open,
    Close,
    Cast,
    Operator(String),
    Other,
}

/// The tokens of a plan condition, read by the guard's lexer (PostgreSQL's lexical
/// rules): names as written when quoted (the planner quotes any name that needs it),
/// otherwise as the server folds them.
fn tokenize(s: &str) -> Vec<Token> {
    let (tokens, _) = lexer::tokens(s);
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let source = &s[t.start..t.end];
        out.push(match t.kind {
            Kind::Ident => match source.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
                Some(quoted) => Token::Ident(quoted.replace("\"\"", "\"")),
                None => Token::Ident(t.name.clone().unwrap_or_default()),
            },
            Kind::Punct(b'.') => Token::Dot,
            Kind::Punct(b'(') => Token::Open,
            Kind::Punct(b')') => Token::Close,
            Kind::Punct(b':') if tokens.get(i + 1).is_some_and(|n| n.kind == Kind::Punct(b':') && n.start == t.end) => {
                i += 1;
                Token::Cast
            }
            Kind::Operator => Token::Operator(source.to_string()),
            _ => Token::Other,
        });
        i += 1;
    }
    out
}

fn classify(op: &str) -> Op {
    match op {
        "=" => Op::Eq,
        "<" | "<=" | ">" | ">=" => Op::Range,
        _ => Op::Other,
    }
}

/// The columns a plan condition refers to, each with the comparison it is in.
fn column_refs(condition: &str) -> Vec<ColumnRef> {
    const KEYWORDS: &[&str] = &[
        "AND", "OR", "NOT", "IS", "NULL", "ANY", "ALL", "TRUE", "FALSE", "CASE", "WHEN", "THEN", "ELSE", "END", "DESC",
        "ASC", "NULLS", "FIRST", "LAST", "SubPlan", "InitPlan", "hashed", "COLLATE", "LIKE", "ILIKE", "IN", "ARRAY",
    ];
    let tokens = tokenize(condition);
    let mut out = Vec::new();
    let mut i = 0;
    let mut previous_operator: Option<String> = None;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Operator(op) => {
                previous_operator = Some(op.clone());
                i += 1;
            }
            Token::Cast => {
                // Skip the type name (which may be several words, or carry a modifier).
                i += 1;
                while let Some(Token::Ident(_)) = tokens.get(i) {
                    i += 1;
                }
                if tokens.get(i) == Some(&Token::Open) {
                    while i < tokens.len() && tokens[i] != Token::Close {
                        i += 1;
                    }
                    i += 1;
                }
            }
            Token::Ident(first) => {
                let mut path = vec![first.clone()];
                let mut j = i + 1;
                while tokens.get(j) == Some(&Token::Dot) {
                    match tokens.get(j + 1) {
                        Some(Token::Ident(next)) => path.push(next.clone()),
                        _ => break,
                    }
                    j += 2;
                }
                let is_call = tokens.get(j) == Some(&Token::Open);
                let keyword = path.len() == 1 && KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(first));
                if !is_call && !keyword {
                    // The comparison: the operator after the column (past closing parentheses
                    // and casts), or else the one before it.
                    let mut k = j;
                    loop {
                        match tokens.get(k) {
                            Some(Token::Close) => k += 1,
                            Some(Token::Cast) => {
                                k += 1;
                                while let Some(Token::Ident(_)) = tokens.get(k) {
                                    k += 1;
                                }
                            }
                            _ => break,
                        }
                    }
                    let op = match tokens.get(k) {
                        Some(Token::Operator(op)) => classify(op),
                        Some(Token::Ident(w)) if w.eq_ignore_ascii_case("IS") => Op::Eq,
                        _ => match previous_operator.as_deref() {
                            Some(op) => classify(op),
                            None => Op::Other,
                        },
                    };
                    let column = path.pop().unwrap_or_default();
                    out.push((path.pop(), column, op));
                }
                i = j;
            }
            _ => i += 1,
        }
    }
    out
}

/// Candidate indexes a plan suggests, each with the reason.
pub(super) fn candidates(plan: &Value, tables: &BTreeMap<(String, String), TableInfo>) -> Vec<(Candidate, String)> {
    let nodes = nodes(plan);
    // Alias → relation, from the scan nodes.
    let mut aliases: BTreeMap<String, (String, String)> = BTreeMap::new();
    for n in &nodes {
        if let (Some(s), Some(t)) = (text(n, "Schema"), text(n, "Relation Name")) {
            aliases.insert(text(n, "Alias").unwrap_or(t).to_string(), (s.to_string(), t.to_string()));
        }
    }
    let resolve = |alias: &Option<String>, column: &str, own: Option<&(String, String)>| -> Option<(String, String)> {
        let relation = match alias {
            Some(a) => aliases.get(a)?,
            None => own?,
        };
        let info = tables.get(relation)?;
        (info.indexable && info.columns.contains(column)).then(|| relation.clone())
    };
    // Equality and range columns each relation is filtered on.
    let mut filters: BTreeMap<(String, String), (Vec<String>, Vec<String>)> = BTreeMap::new();
    let mut out = Vec::new();
    let push_unique = |list: &mut Vec<String>, c: &str| {
        if !list.iter().any(|x| x == c) {
            list.push(c.to_string());
        }
    };
    for n in &nodes {
        let kind = text(n, "Node Type").unwrap_or("");
        let own = match (text(n, "Schema"), text(n, "Relation Name")) {
            (Some(s), Some(t)) => Some((s.to_string(), t.to_string())),
            _ => None,
        };
        let Some(own) = own else { continue };
        let filter = text(n, "Filter");
        let index_cond = text(n, "Index Cond").or_else(|| text(n, "Recheck Cond"));
        let (mut eq, mut range) = (Vec::new(), Vec::new());
        for (alias, column, op) in filter.map(column_refs).unwrap_or_default() {
            if resolve(&alias, &column, Some(&own)).as_ref() == Some(&own) {
                match op {
                    Op::Eq => push_unique(&mut eq, &column),
                    Op::Range => push_unique(&mut range, &column),
                    Op::Other => {}
                }
            }
        }
        let entry = filters.entry(own.clone()).or_default();
        eq.iter().for_each(|c| push_unique(&mut entry.0, c));
        range.iter().for_each(|c| push_unique(&mut entry.1, c));
        if eq.is_empty() && range.is_empty() {
            continue;
        }
        let rows = tables.get(&own).map(|t| t.rows).unwrap_or(0.0);
        let what = format!("{kind} on {}.{} (~{rows:.0} rows) filtering {}", own.0, own.1, filter.unwrap_or_default());
        let mut leading: Vec<String> = Vec::new();
        if kind == "Seq Scan" {
            for c in eq.iter().chain(range.iter()) {
                out.push((
                    Candidate { schema: own.0.clone(), table: own.1.clone(), columns: vec![c.clone()] },
                    what.clone(),
                ));
            }
        } else if let Some(cond) = index_cond {
            // An index is used but rows are still filtered after it: extend its columns.
            for (alias, column, op) in column_refs(cond) {
                if op == Op::Eq && resolve(&alias, &column, Some(&own)).as_ref() == Some(&own) {
                    push_unique(&mut leading, &column);
                }
            }
        }
        let mut composite = leading;
        eq.iter().for_each(|c| push_unique(&mut composite, c));
        if let Some(r) = range.first() {
            push_unique(&mut composite, r);
        }
        composite.truncate(4);
        if composite.len() >= 2 {
            out.push((Candidate { schema: own.0.clone(), table: own.1.clone(), columns: composite }, what));
        }
    }
    for n in &nodes {
        // Join keys: an index on the inner side can turn a hash join into index lookups.
        for key in ["Hash Cond", "Merge Cond", "Join Filter"] {
            let Some(cond) = text(n, key) else { continue };
            for (alias, column, _) in column_refs(cond) {
                if alias.is_none() {
                    continue;
                }
                if let Some(rel) = resolve(&alias, &column, None) {
                    let mut columns: Vec<String> = filters.get(&rel).map(|f| f.0.clone()).unwrap_or_default();
                    push_unique(&mut columns, &column);
                    columns.truncate(4);
                    let reason = format!("{key} {cond}");
                    if columns.len() > 1 {
                        out.push((
                            Candidate { schema: rel.0.clone(), table: rel.1.clone(), columns: vec![column.clone()] },
                            reason.clone(),
                        ));
                    }
                    out.push((Candidate { schema: rel.0, table: rel.1, columns }, reason));
                }
            }
        }
        // Sort keys of one relation: an index in that order avoids the sort.
        if let Some(Value::Array(keys)) = n.get("Sort Key") {
            let refs: Vec<ColumnRef> = keys.iter().filter_map(Value::as_str).flat_map(column_refs).collect();
            let resolved: Vec<(String, String, String)> =
                refs.iter().filter_map(|(a, c, _)| resolve(a, c, None).map(|(s, t)| (s, t, c.clone()))).collect();
            if !resolved.is_empty()
                && resolved.len() == refs.len()
                && resolved.iter().all(|r| r.0 == resolved[0].0 && r.1 == resolved[0].1)
            {
                let rel = (resolved[0].0.clone(), resolved[0].1.clone());
                let mut columns: Vec<String> = filters.get(&rel).map(|f| f.0.clone()).unwrap_or_default();
                resolved.iter().for_each(|r| push_unique(&mut columns, &r.2));
                columns.truncate(4);
                let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
                out.push((Candidate { schema: rel.0, table: rel.1, columns }, format!("Sort Key {}", keys.join(", "))));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(ident("customer_id"), "customer_id");
        assert_eq!(ident("order"), "\"order\"");
        assert_eq!(ident("Mixed"), "\"Mixed\"");
    }

    #[test]
    fn conditions_yield_columns_with_their_comparison() {
        let refs = column_refs("((t.a = 42) AND (t.b > $1) AND ((t.c)::text ~~ 'x%'::text) AND (t.d IS NULL))");
        assert_eq!(
            refs,
            vec![
                (Some("t".into()), "a".into(), Op::Eq),
                (Some("t".into()), "b".into(), Op::Range),
                (Some("t".into()), "c".into(), Op::Other),
                (Some("t".into()), "d".into(), Op::Eq),
            ]
        );
        let join = column_refs("(o.customer_id = c.id)");
        assert_eq!(join[1], (Some("c".into()), "id".into(), Op::Eq));
        let quoted = column_refs("(\"T\".\"Odd Name\" = lower('a''b'::text))");
        assert_eq!(quoted, vec![(Some("T".into()), "Odd Name".into(), Op::Eq)]);
    }

    #[test]
    fn a_filtered_seq_scan_proposes_its_columns() {
        let plan = json!([{"Plan": {"Node Type": "Seq Scan", "Schema": "s", "Relation Name": "t", "Alias": "t",
            "Filter": "((t.a = 1) AND (t.b >= 5))"}}]);
        let mut tables = BTreeMap::new();
        tables.insert(
            ("s".to_string(), "t".to_string()),
            TableInfo {
                columns: ["a", "b"].iter().map(|s| s.to_string()).collect(),
                rows: 5e4,
                indexable: true,
                ..Default::default()
            },
        );
        let found: Vec<Vec<String>> = candidates(&plan, &tables).into_iter().map(|(c, _)| c.columns).collect();
        assert!(found.contains(&vec!["a".to_string()]), "{found:?}");
        assert!(found.contains(&vec!["a".to_string(), "b".to_string()]), "{found:?}");
    }
}
