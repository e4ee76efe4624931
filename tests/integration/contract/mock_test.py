#!/usr/bin/python3
"""weft contract mock: the contracts of contracts/ (Echo, all four kinds, and
the AITBC one) served by the mock and verified again by `weft contract
verify` on grpc, h2c, ws and tcp (round trip); Python grpcio and curl
(Connect JSON over HTTP/2) as its clients; an unmatched request answered
with FAILED_PRECONDITION and the nearest interaction's differences;
provider states through metadata; --verify-on-exit failing on interactions
never exercised; the TLS listeners (grpcs, https, wss, tls).
Usage: mock_test.py WEFT CONTRACTS_DIR"""
import os
import signal
import subprocess
import sys

weft, cdir = sys.argv[1], sys.argv[2]
echo = os.path.join(cdir, "echo.contract.json")
aitbc = os.path.join(cdir, "aitbc.contract.json")
steps = os.path.join(cdir, "bidi_steps.contract.json")
failures = []


def start(*args):
    p = subprocess.Popen([weft, "contract", "mock", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    urls = {}
    while len(urls) < 4:
        line = p.stdout.readline()
        if not line:
            break
        scheme = line.split("://")[0]
        urls[scheme] = line.strip()
    if len(urls) != 4:
        p.kill()
        sys.exit("weft contract mock did not start: %r %s" %
                 (urls, p.stderr.read()))
    return p, urls


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    return p.returncode, err


def check(what, cond, detail=""):
    if not cond:
        failures.append("%s\n%s" % (what, detail))


# Round trip on every transport.
mock, urls = start(echo, aitbc, steps, "--verify-on-exit")
try:
    for scheme, url in sorted(urls.items()):
        r = subprocess.run([weft, "contract", "verify", url, echo, aitbc,
                            steps],
                           capture_output=True, text=True, timeout=60)
        check("%s: round trip" % scheme,
              r.returncode == 0 and "12 interactions, 12 passed" in r.stdout,
              r.stdout + r.stderr)

    # Python grpcio as a client: raw protobuf bytes, no generated stubs.
    import grpc
    port = urls["grpc"].rsplit(":", 1)[1]
    with grpc.insecure_channel("127.0.0.1:" + port) as ch:
        unary = ch.unary_unary("/weft.test.Echo/Unary")
        resp, call = unary.with_call(b"\x0a\x02hi", timeout=10,
                                     metadata=[("x-trace", "t-1")])
        md = dict(call.initial_metadata()) | dict(call.trailing_metadata())
        check("grpcio: unary", resp == b"\x0a\x02hi" and
              md.get("x-trace") == "t-1", repr((resp, md)))
        stream = ch.unary_stream("/weft.test.Echo/ServerStream")
        got = list(stream(b"\x0a\x01s\x10\x03", timeout=10))
        check("grpcio: server stream",
              got == [b"\x0a\x01s", b"\x0a\x01s\x10\x01", b"\x0a\x01s\x10\x02"],
              repr(got))
        cs = ch.stream_unary("/weft.test.Echo/ClientStream")
        got = cs(iter([b"\x0a\x01a", b"\x0a\x01b", b"\x0a\x01c"]), timeout=10)
        check("grpcio: client stream", got == b"\x0a\x03abc\x10\x03",
              repr(got))
        # Bidi `steps`: the second message is sent only once the first
        # answer came, which a send-all-then-answer mock would deadlock on.
        import queue
        answered = queue.Queue()

        def chat():
            yield b"\x0a\x01a"
            answered.get(timeout=10)
            yield b"\x0a\x01b"
        got = []
        bidi = ch.stream_stream("/weft.test.Echo/Bidi")
        for msg in bidi(chat(), timeout=10, metadata=[("x-trace", "t-2")]):
            got.append(msg)
            answered.put(1)
        check("grpcio: bidi steps interleave",
              got == [b"\x0a\x01a", b"\x0a\x01b\x10\x01"], repr(got))
        # A second message that does not fit its step.
        answered = queue.Queue()

        def wrong():
            yield b"\x0a\x01a"
            answered.get(timeout=10)
            yield b"\x0a\x01z"
        try:
            for msg in bidi(wrong(), timeout=10,
                            metadata=[("x-trace", "t-2")]):
                answered.put(1)
            check("grpcio: bidi wrong step", False, "no error")
        except grpc.RpcError as e:
            check("grpcio: bidi wrong step",
                  e.code() == grpc.StatusCode.FAILED_PRECONDITION and
                  'steps[2]: requests[1].text: expected "b", got "z"' in
                  e.details(), e.details())
        try:
            unary(b"\x0a\x02ho", timeout=10)
            check("grpcio: unmatched", False, "no error")
        except grpc.RpcError as e:
            check("grpcio: unmatched",
                  e.code() == grpc.StatusCode.FAILED_PRECONDITION and
                  'nearest "a generated id": request.text: expected '
                  '"job-7", got "ho"' in e.details(), e.details())
        # Provider states named by the call: one of the two is missing.
        try:
            unary(b"\x0a\x05job-7", timeout=10,
                  metadata=[("weft-contract-state", "an echo service")])
            check("grpcio: state", False, "no error")
        except grpc.RpcError as e:
            check("grpcio: state",
                  e.code() == grpc.StatusCode.FAILED_PRECONDITION and
                  'given: "ids start at 7" is not in force' in e.details(),
                  e.details())
        resp = unary(b"\x0a\x05job-7", timeout=10,
                     metadata=[("weft-contract-state", "an echo service"),
                               ("weft-contract-state", "ids start at 7")])
        check("grpcio: states in force", resp == b"\x0a\x05job-0", repr(resp))

    # curl: a Connect JSON POST over HTTP/2 without TLS.
    h2 = urls["h2c"].replace("h2c://", "http://")
    r = subprocess.run(
        ["curl", "-sS", "--http2-prior-knowledge", "-H",
         "content-type: application/json", "-H", "x-trace: t-1", "-d",
         '{"text":"hi"}', h2 + "/weft.test.Echo/Unary"],
        capture_output=True, text=True, timeout=30)
    check("curl: unary", r.returncode == 0 and '"text":"hi"' in
          r.stdout.replace(" ", ""), r.stdout + r.stderr)
    r = subprocess.run(
        ["curl", "-sS", "--http2-prior-knowledge", "-H",
         "content-type: application/json", "-d", '{"text":"nope"}',
         h2 + "/weft.test.Echo/Unary"],
        capture_output=True, text=True, timeout=30)
    check("curl: unmatched", '"failed_precondition"' in r.stdout and
          "request.text: expected" in r.stdout, r.stdout + r.stderr)
finally:
    rc, err = stop(mock)
# Every interaction was exercised, but three calls matched none.
check("verify-on-exit after unmatched calls", rc == 100 and
      "unmatched call: /weft.test.Echo/Unary" in err and
      "unmatched call: /weft.test.Echo/Bidi" in err and
      "not exercised" not in err, "rc %d\n%s" % (rc, err))

# --verify-on-exit: only one of the Echo interactions is called.
mock, urls = start(echo, "--verify-on-exit", "--grpc-port", "0",
                   "--h2-port", "0", "--ws-port", "0", "--tcp-port", "0")
try:
    r = subprocess.run([weft, "call", urls["tcp"], "weft.test.Echo/Unary",
                        "--proto", os.path.join(cdir, "../../../support/echo.proto"),
                        "-H", "x-trace: t-1", "-d", '{"text":"hi"}'],
                       capture_output=True, text=True, timeout=30)
    check("weft call", r.returncode == 0 and '"hi"' in r.stdout,
          r.stdout + r.stderr)
finally:
    rc, err = stop(mock)
check("verify-on-exit: unexercised", rc == 100 and
      'not exercised: "three in order" (/weft.test.Echo/ServerStream)' in err
      and 'not exercised: "echo text"' not in err, "rc %d\n%s" % (rc, err))

# The TLS forms: grpcs, https, wss, tls listeners with --cert/--key.
import tempfile
with tempfile.TemporaryDirectory() as d:
    key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
         cert, "-days", "1", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        capture_output=True, timeout=30)
    check("openssl req", r.returncode == 0, r.stderr)
    if r.returncode == 0:
        mock, urls = start(echo, "--cert", cert, "--key", key,
                           *sum([["--listen", s + "://127.0.0.1:0"] for s in
                                 ("grpcs", "https", "wss", "tls")], []))
        try:
            for scheme, url in sorted(urls.items()):
                r = subprocess.run([weft, "contract", "verify", url, echo,
                                    "--cacert", cert],
                                   capture_output=True, text=True, timeout=60)
                check("%s: round trip" % scheme, r.returncode == 0 and
                      "7 interactions, 7 passed" in r.stdout,
                      r.stdout + r.stderr)
        finally:
            stop(mock)

for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
