#!/usr/bin/env python3
"""Turns a zone file into DNS responses, one per RRset, for core/tests/data/real/.

  zone_to_wire.py ZONE ORIGIN PREFIX > OUT.txt

Each RRset becomes an authoritative answer (id 0, QR AA, the question the owner and type, the
RRset in the answer section) written by dnspython's compressing encoder, printed as
`PREFIX/<owner>/<TYPE> <hex>`. Records dnspython cannot read are skipped with a note on stderr
. The output is stored in the repository: the test reads the
stored bytes, so a later dnspython cannot change what is tested. Needs dnspython.
"""

import sys

import dns.exception
import dns.flags
import dns.message
import dns.rdatatype
import dns.rrset
import dns.zone


def uncomment(line):
    """The line without its comment (a `;` outside quotes, not escaped)."""
    quoted, escaped = False, False
    for i, c in enumerate(line):
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == '"':
            quoted = not quoted
        elif c == ";" and not quoted:
            return line[:i]
    return line


def entries(text):
    """The zone's records as (first line number, text), each with its owner written out (a
    record that inherits the owner gets the previous one) and its parentheses joined; $ lines
    come through as they are."""
    out, cur, depth, owner, first = [], [], 0, None, 0
    for n, line in enumerate(text.split("\n"), 1):
        body = uncomment(line)
        if not cur:
            if not body.strip():
                continue
            if body.startswith("$"):
                out.append((n, body.strip()))
                continue
            if body[:1] in (" ", "\t"):
                body = f"{owner}{body}"
            else:
                owner = body.split()[0]
            first = n
        cur.append(body)
        depth += body.count("(") - body.count(")")
        if depth <= 0:
            out.append((first, " ".join(cur)))
            cur, depth = [], 0
    return out


def load(text, origin):
    """RRsets in the order of their first record, each record read alone so that one dnspython
    cannot read is skipped (noted on stderr) without losing the rest."""
    head, rrsets = [], {}
    for n, entry in entries(text):
        if entry.startswith("$"):
            head.append(entry)
            continue
        try:
            z = dns.zone.from_text("\n".join(head + [entry]), origin=origin, relativize=False, check_origin=False)
        except dns.exception.DNSException as e:
            sys.stderr.write(f"line {n} skipped (dnspython: {e}): {entry}\n")
            continue
        for name, rds in z.iterate_rdatasets():
            key = (name, rds.rdclass, rds.rdtype)
            if key in rrsets:
                rrsets[key].union_update(rds)
            else:
                rrsets[key] = rds
    return rrsets


def main():
    path, origin, prefix = sys.argv[1:4]
    for (name, _, _), rds in load(open(path, encoding="utf-8").read(), origin).items():
        msg = dns.message.Message(id=0)
        msg.flags = dns.flags.QR | dns.flags.AA
        msg.question.append(dns.rrset.RRset(name, rds.rdclass, rds.rdtype))
        rrset = dns.rrset.RRset(name, rds.rdclass, rds.rdtype)
        rrset.update(rds)
        msg.answer.append(rrset)
        wire = msg.to_wire(max_size=65535)
        label = f"{prefix}/{name.to_text(omit_final_dot=True)}/{dns.rdatatype.to_text(rds.rdtype)}"
        sys.stdout.write(f"{label} {wire.hex()}\n")


if __name__ == "__main__":
    main()
