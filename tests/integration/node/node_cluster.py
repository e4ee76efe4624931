#!/usr/bin/python3
"""Several `weft serve --nats` nodes sharing one nats-server (JetStream KV).

Each case starts its own nats-server on a free loopback port with a
temporary store, two or three nodes, and stops them all:
  jobs    a job created through A is read through B and C, watched from B
          while C cancels it; a job made on B runs to COMPLETED (stepped by
          the leader) as seen by a watch on C; its receipt is read, listed
          and verified on every node and streamed on A
  leader  kill -9 the block-producing node: another one seals the next
          block within a few seconds, every node serves the same chain, and
          a StreamEvents on a third node sees blocks from both leaders
  offers  offers created on one node are read and listed on the others;
          concurrent AcceptOffer of one offer from two nodes: exactly one
          wins; concurrent UpdateOffer of different fields and concurrent
          Stakes from two nodes: no update is lost; one wallet everywhere
  nats    NATS killed while running: calls fail with UNAVAILABLE naming
          NATS, and work again once it is back; a node started without
          NATS exits 1 with the reason
  wallet  a node killed (kill -9, at a test hook) right after a Send has
          debited, and another right after it has credited: the leader
          finishes each transfer, once; transfers are listed on every node
  settle  settlements made on one node are read, watched, refunded on the
          others; the leader steps them and pays the wallet once; a job's
          receipt settles once, also when two nodes try at the same time
  market  Marketplace/WatchEvents on one node sees the offer changes made
          on the others, each once, in order; the leader expires offers
  mempool transactions made on any node are sealed by the leader into one
          block each, then confirmed: GetTransaction, GetBlock,
          ListTransactions and StreamEvents agree on every node
  resume  StreamEvents from a cursor (after_sequence): a client reads from
          node b, b is killed (kill -9), the client resumes on c after the
          last sequence it got: every block once, in order, linked
  txevents transactions sent through a are streamed by StreamEvents on b
          as transaction_pending, then transaction_confirmed carrying their
          block's sequence right after its new_block; a resume on c before
          that block replays them, one after it does not

usage: node_cluster.py path/to/weft CASE
Exits 77 (skipped) only when nats-server is not installed.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "support"))
import ports as reserved_ports  # noqa: E402

WEFT = os.path.abspath(sys.argv[1])
CASE = sys.argv[2]
NATS = shutil.which("nats-server") or (
    "/usr/sbin/nats-server" if os.path.exists("/usr/sbin/nats-server") else None)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def free_port():
    """A loopback port held (see tests/support/ports.py) until
    reserved_ports.release: for a server this test starts, or one that must
    stay unanswered."""
    return reserved_ports.reserve(1)[0]


class NatsServer:
    def __init__(self, port=None, store=None):
        self.port = port or free_port()
        self.store = store or tempfile.mkdtemp(prefix="weft-nats-")
        self.p = subprocess.Popen(
            [NATS, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd",
             self.store], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                reserved_ports.release(self.port)
                return
            except OSError:
                if self.p.poll() is not None:
                    break
                time.sleep(0.05)
        raise SystemExit("nats-server did not start: %s" %
                         self.p.stderr.read().decode(errors="replace"))

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.port

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


class Node:
    def __init__(self, nats, name, *extra, env=None):
        self.name = name
        args = [WEFT, "serve", "--quiet", "--nats", nats.url, "--node-id",
                name, "--grpc-port", "-1", "--h2-port", "-1", "--ws-port",
                "-1", "--tcp-port", "0", "--block-interval-ms", "200",
                "--job-step-ms", "100", "--lease-ms", "1000", *extra]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ, **(env or {})))
        self.url = None
        deadline = time.time() + 15
        while not self.url and time.time() < deadline:
            line = self.p.stdout.readline()
            if not line:
                break
            if line.startswith("listening on "):
                self.url = line.split()[2]
        if not self.url:
            self.p.kill()
            raise SystemExit("node %s did not start: %s" %
                             (name, self.p.stderr.read()))

    def stop(self):
        """SIGTERM; a node must exit 0 (a sanitizer report fails it)."""
        if self.p.poll() is not None:
            return  # killed by the test
        self.p.send_signal(signal.SIGTERM)
        try:
            _, err = self.p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            _, err = self.p.communicate()
        check(self.p.returncode == 0, "node %s exits %s on SIGTERM: %s" %
              (self.name, self.p.returncode, err[-3000:]))


def call(node, method, data=None, timeout=10):
    args = [WEFT, "call", node.url, "aitbc.v1." + method, "-d",
            json.dumps(data or {})]
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def ok(node, method, data=None):
    rc, out, err = call(node, method, data)
    check(rc == 0, "%s %s %s -> %d %s" % (node.name, method, data, rc,
                                          err.strip()))
    try:
        return json.loads(out) if out.strip() else {}
    except ValueError:
        check(False, "%s %s: not JSON: %r" % (node.name, method, out))
        return {}


def wait_for(fn, what, limit=10.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    check(False, "timed out waiting for " + what)
    return None


def watch(node, job_id):
    return subprocess.Popen(
        [WEFT, "call", node.url, "aitbc.v1.Jobs/Watch", "-d",
         json.dumps({"job_id": job_id})], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


def case_jobs(nats):
    a, b, c = (Node(nats, n) for n in ("a", "b", "c"))
    try:
        job = ok(a, "Jobs/CreateJob", {"payload": {"model": "m",
                                                   "simulate": "hold"}})
        jid = job.get("job_id", "")
        check(jid.startswith("job-a-"), "job id names its node: %r" % jid)
        for n in (b, c):
            got = ok(n, "Jobs/GetJob", {"job_id": jid})
            check(got == job, "GetJob on %s: %r != %r" % (n.name, got, job))
        listed = ok(c, "Jobs/ListJobs", {})
        check(any(j.get("job_id") == jid for j in listed.get("jobs", [])),
              "ListJobs on c has %s" % jid)
        w = watch(b, jid)
        first = w.stdout.readline()
        check('"QUEUED"' in first, "watch on b starts QUEUED: %r" % first)
        cancelled = ok(c, "Jobs/CancelJob", {"job_id": jid})
        check(cancelled.get("state") == "CANCELLED", "cancel on c")
        try:
            rest, err = w.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            w.kill()
            rest, err = w.communicate()
        check(w.returncode == 0 and '"CANCELLED"' in rest,
              "watch on b sees the cancel made on c: rc %s %r %r" %
              (w.returncode, rest, err))
        check(ok(a, "Jobs/GetJob", {"job_id": jid}).get("state") ==
              "CANCELLED", "a reads CANCELLED")
        ok(a, "Jobs/CancelJob", {"job_id": jid})  # idempotent, on another node
        rc, _, err = call(a, "Jobs/GetJob", {"job_id": "job-nope"})
        check(rc == 10 + 5 and "not found" in err, "unknown job: %d %s" %
              (rc, err))
        rc, _, err = call(b, "Jobs/GetJob", {"job_id": "a b/c*>"})
        check(rc == 10 + 5, "an id KV keys cannot hold is escaped: %d %s" %
              (rc, err))

        # Runs to COMPLETED: stepped by whichever node is the leader, which
        # issues its receipt; every node serves and verifies it.
        stream = subprocess.Popen(
            [WEFT, "call", a.url, "aitbc.v1.Receipts/StreamReceipts", "-d",
             "{}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
        run = ok(b, "Jobs/CreateJob", {"payload": {"model": "m"}})
        w = watch(c, run["job_id"])
        try:
            out, err = w.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            w.kill()
            out, err = w.communicate()
        states = [json.loads(l).get("state") for l in out.splitlines() if l]
        check(w.returncode == 0 and states and states[-1] == "COMPLETED" and
              "RUNNING" in states, "watch on c: %r %s" % (states, err))
        rcpt = wait_for(lambda: (lambda r: json.loads(r[1]) if r[0] == 0
                                 else None)(call(a, "Receipts/GetReceipt",
                                                 {"job_id": run["job_id"]})),
                        "the receipt on a")
        if rcpt:
            check(ok(c, "Receipts/GetReceipt", {"job_id": run["job_id"]}) ==
                  rcpt, "the same receipt on c")
            v = ok(b, "Receipts/VerifyReceipt", rcpt)
            check(v.get("valid") is True, "b verifies it (shared key): %r" % v)
            lst = ok(c, "Receipts/ListReceipts", {"job_id": run["job_id"]})
            check(lst.get("receipts") == [rcpt], "listed on c: %r" % lst)
        line = []
        t = threading.Thread(target=lambda: line.append(
            stream.stdout.readline()))
        t.start()
        t.join(10)
        stream.kill()
        stream.communicate()
        check(line and run["job_id"] in line[0],
              "StreamReceipts on a shows the receipt: %r" % line)
    finally:
        for n in (a, b, c):
            n.stop()


def head(node):
    rc, out, _ = call(node, "Blockchain/GetHead", {})
    return json.loads(out) if rc == 0 else None


def case_leader(nats):
    nodes = [Node(nats, n) for n in ("a", "b", "c")]
    try:
        h = wait_for(lambda: head(nodes[1]), "a first block")
        if not h:
            return
        leader = next((n for n in nodes if n.name == h["proposer"]), None)
        if not check(leader, "proposer %r is one of the nodes" % h):
            return
        others = [n for n in nodes if n is not leader]
        events = subprocess.Popen(
            [WEFT, "call", others[1].url, "aitbc.v1.Blockchain/StreamEvents",
             "-d", json.dumps({"types": ["new_block"]})],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = []

        def read_events():
            for line in events.stdout:
                seen.append(json.loads(line).get("block", {}).get("proposer"))
                if seen[-1] not in (None, leader.name):
                    return
        reader = threading.Thread(target=read_events)
        reader.start()
        time.sleep(0.5)
        leader.p.send_signal(signal.SIGKILL)
        leader.p.wait()
        dead_at = h.get("height", 0)
        t0 = time.time()
        nh = wait_for(lambda: (lambda x: x if x and x["proposer"] !=
                               leader.name else None)(head(others[0])),
                      "a block from another node", limit=10)
        if not nh:
            return
        print("takeover after %.1f s (lease 1000 ms)" % (time.time() - t0))
        reader.join(10)
        events.kill()
        events.communicate()
        reader.join(5)
        check(leader.name in seen and seen[-1] not in (None, leader.name),
              "StreamEvents on %s: new_block from %s, then from the new "
              "leader: %r" % (others[1].name, leader.name, seen))
        check(nh.get("height", 0) > dead_at, "the chain goes on: %r" % nh)
        # Every node serves the same chain, and it is linked.
        nh["height"] = max(nh.get("height", 0), 1)
        blocks = {}
        for n in others:
            for hgt in (nh["height"] - 1, nh["height"]):
                blocks[(n.name, hgt)] = ok(n, "Blockchain/GetBlock",
                                           {"height": hgt})
        for hgt in (nh["height"] - 1, nh["height"]):
            check(blocks[(others[0].name, hgt)] == blocks[(others[1].name,
                                                           hgt)],
                  "block %d the same on both nodes" % hgt)
        check(blocks[(others[0].name, nh["height"])].get("parent_hash") ==
              blocks[(others[0].name, nh["height"] - 1)].get("hash"),
              "block %d links to its parent" % nh["height"])
    finally:
        for n in nodes:
            n.stop()


def case_offers(nats):
    a, b, c = (Node(nats, n) for n in ("a", "b", "c"))
    try:
        o = ok(a, "Marketplace/CreateOffer",
               {"gpu_type": "L4", "price_per_hour": 1.5, "region": "r0"})
        oid = o.get("id", "")
        check(ok(b, "Marketplace/GetOffer", {"offer_id": oid}) == o,
              "offer read on b")
        listed = ok(c, "Marketplace/ListOffers", {"gpu_type": "L4"})
        check([x.get("id") for x in listed.get("offers", [])] == [oid],
              "offer listed on c: %r" % listed)

        # Concurrent UpdateOffer of different fields: neither is lost.
        def updates(node, field, values):
            for v in values:
                ok(node, "Marketplace/UpdateOffer", {"id": oid, field: v})
        tb = threading.Thread(target=updates,
                              args=(b, "price_per_hour", [2.0 + i for i in
                                                          range(8)]))
        tc = threading.Thread(target=updates,
                              args=(c, "region", ["r%d" % i for i in
                                                  range(1, 9)]))
        tb.start(), tc.start(), tb.join(), tc.join()
        last = ok(a, "Marketplace/GetOffer", {"offer_id": oid})
        check(last.get("price_per_hour") == 9.0 and last.get("region") ==
              "r8", "both nodes' last updates landed: %r" % last)

        # Concurrent AcceptOffer of one offer: exactly one node wins.
        for i in range(4):
            x = ok(a, "Marketplace/CreateOffer",
                   {"gpu_type": "T4", "price_per_hour": 1.0})
            res = {}

            def accept(node):
                res[node.name] = call(node, "Marketplace/AcceptOffer",
                                      {"offer_id": x["id"]})[0]
            ts = [threading.Thread(target=accept, args=(n,)) for n in (b, c)]
            [t.start() for t in ts]
            [t.join() for t in ts]
            check(sorted(res.values()) == [0, 10 + 9],
                  "one accept wins, the other is FAILED_PRECONDITION: %r" %
                  res)
        # The cluster's one wallet: concurrent stakes from two nodes all
        # count.
        addr = ok(a, "Wallet/GetAddress", {}).get("address")
        check(addr and all(ok(n, "Wallet/GetAddress", {}).get("address") ==
                           addr for n in (b, c)), "one wallet address")
        before = ok(a, "Wallet/GetBalance", {})

        def stakes(node):
            for _ in range(6):
                ok(node, "Wallet/Stake", {"amount": "1000"})
        ts = [threading.Thread(target=stakes, args=(n,)) for n in (b, c)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        after = ok(a, "Wallet/GetBalance", {})
        staked = int(after.get("staked", 0)) - int(before.get("staked", 0))
        spent = int(before.get("balance", 0)) - int(after.get("balance", 0))
        check(staked == 12000 and spent == 12000,
              "12 stakes of 1000 from two nodes: staked +%d, balance -%d" %
              (staked, spent))
        check(ok(c, "Wallet/GetBalance", {}) == after, "balance read on c")
        new = ok(b, "Wallet/CreateWallet", {}).get("address")
        ok(c, "Wallet/Send", {"to": new, "amount": "5", "fee": "0"})

        ok(b, "Marketplace/DeleteOffer", {"offer_id": oid})
        rc, _, _ = call(c, "Marketplace/GetOffer", {"offer_id": oid})
        check(rc == 10 + 5, "deleted on b, gone on c: %d" % rc)
    finally:
        for n in (a, b, c):
            n.stop()


def case_nats(nats):
    a = Node(nats, "a")
    try:
        job = ok(a, "Jobs/CreateJob", {"payload": {"simulate": "hold"}})
        nats.kill()
        time.sleep(0.3)
        rc, _, err = call(a, "Jobs/GetJob", {"job_id": job.get("job_id")})
        check(rc == 10 + 14 and "NATS" in err,
              "NATS down: UNAVAILABLE naming NATS: %d %s" % (rc, err))
        back = NatsServer(nats.port, nats.store)
        try:
            got = wait_for(lambda: call(a, "Jobs/GetJob",
                                        {"job_id": job.get("job_id")})[0] == 0,
                           "the node to reconnect")
            check(got, "calls work again after NATS is back")
            # The watchers came back too: a watch sees a change.
            w = watch(a, job.get("job_id"))
            first = w.stdout.readline()
            ok(a, "Jobs/CancelJob", {"job_id": job.get("job_id")})
            try:
                rest, err = w.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                w.kill()
                rest, err = w.communicate()
            check('"QUEUED"' in first and '"CANCELLED"' in rest,
                  "watch after the reconnect: %r %r %s" % (first, rest, err))
        finally:
            back.kill()
    finally:
        a.stop()
    # Flags: --node-id needs --nats and a plain name.
    for args, what in ((["--node-id", "x"], "need --nats"),
                       (["--nats", nats.url, "--node-id", "a b"], "A-Z")):
        r = subprocess.run([WEFT, "serve", *args], capture_output=True,
                           text=True, timeout=20)
        check(r.returncode == 2 and what in r.stderr,
              "serve %s: %d %r" % (args, r.returncode, r.stderr))
    # No NATS at start: exit 1 with the reason, before serving.
    r = subprocess.run([WEFT, "serve", "--nats",
                        "nats://127.0.0.1:%d" % free_port(), "--tcp-port",
                        "0", "--grpc-port", "-1", "--h2-port", "-1",
                        "--ws-port", "-1"], capture_output=True, text=True,
                       timeout=20)
    check(r.returncode == 1 and "cannot connect to NATS" in r.stderr and
          "listening" not in r.stdout,
          "no NATS at start: %d %r" % (r.returncode, r.stderr))


def balance(node):
    b = ok(node, "Wallet/GetBalance", {})
    return int(b.get("balance", 0)), int(b.get("pending", 0))


def case_wallet(nats):
    b = Node(nats, "b")
    others = []
    try:
        h = wait_for(lambda: head(b), "b's first block")
        check(h and h.get("proposer") == "b", "b leads: %r" % h)
        me = ok(b, "Wallet/GetAddress", {}).get("address")
        start, _ = balance(b)
        # A Send to the cluster's own wallet (its credit shows in the one
        # balance the API reads), from a node that dies between the two
        # wallet writes: the debit is in, the credit not yet.
        for step, amount in (("send-debited", 7000), ("send-credited", 9000)):
            a = Node(nats, "a-" + step.split("-")[1],
                     env={"WEFT_NODE_CRASH_AFTER": step})
            others.append(a)
            rc, _, err = call(a, "Wallet/Send", {"to": me, "amount":
                                                 str(amount), "fee": "0"})
            a.p.wait(10)
            check(rc != 0 and a.p.returncode == -signal.SIGKILL,
                  "%s: the node died mid-Send: rc %d, exit %s" %
                  (step, rc, a.p.returncode))
            bal, pending = balance(b)
            if step == "send-debited":
                check(bal in (start - amount, start),
                      "right after the crash: debited (%d) or finished "
                      "already (%d): %d" % (start - amount, start, bal))
            got = wait_for(lambda: balance(b) == (start, 0),
                           "the leader to finish the %s transfer" % step)
            check(got, "%s: the credit is applied once: %r (start %d)" %
                  (step, balance(b), start))
        time.sleep(1.5)  # the leader's next recovery rounds change nothing
        check(balance(b) == (start, 0), "no transfer is applied twice: %r" %
              (balance(b),))
        c = Node(nats, "c")
        others.append(c)
        # Transfers from two nodes at once to a new wallet: none lost.
        to = ok(c, "Wallet/CreateWallet", {}).get("address")

        def sends(node):
            for _ in range(5):
                ok(node, "Wallet/Send", {"to": to, "amount": "100",
                                         "fee": "10"})
        ts = [threading.Thread(target=sends, args=(n,)) for n in (b, c)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        check(balance(c) == (start - 10 * 110, 0),
              "10 sends of 100 + fee 10: %r" % (balance(c),))
        rc, _, err = call(c, "Wallet/Send", {"to": to, "amount":
                                             str(start * 2)})
        check(rc == 10 + 9 and "insufficient" in err,
              "overdraft: FAILED_PRECONDITION: %d %s" % (rc, err))
        listed = ok(b, "Wallet/ListTransactions", {"limit": 100})
        txs = listed.get("transactions", [])
        check(len([t for t in txs if t.get("to") == to]) == 10 and
              len([t for t in txs if t.get("to") == me]) == 2,
              "ListTransactions on b: 10 sends from b and c, the 2 finished "
              "by the leader: %d listed" % len(txs))
    finally:
        for n in [b] + others:
            n.stop()


def completed_job(node, reader):
    """A job made on node, run to COMPLETED; its receipt's amount."""
    jid = ok(node, "Jobs/CreateJob", {"payload": {"model": "m"}})["job_id"]
    r = wait_for(lambda: (lambda x: json.loads(x[1]) if x[0] == 0 else None)(
        call(reader, "Receipts/GetReceipt", {"job_id": jid})),
        "the receipt of " + jid, limit=15)
    # state.c: the price in atomic units, from the units the job used
    return jid, int(float(r["units"]) * 1e6 + 0.5) * 500 if r else 0


def case_settle(nats):
    # Steps 300 ms apart, so the watch started on c sees one live.
    a, b, c = (Node(nats, n, "--job-step-ms", "300") for n in ("a", "b", "c"))
    try:
        jid, amount = completed_job(a, b)
        check(amount > 0, "a completed job with a receipt")
        before, _ = balance(c)
        res = ok(b, "Settlement/SettleCrossChain",
                 {"job_id": jid, "target_chain_id": 137})
        mid = res.get("message_id", "")
        check(mid.startswith("msg-b-") and
              res.get("status", "pending") == "pending",
              "settled on b: %r" % res)
        w = subprocess.Popen(
            [WEFT, "call", c.url, "aitbc.v1.Settlement/WatchSettlement", "-d",
             json.dumps({"message_id": mid})], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            out, err = w.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            w.kill()
            out, err = w.communicate()
        states = [json.loads(l).get("status", "pending")  # 0: left out
                  for l in out.splitlines() if l]
        check(w.returncode == 0 and len(states) >= 2 and
              states[-1] == "completed" and
              states == [x for x in ("pending", "in_progress", "completed")
                         if x in states],
              "WatchSettlement on c: %r %s" % (states, err))
        done = ok(a, "Settlement/GetSettlementStatus", {"message_id": mid})
        check(done.get("status") == "completed" and
              done.get("transaction_hash"), "completed on a: %r" % done)
        check(wait_for(lambda: balance(a)[0] == before + amount,
                       "the payment"), "paid once into the wallet: %d + %d "
              "!= %r" % (before, amount, balance(a)))
        time.sleep(0.5)
        check(balance(b)[0] == before + amount, "still paid once")
        rc, _, err = call(c, "Settlement/SettleCrossChain",
                          {"job_id": jid, "target_chain_id": 137})
        check(rc == 10 + 6 and mid in err,
              "settled again on c: ALREADY_EXISTS naming %s: %d %s" %
              (mid, rc, err))
        rc, _, err = call(c, "Settlement/GetSettlementStatus",
                          {"message_id": "msg-nope"})
        check(rc == 10 + 5, "unknown settlement: NOT_FOUND: %d %s" % (rc, err))

        # No signature: the bridge rejects it; refunded on another node.
        m = ok(a, "Settlement/SendMessage",
               {"payment_amount": "77", "target_chain_id": 1})
        failed = wait_for(lambda: (lambda x: x if x.get("status") == "failed"
                                   else None)(
            ok(b, "Settlement/GetSettlementStatus",
               {"message_id": m.get("message_id")})), "the bridge to fail it")
        check(failed and "signature" in failed.get("error_message", ""),
              "failed, with the reason: %r" % failed)
        rf = ok(c, "Settlement/RefundSettlement",
                {"message_id": m.get("message_id")})
        check(rf.get("status") == "refunded", "refunded on c: %r" % rf)
        rc, _, err = call(b, "Settlement/RefundSettlement", {"message_id": mid})
        check(rc == 10 + 9 and "completed" in err,
              "a completed one is not refunded: %d %s" % (rc, err))

        # Every node settles one job at once: exactly one wins, the others
        # are ALREADY_EXISTS (each claims the job, then writes its
        # settlement: a claim not written yet must hold). Three jobs, for
        # more chances to land in that window.
        jobs = [completed_job(c, a)[0] for _ in range(3)]
        res = {}

        def settle(node, jid):
            res[(jid, node.name)] = call(
                node, "Settlement/SettleCrossChain",
                {"job_id": jid, "target_chain_id": 1})[0]
        ts = [threading.Thread(target=settle, args=(n, j))
              for j in jobs for n in (a, b, c)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        for j in jobs:
            codes = sorted(v for (jid, _), v in res.items() if jid == j)
            check(codes == [0, 10 + 6, 10 + 6],
                  "one settlement of %s wins, the others are ALREADY_EXISTS: "
                  "%r" % (j, res))
    finally:
        for n in (a, b, c):
            n.stop()


def case_market(nats):
    ttl = ["--offer-ttl-ms", "2000"]
    a, b, c = (Node(nats, n, *ttl) for n in ("a", "b", "c"))
    try:
        w = subprocess.Popen(
            [WEFT, "call", c.url, "aitbc.v1.Marketplace/WatchEvents", "-d",
             "{}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        events = []
        reader = threading.Thread(target=lambda: [
            events.append(json.loads(l)) for l in w.stdout])
        reader.start()
        time.sleep(0.5)
        x = ok(a, "Marketplace/CreateOffer", {"gpu_type": "L4",
                                              "price_per_hour": 1})["id"]
        ok(b, "Marketplace/AcceptOffer", {"offer_id": x})
        y = ok(b, "Marketplace/CreateOffer", {"gpu_type": "L4",
                                              "price_per_hour": 1})["id"]
        ok(a, "Marketplace/UpdateOffer", {"id": y, "price_per_hour": 2})
        ok(c, "Marketplace/DeleteOffer", {"offer_id": y})
        z = ok(a, "Marketplace/CreateOffer", {"gpu_type": "T4",
                                              "price_per_hour": 1})["id"]
        got = wait_for(lambda: (lambda o: o if o.get("status") == "expired"
                                else None)(ok(b, "Marketplace/GetOffer",
                                              {"offer_id": z})),
                       "the leader to expire the offer", limit=10)
        check(got, "expired (created on a, read on b)")
        check(ok(c, "Marketplace/GetOffer", {"offer_id": x}).get("status") ==
              "matched", "a matched offer does not expire")

        def of(oid):
            return [e.get("type") for e in events
                    if e.get("offer", {}).get("id") == oid]
        want = {x: ["new_offer", "offer_matched"],
                y: ["new_offer", "price_update", "offer_cancelled"],
                z: ["new_offer", "offer_expired"]}
        wait_for(lambda: all(of(k) == v for k, v in want.items()),
                 "the events on c", limit=5)
        for k, v in want.items():
            check(of(k) == v, "WatchEvents on c for %s: %r, want %r" %
                  (k, of(k), v))
        w.kill()
        w.communicate()
        reader.join(5)
    finally:
        for n in (a, b, c):
            n.stop()


def read_events(node, req, want, limit=15.0):
    """Starts StreamEvents on node; returns (events, process) once `want`
    events are in (or the time is up)."""
    p = subprocess.Popen(
        [WEFT, "call", node.url, "aitbc.v1.Blockchain/StreamEvents", "-d",
         json.dumps(req)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    got = []

    def read():
        for line in p.stdout:
            got.append(json.loads(line))
            if len(got) >= want:
                return
    t = threading.Thread(target=read)
    t.start()
    t.join(limit)
    return got, p


def case_resume(nats):
    a, b, c = (Node(nats, n) for n in ("a", "b", "c"))
    try:
        wait_for(lambda: (head(a) or {}).get("height", 0) >= 3,
                 "a few blocks")
        first, p = read_events(b, {"after_sequence": "0"}, 6)
        b.p.send_signal(signal.SIGKILL)  # the client's node dies
        b.p.wait()
        p.kill()
        p.communicate()
        seqs = [int(e.get("sequence", 0)) for e in first]
        check(seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 6,
              "from sequence 0 on b: every block from genesis: %r" % seqs)
        last = seqs[-1] if seqs else 0
        time.sleep(1.5)  # blocks go on meanwhile (another leader if b was)
        rest, p = read_events(c, {"after_sequence": str(last),
                                  "types": ["new_block"]}, 8)
        p.kill()
        p.communicate()
        more = [int(e.get("sequence", 0)) for e in rest]
        check(more == list(range(last + 1, last + 1 + len(more))) and
              len(more) >= 8,
              "resumed on c after %d: nothing lost or repeated: %r" %
              (last, more))
        blocks = [e.get("block", {}) for e in first + rest]
        check(all(int(x.get("height", 0)) == i for i, x in enumerate(blocks)),
              "sequence = height + 1")
        check(all(blocks[i].get("parent_hash") == blocks[i - 1].get("hash")
                  for i in range(1, len(blocks))), "the blocks link up")
        live, p = read_events(a, {}, 1)
        p.kill()
        p.communicate()
        check(live and int(live[0].get("sequence", 0)) > last + len(more) - 1,
              "no cursor: from now on: %r" % live[:1])
        rc, _, err = call(a, "Blockchain/StreamEvents",
                          {"after_sequence": "99999999"})
        check(rc == 10 + 11 and "past the chain" in err,
              "a cursor from the future: OUT_OF_RANGE: %d %s" % (rc, err))
    finally:
        for n in (a, b, c):
            n.stop()


def case_mempool(nats):
    a, b, c = (Node(nats, n) for n in ("a", "b", "c"))
    try:
        to = ok(b, "Wallet/CreateWallet", {}).get("address")
        hashes = []

        def sends(node):
            for _ in range(5):
                hashes.append(ok(node, "Wallet/Send", {
                    "to": to, "amount": "100", "fee": "10"})["tx_hash"])
        ts = [threading.Thread(target=sends, args=(n,)) for n in (a, c)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        hashes.append(ok(b, "Wallet/Stake", {"amount": "7"})["tx_hash"])

        def tx(node, h):
            rc, out, _ = call(node, "Blockchain/GetTransaction", {"tx_hash": h})
            return json.loads(out) if rc == 0 else None
        got = wait_for(lambda: all((tx(c, h) or {}).get("status") ==
                                   "confirmed" for h in hashes),
                       "the leader to seal the 11 transactions")
        check(got, "confirmed, read on c")
        heights = {h: (tx(a, h) or {}).get("block_height") for h in hashes}
        # Each in exactly one block: the one its block_height names.
        top = max(v for v in heights.values() if v is not None) if all(
            v is not None for v in heights.values()) else 0
        seen = {}
        for hgt in range(0, top + 1):
            blk = ok(b, "Blockchain/GetBlock", {"height": hgt})
            for t in blk.get("transactions", []):
                seen.setdefault(t.get("tx_hash"), []).append(hgt)
            check(int(blk.get("tx_count", 0)) ==
                  len(blk.get("transactions", [])), "tx_count of %d" % hgt)
        for h in hashes:
            check(seen.get(h) == [heights[h]],
                  "%s sealed once, in block %r: %r" % (h[:10], heights[h],
                                                       seen.get(h)))
        listed = ok(a, "Wallet/ListTransactions", {"limit": 100})
        st = {t["tx_hash"]: (t.get("status"), t.get("block_height"))
              for t in listed.get("transactions", [])}
        check(all(st.get(h) == ("confirmed", heights[h]) for h in hashes),
              "ListTransactions on a agrees: %r" % st)
        # The block as StreamEvents replays it carries them too.
        h0 = heights[hashes[0]]
        evs, p = read_events(c, {"after_sequence": str(h0)}, 1)
        p.kill()
        p.communicate()
        txs = [t.get("tx_hash") for t in
               (evs[0].get("block", {}).get("transactions", []) if evs
                else [])]
        check(hashes[0] in txs, "StreamEvents on c: block %d with its "
              "transactions: %r" % (h0, txs))
    finally:
        for n in (a, b, c):
            n.stop()


class EventReader:
    """A StreamEvents call read on a thread; wait() for an event."""

    def __init__(self, node, req):
        self.p = subprocess.Popen(
            [WEFT, "call", node.url, "aitbc.v1.Blockchain/StreamEvents", "-d",
             json.dumps(req)], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.events = []
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            with self.cv:
                self.events.append(json.loads(line))
                self.cv.notify_all()

    def wait(self, pred, what, limit=10.0):
        deadline = time.time() + limit
        with self.cv:
            while True:
                for e in self.events:
                    if pred(e):
                        return e
                left = deadline - time.time()
                if left <= 0 or self.p.poll() is not None:
                    check(False, "timed out waiting for " + what)
                    return None
                self.cv.wait(min(left, 0.2))

    def close(self):
        self.p.kill()
        self.p.communicate()
        self.t.join(5)
        with self.cv:
            return list(self.events)


def case_txevents(nats):
    a, b, c = (Node(nats, n) for n in ("a", "b", "c"))
    r = None
    try:
        to = ok(a, "Wallet/CreateWallet", {}).get("address")
        r = EventReader(b, {"types": ["new_block", "transaction_pending",
                                      "transaction_confirmed"]})
        # Live once a block has come through.
        r.wait(lambda e: e.get("type") == "new_block", "b's stream to start")
        hashes = [ok(a, "Wallet/Send", {"to": to, "amount": "100",
                                        "fee": "10"}).get("tx_hash")
                  for _ in range(3)]
        for h in hashes:
            r.wait(lambda e, h=h: e.get("type") == "transaction_confirmed" and
                   e.get("tx_hash") == h,
                   "transaction_confirmed of %s on b" % h)
        evs = r.close()
        r = None
        pending = [e.get("tx_hash") for e in evs
                   if e.get("type") == "transaction_pending"]
        check(all(h in pending for h in hashes),
              "transaction_pending on b for each: %r" % pending)
        check(all(int(e.get("sequence", 0)) == 0 for e in evs
                  if e.get("type") == "transaction_pending"),
              "transaction_pending carries no sequence (not a position)")
        seqs = {}
        for h in hashes:
            i = next((i for i, e in enumerate(evs) if e.get("tx_hash") == h
                      and e.get("type") == "transaction_confirmed"), None)
            if i is None:
                continue  # (failed above)
            e = evs[i]
            seq = int(e.get("sequence", 0))
            seqs[h] = seq
            tx = ok(c, "Blockchain/GetTransaction", {"tx_hash": h})
            check(seq == int(tx.get("block_height", -1)) + 1,
                  "%s: confirmed with its block's sequence: %d, block %r" %
                  (h[:10], seq, tx.get("block_height")))
            # After its block's new_block (same sequence), with only that
            # block's confirmations in between.
            j = i
            while j > 0 and evs[j - 1].get("type") != "new_block":
                j -= 1
                check(evs[j].get("type") != "transaction_confirmed" or
                      int(evs[j].get("sequence", 0)) == seq,
                      "%s: only its block's confirmations before it" % h[:10])
            nb = evs[j - 1] if j > 0 else {}
            check(nb.get("type") == "new_block" and
                  int(nb.get("sequence", 0)) == seq and
                  h in [t.get("tx_hash") for t in
                        nb.get("block", {}).get("transactions", [])],
                  "%s: confirmed right after its block (sequence %d): %r" %
                  (h[:10], seq, {k: nb.get(k) for k in ("type", "sequence")}))
        if len(seqs) != len(hashes):
            return
        # A resume replays a block's confirmations with it.
        first = min(seqs.values())
        r = EventReader(c, {"after_sequence": str(first - 1),
                            "types": ["transaction_confirmed"]})
        for h in hashes:
            r.wait(lambda e, h=h: e.get("tx_hash") == h,
                   "the replayed transaction_confirmed of %s on c" % h)
        got = r.close()
        r = None
        check(all(int(e.get("sequence", 0)) >= first for e in got),
              "replayed from sequence %d on: %r" %
              (first, [e.get("sequence") for e in got][:10]))
        check(sorted(int(e.get("sequence", 0)) for e in got) ==
              [int(e.get("sequence", 0)) for e in got],
              "replayed in order")
        mine = [e.get("tx_hash") for e in got if e.get("tx_hash") in hashes]
        check(sorted(mine) == sorted(hashes),
              "each replayed once: %r" % mine)
        last = max(seqs.values())
        r = EventReader(c, {"after_sequence": str(last),
                            "types": ["new_block", "transaction_confirmed"]})
        r.wait(lambda e: int(e.get("sequence", 0)) > last + 1,
               "blocks after %d on c" % (last + 1))
        got = r.close()
        r = None
        check(not any(e.get("tx_hash") in hashes for e in got) and
              all(int(e.get("sequence", 0)) > last for e in got),
              "after sequence %d: none of its block's events: %r" %
              (last, [(e.get("type"), e.get("sequence")) for e in got][:10]))
    finally:
        if r:
            r.close()
        for n in (a, b, c):
            n.stop()


def main():
    if not NATS:
        print("SKIP: nats-server is not installed (Debian: nats-server)")
        return 77
    cases = {"jobs": case_jobs, "leader": case_leader, "offers": case_offers,
             "nats": case_nats, "wallet": case_wallet,
             "settle": case_settle, "market": case_market,
             "resume": case_resume, "mempool": case_mempool,
             "txevents": case_txevents}
    nats = NatsServer()
    try:
        cases[CASE](nats)
    finally:
        nats.kill()
        shutil.rmtree(nats.store, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
