#!/bin/sh
# Runs one fuzz target for SECONDS, then merges the inputs that add coverage into its corpus.
# Usage (from the repository root, after `make SANITIZER=fuzzer build/fuzzer/fuzz-NAME`):
#   sh fuzz/run.sh NAME SECONDS
# New inputs go to build/fuzz/NAME/new first; only those that grow coverage reach
# fuzz/corpus/NAME (libFuzzer's -merge=1). Crashes land in build/fuzz/NAME/ as crash-*, and the
# run's final statistics are appended to build/fuzz/NAME/stats.log.
set -eu
name=$1
secs=${2:-60}
bin=build/fuzzer/fuzz-$name
corpus=fuzz/corpus/$name
work=build/fuzz/$name
mkdir -p "$work/new" "$corpus"
dict=""
[ -f "fuzz/dict/$name.dict" ] && dict="-dict=fuzz/dict/$name.dict"
# Bounded memory: 2 GB RSS (libFuzzer's default) and no single allocation over 256 MB.
opts="-rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10 -max_len=65536 -print_final_stats=1"
echo "fuzz: $name for ${secs}s" >&2
set +e
# shellcheck disable=SC2086
"$bin" $opts $dict -max_total_time="$secs" -artifact_prefix="$work/" "$work/new" "$corpus" \
    > "$work/last.log" 2>&1
status=$?
set -e
grep -E '^(stat::|#[0-9]+[[:space:]]+DONE)' "$work/last.log" | tail -8 | sed "s/^/$name $(date -u +%FT%TZ) ${secs}s /" \
    >> "$work/stats.log" || true
grep -E '#[0-9]+[[:space:]]+DONE' "$work/last.log" | tail -1 >&2 || true
if [ $status -ne 0 ]; then
    echo "fuzz: $name found a problem (see $work/last.log and $work/crash-*)" >&2
    tail -30 "$work/last.log" >&2
    exit 1
fi
# shellcheck disable=SC2086
"$bin" -merge=1 $dict -max_len=65536 "$corpus" "$work/new" > "$work/merge.log" 2>&1
grep -E 'MERGE-OUTER: [0-9]+ new files' "$work/merge.log" >&2 || true
rm -rf "$work/new"
