/* Login rate limiting: consecutive failed logins per (user name, client address). The first
 * AUTH_LIMIT_FREE failures cost nothing more; each further one locks that pair out for 1 s,
 * then 2, 4, ... up to AUTH_LIMIT_MAX_WAIT seconds. A success, or an hour without failures,
 * forgets the pair. State is a fixed table (the least recently failed pair is evicted when
 * full), so memory stays bounded whatever clients send. HTTP thread only. */
#ifndef LP_AUTH_LIMIT_H
#define LP_AUTH_LIMIT_H

#include <stdint.h>

#define AUTH_LIMIT_FREE 5
#define AUTH_LIMIT_MAX_WAIT 900
#define AUTH_LIMIT_SLOTS 4096

/* Times are milliseconds of a monotonic clock (auth_limit_now). */
int64_t auth_limit_now(void);
/* Whole seconds (rounded up) the pair must still wait before it may try again at `now_ms`
 * (0: it may try). Borrows user and peer. */
int64_t auth_limit_wait(const char *user, const char *peer, int64_t now_ms);
/* Records a failed login of the pair at `now_ms`. */
void auth_limit_fail(const char *user, const char *peer, int64_t now_ms);
/* Records a successful login at `now_ms`: the pair's failures are forgotten. */
void auth_limit_success(const char *user, const char *peer, int64_t now_ms);

#endif
