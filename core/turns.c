/* core/turns.c: the output order's state machine (see turns.h). */
#include "turns.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"

void
turns_init(struct turns *t, size_t park_limit)
{
    memset(t, 0, sizeof(*t));
    t->park_limit = park_limit;
}

void
turns_release(struct turns *t)
{
    free(t->state);
    free(t->owner);
    free(t->again);
    memset(t, 0, sizeof(*t));
}

int
turns_track(struct turns *t, size_t n, struct error *err)
{
    size_t state_cap = t->cap, owner_cap = t->cap, k;

    if (n <= t->cap) {
        return 0;
    }
    if (GROW(t->state, state_cap, n) != 0 || GROW(t->owner, owner_cap, n) != 0) {
        return error_set(err, "out of memory");
    }
    /* Both grew from the same capacity by the same rule: they agree. */
    for (k = t->cap; k < state_cap; k++) {
        t->state[k] = k < t->head ? PART_WRITTEN : PART_WAITING;
        t->owner[k] = -1;
    }
    t->cap = state_cap;
    return 0;
}

void
turns_start_at(struct turns *t, size_t k)
{
    size_t i;

    t->head = t->next = k;
    for (i = 0; i < k && i < t->cap; i++) {
        t->state[i] = PART_WRITTEN;
    }
}

int
turns_again(struct turns *t, size_t k, struct error *err)
{
    if (GROW(t->again, t->cap_again, t->n_again + 1) != 0) {
        return error_set(err, "out of memory");
    }
    t->again[t->n_again++] = k;
    t->state[k] = PART_WAITING;
    t->owner[k] = -1;
    return 0;
}

enum turn_work
turns_work(struct turns *t, size_t known, int all_known, int worker, size_t *k)
{
    if (t->n_again > 0) {
        /* (the earliest first: it may be the head) */
        size_t i, best = 0;
        for (i = 1; i < t->n_again; i++) {
            best = t->again[i] < t->again[best] ? i : best;
        }
        *k = t->again[best];
        t->again[best] = t->again[--t->n_again];
        t->state[*k] = PART_RUNNING;
        t->owner[*k] = worker;
        return TURN_WORK;
    }
    if (t->next >= known) {
        return all_known ? TURN_STOP : TURN_IDLE;
    }
    if (t->parked >= t->park_limit) {
        return TURN_IDLE;
    }
    *k = t->next++;
    t->state[*k] = PART_RUNNING;
    t->owner[*k] = worker;
    return TURN_WORK;
}

int
turns_done(struct turns *t, size_t k)
{
    t->state[k] = PART_DONE;
    return k == t->head;
}

int
turns_parked(struct turns *t, size_t k)
{
    t->state[k] = PART_PARKED;
    t->parked++;
    t->parked_total++;
    return k == t->head;
}

int
turns_written(struct turns *t, size_t k, struct error *err)
{
    if (k != t->head) {
        return error_set(err, "partition %zu was written out of turn (the turn is %zu's)", k,
                         t->head);
    }
    t->state[k] = PART_WRITTEN;
    t->head++;
    return 0;
}

enum turn_step
turns_advance(const struct turns *t, size_t known, size_t *who)
{
    if (t->head >= known) {
        return TURN_WAIT;
    }
    if (t->state[t->head] == PART_PARKED) {
        *who = t->head;
        return TURN_WRITE_PARKED;
    }
    if (t->state[t->head] == PART_DONE) {
        *who = (size_t)t->owner[t->head];
        return TURN_GRANT;
    }
    return TURN_WAIT;
}

void
turns_wrote_parked(struct turns *t)
{
    t->state[t->head++] = PART_WRITTEN;
    t->parked--;
}

int
turns_settled(const struct turns *t, size_t k)
{
    return k < t->cap && t->state[k] >= PART_DONE;
}
