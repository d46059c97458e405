//! Reading an `EXPLAIN (FORMAT JSON)` plan: its nodes and their fields. Shared by
//! `explain` and `index_advice`.

use serde_json::Value;

/// Every plan node, depth first.
pub fn nodes(plan: &Value) -> Vec<&Value> {
    fn walk<'a>(node: &'a Value, out: &mut Vec<&'a Value>) {
        out.push(node);
        if let Some(Value::Array(children)) = node.get("Plans") {
            children.iter().for_each(|c| walk(c, out));
        }
    }
    let mut out = Vec::new();
    if let Some(root) = plan.pointer("/0/Plan") {
        walk(root, &mut out);
    }
    out
}

/// A text field of a node.
pub fn text<'a>(node: &'a Value, key: &str) -> Option<&'a str> {
    node.get(key).and_then(Value::as_str)
}

/// A numeric field of a node (0 when absent).
pub fn number(node: &Value, key: &str) -> f64 {
    node.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nodes_come_depth_first() {
        let plan = json!([{"Plan": {"Node Type": "A", "Total Cost": 3.5, "Plans": [
            {"Node Type": "B", "Plans": [{"Node Type": "C"}]}, {"Node Type": "D"}]}}]);
        let kinds: Vec<&str> = nodes(&plan).into_iter().filter_map(|n| text(n, "Node Type")).collect();
        assert_eq!(kinds, ["A", "B", "C", "D"]);
        assert_eq!((number(&plan[0]["Plan"], "Total Cost"), number(&plan[0]["Plan"], "Rows")), (3.5, 0.0));
        assert!(nodes(&json!(null)).is_empty());
    }
}
