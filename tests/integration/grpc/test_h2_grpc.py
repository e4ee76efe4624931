"""gRPC on weft's HTTP/2 port (h2c://), which speaks gRPC beside Connect
and gRPC-Web: the same grpc.testing.TestService as the gRPC-core tests, served
by weft-interop-server --transport=h2c.

usage: test_h2_grpc.py WEFT_INTEROP_SERVER WEFT_INTEROP_CLIENT [unittest args]

- PythonClient: Python's grpcio (grpc.insecure_channel) runs every interop
  case (unary, server/client streaming, ping-pong bidi, status codes and
  percent-encoded messages, metadata, cancellation, deadlines), plus status
  details and gzip in both directions;
- WeftClient: weft's own grpc:// client (gRPC core) runs the interop cases
  against the h2c port;
- H2ClientCoreServer, H2ClientPythonServer, H2ClientWeftServer: weft's own
  HTTP/2 client speaking gRPC (h2c:// with protocol grpc) runs the interop
  cases against gRPC core's server, grpcio's and weft's h2c port;
- H2TlsClientCoreServer, H2TlsClientWeftServer: the same client over TLS
  (https:// with protocol grpc, ALPN h2) against gRPC core's grpcs://
  server and weft's https:// port; H2TlsClientNoH2: a TLS server that does
  not pick h2 is refused with a clear message.
"""
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

import grpc_test_lib as lib

SERVER_BIN = CLIENT_BIN = None
STUBS = tempfile.mkdtemp(prefix="weft-h2grpc-stubs-")
lib.gen_testing_stubs(STUBS)
import grpc  # noqa: E402
import py_interop  # noqa: E402
from grpc.testing import empty_pb2, messages_pb2, test_pb2_grpc  # noqa: E402

TIMEOUT = 30
# Slow cases of the interop set that the gRPC-core tests already cover
# against the same handlers; here they add nothing the others do not.
WEFT_CLIENT_CASES = ["empty_unary", "large_unary", "client_streaming",
                     "server_streaming", "ping_pong", "empty_stream",
                     "status_code_and_message", "special_status_message",
                     "custom_metadata", "unimplemented_method",
                     "timeout_on_sleeping_server", "status_details"]


class _Server:
    def __init__(self, *extra):
        self.port = lib.free_port()
        self.proc = subprocess.Popen(
            [SERVER_BIN, "--port=%d" % self.port, "--transport=h2c", *extra])
        lib.wait_port(self.port, self.proc)

    def stop(self):
        return lib.stop(self.proc)


class PythonClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = _Server("--max_message_size=1048576")
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.server.port)
        cls.stub = test_pb2_grpc.TestServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        rc = cls.server.stop()
        assert rc == 0, "weft-interop-server exited with %d" % rc

    def test_status_details(self):
        req = messages_pb2.SimpleRequest(response_status=messages_pb2.EchoStatus(
            code=3, message="with details"))
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.UnaryCall(req, timeout=TIMEOUT)
        e = cm.exception
        self.assertEqual(e.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(e.details(), "with details")
        md = dict(e.trailing_metadata())
        self.assertEqual(md.get("grpc-status-details-bin"), py_interop.DETAILS)

    def test_error_in_stream_after_messages(self):
        # The status comes in trailers after messages (not trailers-only).
        req = messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=3)],
            response_status=messages_pb2.EchoStatus(code=9, message="late"))
        it = self.stub.StreamingOutputCall(req, timeout=TIMEOUT)
        got = []
        with self.assertRaises(grpc.RpcError) as cm:
            for r in it:
                got.append(len(r.payload.body))
        self.assertEqual(cm.exception.code(),
                         grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(cm.exception.details(), "late")

    def test_gzip_both_ways(self):
        # The client compresses its requests (grpc-encoding: gzip) and
        # accepts gzip; the server answers large responses compressed.
        with grpc.insecure_channel(
                "127.0.0.1:%d" % self.server.port,
                compression=grpc.Compression.Gzip) as ch:
            stub = test_pb2_grpc.TestServiceStub(ch)
            r = stub.UnaryCall(messages_pb2.SimpleRequest(
                response_size=200000, payload=py_interop.payload(100000)),
                timeout=TIMEOUT)
            self.assertEqual(len(r.payload.body), 200000)
            py_interop.ping_pong(ch)

    def test_message_over_limit(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.UnaryCall(messages_pb2.SimpleRequest(
                payload=py_interop.payload(2 << 20)), timeout=TIMEOUT)
        self.assertEqual(cm.exception.code(),
                         grpc.StatusCode.RESOURCE_EXHAUSTED)
        py_interop.empty_unary(self.channel)  # still serving

    def test_deadline_in_handler(self):
        # The server ends the call when grpc-timeout passes, while its
        # handler still sleeps.
        req = messages_pb2.StreamingOutputCallRequest(response_parameters=[
            messages_pb2.ResponseParameters(size=1, interval_us=3000000)])
        with self.assertRaises(grpc.RpcError) as cm:
            list(self.stub.StreamingOutputCall(req, timeout=0.3))
        self.assertEqual(cm.exception.code(),
                         grpc.StatusCode.DEADLINE_EXCEEDED)
        py_interop.empty_unary(self.channel)


class WeftClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = _Server()

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0


# weft's own HTTP/2 client speaking gRPC (weft-interop-client
# --transport=h2c) against three servers: gRPC core (weft-interop-server's
# default transport), Python's grpcio, and weft's h2c port.
H2_CLIENT_CASES = ["empty_unary", "large_unary", "client_streaming",
                   "server_streaming", "ping_pong", "empty_stream",
                   "status_code_and_message", "special_status_message",
                   "custom_metadata", "unimplemented_method",
                   "timeout_on_sleeping_server", "cancel_after_begin",
                   "cancel_after_first_response", "status_details"]


class _H2ClientCases:
    def run_case(self, case):
        r = subprocess.run(
            [CLIENT_BIN, "--transport=h2c", "--server_host=127.0.0.1",
             "--server_port=%d" % self.port, "--test_case=" + case],
            capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, "%s failed:\n%s%s" %
                         (case, r.stdout, r.stderr))


class H2ClientCoreServer(_H2ClientCases, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = lib.free_port()
        cls.proc = subprocess.Popen([SERVER_BIN, "--port=%d" % cls.port])
        lib.wait_port(cls.port, cls.proc)

    @classmethod
    def tearDownClass(cls):
        assert lib.stop(cls.proc) == 0


class H2ClientPythonServer(_H2ClientCases, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server, cls.port = py_interop.start_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop(None)


class H2ClientWeftServer(_H2ClientCases, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = _Server()
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0


# The same client over TLS (https:// with protocol grpc: weft's HTTP/2
# client, ALPN h2 only), against gRPC core's grpcs:// server and weft's
# https:// port (h2: Connect, gRPC and gRPC-Web).
H2_TLS_CASES = ["empty_unary", "large_unary", "server_streaming",
                "client_streaming", "ping_pong", "status_code_and_message",
                "custom_metadata", "cancel_after_begin",
                "timeout_on_sleeping_server"]
CERTS = None


def _certs():
    global CERTS
    if CERTS is None:
        CERTS = lib.make_certs(tempfile.mkdtemp(prefix="weft-h2grpc-tls-"))
    return CERTS


def _tls_client(port, case):
    c = _certs()
    return subprocess.run(
        [CLIENT_BIN, "--transport=h2c", "--use_tls",
         "--ca_file=" + c["ca.pem"], "--server_host_override=weft.test",
         "--server_host=127.0.0.1", "--server_port=%d" % port,
         "--test_case=" + case],
        capture_output=True, text=True, timeout=TIMEOUT)


class _H2TlsServer:
    EXTRA = ()

    @classmethod
    def setUpClass(cls):
        c = _certs()
        cls.port = lib.free_port()
        cls.proc = subprocess.Popen(
            [SERVER_BIN, "--port=%d" % cls.port, "--use_tls",
             "--cert_file=" + c["server.pem"],
             "--key_file=" + c["server.key"], *cls.EXTRA])
        lib.wait_port(cls.port, cls.proc)

    @classmethod
    def tearDownClass(cls):
        assert lib.stop(cls.proc) == 0

    def run_case(self, case):
        r = _tls_client(self.port, case)
        self.assertEqual(r.returncode, 0, "%s failed:\n%s%s" %
                         (case, r.stdout, r.stderr))


class H2TlsClientCoreServer(_H2TlsServer, unittest.TestCase):
    pass


class H2TlsClientWeftServer(_H2TlsServer, unittest.TestCase):
    EXTRA = ("--transport=h2c",)  # with --use_tls: https://


class H2TlsClientNoH2(unittest.TestCase):
    """A TLS server that speaks only HTTP/1.1 (ALPN http/1.1): gRPC needs
    HTTP/2, so the client refuses it, naming what the server picked."""

    def test_refused(self):
        c = _certs()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(c["server.pem"], c["server.key"])
        ctx.set_alpn_protocols(["http/1.1"])
        lsock = socket.create_server(("127.0.0.1", 0))
        lsock.settimeout(TIMEOUT)
        port = lsock.getsockname()[1]

        def serve():
            try:
                conn, _ = lsock.accept()
                with ctx.wrap_socket(conn, server_side=True) as t:
                    t.settimeout(TIMEOUT)
                    t.recv(1)  # until the client closes
            except (OSError, ssl.SSLError):
                pass

        th = threading.Thread(target=serve, daemon=True)
        th.start()
        try:
            r = _tls_client(port, "empty_unary")
        finally:
            th.join(TIMEOUT)
            lsock.close()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("did not pick HTTP/2", r.stderr)
        self.assertIn("picked none", r.stderr)


def _add_cases():
    for case in H2_TLS_CASES:
        def h2_tls_client(self, case=case):
            self.run_case(case)
        for cls in (H2TlsClientCoreServer, H2TlsClientWeftServer):
            setattr(cls, "test_" + case, h2_tls_client)
    for case in H2_CLIENT_CASES:
        def h2_client(self, case=case):
            self.run_case(case)
        for cls in (H2ClientCoreServer, H2ClientPythonServer,
                    H2ClientWeftServer):
            setattr(cls, "test_" + case, h2_client)
    for case in py_interop.CASES:
        def py_client(self, case=case):
            py_interop.run_case(self.channel, case)
        setattr(PythonClient, "test_" + case, py_client)
    for case in WEFT_CLIENT_CASES:
        def weft_client(self, case=case):
            r = subprocess.run(
                [CLIENT_BIN, "--server_host=127.0.0.1",
                 "--server_port=%d" % self.server.port,
                 "--test_case=" + case],
                capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, 0, "%s failed:\n%s%s" %
                             (case, r.stdout, r.stderr))
        setattr(WeftClient, "test_" + case, weft_client)


_add_cases()

if __name__ == "__main__":
    SERVER_BIN, CLIENT_BIN = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
