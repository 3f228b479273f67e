/*
 * tests/core/test_stream.c: tests core/stream.c over a sequential source (standard input that is
 * a pipe): plain bytes and gzip (members with every optional header field) read through a
 * descriptor that gives one byte per read, so that every header field, trailer and delimiter is
 * split across reads; the partitions cut must hold exactly the data, each ending after a
 * delimiter except the last.
 */
/* cmocka.h needs these before it. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "plan.h"
#include "stream.h"
#include "testutil.h"

#define RING (1u << 20)

/* A descriptor from which each read() gives at most one byte of bytes[0, len) (datagrams of one
 * byte on a SOCK_SEQPACKET pair, written by a child). *child is the writer's pid. */
static int
one_byte_reads(const unsigned char *bytes, size_t len, pid_t *child)
{
    int sv[2];
    size_t i;

    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    *child = fork();
    assert_true(*child >= 0);
    if (*child == 0) {
        close(sv[0]);
        for (i = 0; i < len; i++) {
            if (write(sv[1], bytes + i, 1) != 1) {
                _exit(1);
            }
        }
        _exit(0);
    }
    close(sv[1]);
    return sv[0];
}

/* Reads a sequential source whose first head_len bytes were read already (they are bytes[0,
 * head_len)) through a stream, and checks the partitions against `want`. Returns 0, or -1 with
 * err set (a corrupt stream). */
static int
read_stream(const unsigned char *bytes, size_t len, size_t head_len, int gzip,
            const unsigned char *want, size_t want_len, uint64_t target, struct error *err)
{
    struct stream *s = NULL;
    struct stream_source src;
    struct plan plan;
    enum stream_status status = STREAM_MORE;
    struct stat st;
    size_t k, at = 0;
    pid_t child;
    int fd = one_byte_reads(bytes + head_len, len - head_len, &child), rc = 0;

    memset(&plan, 0, sizeof(plan));
    memset(&st, 0, sizeof(st));
    memset(&src, 0, sizeof(src));
    src.fd = fd;
    src.path = "standard input";
    src.st = &st;
    src.gzip = gzip;
    src.sequential = 1;
    src.head = bytes;
    src.head_len = head_len;
    assert_int_equal(stream_new(RING, &s, err), 0);
    rc = stream_start(s, &src, target, tu_lines_of('\n'), 0, 0, err);
    while (rc == 0 && status != STREAM_END) {
        rc = stream_step(s, &plan, 4096, &status, err);
        assert_int_not_equal(status, STREAM_FULL); /* the ring holds all of it */
    }
    for (k = 0; rc == 0 && k < plan.n_parts; k++) {
        const struct partition *p = &plan.parts[k];
        const char *data = stream_data(s, p);

        assert_int_equal(p->start, at);
        assert_true(p->end > p->start && p->end <= want_len);
        assert_memory_equal(data, want + at, p->end - p->start);
        if (k + 1 < plan.n_parts) {
            assert_int_equal(data[p->end - p->start - 1], '\n');
        }
        at = p->end;
    }
    if (rc == 0) {
        assert_int_equal(at, want_len);
    }
    close(fd);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    stream_free(s);
    plan_release(&plan);
    return rc;
}

/* Lines "record N" and some long ones. */
static unsigned char *
records(size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    int i;

    assert_non_null(f);
    for (i = 0; i < 3000; i++) {
        fprintf(f, i % 500 == 7 ? "%d %0300d\n" : "record %d\n", i, i);
    }
    fclose(f);
    *len = size;
    return (unsigned char *)buf;
}

static void
test_stream__plain_bytes_one_at_a_time(void **state)
{
    struct error err;
    size_t len, head;
    unsigned char *data = records(&len);

    (void)state;
    for (head = 0; head <= 2; head++) {
        assert_int_equal(read_stream(data, len, head, 0, data, len, 1000, &err), 0);
    }
    /* Without a last delimiter; and nothing at all. */
    assert_int_equal(read_stream(data, len - 1, 2, 0, data, len - 1, 777, &err), 0);
    assert_int_equal(read_stream(data, 0, 0, 0, data, 0, 777, &err), 0);
    free(data);
}

static void
test_stream__gzip_one_byte_at_a_time(void **state)
{
    struct tu_member o = {1, 1, 1, 1, 0, 6, 0, 0, 0};
    struct error err;
    char *gz = NULL;
    size_t gz_len = 0, len;
    unsigned char *data = records(&len);
    FILE *f = open_memstream(&gz, &gz_len);

    (void)state;
    assert_non_null(f);
    /* Three members: every header field, an empty one, then the rest with sync flushes. */
    tu_gzip_member(f, data, len / 2, &o);
    memset(&o, 0, sizeof(o));
    tu_gzip_member(f, data, 0, &o);
    o.flush_every = 1000;
    o.flush = Z_SYNC_FLUSH;
    tu_gzip_member(f, data + len / 2, len - len / 2, &o);
    fclose(f);
    assert_int_equal(read_stream((unsigned char *)gz, gz_len, 2, 1, data, len, 1000, &err), 0);
    /* Cut short, inside the last trailer: named, with the offset where it ends. */
    assert_int_equal(read_stream((unsigned char *)gz, gz_len - 3, 2, 1, data, len, 1000, &err), -1);
    tu_assert_contains(err.msg, "standard input is truncated");
    free(gz);
    free(data);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream__plain_bytes_one_at_a_time),
        cmocka_unit_test(test_stream__gzip_one_byte_at_a_time),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
