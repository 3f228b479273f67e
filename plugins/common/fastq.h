/* plugins/common/fastq.h: what the FASTQ plugins (fastq-filter, fastq-trim) share: the check
 * that the job reads `format: fastq`, and the split of one read into its four lines with the
 * checks that make it a read, each failure reported through host->error() with the read's id.
 * Header only: each plugin links alone. */
#ifndef TRANCHE_PLUGINS_FASTQ_H
#define TRANCHE_PLUGINS_FASTQ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <tranche/plugin.h>

/* A read as the host gives it ("@id\nSEQ\n+[id]\nQUAL", no final newline), as pointers into the
 * record: nothing is copied. */
struct fastq_read {
    const char *header; /* line 1, from its '@' */
    size_t header_len;
    char *seq; /* line 2 */
    size_t seq_len;
    char *plus; /* line 3, from its '+' */
    size_t plus_len;
    char *qual; /* line 4 */
    size_t qual_len;
};

/* The longest read id an error message quotes; a longer one is cut, with "..." after it. */
#define FASTQ_ID_MAX 80

/*
 * Refuses (TRANCHE_ERROR, through host->error) a job that does not read its input as FASTQ:
 * under any other format a record is a line, not a read. `plugin` names the step in the message.
 * A host older than ABI 1.3 has no format() and cannot read FASTQ at all.
 */
static inline int
fastq_require_format(const struct tranche_host *host, tranche_ctx *ctx, const char *plugin)
{
    if (!TRANCHE_HOST_HAS(host, format)) {
        return host->error(ctx,
                           "%s needs FASTQ records (plugin ABI 1.3), which this tranche cannot "
                           "read: upgrade tranche",
                           plugin);
    }
    if (host->format(ctx)->kind != TRANCHE_FORMAT_FASTQ) {
        return host->error(ctx,
                           "%s reads FASTQ records (one read of 4 lines each), but the input is "
                           "read as %s: set `input.format: fastq` in the job",
                           plugin,
                           host->format(ctx)->kind == TRANCHE_FORMAT_CSV ? "CSV rows" : "lines");
    }
    return TRANCHE_OK;
}

/* The read's id for a message: line 1 without its '@', up to the first blank (*id set to it). */
static inline size_t
fastq_id(const char *data, size_t len, const char **id)
{
    const char *nl = memchr(data, '\n', len);
    size_t line = nl != NULL ? (size_t)(nl - data) : len;
    size_t skip = line > 0 && data[0] == '@';
    size_t n = skip;

    while (n < line && data[n] != ' ' && data[n] != '\t') {
        n++;
    }
    *id = data + skip;
    return n - skip;
}

/* Reports a bad read through host->error(), as "read 'ID': " and the printf-style rest; returns
 * TRANCHE_ERROR. */
static inline int fastq_read_error(const struct tranche_host *host, tranche_ctx *ctx,
                                   const char *data, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static inline int
fastq_read_error(const struct tranche_host *host, tranche_ctx *ctx, const char *data, size_t len,
                 const char *fmt, ...)
{
    char why[256];
    const char *id;
    size_t id_len = fastq_id(data, len, &id);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    host->error(ctx, "read '%.*s%s': %s", (int)(id_len > FASTQ_ID_MAX ? FASTQ_ID_MAX : id_len), id,
                id_len > FASTQ_ID_MAX ? "..." : "", why);
    return TRANCHE_ERROR;
}

/*
 * Splits `data` (one record, data[len] == '\0') into *r, or reports why it is not a FASTQ read,
 * naming the read, and returns TRANCHE_ERROR. The core's FASTQ reader already refuses such a read
 * (with the input's name and the read's offset); these checks keep a plugin safe behind a step
 * that emits something else. Checked: 4 lines, line 1 begins with '@', line 3 with '+', and the
 * sequence and the quality have the same length.
 */
static inline int
fastq_split(const struct tranche_host *host, tranche_ctx *ctx, char *data, size_t len,
            struct fastq_read *r)
{
    char *nl[3];
    char *p = data;
    char *end = data + len;
    size_t lines = 1;

    memset(r, 0, sizeof(*r));
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        if (lines <= 3) {
            nl[lines - 1] = p;
        }
        lines++;
        p++;
    }
    if (lines != 4) {
        return fastq_read_error(host, ctx, data, len,
                                "%zu line%s, where a FASTQ read has 4 (@id, sequence, +, quality)",
                                lines, lines == 1 ? "" : "s");
    }
    if (data[0] != '@') {
        return fastq_read_error(host, ctx, data, len, "line 1 does not begin with '@'");
    }
    if (nl[1][1] != '+') {
        return fastq_read_error(host, ctx, data, len, "line 3 does not begin with '+'");
    }
    r->header = data;
    r->header_len = (size_t)(nl[0] - data);
    r->seq = nl[0] + 1;
    r->seq_len = (size_t)(nl[1] - r->seq);
    r->plus = nl[1] + 1;
    r->plus_len = (size_t)(nl[2] - r->plus);
    r->qual = nl[2] + 1;
    r->qual_len = (size_t)(end - r->qual);
    if (r->seq_len != r->qual_len) {
        return fastq_read_error(host, ctx, data, len,
                                "sequence of %zu bases but quality of %zu bytes (they must have "
                                "the same length)",
                                r->seq_len, r->qual_len);
    }
    return TRANCHE_OK;
}

#endif
