#!/bin/sh
# Prints one Markdown table row per fuzz target from the statistics `fuzz/run.sh` appended to
# build/fuzz/<target>/stats.log: runs, seconds fuzzed (executions / average rate), executions,
# and the coverage (cov) and features (ft) of the last finished run. Run from the repository root.
for log in build/fuzz/*/stats.log; do
    [ -f "$log" ] || continue
    awk '
        $4 == "stat::number_of_executed_units:" { execs += $5; last_execs = $5; runs++ }
        $4 == "stat::average_exec_per_sec:" { if ($5 > 0) secs += last_execs / $5 }
        $5 == "DONE" { for (i = 5; i <= NF; i++) { if ($i == "cov:") cov = $(i + 1); if ($i == "ft:") ft = $(i + 1) } }
        END { printf "| %s | %d | %d | %d | %s | %s |\n", $1, runs, secs, execs, cov, ft }
    ' "$log"
done
