#!/usr/bin/env bash
# A weft cluster on loopback (docs/CLUSTER.md): nats-server with JetStream
# (store in a temp dir), three `weft serve` nodes joined through it, and
# nginx in front of them (examples/cluster/nginx.conf.in): one port per
# transport, balanced over the nodes. Prints the URLs, then serves until
# Ctrl-C (or, when stdin is not a terminal, runs a one-event check and
# stops). Extra arguments go to every `weft serve`.
#   WEFT=path/to/weft   the weft command (default ./build/cli/weft, built
#                       if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
for b in nats-server nginx; do
  command -v "$b" >/dev/null || PATH=$PATH:/usr/sbin
  command -v "$b" >/dev/null || {
    echo "cluster.sh: $b is missing (scripts/bootstrap.sh installs it)" >&2
    exit 1
  }
done
WEFT=${WEFT:-./build/cli/weft}
if [[ ! -x $WEFT ]]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j "$(nproc)" --target weft-cli
fi

TMP=$(mktemp -d)
PIDS=()
stop_all() {
  # Reverse order: nginx, the nodes, then NATS.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[i]}" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
trap 'stop_all; rm -rf "$TMP"' EXIT
trap 'echo; echo "== stopping the cluster"; exit 0' INT TERM

free_ports() { # N free loopback ports
  /usr/bin/python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}
read -r NATS_PORT NG_GRPC NG_H2 NG_WS NG_TCP <<<"$(free_ports 5)"

nats-server -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$TMP/jetstream" \
  >"$TMP/nats.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT") 2>/dev/null && break
  sleep 0.05
done
NATS=nats://127.0.0.1:$NATS_PORT

NODES=()
for id in a b c; do
  "$WEFT" serve --nats "$NATS" --node-id "$id" --grpc-port 0 --h2-port 0 \
    --ws-port 0 --tcp-port 0 --max-conns-per-ip 100000 -q "$@" \
    >"$TMP/$id.listen" 2>"$TMP/$id.log" &
  PIDS+=($!)
  for _ in $(seq 300); do
    [[ $(grep -c '^listening on' "$TMP/$id.listen" || true) -ge 4 ]] && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || {
      echo "node $id did not start:" >&2
      cat "$TMP/$id.log" >&2
      exit 1
    }
    sleep 0.05
  done
  port() { sed -n "s/^listening on $1:\/\/[^:]*:\([0-9]*\)$/\1/p" "$TMP/$id.listen"; }
  NODES+=("$(port grpc),$(port h2c),$(port ws),$(port tcp)")
  echo "node $id: $(tr '\n' ' ' <"$TMP/$id.listen" | sed 's/listening on //g')"
done

/usr/bin/python3 examples/cluster/render_nginx.py "$TMP/nginx" \
  "$NG_GRPC,$NG_H2,$NG_WS,$NG_TCP" "${NODES[@]}" >"$TMP/nginx.conf"
nginx -p "$TMP/nginx" -c "$TMP/nginx.conf" -e "$TMP/nginx/error.log" \
  -g 'daemon off;' &
PIDS+=($!)
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$NG_TCP") 2>/dev/null && break
  kill -0 "${PIDS[-1]}" 2>/dev/null || {
    echo "nginx did not start ($TMP/nginx.conf)" >&2
    exit 1
  }
  sleep 0.05
done

cat <<EOF
== weft cluster up: NATS $NATS (JetStream store $TMP/jetstream)
   through nginx, balanced over 3 nodes:
     grpc://127.0.0.1:$NG_GRPC
     h2c://127.0.0.1:$NG_H2
     ws://127.0.0.1:$NG_WS
     tcp://127.0.0.1:$NG_TCP
   try: $WEFT subscribe ws://127.0.0.1:$NG_WS demo
        $WEFT publish tcp://127.0.0.1:$NG_TCP demo -d '{"@type":"type.googleapis.com/google.protobuf.StringValue","value":"hi"}'
   logs: $TMP
EOF

if [[ ! -t 0 ]]; then
  "$WEFT" subscribe "ws://127.0.0.1:$NG_WS" demo --max-time 3 >"$TMP/sub" &
  SUB=$!
  sleep 1
  "$WEFT" publish "grpc://127.0.0.1:$NG_GRPC" demo \
    -d '{"@type":"type.googleapis.com/google.protobuf.StringValue","value":"hi"}'
  wait "$SUB" || true
  if grep -q '"hi"' "$TMP/sub"; then
    echo "== check: an event published through grpc:// reached a ws:// subscriber"
    exit 0
  fi
  echo "== check failed: the subscriber got nothing" >&2
  exit 1
fi
echo "== Ctrl-C stops everything"
wait
