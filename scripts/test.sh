#!/usr/bin/env bash
# Runs every check and test of the project, as CI does: formatting, lints, unit tests,
# and the end-to-end tests against the real binary with real clients.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The end-to-end tests run the real `serverful` binary and the test functions' binaries.
cargo build --workspace --bins --quiet
cargo test --workspace --no-fail-fast
