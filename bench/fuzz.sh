#!/usr/bin/env bash
# Runs every fuzz target for a while (default 60 s each): `bash bench/fuzz.sh [SECONDS]`.
# Not part of CI. cargo-fuzz needs nightly-only compiler flags; RUSTC_BOOTSTRAP lets the
# stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
for target in $(cargo fuzz list); do
  echo "fuzz: $target for ${seconds}s" >&2
  cargo fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=4096
done
