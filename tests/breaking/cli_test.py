#!/usr/bin/python3
"""Tests of the `weft breaking` command: inputs (folders, .proto files with
-I, descriptor sets, git revisions), rule selection, output formats,
locations and exit codes. Runs in a temporary folder; prints one line per
check and 'N passed, N failed'."""
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


def run(args, cwd=None):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weft", required=True)
    ap.add_argument("--cases", required=True)
    a = ap.parse_args()
    weft = os.path.abspath(a.weft)
    cases = os.path.abspath(a.cases)
    tmp = tempfile.mkdtemp(prefix="weft-breaking-cli-")
    try:
        body(weft, cases, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def case(cases, name, side):
    return os.path.join(cases, name, side)


def body(weft, cases, tmp):
    # Exit codes and the text format, with SourceCodeInfo locations: the
    # renumbered field is reported at its message in NEW (line 5: message M).
    r = run([weft, "breaking", case(cases, "field_renumber", "new"),
             "--against", case(cases, "field_renumber", "old")])
    check("breaking change exits 100", r.returncode == 100, r)
    new_file = os.path.join(case(cases, "field_renumber", "new"), "a.proto")
    check("text line names file:line:col:RULE_ID",
          f"{new_file}:5:1:FIELD_NO_DELETE: Previously present field \"2\" "
          f"with name \"b\" on message \"M\" was deleted." in r.stdout,
          r.stdout)
    r = run([weft, "breaking", case(cases, "field_add", "new"), "--against",
             case(cases, "field_add", "old")])
    check("compatible change exits 0 and prints nothing",
          r.returncode == 0 and r.stdout == "", r)

    # A type change is located at the type in NEW.
    r = run([weft, "breaking", case(cases, "field_type_int32_to_int64", "new"),
             "--against", case(cases, "field_type_int32_to_int64", "old"),
             "--format", "json"])
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    check("json: one object per violation, with buf's keys",
          r.returncode == 100 and rows and
          all(set(x) == {"path", "start_line", "start_column", "type",
                         "message"} for x in rows), r.stdout)
    check("json: location of the changed type",
          any(x["type"] == "FIELD_SAME_TYPE" and x["start_line"] == 6 and
              x["start_column"] == 3 for x in rows), rows)

    # Rule selection.
    n, o = case(cases, "field_renumber", "new"), case(cases, "field_renumber", "old")
    ids = lambda r: sorted({l.split(":")[3] for l in r.stdout.splitlines()})
    r = run([weft, "breaking", n, "--against", o, "--rules", "WIRE"])
    check("--rules WIRE", ids(r) == ["FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED"],
          ids(r))
    r = run([weft, "breaking", n, "--against", o, "--only-rule",
             "FIELD_NO_DELETE_UNLESS_NAME_RESERVED"])
    check("--only-rule", ids(r) == ["FIELD_NO_DELETE_UNLESS_NAME_RESERVED"],
          ids(r))
    r = run([weft, "breaking", n, "--against", o, "--exclude-rule",
             "FIELD_NO_DELETE"])
    check("--exclude-rule leaves nothing to report",
          r.returncode == 0 and r.stdout == "", r)
    r = run([weft, "breaking", n, "--against", o, "--only-rule", "NOPE"])
    check("unknown rule: exit 2 and says which",
          r.returncode == 2 and "NOPE" in r.stderr, r)

    # A schema that does not compile is an input error, not a verdict.
    bad = os.path.join(tmp, "bad")
    os.makedirs(bad)
    with open(os.path.join(bad, "x.proto"), "w") as f:
        f.write('syntax = "proto3";\nmessage X { int32 a = 1; string a = 2; }\n')
    r = run([weft, "breaking", bad, "--against", o])
    check("a schema protoc rejects: exit 2", r.returncode == 2, r)

    # A .proto file with -I, against a baseline written from the folder.
    base = os.path.join(tmp, "base.binpb")
    old_side = case(cases, "field_type_enum_superset_other_package", "old")
    new_side = case(cases, "field_type_enum_superset_other_package", "new")
    r = run([weft, "breaking", old_side, "--write-baseline", base])
    check("--write-baseline writes the set and exits 0",
          r.returncode == 0 and os.path.getsize(base) > 0, r)
    r = run([weft, "breaking", os.path.join(new_side, "a.proto"), "-I",
             new_side, "--against", base, "--rules", "WIRE_JSON"])
    # Only a.proto is NEW here (its imports resolve the enum), so the
    # enums' files count as deleted under FILE; WIRE_JSON has no file rules
    # and sees a compatible enum.
    check(".proto file + -I against a baseline", r.returncode == 0, r)
    r = run([weft, "breaking", os.path.join(new_side, "a.proto"), "-I",
             new_side, "--against", base])
    check("... and FILE sees the files missing from NEW",
          r.returncode == 100 and "FILE_NO_DELETE" in r.stdout, r)

    # Several .proto files as NEW, printed as named.
    r = run([weft, "breaking"] +
            [os.path.join(new_side, f) for f in
             ("a.proto", "common.proto", "common2.proto")] +
            ["--against", old_side])
    check("several .proto files as NEW",
          r.returncode == 100 and r.stdout.startswith(
              os.path.join(new_side, "a.proto") + ":7:3:FIELD_SAME_TYPE:") and
          len(r.stdout.splitlines()) == 1, r)

    # A descriptor set without source info: violations still, at 1:1.
    plain = os.path.join(tmp, "plain.binpb")
    r = run(["protoc", "-I", n, "-o", plain, "a.proto"])
    r = run([weft, "breaking", plain, "--against", o])
    check("set without source info: reported at 1:1",
          r.returncode == 100 and "a.proto:1:1:FIELD_NO_DELETE:" in r.stdout,
          r)
    junk = os.path.join(tmp, "junk.binpb")
    with open(junk, "wb") as f:
        f.write(b"\xff\xff\xff")
    r = run([weft, "breaking", junk, "--against", o])
    check("bytes that are not a FileDescriptorSet: exit 2 with a reason",
          r.returncode == 2 and "not a FileDescriptorSet" in r.stderr, r)

    # git:REV:SUBDIR against the working tree.
    repo = os.path.join(tmp, "repo")
    shutil.copytree(case(cases, "enum_value_rename", "old"),
                    os.path.join(repo, "proto"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    ok = run(git + ["init", "-q"], cwd=repo).returncode == 0
    ok = ok and run(git + ["add", "."], cwd=repo).returncode == 0
    ok = ok and run(git + ["commit", "-qm", "old"], cwd=repo).returncode == 0
    shutil.copy(os.path.join(case(cases, "enum_value_rename", "new"),
                             "a.proto"), os.path.join(repo, "proto"))
    r = run([weft, "breaking", "proto", "--against", "git:HEAD:proto"],
            cwd=repo)
    check("git:HEAD:SUBDIR against the working tree",
          ok and r.returncode == 100 and
          "proto/a.proto:7:17:ENUM_VALUE_SAME_NAME:" in r.stdout, r)
    r = run([weft, "breaking", "proto", "--against", "git:HEAD:proto"],
            cwd=os.path.join(repo, "proto"))
    check("git: a revision of the repository the command runs in",
          r.returncode == 2, r)
    r = run([weft, "breaking", "proto", "--against", "git:nosuchrev"],
            cwd=repo)
    check("git: unknown revision: exit 2", r.returncode == 2, r)


if __name__ == "__main__":
    sys.exit(main())
