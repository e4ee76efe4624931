#!/usr/bin/env bash
# bench/http1: HTTP/1.1 requests per second with h2load --h1 (64 keep-alive
# connections) against a weft unary JSON method on its HTTP port, and, in
# the same run, against nginx (one worker) serving a static file of the
# same response size; latency percentiles; memory per idle keep-alive
# connection (RSS growth over many connections) for both.
# Usage: build/bench/http1/run.sh [requests] [idle connections]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
N=${1:-100000}
IDLE=${2:-5000}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true # thousands of idle connections
tmp=$(mktemp -d)
wpid=
npid=
trap 'kill $wpid $npid 2>/dev/null || true; rm -rf "$tmp"' EXIT

body='{"text":"bench","payload":"AAECAwQFBgc="}'
printf '%s' "$body" >"$tmp/body.json"
printf '%s' "$body" >"$tmp/static.json" # Echo answers the same bytes

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
load() { h2load --h1 -n "$N" -c 64 "$@" 2>&1; }
rps() { awk '/^finished in/ {for(i=1;i<=NF;i++) if($i ~ /req\/s/) print $(i-1)}' | tr -d ','; }
weft_args=(-d "$tmp/body.json" -H 'content-type: application/json')
# Percentiles from h2load's per-request log (third column: microseconds).
pct() { # extra args...
  load --log-file="$tmp/log" "$@" >/dev/null
  sort -n -k3 "$tmp/log" | awk '{a[NR]=$3} END {
    printf "p50 %.0f us  p90 %.0f us  p99 %.0f us", a[int(NR*0.50)],
      a[int(NR*0.90)], a[int(NR*0.99)]}'
}

coproc WEFT { exec "$here/weft-h1-bench-server" 0 2>/dev/null; }
read -r wport <&"${WEFT[0]}"
wpid=$WEFT_PID
wurl="http://127.0.0.1:$wport/weft.test.Echo/Unary"

nport=$(free_port)
mkdir -p "$tmp/www"
cp "$tmp/static.json" "$tmp/www/static.json"
chmod 755 "$tmp" "$tmp/www" # nginx's worker runs as another user when we are root
chmod 644 "$tmp/www/static.json"
cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path $tmp/cb;
  proxy_temp_path $tmp/px;
  fastcgi_temp_path $tmp/fc;
  uwsgi_temp_path $tmp/uw;
  scgi_temp_path $tmp/sc;
  default_type application/json;
  server {
    listen 127.0.0.1:$nport;
    root $tmp/www;
  }
}
CONF
nginx -p "$tmp" -c "$tmp/nginx.conf" -g 'daemon off;' 2>"$tmp/nginx.err" &
npid=$!
nurl="http://127.0.0.1:$nport/static.json"
for _ in $(seq 50); do # until it answers, at most 5 s
  curl -s -o /dev/null "$nurl" && break
  sleep 0.1
done
wsize=$(curl -s --data-binary @"$tmp/body.json" -H 'content-type: application/json' "$wurl" | wc -c)
nsize=$(curl -s "$nurl" | wc -c)

load "${weft_args[@]}" "$wurl" >/dev/null # warm-up
w=$(load "${weft_args[@]}" "$wurl")
load "$nurl" >/dev/null
n=$(load "$nurl")
echo "$w" | grep -E "^requests:|^status codes:" | sed 's/^/weft  /'
echo "$n" | grep -E "^requests:|^status codes:" | sed 's/^/nginx /'
wr=$(echo "$w" | rps)
nr=$(echo "$n" | rps)
wp=$(pct "${weft_args[@]}" "$wurl")
np=$(pct "$nurl")

# Idle keep-alive connections: each made one request, then waits.
printf 'POST /weft.test.Echo/Unary HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
  "${#body}" "$body" >"$tmp/req.txt"
wmem=$(/usr/bin/python3 "$here/idle_conns.py" "$wport" "$IDLE" "$tmp/req.txt" "$wpid")
printf 'GET /static.json HTTP/1.1\r\nHost: b\r\n\r\n' >"$tmp/nreq.txt"
nworkers=$(pgrep -P "$npid" | tr '\n' ' ')
nmem=$(/usr/bin/python3 "$here/idle_conns.py" "$nport" "$IDLE" "$tmp/nreq.txt" $npid $nworkers)

echo "response body: weft $wsize bytes, nginx $nsize bytes"
printf 'weft unary JSON    %10.0f req/s   %s\n' "$wr" "$wp"
printf 'nginx static file  %10.0f req/s   %s\n' "$nr" "$np"
awk -v a="$wr" -v b="$nr" 'BEGIN {printf "ratio weft/nginx   %.2fx   (target >= 0.7x)\n", a/b}'
echo "memory per idle keep-alive connection ($IDLE connections, RSS growth): weft $wmem bytes, nginx $nmem bytes (target <= 4096)"
