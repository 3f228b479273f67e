/*
 * tests/e2e/test_report.c: `tranche report` through the real CLI, on summary.json and rejects.tsv
 * fixtures written here (the schema of notes/common.md): the page is parsed by
 * check_report_html.py (well-formed, self-contained, one timeline row per worker, one bar per
 * partition that ran, the summary's text shown escaped); LOGDIR as a directory, a `latest` link
 * or the summary itself; -o FILE and -o -; every refusal (exit 2 naming the file, and line:column
 * for a summary that is not JSON) and that a failure leaves nothing behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#define CHECK_HTML "python3 '" SOURCE_DIR "/tests/e2e/check_report_html.py'"

/* 2 workers, 5 partitions (3 over 2^53 bytes into the second input, to see a 64-bit number come
 * through exactly), partition 3 retried once; escapes in the job's name and the retry's reason. */
static const char summary_ok[] =
    "{\n"
    "  \"tranche\": \"0.1.0\",\n"
    "  \"job\": \"jobs/caf\\u00e9 \\\"q\\\" \\\\ x<b>.yaml\",\n"
    "  \"log_dir\": \"/tmp/x\", \"output\": \"out\\/x.txt\",\n"
    "  \"status\": \"skipped\", \"exit_status\": 3, \"error\": null,\n"
    "  \"started_at\": \"2026-12-01T00:00:00Z\",\n"
    "  \"wall_s\": 1.5, \"cpu_user_s\": 2.25e0, \"cpu_system_s\": 0.125,\n"
    "  \"n_workers\": 2,\n"
    "  \"inputs\": [ {\"path\": \"in/a.txt\", \"kind\": \"plain\", \"size\": 3000},\n"
    "              {\"path\": \"in/b.txt.gz\", \"kind\": \"bgzf\", \"size\": 12345678901234567}],\n"
    "  \"totals\": { \"partitions\": 5, \"partitions_written\": 5, \"partitions_resumed\": 0,\n"
    "    \"retries\": 1, \"skipped\": 2, \"records_in\": 1234567, \"records_out\": 498,\n"
    "    \"bytes_in\": 5000, \"bytes_out\": 4980 },\n"
    "  \"steps\": [ {\"label\": \"grep (step 1)\", \"records_in\": 500, \"records_out\": 498,\n"
    "    \"bytes_in\": 5000, \"bytes_out\": 4980} ],\n"
    "  \"retries\": [ {\"partition\": 3, \"attempt\": 1, \"worker\": 2, \"at_s\": 0.5,\n"
    "    \"reason\": \"killed by signal SIGSEGV <&>\"} ],\n"
    "  \"rejects\": { \"count\": 2, \"tsv\": \"/tmp/x/rejects.tsv\", \"bin\": null },\n"
    "  \"partitions\": [\n"
    "    {\"index\": 0, \"input\": 0, \"start\": 0, \"end\": 1000, \"worker\": 1, \"attempts\": "
    "1,\n"
    "     \"resumed\": false, \"start_s\": 0.01, \"done_s\": 0.3, \"written_s\": 0.3,\n"
    "     \"records_in\": 100, \"records_out\": 100, \"bytes_in\": 1000, \"bytes_out\": 1000,\n"
    "     \"skipped\": 0},\n"
    "    {\"index\": 1, \"input\": 0, \"start\": 1000, \"end\": 2000, \"worker\": 2, \"attempts\": "
    "1,\n"
    "     \"resumed\": false, \"start_s\": 0.01, \"done_s\": 0.25, \"written_s\": 0.4,\n"
    "     \"records_in\": 100, \"records_out\": 99, \"bytes_in\": 1000, \"bytes_out\": 990,\n"
    "     \"skipped\": 1},\n"
    "    {\"index\": 2, \"input\": 0, \"start\": 2000, \"end\": 3000, \"worker\": 1, \"attempts\": "
    "1,\n"
    "     \"resumed\": false, \"start_s\": 0.3, \"done_s\": 0.7, \"written_s\": 0.7,\n"
    "     \"records_in\": 100, \"records_out\": 100, \"bytes_in\": 1000, \"bytes_out\": 1000,\n"
    "     \"skipped\": 0},\n"
    "    {\"index\": 3, \"input\": 1, \"start\": 9007199254740993, \"end\": 12345678901234567,\n"
    "     \"worker\": 2, \"attempts\": 2, \"resumed\": false, \"start_s\": 0.55, \"done_s\": 1.2,\n"
    "     \"written_s\": 1.25, \"records_in\": 100, \"records_out\": 99, \"bytes_in\": 1000,\n"
    "     \"bytes_out\": 990, \"skipped\": 1},\n"
    "    {\"index\": 4, \"input\": 1, \"start\": 0, \"end\": 9007199254740993, \"worker\": 1,\n"
    "     \"attempts\": 1, \"resumed\": false, \"start_s\": 0.7, \"done_s\": 1.4,\n"
    "     \"written_s\": 1.45, \"records_in\": 100, \"records_out\": 100, \"bytes_in\": 1000,\n"
    "     \"bytes_out\": 1000, \"skipped\": 0}\n"
    "  ],\n"
    "  \"workers\": [\n"
    "    {\"id\": 1, \"processes\": 1, \"partitions\": 3, \"busy_s\": 1.39, \"cpu_user_s\": 1.1,\n"
    "     \"cpu_system_s\": 0.05, \"max_rss_kib\": 5000},\n"
    "    {\"id\": 2, \"processes\": 2, \"partitions\": 2, \"busy_s\": 0.89, \"cpu_user_s\": 1.0,\n"
    "     \"cpu_system_s\": 0.05, \"max_rss_kib\": 6100}\n"
    "  ],\n"
    "  \"incomplete\": false\n"
    "}\n";

/* A failed run: partition 0 resumed, 1 ran, 2 never ran; an error with markup in it; a job
 * name with a character beyond U+FFFF written as JSON's surrogate pair; the summary on one line,
 * keys right after their colons, as a compact writer would put it. */
static const char summary_failed[] =
    "{\"tranche\":\"0.1.0\",\"job\":\"j\\ud83d\\ude00\\u00e9.yaml\",\"status\":\"failed\",\"exit_"
    "status\":1,"
    "\"error\":\"worker 1 died: <script>alert(1)</script> & \\\"more\\\"\",\"wall_s\":0.5,"
    "\"n_workers\":1,\"inputs\":[{\"path\":\"in.txt\",\"kind\":\"plain\",\"size\":30}],"
    "\"totals\":{\"partitions\":3,\"partitions_resumed\":1},\"steps\":[],\"retries\":[],"
    "\"rejects\":{\"count\":0,\"tsv\":null,\"bin\":null},\"partitions\":["
    "{\"index\":0,\"input\":0,\"start\":0,\"end\":10,\"worker\":0,\"attempts\":0,\"resumed\":true,"
    "\"start_s\":null,\"done_s\":null,\"written_s\":null,\"records_in\":7},"
    "{\"index\":1,\"input\":0,\"start\":10,\"end\":20,\"worker\":1,\"attempts\":1,"
    "\"resumed\":false,\"start_s\":0.1,\"done_s\":0.2,\"written_s\":0.2},"
    "{\"index\":2,\"input\":0,\"start\":20,\"end\":30,\"worker\":0,\"attempts\":1,"
    "\"resumed\":false,\"start_s\":null,\"done_s\":null,\"written_s\":null}],"
    "\"workers\":[{\"id\":1,\"processes\":1,\"partitions\":1,\"busy_s\":0.1,\"cpu_user_s\":0.1,"
    "\"cpu_system_s\":0,\"max_rss_kib\":1000}],\"incomplete\":true}";

static const char rejects_tsv[] = "#input\toffset\tlength\tpartition\tstep\treason\n"
                                  "in/a.txt\t1500\t10\t1\t1\tplugin said no\n"
                                  "in/b.txt.gz\t400\t12\t3\t1\tbad <&>\" record\n";

/* tu_dir/DIR with summary.json (and rejects.tsv when not NULL) in it. */
static void
write_log_dir(const char *dir, const char *summary, const char *rejects)
{
    char path[4096];

    tu_sh(0, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    snprintf(path, sizeof(path), "%s/%s/summary.json", tu_dir, dir);
    tu_write_file(path, summary, strlen(summary));
    if (rejects != NULL) {
        snprintf(path, sizeof(path), "%s/%s/rejects.tsv", tu_dir, dir);
        tu_write_file(path, rejects, strlen(rejects));
    }
}

/* `tranche report ARGS` must exit 2, saying `says`, and write no report and no temporary file in
 * tu_dir/DIR. */
static void
refused(const char *dir, const char *args, const char *says)
{
    char *err = NULL;

    assert_int_equal(tu_tranche(&err, "report %s", args), 2);
    tu_assert_contains(err, says);
    free(err);
    tu_sh(1, "ls -a '%s' 2>/dev/null | grep -q 'report'", dir);
}

static void
test_report__a_self_contained_page_with_a_row_per_worker_and_a_bar_per_partition(void **state)
{
    char *page;
    size_t len;
    struct stat st;
    mode_t mask = umask(0);

    (void)state;
    umask(mask);
    write_log_dir("run1", summary_ok, rejects_tsv);
    tu_sh(0, "%s report run1 > said.txt && [ \"$(cat said.txt)\" = run1/report.html ]",
          TRANCHE_BIN);
    tu_sh(0, CHECK_HTML " run1/report.html --workers 2 --partitions 0,1,2,3,4"
                        " --text 'jobs/café \"q\" \\ x<b>.yaml' --text 'out/x.txt'"
                        " --text 'killed by signal SIGSEGV <&>' --text 'bad <&>\" record'"
                        " --text 'plugin said no' --text 'bytes 9007199254740993-12345678901234567'"
                        " --text '2.25 s user' --text '1,234,567' --text 'grep (step 1)'"
                        " --raw-absent '<&>' --raw-absent 'x<b>'");
    /* Every partition's bar is in its worker's row. */
    page = tu_read_file(tu_join(tu_dir, "run1/report.html"), &len);
    assert_non_null(page);
    tu_assert_contains(page, "data-worker=\"1\"");
    assert_non_null(strstr(strstr(page, "data-worker=\"2\""), "data-partition=\"3\""));
    assert_null(strstr(strstr(page, "data-worker=\"2\""), "data-partition=\"4\""));
    /* The bar's class is "part" alone, as tools look for it. */
    tu_assert_contains(page, "<rect class=\"part\" data-partition=\"0\"");
    free(page);
    /* A new file's mode, not mkstemp's 0600; no temporary file left. */
    assert_int_equal(stat(tu_join(tu_dir, "run1/report.html"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0666 & ~mask);
    tu_sh(0, "[ \"$(ls -A run1 | tr '\\n' ' ')\" = 'rejects.tsv report.html summary.json ' ]");
}

static void
test_report__takes_a_latest_link_or_the_summary_and_writes_where_told(void **state)
{
    (void)state;
    write_log_dir("run2", summary_ok, NULL);
    tu_sh(0,
          "rm -f latest && ln -s run2 latest && %s report latest > /dev/null && "
          "test -f run2/report.html && ! test -e latest.html",
          TRANCHE_BIN);
    tu_sh(0,
          "mkdir -p elsewhere && %s report run2/summary.json -o elsewhere/r.html > /dev/null && "
          "test -f elsewhere/r.html",
          TRANCHE_BIN);
    tu_sh(0, CHECK_HTML " elsewhere/r.html --workers 2 --partitions 0,1,2,3,4");
    /* Standard output: the same page, nothing else on it. */
    tu_sh(0, "%s report run2 -o - > stdout.html && " CHECK_HTML " stdout.html --workers 2",
          TRANCHE_BIN);
    tu_sh(0, "%s report run2 --output - | head -c 15 | grep -q '<!DOCTYPE html>'", TRANCHE_BIN);
    /* Without rejects.tsv the page says it is missing, as the summary counts skipped records. */
    tu_sh(0, CHECK_HTML " run2/report.html --text 'rejects.tsv) is not in the log directory'");
}

static void
test_report__a_failed_run_lists_resumed_and_unrun_partitions_apart(void **state)
{
    (void)state;
    write_log_dir("failed", summary_failed, NULL);
    tu_sh(0, "%s report failed > /dev/null", TRANCHE_BIN);
    tu_sh(0, CHECK_HTML " failed/report.html --workers 1 --partitions 1"
                        " --text 'worker 1 died: <script>alert(1)</script> & \"more\"'"
                        " --text 'j\xf0\x9f\x98\x80\xc3\xa9.yaml' --text 'Resumed partitions'"
                        " --text 'Partitions that did not run'"
                        " --text 'incomplete' --raw-absent '<script>'");
}

static void
test_report__lists_the_first_100_skipped_records_and_counts_the_rest(void **state)
{
    (void)state;
    write_log_dir("many", summary_ok, NULL);
    tu_sh(0, "{ printf '#input\\toffset\\tlength\\tpartition\\tstep\\treason\\n'; i=0; "
             "while [ $i -lt 150 ]; do printf 'in/a.txt\\t%%d\\t1\\t0\\t1\\treason %%d\\n' $i $i; "
             "i=$((i + 1)); done; } > many/rejects.tsv");
    tu_sh(0, "%s report many > /dev/null", TRANCHE_BIN);
    tu_sh(0, CHECK_HTML " many/report.html --text 'reason 99' --text 'and 50 more'");
    tu_sh(1, "grep -q 'reason 100<' many/report.html");
}

static void
test_report__refuses_what_is_not_a_summary(void **state)
{
    (void)state;
    refused("nothere", "nothere", "tranche: report: nothere: No such file or directory");
    tu_sh(0, "rm -rf empty && mkdir empty");
    refused("empty", "empty", "empty/summary.json: No such file or directory");
    write_log_dir("bad", "{\"tranche\": \"0.1\",\n  \"job\": \"x\",\n  \"wall_s\": [1, }\n", NULL);
    refused("bad", "bad", "bad/summary.json:3:");
    write_log_dir("badtype", "{\"tranche\": \"0.1\",\n \"partitions\": 3}\n", NULL);
    refused("badtype", "badtype", "badtype/summary.json:2:16: \"partitions\": expected a list");
    write_log_dir("badnum", "{\"tranche\": \"0.1\", \"n_workers\": \"two\"}", NULL);
    refused("badnum", "badnum", "badnum/summary.json:1:33: \"n_workers\": expected an integer");
    write_log_dir("notours", "{\"job\": \"x\"}", NULL);
    refused("notours", "notours", "notours/summary.json: not a tranche summary");
    write_log_dir("emptyfile", "", NULL);
    refused("emptyfile", "emptyfile", "emptyfile/summary.json: empty");
    refused(".", "", "usage: tranche report LOGDIR");
    refused(".", "a b", "usage: tranche report LOGDIR");
    refused(".", "--bogus x", "unknown option '--bogus'");
}

static void
test_report__an_output_that_cannot_be_written_leaves_nothing(void **state)
{
    (void)state;
    write_log_dir("run3", summary_ok, NULL);
    refused("run3", "run3 -o nodir/sub/report.html", "cannot create the report in nodir/sub");
    tu_sh(0, "echo x > plainfile");
    refused(".", "run3 -o plainfile/report.html", "cannot create the report in plainfile");
    /* A directory in the way: the rename fails (exit 1), its temporary file is removed. */
    tu_sh(0, "mkdir -p run3/isdir");
    tu_sh(1, "%s report run3 -o run3/isdir 2>err.txt", TRANCHE_BIN);
    tu_sh(0, "grep -q 'cannot rename' err.txt && [ \"$(ls -A run3)\" = \"isdir\nsummary.json\" ]");
    /* A failure leaves an earlier report as it was. */
    tu_sh(0, "%s report run3 > /dev/null && cp run3/report.html before.html", TRANCHE_BIN);
    tu_sh(0, "printf '{' > run3/summary.json");
    tu_sh(2, "%s report run3 2>/dev/null", TRANCHE_BIN);
    tu_sh(0, "cmp before.html run3/report.html");
}

static void
test_report__help(void **state)
{
    char *err = NULL;

    (void)state;
    tu_sh(0, "%s report --help | grep -q '^usage: tranche report LOGDIR'", TRANCHE_BIN);
    tu_sh(0, "%s help report | grep -q -- '-o, --output FILE'", TRANCHE_BIN);
    tu_sh(0, "%s --help | grep -q '^  report LOGDIR'", TRANCHE_BIN);
    assert_int_equal(tu_tranche(&err, "report"), 2);
    free(err);
}

/* A real run's log directory, once `tranche run` writes summary.json (skipped before). */
static void
test_report__of_a_real_run(void **state)
{
    (void)state;
    tu_sh(0, "seq 1 200000 > real.txt");
    tu_write_job("real.yaml", "input:\n  path: real.txt\noutput:\n  path: real.out\n"
                              "log_dir: reallogs\npartition_size: 64KiB\nworkers: 3\nsteps:\n"
                              "  - plugin: upper\n");
    tu_sh(0, "%s run real.yaml 2>/dev/null", TRANCHE_BIN);
    if (!tu_exists(tu_join(tu_dir, "reallogs/summary.json"))) {
        skip();
    }
    tu_sh(0, "%s report reallogs > /dev/null", TRANCHE_BIN);
    tu_sh(0,
          "n=$(%s plan real.yaml | wc -l) && " CHECK_HTML " reallogs/report.html --workers 3"
          " --partitions \"$(seq -s, 0 $((n - 1)))\"",
          TRANCHE_BIN);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_report__a_self_contained_page_with_a_row_per_worker_and_a_bar_per_partition),
        cmocka_unit_test(test_report__takes_a_latest_link_or_the_summary_and_writes_where_told),
        cmocka_unit_test(test_report__a_failed_run_lists_resumed_and_unrun_partitions_apart),
        cmocka_unit_test(test_report__lists_the_first_100_skipped_records_and_counts_the_rest),
        cmocka_unit_test(test_report__refuses_what_is_not_a_summary),
        cmocka_unit_test(test_report__an_output_that_cannot_be_written_leaves_nothing),
        cmocka_unit_test(test_report__help),
        cmocka_unit_test(test_report__of_a_real_run),
    };

    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
