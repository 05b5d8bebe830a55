#!/bin/sh
# liveprof benchmark harness: makes its inputs in build/bench/ (reused while their parameters
# hold), runs every stage on every input and prints one table, also appended to
# bench/results/<date>/report.md. Run from the repo root after `make all ref`:
#   sh bench/run.sh [quick|full]     (quick: < 2 min, no 1 GB log; full: < 20 min)
# A stage is a function stage_NAME INPUT_LABEL FILE that prints rows with `row`; add one
# and list it in STAGES to extend the table (analyze, server ingest, ...).
# shellcheck disable=SC2317 # stages are called through "stage_$s"
set -eu

MODE=${1:-quick}
case $MODE in
quick | full) ;;
*)
    echo "usage: sh bench/run.sh [quick|full]" >&2
    exit 2
    ;;
esac

B=build
WORK=$B/bench
RESULTS=bench/results/$(date +%Y-%m-%d)
REPORT=$RESULTS/report.md
EVDUMP=$B/ref/evdump
EVDUMP_MAX=200000000 # bytes; the reference dumper runs at about 10 MB/s
STAGES="decode dump analyze_totals analyze_full evdump"
FULL_MAX=200000000 # bytes; full outputs of bigger logs are mostly writing text
FAILED=0
mkdir -p "$WORK" "$RESULTS"

for bin in "$B/bench-gen" "$B/bench-decode" "$B/liveprof"; do
    if [ ! -x "$bin" ]; then
        echo "bench: $bin is missing; run 'make all' first" >&2
        exit 1
    fi
done

# ---- helpers ----------------------------------------------------------------------------

now() { date +%s.%N; }
# seconds from $1 to $2
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
# the median of the arguments (the lower middle for an even count)
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# bytes and seconds -> MB/s (1e6 bytes); count and seconds -> millions per second
per_sec() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", n / s / 1e6; else print "-" }'; }
kb_to_mb() { if [ -n "$1" ]; then awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; else echo "n/a"; fi; }
size_of() { wc -c < "$1" | tr -d ' '; }

out() {
    printf '%s\n' "$*"
    printf '%s\n' "$*" >> "$REPORT"
}
# row INPUT WHAT MB/s Mev/s RSS NOTE
row() { out "$(printf '| %-23s | %-26s | %7s | %6s | %9s | %s |' "$@")"; }

# timed N CMD...: runs CMD N times (stdout to /dev/null); sets T (median seconds), RSS (max
# KB, empty without /usr/bin/time) and RC (the last non-zero exit status, or 0).
timed() {
    n=$1
    shift
    times=""
    RSS=""
    RC=0
    i=0
    while [ "$i" -lt "$n" ]; do
        t0=$(now)
        if [ -x /usr/bin/time ]; then
            /usr/bin/time -f %M -o "$WORK/rss.txt" "$@" > /dev/null 2> "$WORK/stderr.txt" || RC=$?
            r=$(tail -n 1 "$WORK/rss.txt")
            if [ -z "$RSS" ] || [ "$r" -gt "$RSS" ]; then RSS=$r; fi
        else
            "$@" > /dev/null 2> "$WORK/stderr.txt" || RC=$?
        fi
        times="$times $(elapsed "$t0" "$(now)")"
        i=$((i + 1))
    done
    # shellcheck disable=SC2086
    T=$(median $times)
}

# ---- inputs -----------------------------------------------------------------------------

# The real 20 MB log, decompressed once.
input_real() {
    f=$WORK/scale-20m.eventlog
    if [ ! -f "$f" ] || [ "$(size_of "$f")" != 20465145 ]; then
        xz -dc ../shared/data/eventlogs/scale-20m.eventlog.xz > "$f.tmp"
        mv "$f.tmp" "$f"
    fi
    INPUT=$f
}

# input_gen LABEL NAME ARGS...: a generated log, remade only when its arguments or the
# generator changed. Prints the generator's own row.
input_gen() {
    label=$1
    f=$WORK/$2.eventlog
    shift 2
    params="$* | $(cksum < "$B/bench-gen")"
    INPUT=$f
    if [ -f "$f" ] && [ -f "$f.params" ] && [ "$(cat "$f.params")" = "$params" ]; then
        row "$label" "bench-gen (generate)" - - - "reused $f"
        return
    fi
    rm -f "$f.params"
    t0=$(now)
    if ! "$B/bench-gen" "$@" -o "$f" 2> "$f.gen.txt"; then
        row "$label" "bench-gen (generate)" - - - "FAILED: $(cat "$f.gen.txt")"
        FAILED=1
        return
    fi
    t=$(elapsed "$t0" "$(now)")
    printf '%s\n' "$params" > "$f.params"
    row "$label" "bench-gen (generate)" "$(per_sec "$(size_of "$f")" "$t")" - - \
        "bench-gen $* ($(sed 's/^bench-gen: [^ ]* //' "$f.gen.txt"))"
}

# ---- stages -----------------------------------------------------------------------------

# Decode only, through lib/evlog (median of 3 inside bench-decode). Sets EVENTS.
stage_decode() {
    if ! line=$("$B/bench-decode" "$2" --repeat 3); then
        row "$1" "decode (bench-decode)" - - - "FAILED"
        FAILED=1
        EVENTS=0
        return
    fi
    EVENTS=$(printf '%s\n' "$line" | sed 's/.* events=\([0-9]*\).*/\1/')
    mbs=$(printf '%s\n' "$line" | sed 's/.* MB\/s=\([0-9.]*\).*/\1/')
    mev=$(printf '%s\n' "$line" | sed 's/.* Mev\/s=\([0-9.]*\).*/\1/')
    rss=$(printf '%s\n' "$line" | sed 's/.* rss_kb=\([0-9]*\).*/\1/')
    row "$1" "decode (bench-decode)" "$mbs" "$mev" "$(kb_to_mb "$rss")" \
        "median of 3, 1 MiB reads, $EVENTS events"
}

# `liveprof dump --format hs` to /dev/null. Sets DUMP_MBS for the evdump ratio.
stage_dump() {
    DUMP_MBS=""
    timed 3 "$B/liveprof" dump --format hs "$2"
    if [ "$RC" != 0 ]; then
        row "$1" "liveprof dump --format hs" - - - "FAILED (exit $RC): $(head -c 200 "$WORK/stderr.txt")"
        FAILED=1
        return
    fi
    DUMP_MBS=$(per_sec "$(size_of "$2")" "$T")
    row "$1" "liveprof dump --format hs" "$DUMP_MBS" "$(per_sec "$EVENTS" "$T")" \
        "$(kb_to_mb "$RSS")" "median of 3, ${T}s"
}

# `liveprof analyze --totals` (ordering + the whole analysis + totals.txt). Sets TOTALS_MBS.
stage_analyze_totals() {
    TOTALS_MBS=""
    rm -rf "$WORK/analyze"
    timed 3 "$B/liveprof" analyze "$2" --totals -o "$WORK/analyze"
    if [ "$RC" != 0 ]; then
        row "$1" "liveprof analyze --totals" - - - "FAILED (exit $RC): $(head -c 200 "$WORK/stderr.txt")"
        FAILED=1
        return
    fi
    TOTALS_MBS=$(per_sec "$(size_of "$2")" "$T")
    row "$1" "liveprof analyze --totals" "$TOTALS_MBS" "$(per_sec "$EVENTS" "$T")" \
        "$(kb_to_mb "$RSS")" "median of 3, ${T}s"
}

# `liveprof analyze` with the old tool's default outputs (totals, 1000-bucket SVG and text).
stage_analyze_full() {
    what="liveprof analyze (all outputs)"
    if [ "$(size_of "$2")" -gt "$FULL_MAX" ]; then
        row "$1" "$what" - - - "skipped over 200 MB: the text and SVG grow with rows x buckets"
        return
    fi
    rm -rf "$WORK/analyze"
    timed 3 "$B/liveprof" analyze "$2" -o "$WORK/analyze"
    if [ "$RC" != 0 ]; then
        row "$1" "$what" - - - "FAILED (exit $RC): $(head -c 200 "$WORK/stderr.txt")"
        FAILED=1
        return
    fi
    outs=$(du -sm "$WORK/analyze" | cut -f1)
    row "$1" "$what" "$(per_sec "$(size_of "$2")" "$T")" "$(per_sec "$EVENTS" "$T")" \
        "$(kb_to_mb "$RSS")" "median of 3, ${T}s, ${outs} MB written"
    rm -rf "$WORK/analyze"
}

# The reference dumper (ghc-events), on files up to EVDUMP_MAX bytes.
stage_evdump() {
    what="evdump dump (ghc-events)"
    if [ ! -x "$EVDUMP" ]; then
        row "$1" "$what" - - - "not run: $EVDUMP absent (needs ghc and ghc-events: make ref)"
        return
    fi
    size=$(size_of "$2")
    if [ "$size" -gt "$EVDUMP_MAX" ]; then
        row "$1" "$what" - - - "skipped: over 200 MB (evdump runs at about 10 MB/s)"
        return
    fi
    runs=1
    if [ "$size" -le 50000000 ]; then runs=3; fi
    timed "$runs" "$EVDUMP" dump "$2"
    if [ "$RC" != 0 ]; then
        row "$1" "$what" - - - "FAILED (exit $RC)"
        FAILED=1
        return
    fi
    mbs=$(per_sec "$size" "$T")
    ratio=-
    if [ -n "$DUMP_MBS" ]; then ratio=$(awk -v a="$DUMP_MBS" -v b="$mbs" 'BEGIN { printf "%.1fx", a / b }'); fi
    note="median of 3"
    if [ "$runs" = 1 ]; then note="1 run"; fi
    aratio=-
    if [ -n "$TOTALS_MBS" ]; then aratio=$(awk -v a="$TOTALS_MBS" -v b="$mbs" 'BEGIN { printf "%.1fx", a / b }'); fi
    row "$1" "$what" "$mbs" "$(per_sec "$EVENTS" "$T")" "$(kb_to_mb "$RSS")" \
        "$note, ${T}s; dump / evdump = $ratio; analyze --totals / evdump = $aratio"
}

# run_stages LABEL FILE
run_stages() {
    for s in $STAGES; do "stage_$s" "$1" "$2"; done
}

# ---- main -------------------------------------------------------------------------------

START=$(now)
out ""
out "## $(date '+%Y-%m-%d %H:%M:%S') bench/run.sh $MODE"
out ""
out "commit $(git rev-parse --short HEAD 2> /dev/null || echo unknown) (plus any uncommitted" \
    "changes), $(nproc) cores, $(uname -sm). MB = 1e6 bytes."
out ""
row "input" "what" "MB/s" "Mev/s" "peak RSS" "note"
out "|---|---|---:|---:|---:|---|"

input_real
run_stages "scale-20m (real 20 MB)" "$INPUT"
input_gen "gen gea 50M" gen-gea-50M --gea --size 50M --caps 2
run_stages "gen gea 50M" "$INPUT"
input_gen "gen mixed 100M" gen-mixed-100M --size 100M --threads 10000 --labels 100
run_stages "gen mixed 100M" "$INPUT"
if [ "$MODE" = full ]; then
    input_gen "gen mixed 1G" gen-mixed-1G --size 1G --threads 10000 --labels 100
    run_stages "gen mixed 1G" "$INPUT"
fi

# shellcheck source=bench/server.sh
. bench/server.sh
trap server_stop EXIT
run_server_stages

out ""
out "total $(elapsed "$START" "$(now)")s; report: $REPORT"
exit "$FAILED"
