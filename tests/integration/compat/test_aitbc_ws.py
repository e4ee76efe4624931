"""The AITBC WebSocket API on a weft server, driven by python3-websockets
as an AITBC dashboard / SDK would: job watch to a terminal state, /v1/events,
ping, SDK request and subscribe, and the AIP token check.

usage: test_aitbc_ws.py <weft-aitbc-ws-server>"""
import asyncio
import json
import os
import signal
import subprocess
import sys
import unittest

import websockets

SERVER = None


class Server:
    def __init__(self, *args):
        self.proc = subprocess.Popen([SERVER, *args], stdout=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError("server did not start: %r" % line)
        self.port = int(line.split()[1])

    def url(self, path):
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=30))


async def drain(ws):
    """Every message until the server closes (any close code)."""
    out = []
    try:
        async for text in ws:
            out.append(text)
    except websockets.exceptions.ConnectionClosed:
        pass
    return out


class AitbcWs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_job_watch_to_terminal_state(self):
        async def go():
            got = []
            async with websockets.connect(self.srv.url("/v1/jobs/j1/ws")) as ws:
                async for text in ws:
                    got.append(json.loads(text))
                # The server closed normally after the terminal state.
                self.assertEqual(ws.close_code, 1000)
            return got
        got = run(go())
        self.assertEqual([m["state"] for m in got],
                         ["QUEUED", "RUNNING", "COMPLETED"])
        self.assertEqual(got[0], {"job_id": "j1", "state": "QUEUED",
                                  "assigned_miner_id": None,
                                  "timestamp": "2026-11-23T12:00:00Z",
                                  "progress": 0})
        self.assertEqual(got[1]["assigned_miner_id"], "m7")
        self.assertEqual(got[1]["progress"], 0.5)
        self.assertEqual(list(got[2].keys()),
                         ["job_id", "state", "assigned_miner_id", "timestamp",
                          "progress"])

    def test_failed_job_and_unknown_job(self):
        async def go():
            async with websockets.connect(self.srv.url("/v1/jobs/fail/ws")) as ws:
                states = [json.loads(t)["state"] async for t in ws]
                self.assertEqual(states, ["QUEUED", "FAILED"])
                self.assertEqual(ws.close_code, 1000)
            async with websockets.connect(self.srv.url("/v1/jobs/nope/ws")) as ws:
                msgs = [json.loads(t) for t in await drain(ws)]
                self.assertEqual(msgs[0]["type"], "error")
                self.assertIn("NOT_FOUND", msgs[0]["message"])
                self.assertEqual(ws.close_code, 1011)
        run(go())

    def test_ping(self):
        async def go():
            async with websockets.connect(self.srv.url("/v1/jobs/j1/ws")) as ws:
                await ws.send(json.dumps({"type": "ping"}))
                seen = [json.loads(t) async for t in ws]
                self.assertIn({"type": "pong"}, seen)
        run(go())

    def test_events(self):
        async def go():
            async with websockets.connect(self.srv.url("/v1/events")) as ws:
                got = [json.loads(await ws.recv()) for _ in range(3)]
                await ws.send('{"type": "ping"}')
                pong = json.loads(await ws.recv())
            return got, pong
        got, pong = run(go())
        by_type = {m["type"]: m for m in got}
        self.assertEqual(set(by_type), {"new_block", "transaction_confirmed",
                                        "new_offer"})
        block = by_type["new_block"]["block"]
        self.assertEqual(block["chain_id"], "ait-devnet")
        self.assertEqual(block["height"], 12)  # a JSON number, as AITBC sends
        self.assertEqual(block["parent_hash"], "0xaa")
        # "sequence": weft's StreamEvents cursor (unset by this server).
        self.assertEqual(by_type["transaction_confirmed"],
                         {"type": "transaction_confirmed", "tx_hash": "0x01",
                          "sequence": "0"})
        offer = by_type["new_offer"]["offer"]
        self.assertEqual(offer["gpu_type"], "A100")
        self.assertEqual(offer["price_per_hour"], 1.5)
        self.assertEqual(pong, {"type": "pong"})

    def test_sdk_request_and_subscribe(self):
        async def go():
            async with websockets.connect(self.srv.url("/v1/events")) as ws:
                await ws.send(json.dumps({
                    "id": "6f1c2f3e-8d4b-4c1a-9e2f-1a2b3c4d5e6f",
                    "type": "request", "method": "GET", "path": "/v1/jobs/j1",
                    "data": None, "params": None,
                    "timestamp": "2026-11-23T12:00:00.000001"}))
                await ws.send(json.dumps({
                    "id": 7, "type": "request", "method": "GET",
                    "path": "/v1/jobs/zzz", "data": None, "params": None}))
                await ws.send(json.dumps({
                    "id": "s1", "type": "subscribe", "event": "new_offer",
                    "data": None}))
                want = {"response", "subscription", "event"}
                seen = {}
                order = []
                while len(seen) < 4:
                    m = json.loads(await ws.recv())
                    if m.get("type") == "response":
                        seen["response-%s" % m["id"]] = m
                    elif m.get("type") in want:
                        seen[m["type"]] = m
                        order.append(m["type"])
                # Confirmed before the first event.
                self.assertEqual(order[:2], ["subscription", "event"])
                await ws.send(json.dumps({"id": "s1", "type": "unsubscribe"}))
                await ws.send(json.dumps({"type": "ping"}))
                while json.loads(await ws.recv()) != {"type": "pong"}:
                    pass
            return seen
        seen = run(go())
        ok = seen["response-6f1c2f3e-8d4b-4c1a-9e2f-1a2b3c4d5e6f"]
        self.assertEqual(ok["status"], 200)
        self.assertEqual(ok["data"]["job_id"], "j1")
        self.assertEqual(ok["data"]["state"], "COMPLETED")
        missing = seen["response-7"]
        self.assertEqual(missing["status"], 404)
        self.assertIn("no job zzz", missing["message"])
        self.assertEqual(seen["subscription"],
                         {"type": "subscription", "subscription_id": "s1",
                          "status": "confirmed"})
        self.assertEqual(seen["event"]["event"], "new_offer")
        self.assertEqual(seen["event"]["subscription_id"], "s1")
        self.assertEqual(seen["event"]["data"]["offer"]["id"], "o1")

    def test_aip_clients_connect_to_ws(self):
        # ws://host/ws is where AIP clients connect: SDK requests and ping
        # work there, and no event arrives before a subscribe.
        async def go():
            async with websockets.connect(self.srv.url("/ws")) as ws:
                await ws.send(json.dumps({
                    "id": 1, "type": "request", "method": "GET",
                    "path": "/v1/jobs/j1", "data": None, "params": None}))
                await ws.send(json.dumps({"type": "ping"}))
                got = [json.loads(await ws.recv()) for _ in range(2)]
                try:
                    extra = await asyncio.wait_for(ws.recv(), 0.3)
                except asyncio.TimeoutError:
                    extra = None
                return got, extra
        got, extra = run(go())
        resp = [m for m in got if m.get("type") == "response"]
        self.assertEqual(len(resp), 1, got)
        self.assertEqual(resp[0]["status"], 200)
        self.assertEqual(resp[0]["data"]["job_id"], "j1")
        self.assertIn({"type": "pong"}, got)
        self.assertIsNone(extra)

    def test_sdk_requests_routed_by_the_schema_annotations(self):
        # Routes come from the google.api.http rules of the server's own
        # services: a known path with another verb is 405, a path of a
        # service the server lacks is 404, a trailing '/' and a lowercase
        # verb are accepted, a percent-escaped id is decoded.
        async def go():
            async with websockets.connect(self.srv.url("/ws")) as ws:
                for i, (method, path) in enumerate([
                        ("PATCH", "/v1/jobs/j1"),
                        ("GET", "/v1/wallet/balance"),
                        ("get", "/v1/jobs/j1/"),
                        ("GET", "/v1/jobs/z%7Az"),
                        ("GET", "/v1/jobs/j1/status")]):
                    await ws.send(json.dumps({
                        "id": i, "type": "request", "method": method,
                        "path": path, "data": None, "params": None}))
                got = {}
                while len(got) < 5:
                    m = json.loads(await ws.recv())
                    if m.get("type") == "response":
                        got[m["id"]] = m
                return got
        got = run(go())
        self.assertEqual(got[0]["status"], 405, got[0])
        self.assertEqual(got[1]["status"], 404, got[1])
        self.assertIn("no such route", got[1]["message"])
        self.assertEqual(got[2]["status"], 200, got[2])
        self.assertEqual(got[2]["data"]["job_id"], "j1")
        self.assertEqual(got[3]["status"], 404, got[3])
        self.assertIn("no job zzz", got[3]["message"])
        # A stream's route answers a request with "subscribe to it" (501).
        self.assertEqual(got[4]["status"], 501, got[4])
        self.assertIn("subscribe", got[4]["message"])

    def test_sdk_request_data_and_params_must_be_objects(self):
        # Once dropped without a word (the call ran with {}): now a 400
        # naming the key, and the connection goes on.
        async def go():
            async with websockets.connect(self.srv.url("/ws")) as ws:
                for i, (data, params) in enumerate([
                        ([1], None), ({}, "x"), ({"job_id": "j1"}, {})]):
                    await ws.send(json.dumps({
                        "id": i, "type": "request", "method": "GET",
                        "path": "/v1/jobs/j1", "data": data,
                        "params": params}))
                got = {}
                while len(got) < 3:
                    m = json.loads(await ws.recv())
                    if m.get("type") == "response":
                        got[m["id"]] = m
                return got
        got = run(go())
        self.assertEqual(got[0]["status"], 400, got[0])
        self.assertIn('"data" must be an object', got[0]["message"])
        self.assertEqual(got[1]["status"], 400, got[1])
        self.assertIn('"params" must be an object', got[1]["message"])
        self.assertEqual(got[2]["status"], 200, got[2])
        self.assertEqual(got[2]["data"]["job_id"], "j1")

    def test_bad_message_gets_error(self):
        async def go():
            async with websockets.connect(self.srv.url("/v1/events")) as ws:
                await ws.send("{not json")
                while True:
                    m = json.loads(await ws.recv())
                    if m["type"] == "error":
                        return m
        m = run(go())
        self.assertIn("invalid JSON", m["message"])

    def test_root_is_the_envelope_endpoint_and_unrouted_paths_are_404(self):
        async def go(path):
            async with websockets.connect(
                    self.srv.url(path),
                    subprotocols=["weft.json.v1"]) as ws:
                return ws.subprotocol
        self.assertEqual(run(go("/")), "weft.json.v1")
        # Paths no route takes are refused before the upgrade (the WebSocket
        # server answers only its listen path with the envelope endpoint).
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
            run(go("/v1/jobs/j1"))
        self.assertEqual(cm.exception.status_code, 404)


class Token(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("--key=s3cret")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def closed_with(self, path):
        async def go():
            async with websockets.connect(self.srv.url(path)) as ws:
                msgs = await drain(ws)
                return ws.close_code, ws.close_reason, msgs
        return run(go())

    def test_missing_or_wrong_token_closes_1008(self):
        for path in ("/v1/jobs/j1/ws", "/v1/jobs/j1/ws?token=wrong",
                     "/v1/events", "/ws", "/ws?token=wrong"):
            code, reason, msgs = self.closed_with(path)
            self.assertEqual(code, 1008, path)
            self.assertEqual(reason, "Invalid or missing token", path)
            self.assertEqual(msgs, [], path)

    def test_good_token(self):
        code, _, msgs = self.closed_with("/v1/jobs/j1/ws?token=s3cret")
        self.assertEqual(code, 1000)
        self.assertEqual([json.loads(m)["state"] for m in msgs],
                         ["QUEUED", "RUNNING", "COMPLETED"])

    def test_good_token_on_the_aip_path(self):
        async def go():
            async with websockets.connect(
                    self.srv.url("/ws?token=s3cret")) as ws:
                await ws.send(json.dumps({"type": "ping"}))
                return json.loads(await ws.recv())
        self.assertEqual(run(go()), {"type": "pong"})


if __name__ == "__main__":
    SERVER = sys.argv.pop(1)
    unittest.main()
