/* Server-side replays: a saved session's bytes streamed into a new session through the normal
 * pipeline (segments, live pass, settle), as fast as the writer takes them or paced by the
 * events' timestamps, on the HTTP thread's 20 ms timer. */
#ifndef LP_REPLAY_H
#define LP_REPLAY_H

#include "http.h"
#include "session.h"

#include <stdint.h>

typedef struct replays replays_t;

/* The set of running replays with its timer. HTTP thread, at start. */
replays_t *replays_create(registry_t *reg, http_server_t *http);
/* Stops and frees every replay (NULL is a no-op). Main thread, at the end. */
void replays_destroy(replays_t *rs);
/* Streams `src`'s events in [from, to) (0, 0: all) into `dst` at `speed` (0: max; 1: real time;
 * N: N times faster); `dst` ends its input when the replay is over. Returns 0, or LP_ERANGE with
 * a message when nothing in the range was saved. HTTP thread. */
int replays_start(replays_t *rs, session_t *src, session_t *dst, uint64_t from, uint64_t to,
                  double speed, char *err, size_t cap);

#endif
