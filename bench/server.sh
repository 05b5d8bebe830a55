# The server stages of the bench (sourced by bench/run.sh, which defines row, out, now, elapsed,
# per_sec, kb_to_mb, size_of, WORK, B and MODE): ingest by upload end to end, REST latency of
# /aggregates while a big log ingests, and the server's memory with 10 sessions of 100 MB.
# shellcheck shell=sh

SRV_PID=""
SRV_URL=""
SRV_TOKEN=""

server_start() {
    rm -rf "$WORK/server-data"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$B/liveprof" serve --http "127.0.0.1:$port" --data "$WORK/server-data" --web '' \
        > "$WORK/server.log" 2>&1 &
    SRV_PID=$!
    SRV_URL="http://127.0.0.1:$port"
    i=0
    while [ ! -s "$WORK/server-data/admin.token" ] || ! curl -sf "$SRV_URL/api/me" > /dev/null; do
        i=$((i + 1))
        if [ "$i" -gt 100 ]; then
            echo "bench: the server did not start: $(cat "$WORK/server.log")" >&2
            return 1
        fi
        sleep 0.1
    done
    SRV_TOKEN=$(cat "$WORK/server-data/admin.token")
}

server_stop() {
    [ -n "$SRV_PID" ] && kill "$SRV_PID" 2> /dev/null && wait "$SRV_PID" 2> /dev/null
    SRV_PID=""
}

server_hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$SRV_PID/status"; }

# upload FILE: liveprof upload --wait; sets ID (the session) and T (seconds).
server_upload() {
    t0=$(now)
    ID=$("$B/liveprof" upload "$1" --server "$SRV_URL" --token "$SRV_TOKEN" --chunk 4M --wait \
        2> "$WORK/upload.err" | tail -n 1)
    T=$(elapsed "$t0" "$(now)")
}

stage_server_ingest() {
    label=$1
    f=$2
    server_upload "$f"
    id=$ID
    if [ -z "$id" ]; then
        row "$label" "serve: upload until done" - - - "FAILED: $(head -c 200 "$WORK/upload.err")"
        FAILED=1
        return
    fi
    row "$label" "serve: upload until done" "$(per_sec "$(size_of "$f")" "$T")" - \
        "$(kb_to_mb "$(server_hwm_kb)")" "liveprof upload --chunk 4M --wait, ${T}s end to end"
    LAST_SESSION=$id
}

# p50/p99 of GET /aggregates while `file` ingests (wrk when installed).
stage_server_latency() {
    label=$1
    f=$2
    if ! command -v wrk > /dev/null; then
        row "$label" "serve: /aggregates latency" - - - "not run: wrk is not installed"
        return
    fi
    "$B/liveprof" upload "$f" --server "$SRV_URL" --token "$SRV_TOKEN" --chunk 4M \
        > /dev/null 2>&1 &
    up=$!
    sleep 0.5
    path="/api/sessions/$LAST_SESSION/aggregates?series=labels&bins=100"
    wrk -t1 -c4 -d5s --latency -H "Authorization: Bearer $SRV_TOKEN" "$SRV_URL$path" \
        > "$WORK/wrk.txt" 2>&1 || true
    wait "$up" || true
    p50=$(awk '$1 == "50%" { print $2 }' "$WORK/wrk.txt")
    p99=$(awk '$1 == "99%" { print $2 }' "$WORK/wrk.txt")
    rps=$(awk '/Requests\/sec/ { print $2 }' "$WORK/wrk.txt")
    row "$label" "serve: /aggregates latency" - - - \
        "during the ingest of $(basename "$f"): p50 ${p50:-?}, p99 ${p99:-?}, ${rps:-?} req/s (wrk -c4 5s)"
}

stage_server_memory() {
    f=$1
    n=10
    i=0
    while [ "$i" -lt "$n" ]; do
        server_upload "$f"
        i=$((i + 1))
    done
    row "10 x $(basename "$f")" "serve: peak RSS, 10 sessions" - - "$(kb_to_mb "$(server_hwm_kb)")" \
        "all settled; bounded by rings and per-session aggregates, not by log size"
}

run_server_stages() {
    if ! server_start; then
        row "server" "serve" - - - "FAILED to start"
        FAILED=1
        return
    fi
    stage_server_ingest "scale-20m (real 20 MB)" "$WORK/scale-20m.eventlog"
    stage_server_ingest "gen mixed 100M" "$WORK/gen-mixed-100M.eventlog"
    big=$WORK/gen-mixed-100M.eventlog
    if [ "$MODE" = full ] && [ -f "$WORK/gen-mixed-1G.eventlog" ]; then
        big=$WORK/gen-mixed-1G.eventlog
        stage_server_ingest "gen mixed 1G" "$big"
    fi
    stage_server_latency "$(basename "$big")" "$big"
    server_stop
    if [ "$MODE" = full ]; then
        server_start && stage_server_memory "$WORK/gen-mixed-100M.eventlog"
        server_stop
    fi
}
