/*
 * core/repro.h: the command that replays what one worker ran. A failure report of a worker ends
 * with `  reproduce: COMMAND`: the user's own command line, run from the same directory, without
 * what picks workers or the output (--workers, --output, --in-process, --partition), with
 * `--replay LIST` added: the partitions that worker was given, in the same order, up to the one
 * that failed, run in one process (so `gdb --args` works) to standard output. Every word is
 * quoted for a POSIX shell, so that the line can be pasted as printed.
 */
#ifndef TRANCHE_REPRO_H
#define TRANCHE_REPRO_H

#include <stddef.h>
#include <stdio.h>

struct repro {
    char **argv; /* the command's words ("run", options, the job file) in the order given */
    int argc;
    char *cwd;      /* where it ran; NULL when unknown */
    char *exe;      /* this binary; NULL when unknown ("tranche" is printed then) */
    int from_stdin; /* an input is standard input: a run cannot be replayed from it */
    int workers;    /* > 0: the line says --workers N (a stream is cut as N workers cut it) */
    int index_off;  /* the line says --set input.index=off: a gzip input this run decoded as a
                     * stream is decoded as one again, not through the index the run left */
    char *line;     /* set by repro_set: the command, or why there is none */
};

/* Copies argv[0..argc) (before getopt reorders it) and notes the directory and the binary.
 * Returns 0, or -1 when out of memory. */
int repro_init(struct repro *rp, int argc, char *const *argv);

/* Frees what repro_init and repro_set made; safe on a zeroed struct, leaves it zeroed. */
void repro_release(struct repro *rp);

/* Sets rp->line to the command replaying partitions list[0..n) (or, for an input on standard
 * input, to a sentence saying that it cannot be replayed). Returns 0, or -1 when out of memory
 * (rp->line is NULL then). */
int repro_set(struct repro *rp, const size_t *list, size_t n);

/* Writes list[0..n) as --replay takes it: comma-separated indexes, runs of three or more
 * consecutive ones as FIRST-LAST. */
void repro_write_list(FILE *f, const size_t *list, size_t n);

/* Parses a --replay LIST (indexes and FIRST-LAST ranges, comma-separated) into *out (malloc'd)
 * and *n. Returns 0, or -1 with err naming the offending item. */
struct error;
int repro_parse_list(const char *text, size_t **out, size_t *n, struct error *err);

#endif
