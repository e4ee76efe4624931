"""Cross-language tests of weft's gRPC transport against Python's gRPC.

usage: test_grpc_interop.py WEFT_INTEROP_SERVER WEFT_INTEROP_CLIENT [unittest args]

- a Python client runs every interop case against weft-interop-server;
- weft-interop-client runs every case against a Python TestService server;
- TLS (certificates made with the openssl CLI now), mutual TLS, wrong CA;
- faults: a peer vanishing mid-stream, a deadline expiring in a handler, a
  message over the size limit, an unknown method; the server keeps serving.
"""
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import unittest

import grpc_test_lib as lib

SERVER_BIN = CLIENT_BIN = None
STUBS = tempfile.mkdtemp(prefix="weft-grpc-stubs-")
lib.gen_testing_stubs(STUBS)
import grpc  # noqa: E402
import py_interop  # noqa: E402
from grpc.testing import empty_pb2, messages_pb2, test_pb2_grpc  # noqa: E402

TIMEOUT = 60


def start_weft_server(*extra):
    port = lib.free_port()
    proc = subprocess.Popen([SERVER_BIN, "--port=%d" % port, *extra])
    lib.wait_port(port, proc)
    return proc, port


def run_weft_client(port, case, *extra):
    return subprocess.run(
        [CLIENT_BIN, "--server_host=127.0.0.1", "--server_port=%d" % port,
         "--test_case=" + case, *extra],
        capture_output=True, text=True, timeout=TIMEOUT)


class PythonClientWeftServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port = start_weft_server()
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.port)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        rc = lib.stop(cls.proc)
        assert rc == 0, "weft-interop-server exited with %d" % rc


    def test_server_compressed_responses(self):
        """response_compressed / ResponseParameters.compressed (the interop
        server_compressed_* cases): seen as bytes on the wire, through a
        counting proxy, since Python's gRPC does not tell whether a
        message came compressed."""
        proxy = lib.CountingProxy(self.port)
        ch = grpc.insecure_channel("127.0.0.1:%d" % proxy.port)
        try:
            stub = test_pb2_grpc.TestServiceStub(ch)
            stub.EmptyCall(empty_pb2.Empty(), timeout=TIMEOUT)
            size = 256 * 1024  # zeros: gzip makes them a few hundred bytes

            def unary(compressed):
                before = proxy.received()
                r = stub.UnaryCall(messages_pb2.SimpleRequest(
                    response_size=size,
                    response_compressed=messages_pb2.BoolValue(
                        value=compressed)), timeout=TIMEOUT)
                self.assertEqual(len(r.payload.body), size)
                return proxy.received() - before

            self.assertLess(unary(True), size // 8)
            self.assertGreater(unary(False), size)
            # A stream: the first response compressed, the second not.
            before = proxy.received()
            params = [messages_pb2.ResponseParameters(
                size=size, compressed=messages_pb2.BoolValue(value=c))
                for c in (True, False)]
            got = list(stub.StreamingOutputCall(
                messages_pb2.StreamingOutputCallRequest(
                    response_parameters=params), timeout=TIMEOUT))
            self.assertEqual([len(r.payload.body) for r in got], [size, size])
            wire = proxy.received() - before
            self.assertGreater(wire, size)
            self.assertLess(wire, size + size // 8)
        finally:
            ch.close()
            proxy.close()


class PythonClientWeftServerPool(PythonClientWeftServer):
    """The same against a server that runs handlers on its worker pool."""

    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port = start_weft_server("--pool_handlers")
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.port)


class WeftClientPythonServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server, cls.port = py_interop.start_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop(None)


def _add_cases():
    for case in py_interop.CASES:
        def py_client(self, case=case):
            py_interop.run_case(self.channel, case)

        def weft_client(self, case=case):
            r = run_weft_client(self.port, case)
            self.assertEqual(r.returncode, 0, "%s failed:\n%s%s" %
                             (case, r.stdout, r.stderr))
        setattr(PythonClientWeftServer, "test_" + case, py_client)
        setattr(PythonClientWeftServerPool, "test_" + case, py_client)
        setattr(WeftClientPythonServer, "test_" + case, weft_client)

    def details(self):
        r = run_weft_client(self.port, "status_details")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
    WeftClientPythonServer.test_status_details = details


_add_cases()


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="weft-grpc-tls-")
        cls.c = lib.make_certs(cls.dir)

    def py_creds(self, ca="ca.pem", client=False):
        c = self.c
        return grpc.ssl_channel_credentials(
            lib.read(c[ca]),
            lib.read(c["client.key"]) if client else None,
            lib.read(c["client.pem"]) if client else None)

    def tls_channel(self, port, **kw):
        return grpc.secure_channel(
            "127.0.0.1:%d" % port, self.py_creds(**kw),
            options=(("grpc.ssl_target_name_override", "weft.test"),))

    def server_args(self, mutual=False):
        c = self.c
        a = ["--use_tls", "--cert_file=" + c["server.pem"],
             "--key_file=" + c["server.key"]]
        if mutual:
            a.append("--client_ca_file=" + c["ca.pem"])
        return a

    def test_python_client_weft_tls_server(self):
        proc, port = start_weft_server(*self.server_args())
        try:
            with self.tls_channel(port) as ch:
                py_interop.large_unary(ch)
                py_interop.ping_pong(ch)
                py_interop.custom_metadata(ch)
            # Wrong CA: the handshake fails, with a clean UNAVAILABLE ...
            with self.tls_channel(port, ca="otherca.pem") as ch:
                stub = test_pb2_grpc.TestServiceStub(ch)
                with self.assertRaises(grpc.RpcError) as cm:
                    stub.EmptyCall(empty_pb2.Empty(), timeout=5)
                self.assertEqual(cm.exception.code(),
                                 grpc.StatusCode.UNAVAILABLE)
            # ... and the server goes on serving.
            with self.tls_channel(port) as ch:
                py_interop.empty_unary(ch)
        finally:
            self.assertEqual(lib.stop(proc), 0)

    def test_mutual_tls(self):
        proc, port = start_weft_server(*self.server_args(mutual=True))
        try:
            with self.tls_channel(port, client=True) as ch:
                py_interop.large_unary(ch)
            with self.tls_channel(port) as ch:  # no client certificate
                stub = test_pb2_grpc.TestServiceStub(ch)
                with self.assertRaises(grpc.RpcError) as cm:
                    stub.EmptyCall(empty_pb2.Empty(), timeout=5)
                self.assertEqual(cm.exception.code(),
                                 grpc.StatusCode.UNAVAILABLE)
            r = run_weft_client(port, "large_unary", "--use_tls",
                                "--ca_file=" + self.c["ca.pem"],
                                "--cert_file=" + self.c["client.pem"],
                                "--key_file=" + self.c["client.key"],
                                "--server_host_override=weft.test")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            self.assertEqual(lib.stop(proc), 0)

    def test_weft_client_python_tls_server(self):
        c = self.c
        creds = grpc.ssl_server_credentials(
            [(lib.read(c["server.key"]), lib.read(c["server.pem"]))])
        server, port = py_interop.start_server(creds=creds)
        try:
            for case in ("large_unary", "server_streaming", "ping_pong"):
                r = run_weft_client(port, case, "--use_tls",
                                    "--ca_file=" + c["ca.pem"],
                                    "--server_host_override=weft.test")
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            r = run_weft_client(port, "empty_unary", "--use_tls",
                                "--ca_file=" + c["otherca.pem"],
                                "--server_host_override=weft.test")
            self.assertNotEqual(r.returncode, 0)
            self.assertLess(r.returncode, 128, "crashed: " + r.stderr)
            self.assertIn("TLS", r.stdout + r.stderr)
        finally:
            server.stop(None)


class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port = start_weft_server("--max_message_size=1048576")
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.port)
        cls.stub = test_pb2_grpc.TestServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        assert lib.stop(cls.proc) == 0

    def still_serving(self):
        py_interop.empty_unary(self.channel)
        py_interop.ping_pong(self.channel)

    def test_peer_disappears_mid_stream(self):
        # A client process that is killed while its bidi stream is open.
        code = textwrap.dedent("""
            import sys, time
            sys.path.insert(0, %r)
            import grpc_test_lib
            grpc_test_lib.use_stubs(%r)
            import grpc
            from grpc.testing import messages_pb2, test_pb2_grpc
            ch = grpc.insecure_channel("127.0.0.1:%d")
            stub = test_pb2_grpc.TestServiceStub(ch)
            def reqs():
                while True:
                    yield messages_pb2.StreamingOutputCallRequest(
                        response_parameters=[messages_pb2.ResponseParameters(size=1000)])
                    time.sleep(0.01)
            for i, r in enumerate(stub.FullDuplexCall(reqs())):
                if i == 20:
                    print("streaming", flush=True)
        """) % (os.path.dirname(os.path.abspath(__file__)), STUBS, self.port)
        p = subprocess.Popen([sys.executable, "-c", code],
                             stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(p.stdout.readline().strip(), "streaming")
            p.stdout.close()
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
        self.still_serving()

    def test_deadline_expires_in_handler(self):
        req = messages_pb2.StreamingOutputCallRequest(response_parameters=[
            messages_pb2.ResponseParameters(size=10, interval_us=2000000)])
        with self.assertRaises(grpc.RpcError) as cm:
            list(self.stub.StreamingOutputCall(req, timeout=0.3))
        self.assertEqual(cm.exception.code(),
                         grpc.StatusCode.DEADLINE_EXCEEDED)
        self.still_serving()

    def test_message_over_limit(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.UnaryCall(messages_pb2.SimpleRequest(
                payload=py_interop.payload(2 * 1048576)), timeout=10)
        self.assertEqual(cm.exception.code(),
                         grpc.StatusCode.RESOURCE_EXHAUSTED)
        # A response over the limit fails too, on the server's side.
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.UnaryCall(messages_pb2.SimpleRequest(
                response_size=2 * 1048576), timeout=10)
        self.assertEqual(cm.exception.code(),
                         grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.still_serving()

    def test_unknown_method(self):
        call = self.channel.unary_unary("/grpc.testing.TestService/NoSuch")
        with self.assertRaises(grpc.RpcError) as cm:
            call(b"", timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        self.still_serving()

    def test_garbage_request(self):
        call = self.channel.unary_unary("/grpc.testing.TestService/UnaryCall")
        with self.assertRaises(grpc.RpcError) as cm:
            call(b"\xff\xff\xff", timeout=10)
        self.assertIn(cm.exception.code(), (grpc.StatusCode.INVALID_ARGUMENT,
                                             grpc.StatusCode.INTERNAL))
        self.still_serving()

    def test_zzz_pool_server_faults(self):
        # The same faults against a server running handlers on the worker pool.
        proc, port = start_weft_server("--pool_handlers",
                                       "--max_message_size=1048576")
        try:
            ch = grpc.insecure_channel("127.0.0.1:%d" % port)
            stub = test_pb2_grpc.TestServiceStub(ch)
            req = messages_pb2.StreamingOutputCallRequest(response_parameters=[
                messages_pb2.ResponseParameters(size=10, interval_us=2000000)])
            with self.assertRaises(grpc.RpcError) as cm:
                list(stub.StreamingOutputCall(req, timeout=0.3))
            self.assertEqual(cm.exception.code(),
                             grpc.StatusCode.DEADLINE_EXCEEDED)
            with self.assertRaises(grpc.RpcError) as cm:
                stub.UnaryCall(messages_pb2.SimpleRequest(
                    payload=py_interop.payload(2 * 1048576)), timeout=10)
            self.assertEqual(cm.exception.code(),
                             grpc.StatusCode.RESOURCE_EXHAUSTED)
            # More slow calls than there are threads: all finish.
            futs = [stub.UnaryCall.future(messages_pb2.SimpleRequest(
                response_size=10), timeout=10) for _ in range(40)]
            self.assertTrue(all(f.result().payload.body == b"\0" * 10
                                for f in futs))
            # A stream left open at shutdown is cancelled within the bound.
            it = stub.FullDuplexCall(iter([messages_pb2.StreamingOutputCallRequest(
                response_parameters=[messages_pb2.ResponseParameters(
                    size=1, interval_us=100000)] * 100)]), timeout=30)
            next(it)
            ch.close()
        finally:
            self.assertEqual(lib.stop(proc), 0)

    def test_gzip_request(self):
        ch = grpc.insecure_channel("127.0.0.1:%d" % self.port,
                                   compression=grpc.Compression.Gzip)
        try:
            py_interop.large_unary(ch)
            py_interop.client_streaming(ch)
        finally:
            ch.close()


class Services(unittest.TestCase):
    """grpc.health.v1 and server reflection, added by the grpc listener."""

    @classmethod
    def setUpClass(cls):
        lib.gen_stubs(STUBS, [lib.GRPC_PROTO_DIR],
                      ["grpc/health/v1/health.proto",
                       "grpc/reflection/v1alpha/reflection.proto"],
                      ["grpc/health/v1/health.proto",
                       "grpc/reflection/v1alpha/reflection.proto"])
        cls.proc, cls.port = start_weft_server()
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.port)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        assert lib.stop(cls.proc) == 0

    def test_health_check(self):
        from grpc.health.v1 import health_pb2, health_pb2_grpc
        stub = health_pb2_grpc.HealthStub(self.channel)
        SERVING = health_pb2.HealthCheckResponse.SERVING
        r = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        self.assertEqual(r.status, SERVING)
        r = stub.Check(health_pb2.HealthCheckRequest(
            service="grpc.testing.TestService"), timeout=10)
        self.assertEqual(r.status, SERVING)
        with self.assertRaises(grpc.RpcError) as cm:
            stub.Check(health_pb2.HealthCheckRequest(service="no.Such"),
                       timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_health_watch(self):
        from grpc.health.v1 import health_pb2, health_pb2_grpc
        stub = health_pb2_grpc.HealthStub(self.channel)
        it = stub.Watch(health_pb2.HealthCheckRequest(
            service="grpc.testing.TestService"), timeout=10)
        self.assertEqual(next(it).status,
                         health_pb2.HealthCheckResponse.SERVING)
        it.cancel()
        it = stub.Watch(health_pb2.HealthCheckRequest(service="no.Such"),
                        timeout=10)
        self.assertEqual(next(it).status,
                         health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
        it.cancel()

    def reflect(self, **kw):
        from grpc.reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
        stub = reflection_pb2_grpc.ServerReflectionStub(self.channel)
        req = reflection_pb2.ServerReflectionRequest(host="x", **kw)
        resps = list(stub.ServerReflectionInfo(iter([req]), timeout=10))
        self.assertEqual(len(resps), 1)
        return resps[0]

    def test_reflection(self):
        from google.protobuf import descriptor_pb2
        r = self.reflect(list_services="")
        names = {s.name for s in r.list_services_response.service}
        self.assertIn("grpc.testing.TestService", names)
        self.assertIn("grpc.health.v1.Health", names)
        r = self.reflect(file_containing_symbol="grpc.testing.TestService")
        files = {}
        for raw in r.file_descriptor_response.file_descriptor_proto:
            fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
            files[fd.name] = fd
        self.assertIn("grpc/testing/test.proto", files)
        self.assertIn("grpc/testing/messages.proto", files)  # a dependency
        svc = [s for s in files["grpc/testing/test.proto"].service
               if s.name == "TestService"][0]
        self.assertIn("UnaryCall", [m.name for m in svc.method])
        r = self.reflect(
            file_containing_symbol="grpc.testing.TestService.UnaryCall")
        self.assertTrue(r.file_descriptor_response.file_descriptor_proto)
        r = self.reflect(file_containing_symbol="grpc.testing.SimpleRequest")
        self.assertTrue(r.file_descriptor_response.file_descriptor_proto)
        r = self.reflect(file_by_filename="grpc/testing/empty.proto")
        self.assertTrue(r.file_descriptor_response.file_descriptor_proto)
        r = self.reflect(file_containing_symbol="no.Such")
        self.assertEqual(r.error_response.error_code, 5)


def proto_symbols(fd):
    """Every symbol a FileDescriptorProto defines, by protobuf's scoping:
    messages and enums at any depth, fields and oneofs, enum values as
    siblings of their enum, services and methods."""
    pkg = fd.package
    syms = []

    def scoped(scope, name):
        return scope + "." + name if scope else name

    def enums(scope, es):
        for e in es:
            syms.append(scoped(scope, e.name))
            syms.extend(scoped(scope, v.name) for v in e.value)

    def messages(scope, ms):
        for m in ms:
            full = scoped(scope, m.name)
            syms.append(full)
            syms.extend(scoped(full, f.name) for f in m.field)
            syms.extend(scoped(full, o.name) for o in m.oneof_decl)
            messages(full, m.nested_type)
            enums(full, m.enum_type)

    messages(pkg, fd.message_type)
    enums(pkg, fd.enum_type)
    for s in fd.service:
        syms.append(scoped(pkg, s.name))
        syms.extend(scoped(pkg, s.name + "." + m.name) for m in s.method)
    return syms


@unittest.skipUnless(os.environ.get("WEFT_GRPC_AITBC_SERVER"),
                     "weft_aitbc not built")
class Aitbc(unittest.TestCase):
    """A Python client calls AITBC services on a weft server and compares
    the messages weft decoded (and sent back) with what it sent."""

    @classmethod
    def setUpClass(cls):
        schema = os.environ["WEFT_SCHEMA_DIR"]
        wkt = os.environ.get("WEFT_WKT_PROTO_DIR", "/usr/include")
        gapi = os.environ.get("WEFT_GOOGLEAPIS_PROTO_DIR",
                              "/usr/share/gocode/src/github.com/gogo/"
                              "googleapis")
        # The AITBC files import google/api/annotations.proto (REST routes).
        lib.gen_stubs(STUBS, [schema, wkt, gapi],
                      ["google/api/http.proto", "google/api/annotations.proto",
                       "aitbc/v1/marketplace.proto",
                       "aitbc/v1/settlement.proto"], [])
        cls.port = lib.free_port()
        cls.proc = subprocess.Popen([os.environ["WEFT_GRPC_AITBC_SERVER"],
                                     "--port=%d" % cls.port])
        lib.wait_port(cls.port, cls.proc)
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.port)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        assert lib.stop(cls.proc) == 0

    def test_reflection_resolves_every_symbol(self):
        """file_containing_symbol answers for fields, enum values, nested
        types, services and methods, as Google's reflection does (what
        `grpcurl describe` needs), checked against protobuf's own
        DescriptorPool built from the files the server sent."""
        from google.protobuf import descriptor_pb2, descriptor_pool
        lib.gen_stubs(STUBS, [lib.GRPC_PROTO_DIR],
                      ["grpc/reflection/v1alpha/reflection.proto"],
                      ["grpc/reflection/v1alpha/reflection.proto"])
        from grpc.reflection.v1alpha import reflection_pb2 as rpb
        from grpc.reflection.v1alpha import reflection_pb2_grpc as rgrpc
        stub = rgrpc.ServerReflectionStub(self.channel)

        def ask(reqs):
            return list(stub.ServerReflectionInfo(iter(reqs), timeout=20))

        svcs = [s.name for s in ask([rpb.ServerReflectionRequest(
            list_services="")])[0].list_services_response.service]
        for want in ("aitbc.v1.Blockchain", "aitbc.v1.Jobs"):
            self.assertIn(want, svcs)
        files = {}
        for r in ask([rpb.ServerReflectionRequest(file_containing_symbol=s)
                      for s in svcs]):
            for raw in r.file_descriptor_response.file_descriptor_proto:
                fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
                files[fd.name] = fd
        pool = descriptor_pool.DescriptorPool()
        added = set()

        def add(name):
            if name in added:
                return
            for dep in files[name].dependency:
                add(dep)
            pool.AddSerializedFile(files[name].SerializeToString())
            added.add(name)

        for name in files:
            add(name)
        expect = {}
        for name, fd in files.items():
            if name.startswith("aitbc/"):
                for sym in proto_symbols(fd):
                    expect[sym] = name
        for sym in ("aitbc.v1.Block.height", "aitbc.v1.QUEUED",
                    "aitbc.v1.Blockchain.GetBlock", "aitbc.v1.Jobs"):
            self.assertIn(sym, expect)
        syms = sorted(expect)
        resps = ask([rpb.ServerReflectionRequest(file_containing_symbol=s)
                     for s in syms])
        self.assertEqual(len(resps), len(syms))
        agreed = 0
        for sym, r in zip(syms, resps):
            self.assertEqual(r.WhichOneof("message_response"),
                             "file_descriptor_response",
                             "%s: %s" % (sym, r.error_response.error_message))
            first = descriptor_pb2.FileDescriptorProto.FromString(
                r.file_descriptor_response.file_descriptor_proto[0])
            self.assertEqual(first.name, expect[sym], sym)
            try:
                google = pool.FindFileContainingSymbol(sym).name
            except KeyError:
                continue
            self.assertEqual(google, expect[sym], sym)
            agreed += 1
        self.assertGreater(agreed, len(syms) // 2)
        for bad in ("aitbc.v1.Block.nope", "aitbc.v1.QUEUEDX",
                    "aitbc.v1.Block.height.x", "QUEUED", "aitbc.v1.Block."):
            r = ask([rpb.ServerReflectionRequest(
                file_containing_symbol=bad)])[0]
            self.assertEqual(r.error_response.error_code, 5, bad)

    def offer(self, i):
        from aitbc.v1 import marketplace_pb2 as m
        return m.Offer(id="offer-%d" % i, provider="provider-\u00e9",
                       gpu_type="A100" if i % 2 else "RTX 4090",
                       gpu_memory=24 + i, gpu_count=i, price_per_hour=i * 1.25,
                       currency="AITBC", region="eu-west", status="active",
                       created_at="2026-01-02T03:04:05Z")

    def test_marketplace(self):
        from aitbc.v1 import marketplace_pb2 as m
        stub = lib.DynamicStub(self.channel, m, "Marketplace")
        sent = m.Offer(id="o-\u263a", provider="p", gpu_type="H100",
                       gpu_memory=80, gpu_count=8, price_per_hour=-3.5e-7,
                       currency="AITBC", region="", status="pending",
                       created_at="2026-11-23T00:00:00Z")
        self.assertEqual(stub.CreateOffer(sent, timeout=10), sent)
        self.assertEqual(stub.UpdateOffer(m.Offer(), timeout=10), m.Offer())
        self.assertEqual(stub.GetOffer(m.GetOfferRequest(offer_id="offer-7"),
                                       timeout=10), self.offer(7))
        r = stub.ListOffers(m.ListOffersRequest(limit=50, offset=3),
                            timeout=10)
        self.assertEqual(list(r.offers), [self.offer(3 + k)
                                          for k in range(50)])
        evs = list(stub.WatchEvents(m.WatchMarketplaceRequest(
            types=["created", "matched", "deleted"]), timeout=10))
        self.assertEqual([e.type for e in evs],
                         ["created", "matched", "deleted"])
        self.assertEqual([e.offer for e in evs],
                         [self.offer(k) for k in range(3)])
        with self.assertRaises(grpc.RpcError) as cm:
            stub.GetOffer(m.GetOfferRequest(offer_id="nope"), timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(grpc.RpcError) as cm:
            stub.DeleteOffer(m.DeleteOfferRequest(offer_id="x"), timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED)

    def test_settlement(self):
        from aitbc.v1 import settlement_pb2 as s
        stub = lib.DynamicStub(self.channel, s, "Settlement")
        msg = s.SettlementMessage(
            source_chain_id=1, target_chain_id=2, job_id="job-1",
            receipt_hash="0xabc", payment_amount=2**63 + 5,
            payment_token="AITBC", nonce=7, signature="sig",
            gas_limit=0, created_at="2026-11-23T12:00:00Z")
        msg.proof_data.update({"a": 1, "b": [True, None, "x"], "c": {}})
        msg.zk_proof.string_value = "proof"
        r = stub.SendMessage(msg, timeout=10)
        self.assertEqual(r.message_id, "job-1")
        self.assertEqual(r.status, s.BridgeStatus.completed)
        self.assertEqual(r.transaction_hash, "0xabc")
        self.assertTrue(r.HasField("gas_used"))  # presence kept for 0
        self.assertEqual(r.gas_used, 0)
        self.assertFalse(r.HasField("error_message"))
        self.assertEqual(r.fee_paid, 2**63 + 12)
        self.assertEqual(r.created_at, "2026-11-23T12:00:00Z")
        self.assertEqual(r.completed_at, "fields=3 zk=1")
        msg2 = s.SettlementMessage(job_id="j2", privacy_level="high")
        r = stub.SendMessage(msg2, timeout=10)
        self.assertFalse(r.HasField("gas_used"))
        self.assertEqual(r.error_message, "high")
        self.assertEqual(r.completed_at, "fields=0 zk=0")


if __name__ == "__main__":
    SERVER_BIN, CLIENT_BIN = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
