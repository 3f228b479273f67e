/*
 * tests/e2e/test_plugins_fields.c: the field plugins (cut's whitespace fields and ~K, upper and
 * lower with fields, jsonl, sample) through the real CLI, compared byte for byte with a reference
 * tool (awk, cut, rev, tr, jq -r, a python3 script) for 1, 2 and 5 workers and partition sizes
 * from 1 byte up, and their option and input errors as a user reads them.
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

/* A job's steps and the shell filter (run with LC_ALL=C, stdin to stdout) that must give the
 * same bytes. Inputs are files in tu_dir; the reference reads them with a final newline. */
struct field_case {
    const char *name;
    const char *input;
    const char *steps;
    const char *reference;
};

/* Runs one case at every partition size and worker count against its reference. */
static void
check_case(const struct field_case *c)
{
    static const size_t sizes[] = {1, 4096, 1 << 20};
    static const int workers[] = {1, 2, 5};
    const char *job = tu_write_job("job.yaml",
                                   "input:\n  path: %s\noutput:\n  path: out\nlog_dir: logs\n"
                                   "steps:\n%s",
                                   c->input, c->steps);

    tu_sh(0,
          "{ cat '%s'; [ \"$(tail -c1 '%s' | od -An -tx1)\" = \" 0a\" ] || echo; } > norm && "
          "export LC_ALL=C; ( %s ) < norm > ref",
          c->input, c->input, c->reference);
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (size_t w = 0; w < sizeof(workers) / sizeof(workers[0]); w++) {
            if (!tu_thin()) {
                continue;
            }
            tu_sh(0, "rm -f out && %s run %s --workers %d --partition-size %zu", TRANCHE_BIN, job,
                  workers[w], sizes[s]);
            if (!tu_files_equal(tu_join(tu_dir, "out"), tu_join(tu_dir, "ref"))) {
                fail_msg("%s: %d workers, partition size %zu differs from `%s`", c->name,
                         workers[w], sizes[s], c->reference);
            }
        }
    }
}

static void
check_cases(const struct field_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        check_case(&cases[i]);
    }
}

/* Runs a one-step job on `input` that must fail with `status`, its stderr holding `needle`. */
static void
expect_failure(const char *input, const char *steps, int status, const char *needle)
{
    char *err = NULL;
    const char *job = tu_write_job("bad.yaml",
                                   "input:\n  path: %s\noutput:\n  path: bad.out\n"
                                   "log_dir: logs\nsteps:\n%s",
                                   input, steps);
    int rc = tu_tranche(&err, "run %s --workers 2 --partition-size 64", job);

    if (rc != status) {
        fail_msg("exit %d, expected %d, for steps\n%s\nstderr: %s", rc, status, steps,
                 err != NULL ? err : "");
    }
    tu_assert_contains(err, needle);
    free(err);
}

/* ---- inputs ---------------------------------------------------------------------------------- */

/* Blanks everywhere awk's default splitting has a case: leading, trailing, runs of spaces and
 * tabs, lines of blanks only, one field, CRs and other bytes that are not blanks. */
static void
write_blanks_input(const char *path)
{
    static const char *const lines[] = {
        "alpha beta gamma",
        "  lead  and\ttrail\t ",
        "",
        " \t \t",
        "single",
        "\tTab\tSeparated\tWords\there",
        "a b c d e f g h i j k l",
        "MiXeD CaSe words\r",
        "x\vy\fz two",
        "  ",
        "one  two",
    };
    uint64_t seed = 11;
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    for (int i = 0; i < 3000; i++) {
        const char *line = lines[tu_rand(&seed) % (sizeof(lines) / sizeof(lines[0]))];

        fputs(line, f);
        if (tu_rand(&seed) % 50 == 0) {
            /* a record longer than small partitions */
            for (int j = 0; j < 3000; j++) {
                fputs(j % 7 == 0 ? " \t" : "w", f);
            }
        }
        fputc('\n', f);
    }
    fputs("  last line without newline  ", f);
    assert_int_equal(fclose(f), 0);
}

static const char *
pick(uint64_t *seed, const char *const *v, size_t n)
{
    return v[tu_rand(seed) % n];
}

#define PICK(seed, v) pick(seed, v, sizeof(v) / sizeof(v[0]))

/* JSON lines with every case jsonl must get right and jq agrees on: escapes, surrogate pairs,
 * nesting to skip, duplicate and escaped keys, numbers jq prints as written, missing fields,
 * blank and CRLF lines, and records longer than small partitions. */
static void
write_json_input(const char *path)
{
    static const char *const strings[] = {
        "\"plain\"",
        "\"tab\\there\"",
        "\"new\\nline\"",
        "\"cr\\rhere\"",
        "\"quote\\\" and back\\\\slash\"",
        "\"\\u00e9t\\u00e9 \\u20ac\"",
        "\"\\ud83d\\ude00 smile\"",
        "\"nul\\u0000byte\"",
        "\"lone \\udc00 low\"",
        "\"raw \xc3\xa9 UTF-8\"",
        "\"slash\\/ \\b\\f\"",
        "\"\"",
        "\"comma, and tab\\t\"",
        "\"\\u0041\\u005c\\u0009\"",
    };
    static const char *const scalars[] = {"0",       "-1",   "42",    "3.25", "-0.5",
                                          "1234567", "true", "false", "null", "1e-07"};
    static const char *const statuses[] = {"200", "404", "\"404\"", "500", "404.0"};
    static const char *const spaces[] = {"", " ", "  ", "\t", " \r"};
    uint64_t seed = 5;
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    for (int i = 0; i < 2500; i++) {
        const char *sp = PICK(&seed, spaces);
        uint64_t r = tu_rand(&seed);
        int depth = (int)(tu_rand(&seed) % 40);

        if (r % 40 == 0) {
            fputs(r % 80 == 0 ? "\n" : "  \r\n", f); /* blank records are skipped */
            continue;
        }
        fprintf(f, "%s{%s", sp, sp);
        if (r % 7 != 0) {
            fprintf(f, "\"%s\"%s:%s%s,", r % 5 == 0 ? "\\u0061" : "a", sp, sp,
                    r % 3 == 0 ? PICK(&seed, scalars) : PICK(&seed, strings));
        }
        /* nesting jsonl must skip, with the names it looks for inside */
        fputs("\"z\":", f);
        for (int d = 0; d < depth; d++) {
            fputs(d % 2 == 0 ? "[{\"a\":1,\"b\":{\"c\":2}}," : "{\"c\":[\"]}\",", f);
        }
        fputs("\"deep\"", f);
        for (int d = depth - 1; d >= 0; d--) {
            fputs(d % 2 == 0 ? "]" : "]}", f);
        }
        fprintf(f, ",%s\"s\":%s%s", sp, sp, PICK(&seed, statuses));
        if (r % 4 != 0) {
            fprintf(f, ",\"b\":{\"x\":[1,{\"c\":\"no\"}],\"c\":%s}",
                    r % 2 == 0 ? PICK(&seed, strings) : PICK(&seed, scalars));
        } else if (r % 8 == 0) {
            fputs(",\"b\":null", f);
        }
        if (r % 11 == 0) {
            fputs(",\"n\":\"first\"", f); /* a duplicate: the last one counts */
        }
        fprintf(f, ",\"n\":%s", PICK(&seed, scalars));
        if (r % 60 == 0) {
            fputs(",\"long\":\"", f);
            for (int j = 0; j < 9000; j++) {
                fputc('a' + j % 26, f);
            }
            fputc('"', f);
        }
        fprintf(f, "%s}%s%s", sp, sp, r % 9 == 0 ? "\r\n" : "\n");
    }
    fputs("{\"a\":\"last\",\"n\":1}", f);
    assert_int_equal(fclose(f), 0);
}

/*
 * The reference no standard tool has: upper/lower of some fields (delimiter or blanks, fields
 * counted from the end as negative numbers). sample's is plugins/sample/sample_ref.py.
 */
static const char case_fields_py[] =
    "import re, sys\n"
    "delim, mode, want = sys.argv[1].encode(), sys.argv[2], [int(x) for x in sys.argv[3:]]\n"
    "for line in sys.stdin.buffer:\n"
    "    line = line[:-1]\n"
    "    if delim == b'ws':\n"
    "        parts = re.split(rb'([ \\t]+)', line)\n"
    "        idx = [i for i in range(0, len(parts), 2) if parts[i]]\n"
    "    else:\n"
    "        parts = line.split(delim)\n"
    "        idx = list(range(len(parts)))\n"
    "    n = len(idx)\n"
    "    for k, i in enumerate(idx, 1):\n"
    "        if k in want or (k - n - 1) in want:\n"
    "            parts[i] = parts[i].upper() if mode == 'upper' else parts[i].lower()\n"
    "    sys.stdout.buffer.write((b'' if delim == b'ws' else delim).join(parts) + b'\\n')\n";

static int
setup(void **state)
{
    tu_group_setup(state);
    tu_write_edge_input(tu_join(tu_dir, "edge.txt"), 120000, 0, 1);
    write_blanks_input(tu_join(tu_dir, "blanks.txt"));
    tu_write_edge_input(tu_join(tu_dir, "nul.txt"), 60000, 1, 0);
    write_json_input(tu_join(tu_dir, "in.jsonl"));
    tu_sh(0, "gzip -k in.jsonl");
    tu_write_file(tu_join(tu_dir, "case_fields.py"), case_fields_py, strlen(case_fields_py));
    tu_sh(0, "cp '%s/plugins/sample/sample_ref.py' sample.py", SOURCE_DIR);
    return 0;
}

/* ---- cut ---------------------------------------------------------------------------------------
 */

/* awk keeping the fields for which COND holds (in increasing order, once), joined by one space */
#define AWK_KEEP(cond)                                                                             \
    "awk '{ o = \"\"; k = 0; for (i = 1; i <= NF; i++) if (" cond ") "                             \
    "{ o = o (k++ ? \" \" : \"\") $i } print o }'"

static void
test_plugins_fields__cut_whitespace_matches_awk(void **state)
{
    static const struct field_case cases[] = {
        {"ws 1,3", "blanks.txt",
         "  - plugin: cut\n    options: {delimiter: whitespace, fields: [\"1\", \"3\"]}\n",
         AWK_KEEP("i == 1 || i == 3")},
        {"ws 2-", "edge.txt",
         "  - plugin: cut\n    options: {delimiter: whitespace, fields: [\"2-\"]}\n",
         AWK_KEEP("i >= 2")},
        {"ws ~1", "blanks.txt",
         "  - plugin: cut\n    options: {delimiter: whitespace, fields: [\"~1\"]}\n",
         AWK_KEEP("i == NF")},
        {"ws 1,~2-", "edge.txt",
         "  - plugin: cut\n    options: {delimiter: whitespace, fields: [\"~2-\", \"1\"]}\n",
         AWK_KEEP("i == 1 || i >= NF - 1")},
        {"ws -2,~3-~3 tab", "blanks.txt",
         "  - plugin: cut\n    options: {delimiter: whitespace, fields: [\"-2,~3-~3\"], "
         "output_delimiter: \"\\\\t\"}\n",
         "awk '{ o = \"\"; k = 0; for (i = 1; i <= NF; i++) if (i <= 2 || i == NF - 2) "
         "{ o = o (k++ ? \"\\t\" : \"\") $i } print o }'"},
    };

    (void)state;
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* rev(1) reads characters: the input's UTF-8 needs a UTF-8 locale (cut between stays bytewise) */
#define REV "LC_ALL=C.UTF-8 rev"

static void
test_plugins_fields__cut_from_the_end_matches_cut_and_rev(void **state)
{
    static const struct field_case cases[] = {
        {"comma ~1", "edge.txt",
         "  - plugin: cut\n    options: {delimiter: \",\", fields: [\"~1\"]}\n",
         REV " | cut -d, -f1 | " REV},
        {"tab ~3-~2", "edge.txt", "  - plugin: cut\n    options: {fields: [\"~3-~2\"]}\n",
         REV " | cut -f2-3 | " REV},
        {"space -~2", "edge.txt",
         "  - plugin: cut\n    options: {delimiter: \" \", fields: [\"-~2\"]}\n",
         REV " | cut -d' ' -f2- | " REV},
        {"comma 2-~2", "edge.txt",
         "  - plugin: cut\n    options: {delimiter: \",\", fields: [\"2-~2\"]}\n",
         "awk -F, '{ if (index($0, \",\") == 0) { print; next } o = \"\"; "
         "for (i = 2; i <= NF - 1; i++) o = o (i > 2 ? \",\" : \"\") $i; print o }'"},
        {"comma output_delimiter", "edge.txt",
         "  - plugin: cut\n    options: {delimiter: \",\", fields: [\"1\", \"3-\"], "
         "output_delimiter: \" | \"}\n",
         "cut -d, -f1,3- --output-delimiter=' | '"},
        {"comma ~2- output_delimiter", "edge.txt",
         "  - plugin: cut\n    options: {delimiter: \",\", fields: [\"~2-\"], "
         "output_delimiter: \" | \"}\n",
         REV " | cut -d, -f1-2 --output-delimiter=' | ' | " REV},
        {"tab, cut(1) as before", "edge.txt",
         "  - plugin: cut\n    options: {fields: [\"-2\", \"4\"]}\n", "cut -f-2,4"},
    };

    (void)state;
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_plugins_fields__cut_rejects_bad_specs(void **state)
{
    static const struct {
        const char *fields;
        const char *needle;
    } bad[] = {
        {"~0", "bad fields item '~0': fields are numbered from 1 (~1 is the last)"},
        {"~", "bad fields item '~': expected N, N-M, -M, N-"},
        {"~1-~3", "bad fields item '~1-~3': decreasing range"},
        {"1,~x", "bad fields item '1,~x': '~x': expected"},
        {"3-1", "decreasing range"},
    };
    char steps[256];

    (void)state;
    tu_write_file(tu_join(tu_dir, "small.txt"), "a b\n", 4);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(steps, sizeof(steps), "  - plugin: cut\n    options: {fields: [\"%s\"]}\n",
                 bad[i].fields);
        expect_failure("small.txt", steps, 2, bad[i].needle);
    }
    expect_failure("small.txt",
                   "  - plugin: cut\n    options: {delimiter: blanks, fields: [\"1\"]}\n", 2,
                   "delimiter must be one character, \\t or whitespace, got 'blanks'");
}

/* ---- upper and lower
 * ----------------------------------------------------------------------------- */

static void
test_plugins_fields__upper_lower_fields_match_python(void **state)
{
    static const struct field_case cases[] = {
        {"lower all", "edge.txt", "  - plugin: lower\n", "tr A-Z a-z"},
        {"upper all", "blanks.txt", "  - plugin: upper\n", "tr a-z A-Z"},
        {"upper 2,~1 comma", "edge.txt",
         "  - plugin: upper\n    options: {delimiter: \",\", fields: [\"2\", \"~1\"]}\n",
         "python3 case_fields.py , upper 2 -1"},
        {"lower 1-2 ws", "blanks.txt",
         "  - plugin: lower\n    options: {delimiter: whitespace, fields: [\"1-2\"]}\n",
         "python3 case_fields.py ws lower 1 2"},
        {"upper ~2 ws", "edge.txt",
         "  - plugin: upper\n    options: {delimiter: whitespace, fields: [\"~2\"]}\n",
         "python3 case_fields.py ws upper -2"},
        {"lower ~2- comma", "edge.txt",
         "  - plugin: lower\n    options: {delimiter: \",\", fields: [\"~2-\"]}\n",
         "python3 case_fields.py , lower -1 -2"},
        {"upper 2 comma, NUL bytes", "nul.txt",
         "  - plugin: upper\n    options: {delimiter: \",\", fields: [\"2\"]}\n",
         "python3 case_fields.py , upper 2"},
        {"upper 3 tab", "edge.txt", "  - plugin: upper\n    options: {fields: [\"3\"]}\n",
         "python3 case_fields.py '\t' upper 3"},
    };

    (void)state;
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* ---- jsonl ------------------------------------------------------------------------------------
 */

static void
test_plugins_fields__jsonl_matches_jq(void **state)
{
    static const struct field_case cases[] = {
        {"fields", "in.jsonl", "  - plugin: jsonl\n    options: {fields: [a, b.c, n]}\n",
         "jq -r '[.a, .b.c, .n] | @tsv'"},
        {"where number", "in.jsonl",
         "  - plugin: jsonl\n    options: {fields: [.n, a], where: [\"s=404\", \"b.c!=null\"]}\n",
         "jq -r 'select(.s == 404 and .b.c != null) | [.n, .a] | @tsv'"},
        {"where string", "in.jsonl",
         "  - plugin: jsonl\n    options: {fields: [s, b.c], where: ['s=\"404\"'], "
         "delimiter: \" | \"}\n",
         "jq -r 'select(.s == \"404\") | [.s, .b.c] | @tsv' | sed 's/\t/ | /g'"},
        {"no escaping", "in.jsonl",
         "  - plugin: jsonl\n    options: {fields: [a, b.c], escape: false, delimiter: \",\"}\n",
         "jq -j '[.a, .b.c] | map(if . == null then \"\" else tostring end) | join(\",\") + "
         "\"\\n\"'"},
        {"gzip input", "in.jsonl.gz",
         "  - plugin: jsonl\n    options: {fields: [b.c, a], where: [\"s!=200\"]}\n",
         "zcat in.jsonl.gz | jq -r 'select(.s != 200) | [.b.c, .a] | @tsv'"},
        {"filter only", "in.jsonl",
         "  - plugin: jsonl\n    options: {where: [a=plain, \"n!=false\"]}\n",
         "jq -R -r 'select(fromjson? | .a == \"plain\" and .n != false)'"},
    };

    (void)state;
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_plugins_fields__jsonl_objects_and_arrays_as_written(void **state)
{
    (void)state;
    static const char nest[] = "{\"a\":{\"b\":[1,{\"c\":\"d\"}]},\"e\":[]}\n[10,[20,21]]\n";

    tu_write_file(tu_join(tu_dir, "nest.jsonl"), nest, strlen(nest));

    const char *job =
        tu_write_job("nest.yaml", "input:\n  path: nest.jsonl\noutput:\n  path: nest.out\n"
                                  "log_dir: logs\nsteps:\n  - plugin: jsonl\n"
                                  "    options: {fields: [a, a.b.1.c, e, 1.0, 1]}\n");

    tu_sh(0,
          "%s run %s && printf '{\"b\":[1,{\"c\":\"d\"}]}\\td\\t[]\\t\\t\\n"
          "\\t\\t\\t20\\t[20,21]\\n' | cmp - nest.out",
          TRANCHE_BIN, job);
}

static void
test_plugins_fields__jsonl_invalid_json_names_the_byte(void **state)
{
    static const struct {
        const char *record;
        const char *needle;
        int jq_accepts; /* jq 1.6 reads 01 and 1. as numbers, and a stream of values */
    } bad[] = {
        {"{\"a\":1,}", "invalid JSON at byte 7 of the record: expected a key in quotes", 0},
        {"{\"a\":\"open", "invalid JSON at byte 10 of the record: unterminated string", 0},
        {"{\"a\":\"\\x\"}", "at byte 6 of the record: invalid escape in a string", 0},
        {"{\"a\":\"\\ud83d\"}", "a \\u high surrogate must be followed by a \\u low surrogate", 0},
        {"{\"a\":\"tab\there\"}", "control character in a string (must be escaped)", 0},
        {"{\"a\":1} {\"a\":2}", "at byte 8 of the record: more than one JSON value", 1},
        {"{\"a\":01}", "at byte 6 of the record: expected ',' or '}' in an object", 1},
        {"{\"a\":tru}", "at byte 5 of the record: unexpected character", 0},
        {"{\"a\":1.}", "invalid number: digits must follow '.'", 1},
        {"{\"a\" 1}", "expected ':' after a key", 0},
    };
    char input[512];
    char steps[] = "  - plugin: jsonl\n    options: {fields: [a]}\n";

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int n = snprintf(input, sizeof(input), "{\"a\":1}\n%s\n{\"a\":2}\n", bad[i].record);

        tu_write_file(tu_join(tu_dir, "bad.jsonl"), input, (size_t)n);
        expect_failure("bad.jsonl", steps, 1, bad[i].needle);
        /* the reference agrees that the record is not JSON */
        assert_int_equal(tu_run_here(NULL, "jq . bad.jsonl > /dev/null 2>&1") == 0,
                         bad[i].jq_accepts);
    }
    /* nesting: 256 levels are read, deeper is refused (as jq 1.6 does) */
    tu_sh(0, "python3 -c 'print(\"[\" * 256 + \"]\" * 256); print(\"[\" * 300 + \"]\" * 300)' "
             "> deep.jsonl && jq -c . deep.jsonl 2>&1 | grep -q 'Exceeds depth limit'");
    expect_failure("deep.jsonl", steps, 1, "nested deeper than 256 levels");
    tu_sh(0, "head -1 deep.jsonl > deep1.jsonl");
    tu_write_job("deep.yaml",
                 "input:\n  path: deep1.jsonl\noutput:\n  path: deep.out\n"
                 "log_dir: logs\nsteps:\n%s",
                 steps);
    tu_sh(0, "%s run deep.yaml && printf '\\n' | cmp - deep.out", TRANCHE_BIN);
}

static void
test_plugins_fields__jsonl_rejects_bad_options(void **state)
{
    (void)state;
    tu_write_file(tu_join(tu_dir, "one.jsonl"), "{}\n", 3);
    expect_failure("one.jsonl", "  - plugin: jsonl\n    options: {where: [\"status\"]}\n", 2,
                   "bad where item 'status': expected PATH=VALUE or PATH!=VALUE");
    expect_failure("one.jsonl", "  - plugin: jsonl\n    options: {where: [\"=1\"]}\n", 2,
                   "bad where item '=1'");
    expect_failure("one.jsonl", "  - plugin: jsonl\n    options: {fields: [a..b]}\n", 2,
                   "bad fields item 'a..b': a path is names separated by dots");
}

/* ---- sample ------------------------------------------------------------------------------------
 */

static void
test_plugins_fields__sample_fraction_matches_python(void **state)
{
    static const struct field_case cases[] = {
        {"fraction 0.1", "edge.txt", "  - plugin: sample\n    options: {fraction: 0.1}\n",
         "python3 sample.py 0.1 0"},
        {"fraction 0.5 seed", "blanks.txt",
         "  - plugin: sample\n    options: {fraction: 0.5, seed: -42}\n",
         "python3 sample.py 0.5 -42"},
        {"fraction 1", "edge.txt", "  - plugin: sample\n    options: {fraction: 1}\n", "cat"},
        {"fraction 0", "edge.txt", "  - plugin: sample\n    options: {fraction: 0}\n", "head -c0"},
    };

    (void)state;
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_plugins_fields__sample_every_counts_within_partitions(void **state)
{
    const char *job =
        tu_write_job("every.yaml", "input:\n  path: edge.txt\noutput:\n  path: every.out\n"
                                   "log_dir: logs\nsteps:\n  - plugin: sample\n"
                                   "    options: {every: 3}\n");

    (void)state;
    /* one partition: every 3rd record from the first, as sed -n 1~3p */
    tu_sh(0,
          "%s run %s --partition-size 1MiB --workers 3 && { cat edge.txt; echo; } | "
          "sed -n '1~3p' | cmp - every.out && mv every.out every-1mib.out",
          TRANCHE_BIN, job);
    /* several partitions: the same output for any worker count, but not the same as above */
    tu_sh(0,
          "%s run %s --partition-size 4096 --workers 1 && mv every.out every-1.out && "
          "%s run %s --partition-size 4096 --workers 5 && cmp every-1.out every.out && "
          "! cmp -s every-1.out every-1mib.out",
          TRANCHE_BIN, job, TRANCHE_BIN, job);
}

static void
test_plugins_fields__sample_rejects_bad_options(void **state)
{
    (void)state;
    tu_write_file(tu_join(tu_dir, "small.txt"), "a b\n", 4);
    expect_failure("small.txt", "  - plugin: sample\n", 2, "give one of 'fraction'");
    expect_failure("small.txt", "  - plugin: sample\n    options: {fraction: 0.5, every: 2}\n", 2,
                   "give one of 'fraction'");
    expect_failure("small.txt", "  - plugin: sample\n    options: {fraction: 1.5}\n", 2,
                   "fraction must be a number from 0 to 1 (0.1 keeps about 10%), got '1.5'");
    expect_failure("small.txt", "  - plugin: sample\n    options: {fraction: half}\n", 2,
                   "got 'half'");
    expect_failure("small.txt", "  - plugin: sample\n    options: {every: -2}\n", 2,
                   "every must be 1 or more, got -2");
}

/* ---- where a bad value is reported --------------------------------------------------------- */

/*
 * Validates a one-step job (the step at line 7, its options from line 9 on) that must be refused
 * with exit status 2, its stderr holding `where` (the rejected value's FILE:LINE:COLUMN) and
 * `needle`.
 */
static void
expect_refused_at(const char *steps, const char *where, const char *needle)
{
    char *err = NULL;
    const char *job = tu_write_job("at.yaml",
                                   "input:\n  path: small.txt\noutput:\n  path: at.out\n"
                                   "log_dir: logs\nsteps:\n%s",
                                   steps);
    int rc = tu_tranche(&err, "validate %s", job);

    if (rc != 2) {
        fail_msg("exit %d, expected 2, for steps\n%s\nstderr: %s", rc, steps,
                 err != NULL ? err : "");
    }
    tu_assert_contains(err, where);
    tu_assert_contains(err, needle);
    free(err);
}

/* A value the plugin rejects is reported at the value (or, in a list, at the item), each here on
 * a line of its own below the step's line (7). */
static void
test_plugins_fields__bad_values_point_at_the_value(void **state)
{
    char *err = NULL;

    (void)state;
    tu_write_file(tu_join(tu_dir, "small.txt"), "a b\n", 4);
    /* cut: the second item of fields, and a bad delimiter */
    expect_refused_at("  - plugin: cut\n    options:\n      delimiter: ','\n      fields:\n"
                      "        - 1\n        - ~0\n",
                      "at.yaml:12:11: step 1 (cut): option 'fields', item 2: ",
                      "bad fields item '~0': fields are numbered from 1 (~1 is the last)");
    expect_refused_at("  - plugin: cut\n    options:\n      fields: [1, \"2\", \"3-1\"]\n",
                      "at.yaml:9:24: step 1 (cut): option 'fields', item 3: ",
                      "bad fields item '3-1': decreasing range");
    expect_refused_at("  - plugin: cut\n    options:\n      fields: 1\n      delimiter:\n"
                      "        blanks\n",
                      "at.yaml:11:9: step 1 (cut): option 'delimiter': ",
                      "delimiter must be one character, \\t or whitespace, got 'blanks'");
    /* upper and lower: fields */
    expect_refused_at("  - plugin: upper\n    options:\n      fields:\n        - 1\n"
                      "        - 2,x\n",
                      "at.yaml:11:11: step 1 (upper): option 'fields', item 2: ",
                      "bad fields item '2,x': 'x': expected");
    expect_refused_at("  - plugin: lower\n    options:\n      fields: 0\n",
                      "at.yaml:9:15: step 1 (lower): option 'fields', item 1: ",
                      "bad fields item '0': fields are numbered from 1");
    /* jsonl: an item of where, and of fields */
    expect_refused_at("  - plugin: jsonl\n    options:\n      where:\n        - a=1\n"
                      "        - status\n",
                      "at.yaml:11:11: step 1 (jsonl): option 'where', item 2: ",
                      "bad where item 'status': expected PATH=VALUE or PATH!=VALUE");
    expect_refused_at("  - plugin: jsonl\n    options:\n      where: [a..b=1]\n",
                      "at.yaml:9:15: step 1 (jsonl): option 'where', item 1: ",
                      "bad where item 'a..b': a path is names separated by dots");
    expect_refused_at("  - plugin: jsonl\n    options:\n      fields: [a, b, .c.]\n",
                      "at.yaml:9:22: step 1 (jsonl): option 'fields', item 3: ",
                      "bad fields item '.c.': a path is names separated by dots");
    /* sample: fraction, every */
    expect_refused_at("  - plugin: sample\n    options:\n      seed: 3\n      fraction:\n"
                      "        1.5\n",
                      "at.yaml:11:9: step 1 (sample): option 'fraction': ",
                      "fraction must be a number from 0 to 1 (0.1 keeps about 10%), got '1.5'");
    expect_refused_at(
        "  - plugin: sample\n    options:\n      every: -2\n",
        "at.yaml:9:14: step 1 (sample): option 'every': ", "every must be 1 or more, got -2");
    /* what no one value is to blame for stays at the step */
    expect_refused_at("  - plugin: sample\n    options:\n      fraction: 0.5\n      every: 2\n",
                      "at.yaml:7:5: step 1 (sample): ", "give one of 'fraction'");
    /* a value or an item given with --set: the message names that --set */
    tu_write_job("at.yaml", "input:\n  path: small.txt\noutput:\n  path: at.out\n"
                            "log_dir: logs\nsteps:\n  - plugin: sample\n"
                            "    options: {fraction: 0.5}\n");
    assert_int_equal(tu_tranche(&err, "validate at.yaml --set 'sample.fraction=2'"), 2);
    tu_assert_contains(err, "--set sample.fraction=2: step 1 (sample): option 'fraction': "
                            "fraction must be a number from 0 to 1");
    free(err);
    tu_write_job("at.yaml", "input:\n  path: small.txt\noutput:\n  path: at.out\n"
                            "log_dir: logs\nsteps:\n  - plugin: cut\n    options: {fields: 1}\n");
    assert_int_equal(tu_tranche(&err, "validate at.yaml --set 'cut.fields=[1,0]'"), 2);
    tu_assert_contains(err, "--set cut.fields=[1,0]: step 1 (cut): option 'fields', item 2: "
                            "bad fields item '0'");
    free(err);
    tu_sh(0, "[ ! -e at.out ]");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugins_fields__cut_whitespace_matches_awk),
        cmocka_unit_test(test_plugins_fields__cut_from_the_end_matches_cut_and_rev),
        cmocka_unit_test(test_plugins_fields__cut_rejects_bad_specs),
        cmocka_unit_test(test_plugins_fields__upper_lower_fields_match_python),
        cmocka_unit_test(test_plugins_fields__jsonl_matches_jq),
        cmocka_unit_test(test_plugins_fields__jsonl_objects_and_arrays_as_written),
        cmocka_unit_test(test_plugins_fields__jsonl_invalid_json_names_the_byte),
        cmocka_unit_test(test_plugins_fields__jsonl_rejects_bad_options),
        cmocka_unit_test(test_plugins_fields__sample_fraction_matches_python),
        cmocka_unit_test(test_plugins_fields__sample_every_counts_within_partitions),
        cmocka_unit_test(test_plugins_fields__sample_rejects_bad_options),
        cmocka_unit_test(test_plugins_fields__bad_values_point_at_the_value),
    };

    return cmocka_run_group_tests(tests, setup, tu_group_teardown);
}
