#!/usr/bin/env bash
# bench/run.sh: times tranche against its peers on one generated access log, in one run, and
# prints the table and the target ratios (see bench/README.md). Every output is compared with
# the reference tool's output; a mismatch marks its row FAIL without stopping the others.
#
# The measured commands are single-quoted on purpose: `bash -c` expands them at run time.
# shellcheck disable=SC2016
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/run.sh [--size SIZE] [--repeat N] [--workers N] [--build DIR] [--gen PATH]
                    [--workdir DIR]

  --size SIZE     size of the generated access log (tranche-gen syntax: 64M, 1G; default 1G)
  --repeat N      runs per measurement; the minimum time is kept (default 3)
  --workers N     the worker count of the parallel rows: parallel -j, Pool(N), tranche
                  --workers (default 2); tranche also runs with 1 worker
  --build DIR     the CMake build directory holding bin/tranche (default: build in the repo)
  --gen PATH      the tranche-gen binary (default: BUILD/bin/tranche-gen)
  --workdir DIR   where the input is cached and outputs are written (default /tmp/tranche-bench)
  --only LIST     measure only these transforms (comma-separated, e.g. grep-regex,replace),
                  without the gzip rows
EOF
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE=1G
REPEAT=3
WORKERS=2
BUILD=$REPO/build
GEN=
WORKDIR=/tmp/tranche-bench
ONLY=

while [[ $# -gt 0 ]]; do
    case $1 in
        --size) SIZE=$2; shift 2 ;;
        --repeat) REPEAT=$2; shift 2 ;;
        --workers) WORKERS=$2; shift 2 ;;
        --build) BUILD=$2; shift 2 ;;
        --gen) GEN=$2; shift 2 ;;
        --workdir) WORKDIR=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
bad_usage() { echo "bench/run.sh: $1" >&2; exit 2; }
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || bad_usage "--repeat wants a positive integer"
[[ $WORKERS =~ ^[1-9][0-9]*$ ]] || bad_usage "--workers wants a positive integer"
[[ $SIZE =~ ^[0-9]+[KMGT]?$ ]] || bad_usage "--size wants a number with an optional K/M/G/T"

abspath() { [[ $1 == /* ]] && printf '%s\n' "$1" || printf '%s/%s\n' "$PWD" "$1"; }
BUILD=$(abspath "$BUILD")
GEN=$(abspath "${GEN:-$BUILD/bin/tranche-gen}")
WORKDIR=$(abspath "$WORKDIR")
TRANCHE=$BUILD/bin/tranche

# Each run's outputs live in a directory of their own that is removed at exit; only the input
# (expensive to regenerate) and the results stay in the workdir.
mkdir -p "$WORKDIR"
RUN_DIR=$(mktemp -d "$WORKDIR/run.XXXXXX")
trap 'rm -rf -- "$RUN_DIR"' EXIT
# gzip indexes in a cache of this run's own: an index of the user's cache must not turn a "first
# run" row into an indexed one.
export TRANCHE_CACHE_DIR=$RUN_DIR/index-cache
REF_DIR=$RUN_DIR/ref
ERR_DIR=$WORKDIR/stderr
FAILED_DIR=$WORKDIR/failed
mkdir -p "$REF_DIR" "$ERR_DIR" "$RUN_DIR/jobs"
TIME_FILE=$RUN_DIR/time.txt

# What the transforms do, written once and shared by every tool. The commands are shell code run
# with `bash -c` (parallel runs them with its own shell), reading $IN/$OUT and the patterns from
# the environment, so no pattern is quoted twice. grep exits 1 when it selects nothing (a block
# of parallel may well have no match): that is success here, 2 is not.
export FIXED_PAT=' 404 '
export REGEX_PAT='" 5[0-9][0-9] '
# grep -o and sed -E s///g: the status and size of each request, with groups (every line has
# one match), and the status codes of the errors.
export ONLY_PAT='" [45][0-9][0-9] '
export REPLACE_PAT='" ([0-9]{3}) ([0-9]+) '
export REPLACE_REP='" size=\2 status=\1 '
TRANSFORMS=(upper grep-fixed grep-regex grep-only replace cut exec-awk)
declare -A TOOL_NAME=([upper]='tr' [grep-fixed]='grep -F' [grep-regex]='grep -E'
    [grep-only]='grep -o' [replace]='sed -E' [cut]='cut' [exec-awk]='awk')
declare -A FILTER=(
    [upper]='LC_ALL=C tr a-z A-Z'
    [grep-fixed]='LC_ALL=C grep -F -e "$FIXED_PAT"; [ $? -le 1 ]'
    [grep-regex]='LC_ALL=C grep -E -e "$REGEX_PAT"; [ $? -le 1 ]'
    [grep-only]='LC_ALL=C grep -o -E -e "$ONLY_PAT"; [ $? -le 1 ]'
    [replace]='LC_ALL=C sed -E "s/$REPLACE_PAT/$REPLACE_REP/g"'
    [cut]="LC_ALL=C cut -d ' ' -f 1,9"
    [exec-awk]="LC_ALL=C awk '{print \$1}'"
)
declare -A BASELINE_ARGS=(
    [upper]='upper'
    [grep-fixed]='grep -F "$FIXED_PAT"'
    [grep-regex]='grep -E "$REGEX_PAT"'
    [cut]="cut ' ' 1,9"
)
# (bench/baseline.c and bench/python_recipe.py have no grep -o or s///: those rows are skipped)
declare -A STEPS=(
    [upper]='  - plugin: upper'
    [grep-fixed]=$'  - plugin: grep\n    options: { pattern: " 404 ", fixed: true }'
    [grep-regex]=$'  - plugin: grep\n    options: { pattern: \'" 5[0-9][0-9] \' }'
    [grep-only]=$'  - plugin: grep\n    options: { pattern: \'" [45][0-9][0-9] \', only_matching: true }'
    [replace]=$'  - plugin: replace\n    options: { pattern: \'" ([0-9]{3}) ([0-9]+) \',\n      replacement: \'" size=\\2 status=\\1 \' }'
    [cut]=$'  - plugin: cut\n    options: { delimiter: " ", fields: ["1", "9"] }'
    # (the same command as the other rows run, as an exec step: a process per partition)
    [exec-awk]=$'  - exec: "awk \'{print $1}\'"\n    env: { LC_ALL: C }'
)

# The aggregation rows (the count aggregator), measured by run_count_rows; --only names them too.
COUNT_TRANSFORMS=(count-status count-path)
if [[ -n $ONLY ]]; then
    IFS=, read -r -a wanted <<<"$ONLY"
    only_transforms=() only_counts=()
    for t in "${wanted[@]}"; do
        if [[ $t == count-status || $t == count-path ]]; then
            only_counts+=("$t")
        elif [[ -n ${FILTER[$t]:-} ]]; then
            only_transforms+=("$t")
        else
            bad_usage "--only: no transform '$t' (${TRANSFORMS[*]} ${COUNT_TRANSFORMS[*]})"
        fi
    done
    TRANSFORMS=(${only_transforms[@]+"${only_transforms[@]}"})
    COUNT_TRANSFORMS=(${only_counts[@]+"${only_counts[@]}"})
fi

# ---- measuring ---------------------------------------------------------------------------------

# Microseconds since the epoch, without a fork where bash can (EPOCHREALTIME is bash 5).
if [[ -n ${EPOCHREALTIME:-} ]]; then
    now_us() { NOW=${EPOCHREALTIME/[.,]/}; }
else
    now_us() { NOW=$(date +%s%6N); }
fi

# /usr/bin/time gives the peak RSS: for a command with children it is that of the largest single
# process in the tree (Linux keeps the maximum over reaped descendants), which is what the
# "per process" memory target is about. Without it, times are still taken and RSS shows "-".
TIME_BIN=
if [[ -x /usr/bin/time ]]; then
    TIME_BIN=/usr/bin/time
else
    echo "bench/run.sh: /usr/bin/time not found: no peak RSS column" >&2
fi

# Runs shell code once with $OUT set; sets RUN_US, RUN_RSS (KiB or -) and RUN_RC.
timed_run() {
    local out=$1 cmd=$2 err=$3 t0
    RUN_RC=0
    now_us; t0=$NOW
    if [[ -n $TIME_BIN ]]; then
        OUT=$out "$TIME_BIN" -f '%M' -o "$TIME_FILE" bash -c "$cmd" </dev/null 2>"$err" || RUN_RC=$?
    else
        OUT=$out bash -c "$cmd" </dev/null 2>"$err" || RUN_RC=$?
    fi
    now_us
    RUN_US=$((NOW - t0))
    RUN_RSS=-
    if [[ -n $TIME_BIN ]]; then
        RUN_RSS=$(tail -n 1 "$TIME_FILE")
    fi
}

# Removes a previous output, but only one this script made: a wrong path here must not delete
# anything else (such as /dev/null).
remove_output() {
    [[ $1 == "$RUN_DIR"/* ]] && rm -f -- "$1"
    return 0
}

# The table, one entry per row, fields separated by US (tab would merge empty fields on read).
# TIMES/RSS index the rows that passed by "tool|transform|workers", for the ratios: a failed
# row's time is no evidence of anything.
ROWS=()
declare -A TIMES=() RSS=()
SEP=$'\x1f'

add_row() { # tool transform workers us rss status
    ROWS+=("$1$SEP$2$SEP$3$SEP$4$SEP$5$SEP$6")
    if [[ -n $4 && $6 != FAIL* ]]; then
        TIMES["$1|$2|$3"]=$4
        RSS["$1|$2|$3"]=$5
    fi
}

# measure TOOL TRANSFORM WORKERS EXPECT CMD
#   EXPECT: a file the output must equal; "ref" to make this row's output the transform's
#   reference; "none" when there is nothing to compare (output to /dev/null).
# Each repetition writes a fresh path; the previous one is deleted before the clock starts, so no
# run pays for truncating or overwriting another's file. The minimum time is kept, and the
# largest peak RSS.
measure() {
    local tool=$1 transform=$2 workers=$3 expect=$4 cmd=$5
    local tag
    tag=$(printf '%s' "$tool" | tr -cs 'A-Za-z0-9' '_')-$transform-w$workers
    local err=$ERR_DIR/$tag.txt best='' rss_max=- status=ok rep out prev=''
    [[ $expect == none ]] && status=-
    [[ $expect == ref ]] && status=ref

    # The first failure of a row is the one worth reading.
    fail() { [[ $status == FAIL* ]] || status=$1; }

    printf '  %-16s %-11s %2s workers ' "$tool" "$transform" "$workers" >&2
    for ((rep = 1; rep <= REPEAT; rep++)); do
        out=$RUN_DIR/$tag-r$rep.out
        [[ $expect == none ]] && out=/dev/null
        [[ -n $prev ]] && remove_output "$prev"
        remove_output "$out"

        timed_run "$out" "$cmd" "$err"

        if [[ $RUN_RC -ne 0 ]]; then
            fail "FAIL (exit $RUN_RC, see $err)"
        elif [[ $expect == ref && $rep -eq 1 ]]; then
            mv -- "$out" "$REF_DIR/$transform.out"
            out=
        elif [[ $expect == ref ]]; then
            cmp -s -- "$out" "$REF_DIR/$transform.out" || fail "FAIL (not deterministic)"
        elif [[ $expect == gz:* ]]; then
            # compressed output: what it decompresses to must be the reference
            if ! zcat -- "$out" | cmp -s - "${expect#gz:}"; then
                fail "FAIL (does not decompress to ${expect#gz:})"
            fi
        elif [[ $expect != none ]]; then
            if [[ ! -f $expect ]]; then
                fail "FAIL (no reference output)"
            elif ! cmp -s -- "$out" "$expect"; then
                mkdir -p "$FAILED_DIR"
                mv -- "$out" "$FAILED_DIR/$tag.out"
                out=
                fail "FAIL (differs from ${TOOL_NAME[$transform]:-the input};\
 kept $FAILED_DIR/$tag.out)"
            fi
        fi
        if [[ -z $best || $RUN_US -lt $best ]]; then
            best=$RUN_US
        fi
        if [[ $RUN_RSS != - && ($rss_max == - || $RUN_RSS -gt $rss_max) ]]; then
            rss_max=$RUN_RSS
        fi
        printf '%s ' "$(fmt_seconds "$RUN_US")" >&2
        prev=$out
    done
    [[ -n $prev ]] && remove_output "$prev"
    printf '%s\n' "${status%% (*}" >&2
    add_row "$tool" "$transform" "$workers" "$best" "$rss_max" "$status"
}

skip() { # tool transform workers reason
    printf '  %-16s %-11s %2s workers SKIP (%s)\n' "$1" "$2" "$3" "$4" >&2
    add_row "$1" "$2" "$3" "" "" "SKIP ($4)"
}

fmt_seconds() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1e6 }'; }

# ---- preparing ---------------------------------------------------------------------------------

# The input is cached by size: generating 1 GiB takes a few seconds, and the generator's output
# depends only on kind, seed and size.
prepare_input() {
    IN=$WORKDIR/access-$SIZE-seed1.log
    export IN
    if [[ ! -f $IN ]]; then
        if [[ ! -x $GEN ]]; then
            echo "bench/run.sh: no generator at $GEN (build it, or pass --gen)" >&2
            exit 1
        fi
        echo "generating $IN with $GEN" >&2
        "$GEN" --kind access --size "$SIZE" --seed 1 --output "$IN.tmp"
        mv -- "$IN.tmp" "$IN"
    fi
    IN_BYTES=$(stat -c %s "$IN")

    local avail_kib mem_kib
    avail_kib=$(df -Pk "$WORKDIR" | awk 'NR == 2 { print $4 }')
    if ((avail_kib < IN_BYTES * 3 / 1024)); then
        echo "bench/run.sh: warning: $WORKDIR has less free space than 3x the input" >&2
    fi
    mem_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
    if ((mem_kib < IN_BYTES * 3 / 1024)); then
        echo "bench/run.sh: warning: the input and an output may not both fit in the page" \
            "cache; times will include disk reads" >&2
    fi
}

# The C loop is built here rather than by CMake: it is a measuring instrument, not a product.
build_baseline() {
    BASELINE=$WORKDIR/baseline
    export BASELINE
    if [[ ! -x $BASELINE || $REPO/bench/baseline.c -nt $BASELINE ]]; then
        gcc -O2 -std=gnu11 -Wall -Wextra -o "$BASELINE" "$REPO/bench/baseline.c"
    fi
}

yaml_quote() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }

# One job file per transform. partition_size matches the 32M blocks given to parallel and the
# Python recipe, so every tool splits the file the same way.
write_job() {
    local transform=$1 job=$RUN_DIR/jobs/$1.yaml
    cat >"$job" <<EOF
# Written by bench/run.sh: the $transform transform over the benchmark input.
input:
  path: $(yaml_quote "$IN")
output:
  path: $(yaml_quote "$RUN_DIR/unused.out")  # every run passes --output
workers: 1
partition_size: 32MiB
log_dir: $(yaml_quote "$WORKDIR/logs/$transform")
steps:
${STEPS[$transform]}
EOF
    printf '%s\n' "$job"
}

# Reading the file before measuring, so the first row does not pay for the disk.
warm_cache() {
    cat -- "$IN" >/dev/null
    cat -- "$IN" >/dev/null
}

# moreutils also has a `parallel`, without --pipepart.
have_gnu_parallel() {
    command -v parallel >/dev/null && parallel --version 2>/dev/null | grep -q 'GNU parallel'
}

# ---- the rows ----------------------------------------------------------------------------------

run_limits() {
    measure 'cat >/dev/null' read 1 none 'cat -- "$IN" >/dev/null'
    measure 'cat > new' copy 1 "$IN" 'cat -- "$IN" >"$OUT"'
}

run_transform() {
    local t=$1 ref=$REF_DIR/$1.out
    export FILTER_CMD=${FILTER[$t]}

    measure "${TOOL_NAME[$t]}" "$t" 1 ref "{ ${FILTER[$t]}; } <\"\$IN\" >\"\$OUT\""
    if [[ -z ${BASELINE_ARGS[$t]:-} ]]; then
        skip 'C loop' "$t" 1 'not in bench/baseline.c'
        skip 'python Pool' "$t" "$WORKERS" 'not in bench/python_recipe.py'
    else
        measure 'C loop' "$t" 1 "$ref" "\"\$BASELINE\" ${BASELINE_ARGS[$t]} \"\$IN\" >\"\$OUT\""
    fi

    if [[ -z ${BASELINE_ARGS[$t]:-} ]]; then
        :
    elif command -v python3 >/dev/null; then
        measure 'python Pool' "$t" "$WORKERS" "$ref" "python3 \"\$PY_RECIPE\" --workers $WORKERS \
            --chunk-size $((32 << 20)) $t \"\$IN\" \"\$OUT\""
    else
        skip 'python Pool' "$t" "$WORKERS" 'python3 missing'
    fi

    measure_parallel "$t" "$ref"

    measure_tranche "$t" "$ref" "$(write_job "$t")"
}

# GNU parallel running $FILTER_CMD on 32 MiB blocks of $IN, in order, checked as EXPECT.
measure_parallel() {
    local t=$1 expect=$2
    if have_gnu_parallel; then
        measure 'parallel -k' "$t" "$WORKERS" "$expect" "parallel --pipepart --keep-order \
            -j$WORKERS -a \"\$IN\" --block 32M \"\$FILTER_CMD\" >\"\$OUT\""
    else
        skip 'parallel -k' "$t" "$WORKERS" 'GNU parallel missing'
    fi
}

# The tranche rows of a transform: JOB run with 1 worker and with $WORKERS, checked as EXPECT.
measure_tranche() {
    local t=$1 expect=$2 job=$3 w counts=(1)
    [[ $WORKERS -eq 1 ]] || counts+=("$WORKERS")
    for w in "${counts[@]}"; do
        if [[ -x $TRANCHE ]]; then
            measure tranche "$t" "$w" "$expect" \
                "\"\$TRANCHE\" run $(printf %q "$job") --workers $w --output \"\$OUT\""
        else
            skip tranche "$t" "$w" "${TRANCHE#"$REPO"/} missing"
        fi
    done
}

# ---- the field plugins (cut on blanks, lower, jsonl, sample) ---------------------------------------

# Each against its reference tool, GNU parallel running that tool on 32 MiB blocks, and tranche
# with 1 and N workers; every output is compared with the tool's. jsonl reads the log rewritten
# as JSON lines (cached beside it); the others read the log itself.
FIELD_TRANSFORMS=(cut-ws cut-last lower jsonl sample)
TOOL_NAME+=([cut-ws]='awk' [cut-last]='awk' [lower]='tr' [jsonl]='jq -r' [sample]='python3')
declare -A FIELD_FILTER=(
    [cut-ws]="LC_ALL=C awk '{ print \$1, \$9 }'"
    [cut-last]="LC_ALL=C awk '{ print \$NF }'"
    [lower]='LC_ALL=C tr A-Z a-z'
    [jsonl]="jq -r 'select(.status == 404) | [.ip, .path, .ref] | @tsv'"
    [sample]='python3 "$SAMPLE_REF" 0.01 7'
)
declare -A FIELD_STEPS=(
    [cut-ws]=$'  - plugin: cut\n    options: { delimiter: whitespace, fields: ["1", "9"] }'
    [cut-last]=$'  - plugin: cut\n    options: { delimiter: whitespace, fields: ["~1"] }'
    [lower]='  - plugin: lower'
    [jsonl]=$'  - plugin: jsonl\n    options: { fields: [ip, path, ref], where: ["status=404"] }'
    [sample]=$'  - plugin: sample\n    options: { fraction: 0.01, seed: 7 }'
)

# The access log as JSON lines: ip, time, method, path, status (a number), bytes, ref.
prepare_json_input() {
    JSON_IN=$WORKDIR/access-$SIZE-seed1.jsonl
    if [[ ! -f $JSON_IN ]]; then
        echo "rewriting $IN as JSON lines" >&2
        LC_ALL=C awk '{ printf "{\"ip\":\"%s\",\"time\":\"%s\",\"method\":\"%s\",\"path\":\"%s\",", \
            $1, substr($4, 2), substr($6, 2), $7
            printf "\"status\":%s,\"bytes\":\"%s\",\"ref\":%s}\n", $9, $10, $11 }' \
            "$IN" >"$JSON_IN.tmp"
        mv -- "$JSON_IN.tmp" "$JSON_IN"
    fi
    cat -- "$JSON_IN" >/dev/null
}

run_field_plugins() {
    local t ref saved_in=$IN
    export SAMPLE_REF=$REPO/plugins/sample/sample_ref.py
    prepare_json_input
    for t in "${FIELD_TRANSFORMS[@]}"; do
        ref=$REF_DIR/$t.out
        IN=$saved_in
        [[ $t == jsonl ]] && IN=$JSON_IN
        export IN FILTER_CMD=${FIELD_FILTER[$t]}
        STEPS[$t]=${FIELD_STEPS[$t]}
        measure "${TOOL_NAME[$t]}" "$t" 1 ref "{ ${FIELD_FILTER[$t]}; } <\"\$IN\" >\"\$OUT\""
        measure_parallel "$t" "$ref"
        measure_tranche "$t" "$ref" "$(write_job "$t")"
    done
    IN=$saved_in
    export IN
}

print_field_ratios() {
    local w=$WORKERS t
    printf '\n%-34s' "field plugins (time ratios)"
    printf ' %11s' "${FIELD_TRANSFORMS[@]}"
    printf '\n'
    for t in "parallel -k|$w|tranche ${w}w speedup vs parallel" \
        "TOOL|1|tranche ${w}w speedup vs the tool" "tranche|1|tranche ${w}w speedup vs 1w"; do
        printf '%-34s' "${t##*|}"
        local tool=${t%%|*} rest=${t#*|} x
        for x in "${FIELD_TRANSFORMS[@]}"; do
            local num=$tool
            [[ $num == TOOL ]] && num=${TOOL_NAME[$x]}
            printf ' %11s' "$(ratio_cell "$num|$x|${rest%%|*}" "tranche|$x|$w")"
        done
        printf '\n'
    done
}

# ---- aggregation (the count aggregator) --------------------------------------------------------

# count-status: requests and bytes per status code, against mawk and the Python recipe with
# Counter; count-path: requests per request path (hundreds of thousands of keys), against sort |
# uniq -c on one core, and tranche with a memory limit that makes it spill. Outputs are compared
# after the peers' are brought to count's format (KEY<TAB>COUNT[<TAB>SUM], sorted by key).
TOOL_NAME+=([count-status]='mawk' [count-path]='sort | uniq -c')
declare -A COUNT_FILTER=(
    [count-status]="LC_ALL=C mawk '{ c[\$9]++; s[\$9] += \$10 } END { for (k in c) \
printf \"%s\\t%d\\t%.0f\\n\", k, c[k], s[k] }' \"\$IN\" | LC_ALL=C sort"
    [count-path]="cut -d ' ' -f 7 -- \"\$IN\" | LC_ALL=C sort --parallel=1 | LC_ALL=C uniq -c | \
LC_ALL=C awk '{ print \$2 \"\\t\" \$1 }'"
)
declare -A COUNT_OPTIONS=(
    [count-status]='{ key: [9], delimiter: " ", sum: [10] }'
    [count-path]='{ key: [7], delimiter: " " }'
)
declare -A COUNT_RECIPE_ARGS=([count-status]='--key 9 --sum 10' [count-path]='--key 7')
COUNT_MEMORY=16MiB # the limited row of count-path

# write_count_job TRANSFORM [MEMORY]: the job file of a count row; prints its path.
write_count_job() {
    local t=$1 memory=${2:-} job=$RUN_DIR/jobs/$1${2:+-$2}.yaml
    cat >"$job" <<EOF
# Written by bench/run.sh: the $t aggregation over the benchmark input.
input:
  path: $(yaml_quote "$IN")
output:
  path: $(yaml_quote "$RUN_DIR/unused.out")  # every run passes --output
partition_size: 32MiB
log_dir: $(yaml_quote "$WORKDIR/logs/$t")
aggregate:
  plugin: count
${memory:+  memory: $memory
}  options: ${COUNT_OPTIONS[$t]}
EOF
    printf '%s\n' "$job"
}

run_count_rows() {
    local t ref job
    for t in "${COUNT_TRANSFORMS[@]}"; do
        ref=$REF_DIR/$t.out
        if [[ $t == count-status ]] && ! command -v mawk >/dev/null; then
            skip mawk "$t" 1 'mawk missing'
            continue
        fi
        measure "${TOOL_NAME[$t]}" "$t" 1 ref "{ ${COUNT_FILTER[$t]}; } >\"\$OUT\""
        if command -v python3 >/dev/null; then
            measure 'python Counter' "$t" "$WORKERS" "$ref" "python3 \"\$COUNT_RECIPE\" \
                --workers $WORKERS --chunk-size $((32 << 20)) ${COUNT_RECIPE_ARGS[$t]} \
                \"\$IN\" \"\$OUT\""
        else
            skip 'python Counter' "$t" "$WORKERS" 'python3 missing'
        fi
        measure_tranche "$t" "$ref" "$(write_count_job "$t")"
        if [[ $t == count-path && -x $TRANCHE ]]; then
            job=$(write_count_job "$t" "$COUNT_MEMORY")
            measure "tranche $COUNT_MEMORY" "$t" 1 "$ref" \
                "\"\$TRANCHE\" run $(printf %q "$job") --workers 1 --output \"\$OUT\""
        fi
    done
}

# count_ratio_line LABEL NUM DEN OP TARGET APPLIES: as ratio_line, over the count transforms
# (NUM and DEN may hold @ for the transform; APPLIES "none": no target).
count_ratio_line() {
    local label=$1 num=$2 den=$3 op=$4 target=$5 applies=$6 t cell
    printf '%-40s' "$label"
    for t in count-status count-path; do
        cell=$(ratio_cell "${num//@/$t}" "${den//@/$t}")
        if [[ $cell != - && $applies == "$t" ]]; then
            awk -v c="$cell" -v t="$target" -v op="$op" \
                'BEGIN { exit !(op == ">=" ? c >= t : c <= t) }' || cell="$cell!"
        fi
        printf ' %12s' "$cell"
    done
    if [[ $applies == none ]]; then
        printf '\n'
    else
        printf '   %s %s (%s)\n' "$op" "$target" "$applies"
    fi
}

print_count_ratios() {
    local w=$WORKERS t
    printf '\n%-40s %12s %12s   target\n' "aggregation (time ratios; ! = missed)" count-status \
        count-path
    count_ratio_line "tranche ${w}w speedup vs mawk" "mawk|@|1" "tranche|@|$w" '>=' 5 \
        count-status
    count_ratio_line "tranche ${w}w speedup vs python Counter" \
        "python Counter|@|$w" "tranche|@|$w" '>=' 10 count-status
    count_ratio_line "tranche 1w time / sort | uniq -c" "tranche|@|1" "sort | uniq -c|@|1" \
        '<=' 2 count-path
    count_ratio_line "tranche ${w}w speedup vs 1w" "tranche|@|1" "tranche|@|$w" '>=' 0 none
    printf '%-40s' "peak RSS MiB: 1w / ${w}w / 1w $COUNT_MEMORY"
    for t in count-status count-path; do
        printf ' %12s' "$(awk -v a="${RSS[tranche|$t|1]:--}" -v b="${RSS[tranche|$t|$w]:--}" \
            -v c="${RSS[tranche $COUNT_MEMORY|$t|1]:--}" 'BEGIN {
                n = split(a " " b " " c, v, " ")
                for (i = 1; i <= n; i++) {
                    if (v[i] == "-") continue
                    s = s (s == "" ? "" : "/") sprintf("%.0f", v[i] / 1024)
                }
                printf "%s", s == "" ? "-" : s
            }')"
    done
    printf '\n'
}

# ---- the report --------------------------------------------------------------------------------

# gzip output: compressing the input unchanged, at level 6, against pigz and bgzip with as many
# threads as tranche has workers. tranche's step is grep with an empty fixed pattern, which keeps
# every record: the work measured is reading, compressing and writing.
run_gzip_output() {
    local job=$RUN_DIR/jobs/gzip-out.yaml
    if command -v pigz >/dev/null; then
        measure "pigz -p$WORKERS" gzip-out "$WORKERS" "gz:$IN" \
            "pigz -p$WORKERS -6 -c -- \"\$IN\" >\"\$OUT\""
    else
        skip "pigz -p$WORKERS" gzip-out "$WORKERS" 'pigz missing'
    fi
    if command -v bgzip >/dev/null; then
        measure "bgzip -@$WORKERS" gzip-out "$WORKERS" "gz:$IN" \
            "bgzip -@$WORKERS -l 6 -c -- \"\$IN\" >\"\$OUT\""
    else
        skip "bgzip -@$WORKERS" gzip-out "$WORKERS" 'bgzip missing'
    fi
    cat >"$job" <<EOF
input:
  path: $(yaml_quote "$IN")
output:
  path: $(yaml_quote "$RUN_DIR/unused.out")
  compression: gzip
  level: 6
partition_size: 32MiB
log_dir: $(yaml_quote "$WORKDIR/logs/gzip-out")
steps:
  - plugin: grep
    options: { pattern: "", fixed: true }
EOF
    measure_tranche gzip-out "gz:$IN" "$job"
}

# BGZF input: upper over the log compressed with bgzip, against bgzip's own parallel decoder
# piped to tr; checked against tr's output on the plain file.
run_bgzf_input() {
    local job=$RUN_DIR/jobs/bgzf-in.yaml bgz=$WORKDIR/access-$SIZE-seed1.log.bgz
    if ! command -v bgzip >/dev/null; then
        skip "bgzip -dc | tr" bgzf-in "$WORKERS" 'bgzip missing'
        return
    fi
    if [[ ! -f $bgz ]]; then
        echo "compressing $IN with bgzip" >&2
        bgzip -@"$(nproc)" -l 6 -c -- "$IN" >"$bgz.tmp"
        mv -- "$bgz.tmp" "$bgz"
    fi
    export BGZ=$bgz
    cat -- "$bgz" >/dev/null
    measure "bgzip -dc -@$WORKERS | tr" bgzf-in "$WORKERS" "$REF_DIR/upper.out" \
        "bgzip -dc -@$WORKERS -- \"\$BGZ\" | LC_ALL=C tr a-z A-Z >\"\$OUT\""
    cat >"$job" <<EOF
input:
  path: $(yaml_quote "$bgz")
output:
  path: $(yaml_quote "$RUN_DIR/unused.out")
partition_size: 32MiB
log_dir: $(yaml_quote "$WORKDIR/logs/bgzf-in")
steps:
  - plugin: upper
EOF
    measure_tranche bgzf-in "$REF_DIR/upper.out" "$job"
}

# The rows every gzip file that is not BGZF gets, as transform T: pigz -dc | tr, tranche's first
# run (the index removed before each run, so each is a first run: it decodes the file in one
# process while the workers transform, and leaves an index), then tranche with the index (each
# worker decodes from its own access points) with each of the worker counts given.
measure_gzip_runs() { # transform gz-file indexed-worker-counts...
    local t=$1 gz=$2 job=$RUN_DIR/jobs/$1.yaml w
    shift 2
    export GZ=$gz
    measure "pigz -dc | tr" "$t" "$WORKERS" "$REF_DIR/upper.out" \
        "pigz -dc -p$WORKERS -- \"\$GZ\" | LC_ALL=C tr a-z A-Z >\"\$OUT\""
    # (the index beside the file, where the rows below remove and make it)
    cat >"$job" <<EOF
input:
  path: $(yaml_quote "$gz")
  index: beside
output:
  path: $(yaml_quote "$RUN_DIR/unused.out")
partition_size: 32MiB
log_dir: $(yaml_quote "$WORKDIR/logs/$t")
steps:
  - plugin: upper
EOF
    if [[ ! -x $TRANCHE ]]; then
        skip "tranche first" "$t" "$WORKERS" "${TRANCHE#"$REPO"/} missing"
        return
    fi
    measure "tranche first" "$t" "$WORKERS" "$REF_DIR/upper.out" \
        "rm -f -- \"\$GZ.tranche-index\" && \"\$TRANCHE\" run $(printf %q "$job") \
            --workers $WORKERS --output \"\$OUT\""
    "$TRANCHE" index --beside -- "$gz" >&2
    for w in "$@"; do
        measure "tranche indexed" "$t" "$w" "$REF_DIR/upper.out" \
            "\"\$TRANCHE\" run $(printf %q "$job") --workers $w --output \"\$OUT\""
    done
    rm -f -- "$gz.tranche-index"
}

# gzip input that is not BGZF: upper over the log compressed as one member (pigz writes one, as
# gzip does, only faster), against the single-stream decoders.
run_gzip_input() {
    local gz=$WORKDIR/access-$SIZE-seed1.log.gz counts=(1)
    [[ $WORKERS -eq 1 ]] || counts+=("$WORKERS")
    if ! command -v pigz >/dev/null; then
        skip "pigz -dc | tr" gzip-in "$WORKERS" 'pigz missing'
        return
    fi
    if [[ ! -f $gz ]]; then
        echo "compressing $IN with pigz -6 (one gzip member)" >&2
        pigz -p"$(nproc)" -6 -c -- "$IN" >"$gz.tmp"
        mv -- "$gz.tmp" "$gz"
    fi
    export GZ=$gz
    cat -- "$gz" >/dev/null
    measure "gzip -dc" gzip-in 1 none "gzip -dc -- \"\$GZ\" >/dev/null"
    measure "pigz -dc" gzip-in "$WORKERS" none "pigz -dc -p$WORKERS -- \"\$GZ\" >/dev/null"
    if command -v libdeflate-gunzip >/dev/null; then
        measure "libdeflate-gunzip" gzip-in 1 none "libdeflate-gunzip -c -- \"\$GZ\" >/dev/null"
    else
        skip "libdeflate-gunzip" gzip-in 1 'libdeflate-gunzip missing (libdeflate-tools)'
    fi
    measure "zcat | tr" gzip-in 1 "$REF_DIR/upper.out" \
        "zcat -- \"\$GZ\" | LC_ALL=C tr a-z A-Z >\"\$OUT\""
    measure_gzip_runs gzip-in "$gz" "${counts[@]}"
}

# gzip input of many members (64 MiB of the log each, compressed by pigz, concatenated, as
# `cat a.gz b.gz` makes): a member boundary is one more thing the index has to cross.
run_multi_input() {
    local gz=$WORKDIR/access-$SIZE-seed1.log.multi.gz part
    if ! command -v pigz >/dev/null || ! command -v split >/dev/null; then
        skip "pigz -dc | tr" gzip-multi "$WORKERS" 'pigz missing'
        return
    fi
    if [[ ! -f $gz ]]; then
        echo "compressing $IN as 64 MiB gzip members" >&2
        mkdir -p -- "$RUN_DIR/split"
        split -b 64M -d -a 4 -- "$IN" "$RUN_DIR/split/part."
        for part in "$RUN_DIR"/split/part.*; do
            pigz -p"$(nproc)" -6 -c -- "$part"
        done >"$gz.tmp"
        rm -rf -- "$RUN_DIR/split"
        mv -- "$gz.tmp" "$gz"
    fi
    cat -- "$gz" >/dev/null
    measure_gzip_runs gzip-multi "$gz" "$WORKERS"
}

print_gzip_ratios() {
    local w=$WORKERS
    printf '\n%-34s %11s   target\n' "gzip output (level 6)" gzip-out
    printf '%-34s %11s   >= 1.5\n' "tranche ${w}w speedup vs pigz -p$w" \
        "$(ratio_cell "pigz -p$w|gzip-out|$w" "tranche|gzip-out|$w")"
    printf '%-34s %11s\n' "tranche ${w}w speedup vs bgzip -@$w" \
        "$(ratio_cell "bgzip -@$w|gzip-out|$w" "tranche|gzip-out|$w")"
    printf '%-34s %11s\n' "tranche ${w}w speedup vs 1w" \
        "$(ratio_cell "tranche|gzip-out|1" "tranche|gzip-out|$w")"
    printf '%-34s %11s   >= 1.8\n' "upper over BGZF: tranche ${w}w vs 1w" \
        "$(ratio_cell "tranche|bgzf-in|1" "tranche|bgzf-in|$w")"
    printf '%-34s %11s   >= 1\n' "upper over BGZF: vs bgzip -dc -@$w|tr" \
        "$(ratio_cell "bgzip -dc -@$w | tr|bgzf-in|$w" "tranche|bgzf-in|$w")"
    printf '%-34s %11s   >= 1\n' "gzip in, first run vs pigz -dc|tr" \
        "$(ratio_cell "pigz -dc | tr|gzip-in|$w" "tranche first|gzip-in|$w")"
    printf '%-34s %11s\n' "gzip in, first run vs zcat|tr" \
        "$(ratio_cell "zcat | tr|gzip-in|1" "tranche first|gzip-in|$w")"
    printf '%-34s %11s\n' "gzip in, first run vs pigz -dc" \
        "$(ratio_cell "pigz -dc|gzip-in|$w" "tranche first|gzip-in|$w")"
    printf '%-34s %11s   >= 1.8\n' "gzip in, indexed ${w}w vs first run" \
        "$(ratio_cell "tranche first|gzip-in|$w" "tranche indexed|gzip-in|$w")"
    printf '%-34s %11s\n' "gzip in, indexed ${w}w vs 1w" \
        "$(ratio_cell "tranche indexed|gzip-in|1" "tranche indexed|gzip-in|$w")"
    printf '%-34s %11s   >= 1\n' "members, first run vs pigz -dc|tr" \
        "$(ratio_cell "pigz -dc | tr|gzip-multi|$w" "tranche first|gzip-multi|$w")"
    printf '%-34s %11s   >= 1.8\n' "members, indexed ${w}w vs first run" \
        "$(ratio_cell "tranche first|gzip-multi|$w" "tranche indexed|gzip-multi|$w")"
    printf '(tranche compresses with: %s)\n' \
        "$("$TRANCHE" --version 2>/dev/null | sed -n 's/^gzip output compressed with //p')"
}

print_table() {
    local row tool transform workers us rss status fmt='%-16s %-11s %7s %9s %9s %9s  %s\n'
    # shellcheck disable=SC2059 # the format is the one above
    printf "$fmt" tool transform workers seconds 'MB/s' 'RSS MiB' check
    for row in "${ROWS[@]}"; do
        IFS=$SEP read -r tool transform workers us rss status <<<"$row"
        if [[ -z $us ]]; then
            # shellcheck disable=SC2059
            printf "$fmt" "$tool" "$transform" "$workers" - - - "$status"
            continue
        fi
        awk -v tool="$tool" -v tr="$transform" -v w="$workers" -v us="$us" -v rss="$rss" \
            -v bytes="$IN_BYTES" -v st="$status" -v fmt="$fmt" 'BEGIN {
                r = rss == "-" ? "-" : sprintf("%.1f", rss / 1024)
                s = sprintf("%.3f", us / 1e6)
                printf fmt, tool, tr, w, s, sprintf("%.0f", bytes / us), r, st
            }'
    done
}

# ratio_cell NUMERATOR_KEY DENOMINATOR_KEY: the time ratio, or "-" when either is missing.
ratio_cell() {
    local a=${TIMES[$1]:-} b=${TIMES[$2]:-}
    if [[ -z $a || -z $b ]]; then
        printf -- '-'
    else
        awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'
    fi
}

# One line of the ratio table: a label, a cell per transform, the target and which transforms it
# binds ("all" or one name); a cell is marked "!" when it misses its target.
ratio_line() {
    local label=$1 num=$2 den=$3 op=$4 target=$5 applies=$6 t cell line
    line=$(printf '%-34s' "$label")
    for t in "${TRANSFORMS[@]}"; do
        cell=$(ratio_cell "${num//@/$t}" "${den//@/$t}")
        if [[ $cell != - && ($applies == all || $applies == "$t" ||
            ($applies == not-* && ${applies#not-} != "$t")) ]]; then
            if ! awk -v c="$cell" -v t="$target" -v op="$op" \
                'BEGIN { exit !(op == ">=" ? c >= t : c <= t) }'; then
                cell="$cell!"
            fi
        elif [[ $cell != - ]]; then
            cell="($cell)"
        fi
        line+=$(printf ' %11s' "$cell")
    done
    printf '%s   %s %s%s\n' "$line" "$op" "$target" "$([[ $applies == all ]] || echo " ($applies)")"
}

print_ratios() {
    local w=$WORKERS t line cell
    printf '\n%-34s' "ratios (times; ! = target missed)"
    printf ' %11s' "${TRANSFORMS[@]}"
    printf '   target\n'
    ratio_line "tranche ${w}w speedup vs parallel" "parallel -k|@|$w" "tranche|@|$w" '>=' 2 \
        not-exec-awk
    ratio_line "tranche ${w}w exec speedup vs parallel" "parallel -k|@|$w" "tranche|@|$w" '>=' 1.3 \
        exec-awk
    ratio_line "tranche ${w}w speedup vs python" "python Pool|@|$w" "tranche|@|$w" '>=' 10 all
    ratio_line "tranche ${w}w time / cat > new" "tranche|@|$w" 'cat > new|copy|1' '<=' 1.5 upper
    ratio_line "tranche ${w}w speedup vs 1w" "tranche|@|1" "tranche|@|$w" '>=' 1.8 grep-regex
    ratio_line "tranche 1w time / C loop" "tranche|@|1" "C loop|@|1" '<=' 1.10 all

    line=$(printf '%-34s' "tranche peak RSS MiB (1w, ${w}w)")
    for t in "${TRANSFORMS[@]}"; do
        cell=$(awk -v a="${RSS[tranche|$t|1]:--}" -v b="${RSS[tranche|$t|$w]:--}" 'BEGIN {
            if (a == "-" || b == "-") { printf "-"; exit }
            m = (a + 0 > b + 0 ? a : b) / 1024
            printf "%.1f%s", m, m < 64 ? "" : "!"
        }')
        line+=$(printf ' %11s' "$cell")
    done
    printf '%s   < 64\n' "$line"

    # Without tranche these still say how the peers compare with a plain loop on this machine.
    printf '\n%-34s' "peers (speedup vs the tool)"
    printf ' %11s' "${TRANSFORMS[@]}"
    printf '\n'
    for line in "C loop|1" "python Pool|$w" "parallel -k|$w" "tranche|$w"; do
        printf '%-34s' "${line%|*} ${line#*|}w"
        for t in "${TRANSFORMS[@]}"; do
            printf ' %11s' "$(ratio_cell "${TOOL_NAME[$t]}|$t|1" "${line%|*}|$t|${line#*|}")"
        done
        printf '\n'
    done
}

print_header() {
    local cpu
    cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
    printf 'tranche bench, %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    printf 'machine: %s, %s CPUs, %s MiB RAM\n' "${cpu:-unknown CPU}" "$(nproc)" \
        "$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)"
    printf 'input:   %s (%s bytes), best of %s runs, page cache warm\n' "$IN" "$IN_BYTES" "$REPEAT"
    printf 'tools:   %s; %s; %s\n' "$(parallel --version 2>/dev/null | sed -n 1p || true)" \
        "$(python3 --version 2>&1 || true)" "$(gcc --version | sed -n 1p)"
    printf 'regex:   %s (tranche grep and replace)\n' \
        "$("$TRANCHE" --version 2>/dev/null | sed -n 's/^regex engine of the grep and replace plugins: //p')"
    printf 'MB/s is 10^6 bytes of input per second; RSS is the peak of the largest process.\n\n'
}

# ---- main --------------------------------------------------------------------------------------

export PY_RECIPE=$REPO/bench/python_recipe.py
export COUNT_RECIPE=$REPO/bench/count_recipe.py
export TRANCHE
prepare_input
build_baseline
warm_cache

echo "measuring ($REPEAT runs each; seconds per run):" >&2
run_limits
# BENCH_ROWS=fields runs only the field plugins' rows (and the limits); --only runs the named
# transforms only
if [[ ${BENCH_ROWS:-all} != fields ]]; then
    for t in ${TRANSFORMS[@]+"${TRANSFORMS[@]}"}; do
        run_transform "$t"
    done
fi
if [[ -z $ONLY && ${BENCH_ROWS:-all} != fields ]]; then
    run_gzip_output
    run_bgzf_input
    run_gzip_input
    run_multi_input
fi
if [[ -z $ONLY ]]; then
    run_field_plugins
fi
if [[ ${BENCH_ROWS:-all} != fields && ${#COUNT_TRANSFORMS[@]} -gt 0 ]]; then
    run_count_rows
fi

RESULTS=$WORKDIR/results-$SIZE-$(date -u +%Y%m%dT%H%M%SZ).txt
{
    print_header
    print_table
    [[ ${#TRANSFORMS[@]} -eq 0 ]] || print_ratios
    [[ ${#COUNT_TRANSFORMS[@]} -eq 0 || ${BENCH_ROWS:-all} == fields ]] || print_count_ratios
    [[ -n $ONLY || ${BENCH_ROWS:-all} == fields ]] || print_gzip_ratios
    [[ -n $ONLY ]] || print_field_ratios
} >"$RESULTS"
cp -- "$RESULTS" "$WORKDIR/results.txt"
echo >&2
cat -- "$RESULTS"
echo >&2
echo "written to $RESULTS (and $WORKDIR/results.txt)" >&2
