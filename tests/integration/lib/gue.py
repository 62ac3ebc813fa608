#!/usr/bin/python3
"""Reads the two sides of a mirror: what crossed the watched link and what
the analysis host received over GUE, so that a test compares them byte for
byte. Packets are printed in capture order, one per line, as hex.

  inner PCAP [--port 6080] [--src A] [--dst A] [--ttl N] [--sport flow|N] [--checksum]
             [--l4-checksums] [--write OUT]
        PCAP captured on the analyzer's interface (Ethernet). Every frame must
        be a well-formed GUE packet: outer IPv4 without options or fragments,
        a correct header checksum, total length = the bytes captured, UDP to
        PORT with length = IP length - 20, a zero UDP checksum (or, with
        --checksum, a correct one), GUE variant 0 (version 0, C 0, hlen 0,
        flags 0) and proto 4 or 41 agreeing with the inner IP version. Prints
        each inner IP packet; exits 1 naming the first frame that is wrong.
        --sport flow: the source port must be 49152 + 14 bits of the inner
        5-tuple hash (bpf/gue_abi.h), recomputed here from the inner packet.
        --l4-checksums: the inner TCP, UDP, ICMP and ICMPv6 checksums must be
        right too (checked on packets that are whole and not fragments).
        --write OUT: write the inner packets to OUT (pcap, link type 101: raw
        IP), so that tcpdump filters select from them as from the watched link.
  outer PCAP [--port 6080]
        The same checks; prints one JSON object per packet instead:
        ip_len, udp_len, sport, gue_proto, inner_len, ttl, src, dst.
  frames PCAP [--snaplen N] [--stats] [--mask-l4-checksum]
        PCAP captured on the watched link (or written by inner --write). Prints each frame's IP packet
        (Ethernet header and 802.1Q/802.1ad tags stripped). --snaplen N: cut
        the frame to its first N bytes before stripping, the way the mirror
        does. --stats: print "PACKETS FRAME_BYTES" (bytes counted from the
        Ethernet header, as the mirror's rule counters count them) instead.
        --mask-l4-checksum: zero TCP/UDP checksum fields, to compare a capture
        that shows the partial sums of checksum offload.
  sink --port P [--bind A]
        Binds a UDP socket and never reads it: the kernel accepts mirrored
        packets (no ICMP port unreachable goes back) and drops them once the
        socket buffer is full. Runs until SIGTERM.
"""

import argparse
import ipaddress
import json
import signal
import socket
import struct
import sys

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
VLAN_TYPES = (0x8100, 0x88A8)
GUE_PROTO = {4: 4, 41: 6}  # GUE proto -> inner IP version
PORT_PROTOCOLS = (6, 17, 132, 136)  # TCP, UDP, SCTP, UDP-Lite
IPV6_EXT = (0, 43, 60)  # hop-by-hop, routing, destination options
IPV6_FRAG = 44


class Bad(Exception):
    pass


LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # IP packets without a link-layer header


def read_frames(path, linktypes=(LINKTYPE_ETHERNET,)):
    """The frames of a pcap file and its link type."""
    from scapy.utils import RawPcapReader  # slow import: only here

    frames = []
    reader = RawPcapReader(path)
    try:
        linktype = reader.linktype
        if linktype not in linktypes:
            raise Bad(f"{path}: link type {linktype}, expected one of {linktypes}")
        for data, meta in reader:
            if meta.caplen != meta.wirelen:
                raise Bad(f"{path}: frame {len(frames) + 1} was captured short "
                          f"({meta.caplen} of {meta.wirelen} bytes): capture with -s 0")
            frames.append(bytes(data))
    finally:
        reader.close()
    return frames, linktype


def internet_checksum(data):
    from scapy.utils import checksum

    return checksum(data)


def strip_l2(frame):
    """The frame's L2 header length and ethertype, skipping VLAN tags."""
    if len(frame) < 14:
        raise Bad("shorter than an Ethernet header")
    offset, ethertype = 12, struct.unpack_from("!H", frame, 12)[0]
    while ethertype in VLAN_TYPES:
        offset += 4
        if len(frame) < offset + 2:
            raise Bad("VLAN tag cut short")
        ethertype = struct.unpack_from("!H", frame, offset)[0]
    return offset + 2, ethertype


# --- the inner flow hash of source_port = "flow" (bpf/gue_abi.h) ----------

M32 = 0xFFFFFFFF


def rotl(x, r):
    return ((x << r) | (x >> (32 - r))) & M32


def hash_mix(h, word):
    word = (word * 0xCC9E2D51) & M32
    word = rotl(word, 15)
    word = (word * 0x1B873593) & M32
    h ^= word
    h = rotl(h, 13)
    return (h * 5 + 0xE6546B64) & M32


def hash_final(h):
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    h ^= h >> 16
    return h


def inner_tuple(packet):
    """(address bytes src, dst, protocol, sport, dport) of an IP packet, as
    the mirror's parser reads it: ports only for the first fragment of a
    protocol that carries them, 0 otherwise."""
    version = packet[0] >> 4
    if version == 4:
        ihl = (packet[0] & 0x0F) * 4
        proto = packet[9]
        frag = struct.unpack_from("!H", packet, 6)[0] & 0x1FFF
        src, dst = packet[12:16], packet[16:20]
        l4, first = ihl, frag == 0
    else:
        proto = packet[6]
        src, dst = packet[8:24], packet[24:40]
        l4, first = 40, True
        for _ in range(8):
            if proto in IPV6_EXT:
                proto, l4 = packet[l4], l4 + (packet[l4 + 1] + 1) * 8
            elif proto == IPV6_FRAG:
                first = struct.unpack_from("!H", packet, l4 + 2)[0] & 0xFFF8 == 0
                proto, l4 = packet[l4], l4 + 8
            else:
                break
    sport = dport = 0
    if first and proto in PORT_PROTOCOLS and len(packet) >= l4 + 4:
        sport, dport = struct.unpack_from("!HH", packet, l4)
    return src, dst, proto, sport, dport


def l4_header(packet):
    """(protocol, offset of the L4 header, pseudo-header bytes) of a complete,
    unfragmented IP packet, or None when its L4 checksum cannot be checked
    (cut short by a snaplen, a fragment, IPv6 extension headers)."""
    version = packet[0] >> 4
    if version == 4:
        ihl = (packet[0] & 0x0F) * 4
        tot_len, frag = struct.unpack_from("!H2xH", packet, 2)
        if tot_len != len(packet) or frag & 0x3FFF:
            return None
        proto = packet[9]
        pseudo = packet[12:20] + struct.pack("!BBH", 0, proto, tot_len - ihl)
        return proto, ihl, pseudo
    payload_len = struct.unpack_from("!H", packet, 4)[0]
    proto = packet[6]
    if payload_len + 40 != len(packet) or proto in IPV6_EXT or proto == IPV6_FRAG:
        return None
    pseudo = packet[8:40] + struct.pack("!IxxxB", payload_len, proto)
    return proto, 40, pseudo


L4_CHECKSUM_OFFSET = {6: 16, 17: 6}  # TCP, UDP


def check_l4_checksum(packet):
    """Raises Bad when the inner packet's TCP, UDP, ICMP or ICMPv6 checksum
    is wrong; a packet it cannot check passes."""
    header = l4_header(packet)
    if header is None:
        return
    proto, offset, pseudo = header
    l4 = packet[offset:]
    if proto == 1:  # ICMP: no pseudo-header
        data = l4
    elif proto in (6, 17, 58):
        data = pseudo + l4
    else:
        return
    if proto == 17 and packet[0] >> 4 == 4 and l4[6:8] == b"\0\0":
        return  # UDP over IPv4 without a checksum
    if internet_checksum(data) != 0:
        name = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6"}[proto]
        field = {1: 2, 6: 16, 17: 6, 58: 2}[proto]
        value = struct.unpack_from("!H", l4, field)[0]
        raise Bad(f"inner {name} checksum 0x{value:04x} is wrong")


def mask_l4_checksum(packet):
    """The packet with its TCP or UDP checksum field zeroed (a capture taken
    where the checksum is still left to the device shows a partial sum)."""
    header = l4_header(packet) if packet else None
    if header is None or header[0] not in L4_CHECKSUM_OFFSET:
        return packet
    at = header[1] + L4_CHECKSUM_OFFSET[header[0]]
    return packet[:at] + b"\0\0" + packet[at + 2:]


def flow_port(packet):
    src, dst, proto, sport, dport = inner_tuple(packet)
    h = 0
    for addr in (src, dst):
        for i in range(0, len(addr), 4):
            h = hash_mix(h, struct.unpack_from("!I", addr, i)[0])
    h = hash_mix(h, (sport << 16) | dport)
    h = hash_mix(h, proto)
    return 49152 + (hash_final(h) & 0x3FFF)


# --- the analyzer's side ---------------------------------------------------


def decode_gue(frame, a):
    """Checks one captured frame; returns (facts, inner packet)."""
    l2, ethertype = strip_l2(frame)
    if ethertype != ETH_P_IP:
        raise Bad(f"ethertype 0x{ethertype:04x}, expected IPv4")
    ip = frame[l2:]
    if len(ip) < 20:
        raise Bad("outer IPv4 header cut short")
    if ip[0] != 0x45:
        raise Bad(f"outer version/IHL 0x{ip[0]:02x}, expected 0x45 (IPv4, no options)")
    if internet_checksum(ip[:20]) != 0:
        raise Bad("outer IPv4 header checksum is wrong")
    tot_len, frag = struct.unpack_from("!H2xH", ip, 2)
    if tot_len != len(ip):
        raise Bad(f"outer IPv4 total length {tot_len}, but {len(ip)} bytes follow the "
                  "Ethernet header")
    if frag & 0x3FFF:
        raise Bad(f"outer IPv4 is a fragment (flags/offset 0x{frag:04x})")
    ttl, proto = ip[8], ip[9]
    src = str(ipaddress.IPv4Address(ip[12:16]))
    dst = str(ipaddress.IPv4Address(ip[16:20]))
    if proto != 17:
        raise Bad(f"outer protocol {proto}, expected UDP (17)")
    if a.src and src != a.src:
        raise Bad(f"outer source {src}, expected {a.src}")
    if a.dst and dst != a.dst:
        raise Bad(f"outer destination {dst}, expected {a.dst}")
    if a.ttl is not None and ttl != a.ttl:
        raise Bad(f"outer TTL {ttl}, expected {a.ttl}")
    udp = ip[20:]
    if len(udp) < 12:
        raise Bad("UDP + GUE headers cut short")
    sport, dport, udp_len, udp_sum = struct.unpack_from("!HHHH", udp)
    if dport != a.port:
        raise Bad(f"UDP destination port {dport}, expected {a.port}")
    if udp_len != tot_len - 20:
        raise Bad(f"UDP length {udp_len}, expected IP length - 20 = {tot_len - 20}")
    if a.checksum:
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, udp_len)
        if udp_sum == 0 or internet_checksum(pseudo + udp) != 0:
            raise Bad(f"UDP checksum 0x{udp_sum:04x} is wrong")
    elif udp_sum != 0:
        raise Bad(f"UDP checksum 0x{udp_sum:04x}, expected 0 (checksum = false)")
    gue0, gue_proto, gue_flags = struct.unpack_from("!BBH", udp, 8)
    if gue0 >> 6 != 0:
        raise Bad(f"GUE version {gue0 >> 6}, expected 0")
    if gue0 & 0x20:
        raise Bad("GUE C bit set: a control message, expected data")
    if gue0 & 0x1F:
        raise Bad(f"GUE hlen {gue0 & 0x1F}, expected 0 (no optional fields)")
    if gue_flags != 0:
        raise Bad(f"GUE flags 0x{gue_flags:04x}, expected 0")
    if gue_proto not in GUE_PROTO:
        raise Bad(f"GUE proto {gue_proto}, expected 4 (IPv4) or 41 (IPv6)")
    inner = udp[12:]
    if not inner or inner[0] >> 4 != GUE_PROTO[gue_proto]:
        raise Bad(f"GUE proto {gue_proto} but the inner packet is not IPv{GUE_PROTO[gue_proto]}")
    if a.l4_checksums:
        check_l4_checksum(inner)
    if a.sport == "flow":
        want = flow_port(inner)
        if sport != want:
            raise Bad(f"UDP source port {sport}, expected {want} (the inner flow hash)")
    elif a.sport is not None and sport != int(a.sport):
        raise Bad(f"UDP source port {sport}, expected {a.sport}")
    facts = {
        "ip_len": tot_len,
        "udp_len": udp_len,
        "sport": sport,
        "gue_proto": gue_proto,
        "inner_len": len(inner),
        "ttl": ttl,
        "src": src,
        "dst": dst,
    }
    return facts, inner


def gue_packets(a):
    out = []
    for n, frame in enumerate(read_frames(a.pcap)[0], 1):
        try:
            out.append(decode_gue(frame, a))
        except Bad as e:
            raise Bad(f"{a.pcap}: frame {n}: {e}") from None
    return out


def cmd_inner(a):
    packets = [inner for _, inner in gue_packets(a)]
    if a.write:
        from scapy.utils import RawPcapWriter

        writer = RawPcapWriter(a.write, linktype=LINKTYPE_RAW, sync=True)
        try:
            writer._write_header(None)  # an empty file is a valid pcap, too
            for inner in packets:
                writer._write_packet(inner)
        finally:
            writer.close()
        return
    for inner in packets:
        print(inner.hex())


def cmd_outer(a):
    for facts, _ in gue_packets(a):
        print(json.dumps(facts, sort_keys=True))


# --- the watched link's side -----------------------------------------------


def cmd_frames(a):
    packets = octets = 0
    frames, linktype = read_frames(a.pcap, (LINKTYPE_ETHERNET, LINKTYPE_RAW))
    for n, frame in enumerate(frames, 1):
        try:
            if linktype == LINKTYPE_RAW:
                l2, ethertype = 0, ETH_P_IPV6 if frame and frame[0] >> 4 == 6 else ETH_P_IP
            else:
                l2, ethertype = strip_l2(frame)
        except Bad as e:
            raise Bad(f"{a.pcap}: frame {n}: {e}") from None
        packets += 1
        octets += len(frame)
        if a.stats:
            continue
        if ethertype not in (ETH_P_IP, ETH_P_IPV6):
            raise Bad(f"{a.pcap}: frame {n}: ethertype 0x{ethertype:04x} is not IP")
        kept = frame[:a.snaplen] if a.snaplen else frame
        packet = kept[l2:]
        if a.mask_l4_checksum:
            packet = mask_l4_checksum(packet)
        print(packet.hex())
    if a.stats:
        print(packets, octets)


def cmd_sink(a):
    s = socket.socket(socket.AF_INET6 if ":" in a.bind else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.bind, a.port))
    print(f"discarding UDP on {a.bind}:{a.port}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, fn in (("inner", cmd_inner), ("outer", cmd_outer)):
        p = sub.add_parser(name)
        p.add_argument("pcap")
        p.add_argument("--port", type=int, default=6080)
        p.add_argument("--src")
        p.add_argument("--dst")
        p.add_argument("--ttl", type=int)
        p.add_argument("--sport", help='"flow" or a port number')
        p.add_argument("--checksum", action="store_true")
        p.add_argument("--l4-checksums", action="store_true")
        if name == "inner":
            p.add_argument("--write", metavar="OUT", help="write the inner packets to OUT, a "
                           "pcap of raw IP packets (link type 101), instead of printing them")
        p.set_defaults(fn=fn)
    p = sub.add_parser("frames")
    p.add_argument("pcap")
    p.add_argument("--snaplen", type=int, default=0)
    p.add_argument("--stats", action="store_true")
    p.add_argument("--mask-l4-checksum", action="store_true")
    p.set_defaults(fn=cmd_frames)
    p = sub.add_parser("sink")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--bind", default="0.0.0.0")
    p.set_defaults(fn=cmd_sink)

    a = ap.parse_args()
    try:
        a.fn(a)
    except Bad as e:
        print(f"gue.py: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
