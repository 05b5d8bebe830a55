/* The leech's connection to the monitor: a Unix stream socket carrying wire frames, each
 * preceded by its little-endian u32 length. Connects with exponential backoff, introduces the
 * program (Hello, Header, State) on every connection and sends the repaired stream with gaps
 * made explicit. One thread at a time: the drain thread, or an RTS writer sending a buffer
 * straight away (the leech's link lock decides). */
#ifndef LP_LEECH_LINK_H
#define LP_LEECH_LINK_H

#include "leech_queue.h"
#include "leech_repair.h"
#include "wire.h"

#include <stdbool.h>
#include <stdint.h>

#define LINK_BATCH 34 /* Data frames per sendmsg (a 2 MiB RTS buffer is 33) */
#define LINK_HEAD 256 /* bytes for a Data frame's length prefix and head */

typedef struct leech_link {
    int fd;
    char path[108];
    char program[WIRE_MAX_PROGRAM + 1];
    char name[64];
    char token[256];
    uint32_t pid;
    uint64_t sent_end;    /* stream offset after the last byte sent (0 = nothing yet) */
    uint64_t seq;         /* frames carrying bytes or gaps, per connection */
    uint64_t next_try_ns; /* earliest reconnect attempt */
    uint64_t backoff_ms;
    uint64_t connects, gaps, gap_bytes, frames;
    int sndbuf; /* the socket's send buffer, as the kernel set it */
    uint8_t frame[WIRE_MAX_FRAME];
    uint8_t heads[LINK_BATCH][LINK_HEAD]; /* length prefixes and heads of Data frames */
} leech_link_t;

void leech_link_init(leech_link_t *l, const char *path, const char *program, const char *name,
                     uint32_t pid, const char *token);
/* Connects if disconnected and the backoff allows it; on connect sends Hello, the header and
 * the state. Returns true when connected. */
bool leech_link_ready(leech_link_t *l, const leech_repair_t *r, uint64_t now_ns);
/* Sends one out entry (a gap frame first when its offset jumps). Returns 0, or a negative
 * code after which the link is closed (the entry should be resent). */
int leech_link_send(leech_link_t *l, const lq_entry_t *e);
/* Sends n bytes at stream offset `off` as one unit of Data frames without ever blocking, when
 * they can go whole right now: the link is up, `off` is where the bytes sent so far end (no gap
 * pending) and the socket has room for them. Returns 0 when sent; LP_ETIMEOUT when nothing was
 * sent (the link is unchanged); LP_ENET when only part went (the link is then closed: the unit
 * must be sent again after a reconnect). Whoever holds the link (an RTS writer thread). */
int leech_link_send_now(leech_link_t *l, uint64_t off, const uint8_t *p, size_t n);
/* Sends Bye and closes. */
void leech_link_close(leech_link_t *l, bool bye);
/* Monotonic clock in ns. */
uint64_t leech_now_ns(void);

#endif
