#!/usr/bin/env bash
# bench/resume.sh: what --resume saves. Runs one job (grep + upper, gzip output) on a generated
# access log in full, then again stopped with SIGTERM once about half of its output is written,
# then with --resume; prints the resume/full time ratio (target <= 0.60, issue 10) and checks
# that the resumed output is the full run's, byte for byte (compressed).
#
# The stop point is found from the output, not from a time: the run's temporary output beside
# out/job.gz grows partition by partition, in order, and the full run says how large it ends.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/resume.sh [--size SIZE] [--workers N] [--partition-size SIZE] [--at PERCENT]
                       [--build DIR] [--gen PATH] [--workdir DIR]

  --size SIZE            size of the generated access log (tranche-gen syntax; default 1G)
  --workers N            tranche --workers (default 2)
  --partition-size SIZE  tranche --partition-size (default 8MiB)
  --at PERCENT           stop once this share of the output is written (default 50)
  --build DIR            the CMake build directory holding bin/tranche (default: build)
  --gen PATH             the tranche-gen binary (default: BUILD/bin/tranche-gen)
  --workdir DIR          where the input is cached (default /tmp/tranche-bench)
EOF
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE=1G
WORKERS=2
PSIZE=8MiB
AT=50
BUILD=$REPO/build
GEN=
WORKDIR=/tmp/tranche-bench

while [[ $# -gt 0 ]]; do
    case $1 in
        --size) SIZE=$2; shift 2 ;;
        --workers) WORKERS=$2; shift 2 ;;
        --partition-size) PSIZE=$2; shift 2 ;;
        --at) AT=$2; shift 2 ;;
        --build) BUILD=$2; shift 2 ;;
        --gen) GEN=$2; shift 2 ;;
        --workdir) WORKDIR=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/resume.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
bad_usage() { echo "bench/resume.sh: $1" >&2; exit 2; }
[[ $WORKERS =~ ^[1-9][0-9]*$ ]] || bad_usage "--workers wants a positive integer"
[[ $SIZE =~ ^[0-9]+[KMGT]?$ ]] || bad_usage "--size wants a number with an optional K/M/G/T"
[[ $AT =~ ^[1-9][0-9]?$ ]] || bad_usage "--at wants a percentage, 1-99"

abspath() { [[ $1 == /* ]] && printf '%s\n' "$1" || printf '%s/%s\n' "$PWD" "$1"; }
BUILD=$(abspath "$BUILD")
GEN=$(abspath "${GEN:-$BUILD/bin/tranche-gen}")
WORKDIR=$(abspath "$WORKDIR")
TRANCHE=$BUILD/bin/tranche
[[ -x $TRANCHE ]] || { echo "bench/resume.sh: no tranche at $TRANCHE (make build)" >&2; exit 1; }

mkdir -p "$WORKDIR"
RUN_DIR=$(mktemp -d "$WORKDIR/resume.XXXXXX")
PID=
cleanup() {
    if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID" 2>/dev/null || true
    fi
    rm -rf -- "$RUN_DIR"
}
trap cleanup EXIT

# The input is cached by size, as bench/run.sh caches it (same name: shared with it).
IN=$WORKDIR/access-$SIZE-seed1.log
if [[ ! -f $IN ]]; then
    [[ -x $GEN ]] || { echo "bench/resume.sh: no generator at $GEN (build it, or pass --gen)" >&2; exit 1; }
    echo "generating $IN with $GEN" >&2
    "$GEN" --kind access --size "$SIZE" --seed 1 --output "$IN.tmp"
    mv -- "$IN.tmp" "$IN"
fi

cd "$RUN_DIR"
mkdir out
cat > job.yaml <<EOF
input:
  path: $IN
output:
  path: out/job.gz
log_dir: logs
steps:
  - plugin: grep
    options: { pattern: "GET", fixed: true }
  - plugin: upper
EOF
RUN=("$TRANCHE" run job.yaml --workers "$WORKERS" --partition-size "$PSIZE" --quiet)

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# 1. The full run: its time, and its output as the reference (the input read once before, so
# that neither timed run reads it cold).
cat "$IN" > /dev/null
t0=$(now)
"${RUN[@]}"
t1=$(now)
FULL=$(elapsed "$t0" "$t1")
mv out/job.gz full.gz
FULL_BYTES=$(stat -c %s full.gz)
WANT=$((FULL_BYTES * AT / 100))

# 2. The same job, stopped with SIGTERM once AT% of its output is in its temporary file (the
# output is written in partition order, so this is about AT% of the partitions).
"${RUN[@]}" 2> stop.err &
PID=$!
reached=0
while kill -0 "$PID" 2>/dev/null; do
    tmp=$(find out -maxdepth 1 -name '.job.gz.tranche-*.tmp' 2>/dev/null | head -n 1)
    if [[ -n $tmp ]] && (($(stat -c %s "$tmp" 2>/dev/null || echo 0) >= WANT)); then
        reached=1
        kill -TERM "$PID"
        break
    fi
    sleep 0.01
done
rc=0
wait "$PID" || rc=$?
PID=
if ((reached == 0)); then
    echo "bench/resume.sh: the run ended (exit $rc) before $AT% of its output was written;" \
         "use a larger --size or a smaller --partition-size" >&2
    exit 1
fi
if ((rc != 1)) || ! grep -q 'interrupted by signal SIGTERM' stop.err || [[ ! -d out/job.gz.tranche-work ]]; then
    echo "bench/resume.sh: the stopped run exited $rc and kept no work:" >&2
    cat stop.err >&2
    exit 1
fi
KEPT=$(grep -o '[0-9]* of [0-9]* partition(s) are done' stop.err | head -n 1)

# 3. --resume: its time, and its output against the full run's.
t0=$(now)
"${RUN[@]}" --resume
t1=$(now)
RESUMED=$(elapsed "$t0" "$t1")
if ! cmp -s out/job.gz full.gz; then
    echo "bench/resume.sh: FAIL: the resumed output differs from the full run's" >&2
    exit 1
fi
[[ ! -e out/job.gz.tranche-work ]] || { echo "bench/resume.sh: FAIL: work directory left" >&2; exit 1; }

# How long the resumed run took to check the work (the partial output's CRC-32) before it ran.
ms_of() { grep "$1" logs/tranche.log | tail -n 1 | cut -c12-23 | awk -F: '{ print ($1 * 3600 + $2 * 60 + $3) * 1000 }'; }
CHECK_MS=$(awk -v a="$(ms_of ' job job.yaml: ')" -v b="$(ms_of 'resuming from')" 'BEGIN { printf "%.0f", b - a }')
RATIO=$(awk -v r="$RESUMED" -v f="$FULL" 'BEGIN { printf "%.2f", r / f }')
echo "input $IN ($(stat -c %s "$IN") bytes), $WORKERS workers, partitions of $PSIZE"
echo "full run          ${FULL}s"
echo "stopped at        $KEPT (SIGTERM at $AT% of the output)"
echo "resumed run       ${RESUMED}s (${CHECK_MS} ms of it checking the kept work)"
echo "resume/full       $RATIO (target <= 0.60); output identical to the full run's (compressed)"
