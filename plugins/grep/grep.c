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
 * literal", so it skips regexec, which costs far more than memmem or memcmp.
 */
enum match_kind {
    MATCH_SUBSTRING,
    MATCH_PREFIX,
    MATCH_SUFFIX,
    MATCH_WHOLE,
    MATCH_REGEX
};

struct matcher {
    enum match_kind kind;
    char *literal; /* case-folded to lower when ignore_case; unused for MATCH_REGEX */
    size_t literal_len;
    regex_t regex;
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

/* The syntax GNU grep -E compiles with (glibc's RE_SYNTAX_EGREP since 2.25, spelled out so an
 * older glibc, whose macro lacked intervals, gives the same meaning). */
#define EGREP_SYNTAX                                                                             \
    ((RE_SYNTAX_POSIX_EXTENDED | RE_INVALID_INTERVAL_ORD | RE_NEWLINE_ALT) &                     \
     ~(RE_CONTEXT_INVALID_OPS | RE_DOT_NOT_NULL))

static const struct tranche_host *host;

static const struct tranche_option grep_options[] = {
    {"pattern", TRANCHE_OPT_STRING, NULL, 1,
     "POSIX extended regex (or fixed string) a record must contain"},
    {"fixed", TRANCHE_OPT_BOOL, "false", 0, "match pattern as a plain string, like grep -F"},
    {"invert", TRANCHE_OPT_BOOL, "false", 0, "keep the records that do not match, like grep -v"},
    {"ignore_case", TRANCHE_OPT_BOOL, "false", 0,
     "ignore ASCII case when matching, like grep -i"},
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

/* Sets m up for one newline-free pattern; on failure m holds nothing to free. */
static int
matcher_init(struct matcher *m, tranche_ctx *ctx, const char *p, size_t len, int fixed,
             int ignore_case)
{
    size_t start = 0;
    size_t end = len;
    int anchor_start = 0;
    int anchor_end = 0;

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
        m->kind = anchor_start ? (anchor_end ? MATCH_WHOLE : MATCH_PREFIX)
                               : (anchor_end ? MATCH_SUFFIX : MATCH_SUBSTRING);
        return TRANCHE_OK;
    }

    /* grep -E's own syntax rather than regcomp's REG_EXTENDED, which differs from it: there '.'
     * does not match NUL, and a leading '*' or a stray '{' is an error instead of a literal. */
    reg_syntax_t saved = re_syntax_options;
    const char *why;

    m->regex.fastmap = malloc(256);
    if (m->regex.fastmap == NULL) {
        return host->error(ctx, "out of memory");
    }
    re_syntax_options = EGREP_SYNTAX | RE_NO_SUB | (ignore_case ? RE_ICASE : 0);
    why = re_compile_pattern(p, len, &m->regex);
    re_syntax_options = saved;
    if (why != NULL) {
        regfree(&m->regex);
        return host->error(ctx, "invalid pattern '%.*s': %s", (int)len, p, why);
    }
    /* A record is one line to grep: ^ and $ must not match at newlines inside it. */
    m->regex.newline_anchor = 0;
    m->kind = MATCH_REGEX;
    return TRANCHE_OK;
}

static void
matcher_release(struct matcher *m)
{
    if (m->kind == MATCH_REGEX) {
        regfree(&m->regex);
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
    for (const char *p = pattern; *p != '\0'; p++) {
        lines += *p == '\n';
    }
    s->matchers = calloc(lines, sizeof(*s->matchers));
    if (s->matchers == NULL) {
        free(s);
        return host->error(ctx, "out of memory");
    }

    const char *p = pattern;

    for (size_t i = 0; i < lines; i++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

        if (matcher_init(&s->matchers[i], ctx, p, len, fixed, s->ignore_case) != TRANCHE_OK) {
            /* The host may not call fini after a failed init, so clean up here. */
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
matcher_test(const struct matcher *m, tranche_ctx *ctx, const char *data, const char *folded,
             size_t len)
{
    const char *hay = folded != NULL ? folded : data;
    size_t n = m->literal_len;

    switch (m->kind) {
    case MATCH_SUBSTRING:
        return n == 0 || memmem(hay, len, m->literal, n) != NULL;
    case MATCH_PREFIX:
        return len >= n && memcmp(hay, m->literal, n) == 0;
    case MATCH_SUFFIX:
        return len >= n && memcmp(hay + len - n, m->literal, n) == 0;
    case MATCH_WHOLE:
        return len == n && memcmp(hay, m->literal, n) == 0;
    case MATCH_REGEX:
        break;
    }

    /* REG_STARTEND bounds the search by length, so the record needs no NUL and may hold some.
     * regexec rather than re_search: it stops at the first match instead of the longest. Its
     * offsets are regoff_t, an int in glibc. */
    regmatch_t range[1];
    int rc;

    if (len > (size_t)INT32_MAX) {
        return host->error(ctx, "record of %zu bytes is too long for a regex match", len);
    }
    range[0].rm_so = 0;
    range[0].rm_eo = (regoff_t)len;
    rc = regexec(&m->regex, data, 1, range, REG_STARTEND);
    if (rc == 0) {
        return 1;
    }
    if (rc == REG_NOMATCH) {
        return 0;
    }
    return host->error(ctx, "regex match failed on a record of %zu bytes (error %d)", len, rc);
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
