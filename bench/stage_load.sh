#!/bin/sh
# Bench stage "load": sustained mixed load on one server — whole uploads of fib-labels in a loop
# while wrk reads totals and aggregates of a finished session — checking that every upload's
# totals.txt stays byte-identical to the old tool's and that the server's RSS stays flat.
# Usage (repository root, after `make all`): sh bench/stage_load.sh quick|full OUTDIR
# quick: 8 s of load; full: 120 s. Prints TSV rows (stage input metric value unit baseline
# baseline_value note); exits non-zero when a result differs or RSS grows by more than 50 %.
set -eu
mode=${1:-quick}
out=${2:-build/bench/load}
secs=8
[ "$mode" = full ] && secs=120
mkdir -p "$out"
log=../shared/data/eventlogs/fib-labels.eventlog
want=../shared/data/expected/fib-labels/default/fib-labels.totals.txt
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ws=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rm -rf "$out/data"
build/liveprof serve --http "127.0.0.1:$port" --ws "127.0.0.1:$ws" --data "$out/data" --web '' \
    > "$out/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2> /dev/null || true' EXIT
url="http://127.0.0.1:$port"
i=0
while [ ! -s "$out/data/admin.token" ] || ! curl -sf "$url/api/me" > /dev/null; do
    i=$((i + 1))
    [ $i -gt 100 ] && { echo "load: the server did not start" >&2; exit 1; }
    sleep 0.1
done
tok=$(cat "$out/data/admin.token")
auth="Authorization: Bearer $tok"
upload() {
    curl -sf -X POST -H "$auth" -H 'Content-Type: application/octet-stream' --data-binary "@$log" \
        "$url/api/sessions?name=load" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
first=$(upload)
# warm up: one settled session and a few queries, then the baseline RSS
for _ in 1 2 3 4 5 6 7 8 9 10; do
    st=$(curl -sf -H "$auth" "$url/api/sessions/$first" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
    [ "$st" = done ] && break
    sleep 0.5
done
rss0=$(rss)
# uploads in the background for the whole stage
: > "$out/ids"
(end=$(($(date +%s) + secs)); while [ "$(date +%s)" -lt "$end" ]; do upload >> "$out/ids"; done) &
up=$!
half=$((secs / 2))
wrk -t1 -c8 -d"${half}s" -H "$auth" "$url/api/sessions/$first/totals" > "$out/wrk-totals.txt" 2>&1
wrk -t1 -c8 -d"${half}s" -H "$auth" "$url/api/sessions/$first/aggregates?series=threads&bins=200" \
    > "$out/wrk-aggr.txt" 2>&1
wait $up
uploads=$(wc -l < "$out/ids")
# every upload settles with exactly the old tool's totals
bad=0
for id in $(cat "$out/ids"); do
    j=0
    while :; do
        st=$(curl -sf -H "$auth" "$url/api/sessions/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
        [ "$st" = done ] || [ "$st" = failed ] && break
        j=$((j + 1))
        [ $j -gt 600 ] && break
        sleep 0.1
    done
    curl -sf -H "$auth" "$url/api/sessions/$id/totals.txt" > "$out/got.txt" || true
    cmp -s "$out/got.txt" "$want" || bad=$((bad + 1))
done
rss1=$(rss)
rps() { awk '/^Requests\/sec/ { print $2 }' "$1"; }
p="load	fib-labels"
printf '%s\ttotals_requests_per_s\t%s\treq/s\t-\t-\twrk -c8 during uploads\n' "$p" "$(rps "$out/wrk-totals.txt")"
printf '%s\taggregates_requests_per_s\t%s\treq/s\t-\t-\twrk -c8 during uploads\n' "$p" "$(rps "$out/wrk-aggr.txt")"
printf '%s\tuploads\t%s\tsessions\t-\t-\twhole uploads in %s s\n' "$p" "$uploads" "$secs"
printf '%s\ttotals_mismatches\t%s\tsessions\t-\t-\tagainst the expected totals.txt\n' "$p" "$bad"
printf '%s\trss_start\t%s\tKiB\t-\t-\tafter warm-up\n' "$p" "$rss0"
printf '%s\trss_end\t%s\tKiB\t-\t-\tafter %s sessions\n' "$p" "$rss1" "$uploads"
kill $pid
wait $pid 2> /dev/null || true
trap - EXIT
[ "$bad" -eq 0 ] || { echo "load: $bad sessions differ from the expected totals" >&2; exit 1; }
[ "$rss1" -le $((rss0 * 3 / 2 + 65536)) ] || { echo "load: RSS grew from $rss0 to $rss1 KiB" >&2; exit 1; }
