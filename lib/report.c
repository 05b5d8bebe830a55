/* Script evaluation into report rows (the old tool's createReport for both report kinds) and
 * the totals writer (its renderTable layout and Haskell number formatting). */
#include "report.h"

#include "err.h"
#include "hsfmt.h"
#include "outbuf.h"
#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

/* The old tool's user-row colours (Data.Colour.Names), cycled by fragment position. */
static const uint32_t palette[13] = {
    0x8A2BE2, /* blueviolet */
    0xA52A2A, /* brown */
    0x5F9EA0, /* cadetblue */
    0xFF7F50, /* coral */
    0x6495ED, /* cornflowerblue */
    0xDC143C, /* crimson */
    0x00FFFF, /* cyan */
    0x008B8B, /* darkcyan */
    0xB8860B, /* darkgoldenrod */
    0x006400, /* darkgreen */
    0xFF8C00, /* darkorange */
    0xDAA520, /* goldenrod */
    0x008000, /* green */
};
#define RGB_GC 0xFF0000
#define RGB_THREAD 0x0000FF

typedef struct ctx {
    report_t *r;
    const gea_window_t *w;
    bool timed;
    size_t rows_cap;
} ctx_t;

static report_row_t *add_row(ctx_t *c, report_kind_t kind)
{
    xgrow((void **)&c->r->rows, &c->rows_cap, c->r->nrows + 1, sizeof *c->r->rows);
    report_row_t *row = &c->r->rows[c->r->nrows++];
    memset(row, 0, sizeof *row);
    row->kind = kind;
    return row;
}

static uint32_t colour_of(gea_kind_t kind, size_t fragment)
{
    return kind == GEA_GC ? RGB_GC : kind == GEA_THREAD ? RGB_THREAD : palette[fragment % 13];
}

static char *thread_header(const gea_window_t *w, uint32_t tid)
{
    char small[256];
    size_t n = gea_thread_header(w, tid, small, sizeof small);
    if (n < sizeof small) return xstrndup(small, n);
    char *big = xmalloc(n + 1);
    gea_thread_header(w, tid, big, n + 1);
    return big;
}

static char *default_header(const gea_window_t *w, const gea_id_t *id)
{
    if (id->kind == GEA_GC) return xstrndup("GC", 2);
    if (id->kind == GEA_USER) return xstrndup(id->label, id->label_len);
    return thread_header(w, id->tid);
}

/* Thread lifetime in buckets, when the window knows the thread. */
static bool thread_bg(const gea_window_t *w, uint32_t tid, int64_t *from, int64_t *to)
{
    const gea_thread_t *th = gea_window_thread(w, tid);
    if (!th) return false;
    *from = gea_window_bucket(w, th->created);
    *to = gea_window_bucket(w, th->finished);
    return true;
}

/* Adds the buckets of id into row (growing row's range as needed). A row's first id lends it its
 * buckets (a bucket no interval touched holds 0 there too), so that a report of many rows does
 * not hold every row's values twice; a second id makes the row copy them. */
static void add_values(report_row_t *row, const gea_id_t *id)
{
    if (!id || !id->bn) return;
    if (!row->bn) {
        row->blo = id->blo;
        row->bn = id->bn;
        row->val = id->bval;
        row->set = id->bset;
        row->borrowed = true;
        return;
    }
    int64_t lo = row->blo < id->blo ? row->blo : id->blo;
    int64_t hi_row = row->blo + row->bn, hi_id = id->blo + id->bn;
    int64_t hi = hi_row > hi_id ? hi_row : hi_id;
    uint32_t n = (uint32_t)(hi - lo);
    if (row->borrowed || lo != row->blo || n != row->bn) {
        double *val = xcalloc(n, sizeof *val);
        uint8_t *set = xcalloc(n, 1);
        memcpy(val + (row->blo - lo), row->val, row->bn * sizeof *val);
        memcpy(set + (row->blo - lo), row->set, row->bn);
        if (!row->borrowed) {
            free(row->val);
            free(row->set);
        }
        row->val = val;
        row->set = set;
        row->borrowed = false;
        row->blo = lo;
        row->bn = n;
    }
    for (uint32_t i = 0; i < id->bn; i++) {
        if (!id->bset[i]) continue;
        size_t k = (size_t)(id->blo + i - row->blo);
        row->val[k] += id->bval[i];
        row->set[k] = 1;
    }
}

static void id_row(ctx_t *c, const gea_id_t *id, gea_kind_t kind, uint32_t tid, const char *title,
                   size_t title_len, size_t fragment)
{
    report_row_t *row = add_row(c, kind == GEA_GC     ? REPORT_GC
                                   : kind == GEA_USER ? REPORT_USER
                                                      : REPORT_THREAD);
    row->rgb = colour_of(kind, fragment);
    row->title = title ? xstrndup(title, title_len)
                 : id  ? default_header(c->w, id)
                       : thread_header(c->w, tid);
    row->total = id ? id->total : 0;
    row->sub = id ? id->sub : 0;
    row->tid = id ? id->tid : tid;
    if (c->timed) {
        add_values(row, id);
        if (kind == GEA_THREAD) row->has_bg = thread_bg(c->w, row->tid, &row->bg_from, &row->bg_to);
    }
}

/* Whether f matches id; `labels_read`: f reads a thread's labels (script_filter_reads_labels). */
static bool matches(const script_filter_t *f, bool labels_read, const gea_window_t *w,
                    const gea_id_t *id)
{
    if (id->kind == GEA_GC) return script_filter_match_gc(f);
    if (id->kind == GEA_USER) return script_filter_match_user(f, id->label, id->label_len, id->sub);
    if (!labels_read) return script_filter_match_thread(f, id->tid, NULL, 0);
    const char *stack[16], **labels = stack;
    size_t n = 0, cap = 16;
    char num[21];
    const gea_thread_t *th = gea_window_thread(w, id->tid);
    const gea_label_t *l = th ? th->labels : NULL;
    if (!l) {
        num[outbuf_fmt_u64(num, id->tid)] = '\0';
        stack[n++] = num;
    }
    for (; l; l = l->next) {
        if (n == cap) {
            const char **big = xmalloc(cap * 2 * sizeof *big);
            memcpy(big, labels, n * sizeof *big);
            if (labels != stack) free(labels);
            labels = big;
            cap *= 2;
        }
        labels[n++] = l->text;
    }
    bool m = script_filter_match_thread(f, id->tid, labels, n);
    if (labels != stack) free(labels);
    return m;
}

/* An id to sort, with the first part of its order as one number: most comparisons of a sort
 * over many thousand threads then read no id (the ids lie far apart in memory). */
typedef struct sort_item {
    uint64_t key;
    const gea_id_t *id;
} sort_item_t;

/* The key: the total (largest first), the first start, or by name the kind and, for a thread,
 * its id. Ids with equal keys are equal in the sort's own criterion: the name order decides. */
static uint64_t sort_key(const gea_id_t *id, script_sort_t sort)
{
    if (sort == SCRIPT_SORT_TOTAL) return UINT64_MAX - id->total;
    if (sort == SCRIPT_SORT_START) return id->first_start;
    return (uint64_t)id->kind << 32 | (id->kind == GEA_THREAD ? id->tid : 0);
}

static int sort_cmp(const void *a, const void *b)
{
    const sort_item_t *p = a, *q = b;
    if (p->key != q->key) return p->key < q->key ? -1 : 1;
    return gea_id_cmp(p->id, q->id);
}

/* The ids with at least one interval that f matches, sorted when `sorted`. Returns a malloc'd
 * array. */
static const gea_id_t **select_ids(const gea_window_t *w, const script_filter_t *f,
                                   script_sort_t sort, bool sorted, size_t *n)
{
    const gea_id_t **v = xmalloc((w->nids ? w->nids : 1) * sizeof *v);
    *n = 0;
    bool labels_read = script_filter_reads_labels(f);
    for (size_t i = 0; i < w->nids; i++)
        if (w->ids[i].intervals && matches(f, labels_read, w, &w->ids[i])) v[(*n)++] = &w->ids[i];
    if (!sorted || *n < 2) return v;
    sort_item_t *items = xmalloc(*n * sizeof *items);
    for (size_t i = 0; i < *n; i++)
        items[i] = (sort_item_t){sort_key(v[i], sort), v[i]};
    qsort(items, *n, sizeof *items, sort_cmp);
    for (size_t i = 0; i < *n; i++)
        v[i] = items[i].id;
    free(items);
    return v;
}

static const gea_id_t *lookup(const gea_window_t *w, const script_id_t *sid)
{
    for (size_t i = 0; i < w->nids; i++) {
        const gea_id_t *id = &w->ids[i];
        if (sid->kind == SCRIPT_ID_GC && id->kind == GEA_GC) return id;
        if (sid->kind == SCRIPT_ID_THREAD && id->kind == GEA_THREAD && id->tid == sid->tid)
            return id;
        if (sid->kind == SCRIPT_ID_USER && id->kind == GEA_USER && id->sub == sid->subscript &&
            id->label_len == sid->label_len && !memcmp(id->label, sid->label, sid->label_len))
            return id;
    }
    return NULL;
}

static void sum_row(ctx_t *c, const script_cmd_t *cmd, size_t fragment)
{
    size_t n;
    /* the totals sum in any order; the timed values are floating point, summed by name */
    const gea_id_t **v = select_ids(c->w, cmd->filter, SCRIPT_SORT_NAME, c->timed, &n);
    report_row_t *row = add_row(c, REPORT_SUM);
    row->title = cmd->title ? xstrndup(cmd->title, cmd->title_len) : xstrndup("TOTAL", 5);
    gea_kind_t first = n ? v[0]->kind : GEA_USER; /* the first by name: the least kind */
    for (size_t i = 1; i < n; i++)
        if (v[i]->kind < first) first = v[i]->kind;
    row->rgb = colour_of(first, fragment);
    bool bg = n > 0;
    for (size_t i = 0; i < n; i++) {
        row->total += v[i]->total;
        if (!c->timed) continue;
        add_values(row, v[i]);
        int64_t f, t;
        if (bg && v[i]->kind == GEA_THREAD && thread_bg(c->w, v[i]->tid, &f, &t)) {
            if (i == 0 || f < row->bg_from) row->bg_from = f;
            if (i == 0 || t > row->bg_to) row->bg_to = t;
        } else {
            bg = false;
        }
    }
    row->has_bg = c->timed && bg;
    free(v);
}

void report_build(report_t *r, const gea_window_t *w, const script_t *s, bool timed,
                  uint32_t buckets)
{
    memset(r, 0, sizeof *r);
    ctx_t c = {.r = r, .w = w, .timed = timed};
    r->startup = gea_window_startup(w);
    r->end = w->end;
    r->buckets = buckets;
    r->bucket_ns = timed ? w->buckets.bs : 0;
    for (size_t i = 0; i < script_count(s); i++) {
        const script_cmd_t *cmd = script_command(s, i);
        size_t fragment = r->nrows;
        switch (cmd->kind) {
        case SCRIPT_CMD_SECTION:
            add_row(&c, REPORT_SECTION)->title = xstrndup(cmd->title, cmd->title_len);
            break;
        case SCRIPT_CMD_ID: {
            const gea_id_t *id = lookup(w, &cmd->id);
            gea_kind_t kind = cmd->id.kind == SCRIPT_ID_GC     ? GEA_GC
                              : cmd->id.kind == SCRIPT_ID_USER ? GEA_USER
                                                               : GEA_THREAD;
            if (!id && kind == GEA_USER) {
                report_row_t *row = add_row(&c, REPORT_USER);
                row->title = cmd->title ? xstrndup(cmd->title, cmd->title_len)
                                        : xstrndup(cmd->id.label, cmd->id.label_len);
                row->rgb = colour_of(kind, fragment);
                break;
            }
            if (!id && kind == GEA_GC) {
                report_row_t *row = add_row(&c, REPORT_GC);
                row->title = cmd->title ? xstrndup(cmd->title, cmd->title_len) : xstrndup("GC", 2);
                row->rgb = RGB_GC;
                break;
            }
            id_row(&c, id, kind, cmd->id.tid, cmd->title, cmd->title_len, fragment);
            break;
        }
        case SCRIPT_CMD_ALL: {
            size_t n;
            const gea_id_t **v = select_ids(w, cmd->filter, cmd->sort, true, &n);
            for (size_t k = 0; k < n; k++)
                id_row(&c, v[k], v[k]->kind, v[k]->tid, NULL, 0, r->nrows);
            free(v);
            break;
        }
        case SCRIPT_CMD_SUM:
            sum_row(&c, cmd, fragment);
            break;
        }
    }
}

void report_dispose(report_t *r)
{
    for (size_t i = 0; i < r->nrows; i++) {
        free(r->rows[i].title);
        if (r->rows[i].borrowed) continue;
        free(r->rows[i].val);
        free(r->rows[i].set);
    }
    free(r->rows);
    memset(r, 0, sizeof *r);
}

/* Characters (code points) in UTF-8 text, as Haskell's length counts them. */
static size_t text_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

int report_write_totals(const report_t *r, FILE *f)
{
    size_t w0 = 0, w1 = 0, w2 = 0;
    char(*ns)[32] = xcalloc(r->nrows ? r->nrows : 1, sizeof *ns);
    char(*sec)[40] = xcalloc(r->nrows ? r->nrows : 1, sizeof *sec);
    for (size_t i = 0; i < r->nrows; i++) {
        const report_row_t *row = &r->rows[i];
        if (row->kind == REPORT_SECTION) continue;
        int n = hsfmt_u64(ns[i], sizeof ns[i] - 2, row->total);
        memcpy(ns[i] + n, "ns", 3);
        n = hsfmt_fixed(sec[i], sizeof sec[i] - 2, (double)row->total / 1e9, 3);
        memcpy(sec[i] + (n > 0 ? n : 0), "s", 2);
        size_t a = text_width(row->title), b = strlen(ns[i]), c = strlen(sec[i]);
        if (a > w0) w0 = a;
        if (b > w1) w1 = b;
        if (c > w2) w2 = c;
    }
    /* each line made whole, then written: printf's parsing of the format cost more than the
     * rest of a report of 100,000 threads */
    size_t cap = 0;
    char *line = NULL;
    for (size_t i = 0; i < r->nrows; i++) {
        const report_row_t *row = &r->rows[i];
        size_t tl = strlen(row->title), n = 0;
        size_t need = tl + w0 + w1 + w2 + 8;
        if (need > cap) {
            cap = need * 2;
            line = xrealloc(line, cap);
        }
        if (row->kind == REPORT_SECTION) {
            line[n++] = '\n';
            memcpy(line + n, row->title, tl);
            n += tl;
        } else {
            size_t b = strlen(ns[i]), c = strlen(sec[i]);
            memcpy(line, row->title, tl);
            n = tl + (w0 - text_width(row->title)) + 3 + (w1 - b);
            memset(line + tl, ' ', n - tl);
            memcpy(line + n, ns[i], b);
            n += b;
            memset(line + n, ' ', 3 + w2 - c);
            n += 3 + w2 - c;
            memcpy(line + n, sec[i], c);
            n += c;
        }
        line[n++] = '\n';
        fwrite(line, 1, n, f);
    }
    free(line);
    free(ns);
    free(sec);
    return ferror(f) ? LP_EIO : 0;
}
