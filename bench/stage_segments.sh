#!/bin/sh
# Segments stage: sh bench/stage_segments.sh quick|full OUTDIR (after `make all`).
# Measures, on a generated log (100 MB quick, 1 GB full): writing it into segments with and
# without zstd against plain write(2) of the same bytes (the cost of segments on the ingest
# path), disk bytes per MB of eventlog, reading the stream back from segments (warm page cache),
# the exact replay from segments (`liveprof replay DIR`) against `liveprof analyze` of the file,
# and recovery (every record checked) of the whole directory. One TSV row per measurement:
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
LOG=build/bench/segments-$SIZE.eventlog
[ -s "$LOG" ] || "$B/bench-gen" --size "$SIZE" --caps 4 -o "$LOG" 2>/dev/null
INPUT="gen $SIZE"
cat "$LOG" > /dev/null # warm

row() { printf 'segments\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$INPUT" "$1" "$2" "$3" "$4" "$5" "$6"; }
mbps() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0 ? b / t / 1e6 : 0) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
now() { date +%s.%N; }

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
    T0=$(now)
    "$B/liveprof" replay "$D" > "$OUT/replay-z$LEVEL.txt"
    T1=$(now)
    row "replay max speed MB/s (zstd $LEVEL)" "$(mbps "$BYTES" "$(secs "$T0" "$T1")")" MB/s - - "liveprof replay DIR: exact analysis from segments"
    set -- $("$B/bench-segbench" recover "$D")
    row "recovery seconds (zstd $LEVEL)" "$2" s - - "scan of $(awk -v b="$1" 'BEGIN { printf "%.0f", b / 1e6 }') MB of segments, every record checked"
done
T0=$(now)
"$B/liveprof" analyze "$LOG" --totals -o "$OUT/analyze" > /dev/null
T1=$(now)
AN=$(mbps "$BYTES" "$(secs "$T0" "$T1")")
row "analyze MB/s (the file)" "$AN" MB/s - - "liveprof analyze --totals on the plain file, for the replay rows"
if ! cmp -s "$OUT/replay-z0.txt" "$OUT/analyze/$(basename "$LOG" .eventlog).totals.txt"; then
    echo "segments: replay totals differ from analyze" >&2
    exit 1
fi
