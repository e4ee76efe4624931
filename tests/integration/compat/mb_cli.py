#!/usr/bin/python3
"""The weft command as an MB client, against `weft serve --mb-port`:
subscribe (over WebSocket), publish and call (over TCP) through the broker,
and the exit codes of MB errors; then the same over TLS (mbs://, mb+wss://
with --cacert and --api-key). Usage: mb_cli.py WEFT_BINARY"""
import os
import subprocess
import sys
import tempfile
import time

weft = sys.argv[1]
serve = subprocess.Popen(
    [weft, "serve", "--grpc-port", "-1", "--h2-port", "-1", "--tcp-port", "-1",
     "--ws-port", "0", "--mb-port", "0", "-q"],
    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
failures = []


def check(what, ok, detail=""):
    if not ok:
        failures.append(f"{what}: {detail}")


def run(*args, timeout=20):
    return subprocess.run([weft, *args], capture_output=True, text=True,
                          timeout=timeout)


try:
    urls = {}
    deadline = time.time() + 20
    while len(urls) < 2 and time.time() < deadline:
        line = serve.stdout.readline()
        if not line:
            break
        if line.startswith("listening on mb://"):
            urls["tcp"] = line.split()[-1]
        elif line.startswith("listening on ws://"):
            urls["ws"] = "mb+ws://" + line.split("ws://")[1].strip()
    if len(urls) < 2:
        sys.exit("weft serve did not print its mb:// and ws:// URLs")
    mb, ws = urls["tcp"], urls["ws"]

    sub = subprocess.Popen([weft, "subscribe", ws, "blocks.new", "--max-time",
                            "4"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    # Publish until the subscriber is in place (the broker acknowledges a
    # publish only when someone subscribes: exit 0, else NO_ROUTE_FOUND 24).
    rc = None
    for _ in range(60):
        r = run("publish", mb, "blocks.new", "-d", '{"height":7}')
        rc = r.returncode
        if rc == 0:
            break
        check("publish before subscribe", rc == 24, r.stderr)
        time.sleep(0.05)
    check("publish", rc == 0, f"rc {rc}")
    out, err = sub.communicate(timeout=20)
    check("subscribe output", out.splitlines()[:1] == ['{"height":7}'],
          repr(out) + err)
    check("subscribe rc", sub.returncode == 0, err)

    r = run("call", mb, "nobody.home", "-d", "{}")
    check("call without a route", r.returncode == 24 and
          "NO_ROUTE_FOUND" in r.stderr, f"{r.returncode} {r.stderr}")
    r = run("call", mb, "system.service.list", "--name", "lister")
    check("call system.service.list", r.returncode == 0 and
          '"name":"lister","description":"lister"' in r.stdout,
          f"{r.returncode} {r.stdout} {r.stderr}")
    r = run("call", ws, "system.nope")
    check("unknown system topic", r.returncode == 22 and
          "TOPIC_NOT_SUPPORTED" in r.stderr, f"{r.returncode} {r.stderr}")
    r = run("call", mb, "t", "--name", "n" * 37)
    check("name over the limit", r.returncode == 2 and "36" in r.stderr,
          f"{r.returncode} {r.stderr}")
    r = run("publish", mb, "t")
    check("publish without -d", r.returncode == 2, f"{r.returncode}")
finally:
    serve.terminate()
    serve.wait(timeout=20)

def tls_phase(d):
    """`weft serve --tls-cert` runs the MB port over TLS (mbs://) and MB
    over WebSocket on wss://; the CLI reaches both with --cacert, sends
    --api-key on the WebSocket upgrade, and refuses an untrusted server."""
    key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
         cert, "-days", "1", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        capture_output=True, timeout=30)
    if r.returncode != 0:
        failures.append("openssl req failed: " + r.stderr.decode())
        return
    srv = subprocess.Popen(
        [weft, "serve", "--grpc-port", "-1", "--h2-port", "-1", "--tcp-port",
         "-1", "--ws-port", "0", "--mb-port", "0", "--tls-cert", cert,
         "--tls-key", key, "--api-key", "k1", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        urls = {}
        deadline = time.time() + 20
        while len(urls) < 2 and time.time() < deadline:
            line = srv.stdout.readline()
            if not line:
                break
            if line.startswith("listening on mbs://"):
                urls["tls"] = line.split()[-1]
            elif line.startswith("listening on wss://"):
                urls["wss"] = "mb+wss://" + line.split("wss://")[1].strip()
        if len(urls) < 2:
            failures.append("TLS serve did not print mbs:// and wss:// URLs")
            return
        tls = ["--cacert", cert]
        sub = subprocess.Popen(
            [weft, "subscribe", urls["wss"], "blocks.new", "--max-time", "4",
             "--api-key", "k1", *tls], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        rc, err = None, ""
        for _ in range(60):
            r = run("publish", urls["tls"], "blocks.new", "-d", '{"h":8}',
                    *tls)
            rc, err = r.returncode, r.stderr
            if rc != 24:  # 24: nobody subscribed yet
                break
            time.sleep(0.05)
        check("publish over mbs://", rc == 0, f"rc {rc} {err}")
        out, err = sub.communicate(timeout=20)
        check("subscribe over mb+wss://", out.splitlines()[:1] == ['{"h":8}']
              and sub.returncode == 0, repr(out) + err)
        r = run("call", urls["tls"], "system.service.list")
        check("mbs:// without --cacert is refused", r.returncode == 3,
              f"{r.returncode} {r.stderr}")
        r = run("call", urls["wss"], "system.service.list", "--api-key", "no",
                *tls)
        check("mb+wss:// with a wrong key is refused", r.returncode == 3,
              f"{r.returncode} {r.stderr}")
    finally:
        srv.terminate()
        srv.wait(timeout=20)


with tempfile.TemporaryDirectory() as tmp:
    tls_phase(tmp)

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("ok")
