#!/usr/bin/env bash
# Installs the locked npm dependencies (npm ci) when node_modules is missing, incomplete (npm writes
# node_modules/.package-lock.json last), does not satisfy package.json (npm ls), or was installed by a Node
# with another module ABI (node_modules/.node-abi, written here after npm ci: a native addon is built for
# one ABI); otherwise does nothing. `--always`: npm ci in any case (CI, on a clean clone).
# Runs on the first node on PATH: callers put Node 24 there first (scripts/ensure-node.sh). Used by .ci/run
# and the README's two first commands (scripts/test.sh, scripts/demo.sh), so each works on a fresh clone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
abi="$(node -p process.versions.modules)"
if [[ "${1:-}" != --always && -f node_modules/.package-lock.json &&
  "$(cat node_modules/.node-abi 2>/dev/null)" == "$abi" ]] && npm ls --all >/dev/null 2>&1; then
  exit 0
fi
[[ "${1:-}" == --always ]] ||
  echo "[deps] node_modules is missing, stale or installed by another Node: npm ci on node $(node --version)"
npm ci --no-audit --no-fund
echo "$abi" >node_modules/.node-abi
