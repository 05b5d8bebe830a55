/* A blob: immutable bytes shared by reference counting, so that a document made once (a settled
 * session's totals) goes out in many responses at once without a copy, and is freed by whoever
 * lets go of it last, on any thread. */
#ifndef LP_BLOB_H
#define LP_BLOB_H

#include <stddef.h>

typedef struct blob blob_t;

/* A blob of bytes[0..len), which it takes (malloc'd, handed over; NULL when len is 0), with one
 * reference, the caller's. Never NULL: out of memory is fatal. Any thread. */
blob_t *blob_create(char *bytes, size_t len);
/* One more reference to b; returns b. Any thread. */
blob_t *blob_ref(blob_t *b);
/* Lets go of one reference; the last one frees the blob and its bytes. NULL is a no-op. Any
 * thread. */
void blob_unref(blob_t *b);
/* The bytes (never NULL, "" when empty) and their length, valid while a reference is held. */
const char *blob_bytes(const blob_t *b);
size_t blob_len(const blob_t *b);

#endif
