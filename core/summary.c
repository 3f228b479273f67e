/*
 * core/summary.c: summary.json -> struct summary, through libyaml's document loader. Each struct
 * is described once by a table of its keys (a shape), and one walker decodes any shape: a mapping
 * into a struct, a sequence into an array of structs, scalars into strings, integers, times and
 * booleans. JSON's escapes (\", \\, \/, \uXXXX) are YAML double-quoted escapes; JSON's numbers,
 * true, false and null are YAML plain scalars, told from strings by their style.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "grow.h"
#include "summary.h"

enum kind { K_STRING, K_U64, K_I64, K_SECONDS, K_BOOL, K_OBJECT, K_ARRAY };

struct shape;

struct field {
    const char *key;
    enum kind kind;
    size_t offset;             /* of the member in its struct */
    const struct shape *shape; /* K_OBJECT, K_ARRAY: the members of the object or elements */
    size_t count_offset;       /* K_ARRAY: of the size_t that counts the elements */
};

struct shape {
    const struct field *fields;
    size_t n_fields;
    size_t size; /* of one struct */
};

#define SHAPE(type, table)                                                                         \
    {                                                                                              \
        table, sizeof(table) / sizeof(table[0]), sizeof(type)                                      \
    }
#define F(type, key, kind)                                                                         \
    {                                                                                              \
#key, kind, offsetof(type, key), NULL, 0                                                   \
    }
#define OBJ(type, key, shape)                                                                      \
    {                                                                                              \
#key, K_OBJECT, offsetof(type, key), &shape, 0                                             \
    }
#define ARR(type, key, shape, count)                                                               \
    {                                                                                              \
#key, K_ARRAY, offsetof(type, key), &shape, offsetof(type, count)                          \
    }

static const struct field input_fields[] = {
    F(struct summary_input, path, K_STRING),
    F(struct summary_input, kind, K_STRING),
    F(struct summary_input, size, K_U64),
};
static const struct shape input_shape = SHAPE(struct summary_input, input_fields);

static const struct field step_fields[] = {
    F(struct summary_step, label, K_STRING),    F(struct summary_step, records_in, K_U64),
    F(struct summary_step, records_out, K_U64), F(struct summary_step, bytes_in, K_U64),
    F(struct summary_step, bytes_out, K_U64),
};
static const struct shape step_shape = SHAPE(struct summary_step, step_fields);

static const struct field retry_fields[] = {
    F(struct summary_retry, partition, K_I64), F(struct summary_retry, attempt, K_I64),
    F(struct summary_retry, worker, K_I64),    F(struct summary_retry, at_s, K_SECONDS),
    F(struct summary_retry, reason, K_STRING),
};
static const struct shape retry_shape = SHAPE(struct summary_retry, retry_fields);

static const struct field partition_fields[] = {
    F(struct summary_partition, index, K_I64),
    F(struct summary_partition, input, K_I64),
    F(struct summary_partition, start, K_U64),
    F(struct summary_partition, end, K_U64),
    F(struct summary_partition, worker, K_I64),
    F(struct summary_partition, attempts, K_I64),
    F(struct summary_partition, resumed, K_BOOL),
    F(struct summary_partition, start_s, K_SECONDS),
    F(struct summary_partition, done_s, K_SECONDS),
    F(struct summary_partition, written_s, K_SECONDS),
    F(struct summary_partition, records_in, K_U64),
    F(struct summary_partition, records_out, K_U64),
    F(struct summary_partition, bytes_in, K_U64),
    F(struct summary_partition, bytes_out, K_U64),
    F(struct summary_partition, skipped, K_U64),
};
static const struct shape partition_shape = SHAPE(struct summary_partition, partition_fields);

static const struct field worker_fields[] = {
    F(struct summary_worker, id, K_I64),
    F(struct summary_worker, processes, K_I64),
    F(struct summary_worker, partitions, K_I64),
    F(struct summary_worker, busy_s, K_SECONDS),
    F(struct summary_worker, cpu_user_s, K_SECONDS),
    F(struct summary_worker, cpu_system_s, K_SECONDS),
    F(struct summary_worker, max_rss_kib, K_U64),
};
static const struct shape worker_shape = SHAPE(struct summary_worker, worker_fields);

static const struct field totals_fields[] = {
    F(struct summary_totals, partitions, K_U64),
    F(struct summary_totals, partitions_written, K_U64),
    F(struct summary_totals, partitions_resumed, K_U64),
    F(struct summary_totals, retries, K_U64),
    F(struct summary_totals, skipped, K_U64),
    F(struct summary_totals, records_in, K_U64),
    F(struct summary_totals, records_out, K_U64),
    F(struct summary_totals, bytes_in, K_U64),
    F(struct summary_totals, bytes_out, K_U64),
};
static const struct shape totals_shape = SHAPE(struct summary_totals, totals_fields);

static const struct field rejects_fields[] = {
    F(struct summary_rejects, count, K_U64),
    F(struct summary_rejects, tsv, K_STRING),
    F(struct summary_rejects, bin, K_STRING),
};
static const struct shape rejects_shape = SHAPE(struct summary_rejects, rejects_fields);

static const struct field summary_fields[] = {
    F(struct summary, tranche, K_STRING),
    F(struct summary, job, K_STRING),
    F(struct summary, log_dir, K_STRING),
    F(struct summary, output, K_STRING),
    F(struct summary, status, K_STRING),
    F(struct summary, exit_status, K_I64),
    F(struct summary, error, K_STRING),
    F(struct summary, started_at, K_STRING),
    F(struct summary, wall_s, K_SECONDS),
    F(struct summary, cpu_user_s, K_SECONDS),
    F(struct summary, cpu_system_s, K_SECONDS),
    F(struct summary, n_workers, K_I64),
    ARR(struct summary, inputs, input_shape, n_inputs),
    OBJ(struct summary, totals, totals_shape),
    ARR(struct summary, steps, step_shape, n_steps),
    ARR(struct summary, retries, retry_shape, n_retries),
    OBJ(struct summary, rejects, rejects_shape),
    ARR(struct summary, partitions, partition_shape, n_partitions),
    ARR(struct summary, workers, worker_shape, n_workers_listed),
    F(struct summary, incomplete, K_BOOL),
};
static const struct shape summary_shape = SHAPE(struct summary, summary_fields);

/* The document being decoded and where its mistakes are reported. */
struct reader {
    yaml_document_t doc;
    const char *path;
    struct error *err;
};

static void *
member(void *base, size_t offset)
{
    return (char *)base + offset;
}

static void release_shape(const struct shape *shape, void *base);

/* Frees what one member holds and zeroes it (a key given twice: the last one wins). */
static void
release_field(const struct field *f, void *base)
{
    void *at = member(base, f->offset);

    if (f->kind == K_STRING) {
        char *s;

        memcpy(&s, at, sizeof(s));
        free(s);
        memset(at, 0, sizeof(s));
    } else if (f->kind == K_OBJECT) {
        release_shape(f->shape, at);
    } else if (f->kind == K_ARRAY) {
        char *array;
        size_t n, i;

        memcpy(&array, at, sizeof(array));
        memcpy(&n, member(base, f->count_offset), sizeof(n));
        for (i = 0; i < n; i++) {
            release_shape(f->shape, array + i * f->shape->size);
        }
        free(array);
        memset(at, 0, sizeof(array));
        memset(member(base, f->count_offset), 0, sizeof(n));
    }
}

static void
release_shape(const struct shape *shape, void *base)
{
    size_t i;

    for (i = 0; i < shape->n_fields; i++) {
        release_field(&shape->fields[i], base);
    }
}

static int
fail_at(struct reader *r, const yaml_node_t *node, const char *key, const char *expected)
{
    error_set(r->err, "%s:%zu:%zu: \"%s\": expected %s", r->path, node->start_mark.line + 1,
              node->start_mark.column + 1, key, expected);
    return ERR_INVALID;
}

static int
is_null(const yaml_node_t *node)
{
    return node->type == YAML_SCALAR_NODE && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           strcmp((const char *)node->data.scalar.value, "null") == 0;
}

/* A JSON number: a plain scalar that starts as one (strtod alone would take "nan" and "0x1p3"). */
static int
number_text(const yaml_node_t *node, const char **text)
{
    const char *v = (const char *)node->data.scalar.value;

    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return -1;
    }
    if (!((v[0] >= '0' && v[0] <= '9') || (v[0] == '-' && v[1] >= '0' && v[1] <= '9')) ||
        strpbrk(v, "xX") != NULL) {
        return -1;
    }
    *text = v;
    return 0;
}

/* An integer, also written as 5e3 or 5000.0 (a writer's printf("%g") would). */
static int
integer_value(const yaml_node_t *node, double min, double max, double *out)
{
    const char *text;
    char *end;
    double v;

    if (number_text(node, &text) != 0) {
        return -1;
    }
    errno = 0;
    v = strtod(text, &end);
    if (errno != 0 || *end != '\0' || v < min || v > max || (double)(int64_t)v != v) {
        return -1;
    }
    *out = v;
    return 0;
}

static int
text_is_digits(const yaml_node_t *node)
{
    const char *v = (const char *)node->data.scalar.value;

    return v[strspn(v, "0123456789")] == '\0';
}

static int
decode_scalar(struct reader *r, const struct field *f, const yaml_node_t *node, void *at)
{
    const char *text;
    double v;

    switch (f->kind) {
    case K_STRING:
        if (is_null(node)) {
            return 0;
        }
        if (node->type != YAML_SCALAR_NODE) {
            return fail_at(r, node, f->key, "a string");
        }
        *(char **)at = strndup((const char *)node->data.scalar.value, node->data.scalar.length);
        if (*(char **)at == NULL) {
            return error_set(r->err, "%s: out of memory", r->path);
        }
        return 0;
    case K_U64:
        if (is_null(node)) {
            return 0;
        }
        /* Digits alone are read by strtoull, exactly up to 2^64 - 1; 5e3 and 5000.0 through a
         * double, exact far beyond any count or size a summary holds. */
        if (number_text(node, &text) == 0 && text_is_digits(node)) {
            errno = 0;
            *(uint64_t *)at = strtoull(text, NULL, 10);
            return errno == 0 ? 0 : fail_at(r, node, f->key, "an integer below 2^64");
        }
        if (integer_value(node, 0, 9007199254740992.0, &v) != 0) {
            return fail_at(r, node, f->key, "an integer of 0 or more");
        }
        *(uint64_t *)at = (uint64_t)v;
        return 0;
    case K_I64:
        if (is_null(node)) {
            return 0;
        }
        if (integer_value(node, -9007199254740992.0, 9007199254740992.0, &v) != 0) {
            return fail_at(r, node, f->key, "an integer");
        }
        *(int64_t *)at = (int64_t)v;
        return 0;
    case K_SECONDS:
        if (is_null(node)) {
            *(double *)at = NAN;
            return 0;
        }
        if (number_text(node, &text) != 0 || !isfinite(v = strtod(text, NULL))) {
            return fail_at(r, node, f->key, "a number of seconds, or null");
        }
        *(double *)at = v;
        return 0;
    case K_BOOL:
        if (is_null(node)) {
            return 0;
        }
        if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
            (strcmp((const char *)node->data.scalar.value, "true") != 0 &&
             strcmp((const char *)node->data.scalar.value, "false") != 0)) {
            return fail_at(r, node, f->key, "true or false");
        }
        *(int *)at = strcmp((const char *)node->data.scalar.value, "true") == 0;
        return 0;
    default:
        return fail_at(r, node, f->key, "a value");
    }
}

static int decode_object(struct reader *r, const char *key, const yaml_node_t *node,
                         const struct shape *shape, void *base);

/* Times default to NaN (absent), the rest to zero. */
static void
set_defaults(const struct shape *shape, void *base)
{
    size_t i;

    memset(base, 0, shape->size);
    for (i = 0; i < shape->n_fields; i++) {
        if (shape->fields[i].kind == K_SECONDS) {
            *(double *)member(base, shape->fields[i].offset) = NAN;
        } else if (shape->fields[i].kind == K_OBJECT) {
            set_defaults(shape->fields[i].shape, member(base, shape->fields[i].offset));
        }
    }
}

/* A sequence of objects into a new array; the array and its count are stored as soon as it is
 * made, so that a failure part-way is released with the rest. */
static int
decode_array(struct reader *r, const struct field *f, const yaml_node_t *node, void *base)
{
    const yaml_node_item_t *item;
    size_t n, i;
    char *array;

    if (is_null(node)) {
        return 0;
    }
    if (node->type != YAML_SEQUENCE_NODE) {
        return fail_at(r, node, f->key, "a list");
    }
    n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    array = calloc(n > 0 ? n : 1, f->shape->size);
    if (array == NULL) {
        return error_set(r->err, "%s: out of memory", r->path);
    }
    memcpy(member(base, f->offset), &array, sizeof(array));
    for (i = 0, item = node->data.sequence.items.start; i < n; i++, item++) {
        void *element = array + i * f->shape->size;

        set_defaults(f->shape, element);
        memcpy(member(base, f->count_offset), (size_t[]){i + 1}, sizeof(size_t));
        if (decode_object(r, f->key, yaml_document_get_node(&r->doc, *item), f->shape, element) !=
            0) {
            return ERR_INVALID;
        }
    }
    return 0;
}

static int
decode_object(struct reader *r, const char *key, const yaml_node_t *node, const struct shape *shape,
              void *base)
{
    const yaml_node_pair_t *pair;

    if (node == NULL || node->type != YAML_MAPPING_NODE) {
        return node == NULL ? error_set(r->err, "%s: \"%s\" is missing", r->path, key)
                            : fail_at(r, node, key, "an object");
    }
    for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
        const yaml_node_t *k = yaml_document_get_node(&r->doc, pair->key);
        const yaml_node_t *v = yaml_document_get_node(&r->doc, pair->value);
        const struct field *f = NULL;
        size_t i;
        int rc;

        if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE) {
            return fail_at(r, k != NULL ? k : node, key, "string keys");
        }
        for (i = 0; i < shape->n_fields && f == NULL; i++) {
            if (strcmp((const char *)k->data.scalar.value, shape->fields[i].key) == 0) {
                f = &shape->fields[i];
            }
        }
        if (f == NULL) {
            continue;
        }
        release_field(f, base);
        if (f->kind == K_OBJECT) {
            set_defaults(f->shape, member(base, f->offset));
            rc = is_null(v) ? 0 : decode_object(r, f->key, v, f->shape, member(base, f->offset));
        } else if (f->kind == K_ARRAY) {
            rc = decode_array(r, f, v, base);
        } else {
            rc = decode_scalar(r, f, v, member(base, f->offset));
        }
        if (rc != 0) {
            return ERR_INVALID;
        }
    }
    return 0;
}

static int
hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            v |= (unsigned)((c | 0x20) - 'a' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

/*
 * JSON may write a character beyond U+FFFF as a pair of escaped UTF-16 surrogates
 * (\ud83d\ude00), which YAML's double-quoted escapes refuse: each pair inside a string becomes the
 * character's UTF-8 bytes, and a surrogate without its other half U+FFFD, before libyaml reads the
 * text. Rewritten in place (the bytes are fewer than the escapes); *len is updated.
 */
static void
join_surrogates(char *text, size_t *len)
{
    size_t r = 0, w = 0, n = *len;
    int in_string = 0;

    while (r < n) {
        unsigned hi, lo, c;

        if (!in_string || text[r] != '\\' || r + 1 >= n) {
            in_string ^= text[r] == '"';
            text[w++] = text[r++];
            continue;
        }
        if (text[r + 1] != 'u' || r + 6 > n || hex4(text + r + 2, &hi) != 0 || hi < 0xd800 ||
            hi > 0xdfff) {
            text[w++] = text[r++]; /* any other escape, copied whole */
            text[w++] = text[r++];
            continue;
        }
        r += 6;
        if (hi < 0xdc00 && r + 6 <= n && text[r] == '\\' && text[r + 1] == 'u' &&
            hex4(text + r + 2, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
            r += 6;
            c = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
            text[w++] = (char)(0xf0 | (c >> 18));
            text[w++] = (char)(0x80 | ((c >> 12) & 0x3f));
            text[w++] = (char)(0x80 | ((c >> 6) & 0x3f));
            text[w++] = (char)(0x80 | (c & 0x3f));
        } else {
            memcpy(text + w, "\xef\xbf\xbd", 3);
            w += 3;
        }
    }
    *len = w;
}

/* The whole file, malloc'd, in *text (set only on success). */
static int
read_whole(const char *path, char **text, size_t *len, struct error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, have = 0, got;
    int rc = ERR_INVALID;

    if (f == NULL) {
        error_errno(err, "%s", path);
        return ERR_INVALID;
    }
    do {
        if (GROW(buf, cap, have + 65536) != 0) {
            rc = error_set(err, "%s: out of memory", path);
            goto out;
        }
        got = fread(buf + have, 1, cap - have, f);
        have += got;
    } while (got > 0);
    if (ferror(f)) {
        error_errno(err, "%s: read error", path);
        goto out;
    }
    *text = buf;
    *len = have;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    fclose(f);
    return rc;
}

/* The parser's own message: where it stopped (line:column, or the byte for an encoding error),
 * what it found, and in what. */
static int
parse_error(const yaml_parser_t *parser, const char *path, struct error *err)
{
    const char *problem = parser->problem != NULL ? parser->problem : "not valid JSON";

    if (parser->error == YAML_READER_ERROR) {
        error_set(err, "%s: byte %zu: %s", path, parser->problem_offset, problem);
    } else if (parser->context != NULL) {
        error_set(err, "%s:%zu:%zu: %s %s (at %zu:%zu)", path, parser->problem_mark.line + 1,
                  parser->problem_mark.column + 1, problem, parser->context,
                  parser->context_mark.line + 1, parser->context_mark.column + 1);
    } else {
        error_set(err, "%s:%zu:%zu: %s", path, parser->problem_mark.line + 1,
                  parser->problem_mark.column + 1, problem);
    }
    return ERR_INVALID;
}

int
summary_load(const char *path, struct summary *s, struct error *err)
{
    struct reader r = {.path = path, .err = err};
    struct summary got;
    yaml_parser_t parser;
    int have_doc = 0;
    char *text = NULL;
    size_t len = 0;
    int rc = ERR_INVALID;

    set_defaults(&summary_shape, &got);
    if (read_whole(path, &text, &len, err) != 0) {
        return ERR_INVALID;
    }
    if (!yaml_parser_initialize(&parser)) {
        free(text);
        return error_set(err, "%s: out of memory", path);
    }
    join_surrogates(text, &len);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &r.doc)) {
        parse_error(&parser, path, err);
        goto out;
    }
    have_doc = 1;
    if (yaml_document_get_root_node(&r.doc) == NULL) {
        error_set(err, "%s: empty, not a tranche summary", path);
        goto out;
    }
    if (decode_object(&r, "summary", yaml_document_get_root_node(&r.doc), &summary_shape, &got) !=
        0) {
        goto out;
    }
    if (got.tranche == NULL) {
        error_set(err, "%s: not a tranche summary (it has no \"tranche\" version)", path);
        goto out;
    }
    *s = got;
    memset(&got, 0, sizeof(got));
    rc = 0;
out:
    release_shape(&summary_shape, &got);
    if (have_doc) {
        yaml_document_delete(&r.doc);
    }
    yaml_parser_delete(&parser);
    free(text);
    return rc;
}

void
summary_release(struct summary *s)
{
    release_shape(&summary_shape, s);
    memset(s, 0, sizeof(*s));
}
