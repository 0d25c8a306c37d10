/* test_bert4rec.c: the bert4rec model.
 *   - its complete backward pass (bidirectional attention, the [mask] token's embedding, Cloze targets) against
 *     finite differences, pre-LN and post-LN, GELU and SiLU, with and without dropout under fixed masks;
 *   - on the synthetic default (1500 users x 800 items), 25 epochs beat pop (3x) and item-kNN (1.3x);
 *   - a checkpoint round trip gives bit-identical scores; an anonymous history scores exactly as the same user's
 *     history; a history longer than max_len - 1 scores as its last max_len - 1 items (then [mask]); an empty one
 *     as popularity; a checkpoint whose hyper-parameters disagree with its payload is refused;
 *   - training is bit-reproducible for a seed, at 1 and 2 threads alike, and another seed gives another model;
 *   - bad hyper-parameters are refused with CREC_EINVAL.
 * The program re-executes itself once with OMP_WAIT_POLICY=passive when the variable is unset (see test_sasrec.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/util.h"
#include "crec/crec.h"
#include "models/bert4rec.h"
#include "nn/nn.h"
#include "modeltest.h"
#include "testutil.h"

static void test_gradcheck(void **st) {
    for (int pre = 0; pre < 2; pre++)
        for (int act = CREC_NN_GELU; act <= CREC_NN_SILU; act++) {
            double worst;
            int n;
            float drop = act == CREC_NN_GELU ? 0.3f : 0.0f;
            assert_int_equal(crec__bert4rec_gradcheck(pre, act, drop, 21 + (uint64_t)act, &worst, &n), 0);
            print_message("  %s-LN %s dropout %.1f: %d parameters, worst relative gradient error %.2e\n",
                          pre ? "pre" : "post", act == CREC_NN_GELU ? "GELU" : "SiLU", drop, n, worst);
            assert_true(n >= 150);
            assert_true(worst < 5e-3); /* float loss, eps 0.01; a wrong term gives O(1) */
        }
}

/* patience 0: the whole 25 epochs, the best-validation epoch kept (Cloze training leaves a popularity plateau first,
 * which a short patience would mistake for convergence) */
static const char *const SMALL[] = {"dim=32",        "blocks=1",   "epochs=25",   "batch=64",
                                    "lr=0.005",      "heads=1",    "dropout=0.1", "mask_prob=0.3",
                                    "last_prob=0.3", "patience=0", NULL};

/* Quality on the synthetic default, and everything a trained model must do with its scores. */
static void test_quality_and_scores(void **st) {
    crec_dataset *ds;
    crec_split s;
    synth(1500, 800, &ds, &s);
    double t0 = crec__now();
    crec_model *m = train_cfg("bert4rec", &s, SMALL, 1, 42, 1);
    double secs = crec__now() - t0;
    double q = ndcg10(m, ds, &s);
    const char *base[] = {"pop", "itemknn"};
    double qb[2];
    for (int k = 0; k < 2; k++) {
        crec_model *b = train_cfg(base[k], &s, NULL, 2, 42, 0);
        qb[k] = ndcg10(b, ds, &s);
        crec_model_free(b);
    }
    print_message("  NDCG@10: bert4rec %.4f (trained in %.1fs), pop %.4f, itemknn %.4f\n", q, secs, qb[0], qb[1]);
    assert_true(q > 3 * qb[0]); /* observed 0.268 against 0.060 and 0.177 */
    assert_true(q > 1.3 * qb[1]);

    /* scores: checkpoint round trip, anonymous history */
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/b.crecm", dir);
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
    /* a 70-item history scores as its last 49 items (max_len 50 = 49 items + [mask]) */
    int32_t longh[70];
    for (int k = 0; k < 70; k++) longh[k] = (k * 37) % ni;
    crec_context c70 = {.user = -1, .hist = longh, .n_hist = 70}, c49 = {.user = -1, .hist = longh + 21, .n_hist = 49};
    assert_int_equal(crec_model_score(m, &c70, a), 0);
    assert_int_equal(crec_model_score(m, &c49, b), 0);
    assert_memory_equal(a, b, ni * sizeof *a);
    crec_context c48 = {.user = -1, .hist = longh + 22, .n_hist = 48};
    assert_int_equal(crec_model_score(m, &c48, b), 0);
    assert_true(memcmp(a, b, ni * sizeof *a) != 0); /* one item fewer is another history */
    /* attention is bidirectional and order matters: the same items in another order score differently */
    int32_t rev[6];
    for (int k = 0; k < 6; k++) rev[k] = longh[5 - k];
    crec_context cf = {.user = -1, .hist = longh, .n_hist = 6}, cr = {.user = -1, .hist = rev, .n_hist = 6};
    assert_int_equal(crec_model_score(m, &cf, a), 0);
    assert_int_equal(crec_model_score(m, &cr, b), 0);
    assert_true(memcmp(a, b, ni * sizeof *a) != 0);
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

/* Same seed, at 2 threads and at 1: the same bits. Another seed: another model. */
static void test_reproducible(void **st) {
    crec_dataset *ds;
    crec_split s;
    synth(300, 200, &ds, &s);
    const char *kv[] = {"dim=16", "blocks=2", "heads=2", "epochs=2", "batch=32", "max_len=20", NULL};
    crec_model *m1 = train_cfg("bert4rec", &s, kv, 2, 7, 1), *m2 = train_cfg("bert4rec", &s, kv, 1, 7, 1);
    crec_model *m3 = train_cfg("bert4rec", &s, kv, 2, 8, 1);
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


int main(int argc, char **argv) {
    /* libgomp reads its wait policy once, at load: re-execute once with passive waits */
    if (argc >= 1 && !getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_quality_and_scores),
        cmocka_unit_test(test_reproducible),
        };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
