/* test_prequential.c: prequential evaluation (crec/stream.h) on a hand-made stream whose ranks are known.
 *
 * Events in time order (users u1..u4, items a..d), warm = the first 4:
 *   1 u1 a | 2 u2 a | 3 u2 b | 4 u3 a || 5 u1 b | 6 u3 c | 7 u1 a | 8 u4 b
 * With the popularity model trained on the warm events (a: 3, b: 1, c, d: 0):
 *   5: catalogue {a, b}, u1 saw a      -> candidates {b}: rank 1        HR@10 1, NDCG 1
 *   6: c was never seen                -> a miss (new item)             0, 0
 *   7: u1 saw a already                -> a miss (repeated target)      0, 0
 *   8: u4 has no history; {a, b, c}    -> a 3 > b 1 > c 0: rank 2       1, 1 / log2(3)
 * Overall HR@10 = 2 / 4, NDCG@10 = (1 + 1 / log2 3) / 4; with 2 windows: (0.5, 0.5) and (0.5, 0.5 / log2 3).
 * Periodic retraining every event gives the same ranks here (a stays ahead of b; c has one event at 8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crec/crec.h"
#include "crec/stream.h"

static crec_dataset *hand_stream(int shuffled) {
    static const char *ev[8][2] = {{"u1", "a"}, {"u2", "a"}, {"u2", "b"}, {"u3", "a"},
                                   {"u1", "b"}, {"u3", "c"}, {"u1", "a"}, {"u4", "b"}};
    crec_dataset *ds = crec_dataset_new();
    assert_non_null(ds);
    crec_dataset_item(ds, "d", 1); /* in the catalogue, never in the log */
    /* loaded out of time order when shuffled: the replay must sort by time */
    static const int order[8] = {7, 2, 0, 5, 1, 6, 3, 4};
    for (int k = 0; k < 8; k++) {
        int e = shuffled ? order[k] : k;
        assert_int_equal(crec_dataset_add(ds, ev[e][0], 2, ev[e][1], 1, 100 + e, 1, 0), 0);
    }
    ds->has_time = 1;
    snprintf(ds->name, sizeof ds->name, "hand");
    return ds;
}

static void run(const crec_dataset *ds, crec_stream_mode mode, const char *model, int eval_every,
                crec_stream_result *r) {
    crec_stream_opts o;
    crec_stream_opts_defaults(&o);
    o.mode = mode;
    o.model = model;
    o.warm = 0.5;
    o.n_windows = 2;
    o.every = 1;
    o.eval_every = eval_every;
    char err[512] = "";
    int rc = crec_stream_eval(ds, &o, r, err, sizeof err);
    if (rc) fail_msg("stream eval: %s", err);
}

static void test_hand_ranks(void **st) {
    (void)st;
    for (int sh = 0; sh < 2; sh++) {
        crec_dataset *ds = hand_stream(sh);
        crec_stream_mode modes[2] = {CREC_STREAM_STATIC, CREC_STREAM_PERIODIC};
        for (int j = 0; j < 2; j++) {
            crec_stream_result r;
            run(ds, modes[j], "pop", 1, &r);
            double nd8 = 1 / log2(3.0);
            assert_int_equal(r.n_events, 8);
            assert_int_equal(r.n_warm, 4);
            assert_int_equal(r.n_tested, 4);
            assert_int_equal(r.n_new_item, 1);
            assert_int_equal(r.n_repeat, 1);
            assert_int_equal(r.n_cold_user, 1);
            if (fabs(r.hr - 0.5) > 1e-12 || fabs(r.ndcg - (1 + nd8) / 4) > 1e-12)
                fail_msg("mode %d: HR %g (want 0.5), NDCG %g (want %g)", j, r.hr, r.ndcg, (1 + nd8) / 4);
            assert_int_equal(r.n_windows, 2);
            assert_int_equal(r.win[0].n, 2);
            assert_int_equal(r.win[1].n, 2);
            assert_true(fabs(r.win[0].hr - 0.5) < 1e-12 && fabs(r.win[0].ndcg - 0.5) < 1e-12);
            assert_true(fabs(r.win[1].hr - 0.5) < 1e-12 && fabs(r.win[1].ndcg - nd8 / 2) < 1e-12);
            assert_true(strstr(r.protocol, "1 repeated targets = misses") != NULL);
            if (modes[j] == CREC_STREAM_PERIODIC) assert_int_equal(r.n_retrains, 3); /* before events 6, 7, 8 */
        }
        /* every other event: 5 and 7 -> HR 1/2, NDCG 1/2, and the protocol says it is subsampled */
        crec_stream_result r;
        run(ds, CREC_STREAM_STATIC, "pop", 2, &r);
        assert_int_equal(r.n_tested, 2);
        assert_true(fabs(r.hr - 0.5) < 1e-12 && fabs(r.ndcg - 0.5) < 1e-12);
        assert_true(strstr(r.protocol, "SUBSAMPLED") != NULL);
        crec_dataset_free(ds);
    }
}

/* The online mode: the same tests and counts (what is ranked does not depend on the model), the model learns. */
static void test_online_mode(void **st) {
    (void)st;
    crec_dataset *ds = hand_stream(0);
    crec_stream_result r;
    run(ds, CREC_STREAM_ONLINE, "onlinemf", 1, &r);
    assert_int_equal(r.n_tested, 4);
    assert_int_equal(r.n_new_item, 1);
    assert_int_equal(r.n_repeat, 1);
    /* event 5 has a single candidate: a hit whatever the model */
    assert_true(r.win[0].hr >= 0.5);
    /* a model without the update hook is refused in online mode, with a reason */
    crec_stream_opts o;
    crec_stream_opts_defaults(&o);
    o.model = "pop";
    char err[256] = "";
    assert_int_equal(crec_stream_eval(ds, &o, &r, err, sizeof err), CREC_EINVAL);
    assert_non_null(strstr(err, "update"));
    /* bad options */
    crec_stream_opts_defaults(&o);
    o.warm = 1;
    assert_int_equal(crec_stream_eval(ds, &o, &r, err, sizeof err), CREC_EINVAL);
    crec_dataset_free(ds);
}

/* Reports: JSON carries each run and window; the table names every run. */
static void test_reports(void **st) {
    (void)st;
    crec_dataset *ds = hand_stream(0);
    crec_stream_result r[2];
    run(ds, CREC_STREAM_STATIC, "pop", 1, &r[0]);
    run(ds, CREC_STREAM_ONLINE, "onlinemf", 1, &r[1]);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    assert_int_equal(crec_stream_write_json(r, 2, f), 0);
    fclose(f);
    assert_non_null(strstr(buf, "\"label\": \"static pop\""));
    assert_non_null(strstr(buf, "\"label\": \"online onlinemf\""));
    assert_non_null(strstr(buf, "\"HR@10\": 0.5"));
    free(buf);
    f = open_memstream(&buf, &n);
    crec_stream_write_table(r, 2, f);
    fclose(f);
    assert_non_null(strstr(buf, "run 1: static pop"));
    assert_non_null(strstr(buf, "protocol: prequential replay of hand"));
    free(buf);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_ranks),
        cmocka_unit_test(test_online_mode),
        cmocka_unit_test(test_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
