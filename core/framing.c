/*
 * core/framing.c: records of each input.format (see framing.h): the sequential scanner, the
 * boundary search the planners use, and the delimiter syntax.
 */
#include "framing.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void
framing_default(struct framing *f)
{
    memset(f, 0, sizeof(*f));
    f->kind = TRANCHE_FORMAT_LINES;
    f->delim[0] = '\n';
    f->delim_len = 1;
    framing_finish(f);
}

void
framing_finish(struct framing *f)
{
    if (f->kind == TRANCHE_FORMAT_LINES) {
        memcpy(f->out, f->delim, f->delim_len);
        f->out_len = f->delim_len;
    } else {
        f->out[0] = '\n';
        f->out_len = 1;
    }
    if (f->kind == TRANCHE_FORMAT_FASTQ) {
        f->delim[0] = '\n';
        f->delim_len = 1;
    }
    if (f->kind == TRANCHE_FORMAT_CSV && f->quote == 0) {
        f->quote = '"';
    }
    memset(&f->pub, 0, sizeof(f->pub));
    f->pub.size = sizeof(f->pub);
    f->pub.kind = f->kind;
    f->pub.delimiter = (const char *)f->delim;
    f->pub.delimiter_len = f->delim_len;
    f->pub.output_delimiter = (const char *)f->out;
    f->pub.output_delimiter_len = f->out_len;
    f->pub.quote = f->kind == TRANCHE_FORMAT_CSV ? f->quote : 0;
    f->pub.has_header = (unsigned char)(f->kind == TRANCHE_FORMAT_CSV && f->header);
}

void
framing_from_format(struct framing *f, const struct tranche_format *fmt)
{
    framing_default(f);
    f->kind = fmt->kind;
    if (fmt->delimiter_len >= 1 && fmt->delimiter_len <= FRAMING_MAX_DELIMITER) {
        memcpy(f->delim, fmt->delimiter, fmt->delimiter_len);
        f->delim_len = fmt->delimiter_len;
    }
    f->quote = fmt->quote;
    f->header = fmt->has_header;
    framing_finish(f);
}

int
framing_is_simple(const struct framing *f)
{
    return f->kind == TRANCHE_FORMAT_LINES && f->delim_len == 1;
}

int
framing_syncs(const struct framing *f)
{
    return framing_is_simple(f) || f->kind == TRANCHE_FORMAT_FASTQ;
}

const char *
framing_kind_name(int kind)
{
    switch (kind) {
    case TRANCHE_FORMAT_CSV:
        return "csv";
    case TRANCHE_FORMAT_FASTQ:
        return "fastq";
    default:
        return "lines";
    }
}

/*
 * The parity of a byte's count is the parity of the XOR of its match masks, so the loop only
 * compares and XORs: SSE2 (every x86-64) takes 16 bytes a step; elsewhere, 8 bytes of SWAR
 * (a byte equal to the quote becomes 0x80 exactly: no carries cross bytes).
 */
#if defined(__SSE2__)
unsigned
framing_quote_parity(unsigned char quote, const char *buf, size_t len)
{
    const __m128i q = _mm_set1_epi8((char)quote);
    unsigned acc = 0;
    size_t i = 0;

    for (; i + 16 <= len; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(buf + i));
        acc ^= (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, q));
    }
    for (; i < len; i++) {
        acc ^= (unsigned char)buf[i] == quote;
    }
    return (unsigned)__builtin_parity(acc);
}
#else
unsigned
framing_quote_parity(unsigned char quote, const char *buf, size_t len)
{
    const uint64_t ones = 0x0101010101010101ull, low7 = 0x7f7f7f7f7f7f7f7full;
    const uint64_t q = ones * quote;
    uint64_t acc = 0;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        uint64_t x, y;

        memcpy(&x, buf + i, 8);
        x ^= q;                      /* a matching byte is now 0 */
        y = ((x & low7) + low7) | x; /* its high bit is 0 only for a zero byte */
        acc ^= ~y & ~low7;
    }
    for (; i < len; i++) {
        acc ^= (unsigned char)buf[i] == quote;
    }
    return (unsigned)__builtin_parityll(acc);
}
#endif

/* lines of several bytes (one byte: framing_next, inline): the first match of the delimiter
 * from buf[st->clean] on. */
static int
next_line(const struct framing *f, struct framing_scan *st, const char *buf, size_t len, int eof,
          size_t *rec_len, size_t *total)
{
    const char *hit = memmem(buf + st->clean, len - st->clean, f->delim, f->delim_len);

    if (hit != NULL) {
        *rec_len = (size_t)(hit - buf);
        *total = *rec_len + f->delim_len;
        return FRAMING_RECORD;
    }
    if (eof) {
        if (len == 0) {
            return FRAMING_MORE;
        }
        *rec_len = *total = len;
        return FRAMING_RECORD;
    }
    /* a match may begin in the last delim_len - 1 bytes */
    st->clean = len >= f->delim_len ? len - (f->delim_len - 1) : 0;
    return FRAMING_MORE;
}

/*
 * The first LF in buf[pos, len) with an even quote parity before it, *parity being the parity
 * of what came before pos: returns 1 and sets *end, or 0 with *parity that of buf[.., len).
 * With SSE2, one pass compares each 16 bytes with the quote and with LF: the parity before each
 * LF of the block is the block's starting parity and its quotes below that LF.
 */
static int
row_end(const char *buf, size_t pos, size_t len, unsigned char quote, unsigned *parity, size_t *end)
{
    unsigned par = *parity;
    size_t i = pos;

#if defined(__SSE2__)
    const __m128i q = _mm_set1_epi8((char)quote), nl = _mm_set1_epi8('\n');

    for (; i + 16 <= len; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(buf + i));
        unsigned mq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, q));
        unsigned ml = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl));

        for (; ml != 0; ml &= ml - 1) {
            unsigned below = (ml & -ml) - 1; /* the bytes of the block before this LF */

            if (((par ^ (unsigned)__builtin_parity(mq & below)) & 1) == 0) {
                *end = i + (size_t)__builtin_ctz(ml);
                return 1;
            }
        }
        par ^= (unsigned)__builtin_parity(mq);
    }
#endif
    for (; i < len; i++) {
        if ((unsigned char)buf[i] == quote) {
            par ^= 1;
        } else if (buf[i] == '\n' && par == 0) {
            *end = i;
            return 1;
        }
    }
    *parity = par;
    return 0;
}

/* csv: the first LF from buf[st->clean] on with an even number of quotes before it. */
static int
next_row(const struct framing *f, struct framing_scan *st, const char *buf, size_t len, int eof,
         size_t *rec_len, size_t *total, const char **why)
{
    size_t end;

    if (row_end(buf, st->clean, len, f->quote, &st->parity, &end)) {
        *total = end + 1;
        *rec_len = end > 0 && buf[end - 1] == '\r' ? end - 1 : end;
        return FRAMING_RECORD;
    }
    st->clean = len;
    if (!eof) {
        return FRAMING_MORE;
    }
    if (st->parity != 0) {
        *why = "a quoted field is not closed before the end of the input";
        return FRAMING_BAD;
    }
    *total = len;
    *rec_len = buf[len - 1] == '\r' ? len - 1 : len;
    return FRAMING_RECORD;
}

/*
 * fastq: whether buf[0, len) begins with a whole read: sets *rec_len to the 4 lines without the
 * last '\n' and *total with it. FRAMING_MORE: not enough lines yet (with eof: fewer than 4 lines
 * are left, *why says so); FRAMING_BAD: the lines are not a read.
 */
static int
read_at(const char *buf, size_t len, int eof, size_t *rec_len, size_t *total, const char **why)
{
    size_t nl[4], pos = 0, k;

    for (k = 0; k < 4; k++) {
        const char *hit = memchr(buf + pos, '\n', len - pos);

        if (hit == NULL) {
            if (!eof) {
                return FRAMING_MORE;
            }
            if (k < 3) {
                *why = "the input ends inside a FASTQ read (fewer than 4 lines)";
                return FRAMING_BAD;
            }
            nl[3] = len; /* the last line of the input, without its newline */
            break;
        }
        nl[k] = (size_t)(hit - buf);
        pos = nl[k] + 1;
    }
    if (buf[0] != '@') {
        *why = "a FASTQ read's first line does not begin with '@'";
        return FRAMING_BAD;
    }
    if (nl[1] + 1 >= len || buf[nl[1] + 1] != '+') {
        *why = "a FASTQ read's third line does not begin with '+'";
        return FRAMING_BAD;
    }
    if (nl[1] - (nl[0] + 1) != nl[3] - (nl[2] + 1)) {
        *why = "a FASTQ read's sequence and quality lengths differ";
        return FRAMING_BAD;
    }
    *rec_len = nl[3];
    *total = nl[3] < len ? nl[3] + 1 : len;
    return FRAMING_RECORD;
}

/* Only newlines left: a blank line or two at the end of a FASTQ file hold no read. */
static int
only_newlines(const char *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (buf[i] != '\n' && buf[i] != '\r') {
            return 0;
        }
    }
    return 1;
}

int
framing_next_any(const struct framing *f, struct framing_scan *st, const char *buf, size_t len,
                 int eof, size_t *rec_len, size_t *total, const char **why)
{
    static const char *none = "";

    if (why != NULL) {
        *why = none;
    } else {
        why = &none;
    }
    if (len == 0) {
        return FRAMING_MORE; /* (no record, not even at the end of the input) */
    }
    switch (f->kind) {
    case TRANCHE_FORMAT_CSV:
        return next_row(f, st, buf, len, eof, rec_len, total, why);
    case TRANCHE_FORMAT_FASTQ:
        if (eof && only_newlines(buf, len)) {
            return FRAMING_MORE;
        }
        return read_at(buf, len, eof, rec_len, total, why);
    default:
        return next_line(f, st, buf, len, eof, rec_len, total);
    }
}

/* lines with several bytes: a match at q that no match starting in [q - len + 1, q) overlaps
 * is one the sequential scan makes too, whatever came before (it cannot jump over q). */
static int
boundary_line(const struct framing *f, const char *buf, size_t len, size_t from, int eof,
              size_t *at)
{
    const size_t dl = f->delim_len;
    size_t pos = from >= dl - 1 ? from - (dl - 1) : 0;

    for (;;) {
        const char *hit = memmem(buf + pos, len - pos, f->delim, dl);
        size_t q, p;

        if (hit == NULL) {
            (void)eof;
            return FRAMING_MORE;
        }
        q = (size_t)(hit - buf);
        for (p = q >= dl - 1 ? q - (dl - 1) : 0; p < q; p++) {
            if (memcmp(buf + p, f->delim, dl) == 0) {
                break;
            }
        }
        if (p == q) {
            *at = q + dl;
            return FRAMING_RECORD;
        }
        pos = q + 1;
    }
}

/* fastq: the first line start after a newline at or after from where a whole read begins. */
static int
boundary_read(const char *buf, size_t len, size_t from, int eof, size_t *at)
{
    size_t pos = from;

    for (;;) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t start, rec_len, total;
        const char *why;
        int rc;

        if (nl == NULL) {
            return FRAMING_MORE;
        }
        start = (size_t)(nl - buf) + 1;
        if (start < len && buf[start] == '@') {
            rc = read_at(buf + start, len - start, eof, &rec_len, &total, &why);
            if (rc == FRAMING_RECORD) {
                *at = start;
                return FRAMING_RECORD;
            }
            if (rc == FRAMING_MORE) {
                return FRAMING_MORE;
            }
        } else if (start >= len) {
            return FRAMING_MORE;
        }
        pos = start;
    }
}

/* csv: the first LF at or after from with even parity before it. */
static int
boundary_row(const struct framing *f, const char *buf, size_t len, size_t from, unsigned parity,
             size_t *at)
{
    size_t end;

    if (!row_end(buf, from, len, f->quote, &parity, &end)) {
        return FRAMING_MORE;
    }
    *at = end + 1;
    return FRAMING_RECORD;
}

int
framing_boundary(const struct framing *f, const char *buf, size_t len, size_t from, unsigned parity,
                 int eof, size_t *at)
{
    const char *hit;

    if (from >= len) {
        return FRAMING_MORE;
    }
    switch (f->kind) {
    case TRANCHE_FORMAT_CSV:
        return boundary_row(f, buf, len, from, parity, at);
    case TRANCHE_FORMAT_FASTQ:
        return boundary_read(buf, len, from, eof, at);
    default:
        if (f->delim_len > 1) {
            return boundary_line(f, buf, len, from, eof, at);
        }
        hit = memchr(buf + from, f->delim[0], len - from);
        if (hit == NULL) {
            return FRAMING_MORE;
        }
        *at = (size_t)(hit - buf) + 1;
        return FRAMING_RECORD;
    }
}

int
framing_parse_delimiter(const char *text, size_t len, unsigned char *out, size_t max,
                        size_t *out_len)
{
    static const char escapes[] = "n\nt\tr\r0\0\\\\";
    size_t i = 0, n = 0, k;

    while (i < len) {
        unsigned char c = (unsigned char)text[i++];

        if (c == '\\') {
            if (i >= len) {
                return -1;
            }
            c = (unsigned char)text[i++];
            if (c == 'x') {
                unsigned v = 0;

                for (k = 0; k < 2; k++) {
                    char h = i < len ? text[i++] : 0;

                    if (h >= '0' && h <= '9') {
                        v = v * 16 + (unsigned)(h - '0');
                    } else if (h >= 'a' && h <= 'f') {
                        v = v * 16 + (unsigned)(h - 'a' + 10);
                    } else if (h >= 'A' && h <= 'F') {
                        v = v * 16 + (unsigned)(h - 'A' + 10);
                    } else {
                        return -1;
                    }
                }
                c = (unsigned char)v;
            } else {
                for (k = 0; k + 1 < sizeof(escapes); k += 2) {
                    if ((char)c == escapes[k]) {
                        break;
                    }
                }
                if (k + 1 >= sizeof(escapes)) {
                    return -1;
                }
                c = (unsigned char)escapes[k + 1];
            }
        }
        if (n == max) {
            return -1;
        }
        out[n++] = c;
    }
    if (n == 0) {
        return -1;
    }
    *out_len = n;
    return 0;
}
