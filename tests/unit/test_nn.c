/* test_nn.c: the neural core's kernels, losses and optimiser.
 *
 * What is checked, kernel by kernel (tiny shapes, so every element is perturbed):
 *   1. gradients: the double instantiation (crec__nn_<op>_d, the same template source as the float kernels) is
 *      differentiated by central finite differences of L = sum(out * G) for a random upstream G (losses: of the
 *      loss itself), and every analytic gradient element must match: |analytic - numeric| / max(1, |numeric|)
 *      < 1e-6 (the difference quotient's own error is ~1e-9 at eps = 1e-5);
 *   2. forward values: against a direct reference written here (naive loops / formulas), in double, to 1e-12;
 *   3. float vs double: the float kernels (what training runs: sgemm, the polynomial exp, erff) on the same inputs
 *      match the double ones to 1e-5 relative;
 * plus: the chunked full-softmax CE equals the unchunked one (float, loss and gradients), masks (causal, key
 * padding, accidental hits), dropout's reproducibility and rate, thread-count independence of the scatter-adds and
 * the gradient norm, AdamW against a hand-computed step, schedule values at chosen steps, parameter blocks; the GRU
 * layer over packed sequences against a per-sequence loop of the cell formulas; the negative samplers' frequencies,
 * log-Q terms, exclusions and reproducibility; the loss heads against the kernels they call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "nn/kernels.h"
#include "nn/nn.h"

#define EPS 1e-5
#define GRAD_TOL 1e-6

static crec_rng rng;

static double *dvec(size_t n, double scale) {
    double *x = calloc(n ? n : 1, sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = scale * (2 * crec__rng_uniform(&rng) - 1);
    return x;
}
static double *dzeros(size_t n) { return calloc(n ? n : 1, sizeof(double)); }
static float *to_f(const double *x, size_t n) {
    float *f = malloc((n ? n : 1) * sizeof *f);
    for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
    return f;
}
static double dsum_prod(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
/* Max relative difference of a float array from a double one: |f - d| / max(1, |d|). */
static double fmaxdiff(const float *f, const double *d, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs(f[i] - d[i]) / fmax(1.0, fabs(d[i])));
    return w;
}

typedef double (*lossfn)(void *ctx);

/* Max over x[0..n) of |analytic - numeric| / max(1, |numeric|), numeric by central differences of f in x. */
static double fd_check(lossfn f, void *ctx, double *x, const double *analytic, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + EPS;
        double fp = f(ctx);
        x[i] = x0 - EPS;
        double fm = f(ctx);
        x[i] = x0;
        double num = (fp - fm) / (2 * EPS);
        double e = fabs(num - analytic[i]) / fmax(1.0, fabs(num));
        if (e > worst) worst = e;
    }
    return worst;
}

#define ASSERT_GRAD(name, err)                                                                                         \
    do {                                                                                                               \
        double e_ = (err);                                                                                             \
        print_message("  %-34s max rel err %.2e\n", name, e_);                                                         \
        if (!(e_ < GRAD_TOL)) fail_msg("%s: gradient error %.3e >= %.0e", name, e_, GRAD_TOL);                         \
    } while (0)
#define ASSERT_CLOSE(name, err, tol)                                                                                   \
    do {                                                                                                               \
        double e_ = (err);                                                                                             \
        if (!(e_ < (tol))) fail_msg("%s: difference %.3e >= %.0e", name, e_, (double)(tol));                           \
    } while (0)

/* ---------------- embedding ---------------- */

typedef struct {
    int N, D, V;
    int32_t ids[8];
    double *table, *G, *out, scale;
} emb_ctx;

static double emb_loss(void *c_) {
    emb_ctx *c = c_;
    crec__nn_embedding_forward_d(c->out, c->ids, c->table, c->N, c->D, c->scale, 0);
    return dsum_prod(c->out, c->G, (size_t)c->N * c->D);
}

static void test_embedding(void **st) {
    emb_ctx c = {.N = 7, .D = 3, .V = 5, .ids = {2, 0, 2, 4, -1, 2, 1}, .scale = 1.7};
    c.table = dvec(15, 1), c.G = dvec(21, 1), c.out = dzeros(21);
    emb_loss(&c);
    for (int n = 0; n < 7; n++)
        for (int d = 0; d < 3; d++)
            assert_true(c.out[n * 3 + d] == (c.ids[n] < 0 ? 0 : 1.7 * c.table[c.ids[n] * 3 + d]));
    double *dt = dzeros(15);
    crec__nn_embedding_backward_d(dt, c.G, c.ids, 7, 3, 1.7);
    ASSERT_GRAD("embedding dtable", fd_check(emb_loss, &c, c.table, dt, 15));
    /* accumulate mode adds */
    double *o2 = dzeros(21);
    for (int i = 0; i < 21; i++) o2[i] = 1;
    crec__nn_embedding_forward_d(o2, c.ids, c.table, 7, 3, 2.0, 1);
    assert_true(o2[3] == 1 + 2 * c.table[0]);
    /* deterministic scatter: bit-identical at 1 and 2 threads on a larger float case with many repeats */
    int N = 5000, D = 16, V = 37;
    int32_t *ids = malloc(N * sizeof *ids);
    for (int n = 0; n < N; n++) ids[n] = (int32_t)crec__rng_below(&rng, V);
    double *gd = dvec((size_t)N * D, 1);
    float *g = to_f(gd, (size_t)N * D), *t1 = calloc((size_t)V * D, 4), *t2 = calloc((size_t)V * D, 4);
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    crec__nn_embedding_backward(t1, g, ids, N, D, 0.5f);
    omp_set_num_threads(2);
    crec__nn_embedding_backward(t2, g, ids, N, D, 0.5f);
    omp_set_num_threads(nt);
    assert_memory_equal(t1, t2, (size_t)V * D * 4);
    free(ids), free(gd), free(g), free(t1), free(t2);
    free(c.table), free(c.G), free(c.out), free(dt), free(o2);
}

/* ---------------- linear ---------------- */

typedef struct {
    int N, C, O;
    double *inp, *w, *b, *G, *out;
} lin_ctx;

static double lin_loss(void *c_) {
    lin_ctx *c = c_;
    crec__nn_linear_forward_d(c->out, c->inp, c->w, c->b, c->N, c->C, c->O);
    return dsum_prod(c->out, c->G, (size_t)c->N * c->O);
}

static void test_linear(void **st) {
    lin_ctx c = {.N = 4, .C = 3, .O = 5};
    c.inp = dvec(12, 1), c.w = dvec(15, 1), c.b = dvec(5, 1), c.G = dvec(20, 1), c.out = dzeros(20);
    lin_loss(&c);
    for (int n = 0; n < 4; n++)
        for (int o = 0; o < 5; o++) {
            double s = c.b[o];
            for (int k = 0; k < 3; k++) s += c.inp[n * 3 + k] * c.w[o * 3 + k];
            assert_true(fabs(c.out[n * 5 + o] - s) < 1e-12);
        }
    double *di = dzeros(12), *dw = dzeros(15), *db = dzeros(5);
    crec__nn_linear_backward_d(di, dw, db, c.G, c.inp, c.w, 4, 3, 5);
    ASSERT_GRAD("linear dinp", fd_check(lin_loss, &c, c.inp, di, 12));
    ASSERT_GRAD("linear dw", fd_check(lin_loss, &c, c.w, dw, 15));
    ASSERT_GRAD("linear db", fd_check(lin_loss, &c, c.b, db, 5));
    /* float kernel on the same inputs */
    float *fi = to_f(c.inp, 12), *fw = to_f(c.w, 15), *fb = to_f(c.b, 5), *fG = to_f(c.G, 20), *fo = calloc(20, 4);
    float *fdi = calloc(12, 4), *fdw = calloc(15, 4), *fdb = calloc(5, 4);
    crec__nn_linear_forward(fo, fi, fw, fb, 4, 3, 5);
    crec__nn_linear_backward(fdi, fdw, fdb, fG, fi, fw, 4, 3, 5);
    lin_loss(&c);
    ASSERT_CLOSE("linear float out", fmaxdiff(fo, c.out, 20), 1e-5);
    ASSERT_CLOSE("linear float dinp", fmaxdiff(fdi, di, 12), 1e-5);
    ASSERT_CLOSE("linear float dw", fmaxdiff(fdw, dw, 15), 1e-5);
    ASSERT_CLOSE("linear float db", fmaxdiff(fdb, db, 5), 1e-5);
    free(fi), free(fw), free(fb), free(fG), free(fo), free(fdi), free(fdw), free(fdb);
    free(c.inp), free(c.w), free(c.b), free(c.G), free(c.out), free(di), free(dw), free(db);
}

/* ---------------- layer norm ---------------- */

typedef struct {
    int N, D;
    double *inp, *w, *b, *G, *out, *mean, *rstd;
} ln_ctx;

static double ln_loss(void *c_) {
    ln_ctx *c = c_;
    crec__nn_layernorm_forward_d(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->D);
    return dsum_prod(c->out, c->G, (size_t)c->N * c->D);
}

static void test_layernorm(void **st) {
    ln_ctx c = {.N = 3, .D = 5};
    c.inp = dvec(15, 2), c.w = dvec(5, 1), c.b = dvec(5, 1), c.G = dvec(15, 1), c.out = dzeros(15);
    c.mean = dzeros(3), c.rstd = dzeros(3);
    ln_loss(&c);
    for (int n = 0; n < 3; n++) {
        double m = 0, v = 0;
        for (int d = 0; d < 5; d++) m += c.inp[n * 5 + d] / 5;
        for (int d = 0; d < 5; d++) v += (c.inp[n * 5 + d] - m) * (c.inp[n * 5 + d] - m) / 5;
        for (int d = 0; d < 5; d++) {
            double ref = (c.inp[n * 5 + d] - m) / sqrt(v + CREC_NN_LN_EPS) * c.w[d] + c.b[d];
            assert_true(fabs(c.out[n * 5 + d] - ref) < 1e-12);
        }
    }
    double *di = dzeros(15), *dw = dzeros(5), *db = dzeros(5);
    crec__nn_layernorm_backward_d(di, dw, db, c.G, c.inp, c.w, c.mean, c.rstd, 3, 5);
    ASSERT_GRAD("layernorm dinp", fd_check(ln_loss, &c, c.inp, di, 15));
    ASSERT_GRAD("layernorm dw", fd_check(ln_loss, &c, c.w, dw, 5));
    ASSERT_GRAD("layernorm db", fd_check(ln_loss, &c, c.b, db, 5));
    float *fi = to_f(c.inp, 15), *fw = to_f(c.w, 5), *fb = to_f(c.b, 5), *fG = to_f(c.G, 15);
    float *fo = calloc(15, 4), *fm = calloc(3, 4), *fr = calloc(3, 4), *fdi = calloc(15, 4), *fdw = calloc(5, 4),
          *fdb = calloc(5, 4);
    crec__nn_layernorm_forward(fo, fm, fr, fi, fw, fb, 3, 5);
    crec__nn_layernorm_backward(fdi, fdw, fdb, fG, fi, fw, fm, fr, 3, 5);
    ln_loss(&c);
    ASSERT_CLOSE("layernorm float out", fmaxdiff(fo, c.out, 15), 1e-5);
    ASSERT_CLOSE("layernorm float dinp", fmaxdiff(fdi, di, 15), 1e-5);
    ASSERT_CLOSE("layernorm float dw", fmaxdiff(fdw, dw, 5), 1e-5);
    free(fi), free(fw), free(fb), free(fG), free(fo), free(fm), free(fr), free(fdi), free(fdw), free(fdb);
    free(c.inp), free(c.w), free(c.b), free(c.G), free(c.out), free(c.mean), free(c.rstd), free(di), free(dw), free(db);
}

/* ---------------- dropout, residual, activations ---------------- */

typedef struct {
    size_t n;
    double *a, *b, *G, *out;
    double p;
    uint64_t seed;
    int op; /* 0 dropout(a), 1 residual(a, b), 2.. activation op-2 of a */
} ew_ctx;

static double ew_loss(void *c_) {
    ew_ctx *c = c_;
    if (c->op == 0)
        crec__nn_dropout_forward_d(c->out, c->a, c->n, c->p, c->seed);
    else if (c->op == 1)
        crec__nn_residual_forward_d(c->out, c->a, c->b, c->n);
    else
        crec__nn_act_forward_d(c->out, c->a, c->n, (crec_nn_act)(c->op - 2));
    return dsum_prod(c->out, c->G, c->n);
}

static void test_elementwise(void **st) {
    size_t n = 40;
    ew_ctx c = {.n = n, .p = 0.3, .seed = 99};
    c.a = dvec(n, 2), c.b = dvec(n, 1), c.G = dvec(n, 1), c.out = dzeros(n);
    for (size_t i = 0; i < n; i++) /* keep ReLU away from its kink */
        if (fabs(c.a[i]) < 0.05) c.a[i] = 0.5;
    double *da = dzeros(n), *db = dzeros(n);

    c.op = 0;
    crec__nn_dropout_backward_d(da, c.G, n, c.p, c.seed);
    ASSERT_GRAD("dropout dinp", fd_check(ew_loss, &c, c.a, da, n));
    c.op = 1;
    memset(da, 0, n * sizeof *da);
    crec__nn_residual_backward_d(da, db, c.G, n);
    ASSERT_GRAD("residual da", fd_check(ew_loss, &c, c.a, da, n));
    ASSERT_GRAD("residual db", fd_check(ew_loss, &c, c.b, db, n));
    const char *names[] = {"relu dinp", "gelu dinp", "silu dinp"};
    for (int act = 0; act < 3; act++) {
        c.op = 2 + act;
        memset(da, 0, n * sizeof *da);
        crec__nn_act_backward_d(da, c.G, c.a, n, (crec_nn_act)act);
        ASSERT_GRAD(names[act], fd_check(ew_loss, &c, c.a, da, n));
        ew_loss(&c);
        for (size_t i = 0; i < n; i++) {
            double x = c.a[i];
            double ref = act == 0 ? (x > 0 ? x : 0) : act == 1 ? 0.5 * x * (1 + erf(x / sqrt(2.0))) : x / (1 + exp(-x));
            assert_true(fabs(c.out[i] - ref) < 1e-12);
        }
        float *fa = to_f(c.a, n), *fo = calloc(n, 4), *fG = to_f(c.G, n), *fd = calloc(n, 4);
        crec__nn_act_forward(fo, fa, n, (crec_nn_act)act);
        crec__nn_act_backward(fd, fG, fa, n, (crec_nn_act)act);
        ASSERT_CLOSE("activation float out", fmaxdiff(fo, c.out, n), 1e-5);
        ASSERT_CLOSE("activation float dinp", fmaxdiff(fd, da, n), 1e-5);
        free(fa), free(fo), free(fG), free(fd);
    }

    /* dropout: a pure function of (seed, index), rate close to p, kept values scaled by 1/(1-p), in place works */
    size_t big = 200000;
    float *x = malloc(big * 4), *y = malloc(big * 4), *z = malloc(big * 4);
    for (size_t i = 0; i < big; i++) x[i] = 1.0f;
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    crec__nn_dropout_forward(y, x, big, 0.2f, 7);
    omp_set_num_threads(2);
    memcpy(z, x, big * 4);
    crec__nn_dropout_forward(z, z, big, 0.2f, 7);
    omp_set_num_threads(nt);
    assert_memory_equal(y, z, big * 4);
    size_t dropped = 0;
    for (size_t i = 0; i < big; i++) {
        if (y[i] == 0)
            dropped++;
        else
            assert_true(y[i] == 1.0f / 0.8f);
    }
    double rate = (double)dropped / big;
    print_message("  dropout p=0.2 observed rate %.4f\n", rate);
    assert_true(fabs(rate - 0.2) < 0.005); /* ~5.6 standard deviations */
    crec__nn_dropout_forward(z, x, big, 0.2f, 8);
    assert_true(memcmp(y, z, big * 4) != 0); /* another seed, another mask */
    free(x), free(y), free(z);
    free(c.a), free(c.b), free(c.G), free(c.out), free(da), free(db);
}

/* ---------------- attention ---------------- */

typedef struct {
    int B, D, H, causal, N;
    int32_t seq_off[4];
    int64_t att_off[4];
    const uint8_t *valid;
    double p;
    uint64_t seed;
    double *qkv, *G, *out, *att;
} att_ctx;

static double att_loss(void *c_) {
    att_ctx *c = c_;
    crec__nn_attention_forward_d(c->out, c->att, c->qkv, c->seq_off, c->att_off, c->B, c->D, c->H, c->causal, c->valid,
                                 c->p, c->seed);
    return dsum_prod(c->out, c->G, (size_t)c->N * c->D);
}

/* Direct reference: per sequence, per head, per query: softmax over the visible keys, dropout of the probabilities
 * (element j of the cache kept when hash32(folded seed, j) >= p 2^32, kept ones scaled by 1/(1-p)), then the
 * weighted values. */
static void att_reference(const att_ctx *c, double *out) {
    int hd = c->D / c->H, D3 = 3 * c->D;
    for (int b = 0; b < c->B; b++) {
        int o = c->seq_off[b], T = c->seq_off[b + 1] - o;
        for (int h = 0; h < c->H; h++)
            for (int t = 0; t < T; t++) {
                double s[16], mx = -1e300, sum = 0;
                int vis[16];
                for (int t2 = 0; t2 < T; t2++) {
                    vis[t2] = (!c->causal || t2 <= t) && (!c->valid || c->valid[o + t2]);
                    s[t2] = 0;
                    for (int i = 0; i < hd; i++)
                        s[t2] += c->qkv[(o + t) * D3 + h * hd + i] * c->qkv[(o + t2) * D3 + c->D + h * hd + i];
                    s[t2] /= sqrt((double)hd);
                    if (vis[t2] && s[t2] > mx) mx = s[t2];
                }
                for (int t2 = 0; t2 < T; t2++) sum += vis[t2] ? exp(s[t2] - mx) : 0;
                for (int i = 0; i < hd; i++) {
                    double y = 0;
                    for (int t2 = 0; t2 < T; t2++) {
                        uint32_t j = (uint32_t)(c->att_off[b] + (int64_t)h * T * T + t * T + t2);
                        double keep =
                            c->p <= 0 ? 1
                            : crec__nn_hash32((uint32_t)(c->seed ^ (c->seed >> 32)), j) >= crec__nn_drop_thr(c->p)
                                ? 1 / (1 - c->p)
                                : 0;
                        if (vis[t2]) y += exp(s[t2] - mx) / sum * keep * c->qkv[(o + t2) * D3 + 2 * c->D + h * hd + i];
                    }
                    out[(o + t) * c->D + h * hd + i] = y;
                }
            }
    }
}

static void test_attention(void **st) {
    /* three sequences of lengths 1, 4, 3; D 4, 2 heads of 2 */
    static const uint8_t valid[8] = {1, 1, 0, 1, 1, 1, 1, 0};
    for (int variant = 0; variant < 8; variant++) {
        att_ctx c = {.B = 3, .D = 4, .H = 2, .N = 8, .seq_off = {0, 1, 5, 8}, .seed = 0x1234567890ull};
        c.causal = variant & 1;
        c.valid = variant & 2 ? valid : NULL;
        c.p = variant & 4 ? 0.3 : 0; /* dropout on the probabilities: a fixed mask, so still differentiable */
        int64_t tot = crec__nn_attention_offsets(c.att_off, c.seq_off, c.B, c.H);
        assert_int_equal(tot, 2 * (1 + 16 + 9));
        c.qkv = dvec((size_t)c.N * 12, 1.5), c.G = dvec((size_t)c.N * 4, 1), c.out = dzeros((size_t)c.N * 4);
        c.att = dzeros((size_t)tot);
        att_loss(&c);
        double *ref = dzeros((size_t)c.N * 4);
        att_reference(&c, ref);
        for (int i = 0; i < c.N * 4; i++) assert_true(fabs(c.out[i] - ref[i]) < 1e-12);
        /* causal: the first token of the second sequence attends only to itself */
        if (c.causal && c.p == 0)
            for (int i = 0; i < 2; i++) assert_true(fabs(c.out[1 * 4 + i] - c.qkv[1 * 12 + 8 + i]) < 1e-12);
        double *dq = dzeros((size_t)c.N * 12);
        crec__nn_attention_backward_d(dq, c.G, c.qkv, c.att, c.seq_off, c.att_off, c.B, c.D, c.H, c.causal, c.valid,
                                      c.p, c.seed);
        char name[80];
        snprintf(name, sizeof name, "attention dqkv (%s%s%s)", c.causal ? "causal" : "bidirectional",
                 c.valid ? ", key padding" : "", c.p > 0 ? ", dropout" : "");
        ASSERT_GRAD(name, fd_check(att_loss, &c, c.qkv, dq, (size_t)c.N * 12));
        float *fq = to_f(c.qkv, (size_t)c.N * 12), *fG = to_f(c.G, (size_t)c.N * 4), *fo = calloc((size_t)c.N * 4, 4);
        float *fa = calloc((size_t)tot, 4), *fdq = calloc((size_t)c.N * 12, 4);
        crec__nn_attention_forward(fo, fa, fq, c.seq_off, c.att_off, c.B, c.D, c.H, c.causal, c.valid, (float)c.p,
                                   c.seed);
        crec__nn_attention_backward(fdq, fG, fq, fa, c.seq_off, c.att_off, c.B, c.D, c.H, c.causal, c.valid, (float)c.p,
                                    c.seed);
        att_loss(&c);
        ASSERT_CLOSE("attention float out", fmaxdiff(fo, c.out, (size_t)c.N * 4), 1e-5);
        ASSERT_CLOSE("attention float dqkv", fmaxdiff(fdq, dq, (size_t)c.N * 12), 1e-5);
        free(fq), free(fG), free(fo), free(fa), free(fdq);
        free(c.qkv), free(c.G), free(c.out), free(c.att), free(ref), free(dq);
    }
}

/* Key padding: with key 2 masked, row 2's k and v receive no gradient from any query. */
static void test_attention_mask_grad(void **st) {
    static const uint8_t valid[4] = {1, 1, 0, 1};
    int32_t so[2] = {0, 4};
    int64_t ao[2];
    crec__nn_attention_offsets(ao, so, 1, 1);
    double *qkv = dvec(4 * 6, 1), *G = dvec(4 * 2, 1), *out = dzeros(8), *att = dzeros(16), *dq = dzeros(24);
    crec__nn_attention_forward_d(out, att, qkv, so, ao, 1, 2, 1, 0, valid, 0, 0);
    crec__nn_attention_backward_d(dq, G, qkv, att, so, ao, 1, 2, 1, 0, valid, 0, 0);
    for (int t = 0; t < 4; t++) assert_true(att[t * 4 + 2] == 0);
    for (int i = 2; i < 6; i++) assert_true(dq[2 * 6 + i] == 0);
    assert_true(dq[2 * 6 + 0] != 0); /* its query still attends */
    free(qkv), free(G), free(out), free(att), free(dq);
}

/* ---------------- GRU cell ---------------- */

typedef struct {
    int N, D;
    double *gx, *gh, *hp, *G, *out, *cache;
} gru_ctx;

static double gru_loss(void *c_) {
    gru_ctx *c = c_;
    crec__nn_gru_cell_forward_d(c->out, c->cache, c->gx, c->gh, c->hp, c->N, c->D);
    return dsum_prod(c->out, c->G, (size_t)c->N * c->D);
}

static void test_gru(void **st) {
    gru_ctx c = {.N = 3, .D = 4};
    c.gx = dvec(36, 1.5), c.gh = dvec(36, 1.5), c.hp = dvec(12, 1), c.G = dvec(12, 1), c.out = dzeros(12),
    c.cache = dzeros(36);
    gru_loss(&c);
    for (int n = 0; n < 3; n++)
        for (int d = 0; d < 4; d++) {
            const double *x = c.gx + n * 12, *h = c.gh + n * 12;
            double r = 1 / (1 + exp(-(x[d] + h[d]))), z = 1 / (1 + exp(-(x[4 + d] + h[4 + d])));
            double nn = tanh(x[8 + d] + r * h[8 + d]);
            assert_true(fabs(c.out[n * 4 + d] - ((1 - z) * nn + z * c.hp[n * 4 + d])) < 1e-12);
        }
    double *dgx = dzeros(36), *dgh = dzeros(36), *dhp = dzeros(12);
    crec__nn_gru_cell_backward_d(dgx, dgh, dhp, c.G, c.cache, c.gh, c.hp, 3, 4);
    ASSERT_GRAD("gru dgx", fd_check(gru_loss, &c, c.gx, dgx, 36));
    ASSERT_GRAD("gru dgh", fd_check(gru_loss, &c, c.gh, dgh, 36));
    ASSERT_GRAD("gru dhprev", fd_check(gru_loss, &c, c.hp, dhp, 12));
    float *fx = to_f(c.gx, 36), *fh = to_f(c.gh, 36), *fp = to_f(c.hp, 12), *fG = to_f(c.G, 12);
    float *fo = calloc(12, 4), *fc = calloc(36, 4), *fdx = calloc(36, 4), *fdh = calloc(36, 4), *fdp = calloc(12, 4);
    crec__nn_gru_cell_forward(fo, fc, fx, fh, fp, 3, 4);
    crec__nn_gru_cell_backward(fdx, fdh, fdp, fG, fc, fh, fp, 3, 4);
    ASSERT_CLOSE("gru float out", fmaxdiff(fo, c.out, 12), 1e-5);
    ASSERT_CLOSE("gru float dgx", fmaxdiff(fdx, dgx, 36), 1e-5);
    ASSERT_CLOSE("gru float dhprev", fmaxdiff(fdp, dhp, 12), 1e-5);
    free(fx), free(fh), free(fp), free(fG), free(fo), free(fc), free(fdx), free(fdh), free(fdp);
    free(c.gx), free(c.gh), free(c.hp), free(c.G), free(c.out), free(c.cache), free(dgx), free(dgh), free(dhp);
}

/* ---------------- GRU layer over packed sequences ---------------- */

/* Four sequences of lengths 4, 2, 2, 1 (sorted): steps run 4, 3, 1, 1 sequences; C 3 inputs, H 2 hidden. */
enum { GL_B = 4, GL_T = 4, GL_N = 9, GL_C = 3, GL_H = 2 };
static const int32_t GL_LEN[GL_B] = {4, 2, 2, 1}, GL_BS[GL_T] = {4, 3, 1, 1}, GL_OFF[GL_T + 1] = {0, 4, 7, 8, 9};

typedef struct {
    crec_nn_pack pk;
    int with_h0;
    double *x, *h0, *wih, *bih, *whh, *bhh, *G, *h, *cache, *gx, *gh, *hp;
} grul_ctx;

static double grul_loss(void *c_) {
    grul_ctx *c = c_;
    crec__nn_gru_forward_d(c->h, c->cache, c->gx, c->gh, c->hp, c->x, c->with_h0 ? c->h0 : NULL, c->wih, c->bih,
                           c->whh, c->bhh, &c->pk, GL_C, GL_H);
    return dsum_prod(c->h, c->G, (size_t)GL_N * GL_H);
}

static double sigd(double v) { return 1 / (1 + exp(-v)); }

/* Reference: sequence b alone, position by position, the cell's formulas written out (PyTorch's GRU). */
static void grul_reference(const grul_ctx *c, double *out) {
    for (int b = 0; b < GL_B; b++) {
        double hprev[GL_H];
        for (int d = 0; d < GL_H; d++) hprev[d] = c->with_h0 ? c->h0[b * GL_H + d] : 0;
        for (int t = 0; t < GL_LEN[b]; t++) {
            const double *xt = c->x + (GL_OFF[t] + b) * GL_C;
            double gi[3 * GL_H], gg[3 * GL_H], hn[GL_H];
            for (int o = 0; o < 3 * GL_H; o++) {
                gi[o] = c->bih[o], gg[o] = c->bhh[o];
                for (int k = 0; k < GL_C; k++) gi[o] += c->wih[o * GL_C + k] * xt[k];
                for (int k = 0; k < GL_H; k++) gg[o] += c->whh[o * GL_H + k] * hprev[k];
            }
            for (int d = 0; d < GL_H; d++) {
                double r = sigd(gi[d] + gg[d]), z = sigd(gi[GL_H + d] + gg[GL_H + d]);
                double n = tanh(gi[2 * GL_H + d] + r * gg[2 * GL_H + d]);
                hn[d] = (1 - z) * n + z * hprev[d];
            }
            for (int d = 0; d < GL_H; d++) hprev[d] = hn[d], out[(GL_OFF[t] + b) * GL_H + d] = hn[d];
        }
    }
}

static void test_gru_layer(void **st) {
    size_t N = GL_N, C = GL_C, H = GL_H, B = GL_B;
    for (int with_h0 = 0; with_h0 < 2; with_h0++) {
        grul_ctx c = {.pk = {.B = GL_B, .T = GL_T, .N = GL_N, .bs = GL_BS, .off = GL_OFF}, .with_h0 = with_h0};
        c.x = dvec(N * C, 1), c.h0 = dvec(B * H, 1), c.wih = dvec(3 * H * C, 1), c.bih = dvec(3 * H, 0.5);
        c.whh = dvec(3 * H * H, 1), c.bhh = dvec(3 * H, 0.5), c.G = dvec(N * H, 1), c.h = dzeros(N * H);
        c.cache = dzeros(N * 3 * H), c.gx = dzeros(N * 3 * H), c.gh = dzeros(N * 3 * H), c.hp = dzeros(N * H);
        grul_loss(&c);
        double *ref = dzeros(N * H);
        grul_reference(&c, ref);
        for (size_t i = 0; i < N * H; i++) assert_true(fabs(c.h[i] - ref[i]) < 1e-12);
        /* backward: dh enters as the upstream G and collects the recurrent parts (a copy: the loss reads G) */
        double *dh = dzeros(N * H), *dx = dzeros(N * C), *dh0 = dzeros(B * H), *dwih = dzeros(3 * H * C);
        double *dbih = dzeros(3 * H), *dwhh = dzeros(3 * H * H), *dbhh = dzeros(3 * H);
        double *dgx = dzeros(N * 3 * H), *dgh = dzeros(N * 3 * H);
        memcpy(dh, c.G, N * H * sizeof *dh);
        crec__nn_gru_backward_d(dx, with_h0 ? dh0 : NULL, dwih, dbih, dwhh, dbhh, dh, dgx, dgh, c.x, c.cache, c.gh,
                                c.hp, c.wih, c.whh, &c.pk, GL_C, GL_H);
        const char *tag = with_h0 ? " (h0)" : " (zero state)";
        char name[64];
#define GL_CHECK(label, arr, grad, n)                                                                                  \
    do {                                                                                                               \
        snprintf(name, sizeof name, "gru layer %s%s", label, tag);                                                     \
        ASSERT_GRAD(name, fd_check(grul_loss, &c, arr, grad, n));                                                      \
    } while (0)
        GL_CHECK("dx", c.x, dx, N * C);
        if (with_h0) GL_CHECK("dh0", c.h0, dh0, B * H);
        GL_CHECK("dwih", c.wih, dwih, 3 * H * C);
        GL_CHECK("dbih", c.bih, dbih, 3 * H);
        GL_CHECK("dwhh", c.whh, dwhh, 3 * H * H);
        GL_CHECK("dbhh", c.bhh, dbhh, 3 * H);
#undef GL_CHECK
        /* float: the same numbers to 1e-5 */
        float *fx = to_f(c.x, N * C), *fh0 = to_f(c.h0, B * H), *fwih = to_f(c.wih, 3 * H * C);
        float *fbih = to_f(c.bih, 3 * H), *fwhh = to_f(c.whh, 3 * H * H), *fbhh = to_f(c.bhh, 3 * H);
        float *fh = calloc(N * H, 4), *fc = calloc(N * 3 * H, 4), *fgx = calloc(N * 3 * H, 4);
        float *fgh = calloc(N * 3 * H, 4), *fhp = calloc(N * H, 4), *fdh = to_f(c.G, N * H), *fdx = calloc(N * C, 4);
        float *fdh0 = calloc(B * H, 4), *fdwih = calloc(3 * H * C, 4), *fdbih = calloc(3 * H, 4);
        float *fdwhh = calloc(3 * H * H, 4), *fdbhh = calloc(3 * H, 4), *fdgx = calloc(N * 3 * H, 4);
        float *fdgh = calloc(N * 3 * H, 4);
        crec__nn_gru_forward(fh, fc, fgx, fgh, fhp, fx, with_h0 ? fh0 : NULL, fwih, fbih, fwhh, fbhh, &c.pk, GL_C,
                             GL_H);
        crec__nn_gru_backward(fdx, with_h0 ? fdh0 : NULL, fdwih, fdbih, fdwhh, fdbhh, fdh, fdgx, fdgh, fx, fc, fgh, fhp,
                              fwih, fwhh, &c.pk, GL_C, GL_H);
        grul_loss(&c);
        ASSERT_CLOSE("gru layer float h", fmaxdiff(fh, c.h, N * H), 1e-5);
        ASSERT_CLOSE("gru layer float dx", fmaxdiff(fdx, dx, N * C), 1e-5);
        ASSERT_CLOSE("gru layer float dh0", fmaxdiff(fdh0, dh0, B * H), 1e-5);
        ASSERT_CLOSE("gru layer float dwih", fmaxdiff(fdwih, dwih, 3 * H * C), 1e-5);
        ASSERT_CLOSE("gru layer float dwhh", fmaxdiff(fdwhh, dwhh, 3 * H * H), 1e-5);
        ASSERT_CLOSE("gru layer float dbhh", fmaxdiff(fdbhh, dbhh, 3 * H), 1e-5);
        free(fx), free(fh0), free(fwih), free(fbih), free(fwhh), free(fbhh), free(fh), free(fc), free(fgx), free(fgh);
        free(fhp), free(fdh), free(fdx), free(fdh0), free(fdwih), free(fdbih), free(fdwhh), free(fdbhh), free(fdgx);
        free(fdgh);
        free(dh), free(dx), free(dh0), free(dwih), free(dbih), free(dwhh), free(dbhh), free(dgx), free(dgh), free(ref);
        free(c.x), free(c.h0), free(c.wih), free(c.bih), free(c.whh), free(c.bhh), free(c.G), free(c.h), free(c.cache);
        free(c.gx), free(c.gh), free(c.hp);
    }
}

/* ---------------- losses ---------------- */

enum { L_BCE, L_SSM, L_CE, L_BPR, L_CEF };
typedef struct {
    int kind, N, D, NI, K, S, rb, ic;
    int32_t pos[8], neg[32];
    double *h, *W, *lqp, *lqn, *scratch, beta, gscale, reg;
} loss_ctx;

static double loss_eval(loss_ctx *c, double *dh, double *dW) {
    if (c->kind == L_BCE)
        return crec__nn_bce_loss_d(dh, dW, c->scratch, c->h, c->W, c->pos, c->neg, c->N, c->D, c->K, c->beta,
                                   c->gscale);
    if (c->kind == L_SSM)
        return crec__nn_sampled_softmax_loss_d(dh, dW, c->scratch, c->h, c->W, c->pos, c->neg, c->lqp, c->lqn, c->N,
                                               c->D, c->S, c->gscale);
    if (c->kind == L_BPR)
        return crec__nn_bprmax_loss_d(dh, dW, c->scratch, c->h, c->W, c->pos, c->neg, c->N, c->D, c->S, c->reg,
                                      c->gscale);
    if (c->kind == L_CEF)
        return crec__nn_softmax_ce_fused_d(dh, dW, c->scratch, c->h, c->W, c->pos, c->N, c->D, c->NI, c->rb, c->ic,
                                           c->gscale);
    return crec__nn_softmax_ce_loss_d(dh, dW, c->scratch, c->h, c->W, c->pos, c->N, c->D, c->NI, c->rb, c->ic,
                                      c->gscale);
}
/* Finite differences of gscale * loss. */
static double loss_fn(void *c_) {
    loss_ctx *c = c_;
    return c->gscale * loss_eval(c, NULL, NULL);
}
static double sig(double x) { return 1 / (1 + exp(-x)); }
static double dotd(const double *a, const double *b, int n) { return dsum_prod(a, b, (size_t)n); }

static void loss_grad_check(loss_ctx *c, const char *name) {
    double *dh = dzeros((size_t)c->N * c->D), *dW = dzeros((size_t)c->NI * c->D);
    loss_eval(c, dh, dW);
    char buf[64];
    snprintf(buf, sizeof buf, "%s dh", name);
    ASSERT_GRAD(buf, fd_check(loss_fn, c, c->h, dh, (size_t)c->N * c->D));
    snprintf(buf, sizeof buf, "%s dW", name);
    ASSERT_GRAD(buf, fd_check(loss_fn, c, c->W, dW, (size_t)c->NI * c->D));
    free(dh), free(dW);
}

static void test_bce(void **st) {
    loss_ctx c = {.kind = L_BCE, .N = 4, .D = 3, .NI = 6, .K = 2, .beta = 1, .gscale = 0.25};
    int32_t pos[] = {1, 3, -1, 1}, neg[] = {0, 5, 2, 2, 4, 4, 1, 5}; /* row 3: negative 1 = its own target */
    memcpy(c.pos, pos, sizeof pos), memcpy(c.neg, neg, sizeof neg);
    c.h = dvec(12, 1.5), c.W = dvec(18, 1.5), c.scratch = dzeros(2 * 4 * 3);
    double ref = 0;
    for (int n = 0; n < 4; n++) {
        if (pos[n] < 0) continue;
        ref -= log(sig(dotd(c.h + n * 3, c.W + pos[n] * 3, 3)));
        for (int k = 0; k < 2; k++) ref -= log(1 - sig(dotd(c.h + n * 3, c.W + neg[n * 2 + k] * 3, 3)));
    }
    assert_true(fabs(loss_eval(&c, NULL, NULL) - ref) < 1e-12);
    loss_grad_check(&c, "bce");
    /* gBCE: the positive term is raised to beta */
    c.beta = crec__nn_gbce_beta(2, 6, 0.75);
    assert_true(fabs(c.beta - (0.75 * (2.0 / 5 - 1) + 1)) < 1e-15);
    double ref2 = 0;
    for (int n = 0; n < 4; n++) {
        if (pos[n] < 0) continue;
        ref2 -= c.beta * log(sig(dotd(c.h + n * 3, c.W + pos[n] * 3, 3)));
        for (int k = 0; k < 2; k++) ref2 -= log(1 - sig(dotd(c.h + n * 3, c.W + neg[n * 2 + k] * 3, 3)));
    }
    assert_true(fabs(loss_eval(&c, NULL, NULL) - ref2) < 1e-12);
    loss_grad_check(&c, "gbce");
    free(c.h), free(c.W), free(c.scratch);
}

static void test_sampled_softmax(void **st) {
    loss_ctx c = {.kind = L_SSM, .N = 4, .D = 3, .NI = 7, .S = 4, .gscale = 0.5};
    int32_t pos[] = {1, 3, -1, 6}, neg[] = {0, 3, 5, 5}; /* row 1 hits negative 3 (left out); 5 drawn twice */
    memcpy(c.pos, pos, sizeof pos), memcpy(c.neg, neg, sizeof neg);
    c.h = dvec(12, 1.5), c.W = dvec(21, 1.5), c.scratch = dzeros(4 * 4 + 2 * 4 * 3 + 2 * 4);
    double *lqp = dvec(4, 1), *lqn = dvec(4, 1);
    for (int withq = 0; withq < 2; withq++) {
        c.lqp = withq ? lqp : NULL, c.lqn = withq ? lqn : NULL;
        double ref = 0;
        for (int n = 0; n < 4; n++) {
            if (pos[n] < 0) continue;
            double sp = dotd(c.h + n * 3, c.W + pos[n] * 3, 3) - (withq ? lqp[n] : 0), z = exp(sp);
            for (int j = 0; j < 4; j++)
                if (neg[j] != pos[n]) z += exp(dotd(c.h + n * 3, c.W + neg[j] * 3, 3) - (withq ? lqn[j] : 0));
            ref += log(z) - sp;
        }
        assert_true(fabs(loss_eval(&c, NULL, NULL) - ref) < 1e-12);
        loss_grad_check(&c, withq ? "sampled softmax + logQ" : "sampled softmax");
    }
    free(c.h), free(c.W), free(c.scratch), free(lqp), free(lqn);
}

static void test_bprmax(void **st) {
    loss_ctx c = {.kind = L_BPR, .N = 5, .D = 3, .NI = 7, .S = 4, .gscale = 0.3, .reg = 0.7};
    /* row 1 hits negative 3 (left out); row 3 has no target; row 4's target 5 is drawn twice (both left out) */
    int32_t pos[] = {1, 3, 6, -1, 5}, neg[] = {0, 3, 5, 5};
    memcpy(c.pos, pos, sizeof pos), memcpy(c.neg, neg, sizeof neg);
    c.h = dvec(15, 1.5), c.W = dvec(21, 1.5), c.scratch = dzeros(2 * 4 * 3 + 3 * 5 * 4 + 5 * 3 + 2 * 5);
    double ref = 0;
    for (int n = 0; n < 5; n++) {
        if (pos[n] < 0) continue;
        double sp = dotd(c.h + n * 3, c.W + pos[n] * 3, 3), z = 0, P = 0, Q = 0, s[4];
        for (int j = 0; j < 4; j++) {
            s[j] = dotd(c.h + n * 3, c.W + neg[j] * 3, 3);
            z += neg[j] != pos[n] ? exp(s[j]) : 0;
        }
        for (int j = 0; j < 4; j++) {
            if (neg[j] == pos[n]) continue;
            double w = exp(s[j]) / z;
            P += w * sig(sp - s[j]), Q += w * s[j] * s[j];
        }
        ref += -log(P) + c.reg * Q;
    }
    assert_true(fabs(loss_eval(&c, NULL, NULL) - ref) < 1e-12);
    loss_grad_check(&c, "bpr-max");
    /* a row whose every negative is its target has no loss and no gradient */
    int32_t same[] = {2, 2, 2, 2};
    memcpy(c.neg, same, sizeof same);
    c.pos[0] = 2, c.N = 1;
    double *dh = dzeros(3), *dW = dzeros(21);
    assert_true(loss_eval(&c, dh, dW) == 0);
    for (int i = 0; i < 21; i++) assert_true(dW[i] == 0);
    for (int i = 0; i < 3; i++) assert_true(dh[i] == 0);
    free(dh), free(dW);
    free(c.h), free(c.W), free(c.scratch);
}

static void test_softmax_ce(void **st) {
    loss_ctx c = {.kind = L_CE, .N = 5, .D = 4, .NI = 7, .rb = 2, .ic = 3, .gscale = 0.2};
    int32_t pos[] = {0, 6, 3, -1, 3};
    memcpy(c.pos, pos, sizeof pos);
    c.h = dvec(20, 1.5), c.W = dvec(28, 1.5), c.scratch = dzeros(64);
    double ref = 0;
    for (int n = 0; n < 5; n++) {
        if (pos[n] < 0) continue;
        double z = 0;
        for (int j = 0; j < 7; j++) z += exp(dotd(c.h + n * 4, c.W + j * 4, 4));
        ref += log(z) - dotd(c.h + n * 4, c.W + pos[n] * 4, 4);
    }
    assert_true(fabs(loss_eval(&c, NULL, NULL) - ref) < 1e-12);
    loss_grad_check(&c, "softmax CE (chunked 2x3)");
    c.rb = 5, c.ic = 7;
    assert_true(fabs(loss_eval(&c, NULL, NULL) - ref) < 1e-12);
    loss_grad_check(&c, "softmax CE (one chunk)");

    /* float: chunked (row blocks of 7, item chunks of 50, online logsumexp) equals unchunked, on a bigger case */
    int N = 37, D = 16, NI = 301;
    double *hd = dvec((size_t)N * D, 2), *Wd = dvec((size_t)NI * D, 2);
    float *h = to_f(hd, (size_t)N * D), *W = to_f(Wd, (size_t)NI * D);
    int32_t *p = malloc(N * sizeof *p);
    for (int n = 0; n < N; n++) p[n] = n == 5 ? -1 : (int32_t)crec__rng_below(&rng, NI);
    float *s1 = calloc((size_t)N * NI + 2 * N, 4), *s2 = calloc(7 * 50 + 14, 4);
    float *dh1 = calloc((size_t)N * D, 4), *dW1 = calloc((size_t)NI * D, 4);
    float *dh2 = calloc((size_t)N * D, 4), *dW2 = calloc((size_t)NI * D, 4);
    double l1 = crec__nn_softmax_ce_loss(dh1, dW1, s1, h, W, p, N, D, NI, N, NI, 1.0f / N);
    double l2 = crec__nn_softmax_ce_loss(dh2, dW2, s2, h, W, p, N, D, NI, 7, 50, 1.0f / N);
    double *sd = dzeros((size_t)N * NI + 2 * N);
    assert_true(crec__nn_softmax_ce_loss_d(NULL, NULL, sd, hd, Wd, p, 0, D, NI, N, NI, 1) == 0); /* no rows */
    double lref = crec__nn_softmax_ce_loss_d(NULL, NULL, sd, hd, Wd, p, N, D, NI, N, NI, 1);
    print_message("  CE float unchunked %.7f chunked %.7f double %.7f\n", l1, l2, lref);
    assert_true(fabs(l1 - lref) / lref < 1e-5);
    assert_true(fabs(l2 - l1) / l1 < 1e-6);
    double e = 0;
    for (int i = 0; i < N * D; i++) e = fmax(e, fabs(dh1[i] - dh2[i]));
    for (int i = 0; i < NI * D; i++) e = fmax(e, fabs(dW1[i] - dW2[i]));
    print_message("  CE chunked vs unchunked max gradient difference %.2e\n", e);
    assert_true(e < 1e-6);
    free(hd), free(Wd), free(h), free(W), free(p), free(s1), free(s2), free(dh1), free(dW1), free(dh2), free(dW2),
        free(sd);
    free(c.h), free(c.W), free(c.scratch);
}

/* The fused CE (online softmax over item chunks, logits written once): against brute force and finite differences
 * on a small case, against the two-pass kernel on bigger ones (several row blocks, 128-row slabs, item chunks, the
 * dW sub-chunks of 256 items, rows without a target), in float against double, and the same bits at 1 and 2
 * threads. */
static double ce_fused_cmp(int N, int D, int NI, int rb, int ic, int use_float, int threads_check) {
    double *hd = dvec((size_t)N * D, 1.5), *Wd = dvec((size_t)NI * D, 1.5);
    int32_t *p = malloc((size_t)N * sizeof *p);
    for (int n = 0; n < N; n++) p[n] = n % 11 == 3 ? -1 : (int32_t)crec__rng_below(&rng, (uint64_t)NI);
    double *sd = dzeros(crec__nn_ce_fused_floats(NI, D, rb, ic) + (size_t)N * NI + 2 * (size_t)N);
    double *dh1 = dzeros((size_t)N * D), *dW1 = dzeros((size_t)NI * D), *dh2 = dzeros((size_t)N * D),
           *dW2 = dzeros((size_t)NI * D);
    double l1 = crec__nn_softmax_ce_loss_d(dh1, dW1, sd, hd, Wd, p, N, D, NI, N, NI, 0.25); /* two-pass, one block */
    double l2 = crec__nn_softmax_ce_fused_d(dh2, dW2, sd, hd, Wd, p, N, D, NI, rb, ic, 0.25);
    double e = fabs(l1 - l2) / fabs(l1);
    for (size_t i = 0; i < (size_t)N * D; i++) e = fmax(e, fabs(dh1[i] - dh2[i]));
    for (size_t i = 0; i < (size_t)NI * D; i++) e = fmax(e, fabs(dW1[i] - dW2[i]));
    assert_true(crec__nn_softmax_ce_fused_d(NULL, NULL, sd, hd, Wd, p, N, D, NI, rb, ic, 1) == l2); /* loss only */
    if (use_float) { /* float fused against double fused */
        float *h = to_f(hd, (size_t)N * D), *W = to_f(Wd, (size_t)NI * D);
        float *sf = calloc(crec__nn_ce_fused_floats(NI, D, rb, ic), sizeof *sf);
        float *dh = calloc((size_t)N * D, 4), *dW = calloc((size_t)NI * D, 4);
        int nt = omp_get_max_threads();
        omp_set_num_threads(1);
        double lf = crec__nn_softmax_ce_fused(dh, dW, sf, h, W, p, N, D, NI, rb, ic, 0.25f);
        ASSERT_CLOSE("fused CE float loss", fabs(lf - l2) / fabs(l2), 1e-5);
        ASSERT_CLOSE("fused CE float dh", fmaxdiff(dh, dh2, (size_t)N * D), 1e-5);
        ASSERT_CLOSE("fused CE float dW", fmaxdiff(dW, dW2, (size_t)NI * D), 1e-5);
        if (threads_check) {
            float *dhb = calloc((size_t)N * D, 4), *dWb = calloc((size_t)NI * D, 4);
            omp_set_num_threads(2);
            double lb = crec__nn_softmax_ce_fused(dhb, dWb, sf, h, W, p, N, D, NI, rb, ic, 0.25f);
            assert_true(lb == lf);
            assert_memory_equal(dh, dhb, (size_t)N * D * 4);
            assert_memory_equal(dW, dWb, (size_t)NI * D * 4);
            free(dhb), free(dWb);
        }
        omp_set_num_threads(nt);
        free(h), free(W), free(sf), free(dh), free(dW);
    }
    free(hd), free(Wd), free(p), free(sd), free(dh1), free(dW1), free(dh2), free(dW2);
    return e;
}

static void test_softmax_ce_fused(void **st) {
    (void)st;
    loss_ctx c = {.kind = L_CEF, .N = 7, .D = 4, .NI = 11, .rb = 3, .ic = 4, .gscale = 0.2};
    int32_t pos[] = {0, 10, 3, -1, 3, 8, 4};
    memcpy(c.pos, pos, sizeof pos);
    c.h = dvec(28, 1.5), c.W = dvec(44, 1.5);
    c.scratch = dzeros(crec__nn_ce_fused_floats(11, 4, 7, 4)); /* the larger of the two cases below */
    double ref = 0; /* brute force */
    for (int n = 0; n < 7; n++) {
        if (pos[n] < 0) continue;
        double z = 0;
        for (int j = 0; j < 11; j++) z += exp(dotd(c.h + n * 4, c.W + j * 4, 4));
        ref += log(z) - dotd(c.h + n * 4, c.W + pos[n] * 4, 4);
    }
    assert_true(fabs(loss_eval(&c, NULL, NULL) - ref) < 1e-12);
    loss_grad_check(&c, "fused CE (blocks 3, chunks 4)");
    c.rb = 7, c.ic = 11;
    assert_true(fabs(loss_eval(&c, NULL, NULL) - ref) < 1e-12);
    loss_grad_check(&c, "fused CE (one block, one chunk)");
    free(c.h), free(c.W), free(c.scratch);
    /* against the two-pass kernel: one block and chunk; 2 blocks x 2 slabs x 7 chunks (the last of 1 item); chunks
     * of 600 items in dW sub-chunks of 256 */
    double e1 = ce_fused_cmp(37, 16, 301, 37, 301, 1, 0);
    double e2 = ce_fused_cmp(300, 8, 301, 256, 50, 1, 1);
    double e3 = ce_fused_cmp(140, 8, 700, 200, 600, 1, 1);
    print_message("  fused vs two-pass CE (double): max difference %.1e / %.1e / %.1e\n", e1, e2, e3);
    assert_true(e1 < 1e-12 && e2 < 1e-12 && e3 < 1e-12);
}

/* The float losses agree with the double ones (they run the polynomial exp and sgemm). */
static void test_losses_float(void **st) {
    int N = 9, D = 8, NI = 40, K = 3, S = 6;
    double *hd = dvec((size_t)N * D, 1), *Wd = dvec((size_t)NI * D, 1);
    float *h = to_f(hd, (size_t)N * D), *W = to_f(Wd, (size_t)NI * D);
    int32_t pos[9], neg[27];
    for (int n = 0; n < N; n++) pos[n] = (int32_t)crec__rng_below(&rng, NI);
    for (int j = 0; j < N * K; j++) neg[j] = (int32_t)crec__rng_below(&rng, NI);
    double *dhd = dzeros((size_t)N * D), *dWd = dzeros((size_t)NI * D), *sd = dzeros(4096);
    float *dh = calloc((size_t)N * D, 4), *dW = calloc((size_t)NI * D, 4), *sf = calloc(4096, 4);
    for (int kind = 0; kind < 4; kind++) {
        memset(dhd, 0, (size_t)N * D * 8), memset(dWd, 0, (size_t)NI * D * 8);
        memset(dh, 0, (size_t)N * D * 4), memset(dW, 0, (size_t)NI * D * 4);
        double a, b;
        if (kind == 0) {
            a = crec__nn_bce_loss_d(dhd, dWd, sd, hd, Wd, pos, neg, N, D, K, 0.8, 0.1);
            b = crec__nn_bce_loss(dh, dW, sf, h, W, pos, neg, N, D, K, 0.8, 0.1f);
        } else if (kind == 1) {
            a = crec__nn_sampled_softmax_loss_d(dhd, dWd, sd, hd, Wd, pos, neg, NULL, NULL, N, D, S, 0.1);
            b = crec__nn_sampled_softmax_loss(dh, dW, sf, h, W, pos, neg, NULL, NULL, N, D, S, 0.1f);
        } else if (kind == 2) {
            a = crec__nn_softmax_ce_loss_d(dhd, dWd, sd, hd, Wd, pos, N, D, NI, 4, 16, 0.1);
            b = crec__nn_softmax_ce_loss(dh, dW, sf, h, W, pos, N, D, NI, 4, 16, 0.1f);
        } else {
            a = crec__nn_bprmax_loss_d(dhd, dWd, sd, hd, Wd, pos, neg, N, D, S, 0.5, 0.1);
            b = crec__nn_bprmax_loss(dh, dW, sf, h, W, pos, neg, N, D, S, 0.5f, 0.1f);
        }
        ASSERT_CLOSE("loss float value", fabs(a - b) / fabs(a), 1e-5);
        ASSERT_CLOSE("loss float dh", fmaxdiff(dh, dhd, (size_t)N * D), 1e-5);
        ASSERT_CLOSE("loss float dW", fmaxdiff(dW, dWd, (size_t)NI * D), 1e-5);
    }
    /* the polynomial exp against libm over the range softmax uses */
    double worst = 0;
    for (float x = -80.0f; x < 80.0f; x += 0.01237f) worst = fmax(worst, fabs(crec__nn_expf(x) / exp(x) - 1));
    print_message("  crec__nn_expf max relative error %.2e\n", worst);
    assert_true(worst < 5e-7);
    assert_true(crec__nn_expf(-1000.0f) < 1e-37f && crec__nn_expf(0.0f) == 1.0f);
    free(hd), free(Wd), free(h), free(W), free(dhd), free(dWd), free(sd), free(dh), free(dW), free(sf);
}

/* ---------------- negative samplers, loss heads ---------------- */

static void test_sampler(void **st) {
    enum { NI = 5 };
    const float counts[NI] = {0, 1, 3, 7, 15}; /* (count + 1)^1 = 1, 2, 4, 8, 16: Q = w / 31 */
    crec_nn_sampler sp;
    assert_int_equal(crec__nn_sampler_init(&sp, counts, NI, 1.0, 10, 1), 0);
    for (int j = 0; j < NI; j++) { /* log(S Q(j)), as sasrec's sampler=pop always computed it */
        float want = (float)log(10.0 * (counts[j] + 1.0) / 31.0);
        if (sp.logq[j] != want) fail_msg("logq[%d] = %.9g, want %.9g", j, sp.logq[j], want);
    }
    assert_true(sp.cdf[NI - 1] == 31.0);
    crec_rng r1, r2;
    crec__rng_seed(&r1, 77), crec__rng_seed(&r2, 77);
    int cnt[NI] = {0}, draws = 200000;
    for (int i = 0; i < draws; i++) {
        int32_t j = crec__nn_sample(&sp, &r1);
        assert_true(j >= 0 && j < NI);
        assert_int_equal(j, crec__nn_sample(&sp, &r2)); /* a seed gives the same negatives */
        cnt[j]++;
    }
    for (int j = 0; j < NI; j++) {
        double f = (double)cnt[j] / draws, q = (counts[j] + 1.0) / 31.0;
        print_message("  pop sampler item %d: frequency %.4f, Q %.4f\n", j, f, q);
        assert_true(fabs(f - q) < 0.005); /* > 4 standard deviations */
    }
    crec__nn_sampler_free(&sp);
    /* alpha 0.5: Q ~ sqrt(count + 1) */
    assert_int_equal(crec__nn_sampler_init(&sp, counts, NI, 0.5, 1, 0), 0);
    assert_null(sp.logq);
    double z = 1 + sqrt(2.0) + 2 + sqrt(8.0) + 4;
    memset(cnt, 0, sizeof cnt);
    for (int i = 0; i < draws; i++) cnt[crec__nn_sample(&sp, &r1)]++;
    for (int j = 0; j < NI; j++) assert_true(fabs((double)cnt[j] / draws - sqrt(counts[j] + 1.0) / z) < 0.005);
    crec__nn_sampler_free(&sp);
    /* uniform: no table; items marked are avoided; a fully marked catalog still returns (after 64 tries) */
    assert_int_equal(crec__nn_sampler_init(&sp, NULL, NI, 0, 1, 0), 0);
    assert_null(sp.cdf);
    uint8_t mark[NI] = {0, 1, 0, 1, 0};
    memset(cnt, 0, sizeof cnt);
    for (int i = 0; i < 20000; i++) cnt[crec__nn_sample_unmarked(&sp, mark, &r1)]++;
    assert_int_equal(cnt[1] + cnt[3], 0);
    for (int j = 0; j < NI; j += 2) assert_true(fabs(cnt[j] / 20000.0 - 1.0 / 3) < 0.02);
    memset(mark, 1, sizeof mark);
    int32_t j = crec__nn_sample_unmarked(&sp, mark, &r1);
    assert_true(j >= 0 && j < NI);
    crec__nn_sampler_free(&sp);
    assert_int_equal(crec__nn_sampler_init(&sp, NULL, NI, 1.0, 1, 0), CREC_EINVAL); /* popularity without counts */
}

/* Each head computes exactly what the kernel it stands for computes with the negatives it drew. */
static void test_heads(void **st) {
    enum { N = 7, D = 4, NI = 30 };
    double *hd = dvec((size_t)N * D, 1), *Wd = dvec((size_t)NI * D, 1);
    float *h = to_f(hd, (size_t)N * D), *W = to_f(Wd, (size_t)NI * D), counts[NI];
    for (int j = 0; j < NI; j++) counts[j] = (float)(j % 7);
    int32_t tgt[N] = {3, 0, 29, -1, 7, 3, 12};
    uint8_t mark[NI] = {0};
    mark[1] = mark[2] = mark[4] = 1;
    float *dh1 = calloc((size_t)N * D, 4), *dW1 = calloc((size_t)NI * D, 4);
    int rb, ic;
    size_t nscr = crec__nn_ce_blocks(NI, &rb, &ic); /* the largest scratch of the five at these sizes */
    size_t nfused = crec__nn_ce_fused_floats(NI, D, rb, CREC_NN_CE_IC);
    nscr = nfused > nscr ? nfused : nscr;
    float *dh2 = calloc((size_t)N * D, 4), *dW2 = calloc((size_t)NI * D, 4), *scr = calloc(nscr, 4);
    const char *names[] = {"ce", "ssm", "bce", "gbce", "bprmax"};
    for (int kind = CREC_NN_LOSS_CE; kind <= CREC_NN_LOSS_BPRMAX; kind++) {
        crec_nn_head_cfg cfg = {.loss = kind, .neg = 5, .alpha = 0.75, .logq = 1, .gbce_t = 0.5, .bpreg = 0.25};
        crec_nn_head hdd;
        assert_int_equal(crec__nn_head_init(&hdd, &cfg, NI, D, N, counts), 0);
        crec_rng r;
        crec__rng_seed(&r, 5 + (uint64_t)kind);
        if (crec__nn_head_shared(&hdd)) crec__nn_head_draw_shared(&hdd, tgt, N, &r);
        if (crec__nn_head_per_row(&hdd))
            for (int n = 0; n < N; n++) crec__nn_head_draw_row(&hdd, n, mark, &r);
        memset(dh1, 0, (size_t)N * D * 4), memset(dW1, 0, (size_t)NI * D * 4);
        memset(dh2, 0, (size_t)N * D * 4), memset(dW2, 0, (size_t)NI * D * 4);
        double a = crec__nn_head_loss(&hdd, dh1, dW1, h, W, tgt, N, 0.125f), b;
        if (kind == CREC_NN_LOSS_CE) {
            assert_true(rb == hdd.ce_rb && ic == hdd.ce_ic && ic == NI);
            b = crec__nn_softmax_ce_fused(dh2, dW2, scr, h, W, tgt, N, D, NI, rb, CREC_NN_CE_IC, 0.125f);
        } else if (kind == CREC_NN_LOSS_SSM) {
            for (int n = 0; n < N; n++) assert_true(hdd.lqp[n] == (tgt[n] >= 0 ? hdd.sp.logq[tgt[n]] : 0.0f));
            for (int q = 0; q < 5; q++) assert_true(hdd.lqn[q] == hdd.sp.logq[hdd.neg[q]]);
            b = crec__nn_sampled_softmax_loss(dh2, dW2, scr, h, W, tgt, hdd.neg, hdd.lqp, hdd.lqn, N, D, 5, 0.125f);
        } else if (kind == CREC_NN_LOSS_BPRMAX) {
            b = crec__nn_bprmax_loss(dh2, dW2, scr, h, W, tgt, hdd.neg, N, D, 5, 0.25f, 0.125f);
        } else {
            for (int q = 0; q < N * 5; q++) assert_int_equal(mark[hdd.neg[q]], 0);
            double beta = kind == CREC_NN_LOSS_GBCE ? crec__nn_gbce_beta(5, NI, 0.5) : 1.0;
            assert_true(hdd.beta == beta);
            b = crec__nn_bce_loss(dh2, dW2, scr, h, W, tgt, hdd.neg, N, D, 5, beta, 0.125f);
        }
        print_message("  head %-6s loss %.6f\n", names[kind], a);
        assert_true(a == b && a > 0);
        assert_memory_equal(dh1, dh2, (size_t)N * D * 4);
        assert_memory_equal(dW1, dW2, (size_t)NI * D * 4);
        crec__nn_head_free(&hdd);
    }
    /* settings out of range */
    crec_nn_head bad;
    crec_nn_head_cfg b1 = {.loss = 9}, b2 = {.loss = CREC_NN_LOSS_SSM, .neg = 0};
    crec_nn_head_cfg b3 = {.loss = CREC_NN_LOSS_BCE, .neg = 1, .alpha = -1};
    crec_nn_head_cfg b4 = {.loss = CREC_NN_LOSS_GBCE, .neg = 1, .gbce_t = 2};
    assert_int_equal(crec__nn_head_init(&bad, &b1, NI, D, N, counts), CREC_EINVAL);
    assert_int_equal(crec__nn_head_init(&bad, &b2, NI, D, N, counts), CREC_EINVAL);
    assert_int_equal(crec__nn_head_init(&bad, &b3, NI, D, N, counts), CREC_EINVAL);
    assert_int_equal(crec__nn_head_init(&bad, &b4, NI, D, N, counts), CREC_EINVAL);
    /* CE blocking: the whole catalog when it fits 64 MiB with 256+ rows, else 256 rows x item chunks */
    crec__nn_ce_blocks(12101, &rb, &ic);
    assert_true(rb == 1024 && ic == 12101);
    size_t f = crec__nn_ce_blocks(1000000, &rb, &ic);
    assert_true(rb == 256 && ic == 65536 && f == (size_t)256 * 65536 + 512);
    free(hd), free(Wd), free(h), free(W), free(dh1), free(dW1), free(dh2), free(dW2), free(scr);
}

/* ---------------- optimiser, schedule, clipping, parameter blocks ---------------- */

static void test_adamw(void **st) {
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, 0.1f}, m[2] = {0, 0}, v[2] = {0, 0};
    /* step 1, lr 0.1, b1 0.9, b2 0.999, eps 1e-8, wd 0.01:
     *   m = 0.1 g, v = 0.001 g^2, mhat = g, vhat = g^2, update = g / (|g| + eps) = sign(g) (to 1e-7)
     *   p = p (1 - 0.1 * 0.01) - 0.1 * sign(g):  1 -> 0.999 - 0.1 = 0.899;  -2 -> -1.998 - 0.1 = -2.098 */
    crec__nn_adamw(p, g, m, v, 2, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 1);
    assert_true(fabsf(m[0] - 0.05f) < 1e-7f && fabsf(v[0] - 0.00025f) < 1e-8f); /* 1 - b in float: 1e-5 rel. */
    assert_true(fabsf(p[0] - 0.899f) < 1e-6f);
    assert_true(fabsf(p[1] - -2.098f) < 1e-6f);
    /* step 2 with g = (-0.25, 0.1):
     *   m0 = 0.9*0.05 - 0.025 = 0.02; v0 = 0.999*0.00025 + 0.001*0.0625 = 0.00031225
     *   mhat = 0.02 / 0.19 = 0.1052632; vhat = 0.00031225 / 0.001999 = 0.1562031; sqrt = 0.3952254
     *   p0 = 0.899 * 0.999 - 0.1 * 0.1052632 / 0.3952254 = 0.898101 - 0.0266337 = 0.8714673 */
    g[0] = -0.25f;
    crec__nn_adamw(p, g, m, v, 2, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 2);
    print_message("  AdamW step 2: p0 = %.7f (hand: 0.8714673)\n", p[0]);
    assert_true(fabsf(p[0] - 0.8714673f) < 2e-6f);
    /* no weight decay: p changes by the Adam update only */
    float q = 3.0f, gq = 1.0f, mq = 0, vq = 0;
    crec__nn_adamw(&q, &gq, &mq, &vq, 1, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f, 1);
    assert_true(fabsf(q - 2.99f) < 1e-6f);
    /* the zeroing variant: the same parameters and moments bit for bit, the gradient zeroed (n > 65536 takes the
     * parallel path) */
    size_t n = 70001;
    float *a[8];
    for (int k = 0; k < 8; k++) a[k] = calloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++) {
        a[0][i] = a[4][i] = sinf((float)i), a[1][i] = a[5][i] = cosf((float)i * 0.7f);
        a[2][i] = a[6][i] = 0.01f * sinf((float)i * 1.3f), a[3][i] = a[7][i] = 0.001f * (float)(i % 7);
    }
    crec__nn_adamw(a[0], a[1], a[2], a[3], n, 0.01f, 0.9f, 0.98f, 1e-8f, 0.1f, 3);
    crec__nn_adamw_zero(a[4], a[5], a[6], a[7], n, 0.01f, 0.9f, 0.98f, 1e-8f, 0.1f, 3);
    assert_memory_equal(a[0], a[4], n * sizeof(float));
    assert_memory_equal(a[2], a[6], n * sizeof(float));
    assert_memory_equal(a[3], a[7], n * sizeof(float));
    for (size_t i = 0; i < n; i++) assert_true(a[5][i] == 0.0f && a[1][i] != 0.0f);
    for (int k = 0; k < 8; k++) free(a[k]);
}

static void test_schedule(void **st) {
    /* warm-up 10 steps, then cosine over steps 10..110 (total 111) to min_frac 0.1 */
    float lr = 1e-3f;
    assert_true(fabsf(crec__nn_lr(CREC_NN_SCHED_COSINE, lr, 0, 111, 10, 0.1f) - 1e-4f) < 1e-10f);
    assert_true(fabsf(crec__nn_lr(CREC_NN_SCHED_COSINE, lr, 4, 111, 10, 0.1f) - 5e-4f) < 1e-10f);
    assert_true(fabsf(crec__nn_lr(CREC_NN_SCHED_COSINE, lr, 9, 111, 10, 0.1f) - 1e-3f) < 1e-10f);
    assert_true(fabsf(crec__nn_lr(CREC_NN_SCHED_COSINE, lr, 10, 111, 10, 0.1f) - 1e-3f) < 1e-10f);
    /* halfway: cos = 0 -> 0.1 + 0.9 * 0.5 = 0.55 */
    assert_true(fabsf(crec__nn_lr(CREC_NN_SCHED_COSINE, lr, 60, 111, 10, 0.1f) - 5.5e-4f) < 1e-9f);
    /* a quarter: 0.5 (1 + cos(pi/4)) = 0.8535534 -> 0.1 + 0.9 * 0.8535534 = 0.8681981 */
    assert_true(fabsf(crec__nn_lr(CREC_NN_SCHED_COSINE, lr, 35, 111, 10, 0.1f) - 8.681981e-4f) < 1e-9f);
    assert_true(fabsf(crec__nn_lr(CREC_NN_SCHED_COSINE, lr, 110, 111, 10, 0.1f) - 1e-4f) < 1e-10f);
    assert_true(fabsf(crec__nn_lr(CREC_NN_SCHED_COSINE, lr, 500, 111, 10, 0.1f) - 1e-4f) < 1e-10f);
    assert_true(fabsf(crec__nn_lr(CREC_NN_SCHED_LINEAR, lr, 35, 111, 10, 0.0f) - 7.5e-4f) < 1e-9f);
    assert_true(crec__nn_lr(CREC_NN_SCHED_CONSTANT, lr, 50, 111, 0, 0.1f) == lr);
    assert_true(fabsf(crec__nn_lr(CREC_NN_SCHED_CONSTANT, lr, 1, 111, 4, 0.1f) - 5e-4f) < 1e-10f);
    assert_int_equal(crec__nn_sched_parse("cosine"), CREC_NN_SCHED_COSINE);
    assert_int_equal(crec__nn_sched_parse("constant"), CREC_NN_SCHED_CONSTANT);
    assert_int_equal(crec__nn_sched_parse("warm"), -1);
}

static void test_clip(void **st) {
    size_t n = 100003;
    float *g = malloc(n * 4);
    for (size_t i = 0; i < n; i++) g[i] = (i % 2 ? 0.01f : -0.01f);
    double want = 0.01 * sqrt((double)n);
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    double n1 = crec__nn_grad_norm(g, n);
    omp_set_num_threads(2);
    double n2 = crec__nn_grad_norm(g, n);
    omp_set_num_threads(nt);
    assert_true(n1 == n2); /* fixed chunking: the same bits at any thread count */
    assert_true(fabs(n1 - want) / want < 1e-6);
    double before = crec__nn_clip_grad_norm(g, n, 1.0);
    assert_true(fabs(before - want) / want < 1e-6);
    assert_true(fabs(crec__nn_grad_norm(g, n) - 1.0) < 1e-5);
    double again = crec__nn_clip_grad_norm(g, n, 5.0); /* below the cap: unchanged */
    assert_true(fabs(again - 1.0) < 1e-5 && fabs(crec__nn_grad_norm(g, n) - 1.0) < 1e-5);
    free(g);
}

static void test_params(void **st) {
    size_t sizes[3] = {10, 1, 33};
    crec_nn_params p;
    assert_int_equal(crec__nn_params_alloc(&p, sizes, 3, 1), 0);
    for (int i = 0; i < 3; i++) {
        assert_true(((uintptr_t)crec__nn_tensor(&p, p.param, i) & 63) == 0);
        assert_true(((uintptr_t)crec__nn_tensor(&p, p.v, i) & 63) == 0);
    }
    assert_int_equal(p.off[1], 16);
    assert_int_equal(p.off[2], 32);
    assert_int_equal(p.total, 80);
    for (size_t i = 0; i < p.total; i++) p.param[i] = (float)i * 0.5f;
    crec_buf b = {0};
    assert_int_equal(crec__nn_params_save(&p, &b), 0);
    crec_nn_params q;
    assert_int_equal(crec__nn_params_alloc(&q, sizes, 3, 0), 0);
    assert_null(q.grad);
    assert_int_equal(crec__nn_params_load(&q, &b), 0);
    assert_memory_equal(p.param, q.param, p.total * 4);
    crec__nn_params_free(&q);
    /* a different size table is refused */
    size_t other[3] = {10, 2, 33};
    assert_int_equal(crec__nn_params_alloc(&q, other, 3, 0), 0);
    b.pos = 0;
    assert_int_equal(crec__nn_params_load(&q, &b), CREC_EFORMAT);
    crec__nn_params_free(&q);
    assert_int_equal(crec__nn_params_alloc(&q, sizes, 0, 0), CREC_EINVAL);
    crec_buf_free(&b);
    crec__nn_params_free(&p);
}

int main(void) {
    crec__nn_par_min = 0; /* every kernel takes its parallel path, however small the case */
    crec__rng_seed(&rng, 20261126);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedding),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_attention_mask_grad),
        cmocka_unit_test(test_gru),
        cmocka_unit_test(test_gru_layer),
        cmocka_unit_test(test_bce),
        cmocka_unit_test(test_sampled_softmax),
        cmocka_unit_test(test_softmax_ce),
        cmocka_unit_test(test_softmax_ce_fused),
        cmocka_unit_test(test_bprmax),
        cmocka_unit_test(test_losses_float),
        cmocka_unit_test(test_sampler),
        cmocka_unit_test(test_heads),
        cmocka_unit_test(test_adamw),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
