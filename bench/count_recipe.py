#!/usr/bin/env python3
"""bench/count_recipe.py: counting per key the way the Python recipe does it, with Counter.

The parent cuts the file into line-aligned byte ranges (as python_recipe.py does),
multiprocessing.Pool(N).starmap() hands each range to a worker, which counts the records per key
(and totals a numeric field) in collections.Counter objects; the parent adds the workers' Counters
up and writes one line per key, sorted by the key's bytes:

    KEY<TAB>COUNT[<TAB>SUM]

    count_recipe.py [--workers N] [--chunk-size BYTES] --key F [--sum F] INPUT OUTPUT

Fields are 1-based and split on single spaces, as tranche's count with `delimiter: " "`; a sum
field of "-" (no bytes, in an access log) adds nothing. The output is byte-identical to count's.
"""

import argparse
import multiprocessing
import os
from collections import Counter

from python_recipe import chunk_bounds, lines_of


def work(path, start, end, key, total):
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    counts, sums = Counter(), Counter()
    for line in lines_of(data):
        parts = line.split(b" ")
        k = parts[key] if key < len(parts) else b""
        counts[k] += 1
        if total is not None and total < len(parts) and parts[total] != b"-":
            sums[k] += int(parts[total])
    return counts, sums


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--chunk-size", type=int, default=32 << 20)
    parser.add_argument("--key", type=int, required=True)
    parser.add_argument("--sum", type=int)
    parser.add_argument("input")
    parser.add_argument("output")
    args = parser.parse_args()

    total = args.sum - 1 if args.sum is not None else None
    tasks = [(args.input, start, end, args.key - 1, total)
             for start, end in chunk_bounds(args.input, args.chunk_size)]
    counts, sums = Counter(), Counter()
    with multiprocessing.Pool(args.workers) as pool:
        for c, s in pool.starmap(work, tasks):
            counts.update(c)
            sums.update(s)
    with open(args.output, "wb") as out:
        for k in sorted(counts):
            line = k + b"\t" + str(counts[k]).encode()
            if total is not None:
                line += b"\t" + str(sums[k]).encode()
            out.write(line + b"\n")


if __name__ == "__main__":
    main()
