/* test_sasrec.c: the sasrec model.
 *   - its complete backward pass against finite differences (pre-LN and post-LN, GELU and SiLU, with and without
 *     dropout at every site under fixed masks);
 *   - on the synthetic default (1500 users x 800 items), a few epochs beat pop and item-kNN by far and come within
 *     2% of the first-order Markov chain (which the generator's item-to-item successors favour);
 *   - a checkpoint round trip gives bit-identical scores; an anonymous history scores exactly as the same user's
 *     history; a history longer than max_len scores as its last max_len items; an empty one as popularity;
 *   - training is bit-reproducible for a seed, at 1 and 2 threads alike, and another seed gives another model;
 * Heavy trainings run on one thread, and the program re-executes itself once with OMP_WAIT_POLICY=passive when the
 * variable is unset: libgomp's spinning barriers make multi-threaded runs of many small kernels crawl on an
 * oversubscribed machine (docs/RESULTS.md, SASRec), and a unit test must not depend on the load.
 *   - every loss (ce, ssm with log-Q, bce, gbce) and post-LN train to something better than popularity;
 *   - bad hyper-parameters are refused with CREC_EINVAL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/util.h"
#include "crec/crec.h"
#include "models/sasrec.h"
#include "nn/nn.h"
#include "modeltest.h"
#include "testutil.h"

static void test_gradcheck(void **st) {
    for (int pre = 0; pre < 2; pre++)
        for (int act = CREC_NN_GELU; act <= CREC_NN_SILU; act++) {
            double worst;
            int n;
            float drop = act == CREC_NN_GELU ? 0.3f : 0.0f;
            assert_int_equal(crec__sasrec_gradcheck(pre, act, drop, 11 + (uint64_t)act, &worst, &n), 0);
            print_message("  %s-LN %s dropout %.1f: %d parameters, worst relative gradient error %.2e\n",
                          pre ? "pre" : "post", act == CREC_NN_GELU ? "GELU" : "SiLU", drop, n, worst);
            assert_true(n >= 150);
            assert_true(worst < 5e-3); /* float loss, eps 0.01: observed ~4e-4; a wrong term gives O(1) */
        }
}

static const char *const SMALL[] = {"dim=32",  "blocks=1",    "epochs=8",   "batch=64",
                                    "lr=0.01", "dropout=0.2", "patience=3", NULL};

/* Quality on the synthetic default, and everything a trained model must do with its scores. */
static void test_quality_and_scores(void **st) {
    crec_dataset *ds;
    crec_split s;
    synth(1500, 800, &ds, &s);
    double t0 = crec__now();
    crec_model *m = train_cfg("sasrec", &s, SMALL, 1, 42, 1);
    double secs = crec__now() - t0;
    double q = ndcg10(m, ds, &s);
    const char *base[] = {"pop", "itemknn", "markov"};
    double qb[3];
    for (int k = 0; k < 3; k++) {
        crec_model *b = train_cfg(base[k], &s, NULL, 2, 42, 0);
        qb[k] = ndcg10(b, ds, &s);
        crec_model_free(b);
    }
    print_message("  NDCG@10: sasrec %.4f (trained in %.1fs), pop %.4f, itemknn %.4f, markov %.4f\n", q, secs, qb[0],
                  qb[1], qb[2]);
    assert_true(q > 4 * qb[0]);
    assert_true(q > 1.8 * qb[1]);
    assert_true(q > 0.98 * qb[2]);

    /* scores: checkpoint round trip, anonymous history, truncation to max_len, empty history */
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/s.crecm", dir);
    assert_int_equal(crec_model_save(m, path), 0);
    crec_model *l;
    assert_int_equal(crec_model_load(path, &l), 0);
    int32_t ni = m->n_items;
    float *a = malloc(ni * sizeof *a), *b = malloc(ni * sizeof *b);
    for (int32_t u = 0; u < 40; u++) {
        const int32_t *h = s.train.idx + s.train.ptr[u];
        int32_t n = (int32_t)(s.train.ptr[u + 1] - s.train.ptr[u]);
        crec_context cu = {.user = u, .hist = h, .n_hist = n}, ca = {.user = -1, .hist = h, .n_hist = n};
        assert_int_equal(crec_model_score(m, &cu, a), 0);
        assert_int_equal(crec_model_score(l, &cu, b), 0);
        assert_memory_equal(a, b, ni * sizeof *a);
        assert_int_equal(crec_model_score(m, &ca, b), 0);
        assert_memory_equal(a, b, ni * sizeof *a);
    }
    /* a 70-item history scores as its last 50 (max_len) items */
    int32_t longh[70];
    for (int k = 0; k < 70; k++) longh[k] = (k * 37) % ni;
    crec_context c70 = {.user = -1, .hist = longh, .n_hist = 70}, c50 = {.user = -1, .hist = longh + 20, .n_hist = 50};
    assert_int_equal(crec_model_score(m, &c70, a), 0);
    assert_int_equal(crec_model_score(m, &c50, b), 0);
    assert_memory_equal(a, b, ni * sizeof *a);
    crec_context c49 = {.user = -1, .hist = longh + 21, .n_hist = 49};
    assert_int_equal(crec_model_score(m, &c49, b), 0);
    assert_true(memcmp(a, b, ni * sizeof *a) != 0); /* one item fewer is another history */
    /* an empty history: training popularity */
    assert_true(mt_empty_history_is_pop(m, &s, a));
    /* a checkpoint whose hyper-parameters disagree with its payload is refused */
    assert_true(mt_mismatched_checkpoint_refused(l, path));
    free(a), free(b);
    tu_rmrf(dir);
    free(dir);
    crec_model_free(l);
    crec_model_free(m);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

/* Same seed, at 2 threads and at 1: the same bits (scatter-adds are owner-partitioned, reductions run in a fixed
 * order, matrix products go to single-threaded BLAS in fixed row blocks). Another seed: another model. */
static void test_reproducible(void **st) {
    crec_dataset *ds;
    crec_split s;
    synth(300, 200, &ds, &s);
    const char *kv[] = {"dim=16", "blocks=2", "heads=2", "epochs=2", "batch=32", "max_len=20", NULL};
    crec_model *m1 = train_cfg("sasrec", &s, kv, 2, 7, 1), *m2 = train_cfg("sasrec", &s, kv, 1, 7, 1);
    crec_model *m3 = train_cfg("sasrec", &s, kv, 2, 8, 1);
    float *a = malloc(200 * sizeof *a), *b = malloc(200 * sizeof *b);
    int differ = 0;
    for (int32_t u = 0; u < 30; u++) {
        crec_context c = {
            .user = u, .hist = s.train.idx + s.train.ptr[u], .n_hist = (int32_t)(s.train.ptr[u + 1] - s.train.ptr[u])};
        assert_int_equal(crec_model_score(m1, &c, a), 0);
        assert_int_equal(crec_model_score(m2, &c, b), 0);
        assert_memory_equal(a, b, 200 * sizeof *a);
        assert_int_equal(crec_model_score(m3, &c, b), 0);
        differ += memcmp(a, b, 200 * sizeof *a) != 0;
    }
    assert_int_equal(differ, 30);
    free(a), free(b);
    crec_model_free(m1), crec_model_free(m2), crec_model_free(m3);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

/* Each loss, and the post-LN form, learns (beats popularity by a wide margin) on a small synthetic set. */
static void test_losses(void **st) {
    crec_dataset *ds;
    crec_split s;
    synth(600, 300, &ds, &s);
    crec_model *p = train_cfg("pop", &s, NULL, 2, 1, 0);
    double qp = ndcg10(p, ds, &s);
    crec_model_free(p);
    const char *variants[][3] = {{"loss=ssm", "neg=64", "sampler=pop"}, {"loss=ssm", "neg=64", "sampler=uniform"},
                                 {"loss=bce", "lr=0.005", "neg=1"},     {"loss=gbce", "neg=4", "gbce_t=0.5"},
                                 {"loss=ce", "norm=post", "clip=1"},    {"loss=ce", "schedule=cosine", "warmup=20"}};
    for (int v = 0; v < 6; v++) {
        const char *kv[] = {"dim=32",     "blocks=1",     "epochs=8",     "batch=32",     "lr=0.01",
                            "max_len=20", variants[v][0], variants[v][1], variants[v][2], NULL};
        crec_model *m = train_cfg("sasrec", &s, kv, 1, 3, 1);
        double q = ndcg10(m, ds, &s);
        print_message("  %-9s %-8s %-16s NDCG@10 %.4f (pop %.4f)\n", variants[v][0], variants[v][1], variants[v][2], q,
                      qp);
        assert_true(q > 2 * qp);
        crec_model_free(m);
    }
    crec_split_free(&s);
    crec_dataset_free(ds);
}


int main(int argc, char **argv) {
    /* libgomp reads its wait policy once, at load: re-execute once with passive waits (see the header) */
    if (argc >= 1 && !getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck),    cmocka_unit_test(test_quality_and_scores),
        cmocka_unit_test(test_reproducible), cmocka_unit_test(test_losses),
        };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
