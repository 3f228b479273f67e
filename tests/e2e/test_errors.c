/*
 * tests/e2e/test_errors.c: every failure a user can reach, through the real CLI: plugins that
 * fail, crash, exit or hang on a chosen record; plugins that do not load; bad options; unreadable
 * input; a full disk (simulated with a file size limit). Each must give the documented exit code
 * and a message naming where, and leave no output, no temporary or part file, and no process.
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

/* Writes job NAME.yaml in the test directory with the given steps and returns its path. */
static const char *
job(const char *name, const char *steps)
{
    static char path[1024];
    char body[4096];

    snprintf(body, sizeof(body),
             "input:\n  path: input.txt\noutput:\n  path: out/%s.out\nlog_dir: logs/%s\n"
             "partition_size: 2KiB\nsteps:\n%s",
             name, name, steps);
    snprintf(path, sizeof(path), "%s/%s.yaml", tu_dir, name);
    tu_write_file(path, body, strlen(body));
    return path;
}

/* 3000 records; "boom" is in record 2001, "sleepy" in record 11. */
static void
make_input(void)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd),
             "cd '%s' && mkdir -p out && seq 1 3000 | sed -e 's/^2001$/2001 boom/' "
             "-e 's/^11$/11 sleepy/' -e 's/$/ some text/' > input.txt",
             tu_dir);
    assert_int_equal(tu_run(cmd, NULL), 0);
}

/* Nothing at the output, no temporary or part file beside it (the work a failed run keeps for
 * --resume is not debris: test_resume.c), no process of this job left. */
static void
assert_clean(const char *name, const char *job_path)
{
    char cmd[2048];

    snprintf(cmd, sizeof(cmd),
             TU_SH_NO_DEBRIS "tu_no_debris '%s/out' && rm -rf '%s'/out/*.tranche-work", tu_dir,
             tu_dir);
    if (tu_run(cmd, NULL) != 0) {
        snprintf(cmd, sizeof(cmd), "ls -la '%s/out' >&2", tu_dir);
        tu_run(cmd, NULL);
        fail_msg("%s: files left in the output directory", name);
    }
    if (tu_process_with_arg(job_path) != 0) {
        fail_msg("%s: a process of the job is still running", name);
    }
}

static const char failer_steps[] = "  - plugin: upper\n  - plugin: " TEST_PLUGIN_DIR "/failer.so\n"
                                   "    options: { match: BOOM, mode: %s }\n";

static char *
failing_job(const char *mode, int workers, int expect_rc)
{
    char steps[1024], *err = NULL;
    const char *path;

    make_input();
    snprintf(steps, sizeof(steps), failer_steps, mode);
    path = job(mode, steps);
    assert_int_equal(tu_runf(&err, "%s run %s --workers %d", TRANCHE_BIN, path, workers),
                     expect_rc);
    if (expect_rc != 0) {
        assert_clean(mode, path);
    }
    return err;
}

static void
test_errors__plugin_error_names_partition_step_and_log(void **state)
{
    char *err = failing_job("error", 2, 1);

    (void)state;
    tu_assert_contains(err, "partition ");
    tu_assert_contains(err, "of ");
    tu_assert_contains(err, "step 2 (");
    tu_assert_contains(err, "failer hit record '2001 BOOM SOME TEXT'");
    tu_assert_contains(err, "logs/error/worker-");
    tu_assert_contains(err, "job failed");
    free(err);
    /* fini runs in the failed worker too: its line is in one of the worker logs */
    assert_int_equal(tu_run_here(NULL, "grep -q 'failer: fini' logs/error/worker-*.log"), 0);
}

static void
test_errors__crash_names_signal_and_record_offset(void **state)
{
    char *err = failing_job("crash", 2, 1), *offset;
    char expect[128];

    (void)state;
    tu_assert_contains(err, "SIGSEGV");
    tu_assert_contains(err, "step 2 (");
    /* The record's byte offset, as grep -b gives it. */
    assert_int_equal(tu_run_here(NULL, "grep -b boom input.txt | cut -d: -f1 > boom.off"), 0);
    snprintf(expect, sizeof(expect), "%s/boom.off", tu_dir);
    offset = tu_read_file(expect, NULL);
    assert_non_null(offset);
    offset[strcspn(offset, "\n")] = '\0';
    snprintf(expect, sizeof(expect), "record starting at byte %s", offset);
    tu_assert_contains(err, expect);
    free(offset);
    free(err);
}

static void
test_errors__abort_and_exit_are_reported(void **state)
{
    char *err = failing_job("abort", 3, 1);

    (void)state;
    tu_assert_contains(err, "SIGABRT");
    free(err);
    err = failing_job("exit", 1, 1);
    tu_assert_contains(err, "exited with status 3");
    free(err);
}

static void
test_errors__failure_stops_a_hung_worker(void **state)
{
    char *err = NULL;
    const char *path;

    (void)state;
    make_input();
    path = job("hang", "  - plugin: " TEST_PLUGIN_DIR "/failer.so\n"
                       "    options: { match: sleepy, mode: hang }\n"
                       "  - plugin: " TEST_PLUGIN_DIR "/failer.so\n"
                       "    options: { match: 300 some, mode: error }\n");
    assert_int_equal(tu_runf(&err, "timeout 60 %s run %s --workers 2", TRANCHE_BIN, path), 1);
    tu_assert_contains(err, "step 2 (");
    tu_assert_contains(err, "failer hit record '300 some text'");
    assert_clean("hang", path);
    free(err);
}

static void
test_errors__plugin_stderr_lands_in_worker_log(void **state)
{
    char *err = failing_job("stderr", 1, 0), *log;
    char path[1024];

    (void)state;
    free(err);
    snprintf(path, sizeof(path), "%s/logs/stderr/worker-1.log", tu_dir);
    log = tu_read_file(path, NULL);
    assert_non_null(log);
    tu_assert_contains(log, "failer: stderr line for 2001 BOOM SOME TEXT");
    tu_assert_contains(log, "partition 0 [0, ");
    tu_assert_contains(log, "records in ");
    free(log);
    /* the job's output is complete despite the noise */
    assert_int_equal(tu_run_here(NULL, "tr a-z A-Z < input.txt | cmp - out/stderr.out && "
                                       "rm out/stderr.out"),
                     0);
}

struct load_case {
    const char *name;
    const char *steps;
    const char *expect[3];
};

static void
test_errors__plugin_loading_and_options_exit_2(void **state)
{
    static const struct load_case cases[] = {
        {"missing",
         "  - plugin: upper\n  - plugin: nosuchplugin\n",
         {":9:5: step 2 (nosuchplugin)", "plugin 'nosuchplugin' not found", "TRANCHE_PLUGIN_PATH"}},
        {"missing-path", "  - plugin: ./nope/x.so\n", {":8:5: step 1", "x.so", "No such file"}},
        {"bad-major",
         "  - plugin: " TEST_PLUGIN_DIR "/bad_major.so\n",
         {":8:5: step 1", "bad_major.so was built for plugin ABI 2.0", "ABI 1.3"}},
        {"new-minor",
         "  - plugin: " TEST_PLUGIN_DIR "/new_minor.so\n",
         {":8:5: step 1", "new_minor.so needs plugin ABI 1.4", "ABI 1.3"}},
        {"small-size",
         "  - plugin: " TEST_PLUGIN_DIR "/small_size.so\n",
         {":8:5: step 1", "small_size.so has a descriptor of 8 bytes", "too small"}},
        {"no-symbol",
         "  - plugin: " TEST_PLUGIN_DIR "/no_symbol.so\n",
         {":8:5: step 1", "no_symbol.so is not a tranche plugin", "tranche_plugin"}},
        {"not-so", "  - plugin: ./input.txt\n", {":8:5: step 1", "cannot load plugin", ""}},
        {"unknown-option",
         "  - plugin: grep\n    options: { patern: x }\n",
         {":9:16: step 1 (grep)", "no option 'patern'", "pattern"}},
        {"missing-required",
         "  - plugin: " TEST_PLUGIN_DIR "/typed.so\n",
         {":8:5: step 1", "needs option 'count'", ""}},
        {"bad-int",
         "  - plugin: " TEST_PLUGIN_DIR "/typed.so\n    options: { count: ten }\n",
         {":9:23: step 1", "option 'count'", "must be an integer, not 'ten'"}},
        {"bad-bool",
         "  - plugin: " TEST_PLUGIN_DIR "/typed.so\n    options: { count: 1, flag: maybe }\n",
         {":9:32: step 1", "option 'flag'", "must be a boolean"}},
        {"list-for-string",
         "  - plugin: " TEST_PLUGIN_DIR "/typed.so\n    options: { count: 1, name: [a, b] }\n",
         {"step 1", "option 'name'", "not a list"}},
        /* a value the plugin rejects: at the value (a list's: at the item), not at the step */
        {"bad-regex",
         "  - plugin: grep\n    options: { pattern: 'a(b' }\n",
         {":9:25: step 1 (grep): option 'pattern': ", "a(b", ""}},
        {"bad-regex-own-line",
         "  - plugin: grep\n    options:\n      pattern:\n        'a(b'\n",
         {":11:9: step 1 (grep): option 'pattern': ", "invalid pattern 'a(b'", ""}},
        {"bad-fields",
         "  - plugin: cut\n    options: { fields: [\"0\"] }\n",
         {":9:25: step 1 (cut): option 'fields', item 1: ", "0", ""}},
    };
    size_t i, k;

    (void)state;
    make_input();
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *path = job(cases[i].name, cases[i].steps);
        char *err = NULL;
        int rc;

        rc = tu_run_here(&err, "%s validate %s", TRANCHE_BIN, path);
        if (rc != 2) {
            fail_msg("%s: validate exit %d, expected 2: %s", cases[i].name, rc, err);
        }
        for (k = 0; k < 3; k++) {
            if (cases[i].expect[k][0] != '\0') {
                tu_assert_contains(err, cases[i].expect[k]);
            }
        }
        tu_assert_contains(err, path);
        free(err);
        /* run refuses the same way, before reading any input or creating anything */
        rc = tu_run_here(&err, "%s run %s", TRANCHE_BIN, path);
        assert_int_equal(rc, 2);
        assert_int_equal(tu_runf(NULL, "[ ! -e '%s/logs/%s' ]", tu_dir, cases[i].name), 0);
        free(err);
        assert_clean(cases[i].name, path);
    }
}

static void
test_errors__bad_inputs_and_outputs(void **state)
{
    char *err = NULL;
    const char *path;

    (void)state;
    make_input();
    path = job("inputs", "  - plugin: upper\n");
    assert_int_equal(tu_runf(&err, "%s run %s --input '%s/none.txt'", TRANCHE_BIN, path, tu_dir),
                     2);
    tu_assert_contains(err, "cannot open input");
    tu_assert_contains(err, "none.txt: No such file or directory");
    free(err);
    assert_int_equal(tu_runf(&err, "%s run %s --input '%s/out'", TRANCHE_BIN, path, tu_dir), 2);
    tu_assert_contains(err, "is not a regular file");
    free(err);
    if (geteuid() != 0) {
        assert_int_equal(tu_run_here(NULL, "cp input.txt secret && chmod 000 secret"), 0);
        assert_int_equal(tu_runf(&err, "%s run %s --input '%s/secret'", TRANCHE_BIN, path, tu_dir),
                         2);
        tu_assert_contains(err, "Permission denied");
        free(err);
    }
    assert_int_equal(tu_runf(&err, "%s run %s --output '%s/input.txt'", TRANCHE_BIN, path, tu_dir),
                     2);
    tu_assert_contains(err, "refusing to overwrite an input");
    free(err);
    /* A missing output directory is created; one that cannot be is an error. */
    assert_int_equal(
        tu_runf(&err, "%s run %s --output '%s/out/new/dir/x'", TRANCHE_BIN, path, tu_dir), 0);
    assert_int_equal(tu_run_here(NULL, "tr a-z A-Z < input.txt | cmp - out/new/dir/x && "
                                       "rm -r out/new"),
                     0);
    free(err);
    assert_int_equal(
        tu_runf(&err, "%s run %s --output '%s/input.txt/x'", TRANCHE_BIN, path, tu_dir), 2);
    tu_assert_contains(err, "input.txt/x");
    tu_assert_contains(err, "Not a directory");
    free(err);
    assert_int_equal(
        tu_runf(&err, "%s run %s --log-dir '%s/input.txt/logs'", TRANCHE_BIN, path, tu_dir), 2);
    tu_assert_contains(err, "input.txt/logs");
    free(err);
    assert_clean("inputs", path);
}

static void
test_errors__full_disk_leaves_nothing(void **state)
{
    char *err = NULL;
    const char *path;

    (void)state;
    make_input();
    /* A file size limit of 8 KiB (ulimit -f counts 1024-byte blocks) makes writes fail with EFBIG
     * as a full disk would with ENOSPC; SIGXFSZ is ignored so the write returns the error. */
    path = job("full", "  - plugin: upper\n");
    assert_int_equal(tu_run_here(&err,
                                 "(trap '' XFSZ; ulimit -f 8; exec %s run %s "
                                 "--workers 2)",
                                 TRANCHE_BIN, path),
                     1);
    tu_assert_contains(err, "File too large");
    tu_assert_contains(err, "out/");
    free(err);
    assert_clean("full", path);
}

static void
test_errors__cli_usage(void **state)
{
    char *err = NULL, *out;
    const char *path;
    char outpath[1024];

    (void)state;
    make_input();
    path = job("cli", "  - plugin: upper\n");
    snprintf(outpath, sizeof(outpath), "%s/cli.txt", tu_dir);
    assert_int_equal(tu_runf(NULL, "%s --version > '%s'", TRANCHE_BIN, outpath), 0);
    out = tu_read_file(outpath, NULL);
    tu_assert_contains(out, "tranche ");
    tu_assert_contains(out, "plugin ABI 1.3");
    tu_assert_contains(out, "libyaml 0.");
    tu_assert_contains(out, "zlib 1.");
    free(out);
    assert_int_equal(tu_runf(NULL, "%s plugins > '%s'", TRANCHE_BIN, outpath), 0);
    out = tu_read_file(outpath, NULL);
    tu_assert_contains(out, "upper");
    tu_assert_contains(out, "grep");
    tu_assert_contains(out, "cut");
    free(out);
    assert_int_equal(tu_runf(NULL, "%s plugins grep > '%s'", TRANCHE_BIN, outpath), 0);
    out = tu_read_file(outpath, NULL);
    tu_assert_contains(out, "pattern");
    tu_assert_contains(out, "invert");
    free(out);
    /* the option table's columns line up, whatever the longest name (cut's output_delimiter) */
    assert_int_equal(tu_runf(NULL,
                             "%s plugins cut | grep -E '^    [a-z_]+ +(string|list) ' | "
                             "awk '{ print index($0, $2) }' | sort -u | wc -l | grep -qx 1",
                             TRANCHE_BIN),
                     0);
    assert_int_equal(tu_runf(NULL, "TRANCHE_PLUGIN_PATH='%s' %s plugins summary > '%s'",
                             TEST_PLUGIN_DIR, TRANCHE_BIN, outpath),
                     0);
    assert_int_equal(tu_runf(NULL, "%s --help | grep -q 'tranche run'", TRANCHE_BIN), 0);
    assert_int_equal(tu_runf(NULL, "%s run --help | grep -q -- '--partition-size'", TRANCHE_BIN),
                     0);
    assert_int_equal(tu_runf(&err, "%s frobnicate", TRANCHE_BIN), 2);
    tu_assert_contains(err, "unknown command 'frobnicate'");
    free(err);
    assert_int_equal(tu_runf(&err, "%s run", TRANCHE_BIN), 2);
    tu_assert_contains(err, "missing job file");
    free(err);
    assert_int_equal(tu_runf(&err, "%s run %s --workers 0", TRANCHE_BIN, path), 2);
    tu_assert_contains(err, "--workers");
    free(err);
    assert_int_equal(tu_runf(&err, "%s run %s --partition-size 12XB", TRANCHE_BIN, path), 2);
    tu_assert_contains(err, "--partition-size");
    free(err);
    assert_int_equal(tu_runf(&err, "%s run %s --bogus", TRANCHE_BIN, path), 2);
    tu_assert_contains(err, "unknown option '--bogus'");
    free(err);
    assert_int_equal(tu_runf(&err, "%s run '%s/nope.yaml'", TRANCHE_BIN, tu_dir), 2);
    tu_assert_contains(err, "nope.yaml");
    free(err);
    assert_int_equal(tu_runf(NULL, "%s validate %s | grep -q ': ok'", TRANCHE_BIN, path), 0);
    assert_clean("cli", path);
}

static void
test_errors__odd_names_and_option_order(void **state)
{
    char *err = NULL;
    const char *text = "input:\n  path: [\"odd/a\\nb.txt\", \"odd/c\\\\d.txt\"]\noutput:\n"
                       "  path: odd.out\nlog_dir: logs/odd\nsteps:\n  - plugin: upper\n";
    char path[1024];

    (void)state;
    /* A file name with a newline or a backslash stays on its partition's line, escaped */
    snprintf(path, sizeof(path), "%s/odd.yaml", tu_dir);
    tu_write_file(path, text, strlen(text));
    assert_int_equal(
        tu_run_here(&err,
                    "mkdir -p odd && echo one > 'odd/a\nb.txt' && "
                    "echo two > 'odd/c\\d.txt' && %s plan odd.yaml > odd.plan && "
                    "[ $(wc -l < odd.plan) -eq 2 ] && grep -qF 'odd/a\\nb.txt' odd.plan && "
                    "grep -qF 'odd/c\\\\d.txt' odd.plan",
                    TRANCHE_BIN),
        0);
    free(err);
    /* tranche index takes its options after the files too */
    assert_int_equal(tu_run_here(&err,
                                 "seq 1 1000 | gzip > late.gz && %s index late.gz --beside "
                                 "--jobs 2 --spacing 1MiB > /dev/null && test -e "
                                 "late.gz.tranche-index && test ! -e ./--jobs",
                                 TRANCHE_BIN),
                     0);
    free(err);
}

static void
test_errors__end_partition_emits_once_per_partition(void **state)
{
    const char *path;

    (void)state;
    make_input();
    path = job("summary", "  - plugin: " TEST_PLUGIN_DIR "/summary.so\n");
    assert_int_equal(
        tu_runf(NULL, "%s run %s --workers 2 --output '%s/summary.txt'", TRANCHE_BIN, path, tu_dir),
        0);
    /* one records=N line per partition, the Ns add up to the input's records */
    assert_int_equal(tu_run_here(NULL,
                                 "[ $(grep -c '^records=' summary.txt) -eq "
                                 "$(%s plan %s | wc -l) ] && [ $(grep '^records=' summary.txt | "
                                 "cut -d= -f2 | awk '{ s += $1 } END { print s }') -eq 3000 ] && "
                                 "grep -v '^records=' summary.txt | cmp - input.txt",
                                 TRANCHE_BIN, path),
                     0);
}

static void
test_errors__readme_plugin_builds_out_of_tree(void **state)
{
    char jobtext[1024], jobpath[1024];

    (void)state;
    make_input();
    /* The README's example plugin, extracted as a user would copy it, built with nothing but
     * the installed header. */
    assert_int_equal(tu_run_here(NULL,
                                 "sed -n '/^<!-- example-plugin -->/,/^<!-- end -->/p' "
                                 "'%s/README.md' | sed '1,2d;$d' | sed '$d' > rev.c && "
                                 "cc -std=c11 -Wall -Wextra -Werror -O2 -fPIC -shared "
                                 "-I'%s/core/include' rev.c -o rev.so",
                                 SOURCE_DIR, SOURCE_DIR),
                     0);
    snprintf(jobtext, sizeof(jobtext),
             "input:\n  path: input.txt\noutput:\n  path: rev.out\n"
             "log_dir: logs/rev\nsteps:\n  - plugin: ./rev.so\n");
    snprintf(jobpath, sizeof(jobpath), "%s/rev.yaml", tu_dir);
    tu_write_file(jobpath, jobtext, strlen(jobtext));
    assert_int_equal(tu_run_here(NULL,
                                 "%s run rev.yaml --workers 2 --partition-size 1000 && "
                                 "rev input.txt | cmp - rev.out",
                                 TRANCHE_BIN),
                     0);
}

/* Runs the job in the background until its failer creates `marker` (the state the signal is
 * meant for), sends it `signal` (SIGINT is not left ignored, as a shell leaves it for a
 * background job: tranche keeps a signal ignored that it was started with), then creates `release`
 * (for a failer that waits; NULL for none) and waits for the end; bounded throughout, so that a job
 * that never gets there, or never stops, fails the test instead of hanging it. Returns the job's
 * exit status, its stderr in *err. */
static int
signal_when_marked(char **err, const char *job_path, const char *args, const char *signal,
                   const char *marker, const char *release)
{
    char go[1024] = ":", stale[1024];

    if (release != NULL) {
        snprintf(stale, sizeof(stale), "%s/%s", tu_dir, release);
        unlink(stale); /* from an earlier run: it would let the failer go on at once */
        snprintf(go, sizeof(go), "touch '%s'", release);
    }
    return tu_run_here(err,
                       TU_SH_WAIT
                       "rm -f '%s' && { env --default-signal=INT %s run %s %s & } "
                       "&& pid=$! && "
                       "tu_wait_for 30 '[ -e %s ]'; seen=$?; kill -%s $pid; %s; "
                       "tu_reap $pid 30; rc=$?; if [ $seen -ne 0 ]; then "
                       "echo 'the job never reached the marked record' >&2; exit 99; fi; "
                       "exit $rc",
                       marker, TRANCHE_BIN, job_path, args, marker, signal, go);
}

static void
test_errors__signal_stops_the_job_cleanly(void **state)
{
    char steps[1024], *err = NULL;
    const char *path;
    int rc;

    (void)state;
    make_input();
    /* A worker hangs on record 11; SIGTERM, sent once it is there, must stop the job, kill its
     * workers and leave nothing. */
    snprintf(steps, sizeof(steps),
             "  - plugin: " TEST_PLUGIN_DIR "/failer.so\n"
             "    options: { match: sleepy, mode: hang, marker: %s/term.hit }\n",
             tu_dir);
    path = job("term", steps);
    rc = signal_when_marked(&err, path, "--workers 2", "TERM", "term.hit", NULL);
    tu_assert_contains(err, "interrupted by signal SIGTERM"); /* first: it shows stderr */
    assert_int_equal(rc, 1);
    free(err);
    assert_clean("term", path);
    /* The same in-process, where the flag is checked between partitions and read buffers: the
     * failer waits on record 11 until released, and is released only once SIGINT was sent, so
     * that the signal has arrived (the failer's sleep wakes for it) before the job can go on. */
    snprintf(steps, sizeof(steps),
             "  - plugin: " TEST_PLUGIN_DIR "/failer.so\n"
             "    options: { match: sleepy, mode: wait, release: %s/term2.go, "
             "marker: %s/term2.hit }\n",
             tu_dir, tu_dir);
    path = job("term2", steps);
    rc = signal_when_marked(&err, path, "--in-process", "INT", "term2.hit", "term2.go");
    tu_assert_contains(err, "interrupted by signal SIGINT");
    assert_int_equal(rc, 1);
    free(err);
    assert_clean("term2", path);
}

static void
test_errors__closed_stdout_stops_quietly(void **state)
{
    char *err = NULL;
    const char *path;

    (void)state;
    assert_int_equal(tu_run_here(NULL, "seq 1 300000 > many.txt"), 0);
    path = job("pipe", "  - plugin: upper\n");
    /* head leaves after one line; tranche stops with SIGPIPE's status and says nothing */
    assert_int_equal(tu_run_here(&err,
                                 "{ %s run %s --input many.txt --output - "
                                 "--workers 2; echo $? > pipe.rc; } | head -n 1 > /dev/null; "
                                 "grep -qx 141 pipe.rc",
                                 TRANCHE_BIN, path),
                     0);
    assert_string_equal(err, "");
    free(err);
    assert_clean("pipe", path);
}

static void
test_errors__emit_outside_a_partition_is_refused(void **state)
{
    char *err = NULL;
    const char *path;

    (void)state;
    make_input();
    path = job("init_emit", "  - plugin: " TEST_PLUGIN_DIR "/failer.so\n"
                            "    options: { match: x, mode: init_emit }\n");
    assert_int_equal(tu_runf(&err, "%s validate %s", TRANCHE_BIN, path), 2);
    tu_assert_contains(err, "emit called outside record(), begin_partition(), end_partition()");
    free(err);
}

static void
test_errors__gzip_is_recognised_by_its_magic_bytes(void **state)
{
    const char *path;

    (void)state;
    make_input();
    assert_int_equal(tu_run_here(NULL, "gzip -c input.txt > input.gz"), 0);
    path = job("gz", "  - plugin: upper\n");
    /* a gzip input, recognised by its magic bytes, not its name */
    assert_int_equal(tu_run_here(NULL, "cp input.gz disguised.txt"), 0);
    assert_int_equal(tu_runf(NULL,
                             "%s run %s --input '%s/disguised.txt' && LC_ALL=C tr a-z A-Z "
                             "< '%s/input.txt' | cmp - '%s/out/gz.out'",
                             TRANCHE_BIN, path, tu_dir, tu_dir, tu_dir),
                     0);
    assert_int_equal(
        tu_runf(NULL, "%s validate %s --input '%s/input.gz'", TRANCHE_BIN, path, tu_dir), 0);
    /* compression: none reads the bytes as they are (and writes plain under any name) */
    {
        char jobpath[1024];
        const char *text = "input:\n  path: input.gz\n  compression: none\noutput:\n"
                           "  path: raw.gz\n  compression: none\nlog_dir: logs/raw\n"
                           "steps:\n  - plugin: upper\n";
        snprintf(jobpath, sizeof(jobpath), "%s/raw.yaml", tu_dir);
        tu_write_file(jobpath, text, strlen(text));
        assert_int_equal(
            tu_run_here(NULL,
                        "%s run raw.yaml --workers 2 --partition-size 100 "
                        "&& { cat input.gz; "
                        "[ \"$(tail -c1 input.gz | od -An -tx1)\" = \" 0a\" ] || echo; } "
                        "| LC_ALL=C tr a-z A-Z | cmp - raw.gz",
                        TRANCHE_BIN),
            0);
    }
}

static void
test_errors__plugin_stdout_never_reaches_the_output(void **state)
{
    const char *path;

    (void)state;
    make_input();
    /* a plugin that printf()s every record to stdout: with the output on standard output, the
     * output must still be exactly the job's, and every line printed must be in a worker log */
    path = job("print", "  - plugin: " TEST_PLUGIN_DIR "/failer.so\n"
                        "    options: { match: some, mode: print }\n");
    assert_int_equal(tu_run_here(NULL,
                                 "%s run %s --workers 2 --output - > print.out && "
                                 "cmp print.out input.txt && "
                                 "[ $(cat logs/print/worker-*.log | grep -c '^failer: print') -eq "
                                 "3000 ]",
                                 TRANCHE_BIN, path),
                     0);
    /* in-process, the prints go to stderr */
    assert_int_equal(tu_run_here(NULL,
                                 "%s run %s --in-process --output - > print2.out "
                                 "2> print2.err && cmp print2.out input.txt && "
                                 "[ $(grep -c '^failer: print' print2.err) -eq 3000 ]",
                                 TRANCHE_BIN, path),
                     0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors__plugin_error_names_partition_step_and_log),
        cmocka_unit_test(test_errors__crash_names_signal_and_record_offset),
        cmocka_unit_test(test_errors__abort_and_exit_are_reported),
        cmocka_unit_test(test_errors__failure_stops_a_hung_worker),
        cmocka_unit_test(test_errors__plugin_stderr_lands_in_worker_log),
        cmocka_unit_test(test_errors__plugin_loading_and_options_exit_2),
        cmocka_unit_test(test_errors__bad_inputs_and_outputs),
        cmocka_unit_test(test_errors__full_disk_leaves_nothing),
        cmocka_unit_test(test_errors__cli_usage),
        cmocka_unit_test(test_errors__odd_names_and_option_order),
        cmocka_unit_test(test_errors__end_partition_emits_once_per_partition),
        cmocka_unit_test(test_errors__readme_plugin_builds_out_of_tree),
        cmocka_unit_test(test_errors__signal_stops_the_job_cleanly),
        cmocka_unit_test(test_errors__closed_stdout_stops_quietly),
        cmocka_unit_test(test_errors__emit_outside_a_partition_is_refused),
        cmocka_unit_test(test_errors__gzip_is_recognised_by_its_magic_bytes),
        cmocka_unit_test(test_errors__plugin_stdout_never_reaches_the_output),
    };

    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
