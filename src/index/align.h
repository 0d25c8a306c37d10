/* align.h: PRORec-style cross-view alignment of item vectors before quantisation (private; align.c).
 *
 * PRORec (fusing collaborative and semantic knowledge into item codes) observes that concatenating a semantic and a
 * collaborative vector lets the semantic side dominate the codes, and first aligns the two views. Here: two linear
 * maps project an item's content vector c (dc) and collaborative vector v (dv), each row L2-normalised, into one
 * d-dimensional space, u = Wc c / |Wc c|, w = Wv v / |Wv v|, trained with a symmetric InfoNCE loss between an item's
 * two views over mini-batches (in-batch negatives, temperature tau: the CLIP form). The fused vector quantised
 * afterwards is (u + w) / |u + w|, one vector in the shared space.
 * Reductions against PRORec, named: PRORec's stage 1 aligns while training the collaborative model (a sequential
 * recommender) and its stage 2 distils both views into the code by a learned quantiser; here both input views are
 * fixed vectors made beforehand (content TF-IDF + SVD, a trained crec model's item table), only the projections are
 * learned, and the fused vector goes to the ordinary residual quantiser (k-means or RQ-VAE). */
#ifndef CREC_INDEX_ALIGN_H
#define CREC_INDEX_ALIGN_H
#include <stddef.h>
#include <stdint.h>

typedef struct crec__align_opts {
    int dim;     /* shared width d (64) */
    int epochs;  /* passes over the items (50) */
    int batch;   /* items per step = negatives + 1 (512) */
    double lr;   /* Adam learning rate (0.001) */
    double tau;  /* temperature (0.1) */
    uint64_t seed;
    int verbose; /* log loss and in-batch cross-view top-1 accuracy per 10 epochs */
} crec__align_opts;

void crec__align_opts_default(crec__align_opts *o);

/* Mean symmetric InfoNCE of the B items rows[] (C, V row-normalised, [n, dc] / [n, dv]); Wc [d, dc], Wv [d, dv]
 * row-major. With gWc / gWv non-NULL their gradients are added there. *acc (may be NULL): the fraction of the 2B
 * queries (content -> collaborative and back) whose best in-batch match is the item itself. B >= 1. */
double crec__align_loss(const double *Wc, const double *Wv, const double *C, int dc, const double *V, int dv,
                        const int32_t *rows, int B, int d, double tau, double *gWc, double *gWv, double *acc);

/* Trains the projections on the n items and writes the fused vectors: *out [n, o->dim] (malloc'd, rows unit
 * length; an item whose both views are zero gets a zero row). loss0 / loss1 / acc1 (may be NULL): the mean loss of
 * the first and the last epoch and the last epoch's in-batch top-1 accuracy. 0, CREC_EINVAL (n < 2, bad options),
 * CREC_ENOMEM. */
int crec__align_vectors(const float *C, int dc, const float *V, int dv, int32_t n, const crec__align_opts *o,
                        float **out, double *loss0, double *loss1, double *acc1);
#endif
