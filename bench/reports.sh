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
# COUNT over `events` per address for the 7 days (python3's sqlite3, query time only).
# With BASELINE_BIN=path/to/an/older/saslguard, that binary also runs every command,
# alternating with this one, and each command gets its own ratio. Its database is one
# it made itself: it ingests the same log (bench/out/reports-base.db, kept while it is
# newer than the binary and the log), so a baseline of any schema reads its own.
# BASELINE_SCHEMA5=1 is for a binary from before the rollups (schema 5): it gets a
# copy of the database without the rollup tables, downgraded to schema 5 (and no HTML
# command, which it lacked).
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

declare -A MEDIAN BEST OLD
# measure NAME BINARY DATABASE ARGS...: RUNS timed runs after one warm-up.
measure() {
    local name=$1 bin=$2 db=$3
    shift 3
    "$bin" --db "$db" --config "$CONFIG" "$@" --as-of "$AS_OF" > "$OUT/reports.out" # warm-up
    local times=()
    for _ in $(seq "$RUNS"); do
        local start
        start=$(date +%s%N)
        "$bin" --db "$db" --config "$CONFIG" "$@" --as-of "$AS_OF" > /dev/null
        times+=("$(ms_since "$start")")
    done
    local median best
    read -r median best < <(printf '%s\n' "${times[@]}" | median_best)
    MEDIAN["$name"]=$median
    BEST["$name"]=$best
}

COMMANDS=("top --period 24h,7d,30d" "top --by user --period 24h,7d,30d" "show $BUSIEST"
    "report --period 7d" "report --period 7d --format html")
for name in "${COMMANDS[@]}"; do
    read -ra args <<< "$name"
    measure "$name" "$SG" "$DB" "${args[@]}"
done
# The baseline binary's database: a schema-5 copy (BASELINE_SCHEMA5=1) or its own
# ingest of the log (reused while newer than both).
baseline_db() {
    local old_db=$OUT/reports-base.db
    if [[ ${BASELINE_SCHEMA5:-} == 1 ]]; then
        old_db=$OUT/reports-old.db
        rm -f "$old_db" "$old_db-wal" "$old_db-shm"
        python3 - "$DB" "$old_db" <<'EOF'
import sqlite3, sys
src = sqlite3.connect(sys.argv[1])
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.executescript("""DROP TABLE IF EXISTS address_hours; DROP TABLE IF EXISTS address_days;
    DROP TABLE IF EXISTS hour_totals; DROP TABLE IF EXISTS label_hours;
    DELETE FROM events WHERE kind = 2; PRAGMA user_version = 5; VACUUM;""")
EOF
    elif [[ ! -f $old_db || $old_db -ot $BASELINE_BIN || $old_db -ot $OUT/maillog-$LINES ]]; then
        rm -f "$old_db" "$old_db-wal" "$old_db-shm" "$old_db.lock"
        "$BASELINE_BIN" --db "$old_db" ingest --format json "$OUT/maillog-$LINES" > /dev/null
    fi
    echo "$old_db"
}

if [[ -n ${BASELINE_BIN:-} ]]; then
    OLD_DB=$(baseline_db)
    for name in "${COMMANDS[@]}"; do
        [[ $name == *html* && ${BASELINE_SCHEMA5:-} == 1 ]] && continue # no HTML before
        read -ra args <<< "$name"
        measure "$name" "$BASELINE_BIN" "$OLD_DB" "${args[@]}"
        OLD["$name"]=${MEDIAN["$name"]}
        measure "$name" "$SG" "$DB" "${args[@]}" # again, right after the baseline
    done
fi

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
printf '  %-40s %8s %8s %10s %18s   %s\n' command median best "/baseline" "/old binary" \
    "target < 200 ms"
missed=0
for name in "${COMMANDS[@]}"; do
    verdict=ok
    if (( ${MEDIAN["$name"]} >= 200 )); then verdict=MISSED; missed=1; fi
    ratio=$(awk -v a="${MEDIAN["$name"]}" -v b="$BASELINE" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
    old=-
    if [[ -n ${OLD["$name"]:-} ]]; then
        old=$(awk -v a="${MEDIAN["$name"]}" -v b="${OLD["$name"]}" 'BEGIN {printf "%.2f (%d ms)", a / b, b}')
    fi
    printf '  %-40s %5s ms %5s ms %10s %18s   %s\n' "$name" "${MEDIAN["$name"]}" "${BEST["$name"]}" \
        "$ratio" "$old" "$verdict"
done
if [[ $missed == 1 && ${STRICT:-} == 1 ]]; then
    exit 1
fi
