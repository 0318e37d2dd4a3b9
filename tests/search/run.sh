#!/usr/bin/env bash
# Search tests: quality over the query set, round trip, Rust/JS pipeline equivalence, and the
# search UI end to end in headless Chromium. Needs node >= 20, chromium at
# /usr/lib/chromium/chromium (or $CHROMIUM), the generator ($SPORTELLO_BIN, default
# target/debug/sportello) and the `search_tool` example built next to it (cargo test builds it;
# or set $SEARCH_TOOL).
set -euo pipefail
cd "$(dirname "$0")"
export SPORTELLO_BIN="${SPORTELLO_BIN:-$PWD/../../target/debug/sportello}"
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi
exec node --test --test-reporter=spec "$@" search.test.mjs
