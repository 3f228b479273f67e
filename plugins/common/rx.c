/* plugins/common/rx.c: the regex engine of the bundled grep and replace plugins (see rx.h): GNU
 * grep -E's ERE normalised, then matched by PCRE2's JIT, or by glibc's regex where the build has
 * no PCRE2. Both give POSIX's leftmost-longest matches and groups (plugins/grep/README.md). */
#define _GNU_SOURCE /* the GNU regex interface */
#include "rx.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <regex.h>
#ifdef TRANCHE_HAVE_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

#define UNSET ((size_t)-1)

/* Writes msg into why[0, why_len); returns -1. */
static int
say(char *why, size_t why_len, const char *msg)
{
    if (why_len > 0) {
        snprintf(why, why_len, "%s", msg);
    }
    return -1;
}

/* ---- the walk, shared by both engines -------------------------------------------------------- */

int
rx_next(struct rx *rx, const char *s, size_t len, struct rx_walk *walk, int allow_empty,
        int want_groups, struct rx_match *m)
{
    while (walk->pos <= len) {
        int rc = rx_find(rx, s, len, walk->pos, want_groups, m);

        if (rc <= 0) {
            return rc;
        }
        /* The longest match at this place is empty, so no other match starts here. */
        if (m->start == m->end && (!allow_empty || (walk->any && m->start == walk->last_end))) {
            walk->pos = m->start + 1;
            continue;
        }
        walk->any = 1;
        walk->last_end = m->end;
        walk->pos = m->end > m->start ? m->end : m->end + 1;
        return 1;
    }
    return 0;
}

/* ---- grep -E's dialect, normalised ----------------------------------------------------------- */

/*
 * GNU grep -E matches with its own DFA where it can and with glibc's regex otherwise, and the two
 * read some odd patterns in their own ways. The pattern is rewritten first into one that means
 * what grep's DFA reads, in PCRE2's syntax or (for glibc) in plain ERE:
 * - a quantifier with nothing before it (at the start, after '(' or '|') is dropped, as grep
 *   does (with a warning); one after an anchor makes it optional (`^*` is empty) or leaves it;
 * - a quantifier after a quantifier applies to the quantified atom: `a+?` is (a+)?, never
 *   PCRE2's lazy or possessive forms; `{` that opens no well-formed interval is a literal, and
 *   `{,n}` is {0,n};
 * - a ')' with no '(' is a literal; `$` is the end of the record only (\z for PCRE2);
 * - a backslash before a character without a GNU meaning makes it literal (`\d` is d);
 *   \w \W \s \S \b \B \< \> \` \' keep their GNU meaning; inside brackets it is literal;
 * - bracket expressions: ']' first is a literal, [:class:], [=c=] and [.c.] for one byte;
 * - lines are alternatives, each with its own back-references (renumbered to the whole);
 * - for PCRE2, every other character is written as itself or \x{HH}, so none of PCRE2's own
 *   syntax leaks in; '.' matches any byte, newline and NUL included (PCRE2_DOTALL), as in grep.
 */
struct xlat {
    int ere; /* write plain ERE for glibc, else PCRE2 */
    char *out;
    size_t len, cap;
    int failed;        /* out of memory: the text is incomplete */
    size_t group_base; /* the groups of the lines before this one */
    int closed[10];    /* groups 1-9 of this line already closed (for back-references) */
    const char *why;   /* the first syntax error */
    /* Whether a backtracking matcher's first match may be shorter than the longest: not for a
     * sequence of one-byte atoms, each repeated or not, and zero-width assertions (the greedy
     * first choice is the longest there); it may be with alternatives, repeated groups, repeated
     * repeats and back-references. */
    int ambiguous;
};

/* What the last item written is, for a quantifier that follows it. */
enum atom_kind {
    NO_ATOM,    /* nothing to repeat: start of the pattern, of a group, of an alternative */
    PLAIN,      /* an atom PCRE2 takes a quantifier after */
    QUANTIFIED, /* an atom with its quantifier: PCRE2 needs it wrapped before another */
    ANCHOR,     /* a zero-width assertion */
};

static void
put(struct xlat *x, const char *s, size_t n)
{
    if (x->failed) {
        return;
    }
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap > 0 ? x->cap : 64;
        char *grown;

        while (cap < x->len + n + 1) {
            cap *= 2;
        }
        grown = realloc(x->out, cap);
        if (grown == NULL) {
            x->failed = 1;
            return;
        }
        x->out = grown;
        x->cap = cap;
    }
    memcpy(x->out + x->len, s, n);
    x->len += n;
    x->out[x->len] = '\0';
}

static void
put_str(struct xlat *x, const char *s)
{
    put(x, s, strlen(s));
}

static void
put_literal(struct xlat *x, unsigned char c)
{
    static const char ere_special[] = ".[]()*+?{}|^$\\";
    char buf[8];

    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        (x->ere && c != '\0' && strchr(ere_special, c) == NULL)) {
        buf[0] = (char)c;
        put(x, buf, 1);
    } else if (x->ere) {
        buf[0] = '\\';
        buf[1] = (char)c;
        put(x, buf, 2);
    } else {
        snprintf(buf, sizeof(buf), "\\x{%02x}", c);
        put_str(x, buf);
    }
}

/* Applies quantifier q, whose minimum is min, to the atom written from `at` on. */
static void
quantify(struct xlat *x, size_t at, enum atom_kind *kind, const char *q, long min)
{
    switch (*kind) {
    case NO_ATOM:
        return; /* grep ignores it */
    case ANCHOR:
        /* a repeated assertion is the assertion; an optional one always holds */
        if (min == 0) {
            x->len = at;
            *kind = NO_ATOM;
        }
        return;
    case QUANTIFIED:
        if (!x->ere) {
            put(x, "(?:", 3);
            if (x->failed) {
                return;
            }
            memmove(x->out + at + 3, x->out + at, x->len - 3 - at);
            memcpy(x->out + at, "(?:", 3);
            put(x, ")", 1);
        }
        break;
    case PLAIN:
        break;
    }
    put_str(x, q);
    *kind = QUANTIFIED;
}

/*
 * Parses an interval at p[i] == '{'. Returns the index after its '}' with q and *min set, i
 * itself when it is no interval (a literal '{'), or 0 with x->why on an error.
 */
static size_t
interval(struct xlat *x, const char *p, size_t len, size_t i, char *q, size_t q_len, long *min_out)
{
    size_t j = i + 1;
    long min = -1, max = -1;
    int comma = 0;

    for (; j < len && p[j] >= '0' && p[j] <= '9'; j++) {
        min = (min < 0 ? 0 : min) * 10 + (p[j] - '0');
        min = min > 100000 ? 100000 : min;
    }
    if (j < len && p[j] == ',') {
        comma = 1;
        for (j++; j < len && p[j] >= '0' && p[j] <= '9'; j++) {
            max = (max < 0 ? 0 : max) * 10 + (p[j] - '0');
            max = max > 100000 ? 100000 : max;
        }
    }
    if (j >= len || p[j] != '}') {
        return i;
    }
    if (min < 0 && !comma) {
        x->why = "invalid content of {} (an empty interval)";
        return 0;
    }
    min = min < 0 ? 0 : min;
    max = comma ? max : min;
    if (max >= 0 && min > max) {
        x->why = "invalid content of {} (the minimum is above the maximum)";
        return 0;
    }
    if (min > 32767 || max > 32767) {
        x->why = "regular expression too big (a repeat count above 32767)";
        return 0;
    }
    if (max < 0) {
        snprintf(q, q_len, "{%ld,}", min);
    } else {
        snprintf(q, q_len, "{%ld,%ld}", min, max);
    }
    *min_out = min;
    return j + 1;
}

static int
valid_class(const char *name, size_t n)
{
    static const char *const classes[] = {"alpha", "upper", "lower", "digit", "xdigit", "space",
                                          "print", "punct", "graph", "cntrl", "blank",  "alnum"};

    for (size_t k = 0; k < sizeof(classes) / sizeof(classes[0]); k++) {
        if (strlen(classes[k]) == n && memcmp(classes[k], name, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * One element of a bracket at p[*i]: a byte (returned, 0-255), a class (-2, written to out), or
 * -1 with x->why on an error. [=c=] and [.c.] must name one byte, as in the C locale.
 */
static int
bracket_element(struct xlat *x, const char *p, size_t len, size_t *i)
{
    size_t at = *i;

    if (p[at] == '[' && at + 1 < len &&
        (p[at + 1] == ':' || p[at + 1] == '=' || p[at + 1] == '.')) {
        char kind = p[at + 1];
        size_t end = at + 3;

        /* ends at the first "kind]" after its content's first byte */
        while (end + 1 < len && !(p[end] == kind && p[end + 1] == ']')) {
            end++;
        }
        if (end + 1 >= len) {
            x->why = "unmatched [, [^, [:, [., or [=";
            return -1;
        }
        *i = end + 2;
        if (kind == ':') {
            if (!valid_class(p + at + 2, end - at - 2)) {
                x->why = "invalid character class name";
                return -1;
            }
            put(x, "[:", 2);
            put(x, p + at + 2, end - at - 2);
            put(x, ":]", 2);
            return -2;
        }
        if (end - at - 2 != 1) {
            x->why = "invalid collation character";
            return -1;
        }
        return (unsigned char)p[at + 2];
    }
    *i = at + 1;
    return (unsigned char)p[at];
}

/* PCRE2's spelling of one byte inside a class. */
static void
put_class_byte(struct xlat *x, int c)
{
    char buf[16];

    snprintf(buf, sizeof(buf), "\\x{%02x}", c);
    put_str(x, buf);
}

/* Translates the bracket expression opening at p[i]; returns the index after it, 0 on error.
 * glibc gets it as written, once it is known to be well-formed. */
static size_t
bracket(struct xlat *x, const char *p, size_t len, size_t i)
{
    size_t open = i, here = x->len;
    int first = 1;

    i++;
    if (i < len && p[i] == '^') {
        put(x, "[^", 2);
        i++;
    } else {
        put(x, "[", 1);
    }
    for (;;) {
        int lo, hi;

        if (i >= len) {
            x->why = "unmatched [, [^, [:, [., or [=";
            return 0;
        }
        if (p[i] == ']' && !first) {
            put(x, "]", 1);
            if (x->ere) {
                x->len = here;
                put(x, p + open, i + 1 - open);
            }
            return i + 1;
        }
        first = 0;
        lo = bracket_element(x, p, len, &i);
        if (lo == -1) {
            return 0;
        }
        if (i + 1 < len && p[i] == '-' && p[i + 1] != ']') {
            i++;
            hi = lo == -2 || (p[i] == '[' && i + 1 < len && p[i + 1] == ':')
                     ? -2
                     : bracket_element(x, p, len, &i);
            if (hi == -1) {
                return 0;
            }
            if (lo == -2 || hi == -2 || hi < lo) {
                x->why = "invalid range end";
                return 0;
            }
            put_class_byte(x, lo);
            put(x, "-", 1);
            put_class_byte(x, hi);
        } else if (lo >= 0) {
            put_class_byte(x, lo);
        }
    }
}

/* A backslash sequence at p[i] == '\\'; returns the index after it, 0 on error. */
static size_t
escape(struct xlat *x, const char *p, size_t len, size_t i, enum atom_kind *kind)
{
    static const char *const pcre[][2] = {
        {"w", "[0-9A-Za-z_]"},
        {"W", "[^0-9A-Za-z_]"},
        {"s", "[\\t\\n\\x0b\\f\\r ]"},
        {"S", "[^\\t\\n\\x0b\\f\\r ]"},
        {"b", "\\b"},
        {"B", "\\B"},
        {"<", "\\b(?=\\w)"},
        {">", "\\b(?<=\\w)"},
        {"`", "\\A"},
        {"'", "\\z"},
    };
    char buf[32];
    char d;

    if (i + 1 >= len) {
        x->why = "trailing backslash";
        return 0;
    }
    d = p[i + 1];
    *kind = PLAIN;
    if (d >= '1' && d <= '9') {
        size_t n = x->group_base + (size_t)(d - '0');

        if (!x->closed[d - '0']) {
            x->why = "invalid back reference";
            return 0;
        }
        x->ambiguous = 1;
        if (x->ere && n > 9) {
            x->why = "a back-reference past \\9 (in a later line of the pattern)";
            return 0;
        }
        snprintf(buf, sizeof(buf), x->ere ? "\\%zu" : "\\g{%zu}", n);
        put_str(x, buf);
        return i + 2;
    }
    for (size_t k = 0; k < sizeof(pcre) / sizeof(pcre[0]); k++) {
        if (pcre[k][0][0] == d) {
            buf[0] = '\\';
            buf[1] = d;
            buf[2] = '\0';
            put_str(x, x->ere ? buf : pcre[k][1]);
            *kind = k >= 4 ? ANCHOR : PLAIN;
            return i + 2;
        }
    }
    put_literal(x, (unsigned char)d);
    return i + 2;
}

/* Translates one line of the pattern; returns its number of groups, or -1 with x->why. */
static long
translate_line(struct xlat *x, const char *p, size_t len)
{
    size_t *open = malloc((len + 1) * sizeof(*open));
    size_t *open_group = malloc((len + 1) * sizeof(*open_group));
    size_t depth = 0, groups = 0, atom = 0, i = 0;
    enum atom_kind kind = NO_ATOM;
    int atom_is_group = 0;
    long rc = -1;

    memset(x->closed, 0, sizeof(x->closed));
    if (open == NULL || open_group == NULL) {
        x->failed = 1;
        goto out;
    }
    while (i < len && x->why == NULL) {
        size_t here = x->len, next = i + 1;
        long min = 0;
        char q[48];
        /* the atom a quantifier here would repeat is a group, or already repeated */
        int compound = kind == QUANTIFIED || (kind == PLAIN && atom_is_group);

        atom_is_group = p[i] == ')' && depth > 0;

        switch (p[i]) {
        case '(':
            open[depth] = here;
            open_group[depth++] = ++groups;
            put(x, "(", 1);
            kind = NO_ATOM;
            break;
        case ')':
            if (depth == 0) {
                put_literal(x, ')');
                atom = here;
                kind = PLAIN;
                break;
            }
            depth--;
            put(x, ")", 1);
            atom = open[depth];
            kind = PLAIN;
            if (open_group[depth] <= 9) {
                x->closed[open_group[depth]] = 1;
            }
            break;
        case '|':
            x->ambiguous = 1;
            put(x, "|", 1);
            kind = NO_ATOM;
            break;
        case '*':
        case '+':
        case '?':
            q[0] = p[i];
            q[1] = '\0';
            x->ambiguous |= compound;
            quantify(x, atom, &kind, q, p[i] == '+');
            break;
        case '{':
            next = interval(x, p, len, i, q, sizeof(q), &min);
            if (next == i) {
                put_literal(x, '{');
                atom = here;
                kind = PLAIN;
                next = i + 1;
            } else if (next != 0) {
                x->ambiguous |= compound;
                quantify(x, atom, &kind, q, min);
            }
            break;
        case '^':
        case '$':
            put_str(x, p[i] == '^' ? "^" : x->ere ? "$" : "\\z");
            atom = here;
            kind = ANCHOR;
            break;
        case '.':
            put(x, ".", 1);
            atom = here;
            kind = PLAIN;
            break;
        case '[':
            next = bracket(x, p, len, i);
            atom = here;
            kind = PLAIN;
            break;
        case '\\':
            next = escape(x, p, len, i, &kind);
            atom = here;
            break;
        default:
            put_literal(x, (unsigned char)p[i]);
            atom = here;
            kind = PLAIN;
            break;
        }
        i = next;
    }
    if (x->why == NULL && depth > 0) {
        x->why = "unmatched ( or \\(";
    }
    if (x->why == NULL) {
        rc = (long)groups;
    }
out:
    free(open);
    free(open_group);
    return rc;
}

/*
 * The whole pattern in PCRE2's syntax or (ere) glibc's, its lines as alternatives; NULL with
 * *why set (or on no memory). *groups: the number of groups.
 */
static char *
translate(const char *p, size_t len, int fixed, int ere, size_t *groups, int *ambiguous,
          const char **why)
{
    struct xlat x = {0};
    size_t start = 0;

    x.ere = ere;
    for (;;) {
        const char *nl = memchr(p + start, '\n', len - start);
        size_t end = nl != NULL ? (size_t)(nl - p) : len;

        if (start > 0) {
            put(&x, "|", 1);
            x.ambiguous = 1;
        }
        if (fixed) {
            for (size_t i = start; i < end; i++) {
                put_literal(&x, (unsigned char)p[i]);
            }
        } else {
            long n = translate_line(&x, p + start, end - start);

            if (n < 0) {
                break;
            }
            x.group_base += (size_t)n;
        }
        if (nl == NULL) {
            break;
        }
        start = end + 1;
    }
    put(&x, "", 0);
    if (x.why != NULL || x.failed) {
        *why = x.why != NULL ? x.why : "out of memory";
        free(x.out);
        return NULL;
    }
    *groups = x.group_base;
    *ambiguous = x.ambiguous;
    return x.out;
}

/* ---- glibc's regex, for both engines --------------------------------------------------------- */

/* The syntax GNU grep -E compiles with: glibc's RE_SYNTAX_EGREP, spelled out because older
 * glibc versions defined that macro without intervals. */
#define EGREP_SYNTAX                                                                               \
    ((RE_SYNTAX_POSIX_EXTENDED | RE_INVALID_INTERVAL_ORD | RE_NEWLINE_ALT) &                       \
     ~(RE_CONTEXT_INVALID_OPS | RE_DOT_NOT_NULL))

/*
 * Compiles p with grep -E's own syntax, not regcomp's REG_EXTENDED, which differs from it: there
 * '.' does not match NUL, and a leading '*' or a stray '{' is an error instead of a literal.
 * Returns NULL, or why the pattern is invalid; re is to be released with regfree() either way.
 */
static const char *
compile(regex_t *re, const char *p, size_t len, int icase, int groups)
{
    reg_syntax_t saved = re_syntax_options;
    const char *why;

    memset(re, 0, sizeof(*re));
    /* The fastmap lets a search skip the bytes no match can start with. */
    re->fastmap = malloc(256);
    if (re->fastmap == NULL) {
        return "out of memory";
    }
    re_syntax_options = EGREP_SYNTAX | (groups ? 0 : RE_NO_SUB) | (icase ? RE_ICASE : 0);
    why = re_compile_pattern(p, len, re);
    re_syntax_options = saved;
    /* A record is one line to grep: ^ and $ must not match at newlines inside it. */
    re->newline_anchor = 0;
    return why;
}

#ifdef TRANCHE_HAVE_PCRE2

/* ---- PCRE2 ----------------------------------------------------------------------------------- */

/*
 * PCRE2 finds the leftmost start as POSIX does (it tries every way at a place before the next),
 * but there takes the first way in its own order, not the longest. Where the two can differ
 * (struct xlat's `ambiguous`), rx_find asks PCRE2's DFA matcher for the longest end at that
 * start; and glibc's regex, anchored at that start, where the groups are wanted or the pattern
 * has back-references (which the DFA matcher lacks): POSIX says which way the groups take, and
 * this way they are sed's, byte for byte. Patterns that are not ambiguous never leave the JIT.
 */
struct rx {
    pcre2_code *code; /* the translated pattern, JIT-compiled where the CPU allows */
    int jit;
    int has_backref;
    int ambiguous;
    size_t groups;
    pcre2_match_data *md;
    pcre2_match_data *dfa_md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *stack;
    int *ws; /* the DFA matcher's workspace */
    size_t ws_count;
    /* glibc's regex of the same pattern: made on first need (`posix_text` until then) */
    char *posix_text;
    int icase;
    int has_posix;
    regex_t posix;
    struct re_registers regs;
    char why[256];
};

const char *
rx_engine(void)
{
    static char name[64];

    if (name[0] == '\0') {
        char version[32] = "";
        uint32_t jit = 0;

        pcre2_config(PCRE2_CONFIG_VERSION, version);
        pcre2_config(PCRE2_CONFIG_JIT, &jit);
        snprintf(name, sizeof(name), "PCRE2 %.20s (%s)", version, jit ? "JIT" : "no JIT");
    }
    return name;
}

static int
pcre_why(struct rx *rx, int rc)
{
    char msg[200];

    pcre2_get_error_message(rc, (PCRE2_UCHAR *)msg, sizeof(msg));
    snprintf(rx->why, sizeof(rx->why), "regex match failed: %s", msg);
    return -1;
}

int
rx_new(const char *pattern, size_t len, int flags, struct rx **out, char *why, size_t why_len)
{
    struct rx *rx = calloc(1, sizeof(*rx));
    uint32_t options = PCRE2_DOTALL | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP | PCRE2_NEVER_BACKSLASH_C;
    int fixed = (flags & RX_FIXED) != 0;
    const char *bad = NULL;
    char *text;
    size_t groups;
    int errcode, ambiguous;
    PCRE2_SIZE erroffset;

    if (rx == NULL) {
        return say(why, why_len, "out of memory");
    }
    rx->icase = (flags & RX_ICASE) != 0;
    text = translate(pattern, len, fixed, 0, &rx->groups, &rx->ambiguous, &bad);
    if (text == NULL) {
        say(why, why_len, bad);
        goto fail;
    }
    /* (NULL where only glibc's syntax cannot say it: a back-reference past \9) */
    rx->posix_text = translate(pattern, len, fixed, 1, &groups, &ambiguous, &bad);
    rx->has_backref = strstr(text, "\\g{") != NULL;
    if (rx->icase) {
        options |= PCRE2_CASELESS;
    }
    rx->code =
        pcre2_compile((PCRE2_SPTR)text, PCRE2_ZERO_TERMINATED, options, &errcode, &erroffset, NULL);
    free(text);
    if (rx->code == NULL) {
        char msg[200];

        pcre2_get_error_message(errcode, (PCRE2_UCHAR *)msg, sizeof(msg));
        say(why, why_len, msg);
        goto fail;
    }
    rx->jit = pcre2_jit_compile(rx->code, PCRE2_JIT_COMPLETE) == 0;
    rx->md = pcre2_match_data_create(RX_GROUPS, NULL);
    rx->dfa_md = pcre2_match_data_create(1, NULL);
    rx->mctx = pcre2_match_context_create(NULL);
    /* A deeply backtracking match on a long record needs more than the default 32 KiB. */
    rx->stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
    rx->ws_count = 1000;
    rx->ws = malloc(rx->ws_count * sizeof(int));
    if (rx->md == NULL || rx->dfa_md == NULL || rx->mctx == NULL || rx->stack == NULL ||
        rx->ws == NULL) {
        say(why, why_len, "out of memory");
        goto fail;
    }
    pcre2_jit_stack_assign(rx->mctx, NULL, rx->stack);
    *out = rx;
    return 0;
fail:
    rx_free(rx);
    return -1;
}

void
rx_free(struct rx *rx)
{
    if (rx == NULL) {
        return;
    }
    pcre2_code_free(rx->code);
    pcre2_match_data_free(rx->md);
    pcre2_match_data_free(rx->dfa_md);
    pcre2_match_context_free(rx->mctx);
    pcre2_jit_stack_free(rx->stack);
    free(rx->ws);
    free(rx->posix_text);
    if (rx->has_posix) {
        regfree(&rx->posix);
    }
    free(rx->regs.start);
    free(rx->regs.end);
    free(rx);
}

/* PCRE2's DFA matcher: no backtracking, so no limit a hard pattern can reach; grows its
 * workspace as needed. Returns >= 0 on a match (the longest first in dfa_md). */
static int
dfa(struct rx *rx, const char *s, size_t len, size_t from, uint32_t options)
{
    for (;;) {
        int rc = pcre2_dfa_match(rx->code, (PCRE2_SPTR)s, len, from, options, rx->dfa_md, rx->mctx,
                                 rx->ws, rx->ws_count);
        int *grown;

        if (rc != PCRE2_ERROR_DFA_WSSIZE || rx->ws_count >= (1u << 22)) {
            return rc;
        }
        grown = realloc(rx->ws, rx->ws_count * 4 * sizeof(int));
        if (grown == NULL) {
            return rc;
        }
        rx->ws = grown;
        rx->ws_count *= 4;
    }
}

static int
backtracking_gave_up(int rc)
{
    return rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
           rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_HEAPLIMIT;
}

/*
 * glibc's regex of the same pattern: the POSIX match that starts at `from` (anchored) or at or
 * after it, into m with its groups. Returns 1, 0 if there is none, -1 with rx->why.
 */
static int
posix_match(struct rx *rx, const char *s, size_t len, size_t from, int anchored, struct rx_match *m)
{
    regoff_t at;

    if (!rx->has_posix) {
        const char *bad = compile(&rx->posix, rx->posix_text, strlen(rx->posix_text), rx->icase, 1);

        if (bad != NULL) {
            regfree(&rx->posix);
            snprintf(rx->why, sizeof(rx->why), "regex match failed: %s", bad);
            return -1;
        }
        rx->posix.regs_allocated = REGS_UNALLOCATED;
        rx->has_posix = 1;
    }
    if (len > (size_t)INT32_MAX) {
        snprintf(rx->why, sizeof(rx->why), "record of %zu bytes is too long for a regex match",
                 len);
        return -1;
    }
    at = re_search(&rx->posix, s, (regoff_t)len, (regoff_t)from,
                   anchored ? 0 : (regoff_t)(len - from), &rx->regs);
    if (at == -1) {
        return 0;
    }
    if (at < 0) {
        snprintf(rx->why, sizeof(rx->why), "regex match failed on a record of %zu bytes", len);
        return -1;
    }
    for (size_t k = 0; k < RX_GROUPS; k++) {
        int set = k < rx->regs.num_regs && k <= rx->groups && rx->regs.start[k] >= 0;

        m->group[k][0] = set ? (size_t)rx->regs.start[k] : UNSET;
        m->group[k][1] = set ? (size_t)rx->regs.end[k] : UNSET;
    }
    m->start = m->group[0][0];
    m->end = m->group[0][1];
    return 1;
}

int
rx_test(struct rx *rx, const char *s, size_t len)
{
    int rc = rx->jit ? pcre2_jit_match(rx->code, (PCRE2_SPTR)s, len, 0, 0, rx->md, rx->mctx)
                     : pcre2_match(rx->code, (PCRE2_SPTR)s, len, 0, 0, rx->md, rx->mctx);

    if (backtracking_gave_up(rc) && rx->has_backref && rx->posix_text != NULL) {
        struct rx_match m;

        /* too many ways to try: glibc's matcher (grep's, for back-references) decides */
        return posix_match(rx, s, len, 0, 0, &m);
    }
    if (backtracking_gave_up(rc) && !rx->has_backref) {
        rc = dfa(rx, s, len, 0, 0);
        rc = rc == 0 ? 1 : rc;
    }
    if (rc > 0) {
        return 1;
    }
    if (rc == PCRE2_ERROR_NOMATCH) {
        return 0;
    }
    return pcre_why(rx, rc);
}

static void
copy_groups(struct rx *rx, struct rx_match *m, int count)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rx->md);

    for (int k = 0; k < RX_GROUPS; k++) {
        m->group[k][0] = k < count && ov[2 * k] != PCRE2_UNSET ? ov[2 * k] : UNSET;
        m->group[k][1] = k < count && ov[2 * k] != PCRE2_UNSET ? ov[2 * k + 1] : UNSET;
    }
}

int
rx_find(struct rx *rx, const char *s, size_t len, size_t from, int want_groups, struct rx_match *m)
{
    PCRE2_SIZE *ov;
    int rc;

    rc = pcre2_match(rx->code, (PCRE2_SPTR)s, len, from, 0, rx->md, rx->mctx);
    if (rc == PCRE2_ERROR_NOMATCH) {
        return 0;
    }
    if (backtracking_gave_up(rc) && rx->has_backref && rx->posix_text != NULL) {
        return posix_match(rx, s, len, from, 0, m);
    }
    if (backtracking_gave_up(rc) && !rx->has_backref) {
        /* the DFA matcher's first match starts leftmost too */
        rc = dfa(rx, s, len, from, 0);
        if (rc == PCRE2_ERROR_NOMATCH) {
            return 0;
        }
        if (rc >= 0) {
            ov = pcre2_get_ovector_pointer(rx->dfa_md);
            rc = pcre2_match(rx->code, (PCRE2_SPTR)s, len, ov[0], PCRE2_ANCHORED, rx->md, rx->mctx);
        }
    }
    if (rc < 0) {
        return pcre_why(rx, rc);
    }
    ov = pcre2_get_ovector_pointer(rx->md);
    m->start = ov[0];
    m->end = ov[1];
    copy_groups(rx, m, rc);
    if (rx->ambiguous && rx->posix_text != NULL &&
        ((want_groups && rx->groups > 0) || rx->has_backref)) {
        struct rx_match posix;

        rc = posix_match(rx, s, len, m->start, 1, &posix);
        if (rc < 0) {
            return -1;
        }
        if (rc == 1) {
            *m =
                posix; /* (with no match there for glibc, PCRE2's stands: the tests never see it) */
        }
    } else if (rx->ambiguous && !rx->has_backref) {
        rc = dfa(rx, s, len, m->start, PCRE2_ANCHORED);
        if (rc < 0) {
            return pcre_why(rx, rc);
        }
        m->end = pcre2_get_ovector_pointer(rx->dfa_md)[1];
    }
    m->group[0][0] = m->start;
    m->group[0][1] = m->end;
    return 1;
}

#else /* glibc regex */

/* ---- glibc regex ----------------------------------------------------------------------------- */

/*
 * glibc's matcher tries each start position in turn, and a try may scan to the end of the
 * record (`GET .*php`, `\w+:`), so a search can cost the square of the record's length. From
 * this length on, rx_test matches `^.*(R)` instead: one anchored pass at a steady ~450 MB/s.
 * Below it the plain search wins, often by 2-5x, as its fastmap skips bytes that cannot start a
 * match, and the square stays small. A -D override lets a test force either path.
 */
#ifndef RX_LONG_RECORD
#define RX_LONG_RECORD 2048
#endif

struct rx {
    regex_t test;     /* no groups: the fastest for a yes or no */
    regex_t anchored; /* `^.*(R)`, for rx_test on long records; set if has_anchored */
    int has_anchored;
    regex_t find; /* with groups, for rx_find */
    size_t groups;
    struct re_registers regs;
    char why[256];
};

const char *
rx_engine(void)
{
    return "glibc regex";
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

/* Compiles `^.*(R)` for long records. It only saves time, so on any failure rx goes without. */
static void
compile_anchored(struct rx *rx, const char *p, size_t len, int icase)
{
    char *text = memchr(p, '\n', len) == NULL ? malloc(2 * len + 6) : NULL;
    size_t n = text != NULL ? anchored_form(p, len, text) : 0;
    const char *why;

    if (n == 0) {
        free(text);
        return;
    }
    why = compile(&rx->anchored, text, n, icase, 0);
    free(text);
    /* R compiled, so this should too, with one more group; if not, keep to the plain search. */
    if (why != NULL || rx->anchored.re_nsub != rx->test.re_nsub + 1) {
        regfree(&rx->anchored);
        return;
    }
    rx->has_anchored = 1;
}

int
rx_new(const char *pattern, size_t len, int flags, struct rx **out, char *why, size_t why_len)
{
    struct rx *rx = calloc(1, sizeof(*rx));
    int icase = (flags & RX_ICASE) != 0;
    char *text = NULL;
    const char *bad = NULL;
    int ambiguous, rc = -1;

    if (rx == NULL) {
        return say(why, why_len, "out of memory");
    }
    text = translate(pattern, len, (flags & RX_FIXED) != 0, 1, &rx->groups, &ambiguous, &bad);
    if (text == NULL) {
        say(why, why_len, bad);
        goto out;
    }
    len = strlen(text);
    bad = compile(&rx->test, text, len, icase, 0);
    if (bad == NULL) {
        bad = compile(&rx->find, text, len, icase, 1);
        if (bad != NULL) {
            regfree(&rx->find);
        }
    }
    if (bad != NULL) {
        regfree(&rx->test);
        say(why, why_len, bad);
        goto out;
    }
    compile_anchored(rx, text, len, icase);
    rx->find.regs_allocated = REGS_UNALLOCATED;
    *out = rx;
    rx = NULL;
    rc = 0;
out:
    free(text);
    free(rx);
    return rc;
}

void
rx_free(struct rx *rx)
{
    if (rx == NULL) {
        return;
    }
    regfree(&rx->test);
    regfree(&rx->find);
    if (rx->has_anchored) {
        regfree(&rx->anchored);
    }
    free(rx->regs.start);
    free(rx->regs.end);
    free(rx);
}

static int
too_long(struct rx *rx, size_t len)
{
    snprintf(rx->why, sizeof(rx->why), "record of %zu bytes is too long for a regex match", len);
    return -1;
}

/* re_search takes the length, so the record needs no NUL and may hold some; regexec with
 * REG_STARTEND would too, but ASan's interceptor runs strlen() over its string first. The
 * offsets are regoff_t, an int in glibc. */
int
rx_test(struct rx *rx, const char *s, size_t len)
{
    regoff_t at;

    if (len > (size_t)INT32_MAX) {
        return too_long(rx, len);
    }
    if (rx->has_anchored && len >= RX_LONG_RECORD) {
        at = re_match(&rx->anchored, s, (regoff_t)len, 0, NULL);
    } else {
        at = re_search(&rx->test, s, (regoff_t)len, 0, (regoff_t)len, NULL);
    }
    if (at >= 0) {
        return 1;
    }
    if (at == -1) {
        return 0;
    }
    snprintf(rx->why, sizeof(rx->why), "regex match failed on a record of %zu bytes", len);
    return -1;
}

int
rx_find(struct rx *rx, const char *s, size_t len, size_t from, int want_groups, struct rx_match *m)
{
    regoff_t at;

    if (len > (size_t)INT32_MAX) {
        return too_long(rx, len);
    }
    at = re_search(&rx->find, s, (regoff_t)len, (regoff_t)from, (regoff_t)(len - from), &rx->regs);
    if (at == -1) {
        return 0;
    }
    if (at < 0) {
        snprintf(rx->why, sizeof(rx->why), "regex match failed on a record of %zu bytes", len);
        return -1;
    }
    m->start = (size_t)rx->regs.start[0];
    m->end = (size_t)rx->regs.end[0];
    for (size_t k = 0; k < RX_GROUPS; k++) {
        int set = (k == 0 || want_groups) && k < rx->regs.num_regs && k <= rx->find.re_nsub &&
                  rx->regs.start[k] >= 0;

        m->group[k][0] = set ? (size_t)rx->regs.start[k] : UNSET;
        m->group[k][1] = set ? (size_t)rx->regs.end[k] : UNSET;
    }
    return 1;
}

#endif

/* (both engines' struct rx have these two) */
size_t
rx_group_count(const struct rx *rx)
{
    return rx->groups;
}

const char *
rx_why(const struct rx *rx)
{
    return rx->why;
}
