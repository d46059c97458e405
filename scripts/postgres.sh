#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for development and prints the variables the tests read.
# It keeps running until this script is interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
start_postgres
echo "export MCP_POSTGRES_TEST_URL=$MCP_POSTGRES_TEST_URL MCP_POSTGRES_TEST_DATA=$MCP_POSTGRES_TEST_DATA MCP_POSTGRES_TEST_BIN=$MCP_POSTGRES_TEST_BIN MCP_POSTGRES_TEST_OPTS='$MCP_POSTGRES_TEST_OPTS' MCP_POSTGRES_TEST_CA=$MCP_POSTGRES_TEST_CA"
echo "# Ctrl-C stops it" >&2
sleep infinity
