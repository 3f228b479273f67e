#!/usr/bin/env python3
"""bench/python_recipe.py: the Python recipe tranche replaces, as people write it.

The parent cuts the file into line-aligned byte ranges (seek to every CHUNK bytes, read on to the
next newline), multiprocessing.Pool(N).starmap() hands each (path, start, end, transform) to a
worker, the worker reads its range and returns the transformed bytes, and the parent writes the
returned list in order. As in the usual recipe, every result is pickled back to the parent, which
holds the whole output until starmap returns.

    python_recipe.py [--workers N] [--chunk-size BYTES] TRANSFORM INPUT OUTPUT

TRANSFORM is one of upper, grep-fixed, grep-regex, cut; the output is byte-identical to
LC_ALL=C tr a-z A-Z, grep -F ' 404 ', grep -E '" 5[0-9][0-9] ', cut -d ' ' -f 1,9.
"""

import argparse
import multiprocessing
import os
import re

FIXED = b" 404 "
REGEX = re.compile(rb'" 5[0-9][0-9] ')
CUT_DELIM = b" "
CUT_FIELDS = (0, 8)  # fields 1 and 9, counted from 0


def lines_of(data):
    """The records of a chunk without their newlines; a last line without one still counts."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def cut_line(line):
    parts = line.split(CUT_DELIM)
    if len(parts) == 1:  # no delimiter: cut prints the line whole
        return line
    return CUT_DELIM.join(parts[i] for i in CUT_FIELDS if i < len(parts))


def transform_chunk(data, transform):
    if transform == "upper":
        return data.upper()  # ASCII-only on bytes, like tr a-z A-Z in the C locale
    lines = lines_of(data)
    if transform == "grep-fixed":
        kept = [line for line in lines if FIXED in line]
    elif transform == "grep-regex":
        search = REGEX.search
        kept = [line for line in lines if search(line)]
    elif transform == "cut":
        kept = [cut_line(line) for line in lines]
    else:
        raise ValueError("unknown transform " + transform)
    if not kept:
        return b""
    return b"\n".join(kept) + b"\n"


def work(path, start, end, transform):
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    return transform_chunk(data, transform)


def chunk_bounds(path, chunk_size):
    """Line-aligned [start, end) ranges covering the file, each about chunk_size bytes."""
    size = os.path.getsize(path)
    bounds = [0]
    with open(path, "rb") as f:
        while bounds[-1] < size:
            target = bounds[-1] + chunk_size
            if target >= size:
                bounds.append(size)
                break
            f.seek(target - 1)  # a newline just before the target already ends a chunk there
            f.readline()
            bounds.append(f.tell())
    return list(zip(bounds[:-1], bounds[1:]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--chunk-size", type=int, default=32 << 20)
    parser.add_argument("transform", choices=["upper", "grep-fixed", "grep-regex", "cut"])
    parser.add_argument("input")
    parser.add_argument("output")
    args = parser.parse_args()

    tasks = [(args.input, start, end, args.transform)
             for start, end in chunk_bounds(args.input, args.chunk_size)]
    with multiprocessing.Pool(args.workers) as pool:
        results = pool.starmap(work, tasks)
    with open(args.output, "wb") as out:
        for result in results:
            out.write(result)


if __name__ == "__main__":
    main()
