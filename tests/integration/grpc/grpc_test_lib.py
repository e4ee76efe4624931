"""Shared helpers for weft's cross-language gRPC tests (run by /usr/bin/python3).

Stubs are generated at test time: *_pb2.py with Debian's protoc (3.21.12),
and only *_pb2_grpc.py from python3-grpc-tools (its bundled protoc writes
*_pb2.py files that python3-protobuf 4.21 rejects).
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "support"))
import ports as reserved_ports  # noqa: E402

GRPC_PROTO_DIR = os.environ.get("WEFT_GRPC_PROTO_DIR", "/usr/share/grpc-proto")
PROTOC = os.environ.get("PROTOC", "protoc")


def gen_stubs(out_dir, include_dirs, protos, service_protos):
    """Generates Python stubs for protos (paths relative to include_dirs)."""
    incs = []
    for d in include_dirs:
        incs += ["-I", d]
    subprocess.run([PROTOC, *incs, "--python_out=" + out_dir, *protos],
                   check=True)
    if service_protos:
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", *incs,
                        "--grpc_python_out=" + out_dir, *service_protos],
                       check=True)
    # Packages for the generated module tree (grpc/testing/..._pb2.py).
    # google/ is grafted onto the installed namespace package (use_stubs):
    # an __init__.py there would hide google.protobuf.
    for root, _dirs, files in os.walk(out_dir):
        if root not in (out_dir, os.path.join(out_dir, "google")):
            init = os.path.join(root, "__init__.py")
            if not os.path.exists(init):
                open(init, "w").close()
    use_stubs(out_dir)


def use_stubs(out_dir):
    """Makes stubs generated into out_dir importable."""
    if out_dir not in sys.path:
        sys.path.append(out_dir)
    # Generated packages under grpc/ (grpc.testing, grpc.health.v1, ...)
    # live beside grpcio's own `grpc` package: graft them onto its path.
    import grpc
    gdir = os.path.join(out_dir, "grpc")
    if os.path.isdir(gdir) and gdir not in grpc.__path__:
        init = os.path.join(gdir, "__init__.py")
        if os.path.exists(init):
            os.remove(init)
        grpc.__path__.append(gdir)
    # google/api/*_pb2 (imported by schemas with REST annotations) beside
    # python3-protobuf's google.protobuf: google is a namespace package.
    import google
    gdir = os.path.join(out_dir, "google")
    if os.path.isdir(gdir) and gdir not in list(google.__path__):
        google.__path__.append(gdir)


class DynamicStub:
    """A client stub built from a service descriptor of a *_pb2 module, for
    protos python3-grpc-tools 1.14 cannot read (proto3 `optional`).
    Methods are named as in the proto (stub.GetOffer(req, timeout=...))."""

    def __init__(self, channel, pb2_module, service_name):
        from google.protobuf import symbol_database
        db = symbol_database.Default()
        svc = pb2_module.DESCRIPTOR.services_by_name[service_name]
        for m in svc.methods:
            req = db.GetSymbol(m.input_type.full_name)
            resp = db.GetSymbol(m.output_type.full_name)
            path = "/%s/%s" % (svc.full_name, m.name)
            kind = {(False, False): channel.unary_unary,
                    (False, True): channel.unary_stream,
                    (True, False): channel.stream_unary,
                    (True, True): channel.stream_stream}[
                        (m.client_streaming, m.server_streaming)]
            setattr(self, m.name, kind(path,
                                       request_serializer=req.SerializeToString,
                                       response_deserializer=resp.FromString))


def gen_testing_stubs(out_dir):
    protos = ["grpc/testing/empty.proto", "grpc/testing/messages.proto",
              "grpc/testing/test.proto"]
    gen_stubs(out_dir, [GRPC_PROTO_DIR], protos, ["grpc/testing/test.proto"])


def free_port():
    """A loopback port held for a server this test starts (see
    tests/support/ports.py) until wait_port sees the server on it."""
    return reserved_ports.reserve(1)[0]


def wait_port(port, proc=None, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited with %d" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                reserved_ports.release(port)
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d did not open" % port)


class CountingProxy:
    """A loopback TCP proxy to 127.0.0.1:port that counts the bytes the
    server sends back (to see on the wire whether responses were
    compressed). One connection at a time is enough for one channel."""

    def __init__(self, port):
        self.target = port
        self.down = 0  # server -> client bytes
        self.lock = threading.Lock()
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.stopping = False
        self.socks = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", self.target))
            self.socks += [c, s]
            for src, dst, count in ((c, s, False), (s, c, True)):
                t = threading.Thread(target=self._pipe,
                                     args=(src, dst, count), daemon=True)
                t.start()
                self.threads.append(t)

    def _pipe(self, src, dst, count):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                if count:
                    with self.lock:
                        self.down += len(b)
                dst.sendall(b)
        except OSError:
            pass
        finally:
            for x in (src, dst):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def received(self):
        with self.lock:
            return self.down

    def close(self):
        self.stopping = True
        self.lsock.close()
        for t in self.threads:
            t.join(timeout=5)
        for s in self.socks:
            s.close()


def stop(proc, timeout=15.0):
    """Stops a server process with SIGTERM; returns its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError("server did not stop within %ss" % timeout)
    return proc.returncode


def make_certs(d, name="weft.test"):
    """A CA, a server certificate for `name` signed by it, a client
    certificate, and a second, unrelated CA (for the wrong-CA case)."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    for ca in ("ca", "otherca"):
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=weft test %s" % ca, "-keyout", f"{d}/{ca}.key",
            "-out", f"{d}/{ca}.pem")
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:%s,IP:127.0.0.1\n" % name)
    for who in ("server", "client"):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % name,
            "-keyout", f"{d}/{who}.key", "-out", f"{d}/{who}.csr")
        run("x509", "-req", "-in", f"{d}/{who}.csr", "-CA", f"{d}/ca.pem",
            "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", ext, "-out", f"{d}/{who}.pem")
    return {k: os.path.join(d, k) for k in (
        "ca.pem", "otherca.pem", "server.pem", "server.key", "client.pem",
        "client.key")}


def read(path):
    with open(path, "rb") as f:
        return f.read()


class TempDir:
    def __enter__(self):
        self._td = tempfile.TemporaryDirectory(prefix="weft-grpc-")
        return self._td.name

    def __exit__(self, *a):
        self._td.cleanup()
