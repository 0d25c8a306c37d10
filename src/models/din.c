/* din.c: the `din` and `dare` click models: target attention over the user's whole history, on the neural core
 * (nn/din.h: one example's forward and backward, float for training, double for the gradient checks).
 *
 *   din  (Zhou et al. 2018, "Deep Interest Network"): one item table; the candidate attends over the history with
 *        the activation unit MLP([q, k, q - k, q * k]) (one PReLU hidden layer of att_hidden units), the raw
 *        scores weight the history (no softmax), sum pooling;
 *   dare (Feng et al. 2024, "Long-Sequence Recommendation Models Need Decoupled Embeddings"): two item tables,
 *        attention embeddings for the scores and representation embeddings for what is pooled and for the target;
 *        the scores are the scaled dot product q . k / sqrt(att_dim), softmax-normalised (the authors' code,
 *        thuml/DARE model/attention_pytorch.py, attn_func=scaled_dot_product).
 * Both then score MLP([u, t, u * t]) -> logit (u the pooled interest, t the target's representation; the authors'
 * use_cross_feature), hidden layers with PReLU, trained with logloss by AdamW in mini-batches. `decoupled`,
 * `attention` and `softmax` are switches of the one model, so each of the two ideas can be tested alone (a shared
 * dot-product model is the paper's TWIN baseline). Reductions against the paper, named: item ids only (no
 * category or time embeddings), no auxiliary loss, no top-k hard search (every history item is attended, up to
 * max_len), no dropout (wd is the regulariser), and DIN's user-profile features reduced to an optional learned
 * per-user logit bias (user_bias=1; 0 for anonymous and new users).
 *
 * Data: the click task of a split. label=threshold (auto on rated data): every training event is an example,
 * positive when its value >= threshold, negative otherwise; label=sampled (auto on implicit data): every event is
 * a positive and `neg` items the user never touched are negatives. The history of an example is the user's
 * training events strictly earlier in time (ties in time are not history), the last max_len of them. Scoring a
 * request reads the last max_len items of its history. The best epoch by validation AUC (the split's validation
 * events, labelled the same way, history = the training events) is kept.
 *
 * The one idea: decoupling is a pointer. With decoupled=0 the attention and representation tables are one tensor
 * (gradients of both roles add into it); with decoupled=1 they are two, so `dim` = 2d shared against two tables
 * of d is the equal-parameter comparison. Training is deterministic at any thread count: a batch's examples go to
 * DIN_CHUNKS fixed chunks, each summed in order into its own gradient, the chunks added in order. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"
#include "crec/crec.h"
#include "models/din.h"
#include "nn/din.h"
#include "nn/nn.h"

#define DIN_CHUNKS 8
#define DIN_ITEM_BLOCK 64

#define DIN_PARAMS(decoupled, att, softmax)                                                                       \
    CREC_P_INT("dim", "16", 1, 1024, "representation embedding width (the one table's width when decoupled=0)"),  \
        CREC_P_INT("att_dim", "0", 0, 1024, "attention embedding width when decoupled=1 (0 = dim)"),              \
        CREC_P_BOOL("decoupled", decoupled,                                                                       \
                    "1: separate attention and representation item tables (DARE); 0: one shared table"),        \
        CREC_P_ENUM("attention", att, "mlp|dot",                                                                  \
                    "mlp: DIN's activation unit over [q, k, q-k, q*k]; dot: q.k / sqrt(att_dim)"),                \
        CREC_P_BOOL("softmax", softmax, "1: attention weights are a softmax over the history; 0: raw scores"),    \
        CREC_P_INT("att_hidden", "36", 1, 4096, "hidden units of the activation unit (attention=mlp)"),           \
        CREC_P_STR("mlp", "200,80", "hidden widths of the output MLP, comma-separated, up to 4 ('none': linear)"), \
        CREC_P_INT("max_len", "1000", 1, 100000, "last history items attended (training and scoring)"),           \
        CREC_P_BOOL("user_bias", "0",                                                                             \
                    "1: a learned bias per training user added to the logit (DIN's user profile, reduced to a "   \
                    "scalar; anonymous and new users get 0)"),                                                    \
        CREC_P_ENUM("label", "auto", "auto|threshold|sampled",                                                    \
                    "threshold: events with value >= threshold positive, others negative; sampled: every event "  \
                    "positive, neg unobserved items negative; auto: threshold on rated data"),                   \
        CREC_P_FLOAT("threshold", "4", -1e9, 1e9, "label=threshold: smallest positive value"),                    \
        CREC_P_INT("neg", "1", 1, 100, "label=sampled: negatives per positive"),                                  \
        CREC_P_INT("epochs", "5", 0, 100000, "maximum passes over the training events"),                          \
        CREC_P_INT("patience", "1", 0, 100000,                                                                    \
                   "stop after this many epochs without a better validation AUC (0 = never); best kept"),        \
        CREC_P_FLOAT("lr", "0.001", 1e-7, 10, "AdamW learning rate"),                                             \
        CREC_P_FLOAT("wd", "0", 0, 100, "AdamW decoupled weight decay (every parameter)"),                       \
        CREC_P_INT("batch", "256", 1, 65536, "examples per step"),                                                \
        CREC_P_FLOAT("init_std", "0.05", 0, 10, "std of the normal initialisation of the item tables"),           \
        CREC_P_END

static const crec_param_def DIN_P[] = {DIN_PARAMS("0", "mlp", "0")};
static const crec_param_def DARE_P[] = {DIN_PARAMS("1", "dot", "1")};

enum { T_EA = 0, T_ER, T_MLP, T_UB, T_COUNT };

typedef struct din_state {
    crec_din_arch a;
    int shared, L, ub;
    int32_t NI, NU;
    crec_nn_params p;
} din_state;

static const float *tab_a(const din_state *s, const float *blk) { return blk + s->p.off[T_EA]; }
static const float *tab_r(const din_state *s, const float *blk) {
    return blk + s->p.off[s->shared ? T_EA : T_ER];
}

/* "200,80" -> hid[], *nl; "none" -> 0 layers. 0 or CREC_EINVAL. */
static int parse_mlp(const char *v, int *hid, int *nl) {
    *nl = 0;
    if (!v || !strcmp(v, "none")) return 0;
    const char *p = v;
    while (*p) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 1 || x > 4096 || *nl >= CREC_DIN_MAX_LAYERS) return CREC_EINVAL;
        hid[(*nl)++] = (int)x;
        if (*end == ',') end++;
        else if (*end) return CREC_EINVAL;
        p = end;
    }
    return *nl ? 0 : CREC_EINVAL;
}

static int arch_from(const crec_model *m, din_state *s) {
    memset(&s->a, 0, sizeof s->a);
    int dim = (int)crec_model_param_int(m, "dim"), ad = (int)crec_model_param_int(m, "att_dim");
    s->shared = !crec_model_param_int(m, "decoupled");
    s->a.dr = dim;
    s->a.da = s->shared || ad == 0 ? dim : ad;
    s->a.att = strcmp(crec_model_param_str(m, "attention"), "dot") ? CREC_DIN_ATT_MLP : CREC_DIN_ATT_DOT;
    s->a.softmax = (int)crec_model_param_int(m, "softmax");
    s->a.A = (int)crec_model_param_int(m, "att_hidden");
    s->L = (int)crec_model_param_int(m, "max_len");
    s->ub = (int)crec_model_param_int(m, "user_bias");
    if (parse_mlp(crec_model_param_str(m, "mlp"), s->a.hid, &s->a.nl)) return CREC_EINVAL;
    return crec__din_arch_layout(&s->a);
}

static int din_check(const crec_model *m, char *err, size_t errn) {
    int hid[CREC_DIN_MAX_LAYERS], nl;
    const char *v = crec_model_param_str(m, "mlp");
    if (parse_mlp(v, hid, &nl)) {
        crec__errf(err, errn,
                   "model '%s': parameter 'mlp' = '%s': up to %d comma-separated widths in [1, 4096], or 'none'",
                   m->type->name, v ? v : "", CREC_DIN_MAX_LAYERS);
        return CREC_EINVAL;
    }
    if (!crec_model_param_int(m, "decoupled") && crec_model_param_int(m, "att_dim") != 0 &&
        crec_model_param_int(m, "att_dim") != crec_model_param_int(m, "dim")) {
        crec__errf(err, errn, "model '%s': 'att_dim' needs 'decoupled' = 1 (one shared table has one width 'dim')",
                   m->type->name);
        return CREC_EINVAL;
    }
    return 0;
}

static int alloc_params(din_state *s, int train) {
    size_t sz[T_COUNT] = {(size_t)s->NI * s->a.da, s->shared ? 0 : (size_t)s->NI * s->a.dr, s->a.n,
                          s->ub ? (size_t)s->NU : 0};
    return crec__nn_params_alloc(&s->p, sz, T_COUNT, train);
}

static void state_free(din_state *s) {
    if (!s) return;
    crec__nn_params_free(&s->p);
    free(s);
}

static void din_free(crec_model *m) {
    state_free(m->state);
    m->state = NULL;
}

/* Tables N(0, init_std); linear layers U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default), biases 0; PReLU
 * slopes 0.1 in the activation unit (the DARE authors' AttentionModel) and 0.25 in the output MLP (PyTorch's). */
static void init_params(din_state *s, crec_rng *r, double std) {
    float *P = s->p.param;
    for (int t = T_EA; t <= T_ER; t++) {
        float *e = P + s->p.off[t];
        for (size_t i = 0; i < s->p.size[t]; i++) e[i] = (float)(std * crec__rng_normal(r));
    }
    float *M = P + s->p.off[T_MLP];
    const crec_din_arch *a = &s->a;
    if (a->att == CREC_DIN_ATT_MLP) {
        double bw = 1 / sqrt(4.0 * a->da), b2 = 1 / sqrt((double)a->A);
        for (size_t i = 0; i < (size_t)a->A * 4 * a->da; i++) M[a->aw + i] = (float)(bw * (2 * crec__rng_uniform(r) - 1));
        for (int h = 0; h < a->A; h++) M[a->aw2 + h] = (float)(b2 * (2 * crec__rng_uniform(r) - 1));
        M[a->ap] = 0.1f;
    }
    int in = 3 * a->dr;
    for (int l = 0; l <= a->nl; l++) {
        int out = l < a->nl ? a->hid[l] : 1;
        double b = 1 / sqrt((double)in);
        for (size_t i = 0; i < (size_t)out * in; i++) M[a->mw[l] + i] = (float)(b * (2 * crec__rng_uniform(r) - 1));
        if (l < a->nl) M[a->mp[l]] = 0.25f;
        in = out;
    }
}

/* ---- one example in float: gather, forward (and backward with the scatter into the tables' gradients) ---- */

typedef struct din_buf {
    float *ws, *q, *tr, *K, *V, *dq, *dtr, *dK, *dV;
} din_buf;

static int buf_alloc(const din_state *s, din_buf *b) {
    int L = s->L, da = s->a.da, dr = s->a.dr;
    b->ws = malloc(crec__din_ws(&s->a, L) * sizeof(float));
    b->q = malloc((size_t)da * sizeof(float));
    b->dq = malloc((size_t)da * sizeof(float));
    b->tr = malloc((size_t)dr * sizeof(float));
    b->dtr = malloc((size_t)dr * sizeof(float));
    b->K = malloc((size_t)L * da * sizeof(float));
    b->dK = malloc((size_t)L * da * sizeof(float));
    b->V = malloc((size_t)L * dr * sizeof(float));
    b->dV = malloc((size_t)L * dr * sizeof(float));
    return b->ws && b->q && b->dq && b->tr && b->dtr && b->K && b->dK && b->V && b->dV ? 0 : CREC_ENOMEM;
}

static void buf_free(din_buf *b) {
    free(b->ws), free(b->q), free(b->dq), free(b->tr), free(b->dtr);
    free(b->K), free(b->dK), free(b->V), free(b->dV);
}

static void gather(const din_state *s, const float *blk, din_buf *b, int32_t target, const int32_t *hist, int H) {
    int da = s->a.da, dr = s->a.dr;
    const float *EA = tab_a(s, blk), *ER = tab_r(s, blk);
    memcpy(b->q, EA + (size_t)target * da, (size_t)da * sizeof(float));
    memcpy(b->tr, ER + (size_t)target * dr, (size_t)dr * sizeof(float));
    for (int j = 0; j < H; j++) {
        memcpy(b->K + (size_t)j * da, EA + (size_t)hist[j] * da, (size_t)da * sizeof(float));
        memcpy(b->V + (size_t)j * dr, ER + (size_t)hist[j] * dr, (size_t)dr * sizeof(float));
    }
}

/* The user's bias (0 without user_bias, for an anonymous or unknown user). */
static float user_bias(const din_state *s, const float *blk, int32_t u) {
    return s->ub && u >= 0 && u < s->NU ? blk[s->p.off[T_UB] + (size_t)u] : 0.0f;
}

static float example_logit(const din_state *s, const float *blk, din_buf *b, int32_t u, int32_t target,
                           const int32_t *hist, int H) {
    gather(s, blk, b, target, hist, H);
    return crec__nn_din_forward(&s->a, blk + s->p.off[T_MLP], b->q, b->tr, b->K, b->V, H, b->ws) +
           user_bias(s, blk, u);
}

/* Adds the gradient of the logloss of one example (label y) into gblk; returns the loss. */
static double example_train(const din_state *s, const float *blk, float *gblk, din_buf *b, int32_t u,
                            int32_t target, const int32_t *hist, int H, float y) {
    int da = s->a.da, dr = s->a.dr;
    double x = example_logit(s, blk, b, u, target, hist, H);
    double loss = (x > 0 ? x : 0) + log1p(exp(-fabs(x))) - y * x;
    float d = (float)((x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))) - y);
    if (s->ub && u >= 0 && u < s->NU) gblk[s->p.off[T_UB] + (size_t)u] += d;
    memset(b->dq, 0, (size_t)da * sizeof(float));
    memset(b->dtr, 0, (size_t)dr * sizeof(float));
    memset(b->dK, 0, (size_t)H * da * sizeof(float));
    memset(b->dV, 0, (size_t)H * dr * sizeof(float));
    crec__nn_din_backward(&s->a, blk + s->p.off[T_MLP], gblk + s->p.off[T_MLP], b->q, b->tr, b->K, b->V, H, b->ws,
                          d, b->dq, b->dtr, b->dK, b->dV);
    float *GA = gblk + s->p.off[T_EA], *GR = gblk + s->p.off[s->shared ? T_EA : T_ER];
    for (int c = 0; c < da; c++) GA[(size_t)target * da + c] += b->dq[c];
    for (int c = 0; c < dr; c++) GR[(size_t)target * dr + c] += b->dtr[c];
    for (int j = 0; j < H; j++) {
        float *ga = GA + (size_t)hist[j] * da, *gr = GR + (size_t)hist[j] * dr;
        const float *dk = b->dK + (size_t)j * da, *dv = b->dV + (size_t)j * dr;
        for (int c = 0; c < da; c++) ga[c] += dk[c];
        for (int c = 0; c < dr; c++) gr[c] += dv[c];
    }
    return loss;
}

/* ---- examples ---- */

typedef struct din_ex {
    int64_t hb, he; /* history: idx[hb .. he) of the source matrix (already cut to max_len) */
    int32_t target, u;
    float y;
    int src;        /* 0 train rows, 1 the history comes from train, the target from valid */
} din_ex;

/* History of position p of row u: the events of the row strictly before p's time, the last L. */
static void hist_before(const crec_csr *x, int32_t u, int64_t p, int L, int64_t *hb, int64_t *he) {
    int64_t e = p;
    if (x->ts)
        while (e > x->ptr[u] && x->ts[e - 1] >= x->ts[p]) e--;
    int64_t b = e - L > x->ptr[u] ? e - L : x->ptr[u];
    *hb = b, *he = e;
}

typedef struct din_hp {
    int threshold_mode, neg, epochs, patience, batch;
    float thr, lr, wd;
    double init_std;
} din_hp;

/* Training examples of one epoch (sampled mode draws its negatives from r). Returns the count, or -1. */
static int64_t build_train(const din_state *s, const din_hp *hp, const crec_csr *x, crec_rng *r, uint8_t *mark,
                           din_ex **out) {
    int64_t nnz = crec_csr_nnz(x), n = 0;
    int64_t cap = hp->threshold_mode ? nnz : nnz * (1 + hp->neg);
    din_ex *ex = malloc(((size_t)cap + 1) * sizeof *ex);
    if (!ex) return -1;
    for (int32_t u = 0; u < x->n_rows; u++) {
        int64_t p0 = x->ptr[u], p1 = x->ptr[u + 1];
        if (!hp->threshold_mode)
            for (int64_t p = p0; p < p1; p++) mark[x->idx[p]] = 1;
        for (int64_t p = p0; p < p1; p++) {
            din_ex e = {.target = x->idx[p], .u = u, .src = 0};
            hist_before(x, u, p, s->L, &e.hb, &e.he);
            e.y = hp->threshold_mode ? (x->val && x->val[p] >= hp->thr ? 1.0f : 0.0f) : 1.0f;
            if (hp->threshold_mode && !x->val) e.y = 1.0f;
            ex[n++] = e;
            if (hp->threshold_mode) continue;
            for (int k = 0; k < hp->neg; k++) {
                int32_t j = (int32_t)crec__rng_below(r, (uint64_t)s->NI);
                for (int t = 0; t < 64 && mark[j]; t++) j = (int32_t)crec__rng_below(r, (uint64_t)s->NI);
                if (mark[j]) continue; /* the user touched (nearly) every item */
                din_ex ng = e;
                ng.target = j;
                ng.y = 0.0f;
                ex[n++] = ng;
            }
        }
        if (!hp->threshold_mode)
            for (int64_t p = p0; p < p1; p++) mark[x->idx[p]] = 0;
    }
    *out = ex;
    return n;
}

/* Validation examples: valid events, labelled as in training (sampled mode: one drawn negative each, seeded),
 * history = the user's training events (the last L). */
static int64_t build_valid(const din_state *s, const din_hp *hp, const crec_csr *tr, const crec_csr *va,
                           uint8_t *mark, din_ex **out) {
    int64_t n = 0, nnz = crec_csr_nnz(va);
    din_ex *ex = malloc(((size_t)nnz * 2 + 1) * sizeof *ex);
    if (!ex) return -1;
    crec_rng r;
    crec__rng_seed(&r, 0x76616c6964ull);
    for (int32_t u = 0; u < va->n_rows && u < tr->n_rows; u++) {
        int64_t he = tr->ptr[u + 1], hb = he - s->L > tr->ptr[u] ? he - s->L : tr->ptr[u];
        if (!hp->threshold_mode) {
            for (int64_t p = tr->ptr[u]; p < tr->ptr[u + 1]; p++) mark[tr->idx[p]] = 1;
            for (int64_t p = va->ptr[u]; p < va->ptr[u + 1]; p++) mark[va->idx[p]] = 1;
        }
        for (int64_t p = va->ptr[u]; p < va->ptr[u + 1]; p++) {
            din_ex e = {.hb = hb, .he = he, .target = va->idx[p], .u = u, .src = 1};
            e.y = hp->threshold_mode && va->val ? (va->val[p] >= hp->thr ? 1.0f : 0.0f) : 1.0f;
            ex[n++] = e;
            if (hp->threshold_mode) continue;
            int32_t j = (int32_t)crec__rng_below(&r, (uint64_t)s->NI);
            for (int t = 0; t < 64 && mark[j]; t++) j = (int32_t)crec__rng_below(&r, (uint64_t)s->NI);
            if (mark[j]) continue;
            e.target = j;
            e.y = 0.0f;
            ex[n++] = e;
        }
        if (!hp->threshold_mode) {
            for (int64_t p = tr->ptr[u]; p < tr->ptr[u + 1]; p++) mark[tr->idx[p]] = 0;
            for (int64_t p = va->ptr[u]; p < va->ptr[u + 1]; p++) mark[va->idx[p]] = 0;
        }
    }
    *out = ex;
    return n;
}

/* AUC of the model on examples ex[n] (history from x); NaN when a class is missing. */
static double valid_auc(const din_state *s, const crec_csr *x, const din_ex *ex, int64_t n, din_buf *bufs, int nt,
                        double *logloss) {
    float *sc = malloc(((size_t)n + 1) * sizeof *sc);
    uint8_t *lab = malloc((size_t)n + 1);
    if (!sc || !lab) {
        free(sc), free(lab);
        return NAN;
    }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 64)
    for (int64_t e = 0; e < n; e++) {
        din_buf *b = &bufs[omp_get_thread_num()];
        sc[e] = example_logit(s, s->p.param, b, ex[e].u, ex[e].target, x->idx + ex[e].hb,
                              (int)(ex[e].he - ex[e].hb));
        lab[e] = ex[e].y > 0.5f;
    }
    double auc = crec_metric_auc(sc, lab, n);
    *logloss = crec_metric_logloss(sc, lab, n);
    free(sc), free(lab);
    return auc;
}

static int hp_from(const crec_model *m, const crec_train_input *in, din_hp *hp) {
    const char *lab = crec_model_param_str(m, "label");
    hp->threshold_mode = !strcmp(lab, "threshold") || (!strcmp(lab, "auto") && in->ds && in->ds->has_value);
    hp->thr = (float)crec_model_param_double(m, "threshold");
    hp->neg = (int)crec_model_param_int(m, "neg");
    hp->epochs = (int)crec_model_param_int(m, "epochs");
    hp->patience = (int)crec_model_param_int(m, "patience");
    hp->batch = (int)crec_model_param_int(m, "batch");
    hp->lr = (float)crec_model_param_double(m, "lr");
    hp->wd = (float)crec_model_param_double(m, "wd");
    hp->init_std = crec_model_param_double(m, "init_std");
    return 0;
}

static int din_train(crec_model *m, const crec_train_input *in) {
    const crec_csr *x = in->train;
    if (!x || !x->ptr || x->n_cols != m->n_items) return CREC_EINVAL;
    din_state *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    s->NI = m->n_items;
    s->NU = m->n_users;
    din_hp hp;
    int rc = arch_from(m, s);
    if (!rc) rc = hp_from(m, in, &hp);
    if (!rc) rc = alloc_params(s, 1);
    if (rc) {
        state_free(s);
        return rc;
    }
    int nt = in->n_threads > 0 ? in->n_threads : omp_get_max_threads();
    crec_rng r;
    crec__rng_seed(&r, in->seed);
    init_params(s, &r, hp.init_std);
    size_t total = s->p.total;
    float *gch = crec__aligned_alloc((size_t)DIN_CHUNKS * total * sizeof(float));
    float *best = malloc(total * sizeof(float));
    uint8_t *mark = calloc((size_t)s->NI + 1, 1);
    din_buf bufs[DIN_CHUNKS];
    memset(bufs, 0, sizeof bufs);
    din_ex *vex = NULL, *ex = NULL;
    int64_t nv = 0;
    if (!gch || !best || !mark) rc = CREC_ENOMEM;
    for (int c = 0; !rc && c < DIN_CHUNKS; c++) rc = buf_alloc(s, &bufs[c]);
    int use_valid = !rc && in->valid && in->valid->ptr && in->valid->n_rows == x->n_rows && crec_csr_nnz(in->valid) > 0;
    if (!rc && use_valid && (nv = build_valid(s, &hp, x, in->valid, mark, &vex)) < 0) rc = CREC_ENOMEM;
    int prev = crec__nn_blas_single();
    double best_auc = -1;
    int since = 0, best_epoch = 0;
    int64_t step = 0;
    memcpy(best, s->p.param, total * sizeof(float));
    for (int ep = 0; !rc && ep < hp.epochs; ep++) {
        double t0 = crec__now();
        free(ex);
        ex = NULL;
        int64_t n = build_train(s, &hp, x, &r, mark, &ex);
        if (n < 0) {
            rc = CREC_ENOMEM;
            break;
        }
        for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates, seeded */
            int64_t j = (int64_t)crec__rng_below(&r, (uint64_t)i + 1);
            din_ex t = ex[i];
            ex[i] = ex[j], ex[j] = t;
        }
        double loss = 0;
        for (int64_t b0 = 0; b0 < n; b0 += hp.batch) {
            int64_t b1 = b0 + hp.batch < n ? b0 + hp.batch : n;
            double closs[DIN_CHUNKS] = {0};
#pragma omp parallel for num_threads(nt) schedule(static, 1)
            for (int c = 0; c < DIN_CHUNKS; c++) {
                float *g = gch + (size_t)c * total;
                memset(g, 0, total * sizeof(float));
                for (int64_t e = b0 + c; e < b1; e += DIN_CHUNKS)
                    closs[c] += example_train(s, s->p.param, g, &bufs[c], ex[e].u, ex[e].target,
                                              x->idx + ex[e].hb, (int)(ex[e].he - ex[e].hb), ex[e].y);
            }
            float inv = 1.0f / (float)(b1 - b0);
            float *G = s->p.grad;
#pragma omp parallel for num_threads(nt) schedule(static)
            for (size_t i = 0; i < total; i++) {
                float a = 0;
                for (int c = 0; c < DIN_CHUNKS; c++) a += gch[(size_t)c * total + i];
                G[i] = a * inv;
            }
            for (int c = 0; c < DIN_CHUNKS; c++) loss += closs[c];
            crec__nn_adamw(s->p.param, s->p.grad, s->p.m, s->p.v, total, hp.lr, 0.9f, 0.999f, 1e-8f, hp.wd, ++step);
        }
        double vll = NAN, vauc = NAN;
        if (use_valid) vauc = valid_auc(s, x, vex, nv, bufs, nt < DIN_CHUNKS ? nt : DIN_CHUNKS, &vll);
        if (in->verbose)
            fprintf(stderr, "%s epoch %d: train logloss %.4f, valid AUC %.4f LogLoss %.4f (%lld examples, %.1f s)\n",
                    m->type->name, ep + 1, n ? loss / (double)n : NAN, vauc, vll, (long long)n, crec__now() - t0);
        if (!use_valid || isnan(vauc)) continue;
        if (vauc > best_auc) {
            best_auc = vauc, best_epoch = ep + 1, since = 0;
            memcpy(best, s->p.param, total * sizeof(float));
        } else if (hp.patience > 0 && ++since >= hp.patience)
            break;
    }
    crec__nn_blas_restore(prev);
    if (!rc && use_valid && best_auc >= 0) {
        memcpy(s->p.param, best, total * sizeof(float));
        if (in->verbose) fprintf(stderr, "%s: kept epoch %d (valid AUC %.4f)\n", m->type->name, best_epoch, best_auc);
    }
    if (in->verbose && !rc)
        fprintf(stderr, "%s: %zu parameters (tables %zu + %zu, MLPs %zu, user biases %zu)\n", m->type->name,
                s->p.size[T_EA] + s->p.size[T_ER] + s->p.size[T_MLP] + s->p.size[T_UB], s->p.size[T_EA],
                s->p.size[T_ER], s->p.size[T_MLP], s->p.size[T_UB]);
    for (int c = 0; c < DIN_CHUNKS; c++) buf_free(&bufs[c]);
    free(gch), free(best), free(mark), free(ex), free(vex);
    if (rc) {
        state_free(s);
        return rc;
    }
    /* drop the optimiser state: a trained model keeps its parameters only */
    free(s->p.grad), free(s->p.m), free(s->p.v);
    s->p.grad = s->p.m = s->p.v = NULL;
    m->state = s;
    return 0;
}

/* ---- scoring every item for one history: blocks of items, the attention as matrix products ---- */

static inline float prelu(float x, float a) { return x > 0 ? x : a * x; }

int crec__din_score_items(const void *state, const int32_t *hist, int32_t n_hist, float *scores) {
    const din_state *s = state;
    const crec_din_arch *a = &s->a;
    int H = n_hist < s->L ? n_hist : s->L, da = a->da, dr = a->dr, A = a->A, NI = s->NI;
    const int32_t *h = hist + (n_hist - H);
    const float *P = s->p.param, *M = P + s->p.off[T_MLP], *EA = tab_a(s, P), *ER = tab_r(s, P);
    int IB = DIN_ITEM_BLOCK, maxw = 3 * dr;
    for (int l = 0; l < a->nl; l++) maxw = a->hid[l] > maxw ? a->hid[l] : maxw;
    size_t n_s = (size_t)IB * (H ? H : 1);
    float *K = malloc(((size_t)H * da + 1) * sizeof(float)), *V = malloc(((size_t)H * dr + 1) * sizeof(float));
    float *S = malloc(n_s * sizeof(float)), *T = malloc(n_s * sizeof(float));
    float *kb = malloc(((size_t)H * A + 1) * sizeof(float)), *qt = malloc(((size_t)IB * A + 1) * sizeof(float));
    float *Qs = malloc((size_t)IB * da * sizeof(float)), *Bk = malloc(((size_t)A * da + 1) * sizeof(float));
    float *X0 = malloc((size_t)IB * maxw * sizeof(float)), *X1 = malloc((size_t)IB * maxw * sizeof(float));
    int rc = K && V && S && T && kb && qt && Qs && Bk && X0 && X1 ? 0 : CREC_ENOMEM;
    for (int j = 0; !rc && j < H; j++) {
        memcpy(K + (size_t)j * da, EA + (size_t)h[j] * da, (size_t)da * sizeof(float));
        memcpy(V + (size_t)j * dr, ER + (size_t)h[j] * dr, (size_t)dr * sizeof(float));
    }
    int mlp = a->att == CREC_DIN_ATT_MLP;
    if (!rc && mlp && H) { /* kb[j, h] = (W_k - W_d) k_j */
        for (int hh = 0; hh < A; hh++)
            for (int c = 0; c < da; c++)
                Bk[(size_t)hh * da + c] = M[a->aw + (size_t)hh * 4 * da + da + c] - M[a->aw + (size_t)hh * 4 * da + 2 * da + c];
        crec__nn_gemm(0, 1, H, A, da, 1, K, da, Bk, da, 0, kb, A);
    }
    for (int i0 = 0; !rc && i0 < NI; i0 += IB) {
        int nb = NI - i0 < IB ? NI - i0 : IB;
        const float *Q = EA + (size_t)i0 * da;
        if (H && !mlp) {
            crec__nn_gemm(0, 1, nb, H, da, 1 / sqrtf((float)da), Q, da, K, da, 0, S, H);
        } else if (H) {
            float slope = M[a->ap];
            for (size_t k = 0; k < (size_t)nb * H; k++) S[k] = M[a->ab2];
            for (int i = 0; i < nb; i++) /* qt[i, h] = (W_q + W_d) q_i + b */
                for (int hh = 0; hh < A; hh++) {
                    const float *wr = M + a->aw + (size_t)hh * 4 * da, *q = Q + (size_t)i * da;
                    float t = M[a->ab + hh];
                    for (int c = 0; c < da; c++) t += (wr[c] + wr[2 * da + c]) * q[c];
                    qt[(size_t)i * A + hh] = t;
                }
            for (int hh = 0; hh < A; hh++) {
                const float *wp = M + a->aw + (size_t)hh * 4 * da + 3 * da;
                float w2 = M[a->aw2 + hh];
                for (int i = 0; i < nb; i++)
                    for (int c = 0; c < da; c++) Qs[(size_t)i * da + c] = Q[(size_t)i * da + c] * wp[c];
                crec__nn_gemm(0, 1, nb, H, da, 1, Qs, da, K, da, 0, T, H); /* (q_i * W_p) . k_j */
                for (int i = 0; i < nb; i++) {
                    float qv = qt[(size_t)i * A + hh], *srow = S + (size_t)i * H;
                    const float *trow = T + (size_t)i * H;
                    for (int j = 0; j < H; j++) srow[j] += w2 * prelu(trow[j] + qv + kb[(size_t)j * A + hh], slope);
                }
            }
        }
        if (H && a->softmax)
            for (int i = 0; i < nb; i++) {
                float *srow = S + (size_t)i * H, mx = srow[0], sum = 0;
                for (int j = 1; j < H; j++) mx = srow[j] > mx ? srow[j] : mx;
                for (int j = 0; j < H; j++) sum += (srow[j] = expf(srow[j] - mx));
                for (int j = 0; j < H; j++) srow[j] /= sum;
            }
        /* z = [u, t, u * t] into X0 (rows of 3 dr) */
        float *U = X1;
        if (H) crec__nn_gemm(0, 0, nb, dr, H, 1, S, H, V, dr, 0, U, dr);
        else memset(U, 0, (size_t)nb * dr * sizeof(float));
        for (int i = 0; i < nb; i++) {
            const float *t = ER + (size_t)(i0 + i) * dr, *u = U + (size_t)i * dr;
            float *z = X0 + (size_t)i * 3 * dr;
            for (int c = 0; c < dr; c++) z[c] = u[c], z[dr + c] = t[c], z[2 * dr + c] = u[c] * t[c];
        }
        float *xin = X0, *xout = X1;
        int in = 3 * dr;
        for (int l = 0; l < a->nl; l++) {
            int out = a->hid[l];
            for (int i = 0; i < nb; i++) memcpy(xout + (size_t)i * out, M + a->mb[l], (size_t)out * sizeof(float));
            crec__nn_gemm(0, 1, nb, out, in, 1, xin, in, M + a->mw[l], in, 1, xout, out);
            float slope = M[a->mp[l]];
            for (size_t k = 0; k < (size_t)nb * out; k++) xout[k] = prelu(xout[k], slope);
            float *t = xin;
            xin = xout, xout = t;
            in = out;
        }
        const float *wo = M + a->mw[a->nl];
        for (int i = 0; i < nb; i++) {
            const float *xr = xin + (size_t)i * in;
            float y = M[a->mb[a->nl]];
            for (int c = 0; c < in; c++) y += wo[c] * xr[c];
            scores[i0 + i] = y;
        }
    }
    free(K), free(V), free(S), free(T), free(kb), free(qt), free(Qs), free(Bk), free(X0), free(X1);
    return rc;
}

static int din_score(const crec_model *m, const crec_context *ctx, float *scores) {
    const din_state *s = m->state;
    int rc = crec__din_score_items(s, ctx->hist, ctx->n_hist, scores);
    float b = user_bias(s, s->p.param, ctx->user);
    for (int32_t i = 0; !rc && b != 0 && i < s->NI; i++) scores[i] += b;
    return rc;
}

/* The per-item reference: the example kernel for every item (tests/unit/test_din.c compares the two). */
int crec__din_score_items_ref(const void *state, const int32_t *hist, int32_t n_hist, float *scores) {
    const din_state *s = state;
    din_buf b;
    memset(&b, 0, sizeof b);
    int rc = buf_alloc(s, &b);
    int H = n_hist < s->L ? n_hist : s->L;
    for (int32_t i = 0; !rc && i < s->NI; i++)
        scores[i] = example_logit(s, s->p.param, &b, -1, i, hist + (n_hist - H), H);
    buf_free(&b);
    return rc;
}

/* ---- checkpoints: the architecture (checked against the hyper-parameters on load), then the parameters ---- */

static int din_save(const crec_model *m, crec_buf *out) {
    const din_state *s = m->state;
    uint32_t hdr[6] = {(uint32_t)s->a.da, (uint32_t)s->a.dr, (uint32_t)s->shared, (uint32_t)s->a.att,
                       (uint32_t)s->a.n, (uint32_t)s->NI};
    int rc = 0;
    for (int i = 0; !rc && i < 6; i++) rc = crec__put_u32(out, hdr[i]);
    if (!rc) rc = crec__nn_params_save(&s->p, out);
    return rc;
}

static int din_load(crec_model *m, crec_buf *in) {
    din_state *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    s->NI = m->n_items;
    s->NU = m->n_users;
    int rc = arch_from(m, s) ? CREC_EFORMAT : 0;
    uint32_t hdr[6];
    for (int i = 0; !rc && i < 6; i++) rc = crec__get_u32(in, &hdr[i]);
    if (!rc && (hdr[0] != (uint32_t)s->a.da || hdr[1] != (uint32_t)s->a.dr || hdr[2] != (uint32_t)s->shared ||
                hdr[3] != (uint32_t)s->a.att || hdr[4] != (uint32_t)s->a.n || hdr[5] != (uint32_t)s->NI))
        rc = CREC_EFORMAT;
    if (!rc) rc = alloc_params(s, 0);
    if (!rc) rc = crec__nn_params_load(&s->p, in);
    if (rc) {
        state_free(s);
        return rc;
    }
    m->state = s;
    return 0;
}

const crec_model_type crec__model_din = {
    .name = "din",
    .summary = "DIN: target attention (activation unit, no softmax) over the whole history, one item table; click",
    .params = DIN_P,
    .train = din_train,
    .score = din_score,
    .save = din_save,
    .load = din_load,
    .free_state = din_free,
    .caps = CREC_CAP_SEQUENCE,
    .check = din_check,
};

const crec_model_type crec__model_dare = {
    .name = "dare",
    .summary = "DARE: target attention with decoupled attention / representation item tables (Feng et al. 2024)",
    .params = DARE_P,
    .train = din_train,
    .score = din_score,
    .save = din_save,
    .load = din_load,
    .free_state = din_free,
    .caps = CREC_CAP_SEQUENCE,
    .check = din_check,
};
