#!/usr/bin/env bash
# dnspect capture against tshark on the same capture, in the same run; peak memory on a 1 GB file.
# The captures are core/tests/captures/real.pcap (tcpdump recording dig and kdig through
# `dnspect serve` to NSD) repeated with shifted timestamps: SMALL_MB for the rate comparison
# (tshark is slow), BIG_MB (default 1024) for the memory figure.
#   bash bench/capture.sh            # full
#   SMALL_MB=2 BIG_MB=8 ROUNDS=1 bash bench/capture.sh   # smoke
set -euo pipefail
cd "$(dirname "$0")/.."
SMALL_MB=${SMALL_MB:-20}
BIG_MB=${BIG_MB:-1024}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-target/bench-capture}
mkdir -p "$OUT"
cargo build --release -q -p dnspect --bin dnspect
BIN=target/release/dnspect
read -r P1 P2 < <(python3 -c "import json;d=json.load(open('core/tests/captures/real.ports.json'));print(d['dnspect'],d['nsd'])")
gen() { # gen MB FILE: real.pcap's records repeated, each copy 1 s later than the last
python3 - "$1" "$2" <<'PY'
import struct, sys
mb, out = int(sys.argv[1]), sys.argv[2]
src = open("core/tests/captures/real.pcap", "rb").read()
head, recs, i = src[:24], [], 24
while i < len(src):
    s, us, cap, orig = struct.unpack_from("<IIII", src, i)
    recs.append((s, us, src[i + 16:i + 16 + cap], orig)); i += 16 + cap
with open(out, "wb") as f:
    f.write(head); size = 24; k = 0
    while size < mb * 1024 * 1024:
        chunk = b"".join(struct.pack("<IIII", s + k, us, len(d), o) + d for s, us, d, o in recs)
        f.write(chunk); size += len(chunk); k += 1
PY
}
gen "$SMALL_MB" "$OUT/small.pcap"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
msgs=$("$BIN" capture --report --json --port "$P1" --port "$P2" "$OUT/small.pcap" | python3 -c "import json,sys;print(json.load(sys.stdin)['messages'])")
frames=$("$BIN" capture --report --json --port "$P1" --port "$P2" "$OUT/small.pcap" | python3 -c "import json,sys;print(json.load(sys.stdin)['frames'])")
tshark_rows=$(tshark -r "$OUT/small.pcap" -n -d udp.port==$P1,dns -d tcp.port==$P1,dns -d udp.port==$P2,dns -d tcp.port==$P2,dns -Y dns -T fields -e dns.id 2>/dev/null | wc -l)
echo "capture: $OUT/small.pcap, $(stat -c %s "$OUT/small.pcap") bytes, $frames frames, $msgs DNS messages (tshark shows $tshark_rows frames with DNS)"
d_lines=(); d_json=(); d_report=(); t_fields=()
for _ in $(seq "$ROUNDS"); do
    d_lines+=("$(secs "$BIN" capture --port "$P1" --port "$P2" "$OUT/small.pcap")")
    d_json+=("$(secs "$BIN" capture --json --port "$P1" --port "$P2" "$OUT/small.pcap")")
    d_report+=("$(secs "$BIN" capture --report --port "$P1" --port "$P2" "$OUT/small.pcap")")
    t_fields+=("$(secs tshark -r "$OUT/small.pcap" -n -d udp.port==$P1,dns -d tcp.port==$P1,dns -d udp.port==$P2,dns -d tcp.port==$P2,dns -Y dns -T fields -e frame.time_epoch -e ip.src -e ip.dst -e dns.id -e dns.qry.name -e dns.qry.type -e dns.flags.rcode)")
done
for name in d_lines d_json d_report t_fields; do
    declare -n arr=$name
    m=$(printf '%s\n' "${arr[@]}" | median)
    printf '%-10s median %.3f s over %s rounds: %.0f messages/s\n' "$name" "$m" "$ROUNDS" "$(echo "$msgs / $m" | bc -l)"
done
rm -f "$OUT/small.pcap"
gen "$BIG_MB" "$OUT/big.pcap"
echo "big capture: $(stat -c %s "$OUT/big.pcap") bytes"
for mode in "--report" "--json"; do
    /usr/bin/time -f "dnspect capture $mode: %e s, peak RSS %M KiB" "$BIN" capture $mode --port "$P1" --port "$P2" "$OUT/big.pcap" >/dev/null
done
rm -f "$OUT/big.pcap"
