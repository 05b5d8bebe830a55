// Test-only cross-check of the hand-written C wire codec (lib/wire.c) against flatc's own C++
// code for proto/wire.fbs: the generated Verifier must accept what C encodes and read the same
// fields; C must decode what the generated builder writes. With a directory argument it also
// writes the C-encoded sample frames there (NAME.bin) for the flatc --json golden test.
#include "wire_generated.h"

extern "C" {
#include "err.h"
#include "wire.h"
}

#include <cstdio>
#include <cstring>
#include <string>

using namespace liveprof::wire;

static int failures = 0;
#define EXPECT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            std::fprintf(stderr, "wire_check:%d: %s\n", __LINE__, #c);                             \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static wire_str_t str(const char *s)
{
    return wire_cstr(s);
}

static bool same(const flatbuffers::String *a, wire_str_t b)
{
    if (!a) return b.p == nullptr;
    return b.p && a->size() == b.len && std::memcmp(a->data(), b.p, b.len) == 0;
}

// The C-encoded samples: one per kind, with every field exercised somewhere.
struct sample {
    const char *name;
    wire_frame_t f;
};

static uint8_t payload[3000];
static wire_program_t progs[3];

static int make_samples(sample *s)
{
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7 + 3);
    progs[0] = {str("fib-4242-1a2b"), str("fib"), 123456789, 4242, false};
    progs[1] = {str("srv-7-00ff"), str("srv"), 0, 7, true};
    progs[2] = {str("x"), {nullptr, 0}, 1ull << 40, 0, false};
    int n = 0;
    wire_frame_t f;
    std::memset(&f, 0, sizeof f);
    f.kind = WIRE_HELLO, f.version = WIRE_VERSION, f.token = str("s3cret"), f.text = str("mon");
    s[n++] = {"hello", f};
    std::memset(&f, 0, sizeof f);
    f.kind = WIRE_PROGRAMS, f.progs = progs, f.nprogs = 3, f.seq = 9;
    s[n++] = {"programs", f};
    std::memset(&f, 0, sizeof f);
    f.kind = WIRE_SUBSCRIBE, f.program = str("fib-4242-1a2b"), f.offset = 2688;
    s[n++] = {"subscribe", f};
    std::memset(&f, 0, sizeof f);
    f.kind = WIRE_DATA, f.program = str("fib-4242-1a2b"), f.seq = 17, f.offset = 1ull << 33;
    f.flags = WIRE_FLAG_BLOCK_START, f.data = {payload, 40};
    s[n++] = {"data", f};
    std::memset(&f, 0, sizeof f);
    f.kind = WIRE_GAP, f.program = str("p"), f.seq = 3, f.offset = 100, f.length = 4096;
    s[n++] = {"gap", f};
    std::memset(&f, 0, sizeof f);
    f.kind = WIRE_HEARTBEAT, f.time_ns = 0xfedcba9876543210ull;
    s[n++] = {"heartbeat", f};
    std::memset(&f, 0, sizeof f);
    f.kind = WIRE_ERROR, f.text = str("bad token \"x\"\n");
    s[n++] = {"error", f};
    std::memset(&f, 0, sizeof f);
    f.kind = WIRE_STATE, f.program = str("p"), f.offset = 5, f.data = {payload, 0};
    s[n++] = {"state", f};
    return n;
}

static void check_c_encoded(const sample &s, const char *dir)
{
    static uint8_t buf[WIRE_MAX_FRAME];
    int len = wire_encode(&s.f, buf, sizeof buf);
    EXPECT(len > 0);
    if (len <= 0) return;
    flatbuffers::Verifier v(buf, (size_t)len);
    EXPECT(VerifyFrameBuffer(v));
    EXPECT(FrameBufferHasIdentifier(buf));
    const Frame *fr = GetFrame(buf);
    EXPECT((int)fr->kind() == (int)s.f.kind);
    EXPECT(fr->version() == s.f.version);
    EXPECT(same(fr->program(), s.f.program));
    EXPECT(fr->seq() == s.f.seq && fr->offset() == s.f.offset && fr->length() == s.f.length);
    EXPECT(fr->flags() == s.f.flags && fr->time_ns() == s.f.time_ns);
    EXPECT(same(fr->token(), s.f.token) && same(fr->text(), s.f.text));
    if (s.f.data.p)
        EXPECT(fr->data() && fr->data()->size() == s.f.data.len &&
               std::memcmp(fr->data()->data(), s.f.data.p, s.f.data.len) == 0);
    else
        EXPECT(!fr->data());
    if (s.f.progs) {
        EXPECT(fr->programs() && fr->programs()->size() == s.f.nprogs);
        for (uint32_t i = 0; fr->programs() && i < fr->programs()->size(); i++) {
            const Program *p = fr->programs()->Get(i);
            EXPECT(same(p->id(), s.f.progs[i].id) && same(p->name(), s.f.progs[i].name));
            EXPECT(p->bytes() == s.f.progs[i].bytes && p->pid() == s.f.progs[i].pid);
            EXPECT(p->ended() == s.f.progs[i].ended);
        }
    }
    if (dir) {
        std::string path = std::string(dir) + "/" + s.name + ".bin";
        FILE *out = std::fopen(path.c_str(), "wb");
        EXPECT(out && std::fwrite(buf, 1, (size_t)len, out) == (size_t)len);
        if (out) std::fclose(out);
    }
}

// Frames from the generated builder (back to front, defaults omitted, shared vtables).
static void check_cxx_built()
{
    flatbuffers::FlatBufferBuilder b(1024);
    std::vector<flatbuffers::Offset<Program>> ps;
    for (int i = 0; i < 5; i++) {
        std::string id = "prog-" + std::to_string(i);
        ps.push_back(CreateProgramDirect(b, id.c_str(), 1000ull * i, i % 2 ? "n" : nullptr,
                                         (uint32_t)i, i == 4));
    }
    std::vector<uint8_t> bytes(WIRE_MAX_DATA, 0xab);
    auto fr = CreateFrameDirect(b, Kind_Data, 1, "the-program", 42, 1ull << 50, 7,
                                WIRE_FLAG_BLOCK_START, &bytes, "tok", "txt", &ps, 99);
    FinishFrameBuffer(b, fr);
    wire_frame_t f;
    int rc = wire_decode(&f, b.GetBufferPointer(), b.GetSize());
    EXPECT(rc == 0);
    if (rc) return;
    EXPECT(f.kind == WIRE_DATA && f.version == 1 && f.seq == 42 && f.offset == (1ull << 50));
    EXPECT(f.length == 7 && f.flags == WIRE_FLAG_BLOCK_START && f.time_ns == 99);
    EXPECT(f.data.len == WIRE_MAX_DATA && f.data.p[0] == 0xab &&
           f.data.p[WIRE_MAX_DATA - 1] == 0xab);
    EXPECT(f.program.len == 11 && std::memcmp(f.program.p, "the-program", 11) == 0);
    EXPECT(f.nprogs == 5);
    for (uint32_t i = 0; i < f.nprogs; i++) {
        wire_program_t p;
        EXPECT(wire_program_at(&f, i, &p) == 0);
        std::string id = "prog-" + std::to_string(i);
        EXPECT(p.id.len == id.size() && std::memcmp(p.id.p, id.data(), id.size()) == 0);
        EXPECT(p.bytes == 1000ull * i && p.pid == i && p.ended == (i == 4));
        EXPECT(i % 2 ? p.name.len == 1 : p.name.p == nullptr);
    }
    // Every truncation of a valid builder frame is rejected or decodes within bounds.
    for (size_t n = 0; n < b.GetSize(); n += 97)
        (void)wire_decode(&f, b.GetBufferPointer(), n);

    // A frame with only defaults: everything absent reads as zero.
    flatbuffers::FlatBufferBuilder e;
    FinishFrameBuffer(e, CreateFrame(e));
    EXPECT(wire_decode(&f, e.GetBufferPointer(), e.GetSize()) == 0);
    EXPECT(f.kind == WIRE_HELLO && !f.program.p && !f.data.p && f.nprogs == 0 && f.seq == 0);

    // An unknown kind is rejected by C (the schema's enum ends at Error).
    flatbuffers::FlatBufferBuilder u;
    FinishFrameBuffer(u, CreateFrame(u, (Kind)77));
    EXPECT(wire_decode(&f, u.GetBufferPointer(), u.GetSize()) == LP_EPROTO);
}

int main(int argc, char **argv)
{
    sample s[16];
    int n = make_samples(s);
    for (int i = 0; i < n; i++)
        check_c_encoded(s[i], argc > 1 ? argv[1] : nullptr);
    check_cxx_built();
    if (failures)
        std::fprintf(stderr, "wire_check: %d failures\n", failures);
    else
        std::printf("wire_check: ok (%d C frames verified, builder frames decoded)\n", n);
    return failures ? 1 : 0;
}
