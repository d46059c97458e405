#!/usr/bin/env bash
# The release artifacts for the host platform, into dist/ (ignored by git):
#   <connector>-<version>-<target>            the binary
#   <connector>-<version>-<target>.mcpb       its MCP Bundle (packaging/<connector>/manifest.json)
#   <connector>-<version>-<target>.server.json its MCP Registry entry (packaging/<connector>/server.json
#                                             plus the bundle as an mcpb package with its SHA-256)
#   SHA256SUMS                                sha256sum of all of the above
# The version is [workspace.package] version; the manifests must say the same (checked).
# Bundles are packed, validated and read back with the official tool (@anthropic-ai/mcpb,
# installed by scripts/setup-tools.sh).
#
#   scripts/release.sh                 dist profile (release, stripped), built here and
#                                      laid out for a lean start (scripts/start-order.sh)
#                                      where valgrind is installed
#   scripts/release.sh --profile dev --no-build --out DIR
#                                      the test command's way: bundles the debug binaries
#                                      it already built (a release build takes minutes);
#                                      --bin-dir DIR takes the binaries from DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/lib.sh

PROFILE=dist BUILD=1 OUT="$ROOT/dist" BIN_DIR="" STRIP=0
CONNECTORS=(mcp-postgres mcp-docker mcp-kubernetes mcp-n8n)
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE=${2:?--profile needs dist, release or dev}; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    --bin-dir) BIN_DIR=${2:?--bin-dir needs a directory}; shift 2 ;;
    --only) CONNECTORS=("${2:?--only needs a connector name}"); shift 2 ;;
    *) echo "release.sh: unknown argument $1 (expected --profile P, --no-build, --out DIR, --bin-dir DIR, --only CONNECTOR)" >&2; exit 2 ;;
  esac
done

VERSION=$(workspace_version)
TARGET=$(rustc -vV | sed -n 's/^host: //p')
[ -n "$BIN_DIR" ] || BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")"
NODE_BIN=$(scripts/setup-tools.sh)
export PATH="$NODE_BIN:$PATH"
MCPB="${MCP_CACHE_DIR:-$HOME/.cache/mcp-connectors}/npm/node_modules/.bin/mcpb"
REPO_URL=$(workspace_field repository)
case "$(uname -s)" in Linux) PLATFORM=linux ;; Darwin) PLATFORM=darwin ;; *) PLATFORM=win32 ;; esac

if [ "$BUILD" = 1 ]; then
  # Laid out for a lean start where the tools for it are here (scripts/start-order.sh).
  if command -v valgrind >/dev/null && [ "$(rustc -vV | sed -n 's/^host: //p')" = x86_64-unknown-linux-gnu ]; then
    # The layout reads the symbols, so they are stripped after it, not by the profile.
    env "CARGO_PROFILE_$(echo "$PROFILE" | tr 'a-z-' 'A-Z_')_STRIP=false" \
      scripts/start-order.sh --profile "$PROFILE" $(printf -- '-p %s ' "${CONNECTORS[@]}")
    STRIP=1
  else
    step "cargo build --profile $PROFILE (${CONNECTORS[*]}); no start layout (needs valgrind, x86_64 Linux)"
    cargo build --locked --profile "$PROFILE" $(printf -- '-p %s ' "${CONNECTORS[@]}")
  fi
fi
mkdir -p "$OUT"
stage=$(mktemp -d)
trap 'rm -rf "$stage"; cleanup_owned' EXIT
for c in "${CONNECTORS[@]}"; do
  base="$c-$VERSION-$TARGET"
  manifest_version=$(json_field "packaging/$c/manifest.json" version)
  [ "$manifest_version" = "$VERSION" ] || { echo "packaging/$c/manifest.json says version $manifest_version, the workspace $VERSION" >&2; exit 1; }
  [ -x "$BIN_DIR/$c" ] || { echo "$BIN_DIR/$c is missing (build it, or drop --no-build)" >&2; exit 1; }
  step "$base"
  install -m 0755 "$BIN_DIR/$c" "$OUT/$base"
  [ "$STRIP" = 0 ] || strip --strip-all "$OUT/$base"
  # The bundle: the manifest (its platform set to this one) and the binary under server/.
  rm -rf "${stage:?}/$c" && mkdir -p "$stage/$c/server"
  python3 - "packaging/$c/manifest.json" "$PLATFORM" >"$stage/$c/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["compatibility"]["platforms"] = [sys.argv[2]]
print(json.dumps(m, indent=2))
PY
  install -m 0755 "$OUT/$base" "$stage/$c/server/$c"
  "$MCPB" validate "$stage/$c/manifest.json" >&2
  "$MCPB" pack "$stage/$c" "$OUT/$base.mcpb" >&2
  "$MCPB" info "$OUT/$base.mcpb" >&2
  # The registry entry: the committed one plus this bundle as an mcpb package.
  python3 - "packaging/$c/server.json" "$REPO_URL/releases/download/v$VERSION/$base.mcpb" "$VERSION" \
    "$(sha256sum "$OUT/$base.mcpb" | cut -d' ' -f1)" >"$OUT/$base.server.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["packages"].insert(0, {"registryType": "mcpb", "identifier": sys.argv[2], "version": sys.argv[3],
                         "fileSha256": sys.argv[4], "transport": {"type": "stdio"}})
print(json.dumps(s, indent=2))
PY
done
(cd "$OUT" && sha256sum -- *-"$VERSION"-"$TARGET" *-"$VERSION"-"$TARGET".mcpb *-"$VERSION"-"$TARGET".server.json >SHA256SUMS)
ls -l "$OUT" >&2
echo "$OUT"
