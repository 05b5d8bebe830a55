/* bench-gen's command line (included by bench/gen.c alone, after its gen_t): the numeric
 * options with their units, bounds and defaults, the shapes, and the usage text. */
#ifndef LP_BENCH_GEN_ARGS_H
#define LP_BENCH_GEN_ARGS_H

/* Parses a count with an optional K/M/G suffix (powers of `unit`). */
static bool parse_num(const char *s, uint64_t unit, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10), m = 1;
    const char *sfx = end != s && *end ? strchr("kmg", *end | 0x20) : NULL;
    for (const char *u = "kmg"; sfx && u <= sfx; u++)
        m *= unit;
    if (errno || end == s || *s == '-' || end[sfx != NULL] || (n && m > UINT64_MAX / n))
        return false;
    *v = n * m;
    return true;
}

static const char usage_text[] =
    "usage: bench-gen [--size BYTES|--events N] [--seed S] [--caps N] [--threads N] [--labels N]\n"
    "                 [--shape mixed|many-threads|many-labels] [--block BYTES] -o FILE\n"
    "       bench-gen --gea [--workers N] [--iters N] [--fibn N] [--rounds N] [--size BYTES] ...\n"
    "A deterministic GHC 9.0.2-style eventlog to FILE ('-' = stdout). BYTES take K/M/G (1024-\n"
    "based), N k/M/G (1000-based); default --size 100M --caps 4. --threads/--labels bound the\n"
    "distinct thread ids and START/STOP labels; --block sizes the capabilities' blocks (2M,\n"
    "as GHC's buffers; smaller ones look like a program that flushes often). --gea mimics Gen.hs: "
    "rounds of workers with\n"
    "subscripted jobs and parse/compute/render/io-wait phases, to --rounds or the size.\n";

enum {
    O_SIZE,
    O_EVENTS,
    O_SEED,
    O_CAPS,
    O_THR,
    O_LAB,
    O_WORKERS,
    O_ITERS,
    O_FIBN,
    O_ROUNDS,
    O_BLOCK
};
static const struct {
    const char *name;
    uint64_t unit, min, max, def;
} numopts[] = {
    {"--size", 1024, 1, UINT64_MAX, 0},
    {"--events", 1000, 1, UINT64_MAX, 0},
    {"--seed", 1000, 0, UINT64_MAX, 1},
    {"--caps", 1000, 1, 256, 4},
    {"--threads", 1000, 1, 1u << 31, 0},
    {"--labels", 1000, 1, 1000000, 0},
    {"--workers", 1000, 1, 100000, 6},
    {"--iters", 1000, 1, 1u << 31, 600},
    {"--fibn", 1000, 0, 100000, 300},
    {"--rounds", 1000, 1, 1u << 31, 0},
    {"--block", 1024, 4096, 1u << 30, BLOCK_BYTES},
};
#define NUMOPTS (sizeof numopts / sizeof numopts[0])

static int parse_args(gen_t *g, int argc, char **argv, const char **path)
{
    uint64_t v[NUMOPTS];
    for (size_t k = 0; k < NUMOPTS; k++)
        v[k] = numopts[k].def;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = val != NULL, known = false;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (!strcmp(a, "--gea")) {
            g->shape = GEA;
            continue;
        }
        for (size_t k = 0; k < NUMOPTS; k++) {
            if (strcmp(a, numopts[k].name)) continue;
            known = true;
            ok = ok && parse_num(val, numopts[k].unit, &v[k]) && v[k] >= numopts[k].min &&
                 v[k] <= numopts[k].max;
        }
        if (!known && !strcmp(a, "-o")) {
            *path = val;
        } else if (!known && !strcmp(a, "--shape") && val) {
            static const char *const shapes[] = {"mixed", "many-threads", "many-labels"};
            ok = false;
            for (int k = 0; k < 3; k++)
                if (!strcmp(val, shapes[k])) {
                    ok = true;
                    if (g->shape != GEA) g->shape = k;
                }
        } else if (!known) {
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "bench-gen: bad argument %s %s\n%s", a, val ? val : "", usage_text);
            return 2;
        }
        i++;
    }
    if (!*path) {
        fprintf(stderr, "bench-gen: -o FILE is required\n%s", usage_text);
        return 2;
    }
    g->target_bytes = v[O_SIZE];
    g->target_events = v[O_EVENTS];
    if (!g->target_bytes && !g->target_events) g->target_bytes = (uint64_t)100 << 20;
    g->target = g->target_events ? g->target_events : g->target_bytes;
    g->seed = v[O_SEED];
    g->ncaps = (uint32_t)v[O_CAPS];
    g->workers = (uint32_t)v[O_WORKERS];
    g->iters = (uint32_t)v[O_ITERS];
    g->fibn = (uint32_t)v[O_FIBN];
    g->rounds = (uint32_t)v[O_ROUNDS];
    g->block_bytes = (size_t)v[O_BLOCK];
    if (g->shape == GEA) {
        g->nlabels = 4;
        g->nslots = g->workers + 1;
        return 0;
    }
    static const uint32_t def_threads[] = {1000, 200000, 64}, def_labels[] = {100, 16, 100000};
    g->max_threads = v[O_THR] ? (uint32_t)v[O_THR] : def_threads[g->shape];
    g->nlabels = v[O_LAB] ? (uint32_t)v[O_LAB] : def_labels[g->shape];
    uint32_t live = g->shape == MANY_THREADS ? 8 * g->ncaps
                    : g->shape == MIXED      ? 6 * g->ncaps + 8
                                             : 16;
    g->nslots = g->max_threads < live ? g->max_threads : live;
    g->heap_prof = true;
    return 0;
}

#endif
