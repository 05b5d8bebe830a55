#!/bin/sh
# Bench stage "analyze": ordering + analysis through `liveprof analyze` (--totals, the default
# outputs, -b 100) on real logs, mixed logs of 1 MB .. 4 GB and the many-thread, many-label
# and GEA-style shapes. Baselines: a plain read of the same file (same run), ghc-events
# decoding it through build/ref/evdump (same run, real logs), and ghc-events-analyze's
# own time on the real logs as recorded in ../shared/data/expected (not this run).
#   sh bench/stage_analyze.sh quick|full OUTDIR      (rows on stdout, see bench/README.md)
set -eu
. bench/lib.sh
bench_init "$@"

EVDUMP=$B/ref/evdump
EXPECTED=../shared/data/expected
if [ "$MODE" = quick ]; then
    SIZES="4M 16M"
    SHAPE_SIZE=4M
    REALS="scale-20m"
    FULL_MAX=5000000 # bytes; the default outputs grow with rows x 1000 buckets
    BUDGET=20        # seconds one run may be predicted to take
else
    SIZES="1M 4M 16M 64M 256M 1G 4G"
    SHAPE_SIZE=256M
    REALS="scale-1m small scale-20m"
    FULL_MAX=300000000
    BUDGET=60
fi
SIZES=${BENCH_SIZES-$SIZES} # BENCH_SIZES="1M 16M" narrows a run by hand

# recorded LOG VARIANT: sets REC_S and REC_KB from GEA's time.txt, or returns 1
recorded() {
    t=$EXPECTED/$1/$2/time.txt
    [ -f "$t" ] || return 1
    line=$(grep -E '^[0-9.]+ s wall, [0-9]+ KB max RSS' "$t" | head -n 1)
    [ -n "$line" ] || return 1
    REC_S=$(printf '%s\n' "$line" | awk '{ print $1 }')
    REC_KB=$(printf '%s\n' "$line" | awk '{ print $4 }')
}

# too_slow BYTES SPEED: true when a run at SPEED MB/s would take over BUDGET seconds
too_slow() {
    [ -n "$2" ] && awk -v b="$1" -v s="$2" -v m="$BUDGET" 'BEGIN { exit !(s > 0 && b / 1e6 / s > m) }'
}

# one STAGE LABEL FILE VARIANT ARGS...: `liveprof analyze FILE ARGS` measured, with the read
# baseline, evdump's when measured, and GEA's recorded VARIANT when there is one.
one() {
    stage=$1
    label=$2
    f=$3
    variant=$4
    shift 4
    bytes=$(size_of "$f")
    N_RUNS=${RUNS:-3}
    if [ "$bytes" -gt 1100000000 ]; then N_RUNS=1; fi
    rm -rf "$OUT/analyze"
    mkdir -p "$OUT/analyze"
    measure "$N_RUNS" warm "$f" "$B/liveprof" analyze "$f" "$@" -o "$OUT/analyze"
    if [ "$RC" != 0 ]; then
        fail "$stage" "$label" "exit $RC: $(head -c 200 "$OUT/stderr.txt")"
        return 1
    fi
    written=$(du -sk "$OUT/analyze" | awk '{ printf "%.1f", $1 * 1024 / 1e6 }')
    rm -rf "$OUT/analyze"
    throughput_rows "$stage" "$label" "$f" "read (baseline)" "$READ_MBS" "$written MB written"
    if [ -n "$EV_MBS" ]; then
        row "$stage" "$label" throughput "$LAST_MBS" MB/s "evdump (ghc-events)" "$EV_MBS" \
            "ghc-events merely decoding and printing the same file, this run"
        cpu_row "$stage" "$label" "$LAST_CPU_MBS" "evdump (ghc-events)" "$EV_CPU_MBS" "this run"
    fi
    if recorded "$label" "$variant"; then
        rec_mbs=$(per_sec "$bytes" "$REC_S")
        row "$stage" "$label" throughput "$LAST_MBS" MB/s "ghc-events-analyze (recorded)" "$rec_mbs" \
            "GEA 0.2.8 took ${REC_S}s, recorded in $EXPECTED/$label/$variant/time.txt, not this run"
        row "$stage" "$label" peak_rss "$(kb_mb "$RSS_KB")" MB "ghc-events-analyze (recorded)" \
            "$(kb_mb "$REC_KB")" "GEA's recorded max RSS"
    fi
}

# bench_input LABEL: every analysis of one input (INPUT)
bench_input() {
    label=$1
    f=$INPUT
    bytes=$(size_of "$f")
    input_row "$label" "$f"
    line=$("$B/bench-read" "$f" --repeat 9)
    READ_MBS=$(kv 'MB/s' "$line")
    row "read (baseline)" "$label" throughput "$READ_MBS" MB/s - - \
        "n=9 min=$(kv 'MB/s_min' "$line") max=$(kv 'MB/s_max' "$line") 1 MiB read()s, page cache warm"
    EV_MBS=""
    EV_CPU_MBS=""
    case $label in gen-*) real=false ;; *) real=true ;; esac
    if [ -x "$EVDUMP" ] && $real; then
        N_RUNS=2
        measure 2 warm "$f" "$EVDUMP" dump "$f"
        if [ "$RC" = 0 ]; then
            EV_MBS=$(per_sec "$bytes" "$MED")
            EV_CPU_MBS=$(per_sec "$bytes" "$CPU_MIN")
            row "evdump (ghc-events)" "$label" throughput "$EV_MBS" MB/s - - "$(spread 2 "$bytes")"
        else
            fail "evdump (ghc-events)" "$label" "exit $RC: $(head -c 200 "$OUT/stderr.txt")"
        fi
    fi

    # the default outputs take longer than the totals: one run when the totals took over 5 s
    SLOW_RUNS=${RUNS:-3}
    if too_slow "$bytes" "${TOTALS_SPEED:-}"; then
        skip "analyze --totals" "$label" "predicted over ${BUDGET}s a run at $TOTALS_SPEED MB/s"
    elif one "analyze --totals" "$label" "$f" totals --totals; then
        TOTALS_SPEED=$LAST_MBS
        if awk -v t="$MED" 'BEGIN { exit !(t > 5) }'; then SLOW_RUNS=1; fi
    fi

    if [ "$bytes" -gt "$FULL_MAX" ]; then
        skip "analyze (all outputs)" "$label" "only up to $((FULL_MAX / 1000000)) MB in $MODE mode: the text and SVG grow with rows x 1000 buckets"
    elif too_slow "$bytes" "${FULL_SPEED:-}"; then
        skip "analyze (all outputs)" "$label" "predicted over ${BUDGET}s a run at $FULL_SPEED MB/s"
    else
        keep=${RUNS:-3}
        RUNS=$SLOW_RUNS
        if one "analyze (all outputs)" "$label" "$f" default; then FULL_SPEED=$LAST_MBS; fi
        RUNS=$keep
    fi

    # --window: the first pass finds the windows' bounds from the user messages alone (a mixed
    # log gets a name that never occurs: one window over the whole log, all its user messages
    # merged for it, as many as 40 % of the events)
    window=""
    case $label in
    small) window=round ;;
    gen-mixed-*) window=none ;;
    esac
    if [ -n "$window" ] && [ "$bytes" -le "$FULL_MAX" ]; then
        keep=${RUNS:-3}
        RUNS=$SLOW_RUNS
        one "analyze --window (all outputs)" "$label" "$f" "window-$window" --window "$window" || true
        RUNS=$keep
    fi

    case $label in
    scale-*)
        if [ "$MODE" = quick ]; then RUNS=1; fi
        one "analyze -b 100" "$label" "$f" b100 -b 100 || true
        RUNS=3
        ;;
    esac
}

for r in $REALS; do
    if input_real "$r"; then
        bench_input "$r"
    else
        skip "analyze --totals" "$r" "../shared/data/eventlogs/$r.eventlog absent"
    fi
done

# gen NAME SIZE ARGS...: a generated input through bench_input, or a row saying why not
gen() {
    name=$1
    rc=0
    input_gen "$@" || rc=$?
    case $rc in
    0) bench_input "$name" ;;
    2) skip "analyze --totals" "$name" "$SKIP_WHY" ;;
    *) fail "analyze --totals" "$name" "$SKIP_WHY" ;;
    esac
}

gen "gen-gea-$SHAPE_SIZE" "$SHAPE_SIZE" --gea --caps 2
gen "gen-threads-$SHAPE_SIZE" "$SHAPE_SIZE" --shape many-threads
gen "gen-labels-$SHAPE_SIZE" "$SHAPE_SIZE" --shape many-labels
TOTALS_SPEED=""
FULL_SPEED=""
for s in $SIZES; do
    gen "gen-mixed-$s" "$s" --threads 10000 --labels 100
done
exit "$FAILED"
