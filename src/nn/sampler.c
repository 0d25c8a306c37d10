/* sampler.c: the negative samplers of the neural core (nn.h): uniform, or by popularity Q(j) ~ (count_j + 1)^alpha
 * through a cumulative table, with the log-Q terms a sampled softmax subtracts (Yi et al. 2019).
 *
 * The one idea: every negative is one draw from the caller's RNG, in the caller's order, so a seed gives the same
 * negatives whatever the thread count; a popularity draw is one uniform number and a binary search. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

int crec__nn_sampler_init(crec_nn_sampler *sp, const float *counts, int32_t NI, double alpha, int S, int with_logq) {
    memset(sp, 0, sizeof *sp);
    sp->NI = NI;
    if (!(alpha > 0) && !with_logq) return 0; /* uniform: no table */
    if (!counts || NI < 1) return CREC_EINVAL;
    if (alpha > 0) sp->cdf = malloc((size_t)NI * sizeof *sp->cdf);
    if (with_logq) sp->logq = malloc((size_t)NI * sizeof *sp->logq);
    if ((alpha > 0 && !sp->cdf) || (with_logq && !sp->logq)) {
        crec__nn_sampler_free(sp);
        return CREC_ENOMEM;
    }
    double c = 0;
    for (int32_t j = 0; j < NI; j++) {
        c += pow(counts[j] + 1.0, alpha);
        if (sp->cdf) sp->cdf[j] = c;
    }
    if (sp->logq)
        for (int32_t j = 0; j < NI; j++) sp->logq[j] = (float)log((double)S * pow(counts[j] + 1.0, alpha) / c);
    return 0;
}

void crec__nn_sampler_free(crec_nn_sampler *sp) {
    free(sp->cdf);
    free(sp->logq);
    sp->cdf = NULL, sp->logq = NULL;
}

int32_t crec__nn_sample(const crec_nn_sampler *sp, crec_rng *r) {
    if (!sp->cdf) return (int32_t)crec__rng_below(r, (uint64_t)sp->NI);
    double u = crec__rng_uniform(r) * sp->cdf[sp->NI - 1];
    int32_t lo = 0, hi = sp->NI - 1;
    while (lo < hi) { /* the first j with cdf[j] > u */
        int32_t mid = (lo + hi) / 2;
        if (sp->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int32_t crec__nn_sample_unmarked(const crec_nn_sampler *sp, const uint8_t *mark, crec_rng *r) {
    int32_t j, tries = 0;
    do j = crec__nn_sample(sp, r);
    while (mark[j] && ++tries < 64);
    return j;
}
