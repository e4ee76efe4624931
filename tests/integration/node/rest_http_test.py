#!/usr/bin/python3
"""The AITBC REST routes (google.api.http annotations in schema/aitbc/v1)
on `weft serve`'s HTTP port, driven the way the AITBC Python SDK's
HTTPTransport drives them: aiohttp over HTTP/1.1 with JSON bodies, an
X-Api-Key or Authorization: Bearer header, and `{"error": ...}` bodies with
a status >= 400 on failure. Server-streaming routes (Jobs.Watch,
Marketplace.WatchEvents) answer JSON lines, grpc-gateway's way. One unary
and one streaming route are also called over HTTP/2 (curl
--http2-prior-knowledge) to show both versions share the table, and weft's
own http:// client calls the port with --protocol connect, grpc-web and
grpc.

usage: rest_http_test.py path/to/weft
"""
import asyncio
import gzip
import json
import os
import signal
import subprocess
import sys
import time

try:
    import aiohttp
except ImportError:
    print("SKIP: python3-aiohttp is not installed")
    sys.exit(77)

WEFT = os.path.abspath(sys.argv[1])
KEY = "sdk-key-1"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def start_node():
    p = subprocess.Popen(
        [WEFT, "serve", "--quiet", "--grpc-port", "-1", "--ws-port", "-1",
         "--tcp-port", "-1", "--h2-port", "0", "--api-key", KEY,
         "--block-interval-ms", "200", "--job-step-ms", "100"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 15
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        if line.startswith("listening on h2c://"):
            return p, "http://" + line.split()[2].split("://", 1)[1]
    p.kill()
    raise SystemExit("node did not start: " + p.stderr.read())


async def req(session, verb, path, body=None, headers=None, want=200):
    h = {"X-Api-Key": KEY}
    if headers is not None:
        h = headers
    async with session.request(verb, BASE + path, json=body,
                               headers=h) as r:
        text = await r.text()
        ctype = r.headers.get("Content-Type", "")
        check(r.status == want,
              "%s %s -> %d (want %d): %s" % (verb, path, r.status, want, text))
        check(ctype.startswith("application/json"),
              "%s %s: Content-Type %r" % (verb, path, ctype))
        try:
            js = await r.json(content_type=None)
        except ValueError:
            check(False, "%s %s: not JSON: %r" % (verb, path, text))
            return {}
        if want >= 400:
            check(isinstance(js.get("error"), str) and js["error"],
                  "%s %s: no error message in %r" % (verb, path, js))
        return js


started = {}
WATCHED = []


async def stream(session, path, headers=None):
    """A server-streaming route's JSON lines (200, application/json)."""
    async with session.get(BASE + path,
                           headers=headers or {"X-Api-Key": KEY}) as r:
        started[path.rsplit("/", 1)[-1]] = True
        check(r.status == 200, "GET %s -> %d" % (path, r.status))
        ctype = r.headers.get("Content-Type", "")
        check(ctype.startswith("application/json"),
              "GET %s: Content-Type %r" % (path, ctype))
        out = []
        async for raw in r.content:
            try:
                out.append(json.loads(raw))
            except ValueError:
                check(False, "GET %s: not a JSON line: %r" % (path, raw))
            check(raw.endswith(b"\n"), "GET %s: %r ends no line" % (path, raw))
        return out


async def main():
    async with aiohttp.ClientSession() as s:
        # Health and auth: the key is required, in either header.
        h = await req(s, "GET", "/health")
        check(h.get("status") == "ok", "health: %r" % h)
        await req(s, "GET", "/v1/jobs", headers={}, want=401)
        await req(s, "GET", "/v1/jobs", headers={"X-Api-Key": "wrong"},
                  want=401)
        await req(s, "GET", "/v1/jobs",
                  headers={"Authorization": "Bearer " + KEY})
        basic = aiohttp.BasicAuth("sdk", KEY).encode()
        await req(s, "GET", "/v1/jobs", headers={"Authorization": basic})
        await req(s, "GET", "/v1/jobs",
                  headers={"Authorization": aiohttp.BasicAuth(KEY).encode()})
        await req(s, "GET", "/v1/jobs",
                  headers={"Authorization":
                           aiohttp.BasicAuth("sdk", "nope").encode()},
                  want=401)

        # Jobs: create, read, list (with a query parameter), update, cancel.
        j = await req(s, "POST", "/v1/jobs",
                      {"payload": {"model": "llama"}, "ttl_seconds": 600})
        jid = j.get("job_id", "")
        check(jid and j.get("state") == "QUEUED", "create job: %r" % j)
        g = await req(s, "GET", "/v1/jobs/" + jid)
        check(g.get("job_id") == jid, "get job: %r" % g)
        lst = await req(s, "GET", "/v1/jobs?limit=10")
        check(any(x.get("job_id") == jid for x in lst.get("jobs", [])),
              "list jobs: %r" % lst)
        u = await req(s, "PUT", "/v1/jobs/" + jid,
                      {"constraints": {"gpu": "A100"}, "ttl_seconds": 300})
        check(u.get("job_id") == jid, "update job: %r" % u)
        j2 = await req(s, "POST", "/v1/jobs", {"payload": {"model": "b"}})
        c = await req(s, "DELETE", "/v1/jobs/" + j2.get("job_id", "x"))
        check(c.get("state") == "CANCELLED", "cancel job: %r" % c)
        await req(s, "GET", "/v1/jobs/no-such-job", want=404)
        await req(s, "PATCH", "/v1/jobs", want=405)
        await req(s, "GET", "/v1/jobs?no_such_param=1", want=400)
        await req(s, "GET", "/v1/nothing/here", want=404)

        # A gzip request body (Content-Encoding) is inflated first.
        body = gzip.compress(json.dumps({"payload": {"model": "z"}}).encode())
        async with s.post(BASE + "/v1/jobs", data=body,
                          headers={"X-Api-Key": KEY,
                                   "Content-Type": "application/json",
                                   "Content-Encoding": "gzip"}) as r:
            js = await r.json(content_type=None)
            check(r.status == 200 and js.get("state") == "QUEUED",
                  "gzip body: %d %r" % (r.status, js))
        async with s.post(BASE + "/v1/jobs", data=b"{}",
                          headers={"X-Api-Key": KEY,
                                   "Content-Encoding": "br"}) as r:
            check(r.status == 415, "br body: %d" % r.status)

        # Marketplace.
        o = await req(s, "POST", "/v1/marketplace/offers",
                      {"gpu_type": "L40S", "gpu_memory": 48, "gpu_count": 1,
                       "price_per_hour": 0.9, "region": "rest"})
        oid = o.get("id", "")
        check(oid and o.get("status") == "open", "create offer: %r" % o)
        g = await req(s, "GET", "/v1/marketplace/offers/" + oid)
        check(g.get("region") == "rest", "get offer: %r" % g)
        lo = await req(s, "GET", "/v1/marketplace/offers")
        check(any(x.get("id") == oid for x in lo.get("offers", [])),
              "list offers: %r" % lo)
        up = await req(s, "PUT", "/v1/marketplace/offers/" + oid,
                       {"price_per_hour": 1.25})
        check(up.get("price_per_hour") == 1.25, "update offer: %r" % up)
        a = await req(s, "POST", "/v1/marketplace/offers/%s/accept" % oid,
                      {"job_id": jid, "duration_hours": 1})
        check(a.get("status") == "matched", "accept offer: %r" % a)
        await req(s, "POST", "/v1/marketplace/offers/%s/accept" % oid,
                  {"job_id": jid}, want=400)  # FAILED_PRECONDITION
        d = await req(s, "POST", "/v1/marketplace/offers",
                      {"gpu_type": "T4", "price_per_hour": 0.1})
        await req(s, "DELETE", "/v1/marketplace/offers/" + d.get("id", "x"))
        await req(s, "GET", "/v1/marketplace/offers/" + d.get("id", "x"),
                  want=404)
        st = await req(s, "GET", "/v1/marketplace/stats")
        check(st.get("matched_offers", 0) >= 1, "stats: %r" % st)

        # Receipts, settlement, wallet.
        await req(s, "GET", "/v1/receipts")
        await req(s, "GET", "/v1/receipts/no-such-job", want=404)
        b = await req(s, "GET", "/v1/settlement/bridges")
        check(isinstance(b.get("bridges"), list), "bridges: %r" % b)
        ch = await req(s, "GET", "/v1/settlement/chains")
        check(any(x.get("chain_id") == 137 for x in ch.get("chains", [])),
              "chains: %r" % ch)
        est = await req(s, "POST", "/v1/settlement/estimate-cost",
                        {"job_id": jid, "target_chain_id": 137})
        check(est.get("bridge_name"), "estimate: %r" % est)
        # Only a completed job settles: wait for one (job steps are 100 ms).
        done = await req(s, "POST", "/v1/jobs", {"payload": {"model": "c"}})
        did = done.get("job_id", "x")
        for _ in range(100):
            if (await req(s, "GET", "/v1/jobs/" + did)).get("state") == \
                    "COMPLETED":
                break
            await asyncio.sleep(0.1)
        r = await req(s, "POST", "/v1/settlement/cross-chain",
                      {"job_id": did, "target_chain_id": 137,
                       "priority": "speed"})
        mid = r.get("message_id", "")
        check(mid, "settle: %r" % r)
        ss = await req(s, "GET", "/v1/settlement/%s/status" % mid)
        check(ss.get("message_id") == mid, "settlement status: %r" % ss)
        rc = await req(s, "GET", "/v1/receipts/" + did)
        check(rc.get("job_id") == did, "receipt: %r" % rc)
        ad = await req(s, "GET", "/v1/wallet/address")
        check(ad.get("address"), "address: %r" % ad)
        await req(s, "GET", "/v1/wallet/balance")
        await req(s, "GET", "/v1/wallet/transactions")
        w = await req(s, "POST", "/v1/wallet", {})
        check(w.get("address"), "create wallet: %r" % w)

        # Server-streaming routes answer JSON lines (grpc-gateway's shape):
        # Jobs.Watch over HTTP/1.1 follows a job to its terminal state.
        wj = await req(s, "POST", "/v1/jobs", {"payload": {"model": "w"}})
        wid = wj.get("job_id", "x")
        WATCHED.append(wid)
        lines = await stream(s, "/v1/jobs/%s/status" % wid)
        states = [x.get("result", {}).get("state") for x in lines]
        check(len(lines) >= 2 and all("result" in x for x in lines) and
              states[-1] == "COMPLETED" and
              all(x["result"].get("job_id") == wid for x in lines),
              "watch job over HTTP/1.1: %r" % lines)
        # An error before the first reply keeps the HTTP status.
        await req(s, "GET", "/v1/jobs/no-such-job/status", want=404)
        # An error once replies went out is the last line: Marketplace
        # events with a deadline (grpc-gateway's Grpc-Timeout), an offer
        # posted until the stream has started.
        ev = asyncio.ensure_future(
            stream(s, "/v1/marketplace/events",
                   {"X-Api-Key": KEY, "Grpc-Timeout": "2S"}))
        for _ in range(50):
            await req(s, "POST", "/v1/marketplace/offers",
                      {"gpu_type": "T4", "price_per_hour": 0.1})
            await asyncio.sleep(0.1)
            if started.get("events"):
                break
        lines = await ev
        check(len(lines) >= 2 and "result" in lines[0] and
              lines[-1].get("error", {}).get("code") == 4 and
              lines[-1]["error"].get("message") and
              lines[-1]["error"].get("details") == [],
              "events until the deadline: %r" % lines)

    # The same table over HTTP/2.
    out = subprocess.run(
        ["curl", "-s", "--http2-prior-knowledge", "-H", "X-Api-Key: " + KEY,
         "-w", "\n%{http_code} %{http_version}", BASE + "/v1/marketplace/stats"],
        capture_output=True, text=True, timeout=15).stdout
    check(out.endswith("200 2"), "stats over HTTP/2: %r" % out)
    out = subprocess.run(
        ["curl", "-s", "-N", "--http2-prior-knowledge", "-H",
         "X-Api-Key: " + KEY, "-w", "%{http_code} %{http_version}",
         BASE + "/v1/jobs/%s/status" % WATCHED[0]],
        capture_output=True, text=True, timeout=15).stdout
    body, _, tail = out.rpartition("\n")
    lines = [json.loads(x) for x in body.split("\n")] if body else []
    check(tail == "200 2" and lines and
          lines[-1].get("result", {}).get("state") == "COMPLETED",
          "watch job over HTTP/2: %r" % out)

    # weft's own http:// client against the same port: Connect and gRPC-Web
    # over HTTP/1.1, gRPC over HTTP/2; errors keep their code (exit 10+N).
    for proto in ("connect", "grpc-web", "grpc"):
        r = subprocess.run(
            [WEFT, "call", BASE, "aitbc.v1.Marketplace/GetStats", "-d", "{}",
             "-H", "x-api-key: " + KEY, "--protocol", proto],
            capture_output=True, text=True, timeout=15)
        check(r.returncode == 0 and '"total_offers"' in r.stdout,
              "weft call --protocol %s: %d %s %s" %
              (proto, r.returncode, r.stdout, r.stderr))
        r = subprocess.run(
            [WEFT, "call", BASE, "aitbc.v1.Jobs/GetJob", "-d",
             '{"job_id":"zz"}', "-H", "x-api-key: " + KEY,
             "--protocol", proto],
            capture_output=True, text=True, timeout=15)
        check(r.returncode == 15 and "not found" in r.stderr,
              "weft call --protocol %s NOT_FOUND: %d %s" %
              (proto, r.returncode, r.stderr))


node, BASE = start_node()
try:
    asyncio.run(asyncio.wait_for(main(), 60))
finally:
    node.send_signal(signal.SIGTERM)
    try:
        rc = node.wait(timeout=10)
    except subprocess.TimeoutExpired:
        node.kill()
        rc = "hung"
    check(rc == 0, "node exit status %r" % rc)

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("ok")
