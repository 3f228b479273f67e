/*
 * tests/e2e/test_process_edges.c: what the process environment and misbehaving plugins do to a
 * run (issue P4): closed standard descriptors, signals the runner did not expect or was told to
 * ignore, a runner killed outright, a file size limit, plugins that crash or exit where no
 * record is running, start threads or processes, or signal their process group. Exit 0 must
 * mean the right output; anything else is exit 1 or 2 with a message, promptly, and nothing left
 * behind: no output, no temporary or part file, no process.
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

#define ROGUE TEST_PLUGIN_DIR "/rogue.so"
#define FAILER TEST_PLUGIN_DIR "/failer.so"

/* Writes NAME.yaml (input in.txt, output out/NAME.out, logs logs/NAME) with these steps and
 * returns its path (static). */
static const char *
job(const char *name, const char *steps)
{
    static char path[1024];
    char body[4096];

    snprintf(body, sizeof(body),
             "input:\n  path: in.txt\noutput:\n  path: out/%s.out\nlog_dir: logs/%s\n"
             "partition_size: 4KiB\nsteps:\n%s",
             name, name, steps);
    snprintf(path, sizeof(path), "%s/%s.yaml", tu_dir, name);
    tu_write_file(path, body, strlen(body));
    return path;
}

/* Nothing in out/ (no output, no temporary file, no part directory), but the work a failed run
 * that wrote partitions keeps for --resume. */
static void
assert_out_empty(void)
{
    tu_sh(0, TU_SH_NO_DEBRIS "tu_no_debris out || { ls -laR out >&2; false; }; "
                             "rm -rf out/*.tranche-work");
}

static int
group_setup(void **state)
{
    int rc = tu_group_setup(state);

    if (rc == 0) {
        tu_sh(0, "mkdir -p out && seq 1 3000 | sed -e 's/^2001$/2001 boom/' "
                 "-e 's/^11$/11 sleepy/' -e 's/$/ some text/' > in.txt && "
                 "LC_ALL=C tr a-z A-Z < in.txt > upper.ref");
    }
    return rc;
}

static void
test_process__closed_standard_descriptors(void **state)
{
    const char *path = job("closed", "  - plugin: upper\n");

    (void)state;
    /* stdout, stderr, both, and stdin closed: the run must still work and write its output */
    tu_sh(0, "%s run %s --workers 2 1>&- && cmp upper.ref out/closed.out", TRANCHE_BIN, path);
    tu_sh(0, "rm -f out/closed.out && %s run %s --workers 2 2>&- && cmp upper.ref out/closed.out",
          TRANCHE_BIN, path);
    tu_sh(0,
          "rm -f out/closed.out && %s run %s --workers 2 0<&- 1>&- 2>&- && "
          "cmp upper.ref out/closed.out && rm -f out/closed.out",
          TRANCHE_BIN, path);
}

static void
test_process__a_plugin_crashing_in_the_option_check_is_a_configuration_error(void **state)
{
    const char *path = job("initcrash", "  - plugin: upper\n  - plugin: " ROGUE "\n"
                                        "    options: { mode: init_crash }\n");
    char *err = NULL;

    (void)state;
    assert_int_equal(tu_tranche(&err, "validate %s", path), 2);
    tu_assert_contains(err, "initcrash.yaml:9:5: step 2 (");
    tu_assert_contains(err, "killed by signal SIGSEGV");
    free(err);
    assert_int_equal(tu_tranche(&err, "run %s", path), 2);
    tu_assert_contains(err, "killed by signal SIGSEGV");
    free(err);
    assert_out_empty();
}

static void
test_process__a_thread_started_in_the_check_never_reaches_the_output(void **state)
{
    const char *path = job("thread", "  - plugin: " ROGUE "\n    options: { mode: init_thread }\n"
                                     "  - plugin: upper\n");

    (void)state;
    /* the option check runs init in a child, so the plugin's thread dies with it; the workers'
     * threads print into their logs */
    tu_sh(0, "%s run %s --workers 2 -o - > thread.out && cmp upper.ref thread.out", TRANCHE_BIN,
          path);
    tu_sh(0, "%s run %s --in-process -o - > thread.out 2>/dev/null && cmp upper.ref thread.out",
          TRANCHE_BIN, path);
}

static void
test_process__emit_from_fini_fails_the_job(void **state)
{
    const char *path = job("finiemit", "  - plugin: " ROGUE "\n    options: { mode: fini_emit }\n");
    char *err = NULL;

    (void)state;
    assert_int_equal(tu_tranche(&err, "validate %s", path), 2);
    tu_assert_contains(err, "emit called outside record(), begin_partition(), end_partition()");
    free(err);
    /* (validate fails first in run too: the same check) */
    assert_int_equal(tu_tranche(&err, "run %s --workers 2", path), 2);
    free(err);
    assert_out_empty();
}

static void
test_process__exit_in_process_is_a_failure(void **state)
{
    const char *path = job("exit0", "  - plugin: " ROGUE "\n"
                                    "    options: { mode: exit0, match: boom }\n");
    char *err = NULL;

    (void)state;
    assert_int_equal(tu_tranche(&err, "run %s --in-process", path), 1);
    tu_assert_contains(err, "called exit()");
    free(err);
    assert_out_empty();
    /* forked, the worker's death is reported where it happened */
    assert_int_equal(tu_tranche(&err, "run %s --workers 2", path), 1);
    tu_assert_contains(err, "exited with status 0");
    free(err);
    assert_out_empty();
}

static void
test_process__a_crash_between_records_names_no_record(void **state)
{
    const char *path = job("endcrash", "  - plugin: " ROGUE "\n    options: { mode: end_crash }\n");
    char *err = NULL;

    (void)state;
    assert_int_equal(tu_tranche(&err, "run %s --workers 2", path), 1);
    tu_assert_contains(err, "killed by signal SIGABRT");
    tu_assert_contains(err, "outside any record (in begin_partition or end_partition)");
    if (strstr(err, "18446744073709551615") != NULL) {
        fail_msg("a crash outside any record named a record:\n%s", err);
    }
    free(err);
    assert_out_empty();
}

static void
test_process__a_lingering_child_of_a_plugin_does_not_hold_the_job(void **state)
{
    char steps[1024], *err = NULL;
    const char *path;

    (void)state;
    snprintf(steps, sizeof(steps),
             "  - plugin: " ROGUE "\n    options: { mode: fork_linger, match: boom, marker: "
             "%s/linger.pid }\n",
             tu_dir);
    path = job("linger", steps);
    /* the helper sleeps 60 s holding the worker's descriptors: the job must not wait for it */
    /* and it is stopped with its worker, though the job succeeded (it still held the output) */
    tu_sh(0,
          TU_SH_WAIT "rm -f linger.pid; s=$(date +%%s); %s run %s --workers 2 && "
                     "[ $(( $(date +%%s) - s )) -lt 20 ] && cmp in.txt out/linger.out && "
                     "tu_wait_for 10 '! kill -0 $(cat linger.pid) 2>/dev/null'; rc=$?; "
                     "[ -s linger.pid ] && kill $(cat linger.pid) 2>/dev/null; "
                     "rm -f out/linger.out; exit $rc",
          TRANCHE_BIN, path);
    /* and a worker that dies after starting one is reported at once */
    snprintf(steps, sizeof(steps),
             "  - plugin: " ROGUE "\n    options: { mode: fork_linger_crash, match: boom, "
             "marker: %s/linger2.pid }\n",
             tu_dir);
    path = job("linger2", steps);
    assert_int_equal(
        tu_run_here(&err,
                    "rm -f linger2.pid; s=$(date +%%s); %s run %s --workers 2; rc=$?; "
                    "[ $(( $(date +%%s) - s )) -lt 20 ] || rc=99; "
                    "[ -s linger2.pid ] && kill $(cat linger2.pid) 2>/dev/null; exit $rc",
                    TRANCHE_BIN, path),
        1);
    tu_assert_contains(err, "killed by signal SIGSEGV");
    free(err);
    assert_out_empty();
}

static void
test_process__a_plugin_signalling_its_group_is_not_the_user_interrupting(void **state)
{
    const char *path = job("killgroup", "  - plugin: " ROGUE "\n"
                                        "    options: { mode: kill_group, match: boom }\n");
    char *err = NULL;

    (void)state;
    /* (setsid: whatever the process group is, it is not the test's) */
    assert_int_equal(tu_run_here(&err, "setsid %s run %s --workers 2", TRANCHE_BIN, path), 1);
    tu_assert_contains(err, "killed by signal SIGTERM");
    tu_assert_contains(err, "partition");
    if (strstr(err, "interrupted") != NULL) {
        fail_msg("a plugin's kill(0, SIGTERM) was taken for the user's:\n%s", err);
    }
    free(err);
    assert_out_empty();
}

/* Starts the job in the background (in a session of its own), waits for the failer's marker,
 * then runs ACTION with $pid set, waits for the job (bounded) and exits with its status. */
static int
run_until_marked(char **err, const char *path, const char *args, const char *marker,
                 const char *action)
{
    return tu_run_here(err,
                       TU_SH_WAIT "rm -f %s && { setsid env --default-signal %s run %s %s & } && "
                                  "pid=$! && "
                                  "tu_wait_for 30 '[ -e %s ]' || { echo 'never marked' >&2; "
                                  "kill -KILL $pid; exit 99; }; %s; tu_reap $pid 30",
                       marker, TRANCHE_BIN, path, args, marker, action);
}

static void
test_process__more_stop_signals_stop_cleanly(void **state)
{
    static const char *const sigs[] = {"USR1", "USR2", "ALRM", "QUIT", "XCPU", "VTALRM"};
    char steps[1024], *err = NULL, want[64];
    const char *path;
    size_t i;

    (void)state;
    snprintf(steps, sizeof(steps),
             "  - plugin: " FAILER "\n    options: { match: sleepy, mode: hang, marker: "
             "%s/stop.hit }\n",
             tu_dir);
    path = job("stopsig", steps);
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        char action[64];
        snprintf(action, sizeof(action), "kill -%s $pid", sigs[i]);
        assert_int_equal(run_until_marked(&err, path, "--workers 2", "stop.hit", action), 1);
        snprintf(want, sizeof(want), "interrupted by signal SIG%s", sigs[i]);
        tu_assert_contains(err, want);
        free(err);
        assert_out_empty();
    }
}

static void
test_process__a_signal_ignored_at_start_stays_ignored(void **state)
{
    char steps[1024];
    const char *path;

    (void)state;
    /* nohup's way: SIGHUP ignored when tranche starts; a SIGHUP then must not stop the job */
    snprintf(steps, sizeof(steps),
             "  - plugin: " FAILER "\n    options: { match: sleepy, mode: wait, release: "
             "%s/hup.go, marker: %s/hup.hit }\n  - plugin: upper\n",
             tu_dir, tu_dir);
    path = job("hup", steps);
    tu_sh(0,
          TU_SH_WAIT
          "rm -f hup.go hup.hit && { env --ignore-signal=HUP %s run %s --workers 2 & } && "
          "pid=$! && tu_wait_for 30 '[ -e hup.hit ]' && kill -HUP $pid && "
          "sleep 0.2 && touch hup.go && tu_reap $pid 30 && cmp upper.ref out/hup.out && "
          "rm -f out/hup.out",
          TRANCHE_BIN, path);
}

static void
test_process__workers_die_with_a_runner_killed_outright(void **state)
{
    char steps[1024];
    const char *path;

    (void)state;
    snprintf(steps, sizeof(steps),
             "  - plugin: " FAILER "\n    options: { match: sleepy, mode: hang, marker: "
             "%s/kill9.hit }\n",
             tu_dir);
    path = job("kill9", steps);
    /* SIGKILL leaves the runner no chance to clean up; its workers must not run on */
    tu_sh(0,
          TU_SH_WAIT "rm -f kill9.hit && { setsid %s run %s --workers 2 & } && pid=$! && "
                     "tu_wait_for 30 '[ -e kill9.hit ]' && "
                     "workers=$(sed -n 's/.*started worker [0-9]*, pid \\([0-9]*\\).*/\\1/p' "
                     "logs/kill9/tranche.log) && [ -n \"$workers\" ] && kill -KILL $pid && "
                     "wait $pid; for w in $workers; do "
                     "tu_wait_for 10 '[ -z \"$(tu_state '$w')\" ] || [ \"$(tu_state '$w')\" = Z ]' "
                     "|| { echo \"worker $w outlived the runner\" >&2; kill -KILL $w; exit 1; }; "
                     "done",
          TRANCHE_BIN, path);
    /* The killed runner's temporary output and part directory stay; the next run into the
     * same directory removes them (nobody holds their lock any more) */
    tu_sh(0, "ls -A out | grep -q '^\\.kill9\\.out\\.tranche-.*\\.tmp$' && "
             "ls -A out | grep -q '^\\.tranche-parts\\.'");
    path = job("kill9", "  - plugin: upper\n");
    tu_sh(0,
          "%s run %s --workers 2 && cmp upper.ref out/kill9.out && "
          "[ \"$(ls -A out)\" = kill9.out ] && rm out/kill9.out",
          TRANCHE_BIN, path);
}

static void
test_process__a_file_size_limit_is_a_clean_failure(void **state)
{
    const char *path = job("fsize", "  - plugin: upper\n");
    char *err = NULL;

    (void)state;
    /* 20 KiB: the output (about 40 KiB) cannot be written; write() fails with EFBIG instead of
     * SIGXFSZ killing the runner and leaving its temporary file */
    assert_int_equal(tu_run_here(&err, "ulimit -f 40 && %s run %s --workers 2", TRANCHE_BIN, path),
                     1);
    tu_assert_contains(err, "File too large");
    free(err);
    assert_out_empty();
}

static void
test_process__a_worker_death_is_seen_even_with_sigchld_ignored(void **state)
{
    const char *path = job("chld", "  - plugin: " FAILER "\n"
                                   "    options: { match: boom, mode: crash }\n");
    char *err = NULL;

    (void)state;
    assert_int_equal(tu_tranche(&err, "run %s --workers 2", path), 1);
    tu_assert_contains(err, "killed by signal SIGSEGV");
    free(err);
    assert_int_equal(
        tu_run_here(&err, "env --ignore-signal=CHLD %s run %s --workers 2", TRANCHE_BIN, path), 1);
    tu_assert_contains(err, "killed by signal SIGSEGV");
    free(err);
    assert_out_empty();
}

static void
test_process__limits_are_said_before_anything_runs(void **state)
{
    char *steps = malloc(65 * 20 + 1), *err = NULL;
    const char *path;
    size_t i;

    (void)state;
    assert_non_null(steps);
    path = job("limits", "  - plugin: upper\n");
    assert_int_equal(tu_tranche(&err, "run %s --workers 100000", path), 2);
    tu_assert_contains(err, "workers");
    free(err);
    /* three descriptors per worker in the runner: more workers than the limit allows are
     * refused before any starts, with the number that would do */
    assert_int_equal(
        tu_run_here(&err, "ulimit -n 200 && %s run %s --workers 100", TRANCHE_BIN, path), 2);
    tu_assert_contains(err, "the limit (ulimit -n) is 200: use at most 56 workers");
    free(err);
    tu_sh(0, "ulimit -n 200 && %s run %s --workers 56 -o - > /dev/null", TRANCHE_BIN, path);
    steps[0] = '\0';
    for (i = 0; i < 65; i++) {
        strcat(steps, "  - plugin: upper\n");
    }
    path = job("steps65", steps);
    free(steps);
    assert_int_equal(tu_tranche(&err, "validate %s", path), 2);
    tu_assert_contains(err, "steps65.yaml:72:5: a job has at most 64 steps");
    free(err);
    assert_out_empty();
}

static void
test_process__more_inputs_than_the_descriptor_limit(void **state)
{
    (void)state;
    /* An input is opened where it is read, not held for the whole job: 1,500 inputs (plain, and
     * gzip decoded by the runner) run under a hard limit of 64 descriptors, whatever it is here.
     * The names sort the same for the shell's glob and for tranche's. */
    tu_sh(0, "rm -rf many && mkdir many && i=1000; while [ $i -lt 2500 ]; do i=$((i + 1)); "
             "echo \"line $i\" > many/f$i.txt; done && "
             "for i in 1 2 3 4 5 6 7 8 9; do seq 1 5000 | sed \"s/^/$i./\" | gzip -n "
             "> many/f1${i}50.txt.gz; done");
    tu_sh(0,
          "printf 'input:\\n  path: many/*\\noutput:\\n  path: many.out\\nsteps:\\n"
          "  - plugin: upper\\n' > many.yaml && "
          "for f in many/*; do case $f in *.gz) zcat $f;; *) cat $f;; esac; done | "
          "tr a-z A-Z > many.ref && "
          "(ulimit -n 64 && %s run many.yaml --workers 4 --partition-size 4096) && "
          "cmp many.ref many.out && rm -rf many many.out many.ref",
          TRANCHE_BIN);
}

static void
test_process__what_review_found(void **state)
{
    char *err = NULL;
    const char *path;

    (void)state;
    path = job("rv", "  - plugin: upper\n");
    /* standard output closed: a job or a plan that writes there fails instead of losing it */
    assert_int_equal(tu_tranche(&err, "run %s -o - 1>&-", path), 2);
    tu_assert_contains(err, "standard output, which is closed");
    free(err);
    assert_int_equal(tu_tranche(&err, "plan %s 1>&-", path), 2);
    free(err);
    /* standard output appended to an input: refused before it grows the input */
    tu_sh(0, "cp in.txt in2.txt");
    assert_int_equal(tu_tranche(&err, "run %s --input in2.txt -o - >> in2.txt", path), 2);
    tu_assert_contains(err, "is also input");
    free(err);
    tu_sh(0, "cmp in.txt in2.txt && rm in2.txt");
    /* an unusable TMPDIR only costs the part files */
    tu_sh(0, "TMPDIR=/nonexistent %s run %s -o - --workers 2 > rv.out && cmp upper.ref rv.out",
          TRANCHE_BIN, path);
    /* a plugin signalling its group in the option check does not take the runner with it */
    path = job("rvkill", "  - plugin: " ROGUE "\n    options: { mode: init_killgroup }\n");
    assert_int_equal(
        tu_run_here(&err, "setsid sh -c '%s validate %s; echo \"rc=$?\" >&2'", TRANCHE_BIN, path),
        0);
    tu_assert_contains(err, "killed by signal SIGTERM");
    tu_assert_contains(err, "rc=2");
    free(err);
    /* a child of a plugin that calls exit() in-process is not the job ending */
    path = job("rvfork", "  - plugin: " ROGUE "\n    options: { mode: fork_exit, match: boom }\n");
    tu_sh(0, "%s run %s --in-process && cmp in.txt out/rvfork.out && rm out/rvfork.out",
          TRANCHE_BIN, path);
    /* a plugin that closes descriptors 3 to 20 breaks its worker's input, not its reports: the
     * failure is said where it happened */
    path = job("rvclose", "  - plugin: " ROGUE "\n    options: { mode: close_fds, match: boom }\n");
    assert_int_equal(tu_tranche(&err, "run %s --workers 2", path), 1);
    tu_assert_contains(err, "partition");
    if (strstr(err, "between partitions") != NULL) {
        fail_msg("closing descriptors was reported as a death between partitions:\n%s", err);
    }
    free(err);
    assert_out_empty();
    /* a stack limit too low for the chain is said before anything runs */
    path = job("rvstack", "  - plugin: upper\n  - plugin: upper\n  - plugin: upper\n"
                          "  - plugin: upper\n  - plugin: upper\n  - plugin: upper\n");
    assert_int_equal(tu_run_here(&err, "ulimit -s 5120 && %s validate %s", TRANCHE_BIN, path), 2);
    tu_assert_contains(err, "hard stack limit");
    free(err);
    assert_out_empty();
}

static void
test_process__one_partition_goes_to_standard_output(void **state)
{
    const char *path = job("onepart", "  - plugin: upper\n");

    (void)state;
    /* a debugging run of one partition does not replace the job's output */
    tu_sh(0,
          "%s run %s --partition 0 > part0.out && test ! -e out/onepart.out && "
          "first=$(%s plan %s | head -n 1) && set -- $first && "
          "head -c $3 upper.ref | cmp - part0.out",
          TRANCHE_BIN, path, TRANCHE_BIN, path);
    tu_sh(0,
          "%s run %s --partition 0 --output out/onepart.out && cmp part0.out out/onepart.out && "
          "rm out/onepart.out",
          TRANCHE_BIN, path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_process__closed_standard_descriptors),
        cmocka_unit_test(
            test_process__a_plugin_crashing_in_the_option_check_is_a_configuration_error),
        cmocka_unit_test(test_process__a_thread_started_in_the_check_never_reaches_the_output),
        cmocka_unit_test(test_process__emit_from_fini_fails_the_job),
        cmocka_unit_test(test_process__exit_in_process_is_a_failure),
        cmocka_unit_test(test_process__a_crash_between_records_names_no_record),
        cmocka_unit_test(test_process__a_lingering_child_of_a_plugin_does_not_hold_the_job),
        cmocka_unit_test(test_process__a_plugin_signalling_its_group_is_not_the_user_interrupting),
        cmocka_unit_test(test_process__more_stop_signals_stop_cleanly),
        cmocka_unit_test(test_process__a_signal_ignored_at_start_stays_ignored),
        cmocka_unit_test(test_process__workers_die_with_a_runner_killed_outright),
        cmocka_unit_test(test_process__a_file_size_limit_is_a_clean_failure),
        cmocka_unit_test(test_process__a_worker_death_is_seen_even_with_sigchld_ignored),
        cmocka_unit_test(test_process__limits_are_said_before_anything_runs),
        cmocka_unit_test(test_process__more_inputs_than_the_descriptor_limit),
        cmocka_unit_test(test_process__what_review_found),
        cmocka_unit_test(test_process__one_partition_goes_to_standard_output),
    };

    return cmocka_run_group_tests(tests, group_setup, tu_group_teardown);
}
