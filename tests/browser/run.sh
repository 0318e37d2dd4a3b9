#!/usr/bin/env bash
# Real-browser tests of the built guide. Needs node >= 20, chromium at /usr/lib/chromium/chromium
# (or $CHROMIUM) and a built generator (target/release or target/debug, or $SPORTELLO_BIN).
set -euo pipefail
cd "$(dirname "$0")"
# Installs the pinned packages when they are missing or older than package-lock.json
# (a checkout that gained a package since the last install).
for pkg in $(node -e 'console.log(Object.keys(require("./package.json").devDependencies).join(" "))'); do
  if [ ! -f "node_modules/$pkg/package.json" ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
    break
  fi
done
exec node --test --test-reporter=spec "$@" site.test.mjs phone.test.mjs serve.test.mjs inbox.test.mjs care.test.mjs contacts.test.mjs report.test.mjs
