/* seqtrain.h: the one training loop of the sequence models (private API): packed batches, shuffling, AdamW,
 * clipping, schedules, validation NDCG@10 with full ranking (seqvalid.c), early stopping that keeps the best
 * parameters, scoring a history and a whole-model gradient check - written once, the same bits at any thread count.
 *
 * A model brings two small tables of callbacks:
 *   - its network (crec_seqtrain_net): a parameter block, how to initialise it, a forward that turns a packed batch
 *     into final states h[N, D] and a backward, and its output item table W[I, D] (s_j = h . W[j]);
 *   - its objective (crec_seqtrain_obj): the window each training user contributes (inputs, targets) and the loss
 *     over the final states. crec__seqtrain_next_obj is the stock next-item objective (sasrec, gru4rec): every
 *     position of the last T + 1 items predicts the next, with one of the loss heads of nn.h.
 *
 * Batches are packed, never padded (crec_seq_batch), in the layout the network reads: sequence-major for
 * transformers (attention runs per sequence), time-major and sorted by length for recurrent nets (the step-t rows
 * are a prefix). Row order is the network's, and the objective fills rows through crec__seqtrain_row, so a
 * model's numbers do not depend on which of the two it uses. */
#ifndef CREC_MODELS_SEQTRAIN_H
#define CREC_MODELS_SEQTRAIN_H

#include <stdint.h>

#include "core/util.h"
#include "crec/model.h"
#include "crec/split.h"
#include "nn/nn.h"

/* A packed batch of B windows, N rows. Sequence-major: sequence q is rows seq_off[q] .. seq_off[q+1]-1, in the
 * caller's order. Time-major (crec_nn_pack): sequences sorted by length, longest first (ties in the caller's
 * order); row off[t] + q holds sequence q's position t, and pk describes the layout for the GRU kernels. In both,
 * src[q] is sequence q's index in the caller's list and len[q] its length. */
typedef struct crec_seq_batch {
    int B, N, T, time_major;    /* T: the longest window */
    int32_t *len, *src;         /* [Bmax] */
    int32_t *seq_off;           /* [Bmax + 1] sequence-major row offsets */
    int64_t *att_off;           /* [Bmax + 1] attention cache offsets (crec__nn_attention_offsets), heads > 0 */
    int32_t *bs, *off;          /* [Tmax], [Tmax + 1] time-major */
    crec_nn_pack pk;            /* time-major: {B, T, N, bs, off} */
    int32_t *ids, *posid, *tgt; /* [Nmax] input item; position, right-aligned (a window's last row is T - 1); target
                                 * item (< 0: no loss at this row) */
    int64_t *ts;                /* [Nmax] time of ids[n] from the training matrix's ts (0 without one, and for
                                 * tokens that are no event: [mask], inference histories) */
    int64_t *key;               /* [Bmax] sort scratch */
    int32_t *wl;                /* [Bmax] window lengths in the caller's order (scratch) */
} crec_seq_batch;

/* Row of sequence q's position t. */
static inline int32_t crec__seqtrain_row(const crec_seq_batch *bt, int q, int t) {
    return bt->time_major ? bt->off[t] + q : bt->seq_off[q] + t;
}

/* The network. ctx is the model's state; no callback changes it but through p, so scoring may run concurrently. */
typedef struct crec_seqtrain_net {
    const char *name;  /* log lines: "<name> epoch ..." */
    void *ctx;
    crec_nn_params *p; /* the parameter block; with grads and Adam moments to train */
    int32_t NI;        /* catalog items */
    int D;             /* width of the final states and of the output table's rows */
    int T;             /* longest window */
    int32_t mask;      /* >= 0: inference windows are the last T - 1 items and this token; -1: the last T items */
    int heads;         /* > 0: batches get attention offsets for this many heads */
    int time_major;    /* the batch layout forward reads */
    uint64_t salt;     /* dropout seed of training step s: crec__nn_hash(seed ^ salt, s) | 1 */
    uint64_t decay;    /* bit k set: weight decay on parameter tensor k */
    /* Initial parameters into p->param from r (called once, after the training counts). */
    void (*init)(void *ctx, crec_rng *r);
    /* Floats of the activation block for N rows and A attention-cache entries (the gradient block: the same). */
    size_t (*acts_floats)(const void *ctx, int N, int64_t A);
    /* Forward of bt with p->param, activations in abase; dropout when seed != 0. Returns the final states [N, D]
     * (in abase). With gbase (training) also lays out the gradient block, zeroes what the batch uses, and sets *dh
     * to where the loss adds d(loss)/d(h) [N, D]. */
    const float *(*forward)(const void *ctx, const crec_seq_batch *bt, float *abase, float *gbase, uint64_t seed,
                            float **dh);
    /* Backward of that forward (same seed): gradients added into p->grad. */
    void (*backward)(const void *ctx, const crec_seq_batch *bt, const float *abase, float *gbase, uint64_t seed);
    /* The output item table W[I, D] within a block laid out as p (p->param or p->grad). */
    float *(*out_table)(const void *ctx, float *blk);
} crec_seqtrain_net;

/* The objective: what the model learns from a user's training row. */
typedef struct crec_seqtrain_obj {
    void *ctx;
    /* Once, before the first epoch (training counts in pop [I]): allocate for batches of up to Nmax rows. May be
     * NULL. 0 or CREC_E*. */
    int (*prepare)(void *ctx, const crec_seqtrain_net *net, const crec_csr *train, const float *pop, int Nmax);
    /* Rows of the training window of a row of n >= 2 items: 1 .. min(n, T). */
    int32_t (*window)(void *ctx, const crec_seqtrain_net *net, int32_t n);
    /* Sequence q of bt (length bt->len[q], user u): ids, posid, tgt, ts at rows crec__seqtrain_row(bt, q, t).
     * Called for q = 0, 1, ... in order, so draws from rng keep one order. */
    void (*fill)(void *ctx, const crec_seqtrain_net *net, const crec_csr *train, int32_t u, crec_seq_batch *bt,
                 int q, crec_rng *rng);
    /* The loss of a batch after the forward: final states h [N, D], out table W; adds d(loss)/d(h) into dh and the
     * table's gradient into dW. users[src[q]] is sequence q's user. Returns the summed loss, *rows the rows it is
     * over (for the log). */
    double (*loss)(void *ctx, const crec_seqtrain_net *net, const crec_seq_batch *bt, const float *h, float *dh,
                   const float *W, float *dW, const crec_csr *train, const int32_t *users, crec_rng *rng,
                   int64_t *rows);
} crec_seqtrain_obj;

/* The training hyper-parameters of every sequence model (params.h CREC_P_ADAMW and CREC_P_EARLY_STOP). */
typedef struct crec_seqtrain_hp {
    int sched, batch, epochs, patience, min_epochs, warmup;
    double lr, wd, beta2, clip;
    int32_t valid_users;
    int *best_epoch; /* output (may be NULL): the epoch early stopping kept; without validation, the epochs run */
} crec_seqtrain_hp;

/* The training hyper-parameters from m. CREC_EINVAL when out of range. */
int crec__seqtrain_hp(const crec_model *m, crec_seqtrain_hp *h);

/* Trains net on in->train. pop [I] (zeroed by the caller) gets the training counts; parameters are initialised
 * from in->seed; users with >= 2 training items are shuffled each epoch into batches of hp->batch, obj's windows
 * and loss, AdamW with hp's schedule and clipping; with in->valid, early stopping on validation NDCG@10, the best
 * parameters kept. On success net->p keeps its parameters only (grads and moments freed); on failure the caller
 * frees everything. 0 or CREC_E*. */
int crec__seqtrain_run(const crec_seqtrain_net *net, const crec_seqtrain_obj *obj, const crec_seqtrain_hp *hp,
                       const crec_train_input *in, float *pop);
/* Benches only (bench/seq_epoch.c --fraction): when > 0, a run stops after this many optimiser steps (the epoch
 * in progress ends there, validated as usual). 0, the default, never stops early. */
extern int64_t crec__seqtrain_step_limit;

/* One history's scores over all I items: its inference window (net->mask), the forward without dropout, the last
 * row's state against the output table; an empty history gets pop. Allocates its own activations, so concurrent
 * calls are safe. 0 or CREC_ENOMEM. */
int crec__seqtrain_score(const crec_seqtrain_net *net, const float *pop, const int32_t *hist, int32_t n,
                         float *scores);

/* ---- batches ---- */

/* Room for Bmax sequences, Nmax rows, windows of up to Tmax. 0 or CREC_ENOMEM (free even on failure). */
int crec__seqtrain_batch_alloc(crec_seq_batch *bt, int Bmax, int Nmax, int Tmax);
void crec__seqtrain_batch_free(crec_seq_batch *bt);
/* The layout of nb >= 1 sequences of lengths lens[0..nb) (>= 1 each; lens must not be one of bt's arrays but wl)
 * in net's order: B, N, T, len, src and the offsets; the rows are the caller's to fill. */
void crec__seqtrain_batch_layout(crec_seq_batch *bt, const crec_seqtrain_net *net, const int32_t *lens, int nb);
/* Training batch of users[0..nb): obj's windows in net's layout (and attention offsets for heads > 0). */
void crec__seqtrain_batch_train(crec_seq_batch *bt, const crec_seqtrain_net *net, const crec_seqtrain_obj *obj,
                                const crec_csr *train, const int32_t *users, int nb, crec_rng *rng);
/* Inference batch: history b is hist[b][0..len[b]) (len >= 1); its window is its last T items, or its last T - 1
 * and [mask] (net->mask >= 0). No targets, ts 0. */
void crec__seqtrain_batch_hist(crec_seq_batch *bt, const crec_seqtrain_net *net, const int32_t *const *hist,
                               const int64_t *const *ts,
                               const int32_t *len, int nb);

/* Shard bounds of a training or inference step: sb[0..ns] (sequence indices of sequence-major bt) cut the batch
 * into runs of whole sequences of at least `rows` rows (a short tail joins the last run), a function of the batch
 * alone, so results do not depend on the thread count. One shard when rows is 0 or the batch needs more than cap - 1
 * bounds. Returns ns >= 1. */
int crec__seqtrain_shards(const crec_seq_batch *bt, size_t rows, int *sb, int cap);
/* Room for the bounds of any batch (batch <= 1024 sequences): the cap callers pass. */
#define CREC_SEQTRAIN_MAX_SHARDS 1025

/* ---- the stock next-item objective (sasrec, gru4rec; HSTU): each user's last T + 1 training items, every
 * position predicting the next item with the loss head of cfg; per-row negatives avoid the user's own training
 * items. ---- */
typedef struct crec_seqtrain_next {
    crec_nn_head_cfg cfg;
    crec_nn_head head;
    uint8_t *mark; /* [I] the current user's items, zero between users */
} crec_seqtrain_next;

/* The objective over o (o->cfg set, the rest zeroed); free o with crec__seqtrain_next_free after training. */
crec_seqtrain_obj crec__seqtrain_next_obj(crec_seqtrain_next *o);
void crec__seqtrain_next_free(crec_seqtrain_next *o);
/* Train net on the stock next-item objective with loss head cfg: crec__seqtrain_run over a crec_seqtrain_next made
 * and freed here (the training function of sasrec, gru4rec and hstu). */
int crec__seqtrain_run_next(const crec_seqtrain_net *net, const crec_nn_head_cfg *cfg, const crec_seqtrain_hp *hp,
                            const crec_train_input *in, float *pop);
/* Fills sequence q of bt (length bt->len[q] = min(n, T + 1) - 1 for a row of n items) with user u's next-item
 * window: inputs the row's items, targets the items after them (the stock objective's fill, for objectives of
 * other models built on the same windows). */
void crec__seqtrain_fill_next(const crec_seqtrain_net *net, const crec_csr *train, int32_t u, crec_seq_batch *bt,
                              int q);

/* ---- a whole-model gradient check (tests/unit/test_sasrec.c, test_bert4rec.c, test_gru4rec.c) ---- */

/* The mean loss of a batch's final states h against W; with dh / dW (not NULL), also its gradients. */
typedef double (*crec_seqtrain_gc_loss)(void *ctx, const crec_seq_batch *bt, const float *h, float *dh,
                                        const float *W, float *dW);

/* Finite-difference check of net's whole backward on batch bt under loss: net->p has train state and
 * parameters set by the caller; dropout at every site with the fixed masks of dseed (0 = off). For every
 * parameter tensor 12 elements drawn from r (the first 4 of tensor pin_k from [pin_off, pin_off + pin_len) when
 * pin_len > 0) are moved by +-0.01; *worst = max |analytic - numeric| / max(|numeric|, 0.05), *checked = elements
 * checked. 0 or CREC_ENOMEM. */
/* A crec_seqtrain_gc_loss for models trained with a loss head: the head's mean loss over bt's rows (lctx: the
 * crec_nn_head, its negatives fixed by the caller). */
double crec__seqtrain_head_loss(void *lctx, const crec_seq_batch *bt, const float *h, float *dh, const float *W,
                                float *dW);
int crec__seqtrain_gradcheck(const crec_seqtrain_net *net, const crec_seq_batch *bt, crec_seqtrain_gc_loss loss,
                             void *lctx, uint64_t dseed, int pin_k, size_t pin_off, size_t pin_len, crec_rng *r,
                             double *worst, int *checked);

#endif
