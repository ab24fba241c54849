#!/usr/bin/env bash
# The whole test command: system packages, build (typecheck), lint, then every test, then the
# protocol, server and e2e suites again under Node 24 (supported: Node 20, 22 and 24).
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
# The npm registry's `node` package provides Node 24 here. After the main pass, not beside it:
# the machine has two cores and the main pass already keeps both busy.
if [[ $# -eq 0 ]]; then
  bash scripts/test-node24.sh
fi
