#!/usr/bin/env bash
# Benchmark of the search against Pagefind 1.6.0 (see bench.mjs). Pagefind comes from the npm
# registry (its binary is the @pagefind/linux-x64 package), pinned in bench/package-lock.json.
#
#   tests/search/bench.sh                 # example guide + 10,000 synthetic services
#   BENCH_N=2000 BENCH_RUNS=1 tests/search/bench.sh
#
# Uses the release build: SPORTELLO_BIN (default target/release/sportello) and the search_tool
# example next to it (built here when missing, in $CARGO_TARGET_DIR or target/).
set -euo pipefail
cd "$(dirname "$0")"
ROOT="$(cd ../.. && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
export SPORTELLO_BIN="${SPORTELLO_BIN:-$TARGET/release/sportello}"
if [ ! -x "$SPORTELLO_BIN" ] || [ ! -x "$(dirname "$SPORTELLO_BIN")/examples/search_tool" ]; then
  (cd "$ROOT" && cargo build --release -p sportello --bin sportello --example search_tool)
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
[ -d bench/node_modules ] || (cd bench && npm ci --no-audit --no-fund)
exec node bench.mjs
