"""python3-websockets client against weft's WebSocket server.

Usage: client.py PORT. The weft server (started by the C++ test) has API
key "k1", max_size 2 MiB, and routes /echo (echo) and /hello (greets, then
closes 1000 "bye"). Exits 0 and prints OK when every check passed.
"""
import asyncio
import sys

import websockets


async def main(port):
    base = f"ws://127.0.0.1:{port}"
    async with websockets.connect(base + "/echo?api_key=k1",
                                  max_size=8 << 20) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send("κόσμε ✓")
        assert await ws.recv() == "κόσμε ✓"
        await ws.send(b"\x00\x01\xff")
        assert await ws.recv() == b"\x00\x01\xff"
        big = bytes(range(256)) * 4096  # 1 MiB
        await ws.send(big)
        assert await ws.recv() == big
        await ws.send(["frag", "ment", "ed ✓"])  # three frames
        assert await ws.recv() == "fragmented ✓"
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)
        await ws.close(1000, "done")
        assert ws.close_code == 1000, ws.close_code

    # The API key as a header works too; without one the upgrade is refused.
    async with websockets.connect(base + "/echo",
                                  extra_headers={"X-Api-Key": "k1"}) as ws:
        await ws.send("h")
        assert await ws.recv() == "h"
    try:
        async with websockets.connect(base + "/echo"):
            raise AssertionError("connected without an API key")
    except websockets.exceptions.InvalidStatusCode as e:
        assert e.status_code == 401, e.status_code

    # A server-initiated close handshake.
    async with websockets.connect(base + "/hello?api_key=k1") as ws:
        assert await ws.recv() == "hello"
        try:
            await ws.recv()
            raise AssertionError("expected a close")
        except websockets.exceptions.ConnectionClosedOK as e:
            assert e.rcvd.code == 1000 and e.rcvd.reason == "bye", e

    # Over the server's max_size: closed with 1009.
    async with websockets.connect(base + "/echo?api_key=k1",
                                  max_size=8 << 20) as ws:
        try:  # the close may already interrupt the send
            await ws.send(b"x" * (3 << 20))
            await ws.recv()
            raise AssertionError("expected 1009")
        except websockets.exceptions.ConnectionClosedError as e:
            assert e.rcvd.code == 1009, e
    print("OK")


asyncio.run(main(int(sys.argv[1])))
