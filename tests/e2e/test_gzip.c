/*
 * tests/e2e/test_gzip.c: gzip input that is not BGZF, through the real CLI. Every kind of gzip
 * file (gzip, pigz, concatenated members, empty members, hand-made headers with every optional
 * field, BGZF followed by plain members) gives exactly `zcat FILE | tr a-z A-Z`, decoded as a
 * stream by the parent (the first run) and through the access-point index (later runs), for
 * several worker counts and partition sizes. Corrupt files fail with exit 1, the compressed
 * offset and nothing at the output path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "testutil.h"

#define EDGE_SIZE 120000

static char *
path_of(const char *name)
{
    static char path[2][1024];
    static int which;

    which ^= 1;
    snprintf(path[which], sizeof(path[which]), "%s/%s", tu_dir, name);
    return path[which];
}

/* The expected output of the upper job on gzip file `gz`: zcat, tr a-z A-Z, and a final
 * newline where the last record has none (tranche ends every record with its delimiter). */
static void
make_reference(const char *gz, const char *ref)
{
    tu_sh(0,
          "zcat '%s' | LC_ALL=C tr a-z A-Z > '%s' && if [ -s '%s' ] && "
          "[ \"$(tail -c1 '%s' | od -An -tx1)\" != \" 0a\" ]; then echo >> '%s'; fi",
          gz, ref, ref, ref, ref);
}

static const char *
write_job(const char *name, const char *input, const char *output)
{
    static char path[1024];
    char body[1024];

    snprintf(body, sizeof(body),
             "input:\n  path: %s\n  index: beside\noutput:\n  path: %s\nlog_dir: logs/%s\n"
             "steps:\n  - plugin: upper\n",
             input, output, name);
    snprintf(path, sizeof(path), "%s/%s.yaml", tu_dir, name);
    tu_write_file(path, body, strlen(body));
    return path;
}

/* Builds every kind of gzip file from edge.txt and returns their names (NULL-terminated). */
static const char *const *
make_fixtures(void)
{
    static const char *const names[] = {
        "gzip.gz",    "gzip1.gz",          "pigz.gz",       "concat.gz",      "fields.gz",
        "members.gz", "bgzf-then-gzip.gz", "only-empty.gz", "sync-finish.gz", NULL};
    struct tu_member o;
    unsigned char *data;
    size_t len, pos, k;
    FILE *f;

    tu_write_edge_input(path_of("edge.txt"), EDGE_SIZE, 1, 1);
    data = (unsigned char *)tu_read_file(path_of("edge.txt"), &len);
    assert_non_null(data);
    tu_sh(0, "gzip -c edge.txt > gzip.gz && gzip -1 -c edge.txt > gzip1.gz && "
             "pigz -p 2 -c edge.txt > pigz.gz && "
             "{ head -c 50000 edge.txt | gzip -c; tail -c +50001 edge.txt | head -c 1 | gzip -c; "
             "tail -c +50002 edge.txt | gzip -9 -c; } > concat.gz && "
             "{ gzip -c < /dev/null; gzip -c < /dev/null; } > only-empty.gz && "
             "{ head -c 60000 edge.txt | bgzip -c; tail -c +60001 edge.txt | gzip -c; } "
             "> bgzf-then-gzip.gz");
    /* One member with every optional header field, and a deflate block every 3000 bytes (so
     * the index has many points even in a small file). */
    f = fopen(path_of("fields.gz"), "wb");
    assert_non_null(f);
    memset(&o, 0, sizeof(o));
    o.extra = o.name = o.comment = o.hcrc = 1;
    o.flush_every = 3000;
    o.flush = Z_FULL_FLUSH;
    tu_gzip_member(f, data, len, &o);
    fclose(f);
    /* Many members of assorted sizes and headers, empty ones among them. */
    f = fopen(path_of("members.gz"), "wb");
    assert_non_null(f);
    for (pos = 0, k = 0; pos < len; k++) {
        size_t n = k % 5 == 0 ? 0 : k % 5 == 1 ? 1 : 1000 + (k * 7919) % 20000;
        if (n > len - pos) {
            n = len - pos;
        }
        memset(&o, 0, sizeof(o));
        o.extra = k % 2;
        o.name = k % 3 == 0;
        o.comment = k % 4 == 0;
        o.hcrc = k % 3 == 1;
        o.level = 1 + (int)(k % 9);
        o.flush_every = k % 2 ? 700 : 0;
        o.flush = Z_FULL_FLUSH;
        tu_gzip_member(f, data + pos, n, &o);
        pos += n;
    }
    fclose(f);
    /* Members whose last data block is not final: an empty final block follows it. */
    f = fopen(path_of("sync-finish.gz"), "wb");
    assert_non_null(f);
    for (pos = 0, k = 0; pos < len; k++) {
        size_t n = 5000 + (k * 7919) % 30000;
        if (n > len - pos) {
            n = len - pos;
        }
        memset(&o, 0, sizeof(o));
        o.sync_then_finish = 1;
        o.flush_every = k % 2 ? 1500 : 0;
        o.flush = Z_FULL_FLUSH;
        tu_gzip_member(f, data + pos, n, &o);
        pos += n;
    }
    fclose(f);
    free(data);
    return names;
}

static void
check_one(const char *fixture, const char *mode, int workers, const char *size)
{
    char *err = NULL;
    int rc;

    if (strcmp(mode, "stream") == 0) {
        tu_sh(0, "rm -f in.gz.tranche-index");
    }
    rc = tu_tranche(&err, "run gz.yaml --workers %d --partition-size %s", workers, size);
    if (rc != 0) {
        fail_msg("%s, %s, %d workers, partition size %s: exit %d: %s", fixture, mode, workers, size,
                 rc, err);
    }
    /* An index made by `tranche index` or by the last run is used, never refused. */
    if (strstr(err, "ignoring the index") != NULL) {
        fail_msg("%s, %s, %d workers, partition size %s: %s", fixture, mode, workers, size, err);
    }
    free(err);
    if (!tu_files_equal(path_of("out.txt"), path_of("ref.txt"))) {
        fail_msg("%s, %s, %d workers, partition size %s: differs from zcat | tr", fixture, mode,
                 workers, size);
    }
}

static void
test_gzip__every_kind_matches_zcat(void **state)
{
    static const char *const sizes[] = {"1", "1000", "100000"};
    const char *const *fixture;
    size_t s;
    int w;

    (void)state;
    write_job("gz", "in.gz", "out.txt");
    for (fixture = make_fixtures(); *fixture != NULL; fixture++) {
        tu_sh(0, "cp '%s' in.gz && rm -f in.gz.tranche-index", *fixture);
        make_reference("in.gz", "ref.txt");
        /* First runs: decoded by the parent as a stream. */
        for (w = 1; w <= 3; w += 2) {
            for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                if (tu_thin()) {
                    check_one(*fixture, "stream", w, sizes[s]);
                }
            }
        }
        check_one(*fixture, "stream", 7, "5000");
        /* Through the index: a point at every deflate block boundary and member header. */
        tu_sh(0, "rm -f in.gz.tranche-index && %s index --beside --spacing 1 in.gz > /dev/null",
              TRANCHE_BIN);
        for (w = 1; w <= 3; w += 2) {
            for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                if (tu_thin()) {
                    check_one(*fixture, "index", w, sizes[s]);
                }
            }
        }
        check_one(*fixture, "index", 7, "5000");
        tu_sh(0, "rm -f in.gz.tranche-index && %s index --beside --spacing 20000 in.gz > /dev/null",
              TRANCHE_BIN);
        check_one(*fixture, "sparse index", 2, "1");
        check_one(*fixture, "sparse index", 2, "30000");
        /* The in-process mode decodes the stream as it goes too. */
        tu_sh(0,
              "rm -f in.gz.tranche-index && %s run gz.yaml --in-process --partition-size 7000 "
              "&& cmp out.txt ref.txt",
              TRANCHE_BIN);
    }
}

static void
test_gzip__the_first_run_leaves_an_index_the_next_uses(void **state)
{
    char *err = NULL, *log;
    size_t len;

    (void)state;
    /* 12 MB decompressed: more than two access points at the default spacing (4 MiB). */
    tu_sh(0,
          "%s --kind access --seed 5 --size 12MiB | gzip -1 > big.gz && zcat big.gz | "
          "LC_ALL=C tr a-z A-Z > big.ref",
          TRANCHE_GEN);
    write_job("big", "big.gz", "big.out");
    tu_sh(0,
          "rm -f big.gz.tranche-index && %s run big.yaml --workers 2 --partition-size 4MiB && "
          "cmp big.out big.ref && [ -s big.gz.tranche-index ]",
          TRANCHE_BIN);
    log = tu_read_file(path_of("logs/big/tranche.log"), &len);
    assert_non_null(log);
    assert_non_null(strstr(log, "decoding it here"));
    assert_non_null(strstr(log, "index written to"));
    free(log);
    /* The second run plans partitions at the index's points and says nothing of decoding. */
    tu_sh(0, "%s plan big.yaml --partition-size 4MiB | wc -l | grep -qx 3", TRANCHE_BIN);
    tu_sh(0,
          "rm -f big.out && %s run big.yaml --workers 2 --partition-size 4MiB && "
          "cmp big.out big.ref",
          TRANCHE_BIN);
    log = tu_read_file(path_of("logs/big/tranche.log"), &len);
    assert_non_null(log);
    assert_null(strstr(log, "decoding it here"));
    free(log);
    /* A changed file (its time moved) never uses the old index: it is noted and rewritten. */
    tu_sh(0, "touch -d '2001-01-01' big.gz");
    assert_int_equal(tu_tranche(&err, "run big.yaml --workers 2"), 0);
    assert_non_null(strstr(err, "changed since"));
    free(err);
    tu_sh(0,
          "cmp big.out big.ref && %s plan big.yaml --partition-size 4MiB 2>&1 | wc -l | "
          "grep -qx 3",
          TRANCHE_BIN);
    /* A damaged index is ignored (and rewritten), never trusted. */
    tu_sh(0, "printf 'XXXX' | dd of=big.gz.tranche-index bs=1 seek=70 conv=notrunc 2>/dev/null");
    assert_int_equal(tu_tranche(&err, "run big.yaml --workers 2 --partition-size 1MiB"), 0);
    assert_non_null(strstr(err, "ignoring the index"));
    free(err);
    tu_sh(0, "cmp big.out big.ref");
    /* Nor is one whose footer (the decompressed size) was damaged. */
    tu_sh(0, "size=$(stat -c %%s big.gz.tranche-index) && printf 'X' | dd of=big.gz.tranche-index "
             "bs=1 seek=$((size - 40 + 17)) conv=notrunc 2>/dev/null");
    assert_int_equal(tu_tranche(&err, "run big.yaml --workers 2 --partition-size 1MiB"), 0);
    assert_non_null(strstr(err, "ignoring the index"));
    free(err);
    tu_sh(0, "cmp big.out big.ref");
    /* An index that cannot be written in full (a file size limit standing in for a full disk)
     * is given up, and the job goes on: its output is complete, its log says why. */
    tu_sh(0,
          "rm -f big.gz.tranche-index && (trap '' XFSZ; ulimit -f 64; %s run big.yaml -o - "
          "--partition-size 256KiB --log-dir logs/fsize) | cmp - big.ref && grep -q 'no index "
          "written' logs/fsize/tranche.log && [ -z \"$(ls | grep big.gz.tranche-index)\" ]",
          TRANCHE_BIN);
    /* `tranche plan` on a file without an index says why it lists nothing. */
    tu_sh(0,
          "rm -f big.gz.tranche-index && %s plan big.yaml 2>plan.err | wc -l | grep -qx 0 && "
          "grep -q 'tranche index' plan.err",
          TRANCHE_BIN);
}

static void
test_gzip__index_goes_to_the_cache_where_the_directory_is_read_only(void **state)
{
    char *err = NULL;

    (void)state;
    tu_sh(0,
          "mkdir -p ro cache && %s --kind access --seed 9 --size 1MiB > ro.txt && gzip -c "
          "ro.txt > ro/in.gz && LC_ALL=C tr a-z A-Z < ro.txt > ro.ref",
          TRANCHE_GEN);
    write_job("ro", "ro/in.gz", "ro.out");
    if (geteuid() != 0) {
        /* root writes anywhere: this half only runs as another user */
        tu_sh(0,
              "chmod 555 ro && TRANCHE_CACHE_DIR=\"$PWD/cache\" %s run ro.yaml && cmp ro.out "
              "ro.ref && [ ! -e ro/in.gz.tranche-index ] && ls cache | grep -q '^in.gz-'",
              TRANCHE_BIN);
        tu_sh(0, "chmod 755 ro && rm -rf cache/*");
    }
    /* A path whose directory cannot hold files (/proc/self/fd) shows the same fallback as
     * root; the cache name comes from the real path. */
    tu_sh(0,
          "TRANCHE_CACHE_DIR=\"$PWD/cache\" %s index --beside --spacing 1 /proc/self/fd/3 3< "
          "ro/in.gz "
          "| grep -q \"$PWD/cache/\"",
          TRANCHE_BIN);
    tu_sh(0,
          "TRANCHE_CACHE_DIR=\"$PWD/cache\" %s plan ro.yaml --partition-size 1 --input "
          "/proc/self/fd/3 3< ro/in.gz | wc -l | awk '$1 < 2 { exit 1 }'",
          TRANCHE_BIN);
    /* No writable place at all: the job still runs, and its log says why there is no index. */
    assert_int_equal(tu_tranche(&err, "run ro.yaml --input /proc/self/fd/3 3< ro/in.gz"), 0);
    free(err);
    tu_sh(0,
          "rm -f ro.out && TRANCHE_CACHE_DIR=/proc/nowhere %s run ro.yaml --input "
          "/proc/self/fd/3 3< ro/in.gz && cmp ro.out ro.ref && grep -q 'no index written' "
          "logs/ro/tranche.log",
          TRANCHE_BIN);
}

/* Flips one byte of `src` at `off` into `dst`. */
static void
corrupt_copy(const char *src, const char *dst, size_t off)
{
    size_t len;
    char *data = tu_read_file(path_of(src), &len);

    assert_non_null(data);
    assert_true(off < len);
    data[off] ^= 0x5a;
    tu_write_file(path_of(dst), data, len);
    free(data);
}

static void
expect_failure_or_exact(const char *what, size_t off, int *failures)
{
    char *err = NULL;
    int rc = tu_tranche(&err, "run bad.yaml --workers 2 --partition-size 20000");

    if (rc == 1) {
        (*failures)++;
        if (strstr(err, "compressed offset") == NULL) {
            fail_msg("%s, byte %zu: the message names no compressed offset: %s", what, off, err);
        }
        tu_sh(0, "[ ! -e bad.out ] && [ -z \"$(ls -A | grep -e '\\.tmp' -e tranche-parts)\" ]");
    } else if (rc == 0) {
        tu_sh(0, "cmp bad.out ref.txt");
    } else {
        fail_msg("%s, byte %zu: exit %d: %s", what, off, rc, err);
    }
    free(err);
}

/* Flips a byte of good.gz at offsets all over it into bad.gz, read as a stream and then through
 * an index made from the good file (the bad file given the same time, so the index is used: the
 * workers must notice through the CRC-32s it recorded). */
static void
corrupt_each(size_t len, int *failures)
{
    size_t off;
    int indexed;

    for (indexed = 0; indexed <= 1; indexed++) {
        for (off = 0; off < len; off += len / 31 + 1) {
            tu_sh(0,
                  "rm -f bad.out bad.gz.tranche-index && cp -p good.gz bad.gz && "
                  "{ [ %d = 0 ] || %s index --beside --spacing 1 bad.gz > /dev/null; }",
                  indexed, TRANCHE_BIN);
            corrupt_copy("good.gz", "bad.gz", off);
            tu_sh(0, "touch -r good.gz bad.gz");
            expect_failure_or_exact(indexed ? "indexed" : "stream", off, failures);
        }
    }
}

static void
test_gzip__corrupt_input_fails_with_the_offset(void **state)
{
    const char *job;
    char *err = NULL;
    size_t len;
    int failures = 0, fixture;

    (void)state;
    tu_write_edge_input(path_of("edge.txt"), EDGE_SIZE, 1, 1);
    /* compression: gzip, so that a changed magic byte is corrupt gzip, not a plain file */
    job = "input:\n  path: bad.gz\n  index: beside\n  compression: gzip\noutput:\n  path: bad.out\n"
          "log_dir: logs/bad\nsteps:\n  - plugin: upper\n";
    tu_write_file(path_of("bad.yaml"), job, strlen(job));
    /* gzip's own output, then three members with a full flush (a stored block) every 2500
     * bytes: segments that libdeflate decodes, at every bit alignment. */
    for (fixture = 0; fixture < 2; fixture++) {
        if (fixture == 0) {
            tu_sh(0, "gzip -c edge.txt > good.gz");
        } else {
            struct tu_member o;
            unsigned char *data = (unsigned char *)tu_read_file(path_of("edge.txt"), &len);
            FILE *f = fopen(path_of("good.gz"), "wb");
            size_t m;
            assert_non_null(data);
            assert_non_null(f);
            memset(&o, 0, sizeof(o));
            o.flush_every = 2500;
            o.flush = Z_FULL_FLUSH;
            for (m = 0; m < 3; m++) {
                tu_gzip_member(f, data + len * m / 3, len * (m + 1) / 3 - len * m / 3, &o);
            }
            fclose(f);
            free(data);
        }
        make_reference("good.gz", "ref.txt");
        free(tu_read_file(path_of("good.gz"), &len));
        corrupt_each(len, &failures);
    }
    assert_true(failures > 120);
    tu_sh(0, "gzip -c edge.txt > good.gz");
    make_reference("good.gz", "ref.txt");

    /* Truncated anywhere, garbage or zeros after the last member: exit 1, never output. */
    tu_sh(0, "rm -f bad.gz.tranche-index && head -c -1 good.gz > bad.gz");
    assert_int_equal(tu_tranche(&err, "run bad.yaml"), 1);
    assert_non_null(strstr(err, "truncated"));
    free(err);
    tu_sh(0, "head -c 5000 good.gz > bad.gz");
    assert_int_equal(tu_tranche(&err, "run bad.yaml"), 1);
    assert_non_null(strstr(err, "truncated"));
    free(err);
    tu_sh(0, "{ cat good.gz; printf 'tail'; } > bad.gz");
    assert_int_equal(tu_tranche(&err, "run bad.yaml"), 1);
    assert_non_null(strstr(err, "4 bytes of garbage after its last gzip member"));
    free(err);
    tu_sh(0, "{ cat good.gz; head -c 512 /dev/zero; } > bad.gz");
    assert_int_equal(tu_tranche(&err, "run bad.yaml"), 1);
    assert_non_null(strstr(err, "garbage"));
    free(err);
    tu_sh(0, "[ ! -e bad.out ]");
}

static void
test_gzip__one_partition_checks_what_it_decodes(void **state)
{
    /* --partition K decodes past its partition to end its last record; with a corrupt file and
     * the good file's index, each partition must either fail or give exactly what it gives on
     * the good file: the bytes past its end are checked too, though partition K+1 never runs. */
    struct tu_member o;
    const char *job;
    char *err = NULL, *text;
    unsigned char *data;
    size_t len, off, k, n_parts;
    int failures = 0, rc;
    FILE *f;

    (void)state;
    tu_write_edge_input(path_of("edge.txt"), EDGE_SIZE, 0, 0);
    data = (unsigned char *)tu_read_file(path_of("edge.txt"), &len);
    f = fopen(path_of("good.gz"), "wb");
    assert_non_null(data);
    assert_non_null(f);
    memset(&o, 0, sizeof(o));
    o.flush_every = 2000;
    o.flush = Z_FULL_FLUSH;
    tu_gzip_member(f, data, len, &o);
    fclose(f);
    free(data);
    job = "input:\n  path: one.gz\n  index: beside\noutput:\n  path: one.out\nlog_dir: logs/one\n"
          "partition_size: 9000\nsteps:\n  - plugin: upper\n";
    tu_write_file(path_of("one.yaml"), job, strlen(job));
    tu_sh(0,
          "cp -p good.gz one.gz && %s index --beside --spacing 1 one.gz > /dev/null && "
          "%s plan one.yaml | wc -l > parts.txt",
          TRANCHE_BIN, TRANCHE_BIN);
    text = tu_read_file(path_of("parts.txt"), &len);
    assert_non_null(text);
    n_parts = strtoul(text, NULL, 10);
    free(text);
    assert_true(n_parts > 5);
    for (k = 0; k < n_parts; k++) {
        tu_sh(0, "%s run one.yaml --partition %zu -o good-%zu.out", TRANCHE_BIN, k, k);
    }
    free(tu_read_file(path_of("good.gz"), &len));
    for (off = 300; off + 100 < len; off += len / 7) {
        corrupt_copy("good.gz", "one.gz", off);
        tu_sh(0, "touch -r good.gz one.gz");
        for (k = 0; k < n_parts; k++) {
            rc = tu_tranche(&err, "run one.yaml --partition %zu -o bad.out", k);
            if (rc == 0) {
                tu_sh(0, "cmp bad.out good-%zu.out", k);
            } else if (rc != 1) {
                fail_msg("byte %zu, partition %zu: exit %d: %s", off, k, rc, err);
            } else {
                failures++;
            }
            free(err);
            err = NULL;
        }
    }
    assert_true(failures > 0);
}

static void
test_gzip__one_partition_at_the_end_of_the_file(void **state)
{
    /* A last record that runs to the end of the file without a delimiter, then an empty member:
     * the partitions before the last read on to the end of the file to finish that record,
     * and each run alone (--partition K) must still succeed and give its part. */
    struct tu_member o;
    unsigned char *data = malloc(200002);
    size_t k, n_parts, len;
    char *text;
    FILE *f;

    (void)state;
    assert_non_null(data);
    memcpy(data, "x\n", 2);
    memset(data + 2, 'y', 200000);
    f = fopen(path_of("end.gz"), "wb");
    assert_non_null(f);
    memset(&o, 0, sizeof(o));
    o.flush_every = 1000;
    o.flush = Z_FULL_FLUSH;
    tu_gzip_member(f, data, 200002, &o);
    memset(&o, 0, sizeof(o));
    tu_gzip_member(f, data, 0, &o);
    fclose(f);
    free(data);
    tu_write_file(
        path_of("end.yaml"),
        "input:\n  path: end.gz\n  index: beside\noutput:\n  path: end.out\npartition_size: 20000\n"
        "steps:\n  - plugin: upper\n",
        strlen("input:\n  path: end.gz\n  index: beside\noutput:\n  path: end.out\npartition_size: "
               "20000\nsteps:\n  - plugin: upper\n"));
    tu_sh(0,
          "%s index --beside --spacing 1 end.gz > /dev/null && %s run end.yaml && { zcat end.gz | "
          "LC_ALL=C tr a-z A-Z; echo; } | cmp - end.out && %s plan end.yaml | wc -l > parts.txt",
          TRANCHE_BIN, TRANCHE_BIN, TRANCHE_BIN);
    text = tu_read_file(path_of("parts.txt"), &len);
    assert_non_null(text);
    n_parts = strtoul(text, NULL, 10);
    free(text);
    assert_true(n_parts > 3);
    tu_sh(0, "rm -f parts.out");
    for (k = 0; k < n_parts; k++) {
        tu_sh(0, "%s run end.yaml --partition %zu -o - >> parts.out", TRANCHE_BIN, k);
    }
    tu_sh(0, "cmp parts.out end.out");
}

static void
test_gzip__partition_past_the_end_is_a_usage_error_for_every_input(void **state)
{
    /* One answer whatever the input: a partition the job does not have is exit 2 (nothing ran),
     * for plain input (known from the plan), an indexed gzip input (likewise) and a gzip stream
     * (known only once it is decoded), and the output path is not touched. */
    static const char *const inputs[] = {"past.txt", "past-indexed.gz", "past-stream.gz"};
    const char *job = "input:\n  path: past.txt\n  index: beside\noutput:\n  path: past.out\n"
                      "partition_size: 4096\nsteps:\n  - plugin: upper\n";
    char *err = NULL;
    size_t i;

    (void)state;
    tu_write_file(path_of("past.yaml"), job, strlen(job));
    tu_sh(0,
          "seq 1 20000 > past.txt && gzip -c past.txt > past-indexed.gz && "
          "cp past-indexed.gz past-stream.gz && %s index --beside --spacing 4096 past-indexed.gz "
          ">/dev/null",
          TRANCHE_BIN);
    for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        tu_sh(0, "rm -f past.out past-stream.gz.tranche-index");
        assert_int_equal(tu_tranche(&err, "run past.yaml --input %s --partition 100000", inputs[i]),
                         2);
        assert_non_null(strstr(err, "--partition 100000"));
        assert_non_null(strstr(err, "partition(s)"));
        free(err);
        err = NULL;
        tu_sh(0, "test ! -e past.out");
        /* and the last partition that exists runs */
        tu_sh(0,
              "n=$(%s plan past.yaml --input %s 2>/dev/null | wc -l); [ \"$n\" -gt 0 ] || n=1; "
              "%s run past.yaml --input %s --partition $((n - 1)) -q > /dev/null",
              TRANCHE_BIN, inputs[i], TRANCHE_BIN, inputs[i]);
    }
}

static void
test_gzip__one_partition_of_a_stream_checks_the_end_when_it_decodes_it(void **state)
{
    /* --partition K over a gzip stream decodes as far as a full run would have while K ran: one
     * partition past K. With K the last but one, that is the end of the file, so a damaged
     * trailer fails the run (and an intact one leaves the index), whatever K's own bytes. The
     * file is sized so that the end lies over 1 MiB (what the parent decodes at a time) past
     * the end of partition K. */
    const char *job = "input:\n  path: tail.gz\n  index: beside\noutput:\n  path: tail.out\n"
                      "partition_size: 2MiB\nsteps:\n  - plugin: upper\n";
    char *err = NULL;
    long k, last = -1;

    (void)state;
    tu_write_file(path_of("tail.yaml"), job, strlen(job));
    tu_sh(0, "seq 1 1100000 | gzip -n > tail.gz && cp tail.gz tail.good");
    for (k = 0; k < 1000 && last < 0; k++) {
        tu_sh(0, "rm -f tail.gz.tranche-index");
        if (tu_tranche(NULL, "run tail.yaml --partition %ld -q > /dev/null", k) == 2) {
            last = k - 1;
        }
    }
    assert_true(last >= 2);
    tu_sh(0,
          "rm -f tail.gz.tranche-index && %s run tail.yaml --partition %ld -q > /dev/null && "
          "test -f tail.gz.tranche-index",
          TRANCHE_BIN, last - 1);
    /* the CRC-32 in the trailer, 8 bytes before the end, changed */
    tu_sh(0, "rm -f tail.gz.tranche-index tail.out && size=$(wc -c < tail.gz) && "
             "printf '\\377' | dd of=tail.gz bs=1 seek=$((size - 8)) conv=notrunc 2>/dev/null && "
             "! cmp -s tail.gz tail.good");
    assert_int_equal(tu_tranche(&err, "run tail.yaml --partition %ld", last - 1), 1);
    assert_non_null(strstr(err, "CRC"));
    free(err);
    tu_sh(0, "test ! -e tail.out && test ! -e tail.gz.tranche-index");
}

static void
test_gzip__an_index_that_does_not_match_the_content_is_not_used(void **state)
{
    /* The file is rewritten with other bytes, the same size and the same modification time: the
     * index (keyed by size and mtime) no longer fits it, and a run must say so and decode the
     * file as a stream, not call the sound file corrupt. */
    const char *job = "input:\n  path: same.gz\n  index: beside\noutput:\n  path: same.out\n"
                      "partition_size: 64KiB\nsteps:\n  - plugin: upper\n";
    char *err = NULL;

    (void)state;
    tu_write_file(path_of("same.yaml"), job, strlen(job));
    tu_sh(0,
          "seq 1 200000 | gzip -n > same.gz && %s index --beside --spacing 256KiB same.gz > "
          "/dev/null "
          "&& "
          "seq 2 200001 | gzip -n > other.gz && "
          "[ $(wc -c < other.gz) -eq $(wc -c < same.gz) ] || "
          "{ echo 'the two files differ in size: pick others' >&2; false; }",
          TRANCHE_BIN);
    tu_sh(0, "touch -r same.gz other.gz && cp -p other.gz same.gz");
    assert_int_equal(tu_tranche(&err, "run same.yaml --workers 2"), 0);
    assert_non_null(strstr(err, "does not match the gzip file's content"));
    free(err);
    tu_sh(0, "seq 2 200001 | cmp - same.out");
    /* the run wrote the index again: the next run uses it, silently */
    assert_int_equal(tu_tranche(&err, "run same.yaml --workers 2"), 0);
    assert_null(strstr(err, "does not match"));
    free(err);
    tu_sh(0, "seq 2 200001 | cmp - same.out");
    /* a FIFO where the index goes does not block the run */
    tu_sh(0,
          "rm -f same.gz.tranche-index && mkfifo same.gz.tranche-index && "
          "timeout 20 %s run same.yaml --workers 2 2>/dev/null && seq 2 200001 | cmp - same.out && "
          "rm same.gz.tranche-index && %s run same.yaml -q",
          TRANCHE_BIN, TRANCHE_BIN);
    /* an index anyone may write to is not trusted */
    tu_sh(0, "chmod o+w same.gz.tranche-index");
    assert_int_equal(tu_tranche(&err, "run same.yaml --workers 2"), 0);
    assert_non_null(strstr(err, "anyone may write to it"));
    free(err);
    tu_sh(0, "seq 2 200001 | cmp - same.out && rm -f same.gz.tranche-index");
}

static void
test_gzip__a_stream_cut_into_too_many_partitions_is_refused(void **state)
{
    /* A stream's partitions are cut as it is decoded, so the partition limit is checked as they
     * come: promptly, not after a partition per record has run; a usage error (2), as for a
     * plain input. */
    const char *job = "input:\n  path: tiny.gz\n  index: beside\noutput:\n  path: tiny.out\n"
                      "partition_size: 1\nsteps:\n  - plugin: upper\n";
    char *err = NULL;

    (void)state;
    tu_write_file(path_of("tiny.yaml"), job, strlen(job));
    tu_sh(0, "seq 1 300000 | gzip > tiny.gz");
    assert_int_equal(tu_tranche(&err, "run tiny.yaml --workers 2"), 2);
    assert_non_null(strstr(err, "more than 100000 partitions"));
    free(err);
    tu_sh(0, "test ! -e tiny.out && test ! -e tiny.gz.tranche-index");
}

static void
test_gzip__indexes_go_to_the_cache_and_the_cache_is_bounded(void **state)
{
    /* By default an index goes to the per-user cache, never beside the data; `index: off`
     * writes none; the cache keeps within TRANCHE_CACHE_SIZE, dropping what was used least
     * recently. */
    static const char job[] = "input:\n  path: %s\n%soutput:\n  path: c.out\n"
                              "partition_size: 256KiB\nsteps:\n  - plugin: upper\n";
    char text[512];
    int k;

    (void)state;
    for (k = 1; k <= 3; k++) {
        char name[32];
        snprintf(name, sizeof(name), "c%d.gz", k);
        snprintf(text, sizeof(text), job, name, "");
        snprintf(name, sizeof(name), "c%d.yaml", k);
        tu_write_file(path_of(name), text, strlen(text));
    }
    snprintf(text, sizeof(text), job, "c1.gz", "  index: off\n");
    tu_write_file(path_of("off.yaml"), text, strlen(text));
    tu_sh(0, "rm -rf cc && for k in 1 2 3; do seq $k 300000 | gzip > c$k.gz; done");
    tu_sh(0,
          "export TRANCHE_CACHE_DIR=\"$PWD/cc\" && %s run off.yaml -q && [ ! -e cc ] && "
          "%s run c1.yaml -q && [ ! -e c1.gz.tranche-index ] && "
          "ls cc | grep -q '^c1\\.gz-.*\\.tranche-index$' && seq 1 300000 | LC_ALL=C tr a-z A-Z "
          "| cmp - c.out && [ $(%s plan c1.yaml | wc -l) -gt 3 ]",
          TRANCHE_BIN, TRANCHE_BIN, TRANCHE_BIN);
    /* each index is about 200 KiB here: a bound of 500 KiB keeps two, the two used last */
    tu_sh(0,
          "export TRANCHE_CACHE_DIR=\"$PWD/cc\" TRANCHE_CACHE_SIZE=500KiB && "
          "size=$(stat -c %%s cc/c1.gz-*) && [ $size -gt 170000 ] && [ $size -lt 250000 ] && "
          "%s run c2.yaml -q && sleep 0.01 && %s run c1.yaml -q && sleep 0.01 && "
          "%s run c3.yaml -q && ls cc | grep -q '^c1\\.gz-' && ls cc | grep -q '^c3\\.gz-' && "
          "! ls cc | grep -q '^c2\\.gz-' && [ -z \"$(ls | grep '^c[123]\\.gz\\.tranche')\" ]",
          TRANCHE_BIN, TRANCHE_BIN, TRANCHE_BIN);
    /* tranche index too writes to the cache unless told --beside */
    tu_sh(0,
          "export TRANCHE_CACHE_DIR=\"$PWD/cc2\" && %s index c2.gz > /dev/null && "
          "ls cc2 | grep -q '^c2\\.gz-' && [ ! -e c2.gz.tranche-index ] && "
          "%s index --beside c2.gz > /dev/null && [ -e c2.gz.tranche-index ] && "
          "rm -rf cc cc2 c?.gz c2.gz.tranche-index c.out",
          TRANCHE_BIN, TRANCHE_BIN);
}

static void
test_gzip__a_signal_leaves_no_index_behind(void **state)
{
    static const char job[] =
        "input:\n  path: sig.gz\n  index: beside\noutput:\n  path: sig.out\nlog_dir: logs/sig\n"
        "partition_size: 64KiB\nsteps:\n  - plugin: " TEST_PLUGIN_DIR "/failer.so\n"
        "    options: { match: sleepy, mode: hang, marker: sig.hit }\n";
    char *err = NULL;
    int rc;

    (void)state;
    /* A first run stopped while a worker hangs on record 11, so that the ring (32 MiB) is full
     * and the parent has not decoded the whole file: exit 1, no output, no index, and no
     * temporary file of one. SIGTERM goes once the worker hangs (its marker), the temporary
     * index is on disk, and the parent sleeps: it never does while it can decode, so it has
     * filled the ring, which partition 0 holds on to, with a file larger than the ring. */
    tu_sh(0, "seq 1 6000000 | sed -e 's/^11$/11 sleepy/' | gzip -1 > sig.gz && "
             "rm -f sig.gz.tranche-index sig.hit");
    tu_write_file(path_of("sig.yaml"), job, strlen(job));
    rc = tu_run_here(&err,
                     TU_SH_WAIT "{ %s run sig.yaml --workers 2 & } && pid=$! && "
                                "tu_wait_for 30 '[ -e sig.hit ] && [ \"$(tu_state $pid)\" = S ] && "
                                "tu_exists \"sig.gz.tranche-index.tmp-*\"'; seen=$?; "
                                "kill -TERM $pid; tu_reap $pid 30; rc=$?; if [ $seen -ne 0 ]; then "
                                "echo 'never saw the worker hang with the ring full' >&2; exit 99; "
                                "fi; exit $rc",
                     TRANCHE_BIN);
    if (rc != 1 || strstr(err, "interrupted by signal SIGTERM") == NULL) {
        fail_msg("exit %d, expected 1 and \"interrupted by signal SIGTERM\": %s", rc, err);
    }
    free(err);
    tu_sh(0, "[ ! -e sig.out ] && [ -z \"$(ls -a | grep -e 'sig.gz.tranche-index' -e "
             "'^\\.tranche')\" ]");
}

static void
test_gzip__bad_headers_are_named(void **state)
{
    struct tu_member o;
    const char *job;
    char *err = NULL;
    FILE *f;

    (void)state;
    job = "input:\n  path: hdr.gz\n  index: beside\noutput:\n  path: hdr.out\nlog_dir: logs/hdr\n"
          "steps:\n  - plugin: upper\n";
    tu_write_file(path_of("hdr.yaml"), job, strlen(job));
    /* A member whose header CRC does not match its header, after a good one. */
    f = fopen(path_of("hdr.gz"), "wb");
    assert_non_null(f);
    memset(&o, 0, sizeof(o));
    o.name = o.hcrc = 1;
    tu_gzip_member(f, "good\n", 5, &o);
    o.bad_hcrc = 1;
    tu_gzip_member(f, "bad\n", 4, &o);
    fclose(f);
    assert_int_equal(tu_tranche(&err, "run hdr.yaml"), 1);
    assert_non_null(strstr(err, "header CRC of the gzip member at compressed offset"));
    free(err);
    /* A second member with reserved flag bits, and one with another compression method. */
    tu_sh(0, "{ printf 'a\\n' | gzip -n; printf 'b\\n' | gzip -n > m.gz; printf '\\340' | "
             "dd of=m.gz bs=1 seek=3 conv=notrunc 2>/dev/null; cat m.gz; } > hdr.gz");
    assert_int_equal(tu_tranche(&err, "run hdr.yaml"), 1);
    assert_non_null(strstr(err, "reserved flag bits"));
    free(err);
    tu_sh(0, "{ printf 'a\\n' | gzip -n; printf 'b\\n' | gzip -n > m.gz; printf '\\007' | "
             "dd of=m.gz bs=1 seek=2 conv=notrunc 2>/dev/null; cat m.gz; } > hdr.gz");
    assert_int_equal(tu_tranche(&err, "run hdr.yaml"), 1);
    assert_non_null(strstr(err, "compression method 7"));
    free(err);
    tu_sh(0, "[ ! -e hdr.out ]");
}

static void
test_gzip__a_record_longer_than_the_ring_needs_the_index(void **state)
{
    char *err = NULL;

    (void)state;
    /* One 40 MB record: more than the parent's 32 MiB ring can hold while decoding. */
    tu_sh(0, "{ echo first; head -c 40000000 /dev/zero | tr '\\0' x; echo; echo last; } | "
             "gzip -1 > long.gz");
    write_job("long", "long.gz", "long.out");
    assert_int_equal(tu_tranche(&err, "run long.yaml --workers 2"), 1);
    assert_non_null(strstr(err, "longer than the 32 MiB"));
    assert_non_null(strstr(err, "tranche index long.gz"));
    free(err);
    tu_sh(0,
          "[ ! -e long.out ] && %s index --beside long.gz > /dev/null && %s run long.yaml "
          "--workers 2 "
          "&& "
          "zcat long.gz | LC_ALL=C tr a-z A-Z | cmp - long.out",
          TRANCHE_BIN, TRANCHE_BIN);
}

static void
test_gzip__index_command(void **state)
{
    char *err = NULL;

    (void)state;
    tu_sh(0, "seq 1 1000 > n.txt && gzip -c n.txt > n.gz && bgzip -c n.txt > n.bgz");
    tu_sh(0,
          "%s index --beside --help | grep -q 'usage: tranche index' && %s help index | grep -q "
          "spacing",
          TRANCHE_BIN, TRANCHE_BIN);
    tu_sh(
        0,
        "%s index --beside n.gz | grep -q '1 member(s), 3893 bytes decompressed; index written to "
        "n.gz.tranche-index'",
        TRANCHE_BIN);
    tu_sh(0, "%s index --beside n.bgz | grep -q 'no index needed' && [ ! -e n.bgz.tranche-index ]",
          TRANCHE_BIN);
    assert_int_equal(tu_tranche(&err, "index --beside n.txt"), 2);
    assert_non_null(strstr(err, "n.txt is not gzip"));
    free(err);
    assert_int_equal(tu_tranche(&err, "index --beside --spacing 0 n.gz"), 2);
    free(err);
    assert_int_equal(tu_tranche(&err, "index --beside --bogus n.gz"), 2);
    free(err);
    assert_int_equal(tu_tranche(&err, "index"), 2);
    free(err);
    assert_int_equal(tu_tranche(&err, "index --beside missing.gz"), 2);
    assert_non_null(strstr(err, "missing.gz"));
    free(err);
    /* Several files at once: each indexed, a corrupt one failing alone. */
    tu_sh(0,
          "for k in 1 2 3 4; do seq $k 9000 | gzip > m$k.gz; done && head -c -5 m4.gz > m5.gz && "
          "rm -f m*.gz.tranche-index");
    assert_int_equal(
        tu_tranche(&err, "index --beside --jobs 3 m1.gz m2.gz m3.gz m5.gz m4.gz n.bgz"), 1);
    assert_non_null(strstr(err, "m5.gz is truncated"));
    free(err);
    tu_sh(0, "for k in 1 2 3 4; do [ -s m$k.gz.tranche-index ] || exit 1; done && "
             "[ ! -e m5.gz.tranche-index ] && [ -z \"$(ls | grep '\\.tmp-')\" ]");
    assert_int_equal(tu_tranche(&err, "index --beside --jobs 0 n.gz"), 2);
    free(err);
    /* A job over several large ones without indexes says how to index them in parallel; over
     * small ones (which a run leaves no index for), it says nothing. */
    tu_sh(0, "for k in 1 2 3; do head -c 1200000 /dev/urandom | base64 | gzip -1 > L$k.gz; done && "
             "rm -f m*.gz.tranche-index && printf 'input:\\n  path: \"L[1-3].gz\"\\noutput:\\n  "
             "path: L.out\\npartition_size: 256KiB\\nsteps:\\n  - plugin: upper\\n' > L.yaml && "
             "printf 'input:\\n  "
             "path: \"m[1-3].gz\"\\noutput:\\n  path: m.out\\nsteps:\\n  - plugin: upper\\n' "
             "> m.yaml");
    assert_int_equal(tu_tranche(&err, "run L.yaml --workers 2"), 0);
    assert_non_null(strstr(err, "3 large gzip inputs have no index yet"));
    free(err);
    tu_sh(0, "zcat L1.gz L2.gz L3.gz | LC_ALL=C tr a-z A-Z | cmp - L.out");
    assert_int_equal(tu_tranche(&err, "run L.yaml --workers 2"), 0);
    assert_null(strstr(err, "no index yet")); /* the first run indexed them */
    free(err);
    assert_int_equal(tu_tranche(&err, "run m.yaml --workers 2"), 0);
    assert_null(strstr(err, "no index yet"));
    free(err);
    tu_sh(0, "zcat m1.gz m2.gz m3.gz | cmp - m.out && [ ! -e m1.gz.tranche-index ] && "
             "rm -f L*.gz L*.gz.tranche-index L.out");
    tu_sh(0, "head -c -3 n.gz > cut.gz");
    assert_int_equal(tu_tranche(&err, "index --beside cut.gz"), 1);
    assert_non_null(strstr(err, "truncated"));
    free(err);
    tu_sh(0, "[ ! -e cut.gz.tranche-index ] && [ -z \"$(ls | grep '\\.tmp-')\" ]");
}

static int
setup(void **state)
{
    tu_group_setup(state);
    /* Indexes that cannot go beside their file go here, never into the user's cache. */
    setenv("TRANCHE_CACHE_DIR", path_of("cache"), 1);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip__every_kind_matches_zcat),
        cmocka_unit_test(test_gzip__the_first_run_leaves_an_index_the_next_uses),
        cmocka_unit_test(test_gzip__index_goes_to_the_cache_where_the_directory_is_read_only),
        cmocka_unit_test(test_gzip__corrupt_input_fails_with_the_offset),
        cmocka_unit_test(test_gzip__one_partition_checks_what_it_decodes),
        cmocka_unit_test(test_gzip__one_partition_at_the_end_of_the_file),
        cmocka_unit_test(test_gzip__partition_past_the_end_is_a_usage_error_for_every_input),
        cmocka_unit_test(test_gzip__one_partition_of_a_stream_checks_the_end_when_it_decodes_it),
        cmocka_unit_test(test_gzip__an_index_that_does_not_match_the_content_is_not_used),
        cmocka_unit_test(test_gzip__a_stream_cut_into_too_many_partitions_is_refused),
        cmocka_unit_test(test_gzip__indexes_go_to_the_cache_and_the_cache_is_bounded),
        cmocka_unit_test(test_gzip__a_signal_leaves_no_index_behind),
        cmocka_unit_test(test_gzip__bad_headers_are_named),
        cmocka_unit_test(test_gzip__a_record_longer_than_the_ring_needs_the_index),
        cmocka_unit_test(test_gzip__index_command),
    };

    return cmocka_run_group_tests(tests, setup, tu_group_teardown);
}
