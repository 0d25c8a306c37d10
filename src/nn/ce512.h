/* ce512.h: the fused full-catalogue softmax CE (nn.h: crec__nn_softmax_ce_fused) with its three products written
 * as AVX-512 register-tiled kernels instead of OpenBLAS calls, for CPUs with AVX-512 (x86-64-v4) and D a multiple
 * of 16. Same algorithm, blocking and fixed work units as the generic kernel (the same bits at any thread count);
 * what it removes is OpenBLAS's packing (the item chunk re-packed for each 128-row slab, the logits packed before
 * the two products that read them), its beta = 0 fill and the max pass over the logits (taken in the product's
 * registers). Float only. */
#ifndef CREC_NN_CE512_H
#define CREC_NN_CE512_H

#include <stddef.h>
#include <stdint.h>

/* 1 (default): crec__nn_softmax_ce_fused takes this path when crec__nn_ce512_ok(D). 0: the OpenBLAS path (a
 * benchmark's before/after in one run: bench_ce_loss, bench_sasrec_epoch --no-ce512; the tests). */
extern int crec__nn_ce512;
/* The CPU has AVX-512 (x86-64-v4), D is a multiple of 16, and crec__nn_ce512 is set. */
int crec__nn_ce512_ok(int D);
/* 1: the fused CE's three products as AMX bf16 tile products with float sums (ce512.c), where crec__nn_ce_amx_ok(D):
 * the CPU has AMX and Linux grants the tile state, D a multiple of 32. Default 0 (float). Not bit-identical to the
 * float kernels: bf16 inputs; the same bits at any thread count. Per thread: the calling thread's value holds for a
 * call (a loss head sets it from its crec_nn_head_cfg.bf16, nn.h). */
extern _Thread_local int crec__nn_ce_amx;
/* The AMX kernel can run here for width D (whatever crec__nn_ce_amx says): the AVX-512 kernel runs
 * (crec__nn_ce512_ok), the CPU has AMX bf16, Linux grants the tile state, D a multiple of 32. */
int crec__nn_ce_amx_available(int D);
/* crec__nn_ce_amx is set and the AMX kernel is available. */
int crec__nn_ce_amx_ok(int D);
/* Frees the calling thread's buffers of the AMX kernel (about rows x items x 2 bytes; kept between calls). */
void crec__nn_ce_amx_free(void);
/* Floats of the transposed item table the kernel keeps in its scratch (16-item panels, zero-padded). */
size_t crec__nn_ce512_floats(int32_t NI, int D);
/* The kernel: arguments and scratch (crec__nn_ce_fused_floats) as crec__nn_softmax_ce_fused. */
double crec__nn_softmax_ce_fused512(float *dh, float *dW, float *scratch, const float *h, const float *W,
                                   const int32_t *pos, int N, int D, int NI, int rb, int ic, float gscale);

#endif
