/* plugins/fastq-filter/fastq-filter.c: the `fastq-filter` plugin, which keeps the FASTQ reads
 * whose mean Phred quality and sequence length pass the options' thresholds. The mean is compared
 * exactly, in integers: a read passes when sum(quality - offset) >= min_quality * length, with
 * min_quality a decimal read as a fraction, so 20.5 means 41/2 and no rounding decides a read. */
#include <stdint.h>
#include <stdlib.h>

#include <tranche/plugin.h>

#include "../common/fastq.h"
#include "../common/opterr.h"

#define PLUGIN_NAME "fastq-filter"

/* Decimals min_quality may carry: 10^9 fits 32 bits, which the comparison below relies on. */
#define MAX_DECIMALS 9

/* Above any mean a read can have (a quality byte is at most '~', 126): a whole part capped here
 * compares the same and keeps q_whole * length far from overflowing. */
#define QUALITY_CAP 256

/* The highest quality byte: FASTQ qualities are printable ASCII, '!' to '~'. */
#define QUAL_MAX '~'

struct filter_state {
    /* min_quality = q_whole + q_num / q_den, with q_num < q_den <= 10^MAX_DECIMALS */
    uint64_t q_whole;
    uint32_t q_num;
    uint32_t q_den;
    uint64_t min_length;
    uint64_t max_length; /* 0: no maximum */
    unsigned char offset;
};

static const struct tranche_host *host;

static const struct tranche_option filter_options[] = {
    {"min_quality", TRANCHE_OPT_STRING, "0", 0,
     "keep reads whose mean Phred quality is at least this (a decimal number: 20, 20.5)"},
    {"min_length", TRANCHE_OPT_INT, "0", 0,
     "keep reads whose sequence has at least this many bases"},
    {"max_length", TRANCHE_OPT_INT, NULL, 0,
     "keep reads whose sequence has at most this many bases (unset or 0: no maximum)"},
    {"phred_offset", TRANCHE_OPT_INT, "33", 0,
     "the ASCII code of quality 0: 33 (Sanger, Illumina 1.8+) or 64 (Illumina 1.3-1.7)"},
    {NULL, 0, NULL, 0, NULL},
};

/* Reads min_quality ("20", "20.5", ".5", "20.") into s as a fraction; reports anything else. */
static int
parse_min_quality(struct filter_state *s, tranche_ctx *ctx, const char *text)
{
    const char *p = text;
    int digits = 0;
    int decimals = 0;

    s->q_whole = 0;
    s->q_num = 0;
    s->q_den = 1;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        s->q_whole = s->q_whole * 10 + (uint64_t)(*p - '0');
        if (s->q_whole > QUALITY_CAP) {
            s->q_whole = QUALITY_CAP;
        }
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (decimals == MAX_DECIMALS) {
                if (*p != '0') {
                    goto bad;
                }
                continue;
            }
            s->q_num = s->q_num * 10 + (uint32_t)(*p - '0');
            s->q_den *= 10;
            decimals++;
        }
    }
    if (digits == 0 || *p != '\0') {
        goto bad;
    }
    return TRANCHE_OK;
bad:
    return PLUGIN_OPTION_ERROR(host, ctx, "min_quality",
                               "min_quality must be a number of 0 or more, with at most %d "
                               "decimals (20, 20.5), got '%s'",
                               MAX_DECIMALS, text);
}

static int
read_options(struct filter_state *s, tranche_ctx *ctx)
{
    int64_t min_length = host->opt_int(ctx, "min_length");
    int64_t max_length = host->opt_int(ctx, "max_length");
    int64_t offset = host->opt_int(ctx, "phred_offset");

    if (parse_min_quality(s, ctx, host->opt_string(ctx, "min_quality")) != TRANCHE_OK) {
        return TRANCHE_ERROR;
    }
    if (min_length < 0) {
        return PLUGIN_OPTION_ERROR(host, ctx, "min_length",
                                   "min_length must be 0 or more, got %lld", (long long)min_length);
    }
    if (max_length < 0) {
        return PLUGIN_OPTION_ERROR(host, ctx, "max_length",
                                   "max_length must be 1 or more (0: no maximum), got %lld",
                                   (long long)max_length);
    }
    if (max_length > 0 && max_length < min_length) {
        return PLUGIN_OPTION_ERROR(host, ctx, "max_length",
                                   "max_length %lld is below min_length %lld: no read could pass",
                                   (long long)max_length, (long long)min_length);
    }
    if (offset < '!' || offset > QUAL_MAX) {
        return PLUGIN_OPTION_ERROR(host, ctx, "phred_offset",
                                   "phred_offset must be from 33 to 126 (33 for Sanger and "
                                   "Illumina 1.8+, 64 for Illumina 1.3-1.7), got %lld",
                                   (long long)offset);
    }
    s->min_length = (uint64_t)min_length;
    s->max_length = (uint64_t)max_length;
    s->offset = (unsigned char)offset;
    return TRANCHE_OK;
}

static void
filter_fini(void *state)
{
    free(state);
}

static int
filter_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    struct filter_state *s;

    host = h;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return host->error(ctx, "out of memory");
    }
    if (read_options(s, ctx) != TRANCHE_OK ||
        fastq_require_format(host, ctx, PLUGIN_NAME) != TRANCHE_OK) {
        /* A failed init gets no fini(), so it releases what it holds itself. */
        filter_fini(s);
        return TRANCHE_ERROR;
    }
    *state = s;
    return TRANCHE_OK;
}

/* a * b as a 96-bit number hi * 2^64 + lo, in 64-bit arithmetic only (no __int128). */
static void
mul_64_32(uint64_t a, uint32_t b, uint64_t *hi, uint64_t *lo)
{
    uint64_t low = (a & 0xffffffffu) * b;
    uint64_t high = (a >> 32) * b; /* the product is high * 2^32 + low */

    *lo = low + (high << 32);
    *hi = (high >> 32) + (*lo < low);
}

/*
 * Whether sum / len >= min_quality, exactly. With min_quality = w + n/d: sum >= (w + n/d) * len
 * holds when the rest r = sum - w * len is not negative and r * d >= n * len. Both products have
 * a 32-bit factor and are compared as 96-bit numbers. A read of length 0 passes (0 >= 0).
 */
static int
mean_at_least(const struct filter_state *s, uint64_t sum, uint64_t len)
{
    uint64_t whole = s->q_whole * len; /* q_whole <= 256 and len is a record's length */
    uint64_t r_hi, r_lo, n_hi, n_lo;

    if (sum < whole) {
        return 0;
    }
    mul_64_32(sum - whole, s->q_den, &r_hi, &r_lo);
    mul_64_32(len, s->q_num, &n_hi, &n_lo);
    return r_hi > n_hi || (r_hi == n_hi && r_lo >= n_lo);
}

/* Reports the first quality byte outside offset..'~'. */
static int
bad_quality(const struct filter_state *s, tranche_ctx *ctx, const char *data, size_t len,
            const struct fastq_read *r)
{
    size_t i = 0;
    unsigned char c;

    while ((unsigned char)r->qual[i] >= s->offset && (unsigned char)r->qual[i] <= QUAL_MAX) {
        i++;
    }
    c = (unsigned char)r->qual[i];
    return fastq_read_error(host, ctx, data, len,
                            "quality byte 0x%02x at position %zu is outside '%c' to '~' "
                            "(phred_offset %d)%s",
                            c, i + 1, s->offset, s->offset,
                            c == '\r' ? ": a CR, from CRLF line ends (convert the file with "
                                        "dos2unix first)"
                                      : "");
}

static int
filter_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    const struct filter_state *s = state;
    struct fastq_read r;
    const unsigned char *q;
    uint64_t sum = 0;
    unsigned char lo = QUAL_MAX, hi = s->offset;

    if (fastq_split(host, ctx, data, len, &r) != TRANCHE_OK) {
        return TRANCHE_ERROR;
    }
    /* One pass for the sum and the range; bytes are checked after it, so the loop stays simple
     * enough for the compiler to vectorise. Every read is checked, also one the length drops. */
    q = (const unsigned char *)r.qual;
    for (size_t i = 0; i < r.qual_len; i++) {
        sum += q[i];
        lo = q[i] < lo ? q[i] : lo;
        hi = q[i] > hi ? q[i] : hi;
    }
    if (lo < s->offset || hi > QUAL_MAX) {
        return bad_quality(s, ctx, data, len, &r);
    }
    sum -= (uint64_t)s->offset * r.qual_len;
    if (r.seq_len < s->min_length || (s->max_length > 0 && r.seq_len > s->max_length)) {
        return TRANCHE_OK;
    }
    return mean_at_least(s, sum, r.qual_len) ? host->emit(ctx, data, len) : TRANCHE_OK;
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = PLUGIN_NAME,
    .version = "1.0",
    .description = "keeps FASTQ reads by mean Phred quality and sequence length",
    .options = filter_options,
    .init = filter_init,
    .record = filter_record,
    .fini = filter_fini,
};
