/* plugins/grep/grep.c: the `grep` plugin, which keeps the records that match a POSIX extended
 * regex or a fixed string, like `LC_ALL=C grep -E` / `grep -F`, with -v and -i. */
#define _GNU_SOURCE /* memmem, and the GNU regex interface */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tranche/plugin.h>

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
    regex_t regex;
    regex_t anchored; /* `^.*(R)` for regex R, for long records; set if has_anchored */
    int has_anchored;
};

struct grep_state {
    struct matcher *matchers;
    size_t count;
    int invert;
    int ignore_case;
    int any_literal;
    /* Lowered copy of the record for case-blind literals; grows, never shrinks. */
    char *folded;
    size_t folded_cap;
};

/* The syntax GNU grep -E compiles with: glibc's RE_SYNTAX_EGREP, spelled out because older
 * glibc versions defined that macro without intervals. */
#define EGREP_SYNTAX                                                                               \
    ((RE_SYNTAX_POSIX_EXTENDED | RE_INVALID_INTERVAL_ORD | RE_NEWLINE_ALT) &                       \
     ~(RE_CONTEXT_INVALID_OPS | RE_DOT_NOT_NULL))

/*
 * glibc's matcher tries each start position in turn, and a try may scan to the end of the
 * record (`GET .*php`, `\w+:`), so a search can cost the square of the record's length. From
 * this length on, a record is matched against `^.*(R)` instead: one anchored pass at a steady
 * ~450 MB/s. Below it the plain search wins, often by 2-5x, as its fastmap skips bytes that
 * cannot start a match, and the square stays small. A -D override lets a test force either path.
 */
#ifndef GREP_LONG_RECORD
#define GREP_LONG_RECORD 2048
#endif

static const struct tranche_host *host;

static const struct tranche_option grep_options[] = {
    {"pattern", TRANCHE_OPT_STRING, NULL, 1,
     "POSIX extended regex (or fixed string) a record must contain"},
    {"fixed", TRANCHE_OPT_BOOL, "false", 0, "match pattern as a plain string, like grep -F"},
    {"invert", TRANCHE_OPT_BOOL, "false", 0, "keep the records that do not match, like grep -v"},
    {"ignore_case", TRANCHE_OPT_BOOL, "false", 0, "ignore ASCII case when matching, like grep -i"},
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

/*
 * Compiles p with grep -E's own syntax, not regcomp's REG_EXTENDED, which differs from it: there
 * '.' does not match NUL, and a leading '*' or a stray '{' is an error instead of a literal.
 * Returns NULL, or why the pattern is invalid; re is to be released with regfree() either way.
 */
static const char *
compile(regex_t *re, const char *p, size_t len, int ignore_case, int fastmap)
{
    reg_syntax_t saved = re_syntax_options;
    const char *why;

    memset(re, 0, sizeof(*re));
    /* The fastmap lets a search skip the bytes no match can start with. */
    if (fastmap) {
        re->fastmap = malloc(256);
        if (re->fastmap == NULL) {
            return "out of memory";
        }
    }
    re_syntax_options = EGREP_SYNTAX | RE_NO_SUB | (ignore_case ? RE_ICASE : 0);
    why = re_compile_pattern(p, len, re);
    re_syntax_options = saved;
    /* A record is one line to grep: ^ and $ must not match at newlines inside it. */
    re->newline_anchor = 0;
    return why;
}

/* Returns the index of the ']' that closes the bracket expression opening at p[open]. */
static size_t
bracket_end(const char *p, size_t len, size_t open)
{
    size_t i = open + 1;

    if (i < len && p[i] == '^') {
        i++;
    }
    if (i < len && p[i] == ']') {
        i++; /* a leading ']' is a literal */
    }
    for (; i < len && p[i] != ']'; i++) {
        /* [:class:], [=equiv=] and [.coll.] end at their own two-byte close, ']' included. */
        if (p[i] == '[' && i + 1 < len && (p[i + 1] == ':' || p[i + 1] == '=' || p[i + 1] == '.')) {
            char close = p[i + 1];

            for (i += 2; i + 1 < len && !(p[i] == close && p[i + 1] == ']'); i++) {
            }
            i++;
        }
    }
    return i < len ? i : len;
}

/*
 * Writes `^.*(R)` for regex R into out (room for 2 * len + 6 bytes) and returns its length, or 0
 * if there is no such form. A record holds a match of R exactly when `^.*(R)` matches at its
 * start: '.' matches any byte, and R's anchors mean the same inside a group. But the group
 * renumbers back-references, so R must have none; and a ')' that R leaves unmatched is a literal
 * in R but would close the group, so it is written as the literal `\)`. Brackets are copied
 * whole: inside them parentheses and backslashes are literals.
 */
static size_t
anchored_form(const char *p, size_t len, char *out)
{
    size_t n = 4;
    size_t depth = 0;

    memcpy(out, "^.*(", 4);
    for (size_t i = 0; i < len; i++) {
        size_t from = i;

        if (p[i] == '\\') {
            if (i + 1 < len && p[i + 1] >= '1' && p[i + 1] <= '9') {
                return 0;
            }
            i = i + 1 < len ? i + 1 : i;
        } else if (p[i] == '[') {
            i = bracket_end(p, len, i);
        } else if (p[i] == '(') {
            depth++;
        } else if (p[i] == ')' && depth > 0) {
            depth--;
        } else if (p[i] == ')') {
            out[n++] = '\\';
        }
        i = i < len ? i : len - 1;
        memcpy(out + n, p + from, i + 1 - from);
        n += i + 1 - from;
    }
    out[n++] = ')';
    out[n] = '\0';
    return n;
}

/* Compiles `^.*(R)` for long records. It only saves time, so on any failure m goes without. */
static void
compile_anchored(struct matcher *m, const char *p, size_t len, int ignore_case)
{
    char *text = malloc(2 * len + 6);
    size_t n = text != NULL ? anchored_form(p, len, text) : 0;
    const char *why;

    if (n == 0) {
        free(text);
        return;
    }
    why = compile(&m->anchored, text, n, ignore_case, 0);
    free(text);
    /* R compiled, so this should too, with one more group; if not, keep to the plain search. */
    if (why != NULL || m->anchored.re_nsub != m->regex.re_nsub + 1) {
        regfree(&m->anchored);
        return;
    }
    m->has_anchored = 1;
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
    const char *why;

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

    why = compile(&m->regex, p, len, ignore_case, 1);
    if (why != NULL) {
        regfree(&m->regex);
        return host->error(ctx, "invalid pattern '%.*s': %s", (int)len, p, why);
    }
    m->kind = MATCH_REGEX;
    compile_anchored(m, p, len, ignore_case);
    return TRANCHE_OK;
}

static void
matcher_release(struct matcher *m)
{
    if (m->kind == MATCH_REGEX) {
        regfree(&m->regex);
        if (m->has_anchored) {
            regfree(&m->anchored);
        }
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

    /* re_search takes the length, so the record needs no NUL and may hold some; regexec with
     * REG_STARTEND would too, but ASan's interceptor runs strlen() over its string first. The
     * offsets are regoff_t, an int in glibc. */
    regoff_t at;

    if (len > (size_t)INT32_MAX) {
        return host->error(ctx, "record of %zu bytes is too long for a regex match", len);
    }
    if (m->has_anchored && len >= GREP_LONG_RECORD) {
        at = re_match(&m->anchored, data, (regoff_t)len, 0, NULL);
    } else {
        at = re_search(&m->regex, data, (regoff_t)len, 0, (regoff_t)len, NULL);
    }
    if (at >= 0) {
        return 1;
    }
    if (at == -1) {
        return 0;
    }
    return host->error(ctx, "regex match failed on a record of %zu bytes", len);
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

static int
grep_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct grep_state *s = state;
    const char *folded = NULL;
    int matched = 0;

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
    .version = "1.0",
    .description = "keeps records matching a regex or fixed string, like LC_ALL=C grep -E/-F",
    .options = grep_options,
    .init = grep_init,
    .record = grep_record,
    .fini = grep_fini,
};
