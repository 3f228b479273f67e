/*
 * core/signals.c: catching, blocking and naming the stop signals. A signal that was ignored when
 * tranche started (nohup, a shell's `trap '' HUP`) stays ignored: the caller wanted it so.
 */
#include "signals.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

/* Every signal whose default action ends the process and that comes from outside (a user, a
 * limit, a timer): not those a fault raises (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS),
 * which a handler could not return from. */
static const int stop_signals[] = {SIGINT,  SIGTERM,   SIGHUP,  SIGQUIT, SIGUSR1, SIGUSR2,
                                   SIGALRM, SIGVTALRM, SIGPROF, SIGXCPU, SIGPWR,  SIGIO};
#define N_STOP (sizeof(stop_signals) / sizeof(stop_signals[0]))

_Static_assert(N_STOP == SIGNALS_N_STOP, "signals_saved holds every stop signal");

volatile sig_atomic_t signals_caught;

static void
on_signal(int sig)
{
    signals_caught = sig;
}

/* Whether sig was ignored when tranche started (before any signals_catch). */
static int
ignored_at_start(int sig)
{
    static int known;
    static sigset_t ignored;
    struct sigaction old;
    size_t i;

    if (!known) {
        sigemptyset(&ignored);
        for (i = 0; i < N_STOP; i++) {
            if (sigaction(stop_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) {
                sigaddset(&ignored, stop_signals[i]);
            }
        }
        known = 1;
    }
    return sigismember(&ignored, sig) == 1;
}

void
signals_init(void)
{
    struct sigaction sa;

    (void)ignored_at_start(SIGINT);
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    /* A file size limit makes write() fail with EFBIG, reported with the file's name, instead of
     * killing tranche with its temporary files left behind. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &sa, NULL);
    /* Children must stay waitable: with SIGCHLD ignored they would be reaped by the kernel and
     * a worker's death would read as a clean exit. */
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
}

void
signals_stop_set(sigset_t *set)
{
    size_t i;

    sigemptyset(set);
    for (i = 0; i < N_STOP; i++) {
        sigaddset(set, stop_signals[i]);
    }
}

void
signals_catch(struct signals_saved *saved, int ignore_pipe)
{
    struct sigaction sa;
    size_t i;

    signals_caught = 0;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < N_STOP; i++) {
        sa.sa_handler = ignored_at_start(stop_signals[i]) ? SIG_IGN : on_signal;
        sigaction(stop_signals[i], &sa, &saved->stop[i]);
    }
    sa.sa_handler = ignore_pipe ? SIG_IGN : SIG_DFL;
    sigaction(SIGPIPE, ignore_pipe ? &sa : NULL, &saved->pipe);
}

void
signals_restore(const struct signals_saved *saved)
{
    size_t i;

    for (i = 0; i < N_STOP; i++) {
        sigaction(stop_signals[i], &saved->stop[i], NULL);
    }
    sigaction(SIGPIPE, &saved->pipe, NULL);
}

void
signals_child_default(void)
{
    size_t i;

    for (i = 0; i < N_STOP; i++) {
        signal(stop_signals[i], ignored_at_start(stop_signals[i]) ? SIG_IGN : SIG_DFL);
    }
    signal(SIGPIPE, SIG_IGN);
}

const char *
signals_name(int sig)
{
    const char *abbrev = sigabbrev_np(sig);

    return abbrev != NULL ? abbrev : "?";
}

void
signals_describe_status(int status, char *buf, size_t size)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(buf, size, "killed by signal SIG%s (%s)%s", signals_name(sig), strsignal(sig),
                 WCOREDUMP(status) ? ", core dumped" : "");
    } else if (WIFEXITED(status)) {
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    } else {
        snprintf(buf, size, "stopped unexpectedly (status %#x)", status);
    }
}
