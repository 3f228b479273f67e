/*
 * tests/e2e/test_abi.c: plugin ABI 1.1 through the real CLI. record_info() against the inputs'
 * real offsets (computed by verify_record_info.py) over several inputs, plain and gzip, at many
 * partition sizes and worker counts; data[len] == '\0' and a writable record at every step over
 * edge inputs, against `tr a-z A-Z`; a plugin built against ABI 1.0 behaving as before; a C++
 * plugin; the loader's checks of a plugin's option table and descriptor; init() telling the
 * option check from a worker; option values rejected at their own line and column; host->error()
 * naming the record's offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define PLUGIN(name) TEST_PLUGIN_DIR "/" name ".so"

/* Runs `tranche ARGS` and fails unless it exits with `expect`; returns its stderr (free it). */
static char *tranche_expect(int expect, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *
tranche_expect(int expect, const char *fmt, ...)
{
    char args[4096];
    char *err = NULL;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    rc = tu_tranche(&err, "%s", args);
    if (rc != expect) {
        fail_msg("tranche %s: exit %d, expected %d: %s", args, rc, expect, err);
    }
    return err;
}

/* A file that ends on a record without its delimiter, with empty records and one record longer
 * than a read buffer (1 MiB) among short ones. */
static void
write_long_edges(const char *name)
{
    tu_sh(0,
          "{ printf 'a\\n\\n\\nb\\n'; head -c 3000000 /dev/zero | tr '\\0' 'x'; "
          "printf '\\n\\nshort\\n'; head -c 70000 /dev/zero | tr '\\0' 'q'; printf '\\nlast'; } "
          "> '%s'",
          name);
}

static void
test_abi__record_info_gives_the_real_offsets(void **state)
{
    static const char *const sizes[] = {"1", "777", "20000", "1000000"};
    static const int workers[] = {1, 3};
    size_t s, w;
    int run;
    char *err;

    (void)state;
    tu_write_edge_input(tu_join(tu_dir, "e1.txt"), 150000, 1, 1);
    tu_write_edge_input(tu_join(tu_dir, "e2.txt"), 40000, 0, 0);
    tu_sh(0, "printf 'one\\ntwo' > e3.txt && gzip -c e1.txt > e4.gz && "
             "bgzip -c e2.txt > e5.gz && gzip -c e3.txt > e6.gz");
    tu_write_job("info.yaml",
                 "input:\n  path: [e1.txt, e2.txt, e3.txt, e4.gz, e5.gz, e6.gz]\n"
                 "  index: beside\noutput:\n  path: out.txt\nlog_dir: logs\nsteps:\n"
                 "  - plugin: %s\n    options:\n      frame: true\n  - plugin: %s\n",
                 PLUGIN("tagger"), PLUGIN("tagger"));
    /* run 0: the gzip inputs decoded as streams by the parent; run 1: through their index. */
    for (run = 0; run < 2; run++) {
        for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            for (w = 0; w < sizeof(workers) / sizeof(workers[0]); w++) {
                if (!tu_thin()) {
                    continue;
                }
                if (run == 0) {
                    tu_sh(0, "rm -f *.tranche-index");
                }
                err = tranche_expect(0, "run info.yaml --workers %d --partition-size %s",
                                     workers[w], sizes[s]);
                free(err);
                tu_sh(0,
                      "python3 '%s/tests/e2e/verify_record_info.py' out.txt e1.txt e2.txt "
                      "e3.txt e4.gz e5.gz e6.gz > /dev/null",
                      SOURCE_DIR);
            }
        }
        /* (the next run reads the gzip inputs through an index with many points) */
        tu_sh(0, "%s index --beside --spacing 1000 e4.gz e6.gz > /dev/null", TRANCHE_BIN);
    }
}

/* begin_partition runs from the last step to the first, end_partition from the first to the
 * last: what a step emits there passes through the steps after it, inside their own BEGIN/END. */
static void
test_abi__partition_callbacks_nest_along_the_chain(void **state)
{
    char *err, *out;

    (void)state;
    tu_sh(0, "printf 'a\\n' > o.txt");
    tu_write_job("nest.yaml",
                 "input:\n  path: o.txt\noutput:\n  path: out.txt\nlog_dir: logs\nsteps:\n"
                 "  - plugin: %s\n    options:\n      frame: true\n"
                 "  - plugin: %s\n    options:\n      frame: true\n",
                 PLUGIN("tagger"), PLUGIN("tagger"));
    err = tranche_expect(0, "run nest.yaml");
    free(err);
    out = tu_read_file(tu_join(tu_dir, "out.txt"), NULL);
#define PART "o.txt\t0\t0\t2\t0\t0\t2\t" /* no record: the partition's offset and length */
#define REC "o.txt\t0\t0\t1\t0\t0\t2\t"  /* record "a": offset 0, length 1 */
    assert_string_equal(out, PART "BEGIN\n" PART PART "BEGIN\n" REC REC "a\n" PART PART "END\n" PART
                                  "END\n");
#undef PART
#undef REC
    free(out);
}

/* The chain nulcheck x 3 over `input` must give `tr a-z A-Z` (and a final newline). */
static void
check_nul_run(const char *input, const char *index, int workers, const char *size)
{
    char *err;

    tu_write_job("nul.yaml",
                 "input:\n  path: %s\n  index: %s\noutput:\n  path: out.txt\nlog_dir: logs\n"
                 "steps:\n  - plugin: %s\n  - plugin: %s\n  - plugin: %s\n",
                 input, index, PLUGIN("nulcheck"), PLUGIN("nulcheck"), PLUGIN("nulcheck"));
    err = tranche_expect(0, "run nul.yaml --workers %d --partition-size %s", workers, size);
    free(err);
    if (!tu_files_equal(tu_join(tu_dir, "out.txt"), tu_join(tu_dir, "ref.txt"))) {
        fail_msg("%s (index %s), %d workers, partition size %s: differs from tr a-z A-Z", input,
                 index, workers, size);
    }
}

static void
test_abi__records_are_nul_terminated_and_writable_at_every_step(void **state)
{
    static const char *const inputs[] = {"edge.txt", "long.txt"};
    static const char *const sizes[] = {"1", "100", "5000", "1000000"};
    size_t i, s;
    int w;

    (void)state;
    tu_write_edge_input(tu_join(tu_dir, "edge.txt"), 120000, 1, 1);
    write_long_edges(tu_join(tu_dir, "long.txt"));
    for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        tu_sh(0,
              "LC_ALL=C tr a-z A-Z < %s > ref.txt && echo >> ref.txt && gzip -c %s > in.gz && "
              "bgzip -c %s > in.bgz.gz && rm -f *.tranche-index",
              inputs[i], inputs[i], inputs[i]);
        for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            for (w = 1; w <= 2; w++) {
                if (!tu_thin()) {
                    continue;
                }
                check_nul_run(inputs[i], "off", w, sizes[s]);
                check_nul_run("in.gz", "off", w, sizes[s]); /* a stream, from the ring */
                check_nul_run("in.bgz.gz", "off", w, sizes[s]);
            }
        }
        tu_sh(0, "%s index --beside --spacing 1 in.gz > /dev/null", TRANCHE_BIN);
        for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            check_nul_run("in.gz", "beside", 2, sizes[s]); /* through the index */
        }
    }
}

static void
test_abi__a_plugin_built_for_1_0_behaves_as_before(void **state)
{
    char *err, *out;

    (void)state;
    tu_sh(0, "printf 'abc\\nde\\n\\nxyz' > old.txt");
    tu_write_job("old.yaml",
                 "input:\n  path: old.txt\noutput:\n  path: out.txt\nlog_dir: logs\nsteps:\n"
                 "  - plugin: %s\n",
                 PLUGIN("abi10"));
    err = tranche_expect(0, "run old.yaml --workers 2");
    free(err);
    out = tu_read_file(tu_join(tu_dir, "out.txt"), NULL);
    assert_string_equal(out, "cba\ned\n\nzyx\nrecords: 4\n");
    free(out);
    /* One partition per record: end_partition per partition, and still no begin_partition. */
    err = tranche_expect(0, "run old.yaml --workers 2 --partition-size 1");
    free(err);
    out = tu_read_file(tu_join(tu_dir, "out.txt"), NULL);
    assert_string_equal(out, "cba\nrecords: 1\ned\nrecords: 1\n\nrecords: 1\nzyx\nrecords: 1\n");
    free(out);
}

static void
test_abi__a_cxx_plugin_builds_loads_and_runs(void **state)
{
    char *err, *out;

    (void)state;
    tu_sh(0, "printf 'ab\\ncd\\n' > cxx.txt");
    tu_write_job("cxx.yaml",
                 "input:\n  path: cxx.txt\noutput:\n  path: out.txt\nlog_dir: logs\nsteps:\n"
                 "  - plugin: %s\n    options:\n      prefix: 'p:'\n",
                 PLUGIN("cxx_tag"));
    err = tranche_expect(0, "run cxx.yaml");
    free(err);
    out = tu_read_file(tu_join(tu_dir, "out.txt"), NULL);
    assert_string_equal(out, "0:p:AB\n3:p:CD\n");
    free(out);
    /* A descriptor without C linkage: a hint at extern "C" and TRANCHE_PLUGIN. */
    tu_write_job("cxx-bad.yaml",
                 "input:\n  path: cxx.txt\noutput:\n  path: out.txt\nlog_dir: logs\nsteps:\n"
                 "  - plugin: %s\n",
                 PLUGIN("cxx_no_extern"));
    err = tranche_expect(2, "run cxx-bad.yaml");
    tu_assert_contains(err, "cxx-bad.yaml:7:5: step 1");
    tu_assert_contains(err, "exports no 'tranche_plugin' symbol; it looks like C++");
    tu_assert_contains(err, "extern \"C\"");
    free(err);
}

static void
test_abi__the_loader_checks_the_descriptor_and_the_option_table(void **state)
{
    static const struct {
        const char *plugin;
        const char *expect;
    } cases[] = {
        {"no_abi", "has no ABI version in its descriptor (abi_major is 0): add TRANCHE_PLUGIN_ABI"},
        {"badtable_1", "(badtable): option 'fine' is listed twice in its table"},
        {"badtable_2", "(badtable): option 'kind' has an unknown type 9"},
        {"badtable_3", "(badtable): option 'needed' is required and has a default ('x')"},
        {"badtable_4", "(badtable): the default of option 'count': must be an integer, not '12x'"},
        {"badtable_5", "the default of option 'count': '99999999999999999999' is out of range"},
        {"badtable_6", "the default of option 'flag': must be a boolean (true or false)"},
    };
    char path[1024];
    size_t i;
    char *err;

    (void)state;
    tu_sh(0, "printf 'x\\n' > t.txt");
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s.so", TEST_PLUGIN_DIR, cases[i].plugin);
        tu_write_job("table.yaml",
                     "input:\n  path: t.txt\noutput:\n  path: out.txt\nlog_dir: logs\nsteps:\n"
                     "  - plugin: %s\n",
                     path);
        err = tranche_expect(2, "validate table.yaml");
        tu_assert_contains(err, "table.yaml:7:5: step 1");
        tu_assert_contains(err, path);
        tu_assert_contains(err, cases[i].expect);
        free(err);
    }
}

static void
test_abi__init_tells_the_option_check_from_a_worker(void **state)
{
    char *err, *out;

    (void)state;
    tu_sh(0, "seq 1 60 > seq.txt && rm -f marker");
    tu_write_job("check.yaml",
                 "input:\n  path: seq.txt\noutput:\n  path: out.txt\nlog_dir: logs\nsteps:\n"
                 "  - plugin: %s\n    options:\n      marker: %s/marker\n",
                 PLUGIN("checker"), tu_dir);
    err = tranche_expect(0, "run check.yaml --workers 3 --partition-size 1");
    free(err);
    tu_sh(0, "test \"$(grep -c '^check$' marker)\" = 1 && test \"$(grep -c '^worker$' marker)\" = 3"
             " && test \"$(wc -l < marker)\" = 4");
    /* The LIST option's default has three items. */
    out = tu_read_file(tu_join(tu_dir, "out.txt"), NULL);
    assert_true(strncmp(out, "1|x,y,z\n2|x,y,z\n", 16) == 0);
    free(out);
    /* validate runs the check only. */
    tu_sh(0, "rm -f marker");
    err = tranche_expect(0, "validate check.yaml");
    free(err);
    tu_sh(0, "test \"$(cat marker)\" = check");
}

static void
test_abi__a_value_init_rejects_is_reported_at_the_value(void **state)
{
    char *err;

    (void)state;
    tu_sh(0, "printf 'x\\n' > t.txt");
    tu_write_job("reject.yaml",
                 "input:\n  path: t.txt\noutput:\n  path: out.txt\nlog_dir: logs\nsteps:\n"
                 "  - plugin: upper\n  - plugin: %s\n    options:\n      pattern:   bad\n",
                 PLUGIN("checker"));
    err = tranche_expect(2, "validate reject.yaml");
    tu_assert_contains(err, "reject.yaml:10:18: step 2 (");
    tu_assert_contains(err, "): option 'pattern': 'bad' is not a pattern this plugin takes");
    free(err);
    err = tranche_expect(2, "run reject.yaml");
    tu_assert_contains(err, "reject.yaml:10:18: step 2 (");
    free(err);
    tu_write_job("reject.yaml",
                 "input:\n  path: t.txt\noutput:\n  path: out.txt\nlog_dir: logs\nsteps:\n"
                 "  - plugin: %s\n    options:\n      items:\n        - good\n        - bad\n",
                 PLUGIN("checker"));
    err = tranche_expect(2, "validate reject.yaml");
    tu_assert_contains(err, "reject.yaml:11:11: step 1 (");
    tu_assert_contains(err, "): option 'items', item 2: 'bad' is not an item");
    free(err);
    /* A default the plugin rejects: at the step. */
    tu_write_job("reject.yaml",
                 "input:\n  path: t.txt\noutput:\n  path: out.txt\nlog_dir: logs\nsteps:\n"
                 "  - plugin: upper\n  - plugin: %s\n    options:\n      forbid: ok\n",
                 PLUGIN("checker"));
    err = tranche_expect(2, "validate reject.yaml");
    tu_assert_contains(err, "reject.yaml:8:5: step 2 (");
    tu_assert_contains(err, "): option 'pattern' (its default): 'ok' is forbidden");
    free(err);
}

static void
test_abi__null_is_no_value_and_big_integers_are_out_of_range(void **state)
{
    static const char *const nulls[] = {"~", "null", ""};
    size_t i;
    char *err;

    (void)state;
    tu_sh(0, "printf 'x\\n' > t.txt");
    for (i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
        tu_write_job("typed.yaml",
                     "input:\n  path: t.txt\noutput:\n  path: out.txt\nlog_dir: logs\nsteps:\n"
                     "  - plugin: %s\n    options:\n      count: %s\n",
                     PLUGIN("typed"), nulls[i]);
        err = tranche_expect(2, "validate typed.yaml");
        tu_assert_contains(err, "typed.yaml:9:");
        tu_assert_contains(err, "option 'count' of plugin typed is required, and a null value");
        free(err);
    }
    /* A quoted "~" is text, and a null optional option takes its default. */
    tu_write_job("typed.yaml",
                 "input:\n  path: t.txt\noutput:\n  path: out.txt\nlog_dir: logs\nsteps:\n"
                 "  - plugin: %s\n    options:\n      count: 3\n      name: ~\n",
                 PLUGIN("typed"));
    err = tranche_expect(0, "validate typed.yaml");
    free(err);
    tu_write_job("typed.yaml",
                 "input:\n  path: t.txt\noutput:\n  path: out.txt\nlog_dir: logs\nsteps:\n"
                 "  - plugin: %s\n    options:\n      count: 99999999999999999999\n",
                 PLUGIN("typed"));
    err = tranche_expect(2, "validate typed.yaml");
    tu_assert_contains(err, "typed.yaml:9:14: step 1 (");
    tu_assert_contains(err,
                       "option 'count' of plugin typed '99999999999999999999' is out of range");
    assert_null(strstr(err, "not an integer"));
    free(err);
}

static void
test_abi__host_error_names_the_record_offset(void **state)
{
    char *err;

    (void)state;
    tu_sh(0, "printf 'aa\\nbb\\nboom here\\ncc\\n' > boom.txt && printf 'x\\n' | gzip > boom.gz");
    tu_write_job("boom.yaml",
                 "input:\n  path: [boom.gz, boom.txt]\noutput:\n  path: out.txt\nlog_dir: logs\n"
                 "steps:\n  - plugin: upper\n  - plugin: %s\n    options:\n      match: BOOM\n",
                 PLUGIN("failer"));
    err = tranche_expect(1, "run boom.yaml");
    tu_assert_contains(err, "failer hit record 'BOOM HERE' (at the record starting at byte 6)");
    free(err);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abi__record_info_gives_the_real_offsets),
        cmocka_unit_test(test_abi__partition_callbacks_nest_along_the_chain),
        cmocka_unit_test(test_abi__records_are_nul_terminated_and_writable_at_every_step),
        cmocka_unit_test(test_abi__a_plugin_built_for_1_0_behaves_as_before),
        cmocka_unit_test(test_abi__a_cxx_plugin_builds_loads_and_runs),
        cmocka_unit_test(test_abi__the_loader_checks_the_descriptor_and_the_option_table),
        cmocka_unit_test(test_abi__init_tells_the_option_check_from_a_worker),
        cmocka_unit_test(test_abi__a_value_init_rejects_is_reported_at_the_value),
        cmocka_unit_test(test_abi__null_is_no_value_and_big_integers_are_out_of_range),
        cmocka_unit_test(test_abi__host_error_names_the_record_offset),
    };

    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
