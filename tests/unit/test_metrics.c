/* test_metrics.c: pessimistic ranks, every ranking metric, top-k and the paired test against values
 * computed by hand (the arithmetic is in the comments). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/eval.h"

#define ASSERT_NEAR(a, b, eps)                                                                          \
    do {                                                                                                \
        double a_ = (a), b_ = (b);                                                                      \
        if (!(fabs(a_ - b_) <= (eps))) {                                                                \
            print_error("%s = %.12g, expected %.12g (+-%g)\n", #a, a_, b_, (double)(eps));              \
            fail();                                                                                     \
        }                                                                                               \
    } while (0)

#define EPS 1e-12

static void check_metrics(const crec_metrics_at *m, double hr, double ndcg, double mrr, double recall,
                          double precision, double map) {
    ASSERT_NEAR(m->hr, hr, EPS);
    ASSERT_NEAR(m->ndcg, ndcg, EPS);
    ASSERT_NEAR(m->mrr, mrr, EPS);
    ASSERT_NEAR(m->recall, recall, EPS);
    ASSERT_NEAR(m->precision, precision, EPS);
    ASSERT_NEAR(m->map, map, EPS);
}

/* ---- ranks ---- */

static void test_rank_strict_order(void **state) {
    (void)state;
    /* 20 items, score(i) = 100 - i: item i is at rank i + 1 */
    float s[20];
    for (int i = 0; i < 20; i++) s[i] = (float)(100 - i);
    int32_t t[3] = {0, 2, 10};
    int64_t r[3];
    for (int k = 0; k < 3; k++) {
        assert_int_equal(crec_rank_targets(s, 20, NULL, &t[k], 1, &r[k]), 0);
    }
    assert_int_equal(r[0], 1);
    assert_int_equal(r[1], 3);
    assert_int_equal(r[2], 11);
    /* all three together: other targets do not push a target down when they score lower,
     * and push it by one each when they score higher: 1, 2 + 1 (item 0) = 3, 10 + 1 = 11 */
    int64_t rr[3];
    assert_int_equal(crec_rank_targets(s, 20, NULL, t, 3, rr), 0);
    assert_int_equal(rr[0], 1);
    assert_int_equal(rr[1], 3);
    assert_int_equal(rr[2], 11);
}

static void test_rank_constant_scorer(void **state) {
    (void)state;
    /* 100 items all scored 0: the one target ties all 99 others and ranks after them: rank 100 */
    float s[100];
    for (int i = 0; i < 100; i++) s[i] = 0.0f;
    int32_t t = 37;
    int64_t r;
    assert_int_equal(crec_rank_targets(s, 100, NULL, &t, 1, &r), 0);
    assert_int_equal(r, 100);
    crec_metrics_at m;
    crec_metrics_from_ranks(&r, 1, 10, &m);
    check_metrics(&m, 0, 0, 0, 0, 0, 0);
    /* with the 90 first items excluded: 9 other candidates + 1 = rank 10, HR@10 = 1 */
    uint8_t ex[100] = {0};
    for (int i = 0; i < 90; i++) ex[i] = 1;
    t = 95;
    assert_int_equal(crec_rank_targets(s, 100, ex, &t, 1, &r), 0);
    assert_int_equal(r, 10);
}

static void test_rank_ties_and_exclusion(void **state) {
    (void)state;
    /* item:   0  1  2  3  4  5  6  7  8  9
     * score:  5  3  3  3  3  1  1  1  1  1 ; target 4 ties items 1, 2, 3 (score 3) */
    float s[10] = {5, 3, 3, 3, 3, 1, 1, 1, 1, 1};
    int32_t t = 4;
    int64_t r;
    /* 1 + #{0, 1, 2, 3 have score >= 3} = 5 */
    assert_int_equal(crec_rank_targets(s, 10, NULL, &t, 1, &r), 0);
    assert_int_equal(r, 5);
    /* pessimism does not depend on ids: target 1 tied with 2, 3, 4 also ranks 5 */
    t = 1;
    assert_int_equal(crec_rank_targets(s, 10, NULL, &t, 1, &r), 0);
    assert_int_equal(r, 5);
    /* excluding items 0 and 2: 1 + #{1, 3} = 3 */
    uint8_t ex[10] = {1, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    t = 4;
    assert_int_equal(crec_rank_targets(s, 10, ex, &t, 1, &r), 0);
    assert_int_equal(r, 3);
    /* the mask never depends on the target: an excluded target is no candidate, a miss */
    ex[4] = 1;
    assert_int_equal(crec_rank_targets(s, 10, ex, &t, 1, &r), 0);
    assert_true(r == CREC_RANK_MISS);
    crec_metrics_at at;
    crec_metrics_from_ranks(&r, 1, 10, &at);
    assert_true(at.hr == 0 && at.ndcg == 0 && at.mrr == 0);
    /* two targets, one excluded: the other ranks as if the excluded one were not there (it does not count
     * among the targets that outrank it) */
    int32_t two[2] = {0, 4};
    int64_t r2[2];
    ex[0] = 1;
    ex[4] = 0;
    float s2[10] = {5, 3, 3, 3, 2, 1, 1, 1, 1, 1};
    assert_int_equal(crec_rank_targets(s2, 10, ex, two, 2, r2), 0);
    assert_true(r2[0] == CREC_RANK_MISS);
    assert_int_equal(r2[1], 3); /* 1 + #{1, 3} (2 excluded) */
}

static void test_rank_multiple_targets_and_duplicates(void **state) {
    (void)state;
    /* item:  0  1  2  3  4
     * score: 5  3  3  4  3 ; targets {2, 3, 4}
     * rank(3) = 1 + #{non-targets >= 4: item 0} + #{targets > 4: none}          = 2
     * rank(2) = 1 + #{non-targets >= 3: items 0, 1} + #{targets > 3: item 3}    = 4
     * rank(4) = 4 as well (target 2 ties it, and ties between targets do not count) */
    float s[5] = {5, 3, 3, 4, 3};
    int32_t t[3] = {2, 3, 4};
    int64_t r[3];
    assert_int_equal(crec_rank_targets(s, 5, NULL, t, 3, r), 0);
    assert_int_equal(r[0], 4);
    assert_int_equal(r[1], 2);
    assert_int_equal(r[2], 4);
    /* duplicates: {3, 3, 2} (item 4 is no target now): item 3 is one target, both entries rank 2;
     * item 2 ranks 1 + #{non-targets >= 3: items 0, 1, 4} + #{targets > 3: item 3, once} = 5 (not 6) */
    int32_t d[3] = {3, 3, 2};
    assert_int_equal(crec_rank_targets(s, 5, NULL, d, 3, r), 0);
    assert_int_equal(r[0], 2);
    assert_int_equal(r[1], 2);
    assert_int_equal(r[2], 5);
}

static void test_rank_nan_and_zero(void **state) {
    (void)state;
    /* a NaN never beats a number: target 2 (0.5) is beaten only by item 1 (1.0): rank 2 */
    float s[4] = {NAN, 1.0f, 0.5f, NAN};
    int32_t t = 2;
    int64_t r;
    assert_int_equal(crec_rank_targets(s, 4, NULL, &t, 1, &r), 0);
    assert_int_equal(r, 2);
    /* a NaN target ranks last, after the other NaN too (ties are pessimistic): rank 4 */
    t = 3;
    assert_int_equal(crec_rank_targets(s, 4, NULL, &t, 1, &r), 0);
    assert_int_equal(r, 4);
    /* -inf still beats NaN: target -inf among {NaN, -inf target}: rank 1 */
    float s2[2] = {NAN, -INFINITY};
    t = 1;
    assert_int_equal(crec_rank_targets(s2, 2, NULL, &t, 1, &r), 0);
    assert_int_equal(r, 1);
    /* -0.0 ties +0.0 */
    float s3[2] = {-0.0f, 0.0f};
    assert_int_equal(crec_rank_targets(s3, 2, NULL, &t, 1, &r), 0);
    assert_int_equal(r, 2);
}

static void test_rank_invalid(void **state) {
    (void)state;
    float s[3] = {1, 2, 3};
    int32_t bad = 3, neg = -1;
    int64_t r = -7;
    assert_int_equal(crec_rank_targets(s, 3, NULL, &bad, 1, &r), CREC_EINVAL);
    assert_int_equal(crec_rank_targets(s, 3, NULL, &neg, 1, &r), CREC_EINVAL);
    assert_int_equal(r, -7);
    assert_int_equal(crec_rank_targets(s, 3, NULL, NULL, 0, NULL), 0);
    assert_int_equal(crec_rank_targets(NULL, 3, NULL, &bad, 1, &r), CREC_EINVAL);
}

/* The binary-search ranking equals the definition computed by brute force, on random scores with
 * many ties, random exclusion and up to 150 targets (the heap path for T > 64), with NaNs. */
static void test_rank_matches_brute_force(void **state) {
    (void)state;
    crec_rng rng;
    crec__rng_seed(&rng, 7);
    enum { N = 300 };
    float s[N];
    uint8_t ex[N], is_t[N];
    int32_t t[160];
    int64_t r[160];
    for (int trial = 0; trial < 120; trial++) {
        for (int i = 0; i < N; i++) {
            uint64_t v = crec__rng_below(&rng, 12);
            s[i] = v == 11 ? NAN : (float)v * 0.5f - 2.0f;
            ex[i] = crec__rng_below(&rng, 4) == 0;
            is_t[i] = 0;
        }
        int T = 1 + (int)crec__rng_below(&rng, trial % 2 ? 150 : 5);
        if (trial % 4 < 2) /* half the trials: no excluded target (the rank_candidates paths alone) */
            for (int i = 0; i < N; i++) ex[i] = 0;
        for (int k = 0; k < T; k++) {
            t[k] = (int32_t)crec__rng_below(&rng, N);
            is_t[t[k]] = 1;
        }
        assert_int_equal(crec_rank_targets(s, N, ex, t, T, r), 0);
        for (int k = 0; k < T; k++) {
            float st = s[t[k]];
            int64_t want = 1;
            if (ex[t[k]]) { /* excluded target: a miss */
                if (r[k] != CREC_RANK_MISS) {
                    print_error("trial %d target %d: excluded but rank %lld\n", trial, k, (long long)r[k]);
                    fail();
                }
                continue;
            }
            for (int j = 0; j < N; j++) {
                int ge, gt; /* NaN below everything, NaN == NaN */
                if (isnan(st)) {
                    ge = 1;
                    gt = !isnan(s[j]);
                } else {
                    ge = !isnan(s[j]) && s[j] >= st;
                    gt = !isnan(s[j]) && s[j] > st;
                }
                if (is_t[j]) want += gt && !ex[j];
                else if (!ex[j]) want += ge;
            }
            if (r[k] != want) {
                print_error("trial %d target %d: rank %lld, brute force %lld\n", trial, k, (long long)r[k],
                            (long long)want);
                fail();
            }
        }
    }
}

/* ---- metrics from ranks ---- */

static void test_metrics_single_target(void **state) {
    (void)state;
    crec_metrics_at m;
    int64_t r = 1;
    /* rank 1, K=5: HR 1, NDCG 1/log2(2) / 1 = 1, MRR 1, Recall 1/1, Precision 1/5, MAP (1/1)/1 */
    crec_metrics_from_ranks(&r, 1, 5, &m);
    check_metrics(&m, 1, 1, 1, 1, 0.2, 1);
    /* K=10: Precision 1/10 */
    crec_metrics_from_ranks(&r, 1, 10, &m);
    check_metrics(&m, 1, 1, 1, 1, 0.1, 1);
    /* rank 3, K=5: NDCG = 1/log2(4) = 0.5, MRR 1/3, Precision 1/5, MAP = (1/3)/1 */
    r = 3;
    crec_metrics_from_ranks(&r, 1, 5, &m);
    check_metrics(&m, 1, 0.5, 1.0 / 3, 1, 0.2, 1.0 / 3);
    crec_metrics_from_ranks(&r, 1, 10, &m);
    check_metrics(&m, 1, 0.5, 1.0 / 3, 1, 0.1, 1.0 / 3);
    /* rank 11: a miss at K=5 and K=10; at K=11 NDCG = 1/log2(12), MRR 1/11, Precision 1/11 */
    r = 11;
    crec_metrics_from_ranks(&r, 1, 5, &m);
    check_metrics(&m, 0, 0, 0, 0, 0, 0);
    crec_metrics_from_ranks(&r, 1, 10, &m);
    check_metrics(&m, 0, 0, 0, 0, 0, 0);
    crec_metrics_from_ranks(&r, 1, 11, &m);
    check_metrics(&m, 1, 1 / log2(12.0), 1.0 / 11, 1, 1.0 / 11, 1.0 / 11);
}

static void test_metrics_multiple_targets(void **state) {
    (void)state;
    crec_metrics_at m;
    /* ranks {1, 4}, T=2, K=5:
     * NDCG = (1/log2(2) + 1/log2(5)) / (1/log2(2) + 1/log2(3)) = 0.877215315338...
     * MRR = 1, Recall 2/2, Precision 2/5, MAP = (1/1 + 2/4) / min(2, 5) = 0.75 */
    int64_t a[2] = {1, 4};
    crec_metrics_from_ranks(a, 2, 5, &m);
    check_metrics(&m, 1, (1 + 1 / log2(5.0)) / (1 + 1 / log2(3.0)), 1, 1, 0.4, 0.75);
    ASSERT_NEAR(m.ndcg, 0.8772153153380493, 1e-12);
    /* order of the ranks does not matter */
    int64_t b[2] = {4, 1};
    crec_metrics_from_ranks(b, 2, 5, &m);
    check_metrics(&m, 1, (1 + 1 / log2(5.0)) / (1 + 1 / log2(3.0)), 1, 1, 0.4, 0.75);
    /* ranks {2, 7}, K=5: one hit at 2: NDCG = (1/log2(3)) / (1 + 1/log2(3)), MRR 1/2,
     * Recall 1/2, Precision 1/5, MAP = (1/2) / 2 = 0.25 */
    int64_t c[2] = {7, 2};
    crec_metrics_from_ranks(c, 2, 5, &m);
    check_metrics(&m, 1, (1 / log2(3.0)) / (1 + 1 / log2(3.0)), 0.5, 0.5, 0.2, 0.25);
    /* ranks {1, 2, 3}, T=3, K=2: two hits; IDCG over min(3, 2) = 2 positions so NDCG = 1,
     * Recall 2/3, Precision 2/2, MAP = (1/1 + 2/2) / 2 = 1 */
    int64_t d[3] = {3, 1, 2};
    crec_metrics_from_ranks(d, 3, 2, &m);
    check_metrics(&m, 1, 1, 1, 2.0 / 3, 1, 1);
}

static void test_metrics_tied_targets(void **state) {
    (void)state;
    crec_metrics_at m;
    /* two targets tied at the top both get rank 1 (eval.h); they occupy positions 1 and 2:
     * NDCG = (1 + 1/log2(3)) / (1 + 1/log2(3)) = 1 (never above 1), MAP = (1/1 + 2/2)/2 = 1 */
    int64_t a[2] = {1, 1};
    crec_metrics_from_ranks(a, 2, 5, &m);
    check_metrics(&m, 1, 1, 1, 1, 0.4, 1);
    /* tied at rank 5 with K=5: positions 5 and 6, only one fits:
     * NDCG = (1/log2(6)) / (1 + 1/log2(3)), MRR 1/5, Recall 1/2, Precision 1/5, MAP = (1/5)/2 */
    int64_t b[2] = {5, 5};
    crec_metrics_from_ranks(b, 2, 5, &m);
    check_metrics(&m, 1, (1 / log2(6.0)) / (1 + 1 / log2(3.0)), 0.2, 0.5, 0.2, 0.1);
    /* degenerate input gives zeros */
    crec_metrics_from_ranks(a, 0, 5, &m);
    check_metrics(&m, 0, 0, 0, 0, 0, 0);
    crec_metrics_from_ranks(a, 2, 0, &m);
    check_metrics(&m, 0, 0, 0, 0, 0, 0);
}

/* ---- top-k ---- */

static void test_topk_order_ties_exclusion(void **state) {
    (void)state;
    /* item:  0    1    2    3    4    5
     * score: 0.5  0.9  0.1  0.9  NaN  0.7 */
    float s[6] = {0.5f, 0.9f, 0.1f, 0.9f, NAN, 0.7f};
    int32_t out[10];
    /* 1 and 3 tie at 0.9: the lower id first */
    assert_int_equal(crec_topk(s, 6, NULL, 3, out), 3);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 3);
    assert_int_equal(out[2], 5);
    /* excluding item 1 */
    uint8_t ex[6] = {0, 1, 0, 0, 0, 0};
    assert_int_equal(crec_topk(s, 6, ex, 3, out), 3);
    assert_int_equal(out[0], 3);
    assert_int_equal(out[1], 5);
    assert_int_equal(out[2], 0);
    /* k larger than the candidates: 5 returned, NaN last */
    assert_int_equal(crec_topk(s, 6, ex, 10, out), 5);
    int32_t want[5] = {3, 5, 0, 2, 4};
    for (int i = 0; i < 5; i++) assert_int_equal(out[i], want[i]);
    /* NaN never beats a number, even -inf */
    float s2[3] = {NAN, NAN, -INFINITY};
    assert_int_equal(crec_topk(s2, 3, NULL, 1, out), 1);
    assert_int_equal(out[0], 2);
    assert_int_equal(crec_topk(s2, 3, NULL, 3, out), 3);
    assert_int_equal(out[1], 0);
    assert_int_equal(out[2], 1);
    assert_int_equal(crec_topk(s, 6, NULL, 0, out), 0);
}

static const float *topk_ref_scores;
static int topk_ref_cmp(const void *a, const void *b) {
    const float *s = topk_ref_scores;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    int nx = isnan(s[x]), ny = isnan(s[y]);
    if (nx != ny) return nx - ny;
    if (!nx && s[x] != s[y]) return s[x] > s[y] ? -1 : 1;
    return (x > y) - (x < y);
}

/* The heap selection equals a full sort by (score desc, id asc) on random data with ties and NaNs. */
static void test_topk_matches_sort(void **state) {
    (void)state;
    enum { N = 500 };
    float s[N];
    uint8_t ex[N];
    int32_t all[N], out[64];
    crec_rng rng;
    crec__rng_seed(&rng, 3);
    for (int trial = 0; trial < 20; trial++) {
        int n = 0;
        for (int i = 0; i < N; i++) {
            uint64_t v = crec__rng_below(&rng, 30);
            /* every 4th trial is 90% NaN: the heap's worst is NaN for a long time */
            s[i] = (v == 0 || (trial % 4 == 3 && v < 27)) ? NAN : (float)v;
            ex[i] = crec__rng_below(&rng, 3) == 0;
            if (!ex[i]) all[n++] = i;
        }
        topk_ref_scores = s;
        qsort(all, (size_t)n, sizeof *all, topk_ref_cmp);
        int k = 1 + trial * 3;
        int got = crec_topk(s, N, ex, k, out);
        assert_int_equal(got, k < n ? k : n);
        for (int i = 0; i < got; i++) assert_int_equal(out[i], all[i]);
    }
}

/* ---- paired comparison ---- */

static void test_paired_t_known_values(void **state) {
    (void)state;
    crec_paired_test p;
    /* d = {1, 2, 3, 4, 5}: mean 3, sd = sqrt(10/4), se = sqrt(2.5/5) = sqrt(0.5), t = 3/sqrt(0.5) = 4.2426;
     * df = 4 has a closed form: F(t) = 1/2 + 3/8 * t/sqrt(1 + t^2/4) * (1 - (t^2/(1 + t^2/4))/12),
     * p = 2 (1 - F(t)) = 0.0132355995637 (also by numerical integration of the density) */
    double a[5] = {0, 0, 0, 0, 0}, b[5] = {1, 2, 3, 4, 5};
    assert_int_equal(crec_paired_compare(a, b, 5, 0, 1, &p), 0);
    assert_int_equal(p.n, 5);
    ASSERT_NEAR(p.mean_a, 0, EPS);
    ASSERT_NEAR(p.mean_b, 3, EPS);
    ASSERT_NEAR(p.mean_diff, 3, EPS);
    ASSERT_NEAR(p.t, 4.242640687119285, 1e-9);
    ASSERT_NEAR(p.p_value, 0.013235599563682587, 1e-9);
    /* df = 1 is Cauchy: d = {1, 3}: mean 2, se = sqrt(2)/sqrt(2) = 1, t = 2, p = 1 - (2/pi) atan(2) */
    double a1[2] = {1, 1}, b1[2] = {2, 4};
    assert_int_equal(crec_paired_compare(a1, b1, 2, 100, 1, &p), 0);
    ASSERT_NEAR(p.t, 2, 1e-12);
    ASSERT_NEAR(p.p_value, 1 - 2 / M_PI * atan(2.0), 1e-9);
    /* df = 2: d = {1, 2, 4}: mean 7/3, var 7/3, se = sqrt(7/9), t = sqrt(7), p = 1 - t/sqrt(2 + t^2)
     * = 1 - sqrt(7)/3 = 0.118082896; b < a flips the sign of t, not p */
    double a2[3] = {1, 2, 4}, b2[3] = {0, 0, 0};
    assert_int_equal(crec_paired_compare(a2, b2, 3, 100, 1, &p), 0);
    ASSERT_NEAR(p.t, -sqrt(7.0), 1e-12);
    ASSERT_NEAR(p.p_value, 1 - sqrt(7.0) / 3, 1e-9);
    /* no difference at all: t = 0, p = 1; a constant non-zero difference: p = 0 */
    assert_int_equal(crec_paired_compare(a, a, 5, 10, 1, &p), 0);
    ASSERT_NEAR(p.t, 0, 0);
    ASSERT_NEAR(p.p_value, 1, 0);
    double c[3] = {1, 1, 1}, c2[3] = {2, 2, 2};
    assert_int_equal(crec_paired_compare(c, c2, 3, 10, 1, &p), 0);
    ASSERT_NEAR(p.p_value, 0, 0);
    ASSERT_NEAR(p.ci_lo, 1, EPS);
    ASSERT_NEAR(p.ci_hi, 1, EPS);
    /* errors */
    assert_int_equal(crec_paired_compare(a, b, 1, 10, 1, &p), CREC_EINVAL);
    double bad[2] = {NAN, 1};
    assert_int_equal(crec_paired_compare(bad, b, 2, 10, 1, &p), CREC_EINVAL);
}

static void test_paired_bootstrap(void **state) {
    (void)state;
    /* 200 users, b - a = 0.1 + noise in {-0.05, ..., 0.05}: the true mean difference is known */
    enum { N = 200 };
    double a[N], b[N], sum = 0;
    for (int i = 0; i < N; i++) {
        a[i] = (i % 7) * 0.1;
        b[i] = a[i] + 0.1 + ((i % 11) - 5) * 0.01;
        sum += b[i] - a[i];
    }
    double mean = sum / N;
    crec_paired_test p1, p2, p3;
    assert_int_equal(crec_paired_compare(a, b, N, 1000, 42, &p1), 0);
    ASSERT_NEAR(p1.mean_diff, mean, 1e-12);
    assert_true(p1.ci_lo < mean && mean < p1.ci_hi);
    assert_true(p1.ci_hi - p1.ci_lo < 0.02); /* se ~ 0.032/sqrt(200) = 0.0023; 95% width ~ 0.009 */
    assert_true(p1.p_value < 1e-10);
    /* deterministic for a seed, different for another */
    assert_int_equal(crec_paired_compare(a, b, N, 1000, 42, &p2), 0);
    assert_true(p1.ci_lo == p2.ci_lo && p1.ci_hi == p2.ci_hi);
    assert_int_equal(crec_paired_compare(a, b, N, 1000, 43, &p3), 0);
    assert_true(p1.ci_lo != p3.ci_lo || p1.ci_hi != p3.ci_hi);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_strict_order),
        cmocka_unit_test(test_rank_constant_scorer),
        cmocka_unit_test(test_rank_ties_and_exclusion),
        cmocka_unit_test(test_rank_multiple_targets_and_duplicates),
        cmocka_unit_test(test_rank_nan_and_zero),
        cmocka_unit_test(test_rank_invalid),
        cmocka_unit_test(test_rank_matches_brute_force),
        cmocka_unit_test(test_metrics_single_target),
        cmocka_unit_test(test_metrics_multiple_targets),
        cmocka_unit_test(test_metrics_tied_targets),
        cmocka_unit_test(test_topk_order_ties_exclusion),
        cmocka_unit_test(test_topk_matches_sort),
        cmocka_unit_test(test_paired_t_known_values),
        cmocka_unit_test(test_paired_bootstrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
