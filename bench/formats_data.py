#!/usr/bin/env python3
"""bench/formats_data.py: the inputs and the Python peer of bench/formats.sh.

    formats_data.py csv SIZE SEED OUT      a CSV of about SIZE bytes: a header row, then rows
                                           of 6 fields, some quoted, holding the separator,
                                           doubled quotes and newlines; LF row ends; quoting as
                                           csv.writer's QUOTE_MINIMAL writes it, so that the
                                           recipe below rewrites it byte for byte
    formats_data.py fastq SIZE SEED OUT    FASTQ reads of 20 to 150 bases, about SIZE bytes
    formats_data.py csv-upper IN OUT       the Python recipe: csv.reader / csv.writer in one
                                           process, every field upper-cased (a-z only), the
                                           header row passed unchanged
    formats_data.py csv-cut IN OUT         the same, keeping columns 1 and 3 (the header's too)

Rows and reads are drawn from a pool of a few thousand made at random, so that generating
hundreds of MiB takes seconds; the seed fixes the bytes.
"""
import csv
import random
import sys

UPPER = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
UPPER_STR = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def csv_field(rng):
    r = rng.random()
    words = ["alpha", "beta", "gamma", "x", "north", "south", "42", "3.14", "2026-12-02"]
    if r < 0.1:
        return ""
    if r < 0.6:
        return rng.choice(words) + str(rng.randint(0, 99999))
    # A field that needs quotes: a separator, a quote or a newline inside.
    parts = [rng.choice(words) for _ in range(rng.randint(1, 6))]
    glue = rng.choice([", ", "\n", ' "q" ', "\r\n", " "])
    return glue.join(parts)


def gen_csv(size, seed, out):
    rng = random.Random(seed)
    buf = []
    w = csv.writer(_Collect(buf), lineterminator="\n")
    for _ in range(4000):
        w.writerow([csv_field(rng) for _ in range(6)])
    pool = [s.encode("latin-1") for s in buf]
    with open(out, "wb") as f:
        f.write(b'id,name,"notes, free text",city,value,date\n')
        written = 0
        while written < size:
            block = b"".join(rng.choice(pool) for _ in range(20000))
            f.write(block)
            written += len(block)


class _Collect:
    def __init__(self, buf):
        self.buf = buf

    def write(self, s):
        self.buf.append(s)


def gen_fastq(size, seed, out):
    rng = random.Random(seed)
    pool = []
    for i in range(5000):
        n = rng.randint(20, 150)
        seq = "".join(rng.choice("ACGT") for _ in range(n))
        qual = "".join(rng.choice("!#+5?@ABCIJ") for _ in range(n))
        pool.append(("@read%d/1 len=%d\n%s\n+\n%s\n" % (i, n, seq, qual)).encode())
    with open(out, "wb") as f:
        written = 0
        while written < size:
            block = b"".join(rng.choice(pool) for _ in range(20000))
            f.write(block)
            written += len(block)


def csv_upper(inp, outp):
    with open(inp, newline="", encoding="latin-1") as fi, \
            open(outp, "w", newline="", encoding="latin-1") as fo:
        r = csv.reader(fi)
        w = csv.writer(fo, lineterminator="\n")
        w.writerow(next(r))
        for row in r:
            w.writerow([f.translate(UPPER_STR) for f in row])


def csv_cut(inp, outp):
    with open(inp, newline="", encoding="latin-1") as fi, \
            open(outp, "w", newline="", encoding="latin-1") as fo:
        w = csv.writer(fo, lineterminator="\n")
        for row in csv.reader(fi):
            w.writerow([row[i] for i in (0, 2) if i < len(row)])


def main(argv):
    if argv[1] == "csv":
        gen_csv(int(argv[2]), int(argv[3]), argv[4])
    elif argv[1] == "fastq":
        gen_fastq(int(argv[2]), int(argv[3]), argv[4])
    elif argv[1] == "csv-upper":
        csv_upper(argv[2], argv[3])
    elif argv[1] == "csv-cut":
        csv_cut(argv[2], argv[3])
    else:
        sys.exit("formats_data.py: unknown command " + argv[1])


if __name__ == "__main__":
    main(sys.argv)
