/* cluster.h: k-means, spectral clustering and a sparse truncated SVD for item indexing (private API; cluster.c). */
#ifndef CREC_INDEX_CLUSTER_H
#define CREC_INDEX_CLUSTER_H
#include <stdint.h>

/* k-means of n points X[n, d] into k clusters (k-means++ seeding from seed, at most iters Lloyd iterations; empty
 * clusters reseeded at the farthest point): assign[n] in [0, min(k, n)); centroids into cent[k, d] when not NULL.
 * 0, CREC_EINVAL or CREC_ENOMEM. */
int crec__kmeans(const float *X, int32_t n, int d, int k, int iters, uint64_t seed, int32_t *assign, float *cent);
/* Spectral clustering (Ng, Jordan & Weiss 2001) of a symmetric graph of n nodes (CSR ptr/idx/w, no self loops
 * needed) into k clusters: top-k eigenspace of D^-1/2 (A + I) D^-1/2 by iters steps of subspace iteration (LAPACK
 * QR), rows normalised, k-means. assign[n] in [0, k). With k >= n, node i gets cluster i. */
int crec__spectral(const int64_t *ptr, const int32_t *idx, const float *w, int32_t n, int k, int iters, uint64_t seed,
                   int32_t *assign);
/* Rank-dim truncated SVD of the sparse A[n, m] (CSR): out[n, dim] = U_dim S_dim (randomised subspace iteration, 10
 * extra columns, 3 power steps; column signs fixed). */
int crec__sparse_svd(const int64_t *ptr, const int32_t *idx, const float *val, int32_t n, int32_t m, int dim,
                     uint64_t seed, float *out);
#endif
