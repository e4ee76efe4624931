#!/usr/bin/env bash
# Installs what is missing, builds the weft command, and runs the main job:
# the AITBC reference node (`weft serve`) on free ports on every transport,
# and a client calling it with `weft call` over gRPC, HTTP/2, WebSocket and
# TCP, plus curl. Then the node keeps serving until Ctrl-C. When stdin is not
# a terminal (CI), the script stops the node after the demo and exits 0 if
# everything worked. Extra arguments go to `weft serve` (e.g. --api-key K).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target weft-cli
WEFT=./build/cli/weft

TMP=$(mktemp -d)
NODE=
stop_node() {
  local rc=0
  if [[ -n "$NODE" ]] && kill -0 "$NODE" 2>/dev/null; then
    kill -TERM "$NODE"
    wait "$NODE" || rc=$?
  fi
  NODE=
  return "$rc"
}
trap 'stop_node || true; rm -rf "$TMP"' EXIT
trap 'echo; echo "== Ctrl-C: stopping the node"; stop_node; exit 0' INT TERM

# Node log lines (one per call) go to stderr; listeners are printed on stdout.
"$WEFT" serve --grpc-port 0 --h2-port 0 --ws-port 0 --tcp-port 0 \
  --block-interval-ms 1000 --job-step-ms 300 "$@" >"$TMP/listen" &
NODE=$!
for _ in $(seq 300); do
  [[ $(grep -c '^listening on' "$TMP/listen" || true) -ge 4 ]] && break
  kill -0 "$NODE" 2>/dev/null || { echo "the node did not start" >&2; exit 1; }
  sleep 0.1
done
url() { sed -n "s/^listening on \($1:\/\/.*\)$/\1/p" "$TMP/listen"; }
GRPC=$(url grpc) H2=$(url h2c) WS=$(url ws) TCP=$(url tcp)
if [[ -z "$GRPC" || -z "$H2" || -z "$WS" || -z "$TCP" ]]; then
  echo "the node did not report all four listeners" >&2
  exit 1
fi
echo "== AITBC node up: $GRPC $H2 $WS $TCP"

# Prints a command, runs it, prints its output (also kept in $OUT).
show() {
  echo
  printf '$'
  for a in "$@"; do
    if [[ $a =~ [^A-Za-z0-9_./:=@-] ]]; then printf " '%s'" "$a"; else printf ' %s' "$a"; fi
  done
  echo
  OUT=$("$@")
  echo "$OUT"
}

show "$WEFT" call "$GRPC" aitbc.v1.Jobs/CreateJob \
  -d '{"payload":{"model":"llama-3-8b","prompt":"hello"},"ttl_seconds":600}'
JOB=$(sed -n 's/.*"job_id":"\([^"]*\)".*/\1/p' <<<"$OUT")
show "$WEFT" call "$H2" aitbc.v1.Jobs/GetJob -d "{\"job_id\":\"$JOB\"}"
show "$WEFT" call "$WS" aitbc.v1.Jobs/Watch -d "{\"job_id\":\"$JOB\"}" --max-time 30
show "$WEFT" call "$TCP" aitbc.v1.Receipts/GetReceipt -d "{\"job_id\":\"$JOB\"}"
H2PORT=${H2##*:}
show curl -sS --http2-prior-knowledge -H 'Content-Type: application/json' \
  -d "{\"job_id\":\"$JOB\"}" "http://127.0.0.1:$H2PORT/aitbc.v1.Jobs/GetJob"
echo

if [[ -t 0 ]]; then
  echo "== the node keeps serving; try e.g."
  echo "   $WEFT call $GRPC aitbc.v1.Blockchain/StreamEvents"
  echo "   $WEFT list $GRPC"
  echo "== Ctrl-C to stop"
  wait "$NODE" || true
  NODE=
else
  echo "== stdin is not a terminal: stopping the node"
  stop_node
  echo "== node stopped cleanly"
fi
