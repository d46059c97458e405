#!/usr/bin/env bash
# Runs the official MCP conformance suite (server mode) against the example server over
# Streamable HTTP, for both protocol eras. Every active scenario must pass.
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
for revision in 2025-11-25 2026-07-28; do
  step "conformance suite, server mode, requirements $revision"
  (cd "$CACHE/npm" && npx --no-install conformance server --url "http://localhost:$PORT/mcp" \
      --requirements "$revision" -o "$OUT/$revision") 2>&1 | sed -n '/=== SUMMARY ===/,$p'
  # The exit status covers scored scenarios; also refuse warnings and failures in any
  # scored scenario so a regression to "SHOULD" behaviour is caught too.
  python3 - "$OUT/$revision" <<'PY'
import json, glob, sys
bad = []
for f in glob.glob(sys.argv[1] + "/*/checks.json"):
    if "/server-tasks-" in f:  # the tasks extension is optional and not scored
        continue
    for c in json.load(open(f)):
        if c["status"] in ("FAILURE", "WARNING"):
            bad.append(f"{f.split('/')[-2]}: {c['status']} {c['id']}: {c.get('errorMessage')}")
print("\n".join(bad) if bad else "no failures or warnings", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
done
