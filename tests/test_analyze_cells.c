/* Differential tests of the timed SVG: for every shared variant folder with a cells.tsv, run
 * `liveprof analyze` with the options of its cmd.txt and compare the cells we draw with the ones
 * ghc-events-analyze drew (spec §8), plus the number of labelled rows. */
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
    long rows = 0;
    for (const char *p = strstr(svg, "<text"); p; p = strstr(p + 5, "<text"))
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
        return;
    }
    char base[256], path[1024];
    int i = 0;
    for (;; i++) {
        snprintf(base, sizeof base, "%s.%d", log, i);
        if (!has_cells(log, variant, base)) break;
        compare_svg(log, variant, base);
    }
    CHECKF(i > 0, "no expected windows for %s/%s", log, variant);
    snprintf(path, sizeof path, "%s/%s.%d.timed.svg", tu_tmpdir(), log, i);
    CHECKF(access(path, F_OK) != 0, "we wrote more windows than the old tool (%d)", i);
}

TEST(analyze_cells_concurrent_default)
{
    cells_case("concurrent", "default");
}

TEST(analyze_cells_concurrent_b100)
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
