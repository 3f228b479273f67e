/*
 * tests/e2e/test_filter.c: `tranche filter` (issue P9): the job's steps from standard input to
 * standard output in one process, for Hadoop Streaming and Spark's RDD.pipe. Its output equals
 * `tranche run`'s over the same file (lines, a delimiter of several bytes, csv, fastq, an exec
 * step), from a pipe and from a redirected file; a failing step, malformed input, every refused
 * feature, on_error: skip, and a reader of standard output that leaves early.
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

#define T TRANCHE_BIN
#define FAILER TEST_PLUGIN_DIR "/failer.so"

static int
group_setup(void **state)
{
    int rc = tu_group_setup(state);

    if (rc == 0) {
        tu_write_edge_input(tu_join(tu_dir, "edge.txt"), 400000, 1, 1);
        tu_sh(0, TRANCHE_GEN " --kind contacts --size 300K --output c.csv && " TRANCHE_GEN
                             " --kind fastq --size 300K --output r.fq && "
                             "printf 'a::b::::c:d::%%s::last' \"$(seq 1 3000 | tr '\\n' :)\" > "
                             "d.txt && seq 1 300000 > big.txt && printf 'a\\nb\\nbad\\nc\\n' > "
                             "four.txt");
    }
    return rc;
}

/* Runs JOB with `tranche run` (small partitions, 3 workers, into run.out), then `tranche filter`
 * from a pipe and from a redirected file: both must equal run.out. */
static void
check_equals_run(const char *job, const char *input)
{
    tu_sh(0,
          "rm -f run.out && " T " run %s -q -w 3 -s 16KiB -o run.out && "
          "cat %s | " T " filter %s > piped.out && cmp run.out piped.out && " T
          " filter %s < %s > redirected.out && cmp run.out redirected.out",
          job, input, job, job, input);
}

static void
test_filter__lines_equal_run(void **state)
{
    (void)state;
    tu_write_job("lines.yaml",
                 "input: {path: edge.txt}\noutput: {path: x.out}\n"
                 "steps: [{plugin: upper}, {plugin: grep, options: {pattern: 'A|1'}}]\n");
    check_equals_run("lines.yaml", "edge.txt");
    /* the output must not be empty (a test of two empty outputs cannot fail) */
    tu_sh(0, "[ $(wc -l < run.out) -gt 5 ] && ! cmp -s run.out edge.txt");
}

static void
test_filter__multibyte_delimiter_equals_run(void **state)
{
    (void)state;
    tu_write_job("delim.yaml", "input: {path: d.txt, delimiter: '::'}\noutput: {path: x.out}\n"
                               "steps: [{plugin: upper}]\n");
    check_equals_run("delim.yaml", "d.txt");
    tu_sh(0, "grep -q 'LAST::$' run.out");
}

static void
test_filter__csv_equals_run(void **state)
{
    (void)state;
    tu_write_job("csv.yaml", "input: {path: c.csv, format: csv}\noutput: {path: x.out}\n"
                             "steps: [{plugin: upper}, {plugin: cut, options: {fields: [1, 3], "
                             "delimiter: ','}}]\n");
    check_equals_run("csv.yaml", "c.csv");
    tu_sh(0, "[ $(wc -c < run.out) -gt 10000 ]");
}

static void
test_filter__fastq_equals_run(void **state)
{
    (void)state;
    tu_write_job("fq.yaml", "input: {path: r.fq, format: fastq}\noutput: {path: x.out}\n"
                            "steps: [{plugin: fastq-trim, options: {length: 50, min_length: "
                            "30}}]\n");
    check_equals_run("fq.yaml", "r.fq");
    tu_sh(0, "[ $(wc -l < run.out) -gt 400 ] && ! cmp -s run.out r.fq");
}

static void
test_filter__exec_step_equals_run(void **state)
{
    (void)state;
    tu_write_job("exec.yaml", "input: {path: big.txt}\noutput: {path: x.out}\n"
                              "steps: [{exec: \"awk '$1 %% 7 == 0 {print $1 * 2}'\"}, "
                              "{plugin: upper}]\n");
    check_equals_run("exec.yaml", "big.txt");
    tu_sh(0, "[ $(wc -l < run.out) -eq 42857 ]");
}

/* A job file without input and output (filter ignores them), and a job made with --step. */
static void
test_filter__job_without_input_and_output(void **state)
{
    char *err = NULL;

    (void)state;
    tu_write_job("bare.yaml", "steps: [{plugin: upper}]\nworkers: 8\n");
    tu_sh(0, "printf 'ab\\ncd' | " T " filter bare.yaml > bare.out && printf 'AB\\nCD\\n' | "
             "cmp - bare.out");
    tu_sh(0, "printf 'ab\\n' | " T " filter --step upper --step grep --set pattern=B > st.out && "
             "printf 'AB\\n' | cmp - st.out");
    /* run still needs them */
    assert_int_equal(tu_tranche(&err, "run bare.yaml"), 2);
    free(err);
}

/* A step that fails: exit 1, naming the step and the record's offset in standard input. */
static void
test_filter__failing_step(void **state)
{
    char *err = NULL;

    (void)state;
    tu_write_job("fail.yaml", "steps:\n  - plugin: " FAILER "\n    options: {match: bad}\n");
    assert_int_equal(tu_run_here(&err, "cat four.txt | " T " filter fail.yaml"), 1);
    tu_assert_contains(err, "job failed");
    tu_assert_contains(err, "step 1 (" FAILER ")");
    tu_assert_contains(err, "failer hit record 'bad'");
    tu_assert_contains(err, "at the record starting at byte 4");
    free(err);
    /* a plugin that calls exit(0) in the middle: a failure all the same */
    assert_int_equal(
        tu_run_here(&err, T " filter fail.yaml --set 1.mode=exit < four.txt > /dev/null"), 1);
    tu_assert_contains(err, "called exit()");
    free(err);
    /* a plugin whose init rejects its options: exit 2, nothing ran */
    assert_int_equal(tu_run_here(&err, "echo x | " T " filter --step grep --set 'pattern=('"), 2);
    tu_assert_contains(err, "grep");
    free(err);
    /* malformed input: exit 1 with the offset */
    tu_write_job("csvfail.yaml", "input: {format: csv}\nsteps: [{plugin: upper}]\n");
    assert_int_equal(tu_run_here(&err, "printf 'x,y\\na,\"b\\n' | " T " filter csvfail.yaml"), 1);
    tu_assert_contains(err, "malformed csv record at byte offset 4");
    free(err);
}

/* What needs the plan or the run's machinery: refused with exit 2, naming the key. */
static void
test_filter__refused_features(void **state)
{
    static const struct {
        const char *args;
        const char *says;
    } cases[] = {
        {"--set aggregate.plugin=count", "aggregate:"},
        {"--set input.format=csv --set input.header=true", "input.header: true"},
        {"--set retries=2", "retries: 2"},
        {"--set partition_timeout=10m", "partition_timeout"},
        {"--set record_timeout=10s", "record_timeout"},
        {"--set output.compression=gzip", "output.compression: gzip"},
        {"--resume", "--resume"},
        {"--partition 1", "--partition"},
        {"--replay 0,1", "--replay"},
        {"--shard 1/4", "--shard"},
        {"--retries 1", "--retries"},
        {"--input x.txt", "--input"},
        {"--output x.txt", "--output"},
    };
    size_t i;
    char *err;

    (void)state;
    tu_write_job("plain.yaml", "steps: [{plugin: upper}]\n");
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err = NULL;
        assert_int_equal(
            tu_run_here(&err, "echo x | " T " filter plain.yaml %s > refused.out", cases[i].args),
            2);
        tu_assert_contains(err, cases[i].says);
        free(err);
        tu_sh(0, "[ ! -s refused.out ]");
    }
    /* gzip on standard input is refused too (filter does not decode) */
    err = NULL;
    assert_int_equal(tu_run_here(&err, "gzip -c four.txt | " T " filter plain.yaml"), 2);
    tu_assert_contains(err, "standard input is gzip");
    free(err);
}

/* on_error: skip: the records a step fails on are left out, said on stderr and, with
 * --log-dir, in rejects.tsv and rejects.bin; exit 3. */
static void
test_filter__on_error_skip(void **state)
{
    char *err = NULL;

    (void)state;
    tu_write_job("skip.yaml", "on_error: skip\nsteps:\n  - plugin: " FAILER
                              "\n    options: {match: b, nth: 1}\n");
    tu_sh(0, "mkdir -p rj");
    assert_int_equal(tu_run_here(&err, T " filter skip.yaml --log-dir rj < four.txt > skip.out"),
                     3);
    tu_assert_contains(err, "skipped the record at byte 2");
    tu_assert_contains(err, "1 record(s) left out");
    free(err);
    tu_sh(0, "printf 'a\\nbad\\nc\\n' | cmp - skip.out && printf 'b\\n' | cmp - rj/rejects.bin && "
             "grep -q '^-\t2\t1\t0\t' rj/rejects.tsv");
    /* max_skipped: more is a failure */
    assert_int_equal(
        tu_run_here(&err, T " filter skip.yaml --set max_skipped=0 < four.txt > /dev/null"), 1);
    tu_assert_contains(err, "max_skipped");
    free(err);
}

/* The reader of standard output leaves: exit 141 at once, quietly, for a file on standard
 * input and for an endless pipe (the output is written as it is produced, not at the end). */
static void
test_filter__reader_leaves(void **state)
{
    (void)state;
    tu_write_job("up.yaml", "steps: [{plugin: upper}]\n");
    tu_sh(0, "(" T " filter up.yaml < big.txt 2> head.err; echo $? > status.txt) | head -1 > "
             "head.out; [ \"$(cat head.out)\" = 1 ] && [ \"$(cat status.txt)\" = 141 ] && "
             "[ ! -s head.err ]");
    tu_sh(0, "yes abc | (" T " filter up.yaml 2> yes.err; echo $? > status.txt) | head -2 > "
             "yes.out; [ \"$(cat yes.out)\" = \"$(printf 'ABC\\nABC')\" ] && "
             "[ \"$(cat status.txt)\" = 141 ] && [ ! -s yes.err ]");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter__lines_equal_run),
        cmocka_unit_test(test_filter__multibyte_delimiter_equals_run),
        cmocka_unit_test(test_filter__csv_equals_run),
        cmocka_unit_test(test_filter__fastq_equals_run),
        cmocka_unit_test(test_filter__exec_step_equals_run),
        cmocka_unit_test(test_filter__job_without_input_and_output),
        cmocka_unit_test(test_filter__failing_step),
        cmocka_unit_test(test_filter__refused_features),
        cmocka_unit_test(test_filter__on_error_skip),
        cmocka_unit_test(test_filter__reader_leaves),
    };

    return cmocka_run_group_tests(tests, group_setup, tu_group_teardown);
}
