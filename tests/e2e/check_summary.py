#!/usr/bin/env python3
"""tests/e2e/check_summary.py SUMMARY [KEY=VALUE...]: checks a run's summary.json against counts
made independently by the test (wc, grep, zcat) and against itself: the partitions are the plan,
each index once and in order, each input's partitions contiguous from offset 0 to its end; the
totals are the sums of the partitions' numbers; one row per worker, whose partitions add up.
KEY=VALUE compares a value: status, exit_status, n_workers, records_in, records_out, bytes_in,
bytes_out, partitions, kind (of input 0), size (of input 0), plan (a file of `tranche plan`
lines INDEX START END: the partitions' ranges must be these), error~TEXT (error contains TEXT),
job (the job's path). Exits 1 with the first difference."""
import json
import sys


def fail(msg):
    raise SystemExit("check_summary: " + msg)


def check_plan_cover(d):
    parts = d["partitions"]
    totals = d["totals"]
    if totals["partitions"] != len(parts):
        fail("totals.partitions %d, but %d partition rows" % (totals["partitions"], len(parts)))
    ends = {}
    for i, p in enumerate(parts):
        if p["index"] != i:
            fail("row %d has index %d" % (i, p["index"]))
        if p["end"] <= p["start"]:
            fail("partition %d is empty or reversed" % i)
        want = ends.get(p["input"], 0)
        if p["start"] != want:
            fail("partition %d of input %d starts at %d, the one before ended at %d"
                 % (i, p["input"], p["start"], want))
        ends[p["input"]] = p["end"]
    return ends


def check_sums(d):
    parts = d["partitions"]
    totals = d["totals"]
    for key in ("records_in", "records_out", "bytes_in", "bytes_out", "skipped"):
        s = sum(p[key] for p in parts)
        if s != totals[key]:
            fail("totals.%s is %d, the partitions add up to %d" % (key, totals[key], s))
    if d["steps"] and d["steps"][0]["records_in"] != totals["records_in"]:
        fail("step 1 got %d records, the job read %d"
             % (d["steps"][0]["records_in"], totals["records_in"]))
    if d["steps"] and d["steps"][-1]["records_out"] != totals["records_out"]:
        fail("the last step emitted %d records, the job wrote %d"
             % (d["steps"][-1]["records_out"], totals["records_out"]))


def check_workers(d):
    workers = d["workers"]
    if len(workers) != d["n_workers"]:
        fail("%d worker rows for %d workers" % (len(workers), d["n_workers"]))
    for i, w in enumerate(workers):
        if w["id"] != i + 1:
            fail("worker row %d has id %d" % (i, w["id"]))
    if d["status"] in ("ok", "skipped"):
        done = sum(w["partitions"] for w in workers)
        if done != len(d["partitions"]) - d["totals"]["partitions_resumed"]:
            fail("the workers ran %d partitions of %d" % (done, len(d["partitions"])))
        for p in d["partitions"]:
            if not 1 <= p["worker"] <= d["n_workers"] or p["done_s"] is None \
                    or p["written_s"] is None or p["start_s"] > p["done_s"]:
                fail("partition %d: worker %d, start %s, done %s, written %s"
                     % (p["index"], p["worker"], p["start_s"], p["done_s"], p["written_s"]))
        if d["totals"]["partitions_written"] != len(d["partitions"]):
            fail("%d partitions written of %d" % (d["totals"]["partitions_written"],
                                                  len(d["partitions"])))


def compare(d, ends, key, value):
    if key == "plan":
        rows = [line.split()[:3] for line in open(value) if line.strip()]
        got = [[str(p["index"]), str(p["start"]), str(p["end"])] for p in d["partitions"]]
        if rows != got:
            fail("the partitions are not the plan:\n%s\n%s" % (rows[:5], got[:5]))
        return
    if key == "error~":
        if d["error"] is None or value not in d["error"]:
            fail("error %r does not contain %r" % (d["error"], value))
        return
    if key in ("kind", "size"):
        got = d["inputs"][0][key]
    elif key == "end":
        got = ends.get(0, 0)
    elif key in d["totals"]:
        got = d["totals"][key]
    else:
        got = d[key]
    if str(got) != value:
        fail("%s is %r, expected %r" % (key, got, value))


def main():
    d = json.load(open(sys.argv[1], encoding="utf-8"))
    for key in ("tranche", "job", "log_dir", "output", "status", "exit_status", "error",
                "started_at", "wall_s", "cpu_user_s", "cpu_system_s", "n_workers", "inputs",
                "totals", "steps", "retries", "rejects", "partitions", "workers", "incomplete"):
        if key not in d:
            fail("no key %r" % key)
    if d["incomplete"]:
        fail("incomplete")
    ends = check_plan_cover(d)
    check_sums(d)
    check_workers(d)
    for arg in sys.argv[2:]:
        if arg.startswith("error~"):
            compare(d, ends, "error~", arg[6:])
        else:
            key, value = arg.split("=", 1)
            compare(d, ends, key, value)


main()
