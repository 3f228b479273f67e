/* tests/support/testutil.h: small helpers shared by the test binaries (temp dirs, files, commands).
 */
#ifndef TRANCHE_TESTUTIL_H
#define TRANCHE_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Creates a fresh directory under $TMPDIR (or /tmp) and returns its malloc'd path (the caller
 * frees it). Aborts the test on failure. */
char *tu_mkdtemp(void);

/* The scratch directory of the running test group: made by tu_group_setup, removed with all it
 * holds by tu_group_teardown (CMocka group fixtures). */
extern char *tu_dir;
int tu_group_setup(void **state);
int tu_group_teardown(void **state);

/* Removes a directory tree (rm -rf). */
void tu_rmrf(const char *path);

/* Writes len bytes to path, aborting on failure. */
void tu_write_file(const char *path, const void *data, size_t len);

/* Reads a whole file into a malloc'd buffer (NUL-terminated beyond *len); NULL if unreadable. */
char *tu_read_file(const char *path, size_t *len);

/* Runs a shell command (sh -c), returns its exit status (0-255), or 128+signal if killed. The
 * command's stderr is captured to `stderr_out` (malloc'd, may be NULL) when that is not NULL. */
int tu_run(const char *command, char **stderr_out);

/* tu_run with a printf-style command. */
int tu_runf(char **stderr_out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 1 if two files have the same bytes, else 0 (prints where they differ to stderr). */
int tu_files_equal(const char *a, const char *b);

/* The pid of a process (other than this one) with `arg` as one of its arguments, or 0. */
int tu_process_with_arg(const char *arg);

/* 1 if the path exists. */
int tu_exists(const char *path);

/* The next number of a splitmix64 sequence whose state is *state. */
uint64_t tu_rand(uint64_t *state);

/*
 * Writes an input of about `size` bytes built to hit the edges: short and empty records, records
 * of 1 KB to 60 KB (longer than small partitions), tabs and commas, CRLF ends, and optionally NUL
 * bytes and a last record without its newline. The same calls give the same bytes (a fixed seed).
 */
void tu_write_edge_input(const char *path, size_t size, int with_nul, int unterminated);

/* Runs a shell command (in dir, when not NULL) and fails the test, with the command and its
 * stderr, unless it exits with `expect`. The body of each test file's sh(). */
void tu_vsh(const char *dir, int expect, const char *fmt, va_list ap);

/* tu_vsh in the test group's directory tu_dir. */
void tu_sh(int expect, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs a printf-style shell command in tu_dir; its exit status, its stderr in *err (when not
 * NULL), as tu_run. */
int tu_run_here(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs `tranche ARGS` (TRANCHE_BIN, printf-style arguments) in tu_dir, as tu_run_here. */
int tu_tranche(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fails the test, showing the haystack, unless needle is in it (NULL is never). */
void tu_assert_contains(const char *haystack, const char *needle);

/* Writes the job file tu_dir/FILE from a printf-style text; returns its path (static buffer,
 * valid until the next call). */
const char *tu_write_job(const char *file, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* dir/name in a static buffer (one of four used in turn, so that a few may be used in one call);
 * aborts when the path is too long. */
const char *tu_join(const char *dir, const char *name);

/*
 * Whether to run the next case of a repetitive loop (the same check over many partition sizes,
 * worker counts, patterns): always, except under the sanitizers (TRANCHE_SANITIZED), where each
 * run of tranche costs several times more and one case in TU_THIN_EVERY runs, chosen by a
 * running count so that successive loops (and successive fixtures in one loop) run different
 * cases. The plain build runs every case; the sanitizers see every code path the loop reaches.
 */
#define TU_THIN_EVERY 3
int tu_thin(void);

/* Seconds since t0 (CLOCK_MONOTONIC). */
struct timespec;
double tu_seconds_since(const struct timespec *t0);

/*
 * Shell functions for commands that wait for a state, never for a time: put TU_SH_WAIT in front
 * of a command given to tu_run, tu_runf or tu_vsh (it ends with ';').
 *   tu_wait_for SECONDS 'COMMAND'  evaluates COMMAND every 10 ms until it succeeds; status 1
 *                                  if it has not after about SECONDS (a bound, never a delay)
 *   tu_reap PID SECONDS            waits for the background job PID and returns its status; if
 *                                  it has not ended after about SECONDS, kills it and its
 *                                  children with SIGKILL (its workers would outlive it: they
 *                                  do not die with their parent) and returns 124
 *   tu_state PID                   prints the process state letter (R, S, D, Z...), or nothing
 *                                  once it is gone (the shell may have collected it already)
 *   tu_count 'GLOB'                prints how many paths match GLOB
 *   tu_exists 'GLOB'               succeeds when a path matches GLOB
 * The text is a printf format's (tu_runf, tu_vsh): it holds no '%'.
 */
#define TU_SH_WAIT                                                                                 \
    "tu_wait_for() { _tu_n=$(($1 * 100)); shift; until eval \"$*\"; do "                           \
    "_tu_n=$((_tu_n - 1)); [ $_tu_n -gt 0 ] || return 1; sleep 0.01; done; }; "                    \
    "tu_state() { sed 's/.*) //' /proc/$1/stat 2>/dev/null | cut -c1; }; "                         \
    "tu_kill_children() { for _tu_s in /proc/[0-9]*/stat; do "                                     \
    "case \"$(cut -d' ' -f4 $_tu_s 2>/dev/null)\" in \"$1\") "                                     \
    "kill -KILL $(cut -d' ' -f1 $_tu_s) 2>/dev/null;; esac; done; }; "                             \
    "tu_reap() { _tu_n=$(($2 * 100)); while [ -n \"$(tu_state $1)\" ] && "                         \
    "[ \"$(tu_state $1)\" != Z ]; do _tu_n=$((_tu_n - 1)); if [ $_tu_n -le 0 ]; then "             \
    "echo \"tu_reap: pid $1 still running after $2 s, killed\" >&2; "                              \
    "tu_kill_children $1; kill -KILL $1 2>/dev/null; wait $1; return 124; fi; sleep 0.01; done; "  \
    "wait $1; }; "                                                                                 \
    "tu_count() { set -- $1; if [ -e \"$1\" ]; then echo $#; else echo 0; fi; }; "                 \
    "tu_exists() { set -- $1; [ -e \"$1\" ]; }; "

/*
 * A shell function that succeeds when directory $1 holds nothing a failed run must not leave:
 * nothing at all, but the work a run that wrote partitions keeps for --resume (an
 * OUTPUT.tranche-work that holds exactly its manifest and output.partial). Put it in front of a
 * command as TU_SH_WAIT is; the text holds no '%'.
 */
#define TU_SH_NO_DEBRIS                                                                            \
    "tu_no_debris() { for _tu_e in $(ls -A \"$1\"); do case $_tu_e in *.tranche-work) "            \
    "[ \"$(ls -A \"$1/$_tu_e\" | sort | tr '\\n' ' ')\" = 'manifest output.partial ' ] || "        \
    "return 1;; *) return 1;; esac; done; }; "

/* What a gzip member written by tu_gzip_member carries. */
struct tu_member {
    int extra, name, comment, hcrc; /* the optional header fields */
    int bad_hcrc;                   /* a header CRC that does not match */
    int level;                      /* 1-9; 0: 6 */
    size_t flush_every;             /* > 0: deflate(flush) every so many bytes */
    int flush;                      /* that flush: Z_FULL_FLUSH, Z_SYNC_FLUSH, Z_BLOCK ... */
    int sync_then_finish;           /* the data with sync flushes, then an empty final block */
};

/* Appends one gzip member holding data[0, len) to f, its header built byte by byte (so that
 * tests have every optional field, and members zlib's own writers would not make). */
void tu_gzip_member(FILE *f, const void *data, size_t len, const struct tu_member *o);

struct framing;

/* Lines cut at one byte, as a framing (core/framing.h) for the unit tests of the planners: one
 * static framing, changed by each call. */
const struct framing *tu_lines_of(unsigned char delimiter);

#endif
