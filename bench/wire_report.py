#!/usr/bin/env python3
"""Tables for bench/wire.sh.

  wire_report.py collect CRITERION_DIR > run.json
      reads CRITERION_DIR/<input>/<op>/new/estimates.json (criterion's median, ns) for every input
      and op of core/benches/wire.rs and prints them as one JSON object {input: {op: ns}}.

  wire_report.py report RUN.json... [--icount ICOUNT.tsv]
      prints markdown: per input and op the median over runs of criterion's medians (with the
      spread over runs), the ratios against hickory-proto with the issue targets, and, given a TSV
      of `input op instructions` lines from callgrind, the same ratios in instructions.
"""
import json
import os
import statistics
import sys

INPUTS = ["seed000-uncompressed-758", "seed000-compressed-358", "www-example-com-124"]
OPS = ["dnspect_scan", "dnspect_decode", "dnspect_analyze", "dnspect_encode", "hickory_decode", "hickory_encode"]
# (label, dnspect op, hickory op, target ratio or None)
RATIOS = [
    ("zero-copy walk vs hickory from_vec", "dnspect_scan", "hickory_decode", 20.0),
    ("typed decode vs hickory from_vec", "dnspect_decode", "hickory_decode", 5.0),
    ("compressed encode vs hickory to_vec", "dnspect_encode", "hickory_encode", 3.0),
    ("analysis vs hickory from_vec", "dnspect_analyze", "hickory_decode", None),
]


def collect(criterion_dir):
    out = {}
    for inp in INPUTS:
        for op in OPS:
            path = os.path.join(criterion_dir, inp, op, "new", "estimates.json")
            try:
                with open(path) as f:
                    est = json.load(f)
            except FileNotFoundError:
                continue
            out.setdefault(inp, {})[op] = est["median"]["point_estimate"]
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()


def fmt_ns(ns):
    if ns >= 10000:
        return f"{ns / 1000:,.1f} µs"
    if ns >= 100:
        return f"{ns:,.0f} ns"
    return f"{ns:,.1f} ns"


def fmt_ratio(r):
    return f"{r:.1f}x" if r >= 1 else f"1/{1 / r:.0f}x"


def verdict(ratio, target):
    if target is None:
        return ""
    return "met" if ratio >= target else "**missed**"


def report(run_files, icount_file):
    runs = []
    for p in run_files:
        with open(p) as f:
            runs.append(json.load(f))
    lines = []
    if runs:
        med = {}
        lines.append(f"### Wall clock: median ns per message (median of criterion's medians over {len(runs)} run(s))")
        lines.append("")
        lines.append("| input | " + " | ".join(OPS) + " |")
        lines.append("|---|" + "---:|" * len(OPS))
        for inp in INPUTS:
            cells = []
            for op in OPS:
                vals = [r[inp][op] for r in runs if op in r.get(inp, {})]
                if not vals:
                    cells.append("–")
                    continue
                m = statistics.median(vals)
                med.setdefault(inp, {})[op] = m
                spread = f" ({fmt_ns(min(vals))}–{fmt_ns(max(vals))})" if len(vals) > 1 else ""
                cells.append(fmt_ns(m) + spread)
            lines.append(f"| {inp} | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append("### Wall clock: speed-up over hickory-proto 0.26 (hickory ns / dnspect ns)")
        lines.append("")
        lines += ratio_table(med, per_run=runs)
    if icount_file:
        ic = {}
        with open(icount_file) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3:
                    ic.setdefault(parts[0], {})[parts[1]] = float(parts[2])
        lines.append("")
        lines.append("### Instructions per message (callgrind, noise-free)")
        lines.append("")
        lines.append("| input | " + " | ".join(OPS) + " |")
        lines.append("|---|" + "---:|" * len(OPS))
        for inp in INPUTS:
            cells = [f"{ic[inp][op]:,.0f}" if op in ic.get(inp, {}) else "–" for op in OPS]
            lines.append(f"| {inp} | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append("### Instructions: speed-up over hickory-proto 0.26 (hickory Ir / dnspect Ir)")
        lines.append("")
        lines += ratio_table(ic)
    print("\n".join(lines))


def ratio_table(values, per_run=None):
    head = "| ratio | target | " + " | ".join(INPUTS) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(INPUTS)]
    for label, ours, theirs, target in RATIOS:
        cells = []
        for inp in INPUTS:
            v = values.get(inp, {})
            if ours not in v or theirs not in v:
                cells.append("–")
                continue
            r = v[theirs] / v[ours]
            cell = fmt_ratio(r)
            if per_run and len(per_run) > 1:
                rs = [run[inp][theirs] / run[inp][ours] for run in per_run if ours in run.get(inp, {}) and theirs in run.get(inp, {})]
                cell += f" ({fmt_ratio(min(rs))}–{fmt_ratio(max(rs))})"
            v_ = verdict(r, target)
            cells.append(cell + (f" {v_}" if v_ else ""))
        t = f">= {target:g}x" if target else "–"
        lines.append(f"| {label} | {t} | " + " | ".join(cells) + " |")
    return lines


def main(argv):
    if len(argv) >= 2 and argv[0] == "collect":
        collect(argv[1])
        return 0
    if argv and argv[0] == "report":
        rest = argv[1:]
        icount = None
        if "--icount" in rest:
            i = rest.index("--icount")
            icount = rest[i + 1]
            rest = rest[:i] + rest[i + 2:]
        report(rest, icount)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
