/* rank.c: pessimistic ranks of a user's targets and the ranking metrics computed from them.
 *
 * The one idea: ranking a handful of targets among n catalog items never needs a sort of the catalog.
 * Sort the T target scores once; every catalog item then finds, by binary search, the targets it ties
 * or beats, and adds 1 to a difference array; a suffix sum turns that into each target's count of
 * competitors. O(n log T) time, O(T) memory. With at most 4 distinct targets (leave-one-out has one)
 * a branch-free counting pass per target is faster and is used instead.
 *
 * Ties are pessimistic (eval.h): rank(t) = 1 + #{non-target candidates with score >= s_t}
 * + #{targets with score > s_t}. Scores are compared through an order-preserving integer key where
 * NaN sits below -inf (NaN ranks last, NaN ties NaN) and -0.0 equals +0.0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crec/rank.h"

/* Order-preserving key of a score: NaN -> 0 (lowest), every other float -> its IEEE bits mapped to
 * an unsigned order, plus 1. */
static inline uint64_t score_key(float f) {
    if (isnan(f)) return 0;
    if (f == 0.0f) f = 0.0f; /* -0.0 == +0.0 */
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    b = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return (uint64_t)b + 1;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* #{keys[i] <= x} in sorted keys[0..n). */
static inline int32_t upper_bound(const uint64_t *keys, int32_t n, uint64_t x) {
    int32_t lo = 0, hi = n;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (keys[mid] <= x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* #{keys[i] < x} in sorted keys[0..n). */
static inline int32_t lower_bound(const uint64_t *keys, int32_t n, uint64_t x) {
    int32_t lo = 0, hi = n;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

#define RANK_STACK 64
#define RANK_LINEAR_MAX 4

/* #{j : exclude[j] == 0 and scores[j] >= st} for a number st (NaN scores compare false: they never
 * tie or beat a number). Branch-free so the compiler can vectorize it. */
static int64_t count_ge(const float *scores, int32_t n, const uint8_t *exclude, float st) {
    int64_t c = 0;
    if (exclude) {
        for (int32_t j = 0; j < n; j++) c += (scores[j] >= st) & (exclude[j] == 0);
    } else {
        for (int32_t j = 0; j < n; j++) c += scores[j] >= st;
    }
    return c;
}

/* The few-targets case (leave-one-out has one): one branch-free pass over the catalog per distinct
 * target, O(n D), faster than the binary-search pass for D <= RANK_LINEAR_MAX. ids: sorted distinct. */
static void rank_few(const float *scores, int32_t n, const uint8_t *exclude, const int32_t *targets,
                     int32_t n_targets, const int32_t *ids, int32_t D, int64_t *ranks) {
    int64_t r[RANK_LINEAR_MAX];
    int64_t n_cand = -1; /* candidates, counted only when a target is NaN */
    for (int32_t d = 0; d < D; d++) {
        float st = scores[ids[d]];
        uint64_t kt = score_key(st);
        int64_t c;
        if (isnan(st)) { /* every candidate ties or beats a NaN */
            if (n_cand < 0) {
                n_cand = n;
                for (int32_t j = 0; exclude && j < n; j++) n_cand -= exclude[j] != 0;
            }
            c = n_cand;
        } else {
            c = count_ge(scores, n, exclude, st);
        }
        int64_t gt = 0;
        for (int32_t e = 0; e < D; e++) {
            uint64_t ke = score_key(scores[ids[e]]);
            if (ke >= kt && !(exclude && exclude[ids[e]])) c--; /* a target counted as a candidate */
            gt += ke > kt;
        }
        r[d] = 1 + c + gt;
    }
    for (int32_t t = 0; t < n_targets; t++) {
        int32_t lo = 0, hi = D - 1;
        while (lo < hi) { /* ids[d] == targets[t] for exactly one d */
            int32_t mid = lo + (hi - lo) / 2;
            if (ids[mid] < targets[t]) lo = mid + 1;
            else hi = mid;
        }
        ranks[t] = r[lo];
    }
}

/* Ranks of targets that are all candidates (validated by the caller). Duplicate targets: the targets
 * form a SET. An item listed twice is one target; both entries get the same rank and it counts once
 * among the targets that outrank the others (crec_evaluate deduplicates before ranking, so each relevant
 * item counts once in the metrics too). Scratch of O(T) comes from the stack for T <= 64, else the heap.
 * Returns 0 or CREC_ENOMEM. */
static int rank_candidates(const float *scores, int32_t n_items, const uint8_t *exclude, const int32_t *targets,
                           int32_t n_targets, int64_t *ranks) {

    int32_t ids_s[RANK_STACK];
    uint64_t keys_s[RANK_STACK];
    int64_t cnt_s[RANK_STACK + 1];
    int32_t *ids = ids_s;
    uint64_t *keys = keys_s;
    int64_t *cnt = cnt_s;
    void *heap = NULL;
    if (n_targets > RANK_STACK) {
        size_t T = (size_t)n_targets;
        heap = malloc(T * sizeof(uint64_t) + (T + 1) * sizeof(int64_t) + T * sizeof(int32_t));
        if (!heap) return CREC_ENOMEM;
        keys = heap;
        cnt = (int64_t *)(keys + T);
        ids = (int32_t *)(cnt + T + 1);
    }

    /* the distinct targets and their sorted keys */
    memcpy(ids, targets, (size_t)n_targets * sizeof *ids);
    qsort(ids, (size_t)n_targets, sizeof *ids, cmp_i32);
    int32_t D = 0;
    for (int32_t t = 0; t < n_targets; t++)
        if (D == 0 || ids[t] != ids[D - 1]) ids[D++] = ids[t];
    if (D <= RANK_LINEAR_MAX) {
        rank_few(scores, n_items, exclude, targets, n_targets, ids, D, ranks);
        free(heap);
        return 0;
    }
    for (int32_t d = 0; d < D; d++) keys[d] = score_key(scores[ids[d]]);
    qsort(keys, (size_t)D, sizeof *keys, cmp_u64);
    memset(cnt, 0, (size_t)(D + 1) * sizeof *cnt);

    /* each candidate with key x ties or beats the targets at sorted positions [0, upper_bound(x)):
     * add 1 at cnt[upper_bound(x)]; a suffix sum then gives each position its count */
    const uint64_t kmin = keys[0];
    for (int32_t j = 0; j < n_items; j++) {
        if (exclude && exclude[j]) continue;
        uint64_t x = score_key(scores[j]);
        if (x < kmin) continue;
        cnt[upper_bound(keys, D, x)]++;
    }
    /* the pass above counted the non-excluded targets as if they were non-targets: take them out */
    for (int32_t d = 0; d < D; d++) {
        if (exclude && exclude[ids[d]]) continue;
        cnt[upper_bound(keys, D, score_key(scores[ids[d]]))]--;
    }
    /* cnt[i] := #{non-target candidates whose upper_bound > i} = sum of cnt[i+1 .. D] */
    int64_t run = 0;
    for (int32_t i = D; i >= 0; i--) {
        int64_t c = cnt[i];
        cnt[i] = run;
        run += c;
    }
    for (int32_t t = 0; t < n_targets; t++) {
        uint64_t x = score_key(scores[targets[t]]);
        int32_t lo = lower_bound(keys, D, x), hi = upper_bound(keys, D, x);
        ranks[t] = 1 + cnt[lo] + (int64_t)(D - hi);
    }
    free(heap);
    return 0;
}

/* Ranks of targets tied with each other are equal (eval.h), but tied targets still occupy distinct
 * list positions: the j-th smallest rank is placed at position max(rank_j, position_{j-1} + 1), which
 * is exactly where a pessimistic top-k list puts them, and keeps NDCG <= 1. Every metric is computed
 * over these positions. No allocation: the distinct ranks <= k are visited in order by rescanning,
 * O(T * min(T, k)). out is zeroed when ranks is NULL, n_targets <= 0 or k <= 0. */
void crec_metrics_from_ranks(const int64_t *ranks, int32_t n_targets, int k, crec_metrics_at *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!ranks || n_targets <= 0 || k <= 0) return;

    int64_t pos = 0, last = INT64_MIN;
    int64_t hits = 0;
    double dcg = 0, ap = 0;
    for (;;) {
        int64_t r = INT64_MAX;
        int32_t mult = 0;
        for (int32_t i = 0; i < n_targets; i++) {
            if (ranks[i] <= last) continue;
            if (ranks[i] < r) {
                r = ranks[i];
                mult = 1;
            } else if (ranks[i] == r) {
                mult++;
            }
        }
        if (mult == 0 || r > k) break;
        last = r;
        for (int32_t c = 0; c < mult; c++) {
            int64_t p = r > pos + 1 ? r : pos + 1;
            if (p > k) goto done;
            pos = p;
            hits++;
            if (hits == 1) out->mrr = 1.0 / (double)p;
            dcg += 1.0 / log2((double)p + 1.0);
            ap += (double)hits / (double)p;
        }
    }
done:;
    int64_t ideal = n_targets < k ? n_targets : k;
    double idcg = 0;
    for (int64_t i = 1; i <= ideal; i++) idcg += 1.0 / log2((double)i + 1.0);
    out->hr = hits > 0 ? 1.0 : 0.0;
    out->recall = (double)hits / (double)n_targets;
    out->precision = (double)hits / (double)k;
    out->ndcg = dcg / idcg;
    out->map = ap / (double)ideal;
}

/* The public entry: an excluded target is no candidate (the mask never depends on the target, so a target
 * the mask removes, e.g. a repeat of a history item under filter-seen, is a miss: CREC_RANK_MISS); the
 * others are ranked among the candidates by rank_candidates. The caller owns every buffer. Returns 0,
 * CREC_EINVAL (NULL pointer with T > 0, negative sizes, a target outside [0, n_items)) or CREC_ENOMEM;
 * ranks is untouched on error. */
int crec_rank_targets(const float *scores, int32_t n_items, const uint8_t *exclude, const int32_t *targets,
                      int32_t n_targets, int64_t *ranks) {
    if (n_items < 0 || n_targets < 0) return CREC_EINVAL;
    if (n_targets == 0) return 0;
    if (!scores || !targets || !ranks) return CREC_EINVAL;
    int32_t n_miss = 0;
    for (int32_t t = 0; t < n_targets; t++) {
        if (targets[t] < 0 || targets[t] >= n_items) return CREC_EINVAL;
        n_miss += exclude && exclude[targets[t]];
    }
    if (n_miss == 0) return rank_candidates(scores, n_items, exclude, targets, n_targets, ranks);
    if (n_miss == n_targets) {
        for (int32_t t = 0; t < n_targets; t++) ranks[t] = CREC_RANK_MISS;
        return 0;
    }
    int32_t n_in = n_targets - n_miss;
    int64_t *rk = malloc((size_t)n_in * (sizeof *rk + sizeof(int32_t)));
    if (!rk) return CREC_ENOMEM;
    int32_t *in = (int32_t *)(void *)(rk + n_in);
    int32_t k = 0;
    for (int32_t t = 0; t < n_targets; t++)
        if (!exclude[targets[t]]) in[k++] = targets[t];
    int rc = rank_candidates(scores, n_items, exclude, in, n_in, rk);
    if (rc == 0) {
        k = 0;
        for (int32_t t = 0; t < n_targets; t++) ranks[t] = exclude[targets[t]] ? CREC_RANK_MISS : rk[k++];
    }
    free(rk);
    return rc;
}
