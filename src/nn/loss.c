/* loss.c: the training losses of the neural core, compiled in float and double from loss.inc: BCE and gBCE with
 * sampled negatives, sampled softmax with shared negatives and log-Q correction, full softmax cross-entropy over
 * the whole catalog in bounded memory (row blocks x item chunks, online logsumexp) and BPR-max; and the loss
 * heads (float): a loss, its negatives (sampler.c) and its scratch behind one call, so that every model that
 * predicts items from states picks a loss by name and sizes nothing itself. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ce512.h"
#include "nn/nn.h"

#define NN_PAR_MIN crec__nn_par_min

double crec__nn_gbce_beta(int K, int NI, double t) {
    if (NI <= 1 || K <= 0) return 1.0;
    double alpha = (double)K / (NI - 1);
    return alpha * (t * (1 - 1 / alpha) + 1 / alpha);
}

size_t crec__nn_ce_blocks(int32_t NI, int *rb, int *ic) {
    size_t ce_budget = (size_t)16 << 20;
    int ce_rb = (int)(ce_budget / (size_t)NI), ce_ic = NI;
    if (ce_rb > 1024) ce_rb = 1024;
    if (ce_rb < 256) ce_rb = 256, ce_ic = (int)(ce_budget / 256) < NI ? (int)(ce_budget / 256) : NI;
    *rb = ce_rb, *ic = ce_ic;
    return (size_t)ce_rb * ce_ic + 2 * ce_rb;
}

int crec__nn_ce_twopass = 0;

size_t crec__nn_ce_fused_floats(int32_t NI, int D, int rb, int ic) {
    if (ic <= 0 || ic > NI) ic = NI;
    size_t nch = (size_t)(NI + ic - 1) / (size_t)ic, r = (size_t)rb;
    /* + the AVX-512 kernel's transposed item table (ce512.h), last */
    return r * (size_t)NI + r * nch + 3 * r + 2 * r * (size_t)D + nch * r * (size_t)D +
           crec__nn_ce512_floats(NI, D);
}

/* ---- loss heads ---- */

int crec__nn_head_per_row(const crec_nn_head *hd) {
    return hd->c.loss == CREC_NN_LOSS_BCE || hd->c.loss == CREC_NN_LOSS_GBCE;
}

int crec__nn_head_shared(const crec_nn_head *hd) {
    return hd->c.loss == CREC_NN_LOSS_SSM || hd->c.loss == CREC_NN_LOSS_BPRMAX;
}

void crec__nn_head_free(crec_nn_head *hd) {
    if (hd->c.bf16) crec__nn_ce_amx_free();
    free(hd->scratch), free(hd->neg), free(hd->lqp), free(hd->lqn);
    crec__nn_sampler_free(&hd->sp);
    memset(hd, 0, sizeof *hd);
}

int crec__nn_head_init(crec_nn_head *hd, const crec_nn_head_cfg *c, int32_t NI, int D, int Nmax, const float *counts) {
    memset(hd, 0, sizeof *hd);
    if (c->loss < CREC_NN_LOSS_CE || c->loss > CREC_NN_LOSS_BPRMAX || NI < 1 || D < 1 || Nmax < 1 ||
        (c->loss != CREC_NN_LOSS_CE && (c->neg < 1 || c->neg > 65536)) || !(c->alpha >= 0) ||
        !(c->gbce_t >= 0 && c->gbce_t <= 1) || !(c->bpreg >= 0))
        return CREC_EINVAL;
    hd->c = *c;
    hd->NI = NI, hd->D = D, hd->Nmax = Nmax;
    if (c->bf16 && c->loss == CREC_NN_LOSS_CE) { /* asked for AMX: say so where it cannot be had */
        if (!crec__nn_ce_amx_available(D))
            crec__log("ce_precision=bf16: no AMX bf16 here (the CPU lacks it, Linux does not grant it, or the width %d "
                      "is not a multiple of 32): the float products are used", D);
    }
    size_t S = (size_t)(c->neg > 0 ? c->neg : 1), N = (size_t)Nmax, nneg = 1;
    size_t scr = crec__nn_ce_blocks(NI, &hd->ce_rb, &hd->ce_ic);
    if (c->loss == CREC_NN_LOSS_CE && hd->ce_ic >= NI) { /* the whole catalogue fits: the fused path */
        size_t f = crec__nn_ce_fused_floats(NI, D, hd->ce_rb, CREC_NN_CE_IC);
        scr = f > scr ? f : scr;
    }
    int logq = 0;
    if (c->loss == CREC_NN_LOSS_SSM) scr = N * S + 2 * S * D + 2 * N, nneg = S, logq = c->logq;
    if (c->loss == CREC_NN_LOSS_BPRMAX) scr = 2 * S * D + 3 * N * S + N * D + 2 * N, nneg = S;
    if (crec__nn_head_per_row(hd)) scr = 2 * N * (S + 1), nneg = N * S;
    hd->beta = c->loss == CREC_NN_LOSS_GBCE ? crec__nn_gbce_beta(c->neg, NI, c->gbce_t) : 1.0;
    hd->scratch = crec__aligned_alloc(scr * sizeof(float));
    hd->neg = malloc((nneg + 1) * sizeof *hd->neg);
    if (logq) {
        hd->lqp = malloc((N + 1) * sizeof *hd->lqp);
        hd->lqn = malloc((S + 1) * sizeof *hd->lqn);
    }
    int rc = hd->scratch && hd->neg && (!logq || (hd->lqp && hd->lqn)) ? 0 : CREC_ENOMEM;
    if (!rc && c->loss != CREC_NN_LOSS_CE) rc = crec__nn_sampler_init(&hd->sp, counts, NI, c->alpha, c->neg, logq);
    if (rc) crec__nn_head_free(hd);
    return rc;
}

void crec__nn_head_draw_shared(crec_nn_head *hd, const int32_t *tgt, int N, crec_rng *r) {
    for (int j = 0; j < hd->c.neg; j++) {
        hd->neg[j] = crec__nn_sample(&hd->sp, r);
        if (hd->lqn) hd->lqn[j] = hd->sp.logq[hd->neg[j]];
    }
    if (hd->lqp)
        for (int n = 0; n < N; n++) hd->lqp[n] = tgt[n] >= 0 ? hd->sp.logq[tgt[n]] : 0.0f;
}

void crec__nn_head_draw_row(crec_nn_head *hd, int n, const uint8_t *mark, crec_rng *r) {
    int K = hd->c.neg;
    for (int k = 0; k < K; k++) hd->neg[(size_t)n * K + k] = crec__nn_sample_unmarked(&hd->sp, mark, r);
}

double crec__nn_head_loss(const crec_nn_head *hd, float *dh, float *dW, const float *h, const float *W,
                          const int32_t *tgt, int N, float gscale) {
    int D = hd->D, K = hd->c.neg;
    switch (hd->c.loss) {
    case CREC_NN_LOSS_SSM:
        return crec__nn_sampled_softmax_loss(dh, dW, hd->scratch, h, W, tgt, hd->neg, hd->lqp, hd->lqn, N, D, K,
                                             gscale);
    case CREC_NN_LOSS_BCE:
    case CREC_NN_LOSS_GBCE:
        return crec__nn_bce_loss(dh, dW, hd->scratch, h, W, tgt, hd->neg, N, D, K, hd->beta, gscale);
    case CREC_NN_LOSS_BPRMAX:
        return crec__nn_bprmax_loss(dh, dW, hd->scratch, h, W, tgt, hd->neg, N, D, K, (float)hd->c.bpreg, gscale);
    default:
        if (hd->ce_ic >= hd->NI && !crec__nn_ce_twopass) {
            int prev = crec__nn_ce_amx; /* this thread's switch (ce512.h) */
            crec__nn_ce_amx = hd->c.bf16;
            double l = crec__nn_softmax_ce_fused(dh, dW, hd->scratch, h, W, tgt, N, D, hd->NI, hd->ce_rb,
                                                 CREC_NN_CE_IC, gscale);
            crec__nn_ce_amx = prev;
            return l;
        }
        return crec__nn_softmax_ce_loss(dh, dW, hd->scratch, h, W, tgt, N, D, hd->NI, hd->ce_rb, hd->ce_ic, gscale);
    }
}

#include "nn/real.h"
#include "nn/loss.inc"

#define NN_DOUBLE
#include "nn/real.h"
#include "nn/loss.inc"
