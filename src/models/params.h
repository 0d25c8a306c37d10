/* params.h: the hyper-parameter groups that several models share, declared once (model.h: CREC_P_*).
 * A group is a macro that expands to table entries, with the defaults that differ between models as
 * arguments, so a model's table reads: its own parameters, then the groups it trains with. */
#ifndef CREC_MODELS_PARAMS_H
#define CREC_MODELS_PARAMS_H
#include <string.h>

#include "crec/model.h"

/* The transformer encoder (seqenc.c): width, depth, heads, FFN, window, dropout, normalisation, activation. */
#define CREC_P_TRANSFORMER(dim, blocks, heads, max_len, max_len_help, dropout, norm_help)                           \
    CREC_P_INT("dim", dim, 1, 4096, "width D of item / position embeddings and hidden states"),                    \
        CREC_P_INT("blocks", blocks, 1, 16, "transformer blocks"),                                                 \
        CREC_P_INT("heads", heads, 1, 64, "attention heads (must divide dim)"),                                    \
        CREC_P_INT("ffn", "0", 0, 65536, "FFN hidden width (0 = dim)"),                                            \
        CREC_P_INT("max_len", max_len, 1, 1024, max_len_help),                                                     \
        CREC_P_FLOAT("dropout", dropout, 0, 0.99,                                                                  \
                     "dropout on embeddings, attention probabilities and output, FFN hidden and output"),         \
        CREC_P_ENUM("norm", "pre", "pre|post", norm_help),                                                         \
        CREC_P_ENUM("act", "gelu", "gelu|relu|silu", "FFN activation")

/* The arithmetic of the full-catalogue CE loss's products (loss=ce; src/nn/ce512.c). */
#define CREC_P_CE_PRECISION                                                                                        \
    CREC_P_ENUM("ce_precision", "float", "float|bf16",                                                             \
                "products of the full-catalogue CE loss: float, or bf16 AMX tiles with float sums (1.6-1.8x faster " \
                "per epoch where the CPU has AMX and Linux grants it, else float; not bit-identical, see "         \
                "docs/RESULTS.md)")

/* 1 where a model's ce_precision asks for bf16 products. */
static inline int crec__param_ce_bf16(const crec_model *m) {
    return strcmp(crec_model_param_str(m, "ce_precision"), "bf16") == 0;
}

/* AdamW with warm-up and a schedule, in mini-batches of users (every neural sequence model). */
#define CREC_P_ADAMW(lr)                                                                                           \
    CREC_P_FLOAT("lr", lr, 1e-7, 10, "AdamW learning rate"),                                                       \
        CREC_P_FLOAT("wd", "0", 0, 100, "decoupled weight decay (matrices and embeddings)"),                       \
        CREC_P_FLOAT("beta2", "0.98", 0.5, 0.99999, "Adam beta2"),                                                 \
        CREC_P_FLOAT("clip", "0", 0, 1e9, "clip gradients to this global norm (0 = off)"),                         \
        CREC_P_ENUM("schedule", "constant", "constant|cosine|linear",                                              \
                    "after warm-up: constant, cosine or linear decay to 0.1 lr"),                                  \
        CREC_P_INT("warmup", "0", 0, 100000000, "linear warm-up steps"),                                           \
        CREC_P_INT("batch", "256", 1, 1024, "users per batch")

/* Epochs with early stopping on validation NDCG@10 (full ranking), the best epoch's parameters kept. */
#define CREC_P_EARLY_STOP(epochs, patience, valid_users)                                                           \
    CREC_P_INT("epochs", epochs, 1, 100000, "maximum epochs (passes over the training data)"),                     \
        CREC_P_INT("patience", patience, 0, 100000,                                                                \
                   "stop after this many epochs without a better validation NDCG@10 (0 = never); best kept"),     \
        CREC_P_INT("valid_users", valid_users, 0, 1000000000,                                                      \
                   "validation users per epoch (an even stride; 0 = all)"),                                        \
        CREC_P_INT("min_epochs", "0", 0, 100000,                                                                   \
                   "patience may stop training only after this many epochs (0 = from the first; slow starts)")

/* The early-stopping decision of every loop that takes CREC_P_EARLY_STOP: stop after epoch ep (1-based) when
 * patience is on, `since` epochs in a row did not beat the best, and min_epochs have run. */
static inline int crec__early_stop(int64_t ep, int64_t since, int64_t patience, int64_t min_epochs) {
    return patience > 0 && since >= patience && ep >= min_epochs;
}

#endif
