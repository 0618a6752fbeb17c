#!/usr/bin/env bash
# The WebSocket benchmark: connections held by one node (10,000 by default) with the
# server's memory idle and with them open, and fan-out through the management API
# (PostToConnection, SigV4-signed for execute-api) to 1,000 of them: messages/s and the
# p50/p99 from the post to the frame at the client. `serverful up` side by side in one
# run with serverless-offline (serverless v3) on the same Node.js handler. Prints a
# markdown report on stdout; progress on stderr.
#
#   bash bench/websocket.sh                        # everything, default settings
#   bash bench/websocket.sh --connections 2000 --duration 5
#   BENCH_ONLY=serverful bash bench/websocket.sh   # without serverless-offline
#
# serverless@3 and serverless-offline@13 are installed once with npm into
# $BENCH_TOOLS/serverless (default target/bench-websocket-tools); if that fails, its row
# says so. Flags and BENCH_* variables are listed by
# `target/release/bench-websocket --help` and in bench/README.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
tools="${BENCH_TOOLS:-$target_dir/bench-websocket-tools}"
mkdir -p "$tools"
tools="$(cd "$tools" && pwd)"

# Every connection is a file descriptor in the server and another in the driver (both
# inherit this limit): raise the soft limit to the hard one.
hard_limit="$(ulimit -Hn)"
if [[ "$hard_limit" == "unlimited" ]]; then
    hard_limit=1048576
fi
ulimit -n "$hard_limit"
echo "open files limit: $(ulimit -n)" >&2
connections="${BENCH_CONNECTIONS:-10000}"
for ((i = 1; i <= $#; i++)); do
    if [[ "${!i}" == "--connections" ]]; then
        next=$((i + 1))
        connections="${!next}"
    fi
done
if ((connections + 200 > $(ulimit -n))); then
    echo "warning: $connections connections need more than the open files limit ($(ulimit -n)) allows; raise it (ulimit -Hn, /etc/security/limits.conf)" >&2
fi

cargo build --release --quiet -p serverful -p serverful-bench --bin serverful --bin bench-websocket >&2

if [[ ! -f "$tools/serverless/node_modules/serverless/bin/serverless.js" || ! -d "$tools/serverless/node_modules/serverless-offline" ]]; then
    # Installed from inside its folder; serverless v3 runs `offline` without a login.
    mkdir -p "$tools/serverless"
    [[ -f "$tools/serverless/package.json" ]] || echo '{"private": true}' >"$tools/serverless/package.json"
    log="$tools/serverless-install.log"
    echo "installing serverless@3 and serverless-offline@13 (log: $log)" >&2
    if ! timeout 900 bash -c "cd '$tools/serverless' && npm install --no-audit --no-fund serverless@3 serverless-offline@13" >"$log" 2>&1; then
        echo "  failed to install serverless-offline; its row will say so (see $log)" >&2
    fi
fi

# shellcheck source=bench/lib.sh
. bench/lib.sh
# serverless v3 asks nothing and sends nothing with these set.
run_driver bench-websocket SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off -- "$@"
