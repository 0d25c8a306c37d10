/* hstu.h: what hstu.c exposes besides its model type (crec__model_hstu, in registry.h): a whole-model gradient
 * check for tests/unit/test_hstu.c. The layer's kernels are the neural core's (nn.h crec__nn_hstu_*). */
#ifndef CREC_MODELS_HSTU_H
#define CREC_MODELS_HSTU_H

#include <stddef.h>
#include <stdint.h>

/* Finite-difference check of the whole HSTU network's backward (embeddings, position embedding, every layer's
 * W_uvqk, W_o, b_o, relative position and time biases, the L2 normalisation of states and item table, the
 * temperature 0.5) in float on a tiny random model (parameters ~ N(0, 0.2^2), D 8, 2 layers, 2 heads, max_len 6,
 * 13 items, timestamps spread over many buckets), dropout p with fixed masks, full-softmax CE over three histories of different lengths.
 * norm_len: 1 divides by the sequence length, 0 by max_len. *worst, *checked as crec__seqtrain_gradcheck.
 * 0 or CREC_ENOMEM. */
int crec__hstu_gradcheck(int norm_len, float dropout, uint64_t seed, double *worst, int *checked);

/* Rows per shard of a training / inference step (runs of whole sequences, each on one thread; 0 = one shard, each
 * kernel sharing the whole batch's rows among the threads). Default 512; a knob for tests and benchmarks. */
extern size_t crec__hstu_shard_rows;

#endif
