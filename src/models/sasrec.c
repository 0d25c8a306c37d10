/* sasrec.c: SASRec (Kang & McAuley 2018), a causal self-attention next-item model, on the shared sequence encoder
 * (seqenc.c: forward / backward, checkpoints) and the sequence trainer (seqtrain.c: packed batches, the training
 * loop, validation).
 *
 * Model: x = dropout(E[item] * sqrt(D) + P[position]); L blocks of (LN, causal multi-head attention, residual,
 * LN, FFN D->F->D with GELU, residual) - pre-LN, with a final LN - or the post-LN form LN(x + f(x)); the output
 * layer is the item table E itself (scores s_j = h . E[j]). Positions are right-aligned, as in the original's
 * left padding: the most recent item of a window always has position max_len - 1.
 * Training: each user's training row (time ordered, its last max_len + 1 items) predicts the next item at every
 * position, with full softmax cross-entropy over the catalog (ce), sampled softmax (ssm), BCE with one sampled
 * negative per position (bce, the original) or gBCE. AdamW, optional warm-up + cosine, gradient clipping; early
 * stopping on validation NDCG@10 (full ranking, history excluded), the best parameters kept in memory.
 * Scoring: the forward over the last max_len items of ctx->hist (ctx->user is not read, so an anonymous history
 * scores exactly as the same user's history), the last position's state, one matrix-vector product against E; an
 * empty history scores by training popularity.
 *
 * This file holds what is SASRec's own: its hyper-parameters and its choice of loss; the windows (inputs -> next
 * items), the negatives and the loss heads are the sequence trainer's stock next-item objective (seqtrain.c) on
 * the losses of src/nn. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/sasrec.h"
#include "models/params.h"
#include "models/seqenc.h"
#include "models/seqtrain.h"

static const crec_param_def SASREC_PARAMS[] = {
    /* the defaults are the setting validation chose on Beauty (docs/RESULTS.md), confirmed on LastFM and ML-100K
     * against the original paper's (dim 64, 2 blocks, dropout 0.2, lr 0.001, 20 epochs, patience 5) */
    CREC_P_TRANSFORMER("128", "3", "1", "50", "last items of a history the model reads", "0.5",
                       "pre: x + f(LN(x)) and a final LN; post: LN(x + f(x))"),
    CREC_P_ENUM("loss", "ce", "ce|ssm|bce|gbce",
                "ce (full softmax over the catalog), ssm (sampled softmax), bce (the original), gbce"),
    CREC_P_INT("neg", "0", 0, 65536, "negatives: per position for bce/gbce (0 = 1 / 128), shared per batch for ssm (0 = 256)"),
    CREC_P_ENUM("sampler", "uniform", "uniform|pop", "ssm negatives: uniform, or pop (by training count, log-Q corrected)"),
    CREC_P_FLOAT("gbce_t", "0.75", 0, 1, "gBCE calibration t in [0, 1]"),
    CREC_P_ADAMW("0.005"),
    CREC_P_EARLY_STOP("30", "8", "0"),
    CREC_P_END,
};

/* SASRec's loss head from its hyper-parameters: the loss, its negatives (ssm: uniform, or by training count with
 * the log-Q correction; bce / gbce: uniform, never from the user's own row), gBCE's calibration. */
static int head_from(const crec_model *m, crec_nn_head_cfg *c) {
    memset(c, 0, sizeof *c);
    const char *loss = crec_model_param_str(m, "loss");
    c->loss = strcmp(loss, "ce") == 0     ? CREC_NN_LOSS_CE
              : strcmp(loss, "ssm") == 0  ? CREC_NN_LOSS_SSM
              : strcmp(loss, "bce") == 0  ? CREC_NN_LOSS_BCE
              : strcmp(loss, "gbce") == 0 ? CREC_NN_LOSS_GBCE
                                          : -1;
    c->neg = (int)crec_model_param_int(m, "neg");
    if (c->neg == 0) c->neg = c->loss == CREC_NN_LOSS_SSM ? 256 : c->loss == CREC_NN_LOSS_GBCE ? 128 : 1;
    const char *smp = crec_model_param_str(m, "sampler");
    int pop = strcmp(smp, "pop") == 0;
    c->gbce_t = crec_model_param_double(m, "gbce_t");
    if (c->loss < 0 || c->neg < 1 || c->neg > 65536 || (!pop && strcmp(smp, "uniform") != 0) ||
        !(c->gbce_t >= 0 && c->gbce_t <= 1))
        return CREC_EINVAL;
    c->logq = c->loss == CREC_NN_LOSS_SSM && pop;
    c->alpha = c->logq ? 1.0 : 0.0;
    return 0;
}

/* The encoder (causal, no mask token) trained by the sequence trainer on the stock next-item objective. */
static int sasrec_train(crec_model *m, const crec_train_input *in) {
    crec_seqenc *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    crec_nn_head_cfg hc;
    crec_seqtrain_hp hp;
    int rc = crec__seqenc_arch(m, s, 1, 0);
    if (!rc) rc = head_from(m, &hc);
    if (!rc) rc = crec__seqtrain_hp(m, &hp);
    if (!rc) rc = crec__seqenc_alloc(s, 1);
    if (!rc && !(s->pop = calloc((size_t)s->NI, sizeof *s->pop))) rc = CREC_ENOMEM;
    if (!rc) {
        crec_seqtrain_net net = crec__seqenc_net(s, "sasrec");
        rc = crec__seqtrain_run_next(&net, &hc, &hp, in, s->pop);
    }
    if (rc) {
        crec__seqenc_free(s);
        free(s);
        return rc;
    }
    m->state = s;
    return 0;
}

/* ---- a whole-model gradient check (tests/unit/test_sasrec.c) ---- */

int crec__sasrec_gradcheck(int pre, int act, float dropout, uint64_t seed, double *worst, int *checked) {
    crec_seqenc s = {.D = 8,
                     .L = 2,
                     .H = 2,
                     .F = 12,
                     .T = 6,
                     .pre = pre,
                     .act = act,
                     .causal = 1,
                     .NI = 13,
                     .mask = -1,
                     .drop = dropout};
    uint64_t dseed = dropout > 0 ? seed | 1 : 0; /* one fixed set of dropout masks: the loss stays differentiable */
    int rc = crec__seqenc_alloc(&s, 1);
    if (rc) return rc;
    crec_rng r;
    crec__rng_seed(&r, seed);
    for (size_t i = 0; i < s.p.total; i++) s.p.param[i] = (float)(0.5 * crec__rng_normal(&r));
    /* three users' histories, one longer than T (its window is the last T + 1 items) */
    int32_t idx[] = {1, 5, 2, 7, 3, 4, 9, 12, 0, 11, 6, 2, 8, 10, 1, 3};
    int64_t ptr[] = {0, 3, 5, 16};
    crec_csr x = {.n_rows = 3, .n_cols = 13, .ptr = ptr, .idx = idx};
    int32_t users[] = {0, 1, 2};
    crec_seqtrain_net net = crec__seqenc_net(&s, "sasrec");
    crec_seqtrain_next o;
    memset(&o, 0, sizeof o);
    crec_seqtrain_obj obj = crec__seqtrain_next_obj(&o); /* its windows only */
    crec_seq_batch bt;
    rc = crec__seqtrain_batch_alloc(&bt, 3, 3 * s.T, s.T);
    if (!rc) {
        crec__seqtrain_batch_train(&bt, &net, &obj, &x, users, 3, &r);
        rc = crec__seqenc_gradcheck(&s, &bt, dseed, &r, worst, checked);
    }
    crec__seqtrain_batch_free(&bt);
    crec__seqenc_free(&s);
    return rc;
}

/* ---- checkpoints (seqenc.c): the architecture, checked against the hyper-parameters on load; popularity;
 * parameters ---- */

static int sasrec_save(const crec_model *m, crec_buf *out) { return crec__seqenc_save(m->state, out); }

static int sasrec_load(crec_model *m, crec_buf *in) {
    crec_seqenc *s;
    int rc = crec__seqenc_load(m, in, 1, 0, &s);
    if (!rc) m->state = s;
    return rc;
}

static int sasrec_check(const crec_model *m, char *err, size_t errn) { return crec__seqenc_check(m, 0, err, errn); }

const crec_model_type crec__model_sasrec = {
    .name = "sasrec",
    .summary = "SASRec: causal self-attention over the last max_len items (ce / ssm / bce / gbce losses)",
    .params = SASREC_PARAMS,
    .train = sasrec_train,
    .score = crec__seqenc_model_score,
    .save = sasrec_save,
    .load = sasrec_load,
    .free_state = crec__seqenc_model_free,
    .caps = CREC_CAP_SEQUENCE,
    .check = sasrec_check,
};
