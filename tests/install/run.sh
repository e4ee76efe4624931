#!/usr/bin/env bash
# Builds tests/install/example the ways weft's users do and runs it (a call
# over grpc, h2c, ws and tcp on free loopback ports, plus the codec-only
# program). Usage: run.sh MODE WORK SOURCE_DIR BUILD_DIR
#   prefix-setup  cmake --install BUILD_DIR into WORK/prefix (shared by the
#                 next two modes through a CTest fixture)
#   cmake         find_package(weft) against WORK/prefix
#   pkgconfig     pkg-config weft + a plain Makefile against WORK/prefix
#   symbols       nm -D: the shared libraries export only weft_ (and, from
#                 libweft-codec, the well-known types' google__protobuf__)
#                 symbols, versioned WEFT_0, with SONAMEs
#   subdir        add_subdirectory(SOURCE_DIR): builds only what greet needs
#   deb           cpack -G DEB in BUILD_DIR, dpkg -x the packages into a
#                 scratch root, check their Depends, build against the root
set -euo pipefail
# (grep without -q below: -q exits at the first match and, under pipefail,
# the writer's SIGPIPE would fail the pipeline.)
mode=$1 work=$2 src=$3 bld=$4
example=$src/tests/install/example
prefix=$(realpath -m "$work/../prefix")
trap 'echo "run.sh $mode: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
say() { echo "== $*"; }

run_greet() { # dir
  "$1/greet_codec"
  "$1/greet"
}

cmake_example() { # build dir, extra cmake args...
  local b=$1; shift
  rm -rf "$b" && mkdir -p "$(dirname "$b")"
  # CMAKE_GENERATOR (from CTest): the generator weft itself was built with.
  cmake -S "$example" -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -Wno-dev "$@" >"$b.configure.log" 2>&1 || { cat "$b.configure.log"; exit 1; }
}

case $mode in
prefix-setup)
  rm -rf "$prefix"
  cmake --install "$bld" --prefix "$prefix" >/dev/null
  # Only the public API: no header from a transport's or module's src dir.
  test -f "$prefix/include/weft/client.h"
  test -f "$prefix/include/weft/grpc_transport.h"
  test -f "$prefix/include/weft/wkt/google/protobuf/timestamp.weft.h"
  test ! -e "$prefix/include/weft/mux.h"
  test ! -e "$prefix/include/sock.h"
  test -x "$prefix/bin/protoc-gen-weft"
  test -x "$prefix/bin/weft"
  test -f "$prefix/share/weft/proto/aitbc/v1/jobs.proto"
  ;;
cmake)
  cmake_example "$work/build" -DCMAKE_PREFIX_PATH="$prefix"
  cmake --build "$work/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
  # Linked against the installed shared libraries, not anything in the tree.
  ldd "$work/build/greet" | grep "$prefix/.*libweft.so.0" >/dev/null
  test -f "$work/build/libgreet_aitbc_protos.a"
  if ldd "$work/build/greet_static" | grep libweft >/dev/null; then
    echo "greet_static links a shared libweft"; exit 1
  fi
  run_greet "$work/build"
  "$work/build/greet_static"
  ;;
pkgconfig)
  rm -rf "$work" && mkdir -p "$work"
  cp -r "$example/." "$work/src"
  PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name weft.pc)")
  export PKG_CONFIG_PATH
  pkg-config --exists --print-errors weft weft-codec
  make -C "$work/src" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
  run_greet "$work/src"
  ;;
symbols)
  lib=$bld/lib
  for so in libweft.so.0 libweft-codec.so.0; do
    objdump -p "$lib/$so" | grep "SONAME *$so\$" >/dev/null ||
      { echo "$so: no SONAME $so"; exit 1; }
    # Defined dynamic symbols, less the version node itself.
    syms=$(nm -D --defined-only "$lib/$so" | awk 'NF==3 && $3 != "WEFT_0" {print $3}')
    allow='^weft_[^_]'
    [ "$so" = libweft-codec.so.0 ] && allow='^(weft_[^_]|google__protobuf__|google__api__)'
    bad=$(echo "$syms" | sed 's/@.*//' | grep -Ev "$allow" || true)
    if [ -n "$bad" ]; then echo "$so exports:"; echo "$bad"; exit 1; fi
    unver=$(echo "$syms" | grep -v '@@WEFT_0$' || true)
    if [ -n "$unver" ]; then echo "$so: not in WEFT_0:"; echo "$unver"; exit 1; fi
    echo "$so: $(echo "$syms" | wc -l) symbols, all public"
  done
  nm -D --defined-only "$lib/libweft.so.0" | grep ' weft_client_open@@WEFT_0$' >/dev/null
  nm -D --defined-only "$lib/libweft-codec.so.0" | grep ' weft_decode@@WEFT_0$' >/dev/null
  nm -D --defined-only "$lib/libweft-codec.so.0" | grep ' google__protobuf__Timestamp_desc@@WEFT_0$' >/dev/null
  ;;
subdir)
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache)
  cmake_example "$work/build" -DWEFT_SOURCE_DIR="$src" "${launcher[@]}"
  cmake --build "$work/build" --target greet greet_codec greet_static >"$work/build.log" 2>&1 ||
    { cat "$work/build.log"; exit 1; }
  run_greet "$work/build"
  "$work/build/greet_static"
  ;;
deb)
  rm -rf "$work" && mkdir -p "$work/debs" "$work/root"
  (cd "$bld" && cpack -G DEB -B "$work/debs" >"$work/cpack.log" 2>&1) ||
    { cat "$work/cpack.log"; exit 1; }
  ls "$work/debs"/*.deb
  for p in libweft0 libweft-dev weft; do
    deb=$(ls "$work/debs/${p}_"*.deb)
    dpkg-deb -f "$deb" Package Depends
    dpkg -x "$deb" "$work/root"
  done
  dep() { dpkg-deb -f "$(ls "$work/debs/$1_"*.deb)" Depends; }
  for d in libgrpc29 libnghttp2-14 libssl3 libcjson1 libprotobuf-c1 zlib1g; do
    dep libweft0 | grep "$d" >/dev/null || { echo "libweft0 lacks Depends $d"; exit 1; }
    dep weft | grep "$d" >/dev/null || { echo "weft lacks Depends $d"; exit 1; }
  done
  dep libweft-dev | grep 'libweft0 (= ' >/dev/null || { echo "libweft-dev lacks libweft0"; exit 1; }
  # Packaged files: the runtime libraries only in libweft0, the rest in dev.
  dpkg-deb -c "$(ls "$work/debs/libweft0_"*.deb)" | grep 'libweft.so.0 -> ' >/dev/null
  if dpkg-deb -c "$(ls "$work/debs/libweft0_"*.deb)" | grep -E '\.h$|\.a$|\.so$' >/dev/null; then
    echo "libweft0 carries development files"; exit 1
  fi
  "$work/root/usr/bin/weft" --help >/dev/null
  cmake_example "$work/build" -DCMAKE_PREFIX_PATH="$work/root/usr"
  cmake --build "$work/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
  ldd "$work/build/greet" | grep "$work/root/.*libweft.so.0" >/dev/null
  run_greet "$work/build"
  "$work/build/greet_static"
  ;;
*)
  echo "run.sh: unknown mode $mode" >&2
  exit 2
  ;;
esac
say "$mode: ok"
