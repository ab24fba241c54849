#!/usr/bin/env bash
# The whole test command: system packages, build (typecheck), lint, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npx tsc -b
node packages/web/build.mjs
npx eslint --max-warnings 0 .
node scripts/run-tests.mjs "$@"
