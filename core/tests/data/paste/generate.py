#!/usr/bin/env python3
"""Regenerates the paste fixtures: `python3 generate.py` from this directory.

Packets are built around the seed DNS messages with real header checksums. Text forms come from
the real tools where the machine has them (xxd, od, hexdump, base64) and from faithful
re-implementations where it does not: tcpdump's hex_print / hex_and_ascii_print (print-ascii.c),
Wireshark's "Copy as Hex Dump" (DataPrinter::hexTextDump) and tshark -x (print_hex_data_buffer).
"""
import base64
import os
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = "/work/shared/seeds/packets"


def seed(name):
    with open(os.path.join(SEEDS, name)) as f:
        return bytes.fromhex(f.read().strip())


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def ip6(a):
    import ipaddress

    return ipaddress.IPv6Address(a).packed


def udp(src, dst, sport, dport, payload, v6=False, length=None):
    ln = 8 + len(payload) if length is None else length
    hdr = struct.pack("!HHHH", sport, dport, ln, 0)
    if v6:
        pseudo = src + dst + struct.pack("!IxxxB", 8 + len(payload), 17)
    else:
        pseudo = src + dst + struct.pack("!xBH", 17, 8 + len(payload))
    c = csum(pseudo + hdr + payload) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, ln, c) + payload


def tcp(src, dst, sport, dport, payload, v6=False):
    # 32-byte header: NOP NOP timestamps, flags PSH ACK
    opts = b"\x01\x01\x08\x0a" + struct.pack("!II", 123456, 654321)
    hdr = struct.pack("!HHIIBBHHH", sport, dport, 1000, 2000, (8 << 4), 0x18, 65535, 0, 0) + opts
    if v6:
        pseudo = src + dst + struct.pack("!IxxxB", len(hdr) + len(payload), 6)
    else:
        pseudo = src + dst + struct.pack("!xBH", 6, len(hdr) + len(payload))
    c = csum(pseudo + hdr + payload)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload


def ipv4(src, dst, proto, payload, ident=0x1C46, flags_frag=0x4000, options=b"", total=None):
    ihl = 5 + len(options) // 4
    tl = ihl * 4 + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tl, ident, flags_frag, 64, proto, 0, ip4(src), ip4(dst)) + options
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, nh, payload):
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, 64) + ip6(src) + ip6(dst) + payload


def eth(payload, ethertype=0x0800, vlan=None):
    dst = bytes.fromhex("0200005e0053")
    src = bytes.fromhex("020000c00201")
    if vlan is not None:
        return dst + src + struct.pack("!HHH", 0x8100, (3 << 13) | vlan, ethertype) + payload
    return dst + src + struct.pack("!H", ethertype) + payload


def sll(payload, proto=0x0800):
    return struct.pack("!HHH8sH", 0, 1, 6, bytes.fromhex("020000c00201") + b"\0\0", proto) + payload


def sll2(payload, proto=0x86DD):
    return struct.pack("!HHIHBB8s", proto, 0, 2, 1, 4, 6, bytes.fromhex("020000c00201") + b"\0\0") + payload


# --- renderers ----------------------------------------------------------------------------------


def tool(args, data):
    return subprocess.run(args, input=data, capture_output=True, check=True).stdout.decode()


def tcpdump_ascii(data, summary=None):
    """hex_and_ascii_print_with_offset, ident "\\n\\t", as tcpdump -X / -XX print."""
    out = [] if summary is None else [summary]
    off = 0
    while off < len(data):
        chunk = data[off:off + 16]
        hexstuff = ""
        for i in range(0, len(chunk) - 1, 2):
            hexstuff += " %02x%02x" % (chunk[i], chunk[i + 1])
        if len(chunk) % 2:
            hexstuff += " %02x" % chunk[-1]
        asc = "".join(chr(b) if 0x21 <= b <= 0x7E else "." for b in chunk)
        out.append("\t0x%04x: %-40s  %s" % (off, hexstuff, asc))
        off += 16
    return "\n".join(out) + "\n"


def tcpdump_hex(data, summary=None):
    """hex_print_with_offset, as tcpdump -x / -xx print."""
    out = [] if summary is None else [summary]
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        line = "\t0x%04x: " % off
        for i in range(0, len(chunk) - 1, 2):
            line += " %02x%02x" % (chunk[i], chunk[i + 1])
        if len(chunk) % 2:
            line += " %02x" % chunk[-1]
        out.append(line)
    return "\n".join(out) + "\n"


def wireshark_dump(data):
    """Wireshark "Copy as Hex Dump" (DataPrinter::hexTextDump with ASCII)."""
    byte_str = "".join(" %02x" % b for b in data)
    text = "".join(chr(b) if 0x20 <= b <= 0x7E else "." for b in data)
    lines = (len(data) + 15) // 16
    out = []
    for i in range(lines):
        off = i * 16
        line = "%04x " % off + byte_str[off * 3:off * 3 + 48] + "   "
        if i == lines - 1 and len(text) % 16:
            line += "   " * (16 - len(text) % 16)
        line += text[off:off + 16]
        out.append(line)
    return "\n".join(out) + "\n"


def tshark_x(data):
    """tshark -x: offset, two blanks, bytes with an extra blank after the eighth, ASCII."""
    out = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hexpart = ""
        for i, b in enumerate(chunk):
            hexpart += "%02x " % b
            if i == 7:
                hexpart += " "
        hexpart = hexpart.ljust(16 * 3 + 1)
        asc = "".join(chr(b) if 0x20 <= b <= 0x7E else "." for b in chunk)
        out.append(("%04x  " % off + hexpart + "  " + asc).rstrip())
    return "\n".join(out) + "\n"


def write(name, text):
    with open(os.path.join(HERE, name), "w") as f:
        f.write(text)


def write_bin(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    dns_c = seed("seed000-compressed.hex")  # 358 bytes
    dns_u = seed("seed000-uncompressed.hex")  # 758 bytes
    write_bin("dns-compressed.bin", dns_c)
    write_bin("dns-uncompressed.bin", dns_u)

    server, client = "192.0.2.1", "10.0.0.53"
    server6, client6 = "2001:db8::1", "2001:db8:0:1::53"
    v4udp = ipv4(server, client, 17, udp(ip4(server), ip4(client), 53, 41234, dns_c))
    v4udp_u = ipv4(server, client, 17, udp(ip4(server), ip4(client), 53, 41234, dns_u))
    v4tcp = ipv4(server, client, 6, tcp(ip4(server), ip4(client), 53, 41234, struct.pack("!H", len(dns_u)) + dns_u))
    v6udp = ipv6(server6, client6, 17, udp(ip6(server6), ip6(client6), 53, 41234, dns_c, v6=True))
    hbh = bytes([17, 0, 1, 4, 0, 0, 0, 0])  # hop-by-hop: next UDP, PadN
    v6hbh = ipv6(server6, client6, 0, hbh + udp(ip6(server6), ip6(client6), 53, 41234, dns_c, v6=True))
    v6tcp = ipv6(server6, client6, 6, tcp(ip6(server6), ip6(client6), 53, 41234, struct.pack("!H", len(dns_c)) + dns_c, v6=True))
    v4opts = ipv4(server, client, 17, udp(ip4(server), ip4(client), 53, 41234, dns_c), options=b"\x94\x04\x00\x00")

    packets = {
        "ipv4-udp": v4udp,
        "ipv4-udp-uncompressed": v4udp_u,
        "ipv4-tcp": v4tcp,
        "ipv4-options-udp": v4opts,
        "ipv6-udp": v6udp,
        "ipv6-hbh-udp": v6hbh,
        "eth-ipv4-udp": eth(v4udp),
        "eth-vlan-ipv4-udp": eth(v4udp, vlan=100),
        "eth-ipv6-tcp": eth(v6tcp, 0x86DD),
        "sll-ipv4-udp": sll(v4udp),
        "sll2-ipv6-udp": sll2(v6udp),
        "tcp-prefix": struct.pack("!H", len(dns_u)) + dns_u,
    }
    for name, data in packets.items():
        write_bin(name + ".bin", data)

    summary = "12:00:00.000000 IP 192.0.2.1.53 > 10.0.0.53.41234: 30973 20/0/0 A 182.92.255.169, A 112.126.11.70 (330)"
    summary_e = (
        "12:00:00.000000 02:00:00:c0:02:01 > 02:00:00:5e:00:53, ethertype IPv4 (0x0800), length 406: "
        "192.0.2.1.53 > 10.0.0.53.41234: 30973 20/0/0 A 182.92.255.169 (330)"
    )
    summary_any = "12:00:00.000000 eth0  In  IP6 2001:db8::1.53 > 2001:db8:0:1::53.41234: 30973 20/0/0 A 182.92.255.169 (330)"

    # tcpdump
    write("ipv4-udp.tcpdump-X.txt", tcpdump_ascii(v4udp, summary))
    write("ipv4-udp.tcpdump-x.txt", tcpdump_hex(v4udp))
    write("ipv4-tcp.tcpdump-X.txt", tcpdump_ascii(v4tcp, "12:00:00.000000 IP 192.0.2.1.53 > 10.0.0.53.41234: Flags [P.], seq 1:761, ack 1, win 65535, length 760"))
    write("ipv4-options-udp.tcpdump-X.txt", tcpdump_ascii(v4opts))
    write("eth-ipv4-udp.tcpdump-XX.txt", tcpdump_ascii(eth(v4udp), summary_e))
    write("eth-vlan-ipv4-udp.tcpdump-xx.txt", tcpdump_hex(eth(v4udp, vlan=100)))
    write("sll-ipv4-udp.tcpdump-xx.txt", tcpdump_hex(sll(v4udp)))
    write("sll2-ipv6-udp.tcpdump-XX.txt", tcpdump_ascii(sll2(v6udp), summary_any))
    write("ipv6-hbh-udp.tcpdump-X.txt", tcpdump_ascii(v6hbh))

    # xxd
    write("dns.xxd.txt", tool(["xxd"], dns_c))
    write("dns.xxd-g1.txt", tool(["xxd", "-g1"], dns_c))
    write("dns.xxd-p.txt", tool(["xxd", "-p"], dns_c))
    write("dns.xxd-i.txt", tool(["xxd", "-i", "-n", "reply"], dns_c))
    write("dns.xxd-e.txt", tool(["xxd", "-e"], dns_c))
    write("ipv6-udp.xxd.txt", tool(["xxd"], v6udp))
    write("eth-ipv6-tcp.xxd.txt", tool(["xxd"], eth(v6tcp, 0x86DD)))

    # od and hexdump
    write("dns.od-x.txt", tool(["od", "-x"], dns_c))
    write("dns-uncompressed.od-x.txt", tool(["od", "-x"], dns_u))
    write("dns.od-Ax-tx1z.txt", tool(["od", "-A", "x", "-t", "x1z"], dns_c))
    write("dns.od-tx1.txt", tool(["od", "-t", "x1"], dns_c))
    write("dns.od-Ad-tx1.txt", tool(["od", "-A", "d", "-t", "x1"], dns_c))
    write("ipv4-udp.od-x.txt", tool(["od", "-x"], v4udp))
    write("dns.hexdump-C.txt", tool(["hexdump", "-C"], dns_c))
    write("dns.hexdump.txt", tool(["hexdump"], dns_c))
    write("eth-ipv4-udp.hexdump-C.txt", tool(["hexdump", "-C"], eth(v4udp)))

    # Wireshark and tshark
    write("eth-ipv4-udp.wireshark-dump.txt", wireshark_dump(eth(v4udp)))
    write("eth-ipv4-udp.wireshark-stream.txt", eth(v4udp).hex())
    write("eth-ipv6-tcp.tshark-x.txt", tshark_x(eth(v6tcp, 0x86DD)))
    write("dns.wireshark-stream.txt", dns_c.hex() + "\n")

    # plain hex and base64
    write("dns.spaced.txt", " ".join("%02X" % b for b in dns_c) + "\n")
    write("tcp-prefix.hex.txt", tool(["xxd", "-p", "-c", "40"], struct.pack("!H", len(dns_u)) + dns_u))
    write("dns.base64.txt", tool(["base64"], dns_c))
    write("dns-uncompressed.base64url.txt", base64.urlsafe_b64encode(dns_u).decode().rstrip("=") + "\n")
    write("dns.doh-url.txt", "https://dns.example/dns-query?dns=" + base64.urlsafe_b64encode(dns_c).decode().rstrip("=") + "\n")
    write("eth-ipv4-udp.base64.txt", tool(["base64", "-w", "60"], eth(v4udp)))

    # A NULL record of 80 zero bytes: od, hexdump and xxd -a fold the repeated lines into "*".
    qname = b"\x04null\x07example\x00"
    zeros = struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0) + qname + struct.pack("!HH", 10, 1)
    zeros += struct.pack("!HHHIH", 0xC00C, 10, 1, 60, 80) + bytes(80)
    write_bin("null-record.bin", zeros)
    write("null-record.od-x.txt", tool(["od", "-x"], zeros))
    write("null-record.hexdump-C.txt", tool(["hexdump", "-C"], zeros))
    write("null-record.xxd-a.txt", tool(["xxd", "-a"], zeros))


if __name__ == "__main__":
    main()
