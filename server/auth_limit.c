/* Login rate limiting per (user name, client address): a fixed table of failure counters with
 * exponential lockouts, evicting the least recently failed pair when full. HTTP thread only. */
#include "auth_limit.h"

#include <sodium.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#define FORGET_AFTER (3600 * 1000) /* ms without failures after which a pair starts afresh */

typedef struct slot {
    uint8_t key[16];   /* BLAKE2b of "user\0peer" (all zero: free) */
    uint32_t failures; /* consecutive failures */
    int64_t last;      /* time of the last failure, ms */
    int64_t until;     /* locked out before this time, ms */
} slot_t;

static slot_t slots[AUTH_LIMIT_SLOTS];

static void key_of(const char *user, const char *peer, uint8_t key[16])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    crypto_generichash_update(&st, (const unsigned char *)user, strlen(user) + 1);
    crypto_generichash_update(&st, (const unsigned char *)peer, strlen(peer));
    crypto_generichash_final(&st, key, 16);
}

static bool is_free(const slot_t *s)
{
    static const uint8_t zero[16];
    return !memcmp(s->key, zero, sizeof zero);
}

/* The pair's slot, or NULL; with `make`, a new or evicted slot. */
static slot_t *find(const char *user, const char *peer, int64_t now, bool make)
{
    uint8_t key[16];
    key_of(user ? user : "", peer ? peer : "", key);
    slot_t *victim = NULL;
    for (size_t i = 0; i < AUTH_LIMIT_SLOTS; i++) {
        slot_t *s = &slots[i];
        if (!is_free(s) && now - s->last > FORGET_AFTER && now >= s->until) memset(s, 0, sizeof *s);
        if (!is_free(s) && !memcmp(s->key, key, sizeof key)) return s;
        if (is_free(s)) {
            if (!victim || !is_free(victim)) victim = s;
        } else if (!victim || (!is_free(victim) && s->last < victim->last)) {
            victim = s;
        }
    }
    if (!make) return NULL;
    memset(victim, 0, sizeof *victim);
    memcpy(victim->key, key, sizeof key);
    return victim;
}

int64_t auth_limit_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t auth_limit_wait(const char *user, const char *peer, int64_t now)
{
    slot_t *s = find(user, peer, now, false);
    return s && s->until > now ? (s->until - now + 999) / 1000 : 0;
}

void auth_limit_fail(const char *user, const char *peer, int64_t now)
{
    slot_t *s = find(user, peer, now, true);
    s->failures++;
    s->last = now;
    if (s->failures >= AUTH_LIMIT_FREE) {
        uint32_t k = s->failures - AUTH_LIMIT_FREE;
        int64_t wait = k >= 10 ? AUTH_LIMIT_MAX_WAIT : (int64_t)1 << k;
        s->until = now + 1000 * (wait < AUTH_LIMIT_MAX_WAIT ? wait : AUTH_LIMIT_MAX_WAIT);
    }
}

void auth_limit_success(const char *user, const char *peer, int64_t now)
{
    slot_t *s = find(user, peer, now, false);
    if (s) memset(s, 0, sizeof *s);
}
