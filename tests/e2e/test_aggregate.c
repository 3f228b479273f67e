/*
 * tests/e2e/test_aggregate.c: the core's aggregate stage (core/aggregate.c, ABI 1.2) with the
 * tally fixture (tests/plugins/tally.c), whose partials are binary: the records and bytes it
 * reports are checked against wc, for several worker counts and partition sizes, forked and in
 * this process; the combine phase's failures (an error, a crash), the private directory left
 * behind by none of them, --partition K's labelled partial, and the job file's mistakes.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define TALLY TEST_PLUGIN_DIR "/tally.so"

/* A job over in.txt that ends with the tally aggregate; `steps` and `extra` as YAML text. */
static void
tally_job(const char *steps, const char *extra)
{
    tu_write_job("job.yaml",
                 "input:\n  path: in.txt\noutput:\n  path: out/result.txt\nlog_dir: logs\n%s%s"
                 "aggregate:\n  plugin: %s\n",
                 steps, extra, TALLY);
}

static void
make_input(void)
{
    tu_sh(0, "[ -f in.txt ] || seq 1 100000 | sed 's/$/ a record/' > in.txt");
}

/* What tally must say for the records of `cmd`'s output. */
static void
expect_tally(const char *cmd, const char *output)
{
    tu_sh(0,
          "r=$(%s | wc -l); b=$(%s | wc -c); printf 'records=%%s bytes=%%s\\n' $r $((b - r)) "
          "> want.txt; cut -d ' ' -f 1,2 %s | cmp - want.txt",
          cmd, cmd, output);
}

static void
test_aggregate__tally_equals_wc_for_any_split(void **state)
{
    static const char *const sizes[] = {"1", "700", "64K", "32M"};
    static const int workers[] = {1, 2, 7};
    size_t i, j;

    (void)state;
    make_input();
    /* (3000 records: at 1-byte partitions, 3000 partitions, each a partial) */
    tu_sh(0, "seq 1 3000 | sed 's/$/ a record/' > few.txt");
    tally_job("", "");
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (j = 0; j < sizeof(workers) / sizeof(workers[0]); j++) {
            if (!tu_thin()) {
                continue;
            }
            assert_int_equal(tu_tranche(NULL,
                                        "run -q job.yaml --input few.txt -w %d "
                                        "--set partition_size=%s",
                                        workers[j], sizes[i]),
                             0);
            expect_tally("cat few.txt", "out/result.txt");
            /* one partial per partition, and the combine phase said so */
            tu_sh(0, "grep -q ' phase=1 ' out/result.txt");
        }
    }
    /* in this process: the same result */
    assert_int_equal(tu_tranche(NULL, "run -q --in-process job.yaml --set partition_size=1K"), 0);
    expect_tally("cat in.txt", "out/result.txt");
    /* nothing of the private directory is left (its spill directories neither) */
    tu_sh(0, "[ -z \"$(ls -A out | grep -v '^result.txt$')\" ]");
}

static void
test_aggregate__after_steps_with_gzip_output(void **state)
{
    (void)state;
    make_input();
    tally_job("steps:\n  - plugin: grep\n    options: {pattern: \"7\", fixed: true}\n", "");
    assert_int_equal(tu_tranche(NULL, "run -q job.yaml -w 2 --set partition_size=100K"), 0);
    expect_tally("grep -F 7 in.txt", "out/result.txt");
    assert_int_equal(tu_tranche(NULL, "run -q job.yaml -w 2 --set partition_size=100K "
                                      "-o out/result.txt.gz"),
                     0);
    tu_sh(0, "gzip -t out/result.txt.gz && zcat out/result.txt.gz | cmp - out/result.txt");
    /* a memory limit reaches the plugin */
    assert_int_equal(tu_tranche(NULL, "run -q job.yaml --set aggregate.memory=3MiB"), 0);
    tu_sh(0, "grep -q ' memory=3145728$' out/result.txt");
    /* an empty input: one partial of nothing, or none */
    tu_sh(0, ": > empty.txt");
    assert_int_equal(tu_tranche(NULL, "run -q job.yaml --input empty.txt"), 0);
    tu_sh(0, "grep -q '^records=0 bytes=0 ' out/result.txt");
}

static void
test_aggregate__combine_failures_leave_nothing(void **state)
{
    char *err = NULL;

    (void)state;
    make_input();
    tally_job("", "");
    tu_sh(0, "rm -rf out");
    assert_int_equal(tu_tranche(&err, "run job.yaml --set partition_size=100K "
                                      "--set aggregate.options.fail_combine=3"),
                     1);
    tu_assert_contains(err, "(aggregate " TALLY "), combine phase: failing at partial 3");
    free(err);
    tu_sh(0, "[ ! -e out ] || [ -z \"$(ls -A out)\" ]");
    assert_int_equal(tu_tranche(&err, "run job.yaml --set partition_size=100K "
                                      "--set aggregate.options.crash_combine=2"),
                     1);
    /* (killed by SIGSEGV; under the sanitizers, whose handler reports it, an exit status) */
    tu_assert_contains(err, "its combine phase's process ended early (");
    free(err);
    tu_sh(0, "[ ! -e out ] || [ -z \"$(ls -A out)\" ]");
    /* in this process too (a crash would take the process: only the error here) */
    assert_int_equal(tu_tranche(&err, "run --in-process job.yaml --set partition_size=100K "
                                      "--set aggregate.options.fail_combine=1"),
                     1);
    tu_assert_contains(err, "failing at partial 1");
    free(err);
    tu_sh(0, "[ ! -e out ] || [ -z \"$(ls -A out)\" ]");
}

static void
test_aggregate__stop_signal_in_the_combine_phase(void **state)
{
    char *err = NULL;

    (void)state;
    make_input();
    tally_job("", "");
    tu_sh(0, "rm -rf out stall.marker");
    /* SIGTERM once the combine phase runs: exit 1, nothing written, its process gone */
    tu_sh(0,
          TU_SH_WAIT "%s run job.yaml -w 2 --set partition_size=100K "
                     "--set aggregate.options.stall_combine=%s/stall.marker 2> stall.err & p=$!; "
                     "tu_wait_for 20 '[ -e stall.marker ]' && kill -TERM $p; tu_reap $p 30; "
                     "[ $? -eq 1 ]",
          TRANCHE_BIN, tu_dir);
    err = tu_read_file(tu_join(tu_dir, "stall.err"), NULL);
    tu_assert_contains(err, "interrupted by signal SIGTERM");
    free(err);
    tu_sh(0, "[ ! -e out ] || [ -z \"$(ls -A out)\" ]");
    tu_sh(0, TU_SH_WAIT "tu_wait_for 10 '! pgrep -f stall_combin[e]= > /dev/null'");
}

static void
test_aggregate__partition_k_is_a_labelled_partial(void **state)
{
    char *err = NULL;

    (void)state;
    make_input();
    tally_job("", "");
    assert_int_equal(tu_tranche(&err, "run job.yaml --set partition_size=100K --partition 2 "
                                      "-o part.bin"),
                     0);
    tu_assert_contains(err, "note: the output is the partial state of step 1 (aggregate");
    free(err);
    /* the partial as tally's map phase emits it: two 64-bit counts and the delimiter */
    tu_sh(0, "[ $(wc -c < part.bin) -eq 17 ]");
}

static void
test_aggregate__job_file_mistakes(void **state)
{
    static const struct {
        const char *yaml;
        int status;
        const char *msg;
    } cases[] = {
        {"aggregate: count\n", 2, "job.yaml:6:12: aggregate must be a mapping"},
        {"aggregate:\n  options: {}\n", 2, "missing required key 'plugin' in aggregate"},
        {"aggregate:\n  plugin: " TALLY "\n  memory: lots\n", 2,
         "job.yaml:8:11: invalid aggregate.memory"},
        {"aggregate:\n  plugin: " TALLY "\n  nonsense: 1\n", 2, "nonsense"},
        {"aggregate:\n  plugin: upper\n", 2, "plugin 'upper' is not an aggregator"},
        {"steps:\n  - plugin: " TALLY "\n", 2, "is an aggregator: it goes under the job's"},
        {"steps: []\n", 2, "steps is an empty list"},
    };
    char *err = NULL;
    size_t i;

    (void)state;
    make_input();
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tu_write_job("job.yaml",
                     "input:\n  path: in.txt\noutput:\n  path: o.txt\nlog_dir: logs\n%s",
                     cases[i].yaml);
        assert_int_equal(tu_tranche(&err, "validate job.yaml"), cases[i].status);
        tu_assert_contains(err, cases[i].msg);
        free(err);
        err = NULL;
    }
    /* --resume needs the output itself: not an aggregate's */
    tally_job("", "");
    assert_int_equal(tu_tranche(&err, "run --resume job.yaml"), 2);
    tu_assert_contains(err, "--resume");
    free(err);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregate__tally_equals_wc_for_any_split),
        cmocka_unit_test(test_aggregate__after_steps_with_gzip_output),
        cmocka_unit_test(test_aggregate__combine_failures_leave_nothing),
        cmocka_unit_test(test_aggregate__stop_signal_in_the_combine_phase),
        cmocka_unit_test(test_aggregate__partition_k_is_a_labelled_partial),
        cmocka_unit_test(test_aggregate__job_file_mistakes),
    };

    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
