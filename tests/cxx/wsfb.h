/* The C interface of the test-only C++ translation unit tests/cxx/wsfb.cc: flatc's generated
 * Verifier, reader and builder for proto/ws.fbs. Test thread. */
#ifndef LP_WSFB_H
#define LP_WSFB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when flatc's Verifier accepts buf[0, len) as a Message with the "LPWS" identifier. */
int wsfb_verify(const uint8_t *buf, size_t len);
/* Writes a canonical text of the message as read by flatc's accessors (the format of
 * tests/wsdesc.c) into out; returns its length, or 0 when it does not verify or fit. */
size_t wsfb_describe(const uint8_t *buf, size_t len, char *out, size_t cap);
/* Builds sample message `which` (0..7) with flatc's builder into out; returns its size, or 0
 * when `which` is unknown or it does not fit. */
size_t wsfb_build(int which, uint8_t *out, size_t cap);

#define WSFB_SAMPLES 8

#ifdef __cplusplus
}
#endif

#endif
