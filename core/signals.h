/*
 * core/signals.h: the signals that stop tranche cleanly (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1,
 * SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGXCPU, SIGPWR, SIGIO: every one that ends a process by
 * default and comes from outside), defined once for the job runner and for `tranche index`. Their
 * handler only notes the signal; the code that waits checks the note, stops its children and
 * removes what it made. Those ignored when tranche started stay ignored (nohup).
 */
#ifndef TRANCHE_SIGNALS_H
#define TRANCHE_SIGNALS_H

#include <signal.h>
#include <stddef.h>

/* The stop signal caught since signals_catch(), or 0. */
extern volatile sig_atomic_t signals_caught;

#define SIGNALS_N_STOP 12

/* The handlers in place before signals_catch(), for signals_restore(). */
struct signals_saved {
    struct sigaction stop[SIGNALS_N_STOP];
    struct sigaction pipe;
};

/* At start, before anything else: notes which stop signals were ignored, ignores SIGXFSZ (a file
 * size limit is then EFBIG from write, reported), and makes SIGCHLD default (children stay
 * waitable). */
void signals_init(void);

/* Fills *set with the stop signals. */
void signals_stop_set(sigset_t *set);

/* Catches the stop signals (clearing signals_caught). With ignore_pipe, also ignores SIGPIPE, so
 * that a closed standard output comes back as EPIPE from write instead of killing the process. */
void signals_catch(struct signals_saved *saved, int ignore_pipe);

/* Puts back what signals_catch() replaced. */
void signals_restore(const struct signals_saved *saved);

/* In a forked child: the stop signals back to their default action (they kill it), SIGPIPE
 * still ignored. */
void signals_child_default(void);

/* "INT" for SIGINT: the abbreviation messages use. */
const char *signals_name(int sig);

/* How a child ended, from waitpid's status: "killed by signal SIGSEGV (Segmentation fault)",
 * "exited with status 3". */
void signals_describe_status(int status, char *buf, size_t size);

#endif
