/* Monitor ingestion: a poll loop over the Unix listener, leech connections and --exec FIFOs.
 * Leech frames are validated (bad length, bad frame or wrong order closes that connection
 * with a message, nothing else); Data frames collect into units committed whole. */
#include "ingest.h"

#include "err.h"
#include "leech_queue.h"
#include "leech_repair.h"
#include "xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CONNS 128
#define UNIT_MAX (64u << 20)
#define READ_BUF (1u << 20) /* bytes read per call: many frames per system call */
#define SOCK_BUF (4 << 20)  /* kernel receive buffer of a leech connection */

typedef struct conn {
    int fd;
    bool fifo;
    program_t *prog;
    uint8_t *buf; /* length-prefixed frames being read */
    size_t len;
    unit_t *pend, **pend_tail; /* Data frames of the unit being received, already stored */
    size_t unit_len;
    uint64_t unit_off;
    bool unit_on;
    leech_repair_t repair; /* FIFO only */
    leech_queue_t q;       /* FIFO only: repaired entries */
} conn_t;

struct ingest {
    monitor_t *m;
    int lfd;
    char path[108];
    conn_t *conns[MAX_CONNS];
    size_t nconns;
    void (*wake)(void *);
    void *wake_ctx;
    uint8_t *spare_buf; /* a closed connection's read buffer, for the next one (its pages are
                           mapped already: a fresh one costs a page fault per 4 KiB) */
};

ingest_t *ingest_create(monitor_t *m, const char *path, void (*wake)(void *), void *wake_ctx,
                        char *err, size_t cap)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path) {
        snprintf(err, cap, "socket path too long: %s", path);
        return NULL;
    }
    strcpy(a.sun_path, path);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0) {
        snprintf(err, cap, "cannot listen on %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    ingest_t *g = xcalloc(1, sizeof *g);
    g->m = m;
    g->lfd = fd;
    snprintf(g->path, sizeof g->path, "%s", path);
    g->wake = wake;
    g->wake_ctx = wake_ctx;
    return g;
}

static conn_t *conn_new(ingest_t *g, int fd, bool fifo)
{
    if (g->nconns >= MAX_CONNS) {
        fprintf(stderr, "liveprof-monitor: too many connections; refused\n");
        close(fd);
        return NULL;
    }
    conn_t *c = xcalloc(1, sizeof *c);
    c->fd = fd;
    c->fifo = fifo;
    c->buf = g->spare_buf ? g->spare_buf : xmalloc(READ_BUF + 4 + WIRE_MAX_FRAME);
    g->spare_buf = NULL;
    g->conns[g->nconns++] = c;
    return c;
}

static void conn_close(ingest_t *g, size_t i, const char *why)
{
    conn_t *c = g->conns[i];
    if (why)
        fprintf(stderr, "liveprof-monitor: %s %s: %s; closed\n", c->fifo ? "eventlog of" : "leech",
                c->prog ? c->prog->id : "(no hello yet)", why);
    pthread_mutex_lock(&g->m->mu);
    if (c->prog) {
        c->prog->connected = false;
        if (c->fifo) program_end(g->m, c->prog);
        g->m->version++;
        g->m->list_version++;
    }
    program_units_free(g->m, c->pend); /* a unit cut short: it comes again whole */
    pthread_mutex_unlock(&g->m->mu);
    close(c->fd);
    if (c->fifo) {
        leech_repair_dispose(&c->repair);
        leech_queue_dispose(&c->q);
    }
    if (!g->spare_buf)
        g->spare_buf = c->buf;
    else
        free(c->buf);
    free(c);
    g->conns[i] = g->conns[--g->nconns];
}

int ingest_add_fifo(ingest_t *g, int fd, const char *id, const char *name, uint32_t pid)
{
    conn_t *c = conn_new(g, fd, true);
    if (!c) return LP_ERANGE;
    leech_proc_t proc = {0};
    leech_repair_init(&c->repair, &proc);
    leech_queue_init(&c->q, SIZE_MAX);
    pthread_mutex_lock(&g->m->mu);
    c->prog = program_get(g->m, id, true);
    if (c->prog) {
        snprintf(c->prog->name, sizeof c->prog->name, "%s", name);
        c->prog->pid = pid;
        c->prog->connected = true;
    }
    pthread_mutex_unlock(&g->m->mu);
    return c->prog ? 0 : LP_ERANGE;
}

/* Handles one leech frame. Returns NULL or why the connection must close. Lock held. */
static const char *leech_frame(ingest_t *g, conn_t *c, const wire_frame_t *f)
{
    monitor_t *m = g->m;
    if (!c->prog) {
        if (f->kind != WIRE_HELLO) return "the first frame is not hello";
        if (f->version < 1) return "unsupported protocol version";
        if (!f->program.len) return "hello without a program id";
        char id[WIRE_MAX_PROGRAM + 1];
        memcpy(id, f->program.p, f->program.len);
        id[f->program.len] = 0;
        for (char *p = id; *p; p++)
            if (*p == '/' || *p == '.' || *p < ' ') *p = '_';
        char name[64] = "";
        uint32_t pid = 0;
        if (f->text.len) {
            snprintf(name, sizeof name, "%.*s", (int)f->text.len, wire_str_chars(f->text));
            char *sp = strchr(name, ' ');
            if (sp) {
                pid = (uint32_t)strtoul(sp + 1, NULL, 10);
                *sp = 0;
            }
        }
        /* the same id from another process (a new run, or two at once) gets a suffix; the same
         * process coming back is a reconnect */
        char base[WIRE_MAX_PROGRAM + 1];
        snprintf(base, sizeof base, "%s", id);
        for (int k = 2; k < 1000; k++) {
            program_t *old = program_get(m, id, false);
            if (!old || (old->pid == pid && !old->ended && !old->connected)) break;
            snprintf(id, sizeof id, "%.*s-%d", (int)(WIRE_MAX_PROGRAM - 5), base, k);
        }
        c->prog = program_get(m, id, true);
        if (!c->prog) return "too many programs";
        if (name[0]) snprintf(c->prog->name, sizeof c->prog->name, "%s", name);
        c->prog->pid = pid;
        c->prog->connected = true;
        c->prog->ended = false;
        m->version++;
        return NULL;
    }
    program_t *p = c->prog;
    switch (f->kind) {
    case WIRE_HEADER:
        if (f->offset != 0 || !f->data.len) return "bad header frame";
        program_header(m, p, f->data.p, f->data.len);
        return NULL;
    case WIRE_STATE:
        free(p->leech_state);
        p->leech_state = xmalloc(f->data.len ? f->data.len : 1);
        wire_str_copy(p->leech_state, f->data);
        p->leech_state_len = f->data.len;
        return NULL;
    case WIRE_DATA:
        if (!p->hdr) return "data before the header";
        if ((f->flags & WIRE_FLAG_BLOCK_START) || !c->unit_on) {
            program_units_free(m, c->pend); /* an unfinished unit is replaced */
            c->pend = NULL;
            c->pend_tail = &c->pend;
            c->unit_on = true;
            c->unit_off = f->offset;
            c->unit_len = 0;
        } else if (f->offset != c->unit_off + c->unit_len) {
            return "data frame out of order";
        }
        if (c->unit_len + f->data.len > UNIT_MAX) return "unit too large";
        if (f->data.len) { /* stored right away; it joins the backlog when the unit is whole */
            *c->pend_tail = program_unit_new(m, f->offset, f->data.p, f->data.len);
            c->pend_tail = &(*c->pend_tail)->next;
        }
        c->unit_len += f->data.len;
        if (f->flags & WIRE_FLAG_BLOCK_END) {
            if (c->pend)
                program_commit_units(m, p, c->pend);
            else
                program_commit(m, p, c->unit_off, NULL, 0);
            c->pend = NULL;
            c->pend_tail = &c->pend;
            c->unit_on = false;
        }
        return NULL;
    case WIRE_GAP:
        program_gap(m, p, f->offset, f->length);
        return NULL;
    case WIRE_BYE:
        program_end(m, p);
        return NULL;
    case WIRE_HEARTBEAT:
        return NULL;
    default:
        return "unexpected frame kind";
    }
}

/* Reads from a leech connection; returns NULL or why it must close ("" = orderly end). */
static const char *leech_read(ingest_t *g, conn_t *c)
{
    ssize_t r = read(c->fd, c->buf + c->len, READ_BUF + 4 + WIRE_MAX_FRAME - c->len);
    if (r < 0) return errno == EAGAIN || errno == EINTR ? NULL : strerror(errno);
    if (r == 0) return c->len ? "connection ended inside a frame" : "";
    c->len += (size_t)r;
    size_t at = 0;
    const char *why = NULL;
    pthread_mutex_lock(&g->m->mu);
    while (!why && c->len - at >= 4) {
        uint32_t n;
        memcpy(&n, c->buf + at, 4);
        if (n < 8 || n > WIRE_MAX_FRAME) {
            why = "bad frame length (not a liveprof leech?)";
            break;
        }
        if (c->len - at < 4 + (size_t)n) break;
        wire_frame_t f;
        if (wire_decode(&f, c->buf + at + 4, n) < 0)
            why = "malformed frame";
        else
            why = leech_frame(g, c, &f);
        at += 4 + n;
    }
    pthread_mutex_unlock(&g->m->mu);
    memmove(c->buf, c->buf + at, c->len - at);
    c->len -= at;
    return why;
}

/* Reads raw eventlog bytes from a FIFO through the repairer into the program. */
static const char *fifo_read(ingest_t *g, conn_t *c)
{
    ssize_t r = read(c->fd, c->buf, READ_BUF);
    if (r < 0) return errno == EAGAIN || errno == EINTR ? NULL : strerror(errno);
    if (r == 0) return "";
    lq_entry_t *e = leech_queue_entry(&c->q, (size_t)r);
    if (!e) return "out of memory";
    memcpy(e->data, c->buf, (size_t)r);
    if (leech_repair_feed(&c->repair, e, 0, false, 0, &c->q) < 0) return "out of memory";
    pthread_mutex_lock(&g->m->mu);
    lq_entry_t *o;
    while ((o = leech_queue_peek_out(&c->q)) != NULL) {
        if (o->offset == 0 && !c->prog->hdr)
            program_header(g->m, c->prog, o->data, o->len);
        else
            program_commit(g->m, c->prog, o->offset, o->data, o->len);
        leech_queue_done_out(&c->q, true);
    }
    pthread_mutex_unlock(&g->m->mu);
    return NULL;
}

int ingest_run(ingest_t *g, int timeout_ms)
{
    struct pollfd pf[MAX_CONNS + 1];
    pf[0] = (struct pollfd){.fd = g->lfd, .events = POLLIN};
    for (size_t i = 0; i < g->nconns; i++)
        pf[i + 1] = (struct pollfd){.fd = g->conns[i]->fd, .events = POLLIN};
    size_t n = g->nconns;
    int rc = poll(pf, n + 1, timeout_ms);
    bool changed = false;
    if (rc > 0) {
        for (size_t i = n; i-- > 0;) { /* backwards: closing moves the last one into i */
            if (!(pf[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            conn_t *c = g->conns[i];
            const char *why = c->fifo ? fifo_read(g, c) : leech_read(g, c);
            changed = true;
            if (why) conn_close(g, i, *why ? why : NULL);
        }
        if (pf[0].revents & POLLIN) {
            int fd = accept4(g->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd >= 0) {
                int sz = SOCK_BUF;
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
                conn_new(g, fd, false);
            }
        }
    }
    if (changed && g->wake) g->wake(g->wake_ctx);
    int fifos = 0;
    for (size_t i = 0; i < g->nconns; i++)
        fifos += g->conns[i]->fifo;
    return fifos;
}

void ingest_destroy(ingest_t *g)
{
    if (!g) return;
    while (g->nconns)
        conn_close(g, g->nconns - 1, NULL);
    close(g->lfd);
    unlink(g->path);
    free(g->spare_buf);
    free(g);
}
