#!/bin/sh
# Publishes the single-page app: uploads web/public to the site bucket, then writes
# config.json beside it with where the page finds the APIs. Run it after each deploy
# (README.md says where the three values come from, on Serverful and on AWS).
#
# usage: web/publish.sh BUCKET API_URL WEBSOCKET_URL
#   e.g. web/publish.sh pajthy-sitebucket-avw52eyxwbck \
#          https://q3wjwiqi06.execute-api.us-east-1.amazonaws.com/api \
#          wss://97e1gy88i9.execute-api.us-east-1.amazonaws.com/live
set -eu
if [ $# -ne 3 ]; then
  echo "usage: $0 BUCKET API_URL WEBSOCKET_URL" >&2
  exit 2
fi
bucket=$1 api=$2 websocket=$3
public="$(dirname "$0")/public"

# --delete removes files no longer in public/; config.json is left to the next command.
aws s3 sync "$public" "s3://$bucket/" --delete --exclude config.json --cache-control no-cache
printf '{"api": "%s", "webSocket": "%s"}\n' "$api" "$websocket" |
  aws s3 cp - "s3://$bucket/config.json" --content-type application/json --cache-control no-cache
echo "published to s3://$bucket/"
