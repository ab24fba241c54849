#!/usr/bin/env bash
# The whole test command: system packages, build (typecheck), lint, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# Install what is missing (apt-get as root), then check: a missing package stops the run here
# with one line naming it, instead of failing every test that needs it.
bash scripts/install-system-deps.sh
bash scripts/install-system-deps.sh --check
npx tsc -b
node packages/web/build.mjs
npx eslint --max-warnings 0 .
node scripts/run-tests.mjs "$@"
