#!/usr/bin/env bash
# bench/reports.sh: how fast the reports people run are on a large database, against a
# direct count over the events measured in the same run.
#
# Usage:  bash bench/reports.sh [LINES]      (default 8000000, as bench/ingest.sh)
#
# Needs bench/out/bench.db and bench/out/truth-LINES.json from `bash bench/ingest.sh
# LINES` (run first when missing). Times, RUNS times each (default 10, median and best,
# wall clock of the whole command including process start), as of the log's last
# failure:
#   top --period 24h,7d,30d            top --by user --period 24h,7d,30d
#   show BUSIEST (the truth's busiest address)
#   report --period 7d                 report --period 7d --format html
# Baseline: the same database read the way reports read it before the rollups: one
# GROUP BY over `events` per address for the 7 days (python3's sqlite3, query time only).
# Target: each command under 200 ms. STRICT=1 makes a miss exit 1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

LINES=${1:-8000000}
RUNS=${RUNS:-10}
OUT=bench/out
DB=$OUT/bench.db
TRUTH=$OUT/truth-$LINES.json
SG=target/release/saslguard
export TZ=UTC
unset SASLGUARD_DB SASLGUARD_CONFIG

if [[ ! -f $DB || ! -f $TRUTH ]]; then
    bash bench/ingest.sh "$LINES"
fi
[[ ${SKIP_BUILD:-} == 1 ]] || cargo build --release --quiet

read -r AS_OF BUSIEST < <(python3 - "$TRUTH" <<'EOF'
import json, sys
truth = json.load(open(sys.argv[1]))
busiest = max(truth["failures"].items(), key=lambda kv: (kv[1], kv[0]))[0]
print(truth["last_failure_time"], busiest)
EOF
)

# A config with no logs, so nothing but the database is read.
CONFIG=$OUT/reports.toml
printf 'logs = []\n' > "$CONFIG"

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

median_best() { # prints "median best" of the numbers on stdin
    sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[1]}'
}

declare -A MEDIAN BEST
measure() {
    local name=$1
    shift
    "$SG" --db "$DB" --config "$CONFIG" "$@" --as-of "$AS_OF" > "$OUT/reports.out" # warm-up
    local times=()
    for _ in $(seq "$RUNS"); do
        local start
        start=$(date +%s%N)
        "$SG" --db "$DB" --config "$CONFIG" "$@" --as-of "$AS_OF" > /dev/null
        times+=("$(ms_since "$start")")
    done
    read -r MEDIAN[$name] BEST[$name] < <(printf '%s\n' "${times[@]}" | median_best)
}

measure "top --period 24h,7d,30d" top --period 24h,7d,30d
measure "top --by user --period 24h,7d,30d" top --by user --period 24h,7d,30d
measure "show $BUSIEST" show "$BUSIEST"
measure "report --period 7d" report --period 7d
measure "report --period 7d --format html" report --period 7d --format html

BASELINE=$(python3 - "$DB" "$AS_OF" "$RUNS" <<'EOF'
import sqlite3, sys, time, datetime
db, as_of, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
until = int(datetime.datetime.fromisoformat(as_of.replace("Z", "+00:00")).timestamp())
conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
sql = """SELECT a.ip, (SELECT COUNT(*) FROM events e WHERE e.address_id = a.id AND e.kind = 0
                       AND e.ts > ? AND e.ts <= ?) AS n FROM addresses a"""
times = []
for _ in range(runs + 1):
    start = time.perf_counter()
    conn.execute(sql, (until - 7 * 86400, until)).fetchall()
    times.append((time.perf_counter() - start) * 1000)
times = sorted(times[1:])
print(f"{times[(len(times) - 1) // 2]:.0f}")
EOF
)

echo
echo "saslguard report benchmark: $DB ($(du -h "$DB" | cut -f1)), as of $AS_OF, $RUNS runs each"
echo "baseline: per-address COUNT over events for 7 days, no rollups: ${BASELINE} ms (median)"
echo
printf '  %-45s %8s %8s %10s   %s\n' command median best "/baseline" "target < 200 ms"
missed=0
for name in "top --period 24h,7d,30d" "top --by user --period 24h,7d,30d" "show $BUSIEST" \
    "report --period 7d" "report --period 7d --format html"; do
    verdict=ok
    if (( MEDIAN[$name] >= 200 )); then verdict=MISSED; missed=1; fi
    ratio=$(awk -v a="${MEDIAN[$name]}" -v b="$BASELINE" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
    printf '  %-45s %5s ms %5s ms %10s   %s\n' "$name" "${MEDIAN[$name]}" "${BEST[$name]}" "$ratio" "$verdict"
done
if [[ $missed == 1 && ${STRICT:-} == 1 ]]; then
    exit 1
fi
