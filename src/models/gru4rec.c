/* gru4rec.c: GRU4Rec (Hidasi et al. 2016; "Recurrent Neural Networks with Top-k Gains", Hidasi & Karatzoglou
 * 2018), a recurrent next-item model, on the neural core (src/nn).
 *
 * Model: x = dropout(E[item]); `layers` GRU layers, each followed by dropout on its states; the last layer's state
 * h scores the catalog, s_j = h . W[j], where W is the item table E itself (tied, the default: GRU4Rec's
 * "constrained embedding") or a separate output table.
 * Training: each user's training row (time ordered, its last max_len + 1 items) predicts the next item at every
 * position, with full softmax cross-entropy over the catalog (ce), sampled softmax with log-Q correction (ssm),
 * BPR-max (bprmax, with its score regularisation) or BCE (bce); the sampled losses draw negatives with probability
 * proportional to (training count + 1)^alpha. AdamW, optional warm-up + decay, gradient clipping; early stopping on
 * validation NDCG@10 (full ranking, history excluded), the best parameters kept in memory.
 * Scoring: the GRU over the last max_len items of ctx->hist from a zero state (ctx->user is not read, so an
 * anonymous history scores exactly as the same user's history), the last state, one matrix-vector product
 * against W; an empty history scores by training popularity.
 *
 * The one idea: packed sequences (gru4rec.h). A batch's sequences are sorted by length, so at step t the running
 * sequences are a prefix of bs[t] rows: the input-to-hidden products of every position are one matrix product, the
 * hidden-to-hidden product runs per step on bs[t] rows only, and no work is spent on padding. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"
#include "crec/rank.h"
#include "models/gru4rec.h"
#include "models/seqvalid.h"
#include "nn/nn.h"
#include "models/params.h"

static const crec_param_def GRU4REC_PARAMS[] = {
    CREC_P_INT("dim", "64", 1, 4096, "width H of the GRU states (and of the item embeddings when tied)"),
    CREC_P_INT("emb", "0", 0, 4096, "item embedding width (0 = dim; must equal dim when tied)"),
    CREC_P_INT("layers", "1", 1, 8, "stacked GRU layers"),
    CREC_P_BOOL("tied", "1", "1: the output item table is the input embedding; 0: a separate output table"),
    CREC_P_INT("max_len", "50", 1, 4096, "last items of a history the model reads"),
    CREC_P_FLOAT("dropout_emb", "0.5", 0, 0.99, "dropout on the item embeddings"),
    CREC_P_FLOAT("dropout_hidden", "0.5", 0, 0.99, "dropout on every GRU layer's states"),
    CREC_P_ENUM("loss", "ce", "ce|ssm|bprmax|bce",
                "ce (full softmax over the catalog), ssm (sampled softmax, log-Q), bprmax, bce"),
    CREC_P_INT("neg", "0", 0, 65536, "negatives: shared per batch for ssm / bprmax (0 = 256), per position for bce (0 = 1)"),
    CREC_P_FLOAT("alpha", "0.5", 0, 2, "negatives drawn with probability ~ (count + 1)^alpha (0 = uniform)"),
    CREC_P_FLOAT("bpreg", "1", 0, 1e6, "BPR-max score regularisation lambda"),
    CREC_P_ADAMW("0.01"),
    CREC_P_EARLY_STOP("40", "5", "0"),
    CREC_P_END,
};

enum { LOSS_CE, LOSS_SSM, LOSS_BPRMAX, LOSS_BCE };

/* ---- the GRU layer over packed sequences (gru4rec.h) ---- */

void crec__gru_forward(float *h, float *cache, float *gx, float *gh, float *hprev, const float *x, const float *h0,
                       const float *wih, const float *bih, const float *whh, const float *bhh, const crec_gru_pack *pk,
                       int C, int H) {
    size_t H3 = (size_t)3 * H;
    crec__nn_linear_forward(gx, x, wih, bih, pk->N, C, 3 * H); /* gx[N,3H]: every position at once */
    for (int t = 0; t < pk->T; t++) {
        int n = pk->bs[t];
        size_t r = (size_t)pk->off[t];
        float *hp = hprev + r * H, *ght = gh + r * H3;
        if (t > 0) {
            memcpy(hp, h + (size_t)pk->off[t - 1] * H, (size_t)n * H * sizeof *hp); /* the first bs[t] of step t-1 */
            crec__nn_linear_forward(ght, hp, whh, bhh, n, H, 3 * H);                  /* gh[bs[t],3H] */
        } else if (h0) {
            memcpy(hp, h0, (size_t)n * H * sizeof *hp);
            crec__nn_linear_forward(ght, hp, whh, bhh, n, H, 3 * H);
        } else { /* zero state: gh = bhh */
            memset(hp, 0, (size_t)n * H * sizeof *hp);
            for (int b = 0; b < n; b++) memcpy(ght + (size_t)b * H3, bhh, H3 * sizeof *ght);
        }
        crec__nn_gru_cell_forward(h + r * H, cache + r * H3, gx + r * H3, ght, hp, n, H);
    }
}

void crec__gru_backward(float *dx, float *dh0, float *dwih, float *dbih, float *dwhh, float *dbhh, float *dh,
                        float *dgx, float *dgh, const float *x, const float *cache, const float *gh, const float *hprev,
                        const float *wih, const float *whh, const crec_gru_pack *pk, int C, int H) {
    size_t H3 = (size_t)3 * H, N = (size_t)pk->N;
    memset(dgx, 0, N * H3 * sizeof *dgx);
    memset(dgh, 0, N * H3 * sizeof *dgh);
    for (int t = pk->T - 1; t >= 0; t--) {
        int n = pk->bs[t];
        size_t r = (size_t)pk->off[t];
        /* dh of step t is complete here: step t+1 added its recurrent part. dprev[bs[t],H]: step t-1's rows. */
        float *dprev = t > 0 ? dh + (size_t)pk->off[t - 1] * H : dh0;
        crec__nn_gru_cell_backward(dgx + r * H3, dgh + r * H3, dprev, dh + r * H, cache + r * H3, gh + r * H3,
                                   hprev + r * H, n, H);
        if (dprev) crec__nn_gemm(0, 0, n, H, 3 * H, 1.0f, dgh + r * H3, 3 * H, whh, H, 1.0f, dprev, H);
    }
    /* weight gradients of every step at once: dwhh += dgh^T hprev, dwih += dgx^T x (dx += dgx wih) */
    crec__nn_linear_backward(NULL, dwhh, dbhh, dgh, hprev, whh, pk->N, H, 3 * H);
    crec__nn_linear_backward(dx, dwih, dbih, dgx, x, wih, pk->N, C, 3 * H);
}

/* ---- the model ---- */

/* Parameter tensors; layer l's input width is C_l = E for l = 0, H above. */
enum {
    P_EMB, /* [I, E] item embeddings (= output table when tied) */
    P_OUT, /* [I, H] output table (0 floats when tied) */
    P_WIH, /* [3H, E] then [L-1, 3H, H] */
    P_BIH, /* [L, 3H] */
    P_WHH, /* [L, 3H, H] */
    P_BHH, /* [L, 3H] */
    P_COUNT
};

/* Activations of one batch of N rows; the gradient block has the same layout (its GX / GH hold the GRU's dgx /
 * dgh scratch). Offsets depend on N, so a batch's tensors are one contiguous prefix. */
enum {
    A_X0,    /* [N, E] dropout(embeddings) */
    A_GX,    /* [L, N, 3H] */
    A_GH,    /* [L, N, 3H] */
    A_CACHE, /* [L, N, 3H] r | z | n */
    A_HPREV, /* [L, N, H] each row's previous state */
    A_H,     /* [L, N, H] states */
    A_HD,    /* [L, N, H] dropout(states): the next layer's input; the last layer's are the final states */
    A_TMP,   /* [N, max(E, H)] */
    A_COUNT
};

typedef struct gru4rec {
    int E, H, L, T, tied;
    int32_t NI;
    float drop_emb, drop_hid;
    crec_nn_params p;
    float *pop; /* [I] training counts: scores of an empty history */
} gru4rec;

typedef struct g4_acts {
    int N;
    float *t[A_COUNT];
} g4_acts;

/* A packed batch (gru4rec.h) plus its items: row off[t] + k is sorted sequence k's position t. */
typedef struct g4_batch {
    crec_gru_pack pk;
    int32_t *bs, *off;       /* [Tmax], [Tmax + 1] */
    int32_t *ids, *tgt;      /* [Nmax] input item, next item (-1: none) */
    int32_t *len, *src, *last; /* [Bmax] sorted lengths, index in the caller's list, row of the last position */
    int64_t *key;            /* [Bmax] sort keys */
} g4_batch;

static void param_sizes(const gru4rec *s, size_t *sz) {
    size_t E = (size_t)s->E, H = (size_t)s->H, L = (size_t)s->L;
    sz[P_EMB] = (size_t)s->NI * E;
    sz[P_OUT] = s->tied ? 0 : (size_t)s->NI * H;
    sz[P_WIH] = 3 * H * E + (L - 1) * 3 * H * H;
    sz[P_BIH] = sz[P_BHH] = L * 3 * H;
    sz[P_WHH] = L * 3 * H * H;
}

static size_t acts_layout(const gru4rec *s, int N, float *base, g4_acts *a) {
    size_t n = (size_t)N, E = (size_t)s->E, H = (size_t)s->H, L = (size_t)s->L, sz[A_COUNT];
    sz[A_X0] = n * E;
    sz[A_GX] = sz[A_GH] = sz[A_CACHE] = L * n * 3 * H;
    sz[A_HPREV] = sz[A_H] = sz[A_HD] = L * n * H;
    sz[A_TMP] = n * (E > H ? E : H);
    size_t off = 0;
    for (int k = 0; k < A_COUNT; k++) {
        if (base) a->t[k] = base + off;
        off += (sz[k] + 15) & ~(size_t)15;
    }
    if (base) a->N = N;
    return off;
}

#define ACT(a, k, l, width) ((a)->t[k] + (size_t)(l) * (a)->N * (width))
#define PRM(s, blk, k) crec__nn_tensor(&(s)->p, (blk), (k))

static size_t wih_off(const gru4rec *s, int l) {
    return l == 0 ? 0 : (size_t)3 * s->H * s->E + (size_t)(l - 1) * 3 * s->H * s->H;
}
/* The output item table W[I, H] (the embedding when tied) in block blk. */
static float *out_table(const gru4rec *s, float *blk) { return PRM(s, blk, s->tied ? P_EMB : P_OUT); }

/* ---- forward / backward ---- */

/* Forward of batch bt into a (pointed for bt's N) with parameters blk; dropout when seed != 0 (training). */
static void forward(const gru4rec *s, const float *blk_c, g4_acts *a, const g4_batch *bt, uint64_t seed) {
    float *blk = (float *)blk_c; /* read only here */
    int N = bt->pk.N, E = s->E, H = s->H;
    float pe = seed ? s->drop_emb : 0, ph = seed ? s->drop_hid : 0;
    crec__nn_embedding_forward(a->t[A_X0], bt->ids, PRM(s, blk, P_EMB), N, E, 1.0f, 0);
    if (pe > 0) crec__nn_dropout_forward(a->t[A_X0], a->t[A_X0], (size_t)N * E, pe, crec__nn_seed(seed, 0, 0));
    const float *x = a->t[A_X0];
    int C = E;
    for (int l = 0; l < s->L; l++) {
        float *hl = ACT(a, A_H, l, H), *hd = ACT(a, A_HD, l, H);
        crec__gru_forward(hl, ACT(a, A_CACHE, l, 3 * H), ACT(a, A_GX, l, 3 * H), ACT(a, A_GH, l, 3 * H),
                          ACT(a, A_HPREV, l, H), x, NULL, PRM(s, blk, P_WIH) + wih_off(s, l),
                          PRM(s, blk, P_BIH) + (size_t)l * 3 * H, PRM(s, blk, P_WHH) + (size_t)l * 3 * H * H,
                          PRM(s, blk, P_BHH) + (size_t)l * 3 * H, &bt->pk, C, H);
        if (ph > 0)
            crec__nn_dropout_forward(hd, hl, (size_t)N * H, ph, crec__nn_seed(seed, (uint64_t)l + 1, 1));
        else
            memcpy(hd, hl, (size_t)N * H * sizeof *hd);
        x = hd, C = H;
    }
}

/* dst[n] += gradient through a dropout site of src[n] (dst must not alias src). */
static void drop_back(float *dst, const float *src, size_t n, float p, uint64_t seed) {
    if (p > 0)
        crec__nn_dropout_backward(dst, src, n, p, seed);
    else
        for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

/* Backward of the forward above: g (same layout as a, zeroed, the last layer's A_HD holding dloss/dh) -> grads
 * added into gblk. */
static void backward(const gru4rec *s, const float *blk_c, float *gblk, const g4_acts *a, g4_acts *g,
                     const g4_batch *bt, uint64_t seed) {
    float *blk = (float *)blk_c;
    int N = bt->pk.N, E = s->E, H = s->H;
    float pe = seed ? s->drop_emb : 0, ph = seed ? s->drop_hid : 0;
    for (int l = s->L - 1; l >= 0; l--) {
        float *dhl = ACT(g, A_H, l, H);
        drop_back(dhl, ACT(g, A_HD, l, H), (size_t)N * H, ph, crec__nn_seed(seed, (uint64_t)l + 1, 1));
        const float *x = l == 0 ? a->t[A_X0] : ACT(a, A_HD, l - 1, H);
        float *dx = l == 0 ? g->t[A_X0] : ACT(g, A_HD, l - 1, H);
        crec__gru_backward(dx, NULL, PRM(s, gblk, P_WIH) + wih_off(s, l), PRM(s, gblk, P_BIH) + (size_t)l * 3 * H,
                           PRM(s, gblk, P_WHH) + (size_t)l * 3 * H * H, PRM(s, gblk, P_BHH) + (size_t)l * 3 * H, dhl,
                           ACT(g, A_GX, l, 3 * H), ACT(g, A_GH, l, 3 * H), x, ACT(a, A_CACHE, l, 3 * H),
                           ACT(a, A_GH, l, 3 * H), ACT(a, A_HPREV, l, H), PRM(s, blk, P_WIH) + wih_off(s, l),
                           PRM(s, blk, P_WHH) + (size_t)l * 3 * H * H, &bt->pk, l == 0 ? E : H, H);
    }
    float *tmp = g->t[A_TMP];
    memset(tmp, 0, (size_t)N * E * sizeof *tmp);
    drop_back(tmp, g->t[A_X0], (size_t)N * E, pe, crec__nn_seed(seed, 0, 0));
    crec__nn_embedding_backward(PRM(s, gblk, P_EMB), tmp, bt->ids, N, E, 1.0f);
}

/* ---- BPR-max (Hidasi & Karatzoglou 2018) with S negatives shared by all rows (neg[S]):
 *   w_j = softmax over the row's negatives of s_j, sig_j = sigmoid(s_pos - s_j),
 *   loss_n = -log(sum_j w_j sig_j) + reg * sum_j w_j s_j^2.
 * Gradients: with P = sum_j w_j sig_j and Q = sum_j w_j s_j^2,
 *   dloss/ds_pos = -sum_j w_j sig_j (1 - sig_j) / P,
 *   dloss/ds_j = -w_j (sig_j^2 - P) / P + reg w_j (s_j^2 - Q + 2 s_j).
 * A negative equal to the row's target is left out (accidental hit). Adds gscale-scaled gradients into dh[N,D]
 * and dW[I,D] (either may be NULL) like the losses of nn.h; returns the summed loss. Deterministic: products in
 * fixed blocks, item gradients scattered in a fixed order (negatives in j order, targets by owner thread).
 * Float math with the vectorisable crec__nn_expf. scratch: 2*S*D + 3*N*S + N*D + 2*N floats. ---- */
static double bprmax_loss(float *dh, float *dW, float *scratch, const float *h, const float *W, const int32_t *pos,
                          const int32_t *neg, int N, int D, int S, float reg, float gscale) {
    if (N <= 0 || S <= 0) return 0;
    float *L = scratch;                 /* [N, S] scores, then gscale * dloss/ds */
    float *Ew = L + (size_t)N * S;      /* [N, S] softmax weights w */
    float *Sg = Ew + (size_t)N * S;     /* [N, S] sig_j */
    float *Wn = Sg + (size_t)N * S;     /* [S, D] gathered negatives */
    float *dWn = Wn + (size_t)S * D;    /* [S, D] */
    float *hp = dWn + (size_t)S * D;    /* [N, D] dpos[n] * h[n] */
    float *dpos = hp + (size_t)N * D;   /* [N] gscale * dloss/ds_pos */
    float *rowloss = dpos + N;          /* [N] */
    for (int j = 0; j < S; j++) memcpy(Wn + (size_t)j * D, W + (size_t)neg[j] * D, (size_t)D * sizeof *Wn);
    crec__nn_gemm(0, 1, N, S, D, 1.0f, h, D, Wn, D, 0.0f, L, S);
#pragma omp parallel for schedule(static) if ((size_t)N * S > 16384)
    for (int n = 0; n < N; n++) {
        float *l = L + (size_t)n * S, *e = Ew + (size_t)n * S, *sg = Sg + (size_t)n * S;
        int32_t p = pos[n];
        float sp = 0, mx = -FLT_MAX;
        int nv = 0;
        if (p >= 0) {
            const float *hn = h + (size_t)n * D, *wp = W + (size_t)p * D;
            for (int d = 0; d < D; d++) sp += hn[d] * wp[d];
            for (int j = 0; j < S; j++)
                if (neg[j] != p) mx = l[j] > mx ? l[j] : mx, nv++;
        }
        if (nv == 0) { /* no target, or every negative is the target */
            for (int j = 0; j < S; j++) l[j] = 0;
            dpos[n] = rowloss[n] = 0;
            continue;
        }
        float sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < S; j++) {
            float ex = crec__nn_expf(l[j] - mx);
            e[j] = neg[j] != p ? ex : 0.0f;
            sg[j] = 1.0f / (1.0f + crec__nn_expf(l[j] - sp));
            sum += e[j];
        }
        float inv = 1.0f / sum, P = 0, Q = 0, dsp = 0;
#pragma omp simd reduction(+ : P, Q)
        for (int j = 0; j < S; j++) {
            e[j] *= inv;
            P += e[j] * sg[j];
            Q += e[j] * l[j] * l[j];
        }
        float Pe = P + 1e-24f, iP = 1.0f / Pe;
        rowloss[n] = -logf(Pe) + reg * Q;
#pragma omp simd reduction(+ : dsp)
        for (int j = 0; j < S; j++) {
            float w = e[j], sj = l[j], g = sg[j];
            dsp -= w * g * (1 - g) * iP;
            l[j] = gscale * (-w * (g * g - P) * iP + reg * w * (sj * sj - Q + 2 * sj));
        }
        dpos[n] = gscale * dsp;
    }
    if (dh) {
        crec__nn_gemm(0, 0, N, D, S, 1.0f, L, S, Wn, D, 1.0f, dh, D);
        for (int n = 0; n < N; n++)
            if (pos[n] >= 0) {
                const float *wp = W + (size_t)pos[n] * D;
                float *o = dh + (size_t)n * D;
                for (int d = 0; d < D; d++) o[d] += dpos[n] * wp[d];
            }
    }
    if (dW) {
        crec__nn_gemm(1, 0, S, D, N, 1.0f, L, S, h, D, 0.0f, dWn, D);
        for (int j = 0; j < S; j++) { /* in j order */
            float *o = dW + (size_t)neg[j] * D;
            const float *src = dWn + (size_t)j * D;
            for (int d = 0; d < D; d++) o[d] += src[d];
        }
        for (int n = 0; n < N; n++)
            for (int d = 0; d < D; d++) hp[(size_t)n * D + d] = dpos[n] * h[(size_t)n * D + d];
        crec__nn_embedding_backward(dW, hp, pos, N, D, 1.0f); /* rows owned by threads: deterministic */
    }
    double loss = 0;
    for (int n = 0; n < N; n++) loss += rowloss[n];
    return loss;
}

/* ---- batches ---- */

static int32_t row_len(const crec_csr *x, int32_t u) { return (int32_t)(x->ptr[u + 1] - x->ptr[u]); }

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Packs nb >= 1 sequences: sequence i's inputs are seq[i][0 .. len[i]) (len[i] >= 1), its targets seq[i][1 ..
 * len[i]] when with_tgt (else -1). Sorted by length, longest first, ties in list order. */
static void batch_make(g4_batch *bt, const int32_t *const *seq, const int32_t *len, int nb, int with_tgt) {
    for (int i = 0; i < nb; i++) bt->key[i] = ((int64_t)(INT32_MAX - len[i]) << 32) | (int64_t)i;
    qsort(bt->key, (size_t)nb, sizeof *bt->key, cmp_i64);
    for (int k = 0; k < nb; k++) {
        bt->src[k] = (int32_t)(bt->key[k] & 0xffffffff);
        bt->len[k] = len[bt->src[k]];
    }
    int T = bt->len[0], k = nb;
    bt->off[0] = 0;
    for (int t = 0; t < T; t++) {
        while (k > 0 && bt->len[k - 1] <= t) k--;
        bt->bs[t] = k;
        bt->off[t + 1] = bt->off[t] + k;
    }
    for (int q = 0; q < nb; q++) {
        const int32_t *it = seq[bt->src[q]];
        for (int t = 0; t < bt->len[q]; t++) {
            int32_t r = bt->off[t] + q;
            bt->ids[r] = it[t];
            bt->tgt[r] = with_tgt ? it[t + 1] : -1;
        }
        bt->last[q] = bt->off[bt->len[q] - 1] + q;
    }
    bt->pk.B = nb, bt->pk.T = T, bt->pk.N = bt->off[T];
    bt->pk.bs = bt->bs, bt->pk.off = bt->off;
}

/* Training batch of users[0..nb) (each with >= 2 training items): each one's last T + 1 training items. */
static void batch_train(const gru4rec *s, const crec_csr *x, const int32_t *users, int nb, g4_batch *bt,
                        const int32_t **seq, int32_t *len) {
    for (int b = 0; b < nb; b++) {
        int32_t n = row_len(x, users[b]), w = n < s->T + 1 ? n : s->T + 1;
        seq[b] = x->idx + x->ptr[users[b]] + (n - w);
        len[b] = w - 1;
    }
    batch_make(bt, seq, len, nb, 1);
}

static void batch_free(g4_batch *bt) {
    free(bt->bs), free(bt->off), free(bt->ids), free(bt->tgt), free(bt->len), free(bt->src), free(bt->last);
    free(bt->key);
    memset(bt, 0, sizeof *bt);
}

static int batch_alloc(g4_batch *bt, int Bmax, int Tmax, int Nmax) {
    memset(bt, 0, sizeof *bt);
    bt->bs = malloc(((size_t)Tmax + 1) * sizeof *bt->bs);
    bt->off = malloc(((size_t)Tmax + 2) * sizeof *bt->off);
    bt->ids = malloc(((size_t)Nmax + 1) * sizeof *bt->ids);
    bt->tgt = malloc(((size_t)Nmax + 1) * sizeof *bt->tgt);
    bt->len = malloc(((size_t)Bmax + 1) * sizeof *bt->len);
    bt->src = malloc(((size_t)Bmax + 1) * sizeof *bt->src);
    bt->last = malloc(((size_t)Bmax + 1) * sizeof *bt->last);
    bt->key = malloc(((size_t)Bmax + 1) * sizeof *bt->key);
    if (!bt->bs || !bt->off || !bt->ids || !bt->tgt || !bt->len || !bt->src || !bt->last || !bt->key) {
        batch_free(bt);
        return CREC_ENOMEM;
    }
    return 0;
}

static int cmp_desc_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x < y) - (x > y);
}

/* Largest N over any batch of nb sequences with these lengths (each capped at T): the nb longest. */
static int worst_batch(const int32_t *lens, int32_t n, int nb, int T) {
    int32_t *c = malloc(((size_t)n + 1) * sizeof *c);
    int64_t N = 0;
    if (c) {
        for (int32_t i = 0; i < n; i++) c[i] = lens[i] < T ? lens[i] : T;
        qsort(c, (size_t)n, sizeof *c, cmp_desc_i32);
        for (int32_t i = 0; i < n && i < nb; i++) N += c[i];
        free(c);
    } else
        N = (int64_t)nb * T;
    return (int)(N > 0 ? N : 1);
}

/* ---- scoring ---- */

/* One history's scores over all items: the last state against W (one matrix-vector product); an empty history
 * gets the items' training counts. Allocates its own activations, so concurrent calls are safe; returns 0 or
 * CREC_ENOMEM. */
static int score_hist(const gru4rec *s, const int32_t *hist, int32_t n, float *scores) {
    if (n <= 0) {
        memcpy(scores, s->pop, (size_t)s->NI * sizeof *scores);
        return 0;
    }
    int32_t Tb = n < s->T ? n : s->T;
    size_t nf = acts_layout(s, Tb, NULL, NULL);
    float *base = malloc(nf * sizeof *base);
    g4_batch bt;
    int rc = batch_alloc(&bt, 1, Tb, Tb);
    if (rc || !base) {
        free(base);
        batch_free(&bt);
        return CREC_ENOMEM;
    }
    g4_acts a;
    acts_layout(s, Tb, base, &a);
    const int32_t *seq[1] = {hist + (n - Tb)};
    batch_make(&bt, seq, &Tb, 1, 0);
    forward(s, s->p.param, &a, &bt, 0);
    const float *h = ACT(&a, A_HD, s->L - 1, s->H) + (size_t)bt.last[0] * s->H;
    crec__nn_matvec(scores, out_table(s, s->p.param), h, s->NI, s->H);
    free(base);
    batch_free(&bt);
    return 0;
}

static int gru4rec_score(const crec_model *m, const crec_context *ctx, float *scores) {
    return score_hist(m->state, ctx->hist, ctx->n_hist, scores);
}

/* ---- validation (seqvalid.c): each history's last state, through the GRU in packed batches (sorted by length,
 * so row q of the states is the caller's history src[q]) ---- */

typedef struct g4_vctx {
    const gru4rec *s;
    float *abase; /* the training activation block, reused */
    g4_batch *bt; /* the training batch, reused */
} g4_vctx;

static void valid_states(void *ctx, const int32_t *const *hist, const int32_t *len, int k, float *hl, int32_t *order) {
    g4_vctx *c = ctx;
    const gru4rec *s = c->s;
    g4_batch *bt = c->bt;
    int H = s->H;
    batch_make(bt, hist, len, k, 0);
    g4_acts a;
    acts_layout(s, bt->pk.N, c->abase, &a);
    forward(s, s->p.param, &a, bt, 0);
    const float *hf = ACT(&a, A_HD, s->L - 1, H);
    for (int q = 0; q < k; q++) {
        memcpy(hl + (size_t)q * H, hf + (size_t)bt->last[q] * H, (size_t)H * sizeof(float));
        order[q] = bt->src[q];
    }
}

/* ---- training ---- */

static void init_params(gru4rec *s, crec_rng *r) {
    float *blk = s->p.param;
    /* embeddings / output table: normal, Xavier std; GRU matrices: uniform +-1/sqrt(H) (PyTorch's GRU), biases 0 */
    struct {
        int k;
        double std;
    } w[] = {{P_EMB, sqrt(2.0 / (s->NI + s->E))}, {P_OUT, sqrt(2.0 / (s->NI + s->H))}};
    for (size_t i = 0; i < 2; i++) {
        float *t = PRM(s, blk, w[i].k);
        for (size_t j = 0; j < s->p.size[w[i].k]; j++) t[j] = (float)(w[i].std * crec__rng_normal(r));
    }
    int mats[] = {P_WIH, P_WHH};
    double a = 1.0 / sqrt((double)s->H);
    for (int i = 0; i < 2; i++) {
        float *t = PRM(s, blk, mats[i]);
        for (size_t j = 0; j < s->p.size[mats[i]]; j++) t[j] = (float)(a * (2 * crec__rng_uniform(r) - 1));
    }
}

/* Weight decay applies to matrices and embeddings, not to biases. */
static int decays(int k) { return k == P_EMB || k == P_OUT || k == P_WIH || k == P_WHH; }

typedef struct g4_hp {
    int loss, neg, sched, batch, epochs, patience, warmup;
    double lr, wd, beta2, clip, alpha, bpreg;
    int32_t valid_users;
} g4_hp;

/* Architecture from m's hyper-parameters into s (I from m); CREC_EINVAL when out of range. */
static int arch_from(const crec_model *m, gru4rec *s) {
    memset(s, 0, sizeof *s);
    s->H = (int)crec_model_param_int(m, "dim");
    s->E = (int)crec_model_param_int(m, "emb");
    s->L = (int)crec_model_param_int(m, "layers");
    s->tied = (int)crec_model_param_int(m, "tied");
    s->T = (int)crec_model_param_int(m, "max_len");
    s->drop_emb = (float)crec_model_param_double(m, "dropout_emb");
    s->drop_hid = (float)crec_model_param_double(m, "dropout_hidden");
    s->NI = m->n_items;
    if (s->E == 0) s->E = s->H;
    if (s->H < 1 || s->H > 4096 || s->E < 1 || s->E > 4096 || s->L < 1 || s->L > 8 || (s->tied != 0 && s->tied != 1) ||
        (s->tied && s->E != s->H) || s->T < 1 || s->T > 4096 || !(s->drop_emb >= 0 && s->drop_emb < 1) ||
        !(s->drop_hid >= 0 && s->drop_hid < 1) || s->NI < 1)
        return CREC_EINVAL;
    return 0;
}

static int hp_from(const crec_model *m, g4_hp *h) {
    memset(h, 0, sizeof *h);
    const char *loss = crec_model_param_str(m, "loss");
    h->loss = strcmp(loss, "ce") == 0       ? LOSS_CE
              : strcmp(loss, "ssm") == 0    ? LOSS_SSM
              : strcmp(loss, "bprmax") == 0 ? LOSS_BPRMAX
              : strcmp(loss, "bce") == 0    ? LOSS_BCE
                                            : -1;
    h->neg = (int)crec_model_param_int(m, "neg");
    if (h->neg == 0) h->neg = h->loss == LOSS_BCE ? 1 : 256;
    h->sched = crec__nn_sched_parse(crec_model_param_str(m, "schedule"));
    h->batch = (int)crec_model_param_int(m, "batch");
    h->epochs = (int)crec_model_param_int(m, "epochs");
    h->patience = (int)crec_model_param_int(m, "patience");
    h->warmup = (int)crec_model_param_int(m, "warmup");
    h->lr = crec_model_param_double(m, "lr");
    h->wd = crec_model_param_double(m, "wd");
    h->beta2 = crec_model_param_double(m, "beta2");
    h->clip = crec_model_param_double(m, "clip");
    h->alpha = crec_model_param_double(m, "alpha");
    h->bpreg = crec_model_param_double(m, "bpreg");
    h->valid_users = (int32_t)crec_model_param_int(m, "valid_users");
    if (h->loss < 0 || h->neg < 1 || h->neg > 65536 || h->sched < 0 || h->batch < 1 || h->batch > 1024 ||
        h->epochs < 0 || h->patience < 0 || h->warmup < 0 || !(h->lr > 0) || !(h->wd >= 0) ||
        !(h->beta2 > 0 && h->beta2 < 1) || !(h->clip >= 0) || !(h->alpha >= 0 && h->alpha <= 2) ||
        !(h->bpreg >= 0) || h->valid_users < 0)
        return CREC_EINVAL;
    return 0;
}

/* Negatives with probability ~ (count + 1)^alpha (cumulative table, binary search; uniform when alpha = 0). */
typedef struct g4_sampler {
    int32_t NI;
    double *cdf; /* [I], NULL when uniform */
    float *logq; /* [I] log(S * Q(j)) */
} g4_sampler;

static int32_t sample_item(const g4_sampler *sp, crec_rng *r) {
    if (!sp->cdf) return (int32_t)crec__rng_below(r, (uint64_t)sp->NI);
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
typedef struct g4_train {
    g4_batch bt;
    float *abase, *gbase, *scratch, *best;
    int32_t *users, *neg, *lens, *len;
    const int32_t **seq;
    float *lqp, *lqn;
    uint8_t *mark;
    crec_seqvalid v;
    g4_sampler sp;
} g4_train;

static void train_free(g4_train *t) {
    batch_free(&t->bt);
    free(t->abase), free(t->gbase), free(t->scratch), free(t->best), free(t->users), free(t->neg), free(t->lens);
    free(t->len), free((void *)t->seq);
    free(t->lqp), free(t->lqn), free(t->mark), free(t->sp.cdf), free(t->sp.logq);
    crec__seqvalid_free(&t->v);
}

static void gru4rec_free(crec_model *m) {
    gru4rec *s = m->state;
    if (s) {
        crec__nn_params_free(&s->p);
        free(s->pop);
    }
    free(s);
    m->state = NULL;
}

/* Draws the loss's negatives for batch bt (users[0..nb) in the caller's order) into tr->neg (and log-Q terms). */
static void draw_negatives(g4_train *tr, const g4_hp *hp, const crec_csr *x, const int32_t *users, int nb,
                           crec_rng *rng) {
    g4_batch *bt = &tr->bt;
    if (hp->loss == LOSS_SSM || hp->loss == LOSS_BPRMAX) { /* hp->neg shared by the batch */
        for (int j = 0; j < hp->neg; j++) {
            tr->neg[j] = sample_item(&tr->sp, rng);
            tr->lqn[j] = tr->sp.logq[tr->neg[j]];
        }
        for (int n = 0; n < bt->pk.N; n++) tr->lqp[n] = tr->sp.logq[bt->tgt[n]];
        return;
    }
    /* bce: per position, hp->neg negatives not in the user's training row */
    for (int q = 0; q < nb; q++) {
        int32_t u = users[bt->src[q]];
        const int32_t *row = x->idx + x->ptr[u];
        int32_t rl = row_len(x, u);
        for (int32_t i = 0; i < rl; i++) tr->mark[row[i]] = 1;
        for (int t = 0; t < bt->len[q]; t++) {
            int32_t n = bt->off[t] + q;
            for (int k = 0; k < hp->neg; k++) {
                int32_t j, tries = 0;
                do j = sample_item(&tr->sp, rng);
                while (tr->mark[j] && ++tries < 64);
                tr->neg[(size_t)n * hp->neg + k] = j;
            }
        }
        for (int32_t i = 0; i < rl; i++) tr->mark[row[i]] = 0;
    }
}

/* The loss of the batch's final states hf[N,H]; adds gs-scaled gradients into dh and the output table's
 * gradient dW (either may be NULL). */
static double batch_loss(const gru4rec *s, const g4_hp *hp, g4_train *tr, float *dh, float *dW, const float *hf,
                         const float *W, int ce_rb, int ce_ic, float gs) {
    const g4_batch *bt = &tr->bt;
    int N = bt->pk.N, H = s->H;
    if (hp->loss == LOSS_CE)
        return crec__nn_softmax_ce_loss(dh, dW, tr->scratch, hf, W, bt->tgt, N, H, s->NI, ce_rb, ce_ic, gs);
    if (hp->loss == LOSS_SSM)
        return crec__nn_sampled_softmax_loss(dh, dW, tr->scratch, hf, W, bt->tgt, tr->neg, tr->lqp, tr->lqn, N, H,
                                             hp->neg, gs);
    if (hp->loss == LOSS_BPRMAX)
        return bprmax_loss(dh, dW, tr->scratch, hf, W, bt->tgt, tr->neg, N, H, hp->neg, (float)hp->bpreg, gs);
    return crec__nn_bce_loss(dh, dW, tr->scratch, hf, W, bt->tgt, tr->neg, N, H, hp->neg, 1.0, gs);
}

static int gru4rec_train(crec_model *m, const crec_train_input *in) {
    gru4rec *s = calloc(1, sizeof *s);
    g4_hp hp;
    g4_train tr;
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
    int H = s->H;
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
    int Bmax = hp.batch;
    tr.users = malloc(((size_t)U + 1) * sizeof *tr.users);
    tr.lens = malloc(((size_t)U + 1) * sizeof *tr.lens);
    tr.len = malloc(((size_t)Bmax + 1) * sizeof *tr.len);
    tr.seq = malloc(((size_t)Bmax + 1) * sizeof *tr.seq);
    if (!tr.users || !tr.lens || !tr.len || !tr.seq) {
        rc = CREC_ENOMEM;
        goto done;
    }
    int32_t nu = 0;
    for (int32_t u = 0; u < U; u++) {
        tr.lens[u] = row_len(x, u);
        if (tr.lens[u] >= 2) tr.users[nu++] = u;
    }
    int Nmax = worst_batch(tr.lens, U, Bmax, s->T);
    size_t af = acts_layout(s, Nmax, NULL, NULL);
    tr.abase = crec__aligned_alloc(af * sizeof(float));
    tr.gbase = crec__aligned_alloc(af * sizeof(float));
    /* loss scratch: ce = row blocks x item chunks within 16M floats (as sasrec); ssm N*S + 2*S*H + 2N; bprmax
     * 2*S*H + 3*N*S + N*H + 2N; bce 2N(K+1) */
    size_t ce_budget = (size_t)16 << 20;
    int ce_rb = (int)(ce_budget / (size_t)NI), ce_ic = NI;
    if (ce_rb > 1024) ce_rb = 1024;
    if (ce_rb < 256) ce_rb = 256, ce_ic = (int)(ce_budget / 256) < NI ? (int)(ce_budget / 256) : NI;
    size_t S = (size_t)hp.neg, scr = (size_t)ce_rb * ce_ic + 2 * ce_rb;
    if (hp.loss == LOSS_SSM) scr = (size_t)Nmax * S + 2 * S * H + 2 * (size_t)Nmax;
    if (hp.loss == LOSS_BPRMAX) scr = 2 * S * H + 3 * (size_t)Nmax * S + (size_t)Nmax * H + 2 * (size_t)Nmax;
    if (hp.loss == LOSS_BCE) scr = 2 * (size_t)Nmax * (S + 1);
    tr.scratch = crec__aligned_alloc(scr * sizeof(float));
    tr.best = crec__aligned_alloc(s->p.total * sizeof(float));
    tr.neg = malloc(((size_t)Nmax * S + 1) * sizeof *tr.neg);
    tr.mark = calloc((size_t)NI, 1);
    tr.lqp = malloc(((size_t)Nmax + 1) * sizeof *tr.lqp);
    tr.lqn = malloc((S + 1) * sizeof *tr.lqn);
    tr.sp.NI = NI;
    tr.sp.logq = malloc((size_t)NI * sizeof *tr.sp.logq);
    if (hp.alpha > 0) tr.sp.cdf = malloc((size_t)NI * sizeof *tr.sp.cdf);
    rc = batch_alloc(&tr.bt, Bmax, s->T, Nmax);
    if (!rc && (!tr.abase || !tr.gbase || !tr.scratch || !tr.best || !tr.neg || !tr.mark || !tr.lqp || !tr.lqn ||
                !tr.sp.logq || (hp.alpha > 0 && !tr.sp.cdf)))
        rc = CREC_ENOMEM;
    if (!rc) {
        double c = 0;
        for (int32_t j = 0; j < NI; j++) {
            c += pow(s->pop[j] + 1.0, hp.alpha);
            if (tr.sp.cdf) tr.sp.cdf[j] = c;
        }
        for (int32_t j = 0; j < NI; j++) tr.sp.logq[j] = (float)log(S * pow(s->pop[j] + 1.0, hp.alpha) / c);
    }
    int do_valid = in->valid && crec_csr_nnz(in->valid) > 0;
    if (!rc && do_valid) {
        rc = crec__seqvalid_init(&tr.v, in->valid, hp.valid_users, Bmax, s->NI, s->H, nt);
        if (!rc && tr.v.n_users == 0) do_valid = 0;
    }
    if (rc) goto done;

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
        crec__progress_start(&pg, "gru4rec epoch", nu, in->verbose && crec__progress_wanted());
        for (int32_t b0 = 0; b0 < nu; b0 += Bmax, step++) {
            int nb = nu - b0 < Bmax ? nu - b0 : Bmax;
            g4_batch *bt = &tr.bt;
            batch_train(s, x, tr.users + b0, nb, bt, tr.seq, tr.len);
            int N = bt->pk.N;
            g4_acts a, g;
            acts_layout(s, N, tr.abase, &a);
            size_t used = acts_layout(s, N, tr.gbase, &g);
            uint64_t seed = crec__nn_hash(in->seed ^ 0x6A6Aull, (uint64_t)step) | 1; /* != 0: dropout on */
            forward(s, s->p.param, &a, bt, seed);
            memset(tr.gbase, 0, used * sizeof(float));
            memset(s->p.grad, 0, s->p.total * sizeof(float));
            if (hp.loss != LOSS_CE) draw_negatives(&tr, &hp, x, tr.users + b0, nb, &rng);
            double l = batch_loss(s, &hp, &tr, ACT(&g, A_HD, s->L - 1, H), out_table(s, s->p.grad),
                                  ACT(&a, A_HD, s->L - 1, H), out_table(s, s->p.param), ce_rb, ce_ic, 1.0f / (float)N);
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
                crec__log("gru4rec epoch %d  loss %.4f  %.2fs\n", ep, tok_sum ? loss_sum / tok_sum : 0, secs);
            continue;
        }
        double t1 = crec__now();
        g4_vctx vc = {s, tr.abase, &tr.bt};
        double nd = crec__seqvalid_run(&tr.v, x, in->valid, s->T, out_table(s, s->p.param), s->pop, valid_states, &vc);
        if (in->verbose)
            crec__log("gru4rec epoch %d  loss %.4f  valid NDCG@10 %.4f%s  train %.2fs  valid %.2fs\n", ep,
                      tok_sum ? loss_sum / tok_sum : 0, nd, nd > best ? " *" : "", secs, crec__now() - t1);
        if (nd > best) {
            best = nd, best_epoch = ep, since = 0;
            memcpy(tr.best, s->p.param, s->p.total * sizeof(float));
        } else if (hp.patience > 0 && ++since >= hp.patience)
            break;
    }
    if (do_valid && best >= 0) {
        memcpy(s->p.param, tr.best, s->p.total * sizeof(float));
        if (in->verbose) crec__log("gru4rec: best validation NDCG@10 %.4f at epoch %d\n", best, best_epoch);
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

/* ---- a whole-model gradient check (tests/unit/test_gru4rec.c) ---- */

/* Mean loss of tr's batch under s's parameters (fixed dropout masks dseed, 0 = none); with grad, also the
 * gradients in s->p.grad. */
static double gc_loss(gru4rec *s, const g4_hp *hp, g4_train *tr, int grad, uint64_t dseed) {
    g4_batch *bt = &tr->bt;
    int N = bt->pk.N, H = s->H;
    g4_acts a, g;
    acts_layout(s, N, tr->abase, &a);
    size_t used = acts_layout(s, N, tr->gbase, &g);
    forward(s, s->p.param, &a, bt, dseed);
    float gs = 1.0f / (float)N;
    const float *hf = ACT(&a, A_HD, s->L - 1, H), *W = out_table(s, s->p.param);
    if (!grad) return batch_loss(s, hp, tr, NULL, NULL, hf, W, N, s->NI, gs) / N;
    memset(tr->gbase, 0, used * sizeof(float));
    memset(s->p.grad, 0, s->p.total * sizeof(float));
    double l = batch_loss(s, hp, tr, ACT(&g, A_HD, s->L - 1, H), out_table(s, s->p.grad), hf, W, N, s->NI, gs);
    backward(s, s->p.param, s->p.grad, &a, &g, bt, dseed);
    return l / N;
}

int crec__gru4rec_gradcheck(int layers, int tied, int loss, float dropout, uint64_t seed, double *worst, int *checked) {
    gru4rec s = {.E = tied ? 8 : 6, .H = 8, .L = layers, .T = 6, .tied = tied, .NI = 13,
                 .drop_emb = dropout, .drop_hid = dropout};
    g4_hp hp = {.loss = loss == 1 ? LOSS_BPRMAX : loss == 2 ? LOSS_SSM : loss == 3 ? LOSS_BCE : LOSS_CE,
                .neg = 5,
                .bpreg = 0.5};
    uint64_t dseed = dropout > 0 ? seed | 1 : 0; /* one fixed set of dropout masks: the loss stays differentiable */
    size_t psz[P_COUNT];
    param_sizes(&s, psz);
    int rc = crec__nn_params_alloc(&s.p, psz, P_COUNT, 1);
    if (rc) return rc;
    crec_rng r;
    crec__rng_seed(&r, seed);
    for (size_t i = 0; i < s.p.total; i++) s.p.param[i] = (float)(0.5 * crec__rng_normal(&r));
    /* three users' histories of different lengths, one longer than T (its window is the last T + 1 items):
     * sorted lengths 6, 2, 1, so the active prefix shrinks 3, 2, 1, 1, 1, 1 */
    int32_t idx[] = {1, 5, 2, 7, 3, 4, 9, 12, 0, 11, 6, 2, 8, 10, 1, 3};
    int64_t ptr[] = {0, 3, 5, 16};
    crec_csr x = {.n_rows = 3, .n_cols = 13, .ptr = ptr, .idx = idx};
    int32_t users[] = {0, 1, 2};
    int Nmax = 3 * s.T;
    g4_train tr;
    memset(&tr, 0, sizeof tr);
    size_t af = acts_layout(&s, Nmax, NULL, NULL);
    tr.abase = crec__aligned_alloc(af * sizeof(float));
    tr.gbase = crec__aligned_alloc(af * sizeof(float));
    tr.scratch = crec__aligned_alloc(((size_t)Nmax * s.NI + 2 * (size_t)hp.neg * s.H + (size_t)Nmax * s.H +
                                      3 * (size_t)Nmax * (hp.neg + 1) + 3 * (size_t)Nmax) *
                                     sizeof(float));
    tr.best = crec__aligned_alloc(s.p.total * sizeof(float)); /* the analytic gradient */
    tr.len = malloc(3 * sizeof *tr.len);
    tr.seq = malloc(3 * sizeof *tr.seq);
    tr.neg = malloc((size_t)Nmax * hp.neg * sizeof *tr.neg);
    tr.lqn = malloc((size_t)hp.neg * sizeof *tr.lqn);
    tr.lqp = malloc((size_t)Nmax * sizeof *tr.lqp);
    rc = batch_alloc(&tr.bt, 3, s.T, Nmax);
    if (!rc && (!tr.abase || !tr.gbase || !tr.scratch || !tr.best || !tr.len || !tr.seq || !tr.neg || !tr.lqn ||
                !tr.lqp))
        rc = CREC_ENOMEM;
    if (!rc) {
        batch_train(&s, &x, users, 3, &tr.bt, tr.seq, tr.len);
        int32_t negs[] = {2, 5, 9, 0, 11}; /* 2, 5, 0 and 11 are also targets: accidental hits */
        for (int j = 0; j < hp.neg; j++) tr.neg[j] = negs[j], tr.lqn[j] = (float)(-1.0 - 0.3 * j);
        for (int n = 0; n < tr.bt.pk.N; n++) tr.lqp[n] = (float)(-0.5 - 0.1 * tr.bt.tgt[n]);
        if (hp.loss == LOSS_BCE) /* per row: 5 negatives */
            for (int q = 0; q < tr.bt.pk.N * hp.neg; q++) tr.neg[q] = (int32_t)crec__rng_below(&r, (uint64_t)s.NI);
        gc_loss(&s, &hp, &tr, 1, dseed);
        memcpy(tr.best, s.p.grad, s.p.total * sizeof(float));
        double w = 0;
        int n = 0;
        const float eps = 1e-2f;
        for (int k = 0; k < P_COUNT; k++)
            for (int c = 0; c < 12 && (size_t)c < s.p.size[k]; c++) {
                size_t i = s.p.off[k] + crec__rng_below(&r, s.p.size[k]);
                float p0 = s.p.param[i];
                s.p.param[i] = p0 + eps;
                double lp = gc_loss(&s, &hp, &tr, 0, dseed);
                s.p.param[i] = p0 - eps;
                double lm = gc_loss(&s, &hp, &tr, 0, dseed);
                s.p.param[i] = p0;
                double num = (lp - lm) / (2.0 * eps), e = fabs(tr.best[i] - num) / fmax(fabs(num), 0.05);
                if (e > w) w = e;
                n++;
            }
        *worst = w;
        *checked = n;
    }
    train_free(&tr);
    crec__nn_params_free(&s.p);
    return rc;
}

/* ---- checkpoints: the architecture (checked against the hyper-parameters on load), popularity, parameters ---- */

static int gru4rec_save(const crec_model *m, crec_buf *out) {
    const gru4rec *s = m->state;
    uint32_t hdr[6] = {(uint32_t)s->E, (uint32_t)s->H,    (uint32_t)s->L,
                       (uint32_t)s->T, (uint32_t)s->tied, (uint32_t)s->NI};
    int rc = 0;
    for (int i = 0; !rc && i < 6; i++) rc = crec__put_u32(out, hdr[i]);
    if (!rc) rc = crec_buf_write(out, s->pop, (size_t)s->NI * sizeof *s->pop);
    if (!rc) rc = crec__nn_params_save(&s->p, out);
    return rc;
}

static int gru4rec_load(crec_model *m, crec_buf *in) {
    gru4rec *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    int rc = arch_from(m, s) ? CREC_EFORMAT : 0;
    uint32_t hdr[6];
    for (int i = 0; !rc && i < 6; i++) rc = crec__get_u32(in, &hdr[i]);
    if (!rc && (hdr[0] != (uint32_t)s->E || hdr[1] != (uint32_t)s->H || hdr[2] != (uint32_t)s->L ||
                hdr[3] != (uint32_t)s->T || hdr[4] != (uint32_t)s->tied || hdr[5] != (uint32_t)s->NI))
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

const crec_model_type crec__model_gru4rec = {
    .name = "gru4rec",
    .summary = "GRU4Rec: GRU layers over the last max_len items (ce / ssm / bprmax / bce losses)",
    .params = GRU4REC_PARAMS,
    .train = gru4rec_train,
    .score = gru4rec_score,
    .save = gru4rec_save,
    .load = gru4rec_load,
    .free_state = gru4rec_free,
};
