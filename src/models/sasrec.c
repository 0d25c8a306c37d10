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
 * the losses of src/nn. Options around them, here: cosine scores (cos, temp: final state and item rows
 * L2-normalised, as HSTU), label smoothing of the CE (ls), and a refit on training + validation events for the
 * epoch count validation chose (refit, refit_epochs; a protocol variant, reported apart). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crec/dist.h"
#include "models/attrfuse.h"
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
    CREC_P_CE_PRECISION,
    CREC_P_INT("neg", "0", 0, 65536, "negatives: per position for bce/gbce (0 = 1 / 128), shared per batch for ssm (0 = 256)"),
    CREC_P_ENUM("sampler", "uniform", "uniform|pop", "ssm negatives: uniform, or pop (by training count, log-Q corrected)"),
    CREC_P_FLOAT("gbce_t", "0.75", 0, 1, "gBCE calibration t in [0, 1]"),
    CREC_P_BOOL("cos", "0",
                "1: cosine scores s_j = cos(h, E[j]) / temp, the final state and the item rows L2-normalised (as "
                "HSTU's reference and gSASRec-style models do); 0: dot product h . E[j] (the paper)"),
    CREC_P_FLOAT("temp", "0.05", 1e-4, 100, "temperature of the cosine scores (cos=1; HSTU's reference: 0.05)"),
    CREC_P_FLOAT("ls", "0", 0, 0.99,
                 "label smoothing of the full-softmax CE (loss=ce): (1 - ls) CE + ls CE(uniform over the catalog) "
                 "(Szegedy et al. 2016)"),
    CREC_P_BOOL("attr", "0",
                "1: item attributes as side information while training: an item's row (input and output) is its own "
                "embedding plus the mean of its attributes' embeddings, learned jointly (feature fusion); the saved "
                "model keeps the fused rows, so it scores as a plain sasrec. Needs a dataset with item attributes"),
    CREC_P_BOOL("refit", "0",
                "1: after early stopping, retrain from scratch (same seed) on the training and validation events for "
                "the epoch count validation chose - a standard protocol variant (report it apart: validation is then "
                "no longer held out, so never choose settings with it)"),
    CREC_P_INT("refit_epochs", "0", 0, 100000,
               "with refit=1: skip the validated run and refit for this many epochs - the best epoch an earlier run of "
               "the same settings and seed logged (0 = find it here, by early stopping)"),
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
    c->bf16 = crec__param_ce_bf16(m);
    if (c->loss < 0 || c->neg < 1 || c->neg > 65536 || (!pop && strcmp(smp, "uniform") != 0) ||
        !(c->gbce_t >= 0 && c->gbce_t <= 1))
        return CREC_EINVAL;
    c->logq = c->loss == CREC_NN_LOSS_SSM && pop;
    c->alpha = c->logq ? 1.0 : 0.0;
    return 0;
}

/* ---- the cosine head (cos=1) and label smoothing (ls > 0), around the encoder and the stock loss head ----
 *
 * cos: s_j = (h / |h|) . (E[j] / |E[j]|) / temp. The encoder's final states are normalised and divided by temp in
 * the network's forward (their rows live after the encoder's activations); the normalised item table wn [I, D] is
 * the trainer's output table, recomputed from E before each forward while training (one forward at a time), and
 * its gradient dwn goes back through the normalisation into E in the backward, which then clears it. The loss
 * head itself (src/nn) is unchanged. After training (and on load) wn is computed once from the kept parameters.
 *
 * ls: label smoothing of the full-softmax CE, (1 - ls) CE + ls CE_uniform = CE + ls (z_y - mean_j z_j) with
 * z_j = h . W[j]: the extra term is linear in the logits, so it is added beside the stock head without the
 * softmax (gradient ls (onehot(y) - 1/I) on the logits). */
typedef struct sasrec_state {
    crec_seqenc s; /* first: the seqenc hooks (save, score without cos) read m->state as a crec_seqenc */
    crec_seqtrain_net enc; /* the encoder as the trainer's network (crec__seqenc_net) */
    int cos, training;
    float temp;
    double ls;
    float *wn, *dwn, *enrm; /* cos: [I, D] normalised table, its gradient (training), [I] row norms of E */
    double *wbar, *hsum;    /* ls: [D] scratch */
    int attr;               /* attr=1 while training: s.NA attribute rows after the items in P_EMB */
    crec_attrfuse af;       /* item -> attributes */
    float *fused;           /* [I, D] E[i] + mean of F[a] over i's attributes: the item table while training */
} sasrec_state;

static void state_free(sasrec_state *st) {
    if (!st) return;
    crec__seqenc_free(&st->s);
    free(st->wn), free(st->dwn), free(st->enrm), free(st->wbar), free(st->hsum);
    crec__attrfuse_free(&st->af), free(st->fused);
    free(st);
}

/* ---- attribute fusion (attr=1): E'[i] = E[i] + (1 / n_i) sum_{a in attrs(i)} F[a], F the rows of P_EMB after
 * the I items. E' is the item table of the input lookups (seqenc reads s.emb) and of the output layer, rebuilt
 * before each forward while training; the backward's gradient of E' (in P_EMB's item rows, where the lookups and
 * the loss put it) is E's gradient as it stands, and each attribute row gets the mean's share of it. After
 * training E' is folded into E and the attribute rows dropped, so the checkpoint is a plain sasrec. ---- */

static void fuse_table(sasrec_state *st) {
    const crec_seqenc *s = &st->s;
    const float *E = crec__nn_tensor(&s->p, s->p.param, SE_P_EMB);
    crec__attrfuse_rows(&st->af, st->fused, E, E + (size_t)s->NI * s->D, NULL, s->D);
}

static void fuse_back(const sasrec_state *st) {
    const crec_seqenc *s = &st->s;
    float *dE = crec__nn_tensor(&s->p, s->p.grad, SE_P_EMB);
    crec__attrfuse_back(&st->af, dE, dE + (size_t)s->NI * s->D, NULL, s->D);
}

/* The item table the model reads now: the fused one while training with attributes, else E. */
static const float *item_table(const sasrec_state *st) {
    return st->attr ? st->fused : crec__nn_tensor(&st->s.p, st->s.p.param, SE_P_EMB);
}

static void refresh_table(sasrec_state *st) {
    const crec_seqenc *s = &st->s;
    crec__nn_cos_rows(st->wn, st->enrm, item_table(st), s->NI, s->D, 1.0f);
}

static size_t pad16(size_t n) { return (n + 15) & ~(size_t)15; }

static void wrap_init(void *ctx, crec_rng *r) {
    sasrec_state *st = ctx;
    st->enc.init(st->enc.ctx, r);
}

static size_t wrap_acts_floats(const void *ctx, int N, int64_t A) {
    const sasrec_state *st = ctx;
    return st->enc.acts_floats(st->enc.ctx, N, A) + (st->cos ? pad16((size_t)N * st->s.D) + pad16((size_t)N) : 0);
}

static const float *wrap_forward(const void *ctx, const crec_seq_batch *bt, float *abase, float *gbase,
                                 uint64_t seed, float **dh) {
    sasrec_state *st = (sasrec_state *)ctx;
    if (st->training && st->attr) fuse_table(st); /* training and validation run one forward at a time */
    if (!st->cos) return st->enc.forward(st->enc.ctx, bt, abase, gbase, seed, dh);
    if (st->training) refresh_table(st);
    int N = bt->N, D = st->s.D;
    float *dhi = NULL;
    const float *hf = st->enc.forward(st->enc.ctx, bt, abase, gbase, seed, gbase ? &dhi : NULL);
    size_t off = st->enc.acts_floats(st->enc.ctx, N, bt->att_off[bt->B]);
    float *hn = abase + off, *nrm = hn + pad16((size_t)N * D);
    crec__nn_cos_rows(hn, nrm, hf, N, D, 1.0f / st->temp);
    if (gbase) {
        memset(gbase + off, 0, (size_t)N * D * sizeof(float));
        *dh = gbase + off;
    }
    return hn;
}

static void wrap_backward(const void *ctx, const crec_seq_batch *bt, const float *abase, float *gbase,
                          uint64_t seed) {
    const sasrec_state *st = ctx;
    const crec_seqenc *s = &st->s;
    if (!st->cos) {
        st->enc.backward(st->enc.ctx, bt, abase, gbase, seed);
        if (st->attr) fuse_back(st);
        return;
    }
    int N = bt->N, D = s->D;
    int64_t A = bt->att_off[bt->B];
    size_t off = st->enc.acts_floats(st->enc.ctx, N, A);
    const float *hn = abase + off, *nrm = hn + pad16((size_t)N * D);
    crec_seqenc_acts g;
    crec__seqenc_acts_layout(s, N, A, gbase, &g);
    crec__nn_cos_rows_back(g.t[SE_A_HF], gbase + off, hn, nrm, N, D, 1.0f / st->temp, 0);
    /* the normalised table's gradient into E, cleared for the next step */
    crec__nn_cos_rows_back(crec__nn_tensor(&st->s.p, st->s.p.grad, SE_P_EMB), st->dwn, st->wn, st->enrm, s->NI, D, 1.0f, 1);
    st->enc.backward(st->enc.ctx, bt, abase, gbase, seed);
    if (st->attr) fuse_back(st);
}

static float *wrap_out_table(const void *ctx, float *blk) {
    const sasrec_state *st = ctx;
    if (st->cos) return blk == st->s.p.param ? st->wn : st->dwn;
    return blk == st->s.p.param ? st->fused : st->enc.out_table(st->enc.ctx, blk);
}

/* The trainer's network: the encoder itself, or the encoder wrapped by the cosine head and / or the attribute
 * fusion. */
static crec_seqtrain_net sasrec_net(sasrec_state *st) {
    st->enc = crec__seqenc_net(&st->s, "sasrec");
    if (!st->cos && !st->attr) return st->enc;
    crec_seqtrain_net net = st->enc;
    net.ctx = st;
    net.init = wrap_init;
    net.acts_floats = wrap_acts_floats;
    net.forward = wrap_forward;
    net.backward = wrap_backward;
    net.out_table = wrap_out_table;
    return net;
}

/* The label-smoothing term over the rows with a target: ls sum_n (h_n . W[y_n] - h_n . mean_j W[j]); adds g times
 * its gradients into dh and dW (either may be NULL). wbar, hsum: [D] scratch. */
static double ls_term(double ls, const float *h, const float *W, const int32_t *tgt, int N, int D, int32_t I, float g,
                      float *dh, float *dW, double *wbar, double *hsum) {
    for (int d = 0; d < D; d++) wbar[d] = 0, hsum[d] = 0;
    for (int32_t j = 0; j < I; j++)
        for (int d = 0; d < D; d++) wbar[d] += W[(size_t)j * D + d];
    for (int d = 0; d < D; d++) wbar[d] /= I;
    double l = 0;
    float k = (float)(g * ls);
    for (int n = 0; n < N; n++) {
        if (tgt[n] < 0) continue;
        const float *hn = h + (size_t)n * D, *wy = W + (size_t)tgt[n] * D;
        for (int d = 0; d < D; d++) {
            l += (double)hn[d] * (wy[d] - wbar[d]);
            hsum[d] += hn[d];
            if (dh) dh[(size_t)n * D + d] += k * (wy[d] - (float)wbar[d]);
            if (dW) dW[(size_t)tgt[n] * D + d] += k * hn[d];
        }
    }
    if (dW)
        for (int32_t j = 0; j < I; j++)
            for (int d = 0; d < D; d++) dW[(size_t)j * D + d] -= (float)(k * hsum[d] / I);
    return ls * l;
}

/* The stock objective with the label-smoothing term added to its loss. */
typedef struct ls_obj {
    crec_seqtrain_obj base;
    sasrec_state *st;
} ls_obj;

static int ls_prepare(void *ctx, const crec_seqtrain_net *net, const crec_csr *train, const float *pop, int Nmax) {
    ls_obj *o = ctx;
    return o->base.prepare ? o->base.prepare(o->base.ctx, net, train, pop, Nmax) : 0;
}
static int32_t ls_window(void *ctx, const crec_seqtrain_net *net, int32_t n) {
    ls_obj *o = ctx;
    return o->base.window(o->base.ctx, net, n);
}
static void ls_fill(void *ctx, const crec_seqtrain_net *net, const crec_csr *train, int32_t u, crec_seq_batch *bt,
                    int q, crec_rng *rng) {
    ls_obj *o = ctx;
    o->base.fill(o->base.ctx, net, train, u, bt, q, rng);
}
static double ls_loss(void *ctx, const crec_seqtrain_net *net, const crec_seq_batch *bt, const float *h, float *dh,
                      const float *W, float *dW, const crec_csr *train, const int32_t *users, crec_rng *rng,
                      int64_t *rows) {
    ls_obj *o = ctx;
    double l = o->base.loss(o->base.ctx, net, bt, h, dh, W, dW, train, users, rng, rows);
    /* the stock loss averages over the batch's N rows (gradient scale 1 / N, summed loss) */
    return l + ls_term(o->st->ls, h, W, bt->tgt, bt->N, net->D, net->NI, 1.0f / (float)bt->N, dh, dW, o->st->wbar,
                       o->st->hsum);
}

/* cos, temp, ls from m into st, and their buffers (cos: wn, enrm, and dwn when train; ls: scratch). */
static int cos_from(const crec_model *m, sasrec_state *st, int train) {
    st->cos = crec_model_param_int(m, "cos") != 0;
    st->temp = (float)crec_model_param_double(m, "temp");
    st->ls = crec_model_param_double(m, "ls");
    if (!(st->temp > 0) || !(st->ls >= 0 && st->ls < 1) ||
        (st->ls > 0 && strcmp(crec_model_param_str(m, "loss"), "ce") != 0))
        return CREC_EINVAL;
    size_t ID = (size_t)st->s.NI * st->s.D;
    if (st->cos) {
        st->wn = crec__aligned_alloc(ID * sizeof(float));
        st->enrm = malloc((size_t)st->s.NI * sizeof(float));
        if (train) st->dwn = crec__aligned_alloc(ID * sizeof(float));
        if (!st->wn || !st->enrm || (train && !st->dwn)) return CREC_ENOMEM;
        if (train) memset(st->dwn, 0, ID * sizeof(float));
    }
    if (train && st->ls > 0) {
        st->wbar = malloc((size_t)st->s.D * sizeof(double));
        st->hsum = malloc((size_t)st->s.D * sizeof(double));
        if (!st->wbar || !st->hsum) return CREC_ENOMEM;
    }
    return 0;
}

/* attr=1: the item -> attribute index of in->ds (pairs of items < I; duplicates count once per pair) and the
 * number of attribute rows, before the parameters are allocated. */
static int attr_from(const crec_model *m, const crec_train_input *in, sasrec_state *st) {
    st->attr = crec_model_param_int(m, "attr") != 0;
    if (!st->attr) return 0;
    if (crec_dist_size() > 1) {
        crec__log("sasrec: attr=1 trains on one rank only (the fused table is outside the parameter block)\n");
        return CREC_EINVAL;
    }
    int rc = crec__attrfuse_init(&st->af, in->ds, st->s.NI, "sasrec");
    if (rc) return rc;
    st->fused = crec__aligned_alloc((size_t)st->s.NI * st->s.D * sizeof(float));
    if (!st->fused) return CREC_ENOMEM;
    st->s.NA = st->af.NA;
    st->s.emb = st->fused;
    return 0;
}

/* After training with attr=1: E = E' (the fused rows of the kept parameters), the attribute rows dropped (a
 * parameter block of a plain sasrec, without train state). 0 or CREC_ENOMEM. */
static int attr_fold(sasrec_state *st) {
    crec_seqenc *s = &st->s;
    fuse_table(st);
    crec_seqenc t = *s;
    t.NA = 0, t.emb = NULL;
    memset(&t.p, 0, sizeof t.p);
    int rc = crec__seqenc_alloc(&t, 0);
    if (rc) return rc;
    for (int k = 0; k < s->p.n; k++) {
        const float *src = k == SE_P_EMB ? st->fused : crec__nn_tensor(&s->p, s->p.param, k);
        memcpy(crec__nn_tensor(&t.p, t.p.param, k), src, t.p.size[k] * sizeof(float));
    }
    crec__nn_params_free(&s->p);
    s->p = t.p;
    s->NA = 0, s->emb = NULL, st->attr = 0;
    free(st->fused), crec__attrfuse_free(&st->af);
    st->fused = NULL;
    return 0;
}

/* One training run of st (parameters freshly allocated, zeroed) on the stock next-item objective with head hc, the
 * label-smoothing term when ls > 0, through the cosine head when cos. */
static int train_once(sasrec_state *st, const crec_nn_head_cfg *hc, const crec_seqtrain_hp *hp,
                      const crec_train_input *in) {
    crec_seqtrain_net net = sasrec_net(st);
    crec_seqtrain_next o;
    memset(&o, 0, sizeof o);
    o.cfg = *hc;
    crec_seqtrain_obj obj = crec__seqtrain_next_obj(&o);
    ls_obj lo = {obj, st};
    crec_seqtrain_obj lso = {.ctx = &lo, .prepare = ls_prepare, .window = ls_window, .fill = ls_fill, .loss = ls_loss};
    st->training = 1;
    int rc = crec__seqtrain_run(&net, st->ls > 0 ? &lso : &obj, hp, in, st->s.pop);
    st->training = 0;
    crec__seqtrain_next_free(&o);
    return rc;
}

/* Train + validation rows per user, merged in time order (by ts when both have it; else validation after
 * training, as in loo and temporal splits). */
static int merge_rows(const crec_csr *a, const crec_csr *b, crec_csr *out) {
    memset(out, 0, sizeof *out);
    int32_t U = a->n_rows;
    int64_t nnz = crec_csr_nnz(a) + crec_csr_nnz(b); /* b's rows >= U (none in a split) are not read */
    int with_ts = a->ts && b->ts;
    out->n_rows = U, out->n_cols = a->n_cols;
    out->ptr = malloc(((size_t)U + 1) * sizeof *out->ptr);
    out->idx = malloc(((size_t)nnz + 1) * sizeof *out->idx);
    if (with_ts) out->ts = malloc(((size_t)nnz + 1) * sizeof *out->ts);
    if (!out->ptr || !out->idx || (with_ts && !out->ts)) {
        crec_csr_free(out);
        return CREC_ENOMEM;
    }
    int64_t k = 0;
    out->ptr[0] = 0;
    for (int32_t u = 0; u < U; u++) {
        int inb = u < b->n_rows;
        int64_t i = a->ptr[u], ie = a->ptr[u + 1], j = inb ? b->ptr[u] : 0, je = inb ? b->ptr[u + 1] : 0;
        while (i < ie || j < je) {
            int from_a = j >= je || (i < ie && (!with_ts || a->ts[i] <= b->ts[j]));
            if (with_ts) out->ts[k] = from_a ? a->ts[i] : b->ts[j];
            out->idx[k++] = from_a ? a->idx[i++] : b->idx[j++];
        }
        out->ptr[u + 1] = k;
    }
    return 0;
}

/* The encoder (causal, no mask token) trained by the sequence trainer (train_once); with refit, once more from
 * scratch on training + validation events for the epoch count validation chose. */
static int sasrec_train(crec_model *m, const crec_train_input *in) {
    sasrec_state *st = calloc(1, sizeof *st);
    if (!st) return CREC_ENOMEM;
    crec_seqenc *s = &st->s;
    crec_nn_head_cfg hc;
    crec_seqtrain_hp hp;
    int rc = crec__seqenc_arch(m, s, 1, 0);
    if (!rc) rc = head_from(m, &hc);
    if (!rc) rc = crec__seqtrain_hp(m, &hp);
    if (!rc) rc = attr_from(m, in, st);
    if (!rc) rc = crec__seqenc_alloc(s, 1);
    if (!rc && !(s->pop = calloc((size_t)s->NI, sizeof *s->pop))) rc = CREC_ENOMEM;
    if (!rc) rc = cos_from(m, st, 1);
    if (!rc && st->cos && crec_dist_size() > 1) {
        /* the trainer's row-wise all-reduce of the item table assumes the table inside the parameter block */
        crec__log("sasrec: cos=1 trains on one rank only (the normalised table is outside the parameter block)");
        rc = CREC_EINVAL;
    }
    int best = 0, refit = crec_model_param_int(m, "refit") != 0 && in->valid && crec_csr_nnz(in->valid) > 0;
    hp.best_epoch = &best;
    int given = refit ? (int)crec_model_param_int(m, "refit_epochs") : 0;
    if (given > 0)
        best = given;
    else if (!rc)
        rc = train_once(st, &hc, &hp, in);
    if (!rc && refit) {
        crec_csr tv;
        rc = merge_rows(in->train, in->valid, &tv);
        if (!rc) {
            if (in->verbose)
                crec__log("sasrec: refit on training + validation events for %d epochs (validation's choice)\n", best);
            if (given == 0) { /* fresh, zeroed parameters with train state, as for the first run */
                crec__nn_params_free(&s->p);
                rc = crec__seqenc_alloc(s, 1);
            }
            if (!rc) memset(s->pop, 0, (size_t)s->NI * sizeof *s->pop);
            crec_seqtrain_hp hp2 = hp;
            hp2.epochs = best > 0 ? best : 1, hp2.patience = 0, hp2.best_epoch = NULL;
            crec_train_input in2 = *in;
            in2.train = &tv, in2.valid = NULL;
            if (!rc) rc = train_once(st, &hc, &hp2, &in2);
            crec_csr_free(&tv);
        }
    }
    if (!rc && st->attr) rc = attr_fold(st);
    if (!rc && st->cos) refresh_table(st);
    free(st->dwn), free(st->wbar), free(st->hsum);
    st->dwn = NULL, st->wbar = st->hsum = NULL;
    if (rc) {
        state_free(st);
        return rc;
    }
    m->state = st;
    return 0;
}

static int sasrec_score(const crec_model *m, const crec_context *ctx, float *scores) {
    sasrec_state *st = m->state;
    if (!st->cos) return crec__seqenc_model_score(m, ctx, scores);
    crec_seqtrain_net net = sasrec_net(st);
    return crec__seqtrain_score(&net, st->s.pop, ctx->hist, ctx->n_hist, scores);
}

static void sasrec_free(crec_model *m) {
    state_free(m->state);
    m->state = NULL;
}

/* ---- the cosine head and label smoothing against a double-precision reference (tests/unit/test_sasrec_cos.c) */

int crec__sasrec_cos_head(const float *h, const float *E, const int32_t *tgt, int N, int D, int32_t I, float temp,
                          double ls, double *loss, float *dh, float *dE) {
    sasrec_state st;
    memset(&st, 0, sizeof st);
    st.s.NI = I, st.s.D = D, st.temp = temp, st.ls = ls, st.cos = 1;
    float *hn = malloc((size_t)N * D * sizeof(float)), *hnrm = malloc((size_t)N * sizeof(float));
    float *dhn = calloc((size_t)N * D, sizeof(float));
    st.wn = malloc((size_t)I * D * sizeof(float)), st.enrm = malloc((size_t)I * sizeof(float));
    st.dwn = calloc((size_t)I * D, sizeof(float));
    st.wbar = malloc((size_t)D * sizeof(double)), st.hsum = malloc((size_t)D * sizeof(double));
    crec_nn_head hd;
    crec_nn_head_cfg c = {.loss = CREC_NN_LOSS_CE};
    int rc = hn && hnrm && dhn && st.wn && st.enrm && st.dwn && st.wbar && st.hsum ? 0 : CREC_ENOMEM;
    if (!rc) rc = crec__nn_head_init(&hd, &c, I, D, N, NULL);
    if (!rc) {
        crec__nn_cos_rows(st.wn, st.enrm, E, I, D, 1.0f);
        crec__nn_cos_rows(hn, hnrm, h, N, D, 1.0f / temp);
        float g = 1.0f / (float)N;
        double l = crec__nn_head_loss(&hd, dhn, st.dwn, hn, st.wn, tgt, N, g);
        if (ls > 0) l += ls_term(ls, hn, st.wn, tgt, N, D, I, g, dhn, st.dwn, st.wbar, st.hsum);
        *loss = l / N;
        memset(dh, 0, (size_t)N * D * sizeof *dh);
        memset(dE, 0, (size_t)I * D * sizeof *dE);
        crec__nn_cos_rows_back(dh, dhn, hn, hnrm, N, D, 1.0f / temp, 1);
        crec__nn_cos_rows_back(dE, st.dwn, st.wn, st.enrm, I, D, 1.0f, 1);
        crec__nn_head_free(&hd);
    }
    free(hn), free(hnrm), free(dhn), free(st.wn), free(st.enrm), free(st.dwn), free(st.wbar), free(st.hsum);
    return rc;
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

/* The same through the cosine head (and the label-smoothing term when ls > 0): full-softmax CE on cos / temp. */
typedef struct gc_cos {
    crec_nn_head hd;
    sasrec_state *st;
} gc_cos;

static double gc_cos_loss(void *ctx, const crec_seq_batch *bt, const float *h, float *dh, const float *W, float *dW) {
    gc_cos *c = ctx;
    int N = bt->N;
    double l = crec__nn_head_loss(&c->hd, dh, dW, h, W, bt->tgt, N, 1.0f / (float)N);
    if (c->st->ls > 0)
        l += ls_term(c->st->ls, h, W, bt->tgt, N, c->st->s.D, c->st->s.NI, 1.0f / (float)N, dh, dW, c->st->wbar,
                     c->st->hsum);
    return l / N;
}

/* The whole-model check through the wrapped network: the cosine head when cos, the attribute fusion when attr
 * (5 attribute rows; items 0-9 carry 0-3 of them, 10-12 none; the first checked elements of P_EMB are pinned to
 * the attribute rows). */
static int wrapped_gradcheck(int cos, float temp, double ls, int attr, float dropout, uint64_t seed, double *worst,
                             int *checked) {
    sasrec_state *st = calloc(1, sizeof *st);
    if (!st) return CREC_ENOMEM;
    st->s = (crec_seqenc){.D = 8, .L = 2, .H = 2, .F = 12, .T = 6, .pre = 1, .act = CREC_NN_GELU, .causal = 1,
                          .NI = 13, .mask = -1, .drop = dropout};
    st->cos = cos, st->temp = temp, st->ls = ls, st->training = 1;
    size_t ID = (size_t)st->s.NI * st->s.D;
    uint64_t dseed = dropout > 0 ? seed | 1 : 0;
    int rc = 0;
    if (attr) {
        static const int64_t aptr[14] = {0, 1, 3, 6, 6, 7, 9, 10, 12, 15, 16, 16, 16, 16};
        static const int32_t aidx[16] = {0, 1, 2, 0, 3, 4, 2, 1, 4, 3, 0, 1, 2, 3, 4, 4};
        st->attr = 1, st->s.NA = 5;
        st->af.NI = st->s.NI, st->af.NA = 5;
        st->af.aptr = malloc(sizeof aptr), st->af.aidx = malloc(sizeof aidx);
        st->fused = crec__aligned_alloc(ID * sizeof(float));
        if (!st->af.aptr || !st->af.aidx || !st->fused) rc = CREC_ENOMEM;
        if (!rc) memcpy(st->af.aptr, aptr, sizeof aptr), memcpy(st->af.aidx, aidx, sizeof aidx), st->s.emb = st->fused;
    }
    if (!rc) rc = crec__seqenc_alloc(&st->s, 1);
    if (cos) {
        st->wn = crec__aligned_alloc(ID * sizeof(float));
        st->dwn = calloc(ID, sizeof(float));
        st->enrm = malloc((size_t)st->s.NI * sizeof(float));
        if (!rc && (!st->wn || !st->dwn || !st->enrm)) rc = CREC_ENOMEM;
    }
    st->wbar = malloc((size_t)st->s.D * sizeof(double));
    st->hsum = malloc((size_t)st->s.D * sizeof(double));
    if (!rc && (!st->wbar || !st->hsum)) rc = CREC_ENOMEM;
    gc_cos c = {.st = st};
    crec_nn_head_cfg hc = {.loss = CREC_NN_LOSS_CE};
    if (!rc) rc = crec__nn_head_init(&c.hd, &hc, st->s.NI, st->s.D, 3 * st->s.T, NULL);
    if (rc) {
        state_free(st);
        return rc;
    }
    crec_rng r;
    crec__rng_seed(&r, seed);
    for (size_t i = 0; i < st->s.p.total; i++) st->s.p.param[i] = (float)(0.5 * crec__rng_normal(&r));
    int32_t idx[] = {1, 5, 2, 7, 3, 4, 9, 12, 0, 11, 6, 2, 8, 10, 1, 3};
    int64_t ptr[] = {0, 3, 5, 16};
    crec_csr x = {.n_rows = 3, .n_cols = 13, .ptr = ptr, .idx = idx};
    int32_t users[] = {0, 1, 2};
    crec_seqtrain_net net = sasrec_net(st);
    crec_seqtrain_next o;
    memset(&o, 0, sizeof o);
    crec_seqtrain_obj obj = crec__seqtrain_next_obj(&o); /* its windows only */
    crec_seq_batch bt;
    rc = crec__seqtrain_batch_alloc(&bt, 3, 3 * st->s.T, st->s.T);
    if (!rc) {
        crec__seqtrain_batch_train(&bt, &net, &obj, &x, users, 3, &r);
        rc = crec__seqtrain_gradcheck(&net, &bt, gc_cos_loss, &c, dseed, attr ? SE_P_EMB : -1, ID,
                                      attr ? (size_t)st->s.NA * st->s.D : 0, &r, worst, checked);
    }
    crec__seqtrain_batch_free(&bt);
    crec__nn_head_free(&c.hd);
    state_free(st);
    return rc;
}

int crec__sasrec_cos_gradcheck(float temp, double ls, float dropout, uint64_t seed, double *worst, int *checked) {
    return wrapped_gradcheck(1, temp, ls, 0, dropout, seed, worst, checked);
}

int crec__sasrec_attr_gradcheck(int cos, float dropout, uint64_t seed, double *worst, int *checked) {
    return wrapped_gradcheck(cos, 0.5f, 0, 1, dropout, seed, worst, checked);
}

/* ---- checkpoints (seqenc.c): the architecture, checked against the hyper-parameters on load; popularity;
 * parameters ---- */

static int sasrec_save(const crec_model *m, crec_buf *out) {
    const sasrec_state *st = m->state;
    return crec__seqenc_save(&st->s, out);
}

/* The checkpoint is the encoder's (seqenc.c); with cos the normalised table is derived from E here. */
static int sasrec_load(crec_model *m, crec_buf *in) {
    crec_seqenc *s;
    int rc = crec__seqenc_load(m, in, 1, 0, &s);
    if (rc) return rc;
    sasrec_state *st = calloc(1, sizeof *st);
    if (!st) {
        crec__seqenc_free(s);
        free(s);
        return CREC_ENOMEM;
    }
    st->s = *s; /* moved: s's buffers now belong to st */
    free(s);
    rc = cos_from(m, st, 0);
    if (rc) {
        state_free(st);
        return rc == CREC_EINVAL ? CREC_EFORMAT : rc;
    }
    if (st->cos) refresh_table(st);
    m->state = st;
    return 0;
}

static int sasrec_check(const crec_model *m, char *err, size_t errn) {
    if (crec_model_param_double(m, "ls") > 0 && strcmp(crec_model_param_str(m, "loss"), "ce") != 0) {
        crec__errf(err, errn, "model 'sasrec': 'ls' (label smoothing) needs 'loss'=ce, not '%s'",
                   crec_model_param_str(m, "loss"));
        return CREC_EINVAL;
    }
    return crec__seqenc_check(m, 0, err, errn);
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
    .caps = CREC_CAP_SEQUENCE,
    .check = sasrec_check,
};
