# Shared by the bench/*.sh scripts that run a driver against servers they install:
# sourced after `target_dir` and `tools` are set.

# Runs one install step, bounded in time, logging to $tools/NAME-install.log; a failure
# does not end the run (the driver reports the contender as not installed).
#   install_step NAME SECONDS COMMAND...
install_step() {
    local name="$1" limit="$2" log="$tools/$1-install.log"
    shift 2
    echo "installing $name (log: $log)" >&2
    if ! timeout "$limit" "$@" >"$log" 2>&1; then
        echo "  failed to install $name; its rows will say so (see $log)" >&2
    fi
}

# moto's server, into a venv under $tools (the queue, store and S3 benchmarks run it).
install_moto() {
    if [[ ! -x "$tools/moto-venv/bin/moto_server" ]]; then
        install_step moto 900 bash -c "python3 -m venv '$tools/moto-venv' && '$tools/moto-venv/bin/pip' install 'moto[server]'"
    fi
}

# An npm package installed from inside its own folder under $tools (from $tools itself,
# npm would take the folder of the package's name for the package).
#   install_npm_package NAME
install_npm_package() {
    local name="$1"
    mkdir -p "$tools/$name"
    [[ -f "$tools/$name/package.json" ]] || echo '{"private": true}' >"$tools/$name/package.json"
    install_step "$name" 900 bash -c "cd '$tools/$name' && npm install --no-audit --no-fund $name"
}

# fakecloud, built with `cargo install` (every AWS service it emulates: up to half an
# hour on two cores), unless SKIP is set.
#   install_fakecloud SKIP
install_fakecloud() {
    if [[ -z "${1:-}" && ! -x "$tools/fakecloud/bin/fakecloud" ]]; then
        install_step fakecloud 2400 cargo install fakecloud --locked --root "$tools/fakecloud" \
            --target-dir "$tools/fakecloud-build"
    fi
}

# Runs the release driver NAME with the script's arguments in a scratch folder of its
# own, on the same disk as the build (not a tmpfs, so that an fsync costs what it costs
# there), and exits with its status. Every process the driver lists in the pid file is
# killed on the way out, whatever happened; the scratch folder goes unless --keep or
# BENCH_KEEP. Extra environment for the driver can be given as NAME=VALUE words first:
#   run_driver bench-s3 [VAR=VALUE...] -- "$@"
run_driver() {
    local driver="$1"
    shift
    local -a environment=()
    while [[ $# -gt 0 && "$1" != "--" ]]; do
        environment+=("$1")
        shift
    done
    [[ "${1:-}" == "--" ]] && shift
    local scratch_parent="${BENCH_SCRATCH:-$target_dir}"
    mkdir -p "$scratch_parent"
    scratch="$(mktemp -d "$scratch_parent/$driver.XXXXXX")"
    pid_file="$scratch/pids"
    touch "$pid_file"
    keep="${BENCH_KEEP:-}"
    local arg
    for arg in "$@"; do
        if [[ "$arg" == "--keep" ]]; then
            keep=1
        fi
    done
    driver_pid=""
    trap _bench_cleanup EXIT
    trap 'exit 130' INT TERM
    env "${environment[@]}" BENCH_SCRATCH="$scratch" BENCH_TOOLS="$tools" \
        BENCH_PID_FILE="$pid_file" "$target_dir/release/$driver" "$@" &
    driver_pid=$!
    local status=0
    wait "$driver_pid" || status=$?
    driver_pid=""
    exit "$status"
}

_bench_cleanup() {
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
