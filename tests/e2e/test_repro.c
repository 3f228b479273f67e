/*
 * tests/e2e/test_repro.c: crashes that reproduce, and where logs go (issue P5). A stateful plugin
 * (failer with `nth`: it fails on the Nth record its process sees) fails in a worker; the
 * `reproduce:` line of the report, run through sh -c exactly as printed, fails again at the same
 * record. --replay LIST runs partitions in the order given, through one chain, for every kind of
 * input. Default log directories: one per job file path, one per run, a `latest` link, the last
 * 10 runs kept.
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

#include "error.h"
#include "repro.h"
#include "testutil.h"

#define FAILER TEST_PLUGIN_DIR "/failer.so"

/* The job's directory: a space and a quote in its name, which the reproduce line must quote. */
#define ODD_DIR "d ir'q"

/* The default log base with TMPDIR=lt. */
#define LOG_BASE "lt/tranche-logs-$(id -u)"

static int
group_setup(void **state)
{
    int rc = tu_group_setup(state);

    /* Runs that are not given a TMPDIR (the pasted lines, the replays) keep their default log
     * directories here, not in the shared /tmp: each test's job paths are new ones. */
    if (rc == 0 && setenv("TMPDIR", tu_join(tu_dir, "tmp"), 1) != 0) {
        rc = -1;
    }
    if (rc == 0) {
        tu_sh(0, "mkdir -p tmp \"" ODD_DIR "\" && seq 1 20000 | sed 's/^/record /' > in.txt && "
                 "LC_ALL=C tr a-z A-Z < in.txt > upper.ref");
    }
    return rc;
}

/* Writes ODD_DIR/NAME.yaml: in.txt through failer (options `failer`, YAML flow mapping
 * entries), 4 KiB partitions; returns its path relative to tu_dir (static). */
static const char *
failer_job(const char *name, const char *failer)
{
    static char rel[256];
    char body[1024];

    snprintf(rel, sizeof(rel), ODD_DIR "/%s.yaml", name);
    snprintf(body, sizeof(body),
             "input:\n  path: ../in.txt\noutput:\n  path: ../%s.out\npartition_size: 4KiB\n"
             "steps:\n  - plugin: %s\n    options: { match: record, %s }\n",
             name, FAILER, failer);
    tu_write_file(tu_join(tu_dir, rel), body, strlen(body));
    return rel;
}

/* The text of `key` up to the end of its line in text, malloc'd; fails the test without it. */
static char *
line_after(const char *text, const char *key)
{
    const char *at = text != NULL ? strstr(text, key) : NULL;
    char *out;

    if (at == NULL) {
        fail_msg("no \"%s\" in:\n%s", key, text != NULL ? text : "(null)");
    }
    at += strlen(key);
    out = strndup(at, strcspn(at, "\n"));
    assert_non_null(out);
    return out;
}

/* Runs a failing job with 2 workers (exit 1); returns its reproduce line (malloc'd) and its
 * stderr in *err. */
static char *
fail_in_worker(const char *job, const char *more, char **err)
{
    int rc =
        tu_run_here(err, "TMPDIR=\"$PWD/lt\" %s run \"%s\" --workers 2 %s", TRANCHE_BIN, job, more);

    if (rc != 1) {
        fail_msg("exit %d, expected 1:\n%s", rc, *err != NULL ? *err : "");
    }
    return line_after(*err, "  reproduce: ");
}

/* Runs the reproduce line through sh -c exactly as printed (from another directory), its
 * standard output to replay.out in tu_dir; returns the exit status, its stderr in *err. */
static int
paste(const char *line, char **err)
{
    char *command = NULL;
    int rc;

    assert_true(asprintf(&command, "cd / && { %s\n} > '%s/replay.out'", line, tu_dir) > 0);
    rc = tu_run(command, err);
    free(command);
    return rc;
}

/* A plugin that aborts on the 1000th record its process sees: the replay aborts at the same
 * record (the same byte offset), though that partition alone does not. */
static void
test_repro__a_crash_at_the_1000th_record_reproduces_at_the_same_record(void **state)
{
    const char *job = failer_job("abort", "nth: 1000, mode: abort");
    char *err = NULL, *replay_err = NULL, *line, *at, *again, *list, *last;
    int rc;

    (void)state;
    line = fail_in_worker(job, "", &err);
    tu_assert_contains(err, "killed by signal SIGABRT");
    at = line_after(err, "at the record starting at byte ");
    /* every word quoted, the odd directory too, and no option that picks workers or output */
    tu_assert_contains(line, "'d ir'\\''q/abort.yaml'");
    tu_assert_contains(line, "'--replay' '");
    assert_null(strstr(line, "workers"));
    rc = paste(line, &replay_err);
    if (rc != 128 + 6) {
        fail_msg("the replay exited %d, expected death by SIGABRT (134):\n%s\n%s", rc, line,
                 replay_err != NULL ? replay_err : "");
    }
    again = line_after(replay_err, "at the record starting at byte ");
    assert_string_equal(at, again);
    tu_assert_contains(replay_err, "failer: record 1000 of this process");
    /* the failing partition alone, in a fresh process, does not reach its 1000th record */
    list = line_after(line, "'--replay' '");
    *strchr(list, '\'') = '\0';
    last = list + strlen(list);
    while (last > list && last[-1] != ',' && last[-1] != '-') {
        last--;
    }
    if (last > list) {
        assert_int_equal(tu_run_here(NULL, "%s run \"%s\" --partition %s -q > /dev/null",
                                     TRANCHE_BIN, job, last),
                         0);
    }
    free(list);
    free(again);
    free(at);
    free(line);
    free(err);
    free(replay_err);
}

/* The same with a real SIGSEGV (its default action restored by the plugin) and with an error
 * the plugin reports: the replay fails at the same record (exit 1, not 0, for the error). */
static void
test_repro__a_segv_and_an_error_reproduce(void **state)
{
    const char *job = failer_job("segv", "nth: 1000, mode: crash");
    char *err = NULL, *replay_err = NULL, *line, *hit, *again;
    int rc;

    (void)state;
    line = fail_in_worker(job, "", &err);
    tu_assert_contains(err, "SIGSEGV");
    free(err);
    /* the plugin's own note names the record, in the worker's log */
    tu_sh(0, "grep -h 'failer: record 1000 of this process' " LOG_BASE "/segv-*/latest/*.log "
             "> worker-note.txt && readlink " LOG_BASE "/segv-*/latest > latest-before.txt");
    /* (pasted where the failed run ran: the same TMPDIR, so the same default log directory) */
    assert_true(setenv("TMPDIR", tu_join(tu_dir, "lt"), 1) == 0);
    rc = paste(line, &replay_err);
    assert_true(setenv("TMPDIR", tu_join(tu_dir, "tmp"), 1) == 0);
    assert_int_equal(rc, 128 + 11);
    /* the replay logs in a run directory of its own, and leaves `latest` at the run it replays */
    tu_sh(0, "readlink " LOG_BASE "/segv-*/latest | cmp - latest-before.txt && "
             "[ $(ls -d " LOG_BASE "/segv-*/run-* | wc -l) -eq 2 ]");
    hit = line_after(replay_err, "failer: record 1000 of this process: ");
    tu_sh(0, "grep -qF \"%s\" worker-note.txt", hit);
    free(hit);
    free(replay_err);
    free(line);

    job = failer_job("error", "nth: 1000, mode: error");
    line = fail_in_worker(job, "", &err);
    hit = line_after(err, "failer hit record '");
    assert_int_equal(paste(line, &replay_err), 1);
    again = line_after(replay_err, "failer hit record '");
    assert_string_equal(hit, again);
    tu_assert_contains(replay_err, "job failed");
    free(again);
    free(hit);
    free(line);
    free(err);
    free(replay_err);
}

/* The reproduce line keeps the user's other options, in their order, and drops those that pick
 * workers or the output, however they were written. */
static void
test_repro__the_line_keeps_overrides_and_drops_workers_and_output(void **state)
{
    const char *job = failer_job("opts", "nth: 300, mode: error");
    char *err = NULL, *line;

    (void)state;
    line = fail_in_worker(job, "-qw2 --partition-size=4KiB --out='o 1.txt' -s 4KiB --fsync", &err);
    tu_assert_contains(line, "'-q' '--partition-size=4KiB' '-s' '4KiB'");
    assert_null(strstr(line, "o 1.txt"));
    assert_null(strstr(line, "fsync"));
    assert_null(strstr(line, "'-w"));
    free(err);
    assert_int_equal(paste(line, &err), 1);
    free(line);
    free(err);
}

/* Writes NAME.yaml: INPUT through upper, 16 KiB partitions (index: beside for gzip). */
static const char *
upper_job(const char *name, const char *input)
{
    return tu_write_job(name,
                        "input:\n  path: %s\n  index: beside\noutput:\n  path: out.txt\n"
                        "partition_size: 16KiB\nsteps:\n  - plugin: upper\n",
                        input);
}

/* --replay A,B gives partition A's output then B's, as --partition does, for each kind of
 * input (plain, BGZF, gzip with an index, gzip decoded as a stream). */
static void
replay_matches_partitions(const char *name, const char *input, int any_order)
{
    const char *job = upper_job(name, input);

    tu_sh(0,
          "%s run %s --partition 1 > p1 && %s run %s --partition 3 > p3 && "
          "[ -s p1 ] && ! cmp -s p1 p3 && %s run %s --replay 1,3 > r13 && cat p1 p3 | cmp - r13",
          TRANCHE_BIN, job, TRANCHE_BIN, job, TRANCHE_BIN, job);
    if (any_order) {
        tu_sh(0, "%s run %s --replay 3,1 > r31 && cat p3 p1 | cmp - r31", TRANCHE_BIN, job);
    }
}

static void
test_repro__replay_runs_the_listed_partitions_in_order(void **state)
{
    char *err = NULL;

    (void)state;
    /* 3.8 MB, not too compressible: gzip's deflate blocks, where an index has its points, are
     * short enough for a few partitions */
    tu_sh(0,
          "seq 1 200000 | awk '{print \"record \" $1 \" \" ($1 * 7919) %% 100003}' > big.txt && "
          "LC_ALL=C tr a-z A-Z < big.txt > big.ref && bgzip -c big.txt > in.bgz.gz && "
          "gzip -c big.txt > ix.gz && gzip -c big.txt > st.gz && "
          "%s index --beside --spacing 1 ix.gz > /dev/null",
          TRANCHE_BIN);
    replay_matches_partitions("plain.yaml", "big.txt", 1);
    replay_matches_partitions("bgzf.yaml", "in.bgz.gz", 1);
    replay_matches_partitions("indexed.yaml", "ix.gz", 1);
    replay_matches_partitions("stream.yaml", "st.gz", 0);
    /* every partition, as ranges: the whole output */
    tu_sh(0,
          "n=$(%s plan plain.yaml | wc -l) && [ $n -gt 4 ] && "
          "%s run plain.yaml --replay 0-1,2-$((n-1)) | cmp - big.ref",
          TRANCHE_BIN, TRANCHE_BIN);
    /* a stream is decoded once, front to back */
    assert_int_equal(tu_tranche(&err, "run stream.yaml --replay 3,1 > /dev/null"), 2);
    tu_assert_contains(err, "increasing order");
    free(err);
    assert_int_equal(tu_tranche(&err, "run plain.yaml --replay 1,999 > /dev/null"), 2);
    tu_assert_contains(err, "--replay: partition 999: the plan has");
    free(err);
    assert_int_equal(tu_tranche(&err, "run stream.yaml --replay 999 > /dev/null"), 2);
    tu_assert_contains(err, "partition 999: the job has");
    free(err);
    assert_int_equal(tu_tranche(&err, "run plain.yaml --replay 1,x > /dev/null"), 2);
    tu_assert_contains(err, "not 'x'");
    free(err);
    assert_int_equal(tu_tranche(&err, "run plain.yaml --replay 1 --partition 2 > /dev/null"), 2);
    tu_assert_contains(err, "give one of them");
    free(err);
    assert_int_equal(tu_tranche(&err, "run plain.yaml --replay 1 --replay 2 > /dev/null"), 2);
    tu_assert_contains(err, "--replay is given twice");
    free(err);
    /* -o writes the replay to a file; the job's output is not touched otherwise */
    tu_sh(0,
          "rm -f out.txt && %s run plain.yaml --replay 1,3 -o r.txt && cmp r.txt r13 && "
          "[ ! -e out.txt ]",
          TRANCHE_BIN);
}

/* Default log directories: one per job file path (two job.yaml in different directories do not
 * share), one per run with a `latest` link, stale worker logs never next to new ones, the last
 * 10 runs kept; the failure report names the run's directory. */
static void
test_repro__each_run_logs_in_its_own_directory(void **state)
{
    const char *ok = "input:\n  path: ../in.txt\noutput:\n  path: out.txt\nsteps:\n"
                     "  - plugin: upper\n";
    const char *job = failer_job("logs", "nth: 300, mode: error");
    char *err = NULL, *dir;

    (void)state;
    tu_sh(0, "rm -rf lt a b && mkdir a b");
    tu_write_file(tu_join(tu_dir, "a/job.yaml"), ok, strlen(ok));
    tu_write_file(tu_join(tu_dir, "b/job.yaml"), ok, strlen(ok));
    tu_sh(0,
          "TMPDIR=\"$PWD/lt\" %s run a/job.yaml && TMPDIR=\"$PWD/lt\" %s run b/job.yaml && "
          "[ $(ls -d " LOG_BASE "/job-* | wc -l) = 2 ]",
          TRANCHE_BIN, TRANCHE_BIN);
    /* a failure names the run's own directory, `latest` points at it */
    free(fail_in_worker(job, "", &err));
    dir = line_after(err, "logs in ");
    tu_sh(0,
          "d='%s' && [ -f \"$d/worker-2.log\" ] && [ -f \"$d/tranche.log\" ] && "
          "[ \"$(readlink " LOG_BASE "/logs-*/latest)\" = \"${d##*/}\" ]",
          dir);
    free(dir);
    free(err);
    /* the next run with one worker: no worker-2.log from the last one beside its logs */
    tu_sh(0,
          "TMPDIR=\"$PWD/lt\" %s run \"%s\" --workers 1 -q; [ $? = 1 ] && "
          "[ -f " LOG_BASE "/logs-*/latest/worker-1.log ] && "
          "[ ! -e " LOG_BASE "/logs-*/latest/worker-2.log ]",
          TRANCHE_BIN, job);
    /* a `latest` that is not a link tranche can replace: refused, naming it, nothing run */
    tu_sh(0, "mkdir -p " LOG_BASE "/job-x && rm -rf b/out.txt " LOG_BASE "/job-*/latest && "
             "for d in " LOG_BASE "/job-*; do mkdir $d/latest && touch $d/latest/keep; done");
    assert_int_equal(tu_run_here(&err, "TMPDIR=\"$PWD/lt\" %s run b/job.yaml", TRANCHE_BIN), 2);
    tu_assert_contains(err, "/latest at run-");
    free(err);
    tu_sh(0, "[ ! -e b/out.txt ] && rm -rf " LOG_BASE "/job-*/latest " LOG_BASE "/job-x");
    /* twelve runs in all: the last 10 are kept, the newest is `latest` */
    tu_sh(0,
          "for i in 1 2 3 4 5 6 7 8 9 10; do TMPDIR=\"$PWD/lt\" %s run a/job.yaml || exit 1; "
          "done && [ $(ls -d " LOG_BASE "/job-*/run-* | wc -l) = 11 ] && cd " LOG_BASE " && "
          "ls -d job-*/run-* | cut -d/ -f1 | uniq -c | sort -n | tail -1 > most && "
          "read n a < most && [ $n = 10 ] && "
          "[ \"$(readlink $a/latest)\" = \"$(ls $a | grep '^run-' | tail -1)\" ]",
          TRANCHE_BIN);
}

/* A run still going keeps its logs, however many runs of the same job start meanwhile: its
 * directory is locked while it runs, and the old runs' removal passes it over. */
static void
test_repro__a_live_run_keeps_its_logs(void **state)
{
    (void)state;
    tu_write_job("live.yaml",
                 "input:\n  path: in.txt\noutput:\n  path: live.out\nsteps:\n  - plugin: %s\n"
                 "    options: { match: record 17, mode: wait, release: %s/live.go, marker: "
                 "%s/live.hit }\n",
                 FAILER, tu_dir, tu_dir);
    /* (whatever fails, the live run is released and waited for: nothing is left running) */
    tu_sh(0,
          TU_SH_WAIT
          "L=lt2/tranche-logs-$(id -u) && rm -rf lt2 live.go live.hit && "
          "echo other > other.txt && "
          "{ TMPDIR=\"$PWD/lt2\" %s run live.yaml --workers 1 -q & } && pid=$! && "
          "ok=0 && tu_wait_for 30 '[ -e live.hit ]' && d=$(readlink $L/live-*/latest) && "
          "for i in 1 2 3 4 5 6 7 8 9 10 11; do TMPDIR=\"$PWD/lt2\" %s run live.yaml "
          "--input other.txt -o other.out -q || break; n=$i; done && [ \"$n\" = 11 ] && "
          "[ -d $L/live-*/$d ] && [ $(ls -d $L/live-*/run-* | wc -l) = 11 ] && ok=1; "
          "touch live.go; tu_reap $pid 30 && [ $ok = 1 ] && cmp in.txt live.out && "
          "[ -f $L/live-*/$d/worker-1.log ]",
          TRANCHE_BIN, TRANCHE_BIN);
}

/* Runs NAME.yaml: st-big.gz (input.index: INDEX) through a failer that aborts on the record
 * named in target.txt, with 3 workers; returns the reproduce line, stderr in *err. */
static char *
fail_on_target(const char *name, const char *index, char **err)
{
    char *target = tu_read_file(tu_join(tu_dir, "target.txt"), NULL), *line;
    const char *job;

    assert_non_null(target);
    target[strcspn(target, "\n")] = '\0';
    job = tu_write_job(name,
                       "input:\n  path: st-big.gz\n  index: %s\noutput:\n  path: st.out\n"
                       "steps:\n  - plugin: %s\n    options: { match: \"%s\", mode: abort }\n",
                       index, FAILER, target);
    line = fail_in_worker(job, "--workers 3", err);
    free(target);
    return line;
}

/* A gzip input decoded as a stream is cut into partitions that fit the ring as many times over
 * as there are workers (and two): the replay cuts it as the failed run did. The record the
 * plugin fails on (at about 7.5 MB) is in partition 1 with 3 workers (6.4 MiB partitions), in
 * partition 0 with the in-process mode's own cut (8 MiB): a replay cut the other way does not
 * fail. */
static void
test_repro__a_stream_is_replayed_as_the_failed_run_cut_it(void **state)
{
    char *err = NULL, *replay_err = NULL, *line, *at, *again;
    int rc;

    (void)state;
    tu_sh(0, "seq 1 1500000 | sed 's/^/record /' > st.txt && gzip -1 -c st.txt > st-big.gz && "
             "echo \"record $(head -c 7500000 st.txt | wc -l)\" > target.txt");
    line = fail_on_target("st-big.yaml", "off", &err);
    tu_assert_contains(err, "in partition 1 ");
    tu_assert_contains(line, "'--workers' '3' '--replay' '");
    at = line_after(err, "at the record starting at byte ");
    rc = paste(line, &replay_err);
    if (rc != 128 + 6) {
        fail_msg("the replay exited %d, expected death by SIGABRT (134):\n%s\n%s", rc, line,
                 replay_err != NULL ? replay_err : "");
    }
    again = line_after(replay_err, "at the record starting at byte ");
    assert_string_equal(at, again);
    free(again);
    free(at);
    free(line);
    free(err);
    free(replay_err);
}

/* Without `index: off`, the failed first run may leave an index (this one is 22 MB: it does
 * when the parent has decoded it all before the failure), through which a replay would be cut
 * otherwise: the line turns it off. Needs --set (another part of issue 9): skipped without. */
static void
test_repro__a_stream_that_left_an_index_is_replayed_as_a_stream(void **state)
{
    char *err = NULL, *replay_err = NULL, *line;

    (void)state;
    if (tu_run_here(NULL, "%s run --help | grep -q -- --set", TRANCHE_BIN) != 0) {
        skip();
    }
    tu_sh(0, "rm -f st-big.gz.tranche-index");
    line = fail_on_target("st-ix.yaml", "beside", &err);
    tu_assert_contains(line, "'--set' 'input.index=off' '--replay' '");
    assert_int_equal(paste(line, &replay_err), 128 + 6);
    free(line);
    free(err);
    free(replay_err);
}

/* ---- the line itself, without a run (core/repro.c) ----------------------------------------- */

static void
assert_line(char **argv, int from_stdin, const size_t *list, size_t n, const char *expected)
{
    struct repro rp;
    int argc = 0;

    while (argv[argc] != NULL) {
        argc++;
    }
    assert_int_equal(repro_init(&rp, argc, argv), 0);
    free(rp.cwd);
    free(rp.exe);
    rp.cwd = strdup("/home/o'k dir");
    rp.exe = NULL;
    rp.from_stdin = from_stdin;
    assert_int_equal(repro_set(&rp, list, n), 0);
    assert_string_equal(rp.line, expected);
    repro_release(&rp);
}

static void
test_repro__the_line_is_quoted_and_filtered(void **state)
{
    char *argv[] = {"run",
                    "-qw2",
                    "--workers=3",
                    "--work",
                    "4",
                    "j b's.yaml",
                    "-o",
                    "x",
                    "--output",
                    "y y",
                    "--in-process",
                    "-p3",
                    "--partition=2",
                    "-s",
                    "4KiB",
                    "--set",
                    "a=-o b",
                    "-l",
                    "logs",
                    "--",
                    "--replay",
                    NULL};
    const size_t list[] = {0, 2, 3, 4, 5, 9, 11, 12};

    (void)state;
    assert_line(argv, 0, list, 8,
                "cd '/home/o'\\''k dir' && 'tranche' 'run' '-q' 'j b'\\''s.yaml' '-s' '4KiB' "
                "'--set' 'a=-o b' '-l' 'logs' '--replay' '0,2-5,9,11,12' '--' '--replay'");
    assert_line(argv, 1, list, 1,
                "none: the input was standard input, which cannot be read again (save it to a "
                "file, run with --input FILE, and the report of a failure there gives the line)");
}

static void
test_repro__lists_parse_and_print(void **state)
{
    static const char *const bad[] = {"", ",", "1,", ",1", "3-1", "a", "1,,2", "-1", "1-", "2x"};
    struct error err;
    size_t *list = NULL, n = 0, i;
    char *text = NULL;
    size_t size = 0;
    FILE *f;

    (void)state;
    assert_int_equal(repro_parse_list("7,0-3,5,5", &list, &n, &err), 0);
    assert_int_equal(n, 7);
    f = open_memstream(&text, &size);
    assert_non_null(f);
    repro_write_list(f, list, n);
    fclose(f);
    assert_string_equal(text, "7,0-3,5,5");
    free(text);
    free(list);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (repro_parse_list(bad[i], &list, &n, &err) == 0) {
            fail_msg("'%s' was taken as a list", bad[i]);
        }
        tu_assert_contains(err.msg, "--replay: expected partition indexes");
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repro__a_crash_at_the_1000th_record_reproduces_at_the_same_record),
        cmocka_unit_test(test_repro__a_segv_and_an_error_reproduce),
        cmocka_unit_test(test_repro__the_line_keeps_overrides_and_drops_workers_and_output),
        cmocka_unit_test(test_repro__replay_runs_the_listed_partitions_in_order),
        cmocka_unit_test(test_repro__each_run_logs_in_its_own_directory),
        cmocka_unit_test(test_repro__a_live_run_keeps_its_logs),
        cmocka_unit_test(test_repro__a_stream_is_replayed_as_the_failed_run_cut_it),
        cmocka_unit_test(test_repro__a_stream_that_left_an_index_is_replayed_as_a_stream),
        cmocka_unit_test(test_repro__the_line_is_quoted_and_filtered),
        cmocka_unit_test(test_repro__lists_parse_and_print),
    };

    return cmocka_run_group_tests(tests, group_setup, tu_group_teardown);
}
