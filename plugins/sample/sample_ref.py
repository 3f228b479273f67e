#!/usr/bin/env python3
"""plugins/sample/sample_ref.py: the sample plugin's `fraction` decision in Python, from its
README, to reproduce a sample elsewhere: sample_ref.py FRACTION [SEED] < input > kept.
Records are lines without their newline; the same records as `sample` keeps, in order."""
import sys

M = (1 << 64) - 1


def record_hash(b, seed):
    h = (seed ^ (len(b) * 0x9E3779B97F4A7C15)) & M
    for i in range(0, len(b), 8):
        h = ((h ^ int.from_bytes(b[i:i + 8].ljust(8, b'\0'), 'little')) * 0xBF58476D1CE4E5B9) & M
        h ^= h >> 31
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & M
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & M
    return h ^ (h >> 31)


def main():
    fraction = float(sys.argv[1])
    seed = (int(sys.argv[2]) if len(sys.argv) > 2 else 0) & M
    threshold = int(fraction * 2**64)
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        record = line[:-1] if line.endswith(b'\n') else line
        if fraction >= 1 or record_hash(record, seed) < threshold:
            out.write(record + b'\n')


main()
