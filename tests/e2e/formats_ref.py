#!/usr/bin/env python3
"""tests/e2e/formats_ref.py: the inputs and the references of tests/e2e/test_formats.c, written
without tranche's code: CSV checked with Python's csv module, FASTQ by a sequential reader that
groups lines by 4, lines by bytes.split, plan boundaries by a sequential quote-parity scanner.

  gen-csv SEED OUT [header] [nofinal]   a CSV built to hit the edges (see gen_csv)
  gen-fastq SEED OUT [nofinal]          FASTQ reads built to hit the edges (see gen_fastq)
  csv-check IN OUT HEADER STEP [STDERR] OUT is what STEP (cat or upper) makes of IN, parsed
                                        with csv.reader and byte by byte; STDERR (the run's
                                        summary) reports as many records as csv.reader reads
  fastq-ref IN STEP                     prints the expected output of STEP over IN
  lines-ref IN DELIM STEP               prints the expected output (DELIM in Python bytes
                                        escapes, e.g. '\\r\\n' or '\\x00\\x00')
  plan-check IN PLAN                    every boundary of `tranche plan` is a CSV row start,
                                        and the partitions tile the file
  row-start IN N                        prints the offset where row N (from 0) begins
Exits 1 with a message on a mismatch.
"""
import csv
import io
import random
import re
import sys

PROBE_SIZES = (2, 3, 7, 64, 4096)


def fail(msg):
    sys.stderr.write("formats_ref.py: " + msg + "\n")
    sys.exit(1)


def upper(b):
    """LC_ALL=C tr a-z A-Z over bytes."""
    return bytes(c - 32 if 97 <= c <= 122 else c for c in b)


def step_fn(step):
    if step == "cat":
        return lambda b: b
    if step == "upper":
        return upper
    fail("unknown step " + step)


def at_probe(offset):
    """Whether offset is k*S-1 or k*S for one of the partition sizes the tests use."""
    return any(offset % s in (0, s - 1) for s in PROBE_SIZES)


# ---- CSV ----------------------------------------------------------------------------------------


def gen_csv(seed, header, final_newline):
    rng = random.Random(seed)
    out = bytearray()
    if header:
        out += b'id,"na,me","q""h",x\r\n'
    rows = rng.randint(40, 120)
    for _ in range(rows):
        r = rng.random()
        if r < 0.06:
            out += b"\n"  # an empty row
            continue
        if r < 0.09:
            out += b"\r\n"  # an empty row, CRLF
            continue
        nfields = rng.randint(1, 6)
        for k in range(nfields):
            if k > 0:
                out += b","
            kind = rng.random()
            if kind < 0.15:
                continue  # an empty field
            if kind < 0.5:
                out += bytes(rng.choice(b"abcxyz0129 .;-") for _ in range(rng.randint(1, 12)))
                continue
            out += b'"'
            for _ in range(rng.randint(0, 40)):
                # Inside a quoted field, a newline wherever a partition size probes.
                if at_probe(len(out)) and rng.random() < 0.5:
                    out += rng.choice([b"\n", b"\r\n", b"\n\n"])
                    continue
                c = rng.random()
                if c < 0.08:
                    out += b'""'
                elif c < 0.16:
                    out += b","
                elif c < 0.2:
                    out += b"\r"
                elif c < 0.26:
                    out += b"\n"
                else:
                    out += bytes([rng.choice(b"abcdefghijklmnopqrstuvwxyz ABC'")])
            out += b'"'
        out += b"\r\n" if rng.random() < 0.4 else b"\n"
    if not final_newline:
        while out.endswith(b"\n"):
            out = out[:-2] if out.endswith(b"\r\n") else out[:-1]
        if not out.endswith(b'"'):
            out += b"tail"
    return bytes(out)


def csv_rows(data):
    return list(csv.reader(io.StringIO(data.decode("latin-1"), newline=""), strict=True))


def csv_raw_rows(data, quote=b'"'):
    """The rows as bytes, by the quote parity rule, without their line endings (a sequential
    scanner, independent of tranche's)."""
    rows, start, parity, i = [], 0, 0, 0
    q = quote[0]
    while i < len(data):
        c = data[i]
        if c == q:
            parity ^= 1
        elif c == 10 and parity == 0:
            end = i - 1 if i > start and data[i - 1] == 13 else i
            rows.append(data[start:end])
            start = i + 1
        i += 1
    if parity:
        fail("unterminated quote in the input")
    if start < len(data):
        rows.append(data[start:])
    return rows


def row_starts(data):
    starts, parity = [0], 0
    for i, c in enumerate(data):
        if c == 34:
            parity ^= 1
        elif c == 10 and parity == 0:
            starts.append(i + 1)
    return starts


def csv_check(inp, outp, header, step, stderr_path=None):
    data = open(inp, "rb").read()
    got = open(outp, "rb").read()
    fn = step_fn(step)
    raw = csv_raw_rows(data)
    # upper and cat have no header callback: the header row passes unchanged.
    want = b"".join((r if header and i == 0 else fn(r)) + b"\n" for i, r in enumerate(raw))
    if got != want:
        n = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                 min(len(got), len(want)))
        fail("%s: output differs from the sequential reference at byte %d (%d vs %d bytes)"
             % (outp, n, len(got), len(want)))
    rin, rout = csv_rows(data), csv_rows(got)
    if step == "upper":
        rin = [row if header and i == 0 else
               [upper(f.encode("latin-1")).decode("latin-1") for f in row]
               for i, row in enumerate(rin)]
    if rin != rout:
        fail("%s: csv.reader reads other rows from the output than from the input" % outp)
    if header:
        if not rout or rout[0] != rin[0] or not got.startswith(raw[0] + b"\n"):
            fail("%s: the output does not begin with the header row" % outp)
        if rout[1:].count(rin[0]) != rin[1:].count(rin[0]):
            fail("%s: the header row is repeated" % outp)
    if stderr_path is not None:
        text = open(stderr_path, "rb").read().decode("latin-1")
        m = re.search(r"ok(?:, records skipped)?: ([0-9,]+) records in", text)
        if m is None:
            fail("no summary line in %s: %r" % (stderr_path, text))
        n = int(m.group(1).replace(",", ""))
        expect = len(rin) - (1 if header and rin else 0)
        if n != expect:
            fail("the summary says %d records in, csv.reader reads %d" % (n, expect))


def plan_check(inp, plan):
    data = open(inp, "rb").read()
    starts = set(row_starts(data))
    starts.add(len(data))
    prev_end = 0
    lines = [l.split() for l in open(plan).read().splitlines() if l.strip()]
    if not lines:
        fail("an empty plan")
    for i, parts in enumerate(lines):
        idx, start, end = int(parts[0]), int(parts[1]), int(parts[2])
        if idx != i:
            fail("plan line %d has index %d" % (i, idx))
        for b in (start, end):
            if b not in starts:
                fail("plan boundary %d (partition %d) is not a csv row start" % (b, idx))
        if start != prev_end or end < start:
            fail("partition %d [%d, %d) does not follow the previous one" % (idx, start, end))
        prev_end = end
    if prev_end != len(data):
        fail("the plan ends at %d, the file at %d" % (prev_end, len(data)))


# ---- FASTQ --------------------------------------------------------------------------------------


def gen_fastq(seed, final_newline):
    rng = random.Random(seed)
    out = bytearray()
    for i in range(rng.randint(30, 80)):
        n = rng.choice([0, 1, 2, 5, 17, 60, 150, 700])  # 0: an empty sequence
        name = b"r%d/%d extra" % (i, rng.randint(0, 99))
        seq = bytes(rng.choice(b"ACGTN") for _ in range(n))
        # Quality lines that begin with '@' or '+' (a reader that looks for "@" lines alone
        # would take them for headers).
        qual = bytearray(rng.choice(b"!#+5?@ABCIJ") for _ in range(n))
        if n and rng.random() < 0.4:
            qual[0] = rng.choice(b"@+")
        plus = b"+" + name if rng.random() < 0.5 else b"+"
        out += b"@" + name + b"\n" + seq + b"\n" + plus + b"\n" + bytes(qual) + b"\n"
    if not final_newline:
        out = out[:-1]
    return bytes(out)


def fastq_reads(data):
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) % 4:
        fail("a truncated read")
    reads = []
    for k in range(0, len(lines), 4):
        h, s, p, q = lines[k:k + 4]
        if not h.startswith(b"@") or not p.startswith(b"+") or len(s) != len(q):
            fail("malformed read at line %d" % (k + 1))
        reads.append(lines[k:k + 4])
    return reads


def fastq_ref(inp, step):
    fn = step_fn(step)
    data = open(inp, "rb").read()
    return b"".join(fn(b"\n".join(r)) + b"\n" for r in fastq_reads(data))


# ---- lines --------------------------------------------------------------------------------------


def split_records(data, delim):
    pieces = data.split(delim)
    if pieces and pieces[-1] == b"":
        pieces.pop()
    return pieces


def lines_ref(inp, delim, step):
    """STEP "exec-cat": an exec step running cat, whose output is framed again by the same
    delimiter. That is not an identity where a record ends with a proper prefix of a
    delimiter that overlaps itself: with "\n\n", the record "\n" is written as "\n\n\n" and
    read back as "" and "\n"."""
    data = open(inp, "rb").read()
    if step == "exec-cat":
        written = b"".join(p + delim for p in split_records(data, delim))
        return b"".join(p + delim for p in split_records(written, delim))
    fn = step_fn(step)
    return b"".join(fn(p) + delim for p in split_records(data, delim))


def main(argv):
    cmd = argv[1]
    if cmd == "gen-csv":
        data = gen_csv(int(argv[2]), "header" in argv[4:], "nofinal" not in argv[4:])
        open(argv[3], "wb").write(data)
    elif cmd == "gen-fastq":
        open(argv[3], "wb").write(gen_fastq(int(argv[2]), "nofinal" not in argv[4:]))
    elif cmd == "csv-check":
        csv_check(argv[2], argv[3], argv[4] == "1", argv[5], argv[6] if len(argv) > 6 else None)
    elif cmd == "fastq-ref":
        sys.stdout.buffer.write(fastq_ref(argv[2], argv[3]))
    elif cmd == "lines-ref":
        delim = argv[3].encode("latin-1").decode("unicode_escape").encode("latin-1")
        sys.stdout.buffer.write(lines_ref(argv[2], delim, argv[4]))
    elif cmd == "plan-check":
        plan_check(argv[2], argv[3])
    elif cmd == "row-start":
        print(row_starts(open(argv[2], "rb").read())[int(argv[3])])
    else:
        fail("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
