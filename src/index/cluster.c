/* cluster.c: the numerical pieces of item indexing - k-means (k-means++ seeding, Lloyd iterations with BLAS
 * distances), spectral clustering of a weighted graph (Ng-Jordan-Weiss: the top-N eigenspace of the normalised
 * adjacency by block power / subspace iteration with LAPACK QR, rows normalised, k-means), and a truncated SVD of a
 * sparse matrix (randomised subspace iteration, Halko et al. 2011, with LAPACK's symmetric eigensolver for the small
 * projected problem).
 *
 * The one idea of the spectral step: k-means on row-normalised eigenvectors only sees distances between rows, which
 * an orthogonal change of basis of the eigenspace leaves alone, so any orthonormal basis of the top-N subspace will
 * do: subspace iteration gives one without a Rayleigh-Ritz step. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "index/cluster.h"

/* ---- k-means ---- */

static double sqdist(const float *a, const float *b, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) {
        double t = (double)a[j] - b[j];
        s += t * t;
    }
    return s;
}

int crec__kmeans(const float *X, int32_t n, int d, int k, int iters, uint64_t seed, int32_t *assign, float *cent_out) {
    if (n <= 0 || k <= 0 || d <= 0) return CREC_EINVAL;
    if (k > n) k = n;
    float *C = malloc((size_t)k * d * sizeof *C);
    double *mind = malloc((size_t)n * sizeof *mind);
    float *cn = malloc((size_t)k * sizeof *cn), *xn = malloc((size_t)n * sizeof *xn);
    int32_t blk = 1024;
    float *G = malloc((size_t)blk * k * sizeof *G);
    double *sum = malloc((size_t)k * d * sizeof *sum);
    int32_t *cnt = malloc((size_t)k * sizeof *cnt);
    if (!C || !mind || !cn || !xn || !G || !sum || !cnt) {
        free(C), free(mind), free(cn), free(xn), free(G), free(sum), free(cnt);
        return CREC_ENOMEM;
    }
    crec_rng r;
    crec__rng_seed(&r, seed);
    /* k-means++ seeding */
    int32_t first = (int32_t)crec__rng_below(&r, (uint64_t)n);
    memcpy(C, X + (size_t)first * d, (size_t)d * sizeof *C);
    for (int32_t i = 0; i < n; i++) mind[i] = sqdist(X + (size_t)i * d, C, d);
    for (int c = 1; c < k; c++) {
        double tot = 0;
        for (int32_t i = 0; i < n; i++) tot += mind[i];
        int32_t pick = (int32_t)crec__rng_below(&r, (uint64_t)n);
        if (tot > 0) {
            double u = crec__rng_uniform(&r) * tot, acc = 0;
            for (int32_t i = 0; i < n; i++) {
                acc += mind[i];
                if (acc >= u && mind[i] > 0) {
                    pick = i;
                    break;
                }
            }
        }
        memcpy(C + (size_t)c * d, X + (size_t)pick * d, (size_t)d * sizeof *C);
        for (int32_t i = 0; i < n; i++) {
            double t = sqdist(X + (size_t)i * d, C + (size_t)c * d, d);
            if (t < mind[i]) mind[i] = t;
        }
    }
    for (int32_t i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)X[(size_t)i * d + j] * X[(size_t)i * d + j];
        xn[i] = (float)s;
    }
    for (int it = 0; it <= iters; it++) {
        for (int c = 0; c < k; c++) {
            double s = 0;
            for (int j = 0; j < d; j++) s += (double)C[(size_t)c * d + j] * C[(size_t)c * d + j];
            cn[c] = (float)s;
        }
        int changed = 0;
        for (int32_t b0 = 0; b0 < n; b0 += blk) {
            int32_t nb = n - b0 < blk ? n - b0 : blk;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, k, d, 1.0f, X + (size_t)b0 * d, d, C, d, 0.0f,
                        G, k);
            for (int32_t i = 0; i < nb; i++) {
                int best = 0;
                float bd = 0;
                for (int c = 0; c < k; c++) {
                    float dd = cn[c] - 2 * G[(size_t)i * k + c];
                    if (c == 0 || dd < bd) bd = dd, best = c;
                }
                if (it == 0 || assign[b0 + i] != best) changed++;
                assign[b0 + i] = best;
                mind[b0 + i] = (double)bd + xn[b0 + i];
            }
        }
        if (it == iters || (it > 0 && changed == 0)) break;
        memset(sum, 0, (size_t)k * d * sizeof *sum);
        memset(cnt, 0, (size_t)k * sizeof *cnt);
        for (int32_t i = 0; i < n; i++) {
            cnt[assign[i]]++;
            for (int j = 0; j < d; j++) sum[(size_t)assign[i] * d + j] += X[(size_t)i * d + j];
        }
        for (int c = 0; c < k; c++) {
            if (cnt[c] == 0) {
                /* empty cluster: reseed at the point farthest from its centroid */
                int32_t far = 0;
                for (int32_t i = 1; i < n; i++)
                    if (mind[i] > mind[far]) far = i;
                memcpy(C + (size_t)c * d, X + (size_t)far * d, (size_t)d * sizeof *C);
                mind[far] = 0;
                continue;
            }
            for (int j = 0; j < d; j++) C[(size_t)c * d + j] = (float)(sum[(size_t)c * d + j] / cnt[c]);
        }
    }
    if (cent_out) memcpy(cent_out, C, (size_t)k * d * sizeof *C);
    free(C), free(mind), free(cn), free(xn), free(G), free(sum), free(cnt);
    return 0;
}

/* ---- orthonormalisation (LAPACK Householder QR): X [n, k] row-major, n >= k, replaced by Q ---- */

static int orthonormalise(double *X, int32_t n, int k) {
    double *tau = malloc((size_t)k * sizeof *tau);
    if (!tau) return CREC_ENOMEM;
    lapack_int info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, n, k, X, k, tau);
    if (info == 0) info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, n, k, k, X, k, tau);
    free(tau);
    return info == 0 ? 0 : CREC_ERANGE;
}

/* ---- spectral clustering ---- */

int crec__spectral(const int64_t *ptr, const int32_t *idx, const float *w, int32_t n, int k, int iters, uint64_t seed,
                   int32_t *assign) {
    if (k >= n) {
        for (int32_t i = 0; i < n; i++) assign[i] = i;
        return 0;
    }
    double *dinv = malloc((size_t)n * sizeof *dinv);
    double *X = malloc((size_t)n * k * sizeof *X), *Y = malloc((size_t)n * k * sizeof *Y);
    float *E = malloc((size_t)n * k * sizeof *E);
    if (!dinv || !X || !Y || !E) {
        free(dinv), free(X), free(Y), free(E);
        return CREC_ENOMEM;
    }
    /* degrees of A + I (a self loop keeps isolated items well defined) */
    for (int32_t i = 0; i < n; i++) {
        double s = 1;
        for (int64_t p = ptr[i]; p < ptr[i + 1]; p++) s += w[p];
        dinv[i] = 1 / sqrt(s);
    }
    crec_rng r;
    crec__rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)n * k; i++) X[i] = crec__rng_normal(&r);
    int rc = orthonormalise(X, n, k);
    /* subspace iteration on S + I, S = D^-1/2 (A + I) D^-1/2 (eigenvalues in [0, 2], the top ones S's top ones) */
    for (int it = 0; it < iters && !rc; it++) {
        for (int32_t i = 0; i < n; i++) {
            double *y = Y + (size_t)i * k;
            const double *xi = X + (size_t)i * k;
            double self = dinv[i] * dinv[i];
            for (int c = 0; c < k; c++) y[c] = xi[c] * (1 + self);
            for (int64_t p = ptr[i]; p < ptr[i + 1]; p++) {
                double a = w[p] * dinv[i] * dinv[idx[p]];
                const double *xj = X + (size_t)idx[p] * k;
                for (int c = 0; c < k; c++) y[c] += a * xj[c];
            }
        }
        double *t = X;
        X = Y, Y = t;
        rc = orthonormalise(X, n, k);
    }
    if (!rc) {
        for (int32_t i = 0; i < n; i++) {
            double s = 0;
            for (int c = 0; c < k; c++) s += X[(size_t)i * k + c] * X[(size_t)i * k + c];
            s = s > 0 ? 1 / sqrt(s) : 0;
            for (int c = 0; c < k; c++) E[(size_t)i * k + c] = (float)(X[(size_t)i * k + c] * s);
        }
        rc = crec__kmeans(E, n, k, k, 30, seed ^ 0x5bd1e995u, assign, NULL);
    }
    free(dinv), free(X), free(Y), free(E);
    return rc;
}

/* ---- truncated SVD of a sparse matrix ---- */

/* Y[n, k] = A[n, m] X[m, k] (A in CSR) */
static void spmm(const int64_t *ptr, const int32_t *idx, const float *val, int32_t n, const double *X, int k,
                 double *Y) {
    for (int32_t i = 0; i < n; i++) {
        double *y = Y + (size_t)i * k;
        memset(y, 0, (size_t)k * sizeof *y);
        for (int64_t p = ptr[i]; p < ptr[i + 1]; p++) {
            const double *x = X + (size_t)idx[p] * k;
            for (int c = 0; c < k; c++) y[c] += val[p] * x[c];
        }
    }
}

/* Y[m, k] = A^T X, X [n, k] */
static void spmm_t(const int64_t *ptr, const int32_t *idx, const float *val, int32_t n, int32_t m, const double *X,
                   int k, double *Y) {
    memset(Y, 0, (size_t)m * k * sizeof *Y);
    for (int32_t i = 0; i < n; i++) {
        const double *x = X + (size_t)i * k;
        for (int64_t p = ptr[i]; p < ptr[i + 1]; p++) {
            double *y = Y + (size_t)idx[p] * k;
            for (int c = 0; c < k; c++) y[c] += val[p] * x[c];
        }
    }
}

int crec__sparse_svd(const int64_t *ptr, const int32_t *idx, const float *val, int32_t n, int32_t m, int dim,
                     uint64_t seed, float *out) {
    int k = dim + 10, dout = dim; /* dout: the row stride of out; columns past rank k stay zero */
    if (k > n) k = n;
    if (k > m) k = m;
    if (dim > k) dim = k;
    memset(out, 0, (size_t)n * dout * sizeof *out);
    double *Om = malloc((size_t)m * k * sizeof *Om), *Q = malloc((size_t)n * k * sizeof *Q);
    double *Bt = malloc((size_t)m * k * sizeof *Bt), *G = malloc((size_t)k * k * sizeof *G);
    double *ev = malloc((size_t)k * sizeof *ev), *ucol = malloc((size_t)n * sizeof *ucol);
    if (!Om || !Q || !Bt || !G || !ev || !ucol) {
        free(Om), free(Q), free(Bt), free(G), free(ev), free(ucol);
        return CREC_ENOMEM;
    }
    crec_rng r;
    crec__rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)m * k; i++) Om[i] = crec__rng_normal(&r);
    spmm(ptr, idx, val, n, Om, k, Q);
    int rc = orthonormalise(Q, n, k);
    for (int q = 0; q < 3 && !rc; q++) { /* power iterations: Q = orth(A A^T Q) */
        spmm_t(ptr, idx, val, n, m, Q, k, Bt);
        spmm(ptr, idx, val, n, Bt, k, Q);
        rc = orthonormalise(Q, n, k);
    }
    if (!rc) {
        /* B = Q^T A [k, m] (stored transposed as Bt = A^T Q); G = B B^T = Bt^T Bt = U_B diag(s^2) U_B^T */
        spmm_t(ptr, idx, val, n, m, Q, k, Bt);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, k, m, 1.0, Bt, k, Bt, k, 0.0, G, k);
        lapack_int info = LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', k, G, k, ev);
        if (info != 0) rc = CREC_ERANGE;
    }
    if (!rc) {
        /* A ~ Q U_B S V^T: rows of U S = Q U_B S; eigenvalues ascending, so the top dim are the last columns.
         * Sign of each column fixed (largest |entry| positive) so that a seed gives one answer. */
        for (int c = 0; c < dim; c++) {
            int col = k - 1 - c;
            double s = ev[col] > 0 ? sqrt(ev[col]) : 0;
            double big = 0;
            for (int32_t i = 0; i < n; i++) {
                double u = 0;
                for (int j = 0; j < k; j++) u += Q[(size_t)i * k + j] * G[(size_t)j * k + col];
                ucol[i] = u;
                if (fabs(u) > fabs(big)) big = u;
            }
            double sg = big < 0 ? -1 : 1;
            for (int32_t i = 0; i < n; i++) out[(size_t)i * dout + c] = (float)(sg * s * ucol[i]);
        }
    }
    free(Om), free(Q), free(Bt), free(G), free(ev), free(ucol);
    return rc;
}
