#!/usr/bin/env bash
# Installs what the end-to-end tests need on a fresh machine: the AWS CLI and boto3, Go, git,
# Ruby with Bundler, a JDK, and the third-party packages the test apps bundle (FastAPI +
# Mangum + uvicorn, awslambdaric, Express + serverless-http). Idempotent: a second run
# only checks.
#
# The packages go to $SERVERFUL_TEST_DEPS (default: target/test-deps), one folder per
# test app, exactly as a user would bundle them next to their code.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
deps="${SERVERFUL_TEST_DEPS:-${CARGO_TARGET_DIR:-$root/target}/test-deps}"
mkdir -p "$deps"

need() { command -v "$1" >/dev/null 2>&1 || { echo "install-test-deps: $1 is required: $2" >&2; exit 1; }; }
need python3 "install Python 3"
need node "install Node.js"
need npm "install npm"
need curl "install curl (the S3 tests fetch presigned URLs and sign virtual-hosted-style requests with it)"

pip_quiet=(python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore)

if ! python3 -c "import boto3" 2>/dev/null || ! command -v aws >/dev/null 2>&1; then
  echo "install-test-deps: installing the AWS CLI and boto3" >&2
  "${pip_quiet[@]}" awscli boto3
fi

# Go builds the examples/birthday function (BuildMethod: makefile runs `go build`). CI is
# a fresh Debian machine running as root, so the distribution's package is enough.
if ! command -v go >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "install-test-deps: go is required: install Go (https://go.dev/dl)" >&2; exit 1; }
  echo "install-test-deps: installing Go (golang-go)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null
fi

# Ruby runs the ruby* functions (tests/it/ruby.rs) and Bundler builds the Bundler test
# functions (BuildMethod bundler; `gem build` packs their gem): Debian's `ruby` is Ruby 3.1
# with `gem`; `bundle` comes in the separate `bundler` package. esbuild needs nothing here:
# like a `sam init` TypeScript app, the test function lists it in its devDependencies, and
# the build installs it with npm.
if ! command -v ruby >/dev/null 2>&1 || ! command -v gem >/dev/null 2>&1 || ! command -v bundle >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "install-test-deps: ruby, gem and bundle are required: install Ruby and Bundler" >&2; exit 1; }
  echo "install-test-deps: installing Ruby and Bundler (ruby, bundler)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ruby bundler >/dev/null
fi

# A JDK runs the Java tests: `javac` compiles Serverful's Java bootstrap and the test apps'
# handlers, `jar` packs them (crates/serverful-e2e/tests/it/java.rs). Debian's default JDK
# (17 on Debian 12) is enough: a java21 function runs on it with a version warning.
if ! command -v javac >/dev/null 2>&1 || ! command -v jar >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "install-test-deps: javac and jar are required: install a JDK (17 or newer)" >&2; exit 1; }
  echo "install-test-deps: installing a JDK (default-jdk-headless)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jdk-headless >/dev/null
fi

# Prometheus scrapes a running server in the metrics tests (tests/it/metrics.rs), which
# start Debian's binary themselves with a config of their own (the package's service is
# not used).
if [ ! -x /usr/bin/prometheus ]; then
  command -v apt-get >/dev/null 2>&1 || { echo "install-test-deps: prometheus is required at /usr/bin/prometheus: install Prometheus" >&2; exit 1; }
  echo "install-test-deps: installing Prometheus (prometheus)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# PostgreSQL backs cluster mode (issue 22); its tests start Debian's server themselves:
# `initdb` into a scratch folder, listening on loopback only (crates/serverful-e2e/src/
# postgres.rs). The package's own cluster service is not used.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "install-test-deps: PostgreSQL is required under /usr/lib/postgresql: install postgresql" >&2; exit 1; }
  echo "install-test-deps: installing PostgreSQL (postgresql)" >&2
  # No default cluster: the tests make their own, and nothing should listen on 5432.
  mkdir -p /etc/postgresql-common
  [ -e /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold postgresql postgresql-client >/dev/null
fi

# nftables loads the NAT and filter rules of the sandbox's egress networking
# (crates/serverful-sandbox/src/net.rs); its tests (tests/net.rs, root under CI) also use
# `ip` (iproute2) to build a stand-in for the outside world.
if ! command -v nft >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "install-test-deps: nft and ip are required: install nftables and iproute2" >&2; exit 1; }
  echo "install-test-deps: installing nftables and iproute2" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables iproute2 >/dev/null
fi

# Headless Chromium drives examples/pajthy's single-page app (tests/it/pajthy.rs) through
# Selenium, pointed at Debian's chromium and chromedriver: no browser can be downloaded
# from elsewhere. Installed without the recommended desktop packages, with one font family
# for the page's text.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  command -v apt-get >/dev/null 2>&1 || { echo "install-test-deps: chromium and chromedriver are required at /usr/bin: install Chromium" >&2; exit 1; }
  echo "install-test-deps: installing Chromium (chromium, chromium-driver)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-liberation >/dev/null
fi

# git fetches deploy sources (crates/serverful-build/src/source.rs); its tests make
# repositories and serve them with `git daemon`, which Debian's `git` package includes.
if ! command -v git >/dev/null 2>&1 || [ ! -x "$(git --exec-path)/git-daemon" ]; then
  command -v apt-get >/dev/null 2>&1 || { echo "install-test-deps: git with git daemon is required: install git" >&2; exit 1; }
  echo "install-test-deps: installing git" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git >/dev/null
fi

# One folder per bundle; a marker file records what was asked for so edits reinstall.
bundle_python() {
  local name="$1"; shift
  local dir="$deps/python-$name" marker="$*"
  if [ "$(cat "$dir/.requested" 2>/dev/null)" != "$marker" ]; then
    echo "install-test-deps: bundling $* for python" >&2
    rm -rf "$dir" && mkdir -p "$dir"
    "${pip_quiet[@]}" --target "$dir" "$@"
    echo "$marker" > "$dir/.requested"
  fi
}
bundle_node() {
  local name="$1"; shift
  local dir="$deps/node-$name" marker="$*"
  if [ "$(cat "$dir/.requested" 2>/dev/null)" != "$marker" ]; then
    echo "install-test-deps: bundling $* for node" >&2
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && echo '{"private":true}' > package.json && npm install --silent --no-audit --no-fund "$@" >/dev/null)
    echo "$marker" > "$dir/.requested"
  fi
}

bundle_python fastapi "fastapi==0.*" "mangum==0.*" "uvicorn==0.*"
bundle_python awslambdaric "awslambdaric==4.*"
bundle_node express "express@5" "serverless-http@4"
# LocalStack's EventBridge pattern matcher, the oracle of serverful-eventbridge's
# differential test (tests/it/differential.rs). Without its dependencies: the test loads
# only the matcher module, which needs nothing beyond the standard library.
bundle_python localstack-events --no-deps "localstack-core==2026.3.0"
# The AWS SDK for JavaScript v3 for the store tests' Node.js client (tests/it/store.rs);
# its Lambda client is the response streaming tests' (InvokeWithResponseStreamCommand,
# tests/it/streaming.rs).
bundle_node dynamodb "@aws-sdk/client-dynamodb@3" "@aws-sdk/lib-dynamodb@3" "@aws-sdk/client-lambda@3"

# SQS's query protocol (XML) as older SDKs speak it: botocore moved SQS to the JSON
# protocol in late 2023, so this one still sends `Action=...` forms (tests/it/sqs.rs).
bundle_python sqs-query "boto3==1.28.57" "botocore==1.31.57"
# The AWS SDK for JavaScript v3's SQS client, for the SQS tests (tests/it/sqs.rs).
bundle_node sqs "@aws-sdk/client-sqs@3"
# The AWS SDK for JavaScript v3's SNS client for the SNS tests (tests/it/sns.rs).
bundle_node sns "@aws-sdk/client-sns@3"
# The AWS SDK for JavaScript v3's S3 client and its multipart `Upload`, for the S3 tests
# (tests/it/s3.rs): it sends checksums in aws-chunked trailers.
bundle_node s3 "@aws-sdk/client-s3@3" "@aws-sdk/lib-storage@3"

# WebSocket clients for the WebSocket API tests (tests/it/websocket.rs).
bundle_python websockets "websockets==15.*"
bundle_node ws "ws@8"
# Selenium for the browser test of examples/pajthy (tests/it/pajthy.rs).
bundle_python selenium "selenium==4.*"
# Pillow makes and checks the images of the thumbnails example's test (tests/it/thumbnails.rs).
bundle_python pillow "pillow==11.3.0"

# An independent implementation of AWS's cron dialect for serverful-schedule's differential
# test (crates/serverful-schedule/tests/it/differential.rs), pinned so its answers stay put.
bundle_node aws-cron-parser "aws-cron-parser@1.1.12"

echo "install-test-deps: ready in $deps" >&2
