/* Fuzz target: the monitor's leech socket (monitor/ingest.c): length-prefixed wire frames read
 * from a real Unix socket connection, checked for order and applied to the programs
 * (monitor/program.c). The input is what a leech sends; it goes over the socket whole, and
 * again split in two at a point derived from the input (the monitor reading the first part
 * before the second is written). Properties: no crash; every program's backlog is contiguous
 * (each unit, data or gap, starts where the one before ended, the last ends at the program's
 * end) with units of at most WIRE_MAX_DATA bytes; no program stays connected once its
 * connection closed; and the programs come out the same however the bytes were split. */
#include "ingest.h"
#include "program.h"

#include <errno.h>
#include <linux/sockios.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char dir[96], sock_path[108]; /* sock_path: sockaddr_un's sun_path */
static monitor_t mon;
static ingest_t *ing;

static void fail(const char *what)
{
    fprintf(stderr, "ingest property violated: %s\n", what);
    abort();
}

static void cleanup(void)
{
    ingest_destroy(ing);
    program_free_all(&mon);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    const char *t = getenv("TMPDIR");
    if (snprintf(dir, sizeof dir, "%s/lp-fuzz-ingest-XXXXXX", t && *t ? t : P_tmpdir) >=
        (int)sizeof dir) {
        fprintf(stderr, "ingest fuzz: TMPDIR too long for a socket path\n");
        exit(1);
    }
    if (!mkdtemp(dir)) {
        perror("ingest fuzz: mkdtemp");
        exit(1);
    }
    snprintf(sock_path, sizeof sock_path, "%.96s/s", dir);
    memset(&mon, 0, sizeof mon);
    pthread_mutex_init(&mon.mu, NULL);
    mon.backlog_cap = 1u << 20;
    char err[256];
    ing = ingest_create(&mon, sock_path, NULL, NULL, err, sizeof err);
    if (!ing) {
        fprintf(stderr, "ingest fuzz: %s\n", err);
        exit(1);
    }
    atexit(cleanup);
    return 0;
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* Checks every program and returns a digest of the monitor's state. */
static uint64_t check_and_digest(void)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < mon.nprogs; i++) {
        const program_t *p = mon.progs[i];
        if (p->connected) fail("a program stays connected after its connection closed");
        h = mix(h, p->id, strlen(p->id));
        h = mix(h, p->name, strlen(p->name));
        h = mix(h, &p->pid, sizeof p->pid);
        h = mix(h, &p->hdr_len, sizeof p->hdr_len);
        if (p->hdr_len) h = mix(h, p->hdr, p->hdr_len);
        h = mix(h, &p->leech_state_len, sizeof p->leech_state_len);
        if (p->leech_state_len) h = mix(h, p->leech_state, p->leech_state_len);
        uint64_t v[5] = {p->end, p->seq, p->ended, p->gaps, p->gap_bytes};
        h = mix(h, v, sizeof v);
        for (const unit_t *u = p->head; u; u = u->next) {
            if (u->len > WIRE_MAX_DATA) fail("unit larger than a frame's data");
            if (u->gap && u->len) fail("gap unit with data");
            uint64_t next = u->offset + (u->gap ? u->gap : u->len);
            if (u->next ? u->next->offset != next : next != p->end) fail("backlog not contiguous");
            uint64_t w[4] = {u->offset, u->gap, u->len, u->flags};
            h = mix(h, w, sizeof w);
            static uint8_t bytes[WIRE_MAX_DATA];
            program_unit_read(&mon, u, bytes);
            h = mix(h, bytes, u->len);
        }
    }
    return h;
}

/* Lets the monitor run until it consumed the client's bytes (or, with until_closed, until it
 * closed the connection). */
static void pump(int cfd, bool until_closed)
{
    for (int i = 0; i < 100000; i++) {
        ingest_run(ing, 0);
        char c;
        ssize_t r = recv(cfd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return; /* closed */
        int outq = 0;
        if (!until_closed && ioctl(cfd, SIOCOUTQ, &outq) == 0 && outq == 0) return;
    }
    fail("the monitor neither read nor closed the connection");
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return; /* the monitor closed the connection: the rest is not read */
        p += k;
        n -= (size_t)k;
    }
}

/* Sends the input over a fresh connection in two parts (split at `cut`) and returns the
 * digest of what the monitor made of it; the programs are forgotten afterwards. */
static uint64_t run(const uint8_t *data, size_t size, size_t cut)
{
    int cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, sock_path, sizeof a.sun_path);
    if (cfd < 0 || connect(cfd, (struct sockaddr *)&a, sizeof a) != 0) fail("cannot connect");
    int sz = 1 << 20;
    setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    pump(cfd, false); /* accepted */
    send_all(cfd, data, cut);
    pump(cfd, false);
    send_all(cfd, data + cut, size - cut);
    shutdown(cfd, SHUT_WR);
    pump(cfd, true);
    close(cfd);
    pthread_mutex_lock(&mon.mu);
    uint64_t h = check_and_digest();
    program_free_all(&mon);
    pthread_mutex_unlock(&mon.mu);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    uint64_t whole = run(data, size, size);
    size_t cut =
        size ? (size_t)(mix(14695981039346656037ull, data, size < 8 ? size : 8) % (size + 1)) : 0;
    if (run(data, size, cut) != whole) fail("the programs depend on how the bytes were split");
    return 0;
}
