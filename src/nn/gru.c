/* gru.c: the GRU layer over packed sequences (nn.h: crec_nn_pack, gru_forward / gru_backward), compiled twice from
 * gru.inc: in float (crec__nn_gru_*, for training) and in double (crec__nn_gru_*_d, for the finite-difference
 * checks). The cell itself is kernels.inc's gru_cell; this file runs it over time, step by step. */
#include <string.h>

#include "nn/nn.h"

#include "nn/real.h"
#include "nn/gru.inc"

#define NN_DOUBLE
#include "nn/real.h"
#include "nn/gru.inc"
