/* The leech's capped queue of RTS buffers: raw entries from the writer, repaired entries for
 * the drain thread to send, oldest-first dropping of whole entries with gap accounting. */
#include "leech_queue.h"

#include "err.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int leech_queue_init(leech_queue_t *q, size_t cap)
{
    memset(q, 0, sizeof *q);
    q->cap = cap;
    if (pthread_mutex_init(&q->mu, NULL)) return LP_ENOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc) {
        pthread_mutex_destroy(&q->mu);
        return LP_ENOMEM;
    }
    return 0;
}

static void free_list(lq_entry_t *e)
{
    while (e) {
        lq_entry_t *n = e->next;
        free(e);
        e = n;
    }
}

void leech_queue_dispose(leech_queue_t *q)
{
    free_list(q->raw_head);
    free_list(q->out_head);
    for (size_t i = 0; i < q->nspare; i++)
        free(q->spare[i]);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    memset(q, 0, sizeof *q);
}

/* An entry for the spares while there is room, else freed. Lock held. */
static void recycle(leech_queue_t *q, lq_entry_t *e)
{
    if (q->nspare < LQ_SPARE)
        q->spare[q->nspare++] = e;
    else
        free(e);
}

lq_entry_t *leech_queue_entry(leech_queue_t *q, size_t n)
{
    lq_entry_t *e = NULL;
    if (q) {
        pthread_mutex_lock(&q->mu);
        for (size_t i = 0; i < q->nspare; i++)
            if (q->spare[i]->cap >= n) {
                e = q->spare[i];
                q->spare[i] = q->spare[--q->nspare];
                break;
            }
        pthread_mutex_unlock(&q->mu);
    }
    if (!e) {
        e = malloc(sizeof *e + n);
        if (!e) return NULL;
        e->cap = n;
    }
    e->next = NULL;
    e->offset = 0;
    e->len = n;
    e->block_start = false;
    return e;
}

void leech_queue_free(leech_queue_t *q, lq_entry_t *e)
{
    if (!e) return;
    if (!q) {
        free(e);
        return;
    }
    pthread_mutex_lock(&q->mu);
    recycle(q, e);
    pthread_mutex_unlock(&q->mu);
}

/* Drops whole entries, oldest first, until the total fits the cap: repaired ones (not the one
 * in flight) first, then raw ones once the header is safe. Lock held. */
static void enforce_cap(leech_queue_t *q)
{
    while (q->bytes > q->cap) {
        lq_entry_t **pp = &q->out_head;
        if (*pp && *pp == q->in_flight) pp = &(*pp)->next;
        lq_entry_t *e = *pp;
        if (e == q->out_tail && !q->raw_head) e = NULL; /* the newest stays */
        if (e) {
            *pp = e->next;
            if (q->out_tail == e) q->out_tail = pp == &q->out_head ? NULL : q->out_head;
        } else if (q->raw_droppable && q->raw_head && q->raw_head != q->raw_tail) {
            e = q->raw_head;
            q->raw_head = e->next;
            if (!q->raw_head) q->raw_tail = NULL;
            q->raw_dropped += e->len;
        } else {
            return; /* only the header, the in-flight or the newest entry: allow the excess */
        }
        q->bytes -= e->len;
        q->dropped_total += e->len;
        recycle(q, e);
    }
}

bool leech_queue_put_raw(leech_queue_t *q, const void *p, size_t n, uint64_t tag)
{
    lq_entry_t *e = leech_queue_entry(q, n); /* copy outside the lock */
    if (e) {
        memcpy(e->data, p, n);
        e->block_start = true;
        e->offset = tag;
    }
    pthread_mutex_lock(&q->mu);
    q->puts++;
    if (!e) {
        q->raw_dropped += n;
        q->dropped_total += n;
    } else {
        if (q->raw_tail)
            q->raw_tail->next = e;
        else
            q->raw_head = e;
        q->raw_tail = e;
        q->bytes += n;
        enforce_cap(q);
    }
    pthread_cond_signal(&q->cv); /* wakes the drain thread; the mutex orders the list */
    pthread_mutex_unlock(&q->mu);
    return e != NULL;
}

/* The monotonic time ms milliseconds from now. */
static struct timespec deadline(int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

lq_entry_t *leech_queue_take_raw(leech_queue_t *q, int ms, uint64_t *dropped)
{
    struct timespec until = deadline(ms);
    pthread_mutex_lock(&q->mu);
    while (!q->raw_head && !q->stop && ms > 0)
        if (pthread_cond_timedwait(&q->cv, &q->mu, &until)) break;
    lq_entry_t *e = q->raw_head;
    if (e) {
        q->raw_head = e->next;
        if (!q->raw_head) q->raw_tail = NULL;
        q->bytes -= e->len;
        e->next = NULL;
    }
    *dropped = q->raw_dropped;
    q->raw_dropped = 0;
    pthread_mutex_unlock(&q->mu);
    return e;
}

void leech_queue_wait_raw(leech_queue_t *q, int ms)
{
    struct timespec until = deadline(ms);
    pthread_mutex_lock(&q->mu);
    while (!q->raw_head && !q->stop && !q->kick && ms > 0)
        if (pthread_cond_timedwait(&q->cv, &q->mu, &until)) break;
    q->kick = false;
    pthread_mutex_unlock(&q->mu);
}

void leech_queue_wake(leech_queue_t *q)
{
    pthread_mutex_lock(&q->mu);
    q->kick = true;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

bool leech_queue_claim_empty(leech_queue_t *q, uint64_t *puts)
{
    pthread_mutex_lock(&q->mu);
    bool empty = !q->raw_head && !q->out_head && !q->in_flight && !q->raw_dropped;
    if (empty) *puts = ++q->puts;
    pthread_mutex_unlock(&q->mu);
    return empty;
}

uint64_t leech_queue_puts(leech_queue_t *q)
{
    pthread_mutex_lock(&q->mu);
    uint64_t n = q->puts;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void leech_queue_stop(leech_queue_t *q)
{
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_signal(&q->cv); /* the mutex orders `stop` before the waiter's check */
    pthread_mutex_unlock(&q->mu);
}

void leech_queue_put_out(leech_queue_t *q, lq_entry_t *e)
{
    e->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->out_tail)
        q->out_tail->next = e;
    else
        q->out_head = e;
    q->out_tail = e;
    q->bytes += e->len;
    enforce_cap(q);
    pthread_mutex_unlock(&q->mu);
}

lq_entry_t *leech_queue_peek_out(leech_queue_t *q)
{
    pthread_mutex_lock(&q->mu);
    lq_entry_t *e = q->out_head;
    q->in_flight = e;
    pthread_mutex_unlock(&q->mu);
    return e;
}

void leech_queue_done_out(leech_queue_t *q, bool sent)
{
    pthread_mutex_lock(&q->mu);
    lq_entry_t *e = q->in_flight;
    q->in_flight = NULL;
    if (e && sent) {
        q->out_head = e->next;
        if (!q->out_head) q->out_tail = NULL;
        q->bytes -= e->len;
        recycle(q, e);
    }
    pthread_mutex_unlock(&q->mu);
}

void leech_queue_pending(leech_queue_t *q, size_t *raw, size_t *out)
{
    pthread_mutex_lock(&q->mu);
    *raw = 0;
    *out = 0;
    for (lq_entry_t *e = q->raw_head; e && *raw < 2; e = e->next)
        ++*raw;
    for (lq_entry_t *e = q->out_head; e && *out < 2; e = e->next)
        ++*out;
    pthread_mutex_unlock(&q->mu);
}
