/* gru4rec.c: GRU4Rec (Hidasi et al. 2016; "Recurrent Neural Networks with Top-k Gains", Hidasi & Karatzoglou
 * 2018), a recurrent next-item model, on the neural core (src/nn: the GRU layer, the loss heads and samplers) and
 * the sequence trainer (seqtrain.c: packed batches, the training loop, validation, scoring).
 *
 * Model: x = dropout(E[item]); `layers` GRU layers, each followed by dropout on its states; the last layer's state
 * h scores the catalog, s_j = h . W[j], where W is the item table E itself (tied, the default: GRU4Rec's
 * "constrained embedding") or a separate output table.
 * Training: each user's training row (time ordered, its last max_len + 1 items) predicts the next item at every
 * position (the trainer's stock next-item objective), with full softmax cross-entropy over the catalog (ce),
 * sampled softmax with log-Q correction (ssm), BPR-max (bprmax, with its score regularisation) or BCE (bce); the
 * sampled losses draw negatives with probability proportional to (training count + 1)^alpha. AdamW, optional
 * warm-up + decay, gradient clipping; early stopping on validation NDCG@10 (full ranking, history excluded), the
 * best parameters kept in memory.
 * Scoring: the GRU over the last max_len items of ctx->hist from a zero state (ctx->user is not read, so an
 * anonymous history scores exactly as the same user's history), the last state, one matrix-vector product
 * against W; an empty history scores by training popularity.
 *
 * The one idea: packed sequences (nn.h crec_nn_pack). The network asks the trainer for time-major batches, sorted
 * by length, so at step t the running sequences are a prefix of bs[t] rows: the input-to-hidden products of every
 * position are one matrix product, the hidden-to-hidden product runs per step on bs[t] rows only, and no work is
 * spent on padding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"
#include "models/gru4rec.h"
#include "models/params.h"
#include "models/seqtrain.h"
#include "nn/nn.h"

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
    CREC_P_CE_PRECISION,
    CREC_P_INT("neg", "0", 0, 65536, "negatives: shared per batch for ssm / bprmax (0 = 256), per position for bce (0 = 1)"),
    CREC_P_FLOAT("alpha", "0.5", 0, 2, "negatives drawn with probability ~ (count + 1)^alpha (0 = uniform)"),
    CREC_P_FLOAT("bpreg", "1", 0, 1e6, "BPR-max score regularisation lambda"),
    CREC_P_ADAMW("0.01"),
    CREC_P_EARLY_STOP("40", "5", "0"),
    CREC_P_END,
};


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
static void forward(const gru4rec *s, const float *blk_c, g4_acts *a, const crec_seq_batch *bt, uint64_t seed) {
    float *blk = (float *)blk_c; /* read only here */
    int N = bt->N, E = s->E, H = s->H;
    float pe = seed ? s->drop_emb : 0, ph = seed ? s->drop_hid : 0;
    crec__nn_embedding_forward(a->t[A_X0], bt->ids, PRM(s, blk, P_EMB), N, E, 1.0f, 0);
    if (pe > 0) crec__nn_dropout_forward(a->t[A_X0], a->t[A_X0], (size_t)N * E, pe, crec__nn_seed(seed, 0, 0));
    const float *x = a->t[A_X0];
    int C = E;
    for (int l = 0; l < s->L; l++) {
        float *hl = ACT(a, A_H, l, H), *hd = ACT(a, A_HD, l, H);
        crec__nn_gru_forward(hl, ACT(a, A_CACHE, l, 3 * H), ACT(a, A_GX, l, 3 * H), ACT(a, A_GH, l, 3 * H),
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
                     const crec_seq_batch *bt, uint64_t seed) {
    float *blk = (float *)blk_c;
    int N = bt->N, E = s->E, H = s->H;
    float pe = seed ? s->drop_emb : 0, ph = seed ? s->drop_hid : 0;
    for (int l = s->L - 1; l >= 0; l--) {
        float *dhl = ACT(g, A_H, l, H);
        drop_back(dhl, ACT(g, A_HD, l, H), (size_t)N * H, ph, crec__nn_seed(seed, (uint64_t)l + 1, 1));
        const float *x = l == 0 ? a->t[A_X0] : ACT(a, A_HD, l - 1, H);
        float *dx = l == 0 ? g->t[A_X0] : ACT(g, A_HD, l - 1, H);
        crec__nn_gru_backward(dx, NULL, PRM(s, gblk, P_WIH) + wih_off(s, l),
                              PRM(s, gblk, P_BIH) + (size_t)l * 3 * H, PRM(s, gblk, P_WHH) + (size_t)l * 3 * H * H,
                              PRM(s, gblk, P_BHH) + (size_t)l * 3 * H, dhl, ACT(g, A_GX, l, 3 * H),
                              ACT(g, A_GH, l, 3 * H), x, ACT(a, A_CACHE, l, 3 * H), ACT(a, A_GH, l, 3 * H),
                              ACT(a, A_HPREV, l, H), PRM(s, blk, P_WIH) + wih_off(s, l),
                              PRM(s, blk, P_WHH) + (size_t)l * 3 * H * H, &bt->pk, l == 0 ? E : H, H);
    }
    float *tmp = g->t[A_TMP];
    memset(tmp, 0, (size_t)N * E * sizeof *tmp);
    drop_back(tmp, g->t[A_X0], (size_t)N * E, pe, crec__nn_seed(seed, 0, 0));
    crec__nn_embedding_backward(PRM(s, gblk, P_EMB), tmp, bt->ids, N, E, 1.0f);
}

/* ---- initialisation, architecture, hyper-parameters ---- */

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

static void state_free(gru4rec *s) {
    if (!s) return;
    crec__nn_params_free(&s->p);
    free(s->pop);
    free(s);
}

static void gru4rec_free(crec_model *m) {
    state_free(m->state);
    m->state = NULL;
}

/* GRU4Rec's loss head from its hyper-parameters: the loss, its negatives drawn ~ (count + 1)^alpha (the sampled
 * softmax always log-Q corrected), BPR-max's regularisation. */
static int head_from(const crec_model *m, crec_nn_head_cfg *c) {
    memset(c, 0, sizeof *c);
    const char *loss = crec_model_param_str(m, "loss");
    c->loss = strcmp(loss, "ce") == 0       ? CREC_NN_LOSS_CE
              : strcmp(loss, "ssm") == 0    ? CREC_NN_LOSS_SSM
              : strcmp(loss, "bprmax") == 0 ? CREC_NN_LOSS_BPRMAX
              : strcmp(loss, "bce") == 0    ? CREC_NN_LOSS_BCE
                                            : -1;
    c->neg = (int)crec_model_param_int(m, "neg");
    if (c->neg == 0) c->neg = c->loss == CREC_NN_LOSS_BCE ? 1 : 256;
    c->alpha = crec_model_param_double(m, "alpha");
    c->bpreg = crec_model_param_double(m, "bpreg");
    c->logq = 1;
    c->bf16 = crec__param_ce_bf16(m);
    if (c->loss < 0 || c->neg < 1 || c->neg > 65536 || !(c->alpha >= 0 && c->alpha <= 2) || !(c->bpreg >= 0))
        return CREC_EINVAL;
    return 0;
}

/* ---- the network of the sequence trainer (seqtrain.h) ---- */

static void net_init(void *ctx, crec_rng *r) { init_params(ctx, r); }

static size_t net_acts_floats(const void *ctx, int N, int64_t A) {
    (void)A;
    return acts_layout(ctx, N, NULL, NULL);
}

static const float *net_forward(const void *ctx, const crec_seq_batch *bt, float *abase, float *gbase, uint64_t seed,
                                float **dh) {
    const gru4rec *s = ctx;
    g4_acts a;
    acts_layout(s, bt->N, abase, &a);
    forward(s, s->p.param, &a, bt, seed);
    if (gbase) {
        g4_acts g;
        size_t used = acts_layout(s, bt->N, gbase, &g);
        memset(gbase, 0, used * sizeof(float));
        *dh = ACT(&g, A_HD, s->L - 1, s->H);
    }
    return ACT(&a, A_HD, s->L - 1, s->H);
}

static void net_backward(const void *ctx, const crec_seq_batch *bt, const float *abase, float *gbase, uint64_t seed) {
    const gru4rec *s = ctx;
    g4_acts a, g;
    acts_layout(s, bt->N, (float *)abase, &a);
    acts_layout(s, bt->N, gbase, &g);
    backward(s, s->p.param, s->p.grad, &a, &g, bt, seed);
}

static float *net_out_table(const void *ctx, float *blk) { return out_table(ctx, blk); }

/* s as the trainer's network: time-major batches, no attention, the last layer's states against W. */
static crec_seqtrain_net gru_net(gru4rec *s) {
    uint64_t decay = 0;
    for (int k = 0; k < P_COUNT; k++) decay |= (uint64_t)decays(k) << k;
    crec_seqtrain_net net = {.name = "gru4rec",
                             .ctx = s,
                             .p = &s->p,
                             .NI = s->NI,
                             .D = s->H,
                             .T = s->T,
                             .mask = -1,
                             .heads = 0,
                             .time_major = 1,
                             .salt = 0x6A6Aull,
                             .decay = decay,
                             .init = net_init,
                             .acts_floats = net_acts_floats,
                             .forward = net_forward,
                             .backward = net_backward,
                             .out_table = net_out_table};
    return net;
}

static int gru4rec_score(const crec_model *m, const crec_context *ctx, float *scores) {
    gru4rec *s = m->state;
    crec_seqtrain_net net = gru_net(s);
    return crec__seqtrain_score(&net, s->pop, ctx->hist, ctx->n_hist, scores);
}

static int gru4rec_train(crec_model *m, const crec_train_input *in) {
    gru4rec *s = calloc(1, sizeof *s);
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
        crec_seqtrain_net net = gru_net(s);
        rc = crec__seqtrain_run_next(&net, &hc, &hp, in, s->pop);
    }
    if (rc) {
        state_free(s);
        return rc;
    }
    m->state = s;
    return 0;
}

/* ---- a whole-model gradient check (tests/unit/test_gru4rec.c) ---- */


int crec__gru4rec_gradcheck(int layers, int tied, int loss, float dropout, uint64_t seed, double *worst, int *checked) {
    gru4rec s = {.E = tied ? 8 : 6, .H = 8, .L = layers, .T = 6, .tied = tied, .NI = 13,
                 .drop_emb = dropout, .drop_hid = dropout};
    static const int kind[] = {CREC_NN_LOSS_CE, CREC_NN_LOSS_BPRMAX, CREC_NN_LOSS_SSM, CREC_NN_LOSS_BCE};
    crec_nn_head_cfg hc = {.loss = kind[loss >= 0 && loss < 4 ? loss : 0], .neg = 5, .bpreg = 0.5};
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
    crec_seqtrain_net net = gru_net(&s);
    crec_seqtrain_next o;
    memset(&o, 0, sizeof o);
    crec_seqtrain_obj obj = crec__seqtrain_next_obj(&o); /* its windows only */
    crec_nn_head hd;
    crec_seq_batch bt;
    memset(&bt, 0, sizeof bt);
    rc = crec__nn_head_init(&hd, &hc, s.NI, s.H, Nmax, NULL);
    if (!rc) rc = crec__seqtrain_batch_alloc(&bt, 3, Nmax, s.T);
    if (!rc && hc.loss == CREC_NN_LOSS_SSM) { /* log-Q terms, given: the head draws none here */
        hd.lqp = malloc((size_t)Nmax * sizeof *hd.lqp);
        hd.lqn = malloc((size_t)hc.neg * sizeof *hd.lqn);
        if (!hd.lqp || !hd.lqn) rc = CREC_ENOMEM;
    }
    if (!rc) {
        crec__seqtrain_batch_train(&bt, &net, &obj, &x, users, 3, &r);
        int32_t negs[] = {2, 5, 9, 0, 11}; /* 2, 5, 0 and 11 are also targets: accidental hits */
        if (crec__nn_head_per_row(&hd)) /* per row: 5 negatives */
            for (int q = 0; q < bt.N * hc.neg; q++) hd.neg[q] = (int32_t)crec__rng_below(&r, (uint64_t)s.NI);
        else if (hc.loss != CREC_NN_LOSS_CE)
            for (int j = 0; j < hc.neg; j++) hd.neg[j] = negs[j];
        if (hd.lqp) {
            for (int j = 0; j < hc.neg; j++) hd.lqn[j] = (float)(-1.0 - 0.3 * j);
            for (int n = 0; n < bt.N; n++) hd.lqp[n] = (float)(-0.5 - 0.1 * bt.tgt[n]);
        }
        rc = crec__seqtrain_gradcheck(&net, &bt, crec__seqtrain_head_loss, &hd, dseed, -1, 0, 0, &r, worst, checked);
    }
    crec__nn_head_free(&hd);
    crec__seqtrain_batch_free(&bt);
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

/* A tied output table is the input embedding: emb must be dim (or 0 = dim). */
static int gru4rec_check(const crec_model *m, char *err, size_t errn) {
    int64_t emb = crec_model_param_int(m, "emb"), dim = crec_model_param_int(m, "dim");
    if (crec_model_param_int(m, "tied") && emb != 0 && emb != dim) {
        crec__errf(err, errn, "model 'gru4rec': 'emb' (%lld) must equal 'dim' (%lld) when 'tied' = 1 (or set emb=0)",
                   (long long)emb, (long long)dim);
        return CREC_EINVAL;
    }
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
    .caps = CREC_CAP_SEQUENCE,
    .check = gru4rec_check,
};
