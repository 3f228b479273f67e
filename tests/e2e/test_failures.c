/*
 * tests/e2e/test_failures.c: P6's failure handling through the real CLI, with the poison fixture
 * (tests/plugins/poison.so) failing in every way on records whose offsets grep -b gives: retries
 * give the output of a run without failures; on_error: skip leaves out exactly the poisoned
 * records (the output is the reference tools' on the input without them; rejects.tsv and
 * rejects.bin list them); max_skipped, record_timeout and partition_timeout fail the job with
 * their exit codes; no process and no temporary file is left behind.
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

#define POISON TEST_PLUGIN_DIR "/poison.so"
#define STEP_LABEL "step 2 (" POISON ")"
#define CHECK_SUMMARY SOURCE_DIR "/tests/e2e/check_summary.py"
#define POISONED 4 /* records holding MARK in in.txt */

/*
 * Checks of summary.json files, gathered while a test runs and made by one python3 at its end
 * (python starts slowly on a loaded machine): "check FILE KEY=VALUE..." runs check_summary.py,
 * "expr FILE EXPRESSION" evaluates a Python expression of the summary `d` that must be true.
 */
static const char checks_py[] =
    "import json, runpy, shlex, sys\n"
    "for line in open(sys.argv[1]):\n"
    "    kind, f, rest = line.rstrip('\\n').split(' ', 2)\n"
    "    if kind == 'check':\n"
    "        sys.argv = ['" CHECK_SUMMARY "', f] + shlex.split(rest)\n"
    "        try:\n"
    "            runpy.run_path(sys.argv[0], run_name='__main__')\n"
    "        except SystemExit as e:\n"
    "            if e.code not in (0, None):\n"
    "                sys.exit('%s: %s' % (line.strip(), e.code))\n"
    "    elif not eval(rest, {'d': json.load(open(f)), 'json': json}):\n"
    "        sys.exit('not true of %s: %s' % (f, rest))\n";
static char checks[65536];
static size_t checks_len;

static void summary_check(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
summary_check(const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(checks + checks_len, sizeof(checks) - checks_len - 1, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(checks) - checks_len - 1);
    checks_len += (size_t)n;
    checks[checks_len++] = '\n';
}

/* Makes the checks gathered so far, and forgets them. */
static void
summary_checks_run(void)
{
    tu_write_file(tu_join(tu_dir, "checks.py"), checks_py, strlen(checks_py));
    tu_write_file(tu_join(tu_dir, "checks.txt"), checks, checks_len);
    checks_len = 0;
    tu_sh(0, "python3 checks.py checks.txt");
}

/* How the fixture fails, what the reason of a failure says, whether it kills the worker, and
 * what the shell does before running tranche. */
struct mode {
    const char *name;
    const char *extra; /* job keys the mode needs */
    const char *reason;
    int kills;
    const char *shell;
};

/* oom: the fixture grows until malloc fails under its own 256 MiB address-space limit; a lower
 * hard limit inherited from the shell (64 MiB: tranche's workers need a few) stays, and makes the
 * same death several times faster. */
#ifdef TRANCHE_SANITIZED
/* (AddressSanitizer reserves its shadow memory at start: under any address-space limit it cannot
 * run at all, and its allocator ends a process that runs out with an exit of its own) */
#define OOM_LIMIT ""
#define OOM_DEATH " in partition "
#else
#define OOM_LIMIT "ulimit -v 65536 && "
#define OOM_DEATH "killed by signal SIGKILL"
#endif

static const struct mode modes[] = {
    {"error", "", "poisoned record '", 0, ""},
    {"crash", "", "killed by signal SIGSEGV", 1, ""},
    {"abort", "", "killed by signal SIGABRT", 1, ""},
    {"exit", "", "exited with status 7", 1, ""},
    {"hang", "record_timeout: 300ms\n", "timed out (record_timeout of 0.3s)", 1, ""},
    {"oom", "", OOM_DEATH, 1, OOM_LIMIT},
};

#define N_MODES (sizeof(modes) / sizeof(modes[0]))

/*
 * in.txt: 6003 records, 4 of them poisoned with MARK: the first record of the file, one in the
 * middle, one of 70 KiB (longer than any partition size used here) and the last, which has no
 * newline. Beside it, made by grep, tr and awk alone: marks.txt (OFFSET:RECORD of the poisoned
 * records), full.ref (upper on all of it: the last record gains its newline, as the README says),
 * skip.ref (upper on the input without the poisoned records) and rejects.ref (the poisoned
 * records, each followed by a newline).
 */
static int
setup(void **state)
{
    tu_group_setup(state);
    tu_sh(0,
          "{ echo 'MARK first'; seq 1 3000 | sed -e 's/^1500$/1500 MARK mid/' "
          "-e 's/$/ some text/'; printf 'long '; head -c 70000 /dev/zero | tr '\\0' x; "
          "printf ' MARK\\n'; seq 3001 6000 | sed 's/$/ more text/'; printf 'last MARK'; } "
          "> in.txt && [ \"$(tail -c 1 in.txt)\" = K ] && grep -b MARK in.txt > marks.txt && "
          "[ $(wc -l < marks.txt) -eq %d ] && [ $(wc -l < in.txt) -eq 6002 ] && "
          "tr a-z A-Z < in.txt | awk 1 > full.ref && "
          "grep -v MARK in.txt | tr a-z A-Z > skip.ref && grep MARK in.txt > rejects.ref && "
          "mkdir -p out logs once plans",
          POISONED);
    return 0;
}

/* Writes job NAME.yaml: input in.txt, output out/NAME/OUTPUT, logs in logs/NAME, then the job
 * keys `extra`; steps upper, then poison with `match: MARK` and the options `opts`. Makes out/NAME
 * and once/NAME empty. Returns the job's path (static, valid until the next call). */
static const char *
poison_job(const char *name, const char *output, const char *psize, const char *extra,
           const char *opts)
{
    static char path[1024];
    char file[256];

    tu_sh(0, "rm -rf 'out/%s' 'logs/%s' 'once/%s' && mkdir 'out/%s' 'once/%s'", name, name, name,
          name, name);
    snprintf(file, sizeof(file), "%s.yaml", name);
    snprintf(path, sizeof(path), "%s",
             tu_write_job(file,
                          "input:\n  path: in.txt\noutput:\n  path: out/%s/%s\n"
                          "log_dir: logs/%s\npartition_size: %s\n%s"
                          "steps:\n  - plugin: upper\n  - plugin: " POISON "\n"
                          "    options: { match: MARK, %s }\n",
                          name, output, name, psize, extra, opts));
    return path;
}

/* The absolute path of job NAME's once directory (for the fixture's `once`). */
static const char *
once_dir(const char *name)
{
    static char path[1024];

    snprintf(path, sizeof(path), "%s/once/%s", tu_dir, name);
    return path;
}

/*
 * From `tranche plan` of the job and marks.txt, computed without tranche's reader:
 * plans/NAME.plan (the plan), plans/NAME.rejects (the first five columns rejects.tsv must have:
 * input, offset, length, partition, step) and plans/NAME.where (per poisoned record, the words a
 * failure message uses to say where it was).
 */
static void
expect_rejects(const char *name, const char *job)
{
    tu_sh(0,
          "%s plan %s > plans/%s.plan && [ $(wc -l < plans/%s.plan) -gt 1 ] && "
          "awk -v OFS='\\t' -v step='" STEP_LABEL "' -v where=plans/%s.where -v input='%s/in.txt' "
          "'NR == FNR { i[NR] = $1; s[NR] = $2 + 0; e[NR] = $3 + 0; n = NR; next } "
          "{ c = index($0, \":\"); off = substr($0, 1, c - 1) + 0; len = length($0) - c; "
          "p = -1; for (k = 1; k <= n; k++) if (off >= s[k] && off < e[k]) { p = k }; "
          "print input, off, len, i[p], step; "
          "printf \"partition %%s (bytes %%s-%%s of %%s), %%s, at the record starting at "
          "byte %%s\\n\", i[p], s[p], e[p], input, step, off > where }' "
          "plans/%s.plan marks.txt > plans/%s.rejects && [ $(wc -l < plans/%s.rejects) -eq %d ]",
          TRANCHE_BIN, job, name, name, name, tu_dir, name, name, name, POISONED);
}

/* Fails unless `err` names one of the poisoned records where it failed (plans/NAME.where). */
static void
assert_names_a_poisoned_record(const char *err, const char *name)
{
    char path[1024], *where, *line, *save = NULL;
    int found = 0;

    snprintf(path, sizeof(path), "%s/plans/%s.where", tu_dir, name);
    where = tu_read_file(path, NULL);
    assert_non_null(where);
    for (line = strtok_r(where, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        found |= err != NULL && strstr(err, line) != NULL;
    }
    if (!found) {
        fail_msg("%s: the message names none of the poisoned records (%s):\n%s", name, path, err);
    }
    free(where);
}

static void
assert_no_process(const char *job)
{
    if (tu_process_with_arg(job) != 0) {
        fail_msg("%s: a process of the job is still running", job);
    }
}

/* Nothing in out/NAME (no output, no temporary or part file) and no process of the job; only
 * the work a failed run keeps for --resume, when it wrote partitions (test_resume.c). */
static void
assert_clean(const char *name, const char *job)
{
    if (tu_run_here(NULL, "[ -z \"$(ls -A 'out/%s' | grep -v '^out\\.txt\\.tranche-work$')\" ]",
                    name) != 0) {
        tu_run_here(NULL, "ls -la 'out/%s' >&2", name);
        fail_msg("%s: files left beside the output", name);
    }
    assert_no_process(job);
}

/* Runs `SHELL tranche run JOB ARGS` and fails unless it exits `expect`; returns its stderr. */
static char *
run_job_in(const char *shell, const char *job, int expect, const char *args)
{
    char *err = NULL;
    int rc = tu_run_here(&err, "%s%s run %s %s", shell, TRANCHE_BIN, job, args);

    if (rc != expect) {
        fail_msg("%s tranche run %s %s: exit %d, expected %d:\n%s", shell, job, args, rc, expect,
                 err);
    }
    return err;
}

static char *
run_job(const char *job, int expect, const char *args)
{
    return run_job_in("", job, expect, args);
}

/* summary.json's retries[] are plans/NAME.rejects's partitions (one retry each, the first attempt
 * failed for `reason`), and the log says each was run again. */
static void
assert_retried_poisoned_partitions(const char *name, const char *reason)
{
    summary_check("expr logs/%s/summary.json sorted((r['partition'], r['attempt'], \"%s\" in "
                  "r['reason']) for r in d['retries']) == sorted((int(l.split('\\t')[3]), 1, "
                  "True) for l in open('plans/%s.rejects'))",
                  name, reason, name);
    tu_sh(0, "[ $(grep -c \"attempt 1 failed, it runs again: .*%s\" logs/%s/tranche.log) -eq %d ]",
          reason, name, POISONED);
}

/* 1. With `retries: 1`, a failure on the first meeting of each poisoned record (`once`), in every
 * mode, gives the output of a run without failures, to a plain file, a gzip file and a pipe. */
static void
test_failures__retries_give_the_output_of_a_clean_run(void **state)
{
    static const char *const sizes[] = {"4KiB", "8KiB", "16KiB"};
    static const char *const outputs[] = {"out.txt", "out.gz", "out.txt"}; /* the last: -o - */
    size_t m, o;

    (void)state;
    for (m = 0; m < N_MODES; m++) {
        for (o = 0; o < 3; o++) {
            char name[64], extra[256], opts[1100], args[64];
            int workers = 1 + (int)((m + o) % 3);
            const char *job;
            char *err;

            snprintf(name, sizeof(name), "retry-%s-%zu", modes[m].name, o);
            snprintf(extra, sizeof(extra), "retries: 1\n%s", modes[m].extra);
            snprintf(opts, sizeof(opts), "mode: %s, once: %s", modes[m].name, once_dir(name));
            job = poison_job(name, outputs[o], sizes[(m + o) % 3], extra, opts);
            expect_rejects(name, job);
            /* each poisoned record in its own partition: one retry each is enough */
            tu_sh(0, "[ $(cut -f4 plans/%s.rejects | sort -u | wc -l) -eq %d ]", name, POISONED);
            snprintf(args, sizeof(args), "--workers %d", workers);
            if (o == 2) {
                tu_sh(0,
                      "{ %s%s run %s %s -o - 2> out/%s.err; echo $? > out/%s.rc; } | "
                      "cat > out/%s.pipe && [ \"$(cat out/%s.rc)\" = 0 ] && "
                      "cmp full.ref out/%s.pipe && [ -z \"$(ls -A out/%s)\" ]",
                      modes[m].shell, TRANCHE_BIN, job, args, name, name, name, name, name, name);
            } else {
                err = run_job_in(modes[m].shell, job, 0, args);
                free(err);
                if (o == 0) {
                    tu_sh(0, "cmp full.ref out/%s/out.txt", name);
                } else {
                    tu_sh(0, "gzip -t out/%s/out.gz && zcat out/%s/out.gz | cmp full.ref -", name,
                          name);
                }
                tu_sh(0, "[ $(ls -A out/%s | wc -l) -eq 1 ]", name);
            }
            summary_check("check logs/%s/summary.json status=ok exit_status=0 retries=%d "
                          "skipped=0 plan=plans/%s.plan n_workers=%d",
                          name, POISONED, name, workers);
            assert_retried_poisoned_partitions(name, modes[m].reason);
            /* every poisoned record was met (and failed once) */
            tu_sh(0, "[ \"$(cut -f2 plans/%s.rejects | sort)\" = \"$(ls once/%s | sort)\" ]", name,
                  name);
            tu_sh(0, "[ ! -e logs/%s/rejects.tsv ] && [ ! -e logs/%s/rejects.bin ]", name, name);
            assert_no_process(job);
        }
    }
    summary_checks_run();
}

/* Runs job NAME (poison with `opts`, partitions of 8KiB, `args`) and fails unless it exits
 * `expect` within 10 s with a message that says `what` and names a poisoned record where it
 * failed, leaving nothing beside the output and no process; its summary must say `status`. */
static void
assert_job_fails(const char *name, const char *extra, const char *opts, const char *args,
                 int expect, const char *what, const char *status)
{
    struct timespec t0;
    const char *job = poison_job(name, "out.txt", "8KiB", extra, opts);
    char *err;
    double took;

    expect_rejects(name, job);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    err = run_job(job, expect, args);
    took = tu_seconds_since(&t0);
    if (took > 10) {
        fail_msg("%s took %.1f s", name, took);
    }
    tu_assert_contains(err, what);
    tu_assert_contains(err, "job failed");
    assert_names_a_poisoned_record(err, name);
    free(err);
    assert_clean(name, job);
    summary_check("check logs/%s/summary.json status=%s exit_status=%d", name, status, expect);
}

/* 2. Without retries a crash fails the job, naming the partition and the record's offset; with
 * retries that keep failing, after them. */
static void
test_failures__crash_without_retries_fails_the_job(void **state)
{
    (void)state;
    assert_job_fails("fail", "", "mode: crash", "--workers 2", 1, "killed by signal SIGSEGV",
                     "failed");
    summary_check("check logs/fail/summary.json retries=0");
    /* one worker: partition 0 fails three times (on the first record), then the job */
    assert_job_fails("fail-retried", "retries: 2\n", "mode: crash", "--workers 1", 1,
                     "at the record starting at byte 0\n", "failed");
    summary_check("check logs/fail-retried/summary.json retries=2");
    tu_sh(0, "grep -q 'partition 0: attempt 1 failed' logs/fail-retried/tranche.log && "
             "grep -q 'partition 0: attempt 2 failed' logs/fail-retried/tranche.log");
    summary_checks_run();
}

/* rejects.tsv and rejects.bin of job NAME (run with on_error: skip, log dir LOGS) list exactly the
 * poisoned records: input, offset (grep -b's), length, partition (the plan's), step; `reason`
 * in each reason; the raw records each followed by a newline, the last one's added. */
static void
assert_rejects(const char *name, const char *logs, const char *reason, int kills)
{
    tu_sh(0,
          "[ \"$(head -n 1 %s/rejects.tsv)\" = "
          "\"$(printf '#input\\toffset\\tlength\\tpartition\\tstep\\treason')\" ] && "
          "tail -n +2 %s/rejects.tsv | cut -f1-5 | diff plans/%s.rejects - && "
          "[ $(tail -n +2 %s/rejects.tsv | cut -f6 | grep -c -F \"%s\") -eq %d ] && "
          "cmp rejects.ref %s/rejects.bin && tail -c 10 %s/rejects.bin | od -An -c | "
          "tr -d ' ' | grep -qx 'lastMARK\\\\n'",
          logs, logs, name, logs, reason, POISONED, logs, logs);
    if (kills) {
        tu_sh(0, "[ $(grep -c 'record alone' %s/rejects.tsv) -eq %d ]", logs, POISONED);
    }
}

/* summary.json of a run that skipped the poisoned records: status, totals, the plan, rejects. */
static void
assert_skip_summary(const char *logs, const char *name, int workers, int kills)
{
    summary_check("expr %s/summary.json d['rejects']['count'] == %d and "
                  "d['rejects']['tsv'].endswith('/rejects.tsv') and "
                  "d['rejects']['bin'].endswith('/rejects.bin')",
                  logs, POISONED);
    if (!kills) {
        summary_check("check %s/summary.json status=skipped exit_status=3 skipped=%d "
                      "records_in=6003 records_out=5999 plan=plans/%s.plan n_workers=%d",
                      logs, POISONED, name, workers);
        return;
    }
    /* (check_summary.py also checks the step rows, which are wrong when a record killed its
     * worker: see test_failures__skip_counts_steps_alike) */
    summary_check("expr %s/summary.json d['status'] == 'skipped' and d['exit_status'] == 3 and "
                  "d['totals']['skipped'] == %d and d['totals']['records_in'] == 6003 and "
                  "d['totals']['records_out'] == 5999 and "
                  "sum(r['skipped'] for r in d['partitions']) == %d and d['n_workers'] == %d and "
                  "[[str(r['index']), str(r['start']), str(r['end'])] for r in d['partitions']] "
                  "== [l.split()[:3] for l in open('plans/%s.plan')]",
                  logs, POISONED, POISONED, workers, name);
}

/* 3. on_error: skip, every mode: the poisoned records, the first, the last without its newline
 * and the one longer than a partition, are left out and listed, the job exits 3. */
static void
test_failures__skip_leaves_out_exactly_the_poisoned_records(void **state)
{
    static const char *const sizes[] = {"4KiB", "16KiB", "64KiB"};
    size_t m;

    (void)state;
    for (m = 0; m < N_MODES; m++) {
        char name[64], extra[256], opts[64], args[64], logs[128];
        int workers = 1 + (int)(m % 3);
        const char *job;
        char *err;

        snprintf(name, sizeof(name), "skip-%s", modes[m].name);
        snprintf(logs, sizeof(logs), "logs/%s", name);
        snprintf(extra, sizeof(extra), "on_error: skip\n%s", modes[m].extra);
        snprintf(opts, sizeof(opts), "mode: %s", modes[m].name);
        job = poison_job(name, "out.txt", sizes[m % 3], extra, opts);
        expect_rejects(name, job);
        snprintf(args, sizeof(args), "--workers %d", workers);
        err = run_job_in(modes[m].shell, job, 3, args);
        tu_assert_contains(err, "4 skipped");
        free(err);
        tu_sh(0, "cmp skip.ref out/%s/out.txt && [ $(ls -A out/%s | wc -l) -eq 1 ]", name, name);
        assert_rejects(name, logs, modes[m].reason, modes[m].kills);
        assert_skip_summary(logs, name, workers, modes[m].kills);
        assert_no_process(job);
    }
    summary_checks_run();
}

/* A retry before the probe: with `retries: 1` and on_error: skip, a record that always kills its
 * worker is retried with its partition, then run alone, then left out. */
static void
test_failures__skip_after_retries(void **state)
{
    const char *job;
    char *err;

    (void)state;
    job = poison_job("skip-retried", "out.txt", "8KiB", "on_error: skip\nretries: 1\n",
                     "mode: abort");
    expect_rejects("skip-retried", job);
    err = run_job(job, 3, "--workers 2");
    free(err);
    tu_sh(0, "cmp skip.ref out/skip-retried/out.txt");
    assert_rejects("skip-retried", "logs/skip-retried", "SIGABRT", 1);
    /* each poisoned partition was run again at least once before its record was left out */
    summary_check("expr logs/skip-retried/summary.json sorted(set(r['partition'] for r in "
                  "d['retries'])) == sorted(set(int(l.split('\\t')[3]) for l in "
                  "open('plans/skip-retried.rejects')))");
    assert_skip_summary("logs/skip-retried", "skip-retried", 2, 1);
    assert_no_process(job);
    summary_checks_run();
}

/* The steps' numbers do not depend on how a skipped record failed: the same records reached
 * the same steps whether poison returned an error on them or crashed its worker (a record left
 * out unrun is counted as the attempt that died of it went: upper keeps its length). */
static void
test_failures__skip_counts_steps_alike(void **state)
{
    const char *job;
    char *err;

    (void)state;
    job = poison_job("steps-error", "out.txt", "8KiB", "on_error: skip\n", "mode: error");
    err = run_job(job, 3, "--workers 2");
    free(err);
    job = poison_job("steps-crash", "out.txt", "8KiB", "on_error: skip\n", "mode: crash");
    err = run_job(job, 3, "--workers 2");
    free(err);
    summary_check("expr logs/steps-crash/summary.json [(r['records_in'], r['records_out'], "
                  "r['bytes_in'], r['bytes_out']) for r in d['steps']] == [(r['records_in'], "
                  "r['records_out'], r['bytes_in'], r['bytes_out']) for r in "
                  "json.load(open('logs/steps-error/summary.json'))['steps']]");
    summary_check("check logs/steps-crash/summary.json status=skipped skipped=%d", POISONED);
    summary_checks_run();
}

/* 4. A record that kills its worker only in company: run alone it passes, so it is not left out
 * and the job fails, saying so. */
static void
test_failures__probe_that_passes_fails_the_job(void **state)
{
    char want[256], path[1024], *rows, *off, *part;
    const char *job;
    char *err;

    (void)state;
    job = poison_job("probe", "out.txt", "4KiB", "on_error: skip\n",
                     "mode: crash, with_others: true");
    expect_rejects("probe", job);
    /* one worker: the first to fail is the middle record (the first is first of partition 0) */
    err = run_job(job, 1, "--workers 1");
    snprintf(path, sizeof(path), "%s/plans/probe.rejects", tu_dir);
    rows = tu_read_file(path, NULL);
    assert_non_null(rows);
    off = strchr(strchr(rows, '\n') + 1, '\t') + 1; /* row 2, column 2 */
    part = strchr(strchr(off, '\t') + 1, '\t') + 1;
    snprintf(want, sizeof(want), "the record at byte %.*s of partition %.*s did not fail",
             (int)strcspn(off, "\t"), off, (int)strcspn(part, "\t"), part);
    tu_assert_contains(err, want);
    tu_assert_contains(err, "killed by signal SIGSEGV");
    free(rows);
    free(err);
    assert_clean("probe", job);
    tu_sh(0, "[ ! -e logs/probe/rejects.tsv ]");
}

/* 5. max_skipped: a count or a fraction below the poisoned records fails the job; one at or above
 * it does not. */
static void
test_failures__max_skipped(void **state)
{
    static const struct {
        const char *value;
        int expect;
    } cases[] = {
        {"3", 1}, {"'0.05%'", 1}, {"0.0005", 1}, {"4", 3}, {"'0.1%'", 3}, {"0.01", 3},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[64], extra[128];
        const char *job;
        char *err;

        snprintf(name, sizeof(name), "max-%zu", i);
        snprintf(extra, sizeof(extra), "on_error: skip\nmax_skipped: %s\n", cases[i].value);
        job = poison_job(name, "out.txt", "4KiB", extra, "mode: error");
        expect_rejects(name, job);
        err = run_job(job, cases[i].expect, "--workers 2");
        if (cases[i].expect == 1) {
            tu_assert_contains(err, "more than max_skipped");
            assert_clean(name, job);
            /* the records left out so far are listed, and only poisoned ones */
            tu_sh(0,
                  "[ $(tail -n +2 logs/%s/rejects.tsv | wc -l) -gt 0 ] && "
                  "tail -n +2 logs/%s/rejects.tsv | cut -f1-5 | grep -vxFf plans/%s.rejects "
                  "| [ $(wc -l) -eq 0 ]",
                  name, name, name);
            summary_check(
                "check logs/%s/summary.json status=failed exit_status=1 error~max_skipped", name);
        } else {
            tu_sh(0, "cmp skip.ref out/%s/out.txt", name);
            assert_rejects(name, tu_join("logs", name), "poisoned record '", 0);
            assert_no_process(job);
        }
        free(err);
    }
    summary_checks_run();
}

/* 6. A hung step: record_timeout and partition_timeout kill it and the job exits 124, naming the
 * record. (With a retry, a record that hangs once costs nothing: the hang mode of
 * test_failures__retries_give_the_output_of_a_clean_run.) */
static void
test_failures__timeouts(void **state)
{
    (void)state;
    assert_job_fails("record-timeout", "record_timeout: 300ms\n", "mode: hang", "--workers 2", 124,
                     "timed out (record_timeout of 0.3s)", "timed_out");
    assert_job_fails("partition-timeout", "partition_timeout: 1s\n", "mode: hang", "--workers 3",
                     124, "timed out (partition_timeout of 1s)", "timed_out");
    summary_checks_run();
}

/* 7. --in-process skips the same records, with the same output and rejects, as the workers. */
static void
test_failures__in_process_skips_as_workers_do(void **state)
{
    const char *job;
    char *err;

    (void)state;
    job = poison_job("inproc", "out.txt", "16KiB", "on_error: skip\n", "mode: error");
    expect_rejects("inproc", job);
    err = run_job(job, 3, "--in-process --log-dir logs/inproc-in --output out/inproc/in.txt");
    free(err);
    err = run_job(job, 3, "--workers 3 --log-dir logs/inproc-fork --output out/inproc/fork.txt");
    free(err);
    tu_sh(0, "cmp skip.ref out/inproc/in.txt && cmp out/inproc/in.txt out/inproc/fork.txt && "
             "cmp logs/inproc-in/rejects.tsv logs/inproc-fork/rejects.tsv && "
             "cmp logs/inproc-in/rejects.bin logs/inproc-fork/rejects.bin");
    assert_rejects("inproc", "logs/inproc-in", "poisoned record '", 0);
    assert_skip_summary("logs/inproc-in", "inproc", 1, 0);
    assert_no_process(job);
    summary_checks_run();
}

/* 8. --retries overrides the job's retries, both ways; a bad value runs nothing. */
static void
test_failures__retries_on_the_command_line(void **state)
{
    char opts[1100];
    const char *job;
    char *err;

    (void)state;
    snprintf(opts, sizeof(opts), "mode: crash, once: %s", once_dir("cli"));
    job = poison_job("cli", "out.txt", "8KiB", "retries: 1\n", opts);
    err = run_job(job, 1, "--workers 2 --retries 0");
    tu_assert_contains(err, "killed by signal SIGSEGV");
    free(err);
    assert_clean("cli", job);

    job = poison_job("cli", "out.txt", "8KiB", "retries: 0\n", opts);
    err = run_job(job, 0, "--workers 2 --retries 1");
    free(err);
    tu_sh(0, "cmp full.ref out/cli/out.txt");
    summary_check("check logs/cli/summary.json status=ok retries=%d", POISONED);
    summary_checks_run();

    job = poison_job("cli", "out.txt", "8KiB", "", opts);
    err = run_job(job, 2, "--workers 2 --retries x");
    tu_assert_contains(err, "--retries");
    tu_assert_contains(err, "'x'");
    free(err);
    assert_clean("cli", job);
    tu_sh(0, "[ ! -e logs/cli ] && [ -z \"$(ls -A once/cli)\" ]");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failures__retries_give_the_output_of_a_clean_run),
        cmocka_unit_test(test_failures__crash_without_retries_fails_the_job),
        cmocka_unit_test(test_failures__skip_leaves_out_exactly_the_poisoned_records),
        cmocka_unit_test(test_failures__skip_after_retries),
        cmocka_unit_test(test_failures__skip_counts_steps_alike),
        cmocka_unit_test(test_failures__probe_that_passes_fails_the_job),
        cmocka_unit_test(test_failures__max_skipped),
        cmocka_unit_test(test_failures__timeouts),
        cmocka_unit_test(test_failures__in_process_skips_as_workers_do),
        cmocka_unit_test(test_failures__retries_on_the_command_line),
    };

    return cmocka_run_group_tests(tests, setup, tu_group_teardown);
}
