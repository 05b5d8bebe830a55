/* The monitor's input side: the Unix socket leeches connect to (length-prefixed wire frames:
 * Hello, Header, State, Data units, Gap, Bye) and the FIFOs of --exec programs (raw eventlog
 * bytes, repaired like the leech's). One thread runs it; every change is committed to the
 * programs under the monitor's lock and announced through the wake callback. */
#ifndef LP_INGEST_H
#define LP_INGEST_H

#include "program.h"

typedef struct ingest ingest_t;

/* Listens on the Unix socket `path` (removed first if it is a stale socket). Returns NULL with
 * a message in err. */
ingest_t *ingest_create(monitor_t *m, const char *path, void (*wake)(void *), void *wake_ctx,
                        char *err, size_t cap);
/* Reads a raw eventlog from fd (a FIFO; owned from now on) as program `id`. Returns 0 or a
 * negative code. */
int ingest_add_fifo(ingest_t *g, int fd, const char *id, const char *name, uint32_t pid);
/* One round: waits up to timeout_ms for input and handles it. Returns the number of open FIFOs.
 * Ingest thread. */
int ingest_run(ingest_t *g, int timeout_ms);
/* Closes everything (NULL is a no-op). */
void ingest_destroy(ingest_t *g);

#endif
