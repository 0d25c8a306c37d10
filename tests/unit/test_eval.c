/* test_eval.c: crec_evaluate on a hand-built split (4 users, 6 items) with fixed-score models, checked
 * against metrics computed by hand; reports (JSON, table, per-user TSV); determinism across threads.
 *
 * The split (items in time order):
 *   user   train      valid  test
 *   u0     0 1        2      3
 *   u1     3          0      2
 *   u2     -          -      0
 *   u3     4 5 1      1      -        (u3 re-consumes item 1; it has no test item)
 * The FIXED model scores item i as 6 - i for every user: item 0 is best, item 5 worst.
 * Training counts: item 0: 1, item 1: 2, item 2: 0, item 3: 1, item 4: 1, item 5: 1; nnz = 6. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/eval.h"
#include "testutil.h"
#include "nn/nn.h"

#define ASSERT_NEAR(a, b, eps)                                                                          \
    do {                                                                                                \
        double a_ = (a), b_ = (b);                                                                      \
        if (!(fabs(a_ - b_) <= (eps))) {                                                                \
            print_error("%s = %.12g, expected %.12g (+-%g)\n", #a, a_, b_, (double)(eps));              \
            fail();                                                                                     \
        }                                                                                               \
    } while (0)
#define EPS 1e-12

/* ---- the hand-built split ---- */
static int64_t tr_ptr[5] = {0, 2, 3, 3, 6};
static int32_t tr_idx[6] = {0, 1, 3, 4, 5, 1};
static int64_t tr_ts[6] = {10, 11, 10, 10, 11, 12};
static float tr_val[6] = {1, 1, 1, 1, 1, 1};
static int64_t va_ptr[5] = {0, 1, 2, 2, 3};
static int32_t va_idx[3] = {2, 0, 1};
static int64_t va_ts[3] = {12, 11, 13};
static float va_val[3] = {1, 1, 1};
static int64_t te_ptr[5] = {0, 1, 2, 3, 3};
static int32_t te_idx[3] = {3, 2, 0};
static int64_t te_ts[3] = {13, 12, 5};
static float te_val[3] = {1, 1, 1};

static crec_split tiny_split(void) {
    crec_split s;
    memset(&s, 0, sizeof s);
    s.spec.kind = CREC_SPLIT_LOO;
    s.train = (crec_csr){4, 6, tr_ptr, tr_idx, tr_ts, tr_val};
    s.valid = (crec_csr){4, 6, va_ptr, va_idx, va_ts, va_val};
    s.test = (crec_csr){4, 6, te_ptr, te_idx, te_ts, te_val};
    return s;
}

/* ---- fixed-score models ---- */
enum { M_FIXED, M_ORACLE, M_CONST, M_HASH, M_FAIL };
typedef struct test_model {
    int kind;
    const crec_split *s; /* oracle: knows the test items */
} test_model;

/* What the model was given, per user (each user is scored once per evaluation, by one thread). */
static int32_t seen_hist[4][8], seen_n[4];
static int64_t seen_ts[4][8];
static int seen_has_ts[4];

static int test_score(const crec_model *m, const crec_context *ctx, float *scores) {
    const test_model *tm = m->state;
    if (ctx->user >= 0 && ctx->user < 4 && ctx->n_hist <= 8) {
        seen_n[ctx->user] = ctx->n_hist;
        seen_has_ts[ctx->user] = ctx->hist_ts != NULL;
        for (int32_t k = 0; k < ctx->n_hist; k++) {
            seen_hist[ctx->user][k] = ctx->hist[k];
            seen_ts[ctx->user][k] = ctx->hist_ts ? ctx->hist_ts[k] : -1;
        }
    }
    for (int32_t i = 0; i < m->n_items; i++) {
        switch (tm->kind) {
        case M_FIXED: scores[i] = (float)(6 - i); break;
        case M_CONST:
        case M_ORACLE: scores[i] = 0; break;
        case M_HASH: { /* pseudo-random, 8 levels: many ties */
            uint32_t key[2] = {(uint32_t)ctx->user, (uint32_t)i};
            scores[i] = (float)(crec__fnv1a(key, sizeof key) % 8);
            break;
        }
        case M_FAIL: return CREC_ESTATE;
        }
    }
    if (tm->kind == M_ORACLE)
        for (int64_t p = tm->s->test.ptr[ctx->user]; p < tm->s->test.ptr[ctx->user + 1]; p++)
            scores[tm->s->test.idx[p]] = 1;
    return 0;
}

static const crec_param_def test_params[] = {CREC_P_INT("dim", "16", 1, 4096, "width"), CREC_P_FLOAT("reg", "0.01", 0, 1, "l2"), CREC_P_END};
static const crec_model_type test_type = {.name = "testfixed", .summary = "fixed scores", .params = test_params,
                                          .score = test_score};

static crec_model make_model(test_model *tm, int32_t n_users, int32_t n_items) {
    crec_model m;
    memset(&m, 0, sizeof m);
    m.type = &test_type;
    m.state = tm;
    m.n_users = n_users;
    m.n_items = n_items;
    strcpy(m.split, "loo");
    strcpy(m.data_name, "tiny");
    m.cfg.n = 1;
    strcpy(m.cfg.key[0], "dim");
    strcpy(m.cfg.val[0], "32");
    m.train_seconds = 0.5;
    return m;
}

static crec_eval_opts opts_k12(void) {
    crec_eval_opts o;
    crec_eval_opts_defaults(&o);
    o.ks[0] = 1;
    o.ks[1] = 2;
    o.n_ks = 2;
    o.n_threads = 1;
    return o;
}

/* A dataset that only carries user names and item attributes:
 * item 0: {a}, 1: {a, b}, 2: {b}, 3: {}, 4: {c}, 5: {c} (attribute ids a=0, b=1, c=2). */
static char n_alice[] = "alice", n_bob[] = "bob", n_carol[] = "carol", n_dave[] = "dave";
static char *user_names[4] = {n_alice, n_bob, n_carol, n_dave};
static int64_t attr_ptr[7] = {0, 1, 3, 4, 4, 5, 6};
static int32_t attr_idx[6] = {0, 0, 1, 1, 2, 2};

static crec_dataset tiny_dataset(void) {
    crec_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.users.names = user_names;
    ds.users.n = 4;
    ds.items.n = 6;
    ds.attr_ptr = attr_ptr;
    ds.attr_idx = attr_idx;
    strcpy(ds.name, "tiny");
    return ds;
}

/* ---- accuracy by hand ---- */

static void test_eval_fixed_filter_seen(void **state) {
    (void)state;
    crec_split s = tiny_split();
    test_model tm = {M_FIXED, &s};
    crec_model m = make_model(&tm, 4, 6);
    crec_eval_opts o = opts_k12();
    crec_eval_result r;
    /* target = test, seen excluded. u3 has no test item: 3 users.
     * u0: history {0,1,2} excluded, candidates {3,4,5}: target 3 is best, rank 1
     * u1: history {3,0} excluded, candidates {1,2,4,5}: item 1 beats target 2, rank 2
     * u2: no history: target 0 is best, rank 1
     * HR@1 = NDCG@1 = (1 + 0 + 1)/3; HR@2 = 1; NDCG@2 = (1 + 1/log2(3) + 1)/3;
     * MRR@2 = (1 + 1/2 + 1)/3; Precision@2 = 1/2; MAP@2 = (1 + 1/2 + 1)/3 */
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    assert_int_equal(r.n_users, 3);
    assert_int_equal(r.n_items, 6);
    assert_int_equal(r.n_ks, 2);
    ASSERT_NEAR(r.at[0].hr, 2.0 / 3, EPS);
    ASSERT_NEAR(r.at[0].ndcg, 2.0 / 3, EPS);
    ASSERT_NEAR(r.at[1].hr, 1, EPS);
    ASSERT_NEAR(r.at[1].ndcg, (2 + 1 / log2(3.0)) / 3, EPS);
    ASSERT_NEAR(r.at[1].mrr, 2.5 / 3, EPS);
    ASSERT_NEAR(r.at[1].recall, 1, EPS);
    ASSERT_NEAR(r.at[1].precision, 0.5, EPS);
    ASSERT_NEAR(r.at[1].map, 2.5 / 3, EPS);
    assert_string_equal(r.protocol,
                        "full ranking over 6 items, seen items excluded, split=loo, target=test, K=1,2, users=3");
    /* the history given to the model: train then valid, in time order, with timestamps */
    assert_int_equal(seen_n[0], 3);
    assert_int_equal(seen_hist[0][0], 0);
    assert_int_equal(seen_hist[0][1], 1);
    assert_int_equal(seen_hist[0][2], 2);
    assert_int_equal(seen_ts[0][2], 12);
    assert_int_equal(seen_has_ts[0], 1);
    assert_int_equal(seen_n[1], 2);
    assert_int_equal(seen_hist[1][0], 3);
    assert_int_equal(seen_hist[1][1], 0);
    assert_int_equal(seen_n[2], 0);

    /* seen items kept: u0: items 0,1,2 beat 3, rank 4; u1: items 0,1 beat 2, rank 3; u2: rank 1.
     * HR@1 = HR@2 = NDCG@1 = NDCG@2 = 1/3 */
    o.filter_seen = 0;
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    ASSERT_NEAR(r.at[0].hr, 1.0 / 3, EPS);
    ASSERT_NEAR(r.at[0].ndcg, 1.0 / 3, EPS);
    ASSERT_NEAR(r.at[1].hr, 1.0 / 3, EPS);
    ASSERT_NEAR(r.at[1].ndcg, 1.0 / 3, EPS);
    assert_string_equal(r.protocol,
                        "full ranking over 6 items, seen items kept, split=loo, target=test, K=1,2, users=3");

    /* max_users = 2: u0 and u1 only: HR@1 = 1/2 */
    o.filter_seen = 1;
    o.max_users = 2;
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    assert_int_equal(r.n_users, 2);
    ASSERT_NEAR(r.at[0].hr, 0.5, EPS);
}

static void test_eval_valid_target(void **state) {
    (void)state;
    crec_split s = tiny_split();
    test_model tm = {M_FIXED, &s};
    crec_model m = make_model(&tm, 4, 6);
    crec_eval_opts o = opts_k12();
    o.target = CREC_EVAL_VALID;
    crec_eval_result r;
    memset(seen_n, 0xff, sizeof seen_n);
    /* target = valid, history = train only. u2 has no valid item: 3 users.
     * u0: history {0,1}: target 2 is the best candidate, rank 1
     * u1: history {3}: target 0 is best, rank 1
     * u3: history {4,5,1}, target 1 repeats a history item: excluded like every seen item, a miss
     * HR@1 = HR@2 = NDCG@2 = 2/3 */
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    assert_int_equal(r.n_users, 3);
    assert_int_equal(r.n_users_masked, 1);
    assert_int_equal(r.n_targets_masked, 1);
    ASSERT_NEAR(r.at[0].hr, 2.0 / 3, EPS);
    ASSERT_NEAR(r.at[1].hr, 2.0 / 3, EPS);
    ASSERT_NEAR(r.at[1].ndcg, 2.0 / 3, EPS);
    assert_string_equal(r.protocol,
                        "full ranking over 6 items, seen items excluded, split=loo, target=valid, K=1,2, users=3 "
                        "(1 with a target repeating a history item counted as a miss)");
    /* the validation item is not in the history now */
    assert_int_equal(seen_n[0], 2);
    assert_int_equal(seen_hist[0][0], 0);
    assert_int_equal(seen_hist[0][1], 1);
    assert_int_equal(seen_n[3], 3);
    assert_int_equal(seen_hist[3][2], 1);
    assert_int_equal(seen_n[2], -1); /* u2 was never scored */
    /* the repeat target is excluded from the top-K lists like every seen item (the mask does not depend
     * on the target): lists @2: u0 (excl 0,1) {2,3}, u1 (excl 3) {0,1}, u3 (excl 4,5,1) {0,2}
     * MeanPop@2 = (0 + 1 + 1 + 2 + 1 + 0)/6 = 5/6 (7/6 if the target were let through for u3) */
    ASSERT_NEAR(r.mean_pop[1], 5.0 / 6, EPS);

    /* keep seen: nothing excluded. u0 target 2 after items 0, 1: rank 3; u1 target 0: rank 1;
     * u3 target 1 after item 0: rank 2. HR@1 = 1/3, HR@2 = 2/3 */
    o.filter_seen = 0;
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    assert_int_equal(r.n_users_masked, 0);
    ASSERT_NEAR(r.at[0].hr, 1.0 / 3, EPS);
    ASSERT_NEAR(r.at[1].hr, 2.0 / 3, EPS);
}

/* Repeat consumption (issue 18): a scorer that puts the user's history first. With seen items filtered a
 * target that repeats a history item is a miss for every model; with seen items kept it gets full credit.
 * The exclusion mask is the same whichever of the user's items is the target: the top-K lists (seen
 * through MeanPop and Coverage) do not change when the target changes. */
static int histfirst_score(const crec_model *m, const crec_context *ctx, float *scores) {
    for (int32_t i = 0; i < m->n_items; i++) scores[i] = (float)(6 - i);
    for (int32_t h = 0; h < ctx->n_hist; h++) scores[ctx->hist[h]] = 100.0f + (float)h; /* latest first */
    return 0;
}

static void test_eval_repeat_targets(void **state) {
    (void)state;
    static const crec_model_type histfirst = {.name = "histfirst", .summary = "history first",
                                              .score = histfirst_score};
    /* u0: train 0 1 2, test 2 (a repeat of its latest item); u1: train 3, test 0 */
    int64_t trp[3] = {0, 3, 4}, tep[3] = {0, 1, 2}, nop[3] = {0, 0, 0};
    int32_t tri[4] = {0, 1, 2, 3}, tei[2] = {2, 0}, tei_new[2] = {5, 0};
    crec_split s;
    memset(&s, 0, sizeof s);
    s.spec.kind = CREC_SPLIT_LOO;
    s.train = (crec_csr){2, 6, trp, tri, NULL, NULL};
    s.valid = (crec_csr){2, 6, nop, NULL, NULL, NULL};
    s.test = (crec_csr){2, 6, tep, tei, NULL, NULL};
    test_model unused = {M_FIXED, &s};
    crec_model m = make_model(&unused, 2, 6);
    m.type = &histfirst;
    crec_eval_opts o = opts_k12();
    crec_eval_result r;
    /* filter seen: u0 is a miss; u1: history {3} out, target 0 is the best candidate: rank 1.
     * HR@1 = HR@2 = 1/2 */
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    assert_int_equal(r.n_users_masked, 1);
    ASSERT_NEAR(r.at[0].hr, 0.5, EPS);
    ASSERT_NEAR(r.at[1].hr, 0.5, EPS);
    double pop_repeat = r.mean_pop[1], cov_repeat = r.coverage[1];
    /* keep seen: u0's target is its latest item, the top score: full credit; u1: its history item 3
     * first, target 0 second. HR@1 = NDCG@1 = 1/2, HR@2 = 1 */
    o.filter_seen = 0;
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    assert_int_equal(r.n_users_masked, 0);
    ASSERT_NEAR(r.at[0].hr, 0.5, EPS);
    ASSERT_NEAR(r.at[0].ndcg, 0.5, EPS);
    ASSERT_NEAR(r.at[1].hr, 1, EPS);
    /* the same user with a new target: the lists (and so MeanPop and Coverage) are the same */
    s.test.idx = tei_new;
    o.filter_seen = 1;
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    assert_int_equal(r.n_users_masked, 0);
    ASSERT_NEAR(r.mean_pop[1], pop_repeat, EPS);
    ASSERT_NEAR(r.coverage[1], cov_repeat, EPS);
    /* sampled mode: the repeated target is a miss under filter seen as well */
    s.test.idx = tei;
    o.sampled = 3;
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    assert_int_equal(r.n_users_masked, 1);
    o.filter_seen = 0;
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    assert_int_equal(r.n_users_masked, 0);
    ASSERT_NEAR(r.at[0].hr, 1, EPS); /* negatives come from unseen items: 3 is not among u1's */
}

/* A list model (recommend hook, no dense scores) is ranked from its list: listed items in list order, every
 * other candidate after them, tied, pessimistically. The fake decodes items 5, 4, 3, 2, 1, 0 in that order,
 * skipping excluded ones, and lists at most `k` of them; it also returns item 3 twice and an excluded item to
 * check that evaluation drops both. */
static int list_recommend(const crec_model *m, const crec_context *ctx, const uint8_t *exclude, int k, int32_t *items,
                          float *scores_out) {
    (void)ctx;
    (void)scores_out;
    int n = 0;
    if (k > 1 && exclude) /* a cheating entry first: an excluded item (if any), then a repeat */
        for (int32_t i = 0; i < m->n_items && n == 0; i++)
            if (exclude[i]) items[n++] = i;
    for (int32_t i = m->n_items - 1; i >= 0 && n < k; i--) {
        if (exclude && exclude[i]) continue;
        items[n++] = i;
        if (i == 3 && n < k) items[n++] = 3;
    }
    return n;
}

static void test_eval_list_model(void **state) {
    (void)state;
    static const crec_model_type listy = {.name = "listy", .summary = "decodes a list", .recommend = list_recommend};
    crec_split s = tiny_split();
    test_model unused = {M_FIXED, &s};
    crec_model m = make_model(&unused, 4, 6);
    m.type = &listy;
    crec_eval_opts o = opts_k12();
    o.ks[1] = 4; /* K = 1, 4: the model is asked for its top 4 */
    crec_eval_result r;
    /* target = test, seen excluded (the cheating entry takes one of the 4 slots and is dropped):
     * u0: excl {0,1,2}; raw 0, 5, 4, 3 -> 5, 4, 3: target 3 at position 3
     * u1: excl {3,0}; raw 0, 5, 4, 2 -> 5, 4, 2: target 2 at position 3
     * u2: nothing excluded, no cheat; raw 5, 4, 3, 3 -> 5, 4, 3: target 0 unlisted, tied with 1 and 2 after the
     *     list: rank 6 of 6, a miss
     * HR@1 = 0, HR@4 = 2/3, NDCG@4 = (2 / log2(4)) / 3 = 1/3 */
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    ASSERT_NEAR(r.at[0].hr, 0, EPS);
    ASSERT_NEAR(r.at[1].hr, 2.0 / 3, EPS);
    ASSERT_NEAR(r.at[1].ndcg, 1.0 / 3, EPS);
    assert_non_null(strstr(r.protocol, "ranked from the model's top-4 list"));
    /* the lists count for coverage: distinct recommended items @4 = {5, 4, 3, 2} of 6 */
    ASSERT_NEAR(r.coverage[1], 4.0 / 6, EPS);
}

static void test_eval_oracle_and_constant(void **state) {
    (void)state;
    crec_split s = tiny_split();
    test_model oracle = {M_ORACLE, &s}, constant = {M_CONST, &s};
    crec_eval_opts o = opts_k12();
    crec_eval_result r;
    crec_model m = make_model(&oracle, 4, 6);
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    for (int ki = 0; ki < 2; ki++) {
        ASSERT_NEAR(r.at[ki].hr, 1, EPS);
        ASSERT_NEAR(r.at[ki].ndcg, 1, EPS);
        ASSERT_NEAR(r.at[ki].mrr, 1, EPS);
    }
    /* constant: the target ties every candidate and ranks last: u0 3 of 3, u1 4 of 4, u2 6 of 6 */
    m = make_model(&constant, 4, 6);
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    for (int ki = 0; ki < 2; ki++) {
        ASSERT_NEAR(r.at[ki].hr, 0, 0);
        ASSERT_NEAR(r.at[ki].ndcg, 0, 0);
    }
    /* with K = 3, u0 (3 candidates) is a hit at rank 3: HR@3 = 1/3, NDCG@3 = (1/log2(4))/3 */
    o.ks[0] = 3;
    o.n_ks = 1;
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    ASSERT_NEAR(r.at[0].hr, 1.0 / 3, EPS);
    ASSERT_NEAR(r.at[0].ndcg, 0.5 / 3, EPS);
}

/* ---- beyond accuracy by hand ---- */

static void test_eval_beyond_accuracy(void **state) {
    (void)state;
    crec_split s = tiny_split();
    crec_dataset ds = tiny_dataset();
    test_model tm = {M_FIXED, &s};
    crec_model m = make_model(&tm, 4, 6);
    crec_eval_opts o = opts_k12();
    crec_eval_result r;
    /* top-2 lists (target = test, seen excluded): u0 {3,4}, u1 {1,2}, u2 {0,1}; top-1 is the prefix.
     * @1: items {3,1,0}: coverage 3/6; counts sorted [0,0,0,1,1,1], sum 3:
     *     Gini = (1*1 + 3*1 + 5*1) / (6*3) = 0.5
     * @2: counts item0 1, item1 2, item2 1, item3 1, item4 1, item5 0: coverage 5/6;
     *     sorted [0,1,1,1,1,2], sum 6: Gini = (-3 - 1 + 1 + 3 + 5*2) / (6*6) = 10/36
     * novelty: p(i) = (count + 1)/(6 + 6): -log2 p = log2 6 (items 0,3,4,5), 2 (item 1), log2 12 (item 2)
     *     @1 = (log2 6 + 2 + log2 6)/3;  @2 = (3 log2 6 + 2 + log2 12 + 2)/6
     * MeanPop @1 = (1 + 2 + 1)/3 = 4/3; @2 = (1 + 1 + 2 + 0 + 1 + 2)/6 = 7/6
     * ILD @1: one-item lists have no pairs: NaN
     *     @2: u0 {3,4}: {} vs {c}: 1 - 0/1 = 1; u1 {1,2}: {a,b} vs {b}: 1 - 1/2; u2 {0,1}: {a} vs {a,b}: 1/2
     *     mean = (1 + 0.5 + 0.5)/3 = 2/3 */
    assert_int_equal(crec_evaluate(&m, &ds, &s, &o, &r), 0);
    ASSERT_NEAR(r.coverage[0], 0.5, EPS);
    ASSERT_NEAR(r.coverage[1], 5.0 / 6, EPS);
    ASSERT_NEAR(r.gini[0], 0.5, EPS);
    ASSERT_NEAR(r.gini[1], 10.0 / 36, EPS);
    ASSERT_NEAR(r.novelty[0], (2 * log2(6.0) + 2) / 3, 1e-12);
    ASSERT_NEAR(r.novelty[1], (3 * log2(6.0) + 4 + log2(12.0)) / 6, 1e-12);
    ASSERT_NEAR(r.mean_pop[0], 4.0 / 3, EPS);
    ASSERT_NEAR(r.mean_pop[1], 7.0 / 6, EPS);
    assert_true(isnan(r.ild[0]));
    ASSERT_NEAR(r.ild[1], 2.0 / 3, EPS);
    /* without attributes ILD is NaN, the rest is unchanged */
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    assert_true(isnan(r.ild[1]));
    ASSERT_NEAR(r.gini[1], 10.0 / 36, EPS);
}

/* ---- sampled negatives ---- */

static void test_eval_sampled(void **state) {
    (void)state;
    crec_split s = tiny_split();
    test_model constant = {M_CONST, &s}, fixed = {M_FIXED, &s};
    crec_model m = make_model(&constant, 4, 6);
    crec_eval_opts o = opts_k12();
    crec_eval_result r;
    /* one negative per user: 2 candidates, the constant model ranks the target 2nd for every user:
     * HR@1 = 0, HR@2 = 1, NDCG@2 = 1/log2(3) */
    o.sampled = 1;
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    ASSERT_NEAR(r.at[0].hr, 0, 0);
    ASSERT_NEAR(r.at[1].hr, 1, EPS);
    ASSERT_NEAR(r.at[1].ndcg, 1 / log2(3.0), EPS);
    assert_int_equal(strncmp(r.protocol, "SAMPLED ranking: 1 negatives per user (seed 42)", 47), 0);
    /* the top-K lists stay inside the candidates: 3 users x 2 candidates = 6 entries, at most 6 items */
    assert_true(r.coverage[1] > 0 && r.coverage[1] <= 1.0);
    /* more negatives than the pool: every non-history item is a candidate, as in full ranking with
     * seen items excluded (test_eval_fixed_filter_seen) */
    m = make_model(&fixed, 4, 6);
    o.sampled = 100;
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    ASSERT_NEAR(r.at[0].hr, 2.0 / 3, EPS);
    ASSERT_NEAR(r.at[1].ndcg, (2 + 1 / log2(3.0)) / 3, EPS);
    /* the table says SAMPLED in the header and on every row */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    crec_eval_result_write_table(&r, &o, f);
    fclose(f);
    assert_non_null(strstr(buf, "SAMPLED"));
    int rows = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        size_t l = strlen(line);
        if (l > 11 && strcmp(line + l - 11, "  (sampled)") == 0) rows++;
    }
    assert_int_equal(rows, 2);
    free(buf);
}

/* ---- reports ---- */

static void test_eval_json(void **state) {
    (void)state;
    crec_split s = tiny_split();
    crec_dataset ds = tiny_dataset();
    test_model tm = {M_FIXED, &s};
    crec_model m = make_model(&tm, 4, 6);
    crec_eval_opts o = opts_k12();
    crec_eval_result r;
    assert_int_equal(crec_evaluate(&m, &ds, &s, &o, &r), 0);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(crec_eval_result_write_json(&r, &o, &m, f), 0);
    rewind(f);
    json_error_t err;
    json_t *root = json_loadf(f, 0, &err);
    fclose(f);
    if (!root) print_error("json: %s at line %d\n", err.text, err.line);
    assert_non_null(root);
    json_t *proto = json_object_get(root, "protocol");
    assert_true(json_is_object(proto));
    assert_string_equal(json_string_value(json_object_get(proto, "ranking")), "full");
    assert_true(json_is_true(json_object_get(proto, "filter_seen")));
    assert_string_equal(json_string_value(json_object_get(proto, "split")), "loo");
    assert_string_equal(json_string_value(json_object_get(proto, "target")), "test");
    assert_int_equal(json_integer_value(json_object_get(proto, "seed")), 42);
    assert_int_equal(json_array_size(json_object_get(proto, "ks")), 2);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(proto, "ks"), 1)), 2);
    assert_string_equal(json_string_value(json_object_get(proto, "text")), r.protocol);
    json_t *met = json_object_get(root, "metrics");
    assert_true(json_is_object(met));
    ASSERT_NEAR(json_real_value(json_object_get(met, "HR@1")), 2.0 / 3, 1e-15);
    ASSERT_NEAR(json_real_value(json_object_get(met, "NDCG@2")), (2 + 1 / log2(3.0)) / 3, 1e-15);
    ASSERT_NEAR(json_real_value(json_object_get(met, "Gini@2")), 10.0 / 36, 1e-15);
    ASSERT_NEAR(json_real_value(json_object_get(met, "ILD@2")), 2.0 / 3, 1e-15);
    assert_true(json_is_null(json_object_get(met, "ILD@1")));
    assert_int_equal(json_object_size(met), 22); /* 11 metrics x 2 cutoffs */
    assert_int_equal(json_integer_value(json_object_get(root, "users")), 3);
    assert_int_equal(json_integer_value(json_object_get(root, "items")), 6);
    assert_null(json_object_get(root, "warning"));
    json_t *mo = json_object_get(root, "model");
    assert_string_equal(json_string_value(json_object_get(mo, "name")), "testfixed");
    /* effective parameters: dim configured to 32, reg from its default */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(mo, "params"), "dim")), 32);
    ASSERT_NEAR(json_real_value(json_object_get(json_object_get(mo, "params"), "reg")), 0.01, 1e-15);
    json_decref(root);

    /* sampled, no model: ranking "sampled", a warning, "model": null */
    o.sampled = 2;
    assert_int_equal(crec_evaluate(&m, &ds, &s, &o, &r), 0);
    f = tmpfile();
    assert_non_null(f);
    assert_int_equal(crec_eval_result_write_json(&r, &o, NULL, f), 0);
    rewind(f);
    root = json_loadf(f, 0, &err);
    fclose(f);
    assert_non_null(root);
    proto = json_object_get(root, "protocol");
    assert_string_equal(json_string_value(json_object_get(proto, "ranking")), "sampled");
    assert_int_equal(json_integer_value(json_object_get(proto, "negatives")), 2);
    assert_non_null(json_string_value(json_object_get(root, "warning")));
    assert_true(json_is_null(json_object_get(root, "model")));
    assert_non_null(json_object_get(json_object_get(root, "metrics"), "HR@1"));
    json_decref(root);
}

static void test_eval_per_user_tsv(void **state) {
    (void)state;
    crec_split s = tiny_split();
    crec_dataset ds = tiny_dataset();
    test_model tm = {M_FIXED, &s};
    crec_model m = make_model(&tm, 4, 6);
    crec_eval_opts o = opts_k12();
    crec_eval_result r;
    char *buf = NULL;
    size_t len = 0;
    o.per_user = open_memstream(&buf, &len);
    assert_non_null(o.per_user);
    assert_int_equal(crec_evaluate(&m, &ds, &s, &o, &r), 0);
    fclose(o.per_user);
    /* header + one line per evaluated user, external ids; ranks u0: 1, u1: 2, u2: 1 */
    const char *want = "user\tn_targets\tHR@1\tNDCG@1\tMRR@1\tRecall@1\tPrecision@1\tMAP@1"
                       "\tHR@2\tNDCG@2\tMRR@2\tRecall@2\tPrecision@2\tMAP@2\n"
                       "alice\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t0.5\t1\n"
                       "bob\t1\t0\t0\t0\t0\t0\t0\t1\t0.63093\t0.5\t1\t0.5\t0.5\n"
                       "carol\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t1\t0.5\t1\n";
    assert_string_equal(buf, want);
    free(buf);
    /* without a dataset: dense ids */
    buf = NULL;
    o.per_user = open_memstream(&buf, &len);
    assert_non_null(o.per_user);
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), 0);
    fclose(o.per_user);
    assert_non_null(strstr(buf, "\n1\t1\t0\t0\t"));
    free(buf);
}

static void test_eval_errors(void **state) {
    (void)state;
    crec_split s = tiny_split();
    test_model tm = {M_FIXED, &s}, bad = {M_FAIL, &s};
    crec_model m = make_model(&tm, 4, 6);
    crec_eval_opts o = opts_k12();
    crec_eval_result r;
    o.n_ks = 0;
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), CREC_EINVAL);
    o = opts_k12();
    o.ks[1] = 0;
    assert_int_equal(crec_evaluate(&m, NULL, &s, &o, &r), CREC_EINVAL);
    o = opts_k12();
    crec_model m7 = make_model(&tm, 4, 7); /* the model's catalog differs from the split's */
    assert_int_equal(crec_evaluate(&m7, NULL, &s, &o, &r), CREC_EINVAL);
    crec_model mf = make_model(&bad, 4, 6);
    assert_int_equal(crec_evaluate(&mf, NULL, &s, &o, &r), CREC_ESTATE);
    /* no validation matrix: no user has a valid target */
    crec_split nv = s;
    memset(&nv.valid, 0, sizeof nv.valid);
    o.target = CREC_EVAL_VALID;
    assert_int_equal(crec_evaluate(&m, NULL, &nv, &o, &r), CREC_EEMPTY);
    /* ... but the test target works and the history is train only */
    o.target = CREC_EVAL_TEST;
    assert_int_equal(crec_evaluate(&m, NULL, &nv, &o, &r), 0);
    assert_int_equal(r.n_users, 3);
}

/* ---- determinism across thread counts ---- */

static void test_eval_deterministic_threads(void **state) {
    (void)state;
    enum { U = 400, I = 60 };
    static int64_t ptr[3][U + 1];
    static int32_t idx[3][U * 12];
    static int64_t ts[3][U * 12];
    static int64_t ap[I + 1];
    static int32_t ai[I * 3];
    crec_rng rng;
    crec__rng_seed(&rng, 11);
    for (int k = 0; k < 3; k++) {
        int64_t n = 0;
        for (int u = 0; u < U; u++) {
            ptr[k][u] = n;
            int len = k == 0 ? 2 + (int)crec__rng_below(&rng, 9) : (int)crec__rng_below(&rng, 4);
            for (int j = 0; j < len; j++) {
                idx[k][n] = (int32_t)crec__rng_below(&rng, I);
                ts[k][n] = 100 * k + j;
                n++;
            }
        }
        ptr[k][U] = n;
    }
    int64_t na = 0;
    for (int i = 0; i < I; i++) {
        ap[i] = na;
        int len = (int)crec__rng_below(&rng, 4);
        for (int j = 0; j < len; j++) ai[na++] = (int32_t)j + (i % 3); /* sorted, distinct */
    }
    ap[I] = na;
    crec_split s;
    memset(&s, 0, sizeof s);
    s.train = (crec_csr){U, I, ptr[0], idx[0], ts[0], NULL};
    s.valid = (crec_csr){U, I, ptr[1], idx[1], ts[1], NULL};
    s.test = (crec_csr){U, I, ptr[2], idx[2], ts[2], NULL};
    crec_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.items.n = I;
    ds.attr_ptr = ap;
    ds.attr_idx = ai;

    test_model tm = {M_HASH, &s};
    crec_model m = make_model(&tm, U, I);
    crec_eval_result res[3];
    char *tsv[3];
    for (int sampled = 0; sampled <= 5; sampled += 5) {
        for (int t = 0; t < 3; t++) {
            crec_eval_opts o;
            crec_eval_opts_defaults(&o);
            o.n_threads = t + 1;
            o.sampled = sampled;
            size_t len;
            o.per_user = open_memstream(&tsv[t], &len);
            assert_non_null(o.per_user);
            assert_int_equal(crec_evaluate(&m, &ds, &s, &o, &res[t]), 0);
            fclose(o.per_user);
            res[t].seconds = 0;
        }
        assert_true(res[0].n_users > 200);
        assert_true(res[0].at[0].hr > 0 && res[0].at[0].hr < 1);
        assert_false(isnan(res[0].ild[2]));
        for (int t = 1; t < 3; t++) {
            assert_memory_equal(&res[0], &res[t], sizeof res[0]);
            assert_string_equal(tsv[0], tsv[t]);
        }
        for (int t = 0; t < 3; t++) free(tsv[t]);
    }
}

/* score_batch through crec_evaluate: a type whose hook scores each context with test_score (so the numbers are
 * exactly the per-user ones) must give the per-user path's results bit for bit, at any thread count, with blocks
 * that end mid-chunk (max_users), in sampled mode, and the model's error when the hook fails; and the contexts
 * the hook gets are the users' histories (train, then valid). */
static int batch_calls, batch_max_n, batch_bad_ctx;
static int test_score_batch(const crec_model *m, const crec_context *ctx, int n, float *scores) {
    const test_model *tm = m->state;
    batch_calls++;
    if (n > batch_max_n) batch_max_n = n;
    for (int c = 0; c < n; c++) {
        const crec_split *s = tm->s;
        int32_t u = ctx[c].user, k = 0;
        int ok = u >= 0 && u < s->train.n_rows && ctx[c].hist_ts != NULL;
        for (int64_t p = s->train.ptr[u]; ok && p < s->train.ptr[u + 1]; p++, k++)
            ok = k < ctx[c].n_hist && ctx[c].hist[k] == s->train.idx[p] && ctx[c].hist_ts[k] == s->train.ts[p];
        for (int64_t p = s->valid.ptr[u]; ok && p < s->valid.ptr[u + 1]; p++, k++)
            ok = k < ctx[c].n_hist && ctx[c].hist[k] == s->valid.idx[p] && ctx[c].hist_ts[k] == s->valid.ts[p];
        if (!ok || k != ctx[c].n_hist) batch_bad_ctx++;
        int rc = test_score(m, &ctx[c], scores + (size_t)c * m->n_items);
        if (rc) return rc;
    }
    return 0;
}
static const crec_model_type test_batch_type = {.name = "testbatch", .summary = "fixed scores, batched",
                                                .params = test_params, .score = test_score,
                                                .score_batch = test_score_batch};

static void test_eval_batched(void **state) {
    (void)state;
    enum { U = 700, I = 50 };
    static int64_t ptr[3][U + 1];
    static int32_t idx[3][U * 12];
    static int64_t ts[3][U * 12];
    crec_rng rng;
    crec__rng_seed(&rng, 5);
    for (int k = 0; k < 3; k++) {
        int64_t n = 0;
        for (int u = 0; u < U; u++) {
            ptr[k][u] = n;
            int len = k == 0 ? 1 + (int)crec__rng_below(&rng, 10) : (int)crec__rng_below(&rng, 3);
            for (int j = 0; j < len; j++) {
                idx[k][n] = (int32_t)crec__rng_below(&rng, I);
                ts[k][n] = 100 * k + j;
                n++;
            }
        }
        ptr[k][U] = n;
    }
    crec_split s;
    memset(&s, 0, sizeof s);
    s.train = (crec_csr){U, I, ptr[0], idx[0], ts[0], NULL};
    s.valid = (crec_csr){U, I, ptr[1], idx[1], ts[1], NULL};
    s.test = (crec_csr){U, I, ptr[2], idx[2], ts[2], NULL};
    test_model tm = {M_HASH, &s};
    crec_model mu = make_model(&tm, U, I), mb = mu;
    mb.type = &test_batch_type;
    assert_true(crec_model_has(mb.type, CREC_CAP_BATCH));
    assert_false(crec_model_has(mu.type, CREC_CAP_BATCH));
    for (int sampled = 0; sampled <= 7; sampled += 7) {
        for (int max_users = 0; max_users <= 300; max_users += 300) {
            crec_eval_result ru, rb;
            char *tu, *tb;
            size_t len;
            crec_eval_opts o;
            crec_eval_opts_defaults(&o);
            o.sampled = sampled;
            o.max_users = max_users;
            o.n_threads = 2;
            o.per_user = open_memstream(&tu, &len);
            assert_int_equal(crec_evaluate(&mu, NULL, &s, &o, &ru), 0);
            fclose(o.per_user);
            ru.seconds = 0;
            assert_true(ru.n_users > (max_users ? max_users - 1 : 256));
            for (int t = 1; t <= 3; t++) {
                batch_calls = batch_max_n = batch_bad_ctx = 0;
                o.n_threads = t;
                o.per_user = open_memstream(&tb, &len);
                assert_int_equal(crec_evaluate(&mb, NULL, &s, &o, &rb), 0);
                fclose(o.per_user);
                rb.seconds = 0;
                assert_int_equal(batch_bad_ctx, 0);
                assert_int_equal(batch_max_n, 256);
                assert_int_equal(batch_calls, (int)((ru.n_users + 255) / 256));
                assert_memory_equal(&ru, &rb, sizeof ru);
                assert_string_equal(tu, tb);
                free(tb);
            }
            free(tu);
        }
    }
    /* the hook's error stops the evaluation and is returned */
    test_model tf = {M_FAIL, &s};
    crec_model mf = make_model(&tf, U, I);
    mf.type = &test_batch_type;
    crec_eval_result r;
    assert_int_equal(crec_evaluate(&mf, NULL, &s, NULL, &r), CREC_ESTATE);
}

/* The factor models' score_batch hooks (bprmf, cml, ials): a block scores as user-by-user score does up to the
 * float rounding of the product, bit-identically at 1 and 3 threads, and crec_evaluate gives the same metrics
 * with the hook and without it (a copy of the type whose score_batch is NULL). */
static void test_eval_batched_models(void **state) {
    (void)state;
    crec_synth_opts so;
    crec_synth_defaults(&so);
    so.n_users = 600;
    so.n_items = 250;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&so, &ds), 0);
    crec_split_spec sp;
    crec_split_spec_parse("loo", &sp);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    const char *names[] = {"bprmf", "cml", "ials"}, *kvs[] = {"epochs=4", "epochs=4", "iters=3 factors=48"};
    for (int k = 0; k < 3; k++) {
        crec_config cfg = {0};
        char buf[64], err[256];
        snprintf(buf, sizeof buf, "%s", kvs[k]);
        for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) assert_int_equal(crec_config_set_kv(&cfg, tok), 0);
        crec_model *m;
        assert_int_equal(crec_model_new(names[k], &cfg, &m, err, sizeof err), 0);
        crec_train_input in = {.train = &s.train, .valid = &s.valid, .n_threads = 2, .seed = 3};
        assert_int_equal(crec_model_train(m, &in), 0);
        assert_true(crec_model_has(m->type, CREC_CAP_BATCH));
        int32_t ni = m->n_items;
        /* trained users, then the same histories anonymously (folded in) */
        enum { N = 200 };
        crec_context ctx[N];
        for (int c = 0; c < N; c++) {
            int32_t u = c % 100;
            ctx[c] = (crec_context){.user = c < 100 ? u : -1, .hist = s.train.idx + s.train.ptr[u],
                                    .n_hist = (int32_t)(s.train.ptr[u + 1] - s.train.ptr[u])};
        }
        float *sb = malloc((size_t)N * ni * sizeof *sb), *sb1 = malloc((size_t)N * ni * sizeof *sb1);
        float *su = malloc((size_t)ni * sizeof *su);
        int prev = omp_get_max_threads(), pb = crec__nn_blas_single(); /* as crec_evaluate runs it */
        omp_set_num_threads(3);
        assert_int_equal(crec_model_score_batch(m, ctx, N, sb), 0);
        omp_set_num_threads(1);
        assert_int_equal(crec_model_score_batch(m, ctx, N, sb1), 0);
        omp_set_num_threads(prev);
        crec__nn_blas_restore(pb);
        assert_memory_equal(sb, sb1, (size_t)N * ni * sizeof *sb);
        double worst = 0;
        for (int c = 0; c < N; c++) {
            assert_int_equal(crec_model_score(m, &ctx[c], su), 0);
            double e = tu_max_rel_diff(sb + (size_t)c * ni, su, (size_t)ni);
            worst = fmax(worst, e);
            if (e > 1e-5) fail_msg("%s: context %d: batch vs score differ by %.3g of the largest score", names[k], c, e);
        }
        crec_model_type tu = *m->type;
        tu.score_batch = NULL;
        crec_model mu = *m;
        mu.type = &tu;
        crec_eval_opts o;
        crec_eval_opts_defaults(&o);
        o.n_threads = 2;
        crec_eval_result rb, ru;
        assert_int_equal(crec_evaluate(m, ds, &s, &o, &rb), 0);
        assert_int_equal(crec_evaluate(&mu, ds, &s, &o, &ru), 0);
        print_message("%-6s batch vs score %.2g; NDCG@10 batched %.6f per-user %.6f\n", names[k], worst, rb.at[1].ndcg,
                      ru.at[1].ndcg);
        for (int q = 0; q < rb.n_ks; q++) ASSERT_NEAR(rb.at[q].ndcg, ru.at[q].ndcg, 1e-3);
        free(sb), free(sb1), free(su);
        crec_model_free(m);
    }
    crec_split_free(&s);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_fixed_filter_seen),
        cmocka_unit_test(test_eval_valid_target),
        cmocka_unit_test(test_eval_repeat_targets),
        cmocka_unit_test(test_eval_list_model),
        cmocka_unit_test(test_eval_oracle_and_constant),
        cmocka_unit_test(test_eval_beyond_accuracy),
        cmocka_unit_test(test_eval_sampled),
        cmocka_unit_test(test_eval_json),
        cmocka_unit_test(test_eval_per_user_tsv),
        cmocka_unit_test(test_eval_errors),
        cmocka_unit_test(test_eval_deterministic_threads),
        cmocka_unit_test(test_eval_batched),
        cmocka_unit_test(test_eval_batched_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
