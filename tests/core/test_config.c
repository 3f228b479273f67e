/*
 * tests/core/test_config.c: tests core/config.c: a full job read field by field, path resolution
 * and glob order, and a table of malformed jobs each reported at its exact file:line:column.
 */
/* cmocka.h needs these before it. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "testutil.h"

/* Each test gets a fresh directory as its state; the job files and inputs live there. */
static int
setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = malloc(PATH_MAX);

    assert_non_null(dir);
    snprintf(dir, PATH_MAX, "%s/tranche-test-config-XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    *state = dir;
    return 0;
}

static int
teardown(void **state)
{
    tu_rmrf(*state);
    free(*state);
    return 0;
}

static void
make_dir(const char *dir, const char *name)
{
    assert_int_equal(mkdir(tu_join(dir, name), 0755), 0);
}

static void
touch(const char *dir, const char *name)
{
    tu_write_file(tu_join(dir, name), "x\n", 2);
}

/* Writes yaml to dir/job.yaml and returns that path (static storage). */
static const char *
write_job(const char *dir, const char *yaml)
{
    static char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/job.yaml", dir);
    tu_write_file(path, yaml, strlen(yaml));
    return path;
}

static void
test_config__full_job_every_field(void **state)
{
    const char *dir = *state;
    struct error err = {{0}};
    struct job job;
    const char *path;
    struct config_step *s;

    make_dir(dir, "logs");
    /* Created out of order, with neighbours the glob must not take. */
    touch(dir, "logs/2024-10.log");
    touch(dir, "logs/2024-02.log");
    touch(dir, "logs/2023-12.log");
    touch(dir, "logs/2024-01.log");
    touch(dir, "logs/2024-01.txt");
    path = write_job(dir, "# a job using every key\n"                          /* 1 */
                          "input:\n"                                           /* 2 */
                          "  path:\n"                                          /* 3 */
                          "    - logs/2024-*.log\n"                            /* 4 */
                          "    - /var/data/absolute.log\n"                     /* 5 */
                          "    - missing/plain.log\n"                          /* 6 */
                          "  delimiter: \"\\t\"\n"                             /* 7 */
                          "  compression: gzip\n"                              /* 8 */
                          "output:\n"                                          /* 9 */
                          "  path: out/result.log\n"                           /* 10 */
                          "  compression: none\n"                              /* 11 */
                          "  level: 6\n"                                       /* 12 */
                          "workers: 4\n"                                       /* 13 */
                          "partition_size: 1 MiB\n"                            /* 14 */
                          "log_dir: logs/run\n"                                /* 15 */
                          "steps:\n"                                           /* 16 */
                          "  - plugin: grep\n"                                 /* 17 */
                          "    options: { pattern: \" 404 \", fixed: true }\n" /* 18 */
                          "  - plugin: ./plugins/custom.so\n"                  /* 19 */
                          "    options:\n"                                     /* 20 */
                          "      fields: [1, 3, \"x y\"]\n"                    /* 21 */
                          "      empty: \"\"\n"                                /* 22 */
                          "      none: []\n"                                   /* 23 */
                          "  - plugin: upper\n");                              /* 24 */

    memset(&job, 0, sizeof(job));
    assert_int_equal(config_load(path, &job, &err), 0);

    assert_string_equal(job.file, path);
    assert_int_equal(job.n_inputs, 5);
    assert_string_equal(job.inputs[0], tu_join(dir, "logs/2024-01.log"));
    assert_string_equal(job.inputs[1], tu_join(dir, "logs/2024-02.log"));
    assert_string_equal(job.inputs[2], tu_join(dir, "logs/2024-10.log"));
    assert_string_equal(job.inputs[3], "/var/data/absolute.log");
    assert_string_equal(job.inputs[4], tu_join(dir, "missing/plain.log"));
    assert_int_equal(job.input_pos.line, 4);
    assert_int_equal(job.input_pos.column, 5);
    assert_int_equal(job.framing.delim[0], '\t');
    assert_int_equal(job.framing.delim_len, 1);

    assert_string_equal(job.output, tu_join(dir, "out/result.log"));
    assert_int_equal(job.output_pos.line, 10);
    assert_int_equal(job.output_pos.column, 9);
    assert_int_equal(job.workers, 4);
    assert_int_equal(job.partition_size, 1024 * 1024);
    assert_string_equal(job.log_dir, tu_join(dir, "logs/run"));

    assert_int_equal(job.n_steps, 3);
    s = &job.steps[0];
    assert_string_equal(s->plugin, "grep");
    assert_int_equal(s->pos.line, 17);
    assert_int_equal(s->pos.column, 5);
    assert_int_equal(s->n_options, 2);
    assert_string_equal(s->options[0].name, "pattern");
    assert_int_equal(s->options[0].pos.line, 18);
    assert_int_equal(s->options[0].pos.column, 16);
    assert_int_equal(s->options[0].value_pos.line, 18);
    assert_int_equal(s->options[0].value_pos.column, 25);
    assert_int_equal(s->options[0].is_list, 0);
    assert_int_equal(s->options[0].n_items, 1);
    assert_string_equal(s->options[0].items[0], " 404 ");
    assert_int_equal(s->options[0].item_pos[0].column, 25);
    assert_string_equal(s->options[1].name, "fixed");
    assert_int_equal(s->options[1].n_items, 1);
    assert_string_equal(s->options[1].items[0], "true");

    s = &job.steps[1];
    assert_string_equal(s->plugin, tu_join(dir, "./plugins/custom.so"));
    assert_int_equal(s->pos.line, 19);
    assert_int_equal(s->n_options, 3);
    assert_string_equal(s->options[0].name, "fields");
    assert_int_equal(s->options[0].is_list, 1);
    assert_int_equal(s->options[0].n_items, 3);
    assert_string_equal(s->options[0].items[0], "1");
    assert_string_equal(s->options[0].items[1], "3");
    assert_string_equal(s->options[0].items[2], "x y");
    assert_int_equal(s->options[0].value_pos.line, 21);
    assert_int_equal(s->options[0].value_pos.column, 15);
    assert_int_equal(s->options[0].item_pos[2].line, 21);
    assert_int_equal(s->options[0].item_pos[2].column, 22);
    assert_string_equal(s->options[1].name, "empty");
    assert_int_equal(s->options[1].is_list, 0);
    assert_int_equal(s->options[1].n_items, 1);
    assert_string_equal(s->options[1].items[0], "");
    assert_string_equal(s->options[2].name, "none");
    assert_int_equal(s->options[2].is_list, 1);
    assert_int_equal(s->options[2].n_items, 0);

    s = &job.steps[2];
    assert_string_equal(s->plugin, "upper");
    assert_int_equal(s->pos.line, 24);
    assert_int_equal(s->n_options, 0);
    assert_null(s->options);

    config_release(&job);
    assert_null(job.file);
    assert_null(job.inputs);
    assert_int_equal(job.n_steps, 0);
    config_release(&job); /* a released job is a zeroed one */
}

static void
test_config__minimal_job_gets_defaults(void **state)
{
    const char *dir = *state;
    struct error err = {{0}};
    struct job job;
    const char *path = write_job(dir, "input: {path: in.log}\n"
                                      "output: {path: \"-\"}\n"
                                      "steps: [{plugin: upper}]\n");

    assert_int_equal(config_load(path, &job, &err), 0);
    assert_int_equal(job.n_inputs, 1);
    assert_string_equal(job.inputs[0], tu_join(dir, "in.log"));
    assert_int_equal(job.input_pos.line, 1);
    assert_int_equal(job.input_pos.column, 15);
    assert_int_equal(job.framing.delim[0], '\n');
    assert_int_equal(job.framing.kind, TRANCHE_FORMAT_LINES);
    assert_string_equal(job.output, "-");
    assert_int_equal(job.workers, 0);
    assert_int_equal(job.partition_size, CONFIG_DEFAULT_PARTITION_SIZE);
    assert_int_equal(job.partition_size, 32 * 1024 * 1024);
    assert_null(job.log_dir);
    assert_int_equal(job.n_steps, 1);
    assert_string_equal(job.steps[0].plugin, "upper");
    config_release(&job);
}

/* An exec step: its command, env and cwd as options with their positions; a plugin step beside
 * it is unchanged. */
static void
test_config__exec_steps(void **state)
{
    const char *dir = *state;
    struct error err = {{0}};
    struct job job;
    const struct config_step *st;
    const char *path = write_job(dir, "input: {path: in.log}\n"
                                      "output: {path: out.log}\n"
                                      "steps:\n"
                                      "  - exec: [jq, -c, \"select(.a)\"]\n"
                                      "  - plugin: upper\n"
                                      "  - exec: \"awk '{print $1}'\"\n"
                                      "    env: {LC_ALL: C, EMPTY: }\n"
                                      "    cwd: scripts\n");

    assert_int_equal(config_load(path, &job, &err), 0);
    assert_int_equal(job.n_steps, 3);
    st = &job.steps[0];
    assert_true(st->exec);
    assert_string_equal(st->plugin, "exec");
    assert_int_equal(st->n_options, 1);
    assert_string_equal(st->options[0].name, "argv");
    assert_true(st->options[0].is_list);
    assert_int_equal(st->options[0].n_items, 3);
    assert_string_equal(st->options[0].items[2], "select(.a)");
    assert_int_equal(st->options[0].item_pos[0].line, 4);
    assert_int_equal(st->options[0].item_pos[0].column, 12);
    assert_false(job.steps[1].exec);
    assert_string_equal(job.steps[1].plugin, "upper");
    st = &job.steps[2];
    assert_true(st->exec);
    assert_int_equal(st->n_options, 3);
    assert_string_equal(st->options[0].name, "shell");
    assert_false(st->options[0].is_list);
    assert_string_equal(st->options[0].items[0], "awk '{print $1}'");
    assert_string_equal(st->options[1].name, "env");
    assert_int_equal(st->options[1].n_items, 2);
    assert_string_equal(st->options[1].items[0], "LC_ALL=C");
    assert_string_equal(st->options[1].items[1], "EMPTY=");
    assert_int_equal(st->options[1].item_pos[1].line, 7);
    assert_int_equal(st->options[1].item_pos[1].column, 22);
    assert_string_equal(st->options[2].name, "cwd");
    assert_string_equal(st->options[2].items[0], tu_join(dir, "scripts"));
    config_release(&job);
}

/* How a delimiter may be written in YAML, and the bytes it gives. */
static void
test_config__delimiter_spellings(void **state)
{
    static const struct {
        const char *yaml;
        const char *want;
        size_t want_len;
    } cases[] = {
        /* clang-format off */
        {"\"\\t\"", "\t", 1},  /* YAML's own escape, one byte */
        {"\"\\0\"", "\0", 1},  /* a NUL inside the scalar: length 1, strlen 0 */
        {"\"\\n\"", "\n", 1},
        {"\"\\x1f\"", "\x1f", 1},
        {"'\\t'", "\t", 1},    /* single-quoted: two characters, our escape */
        {"\\0", "\0", 1},      /* plain */
        {"\\r", "\r", 1},
        {"'\\\\'", "\\", 1},
        {"\"\\\\\"", "\\", 1}, /* YAML makes one backslash */
        {"\",\"", ",", 1},
        {"';'", ";", 1},
        {"x", "x", 1},
        {"1", "1", 1},
        {"\"\\r\\n\"", "\r\n", 2},   /* several bytes (P8) */
        {"'\\n\\n'", "\n\n", 2},
        {"\"\\0\\0\"", "\0\0", 2},
        {"'\\x1e\\n'", "\x1e\n", 2},
        {"aba", "aba", 3},
        {"'|||'", "|||", 3},
        {"0123456789abcdef", "0123456789abcdef", 16},
        /* clang-format on */
    };
    const char *dir = *state;
    char yaml[256];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct error err = {{0}};
        struct job job;

        snprintf(
            yaml, sizeof(yaml),
            "input:\n  path: in.log\n  delimiter: %s\noutput: {path: o}\nsteps: [{plugin: p}]\n",
            cases[i].yaml);
        if (config_load(write_job(dir, yaml), &job, &err) != 0) {
            fail_msg("delimiter %s: %s", cases[i].yaml, err.msg);
        }
        if (job.framing.delim_len != cases[i].want_len ||
            memcmp(job.framing.delim, cases[i].want, cases[i].want_len) != 0) {
            fail_msg("delimiter %s: got %zu bytes starting 0x%02x, want %zu", cases[i].yaml,
                     job.framing.delim_len, job.framing.delim[0], cases[i].want_len);
        }
        config_release(&job);
    }
}

/* Paths resolve against the job file's directory as the caller spelled it, relative or not. */
static void
test_config__relative_job_path(void **state)
{
    const char *dir = *state;
    char cwd[PATH_MAX];
    struct error err = {{0}};
    struct job job;
    const char *yaml = "input: {path: [data.log, \"*.in\"]}\n"
                       "output: {path: out/o.log}\n"
                       "log_dir: /abs/logs\n"
                       "steps: [{plugin: plugins/p.so}, {plugin: /opt/p.so}]\n";

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    make_dir(dir, "sub");
    touch(dir, "sub/b.in");
    touch(dir, "sub/a.in");
    touch(dir, "b.in");
    tu_write_file(tu_join(dir, "sub/job.yaml"), yaml, strlen(yaml));
    tu_write_file(tu_join(dir, "job.yaml"), yaml, strlen(yaml));
    assert_int_equal(chdir(dir), 0);

    assert_int_equal(config_load("sub/job.yaml", &job, &err), 0);
    assert_string_equal(job.file, "sub/job.yaml");
    assert_int_equal(job.n_inputs, 3);
    assert_string_equal(job.inputs[0], "sub/data.log");
    assert_string_equal(job.inputs[1], "sub/a.in");
    assert_string_equal(job.inputs[2], "sub/b.in");
    assert_string_equal(job.output, "sub/out/o.log");
    assert_string_equal(job.log_dir, "/abs/logs");
    assert_string_equal(job.steps[0].plugin, "sub/plugins/p.so");
    assert_string_equal(job.steps[1].plugin, "/opt/p.so");
    config_release(&job);

    assert_int_equal(config_load("job.yaml", &job, &err), 0);
    assert_int_equal(job.n_inputs, 2);
    assert_string_equal(job.inputs[0], "data.log");
    assert_string_equal(job.inputs[1], "b.in");
    assert_string_equal(job.output, "out/o.log");
    assert_string_equal(job.steps[0].plugin, "plugins/p.so");
    config_release(&job);

    assert_int_equal(chdir(cwd), 0);
}

/* The job's own directory is not a pattern, even when its name looks like one. */
static void
test_config__glob_in_directory_with_pattern_characters(void **state)
{
    const char *dir = *state;
    char sub[PATH_MAX];
    struct error err = {{0}};
    struct job job;
    const char *yaml = "input: {path: \"*.log\"}\noutput: {path: o}\nsteps: [{plugin: p}]\n";

    snprintf(sub, sizeof(sub), "%s/[ab]", dir);
    make_dir(dir, "[ab]");
    make_dir(dir, "a"); /* what "[ab]/ *.log" would match if the directory were not escaped */
    touch(dir, "a/wrong.log");
    touch(sub, "x2.log");
    touch(sub, "x1.log");
    tu_write_file(tu_join(sub, "job.yaml"), yaml, strlen(yaml));

    assert_int_equal(config_load(tu_join(sub, "job.yaml"), &job, &err), 0);
    assert_int_equal(job.n_inputs, 2);
    assert_string_equal(job.inputs[0], tu_join(sub, "x1.log"));
    assert_string_equal(job.inputs[1], tu_join(sub, "x2.log"));
    config_release(&job);
}

static void
test_config__unreadable_job_file(void **state)
{
    const char *dir = *state;
    struct error err = {{0}};
    struct job job;
    char want[PATH_MAX + 64];
    const char *missing = tu_join(dir, "nope.yaml");

    assert_int_equal(config_load(missing, &job, &err), -1);
    snprintf(want, sizeof(want), "%s: cannot read job file: No such file or directory", missing);
    assert_string_equal(err.msg, want);

    assert_int_equal(config_load(dir, &job, &err), -1);
    snprintf(want, sizeof(want), "%s: cannot read job file: Is a directory", dir);
    assert_string_equal(err.msg, want);
}

#define IN "input:\n  path: in.log\n"       /* lines 1-2 */
#define OUT "output:\n  path: out.log\n"    /* lines 3-4 */
#define STEPS "steps:\n  - plugin: upper\n" /* two lines */

struct bad_job {
    const char *yaml;
    const char *where;  /* "LINE:COLUMN" */
    const char *phrase; /* a part of the message after the position */
};

static const struct bad_job bad_jobs[] = {
    /* YAML itself */
    {"input: {path: a\noutput: x\n", "2:7", "YAML syntax error"},
    {IN "    x: 1\n", "3:6", "mapping values are not allowed"},
    {"input:\n\tpath: a\n", "2:1", "it is a tab, and YAML indents with spaces"},
    {"input:\n  path: a\n  \tx: 1\n", "3:3", "found a tab character that violates indentation"},
    {"input:\n  path: \"a\xff\"\n", "2:11", "cannot read the YAML text: invalid leading UTF-8"},
    {IN OUT "steps: *s\n", "5:8", "YAML aliases are not supported (*s)"},
    {"input: &in {path: a}\noutput: *in\n" STEPS, "2:9", "YAML aliases are not supported"},
    {IN OUT STEPS "---\nworkers: 2\n", "7:1", "a second YAML document"},
    /* the document */
    {"", "1:1", "the job file is empty"},
    {"# only a comment\n", "1:1", "the job file is empty"},
    {"- input\n- output\n", "1:1",
     "the job must be a mapping with input, output and steps, got a list"},
    {"hello\n", "1:1", "the job must be a mapping with input, output and steps, got 'hello'"},
    {"? [a]\n: 1\n", "1:3", "a key in the top level must be a string, got a list"},
    /* unknown and duplicate keys */
    {IN OUT "wokers: 2\n" STEPS, "5:1",
     "unknown key 'wokers' in the top level; allowed: input, output, workers, partition_size, "
     "log_dir, steps"},
    {IN "  delim: ','\n" OUT STEPS, "3:3",
     "unknown key 'delim' in input; allowed: path, delimiter, compression, allow_duplicates, "
     "index, format, quote, header"},
    {IN OUT "  level: 3\n  gzip: yes\n" STEPS, "6:3",
     "unknown key 'gzip' in output; allowed: path, compression, level"},
    {IN OUT "steps:\n  - plugin: upper\n    option: {a: 1}\n", "7:5",
     "unknown key 'option' in step 1; allowed: plugin, options, exec, env, cwd"},
    {IN OUT "<<: {workers: 2}\n" STEPS, "5:1", "unknown key '<<' in the top level"},
    {IN OUT "workers: 2\nworkers: 3\n" STEPS, "6:1",
     "duplicate key 'workers' in the top level (first at line 5, column 1)"},
    {IN "  path: again.log\n" OUT STEPS, "3:3", "duplicate key 'path' in input (first at line 2"},
    /* missing keys */
    {OUT STEPS, "1:1", "missing required key 'input'"},
    {"input:\n  delimiter: ','\n" OUT STEPS, "2:3", "missing required key 'input.path'"},
    {IN STEPS, "1:1", "missing required key 'output'"},
    {IN "output: {level: 3}\n" STEPS, "3:9", "missing required key 'output.path'"},
    {IN OUT, "1:1", "missing required key 'steps'"},
    {IN OUT "steps:\n  - plugin: upper\n  - options: {a: 1}\n", "7:5",
     "missing required key 'plugin' (or 'exec', for a command) in step 2"},
    /* wrong types */
    {"input: in.log\n" OUT STEPS, "1:8", "input must be a mapping with a 'path' key, got 'in.log'"},
    {"input:\n" OUT STEPS, "1:7", "input must be a mapping with a 'path' key, got an empty value"},
    {"input:\n  path: {a: 1}\n" OUT STEPS, "2:9",
     "input.path must be a path, a glob or a list of them, got a mapping"},
    {"input:\n  path: [a.log, [b.log]]\n" OUT STEPS, "2:17",
     "an input path must be a string, got a list"},
    {"input:\n  path: \"\"\n" OUT STEPS, "2:9", "an input path must not be empty"},
    {"input:\n  path: \"a\\0b\"\n" OUT STEPS, "2:9", "an input path must not contain a NUL byte"},
    {IN "output: [a]\n" STEPS, "3:9", "output must be a mapping with a 'path' key, got a list"},
    {IN "output:\n  path: ''\n" STEPS, "4:9", "output.path must not be empty"},
    {IN OUT "steps: foo\n", "5:8", "steps must be a list of steps, got 'foo'"},
    {IN OUT "steps:\n  - upper\n", "6:5",
     "step 1 must be a mapping with a 'plugin' or an 'exec' key, got 'upper'"},
    /* exec steps */
    {IN OUT "steps:\n  - plugin: upper\n    exec: cat\n", "7:5",
     "step 1 has both 'plugin' and 'exec': a step runs a plugin or a command, not both"},
    {IN OUT "steps:\n  - exec: cat\n    options: {a: 1}\n", "7:5",
     "an exec step takes no 'options' (step 1): its keys are exec, env and cwd"},
    {IN OUT "steps:\n  - exec: []\n", "6:11",
     "exec of step 1 is an empty list; expected the command and its arguments"},
    {IN OUT "steps:\n  - exec: {a: 1}\n", "6:11",
     "exec of step 1 must be a command line (run with /bin/sh -c) or a list of arguments, got a "
     "mapping"},
    {IN OUT "steps:\n  - exec: \"\"\n", "6:11", "exec must not be empty"},
    {IN OUT "steps:\n  - exec: [\"\", x]\n", "6:12", "the command of step 1 is empty"},
    {IN OUT "steps:\n  - exec: [cat, [x]]\n", "6:17",
     "option 'argv' of step 1 must be a scalar or a list of scalars, got a list inside it"},
    {IN OUT "steps:\n  - exec: cat\n    env: [A=1]\n", "7:10",
     "env of step 1 must be a mapping of NAME: value, got a list"},
    {IN OUT "steps:\n  - exec: cat\n    env: {\"A=B\": 1}\n", "7:11",
     "an environment variable's name must not contain '='"},
    {IN OUT "steps:\n  - exec: cat\n    env: {A: [1]}\n", "7:14",
     "the value of A in env of step 1 must be a string"},
    {IN OUT "steps:\n  - exec: cat\n    cwd: [a]\n", "7:10", "cwd must be a string, got a list"},
    {IN OUT "steps:\n  - plugin: upper\n    cwd: /tmp\n", "7:5",
     "'cwd' belongs to an exec step; step 1 runs a plugin"},
    {IN OUT "steps:\n  - plugin: [grep]\n", "6:13", "plugin must be a string, got a list"},
    {IN OUT "steps:\n  - plugin: \"\"\n", "6:13", "plugin must not be empty"},
    {IN OUT "steps:\n  - plugin: grep\n    options: [a]\n", "7:14",
     "options of step 1 must be a mapping, got a list"},
    {IN OUT "steps:\n  - plugin: grep\n    options:\n      a: {b: 1}\n", "8:10",
     "option 'a' of step 1 must be a scalar or a list of scalars, got a mapping"},
    {IN OUT "steps:\n  - plugin: grep\n    options:\n      a: [1, [2]]\n", "8:14",
     "option 'a' of step 1 must be a scalar or a list of scalars, got a list inside it"},
    {IN OUT "steps:\n  - plugin: p\n  - plugin: grep\n    options: {pattern: x, fixed: 1, "
            "pattern: y}\n",
     "8:37", "duplicate option 'pattern' in step 2 (first at line 8, column 15)"},
    {IN OUT "log_dir: [a]\n" STEPS, "5:10", "log_dir must be a string, got a list"},
    {IN OUT "log_dir:\n" STEPS, "5:9", "log_dir must not be empty"},
    /* workers */
    {IN OUT "workers: [1]\n" STEPS, "5:10",
     "workers must be a positive integer or 'auto', got a list"},
    {IN OUT "workers: 0\n" STEPS, "5:10",
     "invalid workers '0': expected a positive integer or 'auto'"},
    {IN OUT "workers: -2\n" STEPS, "5:10", "invalid workers '-2'"},
    {IN OUT "workers: two\n" STEPS, "5:10", "invalid workers 'two'"},
    {IN OUT "workers: 99999999999\n" STEPS, "5:10", "invalid workers '99999999999'"},
    /* partition_size */
    {IN OUT "partition_size: 0\n" STEPS, "5:17",
     "invalid partition_size '0': expected a positive size in bytes"},
    {IN OUT "partition_size: 12XB\n" STEPS, "5:17", "invalid partition_size '12XB'"},
    {IN OUT "partition_size: -5\n" STEPS, "5:17", "invalid partition_size '-5'"},
    {IN OUT "partition_size: 18446744073709551616\n" STEPS, "5:17",
     "invalid partition_size '18446744073709551616'"},
    {IN OUT "partition_size: 16777216 TiB\n" STEPS, "5:17",
     "invalid partition_size '16777216 TiB'"},
    {IN OUT "partition_size: 1.5M\n" STEPS, "5:17", "KiB, M, MB, MiB, G, GB, GiB, T, TB or TiB"},
    {IN OUT "partition_size: {a: 1}\n" STEPS, "5:17", "partition_size must be a positive size"},
    /* delimiter */
    {IN "  delimiter: '0123456789abcdefg'\n" OUT STEPS, "3:14",
     "invalid input.delimiter '0123456789abcdefg' (17 bytes): expected 1 to 16 bytes"},
    {IN "  delimiter: \"\"\n" OUT STEPS, "3:14", "input.delimiter must be 1 to 16 bytes"},
    {IN "  delimiter: '\\q'\n" OUT STEPS, "3:14", "invalid input.delimiter '\\\\q'"},
    {IN "  delimiter: '\\x4'\n" OUT STEPS, "3:14", "invalid input.delimiter '\\\\x4'"},
    /* format, quote, header */
    {IN "  format: tsv\n" OUT STEPS, "3:11",
     "invalid input.format 'tsv': expected lines, csv or fastq"},
    {IN "  format: csv\n  delimiter: ',,'\n" OUT STEPS, "4:14",
     "invalid input.delimiter ',,' (2 bytes): expected one byte"},
    {IN "  format: csv\n  delimiter: '\"'\n" OUT STEPS, "4:14",
     "the CSV field separator cannot be CR, LF or the quote"},
    {IN "  format: csv\n  quote: ''\n" OUT STEPS, "4:10", "input.quote must be one byte"},
    {IN "  quote: \"'\"\n" OUT STEPS, "3:10",
     "input.quote is for format: csv (this job's format is lines)"},
    {IN "  format: fastq\n  header: true\n" OUT STEPS, "4:11",
     "input.header is for format: csv (this job's format is fastq)"},
    {IN "  format: fastq\n  delimiter: ','\n" OUT STEPS, "4:14",
     "input.delimiter does not apply to format: fastq"},
    {IN "  format: csv\n  header: yes\n" OUT STEPS, "4:11",
     "invalid input.header 'yes': expected true or false"},
    /* inputs (a glob that matches nothing is not one: test_config__glob_matching_nothing) */
    {"input:\n  path: []\n" OUT STEPS, "2:9", "input.path is an empty list"},
    {IN "  allow_duplicates: yes\n" OUT STEPS, "3:21",
     "invalid input.allow_duplicates 'yes': expected true or false"},
    {IN "  allow_duplicates: [true]\n" OUT STEPS, "3:21",
     "input.allow_duplicates must be true or false, got a list"},
    {IN OUT "  fsync: maybe\n" STEPS, "5:10",
     "invalid output.fsync 'maybe': expected true or false"},
    {IN "  index: here\n" OUT STEPS, "3:10",
     "invalid input.index 'here': expected cache, beside or off"},
    /* the first mistake in the file is the one reported, a duplicate option too */
    {IN OUT "steps:\n  - plugin: grep\n    options: {a: 1, a: 2, b: {x: 1}}\n", "7:21",
     "duplicate option 'a' in step 1 (first at line 7, column 15)"},
    {IN OUT "steps:\n  - plugin: grep\n    options: {a: {x: 1}, b: 1, b: 2}\n", "7:18",
     "option 'a' of step 1 must be a scalar or a list of scalars, got a mapping"},
    {IN OUT "steps:\n  - plugin: grep\n    options: {b: 1, a: 1, c: 1, a: 2, b: 2}\n", "7:33",
     "duplicate option 'a' in step 1 (first at line 7, column 21)"},
    /* reserved keys are checked */
    {IN "  compression: bzip2\n" OUT STEPS, "3:16",
     "invalid input.compression 'bzip2': expected auto, none or gzip"},
    {IN OUT "  compression: zstd\n" STEPS, "5:16", "invalid output.compression 'zstd'"},
    {IN OUT "  level: 10\n" STEPS, "5:10",
     "invalid output.level '10': expected an integer from 1 to 9"},
    {IN OUT "  level: 0\n" STEPS, "5:10", "invalid output.level '0'"},
    /* what happens when a partition fails */
    {IN OUT "retries: -1\n" STEPS, "5:10",
     "invalid retries '-1': expected an integer from 0 to 100"},
    {IN OUT "retries: 101\n" STEPS, "5:10", "invalid retries '101'"},
    {IN OUT "retries: [1]\n" STEPS, "5:10", "retries must be an integer from 0 to 100, got a list"},
    {IN OUT "on_error: ignore\n" STEPS, "5:11",
     "invalid on_error 'ignore': expected 'fail' or 'skip'"},
    {IN OUT "max_skipped: 1.5\n" STEPS, "5:14", "invalid max_skipped '1.5'"},
    {IN OUT "max_skipped: -3\n" STEPS, "5:14", "invalid max_skipped '-3'"},
    {IN OUT "max_skipped: 101%\n" STEPS, "5:14", "invalid max_skipped '101%'"},
    {IN OUT "partition_timeout: 10 minutes\n" STEPS, "5:20",
     "invalid partition_timeout '10 minutes': expected a positive duration such as 10m"},
    {IN OUT "record_timeout: 0s\n" STEPS, "5:17", "invalid record_timeout '0s'"},
    {IN OUT "record_timeout: -1s\n" STEPS, "5:17", "invalid record_timeout '-1s'"},
};

static void
test_config__malformed_jobs_report_position(void **state)
{
    const char *dir = *state;
    size_t i, failures = 0;
    struct job job, before;
    char prefix[PATH_MAX + 32];

    assert_true(sizeof(bad_jobs) / sizeof(bad_jobs[0]) >= 30);
    for (i = 0; i < sizeof(bad_jobs) / sizeof(bad_jobs[0]); i++) {
        const struct bad_job *b = &bad_jobs[i];
        const char *path = write_job(dir, b->yaml);
        struct error err = {{0}};
        int rc;

        /* The job is written only on success: a failure leaves it byte for byte as it was. */
        memset(&job, 0x5a, sizeof(job));
        memcpy(&before, &job, sizeof(job));
        rc = config_load(path, &job, &err);
        snprintf(prefix, sizeof(prefix), "%s:%s: ", path, b->where);
        if (rc != -1 || strncmp(err.msg, prefix, strlen(prefix)) != 0 ||
            strstr(err.msg + strlen(prefix), b->phrase) == NULL ||
            memcmp(&job, &before, sizeof(job)) != 0) {
            print_error("case %zu: rc %d, message\n  %s\nwant %s...%s\n", i, rc, err.msg, b->where,
                        b->phrase);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

static void
test_config__parse_size(void **state)
{
    static const struct {
        const char *text;
        uint64_t want;
    } good[] = {
        {"1", 1},
        {"33554432", 32ull << 20},
        {"512B", 512},
        {"512 b", 512},
        {"1K", 1024},
        {"1kb", 1024},
        {"1 KiB", 1024},
        {"3M", 3ull << 20},
        {"32MiB", 32ull << 20},
        {"32 mb", 32ull << 20},
        {"2G", 2ull << 30},
        {"2GB", 2ull << 30},
        {"2gib", 2ull << 30},
        {"1T", 1ull << 40},
        {"1 TB", 1ull << 40},
        {"16777215TiB", 16777215ull << 40},
        {"007", 7},
        {"18446744073709551615", UINT64_MAX},
    };
    static const char *const bad[] = {"",
                                      "0",
                                      "0K",
                                      "-5",
                                      "+5",
                                      " 5",
                                      "5 ",
                                      "5  K",
                                      "12XB",
                                      "1.5M",
                                      "K",
                                      "1 KiBB",
                                      "1KK",
                                      "18446744073709551616",
                                      "16777216T",
                                      "99999999999999999999999",
                                      "17179869184G",
                                      "1e3",
                                      "0x10"};
    uint64_t got;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        got = 0;
        if (config_parse_size(good[i].text, &got) != 0 || got != good[i].want) {
            fail_msg("size '%s': got %llu", good[i].text, (unsigned long long)got);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        got = 12345;
        if (config_parse_size(bad[i], &got) != -1 || got != 12345) {
            fail_msg("size '%s' was accepted as %llu", bad[i], (unsigned long long)got);
        }
    }
    assert_int_equal(config_parse_size(NULL, &got), -1);
}

static void
test_config__parse_delimiter(void **state)
{
    static const struct {
        const char *text;
        const char *want;
        size_t want_len;
    } good[] = {
        {"\n", "\n", 1},       {",", ",", 1},
        {"\\n", "\n", 1},      {"\\t", "\t", 1},
        {"\\r", "\r", 1},      {"\\0", "\0", 1},
        {"\\\\", "\\", 1},     {"n", "n", 1},
        {"\xff", "\xff", 1},   {"\\x41", "A", 1},
        {"\\n\\n", "\n\n", 2}, {"ab", "ab", 2},
        {"\\r\\n", "\r\n", 2}, {"\\xfF\\x00", "\xff\0", 2},
    };
    static const char *const bad[] = {"", "\\", "\\x", "\\x4", "\\xg0", "\\q", "0123456789abcdef0"};
    unsigned char got[FRAMING_MAX_DELIMITER];
    size_t i, n;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        n = 99;
        assert_int_equal(
            framing_parse_delimiter(good[i].text, strlen(good[i].text), got, sizeof(got), &n), 0);
        assert_int_equal(n, good[i].want_len);
        assert_memory_equal(got, good[i].want, n);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = 99;
        if (framing_parse_delimiter(bad[i], strlen(bad[i]), got, sizeof(got), &n) != -1 ||
            n != 99) {
            fail_msg("delimiter '%s' was accepted", bad[i]);
        }
    }
}

static void
test_config__parse_workers(void **state)
{
    static const struct {
        const char *text;
        int want;
    } good[] = {{"auto", 0}, {"1", 1}, {"16", 16}, {"08", 8}, {"2147483647", 2147483647}};
    static const char *const bad[] = {"",
                                      "0",
                                      "00",
                                      "-2",
                                      "+2",
                                      "two",
                                      "2 ",
                                      " 2",
                                      "2.0",
                                      "AUTO",
                                      "autox",
                                      "2147483648",
                                      "99999999999999999999"};
    int got;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        got = -7;
        assert_int_equal(config_parse_workers(good[i].text, &got), 0);
        assert_int_equal(got, good[i].want);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        got = -7;
        if (config_parse_workers(bad[i], &got) != -1 || got != -7) {
            fail_msg("workers '%s' was accepted as %d", bad[i], got);
        }
    }
    assert_int_equal(config_parse_workers(NULL, &got), -1);
}

/* retries, on_error, max_skipped and the timeouts, given, and their defaults. */
static void
test_config__failure_keys(void **state)
{
    const char *dir = *state;
    struct error err = {{0}};
    struct job job;
    const char *path =
        write_job(dir, IN OUT "retries: 3\non_error: skip\nmax_skipped: 2%\n"
                              "partition_timeout: 1.5m\nrecord_timeout: 250ms\n" STEPS);

    assert_int_equal(config_load(path, &job, &err), 0);
    assert_int_equal(job.retries, 3);
    assert_int_equal(job.on_error_skip, 1);
    assert_true(job.max_skipped == UINT64_MAX);
    assert_true(job.max_skipped_fraction > 0.0199 && job.max_skipped_fraction < 0.0201);
    assert_int_equal(job.partition_timeout_ms, 90000);
    assert_int_equal(job.record_timeout_ms, 250);
    config_release(&job);
    path = write_job(dir, IN OUT "max_skipped: 0\non_error: fail\n" STEPS);
    assert_int_equal(config_load(path, &job, &err), 0);
    assert_int_equal(job.retries, 0);
    assert_int_equal(job.on_error_skip, 0);
    assert_int_equal(job.max_skipped, 0);
    assert_true(job.max_skipped_fraction < 0);
    assert_int_equal(job.partition_timeout_ms, 0);
    assert_int_equal(job.record_timeout_ms, 0);
    config_release(&job);
}

static void
test_config__parse_duration(void **state)
{
    static const struct {
        const char *text;
        uint64_t ms;
    } good[] = {{"10m", 600000}, {"30s", 30000},  {"30", 30000}, {"1.5s", 1500},
                {"250ms", 250},  {"2h", 7200000}, {"0.001", 1},  {"1ms", 1}};
    static const char *const bad[] = {"",    "s",    "0",  "0ms", "0.1ms", "-1s",   "+1s", " 1s",
                                      "1 s", "1sec", "1d", "inf", "nan",   "1e400", "1s ", "ms"};
    uint64_t ms;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ms = 0;
        assert_int_equal(config_parse_duration(good[i].text, &ms), 0);
        assert_int_equal(ms, good[i].ms);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (config_parse_duration(bad[i], &ms) != -1) {
            fail_msg("'%s' was taken as a duration", bad[i]);
        }
    }
}

static void
test_config__parse_max_skipped(void **state)
{
    uint64_t count;
    double fraction;

    (void)state;
    assert_int_equal(config_parse_max_skipped("0", &count, &fraction), 0);
    assert_true(count == 0 && fraction < 0);
    assert_int_equal(config_parse_max_skipped("1000", &count, &fraction), 0);
    assert_true(count == 1000 && fraction < 0);
    assert_int_equal(config_parse_max_skipped("0.25", &count, &fraction), 0);
    assert_true(count == UINT64_MAX && fraction == 0.25);
    assert_int_equal(config_parse_max_skipped("5%", &count, &fraction), 0);
    assert_true(count == UINT64_MAX && fraction > 0.0499 && fraction < 0.0501);
    assert_int_equal(config_parse_max_skipped("100%", &count, &fraction), 0);
    assert_true(fraction == 1.0);
    assert_int_equal(config_parse_max_skipped("1.0", &count, &fraction), -1);
    assert_int_equal(config_parse_max_skipped("-1", &count, &fraction), -1);
    assert_int_equal(config_parse_max_skipped("5%%", &count, &fraction), -1);
    assert_int_equal(config_parse_max_skipped("x", &count, &fraction), -1);
    assert_int_equal(config_parse_max_skipped("", &count, &fraction), -1);
}

static void
test_config__set_input_replaces_inputs(void **state)
{
    const char *dir = *state;
    char cwd[PATH_MAX];
    struct error err = {{0}};
    struct job job;
    const char *path = write_job(dir, "input: {path: [a, b, c]}\noutput: {path: o}\n"
                                      "steps: [{plugin: p}]\n");

    assert_int_equal(config_load(path, &job, &err), 0);
    assert_int_equal(job.n_inputs, 3);
    assert_int_equal(job.input_pos.line, 1);

    /* An absolute glob, expanded and sorted. */
    touch(dir, "z.gz");
    touch(dir, "m.gz");
    assert_int_equal(config_set_input(&job, tu_join(dir, "*.gz"), &err), 0);
    assert_int_equal(job.n_inputs, 2);
    assert_string_equal(job.inputs[0], tu_join(dir, "m.gz"));
    assert_string_equal(job.inputs[1], tu_join(dir, "z.gz"));
    assert_int_equal(job.input_pos.line, 0);
    assert_int_equal(job.input_pos.column, 0);

    /* Relative to the current directory, and kept relative. */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(config_set_input(&job, "?.gz", &err), 0);
    assert_int_equal(job.n_inputs, 2);
    assert_string_equal(job.inputs[0], "m.gz");
    assert_string_equal(job.inputs[1], "z.gz");

    /* A plain path is kept even when it does not exist: the runner reports it. */
    assert_int_equal(config_set_input(&job, "not/there.log", &err), 0);
    assert_int_equal(job.n_inputs, 1);
    assert_string_equal(job.inputs[0], "not/there.log");

    /* A glob matching nothing fails and leaves the inputs as they were. */
    assert_int_equal(config_set_input(&job, "*.nothing", &err), -1);
    assert_string_equal(err.msg, "--input *.nothing: no file matches");
    assert_int_equal(job.n_inputs, 1);
    assert_string_equal(job.inputs[0], "not/there.log");
    assert_int_equal(config_set_input(&job, "", &err), -1);
    assert_int_equal(job.n_inputs, 1);
    assert_int_equal(chdir(cwd), 0);

    config_release(&job);
}

/* A glob that matches nothing does not fail config_load: it is kept, with its position, for
 * inputs_open to report, so that --input can still replace the list. */
static void
test_config__glob_matching_nothing_is_kept_for_later(void **state)
{
    const char *dir = *state;
    struct error err = {{0}};
    struct job job;
    char want[PATH_MAX + 128];
    const char *path;

    touch(dir, "a.log");
    path = write_job(dir, "input:\n  path:\n    - a.log\n    - \"[xy].log\"\n    - b.log\n"
                          "output: {path: o}\nsteps: [{plugin: p}]\n");
    assert_int_equal(config_load(path, &job, &err), 0);
    snprintf(want, sizeof(want),
             "%s:4:7: no file matches the input glob '[xy].log' (and no file has that name)", path);
    assert_non_null(job.input_problem);
    assert_string_equal(job.input_problem, want);
    assert_int_equal(job.n_input_entries, 3); /* every entry was read and checked */

    /* --input replaces the list, and its problem. */
    assert_int_equal(config_set_input(&job, tu_join(dir, "a.log"), &err), 0);
    assert_null(job.input_problem);
    assert_int_equal(job.n_inputs, 1);
    assert_string_equal(job.inputs[0], tu_join(dir, "a.log"));
    config_release(&job);

    path = write_job(dir, "input:\n  path: nomatch-*.log\noutput: {path: o}\n"
                          "steps: [{plugin: p}]\n");
    assert_int_equal(config_load(path, &job, &err), 0);
    snprintf(want, sizeof(want), "%s:2:9: no file matches the input glob 'nomatch-*.log'", path);
    assert_non_null(job.input_problem);
    assert_memory_equal(job.input_problem, want, strlen(want));
    assert_int_equal(job.n_inputs, 0);
    config_release(&job);
    assert_null(job.input_problem);
}

/* A path that exists as written is that file, glob characters or not; otherwise it is a glob,
 * with glob(3)'s backslash escapes. */
static void
test_config__existing_path_is_not_a_glob(void **state)
{
    const char *dir = *state;
    struct error err = {{0}};
    struct job job;
    char cwd[PATH_MAX];
    const char *path;

    touch(dir, "report[1].txt");
    touch(dir, "report1.txt");
    touch(dir, "report2.txt");
    touch(dir, "a*b.log");
    touch(dir, "axb.log");
    path = write_job(dir, "input:\n  path:\n"
                          "    - report[1].txt\n"       /* exists: that file */
                          "    - report[2].txt\n"       /* does not: a glob, report2.txt */
                          "    - 'report\\[1\\].txt'\n" /* escaped: report[1].txt */
                          "    - a*b.log\n"             /* exists: that file, not axb.log */
                          "    - \"*x*.log\"\n"         /* a glob: axb.log */
                          "  allow_duplicates: true\n"
                          "output: {path: o}\nsteps: [{plugin: p}]\n");
    assert_int_equal(config_load(path, &job, &err), 0);
    assert_null(job.input_problem);
    assert_int_equal(job.n_inputs, 5);
    assert_string_equal(job.inputs[0], tu_join(dir, "report[1].txt"));
    assert_string_equal(job.inputs[1], tu_join(dir, "report2.txt"));
    assert_string_equal(job.inputs[2], tu_join(dir, "report[1].txt"));
    assert_string_equal(job.inputs[3], tu_join(dir, "a*b.log"));
    assert_string_equal(job.inputs[4], tu_join(dir, "axb.log"));
    assert_int_equal(job.allow_duplicates, 1);

    /* --input alike, relative to the current directory. */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(config_set_input(&job, "report[1].txt", &err), 0);
    assert_int_equal(job.n_inputs, 1);
    assert_string_equal(job.inputs[0], "report[1].txt");
    assert_int_equal(config_set_input(&job, "report[12].txt", &err), 0);
    assert_int_equal(job.n_inputs, 2);
    assert_string_equal(job.inputs[0], "report1.txt");
    assert_string_equal(job.inputs[1], "report2.txt");
    assert_int_equal(config_set_input(&job, "report\\[1\\].txt", &err), 0);
    assert_int_equal(job.n_inputs, 1);
    assert_string_equal(job.inputs[0], "report[1].txt");
    assert_int_equal(chdir(cwd), 0);
    config_release(&job);
}

/* Each input knows the entry it comes from (for messages about duplicates). */
static void
test_config__inputs_know_their_entry(void **state)
{
    const char *dir = *state;
    struct error err = {{0}};
    struct job job;
    const char *path;

    touch(dir, "b.log");
    touch(dir, "a.log");
    path = write_job(dir, "input:\n  path: [one.txt, \"*.log\", two.txt]\n"
                          "output: {path: o}\nsteps: [{plugin: p}]\n");
    assert_int_equal(config_load(path, &job, &err), 0);
    assert_int_equal(job.allow_duplicates, 0);
    assert_int_equal(job.n_input_entries, 3);
    assert_string_equal(job.input_entries[1].text, "*.log");
    assert_int_equal(job.input_entries[1].pos.line, 2);
    assert_int_equal(job.input_entries[1].pos.column, 19);
    assert_int_equal(job.input_entries[2].pos.column, 28);
    assert_int_equal(job.n_inputs, 4);
    assert_int_equal(job.input_entry[0], 0);
    assert_int_equal(job.input_entry[1], 1);
    assert_string_equal(job.inputs[1], tu_join(dir, "a.log"));
    assert_int_equal(job.input_entry[2], 1);
    assert_int_equal(job.input_entry[3], 2);

    assert_int_equal(config_set_input(&job, tu_join(dir, "*.log"), &err), 0);
    assert_int_equal(job.n_input_entries, 1);
    assert_int_equal(job.input_entries[0].pos.line, 0);
    assert_int_equal(job.input_entry[1], 0);
    config_release(&job);
}

/* Loads the job at path expecting a failure at "path:where: phrase...", within a second. */
static void
expect_refused_promptly(const char *path, const char *where, const char *phrase)
{
    struct error err = {{0}};
    struct timespec t0;
    struct job job;
    char prefix[PATH_MAX + 32];
    double took;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(config_load(path, &job, &err), -1);
    took = tu_seconds_since(&t0);
    snprintf(prefix, sizeof(prefix), "%s:%s: ", path, where);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || strstr(err.msg, phrase) == NULL) {
        fail_msg("got\n  %s\nwant %s...%s", err.msg, prefix, phrase);
    }
    if (took > 10.0) { /* a guard against the quadratic cases (26 s and more), not a speed test */
        fail_msg("took %.2f s to refuse %s", took, path);
    }
}

/* A string of n copies of c (malloc'd). */
static char *
repeat(char c, size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* Depth: refused at the first mapping or list past CONFIG_MAX_DEPTH, without reading the rest
 * (150,000 levels took libyaml over a minute). */
static void
test_config__nesting_is_bounded(void **state)
{
    const char *dir = *state;
    char *open = repeat('[', 150000), *close = repeat(']', 150000);
    char *yaml = malloc(2 * 150000 + 256);
    char where[32];
    struct error err = {{0}};
    struct job job;
    int depth;

    assert_non_null(yaml);
    /* The top level is one level: CONFIG_MAX_DEPTH - 1 lists inside it are allowed. */
    for (depth = CONFIG_MAX_DEPTH - 1; depth <= CONFIG_MAX_DEPTH; depth++) {
        sprintf(yaml, IN OUT STEPS "x: %.*s1%.*s\n", depth, open, depth, close);
        if (depth < CONFIG_MAX_DEPTH) {
            assert_int_equal(config_load(write_job(dir, yaml), &job, &err), -1);
            assert_non_null(strstr(err.msg, ":7:1: unknown key 'x' in the top level"));
        } else {
            snprintf(where, sizeof(where), "7:%d", 3 + depth);
            expect_refused_promptly(write_job(dir, yaml), where,
                                    "nested deeper than 64 levels, the most a job file may nest");
        }
    }
    sprintf(yaml, "%s", open);
    expect_refused_promptly(write_job(dir, yaml), "1:65", "nested deeper than 64 levels");
    sprintf(yaml, "a: %.*s1%.*s\n", 150000 - 200, open, 150000 - 200, close);
    expect_refused_promptly(write_job(dir, yaml), "1:67", "nested deeper than 64 levels");
    /* Block mappings, each one deeper than the one before. */
    yaml[0] = '\0';
    for (depth = 0; depth < 100; depth++) {
        sprintf(yaml + strlen(yaml), "%*sk%d:\n", depth, "", depth);
    }
    expect_refused_promptly(write_job(dir, yaml), "65:65", "nested deeper than 64 levels");
    free(open);
    free(close);
    free(yaml);
}

/* Size: a job file is at most CONFIG_MAX_FILE_SIZE bytes, refused where it passes that. */
static void
test_config__size_is_bounded(void **state)
{
    const char *dir = *state;
    const char *job_text = IN OUT STEPS;
    size_t head = strlen(job_text), max = CONFIG_MAX_FILE_SIZE;
    char *yaml = malloc(2 * max);
    struct error err = {{0}};
    struct job job;
    char where[32];

    assert_non_null(yaml);
    /* Exactly the limit: a job padded with a comment line. */
    memcpy(yaml, job_text, head);
    memset(yaml + head, '#', max - head - 1);
    yaml[max - 1] = '\n';
    tu_write_file(tu_join(dir, "max.yaml"), yaml, max);
    assert_int_equal(config_load(tu_join(dir, "max.yaml"), &job, &err), 0);
    config_release(&job);
    /* One byte more: refused at that byte (line 7, after the comment's first max - head - 1). */
    memset(yaml + head, '#', max - head);
    yaml[max] = '\n';
    tu_write_file(tu_join(dir, "over.yaml"), yaml, max + 1);
    snprintf(where, sizeof(where), "7:%zu", max - head + 1);
    expect_refused_promptly(tu_join(dir, "over.yaml"), where,
                            "the job file is larger than 1 MiB, the most a job file may be");
    /* Far more, and on one line of nothing but YAML flow. */
    memset(yaml, '[', 2 * max);
    tu_write_file(tu_join(dir, "huge.yaml"), yaml, 2 * max);
    expect_refused_promptly(tu_join(dir, "huge.yaml"), "1:1048577", "larger than 1 MiB");
    free(yaml);
}

/* Duplicate options among many thousand are found in n log n (pairwise took minutes). */
static void
test_config__many_options_are_checked_promptly(void **state)
{
    const char *dir = *state;
    size_t n = 80000, len = 0, i, column;
    char *yaml = malloc(n * 16 + 256);
    char where[32];

    assert_non_null(yaml);
    len += (size_t)sprintf(yaml, IN OUT "steps:\n  - plugin: p\n    options: {");
    for (i = 0; i < n; i++) {
        len += (size_t)sprintf(yaml + len, "o%zu: 1, ", i);
    }
    column = len - strlen(IN OUT "steps:\n  - plugin: p\n") + 1;
    len += (size_t)sprintf(yaml + len, "o77: 2}\n");
    snprintf(where, sizeof(where), "7:%zu", column);
    expect_refused_promptly(write_job(dir, yaml), where,
                            "duplicate option 'o77' in step 1 (first at line 7, column ");
    free(yaml);
}

/* Sets, as cmd_run.c gives them: each KEY=VALUE with its place on the command line. */
static struct config_cli
cli_of(struct config_arg *sets, size_t n_sets)
{
    struct config_cli cli;

    memset(&cli, 0, sizeof(cli));
    cli.sets = sets;
    cli.n_sets = n_sets;
    return cli;
}

static const struct config_option *
option_named(const struct config_step *step, const char *name)
{
    size_t i;

    for (i = 0; i < step->n_options; i++) {
        if (strcmp(step->options[i].name, name) == 0) {
            return &step->options[i];
        }
    }
    fail_msg("no option %s", name);
    return NULL;
}

static void
test_config__set_overrides_keys_and_step_options(void **state)
{
    const char *dir = *state;
    struct config_arg sets[] = {
        {"output.level=3", 3, 0},          {"workers=7", 5, 0},
        {"partition_size=1MiB", 7, 0},     {"input.compression=none", 9, 0},
        {"2.fields=[1, 3]", 11, 0},        {"grep.pattern=first", 13, 0},
        {"grep.pattern=last wins", 15, 0}, {"output.path=sub/o.txt", 17, 0},
        {"log_dir=logs", 19, 0},
    };
    struct config_cli cli = cli_of(sets, sizeof(sets) / sizeof(sets[0]));
    struct error err = {{0}};
    struct job job;
    const struct config_option *o;
    char where[256];
    const char *path = write_job(dir, "input:\n  path: in.txt\noutput:\n  path: out.txt\n"
                                      "  level: 9\nsteps:\n  - plugin: grep\n"
                                      "    options: {pattern: x}\n  - plugin: ./p/cut.so\n");

    memset(&job, 0, sizeof(job));
    if (config_load_cli(path, &cli, &job, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(job.output_level, 3);
    assert_int_equal(job.workers, 7);
    assert_int_equal(job.partition_size, 1u << 20);
    assert_int_equal(job.input_compression, CONFIG_COMPRESSION_NONE);
    /* Paths from the command line are relative to the current directory, the file's to its. */
    assert_string_equal(job.output, "sub/o.txt");
    assert_string_equal(job.log_dir, "logs");
    assert_string_equal(job.inputs[0], tu_join(dir, "in.txt"));
    o = option_named(&job.steps[0], "pattern");
    assert_int_equal(o->n_items, 1);
    assert_string_equal(o->items[0], "last wins");
    assert_string_equal(config_where(&job, o->value_pos, where, sizeof(where)),
                        "--set grep.pattern=last wins");
    /* The key stays the file's; a key the file did not have is the --set's. */
    assert_int_equal(o->pos.line, 8);
    o = option_named(&job.steps[1], "fields");
    assert_true(o->is_list);
    assert_int_equal(o->n_items, 2);
    assert_string_equal(o->items[1], "3");
    assert_true(o->pos.line < 0);
    assert_string_equal(config_where(&job, o->pos, where, sizeof(where)), "--set 2.fields=[1, 3]");
    assert_string_equal(config_where(&job, job.steps[1].pos, where, sizeof(where)),
                        tu_join(dir, "job.yaml:9:5"));
    /* A message built with a command-line position as a file position names the argument. */
    snprintf(err.msg, sizeof(err.msg), "%s:%d:%d: step 2: bad", job.file, o->value_pos.line,
             o->value_pos.column);
    config_explain(&job, &err);
    assert_string_equal(err.msg, "--set 2.fields=[1, 3]: step 2: bad");
    config_release(&job);
}

static void
test_config__bad_sets_name_the_set(void **state)
{
    static const struct {
        const char *set;
        const char *message;
    } cases[] = {
        {"output.level=0", "--set output.level=0: invalid output.level '0'"},
        {"output.levl=1", "--set output.levl=1: unknown key 'levl' in output; allowed:"},
        {"nokey=1", "--set nokey=1: unknown key 'nokey' of the job (its keys: input, output, "
                    "workers, partition_size, log_dir, steps, retries, on_error, max_skipped, "
                    "partition_timeout, record_timeout); an option of a step is "
                    "STEP.OPTION, such as --set 1.nokey=1"},
        {"nokey.x=1", "--set nokey.x=1: unknown key 'nokey' in the top level"},
        {"workers=", "--set workers=: workers must be a positive integer or 'auto', got an empty "
                     "value"},
        {"noequals", "--set noequals: expected KEY=VALUE"},
        {"output..level=1", "--set output..level=1: a key is empty"},
        {"output.=1", "--set output.=1: a key is empty"},
        {"output.path.x=1", "--set output.path.x=1: 'path' is not a mapping"},
        {"3.x=1", "--set 3.x=1: there is no step 3: the job's steps are 1 upper, 2 upper"},
        {"99999999999.x=1", "--set 99999999999.x=1: there is no step"},
        {"1.=1", "--set 1.=1: expected STEP.OPTION=VALUE"},
        {"upper.x=1", "--set upper.x=1: 2 steps use plugin upper"},
        {"1.x={a: 1}", "--set 1.x={a: 1}: option 'x' of step 1 must be a scalar or a list"},
        {"1.x=[[1]]", "--set 1.x=[[1]]: option 'x' of step 1 must be a scalar or a list of "
                      "scalars, got a list inside it"},
        {"1.x=[*a]", "--set 1.x=[*a]: at column 2 of the value: YAML aliases are not supported"},
        {"input.path=[]", "--set input.path=[]: input.path is an empty list"},
        {"steps=[]", "--set steps=[]: steps is an empty list"},
    };
    const char *dir = *state;
    const char *path = write_job(dir, "input:\n  path: in.txt\noutput:\n  path: out.txt\n"
                                      "steps:\n  - plugin: upper\n  - plugin: upper\n");
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config_arg set = {cases[i].set, 2, 0};
        struct config_cli cli = cli_of(&set, 1);
        struct error err = {{0}};
        struct job job;

        memset(&job, 0, sizeof(job));
        if (config_load_cli(path, &cli, &job, &err) == 0) {
            fail_msg("--set %s was accepted", cases[i].set);
        }
        if (strstr(err.msg, cases[i].message) != err.msg) {
            fail_msg("--set %s:\n  got:      %s\n  expected: %s...", cases[i].set, err.msg,
                     cases[i].message);
        }
    }
}

/* A job without a file: --step, --set after a step, --input, standard output by default. */
static void
test_config__a_job_from_the_command_line(void **state)
{
    struct config_arg steps[] = {{"cut", 2, 0}, {"x/upper.so", 6, 0}};
    struct config_arg sets[] = {{"fields=2", 4, 1}, {"2.fixed=yes", 8, 2}, {"workers=3", 10, 2}};
    struct config_cli cli = cli_of(sets, 3);
    struct error err = {{0}};
    struct job job;
    char where[256];

    (void)state;
    cli.steps = steps;
    cli.n_steps = 2;
    cli.input = "-";
    memset(&job, 0, sizeof(job));
    if (config_load_cli(NULL, &cli, &job, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    assert_string_equal(job.file, CONFIG_CLI_JOB);
    assert_int_equal(job.n_inputs, 1);
    assert_string_equal(job.inputs[0], "-");
    assert_string_equal(job.output, "-");
    assert_int_equal(job.n_steps, 2);
    assert_string_equal(job.steps[0].plugin, "cut");
    assert_string_equal(job.steps[1].plugin, "x/upper.so"); /* relative to here */
    assert_string_equal(job.steps[0].options[0].name, "fields");
    assert_string_equal(job.steps[1].options[0].name, "fixed");
    /* After a --step, a bare key is that step's option (workers too). */
    assert_string_equal(job.steps[1].options[1].name, "workers");
    assert_int_equal(job.workers, 0);
    assert_string_equal(config_where(&job, job.steps[1].pos, where, sizeof(where)),
                        "--step x/upper.so (argument 6)");
    config_release(&job);

    /* No steps: said as the command line's. */
    cli.n_steps = 0;
    cli.n_sets = 0;
    assert_int_equal(config_load_cli(NULL, &cli, &job, &err), -1);
    assert_string_equal(err.msg, "the command line: missing required key 'steps' (or 'aggregate')");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config__full_job_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__minimal_job_gets_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__exec_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__delimiter_spellings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__relative_job_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__glob_in_directory_with_pattern_characters,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__unreadable_job_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__malformed_jobs_report_position, setup,
                                        teardown),
        cmocka_unit_test(test_config__parse_size),
        cmocka_unit_test(test_config__parse_delimiter),
        cmocka_unit_test(test_config__parse_workers),
        cmocka_unit_test(test_config__parse_duration),
        cmocka_unit_test(test_config__parse_max_skipped),
        cmocka_unit_test_setup_teardown(test_config__failure_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__set_input_replaces_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__glob_matching_nothing_is_kept_for_later, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config__existing_path_is_not_a_glob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__inputs_know_their_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__set_overrides_keys_and_step_options, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config__bad_sets_name_the_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__a_job_from_the_command_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__nesting_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__size_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__many_options_are_checked_promptly, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
