#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ for RUNS executions each and prints their figures.
#
#   scripts/fuzz.sh [TARGET|all] [RUNS]      # defaults: all targets, 10,000,000 runs
#
# Installs cargo-fuzz (crates.io) when it is missing. cargo-fuzz builds with -Z flags
# (sanitizer, coverage): the nightly toolchain when rustup has one, otherwise the stable
# one with RUSTC_BOOTSTRAP=1. A target's corpus grows in fuzz/corpus/TARGET (not in git),
# seeded from fuzz/seeds/TARGET; fuzz/dict/TARGET.dict is used when present; a crash is
# kept in fuzz/artifacts/TARGET and fails the run. CARGO_TARGET_DIR is honoured.
# FUZZ_SANITIZER=none runs without AddressSanitizer (several times faster; the targets
# are safe Rust), default address.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
which="${1:-all}"
runs="${2:-10000000}"
sanitizer="${FUZZ_SANITIZER:-address}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: installing it from crates.io" >&2
  cargo install cargo-fuzz --locked
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  toolchain=()
  export RUSTC_BOOTSTRAP=1
fi

cd "$root/fuzz"
if [ "$which" = all ]; then
  mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list)
else
  targets=("$which")
fi

mkdir -p logs
status=0
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  dirs=("corpus/$target")
  [ -d "seeds/$target" ] && dirs+=("seeds/$target")
  extra=()
  [ -f "dict/$target.dict" ] && extra+=("-dict=dict/$target.dict")
  log="logs/$target.log"
  echo "== $target: $runs runs (log: fuzz/$log)"
  cargo "${toolchain[@]}" fuzz build --release --debug-assertions -s "$sanitizer" "$target" >/dev/null
  start=$(date +%s)
  if cargo "${toolchain[@]}" fuzz run --release --debug-assertions -s "$sanitizer" "$target" "${dirs[@]}" -- \
      -runs="$runs" -print_final_stats=1 -artifact_prefix="artifacts/$target/" "${extra[@]}" >"$log" 2>&1; then
    result="no crash"
  else
    result="FAILED (see fuzz/$log and fuzz/artifacts/$target/)"
    status=1
  fi
  seconds=$(( $(date +%s) - start ))
  executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  per_sec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  coverage=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\).*ft: \([0-9]*\).*corp: \([^ ]*\).*/coverage \1, features \2, corpus \3/p')
  echo "   executions ${executed:-?} in ${seconds} s (${per_sec:-?}/s), peak RSS ${rss:-?} MB, ${coverage:-}"
  echo "   result: $result"
  grep -m3 -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | sed 's/^/   /' || true
done
exit "$status"
