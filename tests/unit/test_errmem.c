/* test_errmem.c: ReLoop2's error memory (src/online/errmem.c): the correction equals the hand-computed weighted
 * residuals of the nearest stored requests; dissimilar requests (cos <= 0) are never used; the FIFO forgets the
 * oldest entry; LSH finds a stored key among many. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/online.h"

static crec_errmem *mem(int dim, int capacity, int k) {
    crec_errmem_opts o;
    crec_errmem_opts_default(&o, dim);
    o.capacity = capacity;
    o.k = k;
    o.bits = 4;
    crec_errmem *m = crec_errmem_new(&o);
    assert_non_null(m);
    return m;
}

static void test_hand_values(void **st) {
    (void)st;
    crec_errmem *m = mem(4, 16, 4);
    float e1[4] = {1, 0, 0, 0}, e2[4] = {0, 1, 0, 0}, e1s[4] = {3, 0, 0, 0};
    float sc[5] = {0};
    /* empty: nothing */
    assert_int_equal(crec_errmem_correct(m, e1, 1, sc, 5), 0);
    /* one entry: exactly lambda * residual on its item (weight 1), whatever the key's length */
    assert_int_equal(crec_errmem_add(m, e1, 2, 0.5f), 0);
    assert_int_equal(crec_errmem_correct(m, e1s, 2.0f, sc, 5), 1);
    assert_true(fabsf(sc[2] - 1.0f) < 1e-6f && sc[0] == 0 && sc[1] == 0 && sc[3] == 0);
    /* an orthogonal request gets no correction */
    memset(sc, 0, sizeof sc);
    assert_int_equal(crec_errmem_correct(m, e2, 1, sc, 5), 0);
    for (int i = 0; i < 5; i++) assert_true(sc[i] == 0);
    /* two entries with the same key: weights 1/2 each */
    assert_int_equal(crec_errmem_add(m, e1, 3, -0.25f), 0);
    memset(sc, 0, sizeof sc);
    assert_int_equal(crec_errmem_correct(m, e1, 1, sc, 5), 2);
    assert_true(fabsf(sc[2] - 0.25f) < 1e-6f && fabsf(sc[3] + 0.125f) < 1e-6f);
    assert_int_equal(crec_errmem_add(m, e2, 4, 1.0f), 0);
    /* items past n_items are skipped, not written */
    float small[2] = {0, 0};
    assert_true(crec_errmem_correct(m, e1, 1, small, 2) >= 0);
    assert_int_equal(crec_errmem_size(m), 3);
    /* bad input and a zero key */
    float z[4] = {0};
    assert_int_equal(crec_errmem_add(m, z, 1, 1), 0);
    assert_int_equal(crec_errmem_size(m), 3);
    assert_int_equal(crec_errmem_add(m, e1, -1, 1), CREC_EINVAL);
    assert_int_equal(crec_errmem_add(m, e1, 1, NAN), CREC_EINVAL);
    crec_errmem_free(m);
    crec_errmem_opts o;
    crec_errmem_opts_default(&o, 0);
    assert_null(crec_errmem_new(&o));
}

/* With one table of 1 bit every key with a positive first-plane product shares a bucket: the exact softmax
 * weights are then checkable. */
static void test_softmax_weights(void **st) {
    (void)st;
    int exact = 0;
    for (uint64_t seed = 1; seed <= 32 && !exact; seed++) {
        crec_errmem_opts o;
        crec_errmem_opts_default(&o, 2);
        o.tables = 1;
        o.bits = 1;
        o.capacity = 8;
        o.k = 8;
        o.temp = 0.5f;
        o.seed = seed;
        crec_errmem *m = crec_errmem_new(&o);
        float a[2] = {1, 0}, b[2] = {0.6f, 0.8f}, q[2] = {0.8f, 0.6f};
        assert_int_equal(crec_errmem_add(m, a, 0, 1.0f), 0);
        assert_int_equal(crec_errmem_add(m, b, 1, -2.0f), 0);
        float sc[2] = {0, 0};
        int used = crec_errmem_correct(m, q, 1, sc, 2);
        if (used == 2) { /* the seed's hyperplane left all three on one side: weights softmax(cos / 0.5) */
            double wa = exp(0.8 / 0.5), wb = exp(0.96 / 0.5);
            double want0 = wa / (wa + wb), want1 = -2 * wb / (wa + wb);
            if (fabs(sc[0] - want0) > 1e-5 || fabs(sc[1] - want1) > 1e-5)
                fail_msg("corrections %g %g, want %g %g", sc[0], sc[1], want0, want1);
            exact = 1;
        } else { /* split by the hyperplane: whatever was used has weight 1 */
            assert_true(used <= 1);
            assert_true(fabs(sc[0] + sc[1] / -2.0 - (used ? 1.0 : 0.0)) < 1e-6);
        }
        crec_errmem_free(m);
    }
    assert_true(exact);
}

/* The FIFO: capacity 2, a third entry overwrites the first, which is no longer found. */
static void test_fifo(void **st) {
    (void)st;
    crec_errmem *m = mem(3, 2, 4);
    float e1[3] = {1, 0, 0}, e2[3] = {0, 1, 0}, e3[3] = {0, 0, 1};
    crec_errmem_add(m, e1, 0, 1);
    crec_errmem_add(m, e2, 1, 1);
    float sc[3] = {0};
    assert_int_equal(crec_errmem_correct(m, e1, 1, sc, 3), 1);
    crec_errmem_add(m, e3, 2, 1);
    memset(sc, 0, sizeof sc);
    assert_int_equal(crec_errmem_correct(m, e1, 1, sc, 3), 0);
    assert_true(sc[0] == 0);
    memset(sc, 0, sizeof sc);
    assert_int_equal(crec_errmem_correct(m, e3, 1, sc, 3), 1);
    assert_true(fabsf(sc[2] - 1) < 1e-6f);
    assert_int_equal(crec_errmem_size(m), 2);
    crec_errmem_free(m);
}

/* Among 2000 random keys, a slightly perturbed copy of one finds it (its item gets the largest correction). */
static void test_lsh_recall(void **st) {
    (void)st;
    enum { D = 32, N = 2000 };
    crec_errmem_opts o;
    crec_errmem_opts_default(&o, D);
    o.capacity = N;
    crec_errmem *m = crec_errmem_new(&o);
    crec_rng r;
    crec__rng_seed(&r, 5);
    float *keys = malloc((size_t)N * D * sizeof *keys);
    for (int i = 0; i < N * D; i++) keys[i] = (float)crec__rng_normal(&r);
    for (int i = 0; i < N; i++) assert_int_equal(crec_errmem_add(m, keys + (size_t)i * D, i, 1.0f), 0);
    int found = 0;
    float *sc = calloc(N, sizeof *sc);
    for (int t = 0; t < 50; t++) {
        int i = (int)crec__rng_below(&r, N);
        float q[D];
        for (int d = 0; d < D; d++) q[d] = keys[(size_t)i * D + d] + 0.1f * (float)crec__rng_normal(&r);
        memset(sc, 0, N * sizeof *sc);
        crec_errmem_correct(m, q, 1, sc, N);
        int best = 0;
        for (int j = 1; j < N; j++)
            if (sc[j] > sc[best]) best = j;
        found += best == i;
    }
    if (found < 45) fail_msg("LSH found the stored key %d / 50 times", found);
    free(sc);
    free(keys);
    crec_errmem_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_values),
        cmocka_unit_test(test_softmax_weights),
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_lsh_recall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
