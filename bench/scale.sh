#!/usr/bin/env bash
# bench/scale.sh: does the cost follow the work, not the history? Issue 14's table, at
# the 8M-line shape and at 4x that, measured in one run, with ratios and targets.
#
# Usage:  bash bench/scale.sh                 (32M + 8M lines: generation and ingest take
#                                              minutes on 2 cores; bench/out/scale/ caches)
#         LINES=2000000 bash bench/scale.sh   (the same shapes, smaller, for development)
#
# Shapes (saslguard-gen, syslog format, TZ=UTC, ending 2026-11-27T12:00:00Z):
#   small: LINES/4 lines, 5,000 attackers, 7 days, seed 42    (bench/ingest.sh's shape)
#   big:   LINES lines, 50,000 attackers, 30 days, seed 7     (issue 14: 6.4M events)
#   inc:   LINES/32 lines (1M at full size), 1 day after the others, seed 9
#   huge:  2*LINES lines (64M), 50,000 attackers, 60 days, seed 8: only with HUGE=1, only
#          for the ingest's peak RSS
# Measured, for each shape, with target/release/saslguard (and BASELINE_BIN, if given,
# on a database it ingested itself, alternating with this one):
#   classic pipeline (grep | awk | sed | sort | uniq -c | sort) and a fresh ingest: wall
#     time and peak RSS (INGEST_RUNS times each, default 1; medians);
#   each command of the issue's table, RUNS times (default 5; median, wall clock of the
#     whole process; peak RSS the largest seen), as of the log's last failure:
#       top --period 24h,7d,30d      top --by user --period 24h,7d,30d     show BUSIEST
#       report --period 7d           report --period 30d --format html
#       report --period 10000000d    (once; never with BASELINE_BIN: 20 GB before)
#       ingest with nothing new      run with nothing new (a first run made the blocks:
#                                    a postfix tier of 50 in 7d, a cidr map, no reload)
#   the 4x-history check: the small database against a copy that also holds the three
#     weeks before it (LINES/4 lines a week each, 5,000 other attackers each: seeds 43-45),
#     same attack rate, 4x the history: top and top --by user over 24h, report over 24h
#     and 7d, show BUSIEST and run; target at most 1.5x;
#   incremental ingest of the inc log into a copy of the big database against the same
#     ingest into an empty one: target at most 1.5x.
# Targets (issue 14): commands under 200 ms on the big shape; nothing new and run under
# 20 ms; ingest per line at the big shape within 1.25x of the small one; ingest/pipeline
# at most 1.0 (goal 0.5); peak RSS under 64 MB for ingest, under 100 MB for any --period.
# STRICT=1 makes a missed target exit 1. SKIP_BUILD=1 uses target/release as it is.
# GENERATE_ONLY=1 stops after making the logs (they take minutes at full size).
# Outputs: bench/out/scale/ (git-ignored): logs, truths, databases, results.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

LINES=${LINES:-32000000}
if ! [[ $LINES =~ ^[1-9][0-9]*$ ]] || ((LINES < 64)); then
    echo "LINES must be a number of lines, at least 64" >&2
    exit 1
fi
RUNS=${RUNS:-5}
INGEST_RUNS=${INGEST_RUNS:-1}
HUGE=${HUGE:-0}
END=2026-11-27T12:00:00Z
INC_END=2026-11-28T12:00:00Z
OUT=bench/out/scale
SG=target/release/saslguard
GEN=target/release/saslguard-gen
BASE=${BASELINE_BIN:-}
export TZ=UTC
unset SASLGUARD_DB SASLGUARD_CONFIG
mkdir -p "$OUT"

step() { printf '\n== %s\n' "$*" >&2; }

if [[ ${SKIP_BUILD:-} != 1 ]]; then
    step "cargo build --release -p saslguard -p saslguard-gen"
    cargo build --release -p saslguard -p saslguard-gen
fi
for bin in "$SG" "$GEN" ${BASE:+"$BASE"}; do
    [[ -x $bin ]] || { echo "missing $bin" >&2; exit 1; }
done

declare -A SHAPE_LINES=([small]=$((LINES / 4)) [big]=$LINES [inc]=$((LINES / 32)) [huge]=$((LINES * 2)))
declare -A SHAPE_ATTACKERS=([small]=5000 [big]=50000 [inc]=5000 [huge]=50000)
declare -A SHAPE_SPAN=([small]=7d [big]=30d [inc]=1d [huge]=60d)
declare -A SHAPE_SEED=([small]=42 [big]=7 [inc]=9 [huge]=8)
declare -A SHAPE_END=([small]=$END [big]=$END [inc]=$INC_END [huge]=$END)
# The three weeks before small, each with other attackers: small's week after them is
# the "history" database, 4x small's history at the same attack rate.
for week in 1 2 3; do
    SHAPE_LINES[hist$week]=$((LINES / 4))
    SHAPE_ATTACKERS[hist$week]=5000
    SHAPE_SPAN[hist$week]=7d
    SHAPE_SEED[hist$week]=$((42 + week))
    SHAPE_END[hist$week]=$(date -u -d "2026-11-27T12:00:00Z - $((7 * week)) days" +%FT%TZ)
done

# generate SHAPE: bench/out/scale/SHAPE.log and SHAPE.truth.json, reused when made with
# the same settings (REGENERATE=1 makes them again, e.g. after changing the generator).
generate() {
    local shape=$1 log=$OUT/$1.log truth=$OUT/$1.truth.json params=$OUT/$1.params
    local want="lines=${SHAPE_LINES[$shape]} attackers=${SHAPE_ATTACKERS[$shape]} span=${SHAPE_SPAN[$shape]} seed=${SHAPE_SEED[$shape]} end=${SHAPE_END[$shape]} format=syslog"
    if [[ -f $log && -f $truth && -f $params && $(cat "$params") == "$want" && ${REGENERATE:-} != 1 ]]; then
        step "reusing $log ($want)"
        return
    fi
    step "generating $log ($want)"
    rm -f "$log" "$truth" "$params"
    "$GEN" --lines "${SHAPE_LINES[$shape]}" --attackers "${SHAPE_ATTACKERS[$shape]}" \
        --span "${SHAPE_SPAN[$shape]}" --seed "${SHAPE_SEED[$shape]}" --end "${SHAPE_END[$shape]}" \
        --format syslog --out "$log" --truth "$truth"
    echo "$want" > "$params"
}

# timed NAME CMD...: runs CMD under /usr/bin/time; appends "WALL_MS PEAK_RSS_KB" to
# $OUT/NAME.runs. Output goes to $OUT/last.out, errors to $OUT/last.err.
timed() {
    local name=$1
    shift
    local start=$EPOCHREALTIME
    if ! /usr/bin/time -f '%M' -o "$OUT/rss" "$@" > "$OUT/last.out" 2> "$OUT/last.err"; then
        echo "failed: $*" >&2
        cat "$OUT/last.err" >&2
        exit 1
    fi
    local end=$EPOCHREALTIME
    printf '%s %s\n' "$(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.1f", (e - s) * 1000}')" \
        "$(tail -1 "$OUT/rss")" >> "$OUT/$name.runs"
}

# Median wall ms and largest RSS (MB) of NAME's runs.
median_ms() { cut -d' ' -f1 "$OUT/$1.runs" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
peak_mb() { cut -d' ' -f2 "$OUT/$1.runs" | sort -n | tail -1 | awk '{printf "%.1f", $1 / 1024}'; }

# fresh_db WHICH SHAPE: ingests SHAPE's log into a new database with binary WHICH
# (sg or base), INGEST_RUNS times, keeping the last database.
fresh_db() {
    local which=$1 shape=$2 bin=$SG
    [[ $which == base ]] && bin=$BASE
    local db=$OUT/$shape.$which.db
    rm -f "$OUT/ingest.$shape.$which.runs"
    for _ in $(seq "$INGEST_RUNS"); do
        rm -f "$db" "$db-wal" "$db-shm" "$db.lock"
        timed "ingest.$shape.$which" "$bin" --db "$db" ingest --format json "$OUT/$shape.log"
    done
}

pipeline() {
    local shape=$1
    rm -f "$OUT/pipeline.$shape.runs"
    for _ in $(seq "$INGEST_RUNS"); do
        # shellcheck disable=SC2016 # $7 is awk's
        timed "pipeline.$shape" bash -c 'grep "authentication failed" "$1" | awk "{print \$7}" |
            sed -e "s/.*\[//" -e "s/\].*//" | sort | uniq -c | sort -nr > /dev/null' _ "$OUT/$shape.log"
    done
}

# A config reading the shape's log, blocking into a cidr map in bench/out/scale (no
# reload, no firewall): `run` is measured for real, after a first run made its blocks.
config_for() {
    local shape=$1 which=$2
    cat > "$OUT/$shape.$which.toml" << EOF
logs = ["$PWD/$OUT/$shape.log"]
[postfix]
map = "$PWD/$OUT/$shape.$which.map"
map_type = "cidr"
reload_command = []
[firewall]
backend = "none"
[[policy.tier]]
target = "postfix"
threshold = 50
window = "7d"
duration = "7d"
EOF
}

as_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["last_failure_time"])' "$1"; }
busiest() {
    python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(max(t["failures"].items(), key=lambda kv: (kv[1], kv[0]))[0])' "$1"
}

COMMANDS=("top --period 24h,7d,30d" "top --by user --period 24h,7d,30d" "show BUSIEST"
    "report --period 7d" "report --period 30d --format html" "ingest --format json LOG"
    "run")
HISTORY=("top --period 24h" "top --by user --period 24h" "report --period 24h" "report --period 7d"
    "show BUSIEST" "run")

# measure WHICH SHAPE NAME [RUNS]: the command NAME on SHAPE's database with WHICH's
# binary; results in $OUT/cmd.WHICH.SHAPE.<name>.runs.
measure() {
    local which=$1 shape=$2 name=$3 runs=${4:-$RUNS} bin=$SG
    [[ $which == base ]] && bin=$BASE
    local db=$OUT/$shape.$which.db key
    key="cmd.$which.$shape.$(tr -c 'a-z0-9\n' '_' <<< "$name")"
    local words command=${name#hist: }
    read -ra words <<< "${command//BUSIEST/$(busiest "$OUT/$shape.truth.json")}"
    words=("${words[@]//LOG/$OUT/$shape.log}")
    rm -f "$OUT/$key.runs"
    "$bin" --db "$db" --config "$OUT/$shape.$which.toml" "${words[@]}" --as-of "$(as_of "$OUT/$shape.truth.json")" \
        > /dev/null 2>&1 || true # warm-up
    for _ in $(seq "$runs"); do
        timed "$key" "$bin" --db "$db" --config "$OUT/$shape.$which.toml" "${words[@]}" \
            --as-of "$(as_of "$OUT/$shape.truth.json")"
    done
    echo "$key"
}

WHICHES=(sg)
[[ -n $BASE ]] && WHICHES+=(base)

for shape in small big inc hist1 hist2 hist3; do generate "$shape"; done
[[ $HUGE == 1 ]] && generate huge
[[ ${GENERATE_ONLY:-} == 1 ]] && exit 0

for shape in small big; do
    step "$shape: warming the page cache, pipeline and fresh ingest"
    cat "$OUT/$shape.log" > /dev/null
    pipeline "$shape"
    for which in "${WHICHES[@]}"; do
        fresh_db "$which" "$shape"
        config_for "$shape" "$which"
        step "$shape, $which: a first run, which blocks (not measured)"
        bin=$SG
        [[ $which == base ]] && bin=$BASE
        timed "firstrun.$shape.$which" "$bin" --db "$OUT/$shape.$which.db" \
            --config "$OUT/$shape.$which.toml" run --as-of "$(as_of "$OUT/$shape.truth.json")"
    done
done
for which in "${WHICHES[@]}"; do
    step "history, $which: small's database with the three weeks before it"
    bin=$SG
    [[ $which == base ]] && bin=$BASE
    rm -f "$OUT/history.$which.db"*
    cp "$OUT/small.$which.db" "$OUT/history.$which.db"
    [[ -f $OUT/small.$which.db-wal ]] && cp "$OUT/small.$which.db-wal" "$OUT/history.$which.db-wal"
    for week in 3 2 1; do
        timed "history.ingest.$which" "$bin" --db "$OUT/history.$which.db" ingest "$OUT/hist$week.log"
    done
    cp "$OUT/small.truth.json" "$OUT/history.truth.json"
    config_for small "$which"
    sed "s#small.$which.map#history.$which.map#" "$OUT/small.$which.toml" > "$OUT/history.$which.toml"
    timed "firstrun.history.$which" "$bin" --db "$OUT/history.$which.db" \
        --config "$OUT/history.$which.toml" run --as-of "$(as_of "$OUT/small.truth.json")"
done
if [[ $HUGE == 1 ]]; then
    step "huge: fresh ingest (peak RSS)"
    fresh_db sg huge
    rm -f "$OUT/huge.sg.db"*
fi

for shape in small big; do
    for name in "${COMMANDS[@]}"; do
        for which in "${WHICHES[@]}"; do
            step "$shape, $which: $name"
            measure "$which" "$shape" "$name" > /dev/null
        done
    done
    step "$shape: report --period 10000000d"
    measure sg "$shape" "report --period 10000000d" 1 > /dev/null
done
for shape in small history; do
    for name in "${HISTORY[@]}"; do
        for which in "${WHICHES[@]}"; do
            step "4x history, $shape, $which: $name"
            measure "$which" "$shape" "hist: $name" > /dev/null
        done
    done
done

step "incremental ingest: ${SHAPE_LINES[inc]} new lines into the big database and into an empty one"
for which in "${WHICHES[@]}"; do
    bin=$SG
    [[ $which == base ]] && bin=$BASE
    rm -f "$OUT/inc.full.$which.runs" "$OUT/inc.empty.$which.runs"
    for _ in $(seq "$RUNS"); do
        cp "$OUT/big.$which.db" "$OUT/inc-full.db"
        rm -f "$OUT/inc-full.db-wal" "$OUT/inc-full.db-shm" "$OUT/inc-empty.db"*
        [[ -f $OUT/big.$which.db-wal ]] && cp "$OUT/big.$which.db-wal" "$OUT/inc-full.db-wal"
        timed "inc.full.$which" "$bin" --db "$OUT/inc-full.db" ingest --format json "$OUT/inc.log"
        timed "inc.empty.$which" "$bin" --db "$OUT/inc-empty.db" ingest --format json "$OUT/inc.log"
    done
    rm -f "$OUT/inc-full.db"* "$OUT/inc-empty.db"*
done

# ---- the table ----------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
verdict() { # verdict VALUE OP LIMIT
    if awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {exit !(op == "<" ? v < l : v <= l)}'; then
        echo ok
    else
        echo MISSED
        missed=1
    fi
}
cmd_key() { echo "cmd.$1.$2.$(tr -c 'a-z0-9\n' '_' <<< "$3")"; }
missed=0
{
    echo "saslguard scale benchmark ($(date -u +%FT%TZ), $(nproc) cores, commit $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes'))"
    echo "small: ${SHAPE_LINES[small]} lines, ${SHAPE_ATTACKERS[small]} attackers, ${SHAPE_SPAN[small]}; big: ${SHAPE_LINES[big]} lines, ${SHAPE_ATTACKERS[big]} attackers, ${SHAPE_SPAN[big]}"
    for shape in small big; do
        printf '%s: database %s, %s events\n' "$shape" "$(du -h "$OUT/$shape.sg.db" | cut -f1)" \
            "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM events").fetchone()[0])' "$OUT/$shape.sg.db")"
    done
    [[ -n $BASE ]] && echo "baseline: $BASE"
    echo "commands: median of $RUNS runs (wall clock of the process), as of each log's last failure"
    echo
    printf '%-40s %12s %12s %7s  %-22s %s\n' measure small big big/sm target verdict
    for which in "${WHICHES[@]}"; do
        label=""
        [[ $which == base ]] && label=" [baseline]"
        for kind in pipeline ingest; do
            if [[ $kind == pipeline ]]; then
                [[ $which == base ]] && continue
                s=$(median_ms pipeline.small); b=$(median_ms pipeline.big)
                printf '%-40s %9.0f ms %9.0f ms %7s\n' "classic pipeline, wall" "$s" "$b" "$(ratio "$b" "$s")"
                continue
            fi
            s=$(median_ms "ingest.small.$which"); b=$(median_ms "ingest.big.$which")
            per=$(awk -v s="$s" -v b="$b" -v ls="${SHAPE_LINES[small]}" -v lb="${SHAPE_LINES[big]}" \
                'BEGIN {printf "%.2f", (b / lb) / (s / ls)}')
            printf '%-40s %9.0f ms %9.0f ms %7s  %-22s %s\n' "first ingest, wall$label" "$s" "$b" \
                "$(ratio "$b" "$s")" "per line <= 1.25x: $per" "$(verdict "$per" '<=' 1.25)"
            ps=$(ratio "$s" "$(median_ms pipeline.small)"); pb=$(ratio "$b" "$(median_ms pipeline.big)")
            printf '%-40s %12s %12s %7s  %-22s %s\n' "ingest / pipeline$label" "$ps" "$pb" "" "<= 1.0 (goal 0.5)" \
                "$(verdict "$(awk -v a="$ps" -v b="$pb" 'BEGIN {print (a > b ? a : b)}')" '<=' 1.0)"
            rs=$(peak_mb "ingest.small.$which"); rb=$(peak_mb "ingest.big.$which")
            printf '%-40s %9s MB %9s MB %7s  %-22s %s\n' "ingest peak RSS$label" "$rs" "$rb" "" "< 64 MB" \
                "$(verdict "$rb" '<' 64)"
        done
        if [[ $which == sg && $HUGE == 1 ]]; then
            printf '%-40s %12s %9s MB %7s  %-22s %s\n' "ingest peak RSS, ${SHAPE_LINES[huge]} lines" "" \
                "$(peak_mb ingest.huge.sg)" "" "< 64 MB" "$(verdict "$(peak_mb ingest.huge.sg)" '<' 64)"
        fi
        for name in "${COMMANDS[@]}"; do
            s=$(median_ms "$(cmd_key "$which" small "$name")"); b=$(median_ms "$(cmd_key "$which" big "$name")")
            limit=200
            [[ $name == ingest* || $name == run* ]] && limit=20
            shown=${name/ingest --format json LOG/ingest, nothing new}
            printf '%-40s %9.0f ms %9.0f ms %7s  %-22s %s\n' "$shown$label" "$s" "$b" "$(ratio "$b" "$s")" \
                "big < $limit ms" "$(verdict "$b" '<' "$limit")"
        done
        if [[ $which == sg ]]; then
            k_s=$(cmd_key sg small "report --period 10000000d"); k_b=$(cmd_key sg big "report --period 10000000d")
            printf '%-40s %9.0f ms %9.0f ms %7s\n' "report --period 10000000d" "$(median_ms "$k_s")" "$(median_ms "$k_b")" \
                "$(ratio "$(median_ms "$k_b")" "$(median_ms "$k_s")")"
            printf '%-40s %9s MB %9s MB %7s  %-22s %s\n' "  its peak RSS" "$(peak_mb "$k_s")" "$(peak_mb "$k_b")" "" \
                "< 100 MB" "$(verdict "$(peak_mb "$k_b")" '<' 100)"
        fi
        worst=0
        for name in "${COMMANDS[@]}"; do
            [[ $name == ingest* ]] && continue
            b=$(peak_mb "$(cmd_key "$which" big "$name")")
            worst=$(awk -v a="$worst" -v b="$b" 'BEGIN {print (b > a ? b : a)}')
        done
        printf '%-40s %12s %9s MB %7s  %-22s %s\n' "largest command peak RSS$label" "" "$worst" "" "< 100 MB" \
            "$(verdict "$worst" '<' 100)"
        echo "4x history: small (7 days) against small after 3 weeks of other attackers (28 days, ~4x the addresses)"
        for name in "${HISTORY[@]}"; do
            s=$(median_ms "$(cmd_key "$which" small "hist: $name")"); b=$(median_ms "$(cmd_key "$which" history "hist: $name")")
            r=$(ratio "$b" "$s")
            printf '  %-38s %9.0f ms %9.0f ms %7s  %-22s %s\n' "$name$label" "$s" "$b" "$r" "<= 1.5x" \
                "$(verdict "$r" '<=' 1.5)"
        done
        f=$(median_ms "inc.full.$which"); e=$(median_ms "inc.empty.$which"); r=$(ratio "$f" "$e")
        printf '%-40s %9.0f ms %9.0f ms %7s  %-22s %s\n' "incremental ingest: empty db, big db$label" "$e" "$f" "$r" \
            "<= 1.5x" "$(verdict "$r" '<=' 1.5)"
        echo
    done
} | tee "$OUT/results.txt"
missed=$(grep -c MISSED "$OUT/results.txt" || true)
if [[ $missed != 0 && ${STRICT:-} == 1 ]]; then
    exit 1
fi
