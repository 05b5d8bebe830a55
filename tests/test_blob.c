/* Blobs: the bytes live until the last reference goes, whichever thread lets go last. */
#include "test.h"

#include "blob.h"

#include <stdlib.h>
#include <string.h>

TEST(blob_keeps_bytes_until_the_last_reference)
{
    char *text = malloc(6);
    REQUIRE(text);
    memcpy(text, "totals", 6);
    blob_t *b = blob_create(text, 6);
    CHECK(blob_ref(b) == b);
    blob_unref(b); /* one reference left: the bytes stay */
    CHECK_EQ_U64(blob_len(b), 6);
    CHECK(memcmp(blob_bytes(b), "totals", 6) == 0);
    blob_unref(b); /* the last: ASan's leak check sees the bytes freed */
    blob_unref(NULL);
    blob_t *empty = blob_create(NULL, 0);
    CHECK(blob_bytes(empty) && blob_bytes(empty)[0] == 0);
    CHECK_EQ_U64(blob_len(empty), 0);
    blob_unref(empty);
}

typedef struct holder {
    blob_t *b;
    uint64_t sum;
} holder_t;

/* Takes and lets go of references while reading the bytes; lets go of the one it was given. */
static void *hold(void *arg)
{
    holder_t *h = arg;
    for (int i = 0; i < 20000; i++) {
        blob_t *b = blob_ref(h->b);
        h->sum += (uint8_t)blob_bytes(b)[i % blob_len(b)];
        blob_unref(b);
    }
    blob_unref(h->b);
    return NULL;
}

TEST(blob_concurrent_references)
{
    size_t n = 4096;
    char *bytes = malloc(n);
    REQUIRE(bytes);
    memset(bytes, 1, n);
    blob_t *b = blob_create(bytes, n);
    holder_t h[4];
    for (int i = 0; i < 4; i++)
        h[i] = (holder_t){blob_ref(b), 0};
    blob_unref(b); /* the threads hold the only references now: the last of them frees it */
    tu_threads(hold, h, sizeof *h, 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_U64(h[i].sum, 20000);
}
