/* seqvalid.c: validation NDCG@10 for the sequential models (seqvalid.h). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/rank.h"
#include "models/seqvalid.h"
#include "nn/nn.h"

static int32_t row_len(const crec_csr *x, int32_t u) { return (int32_t)(x->ptr[u + 1] - x->ptr[u]); }

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

void crec__seqvalid_free(crec_seqvalid *v) {
    free(v->users), free(v->S), free(v->hl), free(v->ndcg), free(v->excl), free(v->tgt), free(v->ranks);
    memset(v, 0, sizeof *v);
}

int crec__seqvalid_init(crec_seqvalid *v, const crec_csr *valid, int32_t max_users, int Bmax, int32_t NI, int D,
                        int nt) {
    memset(v, 0, sizeof *v);
    int32_t n = 0, mt = 1;
    for (int32_t u = 0; u < valid->n_rows; u++)
        if (row_len(valid, u) > 0) n++, mt = row_len(valid, u) > mt ? row_len(valid, u) : mt;
    int32_t stride = max_users > 0 && n > max_users ? (n + max_users - 1) / max_users : 1;
    v->users = malloc(((size_t)n + 1) * sizeof *v->users);
    if (!v->users) return CREC_ENOMEM;
    int32_t k = 0, c = 0;
    for (int32_t u = 0; u < valid->n_rows; u++)
        if (row_len(valid, u) > 0 && c++ % stride == 0) v->users[k++] = u;
    v->n_users = k;
    v->NI = NI, v->D = D, v->nt = nt, v->max_tgt = mt;
    v->Bmax = Bmax > 1024 ? 1024 : Bmax < 1 ? 1 : Bmax;
    v->S = crec__aligned_alloc((size_t)v->Bmax * NI * sizeof *v->S);
    v->hl = crec__aligned_alloc((size_t)v->Bmax * D * sizeof *v->hl);
    v->ndcg = malloc(((size_t)k + 1) * sizeof *v->ndcg);
    v->excl = calloc((size_t)nt * NI, 1);
    v->tgt = malloc((size_t)nt * mt * sizeof *v->tgt);
    v->ranks = malloc((size_t)nt * mt * sizeof *v->ranks);
    if (!v->S || !v->hl || !v->ndcg || !v->excl || !v->tgt || !v->ranks) {
        crec__seqvalid_free(v);
        return CREC_ENOMEM;
    }
    return 0;
}

double crec__seqvalid_run(crec_seqvalid *v, const crec_csr *train, const crec_csr *valid, int32_t trunc,
                          const float *W, const float *pop, crec_seqvalid_states states, void *ctx) {
    const int32_t *hist[1024];
    const int64_t *ts[1024];
    int32_t len[1024], who[1024], order[1024];
    int row_of[1024];
    int32_t NI = v->NI, D = v->D;
    for (int32_t u0 = 0; u0 < v->n_users; u0 += v->Bmax) {
        int nb = v->n_users - u0 < v->Bmax ? v->n_users - u0 : v->Bmax, k = 0;
        for (int b = 0; b < nb; b++) {
            int32_t u = v->users[u0 + b], n = row_len(train, u);
            if (n == 0) continue;
            len[k] = trunc > 0 && n > trunc ? trunc : n;
            hist[k] = train->idx + train->ptr[u] + (n - len[k]);
            ts[k] = train->ts ? train->ts + train->ptr[u] + (n - len[k]) : NULL;
            who[k++] = b;
        }
        for (int b = 0; b < nb; b++) row_of[b] = -1;
        if (k > 0) {
            states(ctx, hist, train->ts ? ts : NULL, len, k, v->hl, order);
            for (int q = 0; q < k; q++) row_of[who[order[q]]] = q;
            crec__nn_gemm(0, 1, k, NI, D, 1.0f, v->hl, D, W, D, 0.0f, v->S, NI);
        }
#pragma omp parallel for schedule(dynamic, 8) num_threads(v->nt)
        for (int b = 0; b < nb; b++) {
            int t = omp_get_thread_num();
            int32_t u = v->users[u0 + b];
            uint8_t *ex = v->excl + (size_t)t * NI;
            int32_t *tg = v->tgt + (size_t)t * v->max_tgt;
            int64_t *rk = v->ranks + (size_t)t * v->max_tgt;
            const float *sc = row_of[b] >= 0 ? v->S + (size_t)row_of[b] * NI : pop;
            int32_t nt = 0;
            for (int64_t q = valid->ptr[u]; q < valid->ptr[u + 1]; q++) tg[nt++] = valid->idx[q];
            qsort(tg, (size_t)nt, sizeof *tg, cmp_i32);
            int32_t d = 0;
            for (int32_t q = 0; q < nt; q++)
                if (q == 0 || tg[q] != tg[q - 1]) tg[d++] = tg[q];
            for (int64_t q = train->ptr[u]; q < train->ptr[u + 1]; q++) ex[train->idx[q]] = 1;
            crec_metrics_at at;
            if (crec_rank_targets(sc, NI, ex, tg, d, rk) == 0) {
                crec_metrics_from_ranks(rk, d, 10, &at);
                v->ndcg[u0 + b] = at.ndcg;
            } else
                v->ndcg[u0 + b] = 0;
            for (int64_t q = train->ptr[u]; q < train->ptr[u + 1]; q++) ex[train->idx[q]] = 0;
        }
    }
    double sum = 0;
    for (int32_t i = 0; i < v->n_users; i++) sum += v->ndcg[i];
    return v->n_users ? sum / v->n_users : 0;
}
