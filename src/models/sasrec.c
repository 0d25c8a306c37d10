/* sasrec.c: SASRec (Kang & McAuley 2018), a causal self-attention next-item model, on the shared sequence encoder
 * (seqenc.c: packed batches, forward / backward, validation, the training loop, checkpoints).
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
 * This file holds what is SASRec's own: its hyper-parameters, its windows (inputs -> next items) and its losses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/sasrec.h"
#include "models/seqenc.h"
#include "models/params.h"

static const crec_param_def SASREC_PARAMS[] = {
    CREC_P_TRANSFORMER("64", "2", "1", "50", "last items of a history the model reads", "0.2",
                       "pre: x + f(LN(x)) and a final LN; post: LN(x + f(x))"),
    CREC_P_ENUM("loss", "ce", "ce|ssm|bce|gbce",
                "ce (full softmax over the catalog), ssm (sampled softmax), bce (the original), gbce"),
    CREC_P_INT("neg", "0", 0, 65536, "negatives: per position for bce/gbce (0 = 1 / 128), shared per batch for ssm (0 = 256)"),
    CREC_P_ENUM("sampler", "uniform", "uniform|pop", "ssm negatives: uniform, or pop (by training count, log-Q corrected)"),
    CREC_P_FLOAT("gbce_t", "0.75", 0, 1, "gBCE calibration t in [0, 1]"),
    CREC_P_ADAMW("0.001"),
    CREC_P_EARLY_STOP("20", "5", "0"),
    CREC_P_END,
};

enum { LOSS_CE, LOSS_SSM, LOSS_BCE, LOSS_GBCE };

#define PRM(s, blk, k) crec__nn_tensor(&(s)->p, (blk), (k))

static int32_t row_len(const crec_csr *x, int32_t u) { return (int32_t)(x->ptr[u + 1] - x->ptr[u]); }

/* Training batch of users[0..nb): each user's last T + 1 training items, inputs -> next items. */
static void batch_train(const crec_seqenc *s, const crec_csr *x, const int32_t *users, int nb, crec_seqenc_batch *bt) {
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
    crec__seqenc_batch_done(s, bt, nb);
}

/* SASRec's own hyper-parameters (the loss and its negatives). */
typedef struct sr_hp {
    int loss, neg, sampler_pop;
    double gbce_t;
} sr_hp;

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
    h->gbce_t = crec_model_param_double(m, "gbce_t");
    if (h->loss < 0 || h->neg < 1 || h->neg > 65536 || (!h->sampler_pop && strcmp(smp, "uniform") != 0) ||
        !(h->gbce_t >= 0 && h->gbce_t <= 1))
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

/* The objective's state: the loss's scratch and negatives, freed in one place. */
typedef struct sr_obj {
    sr_hp hp;
    int ce_rb, ce_ic;
    double gbce_beta;
    float *scratch, *lqp, *lqn;
    int32_t *neg;
    uint8_t *mark;
    sr_sampler sp;
} sr_obj;

static void obj_free(sr_obj *o) {
    free(o->scratch), free(o->neg), free(o->lqp), free(o->lqn), free(o->mark), free(o->sp.cdf), free(o->sp.logq);
}

static int obj_prepare(void *ctx, const crec_seqenc *s, const crec_csr *x, int Nmax) {
    sr_obj *o = ctx;
    const sr_hp *hp = &o->hp;
    int32_t NI = s->NI;
    int D = s->D;
    (void)x;
    /* loss scratch: ce as crec__seqenc_ce_blocks; ssm = N*S + 2*S*D + 2N; bce 2N(K+1) */
    size_t scr = crec__seqenc_ce_blocks(NI, &o->ce_rb, &o->ce_ic);
    if (hp->loss == LOSS_SSM) scr = (size_t)Nmax * hp->neg + 2 * (size_t)hp->neg * D + 2 * (size_t)Nmax;
    if (hp->loss == LOSS_BCE || hp->loss == LOSS_GBCE) scr = 2 * (size_t)Nmax * (hp->neg + 1);
    o->scratch = crec__aligned_alloc(scr * sizeof(float));
    o->neg = malloc(((size_t)Nmax * hp->neg + 1) * sizeof *o->neg);
    o->mark = calloc((size_t)NI, 1);
    if (!o->scratch || !o->neg || !o->mark) return CREC_ENOMEM;
    if (hp->loss == LOSS_SSM) {
        o->sp.pop = hp->sampler_pop;
        o->sp.NI = NI;
        if (hp->sampler_pop) {
            o->sp.cdf = malloc((size_t)NI * sizeof *o->sp.cdf);
            o->sp.logq = malloc((size_t)NI * sizeof *o->sp.logq);
            o->lqp = malloc(((size_t)Nmax + 1) * sizeof *o->lqp);
            o->lqn = malloc((size_t)hp->neg * sizeof *o->lqn);
            if (!o->sp.cdf || !o->sp.logq || !o->lqp || !o->lqn) return CREC_ENOMEM;
            double c = 0;
            for (int32_t j = 0; j < NI; j++) c += s->pop[j] + 1.0, o->sp.cdf[j] = c;
            for (int32_t j = 0; j < NI; j++) o->sp.logq[j] = (float)log((double)hp->neg * (s->pop[j] + 1.0) / c);
        }
    }
    o->gbce_beta = hp->loss == LOSS_GBCE ? crec__nn_gbce_beta(hp->neg, NI, hp->gbce_t) : 1.0;
    return 0;
}

static void obj_batch(void *ctx, const crec_seqenc *s, const crec_csr *x, const int32_t *users, int nb,
                      crec_seqenc_batch *bt, crec_rng *rng) {
    (void)ctx, (void)rng;
    batch_train(s, x, users, nb, bt);
}

/* The loss at every position of the batch, averaged over its N tokens. */
static double obj_loss(void *ctx, const crec_seqenc *s, const crec_seqenc_acts *a, crec_seqenc_acts *g,
                       const crec_seqenc_batch *bt, const crec_csr *x, const int32_t *users, crec_rng *rng,
                       int64_t *rows) {
    sr_obj *o = ctx;
    const sr_hp *hp = &o->hp;
    int N = bt->N, D = s->D, nb = bt->B;
    int32_t NI = s->NI;
    float *demb = PRM(s, s->p.grad, SE_P_EMB), *emb = PRM(s, s->p.param, SE_P_EMB);
    float gs = 1.0f / (float)N;
    double l;
    *rows = N;
    if (hp->loss == LOSS_CE)
        l = crec__nn_softmax_ce_loss(g->t[SE_A_HF], demb, o->scratch, a->t[SE_A_HF], emb, bt->tgt, N, D, NI, o->ce_rb,
                                     o->ce_ic, gs);
    else if (hp->loss == LOSS_SSM) {
        for (int j = 0; j < hp->neg; j++) {
            o->neg[j] = sample_item(&o->sp, rng);
            if (o->lqn) o->lqn[j] = o->sp.logq[o->neg[j]];
        }
        if (o->lqp)
            for (int n = 0; n < N; n++) o->lqp[n] = o->sp.logq[bt->tgt[n]];
        l = crec__nn_sampled_softmax_loss(g->t[SE_A_HF], demb, o->scratch, a->t[SE_A_HF], emb, bt->tgt, o->neg, o->lqp,
                                          o->lqn, N, D, hp->neg, gs);
    } else {
        /* per position, hp->neg negatives not in the user's training row (the original's sampler) */
        for (int b = 0; b < nb; b++) {
            int32_t u = users[b];
            const int32_t *row = x->idx + x->ptr[u];
            int32_t rl = row_len(x, u);
            for (int32_t q = 0; q < rl; q++) o->mark[row[q]] = 1;
            for (int32_t n = bt->seq_off[b]; n < bt->seq_off[b + 1]; n++)
                for (int k = 0; k < hp->neg; k++) {
                    int32_t j, tries = 0;
                    do j = (int32_t)crec__rng_below(rng, (uint64_t)NI);
                    while (o->mark[j] && ++tries < 64);
                    o->neg[(size_t)n * hp->neg + k] = j;
                }
            for (int32_t q = 0; q < rl; q++) o->mark[row[q]] = 0;
        }
        l = crec__nn_bce_loss(g->t[SE_A_HF], demb, o->scratch, a->t[SE_A_HF], emb, bt->tgt, o->neg, N, D, hp->neg,
                              o->gbce_beta, gs);
    }
    return l;
}

static int sasrec_train(crec_model *m, const crec_train_input *in) {
    crec_seqenc *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    sr_obj o;
    memset(&o, 0, sizeof o);
    crec_seqenc_hp hp;
    int rc = crec__seqenc_arch(m, s, 1, 0);
    if (!rc) rc = hp_from(m, &o.hp);
    if (!rc) rc = crec__seqenc_hp(m, &hp);
    if (!rc) {
        crec_seqenc_objective obj = {
            .name = "sasrec", .ctx = &o, .prepare = obj_prepare, .batch = obj_batch, .loss = obj_loss};
        rc = crec__seqenc_train(s, in, &hp, &obj);
    }
    obj_free(&o);
    if (rc) {
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
    crec_seqenc_batch bt;
    rc = crec__seqenc_batch_alloc(&bt, 3, 3 * s.T);
    if (!rc) {
        batch_train(&s, &x, users, 3, &bt);
        rc = crec__seqenc_gradcheck(&s, &bt, dseed, &r, worst, checked);
    }
    crec__seqenc_batch_free(&bt);
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

const crec_model_type crec__model_sasrec = {
    .name = "sasrec",
    .summary = "SASRec: causal self-attention over the last max_len items (ce / ssm / bce / gbce losses)",
    .params = SASREC_PARAMS,
    .train = sasrec_train,
    .score = crec__seqenc_model_score,
    .save = sasrec_save,
    .load = sasrec_load,
    .free_state = crec__seqenc_model_free,
};
