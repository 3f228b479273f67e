/*
 * bench/baseline.c: the "plain C loop" of the benchmark. One process, no partitions: read() in
 * 1 MiB blocks, split records with memchr, apply the same per-record logic as the bundled plugins,
 * copy each emitted record and its newline into an output buffer, write() it in 1 MiB blocks.
 * tranche with one worker is measured against this; it is not part of the CMake build.
 *
 *   baseline upper FILE
 *   baseline grep -F PATTERN FILE
 *   baseline grep -E PATTERN FILE
 *   baseline cut DELIM LIST FILE       (LIST as cut -f: 1,9 or 3-5 or -2 or 4-)
 *
 * Output goes to standard output, byte-identical to LC_ALL=C tr a-z A-Z, grep -F, grep -E and
 * cut -d DELIM -f LIST (a last record without a newline gets one, as grep and cut add it).
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK (1u << 20)

enum transform { T_UPPER, T_GREP_FIXED, T_GREP_REGEX, T_CUT };

/* A field range of cut -f, 1-based and inclusive; hi == 0 means "to the last field". */
struct range {
    size_t lo, hi;
};

struct job {
    enum transform transform;
    const char *pattern;
    size_t pattern_len;
    regex_t regex;
    char delim;
    struct range *ranges;
    size_t n_ranges;
    size_t last_field; /* the highest field any range needs, 0 if one is open-ended */
};

struct out {
    char *buf;
    size_t len;
};

static void
die(const char *what)
{
    fprintf(stderr, "baseline: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void
out_flush(struct out *o)
{
    size_t done = 0;

    while (done < o->len) {
        ssize_t n = write(STDOUT_FILENO, o->buf + done, o->len - done);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("write standard output");
        }
        done += (size_t)n;
    }
    o->len = 0;
}

/* Copies bytes into the output buffer, as the host's emit copies what a plugin hands it. */
static void
out_put(struct out *o, const char *data, size_t len)
{
    if (o->len + len > BLOCK) {
        out_flush(o);
    }
    if (len > BLOCK) {
        /* A record longer than the buffer goes straight out. */
        struct out big = {(char *)data, len};
        out_flush(&big);
        return;
    }
    memcpy(o->buf + o->len, data, len);
    o->len += len;
}

static void
emit(struct out *o, const char *data, size_t len)
{
    out_put(o, data, len);
    out_put(o, "\n", 1);
}

static int
field_selected(const struct job *j, size_t field)
{
    for (size_t i = 0; i < j->n_ranges; i++) {
        if (field >= j->ranges[i].lo && (j->ranges[i].hi == 0 || field <= j->ranges[i].hi)) {
            return 1;
        }
    }
    return 0;
}

/* cut -f: the selected fields joined by the delimiter; a record without the delimiter is passed
 * whole (cut without -s). Scanning stops after the last field that can be selected. */
static void
cut_record(const struct job *j, struct out *o, const char *rec, size_t len)
{
    const char *end = rec + len;
    const char *p = rec;
    size_t field = 1;
    int first = 1;

    if (memchr(rec, j->delim, len) == NULL) {
        emit(o, rec, len);
        return;
    }
    while (p <= end) {
        const char *d = memchr(p, j->delim, (size_t)(end - p));
        const char *field_end = d != NULL ? d : end;

        if (field_selected(j, field)) {
            if (!first) {
                out_put(o, &j->delim, 1);
            }
            out_put(o, p, (size_t)(field_end - p));
            first = 0;
        }
        if (d == NULL || (j->last_field != 0 && field >= j->last_field)) {
            break;
        }
        p = d + 1;
        field++;
    }
    out_put(o, "\n", 1);
}

static void
record(struct job *j, struct out *o, char *rec, size_t len)
{
    switch (j->transform) {
    case T_UPPER:
        for (size_t i = 0; i < len; i++) {
            if (rec[i] >= 'a' && rec[i] <= 'z') {
                rec[i] = (char)(rec[i] - ('a' - 'A'));
            }
        }
        emit(o, rec, len);
        break;
    case T_GREP_FIXED:
        if (memmem(rec, len, j->pattern, j->pattern_len) != NULL) {
            emit(o, rec, len);
        }
        break;
    case T_GREP_REGEX: {
        regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)len};

        if (regexec(&j->regex, rec, 1, &m, REG_STARTEND) == 0) {
            emit(o, rec, len);
        }
        break;
    }
    case T_CUT:
        cut_record(j, o, rec, len);
        break;
    }
}

/* Reads the file in blocks; the unfinished record at the end of a block moves to the front of the
 * buffer and the next read appends to it (the buffer grows for a record longer than a block). */
static void
run(struct job *j, int fd)
{
    size_t cap = 2 * BLOCK;
    char *buf = malloc(cap);
    size_t have = 0;
    struct out o = {malloc(BLOCK), 0};

    if (buf == NULL || o.buf == NULL) {
        die("malloc");
    }
    for (;;) {
        ssize_t n;

        if (cap - have < BLOCK) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (buf == NULL) {
                die("realloc");
            }
        }
        n = read(fd, buf + have, BLOCK);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("read");
        }
        if (n == 0) {
            break;
        }
        have += (size_t)n;

        char *p = buf;
        char *end = buf + have;
        char *nl;
        while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            record(j, &o, p, (size_t)(nl - p));
            p = nl + 1;
        }
        have = (size_t)(end - p);
        memmove(buf, p, have);
    }
    if (have > 0) {
        record(j, &o, buf, have);
    }
    out_flush(&o);
    free(o.buf);
    free(buf);
}

/* Parses a cut field list: comma-separated N, N-M, N- or -M, fields counted from 1. */
static int
parse_fields(struct job *j, const char *list)
{
    char *copy = strdup(list);
    char *save = NULL;

    if (copy == NULL) {
        return -1;
    }
    j->ranges = calloc(strlen(list) + 1, sizeof(*j->ranges));
    if (j->ranges == NULL) {
        free(copy);
        return -1;
    }
    j->last_field = 1;
    for (char *item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        struct range r = {1, 0};
        char *dash = strchr(item, '-');
        char *end;

        if (dash == NULL) {
            r.lo = r.hi = strtoul(item, &end, 10);
            if (end == item || *end != '\0') {
                goto bad;
            }
        } else {
            if (dash != item) {
                r.lo = strtoul(item, &end, 10);
                if (end != dash) {
                    goto bad;
                }
            }
            if (dash[1] != '\0') {
                r.hi = strtoul(dash + 1, &end, 10);
                if (*end != '\0') {
                    goto bad;
                }
            }
        }
        if (r.lo == 0 || (r.hi != 0 && r.hi < r.lo) || (dash == item && dash[1] == '\0')) {
            goto bad;
        }
        if (r.hi == 0) {
            j->last_field = 0;
        } else if (j->last_field != 0 && r.hi > j->last_field) {
            j->last_field = r.hi;
        }
        j->ranges[j->n_ranges++] = r;
    }
    free(copy);
    return j->n_ranges > 0 ? 0 : -1;
bad:
    free(copy);
    return -1;
}

static void
usage(void)
{
    fputs("usage: baseline upper FILE\n"
          "       baseline grep -F|-E PATTERN FILE\n"
          "       baseline cut DELIM LIST FILE\n",
          stderr);
    exit(2);
}

int
main(int argc, char **argv)
{
    struct job j = {0};
    const char *path;
    int fd;

    if (argc == 3 && strcmp(argv[1], "upper") == 0) {
        j.transform = T_UPPER;
        path = argv[2];
    } else if (argc == 5 && strcmp(argv[1], "grep") == 0 && strcmp(argv[2], "-F") == 0) {
        j.transform = T_GREP_FIXED;
        j.pattern = argv[3];
        j.pattern_len = strlen(argv[3]);
        path = argv[4];
    } else if (argc == 5 && strcmp(argv[1], "grep") == 0 && strcmp(argv[2], "-E") == 0) {
        int rc = regcomp(&j.regex, argv[3], REG_EXTENDED | REG_NOSUB);

        if (rc != 0) {
            char msg[256];

            regerror(rc, &j.regex, msg, sizeof(msg));
            fprintf(stderr, "baseline: bad regex %s: %s\n", argv[3], msg);
            return 2;
        }
        j.transform = T_GREP_REGEX;
        path = argv[4];
    } else if (argc == 5 && strcmp(argv[1], "cut") == 0) {
        if (strlen(argv[2]) != 1 || parse_fields(&j, argv[3]) != 0) {
            usage();
        }
        j.transform = T_CUT;
        j.delim = argv[2][0];
        path = argv[4];
    } else {
        usage();
    }

    fd = open(path, O_RDONLY);
    if (fd < 0) {
        die(path);
    }
    run(&j, fd);
    close(fd);
    if (j.transform == T_GREP_REGEX) {
        regfree(&j.regex);
    }
    free(j.ranges);
    return 0;
}
