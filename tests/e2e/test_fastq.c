/*
 * tests/e2e/test_fastq.c: FASTQ through the real CLI (input.format: fastq) with the bundled
 * fastq-filter and fastq-trim plugins, compared byte for byte with their Python reference
 * (plugins/fastq-filter/fastq_ref.py, exact with fractions.Fraction) and with awk, for 1, 2 and 7
 * workers and partition sizes from 1 byte up, on plain, gzip and BGZF inputs whose quality lines
 * often begin with '@' or '+'; malformed reads as the user reads them (the file and the byte
 * offset of the bad read); and the plugins' refusals (a job not read as FASTQ, bad options).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

/* Reads that tranche-gen does not make: a quality line that reads as a header ('@' and an id)
 * or as a '+' line, a one-base read, '+' lines with text, an id with tabs. */
static const char extra_reads[] = "@edge:1 quality like a header\n"
                                  "ACGTACGTAC\n"
                                  "+\n"
                                  "@edge:2:AC\n"
                                  "@edge:2\n"
                                  "GGGGCCCCAA\n"
                                  "+edge:2\n"
                                  "+IIIIIIIII\n"
                                  "@edge:3\tone base\n"
                                  "N\n"
                                  "+\n"
                                  "#\n"
                                  "@edge:4\n"
                                  "ACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTAC\n"
                                  "++\n"
                                  "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n";

/* One job's steps and the reference (run in tu_dir, the plain FASTQ on stdin). */
struct fastq_case {
    const char *name;
    const char *input; /* the plain file; INPUT.gz (gzip) and INPUT.bgz (BGZF) hold the same */
    const char *steps;
    const char *reference;
};

static const char *
write_fastq_job(const char *file, const char *input, const char *output, const char *steps)
{
    return tu_write_job(file,
                        "input:\n  path: %s\n  format: fastq\noutput:\n  path: %s\n"
                        "log_dir: logs\nsteps:\n%s",
                        input, output, steps);
}

/* Runs one case on the three forms of its input, at every worker count and partition size. */
static void
check_case(const struct fastq_case *c)
{
    static const size_t sizes[] = {1, 97, 4096, 65536, 1 << 20};
    static const int workers[] = {1, 2, 7};
    static const char *const forms[] = {"", ".gz", ".bgz"};
    char input[256];

    tu_sh(0, "export LC_ALL=C; ( %s ) < '%s' > ref", c->reference, c->input);
    for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
        const char *job;

        snprintf(input, sizeof(input), "%s%s", c->input, forms[f]);
        job = write_fastq_job("job.yaml", input, "out", c->steps);
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            for (size_t w = 0; w < sizeof(workers) / sizeof(workers[0]); w++) {
                if (!tu_thin()) {
                    continue;
                }
                tu_sh(0, "rm -f out && %s run %s --workers %d --partition-size %zu", TRANCHE_BIN,
                      job, workers[w], sizes[s]);
                if (!tu_files_equal(tu_join(tu_dir, "out"), tu_join(tu_dir, "ref"))) {
                    fail_msg("%s: %s, %d workers, partition size %zu differs from `%s`", c->name,
                             input, workers[w], sizes[s], c->reference);
                }
            }
        }
    }
}

/* Writes the FASTQ file `from` again with its qualities moved from Phred+33 to Phred+64. */
static void
write_phred64(const char *from, const char *to)
{
    size_t len, line = 0;
    char *text = tu_read_file(tu_join(tu_dir, from), &len);

    assert_non_null(text);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') {
            line++;
        } else if (line % 4 == 3) {
            text[i] = (char)(text[i] + 31);
        }
    }
    tu_write_file(tu_join(tu_dir, to), text, len);
    free(text);
}

static int
setup(void **state)
{
    tu_group_setup(state);
    tu_sh(0, "cp '%s/plugins/fastq-filter/fastq_ref.py' ref.py", SOURCE_DIR);
    /* Phred+33 reads, then the edge reads */
    tu_sh(0, "%s --kind fastq --size 60K --seed 3 --output reads.fq", TRANCHE_GEN);
    /* (the generated reads only: the edge reads' quality bytes go past '~' when moved by 31) */
    write_phred64("reads.fq", "reads64.fq");
    {
        FILE *f = fopen(tu_join(tu_dir, "reads.fq"), "a");

        assert_non_null(f);
        assert_int_equal(fputs(extra_reads, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
    }
    for (int i = 0; i < 2; i++) {
        const char *name = i == 0 ? "reads.fq" : "reads64.fq";

        tu_sh(0, "gzip -c %s > %s.gz && bgzip -c %s > %s.bgz", name, name, name, name);
    }
    return 0;
}

/* The premise of the cases below: quality lines that begin with '@' and '+', lengths that vary,
 * reads whose mean is exactly 30 and 20.5. */
static void
test_fastq__input_has_the_hard_cases(void **state)
{
    (void)state;
    tu_sh(0, "[ $(awk 'NR %% 4 == 0 && /^@/' reads.fq | wc -l) -ge 10 ] && "
             "[ $(awk 'NR %% 4 == 0 && /^\\+/' reads.fq | wc -l) -ge 10 ] && "
             "[ $(awk 'NR %% 4 == 2 { print length($0) }' reads.fq | sort -u | wc -l) -ge 50 ] && "
             "[ $(awk 'NR %% 4 == 0 && /^\\?+$/' reads.fq | wc -l) -ge 3 ] && "
             "[ $(awk 'NR %% 4 == 0 && /^(56)+$/' reads.fq | wc -l) -ge 3 ] && "
             "python3 ref.py < reads64.fq > /dev/null && "
             "[ \"$(od -An -c -j 12 -N 2 reads.fq.bgz | tr -d ' ')\" = BC ] && "
             "[ \"$(od -An -c -j 12 -N 2 reads.fq.gz | tr -d ' ')\" != BC ]");
}

static void
test_fastq__filter_matches_python(void **state)
{
    static const struct fastq_case cases[] = {
        {"min_quality 30, min_length 50", "reads.fq",
         "  - plugin: fastq-filter\n    options: {min_quality: 30, min_length: 50}\n",
         "python3 ref.py filter:30:50"},
        {"min_quality 20.5 (exact ties), max_length 150", "reads.fq",
         "  - plugin: fastq-filter\n    options: {min_quality: 20.5, max_length: 150}\n",
         "python3 ref.py filter:20.5:0:150"},
        {"phred_offset 64", "reads64.fq",
         "  - plugin: fastq-filter\n    options: {min_quality: 25.25, phred_offset: 64}\n",
         "python3 ref.py filter:25.25:0:0:64"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_case(&cases[i]);
    }
    /* the ties decide: 20.5 keeps reads that 20.500000001 drops */
    tu_sh(0, "python3 ref.py filter:20.5 < reads.fq > a && python3 ref.py filter:20.500000001 "
             "< reads.fq > b && ! cmp -s a b");
}

static void
test_fastq__trim_matches_python_and_awk(void **state)
{
    static const struct fastq_case cases[] = {
        {"length 100", "reads.fq", "  - plugin: fastq-trim\n    options: {length: 100}\n",
         "awk 'NR % 2 == 0 { $0 = substr($0, 1, 100) } 1'"},
        {"length 75, min_length 30", "reads.fq",
         "  - plugin: fastq-trim\n    options: {length: 75, min_length: 30}\n",
         "python3 ref.py trim:75:30"},
        {"filter then trim (configs/reads-filter.yaml)", "reads.fq",
         "  - plugin: fastq-filter\n    options: {min_quality: 30, min_length: 50}\n"
         "  - plugin: fastq-trim\n    options: {length: 100}\n",
         "python3 ref.py filter:30:50 trim:100"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_case(&cases[i]);
    }
}

/*
 * Writes BAD after `good` reads of reads.fq (and the rest of reads.fq after it unless `last`),
 * as NAME, NAME.gz (gzip) and NAME.bgz (BGZF), and checks that a job over each fails with status
 * 1 and the core's message: the file, the byte offset where BAD begins (in decompressed bytes),
 * and `why`.
 */
static void
expect_malformed(const char *name, const char *bad, int good, int last, const char *why)
{
    static const size_t sizes[] = {1, 1 << 20};
    static const char *const forms[] = {"", ".gz", ".bgz"};
    char needle[512];
    size_t len;
    char *text;

    tu_sh(0, "head -n %d reads.fq > %s && printf '%%s' '%s' >> %s", 4 * good, name, bad, name);
    if (!last) {
        tu_sh(0, "tail -n +%d reads.fq >> %s", 4 * good + 1, name);
    }
    tu_sh(0, "head -n %d reads.fq > prefix && gzip -c %s > %s.gz && bgzip -c %s > %s.bgz", 4 * good,
          name, name, name, name);
    text = tu_read_file(tu_join(tu_dir, "prefix"), &len);
    assert_non_null(text);
    free(text);
    for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
        char input[128];

        snprintf(input, sizeof(input), "%s%s", name, forms[f]);
        snprintf(needle, sizeof(needle), "%s: malformed fastq record at byte offset %zu: %s", input,
                 len, why);
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            for (int w = 1; w <= 2; w++) {
                char *err = NULL;
                const char *job =
                    write_fastq_job("bad.yaml", input, "bad.out",
                                    "  - plugin: fastq-filter\n    options: {min_quality: 1}\n");
                int rc =
                    tu_tranche(&err, "run %s --workers %d --partition-size %zu", job, w, sizes[s]);

                if (rc != 1) {
                    fail_msg("%s: exit %d, expected 1; stderr: %s", input, rc,
                             err != NULL ? err : "");
                }
                tu_assert_contains(err, needle);
                free(err);
                tu_sh(0, "[ ! -e bad.out ]");
            }
        }
    }
}

static void
test_fastq__malformed_reads_name_the_file_and_offset(void **state)
{
    (void)state;
    expect_malformed("mismatch.fq", "@bad:1 sequence longer than quality\nACGTACGTAC\n+\nIIIII\n",
                     37, 0, "a FASTQ read's sequence and quality lengths differ");
    expect_malformed("noplus.fq", "@bad:2 third line\nACGTACGTAC\n-\nIIIIIIIIII\n", 101, 0,
                     "a FASTQ read's third line does not begin with '+'");
    expect_malformed("truncated.fq", "@bad:3 cut short\nACGTACGTAC\n", 150, 1,
                     "the input ends inside a FASTQ read (fewer than 4 lines)");
}

/* Phred+33 reads filtered as Phred+64: the first read's qualities fall below '@', and the plugin
 * names the read, the byte and its position. */
static void
test_fastq__filter_refuses_quality_bytes_outside_the_offset(void **state)
{
    char *err = NULL;
    const char *job =
        write_fastq_job("q.yaml", "reads.fq", "q.out",
                        "  - plugin: fastq-filter\n    options: {phred_offset: 64}\n");
    char needle[256];
    size_t len;
    char *text = tu_read_file(tu_join(tu_dir, "reads.fq"), &len);
    const char *q;
    size_t pos = 1;

    (void)state;
    assert_non_null(text);
    /* the first quality byte below '@' in the first read: its 4th line */
    q = strchr(strchr(strchr(text, '\n') + 1, '\n') + 1, '\n') + 1;
    while ((unsigned char)q[pos - 1] >= '@') {
        pos++;
    }
    snprintf(needle, sizeof(needle),
             "read '%.*s': quality byte 0x%02x at position %zu is outside '@' to '~' "
             "(phred_offset 64)",
             (int)strcspn(text + 1, " "), text + 1, (unsigned char)q[pos - 1], pos);
    free(text);
    assert_int_equal(tu_tranche(&err, "run %s --workers 1 --partition-size 1MiB", job), 1);
    tu_assert_contains(err, needle);
    free(err);
    tu_sh(0, "[ ! -e q.out ]");
}

/* Runs `tranche validate` on a FASTQ-plugin job (`format` the input section's extra lines) and
 * expects status 2 with `needle` in the message. */
static void
expect_refused(const char *format, const char *steps, const char *needle)
{
    char *err = NULL;
    const char *job = tu_write_job("refused.yaml",
                                   "input:\n  path: reads.fq\n%soutput:\n  path: refused.out\n"
                                   "log_dir: logs\nsteps:\n%s",
                                   format, steps);
    int rc = tu_tranche(&err, "validate %s", job);

    if (rc != 2) {
        fail_msg("exit %d, expected 2, for steps\n%s\nstderr: %s", rc, steps,
                 err != NULL ? err : "");
    }
    tu_assert_contains(err, needle);
    free(err);
}

static void
test_fastq__plugins_refuse_other_formats(void **state)
{
    (void)state;
    expect_refused("", "  - plugin: fastq-filter\n",
                   "step 1 (fastq-filter): fastq-filter reads FASTQ records (one read of 4 lines "
                   "each), but the input is read as lines: set `input.format: fastq` in the job");
    expect_refused("", "  - plugin: upper\n  - plugin: fastq-trim\n    options: {length: 5}\n",
                   "step 2 (fastq-trim): fastq-trim reads FASTQ records");
    expect_refused("  format: csv\n", "  - plugin: fastq-trim\n    options: {length: 5}\n",
                   "but the input is read as CSV rows: set `input.format: fastq`");
}

static void
test_fastq__bad_options_point_at_the_value(void **state)
{
    static const struct {
        const char *steps;
        const char *needle;
    } bad[] = {
        {"  - plugin: fastq-filter\n    options:\n      min_quality: 20,5\n",
         "refused.yaml:10:20: step 1 (fastq-filter): option 'min_quality': min_quality must be "
         "a number of 0 or more, with at most 9 decimals (20, 20.5), got '20,5'"},
        {"  - plugin: fastq-filter\n    options: {min_quality: -1}\n", "got '-1'"},
        {"  - plugin: fastq-filter\n    options: {min_quality: 1e3}\n", "got '1e3'"},
        {"  - plugin: fastq-filter\n    options: {min_quality: 0.0000000001}\n",
         "got '0.0000000001'"},
        {"  - plugin: fastq-filter\n    options: {min_length: 100, max_length: 50}\n",
         "option 'max_length': max_length 50 is below min_length 100: no read could pass"},
        {"  - plugin: fastq-filter\n    options: {phred_offset: 0}\n",
         "option 'phred_offset': phred_offset must be from 33 to 126"},
        {"  - plugin: fastq-trim\n    options: {length: 0}\n",
         "option 'length': length must be 1 or more, got 0"},
        {"  - plugin: fastq-trim\n", "plugin fastq-trim needs option 'length'"},
        {"  - plugin: fastq-trim\n    options: {length: 50, min_length: 51}\n",
         "option 'min_length': min_length 51 is above length 50: every read would be dropped"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_refused("  format: fastq\n", bad[i].steps, bad[i].needle);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fastq__input_has_the_hard_cases),
        cmocka_unit_test(test_fastq__filter_matches_python),
        cmocka_unit_test(test_fastq__trim_matches_python_and_awk),
        cmocka_unit_test(test_fastq__malformed_reads_name_the_file_and_offset),
        cmocka_unit_test(test_fastq__filter_refuses_quality_bytes_outside_the_offset),
        cmocka_unit_test(test_fastq__plugins_refuse_other_formats),
        cmocka_unit_test(test_fastq__bad_options_point_at_the_value),
    };

    return cmocka_run_group_tests(tests, setup, tu_group_teardown);
}
