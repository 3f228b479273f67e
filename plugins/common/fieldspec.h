/* plugins/common/fieldspec.h: field lists and field splitting shared by the cut, upper and lower
 * plugins: the `fields` syntax (cut(1)'s, plus ~N counted from the end) and the two ways a
 * record splits into fields (one delimiter byte, or awk's runs of blanks). */
#ifndef TRANCHE_PLUGINS_FIELDSPEC_H
#define TRANCHE_PLUGINS_FIELDSPEC_H

#include <stddef.h>

#include <tranche/plugin.h>

#include "csvfield.h"

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
    size_t tail;  /* > 0: every range lies within the last `tail` fields */
    struct field_run *runs;
    size_t n_runs;
};

/* How a record splits: on one byte, or on runs of blanks (space, tab) as awk's default FS. */
struct field_split {
    int blanks;
    char delimiter;
};

/* Reads the LIST option `option` into *spec; on failure reports (at the bad item, through
 * host->option_item_error where the host has it, naming the item and why) and returns
 * TRANCHE_ERROR, leaving *spec for field_spec_release(). */
int field_spec_parse(struct field_spec *spec, const struct tranche_host *host, tranche_ctx *ctx,
                     const char *option);

/*
 * field_spec_parse, where an item may also be a column name (cut with `format: csv`): an item
 * that does not begin with a digit, '~' or '-' is a name, the whole item (commas included), and
 * stands for the number of the first field of `header` with that value. `header` is the job's
 * header row split into fields, or NULL when the job has none: a name is then refused, saying
 * that names need `format: csv` and `header: true`. An unknown name is refused with the header's
 * columns listed.
 */
int field_spec_parse_columns(struct field_spec *spec, const struct tranche_host *host,
                             tranche_ctx *ctx, const char *option, const struct csv_fields *header);

/* Frees what field_spec_parse allocated and zeroes *spec. */
void field_spec_release(struct field_spec *spec);

/* The runs for a record of `n_fields` fields (ignored unless spec->from_end), sorted and merged;
 * *count is set. The array belongs to spec and is overwritten by the next call. */
const struct field_run *field_spec_resolve(struct field_spec *spec, size_t n_fields, size_t *count);

/* Reads the STRING option `option` ("whitespace", "\t", or one byte) into *out; otherwise reports
 * at the value (host->option_error where the host has it) and returns TRANCHE_ERROR. */
int field_split_option(struct field_split *out, const struct tranche_host *host, tranche_ctx *ctx,
                       const char *option);

/* Parses an output separator: any text, with "\t" read as a tab. Sets *out (borrowed from text or
 * a static string) and *len. */
void field_separator_parse(const char *text, const char **out, size_t *len);

/* The fields of one record, as spans of it. Safe on a zeroed struct; reused record after record. */
struct field_span {
    char *start;
    char *stop;
};

struct field_list {
    struct field_span *v;
    size_t n;
    size_t cap;
};

/* Fills l->v[0, l->n) with the fields of a record that `spec` can select: all of them, its first
 * few (up to the last field a run names), or only its last few (when every range counts from the
 * end, as ~1 or ~3-). Pass l->n to field_spec_resolve() and index l->v with the runs it returns.
 * With a delimiter byte, an empty record has one empty field; with blanks, it has none. Returns 0,
 * or -1 when out of memory. */
int field_list_fill(struct field_list *l, const struct field_spec *spec, struct field_split split,
                    char *data, size_t len);

void field_list_release(struct field_list *l);

/* The number of fields of a record split on one byte (memchr: faster than splitting). */
size_t field_count_delimited(char delimiter, const char *data, size_t len);

#endif
