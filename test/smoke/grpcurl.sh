#!/usr/bin/env bash
# Smoke test with the real grpcurl: `mcm-driver serve` answers `grpcurl list`
# (server reflection), describes the Driver service, and reports health.
# grpcurl is built once from the Go module proxy into the tools cache.
set -euo pipefail
cd "$(dirname "$0")/../.."

tools="${MCM_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcm-grpc-driver}/tools"
grpcurl="$tools/grpcurl"
if [ ! -x "$grpcurl" ]; then
  GOBIN="$tools" GOFLAGS=-trimpath go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3
fi

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
log=$(mktemp)
node --import tsx src/cli/main.ts serve --listen "127.0.0.1:$port" --http-listen "" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do grep -q '"sidecar serving"' "$log" && break; sleep 0.1; done

services=$("$grpcurl" -plaintext "127.0.0.1:$port" list)
echo "$services"
grep -qx 'mcm.driver.v1.Driver' <<<"$services"
"$grpcurl" -plaintext "127.0.0.1:$port" describe mcm.driver.v1.Driver | grep -q 'rpc GetMachineStatus'
"$grpcurl" -plaintext "127.0.0.1:$port" describe mcm.driver.v1.CreateMachineRequest | grep -q 'map<string, bytes> secret_data = 3'
# A class of another provider: an empty list, not an error (an error would stop MCM's orphan sweep).
cls=$(printf '{"metadata":{"name":"c","namespace":"n"},"provider":"AWS","providerSpec":{}}' | base64 -w0)
listed=$("$grpcurl" -plaintext -d "{\"machine_class\":\"$cls\"}" "127.0.0.1:$port" mcm.driver.v1.Driver/ListMachines)
[ "$(tr -d ' \n' <<<"$listed")" = "{}" ]
health=$("$grpcurl" -plaintext -d '{"service":"mcm.driver.v1.Driver"}' "127.0.0.1:$port" grpc.health.v1.Health/Check)
grep -q SERVING <<<"$health"
kill -TERM "$pid"
wait "$pid"
echo "grpcurl: 5 passed, 0 failed"
