/* Differential tests of the timed outputs: for every shared variant folder with a cells.tsv, run
 * `liveprof analyze` with the options of its cmd.txt and compare the cells we draw with the ones
 * ghc-events-analyze drew (spec §8), and our timed.txt, garbled the way the old tool's transpose
 * bug garbles it, with the old timed.txt. */
#include "test.h"

#include "svgcells.h"

#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The variants covered below, as "<log>/<variant>". */
static const char *const covered[] = {
    "concurrent/default",
    "concurrent/b100",
    "fib-labels/default",
    "fib-labels/b100",
    "fib-labels/window-main-fib",
    "fib-labels-user-only/default",
    "fib-labels-user-only/b100",
    "fib-labels-user-only/window-round-w1",
    "heap/default",
    "heap/b100",
    "heap-nonmoving/default",
    "heap-nonmoving/b100",
    "leech-attach-file/default",
    "leech-attach-file/b100",
    "leech-main/default",
    "leech-main/b100",
    "leech-main/window-job1",
    "scale-1m/default",
    "scale-1m/b100",
    "scale-20m/b100",
    "small/default",
    "small/b100",
    "small/window-round",
    "sparks/default",
    "sparks/b100",
};

/* The old tool's options from a variant's cmd.txt (program and log name left out), each
 * single-quoted for the shell, into opts. Returns false when cmd.txt cannot be read. */
static bool variant_opts(const char *log, const char *variant, char *opts, size_t cap)
{
    char rel[512];
    snprintf(rel, sizeof rel, "expected/%s/%s/cmd.txt", log, variant);
    size_t n;
    char *cmd = (char *)tu_read_file(tu_data(rel), &n);
    if (!cmd) return false;
    opts[0] = 0;
    bool first = true;
    for (char *save = NULL, *t = strtok_r(cmd, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
        size_t l = strlen(t);
        if (first || (l > 9 && !strcmp(t + l - 9, ".eventlog"))) {
            first = false;
            continue;
        }
        size_t used = strlen(opts);
        snprintf(opts + used, cap - used, " '%s'", t);
    }
    free(cmd);
    return true;
}

/* The shared log, decompressed into the temp dir when only LOG.eventlog.xz is stored. */
static const char *log_path(const char *log, char *buf, size_t cap)
{
    char rel[256];
    snprintf(rel, sizeof rel, "eventlogs/%s.eventlog", log);
    if (access(tu_data(rel), R_OK) == 0) {
        snprintf(buf, cap, "%s", tu_data(rel));
        return buf;
    }
    char cmd[2048];
    snprintf(buf, cap, "%s/%s.eventlog", tu_tmpdir(), log);
    snprintf(cmd, sizeof cmd, "xz -dc '%s.xz' > '%s'", tu_data(rel), buf);
    return system(cmd) == 0 ? buf : NULL;
}

/* Labelled rows of one of the old tool's SVGs: its row headers are its only <text> elements
 * (timeline labels and section titles are drawn as outlines). */
static long old_rows(const char *svg_rel)
{
    size_t n;
    char *svg = (char *)tu_read_file(tu_data(svg_rel), &n);
    if (!svg) return -1;
    long rows = 0; /* memmem, not strstr: under ASan each strstr reads the rest of the text */
    const char *end = svg + n;
    for (const char *p = memmem(svg, n, "<text", 5); p;
         p = memmem(p + 5, (size_t)(end - p - 5), "<text", 5))
        rows++;
    free(svg);
    return rows;
}

/* Compares our <base>.timed.svg with the expected <base>.timed.cells.tsv of the variant. */
static void compare_svg(const char *log, const char *variant, const char *base)
{
    char path[1024], rel[512];
    snprintf(path, sizeof path, "%s/%s.timed.svg", tu_tmpdir(), base);
    size_t n;
    char *svg = (char *)tu_read_file(path, &n);
    CHECKF(svg != NULL, "missing output %s.timed.svg", base);
    snprintf(rel, sizeof rel, "expected/%s/%s/%s.timed.cells.tsv", log, variant, base);
    char *tsv = (char *)tu_read_file(tu_data(rel), &n);
    CHECKF(tsv != NULL, "missing %s", rel);
    if (svg && tsv) {
        svgcells_t got;
        char err[300], msg[4000];
        if (svgcells_parse(svg, &got, err, sizeof err) != 0) {
            CHECKF(false, "%s.timed.svg: %s", base, err);
        } else {
            size_t d = svgcells_compare_tsv(&got, tsv, msg, sizeof msg);
            CHECKF(d == 0, "%s: %zu cells differ, first ones:\n%s", base, d, msg);
            snprintf(rel, sizeof rel, "expected/%s/%s/%s.timed.svg", log, variant, base);
            long rows = old_rows(rel);
            CHECKF(rows == (long)got.nrows, "%s: %zu labelled rows, the old tool drew %ld", base,
                   got.nrows, rows);
        }
        svgcells_free(&got);
    }
    free(svg);
    free(tsv);
}

/* Splits text into lines (in place); returns the count, *lines pointing into text. */
static size_t split_lines(char *text, size_t len, char ***lines)
{
    size_t n = 0, cap = 1024;
    *lines = malloc(cap * sizeof **lines);
    REQUIRE(*lines);
    for (char *p = text; p < text + len;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        if (nl) *nl = 0;
        if (n == cap) {
            *lines = realloc(*lines, (cap *= 2) * sizeof **lines);
            REQUIRE(*lines);
        }
        (*lines)[n++] = p;
        p = nl ? nl + 1 : text + len;
    }
    return n;
}

/* True for a cell of the timed table: digits, '.', two digits. */
static bool is_number(const char *t, size_t n)
{
    return n >= 4 && t[n - 3] == '.' && strspn(t, "0123456789") == n - 3 &&
           strspn(t + n - 2, "0123456789") == 2;
}

/* Number cells at the end of a table line; *widest gets the longest one's length. */
static size_t line_cells(const char *line, size_t *widest)
{
    size_t cells = 0, end = strlen(line);
    for (;;) {
        size_t start = end;
        while (start > 0 && line[start - 1] != ' ')
            start--;
        if (start == end || !is_number(line + start, end - start)) return cells;
        if (end - start > *widest) *widest = end - start;
        cells++;
        while (start > 0 && line[start - 1] == ' ')
            start--;
        end = start;
    }
}

/* Appends n bytes to a growing buffer. */
static void append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap)
            *cap = *cap ? *cap * 2 : 4096;
        *buf = realloc(*buf, *cap);
        REQUIRE(*buf);
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = 0;
}

/* Our timed table (lines[], cells per line or SIZE_MAX for section lines, header column hw,
 * number width nw) as the old tool would print it: renderTable transposes the ragged table rows
 * (sections set aside), pads each column of the transpose to its widest cell (headers left,
 * numbers right) and transposes back, so output row i holds, for each column j, the i-th of the
 * rows that have a column j. Returns the lines joined by '\n' (caller frees). */
static char *garble(char **lines, const size_t *cells, size_t n, size_t hw, size_t nw)
{
    size_t maxc = 0;
    for (size_t i = 0; i < n; i++)
        if (cells[i] != (size_t)-1 && cells[i] > maxc) maxc = cells[i];
    /* rows[c] = the table rows (line numbers) with at least c cells, in order; width[c] */
    size_t **rows = calloc(maxc + 1, sizeof *rows), *count = calloc(maxc + 1, sizeof *count);
    size_t *width = calloc(maxc + 1, sizeof *width);
    REQUIRE(rows && count && width);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; cells[i] != (size_t)-1 && c <= cells[i]; c++)
            count[c]++;
    for (size_t c = 0; c <= maxc; c++) {
        rows[c] = malloc((count[c] + 1) * sizeof **rows);
        REQUIRE(rows[c]);
        count[c] = 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (cells[i] == (size_t)-1) continue;
        size_t h = hw;
        while (h > 0 && lines[i][h - 1] == ' ')
            h--;
        if (h > width[0]) width[0] = h;
        for (size_t c = 0; c <= cells[i]; c++) {
            rows[c][count[c]++] = i;
            if (c == 0) continue;
            const char *t = lines[i] + hw + 1 + (c - 1) * (nw + 1);
            size_t k = nw - strspn(t, " ");
            if (k > width[c]) width[c] = k;
        }
    }
    char *out = NULL;
    size_t len = 0, cap = 0, row = 0;
    for (size_t i = 0; i < n; i++) {
        if (cells[i] == (size_t)-1) {
            append(&out, &len, &cap, lines[i], strlen(lines[i]));
        } else {
            for (size_t c = 0; c <= maxc && count[c] > row; c++) {
                const char *src = lines[rows[c][row]];
                const char *t = c == 0 ? src : src + hw + 1 + (c - 1) * (nw + 1);
                size_t k = c == 0 ? hw : nw;
                while (c == 0 && k > 0 && t[k - 1] == ' ')
                    k--;
                size_t skip = c == 0 ? 0 : strspn(t, " ");
                if (c) append(&out, &len, &cap, " ", 1);
                for (size_t p = k - skip; c && p < width[c]; p++)
                    append(&out, &len, &cap, " ", 1);
                append(&out, &len, &cap, t + skip, k - skip);
                for (size_t p = k; !c && p < width[0]; p++)
                    append(&out, &len, &cap, " ", 1);
            }
            row++;
        }
        append(&out, &len, &cap, "\n", 1);
    }
    for (size_t c = 0; c <= maxc; c++)
        free(rows[c]);
    free(rows);
    free(count);
    free(width);
    return out;
}

/* Compares our <base>.timed.txt, garbled the old tool's way, with the old tool's file: same
 * values, same layout, line for line. */
static void compare_timed_txt(const char *log, const char *variant, const char *base)
{
    char path[1024], rel[512];
    snprintf(path, sizeof path, "%s/%s.timed.txt", tu_tmpdir(), base);
    snprintf(rel, sizeof rel, "expected/%s/%s/%s.timed.txt", log, variant, base);
    size_t on, en;
    char *ours = (char *)tu_read_file(path, &on), *old = (char *)tu_read_file(tu_data(rel), &en);
    CHECKF(ours != NULL, "missing output %s.timed.txt", base);
    CHECKF(old != NULL, "missing %s", rel);
    if (ours && old) {
        char **ol, **el;
        size_t no = split_lines(ours, on, &ol);
        size_t nw = 0, hw = (size_t)-1, *cells = calloc(no + 1, sizeof *cells);
        REQUIRE(cells);
        for (size_t i = 0; i < no; i++) {
            bool table = ol[i][0] && (i == 0 || ol[i - 1][0]);
            cells[i] = table ? line_cells(ol[i], &nw) : (size_t)-1;
        }
        for (size_t i = 0; i < no; i++) {
            if (cells[i] == (size_t)-1) continue;
            size_t h = strlen(ol[i]) - cells[i] * (nw + 1);
            CHECKF(hw == (size_t)-1 || h == hw, "%s.timed.txt line %zu: header column %zu, not %zu",
                   base, i + 1, h, hw);
            hw = h;
        }
        char *want = garble(ol, cells, no, hw == (size_t)-1 ? 0 : hw, nw);
        size_t ne = split_lines(want, strlen(want), &el);
        char **xl;
        size_t nx = split_lines(old, en, &xl);
        CHECKF(nx == ne, "%s.timed.txt: %zu lines, the old tool wrote %zu", base, ne, nx);
        size_t bad = 0;
        for (size_t i = 0; i < ne && i < nx; i++) {
            if (!strcmp(el[i], xl[i]) || ++bad > 3) continue;
            size_t at = 0;
            while (el[i][at] && el[i][at] == xl[i][at])
                at++;
            size_t from = at > 40 ? at - 40 : 0;
            CHECKF(false, "%s.timed.txt line %zu, column %zu:\n  ours: ...%.80s\n  old:  ...%.80s",
                   base, i + 1, at + 1, el[i] + from, xl[i] + from);
        }
        free(cells);
        free(want);
        free(ol);
        free(el);
        free(xl);
    }
    free(ours);
    free(old);
}

/* True when the expected cells of output `base` exist (plain or .xz). */
static bool has_cells(const char *log, const char *variant, const char *base)
{
    char rel[512], path[1024];
    snprintf(rel, sizeof rel, "expected/%s/%s/%s.timed.cells.tsv", log, variant, base);
    snprintf(path, sizeof path, "%s.xz", tu_data(rel));
    return access(tu_data(rel), R_OK) == 0 || access(path, R_OK) == 0;
}

static void cells_case(const char *log, const char *variant)
{
    char opts[1024], in[1024], cmd[4096];
    REQUIRE(variant_opts(log, variant, opts, sizeof opts));
    REQUIRE(log_path(log, in, sizeof in));
    snprintf(cmd, sizeof cmd, "%s analyze '%s'%s -o '%s' > '%s/stdout.txt' 2> '%s/stderr.txt'",
             tu_liveprof(), in, opts, tu_tmpdir(), tu_tmpdir(), tu_tmpdir());
    int st = system(cmd);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed (%d)", cmd, st);
    if (!strstr(opts, "'--window'")) {
        compare_svg(log, variant, log);
        compare_timed_txt(log, variant, log);
        return;
    }
    char base[256], path[1024];
    int i = 0;
    for (;; i++) {
        snprintf(base, sizeof base, "%s.%d", log, i);
        if (!has_cells(log, variant, base)) break;
        compare_svg(log, variant, base);
        compare_timed_txt(log, variant, base);
    }
    CHECKF(i > 0, "no expected windows for %s/%s", log, variant);
    snprintf(path, sizeof path, "%s/%s.%d.timed.svg", tu_tmpdir(), log, i);
    CHECKF(access(path, F_OK) != 0, "we wrote more windows than the old tool (%d)", i);
}

TEST(analyze_cells_conclog_default)
{
    cells_case("concurrent", "default");
}

TEST(analyze_cells_conclog_b100)
{
    cells_case("concurrent", "b100");
}

TEST(analyze_cells_fib_labels_default)
{
    cells_case("fib-labels", "default");
}

TEST(analyze_cells_fib_labels_b100)
{
    cells_case("fib-labels", "b100");
}

TEST(analyze_cells_fib_labels_window_main_fib)
{
    cells_case("fib-labels", "window-main-fib");
}

TEST(analyze_cells_fib_labels_user_only_default)
{
    cells_case("fib-labels-user-only", "default");
}

TEST(analyze_cells_fib_labels_user_only_b100)
{
    cells_case("fib-labels-user-only", "b100");
}

TEST(analyze_cells_fib_labels_user_only_window_round_w1)
{
    cells_case("fib-labels-user-only", "window-round-w1");
}

TEST(analyze_cells_heap_default)
{
    cells_case("heap", "default");
}

TEST(analyze_cells_heap_b100)
{
    cells_case("heap", "b100");
}

TEST(analyze_cells_heap_nonmoving_default)
{
    cells_case("heap-nonmoving", "default");
}

TEST(analyze_cells_heap_nonmoving_b100)
{
    cells_case("heap-nonmoving", "b100");
}

TEST(analyze_cells_leech_attach_file_default)
{
    cells_case("leech-attach-file", "default");
}

TEST(analyze_cells_leech_attach_file_b100)
{
    cells_case("leech-attach-file", "b100");
}

TEST(analyze_cells_leech_main_default)
{
    cells_case("leech-main", "default");
}

TEST(analyze_cells_leech_main_b100)
{
    cells_case("leech-main", "b100");
}

TEST(analyze_cells_leech_main_window_job1)
{
    cells_case("leech-main", "window-job1");
}

TEST(analyze_cells_scale_1m_default)
{
    cells_case("scale-1m", "default");
}

TEST(analyze_cells_scale_1m_b100)
{
    cells_case("scale-1m", "b100");
}

TEST(analyze_cells_small_default)
{
    cells_case("small", "default");
}

TEST(analyze_cells_small_b100)
{
    cells_case("small", "b100");
}

TEST(analyze_cells_small_window_round)
{
    cells_case("small", "window-round");
}

TEST(analyze_cells_sparks_default)
{
    cells_case("sparks", "default");
}

TEST(analyze_cells_sparks_b100)
{
    cells_case("sparks", "b100");
}

TEST(analyze_cells_scale_20m_b100)
{
    if (test_skip_slow()) return;
    cells_case("scale-20m", "b100");
}

/* The custom-script run writes timed.txt only (-b 20, two sections, a renamed GC row, sums). */
TEST(analyze_timed_txt_small_script_custom)
{
    char opts[1024], cmd[4096];
    const char *script = tu_data("expected/small/script-custom/custom.script");
    snprintf(opts, sizeof opts, "--timed-txt --script-timed '%s' -b 20", script);
    snprintf(cmd, sizeof cmd, "%s analyze '%s' %s -o '%s' > /dev/null", tu_liveprof(),
             tu_data("eventlogs/small.eventlog"), opts, tu_tmpdir());
    int st = system(cmd);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed (%d)", cmd, st);
    compare_timed_txt("small", "script-custom", "small");
}

/* Every variant folder with a cells.tsv is one of the cases above. */
TEST(analyze_cells_every_variant_covered)
{
    glob_t g;
    char pat[512];
    snprintf(pat, sizeof pat, "%s", tu_data("expected/*/*/*.timed.cells.tsv*"));
    REQUIRE(glob(pat, 0, NULL, &g) == 0);
    size_t prefix = strlen(tu_data("expected/"));
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *rel = g.gl_pathv[i] + prefix;
        const char *slash = strchr(rel, '/');
        slash = slash ? strchr(slash + 1, '/') : NULL;
        REQUIRE(slash);
        bool found = false;
        for (size_t c = 0; c < sizeof covered / sizeof covered[0] && !found; c++)
            found = strlen(covered[c]) == (size_t)(slash - rel) &&
                    !strncmp(covered[c], rel, (size_t)(slash - rel));
        CHECKF(found, "%s has no analyze_cells test", rel);
    }
    CHECK(g.gl_pathc >= sizeof covered / sizeof covered[0]);
    globfree(&g);
}
