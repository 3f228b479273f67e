/*
 * tests/core/test_framing.c: core/framing.c against sequential references written here: every
 * boundary framing_boundary() finds, from any offset, is one the sequential scan (framing_next
 * from the start) passes through; CSV rows by quote parity; FASTQ reads whose quality begins with
 * '@' or '+'; delimiters whose prefix is their suffix ("aba", "aa"); the quote parity against a
 * byte count; the delimiter syntax.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "framing.h"
#include "testutil.h"

static struct framing
make(int kind, const char *delim, size_t delim_len)
{
    struct framing f;

    framing_default(&f);
    f.kind = kind;
    if (delim != NULL) {
        memcpy(f.delim, delim, delim_len);
        f.delim_len = delim_len;
    }
    framing_finish(&f);
    return f;
}

/* The record starts the sequential scan passes through, as a 0/1 map of buf's offsets (map[len]
 * is the end). Returns the number of records, or -1 when the scan finds the input malformed. */
static long
record_starts(const struct framing *f, const char *buf, size_t len, unsigned char *map)
{
    size_t pos = 0;
    long n = 0;

    memset(map, 0, len + 1);
    map[0] = 1;
    while (pos < len) {
        struct framing_scan st = FRAMING_SCAN_INIT;
        size_t rec_len, total;
        int rc = framing_next(f, &st, buf + pos, len - pos, 1, &rec_len, &total, NULL);

        if (rc == FRAMING_BAD) {
            return -1;
        }
        if (rc == FRAMING_MORE) {
            break;
        }
        pos += total;
        map[pos] = 1;
        n++;
    }
    return n;
}

/* Every boundary found from any offset of buf is a record start of the sequential scan, and
 * is the first one after the offset where the format promises it (lines of one byte, csv). */
static void
check_boundaries(const struct framing *f, const char *buf, size_t len, int first)
{
    unsigned char *map = malloc(len + 1);
    size_t from, at;

    assert_non_null(map);
    assert_true(record_starts(f, buf, len, map) >= 0);
    for (from = 1; from < len; from++) {
        unsigned parity =
            f->kind == TRANCHE_FORMAT_CSV ? framing_quote_parity(f->quote, buf, from) : 0;
        int rc = framing_boundary(f, buf, len, from, parity, 1, &at);

        if (rc != FRAMING_RECORD) {
            continue;
        }
        if (at <= from || at > len || !map[at]) {
            fail_msg("boundary from %zu at %zu is not a record start", from, at);
        }
        if (first) {
            size_t k;

            for (k = from + 1; k < at; k++) {
                if (map[k]) {
                    fail_msg("boundary from %zu at %zu skips the record start at %zu", from, at, k);
                }
            }
        }
    }
    free(map);
}

static void
test_framing__lines_one_byte(void **state)
{
    struct framing f = make(TRANCHE_FORMAT_LINES, "\n", 1);
    struct framing_scan st = FRAMING_SCAN_INIT;
    size_t rec_len, total;

    (void)state;
    assert_true(framing_is_simple(&f));
    assert_int_equal(framing_next(&f, &st, "ab\ncd", 5, 0, &rec_len, &total, NULL), FRAMING_RECORD);
    assert_int_equal(rec_len, 2);
    assert_int_equal(total, 3);
    st = (struct framing_scan)FRAMING_SCAN_INIT;
    assert_int_equal(framing_next(&f, &st, "cd", 2, 0, &rec_len, &total, NULL), FRAMING_MORE);
    st = (struct framing_scan)FRAMING_SCAN_INIT;
    assert_int_equal(framing_next(&f, &st, "cd", 2, 1, &rec_len, &total, NULL), FRAMING_RECORD);
    assert_int_equal(rec_len, 2);
    assert_int_equal(total, 2);
    check_boundaries(&f, "a\n\nbc\nd\n\n", 9, 1);
}

/* Delimiters that overlap themselves: the records are those of a left-to-right split. */
static void
test_framing__overlapping_delimiters(void **state)
{
    static const struct {
        const char *delim, *text;
    } cases[] = {
        {"aba", "ababa"},
        {"aba", "abababaxabaaba"},
        {"aa", "aaaaaxaaa"},
        {"\n\n", "a\n\n\nb\n\n\n\nc"},
        {"abcab", "abcabcabcabxabcab"},
        {"\r\n", "\r\r\n\n\r\n"},
    };
    uint64_t seed = 7;
    size_t i, k;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct framing f = make(TRANCHE_FORMAT_LINES, cases[i].delim, strlen(cases[i].delim));
        unsigned char map[64];
        const char *p = cases[i].text, *end = p + strlen(p), *hit;
        long want = 0;

        /* the reference: strstr from each record's start, as Python's bytes.split */
        while (p < end && (hit = strstr(p, cases[i].delim)) != NULL) {
            want++;
            p = hit + strlen(cases[i].delim);
        }
        want += p < end;
        assert_int_equal(record_starts(&f, cases[i].text, strlen(cases[i].text), map), want);
        check_boundaries(&f, cases[i].text, strlen(cases[i].text), 0);
    }
    /* and random text over the delimiter's own letters */
    for (k = 0; k < 200; k++) {
        struct framing f = make(TRANCHE_FORMAT_LINES, k % 2 ? "aba" : "aa", k % 2 ? 3 : 2);
        char text[200];
        size_t n = 1 + tu_rand(&seed) % (sizeof(text) - 1);

        for (i = 0; i < n; i++) {
            text[i] = "abx"[tu_rand(&seed) % (k % 3 ? 2 : 3)];
        }
        check_boundaries(&f, text, n, 0);
    }
}

static void
test_framing__csv_rows(void **state)
{
    struct framing f = make(TRANCHE_FORMAT_CSV, ",", 1);
    const char *text = "a,\"b\nc\"\r\nd,\"\"\"\"\n\"x\n\ny\",z\r\n\n";
    struct framing_scan st = FRAMING_SCAN_INIT;
    size_t rec_len, total;
    const char *why;
    uint64_t seed = 11;
    size_t i, k;

    (void)state;
    assert_false(framing_is_simple(&f));
    assert_int_equal(f.quote, '"');
    assert_int_equal(framing_next(&f, &st, text, strlen(text), 0, &rec_len, &total, NULL),
                     FRAMING_RECORD);
    assert_int_equal(rec_len, 7); /* a,"b\nc" without its \r\n */
    assert_int_equal(total, 9);
    check_boundaries(&f, text, strlen(text), 1);
    /* an unclosed quote at the end */
    st = (struct framing_scan)FRAMING_SCAN_INIT;
    assert_int_equal(framing_next(&f, &st, "a,\"b\n", 5, 0, &rec_len, &total, NULL), FRAMING_MORE);
    assert_int_equal(framing_next(&f, &st, "a,\"b\n", 5, 1, &rec_len, &total, &why), FRAMING_BAD);
    assert_non_null(strstr(why, "quoted field is not closed"));
    /* random rows */
    for (k = 0; k < 100; k++) {
        char buf[300];
        size_t n = 1 + tu_rand(&seed) % (sizeof(buf) - 1);

        for (i = 0; i < n; i++) {
            buf[i] = "ab,\"\n\r"[tu_rand(&seed) % 6];
        }
        if (framing_quote_parity('"', buf, n) != 0) {
            buf[n - 1] = buf[n - 1] == '"' ? 'x' : '"'; /* every quote closed */
        }
        assert_int_equal(framing_quote_parity('"', buf, n), 0);
        check_boundaries(&f, buf, n, 1);
    }
}

static void
test_framing__fastq_reads(void **state)
{
    struct framing f = make(TRANCHE_FORMAT_FASTQ, NULL, 0);
    /* qualities that begin with '@' and '+', and a read with an empty sequence */
    const char *text = "@r1\nACGT\n+\n@III\n@r2\nAC\n+r2\n+I\n@r3\n\n+\n\n@r4\nA\n+\n@";
    unsigned char map[128];
    struct framing_scan st = FRAMING_SCAN_INIT;
    size_t rec_len, total;
    const char *why;

    (void)state;
    assert_int_equal(f.out_len, 1);
    assert_int_equal(record_starts(&f, text, strlen(text), map), 4);
    check_boundaries(&f, text, strlen(text), 1);
    assert_int_equal(framing_next(&f, &st, text, strlen(text), 0, &rec_len, &total, NULL),
                     FRAMING_RECORD);
    assert_int_equal(rec_len, 15); /* "@r1\nACGT\n+\n@III" */
    assert_int_equal(total, 16);
    assert_int_equal(framing_next(&f, &st, "@a\nAC\n+\nI\n", 10, 0, &rec_len, &total, &why),
                     FRAMING_BAD);
    assert_non_null(strstr(why, "lengths differ"));
    assert_int_equal(framing_next(&f, &st, "@a\nAC\n-\nII\n", 11, 0, &rec_len, &total, &why),
                     FRAMING_BAD);
    assert_non_null(strstr(why, "third line"));
    assert_int_equal(framing_next(&f, &st, "@a\nAC\n", 6, 1, &rec_len, &total, &why), FRAMING_BAD);
    assert_non_null(strstr(why, "ends inside"));
    assert_int_equal(framing_next(&f, &st, "\n\n", 2, 1, &rec_len, &total, &why), FRAMING_MORE);
}

static void
test_framing__quote_parity(void **state)
{
    uint64_t seed = 3;
    char buf[257];
    size_t n, i, count;
    int k;

    (void)state;
    for (k = 0; k < 2000; k++) {
        n = tu_rand(&seed) % sizeof(buf);
        count = 0;
        for (i = 0; i < n; i++) {
            buf[i] = (char)(tu_rand(&seed) % 4 == 0 ? '"' : (int)(tu_rand(&seed) % 256));
            count += buf[i] == '"';
        }
        assert_int_equal(framing_quote_parity('"', buf, n), count % 2);
    }
}

static void
test_framing__delimiter_syntax(void **state)
{
    unsigned char out[FRAMING_MAX_DELIMITER];
    size_t n;

    (void)state;
    assert_int_equal(framing_parse_delimiter("\\r\\n", 4, out, sizeof(out), &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "\r\n", 2);
    assert_int_equal(framing_parse_delimiter("a\\x00b", 6, out, sizeof(out), &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "a\0b", 3);
    assert_int_equal(framing_parse_delimiter("\\z", 2, out, sizeof(out), &n), -1);
    assert_int_equal(framing_parse_delimiter("", 0, out, sizeof(out), &n), -1);
    assert_int_equal(framing_parse_delimiter("0123456789abcdefX", 17, out, sizeof(out), &n), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing__lines_one_byte),
        cmocka_unit_test(test_framing__overlapping_delimiters),
        cmocka_unit_test(test_framing__csv_rows),
        cmocka_unit_test(test_framing__fastq_reads),
        cmocka_unit_test(test_framing__quote_parity),
        cmocka_unit_test(test_framing__delimiter_syntax),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
