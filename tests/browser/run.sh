#!/usr/bin/env bash
# Real-browser tests of the built guide. Needs node >= 20, chromium at /usr/lib/chromium/chromium
# (or $CHROMIUM) and a built generator (target/release or target/debug, or $SPORTELLO_BIN).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi
exec node --test --test-reporter=spec "$@" site.test.mjs serve.test.mjs inbox.test.mjs care.test.mjs
