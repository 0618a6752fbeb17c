#!/usr/bin/env bash
# The queue benchmark: SQS SendMessage and ReceiveMessage + DeleteMessageBatch through
# `serverful serve`'s AWS endpoint (durable queues), side by side in one run with moto's
# server (PyPI) and fakecloud (crates.io) when they install here, all loaded by the same
# SigV4 client. Prints a markdown report on stdout; progress on stderr.
#
#   bash bench/queues.sh                        # 16 clients, 5 s per phase
#   bash bench/queues.sh --clients 32 --duration 10
#   BENCH_ONLY=serverful,moto bash bench/queues.sh
#
# The emulators are installed once into $BENCH_TOOLS (default target/bench-queues-tools):
# moto[server] into a Python venv, fakecloud with `cargo install`. One that fails to
# install gets a "did not run" row (its log is in $BENCH_TOOLS).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
tools="${BENCH_TOOLS:-$target_dir/bench-queues-tools}"
mkdir -p "$tools"
tools="$(cd "$tools" && pwd)"

cargo build --release --quiet -p serverful -p serverful-bench >&2

install_step() {
    local name="$1" log="$tools/$1-install.log"
    shift
    echo "installing $name (log: $log)" >&2
    if ! timeout 1800 "$@" >"$log" 2>&1; then
        echo "  failed to install $name; its row will say so (see $log)" >&2
    fi
}

only="${BENCH_ONLY:-serverful,moto,fakecloud}"
if [[ ",$only," == *",moto,"* && ! -x "$tools/moto-venv/bin/moto_server" ]]; then
    install_step moto bash -c "python3 -m venv '$tools/moto-venv' && '$tools/moto-venv/bin/pip' install 'moto[server]'"
fi
if [[ ",$only," == *",fakecloud,"* && ! -x "$tools/fakecloud/bin/fakecloud" ]]; then
    install_step fakecloud cargo install fakecloud --locked --root "$tools/fakecloud" \
        --target-dir "$tools/fakecloud-build"
fi

# The data goes on the same disk as the build (not a tmpfs), so that an fsync costs what
# it costs there.
scratch="$(mktemp -d "$target_dir/bench-queues.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
"$target_dir/release/bench-queues" --tools "$tools" --scratch "$scratch" "$@"
