/*
 * core/config.c: reads a job file with libyaml's document API (every node keeps its line and
 * column) and checks it key by key into a struct job. See config.h for the contract.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "dupes.h"
#include "grow.h"
#include "io.h"

/*
 * Decisions a reader of the job format may want to know:
 *
 * - YAML aliases (`*name`) are rejected at the alias, with a message. Resolving them would share
 *   one node between several places, so a mistake inside it would be reported at the anchor, not
 *   where it is used, and a few lines of aliases can expand into a huge job. Anchors alone are
 *   harmless and ignored. Merge keys (`<<`) are therefore unknown keys.
 * - Every scalar is kept as text, whatever its tag or style: `workers: "4"` is 4, and the option
 *   `fixed: true` is the text "true". An empty value (`log_dir:`) is the empty string, which no
 *   field accepts.
 * - input.compression, output.compression and output.level are read and checked here; what they
 *   mean at run time is input.c's (how an input is read) and cmd_run.c's (the output's level).
 * - A stream must hold exactly one YAML document.
 */

enum {
    EXPAND_NOMEM = -1,   /* out of memory */
    EXPAND_NOMATCH = -2, /* a glob matched nothing */
    EXPAND_ABORTED = -3, /* glob(3) could not read a directory */
};

#define QUOTE_MAX 64 /* bytes of a value shown in a message, before "..." */

/* The yaml_mark_t.index of a node made from the command line; its .line is the index of the
 * argument in job->origins. */
#define ARG_MARK SIZE_MAX

struct ctx {
    const char *path; /* the job file, exactly as the caller gave it */
    char *dir;        /* its directory; NULL when the path has no '/' (nothing to prepend) */
    yaml_document_t *doc;
    struct error *err;
    struct job *job;      /* the job being read (its origins name command-line nodes) */
    const char *value_of; /* reading a --set's value: that --set (marks are in the value) */
};

/* A key a mapping may hold, and what was found for it (NULL when absent). */
struct field {
    const char *name;
    yaml_node_t *key;
    yaml_node_t *value;
};

static int fail_at(const struct ctx *c, yaml_mark_t mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const struct ctx *c, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
is_arg_mark(yaml_mark_t mark)
{
    return mark.index == ARG_MARK;
}

/* "FILE:LINE:COLUMN", the argument a command-line node came from, or a column of a --set's
 * value, for a message about what is at mark. */
static const char *
where_at(const struct ctx *c, yaml_mark_t mark, char *buf, size_t size)
{
    if (is_arg_mark(mark) && c->job != NULL && mark.line < c->job->n_origins) {
        snprintf(buf, size, "%s", c->job->origins[mark.line]);
    } else if (c->value_of != NULL) {
        snprintf(buf, size, "%s: at column %zu of the value", c->value_of, mark.column + 1);
    } else {
        snprintf(buf, size, "%s:%zu:%zu", c->path, mark.line + 1, mark.column + 1);
    }
    return buf;
}

static int
vfail_at(const struct ctx *c, yaml_mark_t mark, const char *fmt, va_list ap)
{
    char msg[ERROR_MSG_MAX], where[ERROR_MSG_MAX];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    return error_set(c->err, "%s: %s", where_at(c, mark, where, sizeof(where)), msg);
}

static int
fail_at(const struct ctx *c, yaml_mark_t mark, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail_at(c, mark, fmt, ap);
    va_end(ap);
    return -1;
}

static int
fail(const struct ctx *c, const yaml_node_t *node, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail_at(c, node->start_mark, fmt, ap);
    va_end(ap);
    return -1;
}

static int
out_of_memory(const struct ctx *c)
{
    return error_set(c->err, "%s: out of memory reading the job file", c->path);
}

static struct config_pos
pos_of(const yaml_node_t *node)
{
    struct config_pos pos = {(int)node->start_mark.line + 1, (int)node->start_mark.column + 1};

    if (is_arg_mark(node->start_mark)) {
        pos.line = -(int)node->start_mark.line - 1;
        pos.column = 0;
    }
    return pos;
}

/* The directory a relative path in node is relative to: the job file's, or the current one
 * (NULL) for a path given on the command line. */
static const char *
dir_of(const struct ctx *c, const yaml_node_t *node)
{
    return is_arg_mark(node->start_mark) ? NULL : c->dir;
}

/*
 * Writes 'text' into buf for a message, with control bytes escaped so that a NUL or a newline in a
 * value cannot cut or split the message, and long values shortened.
 */
static const char *
quote(const unsigned char *text, size_t len, char *buf, size_t size)
{
    size_t n = 0, i;

    buf[n++] = '\'';
    for (i = 0; i < len && n + 8 < size; i++) {
        unsigned char ch = text[i];

        if (i == QUOTE_MAX) {
            n += (size_t)snprintf(buf + n, size - n, "...");
            break;
        }
        switch (ch) {
        case '\n':
            n += (size_t)snprintf(buf + n, size - n, "\\n");
            break;
        case '\t':
            n += (size_t)snprintf(buf + n, size - n, "\\t");
            break;
        case '\r':
            n += (size_t)snprintf(buf + n, size - n, "\\r");
            break;
        case '\0':
            n += (size_t)snprintf(buf + n, size - n, "\\0");
            break;
        case '\\':
            n += (size_t)snprintf(buf + n, size - n, "\\\\");
            break;
        default:
            if (ch < 0x20 || ch == 0x7f) {
                n += (size_t)snprintf(buf + n, size - n, "\\x%02x", ch);
            } else {
                buf[n++] = (char)ch;
            }
        }
    }
    buf[n++] = '\'';
    buf[n] = '\0';
    return buf;
}

#define QUOTE_BUF (QUOTE_MAX * 4 + 16)

/* What a node is, for "got ..." in messages. */
static const char *
describe(const yaml_node_t *node, char *buf, size_t size)
{
    switch (node->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_SCALAR_NODE:
        if (node->data.scalar.length == 0) {
            return "an empty value";
        }
        return quote(node->data.scalar.value, node->data.scalar.length, buf, size);
    default:
        return "nothing";
    }
}

static yaml_node_t *
node_at(const struct ctx *c, int index)
{
    return yaml_document_get_node(c->doc, index);
}

/* A scalar's text, which libyaml NUL-terminates; 1 if it holds a NUL byte of its own. */
static int
has_nul(const yaml_node_t *node)
{
    return memchr(node->data.scalar.value, '\0', node->data.scalar.length) != NULL;
}

/* Checks that node is a non-empty string and points *out at its text (borrowed from the document).
 */
static int
get_string(const struct ctx *c, const yaml_node_t *node, const char *what, const char **out)
{
    char buf[QUOTE_BUF];

    if (node->type != YAML_SCALAR_NODE) {
        return fail(c, node, "%s must be a string, got %s", what, describe(node, buf, sizeof(buf)));
    }
    if (node->data.scalar.length == 0) {
        return fail(c, node, "%s must not be empty", what);
    }
    if (has_nul(node)) {
        return fail(c, node, "%s must not contain a NUL byte", what);
    }
    *out = (const char *)node->data.scalar.value;
    return 0;
}

/* "invalid WHAT 'text': expected EXPECTED" for a scalar, "WHAT must be EXPECTED, got a list" else.
 */
static int
bad_value(const struct ctx *c, const yaml_node_t *node, const char *what, const char *expected)
{
    char buf[QUOTE_BUF];

    if (node->type == YAML_SCALAR_NODE && node->data.scalar.length > 0) {
        return fail(c, node, "invalid %s %s: expected %s", what, describe(node, buf, sizeof(buf)),
                    expected);
    }
    return fail(c, node, "%s must be %s, got %s", what, expected, describe(node, buf, sizeof(buf)));
}

/*
 * Matches the keys of a mapping against fields[]: each key must be a string, known, and appear
 * once. `where` names the mapping in messages ("the top level", "input", "step 2").
 */
static int
read_mapping(const struct ctx *c, const yaml_node_t *map, const char *where, struct field *fields,
             size_t n_fields)
{
    char buf[QUOTE_BUF];
    char allowed[256];
    yaml_node_pair_t *pair;
    size_t i, n;

    for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = node_at(c, pair->key);
        yaml_node_t *value = node_at(c, pair->value);

        if (key->type != YAML_SCALAR_NODE) {
            return fail(c, key, "a key in %s must be a string, got %s", where,
                        describe(key, buf, sizeof(buf)));
        }
        for (i = 0; i < n_fields; i++) {
            if (strlen(fields[i].name) == key->data.scalar.length &&
                memcmp(fields[i].name, key->data.scalar.value, key->data.scalar.length) == 0) {
                break;
            }
        }
        if (i == n_fields) {
            n = 0;
            allowed[0] = '\0';
            for (i = 0; i < n_fields; i++) {
                n += (size_t)snprintf(allowed + n, sizeof(allowed) - n, "%s%s", i > 0 ? ", " : "",
                                      fields[i].name);
            }
            return fail(c, key, "unknown key %s in %s; allowed: %s",
                        quote(key->data.scalar.value, key->data.scalar.length, buf, sizeof(buf)),
                        where, allowed);
        }
        if (fields[i].key != NULL) {
            return fail(c, key, "duplicate key '%s' in %s (first at line %zu, column %zu)",
                        fields[i].name, where, fields[i].key->start_mark.line + 1,
                        fields[i].key->start_mark.column + 1);
        }
        fields[i].key = key;
        fields[i].value = value;
    }
    return 0;
}

static void
free_strings(char **list, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(list[i]);
    }
    free(list);
}

/* dir + "/" + text for a relative text, a copy of text otherwise; NULL when out of memory. */
static char *
resolve(const char *dir, const char *text)
{
    size_t dir_len, size;
    char *out;

    if (dir == NULL || text[0] == '/') {
        return strdup(text);
    }
    dir_len = strlen(dir);
    size = dir_len + strlen(text) + 2;
    out = malloc(size);
    if (out != NULL) {
        snprintf(out, size, "%s%s%s", dir, dir[dir_len - 1] == '/' ? "" : "/", text);
    }
    return out;
}

/* The directory part of path, NULL in *out when it has none. Returns -1 when out of memory. */
static int
job_dir(const char *path, char **out)
{
    const char *slash = strrchr(path, '/');
    size_t len;

    *out = NULL;
    if (slash == NULL) {
        return 0;
    }
    len = (size_t)(slash - path);
    while (len > 0 && path[len - 1] == '/') {
        len--;
    }
    *out = len == 0 ? strdup("/") : strndup(path, len);
    return *out == NULL ? -1 : 0;
}

static int
is_glob(const char *text)
{
    return strpbrk(text, "*?[") != NULL;
}

/*
 * The glob pattern for text relative to dir. The directory is the job file's own and is not a
 * pattern, so its own *, ? and [ are escaped: a job in "runs/[old]/" still finds its "*.log".
 */
static char *
glob_pattern(const char *dir, const char *text)
{
    char *escaped, *out, *p;
    const char *s;

    if (dir == NULL || text[0] == '/') {
        return strdup(text);
    }
    escaped = malloc(strlen(dir) * 2 + 1);
    if (escaped == NULL) {
        return NULL;
    }
    for (s = dir, p = escaped; *s != '\0'; s++) {
        if (strchr("*?[\\", *s) != NULL) {
            *p++ = '\\';
        }
        *p++ = *s;
    }
    *p = '\0';
    out = resolve(escaped, text);
    free(escaped);
    return out;
}

/* The inputs as entries expand: paths[i] came from entry entry[i]. */
struct expansion {
    char **paths;
    size_t *entry;
    size_t n;
    size_t cap_paths;
    size_t cap_entry;
};

/* Appends path (taking it: freed on failure) from entry `entry`. Returns 0 or EXPAND_NOMEM. */
static int
expansion_add(struct expansion *x, char *path, size_t entry)
{
    if (path == NULL || GROW(x->paths, x->cap_paths, x->n + 1) != 0 ||
        GROW(x->entry, x->cap_entry, x->n + 1) != 0) {
        free(path);
        return EXPAND_NOMEM;
    }
    x->paths[x->n] = path;
    x->entry[x->n] = entry;
    x->n++;
    return 0;
}

/* Frees the paths past the first n. */
static void
expansion_truncate(struct expansion *x, size_t n)
{
    while (x->n > n) {
        free(x->paths[--x->n]);
    }
}

static void
expansion_release(struct expansion *x)
{
    expansion_truncate(x, 0);
    free(x->paths);
    free(x->entry);
    memset(x, 0, sizeof(*x));
}

/* Appends the matches of a glob pattern, in glob(3)'s sorted order. */
static int
expand_glob(const char *pattern, size_t entry, struct expansion *x)
{
    glob_t g;
    size_t i;
    int rc;

    memset(&g, 0, sizeof(g));
    switch (glob(pattern, 0, NULL, &g)) {
    case 0:
        rc = 0;
        break;
    case GLOB_NOMATCH:
        rc = EXPAND_NOMATCH;
        break;
    case GLOB_NOSPACE:
        rc = EXPAND_NOMEM;
        break;
    default:
        rc = EXPAND_ABORTED;
    }
    for (i = 0; rc == 0 && i < g.gl_pathc; i++) {
        rc = expansion_add(x, strdup(g.gl_pathv[i]), entry);
    }
    globfree(&g);
    return rc;
}

/*
 * Appends entry `entry` (text, resolved against dir; NULL: kept as it is) to x. A path that
 * exists as written is that file, whatever characters its name holds; otherwise a text with *, ?
 * or [ is a glob(3) pattern (backslash escapes), replaced by its matches in sorted order. A plain
 * path is kept whether it exists or not (opening it reports it). On failure nothing was added:
 * returns one of the EXPAND_ codes.
 */
static int
expand_entry(const char *dir, const char *text, size_t entry, struct expansion *x)
{
    struct stat st;
    char *literal = resolve(dir, text), *pattern;
    size_t n = x->n;
    int rc;

    if (literal == NULL) {
        return EXPAND_NOMEM;
    }
    if (strcmp(text, "-") == 0) {
        free(literal);
        return expansion_add(x, strdup(text), entry);
    }
    if (!is_glob(text) || lstat(literal, &st) == 0) {
        return expansion_add(x, literal, entry);
    }
    free(literal);
    pattern = glob_pattern(dir, text);
    if (pattern == NULL) {
        return EXPAND_NOMEM;
    }
    rc = expand_glob(pattern, entry, x);
    free(pattern);
    if (rc != 0) {
        expansion_truncate(x, n);
    }
    return rc;
}

/* Moves x into the job's input list, freeing the list it had. */
static void
set_inputs(struct job *job, struct expansion *x)
{
    free_strings(job->inputs, job->n_inputs);
    free(job->input_entry);
    job->inputs = x->paths;
    job->input_entry = x->entry;
    job->n_inputs = x->n;
    memset(x, 0, sizeof(*x));
}

static void
free_entries(struct config_input_entry *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(v[i].text);
    }
    free(v);
}

static int defer_problem(const struct ctx *c, const yaml_node_t *node, struct job *job,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Keeps the message for an entry that could not be expanded, at its position, for inputs_open()
 * to report, so that --input can still replace the list (config_set_input). Returns 0, or -1
 * when out of memory.
 */
static int
defer_problem(const struct ctx *c, const yaml_node_t *node, struct job *job, const char *fmt, ...)
{
    struct error full;
    char msg[ERROR_MSG_MAX], where[ERROR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    error_set(&full, "%s: %s", where_at(c, node->start_mark, where, sizeof(where)), msg);
    job->input_problem = strdup(full.msg);
    return job->input_problem == NULL ? out_of_memory(c) : 0;
}

/* Reads one entry of input.path and expands it (until an entry could not be). */
static int
add_input(const struct ctx *c, const yaml_node_t *node, struct job *job, struct expansion *x)
{
    struct config_input_entry *e;
    const char *text;
    size_t i = job->n_input_entries;

    if (get_string(c, node, "an input path", &text) != 0) {
        return -1;
    }
    e = &job->input_entries[i];
    e->text = strdup(text);
    if (e->text == NULL) {
        return out_of_memory(c);
    }
    e->pos = pos_of(node);
    job->n_input_entries++;
    if (job->input_problem != NULL) {
        return 0; /* the list is refused already: the rest is only checked */
    }
    switch (expand_entry(dir_of(c, node), text, i, x)) {
    case 0:
        return 0;
    case EXPAND_NOMATCH:
        return defer_problem(
            c, node, job, "no file matches the input glob '%s' (and no file has that name)", text);
    case EXPAND_ABORTED:
        return defer_problem(c, node, job,
                             "cannot read a directory while matching the input glob '%s'", text);
    default:
        return out_of_memory(c);
    }
}

/* input.path: one entry, or a list of them. */
static int
read_input_path(const struct ctx *c, const yaml_node_t *path, struct job *job)
{
    struct expansion x = {0};
    char buf[QUOTE_BUF];
    yaml_node_item_t *item;
    size_t n = 1;
    int rc = -1;

    if (path->type == YAML_SEQUENCE_NODE) {
        n = (size_t)(path->data.sequence.items.top - path->data.sequence.items.start);
        if (n == 0) {
            return fail(c, path, "input.path is an empty list; expected at least one path or glob");
        }
    } else if (path->type != YAML_SCALAR_NODE) {
        return fail(c, path, "input.path must be a path, a glob or a list of them, got %s",
                    describe(path, buf, sizeof(buf)));
    }
    job->input_pos = pos_of(path);
    job->input_entries = calloc(n, sizeof(*job->input_entries));
    if (job->input_entries == NULL) {
        return out_of_memory(c);
    }
    if (path->type == YAML_SCALAR_NODE) {
        rc = add_input(c, path, job, &x);
    } else {
        for (item = path->data.sequence.items.start, rc = 0;
             rc == 0 && item < path->data.sequence.items.top; item++) {
            rc = add_input(c, node_at(c, *item), job, &x);
        }
    }
    if (rc == 0) {
        set_inputs(job, &x);
    }
    expansion_release(&x);
    return rc;
}

/* One of auto, none, gzip (in enum config_compression's order). */
static int
read_compression(const struct ctx *c, const yaml_node_t *node, const char *what,
                 enum config_compression *out)
{
    static const char *const allowed[] = {"auto", "none", "gzip"};
    size_t i;

    if (node->type == YAML_SCALAR_NODE && !has_nul(node)) {
        for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
            if (strcmp((const char *)node->data.scalar.value, allowed[i]) == 0) {
                *out = (enum config_compression)i;
                return 0;
            }
        }
    }
    return bad_value(c, node, what, "auto, none or gzip");
}

/* output.level: 1 to 9. */
static int
read_level(const struct ctx *c, const yaml_node_t *node, int *out)
{
    if (node->type == YAML_SCALAR_NODE && node->data.scalar.length == 1 &&
        node->data.scalar.value[0] >= '1' && node->data.scalar.value[0] <= '9') {
        *out = node->data.scalar.value[0] - '0';
        return 0;
    }
    return bad_value(c, node, "output.level", "an integer from 1 to 9");
}

/*
 * input.delimiter: 1 to FRAMING_MAX_DELIMITER bytes. A double-quoted scalar has had its escapes
 * turned into bytes by YAML already ("\0" into a NUL, which is why the length counts rather than
 * strlen), and a one-byte scalar is that byte; otherwise a plain or single-quoted scalar may
 * spell the escapes framing_parse_delimiter knows. `one`: exactly one byte (a CSV separator).
 */
static int
read_delimiter(const struct ctx *c, const yaml_node_t *node, int one, struct framing *out)
{
    static const char escapes[] = "the escapes \\n \\t \\r \\0 \\\\ \\xHH";
    const char *want = one ? "one byte (such as \",\" or \";\" or \"\\t\")"
                           : "1 to 16 bytes (such as \"\\n\", \"\\r\\n\" or \"\\n\\n\")";
    char buf[QUOTE_BUF];
    size_t n = 0;

    if (node->type == YAML_SCALAR_NODE && node->data.scalar.length > 0) {
        const char *text = (const char *)node->data.scalar.value;
        size_t len = node->data.scalar.length;

        if (len == 1 || node->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE) {
            if (len <= FRAMING_MAX_DELIMITER) {
                memcpy(out->delim, text, len);
                n = len;
            }
        } else if (framing_parse_delimiter(text, len, out->delim, FRAMING_MAX_DELIMITER, &n) != 0) {
            n = 0;
        }
        if (n == 0 || (one && n != 1)) {
            return fail(c, node, "invalid input.delimiter %s (%zu bytes): expected %s, with %s",
                        describe(node, buf, sizeof(buf)), len, want, escapes);
        }
        out->delim_len = n;
        return 0;
    }
    return bad_value(c, node, "input.delimiter", want);
}

/* input.format: lines, csv or fastq (enum tranche_format_kind's order). */
static int
read_format(const struct ctx *c, const yaml_node_t *node, int *kind)
{
    static const char *const allowed[] = {"lines", "csv", "fastq"};
    size_t i;

    if (node->type == YAML_SCALAR_NODE && !has_nul(node)) {
        for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
            if (strcmp((const char *)node->data.scalar.value, allowed[i]) == 0) {
                *kind = (int)i;
                return 0;
            }
        }
    }
    return bad_value(c, node, "input.format", "lines, csv or fastq");
}

/* input.quote (csv): one byte. */
static int
read_quote(const struct ctx *c, const yaml_node_t *node, unsigned char *out)
{
    if (node->type == YAML_SCALAR_NODE && node->data.scalar.length == 1 &&
        node->data.scalar.value[0] != '\n' && node->data.scalar.value[0] != '\r') {
        *out = node->data.scalar.value[0];
        return 0;
    }
    return bad_value(c, node, "input.quote", "one byte (such as '\"' or \"'\"), not CR or LF");
}

/* What input.format allows of the other input keys, once all are read. */
static int
check_format(const struct ctx *c, const yaml_node_t *format, const yaml_node_t *delimiter,
             const yaml_node_t *quote, const yaml_node_t *header, struct framing *f)
{
    const char *name = framing_kind_name(f->kind);

    if (f->kind != TRANCHE_FORMAT_CSV) {
        if (quote != NULL) {
            return fail(c, quote, "input.quote is for format: csv (this job's format is %s)", name);
        }
        if (header != NULL && f->header) {
            return fail(c, header, "input.header is for format: csv (this job's format is %s)",
                        name);
        }
    }
    if (f->kind == TRANCHE_FORMAT_FASTQ && delimiter != NULL) {
        return fail(c, delimiter,
                    "input.delimiter does not apply to format: fastq (a read is 4 lines)");
    }
    if (f->kind == TRANCHE_FORMAT_CSV) {
        if (delimiter == NULL) {
            f->delim[0] = ',';
            f->delim_len = 1;
        }
        if (f->quote == 0) {
            f->quote = '"';
        }
        if (f->delim[0] == '\n' || f->delim[0] == '\r' || f->delim[0] == f->quote) {
            return fail(c, delimiter != NULL ? delimiter : format,
                        "the CSV field separator cannot be CR, LF or the quote");
        }
    }
    framing_finish(f);
    return 0;
}

/* input.index: cache, beside or off (in enum config_index's order). */
static int
read_index_place(const struct ctx *c, const yaml_node_t *node, struct job *job)
{
    static const char *const allowed[] = {"cache", "beside", "off"};
    size_t i;

    if (node->type == YAML_SCALAR_NODE && !has_nul(node)) {
        for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
            if (strcmp((const char *)node->data.scalar.value, allowed[i]) == 0) {
                job->input_index = (enum config_index)i;
                return 0;
            }
        }
    }
    return bad_value(c, node, "input.index", "cache, beside or off");
}

/* A boolean key (input.allow_duplicates, output.fsync): true or false. */
static int
read_flag(const struct ctx *c, const yaml_node_t *node, const char *what, int *out)
{
    if (node->type == YAML_SCALAR_NODE && !has_nul(node)) {
        if (strcmp((const char *)node->data.scalar.value, "true") == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp((const char *)node->data.scalar.value, "false") == 0) {
            *out = 0;
            return 0;
        }
    }
    return bad_value(c, node, what, "true or false");
}

static int
read_input(const struct ctx *c, const yaml_node_t *node, struct job *job)
{
    struct field f[] = {{"path", NULL, NULL},        {"delimiter", NULL, NULL},
                        {"compression", NULL, NULL}, {"allow_duplicates", NULL, NULL},
                        {"index", NULL, NULL},       {"format", NULL, NULL},
                        {"quote", NULL, NULL},       {"header", NULL, NULL}};
    enum {
        F_PATH,
        F_DELIMITER,
        F_COMPRESSION,
        F_ALLOW_DUPLICATES,
        F_INDEX,
        F_FORMAT,
        F_QUOTE,
        F_HEADER,
        F_COUNT
    };
    struct framing *fr = &job->framing;
    char buf[QUOTE_BUF];

    if (node->type != YAML_MAPPING_NODE) {
        return fail(c, node, "input must be a mapping with a 'path' key, got %s",
                    describe(node, buf, sizeof(buf)));
    }
    if (read_mapping(c, node, "input", f, F_COUNT) != 0) {
        return -1;
    }
    if (f[F_PATH].value == NULL) {
        return fail(c, node, "missing required key 'input.path'");
    }
    if (read_input_path(c, f[F_PATH].value, job) != 0) {
        return -1;
    }
    if (f[F_FORMAT].value != NULL && read_format(c, f[F_FORMAT].value, &fr->kind) != 0) {
        return -1;
    }
    if (f[F_DELIMITER].value != NULL &&
        read_delimiter(c, f[F_DELIMITER].value, fr->kind == TRANCHE_FORMAT_CSV, fr) != 0) {
        return -1;
    }
    if (f[F_QUOTE].value != NULL && read_quote(c, f[F_QUOTE].value, &fr->quote) != 0) {
        return -1;
    }
    if (f[F_HEADER].value != NULL &&
        read_flag(c, f[F_HEADER].value, "input.header", &fr->header) != 0) {
        return -1;
    }
    if (check_format(c, f[F_FORMAT].value, f[F_DELIMITER].value, f[F_QUOTE].value,
                     f[F_HEADER].value, fr) != 0) {
        return -1;
    }
    if (f[F_COMPRESSION].value != NULL &&
        read_compression(c, f[F_COMPRESSION].value, "input.compression", &job->input_compression) !=
            0) {
        return -1;
    }
    if (f[F_ALLOW_DUPLICATES].value != NULL &&
        read_flag(c, f[F_ALLOW_DUPLICATES].value, "input.allow_duplicates",
                  &job->allow_duplicates) != 0) {
        return -1;
    }
    if (f[F_INDEX].value != NULL && read_index_place(c, f[F_INDEX].value, job) != 0) {
        return -1;
    }
    return 0;
}

static int
read_output(const struct ctx *c, const yaml_node_t *node, struct job *job)
{
    struct field f[] = {{"path", NULL, NULL},
                        {"compression", NULL, NULL},
                        {"level", NULL, NULL},
                        {"fsync", NULL, NULL}};
    const char *text;
    char buf[QUOTE_BUF];

    if (node->type != YAML_MAPPING_NODE) {
        return fail(c, node, "output must be a mapping with a 'path' key, got %s",
                    describe(node, buf, sizeof(buf)));
    }
    if (read_mapping(c, node, "output", f, 4) != 0) {
        return -1;
    }
    if (f[0].value == NULL) {
        return fail(c, node, "missing required key 'output.path'");
    }
    if (get_string(c, f[0].value, "output.path", &text) != 0) {
        return -1;
    }
    job->output_pos = pos_of(f[0].value);
    job->output = strcmp(text, "-") == 0 ? strdup(text) : resolve(dir_of(c, f[0].value), text);
    if (job->output == NULL) {
        return out_of_memory(c);
    }
    if (f[1].value != NULL) {
        job->output_compression_pos = pos_of(f[1].value);
        if (read_compression(c, f[1].value, "output.compression", &job->output_compression) != 0) {
            return -1;
        }
    }
    if (f[2].value != NULL && read_level(c, f[2].value, &job->output_level) != 0) {
        return -1;
    }
    if (f[3].value != NULL && read_flag(c, f[3].value, "output.fsync", &job->output_fsync) != 0) {
        return -1;
    }
    return 0;
}

/* A scalar option value, or one item of a list value, as text. */
static int
option_text(const struct ctx *c, const yaml_node_t *node, const char *name, size_t step, char **out,
            struct config_pos *pos)
{
    char buf[QUOTE_BUF];

    if (node->type != YAML_SCALAR_NODE) {
        return fail(
            c, node,
            "option '%s' of step %zu must be a scalar or a list of scalars, got %s inside it", name,
            step, describe(node, buf, sizeof(buf)));
    }
    if (has_nul(node)) {
        return fail(c, node, "option '%s' of step %zu must not contain a NUL byte", name, step);
    }
    *out = strdup((const char *)node->data.scalar.value);
    if (*out == NULL) {
        return out_of_memory(c);
    }
    *pos = pos_of(node);
    return 0;
}

/* YAML's null: a plain scalar that is empty, ~, null, Null or NULL (a quoted one is text). */
static int
is_null_scalar(const yaml_node_t *node)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    size_t i;

    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return 0;
    }
    for (i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
        if (strcmp((const char *)node->data.scalar.value, nulls[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Fills opt, named `name`, from a scalar or a list of scalars (`key` gives its position). */
static int
fill_option(const struct ctx *c, const char *name, const yaml_node_t *key, const yaml_node_t *value,
            size_t step, struct config_option *opt)
{
    char buf[QUOTE_BUF];
    yaml_node_item_t *item;
    size_t n;

    opt->name = strdup(name);
    if (opt->name == NULL) {
        return out_of_memory(c);
    }
    opt->pos = pos_of(key);
    opt->value_pos = pos_of(value);
    if (value->type == YAML_MAPPING_NODE) {
        return fail(c, value,
                    "option '%s' of step %zu must be a scalar or a list of scalars, got %s", name,
                    step, describe(value, buf, sizeof(buf)));
    }
    if (value->type == YAML_SCALAR_NODE) {
        n = 1;
        opt->is_null = is_null_scalar(value);
    } else {
        opt->is_list = 1;
        n = (size_t)(value->data.sequence.items.top - value->data.sequence.items.start);
    }
    if (n == 0) {
        return 0;
    }
    opt->items = calloc(n, sizeof(*opt->items));
    opt->item_pos = calloc(n, sizeof(*opt->item_pos));
    if (opt->items == NULL || opt->item_pos == NULL) {
        return out_of_memory(c);
    }
    if (!opt->is_list) {
        opt->n_items = 1;
        return option_text(c, value, name, step, &opt->items[0], &opt->item_pos[0]);
    }
    for (item = value->data.sequence.items.start; item < value->data.sequence.items.top; item++) {
        if (option_text(c, node_at(c, *item), name, step, &opt->items[opt->n_items],
                        &opt->item_pos[opt->n_items]) != 0) {
            return -1;
        }
        opt->n_items++;
    }
    return 0;
}

static int
read_option(const struct ctx *c, const yaml_node_pair_t *pair, size_t step,
            struct config_option *opt)
{
    const yaml_node_t *key = node_at(c, pair->key);
    const char *name = NULL;

    if (get_string(c, key, "an option name", &name) != 0) {
        return -1;
    }
    return fill_option(c, name, key, node_at(c, pair->value), step, opt);
}

static int
same_name(const void *a, const void *b)
{
    return strcmp(((const struct config_option *)a)->name, ((const struct config_option *)b)->name);
}

/* Refuses the first option of opts[0, n) (in the job file's order) whose name an earlier one
 * has (a step may hold many thousand options: a mistake, or a hostile file). */
static int
check_duplicate_options(const struct ctx *c, const struct config_option *opts, size_t n,
                        const char *where)
{
    size_t first, dup;
    int found;

    if (dupes_find(opts, n, sizeof(*opts), same_name, &found, &first, &dup) != 0) {
        return out_of_memory(c);
    }
    if (!found) {
        return 0;
    }
    return error_set(c->err,
                     "%s:%d:%d: duplicate option '%s' in %s (first at line %d, "
                     "column %d)",
                     c->path, opts[dup].pos.line, opts[dup].pos.column, opts[dup].name, where,
                     opts[first].pos.line, opts[first].pos.column);
}

static int
read_options(const struct ctx *c, const yaml_node_t *node, size_t step, struct config_step *out)
{
    size_t n = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    yaml_node_pair_t *pair;
    char where[64];
    int failed = 0;

    if (n == 0) {
        return 0;
    }
    out->options = calloc(n, sizeof(*out->options));
    if (out->options == NULL) {
        return out_of_memory(c);
    }
    for (pair = node->data.mapping.pairs.start; !failed && pair < node->data.mapping.pairs.top;
         pair++) {
        /* Counted before it is read, so that config_release frees what a failure leaves. */
        out->n_options++;
        failed = read_option(c, pair, step, &out->options[out->n_options - 1]) != 0;
    }
    /* A duplicate among the options before a bad one comes first in the file: it is reported. */
    snprintf(where, sizeof(where), "%s %zu", out->aggregate ? "the aggregate stage, step" : "step",
             step);
    if (check_duplicate_options(c, out->options, out->n_options - (size_t)failed, where) != 0) {
        return -1;
    }
    return failed ? -1 : 0;
}

/* One more option of an exec step (counted before it is filled, so that config_release frees
 * what a failure leaves). */
static struct config_option *
exec_option(const struct ctx *c, struct config_step *out)
{
    struct config_option *grown = realloc(out->options, (out->n_options + 1) * sizeof(*grown));

    if (grown == NULL) {
        out_of_memory(c);
        return NULL;
    }
    out->options = grown;
    memset(&grown[out->n_options], 0, sizeof(*grown));
    return &grown[out->n_options++];
}

/* exec: "a shell command" (option shell) or [argv0, argv1, ...] (option argv). */
static int
read_exec_command(const struct ctx *c, const struct field *f, size_t step, struct config_step *out)
{
    const yaml_node_t *value = f->value;
    struct config_option *opt;
    char buf[QUOTE_BUF];
    const char *text;

    if (value->type == YAML_SCALAR_NODE) {
        if (get_string(c, value, "exec", &text) != 0) {
            return -1;
        }
    } else if (value->type != YAML_SEQUENCE_NODE) {
        return fail(c, value,
                    "exec of step %zu must be a command line (run with /bin/sh -c) or a list of "
                    "arguments, got %s",
                    step, describe(value, buf, sizeof(buf)));
    } else if (value->data.sequence.items.top == value->data.sequence.items.start) {
        return fail(c, value,
                    "exec of step %zu is an empty list; expected the command and its "
                    "arguments",
                    step);
    } else if (node_at(c, *value->data.sequence.items.start)->type == YAML_SCALAR_NODE &&
               node_at(c, *value->data.sequence.items.start)->data.scalar.length == 0) {
        return fail(c, node_at(c, *value->data.sequence.items.start),
                    "the command of step %zu is empty", step);
    }
    opt = exec_option(c, out);
    if (opt == NULL) {
        return -1;
    }
    return fill_option(c, value->type == YAML_SCALAR_NODE ? "shell" : "argv", f->key, value, step,
                       opt);
}

/* env: {NAME: value, ...}, kept as the items NAME=value of option env. */
static int
read_exec_env(const struct ctx *c, const struct field *f, size_t step, struct config_step *out)
{
    const yaml_node_t *map = f->value;
    struct config_option *opt;
    yaml_node_pair_t *pair;
    char buf[QUOTE_BUF];
    size_t n;

    if (map->type != YAML_MAPPING_NODE) {
        return fail(c, map, "env of step %zu must be a mapping of NAME: value, got %s", step,
                    describe(map, buf, sizeof(buf)));
    }
    opt = exec_option(c, out);
    if (opt == NULL) {
        return -1;
    }
    opt->name = strdup("env");
    n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    opt->items = calloc(n + 1, sizeof(*opt->items));
    opt->item_pos = calloc(n + 1, sizeof(*opt->item_pos));
    if (opt->name == NULL || opt->items == NULL || opt->item_pos == NULL) {
        return out_of_memory(c);
    }
    opt->is_list = 1;
    opt->pos = pos_of(f->key);
    opt->value_pos = pos_of(map);
    for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
        const yaml_node_t *key = node_at(c, pair->key), *value = node_at(c, pair->value);
        const char *name, *text = "";

        if (get_string(c, key, "an environment variable's name", &name) != 0) {
            return -1;
        }
        if (strchr(name, '=') != NULL) {
            return fail(c, key, "an environment variable's name must not contain '='");
        }
        if (value->type != YAML_SCALAR_NODE || has_nul(value)) {
            return fail(c, value, "the value of %s in env of step %zu must be a string", name,
                        step);
        }
        if (!is_null_scalar(value)) {
            text = (const char *)value->data.scalar.value;
        }
        if (asprintf(&opt->items[opt->n_items], "%s=%s", name, text) < 0) {
            opt->items[opt->n_items] = NULL;
            return out_of_memory(c);
        }
        opt->item_pos[opt->n_items++] = pos_of(key);
    }
    return 0;
}

/* cwd: a directory, relative to the job file's. */
static int
read_exec_cwd(const struct ctx *c, const struct field *f, size_t step, struct config_step *out)
{
    struct config_option *opt;
    const char *text;

    if (get_string(c, f->value, "cwd", &text) != 0) {
        return -1;
    }
    opt = exec_option(c, out);
    if (opt == NULL || fill_option(c, "cwd", f->key, f->value, step, opt) != 0) {
        return -1;
    }
    free(opt->items[0]);
    opt->items[0] = resolve(dir_of(c, f->value), text);
    return opt->items[0] == NULL ? out_of_memory(c) : 0;
}

/* A step that runs a command: exec, and optionally env and cwd (fields 2 to 4 of read_step's). */
static int
read_exec_step(const struct ctx *c, const struct field *f, size_t step, struct config_step *out)
{
    out->exec = 1;
    out->plugin = strdup("exec");
    if (out->plugin == NULL) {
        return out_of_memory(c);
    }
    if (f[1].value != NULL) {
        return fail(c, f[1].key,
                    "an exec step takes no 'options' (step %zu): its keys are exec, env and cwd",
                    step);
    }
    if (read_exec_command(c, &f[2], step, out) != 0) {
        return -1;
    }
    if (f[3].value != NULL && read_exec_env(c, &f[3], step, out) != 0) {
        return -1;
    }
    return f[4].value != NULL ? read_exec_cwd(c, &f[4], step, out) : 0;
}

/* A plugin step's (or the aggregate stage's) `plugin:` and `options:` (which may be NULL). */
static int
read_plugin(const struct ctx *c, const yaml_node_t *plugin_node, const yaml_node_t *options,
            size_t step, struct config_step *out)
{
    const char *what = out->aggregate ? "aggregate" : "step";
    char buf[QUOTE_BUF], label[64];
    const char *plugin;

    snprintf(label, sizeof(label), "%s%s", out->aggregate ? "aggregate." : "", "plugin");
    if (get_string(c, plugin_node, label, &plugin) != 0) {
        return -1;
    }
    out->plugin =
        strchr(plugin, '/') != NULL ? resolve(dir_of(c, plugin_node), plugin) : strdup(plugin);
    if (out->plugin == NULL) {
        return out_of_memory(c);
    }
    if (options == NULL) {
        return 0;
    }
    if (options->type != YAML_MAPPING_NODE) {
        snprintf(label, sizeof(label), out->aggregate ? "%s" : "%s %zu", what, step);
        return fail(c, options, "options of %s must be a mapping, got %s", label,
                    describe(options, buf, sizeof(buf)));
    }
    return read_options(c, options, step, out);
}

static int
read_step(const struct ctx *c, const yaml_node_t *node, size_t step, struct config_step *out)
{
    struct field f[] = {{"plugin", NULL, NULL},
                        {"options", NULL, NULL},
                        {"exec", NULL, NULL},
                        {"env", NULL, NULL},
                        {"cwd", NULL, NULL}};
    char where[32];
    char buf[QUOTE_BUF];

    if (node->type != YAML_MAPPING_NODE) {
        return fail(c, node, "step %zu must be a mapping with a 'plugin' or an 'exec' key, got %s",
                    step, describe(node, buf, sizeof(buf)));
    }
    snprintf(where, sizeof(where), "step %zu", step);
    if (read_mapping(c, node, where, f, 5) != 0) {
        return -1;
    }
    out->pos = pos_of(node);
    if (f[0].value != NULL && f[2].value != NULL) {
        return fail(c, f[2].key,
                    "step %zu has both 'plugin' and 'exec': a step runs a plugin or a command, "
                    "not both",
                    step);
    }
    if (f[2].value != NULL) {
        return read_exec_step(c, f, step, out);
    }
    if (f[0].value == NULL) {
        return fail(c, node, "missing required key 'plugin' (or 'exec', for a command) in step %zu",
                    step);
    }
    if (f[3].value != NULL || f[4].value != NULL) {
        return fail(c, f[3].value != NULL ? f[3].key : f[4].key,
                    "'%s' belongs to an exec step; step %zu runs a plugin",
                    f[3].value != NULL ? "env" : "cwd", step);
    }
    return read_plugin(c, f[0].value, f[1].value, step, out);
}

static const char *scalar_text(const yaml_node_t *node);

/* `aggregate:` (a mapping: plugin, options, memory), appended to job->steps after the steps. */
static int
read_aggregate(const struct ctx *c, const yaml_node_t *node, struct job *job)
{
    struct field f[] = {{"plugin", NULL, NULL}, {"options", NULL, NULL}, {"memory", NULL, NULL}};
    struct config_step *grown, *out;
    char buf[QUOTE_BUF];
    const char *text;
    size_t step = job->n_steps + 1;

    if (node->type != YAML_MAPPING_NODE) {
        return fail(c, node, "aggregate must be a mapping with a 'plugin' key, got %s",
                    describe(node, buf, sizeof(buf)));
    }
    if (read_mapping(c, node, "aggregate", f, 3) != 0) {
        return -1;
    }
    if (f[0].value == NULL) {
        return fail(c, node, "missing required key 'plugin' in aggregate");
    }
    if (f[2].value != NULL) {
        text = scalar_text(f[2].value);
        if (text == NULL || config_parse_size(text, &job->aggregate_memory) != 0) {
            return bad_value(c, f[2].value, "aggregate.memory",
                             "a positive size in bytes, optionally with a unit (K, M, G, ...: "
                             "powers of 1024), such as 512MiB");
        }
        job->aggregate_memory_pos = pos_of(f[2].value);
    }
    grown = realloc(job->steps, step * sizeof(*job->steps));
    if (grown == NULL) {
        return out_of_memory(c);
    }
    job->steps = grown;
    out = &job->steps[job->n_steps];
    memset(out, 0, sizeof(*out));
    job->n_steps = step;
    job->aggregate = 1;
    out->aggregate = 1;
    out->pos = pos_of(node);
    return read_plugin(c, f[0].value, f[1].value, step, out);
}

static int
read_steps(const struct ctx *c, const yaml_node_t *node, struct job *job)
{
    char buf[QUOTE_BUF];
    yaml_node_item_t *item;
    size_t n;

    if (node->type != YAML_SEQUENCE_NODE) {
        return fail(c, node, "steps must be a list of steps, got %s",
                    describe(node, buf, sizeof(buf)));
    }
    n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (n == 0) {
        return fail(c, node, "steps is an empty list; expected at least one step");
    }
    job->steps = calloc(n, sizeof(*job->steps));
    if (job->steps == NULL) {
        return out_of_memory(c);
    }
    job->n_steps = n;
    for (item = node->data.sequence.items.start; item < node->data.sequence.items.top; item++) {
        size_t i = (size_t)(item - node->data.sequence.items.start);

        if (read_step(c, node_at(c, *item), i + 1, &job->steps[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

/* A scalar's text, or NULL (not a scalar, or one holding a NUL). */
static const char *
scalar_text(const yaml_node_t *node)
{
    if (node == NULL || node->type != YAML_SCALAR_NODE || has_nul(node)) {
        return NULL;
    }
    return (const char *)node->data.scalar.value;
}

static int
read_duration(const struct ctx *c, const yaml_node_t *node, const char *what, uint64_t *ms)
{
    const char *text = scalar_text(node);

    if (node != NULL && (text == NULL || config_parse_duration(text, ms) != 0)) {
        return bad_value(c, node, what,
                         "a positive duration such as 10m, 30s, 1.5s, 250ms or 2h (a number "
                         "alone is seconds)");
    }
    return 0;
}

/* retries, on_error, max_skipped, partition_timeout and record_timeout (each may be absent). */
static int
read_failure_keys(const struct ctx *c, const yaml_node_t *retries, const yaml_node_t *on_error,
                  const yaml_node_t *max_skipped, const yaml_node_t *partition_timeout,
                  const yaml_node_t *record_timeout, struct job *job)
{
    const char *text;
    int n;

    if (retries != NULL) {
        text = scalar_text(retries);
        if (text == NULL || config_parse_workers(text, &n) != 0 || strcmp(text, "auto") == 0) {
            n = text != NULL && strcmp(text, "0") == 0 ? 0 : -1;
        }
        if (n < 0 || n > CONFIG_MAX_RETRIES) {
            return bad_value(c, retries, "retries",
                             "an integer from 0 to " CONFIG_MAX_RETRIES_TEXT);
        }
        job->retries = n;
    }
    if (on_error != NULL) {
        text = scalar_text(on_error);
        if (text == NULL || (strcmp(text, "fail") != 0 && strcmp(text, "skip") != 0)) {
            return bad_value(c, on_error, "on_error", "'fail' or 'skip'");
        }
        job->on_error_skip = strcmp(text, "skip") == 0;
    }
    if (max_skipped != NULL) {
        text = scalar_text(max_skipped);
        if (text == NULL ||
            config_parse_max_skipped(text, &job->max_skipped, &job->max_skipped_fraction) != 0) {
            return bad_value(c, max_skipped, "max_skipped",
                             "a count of records (0, 1, ...) or a fraction of the records in "
                             "(0.01 or 1%)");
        }
    }
    return read_duration(c, partition_timeout, "partition_timeout", &job->partition_timeout_ms) ||
           read_duration(c, record_timeout, "record_timeout", &job->record_timeout_ms);
}

static int
read_job(const struct ctx *c, const yaml_node_t *root, struct job *job)
{
    struct field f[] = {{"input", NULL, NULL},          {"output", NULL, NULL},
                        {"workers", NULL, NULL},        {"partition_size", NULL, NULL},
                        {"log_dir", NULL, NULL},        {"steps", NULL, NULL},
                        {"retries", NULL, NULL},        {"on_error", NULL, NULL},
                        {"max_skipped", NULL, NULL},    {"partition_timeout", NULL, NULL},
                        {"record_timeout", NULL, NULL}, {"aggregate", NULL, NULL}};
    enum {
        F_INPUT,
        F_OUTPUT,
        F_WORKERS,
        F_PARTITION_SIZE,
        F_LOG_DIR,
        F_STEPS,
        F_RETRIES,
        F_ON_ERROR,
        F_MAX_SKIPPED,
        F_PARTITION_TIMEOUT,
        F_RECORD_TIMEOUT,
        F_AGGREGATE,
        F_COUNT
    };
    char buf[QUOTE_BUF];
    const char *text;

    if (root->type != YAML_MAPPING_NODE) {
        return fail(c, root, "the job must be a mapping with input, output and steps, got %s",
                    describe(root, buf, sizeof(buf)));
    }
    if (read_mapping(c, root, "the top level", f, F_COUNT) != 0) {
        return -1;
    }
    if (f[F_INPUT].value == NULL) {
        return fail(c, root, "missing required key 'input'");
    }
    if (f[F_OUTPUT].value == NULL) {
        return fail(c, root, "missing required key 'output'");
    }
    if (f[F_STEPS].value == NULL && f[F_AGGREGATE].value == NULL) {
        return fail(c, root, "missing required key 'steps' (or 'aggregate')");
    }
    if (read_input(c, f[F_INPUT].value, job) != 0 || read_output(c, f[F_OUTPUT].value, job) != 0) {
        return -1;
    }
    if (f[F_WORKERS].value != NULL &&
        (f[F_WORKERS].value->type != YAML_SCALAR_NODE || has_nul(f[F_WORKERS].value) ||
         config_parse_workers((const char *)f[F_WORKERS].value->data.scalar.value, &job->workers) !=
             0)) {
        return bad_value(c, f[F_WORKERS].value, "workers", "a positive integer or 'auto'");
    }
    if (f[F_PARTITION_SIZE].value != NULL &&
        (f[F_PARTITION_SIZE].value->type != YAML_SCALAR_NODE ||
         has_nul(f[F_PARTITION_SIZE].value) ||
         config_parse_size((const char *)f[F_PARTITION_SIZE].value->data.scalar.value,
                           &job->partition_size) != 0)) {
        return bad_value(
            c, f[F_PARTITION_SIZE].value, "partition_size",
            "a positive size in bytes, optionally with a unit B, K, KB, KiB, M, MB, MiB, G, GB, "
            "GiB, T, TB or TiB (all powers of 1024), such as 32MiB");
    }
    if (read_failure_keys(c, f[F_RETRIES].value, f[F_ON_ERROR].value, f[F_MAX_SKIPPED].value,
                          f[F_PARTITION_TIMEOUT].value, f[F_RECORD_TIMEOUT].value, job) != 0) {
        return -1;
    }
    if (f[F_LOG_DIR].value != NULL) {
        if (get_string(c, f[F_LOG_DIR].value, "log_dir", &text) != 0) {
            return -1;
        }
        job->log_dir = resolve(dir_of(c, f[F_LOG_DIR].value), text);
        if (job->log_dir == NULL) {
            return out_of_memory(c);
        }
    }
    /* (steps may be left out, or be an empty list, before an aggregate stage) */
    if (f[F_STEPS].value != NULL &&
        !(f[F_AGGREGATE].value != NULL && f[F_STEPS].value->type == YAML_SEQUENCE_NODE &&
          f[F_STEPS].value->data.sequence.items.top ==
              f[F_STEPS].value->data.sequence.items.start) &&
        read_steps(c, f[F_STEPS].value, job) != 0) {
        return -1;
    }
    return f[F_AGGREGATE].value != NULL ? read_aggregate(c, f[F_AGGREGATE].value, job) : 0;
}

/* Line and column (1-based) of a byte offset, for reader errors, which carry only the offset. */
static void
offset_pos(const unsigned char *text, size_t len, size_t offset, size_t *line, size_t *column)
{
    size_t i, start = 0;

    *line = 1;
    for (i = 0; i < offset && i < len; i++) {
        if (text[i] == '\n') {
            (*line)++;
            start = i + 1;
        }
    }
    *column = offset - start + 1;
}

/* The byte at a mark (whose column counts characters), or -1 beyond the text. */
static int
byte_at(const unsigned char *text, size_t len, yaml_mark_t mark)
{
    size_t i = 0, line = 0, column = 0;

    while (i < len && line < mark.line) {
        if (text[i++] == '\n') {
            line++;
        }
    }
    while (i < len && column < mark.column) {
        i++;
        while (i < len && (text[i] & 0xc0) == 0x80) {
            i++;
        }
        column++;
    }
    return i < len ? text[i] : -1;
}

static int
syntax_error(const struct ctx *c, const yaml_parser_t *parser, const unsigned char *text,
             size_t len)
{
    size_t line, column;
    const char *problem = parser->problem != NULL ? parser->problem : "unknown error";
    const char *hint = "";

    switch (parser->error) {
    case YAML_MEMORY_ERROR:
        return out_of_memory(c);
    case YAML_READER_ERROR:
        offset_pos(text, len, parser->problem_offset, &line, &column);
        if (parser->problem_value != -1) {
            return error_set(c->err, "%s:%zu:%zu: cannot read the YAML text: %s (byte 0x%02x)",
                             c->path, line, column, problem, (unsigned)parser->problem_value);
        }
        return error_set(c->err, "%s:%zu:%zu: cannot read the YAML text: %s", c->path, line, column,
                         problem);
    default:
        if (byte_at(text, len, parser->problem_mark) == '\t' && strstr(problem, "tab") == NULL) {
            hint = "; it is a tab, and YAML indents with spaces";
        }
        if (parser->context != NULL) {
            return fail_at(c, parser->problem_mark,
                           "YAML syntax error: %s (%s that starts at line %zu, column %zu)%s",
                           problem, parser->context, parser->context_mark.line + 1,
                           parser->context_mark.column + 1, hint);
        }
        return fail_at(c, parser->problem_mark, "YAML syntax error: %s%s", problem, hint);
    }
}

/* What the first pass has seen so far. */
struct stream_state {
    int documents;
    int depth;
    int done;
};

/* Checks one event of the first pass. Returns 0 or -1 (said in c->err). */
static int
check_event(const struct ctx *c, const yaml_event_t *event, struct stream_state *st)
{
    switch (event->type) {
    case YAML_ALIAS_EVENT:
        return fail_at(c, event->start_mark,
                       "YAML aliases are not supported (*%s); write the value out in full",
                       (const char *)event->data.alias.anchor);
    case YAML_DOCUMENT_START_EVENT:
        if (++st->documents > 1) {
            return fail_at(c, event->start_mark,
                           "a second YAML document; a job file holds exactly one");
        }
        return 0;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT:
        if (++st->depth > CONFIG_MAX_DEPTH) {
            return fail_at(c, event->start_mark,
                           "nested deeper than %d levels, the most a job file may nest",
                           CONFIG_MAX_DEPTH);
        }
        return 0;
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        st->depth--;
        return 0;
    case YAML_STREAM_END_EVENT:
        st->done = 1;
        return 0;
    default:
        return 0;
    }
}

/*
 * A first pass over the events finds what the document API would hide or accept: syntax errors,
 * aliases (resolved silently by yaml_parser_load), no document at all, or more than one; and
 * nesting past CONFIG_MAX_DEPTH, before libyaml, whose time grows with the square of the depth,
 * reads any further.
 */
static int
check_stream(const struct ctx *c, const unsigned char *text, size_t len)
{
    struct stream_state st = {0, 0, 0};
    yaml_parser_t parser;
    yaml_event_t event;
    int rc = -1;

    if (!yaml_parser_initialize(&parser)) {
        return out_of_memory(c);
    }
    yaml_parser_set_input_string(&parser, text, len);
    while (!st.done) {
        if (!yaml_parser_parse(&parser, &event)) {
            syntax_error(c, &parser, text, len);
            goto out;
        }
        rc = check_event(c, &event, &st);
        yaml_event_delete(&event);
        if (rc != 0) {
            goto out;
        }
    }
    if (st.documents == 0) {
        rc = error_set(c->err,
                       "%s:1:1: the job file is empty; expected a mapping with input, output "
                       "and steps",
                       c->path);
    }
out:
    yaml_parser_delete(&parser);
    return rc;
}

/*
 * Reads the job file whole; one byte past CONFIG_MAX_FILE_SIZE is enough to refuse it, so a huge
 * file (or an endless pipe) costs no more than that.
 */
static int
read_file(const char *path, unsigned char **out, size_t *out_len, struct error *err)
{
    unsigned char *buf = NULL;
    size_t cap = 0, len = 0, want;
    ssize_t got;
    int fd, rc = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error_errno(err, "%s: cannot read job file", path);
        goto out;
    }
    do {
        if (GROW(buf, cap, len + 4096) != 0) {
            error_set(err, "%s: out of memory reading the job file", path);
            goto out;
        }
        want = cap - len;
        if (want > CONFIG_MAX_FILE_SIZE + 1 - len) {
            want = CONFIG_MAX_FILE_SIZE + 1 - len;
        }
        got = io_read_full(fd, buf + len, want);
        if (got < 0) {
            error_errno(err, "%s: cannot read job file", path);
            goto out;
        }
        len += (size_t)got;
    } while ((size_t)got == want && len <= CONFIG_MAX_FILE_SIZE);
    *out = buf;
    *out_len = len;
    buf = NULL;
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    free(buf);
    return rc;
}

_Static_assert(CONFIG_MAX_FILE_SIZE % (1u << 20) == 0, "the message says the size in MiB");

/* Refuses a job file past CONFIG_MAX_FILE_SIZE, at the position of its first byte too many. */
static int
check_size(const struct ctx *c, const unsigned char *text, size_t len)
{
    size_t line, column;

    if (len <= CONFIG_MAX_FILE_SIZE) {
        return 0;
    }
    offset_pos(text, len, CONFIG_MAX_FILE_SIZE, &line, &column);
    return error_set(c->err,
                     "%s:%zu:%zu: the job file is larger than %u MiB, the most a job file may be",
                     c->path, line, column, CONFIG_MAX_FILE_SIZE >> 20);
}

/* ---- The command line's part of the job: --step and --set, applied to the YAML document ---- */

static const char *const top_keys[] = {
    "input",   "output",   "workers",     "partition_size",    "log_dir",        "steps",
    "retries", "on_error", "max_skipped", "partition_timeout", "record_timeout", "aggregate"};

/* Adds an origin (a command-line argument, for messages) to the job; *mark points at it. */
static int add_origin(const struct ctx *c, yaml_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
add_origin(const struct ctx *c, yaml_mark_t *mark, const char *fmt, ...)
{
    struct job *job = c->job;
    char **grown;
    va_list ap;
    int n;

    grown = realloc(job->origins, (job->n_origins + 1) * sizeof(*grown));
    if (grown == NULL) {
        return out_of_memory(c);
    }
    job->origins = grown;
    va_start(ap, fmt);
    n = vasprintf(&job->origins[job->n_origins], fmt, ap);
    va_end(ap);
    if (n < 0) {
        return out_of_memory(c);
    }
    memset(mark, 0, sizeof(*mark));
    mark->index = ARG_MARK;
    mark->line = job->n_origins++;
    return 0;
}

/* Marks node id (just added to the document) as coming from the argument at mark. */
static int
marked(const struct ctx *c, int id, yaml_mark_t mark)
{
    if (id == 0) {
        return out_of_memory(c);
    }
    c->doc->nodes.start[id - 1].start_mark = mark;
    c->doc->nodes.start[id - 1].end_mark = mark;
    return id;
}

static int
add_scalar(const struct ctx *c, const char *text, size_t len, yaml_scalar_style_t style,
           yaml_mark_t mark)
{
    return marked(c, yaml_document_add_scalar(c->doc, NULL, (yaml_char_t *)text, (int)len, style),
                  mark);
}

static int
add_mapping(const struct ctx *c, yaml_mark_t mark)
{
    return marked(c, yaml_document_add_mapping(c->doc, NULL, YAML_BLOCK_MAPPING_STYLE), mark);
}

/* The pair of mapping `map` whose key is name, or NULL. (Adding nodes moves them: a pointer into
 * the document is good until the next add.) */
static yaml_node_pair_t *
find_pair(const struct ctx *c, int map, const char *name)
{
    yaml_node_t *node = node_at(c, map);
    yaml_node_pair_t *pair;

    for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
        const yaml_node_t *key = node_at(c, pair->key);

        if (key->type == YAML_SCALAR_NODE && key->data.scalar.length == strlen(name) &&
            memcmp(key->data.scalar.value, name, key->data.scalar.length) == 0) {
            return pair;
        }
    }
    return NULL;
}

/* map[name] = value: replaces the value of an existing key (the last --set wins), or adds the
 * key. Returns 0 or -1. */
static int
set_key(const struct ctx *c, int map, const char *name, int value, yaml_mark_t mark)
{
    yaml_node_pair_t *pair = find_pair(c, map, name);
    int key;

    if (pair != NULL) {
        pair->value = value;
        return 0;
    }
    key = add_scalar(c, name, strlen(name), YAML_PLAIN_SCALAR_STYLE, mark);
    if (key < 0 || !yaml_document_append_mapping_pair(c->doc, map, key, value)) {
        return out_of_memory(c);
    }
    return 0;
}

/* *out = the mapping map[name], added when missing. Returns 0, 1 when map[name] is something
 * else (the job file's: reading it will say what is wrong), or -1. */
static int
child_mapping(const struct ctx *c, int map, const char *name, yaml_mark_t mark, int *out)
{
    yaml_node_pair_t *pair = find_pair(c, map, name);
    int id;

    if (pair != NULL) {
        *out = pair->value;
        return node_at(c, pair->value)->type == YAML_MAPPING_NODE ? 0 : 1;
    }
    id = add_mapping(c, mark);
    if (id < 0 || set_key(c, map, name, id, mark) != 0) {
        return -1;
    }
    *out = id;
    return 0;
}

/* Copies node n of document `from` (a parsed --set value) into the job's document. */
static int
copy_node(const struct ctx *c, yaml_document_t *from, const yaml_node_t *n, yaml_mark_t mark)
{
    yaml_node_item_t *item;
    yaml_node_pair_t *pair;
    int id, k, v;

    switch (n->type) {
    case YAML_SCALAR_NODE:
        return add_scalar(c, (const char *)n->data.scalar.value, n->data.scalar.length,
                          n->data.scalar.style, mark);
    case YAML_SEQUENCE_NODE:
        id = marked(c, yaml_document_add_sequence(c->doc, NULL, YAML_FLOW_SEQUENCE_STYLE), mark);
        for (item = n->data.sequence.items.start; id > 0 && item < n->data.sequence.items.top;
             item++) {
            k = copy_node(c, from, yaml_document_get_node(from, *item), mark);
            if (k < 0 || !yaml_document_append_sequence_item(c->doc, id, k)) {
                return out_of_memory(c);
            }
        }
        return id;
    case YAML_MAPPING_NODE:
        id = marked(c, yaml_document_add_mapping(c->doc, NULL, YAML_FLOW_MAPPING_STYLE), mark);
        for (pair = n->data.mapping.pairs.start; id > 0 && pair < n->data.mapping.pairs.top;
             pair++) {
            k = copy_node(c, from, yaml_document_get_node(from, pair->key), mark);
            v = k < 0 ? -1 : copy_node(c, from, yaml_document_get_node(from, pair->value), mark);
            if (v < 0 || !yaml_document_append_mapping_pair(c->doc, id, k, v)) {
                return out_of_memory(c);
            }
        }
        return id;
    default:
        return add_scalar(c, "", 0, YAML_PLAIN_SCALAR_STYLE, mark);
    }
}

/* Whether text is one whole YAML document (nothing after its first node, no syntax error). */
static int
whole_yaml(const unsigned char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    int ok = 0;

    if (!yaml_parser_initialize(&parser)) {
        return 0;
    }
    yaml_parser_set_input_string(&parser, text, len);
    if (yaml_parser_load(&parser, &doc)) {
        ok = yaml_document_get_root_node(&doc) != NULL;
        yaml_document_delete(&doc);
        if (ok && yaml_parser_load(&parser, &doc)) {
            ok = yaml_document_get_root_node(&doc) == NULL; /* (the end of the stream) */
            yaml_document_delete(&doc);
        } else {
            ok = 0;
        }
    }
    yaml_parser_delete(&parser);
    return ok;
}

/* A --set's VALUE as a node of the job's document: a plain scalar, or (beginning with [ { " ')
 * a YAML flow value, parsed and checked as a job file is. A value that begins so but is no
 * whole YAML value (a regex such as [0-9]+ or [[:upper:]]{3}) is taken as it is written.
 * Returns its id, or -1. */
static int
value_node(const struct ctx *c, const char *value, yaml_mark_t mark)
{
    const unsigned char *text = (const unsigned char *)value;
    size_t len = strlen(value);
    struct ctx vc = *c;
    yaml_parser_t parser;
    yaml_document_t doc;
    int id = -1;

    if (len == 0 || strchr("[{\"'", value[0]) == NULL) {
        return add_scalar(c, value, len, YAML_PLAIN_SCALAR_STYLE, mark);
    }
    vc.value_of = c->job->origins[mark.line];
    vc.path = vc.value_of;
    if (check_stream(&vc, text, len) != 0) { /* (size and depth, before parsing) */
        return -1;
    }
    if (!whole_yaml(text, len)) {
        return add_scalar(c, value, len, YAML_PLAIN_SCALAR_STYLE, mark);
    }
    if (!yaml_parser_initialize(&parser)) {
        return out_of_memory(c);
    }
    yaml_parser_set_input_string(&parser, text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(&vc, &parser, text, len);
    } else {
        id = copy_node(c, &doc, yaml_document_get_root_node(&doc), mark);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return id;
}

/* The root's `steps` list, or 0 when there is none (a job file without one: reading it says). */
static int
steps_node(const struct ctx *c)
{
    yaml_node_pair_t *pair;

    if (node_at(c, 1)->type != YAML_MAPPING_NODE) {
        return 0;
    }
    pair = find_pair(c, 1, "steps");
    if (pair == NULL || node_at(c, pair->value)->type != YAML_SEQUENCE_NODE) {
        return 0;
    }
    return pair->value;
}

static size_t
count_steps(const struct ctx *c, int steps)
{
    const yaml_node_t *node = node_at(c, steps);

    return steps == 0 ? 0
                      : (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
}

/* The plugin a step names as written, or "?" (a step that is not a mapping with a plugin). */
static const char *
step_plugin(const struct ctx *c, int steps, size_t k)
{
    const yaml_node_t *step = node_at(c, node_at(c, steps)->data.sequence.items.start[k]);
    const yaml_node_pair_t *pair;
    const yaml_node_t *value;

    if (step->type != YAML_MAPPING_NODE) {
        return "?";
    }
    for (pair = step->data.mapping.pairs.start; pair < step->data.mapping.pairs.top; pair++) {
        const yaml_node_t *key = node_at(c, pair->key);

        value = node_at(c, pair->value);
        if (key->type == YAML_SCALAR_NODE &&
            strcmp((const char *)key->data.scalar.value, "plugin") == 0 &&
            value->type == YAML_SCALAR_NODE) {
            return (const char *)value->data.scalar.value;
        }
        if (key->type == YAML_SCALAR_NODE &&
            strcmp((const char *)key->data.scalar.value, "exec") == 0) {
            return "exec";
        }
    }
    return "?";
}

/* Whether step k uses plugin `name`: as written, or as the file name of a path (x/NAME.so). */
static int
step_uses(const struct ctx *c, int steps, size_t k, const char *name)
{
    const char *plugin = step_plugin(c, steps, k), *base = strrchr(plugin, '/');
    size_t len = strlen(name);

    base = base != NULL ? base + 1 : plugin;
    return strcmp(plugin, name) == 0 ||
           (strncmp(base, name, len) == 0 && strcmp(base + len, ".so") == 0);
}

/* "1 cut, 2 grep": the steps, for messages. */
static const char *
list_steps(const struct ctx *c, int steps, char *buf, size_t size)
{
    size_t k, n = count_steps(c, steps), used = 0;

    buf[0] = '\0';
    for (k = 0; k < n && used < size; k++) {
        used += (size_t)snprintf(buf + used, size - used, "%s%zu %s", k > 0 ? ", " : "", k + 1,
                                 step_plugin(c, steps, k));
    }
    return buf;
}

/* Sets option `option` of step k (1-based) to value. */
static int
set_step_option(const struct ctx *c, size_t k, const char *option, const char *value,
                yaml_mark_t mark)
{
    int steps = steps_node(c), step, options, id, rc;
    size_t n = count_steps(c, steps);
    char list[512];

    if (steps == 0) {
        return 0; /* a job file without a list of steps: reading it says so */
    }
    if (k == 0 || k > n) {
        return fail_at(c, mark, "there is no step %zu: the job's steps are %s", k,
                       list_steps(c, steps, list, sizeof(list)));
    }
    if (option[0] == '\0') {
        return fail_at(c, mark, "expected STEP.OPTION=VALUE, such as 1.fields=2");
    }
    step = node_at(c, steps)->data.sequence.items.start[k - 1];
    if (node_at(c, step)->type != YAML_MAPPING_NODE) {
        return 0;
    }
    if (find_pair(c, step, "exec") != NULL) {
        return fail_at(c, mark,
                       "step %zu runs a command (exec): it has no options to --set; change its "
                       "exec, env or cwd in the job file",
                       k);
    }
    rc = child_mapping(c, step, "options", mark, &options);
    if (rc != 0) {
        return rc < 0 ? -1 : 0;
    }
    id = value_node(c, value, mark);
    return id < 0 ? -1 : set_key(c, options, option, id, mark);
}

/* Sets the job key path (input.compression, workers) to value, adding mappings on the way. */
static int
set_job_key(const struct ctx *c, char *key, const char *value, yaml_mark_t mark)
{
    int map = 1, rc, id;
    char *dot;

    if (node_at(c, map)->type != YAML_MAPPING_NODE) {
        return 0; /* a job file that is not a mapping: reading it says so */
    }
    while ((dot = strchr(key, '.')) != NULL) {
        *dot = '\0';
        if (key[0] == '\0') {
            return fail_at(c, mark, "a key is empty; expected KEY=VALUE such as output.level=1");
        }
        rc = child_mapping(c, map, key, mark, &map);
        if (rc < 0) {
            return -1;
        }
        if (rc > 0) {
            return fail_at(c, mark, "'%s' is not a mapping, so it has no key '%s'", key, dot + 1);
        }
        key = dot + 1;
    }
    if (key[0] == '\0') {
        return fail_at(c, mark, "a key is empty; expected KEY=VALUE such as output.level=1");
    }
    id = value_node(c, value, mark);
    return id < 0 ? -1 : set_key(c, map, key, id, mark);
}

static int
is_top_key(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof(top_keys) / sizeof(top_keys[0]); i++) {
        if (strlen(top_keys[i]) == len && strncmp(top_keys[i], name, len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Which step KEY's first part (len bytes) names: its number (*step, 1-based; 0 and numbers past
 * the last step are refused by the caller), or the plugin of exactly one step. Returns 1, 0 when
 * it names no step (KEY is a key of the job), or -1 (a plugin that several steps use). */
static int
named_step(const struct ctx *c, const char *key, size_t len, yaml_mark_t mark, size_t *step)
{
    int steps = steps_node(c);
    size_t k, n = count_steps(c, steps), found = 0, uses = 0;
    char name[256], list[512];

    if (len == 0 || len >= sizeof(name) || is_top_key(key, len)) {
        return 0;
    }
    if (strspn(key, "0123456789") >= len) {
        *step = len > 9 ? SIZE_MAX : (size_t)strtoul(key, NULL, 10);
        return 1;
    }
    memcpy(name, key, len);
    name[len] = '\0';
    for (k = 0; k < n; k++) {
        if (step_uses(c, steps, k, name)) {
            found = found == 0 ? k + 1 : found;
            uses++;
        }
    }
    if (uses > 1) {
        return fail_at(c, mark,
                       "%zu steps use plugin %s (the job's steps are %s): name the step by its "
                       "number instead, such as --set %zu%s=...",
                       uses, name, list_steps(c, steps, list, sizeof(list)), found, key + len);
    }
    *step = found;
    return found > 0;
}

/* Applies one --set KEY=VALUE (origin k). */
static int
apply_set(const struct ctx *c, const struct config_arg *a)
{
    const char *eq = strchr(a->text, '=');
    yaml_mark_t mark;
    char *key;
    size_t len, step = 0;
    int rc;

    if (add_origin(c, &mark, "--set %s", a->text) != 0) {
        return -1;
    }
    if (eq == NULL || eq == a->text) {
        return fail_at(c, mark,
                       "expected KEY=VALUE (such as output.level=1) or STEP.OPTION=VALUE (such as "
                       "2.fields=1 or grep.pattern=x)");
    }
    key = strndup(a->text, (size_t)(eq - a->text));
    if (key == NULL) {
        return out_of_memory(c);
    }
    len = strcspn(key, ".");
    if (a->step > 0 && key[len] == '\0') {
        rc = set_step_option(c, a->step, key, eq + 1, mark);
    } else if (key[len] == '\0' && !is_top_key(key, len)) {
        rc = fail_at(c, mark,
                     "unknown key '%s' of the job (its keys: input, output, workers, "
                     "partition_size, log_dir, steps, retries, on_error, max_skipped, "
                     "partition_timeout, record_timeout); an option of a step is STEP.OPTION, "
                     "such as --set 1.%s",
                     key, a->text);
    } else if ((rc = named_step(c, key, key[len] == '\0' ? 0 : len, mark, &step)) < 0) {
        rc = -1;
    } else if (rc > 0) {
        rc = set_step_option(c, step, key + len + 1, eq + 1, mark);
    } else {
        rc = set_job_key(c, key, eq + 1, mark);
    }
    free(key);
    return rc;
}

/* node[name] = a mapping {path: value}, from the argument at mark. */
static int
add_path_mapping(const struct ctx *c, const char *name, const char *value, yaml_mark_t mark)
{
    int map = add_mapping(c, mark), path;

    if (map < 0) {
        return -1;
    }
    path = add_scalar(c, value, strlen(value), YAML_PLAIN_SCALAR_STYLE, mark);
    if (path < 0 || set_key(c, map, "path", path, mark) != 0) {
        return -1;
    }
    return set_key(c, 1, name, map, mark);
}

/* A job without a file: {input: {path: --input}, output: {path: --output}, steps: [--step...]},
 * each node marked with its argument. */
static int
build_cli_job(const struct ctx *c, const struct config_cli *cli)
{
    yaml_mark_t mark;
    size_t i;
    int steps, step, plugin;

    if (add_origin(c, &mark, "the command line") != 0 || add_mapping(c, mark) != 1) {
        return -1;
    }
    if (cli->input != NULL && (add_origin(c, &mark, "--input %s", cli->input) != 0 ||
                               add_path_mapping(c, "input", cli->input, mark) != 0)) {
        return -1;
    }
    if (cli->output != NULL ? add_origin(c, &mark, "--output %s", cli->output) != 0
                            : add_origin(c, &mark, "the output (standard output)") != 0) {
        return -1;
    }
    if (add_path_mapping(c, "output", cli->output != NULL ? cli->output : "-", mark) != 0) {
        return -1;
    }
    if (cli->n_steps == 0) {
        return 0; /* reading the job says that steps are missing */
    }
    steps = marked(c, yaml_document_add_sequence(c->doc, NULL, YAML_BLOCK_SEQUENCE_STYLE), mark);
    if (steps < 0 || set_key(c, 1, "steps", steps, mark) != 0) {
        return -1;
    }
    for (i = 0; i < cli->n_steps; i++) {
        const struct config_arg *a = &cli->steps[i];

        if (add_origin(c, &mark, "--step %s (argument %d)", a->text, a->argi) != 0 ||
            (step = add_mapping(c, mark)) < 0 ||
            (plugin = add_scalar(c, a->text, strlen(a->text), YAML_PLAIN_SCALAR_STYLE, mark)) < 0 ||
            set_key(c, step, "plugin", plugin, mark) != 0 ||
            !yaml_document_append_sequence_item(c->doc, steps, step)) {
            return out_of_memory(c);
        }
    }
    return 0;
}

/* Reads the job file into doc (c->path; doc is set only on success). */
static int
load_document(struct ctx *c, yaml_document_t *doc, struct error *err)
{
    yaml_parser_t parser;
    unsigned char *text = NULL;
    size_t len = 0;
    int rc = -1;

    if (read_file(c->path, &text, &len, err) != 0) {
        return -1;
    }
    if (job_dir(c->path, &c->dir) != 0) {
        out_of_memory(c);
        goto out;
    }
    if (check_size(c, text, len) != 0 || check_stream(c, text, len) != 0) {
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        out_of_memory(c);
        goto out;
    }
    yaml_parser_set_input_string(&parser, text, len);
    if (!yaml_parser_load(&parser, doc)) {
        syntax_error(c, &parser, text, len);
    } else {
        rc = 0;
    }
    yaml_parser_delete(&parser);
out:
    free(text);
    return rc;
}

int
config_load(const char *path, struct job *job, struct error *err)
{
    return config_load_cli(path, NULL, job, err);
}

int
config_load_cli(const char *path, const struct config_cli *cli, struct job *job, struct error *err)
{
    struct job j;
    struct ctx c = {path != NULL ? path : CONFIG_CLI_JOB, NULL, NULL, err, &j, NULL};
    yaml_document_t doc;
    int doc_loaded = 0, rc = -1;
    size_t i;

    memset(&j, 0, sizeof(j));
    if (path != NULL) {
        if (load_document(&c, &doc, err) != 0) {
            goto out;
        }
    } else if (!yaml_document_initialize(&doc, NULL, NULL, NULL, 1, 1)) {
        out_of_memory(&c);
        goto out;
    }
    doc_loaded = 1;
    c.doc = &doc;
    j.file = strdup(c.path);
    if (j.file == NULL) {
        out_of_memory(&c);
        goto out;
    }
    if (path == NULL && build_cli_job(&c, cli) != 0) {
        goto out;
    }
    for (i = 0; cli != NULL && i < cli->n_sets; i++) {
        if (apply_set(&c, &cli->sets[i]) != 0) {
            goto out;
        }
    }
    framing_default(&j.framing);
    j.partition_size = CONFIG_DEFAULT_PARTITION_SIZE;
    j.max_skipped = UINT64_MAX;
    j.max_skipped_fraction = -1;
    if (read_job(&c, yaml_document_get_root_node(&doc), &j) != 0) {
        goto out;
    }
    *job = j;
    framing_finish(&job->framing); /* (its pub points into itself) */
    memset(&j, 0, sizeof(j));
    rc = 0;
out:
    config_release(&j);
    if (doc_loaded) {
        yaml_document_delete(&doc);
    }
    free(c.dir);
    return rc;
}

const char *
config_where(const struct job *job, struct config_pos pos, char *buf, size_t size)
{
    size_t k = (size_t)(-(long)pos.line - 1);

    if (pos.line < 0 && k < job->n_origins) {
        snprintf(buf, size, "%s", job->origins[k]);
    } else {
        snprintf(buf, size, "%s:%d:%d", job->file, pos.line, pos.column);
    }
    return buf;
}

void
config_explain(const struct job *job, struct error *err)
{
    char pattern[ERROR_MSG_MAX], out[ERROR_MSG_MAX];
    size_t k;

    for (k = 0; k < job->n_origins; k++) {
        char *at;
        int plen = snprintf(pattern, sizeof(pattern), "%s:%ld:0", job->file, -(long)k - 1);

        while (plen > 0 && (at = strstr(err->msg, pattern)) != NULL) {
            snprintf(out, sizeof(out), "%.*s%s%s", (int)(at - err->msg), err->msg, job->origins[k],
                     at + plen);
            snprintf(err->msg, sizeof(err->msg), "%s", out);
        }
    }
}

static void
release_step(struct config_step *step)
{
    size_t i;

    for (i = 0; i < step->n_options; i++) {
        free(step->options[i].name);
        free_strings(step->options[i].items, step->options[i].n_items);
        free(step->options[i].item_pos);
    }
    free(step->options);
    free(step->plugin);
}

void
config_release(struct job *job)
{
    size_t i;

    if (job == NULL) {
        return;
    }
    free(job->file);
    free(job->framing.header_row);
    free_strings(job->inputs, job->n_inputs);
    free(job->input_entry);
    free_entries(job->input_entries, job->n_input_entries);
    free(job->input_problem);
    free(job->output);
    free(job->log_dir);
    free_strings(job->origins, job->n_origins);
    for (i = 0; i < job->n_steps; i++) {
        release_step(&job->steps[i]);
    }
    free(job->steps);
    memset(job, 0, sizeof(*job));
}

int
config_parse_size(const char *text, uint64_t *out)
{
    static const struct {
        const char *name;
        unsigned shift;
    } units[] = {
        {"", 0},     {"b", 0},  {"k", 10},  {"kb", 10},  {"kib", 10}, {"m", 20},  {"mb", 20},
        {"mib", 20}, {"g", 30}, {"gb", 30}, {"gib", 30}, {"t", 40},   {"tb", 40}, {"tib", 40},
    };
    uint64_t value = 0;
    const char *s = text;
    size_t i;

    if (text == NULL || *s < '0' || *s > '9') {
        return -1;
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        if (value > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) {
            return -1;
        }
        value = value * 10 + (uint64_t)(*s - '0');
    }
    /* One space may separate the number from a unit, but not end the text. */
    if (*s == ' ' && s[1] != '\0') {
        s++;
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(s, units[i].name) == 0) {
            break;
        }
    }
    if (i == sizeof(units) / sizeof(units[0]) || value == 0 ||
        value > (UINT64_MAX >> units[i].shift)) {
        return -1;
    }
    *out = value << units[i].shift;
    return 0;
}

int
config_parse_workers(const char *text, int *out)
{
    long value = 0;
    const char *s = text;

    if (text == NULL) {
        return -1;
    }
    if (strcmp(text, "auto") == 0) {
        *out = 0;
        return 0;
    }
    if (*s == '\0') {
        return -1;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        value = value * 10 + (*s - '0');
        if (value > INT_MAX) {
            return -1;
        }
    }
    if (value == 0) {
        return -1;
    }
    *out = (int)value;
    return 0;
}

int
config_parse_duration(const char *text, uint64_t *ms)
{
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    char *end;
    double v;
    size_t i;

    if (text[0] < '0' || text[0] > '9') {
        return -1; /* (no sign, no space, no "inf" or "nan") */
    }
    errno = 0;
    v = strtod(text, &end);
    if (errno != 0 || end == text) {
        return -1;
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            v *= units[i].ms;
            if (!(v >= 0.5) || v > 1e15) {
                return -1; /* zero, or too small to be a millisecond, or absurd */
            }
            *ms = (uint64_t)(v + 0.5);
            return 0;
        }
    }
    return -1;
}

int
config_parse_max_skipped(const char *text, uint64_t *count, double *fraction)
{
    size_t len = strlen(text);
    char *end;
    double v;

    if (len == 0 || text[0] < '0' || text[0] > '9') {
        return -1;
    }
    errno = 0;
    if (strchr(text, '.') == NULL && text[len - 1] != '%') {
        unsigned long long n = strtoull(text, &end, 10);
        if (errno != 0 || *end != '\0') {
            return -1;
        }
        *count = (uint64_t)n;
        *fraction = -1;
        return 0;
    }
    v = strtod(text, &end);
    if (errno != 0 || end == text) {
        return -1;
    }
    if (*end == '%' && end[1] == '\0') {
        v /= 100;
    } else if (*end != '\0' || v >= 1) {
        return -1; /* (1.0 or more: a count, written without a point) */
    }
    if (!(v >= 0) || v > 1) {
        return -1;
    }
    *fraction = v;
    *count = UINT64_MAX;
    return 0;
}

int
config_set_input(struct job *job, const char *path, struct error *err)
{
    struct expansion x = {0};
    struct config_input_entry *entry = NULL;
    int rc = -1;

    if (path == NULL || path[0] == '\0') {
        error_set(err, "--input: the path is empty");
        goto out;
    }
    entry = calloc(1, sizeof(*entry));
    if (entry == NULL || (entry->text = strdup(path)) == NULL) {
        error_set(err, "--input %s: out of memory", path);
        goto out;
    }
    switch (expand_entry(NULL, path, 0, &x)) {
    case 0:
        break;
    case EXPAND_NOMATCH:
        error_set(err, "--input %s: no file matches", path);
        goto out;
    case EXPAND_ABORTED:
        error_set(err, "--input %s: cannot read a directory while matching", path);
        goto out;
    default:
        error_set(err, "--input %s: out of memory", path);
        goto out;
    }
    set_inputs(job, &x);
    free_entries(job->input_entries, job->n_input_entries);
    job->input_entries = entry;
    job->n_input_entries = 1;
    entry = NULL;
    free(job->input_problem);
    job->input_problem = NULL;
    job->input_pos.line = 0;
    job->input_pos.column = 0;
    rc = 0;
out:
    free_entries(entry, entry != NULL ? 1 : 0);
    expansion_release(&x);
    return rc;
}
