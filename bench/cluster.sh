#!/usr/bin/env bash
# bench/cluster.sh: the cost of [cluster] (issue 15), against a real PostgreSQL this
# script starts, with baselines measured in the same run.
#
# Usage:  bash bench/cluster.sh            (LINES=8000000 per host: about 1 GB each)
#         LINES=1000000 bash bench/cluster.sh   (the same shapes, smaller)
#
# Steps
#   1. cargo build --release -p saslguard -p saslguard-gen (SKIP_BUILD=1 skips it).
#   2. Generates three logs with saslguard-gen, one per host (syslog, TZ=UTC, seeds
#      SEED, SEED+1, SEED+2, 7 days ending at one moment END), reused from bench/out/
#      while the settings and the generator binary stay the same. Every command below
#      runs with --as-of END.
#   3. Starts its own PostgreSQL the way tests/common/postgres.rs does: initdb as the
#      `postgres` user (setpriv; initdb refuses root) on a temporary directory, the
#      server on a Unix socket in that directory only (no TCP), password authentication,
#      a least-privilege role owning one schema; stopped and deleted on exit. Needs
#      root and the distribution's postgresql package.
#   4. Measures:
#      a. host 1's local ingest (a config without [cluster], fresh database) against
#         shipping its events to an empty cluster (`ingest` again with [cluster]: nothing
#         new to read, the whole outbox to ship), REPEAT times alternating (default 3),
#         medians compared. Target: shipping / local ingest <= 2.
#      b. hosts 2 and 3 ingest and ship their logs; each host runs once (blocks decided
#         over all three, mirrored, rendered); then `run` with nothing new on host 1,
#         RUNS times (default 5), median. Baseline: the same `run` of host 1 alone (a
#         config without [cluster], the same database). Target: < 100 ms.
#      c. `top --period 24h,7d,30d` over the 3 hosts' events in the cluster, RUNS times,
#         median. Baseline: `top --local` (host 1's own SQLite, a third of the events).
#         Target: < 500 ms.
#   5. Prints the figures, ratios and targets; writes bench/out/cluster-results.json.
#
# Environment
#   LINES=8000000  lines per host      RUNS=5     timed repetitions of b and c
#   REPEAT=3       pairs of a          SEED=42    ATTACKERS=5000
#   SKIP_BUILD=1   use target/release as it is
#   STRICT=1       exit 1 when a target is missed
#
# Exit status: 0 when every command succeeded (and, with STRICT=1, every target is met).

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

LINES=${LINES:-8000000}
if ! [[ $LINES =~ ^[1-9][0-9]*$ ]]; then
    echo "LINES must be a positive number of lines" >&2
    exit 1
fi
RUNS=${RUNS:-5}
REPEAT=${REPEAT:-3}
SEED=${SEED:-42}
ATTACKERS=${ATTACKERS:-5000}

export TZ=UTC
unset SASLGUARD_DB SASLGUARD_CONFIG

OUT=bench/out
SG=$PWD/target/release/saslguard
GEN=$PWD/target/release/saslguard-gen
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

step() { printf '\n== %s\n' "$*" >&2; }

# Milliseconds elapsed since an EPOCHREALTIME value.
ms_since() {
    local now=$EPOCHREALTIME
    awk -v s="$1" -v e="$now" 'BEGIN { printf "%.3f\n", (e - s) * 1000 }'
}

# The median of the numbers in a file, one a line.
median() {
    sort -n "$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

# Runs "$@" RUNS times, appending each wall time (ms) to the file $1; fails on a failure.
time_runs() {
    local file=$1
    shift
    : > "$file"
    for ((i = 0; i < RUNS; i++)); do
        local start=$EPOCHREALTIME
        if ! "$@" > "$file.out" 2> "$file.err"; then
            echo "failed: $*" >&2
            cat "$file.err" >&2
            exit 1
        fi
        ms_since "$start" >> "$file"
    done
}

# 1. Build ----------------------------------------------------------------------------
if [[ ${SKIP_BUILD:-} != 1 ]]; then
    step "cargo build --release -p saslguard -p saslguard-gen"
    cargo build --release -p saslguard -p saslguard-gen
fi
for bin in "$SG" "$GEN"; do
    [[ -x $bin ]] || { echo "missing $bin: build failed?" >&2; exit 1; }
done

# 2. Generate (or reuse) three logs ending at one moment ------------------------------
PARAMS=$OUT/cluster-$LINES.params
want="lines=$LINES seed=$SEED attackers=$ATTACKERS format=syslog tz=UTC hosts=3"
if [[ -f $PARAMS && $(head -1 "$PARAMS") == "$want" && $PARAMS -nt $GEN ]]; then
    END=$(sed -n 2p "$PARAMS")
    step "reusing the logs of $PARAMS (ending $END)"
else
    END=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    for h in 1 2 3; do
        step "generating host $h's log ($want, seed $((SEED + h - 1)), ending $END)"
        "$GEN" --lines "$LINES" --out "$OUT/cluster-$LINES-mx$h.log" \
            --truth "$OUT/cluster-$LINES-mx$h.truth.json" --seed $((SEED + h - 1)) \
            --end "$END" --attackers "$ATTACKERS" --format syslog --host "mx$h"
    done
    printf '%s\n%s\n' "$want" "$END" > "$PARAMS"
fi
log_of() { echo "$OUT/cluster-$LINES-mx$1.log"; }
for h in 1 2 3; do cat "$(log_of "$h")" > /dev/null; done

# 3. PostgreSQL, as tests/common/postgres.rs starts it ----------------------------------
[[ $(id -u) == 0 ]] || { echo "needs root (the server runs as the postgres user)" >&2; exit 1; }
PGBIN=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -1)
[[ -x $PGBIN/initdb ]] || { echo "no PostgreSQL server (apt-get install postgresql)" >&2; exit 1; }
PGDIR=$(mktemp -d /tmp/saslguard-bench-pg.XXXXXX)
WORK=$(mktemp -d /tmp/saslguard-bench-hosts.XXXXXX)
ADMIN_PASSWORD=bench-admin-$RANDOM$RANDOM
ROLE_PASSWORD=bench-role-$RANDOM$RANDOM
chown postgres:postgres "$PGDIR"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups --reset-env "$@"; }
stop_pg() {
    if [[ -f $PGDIR/data/postmaster.pid ]]; then
        as_postgres "$PGBIN/pg_ctl" stop -D "$PGDIR/data" -m fast -w -t 30 > /dev/null 2>&1 || true
    fi
    rm -rf "$PGDIR" "$WORK"
}
trap stop_pg EXIT
step "starting PostgreSQL ($PGBIN) on $PGDIR"
printf '%s' "$ADMIN_PASSWORD" > "$PGDIR/pw"
chown postgres:postgres "$PGDIR/pw"
as_postgres "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=scram-sha-256 -E UTF8 \
    --no-sync --locale=C --pwfile="$PGDIR/pw" > "$OUT/cluster-initdb.log" 2>&1
rm -f "$PGDIR/pw"
as_postgres "$PGBIN/pg_ctl" start -D "$PGDIR/data" -w -t 60 -l "$PGDIR/server.log" \
    -o "-k $PGDIR -p 5432 -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB" \
    > /dev/null
psql_admin() {
    as_postgres env PGPASSWORD="$ADMIN_PASSWORD" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$PGDIR" -p 5432 -U postgres "$@"
}
psql_admin -d postgres -c "CREATE ROLE saslguard LOGIN PASSWORD '$ROLE_PASSWORD' NOSUPERUSER NOCREATEDB NOCREATEROLE"
psql_admin -d postgres -c "CREATE DATABASE saslguard"
psql_admin -d postgres -c "REVOKE ALL ON DATABASE saslguard FROM PUBLIC"
psql_admin -d postgres -c "GRANT CONNECT, TEMPORARY ON DATABASE saslguard TO saslguard"
psql_admin -d saslguard -c "REVOKE CREATE ON SCHEMA public FROM PUBLIC" \
    -c "CREATE SCHEMA saslguard AUTHORIZATION saslguard"
printf '%s\n' "$ROLE_PASSWORD" > "$WORK/pgpassword"
chmod 600 "$WORK/pgpassword"
URL="postgresql://saslguard@${PGDIR//\//%2F}:5432/saslguard"

# A host's configs: alone (no [cluster]) and in the cluster.
for h in 1 2 3; do
    base="logs = [\"$(log_of "$h")\"]
[postfix]
map = \"$WORK/mx$h.access\"
map_type = \"cidr\"
reload_command = []
[firewall]
backend = \"none\""
    printf '%s\n' "$base" > "$WORK/mx$h-alone.toml"
    printf '%s\n[cluster]\nurl = "%s"\nhost = "mx%s"\nconnect_timeout = "5s"\npassword_file = "%s"\n' \
        "$base" "$URL" "$h" "$WORK/pgpassword" > "$WORK/mx$h.toml"
done
sg() { local h=$1 how=$2; shift 2; "$SG" --db "$WORK/mx$h.db" --config "$WORK/mx$h$how.toml" "$@" --as-of "$END"; }
fresh_db() { rm -f "$WORK/mx$1.db" "$WORK/mx$1.db-wal" "$WORK/mx$1.db-shm" "$WORK/mx$1.db.lock"; }

# 4a. Local ingest against shipping, alternating --------------------------------------
: > "$OUT/cluster-local.ms"
: > "$OUT/cluster-ship.ms"
for ((r = 1; r <= REPEAT; r++)); do
    step "a. host 1: local ingest, then shipping to an empty cluster ($r/$REPEAT)"
    fresh_db 1
    psql_admin -d saslguard -c "DO \$\$ BEGIN IF to_regclass('saslguard.events') IS NOT NULL THEN TRUNCATE saslguard.events, saslguard.hosts, saslguard.event_hours, saslguard.event_days; END IF; END \$\$"
    start=$EPOCHREALTIME
    sg 1 -alone ingest --format json > "$OUT/cluster-local.json" 2> "$OUT/cluster-local.err" \
        || { cat "$OUT/cluster-local.err" >&2; exit 1; }
    ms_since "$start" >> "$OUT/cluster-local.ms"
    start=$EPOCHREALTIME
    sg 1 "" ingest --format json > "$OUT/cluster-ship.json" 2> "$OUT/cluster-ship.err" \
        || { cat "$OUT/cluster-ship.err" >&2; exit 1; }
    ms_since "$start" >> "$OUT/cluster-ship.ms"
    echo "local $(tail -1 "$OUT/cluster-local.ms") ms, shipping $(tail -1 "$OUT/cluster-ship.ms") ms" >&2
done
shipped=$(psql_admin -d saslguard -At -c "SELECT COUNT(*) FROM saslguard.events")
echo "events in the cluster after host 1: $shipped" >&2

# 4b. Three hosts; run with nothing new -----------------------------------------------
for h in 2 3; do
    step "b. host $h ingests and ships its log"
    fresh_db "$h"
    sg "$h" "" ingest --format json > "$OUT/cluster-mx$h.json" 2> "$OUT/cluster-mx$h.err" \
        || { cat "$OUT/cluster-mx$h.err" >&2; exit 1; }
done
for h in 1 2 3; do
    step "b. host $h: first run (decides, mirrors and renders the blocks)"
    start=$EPOCHREALTIME
    sg "$h" "" run > "$OUT/cluster-run-mx$h.out" 2> "$OUT/cluster-run-mx$h.err" \
        || { cat "$OUT/cluster-run-mx$h.err" >&2; exit 1; }
    echo "$(ms_since "$start") ms" >&2
done
events=$(psql_admin -d saslguard -At -c "SELECT COUNT(*) FROM saslguard.events")
blocks=$(psql_admin -d saslguard -At -c "SELECT COUNT(*) FROM saslguard.blocks WHERE ended_at IS NULL")
echo "cluster: $events events, $blocks active blocks" >&2
step "b. host 1: run with nothing new, in the cluster and alone, $RUNS times each"
time_runs "$OUT/cluster-run.ms" sg 1 "" run
time_runs "$OUT/cluster-run-alone.ms" sg 1 -alone run

# 4c. top over the cluster ------------------------------------------------------------
step "c. top --period 24h,7d,30d over the cluster and --local, $RUNS times each"
time_runs "$OUT/cluster-top.ms" sg 1 "" top --period 24h,7d,30d
time_runs "$OUT/cluster-top-local.ms" sg 1 "" top --period 24h,7d,30d --local
head -8 "$OUT/cluster-top.ms.out" >&2

# 5. Report ---------------------------------------------------------------------------
python3 - "$OUT" "$LINES" "$REPEAT" "$RUNS" "$events" "$shipped" "$blocks" "${STRICT:-0}" <<'PY'
import json, os, statistics, sys

out, lines, repeat, runs, events, shipped, blocks, strict = sys.argv[1:]
def ms(name):
    return [float(x) for x in open(os.path.join(out, name)).read().split()]
local, ship = ms("cluster-local.ms"), ms("cluster-ship.ms")
run, run_alone = ms("cluster-run.ms"), ms("cluster-run-alone.ms")
top, top_local = ms("cluster-top.ms"), ms("cluster-top-local.ms")
med = statistics.median
ratio = med(ship) / med(local)
targets = {
    "shipping <= 2x local ingest": ratio <= 2.0,
    "run, nothing new, 3 hosts < 100 ms": med(run) < 100.0,
    "top --period 24h,7d,30d, 3 hosts < 500 ms": med(top) < 500.0,
}
mark = lambda ok: "ok" if ok else "MISSED"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print()
print(f"saslguard cluster benchmark: 3 hosts x {int(lines):,} lines; {int(shipped):,} events "
      f"shipped by host 1, {int(events):,} in the cluster, {int(blocks):,} active blocks")
print(f"machine: {os.cpu_count()} CPUs, {cpu}")
print()
rows = [
    (f"a. host 1 local ingest (median of {repeat})", med(local), ""),
    (f"a. host 1 shipping to an empty cluster", med(ship), f"<= 2x local: {ratio:.2f}x  {mark(targets['shipping <= 2x local ingest'])}"),
    (f"b. run, nothing new, alone (median of {runs})", med(run_alone), ""),
    (f"b. run, nothing new, 3-host cluster", med(run), f"< 100 ms ({med(run) / med(run_alone):.1f}x alone)  {mark(targets['run, nothing new, 3 hosts < 100 ms'])}"),
    (f"c. top 24h,7d,30d --local (median of {runs})", med(top_local), ""),
    (f"c. top 24h,7d,30d, 3-host cluster", med(top), f"< 500 ms ({med(top) / med(top_local):.1f}x local)  {mark(targets['top --period 24h,7d,30d, 3 hosts < 500 ms'])}"),
]
for name, value, note in rows:
    print(f"  {name:<46} {value:>10.1f} ms   {note}")
json.dump({
    "lines_per_host": int(lines), "events_host1": int(shipped), "events_cluster": int(events),
    "active_blocks": int(blocks), "local_ingest_ms": local, "ship_ms": ship, "ship_ratio": ratio,
    "run_nothing_new_ms": run, "run_nothing_new_alone_ms": run_alone,
    "top_cluster_ms": top, "top_local_ms": top_local, "targets": targets,
}, open(os.path.join(out, "cluster-results.json"), "w"), indent=2)
missed = [k for k, v in targets.items() if not v]
if missed:
    print("targets missed: " + ", ".join(missed) + (" (STRICT=1: failing)" if strict == "1" else ""))
sys.exit(1 if strict == "1" and missed else 0)
PY
