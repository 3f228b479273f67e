/* plugins/replace/replace.c: the `replace` plugin, which substitutes the matches of a regex (or a
 * fixed string) in each record, like `LC_ALL=C sed -E 's/PATTERN/REPLACEMENT/g'`, with groups.
 * Patterns are grep's (../common/rx.c), so a pattern means here what it means to grep. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tranche/plugin.h>

#include "../common/opterr.h"
#include "rx.h"

/* The replacement, parsed once: literal bytes and references to groups, in order. */
struct piece {
    int group;        /* -1: the literal text[0, len); 0-9: that group of the match */
    const char *text; /* into replace_state.literals */
    size_t len;
};

struct replace_state {
    struct rx *rx;
    int global;
    struct piece *pieces;
    size_t count;
    char *literals; /* the literal bytes of all pieces */
    int any_group;  /* whether a piece needs groups 1-9 */
    /* The record being rebuilt; grows, never shrinks. */
    char *out;
    size_t out_len, out_cap;
};

static const struct tranche_host *host;

static const struct tranche_option replace_options[] = {
    {"pattern", TRANCHE_OPT_STRING, NULL, 1,
     "POSIX extended regex (grep -E syntax), or fixed string, to replace"},
    {"replacement", TRANCHE_OPT_STRING, NULL, 1,
     "what replaces each match: \\1-\\9 groups, & the match, \\& \\\\ \\n \\t literals"},
    {"fixed", TRANCHE_OPT_BOOL, "false", 0,
     "pattern and replacement are plain strings (no regex, no \\1 or &)"},
    {"global", TRANCHE_OPT_BOOL, "true", 0,
     "replace every match (sed's s///g); false: the first match of each record only"},
    {"ignore_case", TRANCHE_OPT_BOOL, "false", 0, "ignore ASCII case when matching (sed's I)"},
    {NULL, 0, NULL, 0, NULL},
};

static void
add_piece(struct replace_state *s, int group, const char *text, size_t len)
{
    /* Literal bytes next to a literal piece join it. */
    if (group < 0 && s->count > 0 && s->pieces[s->count - 1].group < 0) {
        s->pieces[s->count - 1].len += len;
        return;
    }
    s->pieces[s->count].group = group;
    s->pieces[s->count].text = text;
    s->pieces[s->count].len = len;
    s->count++;
    s->any_group |= group > 0;
}

/*
 * Parses sed's replacement syntax: \N a group (\0 and & the whole match), \& \\ a literal & or
 * backslash, \n \t a newline or tab, any other \c the byte c. sed's case conversions (\L \U \l
 * \u \E) are not supported, so they are refused rather than read as letters.
 */
static int
parse_replacement(struct replace_state *s, tranche_ctx *ctx, const char *r, int fixed)
{
    size_t len = strlen(r), n = 0;
    size_t groups = rx_group_count(s->rx);

    s->pieces = calloc(len + 1, sizeof(*s->pieces));
    s->literals = malloc(len + 1);
    if (s->pieces == NULL || s->literals == NULL) {
        return host->error(ctx, "out of memory");
    }
    for (size_t i = 0; i < len; i++) {
        char c = r[i];

        if (!fixed && c == '&') {
            add_piece(s, 0, NULL, 0);
            continue;
        }
        if (!fixed && c == '\\') {
            if (i + 1 == len) {
                return PLUGIN_OPTION_ERROR(host, ctx, "replacement",
                                           "replacement '%s' ends with a lone backslash (write "
                                           "\\\\ for a backslash)",
                                           r);
            }
            c = r[++i];
            if (c >= '0' && c <= '9') {
                if ((size_t)(c - '0') > groups) {
                    return PLUGIN_OPTION_ERROR(host, ctx, "replacement",
                                               "replacement '%s' refers to \\%c, but the pattern "
                                               "has %zu group(s)",
                                               r, c, groups);
                }
                add_piece(s, c - '0', NULL, 0);
                continue;
            }
            if (strchr("LUluE", c) != NULL) {
                return PLUGIN_OPTION_ERROR(host, ctx, "replacement",
                                           "replacement '%s': \\%c (sed's case conversion) is "
                                           "not supported",
                                           r, c);
            }
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
        }
        s->literals[n] = c;
        add_piece(s, -1, s->literals + n, 1);
        n++;
    }
    return TRANCHE_OK;
}

static void
replace_fini(void *state)
{
    struct replace_state *s = state;

    if (s == NULL) {
        return;
    }
    rx_free(s->rx);
    free(s->pieces);
    free(s->literals);
    free(s->out);
    free(s);
}

static int
replace_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    const char *pattern, *replacement;
    struct replace_state *s;
    int fixed, flags;
    char why[256];

    host = h;
    pattern = host->opt_string(ctx, "pattern");
    replacement = host->opt_string(ctx, "replacement");
    if (pattern == NULL || replacement == NULL) {
        return host->error(ctx, "options 'pattern' and 'replacement' are required");
    }
    fixed = host->opt_bool(ctx, "fixed") != 0;
    flags = (fixed ? RX_FIXED : 0) | (host->opt_bool(ctx, "ignore_case") ? RX_ICASE : 0);
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return host->error(ctx, "out of memory");
    }
    s->global = host->opt_bool(ctx, "global") != 0;
    if (rx_new(pattern, strlen(pattern), flags, &s->rx, why, sizeof(why)) != 0) {
        free(s);
        return PLUGIN_OPTION_ERROR(host, ctx, "pattern", "invalid pattern '%s': %s", pattern, why);
    }
    if (parse_replacement(s, ctx, replacement, fixed) != TRANCHE_OK) {
        /* A failed init gets no fini(), so it releases what it holds itself. */
        replace_fini(s);
        return TRANCHE_ERROR;
    }
    *state = s;
    return TRANCHE_OK;
}

static int
append(struct replace_state *s, tranche_ctx *ctx, const char *p, size_t n)
{
    if (n == 0) {
        return TRANCHE_OK; /* (s->out may still be NULL, and memcpy wants a pointer) */
    }
    if (n > s->out_cap - s->out_len) {
        size_t cap = s->out_cap > 0 ? s->out_cap : 256;
        char *grown;

        while (cap - s->out_len < n) {
            if (cap > SIZE_MAX / 2) {
                return host->error(ctx, "out of memory: a replaced record over %zu bytes", cap);
            }
            cap *= 2;
        }
        grown = realloc(s->out, cap);
        if (grown == NULL) {
            return host->error(ctx, "out of memory: a replaced record of %zu bytes",
                               s->out_len + n);
        }
        s->out = grown;
        s->out_cap = cap;
    }
    memcpy(s->out + s->out_len, p, n);
    s->out_len += n;
    return TRANCHE_OK;
}

static int
append_replacement(struct replace_state *s, tranche_ctx *ctx, const char *data,
                   const struct rx_match *m)
{
    for (size_t k = 0; k < s->count; k++) {
        const struct piece *pc = &s->pieces[k];
        const char *from = pc->text;
        size_t n = pc->len;

        if (pc->group >= 0) {
            /* an unset group (of an alternative not taken) is empty, as in sed */
            size_t a = m->group[pc->group][0], b = m->group[pc->group][1];

            from = data + (a == (size_t)-1 ? 0 : a);
            n = a == (size_t)-1 ? 0 : b - a;
        }
        if (append(s, ctx, from, n) != TRANCHE_OK) {
            return TRANCHE_ERROR;
        }
    }
    return TRANCHE_OK;
}

static int
replace_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct replace_state *s = state;
    struct rx_walk walk = {0};
    struct rx_match m;
    size_t copied = 0;
    int rc;

    s->out_len = 0;
    while ((rc = rx_next(s->rx, data, len, &walk, 1, s->any_group, &m)) == 1) {
        if (append(s, ctx, data + copied, m.start - copied) != TRANCHE_OK ||
            append_replacement(s, ctx, data, &m) != TRANCHE_OK) {
            return TRANCHE_ERROR;
        }
        copied = m.end;
        if (!s->global) {
            break;
        }
    }
    if (rc < 0) {
        return host->error(ctx, "%s", rx_why(s->rx));
    }
    if (!walk.any) {
        return host->emit(ctx, data, len); /* no match: the record as it is */
    }
    if (append(s, ctx, data + copied, len - copied) != TRANCHE_OK) {
        return TRANCHE_ERROR;
    }
    return host->emit(ctx, s->out != NULL ? s->out : "", s->out_len);
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "replace",
    .version = "1.0",
    .description = "replaces regex or fixed-string matches in each record, like sed -E s///g",
    .options = replace_options,
    .init = replace_init,
    .record = replace_record,
    .fini = replace_fini,
};
