/* cml.c: Collaborative Metric Learning (Hsieh et al., WWW 2017) with an item feature encoder for cold items
 * (as in "Collaborative Metric Learning Recommendation System: Application to Theatrical Movie Releases").
 *
 * Users and items are points; a user should be nearer to the items it chose than to others by a margin m:
 *   loss = sum over (u, i+) and N sampled negatives j of  w_ui * [m + d(u,i)^2 - d(u,j)^2]_+ ,
 *   w_ui = log(rank + 1), rank = floor(n_items * V / N), V = number of the N negatives inside the margin
 * (a WARP-style estimate of i's rank for u: many violators -> i is ranked badly -> larger steps).
 * score(u, i) = -d(u, i)^2. The optimiser is row-wise Adagrad (one accumulator per user, free item and feature
 * row; as in bprmf.c, one rate then suits dense ML-100K and sparse Beauty). Every embedding (user, free item,
 * feature) is renormalised into the unit ball after each update, so a position (free + features) lies in the ball
 * of radius 2, of radius 1 with features=0.
 *
 * The feature encoder (features=1): position(i) = e_i + f_i, f_i the mean of learned embeddings of i's attributes
 * and title/text words (models/feat.h). An item without training events has e_i = 0 and so sits at f_i: that is
 * how a new item nobody has touched gets a place, and a score. So that f alone learns to place items, each item of
 * a triple drops its free embedding with probability drop_free (DropoutNet-style) when it has features.
 * Negatives are drawn only from items with training events (models/implicit.h), and the rank estimate counts
 * those items (n_items above).
 *
 * Threads: Hogwild, as bprmf: lock-free shared writes (rows and Adagrad accumulators), not reproducible with more
 * than one thread; with one thread (crec train --threads 1) exactly reproducible for a seed. A checkpoint stores
 * user points and final item positions for all n_items (cold ones included), so a loaded model scores exactly as
 * the trained one without the feature tables or the word vocabulary. A user without training events (or user -1)
 * sits at the centroid of its history's positions, the point nearest to them in summed squared distance. */
#include "models/cml.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "models/feat.h"
#include "models/implicit.h"
#include "models/params.h"

static const crec_param_def CML_PARAMS[] = {
    CREC_P_INT("factors", "64", 1, 4096, "dimension D of the metric space"),
    CREC_P_FLOAT("lr", "0.1", 1e-9, 100, "learning rate (row-wise Adagrad)"),
    CREC_P_FLOAT("margin", "0.5", 1e-9, 1e6, "hinge margin m on squared distances"),
    CREC_P_INT("neg", "10", 1, 1000, "negatives N sampled per positive (the rank estimate uses them)"),
    CREC_P_FLOAT("init_std", "0.1", 0, 100, "standard deviation of the normal initialisation of user and free item points"),
    CREC_P_BOOL("features", "1", "1: item position = free embedding + mean of attribute/word embeddings; 0: free only"),
    CREC_P_FLOAT("drop_free", "0.5", 0, 0.99, "features=1: probability that an item of a triple is placed by its features alone"),
    CREC_P_INT("max_tokens", "20000", 0, 2147483647, "cap on the title/text word vocabulary (most frequent in trained items)"),
    CREC_P_EARLY_STOP("50", "8", "5000"),
    CREC_P_END,
};

#define CML_MAX_D 4096

/* ---- kernels (float for training, double for the gradient checks; one body each) ---- */

#define CML_TRIPLE(NAME, T)                                                                                    \
    T NAME(const T *u, const T *vi, const T *vj, int D, T margin, T w, T *du, T *dvi, T *dvj) {               \
        T dp = 0, dn = 0;                                                                                      \
        _Pragma("omp simd reduction(+ : dp, dn)")                                                              \
        for (int k = 0; k < D; k++) {                                                                          \
            T a = u[k] - vi[k], b = u[k] - vj[k];                                                              \
            dp += a * a;                                                                                       \
            dn += b * b;                                                                                       \
        }                                                                                                      \
        T h = margin + dp - dn;                                                                                \
        if (!(h > 0)) return 0;                                                                                \
        _Pragma("omp simd")                                                                                    \
        for (int k = 0; k < D; k++) {                                                                          \
            du[k] += 2 * w * (vj[k] - vi[k]);                                                                  \
            dvi[k] += -2 * w * (u[k] - vi[k]);                                                                 \
            dvj[k] += 2 * w * (u[k] - vj[k]);                                                                  \
        }                                                                                                      \
        return w * h;                                                                                          \
    }
CML_TRIPLE(crec__cml_triple_f, float)
CML_TRIPLE(crec__cml_triple_d, double)

#define CML_POS(NAME, T)                                                                                       \
    void NAME(T *v, const T *e, int keep, const T *W, const int32_t *feats, int F, int D) {                    \
        for (int k = 0; k < D; k++) v[k] = keep ? e[k] : 0;                                                    \
        if (F <= 0) return;                                                                                    \
        T inv = (T)1 / (T)F;                                                                                   \
        for (int q = 0; q < F; q++) {                                                                          \
            const T *w = W + (size_t)feats[q] * (size_t)D;                                                     \
            _Pragma("omp simd")                                                                                \
            for (int k = 0; k < D; k++) v[k] += inv * w[k];                                                    \
        }                                                                                                      \
    }
CML_POS(crec__cml_pos_f, float)
CML_POS(crec__cml_pos_d, double)

#define CML_POS_BACKWARD(NAME, T)                                                                              \
    void NAME(const T *dv, int keep, const int32_t *feats, int F, int D, T scale, T *de, T *dW) {              \
        if (keep)                                                                                              \
            for (int k = 0; k < D; k++) de[k] += scale * dv[k];                                                \
        if (F <= 0) return;                                                                                    \
        T s = scale / (T)F;                                                                                    \
        for (int q = 0; q < F; q++) {                                                                          \
            T *w = dW + (size_t)feats[q] * (size_t)D;                                                          \
            _Pragma("omp simd")                                                                                \
            for (int k = 0; k < D; k++) w[k] += s * dv[k];                                                     \
        }                                                                                                      \
    }
CML_POS_BACKWARD(crec__cml_pos_backward_f, float)
CML_POS_BACKWARD(crec__cml_pos_backward_d, double)

/* ---- the model ---- */

typedef struct cml_state {
    int32_t D;
    float *U;              /* [n_users x D] user points */
    float *V;              /* [n_items x D] item positions (free + features), what scoring reads */
    float *vsq;            /* [n_items] |V_i|^2 */
    uint8_t *user_trained; /* [n_users] users with training events; others are placed by their history */
} cml_state;

static void cml_state_free(cml_state *s) {
    if (!s) return;
    free(s->U);
    free(s->V);
    free(s->vsq);
    free(s->user_trained);
    free(s);
}

static cml_state *cml_state_new(int32_t nu, int32_t ni, int32_t D) {
    cml_state *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->D = D;
    s->U = crec__aligned_alloc(((size_t)nu * D + 1) * sizeof *s->U);
    s->V = crec__aligned_alloc(((size_t)ni * D + 1) * sizeof *s->V);
    s->vsq = calloc((size_t)ni + 1, sizeof *s->vsq);
    s->user_trained = calloc((size_t)nu + 1, 1);
    if (!s->U || !s->V || !s->vsq || !s->user_trained) {
        cml_state_free(s);
        return NULL;
    }
    return s;
}

static void cml_update_vsq(cml_state *s, int32_t ni) {
    for (int32_t i = 0; i < ni; i++) s->vsq[i] = crec__dotf(s->V + (size_t)i * s->D, s->V + (size_t)i * s->D, s->D);
}

/* Renormalise x[D] into the unit ball. */
static inline void clip_unit(float *x, int D) {
    float n2 = crec__dotf(x, x, D);
    if (n2 > 1.0f) {
        float r = 1.0f / sqrtf(n2);
        for (int k = 0; k < D; k++) x[k] *= r;
    }
}

static inline float sqdist(const float *a, const float *b, int D) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int k = 0; k < D; k++) s += (a[k] - b[k]) * (a[k] - b[k]);
    return s;
}

/* Training-only parameters: free item embeddings E[n_items x D] and feature embeddings W[n_feats x D], one block. */
typedef struct cml_train_ctx {
    int32_t D, N;
    float lr, margin, drop_free;
    float *block, *E, *W;
    float *G, *GU, *GE, *GW; /* Adagrad accumulators, one per row: users, free items, features */
    crec_feat feat;
    crec_triples t;
} cml_train_ctx;

/* V = positions of every item from E and W (items without training events have E = 0). */
static void cml_positions(const cml_train_ctx *c, cml_state *s, int32_t ni) {
    for (int32_t i = 0; i < ni; i++) {
        const int32_t *fl = c->feat.idx + c->feat.ptr[i];
        int F = (int)(c->feat.ptr[i + 1] - c->feat.ptr[i]);
        crec__cml_pos_f(s->V + (size_t)i * c->D, c->E + (size_t)i * c->D, 1, c->W, fl, F, c->D);
    }
    cml_update_vsq(s, ni);
}

/* Per-thread scratch for one (u, i+) step with N negatives. */
typedef struct cml_scratch {
    float *vi, *vj, *du, *dvi, *dvj;
    int32_t *j;
    uint8_t *keep, *viol;
} cml_scratch;

static void scratch_free(cml_scratch *w) {
    free(w->vi);
    free(w->vj);
    free(w->du);
    free(w->dvi);
    free(w->dvj);
    free(w->j);
    free(w->keep);
    free(w->viol);
}

static int scratch_alloc(cml_scratch *w, int D, int N) {
    memset(w, 0, sizeof *w);
    w->vi = malloc((size_t)D * sizeof *w->vi);
    w->dvi = malloc((size_t)D * sizeof *w->dvi);
    w->du = malloc((size_t)D * sizeof *w->du);
    w->vj = malloc((size_t)N * D * sizeof *w->vj);
    w->dvj = malloc((size_t)N * D * sizeof *w->dvj);
    w->j = malloc((size_t)N * sizeof *w->j);
    w->keep = malloc((size_t)N + 1);
    w->viol = malloc((size_t)N + 1);
    if (!w->vi || !w->dvi || !w->du || !w->vj || !w->dvj || !w->j || !w->keep || !w->viol) {
        scratch_free(w);
        return CREC_ENOMEM;
    }
    return 0;
}

/* Position of item i into v, with its free embedding dropped with probability drop_free (items with features). */
static inline int place_item(const cml_train_ctx *c, crec_rng *r, int32_t i, float *v) {
    const int32_t *fl = c->feat.idx + c->feat.ptr[i];
    int F = (int)(c->feat.ptr[i + 1] - c->feat.ptr[i]);
    int keep = !(F > 0 && c->drop_free > 0 && crec__rng_uniform(r) < c->drop_free);
    crec__cml_pos_f(v, c->E + (size_t)i * c->D, keep, c->W, fl, F, c->D);
    return keep;
}

/* Row-wise Adagrad step size: G += mean squared gradient of the row (sq / D); returns lr / sqrt(G). */
static inline float ada(float *G, float sq, int D, float lr) {
    *G += sq / (float)D;
    return lr / sqrtf(*G + 1e-8f);
}

/* Step on item i's parameters from its position gradient dv (row-wise Adagrad: the free row e_i and each feature
 * row get their own rate; the feature rows' gradient is dv / F), then the unit-ball projection of each row. */
static inline void update_item(const cml_train_ctx *c, int32_t i, int keep, const float *dv) {
    int D = c->D;
    const int32_t *fl = c->feat.idx + c->feat.ptr[i];
    int F = (int)(c->feat.ptr[i + 1] - c->feat.ptr[i]);
    float sq = crec__dotf(dv, dv, D);
    if (keep) {
        float *e = c->E + (size_t)i * D;
        crec__cml_pos_backward_f(dv, 1, NULL, 0, D, -ada(c->GE + i, sq, D, c->lr), e, NULL);
        clip_unit(e, D);
    }
    for (int q = 0; q < F; q++) {
        float lw = ada(c->GW + fl[q], sq / ((float)F * (float)F), D, c->lr);
        crec__cml_pos_backward_f(dv, 0, fl + q, 1, D, -lw / (float)F, NULL, c->W);
        clip_unit(c->W + (size_t)fl[q] * D, D);
    }
}

/* One (u, i+) draw: N negatives, the rank-weighted hinge over the violators, updates. Returns the loss. */
static float cml_step(const cml_train_ctx *c, cml_state *s, crec_rng *r, cml_scratch *w, int64_t *n_active) {
    const crec_triples *t = &c->t;
    int D = c->D, N = c->N;
    int64_t k = (int64_t)crec__rng_below(r, (uint64_t)t->n_pos);
    int32_t u = t->pos_user[k], i = t->pos_item[k];
    float *pu = s->U + (size_t)u * D;
    int keep_i = place_item(c, r, i, w->vi);
    float d_ui = sqdist(pu, w->vi, D);
    int V = 0;
    for (int n = 0; n < N; n++) {
        w->j[n] = crec__triples_negative(t, r, u);
        w->keep[n] = (uint8_t)place_item(c, r, w->j[n], w->vj + (size_t)n * D);
        float d_uj = sqdist(pu, w->vj + (size_t)n * D, D);
        w->viol[n] = w->j[n] != i && c->margin + d_ui - d_uj > 0;
        V += w->viol[n];
    }
    if (V == 0) return 0;
    (*n_active)++;
    float rank = floorf((float)t->n_trained * (float)V / (float)N);
    float wt = logf(rank + 1.0f);
    memset(w->du, 0, (size_t)D * sizeof *w->du);
    memset(w->dvi, 0, (size_t)D * sizeof *w->dvi);
    float loss = 0;
    for (int n = 0; n < N; n++) {
        if (!w->viol[n]) continue;
        float *dvj = w->dvj + (size_t)n * D;
        memset(dvj, 0, (size_t)D * sizeof *dvj);
        loss += crec__cml_triple_f(pu, w->vi, w->vj + (size_t)n * D, D, c->margin, wt, w->du, w->dvi, dvj);
    }
    float lu = ada(c->GU + u, crec__dotf(w->du, w->du, D), D, c->lr);
    for (int q = 0; q < D; q++) pu[q] -= lu * w->du[q];
    clip_unit(pu, D);
    update_item(c, i, keep_i, w->dvi);
    for (int n = 0; n < N; n++)
        if (w->viol[n]) update_item(c, w->j[n], w->keep[n], w->dvj + (size_t)n * D);
    return loss;
}

static int cml_train(crec_model *m, const crec_train_input *in) {
    int64_t D = crec_model_param_int(m, "factors"), epochs = crec_model_param_int(m, "epochs");
    int64_t N = crec_model_param_int(m, "neg"), features = crec_model_param_int(m, "features");
    int64_t max_tokens = crec_model_param_int(m, "max_tokens"), patience = crec_model_param_int(m, "patience"),
            min_epochs = crec_model_param_int(m, "min_epochs");
    int64_t valid_users = crec_model_param_int(m, "valid_users");
    double lr = crec_model_param_double(m, "lr"), margin = crec_model_param_double(m, "margin");
    double init_std = crec_model_param_double(m, "init_std"), drop = crec_model_param_double(m, "drop_free");
    if (D < 1 || D > CML_MAX_D || epochs < 1 || N < 1 || N > 1000 || (features != 0 && features != 1) ||
        max_tokens < 0 || max_tokens > INT32_MAX || patience < 0 || valid_users < 0 || !(lr > 0) || !isfinite(lr) ||
        !(margin > 0) || !isfinite(margin) || !(init_std >= 0) || !isfinite(init_std) || !(drop >= 0 && drop < 1))
        return CREC_EINVAL;
    int32_t nu = m->n_users, ni = m->n_items, d = (int32_t)D;
    cml_train_ctx c = {.D = d, .N = (int32_t)N, .lr = (float)lr, .margin = (float)margin,
                       .drop_free = features ? (float)drop : 0.0f};
    int rc = crec__triples_build(&c.t, in->train);
    if (rc) return rc;
    cml_state *s = cml_state_new(nu, ni, d);
    float *bestU = NULL, *bestV = NULL;
    int nth = in->n_threads > 0 ? in->n_threads : omp_get_max_threads();
    crec_rng *rngs = calloc((size_t)nth, sizeof *rngs);
    if (!s || !rngs) {
        rc = CREC_ENOMEM;
        goto done;
    }
    if ((rc = crec__feat_build(&c.feat, features ? in->ds : NULL, ni, c.t.item_trained, 1, 1, (int32_t)max_tokens)))
        goto done;
    if (in->verbose && features)
        crec__log("cml: %d features (%d attributes, %d words) over %d items", c.feat.n_feats, c.feat.n_attrs,
                  c.feat.n_tokens, ni);
    c.block = crec__aligned_alloc(((size_t)ni + (size_t)c.feat.n_feats + 1) * (size_t)d * sizeof *c.block);
    if (!c.block) {
        rc = CREC_ENOMEM;
        goto done;
    }
    c.G = calloc((size_t)nu + ni + c.feat.n_feats + 1, sizeof *c.G);
    if (!c.G) {
        rc = CREC_ENOMEM;
        goto done;
    }
    c.GU = c.G;
    c.GE = c.GU + nu;
    c.GW = c.GE + ni;
    c.E = c.block;
    c.W = c.E + (size_t)ni * d; /* feature embeddings start at 0: f_i = 0 until features are trained */
    memcpy(s->user_trained, c.t.user_trained, (size_t)nu);
    {
        crec_rng r;
        crec__rng_seed(&r, in->seed);
        for (int32_t u = 0; u < nu; u++) {
            for (int32_t k = 0; k < d; k++) s->U[(size_t)u * d + k] = (float)(init_std * crec__rng_normal(&r));
            clip_unit(s->U + (size_t)u * d, d);
        }
        for (int32_t i = 0; i < ni; i++) {
            if (!c.t.item_trained[i]) continue; /* never trained: free embedding 0, placed by features alone */
            for (int32_t k = 0; k < d; k++) c.E[(size_t)i * d + k] = (float)(init_std * crec__rng_normal(&r));
            clip_unit(c.E + (size_t)i * d, d);
        }
    }
    for (int th = 0; th < nth; th++) crec__rng_seed(&rngs[th], in->seed + (uint64_t)th);
    int use_valid = patience > 0 && in->valid && crec_csr_nnz(in->valid) > 0;
    if (use_valid) {
        bestU = malloc(((size_t)nu * d + 1) * sizeof *bestU);
        bestV = malloc(((size_t)ni * d + 1) * sizeof *bestV);
        if (!bestU || !bestV) {
            rc = CREC_ENOMEM;
            goto done;
        }
    }
    m->state = s; /* scorable during training (positions refreshed before each validation) */
    double best_ndcg = -1;
    int64_t best_epoch = 0, bad = 0;
    const int64_t steps = c.t.n_pos;
    for (int64_t ep = 1; ep <= epochs && !rc; ep++) {
        double t0 = crec__now(), loss = 0;
        int64_t active = 0;
#pragma omp parallel num_threads(nth) reduction(+ : loss, active)
        {
            int th = omp_get_thread_num(), nt = omp_get_num_threads();
            cml_scratch w;
            if (scratch_alloc(&w, d, c.N)) {
#pragma omp atomic write
                rc = CREC_ENOMEM;
            } else {
                int64_t my = steps / nt + (th < steps % nt);
                for (int64_t q = 0; q < my; q++) loss += cml_step(&c, s, &rngs[th], &w, &active);
                scratch_free(&w);
            }
        }
        if (rc) break;
        cml_positions(&c, s, ni);
        if (!use_valid) {
            if (in->verbose)
                crec__log("cml epoch %lld/%lld: loss %.4f, %.1f%% of draws violate (%.2f s)", (long long)ep,
                          (long long)epochs, loss / steps, 100.0 * active / steps, crec__now() - t0);
            continue;
        }
        double v = crec__valid_ndcg10(m, &c.t, in->train, in->valid, (int32_t)valid_users, in->n_threads);
        if (v < 0) {
            rc = (int)v;
            break;
        }
        if (in->verbose)
            crec__log("cml epoch %lld/%lld: loss %.4f, %.1f%% of draws violate, valid NDCG@10 %.4f (%.2f s)",
                      (long long)ep, (long long)epochs, loss / steps, 100.0 * active / steps, v, crec__now() - t0);
        if (v >= best_ndcg) { /* ties keep the later epoch (an all-zero validation trains to the end) */
            best_ndcg = v;
            best_epoch = ep;
            bad = 0;
            memcpy(bestU, s->U, (size_t)nu * d * sizeof *bestU);
            memcpy(bestV, s->V, (size_t)ni * d * sizeof *bestV);
        } else if (crec__early_stop(ep, ++bad, patience, min_epochs)) {
            break;
        }
    }
    if (!rc && use_valid) {
        memcpy(s->U, bestU, (size_t)nu * d * sizeof *bestU);
        memcpy(s->V, bestV, (size_t)ni * d * sizeof *bestV);
        cml_update_vsq(s, ni);
        if (in->verbose) crec__log("cml: kept epoch %lld (valid NDCG@10 %.4f)", (long long)best_epoch, best_ndcg);
    }
done:
    if (rc) {
        m->state = NULL;
        cml_state_free(s);
    }
    free(bestU);
    free(bestV);
    free(rngs);
    free(c.block);
    free(c.G);
    crec__feat_free(&c.feat);
    crec__triples_free(&c.t);
    return rc;
}

static int cml_score(const crec_model *m, const crec_context *ctx, float *scores) {
    const cml_state *s = m->state;
    int32_t D = s->D;
    const float *p;
    float *tmp = NULL;
    if (ctx->user >= 0 && s->user_trained[ctx->user]) {
        p = s->U + (size_t)ctx->user * D;
    } else {
        /* an unknown user sits at the centroid of its history: the point nearest (in squared distance) to all */
        tmp = calloc((size_t)D, sizeof *tmp);
        if (!tmp) return CREC_ENOMEM;
        for (int32_t h = 0; h < ctx->n_hist; h++)
            for (int32_t k = 0; k < D; k++) tmp[k] += s->V[(size_t)ctx->hist[h] * D + k];
        for (int32_t k = 0; ctx->n_hist > 0 && k < D; k++) tmp[k] /= (float)ctx->n_hist;
        p = tmp;
    }
    float pp = crec__dotf(p, p, D);
    for (int32_t i = 0; i < m->n_items; i++)
        scores[i] = 2.0f * crec__dotf(p, s->V + (size_t)i * D, D) - s->vsq[i] - pp; /* -|p - v_i|^2 */
    free(tmp);
    return 0;
}

/* A block of users: their points (trained, or the centroid of the history, in parallel), then
 * scores = 2 U_blk V^T - |v_i|^2 - |p|^2 with one product (crec__scores_gemm): cml_score's numbers up to the
 * float rounding of the product. */
static int cml_score_batch(const crec_model *m, const crec_context *ctx, int n, float *scores) {
    const cml_state *s = m->state;
    int32_t D = s->D, ni = m->n_items;
    float *X = crec__aligned_alloc(((size_t)n * D + 1) * sizeof *X), *pp = malloc(((size_t)n + 1) * sizeof *pp);
    if (!X || !pp) {
        free(X), free(pp);
        return CREC_ENOMEM;
    }
#pragma omp parallel for schedule(dynamic, 4)
    for (int c = 0; c < n; c++) {
        float *p = X + (size_t)c * D; /* zeroed by crec__aligned_alloc */
        const crec_context *x = &ctx[c];
        if (x->user >= 0 && s->user_trained[x->user]) {
            memcpy(p, s->U + (size_t)x->user * D, (size_t)D * sizeof *p);
        } else {
            for (int32_t h = 0; h < x->n_hist; h++)
                for (int32_t k = 0; k < D; k++) p[k] += s->V[(size_t)x->hist[h] * D + k];
            for (int32_t k = 0; x->n_hist > 0 && k < D; k++) p[k] /= (float)x->n_hist;
        }
        pp[c] = crec__dotf(p, p, D);
    }
    crec__scores_gemm(n, ni, D, 2.0f, X, D, s->V, D, scores);
#pragma omp parallel for schedule(static)
    for (int c = 0; c < n; c++) {
        float *row = scores + (size_t)c * ni;
        for (int32_t i = 0; i < ni; i++) row[i] = row[i] - s->vsq[i] - pp[c]; /* -|p - v_i|^2 */
    }
    free(X), free(pp);
    return 0;
}

int crec__cml_points(const crec_model *m, const float **U, const float **V, int32_t *D) {
    if (!m || !m->state || m->type->score != cml_score) return CREC_EINVAL;
    const cml_state *s = m->state;
    *U = s->U;
    *V = s->V;
    *D = s->D;
    return 0;
}

static int cml_save(const crec_model *m, crec_buf *out) {
    const cml_state *s = m->state;
    int rc = crec__put_u32(out, (uint32_t)s->D);
    if (!rc) rc = crec_buf_write(out, s->U, (size_t)m->n_users * s->D * sizeof *s->U);
    if (!rc) rc = crec_buf_write(out, s->V, (size_t)m->n_items * s->D * sizeof *s->V);
    if (!rc) rc = crec_buf_write(out, s->user_trained, (size_t)m->n_users);
    return rc;
}

static int cml_load(crec_model *m, crec_buf *in) {
    uint32_t D;
    int rc = crec__get_u32(in, &D);
    if (rc) return rc;
    if (D < 1 || D > CML_MAX_D || m->n_users < 0 || m->n_items < 0) return CREC_EFORMAT;
    size_t need = ((size_t)m->n_users + (size_t)m->n_items) * D * sizeof(float) + (size_t)m->n_users;
    if (need > in->len - in->pos) return CREC_EFORMAT; /* before allocating what a corrupt size asks for */
    cml_state *s = cml_state_new(m->n_users, m->n_items, (int32_t)D);
    if (!s) return CREC_ENOMEM;
    rc = crec_buf_read(in, s->U, (size_t)m->n_users * D * sizeof *s->U);
    if (!rc) rc = crec_buf_read(in, s->V, (size_t)m->n_items * D * sizeof *s->V);
    if (!rc) rc = crec_buf_read(in, s->user_trained, (size_t)m->n_users);
    if (rc) {
        cml_state_free(s);
        return rc;
    }
    cml_update_vsq(s, m->n_items);
    m->state = s;
    return 0;
}

static void cml_free(crec_model *m) {
    cml_state_free(m->state);
    m->state = NULL;
}

const crec_model_type crec__model_cml = {
    .name = "cml",
    .summary = "collaborative metric learning; features=1 places items (cold ones too) by attributes and words",
    .params = CML_PARAMS,
    .train = cml_train,
    .score = cml_score,
    .score_batch = cml_score_batch,
    .save = cml_save,
    .load = cml_load,
    .free_state = cml_free,
    .caps = CREC_CAP_FEATURES,
};
