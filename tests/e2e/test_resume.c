/*
 * tests/e2e/test_resume.c: `tranche run --resume` (core/resume.c, run.c's start_resume and
 * keep_work) through the real CLI. A job is held on a chosen record by the failer fixture (mode
 * wait: it creates a marker file there and waits for a release file), stopped with SIGINT or
 * SIGTERM once the marker exists, then resumed: the output must be byte-identical to an
 * uninterrupted run of the same job, for plain, BGZF, indexed gzip and gzip-stream inputs and
 * for gzip output (compressed bytes too). Also: what is left between the runs, refusals of a
 * changed job, plugin, input or partial output, a crashed job resumed once its cause is gone,
 * and the resumed run's summary.json. No test waits for a time: each waits for a file.
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

#define FAILER TEST_PLUGIN_DIR "/failer.so"
#define POISON TEST_PLUGIN_DIR "/poison.so"
#define CHECK_RESUMED "python3 '" SOURCE_DIR "/tests/e2e/check_resumed.py'"
#define N_RECORDS 40000

/* Where the failer holds the job: in the first partition (nothing written yet), near the middle,
 * and in the last partition. Records are "N:row N some text". */
enum point { EARLY, MIDDLE, LATE };
static const char *const point_match[] = {":row 5 ", ":row 20000 ", ":row 39990 "};

/* How the job reads its input and writes its output. */
struct kind {
    const char *name;
    const char *input;
    const char *input_extra; /* more keys under input: */
    const char *read_as;     /* summary.json's inputs[0].kind */
    int gzip_out;
};

static const struct kind plain = {"plain", "in.txt", "", "plain", 0};
static const struct kind bgzf = {"bgzf", "in.bgzf.gz", "", "bgzf", 0};
static const struct kind indexed = {"indexed", "in.gz", "", "gzip-indexed", 0};
static const struct kind stream = {"stream", "in-stream.gz", "  index: off\n", "gzip-stream", 0};
static const struct kind gzout = {"gzout", "in.txt", "", "plain", 1};

/* The inputs (made once): 40000 records (~1 MB, 32 partitions of 32 KiB), the same as BGZF,
 * as gzip with an index in the tests' cache, and as gzip read as a stream; upper.txt is what
 * the jobs must write (tr, the reference tool). */
static int
group_setup(void **state)
{
    char cmd[2048];

    if (tu_group_setup(state) != 0) {
        return -1;
    }
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && mkdir out && seq 1 %d | sed 's/.*/&:row & some text/' > in.txt && "
             "tr a-z A-Z < in.txt > upper.txt && bgzip -c in.txt > in.bgzf.gz && "
             "gzip -c in.txt > in.gz && gzip -c in.txt > in-stream.gz && "
             "%s index --spacing 32KiB in.gz > /dev/null",
             tu_dir, N_RECORDS, TRANCHE_BIN);
    return tu_run(cmd, NULL) == 0 ? 0 : -1;
}

/* Writes NAME.yaml: the failer holds the job on the record `match` until NAME.go exists (and
 * makes NAME.hit when it gets there); then upper. Output out/NAME.out (out/NAME.gz: BGZF). */
static void
write_job(const char *name, const struct kind *k, const char *match, const char *failer)
{
    char file[256];

    snprintf(file, sizeof(file), "%s.yaml", name);
    tu_write_job(file,
                 "input:\n  path: %s\n%soutput:\n  path: out/%s.%s\nlog_dir: logs/%s\n"
                 "partition_size: 32KiB\nsteps:\n  - plugin: %s\n"
                 "    options: { match: \"%s\", mode: wait, release: %s/%s.go, "
                 "marker: %s/%s.hit }\n  - plugin: upper\n",
                 k->input, k->input_extra, name, k->gzip_out ? "gz" : "out", name, failer, match,
                 tu_dir, name, tu_dir, name);
}

/* Starts `tranche run NAME.yaml ARGS` in the background with SIGINT at its default (a shell
 * leaves it ignored for a background job, and tranche keeps a signal ignored), waits until
 * the failer marks its record, sends `sig` and waits for the end; bounded throughout, so that a
 * job that never gets there, or never stops, fails the test instead of hanging it. The job is
 * not released: its held worker is still on the record when the signal comes. Returns the exit
 * status, stderr in *err. */
static int
stop_when_marked(char **err, const char *name, const char *args, const char *sig)
{
    return tu_run_here(err,
                       TU_SH_WAIT
                       "rm -f %s.go %s.hit && "
                       "{ env --default-signal=INT %s run %s.yaml --workers 2 %s & } && "
                       "pid=$! && tu_wait_for 30 '[ -e %s.hit ]'; seen=$?; kill -%s $pid; "
                       "tu_reap $pid 30; rc=$?; if [ $seen -ne 0 ]; then "
                       "echo 'the job never reached the marked record' >&2; exit 99; fi; "
                       "exit $rc",
                       name, name, TRANCHE_BIN, name, args, name, sig);
}

/* N of "  N of M partition(s) are done and kept in out/OUT.tranche-work: run the same command
 * with --resume to go on from there", which must be in err; M in *total. */
static size_t
done_in_message(const char *err, const char *out, size_t *total)
{
    char want[512];
    const char *at, *line;
    size_t done = 0;

    snprintf(want, sizeof(want),
             " partition(s) are done and kept in %s.tranche-work: run the same command with "
             "--resume to go on from there",
             out);
    tu_assert_contains(err, want);
    at = strstr(err, want);
    for (line = at; line > err && line[-1] != '\n'; line--) {
    }
    if (sscanf(line, " %zu of %zu", &done, total) != 2) {
        fail_msg("no 'N of M' before the message:\n%s", err);
    }
    return done;
}

/* The output's path, and nothing at it, nor a temporary file beside it; the work directory
 * beside it exactly when `kept`. */
static void
assert_left(const char *out, int kept)
{
    const char *base = strrchr(out, '/') + 1;

    tu_sh(0, "[ ! -e %s ] && [ -z \"$(ls -A out | grep -F '%s' | grep -vx '%s.tranche-work')\" ]",
          out, base, base);
    tu_sh(0, "[ %s -e %s.tranche-work ]", kept ? "" : "!", out);
}

/* The work directory holds DONE partitions: the manifest says so, with a part line each, and
 * output.partial has the length it gives and is the start of the uninterrupted output `ref`. */
static void
assert_work(const char *out, size_t done, const char *ref)
{
    tu_sh(0,
          "cd %s.tranche-work && m=manifest && p=output.partial && "
          "[ \"$(grep '^done ' $m | cut -d' ' -f2,3)\" = \"%zu $(stat -c %%s $p)\" ] && "
          "[ $(grep -c '^part ' $m) -eq %zu ] && [ -s $p ] && cmp -n $(stat -c %%s $p) $p ../../%s",
          out, done, done, ref);
}

/* The uninterrupted run of NAME (released from the start) into ref-NAME, checked against the
 * reference tool. */
static void
reference_run(const char *name, const char *out, const struct kind *k)
{
    tu_sh(0,
          "rm -rf %s %s.tranche-work && touch %s.go && %s run %s.yaml --workers 2 -q && "
          "mv %s ref-%s && rm -f %s.hit",
          out, out, name, TRANCHE_BIN, name, out, name, name);
    if (k->gzip_out) {
        tu_sh(0, "gzip -dc ref-%s | cmp - upper.txt", name);
    } else {
        tu_sh(0, "cmp ref-%s upper.txt", name);
    }
}

/* Resumes NAME (released), and checks the output against ref-NAME and what the run left. */
static void
resume_and_compare(const char *name, const char *out, const struct kind *k, size_t done)
{
    tu_sh(0, "touch %s.go && %s run %s.yaml --workers 2 --resume -q", name, TRANCHE_BIN, name);
    tu_sh(0, "cmp %s ref-%s", out, name); /* (compressed: the very bytes) */
    if (k->gzip_out) {
        tu_sh(0, "gzip -dc %s | cmp - upper.txt", out);
    }
    tu_sh(0,
          "[ ! -e %s.tranche-work ] && grep -q 'resuming from .*: %zu partition(s) done' "
          "logs/%s/tranche.log",
          out, done, name);
    tu_sh(0, CHECK_RESUMED " logs/%s/summary.json %zu $(wc -l < in.txt) %s", name, done,
          k->read_as);
}

/* Holds a job of kind k at point p, stops it with signal `sig`, checks what it left, resumes
 * it and compares with an uninterrupted run. */
static void
interrupt_and_resume(const struct kind *k, enum point p, const char *sig)
{
    char name[64], out[128], want[128], *err = NULL;
    size_t done, total = 0;
    int rc;

    snprintf(name, sizeof(name), "%s-%d-%s", k->name, (int)p, sig);
    snprintf(out, sizeof(out), "out/%s.%s", name, k->gzip_out ? "gz" : "out");
    write_job(name, k, point_match[p], FAILER);
    reference_run(name, out, k);
    rc = stop_when_marked(&err, name, "", sig);
    snprintf(want, sizeof(want), "interrupted by signal SIG%s", sig);
    tu_assert_contains(err, want);
    assert_int_equal(rc, 1);
    if (strcmp(k->read_as, "gzip-stream") == 0) { /* read as a stream, and no index made for it */
        tu_sh(0, "[ -z \"$(ls -A \"$TRANCHE_CACHE_DIR\" 2>/dev/null | grep in-stream)\" ]");
    }
    if (p == EARLY) {
        /* Nothing was written: nothing is kept, and there is nothing to resume. */
        if (strstr(err, "--resume") != NULL) {
            fail_msg("a run that wrote nothing speaks of --resume:\n%s", err);
        }
        free(err);
        assert_left(out, 0);
        assert_int_equal(tu_tranche(&err, "run %s.yaml --workers 2 --resume", name), 2);
        tu_assert_contains(err, "nothing to resume");
        free(err);
        assert_left(out, 0);
        return;
    }
    done = done_in_message(err, out, &total);
    free(err);
    if (done < 1 || done >= total) {
        fail_msg("%s: %zu of %zu partitions kept", name, done, total);
    }
    assert_left(out, 1);
    snprintf(want, sizeof(want), "ref-%s", name);
    assert_work(out, done, want);
    resume_and_compare(name, out, k, done);
}

static void
test_resume__plain_input_sigint_and_sigterm_at_each_point(void **state)
{
    (void)state;
    interrupt_and_resume(&plain, EARLY, "INT");
    interrupt_and_resume(&plain, EARLY, "TERM");
    interrupt_and_resume(&plain, MIDDLE, "INT");
    interrupt_and_resume(&plain, MIDDLE, "TERM");
    interrupt_and_resume(&plain, LATE, "INT");
    interrupt_and_resume(&plain, LATE, "TERM");
}

static void
test_resume__bgzf_input(void **state)
{
    (void)state;
    interrupt_and_resume(&bgzf, MIDDLE, "TERM");
    interrupt_and_resume(&bgzf, LATE, "INT");
}

static void
test_resume__indexed_gzip_input(void **state)
{
    (void)state;
    interrupt_and_resume(&indexed, MIDDLE, "INT");
    interrupt_and_resume(&indexed, LATE, "TERM");
}

static void
test_resume__gzip_stream_input(void **state)
{
    (void)state;
    interrupt_and_resume(&stream, EARLY, "TERM");
    interrupt_and_resume(&stream, MIDDLE, "INT");
    interrupt_and_resume(&stream, LATE, "TERM");
}

static void
test_resume__gzip_output(void **state)
{
    (void)state;
    interrupt_and_resume(&gzout, EARLY, "INT");
    interrupt_and_resume(&gzout, MIDDLE, "TERM");
    interrupt_and_resume(&gzout, LATE, "INT");
}

/* A run without --resume removes a stale work directory and starts afresh. */
static void
test_resume__fresh_run_removes_stale_work(void **state)
{
    char *err = NULL;

    (void)state;
    write_job("stale", &plain, point_match[MIDDLE], FAILER);
    assert_int_equal(stop_when_marked(&err, "stale", "", "TERM"), 1);
    free(err);
    assert_left("out/stale.out", 1);
    tu_sh(0, "touch stale.go && %s run stale.yaml --workers 2 -q && cmp out/stale.out upper.txt",
          TRANCHE_BIN);
    tu_sh(0, "[ ! -e out/stale.out.tranche-work ] && "
             "grep -q 'left by an earlier run: this run starts afresh' logs/stale/tranche.log && "
             "grep -q '\"partitions_resumed\": 0' logs/stale/summary.json");
}

/* --resume of the job `refuse` with ARGS exits 2 with `expect` and `expect2` in its message, and
 * runs nothing: the failer (released) never reaches its record, no output appears, and the work
 * directory is as it was (expect-work, its copy). */
static void
refused(const char *args, const char *expect, const char *expect2)
{
    char *err = NULL;
    int rc;

    tu_sh(0, "touch refuse.go && rm -f refuse.hit");
    rc = tu_tranche(&err, "run refuse.yaml --workers 2 --resume %s", args);
    if (rc != 2) {
        fail_msg("--resume %s: exit %d, expected 2:\n%s", args, rc, err);
    }
    tu_assert_contains(err, expect);
    tu_assert_contains(err, expect2);
    free(err);
    tu_sh(0, "[ ! -e refuse.hit ] && [ ! -e out/refuse.out ] && "
             "diff -r expect-work out/refuse.out.tranche-work");
}

#define REFUSE_WORK "out/refuse.out.tranche-work"

/* Damages output.partial with `how` (a command run in the work directory), checks the refusal,
 * and puts back what the interrupted run left (saved-work). */
static void
refused_damaged(const char *how)
{
    tu_sh(0,
          "(cd " REFUSE_WORK " && %s) && rm -rf expect-work && cp -a " REFUSE_WORK
          " expect-work && ! cmp -s saved-work/output.partial expect-work/output.partial",
          how);
    refused("", "is not what the interrupted run", "run without --resume to start afresh");
    tu_sh(0, "rm -rf " REFUSE_WORK " expect-work && cp -a saved-work " REFUSE_WORK
             " && cp -a saved-work expect-work");
}

static void
test_resume__refuses_what_changed(void **state)
{
    const struct kind own = {"refuse", "in-refuse.txt", "", "plain", 0};
    char *err = NULL;
    size_t done, total = 0;

    (void)state;
    /* Its own copies of the plugin and the input, to be touched. */
    tu_sh(0, "cp -p '%s' failer-copy.so && cp -p in.txt in-refuse.txt", FAILER);
    write_job("refuse", &own, point_match[MIDDLE], tu_join(tu_dir, "failer-copy.so"));
    assert_int_equal(stop_when_marked(&err, "refuse", "", "TERM"), 1);
    done = done_in_message(err, "out/refuse.out", &total);
    free(err);
    tu_sh(0, "cp -a " REFUSE_WORK " saved-work && cp -a " REFUSE_WORK " expect-work");

    refused("--set 1.nth=2", "cannot resume from", "the job's steps, their options");
    refused("--set partition_size=16KiB", "cannot resume from", "partition_size");
    refused("-o -", "--resume needs an output file", "not standard output");
    refused("--in-process", "--resume needs an output file", "not --in-process");

    tu_sh(0, "touch -d '2001-02-03 04:05:06' failer-copy.so");
    refused("", "a plugin's file changed", "failer-copy.so");
    tu_sh(0, "touch -r '%s' failer-copy.so", FAILER);

    tu_sh(0, "touch -d '2001-02-03 04:05:06' in-refuse.txt");
    refused("", "an input changed", "in-refuse.txt");
    tu_sh(0, "touch -r in.txt in-refuse.txt && cp -p in-refuse.txt in-refuse.bak && "
             "echo '40001:row 40001 more text' >> in-refuse.txt");
    refused("", "an input changed", "in-refuse.txt");
    tu_sh(0, "mv in-refuse.bak in-refuse.txt");

    refused_damaged(
        "printf '\\001' | dd of=output.partial bs=1 seek=1000 conv=notrunc 2>/dev/null");
    refused_damaged("truncate -s -1 output.partial");
    refused_damaged("rm output.partial");

    /* All put back as it was, the work resumes: the refusals left it whole. */
    tu_sh(0,
          "touch refuse.go && %s run refuse.yaml --workers 2 --resume -q && "
          "cmp out/refuse.out upper.txt && [ ! -e " REFUSE_WORK " ]",
          TRANCHE_BIN);
    tu_sh(0, CHECK_RESUMED " logs/refuse/summary.json %zu $(wc -l < in.txt) plain", done);

    /* Nothing left to resume. */
    tu_sh(0, "rm out/refuse.out && rm -f refuse.hit");
    assert_int_equal(tu_tranche(&err, "run refuse.yaml --workers 2 --resume"), 2);
    tu_assert_contains(err, "--resume: there is nothing to resume: no ");
    tu_assert_contains(err, "refuse.out.tranche-work/manifest");
    free(err);
    tu_sh(0, "[ ! -e refuse.hit ] && [ -z \"$(ls -A out | grep refuse)\" ]");
}

/* A job whose worker crashes on a record of a late partition keeps the partitions written
 * before it; once the cause is gone (poison's `once`: the record fails only the first time any
 * process meets it, so the job stays the same), --resume completes it. */
static void
test_resume__failed_job_keeps_its_work(void **state)
{
    char *err = NULL;
    size_t done, total = 0;

    (void)state;
    tu_sh(0, "rm -rf once && mkdir once");
    tu_write_job("poison.yaml",
                 "input:\n  path: in.txt\noutput:\n  path: out/poison.out\nlog_dir: logs/poison\n"
                 "partition_size: 32KiB\nsteps:\n  - plugin: " POISON "\n"
                 "    options: { match: \":row 39000 \", mode: crash, once: %s/once }\n"
                 "  - plugin: upper\n",
                 tu_dir);
    assert_int_equal(tu_tranche(&err, "run poison.yaml --workers 2"), 1);
    tu_assert_contains(err, "SIGSEGV");
    done = done_in_message(err, "out/poison.out", &total);
    free(err);
    if (done < 1 || done >= total) {
        fail_msg("%zu of %zu partitions kept", done, total);
    }
    assert_left("out/poison.out", 1);
    assert_work("out/poison.out", done, "upper.txt");
    tu_sh(0, "[ $(ls once | wc -l) -eq 1 ]"); /* the record was met once */
    tu_sh(0,
          "%s run poison.yaml --workers 2 --resume -q && cmp out/poison.out upper.txt && "
          "[ ! -e out/poison.out.tranche-work ]",
          TRANCHE_BIN);
    tu_sh(0, CHECK_RESUMED " logs/poison/summary.json %zu $(wc -l < in.txt) plain", done);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume__plain_input_sigint_and_sigterm_at_each_point),
        cmocka_unit_test(test_resume__bgzf_input),
        cmocka_unit_test(test_resume__indexed_gzip_input),
        cmocka_unit_test(test_resume__gzip_stream_input),
        cmocka_unit_test(test_resume__gzip_output),
        cmocka_unit_test(test_resume__fresh_run_removes_stale_work),
        cmocka_unit_test(test_resume__refuses_what_changed),
        cmocka_unit_test(test_resume__failed_job_keeps_its_work),
    };

    return cmocka_run_group_tests(tests, group_setup, tu_group_teardown);
}
