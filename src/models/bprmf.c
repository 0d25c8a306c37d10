/* bprmf.c: Bayesian Personalised Ranking matrix factorisation (Rendle et al., UAI 2009) with item biases.
 * score(u, i) = p_u . q_i + b_i; trained on sampled triples (u, i+, j-) to maximise ln sigmoid(x_uij),
 * x_uij = score(u, i) - score(u, j), with L2 regularisation of the touched rows. The optimiser is row-wise Adagrad
 * (one accumulator of mean squared gradients per user row and per item row, q and b together): plain SGD needed a
 * 10x larger rate on sparse Beauty (7 events per user) than on dense ML-100K (106); Adagrad takes one default.
 *
 * Threads: Hogwild. Every thread draws its own triples (one RNG per thread, seeded seed + thread id) and writes
 * the shared P, Q, b rows and their Adagrad accumulators without locks, so with more than one thread two runs
 * with the same seed differ in the last bits (and so in the model). With one thread (crec train --threads 1,
 * in->n_threads == 1) training is exactly reproducible for a seed: same seed, same bytes. The validation used for
 * early stopping is deterministic at any thread count.
 *
 * Parameters live in one block [P: n_users x D][Q: n_items x D][b: n_items] (sizes in bpr_sizes), so the
 * best-epoch copy and the checkpoint are flat copies. Items without training events keep q = 0, b = 0 (BPR has
 * no way to place them). A context whose user has no training events (or user -1) is folded in: a user vector
 * is fitted to its history by a fixed number of passes with the item parameters frozen. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "models/implicit.h"
#include "models/params.h"

static const crec_param_def BPR_PARAMS[] = {
    CREC_P_INT("factors", "64", 1, 4096, "latent dimension D"),
    CREC_P_FLOAT("lr", "0.2", 1e-9, 100, "learning rate (row-wise Adagrad)"),
    CREC_P_FLOAT("reg", "0.02", 0, 1e6, "L2 regularisation of user, item and bias rows touched by a triple"),
    CREC_P_INT("neg", "1", 1, 1000, "negatives sampled per positive pair"),
    CREC_P_FLOAT("init_std", "0.1", 0, 100, "standard deviation of the normal initialisation of P and Q"),
    CREC_P_EARLY_STOP("100", "10", "5000"),
    CREC_P_END,
};

#define BPR_MAX_D 4096
#define BPR_FOLD_PASSES 30  /* Adagrad passes over the history when folding in an unknown user */
#define BPR_FOLD_HIST 200   /* most recent history items used by fold-in */

typedef struct bpr_state {
    int32_t D;
    float *block;          /* one allocation: P, Q, b */
    float *P, *Q, *b;      /* views into block */
    size_t n_block;        /* floats in block */
    uint8_t *user_trained; /* [n_users] */
    float lr, reg;         /* fold-in uses the training lr and reg */
} bpr_state;

/* Size table of the parameter block: P, Q, b. */
static size_t bpr_sizes(int32_t nu, int32_t ni, int32_t D, size_t sz[3]) {
    sz[0] = (size_t)nu * (size_t)D;
    sz[1] = (size_t)ni * (size_t)D;
    sz[2] = (size_t)ni;
    return sz[0] + sz[1] + sz[2];
}

static void bpr_state_free(bpr_state *s) {
    if (!s) return;
    free(s->block);
    free(s->user_trained);
    free(s);
}

/* New zeroed state with its block laid out; NULL on allocation failure. */
static bpr_state *bpr_state_new(int32_t nu, int32_t ni, int32_t D) {
    bpr_state *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    size_t sz[3];
    s->D = D;
    s->n_block = bpr_sizes(nu, ni, D, sz);
    s->block = crec__aligned_alloc((s->n_block + 1) * sizeof *s->block);
    s->user_trained = calloc((size_t)nu + 1, 1);
    if (!s->block || !s->user_trained) {
        bpr_state_free(s);
        return NULL;
    }
    s->P = s->block;
    s->Q = s->P + sz[0];
    s->b = s->Q + sz[1];
    return s;
}

/* Row-wise Adagrad step size: G += mean squared gradient of the row; returns lr / sqrt(G). */
static inline float ada(float *G, float sq, int D, float lr) {
    *G += sq / (float)D;
    return lr / sqrtf(*G + 1e-8f);
}

/* One step on triple (p, qi, bi; qj, bj), all rows updated. Returns -ln sigmoid(x) before the step. */
static inline float bpr_step(float *p, float *qi, float *bi, float *qj, float *bj, float *Gp, float *Gi, float *Gj,
                             int D, float lr, float reg) {
    float x = crec__dotf(p, qi, D) - crec__dotf(p, qj, D) + *bi - *bj;
    float g = 1.0f / (1.0f + expf(x)); /* sigmoid(-x) = d ln sigmoid(x) / dx */
    float sp = 0, si = 0, sj = 0;
#pragma omp simd reduction(+ : sp, si, sj)
    for (int d = 0; d < D; d++) {
        float pu = p[d], a = qi[d], c = qj[d];
        float gp = g * (a - c) - reg * pu, gi = g * pu - reg * a, gj = -g * pu - reg * c;
        sp += gp * gp;
        si += gi * gi;
        sj += gj * gj;
    }
    float gbi = g - reg * *bi, gbj = -g - reg * *bj;
    float lp = ada(Gp, sp, D, lr), li = ada(Gi, si + gbi * gbi, D + 1, lr), lj = ada(Gj, sj + gbj * gbj, D + 1, lr);
#pragma omp simd
    for (int d = 0; d < D; d++) {
        float pu = p[d], a = qi[d], c = qj[d];
        p[d] += lp * (g * (a - c) - reg * pu);
        qi[d] += li * (g * pu - reg * a);
        qj[d] += lj * (-g * pu - reg * c);
    }
    *bi += li * gbi;
    *bj += lj * gbj;
    return x > 20 ? expf(-x) : log1pf(expf(-x));
}

/* The same step with the item rows frozen: only the user vector p moves (fold-in). */
static inline void bpr_step_user(float *p, const float *qi, float bi, const float *qj, float bj, float *Gp, int D,
                                 float lr, float reg) {
    float x = crec__dotf(p, qi, D) - crec__dotf(p, qj, D) + bi - bj;
    float g = 1.0f / (1.0f + expf(x)), sp = 0;
    for (int d = 0; d < D; d++) {
        float gp = g * (qi[d] - qj[d]) - reg * p[d];
        sp += gp * gp;
    }
    float lp = ada(Gp, sp, D, lr);
    for (int d = 0; d < D; d++) p[d] += lp * (g * (qi[d] - qj[d]) - reg * p[d]);
}

static int bpr_train(crec_model *m, const crec_train_input *in) {
    int64_t D = crec_model_param_int(m, "factors"), epochs = crec_model_param_int(m, "epochs");
    int64_t neg = crec_model_param_int(m, "neg"), patience = crec_model_param_int(m, "patience"),
            min_epochs = crec_model_param_int(m, "min_epochs");
    int64_t valid_users = crec_model_param_int(m, "valid_users");
    double lr = crec_model_param_double(m, "lr"), reg = crec_model_param_double(m, "reg");
    double init_std = crec_model_param_double(m, "init_std");
    if (D < 1 || D > BPR_MAX_D || epochs < 1 || neg < 1 || neg > 1000 || patience < 0 || valid_users < 0 ||
        !(lr > 0) || !(reg >= 0) || !(init_std >= 0) || !isfinite(lr) || !isfinite(reg) || !isfinite(init_std))
        return CREC_EINVAL;
    crec_triples t;
    int rc = crec__triples_build(&t, in->train);
    if (rc) return rc;
    int32_t nu = m->n_users, ni = m->n_items, d = (int32_t)D;
    bpr_state *s = bpr_state_new(nu, ni, d);
    float *best = NULL;
    int nth = in->n_threads > 0 ? in->n_threads : omp_get_max_threads();
    crec_rng *rngs = calloc((size_t)nth, sizeof *rngs);
    float *G = calloc((size_t)nu + ni + 1, sizeof *G); /* Adagrad accumulators: users, then items */
    if (!s || !rngs || !G) {
        rc = CREC_ENOMEM;
        goto fail;
    }
    s->lr = (float)lr;
    s->reg = (float)reg;
    memcpy(s->user_trained, t.user_trained, (size_t)nu);
    {
        crec_rng r;
        crec__rng_seed(&r, in->seed);
        for (size_t k = 0; k < (size_t)nu * d; k++) s->P[k] = (float)(init_std * crec__rng_normal(&r));
        for (int32_t i = 0; i < ni; i++)
            for (int32_t k = 0; k < d; k++)
                s->Q[(size_t)i * d + k] = t.item_trained[i] ? (float)(init_std * crec__rng_normal(&r)) : 0.0f;
    }
    for (int th = 0; th < nth; th++) crec__rng_seed(&rngs[th], in->seed + (uint64_t)th);
    int use_valid = patience > 0 && in->valid && crec_csr_nnz(in->valid) > 0;
    if (use_valid && !(best = malloc(s->n_block * sizeof *best))) {
        rc = CREC_ENOMEM;
        goto fail;
    }
    m->state = s; /* scorable during training, for the validation */
    double best_ndcg = -1;
    int64_t best_epoch = 0, bad = 0;
    const int64_t steps = t.n_pos;
    for (int64_t ep = 1; ep <= epochs; ep++) {
        double t0 = crec__now(), loss = 0;
#pragma omp parallel num_threads(nth) reduction(+ : loss)
        {
            int th = omp_get_thread_num(), nt = omp_get_num_threads();
            crec_rng *r = &rngs[th];
            int64_t my = steps / nt + (th < steps % nt);
            float flr = (float)lr, freg = (float)reg;
            for (int64_t q = 0; q < my; q++) {
                int64_t k = (int64_t)crec__rng_below(r, (uint64_t)steps);
                int32_t u = t.pos_user[k], i = t.pos_item[k];
                for (int64_t n = 0; n < neg; n++) {
                    int32_t j = crec__triples_negative(&t, r, u);
                    if (j == i) continue;
                    loss += bpr_step(s->P + (size_t)u * d, s->Q + (size_t)i * d, s->b + i, s->Q + (size_t)j * d,
                                     s->b + j, G + u, G + nu + i, G + nu + j, d, flr, freg);
                }
            }
        }
        loss /= (double)steps * (double)neg;
        if (!use_valid) {
            if (in->verbose) crec__log("bprmf epoch %lld/%lld: loss %.4f (%.2f s)", (long long)ep, (long long)epochs,
                                       loss, crec__now() - t0);
            continue;
        }
        double v = crec__valid_ndcg10(m, &t, in->train, in->valid, (int32_t)valid_users, in->n_threads);
        if (v < 0) {
            rc = (int)v;
            goto fail;
        }
        if (in->verbose)
            crec__log("bprmf epoch %lld/%lld: loss %.4f, valid NDCG@10 %.4f (%.2f s)", (long long)ep,
                      (long long)epochs, loss, v, crec__now() - t0);
        if (v >= best_ndcg) { /* ties keep the later epoch (an all-zero validation trains to the end) */
            best_ndcg = v;
            best_epoch = ep;
            bad = 0;
            memcpy(best, s->block, s->n_block * sizeof *best);
        } else if (crec__early_stop(ep, ++bad, patience, min_epochs)) {
            break;
        }
    }
    if (use_valid) {
        memcpy(s->block, best, s->n_block * sizeof *best);
        if (in->verbose) crec__log("bprmf: kept epoch %lld (valid NDCG@10 %.4f)", (long long)best_epoch, best_ndcg);
    }
    free(best);
    free(rngs);
    free(G);
    crec__triples_free(&t);
    return 0;
fail:
    m->state = NULL;
    bpr_state_free(s);
    free(best);
    free(rngs);
    free(G);
    crec__triples_free(&t);
    return rc;
}

/* Fit a user vector p[D] to a history with the items frozen (deterministic: fixed seed and passes). */
static void bpr_fold_in(const crec_model *m, const bpr_state *s, const crec_context *ctx, float *p) {
    int32_t D = s->D, ni = m->n_items;
    memset(p, 0, (size_t)D * sizeof *p);
    int32_t h0 = ctx->n_hist > BPR_FOLD_HIST ? ctx->n_hist - BPR_FOLD_HIST : 0;
    if (ctx->n_hist <= h0 || ni < 2) return;
    crec_rng r;
    crec__rng_seed(&r, m->seed ^ 0x5eedf01dull);
    float G = 0;
    for (int pass = 0; pass < BPR_FOLD_PASSES; pass++)
        for (int32_t h = h0; h < ctx->n_hist; h++) {
            int32_t i = ctx->hist[h], j = 0;
            for (int tries = 0; tries < 8; tries++) { /* a negative outside the history */
                j = (int32_t)crec__rng_below(&r, (uint64_t)ni);
                int in_hist = 0;
                for (int32_t q = h0; q < ctx->n_hist && !in_hist; q++) in_hist = ctx->hist[q] == j;
                if (!in_hist) break;
            }
            if (j == i) continue;
            bpr_step_user(p, s->Q + (size_t)i * D, s->b[i], s->Q + (size_t)j * D, s->b[j], &G, D, s->lr, s->reg);
        }
}

static int bpr_score(const crec_model *m, const crec_context *ctx, float *scores) {
    const bpr_state *s = m->state;
    int32_t D = s->D;
    const float *p;
    float *tmp = NULL;
    if (ctx->user >= 0 && s->user_trained[ctx->user]) {
        p = s->P + (size_t)ctx->user * D;
    } else {
        tmp = malloc((size_t)D * sizeof *tmp);
        if (!tmp) return CREC_ENOMEM;
        bpr_fold_in(m, s, ctx, tmp);
        p = tmp;
    }
    for (int32_t i = 0; i < m->n_items; i++) scores[i] = crec__dotf(p, s->Q + (size_t)i * D, D) + s->b[i];
    free(tmp);
    return 0;
}

/* A block of users: their vectors (trained rows, or folded in, in parallel), then scores = P_blk Q^T + b in one
 * product (crec__scores_gemm): bpr_score's numbers up to the float rounding of the product. */
static int bpr_score_batch(const crec_model *m, const crec_context *ctx, int n, float *scores) {
    const bpr_state *s = m->state;
    int32_t D = s->D, ni = m->n_items;
    float *X = crec__aligned_alloc(((size_t)n * D + 1) * sizeof *X);
    if (!X) return CREC_ENOMEM;
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < n; c++) {
        float *p = X + (size_t)c * D;
        if (ctx[c].user >= 0 && s->user_trained[ctx[c].user]) memcpy(p, s->P + (size_t)ctx[c].user * D, (size_t)D * sizeof *p);
        else bpr_fold_in(m, s, &ctx[c], p);
    }
    crec__scores_gemm(n, ni, D, 1.0f, X, D, s->Q, D, scores);
#pragma omp parallel for schedule(static)
    for (int c = 0; c < n; c++) {
        float *row = scores + (size_t)c * ni;
        for (int32_t i = 0; i < ni; i++) row[i] += s->b[i];
    }
    free(X);
    return 0;
}

static int bpr_save(const crec_model *m, crec_buf *out) {
    const bpr_state *s = m->state;
    int rc = crec__put_u32(out, (uint32_t)s->D);
    if (!rc) rc = crec_buf_write(out, &s->lr, sizeof s->lr);
    if (!rc) rc = crec_buf_write(out, &s->reg, sizeof s->reg);
    if (!rc) rc = crec_buf_write(out, s->block, s->n_block * sizeof *s->block);
    if (!rc) rc = crec_buf_write(out, s->user_trained, (size_t)m->n_users);
    return rc;
}

static int bpr_load(crec_model *m, crec_buf *in) {
    uint32_t D;
    int rc = crec__get_u32(in, &D);
    if (rc) return rc;
    if (D < 1 || D > BPR_MAX_D || m->n_users < 0 || m->n_items < 0) return CREC_EFORMAT;
    size_t sz[3];
    size_t need = bpr_sizes(m->n_users, m->n_items, (int32_t)D, sz) * sizeof(float) + (size_t)m->n_users;
    if (need > in->len - in->pos) return CREC_EFORMAT; /* before allocating what a corrupt size asks for */
    bpr_state *s = bpr_state_new(m->n_users, m->n_items, (int32_t)D);
    if (!s) return CREC_ENOMEM;
    rc = crec_buf_read(in, &s->lr, sizeof s->lr);
    if (!rc) rc = crec_buf_read(in, &s->reg, sizeof s->reg);
    if (!rc) rc = crec_buf_read(in, s->block, s->n_block * sizeof *s->block);
    if (!rc) rc = crec_buf_read(in, s->user_trained, (size_t)m->n_users);
    if (rc) {
        bpr_state_free(s);
        return rc;
    }
    m->state = s;
    return 0;
}

static void bpr_free(crec_model *m) {
    bpr_state_free(m->state);
    m->state = NULL;
}

/* A trained user's row of P; a user without training events has none (scoring folds them in). */
static int bpr_user_vector(const crec_model *m, int32_t user, const float **vec, int *dim) {
    const bpr_state *s = m->state;
    if (!s->user_trained[user]) return 0;
    *vec = s->P + (size_t)user * s->D;
    *dim = s->D;
    return 1;
}

const crec_model_type crec__model_bprmf = {
    .name = "bprmf",
    .summary = "BPR matrix factorisation with item biases (Hogwild row-wise Adagrad on sampled triples)",
    .params = BPR_PARAMS,
    .train = bpr_train,
    .score = bpr_score,
    .score_batch = bpr_score_batch,
    .save = bpr_save,
    .load = bpr_load,
    .free_state = bpr_free,
    .user_vector = bpr_user_vector,
};
