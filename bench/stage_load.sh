#!/bin/sh
# Bench stage "load": sustained mixed load on one server — whole uploads of fib-labels in a loop,
# live sessions of scale-1m fed through the real push path (bench-leech_feed -> leech ->
# liveprof-monitor --push -> the server's WebSocket port), 1,000 WebSocket clients following a
# paced live upload (bench-wsload) and wrk reading totals and aggregates of a finished session —
# checking that every upload's and every live session's totals.txt stays byte-identical to the
# old tool's and that the server's memory stays flat: its RSS at the end at most 1.5 x + 64 MiB
# of what it was a third into the load, when every source of load is running, and the bytes it
# has allocated (/metrics liveprof_heap_bytes), once every session the load made is deleted, at
# most 16 MiB over what they were a third in (a leak would stay).
# Usage (repository root, after `make all`): sh bench/stage_load.sh quick|full OUTDIR
# quick: 8 s of load; full: 120 s. Prints TSV rows (stage input metric value unit baseline
# baseline_value note); exits non-zero when a result differs or RSS grows by more than 50 %.
set -eu
mode=${1:-quick}
out=${2:-build/bench/load}
secs=8 lives=3
[ "$mode" = full ] && secs=120 lives=12
mkdir -p "$out" build/bench
for bin in build/bench-gen build/bench-wsload build/bench-leech_feed build/liveprof build/liveprof-monitor; do
    [ -x "$bin" ] || make -s "$bin" > /dev/null
done
ulimit -n 8192 2> /dev/null || ulimit -n 4096 2> /dev/null || true
log=../shared/data/eventlogs/fib-labels.eventlog
want=../shared/data/expected/fib-labels/default/fib-labels.totals.txt
livelog=../shared/data/eventlogs/scale-1m.eventlog
livewant=../shared/data/expected/scale-1m/default/scale-1m.totals.txt
wslog=build/bench/ws-live-20M-block32K-t32.eventlog # the shape of the ws stage's logs
[ -s "$wslog" ] || build/bench-gen --size 20M --caps 2 --block 32K --threads 32 --labels 16 -o "$wslog" 2> /dev/null
rm -rf "$out/data" "$out/leech.sock"
# ports picked by the server (port 0); its first line names them
build/liveprof serve --http 127.0.0.1:0 --ws 127.0.0.1:0 --data "$out/data" --web '' \
    > "$out/server.log" 2>&1 &
pid=$!
mpid=
trap 'kill $pid $mpid 2> /dev/null || true' EXIT
i=0
port=
while [ -z "$port" ] || [ ! -s "$out/data/admin.token" ]; do
    i=$((i + 1))
    [ $i -gt 100 ] && { echo "load: the server did not start: $(cat "$out/server.log")" >&2; exit 1; }
    sleep 0.1
    port=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\)/ and ws://127.0.0.1:\([0-9]*\)/.*|\1|p' "$out/server.log")
done
ws=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\)/ and ws://127.0.0.1:\([0-9]*\)/.*|\2|p' "$out/server.log")
url="http://127.0.0.1:$port"
tok=$(cat "$out/data/admin.token")
auth="Authorization: Bearer $tok"
# (JSON fields with grep: the replies are compact, and python3 may start slowly)
field() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }
upload() {
    curl -sf -X POST -H "$auth" -H 'Content-Type: application/octet-stream' --data-binary "@$log" \
        "$url/api/sessions?name=load" | field id
}
state() { curl -sf -H "$auth" "$url/api/sessions/$1" | field state; }
# waits (at most 60 s) until session $1 is done or failed
settle() {
    j=0
    while :; do
        st=$(state "$1")
        [ "$st" = done ] || [ "$st" = failed ] && break
        j=$((j + 1))
        [ $j -gt 600 ] && break
        sleep 0.1
    done
}
# the id of the session named $1, waiting (at most 10 s) until it exists
by_name() {
    j=0
    sid=
    while [ -z "$sid" ] && [ $j -lt 100 ]; do
        sid=$(curl -sf -H "$auth" "$url/api/sessions" | grep -o "\"id\":\"[0-9a-f]*\",\"name\":\"$1\"" |
            cut -d'"' -f4)
        [ -n "$sid" ] || sleep 0.1
        j=$((j + 1))
    done
    echo "$sid"
}
# 1 when session $1's totals.txt differs from file $2 (a file per session: uploads and live
# sessions are checked at the same time)
differs() {
    curl -sf -H "$auth" "$url/api/sessions/$1/totals.txt" > "$out/got-$1.txt" || true
    if cmp -s "$out/got-$1.txt" "$2"; then
        echo 0
        rm -f "$out/got-$1.txt"
    else
        echo 1 # the text stays for a look
    fi
}
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
# the bytes the server has allocated and not freed (/metrics), in KiB
heap() { curl -sf -H "$auth" "$url/metrics" | awk '$1 == "liveprof_heap_bytes" { printf "%d", $2 / 1024 }'; }
first=$(upload)
# warm up: one settled session, then the baseline RSS
settle "$first"
rss0=$(rss)
# the monitor that live programs stream to; it pushes to the server's WebSocket port
build/liveprof-monitor --socket "$out/leech.sock" --push "ws://127.0.0.1:$ws/monitor" --token "$tok" \
    > "$out/monitor.log" 2>&1 &
mpid=$!
end=$(($(date +%s) + secs))
# uploads in the background for the whole stage: each is checked once it settles, then deleted
# (a done session keeps its aggregates in memory: RSS flat means no leak, not no sessions)
: > "$out/ids"
(
    while [ "$(date +%s)" -lt "$end" ]; do
        id=$(upload)
        settle "$id"
        echo "$id $(differs "$id" "$want")" >> "$out/ids"
        curl -sf -X DELETE -H "$auth" "$url/api/sessions/$id" > /dev/null || echo "$id 1" >> "$out/ids"
    done
) &
up=$!
# live programs, spread over the stage: each feeds scale-1m through the leech's writer callbacks;
# its session is checked once it settles, then deleted (as the uploads are), so that what the
# server holds at the end is what it held a third in: RSS flat means no leak
: > "$out/lives"
(
    n=0
    while [ $n -lt $lives ]; do
        n=$((n + 1))
        t1=$(date +%s)
        name="load-live-$n"
        if LIVEPROF_SOCKET="$out/leech.sock" LIVEPROF_PROGRAM="$name" \
            build/bench-leech_feed "$livelog" throughput 1 > /dev/null 2>> "$out/feed.log"; then
            sid=$(by_name "$name")
            if [ -z "$sid" ]; then
                echo "$name missing 1" >> "$out/lives"
            else
                settle "$sid"
                echo "$name $(state "$sid") $(differs "$sid" "$livewant")" >> "$out/lives"
                curl -sf -X DELETE -H "$auth" "$url/api/sessions/$sid" > /dev/null || true
            fi
        else
            echo "$name unfed 1" >> "$out/lives"
        fi
        left=$((secs / lives - ($(date +%s) - t1)))
        # (an if, not `[ ] && sleep`: a false test as the loop's last command would make the
        # subshell exit 1 when a live session overran its slot, and `wait` end the stage)
        if [ $left -gt 0 ]; then sleep $left; fi
    done
) &
lv=$!
# 1,000 WebSocket clients on one live session, paced (250,000 events over the stage)
wsecs=$((secs - 4))
build/bench-wsload --http "$port" --ws "$ws" --token "$tok" --log "$wslog" --clients 1000 \
    --rate $((250000 / wsecs)) --seconds "$wsecs" > "$out/wsload.txt" 2> "$out/wsload.err" &
wl=$!
# the server's RSS once a second while the load runs
t0=$(date +%s)
(while kill -0 $pid 2> /dev/null; do echo "$(($(date +%s) - t0)) $(rss) $(heap)"; sleep 1; done) > "$out/rss.tsv" 2> /dev/null &
sampler=$!
half=$((secs / 2))
wrk -t1 -c8 -d"${half}s" -H "$auth" "$url/api/sessions/$first/totals" > "$out/wrk-totals.txt" 2>&1
wrk -t1 -c8 -d"${half}s" -H "$auth" "$url/api/sessions/$first/aggregates?series=threads&bins=200" \
    > "$out/wrk-aggr.txt" 2>&1
# the loops' results are in ids and lives, checked below: their exit statuses say nothing more
wait $up || true
wait $lv || true
wsok=0
wait $wl || wsok=1
echo "load: the load ended after $(($(date +%s) - t0)) s" >&2
uploads=$(wc -l < "$out/ids")
# every upload settled with exactly the old tool's totals; so does every live session
bad=$(awk '$2 != 0' "$out/ids" | wc -l)
livedone=$(awk '$2 == "done"' "$out/lives" | wc -l)
livebad=$(awk '$3 != 0' "$out/lives" | wc -l)
rss1=$(rss)
kill $sampler 2> /dev/null || true
# the session the WebSocket clients followed grows with its data (bounded by --session-memory):
# once it is deleted too, the server holds what it held after the warm-up
wsid=$(by_name wsload)
[ -n "$wsid" ] && curl -sf -X DELETE -H "$auth" "$url/api/sessions/$wsid" > /dev/null
sleep 2
rss2=$(rss)
heap2=$(heap)
# flat: the RSS at the end against the RSS a third into the load (every source of load running)
rssload=$(awk -v t=$((secs / 3)) '$1 >= t { print $2; exit }' "$out/rss.tsv")
heapload=$(awk -v t=$((secs / 3)) '$1 >= t { print $3; exit }' "$out/rss.tsv")
heapend=$(awk 'NF == 3 { h = $3 } END { print h }' "$out/rss.tsv")
rsspeak=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$out/rss.tsv")
rps() { awk '/^Requests\/sec/ { print $2 }' "$1"; }
# bench-wsload: p50_ms p99_ms samples clients_connected deltas mean_delta_bytes snapshots ...
read -r wp50 wp99 wsamples wclients wdeltas _ wsnaps _ < "$out/wsload.txt" || true
p="load	fib-labels"
printf '%s\ttotals_requests_per_s\t%s\treq/s\t-\t-\twrk -c8 during uploads, live sessions, 1,000 WebSocket clients\n' "$p" "$(rps "$out/wrk-totals.txt")"
printf '%s\taggregates_requests_per_s\t%s\treq/s\t-\t-\twrk -c8 during uploads, live sessions, 1,000 WebSocket clients\n' "$p" "$(rps "$out/wrk-aggr.txt")"
printf '%s\tuploads\t%s\tsessions\t-\t-\twhole uploads in %s s, each checked, then deleted\n' "$p" "$uploads" "$secs"
printf '%s\ttotals_mismatches\t%s\tsessions\t-\t-\tagainst the expected totals.txt\n' "$p" "$bad"
p2="load	scale-1m"
printf '%s\tlive_sessions\t%s\tsessions\t-\t-\tpushed by liveprof-monitor --push, done (of %s fed), each checked, then deleted\n' "$p2" "$livedone" "$(wc -l < "$out/lives")"
printf '%s\tlive_totals_mismatches\t%s\tsessions\t-\t-\tagainst the expected totals.txt\n' "$p2" "$livebad"
p3="load	gen-20M-block32K-t32"
printf '%s\tws_clients_connected\t%s\tclients\t-\t-\tof 1000, at the end\n' "$p3" "${wclients:--}"
printf '%s\tws_deltas\t%s\tmessages\t-\t-\tdeltas received by all clients\n' "$p3" "${wdeltas:--}"
printf '%s\tws_snapshots\t%s\tmessages\t-\t-\tsnapshots received by all clients\n' "$p3" "${wsnaps:--}"
printf '%s\tws_latency_p50\t%s\tms\t-\t-\tchunk PUT to the pushed update, %s samples\n' "$p3" "${wp50:--}" "${wsamples:--}"
printf '%s\tws_latency_p99\t%s\tms\t-\t-\tchunk PUT to the pushed update\n' "$p3" "${wp99:--}"
printf '%s\trss_start\t%s\tKiB\t-\t-\tafter warm-up\n' "$p" "$rss0"
printf '%s\trss_load\t%s\tKiB\t-\t-\ta third into the load\n' "$p" "$rssload"
printf '%s\trss_peak\t%s\tKiB\t-\t-\tsampled once a second\n' "$p" "$rsspeak"
printf '%s\trss_end\t%s\tKiB\t-\t-\tafter %s uploads, %s live sessions, 1,000 WebSocket clients\n' "$p" "$rss1" "$uploads" "$livedone"
printf '%s\trss_after_cleanup\t%s\tKiB\t-\t-\tonce the followed live session was deleted too (the others were as they ended); the allocator keeps what it got\n' "$p" "$rss2"
printf '%s\theap_load\t%s\tKiB\t-\t-\tallocated and not freed (/metrics liveprof_heap_bytes) a third into the load\n' "$p" "$heapload"
printf '%s\theap_end\t%s\tKiB\t-\t-\tthe last sample while the load ran\n' "$p" "$heapend"
printf '%s\theap_after_cleanup\t%s\tKiB\t-\t-\tonce every session the load made was deleted: a leak would stay\n' "$p" "$heap2"
kill $mpid 2> /dev/null || true
kill $pid
wait $pid 2> /dev/null || true
trap - EXIT
[ "$bad" -eq 0 ] || { echo "load: $bad sessions differ from the expected totals" >&2; exit 1; }
[ "$livebad" -eq 0 ] && [ "$livedone" -eq "$lives" ] ||
    { echo "load: $livedone of $lives live sessions done, $livebad differ from the expected totals" >&2; exit 1; }
[ "$wsok" -eq 0 ] && [ "${wclients:-0}" -ge 990 ] ||
    { echo "load: bench-wsload failed or lost clients: $(cat "$out/wsload.err")" >&2; exit 1; }
[ -z "$heapload" ] || [ -z "$heap2" ] || [ "$heap2" -le $((heapload + 16384)) ] ||
    { echo "load: $heap2 KiB still allocated once every session of the load was deleted ($heapload KiB a third in)" >&2; exit 1; }
[ "$rss1" -le $((rssload * 3 / 2 + 65536)) ] ||
    { echo "load: RSS grew from $rssload KiB (a third into the load) to $rss1 KiB" >&2; exit 1; }
