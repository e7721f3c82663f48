#!/usr/bin/env bash
# Sets up everything the tests need on Debian bookworm and runs every test.
# Needs root (or sudo) for apt; downloads only from Debian mirrors, crates.io and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
require_rust

# postgresql: the server tests start their own clusters on loopback; sqlite3 lets a test
# write an older schema's state into a server's database.
# chromium, chromium-driver: the web UI's browser tests (e2e/tests/ui_browser.rs).
apt_install ca-certificates curl gcc pkg-config openssl postgresql sqlite3 chromium chromium-driver
# Node.js and npm bundle the UI's editor (CodeMirror, from npm); Debian's when none is installed.
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || rustup target list --installed | grep -q wasm32-unknown-unknown
bash e2e/testbed/setup.sh

echo "== formatting"
cargo fmt --all --check
echo "== core builds for the browser (wasm32)"
cargo build -q -p nodefit-core --target wasm32-unknown-unknown
echo "== web UI (frontend/dist, for the server and the browser tests)"
cargo xtask build-ui
echo "== tests"
cargo test -q --workspace
echo "== fuzzing: regressions, corpus, then a bounded run of every target"
bash shared/fuzz/run-ci.sh
