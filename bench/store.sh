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

# Each install step is bounded in time, logs to $tools, and may fail without ending the run.
install_step() {
    local name="$1" log="$tools/$1-install.log"
    shift
    echo "installing $name (log: $log)" >&2
    if ! timeout 900 "$@" >"$log" 2>&1; then
        echo "  failed to install $name; its rows will say so (see $log)" >&2
    fi
}

if [[ ! -x "$tools/moto-venv/bin/moto_server" ]]; then
    install_step moto bash -c "python3 -m venv '$tools/moto-venv' && '$tools/moto-venv/bin/pip' install 'moto[server]'"
fi
if [[ ! -f "$tools/dynalite/node_modules/dynalite/cli.js" ]]; then
    mkdir -p "$tools/dynalite"
    install_step dynalite npm install --prefix "$tools/dynalite" --no-audit --no-fund dynalite
fi
if [[ -z "${BENCH_SKIP_DYNOXIDE:-}" && ! -x "$tools/dynoxide/bin/dynoxide" ]]; then
    # Only the HTTP server: the MCP server and import tooling are not needed.
    install_step dynoxide cargo install dynoxide-rs --locked --no-default-features \
        --features cli,http-server,native-sqlite --root "$tools/dynoxide" \
        --target-dir "$tools/dynoxide-build"
fi

# Every server and load generator the driver starts is listed here, and killed on the way
# out whatever happened (the driver also stops each one itself). The data goes on the same
# disk as the build (not a tmpfs), so that an fsync costs what it costs there.
scratch_parent="${BENCH_SCRATCH:-$target_dir}"
mkdir -p "$scratch_parent"
scratch="$(mktemp -d "$scratch_parent/bench-store.XXXXXX")"
pid_file="$scratch/pids"
touch "$pid_file"
keep="${BENCH_KEEP:-}"
for arg in "$@"; do
    if [[ "$arg" == "--keep" ]]; then
        keep=1
    fi
done
driver_pid=""
cleanup() {
    if [[ -n "$driver_pid" ]]; then
        kill "$driver_pid" 2>/dev/null || true
    fi
    while read -r pid; do
        kill -KILL "$pid" 2>/dev/null || true
    done <"$pid_file"
    if [[ -z "$keep" ]]; then
        rm -rf "$scratch"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BENCH_SCRATCH="$scratch" BENCH_TOOLS="$tools" BENCH_PID_FILE="$pid_file" \
    "$target_dir/release/bench-store" "$@" &
driver_pid=$!
status=0
wait "$driver_pid" || status=$?
driver_pid=""
exit "$status"
