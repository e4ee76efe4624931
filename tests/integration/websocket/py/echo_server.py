"""python3-websockets echo server for interop tests of weft's client.

Prints the bound port on stdout, then serves until stdin closes. Paths:
/echo echoes every message; /close1008 closes at once with 1008.
"""
import asyncio
import sys

import websockets


async def handler(ws, path=None):
    path = path if path is not None else ws.path
    try:
        if path.startswith("/close1008"):
            await ws.close(1008, "policy says no")
            return
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass


async def main():
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=4 << 20,
                                subprotocols=["chat"],
                                ping_interval=None,
                                close_timeout=1) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


asyncio.run(main())
