/*
 * core/framing.h: what a record is (input.format): lines between delimiters of 1 to 16 bytes,
 * CSV rows (RFC 4180: quoted fields may hold the separator, doubled quotes, CR and LF) or FASTQ
 * reads (4 lines). One scanner, framing_next(), cuts records everywhere bytes become records
 * (source.c, stream.c, exec.c's output); plan.c finds boundaries with framing_boundary().
 *
 * The rules, which do not depend on where partitions fall:
 *   lines  a record ends at the first delimiter after its start (matches are found left to
 *          right and do not overlap: with "aba", "ababa" is the record "" then "ba").
 *   csv    a row ends at the first LF after its start preceded by an even number of quote bytes
 *          since the start (quote parity: for valid RFC 4180, exactly "outside a quoted field");
 *          a CR just before that LF is not part of the record.
 *   fastq  a read is 4 lines: "@ID", the sequence, "+[ID]", the quality, as long as the
 *          sequence; the record is the 4 lines joined by '\n', without the last one.
 * A file that ends without a final delimiter still ends its last record; one that ends inside
 * a quoted field or inside a read is malformed.
 */
#ifndef TRANCHE_FRAMING_H
#define TRANCHE_FRAMING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tranche/plugin.h>

#define FRAMING_MAX_DELIMITER 16

struct framing {
    int kind; /* enum tranche_format_kind */
    /* lines: the record delimiter; csv: the field separator (1 byte); fastq: "\n" */
    unsigned char delim[FRAMING_MAX_DELIMITER];
    size_t delim_len;
    unsigned char quote; /* csv */
    int header;          /* csv: header: true */
    /* Written after every output record: the delimiter (lines), "\n" (csv, fastq). */
    unsigned char out[FRAMING_MAX_DELIMITER];
    size_t out_len;
    /* The header row (csv with a header), without its line ending, NUL-terminated; set once the
     * inputs are open (input.c). NULL otherwise. */
    char *header_row;
    size_t header_len;
    struct tranche_format pub; /* what host->format() returns */
};

/* The default: lines ending in '\n'. */
void framing_default(struct framing *f);

/* Sets what follows from kind, delim and quote (out, pub); call after changing them. */
void framing_finish(struct framing *f);

/* Whether records are lines cut at one byte, the only framing a partition that starts inside a
 * record (BGZF blocks, gzip access points) can find its first record in by itself. */
int framing_is_simple(const struct framing *f);

/* Whether a partition that starts inside decoded bytes (a BGZF block, a gzip access point) can
 * find its first record by itself: lines of one byte (after the first delimiter) and FASTQ (the
 * first read framing_boundary recognises). A CSV row needs the quote parity of everything before
 * it, and a delimiter of several bytes the matches before it: those are cut in order. */
int framing_syncs(const struct framing *f);

/* "lines", "csv" or "fastq". */
const char *framing_kind_name(int kind);

/* The scanner's progress through one record: buf[0, clean) was looked at already. Zero it
 * (FRAMING_SCAN_INIT) for each new record. */
struct framing_scan {
    size_t clean;
    unsigned parity; /* csv: quote bytes seen in [0, clean), mod 2 */
};
#define FRAMING_SCAN_INIT                                                                          \
    {                                                                                              \
        0, 0                                                                                       \
    }

enum {
    FRAMING_BAD = -1,   /* malformed: *why says how */
    FRAMING_MORE = 0,   /* no record ends in buf[0, len) (and not at the end of the input) */
    FRAMING_RECORD = 1, /* a record: buf[0, *rec_len), and *total bytes with its end */
};

/*
 * The record that begins at buf[0]: its length (*rec_len, what plugins get) and the bytes it takes
 * with its delimiter or line ending (*total). With `eof`, buf ends the input: what is left is
 * the last record (len > 0), or malformed. st carries what was scanned across calls on the same
 * record with more bytes each time.
 */
static inline int framing_next(const struct framing *f, struct framing_scan *st, const char *buf,
                               size_t len, int eof, size_t *rec_len, size_t *total,
                               const char **why);

/* framing_next for every framing but lines of one byte, which it handles inline (it is the cost
 * per record of the common case). */
int framing_next_any(const struct framing *f, struct framing_scan *st, const char *buf, size_t len,
                     int eof, size_t *rec_len, size_t *total, const char **why);

static inline int
framing_next(const struct framing *f, struct framing_scan *st, const char *buf, size_t len, int eof,
             size_t *rec_len, size_t *total, const char **why)
{
    const char *hit;

    if (f->kind != TRANCHE_FORMAT_LINES || f->delim_len != 1 || len == 0) {
        return framing_next_any(f, st, buf, len, eof, rec_len, total, why);
    }
    hit = memchr(buf + st->clean, f->delim[0], len - st->clean);
    if (hit != NULL) {
        *rec_len = (size_t)(hit - buf);
        *total = *rec_len + 1;
        return FRAMING_RECORD;
    }
    if (eof) {
        *rec_len = *total = len;
        return FRAMING_RECORD;
    }
    st->clean = len;
    return FRAMING_MORE;
}

/*
 * A record boundary: sets *at to the offset just after the first record end that lies at or
 * after buf[from] (the byte after a delimiter's last byte, after a row's LF, after a read's
 * fourth line), found without reading every record before it where the format allows: a FASTQ
 * read is recognised by its lines, a delimiter of several bytes by the bytes around it.
 * buf[0, from) must hold what the rule needs to look back at: from a record start, or at least
 * 2 * FRAMING_MAX_DELIMITER bytes (lines; fastq needs none); CSV needs `parity`, the quote
 * parity from the last record start to buf[from]. Returns FRAMING_RECORD, or FRAMING_MORE when
 * buf[0, len) does not tell yet (with `eof`: there is no boundary after from).
 */
int framing_boundary(const struct framing *f, const char *buf, size_t len, size_t from,
                     unsigned parity, int eof, size_t *at);

/* The number of quote bytes in buf[0, len), mod 2. */
unsigned framing_quote_parity(unsigned char quote, const char *buf, size_t len);

/* A framing from what host->format() says (a built-in step reads the job's that way). */
void framing_from_format(struct framing *f, const struct tranche_format *fmt);

/* Parses a delimiter as written in a job file: bytes, with the escapes \n \t \r \0 \\ and \xHH.
 * Returns 0 and sets out[0, *out_len) (1 to max bytes), or -1. */
int framing_parse_delimiter(const char *text, size_t len, unsigned char *out, size_t max,
                            size_t *out_len);

#endif
