#!/usr/bin/env bash
# Interoperability with the official tools, in both protocol eras, over stdio and HTTP:
# - the MCP Inspector CLI lists and calls the example server's tools;
# - the official TypeScript SDK client (v2) drives the example server;
# - this crate's `mcp` client drives the official reference server (server-everything).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"
CACHE=${MCP_CACHE_DIR:-$HOME/.cache/mcp-connectors}
export PATH="$("$ROOT/scripts/setup-tools.sh"):$PATH"
export MCP_INSPECTOR_SECRET_STORE=memory
SERVER=${EVERYTHING_BIN:-$ROOT/target/debug/examples/everything}
MCP=${MCP_BIN:-$ROOT/target/debug/mcp}
PORT=$(free_port)
"$SERVER" --transport http --listen "127.0.0.1:$PORT" --log-level warn &
OWNED_PIDS+=($!)
URL="http://localhost:$PORT/mcp"
wait_http "$URL"
cd "$CACHE/npm"

expect() { # expect NAME PATTERN: stdin must contain PATTERN
  local out; out=$(cat)
  if ! grep -q -- "$2" <<<"$out"; then echo "FAIL $1: expected '$2' in: ${out:0:600}" >&2; exit 1; fi
  echo "ok   $1" >&2
}

step "MCP Inspector CLI (handshake era)"
npx --no-install mcp-inspector --cli "$SERVER" --method tools/list 2>/dev/null | expect "inspector stdio tools/list" '"name": "echo"'
npx --no-install mcp-inspector --cli "$SERVER" --method tools/call --tool-name echo --tool-arg message=inspector 2>/dev/null \
  | expect "inspector stdio tools/call" '"text": "inspector"'
npx --no-install mcp-inspector --cli "$URL" --method tools/list 2>/dev/null | expect "inspector http tools/list" '"name": "echo"'
npx --no-install mcp-inspector --cli "$URL" --method tools/call --tool-name add --tool-arg a=1 b=2 2>/dev/null \
  | expect "inspector http tools/call" '"sum": 3'

step "MCP Inspector CLI (2026-07-28, protocolEra modern)"
CONFIG=$(mktemp --suffix=.json)
cat >"$CONFIG" <<JSON
{"mcpServers": {
  "stdio": {"command": "$SERVER", "args": [], "protocolEra": "modern"},
  "http": {"type": "streamable-http", "url": "$URL", "protocolEra": "modern"}}}
JSON
for s in stdio http; do
  npx --no-install mcp-inspector --cli --config "$CONFIG" --server $s --method tools/list 2>/dev/null \
    | expect "inspector modern $s tools/list" '"name": "echo"'
  npx --no-install mcp-inspector --cli --config "$CONFIG" --server $s --method tools/call --tool-name echo --tool-arg message=modern 2>/dev/null \
    | expect "inspector modern $s tools/call" 'io.modelcontextprotocol/serverInfo'
done

step "MCP Inspector --strict: every connector's tool schemas are portable"
BIN=$(dirname "$MCP")
STRICT=$(mktemp -d)
cat > "$STRICT/kubeconfig" <<'YAML'
apiVersion: v1
kind: Config
clusters: [{name: listing-only, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: listing-only}}]
contexts: [{name: listing-only, context: {cluster: listing-only, user: u}}]
current-context: listing-only
YAML
# Every tier, so that every tool is listed; listing tools needs no cluster. (The Inspector
# passes the server only a default environment: settings go in flags or through env.)
for name in mcp-postgres mcp-docker mcp-kubernetes mcp-n8n; do
  case $name in
    mcp-postgres) args="--database-url ${MCP_TEST_DATABASE_URL:-postgres://127.0.0.1:9/none} --allow-write --export-dir $STRICT" ;;
    mcp-docker) args="--docker-host ${DOCKER_HOST:-unix:///nonexistent} --allow-write" ;;
    mcp-kubernetes) args="--kubeconfig $STRICT/kubeconfig --allow-write --allow-destructive" ;;
    mcp-n8n) args="--allow-write" ;;
  esac
  # The Inspector fails on errors; warnings (a type list) are refused here too.
  if ! out=$(npx --no-install mcp-inspector --cli env "N8N_API_URL=${MCP_TEST_N8N_URL:-http://127.0.0.1:9}" \
    "N8N_API_KEY=${MCP_TEST_N8N_API_KEY:-none}" "$BIN/$name" $args --method tools/list --strict 2>&1 >/dev/null) \
    || grep -qE "^(Error|Warning): tool" <<<"$out"; then
    echo "FAIL inspector --strict $name:" >&2
    grep -E "^(Error|Warning): tool|^  (Path|Issue):|errors?, [0-9]+ warnings?" <<<"$out" | head -60 >&2
    tail -5 <<<"$out" >&2
    exit 1
  fi
  echo "ok   inspector --strict $name" >&2
done
rm -rf "$STRICT"

step "TypeScript SDK v2 client against the example server"
cp "$ROOT/tests/interop/ts-client.mjs" "$CACHE/npm/ts-client.mjs"
node ts-client.mjs legacy "$SERVER" | expect "ts client stdio handshake era" '"version":"2025-11-25"'
node ts-client.mjs legacy "$URL" | expect "ts client http handshake era" '"version":"2025-11-25"'
node ts-client.mjs auto "$SERVER" | expect "ts client stdio 2026-07-28" '"version":"2026-07-28"'
node ts-client.mjs auto "$URL" | expect "ts client http 2026-07-28" '"version":"2026-07-28"'

if [ -x "$MCP" ]; then
  step "mcp client against the reference server-everything"
  EVERYTHING_JS="$CACHE/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
  "$MCP" tools -- node "$EVERYTHING_JS" stdio | expect "mcp tools stdio" '"echo"'
  "$MCP" call echo '{"message":"from-rust"}' -- node "$EVERYTHING_JS" stdio | expect "mcp call stdio" 'from-rust'
  REF_PORT=$(free_port)
  PORT=$REF_PORT node "$EVERYTHING_JS" streamableHttp >/dev/null 2>&1 &
  OWNED_PIDS+=($!)
  wait_http "http://127.0.0.1:$REF_PORT/mcp"
  "$MCP" tools --url "http://127.0.0.1:$REF_PORT/mcp" | expect "mcp tools http" '"echo"'
  "$MCP" call echo '{"message":"over-http"}' --url "http://127.0.0.1:$REF_PORT/mcp" | expect "mcp call http" 'over-http'
  step "mcp client against the example server, both eras"
  for era in legacy modern; do
    "$MCP" call echo '{"message":"'$era'"}' --era $era -- "$SERVER" | expect "mcp $era stdio" "$era"
    "$MCP" call echo '{"message":"'$era'"}' --era $era --url "$URL" | expect "mcp $era http" "$era"
  done
fi
echo "interop: all checks passed" >&2
