#!/usr/bin/env bash
# The project's test command (README "Testing"; .ci/run calls exactly this).
# Installs what the tests need into $MCP_CACHE_DIR (outside the clone), brings up the
# services through the one mechanism (scripts/lib.sh's start_services, as
# scripts/services.sh does: PostgreSQL, dockerd with a registry, n8n, and nginx for the
# scale-out test; all on loopback, stopped at exit), then runs the format and lint gates,
# the Rust tests (the connectors' and the integration tests), the official conformance
# suite in both eras, the interop checks against the official tools, and short benchmark
# runs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/lib.sh
# Incremental state would add gigabytes to a one-shot build; CI machines' disks are small.
export CARGO_INCREMENTAL=0
# Every service the tests need is started below, so nothing may be skipped: under
# MCP_TEST_NO_SKIP=1 a test's skip (mcp_core::testing::skip) fails it. Each skip is also
# appended to MCP_TEST_SKIP_LOG, summed up at the end of the run whatever its outcome.
export MCP_TEST_NO_SKIP=${MCP_TEST_NO_SKIP:-1}
MCP_TEST_SKIP_LOG=$(mktemp)
export MCP_TEST_SKIP_LOG
skip_summary() {
  if [ -s "$MCP_TEST_SKIP_LOG" ]; then
    printf '\n== %s test(s) skipped:\n' "$(wc -l <"$MCP_TEST_SKIP_LOG")" >&2
    cat "$MCP_TEST_SKIP_LOG" >&2
  fi
  rm -f "$MCP_TEST_SKIP_LOG"
}
trap 'skip_summary; cleanup_owned' EXIT

step "tools (node 24 and the official MCP test tools, cached)"
NODE_BIN=$(scripts/setup-tools.sh)

step "services (scripts/services.sh's mechanism: PostgreSQL, dockerd + registry, n8n, nginx)"
start_services
services_env >&2

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo build (binaries and examples)"
cargo build --workspace --all-targets

step "cargo test"
cargo test --workspace --exclude integration-tests

step "integration tests (end to end, client configs, faults, load, scale-out; install: bundles, registry entries, images)"
cargo test -p integration-tests -- --nocapture

step "conformance suite (server mode, both eras)"
scripts/conformance.sh

step "interop (Inspector CLI, TypeScript SDK client, reference server)"
scripts/interop.sh

step "start layout (scripts/start-order.sh on the echo servers, dev profile)"
command -v valgrind >/dev/null || apt_install valgrind
scripts/start-order.sh --profile dev -p mcp-bench --examples

if [ "${SKIP_BENCH:-0}" != 1 ]; then
  # A smoke run, so that every bench keeps working: in the dev profile, reusing the test
  # build (a release build of the whole workspace would add about ten minutes to CI). Its
  # figures mean nothing; the READMEs' figures come from `cargo bench` (release).
  step "benchmarks (quick smoke run, dev profile)"
  bench() { cargo bench --profile dev "$@"; }
  bench -p mcp-bench --bench echo -- --quick
  bench -p mcp-bench --bench echo -- --start
  PATH="$NODE_BIN:$PATH" \
    MCP_SERVER_POSTGRES_JS="${MCP_CACHE_DIR:-$HOME/.cache/mcp-connectors}/npm/node_modules/@modelcontextprotocol/server-postgres/dist/index.js" \
    bench -p mcp-postgres --bench query -- --quick
  CACHE=${MCP_CACHE_DIR:-$HOME/.cache/mcp-connectors}
  PATH="$NODE_BIN:$PATH" MCP_SDK_PYTHON="$CACHE/py-mcp/bin/python" MCP_TS_SDK_DIR="$CACHE/npm" \
    MCP_SERVER_POSTGRES_JS="$CACHE/npm/node_modules/@modelcontextprotocol/server-postgres/dist/index.js" \
    bench -p mcp-postgres --bench sdk -- --quick
  PATH="$NODE_BIN:$PATH" MCP_N8N_REFERENCE_JS="$(n8n_reference_server)" bench -p mcp-n8n --bench n8n -- --quick
  bench -p mcp-docker --bench list -- --quick
  bench -p mcp-kubernetes --bench k8s -- --quick
fi
echo "all tests passed" >&2
