"""Loopback ports for the servers a test starts itself (nginx,
nats-server, gRPC peers, weft on a fixed port).

A port found by bind(0) and closed again is free only for a moment: until
the server binds it, anything else on the machine may take it, another
test's listener or the local end of an outgoing connection (both draw
from the same ephemeral range). CI runs tests in parallel, and a test
whose nginx lost its port that way talked to a stranger's server.

reserve() keeps each socket bound, with SO_REUSEADDR and never listening,
until release(): meanwhile the kernel gives the port to nobody else (an
ephemeral bind or connect skips a port that has a bound socket), while a
server that sets SO_REUSEADDR itself, as nginx, nats-server (Go), gRPC
core and weft all do, can still bind it and listen. Release a port once
its server listens on it; a reservation left is closed at exit.
"""
import socket

_HELD = {}


def reserve(n=1):
    """n distinct free ports on 127.0.0.1, each held until release()."""
    ports = []
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        _HELD[port] = s
        ports.append(port)
    return ports


def release(port):
    """Lets go of a port from reserve() (no-op for one not held)."""
    s = _HELD.pop(port, None)
    if s is not None:
        s.close()


def release_all():
    for port in list(_HELD):
        release(port)
