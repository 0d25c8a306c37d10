/* rqvae.h: the RQ-VAE of TIGER (Rajput et al. 2023) that quantises item vectors into semantic IDs (private API of
 * the index module; rqvae.c). The step itself is a template (rqvae.inc) built in float and in double. */
#ifndef CREC_INDEX_RQVAE_H
#define CREC_INDEX_RQVAE_H
#include <stddef.h>
#include <stdint.h>

#define RQVAE_MAX_LAYERS 6
#define RQVAE_MAX_LATENT 256

/* Layer sizes dims[0] = input, dims[1..n_layers-1] hidden, dims[n_layers] = latent; the decoder mirrors them.
 * Offsets (in elements) of each tensor in one parameter block. */
typedef struct rqvae_shape {
    int n_layers, levels, K, max_dim;
    int dims[RQVAE_MAX_LAYERS + 1];
    size_t enc_w[RQVAE_MAX_LAYERS], enc_b[RQVAE_MAX_LAYERS], dec_w[RQVAE_MAX_LAYERS], dec_b[RQVAE_MAX_LAYERS];
    size_t code, n_params; /* codebooks: levels x K x latent, from `code` */
} rqvae_shape;

/* Fills sh from input width d, hidden sizes, latent width, levels and K; CREC_EINVAL on bad sizes. */
int crec__rqvae_shape(rqvae_shape *sh, int d, const int *hidden, int n_hidden, int latent, int levels, int K);
/* Work elements rqvae_batch needs for a batch of B rows. */
size_t crec__rqvae_work(const rqvae_shape *sh, int B);
/* One forward + backward (see rqvae.inc): gradients added into g, codes[B * levels], res (NULL or
 * [levels * B * latent]) each level's residual; returns the batch loss. The _d twin is for gradient checks. */
double crec__rqvae_batch(const rqvae_shape *sh, const float *p, float *g, const float *X, int B, float beta,
                         float *ws, int32_t *codes, float *res);
double crec__rqvae_batch_d(const rqvae_shape *sh, const double *p, double *g, const double *X, int B, double beta,
                           double *ws, int32_t *codes, double *res);

typedef struct crec__rqvae_opts {
    int levels, K, latent, epochs, batch, n_hidden, restart, verbose;
    int hidden[RQVAE_MAX_LAYERS - 1];
    float lr, beta;
    uint64_t seed;
} crec__rqvae_opts;
/* TIGER's sizes: hidden 512, 256, 128, latent 32, 3 levels of 256 codes, beta 0.25, batch 1024; AdamW lr 1e-3
 * (TIGER: Adagrad 0.4) for 200 epochs (TIGER: 20,000), dead codes restarted at the end of each epoch. */
void crec__rqvae_opts_default(crec__rqvae_opts *o);
/* Trains an RQ-VAE on X[n, d] and writes every row's codes into path[n * levels]. Reports the final loss, the
 * reconstruction part and the used codes per level through the optional outputs. 0 or CREC_E*. */
int crec__rqvae(const float *X, int32_t n, int d, const crec__rqvae_opts *o, int32_t *path, double *loss,
                double *recon);
#endif
