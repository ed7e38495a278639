#!/usr/bin/env bash
# bench/blocks.sh: rendering with many active blocks.
#
# Usage:  bash bench/blocks.sh [BLOCKS] [BACKEND...]   (default 100000; backends: none,
#         or any of nftables ipset iptables, which need root and run in a network
#         namespace made for the benchmark and deleted after it)
#
# For each backend: a database with BLOCKS active blocks (half IPv4 hosts, a quarter IPv6
# /64s, a quarter IPv4 /24s; both targets), then
#   a. `saslguard render`: the full first render of the cidr map and the firewall;
#   b. `saslguard run` with nothing new and nothing changed, RUNS times (default 10):
#      median and best in ms (target: under 100 ms; rendering is skipped);
#   c. the same again after one more block, so one render really happens.
# Figures are wall times of whole commands on this machine; compare them within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
BLOCKS=${1:-100000}
shift || true
BACKENDS=("$@")
[ ${#BACKENDS[@]} -gt 0 ] || BACKENDS=(none)
RUNS=${RUNS:-10}
OUT=bench/out/blocks
mkdir -p "$OUT"
[ "${SKIP_BUILD:-}" = 1 ] || cargo build --release --quiet
SG=$PWD/target/release/saslguard

ms() { python3 -c "import sys; print(f'{(float(sys.argv[2]) - float(sys.argv[1])) * 1000:.1f}')" "$1" "$2"; }

for backend in "${BACKENDS[@]}"; do
    db=$OUT/$backend.db
    rm -f "$db" "$db-wal" "$db-shm" "$db.lock" "$OUT/$backend.access"
    cat > "$OUT/$backend.toml" <<TOML
logs = ["$PWD/$OUT/empty.log"]
[postfix]
map = "$PWD/$OUT/$backend.access"
reload_command = []
max_entries = 1000000
[firewall]
backend = "$backend"
name = "sgbench"
max_entries = 1000000
[allow]
loopback = false
TOML
    : > "$OUT/empty.log"
    prefix=()
    if [ "$backend" != none ]; then
        ns=sgbench-$$
        ip netns add "$ns"
        trap 'ip netns delete "$ns" 2>/dev/null || true' EXIT
        prefix=(ip netns exec "$ns")
    fi
    sg() { "${prefix[@]}" "$SG" --db "$db" --config "$OUT/$backend.toml" "$@"; }
    sg ingest -q
    python3 - "$db" "$BLOCKS" <<'PY'
import ipaddress, random, sqlite3, sys, time
db, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
now = int(time.time())
def key(addr):
    if addr.version == 4:
        return ipaddress.IPv6Address("::ffff:" + str(addr)).packed
    return addr.packed
rows, seen = [], set()
while len(seen) < n:
    r = rng.random()
    if r < 0.5:
        net = ipaddress.ip_network(f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}/32")
    elif r < 0.75:
        net = ipaddress.ip_network(f"2a0{rng.randrange(10)}:{rng.randrange(65536):x}:{rng.randrange(65536):x}:{rng.randrange(65536):x}::/64")
    else:
        net = ipaddress.ip_network(f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.0/24")
    if net in seen:
        continue
    seen.add(net)
    target = "firewall" if len(seen) % 2 else "postfix"
    rows.append((str(net), key(net.network_address), key(net.broadcast_address), target,
                 "bench", now - 60, now + rng.randrange(3600, 30 * 86400)))
con = sqlite3.connect(db)
con.executemany("INSERT INTO blocks (network, net_first, net_last, target, origin, reason, created_at, expires_at) VALUES (?, ?, ?, ?, 'policy', ?, ?, ?)", rows)
con.commit()
PY
    start=$EPOCHREALTIME; sg render -q > /dev/null; end=$EPOCHREALTIME
    render_ms=$(ms "$start" "$end")
    : > "$OUT/runs.ms"
    for ((i = 0; i < RUNS; i++)); do
        start=$EPOCHREALTIME; sg run -q > /dev/null; end=$EPOCHREALTIME
        ms "$start" "$end" >> "$OUT/runs.ms"
    done
    sg block 192.0.2.77 --target both -q
    start=$EPOCHREALTIME; sg run -q > /dev/null; end=$EPOCHREALTIME
    changed_ms=$(ms "$start" "$end")
    entries=$(grep -vc '^#' "$OUT/$backend.access" || true)
    sort -n "$OUT/runs.ms" | awk -v b="$backend" -v n="$BLOCKS" -v r="$render_ms" -v c="$changed_ms" -v e="$entries" '
        { v[NR] = $1 } END {
            printf "%-9s %7d blocks (%d map entries): first render %8.1f ms; run, nothing changed: median %6.1f ms, best %6.1f ms (target < 100 ms); run after one new block %8.1f ms\n",
                b, n, e, r, v[int((NR + 1) / 2)], v[1], c }'
    if [ "$backend" != none ]; then
        ip netns delete "$ns"
        trap - EXIT
    fi
done
