/* The leech's link to the monitor: a Unix socket, length-prefixed wire frames, reconnection
 * with exponential backoff (50 ms doubling to 2 s), and writes bounded by a send timeout so a
 * stuck monitor counts as gone. */
#include "leech_link.h"

#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000

uint64_t leech_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

void leech_link_init(leech_link_t *l, const char *path, const char *program, const char *name,
                     uint32_t pid, const char *token)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    copy_str(l->path, sizeof l->path, path);
    copy_str(l->program, sizeof l->program, program);
    copy_str(l->name, sizeof l->name, name);
    copy_str(l->token, sizeof l->token, token);
    l->pid = pid;
    l->backoff_ms = BACKOFF_MIN_MS;
}

void leech_link_close(leech_link_t *l, bool bye)
{
    if (l->fd < 0) return;
    if (bye) {
        wire_frame_t f = {.kind = WIRE_BYE, .program = wire_cstr(l->program)};
        int n = wire_encode(&f, l->frame + 4, sizeof l->frame - 4);
        if (n > 0) {
            uint32_t len = (uint32_t)n;
            memcpy(l->frame, &len, 4);
            (void)!send(l->fd, l->frame, (size_t)n + 4, MSG_NOSIGNAL);
        }
    }
    close(l->fd);
    l->fd = -1;
}

static int send_all(leech_link_t *l, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(l->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return LP_ENET;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Encodes f after a 4-byte length and sends it; closes the link on failure. */
static int send_frame(leech_link_t *l, const wire_frame_t *f)
{
    int n = wire_encode(f, l->frame + 4, sizeof l->frame - 4);
    if (n < 0) return n;
    uint32_t len = (uint32_t)n; /* little-endian hosts only (x86-64, aarch64) */
    memcpy(l->frame, &len, 4);
    int rc = send_all(l, l->frame, (size_t)n + 4);
    if (rc < 0) leech_link_close(l, false);
    l->frames++;
    return rc;
}

/* Sends bytes [off, off + n) as frames of one kind, at most WIRE_MAX_DATA each. */
static int send_bytes(leech_link_t *l, wire_kind_t kind, uint64_t off, const uint8_t *p, size_t n,
                      bool block)
{
    do {
        size_t k = n < WIRE_MAX_DATA ? n : WIRE_MAX_DATA;
        wire_frame_t f = {.kind = kind, .program = wire_cstr(l->program), .offset = off};
        f.data.p = p;
        f.data.len = (uint32_t)k;
        f.seq = kind == WIRE_DATA ? ++l->seq : l->seq;
        if (kind == WIRE_DATA) /* each entry is one unit: the monitor commits it whole */
            f.flags = (block ? WIRE_FLAG_BLOCK_START : 0) | (k == n ? WIRE_FLAG_BLOCK_END : 0);
        int rc = send_frame(l, &f);
        if (rc < 0) return rc;
        block = false;
        off += k;
        p += k;
        n -= k;
    } while (n > 0);
    return 0;
}

bool leech_link_ready(leech_link_t *l, const leech_repair_t *r, uint64_t now_ns)
{
    if (l->fd >= 0) return true;
    size_t hlen = 0;
    const uint8_t *hdr = leech_repair_header(r, &hlen);
    if (!hdr || now_ns < l->next_try_ns || !l->path[0]) return false;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    copy_str(a.sun_path, sizeof a.sun_path, l->path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        l->next_try_ns = now_ns + l->backoff_ms * 1000000ull;
        l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
        return false;
    }
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int sz = 4 << 20; /* fewer wake-ups of both sides per RTS buffer */
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    l->fd = fd;
    l->backoff_ms = BACKOFF_MIN_MS;
    l->connects++;
    l->seq = 0;
    char text[160];
    snprintf(text, sizeof text, "%s %u", l->name, l->pid);
    wire_frame_t f = {.kind = WIRE_HELLO, .version = WIRE_VERSION};
    f.program = wire_cstr(l->program);
    f.token = wire_cstr(l->token);
    f.text = wire_cstr(text);
    f.time_ns = now_ns;
    if (send_frame(l, &f) < 0 || send_bytes(l, WIRE_HEADER, 0, hdr, hlen, false) < 0) return false;
    static uint8_t state[WIRE_MAX_DATA];
    int n = leech_repair_state(r, state, sizeof state);
    if (n > 0 && send_bytes(l, WIRE_STATE, l->sent_end, state, (size_t)n, false) < 0) return false;
    return true;
}

int leech_link_send(leech_link_t *l, const lq_entry_t *e)
{
    if (l->fd < 0) return LP_ENET;
    if (e->offset == 0 && l->sent_end == 0) { /* the header: already sent by Header */
        l->sent_end = e->len;
        return 0;
    }
    if (e->offset > l->sent_end && l->sent_end) {
        wire_frame_t g = {.kind = WIRE_GAP, .program = wire_cstr(l->program)};
        g.seq = ++l->seq;
        g.offset = l->sent_end;
        g.length = e->offset - l->sent_end;
        int rc = send_frame(l, &g);
        if (rc < 0) return rc;
        l->gaps++;
        l->gap_bytes += g.length;
    }
    int rc = send_bytes(l, WIRE_DATA, e->offset, e->data, e->len, true);
    if (rc == 0) l->sent_end = e->offset + e->len;
    return rc;
}
