#!/usr/bin/env bash
# The S3 benchmark: PUT and GET of 4 KB and 1 MB objects (throughput, p50/p99) and a
# 1 GiB multipart upload (time, and the server's memory throughout) through `serverful
# up`'s AWS endpoint, side by side in one run with moto's server, fakecloud (in memory and
# on disk), s3rver and s3s-fs, all loaded by the same SigV4 client; beside them the disk's
# own speed for the same bytes written with the same durability (the ceiling). Prints a
# markdown report on stdout; progress on stderr.
#
#   bash bench/s3.sh                              # everything, default settings
#   bash bench/s3.sh --duration 5 --clients 8
#   BENCH_ONLY=ceiling,serverful,moto bash bench/s3.sh
#   BENCH_ONLY=serverful,multipart bash bench/s3.sh   # one contender, one workload
#   BENCH_SKIP_BUILDS=1 bash bench/s3.sh          # do not build fakecloud or s3s-fs
#
# The contenders are installed once into $BENCH_TOOLS (default target/bench-queues-tools,
# shared with bench/queues.sh): moto[server] into a Python venv, fakecloud and s3s-fs
# with `cargo install`, s3rver with npm. One that fails to install gets a "did not run"
# row. MinIO's server is not installable here. Flags and BENCH_* variables are listed by
# `target/release/bench-s3 --help` and in bench/README.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
tools="${BENCH_TOOLS:-$target_dir/bench-queues-tools}"
mkdir -p "$tools"
tools="$(cd "$tools" && pwd)"

cargo build --release --quiet -p serverful -p serverful-bench >&2

# shellcheck source=bench/lib.sh
. bench/lib.sh

install_moto
[[ -f "$tools/s3rver/node_modules/s3rver/bin/s3rver.js" ]] || install_npm_package s3rver
install_fakecloud "${BENCH_SKIP_BUILDS:-}"
if [[ -z "${BENCH_SKIP_BUILDS:-}" && ! -x "$tools/s3s-fs/bin/s3s-fs" ]]; then
    # 0.14 is the last release that builds with the Rust of this machine's image.
    install_step s3s-fs 1800 cargo install s3s-fs --version "${BENCH_S3S_FS_VERSION:-0.14.1}" --features binary \
        --locked --root "$tools/s3s-fs" --target-dir "$tools/s3s-fs-build"
fi

run_driver bench-s3 -- "$@"
