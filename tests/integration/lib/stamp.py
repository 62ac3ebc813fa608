#!/usr/bin/python3
"""Packets that record which programs they passed through, in order.

The test program tests/integration/programs/order_stamp.bpf.c writes its id
into the first zero slot of a UDP payload "L3AF" + 8 slots. Senders here use
UDP checksum 0 (valid for IPv4), so a stamped packet is still delivered.

  stamp.py send --dst 10.10.2.2 [--port 7777] [--count 5]
  stamp.py receive [--port 7777] [--count 5] [--timeout 5]
      prints one JSON list per packet: the non-zero slots, e.g. [2, 3, 1]
"""
import argparse
import json
import socket
import struct
import sys

MAGIC = b"L3AF"
SLOTS = 8


def send(args):
    payload = MAGIC + bytes(SLOTS)
    header = struct.pack("!HHHH", args.sport, args.port, 8 + len(payload), 0)
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP) as s:
        for _ in range(args.count):
            s.sendto(header + payload, (args.dst, 0))


def receive(args):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", args.port))
        s.settimeout(args.timeout)
        got = 0
        while got < args.count:
            try:
                data, _ = s.recvfrom(2048)
            except socket.timeout:
                break
            if not data.startswith(MAGIC):
                continue
            slots = [b for b in data[len(MAGIC):len(MAGIC) + SLOTS] if b != 0]
            print(json.dumps(slots), flush=True)
            got += 1
    return 0 if got == args.count else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--dst", required=True)
    s.add_argument("--port", type=int, default=7777)
    s.add_argument("--sport", type=int, default=47777)
    s.add_argument("--count", type=int, default=5)
    r = sub.add_parser("receive")
    r.add_argument("--port", type=int, default=7777)
    r.add_argument("--count", type=int, default=5)
    r.add_argument("--timeout", type=float, default=5)
    args = p.parse_args()
    if args.cmd == "send":
        send(args)
        return 0
    return receive(args)


if __name__ == "__main__":
    sys.exit(main())
