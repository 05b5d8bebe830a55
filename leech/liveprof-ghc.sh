#!/bin/sh
# liveprof-ghc [ghc options] Prog.hs: ghc with -threaded -eventlog and the liveprof
# leech linked in through a C main (attach mode a; it allows every RTS option, as -rtsopts
# would, which ghc ignores with -no-hs-main). The binary streams its eventlog to the
# monitor at $LIVEPROF_SOCKET when that is set and runs normally otherwise. The module
# LiveprofLeech (attach mode b) is on the import path too.
here=$(cd "$(dirname "$0")" && pwd)
exec ghc -threaded -eventlog -no-hs-main -i"$here/leech" "$@" \
    "$here/leech/leech_main.o" "$here/libliveprof-leech.a" -optl-pthread
