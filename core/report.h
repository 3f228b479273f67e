/*
 * core/report.h: the run report, one self-contained HTML page (inline CSS and SVG, no script, no
 * network) made from a run's summary.json and rejects.tsv: what `tranche report` writes.
 */
#ifndef TRANCHE_REPORT_H
#define TRANCHE_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "summary.h"

/* How many skipped records the report lists; it counts the rest. */
#define REPORT_REJECTS_SHOWN 100

/* One line of rejects.tsv, its fields as text: input, offset, length, partition, step, and the
 * reason (the rest of the line, tabs and all). */
struct report_reject {
    char *field[6];
};

/* The first rows of rejects.tsv and how many more it has. */
struct report_rejects {
    int present; /* the file was there */
    struct report_reject *rows;
    size_t n, cap;
    uint64_t more;
};

/*
 * Reads up to `keep` rows of the rejects file at `path` into *out (zeroed by the caller; release
 * it with report_rejects_release) and counts the rest; lines starting with '#' are the header.
 * A file that is not there leaves *out empty and is not an error; one that cannot be read is
 * ERR_FAILED, naming it.
 */
int report_rejects_load(const char *path, size_t keep, struct report_rejects *out,
                        struct error *err);

/* Frees the rows. Safe on a zeroed struct, leaves it zeroed. */
void report_rejects_release(struct report_rejects *r);

/*
 * Writes the whole page to f: header (job, status, times, counts, error), the per-worker
 * timeline and the throughput (SVG), the slowest partitions, steps, workers, retries, skipped
 * records and inputs. Every text from the summary is HTML-escaped. `source` (the summary's path)
 * is named in the footer. Returns 0, or ERR_FAILED when f reports an error (err says so).
 */
int report_write_html(FILE *f, const struct summary *s, const struct report_rejects *rejects,
                      const char *source, struct error *err);

#endif
