/* genrectest.h: checks shared by the genrec unit tests (include after cmocka.h): beam search against brute force,
 * a checkpoint round trip giving the same lists. */
#ifndef CREC_GENRECTEST_H
#define CREC_GENRECTEST_H

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "crec/crec.h"
#include "models/genrec.h"

/* Beam search's top 10 for user u is brute force's (bf: every item's exact score, filled by the caller): the best
 * score, and each listed item's score, to 1e-4. */
static inline void assert_top10_is_bruteforce(crec_model *m, int32_t u, const int32_t *h, int n, const float *bf,
                                       int32_t NI) {
    crec_context ctx = {.user = u, .hist = h, .n_hist = n};
    int32_t items[10];
    float sc[10];
    assert_int_equal(crec_model_recommend(m, &ctx, NULL, 10, items, sc, NULL), 10);
    float best = -INFINITY;
    for (int32_t i = 0; i < NI; i++) best = bf[i] > best ? bf[i] : best;
    assert_true(fabsf(sc[0] - best) < 1e-4f); /* the callers' beam (64) holds every prefix of their tries */
    for (int r = 0; r < 10; r++) assert_true(fabsf(bf[items[r]] - sc[r]) < 1e-4f);
}

/* assert_top10_is_bruteforce for users 0 .. nu - 1 of tr (their rows as histories; empty rows skipped). */
static inline void assert_users_top10_bruteforce(crec_model *m, const crec_csr *tr, int32_t nu, int32_t NI) {
    float *bf = malloc((size_t)NI * sizeof *bf);
    assert_non_null(bf);
    for (int32_t u = 0; u < nu; u++) {
        const int32_t *h = tr->idx + tr->ptr[u];
        int n = (int)(tr->ptr[u + 1] - tr->ptr[u]);
        if (n == 0) continue;
        assert_int_equal(crec__genrec_bruteforce(m, u, h, n, bf), 0);
        assert_top10_is_bruteforce(m, u, h, n, bf, NI);
    }
    free(bf);
}

/* A checkpoint round trip of m recommends user u (history: its rows of tr) the same items with the same bits. */
static inline void assert_roundtrip_same_top10(crec_model *m, const crec_csr *tr, int32_t u) {
    char mp[] = "/tmp/crec_test_genrec_rt_XXXXXX";
    int fd = mkstemp(mp);
    close(fd);
    assert_int_equal(crec_model_save(m, mp), 0);
    crec_model *m2 = NULL;
    assert_int_equal(crec_model_load(mp, &m2), 0);
    crec_context ctx = {.user = u, .hist = tr->idx + tr->ptr[u], .n_hist = (int32_t)(tr->ptr[u + 1] - tr->ptr[u])};
    int32_t a[10], b[10];
    float sa[10], sb[10];
    assert_int_equal(crec_model_recommend(m, &ctx, NULL, 10, a, sa, NULL), 10);
    assert_int_equal(crec_model_recommend(m2, &ctx, NULL, 10, b, sb, NULL), 10);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(sa, sb, sizeof sa);
    unlink(mp);
    crec_model_free(m2);
}

#endif
