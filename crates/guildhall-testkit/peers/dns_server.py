"""A real DNS server for the tests (dnslib), authoritative for whatever the
zone file says, re-read on every query so a test can publish records.

Usage: dns_server.py PORT ZONE_JSON
ZONE_JSON maps lowercase names to lists of TXT strings: {"acme.example": ["..."]}.
A name absent from the file is NXDOMAIN. Prints "ready" once listening
(UDP and TCP on 127.0.0.1).
"""
import json
import sys
import time

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class ZoneFile(BaseResolver):
    def __init__(self, path):
        self.path = path

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        try:
            with open(self.path, encoding="utf-8") as f:
                zone = json.load(f)
        except FileNotFoundError:
            zone = {}
        if name not in zone:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for value in zone[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=0))
        return reply


port, path = int(sys.argv[1]), sys.argv[2]
quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data")
servers = [
    DNSServer(ZoneFile(path), port=port, address="127.0.0.1", logger=quiet, tcp=tcp) for tcp in (False, True)
]
for s in servers:
    s.start_thread()
print("ready", flush=True)
while True:
    time.sleep(3600)
