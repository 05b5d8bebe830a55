// Test-only C++ side of the WebSocket message tests: flatc's generated reader, Verifier and
// builder for proto/ws.fbs (build/gen/ws_generated.h), exposed to the C tests as plain functions
// so that the hand-written C encoder and decoder are checked against flatc's own code.
#include "wsfb.h"

#include "ws_generated.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace ws = liveprof::ws;

namespace {

void put(std::string &o, const char *name, const flatbuffers::String *s)
{
    o += ' ';
    o += name;
    o += '=';
    if (s) o.append(s->c_str(), s->size());
}

void put(std::string &o, const char *name, unsigned long long v)
{
    char b[48];
    snprintf(b, sizeof b, " %s=%llu", name, v);
    o += b;
}

std::string describe(const ws::Message *m)
{
    std::string o;
    switch (m->body_type()) {
    case ws::Body_Snapshot: {
        auto s = m->body_as_Snapshot();
        o = "Snapshot";
        put(o, "diagram", s->diagram());
        put(o, "seq", s->seq());
        put(o, "svg", s->svg());
        put(o, "from", s->from_ns());
        put(o, "to", s->to_ns());
        break;
    }
    case ws::Body_Delta: {
        auto d = m->body_as_Delta();
        o = "Delta";
        put(o, "seq", d->seq());
        put(o, "diagram", d->diagram());
        put(o, "from", d->from_ns());
        put(o, "to", d->to_ns());
        put(o, "items", d->items() ? d->items()->size() : 0);
        if (d->items())
            for (auto it : *d->items()) {
                o += "\n item";
                put(o, "op", it->op());
                put(o, "id", it->id());
                put(o, "parent", it->parent());
                put(o, "svg", it->svg());
                put(o, "before", it->before());
                put(o, "attrs", it->attrs() ? it->attrs()->size() : 0);
                if (it->attrs())
                    for (auto a : *it->attrs()) {
                        o += "\n  attr";
                        put(o, "name", a->name());
                        put(o, "value", a->value());
                        put(o, "remove", a->remove());
                        put(o, "splice", a->splice());
                        put(o, "at", a->at());
                        put(o, "cut", a->cut());
                    }
            }
        break;
    }
    case ws::Body_State: {
        auto s = m->body_as_State();
        o = "State";
        put(o, "state", s->state());
        put(o, "bytes", s->bytes_ingested());
        put(o, "events", s->events());
        put(o, "end", s->end_ns());
        break;
    }
    case ws::Body_Error: {
        auto e = m->body_as_Error();
        o = "Error";
        put(o, "code", e->code());
        put(o, "message", e->message());
        break;
    }
    case ws::Body_Hello:
        o = "Hello";
        put(o, "last_seq", m->body_as_Hello()->last_seq());
        break;
    case ws::Body_Subscribe: {
        auto s = m->body_as_Subscribe();
        o = "Subscribe";
        put(o, "diagrams", s->diagrams() ? s->diagrams()->size() : 0);
        if (s->diagrams())
            for (auto n : *s->diagrams())
                put(o, "d", n);
        put(o, "from", s->from_ns());
        put(o, "to", s->to_ns());
        break;
    }
    default:
        o = "NONE";
    }
    return o;
}

size_t finish(flatbuffers::FlatBufferBuilder &b, ws::Body type, flatbuffers::Offset<void> body,
              uint8_t *out, size_t cap)
{
    b.Finish(ws::CreateMessage(b, type, body), ws::MessageIdentifier());
    if (b.GetSize() > cap) return 0;
    memcpy(out, b.GetBufferPointer(), b.GetSize());
    return b.GetSize();
}

} // namespace

extern "C" int wsfb_verify(const uint8_t *buf, size_t len)
{
    flatbuffers::Verifier v(buf, len);
    return ws::VerifyMessageBuffer(v) ? 1 : 0;
}

extern "C" size_t wsfb_describe(const uint8_t *buf, size_t len, char *out, size_t cap)
{
    if (!wsfb_verify(buf, len)) return 0;
    std::string s = describe(ws::GetMessage(buf));
    if (s.size() + 1 > cap) return 0;
    memcpy(out, s.c_str(), s.size() + 1);
    return s.size();
}

extern "C" size_t wsfb_build(int which, uint8_t *out, size_t cap)
{
    flatbuffers::FlatBufferBuilder b(256);
    switch (which) {
    case 0:
        return finish(b, ws::Body_Snapshot,
                      ws::CreateSnapshotDirect(b, "grid", 42, "<svg id=\"root\"/>", 1000, 96000000)
                          .Union(),
                      out, cap);
    case 1: {
        std::vector<flatbuffers::Offset<ws::Attr>> attrs = {
            ws::CreateAttrDirect(b, "height", "120"), ws::CreateAttrDirect(b, "class", "", true)};
        std::vector<flatbuffers::Offset<ws::Item>> items = {
            ws::CreateItemDirect(b, ws::Op_Add, "labels-fib-b3", "labels-fib",
                                 "<rect id=\"labels-fib-b3\"/>", nullptr, "labels-fib-b9"),
            ws::CreateItemDirect(b, ws::Op_Update, "root", nullptr, nullptr, &attrs),
            ws::CreateItemDirect(b, ws::Op_Remove, "threads-7")};
        return finish(b, ws::Body_Delta,
                      ws::CreateDeltaDirect(b, 7, "caps", &items, 0, 1ull << 40).Union(), out, cap);
    }
    case 2:
        return finish(b, ws::Body_State,
                      ws::CreateStateDirect(b, "live", 123456789, 987654, 5000000000ull).Union(),
                      out, cap);
    case 3:
        return finish(b, ws::Body_Error,
                      ws::CreateErrorDirect(b, 1008, "session is private").Union(), out, cap);
    case 4:
        return finish(b, ws::Body_Hello, ws::CreateHello(b, 18446744073709551615ull).Union(), out,
                      cap);
    case 5: {
        std::vector<flatbuffers::Offset<flatbuffers::String>> d = {b.CreateString("grid"),
                                                                   b.CreateString("heapprof")};
        return finish(b, ws::Body_Subscribe, ws::CreateSubscribeDirect(b, &d, 5, 0).Union(), out,
                      cap);
    }
    case 6: /* every field at its default: the tables are empty */
        return finish(b, ws::Body_Delta, ws::CreateDelta(b).Union(), out, cap);
    case 7: /* a Message without a body */
        return finish(b, ws::Body_NONE, 0, out, cap);
    default:
        return 0;
    }
}
