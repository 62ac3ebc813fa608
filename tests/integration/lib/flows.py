#!/usr/bin/python3
"""Flow arithmetic for the lab: sums and selects exported flow records.

Reads what a collector stored, in one of three forms, and turns each flow
record into the same plain dict:
  --nfdump FILE   `nfdump -o json` output (FILE "-" is stdin; the default)
  --jsonl FILE    lib/ipfix_collector.py output
  --tshark FILE   a pcap of IPFIX over UDP port 4739 (or --port), decoded by tshark
  --pcap FILE     a pcap of the traffic itself: each IP packet is a one-packet
                  record, the ground truth the exported totals are held to

Subcommands (filters: --src --dst --proto --sport --dport --dport-range A-B
--vlan --direction --reason --icmp-type --icmp-code --in-if --out-if):
  sum       prints "PACKETS OCTETS RECORDS" of the matching records
  values K  prints the sorted distinct values of field K, space separated
  list      prints the matching records, one per line (for failure messages)
  seq       (--jsonl only) prints "MESSAGES SEQ_ERRORS DECODE_ERRORS SESSIONS"
"""

import argparse
import ipaddress
import json
import subprocess
import sys

KEYS = ["src", "dst", "sport", "dport", "proto", "icmp_type", "icmp_code", "vlan", "direction",
        "in_if", "out_if", "reason", "min_ttl", "max_ttl", "tcp_flags", "packets", "octets"]


def _addr(a):
    return str(ipaddress.ip_address(a)) if a not in (None, "") else None


def from_nfdump(obj):
    """One `nfdump -o json` FLOW object."""
    if obj.get("type", "FLOW") != "FLOW":
        return None
    src = obj.get("src4_addr") or obj.get("src6_addr")
    dst = obj.get("dst4_addr") or obj.get("dst6_addr")
    return {
        "src": _addr(src), "dst": _addr(dst),
        "sport": obj.get("src_port", 0), "dport": obj.get("dst_port", 0),
        "proto": obj.get("proto"),
        "icmp_type": obj.get("icmp_type"), "icmp_code": obj.get("icmp_code"),
        "vlan": obj.get("src_vlan", obj.get("vlan", 0)),
        "direction": obj.get("direction"),
        "in_if": obj.get("input_snmp"), "out_if": obj.get("output_snmp"),
        "reason": obj.get("end_reason", obj.get("flowEndReason")),
        "min_ttl": obj.get("ttl_min", obj.get("min_ttl")),
        "max_ttl": obj.get("ttl_max", obj.get("max_ttl")),
        "tcp_flags": obj.get("tcp_flags"),
        "packets": int(obj.get("in_packets", 0)), "octets": int(obj.get("in_bytes", 0)),
    }


def from_ipfix_fields(f):
    """A flow record as IE name -> value (python3-ipfix names)."""
    if "octetDeltaCount" not in f or "packetDeltaCount" not in f:
        return None  # an options record (reliability statistics)
    icmp = f.get("icmpTypeCodeIPv4", f.get("icmpTypeCodeIPv6"))
    proto = f.get("protocolIdentifier")
    rec = {
        "src": _addr(f.get("sourceIPv4Address") or f.get("sourceIPv6Address")),
        "dst": _addr(f.get("destinationIPv4Address") or f.get("destinationIPv6Address")),
        "sport": f.get("sourceTransportPort", 0), "dport": f.get("destinationTransportPort", 0),
        "proto": proto,
        "icmp_type": None, "icmp_code": None,
        "vlan": f.get("vlanId", 0), "direction": f.get("flowDirection"),
        "in_if": f.get("ingressInterface"), "out_if": f.get("egressInterface"),
        "reason": f.get("flowEndReason"),
        "min_ttl": f.get("minimumTTL"), "max_ttl": f.get("maximumTTL"),
        "tcp_flags": f.get("tcpControlBits"),
        "packets": int(f["packetDeltaCount"]), "octets": int(f["octetDeltaCount"]),
    }
    if proto in (1, 58) and icmp is not None:
        rec["icmp_type"], rec["icmp_code"] = int(icmp) >> 8, int(icmp) & 0xFF
    return rec


def load_nfdump(path):
    text = sys.stdin.read() if path == "-" else open(path).read()
    text = text.strip()
    if not text:
        return []
    data = json.loads(text)
    return [r for r in (from_nfdump(o) for o in data) if r]


def load_jsonl(path):
    recs, events = [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            ev = json.loads(line)
            events.append(ev)
            if ev["type"] == "record":
                r = from_ipfix_fields(ev["fields"])
                if r:
                    recs.append(r)
    return recs, events




def load_tshark(path, port):
    """Flow records decoded by tshark, one per "Flow N" of each data set. The
    JSON tree keeps every record's fields together: a message may hold IPv4
    and IPv6 sets in any order, so fields are never paired by position."""
    cmd = ["tshark", "-n", "-r", path, "-d", f"udp.port=={port},cflow", "-d",
           f"tcp.port=={port},cflow", "-Y", "cflow.packets", "-T", "json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    recs = []

    def num(flow, name):
        v = flow.get(name)
        return int(v, 0) if isinstance(v, str) and v != "" else None

    for packet in json.loads(out or "[]"):
        layer = packet["_source"]["layers"].get("cflow")
        for message in (layer if isinstance(layer, list) else [layer]):
            if not isinstance(message, dict):
                continue
            for key, dataset in message.items():
                if not key.startswith("Set ") or not isinstance(dataset, dict):
                    continue
                for fkey, flow in dataset.items():
                    if not fkey.startswith("Flow ") or "cflow.packets" not in flow:
                        continue
                    src = flow.get("cflow.srcaddr", flow.get("cflow.srcaddrv6"))
                    dst = flow.get("cflow.dstaddr", flow.get("cflow.dstaddrv6"))
                    recs.append({
                        "src": _addr(src), "dst": _addr(dst),
                        "sport": num(flow, "cflow.srcport"), "dport": num(flow, "cflow.dstport"),
                        "proto": num(flow, "cflow.protocol"), "icmp_type": None,
                        "icmp_code": None,
                        "vlan": num(flow, "cflow.vlanid"),
                        "direction": num(flow, "cflow.direction"),
                        "in_if": num(flow, "cflow.inputint"),
                        "out_if": num(flow, "cflow.outputint"),
                        "reason": num(flow, "cflow.flow_end_reason"),
                        "min_ttl": num(flow, "cflow.ttl_min"),
                        "max_ttl": num(flow, "cflow.ttl_max"),
                        "tcp_flags": None,
                        "packets": num(flow, "cflow.packets"),
                        "octets": num(flow, "cflow.octets"),
                    })
    return recs


PCAP_FIELDS = ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto", "ipv6.nxt", "ip.len",
               "ipv6.plen", "udp.srcport", "udp.dstport", "tcp.srcport", "tcp.dstport",
               "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code", "vlan.id", "ip.ttl",
               "ipv6.hlim", "tcp.flags"]


def load_pcap(path):
    """Ground truth: every IP packet of a capture as a one-packet record, with
    its IP-level length (IPv4 total length, IPv6 payload length + 40). Only
    the outermost headers count (occurrence=f), as they do for l3afd."""
    cmd = ["tshark", "-n", "-r", path, "-Y", "ip or ipv6", "-T", "fields", "-E", "occurrence=f"]
    for fld in PCAP_FIELDS:
        cmd += ["-e", fld]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    recs = []
    for line in out.splitlines():
        c = dict(zip(PCAP_FIELDS, line.split("\t")))

        def num(*names):
            for n in names:
                if c.get(n):
                    return int(c[n], 0)
            return None

        v6 = bool(c["ipv6.src"])
        proto = num("ip.proto")
        if v6:  # the last header, after any extension headers (as l3afd keys flows)
            proto = (6 if c["tcp.srcport"] else 17 if c["udp.srcport"] else
                     58 if c["icmpv6.type"] else num("ipv6.nxt"))
        recs.append({
            "src": _addr(c["ipv6.src"] if v6 else c["ip.src"]),
            "dst": _addr(c["ipv6.dst"] if v6 else c["ip.dst"]),
            "sport": num("udp.srcport", "tcp.srcport") or 0,
            "dport": num("udp.dstport", "tcp.dstport") or 0,
            "proto": proto,
            "icmp_type": num("icmpv6.type" if v6 else "icmp.type"),
            "icmp_code": num("icmpv6.code" if v6 else "icmp.code"),
            "vlan": num("vlan.id") or 0, "direction": None, "in_if": None, "out_if": None,
            "reason": None, "min_ttl": num("ipv6.hlim" if v6 else "ip.ttl"),
            "max_ttl": num("ipv6.hlim" if v6 else "ip.ttl"), "tcp_flags": num("tcp.flags"),
            "packets": 1, "octets": num("ipv6.plen") + 40 if v6 else num("ip.len"),
        })
    return recs


def matches(r, a):
    def eq(key, want, conv=int):
        return want is None or (r.get(key) is not None and conv(r[key]) == conv(want))

    if a.src and r["src"] != _addr(a.src):
        return False
    if a.dst and r["dst"] != _addr(a.dst):
        return False
    if a.dport_range:
        lo, hi = (int(x) for x in a.dport_range.split("-"))
        if r["dport"] is None or not lo <= int(r["dport"]) <= hi:
            return False
    return all([eq("proto", a.proto), eq("sport", a.sport), eq("dport", a.dport),
                eq("vlan", a.vlan), eq("direction", a.direction), eq("reason", a.reason),
                eq("icmp_type", a.icmp_type), eq("icmp_code", a.icmp_code),
                eq("in_if", a.in_if), eq("out_if", a.out_if)])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["sum", "values", "list", "seq"])
    ap.add_argument("key", nargs="?")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--nfdump", default=None)
    src.add_argument("--jsonl", default=None)
    src.add_argument("--tshark", default=None)
    src.add_argument("--pcap", default=None)
    ap.add_argument("--port", type=int, default=4739, help="IPFIX port for --tshark")
    for name in ["src", "dst", "dport-range"]:
        ap.add_argument("--" + name)
    for name in ["proto", "sport", "dport", "vlan", "direction", "reason", "icmp-type",
                 "icmp-code", "in-if", "out-if"]:
        ap.add_argument("--" + name, type=int)
    a = ap.parse_args()

    events = []
    if a.jsonl:
        recs, events = load_jsonl(a.jsonl)
    elif a.tshark:
        recs = load_tshark(a.tshark, a.port)
    elif a.pcap:
        recs = load_pcap(a.pcap)
    else:
        recs = load_nfdump(a.nfdump or "-")

    if a.command == "seq":
        if not a.jsonl:
            raise SystemExit("seq needs --jsonl")
        msgs = [e for e in events if e["type"] == "message"]
        bad = sum(1 for e in msgs if not e["seq_ok"])
        errors = sum(1 for e in events if e["type"] == "error")
        sessions = len({e["session"] for e in events if e["type"] == "session"})
        print(len(msgs), bad, errors, sessions)
        return

    sel = [r for r in recs if matches(r, a)]
    if a.command == "sum":
        print(sum(r["packets"] for r in sel), sum(r["octets"] for r in sel), len(sel))
    elif a.command == "values":
        if a.key not in KEYS:
            raise SystemExit(f"unknown key {a.key}; one of {' '.join(KEYS)}")
        vals = sorted({r[a.key] for r in sel}, key=lambda v: (v is None, str(v) if not isinstance(v, int) else f"{v:020d}"))
        print(" ".join("-" if v is None else str(v) for v in vals))
    else:
        for r in sel:
            print(" ".join(f"{k}={r[k]}" for k in KEYS if r.get(k) not in (None,)))


if __name__ == "__main__":
    main()
