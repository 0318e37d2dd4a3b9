#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests of every crate, then
# the real-browser tests of the built guide (axe-core, crawler, keyboard,
# live reload). On a fresh Debian machine it first installs what the tests
# need and is missing, from Debian's packages: Chromium, python3-aiosmtpd (the
# real SMTP server of the inbox's delivery tests), PostgreSQL (the inbox's
# PostgreSQL store tests), GnuPG and rnp,
# python3-jsonschema (the HSDS validator of tests/opendata/); then the npm
# packages of tests/*/.
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  apt-get install -y -qq "$@" >/dev/null
}
if [ ! -x /usr/lib/chromium/chromium ]; then
  echo "== installing Debian chromium"
  apt_install chromium
fi
if ! command -v gpg >/dev/null; then
  echo "== installing gnupg"
  apt_install gnupg
fi
# Debian's own packages: a stock Debian refuses `pip install` into its
# Python (PEP 668). The tests find /usr/bin/python3's aiosmtpd even when
# another python3 comes first on PATH.
if ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
  echo "== installing python3-aiosmtpd"
  apt_install python3-aiosmtpd
fi
if ! command -v rnp >/dev/null; then
  echo "== installing rnp (Thunderbird's OpenPGP engine)"
  apt_install rnp
fi
# The inbox's PostgreSQL store tests start their own server from Debian's
# binaries (initdb into a temporary folder); the package's own cluster is
# not used.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "== installing postgresql (the inbox's PostgreSQL store tests)"
  apt_install postgresql
fi
if ! command -v strace >/dev/null; then
  echo "== installing strace (the generator's test that the output is flushed before it goes live)"
  apt_install strace
fi
if ! /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
  echo "== installing python3-jsonschema (validates the HSDS open data)"
  apt_install python3-jsonschema
fi

echo "== cargo test --workspace"
cargo test --workspace --locked

echo "== browser tests (headless Chromium + axe-core)"
# cargo test has just built target/debug/sportello.
SPORTELLO_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/sportello" tests/browser/run.sh

echo "== search tests (quality, Rust/JS equivalence, end to end in Chromium)"
SPORTELLO_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/sportello" tests/search/run.sh
