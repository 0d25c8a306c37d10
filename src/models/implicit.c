/* implicit.c: positive pairs, negative sampling and validation NDCG@10 for the SGD models (see implicit.h).
 * The validation is a small full-ranking evaluator of its own (the training input carries two CSR matrices,
 * not a crec_split), built on the ranking layer (crec/rank.h) that crec eval uses too. */
#include "models/implicit.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "crec/rank.h"

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

void crec__triples_free(crec_triples *t) {
    free(t->pos_user);
    free(t->pos_item);
    free(t->uptr);
    free(t->trained);
    free(t->item_trained);
    free(t->user_trained);
    memset(t, 0, sizeof *t);
}

int crec__triples_build(crec_triples *t, const crec_csr *x) {
    memset(t, 0, sizeof *t);
    int64_t nnz = crec_csr_nnz(x);
    if (nnz <= 0) return CREC_EEMPTY;
    t->n_users = x->n_rows;
    t->n_items = x->n_cols;
    t->pos_user = malloc((size_t)nnz * sizeof *t->pos_user);
    t->pos_item = malloc((size_t)nnz * sizeof *t->pos_item);
    t->uptr = calloc((size_t)x->n_rows + 1, sizeof *t->uptr);
    t->item_trained = calloc((size_t)x->n_cols + 1, 1);
    t->user_trained = calloc((size_t)x->n_rows + 1, 1);
    t->trained = malloc(((size_t)x->n_cols + 1) * sizeof *t->trained);
    if (!t->pos_user || !t->pos_item || !t->uptr || !t->item_trained || !t->user_trained || !t->trained) {
        crec__triples_free(t);
        return CREC_ENOMEM;
    }
    int64_t w = 0;
    for (int32_t u = 0; u < x->n_rows; u++) {
        int64_t b = x->ptr[u], e = x->ptr[u + 1];
        memcpy(t->pos_item + w, x->idx + b, (size_t)(e - b) * sizeof *t->pos_item);
        qsort(t->pos_item + w, (size_t)(e - b), sizeof *t->pos_item, cmp_i32);
        int64_t start = w, r = w;
        for (int64_t k = w; k < w + (e - b); k++) /* dedup in place */
            if (k == start || t->pos_item[k] != t->pos_item[r - 1]) t->pos_item[r++] = t->pos_item[k];
        for (int64_t k = start; k < r; k++) {
            t->pos_user[k] = u;
            t->item_trained[t->pos_item[k]] = 1;
        }
        if (r > start) t->user_trained[u] = 1;
        w = r;
        t->uptr[u + 1] = w;
    }
    t->n_pos = w;
    for (int32_t i = 0; i < x->n_cols; i++)
        if (t->item_trained[i]) t->trained[t->n_trained++] = i;
    return 0;
}

int crec__triples_has(const crec_triples *t, int32_t u, int32_t i) {
    int64_t lo = t->uptr[u], hi = t->uptr[u + 1];
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (t->pos_item[mid] < i) lo = mid + 1;
        else hi = mid;
    }
    return lo < t->uptr[u + 1] && t->pos_item[lo] == i;
}

int32_t crec__triples_negative(const crec_triples *t, crec_rng *r, int32_t u) {
    int32_t j = 0;
    for (int tries = 0; tries < 32; tries++) {
        j = t->trained[crec__rng_below(r, (uint64_t)t->n_trained)];
        if (!crec__triples_has(t, u, j)) return j;
    }
    return j;
}

double crec__valid_ndcg10(const crec_model *m, const crec_triples *t, const crec_csr *train, const crec_csr *valid,
                          int32_t max_users, int n_threads) {
    if (!valid || !valid->ptr || crec_csr_nnz(valid) == 0 || valid->n_rows != t->n_users) return 0;
    int32_t ni = t->n_items;
    /* cold-items split? then rank among the untrained items only */
    int64_t n_cold = 0, nv = crec_csr_nnz(valid);
    for (int64_t k = 0; k < nv; k++) n_cold += !t->item_trained[valid->idx[k]];
    int cold = 2 * n_cold > nv;
    int32_t n_with = 0;
    for (int32_t u = 0; u < valid->n_rows; u++) n_with += valid->ptr[u + 1] > valid->ptr[u];
    int32_t stride = max_users > 0 && n_with > max_users ? (n_with + max_users - 1) / max_users : 1;
    int32_t *users = malloc(((size_t)n_with + 1) * sizeof *users);
    double *val = calloc((size_t)n_with + 1, sizeof *val);
    if (!users || !val) {
        free(users);
        free(val);
        return CREC_ENOMEM;
    }
    int32_t nu = 0, seen = 0;
    for (int32_t u = 0; u < valid->n_rows; u++)
        if (valid->ptr[u + 1] > valid->ptr[u] && seen++ % stride == 0) users[nu++] = u;
    int failed = 0;
    int nth = n_threads > 0 ? n_threads : omp_get_max_threads();
#pragma omp parallel num_threads(nth)
    {
        float *scores = malloc(((size_t)ni + 1) * sizeof *scores);
        uint8_t *excl = malloc((size_t)ni + 1);
        int32_t *tgt = malloc(((size_t)ni + 1) * sizeof *tgt);
        int64_t *ranks = malloc(((size_t)ni + 1) * sizeof *ranks);
        uint8_t *mark = calloc((size_t)ni + 1, 1);
        if (!scores || !excl || !tgt || !ranks || !mark) {
#pragma omp atomic write
            failed = CREC_ENOMEM;
        }
#pragma omp for schedule(dynamic, 8)
        for (int32_t k = 0; k < nu; k++) {
            if (!mark) continue;
            int32_t u = users[k];
            for (int32_t i = 0; i < ni; i++) excl[i] = cold ? t->item_trained[i] : 0;
            for (int64_t p = train->ptr[u]; p < train->ptr[u + 1]; p++) excl[train->idx[p]] = 1;
            int32_t T = 0;
            for (int64_t p = valid->ptr[u]; p < valid->ptr[u + 1]; p++) {
                int32_t it = valid->idx[p];
                if (mark[it]) continue; /* a repeated target counts once */
                mark[it] = 1;
                tgt[T++] = it; /* a target the mask removes (seen in training) is a miss */
            }
            for (int32_t q = 0; q < T; q++) mark[tgt[q]] = 0;
            crec_context ctx = {.user = u, .hist = train->idx + train->ptr[u],
                                .n_hist = (int32_t)(train->ptr[u + 1] - train->ptr[u])};
            int rc = crec_model_score(m, &ctx, scores);
            if (!rc) rc = crec_rank_targets(scores, ni, excl, tgt, T, ranks);
            if (rc) {
#pragma omp atomic write
                failed = rc;
                continue;
            }
            crec_metrics_at at;
            crec_metrics_from_ranks(ranks, T, 10, &at);
            val[k] = at.ndcg;
        }
        free(scores);
        free(excl);
        free(tgt);
        free(ranks);
        free(mark);
    }
    double sum = 0;
    for (int32_t k = 0; k < nu; k++) sum += val[k];
    free(users);
    free(val);
    if (failed) return failed;
    return nu ? sum / nu : 0;
}
