#!/bin/sh
# Bench stage "server": `liveprof serve` end to end. Ingest by upload (`liveprof upload`, the
# chunked API) of real and generated logs of 1 MB .. 4 GB, each into a fresh server so that
# its peak RSS belongs to that log, against a plain read of the file; REST latency (wrk) of
# /aggregates, /totals and the session on an idle server and while another log ingests, and of
# /aggregates paced at 100 requests a second (bench-reqlat) right after its session settled and
# while another log ingests; the 50 MB log's upload to diagram on a server that has run a while
# (quick mode: 16 MB); and in full mode the server's memory with ten sessions.
#   sh bench/stage_server.sh quick|full OUTDIR      (rows on stdout, see bench/README.md)
set -eu
. bench/lib.sh
bench_init "$@"

if [ "$MODE" = quick ]; then
    SIZES="4M 16M"
    REALS=""
    LAT_BASE=gen-mixed-4M # the session the REST requests read
    LOAD_SIZE=64M # the log that ingests while wrk measures
    WRK_SECS=1
    PACED_SECS=0.5
    BUDGET=12 # seconds one ingest may be predicted to take
else
    SIZES="1M 4M 16M 50M 64M 256M 1G 4G"
    REALS="scale-20m"
    LAT_BASE=scale-20m
    LOAD_SIZE=1G # ingests for longer than wrk runs: the whole measurement is under load
    WRK_SECS=5
    PACED_SECS=3
    BUDGET=90
fi
SIZES=${BENCH_SIZES-$SIZES} # BENCH_SIZES="1M 16M" narrows a run by hand
DATA=$OUT/data
trap 'server_stop' EXIT INT TERM

# session_state ID: the session's state field
session_state() {
    curl -s -H "Authorization: Bearer $SRV_TOKEN" "$SRV_URL/api/sessions/$1" |
        sed -n 's/.*"state":"\([a-z]*\)".*/\1/p'
}

# thread_ticks THREAD: the CPU clock ticks (user and system) of the server's threads so named
thread_ticks() {
    server_cpu_ticks "$1" | awk '{ print $1 + $2 }'
}

# upload_wait FILE: `liveprof upload FILE` to the running server, then polls until the session is
# done (bench-waitdone). Sets ID, STATE, UP_S (upload returned) and DONE_S (session done), both
# from the start of the upload; returns 1 with WHY set when the upload failed.
upload_wait() {
    WHY=""
    t0=$(date +%s.%N)
    ID=$("$B/liveprof" upload "$1" --server "$SRV_URL" --token "$SRV_TOKEN" \
        2> "$OUT/upload.err" | tail -n 1) || true
    t1=$(date +%s.%N)
    UP_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
    if [ -z "$ID" ]; then
        WHY="upload failed: $(tail -c 300 "$OUT/upload.err")"
        return 1
    fi
    # polled every 5 ms on one keep-alive connection: a curl process per poll would take CPU time
    # from the ingest it times
    STATE=$("$B/bench-waitdone" "$SRV_URL" "/api/sessions/$ID" "$SRV_TOKEN" 5 600 \
        2> "$OUT/waitdone.err") || true
    [ -n "$STATE" ] || STATE="unknown ($(cat "$OUT/waitdone.err"))"
    kill -0 "$SRV_PID" 2> /dev/null || STATE="server died"
    DONE_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.4f", b - a }')
}

# cpu_stat: "STEAL TOTAL" clock ticks of the whole machine so far (/proc/stat), all cores
cpu_stat() {
    awk '$1 == "cpu" { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat
}

# speed_row WHEN: how fast this machine's cores are now, for comparing runs made at different
# times: the decoder's CPU time per event over gen-mixed-16M in memory (the best of 5 runs). A
# virtual machine's cores run slower at some hours (on one day the same build's 1 GB ingest
# took 7.4 CPU-s at noon and 9.4 the next day); the rows of a slow hour say so here.
speed_row() {
    input_gen gen-mixed-16M 16M --threads 10000 --labels 100 > /dev/null 2>&1 || return 0
    out=$("$B/bench-decode" "$INPUT" --repeat 5 2> /dev/null) || return 0
    ns=$(awk -v c="$(kv cpu_min_s "$out")" -v e="$(kv events "$out")" \
        'BEGIN { if (e > 0) printf "%.2f", c * 1e9 / e; else print "-" }')
    row "serve: machine speed" gen-mixed-16M "decode_ns_per_event_$1" "$ns" ns - - \
        "the decoder's CPU time per event, best of 5, $1 this stage's runs: the machine's speed at the time (lower is faster)"
}

# ingest_once FILE: a fresh server, upload_wait FILE. Sets UP_S, DONE_S, HWM_KB, ID and the CPU
# ticks of the server's threads; returns 1 on failure with WHY set.
ingest_once() {
    server_start "$DATA" || {
        WHY="the server did not start: $(tail -c 300 "$OUT/server.log")"
        return 1
    }
    # the CPU the server used to start (the database, the admin token's hash) is not the
    # ingest's: read before the upload and taken off (a small log's rows were mostly that)
    seg0=$(server_cpu_ticks lp-segments)
    http0=$(thread_ticks liveprof)
    work0=$(thread_ticks lp-worker)
    all0=$(server_cpu_ticks)
    stat0=$(cpu_stat)
    if ! upload_wait "$1"; then
        server_stop
        return 1
    fi
    HWM_KB=$(server_hwm_kb)
    seg=$(server_cpu_ticks lp-segments) # "user system"
    SEG_USER_TICKS=$((${seg% *} - ${seg0% *}))
    SEG_TICKS=$((${seg% *} + ${seg#* } - ${seg0% *} - ${seg0#* }))
    HTTP_TICKS=$(($(thread_ticks liveprof) - http0)) # the main thread runs the HTTP loop
    WORKER_TICKS=$(($(thread_ticks lp-worker) - work0))
    ALL_TICKS=$(($(server_cpu_ticks) - all0))
    stat1=$(cpu_stat)
    STEAL_TICKS=$((${stat1% *} - ${stat0% *}))
    MACHINE_TICKS=$((${stat1#* } - ${stat0#* }))
    server_stop
    rm -rf "$DATA"
    if [ "$STATE" != "done" ]; then
        WHY="the session ended $STATE: $(tail -c 300 "$OUT/server.log")"
        return 1
    fi
}

# bench_ingest LABEL: INPUT through ingest_once, 3 runs when fast enough, else 1
bench_ingest() {
    label=$1
    f=$INPUT
    bytes=$(size_of "$f")
    stage="serve: upload ingest"
    if [ -n "${INGEST_SPEED:-}" ] &&
        awk -v b="$bytes" -v s="$INGEST_SPEED" -v m="$BUDGET" 'BEGIN { exit !(b / 1e6 / s > m) }'; then
        skip "$stage" "$label" "predicted over ${BUDGET}s at $INGEST_SPEED MB/s"
        return
    fi
    if [ "$(free_kb "$OUT")" -lt $((bytes / 1024 + GEN_MARGIN_KB)) ]; then
        skip "$stage" "$label" "not enough disk for the server's copy of the log"
        return
    fi
    input_row "$label" "$f"
    read_mbs=$(kv 'MB/s' "$("$B/bench-read" "$f" --repeat 9)")
    runs=3
    if [ -n "${INGEST_SPEED:-}" ] &&
        awk -v b="$bytes" -v s="$INGEST_SPEED" -v m="$BUDGET" 'BEGIN { exit !(3 * b / 1e6 / s > m) }'; then
        runs=1
    fi
    dones=""
    ups=""
    seg_ticks=0
    seg_user_ticks=0
    http_ticks=0
    worker_ticks=0
    all_ticks=0
    steal_ticks=0
    machine_ticks=0
    hwm=0
    i=0
    while [ "$i" -lt "$runs" ]; do
        if ! ingest_once "$f"; then
            fail "$stage" "$label" "$WHY"
            return
        fi
        dones="$dones $DONE_S"
        ups="$ups $UP_S"
        seg_ticks=$((seg_ticks + SEG_TICKS))
        seg_user_ticks=$((seg_user_ticks + SEG_USER_TICKS))
        http_ticks=$((http_ticks + HTTP_TICKS))
        worker_ticks=$((worker_ticks + WORKER_TICKS))
        all_ticks=$((all_ticks + ALL_TICKS))
        steal_ticks=$((steal_ticks + STEAL_TICKS))
        machine_ticks=$((machine_ticks + MACHINE_TICKS))
        if [ "$HWM_KB" -gt "$hwm" ]; then hwm=$HWM_KB; fi
        i=$((i + 1))
    done
    # shellcheck disable=SC2086
    MED=$(printf '%s\n' $dones | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    # shellcheck disable=SC2086
    MIN=$(printf '%s\n' $dones | sort -g | head -n 1)
    # shellcheck disable=SC2086
    MAX=$(printf '%s\n' $dones | sort -g | tail -n 1)
    # shellcheck disable=SC2086
    up=$(printf '%s\n' $ups | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    RSS_KB=$hwm
    N_RUNS=$runs
    throughput_rows "$stage" "$label" "$f" "read (baseline)" "$read_mbs" \
        "liveprof upload (default chunks) until the session is done; the upload itself returned after ${up}s; peak RSS is the server's"
    row "$stage" "$label" upload_time "$up" s - - "until liveprof upload returned (the bytes acknowledged)"
    if [ "$label" = gen-mixed-50M ]; then
        row "$stage" "$label" upload_to_diagram "$MED" s - - \
            "from the start of liveprof upload until the session is done, every diagram complete (median of $runs); target < 0.5 s"
    fi
    if [ "$all_ticks" -gt 0 ]; then
        row "$stage" "$label" segments_cpu_share \
            "$(awk -v s="$seg_ticks" -v a="$all_ticks" 'BEGIN { printf "%.1f", 100 * s / a }')" % - - \
            "CPU time of the segment writer thread (records, XXH64, footer index, write(2), fsync) over all the server's CPU time for the ingest, summed over $runs run(s); target < 10%"
        row "$stage" "$label" segments_user_share \
            "$(awk -v s="$seg_user_ticks" -v a="$all_ticks" 'BEGIN { printf "%.1f", 100 * s / a }')" % - - \
            "the same, its user time only: what the segment format adds to storing the bytes (records, XXH64, footer index), without write(2)'s page-cache copy and the fsyncs"
        # what the ingest costs the server in CPU, and the throughput that cost allows at best on
        # this machine's cores (the client's own CPU not counted): the wall a faster ingest meets
        hz=$(getconf CLK_TCK)
        cpu_s=$(awk -v t="$all_ticks" -v hz="$hz" 'BEGIN { printf "%.6f", t / hz }')
        row "$stage" "$label" cpu_per_gb \
            "$(awk -v c="$cpu_s" -v b="$bytes" -v r="$runs" 'BEGIN { printf "%.2f", c / (b * r / 1e9) }')" \
            CPU-s - - "the server's CPU time (every thread: HTTP, segment writer, worker, settle) per GB ingested, over $runs run(s)"
        # where that CPU time goes, by thread: the split says which part a faster ingest must
        # make cheaper (the rest: the threads the settle starts and ends, its aggregates and its
        # read-ahead, and the small ones: links, WebSocket)
        for part in http:$http_ticks segments:$seg_ticks workers:$worker_ticks \
            rest:$((all_ticks - http_ticks - seg_ticks - worker_ticks)); do
            row "$stage" "$label" "cpu_per_gb_${part%%:*}" \
                "$(awk -v t="${part#*:}" -v hz="$hz" -v b="$bytes" -v r="$runs" 'BEGIN { printf "%.2f", t / hz / (b * r / 1e9) }')" \
                CPU-s - - "the part of cpu_per_gb spent by the server's ${part%%:*} thread(s), over $runs run(s)"
        done
        row "$stage" "$label" steal_share \
            "$(awk -v s="$steal_ticks" -v a="$machine_ticks" 'BEGIN { if (a > 0) printf "%.1f", 100 * s / a; else print "-" }')" % - - \
            "the share of the machine's CPU time its host took (steal, /proc/stat) while the ingests ran, summed over $runs run(s): time the server's threads were ready but did not run"
        row "$stage" "$label" cpu_bound \
            "$(awk -v c="$cpu_s" -v b="$bytes" -v r="$runs" -v n="$(nproc)" 'BEGIN { printf "%.1f", n * b * r / 1e6 / c }')" \
            MB/s - - "the most this CPU cost allows on $(nproc) core(s) (cores x bytes / CPU time), were every core busy all along"
    fi
    INGEST_SPEED=$LAST_MBS
}

# wrk_rows STAGE LABEL PATH [BASELINE_P50 BASELINE_P99]: wrk -c4 for WRK_SECS on PATH; rows
# p50, p90, p99 (ms) and requests/s. Sets P50 P99.
wrk_rows() {
    wrk -t1 -c4 -d"${WRK_SECS}s" --timeout 10s --latency -H "Authorization: Bearer $SRV_TOKEN" \
        "$SRV_URL$3" > "$OUT/wrk.txt" 2>&1 || true
    ms() { awk -v k="$1" '$1 == k { v = $2; f = 1
        if (v ~ /us$/) f = 0.001; else if (v ~ /ms$/) f = 1; else if (v ~ /s$/) f = 1000
        sub(/[a-z]+$/, "", v); printf "%.3f", v * f }' "$OUT/wrk.txt"; }
    P50=$(ms 50%)
    P90=$(ms 90%)
    P99=$(ms 99%)
    rps=$(awk '/Requests\/sec/ { print $2 }' "$OUT/wrk.txt")
    bad=$(awk '/Non-2xx/ { print $NF }' "$OUT/wrk.txt")
    errs=$(sed -n 's/^ *Socket errors: //p' "$OUT/wrk.txt")
    note="wrk -t1 -c4 -d${WRK_SECS}s $(printf '%s' "$3" | sed 's|/api/sessions/[0-9a-f]*|/api/sessions/ID|')"
    if [ -n "$bad" ]; then note="$note; $bad non-2xx answers"; fi
    if [ -n "$errs" ]; then note="$note; socket errors: $errs"; fi
    if [ -z "$P50" ] || [ -z "$rps" ]; then
        fail "$1" "$2" "wrk gave no numbers: $(head -c 200 "$OUT/wrk.txt")"
        return 1
    fi
    row "$1" "$2" p50 "$P50" ms "${4:+idle server}" "${4:-}" "$note"
    row "$1" "$2" p90 "$P90" ms - - "$note"
    row "$1" "$2" p99 "$P99" ms "${5:+idle server}" "${5:-}" "$note"
    row "$1" "$2" requests "$rps" req/s - - "$note"
}

# reqlat_rows STAGE LABEL PATH SECONDS NOTE: GET PATH 100 times a second for SECONDS on one
# connection (bench-reqlat: a dashboard's polling, not a saturating load like wrk); rows p50, p99
# and max, latency counted from when each request was due (the client raises itself to nice -10
# where it may, as the server's HTTP thread: its own wake-ups on the loaded cores are not the
# server's latency)
reqlat_rows() {
    res=$("$B/bench-reqlat" "$SRV_URL" "$3" "$SRV_TOKEN" 100 "$4" 2> "$OUT/reqlat.err") || {
        fail "$1" "$2" "bench-reqlat failed: $(head -c 200 "$OUT/reqlat.err")"
        return 1
    }
    # shellcheck disable=SC2086 # p50 p99 max n wake_p99 service_p99 nice
    set -- "$1" "$2" "$3" "$4" "$5" $res
    note="bench-reqlat: 100 GET/s for $4 s on one connection, $9 requests, client at nice ${12}; $5"
    row "$1" "$2" p50 "$6" ms - - "$note"
    row "$1" "$2" p99 "$7" ms - - "$note"
    row "$1" "$2" max "$8" ms - - "$note"
    row "$1" "$2" client_wake_p99 "${10}" ms - - "how late the client itself woke for its requests (the machine's scheduling, in the p99 above); $note"
    row "$1" "$2" service_p99 "${11}" ms - - "from sending each request to its whole answer; $note"
}

# http_turns: the server's event-loop turns of at most 5 ms and 2 ms of CPU, and all of them
http_turns() {
    curl -s "$SRV_URL/metrics" | awk -F'[ {}"=]+' '
        /^liveprof_http_turn_cpu_seconds_bucket/ { if ($3 == "0.005") a = $4; if ($3 == "0.002") b = $4 }
        /^liveprof_http_turn_cpu_seconds_count/ { c = $2 }
        END { if (c != "") print a, b, c }'
}

# REST latency, idle and during the ingest of a LOAD_SIZE log
bench_latency() {
    if ! command -v wrk > /dev/null; then
        skip "serve: REST latency" - "wrk is not installed"
        return
    fi
    case $LAT_BASE in
    gen-mixed-*) input_gen "$LAT_BASE" "${LAT_BASE#gen-mixed-}" --threads 10000 --labels 100 || return 0 ;;
    *) input_real "$LAT_BASE" || return 0 ;;
    esac
    base=$INPUT
    rc=0
    input_gen "gen-mixed-$LOAD_SIZE" "$LOAD_SIZE" --threads 10000 --labels 100 || rc=$?
    if [ "$rc" != 0 ]; then
        skip "serve: REST latency" "gen-mixed-$LOAD_SIZE" "$SKIP_WHY"
        return
    fi
    load=$INPUT
    if ! server_start "$DATA"; then
        fail "serve: REST latency" "$LAT_BASE" "the server did not start"
        return
    fi
    id=$("$B/liveprof" upload "$base" --server "$SRV_URL" --token "$SRV_TOKEN" --wait 2> /dev/null | tail -n 1)
    if [ -z "$id" ]; then
        fail "serve: REST latency" "$LAT_BASE" "upload failed"
        server_stop
        return
    fi
    agg="/api/sessions/$id/aggregates?series=labels&bins=100"
    reqlat_rows "serve: GET aggregates, paced (just settled)" "$LAT_BASE" "$agg" "$PACED_SECS" \
        "from the moment liveprof upload --wait returned: the session has just settled" || true
    for ep in session aggregates totals; do
        case $ep in
        aggregates) p=$agg ;;
        totals) p="/api/sessions/$id/totals" ;;
        session) p="/api/sessions/$id" ;;
        esac
        P50=""
        P99=""
        wrk_rows "serve: GET $ep (idle)" "$LAT_BASE" "$p" || true
        if [ "$ep" = aggregates ]; then
            idle50=$P50
            idle99=$P99
        fi
    done
    curl -s -m 60 "$SRV_URL/api/me" > /dev/null || true # until the slow requests are answered
    turns_before=$(http_turns)
    "$B/liveprof" upload "$load" --server "$SRV_URL" --token "$SRV_TOKEN" > "$OUT/load.out" 2>&1 &
    up=$!
    sleep 0.3
    reqlat_rows "serve: GET aggregates, paced (during ingest)" "$LAT_BASE" "$agg" "$PACED_SECS" \
        "while gen-mixed-$LOAD_SIZE ingested (then wrk ran)" || true
    wrk_rows "serve: GET aggregates (during ingest)" "$LAT_BASE" "$agg" "$idle50" "$idle99" || true
    turns_after=$(http_turns)
    # turns of the HTTP thread's loop while wrk ran, by CPU time: what a request could wait
    # behind on the server itself, whatever else the machine runs (wall times are not)
    # shellcheck disable=SC2086 # the numbers split into $1..$6
    set -- $turns_before $turns_after
    if [ $# = 6 ]; then
        note="CPU time per event-loop turn of the HTTP thread while wrk ran and gen-mixed-$LOAD_SIZE ingested ($(($6 - $3)) turns; /metrics liveprof_http_turn_cpu_seconds)"
        row "serve: HTTP thread turns (during ingest)" "$LAT_BASE" over_2ms $(($6 - $5 - $3 + $2)) turns - - "$note"
        row "serve: HTTP thread turns (during ingest)" "$LAT_BASE" over_5ms $(($6 - $4 - $3 + $1)) turns - - "$note"
    fi
    if kill -0 "$up" 2> /dev/null; then
        still="the upload of gen-mixed-$LOAD_SIZE was still running when wrk ended"
        kill "$up" 2> /dev/null || true
        wait "$up" 2> /dev/null || true
    else
        wait "$up" 2> /dev/null || true
        lid=$(tail -n 1 "$OUT/load.out")
        case $(session_state "$lid") in
        ingesting | live) still="gen-mixed-$LOAD_SIZE was still ingesting when wrk ended" ;;
        *) still="gen-mixed-$LOAD_SIZE was done before wrk ended: load for part of the time only" ;;
        esac
    fi
    row "serve: GET aggregates (during ingest)" "$LAT_BASE" load - - - - "$still"
    server_stop
    rm -rf "$DATA"
}

# full mode: the server's peak RSS with ten sessions of 100 MB each (the issue's measure)
bench_sessions() {
    rc=0
    input_gen gen-mixed-100M 100M --threads 10000 --labels 100 || rc=$?
    [ "$rc" = 0 ] || return 0
    server_start "$DATA" || return 0
    id=$("$B/liveprof" upload "$INPUT" --server "$SRV_URL" --token "$SRV_TOKEN" --wait 2> /dev/null | tail -n 1)
    one=$(server_hwm_kb)
    i=1
    while [ "$i" -lt 10 ] && [ -n "$id" ]; do
        id=$("$B/liveprof" upload "$INPUT" --server "$SRV_URL" --token "$SRV_TOKEN" --wait 2> /dev/null | tail -n 1)
        i=$((i + 1))
    done
    if [ -z "$id" ]; then
        fail "serve: 10 sessions" gen-mixed-100M "an upload failed"
    else
        row "serve: 10 sessions" gen-mixed-100M peak_rss "$(kb_mb "$(server_hwm_kb)")" MB \
            "serve: 1 session" "$(kb_mb "$one")" "server VmHWM after ten uploads of the same log, all done"
    fi
    server_stop
    rm -rf "$DATA"
}

# bench_warm LABEL: INPUT uploaded 4 times into one server, each waited for as ingest_once does;
# the median time of the last 3 (the first warms the server up: its block pool, the ordering's
# spare buffers, the page cache of its database), as a server that has run a while ingests it
bench_warm() {
    stage="serve: upload ingest (warm server)"
    if ! server_start "$DATA"; then
        fail "$stage" "$1" "the server did not start: $(tail -c 300 "$OUT/server.log")"
        return
    fi
    times=""
    i=0
    while [ "$i" -lt 4 ]; do
        if ! upload_wait "$INPUT" || [ "$STATE" != "done" ]; then
            fail "$stage" "$1" "upload $((i + 1)): ${WHY:-the session ended $STATE}"
            server_stop
            rm -rf "$DATA"
            return
        fi
        if [ "$i" -gt 0 ]; then times="$times $DONE_S"; fi
        i=$((i + 1))
    done
    server_stop
    rm -rf "$DATA"
    # shellcheck disable=SC2046,SC2086 # the sorted times split into $2..$4
    set -- "$1" $(printf '%s\n' $times | sort -g)
    row "$stage" "$1" upload_to_diagram "$3" s - - \
        "one server, the log uploaded 4 times: the median of the last 3 (min $2, max $4) from the start of liveprof upload until the session is done, every diagram complete"
}

speed_row before
for r in $REALS; do
    if input_real "$r"; then bench_ingest "$r"; fi
done
INGEST_SPEED=""
for s in $SIZES; do
    rc=0
    input_gen "gen-mixed-$s" "$s" --threads 10000 --labels 100 || rc=$?
    case $rc in
    0) bench_ingest "gen-mixed-$s" ;;
    2) skip "serve: upload ingest" "gen-mixed-$s" "$SKIP_WHY" ;;
    *) fail "serve: upload ingest" "gen-mixed-$s" "$SKIP_WHY" ;;
    esac
done
# the size the upload-to-diagram target names (quick mode: a smaller one, to keep the row tried)
warm=50M
if [ "$MODE" = quick ]; then warm=16M; fi
rc=0
input_gen "gen-mixed-$warm" "$warm" --threads 10000 --labels 100 || rc=$?
if [ "$rc" = 0 ]; then bench_warm "gen-mixed-$warm"; fi
bench_latency
if [ "$MODE" = full ]; then bench_sessions; fi
speed_row after
exit "$FAILED"
