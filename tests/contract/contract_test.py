#!/usr/bin/python3
"""Tests of `weft contract check`: billing.contract.json holds against
schema/, and each single edit of the schema below breaks it with a message
naming the interaction and the field (or passes, for compatible edits).
Prints one line per check and 'N passed, N failed'."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


# (name, old text, new text, exit code, substring of the output)
EDITS = [
    ("unchanged schema", None, None, 0, ""),
    ("field added (compatible)", "  string id = 1;\n  int64",
     "  string id = 1;\n  string note = 7;\n  int64", 0, ""),
    ("enum value added (compatible)", "  ORDER_STATE_PAID = 2;\n",
     "  ORDER_STATE_PAID = 2;\n  ORDER_STATE_REFUNDED = 3;\n", 0, ""),
    ("field renamed", "total_cents", "amount_cents", 100,
     'interaction 0 "read an order": response is not a valid '
     'shop.v1.GetOrderResponse: order.totalCents: no such field'),
    ("field retyped", "int32 quantity", "string quantity", 100,
     "order.items[0].quantity"),
    ("enum value renamed", "ORDER_STATE_PAID", "ORDER_STATE_SETTLED", 100,
     "order.state"),
    ("stream made unary", "returns (stream Order)", "returns (Order)", 100,
     'interaction 1 "watch orders": shop.v1.Orders/WatchOrders is unary, '
     'the contract expects server_stream'),
    ("method removed",
     "  rpc GetOrder(GetOrderRequest) returns (GetOrderResponse);\n", "", 100,
     "method shop.v1.Orders/GetOrder is not in the schema"),
    ("request field renamed", "message WatchOrdersRequest {\n  string customer",
     "message WatchOrdersRequest {\n  string customer_id", 100,
     "request is not a valid shop.v1.WatchOrdersRequest: customer"),
    ("read field deleted", "  google.protobuf.Timestamp created_at = 6;\n",
     "", 100, 'reads "order.created_at": shop.v1.Order has no field '
     '"created_at"'),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weft", required=True)
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    contract = os.path.join(here, "billing.contract.json")
    src = os.path.join(here, "schema", "shop", "v1", "orders.proto")
    text = open(src).read()
    tmp = tempfile.mkdtemp(prefix="weft-contract-")
    try:
        for name, old, new, rc, want in EDITS:
            d = os.path.join(tmp, name.replace(" ", "_"))
            os.makedirs(os.path.join(d, "shop", "v1"))
            t = text if old is None else text.replace(old, new)
            if old is not None and t == text:
                check(name, False, "the edit does not apply")
                continue
            with open(os.path.join(d, "shop", "v1", "orders.proto"), "w") as f:
                f.write(t)
            r = subprocess.run([a.weft, "contract", "check", contract,
                                "--against", d], capture_output=True,
                               text=True, timeout=60)
            check(name, r.returncode == rc and want in r.stdout,
                  f"exit {r.returncode}, stdout {r.stdout!r}, "
                  f"stderr {r.stderr!r}")
        # JSON output, and bad input.
        d = os.path.join(tmp, "stream_made_unary")
        r = subprocess.run([a.weft, "contract", "check", contract, "--against",
                            d, "--format", "json"], capture_output=True,
                           text=True, timeout=60)
        rows = [json.loads(l) for l in r.stdout.splitlines()]
        check("--format json", r.returncode == 100 and rows and
              rows[0]["interaction"] == 1 and
              rows[0]["name"] == "watch orders", r.stdout)
        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{"interactions": [{"name": "x"}]}')
        r = subprocess.run([a.weft, "contract", "check", bad, "--against",
                            os.path.join(here, "schema")],
                           capture_output=True, text=True, timeout=60)
        check("an interaction without a method: exit 2",
              r.returncode == 2 and "no \"method\"" in r.stderr, r)
        with open(bad, "w") as f:
            f.write("{not json")
        r = subprocess.run([a.weft, "contract", "check", bad, "--against",
                            os.path.join(here, "schema")],
                           capture_output=True, text=True, timeout=60)
        check("a contract that is not JSON: exit 2",
              r.returncode == 2 and "not JSON" in r.stderr, r)
        # weft breaking --contracts DIR: names the contracts a change
        # breaks, besides the rule violations; with --rules WIRE the rename
        # breaks no rule, only the contract, and still exits 100.
        cdir = os.path.join(tmp, "contracts")
        os.makedirs(cdir)
        shutil.copy(contract, cdir)
        with open(os.path.join(cdir, "watch.contract.json"), "w") as f:
            json.dump({"interactions": [{
                "name": "watch", "method": "shop.v1.Orders/WatchOrders",
                "request": {"customer": "c-1"},
                "response": {"id": "o-2"}}]}, f)
        schema = os.path.join(here, "schema")
        renamed = os.path.join(tmp, "field_renamed")
        for extra, rc in [([], 100), (["--rules", "WIRE"], 100)]:
            r = subprocess.run([a.weft, "breaking", renamed, "--against",
                                schema, "--contracts", cdir, *extra],
                               capture_output=True, text=True, timeout=60)
            out = r.stdout
            check("breaking --contracts %s" % " ".join(extra),
                  r.returncode == rc and
                  "billing.contract.json: contract broken by this change"
                  in out and "order.totalCents: no such field" in out and
                  "watch.contract.json" not in out and
                  (("FIELD_SAME_NAME" in out) == (not extra)),
                  f"exit {r.returncode}, stdout {out!r}, stderr {r.stderr!r}")
        r = subprocess.run([a.weft, "breaking",
                            os.path.join(tmp, "field_added_(compatible)"),
                            "--against", schema, "--contracts", cdir],
                           capture_output=True, text=True, timeout=60)
        check("breaking --contracts, compatible change",
              r.returncode == 0 and "broken" not in r.stdout,
              f"exit {r.returncode}, stdout {r.stdout!r}, "
              f"stderr {r.stderr!r}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
