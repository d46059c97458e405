# Shared helpers for the test scripts: free ports, background processes we own, waits.
# Every process started here is recorded and stopped by PID on exit.
OWNED_PIDS=()
cleanup_owned() {
  for pid in "${OWNED_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
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
