#!/usr/bin/env python3
"""tests/e2e/check_resumed.py SUMMARY DONE RECORDS [KIND]: checks the summary.json of a resumed run
that succeeded: the first DONE partitions (those the interrupted run wrote) are marked resumed,
with worker 0 and no start or done time (they did not run again); every other partition ran in
a worker (1..n_workers) and was written; resumed plus ran is totals.partitions; the workers ran
exactly the partitions that were not resumed, and wrote them (totals.partitions_written); totals.records_in is RECORDS (the test's `wc -l`
of the input) and the partitions' records add up to it; input 0 is read as KIND when given.
Exits 1 with the first difference."""
import json
import sys


def fail(msg):
    raise SystemExit("check_resumed: " + msg)


def main():
    d = json.load(open(sys.argv[1], encoding="utf-8"))
    done, records = int(sys.argv[2]), int(sys.argv[3])
    totals, parts = d["totals"], d["partitions"]
    if d["status"] != "ok" or d["exit_status"] != 0:
        fail("status %r, exit_status %r" % (d["status"], d["exit_status"]))
    if len(sys.argv) > 4 and d["inputs"][0]["kind"] != sys.argv[4]:
        fail("input 0 read as %r, expected %r" % (d["inputs"][0]["kind"], sys.argv[4]))
    if totals["partitions"] != len(parts):
        fail("totals.partitions %d, %d partition rows" % (totals["partitions"], len(parts)))
    if totals["partitions_resumed"] != done:
        fail("totals.partitions_resumed %d, the interrupted run wrote %d"
             % (totals["partitions_resumed"], done))
    resumed = [p for p in parts if p["resumed"]]
    ran = [p for p in parts if not p["resumed"] and 1 <= p["worker"] <= d["n_workers"]
           and p["start_s"] is not None and p["done_s"] is not None]
    if [p["index"] for p in resumed] != list(range(done)):
        fail("resumed partitions %s, expected 0-%d" % ([p["index"] for p in resumed], done - 1))
    for p in resumed:
        if p["worker"] != 0 or p["start_s"] is not None or p["done_s"] is not None:
            fail("resumed partition %d: worker %d, start %s, done %s"
                 % (p["index"], p["worker"], p["start_s"], p["done_s"]))
    if len(resumed) + len(ran) != totals["partitions"]:
        fail("%d resumed + %d ran != %d partitions" % (len(resumed), len(ran), totals["partitions"]))
    if sum(w["partitions"] for w in d["workers"]) != len(ran):
        fail("the workers ran %d partitions, %d were not resumed"
             % (sum(w["partitions"] for w in d["workers"]), len(ran)))
    # (partitions_written counts what this run wrote: the resumed ones were written before)
    if totals["partitions_written"] != len(ran):
        fail("%d partitions written, %d ran" % (totals["partitions_written"], len(ran)))
    if totals["records_in"] != records or sum(p["records_in"] for p in parts) != records:
        fail("records_in %d (partitions: %d), wc -l says %d"
             % (totals["records_in"], sum(p["records_in"] for p in parts), records))


main()
