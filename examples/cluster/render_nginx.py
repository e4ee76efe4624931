#!/usr/bin/python3
"""Renders nginx.conf.in (next to this file) for a weft cluster: the one
renderer scripts/cluster.sh and tests/integration/cluster both use.

  render_nginx.py PREFIX GRPC,H2,WS,TCP NODE... > nginx.conf

PREFIX is a writable directory (temp dirs are made in it); GRPC,H2,WS,TCP
are nginx's own ports; each NODE is "GRPC,H2,WS,TCP", the ports of one weft
node on 127.0.0.1 (a port of -1 leaves that node out of that upstream).
"""
import os
import sys

STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


def render(prefix, ports, nodes, listen="127.0.0.1"):
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "nginx.conf.in")) as f:
        text = f.read()
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(prefix, "tmp", d), exist_ok=True)
    names = ("GRPC", "H2", "WS", "TCP")
    subst = {"@PREFIX@": prefix, "@STREAM_MODULE@": STREAM_MODULE,
             "@LISTEN@": listen}
    for i, name in enumerate(names):
        subst["@%s_PORT@" % name] = str(ports[i])
        servers = ["server 127.0.0.1:%d;" % n[i] for n in nodes if n[i] > 0]
        if not servers:
            raise SystemExit("render_nginx: no node serves %s" % name.lower())
        subst["@%s_SERVERS@" % name] = "\n    ".join(servers)
    for k, v in subst.items():
        text = text.replace(k, v)
    return text


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    ports = [int(p) for p in argv[2].split(",")]
    nodes = [[int(p) for p in n.split(",")] for n in argv[3:]]
    if len(ports) != 4 or any(len(n) != 4 for n in nodes):
        sys.stderr.write("render_nginx: ports come in fours: GRPC,H2,WS,TCP\n")
        return 2
    sys.stdout.write(render(os.path.abspath(argv[1]), ports, nodes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
