/*
 * tests/core/test_loader.c: the loader on real shared objects (the bundled plugins and the
 * fixtures in tests/plugins/): the search path, the ABI checks, and option validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "loader.h"
#include "testutil.h"

static void
test_loader__finds_bundled_by_name_and_path_var_first(void **state)
{
    struct error err;
    char *path = NULL;

    (void)state;
    unsetenv("TRANCHE_PLUGIN_PATH");
    setenv("TRANCHE_PLUGIN_PATH", BUNDLED_PLUGIN_DIR, 1);
    assert_int_equal(plugin_find("upper", &path, &err), 0);
    assert_string_equal(path, BUNDLED_PLUGIN_DIR "/upper.so");
    free(path);
    /* TRANCHE_PLUGIN_PATH is searched first, in order, empty entries skipped */
    setenv("TRANCHE_PLUGIN_PATH", "::" TEST_PLUGIN_DIR ":" BUNDLED_PLUGIN_DIR, 1);
    assert_int_equal(plugin_find("typed", &path, &err), 0);
    assert_string_equal(path, TEST_PLUGIN_DIR "/typed.so");
    free(path);
    assert_int_equal(plugin_find("nope", &path, &err), -1);
    tu_assert_contains(err.msg, "plugin 'nope' not found");
    tu_assert_contains(err.msg, TEST_PLUGIN_DIR);
    /* a name with '/' is a path, used as is */
    assert_int_equal(plugin_find("./missing/x.so", &path, &err), -1);
    tu_assert_contains(err.msg, "./missing/x.so");
    unsetenv("TRANCHE_PLUGIN_PATH");
}

static void
test_loader__abi_checks(void **state)
{
    static const struct {
        const char *file;
        const char *expect;
    } cases[] = {
        {TEST_PLUGIN_DIR "/bad_major.so", "built for plugin ABI 2.0, this tranche speaks ABI 1.3"},
        {TEST_PLUGIN_DIR "/new_minor.so",
         "needs plugin ABI 1.4, newer than this tranche's ABI 1.3"},
        {TEST_PLUGIN_DIR "/small_size.so", "has a descriptor of 8 bytes"},
        {TEST_PLUGIN_DIR "/no_symbol.so", "exports no 'tranche_plugin' symbol (define it with "
                                          "TRANCHE_PLUGIN"},
        {TEST_PLUGIN_DIR "/no_abi.so", "add TRANCHE_PLUGIN_ABI"},
        {TEST_PLUGIN_DIR "/cxx_no_extern.so", "it looks like C++"},
        {TEST_PLUGIN_DIR "/badtable_1.so", "option 'fine' is listed twice"},
        {TEST_PLUGIN_DIR "/badtable_3.so", "option 'needed' is required and has a default"},
        {SOURCE_DIR "/README.md", "cannot load plugin"},
    };
    struct plugin *p = NULL;
    struct error err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(plugin_load(cases[i].file, &p, &err), -1);
        assert_null(p);
        tu_assert_contains(err.msg, cases[i].file);
        tu_assert_contains(err.msg, cases[i].expect);
    }
    assert_int_equal(plugin_load(BUNDLED_PLUGIN_DIR "/grep.so", &p, &err), 0);
    assert_string_equal(p->desc->name, "grep");
    plugin_free(p);
    plugin_free(NULL);
}

/* Loads a job whose single step is `step` and returns steps_load's result. */
static int
load_step(const char *dir, const char *step, struct step **steps, struct job *job,
          struct error *err)
{
    char path[1024], body[2048];

    snprintf(path, sizeof(path), "%s/job.yaml", dir);
    snprintf(body, sizeof(body), "input:\n  path: job.yaml\noutput:\n  path: out\nsteps:\n%s",
             step);
    tu_write_file(path, body, strlen(body));
    memset(job, 0, sizeof(*job));
    assert_int_equal(config_load(path, job, err), 0);
    return steps_load(job, steps, err);
}

static void
test_loader__options_validated_with_defaults(void **state)
{
    char *dir = tu_mkdtemp();
    struct step *steps = NULL;
    struct job job;
    struct error err;
    const struct step_option *o;

    (void)state;
    assert_int_equal(load_step(dir,
                               "  - plugin: " TEST_PLUGIN_DIR "/typed.so\n"
                               "    options: { count: -12, items: [a, \"b c\"] }\n",
                               &steps, &job, &err),
                     0);
    o = step_option_find(&steps[0], "count");
    assert_true(o->set);
    assert_int_equal(o->int_value, -12);
    o = step_option_find(&steps[0], "flag");
    assert_true(o->set); /* its default */
    assert_int_equal(o->bool_value, 0);
    o = step_option_find(&steps[0], "name");
    assert_string_equal(o->items[0], "x");
    o = step_option_find(&steps[0], "items");
    assert_int_equal(o->n_items, 2);
    assert_string_equal(o->items[1], "b c");
    assert_null(step_option_find(&steps[0], "nope"));
    assert_string_equal(steps[0].label, "step 1 (" TEST_PLUGIN_DIR "/typed.so)");
    steps_free(steps, job.n_steps);
    config_release(&job);

    assert_int_equal(load_step(dir,
                               "  - plugin: " TEST_PLUGIN_DIR "/typed.so\n"
                               "    options: { count: 1, flag: yes, name: [x] }\n",
                               &steps, &job, &err),
                     -1);
    tu_assert_contains(err.msg, "job.yaml:7:43: step 1");
    tu_assert_contains(err.msg, "option 'name' of plugin typed must be a string, not a list");
    config_release(&job);

    /* (summary has no options; upper has fields and delimiter since P5) */
    assert_int_equal(load_step(dir,
                               "  - plugin: " TEST_PLUGIN_DIR "/summary.so\n"
                               "    options: { x: 1 }\n",
                               &steps, &job, &err),
                     -1);
    tu_assert_contains(err.msg, "job.yaml:7:16: step 1 (" TEST_PLUGIN_DIR "/summary.so): plugin "
                                "summary has no option 'x'; it takes no options");
    config_release(&job);
    tu_rmrf(dir);
    free(dir);
}

/* A LIST default lists several items; a null value leaves an option to its default; a given
 * value keeps its position for init()'s option_error. */
static void
test_loader__list_defaults_nulls_and_value_positions(void **state)
{
    char *dir = tu_mkdtemp();
    struct step *steps = NULL;
    struct job job;
    struct error err;
    const struct step_option *o;

    (void)state;
    assert_int_equal(load_step(dir,
                               "  - plugin: " TEST_PLUGIN_DIR "/checker.so\n"
                               "    options:\n      pattern: ~\n      marker:   here\n",
                               &steps, &job, &err),
                     0);
    o = step_option_find(&steps[0], "items");
    assert_int_equal(o->n_items, 3);
    assert_string_equal(o->items[0], "x");
    assert_string_equal(o->items[2], "z");
    assert_false(o->given);
    o = step_option_find(&steps[0], "pattern");
    assert_string_equal(o->items[0], "ok"); /* (the default: ~ gave no value) */
    assert_false(o->given);
    o = step_option_find(&steps[0], "marker");
    assert_true(o->given);
    assert_int_equal(o->value_pos.line, 9);
    assert_int_equal(o->value_pos.column, 17);
    assert_int_equal(o->item_pos[0].column, 17);
    assert_int_equal(steps[0].pos.line, 6);
    tu_assert_contains(steps[0].file, "job.yaml");
    steps_free(steps, job.n_steps);
    config_release(&job);
    tu_rmrf(dir);
    free(dir);
}

static void
test_loader__parse_bool(void **state)
{
    static const char *const yes[] = {"true", "True", "YES", "on", "1"};
    static const char *const no[] = {"false", "no", "Off", "0"};
    static const char *const bad[] = {"", "2", "truthy", "y", "nope"};
    size_t i;
    int v;

    (void)state;
    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        v = -1;
        assert_int_equal(plugin_parse_bool(yes[i], &v), 0);
        assert_int_equal(v, 1);
    }
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        v = -1;
        assert_int_equal(plugin_parse_bool(no[i], &v), 0);
        assert_int_equal(v, 0);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(plugin_parse_bool(bad[i], &v), -1);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loader__finds_bundled_by_name_and_path_var_first),
        cmocka_unit_test(test_loader__abi_checks),
        cmocka_unit_test(test_loader__options_validated_with_defaults),
        cmocka_unit_test(test_loader__list_defaults_nulls_and_value_positions),
        cmocka_unit_test(test_loader__parse_bool),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
