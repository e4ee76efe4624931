#!/usr/bin/env bash
# bench/http2: requests per second with h2load (4 connections x 32 streams)
# against a weft unary JSON method, in three server setups (handlers on the
# worker pool with its default size, the default; the pool with 1 worker,
# which shows what the hand-offs between threads cost; and
# weft_http2_opts.inline_handlers, handlers on the loop thread), and, in the
# same run, against nghttpd serving a small
# static file; latency percentiles; memory per connection; and each server
# process's CPU time (user + system, /proc/PID/stat) per request during the
# measured load, which a loaded machine changes much less than req/s.
# Usage: build/bench/http2/run.sh [requests]   (from the build tree)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
N=${1:-100000}
tmp=$(mktemp -d)
wpid=
npid=
trap 'kill $wpid $npid 2>/dev/null || true; rm -rf "$tmp"' EXIT

body='{"text":"bench","payload":"AAECAwQFBgc="}'
printf '%s' "$body" >"$tmp/body.json"
printf '%s' "$body" >"$tmp/static.json"

load() { # url, extra args
  h2load -n "$N" -c 4 -m 32 "$@" 2>&1
}
# A process's CPU time so far, in clock ticks.
ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }
tck=$(getconf CLK_TCK)
cpu_us() { # ticks before, ticks after: microseconds per request
  awk -v a="$1" -v b="$2" -v t="$tck" -v n="$N" \
    'BEGIN {printf "%.2f", (b - a) * 1e6 / t / n}'
}
rps() { awk '/^finished in/ {for(i=1;i<=NF;i++) if($i ~ /req\/s/) print $(i-1)}' | tr -d ','; }
lat() { awk '/^time for request:/ {print "min " $4 " max " $5 " mean " $6 " sd " $7}'; }
weft_load() { # port, extra args
  local p=$1
  shift
  load -d "$tmp/body.json" -H 'content-type: application/json' "$@" \
    "http://127.0.0.1:$p/weft.test.Echo/Unary"
}
# Percentiles from h2load's per-request log (-r is not in 1.52; use
# --log-file, whose third column is the response time in microseconds).
pct() { # port
  weft_load "$1" --log-file="$tmp/log" >/dev/null
  sort -n -k3 "$tmp/log" | awk '{a[NR]=$3} END {
    printf "p50 %.0f us  p90 %.0f us  p99 %.0f us", a[int(NR*0.50)],
      a[int(NR*0.90)], a[int(NR*0.99)]}'
}
start_weft() { # mode (pool|pool1|inline)
  local workers=0
  [ "$1" = pool1 ] && workers=1
  coproc WEFT { exec "$here/weft-h2-bench-server" 0 "$workers" "$1" 2>/dev/null; }
  read -r wport <&"${WEFT[0]}"
  wpid=$WEFT_PID
}
stop_weft() {
  kill "$wpid" 2>/dev/null || true
  wait "$wpid" 2>/dev/null || true
  wpid=
}

declare -A rate latency pcts cpu
for mode in pool pool1 inline; do
  start_weft "$mode"
  weft_load "$wport" >/dev/null # warm-up
  c0=$(ticks "$wpid")
  w=$(weft_load "$wport")
  cpu[$mode]=$(cpu_us "$c0" "$(ticks "$wpid")")
  echo "$w" | grep -E "^requests:|^status codes:" | sed "s/^/weft $mode    /"
  rate[$mode]=$(echo "$w" | rps)
  latency[$mode]=$(echo "$w" | lat)
  pcts[$mode]=$(pct "$wport")
  if [ "$mode" = pool ]; then
    # Memory per idle connection: RSS before and after 200 h2 connections
    # that each made one request and then stay open (-D keeps them).
    rss() { awk '/^VmRSS/ {print $2}' /proc/"$1"/status; }
    before=$(rss "$wpid")
    h2load -c 200 -n 200 -m 1 -D 3 --warm-up-time=0 -d "$tmp/body.json" \
      -H 'content-type: application/json' \
      "http://127.0.0.1:$wport/weft.test.Echo/Unary" >/dev/null 2>&1 &
    hpid=$!
    sleep 2
    during=$(rss "$wpid")
    wait $hpid || true
    mem=$(awk -v b="$before" -v d="$during" 'BEGIN {printf "%.1f", (d-b)/200}')
  fi
  stop_weft
done

# A port the kernel says is free (wport + 1 was sometimes taken: nghttpd
# then failed to start and the run measured nothing).
nport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
nghttpd --no-tls -d "$tmp" "$nport" >"$tmp/nghttpd.log" 2>&1 &
npid=$!
for _ in $(seq 50); do # until it answers, at most 5 s
  curl -s --http2-prior-knowledge -o /dev/null "http://127.0.0.1:$nport/static.json" && break
  sleep 0.1
done
load "http://127.0.0.1:$nport/static.json" >/dev/null # warm-up
c0=$(ticks "$npid")
n=$(load "http://127.0.0.1:$nport/static.json")
ncpu=$(cpu_us "$c0" "$(ticks "$npid")")
nr=$(echo "$n" | rps)

for mode in pool pool1 inline; do
  printf 'weft %-6s unary JSON %10.0f req/s   latency %s\n' "$mode" \
    "${rate[$mode]}" "${latency[$mode]}"
done
printf 'nghttpd static file     %10.0f req/s   latency %s\n' "$nr" "$(echo "$n" | lat)"
for mode in pool pool1 inline; do
  awk -v a="${rate[$mode]}" -v b="$nr" -v m="$mode" \
    'BEGIN {printf "ratio weft %-6s/nghttpd  %.2fx   (target >= 0.5x)\n", m, a/b}'
done
for mode in pool pool1 inline; do
  echo "weft $mode latency ${pcts[$mode]}"
done
for mode in pool pool1 inline; do
  echo "server cpu weft $mode ${cpu[$mode]} us/req"
done
echo "server cpu nghttpd ${ncpu} us/req"
echo "memory: $mem KB per connection (pool mode, 200 connections, RSS delta)"
