/*
 * tests/core/test_turns.c: the output order's state machine (core/turns.c), step by step and
 * without processes: who may write when, when GRANT is due, what the parent writes itself, and
 * the park limit. Then a property: for random interleavings of what workers report (finishing,
 * parking while a GRANT is on its way, finishing while the turn arrives), with any number of
 * workers, partitions and park limit, every partition is written exactly once and in order, no
 * worker is granted a partition it does not hold, and the job always ends; also when workers
 * fail now and then (running or holding a finished partition) and their partition runs again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "turns.h"

static void
test_turns__in_order_without_waiting(void **state)
{
    struct turns t;
    struct error err;
    size_t k = 99, who = 99;

    (void)state;
    turns_init(&t, 4);
    assert_int_equal(turns_track(&t, 2, &err), 0);
    assert_int_equal(turns_work(&t, 2, 1, 0, &k), TURN_WORK);
    assert_int_equal(k, 0);
    assert_int_equal(turns_work(&t, 2, 1, 1, &k), TURN_WORK);
    assert_int_equal(k, 1);
    assert_int_equal(turns_work(&t, 2, 1, 2, &k), TURN_STOP);
    /* partition 0 is the head: its worker writes it as it runs */
    assert_int_equal(turns_written(&t, 0, &err), 0);
    assert_int_equal(t.head, 1);
    assert_int_equal(turns_advance(&t, 2, &who), TURN_WAIT); /* 1 is still running */
    assert_int_equal(turns_written(&t, 1, &err), 0);
    assert_int_equal(turns_advance(&t, 2, &who), TURN_WAIT); /* past the end */
    assert_int_equal(t.head, 2);
    assert_int_equal(t.parked_total, 0);
    turns_release(&t);
}

static void
test_turns__done_early_is_granted_when_its_turn_comes(void **state)
{
    struct turns t;
    struct error err;
    size_t k, who = 99;

    (void)state;
    turns_init(&t, 4);
    assert_int_equal(turns_track(&t, 3, &err), 0);
    assert_int_equal(turns_work(&t, 3, 1, 0, &k), TURN_WORK);
    assert_int_equal(turns_work(&t, 3, 1, 1, &k), TURN_WORK);
    /* worker 1 finishes partition 1 first: not its turn */
    assert_int_equal(turns_done(&t, 1), 0);
    assert_true(turns_settled(&t, 1));
    assert_false(turns_settled(&t, 0));
    /* writing 1 now would be out of turn */
    assert_int_not_equal(turns_written(&t, 1, &err), 0);
    assert_non_null(strstr(err.msg, "out of turn"));
    assert_int_equal(turns_written(&t, 0, &err), 0);
    assert_int_equal(turns_advance(&t, 3, &who), TURN_GRANT);
    assert_int_equal(who, 1); /* the worker that holds partition 1 */
    /* a partition done while it is already the head is granted at once */
    assert_int_equal(turns_written(&t, 1, &err), 0);
    assert_int_equal(turns_work(&t, 3, 1, 0, &k), TURN_WORK);
    assert_int_equal(k, 2);
    assert_int_equal(turns_done(&t, 2), 1);
    turns_release(&t);
}

static void
test_turns__parked_partitions_are_written_by_the_parent_in_order(void **state)
{
    struct turns t;
    struct error err;
    size_t k, who = 99;

    (void)state;
    turns_init(&t, 10);
    assert_int_equal(turns_track(&t, 4, &err), 0);
    for (int w = 0; w < 4; w++) {
        assert_int_equal(turns_work(&t, 4, 1, w, &k), TURN_WORK);
    }
    assert_int_equal(turns_parked(&t, 2), 0);
    assert_int_equal(turns_parked(&t, 1), 0);
    assert_int_equal(turns_done(&t, 3), 0);
    assert_int_equal(t.parked, 2);
    assert_int_equal(turns_written(&t, 0, &err), 0);
    /* 1 and 2 are parked: the parent writes both, then 3 is granted to its worker */
    assert_int_equal(turns_advance(&t, 4, &who), TURN_WRITE_PARKED);
    assert_int_equal(who, 1);
    turns_wrote_parked(&t);
    assert_int_equal(turns_advance(&t, 4, &who), TURN_WRITE_PARKED);
    assert_int_equal(who, 2);
    turns_wrote_parked(&t);
    assert_int_equal(turns_advance(&t, 4, &who), TURN_GRANT);
    assert_int_equal(who, 3);
    assert_int_equal(t.parked, 0);
    assert_int_equal(t.parked_total, 2);
    /* a partition parked while it is the head (its GRANT crossed the PARKED report) */
    turns_release(&t);
    turns_init(&t, 10);
    assert_int_equal(turns_track(&t, 1, &err), 0);
    assert_int_equal(turns_work(&t, 1, 1, 0, &k), TURN_WORK);
    assert_int_equal(turns_done(&t, 0), 1);
    assert_int_equal(turns_parked(&t, 0), 1);
    assert_int_equal(turns_advance(&t, 1, &who), TURN_WRITE_PARKED);
    assert_int_equal(who, 0);
    turns_wrote_parked(&t);
    assert_int_equal(t.head, 1);
    turns_release(&t);
}

static void
test_turns__park_limit_stops_handing_out_work(void **state)
{
    struct turns t;
    struct error err;
    size_t k, who;

    (void)state;
    turns_init(&t, 2);
    assert_int_equal(turns_track(&t, 10, &err), 0);
    assert_int_equal(turns_work(&t, 10, 1, 0, &k), TURN_WORK); /* 0: slow, holds the turn */
    assert_int_equal(turns_work(&t, 10, 1, 1, &k), TURN_WORK);
    assert_int_equal(turns_parked(&t, 1), 0);
    assert_int_equal(turns_work(&t, 10, 1, 1, &k), TURN_WORK);
    assert_int_equal(k, 2);
    assert_int_equal(turns_parked(&t, 2), 0);
    /* two parked: the limit; worker 1 gets nothing, though partitions are left */
    assert_int_equal(turns_work(&t, 10, 1, 1, &k), TURN_IDLE);
    assert_int_equal(t.next, 3);
    /* partition 0 written: the parent writes the parked ones, and work flows again */
    assert_int_equal(turns_written(&t, 0, &err), 0);
    while (turns_advance(&t, 10, &who) == TURN_WRITE_PARKED) {
        turns_wrote_parked(&t);
    }
    assert_int_equal(t.head, 3);
    assert_int_equal(t.parked, 0);
    assert_int_equal(turns_work(&t, 10, 1, 1, &k), TURN_WORK);
    assert_int_equal(k, 3);
    turns_release(&t);
}

static void
test_turns__a_growing_plan_idles_until_all_is_known(void **state)
{
    struct turns t;
    struct error err;
    size_t k;

    (void)state;
    turns_init(&t, 4);
    assert_int_equal(turns_track(&t, 1, &err), 0);
    assert_int_equal(turns_work(&t, 1, 0, 0, &k), TURN_WORK);
    assert_int_equal(turns_work(&t, 1, 0, 1, &k), TURN_IDLE); /* a stream is still decoding */
    assert_int_equal(turns_track(&t, 100, &err), 0);          /* grows, keeping its state */
    assert_int_equal(t.state[0], PART_RUNNING);
    assert_int_equal(t.state[99], PART_WAITING);
    assert_int_equal(t.owner[99], -1);
    assert_int_equal(turns_work(&t, 100, 1, 1, &k), TURN_WORK);
    assert_int_equal(k, 1);
    turns_release(&t);
}

/* ---- the property: a simulated pool ----------------------------------------------------- */

enum sim_state { W_FREE, W_RUNNING, W_WAITING, W_GRANTED, W_STOPPED };

struct sim {
    struct turns t;
    size_t n_parts;
    int n_workers;
    enum sim_state ws[8];
    size_t wpart[8];
    size_t written[512]; /* the order partitions reached the output */
    size_t n_written;
    uint64_t rng;
    int failures; /* failures left to inject (a worker dies, its partition runs again) */
};

static void
sim_write(struct sim *s, size_t k)
{
    assert_true(s->n_written < s->n_parts);
    s->written[s->n_written++] = k;
}

/* A free worker asks for work (what the parent does on READY, WRITTEN, PARKED and waking). */
static void
sim_assign(struct sim *s, int w)
{
    size_t k;

    switch (turns_work(&s->t, s->n_parts, 1, w, &k)) {
    case TURN_WORK:
        s->ws[w] = W_RUNNING;
        s->wpart[w] = k;
        break;
    case TURN_STOP:
        s->ws[w] = W_STOPPED;
        break;
    case TURN_IDLE:
        s->ws[w] = W_FREE;
        break;
    }
}

static void
sim_advance(struct sim *s)
{
    enum turn_step step;
    size_t who;
    int w;

    while ((step = turns_advance(&s->t, s->n_parts, &who)) == TURN_WRITE_PARKED) {
        sim_write(s, who);
        turns_wrote_parked(&s->t);
    }
    if (step == TURN_GRANT) {
        assert_true(who < (size_t)s->n_workers);
        assert_int_equal(s->ws[who], W_WAITING); /* granted only what it holds */
        assert_int_equal(s->wpart[who], s->t.head);
        s->ws[who] = W_GRANTED;
    }
    for (w = 0; w < s->n_workers; w++) {
        if (s->ws[w] == W_FREE) {
            sim_assign(s, w);
        }
    }
}

/* One thing worker w does next; returns 0 when it had nothing to do. */
static int
sim_step(struct sim *s, int w)
{
    struct error err;
    size_t k = s->wpart[w];
    int choice = (int)(tu_rand(&s->rng) % 2);

    if ((s->ws[w] == W_RUNNING || s->ws[w] == W_WAITING || s->ws[w] == W_GRANTED) &&
        s->failures > 0 && tu_rand(&s->rng) % 5 == 0) {
        /* It dies before writing: its partition goes back, and a fresh worker in its place asks
         * for work (the head may be waiting for it, whatever is parked). */
        s->failures--;
        assert_int_equal(turns_again(&s->t, k, &err), 0);
        sim_assign(s, w);
        assert_int_equal(s->ws[w], W_RUNNING);
        return 1;
    }
    switch (s->ws[w]) {
    case W_RUNNING:
        if (k == s->t.head) { /* it sees the turn as it runs: writes straight away */
            sim_write(s, k);
            assert_int_equal(turns_written(&s->t, k, &err), 0);
            sim_assign(s, w);
            sim_advance(s);
        } else if (turns_done(&s->t, k)) {
            s->ws[w] = W_GRANTED;
        } else {
            s->ws[w] = W_WAITING;
        }
        return 1;
    case W_WAITING:
    case W_GRANTED:
        if (s->ws[w] == W_GRANTED && choice == 0) {
            sim_write(s, k);
            assert_int_equal(turns_written(&s->t, k, &err), 0);
            sim_assign(s, w);
            sim_advance(s);
        } else { /* waited too long: parks (a GRANT on its way is ignored) */
            int due = turns_parked(&s->t, k);
            sim_assign(s, w);
            if (due) {
                sim_advance(s);
            }
        }
        return 1;
    default:
        return 0;
    }
}

static void
test_turns__a_partition_run_again_comes_first(void **state)
{
    struct turns t;
    struct error err;
    size_t k = 99, who = 99;

    (void)state;
    turns_init(&t, 1);
    assert_int_equal(turns_track(&t, 4, &err), 0);
    assert_int_equal(turns_work(&t, 4, 1, 0, &k), TURN_WORK); /* 0 to worker 0 */
    assert_int_equal(turns_work(&t, 4, 1, 1, &k), TURN_WORK); /* 1 to worker 1 */
    assert_int_equal(turns_parked(&t, 1), 0);                 /* the park limit is reached */
    assert_int_equal(turns_work(&t, 4, 1, 1, &k), TURN_IDLE);
    /* worker 0 dies in partition 0, the head: it runs again first, though the limit is reached */
    assert_int_equal(turns_again(&t, 0, &err), 0);
    assert_int_equal(turns_advance(&t, 4, &who), TURN_WAIT);
    assert_int_equal(turns_work(&t, 4, 1, 0, &k), TURN_WORK);
    assert_int_equal(k, 0);
    assert_int_equal(t.owner[0], 0);
    assert_int_equal(turns_written(&t, 0, &err), 0);
    assert_int_equal(turns_advance(&t, 4, &who), TURN_WRITE_PARKED);
    assert_int_equal(who, 1);
    turns_wrote_parked(&t);
    /* a finished partition whose worker died before its turn runs again too */
    assert_int_equal(turns_work(&t, 4, 1, 1, &k), TURN_WORK);
    assert_int_equal(k, 2);
    assert_int_equal(turns_done(&t, 2), 1);
    assert_int_equal(turns_again(&t, 2, &err), 0);
    assert_int_equal(turns_advance(&t, 4, &who), TURN_WAIT);
    assert_int_equal(turns_work(&t, 4, 1, 1, &k), TURN_WORK);
    assert_int_equal(k, 2);
    assert_int_equal(turns_work(&t, 4, 1, 0, &k), TURN_WORK);
    assert_int_equal(k, 3);
    assert_int_equal(turns_work(&t, 4, 1, 0, &k), TURN_STOP);
    turns_release(&t);
}

static void
test_turns__any_interleaving_writes_each_partition_once_in_order(void **state)
{
    struct sim s;
    struct error err;
    int round, w, busy;
    size_t k;

    (void)state;
    for (round = 0; round < 3000; round++) {
        memset(&s, 0, sizeof(s));
        s.rng = 0x1234567ull + (uint64_t)round * 7919u;
        s.n_parts = 1 + tu_rand(&s.rng) % 40;
        s.n_workers = 1 + (int)(tu_rand(&s.rng) % 8);
        s.failures = round % 2 == 0 ? 0 : (int)(tu_rand(&s.rng) % 10);
        turns_init(&s.t, 1 + tu_rand(&s.rng) % 6);
        assert_int_equal(turns_track(&s.t, s.n_parts, &err), 0);
        for (w = 0; w < s.n_workers; w++) {
            sim_assign(&s, w);
        }
        do {
            busy = 0;
            for (w = 0; w < s.n_workers; w++) {
                busy |= s.ws[w] != W_STOPPED && s.ws[w] != W_FREE;
            }
            w = (int)(tu_rand(&s.rng) % (uint64_t)s.n_workers);
            sim_step(&s, w);
            assert_true(s.t.parked <= s.t.park_limit + (size_t)s.n_workers);
        } while (busy);
        assert_int_equal(s.n_written, s.n_parts);
        for (k = 0; k < s.n_parts; k++) {
            assert_int_equal(s.written[k], k);
        }
        assert_int_equal(s.t.parked, 0);
        turns_release(&s.t);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_turns__in_order_without_waiting),
        cmocka_unit_test(test_turns__done_early_is_granted_when_its_turn_comes),
        cmocka_unit_test(test_turns__parked_partitions_are_written_by_the_parent_in_order),
        cmocka_unit_test(test_turns__park_limit_stops_handing_out_work),
        cmocka_unit_test(test_turns__a_growing_plan_idles_until_all_is_known),
        cmocka_unit_test(test_turns__a_partition_run_again_comes_first),
        cmocka_unit_test(test_turns__any_interleaving_writes_each_partition_once_in_order),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
