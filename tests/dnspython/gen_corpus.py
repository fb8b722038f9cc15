#!/usr/bin/env python3
"""Differential-test corpus for dnspect's wire decoder, built with dnspython.

Modes:
  gen_corpus.py [--count N] [--seed S]
      Builds N varied DNS responses with dnspython (fixed seed: the corpus is the same on every
      run), encodes each with dnspython's compressing to_wire(), decodes the bytes again with
      dnspython, and prints one JSON line per message: the wire hex plus dnspython's view of every
      field. The first line is a preamble with dnspython's version and mnemonic tables.
  gen_corpus.py --decode
      Reads one hex message per stdin line (dnspect's re-encoding) and prints dnspython's view of
      each, or {"error": "..."} when dnspython rejects it.

A view is {"wire", "id", "flags", "rcode", "question": [[name, type, class, type#, class#]],
"answer"/"authority"/"additional": [[name, ttl, class, type, type#, class#, rdata, generic]],
"edns": null | {"payload", "ttl", "options": [[code, hex]]}} where `rdata` is dnspython's
presentation text and `generic` the RFC 3597 form of the same RDATA.

Used by tests/tests/dnspython_diff.rs; needs dnspython (scripts/setup.sh installs it).
"""

import argparse
import ipaddress
import json
import random
import string
import sys

try:
    import dns.edns
    import dns.flags
    import dns.message
    import dns.name
    import dns.opcode
    import dns.rcode
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset
    import dns.version
    from dns.rdtypes import svcbbase
    from dns.rdtypes.util import Bitmap
except ImportError as e:  # pragma: no cover
    sys.stderr.write(f"dnspython is missing ({e}): run scripts/setup.sh\n")
    sys.exit(3)

T = dns.rdatatype
IN = dns.rdataclass.IN

# ---- views -------------------------------------------------------------------------------------


def record_view(rrset, rd):
    # In an UPDATE, dnspython keeps class ANY or NONE (deletions, prerequisites) apart.
    rdclass = int(rrset.deleting if getattr(rrset, "deleting", None) is not None else rrset.rdclass)
    rdtype = int(rrset.rdtype)
    return [
        rrset.name.to_text(),
        rrset.ttl,
        dns.rdataclass.to_text(rdclass),
        dns.rdatatype.to_text(rdtype),
        rdtype,
        rdclass,
        rd.to_text() if rd is not None else "",
        rd.to_generic().to_text() if rd is not None else "\\# 0",
    ]


def section_view(section):
    """One view per record; an UPDATE's RRset without RDATA (RFC 2136 2.4, 2.5) is one record."""
    out = []
    for rrset in section:
        if len(rrset) == 0:
            out.append(record_view(rrset, None))
        out += [record_view(rrset, rd) for rd in rrset]
    return out


def view(msg, wire):
    v = {
        "wire": wire.hex(),
        "id": msg.id,
        "flags": msg.flags,
        "rcode": int(msg.rcode()),
        "question": [
            [
                q.name.to_text(),
                dns.rdatatype.to_text(q.rdtype),
                dns.rdataclass.to_text(q.rdclass),
                int(q.rdtype),
                int(q.rdclass),
            ]
            for q in msg.question
        ],
    }
    for key, section in (("answer", msg.answer), ("authority", msg.authority), ("additional", msg.additional)):
        v[key] = section_view(section)
    # dnspython keeps a TSIG record (the last of the additional section) apart from the section.
    if msg.tsig is not None:
        v["additional"] += [record_view(msg.tsig, rd) for rd in msg.tsig]
    if msg.opt is not None:
        v["edns"] = {
            "payload": msg.payload,
            "ttl": msg.opt.ttl,
            "options": [[int(o.otype), o.to_wire().hex()] for o in msg.options],
        }
    else:
        v["edns"] = None
    return v


# ---- random building blocks ----------------------------------------------------------------------

rng = random.Random()

LABELS = ["www", "mail", "ns1", "ns2", "a", "b", "example", "com", "net", "org", "_tcp", "_udp", "_sip",
          "*", "xn--bcher-kva", "WWW", "Mail", "EXAMPLE", "cdn", "api"]
SUFFIXES = [
    [],
    [b"com"],
    [b"example", b"com"],
    [b"Example", b"COM"],
    [b"example", b"org"],
    [b"sub", b"example", b"com"],
    [b"a.b", b"example", b"net"],  # a label with a dot in it
    [b"\x00\xff \"@$();\\", b"odd"],  # every character dnspython and dnspect escape
    [b"a-rather-long-label-so-that-pointers-save-something-0123456789", b"example", b"net"],
]


def rand_bytes(lo, hi):
    return bytes(rng.randrange(256) for _ in range(rng.randint(lo, hi)))


def rand_label():
    r = rng.random()
    if r < 0.55:
        return rng.choice(LABELS).encode()
    if r < 0.8:
        alphabet = string.ascii_letters + string.digits + "-"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))).encode()
    if r < 0.95:
        return rand_bytes(1, 10)
    return bytes(rng.choice(b"abcdefghijklmnop") for _ in range(rng.randint(40, 63)))


class Names:
    """Names for one message: new ones, or ones already used (so compression has work to do)."""

    def __init__(self):
        self.pool = []

    def new(self):
        while True:
            labels = [rand_label() for _ in range(rng.choice([0, 1, 1, 2, 2, 3]))]
            labels += rng.choice(SUFFIXES) + [b""]
            try:
                n = dns.name.Name(labels)
            except dns.name.NameTooLong:
                continue
            self.pool.append(n)
            return n

    def get(self):
        r = rng.random()
        if self.pool and r < 0.4:
            return rng.choice(self.pool)
        if self.pool and r < 0.55:
            # A new label in front of a name already used.
            base = rng.choice(self.pool)
            try:
                n = dns.name.Name([rand_label()] + list(base.labels))
                self.pool.append(n)
                return n
            except dns.name.NameTooLong:
                pass
        if r > 0.97:
            return dns.name.root
        return self.new()


def rand_ttl():
    return rng.choice([0, 1, 60, 300, 3600, 86400, 2**31 - 1, 2**32 - 1, rng.randrange(2**32), rng.randrange(100000)])


def rand_ipv6():
    r = rng.random()
    if r < 0.15:
        return "::ffff:" + str(ipaddress.IPv4Address(rand_bytes(4, 4)))  # IPv4-mapped
    if r < 0.25:
        return "::" + str(ipaddress.IPv4Address(bytes([rng.randrange(1, 256)]) + rand_bytes(3, 3)))  # IPv4-compatible
    if r < 0.35:
        return rng.choice(["::", "::1", "2001:db8::1", "fe80::1:2", "2001:db8:0:0:1:0:0:1", "64:ff9b::c000:201"])
    if r < 0.6:
        # Runs of zero groups.
        groups = [rng.choice([0, 0, 0, rng.randrange(65536)]) for _ in range(8)]
        return str(ipaddress.IPv6Address(b"".join(g.to_bytes(2, "big") for g in groups)))
    return str(ipaddress.IPv6Address(rand_bytes(16, 16)))


def rand_ipv4():
    return str(ipaddress.IPv4Address(rand_bytes(4, 4)))


def rand_char_string():
    r = rng.random()
    if r < 0.5:
        return "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 30))).encode()
    if r < 0.9:
        return rand_bytes(0, 30)
    return rand_bytes(200, 255)


def rand_types():
    n = rng.randint(0, 8)
    pool = [1, 2, 5, 6, 12, 15, 16, 28, 33, 43, 46, 47, 48, 50, 51, 52, 64, 65, 99, 257]
    types = set()
    for _ in range(n):
        r = rng.random()
        if r < 0.6:
            types.add(rng.choice(pool))
        elif r < 0.85:
            types.add(rng.randrange(1, 300))
        else:
            types.add(rng.randrange(1, 65536))
    return Bitmap.from_rdtypes(sorted(types)).windows if types else ()


# Types dnspython knows and dnspect keeps as opaque RFC 3597 data: their presentation differs by
# design, so the test compares dnspect's \# form with dnspython's to_generic().
OPAQUE_SAMPLES = {
    T.RP: lambda names: f"{names.get()} {names.get()}",
    T.LOC: lambda names: f"{rng.randint(0, 89)} {rng.randint(0, 59)} {rng.randint(0, 59)}.{rng.randint(0, 999):03d} N "
    f"{rng.randint(0, 179)} {rng.randint(0, 59)} 0.000 E {rng.randint(0, 1000)}.00m 1m 10000m 10m",
    T.URI: lambda names: f'{rng.randrange(65536)} {rng.randrange(65536)} "https://example.com/{rng.randrange(10**6)}"',
    T.KX: lambda names: f"{rng.randrange(65536)} {names.get()}",
    T.EUI48: lambda names: "-".join(f"{b:02x}" for b in rand_bytes(6, 6)),
    T.ZONEMD: lambda names: f"{rng.randrange(2**32)} 1 1 {rand_bytes(48, 48).hex()}",
    T.OPENPGPKEY: lambda names: __import__("base64").b64encode(rand_bytes(10, 60)).decode(),
}


def rand_unknown_type():
    while True:
        t = rng.choice([rng.randrange(65280, 65535), rng.randrange(270, 32768), 65535, rng.randrange(69, 99)])
        if dns.rdatatype.to_text(t).startswith("TYPE") and t not in (T.OPT,):
            return t


def rand_svcb_params():
    params = {}
    keys = rng.sample([0, 1, 2, 3, 4, 5, 6, 7, 8, "unknown", "unknown"], rng.randint(0, 7))
    for k in keys:
        if k == 1 or (k == 2 and 1 not in params):
            ids = []
            for _ in range(rng.randint(1, 3)):
                ids.append(rng.choice([b"h2", b"h3", b"http/1.1", b"a,b", b"x\\y", b'q"q', b"sp ace", rand_bytes(1, 8)]))
            params[svcbbase.ParamKey.ALPN] = svcbbase.ALPNParam(ids)
        if k == 2:
            params[svcbbase.ParamKey.NO_DEFAULT_ALPN] = None
        elif k == 3:
            params[svcbbase.ParamKey.PORT] = svcbbase.PortParam(rng.randrange(65536))
        elif k == 4:
            params[svcbbase.ParamKey.IPV4HINT] = svcbbase.IPv4HintParam([rand_ipv4() for _ in range(rng.randint(1, 3))])
        elif k == 5:
            body = rand_bytes(4, 40)
            params[svcbbase.ParamKey.ECH] = svcbbase.ECHParam(len(body).to_bytes(2, "big") + body)
        elif k == 6:
            params[svcbbase.ParamKey.IPV6HINT] = svcbbase.IPv6HintParam([rand_ipv6() for _ in range(rng.randint(1, 3))])
        elif k == 7:
            tmpl = rng.choice([b"/dns-query{?dns}", b"/q{?dns}&x=\"1\"", b"/\\path{?dns}"])
            params[svcbbase.ParamKey.DOHPATH] = svcbbase.GenericParam(tmpl)
        elif k == 8:
            params[svcbbase.ParamKey.OHTTP] = None
        elif k == "unknown":
            key = rng.randrange(11, 65535)
            params[svcbbase.ParamKey.make(key)] = rng.choice([None, svcbbase.GenericParam(rand_bytes(1, 12))])
    if 0 in keys:
        others = [k for k in params if k != svcbbase.ParamKey.MANDATORY]
        if others:
            params[svcbbase.ParamKey.MANDATORY] = svcbbase.MandatoryParam(rng.sample(others, rng.randint(1, len(others))))
    return params


def rand_rdata(rdtype, rdclass, names):
    cls = dns.rdata.get_rdata_class(rdclass, rdtype)
    u8 = lambda: rng.randrange(256)  # noqa: E731
    u16 = lambda: rng.randrange(65536)  # noqa: E731
    u32 = lambda: rng.randrange(2**32)  # noqa: E731
    if rdtype in OPAQUE_SAMPLES:
        return dns.rdata.from_text(rdclass, rdtype, OPAQUE_SAMPLES[rdtype](names))
    if rdtype == T.A:
        return cls(rdclass, rdtype, rand_ipv4())
    if rdtype == T.AAAA:
        return cls(rdclass, rdtype, rand_ipv6())
    if rdtype in (T.NS, T.CNAME, T.DNAME, T.PTR):
        return cls(rdclass, rdtype, names.get())
    if rdtype == T.SOA:
        return cls(rdclass, rdtype, names.get(), names.get(), u32(), u32(), u32(), u32(), u32())
    if rdtype == T.MX:
        return cls(rdclass, rdtype, u16(), names.get())
    if rdtype in (T.TXT, T.SPF):
        return cls(rdclass, rdtype, [rand_char_string() for _ in range(rng.randint(1, 4))])
    if rdtype == T.HINFO:
        return cls(rdclass, rdtype, rand_char_string(), rand_char_string())
    if rdtype == T.SRV:
        return cls(rdclass, rdtype, u16(), u16(), u16(), names.get())
    if rdtype == T.NAPTR:
        flags = rng.choice([b"", b"S", b"A", b"U", b"P", rand_char_string()])
        service = rng.choice([b"SIP+D2U", b"E2U+sip", rand_char_string()])
        regexp = rng.choice([b"", b"!^.*$!sip:info@example.com!", rand_char_string()])
        return cls(rdclass, rdtype, u16(), u16(), flags, service, regexp, names.get())
    if rdtype == T.CAA:
        tag = rng.choice([b"issue", b"issuewild", b"iodef", b"Tag0", "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(1, 15))).encode()])
        value = rng.choice([b"letsencrypt.org", b"ca.example; account=1", b'a"b\\c', rand_bytes(0, 30)])
        return cls(rdclass, rdtype, u8(), tag, value)
    if rdtype in (T.DS, T.CDS):
        digest_type = rng.choice([1, 2, 4, 3, rng.randrange(5, 256)])
        length = {1: 20, 2: 32, 3: 32, 4: 48}.get(digest_type, rng.randint(1, 64))
        return cls(rdclass, rdtype, u16(), rng.choice([5, 8, 13, 15, u8()]), digest_type, rand_bytes(length, length))
    if rdtype in (T.DNSKEY, T.CDNSKEY):
        return cls(rdclass, rdtype, rng.choice([256, 257, u16()]), rng.choice([3, 3, u8()]), rng.choice([8, 13, 15, u8()]), rand_bytes(1, 200))
    if rdtype == T.RRSIG:
        covered = rng.choice([T.A, T.AAAA, T.NS, T.SOA, T.MX, T.TXT, T.DNSKEY, T.DS, T.NSEC, T.HTTPS, rng.randrange(1, 300), rng.randrange(65536)])
        return cls(rdclass, rdtype, covered, rng.choice([8, 13, u8()]), u8(), u32(), u32(), u32(), u16(), names.get(), rand_bytes(1, 160))
    if rdtype == T.NSEC:
        return cls(rdclass, rdtype, names.get(), rand_types())
    if rdtype == T.NSEC3:
        salt = rng.choice([b"", rand_bytes(1, 16)])
        nxt = rand_bytes(20, 20) if rng.random() < 0.7 else rand_bytes(1, 32)
        return cls(rdclass, rdtype, rng.choice([1, u8()]), rng.choice([0, 1, u8()]), rng.choice([0, 10, u16()]), salt, nxt, rand_types())
    if rdtype == T.NSEC3PARAM:
        salt = rng.choice([b"", rand_bytes(1, 16)])
        return cls(rdclass, rdtype, rng.choice([1, u8()]), rng.choice([0, u8()]), rng.choice([0, u16()]), salt)
    if rdtype in (T.TLSA, T.SMIMEA):
        mtype = rng.choice([0, 1, 2, rng.randrange(3, 256)])
        length = {1: 32, 2: 64}.get(mtype, rng.randint(1, 100))
        return cls(rdclass, rdtype, rng.choice([0, 1, 2, 3, u8()]), rng.choice([0, 1, u8()]), mtype, rand_bytes(length, length))
    if rdtype == T.SSHFP:
        fp_type = rng.choice([1, 2, rng.randrange(3, 256)])
        length = {1: 20, 2: 32}.get(fp_type, rng.randint(1, 40))
        return cls(rdclass, rdtype, rng.choice([1, 2, 3, 4, u8()]), fp_type, rand_bytes(length, length))
    if rdtype in (T.SVCB, T.HTTPS):
        if rng.random() < 0.2:
            return cls(rdclass, rdtype, 0, names.get(), {})  # AliasMode: no parameters
        return cls(rdclass, rdtype, rng.randrange(1, 65536), rng.choice([dns.name.root, names.get()]), rand_svcb_params())
    # Unknown to both.
    return dns.rdata.GenericRdata(rdclass, rdtype, rand_bytes(0, 60))


# Types whose layout does not depend on the class (dnspython's ANY module): only these get a
# class other than IN, since dnspython decodes e.g. A in class CH with the Chaosnet layout.
TYPED = [T.A, T.AAAA, T.NS, T.CNAME, T.DNAME, T.SOA, T.PTR, T.MX, T.TXT, T.SRV, T.NAPTR, T.CAA, T.DS,
         T.DNSKEY, T.RRSIG, T.NSEC, T.NSEC3, T.NSEC3PARAM, T.TLSA, T.SSHFP, T.SVCB, T.HTTPS, T.HINFO,
         T.CDS, T.CDNSKEY, T.SMIMEA, T.SPF]
CLASS_FREE = [T.NS, T.CNAME, T.DNAME, T.SOA, T.PTR, T.MX, T.TXT, T.CAA, T.DS, T.DNSKEY, T.RRSIG,
              T.NSEC, T.NSEC3, T.NSEC3PARAM, T.TLSA, T.SSHFP, T.HINFO]


def rand_type():
    r = rng.random()
    if r < 0.85:
        return rng.choice(TYPED)
    if r < 0.93:
        return rand_unknown_type()
    return rng.choice(list(OPAQUE_SAMPLES))


def rand_rrset(names, seen):
    for _ in range(100):
        rdtype = rand_type()
        rdclass = IN
        if rng.random() < 0.1 and (rdtype in CLASS_FREE or dns.rdatatype.to_text(rdtype).startswith("TYPE")):
            rdclass = rng.choice([dns.rdataclass.CH, dns.rdataclass.HS, rng.randrange(5, 254), rng.randrange(256, 65280)])
        name = names.get()
        rrset = dns.rrset.RRset(name, rdclass, rdtype)
        ttl = rand_ttl()
        first = rand_rdata(rdtype, rdclass, names)
        rrset.add(first, ttl)
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            rd = rand_rdata(rdtype, rdclass, names)
            if rd.covers() == first.covers():  # an RRSIG RRset covers one type
                rrset.add(rd, ttl)
        # dnspython merges RRsets with the same (name, class, type, covers) when it decodes: keep
        # them unique per section so that its view follows the wire order record by record.
        key = (name.canonicalize(), rdclass, rdtype, first.covers())
        if key not in seen:
            seen.add(key)
            return rrset
    raise RuntimeError("no unique RRset")


def rand_option():
    r = rng.randrange(8)
    if r == 0:
        return dns.edns.NSIDOption(rand_bytes(0, 16))
    if r == 1:
        if rng.random() < 0.5:
            return dns.edns.ECSOption(rand_ipv4(), rng.randint(0, 32), rng.randint(0, 32))
        return dns.edns.ECSOption(rand_ipv6(), rng.randint(0, 128), rng.randint(0, 128))
    if r == 2:
        return dns.edns.CookieOption(rand_bytes(8, 8), rng.choice([b"", rand_bytes(8, 32)]))
    if r == 3:
        return dns.edns.EDEOption(rng.randrange(0, 40), rng.choice([None, "", "stale answer", "filtered by policy"]))
    if r == 4:  # keepalive
        return dns.edns.GenericOption(11, rng.choice([b"", rand_bytes(2, 2)]))
    if r == 5:  # padding
        return dns.edns.GenericOption(12, rng.choice([bytes(rng.randint(0, 40)), rand_bytes(0, 10)]))
    # Codes dnspython and dnspect both keep as opaque data.
    code = rng.choice([1, 2, 4, 5, 6, 7, 9, 13, 14, 16, 17, 19, 20, 26, 65001, rng.randrange(26, 65536)])
    return dns.edns.GenericOption(code, rand_bytes(0, 20))


def rand_message(i):
    names = Names()
    msg = dns.message.Message(id=rng.randrange(65536))
    flags = dns.flags.QR
    for f in (dns.flags.AA, dns.flags.TC, dns.flags.RD, dns.flags.RA, dns.flags.AD, dns.flags.CD):
        if rng.random() < 0.4:
            flags |= f
    if rng.random() < 0.03:
        flags |= 0x0040  # the reserved Z bit
    msg.flags = flags
    msg.set_opcode(rng.choice([dns.opcode.QUERY] * 12 + [dns.opcode.IQUERY, dns.opcode.STATUS, dns.opcode.NOTIFY]))
    nq = rng.choice([1] * 18 + [0, 2])
    for _ in range(nq):
        qtype = rng.choice([rand_type(), T.ANY, T.AXFR])
        msg.question.append(dns.rrset.RRset(names.get(), rng.choice([IN] * 9 + [dns.rdataclass.CH]), qtype))
    for section, n in ((msg.answer, rng.randint(0, 6)), (msg.authority, rng.randint(0, 3)), (msg.additional, rng.randint(0, 4))):
        seen = set()
        for _ in range(n):
            section.append(rand_rrset(names, seen))
    rcode = rng.choice([0] * 6 + [1, 2, 3, 5])
    if rng.random() < 0.75:
        options = [rand_option() for _ in range(rng.choice([0, 0, 1, 1, 2, 3]))]
        ednsflags = dns.flags.DO if rng.random() < 0.5 else 0
        if rng.random() < 0.05:
            ednsflags |= rng.randrange(1, 0x8000)  # Z bits
        msg.use_edns(edns=rng.choice([0] * 15 + [1]), ednsflags=ednsflags, payload=rng.choice([512, 1232, 1400, 4096, 65535, rng.randrange(65536)]), options=options)
        if rng.random() < 0.1:
            rcode = rng.choice([dns.rcode.BADVERS, dns.rcode.BADCOOKIE, 4095])
    msg.set_rcode(rcode)
    return msg


def generate(count, seed):
    rng.seed(seed)
    out = sys.stdout
    out.write(json.dumps({
        "dnspython": dns.version.version,
        "seed": seed,
        "count": count,
        # dnspython's mnemonic tables, so that the Rust side can tell a mnemonic one library
        # lacks from a real difference.
        "types": {dns.rdatatype.to_text(t): t for t in range(0, 65536) if not dns.rdatatype.to_text(t).startswith("TYPE")},
        "classes": {dns.rdataclass.to_text(c): c for c in range(0, 65536) if not dns.rdataclass.to_text(c).startswith("CLASS")},
        "svc_keys": {svcbbase.key_to_text(k): k for k in range(0, 20) if not svcbbase.key_to_text(k).startswith("key")},
    }) + "\n")
    for i in range(count):
        msg = rand_message(i)
        wire = msg.to_wire(max_size=65535)  # not the EDNS payload size, which may be small
        parsed = dns.message.from_wire(wire)
        out.write(json.dumps(view(parsed, wire)) + "\n")


def decode(real=False):
    """`real`: packets from elsewhere: TSIG read without a key, one view per record even where
    dnspython would merge an RRset (an AXFR's closing SOA repeats its first)."""
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        wire = bytes.fromhex(line)
        try:
            if real:
                # keyring=False: read TSIG records without verifying them (no key here).
                m = dns.message.from_wire(wire, keyring=False, one_rr_per_rrset=True)
            else:
                m = dns.message.from_wire(wire)
            v = view(m, wire)
        except Exception as e:  # noqa: BLE001 - report any rejection to the caller
            v = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(v) + "\n")
        sys.stdout.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=1200)
    p.add_argument("--seed", type=int, default=0xD15EC7)
    p.add_argument("--decode", action="store_true", help="read hex messages on stdin, print dnspython's view")
    p.add_argument("--real", action="store_true", help="with --decode: TSIG unverified, one view per record")
    a = p.parse_args()
    if a.decode:
        decode(a.real)
    else:
        generate(a.count, a.seed)


if __name__ == "__main__":
    main()
