/*
 * tests/e2e/test_formats.c: record formats (input.format csv, fastq, lines with delimiters of
 * several bytes) through the real CLI, for 1, 2 and 7 workers and partition sizes from 1 byte,
 * plain, gzip and BGZF, each output checked against a reference that does not share tranche's
 * code (formats_ref.py: Python's csv module and a sequential quote-parity reader, a FASTQ reader
 * that groups lines by 4, bytes.split): records, header rows, record counts in the summary,
 * malformed input (the file and the offset of the bad record), the boundaries `tranche plan`
 * prints, and Debian's package indexes (stanzas split at "\n\n") where the machine has them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define REF "python3 '" SOURCE_DIR "/tests/e2e/formats_ref.py'"

static const char *const sizes[] = {"1", "2", "3", "7", "64", "4096"};
static const int workers[] = {1, 2, 7};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))
#define N_WORKERS (sizeof(workers) / sizeof(workers[0]))

/* The step of a job: `exec: [cat]` (an identity) or the bundled `upper`. */
static const char *
step_yaml(const char *step)
{
    return strcmp(step, "cat") == 0 ? "  - exec: [cat]\n" : "  - plugin: upper\n";
}

/* job.yaml: `input` (the lines under input:, each indented by two spaces) through `step` to out. */
static void
write_job(const char *input, const char *step)
{
    tu_write_job("job.yaml", "input:\n%soutput:\n  path: out\nlog_dir: logs\nsteps:\n%s", input,
                 step_yaml(step));
}

/*
 * Runs job.yaml at every worker count and partition size (thinned under the sanitizers); after
 * each run (its stderr in err.txt), the shell command `check` must succeed.
 */
static void
run_matrix(const char *what, const char *check)
{
    for (size_t s = 0; s < N_SIZES; s++) {
        for (size_t w = 0; w < N_WORKERS; w++) {
            char *err = NULL;
            int rc;

            if (!tu_thin()) {
                continue;
            }
            rc = tu_tranche(NULL, "run job.yaml --workers %d --partition-size %s 2> err.txt",
                            workers[w], sizes[s]);
            if (rc != 0) {
                err = tu_read_file(tu_join(tu_dir, "err.txt"), NULL);
                fail_msg("%s: %d workers, partition size %s: exit %d\n%s", what, workers[w],
                         sizes[s], rc, err != NULL ? err : "");
            }
            rc = tu_run_here(&err, "%s", check);
            if (rc != 0) {
                fail_msg("%s: %d workers, partition size %s: %s\n%s", what, workers[w], sizes[s],
                         check, err != NULL ? err : "");
            }
            free(err);
        }
    }
}

/* ---- CSV ------------------------------------------------------------------------------------- */

/* Checks a CSV job over `path` (plain, gzip or BGZF) against the plain file `plain`. */
static void
check_csv(const char *path, const char *plain, int header, const char *step)
{
    char input[256], check[512], what[256];

    snprintf(input, sizeof(input), "  path: %s\n  format: csv\n  header: %s\n", path,
             header ? "true" : "false");
    write_job(input, step);
    snprintf(check, sizeof(check), REF " csv-check %s out %d %s err.txt", plain, header, step);
    snprintf(what, sizeof(what), "csv %s (header %d) through %s", path, header, step);
    run_matrix(what, check);
}

/*
 * Generated CSVs (formats_ref.py gen-csv): random quoting, separators, doubled quotes, CR and
 * LF in quoted fields (newlines at offsets k*S-1 and k*S for the partition sizes S), empty
 * fields and rows, CRLF and LF row ends, with and without a final newline and a header.
 */
static void
test_formats__csv_matches_the_csv_module(void **state)
{
    static const struct {
        int seed;
        int header;
        int final_newline;
        const char *step;
    } cases[] = {
        {1, 0, 1, "upper"}, {2, 1, 0, "cat"},   {3, 1, 1, "upper"},
        {4, 0, 0, "cat"},   {5, 1, 0, "upper"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tu_sh(0, REF " gen-csv %d gen.csv %s %s", cases[i].seed, cases[i].header ? "header" : "-",
              cases[i].final_newline ? "-" : "nofinal");
        check_csv("gen.csv", "gen.csv", cases[i].header, cases[i].step);
    }
}

/* A file that is only a header row (with and without its newline): the output is that row. */
static void
test_formats__csv_header_only(void **state)
{
    (void)state;
    tu_sh(0, "printf 'a,\"b\nc\",d\\r\\n' > h1.csv && printf 'a,\"b,c\"' > h2.csv");
    check_csv("h1.csv", "h1.csv", 1, "upper");
    tu_sh(0, "printf 'a,\"b\nc\",d\\n' | cmp - out");
    check_csv("h2.csv", "h2.csv", 1, "cat");
    tu_sh(0, "printf 'a,\"b,c\"\\n' | cmp - out");
    /* Without header: true, the same row is a record like any other. */
    check_csv("h1.csv", "h1.csv", 0, "upper");
    tu_sh(0, "printf 'A,\"B\nC\",D\\n' | cmp - out");
}

/* Two inputs that begin with different header rows: exit 2, naming both files. */
static void
test_formats__csv_inputs_with_different_headers(void **state)
{
    char *err = NULL;
    int rc;

    (void)state;
    tu_sh(0, "printf 'x,y\\n1,2\\n' > ha.csv && printf 'x,z\\n3,4\\n' > hb.csv");
    write_job("  path: [ha.csv, hb.csv]\n  format: csv\n  header: true\n", "cat");
    tu_sh(0, "rm -f out");
    rc = tu_tranche(&err, "run job.yaml --workers 2");
    if (rc != 2) {
        fail_msg("exit %d, expected 2:\n%s", rc, err != NULL ? err : "");
    }
    tu_assert_contains(err, "ha.csv");
    tu_assert_contains(err, "hb.csv");
    free(err);
    tu_sh(0, "[ ! -e out ]");
    /* The same header in both: one header row, then the records of both, in order. */
    tu_sh(0, "printf 'x,y\\n3,4\\n' > hb.csv");
    tu_sh(0, "%s run job.yaml -w 2 -s 1 && printf 'x,y\\n1,2\\n3,4\\n' | cmp - out", TRANCHE_BIN);
}

/* gzip and BGZF copies of a generated CSV give the plain file's output. */
static void
test_formats__csv_gzip_and_bgzf(void **state)
{
    (void)state;
    tu_sh(0, REF " gen-csv 11 z.csv header && gzip -c z.csv > z.csv.gz && "
                 "bgzip -c z.csv > z.csv.bgz.gz");
    check_csv("z.csv.gz", "z.csv", 1, "upper");
    check_csv("z.csv.bgz.gz", "z.csv", 1, "cat");
    /* Larger than a BGZF block (64 KiB), so that partitions start in different blocks. */
    tu_sh(0, "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do " REF
             " gen-csv $i part.csv; cat part.csv; done > big.csv && "
             "for i in 1 2 3 4 5 6 7 8; do cat big.csv; done "
             "> big2.csv && [ $(wc -c < big2.csv) -gt 140000 ] && bgzip -c big2.csv > big2.gz");
    write_job("  path: big2.gz\n  format: csv\n", "upper");
    for (size_t w = 0; w < N_WORKERS; w++) {
        tu_sh(0,
              "%s run job.yaml -w %d -s 4096 2> err.txt && " REF
              " csv-check big2.csv out 0 upper err.txt",
              TRANCHE_BIN, workers[w]);
    }
}

/* Every boundary `tranche plan` prints is a row start by quote parity, and they tile the file. */
static void
test_formats__plan_boundaries_are_row_starts(void **state)
{
    (void)state;
    for (int seed = 21; seed <= 23; seed++) {
        tu_sh(0, REF " gen-csv %d p.csv %s", seed, seed == 22 ? "header" : "-");
        write_job(seed == 22 ? "  path: p.csv\n  format: csv\n  header: true\n"
                             : "  path: p.csv\n  format: csv\n",
                  "cat");
        for (size_t s = 0; s < N_SIZES; s++) {
            tu_sh(0,
                  "%s plan job.yaml --partition-size %s > plan.txt && " REF
                  " plan-check p.csv plan.txt",
                  TRANCHE_BIN, sizes[s]);
        }
    }
}

/* ---- FASTQ ----------------------------------------------------------------------------------- */

static void
check_fastq(const char *path, const char *plain, const char *step)
{
    char input[256], check[512], what[256];

    tu_sh(0, REF " fastq-ref %s %s > fq.ref", plain, step);
    snprintf(input, sizeof(input), "  path: %s\n  format: fastq\n", path);
    write_job(input, step);
    snprintf(check, sizeof(check), "cmp fq.ref out");
    snprintf(what, sizeof(what), "fastq %s through %s", path, step);
    run_matrix(what, check);
}

/*
 * Generated reads: quality lines that begin with '@' and '+', '+' lines with and without the
 * id, reads longer than partitions, empty sequences, with and without a final newline.
 */
static void
test_formats__fastq_matches_a_sequential_reader(void **state)
{
    (void)state;
    tu_sh(0, REF " gen-fastq 1 a.fq && " REF " gen-fastq 2 b.fq nofinal && "
                 "gzip -c a.fq > a.fq.gz && bgzip -c b.fq > b.fq.gz");
    check_fastq("a.fq", "a.fq", "cat");
    check_fastq("b.fq", "b.fq", "upper");
    check_fastq("a.fq.gz", "a.fq", "upper");
    check_fastq("b.fq.gz", "b.fq", "cat");
    /* Output equals input (with a final newline where it had none). */
    check_fastq("b.fq", "b.fq", "cat");
    tu_sh(0, "{ cat b.fq; echo; } | cmp - out");
}

/* ---- lines with multi-byte delimiters ----------------------------------------------------------
 */

/*
 * Writes path: `size` bytes drawn from the delimiter's own bytes and a few others (mostly the
 * delimiter's when `dense`), with the delimiter at the very start and end and straddling the
 * offsets S-1/S of the partition sizes 7, 64 and 4096.
 */
static void
write_delimited(const char *path, const unsigned char *d, size_t dlen, size_t size, int dense,
                uint64_t seed)
{
    static const size_t probes[] = {7, 14, 64, 128, 4096};
    unsigned char *buf = malloc(size);
    size_t i;

    assert_non_null(buf);
    for (i = 0; i < size; i++) {
        uint64_t r = tu_rand(&seed);

        buf[i] = (r % 10 < (dense ? 9u : 5u)) ? d[(r >> 8) % dlen] : "xb\n\r"[(r >> 16) % 4];
    }
    for (size_t p = 0; p < sizeof(probes) / sizeof(probes[0]); p++) {
        if (probes[p] + dlen < size) {
            memcpy(buf + probes[p] - 1, d, dlen);
        }
    }
    memcpy(buf, d, dlen);
    memcpy(buf + size - dlen, d, dlen);
    tu_write_file(path, buf, size);
    free(buf);
}

static void
test_formats__lines_with_multibyte_delimiters(void **state)
{
    static const struct {
        const char *yaml; /* as written in the job (single-quoted YAML: tranche's escapes) */
        const char *py;   /* as formats_ref.py takes it (Python escapes) */
        const char *bytes;
        size_t len;
    } delims[] = {
        {"aba", "aba", "aba", 3},
        {"\\n\\n", "\\n\\n", "\n\n", 2},
        {"\\r\\n", "\\r\\n", "\r\n", 2},
        {"aa", "aa", "aa", 2},
        {"\\0\\0", "\\x00\\x00", "\0\0", 2},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(delims) / sizeof(delims[0]); i++) {
        for (int dense = 0; dense <= 1; dense++) {
            char input[256], check[256], what[256];
            /* (exec cat over the dense input, short: a process per partition, and with
             * 1-byte partitions a partition per record) */
            const char *step = dense ? "cat" : "upper";

            write_delimited(tu_join(tu_dir, "d.txt"), (const unsigned char *)delims[i].bytes,
                            delims[i].len, dense ? 300 : 5000, dense, 17 + i);
            tu_sh(0, REF " lines-ref d.txt '%s' %s > d.ref", delims[i].py,
                  dense ? "exec-cat" : "upper");
            snprintf(input, sizeof(input), "  path: d.txt\n  delimiter: '%s'\n", delims[i].yaml);
            write_job(input, step);
            snprintf(check, sizeof(check), "cmp d.ref out");
            snprintf(what, sizeof(what), "delimiter '%s' (%s)", delims[i].yaml,
                     dense ? "mostly delimiter bytes" : "mixed");
            run_matrix(what, check);
        }
    }
    /* Overlapping matches: "ababa" is the record "" and then "ba"; "aaa" with "aa" is "" and "a".
     */
    tu_sh(0, "printf 'ababa' > o.txt");
    write_job("  path: o.txt\n  delimiter: 'aba'\n", "upper");
    run_matrix("ababa", "printf 'abaBAaba' | cmp - out");
    tu_sh(0, "printf 'aaa' > o.txt");
    write_job("  path: o.txt\n  delimiter: 'aa'\n", "upper");
    run_matrix("aaa", "printf 'aaAaa' | cmp - out");
    /* Through exec cat, the record "a" is written "aaa" and read back as "" and "a". */
    write_job("  path: o.txt\n  delimiter: 'aa'\n", "cat");
    run_matrix("aaa through cat", "printf 'aaaaaaa' | cmp - out");
}

/* Debian's package indexes, stanzas separated by a blank line, against a Python split. */
static void
test_formats__debian_package_index(void **state)
{
    static const char *const big_sizes[] = {"4096", "65536", "1MiB"};

    (void)state;
    if (tu_run_here(NULL, "ls /var/lib/apt/lists/*Packages* >/dev/null 2>&1") != 0) {
        fprintf(stderr, "skipped: no /var/lib/apt/lists/*Packages* on this machine\n");
        skip();
    }
    /* The largest index (decompressed as stored: lz4, xz, gzip, zstd or plain), its first 4 MiB. */
    if (tu_run_here(NULL,
                    "f=$(ls -S /var/lib/apt/lists/*Packages* | head -n 1); case $f in "
                    "*.lz4) lz4 -dc \"$f\";; *.xz) xz -dc \"$f\";; *.gz) gzip -dc \"$f\";; "
                    "*.zst) zstd -dc \"$f\";; *) cat \"$f\";; esac 2>/dev/null | head -c 4194304 "
                    "> pkgs.txt && [ -s pkgs.txt ] && grep -q '^Package: ' pkgs.txt") != 0) {
        fprintf(stderr, "skipped: cannot decompress the package index (lz4/xz/zstd missing?)\n");
        skip();
    }
    tu_sh(0, REF " lines-ref pkgs.txt '\\n\\n' upper > pkgs.ref && gzip -c pkgs.txt > pkgs.gz");
    for (int gz = 0; gz <= 1; gz++) {
        write_job(gz ? "  path: pkgs.gz\n  delimiter: '\\n\\n'\n"
                     : "  path: pkgs.txt\n  delimiter: '\\n\\n'\n",
                  "upper");
        for (size_t s = 0; s < sizeof(big_sizes) / sizeof(big_sizes[0]); s++) {
            for (size_t w = 0; w < N_WORKERS; w++) {
                if (!tu_thin()) {
                    continue;
                }
                tu_sh(0, "%s run job.yaml -w %d -s %s 2>/dev/null && cmp pkgs.ref out", TRANCHE_BIN,
                      workers[w], big_sizes[s]);
            }
        }
    }
}

/* ---- malformed input --------------------------------------------------------------------------
 */

/*
 * job.yaml over `path` (format `format`, and `extra` top-level keys) fails with exit 1 at every
 * worker count and a few partition sizes, and stderr names the file and "byte offset OFFSET".
 */
static void
expect_malformed(const char *path, const char *format, const char *extra, long offset)
{
    static const char *const bad_sizes[] = {"1", "7", "4096"};
    char needle[64];

    tu_write_job("job.yaml",
                 "input:\n  path: %s\n  format: %s\noutput:\n  path: out\nlog_dir: logs\n%s"
                 "steps:\n  - plugin: upper\n",
                 path, format, extra);
    snprintf(needle, sizeof(needle), "byte offset %ld:", offset);
    for (size_t s = 0; s < sizeof(bad_sizes) / sizeof(bad_sizes[0]); s++) {
        for (size_t w = 0; w < N_WORKERS; w++) {
            char *err = NULL;
            int rc;

            tu_sh(0, "rm -rf out out.tranche-work");
            rc = tu_tranche(&err, "run job.yaml -w %d -s %s", workers[w], bad_sizes[s]);

            if (rc != 1) {
                fail_msg("%s (%s): exit %d, expected 1:\n%s", path, extra, rc,
                         err != NULL ? err : "");
            }
            tu_assert_contains(err, path);
            tu_assert_contains(err, needle);
            free(err);
            tu_sh(0, "[ ! -e out ]");
        }
    }
}

/*
 * Under `on_error: skip` the malformed bytes are left out (exit 3) and listed in rejects.tsv at
 * their offset; the records around them come out: `want` (the upper step's output) exactly.
 */
static void
expect_skipped(const char *path, const char *format, long offset, const char *want)
{
    static const char *const bad_sizes[] = {"1", "7", "4096"};

    tu_write_job("job.yaml",
                 "input:\n  path: %s\n  format: %s\noutput:\n  path: out\nlog_dir: logs\n"
                 "on_error: skip\nsteps:\n  - plugin: upper\n",
                 path, format);
    tu_write_file(tu_join(tu_dir, "want"), want, strlen(want));
    for (size_t s = 0; s < sizeof(bad_sizes) / sizeof(bad_sizes[0]); s++) {
        for (size_t w = 0; w < N_WORKERS; w++) {
            char *err = NULL;
            int rc;

            tu_sh(0, "rm -rf out out.tranche-work logs");
            rc = tu_tranche(&err, "run job.yaml -w %d -s %s", workers[w], bad_sizes[s]);
            if (rc != 3) {
                fail_msg("%s (on_error: skip): exit %d, expected 3:\n%s", path, rc,
                         err != NULL ? err : "");
            }
            free(err);
            tu_sh(0, "cmp want out && grep -q \"^%s\t%ld\t.*malformed %s record\" logs/rejects.tsv",
                  path, offset, format);
        }
    }
}

static long
file_size(const char *name)
{
    size_t len;
    char *data = tu_read_file(tu_join(tu_dir, name), &len);

    assert_non_null(data);
    free(data);
    return (long)len;
}

/*
 * Malformed records fail the job (exit 1), naming the file and the offset where the bad
 * record starts; under `on_error: skip` they are left out and listed (exit 3), and the records
 * around them come out.
 */
static void
test_formats__malformed_input_names_file_and_offset(void **state)
{
    static const char good_fq[] = "@r1\nACGT\n+r1\nIIII\n@r2\n\n+\n\n@r3\nA\n+\n@\n";
    static const char good_upper[] = "@R1\nACGT\n+R1\nIIII\n@R2\n\n+\n\n@R3\nA\n+\n@\n";
    long csv_start;
    char *text;

    (void)state;
    /* An unterminated quote in the last row: the offset is that row's start (the last row start
     * by quote parity, as formats_ref.py finds it). */
    tu_sh(0, REF " gen-csv 31 uq.csv && printf 'p,q\\nr,\"never closed\\n,s\\n' >> uq.csv");
    assert_int_equal(tu_run_here(NULL, REF " row-start uq.csv -1 > start.txt"), 0);
    text = tu_read_file(tu_join(tu_dir, "start.txt"), NULL);
    assert_non_null(text);
    csv_start = strtol(text, NULL, 10);
    free(text);
    tu_sh(0, "[ \"$(tail -c +%ld uq.csv | head -c 3)\" = 'r,\"' ]", csv_start + 1);

    tu_write_file(tu_join(tu_dir, "len.fq"), good_fq, strlen(good_fq));
    tu_sh(0, "printf '@r4\\nACG\\n+\\nII\\n@r5\\nA\\n+\\nI\\n' >> len.fq");
    tu_write_file(tu_join(tu_dir, "plus.fq"), good_fq, strlen(good_fq));
    tu_sh(0, "printf '@r4\\nACG\\n-\\nIII\\n' >> plus.fq");
    tu_write_file(tu_join(tu_dir, "trunc.fq"), good_fq, strlen(good_fq));
    tu_sh(0, "printf '@r4\\nACG\\n+\\n' >> trunc.fq");
    tu_write_file(tu_join(tu_dir, "at.fq"), good_fq, strlen(good_fq));
    tu_sh(0, "printf 'r4\\nACG\\n+\\nIII\\n' >> at.fq");

    expect_malformed("uq.csv", "csv", "", csv_start);
    expect_malformed("len.fq", "fastq", "", (long)strlen(good_fq));
    expect_malformed("plus.fq", "fastq", "", (long)strlen(good_fq));
    expect_malformed("trunc.fq", "fastq", "", (long)strlen(good_fq));
    expect_malformed("at.fq", "fastq", "", (long)strlen(good_fq));
    /* on_error: skip: r4 is left out; r5, a read again, comes out */
    expect_skipped("len.fq", "fastq", (long)strlen(good_fq),
                   "@R1\nACGT\n+R1\nIIII\n@R2\n\n+\n\n@R3\nA\n+\n@\n@R5\nA\n+\nI\n");
    expect_skipped("plus.fq", "fastq", (long)strlen(good_fq), good_upper);
    expect_skipped("trunc.fq", "fastq", (long)strlen(good_fq), good_upper);
    tu_sh(0, "printf 'a,b\\nc,\"d\\ne\\n' > open.csv"); /* the quote opened at 6 stays open */
    expect_skipped("open.csv", "csv", 4, "A,B\n");
    /* The same bad read last in a gzip file: the offset is in the decompressed bytes. */
    tu_sh(0, "gzip -c trunc.fq > trunc.fq.gz");
    expect_malformed("trunc.fq.gz", "fastq", "", (long)strlen(good_fq));
    assert_int_equal(file_size("trunc.fq"), (long)strlen(good_fq) + 10);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats__csv_matches_the_csv_module),
        cmocka_unit_test(test_formats__csv_header_only),
        cmocka_unit_test(test_formats__csv_inputs_with_different_headers),
        cmocka_unit_test(test_formats__csv_gzip_and_bgzf),
        cmocka_unit_test(test_formats__plan_boundaries_are_row_starts),
        cmocka_unit_test(test_formats__fastq_matches_a_sequential_reader),
        cmocka_unit_test(test_formats__lines_with_multibyte_delimiters),
        cmocka_unit_test(test_formats__debian_package_index),
        cmocka_unit_test(test_formats__malformed_input_names_file_and_offset),
    };

    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
