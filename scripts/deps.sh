#!/bin/sh
# Installs the Debian packages liveprof needs to build, test and benchmark, when they are
# missing. Idempotent and quiet when everything is there; run by the make targets.
set -eu

PKGS="gcc make xz-utils python3 curl libpcre2-dev libh2o-evloop-dev libjansson-dev libsqlite3-dev
libsodium-dev libssl-dev ghc libghc-ghc-events-dev time wrk libwebsockets-dev
flatbuffers-compiler libflatbuffers-dev libroaring-dev libzstd-dev libxxhash-dev chromium g++
clang libclang-rt-14-dev"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "liveprof needs these Debian packages:$missing" >&2
    echo "run as root (or: sudo apt-get install$missing)" >&2
    exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends $missing >&2
