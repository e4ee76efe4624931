#!/usr/bin/python3
"""Writes the hand-made server conversations of the fuzz_h2_client_engine
seed corpus (what a server sends to a client that opened streams 1, 3 and
5). The rest of the corpus: found_* files that a libFuzzer run kept for
new coverage (-merge=1). Run from this folder; the output is committed."""
import struct

def frame(t, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([t, flags]) + \
        struct.pack(">I", sid) + payload

DATA, HEADERS, RST, SETTINGS, PING, GOAWAY, WINUP, CONT = 0, 1, 3, 4, 6, 7, 8, 9
ES, EH, ACK = 0x1, 0x4, 0x1

def lit(n, v):  # HPACK literal without indexing, no Huffman
    n, v = n.encode(), v.encode()
    return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v

S200 = b"\x88"  # :status 200, static table
def head(*extra):
    return S200 + b"".join(lit(k, v) for k, v in extra)

def settings(**kv):
    ids = {"window": 4, "frame": 5, "streams": 3, "table": 1}
    return frame(SETTINGS, 0, 0, b"".join(
        struct.pack(">HI", ids[k], v) for k, v in kv.items()))

def env(b, flags=0):  # a Connect envelope
    return bytes([flags]) + struct.pack(">I", len(b)) + b

seeds = {
    # Unary answers, a stream with messages and an end, trailers.
    "client_responses": settings() + frame(SETTINGS, ACK, 0) +
        frame(HEADERS, EH, 1, head(("content-type", "application/proto"))) +
        frame(DATA, ES, 1, b"world") +
        frame(HEADERS, EH, 3, head(("content-type",
                                    "application/connect+proto"))) +
        b"".join(frame(DATA, 0, 3, env(b"m%d" % i)) for i in range(5)) +
        frame(DATA, 0, 3, env(b"{}", 2)) +
        frame(HEADERS, EH | ES, 3, lit("grpc-status", "0")) +
        frame(HEADERS, EH | ES, 5, head()),
    # A small window from the server, WINDOW_UPDATEs, a PING, resets.
    "client_flow_rst": settings(window=10, streams=1) +
        frame(WINUP, 0, 1, struct.pack(">I", 1000)) +
        frame(PING, 0, 0, b"12345678") + frame(PING, ACK, 0, b"\0" * 8) +
        frame(RST, 0, 3, struct.pack(">I", 8)) +
        frame(HEADERS, EH, 5, head()) +
        b"".join(frame(DATA, 0, 5, b"z" * 4000) for _ in range(3)),
    # A 1xx head, a head split over CONTINUATIONs, then GOAWAY.
    "client_continuation_goaway": settings() +
        frame(HEADERS, EH, 1, b"\x08\x03100") +
        frame(HEADERS, 0, 1, head(("x-a", "1"))[:3]) +
        frame(CONT, EH, 1, head(("x-a", "1"))[3:]) +
        frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0)) +
        frame(DATA, ES, 1, b"late"),
    # Malformed: DATA on stream 0, a bad HPACK index, a frame too large.
    "client_data_stream0": settings() + frame(DATA, 0, 0, b"x"),
    "client_bad_hpack": settings() + frame(HEADERS, EH, 1, b"\x80"),
    "client_no_settings": frame(PING, 0, 0, b"12345678"),
    "client_push_promise": settings() +
        frame(5, EH, 1, struct.pack(">I", 2) + head()),
}
for name, b in seeds.items():
    with open("corpus/" + name, "wb") as f:
        f.write(b)
