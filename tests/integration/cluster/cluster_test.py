#!/usr/bin/python3
"""weft nodes joined through NATS, alone and behind nginx (docs/CLUSTER.md).

  cluster_test.py WEFT [TEST...]

Starts Debian's nats-server and nginx on free loopback ports, and `weft
serve --nats` nodes; every process is stopped at the end, every wait is
bounded. Exits 77 (CTest SKIP_RETURN_CODE) when nats-server, nginx or its
stream module is missing, or when weft was built without libnats.

Publishes and gRPC subscriptions use python3-grpcio with hand-encoded
weft.v1.PubSub messages (no generated code: the fields are few).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

import grpc

WEFT = None
TMP = None
PROCS = []
SKIP = 77
STRING_VALUE = "type.googleapis.com/google.protobuf.StringValue"
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "examples", "cluster"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "support"))
import ports as reserved_ports  # noqa: E402
import render_nginx  # noqa: E402


# ---- protobuf by hand ----

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def publish_request(topic, value):
    sv = field(1, value.encode())
    anyv = field(1, STRING_VALUE.encode()) + field(2, sv)
    return field(1, topic.encode()) + field(2, anyv)


def parse(buf):
    """{field number: [values]}: bytes for length-delimited, int for varint."""
    out, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i)
            v, i = buf[i:i + n], i + n
        else:
            raise ValueError("unexpected wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def read_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def event_value(ev):
    """(sequence, string value or None for the acknowledgement)."""
    f = parse(ev)
    seq = f.get(3, [0])[0]
    if 2 not in f:
        return seq, None
    anyf = parse(f[2][0])
    sv = parse(anyf.get(2, [b""])[0])
    return seq, sv.get(1, [b""])[0].decode()


# ---- processes ----

def free_ports(n):
    """n loopback ports held for servers this test starts (see
    tests/support/ports.py): wait_port lets go of each once its server
    listens, so no other process can take it in between."""
    return reserved_ports.reserve(n)


def wait_port(port, proc, what, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise AssertionError("%s exited with %d" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            reserved_ports.release(port)
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("%s not listening on %d after %ds" % (what, port,
                                                             timeout))


def start(args, name, **kw):
    log = open(os.path.join(TMP, name + ".log"), "ab")
    p = subprocess.Popen(args, stderr=log, stdin=subprocess.DEVNULL, **kw)
    p.name = name
    PROCS.append(p)
    return p


def stop(p, sig=signal.SIGTERM):
    """Stops p; returns its exit status (negative: killed by a signal)."""
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return "hung on SIGTERM"
    return p.returncode


def start_nats(port, store, monitor=None):
    """monitor: a port for nats-server's HTTP monitoring (jsz)."""
    mon = ["-m", str(monitor)] if monitor else []
    p = start(["nats-server", "-a", "127.0.0.1", "-p", str(port), "-js",
               "-sd", store] + mon, "nats-%d" % port,
              stdout=subprocess.DEVNULL)
    wait_port(port, p, "nats-server")
    return p


class Node:
    def __init__(self, nats_url, node_id, extra=(), nlisten=4):
        self.id = node_id
        self.p = start([WEFT, "serve", "--nats", nats_url, "--node-id",
                        node_id, "--grpc-port", "0", "--h2-port", "0",
                        "--ws-port", "0", "--tcp-port", "0",
                        "--max-conns-per-ip", "10000", "-q"] + list(extra),
                       "node-" + node_id, stdout=subprocess.PIPE)
        self.urls = {}
        end = time.time() + 15
        while len(self.urls) < nlisten:
            line = self.p.stdout.readline().decode()
            if not line:
                raise AssertionError("node %s exited with %s before "
                                     "listening" % (node_id, self.p.wait()))
            if line.startswith("listening on "):
                url = line.split()[2]
                self.urls[url.split(":")[0]] = url
            if time.time() > end:
                raise AssertionError("node %s: no listeners" % node_id)

    def port(self, scheme):
        return int(self.urls[scheme].rsplit(":", 1)[1])

    def grpc_addr(self):
        return "127.0.0.1:%d" % self.port("grpc")


class GrpcSub:
    """A weft.v1.PubSub Subscribe over gRPC, read on a thread."""

    def __init__(self, addr, topic):
        self.ch = grpc.insecure_channel(addr)
        self.topic = topic
        self.events = []  # (sequence, value)
        self.error = None
        self.cv = threading.Condition()
        call = self.ch.unary_stream("/weft.v1.PubSub/Subscribe")
        self.it = call(field(1, topic.encode()), timeout=60)
        self.acked = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()
        with self.cv:
            if not self.cv.wait_for(lambda: self.acked or self.error, 10):
                raise AssertionError("no acknowledgement for " + topic)
        if self.error:
            raise AssertionError("subscribe %s: %s" % (topic, self.error))

    def run(self):
        try:
            for ev in self.it:
                seq, v = event_value(ev)
                with self.cv:
                    if v is None:
                        self.acked = True
                    else:
                        self.events.append((seq, v))
                    self.cv.notify_all()
        except grpc.RpcError as e:
            with self.cv:
                self.error = e
                self.cv.notify_all()

    def values(self):
        with self.cv:
            return [v for _, v in self.events]

    def wait_for(self, pred, timeout=10):
        with self.cv:
            return self.cv.wait_for(lambda: pred(self), timeout)

    def close(self):
        self.it.cancel()
        self.ch.close()


class Publisher:
    def __init__(self, addr):
        self.ch = grpc.insecure_channel(addr)
        self.call = self.ch.unary_unary("/weft.v1.PubSub/Publish")

    def publish(self, topic, value, timeout=5):
        return self.call(publish_request(topic, value), timeout=timeout)

    def close(self):
        self.ch.close()


def sync(pubs, subs, topic, tag):
    """Publishes marker events through every publisher until every
    subscriber has seen one from each: only then is the path through NATS
    known to be complete (a subscription or reconnect settled)."""
    end = time.time() + 15
    k = 0
    while time.time() < end:
        for i, p in enumerate(pubs):
            p.publish(topic, "%s-%d-%d" % (tag, i, k))
        k += 1
        seen = all(all(any(v.startswith("%s-%d-" % (tag, i))
                           for v in s.values()) for i in range(len(pubs)))
                   for s in subs)
        if seen:
            return
        time.sleep(0.05)
    raise AssertionError("sync %s: the subscribers never saw every "
                         "publisher" % tag)


def check_stream(values, sources, n, what):
    """values holds each of sources' n events exactly once, each source's
    in publish order."""
    for src in sources:
        mine = [v for v in values if v.startswith(src + "-")]
        want = ["%s-%d" % (src, i) for i in range(n)]
        if mine != want:
            dup = len(mine) - len(set(mine))
            missing = sorted(set(want) - set(mine))[:5]
            raise AssertionError(
                "%s: events from %s: %d of %d, %d duplicates, missing %s, "
                "order kept: %s" % (what, src, len(mine), n, dup, missing,
                                    mine == sorted(mine, key=lambda v: int(
                                        v.rsplit("-", 1)[1]))))


def only_real(values, prefixes):
    return [v for v in values if v.split("-")[0] in prefixes]


# ---- tests ----

def test_fanout():
    """A subscriber on B gets every event published on A and C exactly once,
    in each publisher's order; a subscriber on the publishing node gets its
    own node's events once too (no echo); a topic with characters NATS
    subjects refuse works."""
    nport, = free_ports(1)
    start_nats(nport, os.path.join(TMP, "js-fanout"))
    url = "nats://127.0.0.1:%d" % nport
    a, b, c = Node(url, "a"), Node(url, "b"), Node(url, "c")
    topics = ["jobs.updates", "odd topic/*.>%\u00e9"]
    subs = {t: [GrpcSub(b.grpc_addr(), t), GrpcSub(a.grpc_addr(), t)]
            for t in topics}
    pa, pc = Publisher(a.grpc_addr()), Publisher(c.grpc_addr())
    for t in topics:
        sync([pa, pc], subs[t], t, "sync")
    n = 200
    for i in range(n):
        for t in topics:
            pa.publish(t, "A-%d" % i)
            pc.publish(t, "C-%d" % i)
    for t in topics:
        for s in subs[t]:
            s.wait_for(lambda s: len(only_real(s.values(), ("A", "C")))
                       >= 2 * n)
            vals = only_real(s.values(), ("A", "C"))
            check_stream(vals, ["A", "C"], n, "topic %r" % t)
            if len(vals) != 2 * n:
                raise AssertionError("topic %r: %d events, want %d" %
                                     (t, len(vals), 2 * n))
            seqs = [q for q, _ in s.events]
            if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
                raise AssertionError("topic %r: sequence numbers not "
                                     "consecutive" % t)
            s.close()
    pa.close()
    pc.close()
    print("fanout: 2 topics x 2 subscribers got %d events each, once, in "
          "order" % (2 * n))


def test_nats_down_at_start():
    """NATS unreachable when a node starts, or without the JetStream that
    durable topics need: a clear error, exit 1."""
    nport, = free_ports(1)
    p = subprocess.run([WEFT, "serve", "--nats", "nats://127.0.0.1:%d" % nport,
                        "--grpc-port", "-1", "--h2-port", "-1", "--ws-port",
                        "-1", "--tcp-port", "0"], capture_output=True,
                       timeout=20, stdin=subprocess.DEVNULL)
    err = p.stderr.decode()
    if p.returncode != 1:
        raise AssertionError("exit %d, want 1; stderr: %s" % (p.returncode,
                                                              err))
    want = "nats://127.0.0.1:%d" % nport
    if want not in err or "cannot connect" not in err:
        raise AssertionError("stderr does not say which NATS server failed "
                             "and how: %s" % err)
    print("nats down at start: exit 1, %r" % err.strip().splitlines()[-1])
    # Durable topics on a NATS server without JetStream: refused at start,
    # not at the first durable publish.
    nats = start(["nats-server", "-a", "127.0.0.1", "-p", str(nport)],
                 "nats-nojs", stdout=subprocess.DEVNULL)
    wait_port(nport, nats, "nats-server")
    p = subprocess.run([WEFT, "serve", "--nats", "nats://127.0.0.1:%d" % nport,
                        "--durable-topic", "orders.", "--grpc-port", "-1",
                        "--h2-port", "-1", "--ws-port", "-1", "--tcp-port",
                        "0"], capture_output=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    err = p.stderr.decode()
    if p.returncode != 1 or "JetStream" not in err:
        raise AssertionError("durable topics without JetStream: exit %d, "
                             "stderr: %s" % (p.returncode, err))


def test_nats_restart():
    """NATS goes away during traffic: Publish and Subscribe answer
    UNAVAILABLE; NATS comes back on the same port: the nodes reconnect, the
    open subscription is restored, and events flow again exactly once."""
    nport, = free_ports(1)
    store = os.path.join(TMP, "js-restart")
    nats = start_nats(nport, store)
    url = "nats://127.0.0.1:%d" % nport
    a, b = Node(url, "ra"), Node(url, "rb")
    sub = GrpcSub(b.grpc_addr(), "restart")
    pa = Publisher(a.grpc_addr())
    sync([pa], [sub], "restart", "sync1")
    for i in range(20):
        pa.publish("restart", "P-%d" % i)
    # Core NATS delivers at most once: wait until these are through
    # before pulling the server away (durable topics are JetStream's job).
    sub.wait_for(lambda s: len(only_real(s.values(), ("P",))) >= 20)
    stop(nats, signal.SIGKILL)
    # The nodes notice the lost connection at once (the socket closes).
    deadline = time.time() + 10
    code = None
    while time.time() < deadline:
        try:
            pa.publish("restart", "lost")
        except grpc.RpcError as e:
            code = e.code()
            if code == grpc.StatusCode.UNAVAILABLE:
                break
        time.sleep(0.05)
    if code != grpc.StatusCode.UNAVAILABLE:
        raise AssertionError("publish with NATS down: %s, want UNAVAILABLE"
                             % code)
    try:
        s2 = GrpcSub(b.grpc_addr(), "other")
        s2.close()
        raise AssertionError("subscribe with NATS down succeeded")
    except AssertionError as e:
        if "UNAVAILABLE" not in str(e):
            raise
    nats = start_nats(nport, store)
    deadline = time.time() + 15
    while True:
        try:
            pa.publish("restart", "probe")
            break
        except grpc.RpcError as e:
            if time.time() > deadline:
                raise AssertionError("node a never reconnected: %s" % e)
            time.sleep(0.05)
    # The subscription opened before the outage, on the other node, is
    # served again (libnats re-sends its SUB on the new connection).
    sync([pa], [sub], "restart", "sync2")
    for i in range(20, 60):
        pa.publish("restart", "P-%d" % i)
    sub.wait_for(lambda s: len(only_real(s.values(), ("P",))) >= 60)
    vals = only_real(sub.values(), ("P",))
    check_stream(vals, ["P"], 60, "after the NATS restart")
    if sub.error:
        raise AssertionError("the subscription ended: %s" % sub.error)
    sub.close()
    pa.close()
    print("nats restart: UNAVAILABLE while down, reconnected, 60 events once")


def test_nginx():
    """Behind nginx: WebSocket subscribers (weft subscribe ws://nginx, which
    nginx spreads over the nodes) get every event published through nginx
    over gRPC (grpc_pass), tcp:// (stream {}) and h2c:// (HTTP/2
    proxying), once each, in order."""
    nport, g, h, w, t = free_ports(5)
    start_nats(nport, os.path.join(TMP, "js-nginx"))
    url = "nats://127.0.0.1:%d" % nport
    nodes = [Node(url, i) for i in ("na", "nb", "nc")]
    prefix = os.path.join(TMP, "nginx")
    conf = render_nginx.render(prefix, [g, h, w, t],
                               [[n.port(s) for s in ("grpc", "h2c", "ws",
                                                     "tcp")]
                                for n in nodes])
    cpath = os.path.join(TMP, "nginx.conf")
    with open(cpath, "w") as f:
        f.write(conf)
    ng = start(["nginx", "-p", prefix, "-c", cpath, "-e",
                os.path.join(prefix, "error.log"), "-g", "daemon off;"],
               "nginx", stdout=subprocess.DEVNULL)
    for port in (g, h, w, t):
        wait_port(port, ng, "nginx")
    topic = "aitbc.events"
    subs = []
    for i in range(3):
        out = open(os.path.join(TMP, "wssub%d.out" % i), "w+")
        p = start([WEFT, "subscribe", "ws://127.0.0.1:%d" % w, topic,
                   "--max-time", "40", "--no-reconnect"], "wssub%d" % i,
                  stdout=out)
        subs.append((p, out))

    class FileSub:
        def __init__(self, out):
            self.out = out

        def values(self):
            self.out.seek(0)
            return [line.strip().strip('"') for line in self.out
                    if line.strip()]

    fsubs = [FileSub(o) for _, o in subs]
    pg = Publisher("127.0.0.1:%d" % g)
    sync([pg], fsubs, topic, "sync")
    n = 60
    for i in range(n):
        pg.publish(topic, "G-%d" % i)
    for scheme, port, tag in (("tcp", t, "T"), ("h2c", h, "H")):
        for i in range(3):
            r = subprocess.run(
                [WEFT, "publish", "%s://127.0.0.1:%d" % (scheme, port),
                 topic, "-d", '{"@type":"%s","value":"%s-%d"}' %
                 (STRING_VALUE, tag, i)], capture_output=True, timeout=20)
            if r.returncode != 0:
                raise AssertionError("publish through nginx %s: exit %d: %s"
                                     % (scheme, r.returncode,
                                        r.stderr.decode()))
    end = time.time() + 15
    while time.time() < end:
        if all(len(only_real(s.values(), ("G", "T", "H"))) >= n + 6
               for s in fsubs):
            break
        time.sleep(0.05)
    for i, s in enumerate(fsubs):
        vals = only_real(s.values(), ("G", "T", "H"))
        check_stream(vals, ["G"], n, "ws subscriber %d" % i)
        check_stream(vals, ["T", "H"], 3, "ws subscriber %d" % i)
    for p, _ in subs:
        stop(p)
    pg.close()
    print("nginx: 3 ws subscribers over 3 nodes got %d events once, in "
          "order (published over grpc, tcp and h2c through nginx)" % (n + 6))


class ResumingSub:
    """A durable-topic subscriber that keeps its cursor: whenever its stream
    ends (its node died), it subscribes again, through the same address
    (nginx, which picks a live node), after the last sequence it saw, or,
    before its first event, after the sequence its acknowledgement gave."""

    def __init__(self, addr, topic):
        self.addr, self.topic = addr, topic
        self.events = []  # (sequence, value), in arrival order
        self.resumes = 0
        self.stop = False
        self.acked = threading.Event()
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        ch = grpc.insecure_channel(self.addr)
        call = ch.unary_stream("/weft.v1.PubSub/Subscribe")
        cursor = None  # after the first acknowledgement: where to resume
        while not self.stop:
            req = field(1, self.topic.encode())
            with self.lock:
                if self.events:
                    cursor = self.events[-1][0]
            if cursor is not None:
                req += varint(2 << 3) + varint(cursor)  # after_sequence
            it = call(req, timeout=60)
            try:
                for ev in it:
                    seq, v = event_value(ev)
                    if v is None:
                        # The acknowledgement's sequence: where this
                        # subscription starts, the cursor if it must
                        # resume before its first event.
                        if cursor is None:
                            cursor = seq
                        self.acked.set()
                        continue
                    with self.lock:
                        self.events.append((seq, v))
                    if self.stop:
                        break
            except grpc.RpcError:
                pass
            it.cancel()
            if not self.stop:
                self.resumes += 1
                time.sleep(0.05)
        ch.close()

    def values(self):
        with self.lock:
            return [v for _, v in self.events]


NSUBS = 100  # gRPC subscribers of test_durable


def test_durable():
    """Durable topics through nginx: a node is killed (-9) while
    subscribers stream from it; they resume on another node from their
    cursor, and each ends with every published event, none twice."""
    nport, g, h, w, t = free_ports(5)
    start_nats(nport, os.path.join(TMP, "js-durable"))
    url = "nats://127.0.0.1:%d" % nport
    nodes = [Node(url, i, ["--durable-topic", "orders."])
             for i in ("da", "db", "dc")]
    prefix = os.path.join(TMP, "nginx-d")
    conf = render_nginx.render(prefix, [g, h, w, t],
                               [[n.port(s) for s in ("grpc", "h2c", "ws",
                                                     "tcp")]
                                for n in nodes])
    cpath = os.path.join(TMP, "nginx-d.conf")
    with open(cpath, "w") as f:
        f.write(conf)
    ng = start(["nginx", "-p", prefix, "-c", cpath, "-e",
                os.path.join(prefix, "error.log"), "-g", "daemon off;"],
               "nginx-d", stdout=subprocess.DEVNULL)
    wait_port(g, ng, "nginx")
    wait_port(t, ng, "nginx")
    topic = "orders.eu"
    # nginx spreads these over the three nodes (round robin per stream).
    subs = [ResumingSub("127.0.0.1:%d" % g, topic) for _ in range(NSUBS)]
    end = time.time() + 30  # one deadline for all: a loaded machine is slow
    for s in subs:
        if not s.acked.wait(max(0.1, end - time.time())):
            raise AssertionError("%d of %d durable subscriptions "
                                 "acknowledged in 30 s" %
                                 (sum(x.acked.is_set() for x in subs), NSUBS))
    # And weft's own client: `weft subscribe` through nginx's tcp:// port
    # (one connection per node, round robin), which reconnects and
    # resubscribes after its last sequence by itself.
    clis = []
    for i in range(3):
        out = open(os.path.join(TMP, "dsub%d.out" % i), "w+")
        # --after 0: every stored event, however late it subscribes.
        clis.append((start([WEFT, "subscribe", "tcp://127.0.0.1:%d" % t,
                            topic, "--max-time", "60", "--after", "0"],
                           "dsub%d" % i, stdout=out), out))
    # Publish to a node that stays up (a publish in flight to the killed
    # node could not be answered, and retrying it would store it twice).
    pub = Publisher(nodes[0].grpc_addr())
    published = []
    victim = nodes[2]
    n = 300
    for i in range(n):
        r = parse(pub.publish(topic, "E-%d" % i))
        if r.get(2, [0])[0] != i + 1:
            raise AssertionError("publish %d: sequence %s, want %d" %
                                 (i, r.get(2), i + 1))
        published.append("E-%d" % i)
        if i == n // 3:
            victim.p.send_signal(signal.SIGKILL)
            victim.p.wait()
    end = time.time() + 40
    while time.time() < end:
        if all(len(s.values()) >= n for s in subs):
            break
        time.sleep(0.1)

    def cli_values(out):
        out.seek(0)
        return [line.strip().strip('"') for line in out if line.strip()]

    while time.time() < end:
        if all(len(cli_values(o)) >= n for _, o in clis):
            break
        time.sleep(0.05)
    for i, (p, o) in enumerate(clis):
        vals = cli_values(o)
        if vals != published:
            raise AssertionError(
                "weft subscribe %d: %d events, %d distinct, in order: %s; "
                "missing %s" % (i, len(vals), len(set(vals)),
                                vals == sorted(vals, key=lambda v: int(v[2:])),
                                sorted(set(published) - set(vals),
                                       key=lambda v: int(v[2:]))[:5]))
        stop(p)
    # nginx's stream round robin put one of them on the killed node.
    cli_resumed = 0
    for i in range(3):
        with open(os.path.join(TMP, "dsub%d.log" % i)) as f:
            cli_resumed += "subscribed to %s again" % topic in f.read()
    if not cli_resumed:
        raise AssertionError("no weft subscribe had to resume: the test "
                             "proved nothing for weft's client")
    for s in subs:
        s.stop = True
    resumed = sum(s.resumes for s in subs)
    for i, s in enumerate(subs):
        vals = s.values()
        seqs = [q for q, _ in s.events]
        if len(vals) != len(set(vals)):
            raise AssertionError("subscriber %d got duplicates" % i)
        if set(vals) != set(published):
            raise AssertionError("subscriber %d: %d of %d events, missing "
                                 "%s" % (i, len(set(vals)), n,
                                         sorted(set(published) - set(vals),
                                                key=lambda v: int(v[2:]))[:5]))
        if seqs != list(range(1, n + 1)):
            raise AssertionError("subscriber %d: sequences out of order" % i)
    if resumed == 0:
        raise AssertionError("no subscriber was on the killed node: the "
                             "test proved nothing")
    pub.close()
    print("durable: %d gRPC and 3 weft-subscribe subscribers via nginx, node "
          "killed mid-stream, %d + %d resumed, each got all %d events once, "
          "in order" % (NSUBS, resumed, cli_resumed, n))


def test_durable_nats_restart():
    """Durable topics across a NATS restart: nats-server is killed (-9)
    while events are published and streamed, and started again on its
    store. Durable subscribers on both nodes end with every stored event
    exactly once, in sequence order: every acknowledged publish at the
    sequence its PubAck gave, and nothing else but the publishes whose
    answer the outage swallowed (stored or not, the same for everyone)."""
    nport, = free_ports(1)
    store = os.path.join(TMP, "js-drestart")
    nats = start_nats(nport, store)
    url = "nats://127.0.0.1:%d" % nport
    nodes = [Node(url, i, ["--durable-topic", "dr."]) for i in ("xa", "xb")]
    topic = "dr.t"
    subs = [ResumingSub(n.grpc_addr(), topic) for n in nodes
            for _ in range(3)]
    end = time.time() + 15
    for sub in subs:
        if not sub.acked.wait(max(0.1, end - time.time())):
            raise AssertionError("a durable subscription was never "
                                 "acknowledged")
    pub = Publisher(nodes[0].grpc_addr())
    acked = {}  # value -> stream sequence from its PubAck
    failed = i = 0
    down_at = None
    end = time.time() + 30
    while len(acked) < 150 and time.time() < end:
        v = "E-%d" % i
        i += 1
        try:
            acked[v] = parse(pub.publish(topic, v, timeout=3)).get(2, [0])[0]
        except grpc.RpcError:
            failed += 1  # stored or not: the outage ate the answer
            time.sleep(0.05)
        if len(acked) == 50 and down_at is None:
            stop(nats, signal.SIGKILL)
            down_at = time.time()
        if down_at and nats.poll() is not None and time.time() > down_at + .5:
            nats = start_nats(nport, store)
    if len(acked) < 150:
        raise AssertionError("publishing never recovered after the NATS "
                             "restart: %d acknowledged, %d failed" %
                             (len(acked), failed))
    # One more, once everything is back: its sequence is the stream's end.
    last = parse(pub.publish(topic, "END")).get(2, [0])[0]
    end = time.time() + 20
    while time.time() < end:
        if all(s.events and s.events[-1][0] >= last for s in subs):
            break
        time.sleep(0.05)
    for s in subs:
        s.stop = True
    ref = None
    for k, s in enumerate(subs):
        with s.lock:
            evs = list(s.events)
        seqs = [q for q, _ in evs]
        if seqs != list(range(1, last + 1)):
            dup = len(seqs) - len(set(seqs))
            raise AssertionError(
                "subscriber %d: %d events, %d duplicates, sequences 1..%d "
                "wanted, missing %s" % (k, len(seqs), dup, last,
                                        sorted(set(range(1, last + 1)) -
                                               set(seqs))[:5]))
        vals = [v for _, v in evs]
        for v, q in acked.items():
            if vals[q - 1] != v:
                raise AssertionError("subscriber %d: sequence %d is %r, its "
                                     "PubAck said %r" % (k, q, vals[q - 1], v))
        if ref is None:
            ref = vals
        elif vals != ref:
            raise AssertionError("subscribers %d and 0 saw different streams"
                                 % k)
    resumed = sum(s.resumes for s in subs)
    pub.close()
    print("durable across a NATS restart: 6 subscribers on 2 nodes, %d "
          "events stored (%d acknowledged, %d publishes failed during the "
          "outage), %d resubscribes, each got all once, in order" %
          (last, len(acked), failed, resumed))


def stream_consumers(monitor, stream):
    """Consumers of a JetStream stream, from nats-server's monitoring."""
    url = ("http://127.0.0.1:%d/jsz?streams=true&consumers=true" % monitor)
    # No proxy: an http_proxy in the environment must not take loopback
    # traffic elsewhere.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as r:
        d = json.load(r)
    for a in d.get("account_details") or []:
        for st in a.get("stream_detail") or []:
            if st.get("name") == stream:
                return len(st.get("consumer_detail") or [])
    return 0


def test_durable_ack():
    """A durable subscription's acknowledgement carries the sequence it
    starts after: subscribing again from it, before any event arrived,
    loses nothing published in between (and a plain topic's says 0)."""
    nport, mport = free_ports(2)
    start_nats(nport, os.path.join(TMP, "js-ack"), mport)
    node = Node("nats://127.0.0.1:%d" % nport, "ka",
                ["--durable-topic", "orders."])
    topic = "orders.ack"
    pub = Publisher(node.grpc_addr())
    for i in range(5):
        pub.publish(topic, "B-%d" % i)
    ch = grpc.insecure_channel(node.grpc_addr())
    call = ch.unary_stream("/weft.v1.PubSub/Subscribe")
    it = call(field(1, topic.encode()), timeout=10)
    seq, v = event_value(next(it))
    if v is not None or seq != 5:
        raise AssertionError("acknowledgement: sequence %d, value %r; want "
                             "5 and none" % (seq, v))
    it.cancel()
    for i in range(3):  # while the subscriber is away
        pub.publish(topic, "A-%d" % i)
    it = call(field(1, topic.encode()) + varint(2 << 3) + varint(seq),
              timeout=10)
    got = [event_value(next(it)) for _ in range(4)]
    it.cancel()
    # With a cursor of its own the acknowledgement says 0, as it always did.
    want = [(0, None), (6, "A-0"), (7, "A-1"), (8, "A-2")]
    if got != want:
        raise AssertionError("resumed from the acknowledgement: %r, want %r"
                             % (got, want))
    it = call(field(1, b"plain.topic"), timeout=10)
    seq, v = event_value(next(it))
    it.cancel()
    if v is not None or seq != 0:
        raise AssertionError("plain topic's acknowledgement: sequence %d" %
                             seq)
    ch.close()
    # weft's client (`weft subscribe`, no --after) loses its node before
    # its first event, on a topic whose stream is still empty (its
    # acknowledgement says 0): it resumes from there on the node that
    # comes back, so what was published meanwhile (through another node)
    # arrives.
    port = node.port("tcp")
    topic = "orders.fresh"
    out = open(os.path.join(TMP, "acksub.out"), "w+")
    cli = start([WEFT, "subscribe", "tcp://127.0.0.1:%d" % port, topic,
                 "--max-time", "30"], "acksub", stdout=out)
    # Subscribed once its JetStream consumer exists (made right after the
    # acknowledgement was queued); then a moment for that to arrive.
    end = time.time() + 15
    while stream_consumers(mport, "WEFT_orders_2Efresh") < 1:
        if time.time() > end or cli.poll() is not None:
            raise AssertionError("weft subscribe never subscribed")
        time.sleep(0.05)
    time.sleep(0.3)
    other = Node("nats://127.0.0.1:%d" % nport, "kb",
                 ["--durable-topic", "orders."])
    stop(node.p, signal.SIGKILL)
    pub.close()
    pub = Publisher(other.grpc_addr())
    for i in range(3):
        pub.publish(topic, "C-%d" % i)
    Node("nats://127.0.0.1:%d" % nport, "ka2",
         ["--durable-topic", "orders.", "--tcp-port", str(port)])
    end = time.time() + 20
    vals = []
    while time.time() < end:
        out.seek(0)
        vals = [ln.strip().strip('"') for ln in out if ln.strip()]
        if len(vals) >= 3:
            break
        time.sleep(0.05)
    time.sleep(0.2)  # nothing more may follow
    out.seek(0)
    vals = [ln.strip().strip('"') for ln in out if ln.strip()]
    stop(cli)
    if vals != ["C-0", "C-1", "C-2"]:
        raise AssertionError("weft subscribe resumed before its first "
                             "event: %r, want C-0..C-2" % vals)
    pub.close()
    print("durable ack: starts after 5; resuming from it gave 6..8; weft "
          "subscribe resumed from an empty stream's start on a restarted "
          "node")


class MbService:
    """An MB service over TCP (4-byte big-endian length framing) that
    request-subscribes to topic and answers each request with
    {"echo": <payload>, "node": node} (or never, with answer=False)."""

    def __init__(self, port, topic, node, answer=True):
        self.s = socket.create_connection(("127.0.0.1", port), 5)
        self.s.settimeout(None)
        self.topic, self.node, self.answer = topic, node, answer
        self.served = 0
        self.recv()  # publish:system.initialize
        self.send("request:system.topic.subscribe:1.0.0:"
                  "00000000-0000-4000-8000-000000000001",
                  '{"action":"request","topic":"%s"}' % topic)
        r = self.recv()
        if '"success"' not in r:
            raise AssertionError("MB subscribe: %r" % r)
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def send(self, header, payload):
        m = (header + "\n" + payload).encode()
        self.s.sendall(len(m).to_bytes(4, "big") + m)

    def recv(self):
        n = int.from_bytes(self._exact(4), "big")
        return self._exact(n).decode()

    def _exact(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise EOFError
            b += c
        return b

    def run(self):
        try:
            while True:
                m = self.recv()
                head, _, payload = m.partition("\n")
                f = head.split(":")
                if f[0] == "request" and f[1] == self.topic:
                    self.served += 1
                    if self.answer:
                        self.send("response:%s:%s:%s" % (f[1], f[2], f[3]),
                                  '{"echo":%s,"node":"%s"}' % (payload,
                                                               self.node))
        except (EOFError, OSError):
            pass

    def close(self):
        try:
            self.s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.s.close()


def mb_call(url, topic, data, timeout_ms=None):
    """weft call on an MB URL: exit 0, or 10 + the nearest gRPC code of the
    MB error (NO_ROUTE_FOUND 24, TIMEOUT 14)."""
    args = [WEFT, "call", url, topic, "-d", data]
    if timeout_ms:
        args += ["--timeout", str(timeout_ms)]
    r = subprocess.run(args, capture_output=True, timeout=20)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_mb():
    """MB broker across nodes: a request on node A (over TCP and over
    WebSocket) to a topic only a service on node B serves goes through
    NATS and back; NO_ROUTE_FOUND when no node serves it (and once the
    service left); TIMEOUT when the remote service does not answer."""
    nport, = free_ports(1)
    start_nats(nport, os.path.join(TMP, "js-mb"))
    url = "nats://127.0.0.1:%d" % nport
    a = Node(url, "ma", ["--mb-port", "0"], 5)
    b = Node(url, "mb", ["--mb-port", "0"], 5)
    svc = MbService(b.port("mb"), "svc.echo", "mb")
    slow = MbService(b.port("mb"), "svc.slow", "mb", answer=False)
    a_tcp = "mb://127.0.0.1:%d" % a.port("mb")
    a_ws = "mb+ws://127.0.0.1:%d" % a.port("ws")
    # The route appears once NATS has node B's subscription: moments.
    end = time.time() + 10
    while True:
        rc, out, err = mb_call(a_tcp, "svc.echo", '{"x":1}')
        if rc == 0 or time.time() > end:
            break
        time.sleep(0.1)
    if rc != 0 or '"node":"mb"' not in out or '"x":1' not in out:
        raise AssertionError("request over TCP on A: exit %d, %s %s" %
                             (rc, out, err))
    rc, out, err = mb_call(a_ws, "svc.echo", '{"x":2}')
    if rc != 0 or '"node":"mb"' not in out or '"x":2' not in out:
        raise AssertionError("request over WebSocket on A: exit %d, %s %s" %
                             (rc, out, err))
    for via in (a_tcp, a_ws):
        rc, out, err = mb_call(via, "svc.none", "{}")
        if rc != 24 or "NO_ROUTE_FOUND" not in err + out:
            raise AssertionError("no node serves svc.none (%s): exit %d, %s "
                                 "%s" % (via, rc, out, err))
    rc, out, err = mb_call(a_tcp, "svc.slow", "{}", 500)
    if rc != 14 or "TIMEOUT" not in err + out:
        raise AssertionError("remote service silent: exit %d, %s %s" %
                             (rc, out, err))
    served = svc.served
    svc.close()
    end = time.time() + 10
    while True:
        rc, out, err = mb_call(a_tcp, "svc.echo", "{}")
        if rc == 24 or time.time() > end:
            break
        time.sleep(0.1)
    if rc != 24 or "NO_ROUTE_FOUND" not in err + out:
        raise AssertionError("after the service left: exit %d, %s %s" %
                             (rc, out, err))
    slow.close()
    print("mb: requests on node A served on node B over TCP and WebSocket "
          "(%d), NO_ROUTE_FOUND and TIMEOUT as on one node" % served)


class MbConn:
    """A bare MB client over TCP: publishes, and collects the publishes of
    the topics it subscribes to (on a thread)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), 5)
        self.s.settimeout(10)
        self.got = []  # (copy id, payload) of publishes
        self.replies = {}  # request id -> (header, payload)
        self.cv = threading.Condition()
        MbService.recv(self)  # publish:system.initialize
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    send = MbService.send
    recv = MbService.recv
    _exact = MbService._exact
    close = MbService.close

    def run(self):
        try:
            while True:
                head, _, payload = self.recv().partition("\n")
                f = head.split(":")
                with self.cv:
                    if f[0] == "publish":
                        self.got.append((f[3], payload))
                    elif f[0] == "response":
                        self.replies[f[3]] = (head, payload)
                    self.cv.notify_all()
        except (EOFError, OSError):
            pass

    def call(self, action, topic, payload):
        rid = str(uuid.uuid4())
        self.send("%s:%s:1.0.0:%s" % (action, topic, rid), payload)
        with self.cv:
            self.cv.wait_for(lambda: rid in self.replies, 10)
            return self.replies.get(rid, ("", ""))[1]

    def subscribe(self, topic, action="publish"):
        r = self.call("request", "system.topic.subscribe",
                      '{"action":"%s","topic":"%s"}' % (action, topic))
        if '"success"' not in r:
            raise AssertionError("MB subscribe %s: %r" % (topic, r))


def test_mb_publish():
    """MB publishes across nodes: subscribers on three nodes get every
    publish made on one of them, once, in order, under one copy id; a
    publish with no local subscriber is acknowledged by a node that has
    one, and is NO_ROUTE_FOUND once no node has any."""
    nport, = free_ports(1)
    start_nats(nport, os.path.join(TMP, "js-mbp"))
    url = "nats://127.0.0.1:%d" % nport
    nodes = [Node(url, i, ["--mb-port", "0"], 5) for i in ("pa", "pb", "pc")]
    subs = [MbConn(n.port("mb")) for n in nodes]
    for c in subs:
        c.subscribe("news.eu")
    pub = MbConn(nodes[0].port("mb"))
    # Other nodes see a new subscription once NATS has read it: moments.
    end = time.time() + 10
    k = 0
    while time.time() < end:
        pub.call("publish", "news.eu", '{"warmup":%d}' % k)
        k += 1
        time.sleep(0.05)
        with subs[2].cv:
            if subs[2].got and subs[1].got:
                break
    marks = [len(c.got) for c in subs]
    n = 50
    for i in range(n):
        r = pub.call("publish", "news.eu", '{"n":%d}' % i)
        if '"success"' not in r:
            raise AssertionError("publish %d on A: %r" % (i, r))
    end = time.time() + 10
    while time.time() < end and any(len(c.got) < m + n for c, m in
                                    zip(subs, marks)):
        time.sleep(0.05)
    copies = None
    for c, m, node in zip(subs, marks, nodes):
        with c.cv:
            got = [x for x in c.got if '"warmup"' not in x[1]]
        want = ['{"n":%d}' % i for i in range(n)]
        if [p for _, p in got] != want:
            raise AssertionError("subscriber on %s: %d of %d, in order: %s" %
                                 (node.id, len(got), n,
                                  [p for _, p in got][:5]))
        ids = [i for i, _ in got]
        if copies is None:
            copies = ids
        elif ids != copies:
            raise AssertionError("copy ids differ between nodes")
    # No subscriber on A any more: B and C still have one.
    subs[0].close()
    end = time.time() + 10
    while True:
        r = pub.call("publish", "news.eu", '{"late":1}')
        if '"success"' in r or time.time() > end:
            break
    if '"success"' not in r:
        raise AssertionError("publish on A, subscribers on B and C only: %r"
                             % r)
    end = time.time() + 10
    while time.time() < end and not all(
            any('"late"' in p for _, p in c.got) for c in subs[1:]):
        time.sleep(0.05)
    if not all(any('"late"' in p for _, p in c.got) for c in subs[1:]):
        raise AssertionError("B and C did not get the publish made on A")
    subs[1].close()
    subs[2].close()
    end = time.time() + 10
    while True:
        r = pub.call("publish", "news.eu", "{}")
        if "NO_ROUTE_FOUND" in r or time.time() > end:
            break
        time.sleep(0.1)
    if "NO_ROUTE_FOUND" not in r:
        raise AssertionError("no subscriber on any node: %r" % r)
    pub.close()
    print("mb publish: %d publishes on A reached subscribers on A, B and C "
          "once, in order, same copy ids; acknowledged by another node; "
          "NO_ROUTE_FOUND once nobody listens" % n)


def test_mb_lists():
    """MB system lists across nodes: a service on node B (its name, its
    subscriptions) shows in system.service.list, system.topic.list and
    system.service.subscriptions asked on node A, and leaves them when it
    disconnects and when node B stops."""
    import json
    nport, = free_ports(1)
    start_nats(nport, os.path.join(TMP, "js-mbl"))
    url = "nats://127.0.0.1:%d" % nport
    a = Node(url, "la", ["--mb-port", "0"], 5)
    b = Node(url, "lb", ["--mb-port", "0"], 5)
    svc = MbConn(b.port("mb"))
    r = svc.call("request", "system.service.register",
                 '{"name":"svc-b","description":"on node b"}')
    if '"success"' not in r:
        raise AssertionError("register on B: %r" % r)
    svc.subscribe("svc.echo", "request")
    svc.subscribe("news.b")
    cli = MbConn(a.port("mb"))

    def ask(topic, payload="{}"):
        r = cli.call("request", topic, payload)
        try:
            return json.loads(r)
        except ValueError:
            raise AssertionError("%s on A: %r" % (topic, r))

    def b_service():
        return [x for x in ask("system.service.list").get("services", [])
                if x.get("name") == "svc-b"]
    end = time.time() + 10
    while not b_service() and time.time() < end:
        time.sleep(0.1)
    found = b_service()
    if len(found) != 1 or found[0].get("description") != "on node b":
        raise AssertionError("system.service.list on A: %r" % found)
    sid = found[0]["id"]
    topics = ask("system.topic.list").get("topics", [])
    want = [{"action": "request", "topic": "svc.echo",
             "subscribers": [{"serviceId": sid, "priority": 0}]},
            {"action": "publish", "topic": "news.b",
             "subscribers": [{"serviceId": sid}]}]
    for w in want:
        if w not in topics:
            raise AssertionError("system.topic.list on A lacks %r: %r" %
                                 (w, topics))
    subs = ask("system.service.subscriptions",
               '{"serviceId":"%s"}' % sid).get("subscriptions")
    if subs != [{"action": "publish", "topic": "news.b"},
                {"action": "request", "topic": "svc.echo", "priority": 0}]:
        raise AssertionError("system.service.subscriptions of B's service "
                             "on A: %r" % subs)
    svc.close()
    end = time.time() + 10
    while b_service() and time.time() < end:
        time.sleep(0.1)
    if b_service():
        raise AssertionError("B's service left, still listed on A")
    # Node B stops: its own services (weft-cluster) leave A's list.
    def b_listed():
        return [x for x in ask("system.service.list").get("services", [])
                if x.get("name") == "weft-cluster"]
    if len(b_listed()) != 2:
        raise AssertionError("weft-cluster of A and B on A: %r" % b_listed())
    stop(b.p)
    end = time.time() + 10
    while len(b_listed()) != 1 and time.time() < end:
        time.sleep(0.1)
    if len(b_listed()) != 1:
        raise AssertionError("B stopped, still listed on A: %r" % b_listed())
    cli.close()
    print("mb lists: B's service, name and subscriptions listed on A; gone "
          "from A's lists when it left and when B stopped")


TESTS = {"fanout": test_fanout, "mb": test_mb, "durable": test_durable, "nats_down_at_start": test_nats_down_at_start,
         "nats_restart": test_nats_restart, "nginx": test_nginx,
         "durable_nats_restart": test_durable_nats_restart,
         "mb_publish": test_mb_publish, "mb_lists": test_mb_lists,
         "durable_ack": test_durable_ack}


def main(argv):
    global WEFT, TMP
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    WEFT = os.path.abspath(argv[1])
    names = argv[2:] or list(TESTS)
    os.environ["PATH"] += ":/usr/sbin"
    for b in ("nats-server", "nginx"):
        if not shutil.which(b):
            print("SKIP: %s is not installed (scripts/bootstrap.sh)" % b)
            return SKIP
    if "nginx" in names and not os.path.exists(STREAM_MODULE):
        print("SKIP: %s missing (libnginx-mod-stream)" % STREAM_MODULE)
        return SKIP
    h = subprocess.run([WEFT, "serve", "--help"], capture_output=True)
    if b"--nats" not in h.stdout:
        print("SKIP: this weft has no --nats")
        return SKIP
    TMP = tempfile.mkdtemp(prefix="weft-cluster-")
    failed = 0
    try:
        for name in names:
            t0 = time.time()
            err = None
            try:
                TESTS[name]()
            except Exception as e:  # noqa: BLE001 - report and go on
                err = str(e)
            # Every node stopped by SIGTERM must exit 0: a crash, a hang or
            # a sanitizer report at shutdown fails the test.
            reserved_ports.release_all()
            bad = []
            while PROCS:
                p = PROCS.pop()
                rc = stop(p)
                if p.name.startswith("node-") and rc not in (0, -9):
                    bad.append("%s exited with %s" % (p.name, rc))
            if err is None and bad:
                err = "; ".join(bad)
            if err is None:
                print("PASS %s (%.1fs)" % (name, time.time() - t0))
                continue
            failed += 1
            print("FAIL %s: %s" % (name, err))
            for f in sorted(os.listdir(TMP)):
                if f.endswith(".log"):
                    with open(os.path.join(TMP, f), "rb") as fh:
                        tail = fh.read()[-3000:].decode(errors="replace")
                    print("--- %s\n%s" % (f, tail))
                    os.remove(os.path.join(TMP, f))
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
