/* plugins/common/rx.h: the regex engine the bundled grep and replace plugins share. A pattern is
 * POSIX ERE in GNU `grep -E`'s dialect, matched by PCRE2's JIT where the build found PCRE2
 * (TRANCHE_HAVE_PCRE2), else by glibc's regex. Compiled into each plugin that uses it: plugins
 * link against nothing of the core. Not safe to share between threads; safe after fork. */
#ifndef TRANCHE_PLUGINS_RX_H
#define TRANCHE_PLUGINS_RX_H

#include <stddef.h>

enum rx_flags {
    RX_ICASE = 1, /* ASCII letters match either case, like grep -i */
    RX_FIXED = 2, /* the pattern is a plain string (each line one string), like grep -F */
};

/* Groups \1..\9 are group[1..9]; group[0] is the whole match. An unset group is {-1, -1}. */
#define RX_GROUPS 10

struct rx_match {
    size_t start, end; /* the match is s[start, end) */
    size_t group[RX_GROUPS][2];
};

struct rx;

/*
 * Compiles pattern[0, len). Like grep, a newline separates alternatives (each line is a pattern of
 * its own: its back-references count its own groups). *out is set only on success, to be freed
 * with rx_free(); on failure why[0, why_len) says why, as a sentence without the pattern.
 */
int rx_new(const char *pattern, size_t len, int flags, struct rx **out, char *why, size_t why_len);

/* rx_free(NULL) is a no-op. */
void rx_free(struct rx *rx);

/* The number of capturing groups of the pattern (0 for a fixed one). */
size_t rx_group_count(const struct rx *rx);

/* 1 if s[0, len) holds a match, 0 if not, -1 if the engine gave up (rx_why() says why). */
int rx_test(struct rx *rx, const char *s, size_t len);

/*
 * The leftmost-longest match of s[0, len) that starts at `from` or later, as POSIX (and grep -o,
 * and sed) define it: of the matches that start first, the longest. s before `from` is context
 * (^ matches only at 0, \b and \< look back). Groups are filled only with want_groups. Returns 1
 * with *m set, 0 if there is none, -1 if the engine gave up (rx_why() says why).
 */
int rx_find(struct rx *rx, const char *s, size_t len, size_t from, int want_groups,
            struct rx_match *m);

/*
 * Walks the matches of one record in order, as sed's s///g and grep -o do: after a match the
 * search goes on at its end; an empty match is skipped right after a previous match (and
 * always when !allow_empty), the walk then moving one byte on. Zero the struct to start.
 */
struct rx_walk {
    size_t pos;      /* where the next search starts */
    size_t last_end; /* the end of the previous match, when any */
    int any;         /* whether there was a previous match */
};

/* The next match of the walk: 1 with *m set, 0 when there are no more, -1 as rx_find. */
int rx_next(struct rx *rx, const char *s, size_t len, struct rx_walk *walk, int allow_empty,
            int want_groups, struct rx_match *m);

/* Why the last call failed; valid until the next call on rx. */
const char *rx_why(const struct rx *rx);

/* The engine this copy was built with, e.g. "PCRE2 10.42 (JIT)" or "glibc regex". */
const char *rx_engine(void);

#endif
