/*
 * tests/e2e/test_new.c: `tranche new NAME [DIR]` through the real CLI: what it refuses (exit 2,
 * saying why, writing nothing), what it writes, that a failure part-way leaves nothing, and that
 * the plugin it writes builds with nothing but the header and passes its sample job. Building
 * the project against an installed tranche with CMake is tests/sdk/sdk_test.sh's.
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

/* `tranche new ARGS` must exit 2 with a message holding `says`, and leave `dir` as it was (not
 * made when it did not exist). */
static void
refused(const char *args, const char *says, const char *dir)
{
    int existed = tu_exists(tu_join(tu_dir, dir));
    char *err = NULL;

    assert_int_equal(tu_tranche(&err, "new %s", args), 2);
    tu_assert_contains(err, says);
    free(err);
    assert_int_equal(tu_exists(tu_join(tu_dir, dir)), existed);
}

static void
test_new__refuses_a_name_that_is_not_a_c_identifier(void **state)
{
    (void)state;
    refused("9lives", "plugin name '9lives' is not a C identifier", "9lives");
    refused("my-plugin", "plugin name 'my-plugin' is not a C identifier", "my-plugin");
    refused("'a b' ab", "plugin name 'a b' is not a C identifier", "ab");
    refused("x.y", "plugin name 'x.y' is not a C identifier", "x.y");
    refused("'' empty", "the plugin name is empty", "empty");
    refused("p12345678901234567890123456789012345678901234567890123456789012345",
            "longer than 64 characters",
            "p12345678901234567890123456789012345678901234567890"
            "123456789012345");
}

static void
test_new__refuses_a_name_cmake_reserves(void **state)
{
    (void)state;
    refused("test", "plugin name 'test' is reserved by CMake", "test");
    refused("install", "plugin name 'install' is reserved by CMake", "install");
}

static void
test_new__refuses_the_name_of_a_plugin_tranche_finds(void **state)
{
    (void)state;
    refused("upper", "a plugin named 'upper' exists already (", "upper");
    refused("upper",
            "/lib/tranche/plugins/upper.so): installing another would replace or hide "
            "it; choose another name",
            "upper");
    tu_sh(0, "mkdir -p found && cp '%s/upper.so' found/mine.so", BUNDLED_PLUGIN_DIR);
    tu_sh(0,
          "TRANCHE_PLUGIN_PATH=found %s new mine 2>&1 | grep -q \"'mine' exists already "
          "(found/mine.so)\" && test ! -e mine",
          TRANCHE_BIN);
}

static void
test_new__refuses_a_directory_that_is_not_empty(void **state)
{
    char *keep;

    (void)state;
    tu_sh(0, "mkdir -p full && echo mine > full/keep && echo x > afile");
    refused("p full", "directory full is not empty", "full");
    keep = tu_read_file(tu_join(tu_dir, "full/keep"), NULL);
    assert_string_equal(keep, "mine\n");
    free(keep);
    assert_false(tu_exists(tu_join(tu_dir, "full/p.c")));
    refused("p afile", "afile exists and is not a directory", "afile");
    /* The default directory is ./NAME, refused the same way. */
    tu_sh(0, "mkdir -p taken && touch taken/.hidden");
    refused("taken", "directory taken is not empty", "taken");
}

static void
test_new__refuses_bad_usage(void **state)
{
    char *out;

    (void)state;
    refused("", "usage: tranche new NAME [DIR]", "");
    refused("a b c", "usage: tranche new NAME [DIR]", "c");
    refused("--force p", "unknown option '--force'", "p");
    tu_sh(0, "%s new --help > new-help.txt && %s help new | cmp - new-help.txt", TRANCHE_BIN,
          TRANCHE_BIN);
    out = tu_read_file(tu_join(tu_dir, "new-help.txt"), NULL);
    tu_assert_contains(out, "usage: tranche new NAME [DIR]");
    free(out);
    tu_sh(0, "%s --help | grep -q '^  new NAME \\[DIR\\]'", TRANCHE_BIN);
}

static void
test_new__writes_the_project_into_a_new_or_empty_directory(void **state)
{
    static const char *const files[] = {
        "CMakeLists.txt",   "README.md",           "sample/job.yaml",
        "sample/input.txt", "sample/expected.txt", "tests/sample.cmake",
    };
    char *err = NULL;

    (void)state;
    /* A directory and its missing parents are made; an empty one is used. */
    assert_int_equal(tu_tranche(&err, "new made deep/er/made > made.out"), 0);
    free(err);
    tu_sh(0, "grep -q \"wrote the plugin project 'made' in deep/er/made/\" made.out");
    assert_true(tu_exists(tu_join(tu_dir, "deep/er/made/made.c")));
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[256];

        snprintf(path, sizeof(path), "deep/er/made/%s", files[i]);
        assert_true(tu_exists(tu_join(tu_dir, path)));
    }
    tu_sh(0, "grep -q 'find_package(tranche' deep/er/made/CMakeLists.txt && "
             "grep -q 'tranche_add_plugin(made SOURCES made.c)' deep/er/made/CMakeLists.txt");
    tu_sh(0, "mkdir -p empty && %s new e_1 empty > /dev/null && test -f empty/e_1.c", TRANCHE_BIN);
    /* Written once: a second time, the directory is no longer empty. */
    refused("e_1 empty", "directory empty is not empty", "empty");
    tu_sh(0, "%s new Default_Dir > /dev/null && test -f Default_Dir/Default_Dir.c", TRANCHE_BIN);
}

static void
test_new__a_failure_part_way_leaves_nothing(void **state)
{
    char *err = NULL;

    (void)state;
    /* A file size limit of 0: creating works, writing the first byte fails (EFBIG). Only
     * tranche runs under the limit: its stderr goes through a pipe, not into a file. */
    assert_int_equal(tu_run_here(&err,
                                 "{ (ulimit -f 0 && exec %s new cut_short half/way) 2>&1; "
                                 "echo \"exit $?\"; } | cat >&2",
                                 TRANCHE_BIN),
                     0);
    tu_assert_contains(err, "cannot write half/way/cut_short.c: File too large");
    tu_assert_contains(err, "nothing is left of the project");
    tu_assert_contains(err, "exit 1");
    free(err);
    assert_false(tu_exists(tu_join(tu_dir, "half")));
    tu_sh(0,
          "mkdir -p kept && (ulimit -f 0 && %s new cut_short kept; test $? -eq 1) && "
          "test -d kept && test -z \"$(ls -A kept)\"",
          TRANCHE_BIN);
}

/* The plugin, as written, builds warning-free with nothing but the header, and its sample job
 * writes the expected output (tests/sdk does the same through CMake and an install). */
static void
test_new__the_plugin_passes_its_sample_job(void **state)
{
    (void)state;
    tu_sh(0,
          "%s new tagger > /dev/null && cd tagger && "
          "cc -std=c11 -Wall -Wextra -Werror -O2 -fPIC -shared -I'%s/core/include' tagger.c "
          "-o tagger.so && nm -D --defined-only tagger.so | grep -q ' tranche_plugin$'",
          TRANCHE_BIN, SOURCE_DIR);
    tu_sh(0,
          "cd tagger && TRANCHE_PLUGIN_PATH=$PWD %s run sample/job.yaml --workers 2 "
          "--log-dir logs && cmp sample/output.txt sample/expected.txt && "
          "sed 's/^/tagger: /' sample/input.txt | cmp - sample/output.txt",
          TRANCHE_BIN);
    /* Its option is in its table, and a value set in the job is used. */
    tu_sh(0,
          "cd tagger && TRANCHE_PLUGIN_PATH=$PWD %s plugins tagger | grep -q 'prefix' && "
          "TRANCHE_PLUGIN_PATH=$PWD %s plugins tagger | grep -q 'default > '",
          TRANCHE_BIN, TRANCHE_BIN);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new__refuses_a_name_that_is_not_a_c_identifier),
        cmocka_unit_test(test_new__refuses_a_name_cmake_reserves),
        cmocka_unit_test(test_new__refuses_the_name_of_a_plugin_tranche_finds),
        cmocka_unit_test(test_new__refuses_a_directory_that_is_not_empty),
        cmocka_unit_test(test_new__refuses_bad_usage),
        cmocka_unit_test(test_new__writes_the_project_into_a_new_or_empty_directory),
        cmocka_unit_test(test_new__a_failure_part_way_leaves_nothing),
        cmocka_unit_test(test_new__the_plugin_passes_its_sample_job),
    };

    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
