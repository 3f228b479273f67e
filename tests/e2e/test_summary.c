/*
 * tests/e2e/test_summary.c: what a run says about itself (core/runstats.c): LOG_DIR/summary.json
 * (checked by check_summary.py against counts made with wc, grep and zcat, and against the plan),
 * its --summary-json copy, the one-line summary on stderr (present without a terminal, absent
 * with --quiet) and the progress line (drawn under a pseudo-terminal made by script(1), never when
 * stderr is a file).
 */
#include <inttypes.h>
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

#define CHECK_SUMMARY "python3 '" SOURCE_DIR "/tests/e2e/check_summary.py'"

/* An input of 200000 numbered records (2.8 MiB), and a job that greps it for "7". */
static const char *
grep_job(const char *name, const char *input, const char *extra)
{
    return tu_write_job(name,
                        "input:\n  path: %s\noutput:\n  path: out.txt\nlog_dir: logs\n%s"
                        "steps:\n  - plugin: grep\n    options: { pattern: \"7\", fixed: true }\n",
                        input, extra);
}

static void
make_input(void)
{
    tu_sh(0, "[ -f in.txt ] || seq 1 200000 | sed 's/$/ some text/' > in.txt");
}

/* The output of a shell command (its first line), as a number. */
static uint64_t
count_of(const char *fmt, const char *arg)
{
    char cmd[1024], *out;
    size_t len;
    uint64_t v;

    snprintf(cmd, sizeof(cmd), fmt, arg);
    tu_sh(0, "%s > count.txt", cmd);
    out = tu_read_file(tu_join(tu_dir, "count.txt"), &len);
    assert_non_null(out);
    v = strtoull(out, NULL, 10);
    free(out);
    return v;
}

/* 1234567 as "1,234,567", as the summary line writes it. */
static const char *
grouped(uint64_t v, char *buf)
{
    char digits[32];
    size_t n = (size_t)snprintf(digits, sizeof(digits), "%" PRIu64, v), i, o = 0;

    for (i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) {
            buf[o++] = ',';
        }
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* stderr holds the one-line summary of a job that read `in` records and wrote `out`, and no
 * progress line (no carriage return, no escape). */
static void
assert_summary_line(const char *err, const char *job, uint64_t in, uint64_t out, const char *more)
{
    char want[2048], a[32], b[32];

    snprintf(want, sizeof(want), "tranche: %s: ok: %s records in, %s out, ", job, grouped(in, a),
             grouped(out, b));
    tu_assert_contains(err, want);
    tu_assert_contains(err, more);
    snprintf(want, sizeof(want), "; output %s/out.txt; logs %s/logs\n", tu_dir, tu_dir);
    tu_assert_contains(err, want);
    if (strchr(err, '\r') != NULL || strchr(err, '\033') != NULL) {
        fail_msg("a progress line with stderr not a terminal:\n%s", err);
    }
}

static void
test_summary__plain_two_workers_counts(void **state)
{
    char *err = NULL, more[256];
    uint64_t lines, bytes, matches, parts;
    const char *job;

    (void)state;
    make_input();
    job = grep_job("plain.yaml", "in.txt", "");
    tu_sh(0, "rm -rf logs && %s plan plain.yaml --partition-size 64KiB > plan.txt", TRANCHE_BIN);
    assert_int_equal(tu_tranche(&err,
                                "run %s --workers 2 --partition-size 64KiB "
                                "--summary-json copy.json",
                                job),
                     0);
    lines = count_of("wc -l < %s", "in.txt");
    bytes = count_of("wc -c < %s", "in.txt");
    matches = count_of("grep -c 7 %s", "in.txt");
    parts = count_of("wc -l < %s", "plan.txt");
    assert_true(parts > 10);
    tu_sh(0,
          CHECK_SUMMARY " logs/summary.json status=ok exit_status=0 n_workers=2 records_in=%" PRIu64
                        " records_out=%" PRIu64 " bytes_in=%" PRIu64 " end=%" PRIu64
                        " size=%" PRIu64 " kind=plain partitions=%" PRIu64
                        " plan=plan.txt job=%s error=None",
          lines, matches, bytes, bytes, bytes, parts, job);
    tu_sh(0, "[ $(wc -l < out.txt) -eq %" PRIu64 " ]", matches);
    /* The copy is the log directory's summary, byte for byte. */
    tu_sh(0, "cmp logs/summary.json copy.json && ! ls logs copy.json.* 2>/dev/null | grep tmp");
    snprintf(more, sizeof(more), ", %" PRIu64 " partitions, 2 workers, 0 retries, 0 skipped",
             parts);
    assert_summary_line(err, job, lines, matches, more);
    free(err);
}

static void
test_summary__gzip_stream_counts(void **state)
{
    char *err = NULL, size[32];
    uint64_t lines, bytes, matches;
    const char *job;

    (void)state;
    make_input();
    tu_sh(0, "gzip -c in.txt > in.gz");
    job = grep_job("gz.yaml", "in.gz", "");
    /* index off: a first run's stream every time */
    assert_int_equal(tu_tranche(&err,
                                "run %s --workers 2 --partition-size 64KiB "
                                "--set input.index=off",
                                job),
                     0);
    lines = count_of("zcat %s | wc -l", "in.gz");
    bytes = count_of("zcat %s | wc -c", "in.gz");
    matches = count_of("zcat %s | grep -c 7", "in.gz");
    snprintf(size, sizeof(size), "%" PRIu64, count_of("wc -c < %s", "in.gz"));
    tu_sh(0,
          CHECK_SUMMARY " logs/summary.json status=ok n_workers=2 kind=gzip-stream size=%s "
                        "records_in=%" PRIu64 " records_out=%" PRIu64 " bytes_in=%" PRIu64
                        " end=%" PRIu64,
          size, lines, matches, bytes, bytes);
    assert_summary_line(err, job, lines, matches, " 2 workers, 0 retries, 0 skipped");
    free(err);
}

static void
test_summary__in_process_is_one_worker(void **state)
{
    char *err = NULL;
    const char *job;

    (void)state;
    make_input();
    job = grep_job("inproc.yaml", "in.txt", "");
    assert_int_equal(tu_tranche(&err, "run %s --in-process --partition-size 256KiB", job), 0);
    tu_sh(0, CHECK_SUMMARY " logs/summary.json status=ok n_workers=1 records_in=200000");
    tu_assert_contains(err, ", in-process, 0 retries");
    free(err);
}

static void
test_summary__quiet_says_nothing(void **state)
{
    char *err = NULL;
    const char *job;

    (void)state;
    make_input();
    job = grep_job("quiet.yaml", "in.txt", "");
    assert_int_equal(tu_tranche(&err, "run %s --workers 2 --quiet", job), 0);
    assert_string_equal(err, "");
    /* the summary file is written all the same */
    tu_sh(0, CHECK_SUMMARY " logs/summary.json status=ok records_in=200000");
    free(err);
}

static void
test_summary__failed_job(void **state)
{
    char *err = NULL;
    const char *job;

    (void)state;
    make_input();
    tu_sh(0, "sed 's/^1234 /1234 BOOM /' in.txt > boom.txt");
    job = tu_write_job("fail.yaml",
                       "input:\n  path: boom.txt\noutput:\n  path: out.txt\nlog_dir: logs\n"
                       "steps:\n  - plugin: %s/failer.so\n    options: { match: BOOM }\n",
                       TEST_PLUGIN_DIR);
    assert_int_equal(tu_tranche(&err, "run %s --workers 2 --partition-size 64KiB", job), 1);
    /* the failure's own message, and no success line */
    tu_assert_contains(err, "job failed");
    if (strstr(err, ": ok: ") != NULL) {
        fail_msg("a success line for a failed job:\n%s", err);
    }
    tu_sh(0, CHECK_SUMMARY " logs/summary.json status=failed exit_status=1 error~BOOM");
    free(err);
}

static void
test_summary__summary_json_needs_a_directory(void **state)
{
    char *err = NULL;
    const char *job;

    (void)state;
    make_input();
    job = grep_job("nodir.yaml", "in.txt", "");
    tu_sh(0, "rm -rf logs out.txt");
    assert_int_equal(tu_tranche(&err, "run %s --summary-json no/such/dir/s.json", job), 2);
    tu_assert_contains(err, "--summary-json no/such/dir/s.json: no/such/dir is not a directory");
    /* refused before anything ran */
    tu_sh(0, "[ ! -e out.txt ] && [ ! -e logs ]");
    free(err);
    assert_int_equal(tu_tranche(&err, "run %s --summary-json .", job), 2);
    free(err);
}

static void
test_summary__strings_are_escaped(void **state)
{
    static const char check[] =
        "import json, sys\n"
        "d = json.load(open('logs/summary.json', encoding='utf-8'))\n"
        "want = 'q\"b\\\\t\\tx\\x01\\ufffd.yaml'\n"
        "sys.exit(0 if d['job'] == want else 'job is %r, not %r' % (d['job'], want))\n";

    (void)state;
    make_input();
    tu_write_file(tu_join(tu_dir, "escaped.py"), check, strlen(check));
    /* A job file whose name has a quote, a backslash, a tab, a control character and a byte that is
     * not UTF-8. */
    tu_sh(0,
          "f=$(printf 'q\"b\\\\t\\tx\\001\\377.yaml') && printf 'input:\\n  path: in.txt\\n"
          "output:\\n  path: out.txt\\nlog_dir: logs\\nsteps:\\n  - plugin: upper\\n' > \"$f\" && "
          "%s run \"$f\" -w 2 2> /dev/null && python3 escaped.py",
          TRANCHE_BIN);
}

static void
test_summary__replay_keeps_the_runs_summary(void **state)
{
    char *err = NULL;
    const char *job;

    (void)state;
    make_input();
    job = grep_job("replay.yaml", "in.txt", "");
    assert_int_equal(tu_tranche(&err, "run %s -w 2 --partition-size 64KiB", job), 0);
    free(err);
    tu_sh(0, "cp logs/summary.json run.json");
    assert_int_equal(tu_tranche(&err, "run %s --partition-size 64KiB --replay 2,3 > r.out", job),
                     0);
    tu_sh(0, "cmp logs/summary.json run.json && [ -s logs/replay-summary.json ]");
    free(err);
}

/* A job that lasts about a second: the failer plugin sleeps 1 ms per record after "SLOW". */
static const char *
slow_job(void)
{
    tu_sh(0, "seq 1 1200 | sed 's/^1$/1 SLOW/' > slow.txt");
    return tu_write_job(
        "slow.yaml",
        "input:\n  path: slow.txt\noutput:\n  path: out.txt\nlog_dir: logs\n"
        "steps:\n  - plugin: %s/failer.so\n    options: { match: SLOW, mode: slow }\n",
        TEST_PLUGIN_DIR);
}

static void
test_summary__progress_line_on_a_terminal_only(void **state)
{
    char *err = NULL, *tty, want[1024];
    size_t len;
    const char *job;

    (void)state;
    if (tu_run("command -v script > /dev/null", NULL) != 0) {
        skip();
    }
    job = slow_job();
    /* script(1) gives the run a pseudo-terminal; what it printed there is in tty.out. */
    tu_sh(0, "script -qec '%s run %s -w 1 --partition-size 1KiB' /dev/null > tty.out", TRANCHE_BIN,
          job);
    tty = tu_read_file(tu_join(tu_dir, "tty.out"), &len);
    assert_non_null(tty);
    tu_assert_contains(tty, "\rtranche: ");
    tu_assert_contains(tty, " parts, ");
    tu_assert_contains(tty, " elapsed, 0");
    tu_assert_contains(tty, "\033[K\rtranche: ");
    /* erased before the summary line */
    snprintf(want, sizeof(want), "\r\033[Ktranche: %s/slow.yaml: ok: 1,200 records in, 1,200 out",
             tu_dir);
    tu_assert_contains(tty, want);
    free(tty);
    /* redrawn, never longer than the terminal (script's has 80 columns unless told) */
    tu_sh(0, "tr '\\r' '\\n' < tty.out | sed 's/\\x1b\\[K//g' | grep '^tranche: .* parts, ' | "
             "awk 'length > 79 { exit 1 } END { exit NR < 2 }'");
    /* stderr a file: no progress at all */
    assert_int_equal(tu_tranche(&err, "run %s -w 1 --partition-size 1KiB", job), 0);
    if (strchr(err, '\r') != NULL || strchr(err, '\033') != NULL) {
        fail_msg("a progress line on a file:\n%s", err);
    }
    tu_assert_contains(err, "slow.yaml: ok: 1,200 records in");
    free(err);
    /* --quiet on a terminal: nothing either */
    tu_sh(0, "script -qec '%s run %s -w 1 --partition-size 1KiB --quiet' /dev/null > tty.out",
          TRANCHE_BIN, job);
    tu_sh(0, "! grep -q tranche tty.out && ! grep -q \"$(printf '\\033')\" tty.out");
}

static void
test_summary__progress_of_a_gzip_first_run(void **state)
{
    (void)state;
    if (tu_run("command -v script > /dev/null", NULL) != 0) {
        skip();
    }
    /* More than the 32 MiB decoding ring holds, behind a first record the one worker waits on
     * (until `go` exists): the stream is part decoded, its size known only by estimate. */
    tu_sh(0, "seq 1 5000000 | sed 's/^1$/1 SLOW/' | gzip -1 > wait.gz");
    tu_write_job("wait.yaml",
                 "input:\n  path: wait.gz\n  index: off\noutput:\n  path: out.txt\n"
                 "log_dir: logs\nsteps:\n  - plugin: %s/failer.so\n"
                 "    options: { match: SLOW, mode: wait, release: %s/go }\n",
                 TEST_PLUGIN_DIR, tu_dir);
    tu_sh(0,
          TU_SH_WAIT
          "rm -f go; script -qec '%s run wait.yaml -w 1' /dev/null > wtty.out & p=$!; "
          "tu_wait_for 60 'grep -q \"0 B/~[0-9.]* MiB (0%%), 0/[0-9]*+ parts\" wtty.out'; "
          "rc=$?; touch go; tu_reap $p 60 && [ $rc -eq 0 ]",
          TRANCHE_BIN);
    tu_sh(0, "grep -q 'wait.yaml: ok: 5,000,000 records in' wtty.out");
}

static void
test_summary__interrupted_job(void **state)
{
    (void)state;
    tu_sh(0, "seq 1 3000 | sed 's/^1$/1 SLOW/' > slow2.txt");
    tu_write_job("stop.yaml",
                 "input:\n  path: slow2.txt\noutput:\n  path: out.txt\nlog_dir: logs\n"
                 "steps:\n  - plugin: %s/failer.so\n"
                 "    options: { match: SLOW, mode: slow, marker: %s/slow.marker }\n",
                 TEST_PLUGIN_DIR, tu_dir);
    /* SIGTERM once the first worker is in its slow records */
    tu_sh(0,
          TU_SH_WAIT
          "rm -f slow.marker logs/summary.json; %s run stop.yaml -w 2 -s 1KiB 2> /dev/null "
          "& p=$!; tu_wait_for 20 '[ -e slow.marker ]' && kill -TERM $p; tu_reap $p 30; "
          "[ $? -eq 1 ]",
          TRANCHE_BIN);
    tu_sh(0, CHECK_SUMMARY " logs/summary.json status=interrupted exit_status=1 "
                           "'error~interrupted by signal SIGTERM'");
    /* every worker process counted, though they were killed */
    tu_sh(0, "python3 -c 'import json, sys; d = json.load(open(\"logs/summary.json\")); "
             "sys.exit(sum(w[\"processes\"] for w in d[\"workers\"]) != 2)'");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary__plain_two_workers_counts),
        cmocka_unit_test(test_summary__gzip_stream_counts),
        cmocka_unit_test(test_summary__in_process_is_one_worker),
        cmocka_unit_test(test_summary__quiet_says_nothing),
        cmocka_unit_test(test_summary__failed_job),
        cmocka_unit_test(test_summary__summary_json_needs_a_directory),
        cmocka_unit_test(test_summary__strings_are_escaped),
        cmocka_unit_test(test_summary__replay_keeps_the_runs_summary),
        cmocka_unit_test(test_summary__progress_line_on_a_terminal_only),
        cmocka_unit_test(test_summary__progress_of_a_gzip_first_run),
        cmocka_unit_test(test_summary__interrupted_job),
    };

    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
