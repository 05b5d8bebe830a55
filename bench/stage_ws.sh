#!/bin/sh
# Bench stage "ws": WebSocket push latency and fan-out (docs/websocket.md). A live-looking log
# (bench-gen with small per-capability blocks, as a program that flushes its eventlog often,
# 32 threads and 16 labels: a dashboard-sized grid) is
# uploaded in 10 ms chunks paced to an event rate while bench-wsload's clients follow the
# session; a chunk's latency runs from its PUT to the pushed update (a State reporting its bytes
# ingested, followed in the same burst by the diagrams' deltas) a client holds. Rows: p50/p99 at
# 10^5 and 10^6 events/s with one client, then p50/p99, server CPU and RSS with 1,000 clients on
# one live session (joined after WARM seconds of its ingest), then (full mode) p50/p99 with
# 1,000 clients that joined before its first byte.
#   sh bench/stage_ws.sh quick|full OUTDIR      (after make all; quick < 1 min)
set -eu

MODE=${1:-quick}
OUT=${2:-build/bench/ws}
case $MODE in
quick) SECS=2 WARM=4 CLIENTS=1000 SIZE=48M ;;
full) SECS=8 WARM=8 CLIENTS=1000 SIZE=176M ;;
*)
    echo "usage: sh bench/stage_ws.sh quick|full OUTDIR" >&2
    exit 2
    ;;
esac
B=build
mkdir -p "$OUT" "$B/bench"
for bin in "$B/bench-gen" "$B/bench-wsload" "$B/liveprof"; do
    [ -x "$bin" ] || make -s "$bin" > /dev/null
done
ulimit -n 8192 2> /dev/null || ulimit -n 4096 2> /dev/null || true
# big enough for SECS of ingest at 10^6 events/s (about 20 bytes an event)
LOG=$B/bench/ws-live-$SIZE-block32K-t32.eventlog
[ -s "$LOG" ] || "$B/bench-gen" --size "$SIZE" --caps 2 --block 32K --threads 32 --labels 16 -o "$LOG" 2> /dev/null
INPUT=gen-$SIZE-block32K-t32

row() { printf 'ws\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$INPUT" "$1" "$2" "$3" - - "$4"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HTTP=$(free_port)
WS=$(free_port)
rm -rf "$OUT/data"
"$B/liveprof" serve --http "127.0.0.1:$HTTP" --ws "127.0.0.1:$WS" --data "$OUT/data" --web '' \
    > "$OUT/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2> /dev/null || true' EXIT INT TERM
i=0
until [ -s "$OUT/data/admin.token" ] && curl -sf "http://127.0.0.1:$HTTP/api/me" > /dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 150 ]; then
        echo "stage_ws: the server did not start: $(cat "$OUT/server.log")" >&2
        exit 1
    fi
    sleep 0.1
done
TOKEN=$(cat "$OUT/data/admin.token")

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }

for rate in 100000 1000000; do
    res=$("$B/bench-wsload" --http "$HTTP" --ws "$WS" --token "$TOKEN" --log "$LOG" \
        --rate "$rate" --clients 1 --seconds "$SECS" 2> "$OUT/wsload-$rate.err") || {
        echo "stage_ws: bench-wsload failed at $rate events/s: $(cat "$OUT/wsload-$rate.err")" >&2
        exit 1
    }
    set -- $res
    row "push latency p50 at $rate events/s" "$1" ms "1 client, $3 chunks, $5 deltas, ${SECS}s"
    row "push latency p99 at $rate events/s" "$2" ms "1 client, $3 chunks, $5 deltas, ${SECS}s"
done

# fanout WARM: bench-wsload with CLIENTS clients on a new session whose first WARM seconds of
# ingest were uploaded at once before they joined; sets $1.. to its results, C0 C1 T0 T1 to the
# server's CPU ticks and the times around it
fanout() {
    C0=$(cpu_ticks)
    T0=$(date +%s.%N)
    res=$("$B/bench-wsload" --http "$HTTP" --ws "$WS" --token "$TOKEN" --log "$LOG" --rate 100000 \
        --clients "$CLIENTS" --seconds "$SECS" --warm "$1" 2> "$OUT/wsload-fanout-$1.err") || {
        echo "stage_ws: bench-wsload failed with $CLIENTS clients: $(cat "$OUT/wsload-fanout-$1.err")" >&2
        exit 1
    }
    C1=$(cpu_ticks)
    T1=$(date +%s.%N)
}

hz=$(getconf CLK_TCK)
# 1,000 dashboards on a session that is already live (the target rows): every render goes to
# every client, with the latency of the chunks paced after they joined
fanout "$WARM"
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$PID/status")
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$PID/status")
set -- $res
row "fan-out push latency p50, $CLIENTS clients" "$1" ms "$4 connected to a session live for ${WARM}s of ingest, 10^5 events/s, $3 samples"
row "fan-out push latency p99, $CLIENTS clients" "$2" ms "$4 connected to a session live for ${WARM}s of ingest, 10^5 events/s, $3 samples"
row "fan-out mean delta size, $CLIENTS clients" "$6" bytes "$5 deltas received in all (every diagram)"
row "fan-out mean snapshot size, $CLIENTS clients" "$8" bytes "$7 snapshots received in all (first ones, rescaled charts, resets of clients left behind)"
row "fan-out server CPU, $CLIENTS clients" \
    "$(awk -v a="$C0" -v b="$C1" -v h="$hz" -v s="$T0" -v e="$T1" 'BEGIN { printf "%.0f", (b - a) / h / (e - s) * 100 }')" \
    "%" "of one core, over the run (warm-up upload, snapshots, paced upload, render, fan-out)"
row "fan-out server RSS, $CLIENTS clients" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')" MB \
    "VmRSS at the end; peak $(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }') MB"
# the same clients joining a session at its first byte: its time axis doubles every few hundred
# ms at first, and each doubling sends every chart anew to every client (full mode only: quick
# mode stays within its budget)
if [ "$MODE" = full ]; then
    fanout 0
    set -- $res
    row "fan-out push latency p50 from the session's start, $CLIENTS clients" "$1" ms "$4 connected before the first byte, 10^5 events/s, $3 samples, $7 snapshots of $8 bytes on average"
    row "fan-out push latency p99 from the session's start, $CLIENTS clients" "$2" ms "$4 connected before the first byte, 10^5 events/s, $3 samples"
fi
kill "$PID" 2> /dev/null
wait "$PID" 2> /dev/null || true
trap - EXIT INT TERM
