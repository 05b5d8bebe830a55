#!/bin/sh
# Bench stage "decode": lib/evlog alone (bench-decode) and the whole `liveprof dump` path, on
# real logs and on generated mixed logs of 1 MB .. 4 GB, against two baselines measured in
# the same run: a plain sequential read of the same file (the ceiling; warm = page cache,
# cold = evicted) and ghc-events through the reference dumper build/ref/evdump.
#   sh bench/stage_decode.sh quick|full OUTDIR      (rows on stdout, see bench/README.md)
set -eu
. bench/lib.sh
bench_init "$@"

EVDUMP=$B/ref/evdump
if [ "$MODE" = quick ]; then
    SIZES="4M 16M"
    REALS="scale-20m"
    EVDUMP_MAX=25000000 # bytes; evdump runs at about 10 MB/s
    COLD_MAX=100000000
    DUMP_BUDGET=20 # seconds one dump run may be predicted to take
else
    SIZES="1M 4M 16M 64M 256M 1G 4G"
    REALS="scale-1m small scale-20m"
    EVDUMP_MAX=70000000
    COLD_MAX=1100000000
    DUMP_BUDGET=60
fi
SIZES=${BENCH_SIZES-$SIZES} # BENCH_SIZES="1M 16M" narrows a run by hand

# bench_input LABEL: one input through every measurement
bench_input() {
    label=$1
    f=$INPUT
    bytes=$(size_of "$f")
    runs=7
    if [ "$bytes" -gt 300000000 ]; then runs=3; fi

    # the ceiling: plain 1 MiB read()s of the same file, warm; cheap, so more runs
    line=$("$B/bench-read" "$f" --repeat $((runs * 3)))
    read_mbs=$(kv 'MB/s' "$line")
    row "read (baseline)" "$label" throughput "$read_mbs" MB/s - - \
        "n=$((runs * 3)) min=$(kv 'MB/s_min' "$line") max=$(kv 'MB/s_max' "$line") 1 MiB read()s, page cache warm"

    # decode, warm: the fraction of the ceiling is the headline
    if ! line=$("$B/bench-decode" "$f" --repeat "$runs" 2> "$OUT/decode.err"); then
        fail decode "$label" "bench-decode: $(cat "$OUT/decode.err")"
        return
    fi
    dec_mbs=$(kv 'MB/s' "$line")
    dec_cpu=$(kv 'MB/s_cpu' "$line")
    events=$(kv events "$line")
    printf '%s\n' "$events" > "$WORK/$(basename "$f").events"
    input_row "$label" "$f"
    row decode "$label" throughput "$dec_mbs" MB/s "read (baseline)" "$read_mbs" \
        "n=$runs min=$(kv 'MB/s_min' "$line") max=$(kv 'MB/s_max' "$line") lib/evlog, 1 MiB reads"
    row decode "$label" events "$(kv 'Mev/s' "$line")" Mev/s - - "$events events"
    row decode "$label" time "$(kv median_s "$line")" s - - \
        "n=$runs min=$(kv min_s "$line") max=$(kv max_s "$line")"
    row decode "$label" peak_rss "$(kb_mb "$(kv rss_kb "$line")")" MB - - "getrusage"

    # cold: both evicted before every run
    if [ "$bytes" -le "$COLD_MAX" ]; then
        line=$("$B/bench-read" "$f" --repeat 3 --cold)
        cold_read=$(kv 'MB/s' "$line")
        row "read cold (baseline)" "$label" throughput "$cold_read" MB/s "read (baseline)" \
            "$read_mbs" "n=3 min=$(kv 'MB/s_min' "$line") max=$(kv 'MB/s_max' "$line") evicted by $(kv cache "$line")"
        if line=$("$B/bench-decode" "$f" --repeat 3 --cold 2> "$OUT/decode.err"); then
            row "decode cold" "$label" throughput "$(kv 'MB/s' "$line")" MB/s \
                "read cold (baseline)" "$cold_read" \
                "n=3 min=$(kv 'MB/s_min' "$line") max=$(kv 'MB/s_max' "$line") evicted by $(kv cache "$line") before each run"
        else
            fail "decode cold" "$label" "bench-decode --cold: $(cat "$OUT/decode.err")"
        fi
    else
        skip "decode cold" "$label" "cold runs only up to $((COLD_MAX / 1000000)) MB in $MODE mode"
    fi

    # ghc-events: the reference dumper, then our dump against it
    ev_mbs=-
    ev_cpu=-
    if [ ! -x "$EVDUMP" ]; then
        skip "evdump (ghc-events)" "$label" "$EVDUMP absent: make ref (needs ghc and ghc-events)"
    elif [ "$bytes" -gt "$EVDUMP_MAX" ]; then
        skip "evdump (ghc-events)" "$label" "only up to $((EVDUMP_MAX / 1000000)) MB in $MODE mode: it runs at about 10 MB/s"
    else
        N_RUNS=3
        if [ "$bytes" -gt 5000000 ]; then N_RUNS=2; fi
        measure "$N_RUNS" warm "$f" "$EVDUMP" dump "$f"
        if [ "$RC" != 0 ]; then
            fail "evdump (ghc-events)" "$label" "exit $RC: $(head -c 200 "$OUT/stderr.txt")"
        else
            throughput_rows "evdump (ghc-events)" "$label" "$f" - - "ghc-events $(ghc-pkg field ghc-events version 2> /dev/null | awk '{ print $2 }' | head -n 1)"
            ev_mbs=$LAST_MBS
            ev_cpu=$LAST_CPU_MBS
            row decode "$label" throughput "$dec_mbs" MB/s "evdump (ghc-events)" "$ev_mbs" \
                "lib/evlog alone against ghc-events decoding and printing: a steadier yardstick than read on a busy machine"
            cpu_row decode "$label" "$dec_cpu" "evdump (ghc-events)" "$ev_cpu" "lib/evlog alone"
        fi
    fi

    # dump --format hs; skipped when the previous size predicts more than DUMP_BUDGET s
    if [ -n "${DUMP_SPEED:-}" ] &&
        awk -v b="$bytes" -v s="$DUMP_SPEED" -v m="$DUMP_BUDGET" 'BEGIN { exit !(b / 1e6 / s > m) }'; then
        skip "dump --format hs" "$label" "predicted over ${DUMP_BUDGET}s a run at $DUMP_SPEED MB/s"
        return
    fi
    N_RUNS=3
    if [ "$bytes" -gt 1100000000 ]; then N_RUNS=1; fi
    measure "$N_RUNS" warm "$f" "$B/liveprof" dump --format hs "$f"
    if [ "$RC" != 0 ]; then
        fail "dump --format hs" "$label" "exit $RC: $(head -c 200 "$OUT/stderr.txt")"
        return
    fi
    base=-
    if [ "$ev_mbs" != - ]; then base="evdump (ghc-events)"; fi
    throughput_rows "dump --format hs" "$label" "$f" "$base" "$ev_mbs" "every event formatted as ghc-events shows it, to /dev/null"
    if [ "$ev_mbs" != - ]; then
        cpu_row "dump --format hs" "$label" "$LAST_CPU_MBS" "evdump (ghc-events)" "$ev_cpu" "the same text as ghc-events"
    fi
    DUMP_SPEED=$LAST_MBS
}

for r in $REALS; do
    if input_real "$r"; then
        bench_input "$r"
    else
        skip decode "$r" "../shared/data/eventlogs/$r.eventlog absent"
    fi
done
for s in $SIZES; do
    rc=0
    input_gen "gen-mixed-$s" "$s" --threads 10000 --labels 100 || rc=$?
    case $rc in
    0) bench_input "gen-mixed-$s" ;;
    2) skip decode "gen-mixed-$s" "$SKIP_WHY" ;;
    *) fail decode "gen-mixed-$s" "$SKIP_WHY" ;;
    esac
done
exit "$FAILED"
