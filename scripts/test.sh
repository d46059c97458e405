#!/usr/bin/env bash
# The project's test command (README "Testing"; .ci/run calls exactly this).
# Installs what the tests need into $MCP_CACHE_DIR (outside the clone) and starts a
# throwaway PostgreSQL on loopback, then runs the format and lint gates, the Rust tests,
# the official conformance suite in both eras, the interop checks against the official
# tools, and short benchmark runs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/lib.sh
# Incremental state would add gigabytes to a one-shot build; CI machines' disks are small.
export CARGO_INCREMENTAL=0

step "tools (node 24 and the official MCP test tools, cached)"
NODE_BIN=$(scripts/setup-tools.sh)

step "PostgreSQL 15 (Debian's packages; a throwaway cluster on loopback)"
start_postgres

step "Docker engine (Debian's docker.io; a private dockerd on loopback, no bridge)"
start_docker
start_n8n

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo build (binaries and examples)"
cargo build --workspace --all-targets

step "cargo test"
cargo test --workspace

step "conformance suite (server mode, both eras)"
scripts/conformance.sh

step "interop (Inspector CLI, TypeScript SDK client, reference server)"
scripts/interop.sh

if [ "${SKIP_BENCH:-0}" != 1 ]; then
  step "benchmark (quick run, so the bench keeps working)"
  cargo build --release -p mcp-bench --examples
  cargo bench -p mcp-bench --bench echo -- --quick
  PATH="$NODE_BIN:$PATH" \
    MCP_SERVER_POSTGRES_JS="${MCP_CACHE_DIR:-$HOME/.cache/mcp-connectors}/npm/node_modules/@modelcontextprotocol/server-postgres/dist/index.js" \
    cargo bench -p mcp-postgres --bench query -- --quick
  PATH="$NODE_BIN:$PATH" MCP_N8N_REFERENCE_JS="$(n8n_reference_server)" cargo bench -p mcp-n8n --bench n8n -- --quick
  cargo bench -p mcp-docker --bench list -- --quick
  cargo bench -p mcp-kubernetes --bench k8s -- --quick
fi
echo "all tests passed" >&2
