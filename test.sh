#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests of every crate, then
# the real-browser tests of the built guide (axe-core, crawler, keyboard).
# Needs: cargo; node + npm; Debian chromium (installed by .ci/run).
set -euo pipefail
cd "$(dirname "$0")"

echo "== cargo test --workspace"
cargo test --workspace --locked

echo "== browser tests (headless Chromium + axe-core)"
# cargo test has just built target/debug/sportello.
SPORTELLO_BIN="$PWD/target/debug/sportello" tests/browser/run.sh
