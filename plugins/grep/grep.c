/* plugins/grep/grep.c: the `grep` plugin, which keeps the records that match a POSIX extended
 * regex or a fixed string, like `LC_ALL=C grep -E` / `grep -F`, with -v, -i and -o. Regexes go to
 * the engine of ../common/rx.c (PCRE2's JIT, or glibc's regex). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tranche/plugin.h>

#include "../common/opterr.h"
#include "rx.h"

/*
 * Like grep, a pattern with newlines is several patterns, and a record matches if any of them
 * does. Each becomes one matcher. A regex made only of ordinary characters, with at most a
 * leading ^ and a trailing $, means exactly "contains / starts with / ends with / equals this
 * literal", so it skips the regex engine, which costs far more than memmem or memcmp.
 */
enum match_kind { MATCH_SUBSTRING, MATCH_PREFIX, MATCH_SUFFIX, MATCH_WHOLE, MATCH_REGEX };

struct matcher {
    enum match_kind kind;
    char *literal; /* case-folded to lower when ignore_case; unused for MATCH_REGEX */
    size_t literal_len;
    size_t anchor1, anchor2; /* MATCH_SUBSTRING of 2+ bytes: the positions contains() filters on */
    struct rx *regex;        /* MATCH_REGEX only */
};

struct grep_state {
    struct matcher *matchers;
    size_t count;
    int invert;
    int ignore_case;
    int any_literal;
    /* only_matching: the whole pattern as one regex (its lines alternatives), emitting matches. */
    struct rx *all;
    /* Lowered copy of the record for case-blind literals; grows, never shrinks. */
    char *folded;
    size_t folded_cap;
};

static const struct tranche_host *host;

static const struct tranche_option grep_options[] = {
    {"pattern", TRANCHE_OPT_STRING, NULL, 1,
     "POSIX extended regex (or fixed string) a record must contain"},
    {"fixed", TRANCHE_OPT_BOOL, "false", 0, "match pattern as a plain string, like grep -F"},
    {"invert", TRANCHE_OPT_BOOL, "false", 0, "keep the records that do not match, like grep -v"},
    {"ignore_case", TRANCHE_OPT_BOOL, "false", 0, "ignore ASCII case when matching, like grep -i"},
    {"only_matching", TRANCHE_OPT_BOOL, "false", 0,
     "emit each match as a record of its own, like grep -o"},
    {NULL, 0, NULL, 0, NULL},
};

static char
lower_byte(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
}

static int
has_regex_syntax(const char *p, size_t len)
{
    static const char special[] = ".[]()*+?{}|^$\\";

    for (size_t i = 0; i < len; i++) {
        if (memchr(special, p[i], sizeof(special) - 1) != NULL) {
            return 1;
        }
    }
    return 0;
}

/* How common a byte is in typical text and logs: spaces and lowercase letters most. */
static int
commonness(unsigned char c)
{
    if (c == ' ') {
        return 4;
    }
    if (c >= 'a' && c <= 'z') {
        return 3;
    }
    if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return 2;
    }
    return 1;
}

/* Picks the two needle positions whose bytes are least common, for contains()'s filter; between
 * equally common ones, the farthest apart, as neighbouring bytes tend to come together. */
static void
pick_anchors(const char *needle, size_t n, size_t *p1, size_t *p2)
{
    size_t i, a = 0, b;

    for (i = 0; i < n; i++) {
        if (commonness((unsigned char)needle[i]) < commonness((unsigned char)needle[a])) {
            a = i;
        }
    }
    b = a == 0 ? 1 : 0;
    for (i = 0; i < n; i++) {
        int ci = commonness((unsigned char)needle[i]), cb = commonness((unsigned char)needle[b]);
        size_t di = i > a ? i - a : a - i, db = b > a ? b - a : a - b;
        if (i != a && (ci < cb || (ci == cb && di > db))) {
            b = i;
        }
    }
    *p1 = a < b ? a : b;
    *p2 = a < b ? b : a;
}

/* memcmp(a, b, n) == 0, inline: needles are short, and a call costs more than the compare. */
static inline int
same(const char *a, const char *b, size_t n)
{
    size_t i;

    if (n > 16) {
        return memcmp(a, b, n) == 0;
    }
    for (i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
    }
    return 1;
}

/*
 * Whether `needle` (n >= 2 bytes) occurs in hay[0, len). Records are short (a few hundred bytes),
 * where glibc's memmem spends most of its time setting up; this compares two of the needle's
 * bytes (its least common ones, p1 < p2) against 16 candidate positions at once (GCC vector
 * types: SSE2 on x86-64, NEON on arm64) and compares the whole needle only where both agree.
 */
static int
contains(const char *hay, size_t len, const char *needle, size_t n, size_t p1, size_t p2)
{
    typedef char bytes16 __attribute__((vector_size(16)));
    typedef char bytes16u __attribute__((vector_size(16), aligned(1)));
    const bytes16 c1 = (bytes16){0} + needle[p1];
    const bytes16 c2 = (bytes16){0} + needle[p2];
    size_t i = 0, k;

    if (len < n) {
        return 0;
    }
    for (; i + 16 + n - 1 <= len; i += 16) {
        bytes16 hit =
            (*(const bytes16u *)(hay + i + p1) == c1) & (*(const bytes16u *)(hay + i + p2) == c2);
        uint64_t lo, hi;

        memcpy(&lo, &hit, 8);
        memcpy(&hi, (char *)&hit + 8, 8);
        if ((lo | hi) == 0) {
            continue;
        }
        for (k = 0; k < 16; k++) {
            if (hit[k] && same(hay + i + k, needle, n)) {
                return 1;
            }
        }
    }
    for (; i + n <= len; i++) {
        if (same(hay + i, needle, n)) {
            return 1;
        }
    }
    return 0;
}

/* Sets m up for one newline-free pattern; on failure m holds nothing to free. */
static int
matcher_init(struct matcher *m, tranche_ctx *ctx, const char *p, size_t len, int fixed,
             int ignore_case)
{
    size_t start = 0;
    size_t end = len;
    int anchor_start = 0;
    int anchor_end = 0;
    char why[256];

    if (!fixed) {
        anchor_start = len > 0 && p[0] == '^';
        start = anchor_start ? 1 : 0;
        anchor_end = end > start && p[end - 1] == '$';
        end = anchor_end ? end - 1 : end;
    }
    if (fixed || !has_regex_syntax(p + start, end - start)) {
        m->literal_len = end - start;
        m->literal = malloc(m->literal_len + 1);
        if (m->literal == NULL) {
            return host->error(ctx, "out of memory");
        }
        for (size_t i = 0; i < m->literal_len; i++) {
            m->literal[i] = ignore_case ? lower_byte(p[start + i]) : p[start + i];
        }
        m->literal[m->literal_len] = '\0';
        if (m->literal_len >= 2) {
            pick_anchors(m->literal, m->literal_len, &m->anchor1, &m->anchor2);
        }
        m->kind = anchor_start ? (anchor_end ? MATCH_WHOLE : MATCH_PREFIX)
                               : (anchor_end ? MATCH_SUFFIX : MATCH_SUBSTRING);
        return TRANCHE_OK;
    }

    if (rx_new(p, len, ignore_case ? RX_ICASE : 0, &m->regex, why, sizeof(why)) != 0) {
        return PLUGIN_OPTION_ERROR(host, ctx, "pattern", "invalid pattern '%.*s': %s", (int)len, p,
                                   why);
    }
    m->kind = MATCH_REGEX;
    return TRANCHE_OK;
}

static void
matcher_release(struct matcher *m)
{
    if (m->kind == MATCH_REGEX) {
        rx_free(m->regex);
    } else {
        free(m->literal);
    }
}

static void
grep_fini(void *state)
{
    struct grep_state *s = state;

    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->count; i++) {
        matcher_release(&s->matchers[i]);
    }
    free(s->matchers);
    rx_free(s->all);
    free(s->folded);
    free(s);
}

static int
grep_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    const char *pattern;
    const char *p;
    struct grep_state *s;
    size_t lines = 1;
    int fixed;

    host = h;
    pattern = host->opt_string(ctx, "pattern");
    if (pattern == NULL) {
        return host->error(ctx, "option 'pattern' is required");
    }
    fixed = host->opt_bool(ctx, "fixed");
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return host->error(ctx, "out of memory");
    }
    s->invert = host->opt_bool(ctx, "invert") != 0;
    s->ignore_case = host->opt_bool(ctx, "ignore_case") != 0;
    if (s->invert && host->opt_bool(ctx, "only_matching")) {
        free(s);
        return host->error(ctx, "options 'only_matching' and 'invert' cannot be combined: a "
                                "record that does not match has no match to emit");
    }
    for (p = pattern; *p != '\0'; p++) {
        lines += *p == '\n';
    }
    s->matchers = calloc(lines, sizeof(*s->matchers));
    if (s->matchers == NULL) {
        free(s);
        return host->error(ctx, "out of memory");
    }
    p = pattern;
    for (size_t i = 0; i < lines; i++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

        if (matcher_init(&s->matchers[i], ctx, p, len, fixed, s->ignore_case) != TRANCHE_OK) {
            /* A failed init gets no fini(), so it releases what it holds itself. */
            grep_fini(s);
            return TRANCHE_ERROR;
        }
        s->count++;
        s->any_literal |= s->matchers[i].kind != MATCH_REGEX;
        p += len + 1;
    }
    /* (after the lines, so that a mistake is reported with its own line only) */
    if (host->opt_bool(ctx, "only_matching")) {
        int flags = (fixed ? RX_FIXED : 0) | (s->ignore_case ? RX_ICASE : 0);
        char why[256];

        if (rx_new(pattern, strlen(pattern), flags, &s->all, why, sizeof(why)) != 0) {
            grep_fini(s);
            return PLUGIN_OPTION_ERROR(host, ctx, "pattern", "invalid pattern: %s", why);
        }
    }
    *state = s;
    return TRANCHE_OK;
}

/* Returns 1 on a match, 0 on none, TRANCHE_ERROR after reporting why it could not tell. */
static int
matcher_test(struct matcher *m, tranche_ctx *ctx, const char *data, const char *folded, size_t len)
{
    const char *hay = folded != NULL ? folded : data;
    size_t n = m->literal_len;

    switch (m->kind) {
    case MATCH_SUBSTRING:
        if (n <= 1) {
            return n == 0 || memchr(hay, m->literal[0], len) != NULL;
        }
        return contains(hay, len, m->literal, n, m->anchor1, m->anchor2);
    case MATCH_PREFIX:
        return len >= n && memcmp(hay, m->literal, n) == 0;
    case MATCH_SUFFIX:
        return len >= n && memcmp(hay + len - n, m->literal, n) == 0;
    case MATCH_WHOLE:
        return len == n && memcmp(hay, m->literal, n) == 0;
    case MATCH_REGEX:
        break;
    }

    int rc = rx_test(m->regex, data, len);

    if (rc < 0) {
        return host->error(ctx, "%s", rx_why(m->regex));
    }
    return rc;
}

static const char *
fold_record(struct grep_state *s, tranche_ctx *ctx, const char *data, size_t len)
{
    if (len > s->folded_cap) {
        size_t cap = s->folded_cap > 0 ? s->folded_cap : 256;
        char *grown;

        while (cap < len) {
            cap = cap > SIZE_MAX / 2 ? len : cap * 2;
        }
        grown = realloc(s->folded, cap);
        if (grown == NULL) {
            host->error(ctx, "out of memory folding a record of %zu bytes", len);
            return NULL;
        }
        s->folded = grown;
        s->folded_cap = cap;
    }
    for (size_t i = 0; i < len; i++) {
        s->folded[i] = lower_byte(data[i]);
    }
    return s->folded;
}

/* only_matching: each non-empty match, leftmost-longest, as grep -o prints them. */
static int
emit_matches(struct grep_state *s, tranche_ctx *ctx, const char *data, size_t len)
{
    struct rx_walk walk = {0};
    struct rx_match m;
    int rc;

    while ((rc = rx_next(s->all, data, len, &walk, 0, 0, &m)) == 1) {
        if (host->emit(ctx, data + m.start, m.end - m.start) != TRANCHE_OK) {
            return TRANCHE_ERROR;
        }
    }
    return rc == 0 ? TRANCHE_OK : host->error(ctx, "%s", rx_why(s->all));
}

static int
grep_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct grep_state *s = state;
    const char *folded = NULL;
    int matched = 0;

    if (s->all != NULL) {
        return emit_matches(s, ctx, data, len);
    }
    if (s->ignore_case && s->any_literal && len > 0) {
        folded = fold_record(s, ctx, data, len);
        if (folded == NULL) {
            return TRANCHE_ERROR;
        }
    }
    for (size_t i = 0; i < s->count && !matched; i++) {
        matched = matcher_test(&s->matchers[i], ctx, data, folded, len);
        if (matched == TRANCHE_ERROR) {
            return TRANCHE_ERROR;
        }
    }
    if (matched == s->invert) {
        return TRANCHE_OK;
    }
    return host->emit(ctx, data, len);
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "grep",
    .version = "1.1",
    .description = "keeps records matching a regex or fixed string, like LC_ALL=C grep -E/-F",
    .options = grep_options,
    .init = grep_init,
    .record = grep_record,
    .fini = grep_fini,
};
