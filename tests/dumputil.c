/* Helpers of the `liveprof dump` tests: running the binary, comparing outputs, and taking the
 * reference dump.txt files apart. */
#include "dumputil.h"

#include "test.h"

#include <stdlib.h>
#include <string.h>

/* Runs `PIPE liveprof dump ARGS` (shell fragments; PIPE may be "" or "cmd | "), capturing
 * stdout, stderr and the exit code. */
void du_run_pipe(du_run_t *r, const char *pipe, const char *args)
{
    char cmd[4096], errpath[512];
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "%s%s dump %s 2>'%s'", pipe, tu_liveprof(), args, errpath);
    r->rc = tu_run(cmd, &r->out, &r->out_len);
    r->err = (char *)tu_read_file(errpath, &r->err_len);
    REQUIRE(r->out && r->err);
}

void du_run(du_run_t *r, const char *args)
{
    du_run_pipe(r, "", args);
}

void du_run_free(du_run_t *r)
{
    free(r->out);
    free(r->err);
}

/* Fails with the first differing line when got != want. */
void du_same(const char *what, const void *got, size_t gl, const void *want, size_t wl)
{
    if (gl == wl && memcmp(got, want, gl) == 0) return;
    const char *g = got, *w = want;
    size_t i = 0, line = 1, start = 0;
    while (i < gl && i < wl && g[i] == w[i]) {
        if (g[i] == '\n') line++, start = i + 1;
        i++;
    }
    const char *ge = memchr(g + start, '\n', gl - start), *we = memchr(w + start, '\n', wl - start);
    int gn = (int)((ge ? ge : g + gl) - (g + start)), wn = (int)((we ? we : w + wl) - (w + start));
    test_fail(__FILE__, __LINE__,
              "%s: differs at line %zu (got %zu bytes, want %zu)\n  got:  %.*s\n  want: %.*s", what,
              line, gl, wl, gn > 300 ? 300 : gn, g + start, wn > 300 ? 300 : wn, w + start);
}

void du_write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    REQUIRE(fwrite(p, 1, n, f) == n);
    REQUIRE(fclose(f) == 0);
}

const char *du_tmp_path(const char *name)
{
    static char slots[4][512];
    static int next;
    char *s = slots[next++ % 4];
    snprintf(s, 512, "%s/%s", tu_tmpdir(), name);
    return s;
}

void du_text_load(du_text_t *d, const char *log)
{
    char rel[256];
    snprintf(rel, sizeof rel, "expected/%s/dump.txt", log);
    d->buf = tu_read_file(tu_data(rel), &d->len);
    REQUIRE(d->buf);
    d->ev_start = malloc(sizeof(size_t) * (d->len / 4 + 1));
    REQUIRE(d->ev_start);
    d->nev = 0;
    size_t i = 0;
    while (i < d->len && !strncmp((char *)d->buf + i, "type ", 5))
        i = (size_t)((uint8_t *)memchr(d->buf + i, '\n', d->len - i) - d->buf) + 1;
    d->types_end = i;
    while (i < d->len && strncmp((char *)d->buf + i, "count ", 6) &&
           strncmp((char *)d->buf + i, "total ", 6)) {
        d->ev_start[d->nev++] = i;
        i = (size_t)((uint8_t *)memchr(d->buf + i, '\n', d->len - i) - d->buf) + 1;
    }
    d->events_end = i;
}

void du_text_free(du_text_t *d)
{
    free(d->buf);
    free(d->ev_start);
}

/* Offset where event line k starts (k == nev: the end of the event lines). */
static size_t ev_line(const du_text_t *d, size_t k)
{
    return k < d->nev ? d->ev_start[k] : d->events_end;
}

/* Adds the constructors of event lines [a, b) of d. */
void du_summary_add(du_summary_t *s, const du_text_t *d, size_t a, size_t b)
{
    for (size_t k = a; k < b; k++) {
        const char *l = (const char *)d->buf + d->ev_start[k];
        l = strchr(strchr(l, ' ') + 1, ' ') + 1;
        size_t n = strcspn(l, " \n");
        int i = 0;
        while (i < s->count && (strlen(s->name[i]) != n || strncmp(s->name[i], l, n)))
            i++;
        if (i == s->count) {
            REQUIRE(s->count < 64 && n < 48);
            memcpy(s->name[i], l, n);
            s->name[i][n] = 0;
            s->n[s->count++] = 0;
        }
        s->n[i]++;
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Appends the `count` and `total` lines of s to buf (room assumed). */
size_t du_summary_put(du_summary_t *s, char *buf)
{
    char rows[64][80];
    unsigned long long total = 0;
    for (int i = 0; i < s->count; i++) {
        snprintf(rows[i], sizeof rows[i], "%s %llu", s->name[i], s->n[i]);
        total += s->n[i];
    }
    qsort(rows, (size_t)s->count, sizeof rows[0], by_name);
    size_t len = 0;
    for (int i = 0; i < s->count; i++)
        len += (size_t)sprintf(buf + len, "count %s\n", rows[i]);
    return len + (size_t)sprintf(buf + len, "total %llu\n", total);
}

/* The dump of the first k events of d: type lines, k event lines, their counts. */
char *du_expect_prefix(const du_text_t *d, size_t k, size_t *len)
{
    du_summary_t s = {.count = 0};
    du_summary_add(&s, d, 0, k);
    size_t body = ev_line(d, k);
    char *buf = malloc(body + 64 * 80 + 64);
    REQUIRE(buf);
    memcpy(buf, d->buf, body);
    *len = body + du_summary_put(&s, buf + body);
    return buf;
}
