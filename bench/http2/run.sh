#!/usr/bin/env bash
# bench/http2: requests per second with h2load (4 connections x 32 streams)
# against a weft unary JSON method and, in the same run, against nghttpd
# serving a small static file; latency percentiles; memory per connection.
# Usage: build/bench/http2/run.sh [requests]   (from the build tree)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
N=${1:-100000}
tmp=$(mktemp -d)
trap 'kill "${wpid:-}" "${npid:-}" 2>/dev/null || true; rm -rf "$tmp"' EXIT

body='{"text":"bench","payload":"AAECAwQFBgc="}'
printf '%s' "$body" >"$tmp/body.json"
printf '{"text":"bench","payload":"AAECAwQFBgc="}' >"$tmp/static.json"

coproc WEFT { exec "$here/weft-h2-bench-server" 0 2>/dev/null; }
read -r wport <&"${WEFT[0]}"
wpid=$WEFT_PID

nport=$((wport + 1))
nghttpd --no-tls -d "$tmp" "$nport" >/dev/null 2>&1 &
npid=$!
sleep 0.5

load() { # url, extra args
  h2load -n "$N" -c 4 -m 32 "$@" 2>&1
}
rps() { awk '/^finished in/ {for(i=1;i<=NF;i++) if($i ~ /req\/s/) print $(i-1)}' | tr -d ','; }
lat() { awk '/^time for request:/ {print "min " $4 " max " $5 " mean " $6 " sd " $7}'; }

echo "# warm-up"
load -d "$tmp/body.json" -H 'content-type: application/json' \
  "http://127.0.0.1:$wport/weft.test.Echo/Unary" >/dev/null
load "http://127.0.0.1:$nport/static.json" >/dev/null

w=$(load -d "$tmp/body.json" -H 'content-type: application/json' \
  "http://127.0.0.1:$wport/weft.test.Echo/Unary")
n=$(load "http://127.0.0.1:$nport/static.json")
echo "$w" | grep -E "^requests:|^status codes:" | sed 's/^/weft    /'
wr=$(echo "$w" | rps)
nr=$(echo "$n" | rps)
printf 'weft    unary JSON   %10.0f req/s   latency %s\n' "$wr" "$(echo "$w" | lat)"
printf 'nghttpd static file  %10.0f req/s   latency %s\n' "$nr" "$(echo "$n" | lat)"
awk -v a="$wr" -v b="$nr" 'BEGIN {printf "ratio weft/nghttpd     %.2fx   (target >= 0.5x)\n", a/b}'

# Latency percentiles from h2load's per-request log (-r is not in 1.52; use
# --log-file, whose second column is the response time in microseconds).
load -d "$tmp/body.json" -H 'content-type: application/json' \
  --log-file="$tmp/log" "http://127.0.0.1:$wport/weft.test.Echo/Unary" >/dev/null
sort -n -k3 "$tmp/log" | awk '{a[NR]=$3} END {
  printf "weft latency p50 %.0f us  p90 %.0f us  p99 %.0f us\n",
    a[int(NR*0.50)], a[int(NR*0.90)], a[int(NR*0.99)]}'

# Memory per idle connection: RSS before and after 200 h2 connections that
# each made one request and then stay open (h2load --duration keeps them).
rss() { awk '/^VmRSS/ {print $2}' /proc/"$1"/status; }
before=$(rss "$wpid")
h2load -c 200 -n 200 -m 1 -D 3 --warm-up-time=0 -d "$tmp/body.json" \
  -H 'content-type: application/json' \
  "http://127.0.0.1:$wport/weft.test.Echo/Unary" >/dev/null 2>&1 &
hpid=$!
sleep 2
during=$(rss "$wpid")
wait $hpid || true
awk -v b="$before" -v d="$during" 'BEGIN {printf "memory: %.1f KB per connection (200 connections, RSS delta)\n", (d-b)/200}'
