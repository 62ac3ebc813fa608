#!/usr/bin/python3
"""Sends known flow records as IPFIX, laid out like l3afd's templates.

The lab's collector-side checks (nfcapd + nfdump totals, tshark decoding,
sequence numbers, the python collector) are tested with this exporter first,
so a failing flow-export test points at the daemon and not at the harness.
The templates mirror src/ipfix/templates.h: 256 (IPv4 flow), 257 (IPv6
flow), and the options templates 258/259 of RFC 7011 sections 4.3 and 4.2.

Records come from a JSON file (a list of objects, see FIELDS below for the
keys and their defaults); one message carries at most --per-message records.
"""

import argparse
import ipaddress
import json
import socket
import struct
import sys
import time

V4_FIELDS = [(1, 8), (2, 8), (152, 8), (153, 8), (8, 4), (12, 4), (10, 4), (14, 4),
             (7, 2), (11, 2), (32, 2), (58, 2), (6, 2), (4, 1), (5, 1), (61, 1),
             (136, 1), (52, 1), (53, 1)]
V6_FIELDS = [(1, 8), (2, 8), (152, 8), (153, 8), (27, 16), (28, 16), (10, 4), (14, 4),
             (7, 2), (11, 2), (139, 2), (58, 2), (6, 2), (4, 1), (5, 1), (61, 1),
             (136, 1), (52, 1), (53, 1)]
EXPORTING_RELIABILITY = [(144, 4), (166, 8), (167, 8), (168, 8), (323, 8), (323, 8)]
METERING_RELIABILITY = [(149, 4), (164, 8), (165, 8), (323, 8), (323, 8)]

V4_RECORD = struct.Struct("!QQQQ4s4sIIHHHHHBBBBBB")
V6_RECORD = struct.Struct("!QQQQ16s16sIIHHHHHBBBBBB")
assert V4_RECORD.size == 64 and V6_RECORD.size == 88

FIELDS = {
    "src": None, "dst": None, "sport": 0, "dport": 0, "proto": 17,
    "packets": 1, "octets": 100, "icmp_type": 0, "icmp_code": 0,
    "in_if": 0, "out_if": 0, "vlan": 0, "tcp_flags": 0, "tos": 0,
    "direction": 0, "reason": 1, "min_ttl": 64, "max_ttl": 64,
    "start_ms": None, "end_ms": None,
}


def template_set():
    body = b""
    for tid, fields in ((256, V4_FIELDS), (257, V6_FIELDS)):
        body += struct.pack("!HH", tid, len(fields))
        body += b"".join(struct.pack("!HH", i, n) for i, n in fields)
    tset = struct.pack("!HH", 2, 4 + len(body)) + body
    body = b""
    for tid, fields in ((258, EXPORTING_RELIABILITY), (259, METERING_RELIABILITY)):
        body += struct.pack("!HHH", tid, len(fields), 1)
        body += b"".join(struct.pack("!HH", i, n) for i, n in fields)
    oset = struct.pack("!HH", 3, 4 + len(body)) + body
    return tset + oset


def encode_record(rec):
    r = dict(FIELDS)
    r.update(rec)
    now = int(time.time() * 1000)
    start = r["start_ms"] if r["start_ms"] is not None else now - 1000
    end = r["end_ms"] if r["end_ms"] is not None else now
    src = ipaddress.ip_address(r["src"])
    dst = ipaddress.ip_address(r["dst"])
    icmp = r["icmp_type"] * 256 + r["icmp_code"]
    rest = (r["in_if"], r["out_if"], r["sport"], r["dport"], icmp, r["vlan"], r["tcp_flags"],
            r["proto"], r["tos"], r["direction"], r["reason"], r["min_ttl"], r["max_ttl"])
    if src.version == 4:
        return 256, V4_RECORD.pack(r["octets"], r["packets"], start, end, src.packed, dst.packed,
                                   *rest)
    return 257, V6_RECORD.pack(r["octets"], r["packets"], start, end, src.packed, dst.packed,
                               *rest)


def messages(records, domain, per_message, skip_seq, with_options):
    """Yields complete IPFIX messages; the first carries the templates."""
    seq = 0
    first = True
    batches = [records[i:i + per_message] for i in range(0, len(records), per_message)] or [[]]
    for n, batch in enumerate(batches):
        sets = template_set() if first else b""
        first = False
        by_tid = {}
        for rec in batch:
            tid, data = encode_record(rec)
            by_tid.setdefault(tid, []).append(data)
        for tid, datas in sorted(by_tid.items()):
            body = b"".join(datas)
            sets += struct.pack("!HH", tid, 4 + len(body)) + body
        count = len(batch)
        if with_options and n == len(batches) - 1:
            now = int(time.time() * 1000)
            body = struct.pack("!IQQQQQ", 1, 0, 0, 0, now - 1000, now)
            sets += struct.pack("!HH", 258, 4 + len(body)) + body
            body = struct.pack("!IQQQQ", domain, 0, 0, now - 1000, now)
            sets += struct.pack("!HH", 259, 4 + len(body)) + body
            count += 2
        if skip_seq and n == 1:
            seq += skip_seq  # a deliberate gap, to prove the checks notice one
        header = struct.pack("!HHIII", 10, 16 + len(sets), int(time.time()), seq, domain)
        seq += count
        yield header + sets


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--port", type=int, default=4739)
    ap.add_argument("--transport", choices=["udp", "tcp"], default="udp")
    ap.add_argument("--domain", type=int, default=7)
    ap.add_argument("--records", required=True, help="JSON file: a list of records")
    ap.add_argument("--per-message", type=int, default=10)
    ap.add_argument("--skip-seq", type=int, default=0,
                    help="add a gap of this many records to the second message's sequence number")
    ap.add_argument("--options", action="store_true", help="also send the reliability options records")
    args = ap.parse_args()

    with open(args.records) as f:
        records = json.load(f)
    fam = socket.AF_INET6 if ":" in args.dst else socket.AF_INET
    msgs = list(messages(records, args.domain, args.per_message, args.skip_seq, args.options))
    if args.transport == "udp":
        s = socket.socket(fam, socket.SOCK_DGRAM)
        for m in msgs:
            s.sendto(m, (args.dst, args.port))
            time.sleep(0.002)  # gentle: nothing here is about collector buffer sizes
    else:
        s = socket.create_connection((args.dst, args.port), timeout=5)
        for m in msgs:
            s.sendall(m)
        s.shutdown(socket.SHUT_WR)
        s.recv(1)  # wait for the collector to close
    s.close()
    print(f"sent {len(records)} records in {len(msgs)} messages", file=sys.stderr)


if __name__ == "__main__":
    main()
