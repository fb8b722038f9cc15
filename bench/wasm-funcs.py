#!/usr/bin/env python3
"""Where the npm package's .wasm bytes go: function body sizes from cargo's .wasm (before
wasm-bindgen and wasm-opt, while it still has its name section), demangled with c++filt and grouped.

    python3 bench/wasm-funcs.py target/wasm/wasm32-unknown-unknown/wasm-release/dnspect_wasm.wasm [TOP]

Prints the groups (bytes, share), the .rodata size (raw, zlib-9) and the TOP largest functions.
Figures: bench/results/wasm-size-2026-12-03.md.
"""
import re
import subprocess
import sys
import zlib


def leb(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def main():
    b = open(sys.argv[1], "rb").read()
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    i, nimp, bodies, names, data = 8, 0, [], {}, b""
    while i < len(b):
        sid = b[i]
        n, i = leb(b, i + 1)
        end = i + n
        if sid == 2:  # imports: function imports shift the function index space
            c, j = leb(b, i)
            for _ in range(c):
                for _ in range(2):
                    ln, j = leb(b, j)
                    j += ln
                kind = b[j]
                j += 1
                if kind == 0:
                    _, j = leb(b, j)
                    nimp += 1
                elif kind == 1:
                    j += 1
                    f, j = leb(b, j)
                    _, j = leb(b, j)
                    if f & 1:
                        _, j = leb(b, j)
                elif kind == 2:
                    f, j = leb(b, j)
                    _, j = leb(b, j)
                    if f & 1:
                        _, j = leb(b, j)
                elif kind == 3:
                    j += 2
        elif sid == 10:
            c, j = leb(b, i)
            for _ in range(c):
                ln, j = leb(b, j)
                bodies.append(ln)
                j += ln
        elif sid == 11:
            data = b[i:end]
        elif sid == 0:
            ln, j = leb(b, i)
            if b[j : j + ln] == b"name":
                j += ln
                while j < end:
                    sub = b[j]
                    sl, j = leb(b, j + 1)
                    if sub == 1:
                        c, k = leb(b, j)
                        for _ in range(c):
                            idx, k = leb(b, k)
                            ln2, k = leb(b, k)
                            names[idx] = b[k : k + ln2].decode("utf8", "replace")
                            k += ln2
                    j += sl
        i = end
    raw = [names.get(nimp + k, "?") for k in range(len(bodies))]
    dm = subprocess.run(["c++filt"], input="\n".join(raw), capture_output=True, text=True).stdout.split("\n")
    groups = [
        ("serde (derive visitors, Content buffering, serde_json)", r"serde"),
        ("pcap (dnspect_core::pcap, pcap_parser, nom)", r"dnspect_core::pcap|pcap_parser|nom::"),
        ("engine / cache / local", r"dnspect_core::(engine|cache|local)"),
        ("wire", r"dnspect_core::(wire|units)"),
        ("sim + incidents", r"dnspect_core::(sim|incidents)"),
        ("dnspect_wasm, wasm_bindgen, js_sys", r"dnspect_wasm|wasm_bindgen|js_sys"),
        ("alloc / core / hashbrown generics", r"^<?(alloc|core|hashbrown)"),
    ]
    tot = sum(bodies)
    acc = {g: 0 for g, _ in groups + [("other", "")]}
    for size, name in zip(bodies, dm):
        g = next((g for g, pat in groups if re.search(pat, name)), "other")
        acc[g] += size
    print(f"code: {tot:,} B in {len(bodies)} functions; .rodata {len(data):,} B raw, {len(zlib.compress(data, 9)):,} B zlib-9")
    for g, v in sorted(acc.items(), key=lambda x: -x[1]):
        print(f"| {g} | {v:,} | {100 * v / tot:.0f}% |")
    print(f"largest {top}:")
    for size, name in sorted(zip(bodies, dm), reverse=True)[:top]:
        print(f"{size:8,}  {re.sub(r'::h[0-9a-f]{16}$', '', name)[:150]}")


main()
