"""Python HTTP/1.1 clients (httpx, aiohttp) against weft's HTTP port:
Connect unary JSON, Connect GET, and a server stream read envelope by
envelope from the chunked response. Prints one line per check; exits 1 on
any mismatch.

usage: /usr/bin/python3 h1_clients.py <base url>
"""
import asyncio
import json
import struct
import sys

import aiohttp
import httpx

BASE = sys.argv[1]
failed = 0


def check(name, ok, detail=""):
    global failed
    print(("ok " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)))
    if not ok:
        failed += 1


def envelope(obj, flags=0):
    data = json.dumps(obj).encode()
    return struct.pack(">BI", flags, len(data)) + data


def envelopes(buf):
    """(flags, json) for each whole envelope in buf, and the bytes left."""
    out = []
    while len(buf) >= 5:
        flags, n = struct.unpack(">BI", buf[:5])
        if len(buf) < 5 + n:
            break
        out.append((flags, json.loads(buf[5:5 + n])))
        buf = buf[5 + n:]
    return out, buf


def check_stream(name, msgs, rest, n):
    data = [m for f, m in msgs if not f & 2]
    ends = [m for f, m in msgs if f & 2]
    ok = ([m.get("index", 0) for m in data] == list(range(n))
          and len(ends) == 1 and "error" not in ends[0] and rest == b""
          and msgs[-1][0] & 2)
    check(name, ok, msgs)


def with_httpx():
    with httpx.Client(http1=True, http2=False, timeout=10) as c:
        r = c.post(BASE + "/weft.test.Echo/Unary", json={"text": "httpx"},
                   headers={"Connect-Protocol-Version": "1"})
        check("httpx unary", r.status_code == 200 and r.http_version ==
              "HTTP/1.1" and r.json() == {"text": "httpx"},
              (r.status_code, r.http_version, r.text))
        r = c.post(BASE + "/weft.test.Echo/Unary",
                   json={"text": "x", "fail_code": 5, "fail_message": "gone"})
        check("httpx unary error", r.status_code == 404 and
              r.json() == {"code": "not_found", "message": "gone"},
              (r.status_code, r.text))
        r = c.get(BASE + "/weft.test.Echo/Unary",
                  params={"connect": "v1", "encoding": "json",
                          "message": json.dumps({"text": "get"})})
        check("httpx GET", r.status_code == 200 and
              r.json() == {"text": "get"}, (r.status_code, r.text))
        # same connection, kept alive: a server stream, envelope by envelope
        with c.stream("POST", BASE + "/weft.test.Echo/ServerStream",
                      content=envelope({"text": "s", "repeat": 4,
                                        "delayMs": 10}),
                      headers={"Content-Type": "application/connect+json"}) as r:
            buf = b""
            for chunk in r.iter_bytes():
                buf += chunk
            msgs, rest = envelopes(buf)
            check_stream("httpx server stream", msgs, rest, 4)


async def with_aiohttp():
    async with aiohttp.ClientSession() as s:
        async with s.post(BASE + "/weft.test.Echo/Unary",
                          json={"text": "aiohttp"}) as r:
            body = await r.json()
            check("aiohttp unary", r.status == 200 and r.version ==
                  aiohttp.HttpVersion11 and body == {"text": "aiohttp"},
                  (r.status, body))
        async with s.post(BASE + "/weft.test.Echo/ServerStream",
                          data=envelope({"text": "a", "repeat": 3}),
                          headers={"Content-Type":
                                   "application/connect+json"}) as r:
            buf = b""
            async for chunk in r.content.iter_any():
                buf += chunk
            msgs, rest = envelopes(buf)
            check_stream("aiohttp server stream", msgs, rest, 3)


with_httpx()
asyncio.run(with_aiohttp())
sys.exit(1 if failed else 0)
