/*
 * tests/e2e/test_count.c: aggregation through the real CLI: the bundled `count` aggregator
 * against awk | LC_ALL=C sort (python3's Decimal where awk's floating point or its strings cannot
 * follow: decimals, NUL bytes) on edge inputs, for 1, 2 and 7 workers and partition sizes from 1
 * byte, over gzip input, with its spill paths forced by a tiny `memory:`; its failures as a user
 * reads them (under on_error: skip too), --partition, --in-process and retries; and the README's
 * example aggregator (docs/examples/longest.c) against awk.
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

#define POISON TEST_PLUGIN_DIR "/poison.so"
#define LONGEST TEST_PLUGIN_DIR "/longest.so"

/*
 * The awk reference of a count job: KEYS is an awk expression for the key (k), SUMS, MINS and
 * MAXS lists of field numbers (space-separated, may be empty), FS the delimiter as awk -F takes
 * it. It prints KEY \001 COUNT \t ... so that LC_ALL=C sort orders by the key alone (no key byte
 * is below \001 here), and tr makes the \001 a tab; with no key it prints COUNT ... alone.
 * Integers only (printf %.0f): awk's doubles are exact for them.
 */
static const char awk_count[] =
    "awk -F \"$FS\" -v sums=\"$SUMS\" -v mins=\"$MINS\" -v maxs=\"$MAXS\" -v keyed=\"$KEYED\" '"
    "BEGIN { ns = split(sums, S, \" \"); nn = split(mins, N, \" \"); nx = split(maxs, X, \" \") }"
    "{ k = " /* KEY */ "%s; c[k]++;"
    "  for (i = 1; i <= ns; i++) { v = $(S[i]); if (v != \"-\") s[k, i] += v }"
    "  for (i = 1; i <= nn; i++) { v = $(N[i]); if (v != \"\" && v != \"-\" && "
    "    (!((k, i) in mn) || v + 0 < mn[k, i])) mn[k, i] = v + 0 }"
    "  for (i = 1; i <= nx; i++) { v = $(X[i]); if (v != \"\" && v != \"-\" && "
    "    (!((k, i) in mx) || v + 0 > mx[k, i])) mx[k, i] = v + 0 } }"
    "END { if (!keyed && length(c) == 0) c[\"\"] = 0;"
    "  for (k in c) { line = keyed ? k \"\\001\" c[k] : c[k];"
    "    for (i = 1; i <= ns; i++) line = line \"\\t\" sprintf(\"%%.0f\", s[k, i]);"
    "    for (i = 1; i <= nn; i++) line = line \"\\t\" ((k, i) in mn ? sprintf(\"%%.0f\", mn[k, "
    "i]) "
    ": \"\");"
    "    for (i = 1; i <= nx; i++) line = line \"\\t\" ((k, i) in mx ? sprintf(\"%%.0f\", mx[k, "
    "i]) "
    ": \"\");"
    "    print line } }' | LC_ALL=C sort | tr '\\001' '\\t'";

/* One count job and its reference. */
struct count_case {
    const char *name;
    const char *input;   /* in tu_dir */
    const char *options; /* count's options, a YAML flow mapping's inside */
    const char *fs;      /* the delimiter, as awk -F takes it */
    const char *key;     /* the awk expression of the key; NULL: no key */
    const char *sums, *mins, *maxs;
};

static const char *
write_count_job(const char *file, const char *input, const char *output, const char *extra,
                const char *options)
{
    return tu_write_job(file,
                        "input:\n  path: %s\noutput:\n  path: %s\nlog_dir: logs\n%s"
                        "aggregate:\n  plugin: count\n  options: {%s}\n",
                        input, output, extra, options);
}

static void
make_reference(const struct count_case *c, const char *ref)
{
    char cmd[8192];

    snprintf(cmd, sizeof(cmd), awk_count, c->key != NULL ? c->key : "\"\"");
    tu_sh(0, "export LC_ALL=C FS='%s' SUMS='%s' MINS='%s' MAXS='%s' KEYED=%d; (%s) < '%s' > '%s'",
          c->fs, c->sums, c->mins, c->maxs, c->key != NULL, cmd, c->input, ref);
}

/* Runs the case at every worker count and partition size (and `extra` job keys) against ref. */
static void
check_against(const struct count_case *c, const char *ref, const char *extra)
{
    static const char *const sizes[] = {"1", "100", "4KiB", "1MiB"};
    static const int workers[] = {1, 2, 7};
    const char *job = write_count_job("count.yaml", c->input, "out", extra, c->options);

    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (size_t w = 0; w < sizeof(workers) / sizeof(workers[0]); w++) {
            if (!tu_thin()) {
                continue;
            }
            tu_sh(0, "rm -f out && %s run %s --workers %d --partition-size %s", TRANCHE_BIN, job,
                  workers[w], sizes[s]);
            if (!tu_files_equal(tu_join(tu_dir, "out"), tu_join(tu_dir, ref))) {
                fail_msg("%s: %d workers, partition size %s differs from the reference", c->name,
                         workers[w], sizes[s]);
            }
        }
    }
}

static void
check_case(const struct count_case *c)
{
    make_reference(c, "ref");
    check_against(c, "ref", "");
}

/*
 * edge.tsv: tab-separated records built to hit the edges: empty fields, fields missing at the
 * end, the delimiter first and last, keys that are prefixes of others, spaces and commas inside
 * fields, "-" and empty values, negative numbers, records of one field, empty records, and a last
 * record without its newline.
 */
static void
write_edge_input(const char *path, int n_records, uint64_t seed)
{
    static const char *const keys[] = {"a", "ab", "", "a b", "b,c", "-", "z", "A", "ab ", " "};
    static const char *const nums[] = {"0", "1", "-1", "42", "-17", "1000000", "-", "", "7", "+3"};
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    for (int i = 0; i < n_records; i++) {
        uint64_t r = tu_rand(&seed);
        int fields = 1 + (int)(r % 7); /* 1..7: often fewer than the options name */

        if (r % 97 == 0) {
            fputc('\n', f); /* an empty record */
            continue;
        }
        for (int k = 1; k <= fields; k++) {
            uint64_t x = tu_rand(&seed);

            if (k > 1) {
                fputc('\t', f);
            }
            if (k <= 2 || k == 5) {
                fputs(keys[x % (sizeof(keys) / sizeof(keys[0]))], f);
            } else {
                fputs(nums[x % (sizeof(nums) / sizeof(nums[0]))], f);
            }
        }
        if (r % 13 == 0) {
            fputc('\t', f); /* the delimiter last: an empty last field */
        }
        fputc('\n', f);
    }
    fputs("a\t\t5", f); /* no newline */
    assert_int_equal(fclose(f), 0);
}

static int
setup(void **state)
{
    tu_group_setup(state);
    write_edge_input(tu_join(tu_dir, "edge.tsv"), 3000, 7);
    tu_sh(0, "gzip -c edge.tsv > edge.tsv.gz && : > empty.txt && printf 'x\\ty\\t5\\n' > one.txt");
    return 0;
}

/* ---- against awk ------------------------------------------------------------------------- */

static void
test_count__matches_awk_on_edge_inputs(void **state)
{
    static const struct count_case cases[] = {
        {"key, sum, min, max", "edge.tsv", "key: [2], sum: [3, 4], min: [3], max: [4, 6]", "\t",
         "$2", "3 4", "3", "4 6"},
        {"two key fields", "edge.tsv", "key: [1, 2], sum: [3]", "\t", "$1 \"\\t\" $2", "3", "", ""},
        {"key fields out of order, a missing field", "edge.tsv", "key: [5, 1], max: [7]", "\t",
         "$5 \"\\t\" $1", "", "", "7"},
        {"no key", "edge.tsv", "sum: [3, 6], min: [4], max: [4]", "\t", NULL, "3 6", "4", "4"},
        {"commas", "edge.tsv", "key: [2], delimiter: ','", ",", "$2", "", "", ""},
        {"spaces", "edge.tsv", "key: [1], delimiter: ' '", "[ ]", "$1", "", "", ""},
        {"one record", "one.txt", "key: [2], sum: [3], max: [3]", "\t", "$2", "3", "", "3"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_case(&cases[i]);
    }
}

/* An empty input: no record with a key; `0`, sums 0 and empty minimums and maximums without. */
static void
test_count__empty_input(void **state)
{
    (void)state;
    write_count_job("empty.yaml", "empty.txt", "out", "", "key: [1], sum: [2]");
    tu_sh(0, "%s run empty.yaml && [ -f out ] && [ ! -s out ]", TRANCHE_BIN);
    write_count_job("empty.yaml", "empty.txt", "out", "", "sum: [2], min: [2], max: [3]");
    tu_sh(0, "%s run empty.yaml --workers 2 && printf '0\\t0\\t\\t\\n' | cmp - out", TRANCHE_BIN);
    write_count_job("empty.yaml", "empty.txt", "out", "", "");
    tu_sh(0, "%s run empty.yaml && echo 0 | cmp - out", TRANCHE_BIN);
}

/* Over gzip input, the same bytes as over the plain file. */
static void
test_count__gzip_input(void **state)
{
    const char *opts = "key: [2, 1], sum: [3], min: [4], max: [4]";

    (void)state;
    write_count_job("plain.yaml", "edge.tsv", "plain.out", "", opts);
    write_count_job("gz.yaml", "edge.tsv.gz", "gz.out", "", opts);
    tu_sh(0,
          "%s run plain.yaml --workers 1 && %s run gz.yaml --workers 2 --partition-size 1KiB && "
          "cmp plain.out gz.out && %s run gz.yaml --workers 7 --partition-size 1 && "
          "cmp plain.out gz.out",
          TRANCHE_BIN, TRANCHE_BIN, TRANCHE_BIN);
}

/* Keys longer than 1 MiB (longer than any partition here), with and without a spill. */
static void
test_count__very_long_keys(void **state)
{
    static const struct count_case c = {
        "long keys", "long.tsv", "key: [1], sum: [2]", "\t", "$1", "2", "", ""};

    (void)state;
    tu_sh(0, "{ for i in 1 2 3; do head -c 1200000 /dev/zero | tr '\\0' k; printf '\\t%%d\\n' $i; "
             "head -c 1100000 /dev/zero | tr '\\0' j; printf 'x\\t5\\n'; echo 'short\t1'; done; } "
             "> long.tsv");
    make_reference(&c, "long.ref");
    tu_sh(0, "[ $(wc -l < long.ref) -eq 3 ]");
    check_against(&c, "long.ref", "");
    check_against(&c, "long.ref", "");
    write_count_job("long.yaml", "long.tsv", "out", "", c.options);
    tu_sh(0,
          "sed -i 's/^  plugin: count$/  plugin: count\\n  memory: 4KiB/' long.yaml && "
          "%s run long.yaml --workers 2 --partition-size 1KiB && cmp out long.ref",
          TRANCHE_BIN);
}

/* The python3 reference for what awk cannot do: NUL bytes in keys, exact decimals. It reads
 * in.bin, splits on tabs, and prints as count: key, count, sum of field 2, min and max of field 3
 * (fields 1-based as in the job). */
static const char python_count[] =
    "import sys\n"
    "from decimal import Decimal, getcontext\n"
    "getcontext().prec = 100\n"
    "c, s, mn, mx = {}, {}, {}, {}\n"
    "data = open(sys.argv[1], 'rb').read()\n"
    "recs = data.split(b'\\n')\n"
    "if recs and recs[-1] == b'':\n"
    "    recs.pop()\n"
    "for r in recs:\n"
    "    f = r.split(b'\\t') + [b''] * 3\n"
    "    k = f[0]\n"
    "    c[k] = c.get(k, 0) + 1\n"
    "    v = f[1]\n"
    "    s[k] = s.get(k, Decimal(0)) + (Decimal(v.decode()) if v not in (b'', b'-') else 0)\n"
    "    w = f[2]\n"
    "    if w not in (b'', b'-'):\n"
    "        d = Decimal(w.decode())\n"
    "        mn[k] = min(mn.get(k, d), d)\n"
    "        mx[k] = max(mx.get(k, d), d)\n"
    "def fmt(d):\n"
    "    if d is None:\n"
    "        return b''\n"
    "    return (format(d.normalize(), 'f') if d != 0 else '0').encode()\n"
    "out = sys.stdout.buffer\n"
    "for k in sorted(c):\n"
    "    out.write(b'\\t'.join([k, str(c[k]).encode(), fmt(s[k]), fmt(mn.get(k)), "
    "fmt(mx.get(k))]) + b'\\n')\n";

/* NUL bytes in keys, and decimals and negatives in sums, minimums and maximums. */
static void
test_count__nul_bytes_and_decimals(void **state)
{
    static const struct count_case c = {"decimals",
                                        "dec.bin",
                                        "key: [1], sum: [2], min: [3], "
                                        "max: [3]",
                                        "\t",
                                        "$1",
                                        "2",
                                        "3",
                                        "3"};
    static const char *const keys[] = {"a", "a\\000", "\\000", "", "b\\000c", "b"};
    static const char *const nums[] = {"1.5",
                                       "-2.25",
                                       "0.000000001",
                                       "+3",
                                       "-0",
                                       ".5",
                                       "7.",
                                       "",
                                       "-",
                                       "123456789012345678901.123456789",
                                       "-99.990000000000",
                                       "1000000000000000000000000"};
    uint64_t seed = 3;
    FILE *f;
    char path[1024];

    (void)state;
    snprintf(path, sizeof(path), "%s/dec.sh", tu_dir);
    f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 4000; i++) {
        fprintf(f, "printf '%s\\t%s\\t%s\\n'\n", keys[tu_rand(&seed) % 6],
                nums[tu_rand(&seed) % 12], nums[tu_rand(&seed) % 9]);
    }
    assert_int_equal(fclose(f), 0);
    tu_write_file(tu_join(tu_dir, "ref.py"), python_count, strlen(python_count));
    tu_sh(0, "sh dec.sh > dec.bin && [ $(tr -cd '\\000' < dec.bin | wc -c) -gt 100 ] && "
             "python3 ref.py dec.bin > dec.ref && [ $(wc -l < dec.ref) -eq 6 ]");
    check_against(&c, "dec.ref", "");
}

/* ---- memory and spill -------------------------------------------------------------------- */

/* 30000 distinct keys under `memory: 4KiB`: the map phase emits early, the combine phase spills
 * hundreds of runs and merges them in several passes; the output is unchanged and no temporary
 * file is left, in TMPDIR or beside the output. */
static void
test_count__spill_gives_the_same_output(void **state)
{
    static const struct count_case c = {
        "many keys", "many.tsv", "key: [2], sum: [1], max: [1]", "\t", "$2", "1", "", "1"};

    (void)state;
    tu_sh(0, "seq 1 60000 | awk '{ printf \"%%d\\tk%%d\\n\", $1 %% 1000, ($1 * 7919) %% 30000 }' "
             "> many.tsv && mkdir -p spill/out spill/tmp");
    make_reference(&c, "many.ref");
    tu_sh(0, "[ $(wc -l < many.ref) -eq 30000 ]");
    write_count_job("spill.yaml", "many.tsv", "spill/out/out", "", c.options);
    tu_sh(0, "sed -i 's/^  plugin: count$/  plugin: count\\n  memory: 4KiB/' spill.yaml");
    for (int w = 1; w <= 7; w += 6) {
        tu_sh(0,
              "rm -f spill/out/out && TMPDIR=$PWD/spill/tmp %s run spill.yaml --workers %d "
              "--partition-size 64KiB && cmp spill/out/out many.ref && "
              "[ \"$(ls -A spill/out)\" = out ] && [ -z \"$(ls -A spill/tmp)\" ]",
              TRANCHE_BIN, w);
    }
}

/* ---- failures ---------------------------------------------------------------------------- */

/* A sum field that is not a number fails the job (exit 1) naming the field and the value; under
 * on_error: skip the record is left out (exit 3), of the count too. */
static void
test_count__non_numeric_field(void **state)
{
    static const struct count_case c = {"skip", "bad.tsv", "key: [1], sum: [2]", "\t", "$1", "2",
                                        "",     ""};
    char *err = NULL;

    (void)state;
    tu_sh(0, "{ seq 1 500 | sed 's/^/k\\t/'; printf 'k\\t12k\\n'; seq 1 500 | sed 's/^/j\\t/'; } "
             "> bad.tsv && grep -v 12k bad.tsv > good.tsv");
    write_count_job("bad.yaml", "bad.tsv", "bad.out", "", c.options);
    assert_int_equal(tu_tranche(&err, "run bad.yaml --workers 2 --partition-size 1KiB"), 1);
    tu_assert_contains(err, "sum field 2: '12k' is not a number");
    free(err);
    tu_sh(0, "[ ! -e bad.out ]");
    write_count_job("bad.yaml", "bad.tsv", "bad.out", "on_error: skip\n", c.options);
    tu_sh(0, "%s run bad.yaml --workers 2 --partition-size 1KiB; [ $? -eq 3 ]", TRANCHE_BIN);
    tu_sh(0, "printf 'j\\t500\\t125250\\nk\\t500\\t125250\\n' | cmp - bad.out");
}

/* Bad option values stop the job before any input is read, at the value's line and column, and
 * `tranche validate` says the same. */
static void
test_count__bad_options(void **state)
{
    static const struct {
        const char *options;
        const char *needle;
    } cases[] = {
        {"key: [0]", "opts.yaml:8:19: "},
        {"key: [2, x]", "got 'x'"},
        {"key: [1-3]", "got '1-3'"},
        {"sum: [99999]", "from 1 to 65535"},
        {"delimiter: ab", "delimiter must be one byte"},
        {"min: [-1]", "got '-1'"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *err = NULL;

        write_count_job("opts.yaml", "edge.tsv", "opts.out", "", cases[i].options);
        assert_int_equal(tu_tranche(&err, "run opts.yaml"), 2);
        tu_assert_contains(err, cases[i].needle);
        free(err);
        err = NULL;
        assert_int_equal(tu_tranche(&err, "validate opts.yaml"), 2);
        tu_assert_contains(err, cases[i].needle);
        free(err);
        tu_sh(0, "[ ! -e opts.out ]");
    }
}

/* ---- run modes --------------------------------------------------------------------------- */

/* --in-process gives the forked run's bytes; --partition K runs and shows that partition's
 * partial records (COUNT<TAB>SUM<TAB>KEY). */
static void
test_count__in_process_and_partition(void **state)
{
    (void)state;
    write_count_job("modes.yaml", "edge.tsv", "modes.out", "partition_size: 4KiB\n",
                    "key: [2], sum: [3]");
    tu_sh(0,
          "%s run modes.yaml --workers 2 && cp modes.out forked.out && rm modes.out && "
          "%s run modes.yaml --in-process && cmp forked.out modes.out",
          TRANCHE_BIN, TRANCHE_BIN);
    tu_sh(
        0,
        "%s run modes.yaml --partition 1 -o part.out > part.stdout 2> part.err && [ -s part.out ] "
        "&& awk -F '\\t' 'NF < 3 || $1 !~ /^[0-9]+$/ { exit 1 }' part.out",
        TRANCHE_BIN);
}

/* With retries: 1, a step before the aggregate that crashes once on some records: each retried
 * partition's partial counts once. */
static void
test_count__retried_partitions_count_once(void **state)
{
    static const struct count_case c = {"retry", "retry.tsv", "key: [1], sum: [2]", "\t", "$1", "2",
                                        "",      ""};

    (void)state;
    tu_sh(0, "seq 1 3000 | awk '{ printf \"%%s\\t%%d\\n\", ($1 %% 500 == 0 ? \"MARK\" : "
             "\"k\" $1 %% 5), $1 }' > retry.tsv && mkdir -p once");
    make_reference(&c, "retry.ref");
    tu_write_job("retry.yaml",
                 "input:\n  path: retry.tsv\noutput:\n  path: retry.out\nlog_dir: logs\n"
                 "retries: 1\npartition_size: 2KiB\n"
                 "steps:\n  - plugin: " POISON "\n    options: { match: MARK, mode: crash, "
                 "once: %s/once }\naggregate:\n  plugin: count\n  options: {%s}\n",
                 tu_dir, c.options);
    tu_sh(0,
          "rm -rf once && mkdir once && %s run retry.yaml --workers 2 && cmp retry.out retry.ref "
          "&& [ $(ls once | wc -l) -gt 0 ]",
          TRANCHE_BIN);
}

/* ---- the README's aggregator ------------------------------------------------------------- */

/* docs/examples/longest.c, as README.md shows it, gives what awk gives, for any partitioning. */
static void
test_count__readme_example_aggregator(void **state)
{
    (void)state;
    tu_sh(0,
          "sed -n '/^<!-- example-aggregator -->/,/^<!-- end -->/p' '%s/README.md' | "
          "sed '1,2d;$d' | sed '$d' | cmp - '%s/docs/examples/longest.c'",
          SOURCE_DIR, SOURCE_DIR);
    tu_sh(0, "awk -F '\\t' '{ print $2 \"\\t\" $0 }' edge.tsv > lg.tsv && "
             "LC_ALL=C awk -F '\\t' '{ k = $1; if (!(k in m) || length($0) > length(m[k]) || "
             "(length($0) == length(m[k]) && $0 < m[k])) m[k] = $0 } "
             "END { for (k in m) print m[k] }' lg.tsv | LC_ALL=C sort > lg.ref");
    tu_write_job("lg.yaml", "input:\n  path: lg.tsv\noutput:\n  path: lg.out\nlog_dir: logs\n"
                            "aggregate:\n  plugin: " LONGEST "\n");
    for (int w = 1; w <= 7; w += 3) {
        tu_sh(0,
              "rm -f lg.out && %s run lg.yaml --workers %d --partition-size %d && "
              "cmp lg.out lg.ref",
              TRANCHE_BIN, w, w == 1 ? 1 : 1000);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count__matches_awk_on_edge_inputs),
        cmocka_unit_test(test_count__empty_input),
        cmocka_unit_test(test_count__gzip_input),
        cmocka_unit_test(test_count__very_long_keys),
        cmocka_unit_test(test_count__nul_bytes_and_decimals),
        cmocka_unit_test(test_count__spill_gives_the_same_output),
        cmocka_unit_test(test_count__non_numeric_field),
        cmocka_unit_test(test_count__bad_options),
        cmocka_unit_test(test_count__in_process_and_partition),
        cmocka_unit_test(test_count__retried_partitions_count_once),
        cmocka_unit_test(test_count__readme_example_aggregator),
    };

    return cmocka_run_group_tests(tests, setup, tu_group_teardown);
}
