#!/usr/bin/python3
"""Traffic of known shape for the lab. Senders print "PACKETS OCTETS": the
packets they put on the wire and their IP-level bytes (IPv4 total length;
IPv6 payload length + 40), the way IPFIX octetDeltaCount counts them.

  udp-send   --dst A --port P --sport S --sizes 100,1000 [--repeat N]
  udp-flood  --dst A --ports LO-HI --sport S --size N [--pps R]
  udp-sink   --bind A --ports LO-HI        (until SIGTERM; prints datagrams received)
  tcp-send   --dst A --port P --sport S --bytes N   (connect, send, FIN, wait for FIN)
  tcp-sink   --bind A --port P             (until SIGTERM; echoes nothing, closes on EOF)
  vlan-send  --iface I --dst-mac M --src A --dst A --vlan V --sport S --port P --sizes ...
             (UDP in 802.1Q-tagged frames, written with scapy on a raw socket)
"""

import argparse
import selectors
import signal
import socket
import sys
import threading
import time


def ip_overhead(addr):
    return 48 if ":" in addr else 28  # IP header + UDP header


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def parse_ports(spec):
    lo, _, hi = spec.partition("-")
    return range(int(lo), int(hi or lo) + 1)


def udp_send(a):
    s = socket.socket(family(a.dst), socket.SOCK_DGRAM)
    s.bind(("::" if ":" in a.dst else "0.0.0.0", a.sport))
    packets = octets = 0
    for _ in range(a.repeat):
        for size in (int(x) for x in a.sizes.split(",")):
            s.sendto(b"x" * size, (a.dst, a.port))
            packets += 1
            octets += size + ip_overhead(a.dst)
            time.sleep(a.gap)
    s.close()
    print(packets, octets)


def udp_flood(a):
    s = socket.socket(family(a.dst), socket.SOCK_DGRAM)
    s.bind(("::" if ":" in a.dst else "0.0.0.0", a.sport))
    packets = octets = 0
    gap = 1.0 / a.pps if a.pps else 0
    for port in parse_ports(a.ports):
        s.sendto(b"f" * a.size, (a.dst, port))
        packets += 1
        octets += a.size + ip_overhead(a.dst)
        if gap:
            time.sleep(gap)
    s.close()
    print(packets, octets)


def udp_sink(a):
    sel = selectors.DefaultSelector()
    socks = []
    for port in parse_ports(a.ports):
        s = socket.socket(family(a.bind), socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.bind, port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    received = 0
    print(f"udp sink on {a.bind} ports {a.ports}", file=sys.stderr, flush=True)
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.2):
            try:
                while True:
                    key.fileobj.recv(65535)
                    received += 1
            except BlockingIOError:
                pass
    print(received, flush=True)


def tcp_send(a):
    s = socket.socket(family(a.dst), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::" if ":" in a.dst else "0.0.0.0", a.sport))
    s.settimeout(20)
    s.connect((a.dst, a.port))
    chunk = b"t" * 65536
    left = a.bytes
    while left > 0:
        n = s.send(chunk[:min(left, len(chunk))])
        left -= n
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):  # the sink closes after our FIN: wait for its FIN
        pass
    s.close()
    print(a.bytes)


def tcp_sink(a):
    srv = socket.socket(family(a.bind), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((a.bind, a.port))
    srv.listen(16)
    srv.settimeout(0.2)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    total = [0]

    def serve(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                total[0] += len(data)

    print(f"tcp sink on {a.bind}:{a.port}", file=sys.stderr, flush=True)
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    print(total[0], flush=True)


def vlan_send(a):
    from scapy.all import Dot1Q, Ether, IP, IPv6, UDP, conf, sendp  # slow import: only here

    conf.verb = 0
    l3 = IPv6(src=a.src, dst=a.dst, hlim=a.ttl) if ":" in a.dst else IP(src=a.src, dst=a.dst,
                                                                          ttl=a.ttl)
    frames = []
    octets = 0
    for _ in range(a.repeat):
        for size in (int(x) for x in a.sizes.split(",")):
            frames.append(Ether(dst=a.dst_mac) / Dot1Q(vlan=a.vlan) / l3 /
                          UDP(sport=a.sport, dport=a.port) / (b"v" * size))
            octets += size + ip_overhead(a.dst)
    sendp(frames, iface=a.iface, inter=a.gap)
    print(len(frames), octets)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("udp-send")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sport", type=int, required=True)
    p.add_argument("--sizes", required=True)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--gap", type=float, default=0.005)
    p.set_defaults(fn=udp_send)

    p = sub.add_parser("udp-flood")
    p.add_argument("--dst", required=True)
    p.add_argument("--ports", required=True)
    p.add_argument("--sport", type=int, required=True)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--pps", type=float, default=2000)
    p.set_defaults(fn=udp_flood)

    p = sub.add_parser("udp-sink")
    p.add_argument("--bind", required=True)
    p.add_argument("--ports", required=True)
    p.set_defaults(fn=udp_sink)

    p = sub.add_parser("tcp-send")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sport", type=int, required=True)
    p.add_argument("--bytes", type=int, required=True)
    p.set_defaults(fn=tcp_send)

    p = sub.add_parser("tcp-sink")
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, required=True)
    p.set_defaults(fn=tcp_sink)

    p = sub.add_parser("vlan-send")
    p.add_argument("--iface", required=True)
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--vlan", type=int, required=True)
    p.add_argument("--sport", type=int, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sizes", required=True)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--ttl", type=int, default=64)
    p.add_argument("--gap", type=float, default=0.005)
    p.set_defaults(fn=vlan_send)

    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
