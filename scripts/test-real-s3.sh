#!/usr/bin/env bash
# The storage conformance suite against real S3 servers: Ceph RGW directly, then RGW behind the
# R2 rules proxy (equal parts, no ACL headers), as an R2-profile location. Uses the peers handed to
# the team in ../shared/peers; the product itself never depends on them.
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS="${PEERS_DIR:-../shared/peers}"
[ -d "$PEERS/ceph-rgw" ] || { echo "no $PEERS/ceph-rgw: skipping the real-S3 stage"; exit 0; }

if ! command -v radosgw >/dev/null; then
  echo "installing Ceph (ceph-mon ceph-osd radosgw ceph-common) from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ceph-mon ceph-osd radosgw ceph-common uuid-runtime curl >/dev/null
fi

proxy_pid=""
cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
  CEPH_RGW_FAST_STOP=1 bash "$PEERS/ceph-rgw/stop.sh" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# A cluster left over from an interrupted run would block the start.
bash "$PEERS/ceph-rgw/stop.sh" >/dev/null 2>&1 || true
bash "$PEERS/ceph-rgw/start.sh" >/dev/null
. "$(cat "${TMPDIR:-/tmp}/ceph-rgw-peer.current")/env"

export S3_TEST_ACCESS_KEY="$S3_ACCESS_KEY" S3_TEST_SECRET_KEY="$S3_SECRET_KEY"

echo "== storage suite against Ceph RGW at $S3_ENDPOINT"
S3_TEST_ENDPOINT="$S3_ENDPOINT" S3_TEST_REGION="$S3_REGION" npm run test:s3
echo "== direct-to-bucket uploads against Ceph RGW"
S3_TEST_ENDPOINT="$S3_ENDPOINT" S3_TEST_REGION="$S3_REGION" npx vitest run --project workers test/direct

proxy_port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
node "$PEERS/r2-rules-proxy.mjs" --listen "$proxy_port" --target "$S3_ENDPOINT" &
proxy_pid=$!
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$proxy_port/" && break; sleep 0.1; done

echo "== storage suite against Ceph RGW behind the R2 rules proxy (R2 profile, region auto)"
S3_TEST_ENDPOINT="http://127.0.0.1:$proxy_port" S3_TEST_REGION=auto S3_TEST_PROFILE=r2 npm run test:s3
echo "== direct-to-bucket uploads against Ceph RGW behind the R2 rules proxy"
S3_TEST_ENDPOINT="http://127.0.0.1:$proxy_port" S3_TEST_REGION=auto S3_TEST_PROFILE=r2 npx vitest run --project workers test/direct
refused=$(curl -s "http://127.0.0.1:$proxy_port/__r2-rules/log")
echo "R2 rules proxy refusals: $refused"
