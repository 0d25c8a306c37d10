/* seqenc.c: the transformer encoder over packed item sequences shared by sasrec.c and bert4rec.c (seqenc.h): the
 * forward / backward on the neural core (src/nn), the network callbacks the sequence trainer (seqtrain.c) drives,
 * initialisation, checkpoints and the gradient check. The models add their windows, targets and loss.
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
#include "models/seqenc.h"
#include "nn/kernels.h"

/* ---- layout ---- */

static void param_sizes(const crec_seqenc *s, size_t *sz) {
    size_t D = (size_t)s->D, L = (size_t)s->L, F = (size_t)s->F;
    sz[SE_P_EMB] = (size_t)(s->NI + (s->mask >= 0) + s->NA) * D;
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

/* ---- forward / backward ----
 *
 * A step runs in shards: runs of whole sequences of at least crec__seqenc_shard_rows rows (the last run takes the
 * remainder), a function of the batch alone. Every kernel but attention works row by row and attention within a
 * sequence, so a shard's forward, and its backward down to the input gradients, read and write only its own rows:
 * one OpenMP loop over the shards, each shard on one thread with one-thread BLAS, no barrier inside. The parameter
 * gradients - sums over every row of the batch - follow as tasks over the whole batch (one product or one row-order
 * sum each), after one barrier. Each row's arithmetic is the same operations on the same operands as when the whole
 * batch goes through each kernel in turn (dropout masks are drawn by element index in the whole tensor, products
 * run in 128-row BLAS blocks), so the result does not depend on the thread count, and a batch of one shard is
 * exactly the kernel-by-kernel step (tests/unit/test_seqenc_shard.c compares them). Before, the ~100 kernels of a
 * step each opened a parallel region: small batches (BCE, width 50, batch 128) spent more in fork / join and
 * wake-ups than in arithmetic (docs/RESULTS.md). */

size_t crec__seqenc_shard_rows = 128;

static int make_shards(const crec_seq_batch *bt, int *sb, int cap) {
    return crec__seqtrain_shards(bt, crec__seqenc_shard_rows ? crec__seqenc_shard_rows : 1, sb, cap);
}

/* The gradient tensors the backward reads, zeroed over rows [r0, r0 + n). */
static void zero_rows(const crec_seqenc *s, crec_seqenc_acts *g, int r0, int n) {
    static const int one[] = {SE_A_X0, SE_A_HF};
    static const int stacked[] = {SE_A_LN1,  SE_A_QKV,  SE_A_ATTY, SE_A_PROJ, SE_A_RES1,
                                  SE_A_LN2,  SE_A_FC1,  SE_A_FC1A, SE_A_FC2,  SE_A_RES2};
    int D = s->D, F = s->F;
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
        memset(g->t[one[i]] + (size_t)r0 * D, 0, (size_t)n * D * sizeof(float));
    for (size_t i = 0; i < sizeof stacked / sizeof stacked[0]; i++) {
        int k = stacked[i], w = k == SE_A_QKV ? 3 * D : k == SE_A_FC1 || k == SE_A_FC1A ? F : D;
        for (int l = 0; l < s->L; l++)
            memset(ACT(g, k, l, w) + (size_t)r0 * w, 0, (size_t)n * w * sizeof(float));
    }
}

/* Forward of sequences [b0, b1) of bt; with g, also zeroes their rows of the gradient block. */
static void fwd_range(const crec_seqenc *s, float *blk, crec_seqenc_acts *a, crec_seqenc_acts *g,
                      const crec_seq_batch *bt, uint64_t seed, int b0, int b1) {
    int D = s->D, F = s->F, L = s->L, r0 = bt->seq_off[b0], N = bt->seq_off[b1] - r0;
    size_t o = (size_t)r0 * D, oF = (size_t)r0 * F, o3 = (size_t)r0 * 3 * D;
    float p = seed ? s->drop : 0;
    if (N <= 0) return;
    if (g) zero_rows(s, g, r0, N);
    float *x0 = a->t[SE_A_X0] + o;
    crec__nn_embedding_forward(x0, bt->ids + r0, s->emb ? s->emb : PRM(s, blk, SE_P_EMB), N, D, sqrtf((float)D), 0);
    crec__nn_embedding_forward(x0, bt->posid + r0, PRM(s, blk, SE_P_POS), N, D, 1.0f, 1);
    if (p > 0) crec__nn_dropout_forward_at(x0, x0, (size_t)N * D, p, crec__nn_seed(seed, 0, 0), o);
    const float *x = x0;
    for (int l = 0; l < L; l++) {
        float *ln1 = ACT(a, SE_A_LN1, l, D) + o, *qkv = ACT(a, SE_A_QKV, l, 3 * D) + o3;
        float *proj = ACT(a, SE_A_PROJ, l, D) + o, *res1 = ACT(a, SE_A_RES1, l, D) + o;
        float *ln2 = ACT(a, SE_A_LN2, l, D) + o, *atty = ACT(a, SE_A_ATTY, l, D) + o;
        float *fc1 = ACT(a, SE_A_FC1, l, F) + oF, *fc1a = ACT(a, SE_A_FC1A, l, F) + oF;
        float *fc2 = ACT(a, SE_A_FC2, l, D) + o, *res2 = ACT(a, SE_A_RES2, l, D) + o;
        float *ln1m = ACT(a, SE_A_LN1M, l, 1) + r0, *ln1r = ACT(a, SE_A_LN1R, l, 1) + r0;
        float *ln2m = ACT(a, SE_A_LN2M, l, 1) + r0, *ln2r = ACT(a, SE_A_LN2R, l, 1) + r0;
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
        /* attention reads whole sequences: the full tensors, this shard's sequences */
        crec__nn_attention_forward(ACT(a, SE_A_ATTY, l, D), a->t[SE_A_ATT] + (size_t)l * a->A,
                                   ACT(a, SE_A_QKV, l, 3 * D), bt->seq_off + b0, bt->att_off + b0, b1 - b0, D, s->H,
                                   s->causal, NULL, p, crec__nn_seed(seed, (uint64_t)l, 4));
        crec__nn_linear_forward(proj, atty, prjw, prjb, N, D, D);
        if (p > 0) crec__nn_dropout_forward_at(proj, proj, (size_t)N * D, p, crec__nn_seed(seed, (uint64_t)l, 1), o);
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
        if (p > 0) crec__nn_dropout_forward_at(fc1a, fc1a, (size_t)N * F, p, crec__nn_seed(seed, (uint64_t)l, 2), oF);
        crec__nn_linear_forward(fc2, fc1a, fc2w, fc2b, N, F, D);
        if (p > 0) crec__nn_dropout_forward_at(fc2, fc2, (size_t)N * D, p, crec__nn_seed(seed, (uint64_t)l, 3), o);
        crec__nn_residual_forward(res2, s->pre ? res1 : ln1, fc2, (size_t)N * D);
        if (s->pre)
            x = res2;
        else {
            crec__nn_layernorm_forward(ln2, ln2m, ln2r, res2, ln2w, ln2b, N, D);
            x = ln2;
        }
    }
    if (s->pre)
        crec__nn_layernorm_forward(a->t[SE_A_HF] + o, a->t[SE_A_LNFM] + r0, a->t[SE_A_LNFR] + r0, x,
                                   PRM(s, blk, SE_P_LNFW), PRM(s, blk, SE_P_LNFB), N, D);
    else
        memcpy(a->t[SE_A_HF] + o, x, (size_t)N * D * sizeof(float));
}

/* Forward of batch bt into a (pointed for bt's N and A) with parameters blk; dropout when seed != 0 (training);
 * with g (the gradient block, same layout), also zeroes what the backward will accumulate into. */
static void forward_g(const crec_seqenc *s, const float *blk_c, crec_seqenc_acts *a, crec_seqenc_acts *g,
                      const crec_seq_batch *bt, uint64_t seed) {
    float *blk = (float *)blk_c; /* read only here */
    int sb[CREC_SEQTRAIN_MAX_SHARDS];
    int ns = make_shards(bt, sb, CREC_SEQTRAIN_MAX_SHARDS);
    if (ns == 1) {
        fwd_range(s, blk, a, g, bt, seed, 0, bt->B);
        return;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = 0; k < ns; k++) fwd_range(s, blk, a, g, bt, seed, sb[k], sb[k + 1]);
}

void crec__seqenc_forward(const crec_seqenc *s, const float *blk_c, crec_seqenc_acts *a, const crec_seq_batch *bt,
                          uint64_t seed) {
    forward_g(s, blk_c, a, NULL, bt, seed);
}

/* Mask of a dropout site applied to a gradient in place: g = keep ? g / (1 - p) : 0 (rows from element i0). */
static void drop_mask(float p, float *g, size_t n, uint64_t seed, size_t i0) {
    if (p > 0) crec__nn_dropout_forward_at(g, g, n, p, seed, i0);
}

/* Backward of sequences [b0, b1) down to the input gradients (activation gradients only; the dropout masks are
 * applied to the gradients in place, where the parameter gradients read them). */
static void bwd_range(const crec_seqenc *s, float *blk, const crec_seqenc_acts *a, crec_seqenc_acts *g,
                      const crec_seq_batch *bt, uint64_t seed, int b0, int b1) {
    int D = s->D, F = s->F, L = s->L, r0 = bt->seq_off[b0], N = bt->seq_off[b1] - r0;
    size_t o = (size_t)r0 * D, oF = (size_t)r0 * F, o3 = (size_t)r0 * 3 * D, ND = (size_t)N * D;
    float p = seed ? s->drop : 0;
    if (N <= 0) return;
    if (s->pre) {
        crec__nn_layernorm_backward_dx(ACT(g, SE_A_RES2, L - 1, D) + o, g->t[SE_A_HF] + o,
                                       ACT(a, SE_A_RES2, L - 1, D) + o, PRM(s, blk, SE_P_LNFW),
                                       a->t[SE_A_LNFM] + r0, a->t[SE_A_LNFR] + r0, N, D);
    } else {
        float *dxl = ACT(g, SE_A_LN2, L - 1, D) + o; /* post: the final states are the last block's LN2 output */
        const float *dh = g->t[SE_A_HF] + o;
        for (size_t i = 0; i < ND; i++) dxl[i] += dh[i];
    }
    for (int l = L - 1; l >= 0; l--) {
        const float *x = l == 0 ? a->t[SE_A_X0] : s->pre ? ACT(a, SE_A_RES2, l - 1, D) : ACT(a, SE_A_LN2, l - 1, D);
        float *dx = l == 0 ? g->t[SE_A_X0] : s->pre ? ACT(g, SE_A_RES2, l - 1, D) : ACT(g, SE_A_LN2, l - 1, D);
        x += o, dx += o;
        const float *fc1 = ACT(a, SE_A_FC1, l, F) + oF, *res1 = ACT(a, SE_A_RES1, l, D) + o;
        const float *res2 = ACT(a, SE_A_RES2, l, D) + o;
        const float *ln1m = ACT(a, SE_A_LN1M, l, 1) + r0, *ln1r = ACT(a, SE_A_LN1R, l, 1) + r0;
        const float *ln2m = ACT(a, SE_A_LN2M, l, 1) + r0, *ln2r = ACT(a, SE_A_LN2R, l, 1) + r0;
        float *dln1 = ACT(g, SE_A_LN1, l, D) + o, *dqkv = ACT(g, SE_A_QKV, l, 3 * D) + o3;
        float *datty = ACT(g, SE_A_ATTY, l, D) + o, *dproj = ACT(g, SE_A_PROJ, l, D) + o;
        float *dres1 = ACT(g, SE_A_RES1, l, D) + o, *dln2 = ACT(g, SE_A_LN2, l, D) + o;
        float *dfc1 = ACT(g, SE_A_FC1, l, F) + oF, *dfc1a = ACT(g, SE_A_FC1A, l, F) + oF;
        float *dfc2 = ACT(g, SE_A_FC2, l, D) + o, *dres2 = ACT(g, SE_A_RES2, l, D) + o;
        size_t lD = (size_t)l * D;
        const float *ln1w = PRM(s, blk, SE_P_LN1W) + lD, *ln2w = PRM(s, blk, SE_P_LN2W) + lD;
        const float *qkvw = PRM(s, blk, SE_P_QKVW) + lD * 3 * D, *prjw = PRM(s, blk, SE_P_PRJW) + lD * D;
        const float *fc1w = PRM(s, blk, SE_P_FC1W) + (size_t)l * F * D, *fc2w = PRM(s, blk, SE_P_FC2W) + lD * F;

        /* post: x_next = LN2(res2) */
        if (!s->pre) crec__nn_layernorm_backward_dx(dres2, dln2, res2, ln2w, ln2m, ln2r, N, D);
        /* res2 = base + drop(fc2), base = res1 (pre) or ln1 (post) */
        crec__nn_residual_backward(s->pre ? dres1 : dln1, dfc2, dres2, ND);
        drop_mask(p, dfc2, ND, crec__nn_seed(seed, (uint64_t)l, 3), o);
        crec__nn_gemm(0, 0, N, F, D, 1, dfc2, D, fc2w, F, 1, dfc1a, F);
        drop_mask(p, dfc1a, (size_t)N * F, crec__nn_seed(seed, (uint64_t)l, 2), oF);
        crec__nn_act_backward(dfc1, dfc1a, fc1, (size_t)N * F, (crec_nn_act)s->act);
        /* the FFN input: ln2 (pre) or ln1 (post) */
        crec__nn_gemm(0, 0, N, D, F, 1, dfc1, F, fc1w, D, 1, s->pre ? dln2 : dln1, D);
        if (s->pre)
            crec__nn_layernorm_backward_dx(dres1, dln2, res1, ln2w, ln2m, ln2r, N, D);
        else
            crec__nn_layernorm_backward_dx(dres1, dln1, res1, ln1w, ln1m, ln1r, N, D);
        /* res1 = x + drop(proj) */
        crec__nn_residual_backward(dx, dproj, dres1, ND);
        drop_mask(p, dproj, ND, crec__nn_seed(seed, (uint64_t)l, 1), o);
        crec__nn_gemm(0, 0, N, D, D, 1, dproj, D, prjw, D, 1, datty, D);
        crec__nn_attention_backward(ACT(g, SE_A_QKV, l, 3 * D), ACT(g, SE_A_ATTY, l, D), ACT(a, SE_A_QKV, l, 3 * D),
                                    a->t[SE_A_ATT] + (size_t)l * a->A, bt->seq_off + b0, bt->att_off + b0, b1 - b0, D,
                                    s->H, s->causal, NULL, p, crec__nn_seed(seed, (uint64_t)l, 4));
        if (s->pre) {
            crec__nn_gemm(0, 0, N, D, 3 * D, 1, dqkv, 3 * D, qkvw, D, 1, dln1, D);
            crec__nn_layernorm_backward_dx(dx, dln1, x, ln1w, ln1m, ln1r, N, D);
        } else
            crec__nn_gemm(0, 0, N, D, 3 * D, 1, dqkv, 3 * D, qkvw, D, 1, dx, D);
    }
    drop_mask(p, g->t[SE_A_X0] + o, ND, crec__nn_seed(seed, 0, 0), o);
}

/* Parameter-gradient task t of 6 L + 3 over the whole batch (after every shard's bwd_range): per block the four
 * products (with their biases) and the two LayerNorms, then the final LayerNorm and the two embedding tables. */
static void wgrad_task(const crec_seqenc *s, float *gblk, const crec_seqenc_acts *a, const crec_seqenc_acts *g,
                       const crec_seq_batch *bt, int t) {
    int N = bt->N, D = s->D, F = s->F, L = s->L;
    if (t >= 6 * L) {
        if (t == 6 * L) {
            if (s->pre)
                crec__nn_layernorm_backward_wb(PRM(s, gblk, SE_P_LNFW), PRM(s, gblk, SE_P_LNFB), g->t[SE_A_HF],
                                               ACT(a, SE_A_RES2, L - 1, D), a->t[SE_A_LNFM], a->t[SE_A_LNFR], N, D);
        } else if (t == 6 * L + 1)
            crec__nn_embedding_backward(PRM(s, gblk, SE_P_EMB), g->t[SE_A_X0], bt->ids, N, D, sqrtf((float)D));
        else
            crec__nn_embedding_backward(PRM(s, gblk, SE_P_POS), g->t[SE_A_X0], bt->posid, N, D, 1.0f);
        return;
    }
    int l = t / 6;
    size_t lD = (size_t)l * D;
    const float *x = l == 0 ? a->t[SE_A_X0] : s->pre ? ACT(a, SE_A_RES2, l - 1, D) : ACT(a, SE_A_LN2, l - 1, D);
    switch (t % 6) {
    case 0:
        crec__nn_linear_backward_w(PRM(s, gblk, SE_P_FC2W) + lD * F, PRM(s, gblk, SE_P_FC2B) + lD,
                                   ACT(g, SE_A_FC2, l, D), ACT(a, SE_A_FC1A, l, F), N, F, D);
        break;
    case 1:
        crec__nn_linear_backward_w(PRM(s, gblk, SE_P_FC1W) + (size_t)l * F * D, PRM(s, gblk, SE_P_FC1B) + (size_t)l * F,
                                   ACT(g, SE_A_FC1, l, F), s->pre ? ACT(a, SE_A_LN2, l, D) : ACT(a, SE_A_LN1, l, D),
                                   N, D, F);
        break;
    case 2:
        crec__nn_linear_backward_w(PRM(s, gblk, SE_P_PRJW) + lD * D, PRM(s, gblk, SE_P_PRJB) + lD,
                                   ACT(g, SE_A_PROJ, l, D), ACT(a, SE_A_ATTY, l, D), N, D, D);
        break;
    case 3:
        crec__nn_linear_backward_w(PRM(s, gblk, SE_P_QKVW) + lD * 3 * D, PRM(s, gblk, SE_P_QKVB) + lD * 3,
                                   ACT(g, SE_A_QKV, l, 3 * D), s->pre ? ACT(a, SE_A_LN1, l, D) : x, N, D, 3 * D);
        break;
    case 4: /* LN2: of res1 (pre) or res2 (post) */
        crec__nn_layernorm_backward_wb(PRM(s, gblk, SE_P_LN2W) + lD, PRM(s, gblk, SE_P_LN2B) + lD,
                                       ACT(g, SE_A_LN2, l, D),
                                       s->pre ? ACT(a, SE_A_RES1, l, D) : ACT(a, SE_A_RES2, l, D),
                                       ACT(a, SE_A_LN2M, l, 1), ACT(a, SE_A_LN2R, l, 1), N, D);
        break;
    default: /* LN1: of x (pre) or res1 (post) */
        crec__nn_layernorm_backward_wb(PRM(s, gblk, SE_P_LN1W) + lD, PRM(s, gblk, SE_P_LN1B) + lD,
                                       ACT(g, SE_A_LN1, l, D), s->pre ? x : ACT(a, SE_A_RES1, l, D),
                                       ACT(a, SE_A_LN1M, l, 1), ACT(a, SE_A_LN1R, l, 1), N, D);
        break;
    }
}

/* Backward of the forward above: g (same layout as a, zeroed, g->t[SE_A_HF] holding dloss/dh) -> grads in gblk. */
void crec__seqenc_backward(const crec_seqenc *s, const float *blk_c, float *gblk, const crec_seqenc_acts *a,
                           crec_seqenc_acts *g, const crec_seq_batch *bt, uint64_t seed) {
    float *blk = (float *)blk_c;
    int sb[CREC_SEQTRAIN_MAX_SHARDS];
    int ns = make_shards(bt, sb, CREC_SEQTRAIN_MAX_SHARDS), nt = 6 * s->L + 3;
    if (ns == 1) { /* kernel by kernel, each kernel sharing its rows among the threads */
        bwd_range(s, blk, a, g, bt, seed, 0, bt->B);
        for (int t = 0; t < nt; t++) wgrad_task(s, gblk, a, g, bt, t);
        return;
    }
#pragma omp parallel
    {
#pragma omp for schedule(dynamic, 1)
        for (int k = 0; k < ns; k++) bwd_range(s, blk, a, g, bt, seed, sb[k], sb[k + 1]);
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < nt; t++) wgrad_task(s, gblk, a, g, bt, t);
    }
}

/* ---- initialisation, architecture ---- */

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

int crec__seqenc_check(const crec_model *m, int with_mask, char *err, size_t errn) {
    int64_t dim = crec_model_param_int(m, "dim"), heads = crec_model_param_int(m, "heads");
    int64_t T = crec_model_param_int(m, "max_len");
    if (heads < 1 || dim % heads) {
        crec__errf(err, errn, "model '%s': 'heads' (%lld) must divide 'dim' (%lld)", m->type->name, (long long)heads,
                   (long long)dim);
        return CREC_EINVAL;
    }
    if (with_mask && T < 2) {
        crec__errf(err, errn, "model '%s': 'max_len' (%lld) must be at least 2 (a history item and the [mask])",
                   m->type->name, (long long)T);
        return CREC_EINVAL;
    }
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

/* ---- the network of the sequence trainer (seqtrain.h) ---- */

static void net_init(void *ctx, crec_rng *r) { init_params(ctx, r); }

static size_t net_acts_floats(const void *ctx, int N, int64_t A) {
    return crec__seqenc_acts_layout(ctx, N, A, NULL, NULL);
}

static const float *net_forward(const void *ctx, const crec_seq_batch *bt, float *abase, float *gbase, uint64_t seed,
                                float **dh) {
    const crec_seqenc *s = ctx;
    crec_seqenc_acts a;
    int64_t A = bt->att_off[bt->B];
    crec_seqenc_acts g;
    crec__seqenc_acts_layout(s, bt->N, A, abase, &a);
    if (gbase) {
        crec__seqenc_acts_layout(s, bt->N, A, gbase, &g);
        *dh = g.t[SE_A_HF];
    }
    forward_g(s, s->p.param, &a, gbase ? &g : NULL, bt, seed);
    return a.t[SE_A_HF];
}

static void net_backward(const void *ctx, const crec_seq_batch *bt, const float *abase, float *gbase, uint64_t seed) {
    const crec_seqenc *s = ctx;
    crec_seqenc_acts a, g;
    int64_t A = bt->att_off[bt->B];
    crec__seqenc_acts_layout(s, bt->N, A, (float *)abase, &a);
    crec__seqenc_acts_layout(s, bt->N, A, gbase, &g);
    crec__seqenc_backward(s, s->p.param, s->p.grad, &a, &g, bt, seed);
}

static float *net_out_table(const void *ctx, float *blk) { return PRM((const crec_seqenc *)ctx, blk, SE_P_EMB); }

crec_seqtrain_net crec__seqenc_net(crec_seqenc *s, const char *name) {
    uint64_t decay = 0;
    for (int k = 0; k < SE_P_COUNT; k++) decay |= (uint64_t)decays(k) << k;
    crec_seqtrain_net net = {.name = name,
                             .ctx = s,
                             .p = &s->p,
                             .NI = s->NI,
                             .D = s->D,
                             .T = s->T,
                             .mask = s->mask,
                             .heads = s->H,
                             .time_major = 0,
                             .salt = 0x5A5Aull,
                             .decay = decay,
                             .init = net_init,
                             .acts_floats = net_acts_floats,
                             .forward = net_forward,
                             .backward = net_backward,
                             .out_table = net_out_table};
    return net;
}

/* ---- a whole-model gradient check (tests/unit/test_sasrec.c, test_bert4rec.c) ---- */

typedef struct gc_ce {
    const crec_seqenc *s;
    float *scratch;
} gc_ce;

/* Mean full-softmax CE over the rows with a target. */
static double gc_ce_loss(void *ctx, const crec_seq_batch *bt, const float *h, float *dh, const float *W, float *dW) {
    gc_ce *c = ctx;
    int N = bt->N, M = 0;
    for (int n = 0; n < N; n++) M += bt->tgt[n] >= 0;
    return crec__nn_softmax_ce_loss(dh, dW, c->scratch, h, W, bt->tgt, N, c->s->D, c->s->NI, N, c->s->NI,
                                    1.0f / (float)M) /
           M;
}

int crec__seqenc_gradcheck(crec_seqenc *s, const crec_seq_batch *bt, uint64_t dseed, crec_rng *r, double *worst,
                           int *checked) {
    gc_ce c = {s, crec__aligned_alloc(((size_t)bt->N * s->NI + 2 * (size_t)bt->N) * sizeof(float))};
    if (!c.scratch) return CREC_ENOMEM;
    crec_seqtrain_net net = crec__seqenc_net(s, "seqenc");
    /* 4 of the item table's 12 elements from the [mask] row, an input-only embedding, when there is one */
    int rc = crec__seqtrain_gradcheck(&net, bt, gc_ce_loss, &c, dseed, SE_P_EMB,
                                      s->mask >= 0 ? (size_t)s->mask * s->D : 0, s->mask >= 0 ? (size_t)s->D : 0, r,
                                      worst, checked);
    free(c.scratch);
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
    crec_seqenc *s = m->state;
    crec_seqtrain_net net = crec__seqenc_net(s, m->type->name);
    return crec__seqtrain_score(&net, s->pop, ctx->hist, ctx->n_hist, scores);
}

void crec__seqenc_model_free(crec_model *m) {
    crec_seqenc *s = m->state;
    if (s) crec__seqenc_free(s);
    free(s);
    m->state = NULL;
}
