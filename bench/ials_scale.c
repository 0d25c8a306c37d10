/* ials_scale.c: iALS training speed at MovieLens-20M scale (138,493 users, 26,744 items, ~20M interactions).
 *
 * The data is generated straight into a CSR (no dataset log): user lengths 20 + lognormal (median ~68, mean
 * ~144, capped at 9,254 as in ML-20M), items drawn without repetition from a power law w_i ~ (i + c)^-a, so a
 * few items are in half of all users' rows. Then, for each factor count, one warm-up iteration and `reps`
 * timed iterations (each: Gram + all users, Gram + all items): median seconds per iteration, the median
 * split into the user and item halves, and peak RSS so far. The CG row solver is checked against Cholesky in
 * tests/unit/test_ials.c; here the bench only checks that the loss proxy (mean observed score) moves towards 1.
 * --prec lists the precisions of the sparse passes to time (crec__ials_solve_side_prec: fp32 = the exact path,
 * mixed, fp16); each starts from the same initial factors, and the first listed is the reference the others'
 * CPU seconds are divided by (timed in the same run: on a shared machine only such ratios are fair).
 * "max rel dW" is max_u |W_u - W_u(ref)| / max_u |W_u(ref)| after the same iterations (warm-up + reps).
 * A precision may carry flags (models/ials.h): "+l" the legacy kernels (AVX2, one entry at a time: the path
 * before the AVX-512 four-entry kernels), "+g" the gathered row layout; e.g. --prec fp32+l,fp32,fp16+l,fp16.
 *
 *   usage: bench_ials_scale [--threads 2] [--factors 64,256] [--reps 3] [--scale 1.0] [--cg 3] [--seed 1]
 *                           [--prec fp32,mixed,fp16[+l][+g]] [--each]
 * --each also prints every timed iteration (the spread inside one process, against the spread between runs).
 * --scale shrinks users and interactions (items stay) for quick runs. Results: docs/RESULTS.md. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu_peak.h"
#include "core/util.h"
#include "crec/blas.h"
#include "models/ials.h"

#define ML20M_USERS 138493
#define ML20M_ITEMS 26744
#define ML20M_MAXLEN 9254

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Build the CSR (rows sorted, no repeats). Returns 0 or CREC_ENOMEM; x owns ptr and idx. */
static int generate(int32_t nu, int32_t ni, uint64_t seed, crec_csr *x) {
    memset(x, 0, sizeof *x);
    x->n_rows = nu, x->n_cols = ni;
    x->ptr = malloc(((size_t)nu + 1) * sizeof *x->ptr);
    double *cdf = malloc((size_t)ni * sizeof *cdf);
    if (!x->ptr || !cdf) return CREC_ENOMEM;
    /* popularity: (i + 60)^-1.1, normalised cumulative */
    double z = 0;
    for (int32_t i = 0; i < ni; i++) cdf[i] = (z += pow(i + 60.0, -1.1));
    for (int32_t i = 0; i < ni; i++) cdf[i] /= z;
    crec_rng r;
    crec__rng_seed(&r, seed);
    x->ptr[0] = 0;
    for (int32_t u = 0; u < nu; u++) {
        double len = 20 + exp(3.87 + 1.378 * crec__rng_normal(&r));
        if (len > ML20M_MAXLEN) len = ML20M_MAXLEN;
        if (len > ni / 2) len = ni / 2;
        x->ptr[u + 1] = x->ptr[u] + (int64_t)len;
    }
    int64_t nnz = x->ptr[nu];
    x->idx = malloc((size_t)nnz * sizeof *x->idx);
    if (!x->idx) return CREC_ENOMEM;
    int failed = 0;
#pragma omp parallel
    {
        uint8_t *seen = calloc((size_t)ni, 1);
        if (!seen) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 256)
        for (int32_t u = 0; u < nu; u++) {
            if (!seen) continue;
            crec_rng ru;
            crec__rng_seed(&ru, seed + 1 + (uint64_t)u);
            int32_t *row = x->idx + x->ptr[u];
            int64_t n = x->ptr[u + 1] - x->ptr[u];
            for (int64_t k = 0; k < n;) {
                double v = crec__rng_uniform(&ru);
                int32_t lo = 0, hi = ni - 1;
                while (lo < hi) {
                    int32_t mid = (lo + hi) / 2;
                    if (cdf[mid] < v) lo = mid + 1;
                    else hi = mid;
                }
                if (seen[lo]) continue;
                seen[lo] = 1;
                row[k++] = lo;
            }
            for (int64_t k = 0; k < n; k++) seen[row[k]] = 0;
            qsort(row, (size_t)n, sizeof *row, cmp_i32);
        }
        free(seen);
    }
    free(cdf);
    return failed ? CREC_ENOMEM : 0;
}

/* Mean of <w_u, h_i> over a sample of observed pairs (the model fits them towards 1). */
static double observed_mean(const crec_ials_state *s, const crec_ials_data *d) {
    double acc = 0;
    int64_t n = 0;
    for (int32_t u = 0; u < s->n_users; u += 97)
        for (int64_t k = d->uptr[u]; k < d->uptr[u + 1]; k++, n++) {
            const float *w = s->W + (size_t)u * s->ld, *h = s->H + (size_t)d->uidx[k] * s->ld;
            for (int j = 0; j < s->d; j++) acc += (double)w[j] * h[j];
        }
    return n ? acc / n : 0;
}

int main(int argc, char **argv) {
    crec_blas_setup(argc, argv);
    int threads = 2, reps = 3, cg = 3, each = 0;
    double scale = 1.0;
    uint64_t seed = 1;
    char factors[128] = "64,256", precs[128] = "fp32,mixed,fp16";
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--threads") && v) threads = atoi(v), i++;
        else if (!strcmp(argv[i], "--reps") && v) reps = atoi(v), i++;
        else if (!strcmp(argv[i], "--cg") && v) cg = atoi(v), i++;
        else if (!strcmp(argv[i], "--scale") && v) scale = atof(v), i++;
        else if (!strcmp(argv[i], "--seed") && v) seed = strtoull(v, NULL, 10), i++;
        else if (!strcmp(argv[i], "--factors") && v) snprintf(factors, sizeof factors, "%s", v), i++;
        else if (!strcmp(argv[i], "--prec") && v) snprintf(precs, sizeof precs, "%s", v), i++;
        else if (!strcmp(argv[i], "--each")) each = 1;
        else
            return bench_usage(argv[i],
                               "usage: %s [--threads T] [--factors 64,256] [--reps R] [--scale S] [--cg N] [--seed N] "
                               "[--prec fp32,mixed,fp16[+l][+g]] [--each]\n",
                               argv[0]);
    }
    if (threads < 1 || reps < 1 || reps > 99 || cg < 1 || !(scale > 0 && scale <= 1)) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    omp_set_num_threads(threads);
    printf("bench_ials_scale: BLAS kernel %s, %d threads, cg_steps %d\n", crec_blas_corename(), threads, cg);
    int32_t nu = (int32_t)(ML20M_USERS * scale), ni = ML20M_ITEMS;
    double t0 = crec__now();
    crec_csr x;
    if (generate(nu, ni, seed, &x)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    crec_ials_params p = {.factors = 64, .iters = 1, .cg_steps = cg, .reg = 0.003, .alpha0 = 0.02, .nu = 1};
    crec_ials_data dat;
    if (crec__ials_data_build(&x, &p, &dat)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    crec_csr_free(&x);
    int64_t top = 0, nnz = dat.uptr[nu];
    for (int32_t i = 0; i < ni; i++)
        if (dat.iptr[i + 1] - dat.iptr[i] > top) top = dat.iptr[i + 1] - dat.iptr[i];
    printf("data: %d users, %d items, %lld interactions (top item in %lld rows), generated in %.1f s\n", nu, ni,
           (long long)nnz, (long long)top, crec__now() - t0);
    int prec[8], np = 0;
    char pname[8][32];
    for (char *tok = strtok(precs, ","); tok && np < 8; tok = strtok(NULL, ",")) {
        int fl = 0, bad = 0;
        snprintf(pname[np], sizeof pname[np], "%s", tok);
        char *plus = strchr(tok, '+');
        for (char *f = plus; f && *f && !bad; f += 2) { /* "+g", "+l", ... */
            if (f[0] != '+' || (f[1] != 'g' && f[1] != 'l')) bad = 1;
            else fl |= f[1] == 'g' ? CREC_IALS_GATHER : CREC_IALS_LEGACY;
        }
        if (plus) *plus = 0;
        int q = !strcmp(tok, "fp32") ? 0 : !strcmp(tok, "mixed") ? 1 : !strcmp(tok, "fp16") ? 2 : -1;
        if (q < 0 || bad) {
            fprintf(stderr, "--prec: '%s' is not fp32, mixed or fp16 (+g: gathered, +l: legacy kernels)\n", pname[np]);
            return 2;
        }
        prec[np++] = q | fl;
    }
    printf("%8s %10s %12s %10s %10s %12s %12s %10s %12s %10s %12s\n", "factors", "prec", "s/iter(med)", "users s",
           "items s", "CPU s/iter", "CPU users s", "CPU ratio", "peak RSS MB", "obs mean", "max rel dW");
    int nf = 0;
    char *ftok[16];
    for (char *tok = strtok(factors, ","); tok && nf < 16; tok = strtok(NULL, ",")) ftok[nf++] = tok;
    for (int fi = 0; fi < nf; fi++) {
        p.factors = atoi(ftok[fi]);
        if (p.factors < 1 || p.factors > 4096) continue;
        double ref_cpu = 0;
        float *Wref = NULL;
        for (int pi = 0; pi < np; pi++) {
            crec_ials_state s;
            if (crec__ials_state_init(&s, nu, ni, &p, seed)) {
                fprintf(stderr, "out of memory\n");
                return 1;
            }
            float *G = crec__aligned_alloc((size_t)s.ld * s.ld * sizeof *G);
            double it[100], tu[100], ti[100], tc[100], tcu[100];
            const crec_ials_rows *tr_i = getenv("ROWS") ? NULL : &dat.items, *tr_u = getenv("ROWS") ? NULL : &dat.users;
            for (int r = 0; r <= reps; r++) { /* r = 0: warm-up */
                double a = crec__now(), ca = cpu_now();
                crec__ials_gram(s.H, ni, s.ld, G, threads);
                crec__ials_solve_side_prec(s.W, s.H, s.ld, G, (float)p.alpha0, &dat.users, tr_i, cg, 0, threads, prec[pi]);
                double b = crec__now(), cb = cpu_now();
                crec__ials_gram(s.W, nu, s.ld, G, threads);
                crec__ials_solve_side_prec(s.H, s.W, s.ld, G, (float)p.alpha0, &dat.items, tr_u, cg, 0, threads, prec[pi]);
                double c = crec__now();
                if (r > 0) it[r - 1] = c - a, tu[r - 1] = b - a, ti[r - 1] = c - b, tc[r - 1] = cpu_now() - ca, tcu[r - 1] = cb - ca;
                if (r > 0 && each)
                    printf("  %d %s iteration %d: %.2f s, %.2f CPU-s (users %.2f / items %.2f)\n", p.factors, pname[pi], r,
                           it[r - 1], tc[r - 1], tcu[r - 1], tc[r - 1] - tcu[r - 1]);
            }
            qsort(it, (size_t)reps, sizeof *it, cmp_dbl);
            qsort(tu, (size_t)reps, sizeof *tu, cmp_dbl);
            qsort(ti, (size_t)reps, sizeof *ti, cmp_dbl);
            qsort(tc, (size_t)reps, sizeof *tc, cmp_dbl);
            qsort(tcu, (size_t)reps, sizeof *tcu, cmp_dbl);
            if (pi == 0) ref_cpu = tc[reps / 2];
            double dw = 0, wmax = 0;
            size_t nw = (size_t)nu * s.ld;
            if (pi == 0) {
                Wref = malloc(nw * sizeof *Wref);
                if (Wref) memcpy(Wref, s.W, nw * sizeof *Wref);
            } else if (Wref) {
                for (size_t q = 0; q < nw; q++) {
                    dw = fmax(dw, fabs((double)s.W[q] - Wref[q]));
                    wmax = fmax(wmax, fabs((double)Wref[q]));
                }
            }
            printf("%8d %10s %12.2f %10.2f %10.2f %12.2f %12.2f %10.3f %12.0f %10.3f %12.2e\n", p.factors, pname[pi],
                   it[reps / 2], tu[reps / 2], ti[reps / 2], tc[reps / 2], tcu[reps / 2], tc[reps / 2] / ref_cpu,
                   (double)crec__peak_rss() / (1 << 20), observed_mean(&s, &dat), pi && wmax > 0 ? dw / wmax : 0.0);
            fflush(stdout);
            free(G);
            crec__ials_state_free(&s);
        }
        free(Wref);
    }
    double la[3] = {0};
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3) la[0] = la[1] = la[2] = 0;
        fclose(lf);
    }
    printf("load average at the end: %.2f %.2f %.2f\n", la[0], la[1], la[2]);
    crec__ials_data_free(&dat);
    return 0;
}
