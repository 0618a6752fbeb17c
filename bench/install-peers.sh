#!/usr/bin/env bash
# Installs the invoke benchmark's peer contender: the Serverless Framework v3 and its
# serverless-offline plugin, from npm, into $BENCH_PEERS/serverless (default:
# $CARGO_TARGET_DIR/bench-peers, else target/bench-peers), outside the git tree.
# Idempotent: when both are there it only says so. bench/invoke.sh runs it when the
# offline contender is selected; bench-invoke finds them there (--peers / BENCH_PEERS).
#
#   bash bench/install-peers.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peers="${BENCH_PEERS:-${CARGO_TARGET_DIR:-$root/target}/bench-peers}"
folder="$peers/serverless"

command -v node >/dev/null 2>&1 || { echo "install-peers: node is required (Node.js 18 or newer)" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "install-peers: npm is required" >&2; exit 1; }

if [[ -f "$folder/node_modules/serverless/bin/serverless.js" && -f "$folder/node_modules/serverless-offline/package.json" ]]; then
    echo "install-peers: serverless and serverless-offline are installed in $folder" >&2
    exit 0
fi

# Installed from inside a folder of its own with a private manifest (from the peers folder
# itself, npm would look for a package.json further up).
mkdir -p "$folder"
[[ -f "$folder/package.json" ]] || echo '{"private": true}' >"$folder/package.json"
log="$peers/install.log"
echo "install-peers: installing serverless@3 and serverless-offline@13 into $folder (log: $log)" >&2
if ! (cd "$folder" && timeout 900 npm install --no-audit --no-fund serverless@3 serverless-offline@13) >"$log" 2>&1; then
    echo "install-peers: npm install failed; see $log" >&2
    exit 1
fi
echo "install-peers: done" >&2
