#!/usr/bin/env python3
"""tests/e2e/verify_record_info.py OUT INPUT...: checks the output of the chain tagger(frame) ->
tagger against the inputs' real records (gzip ones decompressed): every record once, in order,
with its input's path and index, its offset and length; partitions in order, each record inside
its partition, each partition framed by BEGIN and END, the partitions of an input covering it
without gap. Exits 1 with the first difference."""
import gzip
import sys

FIELDS = 7


def split_tags(line):
    parts = line.split(b"\t", FIELDS)
    if len(parts) != FIELDS + 1:
        raise SystemExit("too few fields: %r" % line[:200])
    f = parts[:FIELDS]
    return (f[0].decode(), int(f[1]), int(f[2]), int(f[3]), int(f[4]), int(f[5]), int(f[6])), parts[FIELDS]


def main():
    out, inputs = sys.argv[1], sys.argv[2:]
    expected = []
    sizes = []
    for i, path in enumerate(inputs):
        data = open(path, "rb").read()
        if path.endswith(".gz"):
            data = gzip.decompress(data)
        sizes.append(len(data))
        records = data.split(b"\n")
        if data.endswith(b"\n") or not data:
            records.pop()
        off = 0
        for r in records:
            expected.append((path, i, off, len(r), r))
            off += len(r) + 1
    lines = open(out, "rb").read().split(b"\n")
    if lines[-1] != b"":
        raise SystemExit("the output does not end with a newline")
    lines.pop()
    got = []
    parts = {}  # partition -> (path, index, offset, length)
    state = None  # the partition open between BEGIN and END
    last_part = -1
    for n, line in enumerate(lines):
        outer, rest = split_tags(line)
        inner, data = split_tags(rest)
        path, idx, off, length, part, poff, plen = inner
        if inner[:5] != outer[:5] or inner[5:] != outer[5:]:
            raise SystemExit("line %d: step 2 saw %r, step 1 %r" % (n + 1, outer, inner))
        if data in (b"BEGIN", b"END") and (off, length) == (poff, plen):
            if data == b"BEGIN":
                if state is not None or part <= last_part:
                    raise SystemExit("line %d: BEGIN of partition %d out of order" % (n + 1, part))
                state = part
                parts[part] = (path, idx, poff, plen)
            else:
                if state != part:
                    raise SystemExit("line %d: END of partition %d not after its BEGIN" % (n + 1, part))
                last_part, state = part, None
            continue
        if state != part:
            raise SystemExit("line %d: record of partition %d outside BEGIN/END" % (n + 1, part))
        if not poff <= off < poff + plen:
            raise SystemExit("line %d: offset %d not in partition [%d, %d)" % (n + 1, off, poff, poff + plen))
        got.append((path, idx, off, length, data))
    for k, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            raise SystemExit("record %d: got %r, expected %r" % (k, g[:4] + (g[4][:40],), e[:4] + (e[4][:40],)))
    if len(got) != len(expected):
        raise SystemExit("%d records, expected %d" % (len(got), len(expected)))
    ends = {}
    for part in sorted(parts):
        path, idx, poff, plen = parts[part]
        if ends.get(idx, 0) != poff:
            raise SystemExit("partition %d of %s starts at %d, not %d" % (part, path, poff, ends.get(idx, 0)))
        ends[idx] = poff + plen
    for idx, size in enumerate(sizes):
        if size and ends.get(idx) != size:
            raise SystemExit("the partitions of input %d end at %s, not %d" % (idx, ends.get(idx), size))
    print("ok: %d records, %d partitions" % (len(got), len(parts)))


main()
