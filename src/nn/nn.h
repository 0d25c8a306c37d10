/* nn.h: the neural core's private API: forward/backward kernels, losses, AdamW, schedules, parameter blocks.
 *
 * The one idea (karpathy/llm.c train_gpt2.c): plain C kernels over flat arrays, one forward and one backward per
 * operation, no autograd and no tensor objects. A model owns one parameter block (params, grads, Adam m, Adam v:
 * four arrays with one layout given by a size table) and one activation block sized from its largest batch; it
 * calls the kernels in order forward, then in reverse order backward.
 *
 * Shape letters used in every comment:
 *   N  rows of a packed batch (tokens; sum of the sequence lengths, or B*T when padded)
 *   B  sequences in a batch, T a sequence's length, D width, H heads (hd = D/H per head), F hidden width of an FFN,
 *   C  input channels and O output channels of a linear layer, V rows of an embedding table, I items in the
 *   catalog, K negatives per row, S negatives shared by all rows of a batch.
 * A batch is packed: sequence b is rows seq_off[b] .. seq_off[b+1]-1, so no work is spent on padding.
 *
 * Conventions:
 *   - forward kernels write (=) their outputs; backward kernels ADD (+=) into every gradient they produce, as in
 *     llm.c, so branches that meet (residuals, a shared embedding) sum by themselves; callers zero gradients once
 *     per step. A gradient pointer that may be NULL says so.
 *   - every kernel is compiled twice from one template (kernels.inc, attention.inc, gru.inc, loss.inc):
 *     crec__nn_<op> in float for training, crec__nn_<op>_d in double for the finite-difference checks of
 *     tests/unit/test_nn.c.
 *   - OpenMP only where each thread writes its own rows; reductions over rows (bias and LayerNorm gradients,
 *     embedding scatter-adds: rows owned by threads, not Hogwild) run in a fixed order, and matrix products go to
 *     BLAS in fixed 128-row blocks (crec__nn_gemm), so a model trains to the same bits at any thread count.
 *     While training, BLAS runs one thread (crec__nn_blas_single) and the blocks are shared among OpenMP's:
 *     one thread pool, not two fighting over the cores.
 *   - the many short parallel regions of a training step want OMP_WAIT_POLICY=passive on a shared machine:
 *     libgomp's default spinning barriers cost several times the work when other processes hold the cores.
 *   - kernels do not allocate, fail or check shapes: models validate shapes once, when they size their blocks. */
#ifndef CREC_NN_H
#define CREC_NN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/util.h"   /* crec_rng: the negative samplers */
#include "crec/common.h" /* crec_buf: the neural core sits below the model layer */

/* Hot kernels are compiled twice more by the compiler (function multiversioning): an AVX2 clone picked at load
 * time on CPUs that have it, and the baseline x86-64 one. The library itself stays built for baseline x86-64. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(CREC_NN_NO_CLONES)
#define CREC_NN_HOT __attribute__((target_clones("avx2", "default")))
#else
#define CREC_NN_HOT
#endif
/* One more clone with 512-bit vectors, on CPUs with AVX-512, for the kernels whose own arithmetic is a large cost:
 * the fused CE's exponentials (one per logit), dropout's hashes and the activations (elementwise, no reductions).
 * The other kernels keep their clones, and their bits. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(CREC_NN_NO_CLONES)
#define CREC_NN_HOT512 __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define CREC_NN_HOT512
#endif

/* Elementwise and row-wise kernels (and the sampled losses, attention by its pairs x head width) run on one thread
 * below crec__nn_par_min elements (a parallel region costs microseconds). Results do not depend on it: each element
 * is computed the same way on any thread. A global so that a benchmark can try others in one run (bench_sasrec_epoch
 * --par-min: 2^18 measured slower than 16384 for the small-batch BCE setting, docs/RESULTS.md) and tests can set 0
 * to take every parallel path on tiny cases. */
#define CREC_NN_PAR_MIN ((size_t)16384)
extern size_t crec__nn_par_min;

/* Longest sequence the attention kernels accept (their per-row scratch lives on the stack). */
#define CREC_NN_MAX_T 1024
#define CREC_NN_LN_EPS 1e-5

typedef enum { CREC_NN_RELU = 0, CREC_NN_GELU = 1, CREC_NN_SILU = 2 } crec_nn_act;

/* ---- counter-based randomness for dropout: keep(seed, i) depends on nothing else, so masks are the same at
 * every thread count and backward recomputes them instead of storing them ---- */
static inline uint64_t crec__nn_hash(uint64_t seed, uint64_t i) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (i + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* Seed of one dropout site: a base seed mixed with the step and a site number. */
static inline uint64_t crec__nn_seed(uint64_t base, uint64_t step, uint64_t site) {
    return crec__nn_hash(crec__nn_hash(base, step), site);
}
/* The per-element hash of dropout masks: 32 bits (so that mask loops vectorise: 32-bit multiplies), Weyl step
 * then the "lowbias32" finaliser (C. Wellons). Element i of a site keeps its value when hash32 >= p * 2^32. */
static inline uint32_t crec__nn_hash32(uint32_t seed, uint32_t i) {
    uint32_t x = i * 0x9E3779B9u + seed;
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}
/* The keep threshold of drop probability p in [0, 1): floor(p * 2^32). */
static inline uint32_t crec__nn_drop_thr(double p) {
    double t = p * 4294967296.0;
    return p <= 0 ? 0 : t >= 4294967295.0 ? 4294967295u : (uint32_t)t;
}

/* exp for float kernels: 2^k * p(r), k = round(x / ln 2), r = x - k ln 2 (Cody-Waite), p a degree-7 polynomial
 * (Cephes expf coefficients; relative error ~2e-7, like expf). Written so that loops calling it vectorise.
 * x is clamped to [-87, 88] (exp(-87) = 1.6e-38 stands in for 0). */
static inline float crec__nn_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float k = x * 1.44269504088896341f + 12582912.0f; /* 1.5 * 2^23: adding and subtracting rounds to nearest */
    k -= 12582912.0f;
    float r = x - k * 0.693359375f;
    r -= k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t ki = k == k ? (int32_t)k : 0; /* NaN passes through p; converting it to int would be undefined */
    uint32_t bits = (uint32_t)(ki + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* erf for float kernels (Abramowitz & Stegun 7.1.26 on |x|, odd symmetry; absolute error < 2e-7), vectorisable. */
static inline float crec__nn_erff(float x) {
    float ax = x < 0 ? -x : x;
    float t = 1.0f / (1.0f + 0.3275911f * ax);
    float p = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
    float y = 1.0f - p * crec__nn_expf(-ax * ax);
    return x < 0 ? -y : y;
}

/* Packed sequences, time-major (PyTorch's PackedSequence), for recurrent layers: a batch's B sequences sorted by
 * length, longest first, so that the sequences still running at step t are always the first bs[t] of them. The
 * rows of step t are off[t] .. off[t] + bs[t] - 1, row off[t] + b holding sequence b's position t; N = off[T] =
 * the sum of the lengths, and no row is padding. */
typedef struct crec_nn_pack {
    int B, T, N;
    const int32_t *bs;  /* [T] sequences active at step t, non-increasing, bs[0] = B */
    const int32_t *off; /* [T + 1] first row of step t; off[T] = N */
} crec_nn_pack;

/* ---- the kernels, declared for one real type R and one name mangler NN ---- */
#define CREC__NN_KERNELS(R, NN)                                                                                        \
    /* matrix product, row-major: C[M,Nc] = alpha op(A)[M,K] op(B)[K,Nc] + beta C (ta, tb: A, B transposed).           \
     * The rows of C go in fixed blocks of 128, one BLAS call per block, shared among the OpenMP threads when BLAS     \
     * runs one thread and the caller is not in a parallel region (llm.c's rule: threads write their own rows), in     \
     * turn otherwise: the same bits at any thread count. Small A B^T products (<= 64 rows, <= 2^20 multiply-adds:     \
     * one sequence at serving time) are plain loops on the calling thread. Every product goes through here. */        \
    void NN(gemm)(int ta, int tb, int M, int Nc, int K, R alpha, const R *A, int lda, const R *B, int ldb, R beta,     \
                  R *C, int ldc);                                                                                      \
    /* y[M] = W[M,K] x[K] (rows split among threads outside a parallel region above 4M multiply-adds). */              \
    void NN(matvec)(R * y, const R *W, const R *x, int M, int K);                                                      \
    /* embedding: out[N,D] = scale * table[ids[n]] (accumulate: +=); table[V,D], ids in [0,V). */                      \
    void NN(embedding_forward)(R * out, const int32_t *ids, const R *table, int N, int D, R scale, int accumulate);    \
    /* dtable[V,D] += scale * sum over n with ids[n] = v of dout[n]. Deterministic, not Hogwild: thread t owns the     \
     * table rows v with v % n_threads == t and adds its rows' contributions in row order n, so every row's sum is     \
     * the same at any thread count. */                                                                                \
    void NN(embedding_backward)(R * dtable, const R *dout, const int32_t *ids, int N, int D, R scale);                 \
    /* linear: out[N,O] = inp[N,C] w[O,C]^T + b[O] (b may be NULL); one sgemm. */                                      \
    void NN(linear_forward)(R * out, const R *inp, const R *w, const R *b, int N, int C, int O);                       \
    /* dinp[N,C] += dout[N,O] w[O,C]; dw[O,C] += dout^T inp; db[O] += sum_n dout[n] (dinp, db may be NULL). */         \
    void NN(linear_backward)(R * dinp, R * dw, R * db, const R *dout, const R *inp, const R *w, int N, int C, int O);  \
    /* layer norm over D: out[N,D] = (inp - mean) * rstd * w[D] + b[D]; mean[N], rstd[N] cached for backward. */       \
    void NN(layernorm_forward)(R * out, R * mean, R * rstd, const R *inp, const R *w, const R *b, int N, int D);       \
    void NN(layernorm_backward)(R * dinp, R * dw, R * db, const R *dout, const R *inp, const R *w, const R *mean,      \
                                const R *rstd, int N, int D);                                                          \
    /* dropout: out[i] = keep(seed, i) ? inp[i] / (1 - p) : 0 over n < 2^32 elements (keep: crec__nn_hash32 of         \
     * the folded seed and i); out may alias inp; p = 0 copies. */                                                     \
    void NN(dropout_forward)(R * out, const R *inp, size_t n, R p, uint64_t seed);                                     \
    /* dinp[n] += keep(seed, n) ? dout[n] / (1 - p) : 0 (same seed as forward; dinp must not alias dout). */           \
    void NN(dropout_backward)(R * dinp, const R *dout, size_t n, R p, uint64_t seed);                                  \
    /* residual: out[n] = a[n] + b[n]; backward: da += dout, db += dout. */                                            \
    void NN(residual_forward)(R * out, const R *a, const R *b, size_t n);                                              \
    void NN(residual_backward)(R * da, R * db, const R *dout, size_t n);                                               \
    /* activation, elementwise over n: ReLU, GELU (exact, with erf), SiLU x*sigmoid(x). */                             \
    void NN(act_forward)(R * out, const R *inp, size_t n, crec_nn_act act);                                            \
    void NN(act_backward)(R * dinp, const R *dout, const R *inp, size_t n, crec_nn_act act);                           \
    /* multi-head self-attention over packed sequences. qkv[N,3D]: per row q | k | v, head h uses columns              \
     * [h*hd, (h+1)*hd) of each; out[N,D] concatenates the heads. att caches the probabilities: for sequence b and     \
     * head h, a T_b x T_b matrix at att_off[b] + h*T_b*T_b (crec__nn_attention_offsets). causal: query t sees keys    \
     * <= t (else every key: bidirectional). key_valid[N] (NULL: all valid): keys with 0 are never attended. A query   \
     * with no visible key outputs zeros. T_b <= CREC_NN_MAX_T. One task per (sequence, head). p > 0: dropout on       \
     * the probabilities (mask element j of the cache kept when crec__nn_hash32(folded seed, j) >= p * 2^32; att       \
     * keeps the probabilities before dropout). */                                                                     \
    void NN(attention_forward)(R * out, R * att, const R *qkv, const int32_t *seq_off, const int64_t *att_off, int B,  \
                               int D, int H, int causal, const uint8_t *key_valid, R p, uint64_t seed);                \
    /* dqkv[N,3D] += gradient of out w.r.t. qkv, given dout[N,D] and the forward's att (same p and seed). */           \
    void NN(attention_backward)(R * dqkv, const R *dout, const R *qkv, const R *att, const int32_t *seq_off,           \
                                const int64_t *att_off, int B, int D, int H, int causal, const uint8_t *key_valid,     \
                                R p, uint64_t seed);                                                                   \
    /* GRU cell, PyTorch gate order r | z | n. gx[N,3D] = x W_ih^T + b_ih and gh[N,3D] = hprev W_hh^T + b_hh come      \
     * from linear_forward; r = sig(gx_r + gh_r), z = sig(gx_z + gh_z), n = tanh(gx_n + r * gh_n),                     \
     * hout[N,D] = (1 - z) n + z hprev. cache[N,3D] keeps r, z, n for backward. */                                     \
    void NN(gru_cell_forward)(R * hout, R * cache, const R *gx, const R *gh, const R *hprev, int N, int D);            \
    /* dgx[N,3D] += , dgh[N,3D] += , dhprev[N,D] += (dhprev may be NULL), given dhout[N,D]. */                         \
    void NN(gru_cell_backward)(R * dgx, R * dgh, R * dhprev, const R *dhout, const R *cache, const R *gh,              \
                               const R *hprev, int N, int D);                                                          \
    /* GRU layer over packed sequences pk (gates r | z | n, the cell above), C input and H hidden width (gru.inc):     \
     *   gx[N,3H] = x[N,C] wih[3H,C]^T + bih[3H]                (one matrix product for every position)                \
     *   for t = 0 .. T-1 (the rows of step t only):                                                                   \
     *     hprev[rows t] = h[rows t-1][0 .. bs[t]) (h0[0 .. bs[0]) at t = 0, zeros when h0 is NULL)                    \
     *     gh[rows t]    = hprev[rows t] whh[3H,H]^T + bhh[3H]   (one product per step, bs[t] rows)                    \
     *     h[rows t], cache[rows t] = gru_cell(gx, gh, hprev)                                                          \
     * h[N,H] are the states; gx, gh, cache [N,3H] and hprev[N,H] are kept for backward. h0[B,H] in sorted order. */   \
    void NN(gru_forward)(R * h, R * cache, R * gx, R * gh, R * hprev, const R *x, const R *h0, const R *wih,           \
                         const R *bih, const R *whh, const R *bhh, const crec_nn_pack *pk, int C, int H);              \
    /* Backward of gru_forward. dh[N,H] holds dloss/dh from outside the layer on entry; the recurrent contributions    \
     * are added into it as the steps go backward (it ends as the total gradient w.r.t. h). dgx, dgh [N,3H] are        \
     * scratch (overwritten). Adds into dx[N,C] (may be NULL), dh0[B,H] (may be NULL), dwih[3H,C], dbih[3H],           \
     * dwhh[3H,H], dbhh[3H]. Every sum runs in a fixed order at any thread count. */                                   \
    void NN(gru_backward)(R * dx, R * dh0, R * dwih, R * dbih, R * dwhh, R * dbhh, R * dh, R * dgx, R * dgh,           \
                          const R *x, const R *cache, const R *gh, const R *hprev, const R *wih, const R *whh,         \
                          const crec_nn_pack *pk, int C, int H);                                                       \
                                                                                                                       \
    /* ---- losses: each returns the summed loss over its rows (double) and, when dh / dW are not NULL, adds           \
     * gscale * d(loss)/d(h) into dh[N,D] and gscale * d(loss)/d(W) into dW[I,D]. Scores are s = h[n] . W[item]        \
     * (W is the item table: output layer tied to the input embedding). Rows with target < 0 are skipped. Item         \
     * gradients are scattered deterministically (rows of dW owned by threads, as in embedding_backward). ---- */      \
                                                                                                                       \
    /* binary cross-entropy with K negatives per row (neg[N,K]):                                                       \
     *   loss_n = -beta log sig(s_pos) - sum_k log(1 - sig(s_neg_k)).                                                  \
     * beta = 1 is BCE (SASRec's loss with K = 1); beta < 1 is gBCE (gSASRec, Petrov & Macdonald 2023), beta from      \
     * crec__nn_gbce_beta. scratch: 2 * N * (K + 1) reals. */                                                          \
    double NN(bce_loss)(R * dh, R * dW, R * scratch, const R *h, const R *W, const int32_t *pos, const int32_t *neg,   \
                        int N, int D, int K, double beta, R gscale);                                                   \
    /* sampled softmax with S negatives shared by all rows (neg[S]): over {pos} + negatives,                           \
     *   loss_n = -s'_pos + log(exp(s'_pos) + sum_{j != pos} exp(s'_j)),  s'_j = s_j - logq_j                          \
     * (log-Q correction, Yi et al. 2019: logq_pos[N] and logq_neg[S] are log(S * Q(item)); both NULL = none). A       \
     * negative equal to the row's target is left out (accidental hit). scratch: N*S + 2*S*D reals. */                 \
    double NN(sampled_softmax_loss)(R * dh, R * dW, R * scratch, const R *h, const R *W, const int32_t *pos,           \
                                    const int32_t *neg, const R *logq_pos, const R *logq_neg, int N, int D, int S,     \
                                    R gscale);                                                                         \
    /* full softmax cross-entropy over all I items: loss_n = logsumexp_j(s_j) - s_pos. Rows go in blocks of rb and     \
     * items in chunks of ic: logits = h_blk W_chunk^T by one gemm per chunk, so memory is rb*ic whatever I is.        \
     * When ic >= I the block's logits are kept between the two passes; otherwise pass 1 keeps an online               \
     * logsumexp (running max and sum) and pass 2 recomputes each chunk's logits for the gradient.                     \
     * scratch: rb*min(ic,I) + 2*rb reals. */                                                                          \
    double NN(softmax_ce_loss)(R * dh, R * dW, R * scratch, const R *h, const R *W, const int32_t *pos, int N, int D,  \
                               int NI, int rb, int ic, R gscale);                                                      \
    /* the same loss, fused (loss.inc): rows in equal blocks of at most rb, each block in one parallel region: per    \
     * 128-row slab and ic-item chunk, logits, exp and their product with the chunk's items while the chunk is in      \
     * cache (online max and sum as in flash attention), then the item gradient per item range. The logits of a block \
     * are written once and read once more. scratch: crec__nn_ce_fused_floats(I, D, rb, ic) reals. */                 \
    double NN(softmax_ce_fused)(R * dh, R * dW, R * scratch, const R *h, const R *W, const int32_t *pos, int N, int D, \
                                int NI, int rb, int ic, R gscale);                                                     \
    /* BPR-max (Hidasi & Karatzoglou 2018) with S negatives shared by all rows (neg[S]): w_j = softmax of s_j over     \
     * the row's negatives, sig_j = sigmoid(s_pos - s_j),                                                              \
     *   loss_n = -log(sum_j w_j sig_j) + reg * sum_j w_j s_j^2.                                                       \
     * A negative equal to the row's target is left out (accidental hit); a row whose negatives all are its target     \
     * has no loss. scratch: 2*S*D + 3*N*S + N*D + 2*N reals. */                                                       \
    double NN(bprmax_loss)(R * dh, R * dW, R * scratch, const R *h, const R *W, const int32_t *pos,                    \
                           const int32_t *neg, int N, int D, int S, R reg, R gscale);

#define CREC__NN_F(name) crec__nn_##name
#define CREC__NN_D(name) crec__nn_##name##_d
CREC__NN_KERNELS(float, CREC__NN_F)
CREC__NN_KERNELS(double, CREC__NN_D)

/* BLAS threads: crec__nn_blas_single() makes BLAS run one thread (so that crec__nn_gemm splits rows over OpenMP
 * threads instead: one pool, no two thread pools fighting over the cores) and returns the previous count, which
 * crec__nn_blas_restore puts back. Process-wide: for a training loop, not for concurrent callers. OpenBLAS's OpenMP
 * build sets OpenMP's thread count too (to 1 here, to prev on restore): set the loop's count with
 * omp_set_num_threads *after* this call, or every parallel region runs one thread: crec__nn_threads_enter does both. */
int crec__nn_blas_single(void);
void crec__nn_blas_restore(int prev);
/* A training or batched-scoring loop's threads: BLAS on one thread, then OpenMP on nt (0: as it is), in that order
 * (see above); crec__nn_threads_leave gives both back. */
typedef struct {
    int omp, blas;
} crec_nn_threads;
crec_nn_threads crec__nn_threads_enter(int nt);
void crec__nn_threads_leave(crec_nn_threads t);

/* Fills att_off[B+1] with the attention cache offsets of a packed batch (H * sum T_b^2 in all) and returns the
 * total. */
int64_t crec__nn_attention_offsets(int64_t *att_off, const int32_t *seq_off, int B, int H);

/* gBCE's positive-term exponent: alpha = K / (NI - 1), beta = alpha * (t * (1 - 1/alpha) + 1/alpha), t in [0, 1]
 * (t = 0: beta = 1, plain BCE). */
double crec__nn_gbce_beta(int K, int NI, double t);

/* Blocking of the full-softmax CE (softmax_ce_loss) over I items within 16M floats (64 MiB) of scratch: the whole
 * catalog and up to 1024 rows per block when it fits (fewer passes over the item table), else 256 rows x item
 * chunks. Sets *rb, *ic; returns the scratch floats the loss needs. */
size_t crec__nn_ce_blocks(int32_t NI, int *rb, int *ic);
/* Item chunk of the fused CE (a 128-row slab of its logits, 512 KiB, stays in a core's cache), and the scratch
 * reals softmax_ce_fused needs for row blocks of rb, item chunks of ic. */
#define CREC_NN_CE_IC 1024
size_t crec__nn_ce_fused_floats(int32_t NI, int D, int rb, int ic);
/* Set (bench_sasrec_epoch --ce-twopass): heads run the two-pass softmax_ce_loss instead, for a before/after in one
 * run. Read when a head computes its loss; 0 by default. */
extern int crec__nn_ce_twopass;

/* ---- negative samplers (sampler.c, float only): items drawn uniformly, or with probability Q(j) ~ (count_j +
 * 1)^alpha (a cumulative table and a binary search), and the log-Q terms log(S * Q(j)) of a sampled softmax with
 * S negatives. Every draw takes the caller's RNG in a fixed order, so a seed gives the same negatives. ---- */
typedef struct crec_nn_sampler {
    int32_t NI;
    double *cdf; /* [I] cumulative (count + 1)^alpha; NULL: uniform (alpha = 0) */
    float *logq; /* [I] log(S * Q(j)); NULL unless asked for */
} crec_nn_sampler;

/* Sampler over I items from counts[I] (training counts; may be NULL for a uniform sampler without log-Q) and
 * alpha >= 0; with_logq: also the log-Q table for S negatives. 0, CREC_EINVAL (counts missing) or CREC_ENOMEM (sp
 * then holds nothing). Free with crec__nn_sampler_free. */
int crec__nn_sampler_init(crec_nn_sampler *sp, const float *counts, int32_t NI, double alpha, int S, int with_logq);
void crec__nn_sampler_free(crec_nn_sampler *sp);
/* One item. */
int32_t crec__nn_sample(const crec_nn_sampler *sp, crec_rng *r);
/* One item with mark[item] == 0, redrawn up to 64 times (then the last draw is kept: a user who has seen almost
 * every item must not loop forever). */
int32_t crec__nn_sample_unmarked(const crec_nn_sampler *sp, const uint8_t *mark, crec_rng *r);

/* ---- loss heads (loss.c, float only): one training loss over item scores s = h . W[item] with the negatives it
 * draws and the scratch it needs, behind one call, for every model that predicts items from states. ---- */
typedef enum {
    CREC_NN_LOSS_CE = 0, /* full softmax cross-entropy over the catalog */
    CREC_NN_LOSS_SSM,    /* sampled softmax, S negatives shared by the batch, optional log-Q correction */
    CREC_NN_LOSS_BCE,    /* binary cross-entropy, K negatives per row */
    CREC_NN_LOSS_GBCE,   /* gBCE: BCE with the positive term calibrated (crec__nn_gbce_beta) */
    CREC_NN_LOSS_BPRMAX  /* BPR-max, S negatives shared by the batch, score regularisation */
} crec_nn_loss;

typedef struct crec_nn_head_cfg {
    int loss;      /* crec_nn_loss */
    int neg;       /* negatives: K per row (bce, gbce) or S shared (ssm, bprmax); unused by ce */
    double alpha;  /* negatives drawn with probability ~ (count + 1)^alpha (0 = uniform) */
    int logq;      /* ssm: log-Q correction by the sampler's Q */
    double gbce_t; /* gbce calibration t in [0, 1] */
    double bpreg;  /* bprmax score regularisation */
    int bf16;      /* ce: the products as AMX bf16 tiles where available (ce512.h: crec__nn_ce_amx) */
} crec_nn_head_cfg;

typedef struct crec_nn_head {
    crec_nn_head_cfg c;
    int32_t NI;
    int D, Nmax, ce_rb, ce_ic;
    double beta;     /* bce 1, gbce from gbce_t */
    float *scratch;  /* the loss's scratch for up to Nmax rows */
    int32_t *neg;    /* [S] shared or [Nmax, K] per row */
    float *lqp;      /* [Nmax] log-Q of the rows' targets (ssm with logq) */
    float *lqn;      /* [S] log-Q of the shared negatives (ssm with logq) */
    crec_nn_sampler sp;
} crec_nn_head;

/* A head for batches of up to Nmax rows of width D over I items, negatives drawn by counts[I] (training counts;
 * may be NULL when alpha = 0 and no log-Q). 0, CREC_EINVAL (a setting out of range) or CREC_ENOMEM; on failure
 * the head holds nothing. Free with crec__nn_head_free. */
int crec__nn_head_init(crec_nn_head *hd, const crec_nn_head_cfg *c, int32_t NI, int D, int Nmax, const float *counts);
void crec__nn_head_free(crec_nn_head *hd);
/* Does the loss draw negatives per row (bce, gbce) / shared by the batch (ssm, bprmax)? */
int crec__nn_head_per_row(const crec_nn_head *hd);
int crec__nn_head_shared(const crec_nn_head *hd);
/* Shared losses: S negatives into hd->neg (and their log-Q, then the log-Q of the targets tgt[N], rows with a
 * target < 0 getting 0). */
void crec__nn_head_draw_shared(crec_nn_head *hd, const int32_t *tgt, int N, crec_rng *r);
/* Per-row losses: row n's K negatives into hd->neg[n*K ..], none with mark[item] set (crec__nn_sample_unmarked). */
void crec__nn_head_draw_row(crec_nn_head *hd, int n, const uint8_t *mark, crec_rng *r);
/* The loss of states h[N,D] with targets tgt[N] (< 0: no loss) against the item table W[I,D], with the negatives
 * drawn above: the summed loss; adds gscale-scaled gradients into dh[N,D] and dW[I,D] (either may be NULL). */
double crec__nn_head_loss(const crec_nn_head *hd, float *dh, float *dW, const float *h, const float *W,
                          const int32_t *tgt, int N, float gscale);

/* ---- parameter blocks (llm.c malloc_and_point_parameters): a size table of up to CREC_NN_MAX_TENSORS tensors,
 * each tensor starting on a 64-byte boundary; params, grads, Adam m and Adam v share the layout, so zeroing,
 * the optimizer and checkpoint I/O are flat loops over `total` floats. ---- */
#define CREC_NN_MAX_TENSORS 48
typedef struct crec_nn_params {
    int n;
    size_t size[CREC_NN_MAX_TENSORS]; /* floats in tensor i */
    size_t off[CREC_NN_MAX_TENSORS];  /* its offset (floats) in each block */
    size_t total;                     /* floats in each block (padding included) */
    float *param, *grad, *m, *v;      /* grad, m, v NULL unless allocated with train state */
} crec_nn_params;

/* Lays out n tensors of the given sizes and allocates the blocks (zeroed, 64-byte aligned): params only, or params
 * + grads + m + v when train. On failure returns CREC_ENOMEM / CREC_EINVAL and p holds nothing. The caller owns
 * the blocks: crec__nn_params_free. */
int crec__nn_params_alloc(crec_nn_params *p, const size_t *sizes, int n, int train);
void crec__nn_params_free(crec_nn_params *p);
/* Tensor i of a block (p->param, p->grad, ...). */
static inline float *crec__nn_tensor(const crec_nn_params *p, float *block, int i) { return block + p->off[i]; }
/* Checkpoint I/O: the size table, then the params block. Load checks the table against the caller's expected
 * sizes (CREC_EFORMAT on mismatch) into a p already allocated with those sizes. */
int crec__nn_params_save(const crec_nn_params *p, crec_buf *out);
int crec__nn_params_load(crec_nn_params *p, crec_buf *in);

/* ---- optimisation (float only) ---- */
/* One AdamW step (Loshchilov & Hutter; PyTorch's order): p -= lr * wd * p; m = b1 m + (1-b1) g;
 * v = b2 v + (1-b2) g^2; p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps). t is the 1-based step. */
void crec__nn_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2, float eps,
                    float wd, int64_t t);
/* Global L2 norm of g[n], summed in fixed 4096-element chunks then in chunk order (same at any thread count). */
double crec__nn_grad_norm(const float *g, size_t n);
/* If the norm of g exceeds max_norm > 0, scales g by max_norm / norm. Returns the norm before clipping. */
double crec__nn_clip_grad_norm(float *g, size_t n, double max_norm);

/* ---- cosine scores (float; sasrec's and genrec's cos=1) ----
 * out[i] = scale x[i] / |x[i]| for n rows of width D, nrm[i] = |x[i]| (floored at 1e-6); out may be x. */
void crec__nn_cos_rows(float *out, float *nrm, const float *x, int64_t n, int D, float scale);
/* Its backward: dx[i] += scale / |x[i]| (dy[i] - yh (yh . dy[i])), yh = y[i] / scale; rows with dy = 0 skipped;
 * dy cleared when clear. */
void crec__nn_cos_rows_back(float *dx, float *dy, const float *y, const float *nrm, int64_t n, int D, float scale,
                            int clear);

typedef enum { CREC_NN_SCHED_CONSTANT = 0, CREC_NN_SCHED_COSINE = 1, CREC_NN_SCHED_LINEAR = 2 } crec_nn_sched;
/* Learning rate at 0-based step of total: linear warm-up over the first warmup steps (lr * (step+1) / warmup),
 * then constant, or cosine / linear decay from lr to lr * min_frac at step total - 1. A pure function. */
float crec__nn_lr(crec_nn_sched kind, float lr, int64_t step, int64_t total, int64_t warmup, float min_frac);
/* "constant" / "cosine" / "linear" -> kind; -1 if unknown. */
int crec__nn_sched_parse(const char *s);

/* ---- the HSTU layer (hstu.c, float and double): Zhai et al. 2024's reference layer ----
 * uvqk[N,4D] holds per row u | v | q | k (after SiLU), head h using columns [h*hd, (h+1)*hd) of each (hd = D/H).
 * Time buckets: bucket(tq, tk) = clamp(floor(ln(max(|tq - tk|, 1)) / 0.301), 0, 128) (crec__nn_hstu_bucket; the
 * difference is taken exactly, without overflow, for any two int64 times). */
#define CREC_NN_HSTU_BUCKETS 129
#define CREC_NN_HSTU_EPS 1e-6
int crec__nn_hstu_bucket(int64_t tq, int64_t tk);
#define CREC__NN_HSTU_KERNELS(R, NN)                                                                                  \
    /* affine-free layer norm over D: out[N,D] = (inp - mean) * rstd, rstd[N] cached; backward reads out. */           \
    void NN(hstu_norm_forward)(R * out, R * rstd, const R *inp, int N, int D);                                        \
    void NN(hstu_norm_backward)(R * dinp, const R *dout, const R *out, const R *rstd, int N, int D);                  \
    /* gate: out[N,D] = u * an, u the first D columns of uvqk[N,4D]; backward adds into du (duvqk) and dan. */        \
    void NN(hstu_gate_forward)(R * out, const R *uvqk, const R *an, int N, int D);                                    \
    void NN(hstu_gate_backward)(R * duvqk, R * dan, const R *dout, const R *uvqk, const R *an, int N, int D);         \
    /* pointwise attention over packed sequences, causal: for query t and key t2 <= t of a sequence,                   \
     *   z = q_t . k_t2 + pos_w[t2 - t + Tmax - 1] + ts_w[bucket(tq[t], tk[t2])],  a = SiLU(z) / n,                  \
     *   out[t] (head h) = sum_t2 a v_t2;  n = Tmax, or the sequence's length when norm_len.                           \
     * pos_w[2 Tmax - 1], ts_w[129] may be NULL (no such bias); tk, tq [N] key / query times (read only with ts_w).     \
     * att caches z (zeros above the diagonal) at att_off[b] + h*T_b*T_b (crec__nn_attention_offsets); T_b <= Tmax. */ \
    void NN(hstu_attention_forward)(R * out, R * att, const R *uvqk, const R *pos_w, const R *ts_w,                   \
                                    const int64_t *tk, const int64_t *tq, const int32_t *seq_off,                     \
                                    const int64_t *att_off, int B, int D, int H, int Tmax, int norm_len);             \
    /* adds into duvqk[N,4D] (its v, q, k columns), dpos_w and dts_w (either may be NULL); dS (att's size) is          \
     * scratch. */                                                                                                     \
    void NN(hstu_attention_backward)(R * duvqk, R * dpos_w, R * dts_w, R * dS, const R *dout, const R *uvqk,          \
                                     const R *att, const int64_t *tk, const int64_t *tq, const int32_t *seq_off,      \
                                     const int64_t *att_off, int B, int D, int H, int Tmax, int norm_len);
CREC__NN_HSTU_KERNELS(float, CREC__NN_F)
CREC__NN_HSTU_KERNELS(double, CREC__NN_D)

#endif
