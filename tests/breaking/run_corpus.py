#!/usr/bin/python3
"""Runs `weft breaking` (and buf) on the corpus in cases/.

Each case is cases/NAME/{old,new}/ (a folder of .proto files), README (what
changes) and expect (the rule ids that fire when every rule runs, one per
line; empty for a compatible change). A case where weft reports on purpose
what buf does not (docs/BREAKING.md, "Differences from buf") lists those
rule ids in buf-differs; buf must report everything else weft does, and
nothing more. A rule's verdict does not depend on
which other rules run, so the ids expected under a category are `expect`
restricted to the rules of that category.

  run_corpus.py --weft BIN                 weft against the expect files
                                           (breaking_test does this
                                           in-process, per category)
  run_corpus.py --weft BIN --buf BUF       also buf: its ids must equal
                                           weft's, per case and category,
                                           at the same file:line:col
  --per-category                           run buf once per category
                                           (default: once with all rules,
                                           restricted per category, as above)
  --buf-npm DIR                            install buf from npm into DIR
                                           (once) and use it; exit 77
                                           (skipped) if npm cannot
  --write-expect                           (re)write expect from weft

Exit status 0 when everything agrees; each disagreement is printed as
CASE CATEGORY: only-in-X [...] only-in-Y [...].
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile

CATEGORIES = ["FILE", "PACKAGE", "WIRE_JSON", "WIRE"]


def rule_categories(weft):
    out = subprocess.run([weft, "breaking", "--list-rules"], check=True,
                         capture_output=True, text=True).stdout
    cats = {}
    for line in out.splitlines():
        parts = line.split()
        cats[parts[0]] = set(parts[1].split(","))
    return cats


def weft_ids(weft, new, old, rules, cwd=None, locs=None):
    r = subprocess.run([weft, "breaking", new, "--against", old, "--rules",
                        rules, "--format", "json"],
                       capture_output=True, text=True, cwd=cwd)
    if r.returncode not in (0, 100):
        raise RuntimeError(f"weft breaking exited {r.returncode}: {r.stderr}")
    rows = [json.loads(l) for l in r.stdout.splitlines() if l]
    ids = {x["type"] for x in rows}
    if locs is not None:
        # OLD's files (gone from NEW) are where buf prints "<input>".
        locs.extend(sorted((x["type"], x["path"] if x["path"].startswith(
            new + "/") else "<input>", x["start_line"], x["start_column"])
            for x in rows))
    if (r.returncode == 100) != bool(ids):
        raise RuntimeError(f"exit {r.returncode} with {len(ids)} violations")
    return ids


def buf_ids(buf, case_dir, rules, tmp, locs=None):
    # buf reads the folders as they are; the configuration comes inline.
    config = json.dumps({"version": "v1", "breaking": {"use": rules}})
    r = subprocess.run([buf, "breaking", "new", "--against", "old",
                        "--config", config, "--error-format", "json"],
                       cwd=case_dir, capture_output=True, text=True,
                       env=dict(os.environ, BUF_CACHE_DIR=tmp))
    if r.returncode not in (0, 100):
        raise RuntimeError(f"buf exited {r.returncode}: {r.stderr}")
    rows = [json.loads(l) for l in r.stdout.splitlines() if l]
    if locs is not None:
        locs.extend(sorted((x["type"], x.get("path", "<input>"),
                            x["start_line"], x["start_column"])
                           for x in rows))
    return {x["type"] for x in rows}


def check_case(args, cats, name, tmp):
    d = os.path.join(args.cases, name)
    problems = []
    # One run with every rule; a category's verdict is that restricted to
    # its rules (breaking_test checks the selection itself in-process).
    wlocs, blocs = [], []
    all_ids = weft_ids(args.weft, "new", "old", ",".join(CATEGORIES), cwd=d,
                       locs=wlocs)
    per_cat = {c: {i for i in all_ids if c in cats[i]} for c in CATEGORIES}
    if args.write_expect:
        with open(os.path.join(d, "expect"), "w") as f:
            f.write("".join(i + "\n" for i in sorted(all_ids)))
    else:
        with open(os.path.join(d, "expect")) as f:
            expect = {l.strip() for l in f if l.strip()}
        if all_ids != expect:
            problems.append(f"{name}: weft {sorted(all_ids - expect)} not "
                            f"expected, expected but missing "
                            f"{sorted(expect - all_ids)}")
    if args.buf:
        if args.per_category:
            bufs = {c: buf_ids(args.buf, d, [c], tmp) for c in CATEGORIES}
        else:
            b = buf_ids(args.buf, d, CATEGORIES, tmp, locs=blocs)
            bufs = {c: {i for i in b if c in cats.get(i, ())} for c in
                    CATEGORIES}
            unknown = b - set(cats)
            if unknown:
                problems.append(f"{name}: buf rules weft does not know: "
                                f"{sorted(unknown)}")
        differs = set()
        path = os.path.join(d, "buf-differs")
        if os.path.exists(path):
            with open(path) as f:
                differs = {l.strip() for l in f if l.strip()}
        # Where: the same file, line and column for every violation.
        wl = [x for x in wlocs if x[0] not in differs]
        if blocs != wl and not args.per_category:
            problems.append(f"{name}: locations differ: only weft "
                            f"{[x for x in wl if x not in blocs]}, only buf "
                            f"{[x for x in blocs if x not in wl]}")
        for c in CATEGORIES:
            if bufs[c] | {i for i in differs if i in per_cat[c]} != per_cat[c]:
                problems.append(f"{name} {c}: only weft "
                                f"{sorted(per_cat[c] - bufs[c])}, only buf "
                                f"{sorted(bufs[c] - per_cat[c])}")
    return problems, all_ids


BUF_VERSION = "1.75.0"  # the rule list weft's table was checked against


def buf_from_npm(d):
    """buf's own binary from npm (the platform package ships it), installed
    into d once per build tree; None when npm is unavailable."""
    def find():
        base = os.path.join(d, "node_modules", "@bufbuild")
        if os.path.isdir(base):
            for p in sorted(os.listdir(base)):
                b = os.path.join(base, p, "bin", "buf")
                if p.startswith("buf-") and os.access(b, os.X_OK):
                    return b
        b = os.path.join(d, "node_modules", ".bin", "buf")
        return b if os.access(b, os.X_OK) else None
    if find():
        return find()
    if not shutil.which("npm"):
        print("SKIPPED: npm is not installed, so buf cannot be installed")
        return None
    os.makedirs(d, exist_ok=True)
    log = os.path.join(d, "install.log")
    with open(log, "w") as f:
        # flock: parallel ctest runs install once.
        r = subprocess.run(["flock", os.path.join(d, ".lock"), "npm",
                            "install", "--prefix", d, "--no-audit",
                            "--no-fund", "--loglevel=error",
                            f"@bufbuild/buf@{BUF_VERSION}"],
                           stdout=f, stderr=subprocess.STDOUT, timeout=300)
    if r.returncode != 0 or not find():
        print(f"SKIPPED: npm could not install @bufbuild/buf (no registry "
              f"access?): see {log}")
        return None
    return find()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weft", required=True)
    ap.add_argument("--cases",
                    default=os.path.join(os.path.dirname(__file__), "cases"))
    ap.add_argument("--buf")
    ap.add_argument("--buf-npm")
    ap.add_argument("--per-category", action="store_true")
    ap.add_argument("--write-expect", action="store_true")
    ap.add_argument("-j", type=int, default=2)
    args = ap.parse_args()
    args.weft = os.path.abspath(args.weft)
    args.cases = os.path.abspath(args.cases)
    if args.buf:
        args.buf = os.path.abspath(args.buf)
    if args.buf_npm and not args.buf:
        args.buf = buf_from_npm(args.buf_npm)
        if not args.buf:
            return 77
    cats = rule_categories(args.weft)
    names = sorted(n for n in os.listdir(args.cases)
                   if os.path.isdir(os.path.join(args.cases, n)))
    tmp = tempfile.mkdtemp(prefix="weft-breaking-corpus-")
    failed = 0
    fired = set()
    try:
        with concurrent.futures.ThreadPoolExecutor(args.j) as ex:
            futs = {ex.submit(check_case, args, cats, n, tmp): n for n in names}
            for fut in concurrent.futures.as_completed(futs):
                try:
                    problems, ids = fut.result()
                except Exception as e:  # noqa: BLE001 - report and go on
                    problems, ids = [f"{futs[fut]}: {e}"], None
                fired |= ids or set()
                for p in problems:
                    print(p)
                failed += bool(problems)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    never = sorted(set(cats) - fired)
    print(f"{len(names)} cases, {len(fired)} of {len(cats)} rules fired"
          + (f" (never: {', '.join(never)})" if never else "")
          + (", compared with buf" + (" per category" if args.per_category
                                      else "") if args.buf else ""))
    print(f"{len(names) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
