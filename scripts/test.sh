#!/usr/bin/env bash
# Runs every check and test of the project, as CI does: formatting, lints, unit tests,
# and the end-to-end tests against the real binary with real clients.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The fuzz targets live in their own workspace (fuzzing needs its own flags): check that
# they still build against the crates they fuzz, so they cannot go stale unnoticed.
RUSTC_BOOTSTRAP=1 cargo check --manifest-path fuzz/Cargo.toml --bins --quiet
# The end-to-end tests run the real `serverful` binary and the test functions' binaries.
cargo build --workspace --bins --quiet
cargo test --workspace --no-fail-fast
