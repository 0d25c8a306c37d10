/* compare.c: is model B better than model A on the same users? A paired t-test and a bootstrap CI.
 *
 * The one idea: compare per-user differences d_u = b_u - a_u, not two means, because users vary far more
 * than models do. The t-test's p-value comes from the Student t distribution through the regularized
 * incomplete beta function, evaluated by its continued fraction (modified Lentz method, as in Numerical
 * Recipes' betacf; written here from the formulas). The bootstrap resamples users with replacement. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/eval.h"

/* Continued fraction of I_x(a, b) (converges quickly for x < (a + 1) / (a + b + 2)). */
static double betacf(double a, double b, double x) {
    const double tiny = 1e-300, eps = 1e-15;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 1000; m++) {
        double m2 = 2.0 * m;
        /* even step: d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m)) */
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        h *= d * c;
        /* odd step: d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)) */
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < eps) break;
    }
    return h;
}

/* Regularized incomplete beta I_x(a, b), a, b > 0, x in [0, 1]. */
static double betai(double a, double b, double x) {
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    double lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    double front = exp(lfront);
    if (x < (a + 1.0) / (a + b + 2.0)) return front * betacf(a, b, x) / a;
    return 1.0 - front * betacf(b, a, 1.0 - x) / b;
}

/* Two-sided p-value of Student's t with df degrees of freedom: P(|T| >= |t|) = I_{df/(df+t^2)}(df/2, 1/2). */
static double student_t_two_sided(double t, double df) {
    if (isinf(t)) return 0.0;
    return betai(0.5 * df, 0.5, df / (df + t * t));
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation at quantile q of sorted v[0..n). */
static double quantile_sorted(const double *v, int n, double q) {
    double h = q * (n - 1);
    int i = (int)floor(h);
    if (i >= n - 1) return v[n - 1];
    return v[i] + (h - i) * (v[i + 1] - v[i]);
}

/* a and b are the caller's (n values each, the same users in the same order); out is filled only on
 * success. n_boot <= 0 means 1000 resamples; the CI is the 2.5% / 97.5% percentile interval of the
 * resampled mean(b - a), deterministic for a seed. A zero variance gives t = 0, p = 1 when the mean
 * difference is 0 and t = +-inf, p = 0 otherwise. Returns 0, CREC_EINVAL (NULL, n < 2, a non-finite
 * value) or CREC_ENOMEM. */
int crec_paired_compare(const double *a, const double *b, int64_t n, int n_boot, uint64_t seed,
                        crec_paired_test *out) {
    if (!a || !b || !out || n < 2) return CREC_EINVAL;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(a[i]) || !isfinite(b[i])) return CREC_EINVAL;
    if (n_boot <= 0) n_boot = 1000;
    double *d = malloc((size_t)n * sizeof *d);
    double *boot = malloc((size_t)n_boot * sizeof *boot);
    if (!d || !boot) {
        free(d);
        free(boot);
        return CREC_ENOMEM;
    }

    crec_paired_test r;
    memset(&r, 0, sizeof r);
    r.n = n;
    double sa = 0, sb = 0, sd = 0;
    for (int64_t i = 0; i < n; i++) {
        d[i] = b[i] - a[i];
        sa += a[i];
        sb += b[i];
        sd += d[i];
    }
    r.mean_a = sa / (double)n;
    r.mean_b = sb / (double)n;
    r.mean_diff = sd / (double)n;
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (d[i] - r.mean_diff) * (d[i] - r.mean_diff);
    double se = sqrt(ss / (double)(n - 1) / (double)n);
    if (se > 0) {
        r.t = r.mean_diff / se;
        r.p_value = student_t_two_sided(r.t, (double)(n - 1));
    } else if (r.mean_diff == 0) {
        r.t = 0;
        r.p_value = 1;
    } else {
        r.t = r.mean_diff > 0 ? INFINITY : -INFINITY;
        r.p_value = 0;
    }

    crec_rng rng;
    crec__rng_seed(&rng, seed);
    for (int bi = 0; bi < n_boot; bi++) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += d[crec__rng_below(&rng, (uint64_t)n)];
        boot[bi] = s / (double)n;
    }
    qsort(boot, (size_t)n_boot, sizeof *boot, cmp_double);
    r.ci_lo = quantile_sorted(boot, n_boot, 0.025);
    r.ci_hi = quantile_sorted(boot, n_boot, 0.975);
    free(d);
    free(boot);
    *out = r;
    return 0;
}
