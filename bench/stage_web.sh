#!/bin/sh
# Bench stage "web": how the dashboard's delta applier (web/src/diagram.ts) copes with a grid of
# 1,000 rows x 1,000 bins (cells in 10% of them, 100,000 cells) in headless Debian chromium: time to install the snapshot, time to
# apply a delta that updates the newest bin of every row and adds the next (p50/p99), and the
# frame interval meanwhile. Usage: sh bench/stage_web.sh quick|full OUTDIR (after make all).
set -eu
MODE=${1:-quick}
OUT=${2:-build/bench/web}
mkdir -p "$OUT"
case $MODE in
quick) DELTAS=30 ;;
full) DELTAS=200 ;;
*)
    echo "usage: sh bench/stage_web.sh quick|full OUTDIR" >&2
    exit 2
    ;;
esac
NODE_PATH=web/node_modules web/node_modules/.bin/esbuild bench/web_apply.ts --bundle \
    --format=iife --target=es2022 --log-level=warning --outfile="$OUT/web_apply.js"
timeout 240 node bench/web_apply.mjs "$OUT/web_apply.js" 1000 1000 10 "$DELTAS"
