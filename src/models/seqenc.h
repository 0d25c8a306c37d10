/* seqenc.h: the transformer encoder over packed item sequences that sasrec.c and bert4rec.c share (private API):
 * parameters, activations, forward / backward, the network it is to the sequence trainer (crec__seqenc_net:
 * seqtrain.h runs training, validation and scoring), checkpoints and a whole-model gradient check. A model brings
 * only what makes it that model: its hyper-parameter table and its objective (seqtrain.h crec_seqtrain_obj: how a
 * user's training row becomes a window with targets, and the loss).
 *
 * The encoder: x = dropout(E[id] * sqrt(D) + P[position]); L blocks of (LN, multi-head attention - causal or
 * bidirectional -, residual, LN, FFN D->F->D, residual), pre-LN with a final LN, or post-LN LN(x + f(x)); the output
 * layer is the item table E itself (s_j = h . E[j], j < I). With a [mask] token (BERT4Rec), E has one more row,
 * I, which is an input only. Positions are right-aligned: the last token of a window has position T - 1.
 *
 * Batches are packed, never padded, sequence-major (seqtrain.h crec_seq_batch): sequence b is rows seq_off[b] ..
 * seq_off[b+1]-1 of every [N, .] tensor (shape letters as in nn/nn.h). At inference a history's window is its last
 * T items (causal), or its last T - 1 items followed by [mask] (with a mask token); the window's last row scores
 * the catalog. */
#ifndef CREC_MODELS_SEQENC_H
#define CREC_MODELS_SEQENC_H

#include <stdint.h>

#include "core/util.h"
#include "crec/model.h"
#include "crec/split.h"
#include "models/seqtrain.h"
#include "nn/nn.h"

/* Parameter tensors, stacked over the L blocks (llm.c ParameterTensors). */
enum {
    SE_P_EMB,  /* [V, D] item embeddings (V = I, or I + 1 with the mask token); rows < I = output layer */
    SE_P_POS,  /* [T, D] positions */
    SE_P_LN1W, /* [L, D] */
    SE_P_LN1B,
    SE_P_QKVW, /* [L, 3D, D] */
    SE_P_QKVB, /* [L, 3D] */
    SE_P_PRJW, /* [L, D, D] */
    SE_P_PRJB, /* [L, D] */
    SE_P_LN2W,
    SE_P_LN2B,
    SE_P_FC1W, /* [L, F, D] */
    SE_P_FC1B, /* [L, F] */
    SE_P_FC2W, /* [L, D, F] */
    SE_P_FC2B, /* [L, D] */
    SE_P_LNFW, /* [D] */
    SE_P_LNFB,
    SE_P_COUNT
};

/* Activations of one batch of N tokens (A attention-cache entries per block); the gradient block has the same
 * layout. Offsets depend on (N, A) so a batch's tensors are one contiguous prefix, zeroed by one memset. */
enum {
    SE_A_X0,   /* [N, D] dropout(embeddings) */
    SE_A_LN1,  /* [L, N, D] pre: LN1(x); post: LN1(res1) */
    SE_A_LN1M, /* [L, N] */
    SE_A_LN1R,
    SE_A_QKV,  /* [L, N, 3D] */
    SE_A_ATTY, /* [L, N, D] attention output (heads concatenated) */
    SE_A_ATT,  /* [L, A] attention probabilities */
    SE_A_PROJ, /* [L, N, D] output projection, dropout applied in place */
    SE_A_RES1, /* [L, N, D] */
    SE_A_LN2,  /* [L, N, D] pre: LN2(res1); post: LN2(res2) */
    SE_A_LN2M,
    SE_A_LN2R,
    SE_A_FC1,  /* [L, N, F] pre-activation */
    SE_A_FC1A, /* [L, N, F] activation, dropout in place */
    SE_A_FC2,  /* [L, N, D] dropout in place */
    SE_A_RES2, /* [L, N, D] */
    SE_A_HF,   /* [N, D] final hidden states: what the loss and the scores read */
    SE_A_LNFM, /* [N] */
    SE_A_LNFR,
    SE_A_TMP, /* [N, max(D, F)] scratch for dropout gradients */
    SE_A_COUNT
};

typedef struct crec_seqenc {
    int D, L, H, F, T, pre, act;
    int causal;   /* 1: position t attends to positions <= t (SASRec); 0: to all (BERT4Rec) */
    int32_t NI;   /* I: catalog items */
    int32_t mask; /* id of the [mask] token (I) or -1 without one */
    int32_t NA;   /* rows of P_EMB after the items (and [mask]): attribute embeddings (sasrec's attr=1; 0 = none) */
    const float *emb; /* NULL, or the table the input lookups read instead of P_EMB (sasrec's fused items) */
    float drop;
    crec_nn_params p;
    float *pop; /* [I] training counts: scores of an empty history */
} crec_seqenc;

typedef struct crec_seqenc_acts {
    int N;
    int64_t A;
    float *t[SE_A_COUNT];
} crec_seqenc_acts;

/* Architecture from m's hyper-parameters dim, blocks, heads, ffn (0 = dim), max_len, dropout, norm, act into s
 * (zeroed first; I = m->n_items; mask token = I when with_mask). CREC_EINVAL when out of range. */
int crec__seqenc_arch(const crec_model *m, crec_seqenc *s, int causal, int with_mask);
/* The rules between the transformer's parameters, for a type's check hook: heads divides dim; with a [mask]
 * token (with_mask) max_len >= 2 (one history item and the mask). CREC_EINVAL with the keys named in err. */
int crec__seqenc_check(const crec_model *m, int with_mask, char *err, size_t errn);
/* Allocates s's parameter block (with grads and Adam moments when train), zeroed. 0 or CREC_ENOMEM. */
int crec__seqenc_alloc(crec_seqenc *s, int train);
/* Frees what s owns (parameters, pop), not s. */
void crec__seqenc_free(crec_seqenc *s);

/* Floats of the activation block for (N, A); with base, also points a's tensors into it. */
size_t crec__seqenc_acts_layout(const crec_seqenc *s, int N, int64_t A, float *base, crec_seqenc_acts *a);
/* Rows per shard of a training / validation step (seqenc.c: runs of whole sequences, each forward and backward on
 * one thread; a batch under twice this is one shard, run kernel by kernel). Results do not depend on it beyond
 * the products' 128-row blocks; a knob for tests and benchmarks. Default 128. */
extern size_t crec__seqenc_shard_rows;
/* Forward of bt into a (laid out for bt's N and A) with parameter block blk; dropout when seed != 0. */
void crec__seqenc_forward(const crec_seqenc *s, const float *blk, crec_seqenc_acts *a, const crec_seq_batch *bt,
                          uint64_t seed);
/* Backward of the forward above: g (a's layout, zeroed but for g->t[SE_A_HF] = dloss/dh) -> gradients added into
 * gblk; same seed. */
void crec__seqenc_backward(const crec_seqenc *s, const float *blk, float *gblk, const crec_seqenc_acts *a,
                           crec_seqenc_acts *g, const crec_seq_batch *bt, uint64_t seed);

/* The model-type hooks of a model whose m->state is a crec_seqenc (sasrec, bert4rec): score ctx->hist
 * (crec__seqtrain_score: ctx->user is not read), and free the state. */
int crec__seqenc_model_score(const crec_model *m, const crec_context *ctx, float *scores);
void crec__seqenc_model_free(crec_model *m);

/* s as the sequence trainer's network (seqtrain.h; name for log lines): sequence-major batches with attention
 * offsets for s->H heads, the item table rows < I as the output layer, weight decay on matrices and embeddings.
 * The view points into s: it lives as long as s. */
crec_seqtrain_net crec__seqenc_net(crec_seqenc *s, const char *name);

/* Checkpoint payload: the architecture (checked against m's hyper-parameters on load), pop, the parameters. */
int crec__seqenc_save(const crec_seqenc *s, crec_buf *out);
/* Loads into a new *out (owned by the caller: crec__seqenc_free then free). 0, CREC_EFORMAT or CREC_ENOMEM. */
int crec__seqenc_load(const crec_model *m, crec_buf *in, int causal, int with_mask, crec_seqenc **out);

/* Finite-difference check of the whole model's backward on batch bt (targets set, attention offsets for s->H heads)
 * with loss = mean full-softmax CE over the rows with a target (crec__seqtrain_gradcheck); s has train-state
 * parameters, filled by the caller. Dropout at every site with the fixed masks of dseed (0 = off). For every
 * parameter tensor, 12 elements drawn from r (4 of the item table's from the [mask] row when there is one) are
 * moved by +-0.01; *worst = max |analytic - numeric| / max(|numeric|, 0.05), *checked = elements checked. 0 or
 * CREC_ENOMEM. */
int crec__seqenc_gradcheck(crec_seqenc *s, const crec_seq_batch *bt, uint64_t dseed, crec_rng *r, double *worst,
                           int *checked);

#endif
