/*
 * tests/e2e/test_shards.c: a job cut into shards (core/shards.c; `tranche plan --shards`,
 * `run --shard`, `merge`, `status`) through the real CLI, with no scheduler: for 1, 2, 3 and 7
 * shards, run in a shuffled order with one of them run twice, the merge is byte-identical to a
 * local run of the job, for plain, BGZF, indexed gzip and several inputs with a gzip one read as a
 * stream, for gzip output (the compressed bytes, and zcat's), and for CSV with a header row (the
 * header once, at the top). A missing, truncated, damaged or stale part is refused naming it; an
 * input changed between the plan and a shard's run (or the merge) is refused; status lists the
 * shards not done as an --array list; --shard auto reads SLURM_ARRAY_TASK_ID. A job with an
 * aggregate stage (the bundled count): the parts are partials, and the merge's combine phase
 * gives the local run's output, for plain and BGZF inputs, gzip output and CSV by column name
 * (the aggregator's header row once); a missing part is refused.
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

#define N_RECORDS 20000

/* The inputs (made once): 20000 records (~830 KB, with random hex so that gzip has a deflate
 * block, and the index a point, every few KiB: 26 partitions of 32 KiB), as BGZF, as gzip with an
 * index (in the tests' cache) and as gzip without one; upper.txt is what a job over
 * in.txt must write (tr, the reference tool); a CSV file with a header row. For count: kv.txt,
 * 80000 records KEY<TAB>NUMBER over 500 keys (~900 KB: 14 BGZF blocks in kv.bgzf.gz), and
 * kv.csv, the same with a header row and quoted keys. */
static int
group_setup(void **state)
{
    char cmd[2048];

    if (tu_group_setup(state) != 0) {
        return -1;
    }
    snprintf(
        cmd, sizeof(cmd),
        "cd '%s' && awk 'BEGIN { srand(7); for (i = 1; i <= %d; i++) printf "
        "\"%%d:row %%d some text %%x%%x\\n\", i, i, rand() * 2147483647, "
        "rand() * 2147483647 }' > in.txt && "
        "tr a-z A-Z < in.txt > upper.txt && bgzip -c in.txt > in.bgzf.gz && "
        "gzip -c in.txt > in.gz && gzip -c in.txt > st.gz && "
        "%s index --spacing 8KiB in.gz > /dev/null && "
        "{ echo 'id,name,text'; seq 1 %d | sed 's/.*/&,n&,\"a, b, and some text\"/'; } > in.csv && "
        "awk 'BEGIN { srand(11); for (i = 1; i <= %d; i++) printf \"k%%d\\t%%d\\n\", "
        "int(rand() * 500), i }' > kv.txt && bgzip -c kv.txt > kv.bgzf.gz && "
        "{ echo 'id,key,value'; awk -F '\\t' '{ printf \"%%d,\\\"%%s, x\\\",%%s\\n\", NR, $1, $2 "
        "}' "
        "kv.txt; } > kv.csv",
        tu_dir, N_RECORDS, TRANCHE_BIN, N_RECORDS, 4 * N_RECORDS);
    return tu_run(cmd, NULL) == 0 ? 0 : -1;
}

/* Writes NAME.yaml: `upper` over `inputs` (YAML flow list) into out/NAME.OUT_EXT. */
static void
write_job(const char *name, const char *inputs, const char *input_extra, const char *out_ext)
{
    char file[256];

    snprintf(file, sizeof(file), "%s.yaml", name);
    tu_write_job(file,
                 "input:\n  path: %s\n%soutput:\n  path: out/%s.%s\nlog_dir: logs/%s\n"
                 "partition_size: 32KiB\nsteps:\n  - plugin: upper\n",
                 inputs, input_extra, name, out_ext, name);
}

/* Writes NAME.yaml: count (OPTIONS, a YAML flow mapping's inside) over `input` into
 * out/NAME.OUT_EXT. */
static void
write_count_job(const char *name, const char *input, const char *input_extra, const char *out_ext,
                const char *options)
{
    char file[256];

    snprintf(file, sizeof(file), "%s.yaml", name);
    tu_write_job(file,
                 "input:\n  path: %s\n%soutput:\n  path: out/%s.%s\nlog_dir: logs/%s\n"
                 "partition_size: 32KiB\naggregate:\n  plugin: count\n  options: {%s}\n",
                 input, input_extra, name, out_ext, name, options);
}

/* Shuffles order[0..n) with the test's own sequence. */
static void
shuffle(size_t *order, size_t n, uint64_t *seed)
{
    size_t i;

    for (i = 0; i < n; i++) {
        order[i] = i;
    }
    for (i = n; i > 1; i--) {
        size_t j = (size_t)(tu_rand(seed) % i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

/* For each N: plans NAME into work-NAME-N, runs its shards in a shuffled order (one twice),
 * merges into out/NAME-N.OUT_EXT and compares it with the local run out/NAME.OUT_EXT. */
static void
check_shards(const char *name, const char *out_ext)
{
    static const size_t ns[] = {1, 2, 3, 7};
    uint64_t seed = 0x5eed;
    size_t order[8], k, i;
    char merged[256], local[256];

    tu_sh(0, "%s run %s.yaml -q --workers 2", TRANCHE_BIN, name);
    snprintf(local, sizeof(local), "%s/out/%s.%s", tu_dir, name, out_ext);
    for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
        size_t n = ns[k];
        tu_sh(0, "%s plan %s.yaml --shards %zu --work-dir work-%s-%zu > /dev/null", TRANCHE_BIN,
              name, n, name, n);
        shuffle(order, n, &seed);
        for (i = 0; i <= n; i++) {
            /* (the last run is the first shard again: it replaces only its own part) */
            tu_sh(0, "%s run %s.yaml -q --workers %d --shard %zu/%zu --work-dir work-%s-%zu",
                  TRANCHE_BIN, name, 1 + (int)(i % 2), order[i % n], n, name, n);
        }
        tu_sh(0, "%s status --work-dir work-%s-%zu | grep -q '^%zu of %zu shard(s) done$'",
              TRANCHE_BIN, name, n, n, n);
        tu_sh(0, "%s merge --work-dir work-%s-%zu -o out/%s-%zu.%s", TRANCHE_BIN, name, n, name, n,
              out_ext);
        snprintf(merged, sizeof(merged), "%s/out/%s-%zu.%s", tu_dir, name, n, out_ext);
        assert_true(tu_files_equal(merged, local));
    }
}

static void
test_shards__plain(void **state)
{
    (void)state;
    write_job("plain", "in.txt", "", "out");
    check_shards("plain", "out");
    assert_true(tu_files_equal(tu_join(tu_dir, "out/plain.out"), tu_join(tu_dir, "upper.txt")));
}

static void
test_shards__bgzf(void **state)
{
    (void)state;
    write_job("bgzf", "in.bgzf.gz", "", "out");
    check_shards("bgzf", "out");
    assert_true(tu_files_equal(tu_join(tu_dir, "out/bgzf.out"), tu_join(tu_dir, "upper.txt")));
}

static void
test_shards__indexed_gzip(void **state)
{
    (void)state;
    write_job("indexed", "in.gz", "", "out");
    tu_sh(0, "%s plan indexed.yaml | wc -l | grep -qv '^1$'", TRANCHE_BIN); /* (split) */
    check_shards("indexed", "out");
    assert_true(tu_files_equal(tu_join(tu_dir, "out/indexed.out"), tu_join(tu_dir, "upper.txt")));
}

/* Several inputs, one a gzip stream (one unit: one shard holds it whole). */
static void
test_shards__several_inputs_and_a_stream(void **state)
{
    (void)state;
    write_job("mixed", "[in.txt, st.gz, in.bgzf.gz]", "  index: off\n", "out");
    check_shards("mixed", "out");
    tu_sh(0, "cat upper.txt upper.txt upper.txt | cmp - out/mixed.out");
}

/* gzip output: the compressed bytes are the local run's, and zcat reads the same records. */
static void
test_shards__gzip_output(void **state)
{
    (void)state;
    write_job("gzout", "[in.txt, in.bgzf.gz]", "", "gz");
    check_shards("gzout", "gz");
    tu_sh(0, "zcat out/gzout-7.gz > gzout-7.txt && cat upper.txt upper.txt | cmp - gzout-7.txt");
    tu_sh(0, "gzip -t out/gzout-3.gz && [ \"$(zcat out/gzout-3.gz | wc -l)\" = %d ]",
          2 * N_RECORDS);
}

/* CSV with a header row: written once, at the top, by shard 0's first partition. */
static void
test_shards__csv_header(void **state)
{
    (void)state;
    write_job("csv", "in.csv", "  format: csv\n  header: true\n", "out");
    check_shards("csv", "out");
    tu_sh(0, "[ \"$(grep -c '^id,name,text$' out/csv-7.out)\" = 1 ] && head -1 out/csv-7.out | "
             "grep -qx 'id,name,text'");
}

/* A missing, truncated, damaged (same size, other bytes) or stale part is refused, named. */
static void
test_shards__bad_parts_refused(void **state)
{
    char *err = NULL;
    int rc;

    (void)state;
    write_job("bad", "in.txt", "", "out");
    tu_sh(0, "%s plan bad.yaml --shards 4 --work-dir wb > /dev/null", TRANCHE_BIN);
    tu_sh(0, "for i in 0 1 2 3; do %s run bad.yaml -q --shard $i/4 --work-dir wb || exit 1; done",
          TRANCHE_BIN);
    tu_sh(0, "cp -r wb wb-good");

    tu_sh(0, "rm wb/part-2");
    rc = tu_tranche(&err, "merge --work-dir wb -o out/bad-merged.out");
    assert_int_equal(rc, 1);
    tu_assert_contains(err, "shard 2: missing: no wb/part-2");
    assert_false(tu_exists(tu_join(tu_dir, "out/bad-merged.out")));
    free(err);

    tu_sh(0, "rm -r wb && cp -r wb-good wb && truncate -s -1 wb/part-1");
    rc = tu_tranche(&err, "merge --work-dir wb -o out/bad-merged.out");
    assert_int_equal(rc, 1);
    tu_assert_contains(err, "shard 1: damaged: wb/part-1 has ");
    free(err);

    /* (the same size, other bytes: status does not read parts, merge does) */
    tu_sh(0, "rm -r wb && cp -r wb-good wb && printf X | dd of=wb/part-3 bs=1 seek=10 "
             "conv=notrunc 2>/dev/null");
    tu_sh(0, "%s status --work-dir wb > /dev/null", TRANCHE_BIN);
    rc = tu_tranche(&err, "merge --work-dir wb -o out/bad-merged.out");
    assert_int_equal(rc, 1);
    tu_assert_contains(err, "shard 3: damaged: wb/part-3: its CRC-32 is not the one written");
    free(err);

    /* A new plan (another partition size): the parts of the old one are stale. */
    tu_sh(0,
          "rm -r wb && cp -r wb-good wb && %s plan bad.yaml --shards 4 --partition-size 16KiB "
          "--work-dir wb > /dev/null",
          TRANCHE_BIN);
    rc = tu_tranche(&err, "merge --work-dir wb -o out/bad-merged.out");
    assert_int_equal(rc, 1);
    tu_assert_contains(err, "shard 0: damaged: wb/part-0 is stale");
    assert_false(tu_exists(tu_join(tu_dir, "out/bad-merged.out")));
    free(err);

    /* No plan at all. */
    rc = tu_tranche(&err, "merge --work-dir nowhere");
    assert_int_equal(rc, 2);
    tu_assert_contains(err, "nowhere/shards.plan");
    free(err);
}

/* An input changed between the plan and a shard's run, or the merge: refused, named. */
static void
test_shards__changed_input_refused(void **state)
{
    char *err = NULL;
    int rc;

    (void)state;
    tu_sh(0, "cp in.txt ch.txt");
    write_job("ch", "ch.txt", "", "out");
    tu_sh(0, "%s plan ch.yaml --shards 2 --work-dir wc > /dev/null", TRANCHE_BIN);
    tu_sh(0, "%s run ch.yaml -q --shard 0/2 --work-dir wc", TRANCHE_BIN);
    tu_sh(0, "%s run ch.yaml -q --shard 1/2 --work-dir wc", TRANCHE_BIN);
    /* the same size and mtime, other content at its start */
    tu_sh(0, "t=$(stat -c %%y ch.txt) && printf Z | dd of=ch.txt bs=1 conv=notrunc 2>/dev/null "
             "&& touch -d \"$t\" ch.txt");
    rc = tu_tranche(&err, "run ch.yaml -q --shard 1/2 --work-dir wc");
    assert_int_equal(rc, 2);
    tu_assert_contains(err, "input ch.txt changed since the shard plan: its content");
    free(err);
    rc = tu_tranche(&err, "merge --work-dir wc -o out/ch-merged.out");
    assert_int_equal(rc, 1);
    tu_assert_contains(err, "input ch.txt changed since the shard plan");
    free(err);
    tu_sh(0, "echo more >> ch.txt");
    rc = tu_tranche(&err, "run ch.yaml -q --shard 0/2 --work-dir wc");
    assert_int_equal(rc, 2);
    tu_assert_contains(err, "input ch.txt changed since the shard plan: size ");
    free(err);
    /* Another job with the plan: refused. */
    write_job("other", "ch.txt", "", "gz");
    rc = tu_tranche(&err, "run other.yaml -q --shard 0/2 --work-dir wc");
    assert_int_equal(rc, 2);
    tu_assert_contains(err, "was made for");
    free(err);
    /* More shards than units. */
    rc = tu_tranche(&err, "plan plain.yaml --shards 1000 --work-dir wx");
    assert_int_equal(rc, 2);
    tu_assert_contains(err, "--shards 1000: the job has ");
    tu_assert_contains(err, " unit(s) to share out");
    free(err);
}

/* status: a line per shard, the --array list of those not done (ranges compressed). */
static void
test_shards__status_array(void **state)
{
    char *err = NULL;

    (void)state;
    write_job("st", "in.txt", "", "out");
    tu_sh(0, "%s plan st.yaml --shards 7 --work-dir ws > /dev/null", TRANCHE_BIN);
    tu_sh(0, "%s status --work-dir ws > s0.txt; [ $? = 1 ] && grep -qx -- '--array=0-6' s0.txt",
          TRANCHE_BIN);
    tu_sh(0, "for i in 0 2 6; do %s run st.yaml -q --shard $i/7 --work-dir ws || exit 1; done",
          TRANCHE_BIN);
    tu_sh(0,
          "%s status --work-dir ws > status.txt; [ $? = 1 ] && grep -qx -- '--array=1,3-5' "
          "status.txt && grep -qx 'shard 4: missing: no ws/part-4' status.txt && "
          "grep -qx 'shard 2: done' status.txt",
          TRANCHE_BIN);
    (void)err;
}

/* --shard auto: the index from SLURM_ARRAY_TASK_ID (the workers from SLURM_CPUS_PER_TASK). */
static void
test_shards__auto(void **state)
{
    char *err = NULL;
    int rc;

    (void)state;
    write_job("auto", "in.txt", "", "out");
    tu_sh(0, "%s plan auto.yaml --shards 3 --work-dir wa > /dev/null", TRANCHE_BIN);
    tu_sh(0,
          "for i in 2 0 1; do SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_MAX=2 "
          "SLURM_CPUS_PER_TASK=2 %s run auto.yaml -q --shard auto --work-dir wa "
          "--summary-json s$i.json || exit 1; done && grep -q '\"n_workers\": 2,' s1.json",
          TRANCHE_BIN);
    /* each shard logged to a directory of its own in the work directory */
    tu_sh(0, "for i in 0 1 2; do test -s wa/logs-$i/tranche.log || exit 1; done");
    tu_sh(0, "%s merge --work-dir wa && cmp out/auto.out upper.txt", TRANCHE_BIN);
    rc = tu_run_here(&err, "SLURM_ARRAY_TASK_ID=3 %s run auto.yaml --shard auto --work-dir wa",
                     TRANCHE_BIN);
    assert_int_equal(rc, 2);
    tu_assert_contains(err, "SLURM_ARRAY_TASK_ID is 3, and the shard plan has 3 shard(s)");
    free(err);
    rc = tu_run_here(&err,
                     "env -u SLURM_ARRAY_TASK_ID %s run auto.yaml --shard auto "
                     "--work-dir wa",
                     TRANCHE_BIN);
    assert_int_equal(rc, 2);
    tu_assert_contains(err, "no shard index in the environment");
    free(err);
    rc = tu_tranche(&err, "run auto.yaml --shard 1/4 --work-dir wa");
    assert_int_equal(rc, 2);
    tu_assert_contains(err, "the shard plan has 3 shard(s)");
    free(err);
}

/* An aggregate job: each part is its shard's partials (not output), and the merge's combine
 * phase writes the local run's bytes. */
static void
test_shards__aggregate(void **state)
{
    (void)state;
    write_count_job("agg", "kv.txt", "", "out", "key: [1], sum: [2]");
    check_shards("agg", "out");
    /* (the reference: awk and sort) */
    tu_sh(0,
          "awk -F '\t' '{ c[$1]++; s[$1] += $2 } END { for (k in c) printf \"%%s\\t%%d\\t%%d\\n\", "
          "k, c[k], s[k] }' kv.txt | LC_ALL=C sort | cmp - out/agg.out");
    tu_sh(0, "[ \"$(wc -l < out/agg.out)\" -gt 400 ]");
    /* a part is partials, not the output's lines */
    tu_sh(0, "grep -q 'parts partials' work-agg-3/shards.plan && ! cmp -s work-agg-3/part-0 "
             "out/agg.out");
}

static void
test_shards__aggregate_bgzf_gzip_output(void **state)
{
    (void)state;
    write_count_job("aggbgzf", "kv.bgzf.gz", "", "out", "key: [1], sum: [2]");
    check_shards("aggbgzf", "out");
    tu_sh(0, "cmp out/aggbgzf.out out/agg-1.out");
    write_count_job("agggz", "kv.bgzf.gz", "", "gz", "key: [1], sum: [2], max: [2]");
    check_shards("agggz", "gz");
    tu_sh(0, "gzip -t out/agggz-7.gz && [ \"$(zcat out/agggz-7.gz | cut -f1-3)\" = \"$(cat "
             "out/agg.out)\" ]");
}

/* CSV with a header row, count by column names: the aggregator's header row once, at the top. */
static void
test_shards__aggregate_csv_header(void **state)
{
    (void)state;
    write_count_job("aggcsv", "kv.csv", "  format: csv\n  header: true\n", "out",
                    "key: [key], sum: [value]");
    check_shards("aggcsv", "out");
    tu_sh(0,
          "head -1 out/aggcsv-7.out | grep -q '^key' && [ \"$(grep -c '^key' out/aggcsv-7.out)\" "
          "= 1 ] && [ \"$(wc -l < out/aggcsv-7.out)\" = \"$(($(wc -l < out/agg.out) + 1))\" ]");
}

/* A missing part of an aggregate job: refused, named, nothing written. */
static void
test_shards__aggregate_missing_part(void **state)
{
    char *err = NULL;
    int rc;

    (void)state;
    write_count_job("aggbad", "kv.txt", "", "out", "key: [1]");
    tu_sh(0, "%s plan aggbad.yaml --shards 3 --work-dir wab > /dev/null", TRANCHE_BIN);
    tu_sh(0, "for i in 0 2; do %s run aggbad.yaml -q --shard $i/3 --work-dir wab || exit 1; done",
          TRANCHE_BIN);
    rc = tu_tranche(&err, "merge --work-dir wab -o out/aggbad-merged.out");
    assert_int_equal(rc, 1);
    tu_assert_contains(err, "shard 1: missing: no wab/part-1");
    assert_false(tu_exists(tu_join(tu_dir, "out/aggbad-merged.out")));
    free(err);
    tu_sh(0, "%s run aggbad.yaml -q --shard 1/3 --work-dir wab && truncate -s -3 wab/part-2",
          TRANCHE_BIN);
    rc = tu_tranche(&err, "merge --work-dir wab -o out/aggbad-merged.out");
    assert_int_equal(rc, 1);
    tu_assert_contains(err, "shard 2: damaged: wab/part-2 has ");
    free(err);
    tu_sh(0,
          "%s run aggbad.yaml -q --shard 2/3 --work-dir wab && %s merge --work-dir wab -o "
          "out/aggbad-merged.out && %s run aggbad.yaml -q && cmp out/aggbad.out "
          "out/aggbad-merged.out",
          TRANCHE_BIN, TRANCHE_BIN, TRANCHE_BIN);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shards__plain),
        cmocka_unit_test(test_shards__bgzf),
        cmocka_unit_test(test_shards__indexed_gzip),
        cmocka_unit_test(test_shards__several_inputs_and_a_stream),
        cmocka_unit_test(test_shards__gzip_output),
        cmocka_unit_test(test_shards__csv_header),
        cmocka_unit_test(test_shards__bad_parts_refused),
        cmocka_unit_test(test_shards__changed_input_refused),
        cmocka_unit_test(test_shards__status_array),
        cmocka_unit_test(test_shards__auto),
        cmocka_unit_test(test_shards__aggregate),
        cmocka_unit_test(test_shards__aggregate_bgzf_gzip_output),
        cmocka_unit_test(test_shards__aggregate_csv_header),
        cmocka_unit_test(test_shards__aggregate_missing_part),
    };

    return cmocka_run_group_tests(tests, group_setup, tu_group_teardown);
}
