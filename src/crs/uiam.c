/* uiam.c: the user-item-attribute model shared by the conversational policies: EAR / SCPR's factorisation
 * machine, s(u, i | P) = u.v_i + sum_{p in P} v_i.p, trained with BPR and attribute-aware negatives.
 *
 * The one idea: the model is trained the way it is used. In a conversation the candidates all share the
 * accepted attributes, so ranking among them is what matters; each positive therefore comes with a random set
 * P of its own attributes (as if accepted) and is contrasted with a random item and with an item that also has
 * P's first attribute (the attribute-aware negative of EAR). A second BPR term teaches the attribute vectors to
 * predict the target's other attributes from (u, P), EAR's attribute-prediction loss. Plain SGD, one thread,
 * deterministic for a seed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"
#include "crs/crs_internal.h"

#define UIAM_MAGIC "CRECCRS\1"
#define UIAM_VERSION 1
#define MAX_GIVEN 8

void crec__crs_uiam_defaults(crec_crs_uiam_opts *o) {
    memset(o, 0, sizeof *o);
    o->dim = 64;
    o->epochs = 30;
    o->lr = 0.02f;
    o->reg = 0.001f;
    o->max_given = 2;
    o->attr_loss = 1;
    o->seed = 42;
}

void crec__crs_uiam_free(crec_crs_uiam *m) {
    if (!m) return;
    free(m->w);
    free(m);
}

static crec_crs_uiam *uiam_alloc(int32_t nu, int32_t ni, int32_t na, int32_t d) {
    crec_crs_uiam *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->n_users = nu, m->n_items = ni, m->n_attrs = na, m->dim = d;
    size_t n = ((size_t)nu + (size_t)ni + (size_t)na) * (size_t)d;
    m->w = malloc((n ? n : 1) * sizeof *m->w);
    if (!m->w) {
        free(m);
        return NULL;
    }
    m->U = m->w;
    m->V = m->U + (size_t)nu * d;
    m->A = m->V + (size_t)ni * d;
    return m;
}

static float dot(const float *a, const float *b, int d) {
    float s = 0;
    for (int k = 0; k < d; k++) s += a[k] * b[k];
    return s;
}

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

/* 1 when item i is in the sorted-by-nothing row [b, e) of the train CSR (linear scan: rows are short). */
static int in_row(const crec_csr *m, int32_t u, int32_t i) {
    for (int64_t k = m->ptr[u]; k < m->ptr[u + 1]; k++)
        if (m->idx[k] == i) return 1;
    return 0;
}

int crec__crs_uiam_train(const crec_crs_catalog *c, const crec_split *s, const crec_crs_uiam_opts *o,
                         crec_crs_uiam **out) {
    *out = NULL;
    if (o->dim < 1 || o->dim > 1024 || o->epochs < 0 || o->max_given < 1 || o->max_given > MAX_GIVEN)
        return CREC_EINVAL;
    const crec_csr *tr = &s->train;
    int64_t nnz = crec_csr_nnz(tr);
    if (nnz == 0) return CREC_EEMPTY;
    int d = o->dim;
    crec_crs_uiam *m = uiam_alloc(c->n_users, c->n_items, c->n_attrs, d);
    if (!m) return CREC_ENOMEM;
    crec_rng rng;
    crec__rng_seed(&rng, o->seed);
    size_t nw = ((size_t)c->n_users + (size_t)c->n_items + (size_t)c->n_attrs) * (size_t)d;
    for (size_t k = 0; k < nw; k++) m->w[k] = (float)(crec__rng_normal(&rng) * 0.01);
    int64_t *ord = malloc((size_t)nnz * sizeof *ord);
    int32_t *urow = malloc((size_t)nnz * sizeof *urow);
    float *q = malloc((size_t)d * sizeof *q), *gq = malloc((size_t)d * sizeof *gq);
    float *tmp = malloc((size_t)d * sizeof *tmp);
    if (!ord || !urow || !q || !gq || !tmp) {
        free(ord), free(urow), free(q), free(gq), free(tmp);
        crec__crs_uiam_free(m);
        return CREC_ENOMEM;
    }
    for (int32_t u = 0; u < tr->n_rows; u++)
        for (int64_t k = tr->ptr[u]; k < tr->ptr[u + 1]; k++) urow[k] = u;
    double t0 = crec__now();
    const float lr = o->lr, reg = o->reg;
    for (int ep = 0; ep < o->epochs; ep++) {
        for (int64_t k = 0; k < nnz; k++) ord[k] = k;
        for (int64_t k = nnz - 1; k > 0; k--) {
            int64_t j = (int64_t)crec__rng_below(&rng, (uint64_t)k + 1), t = ord[k];
            ord[k] = ord[j];
            ord[j] = t;
        }
        double loss = 0;
        int64_t nloss = 0;
        for (int64_t kk = 0; kk < nnz; kk++) {
            int64_t k = ord[kk];
            int32_t u = urow[k], i = tr->idx[k];
            int64_t ab = c->ia_ptr[i], na = c->ia_ptr[i + 1] - ab;
            if (na == 0) continue;
            /* P: a random subset of i's attributes, 1 .. max_given (partial shuffle of indices) */
            int32_t given[MAX_GIVEN];
            int ng = 1 + (int)crec__rng_below(&rng, (uint64_t)(na < o->max_given ? na : o->max_given));
            for (int g = 0; g < ng; g++) {
                int32_t a;
                int dup;
                do {
                    a = c->ia_idx[ab + (int64_t)crec__rng_below(&rng, (uint64_t)na)];
                    dup = 0;
                    for (int h = 0; h < g; h++) dup |= given[h] == a;
                } while (dup);
                given[g] = a;
            }
            float *uu = m->U + (size_t)u * d, *vi = m->V + (size_t)i * d;
            /* q = u + sum_P p : the query the item vectors are scored against */
            for (int x = 0; x < d; x++) q[x] = uu[x];
            for (int g = 0; g < ng; g++) {
                const float *p = m->A + (size_t)given[g] * d;
                for (int x = 0; x < d; x++) q[x] += p[x];
            }
            memset(gq, 0, (size_t)d * sizeof *gq);
            /* two negatives: random item, then an item sharing P's first attribute */
            for (int neg = 0; neg < 2; neg++) {
                int32_t j = -1;
                for (int tries = 0; tries < 20 && j < 0; tries++) {
                    int32_t cand;
                    if (neg == 0) cand = (int32_t)crec__rng_below(&rng, (uint64_t)c->n_items);
                    else {
                        int32_t a = given[0];
                        int64_t lo = c->ai_ptr[a], n = c->ai_ptr[a + 1] - lo;
                        cand = c->ai_idx[lo + (int64_t)crec__rng_below(&rng, (uint64_t)n)];
                    }
                    if (cand != i && !in_row(tr, u, cand)) j = cand;
                }
                if (j < 0) continue;
                float *vj = m->V + (size_t)j * d;
                float x = dot(q, vi, d) - dot(q, vj, d);
                float g = sigm(-x); /* d(-ln sigm(x))/dx = -sigm(-x) */
                loss += -logf(sigm(x) + 1e-12f);
                nloss++;
                for (int y = 0; y < d; y++) {
                    gq[y] += g * (vi[y] - vj[y]);
                    float dvi = g * q[y] - reg * vi[y], dvj = -g * q[y] - reg * vj[y];
                    vi[y] += lr * dvi;
                    vj[y] += lr * dvj;
                }
            }
            /* attribute prediction: a held-out attribute of i above one i lacks, given (u, P) */
            if (o->attr_loss && na > ng) {
                int32_t ap = -1, an = -1;
                for (int tries = 0; tries < 20 && ap < 0; tries++) {
                    int32_t a = c->ia_idx[ab + (int64_t)crec__rng_below(&rng, (uint64_t)na)];
                    int dup = 0;
                    for (int h = 0; h < ng; h++) dup |= given[h] == a;
                    if (!dup) ap = a;
                }
                for (int tries = 0; tries < 20 && an < 0; tries++) {
                    int32_t a = (int32_t)crec__rng_below(&rng, (uint64_t)c->n_attrs);
                    if (!crec_crs_item_has(c, i, a)) an = a;
                }
                if (ap >= 0 && an >= 0) {
                    float *pp = m->A + (size_t)ap * d, *pn = m->A + (size_t)an * d;
                    float x = dot(q, pp, d) - dot(q, pn, d);
                    float g = sigm(-x);
                    loss += -logf(sigm(x) + 1e-12f);
                    nloss++;
                    for (int y = 0; y < d; y++) {
                        gq[y] += g * (pp[y] - pn[y]);
                        float dpp = g * q[y] - reg * pp[y], dpn = -g * q[y] - reg * pn[y];
                        pp[y] += lr * dpp;
                        pn[y] += lr * dpn;
                    }
                }
            }
            /* the query's gradient flows to u and to every given attribute */
            for (int y = 0; y < d; y++) tmp[y] = gq[y];
            for (int y = 0; y < d; y++) uu[y] += lr * (tmp[y] - reg * uu[y]);
            for (int g = 0; g < ng; g++) {
                float *p = m->A + (size_t)given[g] * d;
                for (int y = 0; y < d; y++) p[y] += lr * (tmp[y] - reg * p[y]);
            }
        }
        if (o->verbose)
            fprintf(stderr, "crs uiam: epoch %d/%d  loss %.4f  (%.1fs)\n", ep + 1, o->epochs,
                    nloss ? loss / (double)nloss : 0.0, crec__now() - t0);
    }
    m->train_s = crec__now() - t0;
    m->epochs = o->epochs;
    crec_split_spec_format(&s->spec, m->split, sizeof m->split);
    free(ord), free(urow), free(q), free(gq), free(tmp);
    *out = m;
    return 0;
}

int crec__crs_uiam_save(const crec_crs_uiam *m, const char *path) {
    crec_buf b;
    memset(&b, 0, sizeof b);
    int rc = crec__put_u32(&b, (uint32_t)m->n_users);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)m->n_items);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)m->n_attrs);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)m->dim);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)m->epochs);
    if (!rc) rc = crec__put_u64(&b, (uint64_t)(m->train_s * 1e6));
    if (!rc) rc = crec__put_str(&b, m->split);
    size_t n = ((size_t)m->n_users + (size_t)m->n_items + (size_t)m->n_attrs) * (size_t)m->dim;
    if (!rc) rc = crec_buf_write(&b, m->w, n * sizeof *m->w);
    if (!rc) rc = crec__binfile_write(path, UIAM_MAGIC, UIAM_VERSION, &b);
    crec_buf_free(&b);
    return rc;
}

int crec__crs_uiam_load(const char *path, const crec_crs_catalog *c, crec_crs_uiam **out) {
    *out = NULL;
    crec_buf b;
    uint32_t ver;
    int rc = crec__binfile_read(path, UIAM_MAGIC, UIAM_VERSION, &ver, &b);
    if (rc) return rc;
    uint32_t nu, ni, na, d, ep;
    uint64_t us;
    char split[32];
    if (crec__get_u32(&b, &nu) || crec__get_u32(&b, &ni) || crec__get_u32(&b, &na) || crec__get_u32(&b, &d) ||
        crec__get_u32(&b, &ep) || crec__get_u64(&b, &us) || crec__get_str_into(&b, split, sizeof split)) {
        crec__binfile_release(&b);
        return CREC_EFORMAT;
    }
    if ((int32_t)nu != c->n_users || (int32_t)ni != c->n_items || (int32_t)na != c->n_attrs || d < 1 || d > 1024) {
        crec__binfile_release(&b);
        return CREC_EINVAL;
    }
    size_t n = ((size_t)nu + ni + na) * d;
    crec_crs_uiam *m = NULL;
    if (crec_buf_need(&b, n, sizeof(float)) || !(m = uiam_alloc((int32_t)nu, (int32_t)ni, (int32_t)na, (int32_t)d)) ||
        crec_buf_read(&b, m->w, n * sizeof(float))) {
        rc = m ? CREC_EFORMAT : (crec_buf_need(&b, n, sizeof(float)) ? CREC_EFORMAT : CREC_ENOMEM);
        crec__crs_uiam_free(m);
        crec__binfile_release(&b);
        return rc;
    }
    crec__binfile_release(&b);
    m->epochs = (int)ep;
    m->train_s = (double)us / 1e6;
    memcpy(m->split, split, sizeof m->split);
    *out = m;
    return 0;
}
