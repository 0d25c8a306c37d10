/* rqvae.c: RQ-VAE training for semantic IDs (TIGER), on the neural core's linear and ReLU kernels. See rqvae.h. */
#include "index/rqvae.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/common.h"
#include "index/cluster.h"
#include "nn/nn.h"

#include "nn/real.h"
#include "index/rqvae.inc"
#define NN_DOUBLE
#include "nn/real.h"
#include "index/rqvae.inc"
#undef NN_DOUBLE

int crec__rqvae_shape(rqvae_shape *sh, int d, const int *hidden, int n_hidden, int latent, int levels, int K) {
    memset(sh, 0, sizeof *sh);
    if (d < 1 || latent < 1 || latent > RQVAE_MAX_LATENT || levels < 0 || K < 1 || n_hidden < 0 ||
        n_hidden > RQVAE_MAX_LAYERS - 1)
        return CREC_EINVAL;
    sh->n_layers = n_hidden + 1, sh->levels = levels, sh->K = K;
    sh->dims[0] = d;
    for (int i = 0; i < n_hidden; i++) {
        if (hidden[i] < 1) return CREC_EINVAL;
        sh->dims[i + 1] = hidden[i];
    }
    sh->dims[sh->n_layers] = latent;
    size_t off = 0;
    int nl = sh->n_layers;
    for (int l = 0; l <= nl; l++)
        if (sh->dims[l] > sh->max_dim) sh->max_dim = sh->dims[l];
    for (int l = 0; l < nl; l++) {
        sh->enc_w[l] = off, off += (size_t)sh->dims[l + 1] * sh->dims[l];
        sh->enc_b[l] = off, off += (size_t)sh->dims[l + 1];
    }
    for (int l = 0; l < nl; l++) { /* decoder layer l: dims[nl - l] -> dims[nl - 1 - l] */
        sh->dec_w[l] = off, off += (size_t)sh->dims[nl - 1 - l] * sh->dims[nl - l];
        sh->dec_b[l] = off, off += (size_t)sh->dims[nl - 1 - l];
    }
    sh->code = off, off += (size_t)levels * K * latent;
    sh->n_params = off;
    return 0;
}

size_t crec__rqvae_work(const rqvae_shape *sh, int B) {
    size_t n = 0;
    for (int l = 1; l <= sh->n_layers; l++) n += 2 * (size_t)B * sh->dims[l];     /* encoder pre + act */
    for (int l = 0; l < sh->n_layers; l++) n += 2 * (size_t)B * sh->dims[l];      /* decoder pre + act */
    return n + 2 * (size_t)B * sh->dims[sh->n_layers] + 2 * (size_t)B * sh->max_dim; /* zhat, dz, two deltas */
}

double crec__rqvae_batch(const rqvae_shape *sh, const float *p, float *g, const float *X, int B, float beta,
                         float *ws, int32_t *codes, float *res) {
    return crec__nn_rqvae_batch(sh, p, g, X, B, beta, ws, codes, res);
}
double crec__rqvae_batch_d(const rqvae_shape *sh, const double *p, double *g, const double *X, int B, double beta,
                           double *ws, int32_t *codes, double *res) {
    return crec__nn_rqvae_batch_d(sh, p, g, X, B, beta, ws, codes, res);
}

void crec__rqvae_opts_default(crec__rqvae_opts *o) {
    memset(o, 0, sizeof *o);
    o->levels = 3, o->K = 256, o->latent = 32, o->epochs = 200, o->batch = 1024;
    o->n_hidden = 3, o->hidden[0] = 512, o->hidden[1] = 256, o->hidden[2] = 128;
    o->restart = 1, o->lr = 1e-3f, o->beta = 0.25f, o->seed = 42;
}

/* Encoder only (float), rows [0, n) in chunks: z[n, latent]. */
static void encode_all(const rqvae_shape *sh, const float *p, const float *X, int32_t n, float *z, float *ws, int B) {
    int nl = sh->n_layers, Z = sh->dims[nl];
    float *a = ws, *b = ws + (size_t)B * sh->max_dim;
    for (int32_t s = 0; s < n; s += B) {
        int m = n - s < B ? (int)(n - s) : B;
        const float *in = X + (size_t)s * sh->dims[0];
        for (int l = 0; l < nl; l++) {
            float *out = l == nl - 1 ? z + (size_t)s * Z : (l % 2 ? b : a);
            crec__nn_linear_forward(out, in, p + sh->enc_w[l], p + sh->enc_b[l], m, sh->dims[l], sh->dims[l + 1]);
            if (l < nl - 1) crec__nn_act_forward(out, out, (size_t)m * sh->dims[l + 1], CREC_NN_RELU);
            in = out;
        }
    }
}

int crec__rqvae(const float *X, int32_t n, int d, const crec__rqvae_opts *o, int32_t *path, double *loss_out,
                double *recon_out) {
    rqvae_shape sh;
    int rc = crec__rqvae_shape(&sh, d, o->hidden, o->n_hidden, o->latent, o->levels, o->K);
    if (rc || n < 1 || o->batch < 1 || o->epochs < 0 || !(o->lr > 0) || !(o->beta >= 0)) return CREC_EINVAL;
    const int L = o->levels, K = o->K, Z = o->latent;
    int B = o->batch < n ? o->batch : (int)n;
    size_t P = sh.n_params, W = crec__rqvae_work(&sh, B);
    float *p = calloc(P, sizeof *p), *g = malloc(P * sizeof *g), *m = calloc(P, sizeof *m), *v = calloc(P, sizeof *v);
    float *ws = malloc(W * sizeof *ws), *xb = malloc((size_t)B * d * sizeof *xb);
    float *res = malloc((size_t)L * B * Z * sizeof *res), *z = malloc((size_t)n * Z * sizeof *z);
    int32_t *codes = malloc((size_t)B * (L ? L : 1) * sizeof *codes), *perm = malloc((size_t)n * sizeof *perm);
    int32_t *as = malloc((size_t)n * sizeof *as);
    int64_t *used = calloc((size_t)(L ? L : 1) * K, sizeof *used);
    if (!p || !g || !m || !v || !ws || !xb || !res || !z || !codes || !perm || !as || !used) {
        rc = CREC_ENOMEM;
        goto done;
    }
    crec_rng r;
    crec__rng_seed(&r, o->seed);
    for (int l = 0; l < sh.n_layers; l++) { /* PyTorch's nn.Linear default: U(-1/sqrt(C), 1/sqrt(C)) */
        int Ce = sh.dims[l], Oe = sh.dims[l + 1], Cd = sh.dims[sh.n_layers - l], Od = sh.dims[sh.n_layers - 1 - l];
        float se = 1.0f / sqrtf((float)Ce), sd = 1.0f / sqrtf((float)Cd);
        for (size_t i = 0; i < (size_t)Oe * Ce + Oe; i++) p[sh.enc_w[l] + i] = se * (2 * (float)crec__rng_uniform(&r) - 1);
        for (size_t i = 0; i < (size_t)Od * Cd + Od; i++) p[sh.dec_w[l] + i] = sd * (2 * (float)crec__rng_uniform(&r) - 1);
    }
    /* codebooks: residual k-means on the initial encoder's latents of all rows (TIGER: of the first batch) */
    encode_all(&sh, p, X, n, z, ws, B);
    for (int lv = 0; lv < L && !rc; lv++) {
        float *E = p + sh.code + (size_t)lv * K * Z;
        rc = crec__kmeans(z, n, Z, K, 25, o->seed + 31u * (uint64_t)(lv + 1), as, E);
        if (K > n) /* k-means gives min(K, n) centroids: the rest start at random rows */
            for (int k = (int)n; k < K; k++) memcpy(E + (size_t)k * Z, z + (size_t)crec__rng_below(&r, (uint64_t)n) * Z, (size_t)Z * sizeof *E);
        for (int32_t i = 0; i < n && !rc; i++)
            for (int j = 0; j < Z; j++) z[(size_t)i * Z + j] -= E[(size_t)as[i] * Z + j];
    }
    if (rc) goto done;
    for (int32_t i = 0; i < n; i++) perm[i] = i;
    int64_t step = 0;
    double ep_loss = 0;
    for (int ep = 0; ep < o->epochs; ep++) {
        for (int32_t i = n - 1; i > 0; i--) {
            int32_t j = (int32_t)crec__rng_below(&r, (uint64_t)i + 1), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        memset(used, 0, (size_t)(L ? L : 1) * K * sizeof *used);
        ep_loss = 0;
        int last_m = 0;
        for (int32_t s = 0; s < n; s += B) {
            int mb = n - s < B ? (int)(n - s) : B;
            for (int b = 0; b < mb; b++) memcpy(xb + (size_t)b * d, X + (size_t)perm[s + b] * d, (size_t)d * sizeof *xb);
            memset(g, 0, P * sizeof *g);
            double l = crec__rqvae_batch(&sh, p, g, xb, mb, o->beta, ws, codes, res);
            ep_loss += l * mb;
            for (int b = 0; b < mb; b++)
                for (int lv = 0; lv < L; lv++) used[(size_t)lv * K + codes[(size_t)b * L + lv]]++;
            crec__nn_adamw(p, g, m, v, P, o->lr, 0.9f, 0.999f, 1e-8f, 0.0f, ++step);
            last_m = mb;
        }
        ep_loss /= n;
        if (o->restart && ep + 1 < o->epochs) /* a code no row chose this epoch restarts at a residual of the last batch */
            for (int lv = 0; lv < L; lv++)
                for (int k = 0; k < K; k++)
                    if (!used[(size_t)lv * K + k]) {
                        int b = (int)crec__rng_below(&r, (uint64_t)last_m);
                        float *e = p + sh.code + ((size_t)lv * K + k) * Z;
                        memcpy(e, res + ((size_t)lv * last_m + b) * Z, (size_t)Z * sizeof *e);
                        size_t off = sh.code + ((size_t)lv * K + k) * Z;
                        memset(m + off, 0, (size_t)Z * sizeof *m), memset(v + off, 0, (size_t)Z * sizeof *v);
                    }
        if (o->verbose && (ep == 0 || (ep + 1) % (o->epochs >= 10 ? o->epochs / 10 : 1) == 0)) {
            fprintf(stderr, "rqvae: epoch %d/%d loss %.5f codes used", ep + 1, o->epochs, ep_loss);
            for (int lv = 0; lv < L; lv++) {
                int u = 0;
                for (int k = 0; k < K; k++) u += used[(size_t)lv * K + k] > 0;
                fprintf(stderr, " %d", u);
            }
            fputc('\n', stderr);
        }
    }
    /* the codes of every row: one forward pass in order (gradients into g, discarded) */
    double tot = 0, rec = 0;
    for (int32_t s = 0; s < n; s += B) {
        int mb = n - s < B ? (int)(n - s) : B;
        memset(g, 0, P * sizeof *g);
        tot += crec__rqvae_batch(&sh, p, g, X + (size_t)s * d, mb, o->beta, ws, codes, res) * mb;
        for (int b = 0; b < mb; b++) {
            double q = 0; /* the quantisation part of this row's loss: (1 + beta) |r_l - e_l|^2 summed over levels */
            for (int lv = 0; lv < L; lv++) {
                const float *rr = res + ((size_t)lv * mb + b) * Z;
                const float *e = p + sh.code + ((size_t)lv * K + codes[(size_t)b * L + lv]) * Z;
                for (int j = 0; j < Z; j++) q += (double)(rr[j] - e[j]) * (rr[j] - e[j]);
            }
            rec -= (1 + o->beta) * q;
            memcpy(path + (size_t)(s + b) * L, codes + (size_t)b * L, (size_t)L * sizeof *path);
        }
    }
    rec += tot;
    if (loss_out) *loss_out = tot / n;
    if (recon_out) *recon_out = rec / n;
done:
    free(p), free(g), free(m), free(v), free(ws), free(xb), free(res), free(z), free(codes), free(perm), free(as);
    free(used);
    return rc;
}
