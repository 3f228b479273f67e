/* plugins/count/count.c: the `count` aggregator: records per key, with exact sums, minimums and
 * maximums of numeric fields. Map: a hash table per partition, emitted as text partials (at the
 * partition's end, or early when it outgrows the memory limit). Combine: the partials folded into
 * one table, spilled as sorted runs beyond the limit and merged at the end, output sorted by key.
 *
 * Numbers are decimal fixed point (10^9 units in an __int128), so totals are exact and the same
 * for any partitioning; see README.md for the rules. With `format: csv`, fields are CSV fields
 * (columns may be named by the header), a key is kept as its fields written as CSV, and the
 * output is CSV with a header row of its own. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <tranche/plugin.h>

#include "../common/bytebuf.h"
#include "../common/csvfield.h"
#include "../common/opterr.h"

#define SCALE 1000000000 /* units per 1: nine decimals */
#define MAX_FIELD 65535  /* the highest field number an option may name */
#define MAX_VALUES 64    /* sum + min + max fields, at most */
#define MERGE_FANIN 16   /* runs merged at once */

typedef __int128 num;
#define NUM_MAX ((num)(((unsigned __int128)1 << 127) - 1))
#define NUM_MIN (-NUM_MAX - 1)
/* "no value yet" of a minimum and of a maximum: no parsed number reaches either */
#define MIN_NONE NUM_MAX
#define MAX_NONE NUM_MIN

/* What a key field or value field is: where the record scan stores it. */
enum value_kind { V_SUM, V_MIN, V_MAX };

/* One key with its totals, in the arena: `v` holds the sums, then the minimums, then the
 * maximums; the key's bytes follow them. */
struct entry {
    uint64_t count;
    size_t key_len;
    num v[];
};

struct slot {
    uint64_t hash;
    struct entry *e; /* NULL: empty */
};

/* Chunks of memory entries are cut from; emptied all at once. */
struct chunk {
    struct chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

struct table {
    struct slot *slots;
    size_t cap, n;
    struct chunk *chunks;
    size_t chunk_size;  /* of an ordinary chunk */
    size_t arena_bytes; /* every chunk's size */
};

struct span {
    const char *p;
    size_t n;
};

struct count_state {
    /* options */
    char delim;
    size_t n_key, n_values, n_sum, n_min, n_max;
    size_t key_fields[MAX_VALUES];
    size_t value_fields[MAX_VALUES];
    enum value_kind value_kind[MAX_VALUES];
    int has_key;
    size_t last_field;                   /* the highest field any option names (0: none) */
    unsigned char key_named[MAX_VALUES]; /* whether the option named the field by its column */
    unsigned char value_named[MAX_VALUES];

    /* format: csv. The output separates fields by `delim` (else by tabs) and quotes them. */
    int csv;
    char quote;
    struct csv_fields cells;         /* the current row's fields, unescaped in place */
    char *header;                    /* a copy of the header row, split into header_fields */
    struct csv_fields header_fields; /* (header == NULL: the job has no header) */
    struct bytebuf cell;             /* one output value, before it is quoted */

    int combine;    /* the combine phase */
    uint64_t limit; /* bytes the table may hold */
    const char *temp_dir;

    struct table t;
    struct span *fields; /* [1, last_field] of the current record */
    struct bytebuf key;  /* a key of several fields, joined */
    struct bytebuf out;  /* the record being emitted */
    num values[MAX_VALUES];

    char **runs; /* sorted run files (combine) */
    size_t n_runs, cap_runs;
    unsigned run_seq;
};

static const struct tranche_host *host;

static const struct tranche_option count_options[] = {
    {"key", TRANCHE_OPT_LIST, NULL, 0,
     "fields that make the key (1-based, like cut -f, or column names with format: csv and "
     "header: true), joined by the delimiter; none: one total"},
    {"delimiter", TRANCHE_OPT_STRING, NULL, 0,
     "field separator: one byte (\\t, \\n, \\r, \\\\, \\0 or \\xHH escapes); default \\t, "
     "with format: csv the input's separator"},
    {"sum", TRANCHE_OPT_LIST, NULL, 0, "numeric fields to total per key"},
    {"min", TRANCHE_OPT_LIST, NULL, 0, "numeric fields whose minimum to report per key"},
    {"max", TRANCHE_OPT_LIST, NULL, 0, "numeric fields whose maximum to report per key"},
    {NULL, 0, NULL, 0, NULL},
};

/* ---- numbers ------------------------------------------------------------------------------- */

enum parse_result { P_OK, P_NONE, P_NOT_NUMBER, P_EXPONENT, P_DECIMALS, P_RANGE };

static const char *const parse_messages[] = {
    "",
    "",
    "is not a number",
    "has an exponent (write the number out)",
    "has more than 9 decimal places",
    "is out of range (beyond 1.7e29)",
};

/*
 * Parses [+-]digits[.digits] (either side of the point may be empty, not both) into 10^-9
 * units. Empty and "-" are P_NONE: no value (the Common Log Format's "-"). At most nine decimals
 * may be non-zero; the magnitude must fit an __int128 in those units.
 */
static enum parse_result
parse_num(const char *p, size_t n, num *out)
{
    const char *end = p + n;
    int neg = 0, digits = 0, decimals = 0;
    unsigned __int128 ip = 0;
    uint64_t frac = 0;
    unsigned __int128 v;

    if (n == 0 || (n == 1 && p[0] == '-')) {
        return P_NONE;
    }
    if (n <= 18) {
        /* the usual case, a plain whole number, in 64 bits */
        uint64_t small = 0;
        size_t k = 0;

        while (k < n && (unsigned)(p[k] - '0') < 10) {
            small = small * 10 + (unsigned)(p[k++] - '0');
        }
        if (k == n) {
            *out = (num)small * SCALE;
            return P_OK;
        }
    }
    if (*p == '+' || *p == '-') {
        neg = *p++ == '-';
    }
    for (; p < end && (unsigned)(*p - '0') < 10; p++, digits++) {
        ip = ip * 10 + (unsigned)(*p - '0');
        if (ip > (unsigned __int128)NUM_MAX / SCALE) {
            return P_RANGE;
        }
    }
    if (p < end && *p == '.') {
        for (p++; p < end && (unsigned)(*p - '0') < 10; p++, digits++) {
            if (decimals < 9) {
                frac = frac * 10 + (unsigned)(*p - '0');
                decimals++;
            } else if (*p != '0') {
                return P_DECIMALS;
            }
        }
    }
    if (digits == 0) {
        return P_NOT_NUMBER;
    }
    if (p < end) {
        return (*p == 'e' || *p == 'E') ? P_EXPONENT : P_NOT_NUMBER;
    }
    for (; decimals < 9; decimals++) {
        frac *= 10;
    }
    v = ip * SCALE + frac;
    if (v > (unsigned __int128)NUM_MAX) {
        return P_RANGE;
    }
    *out = neg ? -(num)v : (num)v;
    return P_OK;
}

/* Writes v as decimal, without trailing zeros after the point (none for a whole number). */
static int
format_num(struct bytebuf *b, num v)
{
    char buf[64];
    char *p = buf + sizeof(buf);
    unsigned __int128 m = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    uint64_t frac = (uint64_t)(m % SCALE);
    unsigned __int128 ip = m / SCALE;

    if (frac != 0) {
        int d = 9;

        while (frac % 10 == 0) {
            frac /= 10;
            d--;
        }
        while (d-- > 0) {
            *--p = (char)('0' + frac % 10);
            frac /= 10;
        }
        *--p = '.';
    }
    do {
        *--p = (char)('0' + (int)(ip % 10));
        ip /= 10;
    } while (ip != 0);
    if (v < 0) {
        *--p = '-';
    }
    return bytebuf_append(b, p, (size_t)(buf + sizeof(buf) - p));
}

/* ---- the table ----------------------------------------------------------------------------- */

static inline uint64_t
load64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t
load32(const unsigned char *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t
mix(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;

    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* A multiply-fold hash in the manner of wyhash: 16 bytes per step, short keys in one or two
 * loads. */
static uint64_t
hash_bytes(const void *data, size_t n)
{
    const unsigned char *p = data;
    const uint64_t k1 = 0xa0761d6478bd642fULL, k2 = 0xe7037ed1a0b428dbULL;
    uint64_t h = 0x8ebc6af09c88c6e3ULL ^ n, a, b;

    if (n <= 16) {
        if (n >= 8) {
            a = load64(p);
            b = load64(p + n - 8);
        } else if (n >= 4) {
            a = load32(p);
            b = load32(p + n - 4);
        } else if (n > 0) {
            a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = n;

        while (i > 16) {
            h = mix(load64(p) ^ k1, load64(p + 8) ^ h);
            p += 16;
            i -= 16;
        }
        a = load64(p + i - 16);
        b = load64(p + i - 8);
    }
    return mix(a ^ k2 ^ h, b ^ k1 ^ n) ^ h;
}

static size_t
entry_size(size_t n_values, size_t key_len)
{
    return (sizeof(struct entry) + n_values * sizeof(num) + key_len + 15) & ~(size_t)15;
}

static const char *
entry_key(const struct entry *e, size_t n_values)
{
    return (const char *)(e->v + n_values);
}

static uint64_t
table_bytes(const struct table *t)
{
    return t->arena_bytes + t->cap * sizeof(struct slot);
}

/* Empties the table, keeping one chunk and, unless it is large, the slot array. */
static void
table_clear(struct table *t, uint64_t limit)
{
    struct chunk *c = t->chunks;

    while (c != NULL && c->next != NULL) {
        struct chunk *next = c->next;

        t->arena_bytes -= c->size;
        free(c);
        c = next;
        t->chunks = c;
    }
    if (c != NULL) {
        if (c->size > t->chunk_size) {
            t->arena_bytes -= c->size;
            free(c);
            t->chunks = NULL;
        } else {
            c->used = 0;
        }
    }
    if (t->cap > 64 && t->cap * sizeof(struct slot) > limit / 4) {
        free(t->slots);
        t->slots = NULL;
        t->cap = 0;
    } else if (t->slots != NULL) {
        memset(t->slots, 0, t->cap * sizeof(struct slot));
    }
    t->n = 0;
}

static void
table_release(struct table *t)
{
    table_clear(t, 0);
    free(t->chunks);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

static void *
arena_alloc(struct table *t, size_t size)
{
    struct chunk *c = t->chunks;

    if (c == NULL || c->size - c->used < size) {
        size_t csize = size > t->chunk_size ? size : t->chunk_size;

        c = malloc(sizeof(struct chunk) + csize);
        if (c == NULL) {
            return NULL;
        }
        c->size = csize;
        c->used = 0;
        c->next = t->chunks;
        t->chunks = c;
        t->arena_bytes += csize;
    }
    c->used += size;
    return c->data + c->used - size;
}

static int
table_grow(struct table *t)
{
    size_t cap = t->cap == 0 ? 64 : t->cap * 2;
    struct slot *slots = calloc(cap, sizeof(*slots));

    if (slots == NULL) {
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].e != NULL) {
            size_t j = t->slots[i].hash & (cap - 1);

            while (slots[j].e != NULL) {
                j = (j + 1) & (cap - 1);
            }
            slots[j] = t->slots[i];
        }
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

static void
init_values(num *v, const struct count_state *s)
{
    size_t i = 0;

    for (; i < s->n_sum; i++) {
        v[i] = 0;
    }
    for (; i < s->n_sum + s->n_min; i++) {
        v[i] = MIN_NONE;
    }
    for (; i < s->n_values; i++) {
        v[i] = MAX_NONE;
    }
}

/* The entry of a key, added (count 0, values at their start) when new; NULL when out of
 * memory. */
static struct entry *
table_find(struct count_state *s, const char *key, size_t len)
{
    struct table *t = &s->t;
    uint64_t h = hash_bytes(key, len);
    struct entry *e;
    size_t i;

    if (t->n * 2 >= t->cap && table_grow(t) != 0) {
        return NULL;
    }
    for (i = h & (t->cap - 1); t->slots[i].e != NULL; i = (i + 1) & (t->cap - 1)) {
        e = t->slots[i].e;
        if (t->slots[i].hash == h && e->key_len == len &&
            memcmp(entry_key(e, s->n_values), key, len) == 0) {
            return e;
        }
    }
    e = arena_alloc(t, entry_size(s->n_values, len));
    if (e == NULL) {
        return NULL;
    }
    e->count = 0;
    e->key_len = len;
    init_values(e->v, s);
    if (len > 0) {
        memcpy(e->v + s->n_values, key, len);
    }
    t->slots[i].hash = h;
    t->slots[i].e = e;
    t->n++;
    return e;
}

/* Adds count and values (sums, then minimums, then maximums) into e; -1 when a sum overflows. */
static int
fold(const struct count_state *s, struct entry *e, uint64_t count, const num *v)
{
    size_t i = 0;

    for (; i < s->n_sum; i++) {
        if (__builtin_add_overflow(e->v[i], v[i], &e->v[i])) {
            return -1;
        }
    }
    for (; i < s->n_sum + s->n_min; i++) {
        if (v[i] < e->v[i]) {
            e->v[i] = v[i];
        }
    }
    for (; i < s->n_values; i++) {
        if (v[i] > e->v[i]) {
            e->v[i] = v[i];
        }
    }
    e->count += count;
    return 0;
}

static int
compare_entries(const void *a, const void *b, size_t n_values)
{
    const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = n > 0 ? memcmp(entry_key(x, n_values), entry_key(y, n_values), n) : 0;

    if (c != 0) {
        return c;
    }
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* qsort has no context argument: the sort sets this first (one sort at a time per process) */
static size_t sort_n_values;

static int
compare_for_qsort(const void *a, const void *b)
{
    return compare_entries(a, b, sort_n_values);
}

/* The table's entries sorted by key (an array the caller frees), or NULL when out of memory. */
static struct entry **
table_sorted(struct count_state *s)
{
    struct entry **v = malloc((s->t.n > 0 ? s->t.n : 1) * sizeof(*v));
    size_t k = 0;

    if (v == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < s->t.cap; i++) {
        if (s->t.slots[i].e != NULL) {
            v[k++] = s->t.slots[i].e;
        }
    }
    sort_n_values = s->n_values;
    qsort(v, k, sizeof(*v), compare_for_qsort);
    return v;
}

/* ---- output -------------------------------------------------------------------------------- */

/* A value as the output shows it: a minimum or maximum that never got one is empty. */
static int
format_value(struct bytebuf *b, const struct count_state *s, size_t i, num v)
{
    if ((i >= s->n_sum && i < s->n_sum + s->n_min && v == MIN_NONE) ||
        (i >= s->n_sum + s->n_min && v == MAX_NONE)) {
        return 0;
    }
    return format_num(b, v);
}

static int
format_count(struct bytebuf *b, uint64_t count)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)count);

    return bytebuf_append(b, buf, (size_t)n);
}

/* A partial record (map's output, combine's input): COUNT<TAB>VALUE...<TAB>KEY, every value
 * written as the output writes it, the key last and as it is, so that it may hold any byte. */
static int
emit_partial(struct count_state *s, tranche_ctx *ctx, const struct entry *e)
{
    struct bytebuf *b = &s->out;

    b->len = 0;
    if (format_count(b, e->count) != 0) {
        return host->error(ctx, "out of memory");
    }
    for (size_t i = 0; i < s->n_values; i++) {
        if (bytebuf_append(b, "\t", 1) != 0 || format_value(b, s, i, e->v[i]) != 0) {
            return host->error(ctx, "out of memory");
        }
    }
    if (bytebuf_append(b, "\t", 1) != 0 ||
        bytebuf_append(b, entry_key(e, s->n_values), e->key_len) != 0) {
        return host->error(ctx, "out of memory");
    }
    return host->emit(ctx, b->data, b->len);
}

/* A final record in CSV: the key is CSV already; each number is quoted if the separator or the
 * quote could be one of its bytes (a separator '.', say). */
static int
emit_final_csv(struct count_state *s, tranche_ctx *ctx, const char *key, size_t key_len,
               uint64_t count, const num *v)
{
    struct bytebuf *b = &s->out;

    b->len = 0;
    if (s->has_key &&
        (bytebuf_append(b, key, key_len) != 0 || bytebuf_append(b, &s->delim, 1) != 0)) {
        return host->error(ctx, "out of memory");
    }
    for (size_t i = 0; i <= s->n_values; i++) {
        s->cell.len = 0;
        if ((i > 0 && bytebuf_append(b, &s->delim, 1) != 0) ||
            (i == 0 ? format_count(&s->cell, count) : format_value(&s->cell, s, i - 1, v[i - 1])) !=
                0 ||
            csv_append_field(b, s->cell.data, s->cell.len, s->quote, &s->delim, 1) != 0) {
            return host->error(ctx, "out of memory");
        }
    }
    return host->emit(ctx, b->data, b->len);
}

/* A final record: [KEY<TAB>]COUNT[<TAB>VALUE...]. */
static int
emit_final(struct count_state *s, tranche_ctx *ctx, const char *key, size_t key_len, uint64_t count,
           const num *v)
{
    struct bytebuf *b = &s->out;

    if (s->csv) {
        return emit_final_csv(s, ctx, key, key_len, count, v);
    }
    b->len = 0;
    if (s->has_key && (bytebuf_append(b, key, key_len) != 0 || bytebuf_append(b, "\t", 1) != 0)) {
        return host->error(ctx, "out of memory");
    }
    if (format_count(b, count) != 0) {
        return host->error(ctx, "out of memory");
    }
    for (size_t i = 0; i < s->n_values; i++) {
        if (bytebuf_append(b, "\t", 1) != 0 || format_value(b, s, i, v[i]) != 0) {
            return host->error(ctx, "out of memory");
        }
    }
    return host->emit(ctx, b->data, b->len);
}

/* Map: every entry as a partial record, then an empty table. */
static int
flush_partials(struct count_state *s, tranche_ctx *ctx)
{
    for (size_t i = 0; i < s->t.cap; i++) {
        if (s->t.slots[i].e != NULL && emit_partial(s, ctx, s->t.slots[i].e) != TRANCHE_OK) {
            return TRANCHE_ERROR;
        }
    }
    table_clear(&s->t, s->limit);
    return TRANCHE_OK;
}

/* ---- sorted runs (combine) ----------------------------------------------------------------- */

/*
 * A run file holds entries sorted by key, each as: key length and count (two uint64_t), the
 * values (n_values __int128, host byte order: a run never leaves the process), the key.
 */
static int
write_entry(FILE *f, const struct count_state *s, size_t key_len, uint64_t count, const num *v,
            const char *key)
{
    uint64_t head[2] = {key_len, count};

    return fwrite(head, sizeof(head), 1, f) == 1 &&
                   (s->n_values == 0 || fwrite(v, sizeof(num), s->n_values, f) == s->n_values) &&
                   (key_len == 0 || fwrite(key, 1, key_len, f) == key_len)
               ? 0
               : -1;
}

/* A new run file path, added to s->runs; NULL when out of memory. */
static const char *
new_run_path(struct count_state *s)
{
    char *path;
    size_t n = strlen(s->temp_dir) + 32;

    if (s->n_runs == s->cap_runs) {
        size_t cap = s->cap_runs == 0 ? 16 : s->cap_runs * 2;
        char **runs = realloc(s->runs, cap * sizeof(*runs));

        if (runs == NULL) {
            return NULL;
        }
        s->runs = runs;
        s->cap_runs = cap;
    }
    path = malloc(n);
    if (path == NULL) {
        return NULL;
    }
    snprintf(path, n, "%s/count-run-%u", s->temp_dir, s->run_seq++);
    s->runs[s->n_runs++] = path;
    return path;
}

static int
close_run(FILE *f, const char *path, tranche_ctx *ctx)
{
    if (ferror(f) || fclose(f) != 0) {
        return host->error(ctx, "writing %s: %s", path, strerror(errno ? errno : EIO));
    }
    return TRANCHE_OK;
}

/* Writes the table as a sorted run and empties it. */
static int
spill(struct count_state *s, tranche_ctx *ctx)
{
    struct entry **v;
    const char *path;
    FILE *f;

    /* asked for here, not in init(): the first spill is when it is needed */
    if (s->temp_dir == NULL && (s->temp_dir = host->temp_dir(ctx)) == NULL) {
        return host->error(ctx, "no temporary directory to spill to (host->temp_dir)");
    }
    v = table_sorted(s);
    path = v != NULL ? new_run_path(s) : NULL;
    if (path == NULL) {
        free(v);
        return host->error(ctx, "out of memory");
    }
    f = fopen(path, "wbx");
    if (f == NULL) {
        free(v);
        return host->error(ctx, "creating %s: %s", path, strerror(errno));
    }
    for (size_t i = 0; i < s->t.n; i++) {
        if (write_entry(f, s, v[i]->key_len, v[i]->count, v[i]->v, entry_key(v[i], s->n_values)) !=
            0) {
            break;
        }
    }
    free(v);
    if (close_run(f, path, ctx) != TRANCHE_OK) {
        return TRANCHE_ERROR;
    }
    host->log(ctx, TRANCHE_LOG_DEBUG, "spilled %zu keys to %s", s->t.n, path);
    table_clear(&s->t, s->limit);
    return TRANCHE_OK;
}

/* One run being merged: its file and its current entry. */
struct run_reader {
    FILE *f;
    struct bytebuf key;
    uint64_t count;
    num v[MAX_VALUES];
};

/* Reads the reader's next entry: 1, or 0 at the end of the run, or -1 on a read error. */
static int
reader_next(struct run_reader *r, size_t n_values)
{
    uint64_t head[2];

    if (fread(head, sizeof(head), 1, r->f) != 1) {
        return ferror(r->f) ? -1 : 0;
    }
    r->count = head[1];
    r->key.len = 0;
    if ((n_values > 0 && fread(r->v, sizeof(num), n_values, r->f) != n_values) ||
        bytebuf_reserve(&r->key, head[0] + 1) != 0 ||
        (head[0] > 0 && fread(r->key.data, 1, head[0], r->f) != head[0])) {
        return -1;
    }
    r->key.len = head[0];
    return 1;
}

static int
reader_less(const struct run_reader *a, const struct run_reader *b)
{
    size_t n = a->key.len < b->key.len ? a->key.len : b->key.len;
    int c = n > 0 ? memcmp(a->key.data, b->key.data, n) : 0;

    return c != 0 ? c < 0 : a->key.len < b->key.len;
}

static void
sift_down(struct run_reader **heap, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;

        if (l < n && reader_less(heap[l], heap[m])) {
            m = l;
        }
        if (l + 1 < n && reader_less(heap[l + 1], heap[m])) {
            m = l + 1;
        }
        if (m == i) {
            return;
        }
        struct run_reader *x = heap[i];
        heap[i] = heap[m];
        heap[m] = x;
        i = m;
    }
}

/*
 * Merges runs[first, first + n) in key order, folding equal keys: into a new run file when `out`
 * is not NULL, else as the job's output. The merged runs are removed.
 */
static int
merge_runs(struct count_state *s, tranche_ctx *ctx, size_t first, size_t n, FILE *out)
{
    struct run_reader readers[MERGE_FANIN];
    struct run_reader *heap[MERGE_FANIN];
    struct entry *acc = NULL;
    size_t acc_cap = 0, live = 0;
    int rc = TRANCHE_ERROR;

    memset(readers, 0, sizeof(readers));
    for (size_t i = 0; i < n; i++) {
        int got;

        readers[i].f = fopen(s->runs[first + i], "rb");
        if (readers[i].f == NULL) {
            host->error(ctx, "opening %s: %s", s->runs[first + i], strerror(errno));
            goto out;
        }
        got = reader_next(&readers[i], s->n_values);
        if (got < 0) {
            host->error(ctx, "reading %s: damaged run", s->runs[first + i]);
            goto out;
        }
        if (got > 0) {
            heap[live++] = &readers[i];
        }
    }
    for (size_t i = live; i-- > 0;) {
        sift_down(heap, live, i);
    }
    while (live > 0) {
        struct run_reader *r = heap[0];
        size_t need = entry_size(s->n_values, r->key.len);
        int got;

        /* the entry being accumulated: a copy of the smallest key, folded with its equals */
        if (need > acc_cap) {
            free(acc);
            acc = malloc(need);
            acc_cap = need;
            if (acc == NULL) {
                host->error(ctx, "out of memory");
                goto out;
            }
        }
        acc->count = 0;
        acc->key_len = r->key.len;
        init_values(acc->v, s);
        memcpy(acc->v + s->n_values, r->key.data, r->key.len);
        while (live > 0 && heap[0]->key.len == acc->key_len &&
               memcmp(heap[0]->key.data, entry_key(acc, s->n_values), acc->key_len) == 0) {
            r = heap[0];
            if (fold(s, acc, r->count, r->v) != 0) {
                host->error(ctx, "a sum overflows (beyond 1.7e29)");
                goto out;
            }
            got = reader_next(r, s->n_values);
            if (got < 0) {
                host->error(ctx, "reading a run: damaged");
                goto out;
            }
            if (got == 0) {
                heap[0] = heap[--live];
            }
            sift_down(heap, live, 0);
        }
        if (out != NULL) {
            if (write_entry(out, s, acc->key_len, acc->count, acc->v,
                            entry_key(acc, s->n_values)) != 0) {
                host->error(ctx, "writing a run: %s", strerror(errno ? errno : EIO));
                goto out;
            }
        } else if (emit_final(s, ctx, entry_key(acc, s->n_values), acc->key_len, acc->count,
                              acc->v) != TRANCHE_OK) {
            goto out;
        }
    }
    rc = TRANCHE_OK;
out:
    free(acc);
    for (size_t i = 0; i < n; i++) {
        if (readers[i].f != NULL) {
            fclose(readers[i].f);
        }
        bytebuf_release(&readers[i].key);
        unlink(s->runs[first + i]);
    }
    return rc;
}

/* Merges runs, MERGE_FANIN at a time into new runs, until one merge can emit the output. */
static int
merge_all(struct count_state *s, tranche_ctx *ctx)
{
    size_t done = 0;

    while (s->n_runs - done > MERGE_FANIN) {
        const char *path = new_run_path(s);
        FILE *f;

        if (path == NULL) {
            return host->error(ctx, "out of memory");
        }
        f = fopen(path, "wbx");
        if (f == NULL) {
            return host->error(ctx, "creating %s: %s", path, strerror(errno));
        }
        if (merge_runs(s, ctx, done, MERGE_FANIN, f) != TRANCHE_OK) {
            fclose(f);
            return TRANCHE_ERROR;
        }
        if (close_run(f, path, ctx) != TRANCHE_OK) {
            return TRANCHE_ERROR;
        }
        done += MERGE_FANIN;
    }
    return merge_runs(s, ctx, done, s->n_runs - done, NULL);
}

/* ---- options ------------------------------------------------------------------------------- */

/* Reads the delimiter: one byte, or one of the escapes \t \n \r \\ \0 \xHH; a tab when not
 * given. */
static int
parse_delimiter(tranche_ctx *ctx, char *out)
{
    const char *t = host->opt_string(ctx, "delimiter");
    size_t n = t != NULL ? strlen(t) : 0;

    if (t == NULL) {
        *out = '\t';
        return TRANCHE_OK;
    }
    if (n == 1) {
        *out = t[0];
        return TRANCHE_OK;
    }
    if (n == 2 && t[0] == '\\') {
        const char *from = "tnr\\0", *to = "\t\n\r\\\0";
        const char *at = strchr(from, t[1]);

        if (at != NULL && t[1] != '\0') {
            *out = to[at - from];
            return TRANCHE_OK;
        }
    }
    if (n == 4 && t[0] == '\\' && t[1] == 'x') {
        char *end;
        unsigned long v = strtoul(t + 2, &end, 16);

        if (*end == '\0' && t[2] != '+' && t[2] != '-' && t[2] != ' ') {
            *out = (char)v;
            return TRANCHE_OK;
        }
    }
    return PLUGIN_OPTION_ERROR(host, ctx, "delimiter",
                               "delimiter must be one byte or an escape (\\t, \\n, \\r, \\\\, \\0, "
                               "\\xHH), got '%s'",
                               t != NULL ? t : "");
}

/*
 * CSV: the separator and quote are the input's, and `delimiter`, if given, must be that
 * separator. The header row, when the job has one, is split once here so that the options may
 * name its columns (in every phase: the combine phase's header row needs the names too).
 */
static int
csv_options(struct count_state *s, tranche_ctx *ctx, const struct tranche_format *format)
{
    const char *header = NULL;
    size_t header_len = 0;

    if (host->opt_string(ctx, "delimiter") != NULL) {
        char given;

        if (parse_delimiter(ctx, &given) != TRANCHE_OK) {
            return TRANCHE_ERROR;
        }
        if (given != format->delimiter[0]) {
            return PLUGIN_OPTION_ERROR(host, ctx, "delimiter",
                                       "with format: csv, fields are split on the input's "
                                       "separator '%c': leave delimiter out, or give that one",
                                       format->delimiter[0]);
        }
    }
    s->delim = format->delimiter[0];
    s->quote = (char)format->quote;
    if (TRANCHE_HOST_HAS(host, header)) {
        header = host->header(ctx, &header_len);
    }
    if (header == NULL) {
        return TRANCHE_OK;
    }
    s->header = malloc(header_len + 1);
    if (s->header == NULL) {
        return host->error(ctx, "out of memory");
    }
    memcpy(s->header, header, header_len + 1);
    if (csv_split(&s->header_fields, s->delim, s->quote, s->header, header_len, SIZE_MAX) != 0) {
        return host->error(ctx, "out of memory");
    }
    return TRANCHE_OK;
}

static int
is_column_name(const char *item)
{
    return item[0] != '\0' && !(item[0] >= '0' && item[0] <= '9') && item[0] != '-' &&
           item[0] != '+';
}

/* The field number of column `item` of the header, or 0 when it has none (reported). */
static size_t
find_column(struct count_state *s, tranche_ctx *ctx, const char *name, size_t index,
            const char *item)
{
    struct bytebuf list = {0};
    size_t v;

    if (s->header == NULL) {
        PLUGIN_OPTION_ITEM_ERROR(host, ctx, name, index,
                                 "a field is a number from 1 to %d (1-based, as cut numbers "
                                 "them), or a column name where the input has `format: csv` "
                                 "and `header: true`, got '%s'",
                                 MAX_FIELD, item);
        return 0;
    }
    v = csv_column_find(&s->header_fields, item, strlen(item));
    if (v > MAX_FIELD) {
        PLUGIN_OPTION_ITEM_ERROR(host, ctx, name, index,
                                 "column '%s' is field %zu: count reads fields 1 to %d", item, v,
                                 MAX_FIELD);
        return 0;
    }
    if (v == 0) {
        if (csv_column_list(&list, &s->header_fields) != 0) {
            host->error(ctx, "out of memory");
        } else {
            PLUGIN_OPTION_ITEM_ERROR(host, ctx, name, index,
                                     "no column '%s' in the header (its columns: %s)", item,
                                     list.data);
        }
        bytebuf_release(&list);
    }
    return v;
}

/* Reads LIST option `name` as field numbers (or column names) into out[*n...], and whether each
 * was named into named[*n...]. */
static int
parse_fields(struct count_state *s, tranche_ctx *ctx, const char *name, size_t *out,
             unsigned char *named, size_t *n, size_t room)
{
    size_t items = host->opt_list_len(ctx, name);

    for (size_t i = 0; i < items; i++) {
        const char *item = host->opt_list_item(ctx, name, i);
        char *end;
        unsigned long long v;

        if (*n == room) {
            return PLUGIN_OPTION_ITEM_ERROR(host, ctx, name, i,
                                            "too many fields: at most %d key fields, and %d sum, "
                                            "min and max fields together",
                                            MAX_VALUES, MAX_VALUES);
        }
        if (is_column_name(item)) {
            size_t column = find_column(s, ctx, name, i, item);

            if (column == 0) {
                return TRANCHE_ERROR;
            }
            named[*n] = 1;
            out[(*n)++] = column;
            continue;
        }
        errno = 0;
        v = (item[0] >= '0' && item[0] <= '9') ? strtoull(item, &end, 10) : 0;
        if (v == 0 || *end != '\0' || errno != 0 || v > MAX_FIELD) {
            return PLUGIN_OPTION_ITEM_ERROR(host, ctx, name, i,
                                            "a field is a number from 1 to %d (1-based, as cut "
                                            "numbers them), got '%s'",
                                            MAX_FIELD, item);
        }
        named[*n] = 0;
        out[(*n)++] = (size_t)v;
    }
    return TRANCHE_OK;
}

static int
parse_values(struct count_state *s, tranche_ctx *ctx, const char *name, enum value_kind kind,
             size_t *count)
{
    size_t before = s->n_values;

    if (parse_fields(s, ctx, name, s->value_fields, s->value_named, &s->n_values, MAX_VALUES) !=
        TRANCHE_OK) {
        return TRANCHE_ERROR;
    }
    for (size_t i = before; i < s->n_values; i++) {
        s->value_kind[i] = kind;
    }
    *count = s->n_values - before;
    return TRANCHE_OK;
}

/* ---- callbacks ----------------------------------------------------------------------------- */

static void
count_fini(void *state)
{
    struct count_state *s = state;

    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n_runs; i++) {
        unlink(s->runs[i]); /* (after a failure: a merged run is gone already) */
        free(s->runs[i]);
    }
    free(s->runs);
    table_release(&s->t);
    free(s->fields);
    bytebuf_release(&s->key);
    bytebuf_release(&s->out);
    bytebuf_release(&s->cell);
    csv_fields_release(&s->cells);
    csv_fields_release(&s->header_fields);
    free(s->header);
    free(s);
}

static int
count_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    const struct tranche_format *format = NULL;
    struct count_state *s;

    host = h;
    if (!TRANCHE_HOST_HAS(host, temp_dir)) {
        return host->error(ctx, "count is an aggregator: it needs a host of ABI 1.2 or later");
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return host->error(ctx, "out of memory");
    }
    if (TRANCHE_HOST_HAS(host, format)) {
        format = host->format(ctx);
    }
    s->csv = format != NULL && format->kind == TRANCHE_FORMAT_CSV && format->delimiter_len == 1;
    if ((s->csv ? csv_options(s, ctx, format) : parse_delimiter(ctx, &s->delim)) != TRANCHE_OK ||
        parse_fields(s, ctx, "key", s->key_fields, s->key_named, &s->n_key, MAX_VALUES) !=
            TRANCHE_OK ||
        parse_values(s, ctx, "sum", V_SUM, &s->n_sum) != TRANCHE_OK ||
        parse_values(s, ctx, "min", V_MIN, &s->n_min) != TRANCHE_OK ||
        parse_values(s, ctx, "max", V_MAX, &s->n_max) != TRANCHE_OK) {
        goto fail;
    }
    s->has_key = s->n_key > 0;
    for (size_t i = 0; i < s->n_key; i++) {
        s->last_field = s->key_fields[i] > s->last_field ? s->key_fields[i] : s->last_field;
    }
    for (size_t i = 0; i < s->n_values; i++) {
        s->last_field = s->value_fields[i] > s->last_field ? s->value_fields[i] : s->last_field;
    }
    if (host->is_option_check(ctx)) {
        *state = s;
        return TRANCHE_OK;
    }
    s->combine = host->phase(ctx) == TRANCHE_PHASE_COMBINE;
    s->limit = host->memory_limit(ctx);
    if (s->limit == 0) {
        s->limit = UINT64_MAX;
    }
    /* chunks small against the limit, so that a tiny limit still holds a few keys */
    s->t.chunk_size = s->limit / 16 < (1 << 20) ? (size_t)(s->limit / 16) : (1 << 20);
    if (s->t.chunk_size < 1024) {
        s->t.chunk_size = 1024;
    }
    s->fields = calloc(s->last_field + 1, sizeof(*s->fields));
    if (s->fields == NULL) {
        host->error(ctx, "out of memory");
        goto fail;
    }
    *state = s;
    return TRANCHE_OK;
fail:
    count_fini(s);
    return TRANCHE_ERROR;
}

static int
count_begin_partition(void *state, tranche_ctx *ctx)
{
    struct count_state *s = state;

    (void)ctx;
    table_clear(&s->t, s->limit);
    return TRANCHE_OK;
}

/* One bit (the high bit of its byte) for each byte of w equal to the delimiter: exact, since no
 * carry crosses a byte ((b & 0x7f) + 0x7f < 0x100). */
static inline uint64_t
delimiter_bits(uint64_t w, uint64_t pattern)
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
    uint64_t x = w ^ pattern;

    return ~(((x & low7) + low7) | x | low7);
}

/* Ends field *f at data[at] (a delimiter); 1 when it was the last field needed. */
static inline int
field_ends(struct count_state *s, const char *data, size_t at, size_t *f, size_t *start)
{
    s->fields[*f].p = data + *start;
    s->fields[*f].n = at - *start;
    *start = at + 1;
    return ++*f > s->last_field;
}

/*
 * Splits the record up to the last field needed; fields past its end are empty. Sixteen bytes at
 * a time (SSE2) or eight (a word), every delimiter of a block taken from its bit mask: the fields
 * before a key are short (an access log's ninth field starts about 100 bytes in), where a memchr
 * call per field costs more than the scan itself.
 */
static void
split_fields(struct count_state *s, const char *data, size_t len)
{
    const uint64_t pattern = 0x0101010101010101ULL * (unsigned char)s->delim;
    size_t f = 1, start = 0, i = 0;

    if (s->last_field == 0) {
        return;
    }
#ifdef __SSE2__
    const __m128i d = _mm_set1_epi8(s->delim);

    for (; i + 16 <= len; i += 16) {
        __m128i block = _mm_loadu_si128((const __m128i *)(const void *)(data + i));
        unsigned bits = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(block, d));

        for (; bits != 0; bits &= bits - 1) {
            if (field_ends(s, data, i + (size_t)__builtin_ctz(bits), &f, &start)) {
                return;
            }
        }
    }
#endif
    for (; i + 8 <= len; i += 8) {
        uint64_t bits = delimiter_bits(load64((const unsigned char *)data + i), pattern);

        for (; bits != 0; bits &= bits - 1) {
            if (field_ends(s, data, i + ((size_t)__builtin_ctzll(bits) >> 3), &f, &start)) {
                return;
            }
        }
    }
    for (; i < len; i++) {
        if (data[i] == s->delim && field_ends(s, data, i, &f, &start)) {
            return;
        }
    }
    s->fields[f].p = data + start;
    s->fields[f].n = len - start;
    for (f++; f <= s->last_field; f++) {
        s->fields[f].p = data + len;
        s->fields[f].n = 0;
    }
}

/* Folds count and s->values into the key's entry; past the limit, `relieve` empties the table
 * (map: emits it as partials; combine: spills it as a sorted run). */
static int
add(struct count_state *s, tranche_ctx *ctx, const char *key, size_t len, uint64_t count,
    int (*relieve)(struct count_state *, tranche_ctx *))
{
    const struct table *t = &s->t;
    struct entry *e;

    /* a table about to double holds both slot arrays for a moment: relieve it first if that
     * would pass the limit */
    if (t->n > 0 && t->n * 2 >= t->cap &&
        t->arena_bytes + 3 * t->cap * sizeof(struct slot) > s->limit &&
        relieve(s, ctx) != TRANCHE_OK) {
        return TRANCHE_ERROR;
    }
    e = table_find(s, key, len);
    if (e == NULL) {
        return host->error(ctx, "out of memory");
    }
    if (fold(s, e, count, s->values) != 0) {
        return host->error(ctx, "a sum overflows (beyond 1.7e29)");
    }
    if (table_bytes(&s->t) > s->limit) {
        return relieve(s, ctx);
    }
    return TRANCHE_OK;
}

/* A CSV row: its fields up to the last one needed, unescaped; fields past its end are empty. */
static int
split_csv_fields(struct count_state *s, char *data, size_t len)
{
    if (s->last_field == 0) {
        return 0;
    }
    if (csv_split(&s->cells, s->delim, s->quote, data, len, s->last_field) != 0) {
        return -1;
    }
    for (size_t f = 1; f <= s->last_field; f++) {
        s->fields[f] = f <= s->cells.n ? (struct span){s->cells.v[f - 1].p, s->cells.v[f - 1].n}
                                       : (struct span){"", 0};
    }
    return 0;
}

/* A CSV key: its fields written as the output writes them (quoted where needed, separated by
 * the separator), so that a key of several fields is one string without ambiguity, and the
 * output's key columns are that string as it is. */
static int
csv_key(struct count_state *s)
{
    s->key.len = 0;
    for (size_t i = 0; i < s->n_key; i++) {
        const struct span *f = &s->fields[s->key_fields[i]];

        if ((i > 0 && bytebuf_append(&s->key, &s->delim, 1) != 0) ||
            csv_append_field(&s->key, f->p, f->n, s->quote, &s->delim, 1) != 0) {
            return -1;
        }
    }
    return 0;
}

static const char *const kind_names[] = {"sum", "min", "max"};

static int
count_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct count_state *s = state;
    const char *key = "";
    size_t key_len = 0;

    if (!s->csv) {
        split_fields(s, data, len);
    } else if (split_csv_fields(s, data, len) != 0) {
        return host->error(ctx, "out of memory");
    }
    for (size_t i = 0; i < s->n_values; i++) {
        const struct span *f = &s->fields[s->value_fields[i]];
        enum parse_result r = parse_num(f->p, f->n, &s->values[i]);

        if (r == P_NONE) {
            s->values[i] = s->value_kind[i] == V_SUM   ? 0
                           : s->value_kind[i] == V_MIN ? MIN_NONE
                                                       : MAX_NONE;
        } else if (r != P_OK) {
            return host->error(ctx, "%s field %zu: '%.*s' %s", kind_names[s->value_kind[i]],
                               s->value_fields[i], f->n > 64 ? 64 : (int)f->n, f->p,
                               parse_messages[r]);
        }
    }
    if (s->csv && s->n_key > 0) {
        if (csv_key(s) != 0) {
            return host->error(ctx, "out of memory");
        }
        key = s->key.data;
        key_len = s->key.len;
    } else if (s->n_key == 1) {
        key = s->fields[s->key_fields[0]].p;
        key_len = s->fields[s->key_fields[0]].n;
    } else if (s->n_key > 1) {
        s->key.len = 0;
        for (size_t i = 0; i < s->n_key; i++) {
            const struct span *f = &s->fields[s->key_fields[i]];

            if ((i > 0 && bytebuf_append(&s->key, &s->delim, 1) != 0) ||
                bytebuf_append(&s->key, f->p, f->n) != 0) {
                return host->error(ctx, "out of memory");
            }
        }
        key = s->key.data;
        key_len = s->key.len;
    }
    return add(s, ctx, key, key_len, 1, flush_partials);
}

static int
count_end_partition(void *state, tranche_ctx *ctx)
{
    return flush_partials(state, ctx);
}

/* Folds one partial record (see emit_partial) into the table; spills beyond the limit. */
static int
count_combine(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct count_state *s = state;
    const char *p = data, *end = data + len;
    uint64_t count = 0;
    num v = 0;

    for (size_t i = 0; i <= s->n_values; i++) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        enum parse_result r = tab != NULL ? parse_num(p, (size_t)(tab - p), &v) : P_NOT_NUMBER;

        /* only a minimum or maximum may be empty (none yet) */
        if (r == P_NONE && i > 0 && s->value_kind[i - 1] != V_SUM) {
            v = s->value_kind[i - 1] == V_MIN ? MIN_NONE : MAX_NONE;
        } else if (r != P_OK) {
            return host->error(ctx, "not a partial record of count with these options: '%.*s'",
                               len > 64 ? 64 : (int)len, data);
        }
        if (i == 0) {
            count = (uint64_t)(v / SCALE);
        } else {
            s->values[i - 1] = v;
        }
        p = tab + 1;
    }
    return add(s, ctx, p, (size_t)(end - p), count, spill);
}

/* Appends one column name of the output's header: the input header's name of field `field`
 * when `by_name` (or, for a key, when the header has that field), else the field's number. */
static int
header_name(struct count_state *s, const char *prefix, size_t field, int by_name)
{
    char number[32];

    s->cell.len = 0;
    if (bytebuf_append(&s->cell, prefix, strlen(prefix)) != 0) {
        return -1;
    }
    if (by_name && field <= s->header_fields.n) {
        const struct csv_span *f = &s->header_fields.v[field - 1];

        return bytebuf_append(&s->cell, f->p, f->n);
    }
    snprintf(number, sizeof(number), "%zu", field);
    return bytebuf_append(&s->cell, number, strlen(number));
}

/*
 * The output's header row (combine phase, before the first partial): the key's columns by their
 * names in the input's header, `count`, then sum_NAME, min_NAME and max_NAME in the order the
 * values come, NAME being the column's name where the option named it, else its number. Nothing
 * when the job has no header.
 */
static int
count_header(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    struct count_state *s = state;
    struct bytebuf *b = &s->out;

    (void)data;
    (void)len;
    if (!s->csv || s->header == NULL) {
        return TRANCHE_OK;
    }
    b->len = 0;
    for (size_t i = 0; i < s->n_key + 1 + s->n_values; i++) {
        int rc;

        if (i < s->n_key) {
            rc = header_name(s, "", s->key_fields[i], 1);
        } else if (i == s->n_key) {
            s->cell.len = 0;
            rc = bytebuf_append(&s->cell, "count", 5);
        } else {
            size_t v = i - s->n_key - 1;
            char prefix[8];

            snprintf(prefix, sizeof(prefix), "%s_", kind_names[s->value_kind[v]]);
            rc = header_name(s, prefix, s->value_fields[v], s->value_named[v]);
        }
        if (rc != 0 || (i > 0 && bytebuf_append(b, &s->delim, 1) != 0) ||
            csv_append_field(b, s->cell.data, s->cell.len, s->quote, &s->delim, 1) != 0) {
            return host->error(ctx, "out of memory");
        }
    }
    return host->emit(ctx, b->data, b->len);
}

static int
count_combine_end(void *state, tranche_ctx *ctx)
{
    struct count_state *s = state;
    struct entry **v;
    int rc = TRANCHE_OK;

    if (s->n_runs > 0) {
        if (s->t.n > 0 && spill(s, ctx) != TRANCHE_OK) {
            return TRANCHE_ERROR;
        }
        table_release(&s->t);
        return merge_all(s, ctx);
    }
    if (!s->has_key && s->t.n == 0) {
        num zero[MAX_VALUES];

        init_values(zero, s);
        return emit_final(s, ctx, "", 0, 0, zero);
    }
    v = table_sorted(s);
    if (v == NULL) {
        return host->error(ctx, "out of memory");
    }
    for (size_t i = 0; i < s->t.n && rc == TRANCHE_OK; i++) {
        rc = emit_final(s, ctx, entry_key(v[i], s->n_values), v[i]->key_len, v[i]->count, v[i]->v);
    }
    free(v);
    return rc;
}

TRANCHE_PLUGIN = {
    TRANCHE_PLUGIN_ABI,
    .name = "count",
    .version = "1.1",
    .description = "aggregator: records per key, with exact sums, minimums and maximums, sorted "
                   "by key (like awk '{c[$k]++; s[$k]+=$v}' | LC_ALL=C sort)",
    .options = count_options,
    .init = count_init,
    .record = count_record,
    .end_partition = count_end_partition,
    .fini = count_fini,
    .begin_partition = count_begin_partition,
    .combine = count_combine,
    .combine_end = count_combine_end,
    .header = count_header,
};
