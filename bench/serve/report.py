#!/usr/bin/env python3
"""Offline part of bench/serve/run.sh.

  report.py latency DNSPERF_V_OUTPUT      -> "n<TAB>avg<TAB>p50<TAB>p99<TAB>max" (microseconds)
  report.py report META RESULTS_TSV       -> the Markdown report on stdout
  report.py check RESULTS_TSV             -> exit 1 when a server answered nothing (smoke use)
  report.py bursts DNSPERF_V_OUTPUT [MS] [RATE]
                                          -> the answers slower than MS (1) in send order, grouped
                                             into bursts (slow answers at most 200 queries apart),
                                             each with its start, size, worst latency and the
                                             queries since the previous burst; then the period of
                                             the bursts of >= 20 answers (median gap, in queries
                                             and in seconds at RATE q/s, 20000): a stall that
                                             recurs on a timer shows as a steady period
"""
import math
import statistics
import sys
from collections import defaultdict

PEERS = ["dnsdist", "unbound", "dnsmasq", "kresd"]
ORDER = ["dnspect", "dnspect-base", "dnsdist", "unbound", "dnsmasq", "kresd", "echo", "dnspect-w2"]
WORKLOADS = [("hit", "100% cache hits (1000 warm names)"),
             ("mix", "90% hits / 10% misses"),
             ("miss", "100% misses (unique names)")]


def latency(path):
    lat = []
    with open(path, errors="replace") as f:
        for line in f:
            # "> NOERROR h1.bench A 0.000149": rcode, name, type, seconds
            if line.startswith("> "):
                try:
                    lat.append(float(line.split()[-1]) * 1e6)
                except ValueError:
                    pass
    if not lat:
        print("0\t-\t-\t-\t-")
        return
    lat.sort()
    n = len(lat)

    def pct(p):
        return lat[max(0, math.ceil(p * n) - 1)]

    print(f"{n}\t{sum(lat) / n:.1f}\t{pct(0.50):.0f}\t{pct(0.99):.0f}\t{lat[-1]:.0f}")


def bursts(path, ms=1.0, rate=20000.0):
    lat = []
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("> "):
                try:
                    lat.append(float(line.split()[-1]) * 1e3)
                except ValueError:
                    pass
    groups = []  # [first index, last index, count, worst ms]
    for i, v in enumerate(lat):
        if v <= ms:
            continue
        if groups and i - groups[-1][1] <= 200:
            g = groups[-1]
            g[1], g[2], g[3] = i, g[2] + 1, max(g[3], v)
        else:
            groups.append([i, i, 1, v])
    slow = sum(g[2] for g in groups)
    print(f"{path}: {len(lat)} answers, {slow} slower than {ms:g} ms "
          f"({100.0 * slow / max(1, len(lat)):.2f}%), in {len(groups)} burst(s)")
    prev = None
    for g in groups:
        gap = "-" if prev is None else str(g[0] - prev)
        print(f"  query {g[0]:>7} to {g[1]:>7}: {g[2]:>5} slow, worst {g[3]:6.2f} ms, {gap:>6} queries after the previous")
        prev = g[0]
    big = [g[0] for g in groups if g[2] >= 20]
    gaps = [b - a for a, b in zip(big, big[1:])]
    if gaps:
        med = statistics.median(gaps)
        print(f"  bursts of >= 20 slow answers: {len(big)}, median gap {med:.0f} queries "
              f"= {med / rate:.3f} s at {rate:g} q/s")


def load(path):
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        rows = []
        for line in f:
            v = line.rstrip("\n").split("\t")
            if len(v) == len(head):
                rows.append(dict(zip(head, v)))
    return rows


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def vals(rows, key):
    return [v for v in (num(r[key]) for r in rows) if v is not None]


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, nd=1):
    if x is None:
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{nd}f}"


def mr(xs, nd=1, unit=""):
    """median (min–max)"""
    if not xs:
        return "–"
    m = med(xs)
    if len(xs) == 1:
        return f"{fmt(m, nd)}{unit}"
    return f"{fmt(m, nd)}{unit} ({fmt(min(xs), nd)}–{fmt(max(xs), nd)})"


def report(meta_path, res_path):
    meta = {}
    skipped = []
    with open(meta_path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            if k == "skipped":
                skipped.append(v)
            else:
                meta[k] = v
    rows = load(res_path)
    chosen = [r for r in rows if r["chosen"] == "1"]
    by = defaultdict(list)  # (server, workload, phase) -> chosen rows over rounds
    for r in chosen:
        by[(r["server"], r["workload"], r["phase"])].append(r)
    servers = [s for s in ORDER if any(k[0] == s for k in by)]
    peers = [s for s in PEERS if s in servers]
    rounds = sorted({int(r["round"]) for r in rows})
    o = []
    w = o.append
    date = meta.get("started", "")[:10]
    w(f"# dnspect serve against its peers, {date}\n")
    w(f"Command: `{meta.get('command', '').strip()}` "
      f"({meta.get('mode')} mode; {meta.get('env', '')}).\n")
    w(f"- started {meta.get('started')}, finished {meta.get('finished', '?')}; "
      f"load average at start {meta.get('load_start')}, at end {meta.get('load_end', '?')}")
    w(f"- machine: nproc {meta.get('nproc')}, CPU {meta.get('cpu')} ({meta.get('virt') or 'bare metal'}), "
      f"{meta.get('mem')}, kernel {meta.get('kernel')}; {meta.get('sockbuf')}")
    w(f"- dnspect {meta.get('dnspect')}, {meta.get('rustc')}; NSD {meta.get('nsd')}; dnsperf {meta.get('dnsperf')}")
    if meta.get("dnspect_bin"):
        w(f"- dnspect binary: {meta.get('dnspect_bin')}")
    if meta.get("dnspect_base"):
        style = meta.get("dnspect_base_config", "same")
        how = "same config as dnspect" if style == "same" else \
            f"same settings as dnspect, written in the {style} config format (DNSPECT_BASE_CONFIG_STYLE={style})"
        w(f"- dnspect-base binary ({how}): {meta.get('dnspect_base')}")
    for p in peers:
        w(f"- {p}: {meta.get(p, '?')}")
    for s in skipped:
        w(f"- **skipped** {s}")
    w("")
    w("Layout: the server under test pinned to CPU 0 alone (`taskset -c 0`; dnspect-w2: CPUs 0-1), "
      "dnsperf (one thread, 16 sockets) and NSD (the shared upstream, one server process) pinned to CPU 1. "
      "Capacity: closed-loop dnsperf with at most 200 queries outstanding (100, 50, 20 when loss >= 0.1%) "
      "for the run length; CPU per query = the server's on-CPU time (sum of /proc/PID/task/*/schedstat "
      "field 1, before and after) / queries answered. Latency: dnsperf -Q at a fixed rate with -v, "
      "average and p99 over every answered query, computed offline. Peak RSS: VmHWM when the server "
      "stops at the end of its round (after all three workloads). Each cell: median over rounds "
      "(min–max).\n")

    def cell(server, wl, phase, key, nd=1):
        return mr(vals(by.get((server, wl, phase), []), key), nd)

    def medv(server, wl, phase, key):
        return med(vals(by.get((server, wl, phase), []), key))

    rss = {s: [num(r["threads"].split(":")[1]) / 1024 for r in chosen
               if r["server"] == s and r["workload"] == "rss" and r["threads"].startswith("VmHWM_kB:")
               and r["threads"].split(":")[1] not in ("", "-")] for s in servers}
    echo_cpu = medv("echo", "hit", "capacity", "srv_us_q")
    lat_rate = "20k"
    for part in meta.get("env", "").split():
        if part.startswith("LAT_RATE="):
            lat_rate = f"{int(part[9:]) // 1000}k" if part[9:].isdigit() else part[9:]

    for wl, title in WORKLOADS:
        w(f"## {title}\n")
        extra = " | × echo" if wl == "hit" else ""
        extra += " | 1e6 / CPU (q/s a whole core would give)" if wl != "hit" else ""
        w(f"| server | q/s at < 0.1% loss | loss % | outstanding | server CPU µs/query{extra} | "
          f"CPU µs/query at {lat_rate} q/s | avg latency µs at {lat_rate} q/s | p99 µs at {lat_rate} q/s | "
          f"load core (CPU 1) busy % | peak RSS MiB |")
        w("|---|---:|---:|---:|---:|" + ("---:|" if extra else "") + "---:|---:|---:|---:|---:|")
        for s in servers:
            if (s, wl, "capacity") not in by and (s, wl, "latency") not in by:
                continue
            cpu = vals(by.get((s, wl, "capacity"), []), "srv_us_q")
            ex = ""
            if wl == "hit":
                ex = " | " + (mr([c / echo_cpu for c in cpu], 2, "x") if echo_cpu and cpu else "–")
            else:
                ex = " | " + mr([1e6 / c for c in cpu if c > 0], 0)
            outs = sorted({r["outstanding"] for r in by.get((s, wl, "capacity"), [])}, key=int)
            w(f"| {s} | {cell(s, wl, 'capacity', 'qps', 0)} | {cell(s, wl, 'capacity', 'loss_pct', 3)} | "
              f"{','.join(outs) or '–'} | {cell(s, wl, 'capacity', 'srv_us_q', 2)}{ex} | "
              f"{cell(s, wl, 'latency', 'srv_us_q', 2)} | {cell(s, wl, 'latency', 'lat_avg_us', 0)} | "
              f"{cell(s, wl, 'latency', 'lat_p99_us', 0)} | {cell(s, wl, 'capacity', 'cpu1_busy', 0)} | "
              f"{mr(rss.get(s, []), 0)} |")
        w("")
        if wl != "hit":
            nsd = vals([r for s in servers for r in by.get((s, wl, "capacity"), [])], "nsd_us_q")
            perf = vals([r for s in servers for r in by.get((s, wl, "capacity"), [])], "perf_us_q")
            w(f"CPU 1's other tenants during these capacity runs, per query: NSD {mr(nsd, 1)} µs "
              f"(clock ticks), dnsperf {mr(perf, 1)} µs. When CPU 1 is near 100% busy, the q/s figure is the "
              f"load side's limit, not the server's; the server-side figure is then its CPU per query.\n")
        else:
            perf = vals([r for s in servers for r in by.get((s, wl, "capacity"), [])], "perf_us_q")
            w(f"dnsperf's own CPU per query on this workload: {mr(perf, 1)} µs (clock ticks): one dnsperf "
              f"thread on CPU 1 is the limit of the hit q/s column, so compare CPU per query.\n")

    # Threads (where the server's time went), from the capacity runs.
    w("## Threads\n")
    w("Share of the server's on-CPU time per thread name during the capacity runs (first round shown).\n")
    w("| server | hit | mix | miss |")
    w("|---|---|---|---|")
    for s in servers:
        cells = []
        for wl, _ in WORKLOADS:
            rs = by.get((s, wl, "capacity"), [])
            cells.append(rs[0]["threads"].replace(",", ", ") if rs else "–")
        w(f"| {s} | " + " | ".join(cells) + " |")
    w("")

    # Scaling.
    if "dnspect-w2" in servers and "dnspect" in servers:
        w("## Scaling: dnspect --workers 2 against 1 worker\n")
        w("dnspect-w2 runs unpinned (`taskset -c 0,1`), so its second worker shares CPU 1 with dnsperf and "
          "NSD; the 1-worker runs have CPU 0 alone. Ratio = median q/s (2 workers) / median q/s (1 worker).\n")
        w("| workload | 1 worker q/s | 2 workers q/s | ratio | 1 worker CPU µs/q | 2 workers CPU µs/q | "
          "2 workers: thread split | CPU 1 busy % (2 workers) |")
        w("|---|---:|---:|---:|---:|---:|---|---:|")
        for wl, _ in WORKLOADS:
            a = medv("dnspect", wl, "capacity", "qps")
            b = medv("dnspect-w2", wl, "capacity", "qps")
            rs = by.get(("dnspect-w2", wl, "capacity"), [])
            w(f"| {wl} | {fmt(a, 0)} | {fmt(b, 0)} | {fmt(b / a, 2) + 'x' if a and b else '–'} | "
              f"{cell('dnspect', wl, 'capacity', 'srv_us_q', 2)} | {cell('dnspect-w2', wl, 'capacity', 'srv_us_q', 2)} | "
              f"{rs[0]['threads'].replace(',', ', ') if rs else '–'} | {cell('dnspect-w2', wl, 'capacity', 'cpu1_busy', 0)} |")
        w("")

    # Before/after: dnspect against dnspect-base (an older build, same config), within this run.
    if "dnspect-base" in servers and "dnspect" in servers:
        w("## Before/after: dnspect (after) against dnspect-base (before)\n")
        w("Same settings, same run, interleaved. Ratio = after / before: of the medians over rounds, and the "
          "median (min–max) of the per-round ratios (both builds measured in the same round, minutes apart). "
          "For q/s higher is better; for CPU and latency lower is better.\n")
        w("| workload | figure | before | after | after / before (medians) | per-round after / before |")
        w("|---|---|---:|---:|---:|---:|")
        figs = [("capacity", "qps", "q/s at < 0.1% loss", 0), ("capacity", "srv_us_q", "CPU µs/q, saturated", 2),
                ("latency", "srv_us_q", f"CPU µs/q at {lat_rate} q/s", 2),
                ("latency", "lat_avg_us", f"avg latency µs at {lat_rate} q/s", 0),
                ("latency", "lat_p99_us", f"p99 µs at {lat_rate} q/s", 0)]
        for wl, _ in WORKLOADS:
            for phase, key, label, nd in figs:
                a = medv("dnspect-base", wl, phase, key)
                b = medv("dnspect", wl, phase, key)
                ra = {r["round"]: num(r[key]) for r in by.get(("dnspect-base", wl, phase), [])}
                rb = {r["round"]: num(r[key]) for r in by.get(("dnspect", wl, phase), [])}
                per = [rb[k] / ra[k] for k in ra if k in rb and ra[k] and rb[k] is not None]
                w(f"| {wl} | {label} | {fmt(a, nd)} | {fmt(b, nd)} | "
                  f"{fmt(b / a, 2) + 'x' if a and b else '–'} | {mr(per, 2, 'x')} |")
        w("")

    # Targets.
    w("## Targets (issue 4)\n")
    w("| target | measured | verdict |")
    w("|---|---|---|")

    def verdict(ok):
        return "–" if ok is None else ("met" if ok else "**missed**")

    d = medv("dnspect", "hit", "capacity", "srv_us_q")
    pc = {p: medv(p, "hit", "capacity", "srv_us_q") for p in peers}
    pcs = {p: v for p, v in pc.items() if v is not None}
    ok = None if d is None or not pcs else d < min(pcs.values())
    w(f"| hits: dnspect CPU/query below every peer's | dnspect {fmt(d, 2)} µs; "
      + ", ".join(f"{p} {fmt(v, 2)}" for p, v in pcs.items()) + f" | {verdict(ok)} |")
    ok = None if d is None or echo_cpu is None else d <= 1.1 * echo_cpu
    w(f"| hits: dnspect CPU/query within 1.1x the echo server's | dnspect {fmt(d, 2)} µs, echo {fmt(echo_cpu, 2)} µs: "
      f"{fmt(d / echo_cpu, 2) + 'x' if d and echo_cpu else '–'} | {verdict(ok)} |")
    d = medv("dnspect", "miss", "capacity", "qps")
    pq = {p: medv(p, "miss", "capacity", "qps") for p in peers}
    pqs = {p: v for p, v in pq.items() if v is not None}
    best = max(pqs, key=pqs.get) if pqs else None
    ok = None if d is None or best is None else d >= 1.2 * pqs[best]
    w(f"| misses: q/s at < 0.1% loss >= 1.2x the best peer's | dnspect {fmt(d, 0)}; best peer {best} "
      f"{fmt(pqs.get(best), 0)}: {fmt(d / pqs[best], 2) + 'x' if d and best else '–'} | {verdict(ok)} |")
    dc = medv("dnspect", "miss", "capacity", "srv_us_q")
    pcm = {p: medv(p, "miss", "capacity", "srv_us_q") for p in peers}
    pcm = {p: v for p, v in pcm.items() if v}
    if dc and pcm:
        bestc = min(pcm, key=pcm.get)
        w(f"| misses, CPU view (not a target): 1e6/CPU per query vs the best peer's | dnspect {fmt(1e6 / dc, 0)}; "
          f"{bestc} {fmt(1e6 / pcm[bestc], 0)}: {fmt(pcm[bestc] / dc, 2)}x | (for reading the row above) |")
    for wl, _ in WORKLOADS:
        d = medv("dnspect", wl, "latency", "lat_p99_us")
        pp = {p: medv(p, wl, "latency", "lat_p99_us") for p in peers}
        pp = {p: v for p, v in pp.items() if v is not None}
        bestp = min(pp, key=pp.get) if pp else None
        ok = None if d is None or bestp is None else d <= pp[bestp]
        w(f"| p99 at 20k q/s ({wl}) no worse than the best peer | dnspect {fmt(d, 0)} µs; best {bestp} "
          f"{fmt(pp.get(bestp), 0)} µs | {verdict(ok)} |")
    for wl in ("miss", "mix", "hit"):
        a = medv("dnspect", wl, "capacity", "qps")
        b = medv("dnspect-w2", wl, "capacity", "qps")
        ok = None if not a or not b else b >= 1.7 * a
        w(f"| 2 workers >= 1.7x one worker ({wl}) | {fmt(b, 0)} / {fmt(a, 0)} = "
          f"{fmt(b / a, 2) + 'x' if a and b else '–'} | {verdict(ok)} |")
    w("")

    # Issue 11's targets, with the per-round ratios (both servers measured minutes apart in the
    # same round, so the machine's drift between rounds cancels).
    def per_round(server, wl, phase, key):
        return {int(r["round"]): num(r[key]) for r in by.get((server, wl, phase), [])
                if num(r[key]) is not None}

    def ratio_cell(a_srv, b_srv, wl, phase, key):
        a, b = per_round(a_srv, wl, phase, key), per_round(b_srv, wl, phase, key)
        rs = [a[k] / b[k] for k in a if k in b and b[k]]
        ma, mb = medv(a_srv, wl, phase, key), medv(b_srv, wl, phase, key)
        m = ma / mb if ma and mb else None
        return m, med(rs), f"{fmt(m, 2) + 'x' if m else '–'} (per round {mr(rs, 2, 'x')})"

    if "dnspect" in servers:
        w("## Targets (issue 11)\n")
        w("Ratios: of the medians over rounds, and (in brackets) the median (min–max) of the per-round ratios.\n")
        w("| target | measured | verdict |")
        w("|---|---|---|")
        d = medv("dnspect", "hit", "capacity", "srv_us_q")
        for p in peers:
            m, pr, cell = ratio_cell("dnspect", p, "hit", "capacity", "srv_us_q")
            ok = None if m is None else m <= 1.0
            w(f"| hits: CPU/query at or below {p}'s | dnspect {fmt(d, 2)} µs / {p} "
              f"{fmt(medv(p, 'hit', 'capacity', 'srv_us_q'), 2)} µs = {cell} | {verdict(ok)} |")
        if "echo" in servers:
            m, pr, cell = ratio_cell("dnspect", "echo", "hit", "capacity", "srv_us_q")
            ok = None if m is None else m <= 1.1
            w(f"| hits: CPU/query at most 1.1x the echo ceiling | {cell} | {verdict(ok)} |")
        if "dnsdist" in servers:
            m, pr, cell = ratio_cell("dnspect", "dnsdist", "miss", "capacity", "srv_us_q")
            ok = None if m is None else m <= 1.0
            w(f"| misses: CPU/query at or below dnsdist's | dnspect {fmt(medv('dnspect', 'miss', 'capacity', 'srv_us_q'), 2)} µs / "
              f"dnsdist {fmt(medv('dnsdist', 'miss', 'capacity', 'srv_us_q'), 2)} µs = {cell} | {verdict(ok)} |")
            m, pr, cell = ratio_cell("dnspect", "dnsdist", "miss", "capacity", "qps")
            ok = None if m is None else m >= 1.2
            w(f"| misses: saturated q/s (< 0.1% loss) at least 1.2x dnsdist's | dnspect "
              f"{fmt(medv('dnspect', 'miss', 'capacity', 'qps'), 0)} / dnsdist {fmt(medv('dnsdist', 'miss', 'capacity', 'qps'), 0)} "
              f"= {cell} | {verdict(ok)} |")
            m, pr, cell = ratio_cell("dnspect", "dnsdist", "miss", "latency", "lat_p99_us")
            ok = None if m is None else m <= 1.0
            w(f"| misses: p99 at 20k q/s at or below dnsdist's | dnspect "
              f"{fmt(medv('dnspect', 'miss', 'latency', 'lat_p99_us'), 0)} µs / dnsdist "
              f"{fmt(medv('dnsdist', 'miss', 'latency', 'lat_p99_us'), 0)} µs = {cell} | {verdict(ok)} |")
        if "dnspect-w2" in servers:
            m, pr, cell = ratio_cell("dnspect-w2", "dnspect", "hit", "capacity", "srv_us_q")
            ok = None if m is None else m <= 1.1
            w(f"| two workers: hit CPU/query at most 1.1x one worker's | {cell} | {verdict(ok)} |")
        if "dnspect-base" in servers:
            for wl in ("hit", "miss"):
                m, pr, cell = ratio_cell("dnspect", "dnspect-base", wl, "capacity", "srv_us_q")
                w(f"| (before/after, not a target) {wl} CPU/query, this build / dnspect-base | {cell} | – |")
        w("")

    # Disturbance.
    w("## Runs and disturbance\n")
    env = dict(p.split("=", 1) for p in meta.get("env", "").replace("'", "").split() if "=" in p)
    w(f"Before every measurement the script waits (up to {env.get('QUIET_WAIT', '?')} s) for a second in which "
      f"processes other than the server, NSD and dnsperf use < {env.get('DISTURB', '?')} cores, then measures "
      f"the same thing during the run: other processes' CPU = /proc/stat busy ticks (user+nice+system+irq+softirq, "
      f"both CPUs) less the server's, NSD's and dnsperf's own ticks. A run above the threshold is "
      f"disturbed and re-run (up to {env.get('RETRIES', '?')} times); the first clean attempt is kept, or the least "
      f"disturbed. Waiting and re-running may take {env.get('WAIT_BUDGET', '?')} s in all; "
      f"this run used {meta.get('wasted', '?')} s.\n")
    w("| round | measurements kept | re-runs (disturbed attempts) | disturbed kept | load average (1 min) before runs | other jobs, cores (median, max) | steal % (max) |")
    w("|---:|---:|---:|---:|---|---|---:|")
    for rd in rounds:
        rr = [r for r in rows if int(r["round"]) == rd and r["phase"] in ("capacity", "latency")]
        kept = [r for r in rr if r["chosen"] == "1"]
        rer = [r for r in rr if r["chosen"] != "1" and r["disturbed"] == "1"]
        dk = [r for r in kept if r["disturbed"] == "1"]
        loads = vals(rr, "load1")
        fo = vals(rr, "foreign_cores")
        st = vals(rr, "steal_pct")
        w(f"| {rd} | {len(kept)} | {len(rer)} | {len(dk)} | {fmt(min(loads), 2) if loads else '–'}–"
          f"{fmt(max(loads), 2) if loads else '–'} | {fmt(med(fo), 2)}, {fmt(max(fo) if fo else None, 2)} | "
          f"{fmt(max(st) if st else None, 1)} |")
    w("")
    dk = [r for r in chosen if r.get("disturbed") == "1" and r["phase"] in ("capacity", "latency")]
    if dk:
        w("Disturbed measurements kept (no clean attempt within the re-runs): " + "; ".join(
            f"r{r['round']} {r['server']} {r['workload']} {r['phase']} ({r['foreign_cores']} cores)" for r in dk) + ".\n")
    lossy = [r for r in rows if r["phase"] == "capacity" and r["chosen"] != "1" and num(r["loss_pct"]) and num(r["loss_pct"]) >= 0.1]
    if lossy:
        w("Capacity attempts rejected for loss >= 0.1% (then retried with fewer outstanding): " + "; ".join(
            f"r{r['round']} {r['server']} {r['workload']} q={r['outstanding']}: {float(r['loss_pct']):.2f}%" for r in lossy) + ".\n")
    bad = [r for r in chosen if r["phase"] in ("capacity", "latency") and num(r["noerror_pct"]) is not None
           and num(r["noerror_pct"]) < 99.9]
    if bad:
        w("Answers other than NOERROR above 0.1%: " + "; ".join(
            f"r{r['round']} {r['server']} {r['workload']} {r['phase']}: {float(r['noerror_pct']):.2f}% NOERROR" for r in bad) + ".\n")

    w("<details><summary>Every measurement (results.tsv)</summary>\n")
    w("```")
    with open(res_path) as f:
        w(f.read().rstrip("\n"))
    w("```\n</details>")
    print("\n".join(o))


def check(res_path):
    rows = load(res_path)
    bad = [r for r in rows if r["chosen"] == "1" and r["phase"] in ("capacity", "latency")
           and (num(r["completed"]) or 0) == 0]
    for r in bad:
        print(f"no answers: {r['server']} {r['workload']} {r['phase']}", file=sys.stderr)
    servers = {r["server"] for r in rows if r["phase"] == "capacity"}
    print(f"smoke: {len(servers)} server(s), {sum(1 for r in rows if r['chosen'] == '1' and r['phase'] != '-')} "
          f"measurement(s), {len(bad)} without answers", file=sys.stderr)
    return 1 if bad or not servers else 0


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "latency":
        latency(sys.argv[2])
    elif cmd == "report":
        report(sys.argv[2], sys.argv[3])
    elif cmd == "bursts":
        bursts(sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 1.0,
               float(sys.argv[4]) if len(sys.argv) > 4 else 20000.0)
    elif cmd == "check":
        sys.exit(check(sys.argv[2]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
