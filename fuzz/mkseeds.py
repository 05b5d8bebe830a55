#!/usr/bin/env python3
"""Writes the hand-made and sliced seed inputs of the fuzz corpora (fuzz/corpus/<target>/seed-*).
Run from the repository root: python3 fuzz/mkseeds.py. Existing seed files are overwritten;
inputs libFuzzer added (named by their hash) are left alone."""
import os
import struct

DATA = "../shared/data"
LOGS = DATA + "/eventlogs"


def put(target, name, data):
    d = "fuzz/corpus/" + target
    os.makedirs(d, exist_ok=True)
    with open(d + "/seed-" + name, "wb") as f:
        f.write(data)


# ---- eventlogs -----------------------------------------------------------------------------
VAR = 0xFFFF
TYPES = {0: 4, 1: 4, 2: 10, 3: 4, 4: 6, 8: 6, 9: 0, 10: 0, 17: 2, 18: 14, 19: VAR, 44: VAR,
         45: 2, 49: 12, 50: 12, 51: 12, 58: VAR, 16: VAR, 160: VAR, 164: VAR}


def header(types=TYPES):
    h = b"hdrb" + b"hetb"
    for num, size in sorted(types.items()):
        desc = b"t%d" % num
        h += b"etb\0" + struct.pack(">Hh", num, size if size != VAR else -1)
        h += struct.pack(">I", len(desc)) + desc + struct.pack(">I", 0) + b"ete\0"
    return h + b"hete" + b"hdre" + b"datb"


def ev(t, ts, payload=b"", var=False):
    e = struct.pack(">HQ", t, ts)
    return e + (struct.pack(">H", len(payload)) if var else b"") + payload


def block(cap, events, end):
    body = b"".join(events)
    return ev(18, events and struct.unpack(">Q", events[0][2:10])[0] or 0,
              struct.pack(">IQH", 24 + len(body), end, cap)) + body


def user(ts, text):
    return ev(19, ts, text, var=True)


def small_log():
    c0 = [ev(45, 1, b"\0\0"), ev(17, 2, b"\0\2"), ev(0, 10, struct.pack(">I", 1)),
          ev(1, 11, struct.pack(">I", 1)), user(12, b"START w"), user(13, b"START 3 job"),
          ev(44, 14, struct.pack(">I", 1) + b"main", var=True), ev(9, 20), ev(10, 30),
          user(40, b"STOP 3 job"), ev(2, 50, struct.pack(">IHI", 1, 5, 0)), user(60, b"STOP w"),
          ev(58, 61, b"mark", var=True), ev(50, 62, struct.pack(">IQ", 0, 1 << 20))]
    c1 = [ev(45, 3, b"\0\1"), ev(0, 15, struct.pack(">I", 2)), ev(1, 16, struct.pack(">I", 2)),
          user(17, b"START job"), user(55, b"STOP job"), ev(2, 56, struct.pack(">IHI", 2, 2, 0))]
    return header() + block(0, c0, 62) + block(1, c1, 56) + b"\xff\xff"


def eventlog_seeds():
    seeds = {}
    log = small_log()
    seeds["tiny"] = log
    seeds["tiny-no-end"] = log[:-2]
    seeds["tiny-junk-before"] = b"#!junk\n" + log
    seeds["tiny-restart"] = log[:-2] + log
    seeds["tiny-trailing"] = log + b"after the end"
    seeds["tiny-truncated"] = log[:len(log) - 7]
    seeds["header-only"] = header() + b"\xff\xff"
    seeds["empty"] = b""
    seeds["hdrb"] = b"hdrb"
    seeds["unordered"] = header() + block(1, [ev(45, 50, b"\0\1"), user(90, b"START x")], 90) + \
        block(0, [ev(45, 10, b"\0\0"), user(20, b"START x"), user(95, b"STOP x")], 95) + \
        b"\xff\xff"
    for name in ["fib-labels-user-only", "leech-restart-1.raw"]:
        seeds[name] = open(LOGS + "/" + name + ".eventlog", "rb").read()
    for name in ["fib-labels", "concurrent", "heap", "heap-nonmoving", "sparks", "small"]:
        data = open(LOGS + "/" + name + ".eventlog", "rb").read()
        seeds[name + "-head"] = data[:2684 + 2048]
    return seeds


# ---- scripts -------------------------------------------------------------------------------
SCRIPTS = {
    "default-totals": "GC\nsection \"USER EVENTS (user events are corrected for GC)\"\n"
                      "all user by total\nsum user\nsection \"THREAD EVENTS\"\n"
                      "all thread by name\nsum thread\n",
    "default-timed": "GC\nsection \"USER EVENTS\"\nall user by name\nsection \"THREAD EVENTS\"\n"
                     "all thread by name\n",
    "ids": "GC as \"gc\"\n\"job\" as \"\\955\\x3bb\\n\\\"q\\\"\"\n0x1f\n0o17 as \"t\"\n17\n",
    "filters": "all [GC, user, thread \"work(er)?-[0-9]+\", thread \"-main\", 5] by start\n"
               "sum [\"a\", \"b\"] as \"ab\"\n",
    "comments": "{- block {- nested -} -}\nGC -- to the end\n  section\t\"x\"\n",
    "bad-regex": "all thread \"(unclosed\"\n",
    "bad-string": "section \"\\q\"\n",
    "unterminated": "section \"never ends\n",
    "escapes": "\"\\SOH\\DEL\\^A\\1114111\\&\\   \\x\"\n",
}


# ---- WebSocket frames (a server's, as the dialling server parses them) ------------------------
def ws_frame(op, payload, fin=True, mask=None):
    b = bytes([(0x80 if fin else 0) | op])
    n, m = len(payload), 0x80 if mask else 0
    if n < 126:
        b += bytes([m | n])
    elif n < 65536:
        b += bytes([m | 126]) + n.to_bytes(2, "big")
    else:
        b += bytes([m | 127]) + n.to_bytes(8, "big")
    if mask:
        b += mask
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return b + payload


def wsframe_seeds():  # the first byte picks the piece size
    upgrade = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    return {
        "binary": b"\0" + ws_frame(2, b"hello world"),
        "fragments-ping": b"\3" + ws_frame(2, b"abc", False) + ws_frame(9, b"p") + ws_frame(0, b"def"),
        "masked": b"\5" + ws_frame(2, bytes(range(200)), mask=b"\1\2\3\4"),
        "close": b"\1" + ws_frame(8, b"\3\xe8bye"),
        "response": b"\7" + upgrade + ws_frame(2, b"x"),
        "len16": b"\x10" + ws_frame(2, b"y" * 300),
    }


def main():
    for name, data in wsframe_seeds().items():
        put("wsframe", name, data)
    for name, data in eventlog_seeds().items():
        put("evlog", name, data)
        put("live", name, data)
        if len(data) < 16384:
            put("pipeline", name, data)
    put("pipeline", "tiny-window", small_log() + b"\x01")
    for name, text in SCRIPTS.items():
        put("script", name, text.encode())
    put("script", "custom",
        open(DATA + "/expected/small/script-custom/custom.script", "rb").read())
    rest = {
        "path-session": b"\0/api/sessions/0123456789abcdef0123456789abcdef/totals.txt",
        "path-upload": b"\0/api/uploads/abc/finish",
        "path-traversal": b"\0/api/sessions/%2e%2e%2f%2e%2e/aggregates",
        "path-users": b"\0/api/users/admin",
        "query-offset": b"\1offset\nname=x&offset=4096",
        "query-bins": b"\1bins\nseries=threads&from=0&to=18446744073709551615&bins=100",
        "query-overflow": b"\1offset\noffset=18446744073709551616",
        "query-encoded": b"\1name\nna%6De=a+b%20c&name",
        "json-user": b"\2{\"name\":\"bob\",\"password\":\"secret-pw\",\"role\":\"user\"}",
        "json-connection": b"\2{\"name\":\"m\",\"host\":\"127.0.0.1\",\"port\":9000,\"token\":\"t\"}",
        "json-session": b"\2{\"name\":\"run 1\",\"visibility\":\"public\"}",
        "json-bad": b"\2{\"port\":65536,\"name\":\"\",\"id\":3,\"x\":[1,{}]}",
        "json-dup": b"\2{\"name\":\"a\",\"name\":\"b\"}",
        "time": b"\3" + b"2024-05-01T12:00:00Z",
        "time-leap": b"\3" + b"2024-02-29T23:59:60Z",
    }
    for name, data in rest.items():
        put("rest", name, data)
    body = b"{\"id\":\"x\"}\n"
    httpc = {
        "length": b"\0HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body,
        "chunked": b"\0HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5\r\nhello\r\n3;ext=1\r\n, w\r\n0\r\nTrailer: x\r\n\r\n",
        "close": b"\0HTTP/1.0 404 Not Found\r\nConnection: close\r\n\r\nno such thing",
        "continue": b"\0HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        "head": b"\1HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
        "keepalive": b"\0HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n"
                     b"okHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "bad-length": b"\0HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
        "too-big": b"\0HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",
        "folded": b"\0HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
    }
    for name, data in httpc.items():
        put("httpc", name, data)


if __name__ == "__main__":
    main()
