/* Monitor programs: registry, header, backlog units with gaps, trimming into the late-joiner
 * state, and the tee file (exactly the bytes committed, in stream order). */
#include "program.h"

#include "xmalloc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void program_free(monitor_t *m, program_t *p);
_Static_assert(WIRE_MAX_DATA <= UNITMEM_MAX, "a unit fits unitmem");

program_t *program_get(monitor_t *m, const char *id, bool create)
{
    for (size_t i = 0; i < m->nprogs; i++)
        if (strcmp(m->progs[i]->id, id) == 0) return m->progs[i];
    if (!create) return NULL;
    if (m->nprogs >= MONITOR_MAX_PROGRAMS) { /* make room: forget the oldest ended program */
        size_t i = 0;
        while (i < m->nprogs && (!m->progs[i]->ended || m->progs[i]->connected))
            i++;
        if (i == m->nprogs) return NULL;
        program_free(m, m->progs[i]);
        memmove(m->progs + i, m->progs + i + 1, (m->nprogs - i - 1) * sizeof *m->progs);
        m->nprogs--;
    }
    program_t *p = xcalloc(1, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    p->tee_fd = -1;
    if (joiner_init(&p->joiner) < 0) {
        free(p);
        return NULL;
    }
    m->progs[m->nprogs++] = p;
    m->version++;
    m->list_version++;
    return p;
}

static void tee_write(program_t *p, const uint8_t *d, size_t n)
{
    while (p->tee_fd >= 0 && n > 0) {
        ssize_t w = write(p->tee_fd, d, n);
        if (w <= 0) {
            fprintf(stderr, "liveprof-monitor: tee of %s failed; tee stopped\n", p->id);
            close(p->tee_fd);
            p->tee_fd = -1;
            return;
        }
        d += w;
        n -= (size_t)w;
    }
}

void program_header(monitor_t *m, program_t *p, const uint8_t *hdr, size_t n)
{
    if (p->hdr) return;
    p->hdr = xmalloc(n ? n : 1);
    memcpy(p->hdr, hdr, n);
    p->hdr_len = n;
    p->end = n;
    joiner_feed(&p->joiner, hdr, n);
    if (m->tee_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.eventlog", m->tee_dir, p->id);
        p->tee_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (p->tee_fd < 0) fprintf(stderr, "liveprof-monitor: cannot write %s\n", path);
        tee_write(p, hdr, n);
    }
    m->version++;
    m->list_version++;
}

static void push_unit(program_t *p, unit_t *u)
{
    u->next = NULL;
    u->seq = ++p->seq;
    if (p->tail)
        p->tail->next = u;
    else
        p->head = u;
    p->tail = u;
    p->bytes += u->len + sizeof *u;
}

static void unit_free(monitor_t *m, unit_t *u)
{
    if (u->len) unitmem_free(&m->units, u->pos);
    free(u);
}

void program_unit_read(const monitor_t *m, const unit_t *u, uint8_t *out)
{
    if (u->len) unitmem_read(&m->units, u->pos, out, u->len);
}

/* The unit's bytes into the late-joiner state. */
static void feed_joiner(monitor_t *m, program_t *p, const unit_t *u)
{
    uint8_t buf[WIRE_MAX_DATA];
    if (!u->len) return;
    program_unit_read(m, u, buf);
    joiner_feed(&p->joiner, buf, u->len);
}

static void drop_head(monitor_t *m, program_t *p)
{
    unit_t *u = p->head;
    p->head = u->next;
    p->bytes -= u->len + sizeof *u;
    feed_joiner(m, p, u);
    unit_free(m, u);
}

/* Drops the oldest units while the backlog is over its cap, then up to the next whole block: a
 * subscriber that resumes at the head after a gap gets a block's first unit, never the rest of a
 * block whose start is gone (a server keeps whole blocks only, and takes a block's middle without
 * its start for data out of order). */
static void trim(monitor_t *m, program_t *p)
{
    bool dropped = false;
    for (; p->bytes > m->backlog_cap && p->head && p->head != p->tail; dropped = true)
        drop_head(m, p);
    while (dropped && p->head && p->head != p->tail && !p->head->gap &&
           !(p->head->flags & WIRE_FLAG_BLOCK_START))
        drop_head(m, p);
}

void program_gap(monitor_t *m, program_t *p, uint64_t off, uint64_t len)
{
    if (off < p->end) { /* only the part not already here is missing */
        if (off + len <= p->end) return;
        len -= p->end - off;
        off = p->end;
    }
    if (off > p->end) { /* a jump before the gap is missing too */
        len += off - p->end;
        off = p->end;
    }
    if (!len) return;
    unit_t *u = xcalloc(1, sizeof *u);
    u->offset = off;
    u->gap = len;
    push_unit(p, u);
    p->end = off + len;
    p->gaps++;
    p->gap_bytes += len;
    trim(m, p);
    m->version++;
}

unit_t *program_unit_new(monitor_t *m, uint64_t off, const uint8_t *data, size_t n)
{
    unit_t *u = xcalloc(1, sizeof *u);
    u->offset = off;
    u->len = (uint32_t)n;
    if (n) {
        u->pos = unitmem_alloc(&m->units, n);
        unitmem_write(&m->units, u->pos, data, n);
    }
    return u;
}

void program_units_free(monitor_t *m, unit_t *u)
{
    for (unit_t *n; u; u = n) {
        n = u->next;
        unit_free(m, u);
    }
}

/* Writes the unit's bytes to the tee file. */
static void tee_unit(monitor_t *m, program_t *p, const unit_t *u)
{
    uint8_t buf[WIRE_MAX_DATA];
    if (p->tee_fd < 0 || !u->len) return;
    program_unit_read(m, u, buf);
    tee_write(p, buf, u->len);
}

void program_commit_units(monitor_t *m, program_t *p, unit_t *u)
{
    while (u && u->offset + u->len <= p->end) { /* already here */
        unit_t *n = u->next;
        unit_free(m, u);
        u = n;
    }
    if (!u) return;
    if (u->offset < p->end) { /* partly here: keep the rest (the piece stays in its chunk) */
        uint64_t skip = p->end - u->offset;
        u->pos += skip;
        u->len -= (uint32_t)skip;
        u->offset = p->end;
    }
    if (u->offset > p->end) program_gap(m, p, p->end, u->offset - p->end);
    u->flags = WIRE_FLAG_BLOCK_START;
    for (unit_t *n; u; u = n) {
        n = u->next;
        if (!n) u->flags |= WIRE_FLAG_BLOCK_END;
        tee_unit(m, p, u);
        push_unit(p, u);
        p->end = u->offset + u->len;
    }
    trim(m, p);
    m->version++;
}

void program_commit(monitor_t *m, program_t *p, uint64_t off, const uint8_t *data, size_t n)
{
    if (off < p->end) {
        if (off + n <= p->end) return;
        data += p->end - off;
        n -= p->end - off;
        off = p->end;
    }
    if (!n) { /* nothing but a jump */
        if (off > p->end) program_gap(m, p, p->end, off - p->end);
        return;
    }
    unit_t *head = NULL, **tail = &head;
    for (size_t at = 0; at < n;) {
        size_t k = n - at < WIRE_MAX_DATA ? n - at : WIRE_MAX_DATA;
        *tail = program_unit_new(m, off + at, data + at, k);
        tail = &(*tail)->next;
        at += k;
    }
    program_commit_units(m, p, head);
}

uint8_t *program_state(const program_t *p, size_t *len)
{
    size_t jn = 0;
    uint8_t *j = joiner_events(&p->joiner, &jn);
    *len = p->leech_state_len + jn;
    if (!*len) return NULL;
    uint8_t *out = xmalloc(*len);
    if (p->leech_state_len) memcpy(out, p->leech_state, p->leech_state_len);
    if (jn) memcpy(out + p->leech_state_len, j, jn);
    free(j);
    return out;
}

const unit_t *program_unit_at(const program_t *p, uint64_t off)
{
    for (const unit_t *u = p->head; u; u = u->next)
        if (u->offset + u->len + u->gap > off) return u;
    return NULL;
}

/* Folds the whole backlog into the late-joiner state and frees it. */
static void release(monitor_t *m, program_t *p)
{
    for (unit_t *u = p->head, *n; u; u = n) {
        n = u->next;
        feed_joiner(m, p, u);
        unit_free(m, u);
    }
    p->head = p->tail = NULL;
    p->bytes = 0;
}

void program_end(monitor_t *m, program_t *p)
{
    p->ended = true;
    m->version++;
    m->list_version++;
    size_t kept = 0, unacked = 0;
    for (size_t i = m->nprogs; i-- > 0;) { /* newest first */
        program_t *q = m->progs[i];
        if (!q->ended || !q->head) continue;
        if (q->acked < q->end) { /* a subscriber still lacks some of it: keep it while the
                                    budget lasts, so a late server still gets every byte */
            unacked += q->bytes;
            if (unacked > MONITOR_UNACKED_BACKLOGS * m->backlog_cap) release(m, q);
        } else if (++kept > MONITOR_KEEP_ENDED) {
            release(m, q);
        }
    }
}

static void program_free(monitor_t *m, program_t *p)
{
    for (unit_t *u = p->head, *n; u; u = n) {
        n = u->next;
        unit_free(m, u);
    }
    joiner_dispose(&p->joiner);
    if (p->tee_fd >= 0) close(p->tee_fd);
    free(p->hdr);
    free(p->leech_state);
    free(p);
}

void program_free_all(monitor_t *m)
{
    for (size_t i = 0; i < m->nprogs; i++)
        program_free(m, m->progs[i]);
    m->nprogs = 0;
    unitmem_dispose(&m->units);
}
