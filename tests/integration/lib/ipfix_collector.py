#!/usr/bin/python3
"""A small IPFIX collector for the lab, over UDP or TCP.

Messages are decoded by python3-ipfix (a library nobody here wrote); this
script adds what the tests check on top: the sequence number of every message
against the count of Data Records received before it (RFC 7011 section 3.1,
per Transport Session and Observation Domain), and one JSON line per event in
--out:

  {"type": "session", "event": "open"|"close", "session": "..."}
  {"type": "message", "session": ..., "odid": N, "seq": N, "expected": N|null,
   "seq_ok": bool, "length": N, "data_records": N, "template_records": N}
  {"type": "record", "session": ..., "odid": N, "tid": N, "fields": {IE name: value}}
  {"type": "error", "session": ..., "error": "..."}

A TCP collector accepts any number of connections, one after the other or at
once; each is its own Transport Session (templates and sequence numbers start
afresh). SIGTERM stops it cleanly.
"""

import argparse
import datetime
import io
import ipaddress
import json
import signal
import socket
import sys
import threading

import ipfix.ie
import ipfix.message
import ipfix.template

ipfix.ie.use_iana_default()


class Output:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.lock = threading.Lock()

    def emit(self, obj):
        line = json.dumps(obj, default=_jsonable, sort_keys=True)
        with self.lock:
            self.f.write(line + "\n")
            self.f.flush()


def _jsonable(v):
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return int(v.timestamp() * 1000)
    if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    return str(v)


class Session:
    """Decoding state of one Transport Session: templates and sequence numbers."""

    def __init__(self, name, out):
        self.name = name
        self.out = out
        self.msg = ipfix.message.MessageBuffer()
        self.expected = {}  # odid -> sequence number the next message must carry
        self.unknown_sets = 0
        self.msg.unknown_data_set_hook = self._unknown_set

    def _unknown_set(self, _msg, _setbytes):
        self.unknown_sets += 1

    def handle(self):
        """Decodes the message just read into self.msg."""
        m = self.msg
        unknown_before = self.unknown_sets
        records = []

        def decode(tmpl, buf, offset, recinf=None):
            rec, offset = ipfix.template.Template.decode_namedict_from(tmpl, buf, offset, recinf)
            records.append((tmpl.tid, rec))
            return rec, offset

        for _ in m.record_iterator(decode_fn=decode):
            pass
        template_records = sum(1 for (_o, sid, _l) in m.setlist if sid in (2, 3))
        expected = self.expected.get(m.odid)
        seq_ok = expected is None or expected == m.sequence
        self.expected[m.odid] = (m.sequence + len(records)) % (1 << 32)
        self.out.emit({
            "type": "message", "session": self.name, "odid": m.odid, "seq": m.sequence,
            "expected": expected, "seq_ok": seq_ok, "length": m.length,
            "data_records": len(records), "template_records": template_records,
            "export_time": m.export_epoch,
        })
        if self.unknown_sets != unknown_before:
            self.out.emit({"type": "error", "session": self.name,
                           "error": "data set with an unknown template id"})
        for tid, rec in records:
            self.out.emit({"type": "record", "session": self.name, "odid": m.odid, "tid": tid,
                           "fields": rec})


def serve_udp(sock, out, stop):
    sessions = {}
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(65535)
        except socket.timeout:
            continue
        name = f"udp {peer[0]}:{peer[1]}"
        s = sessions.get(name)
        if s is None:
            s = sessions[name] = Session(name, out)
            out.emit({"type": "session", "event": "open", "session": name})
        try:
            s.msg.read_message(io.BytesIO(data))
            s.handle()
        except Exception as e:  # a bad datagram must not stop the collector
            out.emit({"type": "error", "session": name, "error": repr(e)})


def serve_tcp_connection(conn, peer, number, out):
    name = f"tcp#{number} {peer[0]}:{peer[1]}"
    out.emit({"type": "session", "event": "open", "session": name})
    s = Session(name, out)
    stream = conn.makefile("rb")
    try:
        while True:
            try:
                s.msg.read_message(stream)
            except EOFError:
                break
            s.handle()
    except Exception as e:
        out.emit({"type": "error", "session": name, "error": repr(e)})
    finally:
        out.emit({"type": "session", "event": "close", "session": name})
        stream.close()
        conn.close()


def serve_tcp(sock, out, stop):
    sock.listen(8)
    sock.settimeout(0.2)
    number = 0
    while not stop.is_set():
        try:
            conn, peer = sock.accept()
        except socket.timeout:
            continue
        conn.settimeout(None)
        number += 1
        threading.Thread(target=serve_tcp_connection, args=(conn, peer, number, out),
                         daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transport", choices=["udp", "tcp"], default="udp")
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=4739)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    fam = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    kind = socket.SOCK_DGRAM if args.transport == "udp" else socket.SOCK_STREAM
    sock = socket.socket(fam, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if kind == socket.SOCK_DGRAM:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((args.bind, args.port))
    out = Output(args.out)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"collecting IPFIX over {args.transport} on {args.bind}:{args.port}", file=sys.stderr)
    if args.transport == "udp":
        serve_udp(sock, out, stop)
    else:
        serve_tcp(sock, out, stop)
    sock.close()


if __name__ == "__main__":
    main()
