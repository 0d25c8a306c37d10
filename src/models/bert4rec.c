/* bert4rec.c: BERT4Rec (Sun et al. 2019), bidirectional self-attention over the item sequence trained with the Cloze
 * task, on the shared sequence encoder (seqenc.c: forward / backward, checkpoints) and the sequence trainer
 * (seqtrain.c: packed batches, the training loop, validation). This file holds the Cloze objective.
 *
 * Model: the encoder of seqenc.h with bidirectional attention (every position sees the whole window) and one more
 * embedding row, the [mask] token (id I); the output layer is the item table E (s_j = h . E[j], j < I).
 * Training (Cloze): each epoch, each user's window is the last max_len items of the training row; max(1,
 * round(mask_prob * length)) of its positions, drawn at random, are replaced by [mask] and predicted with full
 * softmax cross-entropy over the catalog (only the masked rows go through the loss). With probability last_prob a
 * window masks only its last item instead: the paper's extra samples that make training match inference.
 * AdamW, early stopping on validation NDCG@10 with the best parameters kept (as sasrec).
 * Scoring: [mask] is appended to the last max_len - 1 items of ctx->hist (ctx->user is not read, so an anonymous
 * history scores exactly as the same user's history); the mask position's state against E scores the catalog; an
 * empty history scores by training popularity. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/bert4rec.h"
#include "models/params.h"
#include "models/seqenc.h"
#include "models/seqtrain.h"

static const crec_param_def BERT4REC_PARAMS[] = {
    CREC_P_TRANSFORMER("64", "2", "2", "50",
                       "window length: training windows hold the last max_len items, inference max_len - 1 + [mask]",
                       "0.2", "pre: x + f(LN(x)) and a final LN; post: LN(x + f(x)) (the original BERT)"),
    CREC_P_FLOAT("mask_prob", "0.6", 0.001, 1, "Cloze: fraction of a window's items masked (at least one), in (0, 1]"),
    CREC_P_FLOAT("last_prob", "0.1", 0, 1, "probability that a training window masks only its last item (as at inference)"),
    CREC_P_CE_PRECISION,
    CREC_P_ADAMW("0.002"),
    CREC_P_EARLY_STOP("100", "15", "0"),
    CREC_P_END,
};

static int32_t row_len(const crec_csr *x, int32_t u) { return (int32_t)(x->ptr[u + 1] - x->ptr[u]); }

/* The Cloze objective's state: masking parameters, the CE head, the masked rows gathered. */
typedef struct b4_obj {
    double mask_prob, last_prob;
    int bf16;          /* ce_precision=bf16 */
    crec_nn_head head; /* full-softmax CE */
    float *hm, *dhm;   /* [M, D] hidden states of the masked rows and their gradients */
    int32_t *rows;     /* [M] their rows in the batch */
    int32_t *tgt;      /* [M] their targets */
    int32_t *perm;     /* [T] position draw */
} b4_obj;

static void obj_free(b4_obj *o) {
    crec__nn_head_free(&o->head);
    free(o->hm), free(o->dhm), free(o->rows), free(o->tgt), free(o->perm);
}

static int obj_prepare(void *ctx, const crec_seqtrain_net *net, const crec_csr *x, const float *pop, int Nmax) {
    b4_obj *o = ctx;
    crec_nn_head_cfg ce = {.loss = CREC_NN_LOSS_CE, .bf16 = o->bf16};
    (void)x;
    int rc = crec__nn_head_init(&o->head, &ce, net->NI, net->D, Nmax, pop);
    o->hm = crec__aligned_alloc(((size_t)Nmax * net->D + 16) * sizeof(float));
    o->dhm = crec__aligned_alloc(((size_t)Nmax * net->D + 16) * sizeof(float));
    o->rows = malloc(((size_t)Nmax + 1) * sizeof *o->rows);
    o->tgt = malloc(((size_t)Nmax + 1) * sizeof *o->tgt);
    o->perm = malloc(((size_t)net->T + 1) * sizeof *o->perm);
    return !rc && o->hm && o->dhm && o->rows && o->tgt && o->perm ? 0 : rc ? rc : CREC_ENOMEM;
}

/* A Cloze window: the last T items of the training row. */
static int32_t obj_window(void *ctx, const crec_seqtrain_net *net, int32_t n) {
    (void)ctx;
    return n < net->T ? n : net->T;
}

/* User u's Cloze window as sequence q: right-aligned positions; masked positions get id [mask] and their item as
 * target, the others target -1. */
static void obj_fill(void *ctx, const crec_seqtrain_net *net, const crec_csr *x, int32_t u, crec_seq_batch *bt, int q,
                     crec_rng *rng) {
    b4_obj *o = ctx;
    int32_t n = row_len(x, u), Tb = bt->len[q];
    int64_t off = x->ptr[u] + (n - Tb);
    const int32_t *it = x->idx + off;
    for (int t = 0; t < Tb; t++) {
        int32_t r = crec__seqtrain_row(bt, q, t);
        bt->ids[r] = it[t];
        bt->tgt[r] = -1;
        bt->posid[r] = net->T - Tb + t;
        bt->ts[r] = x->ts ? x->ts[off + t] : 0;
    }
    if (crec__rng_uniform(rng) < o->last_prob) {
        int32_t r = crec__seqtrain_row(bt, q, Tb - 1);
        bt->tgt[r] = it[Tb - 1];
        bt->ids[r] = net->mask;
    } else {
        int k = (int)lround(o->mask_prob * Tb);
        k = k < 1 ? 1 : k > Tb ? Tb : k;
        for (int t = 0; t < Tb; t++) o->perm[t] = t;
        for (int j = 0; j < k; j++) { /* partial Fisher-Yates: k distinct positions */
            int r = j + (int)crec__rng_below(rng, (uint64_t)(Tb - j)), t = o->perm[r];
            o->perm[r] = o->perm[j], o->perm[j] = t;
            int32_t row = crec__seqtrain_row(bt, q, t);
            bt->tgt[row] = it[t];
            bt->ids[row] = net->mask;
        }
    }
}

/* Full softmax CE over the masked rows only, averaged over them: gather their states, one chunked CE, scatter the
 * gradients back. */
static double obj_loss(void *ctx, const crec_seqtrain_net *net, const crec_seq_batch *bt, const float *h, float *dh,
                       const float *W, float *dW, const crec_csr *x, const int32_t *users, crec_rng *rng,
                       int64_t *rows) {
    b4_obj *o = ctx;
    int D = net->D, M = 0;
    (void)x, (void)users, (void)rng;
    for (int n = 0; n < bt->N; n++)
        if (bt->tgt[n] >= 0) {
            memcpy(o->hm + (size_t)M * D, h + (size_t)n * D, (size_t)D * sizeof(float));
            o->rows[M] = n, o->tgt[M++] = bt->tgt[n];
        }
    *rows = M;
    if (M == 0) return 0;
    memset(o->dhm, 0, (size_t)M * D * sizeof(float));
    double l = crec__nn_head_loss(&o->head, o->dhm, dW, o->hm, W, o->tgt, M, 1.0f / (float)M);
    for (int j = 0; j < M; j++) {
        float *d = dh + (size_t)o->rows[j] * D;
        const float *src = o->dhm + (size_t)j * D;
        for (int e = 0; e < D; e++) d[e] += src[e];
    }
    return l;
}

static int obj_from(const crec_model *m, b4_obj *o) {
    memset(o, 0, sizeof *o);
    o->mask_prob = crec_model_param_double(m, "mask_prob");
    o->last_prob = crec_model_param_double(m, "last_prob");
    o->bf16 = crec__param_ce_bf16(m);
    return o->mask_prob > 0 && o->mask_prob <= 1 && o->last_prob >= 0 && o->last_prob <= 1 ? 0 : CREC_EINVAL;
}

static crec_seqtrain_obj cloze(b4_obj *o) {
    crec_seqtrain_obj obj = {
        .ctx = o, .prepare = obj_prepare, .window = obj_window, .fill = obj_fill, .loss = obj_loss};
    return obj;
}

/* The encoder (bidirectional, with the [mask] token) trained by the sequence trainer on the Cloze objective. */
static int bert4rec_train(crec_model *m, const crec_train_input *in) {
    crec_seqenc *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    b4_obj o;
    crec_seqtrain_hp hp;
    int rc = obj_from(m, &o);
    if (!rc) rc = crec__seqenc_arch(m, s, 0, 1);
    if (!rc) rc = crec__seqtrain_hp(m, &hp);
    if (!rc) rc = crec__seqenc_alloc(s, 1);
    if (!rc && !(s->pop = calloc((size_t)s->NI, sizeof *s->pop))) rc = CREC_ENOMEM;
    if (!rc) {
        crec_seqtrain_net net = crec__seqenc_net(s, "bert4rec");
        crec_seqtrain_obj obj = cloze(&o);
        rc = crec__seqtrain_run(&net, &obj, &hp, in, s->pop);
    }
    obj_free(&o);
    if (rc) {
        crec__seqenc_free(s);
        free(s);
        return rc;
    }
    m->state = s;
    return 0;
}

/* ---- a whole-model gradient check (tests/unit/test_bert4rec.c) ---- */

int crec__bert4rec_gradcheck(int pre, int act, float dropout, uint64_t seed, double *worst, int *checked) {
    crec_seqenc s = {.D = 8,
                     .L = 2,
                     .H = 2,
                     .F = 12,
                     .T = 6,
                     .pre = pre,
                     .act = act,
                     .causal = 0,
                     .NI = 13,
                     .mask = 13,
                     .drop = dropout};
    uint64_t dseed = dropout > 0 ? seed | 1 : 0; /* one fixed set of dropout masks: the loss stays differentiable */
    int rc = crec__seqenc_alloc(&s, 1);
    if (rc) return rc;
    crec_rng r;
    crec__rng_seed(&r, seed);
    for (size_t i = 0; i < s.p.total; i++) s.p.param[i] = (float)(0.5 * crec__rng_normal(&r));
    /* three users' histories, one longer than T (its window is the last T items) */
    int32_t idx[] = {1, 5, 2, 7, 3, 4, 9, 12, 0, 11, 6, 2, 8, 10, 1, 3};
    int64_t ptr[] = {0, 3, 5, 16};
    crec_csr x = {.n_rows = 3, .n_cols = 13, .ptr = ptr, .idx = idx};
    int32_t users[] = {0, 1, 2};
    crec_seqtrain_net net = crec__seqenc_net(&s, "bert4rec");
    crec_seq_batch bt;
    b4_obj o = {.mask_prob = 0.5, .last_prob = 0};
    crec_seqtrain_obj obj = cloze(&o); /* its windows only */
    o.perm = malloc(((size_t)s.T + 1) * sizeof *o.perm);
    rc = crec__seqtrain_batch_alloc(&bt, 3, 3 * s.T, s.T);
    if (!rc && !o.perm) rc = CREC_ENOMEM;
    if (!rc) {
        crec__seqtrain_batch_train(&bt, &net, &obj, &x, users, 3, &r);
        /* the second window: only its last item masked (the inference form) */
        for (int n = bt.seq_off[1]; n < bt.seq_off[2]; n++) {
            if (bt.tgt[n] >= 0) bt.ids[n] = bt.tgt[n], bt.tgt[n] = -1;
            if (n == bt.seq_off[2] - 1) bt.tgt[n] = bt.ids[n], bt.ids[n] = s.mask;
        }
        rc = crec__seqenc_gradcheck(&s, &bt, dseed, &r, worst, checked);
    }
    free(o.perm);
    crec__seqtrain_batch_free(&bt);
    crec__seqenc_free(&s);
    return rc;
}

/* ---- checkpoints (seqenc.c): the architecture, checked against the hyper-parameters on load; popularity;
 * parameters ---- */

static int bert4rec_save(const crec_model *m, crec_buf *out) { return crec__seqenc_save(m->state, out); }

static int bert4rec_load(crec_model *m, crec_buf *in) {
    crec_seqenc *s;
    int rc = crec__seqenc_load(m, in, 0, 1, &s);
    if (!rc) m->state = s;
    return rc;
}

static int bert4rec_check(const crec_model *m, char *err, size_t errn) { return crec__seqenc_check(m, 1, err, errn); }

const crec_model_type crec__model_bert4rec = {
    .name = "bert4rec",
    .summary = "BERT4Rec: bidirectional self-attention trained by Cloze masking; scores a [mask] after the history",
    .params = BERT4REC_PARAMS,
    .train = bert4rec_train,
    .score = crec__seqenc_model_score,
    .save = bert4rec_save,
    .load = bert4rec_load,
    .free_state = crec__seqenc_model_free,
    .caps = CREC_CAP_SEQUENCE,
    .check = bert4rec_check,
};
