#!/usr/bin/env bash
# The services the tests use, for a development shell or CI, through one mechanism
# (scripts/lib.sh's start_services): what the environment already names
# (MCP_TEST_DATABASE_URL, DOCKER_HOST, MCP_TEST_N8N_URL + MCP_TEST_N8N_API_KEY,
# MCP_TEST_KUBECONFIG) is used as it is; otherwise docker compose (docker-compose.yml)
# when the engine can pull images; otherwise native processes from Debian's packages and
# npm. Everything listens on loopback.
#
#   eval "$(scripts/services.sh up)"   # start (or find running) and export the variables
#   scripts/services.sh env            # print the variables again
#   scripts/services.sh down           # stop what `up` started, by PID
#   scripts/services.sh run CMD ARGS   # start, run CMD with the variables, stop
#
# `up` is idempotent: while the services it started answer, it starts nothing and
# prints the same variables. Its state lives in $MCP_SERVICES_DIR (default
# /tmp/mcp-services-$UID).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"
STATE=${MCP_SERVICES_DIR:-/tmp/mcp-services-$(id -u)}

# True when every service named in the state's variables answers.
alive() {
  [ -f "$STATE/env" ] || return 1
  (
    set +u
    source "$STATE/env"
    [ -z "$MCP_POSTGRES_TEST_BIN" ] || "$MCP_POSTGRES_TEST_BIN/pg_isready" -q -d "$MCP_TEST_DATABASE_URL" || exit 1
    docker version >/dev/null 2>&1 || exit 1
    curl -sf --max-time 2 "$MCP_TEST_N8N_URL/healthz/readiness" | grep -q '"ok"' || exit 1
    [ -n "$MCP_TEST_DOCKER_SSH" ] || exit 1
  )
}

down() {
  [ -f "$STATE/owned" ] || return 0
  # shellcheck disable=SC1091
  source "$STATE/owned"
  cleanup_owned
  OWNED_PIDS=() OWNED_PG_DATA=() OWNED_DOCKER_PIDFILES=() OWNED_DOCKER_DIRS=() OWNED_N8N_PIDFILES=() OWNED_COMPOSE=() OWNED_SSHD_DIRS=()
  rm -rf "$STATE"
}

case "${1:-up}" in
  up)
    if alive; then
      echo "services already running ($STATE)" >&2
      cat "$STATE/env"
      exit 0
    fi
    down
    mkdir -p "$STATE"
    start_services
    services_env >"$STATE/env"
    declare -p OWNED_PIDS OWNED_PG_DATA OWNED_DOCKER_PIDFILES OWNED_DOCKER_DIRS OWNED_N8N_PIDFILES OWNED_COMPOSE \
      OWNED_SSHD_DIRS >"$STATE/owned"
    # Detach: the services outlive this script until `down`.
    trap - EXIT
    cat "$STATE/env"
    ;;
  env)
    [ -f "$STATE/env" ] || { echo "no services started: run scripts/services.sh up" >&2; exit 1; }
    cat "$STATE/env"
    ;;
  down)
    trap - EXIT
    down
    ;;
  run)
    shift
    start_services
    "$@"
    ;;
  *)
    echo "usage: $0 up|env|down|run CMD [ARGS...]" >&2
    exit 2
    ;;
esac
