#!/bin/sh
# Installs the Debian packages liveprof needs to build, test and benchmark, when they are
# missing, then the web front end's npm packages (web/package-lock.json) when web/node_modules
# does not hold exactly that lock. Idempotent and quiet when everything is there; run by the
# make targets. No browser is ever downloaded: the browser tests use Debian's chromium.
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
# Node.js and npm build the web front end; a machine that has them from elsewhere keeps them.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"

if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "liveprof needs these Debian packages:$missing" >&2
        echo "run as root (or: sudo apt-get install$missing)" >&2
        exit 1
    fi
    echo "installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends $missing >&2
fi

# npm packages of web/ (esbuild, flatbuffers, playwright-core, typescript): `npm ci` only when
# the installed tree does not match the lock, so an up-to-date tree needs no network.
here=$(cd "$(dirname "$0")/.." && pwd)
stamp="$here/web/node_modules/.liveprof-lock"
if ! cmp -s "$here/web/package-lock.json" "$stamp"; then
    echo "installing the web front end's npm packages (npm ci in web/)" >&2
    (cd "$here/web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2)
    cp "$here/web/package-lock.json" "$stamp"
fi
