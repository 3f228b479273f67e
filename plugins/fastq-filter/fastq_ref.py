#!/usr/bin/env python3
"""plugins/fastq-filter/fastq_ref.py: fastq-filter and fastq-trim in Python, from their READMEs,
as the tests' reference and to check a result elsewhere. Each argument is one step, in order:

    filter:MIN_QUALITY[:MIN_LENGTH[:MAX_LENGTH[:PHRED_OFFSET]]]   (MAX_LENGTH 0: no maximum)
    trim:LENGTH[:MIN_LENGTH]

fastq_ref.py filter:30:50 trim:100 < reads.fastq > kept.fastq
Reads the 4 lines of each read from stdin (a final newline is optional) and writes each read
that every step keeps, its lines joined by newlines, and a newline after it."""
import sys
from fractions import Fraction


def reads(data):
    lines = data.split(b'\n')
    if lines and lines[-1] == b'':
        lines.pop()
    if len(lines) % 4 != 0:
        sys.exit('fastq_ref.py: the input is not whole reads of 4 lines')
    for i in range(0, len(lines), 4):
        yield lines[i:i + 4]


def keep_filter(read, min_q, min_len, max_len, offset):
    seq, qual = read[1], read[3]
    if len(seq) < min_len or (max_len > 0 and len(seq) > max_len):
        return None
    # mean >= min_q, exactly: sum >= min_q * len (an empty read passes)
    if sum(b - offset for b in qual) < min_q * len(qual):
        return None
    return read


def keep_trim(read, length, min_len):
    keep = min(len(read[1]), length)
    if keep < min_len:
        return None
    return [read[0], read[1][:keep], read[2], read[3][:keep]]


def step(arg):
    name, *v = arg.split(':')
    if name == 'filter':
        min_q = Fraction(v[0])
        min_len = int(v[1]) if len(v) > 1 else 0
        max_len = int(v[2]) if len(v) > 2 else 0
        offset = int(v[3]) if len(v) > 3 else 33
        return lambda r: keep_filter(r, min_q, min_len, max_len, offset)
    if name == 'trim':
        length, min_len = int(v[0]), int(v[1]) if len(v) > 1 else 0
        return lambda r: keep_trim(r, length, min_len)
    sys.exit('fastq_ref.py: unknown step ' + arg)


def main():
    steps = [step(a) for a in sys.argv[1:]]
    out = sys.stdout.buffer
    for read in reads(sys.stdin.buffer.read()):
        for s in steps:
            read = s(read)
            if read is None:
                break
        else:
            out.write(b'\n'.join(read) + b'\n')


main()
