/* Fuzz target: the streaming eventlog decoder (lib/evlog.c) with the show and JSON renderers of
 * each event. Property: feeding the input whole, split in two at any point, or (for small inputs)
 * byte by byte yields the same events (every event rendered as `ghc-events show` text and JSON,
 * hashed in order), the same warnings and the same final result; raw mode never crashes. */
#include "evjson.h"
#include "evlog.h"
#include "evshow.h"
#include "outbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one decoding pass saw. */
typedef struct seen {
    uint64_t hash; /* FNV-1a over every event's rendering, types and warnings, in order */
    uint64_t events, markers, types, warnings;
    int feed_rc, finish_rc;
    uint64_t err_off;
    outbuf_t text;
} seen_t;

static void mix(seen_t *s, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        s->hash = (s->hash ^ b[i]) * 0x100000001b3ull;
}

static int on_type(void *ctx, const evlog_type_info_t *t)
{
    seen_t *s = ctx;
    s->types++;
    mix(s, &t->num, sizeof t->num);
    mix(s, &t->size, sizeof t->size);
    mix(s, t->desc.p, t->desc.len);
    return 0;
}

static int on_event(void *ctx, const evlog_event_t *ev)
{
    seen_t *s = ctx;
    s->events++;
    s->markers += ev->type == EVLOG_BLOCK_MARKER && ev->known; /* else an unknown event */
    s->text.len = 0;
    evshow_event(&s->text, ev);
    evjson_event(&s->text, ev);
    mix(s, s->text.buf, s->text.len);
    uint64_t head[3] = {ev->ts, ev->offset, (uint64_t)ev->cap << 32 | ev->type};
    mix(s, head, sizeof head);
    mix(s, ev->payload, ev->size);
    return 0;
}

static void on_warning(void *ctx, evlog_warning_t w, uint64_t offset, uint64_t count)
{
    seen_t *s = ctx;
    s->warnings++;
    uint64_t v[3] = {(uint64_t)w, offset, count};
    mix(s, v, sizeof v);
}

/* Decodes data in chunks of `chunk` bytes after a first chunk of `first` bytes. */
static void run(const uint8_t *data, size_t size, size_t first, size_t chunk, bool raw, seen_t *s)
{
    memset(s, 0, sizeof *s);
    s->hash = 0xcbf29ce484222325ull;
    if (outbuf_init(&s->text, -1, 4096) < 0) abort();
    evlog_sink_t sink = {on_type, on_event, on_warning, s};
    evlog_t d;
    if (evlog_init(&d, &sink) < 0) abort();
    evlog_set_raw(&d, raw);
    size_t at = 0;
    int rc = 0;
    if (first) {
        rc = evlog_feed(&d, data, first);
        at = first;
    }
    while (rc == 0 && at < size) {
        size_t n = size - at < chunk ? size - at : chunk;
        rc = evlog_feed(&d, data + at, n);
        at += n;
    }
    s->feed_rc = rc;
    s->finish_rc = rc == 0 ? evlog_finish(&d) : rc;
    s->err_off = evlog_error_offset(&d);
    if (evlog_events(&d) != s->events - s->markers) {
        fprintf(stderr, "evlog_events %llu, but %llu events and %llu block markers were emitted\n",
                (unsigned long long)evlog_events(&d), (unsigned long long)s->events,
                (unsigned long long)s->markers);
        abort();
    }
    evlog_dispose(&d);
    outbuf_dispose(&s->text);
}

static void same(const seen_t *a, const seen_t *b, const char *what)
{
    if (a->hash != b->hash || a->events != b->events || a->types != b->types ||
        a->warnings != b->warnings || a->feed_rc != b->feed_rc || a->finish_rc != b->finish_rc ||
        (a->feed_rc < 0 && a->err_off != b->err_off)) {
        fprintf(stderr,
                "evlog %s differs from whole: events %llu/%llu warnings %llu/%llu rc %d/%d "
                "finish %d/%d\n",
                what, (unsigned long long)a->events, (unsigned long long)b->events,
                (unsigned long long)a->warnings, (unsigned long long)b->warnings, a->feed_rc,
                b->feed_rc, a->finish_rc, b->finish_rc);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    seen_t whole, split;
    run(data, size, 0, size ? size : 1, false, &whole);
    /* two chunks, split where a hash of the input says (so every split point gets explored) */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ull;
    size_t cut = size ? (size_t)(h % (size + 1)) : 0;
    run(data, size, cut, size, false, &split);
    same(&whole, &split, "split in two");
    /* then byte by byte (small inputs) or split in half */
    if (size <= 2048) {
        run(data, size, 0, 1, false, &split);
        same(&whole, &split, "byte by byte");
    } else {
        run(data, size, size / 2, size, false, &split);
        same(&whole, &split, "split in half");
    }
    seen_t raw;
    run(data, size, 0, size ? size : 1, true, &raw);
    if (whole.finish_rc == 0 && (raw.events != whole.events || raw.finish_rc != 0)) {
        /* raw mode skips field decoding only: a log that decodes decodes the same in raw mode */
        fprintf(stderr, "evlog raw mode differs: events %llu/%llu rc %d/%d\n",
                (unsigned long long)raw.events, (unsigned long long)whole.events, raw.feed_rc,
                whole.feed_rc);
        abort();
    }
    return 0;
}
