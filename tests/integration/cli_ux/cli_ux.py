#!/usr/bin/python3
"""What a user of the weft command sees: the reason a connection failed,
API keys over every transport (WebSocket upgrade keys included), the
WebSocket Origin allow-list and AIP path of `weft serve`, its help and log
lines, `weft list`/`weft describe` output (describe's must compile with
protoc), and `weft subscribe` across a server restart.

usage: cli_ux.py path/to/weft SOURCE_DIR [unittest args, e.g. a class name]
"""
import asyncio
import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "support"))
import ports as reserved_ports  # noqa: E402

WEFT = None
SRC = None
SCHEMES = ("grpc", "h2c", "ws", "tcp")
T = 20  # bound on every command


def weft(*args, timeout=T):
    return subprocess.run([WEFT, *args], capture_output=True, text=True,
                          timeout=timeout)


def free_port():
    """A loopback port nobody listens on, held (tests/support/ports.py) so
    that nobody else takes it while the test relies on that."""
    return reserved_ports.reserve(1)[0]


class Node:
    """`weft serve` on free ports (or the given ones); urls by scheme."""

    def __init__(self, *extra, ports=None):
        p = ports or {}
        args = [WEFT, "serve", "--quiet", "--block-interval-ms", "200"]
        for s, flag in zip(SCHEMES, ("--grpc-port", "--h2-port", "--ws-port",
                                     "--tcp-port")):
            args += [flag, str(p.get(s, 0))]
        self.p = subprocess.Popen(args + list(extra), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.urls = {}
        end = time.time() + T
        while len(self.urls) < 4 and time.time() < end:
            line = self.p.stdout.readline()
            if not line:
                break
            if line.startswith("listening on "):
                url = line.split()[2]
                self.urls[url.split("://")[0]] = url
        if len(self.urls) < 4:
            self.p.kill()
            raise RuntimeError("node did not start: %r %s" %
                               (self.urls, self.p.stderr.read()))

    def port(self, scheme):
        return int(self.urls[scheme].rsplit(":", 1)[1])

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=T)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        err = self.p.stderr.read()
        self.p.stdout.close()
        self.p.stderr.close()
        return err


def make_cert(d):
    key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
         cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=T)
    return cert, key


def ws_handshake(port, path="/", headers=()):
    """A raw upgrade request; returns the HTTP status line's code."""
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n%s\r\n" %
           (path, port, key, "".join(h + "\r\n" for h in headers)))
    with socket.create_connection(("127.0.0.1", port), timeout=T) as s:
        s.sendall(req.encode())
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    return int(buf.split(b" ", 2)[1]) if buf.startswith(b"HTTP/1.1 ") else 0


GET_HEAD = "aitbc.v1.Blockchain/GetHead"


class ConnectErrors(unittest.TestCase):
    """weft call says why it could not connect, not just that it could
    not."""

    def test_connection_refused_names_the_address_and_errno(self):
        port = free_port()
        for s in SCHEMES + ("wss", "tls", "https", "grpcs"):
            r = weft("call", "%s://127.0.0.1:%d" % (s, port), GET_HEAD,
                     "--max-time", "5")
            self.assertEqual(r.returncode, 3, (s, r.stderr))
            self.assertIn("Connection refused", r.stderr, s)
            self.assertIn("127.0.0.1:%d" % port, r.stderr, s)

    def test_subprotocol_the_server_did_not_accept(self):
        import websockets
        ready = threading.Event()
        box = {}

        async def serve():
            async def handler(ws, *_):
                await ws.wait_closed()
            async with websockets.serve(handler, "127.0.0.1", 0) as srv:
                box["port"] = srv.sockets[0].getsockname()[1]
                box["loop"] = asyncio.get_running_loop()
                box["stop"] = asyncio.Event()
                ready.set()
                await box["stop"].wait()

        th = threading.Thread(target=lambda: asyncio.run(serve()))
        th.start()
        try:
            self.assertTrue(ready.wait(T))
            r = weft("call", "--codec", "json",
                     "ws://127.0.0.1:%d" % box["port"], GET_HEAD)
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertIn("server did not accept subprotocol weft.json.v1",
                          r.stderr)
        finally:
            box["loop"].call_soon_threadsafe(box["stop"].set)
            th.join(T)

    def test_refused_upgrade_shows_the_http_status(self):
        n = Node()
        try:
            r = weft("call", n.urls["ws"] + "/no/such/path", GET_HEAD)
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertIn("HTTP 404", r.stderr)
        finally:
            n.stop()

    def test_bad_certificate_says_which_check_failed(self):
        with tempfile.TemporaryDirectory() as d:
            cert, key = make_cert(d)
            n = Node("--tls-cert", cert, "--tls-key", key)
            try:
                for s, u in sorted(n.urls.items()):
                    # Not trusted: self-signed, and no --cacert.
                    r = weft("call", u, GET_HEAD, "--max-time", "5")
                    self.assertEqual(r.returncode, 3, (s, r.stderr))
                    self.assertRegex(r.stderr, "self.signed certificate", s)
                    # Trusted, but not for that name.
                    r = weft("call", u, GET_HEAD, "--cacert", cert,
                             "--servername", "other.example", "--max-time",
                             "5")
                    self.assertEqual(r.returncode, 3, (s, r.stderr))
                    self.assertIn("hostname mismatch", r.stderr, s)
                    self.assertIn("other.example", r.stderr, s)
                    r = weft("call", u, GET_HEAD, "--cacert", cert)
                    self.assertEqual(r.returncode, 0, (s, r.stderr))
            finally:
                n.stop()


class Auth(unittest.TestCase):
    """An API key works the same way on every transport; on WebSocket it
    may also come with the upgrade, and then covers the calls."""

    @classmethod
    def setUpClass(cls):
        cls.n = Node("--api-key", "k1")

    @classmethod
    def tearDownClass(cls):
        cls.n.stop()

    def test_metadata_keys_on_every_transport(self):
        for s in SCHEMES:
            u = self.n.urls[s]
            for h in ("x-api-key: k1", "authorization: Bearer k1"):
                r = weft("call", "-H", h, u, GET_HEAD)
                self.assertEqual(r.returncode, 0, (s, h, r.stderr))
                self.assertIn("ait-devnet", r.stdout)
            for h in ([], ["-H", "x-api-key: nope"],
                      ["-H", "authorization: Bearer nope"]):
                r = weft("call", *h, u, GET_HEAD)
                self.assertEqual(r.returncode, 26, (s, h, r.stderr))
                self.assertIn("UNAUTHENTICATED", r.stderr)

    def test_websocket_upgrade_key_covers_the_calls(self):
        u = self.n.urls["ws"]
        for q in ("api_key", "token"):
            r = weft("call", "%s/?%s=k1" % (u, q), GET_HEAD)
            self.assertEqual(r.returncode, 0, (q, r.stderr))
            r = weft("call", "%s/?%s=nope" % (u, q), GET_HEAD)
            self.assertEqual(r.returncode, 26, (q, r.stderr))
        port = self.n.port("ws")
        for h in ("X-Api-Key: k1", "Authorization: Bearer k1"):
            self.assertEqual(ws_handshake(port, "/", [h]), 101, h)

    def test_list_without_the_key_is_unauthenticated(self):
        r = weft("list", self.n.urls["grpc"])
        self.assertEqual(r.returncode, 26, r.stderr)
        self.assertIn("UNAUTHENTICATED", r.stderr)
        self.assertNotIn("cancelled", r.stderr)
        r = weft("list", "-H", "x-api-key: k1", self.n.urls["grpc"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("aitbc.v1.Jobs", r.stdout)


class Serve(unittest.TestCase):
    def test_help_says_what_the_http2_port_serves(self):
        r = weft("serve", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertNotIn("gRPC-Web", r.stdout)
        self.assertIn("Connect", r.stdout)
        self.assertIn("--allowed-origin", r.stdout)

    def test_log_shows_the_urls_clients_use(self):
        n = Node("--api-key", "k")
        err = n.stop()
        logged = re.findall(r"listening on (\S+)", err)
        self.assertEqual(sorted(logged), sorted(n.urls.values()), err)

    def test_allowed_origin(self):
        n = Node("--allowed-origin", "https://ok.example",
                 "--allowed-origin", "https://also.example")
        try:
            p = n.port("ws")
            self.assertEqual(ws_handshake(p, "/", ["Origin: https://evil.example"]),
                             403)
            self.assertEqual(ws_handshake(p, "/", ["Origin: https://ok.example"]),
                             101)
            self.assertEqual(ws_handshake(p, "/v1/events",
                                          ["Origin: https://also.example"]),
                             101)
            self.assertEqual(ws_handshake(p, "/v1/events",
                                          ["Origin: https://evil.example"]),
                             403)
            self.assertEqual(ws_handshake(p, "/"), 101)  # not a browser
        finally:
            n.stop()

    def test_aip_clients_path(self):
        import websockets
        n = Node("--api-key", "k")
        try:
            u = n.urls["ws"]

            async def ping(path):
                async with websockets.connect(u + path) as ws:
                    try:
                        await ws.send('{"type":"ping"}')
                        return json.loads(await ws.recv())
                    except websockets.exceptions.ConnectionClosed:
                        return ws.close_code
            self.assertEqual(
                asyncio.run(asyncio.wait_for(ping("/ws?token=k"), T)),
                {"type": "pong"})
            self.assertEqual(
                asyncio.run(asyncio.wait_for(ping("/ws?token=bad"), T)), 1008)
        finally:
            n.stop()

    def test_list_says_whose_services_it_shows(self):
        n = Node()
        try:
            for s in ("h2c", "ws", "tcp"):
                r = weft("list", n.urls[s])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("aitbc.v1.Jobs", r.stdout)
                self.assertIn("compiled into weft", r.stderr, s)
            r = weft("list", n.urls["grpc"])  # reflection: the server's own
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, "")
        finally:
            n.stop()


def load_descriptors(proto, includes, cwd=None):
    """(FileDescriptorProto, {full name: message or enum descriptor}) of one
    file as protoc compiles it, json_name cleared (protoc derives it)."""
    from google.protobuf import descriptor_pb2
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "set.pb")
        gapi = os.environ.get("WEFT_GOOGLEAPIS_PROTO_DIR",
                              "/usr/share/gocode/src/github.com/gogo/"
                              "googleapis")
        r = subprocess.run(["protoc", *("-I" + i for i in includes),
                            "-I/usr/include", "-I" + gapi, "-o", out, proto],
                           capture_output=True, text=True, timeout=T, cwd=cwd)
        if r.returncode != 0:
            return None, r.stderr
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            fds.ParseFromString(f.read())
    fd = fds.file[0]

    def strip(m):
        for f in m.field:
            f.ClearField("json_name")
        for n in m.nested_type:
            strip(n)
    items = {}
    for m in fd.message_type:
        strip(m)
        items[fd.package + "." + m.name] = m
    for e in fd.enum_type:
        items[fd.package + "." + e.name] = e
    return fd, items


class Describe(unittest.TestCase):
    def roundtrip(self, rel, include, source):
        """Describes every top-level message and enum of `rel`, compiles
        the output with protoc, and compares the descriptors."""
        fd, want = load_descriptors(rel, [include], cwd=include)
        self.assertIsNotNone(fd, want)
        text = ['syntax = "%s";' % (fd.syntax or "proto2"),
                "package %s;" % fd.package]
        text += ['import "%s";' % dep for dep in fd.dependency]
        for name in want:
            r = weft("describe", *source, name)
            self.assertEqual(r.returncode, 0, (name, r.stderr))
            text.append(r.stdout)
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "described.proto"), "w") as f:
                f.write("\n".join(text))
            _, got = load_descriptors("described.proto", [d, include], cwd=d)
        self.assertIsInstance(got, dict, "protoc: %s\n%s" %
                              (got, "\n".join(text)))
        for name, m in want.items():
            self.assertEqual(got[name], m, name)

    def test_maps_oneofs_optional_compile_back_to_the_same_descriptors(self):
        protos = os.path.join(SRC, "tests", "protos")
        self.roundtrip("all_types_proto3.proto", protos,
                       ["-", "--proto",
                        os.path.join(protos, "all_types_proto3.proto")])

    def test_aitbc_messages_compile_back(self):
        schema = os.path.join(SRC, "schema")
        for f in ("blockchain", "jobs", "settlement"):
            self.roundtrip("aitbc/v1/%s.proto" % f, schema, ["-"])

    def test_method_in_the_form_weft_call_takes(self):
        for name in ("aitbc.v1.Blockchain/GetHead",
                     "/aitbc.v1.Blockchain/GetHead",
                     "aitbc.v1.Blockchain.GetHead"):
            r = weft("describe", "-", name)
            self.assertEqual(r.returncode, 0, (name, r.stderr))
            self.assertIn("rpc GetHead(.aitbc.v1.GetHeadRequest) returns "
                          "(.aitbc.v1.Block);", r.stdout)


class Lines:
    """A process's stdout lines, read by a thread so a test can wait for
    one with a time limit."""

    def __init__(self, proc):
        import queue
        self.q = queue.Queue()
        self.t = threading.Thread(target=self.pump, args=(proc,), daemon=True)
        self.t.start()

    def pump(self, proc):
        for line in proc.stdout:
            self.q.put(line)

    def close(self, proc):
        self.t.join(T)
        proc.stdout.close()
        proc.stderr.close()

    def get(self, timeout):
        import queue
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return ""


class Subscribe(unittest.TestCase):
    EVENT = '{"@type":"type.googleapis.com/aitbc.v1.JobStatus","job_id":"%s"}'

    def publish(self, url, job):
        r = weft("publish", url, "t", "-d", self.EVENT % job)
        return r.returncode

    def until_received(self, lines, url, tag):
        """Publishes tag until the subscriber prints it (a subscription is
        registered asynchronously to this process)."""
        end = time.time() + T
        while time.time() < end:
            self.publish(url, tag)
            while True:
                line = lines.get(0.2)
                if not line:
                    break
                if tag in line:
                    return True
        return False

    def test_resubscribes_after_the_server_restarts(self):
        n = Node()
        ports = {s: n.port(s) for s in SCHEMES}
        subs, lines = {}, {}
        try:
            for s in SCHEMES:
                subs[s] = subprocess.Popen(
                    [WEFT, "subscribe", n.urls[s], "t", "--max-time", "60"],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                lines[s] = Lines(subs[s])
            for s in SCHEMES:
                self.assertTrue(self.until_received(lines[s], n.urls["tcp"],
                                                    "before"), s)
            n.stop()
            n = Node(ports=ports)
            for s in SCHEMES:
                self.assertTrue(self.until_received(lines[s], n.urls["tcp"],
                                                    "after"), s)
        finally:
            n.stop()
            errs = {}
            for s, p in subs.items():
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=T)
                errs[s] = p.stderr.read()
                lines[s].close(p)
        for s, p in subs.items():
            self.assertEqual(p.returncode, 0, (s, errs[s]))
        # gRPC core may redial by itself before the client sees the loss
        # (the stream ends, and is opened again); the others say it.
        for s in ("h2c", "ws", "tcp"):
            self.assertIn("reconnecting", errs[s], s)
            self.assertIn("subscribed to t again", errs[s], s)

    def test_without_reconnect_exits_with_the_reason(self):
        n = Node()
        p = subprocess.Popen(
            [WEFT, "subscribe", n.urls["tcp"], "t", "--no-reconnect",
             "--max-time", "60"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        lines = Lines(p)
        try:
            self.assertTrue(self.until_received(lines, n.urls["tcp"], "x"))
        finally:
            n.stop()
        try:
            p.wait(timeout=T)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        err = p.stderr.read()
        lines.close(p)
        self.assertEqual(p.returncode, 24, err)
        self.assertIn("connection to %s lost" % n.urls["tcp"], err)


if __name__ == "__main__":
    WEFT = os.path.abspath(sys.argv.pop(1))
    SRC = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
