/* optim.c: parameter blocks, AdamW, gradient clipping and learning-rate schedules of the neural core.
 *
 * The one idea (llm.c): a model's parameters are one flat float block described by a size table, and its
 * gradients and Adam moments are three more blocks with the same layout. Zeroing is one memset, the optimiser one
 * loop, a checkpoint one write. Tensors start on 64-byte boundaries so BLAS and vector loops see aligned rows. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"
#include "nn/kernels.h"
#include "nn/nn.h"

#define PARAMS_MAGIC 0x4e4e5031u /* "NNP1" */

int crec__nn_params_alloc(crec_nn_params *p, const size_t *sizes, int n, int train) {
    memset(p, 0, sizeof *p);
    if (n <= 0 || n > CREC_NN_MAX_TENSORS) return CREC_EINVAL;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        p->size[i] = sizes[i];
        p->off[i] = off;
        off += (sizes[i] + 15) & ~(size_t)15;
    }
    p->n = n;
    p->total = off ? off : 16;
    size_t bytes = p->total * sizeof(float);
    p->param = crec__aligned_alloc(bytes);
    if (train) {
        p->grad = crec__aligned_alloc(bytes);
        p->m = crec__aligned_alloc(bytes);
        p->v = crec__aligned_alloc(bytes);
    }
    if (!p->param || (train && (!p->grad || !p->m || !p->v))) {
        crec__nn_params_free(p);
        return CREC_ENOMEM;
    }
    return 0;
}

void crec__nn_params_free(crec_nn_params *p) {
    free(p->param);
    free(p->grad);
    free(p->m);
    free(p->v);
    memset(p, 0, sizeof *p);
}

int crec__nn_params_save(const crec_nn_params *p, crec_buf *out) {
    int rc = crec__put_u32(out, PARAMS_MAGIC);
    if (!rc) rc = crec__put_u32(out, (uint32_t)p->n);
    for (int i = 0; !rc && i < p->n; i++) rc = crec__put_u64(out, p->size[i]);
    if (!rc) rc = crec__put_u64(out, p->total);
    if (!rc) rc = crec_buf_write(out, p->param, p->total * sizeof(float));
    return rc;
}

int crec__nn_params_load(crec_nn_params *p, crec_buf *in) {
    uint32_t magic, n;
    uint64_t v;
    int rc = crec__get_u32(in, &magic);
    if (!rc && magic != PARAMS_MAGIC) rc = CREC_EFORMAT;
    if (!rc) rc = crec__get_u32(in, &n);
    if (!rc && (int)n != p->n) rc = CREC_EFORMAT;
    for (uint32_t i = 0; !rc && i < n; i++) {
        rc = crec__get_u64(in, &v);
        if (!rc && v != p->size[i]) rc = CREC_EFORMAT;
    }
    if (!rc) rc = crec__get_u64(in, &v);
    if (!rc && v != p->total) rc = CREC_EFORMAT;
    if (!rc) rc = crec_buf_read(in, p->param, p->total * sizeof(float));
    return rc;
}

/* The AdamW loop, one copy for both entry points below; ZERO_G is a statement run after g[i] is read. A macro, not
 * a static function: OpenMP outlines a parallel loop from the function it is written in, and only the entry
 * points are compiled per CPU (CREC_NN_HOT); an outlined loop of a plain helper ran scalar x86-64 code and took
 * 28% of a BCE epoch's CPU. */
#define ADAMW_LOOP(p, g, m, v, n, lr, b1, b2, eps, wd, t, ZERO_G)                                                     \
    do {                                                                                                               \
        float c1 = 1.0f / (1.0f - powf(b1, (float)(t))), c2 = 1.0f / (1.0f - powf(b2, (float)(t)));                  \
        float decay = 1.0f - (lr) * (wd);                                                                              \
        _Pragma("omp parallel for simd schedule(static) if (n > 65536)") for (size_t i = 0; i < (n); i++) {         \
            float gi = (g)[i];                                                                                         \
            float mi = (b1) * (m)[i] + (1.0f - (b1)) * gi;                                                            \
            float vi = (b2) * (v)[i] + (1.0f - (b2)) * gi * gi;                                                       \
            ZERO_G;                                                                                                    \
            (m)[i] = mi;                                                                                               \
            (v)[i] = vi;                                                                                               \
            (p)[i] = (p)[i] * decay - (lr) * (mi * c1) / (sqrtf(vi * c2) + (eps));                                     \
        }                                                                                                              \
    } while (0)

CREC_NN_HOT void crec__nn_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
                                float eps, float wd, int64_t t) {
    ADAMW_LOOP(p, g, m, v, n, lr, b1, b2, eps, wd, t, (void)0);
}

/* AdamW as above, and g zeroed as it is read: the next step's gradient block is ready without a memset pass over
 * it (the same parameters and moments, bit for bit). */
CREC_NN_HOT void crec__nn_adamw_zero(float *p, float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
                                     float eps, float wd, int64_t t) {
    ADAMW_LOOP(p, g, m, v, n, lr, b1, b2, eps, wd, t, g[i] = 0);
}

#define NORM_CHUNK 4096

double crec__nn_grad_norm(const float *g, size_t n) {
    size_t nc = (n + NORM_CHUNK - 1) / NORM_CHUNK;
    double *part = malloc((nc ? nc : 1) * sizeof *part);
    double s = 0;
    if (!part) { /* no memory for partials: one sequential pass (same order as below, chunk by chunk) */
        for (size_t c = 0; c < nc; c++) {
            double cs = 0;
            for (size_t i = c * NORM_CHUNK; i < n && i < (c + 1) * NORM_CHUNK; i++) cs += (double)g[i] * g[i];
            s += cs;
        }
        return sqrt(s);
    }
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t c = 0; c < nc; c++) {
        double cs = 0;
        for (size_t i = c * NORM_CHUNK; i < n && i < (c + 1) * NORM_CHUNK; i++) cs += (double)g[i] * g[i];
        part[c] = cs;
    }
    for (size_t c = 0; c < nc; c++) s += part[c];
    free(part);
    return sqrt(s);
}

double crec__nn_clip_grad_norm(float *g, size_t n, double max_norm) {
    double norm = crec__nn_grad_norm(g, n);
    if (max_norm > 0 && norm > max_norm) {
        float s = (float)(max_norm / norm);
#pragma omp parallel for simd schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++) g[i] *= s;
    }
    return norm;
}

float crec__nn_lr(crec_nn_sched kind, float lr, int64_t step, int64_t total, int64_t warmup, float min_frac) {
    if (warmup > 0 && step < warmup) return lr * (float)(step + 1) / (float)warmup;
    if (kind == CREC_NN_SCHED_CONSTANT || total - warmup <= 1) return lr;
    double prog = (double)(step - warmup) / (double)(total - warmup - 1);
    if (prog > 1) prog = 1;
    if (prog < 0) prog = 0;
    double f = kind == CREC_NN_SCHED_COSINE ? 0.5 * (1 + cos(M_PI * prog)) : 1 - prog;
    return (float)(lr * (min_frac + (1 - min_frac) * f));
}

int crec__nn_sched_parse(const char *s) {
    if (!s) return -1;
    if (strcmp(s, "constant") == 0) return CREC_NN_SCHED_CONSTANT;
    if (strcmp(s, "cosine") == 0) return CREC_NN_SCHED_COSINE;
    if (strcmp(s, "linear") == 0) return CREC_NN_SCHED_LINEAR;
    return -1;
}
