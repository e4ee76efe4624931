#!/usr/bin/python3
"""weft_generate() in a project of its own: after a full build, a second
build does nothing (no protoc run, no compile, no link), with Ninja and with
Makefiles; editing an imported .proto still regenerates the file that
imports it.

usage: noop_build.py SOURCE_DIR PROTOC_GEN_WEFT GENERATOR
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SRC, PLUGIN, GEN = sys.argv[1:4]

PROJECT = """cmake_minimum_required(VERSION 3.18)
project(weft_noop C)
set(WEFT_PROTOC_GEN_WEFT "%s")
set(WEFT_INCLUDE_DIR "%s")
include("%s")
weft_generate(noop_protos PROTOS noop/v1/base.proto noop/v1/user.proto
              IMPORT_DIRS ${CMAKE_CURRENT_SOURCE_DIR}/protos)
"""
BASE = """syntax = "proto3";
package noop.v1;
message Base { string id = 1; }
"""
USER = """syntax = "proto3";
package noop.v1;
import "noop/v1/base.proto";
message User { Base base = 1; map<string, int32> tags = 2; }
"""
# Lines a build prints only when it does something.
WORK = re.compile(r"protoc-gen-weft:|Building C|Linking C|Generating")


def run(args, cwd):
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        sys.exit("%s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr))
    return r.stdout


def build(bdir):
    tool = ["ninja"] if GEN == "Ninja" else ["make"]
    return run(tool, bdir)


def main():
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "src")
        os.makedirs(os.path.join(src, "protos", "noop", "v1"))
        with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
            f.write(PROJECT % (PLUGIN, os.path.join(SRC, "runtime", "include"),
                               os.path.join(SRC, "gen", "cmake",
                                            "WeftGenerate.cmake")))
        base = os.path.join(src, "protos", "noop", "v1", "base.proto")
        with open(base, "w") as f:
            f.write(BASE)
        with open(os.path.join(src, "protos", "noop", "v1", "user.proto"),
                  "w") as f:
            f.write(USER)
        bdir = os.path.join(d, "build")
        run(["cmake", "-S", src, "-B", bdir, "-G", GEN, "-Wno-dev"], d)
        first = build(bdir)
        if len(re.findall(r"protoc-gen-weft:", first)) != 2:
            sys.exit("first build did not generate both files:\n" + first)
        second = build(bdir)
        busy = [l for l in second.splitlines() if WORK.search(l)]
        if GEN == "Ninja" and "no work to do" not in second:
            busy.append("(no 'no work to do')")
        if busy:
            sys.exit("second build (%s) was not a no-op:\n%s" %
                     (GEN, "\n".join(busy)))
        # An edit to an imported file regenerates its importer too.
        time.sleep(1.1)  # a newer mtime on coarse-timestamp file systems
        with open(base, "a") as f:
            f.write("message More { int32 n = 1; }\n")
        third = build(bdir)
        gen = re.findall(r"protoc-gen-weft: (\S+)", third)
        if sorted(gen) != ["noop/v1/base.proto", "noop/v1/user.proto"]:
            sys.exit("after editing base.proto (%s) regenerated %r:\n%s" %
                     (GEN, gen, third))
        fourth = build(bdir)
        busy = [l for l in fourth.splitlines() if WORK.search(l)]
        if busy:
            sys.exit("build after the edit's build (%s) was not a no-op:\n%s"
                     % (GEN, "\n".join(busy)))
    print("1 passed, 0 failed")


main()
