#!/usr/bin/env bash
# The protocol, server and e2e suites under Node 24 (the npm registry's `node` package).
# better-sqlite3 is built for the Node that ran `npm ci`; under another Node major the server
# uses the built-in node:sqlite instead (packages/server/src/storage/sqlite.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE24_VERSION=24
echo "== protocol, server and e2e suites under Node ${NODE24_VERSION} =="
npx --yes -p "node@${NODE24_VERSION}" node --version
npx --yes -p "node@${NODE24_VERSION}" node scripts/run-tests.mjs packages/protocol/dist packages/server/dist tests/e2e/dist "$@"
