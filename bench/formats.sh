#!/usr/bin/env bash
# bench/formats.sh: times tranche's record formats (input.format csv and fastq) against their
# peers, in one run, and prints the times and the target ratios (see bench/README.md, "The
# format rows"). Every output is compared with the peer's; a mismatch marks the row FAIL.
#
# The measured commands are single-quoted on purpose: `bash -c` expands them at run time.
# shellcheck disable=SC2016
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/formats.sh [--csv-size SIZE] [--plan-size SIZE] [--fastq-size SIZE] [--repeat N]
                        [--workers N] [--build DIR] [--workdir DIR]

  --csv-size SIZE    the generated CSV (default 256M)
  --plan-size SIZE   the CSV `tranche plan` is timed over, with the job over the same file
                     (default 1G)
  --fastq-size SIZE  the generated FASTQ before bgzip (default 200M)
  --repeat N         runs per measurement; the minimum time is kept (default 3)
  --workers N        tranche's workers and bgzip's threads (default 2)
  --build DIR        the CMake build directory holding bin/tranche (default: build in the repo)
  --workdir DIR      where inputs are cached and outputs written (default /tmp/tranche-bench)
SIZE: a number with an optional K, M or G (powers of 1024).
EOF
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CSV_SIZE=256M
PLAN_SIZE=1G
FASTQ_SIZE=200M
REPEAT=3
WORKERS=2
BUILD=$REPO/build
WORKDIR=/tmp/tranche-bench

while [[ $# -gt 0 ]]; do
    case $1 in
        --csv-size) CSV_SIZE=$2; shift 2 ;;
        --plan-size) PLAN_SIZE=$2; shift 2 ;;
        --fastq-size) FASTQ_SIZE=$2; shift 2 ;;
        --repeat) REPEAT=$2; shift 2 ;;
        --workers) WORKERS=$2; shift 2 ;;
        --build) BUILD=$2; shift 2 ;;
        --workdir) WORKDIR=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/formats.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
bad_usage() { echo "bench/formats.sh: $1" >&2; exit 2; }
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || bad_usage "--repeat wants a positive integer"
[[ $WORKERS =~ ^[1-9][0-9]*$ ]] || bad_usage "--workers wants a positive integer"
for s in "$CSV_SIZE" "$PLAN_SIZE" "$FASTQ_SIZE"; do
    [[ $s =~ ^[0-9]+[KMG]?$ ]] || bad_usage "a size wants a number with an optional K/M/G"
done

abspath() { [[ $1 == /* ]] && printf '%s\n' "$1" || printf '%s/%s\n' "$PWD" "$1"; }
bytes_of() { numfmt --from=iec "$1"; }
BUILD=$(abspath "$BUILD")
WORKDIR=$(abspath "$WORKDIR")
TRANCHE=$BUILD/bin/tranche
DATA="python3 $REPO/bench/formats_data.py"
[[ -x $TRANCHE ]] || { echo "bench/formats.sh: no $TRANCHE (build first)" >&2; exit 1; }
for tool in python3 bgzip numfmt; do
    command -v $tool >/dev/null || { echo "bench/formats.sh: needs $tool" >&2; exit 1; }
done

mkdir -p "$WORKDIR"
RUN_DIR=$(mktemp -d "$WORKDIR/formats.XXXXXX")
trap 'rm -rf -- "$RUN_DIR"' EXIT
export TRANCHE_CACHE_DIR=$RUN_DIR/index-cache
export TRANCHE WORKERS LC_ALL=C

# ---- measuring -----------------------------------------------------------------------------

if [[ -n ${EPOCHREALTIME:-} ]]; then
    now_us() { NOW=${EPOCHREALTIME/[.,]/}; }
else
    now_us() { NOW=$(date +%s%6N); }
fi

# TIMES[name]: the fastest run of a row that passed, in microseconds.
declare -A TIMES=()
ROWS=()

# measure NAME EXPECT CMD: runs CMD (bash -c, $OUT set to a fresh path) REPEAT times; EXPECT is a
# file the output must equal, "ref:FILE" to keep the first output as FILE (the reference), or
# "none". A non-zero exit or a different output marks the row FAIL.
measure() {
    local name=$1 expect=$2 cmd=$3 rep out best='' status=ok t0 err
    err=$RUN_DIR/$(printf '%s' "$name" | tr -cs 'A-Za-z0-9' '_').err
    printf '  %-44s ' "$name" >&2
    for ((rep = 1; rep <= REPEAT; rep++)); do
        out=$RUN_DIR/out.$rep
        rm -f -- "$out"
        now_us; t0=$NOW
        if ! OUT=$out bash -c "$cmd" </dev/null 2>"$err"; then
            status="FAIL (exit status; see $err)"
        fi
        now_us
        if [[ $status == ok && $expect == ref:* ]]; then
            if [[ $rep -eq 1 ]]; then
                cp -- "$out" "${expect#ref:}"
            elif ! cmp -s -- "$out" "${expect#ref:}"; then
                status="FAIL (not deterministic)"
            fi
        elif [[ $status == ok && $expect != none ]] && ! cmp -s -- "$out" "$expect"; then
            status="FAIL (differs from $expect)"
        fi
        rm -f -- "$out"
        if [[ -z $best || $((NOW - t0)) -lt $best ]]; then
            best=$((NOW - t0))
        fi
        printf '%s ' "$(fmt_seconds $((NOW - t0)))" >&2
    done
    printf '%s\n' "${status%% (*}" >&2
    [[ $status == ok ]] && TIMES[$name]=$best
    ROWS+=("$(printf '%-44s %9s  %s' "$name" "$(fmt_seconds "$best")" "$status")")
}

fmt_seconds() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1e6 }'; }

# ratio LABEL A B OP TARGET: prints A's time / B's time, marked "!" when it misses OP TARGET.
ratio() {
    local label=$1 a=${TIMES[$2]:-} b=${TIMES[$3]:-} op=$4 target=$5 cell
    if [[ -z $a || -z $b ]]; then
        cell=-
    else
        cell=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
        if [[ $target != - ]] && ! awk -v c="$cell" -v t="$target" -v op="$op" \
            'BEGIN { exit !(op == ">=" ? c >= t : c <= t) }'; then
            cell="$cell!"
        fi
    fi
    printf '%-58s %8s   %s %s\n' "$label" "$cell" "$op" "$target"
}

job() { # FILE FORMAT-LINES STEP-LINES: a job file in RUN_DIR
    cat >"$RUN_DIR/$1" <<EOF
# Written by bench/formats.sh.
input:
$2
output:
  path: $RUN_DIR/unused.out  # every run passes --output
partition_size: 32MiB
log_dir: $RUN_DIR/logs
steps:
$3
EOF
}

# ---- inputs (cached by size) ---------------------------------------------------------------

CSV=$WORKDIR/formats-$CSV_SIZE-seed1.csv
PLAN_CSV=$WORKDIR/formats-$PLAN_SIZE-seed2.csv
FASTQ=$WORKDIR/formats-$FASTQ_SIZE-seed3.fastq
for spec in "csv $CSV_SIZE 1 $CSV" "csv $PLAN_SIZE 2 $PLAN_CSV" "fastq $FASTQ_SIZE 3 $FASTQ"; do
    read -r kind size seed path <<<"$spec"
    if [[ ! -f $path ]]; then
        echo "generating $path" >&2
        $DATA "$kind" "$(bytes_of "$size")" "$seed" "$path.tmp"
        mv -- "$path.tmp" "$path"
    fi
done
if [[ ! -f $FASTQ.gz || $FASTQ -nt $FASTQ.gz ]]; then
    echo "compressing $FASTQ with bgzip" >&2
    bgzip -c -@"$WORKERS" "$FASTQ" >"$FASTQ.gz.tmp"
    mv -- "$FASTQ.gz.tmp" "$FASTQ.gz"
fi
export CSV PLAN_CSV FASTQ RUN_DIR DATA
for f in "$CSV" "$PLAN_CSV" "$FASTQ.gz"; do cat -- "$f" >/dev/null; done

printf 'tranche formats bench, %s, %s CPUs, load %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" \
    "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" >&2
printf 'csv %s (%s B), plan csv %s, fastq %s (bgzip: %s B), %s workers, best of %s\n' \
    "$CSV_SIZE" "$(stat -c %s "$CSV")" "$PLAN_SIZE" "$FASTQ_SIZE" "$(stat -c %s "$FASTQ.gz")" \
    "$WORKERS" "$REPEAT" >&2

# ---- 1. CSV: cut columns 1 and 3, against the csv module and against format: lines --------

W=$WORKERS
CUT='  - plugin: cut
    options: { fields: ["1", "3"], delimiter: "," }'
job csv.yaml "  path: $CSV
  format: csv
  header: true" "$CUT"
job lines.yaml "  path: $CSV" "$CUT"
job plan.yaml "  path: $PLAN_CSV
  format: csv
  header: true" "$CUT"
job planlines.yaml "  path: $PLAN_CSV" "$CUT"
export W

echo "csv:" >&2
measure "python csv.reader/writer (1 process)" ref:"$RUN_DIR/csv.ref" \
    '$DATA csv-cut "$CSV" "$OUT"'
measure "tranche csv ${W}w" "$RUN_DIR/csv.ref" \
    '"$TRANCHE" run "$RUN_DIR/csv.yaml" --workers $W --output "$OUT"'
# format: lines cuts at every comma and newline, quoted or not: not the same output (that is the
# point of format: csv), but the same work over the same bytes; GNU cut is its reference.
measure "cut -d, -f1,3" ref:"$RUN_DIR/cut.ref" 'LC_ALL=C cut -d, -f1,3 < "$CSV" > "$OUT"'
measure "tranche lines ${W}w" "$RUN_DIR/cut.ref" \
    '"$TRANCHE" run "$RUN_DIR/lines.yaml" --workers $W --output "$OUT"'

# Planning and cutting: what `tranche plan` costs with format: csv (the quote count over the
# whole file) beyond what it costs with format: lines (start-up, one probe per partition).
echo "planning (csv $PLAN_SIZE):" >&2
measure "tranche plan csv" none '"$TRANCHE" plan "$RUN_DIR/plan.yaml" > "$OUT"'
measure "tranche plan lines" none '"$TRANCHE" plan "$RUN_DIR/planlines.yaml" > "$OUT"'
measure "tranche csv ${W}w (plan input)" none \
    '"$TRANCHE" run "$RUN_DIR/plan.yaml" --workers $W --output "$OUT"'

# ---- 2. FASTQ: keep reads of at least 50 bases, from BGZF ----------------------------------

AWK_FILTER='NR%4==1{h=$0} NR%4==2{s=$0} NR%4==3{p=$0} NR%4==0{if(length(s)>=50) print h"\n"s"\n"p"\n"$0}'
export AWK_FILTER
job fastq.yaml "  path: $FASTQ.gz
  format: fastq" "  - plugin: fastq-filter
    options: { min_length: 50 }"
job fastqawk.yaml "  path: $FASTQ.gz
  format: fastq" "  - exec: [awk, '$AWK_FILTER']
    env: { LC_ALL: C }"

echo "fastq:" >&2
measure "bgzip -dc -@$W | awk" ref:"$RUN_DIR/fastq.ref" \
    'bgzip -dc -@"$W" "$FASTQ.gz" | LC_ALL=C awk "$AWK_FILTER" > "$OUT"'
measure "tranche fastq ${W}w (fastq-filter)" "$RUN_DIR/fastq.ref" \
    '"$TRANCHE" run "$RUN_DIR/fastq.yaml" --workers $W --output "$OUT"'
measure "tranche fastq 1w (fastq-filter)" "$RUN_DIR/fastq.ref" \
    '"$TRANCHE" run "$RUN_DIR/fastq.yaml" --workers 1 --output "$OUT"'
measure "tranche fastq ${W}w (exec awk)" "$RUN_DIR/fastq.ref" \
    '"$TRANCHE" run "$RUN_DIR/fastqawk.yaml" --workers $W --output "$OUT"'

# ---- results ---------------------------------------------------------------------------------

{
    printf '\n%-44s %9s  %s\n' "row" "seconds" "check"
    printf '%s\n' "${ROWS[@]}"
    printf '\n%-58s %8s   %s\n' "ratios (times; ! = target missed)" "" "target"
    ratio "tranche csv ${W}w speedup vs python csv module" \
        "python csv.reader/writer (1 process)" "tranche csv ${W}w" '>=' 3
    ratio "tranche csv ${W}w time / tranche lines ${W}w time" \
        "tranche csv ${W}w" "tranche lines ${W}w" '<=' 1.5
    plan_cost=$(awk -v a="${TIMES[tranche plan csv]}" -v b="${TIMES[tranche plan lines]}" \
        'BEGIN { d = a - b; printf "%d", (d > 0 ? d : 0) }')
    TIMES["csv planning beyond lines"]=$plan_cost
    ratio "csv planning (plan csv - plan lines) / csv job ($PLAN_SIZE)" \
        "csv planning beyond lines" "tranche csv ${W}w (plan input)" '<=' 0.10
    ratio "tranche fastq ${W}w (fastq-filter) vs bgzip -dc -@$W | awk" \
        "bgzip -dc -@$W | awk" "tranche fastq ${W}w (fastq-filter)" '>=' 1
    ratio "tranche fastq ${W}w (exec awk) vs bgzip -dc -@$W | awk" \
        "bgzip -dc -@$W | awk" "tranche fastq ${W}w (exec awk)" '>=' 1
    ratio "tranche fastq ${W}w speedup vs 1w (fastq-filter), no target" \
        "tranche fastq 1w (fastq-filter)" "tranche fastq ${W}w (fastq-filter)" '>=' -
} | tee "$WORKDIR/formats-results.txt"
