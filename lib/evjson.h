/* The json form of one event for `liveprof dump --format json`: one object per line with the
 * timestamp, capability, type number, ghc-events constructor name and its record fields. */
#ifndef LP_EVJSON_H
#define LP_EVJSON_H

#include "evlog.h"
#include "outbuf.h"

#include <stddef.h>
#include <stdint.h>

/* Appends `{"ts":N,"cap":N|null,"type":N,"name":"...","fields":{...}}` and a newline for `ev`
 * (fields as in evshow_fields; docs/dump.md has the mapping). Any thread. */
void evjson_event(outbuf_t *o, const evlog_event_t *ev);
/* Appends p[0..n) (borrowed) as a JSON string: UTF-8 decoded leniently (each byte that does not
 * start a valid sequence becomes U+FFFD), quotes, backslashes and control characters escaped.
 * The buffer's thread. */
void evjson_text(outbuf_t *o, const uint8_t *p, size_t n);

#endif
