/*
 * tests/e2e/test_exec.c: exec steps (issue P7): a command run over each partition, against the
 * same command run over the whole file (always) and GNU parallel --pipepart --keep-order (when
 * installed), for commands whose output is per record (they keep, drop, duplicate or add
 * records), at several worker counts and partition sizes; commands that misbehave (read
 * nothing, write first, write much more, close stdin early, fail, crash, leave a process
 * behind); validation, descriptors, env and cwd, retries, and stop signals.
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

/* Writes NAME.yaml (input INPUT, output out/NAME.out, logs logs/NAME) with these steps and
 * extra top-level keys, and returns its path (static). */
static const char *
job(const char *name, const char *input, const char *extra, const char *steps)
{
    static char path[1024];
    char body[8192];

    snprintf(body, sizeof(body),
             "input:\n  path: %s\noutput:\n  path: out/%s.out\nlog_dir: logs/%s\n%ssteps:\n%s",
             input, name, name, extra, steps);
    snprintf(path, sizeof(path), "%s/%s.yaml", tu_dir, name);
    tu_write_file(path, body, strlen(body));
    return path;
}

static int
group_setup(void **state)
{
    int rc = tu_group_setup(state);

    if (rc == 0) {
        tu_write_edge_input(tu_join(tu_dir, "edge.txt"), 300000, 0, 0);
        tu_sh(0, "mkdir -p out sub && head -n 100 edge.txt > small.txt && "
                 "seq 1 20000 | sed 's/$/ some text here/' > lines.txt");
    }
    return rc;
}

static int
have_parallel(void)
{
    return tu_run("parallel --version 2>/dev/null | grep -q 'GNU parallel'", NULL) == 0;
}

/* The per-record commands: each output record depends on one input record only. */
static const char *const per_record[] = {
    "awk '{print $1}'",     /* one out per record */
    "grep 5; [ $? -le 1 ]", /* drops records (grep exits 1 when it selects none) */
    "awk '{print; print}'", /* duplicates them */
    "sed 'a added line'",   /* adds one after each */
};

/* Runs `command` as an exec step over input with these workers and partition size, and compares
 * the output with the command run over the whole input. */
static void
check_against_sequential(const char *input, const char *command, int workers, const char *size)
{
    char steps[1024], extra[128];
    const char *path;

    snprintf(steps, sizeof(steps), "  - exec: \"%s\"\n", command);
    setenv("TU_EXEC_CMD", command, 1);
    snprintf(extra, sizeof(extra), "partition_size: %s\nworkers: %d\n", size, workers);
    path = job("seq", input, extra, steps);
    tu_sh(0,
          "rm -f out/seq.out && sh -c \"$TU_EXEC_CMD\" < %s > seq.ref && %s run %s && cmp seq.ref "
          "out/seq.out",
          input, TRANCHE_BIN, path);
}

static void
test_exec__per_record_commands_equal_the_command_on_the_whole_file(void **state)
{
    static const struct {
        const char *input;
        const char *size;
    } runs[] = {
        {"edge.txt", "64KiB"}, {"edge.txt", "1MiB"}, {"small.txt", "7"}, {"small.txt", "1"}};
    static const int workers[] = {1, 2, 7};
    size_t c, r, w;

    (void)state;
    for (c = 0; c < sizeof(per_record) / sizeof(per_record[0]); c++) {
        for (r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
            for (w = 0; w < sizeof(workers) / sizeof(workers[0]); w++) {
                if (tu_thin()) {
                    check_against_sequential(runs[r].input, per_record[c], workers[w],
                                             runs[r].size);
                }
            }
        }
    }
}

static void
test_exec__per_record_commands_equal_gnu_parallel(void **state)
{
    size_t c;

    (void)state;
    if (!have_parallel()) {
        skip();
    }
    for (c = 0; c < sizeof(per_record) / sizeof(per_record[0]); c++) {
        char steps[512];
        const char *path;

        snprintf(steps, sizeof(steps), "  - exec: [sh, -c, \"%s\"]\n", per_record[c]);
        path = job("par", "edge.txt", "partition_size: 64KiB\nworkers: 2\n", steps);
        setenv("TU_EXEC_CMD", per_record[c], 1);
        tu_sh(0,
              "rm -f out/par.out && parallel --pipepart -a edge.txt -k -j2 --block 64k "
              "\"$TU_EXEC_CMD\" > par.ref && %s run %s && cmp par.ref out/par.out",
              TRANCHE_BIN, path);
    }
}

static void
test_exec__argv_form_and_a_last_record_without_delimiter(void **state)
{
    const char *path;

    (void)state;
    tu_sh(0, "printf 'a 1\\nb 2\\nc 3' > unterminated.txt");
    path =
        job("argv", "unterminated.txt", "partition_size: 4\n", "  - exec: [awk, \"{print $2}\"]\n");
    tu_sh(0, "%s run %s && printf '1\\n2\\n3\\n' | cmp - out/argv.out", TRANCHE_BIN, path);
    /* a command whose last output record has no delimiter: it still counts */
    path = job("nolf", "small.txt", "", "  - exec: \"printf 'x\\\\ny'\"\n");
    tu_sh(0, "%s run %s && printf 'x\\ny\\n' | cmp - out/nolf.out", TRANCHE_BIN, path);
}

static void
test_exec__between_plugin_steps_and_over_gzip(void **state)
{
    const char *path;

    (void)state;
    path = job("mid", "lines.txt", "partition_size: 32KiB\nworkers: 2\n",
               "  - plugin: upper\n  - exec: \"awk '{print $1, $2}'\"\n"
               "  - plugin: grep\n    options: {pattern: '7'}\n");
    tu_sh(0,
          "%s run %s && tr a-z A-Z < lines.txt | awk '{print $1, $2}' | grep 7 | "
          "cmp - out/mid.out",
          TRANCHE_BIN, path);
    tu_sh(0, "gzip -c lines.txt > lines.txt.gz");
    path = job("gz", "lines.txt.gz", "workers: 2\n", "  - exec: \"awk '{print $1}'\"\n");
    tu_sh(0, "%s run %s && awk '{print $1}' lines.txt | cmp - out/gz.out", TRANCHE_BIN, path);
    tu_sh(0,
          "rm out/gz.out && %s run %s --in-process && awk '{print $1}' lines.txt | "
          "cmp - out/gz.out",
          TRANCHE_BIN, path);
}

static void
test_exec__misbehaving_commands_do_not_deadlock(void **state)
{
    const char *path;

    (void)state;
    /* reads nothing: one line per partition */
    path =
        job("echo", "lines.txt", "partition_size: 64KiB\nworkers: 2\n", "  - exec: \"echo hi\"\n");
    tu_sh(0,
          "%s run %s && [ \"$(sort -u out/echo.out)\" = hi ] && "
          "[ \"$(wc -l < out/echo.out)\" -ge 5 ]",
          TRANCHE_BIN, path);
    /* writes 5 MB before reading; far more than a pipe holds */
    path = job("first", "lines.txt", "partition_size: 128KiB\nworkers: 2\n",
               "  - exec: \"yes | head -c 5000000; cat\"\n");
    tu_sh(0,
          "%s run %s && grep -v '^y$' out/first.out | cmp - lines.txt && "
          "[ $(($(grep -c '^y$' out/first.out) %% 2500000)) -eq 0 ]",
          TRANCHE_BIN, path);
    /* writes 2000 times what it reads */
    path = job("more", "small.txt", "partition_size: 4KiB\nworkers: 2\n",
               "  - exec: \"awk '{for (i = 0; i < 2000; i++) print}'\"\n");
    tu_sh(0, "%s run %s && awk '{for (i = 0; i < 2000; i++) print}' small.txt | cmp - out/more.out",
          TRANCHE_BIN, path);
    /* closes stdin after one line: the first record of the one partition */
    path = job("head", "lines.txt", "partition_size: 64MiB\n", "  - exec: \"head -n 1\"\n");
    tu_sh(0, "%s run %s && head -n 1 lines.txt | cmp - out/head.out", TRANCHE_BIN, path);
    path = job("heads", "lines.txt", "partition_size: 16KiB\nworkers: 7\n",
               "  - exec: [head, -n, \"1\"]\n");
    tu_sh(0, "%s run %s && [ \"$(wc -l < out/heads.out)\" -ge 20 ]", TRANCHE_BIN, path);
}

static void
test_exec__a_failing_command_names_itself_its_status_and_stderr(void **state)
{
    char *err = NULL;
    const char *path;

    (void)state;
    path = job("exit3", "lines.txt", "", "  - exec: \"echo first >&2; echo oops >&2; exit 3\"\n");
    assert_int_equal(tu_tranche(&err, "run %s", path), 1);
    tu_assert_contains(err, "step 1 (exec echo)");
    tu_assert_contains(err, "command 'echo first >&2; echo oops >&2; exit 3' exited with status 3");
    tu_assert_contains(err, "  | first\n  | oops");
    free(err);
    tu_sh(0, "[ ! -e out/exit3.out ] && grep -q 'stderr: oops' logs/exit3/worker-*.log");

    path = job("segv", "lines.txt", "workers: 2\n", "  - exec: \"kill -SEGV $$\"\n");
    assert_int_equal(tu_tranche(&err, "run %s", path), 1);
    tu_assert_contains(err, "command 'kill -SEGV $$' killed by signal SIGSEGV");
    free(err);
    /* under on_error: skip, a partition the command fails on is run again record by record:
     * only the records it fails on alone are left out (exit 3), the others keep their output,
     * in order, as awk gives it over the whole file without them */
    tu_sh(0, "seq 1 300 | sed 's/$/ x/' > few.txt");
    path = job("skip", "few.txt", "on_error: skip\nworkers: 2\npartition_size: 256\n",
               "  - exec: \"awk '/13/ {exit 5} {print $1}'\"\n");
    assert_int_equal(tu_tranche(&err, "run %s", path), 3);
    free(err);
    tu_sh(0, "awk '!/13/ {print $1}' few.txt | cmp - out/skip.out && "
             "[ $(grep -vc '^#' logs/skip/rejects.tsv) -eq $(grep -c 13 few.txt) ] && "
             "grep -q \"command 'awk '/13/ {exit 5} {print \\$1}'' exited with status 5\" "
             "logs/skip/rejects.tsv && grep -c 13 few.txt | grep -qx 13");
    /* and a command that fails on every record leaves them all out, up to max_skipped */
    path = job("skipall", "few.txt", "on_error: skip\nmax_skipped: 10\npartition_size: 512\n",
               "  - exec: \"exit 4\"\n");
    assert_int_equal(tu_tranche(&err, "run %s", path), 1);
    tu_assert_contains(err, "max_skipped");
    free(err);
}

static void
test_exec__validate_finds_a_missing_command_at_its_line(void **state)
{
    char *err = NULL;
    const char *path;

    (void)state;
    path =
        job("missing", "lines.txt", "", "  - plugin: upper\n  - exec: [no-such-command-xyz, -a]\n");
    assert_int_equal(tu_tranche(&err, "validate %s", path), 2);
    tu_assert_contains(err, "missing.yaml:8:12: step 2 (exec no-such-command-xyz): ");
    tu_assert_contains(err, "no-such-command-xyz: command not found");
    free(err);
    assert_int_equal(tu_tranche(&err, "run %s", path), 2);
    tu_assert_contains(err, "command not found");
    free(err);
    path = job("nodir", "lines.txt", "", "  - exec: cat\n    cwd: no-such-dir\n");
    assert_int_equal(tu_tranche(&err, "validate %s", path), 2);
    tu_assert_contains(err, "nodir.yaml:8:10: step 1 (exec cat): option 'cwd'");
    tu_assert_contains(err, "No such file or directory");
    free(err);
    /* found, but exec fails (its interpreter is missing): the run says so, from the child */
    tu_sh(0, "printf '#!/no/such/interpreter\\ncat\\n' > badint.sh && chmod +x badint.sh");
    path = job("badint", "lines.txt", "", "  - exec: [./badint.sh]\n");
    assert_int_equal(tu_tranche(&err, "run %s", path), 1);
    tu_assert_contains(err, "step 1 (exec ./badint.sh): cannot run command './badint.sh': No such "
                            "file or directory");
    free(err);
    path = job("plain", "lines.txt", "", "  - exec: [./lines.txt]\n");
    assert_int_equal(tu_tranche(&err, "validate %s", path), 2);
    tu_assert_contains(err, "./lines.txt: command not found");
    free(err);
}

static void
test_exec__env_cwd_and_no_leaked_descriptors(void **state)
{
    const char *path;

    (void)state;
    path = job("env", "small.txt", "",
               "  - exec: 'echo \"$GREETING $LC_ALL\"; pwd -P'\n    env: {GREETING: hello, "
               "LC_ALL: C}\n    cwd: sub\n");
    tu_sh(0, "%s run %s && printf 'hello C\\n%%s\\n' \"$(cd sub && pwd -P)\" | cmp - out/env.out",
          TRANCHE_BIN, path);
    /* ls's own directory is 3; nothing else of the job reaches the command */
    path = job("fds", "lines.txt", "partition_size: 64KiB\nworkers: 2\n",
               "  - exec: \"ls /proc/self/fd\"\n");
    tu_sh(0, "%s run %s && [ \"$(sort -u out/fds.out | tr '\\n' ' ')\" = '0 1 2 3 ' ]", TRANCHE_BIN,
          path);
    tu_sh(0,
          "rm out/fds.out && %s run %s --in-process && "
          "[ \"$(sort -u out/fds.out | tr '\\n' ' ')\" = '0 1 2 3 ' ]",
          TRANCHE_BIN, path);
}

static void
test_exec__retries_run_a_failed_command_again(void **state)
{
    char *err = NULL;
    const char *path;

    (void)state;
    path = job("retry", "lines.txt", "retries: 1\n",
               "  - exec: \"[ -e retry.marker ] || { touch retry.marker; exit 5; }; cat\"\n"
               "    cwd: .\n");
    tu_sh(0, "rm -f retry.marker && %s run %s && cmp lines.txt out/retry.out", TRANCHE_BIN, path);
    path = job("noretry", "lines.txt", "",
               "  - exec: \"[ -e noretry.marker ] || { touch noretry.marker; exit 5; }; cat\"\n");
    assert_int_equal(tu_tranche(&err, "run %s", path), 1);
    tu_assert_contains(err, "exited with status 5");
    free(err);
}

static void
test_exec__what_a_command_leaves_running_is_killed(void **state)
{
    struct timespec t0;
    const char *path;

    (void)state;
    path = job("bg", "lines.txt", "partition_size: 64KiB\nworkers: 2\n",
               "  - exec: \"sleep 3141 & cat\"\n");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tu_sh(0, "%s run %s && cmp lines.txt out/bg.out", TRANCHE_BIN, path);
    tu_sh(0, "rm out/bg.out && %s run %s --in-process && cmp lines.txt out/bg.out", TRANCHE_BIN,
          path);
    assert_true(tu_seconds_since(&t0) < 60);
    assert_int_equal(tu_process_with_arg("3141"), 0);
}

/* Starts the run in the background, waits for the command to start, sends it `sig`, and checks
 * that it fails and leaves no process of the command behind. */
static void
stop_while_running(const char *sig, const char *options)
{
    char steps[512];
    const char *path;

    snprintf(steps, sizeof(steps),
             "  - exec: \"touch %s/stop.hit; sleep 3142 & sleep 3143; cat\"\n", tu_dir);
    path = job("stop", "lines.txt", "workers: 2\n", steps);
    tu_sh(0,
          TU_SH_WAIT "rm -f stop.hit && { env --default-signal=INT %s run %s %s 2>stop.err & } "
                     "&& pid=$! && tu_wait_for 30 '[ -e stop.hit ]' && kill -%s $pid; "
                     "tu_reap $pid 30; rc=$?; [ $rc -ne 0 ] && [ $rc -ne 124 ] && "
                     "tu_wait_for 10 '! pgrep -f \"sleep 314[23]\" >/dev/null' && "
                     "[ ! -e out/stop.out ]",
          TRANCHE_BIN, path, options, sig);
}

static void
test_exec__stop_signals_leave_no_command_behind(void **state)
{
    (void)state;
    stop_while_running("TERM", "");
    stop_while_running("INT", "");
    stop_while_running("TERM", "--in-process");
    stop_while_running("INT", "--in-process");
}

static void
test_exec__a_timeout_kills_the_command_and_what_it_started(void **state)
{
    char *err = NULL;
    const char *path;

    (void)state;
    path = job("timeout", "lines.txt", "partition_timeout: 1s\n",
               "  - exec: \"sleep 3144 & sleep 3145; cat\"\n");
    assert_int_equal(tu_tranche(&err, "run %s", path), 124);
    tu_assert_contains(err, "partition_timeout");
    free(err);
    tu_sh(0, TU_SH_WAIT "tu_wait_for 10 '! pgrep -f \"sleep 314[45]\" >/dev/null' && "
                        "[ ! -e out/timeout.out ]");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec__per_record_commands_equal_the_command_on_the_whole_file),
        cmocka_unit_test(test_exec__per_record_commands_equal_gnu_parallel),
        cmocka_unit_test(test_exec__argv_form_and_a_last_record_without_delimiter),
        cmocka_unit_test(test_exec__between_plugin_steps_and_over_gzip),
        cmocka_unit_test(test_exec__misbehaving_commands_do_not_deadlock),
        cmocka_unit_test(test_exec__a_failing_command_names_itself_its_status_and_stderr),
        cmocka_unit_test(test_exec__validate_finds_a_missing_command_at_its_line),
        cmocka_unit_test(test_exec__env_cwd_and_no_leaked_descriptors),
        cmocka_unit_test(test_exec__retries_run_a_failed_command_again),
        cmocka_unit_test(test_exec__what_a_command_leaves_running_is_killed),
        cmocka_unit_test(test_exec__stop_signals_leave_no_command_behind),
        cmocka_unit_test(test_exec__a_timeout_kills_the_command_and_what_it_started),
    };

    return cmocka_run_group_tests(tests, group_setup, tu_group_teardown);
}
