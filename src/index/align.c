/* align.c: PRORec-style alignment of content and collaborative item vectors (index/align.h). Double precision
 * throughout (the sizes are small: n x (dc + dv) inputs, two d x dc / d x dv maps), BLAS for the products. */
#include "index/align.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/common.h"

void crec__align_opts_default(crec__align_opts *o) {
    memset(o, 0, sizeof *o);
    o->dim = 64, o->epochs = 50, o->batch = 512, o->lr = 1e-3, o->tau = 0.1, o->seed = 42;
}

/* z = W x for the B rows, then u = z / |z| (zero rows stay zero, nz = 0) */
static void project(const double *W, const double *X, int dx, const int32_t *rows, int B, int d, double *xb,
                    double *u, double *nz) {
    for (int b = 0; b < B; b++) memcpy(xb + (size_t)b * dx, X + (size_t)rows[b] * dx, (size_t)dx * sizeof *xb);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, d, dx, 1.0, xb, dx, W, dx, 0.0, u, d);
    for (int b = 0; b < B; b++) {
        double s = 0, *r = u + (size_t)b * d;
        for (int i = 0; i < d; i++) s += r[i] * r[i];
        s = sqrt(s);
        nz[b] = s;
        if (s > 0)
            for (int i = 0; i < d; i++) r[i] /= s;
    }
}

/* du (gradient of the normalised rows) -> gradient of W added to gW: dz = (du - u (u . du)) / |z|, gW += dz^T x */
static void project_back(double *du, const double *u, const double *nz, const double *xb, int dx, int B, int d,
                         double *gW) {
    for (int b = 0; b < B; b++) {
        double *g = du + (size_t)b * d;
        const double *r = u + (size_t)b * d;
        if (nz[b] <= 0) {
            memset(g, 0, (size_t)d * sizeof *g);
            continue;
        }
        double dot = 0;
        for (int i = 0; i < d; i++) dot += r[i] * g[i];
        for (int i = 0; i < d; i++) g[i] = (g[i] - r[i] * dot) / nz[b];
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, dx, B, 1.0, du, d, xb, dx, 1.0, gW, dx);
}

double crec__align_loss(const double *Wc, const double *Wv, const double *C, int dc, const double *V, int dv,
                        const int32_t *rows, int B, int d, double tau, double *gWc, double *gWv, double *acc) {
    int dx = dc > dv ? dc : dv;
    double *xb = malloc((size_t)B * dx * sizeof *xb), *xv = malloc((size_t)B * dx * sizeof *xv);
    double *u = malloc((size_t)B * d * sizeof *u), *w = malloc((size_t)B * d * sizeof *w);
    double *nu = malloc((size_t)B * sizeof *nu), *nw = malloc((size_t)B * sizeof *nw);
    double *S = malloc((size_t)B * B * sizeof *S), *G = malloc((size_t)B * B * sizeof *G);
    double *cmx = malloc((size_t)B * sizeof *cmx), *csum = malloc((size_t)B * sizeof *csum);
    if (!xb || !xv || !u || !w || !nu || !nw || !S || !G || !cmx || !csum) {
        free(xb), free(xv), free(u), free(w), free(nu), free(nw), free(S), free(G), free(cmx), free(csum);
        return NAN;
    }
    project(Wc, C, dc, rows, B, d, xb, u, nu);
    project(Wv, V, dv, rows, B, d, xv, w, nw);
    /* S_ij = u_i . w_j / tau */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, B, d, 1.0 / tau, u, d, w, d, 0.0, S, B);
    double loss = 0, hits = 0;
    for (int j = 0; j < B; j++) cmx[j] = -INFINITY, csum[j] = 0;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) cmx[j] = S[(size_t)i * B + j] > cmx[j] ? S[(size_t)i * B + j] : cmx[j];
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) csum[j] += exp(S[(size_t)i * B + j] - cmx[j]);
    /* rows: content i against every collaborative j; columns: collaborative j against every content i */
    for (int i = 0; i < B; i++) {
        const double *s = S + (size_t)i * B;
        double mx = -INFINITY, sum = 0;
        int arg = 0;
        for (int j = 0; j < B; j++)
            if (s[j] > mx) mx = s[j], arg = j;
        for (int j = 0; j < B; j++) sum += exp(s[j] - mx);
        double lse = mx + log(sum);
        loss += lse - s[i];
        hits += arg == i;
        for (int j = 0; j < B; j++) G[(size_t)i * B + j] = exp(s[j] - lse);
    }
    for (int j = 0; j < B; j++) {
        double lse = cmx[j] + log(csum[j]);
        loss += lse - S[(size_t)j * B + j];
        int arg = 0;
        for (int i = 1; i < B; i++)
            if (S[(size_t)i * B + j] > S[(size_t)arg * B + j]) arg = i;
        hits += arg == j;
        for (int i = 0; i < B; i++) G[(size_t)i * B + j] += exp(S[(size_t)i * B + j] - lse);
    }
    loss /= 2.0 * B;
    if (acc) *acc = hits / (2.0 * B);
    if (gWc || gWv) {
        /* dL/dS_ij = (P_ij + Q_ij - 2 [i = j]) / 2B; dS/du_i = w_j / tau, dS/dw_j = u_i / tau */
        double sc = 1.0 / (2.0 * B);
        for (int i = 0; i < B; i++) {
            for (int j = 0; j < B; j++) G[(size_t)i * B + j] *= sc;
            G[(size_t)i * B + i] -= 2 * sc;
        }
        double *du = malloc((size_t)B * d * sizeof *du), *dw = malloc((size_t)B * d * sizeof *dw);
        if (!du || !dw) {
            free(du), free(dw);
            loss = NAN;
        } else {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, d, B, 1.0 / tau, G, B, w, d, 0.0, du, d);
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, B, d, B, 1.0 / tau, G, B, u, d, 0.0, dw, d);
            if (gWc) project_back(du, u, nu, xb, dc, B, d, gWc);
            if (gWv) project_back(dw, w, nw, xv, dv, B, d, gWv);
            free(du), free(dw);
        }
    }
    free(xb), free(xv), free(u), free(w), free(nu), free(nw), free(S), free(G), free(cmx), free(csum);
    return loss;
}

/* row-normalised double copy */
static double *normalised(const float *X, int dx, int32_t n) {
    double *Y = malloc((size_t)n * dx * sizeof *Y);
    if (!Y) return NULL;
    for (int32_t i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < dx; j++) s += (double)X[(size_t)i * dx + j] * X[(size_t)i * dx + j];
        s = s > 0 ? 1 / sqrt(s) : 0;
        for (int j = 0; j < dx; j++) Y[(size_t)i * dx + j] = X[(size_t)i * dx + j] * s;
    }
    return Y;
}

static void adam(double *p, const double *g, double *m, double *v, size_t n, double lr, int64_t t) {
    double b1 = 0.9, b2 = 0.999, c1 = 1 - pow(b1, (double)t), c2 = 1 - pow(b2, (double)t);
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        p[i] -= lr * (m[i] / c1) / (sqrt(v[i] / c2) + 1e-8);
    }
}

int crec__align_vectors(const float *Cf, int dc, const float *Vf, int dv, int32_t n, const crec__align_opts *o,
                        float **out, double *loss0, double *loss1, double *acc1) {
    int d = o->dim;
    if (n < 2 || d < 1 || dc < 1 || dv < 1 || o->epochs < 1 || o->batch < 2 || !(o->tau > 0) || !(o->lr > 0))
        return CREC_EINVAL;
    int B = o->batch < n ? o->batch : (int)n;
    size_t nc = (size_t)d * dc, nv = (size_t)d * dv, np = nc + nv;
    double *C = normalised(Cf, dc, n), *V = normalised(Vf, dv, n);
    double *P = calloc(np, sizeof *P), *Gr = calloc(np, sizeof *Gr), *M = calloc(np, sizeof *M),
           *Q = calloc(np, sizeof *Q);
    int32_t *perm = malloc((size_t)n * sizeof *perm);
    float *res = malloc((size_t)n * d * sizeof *res);
    if (!C || !V || !P || !Gr || !M || !Q || !perm || !res) {
        free(C), free(V), free(P), free(Gr), free(M), free(Q), free(perm), free(res);
        return CREC_ENOMEM;
    }
    crec_rng r;
    crec__rng_seed(&r, o->seed);
    for (size_t i = 0; i < nc; i++) P[i] = crec__rng_normal(&r) / sqrt((double)dc);
    for (size_t i = 0; i < nv; i++) P[nc + i] = crec__rng_normal(&r) / sqrt((double)dv);
    for (int32_t i = 0; i < n; i++) perm[i] = i;
    int64_t step = 0;
    int rc = 0;
    for (int ep = 0; ep < o->epochs && !rc; ep++) {
        for (int32_t i = n - 1; i > 0; i--) {
            int32_t j = (int32_t)crec__rng_below(&r, (uint64_t)i + 1), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        double lsum = 0, asum = 0;
        int nb = 0;
        /* full batches only (a short last one would have fewer negatives); the shuffle moves the leftovers */
        for (int32_t b0 = 0; b0 + B <= n; b0 += B) {
            memset(Gr, 0, np * sizeof *Gr);
            double a;
            double l = crec__align_loss(P, P + nc, C, dc, V, dv, perm + b0, B, d, o->tau, Gr, Gr + nc, &a);
            if (isnan(l)) {
                rc = CREC_ENOMEM;
                break;
            }
            adam(P, Gr, M, Q, np, o->lr, ++step);
            lsum += l, asum += a, nb++;
        }
        if (rc) break;
        if (ep == 0 && loss0) *loss0 = lsum / nb;
        if (ep == o->epochs - 1) {
            if (loss1) *loss1 = lsum / nb;
            if (acc1) *acc1 = asum / nb;
        }
        if (o->verbose && (ep == 0 || (ep + 1) % 10 == 0 || ep == o->epochs - 1))
            crec__log("index: align epoch %d: InfoNCE %.4f, in-batch cross-view top-1 %.3f (batch %d)", ep + 1,
                      lsum / nb, asum / nb, B);
    }
    if (!rc) {
        /* fused = normalise(u + w) over every item, in chunks of B rows */
        int32_t *rows = malloc((size_t)B * sizeof *rows);
        int dx = dc > dv ? dc : dv;
        double *xb = malloc((size_t)B * dx * sizeof *xb), *u = malloc((size_t)B * d * sizeof *u),
               *w = malloc((size_t)B * d * sizeof *w), *nz = malloc((size_t)B * sizeof *nz);
        if (!rows || !xb || !u || !w || !nz) rc = CREC_ENOMEM;
        for (int32_t i0 = 0; i0 < n && !rc; i0 += B) {
            int m = n - i0 < B ? (int)(n - i0) : B;
            for (int q = 0; q < m; q++) rows[q] = i0 + q;
            project(P, C, dc, rows, m, d, xb, u, nz);
            project(P + nc, V, dv, rows, m, d, xb, w, nz);
            for (int q = 0; q < m; q++) {
                double s = 0;
                for (int i = 0; i < d; i++) s += (u[(size_t)q * d + i] + w[(size_t)q * d + i]) *
                                                 (u[(size_t)q * d + i] + w[(size_t)q * d + i]);
                s = s > 0 ? 1 / sqrt(s) : 0;
                for (int i = 0; i < d; i++)
                    res[(size_t)(i0 + q) * d + i] = (float)((u[(size_t)q * d + i] + w[(size_t)q * d + i]) * s);
            }
        }
        free(rows), free(xb), free(u), free(w), free(nz);
    }
    free(C), free(V), free(P), free(Gr), free(M), free(Q), free(perm);
    if (rc) {
        free(res);
        return rc;
    }
    *out = res;
    return 0;
}
