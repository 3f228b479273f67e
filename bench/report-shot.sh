#!/usr/bin/env bash
# bench/report-shot.sh: renders a run report in headless Chromium and saves a screenshot, to look
# at what `tranche report` draws. Not a test and not in CI (it needs Debian's chromium package).
# Without a LOGDIR it makes one: a summary.json of a made-up run (4 workers, 2 inputs, 40
# partitions, 2 retries, one resumed partition) and a rejects.tsv.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/report-shot.sh [--build DIR] [--out FILE.png] [--size WxH] [LOGDIR]

  LOGDIR          a run's log directory (or its summary.json); default: a made-up run's,
                  written to /tmp/tranche-report-shot/logs
  --build DIR     the CMake build directory holding bin/tranche (default: build in the repo)
  --out FILE.png  the screenshot (default: /tmp/tranche-report-shot/report.png)
  --size WxH      the window (default 1400,1800)
EOF
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$REPO/build
WORK=/tmp/tranche-report-shot
OUT=$WORK/report.png
SIZE=1400,1800
LOGDIR=

while [[ $# -gt 0 ]]; do
    case $1 in
        --build) BUILD=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --size) SIZE=${2/x/,}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) usage >&2; exit 2 ;;
        *) LOGDIR=$1; shift ;;
    esac
done

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $CHROMIUM ]]; then
    echo "report-shot: chromium is not installed (apt-get install -y chromium)" >&2
    exit 1
fi
mkdir -p "$WORK"

if [[ -z $LOGDIR ]]; then
    LOGDIR=$WORK/logs
    rm -rf "$LOGDIR"
    mkdir -p "$LOGDIR"
    # A made-up run, with the variety a real one has: uneven partitions, a slow worker, a retry
    # on another worker, waits to be written, a resumed partition.
    python3 - "$LOGDIR" <<'EOF'
import json, random, sys
logdir = sys.argv[1]
rng = random.Random(7)
workers, parts = 4, 40
inputs = [{"path": "data/access-2026-11.log", "kind": "plain", "size": 600 << 20},
          {"path": "data/access-2026-12.log.gz", "kind": "bgzf", "size": 424 << 20}]
free = [0.02] * workers
partitions, retries, turn = [], [], 0.0
per_input = parts // 2
for k in range(parts):
    inp = k // per_input
    size = (inputs[inp]["size"]) // per_input
    start = (k % per_input) * size
    if k == 0:
        partitions.append(dict(index=0, input=0, start=0, end=size, worker=0, attempts=0,
                               resumed=True, start_s=None, done_s=None, written_s=None,
                               records_in=131072, records_out=4100, bytes_in=size,
                               bytes_out=size // 30, skipped=0))
        continue
    w = min(range(workers), key=lambda i: free[i])
    t0 = free[w]
    dur = size / (230e6 if w != 3 else 150e6) * rng.uniform(0.8, 1.3)
    attempts = 1
    if k in (13, 27):
        retries.append(dict(partition=k, attempt=1, worker=w + 1, at_s=round(t0 + dur * 0.4, 4),
                            reason="killed by signal SIGSEGV (Segmentation fault) at the record "
                                   "starting at byte %d" % (start + 4096)))
        t0 += dur * 0.4
        free[w] = t0
        w = min(range(workers), key=lambda i: free[i])
        t0 = max(t0, free[w])
        attempts = 2
    done = t0 + dur
    turn = max(turn, done)
    written = turn + 0.002
    free[w] = written if written - done < 0.05 else done
    recs = size // 118
    partitions.append(dict(index=k, input=inp, start=start, end=start + size, worker=w + 1,
                           attempts=attempts, resumed=False, start_s=round(t0, 4),
                           done_s=round(done, 4), written_s=round(written, 4), records_in=recs,
                           records_out=recs // 32, bytes_in=size, bytes_out=size // 30,
                           skipped=1 if k == 21 else 0))
wall = max(p["written_s"] or 0 for p in partitions) + 0.03
wk = []
for i in range(workers):
    mine = [p for p in partitions if p["worker"] == i + 1]
    busy = sum(p["done_s"] - p["start_s"] for p in mine)
    wk.append(dict(id=i + 1, processes=1 + sum(1 for r in retries if r["worker"] == i + 1),
                   partitions=len(mine), busy_s=round(busy, 3), cpu_user_s=round(busy * 0.92, 3),
                   cpu_system_s=round(busy * 0.06, 3), max_rss_kib=rng.randint(9000, 14000)))
tot = lambda key: sum(p[key] for p in partitions)
summary = {
    "tranche": "0.1.0", "job": "configs/access-404-upper.yaml", "log_dir": logdir,
    "output": "out/access-404-upper.log", "status": "skipped", "exit_status": 3, "error": None,
    "started_at": "2026-12-01T07:04:38Z", "wall_s": round(wall, 3),
    "cpu_user_s": round(sum(w["cpu_user_s"] for w in wk) + 0.05, 3),
    "cpu_system_s": round(sum(w["cpu_system_s"] for w in wk) + 0.02, 3), "n_workers": workers,
    "inputs": inputs,
    "totals": {"partitions": parts, "partitions_written": parts, "partitions_resumed": 1,
               "retries": len(retries), "skipped": 1, "records_in": tot("records_in"),
               "records_out": tot("records_out"), "bytes_in": tot("bytes_in"),
               "bytes_out": tot("bytes_out")},
    "steps": [{"label": "grep (step 1)", "records_in": tot("records_in"),
               "records_out": tot("records_out"), "bytes_in": tot("bytes_in"),
               "bytes_out": tot("bytes_out")},
              {"label": "upper (step 2)", "records_in": tot("records_out"),
               "records_out": tot("records_out"), "bytes_in": tot("bytes_out"),
               "bytes_out": tot("bytes_out")}],
    "retries": retries,
    "rejects": {"count": 1, "tsv": logdir + "/rejects.tsv", "bin": logdir + "/rejects.bin"},
    "partitions": partitions, "workers": wk, "incomplete": False,
}
json.dump(summary, open(logdir + "/summary.json", "w"), indent=2, ensure_ascii=False)
with open(logdir + "/rejects.tsv", "w") as f:
    f.write("#input\toffset\tlength\tpartition\tstep\treason\n")
    f.write("data/access-2026-12.log.gz\t%d\t212\t21\t1\tpattern <&> \"too long\"\n"
            % (partitions[21]["start"] + 5000))
EOF
fi

"$BUILD/bin/tranche" report "$LOGDIR" -o "$WORK/report.html" >/dev/null
# --no-sandbox: chromium's sandbox needs user namespaces a container (or root) may not have.
"$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --screenshot="$OUT" --window-size="$SIZE" "file://$WORK/report.html" 2>"$WORK/chromium.log" ||
    { cat "$WORK/chromium.log" >&2; exit 1; }
echo "$OUT (from $WORK/report.html)"
