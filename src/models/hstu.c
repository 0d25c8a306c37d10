/* hstu.c: HSTU, the Hierarchical Sequential Transduction Unit of "Actions Speak Louder than Words" (Zhai et al.
 * 2024), as the authors' reference implementation builds it, on the neural core (nn.h crec__nn_hstu_*: the layer's
 * kernels) and the sequence trainer (seqtrain.c: batches, training loop, validation).
 *
 * Model: x = dropout(E[item] * sqrt(D) + P[position]); L layers of
 *     x~ = LayerNorm(x) (no affine);  U | V | Q | K = SiLU(x~ W_uvqk) (no bias);
 *     A = SiLU(Q K^T + rab_pos + rab_time) / n per head, causal mask after the SiLU (no softmax), n = the
 *         sequence's length (norm=len, the default: validation's choice) or max_len (the reference's padded length);
 *     x = x + W_o dropout(U * LayerNorm(A V)) + b_o (LayerNorm over the heads' concatenated values, no affine);
 * rab_pos[2 max_len - 1] (by key - query position) and rab_time[129] (by the bucket of |t_{i+1} - t_j|, t_{i+1}
 * the time of the event after query i: the target's time in training, the last event's own time for the last
 * row - its next time is not known - or ctx->now when a request gives it) are per layer, shared across heads.
 * Output: s_j = cos(h, E[j]) / temperature: the final state and the item table's rows L2-normalised (the table is
 * the input embedding; its normalised copy lives in the parameter block as the trainer's output table, recomputed
 * from E before each forward while training, its gradient sent back through the normalisation into E).
 * Training: the stock next-item objective, every position predicting the next item, sampled softmax with uniform
 * negatives shared by the batch (ssm) or full softmax over the catalog (ce); AdamW; early stopping on validation
 * NDCG@10.
 *
 * The attention runs on nn/hstu.h's tiled kernels (BLAS products per 64-row query tile, the masked tiles skipped,
 * one vectorised exp per pair), with the batch's time buckets computed once per forward (integer log) and read
 * by every layer and by the backward; the logits and the weights are cached per layer.
 *
 * The one idea: attention weights that are not a softmax. Each query's weights are independent pointwise
 * functions of its logits, so the layer needs no row statistics and the time / position biases are just two more
 * learned tables indexed per pair. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"
#include "models/hstu.h"
#include "models/params.h"
#include "models/seqtrain.h"
#include "nn/hstu.h"
#include "nn/kernels.h"
#include "nn/nn.h"

static const crec_param_def HSTU_PARAMS[] = {
    CREC_P_INT("dim", "64", 1, 4096, "width D of item / position embeddings and states"),
    CREC_P_INT("blocks", "2", 1, 16, "HSTU layers"),
    CREC_P_INT("heads", "1", 1, 64, "attention heads (must divide dim)"),
    CREC_P_INT("max_len", "50", 1, 1024, "last items of a history the model reads"),
    CREC_P_FLOAT("dropout", "0.2", 0, 0.99, "dropout on the input embeddings and on every layer's gated output"),
    CREC_P_ENUM("norm", "len", "max_len|len",
                "attention normaliser n: the sequence's length (validation's choice on ML-100K) or max_len (the "
                "reference's padded length)"),
    CREC_P_BOOL("pos_bias", "1", "learned relative position bias (2 max_len - 1 weights per layer)"),
    CREC_P_BOOL("time_bias", "1", "learned relative time bias (129 log-time buckets per layer)"),
    CREC_P_FLOAT("temp", "0.05", 1e-4, 100, "temperature of the cosine scores"),
    CREC_P_ENUM("loss", "ssm", "ssm|ce", "ssm (sampled softmax, uniform negatives shared by the batch) or ce (full)"),
    CREC_P_CE_PRECISION,
    CREC_P_INT("neg", "128", 1, 65536, "ssm negatives per batch"),
    CREC_P_ADAMW("0.001"),
    CREC_P_EARLY_STOP("100", "10", "0"),
    CREC_P_END,
};

/* Parameter tensors. */
enum {
    P_EMB,  /* [I, D] item embeddings */
    P_POS,  /* [T, D] position embeddings */
    P_OUT,  /* [I, D] the normalised item table (derived from P_EMB; not trained directly) */
    P_UVQK, /* [L, 4D, D] */
    P_WO,   /* [L, D, D] */
    P_BO,   /* [L, D] */
    P_RPOS, /* [L, 2T - 1] (0 floats without pos_bias) */
    P_RTS,  /* [L, 129] (0 floats without time_bias) */
    P_COUNT
};

/* Activations of N rows and A attention entries per layer; the gradient block has the same layout. */
enum {
    A_X,    /* [L + 1, N, D] layer inputs; X[0] = dropout(embeddings), X[L] the final states */
    A_XN,   /* [L, N, D] */
    A_RS1,  /* [L, N] */
    A_PRE,  /* [L, N, 4D] */
    A_UVQK, /* [L, N, 4D] */
    A_AO,   /* [L, N, D] */
    A_AN,   /* [L, N, D] */
    A_RS2,  /* [L, N] */
    A_GD,   /* [L, N, D] dropout(gate): the gate U * LN(A V) with dropout applied in place */
    A_ATT,  /* [L, A] logits (gradient block: dlogits) */
    A_AW,   /* [L, A] attention weights SiLU(logits) / n (unused in the gradient block) */
    A_BKT,  /* [A / H bytes] the batch's time buckets, read by every layer (unused in the gradient block) */
    A_HOUT, /* [N, D] normalised final states / temperature */
    A_NRM,  /* [N] norms of the final states */
    A_TQ,   /* [2N] query times (int64) */
    A_TMP,  /* [N, D] */
    A_COUNT
};

typedef struct hstu {
    int D, L, H, T, norm_len, pos_bias, time_bias;
    int32_t NI;
    float drop, temp;
    int training; /* the forward refreshes P_OUT from P_EMB (one caller at a time) */
    crec_nn_params p;
    float *pop;
    float *bsum; /* the attention's bias-gradient scratch (crec__nn_hstu_bias_scratch), grown by the backward */
    size_t bsum_n;
    float *bloc; /* each shard's bias-gradient sums (bias_loc_floats per shard), grown by the backward */
    size_t bloc_n;
} hstu;

typedef struct h_acts {
    int N;
    int64_t A;
    float *t[A_COUNT];
    size_t n[A_COUNT];
} h_acts;

static void param_sizes(const hstu *s, size_t *sz) {
    size_t D = (size_t)s->D, L = (size_t)s->L;
    sz[P_EMB] = sz[P_OUT] = (size_t)s->NI * D;
    sz[P_POS] = (size_t)s->T * D;
    sz[P_UVQK] = L * 4 * D * D;
    sz[P_WO] = L * D * D;
    sz[P_BO] = L * D;
    sz[P_RPOS] = s->pos_bias ? L * (2 * (size_t)s->T - 1) : 0;
    sz[P_RTS] = s->time_bias ? L * CREC_NN_HSTU_BUCKETS : 0;
}

/* Sets a's tensors and their sizes (floats) on base, when given; returns the floats of the block. */
static size_t acts_layout(const hstu *s, int N, int64_t A, float *base, h_acts *a) {
    size_t n = (size_t)N, D = (size_t)s->D, L = (size_t)s->L, sz[A_COUNT];
    sz[A_X] = (L + 1) * n * D;
    sz[A_XN] = sz[A_AO] = sz[A_AN] = sz[A_GD] = L * n * D;
    sz[A_RS1] = sz[A_RS2] = L * n;
    sz[A_PRE] = sz[A_UVQK] = L * n * 4 * D;
    sz[A_ATT] = sz[A_AW] = L * (size_t)A;
    sz[A_BKT] = s->time_bias ? ((size_t)A / (size_t)s->H + 3) / 4 : 0;
    sz[A_HOUT] = sz[A_TMP] = n * D;
    sz[A_NRM] = n;
    sz[A_TQ] = 2 * n;
    size_t off = 0;
    for (int k = 0; k < A_COUNT; k++) {
        if (base) a->t[k] = base + off, a->n[k] = sz[k];
        off += (sz[k] + 15) & ~(size_t)15;
    }
    if (base) a->N = N, a->A = A;
    return off;
}

#define ACT(a, k, l, width) ((a)->t[k] + (size_t)(l) * (a)->N * (width))
#define PRM(s, blk, k) crec__nn_tensor(&(s)->p, (blk), (k))

static const float *layer_w(const hstu *s, const float *blk, int k, int l) {
    size_t per = s->p.size[k] / (size_t)s->L;
    return per ? blk + s->p.off[k] + (size_t)l * per : NULL;
}
static float *layer_g(const hstu *s, float *blk, int k, int l) { return (float *)layer_w(s, blk, k, l); }

/* P_OUT = rows of P_EMB over their norms. */
static void refresh_out(hstu *s) {
    const float *E = PRM(s, s->p.param, P_EMB);
    float *W = PRM(s, s->p.param, P_OUT);
    int D = s->D;
    for (int32_t i = 0; i < s->NI; i++) {
        const float *e = E + (size_t)i * D;
        float *w = W + (size_t)i * D;
        double q = 0;
        for (int d = 0; d < D; d++) q += (double)e[d] * e[d];
        float inv = (float)(1.0 / fmax(sqrt(q), 1e-6));
        for (int d = 0; d < D; d++) w[d] = e[d] * inv;
    }
}

/* Query times: the next row's time within each sequence; the last row: its own, or now (> 0). */
static void query_times(const crec_seq_batch *bt, int64_t *tq, int64_t now) {
    for (int q = 0; q < bt->B; q++) {
        int o = bt->seq_off[q], T = bt->len[q];
        for (int t = 0; t < T; t++) tq[o + t] = t + 1 < T ? bt->ts[o + t + 1] : (now > 0 ? now : bt->ts[o + t]);
    }
}

/* ---- forward / backward ---- */

/* ---- forward / backward, in shards ----
 *
 * A step runs in shards of whole sequences (crec__seqtrain_shards, at least crec__hstu_shard_rows rows): every
 * kernel of the layer works row by row, and attention within a sequence, so a shard's forward, and its backward
 * down to the input gradients, touch only its own rows - one OpenMP loop over the shards, each on one thread with
 * one-thread BLAS, its rows' activations staying in cache from one kernel to the next. The parameter gradients
 * (sums over all rows) follow over the whole batch. Dropout masks are drawn by element index in the whole tensor,
 * so the masks are the same in any shard layout; a batch of one shard is the kernel-by-kernel step, each kernel
 * sharing its rows among the threads. */

size_t crec__hstu_shard_rows = 512;

static void fwd_range(const hstu *s, const float *blk, h_acts *a, const crec_seq_batch *bt, uint64_t seed, int b0,
                      int b1) {
    int D = s->D, r0 = bt->seq_off[b0], N = bt->seq_off[b1] - r0, B = b1 - b0;
    if (N <= 0) return;
    size_t o = (size_t)r0 * D, o4 = 4 * o, ND = (size_t)N * D;
    float p = seed ? s->drop : 0;
    float *x0 = a->t[A_X] + o;
    const int64_t *tq = (const int64_t *)(const void *)a->t[A_TQ];
    const int32_t *so = bt->seq_off + b0;
    const int64_t *ao_ = bt->att_off + b0;
    crec__nn_embedding_forward(x0, bt->ids + r0, PRM(s, (float *)blk, P_EMB), N, D, sqrtf((float)D), 0);
    crec__nn_embedding_forward(x0, bt->posid + r0, PRM(s, (float *)blk, P_POS), N, D, 1.0f, 1);
    if (p > 0) crec__nn_dropout_forward_at(x0, x0, ND, p, crec__nn_seed(seed, 0, 0), o);
    uint8_t *bkt = s->time_bias ? (uint8_t *)(void *)a->t[A_BKT] : NULL;
    if (bkt) crec__nn_hstu_buckets(bkt, bt->ts, tq, so, ao_, B, s->H);
    for (int l = 0; l < s->L; l++) {
        const float *x = ACT(a, A_X, l, D) + o;
        float *xn = ACT(a, A_XN, l, D) + o, *pre = ACT(a, A_PRE, l, 4 * D) + o4;
        float *uvqk = ACT(a, A_UVQK, l, 4 * D), *ao = ACT(a, A_AO, l, D); /* whole-batch bases: attention */
        float *an = ACT(a, A_AN, l, D) + o, *gd = ACT(a, A_GD, l, D) + o, *tmp = a->t[A_TMP] + o;
        float *att = a->t[A_ATT] + (size_t)l * a->A, *aw = a->t[A_AW] + (size_t)l * a->A;
        crec__nn_hstu_norm_forward(xn, ACT(a, A_RS1, l, 1) + r0, x, N, D);
        crec__nn_linear_forward(pre, xn, layer_w(s, blk, P_UVQK, l), NULL, N, D, 4 * D);
        crec__nn_act_forward(uvqk + o4, pre, ND * 4, CREC_NN_SILU);
        crec__nn_hstu_attn_forward(ao, att, aw, uvqk, layer_w(s, blk, P_RPOS, l), layer_w(s, blk, P_RTS, l), bkt, so,
                                   ao_, B, D, s->H, s->T, s->norm_len);
        crec__nn_hstu_norm_forward(an, ACT(a, A_RS2, l, 1) + r0, ao + o, N, D);
        crec__nn_hstu_gate_forward(gd, uvqk + o4, an, N, D);
        if (p > 0) crec__nn_dropout_forward_at(gd, gd, ND, p, crec__nn_seed(seed, (uint64_t)l + 1, 1), o);
        crec__nn_linear_forward(tmp, gd, layer_w(s, blk, P_WO, l), layer_w(s, blk, P_BO, l), N, D, D);
        crec__nn_residual_forward(ACT(a, A_X, l + 1, D) + o, x, tmp, ND);
    }
    const float *hf = ACT(a, A_X, s->L, D);
#pragma omp parallel for schedule(static) if (ND > 16384)
    for (int n = r0; n < r0 + N; n++) {
        double q = 0;
        for (int d = 0; d < D; d++) q += (double)hf[(size_t)n * D + d] * hf[(size_t)n * D + d];
        float nr = (float)fmax(sqrt(q), 1e-6), sc = 1.0f / (nr * s->temp);
        a->t[A_NRM][n] = nr;
        for (int d = 0; d < D; d++) a->t[A_HOUT][(size_t)n * D + d] = hf[(size_t)n * D + d] * sc;
    }
}

static void forward(const hstu *s, const float *blk, h_acts *a, const crec_seq_batch *bt, uint64_t seed,
                    int64_t now) {
    query_times(bt, (int64_t *)(void *)a->t[A_TQ], now);
    int sb[CREC_SEQTRAIN_MAX_SHARDS];
    int ns = crec__seqtrain_shards(bt, crec__hstu_shard_rows, sb, CREC_SEQTRAIN_MAX_SHARDS);
    if (ns == 1) {
        fwd_range(s, blk, a, bt, seed, 0, bt->B);
        return;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = 0; k < ns; k++) fwd_range(s, blk, a, bt, seed, sb[k], sb[k + 1]);
}

/* dw[O, C] += dout[N, O]^T inp[N, C] (and db += column sums of dout): as nn.h's linear backward, but over fixed
 * chunks of WG_ROWS rows in parallel, each chunk's product and bias sums on one thread into its own slice of a
 * scratch, then the slices added in chunk order: both threads work (a single-block product ran on one), and the
 * sums are the same at any thread count. */
#define WG_ROWS 2048
static void wgrad(float *dw, float *db, const float *dout, const float *inp, int N, int C, int O) {
    int nc = (N + WG_ROWS - 1) / WG_ROWS;
    size_t per = (size_t)O * C + (size_t)O; /* a chunk's dw slice, then its db slice */
    float *part = nc > 1 ? malloc((size_t)nc * per * sizeof *part) : NULL;
    if (!part) { /* one chunk, or no scratch: the plain product, the bias sums over the rows in order */
        crec__nn_gemm(1, 0, O, C, N, 1, dout, O, inp, C, 1, dw, C);
        if (db)
            for (int n = 0; n < N; n++) {
                const float *g = dout + (size_t)n * O;
                for (int o = 0; o < O; o++) db[o] += g[o];
            }
        return;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < nc; c++) {
        int r0 = c * WG_ROWS, r1 = r0 + WG_ROWS < N ? r0 + WG_ROWS : N;
        float *pc = part + (size_t)c * per, *pb = pc + (size_t)O * C;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, C, r1 - r0, 1, dout + (size_t)r0 * O, O,
                    inp + (size_t)r0 * C, C, 0, pc, C);
        if (db) {
            for (int o = 0; o < O; o++) pb[o] = 0;
            for (int n = r0; n < r1; n++) {
                const float *g = dout + (size_t)n * O;
                for (int o = 0; o < O; o++) pb[o] += g[o];
            }
        }
    }
    for (int c = 0; c < nc; c++) { /* chunks in order: the same sums at any thread count */
        const float *pc = part + (size_t)c * per;
        for (size_t i = 0; i < (size_t)O * C; i++) dw[i] += pc[i];
        if (db)
            for (int o = 0; o < O; o++) db[o] += pc[(size_t)O * C + o];
    }
    free(part);
}

/* Floats of one shard's bias-gradient sums: per layer, the relative positions (2T - 1) and the time buckets. */
static size_t bias_loc_floats(const hstu *s) {
    return (size_t)s->L * (2 * (size_t)s->T - 1 + CREC_NN_HSTU_BUCKETS);
}

/* Backward of sequences [b0, b1) down to the input gradients: g->t[A_TMP]'s rows get d(loss)/d(embedding sum); the
 * relative-position and time-bias gradients of the shard's sequences go to its own sums loc (bias_loc_floats,
 * zeroed here; NULL: added into gblk's), the attention's per-sequence scratch to bsum's slices of those sequences. */
static void bwd_range(const hstu *s, const float *blk, float *gblk, const h_acts *a, h_acts *g,
                      const crec_seq_batch *bt, uint64_t seed, float *bsum, float *loc, int b0, int b1) {
    int D = s->D, r0 = bt->seq_off[b0], N = bt->seq_off[b1] - r0, B = b1 - b0, T = s->T;
    if (N <= 0) return;
    size_t o = (size_t)r0 * D, o4 = 4 * o, ND = (size_t)N * D, per = 2 * (size_t)T - 1 + CREC_NN_HSTU_BUCKETS;
    float p = seed ? s->drop : 0;
    const uint8_t *bkt = s->time_bias ? (const uint8_t *)(const void *)a->t[A_BKT] : NULL;
    const int32_t *so = bt->seq_off + b0;
    const int64_t *ao_ = bt->att_off + b0;
    float *bs = bsum ? bsum + (size_t)b0 * s->H * (size_t)(T + CREC_NN_HSTU_BUCKETS) : NULL;
    if (loc) memset(loc, 0, bias_loc_floats(s) * sizeof *loc);
    /* h = hf / (|hf| temp): dhf = (dh - hhat (hhat . dh)) / (|hf| temp), hhat = hf / |hf| */
    float *dhf = ACT(g, A_X, s->L, D);
#pragma omp parallel for schedule(static) if (ND > 16384)
    for (int n = r0; n < r0 + N; n++) {
        const float *h = a->t[A_HOUT] + (size_t)n * D, *dh = g->t[A_HOUT] + (size_t)n * D;
        double c = 0;
        for (int d = 0; d < D; d++) c += (double)h[d] * s->temp * dh[d];
        float k = 1.0f / (a->t[A_NRM][n] * s->temp);
        for (int d = 0; d < D; d++) dhf[(size_t)n * D + d] = k * (dh[d] - (float)c * h[d] * s->temp);
    }
    /* every gradient activation below is written (=) before it is read: none is zeroed per step */
    for (int l = s->L - 1; l >= 0; l--) {
        float *dy = ACT(g, A_X, l + 1, D) + o, *dx = ACT(g, A_X, l, D) + o;
        float *guvqk = ACT(g, A_UVQK, l, 4 * D), *gao = ACT(g, A_AO, l, D); /* whole-batch bases: attention */
        crec__nn_gemm(0, 0, N, D, D, 1, dy, D, layer_w(s, blk, P_WO, l), D, 0, ACT(g, A_GD, l, D) + o, D);
        /* dropout, gate and layer norm backward in one pass per row (writes U, zeroes V Q K, writes dAO) */
        crec__nn_hstu_gate_norm_backward(guvqk + o4, gao + o, ACT(g, A_GD, l, D) + o, ACT(a, A_UVQK, l, 4 * D) + o4,
                                         ACT(a, A_AN, l, D) + o, ACT(a, A_RS2, l, 1) + r0, N, D, p,
                                         crec__nn_seed(seed, (uint64_t)l + 1, 1), o);
        float *lp = loc ? loc + (size_t)l * per : NULL;
        float *dpos = lp ? (s->pos_bias ? lp : NULL) : layer_g(s, gblk, P_RPOS, l);
        float *dts = lp ? (s->time_bias ? lp + 2 * T - 1 : NULL) : layer_g(s, gblk, P_RTS, l);
        crec__nn_hstu_attn_backward(guvqk, dpos, dts,
                                    g->t[A_ATT] + (size_t)l * g->A, bs, gao, ACT(a, A_UVQK, l, 4 * D),
                                    a->t[A_ATT] + (size_t)l * a->A, a->t[A_AW] + (size_t)l * a->A, bkt, so, ao_, B, D,
                                    s->H, T, s->norm_len);
        float *dpre = guvqk + o4; /* SiLU's backward in place: d(pre) over d(uvqk) */
        crec__nn_hstu_silu_backward_inplace(dpre, ACT(a, A_PRE, l, 4 * D) + o4, ND * 4);
        crec__nn_gemm(0, 0, N, D, 4 * D, 1, dpre, 4 * D, layer_w(s, blk, P_UVQK, l), D, 0, ACT(g, A_XN, l, D) + o, D);
        crec__nn_hstu_norm_backward_set(dx, dy, ACT(g, A_XN, l, D) + o, ACT(a, A_XN, l, D) + o,
                                        ACT(a, A_RS1, l, 1) + r0, N, D);
    }
    float *tmp = g->t[A_TMP] + o, *gx = g->t[A_X] + o;
    if (p > 0) {
        memset(tmp, 0, ND * sizeof *tmp);
        crec__nn_dropout_backward_at(tmp, gx, ND, p, crec__nn_seed(seed, 0, 0), o);
    } else
        memcpy(tmp, gx, ND * sizeof *tmp);
}

/* g: g->t[A_HOUT] holding dloss/d(hout) (the only gradient activation the forward zeroes; every other one is
 * written here before it is read); gradients added into gblk (whose P_OUT holds the loss's gradient of the
 * normalised table, sent back into P_EMB and cleared). loc: room for one bias_loc_floats per shard. */
static void backward(const hstu *s, const float *blk, float *gblk, const h_acts *a, h_acts *g,
                     const crec_seq_batch *bt, uint64_t seed, float *bsum, float *loc) {
    int N = bt->N, D = s->D, T = s->T;
    int sb[CREC_SEQTRAIN_MAX_SHARDS];
    int ns = crec__seqtrain_shards(bt, crec__hstu_shard_rows, sb, CREC_SEQTRAIN_MAX_SHARDS);
    size_t nl = bias_loc_floats(s), per = 2 * (size_t)T - 1 + CREC_NN_HSTU_BUCKETS;
    if (!loc) ns = 1;
    if (ns == 1)
        bwd_range(s, blk, gblk, a, g, bt, seed, bsum, loc, 0, bt->B);
    else {
#pragma omp parallel for schedule(dynamic, 1)
        for (int k = 0; k < ns; k++)
            bwd_range(s, blk, gblk, a, g, bt, seed, bsum, loc + (size_t)k * nl, sb[k], sb[k + 1]);
    }
    /* the parameter gradients over the whole batch; the shards' bias sums in shard order */
    for (int l = 0; l < s->L; l++) {
        wgrad(layer_g(s, gblk, P_WO, l), layer_g(s, gblk, P_BO, l), ACT(g, A_X, l + 1, D), ACT(a, A_GD, l, D), N, D,
              D);
        wgrad(layer_g(s, gblk, P_UVQK, l), NULL, ACT(g, A_UVQK, l, 4 * D), ACT(a, A_XN, l, D), N, D, 4 * D);
        float *dpos = layer_g(s, gblk, P_RPOS, l), *dts = layer_g(s, gblk, P_RTS, l);
        for (int k = 0; k < ns && loc; k++) {
            const float *lp = loc + (size_t)k * nl + (size_t)l * per;
            if (dpos)
                for (int u = 0; u < 2 * T - 1; u++) dpos[u] += lp[u];
            if (dts)
                for (int u = 0; u < CREC_NN_HSTU_BUCKETS; u++) dts[u] += lp[2 * T - 1 + u];
        }
    }
    float *tmp = g->t[A_TMP];
    crec__nn_embedding_backward(PRM(s, gblk, P_EMB), tmp, bt->ids, N, D, sqrtf((float)D));
    crec__nn_embedding_backward(PRM(s, gblk, P_POS), tmp, bt->posid, N, D, 1.0f);
    /* the normalised table: dE_i += (dW_i - w_i (w_i . dW_i)) / |E_i| */
    const float *E = PRM(s, (float *)blk, P_EMB), *W = PRM(s, (float *)blk, P_OUT);
    float *dE = PRM(s, gblk, P_EMB), *dW = PRM(s, gblk, P_OUT);
    for (int32_t i = 0; i < s->NI; i++) {
        const float *w = W + (size_t)i * D, *e = E + (size_t)i * D;
        float *dw = dW + (size_t)i * D, *de = dE + (size_t)i * D;
        double c = 0, q = 0;
        for (int d = 0; d < D; d++) c += (double)w[d] * dw[d], q += (double)e[d] * e[d];
        if (c == 0) {
            int any = 0;
            for (int d = 0; d < D && !any; d++) any = dw[d] != 0;
            if (!any) continue;
        }
        float inv = (float)(1.0 / fmax(sqrt(q), 1e-6));
        for (int d = 0; d < D; d++) de[d] += (dw[d] - (float)c * w[d]) * inv, dw[d] = 0;
    }
}

/* ---- initialisation, architecture ---- */

static void init_params(hstu *s, crec_rng *r) {
    float *blk = s->p.param;
    size_t D = (size_t)s->D;
    struct {
        int k;
        double std;
    } nrm[] = {{P_EMB, 0.02}, {P_POS, sqrt(1.0 / (double)D)}, {P_RPOS, 0.02}, {P_RTS, 0.02}};
    for (size_t i = 0; i < 4; i++) {
        float *t = PRM(s, blk, nrm[i].k);
        for (size_t j = 0; j < s->p.size[nrm[i].k]; j++) t[j] = (float)(nrm[i].std * crec__rng_normal(r));
    }
    struct {
        int k;
        double bound;
    } xav[] = {{P_UVQK, sqrt(6.0 / (5.0 * D))}, {P_WO, sqrt(6.0 / (2.0 * D))}};
    for (size_t i = 0; i < 2; i++) {
        float *t = PRM(s, blk, xav[i].k);
        for (size_t j = 0; j < s->p.size[xav[i].k]; j++) t[j] = (float)(xav[i].bound * (2 * crec__rng_uniform(r) - 1));
    }
    memset(PRM(s, blk, P_BO), 0, s->p.size[P_BO] * sizeof(float));
    refresh_out(s);
}

static int decays(int k) { return k == P_EMB || k == P_UVQK || k == P_WO; }

static int arch_from(const crec_model *m, hstu *s) {
    memset(s, 0, sizeof *s);
    s->D = (int)crec_model_param_int(m, "dim");
    s->L = (int)crec_model_param_int(m, "blocks");
    s->H = (int)crec_model_param_int(m, "heads");
    s->T = (int)crec_model_param_int(m, "max_len");
    s->drop = (float)crec_model_param_double(m, "dropout");
    s->norm_len = strcmp(crec_model_param_str(m, "norm"), "len") == 0;
    s->pos_bias = (int)crec_model_param_int(m, "pos_bias");
    s->time_bias = (int)crec_model_param_int(m, "time_bias");
    s->temp = (float)crec_model_param_double(m, "temp");
    s->NI = m->n_items;
    if (s->D < 1 || s->D > 4096 || s->L < 1 || s->L > 16 || s->H < 1 || s->D % s->H || s->T < 1 ||
        s->T > CREC_NN_MAX_T || !(s->drop >= 0 && s->drop < 1) || !(s->temp > 0) || s->NI < 1)
        return CREC_EINVAL;
    return 0;
}

static void state_free(hstu *s) {
    if (!s) return;
    crec__nn_params_free(&s->p);
    free(s->pop);
    free(s->bsum);
    free(s->bloc);
    free(s);
}

static void hstu_free(crec_model *m) {
    state_free(m->state);
    m->state = NULL;
}

static int head_from(const crec_model *m, crec_nn_head_cfg *c) {
    memset(c, 0, sizeof *c);
    c->loss = strcmp(crec_model_param_str(m, "loss"), "ce") == 0 ? CREC_NN_LOSS_CE : CREC_NN_LOSS_SSM;
    c->neg = (int)crec_model_param_int(m, "neg");
    c->alpha = 0, c->logq = 0;
    c->bf16 = crec__param_ce_bf16(m);
    return c->neg >= 1 ? 0 : CREC_EINVAL;
}

/* ---- the network of the sequence trainer ---- */

static void net_init(void *ctx, crec_rng *r) { init_params(ctx, r); }

static size_t net_acts_floats(const void *ctx, int N, int64_t A) { return acts_layout(ctx, N, A, NULL, NULL); }

static int64_t batch_att(const crec_seq_batch *bt) { return bt->att_off[bt->B]; }

static const float *net_forward(const void *ctx, const crec_seq_batch *bt, float *abase, float *gbase, uint64_t seed,
                                float **dh) {
    hstu *s = (hstu *)ctx;
    if (s->training) refresh_out(s); /* training and validation run one forward at a time */
    h_acts a;
    int64_t A = batch_att(bt);
    acts_layout(s, bt->N, A, abase, &a);
    forward(s, s->p.param, &a, bt, seed, 0);
    if (gbase) {
        h_acts g;
        acts_layout(s, bt->N, A, gbase, &g);
        /* the loss adds into dhout; the backward writes every other gradient activation before reading it */
        memset(g.t[A_HOUT], 0, g.n[A_HOUT] * sizeof(float));
        *dh = g.t[A_HOUT];
    }
    return a.t[A_HOUT];
}

static void net_backward(const void *ctx, const crec_seq_batch *bt, const float *abase, float *gbase, uint64_t seed) {
    hstu *s = (hstu *)ctx; /* one training step at a time: it owns the bias scratch */
    h_acts a, g;
    int64_t A = batch_att(bt);
    acts_layout(s, bt->N, A, (float *)abase, &a);
    acts_layout(s, bt->N, A, gbase, &g);
    size_t need = s->pos_bias || s->time_bias ? crec__nn_hstu_bias_scratch(bt->B, s->H, s->T) : 0;
    if (need > s->bsum_n) {
        free(s->bsum);
        s->bsum = malloc(need * sizeof *s->bsum);
        s->bsum_n = s->bsum ? need : 0; /* without it the kernel sums the bias gradients on one thread */
    }
    size_t nloc = ((size_t)bt->B + 1) * bias_loc_floats(s);
    if (nloc > s->bloc_n) {
        free(s->bloc);
        s->bloc = malloc(nloc * sizeof *s->bloc);
        s->bloc_n = s->bloc ? nloc : 0;
    }
    /* without the shards' sums the step runs as one shard, the bias gradients added in place */
    backward(s, s->p.param, s->p.grad, &a, &g, bt, seed, s->bsum, s->bloc);
}

static float *net_out_table(const void *ctx, float *blk) { return PRM((const hstu *)ctx, blk, P_OUT); }

static crec_seqtrain_net hstu_net(hstu *s) {
    uint64_t decay = 0;
    for (int k = 0; k < P_COUNT; k++) decay |= (uint64_t)decays(k) << k;
    crec_seqtrain_net net = {.name = "hstu",
                             .ctx = s,
                             .p = &s->p,
                             .NI = s->NI,
                             .D = s->D,
                             .T = s->T,
                             .mask = -1,
                             .heads = s->H,
                             .time_major = 0,
                             .salt = 0x4857ull,
                             .decay = decay,
                             .init = net_init,
                             .acts_floats = net_acts_floats,
                             .forward = net_forward,
                             .backward = net_backward,
                             .out_table = net_out_table};
    return net;
}

/* The last max_len items of the history with their times (ctx->hist_ts; positions when absent), the last row's
 * state against the normalised table; an empty history scores by training popularity. */
static int hstu_score(const crec_model *m, const crec_context *ctx, float *scores) {
    hstu *s = m->state;
    int32_t n = ctx->n_hist;
    if (n <= 0) {
        memcpy(scores, s->pop, (size_t)s->NI * sizeof *scores);
        return 0;
    }
    crec_seqtrain_net net = hstu_net(s);
    int32_t Tw = n < s->T ? n : s->T;
    int64_t A = (int64_t)s->H * Tw * Tw;
    float *base = crec__aligned_alloc(acts_layout(s, Tw, A, NULL, NULL) * sizeof(float));
    crec_seq_batch bt;
    int rc = crec__seqtrain_batch_alloc(&bt, 1, Tw, Tw);
    if (rc || !base) {
        free(base);
        if (!rc) crec__seqtrain_batch_free(&bt);
        return CREC_ENOMEM;
    }
    const int32_t *h1[1] = {ctx->hist};
    crec__seqtrain_batch_hist(&bt, &net, h1, NULL, &n, 1);
    for (int t = 0; t < Tw; t++) bt.ts[t] = ctx->hist_ts ? ctx->hist_ts[n - Tw + t] : (int64_t)(n - Tw + t);
    h_acts a;
    acts_layout(s, Tw, A, base, &a);
    forward(s, s->p.param, &a, &bt, 0, ctx->hist_ts ? ctx->now : 0);
    crec__nn_matvec(scores, PRM(s, s->p.param, P_OUT), a.t[A_HOUT] + (size_t)(Tw - 1) * s->D, s->NI, s->D);
    free(base);
    crec__seqtrain_batch_free(&bt);
    return 0;
}

static int hstu_train(crec_model *m, const crec_train_input *in) {
    hstu *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    crec_nn_head_cfg hc;
    crec_seqtrain_hp hp;
    int rc = arch_from(m, s);
    if (!rc) rc = head_from(m, &hc);
    if (!rc) rc = crec__seqtrain_hp(m, &hp);
    if (!rc) {
        size_t psz[P_COUNT];
        param_sizes(s, psz);
        rc = crec__nn_params_alloc(&s->p, psz, P_COUNT, 1);
    }
    if (!rc && !(s->pop = calloc((size_t)s->NI, sizeof *s->pop))) rc = CREC_ENOMEM;
    if (!rc) {
        crec_seqtrain_net net = hstu_net(s);
        s->training = 1;
        rc = crec__seqtrain_run_next(&net, &hc, &hp, in, s->pop);
        s->training = 0;
        if (!rc) refresh_out(s);
    }
    if (rc) {
        state_free(s);
        return rc;
    }
    m->state = s;
    return 0;
}

/* ---- a whole-model gradient check (tests/unit/test_hstu.c) ---- */


int crec__hstu_gradcheck(int norm_len, float dropout, uint64_t seed, double *worst, int *checked) {
    hstu s = {.D = 8, .L = 2, .H = 2, .T = 6, .norm_len = norm_len, .pos_bias = 1, .time_bias = 1, .NI = 13,
              .drop = dropout, .temp = 0.5f, .training = 1};
    crec_nn_head_cfg hc = {.loss = CREC_NN_LOSS_CE};
    uint64_t dseed = dropout > 0 ? seed | 1 : 0;
    size_t psz[P_COUNT];
    param_sizes(&s, psz);
    int rc = crec__nn_params_alloc(&s.p, psz, P_COUNT, 1);
    if (rc) return rc;
    crec_rng r;
    crec__rng_seed(&r, seed);
    for (size_t i = 0; i < s.p.total; i++) s.p.param[i] = (float)(0.2 * crec__rng_normal(&r));
    int32_t idx[] = {1, 5, 2, 7, 3, 4, 9, 12, 0, 11, 6, 2, 8, 10, 1, 3};
    int64_t ts[16], ptr[] = {0, 3, 5, 16};
    int64_t t = 1000;
    for (int i = 0; i < 16; i++) ts[i] = (t += (int64_t)(crec__rng_uniform(&r) * 5000.0 * (i % 4 + 1)));
    crec_csr x = {.n_rows = 3, .n_cols = 13, .ptr = ptr, .idx = idx, .ts = ts};
    int32_t users[] = {0, 1, 2};
    int Nmax = 3 * s.T;
    crec_seqtrain_net net = hstu_net(&s);
    crec_seqtrain_next o;
    memset(&o, 0, sizeof o);
    crec_seqtrain_obj obj = crec__seqtrain_next_obj(&o);
    crec_nn_head hd;
    crec_seq_batch bt;
    memset(&bt, 0, sizeof bt);
    rc = crec__nn_head_init(&hd, &hc, s.NI, s.D, Nmax, NULL);
    if (!rc) rc = crec__seqtrain_batch_alloc(&bt, 3, Nmax, s.T);
    if (!rc) {
        crec__seqtrain_batch_train(&bt, &net, &obj, &x, users, 3, &r);
        /* P_OUT is derived: its entries get no gradient, and moving them changes nothing (pin them off) */
        rc = crec__seqtrain_gradcheck(&net, &bt, crec__seqtrain_head_loss, &hd, dseed, -1, 0, 0, &r, worst, checked);
    }
    crec__nn_head_free(&hd);
    crec__seqtrain_batch_free(&bt);
    crec__nn_params_free(&s.p);
    free(s.bsum);
    free(s.bloc);
    return rc;
}

/* ---- checkpoints: the architecture (checked against the hyper-parameters on load), popularity, parameters ---- */

static int hstu_save(const crec_model *m, crec_buf *out) {
    const hstu *s = m->state;
    uint32_t hdr[7] = {(uint32_t)s->D, (uint32_t)s->L, (uint32_t)s->H, (uint32_t)s->T,
                       (uint32_t)s->pos_bias, (uint32_t)s->time_bias, (uint32_t)s->NI};
    int rc = 0;
    for (int i = 0; !rc && i < 7; i++) rc = crec__put_u32(out, hdr[i]);
    if (!rc) rc = crec_buf_write(out, s->pop, (size_t)s->NI * sizeof *s->pop);
    if (!rc) rc = crec__nn_params_save(&s->p, out);
    return rc;
}

static int hstu_load(crec_model *m, crec_buf *in) {
    hstu *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    int rc = arch_from(m, s) ? CREC_EFORMAT : 0;
    uint32_t hdr[7];
    for (int i = 0; !rc && i < 7; i++) rc = crec__get_u32(in, &hdr[i]);
    if (!rc && (hdr[0] != (uint32_t)s->D || hdr[1] != (uint32_t)s->L || hdr[2] != (uint32_t)s->H ||
                hdr[3] != (uint32_t)s->T || hdr[4] != (uint32_t)s->pos_bias || hdr[5] != (uint32_t)s->time_bias ||
                hdr[6] != (uint32_t)s->NI))
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
        state_free(s);
        return rc;
    }
    refresh_out(s);
    m->state = s;
    return 0;
}

static int hstu_check(const crec_model *m, char *err, size_t errn) {
    int64_t dim = crec_model_param_int(m, "dim"), heads = crec_model_param_int(m, "heads");
    if (heads < 1 || dim % heads) {
        crec__errf(err, errn, "model 'hstu': 'heads' (%lld) must divide 'dim' (%lld)", (long long)heads,
                   (long long)dim);
        return CREC_EINVAL;
    }
    return 0;
}

const crec_model_type crec__model_hstu = {
    .name = "hstu",
    .summary = "HSTU: pointwise SiLU attention with relative position and time biases (Zhai et al. 2024)",
    .params = HSTU_PARAMS,
    .train = hstu_train,
    .score = hstu_score,
    .save = hstu_save,
    .load = hstu_load,
    .free_state = hstu_free,
    .caps = CREC_CAP_SEQUENCE | CREC_CAP_TIME,
    .check = hstu_check,
};
