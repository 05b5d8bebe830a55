/* SHA-1 (FIPS 180-4), for the one place a protocol demands it: the WebSocket handshake's
 * Sec-WebSocket-Accept. Not for anything that needs a secure hash. Pure; any thread. */
#ifndef LP_SHA1_H
#define LP_SHA1_H

#include <stddef.h>
#include <stdint.h>

/* Writes the 20-byte SHA-1 digest of the n bytes at p into out. */
void sha1(const void *p, size_t n, uint8_t out[20]);

#endif
