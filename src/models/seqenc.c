/* seqenc.c: the transformer encoder over packed item sequences shared by sasrec.c and bert4rec.c (seqenc.h): the
 * forward / backward on the neural core (src/nn), packed batches, scoring, validation with full ranking, the
 * training loop, checkpoints and the gradient check. The models add their windows, targets and loss.
 *
 * The one idea: batches are packed, never padded. A batch is the concatenation of its users' windows (row
 * offsets seq_off), every row-wise kernel runs on the N real tokens, and attention runs per (sequence, head) on
 * T_b x T_b. Beauty's windows average 6 items out of 50, so this is ~8x less work than a padded batch. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"
#include "crec/rank.h"
#include "models/seqenc.h"
#include "models/seqvalid.h"

/* ---- layout ---- */

static void param_sizes(const crec_seqenc *s, size_t *sz) {
    size_t D = (size_t)s->D, L = (size_t)s->L, F = (size_t)s->F;
    sz[SE_P_EMB] = (size_t)(s->NI + (s->mask >= 0)) * D;
    sz[SE_P_POS] = (size_t)s->T * D;
    sz[SE_P_LN1W] = sz[SE_P_LN1B] = sz[SE_P_PRJB] = sz[SE_P_LN2W] = sz[SE_P_LN2B] = sz[SE_P_FC2B] = L * D;
    sz[SE_P_QKVW] = L * 3 * D * D;
    sz[SE_P_QKVB] = L * 3 * D;
    sz[SE_P_PRJW] = L * D * D;
    sz[SE_P_FC1W] = L * F * D;
    sz[SE_P_FC1B] = L * F;
    sz[SE_P_FC2W] = L * D * F;
    sz[SE_P_LNFW] = sz[SE_P_LNFB] = D;
}

/* Floats of the activation block for (N, A); with base, also points a's tensors into it. */
size_t crec__seqenc_acts_layout(const crec_seqenc *s, int N, int64_t A, float *base, crec_seqenc_acts *a) {
    size_t n = (size_t)N, D = (size_t)s->D, L = (size_t)s->L, F = (size_t)s->F, sz[SE_A_COUNT];
    sz[SE_A_X0] = sz[SE_A_HF] = n * D;
    sz[SE_A_LN1] = sz[SE_A_ATTY] = sz[SE_A_PROJ] = sz[SE_A_RES1] = sz[SE_A_LN2] = sz[SE_A_FC2] = sz[SE_A_RES2] =
        L * n * D;
    sz[SE_A_LN1M] = sz[SE_A_LN1R] = sz[SE_A_LN2M] = sz[SE_A_LN2R] = L * n;
    sz[SE_A_QKV] = L * n * 3 * D;
    sz[SE_A_ATT] = L * (size_t)A;
    sz[SE_A_FC1] = sz[SE_A_FC1A] = L * n * F;
    sz[SE_A_LNFM] = sz[SE_A_LNFR] = n;
    sz[SE_A_TMP] = n * (F > D ? F : D);
    size_t off = 0;
    for (int k = 0; k < SE_A_COUNT; k++) {
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
void crec__seqenc_forward(const crec_seqenc *s, const float *blk_c, crec_seqenc_acts *a, const crec_seqenc_batch *bt,
                          uint64_t seed) {
    float *blk = (float *)blk_c; /* read only here */
    int N = bt->N, D = s->D, F = s->F, L = s->L;
    float p = seed ? s->drop : 0;
    crec__nn_embedding_forward(a->t[SE_A_X0], bt->ids, PRM(s, blk, SE_P_EMB), N, D, sqrtf((float)D), 0);
    crec__nn_embedding_forward(a->t[SE_A_X0], bt->posid, PRM(s, blk, SE_P_POS), N, D, 1.0f, 1);
    if (p > 0) crec__nn_dropout_forward(a->t[SE_A_X0], a->t[SE_A_X0], (size_t)N * D, p, crec__nn_seed(seed, 0, 0));
    const float *x = a->t[SE_A_X0];
    for (int l = 0; l < L; l++) {
        float *ln1 = ACT(a, SE_A_LN1, l, D), *qkv = ACT(a, SE_A_QKV, l, 3 * D), *atty = ACT(a, SE_A_ATTY, l, D);
        float *proj = ACT(a, SE_A_PROJ, l, D), *res1 = ACT(a, SE_A_RES1, l, D), *ln2 = ACT(a, SE_A_LN2, l, D);
        float *fc1 = ACT(a, SE_A_FC1, l, F), *fc1a = ACT(a, SE_A_FC1A, l, F), *fc2 = ACT(a, SE_A_FC2, l, D);
        float *res2 = ACT(a, SE_A_RES2, l, D);
        float *ln1m = ACT(a, SE_A_LN1M, l, 1), *ln1r = ACT(a, SE_A_LN1R, l, 1);
        float *ln2m = ACT(a, SE_A_LN2M, l, 1), *ln2r = ACT(a, SE_A_LN2R, l, 1);
        const float *ln1w = PRM(s, blk, SE_P_LN1W) + l * D, *ln1b = PRM(s, blk, SE_P_LN1B) + l * D;
        const float *ln2w = PRM(s, blk, SE_P_LN2W) + l * D, *ln2b = PRM(s, blk, SE_P_LN2B) + l * D;
        const float *qkvw = PRM(s, blk, SE_P_QKVW) + (size_t)l * 3 * D * D, *qkvb = PRM(s, blk, SE_P_QKVB) + l * 3 * D;
        const float *prjw = PRM(s, blk, SE_P_PRJW) + (size_t)l * D * D, *prjb = PRM(s, blk, SE_P_PRJB) + l * D;
        const float *fc1w = PRM(s, blk, SE_P_FC1W) + (size_t)l * F * D, *fc1b = PRM(s, blk, SE_P_FC1B) + l * F;
        const float *fc2w = PRM(s, blk, SE_P_FC2W) + (size_t)l * D * F, *fc2b = PRM(s, blk, SE_P_FC2B) + l * D;
        if (s->pre) {
            crec__nn_layernorm_forward(ln1, ln1m, ln1r, x, ln1w, ln1b, N, D);
            crec__nn_linear_forward(qkv, ln1, qkvw, qkvb, N, D, 3 * D);
        } else
            crec__nn_linear_forward(qkv, x, qkvw, qkvb, N, D, 3 * D);
        crec__nn_attention_forward(atty, a->t[SE_A_ATT] + (size_t)l * a->A, qkv, bt->seq_off, bt->att_off, bt->B, D,
                                   s->H, s->causal, NULL, p, crec__nn_seed(seed, (uint64_t)l, 4));
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
        crec__nn_layernorm_forward(a->t[SE_A_HF], a->t[SE_A_LNFM], a->t[SE_A_LNFR], x, PRM(s, blk, SE_P_LNFW),
                                   PRM(s, blk, SE_P_LNFB), N, D);
    else
        memcpy(a->t[SE_A_HF], x, (size_t)N * D * sizeof(float));
}

/* The gradient through a dropout site: g itself when dropout is off, else mask * g / (1 - p) in tmp. */
static const float *drop_grad(float p, float *tmp, const float *g, size_t n, uint64_t seed) {
    if (p <= 0) return g;
    memset(tmp, 0, n * sizeof *tmp);
    crec__nn_dropout_backward(tmp, g, n, p, seed);
    return tmp;
}

/* Backward of the forward above: g (same layout as a, zeroed, g->t[SE_A_HF] holding dloss/dh) -> grads in gblk. */
void crec__seqenc_backward(const crec_seqenc *s, const float *blk_c, float *gblk, const crec_seqenc_acts *a,
                           crec_seqenc_acts *g, const crec_seqenc_batch *bt, uint64_t seed) {
    float *blk = (float *)blk_c;
    int N = bt->N, D = s->D, F = s->F, L = s->L;
    float p = seed ? s->drop : 0;
    float *tmp = g->t[SE_A_TMP];
    /* gradient w.r.t. the last block's output */
    float *dxl;
    if (s->pre) {
        const float *xl = ACT(a, SE_A_RES2, L - 1, D);
        dxl = ACT(g, SE_A_RES2, L - 1, D);
        crec__nn_layernorm_backward(dxl, PRM(s, gblk, SE_P_LNFW), PRM(s, gblk, SE_P_LNFB), g->t[SE_A_HF], xl,
                                    PRM(s, blk, SE_P_LNFW), a->t[SE_A_LNFM], a->t[SE_A_LNFR], N, D);
    } else {
        dxl = ACT(g, SE_A_LN2, L - 1, D); /* post: the final states are the last block's LN2 output */
        for (size_t i = 0; i < (size_t)N * D; i++) dxl[i] += g->t[SE_A_HF][i];
    }
    for (int l = L - 1; l >= 0; l--) {
        const float *x = l == 0 ? a->t[SE_A_X0] : s->pre ? ACT(a, SE_A_RES2, l - 1, D) : ACT(a, SE_A_LN2, l - 1, D);
        float *dx = l == 0 ? g->t[SE_A_X0] : s->pre ? ACT(g, SE_A_RES2, l - 1, D) : ACT(g, SE_A_LN2, l - 1, D);
        const float *ln1 = ACT(a, SE_A_LN1, l, D), *qkv = ACT(a, SE_A_QKV, l, 3 * D), *atty = ACT(a, SE_A_ATTY, l, D);
        const float *res1 = ACT(a, SE_A_RES1, l, D), *ln2 = ACT(a, SE_A_LN2, l, D), *fc1 = ACT(a, SE_A_FC1, l, F);
        const float *fc1a = ACT(a, SE_A_FC1A, l, F), *res2 = ACT(a, SE_A_RES2, l, D);
        const float *ln1m = ACT(a, SE_A_LN1M, l, 1), *ln1r = ACT(a, SE_A_LN1R, l, 1);
        const float *ln2m = ACT(a, SE_A_LN2M, l, 1), *ln2r = ACT(a, SE_A_LN2R, l, 1);
        float *dln1 = ACT(g, SE_A_LN1, l, D), *dqkv = ACT(g, SE_A_QKV, l, 3 * D), *datty = ACT(g, SE_A_ATTY, l, D);
        float *dproj = ACT(g, SE_A_PROJ, l, D), *dres1 = ACT(g, SE_A_RES1, l, D), *dln2 = ACT(g, SE_A_LN2, l, D);
        float *dfc1 = ACT(g, SE_A_FC1, l, F), *dfc1a = ACT(g, SE_A_FC1A, l, F), *dfc2 = ACT(g, SE_A_FC2, l, D);
        float *dres2 = ACT(g, SE_A_RES2, l, D);
        size_t lD = (size_t)l * D;
        const float *ln1w = PRM(s, blk, SE_P_LN1W) + lD, *ln2w = PRM(s, blk, SE_P_LN2W) + lD;
        const float *qkvw = PRM(s, blk, SE_P_QKVW) + lD * 3 * D, *prjw = PRM(s, blk, SE_P_PRJW) + lD * D;
        const float *fc1w = PRM(s, blk, SE_P_FC1W) + (size_t)l * F * D, *fc2w = PRM(s, blk, SE_P_FC2W) + lD * F;
        float *dln1w = PRM(s, gblk, SE_P_LN1W) + lD, *dln1b = PRM(s, gblk, SE_P_LN1B) + lD;
        float *dln2w = PRM(s, gblk, SE_P_LN2W) + lD, *dln2b = PRM(s, gblk, SE_P_LN2B) + lD;
        float *dqkvw = PRM(s, gblk, SE_P_QKVW) + lD * 3 * D, *dqkvb = PRM(s, gblk, SE_P_QKVB) + lD * 3;
        float *dprjw = PRM(s, gblk, SE_P_PRJW) + lD * D, *dprjb = PRM(s, gblk, SE_P_PRJB) + lD;
        float *dfc1w = PRM(s, gblk, SE_P_FC1W) + (size_t)l * F * D, *dfc1b = PRM(s, gblk, SE_P_FC1B) + (size_t)l * F;
        float *dfc2w = PRM(s, gblk, SE_P_FC2W) + lD * F, *dfc2b = PRM(s, gblk, SE_P_FC2B) + lD;

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
        crec__nn_attention_backward(dqkv, datty, qkv, a->t[SE_A_ATT] + (size_t)l * a->A, bt->seq_off, bt->att_off,
                                    bt->B, D, s->H, s->causal, NULL, p, crec__nn_seed(seed, (uint64_t)l, 4));
        if (s->pre) {
            crec__nn_linear_backward(dln1, dqkvw, dqkvb, dqkv, ln1, qkvw, N, D, 3 * D);
            crec__nn_layernorm_backward(dx, dln1w, dln1b, dln1, x, ln1w, ln1m, ln1r, N, D);
        } else
            crec__nn_linear_backward(dx, dqkvw, dqkvb, dqkv, x, qkvw, N, D, 3 * D);
    }
    const float *gx0 = drop_grad(p, tmp, g->t[SE_A_X0], (size_t)N * D, crec__nn_seed(seed, 0, 0));
    crec__nn_embedding_backward(PRM(s, gblk, SE_P_EMB), gx0, bt->ids, N, D, sqrtf((float)D));
    crec__nn_embedding_backward(PRM(s, gblk, SE_P_POS), gx0, bt->posid, N, D, 1.0f);
}

/* ---- batches ---- */

static int32_t row_len(const crec_csr *x, int32_t u) { return (int32_t)(x->ptr[u + 1] - x->ptr[u]); }

void crec__seqenc_batch_done(const crec_seqenc *s, crec_seqenc_batch *bt, int nb) {
    bt->B = nb, bt->N = bt->seq_off[nb];
    crec__nn_attention_offsets(bt->att_off, bt->seq_off, nb, s->H);
}

void crec__seqenc_batch_hist(const crec_seqenc *s, const int32_t *const *hist, const int32_t *len, int nb,
                             crec_seqenc_batch *bt) {
    int N = 0, mk = s->mask >= 0;
    bt->seq_off[0] = 0;
    for (int b = 0; b < nb; b++) {
        int32_t Tb = len[b] < s->T - mk ? len[b] : s->T - mk; /* history items in the window */
        const int32_t *it = hist[b] + (len[b] - Tb);
        for (int t = 0; t < Tb + mk; t++) {
            bt->ids[N + t] = t < Tb ? it[t] : s->mask;
            bt->tgt[N + t] = -1;
            bt->posid[N + t] = s->T - (Tb + mk) + t;
        }
        N += Tb + mk;
        bt->seq_off[b + 1] = N;
    }
    crec__seqenc_batch_done(s, bt, nb);
}

void crec__seqenc_batch_free(crec_seqenc_batch *bt) {
    free(bt->seq_off);
    free(bt->att_off);
    free(bt->ids);
    free(bt->posid);
    free(bt->tgt);
    memset(bt, 0, sizeof *bt);
}

int crec__seqenc_batch_alloc(crec_seqenc_batch *bt, int Bmax, int Nmax) {
    memset(bt, 0, sizeof *bt);
    bt->seq_off = malloc(((size_t)Bmax + 1) * sizeof *bt->seq_off);
    bt->att_off = malloc(((size_t)Bmax + 1) * sizeof *bt->att_off);
    bt->ids = malloc(((size_t)Nmax + 1) * sizeof *bt->ids);
    bt->posid = malloc(((size_t)Nmax + 1) * sizeof *bt->posid);
    bt->tgt = malloc(((size_t)Nmax + 1) * sizeof *bt->tgt);
    if (!bt->seq_off || !bt->att_off || !bt->ids || !bt->posid || !bt->tgt) {
        crec__seqenc_batch_free(bt);
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
int crec__seqenc_score(const crec_seqenc *s, const int32_t *hist, int32_t n, float *scores) {
    if (n <= 0) {
        memcpy(scores, s->pop, (size_t)s->NI * sizeof *scores);
        return 0;
    }
    int mk = s->mask >= 0;
    int32_t Tb = (n < s->T - mk ? n : s->T - mk) + mk; /* the window's tokens */
    int32_t seq_off[2] = {0, Tb};
    int64_t att_off[2];
    int32_t *ids = malloc((size_t)Tb * 3 * sizeof *ids);
    size_t nf = crec__seqenc_acts_layout(s, Tb, (int64_t)s->H * Tb * Tb, NULL, NULL);
    float *base = malloc(nf * sizeof *base);
    if (!ids || !base) {
        free(ids);
        free(base);
        return CREC_ENOMEM;
    }
    crec_seqenc_acts a;
    crec__seqenc_acts_layout(s, Tb, (int64_t)s->H * Tb * Tb, base, &a);
    crec_seqenc_batch bt = {
        .B = 1, .N = Tb, .seq_off = seq_off, .att_off = att_off, .ids = ids, .posid = ids + Tb, .tgt = ids + 2 * Tb};
    const int32_t *h1[1] = {hist};
    crec__seqenc_batch_hist(s, h1, &n, 1, &bt);
    crec__seqenc_forward(s, s->p.param, &a, &bt, 0);
    const float *h = a.t[SE_A_HF] + (size_t)(Tb - 1) * s->D;
    crec__nn_matvec(scores, PRM(s, s->p.param, SE_P_EMB), h, s->NI, s->D);
    free(ids);
    free(base);
    return 0;
}

/* ---- validation (seqvalid.c): each history's last position state, through the forward in packed batches ---- */

typedef struct se_vctx {
    const crec_seqenc *s;
    float *abase;          /* the training activation block, reused */
    crec_seqenc_batch *bt; /* the training batch, reused */
} se_vctx;

static void valid_states(void *ctx, const int32_t *const *hist, const int32_t *len, int k, float *hl, int32_t *order) {
    se_vctx *c = ctx;
    const crec_seqenc *s = c->s;
    crec_seqenc_batch *bt = c->bt;
    crec__seqenc_batch_hist(s, hist, len, k, bt);
    crec_seqenc_acts a;
    crec__seqenc_acts_layout(s, bt->N, bt->att_off[k], c->abase, &a);
    crec__seqenc_forward(s, s->p.param, &a, bt, 0);
    for (int j = 0; j < k; j++) {
        memcpy(hl + (size_t)j * s->D, a.t[SE_A_HF] + (size_t)(bt->seq_off[j + 1] - 1) * s->D,
               (size_t)s->D * sizeof(float));
        order[j] = j;
    }
}

/* ---- training ---- */

static void init_params(crec_seqenc *s, crec_rng *r) {
    float *blk = s->p.param;
    int D = s->D, F = s->F;
    /* Xavier-normal (as the reference PyTorch SASRec): std = sqrt(2 / (fan_in + fan_out)) */
    struct {
        int k;
        double std;
    } w[] = {{SE_P_EMB, sqrt(2.0 / (s->NI + D))}, {SE_P_POS, sqrt(2.0 / (s->T + D))}, {SE_P_QKVW, sqrt(1.0 / D)},
             {SE_P_PRJW, sqrt(1.0 / D)},          {SE_P_FC1W, sqrt(2.0 / (D + F))},   {SE_P_FC2W, sqrt(2.0 / (D + F))}};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        float *t = PRM(s, blk, w[i].k);
        for (size_t j = 0; j < s->p.size[w[i].k]; j++) t[j] = (float)(w[i].std * crec__rng_normal(r));
    }
    int ones[] = {SE_P_LN1W, SE_P_LN2W, SE_P_LNFW};
    for (int i = 0; i < 3; i++) {
        float *t = PRM(s, blk, ones[i]);
        for (size_t j = 0; j < s->p.size[ones[i]]; j++) t[j] = 1.0f;
    }
}

/* Weight decay applies to matrices and embeddings, not to biases and LayerNorm parameters. */
static int decays(int k) {
    return k == SE_P_EMB || k == SE_P_POS || k == SE_P_QKVW || k == SE_P_PRJW || k == SE_P_FC1W || k == SE_P_FC2W;
}

static int parse_act(const char *a) {
    if (strcmp(a, "gelu") == 0) return CREC_NN_GELU;
    if (strcmp(a, "relu") == 0) return CREC_NN_RELU;
    if (strcmp(a, "silu") == 0) return CREC_NN_SILU;
    return -1;
}

int crec__seqenc_arch(const crec_model *m, crec_seqenc *s, int causal, int with_mask) {
    memset(s, 0, sizeof *s);
    s->D = (int)crec_model_param_int(m, "dim");
    s->L = (int)crec_model_param_int(m, "blocks");
    s->H = (int)crec_model_param_int(m, "heads");
    s->F = (int)crec_model_param_int(m, "ffn");
    s->T = (int)crec_model_param_int(m, "max_len");
    s->drop = (float)crec_model_param_double(m, "dropout");
    s->NI = m->n_items;
    s->causal = causal;
    s->mask = with_mask ? s->NI : -1;
    const char *norm = crec_model_param_str(m, "norm");
    s->pre = strcmp(norm, "pre") == 0;
    s->act = parse_act(crec_model_param_str(m, "act"));
    if (s->F == 0) s->F = s->D;
    if (s->D < 1 || s->D > 4096 || s->L < 1 || s->L > 16 || s->H < 1 || s->D % s->H || s->F < 1 || s->F > 65536 ||
        s->T < 1 + (with_mask != 0) || s->T > CREC_NN_MAX_T || !(s->drop >= 0 && s->drop < 1) || s->act < 0 ||
        (!s->pre && strcmp(norm, "post") != 0) || s->NI < 1 || s->NI > INT32_MAX - 1)
        return CREC_EINVAL;
    return 0;
}

int crec__seqenc_hp(const crec_model *m, crec_seqenc_hp *h) {
    memset(h, 0, sizeof *h);
    h->sched = crec__nn_sched_parse(crec_model_param_str(m, "schedule"));
    h->batch = (int)crec_model_param_int(m, "batch");
    h->epochs = (int)crec_model_param_int(m, "epochs");
    h->patience = (int)crec_model_param_int(m, "patience");
    h->warmup = (int)crec_model_param_int(m, "warmup");
    h->lr = crec_model_param_double(m, "lr");
    h->wd = crec_model_param_double(m, "wd");
    h->beta2 = crec_model_param_double(m, "beta2");
    h->clip = crec_model_param_double(m, "clip");
    h->valid_users = (int32_t)crec_model_param_int(m, "valid_users");
    if (h->sched < 0 || h->batch < 1 || h->batch > 1024 || h->epochs < 0 || h->patience < 0 || h->warmup < 0 ||
        !(h->lr > 0) || !(h->wd >= 0) || !(h->beta2 > 0 && h->beta2 < 1) || !(h->clip >= 0) || h->valid_users < 0)
        return CREC_EINVAL;
    return 0;
}

int crec__seqenc_alloc(crec_seqenc *s, int train) {
    size_t psz[SE_P_COUNT];
    param_sizes(s, psz);
    return crec__nn_params_alloc(&s->p, psz, SE_P_COUNT, train);
}

void crec__seqenc_free(crec_seqenc *s) {
    crec__nn_params_free(&s->p);
    free(s->pop);
    s->pop = NULL;
}

size_t crec__seqenc_ce_blocks(int32_t NI, int *rb, int *ic) {
    size_t ce_budget = (size_t)16 << 20;
    int ce_rb = (int)(ce_budget / (size_t)NI), ce_ic = NI;
    if (ce_rb > 1024) ce_rb = 1024;
    if (ce_rb < 256) ce_rb = 256, ce_ic = (int)(ce_budget / 256) < NI ? (int)(ce_budget / 256) : NI;
    *rb = ce_rb, *ic = ce_ic;
    return (size_t)ce_rb * ce_ic + 2 * ce_rb;
}

/* Everything training allocates, freed in one place. */
typedef struct se_train {
    crec_seqenc_batch bt;
    float *abase, *gbase, *best;
    int32_t *users, *lens;
    crec_seqvalid v;
} se_train;

static void train_free(se_train *t) {
    crec__seqenc_batch_free(&t->bt);
    free(t->abase), free(t->gbase), free(t->best), free(t->users), free(t->lens);
    crec__seqvalid_free(&t->v);
}

int crec__seqenc_train(crec_seqenc *s, const crec_train_input *in, const crec_seqenc_hp *hp,
                       const crec_seqenc_objective *obj) {
    se_train tr;
    memset(&tr, 0, sizeof tr);
    const crec_csr *x = in->train;
    int32_t NI = s->NI, U = x->n_rows;
    int nt = in->n_threads > 0 ? in->n_threads : omp_get_max_threads();
    int prev_threads = omp_get_max_threads(), prev_blas = crec__nn_blas_single();
    omp_set_num_threads(nt);
    int rc = crec__seqenc_alloc(s, 1);
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
        int32_t n = row_len(x, u);
        tr.lens[u] = n + (s->mask >= 0); /* the mask token appended at validation */
        if (n >= 2) tr.users[nu++] = u;
    }
    int Bmax = hp->batch, Nmax;
    int64_t Amax;
    worst_batch(tr.lens, U, Bmax, s->T, s->H, &Nmax, &Amax);
    size_t af = crec__seqenc_acts_layout(s, Nmax, Amax, NULL, NULL);
    tr.abase = crec__aligned_alloc(af * sizeof(float));
    tr.gbase = crec__aligned_alloc(af * sizeof(float));
    tr.best = crec__aligned_alloc(s->p.total * sizeof(float));
    rc = crec__seqenc_batch_alloc(&tr.bt, Bmax, Nmax);
    if (!rc && (!tr.abase || !tr.gbase || !tr.best)) rc = CREC_ENOMEM;
    if (!rc && obj->prepare) rc = obj->prepare(obj->ctx, s, x, Nmax);
    int do_valid = in->valid && crec_csr_nnz(in->valid) > 0;
    if (!rc && do_valid) {
        rc = crec__seqvalid_init(&tr.v, in->valid, hp->valid_users, Bmax, s->NI, s->D, nt);
        if (!rc && tr.v.n_users == 0) do_valid = 0;
    }
    if (rc) goto done;

    char label[64];
    snprintf(label, sizeof label, "%s epoch", obj->name);
    int64_t steps_per_epoch = (nu + Bmax - 1) / Bmax, total = steps_per_epoch * hp->epochs, step = 0;
    double best = -1;
    int best_epoch = 0, since = 0;
    memcpy(tr.best, s->p.param, s->p.total * sizeof(float));
    for (int ep = 1; ep <= hp->epochs && nu > 0; ep++) {
        double t0 = crec__now(), loss_sum = 0;
        int64_t tok_sum = 0;
        for (int32_t i = nu - 1; i > 0; i--) { /* Fisher-Yates */
            int32_t j = (int32_t)crec__rng_below(&rng, (uint64_t)i + 1), t = tr.users[i];
            tr.users[i] = tr.users[j], tr.users[j] = t;
        }
        crec_progress pg;
        crec__progress_start(&pg, label, nu, in->verbose && crec__progress_wanted());
        for (int32_t b0 = 0; b0 < nu; b0 += Bmax, step++) {
            int nb = nu - b0 < Bmax ? nu - b0 : Bmax;
            crec_seqenc_batch *bt = &tr.bt;
            obj->batch(obj->ctx, s, x, tr.users + b0, nb, bt, &rng);
            int N = bt->N;
            crec_seqenc_acts a, g;
            crec__seqenc_acts_layout(s, N, bt->att_off[nb], tr.abase, &a);
            size_t used = crec__seqenc_acts_layout(s, N, bt->att_off[nb], tr.gbase, &g);
            uint64_t seed = crec__nn_hash(in->seed ^ 0x5A5Aull, (uint64_t)step) | 1; /* != 0: dropout on */
            crec__seqenc_forward(s, s->p.param, &a, bt, seed);
            memset(tr.gbase, 0, used * sizeof(float));
            memset(s->p.grad, 0, s->p.total * sizeof(float));
            int64_t rows = 0;
            loss_sum += obj->loss(obj->ctx, s, &a, &g, bt, x, tr.users + b0, &rng, &rows);
            tok_sum += rows;
            crec__seqenc_backward(s, s->p.param, s->p.grad, &a, &g, bt, seed);
            if (hp->clip > 0) crec__nn_clip_grad_norm(s->p.grad, s->p.total, hp->clip);
            float lr = crec__nn_lr((crec_nn_sched)hp->sched, (float)hp->lr, step, total, hp->warmup, 0.1f);
            for (int k = 0; k < SE_P_COUNT; k++)
                crec__nn_adamw(PRM(s, s->p.param, k), PRM(s, s->p.grad, k), PRM(s, s->p.m, k), PRM(s, s->p.v, k),
                               s->p.size[k], lr, 0.9f, (float)hp->beta2, 1e-8f, decays(k) ? (float)hp->wd : 0.0f,
                               step + 1);
            crec__progress_update(&pg, b0 + nb);
        }
        crec__progress_end(&pg);
        double secs = crec__now() - t0;
        if (!do_valid) {
            if (in->verbose)
                crec__log("%s epoch %d  loss %.4f  %.2fs\n", obj->name, ep, tok_sum ? loss_sum / tok_sum : 0, secs);
            continue;
        }
        double t1 = crec__now();
        se_vctx vc = {s, tr.abase, &tr.bt};
        double nd = crec__seqvalid_run(&tr.v, x, in->valid, 0, PRM(s, s->p.param, SE_P_EMB), s->pop, valid_states, &vc);
        if (in->verbose)
            crec__log("%s epoch %d  loss %.4f  valid NDCG@10 %.4f%s  train %.2fs  valid %.2fs\n", obj->name, ep,
                      tok_sum ? loss_sum / tok_sum : 0, nd, nd > best ? " *" : "", secs, crec__now() - t1);
        if (nd > best) {
            best = nd, best_epoch = ep, since = 0;
            memcpy(tr.best, s->p.param, s->p.total * sizeof(float));
        } else if (hp->patience > 0 && ++since >= hp->patience)
            break;
    }
    if (do_valid && best >= 0) {
        memcpy(s->p.param, tr.best, s->p.total * sizeof(float));
        if (in->verbose) crec__log("%s: best validation NDCG@10 %.4f at epoch %d\n", obj->name, best, best_epoch);
    }
    /* keep parameters only */
    free(s->p.grad), free(s->p.m), free(s->p.v);
    s->p.grad = s->p.m = s->p.v = NULL;
done:
    omp_set_num_threads(prev_threads);
    crec__nn_blas_restore(prev_blas);
    train_free(&tr);
    if (rc) crec__seqenc_free(s);
    return rc;
}

/* ---- a whole-model gradient check (tests/unit/test_sasrec.c, test_bert4rec.c) ---- */

/* Mean CE loss of batch bt under s's parameters; with grad, also the gradients in s->p.grad. */
static double gc_loss(crec_seqenc *s, crec_seqenc_acts *a, crec_seqenc_acts *g, float *abase, float *gbase,
                      const crec_seqenc_batch *bt, float *scratch, int grad, uint64_t dseed) {
    int N = bt->N, M = 0;
    for (int n = 0; n < N; n++) M += bt->tgt[n] >= 0;
    crec__seqenc_acts_layout(s, N, bt->att_off[bt->B], abase, a);
    size_t used = crec__seqenc_acts_layout(s, N, bt->att_off[bt->B], gbase, g);
    crec__seqenc_forward(s, s->p.param, a, bt, dseed);
    float gs = 1.0f / (float)M;
    if (!grad)
        return crec__nn_softmax_ce_loss(NULL, NULL, scratch, a->t[SE_A_HF], PRM(s, s->p.param, SE_P_EMB), bt->tgt, N,
                                        s->D, s->NI, N, s->NI, gs) /
               M;
    memset(gbase, 0, used * sizeof(float));
    memset(s->p.grad, 0, s->p.total * sizeof(float));
    double l = crec__nn_softmax_ce_loss(g->t[SE_A_HF], PRM(s, s->p.grad, SE_P_EMB), scratch, a->t[SE_A_HF],
                                        PRM(s, s->p.param, SE_P_EMB), bt->tgt, N, s->D, s->NI, N, s->NI, gs);
    crec__seqenc_backward(s, s->p.param, s->p.grad, a, g, bt, dseed);
    return l / M;
}

int crec__seqenc_gradcheck(crec_seqenc *s, const crec_seqenc_batch *bt, uint64_t dseed, crec_rng *r, double *worst,
                           int *checked) {
    int Nmax = bt->N;
    int64_t Amax = bt->att_off[bt->B];
    size_t af = crec__seqenc_acts_layout(s, Nmax, Amax, NULL, NULL);
    float *abase = crec__aligned_alloc(af * sizeof(float)), *gbase = crec__aligned_alloc(af * sizeof(float));
    float *scratch = crec__aligned_alloc(((size_t)Nmax * s->NI + 2 * Nmax) * sizeof(float));
    float *gsave = crec__aligned_alloc(s->p.total * sizeof(float));
    int rc = 0;
    if (!abase || !gbase || !scratch || !gsave) rc = CREC_ENOMEM;
    if (!rc) {
        crec_seqenc_acts a, g;
        gc_loss(s, &a, &g, abase, gbase, bt, scratch, 1, dseed);
        memcpy(gsave, s->p.grad, s->p.total * sizeof(float));
        double w = 0;
        int n = 0;
        const float eps = 1e-2f;
        for (int k = 0; k < SE_P_COUNT; k++)
            for (int c = 0; c < 12 && (size_t)c < s->p.size[k]; c++) {
                size_t i = s->p.off[k] + crec__rng_below(r, s->p.size[k]);
                if (k == SE_P_EMB && s->mask >= 0 && c < 4) /* the [mask] row: an input-only embedding */
                    i = s->p.off[k] + (size_t)s->mask * s->D + crec__rng_below(r, (uint64_t)s->D);
                float p0 = s->p.param[i];
                s->p.param[i] = p0 + eps;
                double lp = gc_loss(s, &a, &g, abase, gbase, bt, scratch, 0, dseed);
                s->p.param[i] = p0 - eps;
                double lm = gc_loss(s, &a, &g, abase, gbase, bt, scratch, 0, dseed);
                s->p.param[i] = p0;
                double num = (lp - lm) / (2.0 * eps), e = fabs(gsave[i] - num) / fmax(fabs(num), 0.05);
                if (e > w) w = e;
                n++;
            }
        *worst = w;
        *checked = n;
    }
    free(abase), free(gbase), free(scratch), free(gsave);
    return rc;
}

/* ---- checkpoints: the architecture (checked against the hyper-parameters on load), popularity, parameters ---- */

int crec__seqenc_save(const crec_seqenc *s, crec_buf *out) {
    uint32_t hdr[8] = {(uint32_t)s->D, (uint32_t)s->L,   (uint32_t)s->H,   (uint32_t)s->F,
                       (uint32_t)s->T, (uint32_t)s->pre, (uint32_t)s->act, (uint32_t)s->NI};
    int rc = 0;
    for (int i = 0; !rc && i < 8; i++) rc = crec__put_u32(out, hdr[i]);
    if (!rc) rc = crec_buf_write(out, s->pop, (size_t)s->NI * sizeof *s->pop);
    if (!rc) rc = crec__nn_params_save(&s->p, out);
    return rc;
}

int crec__seqenc_load(const crec_model *m, crec_buf *in, int causal, int with_mask, crec_seqenc **out) {
    crec_seqenc *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    int rc = crec__seqenc_arch(m, s, causal, with_mask) ? CREC_EFORMAT : 0;
    uint32_t hdr[8];
    for (int i = 0; !rc && i < 8; i++) rc = crec__get_u32(in, &hdr[i]);
    if (!rc && (hdr[0] != (uint32_t)s->D || hdr[1] != (uint32_t)s->L || hdr[2] != (uint32_t)s->H ||
                hdr[3] != (uint32_t)s->F || hdr[4] != (uint32_t)s->T || hdr[5] != (uint32_t)s->pre ||
                hdr[6] != (uint32_t)s->act || hdr[7] != (uint32_t)s->NI))
        rc = CREC_EFORMAT;
    if (!rc) {
        s->pop = malloc((size_t)s->NI * sizeof *s->pop);
        rc = s->pop ? crec_buf_read(in, s->pop, (size_t)s->NI * sizeof *s->pop) : CREC_ENOMEM;
    }
    if (!rc) rc = crec__seqenc_alloc(s, 0);
    if (!rc) rc = crec__nn_params_load(&s->p, in);
    if (rc) {
        crec__seqenc_free(s);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int crec__seqenc_model_score(const crec_model *m, const crec_context *ctx, float *scores) {
    return crec__seqenc_score(m->state, ctx->hist, ctx->n_hist, scores);
}

void crec__seqenc_model_free(crec_model *m) {
    crec_seqenc *s = m->state;
    if (s) crec__seqenc_free(s);
    free(s);
    m->state = NULL;
}
