/* Lingering close: a connection the HTTP library closes while the client is still sending a
 * body it refused (413 over --max-body, 400) gets its answer delivered, not lost to the reset
 * that closing with unread bytes causes; the socket is kept, its sending side shut after the
 * answer, and what the client still sends is read and dropped until it closes, for a while. */
#ifndef LP_HTTP_LINGER_H
#define LP_HTTP_LINGER_H

/* (h2o's types, by name only: no file but this one's .c and server/http.c includes h2o) */
struct st_h2o_evloop_t;
struct st_h2o_socket_t;

typedef struct http_linger http_linger_t;

#define HTTP_LINGER_MS 2000                 /* longest wait for the client to close */
#define HTTP_LINGER_MAX_BYTES (64ull << 20) /* most bytes read and dropped per connection */

/* Creates the set of lingering connections of one event loop (borrowed). HTTP thread only. */
http_linger_t *http_linger_create(struct st_h2o_evloop_t *loop);

/* Closes the connections still lingering, forgets the ones not closed yet by the library and
 * frees the set. NULL is a no-op. HTTP thread only, after its loop stopped serving them. */
void http_linger_destroy(http_linger_t *l);

/* Makes sock (borrowed; a connection of l's loop whose request is answered with an error and
 * which the library closes once the answer is written) linger when it closes. Does nothing when
 * the socket already has a close hook or cannot be duplicated. HTTP thread only. */
void http_linger_arm(http_linger_t *l, struct st_h2o_socket_t *sock);

#endif
