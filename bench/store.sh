#!/usr/bin/env bash
# The store benchmark: DynamoDB PutItem, GetItem and Query through `serverful up`'s AWS
# endpoint, side by side in one run with raw SQLite doing the same durable writes (the
# ceiling), moto's server, dynalite (in memory and on disk) and Dynoxide, all loaded by the
# same SigV4 client. Prints a markdown report on stdout; progress on stderr.
#
#   bash bench/store.sh                          # everything, default settings
#   bash bench/store.sh --duration 5 --clients 32
#   bash bench/store.sh --rounds 3              # ratios as medians over 3 rounds
#   BENCH_ONLY=sqlite,serverful bash bench/store.sh
#   BENCH_SKIP_DYNOXIDE=1 bash bench/store.sh    # do not build Dynoxide
#   BENCH_ONLY=serverful,serverful-pg,serverful-pg2,extenddb bash bench/store.sh
#                                                # SQLite against PostgreSQL (1 and 2 nodes)
#
# The emulators are installed once into $BENCH_TOOLS (default target/bench-store-tools):
# moto[server] into a Python venv, dynalite with npm, Dynoxide (crate dynoxide-rs) with
# `cargo install`. One that fails to install gets a "did not run" row. Flags and BENCH_*
# variables are listed by `target/release/bench-store --help` and in bench/README.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
tools="${BENCH_TOOLS:-$target_dir/bench-store-tools}"
mkdir -p "$tools"
tools="$(cd "$tools" && pwd)"

cargo build --release --quiet -p serverful -p serverful-bench >&2

# shellcheck source=bench/lib.sh
. bench/lib.sh

# Only the emulators the run needs: with BENCH_ONLY, those it names.
wanted() { [[ -z "${BENCH_ONLY:-}" || ",${BENCH_ONLY}," == *",$1"* ]]; }

if wanted moto; then install_moto; fi
if wanted dynalite && [[ ! -f "$tools/dynalite/node_modules/dynalite/cli.js" ]]; then
    mkdir -p "$tools/dynalite"
    install_step dynalite 900 npm install --prefix "$tools/dynalite" --no-audit --no-fund dynalite
fi
if wanted dynoxide && [[ -z "${BENCH_SKIP_DYNOXIDE:-}" && ! -x "$tools/dynoxide/bin/dynoxide" ]]; then
    # Only the HTTP server: the MCP server and import tooling are not needed.
    install_step dynoxide 900 cargo install dynoxide-rs --locked --no-default-features \
        --features cli,http-server,native-sqlite --root "$tools/dynoxide" \
        --target-dir "$tools/dynoxide-build"
fi

run_driver bench-store -- "$@"
