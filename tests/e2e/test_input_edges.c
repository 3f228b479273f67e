/*
 * tests/e2e/test_input_edges.c: inputs and job files at the edges, through the real CLI: an input
 * rewritten while the job runs, names with glob characters, FIFOs and files whose size does not
 * tell their content, the same file listed twice, a glob that matches nothing rescued by
 * --input, and job files and partition sizes far past what tranche accepts. Each must give exit
 * 0 with the right output, or exit 1 or 2 with a message, promptly, and nothing at the output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

/* Runs a shell command in the test directory and fails the test unless it exits with expect. */

/* Runs a shell command in the test directory; returns its status and its stderr in *err. */

/* Writes the job NAME.yaml in the test directory: input section `input` (indented by two),
 * output NAME.out, one upper step (and `extra` top-level lines). */
static void
write_job(const char *name, const char *input, const char *extra)
{
    char path[1024], body[8192];

    snprintf(body, sizeof(body),
             "input:\n%soutput:\n  path: %s.out\nlog_dir: logs/%s\n%ssteps:\n  - plugin: upper\n",
             input, name, name, extra);
    snprintf(path, sizeof(path), "%s/%s.yaml", tu_dir, name);
    tu_write_file(path, body, strlen(body));
}

/*
 * A job holds its first record (the failer waits) while the input is changed as `change` (a
 * shell command) says, then goes on: it must fail with exit 1, say the input changed, and leave
 * nothing at the output. The input is small: one partition, read whole before the hold, so that
 * only the check at the end can tell (without it: the old records, exit 0).
 */
static void
expect_change_caught(const char *change, const char *args)
{
    char *err = NULL;
    int rc;

    tu_sh(0, "rm -f rot.out rot.hit rot.go && { echo HOLD; seq 1 200; } > rot.txt && "
             "{ echo HOLD; seq 1 200 | tr 0-9 a-j; } > same-size.txt && "
             "[ $(wc -c < rot.txt) = $(wc -c < same-size.txt) ]");
    rc = tu_run_here(&err,
                     TU_SH_WAIT
                     "{ %s run rot.yaml %s & } && pid=$! && tu_wait_for 30 '[ -e rot.hit ]'; "
                     "seen=$?; %s; touch rot.go; tu_reap $pid 30; rc=$?; [ $seen -eq 0 ] || "
                     "{ echo 'the job never held its record' >&2; exit 99; }; exit $rc",
                     TRANCHE_BIN, args, change);
    if (rc != 1) {
        char msg[4096];

        snprintf(msg, sizeof(msg),
                 "input changed by `%s`, tranche run %s: exit %d, expected 1\n"
                 "stderr: %s",
                 change, args, rc, err != NULL ? err : "");
        free(err);
        fail_msg("%s", msg);
    }
    tu_assert_contains(err, "rot.txt changed during the job: ");
    tu_sh(1, "[ -e rot.out ]");
    free(err);
}

static void
test_input_edges__input_changed_during_the_job_fails_it(void **state)
{
    char path[1024], job[2048];

    (void)state;
    /* The failer holds the first record until the test has changed the input. */
    snprintf(job, sizeof(job),
             "input:\n  path: rot.txt\noutput:\n  path: rot.out\nlog_dir: logs/rot\nsteps:\n"
             "  - plugin: %s/failer.so\n    options: { match: HOLD, mode: wait, "
             "release: %s/rot.go, marker: %s/rot.hit }\n  - plugin: upper\n",
             TEST_PLUGIN_DIR, tu_dir, tu_dir);
    snprintf(path, sizeof(path), "%s/rot.yaml", tu_dir);
    tu_write_file(path, job, strlen(job));
    /* logrotate's copytruncate: emptied, then written again */
    expect_change_caught(": > rot.txt && echo new >> rot.txt", "--workers 2");
    expect_change_caught("echo appended >> rot.txt", "--workers 2");
    /* cp writes over the same inode, same size */
    expect_change_caught("cp same-size.txt rot.txt", "--workers 2");
    expect_change_caught("cp same-size.txt new.txt && mv new.txt rot.txt", "--workers 2");
    expect_change_caught("echo appended >> rot.txt", "--in-process");
    /* Unchanged, the same job succeeds. */
    tu_sh(0,
          TU_SH_WAIT "rm -f rot.out rot.hit && touch rot.go && %s run rot.yaml && "
                     "tr a-z A-Z < rot.txt | cmp - rot.out",
          TRANCHE_BIN);
}

/* A name that exists as written is that file, glob characters or not. */
static void
test_input_edges__existing_name_with_glob_characters_is_that_file(void **state)
{
    (void)state;
    tu_sh(0, "echo literal > 'report[1].txt' && echo globbed > report1.txt");
    write_job("lit", "  path: report[1].txt\n", "");
    tu_sh(0, "%s run lit.yaml && echo LITERAL | cmp - lit.out", TRANCHE_BIN);
    tu_sh(0,
          "rm lit.out && %s run lit.yaml --input 'report[1].txt' && echo LITERAL | cmp - lit.out",
          TRANCHE_BIN);
    /* A glob's backslash makes the next character plain. */
    write_job("esc", "  path: 'report\\[1\\].txt'\n", "");
    tu_sh(0, "%s run esc.yaml && echo LITERAL | cmp - esc.out", TRANCHE_BIN);
    /* Not there as written: a glob, as before. */
    write_job("glob", "  path: report[12].txt\n", "");
    tu_sh(0, "%s run glob.yaml && echo GLOBBED | cmp - glob.out", TRANCHE_BIN);
}

/* A FIFO (or a device, a directory) is refused without being opened: nothing waits for a
 * writer. `timeout` bounds the wait, which was for ever. */
static void
test_input_edges__fifo_is_refused_at_once(void **state)
{
    static const char *const commands[] = {"run", "plan", "validate"};
    char *err = NULL;
    size_t i;

    (void)state;
    tu_sh(0, "rm -f fifo && mkfifo fifo && mkdir -p globbed && echo a > globbed/a.txt && "
             "rm -f globbed/b.txt && mkfifo globbed/b.txt");
    write_job("fifo", "  path: fifo\n", "");
    write_job("fifoglob", "  path: globbed/*.txt\n", "");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        assert_int_equal(tu_run_here(&err, "timeout 10 %s %s fifo.yaml", TRANCHE_BIN, commands[i]),
                         2);
        tu_assert_contains(err, "input fifo is not a regular file (it is a FIFO)");
        free(err);
        assert_int_equal(
            tu_run_here(&err, "timeout 10 %s %s fifoglob.yaml", TRANCHE_BIN, commands[i]), 2);
        tu_assert_contains(err, "globbed/b.txt is not a regular file (it is a FIFO)");
        free(err);
    }
    assert_int_equal(
        tu_run_here(&err, "timeout 10 %s run fifo.yaml --input /dev/zero", TRANCHE_BIN), 2);
    tu_assert_contains(err, "input /dev/zero is not a regular file (it is a character device)");
    free(err);
    tu_sh(1, "[ -e fifo.out ] || [ -e fifoglob.out ]");
}

/* Files whose size says nothing of their content were read as empty: exit 0, no output. */
static void
test_input_edges__proc_and_sys_files_are_refused(void **state)
{
    char *err = NULL;

    (void)state;
    write_job("proc", "  path: /proc/self/status\n", "");
    assert_int_equal(tu_run_here(&err, "%s run proc.yaml", TRANCHE_BIN), 2);
    tu_assert_contains(err, "input /proc/self/status is a /proc file, whose size does not tell");
    free(err);
    assert_int_equal(tu_run_here(&err, "%s run proc.yaml --input /proc/cpuinfo", TRANCHE_BIN), 2);
    tu_assert_contains(err, "/proc/cpuinfo is a /proc file");
    free(err);
    if (access("/sys/kernel/mm/transparent_hugepage/enabled", R_OK) == 0) {
        assert_int_equal(tu_run_here(&err,
                                     "%s run proc.yaml --input "
                                     "/sys/kernel/mm/transparent_hugepage/enabled",
                                     TRANCHE_BIN),
                         2);
        tu_assert_contains(err, "is a /sys file");
        free(err);
    }
    tu_sh(1, "[ -e proc.out ]");
}

/* The same file listed twice is refused, naming both entries, unless the job allows it. */
static void
test_input_edges__same_file_twice_is_refused(void **state)
{
    char *err = NULL;

    (void)state;
    tu_sh(0, "rm -rf dup && mkdir dup && echo a > dup/a.log && echo b > dup/b.log && "
             "ln dup/b.log dup/c.log");
    write_job("dup", "  path: [dup/a.log, \"dup/*.log\"]\n", "");
    assert_int_equal(tu_run_here(&err, "%s run dup.yaml", TRANCHE_BIN), 2);
    tu_assert_contains(err,
                       "dup.yaml:2:21: input dup/a.log (from 'dup/a.log' at line 2, column 10) "
                       "and input dup/a.log (from 'dup/*.log' at line 2, column 21) are the "
                       "same file");
    tu_assert_contains(err, "set input.allow_duplicates: true");
    free(err);
    /* A hard link, both names matched by one glob of --input. */
    assert_int_equal(tu_run_here(&err, "%s plan dup.yaml --input 'dup/[bc].log'", TRANCHE_BIN), 2);
    tu_assert_contains(err, "input dup/b.log (from --input 'dup/[bc].log') and input dup/c.log "
                            "(from --input 'dup/[bc].log') are the same file");
    free(err);
    tu_sh(1, "[ -e dup.out ]");
    write_job("dupok", "  path: [dup/a.log, \"dup/*.log\"]\n  allow_duplicates: true\n", "");
    tu_sh(0, "%s run dupok.yaml && printf 'A\\nA\\nB\\nB\\n' | cmp - dupok.out", TRANCHE_BIN);
}

/* A job whose glob matches nothing runs with --input; without it, the glob is reported at its
 * position. */
static void
test_input_edges__input_option_replaces_a_glob_matching_nothing(void **state)
{
    char *err = NULL;

    (void)state;
    tu_sh(0, "echo rescued > rescue.txt");
    write_job("nomatch", "  path: \"logs-*/none-*.log\"\n", "");
    assert_int_equal(tu_run_here(&err, "%s validate nomatch.yaml", TRANCHE_BIN), 2);
    tu_assert_contains(err, "nomatch.yaml:2:9: no file matches the input glob 'logs-*/none-*.log'");
    free(err);
    tu_sh(0, "%s validate nomatch.yaml --input rescue.txt", TRANCHE_BIN);
    tu_sh(0, "%s run nomatch.yaml --input rescue.txt && echo RESCUED | cmp - nomatch.out",
          TRANCHE_BIN);
    tu_sh(0,
          "rm nomatch.out && %s run nomatch.yaml --input 'rescue*' && echo RESCUED | "
          "cmp - nomatch.out",
          TRANCHE_BIN);
}

/* Job files nested 150,000 deep took 72 s to refuse; past 1 MiB, minutes. */
static void
test_input_edges__huge_job_files_are_refused_at_once(void **state)
{
    struct timespec t0;
    char *err = NULL;

    (void)state;
    tu_sh(0, "head -c 150000 /dev/zero | tr '\\0' '[' > deep.yaml && "
             "{ printf 'input:\\n  path: x\\n'; head -c 2000000 /dev/zero | tr '\\0' '#'; } "
             "> big.yaml");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(tu_run_here(&err, "timeout 20 %s validate deep.yaml", TRANCHE_BIN), 2);
    tu_assert_contains(err, "deep.yaml:1:65: nested deeper than 64 levels");
    free(err);
    assert_int_equal(tu_run_here(&err, "timeout 20 %s run big.yaml", TRANCHE_BIN), 2);
    tu_assert_contains(err, "big.yaml:3:1048560: the job file is larger than 1 MiB");
    free(err);
    if (tu_seconds_since(&t0) > 10.0) { /* pathological time only (it took minutes) */
        fail_msg("refusing two job files took %.1f s", tu_seconds_since(&t0));
    }
}

/* partition_size 1 over 14 MB of short records planned 2 million partitions, for seconds and
 * gigabytes: refused at once with the size that would do, which does. */
static void
test_input_edges__tiny_partitions_over_a_large_input_are_refused(void **state)
{
    struct timespec t0;
    char *err = NULL;

    (void)state;
    tu_sh(0, "seq 1 2000000 > many.txt");
    write_job("tiny", "  path: many.txt\n", "partition_size: 1\n");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(tu_run_here(&err, "timeout 60 %s plan tiny.yaml > tiny.plan", TRANCHE_BIN), 2);
    if (tu_seconds_since(&t0) > 10.0) { /* pathological time only (it took minutes) */
        fail_msg("refusing the plan took %.1f s", tu_seconds_since(&t0));
    }
    tu_assert_contains(err,
                       "partition_size 1 B would cut the inputs (14.2 MiB) into more than 100000 "
                       "partitions, the most a job may have: use a partition_size of ");
    free(err);
    assert_int_equal(
        tu_run_here(&err, "timeout 60 %s run tiny.yaml --partition-size 100", TRANCHE_BIN), 2);
    tu_assert_contains(err, "partition_size 100 B would cut");
    free(err);
    tu_sh(1, "[ -e tiny.out ]");
    /* The size it suggests is enough. */
    tu_sh(0,
          "size=$(%s plan tiny.yaml 2>&1 | "
          "sed -n 's/.*use a partition_size of \\(.*\\) or more/\\1/p') && [ -n \"$size\" ] && "
          "n=$(%s plan tiny.yaml --partition-size \"$size\" | wc -l) && "
          "[ $n -gt 90000 ] && [ $n -le 100000 ]",
          TRANCHE_BIN, TRANCHE_BIN);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_edges__input_changed_during_the_job_fails_it),
        cmocka_unit_test(test_input_edges__existing_name_with_glob_characters_is_that_file),
        cmocka_unit_test(test_input_edges__fifo_is_refused_at_once),
        cmocka_unit_test(test_input_edges__proc_and_sys_files_are_refused),
        cmocka_unit_test(test_input_edges__same_file_twice_is_refused),
        cmocka_unit_test(test_input_edges__input_option_replaces_a_glob_matching_nothing),
        cmocka_unit_test(test_input_edges__huge_job_files_are_refused_at_once),
        cmocka_unit_test(test_input_edges__tiny_partitions_over_a_large_input_are_refused),
    };

    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
