/*
 * tests/e2e/test_submit.c: `tranche submit --slurm` through the real CLI against a fake Slurm:
 * shell scripts named sbatch and scontrol in the test's own bin/ directory, first on PATH. The
 * fake sbatch logs its arguments (one per line, a blank line after each call) and prints a job
 * id; with SBATCH_FAIL set it fails as sbatch does. Checked: --dry-run prints the two commands,
 * which run as printed give the right arguments (the wrap commands, the dependency on the
 * array's id), and sbatch is not called; a real submission prints the two ids; more shards than
 * MaxArraySize is refused (exit 2) before anything is written; sbatch missing or failing is exit
 * 1 with its message. The real cluster test is .ci/slurm-test.sh.
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

/* The fake sbatch: each call's arguments to sbatch.log, an id from 101 up. */
static const char fake_sbatch[] =
    "#!/bin/sh\n"
    "d=$(dirname \"$0\")\n"
    "for a in \"$@\"; do printf '%s\\n' \"$a\"; done >> \"$d/sbatch.log\"\n"
    "echo >> \"$d/sbatch.log\"\n"
    "if [ -n \"$SBATCH_FAIL\" ]; then\n"
    "  echo 'sbatch: error: Batch job submission failed: Invalid partition name specified' >&2\n"
    "  exit 1\n"
    "fi\n"
    "n=$(cat \"$d/next\" 2>/dev/null || echo 101)\n"
    "echo $((n + 1)) > \"$d/next\"\n"
    "echo \"$n\"\n";

static const char fake_scontrol[] = "#!/bin/sh\n"
                                    "[ \"$1 $2\" = 'show config' ] || exit 1\n"
                                    "echo 'Configuration data as of 2026-12-02T00:00:00'\n"
                                    "echo 'MaxArraySize            = 5'\n"
                                    "echo 'MaxJobCount             = 10000'\n";

static int
setup(void **state)
{
    int rc = tu_group_setup(state);

    if (rc == 0) {
        tu_sh(0, "mkdir -p bin nosbatch && seq 1 5000 | sed 's/^/line /' > in.txt && "
                 "printf 'input:\\n  path: in.txt\\noutput:\\n  path: out.txt\\n"
                 "partition_size: 4KiB\\nsteps:\\n  - plugin: upper\\n' > my-job.yaml");
        tu_write_file(tu_join(tu_dir, "bin/sbatch"), fake_sbatch, strlen(fake_sbatch));
        tu_write_file(tu_join(tu_dir, "bin/scontrol"), fake_scontrol, strlen(fake_scontrol));
        tu_write_file(tu_join(tu_dir, "nosbatch/scontrol"), fake_scontrol, strlen(fake_scontrol));
        tu_sh(0, "chmod +x bin/sbatch bin/scontrol nosbatch/scontrol");
    }
    return rc;
}

#define PATH_FAKE "PATH=\"$PWD/bin:$PATH\" "

static char *
read_here(const char *name)
{
    char *s = tu_read_file(tu_join(tu_dir, name), NULL);

    assert_non_null(s);
    return s;
}

static void
test_submit__dry_run_prints_the_two_commands_and_runs_no_sbatch(void **state)
{
    char *out, *log, expect[8192], wrap[4096];

    (void)state;
    tu_sh(0, "rm -rf bin/sbatch.log bin/next my-job.shards");
    tu_sh(0,
          PATH_FAKE "'%s' submit --slurm my-job.yaml --shards 3 --max-running 2 --dry-run -- "
                    "--partition=debug --comment='a b' > dry.txt",
          TRANCHE_BIN);
    assert_false(tu_exists(tu_join(tu_dir, "bin/sbatch.log")));
    assert_true(tu_exists(tu_join(tu_dir, "my-job.shards/shards.plan")));

    out = read_here("dry.txt");
    /* line 1: the array, its id in a shell variable; line 2: the merge after it */
    snprintf(wrap, sizeof(wrap),
             "\"'%s' run '%s/my-job.yaml' --shard auto --work-dir '%s/my-job.shards'\"",
             TRANCHE_BIN, tu_dir, tu_dir);
    snprintf(expect, sizeof(expect),
             "ARRAY_ID=$(sbatch --parsable --array=0-2%%2 --partition=debug '--comment=a b' "
             "--job-name=tranche-my-job --output=%s/my-job.shards/slurm-%%A_%%a.out --wrap %s)\n"
             "sbatch --parsable --dependency=afterok:$ARRAY_ID --kill-on-invalid-dep=yes "
             "--partition=debug '--comment=a b' --job-name=tranche-my-job-merge "
             "--output=%s/my-job.shards/slurm-merge-%%j.out --wrap \"'%s' merge --work-dir "
             "'%s/my-job.shards'\"\n",
             tu_dir, wrap, tu_dir, TRANCHE_BIN, tu_dir);
    assert_string_equal(out, expect);

    /* pasted into a shell, they give sbatch these arguments */
    tu_sh(0, PATH_FAKE "sh dry.txt");
    log = read_here("bin/sbatch.log");
    snprintf(expect, sizeof(expect),
             "--parsable\n--array=0-2%%2\n--partition=debug\n--comment=a b\n"
             "--job-name=tranche-my-job\n--output=%s/my-job.shards/slurm-%%A_%%a.out\n--wrap\n"
             "'%s' run '%s/my-job.yaml' --shard auto --work-dir '%s/my-job.shards'\n\n"
             "--parsable\n--dependency=afterok:101\n--kill-on-invalid-dep=yes\n"
             "--partition=debug\n--comment=a b\n--job-name=tranche-my-job-merge\n"
             "--output=%s/my-job.shards/slurm-merge-%%j.out\n--wrap\n"
             "'%s' merge --work-dir '%s/my-job.shards'\n\n",
             tu_dir, TRANCHE_BIN, tu_dir, tu_dir, tu_dir, TRANCHE_BIN, tu_dir);
    assert_string_equal(log, expect);
    free(out);
    free(log);
}

static void
test_submit__submits_the_array_then_the_merge_and_prints_their_ids(void **state)
{
    char *out, *log;

    (void)state;
    tu_sh(0, "rm -rf bin/sbatch.log bin/next wd");
    tu_sh(0, PATH_FAKE "'%s' submit --slurm my-job.yaml --shards 2 --work-dir wd > ids.txt",
          TRANCHE_BIN);
    out = read_here("ids.txt");
    assert_string_equal(out, "array job: 101\nmerge job: 102\n");
    assert_true(tu_exists(tu_join(tu_dir, "wd/shards.plan")));
    log = read_here("bin/sbatch.log");
    tu_assert_contains(log, "--array=0-1\n--job-name=tranche-my-job\n");
    tu_assert_contains(log, "--dependency=afterok:101\n--kill-on-invalid-dep=yes\n");
    tu_assert_contains(log, "--shard auto --work-dir '");
    tu_assert_contains(log, "/wd'\n");
    free(out);
    free(log);
}

static void
test_submit__more_shards_than_max_array_size_is_refused(void **state)
{
    char *err = NULL;

    (void)state;
    tu_sh(0, "rm -rf bin/sbatch.log wd6");
    assert_int_equal(tu_run_here(&err,
                                 PATH_FAKE "'%s' submit --slurm my-job.yaml --shards 6 "
                                           "--work-dir wd6 --dry-run",
                                 TRANCHE_BIN),
                     2);
    tu_assert_contains(err, "MaxArraySize = 5");
    tu_assert_contains(err, "--shards 5 or fewer");
    assert_false(tu_exists(tu_join(tu_dir, "wd6")));
    assert_false(tu_exists(tu_join(tu_dir, "bin/sbatch.log")));
    free(err);
    /* 5 shards: indices 0-4, within the limit */
    tu_sh(0,
          PATH_FAKE "'%s' submit --slurm my-job.yaml --shards 5 --work-dir wd5 --dry-run "
                    "| grep -q -- '--array=0-4 '",
          TRANCHE_BIN);
}

static void
test_submit__sbatch_missing_or_failing_is_exit_1_with_its_message(void **state)
{
    char *err = NULL;

    (void)state;
    tu_sh(0, "rm -rf bin/sbatch.log bin/next wdf");
    assert_int_equal(tu_run_here(&err,
                                 "SBATCH_FAIL=1 " PATH_FAKE
                                 "'%s' submit --slurm my-job.yaml --shards 2 --work-dir wdf",
                                 TRANCHE_BIN),
                     1);
    tu_assert_contains(err, "Invalid partition name specified");
    tu_assert_contains(err, "sbatch failed for the array job");
    free(err);
    err = NULL;
    /* no sbatch on PATH (a scontrol, and the shell's own directories) */
    assert_int_equal(tu_run_here(&err,
                                 "PATH=\"$PWD/nosbatch:/nonexistent\" '%s' submit --slurm "
                                 "my-job.yaml --shards 2 --work-dir wdm",
                                 TRANCHE_BIN),
                     1);
    tu_assert_contains(err, "sbatch not found on PATH");
    assert_false(tu_exists(tu_join(tu_dir, "wdm")));
    free(err);
}

static void
test_submit__usage_errors(void **state)
{
    char *err = NULL;

    (void)state;
    assert_int_equal(tu_tranche(&err, "submit my-job.yaml --shards 2 --dry-run"), 2);
    tu_assert_contains(err, "--slurm");
    free(err);
    err = NULL;
    assert_int_equal(tu_tranche(&err, "submit --slurm my-job.yaml --dry-run"), 2);
    tu_assert_contains(err, "--shards");
    free(err);
    err = NULL;
    assert_int_equal(tu_tranche(&err, "submit --slurm my-job.yaml --shards 0 --dry-run"), 2);
    free(err);
    err = NULL;
    assert_int_equal(tu_tranche(&err, "submit --slurm no-such.yaml --shards 2 --dry-run"), 2);
    tu_assert_contains(err, "no-such.yaml");
    free(err);
    tu_sh(0, "'%s' submit --help | grep -q -- '--kill-on-invalid-dep=yes'", TRANCHE_BIN);
    tu_sh(0, "'%s' help submit | grep -q -- '--max-running K'", TRANCHE_BIN);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit__dry_run_prints_the_two_commands_and_runs_no_sbatch),
        cmocka_unit_test(test_submit__submits_the_array_then_the_merge_and_prints_their_ids),
        cmocka_unit_test(test_submit__more_shards_than_max_array_size_is_refused),
        cmocka_unit_test(test_submit__sbatch_missing_or_failing_is_exit_1_with_its_message),
        cmocka_unit_test(test_submit__usage_errors),
    };

    return cmocka_run_group_tests(tests, setup, tu_group_teardown);
}
