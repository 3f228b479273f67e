/* plugins/common/fieldspec.h: field lists and field splitting shared by the cut, upper and lower
 * plugins: the `fields` syntax (cut(1)'s, plus ~N counted from the end) and the two ways a
 * record splits into fields (one delimiter byte, or awk's runs of blanks). */
#ifndef TRANCHE_PLUGINS_FIELDSPEC_H
#define TRANCHE_PLUGINS_FIELDSPEC_H

#include <stddef.h>

#include <tranche/plugin.h>

/* One end of a range: field n (1-based), counted from the start, or from the end (~n). */
struct field_bound {
    size_t n;
    int from_end;
};

/* A range as written; last.n is SIZE_MAX (from the start) for "to the end". */
struct field_range {
    struct field_bound first;
    struct field_bound last;
};

/* A range of field numbers resolved for one record: 1-based, inclusive, first <= last. */
struct field_run {
    size_t first;
    size_t last;
};

/*
 * The parsed `fields` option. `runs` holds the ranges resolved, sorted and merged (with a gap of
 * at least one field between neighbours): once at parse time when no bound counts from the end,
 * else for each record by field_spec_resolve(). Safe on a zeroed struct.
 */
struct field_spec {
    struct field_range *ranges;
    size_t count;
    int from_end; /* some bound counts from the end: runs depend on the record's field count */
    struct field_run *runs;
    size_t n_runs;
};

/* How a record splits: on one byte, or on runs of blanks (space, tab) as awk's default FS. */
struct field_split {
    int blanks;
    char delimiter;
};

/* Reads the LIST option `option` into *spec; on failure reports through host->error (naming the
 * item and why) and returns TRANCHE_ERROR, leaving *spec for field_spec_release(). */
int field_spec_parse(struct field_spec *spec, const struct tranche_host *host, tranche_ctx *ctx,
                     const char *option);

/* Frees what field_spec_parse allocated and zeroes *spec. */
void field_spec_release(struct field_spec *spec);

/* The runs for a record of `n_fields` fields (ignored unless spec->from_end), sorted and merged;
 * *count is set. The array belongs to spec and is overwritten by the next call. */
const struct field_run *field_spec_resolve(struct field_spec *spec, size_t n_fields, size_t *count);

/* Reads the STRING option `option` ("whitespace", "\t", or one byte) into *out; otherwise reports
 * through host->error and returns TRANCHE_ERROR. */
int field_split_option(struct field_split *out, const struct tranche_host *host, tranche_ctx *ctx,
                       const char *option);

/* Parses an output separator: any text, with "\t" read as a tab. Sets *out (borrowed from text or
 * a static string) and *len. */
void field_separator_parse(const char *text, const char **out, size_t *len);

/* Walks the fields of one record in order. */
struct field_iter {
    const char *p;
    const char *end;
    struct field_split split;
    int done;
};

void field_iter_init(struct field_iter *it, struct field_split split, const char *data, size_t len);

/* Sets [*start, *stop) to the next field and returns 1, or returns 0 after the last field. With
 * a delimiter byte, an empty record has one empty field; with blanks, it has none. */
int field_iter_next(struct field_iter *it, const char **start, const char **stop);

/* The number of fields of a record, as field_iter_next() would walk them. */
size_t field_count(struct field_split split, const char *data, size_t len);

#endif
