#!/usr/bin/env bash
# The README's test command (`npm test` runs this; CI runs `npm test` after its own setup). Works on its
# own on a fresh clone: runs on Node 24, the image's runtime, fetching it when the machine's node is another
# (scripts/ensure-node.sh); installs the npm dependencies when needed (scripts/npm-deps.sh) and promtool when
# missing (scripts/ensure-promtool.sh), starts the test broker, schema registry and Postgres unless they
# run already (test/infra/infra.sh up reuses running ones), then runs the unit and integration tests.
# Extra arguments go to jest: `npm test -- test/unit/config.test.ts`, `npm test -- --selectProjects unit`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PATH="$(bash scripts/ensure-node.sh):$PATH"
bash scripts/npm-deps.sh
bash scripts/ensure-promtool.sh
bash test/infra/infra.sh up
echo "[test] jest on node $(node --version) ($(command -v node))"
exec node --experimental-vm-modules node_modules/jest/bin/jest.js --runInBand --forceExit "$@"
