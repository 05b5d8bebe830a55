#!/bin/sh
# Bench stage "leech": live capture costs and speeds. Run from the repo root after `make all`:
#   sh bench/stage_leech.sh quick|full OUTDIR
# Rows (TSV: stage input metric value unit baseline baseline_value note):
#  - run time of a real program (build/hs/labels-main) with the leech streaming to a monitor,
#    against +RTS -l to a file and against no eventlog (median of several alternating runs; the
#    overhead also from the fastest run of each, which other load on a shared machine disturbs
#    least);
#  - throughput leech -> monitor and leech -> monitor -> server (stored by the server), fed by
#    build/bench-leech_feed through the leech's own writer callbacks with a real log, once with
#    the server dialling the monitor and once with the monitor pushing to the server;
#  - latency from the RTS handing a buffer over to the server holding it (p50, p99).
# The chain throughput is timed by polling the server with curl every 50 ms (its resolution).
set -eu
MODE=${1:-quick}
OUT=${2:-build/bench/out-leech}
case $MODE in
quick) RUNS=3 ROUNDS=300 REPEAT=4 LAT=20 ;;
full) RUNS=11 ROUNDS=1200 REPEAT=12 LAT=100 ;;
*)
    echo "usage: sh bench/stage_leech.sh quick|full OUTDIR" >&2
    exit 2
    ;;
esac
make --no-print-directory -s hs build/bench-leech_feed >&2
mkdir -p "$OUT" build/bench
LOG=build/bench/leech-real.eventlog
if [ ! -s "$LOG" ]; then
    build/hs/labels-main 2000 0 100 +RTS -N2 -l -ol"$LOG" -RTS >/dev/null
fi
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

row() { printf 'leech\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"; }
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
minimum() { sort -n | head -n 1; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system clock ticks
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# ---- run time: leech vs file vs none ------------------------------------------------------
MPORT=$(port)
build/liveprof-monitor --socket "$OUT/leech.sock" --listen 127.0.0.1:"$MPORT" >"$OUT/mon.log" 2>&1 &
MPID=$!
PIDS="$PIDS $MPID"
sleep 0.3
: >"$OUT/t_none" && : >"$OUT/t_file" && : >"$OUT/t_leech"
i=0
while [ $i -lt "$RUNS" ]; do
    for mode in none file leech; do
        t0=$(now)
        case $mode in
        none) build/hs/labels-main "$ROUNDS" 0 100 +RTS -N2 -RTS >/dev/null ;;
        file) build/hs/labels-main "$ROUNDS" 0 100 +RTS -N2 -l -ol"$OUT/run.eventlog" -RTS >/dev/null ;;
        leech) LIVEPROF_SOCKET="$OUT/leech.sock" build/hs/labels-main "$ROUNDS" 0 100 +RTS -N2 -RTS >/dev/null ;;
        esac
        echo "$(now) $t0" | awk '{printf "%.4f\n", $1 - $2}' >>"$OUT/t_$mode"
    done
    i=$((i + 1))
done
none=$(median <"$OUT/t_none")
file=$(median <"$OUT/t_file")
leech=$(median <"$OUT/t_leech")
in="labels-$ROUNDS"
row "$in" runtime_none "$none" s - - "median of $RUNS"
row "$in" runtime_file "$file" s runtime_none "$none" "+RTS -l to a file"
row "$in" runtime_leech "$leech" s runtime_file "$file" "leech to a monitor"
row "$in" leech_overhead_vs_file "$(echo "$leech $file" | awk '{printf "%.1f", 100 * ($1 - $2) / $2}')" % - - "target <= 5"
# the fastest of the alternating runs: what each costs when other load on the machine lets it be
fmin=$(minimum <"$OUT/t_file")
lmin=$(minimum <"$OUT/t_leech")
row "$in" leech_overhead_vs_file_min "$(echo "$lmin $fmin" | awk '{printf "%.1f", 100 * ($1 - $2) / $2}')" % - - "fastest runs: $lmin s vs $fmin s"

# ---- throughput -----------------------------------------------------------------------------
res=$(LIVEPROF_LEECH_CAP=2G LIVEPROF_SOCKET="$OUT/leech.sock" build/bench-leech_feed "$LOG" throughput "$REPEAT")
bytes=$(echo "$res" | cut -f1)
secs=$(echo "$res" | cut -f2)
row "leech-real x$REPEAT" throughput_leech_monitor "$(echo "$bytes $secs" | awk '{printf "%.1f", $1 / $2 / 1e6}')" MB/s - - "$bytes bytes"

HPORT=$(port)
WPORT=$(port)
build/liveprof serve --http 127.0.0.1:"$HPORT" --ws 127.0.0.1:"$WPORT" --data "$OUT/data" >"$OUT/srv.log" 2>&1 &
SPID=$!
PIDS="$PIDS $SPID"
n=0
while [ ! -s "$OUT/data/admin.token" ] && [ $n -lt 100 ]; do sleep 0.1 && n=$((n + 1)); done
TOKEN=$(cat "$OUT/data/admin.token")
URL=http://127.0.0.1:$HPORT
api() { curl -s -H "Authorization: Bearer $TOKEN" "$@"; }
conn=$(api -H 'Content-Type: application/json' -X POST \
    -d "{\"name\":\"bench\",\"host\":\"127.0.0.1\",\"port\":$MPORT}" "$URL/api/connections" |
    python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
api -X POST "$URL/api/connections/$conn/connect" >/dev/null
# the chain through a dialled monitor of its own: the server would also fetch the programs of the
# runs above from the first one; a backlog that holds the whole run, so that the rate is not
# bought with gaps
CPORT=$(port)
build/liveprof-monitor --socket "$OUT/chain.sock" --listen 127.0.0.1:"$CPORT" --backlog $((512 << 20)) \
    >"$OUT/chain-mon.log" 2>&1 &
CPID=$!
PIDS="$PIDS $CPID"
sleep 0.3
cconn=$(api -H 'Content-Type: application/json' -X POST \
    -d "{\"name\":\"chain\",\"host\":\"127.0.0.1\",\"port\":$CPORT}" "$URL/api/connections" |
    python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
api -X POST "$URL/api/connections/$cconn/connect" >/dev/null
sleep 0.5
held() { # bytes the server holds of program $1 of the chain's connection (polled: no python here)
    b=$(api "$URL/api/connections/$cconn/status" | grep -o "\"id\":\"$1\",\"session\":\"[0-9a-f]*\",\"bytes\":[0-9]*" | cut -d: -f4)
    echo "${b:-0}"
}
# chain_run PROGRAM SOCKET COUNT: feeds the log through the leech socket SOCKET as program
# PROGRAM, then polls `COUNT PROGRAM` (the bytes the server has) until all are there (at most
# 60 s); sets t0 and t1; fails when not every byte arrived
chain_run() {
    t0=$(now)
    LIVEPROF_PROGRAM=$1 LIVEPROF_LEECH_CAP=2G LIVEPROF_SOCKET="$2" \
        build/bench-leech_feed "$LOG" throughput "$REPEAT" >/dev/null
    n=0
    while [ "$($3 "$1")" -lt "$bytes" ] && [ $n -lt 1200 ]; do sleep 0.05 && n=$((n + 1)); done
    t1=$(now)
    [ "$($3 "$1")" -ge "$bytes" ]
}
m0=$(cpu "$CPID")
s0=$(cpu "$SPID")
if chain_run chain "$OUT/chain.sock" held; then
    row "leech-real x$REPEAT" throughput_leech_monitor_server "$(echo "$bytes $t1 $t0" | awk '{printf "%.1f", $1 / ($2 - $3) / 1e6}')" MB/s - - "stored by the server; target >= 200"
else
    row "leech-real x$REPEAT" throughput_leech_monitor_server - MB/s - - "not every byte arrived within 60 s: $(tail -c 200 "$OUT/srv.log")"
fi
# the server's workers finish the analysis of what it stored before the next measurement
settled() { # waits (at most 60 s) until the session named $1 is done
    n=0
    while [ $n -lt 600 ]; do
        sid=$(api "$URL/api/sessions" | grep -o "\"id\":\"[0-9a-f]*\",\"name\":\"$1\"" | cut -d'"' -f4)
        [ -n "$sid" ] && api "$URL/api/sessions/$sid" | grep -q '"state":"done"' && return 0
        sleep 0.1 && n=$((n + 1))
    done
}
sleep 1 # the live analysis of what it stored: counted in the server's CPU below
hz=$(getconf CLK_TCK)
row "leech-real x$REPEAT" monitor_mb_per_cpu_s "$(echo "$bytes $(cpu "$CPID") $m0 $hz" | awk '{printf "%.1f", $1 / (($2 - $3) / $4) / 1e6}')" MB/s - - "bytes / monitor CPU time (independent of machine load)"
row "leech-real x$REPEAT" server_mb_per_cpu_s "$(echo "$bytes $(cpu "$SPID") $s0 $hz" | awk '{printf "%.1f", $1 / (($2 - $3) / $4) / 1e6}')" MB/s - - "bytes / server CPU time, live analysis included"
settled chain

# the same through a monitor that pushes to the server's WebSocket port (the server is the
# WebSocket server then, and the monitor the client); a backlog that holds the whole run, so that
# the rate is not bought with gaps
build/liveprof-monitor --socket "$OUT/push.sock" --push "ws://127.0.0.1:$WPORT/monitor" --token "$TOKEN" \
    --backlog $((512 << 20)) >"$OUT/push-mon.log" 2>&1 &
PPID2=$!
PIDS="$PIDS $PPID2"
sleep 0.5
received() { # bytes the server accepted for the session named $1 (0 while it has none)
    sid=$(api "$URL/api/sessions" | grep -o "\"id\":\"[0-9a-f]*\",\"name\":\"$1\"" | cut -d'"' -f4)
    [ -n "$sid" ] && api "$URL/api/sessions/$sid" | grep -o '"bytes_received":[0-9]*' | cut -d: -f2 || echo 0
}
p0=$(cpu "$PPID2")
if chain_run chain-push "$OUT/push.sock" received; then
    row "leech-real x$REPEAT" throughput_leech_monitor_push_server "$(echo "$bytes $t1 $t0" | awk '{printf "%.1f", $1 / ($2 - $3) / 1e6}')" MB/s - - "monitor --push: received by the server; target >= 200"
    row "leech-real x$REPEAT" push_monitor_mb_per_cpu_s "$(echo "$bytes $(cpu "$PPID2") $p0 $hz" | awk '{printf "%.1f", $1 / (($2 - $3) / $4) / 1e6}')" MB/s - - "bytes / monitor CPU time as a WebSocket client (its frames masked a word at a time)"
else
    row "leech-real x$REPEAT" throughput_leech_monitor_push_server - MB/s - - "monitor --push: not every byte arrived within 60 s: $(tail -c 200 "$OUT/push-mon.log")"
fi
kill "$PPID2" 2>/dev/null || true
settled chain-push

# ---- latency: buffer handed over -> held by the server --------------------------------------
LIVEPROF_PROGRAM=lat LIVEPROF_SOCKET="$OUT/leech.sock" \
    build/bench-leech_feed "$LOG" latency "$LAT" 20 "$URL" "$TOKEN" "$conn" >"$OUT/lat"
p50=$(sort -n "$OUT/lat" | awk '{a[NR]=$1} END {print a[int(NR*0.5+0.5)]}')
p99=$(sort -n "$OUT/lat" | awk '{a[NR]=$1} END {i=int(NR*0.99+0.5); if(i<1)i=1; print a[i]}')
row "2MiB buffers" latency_p50 "$p50" ms - - "RTS hand-over -> server holds it"
row "2MiB buffers" latency_p99 "$p99" ms - - "target < 100"
