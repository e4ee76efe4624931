#!/usr/bin/python3
"""Writes the hand-made conversations of the fuzz_h2_engine seed corpus
(bytes after the client preface). The rest of the corpus: the inputs of
fuzz_h2_server's corpus, and found_* files that a libFuzzer run kept for new
coverage (-merge=1). Run from this folder; the output is committed."""
import struct

def frame(t, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([t, flags]) + \
        struct.pack(">I", sid) + payload

DATA, HEADERS, RST, SETTINGS, PING, GOAWAY, WINUP, CONT = 0, 1, 3, 4, 6, 7, 8, 9
ES, EH, ACK = 0x1, 0x4, 0x1

def lit(n, v):  # HPACK literal without indexing, no Huffman
    n, v = n.encode(), v.encode()
    return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v

def req(path="/weft.test.Echo/Echo", ctype="application/grpc"):
    # :method POST (3), :scheme http (6), then literals
    return b"\x83\x86" + lit(":path", path) + lit(":authority", "a") + \
        lit("content-type", ctype) + lit("te", "trailers")

def grpc_msg(b):
    return b"\x00" + struct.pack(">I", len(b)) + b

def settings(**kv):
    ids = {"window": 4, "frame": 5, "streams": 3, "table": 1}
    return frame(SETTINGS, 0, 0, b"".join(
        struct.pack(">HI", ids[k], v) for k, v in kv.items()))

seeds = {
    # A small client window: the 300 KB answers wait for WINDOW_UPDATEs.
    "engine_flow_control": settings(window=100) + frame(SETTINGS, ACK, 0) +
        frame(HEADERS, EH, 1, req()) + frame(DATA, ES, 1, grpc_msg(b"hi")) +
        frame(HEADERS, EH | ES, 5, req()) +
        frame(WINUP, 0, 1, struct.pack(">I", 1000)) +
        frame(WINUP, 0, 0, struct.pack(">I", 100000)) +
        frame(PING, 0, 0, b"12345678") +
        frame(WINUP, 0, 5, struct.pack(">I", 1 << 20)),
    # Several streams: a reset, a refused id (11), a failing body (13),
    # then GOAWAY.
    "engine_streams_rst_goaway": settings() +
        b"".join(frame(HEADERS, EH, i, req()) for i in (1, 3, 5, 7, 11, 13)) +
        frame(DATA, 0, 3, b"part") + frame(RST, 0, 3, struct.pack(">I", 8)) +
        frame(DATA, ES, 1, b"x" * 100) + frame(DATA, ES, 13, b"y") +
        frame(DATA, ES, 5, b"") + frame(GOAWAY, 0, 0, struct.pack(">II", 13, 0)),
    # A header block split over CONTINUATIONs, then trailers from the client.
    "engine_continuation_trailers": settings() +
        frame(HEADERS, 0, 1, req()[:7]) + frame(CONT, 0, 1, req()[7:20]) +
        frame(CONT, EH, 1, req()[20:]) + frame(DATA, 0, 1, grpc_msg(b"a")) +
        frame(HEADERS, EH | ES, 1, lit("x-trailer", "1")),
    # A half-sent header block: the header timeout fires at the end.
    "engine_header_timeout": settings() + frame(HEADERS, 0, 1, req()),
    # Bodies held past the stream window on stream 5 (never credited).
    "engine_held_window": settings() + frame(HEADERS, EH, 5, req()) +
        b"".join(frame(DATA, 0, 5, b"z" * 16000) for _ in range(17)) +
        frame(DATA, ES, 5, b""),
}
for name, b in seeds.items():
    with open("corpus/" + name, "wb") as f:
        f.write(b)
