/* JSON rendering of ghc-events' view of an event (see evshow.h): numbers as numbers, texts as
 * strings, enumerations by constructor name, Maybe as the number or null. */
#include "evjson.h"

#include "evshow.h"
#include "hsshow.h"

/* 1 for bytes copied into a JSON string as they are. */
static uint8_t json_plain(uint8_t b)
{
    return b >= 0x20 && b < 0x80 && b != '"' && b != '\\';
}

void evjson_text(outbuf_t *o, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;
    outbuf_putc(o, '"');
    while (i < n) {
        size_t j = i;
        while (j < n && json_plain(p[j]))
            j++;
        if (j > i) {
            outbuf_put(o, p + i, j - i);
            i = j;
            if (i == n) break;
        }
        uint8_t b = p[i];
        char *d = outbuf_reserve(o, 8);
        if (b >= 0x80) {
            uint32_t cp;
            size_t k = hsshow_utf8_next(p + i, n - i, &cp);
            if (k) {
                memcpy(d, p + i, k);
                outbuf_commit(o, k);
                i += k;
            } else {
                memcpy(d, "\xef\xbf\xbd", 3);
                outbuf_commit(o, 3);
                i++;
            }
            continue;
        }
        d[0] = '\\';
        switch (b) {
        case '"':
            d[1] = '"';
            break;
        case '\\':
            d[1] = '\\';
            break;
        case '\b':
            d[1] = 'b';
            break;
        case '\f':
            d[1] = 'f';
            break;
        case '\n':
            d[1] = 'n';
            break;
        case '\r':
            d[1] = 'r';
            break;
        case '\t':
            d[1] = 't';
            break;
        default:
            memcpy(d + 1, "u00", 3);
            d[4] = hex[b >> 4];
            d[5] = hex[b & 15];
            outbuf_commit(o, 6);
            i++;
            continue;
        }
        outbuf_commit(o, 2);
        i++;
    }
    outbuf_putc(o, '"');
}

static void put_hex(outbuf_t *o, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    outbuf_putc(o, '"');
    for (size_t i = 0; i < n; i++) {
        char *d = outbuf_reserve(o, 2);
        d[0] = hex[p[i] >> 4];
        d[1] = hex[p[i] & 15];
        outbuf_commit(o, 2);
    }
    outbuf_putc(o, '"');
}

static void put_key(outbuf_t *o, const char *name, int i)
{
    outbuf_puts(o, i ? ",\"" : "\"");
    outbuf_puts(o, name);
    outbuf_puts(o, "\":");
}

static void put_field(outbuf_t *o, const evshow_field_t *f, int i)
{
    put_key(o, f->name, i);
    switch (f->kind) {
    case EVSHOW_NUM:
    case EVSHOW_KERNEL_TID:
    case EVSHOW_FLAGS:
        outbuf_u64(o, f->u);
        break;
    case EVSHOW_TEXT:
        evjson_text(o, f->bytes.p, f->bytes.len);
        break;
    case EVSHOW_BYTES:
        put_hex(o, f->bytes.p, f->bytes.len);
        break;
    case EVSHOW_ENUM:
        if (f->str) {
            outbuf_putc(o, '"');
            outbuf_puts(o, f->str);
            outbuf_putc(o, '"');
        } else {
            outbuf_puts(o, "null");
        }
        break;
    case EVSHOW_OWNER:
        outbuf_putc(o, '"');
        outbuf_puts(o, f->str);
        outbuf_putc(o, '"');
        put_key(o, "blackHoleOwner", 1);
        outbuf_u64(o, f->u);
        break;
    case EVSHOW_MAYBE:
        if (f->has) {
            outbuf_u64(o, f->u);
        } else {
            outbuf_puts(o, "null");
        }
        break;
    case EVSHOW_TEXT_LIST:
        evshow_text_list(o, f->bytes, evjson_text);
        break;
    case EVSHOW_U32_LIST:
        outbuf_putc(o, '[');
        for (uint64_t k = 0; k < f->u; k++) {
            if (k) outbuf_putc(o, ',');
            outbuf_u64(o, evlog_u32(f->bytes.p + 4 * k));
        }
        outbuf_putc(o, ']');
        break;
    }
}

void evjson_event(outbuf_t *o, const evlog_event_t *ev)
{
    evshow_info_t in;
    evshow_fields(ev, &in);
    outbuf_puts(o, "{\"ts\":");
    outbuf_u64(o, ev->ts);
    outbuf_puts(o, ",\"cap\":");
    if (ev->cap == EVLOG_NO_CAP) {
        outbuf_puts(o, "null");
    } else {
        outbuf_i64(o, ev->cap);
    }
    outbuf_puts(o, ",\"type\":");
    outbuf_u64(o, ev->type);
    outbuf_puts(o, ",\"name\":\"");
    outbuf_puts(o, evshow_ctor_name(in.ctor));
    outbuf_puts(o, "\",\"fields\":{");
    for (int i = 0; i < in.nfields; i++)
        put_field(o, &in.f[i], i);
    outbuf_puts(o, "}}\n");
}
