/*
 * tests/e2e/test_alloc_failures.c: fault injection, as SQLite does it. A small job runs once to
 * count its allocations, then once for each N, with the Nth allocation failing
 * (tests/support/failmalloc.c, preloaded): in-process, forked, with gzip input decoded as a
 * stream and with gzip output. Whatever fails, tranche must end with exit 0 (and the right
 * output), 1 or 2, never a signal, and leave no temporary or part file beside the output.
 * Skipped in the sanitizer build (the sanitizers' runtime must come first).
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

static int
group_setup(void **state)
{
    int rc = tu_group_setup(state);

    if (rc == 0) {
        tu_sh(0, "seq 1 3000 > in.txt && gzip -c in.txt > in.gz && mkdir -p out && "
                 "grep 1 in.txt | LC_ALL=C tr a-z A-Z > ref.txt");
    }
    return rc;
}

/* Allocations the job makes in its first process when nothing fails. */
static long
count_allocations(const char *args)
{
    char path[1024], *text;
    long n;

    tu_sh(0,
          "rm -f count.txt out/* && FAILMALLOC_COUNT=\"$PWD/count.txt\" LD_PRELOAD='%s' %s %s "
          "> /dev/null",
          FAILMALLOC, TRANCHE_BIN, args);
    snprintf(path, sizeof(path), "%s/count.txt", tu_dir);
    text = tu_read_file(path, NULL);
    assert_non_null(text);
    n = strtol(text, NULL, 10);
    free(text);
    assert_true(n > 10);
    return n;
}

/* Runs the job with each of its allocations failing in turn; `check` is a shell test of the
 * output for a run that still succeeded. */
static void
fail_each(const char *args, const char *check)
{
    long n, total = count_allocations(args);
    char *err = NULL;
    int rc;

    for (n = 1; n <= total + 5; n++) {
        rc = tu_run_here(&err,
                         "rm -rf out/* out/.[!.]* logs && FAILMALLOC_AT=%ld LD_PRELOAD='%s' "
                         "timeout 60 %s %s > out.stdout",
                         n, FAILMALLOC, TRANCHE_BIN, args);
        if (rc > 2) {
            fail_msg("allocation %ld of %ld failing: exit %d (a crash or a hang):\n%s", n, total,
                     rc, err != NULL ? err : "");
        }
        if (rc == 0) {
            tu_sh(0, "%s", check);
        } else {
            tu_sh(0,
                  TU_SH_NO_DEBRIS "tu_no_debris out || { echo 'allocation %ld failing left:' >&2; "
                                  "ls -laR out >&2; false; }; rm -rf out/*.tranche-work",
                  n);
        }
        free(err);
        err = NULL;
    }
}

static void
write_job(const char *name, const char *input, const char *output)
{
    char path[1024], body[1024];

    snprintf(body, sizeof(body),
             "input:\n  path: %s\noutput:\n  path: out/%s\nlog_dir: logs\n"
             "partition_size: 4KiB\nsteps:\n  - plugin: upper\n  - plugin: grep\n"
             "    options: { pattern: \"1\" }\n",
             input, output);
    snprintf(path, sizeof(path), "%s/%s", tu_dir, name);
    tu_write_file(path, body, strlen(body));
}

static void
test_alloc__every_failure_is_clean(void **state)
{
    (void)state;
#ifdef TRANCHE_SANITIZED
    skip();
#endif
    write_job("plain.yaml", "in.txt", "plain.out");
    write_job("gz.yaml", "in.gz", "gz.out.gz");
    fail_each("run plain.yaml --in-process", "cmp ref.txt out/plain.out");
    fail_each("run plain.yaml --workers 2", "cmp ref.txt out/plain.out");
    fail_each("run gz.yaml --workers 2", "zcat out/gz.out.gz | cmp ref.txt -");
    fail_each("validate plain.yaml", "true");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc__every_failure_is_clean),
    };

    return cmocka_run_group_tests(tests, group_setup, tu_group_teardown);
}
