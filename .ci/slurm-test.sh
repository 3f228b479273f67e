#!/usr/bin/env bash
# .ci/slurm-test.sh [BUILD_DIR]: `tranche submit --slurm` end to end on a private single-node
# Slurm cluster started here on loopback (.ci/slurm-cluster.sh: its own munge key and socket,
# SLURM_CONF in a temporary directory, nothing in /etc touched, every daemon stopped by its pid at
# the end, also on failure). Checks:
#   0. more shards than the cluster's MaxArraySize is refused (exit 2), nothing written;
#   1. a job submitted as 3 shards: the merged output equals a local `tranche run`, byte for byte;
#   2. the same job with shard 1 made to fail: the merge job is cancelled (not left pending),
#      `tranche status` names shard 1 (--array=1), and resubmitting only that shard (sbatch
#      --array=1 ...) and then a merge completes the job, equal to the local run again.
# Prints SKIP and exits 0 when Slurm or munge is not installed, or when not run as root (slurmd
# runs jobs as their user). BUILD_DIR defaults to build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
TRANCHE=$BUILD/bin/tranche

. .ci/slurm-cluster.sh
missing=$(slurm_cluster_missing)
if [ -n "$missing" ]; then
    echo "SKIP: slurm-test: not installed: $missing (apt-get install -y slurmctld slurmd slurm-client munge)"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: slurm-test: needs root (slurmd starts jobs as their user)"
    exit 0
fi
[ -x "$TRANCHE" ] || { echo "slurm-test: $TRANCHE is not built" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/tranche-slurm.XXXXXX")
ok=0
cleanup() {
    slurm_cluster_stop
    if [ $ok = 1 ]; then rm -rf "$T"; else echo "slurm-test: FAILED; files kept in $T" >&2; fi
}
trap cleanup EXIT
trap "exit 130" INT TERM HUP
t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }
fail() {
    echo "slurm-test: FAIL: $*" >&2
    for f in "$T"/wd*/slurm-*.out; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }; done
    exit 1
}

slurm_cluster_start "$T/cluster" || fail "the cluster did not start"
echo "slurm-test: cluster up ($(elapsed)): $(sinfo -h -N -o '%N %c CPUs %t')"
srun --quiet hostname >/dev/null || fail "srun hostname"

# The sample job (as configs/access-404-upper.yaml) plus an exec step that fails in shard
# $SLURM_ARRAY_TASK_ID when the file fail-shard-ID is beside the job, and passes records through
# otherwise (a local run has no such variable: cat).
mkdir -p "$T/job"
cp sample-data/access.log "$T/job/access.log"
cat >"$T/job/job.yaml" <<'EOF'
input:
  path: access.log
output:
  path: out.log
partition_size: 64KiB
steps:
  - plugin: grep
    options: { pattern: " 404 ", fixed: true }
  - plugin: upper
  - exec: ["sh", "-c", "if [ -e fail-shard-${SLURM_ARRAY_TASK_ID:-none} ]; then echo failing on purpose >&2; exit 3; fi; exec cat"]
EOF
cd "$T/job"
"$TRANCHE" run job.yaml --output local.log >/dev/null 2>"$T/local.err" || {
    cat "$T/local.err" >&2
    fail "the local run"
}
[ -s local.log ] || fail "the local run wrote nothing"

# more shards than the cluster's MaxArraySize (1001: indices 0-1000) is refused, read from scontrol
st=0
"$TRANCHE" submit --slurm job.yaml --shards 1002 --work-dir "$T/wd0" >/dev/null 2>"$T/max.err" || st=$?
[ $st = 2 ] && grep -q 'MaxArraySize = 1001' "$T/max.err" && [ ! -e "$T/wd0" ] ||
    { cat "$T/max.err" >&2; fail "--shards 1002 was not refused (exit $st)"; }

# Waits until job $1 has left the queue's live states; prints its final state.
final_state() {
    local s n=300
    while :; do
        s=$(scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -n 1)
        s=${s#JobState=}
        case $s in
        PENDING | RUNNING | CONFIGURING | COMPLETING | SUSPENDED | "") ;;
        *) echo "$s"; return 0 ;;
        esac
        n=$((n - 1))
        [ $n -gt 0 ] || { echo "TIMEOUT($s)"; return 0; }
        sleep 0.1
    done
}
ids() { # the job ids of tranche submit's output
    awk -v k="$2" '$1 == k && $2 == "job:" { print $3 }' "$1"
}

# 1. three shards, all succeed
"$TRANCHE" submit --slurm job.yaml --shards 3 --work-dir "$T/wd1" >"$T/ids1" 2>"$T/submit1.err" ||
    { cat "$T/submit1.err" >&2; fail "submit"; }
A=$(ids "$T/ids1" array)
M=$(ids "$T/ids1" merge)
[ -n "$A" ] && [ -n "$M" ] || fail "submit printed no ids: $(cat "$T/ids1")"
s=$(final_state "$M")
[ "$s" = COMPLETED ] || fail "merge job $M of array $A ended $s"
cmp out.log local.log || fail "the merged output differs from the local run"
echo "slurm-test: 3 shards (array $A, merge $M): merged output = local run ($(elapsed))"
mv out.log out1.log

# 2. shard 1 fails: the merge is cancelled, status names the shard, resubmitting it completes
touch fail-shard-1
"$TRANCHE" submit --slurm job.yaml --shards 3 --work-dir "$T/wd2" >"$T/ids2" 2>"$T/submit2.err" ||
    { cat "$T/submit2.err" >&2; fail "submit (2)"; }
A=$(ids "$T/ids2" array)
M=$(ids "$T/ids2" merge)
s=$(final_state "$M")
[ "$s" = CANCELLED ] || fail "with shard 1 failing, merge job $M ended $s, not CANCELLED"
[ -z "$(squeue -h -j "$M" -t PENDING,RUNNING 2>/dev/null)" ] || fail "merge job $M still queued"
s=$(final_state "${A}_1")
[ "$s" = FAILED ] || fail "array task ${A}_1 ended $s, not FAILED"
[ ! -e out.log ] || fail "a merge ran although shard 1 failed"
st=0
"$TRANCHE" status --work-dir "$T/wd2" >"$T/status" 2>&1 || st=$?
[ $st = 1 ] || { cat "$T/status" >&2; fail "tranche status exited $st with a shard missing"; }
list=$(grep -o -- '--array=[0-9,-]*' "$T/status" | head -n 1)
[ "$list" = "--array=1" ] || { cat "$T/status" >&2; fail "tranche status gave '$list', not --array=1"; }
echo "slurm-test: shard 1 failed: merge $M cancelled, tranche status says $list ($(elapsed))"

rm fail-shard-1
A2=$(sbatch --parsable "$list" --job-name=tranche-job --output="$T/wd2/slurm-%A_%a.out" \
    --wrap "'$TRANCHE' run '$T/job/job.yaml' --shard auto --work-dir '$T/wd2'") ||
    fail "sbatch of shard 1"
M2=$(sbatch --parsable --dependency=afterok:"$A2" --kill-on-invalid-dep=yes \
    --job-name=tranche-job-merge --output="$T/wd2/slurm-merge-%j.out" \
    --wrap "'$TRANCHE' merge --work-dir '$T/wd2'") || fail "sbatch of the merge"
s=$(final_state "$M2")
[ "$s" = COMPLETED ] || fail "merge job $M2 after the resubmitted shard ended $s"
cmp out.log local.log || fail "the merged output after resubmitting shard 1 differs from the local run"
"$TRANCHE" status --work-dir "$T/wd2" >/dev/null || fail "tranche status: not all done after the merge"
echo "slurm-test: shard 1 resubmitted (array $A2, merge $M2): merged output = local run ($(elapsed))"
ok=1
echo "slurm-test: OK ($(elapsed))"
