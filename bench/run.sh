#!/bin/sh
# The liveprof benchmark suite: runs every bench/stage_*.sh (quick or full), collects their TSV
# rows with the machine's description into bench/results/<date>[-quick]/, and has
# bench/report.py write report.md with SVG charts and print the summary table. Run from the repo
# root after `make all ref` (the make targets do that):
#   sh bench/run.sh quick|full [--check BASELINE.tsv] [--write-baseline BASELINE.tsv]
# BENCH_STAGES="decode server" runs only those stages; BENCH_SIZES narrows the generated sizes.
set -eu

MODE=${1:-}
case $MODE in
quick | full) shift ;;
*)
    echo "usage: sh bench/run.sh quick|full [--check FILE] [--write-baseline FILE]" >&2
    exit 2
    ;;
esac
REPORT_ARGS=""
RES=bench/results/$(date +%Y-%m-%d)
if [ "$MODE" = quick ]; then RES=$RES-quick; fi
while [ $# -gt 0 ]; do
    case $1 in
    --check | --write-baseline)
        [ $# -ge 2 ] || {
            echo "bench: $1 needs a file" >&2
            exit 2
        }
        REPORT_ARGS="$REPORT_ARGS $1 $2"
        if [ "$1" = --check ]; then RES=${RES%-quick}-check; fi
        shift 2
        ;;
    *)
        echo "bench: unknown argument $1" >&2
        exit 2
        ;;
    esac
done
LIMIT=300 # seconds a stage may take before it is stopped
if [ "$MODE" = full ]; then LIMIT=1200; fi

rm -rf "$RES"
mkdir -p "$RES/rows" "$RES/logs" build/bench/run

# The machine, for the report's header.
{
    printf 'date\t%s\n' "$(date '+%Y-%m-%d %H:%M:%S %z')"
    printf 'mode\t%s\n' "$MODE"
    printf 'commit\t%s%s\n' "$(git rev-parse --short HEAD 2> /dev/null || echo unknown)" \
        "$(git diff --quiet HEAD 2> /dev/null || echo ' (plus uncommitted changes)')"
    printf 'cpu\t%s\n' "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
    printf 'cores\t%s\n' "$(nproc)"
    printf 'ram\t%s\n' "$(awk '/^MemTotal/ { printf "%.1f GB", $2 * 1024 / 1e9 }' /proc/meminfo)"
    printf 'kernel\t%s\n' "$(uname -srm)"
    printf 'os\t%s\n' "$(sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release 2> /dev/null)"
    printf 'compiler\t%s\n' "$(${CC:-gcc} --version | head -n 1)"
    printf 'ghc\t%s\n' "$(ghc --numeric-version 2> /dev/null || echo absent)"
    printf 'disk\t%s\n' "$(df -h build | awk 'NR == 2 { print $4 " free of " $2 " on " $1 }')"
    printf 'load_start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$RES/machine.txt"

# What memory not touched before costs here (every ingest pays it: its segments' page cache, its
# buffers, its aggregates). A virtual machine whose host takes freed memory back charges far more
# for it than bare metal, which moves the server rows.
MEMCOST_MIB=256
if [ "$MODE" = full ]; then MEMCOST_MIB=1024; fi
if mc=$(build/bench-memcost build/bench/run "$MEMCOST_MIB" 2> "$RES/logs/memcost.log"); then
    kv_of() { printf '%s\n' "$mc" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    printf 'memory_first_touch\t%s ms/MiB in 4 KiB pages, %s ms/MiB in 2 MiB pages (touched again: %s, %s)\n' \
        "$(kv_of anon_4k_first_ms_per_mib)" "$(kv_of anon_huge_first_ms_per_mib)" \
        "$(kv_of anon_4k_again_ms_per_mib)" "$(kv_of anon_huge_again_ms_per_mib)" >> "$RES/machine.txt"
    printf 'pagecache_write\t%s s/GiB of system time into pages the kernel takes in, %s s/GiB into pages just freed (%s MiB written)\n' \
        "$(kv_of pagecache_fresh_sys_s_per_gib)" "$(kv_of pagecache_recycled_sys_s_per_gib)" \
        "$MEMCOST_MIB" >> "$RES/machine.txt"
fi

# run_stage SCRIPT DIR: one stage script into DIR/NAME.tsv (its log in logs/), timed, with a
# line on stderr; appends NAME RC SECONDS to stages.tsv unless DIR is the retry folder.
run_stage() {
    script=$1
    name=${script#bench/stage_}
    name=${name%.sh}
    scratch=build/bench/run/$name
    rm -rf "$scratch"
    mkdir -p "$scratch" "$2"
    printf 'bench: %-10s ' "$name" >&2
    t0=$(date +%s.%N)
    rc=0
    timeout -k 10 "$LIMIT" sh "$script" "$MODE" "$scratch" > "$2/$name.tsv" \
        2> "$RES/logs/$name.log" || rc=$?
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if [ "$2" = "$RES/rows" ]; then printf '%s\t%s\t%s\n' "$name" "$rc" "$secs" >> "$RES/stages.tsv"; fi
    rows=$(wc -l < "$2/$name.tsv" | tr -d ' ')
    why=""
    if [ "$rc" = 124 ]; then why=" (stopped after ${LIMIT}s)"; fi
    printf '%6ss, %4s rows, exit %s%s\n' "$secs" "$rows" "$rc" "$why" >&2
    rm -rf "$scratch"
}

START=$(date +%s)
for script in bench/stage_*.sh; do
    [ -f "$script" ] || continue
    name=${script#bench/stage_}
    name=${name%.sh}
    if [ -n "${BENCH_STAGES:-}" ]; then
        case " $BENCH_STAGES " in *" $name "*) ;; *) continue ;; esac
    fi
    run_stage "$script" "$RES/rows"
done
printf 'load_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >> "$RES/machine.txt"
printf 'total_s\t%s\n' "$(($(date +%s) - START))" >> "$RES/machine.txt"

rc=0
# shellcheck disable=SC2086 # REPORT_ARGS holds whole words
python3 bench/report.py "$RES" $REPORT_ARGS || rc=$?
if [ "$rc" = 3 ] && [ -s "$RES/recheck.txt" ]; then
    # the check failed on stages that otherwise ran clean: measure those once more, then
    # judge each guarded ratio by the better of its two measurements
    while read -r name; do
        run_stage "bench/stage_$name.sh" "$RES/retry"
    done < "$RES/recheck.txt"
    rc=0
    # shellcheck disable=SC2086
    python3 bench/report.py "$RES" $REPORT_ARGS || rc=$?
fi
exit "$rc"
