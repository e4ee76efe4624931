#!/usr/bin/python3
"""The weft command as an MB client, against `weft serve --mb-port`:
subscribe (over WebSocket), publish and call (over TCP) through the broker,
and the exit codes of MB errors. Usage: mb_cli.py WEFT_BINARY"""
import subprocess
import sys
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

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("ok")
