#!/bin/sh
# Segments stage: sh bench/stage_segments.sh quick|full OUTDIR (after `make all`).
# Measures, on a generated log (100 MB quick, 1 GB full): writing it into segments with and
# without zstd against plain write(2) of the same bytes (the cost of segments on the ingest
# path), disk bytes per MB of eventlog, reading the stream back from segments (warm page cache),
# the exact replay from segments (`liveprof replay DIR`) against `liveprof analyze` of the file,
# recovery (every record checked) of the whole directory, and a server restart with the log as
# one finished session: time from `liveprof serve` until the session answers /totals.txt, when
# it resumes from its snapshot against when it is analysed again from its raw segments (its
# snapshot cut off). One TSV row per measurement:
# stage input metric value unit baseline baseline_value note
set -eu
MODE=${1:-quick}
OUT=${2:-build/bench/out-segments}
B=build
mkdir -p build/bench "$OUT"
case "$MODE" in
quick) SIZE=100M ;;
full) SIZE=1G ;;
*) echo "usage: stage_segments.sh quick|full OUTDIR" >&2; exit 2 ;;
esac
make -s "$B/bench-segbench" "$B/bench-gen" "$B/liveprof" >/dev/null
. bench/lib.sh
LOG=build/bench/segments-$SIZE.eventlog
[ -s "$LOG" ] || "$B/bench-gen" --size "$SIZE" --caps 4 -o "$LOG" 2>/dev/null
INPUT="gen $SIZE"
cat "$LOG" > /dev/null # warm

row() { printf 'segments\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$INPUT" "$1" "$2" "$3" "$4" "$5" "$6"; }
mbps() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0 ? b / t / 1e6 : 0) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
now() { date +%s.%N; }
# median3 FILE CMD...: runs CMD (its stdout into FILE) three times; prints the median seconds
median3() {
    _f=$1
    shift
    for _r in 1 2 3; do
        _a=$(now)
        "$@" > "$_f"
        _b=$(now)
        secs "$_a" "$_b"
        echo
    done | sort -n | sed -n 2p
}

# plain write(2) of the same bytes: the baseline of the ingest path
set -- $("$B/bench-segbench" plain "$LOG" "$OUT/plain.eventlog")
PLAIN=$(mbps "$1" "$2")
rm -f "$OUT/plain.eventlog"
for LEVEL in 0 1; do
    D="$OUT/seg-z$LEVEL"
    rm -rf "$D"
    set -- $("$B/bench-segbench" write "$LOG" "$D" $LEVEL 67108864)
    BYTES=$1
    W=$(mbps "$1" "$2")
    PER=$(awk -v d="$3" -v b="$1" 'BEGIN { printf "%.3f", d / b * 1048576 / 1048576 }')
    row "write MB/s (zstd $LEVEL)" "$W" MB/s "plain write(2)" "$PLAIN" "1 MiB appends: framing, XXH64, index decode$( [ $LEVEL = 1 ] && echo ', zstd -1')"
    row "disk bytes per eventlog byte (zstd $LEVEL)" "$PER" ratio - - "64 MiB segments, index and trailer included"
    cat "$D"/seg-*.lps > /dev/null # warm
    set -- $("$B/bench-segbench" read "$D")
    row "read MB/s (zstd $LEVEL)" "$(mbps "$1" "$2")" MB/s - - "warm page cache, 4 MiB reads through seg_reader"
    RS=$(median3 "$OUT/replay-z$LEVEL.txt" "$B/liveprof" replay "$D")
    row "replay max speed MB/s (zstd $LEVEL)" "$(mbps "$BYTES" "$RS")" MB/s - - "liveprof replay DIR: exact analysis from segments, median of 3 runs"
    set -- $("$B/bench-segbench" recover "$D")
    row "recovery seconds (zstd $LEVEL)" "$2" s - - "scan of $(awk -v b="$1" 'BEGIN { printf "%.0f", b / 1e6 }') MB of segments, every record checked"
done
AN=$(mbps "$BYTES" "$(median3 /dev/null "$B/liveprof" analyze "$LOG" --totals -o "$OUT/analyze")")
row "analyze MB/s (the file)" "$AN" MB/s - - "liveprof analyze --totals on the plain file, for the replay rows, median of 3 runs"
if ! cmp -s "$OUT/replay-z0.txt" "$OUT/analyze/$(basename "$LOG" .eventlog).totals.txt"; then
    echo "segments: replay totals differ from analyze" >&2
    exit 1
fi

# ---- restart: resume a finished session from its snapshot, or analyse it again ----------------
trap 'server_stop' EXIT INT TERM
DATA="$OUT/serve-data"
server_start "$DATA"
ID=$("$B/liveprof" upload "$LOG" --server "$SRV_URL" --token "$SRV_TOKEN" 2> "$OUT/upload.err" |
    tail -n 1)
[ -n "$ID" ] || { echo "segments: upload failed: $(tail -c 300 "$OUT/upload.err")" >&2; exit 1; }
session_field() {
    curl -sf -H "Authorization: Bearer $SRV_TOKEN" "$SRV_URL/api/sessions/$ID" |
        python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])" 2> /dev/null || true
}
_i=0
until [ "$(session_field state)" = done ] &&
    [ "$(session_field bytes_durable)" = "$(session_field bytes_received)" ]; do
    _i=$((_i + 1))
    [ "$_i" -lt 3000 ] || { echo "segments: the session did not settle" >&2; exit 1; }
    sleep 0.1
done
curl -sf -H "Authorization: Bearer $SRV_TOKEN" "$SRV_URL/api/sessions/$ID/totals.txt" > "$OUT/totals-before.txt"
server_stop
# restart DATADIR: starts the server on DATADIR as it is; prints the seconds until the session is
# settled and answers /totals.txt (into $OUT/totals-after.txt)
restart() {
    _port=$(free_port)
    _wsport=$(free_port)
    T0=$(now)
    "$B/liveprof" serve --http "127.0.0.1:$_port" --ws "127.0.0.1:$_wsport" --data "$1" --web '' \
        > "$OUT/server.log" 2>&1 &
    SRV_PID=$!
    SRV_URL="http://127.0.0.1:$_port"
    until [ "$(session_field state)" = done ] &&
        curl -sf -H "Authorization: Bearer $SRV_TOKEN" "$SRV_URL/api/sessions/$ID/totals.txt" \
            > "$OUT/totals-after.txt"; do
        kill -0 "$SRV_PID" 2> /dev/null || { echo "segments: the server died" >&2; exit 1; }
        sleep 0.01
    done
    T1=$(now)
    secs "$T0" "$T1"
    server_stop
    cmp -s "$OUT/totals-before.txt" "$OUT/totals-after.txt" ||
        { echo "segments: /totals.txt differs after the restart" >&2; exit 1; }
}
RESUME=$(restart "$DATA")
# the snapshot cut off (as a crash while it was written leaves it): analysed again
python3 - "$DATA/sessions/$ID" << 'PY'
import os, struct, sys
d = sys.argv[1]
last = os.path.join(d, sorted(f for f in os.listdir(d) if f.startswith("seg-") and f.endswith(".lps"))[-1])
b = open(last, "rb").read()
off, cut = 64, None
while off + 32 <= len(b):
    typ, n = b[off + 4], struct.unpack_from("<I", b, off + 8)[0]
    if typ == 3:
        cut = off + 32 + n // 2
    off += 32 + n
assert cut, "no snapshot record"
os.truncate(last, cut)
PY
AGAIN=$(restart "$DATA")
row "restart: resume 1 GB finished session" "$RESUME" s "analysed again from raw segments" "$AGAIN" "$(basename "$LOG"): serve start until the settled session answers /totals.txt (same text), from its snapshot alone$( [ "$MODE" = quick ] && echo '; quick mode: 100 MB')"
