/* sasrec.c: SASRec (Kang & McAuley 2018), a causal self-attention next-item model, on the neural core (src/nn).
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
 * The one idea: batches are packed, never padded. A batch is the concatenation of its users' windows (row
 * offsets seq_off), every row-wise kernel runs on the N real tokens, and attention runs per (sequence, head) on
 * T_b x T_b. Beauty's windows average 6 items out of 50, so this is ~8x less work than a padded batch. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"
#include "crec/eval.h"
#include "models/sasrec.h"
#include "nn/nn.h"

static const crec_param_def SASREC_PARAMS[] = {
    {"dim", "64", "width D of item / position embeddings and hidden states"},
    {"blocks", "2", "transformer blocks"},
    {"heads", "1", "attention heads (must divide dim)"},
    {"ffn", "0", "FFN hidden width (0 = dim, as in SASRec)"},
    {"max_len", "50", "last items of a history the model reads (<= 1024)"},
    {"dropout", "0.2", "dropout on embeddings, attention probabilities and output, FFN hidden and output"},
    {"norm", "pre", "pre: x + f(LN(x)) and a final LN; post: LN(x + f(x))"},
    {"act", "gelu", "FFN activation: gelu, relu, silu"},
    {"loss", "ce", "ce (full softmax over the catalog), ssm (sampled softmax), bce (the original), gbce"},
    {"neg", "0", "negatives: per position for bce/gbce (0 = 1 / 128), shared per batch for ssm (0 = 256)"},
    {"sampler", "uniform", "ssm negatives: uniform, or pop (by training count, log-Q corrected)"},
    {"gbce_t", "0.75", "gBCE calibration t in [0, 1]"},
    {"lr", "0.001", "AdamW learning rate"},
    {"wd", "0", "decoupled weight decay (matrices and embeddings)"},
    {"beta2", "0.98", "Adam beta2"},
    {"clip", "0", "clip gradients to this global norm (0 = off)"},
    {"schedule", "constant", "after warm-up: constant, cosine or linear decay to 0.1 lr"},
    {"warmup", "0", "linear warm-up steps"},
    {"batch", "256", "users per batch"},
    {"epochs", "20", "maximum epochs"},
    {"patience", "5", "stop after this many epochs without a better validation NDCG@10 (0 = never)"},
    {"valid_users", "0", "validation users per epoch (an even stride; 0 = all)"},
    {NULL, NULL, NULL},
};

enum { LOSS_CE, LOSS_SSM, LOSS_BCE, LOSS_GBCE };

/* Parameter tensors, stacked over the L blocks (llm.c ParameterTensors). */
enum {
    P_EMB,  /* [I, D] item embeddings = output layer */
    P_POS,  /* [T, D] positions */
    P_LN1W, /* [L, D] */
    P_LN1B,
    P_QKVW, /* [L, 3D, D] */
    P_QKVB, /* [L, 3D] */
    P_PRJW, /* [L, D, D] */
    P_PRJB, /* [L, D] */
    P_LN2W,
    P_LN2B,
    P_FC1W, /* [L, F, D] */
    P_FC1B, /* [L, F] */
    P_FC2W, /* [L, D, F] */
    P_FC2B, /* [L, D] */
    P_LNFW, /* [D] */
    P_LNFB,
    P_COUNT
};

/* Activations of one batch of N tokens (A attention-cache entries per block); the gradient block has the same
 * layout. Offsets depend on (N, A) so a batch's tensors are one contiguous prefix, zeroed by one memset. */
enum {
    A_X0,   /* [N, D] dropout(embeddings) */
    A_LN1,  /* [L, N, D] pre: LN1(x); post: LN1(res1) */
    A_LN1M, /* [L, N] */
    A_LN1R,
    A_QKV,  /* [L, N, 3D] */
    A_ATTY, /* [L, N, D] attention output (heads concatenated) */
    A_ATT,  /* [L, A] attention probabilities */
    A_PROJ, /* [L, N, D] output projection, dropout applied in place */
    A_RES1, /* [L, N, D] */
    A_LN2,  /* [L, N, D] pre: LN2(res1); post: LN2(res2) */
    A_LN2M,
    A_LN2R,
    A_FC1,  /* [L, N, F] pre-activation */
    A_FC1A, /* [L, N, F] activation, dropout in place */
    A_FC2,  /* [L, N, D] dropout in place */
    A_RES2, /* [L, N, D] */
    A_HF,   /* [N, D] final hidden states */
    A_LNFM, /* [N] */
    A_LNFR,
    A_TMP, /* [N, max(D, F)] scratch for dropout gradients */
    A_COUNT
};

typedef struct sasrec {
    int D, L, H, F, T, pre, act;
    int32_t NI;
    float drop;
    crec_nn_params p;
    float *pop; /* [I] training counts: scores of an empty history */
} sasrec;

typedef struct sr_acts {
    int N;
    int64_t A;
    float *t[A_COUNT];
} sr_acts;

/* A packed batch: sequence b is rows seq_off[b] .. seq_off[b+1]-1. */
typedef struct sr_batch {
    int B, N;
    int32_t *seq_off;           /* [Bmax + 1] */
    int64_t *att_off;           /* [Bmax + 1] */
    int32_t *ids, *posid, *tgt; /* [Nmax] */
} sr_batch;

/* ---- layout ---- */

static void param_sizes(const sasrec *s, size_t *sz) {
    size_t D = (size_t)s->D, L = (size_t)s->L, F = (size_t)s->F;
    sz[P_EMB] = (size_t)s->NI * D;
    sz[P_POS] = (size_t)s->T * D;
    sz[P_LN1W] = sz[P_LN1B] = sz[P_PRJB] = sz[P_LN2W] = sz[P_LN2B] = sz[P_FC2B] = L * D;
    sz[P_QKVW] = L * 3 * D * D;
    sz[P_QKVB] = L * 3 * D;
    sz[P_PRJW] = L * D * D;
    sz[P_FC1W] = L * F * D;
    sz[P_FC1B] = L * F;
    sz[P_FC2W] = L * D * F;
    sz[P_LNFW] = sz[P_LNFB] = D;
}

/* Floats of the activation block for (N, A); with base, also points a's tensors into it. */
static size_t acts_layout(const sasrec *s, int N, int64_t A, float *base, sr_acts *a) {
    size_t n = (size_t)N, D = (size_t)s->D, L = (size_t)s->L, F = (size_t)s->F, sz[A_COUNT];
    sz[A_X0] = sz[A_HF] = n * D;
    sz[A_LN1] = sz[A_ATTY] = sz[A_PROJ] = sz[A_RES1] = sz[A_LN2] = sz[A_FC2] = sz[A_RES2] = L * n * D;
    sz[A_LN1M] = sz[A_LN1R] = sz[A_LN2M] = sz[A_LN2R] = L * n;
    sz[A_QKV] = L * n * 3 * D;
    sz[A_ATT] = L * (size_t)A;
    sz[A_FC1] = sz[A_FC1A] = L * n * F;
    sz[A_LNFM] = sz[A_LNFR] = n;
    sz[A_TMP] = n * (F > D ? F : D);
    size_t off = 0;
    for (int k = 0; k < A_COUNT; k++) {
        if (base) a->t[k] = base + off;
        off += (sz[k] + 15) & ~(size_t)15;
    }
    if (base) a->N = N, a->A = A;
    return off;
}

/* Layer l's slice of a stacked activation of the given width per row. */
#define ACT(a, k, l, width) ((a)->t[k] + (size_t)(l) * (a)->N * (width))
#define PRM(s, blk, k) crec__nn_tensor(&(s)->p, (blk), (k))

/* ---- forward / backward ---- */

/* Forward of batch bt into a (pointed for bt's N and A) with parameters blk; dropout when seed != 0 (training). */
static void forward(const sasrec *s, const float *blk_c, sr_acts *a, const sr_batch *bt, uint64_t seed) {
    float *blk = (float *)blk_c; /* read only here */
    int N = bt->N, D = s->D, F = s->F, L = s->L;
    float p = seed ? s->drop : 0;
    crec__nn_embedding_forward(a->t[A_X0], bt->ids, PRM(s, blk, P_EMB), N, D, sqrtf((float)D), 0);
    crec__nn_embedding_forward(a->t[A_X0], bt->posid, PRM(s, blk, P_POS), N, D, 1.0f, 1);
    if (p > 0) crec__nn_dropout_forward(a->t[A_X0], a->t[A_X0], (size_t)N * D, p, crec__nn_seed(seed, 0, 0));
    const float *x = a->t[A_X0];
    for (int l = 0; l < L; l++) {
        float *ln1 = ACT(a, A_LN1, l, D), *qkv = ACT(a, A_QKV, l, 3 * D), *atty = ACT(a, A_ATTY, l, D);
        float *proj = ACT(a, A_PROJ, l, D), *res1 = ACT(a, A_RES1, l, D), *ln2 = ACT(a, A_LN2, l, D);
        float *fc1 = ACT(a, A_FC1, l, F), *fc1a = ACT(a, A_FC1A, l, F), *fc2 = ACT(a, A_FC2, l, D);
        float *res2 = ACT(a, A_RES2, l, D);
        float *ln1m = ACT(a, A_LN1M, l, 1), *ln1r = ACT(a, A_LN1R, l, 1);
        float *ln2m = ACT(a, A_LN2M, l, 1), *ln2r = ACT(a, A_LN2R, l, 1);
        const float *ln1w = PRM(s, blk, P_LN1W) + l * D, *ln1b = PRM(s, blk, P_LN1B) + l * D;
        const float *ln2w = PRM(s, blk, P_LN2W) + l * D, *ln2b = PRM(s, blk, P_LN2B) + l * D;
        const float *qkvw = PRM(s, blk, P_QKVW) + (size_t)l * 3 * D * D, *qkvb = PRM(s, blk, P_QKVB) + l * 3 * D;
        const float *prjw = PRM(s, blk, P_PRJW) + (size_t)l * D * D, *prjb = PRM(s, blk, P_PRJB) + l * D;
        const float *fc1w = PRM(s, blk, P_FC1W) + (size_t)l * F * D, *fc1b = PRM(s, blk, P_FC1B) + l * F;
        const float *fc2w = PRM(s, blk, P_FC2W) + (size_t)l * D * F, *fc2b = PRM(s, blk, P_FC2B) + l * D;
        if (s->pre) {
            crec__nn_layernorm_forward(ln1, ln1m, ln1r, x, ln1w, ln1b, N, D);
            crec__nn_linear_forward(qkv, ln1, qkvw, qkvb, N, D, 3 * D);
        } else
            crec__nn_linear_forward(qkv, x, qkvw, qkvb, N, D, 3 * D);
        crec__nn_attention_forward(atty, a->t[A_ATT] + (size_t)l * a->A, qkv, bt->seq_off, bt->att_off, bt->B, D, s->H,
                                   1, NULL, p, crec__nn_seed(seed, (uint64_t)l, 4));
        crec__nn_linear_forward(proj, atty, prjw, prjb, N, D, D);
        if (p > 0) crec__nn_dropout_forward(proj, proj, (size_t)N * D, p, crec__nn_seed(seed, (uint64_t)l, 1));
        crec__nn_residual_forward(res1, x, proj, (size_t)N * D);
        const float *ffin; /* the FFN's input, and the residual its output is added to */
        if (s->pre) {
            crec__nn_layernorm_forward(ln2, ln2m, ln2r, res1, ln2w, ln2b, N, D);
            ffin = ln2;
        } else {
            crec__nn_layernorm_forward(ln1, ln1m, ln1r, res1, ln1w, ln1b, N, D);
            ffin = ln1;
        }
        crec__nn_linear_forward(fc1, ffin, fc1w, fc1b, N, D, F);
        crec__nn_act_forward(fc1a, fc1, (size_t)N * F, (crec_nn_act)s->act);
        if (p > 0) crec__nn_dropout_forward(fc1a, fc1a, (size_t)N * F, p, crec__nn_seed(seed, (uint64_t)l, 2));
        crec__nn_linear_forward(fc2, fc1a, fc2w, fc2b, N, F, D);
        if (p > 0) crec__nn_dropout_forward(fc2, fc2, (size_t)N * D, p, crec__nn_seed(seed, (uint64_t)l, 3));
        crec__nn_residual_forward(res2, s->pre ? res1 : ln1, fc2, (size_t)N * D);
        if (s->pre)
            x = res2;
        else {
            crec__nn_layernorm_forward(ln2, ln2m, ln2r, res2, ln2w, ln2b, N, D);
            x = ln2;
        }
    }
    if (s->pre)
        crec__nn_layernorm_forward(a->t[A_HF], a->t[A_LNFM], a->t[A_LNFR], x, PRM(s, blk, P_LNFW), PRM(s, blk, P_LNFB),
                                   N, D);
    else
        memcpy(a->t[A_HF], x, (size_t)N * D * sizeof(float));
}

/* The gradient through a dropout site: g itself when dropout is off, else mask * g / (1 - p) in tmp. */
static const float *drop_grad(float p, float *tmp, const float *g, size_t n, uint64_t seed) {
    if (p <= 0) return g;
    memset(tmp, 0, n * sizeof *tmp);
    crec__nn_dropout_backward(tmp, g, n, p, seed);
    return tmp;
}

/* Backward of the forward above: g (same layout as a, zeroed, g->t[A_HF] holding dloss/dh) -> grads in gblk. */
static void backward(const sasrec *s, const float *blk_c, float *gblk, const sr_acts *a, sr_acts *g, const sr_batch *bt,
                     uint64_t seed) {
    float *blk = (float *)blk_c;
    int N = bt->N, D = s->D, F = s->F, L = s->L;
    float p = seed ? s->drop : 0;
    float *tmp = g->t[A_TMP];
    /* gradient w.r.t. the last block's output */
    float *dxl;
    if (s->pre) {
        const float *xl = ACT(a, A_RES2, L - 1, D);
        dxl = ACT(g, A_RES2, L - 1, D);
        crec__nn_layernorm_backward(dxl, PRM(s, gblk, P_LNFW), PRM(s, gblk, P_LNFB), g->t[A_HF], xl,
                                    PRM(s, blk, P_LNFW), a->t[A_LNFM], a->t[A_LNFR], N, D);
    } else {
        dxl = ACT(g, A_LN2, L - 1, D); /* post: the final states are the last block's LN2 output */
        for (size_t i = 0; i < (size_t)N * D; i++) dxl[i] += g->t[A_HF][i];
    }
    for (int l = L - 1; l >= 0; l--) {
        const float *x = l == 0 ? a->t[A_X0] : s->pre ? ACT(a, A_RES2, l - 1, D) : ACT(a, A_LN2, l - 1, D);
        float *dx = l == 0 ? g->t[A_X0] : s->pre ? ACT(g, A_RES2, l - 1, D) : ACT(g, A_LN2, l - 1, D);
        const float *ln1 = ACT(a, A_LN1, l, D), *qkv = ACT(a, A_QKV, l, 3 * D), *atty = ACT(a, A_ATTY, l, D);
        const float *res1 = ACT(a, A_RES1, l, D), *ln2 = ACT(a, A_LN2, l, D), *fc1 = ACT(a, A_FC1, l, F);
        const float *fc1a = ACT(a, A_FC1A, l, F), *res2 = ACT(a, A_RES2, l, D);
        const float *ln1m = ACT(a, A_LN1M, l, 1), *ln1r = ACT(a, A_LN1R, l, 1);
        const float *ln2m = ACT(a, A_LN2M, l, 1), *ln2r = ACT(a, A_LN2R, l, 1);
        float *dln1 = ACT(g, A_LN1, l, D), *dqkv = ACT(g, A_QKV, l, 3 * D), *datty = ACT(g, A_ATTY, l, D);
        float *dproj = ACT(g, A_PROJ, l, D), *dres1 = ACT(g, A_RES1, l, D), *dln2 = ACT(g, A_LN2, l, D);
        float *dfc1 = ACT(g, A_FC1, l, F), *dfc1a = ACT(g, A_FC1A, l, F), *dfc2 = ACT(g, A_FC2, l, D);
        float *dres2 = ACT(g, A_RES2, l, D);
        size_t lD = (size_t)l * D;
        const float *ln1w = PRM(s, blk, P_LN1W) + lD, *ln2w = PRM(s, blk, P_LN2W) + lD;
        const float *qkvw = PRM(s, blk, P_QKVW) + lD * 3 * D, *prjw = PRM(s, blk, P_PRJW) + lD * D;
        const float *fc1w = PRM(s, blk, P_FC1W) + (size_t)l * F * D, *fc2w = PRM(s, blk, P_FC2W) + lD * F;
        float *dln1w = PRM(s, gblk, P_LN1W) + lD, *dln1b = PRM(s, gblk, P_LN1B) + lD;
        float *dln2w = PRM(s, gblk, P_LN2W) + lD, *dln2b = PRM(s, gblk, P_LN2B) + lD;
        float *dqkvw = PRM(s, gblk, P_QKVW) + lD * 3 * D, *dqkvb = PRM(s, gblk, P_QKVB) + lD * 3;
        float *dprjw = PRM(s, gblk, P_PRJW) + lD * D, *dprjb = PRM(s, gblk, P_PRJB) + lD;
        float *dfc1w = PRM(s, gblk, P_FC1W) + (size_t)l * F * D, *dfc1b = PRM(s, gblk, P_FC1B) + (size_t)l * F;
        float *dfc2w = PRM(s, gblk, P_FC2W) + lD * F, *dfc2b = PRM(s, gblk, P_FC2B) + lD;

        /* post: x_next = LN2(res2) */
        if (!s->pre) crec__nn_layernorm_backward(dres2, dln2w, dln2b, dln2, res2, ln2w, ln2m, ln2r, N, D);
        /* res2 = base + drop(fc2), base = res1 (pre) or ln1 (post) */
        float *dbase = s->pre ? dres1 : dln1;
        crec__nn_residual_backward(dbase, dfc2, dres2, (size_t)N * D);
        const float *gfc2 = drop_grad(p, tmp, dfc2, (size_t)N * D, crec__nn_seed(seed, (uint64_t)l, 3));
        crec__nn_linear_backward(dfc1a, dfc2w, dfc2b, gfc2, fc1a, fc2w, N, F, D);
        const float *gfc1a = drop_grad(p, tmp, dfc1a, (size_t)N * F, crec__nn_seed(seed, (uint64_t)l, 2));
        crec__nn_act_backward(dfc1, gfc1a, fc1, (size_t)N * F, (crec_nn_act)s->act);
        /* the FFN input: ln2 (pre) or ln1 (post) */
        const float *ffin = s->pre ? ln2 : ln1;
        float *dffin = s->pre ? dln2 : dln1;
        crec__nn_linear_backward(dffin, dfc1w, dfc1b, dfc1, ffin, fc1w, N, D, F);
        if (s->pre)
            crec__nn_layernorm_backward(dres1, dln2w, dln2b, dln2, res1, ln2w, ln2m, ln2r, N, D);
        else
            crec__nn_layernorm_backward(dres1, dln1w, dln1b, dln1, res1, ln1w, ln1m, ln1r, N, D);
        /* res1 = x + drop(proj) */
        crec__nn_residual_backward(dx, dproj, dres1, (size_t)N * D);
        const float *gproj = drop_grad(p, tmp, dproj, (size_t)N * D, crec__nn_seed(seed, (uint64_t)l, 1));
        crec__nn_linear_backward(datty, dprjw, dprjb, gproj, atty, prjw, N, D, D);
        crec__nn_attention_backward(dqkv, datty, qkv, a->t[A_ATT] + (size_t)l * a->A, bt->seq_off, bt->att_off, bt->B,
                                    D, s->H, 1, NULL, p, crec__nn_seed(seed, (uint64_t)l, 4));
        if (s->pre) {
            crec__nn_linear_backward(dln1, dqkvw, dqkvb, dqkv, ln1, qkvw, N, D, 3 * D);
            crec__nn_layernorm_backward(dx, dln1w, dln1b, dln1, x, ln1w, ln1m, ln1r, N, D);
        } else
            crec__nn_linear_backward(dx, dqkvw, dqkvb, dqkv, x, qkvw, N, D, 3 * D);
    }
    const float *gx0 = drop_grad(p, tmp, g->t[A_X0], (size_t)N * D, crec__nn_seed(seed, 0, 0));
    crec__nn_embedding_backward(PRM(s, gblk, P_EMB), gx0, bt->ids, N, D, sqrtf((float)D));
    crec__nn_embedding_backward(PRM(s, gblk, P_POS), gx0, bt->posid, N, D, 1.0f);
}

/* ---- batches ---- */

static int32_t row_len(const crec_csr *x, int32_t u) { return (int32_t)(x->ptr[u + 1] - x->ptr[u]); }

/* Training batch of users[0..nb): each user's last T + 1 training items, inputs -> next items. */
static void batch_train(const sasrec *s, const crec_csr *x, const int32_t *users, int nb, sr_batch *bt) {
    int N = 0;
    bt->seq_off[0] = 0;
    for (int b = 0; b < nb; b++) {
        int32_t u = users[b], n = row_len(x, u);
        int32_t w = n < s->T + 1 ? n : s->T + 1, Tb = w - 1;
        const int32_t *it = x->idx + x->ptr[u] + (n - w);
        for (int t = 0; t < Tb; t++) {
            bt->ids[N + t] = it[t];
            bt->tgt[N + t] = it[t + 1];
            bt->posid[N + t] = s->T - Tb + t;
        }
        N += Tb;
        bt->seq_off[b + 1] = N;
    }
    bt->B = nb, bt->N = N;
    crec__nn_attention_offsets(bt->att_off, bt->seq_off, nb, s->H);
}

/* Inference batch: history b is hist[b][0..len[b]), its last T items (len >= 1). */
static void batch_hist(const sasrec *s, const int32_t *const *hist, const int32_t *len, int nb, sr_batch *bt) {
    int N = 0;
    bt->seq_off[0] = 0;
    for (int b = 0; b < nb; b++) {
        int32_t Tb = len[b] < s->T ? len[b] : s->T;
        const int32_t *it = hist[b] + (len[b] - Tb);
        for (int t = 0; t < Tb; t++) {
            bt->ids[N + t] = it[t];
            bt->tgt[N + t] = -1;
            bt->posid[N + t] = s->T - Tb + t;
        }
        N += Tb;
        bt->seq_off[b + 1] = N;
    }
    bt->B = nb, bt->N = N;
    crec__nn_attention_offsets(bt->att_off, bt->seq_off, nb, s->H);
}

static void batch_free(sr_batch *bt) {
    free(bt->seq_off);
    free(bt->att_off);
    free(bt->ids);
    free(bt->posid);
    free(bt->tgt);
    memset(bt, 0, sizeof *bt);
}

static int batch_alloc(sr_batch *bt, int Bmax, int Nmax) {
    memset(bt, 0, sizeof *bt);
    bt->seq_off = malloc(((size_t)Bmax + 1) * sizeof *bt->seq_off);
    bt->att_off = malloc(((size_t)Bmax + 1) * sizeof *bt->att_off);
    bt->ids = malloc(((size_t)Nmax + 1) * sizeof *bt->ids);
    bt->posid = malloc(((size_t)Nmax + 1) * sizeof *bt->posid);
    bt->tgt = malloc(((size_t)Nmax + 1) * sizeof *bt->tgt);
    if (!bt->seq_off || !bt->att_off || !bt->ids || !bt->posid || !bt->tgt) {
        batch_free(bt);
        return CREC_ENOMEM;
    }
    return 0;
}

static int cmp_desc_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x < y) - (x > y);
}

/* Largest N and A over any batch of nb sequences with these lengths (each capped at T): the nb longest. */
static void worst_batch(const int32_t *lens, int32_t n, int nb, int T, int H, int *Nmax, int64_t *Amax) {
    int32_t *c = malloc(((size_t)n + 1) * sizeof *c);
    int64_t N = 0, A = 0;
    if (c) {
        for (int32_t i = 0; i < n; i++) c[i] = lens[i] < T ? lens[i] : T;
        qsort(c, (size_t)n, sizeof *c, cmp_desc_i32);
        for (int32_t i = 0; i < n && i < nb; i++) N += c[i], A += (int64_t)H * c[i] * c[i];
        free(c);
    } else {
        N = (int64_t)nb * T, A = (int64_t)nb * H * T * T;
    }
    *Nmax = (int)(N > 0 ? N : 1);
    *Amax = A > 0 ? A : 1;
}

/* ---- scoring ---- */

/* One history's scores over all items: the last position's state against E (one matrix-vector product); an empty
 * history gets the items' training counts. Allocates its own activations, so concurrent calls are safe; returns 0 or
 * CREC_ENOMEM. */
static int score_hist(const sasrec *s, const int32_t *hist, int32_t n, float *scores) {
    if (n <= 0) {
        memcpy(scores, s->pop, (size_t)s->NI * sizeof *scores);
        return 0;
    }
    int32_t Tb = n < s->T ? n : s->T;
    int32_t seq_off[2] = {0, Tb};
    int64_t att_off[2];
    int32_t *ids = malloc((size_t)Tb * 3 * sizeof *ids);
    size_t nf = acts_layout(s, Tb, (int64_t)s->H * Tb * Tb, NULL, NULL);
    float *base = malloc(nf * sizeof *base);
    if (!ids || !base) {
        free(ids);
        free(base);
        return CREC_ENOMEM;
    }
    sr_acts a;
    acts_layout(s, Tb, (int64_t)s->H * Tb * Tb, base, &a);
    sr_batch bt = {
        .B = 1, .N = Tb, .seq_off = seq_off, .att_off = att_off, .ids = ids, .posid = ids + Tb, .tgt = ids + 2 * Tb};
    const int32_t *h1[1] = {hist};
    batch_hist(s, h1, &n, 1, &bt);
    forward(s, s->p.param, &a, &bt, 0);
    const float *h = a.t[A_HF] + (size_t)(Tb - 1) * s->D;
    crec__nn_matvec(scores, PRM(s, s->p.param, P_EMB), h, s->NI, s->D);
    free(ids);
    free(base);
    return 0;
}

static int sasrec_score(const crec_model *m, const crec_context *ctx, float *scores) {
    return score_hist(m->state, ctx->hist, ctx->n_hist, scores);
}

/* ---- validation: NDCG@10 on `valid` targets, history = the training row, full ranking with the history
 * excluded and pessimistic ties (crec_rank_targets), exactly as crec eval --target valid. Users go through the
 * forward in packed batches; one sgemm scores a batch against the catalog; ranking runs one user per thread. ---- */

typedef struct sr_valid {
    int32_t n_users, *users; /* users with validation targets */
    float *S;                /* [Bmax, I] scores */
    float *hl;               /* [Bmax, D] last states */
    double *ndcg;            /* [n_users] */
    int nt;
    uint8_t *excl; /* [nt, I] all zero between users */
    int32_t *tgt;  /* [nt, max targets] */
    int64_t *ranks;
    int32_t max_tgt;
} sr_valid;

static void valid_free(sr_valid *v) {
    free(v->users), free(v->S), free(v->hl), free(v->ndcg), free(v->excl), free(v->tgt), free(v->ranks);
    memset(v, 0, sizeof *v);
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int valid_init(sr_valid *v, const sasrec *s, const crec_csr *valid, int32_t max_users, int Bmax, int nt) {
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
    v->nt = nt;
    v->max_tgt = mt;
    v->S = crec__aligned_alloc((size_t)Bmax * s->NI * sizeof *v->S);
    v->hl = crec__aligned_alloc((size_t)Bmax * s->D * sizeof *v->hl);
    v->ndcg = malloc(((size_t)k + 1) * sizeof *v->ndcg);
    v->excl = calloc((size_t)nt * s->NI, 1);
    v->tgt = malloc((size_t)nt * mt * sizeof *v->tgt);
    v->ranks = malloc((size_t)nt * mt * sizeof *v->ranks);
    if (!v->S || !v->hl || !v->ndcg || !v->excl || !v->tgt || !v->ranks) {
        valid_free(v);
        return CREC_ENOMEM;
    }
    return 0;
}

/* Mean NDCG@10 over v's users; a (activation block) and bt are reused from training. */
static double validate(const sasrec *s, sr_valid *v, const crec_csr *train, const crec_csr *valid, float *abase,
                       sr_batch *bt, int Bmax) {
    const int32_t *hist[1024];
    int32_t len[1024], who[1024];
    if (Bmax > 1024) Bmax = 1024;
    const float *E = PRM(s, s->p.param, P_EMB);
    for (int32_t u0 = 0; u0 < v->n_users; u0 += Bmax) {
        int nb = v->n_users - u0 < Bmax ? v->n_users - u0 : Bmax, k = 0;
        for (int b = 0; b < nb; b++) {
            int32_t u = v->users[u0 + b];
            if (row_len(train, u) == 0) continue;
            hist[k] = train->idx + train->ptr[u];
            len[k] = row_len(train, u);
            who[k++] = b;
        }
        if (k > 0) {
            batch_hist(s, hist, len, k, bt);
            sr_acts a;
            acts_layout(s, bt->N, bt->att_off[k], abase, &a);
            forward(s, s->p.param, &a, bt, 0);
            for (int j = 0; j < k; j++)
                memcpy(v->hl + (size_t)j * s->D, a.t[A_HF] + (size_t)(bt->seq_off[j + 1] - 1) * s->D,
                       (size_t)s->D * sizeof(float));
            crec__nn_gemm(0, 1, k, s->NI, s->D, 1.0f, v->hl, s->D, E, s->D, 0.0f, v->S, s->NI);
        }
        int row_of[1024];
        for (int b = 0; b < nb; b++) row_of[b] = -1;
        for (int j = 0; j < k; j++) row_of[who[j]] = j;
#pragma omp parallel for schedule(dynamic, 8) num_threads(v->nt)
        for (int b = 0; b < nb; b++) {
            int t = omp_get_thread_num();
            int32_t u = v->users[u0 + b];
            uint8_t *ex = v->excl + (size_t)t * s->NI;
            int32_t *tg = v->tgt + (size_t)t * v->max_tgt;
            int64_t *rk = v->ranks + (size_t)t * v->max_tgt;
            const float *sc = row_of[b] >= 0 ? v->S + (size_t)row_of[b] * s->NI : s->pop;
            int32_t nt = 0;
            for (int64_t q = valid->ptr[u]; q < valid->ptr[u + 1]; q++) tg[nt++] = valid->idx[q];
            qsort(tg, (size_t)nt, sizeof *tg, cmp_i32);
            int32_t d = 0;
            for (int32_t q = 0; q < nt; q++)
                if (q == 0 || tg[q] != tg[q - 1]) tg[d++] = tg[q];
            for (int64_t q = train->ptr[u]; q < train->ptr[u + 1]; q++) ex[train->idx[q]] = 1;
            crec_metrics_at at;
            if (crec_rank_targets(sc, s->NI, ex, tg, d, rk) == 0) {
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

/* ---- training ---- */

static void init_params(sasrec *s, crec_rng *r) {
    float *blk = s->p.param;
    int D = s->D, F = s->F;
    /* Xavier-normal (as the reference PyTorch SASRec): std = sqrt(2 / (fan_in + fan_out)) */
    struct {
        int k;
        double std;
    } w[] = {{P_EMB, sqrt(2.0 / (s->NI + D))}, {P_POS, sqrt(2.0 / (s->T + D))}, {P_QKVW, sqrt(1.0 / D)},
             {P_PRJW, sqrt(1.0 / D)},          {P_FC1W, sqrt(2.0 / (D + F))},   {P_FC2W, sqrt(2.0 / (D + F))}};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        float *t = PRM(s, blk, w[i].k);
        for (size_t j = 0; j < s->p.size[w[i].k]; j++) t[j] = (float)(w[i].std * crec__rng_normal(r));
    }
    int ones[] = {P_LN1W, P_LN2W, P_LNFW};
    for (int i = 0; i < 3; i++) {
        float *t = PRM(s, blk, ones[i]);
        for (size_t j = 0; j < s->p.size[ones[i]]; j++) t[j] = 1.0f;
    }
}

/* Weight decay applies to matrices and embeddings, not to biases and LayerNorm parameters. */
static int decays(int k) {
    return k == P_EMB || k == P_POS || k == P_QKVW || k == P_PRJW || k == P_FC1W || k == P_FC2W;
}

typedef struct sr_hp {
    int loss, neg, sampler_pop, sched, batch, epochs, patience, warmup;
    double lr, wd, beta2, clip, gbce_t;
    int32_t valid_users;
} sr_hp;

static int parse_act(const char *a) {
    if (strcmp(a, "gelu") == 0) return CREC_NN_GELU;
    if (strcmp(a, "relu") == 0) return CREC_NN_RELU;
    if (strcmp(a, "silu") == 0) return CREC_NN_SILU;
    return -1;
}

/* Architecture from m's hyper-parameters into s (I from m); CREC_EINVAL when out of range. */
static int arch_from(const crec_model *m, sasrec *s) {
    memset(s, 0, sizeof *s);
    s->D = (int)crec_model_param_int(m, "dim");
    s->L = (int)crec_model_param_int(m, "blocks");
    s->H = (int)crec_model_param_int(m, "heads");
    s->F = (int)crec_model_param_int(m, "ffn");
    s->T = (int)crec_model_param_int(m, "max_len");
    s->drop = (float)crec_model_param_double(m, "dropout");
    s->NI = m->n_items;
    const char *norm = crec_model_param_str(m, "norm");
    s->pre = strcmp(norm, "pre") == 0;
    s->act = parse_act(crec_model_param_str(m, "act"));
    if (s->F == 0) s->F = s->D;
    if (s->D < 1 || s->D > 4096 || s->L < 1 || s->L > 16 || s->H < 1 || s->D % s->H || s->F < 1 || s->F > 65536 ||
        s->T < 1 || s->T > CREC_NN_MAX_T || !(s->drop >= 0 && s->drop < 1) || s->act < 0 ||
        (!s->pre && strcmp(norm, "post") != 0) || s->NI < 1)
        return CREC_EINVAL;
    return 0;
}

static int hp_from(const crec_model *m, sr_hp *h) {
    memset(h, 0, sizeof *h);
    const char *loss = crec_model_param_str(m, "loss");
    h->loss = strcmp(loss, "ce") == 0     ? LOSS_CE
              : strcmp(loss, "ssm") == 0  ? LOSS_SSM
              : strcmp(loss, "bce") == 0  ? LOSS_BCE
              : strcmp(loss, "gbce") == 0 ? LOSS_GBCE
                                          : -1;
    h->neg = (int)crec_model_param_int(m, "neg");
    if (h->neg == 0) h->neg = h->loss == LOSS_SSM ? 256 : h->loss == LOSS_GBCE ? 128 : 1;
    const char *smp = crec_model_param_str(m, "sampler");
    h->sampler_pop = strcmp(smp, "pop") == 0;
    h->sched = crec__nn_sched_parse(crec_model_param_str(m, "schedule"));
    h->batch = (int)crec_model_param_int(m, "batch");
    h->epochs = (int)crec_model_param_int(m, "epochs");
    h->patience = (int)crec_model_param_int(m, "patience");
    h->warmup = (int)crec_model_param_int(m, "warmup");
    h->lr = crec_model_param_double(m, "lr");
    h->wd = crec_model_param_double(m, "wd");
    h->beta2 = crec_model_param_double(m, "beta2");
    h->clip = crec_model_param_double(m, "clip");
    h->gbce_t = crec_model_param_double(m, "gbce_t");
    h->valid_users = (int32_t)crec_model_param_int(m, "valid_users");
    if (h->loss < 0 || h->neg < 1 || h->neg > 65536 || (!h->sampler_pop && strcmp(smp, "uniform") != 0) ||
        h->sched < 0 || h->batch < 1 || h->batch > 1024 || h->epochs < 0 || h->patience < 0 || h->warmup < 0 ||
        !(h->lr > 0) || !(h->wd >= 0) || !(h->beta2 > 0 && h->beta2 < 1) || !(h->clip >= 0) ||
        !(h->gbce_t >= 0 && h->gbce_t <= 1) || h->valid_users < 0)
        return CREC_EINVAL;
    return 0;
}

/* Sampler of negatives for ssm: uniform, or by training count (cumulative table, binary search). */
typedef struct sr_sampler {
    int pop;
    int32_t NI;
    double *cdf; /* [I] when pop */
    float *logq; /* [I] log(S * Q(j)) when pop */
} sr_sampler;

static int32_t sample_item(const sr_sampler *sp, crec_rng *r) {
    if (!sp->pop) return (int32_t)crec__rng_below(r, (uint64_t)sp->NI);
    double u = crec__rng_uniform(r) * sp->cdf[sp->NI - 1];
    int32_t lo = 0, hi = sp->NI - 1;
    while (lo < hi) {
        int32_t mid = (lo + hi) / 2;
        if (sp->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Everything training allocates, freed in one place. */
typedef struct sr_train {
    sr_batch bt;
    float *abase, *gbase, *scratch, *best;
    int32_t *users, *neg, *lens;
    float *lqp, *lqn;
    uint8_t *mark;
    sr_valid v;
    sr_sampler sp;
} sr_train;

static void train_free(sr_train *t) {
    batch_free(&t->bt);
    free(t->abase), free(t->gbase), free(t->scratch), free(t->best), free(t->users), free(t->neg), free(t->lens);
    free(t->lqp), free(t->lqn), free(t->mark), free(t->sp.cdf), free(t->sp.logq);
    valid_free(&t->v);
}

static void sasrec_free(crec_model *m) {
    sasrec *s = m->state;
    if (s) {
        crec__nn_params_free(&s->p);
        free(s->pop);
    }
    free(s);
    m->state = NULL;
}

static int sasrec_train(crec_model *m, const crec_train_input *in) {
    sasrec *s = calloc(1, sizeof *s);
    sr_hp hp;
    sr_train tr;
    memset(&tr, 0, sizeof tr);
    if (!s) return CREC_ENOMEM;
    int rc = arch_from(m, s);
    if (!rc) rc = hp_from(m, &hp);
    if (rc) {
        free(s);
        return rc;
    }
    const crec_csr *x = in->train;
    int32_t NI = s->NI, U = x->n_rows;
    int D = s->D;
    int nt = in->n_threads > 0 ? in->n_threads : omp_get_max_threads();
    int prev_threads = omp_get_max_threads(), prev_blas = crec__nn_blas_single();
    omp_set_num_threads(nt);
    size_t psz[P_COUNT];
    param_sizes(s, psz);
    rc = crec__nn_params_alloc(&s->p, psz, P_COUNT, 1);
    s->pop = calloc((size_t)NI, sizeof *s->pop);
    if (!rc && !s->pop) rc = CREC_ENOMEM;
    if (rc) goto done;
    for (int64_t q = 0; q < crec_csr_nnz(x); q++) s->pop[x->idx[q]] += 1.0f;
    crec_rng rng;
    crec__rng_seed(&rng, in->seed);
    init_params(s, &rng);

    /* training users (>= 2 training items) and the worst-case batch over training and validation windows */
    tr.users = malloc(((size_t)U + 1) * sizeof *tr.users);
    tr.lens = malloc(((size_t)U + 1) * sizeof *tr.lens);
    if (!tr.users || !tr.lens) {
        rc = CREC_ENOMEM;
        goto done;
    }
    int32_t nu = 0;
    for (int32_t u = 0; u < U; u++) {
        tr.lens[u] = row_len(x, u);
        if (tr.lens[u] >= 2) tr.users[nu++] = u;
    }
    int Bmax = hp.batch, Nmax;
    int64_t Amax;
    worst_batch(tr.lens, U, Bmax, s->T, s->H, &Nmax, &Amax);
    size_t af = acts_layout(s, Nmax, Amax, NULL, NULL);
    tr.abase = crec__aligned_alloc(af * sizeof(float));
    tr.gbase = crec__aligned_alloc(af * sizeof(float));
    /* loss scratch: ce = row blocks x item chunks within 16M floats (64 MiB): whole catalog and up to 1024 rows
     * per block when it fits (fewer passes over the item table), else 256 rows x chunks; ssm = N*S + 2*S*D + 2N;
     * bce 2N(K+1) */
    size_t ce_budget = (size_t)16 << 20;
    int ce_rb = (int)(ce_budget / (size_t)NI), ce_ic = NI;
    if (ce_rb > 1024) ce_rb = 1024;
    if (ce_rb < 256) ce_rb = 256, ce_ic = (int)(ce_budget / 256) < NI ? (int)(ce_budget / 256) : NI;
    size_t scr = (size_t)ce_rb * ce_ic + 2 * ce_rb;
    if (hp.loss == LOSS_SSM) scr = (size_t)Nmax * hp.neg + 2 * (size_t)hp.neg * D + 2 * (size_t)Nmax;
    if (hp.loss == LOSS_BCE || hp.loss == LOSS_GBCE) scr = 2 * (size_t)Nmax * (hp.neg + 1);
    tr.scratch = crec__aligned_alloc(scr * sizeof(float));
    tr.best = crec__aligned_alloc(s->p.total * sizeof(float));
    tr.neg = malloc(((size_t)Nmax * hp.neg + 1) * sizeof *tr.neg);
    tr.mark = calloc((size_t)NI, 1);
    rc = batch_alloc(&tr.bt, Bmax, Nmax);
    if (!rc && (!tr.abase || !tr.gbase || !tr.scratch || !tr.best || !tr.neg || !tr.mark)) rc = CREC_ENOMEM;
    if (!rc && hp.loss == LOSS_SSM) {
        tr.sp.pop = hp.sampler_pop;
        tr.sp.NI = NI;
        if (hp.sampler_pop) {
            tr.sp.cdf = malloc((size_t)NI * sizeof *tr.sp.cdf);
            tr.sp.logq = malloc((size_t)NI * sizeof *tr.sp.logq);
            tr.lqp = malloc(((size_t)Nmax + 1) * sizeof *tr.lqp);
            tr.lqn = malloc((size_t)hp.neg * sizeof *tr.lqn);
            if (!tr.sp.cdf || !tr.sp.logq || !tr.lqp || !tr.lqn)
                rc = CREC_ENOMEM;
            else {
                double c = 0;
                for (int32_t j = 0; j < NI; j++) c += s->pop[j] + 1.0, tr.sp.cdf[j] = c;
                for (int32_t j = 0; j < NI; j++) tr.sp.logq[j] = (float)log((double)hp.neg * (s->pop[j] + 1.0) / c);
            }
        }
    }
    int do_valid = in->valid && crec_csr_nnz(in->valid) > 0;
    if (!rc && do_valid) {
        rc = valid_init(&tr.v, s, in->valid, hp.valid_users, Bmax, nt);
        if (!rc && tr.v.n_users == 0) do_valid = 0;
    }
    if (rc) goto done;

    double gbce_beta = hp.loss == LOSS_GBCE ? crec__nn_gbce_beta(hp.neg, NI, hp.gbce_t) : 1.0;
    int64_t steps_per_epoch = (nu + Bmax - 1) / Bmax, total = steps_per_epoch * hp.epochs, step = 0;
    double best = -1;
    int best_epoch = 0, since = 0;
    memcpy(tr.best, s->p.param, s->p.total * sizeof(float));
    for (int ep = 1; ep <= hp.epochs && nu > 0; ep++) {
        double t0 = crec__now(), loss_sum = 0;
        int64_t tok_sum = 0;
        for (int32_t i = nu - 1; i > 0; i--) { /* Fisher-Yates */
            int32_t j = (int32_t)crec__rng_below(&rng, (uint64_t)i + 1), t = tr.users[i];
            tr.users[i] = tr.users[j], tr.users[j] = t;
        }
        crec_progress pg;
        crec__progress_start(&pg, "sasrec epoch", nu, in->verbose && crec__progress_wanted());
        for (int32_t b0 = 0; b0 < nu; b0 += Bmax, step++) {
            int nb = nu - b0 < Bmax ? nu - b0 : Bmax;
            sr_batch *bt = &tr.bt;
            batch_train(s, x, tr.users + b0, nb, bt);
            int N = bt->N;
            sr_acts a, g;
            acts_layout(s, N, bt->att_off[nb], tr.abase, &a);
            size_t used = acts_layout(s, N, bt->att_off[nb], tr.gbase, &g);
            uint64_t seed = crec__nn_hash(in->seed ^ 0x5A5Aull, (uint64_t)step) | 1; /* != 0: dropout on */
            forward(s, s->p.param, &a, bt, seed);
            memset(tr.gbase, 0, used * sizeof(float));
            memset(s->p.grad, 0, s->p.total * sizeof(float));
            float *demb = PRM(s, s->p.grad, P_EMB), *emb = PRM(s, s->p.param, P_EMB);
            float gs = 1.0f / (float)N;
            double l;
            if (hp.loss == LOSS_CE)
                l = crec__nn_softmax_ce_loss(g.t[A_HF], demb, tr.scratch, a.t[A_HF], emb, bt->tgt, N, D, NI, ce_rb,
                                             ce_ic, gs);
            else if (hp.loss == LOSS_SSM) {
                for (int j = 0; j < hp.neg; j++) {
                    tr.neg[j] = sample_item(&tr.sp, &rng);
                    if (tr.lqn) tr.lqn[j] = tr.sp.logq[tr.neg[j]];
                }
                if (tr.lqp)
                    for (int n = 0; n < N; n++) tr.lqp[n] = tr.sp.logq[bt->tgt[n]];
                l = crec__nn_sampled_softmax_loss(g.t[A_HF], demb, tr.scratch, a.t[A_HF], emb, bt->tgt, tr.neg, tr.lqp,
                                                  tr.lqn, N, D, hp.neg, gs);
            } else {
                /* per position, hp.neg negatives not in the user's training row (the original's sampler) */
                for (int b = 0; b < nb; b++) {
                    int32_t u = tr.users[b0 + b];
                    const int32_t *row = x->idx + x->ptr[u];
                    int32_t rl = row_len(x, u);
                    for (int32_t q = 0; q < rl; q++) tr.mark[row[q]] = 1;
                    for (int32_t n = bt->seq_off[b]; n < bt->seq_off[b + 1]; n++)
                        for (int k = 0; k < hp.neg; k++) {
                            int32_t j, tries = 0;
                            do j = (int32_t)crec__rng_below(&rng, (uint64_t)NI);
                            while (tr.mark[j] && ++tries < 64);
                            tr.neg[(size_t)n * hp.neg + k] = j;
                        }
                    for (int32_t q = 0; q < rl; q++) tr.mark[row[q]] = 0;
                }
                l = crec__nn_bce_loss(g.t[A_HF], demb, tr.scratch, a.t[A_HF], emb, bt->tgt, tr.neg, N, D, hp.neg,
                                      gbce_beta, gs);
            }
            loss_sum += l;
            tok_sum += N;
            backward(s, s->p.param, s->p.grad, &a, &g, bt, seed);
            if (hp.clip > 0) crec__nn_clip_grad_norm(s->p.grad, s->p.total, hp.clip);
            float lr = crec__nn_lr((crec_nn_sched)hp.sched, (float)hp.lr, step, total, hp.warmup, 0.1f);
            for (int k = 0; k < P_COUNT; k++)
                crec__nn_adamw(PRM(s, s->p.param, k), PRM(s, s->p.grad, k), PRM(s, s->p.m, k), PRM(s, s->p.v, k),
                               s->p.size[k], lr, 0.9f, (float)hp.beta2, 1e-8f, decays(k) ? (float)hp.wd : 0.0f,
                               step + 1);
            crec__progress_update(&pg, b0 + nb);
        }
        crec__progress_end(&pg);
        double secs = crec__now() - t0;
        if (!do_valid) {
            if (in->verbose)
                crec__log("sasrec epoch %d  loss %.4f  %.2fs\n", ep, tok_sum ? loss_sum / tok_sum : 0, secs);
            continue;
        }
        double t1 = crec__now();
        double nd = validate(s, &tr.v, x, in->valid, tr.abase, &tr.bt, Bmax);
        if (in->verbose)
            crec__log("sasrec epoch %d  loss %.4f  valid NDCG@10 %.4f%s  train %.2fs  valid %.2fs\n", ep,
                      tok_sum ? loss_sum / tok_sum : 0, nd, nd > best ? " *" : "", secs, crec__now() - t1);
        if (nd > best) {
            best = nd, best_epoch = ep, since = 0;
            memcpy(tr.best, s->p.param, s->p.total * sizeof(float));
        } else if (hp.patience > 0 && ++since >= hp.patience)
            break;
    }
    if (do_valid && best >= 0) {
        memcpy(s->p.param, tr.best, s->p.total * sizeof(float));
        if (in->verbose) crec__log("sasrec: best validation NDCG@10 %.4f at epoch %d\n", best, best_epoch);
    }
    /* keep parameters only */
    free(s->p.grad), free(s->p.m), free(s->p.v);
    s->p.grad = s->p.m = s->p.v = NULL;
done:
    omp_set_num_threads(prev_threads);
    crec__nn_blas_restore(prev_blas);
    train_free(&tr);
    if (rc) {
        crec__nn_params_free(&s->p);
        free(s->pop);
        free(s);
        return rc;
    }
    m->state = s;
    return 0;
}

/* ---- a whole-model gradient check (tests/unit/test_sasrec.c) ---- */

/* Mean CE loss of batch bt under s's parameters (dropout off); with grad, also the gradients in s->p.grad. */
static double gc_loss(sasrec *s, sr_acts *a, sr_acts *g, float *abase, float *gbase, const sr_batch *bt, float *scratch,
                      int grad, uint64_t dseed) {
    int N = bt->N;
    acts_layout(s, N, bt->att_off[bt->B], abase, a);
    size_t used = acts_layout(s, N, bt->att_off[bt->B], gbase, g);
    forward(s, s->p.param, a, bt, dseed);
    float gs = 1.0f / (float)N;
    if (!grad)
        return crec__nn_softmax_ce_loss(NULL, NULL, scratch, a->t[A_HF], PRM(s, s->p.param, P_EMB), bt->tgt, N, s->D,
                                        s->NI, N, s->NI, gs) /
               N;
    memset(gbase, 0, used * sizeof(float));
    memset(s->p.grad, 0, s->p.total * sizeof(float));
    double l = crec__nn_softmax_ce_loss(g->t[A_HF], PRM(s, s->p.grad, P_EMB), scratch, a->t[A_HF],
                                        PRM(s, s->p.param, P_EMB), bt->tgt, N, s->D, s->NI, N, s->NI, gs);
    backward(s, s->p.param, s->p.grad, a, g, bt, dseed);
    return l / N;
}

int crec__sasrec_gradcheck(int pre, int act, float dropout, uint64_t seed, double *worst, int *checked) {
    sasrec s = {.D = 8, .L = 2, .H = 2, .F = 12, .T = 6, .pre = pre, .act = act, .NI = 13, .drop = dropout};
    uint64_t dseed = dropout > 0 ? seed | 1 : 0; /* one fixed set of dropout masks: the loss stays differentiable */
    size_t psz[P_COUNT];
    param_sizes(&s, psz);
    int rc = crec__nn_params_alloc(&s.p, psz, P_COUNT, 1);
    if (rc) return rc;
    crec_rng r;
    crec__rng_seed(&r, seed);
    for (size_t i = 0; i < s.p.total; i++) s.p.param[i] = (float)(0.5 * crec__rng_normal(&r));
    /* three users' histories, one longer than T (its window is the last T + 1 items) */
    int32_t idx[] = {1, 5, 2, 7, 3, 4, 9, 12, 0, 11, 6, 2, 8, 10, 1, 3};
    int64_t ptr[] = {0, 3, 5, 16};
    crec_csr x = {.n_rows = 3, .n_cols = 13, .ptr = ptr, .idx = idx};
    int32_t users[] = {0, 1, 2};
    sr_batch bt;
    int Nmax = 3 * s.T;
    int64_t Amax = (int64_t)3 * s.H * s.T * s.T;
    size_t af = acts_layout(&s, Nmax, Amax, NULL, NULL);
    float *abase = crec__aligned_alloc(af * sizeof(float)), *gbase = crec__aligned_alloc(af * sizeof(float));
    float *scratch = crec__aligned_alloc(((size_t)Nmax * s.NI + 2 * Nmax) * sizeof(float));
    float *gsave = crec__aligned_alloc(s.p.total * sizeof(float));
    rc = batch_alloc(&bt, 3, Nmax);
    if (!rc && (!abase || !gbase || !scratch || !gsave)) rc = CREC_ENOMEM;
    if (!rc) {
        batch_train(&s, &x, users, 3, &bt);
        sr_acts a, g;
        gc_loss(&s, &a, &g, abase, gbase, &bt, scratch, 1, dseed);
        memcpy(gsave, s.p.grad, s.p.total * sizeof(float));
        double w = 0;
        int n = 0;
        const float eps = 1e-2f;
        for (int k = 0; k < P_COUNT; k++)
            for (int c = 0; c < 12 && (size_t)c < s.p.size[k]; c++) {
                size_t i = s.p.off[k] + crec__rng_below(&r, s.p.size[k]);
                float p0 = s.p.param[i];
                s.p.param[i] = p0 + eps;
                double lp = gc_loss(&s, &a, &g, abase, gbase, &bt, scratch, 0, dseed);
                s.p.param[i] = p0 - eps;
                double lm = gc_loss(&s, &a, &g, abase, gbase, &bt, scratch, 0, dseed);
                s.p.param[i] = p0;
                double num = (lp - lm) / (2.0 * eps), e = fabs(gsave[i] - num) / fmax(fabs(num), 0.05);
                if (e > w) w = e;
                n++;
            }
        *worst = w;
        *checked = n;
    }
    batch_free(&bt);
    free(abase), free(gbase), free(scratch), free(gsave);
    crec__nn_params_free(&s.p);
    return rc;
}

/* ---- checkpoints: the architecture (checked against the hyper-parameters on load), popularity, parameters ---- */

static int sasrec_save(const crec_model *m, crec_buf *out) {
    const sasrec *s = m->state;
    uint32_t hdr[8] = {(uint32_t)s->D, (uint32_t)s->L,   (uint32_t)s->H,   (uint32_t)s->F,
                       (uint32_t)s->T, (uint32_t)s->pre, (uint32_t)s->act, (uint32_t)s->NI};
    int rc = 0;
    for (int i = 0; !rc && i < 8; i++) rc = crec__put_u32(out, hdr[i]);
    if (!rc) rc = crec_buf_write(out, s->pop, (size_t)s->NI * sizeof *s->pop);
    if (!rc) rc = crec__nn_params_save(&s->p, out);
    return rc;
}

static int sasrec_load(crec_model *m, crec_buf *in) {
    sasrec *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    int rc = arch_from(m, s) ? CREC_EFORMAT : 0;
    uint32_t hdr[8];
    for (int i = 0; !rc && i < 8; i++) rc = crec__get_u32(in, &hdr[i]);
    if (!rc && (hdr[0] != (uint32_t)s->D || hdr[1] != (uint32_t)s->L || hdr[2] != (uint32_t)s->H ||
                hdr[3] != (uint32_t)s->F || hdr[4] != (uint32_t)s->T || hdr[5] != (uint32_t)s->pre ||
                hdr[6] != (uint32_t)s->act || hdr[7] != (uint32_t)s->NI))
        rc = CREC_EFORMAT;
    size_t psz[P_COUNT];
    if (!rc) {
        param_sizes(s, psz);
        s->pop = malloc((size_t)s->NI * sizeof *s->pop);
        rc = s->pop ? crec_buf_read(in, s->pop, (size_t)s->NI * sizeof *s->pop) : CREC_ENOMEM;
    }
    if (!rc) rc = crec__nn_params_alloc(&s->p, psz, P_COUNT, 0);
    if (!rc) rc = crec__nn_params_load(&s->p, in);
    if (rc) {
        crec__nn_params_free(&s->p);
        free(s->pop);
        free(s);
        return rc;
    }
    m->state = s;
    return 0;
}

const crec_model_type crec__model_sasrec = {
    .name = "sasrec",
    .summary = "SASRec: causal self-attention over the last max_len items (ce / ssm / bce / gbce losses)",
    .params = SASREC_PARAMS,
    .train = sasrec_train,
    .score = sasrec_score,
    .save = sasrec_save,
    .load = sasrec_load,
    .free_state = sasrec_free,
};
