#!/usr/bin/env python3
"""The benchmark report: reads the rows bench/run.sh collected in a results directory
(rows/*.tsv, stages.tsv, machine.txt), writes report.md with SVG charts beside it, prints the
summary table, and checks or writes the baseline of headline ratios. Python 3 standard library
only.

    python3 bench/report.py RESULTS_DIR [--check BASELINE.tsv] [--write-baseline BASELINE.tsv]

Exit status: 1 when a stage failed or the check found a regression, 3 when only the check
failed and the stages behind the failing ratios are listed in RESULTS_DIR/recheck.txt for
bench/run.sh to measure once more (into RESULTS_DIR/retry/); a second call then checks the
better of the two measurements of each ratio, so one noisy run is not a regression. Else 0."""

import math
import os
import re
import sys

sys.dont_write_bytecode = True
import svgchart  # noqa: E402 (after the bytecode switch)

COLS = ["stage", "input", "metric", "value", "unit", "baseline", "baseline_value", "note"]
HIGHER_BETTER = {"MB/s", "Mev/s", "req/s", "x", "msg/s", "events/s"}
TOLERANCE = 0.8  # a headline ratio may fall to 80% of its baseline value
SUFFIX = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def num(s):
    try:
        v = float(s)
        return v if math.isfinite(v) else None
    except (TypeError, ValueError):
        return None


def read_rows(res, sub="rows"):
    """Every well-formed row of every stage (in RES/SUB), with its stage script's name; and the
    problems."""
    rows, problems = [], []
    rdir = os.path.join(res, sub)
    for fn in sorted(os.listdir(rdir)) if os.path.isdir(rdir) else []:
        script = fn[:-4]
        with open(os.path.join(rdir, fn), encoding="utf-8", errors="replace") as f:
            for ln, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if not line.strip():
                    continue
                parts = line.split("\t")
                if len(parts) == 7:
                    parts.append("")
                if len(parts) != 8:
                    problems.append(f"stage_{script}.sh line {ln}: {len(parts)} fields, not 8")
                    continue
                r = dict(zip(COLS, parts))
                r["script"] = script
                r["v"] = num(r["value"])
                r["b"] = num(r["baseline_value"])
                if r["baseline"] in ("", "-"):
                    r["baseline"] = "-"
                rows.append(r)
    return rows, problems


def read_kv(path):
    out = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                out[k] = v
    return out


def read_stages(res):
    out = []
    path = os.path.join(res, "stages.tsv")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) == 3:
                    out.append({"name": p[0], "rc": int(p[1]), "secs": float(p[2])})
    return out


def note_range(note):
    """(n, min, max, rest) from a note that starts with 'n=N min=A max=B'."""
    m = re.match(r"\s*n=(\d+)\s+min=(\S+)\s+max=(\S+)\s*(.*)$", note or "")
    if not m:
        return None, None, None, note or ""
    return int(m.group(1)), num(m.group(2)), num(m.group(3)), m.group(4)


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def ratio_of(r):
    """value / baseline_value, or None."""
    if r["baseline"] == "-" or r["v"] is None or not r["b"]:
        return None
    return r["v"] / r["b"]


def score(ratio, unit):
    """Bigger is better: the ratio itself for throughput, its inverse for times and sizes."""
    if ratio is None or ratio <= 0:
        return None
    return ratio if unit in HIGHER_BETTER else 1 / ratio


def ratio_text(r):
    q = ratio_of(r)
    if q is None:
        return "-"
    if r["unit"] in HIGHER_BETTER:
        return f"{fmt(q)}x" if q >= 1 else f"{q * 100:.2g}%" if q < 0.1 else f"{q:.2f}x"
    return f"{fmt(q)}x" if q >= 1 else f"1/{fmt(1 / q)}"


def key(r):
    return (r["stage"], r["input"], r["metric"], r["baseline"])


def input_sizes(rows):
    """input name -> bytes, from the 'input' rows, else from a size suffix in the name."""
    sizes = {}
    for r in rows:
        if r["stage"] == "input" and r["metric"] == "bytes" and r["v"]:
            sizes[r["input"]] = r["v"]
    for r in rows:
        if r["input"] not in sizes:
            m = re.search(r"-(\d+)([KMG])$", r["input"])
            if m:
                sizes[r["input"]] = int(m.group(1)) * SUFFIX[m.group(2)]
    return sizes


def series_of(rows, sizes):
    """(stage, shape) -> {bytes: {'time': s, 'rss': MB}} for inputs named gen-SHAPE-SIZE."""
    out = {}
    for r in rows:
        m = re.match(r"gen-([a-z]+)-\d+[KMG]$", r["input"])
        if not m or r["v"] is None or r["input"] not in sizes:
            continue
        if r["metric"] not in ("time", "peak_rss") or r["baseline"] != "-":
            continue
        s = out.setdefault((r["stage"], m.group(1)), {})
        s.setdefault(sizes[r["input"]], {})["time" if r["metric"] == "time" else "rss"] = r["v"]
    return {k: v for k, v in out.items() if len([1 for p in v.values() if "time" in p]) >= 3}


def slope(points):
    """Least-squares slope of log(y) on log(x)."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else None


def growth(series):
    """One verdict per series: the time exponent over the sizes >= 16 MiB (all sizes when
    fewer than three are that big) and the peak-RSS ratio of the largest size to the smallest
    within its last 16x (also, for information, to the 16 MiB one)."""
    out = []
    for (stage, shape), pts in sorted(series.items()):
        sizes = sorted(b for b, p in pts.items() if "time" in p)
        big = [b for b in sizes if b >= 16 << 20]
        fit = big if len(big) >= 3 else sizes
        k = slope([(b, pts[b]["time"]) for b in fit])
        rs = [b for b in sizes if "rss" in pts[b]]
        rbase = [b for b in rs if b * 16 >= rs[-1]] or rs  # the last 16x of sizes
        rss_ratio = pts[rs[-1]]["rss"] / pts[rbase[0]]["rss"] if rs and pts[rbase[0]]["rss"] else None
        wide = [b for b in rs if b >= 16 << 20] or rs
        rss_wide = pts[rs[-1]]["rss"] / pts[wide[0]]["rss"] if rs and pts[wide[0]]["rss"] else None
        verdict = []
        if k is not None:
            verdict.append("linear" if k <= 1.15 else "super-linear")
        if rss_ratio is not None:
            verdict.append("flat memory" if rss_ratio <= 1.5 else "memory grows")
        out.append({"stage": stage, "shape": shape, "slope": k, "fit": fit, "sizes": sizes,
                    "rss_from": rbase[0] if rbase else None, "rss_to": rs[-1] if rs else None,
                    "rss_ratio": rss_ratio, "rss_wide": rss_wide, "rss_wide_from": wide[0] if wide else None,
                    "verdict": ", ".join(verdict)})
    return out


def human_bytes(b):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= size:
            return f"{b / size:.3g} {unit}"
    return f"{b:.0f} B"


def md_table(head, body):
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for row in body:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
    return "\n".join(lines)


def text_table(head, body):
    w = [max(len(str(x)) for x in col) for col in zip(head, *body)] if body else [len(h) for h in head]
    fmt_row = lambda row: "  ".join(str(c).ljust(w[i]) for i, c in enumerate(row)).rstrip()
    return "\n".join([fmt_row(head), fmt_row(["-" * x for x in w])] + [fmt_row(r) for r in body])


def headline_rows(rows):
    return [r for r in rows if r["baseline"] != "-" and ratio_of(r) is not None]


def summary_rows(rows):
    """The headline rows for the terminal: of the gen-mixed size series only the largest size
    per (stage, metric, baseline); every other input."""
    sizes = input_sizes(rows)
    head = headline_rows(rows)
    largest = {}
    for r in head:
        if r["input"].startswith("gen-mixed-"):
            k = (r["stage"], r["metric"], r["baseline"])
            if sizes.get(r["input"], 0) >= sizes.get(largest.get(k, ""), -1):
                largest[k] = r["input"]
    return [r for r in head if not r["input"].startswith("gen-mixed-")
            or largest.get((r["stage"], r["metric"], r["baseline"])) == r["input"]]


def check(rows, path, retry=()):
    """Compares the headline ratios with the baseline file, each at the better of its first
    measurement and its retry when there is one; returns (table rows, failed, the stage scripts
    behind the failing ratios)."""
    now, again = {}, {}
    for r in rows:
        now.setdefault(key(r), r)
    for r in retry:
        again.setdefault(key(r), r)
    out, failed, scripts = [], False, set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            p = line.rstrip("\n").split("\t")
            if len(p) < 6 or p[0] == "stage":
                continue
            stage, inp, metric, base, unit = p[0], p[1], p[2], p[3], p[5]
            want = num(p[4])
            r = now.get((stage, inp, metric, base))
            if r is None or ratio_of(r) is None:
                out.append([stage, inp, metric, base, fmt(want), "missing", "FAIL"])
                failed = True
                continue
            have = ratio_of(r)
            s_base = score(want, unit)
            passes = lambda v: v is not None and s_base is not None and v >= TOLERANCE * s_base
            s_now, verdict = score(have, unit), "ok"
            r2 = again.get((stage, inp, metric, base))
            if not passes(s_now) and r2 is not None and ratio_of(r2) is not None:
                have2 = ratio_of(r2)
                if score(have2, unit) is not None and (s_now is None or score(have2, unit) > s_now):
                    have, s_now = have2, score(have2, unit)
                verdict = "ok on retry"
            ok = passes(s_now)
            if not ok:
                verdict = "FAIL"
                scripts.add(r["script"])
            failed |= not ok
            change = f"{(s_now / s_base - 1):+.0%}" if s_now and s_base else "?"
            out.append([stage, inp, metric, base, fmt(want), f"{fmt(have)} ({change})", verdict])
    return out, failed, scripts


def write_baseline(rows, path):
    """The headline ratios steady enough to guard: CPU-time throughput against ghc-events' in
    the same run (the least user + system time of a run, which other load moves far less than
    wall time), on inputs of 10 MB or more. Left out: wall-time ratios, the read ceiling (a page-cache copy of a few ms swings
    10x on a busy machine), cold cache, latency, recorded baselines, tiny inputs."""
    sizes = input_sizes(rows)
    keep = [r for r in headline_rows(rows)
            if r["baseline"] == "evdump (ghc-events)" and r["metric"] == "cpu_throughput"
            and sizes.get(r["input"], 0) >= 1e7]
    with open(path, "w", encoding="utf-8") as f:
        f.write("# Headline ratios (value / baseline, same run) that `make bench-check` guards: it\n"
                "# fails when one gets more than 20% worse. Written by `make bench-baseline` on the\n"
                "# machine that checks; edit by hand to drop a row.\n")
        f.write("stage\tinput\tmetric\tbaseline\tratio\tunit\n")
        for r in keep:
            f.write(f"{r['stage']}\t{r['input']}\t{r['metric']}\t{r['baseline']}\t"
                    f"{ratio_of(r):.4g}\t{r['unit']}\n")
    return len(keep)


def charts(res, rows, sizes, series, grow):
    """Writes the SVG charts; returns [(title, file name)]."""
    made = []
    cdir = os.path.join(res, "charts")
    os.makedirs(cdir, exist_ok=True)
    for what, unit, label in (("time", "s", "wall time (s)"), ("rss", "MB", "peak RSS (MB)")):
        lines = []
        for (stage, shape), pts in sorted(series.items()):
            xy = sorted((b, p[what]) for b, p in pts.items() if what in p)
            if len(xy) >= 2:
                lines.append((f"{stage} ({shape})", xy))
        if not lines:
            continue
        title = ("Time against log size (log-log; dashed: linear)" if what == "time"
                 else "Peak RSS against log size (log-log; flat is the goal)")
        name = f"growth-{what}.svg"
        svg = svgchart.loglog(title, "log size (bytes)", label, lines, ref_slope=1 if what == "time" else None)
        with open(os.path.join(cdir, name), "w", encoding="utf-8") as f:
            f.write(svg)
        made.append((title, name))
    # throughput bars per input that has several throughput rows
    by_input = {}
    for r in rows:
        if r["metric"] == "throughput" and r["unit"] == "MB/s" and r["v"]:
            by_input.setdefault(r["input"], {})[r["stage"]] = r["v"]
    for inp in sorted(by_input, key=lambda i: (not i.startswith("scale"), sizes.get(i, 0))):
        bars = sorted(by_input[inp].items(), key=lambda kv: -kv[1])
        if len(bars) < 3 or not (inp.startswith("scale-20m") or inp.endswith("-1G") or inp.endswith("-16M")):
            continue
        name = f"throughput-{re.sub(r'[^A-Za-z0-9]+', '-', inp)}.svg"
        title = f"Throughput on {inp} ({human_bytes(sizes[inp]) if inp in sizes else '?'}), MB/s, log scale"
        with open(os.path.join(cdir, name), "w", encoding="utf-8") as f:
            f.write(svgchart.bars(title, bars, "MB/s"))
        made.append((title, name))
    return made


def report(res, rows, problems, stages, machine, grow, made, checked):
    sizes = input_sizes(rows)
    out = [f"# liveprof benchmark report ({machine.get('mode', '?')}, {machine.get('date', '?')})", ""]
    out.append("Generated by `make bench` (bench/run.sh, bench/report.py). MB = 10^6 bytes; "
               "values are medians with (min-max) over the runs shown; ratios are value / "
               "baseline measured in the same run unless the baseline says *recorded*.")
    out += ["", "## Machine", ""]
    out.append(md_table(["", ""], [[k, machine[k]] for k in
                                   ("cpu", "cores", "ram", "kernel", "os", "compiler", "ghc", "disk",
                                    "memory_first_touch", "pagecache_write", "commit", "load_start",
                                    "load_end", "total_s") if k in machine]))
    out += ["", "Load average at the start and end tells how busy the machine was: with more load "
            "than cores the numbers are pessimistic and noisy. Cold-cache rows evict the input "
            "with posix_fadvise(POSIX_FADV_DONTNEED) before every run (falling back to "
            "/proc/sys/vm/drop_caches); each row's note names the method used. "
            "memory_first_touch and pagecache_write (bench-memcost) are what memory the programs "
            "have not touched before costs on this machine: every ingest pays them for its "
            "buffers, aggregates and segments' page cache, and a virtual machine whose host takes "
            "freed memory back charges far more than bare metal.", ""]
    out += ["## Headline ratios", ""]
    body = []
    for r in headline_rows(rows):
        body.append([r["stage"], r["input"], r["metric"], f"{fmt(r['v'])} {r['unit']}", r["baseline"],
                     f"{fmt(r['b'])} {r['unit']}", ratio_text(r)])
    out.append(md_table(["stage", "input", "metric", "value", "baseline", "baseline value", "ratio"], body)
               if body else "(none)")
    if checked is not None:
        out += ["", "## Regression check against the baseline file", ""]
        out.append(md_table(["stage", "input", "metric", "baseline", "ratio then", "ratio now", ""], checked))
    out += ["", "## Growth with log size", ""]
    if grow:
        out.append("Exponent k of time ~ size^k fitted on the sizes from 16 MiB up (1 = linear); "
                   "peak RSS of the largest input over the smallest within its last 16x of sizes "
                   "(1 = flat; the verdict), and over the 16 MiB one. Generated mixed logs reach their "
                   "10,000 distinct threads by 16 MiB, so memory that still grows past that grows with "
                   "something other than ids.")
        out.append("")
        out.append(md_table(["stage", "shape", "sizes", "time exponent", "peak RSS growth (last 16x)",
                             "peak RSS growth (from 16 MiB)", "verdict"],
                            [[g["stage"], g["shape"], f"{human_bytes(g['sizes'][0])} .. {human_bytes(g['sizes'][-1])}",
                              fmt(g["slope"]),
                              f"{fmt(g['rss_ratio'])}x ({human_bytes(g['rss_from'])} -> {human_bytes(g['rss_to'])})"
                              if g["rss_ratio"] else "-",
                              f"{fmt(g['rss_wide'])}x ({human_bytes(g['rss_wide_from'])} -> {human_bytes(g['rss_to'])})"
                              if g["rss_wide"] else "-", g["verdict"]] for g in grow]))
    else:
        out.append("(no stage measured three sizes or more)")
    for title, name in made:
        out += ["", f"![{title}](charts/{name})"]
    out += ["", "## Stages", ""]
    srows = []
    for s in stages:
        mine = [r for r in rows if r["script"] == s["name"]]
        skipped = sum(1 for r in mine if r["metric"] == "status" and r["value"] == "skipped")
        failed = sum(1 for r in mine if r["metric"] == "status" and r["value"] == "FAILED")
        state = "ok" if s["rc"] == 0 else "stopped (time limit)" if s["rc"] == 124 else f"FAILED (exit {s['rc']})"
        srows.append([f"bench/stage_{s['name']}.sh", state, f"{s['secs']:.0f} s", len(mine), skipped, failed])
    out.append(md_table(["script", "result", "wall time", "rows", "skipped", "failed"], srows))
    if problems:
        out += ["", "Malformed rows (ignored):", ""] + [f"- {p}" for p in problems]
    out += ["", "## Every row", ""]
    for s in stages:
        mine = [r for r in rows if r["script"] == s["name"] and r["stage"] != "input"]
        if not mine:
            continue
        out += [f"### {s['name']}", ""]
        body = []
        for r in mine:
            n, lo, hi, rest = note_range(r["note"])
            val = r["value"] if r["v"] is None else fmt(r["v"])
            if lo is not None and hi is not None and n and n > 1:
                val += f" ({fmt(lo)}-{fmt(hi)})"
            size = human_bytes(sizes[r["input"]]) if r["input"] in sizes else ""
            body.append([r["stage"], f"{r['input']} {size}".strip(), r["metric"], val, r["unit"] if r["unit"] != "-" else "",
                         "" if r["baseline"] == "-" else f"{r['baseline']}: {fmt(r['b'])} ({ratio_text(r)})",
                         (f"n={n} " if n else "") + rest])
        out.append(md_table(["stage", "input", "metric", "median (min-max)", "unit", "baseline (ratio)", "note"], body))
        out.append("")
    with open(os.path.join(res, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def summary(rows, stages, grow, machine, res, checked):
    print()
    print(f"liveprof bench ({machine.get('mode', '?')}), {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
          f"load {machine.get('load_start', '?')} -> {machine.get('load_end', '?')}, {machine.get('total_s', '?')} s")
    print()
    body = [[r["stage"], r["input"], r["metric"], f"{fmt(r['v'])} {r['unit']}", r["baseline"],
             f"{fmt(r['b'])}", ratio_text(r)] for r in summary_rows(rows)]
    print(text_table(["stage", "input", "metric", "value", "baseline", "base", "ratio"], body))
    print("(of the gen-mixed size series only the largest size; report.md has every one)")
    if grow:
        print()
        print(text_table(["growth", "shape", "time exponent", "RSS growth", "verdict"],
                         [[g["stage"], g["shape"], fmt(g["slope"]),
                           f"{fmt(g['rss_ratio'])}x" if g["rss_ratio"] else "-", g["verdict"]] for g in grow]))
    print()
    print(text_table(["stage script", "exit", "seconds", "rows"],
                     [[s["name"], s["rc"], f"{s['secs']:.0f}", sum(1 for r in rows if r["script"] == s["name"])]
                      for s in stages]))
    bad = [r for r in rows if r["metric"] == "status" and r["value"] == "FAILED"]
    for r in bad:
        print(f"FAILED: {r['stage']} on {r['input']}: {r['note']}")
    for s in stages:
        if s["rc"] != 0:
            why = "stopped at the time limit" if s["rc"] == 124 else f"exited {s['rc']}"
            print(f"FAILED: bench/stage_{s['name']}.sh {why}; its stderr is in "
                  f"{os.path.join(res, 'logs', s['name'] + '.log')}")
    if checked is not None:
        print()
        print(text_table(["check", "input", "metric", "baseline", "then", "now", ""], checked))
    print()
    print(f"report: {os.path.join(res, 'report.md')}")


def main(argv):
    args = argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    res, check_path, write_path = args[0], None, None
    i = 1
    while i < len(args):
        if args[i] in ("--check", "--write-baseline") and i + 1 < len(args):
            if args[i] == "--check":
                check_path = args[i + 1]
            else:
                write_path = args[i + 1]
            i += 2
        else:
            print(__doc__, file=sys.stderr)
            return 2
    rows, problems = read_rows(res)
    stages = read_stages(res)
    machine = read_kv(os.path.join(res, "machine.txt"))
    sizes = input_sizes(rows)
    series = series_of(rows, sizes)
    grow = growth(series)
    checked, check_failed, recheck = (None, False, set())
    retried = os.path.isdir(os.path.join(res, "retry"))
    if check_path:
        retry_rows = read_rows(res, "retry")[0] if retried else []
        checked, check_failed, recheck = check(rows, check_path, retry_rows)
    made = charts(res, rows, sizes, series, grow)
    report(res, rows, problems, stages, machine, grow, made, checked)
    summary(rows, stages, grow, machine, res, checked)
    if write_path:
        n = write_baseline(rows, write_path)
        print(f"baseline: {n} headline ratios written to {write_path}")
    stage_failed = any(s["rc"] != 0 for s in stages)
    if check_failed and not stage_failed and not retried and recheck:
        with open(os.path.join(res, "recheck.txt"), "w", encoding="utf-8") as f:
            f.write("".join(f"{name}\n" for name in sorted(recheck)))
        print("bench-check: a headline ratio fell more than 20% below the baseline; measuring "
              f"its stages once more: {' '.join(sorted(recheck))}", file=sys.stderr)
        return 3
    if check_failed:
        print("bench-check: a headline ratio fell more than 20% below the baseline", file=sys.stderr)
    return 1 if stage_failed or check_failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
