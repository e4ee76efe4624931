#!/usr/bin/python3
"""weft contract verify against the AITBC reference node (`weft serve`) on
grpc, h2c, ws and tcp: contracts/aitbc.contract.json passes (unary, an
error status, matchers, an endless server stream read with `take`), and
contracts/aitbc_broken.contract.json fails with the expected differences.
Usage: aitbc_contract_test.py WEFT CONTRACTS_DIR"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

weft, cdir = sys.argv[1], sys.argv[2]
srv = subprocess.Popen(
    [weft, "serve", "--grpc-port", "0", "--h2-port", "0", "--ws-port", "0",
     "--tcp-port", "0", "--block-interval-ms", "50", "-q"],
    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
failures = []
tmp = tempfile.mkdtemp(prefix="weft-contract-")
try:
    urls = []
    deadline = time.time() + 20
    while len(urls) < 4 and time.time() < deadline:
        line = srv.stdout.readline()
        if not line:
            break
        m = re.match(r"listening on (\S+)", line)
        if m:
            urls.append(m.group(1))
    if len(urls) != 4:
        sys.exit("weft serve did not start: %r" % urls)
    for url in urls:
        r = subprocess.run(
            [weft, "contract", "verify", url,
             os.path.join(cdir, "aitbc.contract.json"), "--max-time", "20"],
            capture_output=True, text=True, timeout=60)
        if r.returncode != 0 or "4 interactions, 4 passed" not in r.stdout:
            failures.append("%s: pass: rc %d\n%s%s" %
                            (url, r.returncode, r.stdout, r.stderr))
        r = subprocess.run(
            [weft, "contract", "verify", url,
             os.path.join(cdir, "aitbc_broken.contract.json")],
            capture_output=True, text=True, timeout=60)
        want = [
            'responses[0].chains[0].chainId: expected 10, got 1',
            'responses[0].chains[0].name: expected "optimism", got "ethereum"',
            'status.code: expected OK, got NOT_FOUND: job nope not found',
            "2 interactions, 0 passed, 2 failed",
        ]
        missing = [w for w in want if w not in r.stdout]
        if r.returncode != 100 or missing:
            failures.append("%s: broken: rc %d, missing %r\n%s%s" %
                            (url, r.returncode, missing, r.stdout, r.stderr))
    # --state-call: a unary method of the provider, called before an
    # interaction with `given`; a non-OK answer fails that interaction.
    given = os.path.join(tmp, "given.contract.json")
    with open(given, "w") as f:
        json.dump({"interactions": [{
            "name": "needs a state", "given": ["chains are listed"],
            "method": "aitbc.v1.Settlement/ListChains"}]}, f)
    for method, rc, want in [
            ("aitbc.v1.Settlement/ListChains", 0, "1 passed, 0 failed"),
            ("aitbc.v1.Jobs/GetJob", 100,
             "provider state not set up: --state-call /aitbc.v1.Jobs/GetJob:"
             " INVALID_ARGUMENT: job_id is required"),
            ("aitbc.v1.Blockchain/StreamEvents", 2, "not a unary method")]:
        r = subprocess.run(
            [weft, "contract", "verify", urls[0], given, "--state-call",
             method], capture_output=True, text=True, timeout=60)
        if r.returncode != rc or want not in r.stdout + r.stderr:
            failures.append("--state-call %s: rc %d, want %d and %r\n%s%s" %
                            (method, r.returncode, rc, want, r.stdout,
                             r.stderr))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
    srv.terminate()
    try:
        srv.wait(timeout=10)
    except subprocess.TimeoutExpired:
        srv.kill()
for f in failures:
    print(f)
sys.exit(1 if failures else 0)
