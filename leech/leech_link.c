/* The leech's link to the monitor: a Unix socket, length-prefixed wire frames, reconnection
 * with exponential backoff (50 ms doubling to 2 s), and writes bounded by a send timeout so a
 * stuck monitor counts as gone. */
#include "leech_link.h"

#include "err.h"

#include <errno.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
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

/* Sends the iovecs (cnt of them, `total` bytes; they are advanced as they go): all of them,
 * waiting as the socket's send timeout allows, or (!wait) what the socket takes at once.
 * Returns the bytes sent (-1 when none). */
static ssize_t send_iov(int fd, struct iovec *iov, int cnt, size_t total, bool wait)
{
    size_t done = 0;
    while (done < total) {
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
        ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
        while (cnt > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
        if (!wait) break;
    }
    return done ? (ssize_t)done : -1;
}

/* Sends bytes [off, off + n) as the Data frames of one unit, LINK_BATCH frames per sendmsg:
 * the heads from l->heads, the bytes from p where they are. *any tells whether some bytes went.
 * Returns 0 or LP_ENET (the link is left as it is). */
static int send_data(leech_link_t *l, uint64_t off, const uint8_t *p, size_t n, bool wait,
                     bool *any)
{
    bool block = true;
    *any = false;
    do {
        struct iovec iov[2 * LINK_BATCH];
        int cnt = 0;
        size_t total = 0;
        for (int k = 0; k < LINK_BATCH && (n > 0 || block); k++) {
            size_t len = n < WIRE_MAX_DATA ? n : WIRE_MAX_DATA;
            wire_frame_t f = {.kind = WIRE_DATA, .program = wire_cstr(l->program), .offset = off};
            f.data.p = p;
            f.data.len = (uint32_t)len;
            f.seq = ++l->seq;
            /* each unit is one RTS buffer: the monitor commits it whole */
            f.flags = (block ? WIRE_FLAG_BLOCK_START : 0) | (len == n ? WIRE_FLAG_BLOCK_END : 0);
            uint8_t *h = l->heads[k];
            int hn = wire_encode_head(&f, h + 4, LINK_HEAD - 4);
            if (hn < 0) return LP_ENET;
            uint32_t flen = (uint32_t)hn + (uint32_t)len; /* little-endian hosts only */
            memcpy(h, &flen, 4);
            iov[cnt++] = (struct iovec){.iov_base = h, .iov_len = (size_t)hn + 4};
            iov[cnt++] = (struct iovec){.iov_base = (void *)p, .iov_len = len};
            total += (size_t)hn + 4 + len;
            l->frames++;
            block = false;
            off += len;
            p += len;
            n -= len;
        }
        ssize_t w = send_iov(l->fd, iov, cnt, total, wait);
        if (w > 0) *any = true;
        if (w != (ssize_t)total) return LP_ENET;
    } while (n > 0);
    return 0;
}

int leech_link_send_now(leech_link_t *l, uint64_t off, const uint8_t *p, size_t n)
{
    if (l->fd < 0 || !l->sent_end || off != l->sent_end) return LP_ETIMEOUT;
    int queued = 0; /* bytes in the socket the monitor has not read yet */
    size_t need = n + n / 8 + 2 * WIRE_MAX_FRAME; /* frame heads and kernel overhead */
    if (ioctl(l->fd, SIOCOUTQ, &queued) != 0 || queued < 0 ||
        (size_t)queued + need > (size_t)l->sndbuf)
        return LP_ETIMEOUT;
    uint64_t seq = l->seq, frames = l->frames;
    bool any;
    if (send_data(l, off, p, n, false, &any) == 0) {
        l->sent_end = off + n;
        return 0;
    }
    if (!any) { /* nothing went: as if not tried */
        l->seq = seq;
        l->frames = frames;
        return LP_ETIMEOUT;
    }
    leech_link_close(l, false); /* a part of the unit went: the monitor drops it with the link */
    return LP_ENET;
}

/* Sends bytes [off, off + n) as Header or State frames, at most WIRE_MAX_DATA each. */
static int send_bytes(leech_link_t *l, wire_kind_t kind, uint64_t off, const uint8_t *p, size_t n)
{
    do {
        size_t k = n < WIRE_MAX_DATA ? n : WIRE_MAX_DATA;
        wire_frame_t f = {.kind = kind, .program = wire_cstr(l->program), .offset = off};
        f.data.p = p;
        f.data.len = (uint32_t)k;
        f.seq = l->seq;
        int rc = send_frame(l, &f);
        if (rc < 0) return rc;
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
    socklen_t szlen = sizeof l->sndbuf;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &l->sndbuf, &szlen) != 0) l->sndbuf = 0;
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
    if (send_frame(l, &f) < 0 || send_bytes(l, WIRE_HEADER, 0, hdr, hlen) < 0) return false;
    static uint8_t state[WIRE_MAX_DATA];
    int n = leech_repair_state(r, state, sizeof state);
    if (n > 0 && send_bytes(l, WIRE_STATE, l->sent_end, state, (size_t)n) < 0) return false;
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
    bool any;
    int rc = send_data(l, e->offset, e->data, e->len, true, &any);
    if (rc < 0) {
        leech_link_close(l, false);
        return rc;
    }
    l->sent_end = e->offset + e->len;
    return 0;
}
