/* Lingering close of refused connections (server/http_linger.h): a duplicate of the socket's
 * descriptor outlives the library's close, which then neither resets the connection nor drops
 * the answer still on its way; the duplicate shuts its sending side (the client reads the answer,
 * then the end) and drains what comes until the client closes, a byte bound or a timeout. */
#include "http_linger.h"

#include "xmalloc.h"

#include <h2o.h>

#include <fcntl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct lingerer {
    h2o_linklist_t link; /* in the set's list, from arming to the end */
    http_linger_t *owner;
    int fd;             /* the duplicate */
    h2o_socket_t *conn; /* the library's socket, until it closes */
    h2o_socket_t *sock; /* the duplicate's, once lingering */
    h2o_timeout_entry_t entry;
    uint64_t drained;
} lingerer_t;

struct http_linger {
    h2o_loop_t *loop;
    h2o_timeout_t timeout;
    h2o_linklist_t all;
};

http_linger_t *http_linger_create(h2o_loop_t *loop)
{
    http_linger_t *l = xcalloc(1, sizeof *l);
    l->loop = loop;
    h2o_timeout_init(loop, &l->timeout, HTTP_LINGER_MS);
    h2o_linklist_init_anchor(&l->all);
    return l;
}

static void finish(lingerer_t *g)
{
    if (h2o_timeout_is_linked(&g->entry)) h2o_timeout_unlink(&g->entry);
    if (g->sock) {
        h2o_socket_close(g->sock); /* closes the duplicate */
    } else {
        if (g->conn) g->conn->on_close.cb = NULL;
        close(g->fd);
    }
    h2o_linklist_unlink(&g->link);
    free(g);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    lingerer_t *g = sock->data;
    if (err) { /* the client closed (or reset): done */
        finish(g);
        return;
    }
    g->drained += sock->input->size;
    h2o_buffer_consume(&sock->input, sock->input->size);
    if (g->drained >= HTTP_LINGER_MAX_BYTES) finish(g);
}

static void on_timeout(h2o_timeout_entry_t *entry)
{
    finish((lingerer_t *)((char *)entry - offsetof(lingerer_t, entry)));
}

/* The library closed its descriptor, after writing the answer: linger on the duplicate. */
static void on_conn_close(void *data)
{
    lingerer_t *g = data;
    g->conn = NULL;
    /* the answer is in the socket's queue: the end goes out after it */
    if (shutdown(g->fd, SHUT_WR) != 0) {
        finish(g);
        return;
    }
    g->sock = h2o_evloop_socket_create(g->owner->loop, g->fd, 0);
    g->sock->data = g;
    h2o_socket_read_start(g->sock, on_read);
    g->entry.cb = on_timeout;
    h2o_timeout_link(g->owner->loop, &g->owner->timeout, &g->entry);
}

void http_linger_arm(http_linger_t *l, h2o_socket_t *sock)
{
    if (sock->on_close.cb) return;
    int fd = fcntl(h2o_socket_get_fd(sock), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return; /* out of descriptors: the library's plain close stands */
    lingerer_t *g = xcalloc(1, sizeof *g);
    g->owner = l;
    g->fd = fd;
    g->conn = sock;
    h2o_linklist_insert(&l->all, &g->link);
    sock->on_close.cb = on_conn_close;
    sock->on_close.data = g;
}

void http_linger_destroy(http_linger_t *l)
{
    if (!l) return;
    while (!h2o_linklist_is_empty(&l->all))
        finish((lingerer_t *)((char *)l->all.next - offsetof(lingerer_t, link)));
    h2o_timeout_dispose(l->loop, &l->timeout);
    free(l);
}
