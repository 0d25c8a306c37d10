/* fm.c: the `fm` model: a second-order factorization machine (Rendle 2010) over one-hot user id, one-hot
 * item id, user features and item attributes, for rating prediction (squared loss on the training values)
 * or click prediction (logistic loss, `neg` sampled negatives per positive) on implicit data.
 *
 * The one idea: side features carry what ids cannot. A user or item with no training events has a zero
 * id factor (ids are initialised only where they occur in training), so a cold user is scored by its
 * features (gender, age band, occupation on MovieLens) and a cold item by its attributes (genres, brands).
 * A multi-valued field (name prefix before ':', e.g. the genres of a movie) with c values on a row gives each
 * the value 1/sqrt(c), so a movie with many genres does not outweigh its id.
 *
 * Solvers: `sgd` (default) walks the training events in a seeded shuffled order, one thread, so the same
 * seed gives the same model; `als` is coordinate descent on the squared loss (Rendle 2011: every w_j and
 * v_jf solved in closed form with the residuals cached), rating task only. Both minimise
 * sum_e L(y_e, t_e) + 1/2 sum_j n_j (reg_bias w_j^2 + reg |v_j|^2), n_j = examples where feature j is
 * active (SGD's per-update weight decay is this objective). Kernels and the state layout are in fm.h. */
#include "models/fm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"

static const crec_param_def FM_PARAMS[] = {
    CREC_P_INT("factors", "16", 1, 512, "latent dimension k of the pairwise interactions"),
    CREC_P_ENUM("task", "auto", "auto|rating|click",
                "rating (squared loss on rating values) | click (logistic loss with sampled negatives) | "
                "auto (rating when the dataset has ratings)"),
    CREC_P_ENUM("solver", "sgd", "sgd|als", "sgd | als (coordinate descent, rating task only)"),
    CREC_P_INT("epochs", "30", 0, 100000, "passes over the training events"),
    CREC_P_FLOAT_OR("lr", "auto", 1e-9, 9.999, "auto",
                    "SGD learning rate, decayed linearly to 0 over the epochs (auto: rating 0.01, click 0.05)"),
    CREC_P_FLOAT_OR("reg", "auto", 0, 999999, "auto",
                    "L2 strength on the factors v, per feature occurrence (auto: rating sgd 0.05, als 0.15, click 0.01)"),
    CREC_P_FLOAT("reg_bias", "0.01", 0, 999999, "L2 strength on the linear weights w, per feature occurrence (w0 is free)"),
    CREC_P_INT("neg", "4", 1, 1000, "click task: sampled negatives per positive (items with training events the user lacks)"),
    CREC_P_BOOL("use_user_features", "1", "1: user features of the dataset enter x (gender, age, occupation ...)"),
    CREC_P_BOOL("use_item_features", "1", "1: item attributes of the dataset enter x (genres, brands ...)"),
    CREC_P_FLOAT("drop_ids", "0", 0, 0.99,
                 "sgd: probability of leaving out the user id (and, independently, the item id) of a training "
                 "example, so that features learn to stand in for ids (cold start)"),
    CREC_P_FLOAT("init_std", "0.1", 0, 9.999, "std of the normal initialisation of v (ids and features that occur in training)"),
    CREC_P_END,
};

/* ---- state ---- */

int crec__fm_alloc(crec_fm *f, int32_t n_users, int32_t n_items, int32_t n_ufeat, int32_t n_ifeat, int k) {
    memset(f, 0, sizeof *f);
    if (n_users < 0 || n_items < 0 || n_ufeat < 0 || n_ifeat < 0 || k < 1 || k > CREC_FM_MAX_K) return CREC_EINVAL;
    int64_t nf = (int64_t)n_users + n_items + n_ufeat + n_ifeat;
    if (nf >= INT32_MAX) return CREC_EINVAL;
    f->n_users = n_users;
    f->n_items = n_items;
    f->n_ufeat = n_ufeat;
    f->n_ifeat = n_ifeat;
    f->n_feat = (int32_t)nf;
    f->k = k;
    f->n_params = 1 + (size_t)nf + (size_t)nf * (size_t)k;
    f->params = crec__aligned_alloc(f->n_params * sizeof *f->params);
    f->uf_ptr = calloc((size_t)n_users + 1, sizeof *f->uf_ptr);
    f->if_ptr = calloc((size_t)n_items + 1, sizeof *f->if_ptr);
    f->uf_idx = malloc(sizeof *f->uf_idx);
    f->if_idx = malloc(sizeof *f->if_idx);
    f->uf_val = malloc(sizeof *f->uf_val);
    f->if_val = malloc(sizeof *f->if_val);
    if (!f->params || !f->uf_ptr || !f->if_ptr || !f->uf_idx || !f->if_idx || !f->uf_val || !f->if_val) {
        crec__fm_free(f);
        return CREC_ENOMEM;
    }
    f->w0 = f->params;
    f->w = f->params + 1;
    f->v = f->params + 1 + nf;
    f->max_active = 2;
    return 0;
}

void crec__fm_free(crec_fm *f) {
    if (!f) return;
    free(f->params);
    free(f->uf_ptr);
    free(f->if_ptr);
    free(f->uf_idx);
    free(f->if_idx);
    free(f->uf_val);
    free(f->if_val);
    free(f->item_s);
    free(f->item_c);
    memset(f, 0, sizeof *f);
}

int crec__fm_example(const crec_fm *f, int32_t u, int32_t i, int32_t *idx, float *x) {
    int n = 0;
    if (u >= 0) {
        idx[n] = u;
        x[n++] = 1.0f;
        for (int64_t p = f->uf_ptr[u]; p < f->uf_ptr[u + 1]; p++) {
            idx[n] = f->uf_idx[p];
            x[n++] = f->uf_val[p];
        }
    }
    idx[n] = f->n_users + i;
    x[n++] = 1.0f;
    for (int64_t p = f->if_ptr[i]; p < f->if_ptr[i + 1]; p++) {
        idx[n] = f->if_idx[p];
        x[n++] = f->if_val[p];
    }
    return n;
}

double crec__fm_forward(const crec_fm *f, const int32_t *idx, const float *x, int n, double *q) {
    int k = f->k;
    double y = f->w0[0], sq = 0;
    for (int c = 0; c < k; c++) q[c] = 0;
    for (int a = 0; a < n; a++) {
        const float *vj = f->v + (size_t)idx[a] * k;
        double xa = x[a];
        y += (double)f->w[idx[a]] * xa;
        for (int c = 0; c < k; c++) {
            double t = (double)vj[c] * xa;
            q[c] += t;
            sq += t * t;
        }
    }
    double pair = 0;
    for (int c = 0; c < k; c++) pair += q[c] * q[c];
    return y + 0.5 * (pair - sq);
}

void crec__fm_backward(const crec_fm *f, const int32_t *idx, const float *x, int n, const double *q, double dy,
                       double *dw0, double *dw, double *dv) {
    int k = f->k;
    *dw0 = dy;
    for (int a = 0; a < n; a++) {
        const float *vj = f->v + (size_t)idx[a] * k;
        double xa = x[a];
        dw[a] = dy * xa;
        for (int c = 0; c < k; c++) dv[(size_t)a * k + c] = dy * xa * (q[c] - (double)vj[c] * xa);
    }
}

double crec__fm_loss(int task, double y, double t, double *dy) {
    if (task == CREC_FM_RATING) {
        *dy = y - t;
        return 0.5 * (y - t) * (y - t);
    }
    /* log(1 + e^y) - t y, written to stay finite for any y */
    double sp = (y > 0 ? y : 0) + log1p(exp(-fabs(y)));
    *dy = (y >= 0 ? 1.0 / (1.0 + exp(-y)) : exp(y) / (1.0 + exp(y))) - t;
    return sp - t * y;
}

double crec__fm_sgd_step(crec_fm *f, const int32_t *idx, const float *x, int n, double t, float lr, float reg,
                         float reg_bias, float *q) {
    int k = f->k;
    float *s2 = q + k;
    for (int c = 0; c < k; c++) q[c] = s2[c] = 0;
    double y = f->w0[0];
    for (int a = 0; a < n; a++) {
        const float *vj = f->v + (size_t)idx[a] * k;
        float xa = x[a];
        y += (double)f->w[idx[a]] * xa;
#pragma omp simd
        for (int c = 0; c < k; c++) {
            float tv = vj[c] * xa;
            q[c] += tv;
            s2[c] += tv * tv;
        }
    }
    float pair = 0;
#pragma omp simd reduction(+ : pair)
    for (int c = 0; c < k; c++) pair += q[c] * q[c] - s2[c];
    y += 0.5 * (double)pair;
    double dy;
    double loss = crec__fm_loss(f->task, y, t, &dy);
    float g = (float)dy;
    f->w0[0] -= lr * g;
    for (int a = 0; a < n; a++) {
        float *vj = f->v + (size_t)idx[a] * k, xa = x[a], gx = g * xa;
        f->w[idx[a]] -= lr * (gx + reg_bias * f->w[idx[a]]);
#pragma omp simd
        for (int c = 0; c < k; c++) vj[c] -= lr * (gx * (q[c] - vj[c] * xa) + reg * vj[c]);
    }
    return loss;
}

int crec__fm_refresh(crec_fm *f) {
    int k = f->k;
    float *s = realloc(f->item_s, ((size_t)f->n_items * k + 1) * sizeof *s);
    if (!s) return CREC_ENOMEM;
    f->item_s = s;
    float *c = realloc(f->item_c, ((size_t)f->n_items + 1) * sizeof *c);
    if (!c) return CREC_ENOMEM;
    f->item_c = c;
    int32_t *idx = malloc((size_t)f->max_active * sizeof *idx);
    float *x = malloc((size_t)f->max_active * sizeof *x);
    double *q = malloc((size_t)k * sizeof *q);
    if (!idx || !x || !q) {
        free(idx);
        free(x);
        free(q);
        return CREC_ENOMEM;
    }
    for (int32_t i = 0; i < f->n_items; i++) {
        int n = crec__fm_example(f, -1, i, idx, x);
        /* the item half alone: y - w0 = linear terms + pairwise terms among the item's own features */
        c[i] = (float)(crec__fm_forward(f, idx, x, n, q) - (double)f->w0[0]);
        for (int cc = 0; cc < k; cc++) s[(size_t)i * k + cc] = (float)q[cc];
    }
    free(idx);
    free(x);
    free(q);
    return 0;
}

/* ---- side features from the dataset ---- */

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Rows [0, n_rows) of (row_of[p], id_of[p]) pairs as a sorted, deduplicated CSR whose ids are shifted by base
 * and whose values are 1/sqrt(#values of the same field on the row); names[id] gives the field (prefix before
 * ':'). Pairs with a row or id out of range are ignored. On success the caller's ptr, idx and val arrays are
 * freed and replaced. */
static int side_csr(const crec_idmap *names, const int32_t *row_of, const int32_t *id_of, int64_t n_pairs,
                    int32_t n_rows, int32_t base, int64_t **ptr_io, int32_t **idx_io, float **val_io, int *max_row) {
    int32_t n_ids = names->n;
    int64_t *ptr = calloc((size_t)n_rows + 2, sizeof *ptr);
    int64_t *fill = malloc(((size_t)n_rows + 1) * sizeof *fill);
    int32_t *idx = malloc(((size_t)n_pairs + 1) * sizeof *idx);
    float *val = malloc(((size_t)n_pairs + 1) * sizeof *val);
    int32_t *field = malloc(((size_t)n_ids + 1) * sizeof *field);
    int32_t *fcnt = NULL;
    crec_idmap fields;
    crec_idmap_init(&fields);
    int rc = 0;
    if (!ptr || !fill || !idx || !val || !field) {
        rc = CREC_ENOMEM;
        goto done;
    }
    for (int32_t a = 0; a < n_ids; a++) {
        const char *nm = names->names[a], *colon = strchr(nm, ':');
        int32_t fid = crec_idmap_intern(&fields, nm, colon ? (size_t)(colon - nm) : 0);
        if (fid < 0) {
            rc = fid;
            goto done;
        }
        field[a] = fid;
    }
    fcnt = calloc((size_t)fields.n + 1, sizeof *fcnt);
    if (!fcnt) {
        rc = CREC_ENOMEM;
        goto done;
    }
    for (int64_t p = 0; p < n_pairs; p++)
        if (row_of[p] >= 0 && row_of[p] < n_rows && id_of[p] >= 0 && id_of[p] < n_ids) ptr[row_of[p] + 1]++;
    for (int32_t r = 0; r < n_rows; r++) ptr[r + 1] += ptr[r];
    memcpy(fill, ptr, ((size_t)n_rows + 1) * sizeof *fill);
    for (int64_t p = 0; p < n_pairs; p++)
        if (row_of[p] >= 0 && row_of[p] < n_rows && id_of[p] >= 0 && id_of[p] < n_ids)
            idx[fill[row_of[p]]++] = id_of[p];
    int64_t w = 0;
    int longest = 0;
    for (int32_t r = 0; r < n_rows; r++) {
        int64_t b = ptr[r], e = ptr[r + 1], start = w;
        qsort(idx + b, (size_t)(e - b), sizeof *idx, cmp_i32);
        ptr[r] = w;
        for (int64_t q = b; q < e; q++)
            if (q == b || idx[q] != idx[q - 1]) idx[w++] = idx[q];
        for (int64_t q = start; q < w; q++) fcnt[field[idx[q]]]++;
        for (int64_t q = start; q < w; q++) val[q] = 1.0f / sqrtf((float)fcnt[field[idx[q]]]);
        for (int64_t q = start; q < w; q++) {
            fcnt[field[idx[q]]] = 0;
            idx[q] += base;
        }
        if (w - start > longest) longest = (int)(w - start);
    }
    ptr[n_rows] = w;
    free(*ptr_io);
    free(*idx_io);
    free(*val_io);
    *ptr_io = ptr;
    *idx_io = idx;
    *val_io = val;
    *max_row = longest;
    ptr = NULL;
    idx = NULL;
    val = NULL;
done:
    free(ptr);
    free(fill);
    free(idx);
    free(val);
    free(field);
    free(fcnt);
    crec_idmap_free(&fields);
    return rc;
}

/* ---- training ---- */

typedef struct fm_hyper {
    int k, task, als, epochs, neg, use_u, use_i;
    double lr, reg, reg_bias, init_std, drop_ids;
} fm_hyper;

static int read_hyper(crec_model *m, const crec_train_input *in, fm_hyper *h) {
    int64_t k = crec_model_param_int(m, "factors"), ep = crec_model_param_int(m, "epochs");
    int64_t neg = crec_model_param_int(m, "neg");
    int64_t uu = crec_model_param_int(m, "use_user_features"), ui = crec_model_param_int(m, "use_item_features");
    const char *task = crec_model_param_str(m, "task"), *solver = crec_model_param_str(m, "solver");
    const char *lr = crec_model_param_str(m, "lr"), *reg = crec_model_param_str(m, "reg");
    h->reg_bias = crec_model_param_double(m, "reg_bias");
    h->init_std = crec_model_param_double(m, "init_std");
    h->drop_ids = crec_model_param_double(m, "drop_ids");
    if (k < 1 || k > CREC_FM_MAX_K || ep < 0 || ep > 100000 || neg < 1 || neg > 1000) return CREC_EINVAL;
    if ((uu != 0 && uu != 1) || (ui != 0 && ui != 1)) return CREC_EINVAL;
    if (strcmp(task, "rating") == 0) h->task = CREC_FM_RATING;
    else if (strcmp(task, "click") == 0) h->task = CREC_FM_CLICK;
    else if (strcmp(task, "auto") == 0) h->task = in->ds && in->ds->has_value ? CREC_FM_RATING : CREC_FM_CLICK;
    else return CREC_EINVAL;
    if (strcmp(solver, "sgd") == 0) h->als = 0;
    else if (strcmp(solver, "als") == 0) h->als = 1;
    else return CREC_EINVAL;
    /* "auto": the values tuned on ML-100K validation events (docs/RESULTS.md) */
    int rating = h->task == CREC_FM_RATING;
    h->lr = strcmp(lr, "auto") == 0 ? (rating ? 0.01 : 0.05) : crec_model_param_double(m, "lr");
    h->reg = strcmp(reg, "auto") == 0 ? (rating ? (h->als ? 0.15 : 0.05) : 0.01) : crec_model_param_double(m, "reg");
    if (!(h->lr > 0 && h->lr < 10) || !(h->reg >= 0 && h->reg < 1e6) || !(h->reg_bias >= 0 && h->reg_bias < 1e6) ||
        !(h->init_std >= 0 && h->init_std < 10) || !(h->drop_ids >= 0 && h->drop_ids < 1))
        return CREC_EINVAL;
    if (h->als && h->task != CREC_FM_RATING) return CREC_EINVAL;
    h->k = (int)k;
    h->epochs = (int)ep;
    h->neg = (int)neg;
    h->use_u = (int)uu;
    h->use_i = (int)ui;
    return 0;
}

/* Per-example scratch of one SGD or evaluation step. */
typedef struct fm_scratch {
    int32_t *idx;
    float *x, *qf;   /* qf [2k]: the SGD kernel's sums */
    double *q;       /* [k] */
} fm_scratch;

static void scratch_free(fm_scratch *s) {
    free(s->idx);
    free(s->x);
    free(s->q);
    free(s->qf);
}

static int scratch_alloc(fm_scratch *s, const crec_fm *f) {
    size_t n = (size_t)f->max_active;
    s->idx = malloc(n * sizeof *s->idx);
    s->x = malloc(n * sizeof *s->x);
    s->q = malloc((size_t)f->k * sizeof *s->q);
    s->qf = malloc(2 * (size_t)f->k * sizeof *s->qf);
    if (!s->idx || !s->x || !s->q || !s->qf) {
        scratch_free(s);
        return CREC_ENOMEM;
    }
    return 0;
}

/* One SGD step on example (u, i) with target t: theta -= lr (dL/dtheta + reg theta), reg_bias for w, w0 free.
 * drop: bit 1 leaves the user's id out of x, bit 2 the item's (their features stay). */
static double sgd_step(crec_fm *f, fm_scratch *s, int32_t u, int32_t i, double t, double lr, double reg,
                       double reg_bias, unsigned drop) {
    int n = crec__fm_example(f, u, i, s->idx, s->x);
    if (drop) {
        int w = 0;
        for (int a = 0; a < n; a++) {
            if (((drop & 1) && s->idx[a] == u) || ((drop & 2) && s->idx[a] == f->n_users + i)) continue;
            s->idx[w] = s->idx[a];
            s->x[w++] = s->x[a];
        }
        n = w;
    }
    return crec__fm_sgd_step(f, s->idx, s->x, n, t, (float)lr, (float)reg, (float)reg_bias, s->qf);
}

/* Root mean squared error of the model on the events of m (0 when m has none). */
static double csr_rmse(const crec_fm *f, fm_scratch *s, const crec_csr *m) {
    double se = 0;
    int64_t n = 0;
    for (int32_t u = 0; m && m->ptr && u < m->n_rows && u < f->n_users; u++)
        for (int64_t p = m->ptr[u]; p < m->ptr[u + 1]; p++) {
            int na = crec__fm_example(f, u, m->idx[p], s->idx, s->x);
            double e = crec__fm_forward(f, s->idx, s->x, na, s->q) - (double)m->val[p];
            se += e * e;
            n++;
        }
    return n ? sqrt(se / (double)n) : 0;
}

/* Distinct items per user row (sorted) for negative sampling, and the items that have training events. */
typedef struct fm_rows {
    int64_t *ptr;
    int32_t *item;
    int32_t *trained, n_trained;
} fm_rows;

static void rows_free(fm_rows *r) {
    free(r->ptr);
    free(r->item);
    free(r->trained);
}

static int rows_build(fm_rows *r, const crec_csr *x, int32_t n_items) {
    int64_t nnz = crec_csr_nnz(x);
    r->ptr = malloc(((size_t)x->n_rows + 1) * sizeof *r->ptr);
    r->item = malloc(((size_t)nnz + 1) * sizeof *r->item);
    r->trained = malloc(((size_t)n_items + 1) * sizeof *r->trained);
    uint8_t *seen = calloc((size_t)n_items + 1, 1);
    if (!r->ptr || !r->item || !r->trained || !seen) {
        free(seen);
        rows_free(r);
        return CREC_ENOMEM;
    }
    int64_t w = 0;
    for (int32_t u = 0; u < x->n_rows; u++) {
        int64_t b = w;
        r->ptr[u] = w;
        for (int64_t p = x->ptr[u]; p < x->ptr[u + 1]; p++) r->item[w++] = x->idx[p];
        qsort(r->item + b, (size_t)(w - b), sizeof *r->item, cmp_i32);
        int64_t d = b;
        for (int64_t p = b; p < w; p++)
            if (p == b || r->item[p] != r->item[p - 1]) r->item[d++] = r->item[p];
        w = d;
    }
    r->ptr[x->n_rows] = w;
    for (int64_t p = 0; p < nnz; p++) seen[x->idx[p]] = 1;
    r->n_trained = 0;
    for (int32_t i = 0; i < n_items; i++)
        if (seen[i]) r->trained[r->n_trained++] = i;
    free(seen);
    return 0;
}

static int row_has(const fm_rows *r, int32_t u, int32_t i) {
    const int32_t *b = r->item + r->ptr[u];
    size_t n = (size_t)(r->ptr[u + 1] - r->ptr[u]);
    return bsearch(&i, b, n, sizeof *b, cmp_i32) != NULL;
}

/* A negative for u: uniform over items with training events that u lacks; -1 after 32 rejected draws (only a
 * user who has nearly every item gets there). Items never trained are never negatives: their place comes
 * from their attributes and must not be pushed down for everyone. */
static int32_t draw_negative(const fm_rows *r, crec_rng *rng, int32_t u) {
    for (int t = 0; t < 32 && r->n_trained > 0; t++) {
        int32_t j = r->trained[crec__rng_below(rng, (uint64_t)r->n_trained)];
        if (!row_has(r, u, j)) return j;
    }
    return -1;
}

/* Coordinate descent for the squared loss on the n_ex examples (ex_user, ex_item, target): per epoch w0, every
 * w_j, then for each factor c every v_jc, each solved exactly given the others, residuals e = y - t and
 * q_c = sum_j v_jc x_j kept current. lambda_j = reg n_j (see the file comment). One thread, deterministic. */
static int als_fit(crec_fm *f, const fm_hyper *h, const int32_t *ex_user, const int32_t *ex_item, const float *target,
                   int64_t n_ex, const crec_train_input *in) {
    int k = f->k;
    int32_t nf = f->n_feat;
    /* the design matrix by example (rows) and by feature (columns) */
    int64_t *rptr = malloc(((size_t)n_ex + 1) * sizeof *rptr);
    int64_t *cptr = calloc((size_t)nf + 2, sizeof *cptr);
    fm_scratch s = {0};
    int rc = scratch_alloc(&s, f);
    int64_t nnz = 0;
    if (!rptr || !cptr || rc) {
        free(rptr);
        free(cptr);
        if (!rc) scratch_free(&s);
        return CREC_ENOMEM;
    }
    for (int64_t e = 0; e < n_ex; e++) {
        rptr[e] = nnz;
        nnz += crec__fm_example(f, ex_user[e], ex_item[e], s.idx, s.x);
    }
    rptr[n_ex] = nnz;
    int32_t *ridx = malloc(((size_t)nnz + 1) * sizeof *ridx), *cex = malloc(((size_t)nnz + 1) * sizeof *cex);
    float *rx = malloc(((size_t)nnz + 1) * sizeof *rx), *cx = malloc(((size_t)nnz + 1) * sizeof *cx);
    double *err = malloc(((size_t)n_ex + 1) * sizeof *err), *q = malloc(((size_t)n_ex + 1) * sizeof *q);
    int64_t *fill = malloc(((size_t)nf + 1) * sizeof *fill);
    if (!ridx || !cex || !rx || !cx || !err || !q || !fill) {
        rc = CREC_ENOMEM;
        goto done;
    }
    for (int64_t e = 0; e < n_ex; e++) {
        crec__fm_example(f, ex_user[e], ex_item[e], ridx + rptr[e], rx + rptr[e]);
        for (int64_t p = rptr[e]; p < rptr[e + 1]; p++) cptr[ridx[p] + 1]++;
    }
    for (int32_t j = 0; j < nf; j++) cptr[j + 1] += cptr[j];
    memcpy(fill, cptr, ((size_t)nf + 1) * sizeof *fill);
    for (int64_t e = 0; e < n_ex; e++)
        for (int64_t p = rptr[e]; p < rptr[e + 1]; p++) {
            cex[fill[ridx[p]]] = (int32_t)e;
            cx[fill[ridx[p]]++] = rx[p];
        }
    for (int64_t e = 0; e < n_ex; e++) {
        int na = (int)(rptr[e + 1] - rptr[e]);
        err[e] = crec__fm_forward(f, ridx + rptr[e], rx + rptr[e], na, s.q) - (double)target[e];
    }
    crec_progress pg;
    crec__progress_start(&pg, "fm als", h->epochs, in->verbose);
    for (int ep = 0; ep < h->epochs; ep++) {
        /* w0: unregularised mean of the residual */
        double se = 0;
        for (int64_t e = 0; e < n_ex; e++) se += err[e];
        double d0 = n_ex ? -se / (double)n_ex : 0;
        f->w0[0] += (float)d0;
        for (int64_t e = 0; e < n_ex; e++) err[e] += d0;
        /* w_j: h = x_j */
        for (int32_t j = 0; j < nf; j++) {
            int64_t b = cptr[j], end = cptr[j + 1];
            if (b == end) continue;
            double hh = 0, eh = 0;
            for (int64_t p = b; p < end; p++) {
                hh += (double)cx[p] * cx[p];
                eh += err[cex[p]] * cx[p];
            }
            double old = f->w[j], nw = (old * hh - eh) / (hh + h->reg_bias * (double)(end - b));
            f->w[j] = (float)nw;
            double d = (double)f->w[j] - old;
            for (int64_t p = b; p < end; p++) err[cex[p]] += d * cx[p];
        }
        /* v_jc: h = x_j (q_c - v_jc x_j) */
        for (int c = 0; c < k; c++) {
            for (int64_t e = 0; e < n_ex; e++) {
                double t = 0;
                for (int64_t p = rptr[e]; p < rptr[e + 1]; p++) t += (double)f->v[(size_t)ridx[p] * k + c] * rx[p];
                q[e] = t;
            }
            for (int32_t j = 0; j < nf; j++) {
                int64_t b = cptr[j], end = cptr[j + 1];
                if (b == end) continue;
                float *vjc = f->v + (size_t)j * k + c;
                double old = *vjc, hh = 0, eh = 0;
                for (int64_t p = b; p < end; p++) {
                    double hv = cx[p] * (q[cex[p]] - old * cx[p]);
                    hh += hv * hv;
                    eh += err[cex[p]] * hv;
                }
                *vjc = (float)((old * hh - eh) / (hh + h->reg * (double)(end - b)));
                double d = (double)*vjc - old;
                for (int64_t p = b; p < end; p++) {
                    double hv = cx[p] * (q[cex[p]] - old * cx[p]);
                    err[cex[p]] += d * hv;
                    q[cex[p]] += d * cx[p];
                }
            }
        }
        if (in->verbose) {
            double sq = 0;
            for (int64_t e = 0; e < n_ex; e++) sq += err[e] * err[e];
            crec__log("fm als epoch %d: train RMSE %.4f, valid RMSE %.4f", ep + 1,
                      n_ex ? sqrt(sq / (double)n_ex) : 0.0, csr_rmse(f, &s, in->valid));
        }
        crec__progress_update(&pg, ep + 1);
    }
    crec__progress_end(&pg);
done:
    scratch_free(&s);
    free(rptr);
    free(cptr);
    free(ridx);
    free(cex);
    free(rx);
    free(cx);
    free(err);
    free(q);
    free(fill);
    return rc;
}

static int sgd_fit(crec_fm *f, const fm_hyper *h, const int32_t *ex_user, const int32_t *ex_item, const float *target,
                   int64_t n_ex, const crec_train_input *in, crec_rng *rng) {
    fm_scratch s = {0};
    fm_rows rows = {0};
    int64_t *order = malloc(((size_t)n_ex + 1) * sizeof *order);
    int rc = scratch_alloc(&s, f);
    if (!rc && h->task == CREC_FM_CLICK) rc = rows_build(&rows, in->train, f->n_items);
    if (!rc && !order) rc = CREC_ENOMEM;
    if (rc) {
        free(order);
        if (s.idx) scratch_free(&s);
        return rc;
    }
    for (int64_t e = 0; e < n_ex; e++) order[e] = e;
    crec_progress pg;
    crec__progress_start(&pg, "fm sgd", h->epochs, in->verbose);
    for (int ep = 0; ep < h->epochs; ep++) {
        for (int64_t e = n_ex - 1; e > 0; e--) {
            int64_t r = (int64_t)crec__rng_below(rng, (uint64_t)e + 1), t = order[e];
            order[e] = order[r];
            order[r] = t;
        }
        double loss = 0, lr = h->lr * (1.0 - (double)ep / (double)h->epochs); /* linear decay to 0 */
        int64_t n_steps = 0;
        for (int64_t o = 0; o < n_ex; o++) {
            int64_t e = order[o];
            int32_t u = ex_user[e];
            unsigned drop = 0;
            if (h->drop_ids > 0)
                drop = (crec__rng_uniform(rng) < h->drop_ids ? 1u : 0u) |
                       (crec__rng_uniform(rng) < h->drop_ids ? 2u : 0u);
            loss += sgd_step(f, &s, u, ex_item[e], target[e], lr, h->reg, h->reg_bias, drop);
            n_steps++;
            for (int c = 0; h->task == CREC_FM_CLICK && c < h->neg; c++) {
                int32_t j = draw_negative(&rows, rng, u);
                if (j < 0) break;
                loss += sgd_step(f, &s, u, j, 0.0, lr, h->reg, h->reg_bias, drop);
                n_steps++;
            }
        }
        if (!isfinite(loss)) {
            rc = CREC_ERANGE; /* diverged: lr too large for this data */
            break;
        }
        if (in->verbose) {
            if (h->task == CREC_FM_RATING)
                crec__log("fm sgd epoch %d: train loss %.4f (RMSE %.4f), valid RMSE %.4f", ep + 1,
                          loss / (double)(n_steps ? n_steps : 1), sqrt(2 * loss / (double)(n_steps ? n_steps : 1)),
                          csr_rmse(f, &s, in->valid));
            else
                crec__log("fm sgd epoch %d: train log loss %.4f over %lld examples", ep + 1,
                          loss / (double)(n_steps ? n_steps : 1), (long long)n_steps);
        }
        crec__progress_update(&pg, ep + 1);
    }
    crec__progress_end(&pg);
    scratch_free(&s);
    rows_free(&rows);
    free(order);
    return rc;
}

static void fm_free_model(crec_model *m) {
    crec_fm *f = m->state;
    crec__fm_free(f);
    free(f);
    m->state = NULL;
}

static int fm_train(crec_model *m, const crec_train_input *in) {
    fm_hyper h;
    int rc = read_hyper(m, in, &h);
    if (rc) return rc;
    /* record what "auto" resolved to, so the checkpoint and reports say which loss and rates were used */
    char num[32];
    crec_config_set(&m->cfg, "task", h.task == CREC_FM_RATING ? "rating" : "click");
    snprintf(num, sizeof num, "%g", h.lr);
    crec_config_set(&m->cfg, "lr", num);
    snprintf(num, sizeof num, "%g", h.reg);
    crec_config_set(&m->cfg, "reg", num);
    const crec_csr *x = in->train;
    const crec_dataset *ds = in->ds;
    int32_t nu = m->n_users, ni = m->n_items;
    int use_u = h.use_u && ds && ds->n_uattr_pairs > 0 && ds->users.n == nu;
    int use_i = h.use_i && ds && ds->n_attr_pairs > 0 && ds->items.n == ni;
    crec_fm *f = calloc(1, sizeof *f);
    if (!f) return CREC_ENOMEM;
    rc = crec__fm_alloc(f, nu, ni, use_u ? ds->user_attrs.n : 0, use_i ? ds->attrs.n : 0, h.k);
    if (rc) {
        free(f);
        return rc;
    }
    f->task = h.task;
    int lu = 0, li = 0;
    if (use_u)
        rc = side_csr(&ds->user_attrs, ds->uattr_user, ds->uattr_id, ds->n_uattr_pairs, nu, nu + ni, &f->uf_ptr,
                      &f->uf_idx, &f->uf_val, &lu);
    if (!rc && use_i)
        rc = side_csr(&ds->attrs, ds->attr_item, ds->attr_id, ds->n_attr_pairs, ni, nu + ni + f->n_ufeat, &f->if_ptr,
                      &f->if_idx, &f->if_val, &li);
    f->max_active = 2 + lu + li;
    int64_t n_ex = crec_csr_nnz(x);
    int32_t *ex_user = malloc(((size_t)n_ex + 1) * sizeof *ex_user);
    uint8_t *seen = calloc((size_t)f->n_feat + 1, 1);
    float *target = malloc(((size_t)n_ex + 1) * sizeof *target);
    int32_t *idx = malloc((size_t)f->max_active * sizeof *idx);
    float *xv = malloc((size_t)f->max_active * sizeof *xv);
    if (!rc && (!ex_user || !seen || !target || !idx || !xv)) rc = CREC_ENOMEM;
    if (rc) goto done;

    /* examples; features that occur in some training example get a random v, the rest stay zero */
    double tsum = 0;
    for (int32_t u = 0; u < x->n_rows; u++)
        for (int64_t p = x->ptr[u]; p < x->ptr[u + 1]; p++) {
            ex_user[p] = u;
            target[p] = h.task == CREC_FM_RATING ? x->val[p] : 1.0f;
            tsum += target[p];
            int n = crec__fm_example(f, u, x->idx[p], idx, xv);
            for (int a = 0; a < n; a++) seen[idx[a]] = 1;
        }
    crec_rng rng;
    crec__rng_seed(&rng, in->seed);
    for (int32_t j = 0; j < f->n_feat; j++)
        for (int c = 0; seen[j] && c < f->k; c++)
            f->v[(size_t)j * f->k + c] = (float)(h.init_std * crec__rng_normal(&rng));
    /* w0 starts at the mean rating, or at the log-odds of a positive among 1 + neg examples */
    if (h.task == CREC_FM_RATING) f->w0[0] = n_ex ? (float)(tsum / (double)n_ex) : 0.0f;
    else f->w0[0] = (float)-log((double)h.neg);

    if (h.als) rc = als_fit(f, &h, ex_user, x->idx, target, n_ex, in);
    else rc = sgd_fit(f, &h, ex_user, x->idx, target, n_ex, in, &rng);
    if (!rc) rc = crec__fm_refresh(f);
done:
    free(ex_user);
    free(seen);
    free(target);
    free(idx);
    free(xv);
    if (rc) {
        crec__fm_free(f);
        free(f);
        return rc;
    }
    m->state = f;
    return 0;
}

/* ---- scoring ---- */

/* sum_c a[c] b[c] with 8 independent partial sums (vectorisable without -ffast-math). */
static inline float dotf(const float *a, const float *b, int n) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int c = 0;
    for (; c + 8 <= n; c += 8)
        for (int l = 0; l < 8; l++) s[l] += a[c + l] * b[c + l];
    float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; c < n; c++) r += a[c] * b[c];
    return r;
}

/* y(u, i) for every item: w0 + (user half: linear + own pairs) + item_c[i] + <s_u, item_s[i]>. An anonymous
 * context (user < 0) has no user half: the global bias plus the item terms. */
static int fm_score(const crec_model *m, const crec_context *ctx, float *scores) {
    const crec_fm *f = m->state;
    int k = f->k;
    double su[CREC_FM_MAX_K];
    float suf[CREC_FM_MAX_K];
    double base = f->w0[0], sq = 0;
    for (int c = 0; c < k; c++) su[c] = 0;
    if (ctx->user >= 0 && ctx->user < f->n_users) {
        int32_t u = ctx->user;
        int64_t nf = f->uf_ptr[u + 1] - f->uf_ptr[u];
        for (int64_t a = -1; a < nf; a++) { /* a = -1: the user's id, then its features */
            int32_t j = a < 0 ? u : f->uf_idx[f->uf_ptr[u] + a];
            double xj = a < 0 ? 1.0 : (double)f->uf_val[f->uf_ptr[u] + a];
            const float *vj = f->v + (size_t)j * k;
            base += (double)f->w[j] * xj;
            for (int c = 0; c < k; c++) {
                double t = (double)vj[c] * xj;
                su[c] += t;
                sq += t * t;
            }
        }
        double pair = 0;
        for (int c = 0; c < k; c++) pair += su[c] * su[c];
        base += 0.5 * (pair - sq);
    }
    for (int c = 0; c < k; c++) suf[c] = (float)su[c];
    float b = (float)base;
    for (int32_t i = 0; i < f->n_items; i++) scores[i] = b + f->item_c[i] + dotf(suf, f->item_s + (size_t)i * k, k);
    return 0;
}

/* ---- checkpoint payload: shape, parameter block, feature rows ---- */

static int put_rows(crec_buf *b, const int64_t *ptr, const int32_t *idx, const float *val, int32_t n) {
    int64_t nnz = ptr[n];
    int rc = crec_buf_write(b, ptr, ((size_t)n + 1) * sizeof *ptr);
    if (!rc) rc = crec_buf_write(b, idx, (size_t)nnz * sizeof *idx);
    if (!rc) rc = crec_buf_write(b, val, (size_t)nnz * sizeof *val);
    return rc;
}

static int fm_save(const crec_model *m, crec_buf *out) {
    const crec_fm *f = m->state;
    int rc = crec__put_u32(out, (uint32_t)f->k);
    if (!rc) rc = crec__put_u32(out, (uint32_t)f->task);
    if (!rc) rc = crec__put_u32(out, (uint32_t)f->n_users);
    if (!rc) rc = crec__put_u32(out, (uint32_t)f->n_items);
    if (!rc) rc = crec__put_u32(out, (uint32_t)f->n_ufeat);
    if (!rc) rc = crec__put_u32(out, (uint32_t)f->n_ifeat);
    if (!rc) rc = crec_buf_write(out, f->params, f->n_params * sizeof *f->params);
    if (!rc) rc = put_rows(out, f->uf_ptr, f->uf_idx, f->uf_val, f->n_users);
    if (!rc) rc = put_rows(out, f->if_ptr, f->if_idx, f->if_val, f->n_items);
    return rc;
}

/* Read n + 1 row pointers and their (idx, val) entries; every idx must lie in [lo, hi), every value be finite,
 * the pointers start at 0 and never decrease. *longest gets the longest row. */
static int get_rows(crec_buf *b, int32_t n, int32_t lo, int32_t hi, int64_t **ptr, int32_t **idx, float **val,
                    int *longest) {
    int rc = crec_buf_read(b, *ptr, ((size_t)n + 1) * sizeof **ptr);
    if (rc) return rc;
    if ((*ptr)[0] != 0) return CREC_EFORMAT;
    *longest = 0;
    for (int32_t r = 0; r < n; r++) {
        int64_t len = (*ptr)[r + 1] - (*ptr)[r];
        if (len < 0 || len > hi - lo) return CREC_EFORMAT;
        if (len > *longest) *longest = (int)len;
    }
    int64_t nnz = (*ptr)[n];
    if ((uint64_t)nnz > (b->len - b->pos) / 8) return CREC_EFORMAT;
    free(*idx);
    free(*val);
    *idx = malloc(((size_t)nnz + 1) * sizeof **idx);
    *val = malloc(((size_t)nnz + 1) * sizeof **val);
    if (!*idx || !*val) return CREC_ENOMEM;
    rc = crec_buf_read(b, *idx, (size_t)nnz * sizeof **idx);
    if (!rc) rc = crec_buf_read(b, *val, (size_t)nnz * sizeof **val);
    for (int64_t p = 0; !rc && p < nnz; p++)
        if ((*idx)[p] < lo || (*idx)[p] >= hi || !isfinite((*val)[p])) rc = CREC_EFORMAT;
    return rc;
}

static int fm_load(crec_model *m, crec_buf *in) {
    uint32_t k, task, nu, ni, nuf, nif;
    int rc = crec__get_u32(in, &k);
    if (!rc) rc = crec__get_u32(in, &task);
    if (!rc) rc = crec__get_u32(in, &nu);
    if (!rc) rc = crec__get_u32(in, &ni);
    if (!rc) rc = crec__get_u32(in, &nuf);
    if (!rc) rc = crec__get_u32(in, &nif);
    if (rc) return rc;
    if (task > CREC_FM_CLICK || nu != (uint32_t)m->n_users || ni != (uint32_t)m->n_items || k < 1 ||
        k > CREC_FM_MAX_K || nuf > (1u << 28) || nif > (1u << 28))
        return CREC_EFORMAT;
    /* the parameter block must be in the buffer before we allocate for it */
    uint64_t nfeat = (uint64_t)nu + ni + nuf + nif;
    if ((1 + nfeat + nfeat * k) * sizeof(float) > in->len - in->pos) return CREC_EFORMAT;
    crec_fm *f = calloc(1, sizeof *f);
    if (!f) return CREC_ENOMEM;
    rc = crec__fm_alloc(f, (int32_t)nu, (int32_t)ni, (int32_t)nuf, (int32_t)nif, (int)k);
    if (rc) {
        free(f);
        return rc == CREC_EINVAL ? CREC_EFORMAT : rc;
    }
    f->task = (int)task;
    int lu = 0, li = 0;
    rc = crec_buf_read(in, f->params, f->n_params * sizeof *f->params);
    int32_t fbase = f->n_users + f->n_items;
    if (!rc) rc = get_rows(in, f->n_users, fbase, fbase + f->n_ufeat, &f->uf_ptr, &f->uf_idx, &f->uf_val, &lu);
    if (!rc)
        rc = get_rows(in, f->n_items, fbase + f->n_ufeat, f->n_feat, &f->if_ptr, &f->if_idx, &f->if_val, &li);
    if (!rc) {
        f->max_active = 2 + lu + li;
        rc = crec__fm_refresh(f);
    }
    if (rc) {
        crec__fm_free(f);
        free(f);
        return rc;
    }
    m->state = f;
    return 0;
}

/* ALS here is coordinate descent on the squared loss: the rating task only. */
static int fm_check(const crec_model *m, char *err, size_t errn) {
    if (!strcmp(crec_model_param_str(m, "solver"), "als") && !strcmp(crec_model_param_str(m, "task"), "click")) {
        crec__errf(err, errn, "model 'fm': 'solver' = 'als' needs 'task' = 'rating' (or auto on rated data), not click");
        return CREC_EINVAL;
    }
    return 0;
}

const crec_model_type crec__model_fm = {
    .name = "fm",
    .summary = "factorization machine over user/item ids, user features and item attributes (rating or click)",
    .params = FM_PARAMS,
    .train = fm_train,
    .score = fm_score,
    .save = fm_save,
    .load = fm_load,
    .free_state = fm_free_model,
    .caps = CREC_CAP_FEATURES,
    .check = fm_check,
};
