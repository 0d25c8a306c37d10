/* xattn.h: cross-attention over packed batches and single-query attention for decoding with a KV cache (private
 * API of the neural core; xattn.c, float and double from xattn.inc, like nn.h's kernels).
 *
 * Shapes (nn.h letters): S decoder sequences, query rows Nq, memory rows Nk, D width, H heads (hd = D / H).
 * Decoder sequence s is query rows q_off[s] .. q_off[s+1]-1 (Tq_s rows) and attends to memory rows k_beg[s] ..
 * k_beg[s] + k_len[s] - 1 (Tk_s rows, >= 1): an encoder-decoder model reads the whole memory of its input, and a
 * model whose encoder is causal reads a prefix of one shared encoder pass (k_len = prefix length). Memory rows hold
 * k | v: kv[Nk, 2D]. The probabilities are cached per (sequence, head): a Tq_s x Tk_s matrix at att_off[s] +
 * h * Tq_s * Tk_s (crec__nn_xattn_offsets). No mask and no dropout: every memory row in range is visible. */
#ifndef CREC_NN_XATTN_H
#define CREC_NN_XATTN_H

#include <stdint.h>

/* att_off[S + 1]; returns the total cache entries. */
int64_t crec__nn_xattn_offsets(int64_t *att_off, const int32_t *q_off, const int32_t *k_len, int S, int H);

#define CREC__NN_XATTN_KERNELS(R, NN)                                                                                \
    /* out[Nq, D] = per head softmax(q k^T / sqrt(hd)) v over the sequence's memory rows. */                         \
    void NN(xattn_forward)(R * out, R * att, const R *q, const R *kv, const int32_t *q_off, const int32_t *k_beg,   \
                           const int32_t *k_len, const int64_t *att_off, int S, int D, int H);                       \
    /* dq[Nq, D] += , dkv[Nk, 2D] += given dout[Nq, D] and the forward's att. Memory rows may be shared by several   \
     * sequences (a causal encoder's prefixes): their gradients are summed in sequence order, one thread. */         \
    void NN(xattn_backward)(R * dq, R * dkv, const R *dout, const R *q, const R *kv, const R *att,                   \
                            const int32_t *q_off, const int32_t *k_beg, const int32_t *k_len, const int64_t *att_off, \
                            int S, int D, int H);                                                                     \
    /* One query against T cached rows (decoding): out[D] = per head softmax(q . k_t / sqrt(hd)) v_t, keys and       \
     * values at K + t * ld and V + t * ld (t < T), q[D]. p[T] is scratch. */                                        \
    void NN(attend_one)(R * out, R * p, const R *q, const R *K, const R *V, int ld, int T, int D, int H);
#define CREC__NN_XF(name) crec__nn_##name
#define CREC__NN_XD(name) crec__nn_##name##_d
CREC__NN_XATTN_KERNELS(float, CREC__NN_XF)
CREC__NN_XATTN_KERNELS(double, CREC__NN_XD)
#endif
