/* The JSON document of GET /aggregates, written directly into memory: a jansson tree of up to
 * 100,000 numbers costs more than the query, and printf's "%.12g" more than the rest together.
 * The bytes are the REST contract's: whole numbers as integers, others as "%.12g", the rest
 * null; names escaped as jansson escapes them. */
#ifndef LP_AGGRJSON_H
#define LP_AGGRJSON_H

#include "aggr.h"
#include "outbuf.h"

/* Sets up `ob` (memory mode; the caller disposes it) holding the document for `res` of the
 * series named `series` (a known series name: written as it is), newline-terminated. Out of
 * memory is fatal. Borrows both. Any thread. */
void aggrjson_write(outbuf_t *ob, const char *series, const aggr_result_t *res);

#endif
