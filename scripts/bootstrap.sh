#!/usr/bin/env bash
# Installs the Debian packages weft needs to build, test and benchmark.
# Idempotent: quiet and quick when everything is already present.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  protobuf-compiler libprotobuf-dev libprotoc-dev
  libprotobuf-c-dev protobuf-c-compiler
  libgrpc-dev libgrpc++-dev protobuf-compiler-grpc grpc-proto
  golang-github-gogo-googleapis-dev  # google/api/{annotations,http}.proto (REST routes)
  libnghttp2-dev nghttp2-client nghttp2-server
  libssl-dev openssl zlib1g-dev libcjson-dev
  nodejs  # connect-node peers (tests/integration/http1, http2); npm installs into the build tree
  nats-server libnats-dev nginx libnginx-mod-stream  # clustering (docs/CLUSTER.md, node_cluster tests), bench/http1 peer
  googletest libgtest-dev
  python3 python3-grpcio python3-protobuf python3-grpc-tools python3-websockets
  python3-aiohttp python3-httpx chromium  # HTTP/1.1 tests (H1Serve.*)
  git
  curl ca-certificates
  file dpkg-dev  # cpack -G DEB (install_deb test): file finds ELF files, dpkg-shlibdeps the Depends
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
