#!/usr/bin/env bash
# bench/http2: instructions per unary request on the weft server, counted by
# valgrind's callgrind, which the machine's load does not change (unlike
# CPU time). The server runs under callgrind; h2load sends 2,000 warm-up
# requests, the counters are zeroed, then N requests (4 connections x 32
# streams, the Echo/Unary JSON body of run.sh) are counted and dumped.
# Usage: build/bench/http2/callgrind.sh [inline|pool|pool1] [N] [OUT]
# (from the build tree; default inline, 10000, ./callgrind.out). Prints
# the total and the count per request; `callgrind_annotate OUT.1` gives the
# functions. Pool modes count every thread; their count depends a little
# on how the hand-offs batch, which valgrind's serialized threads change.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=${1:-inline}
N=${2:-10000}
out=${3:-$PWD/callgrind.out}
workers=0
[ "$mode" = pool1 ] && workers=1
tmp=$(mktemp -d)
pid=
trap 'kill -9 $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
printf '%s' '{"text":"bench","payload":"AAECAwQFBgc="}' >"$tmp/body.json"
rm -f "$out" "$out".*
coproc SRV {
  exec valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$here/weft-h2-bench-server" 0 "$workers" "$mode" 2>"$tmp/valgrind.log"
}
read -r port <&"${SRV[0]}"
pid=$SRV_PID
load() {
  h2load -n "$1" -c 4 -m 32 -d "$tmp/body.json" \
    -H 'content-type: application/json' \
    "http://127.0.0.1:$port/weft.test.Echo/Unary" 2>&1
}
load 2000 >/dev/null
callgrind_control -z "$pid" >/dev/null 2>&1
load "$N" | grep -E '^requests:'
callgrind_control -d "$pid" >/dev/null 2>&1
# The server stops on SIGTERM, but not always under valgrind: the counts
# are dumped already.
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=
total=$(callgrind_annotate "$out.1" 2>/dev/null |
  awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "weft $mode: $total instructions, $((total / N)) per request ($out.1)"
