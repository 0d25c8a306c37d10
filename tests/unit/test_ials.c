/* test_ials.c: the iALS model: lock-step CG against a dense Cholesky solve on random SPD systems, the exact
 * training loss decreasing every iteration (both weightings), fold-in against the CG solution and the trained
 * factors' top items, determinism, checkpoints, bad parameters, and beating pop and itemknn on the synthetic
 * default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>

#include "core/util.h"
#include "crec/crec.h"
#include "models/ials.h"
#include "nn/nn.h"
#include "testutil.h"

static crec_model *train_cfg(const crec_csr *x, const char *kv, int threads, int *rc) {
    crec_config cfg = {0};
    char buf[512];
    snprintf(buf, sizeof buf, "%s", kv ? kv : "");
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) assert_int_equal(crec_config_set_kv(&cfg, tok), 0);
    crec_model *m;
    char err[256];
    assert_int_equal(crec_model_new("ials", &cfg, &m, err, sizeof err), 0);
    crec_train_input in = {.train = x, .n_threads = threads, .seed = 7};
    *rc = crec_model_train(m, &in);
    return m;
}

static crec_model *train(const crec_csr *x, const char *kv) {
    int rc;
    crec_model *m = train_cfg(x, kv, 2, &rc);
    assert_int_equal(rc, 0);
    return m;
}

/* A random user x item CSR (rows repeat some items, unsorted), owned by the caller (crec_csr_free). */
static void random_csr(int32_t nu, int32_t ni, double density, uint64_t seed, crec_csr *x) {
    crec_rng r;
    crec__rng_seed(&r, seed);
    memset(x, 0, sizeof *x);
    x->n_rows = nu, x->n_cols = ni;
    x->ptr = calloc((size_t)nu + 1, sizeof *x->ptr);
    x->idx = malloc((size_t)nu * ni * 2 * sizeof *x->idx);
    int64_t o = 0;
    for (int32_t u = 0; u < nu; u++) {
        for (int32_t i = ni - 1; i >= 0; i--)
            if (crec__rng_uniform(&r) < density * (1.0 + 2.0 * (ni - i) / ni) / 2) {
                x->idx[o++] = i;
                if (crec__rng_uniform(&r) < 0.2) x->idx[o++] = i; /* a repeat: r_ui = 2 */
            }
        x->ptr[u + 1] = o;
    }
}

/* ---- CG against a dense solve ---- */

static double quad(const double *A, const double *b, const float *x, int d) { /* 0.5 x'Ax - b'x */
    double f = 0;
    for (int i = 0; i < d; i++) {
        double ax = 0;
        for (int j = 0; j < d; j++) ax += A[i * d + j] * x[j];
        f += 0.5 * x[i] * ax - b[i] * x[i];
    }
    return f;
}

static void test_cg_matches_cholesky(void **st) {
    enum { D = 24, LD = 32, NY = 50, NR = 40 };
    crec_rng r;
    crec__rng_seed(&r, 3);
    float *Y = crec__aligned_alloc(NY * LD * sizeof *Y), *G = crec__aligned_alloc(LD * LD * sizeof *G);
    for (int k = 0; k < NY; k++)
        for (int j = 0; j < D; j++) Y[k * LD + j] = (float)crec__rng_normal(&r) * 0.5f;
    assert_int_equal(crec__ials_gram(Y, NY, LD, G, 2), 0);
    for (int j = D; j < LD; j++) assert_true(G[j * LD + j] == 0 && G[j] == 0); /* padding stays zero */
    /* NR rows (two lock-step blocks), row 5 empty, each with random items, weights and ridge */
    int64_t ptr[NR + 1] = {0};
    int32_t idx[NR * NY];
    float w[NR * NY], t[NR * NY], lam[NR];
    for (int row = 0; row < NR; row++) {
        int64_t o = ptr[row];
        for (int k = 0; k < NY; k++)
            if (row != 5 && crec__rng_uniform(&r) < 0.3) {
                idx[o] = k;
                w[o] = (float)(0.5 + 1.5 * crec__rng_uniform(&r));
                t[o] = (float)(1.0 + 2.0 * crec__rng_uniform(&r));
                o++;
            }
        ptr[row + 1] = o;
        lam[row] = (float)(0.2 + crec__rng_uniform(&r));
    }
    crec_ials_rows rows = {NR, NY, ptr, idx, w, t, lam};
    /* its transpose (the other side's rows), for the scatter layout */
    int64_t tptr[NY + 1] = {0};
    int32_t tidx[NR * NY];
    float tw[NR * NY], tt[NR * NY];
    for (int64_t q = 0; q < ptr[NR]; q++) tptr[idx[q] + 1]++;
    for (int k = 0; k < NY; k++) tptr[k + 1] += tptr[k];
    int64_t fill[NY];
    memcpy(fill, tptr, sizeof fill);
    for (int row = 0; row < NR; row++)
        for (int64_t q = ptr[row]; q < ptr[row + 1]; q++) {
            int64_t o = fill[idx[q]]++;
            tidx[o] = row, tw[o] = w[q], tt[o] = t[q];
        }
    crec_ials_rows trows = {NY, NR, tptr, tidx, tw, tt, NULL};
    const float gscale = 0.3f;
    float *X0 = crec__aligned_alloc(NR * LD * sizeof *X0), *X = crec__aligned_alloc(NR * LD * sizeof *X);
    for (int row = 0; row < NR; row++)
        for (int j = 0; j < D; j++) X0[row * LD + j] = (float)crec__rng_normal(&r) * 0.1f;
    /* many steps: the CG solution equals the Cholesky one, in both layouts */
    float *XT = crec__aligned_alloc(NR * LD * sizeof *XT);
    memcpy(XT, X0, NR * LD * sizeof *XT);
    assert_int_equal(crec__ials_solve_side(XT, Y, LD, G, gscale, &rows, &trows, 60, -7, 2), 0);
    memcpy(X, X0, NR * LD * sizeof *X);
    assert_int_equal(crec__ials_solve_side(X, Y, LD, G, gscale, &rows, NULL, 60, 9, 2), 0);
    double *A = malloc(NR * D * D * sizeof *A), *b = malloc(NR * D * sizeof *b);
    for (int row = 0; row < NR; row++) {
        double *a = A + row * D * D, *bb = b + row * D;
        for (int i = 0; i < D; i++) {
            bb[i] = 0;
            for (int j = 0; j < D; j++) a[i * D + j] = gscale * (double)G[i * LD + j] + (i == j ? lam[row] : 0);
        }
        for (int64_t q = ptr[row]; q < ptr[row + 1]; q++) {
            const float *y = Y + idx[q] * LD;
            for (int i = 0; i < D; i++) {
                bb[i] += t[q] * (double)y[i];
                for (int j = 0; j < D; j++) a[i * D + j] += w[q] * (double)y[i] * y[j];
            }
        }
        double L[D * D], sol[D];
        memcpy(L, a, sizeof L);
        memcpy(sol, bb, sizeof sol);
        assert_int_equal(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', D, 1, L, D, sol, 1), 0);
        double mx = 0;
        for (int i = 0; i < D; i++) mx = fmax(mx, fabs(sol[i]));
        for (int i = 0; i < D; i++) {
            if (fabs(X[row * LD + i] - sol[i]) > 1e-3 * mx + 1e-6)
                fail_msg("row %d x[%d] = %.6f, Cholesky %.6f", row, i, X[row * LD + i], sol[i]);
            if (fabs(XT[row * LD + i] - sol[i]) > 1e-3 * mx + 1e-6)
                fail_msg("scatter layout: row %d x[%d] = %.6f, Cholesky %.6f", row, i, XT[row * LD + i], sol[i]);
        }
        for (int i = D; i < LD; i++) assert_true(X[row * LD + i] == 0);
    }
    /* a few warm-started steps: the quadratic decreases with every extra step, and towards the optimum */
    for (int row = 0; row < NR; row += 7) {
        double prev = quad(A + row * D * D, b + row * D, X0 + row * LD, D);
        for (int steps = 1; steps <= 4; steps++) {
            memcpy(X, X0, NR * LD * sizeof *X);
            int odd = steps % 2; /* alternate the layouts */
            assert_int_equal(crec__ials_solve_side(X, Y, LD, G, gscale, &rows, odd ? &trows : NULL, steps, odd ? -5 : 5, 2),
                             0);
            double f = quad(A + row * D * D, b + row * D, X + row * LD, D);
            if (!(f < prev)) fail_msg("row %d: %d CG steps give %.9f, not below %.9f", row, steps, f, prev);
            prev = f;
        }
    }
    free(A), free(b), free(X0), free(X), free(XT), free(Y), free(G);
}

/* ---- the exact training loss ---- */

static double exact_loss(const crec_model *m, const crec_csr *x, double reg, double alpha0, double nu, int hu,
                         double alpha) {
    const crec_ials_state *s = m->state;
    int32_t NU = s->n_users, NI = s->n_items;
    int ld = s->ld;
    double *R = calloc((size_t)NU * NI, sizeof *R); /* r_ui counts */
    for (int32_t u = 0; u < NU; u++)
        for (int64_t k = x->ptr[u]; k < x->ptr[u + 1]; k++) R[(size_t)u * NI + x->idx[k]] += 1;
    double L = 0;
    int64_t *nu_cnt = calloc(NU, sizeof *nu_cnt), *ni_cnt = calloc(NI, sizeof *ni_cnt);
    for (int32_t u = 0; u < NU; u++)
        for (int32_t i = 0; i < NI; i++) {
            double sc = 0;
            for (int j = 0; j < s->d; j++) sc += (double)s->W[(size_t)u * ld + j] * s->H[(size_t)i * ld + j];
            double r = R[(size_t)u * NI + i];
            if (r > 0) {
                nu_cnt[u]++, ni_cnt[i]++;
                L += hu ? (1 + alpha * r) * (1 - sc) * (1 - sc) : (1 - sc) * (1 - sc) + alpha0 * sc * sc;
            } else {
                L += alpha0 * sc * sc;
            }
        }
    for (int32_t u = 0; u < NU; u++) {
        double n2 = 0;
        for (int j = 0; j < s->d; j++) n2 += (double)s->W[(size_t)u * ld + j] * s->W[(size_t)u * ld + j];
        L += reg * pow(nu_cnt[u] + alpha0 * NI, nu) * n2;
    }
    for (int32_t i = 0; i < NI; i++) {
        double n2 = 0;
        for (int j = 0; j < s->d; j++) n2 += (double)s->H[(size_t)i * ld + j] * s->H[(size_t)i * ld + j];
        L += reg * pow(ni_cnt[i] + alpha0 * NU, nu) * n2;
    }
    free(R), free(nu_cnt), free(ni_cnt);
    return L;
}

static void test_loss_decreases(void **st) {
    crec_csr x;
    random_csr(70, 45, 0.15, 11, &x);
    const char *modes[] = {"weighting=rendle reg=0.02 alpha0=0.2 nu=1", "weighting=hu alpha=3 reg=0.05 alpha0=1 nu=0"};
    for (int md = 0; md < 2; md++) {
        double prev = INFINITY;
        for (int it = 0; it <= 8; it++) {
            char kv[256];
            snprintf(kv, sizeof kv, "factors=8 cg_steps=2 iters=%d %s", it, modes[md]);
            crec_model *m = train(&x, kv);
            double L = md == 0 ? exact_loss(m, &x, 0.02, 0.2, 1, 0, 0) : exact_loss(m, &x, 0.05, 1, 0, 1, 3);
            print_message("%s iters %d: loss %.6f\n", md ? "hu    " : "rendle", it, L);
            if (!(L < prev)) fail_msg("%s: loss after %d iterations %.9f, not below %.9f", modes[md], it, L, prev);
            prev = L;
            crec_model_free(m);
        }
    }
    crec_csr_free(&x);
}

/* ---- fold-in ---- */

static int top10_overlap(const float *a, const float *b, int32_t n) {
    int32_t ta[10], tb[10];
    int ka = crec_topk(a, n, NULL, 10, ta), kb = crec_topk(b, n, NULL, 10, tb), same = 0;
    for (int i = 0; i < ka; i++)
        for (int j = 0; j < kb; j++) same += ta[i] == tb[j];
    return same;
}

static void test_fold_in(void **st) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = 500;
    o.n_items = 250;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    crec_csr x;
    assert_int_equal(crec_csr_from_dataset(ds, &x), 0);
    crec_model *m = train(&x, "factors=16 iters=12 reg=0.01 alpha0=0.05 fold_in=new");
    const crec_ials_state *s = m->state;
    int ld = s->ld;
    /* the fold-in is the exact solution of the user's row system: CG run to convergence agrees */
    crec_ials_data dat;
    assert_int_equal(crec__ials_data_build(&x, &s->p, &dat), 0);
    float *Wc = crec__aligned_alloc((size_t)s->n_users * ld * sizeof *Wc);
    memcpy(Wc, s->W, (size_t)s->n_users * ld * sizeof *Wc);
    assert_int_equal(crec__ials_solve_side(Wc, s->H, ld, s->gram_h, (float)s->p.alpha0, &dat.users, &dat.items, 100, 64, 2),
                     0);
    float *wf = crec__aligned_alloc(ld * sizeof *wf);
    float *sa = malloc(250 * sizeof *sa), *sb = malloc(250 * sizeof *sb);
    int overlap = 0, users = 60;
    for (int32_t u = 0; u < users; u++) {
        const int32_t *h = x.idx + x.ptr[u];
        int32_t nh = (int32_t)(x.ptr[u + 1] - x.ptr[u]);
        assert_int_equal(crec__ials_fold_in(s, h, nh, wf), 0);
        double mx = 0;
        for (int j = 0; j < s->d; j++) mx = fmax(mx, fabs(Wc[u * ld + j]));
        for (int j = 0; j < s->d; j++)
            if (fabs(wf[j] - Wc[u * ld + j]) > 2e-3 * mx)
                fail_msg("user %d factor %d: fold-in %.6f, converged CG %.6f", u, j, wf[j], Wc[u * ld + j]);
        /* through the model: an anonymous context with the user's history vs the trained user (fold_in=new:
         * a known user is scored with the trained factors) */
        crec_context anon = {.user = -1, .hist = h, .n_hist = nh}, known = {.user = u, .hist = h, .n_hist = nh};
        assert_int_equal(crec_model_score(m, &anon, sa), 0);
        assert_int_equal(crec_model_score(m, &known, sb), 0);
        overlap += top10_overlap(sa, sb, 250);
    }
    print_message("fold-in top-10 overlap with the trained factors: %.2f of 10\n", (double)overlap / users);
    assert_true(overlap >= 8 * users);
    free(wf), free(sa), free(sb), free(Wc);
    crec__ials_data_free(&dat);
    crec_model_free(m);
    crec_csr_free(&x);
    crec_dataset_free(ds);
}

/* ---- determinism, checkpoints, parameters ---- */

static void test_determinism_and_checkpoint(void **st) {
    crec_csr x;
    random_csr(150, 90, 0.1, 5, &x);
    crec_model *a = train(&x, "factors=20 iters=4"), *b = train(&x, "factors=20 iters=4");
    const crec_ials_state *sa = a->state, *sb = b->state;
    assert_memory_equal(sa->block, sb->block, (size_t)(150 + 90) * sa->ld * sizeof(float));
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/ials.crecm", dir);
    assert_int_equal(crec_model_save(a, path), 0);
    crec_model *l;
    assert_int_equal(crec_model_load(path, &l), 0);
    float *p = malloc(90 * sizeof *p), *q = malloc(90 * sizeof *q);
    for (int32_t u = -1; u < 40; u++) {
        int32_t uu = u < 0 ? 3 : u;
        crec_context ctx = {.user = u, .hist = x.idx + x.ptr[uu], .n_hist = (int32_t)(x.ptr[uu + 1] - x.ptr[uu])};
        assert_int_equal(crec_model_score(a, &ctx, p), 0);
        assert_int_equal(crec_model_score(l, &ctx, q), 0);
        assert_memory_equal(p, q, 90 * sizeof *p);
    }
    /* a truncated payload is refused */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    assert_int_equal(truncate(path, len - 100), 0);
    crec_model *bad;
    assert_true(crec_model_load(path, &bad) < 0);
    free(p), free(q);
    crec_model_free(l);
    crec_model_free(a);
    crec_model_free(b);
    tu_rmrf(dir);
    free(dir);
    crec_csr_free(&x);
}


/* ---- batched scoring ---- */

/* score_batch against user-by-user score (fold_in=history and new, and hu weighting; trained users, anonymous
 * histories, empty histories; fast and dense fold-ins both occur), the fast fold-in against the dense one,
 * bit-identical blocks at 1 and 3 threads, and crec_evaluate with and without the hook. */
static void test_score_batch(void **st) {
    (void)st;
    crec_synth_opts so;
    crec_synth_defaults(&so);
    so.n_users = 700;
    so.n_items = 300;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&so, &ds), 0);
    crec_split_spec sp;
    crec_split_spec_parse("loo", &sp);
    crec_split split;
    assert_int_equal(crec_split_make(ds, &sp, &split), 0);
    const crec_csr *x = &split.train;
    const char *cfgs[] = {"factors=48 iters=3 fold_in=history", "factors=48 iters=3 fold_in=new",
                          "factors=40 iters=2 weighting=hu alpha=2 alpha0=0.5"};
    for (int ci = 0; ci < 3; ci++) {
        crec_model *m = train(x, cfgs[ci]);
        const crec_ials_state *s = m->state;
        assert_non_null(s->Ht);
        int32_t ni = m->n_items;
        /* contexts: trained users with their training rows, the same histories anonymously, a trained user
         * and an anonymous one without history */
        enum { N = 300 };
        crec_context ctx[N];
        for (int c = 0; c < N - 2; c++) {
            int32_t u = c % 150;
            ctx[c] = (crec_context){.user = c < 150 ? u : -1, .hist = x->idx + x->ptr[u],
                                    .n_hist = (int32_t)(x->ptr[u + 1] - x->ptr[u])};
        }
        ctx[N - 2] = (crec_context){.user = 7};
        ctx[N - 1] = (crec_context){.user = -1};
        float *sb = malloc((size_t)N * ni * sizeof *sb), *sb1 = malloc((size_t)N * ni * sizeof *sb1);
        float *su = malloc((size_t)N * ni * sizeof *su), *sd = malloc((size_t)ni * sizeof *sd);
        float *w = crec__aligned_alloc((size_t)s->ld * sizeof *w);
        int prev = omp_get_max_threads(), pb = crec__nn_blas_single();
        omp_set_num_threads(3);
        assert_int_equal(crec_model_score_batch(m, ctx, N, sb), 0);
        omp_set_num_threads(1);
        assert_int_equal(crec_model_score_batch(m, ctx, N, sb1), 0);
        omp_set_num_threads(prev);
        crec__nn_blas_restore(pb);
        assert_memory_equal(sb, sb1, (size_t)N * ni * sizeof *sb); /* the blocks do not depend on threads */
        double worst = 0, worst_fast = 0;
        int n_fast = 0, n_dense = 0;
        for (int c = 0; c < N; c++) {
            assert_int_equal(crec_model_score(m, &ctx[c], su + (size_t)c * ni), 0);
            double e = tu_max_rel_diff(sb + (size_t)c * ni, su + (size_t)c * ni, (size_t)ni);
            worst = fmax(worst, e);
            if (e > 1e-5) fail_msg("%s: context %d: batch vs score differ by %.3g of the largest score", cfgs[ci], c, e);
            /* the fast fold-in against the dense solve of the same system */
            int basis = crec__ials_fold_in_basis(s, ctx[c].hist, ctx[c].n_hist, w);
            assert_true(basis == 0 || basis == 1);
            n_fast += basis == 1, n_dense += basis == 0;
            int folded = ctx[c].user < 0 || (ci != 1 && ctx[c].n_hist > 0);
            if (basis == 1 && folded && ctx[c].n_hist > 0) {
                assert_int_equal(crec__ials_fold_in(s, ctx[c].hist, ctx[c].n_hist, w), 0);
                crec__ials_scores(s, w, sd);
                double f = tu_max_rel_diff(sd, su + (size_t)c * ni, (size_t)ni);
                worst_fast = fmax(worst_fast, f);
                if (f > 2e-5) fail_msg("%s: context %d: fast vs dense fold-in differ by %.3g", cfgs[ci], c, f);
            }
        }
        print_message("%-50s batch vs score %.2g, fast vs dense fold-in %.2g (%d fast, %d dense)\n", cfgs[ci], worst,
                      worst_fast, n_fast, n_dense);
        assert_true(n_fast > 50 && n_dense > 20); /* both fold-ins occur */

        /* evaluation: batched (the model) against per-user (a copy of the type without the hook) */
        crec_model_type tu = *m->type;
        tu.score_batch = NULL;
        crec_model mu = *m;
        mu.type = &tu;
        crec_eval_opts o;
        crec_eval_opts_defaults(&o);
        crec_eval_result rb, rb1, ru;
        o.n_threads = 3;
        assert_int_equal(crec_evaluate(m, ds, &split, &o, &rb), 0);
        assert_int_equal(crec_evaluate(&mu, ds, &split, &o, &ru), 0);
        o.n_threads = 1;
        assert_int_equal(crec_evaluate(m, ds, &split, &o, &rb1), 0);
        rb.seconds = rb1.seconds = ru.seconds = 0;
        assert_memory_equal(&rb, &rb1, sizeof rb); /* bit-identical at 1 and 3 threads */
        for (int k = 0; k < rb.n_ks; k++) {
            print_message("  K=%d NDCG batched %.6f per-user %.6f\n", rb.ks[k], rb.at[k].ndcg, ru.at[k].ndcg);
            assert_true(fabs(rb.at[k].ndcg - ru.at[k].ndcg) <= 1e-3);
            assert_true(fabs(rb.at[k].hr - ru.at[k].hr) <= 2.0 / rb.n_users);
        }
        free(sb), free(sb1), free(su), free(sd), free(w);
        crec_model_free(m);
    }
    crec_split_free(&split);
    crec_dataset_free(ds);
}

/* ---- quality ---- */

static double ndcg10(const crec_dataset *ds, const crec_split *s, const char *name, const char *kv) {
    crec_config cfg = {0};
    char buf[256];
    snprintf(buf, sizeof buf, "%s", kv ? kv : "");
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) assert_int_equal(crec_config_set_kv(&cfg, tok), 0);
    crec_model *m;
    char err[256];
    assert_int_equal(crec_model_new(name, &cfg, &m, err, sizeof err), 0);
    crec_train_input in = {.train = &s->train, .n_threads = 2, .seed = 42};
    assert_int_equal(crec_model_train(m, &in), 0);
    crec_eval_opts eo;
    crec_eval_opts_defaults(&eo);
    eo.n_ks = 1;
    eo.ks[0] = 10;
    eo.n_threads = 2;
    crec_eval_result r;
    assert_int_equal(crec_evaluate(m, ds, s, &eo, &r), 0);
    print_message("%-8s %-40s NDCG@10 %.4f HR@10 %.4f\n", name, kv ? kv : "", r.at[0].ndcg, r.at[0].hr);
    crec_model_free(m);
    return r.at[0].ndcg;
}

static void test_beats_baselines(void **st) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = 1500;
    o.n_items = 800;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    crec_split_spec sp;
    crec_split_spec_parse("loo", &sp);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    double pop = ndcg10(ds, &s, "pop", NULL), knn = ndcg10(ds, &s, "itemknn", NULL);
    double ials = ndcg10(ds, &s, "ials", "factors=128 iters=8 reg=0.01 alpha0=0.02");
    assert_true(ials > 1.05 * knn && ials > 2 * pop);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cg_matches_cholesky), cmocka_unit_test(test_loss_decreases),
        cmocka_unit_test(test_fold_in),             cmocka_unit_test(test_determinism_and_checkpoint),
        cmocka_unit_test(test_beats_baselines),
        cmocka_unit_test(test_score_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
