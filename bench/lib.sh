# Helpers for the bench stage scripts (bench/stage_*.sh), sourced after `bench_init "$@"`:
# the row format, cached inputs in build/bench/, timed runs through build/bench-timeit, unit
# conversions, and a liveprof server on a free port. Plain POSIX sh; the helpers' own variables
# start with _ so that they do not clobber the caller's.
# shellcheck shell=sh
# shellcheck disable=SC2034 # the variables set here are read by the stage scripts

B=build
WORK=$B/bench
GEN_MARGIN_KB=2097152 # free space kept on the disk after making an input (2 GiB)

# bench_init MODE OUTDIR: checks the arguments and the binaries; sets MODE, OUT.
bench_init() {
    MODE=${1:-}
    OUT=${2:-}
    case $MODE in
    quick | full) ;;
    *)
        echo "usage: sh $0 quick|full OUTDIR" >&2
        exit 2
        ;;
    esac
    if [ -z "$OUT" ]; then
        echo "usage: sh $0 quick|full OUTDIR" >&2
        exit 2
    fi
    mkdir -p "$WORK" "$OUT"
    for bin in bench-gen bench-decode bench-read bench-timeit liveprof; do
        if [ ! -x "$B/$bin" ]; then
            echo "bench: $B/$bin is missing; run 'make all' first" >&2
            exit 1
        fi
    done
    FAILED=0
}

# row STAGE INPUT METRIC VALUE UNIT BASELINE BASELINE_VALUE NOTE: one TSV result row.
row() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6:--}" "${7:--}" "${8:-}"
}

# fail STAGE INPUT WHY: a row that says a step failed; the stage will exit 1.
fail() {
    row "$1" "$2" status FAILED - - - "$(printf '%s' "$3" | tr '\t\n' '  ' | head -c 300)"
    FAILED=1
}

# skip STAGE INPUT WHY: a row that says a step was not run, and why.
skip() { row "$1" "$2" status skipped - - - "$3"; }

# ---- numbers ------------------------------------------------------------------------------

# per_sec N SECONDS: N / SECONDS / 1e6 (MB/s from bytes, M events/s from events)
per_sec() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.2f", n / s / 1e6; else print "-" }'; }
# kb_mb KB: KiB -> MB (1e6 bytes)
kb_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }'; }
# ratio A B: A / B with 3 decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
size_of() { wc -c < "$1" | tr -d ' '; }
# kv KEY LINE: the value of KEY=... in a line of key=value pairs
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s|^$1=||p" | head -n 1; }
# bytes_of 4G -> 4294967296 (K/M/G are powers of 1024, as bench-gen takes them)
bytes_of() {
    awk -v s="$1" 'BEGIN { n = s + 0; u = substr(s, length(s)); m = 1
        if (u == "K" || u == "k") m = 1024; if (u == "M" || u == "m") m = 1048576
        if (u == "G" || u == "g") m = 1073741824; printf "%.0f", n * m }'
}
# free_kb DIR: the space left on DIR's file system, in KiB
free_kb() { df -Pk "$1" | awk 'NR == 2 { print $4 }'; }

# ---- inputs -------------------------------------------------------------------------------

# input_real NAME: sets INPUT to the real log ../shared/data/eventlogs/NAME.eventlog (the .xz
# ones decompressed once into build/bench/). Returns 1 when it is absent.
input_real() {
    _src=../shared/data/eventlogs/$1.eventlog
    if [ -f "$_src" ]; then
        INPUT=$_src
        return 0
    fi
    INPUT=$WORK/$1.eventlog
    if [ -f "$INPUT" ] && [ -f "$INPUT.ok" ]; then return 0; fi
    [ -f "$_src.xz" ] || return 1
    rm -f "$INPUT.ok"
    xz -dc "$_src.xz" > "$INPUT.tmp" && mv "$INPUT.tmp" "$INPUT" && : > "$INPUT.ok"
}

# input_gen NAME SIZE ARGS...: sets INPUT to build/bench/NAME.eventlog, made by
# `bench-gen --size SIZE ARGS` unless a copy made with the same arguments by the same
# generator is there. Returns 2 (SKIP_WHY set) when the disk would keep less than 2 GiB free,
# 1 when the generator failed (SKIP_WHY set).
input_gen() {
    _name=$1
    _size=$2
    shift 2
    INPUT=$WORK/$_name.eventlog
    _params="--size $_size $* | $(cksum < "$B/bench-gen")"
    if [ -f "$INPUT" ] && [ -f "$INPUT.params" ] && [ "$(cat "$INPUT.params")" = "$_params" ]; then
        return 0
    fi
    rm -f "$INPUT" "$INPUT.params" "$INPUT.events"
    _need_kb=$(($(bytes_of "$_size") / 1024 + GEN_MARGIN_KB))
    _have_kb=$(free_kb "$WORK")
    if [ "$_have_kb" -lt "$_need_kb" ]; then
        SKIP_WHY="not enough disk for $_size: $((_have_kb / 1024)) MiB free, $((_need_kb / 1024)) MiB needed"
        return 2
    fi
    if ! "$B/bench-gen" --size "$_size" "$@" -o "$INPUT" 2> "$INPUT.gen.txt"; then
        SKIP_WHY="bench-gen failed: $(cat "$INPUT.gen.txt")"
        rm -f "$INPUT"
        return 1
    fi
    printf '%s\n' "$_params" > "$INPUT.params"
}

# events_of FILE: the event count as ghc-events counts it (cached next to generated logs).
events_of() {
    _cache=$1.events
    case $1 in "$WORK"/*) ;; *) _cache=$WORK/$(basename "$1").events ;; esac
    # shellcheck disable=SC3013 # -nt: dash and bash have it
    if [ -f "$_cache" ] && [ "$_cache" -nt "$1" ]; then
        cat "$_cache"
        return
    fi
    _n=$(kv events "$("$B/bench-decode" "$1" --repeat 1)")
    printf '%s\n' "$_n" > "$_cache"
    printf '%s\n' "$_n"
}

# input_row LABEL FILE: the row that tells the report an input's size (bytes) and events
input_row() {
    row input "$1" bytes "$(size_of "$2")" B - - "$2"
    row input "$1" events "$(events_of "$2")" events - - "as ghc-events counts them"
}

# ---- timing -------------------------------------------------------------------------------

# measure N warm|cold FILE CMD...: runs CMD N times through bench-timeit with FILE's page
# cache warmed once or evicted before each run; stdout to /dev/null, stderr to $OUT/stderr.txt.
# Sets MED MIN MAX (seconds), CPU_MIN (the least user + system seconds of a run), RSS_KB (max),
# RC, CACHE.
measure() {
    _n=$1
    _cache=$2
    _file=$3
    shift 3
    : > "$OUT/stderr.txt"
    _line=$("$B/bench-timeit" -n "$_n" "--$_cache" "$_file" -e "$OUT/stderr.txt" -t 900 -- "$@")
    MED=$(kv median_s "$_line")
    MIN=$(kv min_s "$_line")
    MAX=$(kv max_s "$_line")
    CPU_MIN=$(kv cpu_min_s "$_line")
    RSS_KB=$(kv rss_kb "$_line")
    RC=$(kv rc "$_line")
    CACHE=$(kv cache "$_line")
}

# spread N BYTES: the note prefix for a throughput row: runs and MB/s range from MIN/MAX
spread() { printf 'n=%s min=%s max=%s' "$1" "$(per_sec "$2" "$MAX")" "$(per_sec "$2" "$MIN")"; }

# throughput_rows STAGE INPUT FILE BASELINE BASELINE_MBS NOTE: the MB/s, Mev/s, seconds and
# peak-RSS rows of one measured command (MED, MIN, MAX, RSS_KB from measure; N_RUNS runs).
throughput_rows() {
    _bytes=$(size_of "$3")
    _ev=$(events_of "$3")
    _mbs=$(per_sec "$_bytes" "$MED")
    row "$1" "$2" throughput "$_mbs" MB/s "$4" "$5" "$(spread "$N_RUNS" "$_bytes") $6"
    row "$1" "$2" events "$(per_sec "$_ev" "$MED")" Mev/s - - "$_ev events"
    row "$1" "$2" time "$MED" s - - "n=$N_RUNS min=$MIN max=$MAX"
    row "$1" "$2" peak_rss "$(kb_mb "$RSS_KB")" MB - - "max over $N_RUNS runs"
    LAST_MBS=$_mbs
    LAST_CPU_MBS=$(per_sec "$_bytes" "${CPU_MIN:-}")
}

# cpu_row STAGE INPUT MBS BASELINE BASELINE_MBS NOTE: the CPU-time throughput (bytes / the least
# user + system seconds of a run) against a baseline's. The regression check guards these
# ratios: other load on the machine moves them far less than it moves wall time.
cpu_row() {
    row "$1" "$2" cpu_throughput "$3" MB/s "$4" "$5" "bytes / least CPU seconds of a run; $6"
}

# ---- a server -----------------------------------------------------------------------------

SRV_PID=""
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# server_start DATADIR: `liveprof serve` on free ports; sets SRV_PID SRV_URL SRV_TOKEN
# SRV_WS. A port found free can be taken before the server binds it (by any connection's
# ephemeral port): a server that could not listen is started again on other ports, 3 times at
# most. Returns 1 (with the log on stderr) when it does not come up in 10 s.
server_start() {
    _try=1
    while :; do
        rm -rf "$1"
        mkdir -p "$1"
        _port=$(free_port)
        _wsport=$(free_port)
        "$B/liveprof" serve --http "127.0.0.1:$_port" --ws "127.0.0.1:$_wsport" --data "$1" \
            --web '' > "$OUT/server.log" 2>&1 &
        SRV_PID=$!
        SRV_URL="http://127.0.0.1:$_port"
        SRV_WS="ws://127.0.0.1:$_wsport"
        _i=0
        _up=1
        while [ ! -s "$1/admin.token" ] || ! curl -sf "$SRV_URL/api/me" > /dev/null; do
            _i=$((_i + 1))
            if [ "$_i" -gt 100 ] || ! kill -0 "$SRV_PID" 2> /dev/null; then
                _up=0
                break
            fi
            sleep 0.1
        done
        [ "$_up" = 1 ] && break
        server_stop
        if [ "$_try" -ge 3 ] || ! grep -q 'cannot listen' "$OUT/server.log"; then
            echo "bench: the server did not start: $(cat "$OUT/server.log")" >&2
            return 1
        fi
        _try=$((_try + 1))
    done
    SRV_TOKEN=$(cat "$1/admin.token")
}

server_stop() {
    if [ -n "$SRV_PID" ]; then
        kill "$SRV_PID" 2> /dev/null || true
        wait "$SRV_PID" 2> /dev/null || true
    fi
    SRV_PID=""
}

# server_cpu_ticks [THREAD]: CPU clock ticks (user + system) the server has used so far: all of
# it (threads that ended included), or only its threads named THREAD (pthread_setname_np); with
# THREAD, "USER SYSTEM" ticks apart, from one reading
server_cpu_ticks() {
    if [ -z "${1:-}" ]; then
        awk '{ print $14 + $15 }' "/proc/$SRV_PID/stat"
        return
    fi
    for t in /proc/"$SRV_PID"/task/*; do
        [ "$(cat "$t/comm" 2> /dev/null)" = "$1" ] && awk '{ print $14, $15 }' "$t/stat"
    done | awk '{ u += $1; s += $2 } END { print u + 0, s + 0 }'
}

# server_hwm_kb: the server's peak RSS so far (VmHWM), in KiB
server_hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$SRV_PID/status"; }
