/*
 * tests/e2e/test_run.c: whole jobs through the real CLI, the real loader and the bundled plugins,
 * compared byte for byte with the reference tools (LC_ALL=C tr, grep, cut) for 1, 2 and 7
 * workers and partition sizes from 1 byte up, on inputs built to hit the edges.
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

static size_t check_bgzf_at(const char *name);

/* Runs a shell command and asserts it exits with `expect`. */
static void
sh(int expect, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tu_vsh(NULL, expect, fmt, ap);
    va_end(ap);
}

struct transform {
    const char *name;
    const char *steps;     /* YAML for the steps list */
    const char *reference; /* shell filter on stdin */
};

static const struct transform transforms[] = {
    {"upper", "  - plugin: upper\n", "tr a-z A-Z"},
    {"grep-fixed", "  - plugin: grep\n    options: { pattern: \" 404 \", fixed: true }\n",
     "grep -a -F ' 404 '"},
    {"grep-regex", "  - plugin: grep\n    options: { pattern: \"^(GET|POST).*(a|x)[,\\t]\" }\n",
     "grep -a -E '^(GET|POST).*(a|x)[,\t]'"},
    {"grep-invert",
     "  - plugin: grep\n    options: { pattern: 'alpha', fixed: true, invert: true }\n",
     "grep -a -v -F alpha"},
    {"cut-tab", "  - plugin: cut\n    options: { fields: [\"2\", \"4-5\"] }\n", "cut -f 2,4-5"},
    {"cut-comma", "  - plugin: cut\n    options: { delimiter: \",\", fields: [\"3-\", \"1\"] }\n",
     "cut -d , -f 1,3-"},
    {"grep-then-upper",
     "  - plugin: grep\n    options: { pattern: ' 200 ', fixed: true }\n  - plugin: upper\n",
     "grep -a -F ' 200 ' | tr a-z A-Z"},
};

/* Runs every transform for several worker counts and partition sizes against the reference. */
static void
check_transforms(const char *input, const size_t *sizes, size_t n_sizes)
{
    static const int workers[] = {1, 2, 7};
    size_t t, s, w;

    /* Reference tools see the input with a final newline, as tranche ends every record. */
    sh(0,
       "{ cat '%s'; [ \"$(tail -c1 '%s' | od -An -tx1)\" = \" 0a\" ] || echo; } "
       "> '%s/normalized'",
       input, input, tu_dir);
    for (t = 0; t < sizeof(transforms) / sizeof(transforms[0]); t++) {
        const struct transform *tr = &transforms[t];
        const char *job =
            tu_write_job("job.yaml",
                         "input:\n  path: %s\noutput:\n  path: %s/out\nlog_dir: %s/logs"
                         "\nsteps:\n%s",
                         input, tu_dir, tu_dir, tr->steps);
        char ref[1024], out[1024];

        snprintf(ref, sizeof(ref), "%s/ref-%s", tu_dir, tr->name);
        snprintf(out, sizeof(out), "%s/out", tu_dir);
        sh(0, "LC_ALL=C sh -c \"%s\" < '%s/normalized' > '%s' || [ $? -eq 1 ]", tr->reference,
           tu_dir, ref);
        for (s = 0; s < n_sizes; s++) {
            for (w = 0; w < sizeof(workers) / sizeof(workers[0]); w++) {
                unlink(out);
                sh(0, "%s run %s --workers %d --partition-size %zu", TRANCHE_BIN, job, workers[w],
                   sizes[s]);
                if (!tu_files_equal(out, ref)) {
                    fail_msg("%s: %d workers, partition size %zu differs from `%s`", tr->name,
                             workers[w], sizes[s], tr->reference);
                }
            }
        }
    }
}

static void
test_run__matches_reference_tools_on_edge_input(void **state)
{
    static const size_t sizes[] = {1, 7, 4096, 1 << 20};
    char input[1024];

    (void)state;
    snprintf(input, sizeof(input), "%s/edge.txt", tu_dir);
    tu_write_edge_input(input, 300000, 0, 1);
    check_transforms(input, sizes, sizeof(sizes) / sizeof(sizes[0]));
}

static void
test_run__nul_bytes_in_records(void **state)
{
    static const size_t sizes[] = {13, 65536};
    char input[1024];

    (void)state;
    snprintf(input, sizeof(input), "%s/nul.txt", tu_dir);
    tu_write_edge_input(input, 100000, 1, 0);
    check_transforms(input, sizes, sizeof(sizes) / sizeof(sizes[0]));
}

static void
test_run__sample_access_log(void **state)
{
    static const size_t sizes[] = {100000, 32 << 20};
    char input[1024];

    (void)state;
    snprintf(input, sizeof(input), "%s/sample-data/access.log", SOURCE_DIR);
    check_transforms(input, sizes, sizeof(sizes) / sizeof(sizes[0]));
}

static void
test_run__empty_and_tiny_inputs(void **state)
{
    static const char *const inputs[] = {"", "\n", "a", "a\n", "\n\n\n", "ab\r\ncd\r\n"};
    size_t i;
    const char *job;

    (void)state;
    for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/tiny", tu_dir);
        tu_write_file(path, inputs[i], strlen(inputs[i]));
        job = tu_write_job("tiny.yaml", "input:\n  path: tiny\noutput:\n  path: tiny.out\n"
                                        "log_dir: logs\nsteps:\n  - plugin: upper\n");
        sh(0, "%s run %s --workers 7 --partition-size 1", TRANCHE_BIN, job);
        sh(0,
           "cd '%s' && { cat tiny; [ -z \"$(tail -c1 tiny)\" ] || echo; } | tr a-z A-Z | "
           "cmp - tiny.out",
           tu_dir);
    }
}

static void
test_run__many_files_glob_and_list_keep_order(void **state)
{
    const char *job;

    (void)state;
    sh(0,
       "cd '%s' && mkdir -p parts && printf 'b1\\nb2' > parts/b.log && printf 'a1\\na2\\n' > "
       "parts/a.log && : > parts/c.log && printf 'd1\\n' > parts/d.log",
       tu_dir);
    job = tu_write_job("glob.yaml", "input:\n  path: parts/*.log\noutput:\n  path: glob.out\n"
                                    "log_dir: logs\nsteps:\n  - plugin: upper\n");
    sh(0, "%s run %s --workers 2 --partition-size 1", TRANCHE_BIN, job);
    sh(0, "cd '%s' && printf 'A1\\nA2\\nB1\\nB2\\nD1\\n' | cmp - glob.out", tu_dir);
    job = tu_write_job("list.yaml", "input:\n  path: [parts/d.log, parts/b.log, parts/a.log]\n"
                                    "output:\n  path: list.out\nlog_dir: logs\n"
                                    "steps:\n  - plugin: upper\n");
    sh(0, "%s run %s --workers 3 --partition-size 2", TRANCHE_BIN, job);
    sh(0, "cd '%s' && printf 'D1\\nB1\\nB2\\nA1\\nA2\\n' | cmp - list.out", tu_dir);
    /* plan names the file when there are several */
    sh(0, "%s plan %s --partition-size 100 | grep -c 'parts/' | grep -qx 3", TRANCHE_BIN, job);
}

static void
test_run__other_delimiters(void **state)
{
    const char *job;

    (void)state;
    sh(0, "cd '%s' && printf 'ab\\0cd\\0\\0ef' > nul.in && printf 'x,y,,z' > comma.in", tu_dir);
    job = tu_write_job("nuld.yaml", "input:\n  path: nul.in\n  delimiter: \"\\0\"\noutput:\n"
                                    "  path: nul.out\nlog_dir: logs\nsteps:\n  - plugin: upper\n");
    sh(0, "%s run %s --workers 2 --partition-size 1", TRANCHE_BIN, job);
    sh(0, "cd '%s' && printf 'AB\\0CD\\0\\0EF\\0' | cmp - nul.out", tu_dir);
    job =
        tu_write_job("comma.yaml", "input:\n  path: comma.in\n  delimiter: \",\"\noutput:\n"
                                   "  path: comma.out\nlog_dir: logs\nsteps:\n  - plugin: upper\n");
    sh(0, "%s run %s --workers 2 --partition-size 1", TRANCHE_BIN, job);
    sh(0, "cd '%s' && printf 'X,Y,,Z,' | cmp - comma.out", tu_dir);
}

static void
test_run__stdout_in_process_and_single_partition(void **state)
{
    const char *job;

    (void)state;
    sh(0, "cd '%s' && seq 1 5000 | sed 's/$/ line/' > nums", tu_dir);
    job = tu_write_job("nums.yaml", "input:\n  path: nums\noutput:\n  path: nums.out\n"
                                    "log_dir: logs\nsteps:\n  - plugin: upper\n");
    sh(0, "cd '%s' && tr a-z A-Z < nums > nums.ref", tu_dir);
    sh(0, "%s run %s --output - --workers 2 --partition-size 1000 > '%s/stdout.out'", TRANCHE_BIN,
       job, tu_dir);
    sh(0, "cmp '%s/stdout.out' '%s/nums.ref'", tu_dir, tu_dir);
    sh(0, "%s run %s --in-process --partition-size 1000 --output '%s/inproc.out'", TRANCHE_BIN, job,
       tu_dir);
    sh(0, "cmp '%s/inproc.out' '%s/nums.ref'", tu_dir, tu_dir);
    /* --partition K gives exactly the bytes of partition K, as `plan` gives them */
    sh(0,
       "cd '%s' && line=$(%s plan %s --partition-size 1000 | sed -n 4p) && set -- $line && "
       "%s run %s --partition-size 1000 --partition 3 --output p3.out && "
       "tail -c +$(($2 + 1)) nums | head -c $(($3 - $2)) | tr a-z A-Z | cmp - p3.out",
       tu_dir, TRANCHE_BIN, job, TRANCHE_BIN, job);
    sh(2, "%s run %s --partition-size 1000 --partition 99999 --output '%s/px.out'", TRANCHE_BIN,
       job, tu_dir);
}

static void
test_run__offsets_beyond_4GiB(void **state)
{
    /* A sparse file: 4 GiB of NUL bytes ending in a newline, then real records. Partition 1
     * starts at exactly 4 GiB, so reading it exercises 64-bit offsets in the workers. */
    const char *job;

    (void)state;
    if (tu_run("cd \"$TMPDIR\" 2>/dev/null || cd /tmp; truncate -s 1G probe.sparse && "
               "rm probe.sparse",
               NULL) != 0) {
        skip();
    }
    sh(0,
       "cd '%s' && truncate -s $((4 * 1024 * 1024 * 1024 - 1)) big && printf '\\nhello\\n"
       "world\\nlast' >> big",
       tu_dir);
    job = tu_write_job("big.yaml", "input:\n  path: big\noutput:\n  path: big.out\n"
                                   "partition_size: 4GiB\nlog_dir: logs\n"
                                   "steps:\n  - plugin: upper\n");
    sh(0, "%s plan %s | tail -n 1 | grep -qx '1 4294967296 4294967312'", TRANCHE_BIN, job);
    sh(0, "%s run %s --partition 1 --output %s/big.out", TRANCHE_BIN, job, tu_dir);
    sh(0, "cd '%s' && printf 'HELLO\\nWORLD\\nLAST\\n' | cmp - big.out", tu_dir);
}

/* Runs the spill job in the background with a spill threshold of 64 KiB and parking out of the
 * way (a finished partition waits for its turn for ten minutes), so that a part file on disk can
 * only come from spilling. Partition 0 waits at its first record until the test has seen
 * partition 1's part file on disk, then goes on. */
static void
run_spill_job(const char *job, const char *output)
{
    sh(0,
       TU_SH_WAIT "cd '%s' && rm -f release && { TRANCHE_TEST_SPILL_AFTER=65536 "
                  "TRANCHE_TEST_PARK_AFTER_MS=600000 %s run %s --workers 2 --output %s & } && "
                  "pid=$! && tu_wait_for 30 'tu_exists \"spill/.tranche-parts*/part-000001\"'; "
                  "seen=$?; touch release; tu_reap $pid 60; rc=$?; if [ $seen -ne 0 ]; then "
                  "echo 'no part file on disk while partition 0 waited: partition 1 did not "
                  "spill' >&2; exit 99; fi; exit $rc",
       tu_dir, TRANCHE_BIN, job, output);
}

static void
test_run__large_partition_spills_to_disk(void **state)
{
    /* Two files, so two partitions. The first waits until the test says so; meanwhile the
     * second, whose output passes the spill threshold, goes on in a part file on disk, which is
     * written after the first partition and then removed. */
    const char *job;

    (void)state;
    sh(0,
       "cd '%s' && mkdir -p spill && seq 1 1500 | sed 's/^/wait /' > wait.log && "
       "%s --kind access --size 2M --seed 3 --output big.log && "
       "cat wait.log big.log | tr a-z A-Z > spill-ref",
       tu_dir, TRANCHE_GEN);
    job = tu_write_job("spill.yaml",
                       "input:\n  path: [wait.log, big.log]\n"
                       "output:\n  path: spill/out.log\n"
                       "partition_size: 1GiB\nlog_dir: spill-logs\n"
                       "steps:\n  - plugin: %s/failer.so\n"
                       "    options: { match: \"wait \", mode: wait, "
                       "release: %s/release }\n"
                       "  - plugin: upper\n",
                       TEST_PLUGIN_DIR, tu_dir);
    run_spill_job(job, "spill/out.log");
    sh(0, "cd '%s' && cmp spill/out.log spill-ref && [ \"$(ls -A spill)\" = out.log ]", tu_dir);
    /* The same with gzip output, where what waits is compressed (2 MiB of log lines compress to
     * about 230 KB, well past the threshold): the part file must hold whole BGZF blocks. */
    run_spill_job(job, "spill/out.gz");
    sh(0,
       "cd '%s' && gzip -t spill/out.gz && zcat spill/out.gz | cmp - spill-ref && "
       "[ \"$(ls -A spill | sort | tr '\\n' ' ')\" = 'out.gz out.log ' ]",
       tu_dir);
    assert_true(check_bgzf_at("spill/out.gz") >= 2);
    sh(0, "cd '%s' && rm big.log spill-ref spill/out.log spill/out.gz", tu_dir);
}

static void
test_run__a_slow_partition_does_not_hold_the_others(void **state)
{
    /* Partition 0 waits until released. With two workers, the other four partitions must all
     * be run meanwhile and parked in part files on disk, as their turn has not come (the test
     * releases partition 0 once it sees the four part files), and the output must still come
     * out in order, plain and gzip. The park threshold is the real one here. */
    static const char *const outputs[] = {"park-out/x.log", "park-out/x.gz"};
    const char *job;
    size_t i;

    (void)state;
    sh(0,
       "cd '%s' && mkdir -p park && seq 1 100 | sed 's/^/wait /' > park/0.log && "
       "for i in 1 2 3 4; do seq $i 500 | sed \"s/^/part $i line /\" > park/$i.log; done && "
       "cat park/0.log park/1.log park/2.log park/3.log park/4.log | tr a-z A-Z > park-ref",
       tu_dir);
    job = tu_write_job("park.yaml",
                       "input:\n  path: park/*.log\noutput:\n  path: park-out/x.log\n"
                       "partition_size: 1GiB\nlog_dir: park-logs\n"
                       "steps:\n  - plugin: %s/failer.so\n"
                       "    options: { match: \"wait \", mode: wait, release: %s/go }\n"
                       "  - plugin: upper\n",
                       TEST_PLUGIN_DIR, tu_dir);
    for (i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++) {
        sh(0,
           TU_SH_WAIT "cd '%s' && rm -f go && { %s run %s --workers 2 --output %s & } && "
                      "pid=$! && tu_wait_for 30 "
                      "'[ $(tu_count \"park-out/.tranche-parts*/part-*\") -eq 4 ]'; seen=$?; "
                      "touch go; tu_reap $pid 60; rc=$?; if [ $seen -ne 0 ]; then "
                      "echo 'partitions 1 to 4 were not all parked while partition 0 waited' "
                      ">&2; exit 99; fi; exit $rc",
           tu_dir, TRANCHE_BIN, job, outputs[i]);
    }
    sh(0,
       "cd '%s' && cmp park-out/x.log park-ref && zcat park-out/x.gz | cmp - park-ref && "
       "[ -z \"$(ls -A park-out | grep -v '^x')\" ]",
       tu_dir);
}

/*
 * Output on standard output, with both spilling and parking, to the limit on parked partitions:
 * their part files are then in $TMPDIR, here a folder of the test's own. 24 partitions (one per
 * file), two workers, parking at once (TRANCHE_TEST_PARK_AFTER_MS=0) and a spill threshold of
 * 4 KiB (every other partition passes it, plain or compressed). Each step is a state the test
 * waits for:
 *   - partition 0 waits at its first record; partition 1 pauses after 4 MiB of output (more
 *     than the chain hands its sink at a time), so it has spilled: its part file is on disk
 *     although it has not finished;
 *   - released, partition 1 is parked, and the worker runs and parks the next ones until the
 *     limit, 2 x workers + 2 = 6 parked, leaves it idle: exactly 6 part files;
 *   - released, partition 0 is written, then the parked ones by the parent, and the rest runs.
 * The output must be the reference's, every record once and in order, and $TMPDIR empty.
 */
static void
run_stdout_job(const char *job, const char *output)
{
    sh(0,
       TU_SH_WAIT "cd '%s' && rm -rf so-tmp so.go0 so.go1 so.hold0 so.hold1 && mkdir so-tmp && "
                  "{ TMPDIR=\"$PWD/so-tmp\" TRANCHE_TEST_SPILL_AFTER=4096 "
                  "TRANCHE_TEST_PARK_AFTER_MS=0 %s run %s -o - --workers 2 > %s & } && pid=$! && "
                  "parts='so-tmp/.tranche-parts*/part-*'; fail=; "
                  "tu_wait_for 30 '[ -e so.hold0 ] && [ -e so.hold1 ]' || "
                  "fail='partitions 0 and 1 never reached their hold records'; "
                  "[ -n \"$fail\" ] || tu_exists 'so-tmp/.tranche-parts*/part-000001' || "
                  "fail='partition 1 paused after 4 MiB of output, with no part file on disk'; "
                  "touch so.go1; [ -n \"$fail\" ] || "
                  "tu_wait_for 30 '[ $(tu_count \"$parts\") -ge 6 ]' || "
                  "fail=\"the park limit was not reached: $(tu_count \"$parts\") part files\"; "
                  "n=$(tu_count \"$parts\"); [ -n \"$fail\" ] || [ $n -eq 6 ] || "
                  "fail=\"$n part files while partition 0 waited: more than the park limit\"; "
                  "touch so.go0; tu_reap $pid 60; rc=$?; "
                  "if [ -n \"$fail\" ]; then echo \"$fail\" >&2; exit 99; fi; "
                  "[ $rc -eq 0 ] || exit $rc; [ -z \"$(ls -A so-tmp)\" ] || "
                  "{ echo \"left in TMPDIR: $(ls -A so-tmp)\" >&2; exit 98; }",
       tu_dir, TRANCHE_BIN, job, output);
}

static void
test_run__stdout_with_spilling_and_parking(void **state)
{
    const char *job;

    (void)state;
    sh(0,
       "cd '%s' && rm -rf so && mkdir so && { echo 'HOLD-0 waits'; seq 1 50; } > so/p00.log && "
       "{ %s --kind access --size 4M --seed 5; echo 'PAUSE-1 after spilling'; seq 1 50; } > "
       "so/p01.log && for k in $(seq 2 23); do size=2K; [ $((k %% 2)) -eq 1 ] && size=40K; "
       "%s --kind access --size $size --seed $k --output so/p$(printf %%02d $k).log || exit 1; "
       "done && cat so/p*.log | tr a-z A-Z > so.ref",
       tu_dir, TRANCHE_GEN, TRANCHE_GEN);
    job = tu_write_job("so.yaml",
                       "input:\n  path: so/p*.log\noutput:\n  path: so.out\n"
                       "partition_size: 1GiB\nlog_dir: so-logs\nsteps:\n"
                       "  - plugin: %s/failer.so\n    options: { match: HOLD-0, mode: wait, "
                       "release: %s/so.go0, marker: %s/so.hold0 }\n"
                       "  - plugin: %s/failer.so\n    options: { match: PAUSE-1, mode: wait, "
                       "release: %s/so.go1, marker: %s/so.hold1 }\n"
                       "  - plugin: upper\n",
                       TEST_PLUGIN_DIR, tu_dir, tu_dir, TEST_PLUGIN_DIR, tu_dir, tu_dir);
    run_stdout_job(job, "so.out");
    sh(0, "cd '%s' && cmp so.out so.ref", tu_dir);
    /* gzip output on standard output is BGZF too */
    job = tu_write_job("so-gz.yaml",
                       "input:\n  path: so/p*.log\noutput:\n  path: so.gz\n  compression: gzip\n"
                       "partition_size: 1GiB\nlog_dir: so-logs\nsteps:\n"
                       "  - plugin: %s/failer.so\n    options: { match: HOLD-0, mode: wait, "
                       "release: %s/so.go0, marker: %s/so.hold0 }\n"
                       "  - plugin: %s/failer.so\n    options: { match: PAUSE-1, mode: wait, "
                       "release: %s/so.go1, marker: %s/so.hold1 }\n"
                       "  - plugin: upper\n",
                       TEST_PLUGIN_DIR, tu_dir, tu_dir, TEST_PLUGIN_DIR, tu_dir, tu_dir);
    run_stdout_job(job, "so.gz");
    sh(0, "cd '%s' && gzip -t so.gz && zcat so.gz | cmp - so.ref", tu_dir);
    assert_true(check_bgzf_at("so.gz") >= 2);
    sh(0, "cd '%s' && rm -r so so.ref so.out so.gz so-tmp", tu_dir);
}

static void
test_run__bgzf_input_matches_zcat(void **state)
{
    static const size_t sizes[] = {1, 5000, 70000, 1 << 20};
    static const int workers[] = {1, 2, 7};
    char out[1024], ref[1024];
    const char *job;
    size_t s, w;

    (void)state;
    /* records longer than a block, NUL bytes, no final newline; two bgzip files concatenated
     * (each with its end-of-file block), as `cat a.gz b.gz` makes */
    snprintf(out, sizeof(out), "%s/bgzf-a.txt", tu_dir);
    tu_write_edge_input(out, 300000, 1, 1);
    sh(0,
       "cd '%s' && printf 'tail one\\ntail two\\n' > bgzf-b.txt && bgzip -c bgzf-a.txt > "
       "in.bgz && bgzip -c bgzf-b.txt >> in.bgz && zcat in.bgz > plain.txt && "
       "tr a-z A-Z < plain.txt > bgzf.ref",
       tu_dir);
    snprintf(out, sizeof(out), "%s/bgzf.out", tu_dir);
    snprintf(ref, sizeof(ref), "%s/bgzf.ref", tu_dir);
    job = tu_write_job("bgzf.yaml", "input:\n  path: in.bgz\noutput:\n  path: bgzf.out\n"
                                    "log_dir: logs\nsteps:\n  - plugin: upper\n");
    for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (w = 0; w < sizeof(workers) / sizeof(workers[0]); w++) {
            unlink(out);
            sh(0, "%s run %s --workers %d --partition-size %zu", TRANCHE_BIN, job, workers[w],
               sizes[s]);
            if (!tu_files_equal(out, ref)) {
                fail_msg("BGZF input: %d workers, partition size %zu differs from zcat | tr",
                         workers[w], sizes[s]);
            }
        }
    }
    /* tranche's own gzip output reads back the same, and so does grep over it */
    sh(0,
       "cd '%s' && %s run bgzf.yaml --output round.gz --partition-size 10000 && "
       "%s run bgzf.yaml --input round.gz --output round.out --workers 2 && "
       "tr a-z A-Z < bgzf.ref | cmp - round.out",
       tu_dir, TRANCHE_BIN, TRANCHE_BIN);
}

static void
test_run__corrupt_bgzf_fails_with_the_offset(void **state)
{
    /* One byte changed at offsets all over the file: either the job fails (exit 1, a message
     * with the compressed offset, no output) or the byte did not matter (a header's time or OS
     * field) and the output is exact. Never a silent wrong output. */
    const char *job;
    long size, off;
    char *err = NULL;
    int rc, failures = 0;

    (void)state;
    sh(0,
       "cd '%s' && seq 1 200000 | sed 's/$/ corrupt me/' > c.txt && bgzip -c c.txt > c.bgz && "
       "tr a-z A-Z < c.txt > c.ref",
       tu_dir);
    /* compression: gzip, so that a changed magic byte is a corrupt gzip file, not a plain one */
    job = tu_write_job("c.yaml", "input:\n  path: bad.bgz\n  compression: gzip\noutput:\n"
                                 "  path: c.out\nlog_dir: logs\nsteps:\n  - plugin: upper\n");
    {
        char path[1024];
        size_t len;
        char *data;
        snprintf(path, sizeof(path), "%s/c.bgz", tu_dir);
        data = tu_read_file(path, &len);
        assert_non_null(data);
        size = (long)len;
        for (off = 0; off < size; off += size / 37 + 1) {
            char bad[1024];
            data[off] ^= 0x5a;
            snprintf(bad, sizeof(bad), "%s/bad.bgz", tu_dir);
            tu_write_file(bad, data, len);
            data[off] ^= 0x5a;
            sh(0, "rm -f '%s/c.out'", tu_dir);
            rc = tu_runf(&err, "%s run %s --workers 2 --partition-size 100000", TRANCHE_BIN, job);
            if (rc == 1) {
                failures++;
                if (strstr(err, "compressed offset") == NULL) {
                    fail_msg("offset %ld: the message names no compressed offset: %s", off, err);
                }
                /* (a byte that only spoils the BC field leaves valid gzip, which is then read as
                 * a stream and indexed: that index is not debris; nor is the work a failed run
                 * keeps for --resume) */
                sh(0,
                   "[ ! -e '%s/c.out' ] && [ -z \"$(ls -A '%s' | grep tranche | "
                   "grep -v '^bad.bgz.tranche-index$' | grep -v '^c.out.tranche-work$')\" ]",
                   tu_dir, tu_dir);
                sh(0, "rm -rf '%s/c.out.tranche-work'", tu_dir);
            } else if (rc == 0) {
                sh(0, "cmp '%s/c.out' '%s/c.ref'", tu_dir, tu_dir);
            } else {
                fail_msg("offset %ld: exit %d: %s", off, rc, err);
            }
            free(err);
            err = NULL;
        }
        free(data);
    }
    assert_true(failures > 30);
    /* truncated, and garbage after the last member */
    sh(0, "cd '%s' && head -c -100 c.bgz > bad.bgz", tu_dir);
    rc = tu_runf(&err, "%s run %s", TRANCHE_BIN, job);
    assert_int_equal(rc, 1);
    free(err);
    sh(0, "cd '%s' && { cat c.bgz; echo garbage; } > bad.bgz", tu_dir);
    rc = tu_runf(&err, "%s run %s", TRANCHE_BIN, job);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "garbage after the last member"));
    free(err);
    /* a data block whose size field says it is empty: no worker would read it, so the index
     * must notice, not lose its records */
    sh(0,
       "cd '%s' && printf 'ab\\ncd\\n' | bgzip -c > small.bgz && cp small.bgz bad.bgz && "
       "size=$(( $(od -An -tu2 -j16 -N2 small.bgz | tr -d ' ') + 1 )) && "
       "printf '\\0\\0\\0\\0' | dd of=bad.bgz bs=1 seek=$((size - 4)) conv=notrunc "
       "2>/dev/null",
       tu_dir);
    rc = tu_runf(&err, "%s run %s", TRANCHE_BIN, job);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "compressed offset 0"));
    free(err);
    /* BGZF followed by a plain gzip member: valid gzip, read as a stream */
    sh(0,
       "cd '%s' && { cat small.bgz; printf 'ef\\n' | gzip -c; } > bad.bgz && %s run %s && "
       "printf 'AB\\nCD\\nEF\\n' | cmp - c.out",
       tu_dir, TRANCHE_BIN, job);
}

/* Checks that path is a BGZF file: whole blocks, each with the BC extra field giving its size,
 * none over 64 KiB, ending with the empty end-of-file block. Returns the number of blocks. */
static size_t
check_bgzf(const char *path)
{
    static const unsigned char eof[28] = {0x1f, 0x8b, 8,    4, 0, 0, 0, 0, 0, 0xff, 6, 0, 'B', 'C',
                                          2,    0,    0x1b, 0, 3, 0, 0, 0, 0, 0,    0, 0, 0,   0};
    size_t len, off = 0, blocks = 0;
    unsigned char *data = (unsigned char *)tu_read_file(path, &len);

    assert_non_null(data);
    while (off < len) {
        size_t size;
        assert_true(len - off >= 28);
        assert_int_equal(data[off], 0x1f);
        assert_int_equal(data[off + 1], 0x8b);
        assert_int_equal(data[off + 3], 4); /* FEXTRA */
        assert_int_equal(data[off + 10] | data[off + 11] << 8, 6);
        assert_int_equal(data[off + 12], 'B');
        assert_int_equal(data[off + 13], 'C');
        size = (size_t)(data[off + 16] | data[off + 17] << 8) + 1;
        assert_true(size <= 65536 && off + size <= len);
        off += size;
        blocks++;
    }
    assert_true(len >= 28 && memcmp(data + len - 28, eof, 28) == 0);
    free(data);
    return blocks;
}

/* check_bgzf on a file of the test directory. */
static size_t
check_bgzf_at(const char *name)
{
    char path[1024];

    snprintf(path, sizeof(path), "%s/%s", tu_dir, name);
    return check_bgzf(path);
}

static void
test_run__gzip_output_is_bgzf_for_any_split(void **state)
{
    static const size_t sizes[] = {1, 4096, 1 << 20};
    static const int workers[] = {1, 2, 7};
    char input[1024], out[1024];
    const char *job;
    size_t s, w;

    (void)state;
    snprintf(input, sizeof(input), "%s/gz-edge.txt", tu_dir);
    snprintf(out, sizeof(out), "%s/out.gz", tu_dir);
    tu_write_edge_input(input, 400000, 1, 1);
    sh(0, "cd '%s' && { cat gz-edge.txt; echo; } | tr a-z A-Z > gz-ref", tu_dir);
    job = tu_write_job("gz.yaml", "input:\n  path: gz-edge.txt\noutput:\n  path: out.gz\n"
                                  "log_dir: logs\nsteps:\n  - plugin: upper\n");
    for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (w = 0; w < sizeof(workers) / sizeof(workers[0]); w++) {
            unlink(out);
            sh(0, "%s run %s --workers %d --partition-size %zu", TRANCHE_BIN, job, workers[w],
               sizes[s]);
            /* every gzip reader: gzip -t, zcat, bgzip -d, Python's gzip module (where python3
             * is installed), and the block structure itself */
            sh(0,
               "cd '%s' && gzip -t out.gz && zcat out.gz | cmp - gz-ref && "
               "bgzip -d -c out.gz | cmp - gz-ref && { ! command -v python3 >/dev/null || "
               "python3 -c 'import gzip, sys; sys.stdout.buffer.write(gzip.open(\"out.gz\")"
               ".read())' | cmp - gz-ref; }",
               tu_dir);
            assert_true(check_bgzf(out) >= 2);
        }
    }
    /* output.level: 9 compresses smaller than 1 */
    job =
        tu_write_job("l1.yaml", "input:\n  path: gz-edge.txt\noutput:\n  path: l1.gz\n  level: 1\n"
                                "log_dir: logs\nsteps:\n  - plugin: upper\n");
    sh(0, "%s run %s", TRANCHE_BIN, job);
    job =
        tu_write_job("l9.yaml", "input:\n  path: gz-edge.txt\noutput:\n  path: l9.gz\n  level: 9\n"
                                "log_dir: logs\nsteps:\n  - plugin: upper\n");
    sh(0, "%s run %s", TRANCHE_BIN, job);
    sh(0,
       "cd '%s' && zcat l9.gz | cmp - gz-ref && "
       "[ $(stat -c %%s l9.gz) -lt $(stat -c %%s l1.gz) ]",
       tu_dir);
    /* compression: gzip without a .gz name; none with one */
    job = tu_write_job("gz-named.yaml", "input:\n  path: gz-edge.txt\noutput:\n  path: out.bin\n"
                                        "  compression: gzip\n  level: 1\nlog_dir: logs\n"
                                        "steps:\n  - plugin: upper\n");
    sh(0, "%s run %s --workers 2 && zcat '%s/out.bin' | cmp - '%s/gz-ref'", TRANCHE_BIN, job,
       tu_dir, tu_dir);
    job = tu_write_job("plain-named.yaml", "input:\n  path: gz-edge.txt\noutput:\n  path: p.gz\n"
                                           "  compression: none\nlog_dir: logs\n"
                                           "steps:\n  - plugin: upper\n");
    sh(0, "%s run %s && cmp '%s/p.gz' '%s/gz-ref'", TRANCHE_BIN, job, tu_dir, tu_dir);
    /* an empty input gives a valid, empty gzip file: just the end-of-file block */
    sh(0,
       "cd '%s' && : > empty.txt && %s run gz.yaml --input empty.txt --output e.gz && "
       "[ $(stat -c %%s e.gz) -eq 28 ] && gzip -t e.gz && [ -z \"$(zcat e.gz)\" ]",
       tu_dir, TRANCHE_BIN);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run__matches_reference_tools_on_edge_input),
        cmocka_unit_test(test_run__nul_bytes_in_records),
        cmocka_unit_test(test_run__sample_access_log),
        cmocka_unit_test(test_run__empty_and_tiny_inputs),
        cmocka_unit_test(test_run__many_files_glob_and_list_keep_order),
        cmocka_unit_test(test_run__other_delimiters),
        cmocka_unit_test(test_run__stdout_in_process_and_single_partition),
        cmocka_unit_test(test_run__offsets_beyond_4GiB),
        cmocka_unit_test(test_run__large_partition_spills_to_disk),
        cmocka_unit_test(test_run__gzip_output_is_bgzf_for_any_split),
        cmocka_unit_test(test_run__a_slow_partition_does_not_hold_the_others),
        cmocka_unit_test(test_run__stdout_with_spilling_and_parking),
        cmocka_unit_test(test_run__bgzf_input_matches_zcat),
        cmocka_unit_test(test_run__corrupt_bgzf_fails_with_the_offset),
    };

    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
