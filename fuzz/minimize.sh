#!/bin/sh
# Shrinks a target's corpus to the inputs that carry its coverage: keeps every seed-* and
# regress-* file, then adds (libFuzzer -merge=1) only those other inputs that add coverage.
# Usage, from the repository root after `make SANITIZER=fuzzer build/fuzzer/fuzz-NAME`:
#   sh fuzz/minimize.sh NAME
set -eu
name=$1
corpus=fuzz/corpus/$name
work=build/fuzz/$name/min
rm -rf "$work" "$work.rest"
mkdir -p "$work" "$work.rest"
for f in "$corpus"/*; do
    case "$(basename "$f")" in
    seed-* | regress-*) cp "$f" "$work/" ;;
    *) cp "$f" "$work.rest/" ;;
    esac
done
before=$(ls "$corpus" | wc -l)
build/fuzzer/fuzz-"$name" -merge=1 -max_len=65536 "$work" "$work.rest" > "$work.log" 2>&1
find "$corpus" -type f ! -name 'seed-*' ! -name 'regress-*' -delete
find "$work" -type f ! -name 'seed-*' ! -name 'regress-*' -exec cp {} "$corpus/" \;
rm -rf "$work" "$work.rest"
echo "$name: $before -> $(ls "$corpus" | wc -l) files, $(du -sk "$corpus" | cut -f1) KiB" >&2
