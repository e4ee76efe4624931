"""Memory per idle HTTP/1.1 keep-alive connection: opens N connections,
each makes one request and reads its response, then all stay open; prints
the RSS growth of the given processes per connection, in bytes.

usage: idle_conns.py PORT N REQUEST_FILE PID [PID...]
"""
import resource
import socket
import sys
import time

port, n, reqfile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
pids = [int(p) for p in sys.argv[4:]]
req = open(reqfile, "rb").read()
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))


def rss():
    total = 0
    for p in pids:
        with open(f"/proc/{p}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


before = rss()
socks, pending = [], []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    socks.append(s)
    pending.append(s)
    if len(pending) == 200 or i == n - 1:  # read the answers in batches
        for t in pending:
            got = b""
            while b"\r\n\r\n" not in got:
                got += t.recv(4096)
        pending = []
time.sleep(0.5)
after = rss()
print(f"{(after - before) / n:.0f}")
for s in socks:
    s.close()
