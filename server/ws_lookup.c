/* The WebSocket thread's questions to the HTTP thread and their answers (server/ws_lookup.h). */
#include "ws_lookup.h"

#include "server.h"
#include "xmalloc.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>

struct ws_lookups {
    server_t *srv;
    pthread_mutex_t mu; /* reqs and answers */
    ws_lookup_t *reqs, *answers;
    http_notifier_t *note;
    void (*wake)(void *);
    void *wake_ctx;
};

/* Answers every queued request. HTTP thread (the notifier's callback). */
static void answer(void *ctx)
{
    ws_lookups_t *q = ctx;
    pthread_mutex_lock(&q->mu);
    ws_lookup_t *list = q->reqs;
    q->reqs = NULL;
    pthread_mutex_unlock(&q->mu);
    if (!list) return;
    registry_t *reg = server_registry(q->srv);
    ws_lookup_t *done = NULL;
    while (list) {
        ws_lookup_t *l = list;
        list = l->next;
        if (!l->id) { /* we hold a reference: s is alive; its metadata is this thread's */
            l->owner = l->s->meta.owner;
            l->is_public = l->s->meta.is_public;
            l->next = done;
            done = l;
            continue;
        }
        auth_t a = {.role = AUTH_GUEST};
        session_t *s = session_find(reg, l->session);
        if (l->token[0] && auth_check_token(server_db(q->srv), l->token, &a) < 0)
            l->code = WS_LOOKUP_BAD_TOKEN;
        else if (!s)
            l->code = WS_LOOKUP_NOT_FOUND;
        else if (!auth_can_read(&a, s->meta.owner, s->meta.is_public))
            l->code = WS_LOOKUP_PRIVATE;
        else
            l->s = session_ref(s);
        l->auth = a;
        sodium_memzero(l->token, sizeof l->token);
        l->next = done;
        done = l;
    }
    pthread_mutex_lock(&q->mu);
    while (done) {
        ws_lookup_t *l = done;
        done = l->next;
        l->next = q->answers;
        q->answers = l;
    }
    pthread_mutex_unlock(&q->mu);
    q->wake(q->wake_ctx);
}

ws_lookups_t *ws_lookups_create(server_t *srv, http_server_t *http, void (*wake)(void *),
                                void *wake_ctx)
{
    ws_lookups_t *q = xcalloc(1, sizeof *q);
    q->srv = srv;
    pthread_mutex_init(&q->mu, NULL);
    q->note = http_notifier_create(http, answer, q);
    q->wake = wake;
    q->wake_ctx = wake_ctx;
    return q;
}

void ws_lookups_stop(ws_lookups_t *q)
{
    if (!q || !q->note) return;
    http_notifier_destroy(q->note);
    q->note = NULL;
}

void ws_lookups_destroy(ws_lookups_t *q)
{
    if (!q) return;
    ws_lookups_stop(q);
    for (ws_lookup_t *l = q->answers, *n; l; l = n) {
        n = l->next;
        if (l->s) session_unref(l->s);
        free(l);
    }
    for (ws_lookup_t *l = q->reqs, *n; l; l = n) {
        n = l->next;
        if (!l->id && l->s) session_unref(l->s);
        free(l);
    }
    pthread_mutex_destroy(&q->mu);
    free(q);
}

void ws_lookups_ask(ws_lookups_t *q, ws_lookup_t *l)
{
    pthread_mutex_lock(&q->mu);
    l->next = q->reqs;
    q->reqs = l;
    pthread_mutex_unlock(&q->mu);
    http_notify(q->note);
}

ws_lookup_t *ws_lookups_answers(ws_lookups_t *q)
{
    pthread_mutex_lock(&q->mu);
    ws_lookup_t *l = q->answers;
    q->answers = NULL;
    pthread_mutex_unlock(&q->mu);
    return l;
}
