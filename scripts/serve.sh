#!/usr/bin/env bash
# The main job, set up and run: builds the web UI and the server, then runs `nodefit serve` with
# the UI on an embedded SQLite database (created on first run in ~/.local/share/nodefit, or
# --data-dir). Arguments are passed to `nodefit serve` (e.g. --listen 0.0.0.0:8080).
# Needs a Rust toolchain (rustup); installs what else it needs from Debian's mirrors (with sudo
# when not root) and downloads only from crates.io and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
require_rust

apt_install ca-certificates gcc pkg-config
# Node.js and npm bundle the UI's editor (CodeMirror, from npm); Debian's when none is installed.
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || rustup target list --installed | grep -q wasm32-unknown-unknown

echo "== building the web UI (frontend/dist)"
cargo xtask build-ui
echo "== building the server"
cargo build --release -p nodefit
exec target/release/nodefit serve --ui-dir frontend/dist "$@"
