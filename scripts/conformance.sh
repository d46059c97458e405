#!/usr/bin/env bash
# Runs the official MCP conformance suite against this crate, for both protocol eras:
# server mode against the example server over Streamable HTTP (every scored scenario must
# pass), and client mode against the conformance client example built on `Client` (every
# scenario except the OAuth client flows, which the client does not implement).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"
CACHE=${MCP_CACHE_DIR:-$HOME/.cache/mcp-connectors}
export PATH="$("$ROOT/scripts/setup-tools.sh"):$PATH"
SERVER=${EVERYTHING_BIN:-$ROOT/target/debug/examples/everything}
PORT=$(free_port)
"$SERVER" --transport http --listen "127.0.0.1:$PORT" --log-level warn &
OWNED_PIDS+=($!)
wait_http "http://127.0.0.1:$PORT/mcp"
OUT=$(mktemp -d)

# Fails on any FAILURE or WARNING in the results under $1 (the optional tasks extension and
# the OAuth client flows, kept in auth/, are not read), and on any missing scenario of $2.
check_results() {
  python3 - "$1" "${2:-}" <<'PY'
import json, glob, os, sys
root, required = sys.argv[1], sys.argv[2].split()
bad, seen = [], set()
for f in glob.glob(root + "/*/checks.json"):
    scenario = os.path.basename(os.path.dirname(f)).rsplit("-", 6)[0]
    seen.add(scenario)
    if "/server-tasks-" in f:
        continue
    for c in json.load(open(f)):
        if c["status"] in ("FAILURE", "WARNING"):
            bad.append(f"{scenario}: {c['status']} {c['id']}: {c.get('errorMessage')}")
bad += [f"{s}: did not run" for s in required if s not in seen]
print("\n".join(bad) if bad else "no failures or warnings", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

for revision in 2025-11-25 2026-07-28; do
  step "conformance suite, server mode, requirements $revision"
  (cd "$CACHE/npm" && npx --no-install conformance server --url "http://localhost:$PORT/mcp" \
      --requirements "$revision" -o "$OUT/$revision") 2>&1 | sed -n '/=== SUMMARY ===/,$p'
  check_results "$OUT/$revision"
done

# The same suite with the security layers on (a policy file and an audit trail; the suite
# cannot send credentials, so authentication is covered by the Rust tests): they must
# change no protocol behaviour, and the trail must record the run with an intact chain.
SECURE_PORT=$(free_port)
cat > "$OUT/policy.toml" <<'TOML'
deny_tools = ["admin_*"]
[scopes]
schemas = ["public"]
[identities.anonymous]
deny_tools = ["admin_*", "drop_*"]
TOML
"$SERVER" --transport http --listen "127.0.0.1:$SECURE_PORT" --log-level warn \
  --policy-file "$OUT/policy.toml" --audit-log "$OUT/audit.jsonl" &
OWNED_PIDS+=($!)
wait_http "http://127.0.0.1:$SECURE_PORT/mcp"
step "conformance suite, server mode, requirements 2026-07-28, policy and audit on"
(cd "$CACHE/npm" && npx --no-install conformance server --url "http://localhost:$SECURE_PORT/mcp" \
    --requirements 2026-07-28 -o "$OUT/secure") 2>&1 | sed -n '/=== SUMMARY ===/,$p' | tail -3
check_results "$OUT/secure"
MCP_BIN=${MCP_BIN:-$ROOT/target/debug/mcp}
"$MCP_BIN" audit verify "$OUT/audit.jsonl"
lines=$(wc -l < "$OUT/audit.jsonl")
[ "$lines" -gt 100 ] || { echo "the audit trail holds only $lines lines" >&2; exit 1; }

CLIENT=${CONFORMANCE_CLIENT_BIN:-$ROOT/target/debug/examples/conformance_client}
declare -A CLIENT_SCENARIOS=(
  [2025-11-25]="initialize tools_call elicitation-sep1034-client-defaults sse-retry json-schema-2020-12-preservation"
  [2026-07-28]="tools_call request-metadata sep-2322-client-request-state http-standard-headers http-custom-headers http-invalid-tool-headers json-schema-ref-no-deref json-schema-2020-12-preservation"
)
for revision in 2025-11-25 2026-07-28; do
  step "conformance suite, client mode, requirements $revision"
  # The exit status counts the OAuth scenarios too; check_results judges the rest.
  (cd "$CACHE/npm" && npx --no-install conformance client --command "$CLIENT" \
      --requirements "$revision" -o "$OUT/client-$revision") 2>&1 | sed -n '/SUITE SUMMARY/,/^Total/p' | grep -v auth/ || true
  check_results "$OUT/client-$revision" "${CLIENT_SCENARIOS[$revision]}"
done
