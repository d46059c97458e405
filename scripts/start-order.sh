#!/usr/bin/env bash
# Builds server binaries laid out for a lean start: the functions a server runs to start
# and answer `initialize` and `tools/list` are placed together, so the kernel maps those
# pages only (without it, they are spread over the binary and about four times as many
# pages of code are mapped: an idle mcp-n8n went from 12.5 to 8.4 MiB resident).
#
#   scripts/start-order.sh [--profile P] CARGO_BUILD_ARGS...
#   scripts/start-order.sh --profile release -p mcp-n8n --bins
#
# 1. builds with cargo (`--locked --profile P` and the arguments given);
# 2. runs each server built (the connectors, and the echo bench's servers) under
#    callgrind through a start, configured for services that do not exist (a start
#    connects nowhere), and lists the functions it ran: <target>/<profile>/start-order.txt;
# 3. builds again with MCP_START_ORDER naming that list (packaging/start_layout.rs hands
#    it to the linker), which recompiles and relinks only the server crates;
# 4. checks each server's start code now spans fewer pages, and says by how much.
# The list names symbols of this very build (their hashes change with features and
# profile), which is why it is made here rather than kept in the repository.
# Needs valgrind (Debian: valgrind) and the LLD linker (Rust >= 1.90 on x86_64 Linux).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/lib.sh

PROFILE=release
if [ "${1:-}" = --profile ]; then PROFILE=${2:?--profile needs a profile name}; shift 2; fi
[ $# -gt 0 ] || { echo "start-order.sh: give cargo build arguments (-p PACKAGE --bins ...)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "start-order.sh: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
[ "$(rustc -vV | sed -n 's/^host: //p')" = x86_64-unknown-linux-gnu ] \
  || { echo "start-order.sh: the layout needs LLD on x86_64-unknown-linux-gnu" >&2; exit 1; }
DIR="${CARGO_TARGET_DIR:-$ROOT/target}/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step "cargo build --profile $PROFILE $*"
MCP_START_ORDER="" cargo build --locked --profile "$PROFILE" --message-format=json-render-diagnostics "$@" \
  >"$work/artifacts.jsonl"
# What each server needs to start; nothing listens at these addresses.
cat >"$work/kubeconfig" <<'EOF'
apiVersion: v1
kind: Config
current-context: layout
clusters:
- name: layout
  cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}
contexts:
- name: layout
  context: {cluster: layout, user: layout}
users:
- name: layout
  user: {token: layout}
EOF
printf 'layout' >"$work/n8n-key"
cat >"$work/start.jsonl" <<'EOF'
{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"start-order","version":"1"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}
EOF
server_env() {
  case "$1" in
    mcp-postgres) echo "DATABASE_URL=postgres://layout@127.0.0.1:9/layout" ;;
    mcp-docker) echo "DOCKER_HOST=unix://$work/docker.sock" ;;
    mcp-kubernetes) echo "MCP_KUBERNETES_KUBECONFIG=$work/kubeconfig" ;;
    mcp-n8n) echo "N8N_API_URL=http://127.0.0.1:9 N8N_API_KEY_FILE=$work/n8n-key" ;;
    *) echo "MCP_LOG_LEVEL=warn" ;;
  esac
}
# The servers this build made (not others lying in the directory).
mapfile -t servers < <(python3 - "$work/artifacts.jsonl" <<'PY'
import json, sys
known = {"mcp-postgres", "mcp-docker", "mcp-kubernetes", "mcp-n8n",
         "bench_server_floor", "bench_server_rmcp", "bench_server_mcp_core"}
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] in known:
        print(m["executable"])
PY
)
[ ${#servers[@]} -gt 0 ] || { echo "start-order.sh: the build made no server (-p mcp-postgres --bins, ...)" >&2; exit 1; }

for bin in "${servers[@]}"; do
  name=$(basename "$bin")
  step "callgrind: $name starts and lists its tools"
  # shellcheck disable=SC2046 # server_env prints NAME=value words
  env $(server_env "$name") valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/$name.cg" \
    "$bin" --transport stdio --log-level warn <"$work/start.jsonl" >"$work/$name.out" 2>"$work/$name.err" \
    || { cat "$work/$name.err" >&2; exit 1; }
  grep '"id":1[,}]' "$work/$name.out" | grep -q '"result"' || { echo "$name did not list its tools:" >&2; cat "$work/$name.out" "$work/$name.err" >&2; exit 1; }
done

python3 - "$work" "$DIR/start-order.txt" "${servers[@]}" <<'PY'
import re, sys
work, out, bins = sys.argv[1], sys.argv[2], sys.argv[3:]
symbols = set()
for path in bins:
    name = path.rsplit('/', 1)[-1]
    # Callgrind's compressed names: "fn=(id) name" the first time, "fn=(id)" after.
    objects, functions, current = {}, {}, None
    with open(f"{work}/{name}.cg") as f:
        for line in f:
            m = re.match(r'^(ob|cob|fn|cfn)=\((\d+)\)(?: (.*))?$', line.rstrip('\n'))
            if not m:
                continue
            kind, key, text = m.groups()
            table = objects if kind in ('ob', 'cob') else functions
            if text:
                table[key] = text
            if kind == 'ob':
                current = objects[key]
            elif kind == 'fn' and current == path:
                symbols.add(functions[key])
with open(out, 'w') as f:
    f.write(''.join(s + '\n' for s in sorted(symbols)))
print(f"{len(symbols)} functions in {out}")
PY

spans() {
  python3 - "$DIR/start-order.txt" "${servers[@]}" <<'PY'
import subprocess, sys
listed = set(open(sys.argv[1]).read().split())
for path in sys.argv[2:]:
    pages = set()
    for line in subprocess.run(['nm', '-S', '--defined-only', path], capture_output=True, text=True).stdout.splitlines():
        f = line.split()
        if len(f) == 4 and f[3] in listed:
            start, size = int(f[0], 16), int(f[1], 16)
            pages.update(range(start // 4096, (start + max(size, 1) - 1) // 4096 + 1))
    print(path.rsplit('/', 1)[-1], len(pages))
PY
}
spans >"$work/before"

step "cargo build --profile $PROFILE $* (MCP_START_ORDER=$DIR/start-order.txt)"
MCP_START_ORDER="$DIR/start-order.txt" cargo build --locked --profile "$PROFILE" "$@"

spans >"$work/after"
step "start code, in pages of 4 KiB"
paste "$work/before" "$work/after" | while read -r name before _ after; do
  printf '%-24s %5d -> %5d\n' "$name" "$before" "$after"
  # A layout that did not take (another linker, a stale list) is an error, not a quiet no-op.
  [ "$after" -lt "$before" ] || { echo "start-order.sh: $name's start code was not gathered" >&2; exit 1; }
done
