/*
 * tests/e2e/test_cli.c: jobs and tests from the command line, through the real CLI: --set over a
 * job file (each key of the job, each step's options, checked as the file's values are, with
 * messages that name the --set), jobs made of --step alone, `validate` making run's checks, and
 * standard input as an input (plain and gzip, a pipe and a file), byte-identical to a run over
 * the same file for any worker count and partition size.
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

#define TYPED TEST_PLUGIN_DIR "/typed.so"
#define TAGGER TEST_PLUGIN_DIR "/tagger.so"

/* in.csv (three fields a line) and job.yaml: cut fields 2 of it, then upper, to out.txt. */
static void
make_job(void)
{
    tu_sh(0, "printf 'a,b,c\\nd,e,f\\ng,h,i\\n' > in.csv");
    tu_write_job("job.yaml", "input:\n  path: in.csv\noutput:\n  path: out.txt\nsteps:\n"
                             "  - plugin: cut\n    options:\n      fields: 2\n"
                             "      delimiter: \",\"\n  - plugin: upper\n");
}

/* Runs tranche ARGS expecting exit status rc, and that stderr holds `says` (when not NULL). */
static void
expect(int rc, const char *says, const char *args)
{
    char *err = NULL;
    int got = tu_tranche(&err, "%s", args);

    if (got != rc) {
        fail_msg("tranche %s: exit %d, expected %d; stderr:\n%s", args, got, rc,
                 err != NULL ? err : "");
    }
    if (says != NULL) {
        tu_assert_contains(err, says);
    }
    free(err);
}

/* tranche ARGS (which write the output to standard output) gives what the shell command
 * `reference` prints. */
static void
same_as(const char *args, const char *reference)
{
    char cmd[2048];

    snprintf(cmd, sizeof(cmd), "%s > got.out", args);
    expect(0, NULL, cmd);
    tu_sh(0, "%s | cmp - got.out", reference);
}

static void
test_cli__set_overrides_a_step_option_by_number_or_plugin_name(void **state)
{
    (void)state;
    make_job();
    same_as("run job.yaml -o - --set 1.fields=3", "cut -d, -f3 in.csv | tr a-z A-Z");
    same_as("run job.yaml -o - --set cut.fields=1", "cut -d, -f1 in.csv | tr a-z A-Z");
    /* A list, as a YAML flow value; the last --set of a key wins. */
    same_as("run job.yaml -o - --set 1.fields=2 --set 'cut.fields=[1,3]'",
            "cut -d, -f1,3 in.csv | tr a-z A-Z");
    /* An option the file did not set. */
    same_as("run job.yaml -o - --set 1.delimiter=b --set 1.fields=1",
            "cut -db -f1 in.csv | tr a-z A-Z");
}

static void
test_cli__set_overrides_any_key_of_the_job(void **state)
{
    (void)state;
    make_job();
    expect(0, NULL,
           "run job.yaml --set output.path=o.gz --set output.level=1 "
           "--set partition_size=4 --set workers=2");
    tu_sh(0, "[ ! -e out.txt ] && cut -d, -f2 in.csv | tr a-z A-Z > want && "
             "gzip -dc o.gz | cmp - want");
    /* Read as the file's value: compression none makes a .gz input plain bytes. */
    tu_sh(0, "gzip -c in.csv > in.csv.gz");
    expect(0, NULL,
           "run job.yaml --set input.path=in.csv.gz -o - --set 1.fields=1 "
           "--set input.compression=none > raw");
    tu_sh(0, "[ \"$(wc -c < raw)\" -gt 0 ] && ! grep -q '^A$' raw");
    same_as("run job.yaml --set input.path=in.csv.gz -o - --set 1.fields=1",
            "printf 'A\\nD\\nG\\n'");
}

/* Runs each of cases[][0] (tranche's arguments), expecting exit status rc and that stderr holds
 * cases[][1]. */
static void
expect_each(int rc, const char *const (*cases)[2], size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        expect(rc, cases[i][1], cases[i][0]);
    }
}

static void
test_cli__bad_sets_exit_2_naming_the_set(void **state)
{
    static const char *const refused[][2] = {
        {"run job.yaml --set output.level=10",
         "--set output.level=10: invalid output.level '10': expected an integer from 1 to 9"},
        {"run job.yaml --set workers=0", "--set workers=0: invalid workers '0'"},
        {"validate job.yaml --set partition_size=1XB",
         "--set partition_size=1XB: invalid partition_size"},
        {"run job.yaml --set input.compression=zip",
         "--set input.compression=zip: invalid input.compression 'zip'"},
        {"run job.yaml --set outptu.path=x",
         "--set outptu.path=x: unknown key 'outptu' in the top level; allowed: input"},
        {"run job.yaml --set output.lvl=1",
         "--set output.lvl=1: unknown key 'lvl' in output; allowed: path"},
        {"run job.yaml --set workers=2 --set workers.x=1",
         "--set workers.x=1: 'workers' is not a mapping, so it has no key 'x'"},
        {"run job.yaml --set workers.x=1",
         "--set workers.x=1: workers must be a positive integer or 'auto', got a mapping"},
        {"run job.yaml --set 3.fields=1",
         "--set 3.fields=1: there is no step 3: the job's steps are 1 cut, 2 upper"},
        {"run job.yaml --set 0.fields=1", "--set 0.fields=1: there is no step 0"},
        {"run job.yaml --set 1.nope=1",
         "--set 1.nope=1: step 1 (cut): plugin cut has no option 'nope'"},
        /* (no whole YAML list: taken as written, and no field list either) */
        {"run job.yaml --set '1.fields=[1,3'", "--set 1.fields=[1,3"},
        {"run job.yaml --set fields", "--set fields: expected KEY=VALUE"},
        {"run job.yaml --set =3", "--set =3: expected KEY=VALUE"},
        {"run job.yaml --set 1.fields=x", "--set 1.fields=x"},
        /* Two steps of one plugin: the name is ambiguous, and the message says which steps. */
        {"run two.yaml --set upper.x=1",
         "--set upper.x=1: 2 steps use plugin upper (the job's steps are 1 upper, 2 cut, 3 "
         "upper): name the step by its number instead, such as --set 1.x=..."},
    };

    (void)state;
    make_job();
    tu_write_job("two.yaml", "input:\n  path: in.csv\noutput:\n  path: out.txt\nsteps:\n"
                             "  - plugin: upper\n  - plugin: cut\n    options: {fields: 1}\n"
                             "  - plugin: upper\n");
    expect_each(2, refused, sizeof(refused) / sizeof(refused[0]));
    tu_sh(0, "[ ! -e out.txt ]");
}

static void
test_cli__set_values_are_typed_as_in_the_file(void **state)
{
    static const char *const refused[][2] = {
        {"validate typed.yaml --set 1.count=seven", "--set 1.count=seven: step 1 ("},
        {"validate typed.yaml --set 1.count=seven",
         "option 'count' of plugin typed must be an integer, not 'seven'"},
        {"validate typed.yaml --set 1.flag=maybe", "--set 1.flag=maybe: step 1 ("},
        {"validate typed.yaml --set 1.count=[1]", "--set 1.count=[1]: step 1 ("},
    };

    (void)state;
    tu_sh(0, "printf 'x\\n' > t.txt");
    tu_write_job("typed.yaml", "input:\n  path: t.txt\noutput:\n  path: t.out\nsteps:\n"
                               "  - plugin: " TYPED "\n    options: {count: 1}\n");
    expect(0, NULL, "validate typed.yaml --set 1.count=7 --set 1.flag=true --set '1.items=[a, b]'");
    expect_each(2, refused, sizeof(refused) / sizeof(refused[0]));
    /* A regex that begins with [ but is no whole YAML value is taken as written; one that is a
     * YAML list says how to quote it. */
    tu_sh(0, "printf 'ab12\\nCDE\\nxyz\\nq(\\n' > re.txt");
    tu_sh(0,
          "for p in '[0-9]+' '[[:upper:]]{3}' '[a-z]+\\('; do grep -E \"$p\" re.txt > re.ref && "
          "%s run --step grep --set \"pattern=$p\" --input re.txt | cmp - re.ref || exit 1; "
          "done",
          TRANCHE_BIN);
    expect(2, "is read as a YAML list: quote it",
           "run --step grep --set 'pattern=[abc]' --input re.txt");
}

static void
test_cli__a_job_from_steps_alone(void **state)
{
    /* Messages name the --step (and where it is on the command line). */
    static const char *const refused[][2] = {
        {"run --input s.csv --step cut",
         "--step cut (argument 4): step 1 (cut): plugin cut needs option 'fields'"},
        {"run --step nosuch --input s.csv",
         "--step nosuch (argument 2): step 1 (nosuch): plugin 'nosuch' not found"},
        {"run --step upper", "a job made with --step needs --input PATH"},
        {"run s.yaml --step upper", "--step upper makes a job without a job file"},
        {"run --input s.csv", "missing job file (JOB.yaml), or --step PLUGIN"},
        {"run --step upper --input nothere.csv",
         "--input nothere.csv: cannot open input nothere.csv"},
    };

    (void)state;
    tu_sh(0, "seq 1 3000 | sed 's/$/,x,y/' > s.csv");
    expect(0, NULL,
           "run --step cut --set fields=2,1 --set delimiter=, --step upper "
           "--input s.csv --output s.out --workers 3 --partition-size 1000");
    tu_sh(0, "cut -d, -f1,2 s.csv | tr a-z A-Z | cmp - s.out");
    /* Output to standard output when not given; STEP.OPTION works too. */
    same_as("run --step cut --set 1.fields=1 --set 1.delimiter=, --input s.csv",
            "cut -d, -f1 s.csv");
    expect(0, NULL, "plan --step upper --input s.csv -s 10000 > plan.txt");
    tu_sh(0, "[ \"$(wc -l < plan.txt)\" -gt 1 ]");
    expect(0, NULL, "validate --step upper --input s.csv > v.txt");
    tu_sh(0, "grep -q 'ok: 1 input file(s), 1 step(s): upper, output -' v.txt");
    expect_each(2, refused, sizeof(refused) / sizeof(refused[0]));
}

static void
test_cli__validate_makes_the_checks_run_makes(void **state)
{
    (void)state;
    make_job();
    /* Each of these run refuses before it runs; validate says the same, with the same code. */
    static const char *const cases[][2] = {
        {"--set output.path=in.csv", "is also input 1"},
        {"--set input.path=in2.csv --set partition_size=1", "into more than 100000 partitions"},
        {"--partition 99", "--partition 99: the plan has 1 partition(s)"},
        {"--set output.path=in.csv/x", "in.csv"},
        {"--set log_dir=in.csv", "in.csv"},
        {"--set output.path=/proc/tranche-x/y", "/proc, where no file can be made"},
    };
    size_t i;
    char args[512];

    tu_sh(0, "seq 1 200000 > in2.csv");
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(args, sizeof(args), "validate job.yaml %s", cases[i][0]);
        expect(2, cases[i][1], args);
        snprintf(args, sizeof(args), "run job.yaml %s", cases[i][0]);
        expect(2, cases[i][1], args);
    }
    tu_sh(0, "[ ! -e out.txt ]");
    /* A missing input is reported at its entry of input.path. */
    tu_write_job("miss.yaml", "input:\n  path:\n    - in.csv\n    - gone.csv\noutput:\n"
                              "  path: m.out\nsteps:\n  - plugin: upper\n");
    expect(2, "miss.yaml:4:7: cannot open input", "validate miss.yaml");
    expect(2, "miss.yaml:4:7: cannot open input", "run miss.yaml");
    expect(2, "--set input.path=gone.csv: cannot open input gone.csv",
           "validate job.yaml --set input.path=gone.csv");
}

/* The same job over standard input (a pipe, and a file behind it) and over the file: the same
 * bytes, for every worker count and partition size; gzip on standard input too. */
static void
test_cli__standard_input_matches_the_file(void **state)
{
    static const char *const sizes[] = {"1000", "777", "4KiB", "1MiB"};
    static const int workers[] = {1, 2, 4};
    size_t s, w;

    (void)state;
    tu_write_edge_input(tu_join(tu_dir, "edge.txt"), 300000, 1, 1);
    tu_sh(0, "gzip -c edge.txt > edge.gz && cat edge.gz edge.gz > edge2.gz && "
             "cat edge.txt edge.txt > edge2.txt");
    for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (w = 0; w < sizeof(workers) / sizeof(workers[0]); w++) {
            const char *size = sizes[s];
            char *err = NULL;

            if (!tu_thin()) {
                continue;
            }
            assert_int_equal(tu_tranche(&err,
                                        "run --step upper --input edge.txt -o file.out "
                                        "-w %d -s %s",
                                        workers[w], size),
                             0);
            free(err);
            tu_sh(0,
                  "cat edge.txt | %s run --step upper --input - -o pipe.out -w %d -s %s && "
                  "cmp file.out pipe.out && "
                  "%s run --step upper --input - -o - -w %d -s %s < edge.txt | cmp file.out - && "
                  "cat edge.gz | %s run --step upper --input - -o - -w %d -s %s | "
                  "cmp file.out - && "
                  "%s run --step upper --input - -o - -w %d -s %s < edge.gz | cmp file.out -",
                  TRANCHE_BIN, workers[w], size, TRANCHE_BIN, workers[w], size, TRANCHE_BIN,
                  workers[w], size, TRANCHE_BIN, workers[w], size);
        }
    }
    /* Several gzip members, and tr as reference (the last record gets its newline). */
    tu_sh(0,
          "cat edge2.gz | %s run --step upper --input - -o - -w 3 -s 2KiB > m.out && "
          "(tr a-z A-Z < edge2.txt; echo) | cmp - m.out",
          TRANCHE_BIN);
    /* In a list of inputs, between two files. */
    tu_write_job("mix.yaml", "input:\n  path: [edge.txt, \"-\", edge.txt]\n  allow_duplicates: "
                             "true\noutput:\n  path: mix.out\npartition_size: 5000\nsteps:\n"
                             "  - plugin: upper\n");
    tu_sh(0,
          "cat edge.txt | %s run mix.yaml -w 3 && for k in 1 2 3; do tr a-z A-Z < edge.txt; "
          "echo; done | cmp - mix.out",
          TRANCHE_BIN);
}

/* Random records (empty ones, ones longer than a partition, the delimiter a comma or a newline,
 * with or without a last delimiter), random worker counts and partition sizes: standard input
 * through a pipe gives what the file gives. */
static void
test_cli__standard_input_property(void **state)
{
    uint64_t seed = 20261201;
    int round;

    (void)state;
    for (round = 0; round < 6; round++) {
        size_t n = 20000 + tu_rand(&seed) % 200000, i = 0;
        char *data = malloc(n), delimiter = round % 2 ? ',' : '\n';
        const char *delimiter_arg = round % 2 ? "," : "\\n"; /* as config_parse_delimiter */
        unsigned workers = 1 + (unsigned)(tu_rand(&seed) % 4);
        unsigned size = 8 + (unsigned)(tu_rand(&seed) % 20000);
        char *err = NULL;

        assert_non_null(data);
        while (i < n) {
            size_t len = tu_rand(&seed) % 8 == 0 ? tu_rand(&seed) % 30000 : tu_rand(&seed) % 40;

            for (; len > 0 && i < n; len--) {
                data[i++] = (char)('a' + tu_rand(&seed) % 26);
            }
            if (i < n) {
                data[i++] = delimiter;
            }
        }
        tu_write_file(tu_join(tu_dir, "prop.txt"), data, n);
        free(data);
        if (tu_tranche(&err,
                       "run --step upper --input prop.txt -o prop.file -w %u -s %u "
                       "--set 'input.delimiter=%s'",
                       workers, size, delimiter_arg) != 0) {
            fail_msg("%s", err);
        }
        free(err);
        tu_sh(0,
              "cat prop.txt | %s run --step upper --input - -o prop.pipe -w %u -s %u "
              "--set 'input.delimiter=%s' && cmp prop.file prop.pipe && gzip -c prop.txt | "
              "%s run --step upper --input - -o - -w %u -s %u --set 'input.delimiter=%s' | "
              "cmp prop.file -",
              TRANCHE_BIN, workers, size, delimiter_arg, TRANCHE_BIN, workers, size, delimiter_arg);
    }
}

static void
test_cli__standard_input_is_named_as_the_job_names_it(void **state)
{
    (void)state;
    /* record_info's input_path is "-", as the job named it (messages say "standard input") */
    tu_sh(0,
          "printf 'a\\nbb\\n' | %s run --step " TAGGER " --input - | cut -f 1,3 > tag.out && "
          "printf -- '-\\t0\\n-\\t2\\n' | cmp - tag.out",
          TRANCHE_BIN);
}

static void
test_cli__standard_input_edges(void **state)
{
    char *err = NULL;

    (void)state;
    /* Empty; one record without a newline; no index written anywhere for it. */
    tu_sh(0,
          ": | %s run --step upper --input - -o - > e.out && [ ! -s e.out ] && "
          "printf 'ab' | %s run --step upper --input - -o - | cmp - /dev/stdin <<EOF\nAB\nEOF\n",
          TRANCHE_BIN, TRANCHE_BIN);
    /* gzip that is cut short, or followed by garbage, fails with the offset, as a file does. */
    tu_sh(0, "seq 1 50000 | gzip > g.gz && head -c 1000 g.gz > cut.gz && "
             "(cat g.gz; echo junk) > junk.gz");
    assert_int_equal(
        tu_run_here(&err, "cat cut.gz | %s run --step upper --input - -o x.out", TRANCHE_BIN), 1);
    tu_assert_contains(err, "standard input is truncated: it ends at compressed offset 1000");
    free(err);
    assert_int_equal(
        tu_run_here(&err, "cat junk.gz | %s run --step upper --input - -o x.out", TRANCHE_BIN), 1);
    tu_assert_contains(err, "standard input has garbage after its last gzip member");
    free(err);
    tu_sh(0, "[ ! -e x.out ]");
    /* Forced gzip on plain bytes. */
    assert_int_equal(tu_run_here(&err,
                                 "seq 3 | %s run --step upper --input - -o - "
                                 "--set input.compression=gzip",
                                 TRANCHE_BIN),
                     1);
    tu_assert_contains(err, "standard input is not gzip");
    free(err);
    /* Listed twice; planned as it is read. */
    expect(2, "standard input (-) is listed twice",
           "run --step upper --input - --set 'input.path=[\"-\", \"-\"]' < /dev/null");
    assert_int_equal(tu_run_here(&err, "seq 3 | %s plan --step upper --input -", TRANCHE_BIN), 0);
    tu_assert_contains(err, "standard input is planned as it is read");
    free(err);
    /* A job file's input.path: "-". */
    tu_write_job("dash.yaml", "input:\n  path: \"-\"\noutput:\n  path: dash.out\nsteps:\n"
                              "  - plugin: upper\n");
    tu_sh(0, "seq 1000 | %s run dash.yaml -w 2 -s 100 && seq 1000 | cmp - dash.out", TRANCHE_BIN);
    tu_sh(0, "[ -z \"$(find . -name '*tranche-index*')\" ]");
}

static void
test_cli__help_describes_the_command_line(void **state)
{
    char *err = NULL;

    (void)state;
    assert_int_equal(tu_run_here(&err, "%s run --help > help.txt", TRANCHE_BIN), 0);
    free(err);
    tu_sh(0, "grep -q -- '--set STEP.OPTION=VALUE' help.txt && grep -q -- '--step PLUGIN' "
             "help.txt && grep -q -- '--input -' help.txt");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli__set_overrides_a_step_option_by_number_or_plugin_name),
        cmocka_unit_test(test_cli__set_overrides_any_key_of_the_job),
        cmocka_unit_test(test_cli__bad_sets_exit_2_naming_the_set),
        cmocka_unit_test(test_cli__set_values_are_typed_as_in_the_file),
        cmocka_unit_test(test_cli__a_job_from_steps_alone),
        cmocka_unit_test(test_cli__validate_makes_the_checks_run_makes),
        cmocka_unit_test(test_cli__standard_input_matches_the_file),
        cmocka_unit_test(test_cli__standard_input_property),
        cmocka_unit_test(test_cli__standard_input_edges),
        cmocka_unit_test(test_cli__standard_input_is_named_as_the_job_names_it),
        cmocka_unit_test(test_cli__help_describes_the_command_line),
    };

    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
