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
