/* core/signals.c: catching, blocking and naming the stop signals. */
#include "signals.h"

#include <string.h>

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define N_STOP (sizeof(stop_signals) / sizeof(stop_signals[0]))

volatile sig_atomic_t signals_caught;

static void
on_signal(int sig)
{
    signals_caught = sig;
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
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < N_STOP; i++) {
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
        signal(stop_signals[i], SIG_DFL);
    }
    signal(SIGPIPE, SIG_IGN);
}

int
signals_pending_stop(void)
{
    sigset_t pending;
    size_t i;
    int found = 0;

    if (sigpending(&pending) != 0) {
        return 0;
    }
    for (i = 0; i < N_STOP; i++) {
        if (sigismember(&pending, stop_signals[i])) {
            found = stop_signals[i];
        }
    }
    return found;
}

const char *
signals_name(int sig)
{
    const char *abbrev = sigabbrev_np(sig);

    return abbrev != NULL ? abbrev : "?";
}
