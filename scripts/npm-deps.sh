#!/usr/bin/env bash
# Installs the locked npm dependencies (npm ci) when node_modules is missing, incomplete (npm writes
# node_modules/.package-lock.json last) or does not satisfy package.json (npm ls); otherwise does nothing.
# Used by the README's two first commands (scripts/test.sh, scripts/demo.sh), so each works on a fresh clone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -f node_modules/.package-lock.json ]] && npm ls --all >/dev/null 2>&1; then
  exit 0
fi
echo "[deps] node_modules is missing or does not match package.json: npm ci"
npm ci --no-audit --no-fund
