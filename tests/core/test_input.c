/*
 * tests/core/test_input.c: tests core/input.c: which files inputs_open refuses (not regular
 * files, files whose size does not tell their content, a file listed twice) and how, and
 * inputs_check_unchanged catching every way an input can change while a job runs.
 */
/* cmocka.h needs these before it. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "input.h"
#include "testutil.h"

/* Each test gets a fresh directory as its state. */
static int
setup(void **state)
{
    *state = tu_mkdtemp();
    return 0;
}

static int
teardown(void **state)
{
    tu_rmrf(*state);
    free(*state);
    return 0;
}

/* Loads a job whose input section is `input` (YAML, indented by two) from dir/job.yaml. */
static void
load_job(const char *dir, const char *input, struct job *job)
{
    char yaml[4096];
    struct error err = {{0}};

    snprintf(yaml, sizeof(yaml), "input:\n%soutput: {path: out.txt}\nsteps: [{plugin: upper}]\n",
             input);
    tu_write_file(tu_join(dir, "job.yaml"), yaml, strlen(yaml));
    if (config_load(tu_join(dir, "job.yaml"), job, &err) != 0) {
        fail_msg("%s", err.msg);
    }
}

/* inputs_open on the job of `input`, expecting rc; err holds the message. */
static void
open_expect(const char *dir, const char *input, int rc, struct error *err)
{
    struct job job;
    struct inputs in;

    load_job(dir, input, &job);
    assert_int_equal(inputs_open(&job, &in, err), rc);
    inputs_release(&in);
    config_release(&job);
}

static void
test_input__only_regular_files_are_opened(void **state)
{
    const char *dir = *state;
    struct error err = {{0}};
    char input[PATH_MAX + 64];

    assert_int_equal(mkdir(tu_join(dir, "sub"), 0755), 0);
    open_expect(dir, "  path: sub\n", ERR_INVALID, &err);
    tu_assert_contains(err.msg, "input ");
    tu_assert_contains(err.msg, "/sub is not a regular file (it is a directory)");
    /* A FIFO is refused before it is opened: opening it would wait for a writer. */
    assert_int_equal(mkfifo(tu_join(dir, "fifo"), 0600), 0);
    open_expect(dir, "  path: [sub/../fifo]\n", ERR_INVALID, &err);
    tu_assert_contains(err.msg, "/fifo is not a regular file (it is a FIFO)");
    open_expect(dir, "  path: /dev/null\n", ERR_INVALID, &err);
    tu_assert_contains(err.msg, "input /dev/null is not a regular file (it is a character device)");
    /* A link to a regular file is that file. */
    tu_write_file(tu_join(dir, "real.txt"), "a\n", 2);
    assert_int_equal(symlink("real.txt", tu_join(dir, "link.txt")), 0);
    open_expect(dir, "  path: link.txt\n", 0, &err);
    snprintf(input, sizeof(input), "  path: %s\n", tu_join(dir, "missing.txt"));
    open_expect(dir, input, ERR_INVALID, &err);
    tu_assert_contains(err.msg, "cannot open input ");
    tu_assert_contains(err.msg, "missing.txt: No such file or directory");
}

/* A cgroup file reports a size of 0 and has content; NULL when this system shows none. */
static const char *
zero_size_file_with_content(void)
{
    static const char *const candidates[] = {
        "/sys/fs/cgroup/cgroup.controllers",           "/sys/fs/cgroup/cpu/cpu.shares",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max",
        "/sys/fs/cgroup/unified/cgroup.controllers",   "/sys/fs/cgroup/cgroup.procs",
    };
    struct stat st;
    char byte;
    size_t i;

    for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        int fd = open(candidates[i], O_RDONLY);
        int has = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 &&
                  read(fd, &byte, 1) == 1;

        if (fd >= 0) {
            close(fd);
        }
        if (has) {
            return candidates[i];
        }
    }
    return NULL;
}

/* Files whose size does not say what they hold would be planned as empty, or cut short. */
static void
test_input__size_must_tell_the_content(void **state)
{
    const char *dir = *state;
    struct error err = {{0}};
    const char *file = zero_size_file_with_content();
    char input[PATH_MAX + 64];

    open_expect(dir, "  path: /proc/self/status\n", ERR_INVALID, &err);
    tu_assert_contains(err.msg,
                       "input /proc/self/status is a /proc file, whose size does not tell");
    if (access("/sys/kernel/mm/transparent_hugepage/enabled", R_OK) == 0) {
        /* sysfs reports 4096 bytes for a file of a few */
        open_expect(dir, "  path: /sys/kernel/mm/transparent_hugepage/enabled\n", ERR_INVALID,
                    &err);
        tu_assert_contains(err.msg, "is a /sys file");
    }
    if (file != NULL) {
        snprintf(input, sizeof(input), "  path: %s\n", file);
        open_expect(dir, input, ERR_INVALID, &err);
        tu_assert_contains(err.msg, file);
        tu_assert_contains(err.msg, "reports a size of 0 but has content");
    } else {
        print_message("no cgroup file with a size of 0 and content here: that case is not run\n");
    }
    /* An empty file is empty. */
    tu_write_file(tu_join(dir, "empty.txt"), "", 0);
    open_expect(dir, "  path: empty.txt\n", 0, &err);
}

static void
test_input__a_file_listed_twice_is_refused(void **state)
{
    const char *dir = *state;
    struct error err = {{0}};
    char want[PATH_MAX + 64];

    tu_write_file(tu_join(dir, "a.log"), "a\n", 2);
    tu_write_file(tu_join(dir, "c.txt"), "c\n", 2);
    /* Two entries; the second a glob. */
    open_expect(dir, "  path: [c.txt, a.log, \"*.log\"]\n", ERR_INVALID, &err);
    snprintf(want, sizeof(want),
             "%s:2:24: input %s (from 'a.log' at line 2, column 17) and input %s (from '*.log' at "
             "line 2, column 24) are the same file",
             tu_join(dir, "job.yaml"), tu_join(dir, "a.log"), tu_join(dir, "a.log"));
    tu_assert_contains(err.msg, want);
    tu_assert_contains(err.msg, "list it once, or set input.allow_duplicates: true");
    /* Other spellings of its path. */
    open_expect(dir, "  path:\n    - a.log\n    - c.txt\n    - ./a.log\n", ERR_INVALID, &err);
    tu_assert_contains(err.msg, "job.yaml:5:7: input ");
    snprintf(want, sizeof(want), "  path:\n    - a.log\n    - %s\n", tu_join(dir, "a.log"));
    open_expect(dir, want, ERR_INVALID, &err);
    tu_assert_contains(err.msg, "job.yaml:4:7: input ");
    /* A hard link, both matched by one glob. */
    assert_int_equal(link(tu_join(dir, "a.log"), tu_join(dir, "b.log")), 0);
    open_expect(dir, "  path: \"*.log\"\n", ERR_INVALID, &err);
    tu_assert_contains(err.msg, "/b.log (from '*.log' at line 2, column 9) are the same file");
    /* Unless the job says so. */
    open_expect(dir, "  path: [a.log, \"*.log\"]\n  allow_duplicates: true\n", 0, &err);
    open_expect(dir, "  path: [a.log, \"*.log\"]\n  allow_duplicates: false\n", ERR_INVALID, &err);
}

/* A glob that matched nothing is reported when the inputs are opened, at its position. */
static void
test_input__glob_matching_nothing_is_reported_on_open(void **state)
{
    const char *dir = *state;
    struct error err = {{0}};
    char want[PATH_MAX + 64];

    open_expect(dir, "  path: \"none-*.log\"\n", ERR_INVALID, &err);
    snprintf(want, sizeof(want), "%s:2:9: no file matches the input glob 'none-*.log'",
             tu_join(dir, "job.yaml"));
    tu_assert_contains(err.msg, want);
}

/* An open job over dir/in.txt (12 bytes); in, job and the recorded ctime are the caller's. */
static void
open_input(const char *dir, struct job *job, struct inputs *in)
{
    struct error err = {{0}};

    tu_write_file(tu_join(dir, "in.txt"), "one\ntwo\nsix\n", 12);
    load_job(dir, "  path: in.txt\n", job);
    if (inputs_open(job, in, &err) != 0) {
        fail_msg("%s", err.msg);
    }
}

/* Waits until the file system's clock has moved past the input's change time, so that any change
 * made from now on shows in the times (a state, not a delay: bounded at 10 s). */
static void
wait_for_clock(const char *dir, const struct inputs *in)
{
    const struct timespec *was = &in->v[0].st.st_ctim;
    struct timespec pause = {0, 1000000};
    struct stat st;
    int i;

    for (i = 0; i < 10000; i++) {
        tu_write_file(tu_join(dir, "tick"), "t", 1);
        assert_int_equal(stat(tu_join(dir, "tick"), &st), 0);
        if (st.st_ctim.tv_sec > was->tv_sec ||
            (st.st_ctim.tv_sec == was->tv_sec && st.st_ctim.tv_nsec > was->tv_nsec)) {
            return;
        }
        nanosleep(&pause, NULL);
    }
    fail_msg("the file system's clock did not move in 10 s");
}

/* Puts new bytes into dir/in.txt in place, as copytruncate does (same inode). */
static void
rewrite_in_place(const char *dir, const char *data)
{
    int fd = open(tu_join(dir, "in.txt"), O_WRONLY | O_TRUNC);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    assert_int_equal(close(fd), 0);
}

enum change {
    CHANGE_NONE,
    CHANGE_APPEND,
    CHANGE_TRUNCATE,
    CHANGE_SAME_SIZE,
    CHANGE_SAME_SIZE_AND_MTIME,
    CHANGE_REPLACED,
    CHANGE_REMOVED,
    CHANGE_MODE,
};

static void
make_change(const char *dir, const struct inputs *in, enum change change)
{
    struct timespec times[2];

    switch (change) {
    case CHANGE_NONE:
        /* Reading it changes nothing the check looks at (the access time is not one). */
        free(tu_read_file(tu_join(dir, "in.txt"), NULL));
        break;
    case CHANGE_APPEND:
        rewrite_in_place(dir, "one\ntwo\nsix\nten\n");
        break;
    case CHANGE_TRUNCATE:
        rewrite_in_place(dir, "");
        break;
    case CHANGE_SAME_SIZE:
        rewrite_in_place(dir, "ONE\nTWO\nSIX\n");
        break;
    case CHANGE_SAME_SIZE_AND_MTIME:
        /* Same size, and the modification time put back (touch -r): the change time tells. */
        rewrite_in_place(dir, "ONE\nTWO\nSIX\n");
        times[0] = in->v[0].st.st_atim;
        times[1] = in->v[0].st.st_mtim;
        assert_int_equal(utimensat(AT_FDCWD, tu_join(dir, "in.txt"), times, 0), 0);
        break;
    case CHANGE_REPLACED:
        /* Another file renamed over the path (the open file itself is untouched). */
        tu_write_file(tu_join(dir, "new.txt"), "one\ntwo\nsix\n", 12);
        assert_int_equal(rename(tu_join(dir, "new.txt"), tu_join(dir, "in.txt")), 0);
        break;
    case CHANGE_REMOVED:
        assert_int_equal(unlink(tu_join(dir, "in.txt")), 0);
        break;
    case CHANGE_MODE:
        assert_int_equal(chmod(tu_join(dir, "in.txt"), 0400), 0);
        break;
    }
}

static void
test_input__every_change_is_caught(void **state)
{
    static const struct {
        enum change change;
        const char *phrase; /* after "changed during the job: "; NULL: no change */
        const char *absent; /* a change that must not be reported */
    } cases[] = {
        {CHANGE_NONE, NULL, NULL},
        {CHANGE_APPEND, "size 12 -> 16, mtime ", NULL},
        {CHANGE_TRUNCATE, "size 12 -> 0, mtime ", NULL},
        {CHANGE_SAME_SIZE, "mtime ", "size"},
        {CHANGE_SAME_SIZE_AND_MTIME, "ctime ", "mtime"},
        /* (the old file's ctime changes too: it lost its link) */
        {CHANGE_REPLACED, "the path now names another file (inode ", "size"},
        {CHANGE_REMOVED, "it is no longer at its path: No such file", NULL},
        {CHANGE_MODE, "ctime ", "mtime"},
    };
    const char *dir = *state;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct error err = {{0}}, oerr = {{0}};
        struct job job;
        struct inputs in;
        char want[PATH_MAX + 64];
        int rc, fd;

        open_input(dir, &job, &in);
        assert_int_equal(inputs_check_unchanged(&in, &err), 0);
        wait_for_clock(dir, &in);
        make_change(dir, &in, cases[i].change);
        rc = inputs_check_unchanged(&in, &err);
        /* Whoever reads an input opens it again, and must find the same file. */
        fd = input_open(&in.v[0], &oerr);
        if (fd >= 0) {
            close(fd);
        }
        if ((fd >= 0) != (cases[i].phrase == NULL)) {
            fail_msg("case %zu: input_open gave %d (%s)", i, fd, fd >= 0 ? "" : oerr.msg);
        }
        if (fd < 0 && cases[i].change != CHANGE_REMOVED && strcmp(oerr.msg, err.msg) != 0) {
            fail_msg("case %zu: input_open says\n  %s\nthe final check\n  %s", i, oerr.msg,
                     err.msg);
        }
        if (cases[i].phrase == NULL) {
            if (rc != 0) {
                fail_msg("case %zu: %s", i, err.msg);
            }
        } else {
            snprintf(want, sizeof(want),
                     "input %s changed during the job: ", tu_join(dir, "in.txt"));
            if (rc != ERR_FAILED || strncmp(err.msg, want, strlen(want)) != 0 ||
                strstr(err.msg, cases[i].phrase) == NULL ||
                (cases[i].absent != NULL && strstr(err.msg, cases[i].absent) != NULL)) {
                fail_msg("case %zu: rc %d, message\n  %s\nwant\n  %s...%s", i, rc, err.msg, want,
                         cases[i].phrase);
            }
        }
        inputs_release(&in);
        config_release(&job);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_input__only_regular_files_are_opened, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input__size_must_tell_the_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input__a_file_listed_twice_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_input__glob_matching_nothing_is_reported_on_open,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_input__every_change_is_caught, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
