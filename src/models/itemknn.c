/* itemknn.c: item-based k-nearest-neighbours over implicit feedback (cosine similarity).
 * sim(i, j) = |U_i ∩ U_j| / (sqrt(|U_i|) sqrt(|U_j|) + shrink), top-k neighbours kept per item.
 * Co-occurrence counts are accumulated per item from the item's users' rows into a dense per-thread
 * buffer (OpenMP over items; each thread writes only its own rows: deterministic).
 * score(history) = sum over history items h of sim(h, .). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "models/nbrtab.h"

static const crec_param_def KNN_PARAMS[] = {
    CREC_P_INT("k", "200", 1, 1000000, "neighbours kept per item"),
    CREC_P_FLOAT("shrink", "0", 0, 1e9, "similarity shrinkage added to the cosine denominator"),
    CREC_P_END,
};

typedef struct knn_state { crec_nbrtab t; } knn_state;

static int knn_train(crec_model *m, const crec_train_input *in) {
    int k = (int)crec_model_param_int(m, "k");
    double shrink = crec_model_param_double(m, "shrink");
    if (k <= 0 || shrink < 0) return CREC_EINVAL;
    int32_t ni = m->n_items;
    if (k > ni) k = ni > 0 ? ni : 1;
    const crec_csr *x = in->train;
    crec_csr xt;
    int rc = crec_csr_transpose(x, &xt);
    if (rc) return rc;
    /* binary implicit feedback: count distinct users per item (rows may repeat an item) */
    float *norm = calloc((size_t)ni + 1, sizeof *norm);
    int32_t *cnt = calloc((size_t)ni + 1, sizeof *cnt);
    int32_t *ridx = malloc((size_t)ni * k * sizeof *ridx + 1);
    float *rval = malloc((size_t)ni * k * sizeof *rval + 1);
    knn_state *s = calloc(1, sizeof *s);
    if (!norm || !cnt || !ridx || !rval || !s) {
        rc = CREC_ENOMEM;
        goto done;
    }
    for (int32_t i = 0; i < ni; i++) {
        int32_t prev = -1, d = 0;
        for (int64_t q = xt.ptr[i]; q < xt.ptr[i + 1]; q++)
            if (xt.idx[q] != prev) d++, prev = xt.idx[q];
        norm[i] = sqrtf((float)d);
    }
    int nth = in->n_threads > 0 ? in->n_threads : omp_get_max_threads();
    int failed = 0;
    crec_progress pg;
    crec__progress_start(&pg, "itemknn", ni, in->verbose);
    int64_t done_items = 0;
#pragma omp parallel num_threads(nth)
    {
        float *acc = calloc((size_t)ni + 1, sizeof *acc);
        int32_t *last = malloc(((size_t)ni + 1) * sizeof *last); /* last user that counted item j */
        if (!acc || !last) {
#pragma omp atomic write
            failed = 1;
        } else {
            for (int32_t j = 0; j < ni; j++) last[j] = -1;
        }
#pragma omp for schedule(dynamic, 16)
        for (int32_t i = 0; i < ni; i++) {
            if (!acc || !last) continue;
            int32_t prevu = -1;
            for (int64_t q = xt.ptr[i]; q < xt.ptr[i + 1]; q++) {
                int32_t u = xt.idx[q];
                if (u == prevu) continue;
                prevu = u;
                for (int64_t p = x->ptr[u]; p < x->ptr[u + 1]; p++) {
                    int32_t j = x->idx[p];
                    if (last[j] == u) continue; /* count a user once per (i, j) */
                    last[j] = u;
                    acc[j] += 1.0f;
                }
            }
            for (int32_t j = 0; j < ni; j++) {
                last[j] = -1;
                if (acc[j] > 0) acc[j] /= (norm[i] * norm[j] + (float)shrink);
            }
            cnt[i] = crec__nbr_select(acc, ni, i, k, ridx + (size_t)i * k, rval + (size_t)i * k);
            memset(acc, 0, (size_t)ni * sizeof *acc);
            if (omp_get_thread_num() == 0) {
                int64_t dn;
#pragma omp atomic read
                dn = done_items;
                crec__progress_update(&pg, dn);
            }
#pragma omp atomic
            done_items++;
        }
        free(acc);
        free(last);
    }
    crec__progress_end(&pg);
    if (failed) {
        rc = CREC_ENOMEM;
        goto done;
    }
    rc = crec__nbrtab_from_rows(&s->t, ni, k, cnt, ridx, rval);
done:
    crec_csr_free(&xt);
    free(norm);
    free(cnt);
    free(ridx);
    free(rval);
    if (rc) {
        free(s);
        return rc;
    }
    m->state = s;
    return 0;
}

static int knn_score(const crec_model *m, const crec_context *ctx, float *scores) {
    const knn_state *s = m->state;
    memset(scores, 0, (size_t)m->n_items * sizeof *scores);
    for (int32_t h = 0; h < ctx->n_hist; h++) crec__nbrtab_accumulate(&s->t, ctx->hist[h], 1.0f, scores);
    return 0;
}

static int knn_save(const crec_model *m, crec_buf *out) { return crec__nbrtab_save(&((knn_state *)m->state)->t, out); }

static int knn_load(crec_model *m, crec_buf *in) {
    knn_state *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    int rc = crec__nbrtab_load(&s->t, m->n_items, in);
    if (rc) {
        free(s);
        return rc;
    }
    m->state = s;
    return 0;
}

static void knn_free(crec_model *m) {
    knn_state *s = m->state;
    if (s) crec__nbrtab_free(&s->t);
    free(s);
    m->state = NULL;
}

const crec_model_type crec__model_itemknn = {
    .name = "itemknn",
    .summary = "item-item cosine k-nearest neighbours over implicit feedback",
    .params = KNN_PARAMS,
    .train = knn_train,
    .score = knn_score,
    .save = knn_save,
    .load = knn_load,
    .free_state = knn_free,
};
