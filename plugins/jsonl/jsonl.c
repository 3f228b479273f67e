/* plugins/jsonl/jsonl.c: the `jsonl` plugin, which reads each record as one JSON value (JSON
 * lines), keeps it if it satisfies every `where` item, and emits the values of `fields` joined by a
 * delimiter, like `jq -r 'select(...) | [.a, .b.c] | @tsv'` (or the record itself without
 * `fields`). Every record is validated whole: invalid JSON fails the partition with the byte. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tranche/plugin.h>

#include "../common/bytebuf.h"
#include "../common/opterr.h"

/* As jq 1.6: deeper nesting is an error, and recursion stays far inside a callback's stack. */
#define MAX_DEPTH 256

enum json_type { J_MISSING, J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_OBJECT, J_ARRAY };

/*
 * The paths named by `fields` and `where` form a tree of nodes; node 0 is the record's value.
 * While a record is parsed, each node on the way notes the type and span of its value (a later
 * duplicate key replaces an earlier one, as in jq); nodes off every path are only validated.
 */
struct node {
    const char *key; /* one path segment, as written (points into the option's text copy) */
    size_t key_len;
    int child;   /* first child, or -1 */
    int sibling; /* next child of the same parent, or -1 */
    enum json_type type;
    const char *start; /* the value's text, quotes included for a string */
    const char *end;
};

/* One `where` item: PATH=VALUE or PATH!=VALUE, VALUE a JSON scalar or else plain text. */
struct condition {
    int node;
    int negate;
    enum json_type type;
    struct bytebuf text; /* a string's bytes (decoded) */
    double number;
};

struct jsonl_state {
    struct node *nodes;
    size_t n_nodes;
    int *fields; /* node of each output column */
    size_t n_fields;
    struct condition *conditions;
    size_t n_conditions;
    char **copies; /* the path texts nodes point into */
    size_t n_copies;
    const char *separator;
    size_t separator_len;
    int escape;
    struct bytebuf out;
    struct bytebuf scratch;
    /* the record being parsed */
    const char *base;
    const char *p;
    const char *end;
    const char *why; /* the first error, at err_at */
    const char *err_at;
};

static const struct tranche_host *host;

/* The one error that is not the record's fault. */
static const char out_of_memory[] = "out of memory";

static const struct tranche_option jsonl_options[] = {
    {"fields", TRANCHE_OPT_LIST, NULL, 0,
     "values to emit, as paths: name, a.b.c, items.0 (default: the whole record, unchanged)"},
    {"delimiter", TRANCHE_OPT_STRING, "\\t", 0, "written between the fields' values (\\t: tab)"},
    {"where", TRANCHE_OPT_LIST, NULL, 0,
     "keep records where every PATH=VALUE (or PATH!=VALUE) holds; VALUE is JSON (404, true, null, "
     "\"text\") or else plain text"},
    {"escape", TRANCHE_OPT_BOOL, "true", 0,
     "write \\, tab, newline, CR and NUL in strings as \\\\, \\t, \\n, \\r, \\0 (as jq's @tsv)"},
    {NULL, 0, NULL, 0, NULL},
};

/* ---- the path tree ------------------------------------------------------------------------ */

static int
find_child(const struct jsonl_state *s, int parent, const char *key, size_t len)
{
    for (int c = s->nodes[parent].child; c >= 0; c = s->nodes[c].sibling) {
        if (s->nodes[c].key_len == len && memcmp(s->nodes[c].key, key, len) == 0) {
            return c;
        }
    }
    return -1;
}

/* The node of a path (a.b.c; a leading '.' is allowed, as jq writes it), added if new; -1 when
 * out of memory, -2 when a segment is empty. `path` must live as long as the state. */
static int
add_path(struct jsonl_state *s, const char *path)
{
    int node = 0;
    const char *p = path[0] == '.' && path[1] != '\0' ? path + 1 : path;

    if (*p == '\0') {
        return -2;
    }
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot != NULL ? (size_t)(dot - p) : strlen(p);
        int child;

        if (len == 0) {
            return -2;
        }
        child = find_child(s, node, p, len);
        if (child < 0) {
            struct node *grown = realloc(s->nodes, (s->n_nodes + 1) * sizeof(*grown));

            if (grown == NULL) {
                return -1;
            }
            s->nodes = grown;
            child = (int)s->n_nodes++;
            s->nodes[child] = (struct node){p, len, -1, s->nodes[node].child, J_MISSING, 0, 0};
            s->nodes[node].child = child;
        }
        node = child;
        if (dot == NULL) {
            return node;
        }
        p = dot + 1;
    }
}

/* ---- parsing --------------------------------------------------------------------------------- */

static int
fail_at(struct jsonl_state *s, const char *at, const char *why)
{
    if (s->why == NULL) {
        s->why = why;
        s->err_at = at;
    }
    return -1;
}

static void
skip_space(struct jsonl_state *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
        s->p++;
    }
}

static int
hex4(const char *p, const char *end, unsigned *out)
{
    unsigned v = 0;

    if (end - p < 4) {
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

static int
put_utf8(struct bytebuf *out, unsigned cp)
{
    char b[4];
    size_t n;

    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return bytebuf_append(out, b, n);
}

/* Reads \uXXXX (and the low half of a surrogate pair) at *pp, past the "\u"; sets *cp. A lone low
 * surrogate reads as U+FFFD and a high one without its low half is an error, as in jq. */
static const char *
read_unicode(const char **pp, const char *end, unsigned *cp)
{
    const char *p = *pp;
    unsigned hi;
    unsigned lo;

    if (hex4(p, end, &hi) != 0) {
        return "\\u needs four hex digits";
    }
    p += 4;
    if (hi >= 0xdc00 && hi <= 0xdfff) {
        hi = 0xfffd;
    } else if (hi >= 0xd800 && hi <= 0xdbff) {
        if (end - p < 2 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, end, &lo) != 0 ||
            lo < 0xdc00 || lo > 0xdfff) {
            return "a \\u high surrogate must be followed by a \\u low surrogate";
        }
        p += 6;
        hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    }
    *cp = hi;
    *pp = p;
    return NULL;
}

/* What an escaped character stands for, or -1 if the escape is not JSON's. */
static int
unescape(char c)
{
    switch (c) {
    case '"':
    case '\\':
    case '/':
        return c;
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return -1;
    }
}

/* How jq's @tsv writes a byte of a string, or NULL to write it as it is. */
static const char *
tsv_escape(char c)
{
    switch (c) {
    case '\\':
        return "\\\\";
    case '\t':
        return "\\t";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\0':
        return "\\0";
    default:
        return NULL;
    }
}

/* Whether some byte of w is below n (n <= 128; exact, as the classic "has zero byte" test). */
static int
has_byte_below(uint64_t w, unsigned n)
{
    return ((w - 0x0101010101010101ULL * n) & ~w & 0x8080808080808080ULL) != 0;
}

/* The end of the run of string bytes at p that need no decoding: the first '"', '\\' or control
 * character (or end). Eight bytes at a time until a word holds one of them. */
static const char *
plain_run(const char *p, const char *end)
{
    while (end - p >= 8) {
        uint64_t w;

        memcpy(&w, p, 8);
        if (has_byte_below(w, 0x20) || has_byte_below(w ^ 0x2222222222222222ULL, 1) ||
            has_byte_below(w ^ 0x5c5c5c5c5c5c5c5cULL, 1)) {
            break;
        }
        p += 8;
    }
    while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) {
        p++;
    }
    return p;
}

/*
 * Walks the string whose opening quote is at s->p and leaves s->p past its closing quote. With
 * `out`, appends the decoded bytes (escaped as @tsv when `tsv`); else only validates. Returns 0,
 * or -1 with the error noted.
 */
static int
walk_string(struct jsonl_state *s, struct bytebuf *out, int tsv)
{
    const char *p = s->p + 1;
    const char *end = s->end;

    for (;;) {
        const char *run = p;

        p = plain_run(p, end);
        /* a plain run holds no byte that @tsv escapes: those are '\\' and control characters */
        if (out != NULL && p > run && bytebuf_append(out, run, (size_t)(p - run)) != 0) {
            return fail_at(s, p, out_of_memory);
        }
        if (p == end) {
            return fail_at(s, p, "unterminated string");
        }
        if (*p == '"') {
            s->p = p + 1;
            return 0;
        }
        if (*p != '\\') {
            return fail_at(s, p, "control character in a string (must be escaped)");
        }
        if (p + 1 == end) {
            return fail_at(s, p, "unterminated string");
        }

        unsigned cp;

        if (p[1] == 'u') {
            const char *why;

            p += 2;
            why = read_unicode(&p, end, &cp);
            if (why != NULL) {
                return fail_at(s, p, why);
            }
        } else {
            int c = unescape(p[1]);

            if (c < 0) {
                return fail_at(s, p, "invalid escape in a string");
            }
            cp = (unsigned)c;
            p += 2;
        }
        if (out != NULL) {
            const char *e = tsv && cp < 0x80 ? tsv_escape((char)cp) : NULL;
            int rc = e != NULL ? bytebuf_append(out, e, 2) : put_utf8(out, cp);

            if (rc != 0) {
                return fail_at(s, p, out_of_memory);
            }
        }
    }
}

static int
skip_digits(struct jsonl_state *s)
{
    const char *start = s->p;

    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        s->p++;
    }
    return s->p > start;
}

/* A number as JSON writes it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
parse_number(struct jsonl_state *s)
{
    const char *start = s->p;

    if (s->p < s->end && *s->p == '-') {
        s->p++;
    }
    if (s->p < s->end && *s->p == '0') {
        s->p++;
    } else if (!skip_digits(s)) {
        return fail_at(s, start, "invalid number");
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!skip_digits(s)) {
            return fail_at(s, s->p, "invalid number: digits must follow '.'");
        }
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
            s->p++;
        }
        if (!skip_digits(s)) {
            return fail_at(s, s->p, "invalid number: digits must follow the exponent");
        }
    }
    return 0;
}

static int
parse_literal(struct jsonl_state *s, enum json_type *type)
{
    static const struct {
        const char *text;
        size_t len;
        enum json_type type;
    } literals[] = {{"true", 4, J_TRUE}, {"false", 5, J_FALSE}, {"null", 4, J_NULL}};

    for (size_t i = 0; i < sizeof(literals) / sizeof(literals[0]); i++) {
        if ((size_t)(s->end - s->p) >= literals[i].len &&
            memcmp(s->p, literals[i].text, literals[i].len) == 0) {
            s->p += literals[i].len;
            *type = literals[i].type;
            return 0;
        }
    }
    return fail_at(s, s->p, "unexpected character");
}

static int parse_value(struct jsonl_state *s, int node, int depth);

/* Forgets what a node's descendants noted: a later duplicate key replaces the whole value. */
static void
forget_below(struct jsonl_state *s, int node)
{
    for (int c = s->nodes[node].child; c >= 0; c = s->nodes[c].sibling) {
        s->nodes[c].type = J_MISSING;
        forget_below(s, c);
    }
}

/* The child of `node` that a key (its opening quote at s->p) names, or -1; moves s->p past it. */
static int
read_key(struct jsonl_state *s, int node, int *child)
{
    const char *start = s->p + 1;
    const char *stop;

    *child = -1;
    if (walk_string(s, NULL, 0) != 0) {
        return -1;
    }
    if (node < 0 || s->nodes[node].child < 0) {
        return 0;
    }
    stop = s->p - 1;
    if (memchr(start, '\\', (size_t)(stop - start)) == NULL) {
        *child = find_child(s, node, start, (size_t)(stop - start));
        return 0;
    }

    /* an escaped key: compare its decoded bytes */
    const char *after = s->p;

    s->scratch.len = 0;
    s->p = start - 1;
    if (walk_string(s, &s->scratch, 0) != 0) {
        return -1;
    }
    s->p = after;
    *child = find_child(s, node, s->scratch.data, s->scratch.len);
    return 0;
}

static int
parse_object(struct jsonl_state *s, int node, int depth)
{
    s->p++;
    skip_space(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        int child;

        skip_space(s);
        if (s->p == s->end || *s->p != '"') {
            return fail_at(s, s->p, "expected a key in quotes");
        }
        if (read_key(s, node, &child) != 0) {
            return -1;
        }
        skip_space(s);
        if (s->p == s->end || *s->p != ':') {
            return fail_at(s, s->p, "expected ':' after a key");
        }
        s->p++;
        if (parse_value(s, child, depth + 1) != 0) {
            return -1;
        }
        skip_space(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            return 0;
        }
        return fail_at(s, s->p, "expected ',' or '}' in an object");
    }
}

/* The child of `node` named by the decimal index i, or -1. */
static int
index_child(struct jsonl_state *s, int node, size_t i)
{
    char key[24];
    int n;

    if (node < 0 || s->nodes[node].child < 0) {
        return -1;
    }
    n = snprintf(key, sizeof(key), "%zu", i);
    return find_child(s, node, key, (size_t)n);
}

static int
parse_array(struct jsonl_state *s, int node, int depth)
{
    s->p++;
    skip_space(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (size_t i = 0;; i++) {
        if (parse_value(s, index_child(s, node, i), depth + 1) != 0) {
            return -1;
        }
        skip_space(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            return 0;
        }
        return fail_at(s, s->p, "expected ',' or ']' in an array");
    }
}

/* Parses one value at s->p; when node >= 0, notes its type and span there. */
static int
parse_value(struct jsonl_state *s, int node, int depth)
{
    enum json_type type;
    const char *start;
    int rc;

    skip_space(s);
    start = s->p;
    if (s->p == s->end) {
        return fail_at(s, s->p, "unexpected end of the record");
    }
    if (depth > MAX_DEPTH) {
        return fail_at(s, s->p, "nested deeper than 256 levels");
    }
    if (node >= 0) {
        forget_below(s, node);
    }
    switch (*s->p) {
    case '{':
        type = J_OBJECT;
        rc = parse_object(s, node, depth);
        break;
    case '[':
        type = J_ARRAY;
        rc = parse_array(s, node, depth);
        break;
    case '"':
        type = J_STRING;
        rc = walk_string(s, NULL, 0);
        break;
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) {
            type = J_NUMBER;
            rc = parse_number(s);
        } else {
            rc = parse_literal(s, &type);
        }
        break;
    }
    if (rc == 0 && node >= 0) {
        s->nodes[node].type = type;
        s->nodes[node].start = start;
        s->nodes[node].end = s->p;
    }
    return rc;
}

/* Parses a whole record; 1 if it holds a value, 0 if it is blank (skipped, as jq does), -1 on an
 * error (noted in s->why). */
static int
parse_record(struct jsonl_state *s, const char *data, size_t len)
{
    s->base = data;
    s->p = data;
    s->end = data + len;
    s->why = NULL;
    for (size_t i = 0; i < s->n_nodes; i++) {
        s->nodes[i].type = J_MISSING;
    }
    skip_space(s);
    if (s->p == s->end) {
        return 0;
    }
    if (parse_value(s, 0, 0) != 0) {
        return -1;
    }
    skip_space(s);
    if (s->p != s->end) {
        return fail_at(s, s->p, "more than one JSON value in the record");
    }
    return 1;
}

/* ---- conditions and output --------------------------------------------------------------------
 */

/* The string value of a node, decoded into s->scratch. */
static int
decode_node(struct jsonl_state *s, const struct node *n, struct bytebuf *out, int tsv)
{
    s->p = n->start;
    s->end = n->end;
    return walk_string(s, out, tsv);
}

static int
condition_holds(struct jsonl_state *s, const struct condition *c)
{
    const struct node *n = &s->nodes[c->node];
    enum json_type type = n->type == J_MISSING ? J_NULL : n->type;
    int equal = type == c->type;

    if (equal && type == J_STRING) {
        s->scratch.len = 0;
        if (decode_node(s, n, &s->scratch, 0) != 0) {
            return -1;
        }
        equal = s->scratch.len == c->text.len &&
                (c->text.len == 0 || memcmp(s->scratch.data, c->text.data, c->text.len) == 0);
    } else if (equal && type == J_NUMBER) {
        s->scratch.len = 0;
        if (bytebuf_append(&s->scratch, n->start, (size_t)(n->end - n->start)) != 0 ||
            bytebuf_append(&s->scratch, "", 1) != 0) {
            return fail_at(s, n->start, out_of_memory);
        }
        equal = strtod(s->scratch.data, NULL) == c->number;
    } else if (equal && (type == J_OBJECT || type == J_ARRAY)) {
        equal = 0; /* a condition's value is a scalar */
    }
    return equal != c->negate;
}

/* Appends one node's value as text: strings decoded, null and missing as nothing, the rest as
 * written in the record. */
static int
append_value(struct jsonl_state *s, const struct node *n)
{
    switch (n->type) {
    case J_MISSING:
    case J_NULL:
        return 0;
    case J_STRING:
        return decode_node(s, n, &s->out, s->escape);
    default:
        if (bytebuf_append(&s->out, n->start, (size_t)(n->end - n->start)) != 0) {
            return fail_at(s, n->start, out_of_memory);
        }
        return 0;
    }
}

static int
jsonl_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct jsonl_state *s = state;
    int rc = parse_record(s, data, len);

    if (rc <= 0) {
        goto out;
    }
    for (size_t i = 0; i < s->n_conditions; i++) {
        rc = condition_holds(s, &s->conditions[i]);
        if (rc <= 0) {
            goto out;
        }
    }
    if (s->n_fields == 0) {
        return host->emit(ctx, data, len);
    }
    s->out.len = 0;
    for (size_t i = 0; i < s->n_fields; i++) {
        if (i > 0 && bytebuf_append(&s->out, s->separator, s->separator_len) != 0) {
            rc = fail_at(s, data, out_of_memory);
            goto out;
        }
        rc = append_value(s, &s->nodes[s->fields[i]]);
        if (rc != 0) {
            goto out;
        }
    }
    /* (an empty output has no buffer yet: emit is not given a null pointer) */
    return host->emit(ctx, s->out.len > 0 ? s->out.data : data, s->out.len);
out:
    if (rc < 0 && s->why == out_of_memory) {
        return host->error(ctx, "%s", out_of_memory);
    }
    if (rc < 0) {
        return host->error(ctx, "invalid JSON at byte %zu of the record: %s",
                           (size_t)(s->err_at - data), s->why);
    }
    return TRANCHE_OK;
}

/* ---- options ----------------------------------------------------------------------------------
 */

static void
jsonl_fini(void *state)
{
    struct jsonl_state *s = state;

    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n_conditions; i++) {
        bytebuf_release(&s->conditions[i].text);
    }
    for (size_t i = 0; i < s->n_copies; i++) {
        free(s->copies[i]);
    }
    free(s->copies);
    free(s->conditions);
    free(s->fields);
    free(s->nodes);
    bytebuf_release(&s->out);
    bytebuf_release(&s->scratch);
    free(s);
}

/* A copy of an option's text that lives as long as the state (nodes point into it). */
static char *
keep_copy(struct jsonl_state *s, const char *text, size_t len)
{
    char **grown = realloc(s->copies, (s->n_copies + 1) * sizeof(*grown));
    char *copy;

    if (grown == NULL) {
        return NULL;
    }
    s->copies = grown;
    copy = malloc(len + 1);
    if (copy == NULL) {
        return NULL;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    s->copies[s->n_copies++] = copy;
    return copy;
}

/* The node of a path given in item `index` of option `option`; -1 after reporting why not. */
static int
path_node(struct jsonl_state *s, tranche_ctx *ctx, const char *option, size_t index,
          const char *path, size_t len)
{
    char *copy = keep_copy(s, path, len);
    int node = copy != NULL ? add_path(s, copy) : -1;

    if (node == -1) {
        host->error(ctx, "out of memory");
    } else if (node == -2) {
        PLUGIN_OPTION_ITEM_ERROR(host, ctx, option, index,
                                 "bad %s item '%s': a path is names separated by dots (a.b.c), "
                                 "none empty",
                                 option, copy);
        node = -1;
    }
    return node;
}

/* Reads VALUE of a condition: a JSON scalar (number, true, false, null, "string"), else text. */
static int
parse_condition_value(struct jsonl_state *s, struct condition *c, const char *value)
{
    size_t len = strlen(value);
    int rc;

    s->base = value;
    s->p = value;
    s->end = value + len;
    s->why = NULL;
    if (len > 0 && parse_value(s, -1, 0) == 0 && s->p == s->end && *value != '{' && *value != '[') {
        s->p = value;
        rc = parse_literal(s, &c->type);
        if (rc == 0) {
            return 0;
        }
        c->type = *value == '"' ? J_STRING : J_NUMBER;
        if (c->type == J_NUMBER) {
            c->number = strtod(value, NULL);
            return 0;
        }
        s->p = value;
        return walk_string(s, &c->text, 0);
    }
    c->type = J_STRING;
    return bytebuf_append(&c->text, value, len);
}

/* Adds item `index` of `where`. */
static int
add_condition(struct jsonl_state *s, tranche_ctx *ctx, size_t index, const char *item)
{
    const char *eq = strchr(item, '=');
    struct condition *c;
    size_t path_len;

    if (eq == NULL || eq == item || (eq == item + 1 && item[0] == '!')) {
        return PLUGIN_OPTION_ITEM_ERROR(host, ctx, "where", index,
                                        "bad where item '%s': expected PATH=VALUE or PATH!=VALUE",
                                        item);
    }
    c = &s->conditions[s->n_conditions];
    memset(c, 0, sizeof(*c));
    c->negate = eq[-1] == '!';
    path_len = (size_t)(eq - item) - (size_t)c->negate;
    c->node = path_node(s, ctx, "where", index, item, path_len);
    if (c->node < 0) {
        return TRANCHE_ERROR;
    }
    s->n_conditions++;
    if (parse_condition_value(s, c, eq + 1) != 0) {
        return host->error(ctx, "out of memory");
    }
    return TRANCHE_OK;
}

static int
jsonl_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    struct jsonl_state *s;
    const char *sep;
    size_t n_where;

    host = h;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return host->error(ctx, "out of memory");
    }
    s->nodes = malloc(sizeof(*s->nodes));
    s->n_fields = host->opt_list_len(ctx, "fields");
    s->fields = malloc((s->n_fields + 1) * sizeof(*s->fields));
    n_where = host->opt_list_len(ctx, "where");
    s->conditions = malloc((n_where + 1) * sizeof(*s->conditions));
    if (s->nodes == NULL || s->fields == NULL || s->conditions == NULL) {
        host->error(ctx, "out of memory");
        goto fail;
    }
    s->nodes[0] = (struct node){"", 0, -1, -1, J_MISSING, NULL, NULL};
    s->n_nodes = 1;
    for (size_t i = 0; i < s->n_fields; i++) {
        const char *item = host->opt_list_item(ctx, "fields", i);

        s->fields[i] = path_node(s, ctx, "fields", i, item, strlen(item));
        if (s->fields[i] < 0) {
            goto fail;
        }
    }
    for (size_t i = 0; i < n_where; i++) {
        if (add_condition(s, ctx, i, host->opt_list_item(ctx, "where", i)) != TRANCHE_OK) {
            goto fail;
        }
    }
    sep = host->opt_string(ctx, "delimiter");
    if (sep == NULL || strcmp(sep, "\\t") == 0) {
        sep = "\t";
    }
    s->separator = sep;
    s->separator_len = strlen(sep);
    s->escape = host->opt_bool(ctx, "escape");
    *state = s;
    return TRANCHE_OK;
fail:
    /* A failed init gets no fini(), so it releases what it holds itself. */
    jsonl_fini(s);
    return TRANCHE_ERROR;
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "jsonl",
    .version = "1.0",
    .description =
        "JSON lines: keeps records by field values, emits fields as delimited text, like "
        "jq -r 'select(.a == 1) | [.b, .c.d] | @tsv'",
    .options = jsonl_options,
    .init = jsonl_init,
    .record = jsonl_record,
    .fini = jsonl_fini,
};
