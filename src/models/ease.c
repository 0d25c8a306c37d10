/* ease.c: EASE^R (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data").
 *
 * The one idea: the best item-item linear model with a zero diagonal has a closed form. With X the binary
 * user x item matrix, G = X^T X + lambda I and P = G^-1, the weights are B_ij = -P_ij / P_jj (B_jj = 0),
 * and a user's scores are x_u^T B: the sum of B's rows over the user's (distinct) history items.
 *
 * Precision: float32. G holds co-occurrence counts, exact in float up to 2^24; lambda I makes G well
 * conditioned (its smallest eigenvalue is >= lambda), so the single-precision Cholesky inverse agrees with a
 * double one to ~1e-5 relative here (tests/unit/test_ease.c checks 1e-4 against Gauss-Jordan in double),
 * while it halves the memory (the one dense I x I matrix is the whole cost: 40k items = 6.4 GB) and runs
 * ~2x faster. P comes from LAPACK spotrf + spotri (OpenBLAS), in place; B overwrites P.
 * X^T X: by sparse accumulation of each user's item pairs (cost sum_u |I_u|^2) or by ssyrk on dense
 * blocks of users (cost |U| |I|^2 at BLAS speed), whichever is estimated cheaper (gram=auto). */
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cblas.h>

#include "core/binio.h"
#include "core/util.h"
#include "models/registry.h"

#define EASE_MAX_ITEMS 40000

static const crec_param_def EASE_PARAMS[] = {
    CREC_P_FLOAT("lambda", "500", 1e-9, 1e12, "L2 penalty on the item-item weights (added to the diagonal of X^T X)"),
    CREC_P_ENUM("gram", "auto", "auto|sparse|dense",
                "how X^T X is computed: sparse (pair counts), dense (ssyrk on user blocks), auto"),
    CREC_P_END,
};

typedef struct ease_state {
    int32_t n;
    float *B; /* n x n, row i = weights from history item i to every item */
} ease_state;

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sorted distinct items of each row of x into (*ptr, *idx) (caller frees both). */
static int binary_rows(const crec_csr *x, int64_t **ptr_out, int32_t **idx_out) {
    int64_t nnz = crec_csr_nnz(x);
    int64_t *ptr = malloc(((size_t)x->n_rows + 1) * sizeof *ptr);
    int32_t *idx = malloc(((size_t)nnz + 1) * sizeof *idx);
    if (!ptr || !idx) {
        free(ptr), free(idx);
        return CREC_ENOMEM;
    }
    int64_t o = 0;
    ptr[0] = 0;
    for (int32_t u = 0; u < x->n_rows; u++) {
        int64_t a = x->ptr[u], n = x->ptr[u + 1] - a;
        int32_t *row = idx + o;
        memcpy(row, x->idx + a, (size_t)n * sizeof *row);
        qsort(row, (size_t)n, sizeof *row, cmp_i32);
        int64_t m = 0;
        for (int64_t k = 0; k < n; k++)
            if (m == 0 || row[m - 1] != row[k]) row[m++] = row[k];
        o += m;
        ptr[u + 1] = o;
    }
    *ptr_out = ptr, *idx_out = idx;
    return 0;
}

/* Upper triangle of G (n x n, zeroed) += X^T X by counting pairs. Thread t owns the rows i with
 * (i / 64) % T == t, so each thread writes only its own rows (deterministic; counts are exact anyway). */
static void gram_sparse(const int64_t *ptr, const int32_t *idx, int32_t nu, int32_t n, float *G, int nth) {
#pragma omp parallel num_threads(nth)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        for (int32_t u = 0; u < nu; u++) {
            const int32_t *row = idx + ptr[u];
            int64_t len = ptr[u + 1] - ptr[u];
            for (int64_t a = 0; a < len; a++) {
                int32_t i = row[a];
                if ((i / 64) % T != t) continue;
                float *Gi = G + (size_t)i * n;
                for (int64_t b = a; b < len; b++) Gi[row[b]] += 1.0f;
            }
        }
    }
}

/* Upper triangle of G += X^T X by ssyrk over dense blocks of users (OpenBLAS threads). */
static int gram_dense(const int64_t *ptr, const int32_t *idx, int32_t nu, int32_t n, float *G) {
    int bs = (int)((64u << 20) / ((size_t)n * sizeof(float))); /* 64 MiB blocks */
    if (bs < 16) bs = 16;
    if (bs > 2048) bs = 2048;
    float *A = crec__aligned_alloc((size_t)bs * n * sizeof *A);
    if (!A) return CREC_ENOMEM;
    for (int32_t u0 = 0; u0 < nu; u0 += bs) {
        int b = nu - u0 < bs ? nu - u0 : bs;
        for (int r = 0; r < b; r++)
            for (int64_t k = ptr[u0 + r]; k < ptr[u0 + r + 1]; k++) A[(size_t)r * n + idx[k]] = 1.0f;
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, n, b, 1.0f, A, n, 1.0f, G, n);
        for (int r = 0; r < b; r++)
            for (int64_t k = ptr[u0 + r]; k < ptr[u0 + r + 1]; k++) A[(size_t)r * n + idx[k]] = 0.0f;
    }
    free(A);
    return 0;
}

static int ease_train(crec_model *m, const crec_train_input *in) {
    const char *ls = crec_model_param_str(m, "lambda"), *gm = crec_model_param_str(m, "gram");
    char *end;
    double lambda = strtod(ls, &end);
    if (end == ls || *end || !(lambda > 0) || !isfinite(lambda)) return CREC_EINVAL;
    int method; /* 0 auto, 1 sparse, 2 dense */
    if (strcmp(gm, "auto") == 0) method = 0;
    else if (strcmp(gm, "sparse") == 0) method = 1;
    else if (strcmp(gm, "dense") == 0) method = 2;
    else return CREC_EINVAL;
    int32_t n = m->n_items, nu = m->n_users;
    if (n > EASE_MAX_ITEMS) {
        crec__log("ease: %d items: the dense %d x %d weight matrix would need %.1f GiB; ease is limited to %d "
                  "items (filter the catalog, e.g. a k-core, or use ials)",
                  n, n, n, (double)n * n * 4 / (1 << 30), EASE_MAX_ITEMS);
        return CREC_ERANGE;
    }
    if (n < 1) return CREC_EEMPTY;
    int64_t *ptr;
    int32_t *idx;
    int rc = binary_rows(in->train, &ptr, &idx);
    if (rc) return rc;
    float *G = crec__aligned_alloc((size_t)n * n * sizeof *G);
    ease_state *s = calloc(1, sizeof *s);
    if (!G || !s) {
        rc = CREC_ENOMEM;
        goto done;
    }
    if (method == 0) { /* pair updates are random writes, ~40x dearer than a BLAS flop (measured, RESULTS.md) */
        double pairs = 0;
        for (int32_t u = 0; u < nu; u++) pairs += 0.5 * (double)(ptr[u + 1] - ptr[u]) * (double)(ptr[u + 1] - ptr[u]);
        method = pairs * 40.0 < (double)nu * n * n ? 1 : 2;
    }
    int nth = in->n_threads > 0 ? in->n_threads : omp_get_max_threads();
    if (method == 1) gram_sparse(ptr, idx, nu, n, G, nth);
    else if ((rc = gram_dense(ptr, idx, nu, n, G))) goto done;
    for (int32_t i = 0; i < n; i++) G[(size_t)i * n + i] += (float)lambda;
    /* row-major upper = column-major lower: LAPACK works in place without LAPACKE's transposed copy */
    lapack_int info = LAPACKE_spotrf(LAPACK_COL_MAJOR, 'L', n, G, n);
    if (info == 0) info = LAPACKE_spotri(LAPACK_COL_MAJOR, 'L', n, G, n);
    if (info != 0) {
        crec__log("ease: LAPACK spotrf/spotri failed (info %d): X^T X + lambda I not positive definite in float",
                  (int)info);
        rc = info < 0 ? CREC_EINVAL : CREC_ERANGE;
        goto done;
    }
    /* P's upper triangle is in place: mirror it (blocked), then B = -P / diag(P) column-wise, diag 0 */
    for (int32_t i0 = 0; i0 < n; i0 += 64)
        for (int32_t j0 = 0; j0 <= i0; j0 += 64)
            for (int32_t i = i0; i < n && i < i0 + 64; i++)
                for (int32_t j = j0; j < i && j < j0 + 64; j++) G[(size_t)i * n + j] = G[(size_t)j * n + i];
    float *dinv = malloc((size_t)n * sizeof *dinv);
    if (!dinv) {
        rc = CREC_ENOMEM;
        goto done;
    }
    for (int32_t j = 0; j < n; j++) dinv[j] = -1.0f / G[(size_t)j * n + j];
#pragma omp parallel for num_threads(nth) schedule(static)
    for (int32_t i = 0; i < n; i++) {
        float *row = G + (size_t)i * n;
        for (int32_t j = 0; j < n; j++) row[j] *= dinv[j];
        row[i] = 0.0f;
    }
    free(dinv);
    s->n = n;
    s->B = G;
    G = NULL;
    m->state = s;
    s = NULL;
done:
    free(ptr), free(idx), free(G), free(s);
    return rc;
}

/* No score_batch hook: a user's scores are a sum of |history| rows of B (O(|history| n), the cost of writing
 * the scores), not a dense product; a block as one product X_blk B would multiply by n instead of |history|. */
static int ease_score(const crec_model *m, const crec_context *ctx, float *scores) {
    const ease_state *s = m->state;
    int32_t n = s->n;
    memset(scores, 0, (size_t)n * sizeof *scores);
    if (ctx->n_hist <= 0) return 0;
    int32_t *h = malloc((size_t)ctx->n_hist * sizeof *h);
    if (!h) return CREC_ENOMEM;
    memcpy(h, ctx->hist, (size_t)ctx->n_hist * sizeof *h);
    qsort(h, (size_t)ctx->n_hist, sizeof *h, cmp_i32);
    for (int32_t k = 0; k < ctx->n_hist; k++) {
        if (k > 0 && h[k] == h[k - 1]) continue; /* x_u is binary */
        const float *row = s->B + (size_t)h[k] * n;
        for (int32_t j = 0; j < n; j++) scores[j] += row[j];
    }
    free(h);
    return 0;
}

static int ease_save(const crec_model *m, crec_buf *out) {
    const ease_state *s = m->state;
    int rc = crec__put_u32(out, (uint32_t)s->n);
    /* the I x I matrix goes to the file from where it is, not through a copy: the save peak stays one matrix */
    return rc ? rc : crec_buf_write_ref(out, s->B, (size_t)s->n * s->n * sizeof *s->B);
}

/* Read n bytes of in into dst in chunks, and when in is a mapped file (cap 0: crec_model_load's payload from
 * crec__binfile_read, a read-only-in-use private file mapping) give back each chunk's source pages as soon as
 * they are copied (madvise MADV_DONTNEED: an unwritten private file page is dropped and would be read again from
 * the file, its contents unchanged). The load peak is then one I x I matrix plus a chunk, not the mapped file
 * plus B. A heap buffer (cap > 0) is read as it is. */
static int read_dropping(crec_buf *in, void *dst, size_t n) {
    if (in->cap != 0 || !in->data) return crec_buf_read(in, dst, n);
    const size_t chunk = (size_t)16 << 20;
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t page = pg > 0 ? (uintptr_t)pg : 4096;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < chunk ? n - done : chunk;
        const uint8_t *src = in->data + in->pos;
        int rc = crec_buf_read(in, (uint8_t *)dst + done, k);
        if (rc) return rc;
        /* the whole pages inside [src, src + k) */
        uintptr_t a = ((uintptr_t)src + page - 1) & ~(page - 1), b = ((uintptr_t)src + k) & ~(page - 1);
        if (b > a) (void)madvise((void *)a, b - a, MADV_DONTNEED);
        done += k;
    }
    return 0;
}

static int ease_load(crec_model *m, crec_buf *in) {
    uint32_t n;
    int rc = crec__get_u32(in, &n);
    if (rc) return rc;
    if ((int64_t)n != m->n_items || n > EASE_MAX_ITEMS) return CREC_EFORMAT;
    size_t need = (size_t)n * n * sizeof(float);
    if (in->len - in->pos < need) return CREC_EFORMAT;
    ease_state *s = calloc(1, sizeof *s);
    /* not crec__aligned_alloc: it zeroes, touching every page of B while the whole mapped file is resident */
    float *B = aligned_alloc(64, (need + sizeof(float) + 63) & ~(size_t)63);
    if (!s || !B) {
        free(s), free(B);
        return CREC_ENOMEM;
    }
    rc = read_dropping(in, B, need);
    if (rc) {
        free(s), free(B);
        return rc;
    }
    s->n = (int32_t)n;
    s->B = B;
    m->state = s;
    return 0;
}

static void ease_free(crec_model *m) {
    ease_state *s = m->state;
    if (s) free(s->B);
    free(s);
    m->state = NULL;
}

const crec_model_type crec__model_ease = {
    .name = "ease",
    .summary = "EASE^R: closed-form item-item linear model, B = -P/diag(P), P = (X^T X + lambda I)^-1",
    .params = EASE_PARAMS,
    .train = ease_train,
    .score = ease_score,
    .save = ease_save,
    .load = ease_load,
    .free_state = ease_free,
};
