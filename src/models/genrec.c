/* genrec.c: generative retrieval (TIGER, Rajput et al. 2023; P5 / "How to Index Item IDs", Hua et al. 2023): an
 * encoder-decoder transformer trained from scratch that reads a user's history and emits the next item's code, one
 * token per level of an item index (include/crec/index.h), decoded by beam search constrained by the trie of valid
 * codes, so every answer is a real item.
 *
 * Model (pre-LN throughout; shape letters of nn/nn.h, L the code length, V the token vocabulary + BOS):
 *   encoder input of history item i at window position t: sum over levels of TOK[token_l(i)] + EPOS[t]
 *     (an item is one encoder row, the sum of its code's token embeddings - a reduction of TIGER, whose encoder
 *     reads every token as its own row: L times shorter sequences on a 2-core machine); with enc_tokens=1, TIGER's
 *     form: level l of item t is its own row TOK[token_l(i)] + EPOS[t L + l] (learned absolute positions where
 *     TIGER's T5 has relative position biases);
 *   Le blocks of (LN, self-attention, residual, LN, FFN, residual), final LN -> memory M;
 *   decoder input at step j: TOK[BOS] (j = 0) or TOK[token_{j-1}], + DPOS[j]; Ld blocks of (LN, causal
 *     self-attention, residual, LN, cross-attention to M, residual, LN, FFN, residual), final LN -> h_j;
 *   output: level j's logits h_j . TOK[level j's tokens] (tied to the input table), softmax over level j's tokens.
 * Encoder: causal (default) - one pass over a user's window serves every prefix: target t's decoder reads memory
 * rows 0..t, exactly an encoder run on that prefix alone, as SASRec trains every position at once - or bidir
 * (TIGER's bidirectional encoder; every target then gets its own encoder pass over its prefix, T times the work).
 * At inference both read the whole window.
 * Training: every position of each user's last max_len + 1 training items predicts the next item's code,
 * teacher-forced cross-entropy (mean over levels and targets), AdamW, early stopping on validation NDCG@10 from
 * beam decoding (history = training items, seen items excluded) with the best parameters kept.
 * Inference: beam search of width `beam` over the trie; a candidate's score is the sum over levels of the token's
 * log-probability renormalised over the prefix's valid children; the KV cache keeps each beam's decoder keys and
 * values and each layer's cross keys / values of the memory (computed once per request). The last level keeps
 * every child of every beam, drops excluded items and returns the best k: a list model (CREC_CAP_LIST), evaluated
 * with items outside its list ranked last.
 * The index: hyper-parameter `index` names a .crecidx file (checked against the dataset's items); empty, the model
 * builds one with `index_method` (random / sequential / collaborative / semantic) at training time. The index is
 * saved inside the checkpoint. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "crec/index.h"
#include "models/attrfuse.h"
#include "models/genrec.h"
#include "models/params.h"
#include "models/seqtrain.h"
#include "nn/nn.h"
#include "nn/xattn.h"

static const crec_param_def GENREC_PARAMS[] = {
    CREC_P_STR("index", "", "item index file (.crecidx from crec index build); empty: built with index_method"),
    CREC_P_ENUM("index_method", "sequential", "random|sequential|iid|collaborative|semantic",
                "indexing when no index file is given (default digit base / N=20, M=500; iid: one token per item)"),
    CREC_P_INT("dim", "64", 8, 1024, "width D"),
    CREC_P_INT("enc_blocks", "2", 1, 16, "encoder blocks"),
    CREC_P_INT("dec_blocks", "2", 1, 16, "decoder blocks"),
    CREC_P_INT("heads", "2", 1, 64, "attention heads (must divide dim)"),
    CREC_P_INT("ffn", "0", 0, 65536, "FFN hidden width (0 = 2 dim)"),
    CREC_P_INT("max_len", "20", 1, 512, "last items of a history the encoder reads"),
    CREC_P_FLOAT("dropout", "0.1", 0, 0.9, "dropout on embeddings and on every residual branch"),
    CREC_P_ENUM("encoder", "causal", "causal|bidir",
                "causal: one encoder pass serves every prefix; bidir: TIGER's bidirectional encoder, a pass per target"),
    CREC_P_INT("beam", "20", 1, 1024, "beam width of the constrained decoding"),
    CREC_P_BOOL("enc_tokens", "0",
                "TIGER's encoder input: every code token of every history item is its own encoder row (token "
                "embedding + its own position; L times longer sequences); 0: one row per item, the sum of its "
                "tokens' embeddings"),
    CREC_P_BOOL("item_emb", "0",
                "add a learned per-item embedding to the encoder's input rows (not in TIGER: ids then carry "
                "per-item capacity on the input side only)"),
    CREC_P_ENUM("tasks", "seq", "seq|seq+direct",
                "P5-style multi-task: seq = next-item only; seq+direct adds direct recommendation (pick the user's "
                "item out of a candidate list), every encoder input led by its task token"),
    CREC_P_INT("direct_cands", "20", 2, 512,
               "direct task: candidates per example (one of the user's training items + uniform negatives; at most "
               "max_len)"),
    CREC_P_INT("user_tokens", "0", 0, 10000000,
               "rows of a user-token table (user u reads row u mod N), a row led into the encoder; 0: none"),
    CREC_P_FLOAT("ls", "0", 0, 0.99,
                 "label smoothing of each level's token CE: (1 - ls) CE + ls CE(uniform over the level's K tokens) "
                 "(Szegedy et al. 2016; as sasrec's ls)"),
    CREC_P_BOOL("attr", "0",
                "1: item attributes as side information while training: the item-token row of the index's last level "
                "(input and output) is its own embedding plus the mean of the item's attributes' embeddings, learned "
                "jointly, as sasrec's attr; the saved model keeps the fused rows. Needs item attributes and an index "
                "whose last level is the item's own token (hybrid, or rq with --item-token 1)"),
    CREC_P_BOOL("cos", "0",
                "1: cosine scores for every level's tokens, cos(h, W[k]) / temp (the decoder state and the token rows "
                "L2-normalised), as sasrec's cos; 0: dot products"),
    CREC_P_FLOAT("temp", "0.07", 1e-4, 100, "temperature of the cosine scores (cos=1)"),
    CREC_P_FLOAT("aux", "0", 0, 100,
                 "weight of an auxiliary next-item loss on the encoder: the memory row after each target's history "
                 "scores the last level's tokens (dot products with the decoder's output rows), CE against the "
                 "target's last-level token - SASRec's per-position loss when that level is the item's own token "
                 "(training only; decoding is unchanged); 0: none"),
    CREC_P_BOOL("mem_in", "0",
                "1: every decoder input row also adds the memory row the target's history ends at (the encoder's state "
                "after the last history item), a residual path from the sequence summary to every decoding step, as a "
                "seq2seq decoder starts from the encoder's last state and SASRec scores from its last position; 0: the "
                "decoder reads the history through cross-attention only (TIGER)"),
    CREC_P_ADAMW("0.002"),
    CREC_P_EARLY_STOP("30", "3", "2000"),
    CREC_P_END,
};

enum {
    P_TOK, P_EPOS, P_DPOS,
    P_ELN1W, P_ELN1B, P_EQKVW, P_EQKVB, P_EPRJW, P_EPRJB, P_ELN2W, P_ELN2B, P_EFC1W, P_EFC1B, P_EFC2W, P_EFC2B,
    P_ELNFW, P_ELNFB,
    P_DLN1W, P_DLN1B, P_DQKVW, P_DQKVB, P_DPRJW, P_DPRJB, P_DLN2W, P_DLN2B, P_XQW, P_XQB, P_XKVW, P_XKVB, P_XPW,
    P_XPB, P_DLN3W, P_DLN3B, P_DFC1W, P_DFC1B, P_DFC2W, P_DFC2B, P_DLNFW, P_DLNFB,
    P_IEMB, /* [I, D] with item_emb, else [1, D] unused */
    P_COUNT
};

typedef struct genrec {
    int D, Le, Ld, H, F, T, L, beam, causal, iemb;
    int etok, rpi; /* enc_tokens; encoder rows per history item (L with enc_tokens, else 1) */
    /* multi-task and user tokens: ntask task tokens (0 or 2: seq, direct), nut user-token rows, npre prefix rows
     * leading every encoder input (task, then user), cands candidates of a direct example; their vocabulary ids
     * follow BOS: tok_task + task, tok_user + u mod nut */
    int ntask, nut, npre, cands;
    int32_t tok_task, tok_user;
    float drop;
    float ls; /* label smoothing of the token CE (training only) */
    int cos;    /* cosine scores: logits = (h / |h|) . (W[k] / |W[k]|) / temp */
    float temp;
    float aux; /* weight of the auxiliary next-item loss on the encoder memory (training only) */
    int memin; /* mem_in: decoder inputs + the memory row the target's history ends at */
    float *wn, *wnrm; /* cos: [vocab, D] the normalised token rows the decoder scores against, [vocab] norms */
    int32_t NI, vocab, V; /* vocab = index tokens; V = vocab + 1 (BOS = vocab) */
    crec_index ix;
    crec_trie trie;
    int32_t *tokid; /* [NI * L] vocabulary id of item i's level-l token */
    crec_nn_params p;
    float *pop; /* [NI] training counts */
} genrec;

/* ---- parameters ---- */

static void param_sizes(const genrec *g, size_t *sz) {
    size_t D = (size_t)g->D, F = (size_t)g->F, Le = (size_t)g->Le, Ld = (size_t)g->Ld;
    sz[P_TOK] = (size_t)g->V * D, sz[P_EPOS] = (size_t)(g->T * g->rpi + g->npre) * D, sz[P_DPOS] = (size_t)g->L * D;
    sz[P_ELN1W] = sz[P_ELN1B] = sz[P_ELN2W] = sz[P_ELN2B] = Le * D;
    sz[P_EQKVW] = Le * 3 * D * D, sz[P_EQKVB] = Le * 3 * D;
    sz[P_EPRJW] = Le * D * D, sz[P_EPRJB] = Le * D;
    sz[P_EFC1W] = Le * F * D, sz[P_EFC1B] = Le * F, sz[P_EFC2W] = Le * D * F, sz[P_EFC2B] = Le * D;
    sz[P_ELNFW] = sz[P_ELNFB] = D;
    sz[P_DLN1W] = sz[P_DLN1B] = sz[P_DLN2W] = sz[P_DLN2B] = sz[P_DLN3W] = sz[P_DLN3B] = Ld * D;
    sz[P_DQKVW] = Ld * 3 * D * D, sz[P_DQKVB] = Ld * 3 * D;
    sz[P_DPRJW] = Ld * D * D, sz[P_DPRJB] = Ld * D;
    sz[P_XQW] = Ld * D * D, sz[P_XQB] = Ld * D, sz[P_XKVW] = Ld * 2 * D * D, sz[P_XKVB] = Ld * 2 * D;
    sz[P_XPW] = Ld * D * D, sz[P_XPB] = Ld * D;
    sz[P_DFC1W] = Ld * F * D, sz[P_DFC1B] = Ld * F, sz[P_DFC2W] = Ld * D * F, sz[P_DFC2B] = Ld * D;
    sz[P_DLNFW] = sz[P_DLNFB] = D;
    sz[P_IEMB] = (g->iemb ? (size_t)g->NI : 1) * D;
}

static int is_matrix(int k) {
    return k == P_TOK || k == P_IEMB || k == P_EPOS || k == P_DPOS || k == P_EQKVW || k == P_EPRJW || k == P_EFC1W ||
           k == P_EFC2W || k == P_DQKVW || k == P_DPRJW || k == P_XQW || k == P_XKVW || k == P_XPW || k == P_DFC1W ||
           k == P_DFC2W;
}

static void init_params(genrec *g, crec_rng *r) {
    float *P = g->p.param;
    for (int k = 0; k < g->p.n; k++) {
        float *t = P + g->p.off[k];
        size_t n = g->p.size[k];
        int ln_w = k == P_ELN1W || k == P_ELN2W || k == P_ELNFW || k == P_DLN1W || k == P_DLN2W || k == P_DLN3W ||
                   k == P_DLNFW;
        if (ln_w)
            for (size_t i = 0; i < n; i++) t[i] = 1;
        else if (is_matrix(k)) {
            double sd = k == P_TOK || k == P_IEMB || k == P_EPOS || k == P_DPOS ? 0.1 : 0.5 / sqrt((double)(k == P_EFC2W || k == P_DFC2W ? g->F : g->D));
            for (size_t i = 0; i < n; i++) t[i] = (float)(sd * crec__rng_normal(r));
        }
        /* biases stay 0 */
    }
}

#define PT(blk, k) ((blk) + g->p.off[k])

/* ---- batches ---- */

typedef struct gbatch {
    int Be, Ne, S, Nd;
    int32_t *eoff, *eitem, *epos, *etok; /* etok: [L][Nemax] token ids per level */
    int64_t *eatt_off;
    int32_t *qoff, *kbeg, *klen, *din, *dpos, *dtgt;
    int64_t *datt_off, *xatt_off;
    int Bmax, Nemax, Smax;
} gbatch;

static void batch_free(gbatch *b) {
    free(b->eoff), free(b->eitem), free(b->epos), free(b->etok), free(b->eatt_off), free(b->qoff), free(b->kbeg);
    free(b->klen), free(b->din), free(b->dpos), free(b->dtgt), free(b->datt_off), free(b->xatt_off);
    memset(b, 0, sizeof *b);
}

static int batch_alloc(gbatch *b, int Bmax, int Nemax, int Smax, int L) {
    memset(b, 0, sizeof *b);
    b->Bmax = Bmax, b->Nemax = Nemax, b->Smax = Smax;
    b->eoff = malloc(((size_t)Bmax + 1) * sizeof(int32_t));
    b->eitem = malloc((size_t)Nemax * sizeof(int32_t));
    b->epos = malloc((size_t)Nemax * sizeof(int32_t));
    b->etok = malloc((size_t)Nemax * L * sizeof(int32_t));
    b->eatt_off = malloc(((size_t)Bmax + 1) * sizeof(int64_t));
    b->qoff = malloc(((size_t)Smax + 1) * sizeof(int32_t));
    b->kbeg = malloc((size_t)Smax * sizeof(int32_t));
    b->klen = malloc((size_t)Smax * sizeof(int32_t));
    b->din = malloc((size_t)Smax * L * sizeof(int32_t));
    b->dpos = malloc((size_t)Smax * L * sizeof(int32_t));
    b->dtgt = malloc((size_t)Smax * L * sizeof(int32_t));
    b->datt_off = malloc(((size_t)Smax + 1) * sizeof(int64_t));
    b->xatt_off = malloc(((size_t)Smax + 1) * sizeof(int64_t));
    if (!b->eoff || !b->eitem || !b->epos || !b->etok || !b->eatt_off || !b->qoff || !b->kbeg || !b->klen ||
        !b->din || !b->dpos || !b->dtgt || !b->datt_off || !b->xatt_off) {
        batch_free(b);
        return CREC_ENOMEM;
    }
    return 0;
}

static void batch_begin(gbatch *b) {
    b->Be = b->Ne = b->S = b->Nd = 0;
    b->eoff[0] = 0, b->qoff[0] = 0;
}

/* Appends an encoder sequence: the prefix rows (the task token when multi-task, the user's token when user tokens
 * are on and the user is known) then the items it[0..n), at positions 0, 1, ...; returns its first row. With
 * enc_tokens an item is L rows, one per code token (level l of item t at position np + t L + l), each carrying
 * only its own token (the other levels' slots -1) and, with item_emb, the item's vector. */
static int enc_add(const genrec *g, gbatch *b, int32_t user, int task, const int32_t *it, int n) {
    int base = b->Ne, np = 0;
    int32_t pre[2];
    if (g->ntask) pre[np++] = g->tok_task + task;
    if (g->nut && user >= 0) pre[np++] = g->tok_user + user % g->nut;
    for (int t = 0; t < np; t++) {
        int r = base + t;
        b->eitem[r] = -1; /* no per-item row */
        b->epos[r] = t;
        b->etok[r] = pre[t];
        for (int l = 1; l < g->L; l++) b->etok[(size_t)l * b->Nemax + r] = -1;
    }
    for (int t = 0; t < n; t++) {
        if (g->etok) {
            for (int j = 0; j < g->L; j++) {
                int r = base + np + t * g->L + j;
                b->eitem[r] = it[t];
                b->epos[r] = np + t * g->L + j;
                b->etok[r] = g->tokid[(size_t)it[t] * g->L + j];
                for (int l = 1; l < g->L; l++) b->etok[(size_t)l * b->Nemax + r] = -1;
            }
            continue;
        }
        int r = base + np + t;
        b->eitem[r] = it[t];
        b->epos[r] = np + t;
        for (int l = 0; l < g->L; l++) b->etok[(size_t)l * b->Nemax + r] = g->tokid[(size_t)it[t] * g->L + l];
    }
    b->Ne += np + n * g->rpi;
    b->eoff[++b->Be] = b->Ne;
    return base;
}

/* Appends a decoder sequence for target item tgt (tgt < 0: inputs only, from code[] when given, else BOS only) with
 * memory rows [kb, kb + kl). */
static void dec_add(const genrec *g, gbatch *b, int32_t tgt, int kb, int kl) {
    int L = g->L, s = b->S, r0 = b->Nd;
    for (int j = 0; j < L; j++) {
        b->din[r0 + j] = j == 0 ? g->vocab : g->tokid[(size_t)tgt * L + j - 1];
        b->dpos[r0 + j] = j;
        b->dtgt[r0 + j] = g->ix.codes[(size_t)tgt * L + j];
    }
    b->kbeg[s] = kb, b->klen[s] = kl;
    b->Nd += L;
    b->qoff[++b->S] = b->Nd;
}

/* Prefix rows enc_add puts before a known user's items. */
static int n_prefix(const genrec *g, int32_t user) { return (g->ntask > 0) + (g->nut > 0 && user >= 0); }

/* A training user's rows (the next-item task): window w = the last min(n, T + 1) items; targets w[1..]. */
static void batch_user(const genrec *g, gbatch *b, int32_t user, const int32_t *row, int n) {
    int nw = n < g->T + 1 ? n : g->T + 1, np = n_prefix(g, user);
    const int32_t *w = row + n - nw;
    if (g->causal) {
        int base = enc_add(g, b, user, 0, w, nw - 1);
        for (int t = 0; t + 1 < nw; t++) dec_add(g, b, w[t + 1], base, np + (t + 1) * g->rpi);
    } else {
        for (int t = 0; t + 1 < nw; t++) {
            int base = enc_add(g, b, user, 0, w, t + 1);
            dec_add(g, b, w[t + 1], base, np + (t + 1) * g->rpi);
        }
    }
}

/* A direct-recommendation example (P5's task family 2, the candidate-list form): one of the user's training items
 * at a random place among cands - 1 uniform negatives the user never had (mark[] = the user's items), read after the
 * direct task token and the user's token; the target is that item. */
static void batch_direct(const genrec *g, gbatch *b, int32_t user, const int32_t *row, int n, const uint8_t *mark,
                         int32_t *cand, crec_rng *r) {
    int C = g->cands;
    int32_t pos = row[crec__rng_below(r, (uint64_t)n)];
    int at = (int)crec__rng_below(r, (uint64_t)C);
    for (int c = 0; c < C; c++) {
        if (c == at) {
            cand[c] = pos;
            continue;
        }
        int32_t x;
        int dup, tries = 0;
        do { /* a catalogue smaller than the candidates list may repeat negatives after a few tries */
            x = (int32_t)crec__rng_below(r, (uint64_t)g->NI);
            dup = mark[x] || x == pos;
            for (int q = 0; q < c && !dup; q++) dup = cand[q] == x;
        } while (dup && ++tries < 50);
        cand[c] = x;
    }
    int base = enc_add(g, b, user, 1, cand, C);
    dec_add(g, b, pos, base, n_prefix(g, user) + C * g->rpi);
}

static void batch_offsets(const genrec *g, gbatch *b) {
    crec__nn_attention_offsets(b->eatt_off, b->eoff, b->Be, g->H);
    crec__nn_attention_offsets(b->datt_off, b->qoff, b->S, g->H);
    crec__nn_xattn_offsets(b->xatt_off, b->qoff, b->klen, b->S, g->H);
}

/* ---- activations: one arena, tensors laid out by the batch's sizes ---- */

typedef struct acts {
    /* encoder, per layer l (stride: rows * width) */
    float *ex;   /* [Le+1][Ne, D] layer inputs; ex[Le] the last output */
    float *eln1, *eln1m, *eln1r, *eqkv, *eatty, *eatt, *eprj, *er1, *eln2, *eln2m, *eln2r, *efc1, *efa, *efc2;
    float *M, *mm, *mr; /* [Ne, D] memory, LN stats */
    /* decoder */
    float *dx;
    float *dln1, *dln1m, *dln1r, *dqkv, *datty, *datt, *dprj, *dr1, *dln2, *dln2m, *dln2r, *xq, *xkv, *xatt, *xo,
        *xp, *dr2, *dln3, *dln3m, *dln3r, *dfc1, *dfa, *dfc2;
    float *h, *hm, *hr;
    int64_t Ae, Ad, Ax; /* attention cache sizes per layer */
} acts;

static size_t acts_layout(const genrec *g, int Ne, int Nd, int64_t Ae, int64_t Ad, int64_t Ax, float *base,
                          acts *a) {
    size_t off = 0;
    size_t D = (size_t)g->D, F = (size_t)g->F, Le = (size_t)g->Le, Ld = (size_t)g->Ld;
#define TK(field, n)                                                                                                 \
    do {                                                                                                               \
        if (base) a->field = base + off;                                                                               \
        off += ((size_t)(n) + 15) & ~(size_t)15;                                                                       \
    } while (0)
    TK(ex, (Le + 1) * Ne * D);
    TK(eln1, Le * Ne * D); TK(eln1m, Le * Ne); TK(eln1r, Le * Ne); TK(eqkv, Le * Ne * 3 * D);
    TK(eatty, Le * Ne * D); TK(eatt, Le * (size_t)Ae); TK(eprj, Le * Ne * D); TK(er1, Le * Ne * D);
    TK(eln2, Le * Ne * D); TK(eln2m, Le * Ne); TK(eln2r, Le * Ne); TK(efc1, Le * Ne * F); TK(efa, Le * Ne * F);
    TK(efc2, Le * Ne * D); TK(M, Ne * D); TK(mm, Ne); TK(mr, Ne);
    TK(dx, (Ld + 1) * Nd * D);
    TK(dln1, Ld * Nd * D); TK(dln1m, Ld * Nd); TK(dln1r, Ld * Nd); TK(dqkv, Ld * Nd * 3 * D);
    TK(datty, Ld * Nd * D); TK(datt, Ld * (size_t)Ad); TK(dprj, Ld * Nd * D); TK(dr1, Ld * Nd * D);
    TK(dln2, Ld * Nd * D); TK(dln2m, Ld * Nd); TK(dln2r, Ld * Nd); TK(xq, Ld * Nd * D); TK(xkv, Ld * Ne * 2 * D);
    TK(xatt, Ld * (size_t)Ax); TK(xo, Ld * Nd * D); TK(xp, Ld * Nd * D); TK(dr2, Ld * Nd * D);
    TK(dln3, Ld * Nd * D); TK(dln3m, Ld * Nd); TK(dln3r, Ld * Nd); TK(dfc1, Ld * Nd * F); TK(dfa, Ld * Nd * F);
    TK(dfc2, Ld * Nd * D); TK(h, Nd * D); TK(hm, Nd); TK(hr, Nd);
#undef TK
    if (base) a->Ae = Ae, a->Ad = Ad, a->Ax = Ax;
    return off;
}

/* dropout seed of site k of step seed (0 = off) */
static uint64_t dseed(uint64_t seed, int k) { return seed ? crec__nn_seed(seed, 0, (uint64_t)k) | 1 : 0; }

/* ---- forward ---- */

static void encoder_forward(const genrec *g, const float *P, acts *a, const gbatch *b, uint64_t seed) {
    int D = g->D, F = g->F, Ne = b->Ne;
    size_t ND = (size_t)Ne * D;
    float p = seed ? g->drop : 0;
    float *x0 = a->ex;
    for (int l = 0; l < g->L; l++)
        crec__nn_embedding_forward(x0, b->etok + (size_t)l * b->Nemax, PT(P, P_TOK), Ne, D, 1, l > 0);
    crec__nn_embedding_forward(x0, b->epos, PT(P, P_EPOS), Ne, D, 1, 1);
    if (g->iemb) crec__nn_embedding_forward(x0, b->eitem, PT(P, P_IEMB), Ne, D, 1, 1);
    crec__nn_dropout_forward(x0, x0, ND, p, dseed(seed, 1));
    for (int l = 0; l < g->Le; l++) {
        float *x = a->ex + l * ND, *y = a->ex + (l + 1) * ND;
        float *ln1 = a->eln1 + l * ND, *qkv = a->eqkv + l * 3 * ND, *atty = a->eatty + l * ND;
        float *att = a->eatt + l * a->Ae, *prj = a->eprj + l * ND, *r1 = a->er1 + l * ND, *ln2 = a->eln2 + l * ND;
        float *fc1 = a->efc1 + (size_t)l * Ne * F, *fa = a->efa + (size_t)l * Ne * F, *fc2 = a->efc2 + l * ND;
        crec__nn_layernorm_forward(ln1, a->eln1m + (size_t)l * Ne, a->eln1r + (size_t)l * Ne, x,
                                   PT(P, P_ELN1W) + l * D, PT(P, P_ELN1B) + l * D, Ne, D);
        crec__nn_linear_forward(qkv, ln1, PT(P, P_EQKVW) + (size_t)l * 3 * D * D, PT(P, P_EQKVB) + l * 3 * D, Ne, D,
                                3 * D);
        crec__nn_attention_forward(atty, att, qkv, b->eoff, b->eatt_off, b->Be, D, g->H, g->causal, NULL, 0, 0);
        crec__nn_linear_forward(prj, atty, PT(P, P_EPRJW) + (size_t)l * D * D, PT(P, P_EPRJB) + l * D, Ne, D, D);
        crec__nn_dropout_forward(prj, prj, ND, p, dseed(seed, 10 + 4 * l));
        crec__nn_residual_forward(r1, x, prj, ND);
        crec__nn_layernorm_forward(ln2, a->eln2m + (size_t)l * Ne, a->eln2r + (size_t)l * Ne, r1,
                                   PT(P, P_ELN2W) + l * D, PT(P, P_ELN2B) + l * D, Ne, D);
        crec__nn_linear_forward(fc1, ln2, PT(P, P_EFC1W) + (size_t)l * F * D, PT(P, P_EFC1B) + l * F, Ne, D, F);
        crec__nn_act_forward(fa, fc1, (size_t)Ne * F, CREC_NN_GELU);
        crec__nn_linear_forward(fc2, fa, PT(P, P_EFC2W) + (size_t)l * D * F, PT(P, P_EFC2B) + l * D, Ne, F, D);
        crec__nn_dropout_forward(fc2, fc2, ND, p, dseed(seed, 11 + 4 * l));
        crec__nn_residual_forward(y, r1, fc2, ND);
    }
    crec__nn_layernorm_forward(a->M, a->mm, a->mr, a->ex + g->Le * ND, PT(P, P_ELNFW), PT(P, P_ELNFB), Ne, D);
}

/* mem_in: the decoder rows of target s add (forward) the memory row its history ends at, M[kbeg + klen - 1], or
 * (backward) their gradient goes into that row of dM. */
static void memin_forward(float *x, const float *M, const gbatch *b, int D) {
    for (int s = 0; s < b->S; s++) {
        const float *m = M + (size_t)(b->kbeg[s] + b->klen[s] - 1) * D;
        for (int r = b->qoff[s]; r < b->qoff[s + 1]; r++)
            for (int i = 0; i < D; i++) x[(size_t)r * D + i] += m[i];
    }
}
static void memin_backward(float *dM, const float *dx, const gbatch *b, int D) {
    for (int s = 0; s < b->S; s++) {
        float *m = dM + (size_t)(b->kbeg[s] + b->klen[s] - 1) * D;
        for (int r = b->qoff[s]; r < b->qoff[s + 1]; r++)
            for (int i = 0; i < D; i++) m[i] += dx[(size_t)r * D + i];
    }
}

static void decoder_forward(const genrec *g, const float *P, acts *a, const gbatch *b, uint64_t seed) {
    int D = g->D, F = g->F, Nd = b->Nd, Ne = b->Ne;
    size_t ND = (size_t)Nd * D;
    float p = seed ? g->drop : 0;
    float *x0 = a->dx;
    crec__nn_embedding_forward(x0, b->din, PT(P, P_TOK), Nd, D, 1, 0);
    crec__nn_embedding_forward(x0, b->dpos, PT(P, P_DPOS), Nd, D, 1, 1);
    if (g->memin) memin_forward(x0, a->M, b, D);
    crec__nn_dropout_forward(x0, x0, ND, p, dseed(seed, 2));
    for (int l = 0; l < g->Ld; l++) {
        float *x = a->dx + l * ND, *y = a->dx + (l + 1) * ND;
        float *ln1 = a->dln1 + l * ND, *qkv = a->dqkv + l * 3 * ND, *atty = a->datty + l * ND;
        float *att = a->datt + l * a->Ad, *prj = a->dprj + l * ND, *r1 = a->dr1 + l * ND, *ln2 = a->dln2 + l * ND;
        float *xq = a->xq + l * ND, *xkv = a->xkv + (size_t)l * Ne * 2 * D, *xatt = a->xatt + l * a->Ax;
        float *xo = a->xo + l * ND, *xp = a->xp + l * ND, *r2 = a->dr2 + l * ND, *ln3 = a->dln3 + l * ND;
        float *fc1 = a->dfc1 + (size_t)l * Nd * F, *fa = a->dfa + (size_t)l * Nd * F, *fc2 = a->dfc2 + l * ND;
        crec__nn_layernorm_forward(ln1, a->dln1m + (size_t)l * Nd, a->dln1r + (size_t)l * Nd, x,
                                   PT(P, P_DLN1W) + l * D, PT(P, P_DLN1B) + l * D, Nd, D);
        crec__nn_linear_forward(qkv, ln1, PT(P, P_DQKVW) + (size_t)l * 3 * D * D, PT(P, P_DQKVB) + l * 3 * D, Nd, D,
                                3 * D);
        crec__nn_attention_forward(atty, att, qkv, b->qoff, b->datt_off, b->S, D, g->H, 1, NULL, 0, 0);
        crec__nn_linear_forward(prj, atty, PT(P, P_DPRJW) + (size_t)l * D * D, PT(P, P_DPRJB) + l * D, Nd, D, D);
        crec__nn_dropout_forward(prj, prj, ND, p, dseed(seed, 100 + 4 * l));
        crec__nn_residual_forward(r1, x, prj, ND);
        crec__nn_layernorm_forward(ln2, a->dln2m + (size_t)l * Nd, a->dln2r + (size_t)l * Nd, r1,
                                   PT(P, P_DLN2W) + l * D, PT(P, P_DLN2B) + l * D, Nd, D);
        crec__nn_linear_forward(xq, ln2, PT(P, P_XQW) + (size_t)l * D * D, PT(P, P_XQB) + l * D, Nd, D, D);
        crec__nn_linear_forward(xkv, a->M, PT(P, P_XKVW) + (size_t)l * 2 * D * D, PT(P, P_XKVB) + l * 2 * D, Ne, D,
                                2 * D);
        crec__nn_xattn_forward(xo, xatt, xq, xkv, b->qoff, b->kbeg, b->klen, b->xatt_off, b->S, D, g->H);
        crec__nn_linear_forward(xp, xo, PT(P, P_XPW) + (size_t)l * D * D, PT(P, P_XPB) + l * D, Nd, D, D);
        crec__nn_dropout_forward(xp, xp, ND, p, dseed(seed, 101 + 4 * l));
        crec__nn_residual_forward(r2, r1, xp, ND);
        crec__nn_layernorm_forward(ln3, a->dln3m + (size_t)l * Nd, a->dln3r + (size_t)l * Nd, r2,
                                   PT(P, P_DLN3W) + l * D, PT(P, P_DLN3B) + l * D, Nd, D);
        crec__nn_linear_forward(fc1, ln3, PT(P, P_DFC1W) + (size_t)l * F * D, PT(P, P_DFC1B) + l * F, Nd, D, F);
        crec__nn_act_forward(fa, fc1, (size_t)Nd * F, CREC_NN_GELU);
        crec__nn_linear_forward(fc2, fa, PT(P, P_DFC2W) + (size_t)l * D * F, PT(P, P_DFC2B) + l * D, Nd, F, D);
        crec__nn_dropout_forward(fc2, fc2, ND, p, dseed(seed, 102 + 4 * l));
        crec__nn_residual_forward(y, r2, fc2, ND);
    }
    crec__nn_layernorm_forward(a->h, a->hm, a->hr, a->dx + g->Ld * ND, PT(P, P_DLNFW), PT(P, P_DLNFB), Nd, D);
}

/* ---- loss: level j of every target, softmax over level j's tokens (tied output table) ---- */

typedef struct lscratch {
    float *hj, *lg, *dhj; /* [RB, D], [RB, Kmax], [RB, D] */
    int32_t *xi, *tg;     /* [RB] rows and targets of one block */
    int RB;
    float *wn, *wnrm, *dwn, *hnrm, *dhn; /* cos: [vocab, D], [vocab], [vocab, D], [RB], [RB, D] */
} lscratch;

#define LOSS_RB 256

static int lscratch_alloc(const genrec *g, lscratch *s) {
    int32_t kmax = 1;
    for (int l = 0; l < g->L; l++) kmax = g->ix.K[l] > kmax ? g->ix.K[l] : kmax;
    s->RB = LOSS_RB;
    s->hj = malloc((size_t)LOSS_RB * g->D * sizeof(float));
    s->dhj = malloc((size_t)LOSS_RB * g->D * sizeof(float));
    s->lg = malloc((size_t)LOSS_RB * kmax * sizeof(float));
    s->xi = malloc(LOSS_RB * sizeof(int32_t)), s->tg = malloc(LOSS_RB * sizeof(int32_t));
    s->wn = s->wnrm = s->dwn = s->hnrm = s->dhn = NULL;
    if (g->cos) {
        size_t vd = (size_t)g->vocab * g->D;
        s->wn = malloc(vd * sizeof(float)), s->dwn = malloc(vd * sizeof(float));
        s->wnrm = malloc((size_t)g->vocab * sizeof(float));
        s->hnrm = malloc(LOSS_RB * sizeof(float)), s->dhn = malloc((size_t)LOSS_RB * g->D * sizeof(float));
        if (!s->wn || !s->dwn || !s->wnrm || !s->hnrm || !s->dhn) return CREC_ENOMEM;
    }
    return s->hj && s->dhj && s->lg && s->xi && s->tg ? 0 : CREC_ENOMEM;
}
static void lscratch_free(lscratch *s) {
    free(s->xi), free(s->tg);
    free(s->hj), free(s->lg), free(s->dhj), free(s->wn), free(s->wnrm), free(s->dwn), free(s->hnrm), free(s->dhn);
}

/* Summed CE of n <= RB rows against one level's K token rows Wj: row r is X + xi[r] D, its target token tg[r]. With
 * label smoothing ls, each row's term is (1 - ls) (lse - z_t) + ls (lse - mean_k z_k) = lse - (1 - ls) z_t -
 * ls mean_k z_k, the CE against the target (1 - ls) one-hot + ls / K over the level's K tokens; its gradient wrt
 * z_k is p_k - (1 - ls)[k = t] - ls / K. cosm: the rows are L2-normalised and scaled by 1 / temp first (Wj then
 * holds normalised rows). With dX, adds gscale * the gradients into dX (same rows) and, with dWj, into dWj. */
static double ce_rows(const genrec *g, const float *Wj, float *dWj, int32_t K, const float *X, float *dX,
                      const int32_t *xi, const int32_t *tg, int n, double ls, int cosm, lscratch *s, float gscale) {
    int D = g->D;
    double tot = 0;
    for (int r = 0; r < n; r++) memcpy(s->hj + (size_t)r * D, X + (size_t)xi[r] * D, D * sizeof(float));
    if (cosm) crec__nn_cos_rows(s->hj, s->hnrm, s->hj, n, D, 1.0f / g->temp);
    crec__nn_gemm(0, 1, n, K, D, 1, s->hj, D, Wj, D, 0, s->lg, K);
    for (int r = 0; r < n; r++) {
        float *lg = s->lg + (size_t)r * K;
        int32_t t = tg[r];
        float mx = lg[0];
        for (int32_t k = 1; k < K; k++) mx = lg[k] > mx ? lg[k] : mx;
        double sum = 0;
        for (int32_t k = 0; k < K; k++) sum += exp((double)lg[k] - mx);
        double lse = mx + log(sum);
        if (ls > 0) {
            double zs = 0;
            for (int32_t k = 0; k < K; k++) zs += lg[k];
            tot += lse - (1 - ls) * lg[t] - ls * zs / K;
        } else
            tot += lse - lg[t];
        if (dX) {
            float on = (float)(1 - ls), un = (float)(ls / K);
            for (int32_t k = 0; k < K; k++) {
                float pk = (float)exp((double)lg[k] - lse);
                lg[k] = gscale * (pk - un - (k == t ? on : 0.0f));
            }
        }
    }
    if (!dX) return tot;
    crec__nn_gemm(0, 0, n, D, K, 1, s->lg, K, Wj, D, 0, cosm ? s->dhn : s->dhj, D);
    if (cosm) { /* back through the row normalisation */
        memset(s->dhj, 0, (size_t)n * D * sizeof(float));
        crec__nn_cos_rows_back(s->dhj, s->dhn, s->hj, s->hnrm, n, D, 1.0f / g->temp, 0);
    }
    for (int r = 0; r < n; r++) {
        float *d = dX + (size_t)xi[r] * D;
        for (int i = 0; i < D; i++) d[i] += s->dhj[(size_t)r * D + i];
    }
    if (dWj) crec__nn_gemm(1, 0, K, D, n, 1, s->lg, K, s->hj, D, 1, dWj, D);
    return tot;
}

/* Summed CE of the S targets' L levels (decoder state h row s L + j scores level j's tokens); with dh / dW, adds
 * gscale * gradients. */
static double loss_ce(const genrec *g, const float *P, float *dTOK, const float *h, float *dh, const gbatch *b,
                      lscratch *s, float gscale) {
    int D = g->D, L = g->L;
    double tot = 0;
    /* cos: the rows scored against are the normalised token rows (their gradient collected in dwn, taken back
     * through the normalisation at the end), and each decoder row is normalised and scaled by 1 / temp */
    const float *W = PT(P, P_TOK);
    float *dW = dTOK;
    if (g->cos) {
        crec__nn_cos_rows(s->wn, s->wnrm, W, g->vocab, D, 1.0f);
        W = s->wn;
        if (dTOK) memset(s->dwn, 0, (size_t)g->vocab * D * sizeof(float)), dW = s->dwn;
    }
    for (int j = 0; j < L; j++) {
        const float *Wj = W + (size_t)g->ix.tok_off[j] * D;
        float *dWj = dW ? dW + (size_t)g->ix.tok_off[j] * D : NULL;
        for (int s0 = 0; s0 < b->S; s0 += s->RB) {
            int nb = b->S - s0 < s->RB ? b->S - s0 : s->RB;
            for (int r = 0; r < nb; r++) s->xi[r] = (s0 + r) * L + j, s->tg[r] = b->dtgt[(size_t)(s0 + r) * L + j];
            tot += ce_rows(g, Wj, dWj, g->ix.K[j], h, dh, s->xi, s->tg, nb, g->ls, g->cos, s, gscale);
        }
    }
    if (g->cos && dTOK) crec__nn_cos_rows_back(dTOK, s->dwn, s->wn, s->wnrm, g->vocab, D, 1.0f, 0);
    return tot;
}

/* The auxiliary next-item loss (aux > 0): the memory row each target's decoder reads last (the encoder's state after
 * the target's history; with a causal encoder one pass serves every target, as SASRec's per-position loss) scores
 * the last level's tokens by dot products, softmax CE against the target's last-level token - with an index whose
 * last level is the item's own token, SASRec's full-catalogue cross-entropy on the encoder, sharing the decoder's
 * output rows. Summed over the S targets; with dM / dTOK, adds gscale * gradients. */
static double loss_aux(const genrec *g, const float *P, float *dTOK, const float *M, float *dM, const gbatch *b,
                       lscratch *s, float gscale) {
    int D = g->D, L = g->L, j = L - 1;
    const float *Wj = PT(P, P_TOK) + (size_t)g->ix.tok_off[j] * D;
    float *dWj = dTOK ? dTOK + (size_t)g->ix.tok_off[j] * D : NULL;
    double tot = 0;
    for (int s0 = 0; s0 < b->S; s0 += s->RB) {
        int nb = b->S - s0 < s->RB ? b->S - s0 : s->RB;
        for (int r = 0; r < nb; r++) {
            int q = s0 + r;
            s->xi[r] = b->kbeg[q] + b->klen[q] - 1, s->tg[r] = b->dtgt[(size_t)q * L + j];
        }
        tot += ce_rows(g, Wj, dWj, g->ix.K[j], M, dM, s->xi, s->tg, nb, 0, 0, s, gscale);
    }
    return tot;
}

/* cos: g->wn = the normalised token rows of the current parameters (what decoding scores against). */
static void cos_table(genrec *g) {
    if (g->cos) crec__nn_cos_rows(g->wn, g->wnrm, g->p.param + g->p.off[P_TOK], g->vocab, g->D, 1.0f);
}

/* ---- backward ---- */

typedef struct gscr {
    float *ga, *gb, *gc, *gd; /* [max(Ne, Nd) * max(3D, F, 2D)] each */
    float *dM;                /* [Ne, D] */
} gscr;

static void zero(float *x, size_t n) { memset(x, 0, n * sizeof *x); }

/* Tensor ids of one pre-LN sublayer: its layer norm, its two linear maps (FFN: fc1, fc2; attention: qkv, prj). */
typedef struct sub_ids { int lnw, lnb, w1, b1, w2, b2; } sub_ids;

/* Backward of out = in + drop(fc2(gelu(fc1(LN(in))))) over N rows at layer l: gout = gin + the branch's gradient
 * into `in`; weight gradients added into G. ln, lnm, lnr: the LN's output and statistics; fc1 / fa: pre- and
 * post-activation. */
static void ffn_backward(const genrec *g, const float *P, float *G, sub_ids id, int l, int N, const float *gin,
                         float *gout, const float *in, const float *ln, const float *lnm, const float *lnr,
                         const float *fc1, const float *fa, float p, uint64_t dseed_, gscr *s) {
    int D = g->D, F = g->F;
    size_t ND = (size_t)N * D;
    memcpy(gout, gin, ND * sizeof(float));
    float *dfc2 = s->ga, *dfa = s->gb, *dfc1 = s->gc, *dln = s->ga;
    zero(dfc2, ND);
    crec__nn_dropout_backward(dfc2, gin, ND, p, dseed_);
    zero(dfa, (size_t)N * F);
    crec__nn_linear_backward(dfa, PT(G, id.w2) + (size_t)l * D * F, PT(G, id.b2) + l * D, dfc2, fa,
                             PT(P, id.w2) + (size_t)l * D * F, N, F, D);
    zero(dfc1, (size_t)N * F);
    crec__nn_act_backward(dfc1, dfa, fc1, (size_t)N * F, CREC_NN_GELU);
    zero(dln, ND);
    crec__nn_linear_backward(dln, PT(G, id.w1) + (size_t)l * F * D, PT(G, id.b1) + l * F, dfc1, ln,
                             PT(P, id.w1) + (size_t)l * F * D, N, D, F);
    crec__nn_layernorm_backward(gout, PT(G, id.lnw) + l * D, PT(G, id.lnb) + l * D, dln, in, PT(P, id.lnw) + l * D,
                                lnm, lnr, N, D);
}

/* Backward of out = in + drop(prj(attn(qkv(LN(in))))) over N rows in nseq sequences (off, att_off) at layer l:
 * gout = gin + the branch's gradient into `in`. */
static void attn_backward(const genrec *g, const float *P, float *G, sub_ids id, int l, int N, const float *gin,
                          float *gout, const float *in, const float *ln, const float *lnm, const float *lnr,
                          const float *qkv, const float *atty, const float *att, const int32_t *off,
                          const int64_t *att_off, int nseq, int causal, float p, uint64_t dseed_, gscr *s) {
    int D = g->D;
    size_t ND = (size_t)N * D;
    memcpy(gout, gin, ND * sizeof(float));
    float *dprj = s->ga, *datty = s->gb, *dqkv = s->gc;
    zero(dprj, ND);
    crec__nn_dropout_backward(dprj, gin, ND, p, dseed_);
    zero(datty, ND);
    crec__nn_linear_backward(datty, PT(G, id.w2) + (size_t)l * D * D, PT(G, id.b2) + l * D, dprj, atty,
                             PT(P, id.w2) + (size_t)l * D * D, N, D, D);
    zero(dqkv, 3 * ND);
    crec__nn_attention_backward(dqkv, datty, qkv, att, off, att_off, nseq, D, g->H, causal, NULL, 0, 0);
    float *dl1 = s->ga;
    zero(dl1, ND);
    crec__nn_linear_backward(dl1, PT(G, id.w1) + (size_t)l * 3 * D * D, PT(G, id.b1) + l * 3 * D, dqkv, ln,
                             PT(P, id.w1) + (size_t)l * 3 * D * D, N, D, 3 * D);
    crec__nn_layernorm_backward(gout, PT(G, id.lnw) + l * D, PT(G, id.lnb) + l * D, dl1, in, PT(P, id.lnw) + l * D,
                                lnm, lnr, N, D);
}

static void decoder_backward(const genrec *g, const float *P, float *G, const acts *a, const gbatch *b, uint64_t seed,
                             float *dy /* [Nd, D] grad of the final states, overwritten */, gscr *s) {
    int D = g->D, F = g->F, Nd = b->Nd, Ne = b->Ne;
    size_t ND = (size_t)Nd * D;
    float p = seed ? g->drop : 0;
    /* final LN: dy (grad of h) -> grad of x_Ld in s->gd */
    float *gx = s->gd;
    zero(gx, ND);
    crec__nn_layernorm_backward(gx, PT(G, P_DLNFW), PT(G, P_DLNFB), dy, a->dx + g->Ld * ND, PT(P, P_DLNFW), a->hm,
                                a->hr, Nd, D);
    for (int l = g->Ld - 1; l >= 0; l--) {
        const float *x = a->dx + l * ND;
        const float *ln1 = a->dln1 + l * ND, *qkv = a->dqkv + l * 3 * ND, *atty = a->datty + l * ND;
        const float *att = a->datt + l * a->Ad, *r1 = a->dr1 + l * ND, *ln2 = a->dln2 + l * ND;
        const float *xq = a->xq + l * ND, *xkv = a->xkv + (size_t)l * Ne * 2 * D, *xatt = a->xatt + l * a->Ax;
        const float *xo = a->xo + l * ND, *r2 = a->dr2 + l * ND, *ln3 = a->dln3 + l * ND;
        const float *fc1 = a->dfc1 + (size_t)l * Nd * F, *fa = a->dfa + (size_t)l * Nd * F;
        /* y = r2 + drop(fc2(act(fc1(ln3(r2))))) ; grad of y in gx -> grad of r2 in d2 */
        float *d2 = dy; /* grad of r2 accumulates here */
        ffn_backward(g, P, G, (sub_ids){P_DLN3W, P_DLN3B, P_DFC1W, P_DFC1B, P_DFC2W, P_DFC2B}, l, Nd, gx, d2, r2, ln3,
                     a->dln3m + (size_t)l * Nd, a->dln3r + (size_t)l * Nd, fc1, fa, p, dseed(seed, 102 + 4 * l), s);
        /* r2 = r1 + drop(xp(xattn(xq(ln2(r1)), xkv(M)))) ; grad of r2 in d2 -> grad of r1 in gx */
        memcpy(gx, d2, ND * sizeof(float));
        float *dxp = s->ga, *dxo = s->gb, *dxq = s->gc;
        zero(dxp, ND);
        crec__nn_dropout_backward(dxp, d2, ND, p, dseed(seed, 101 + 4 * l));
        zero(dxo, ND);
        crec__nn_linear_backward(dxo, PT(G, P_XPW) + (size_t)l * D * D, PT(G, P_XPB) + l * D, dxp, xo,
                                 PT(P, P_XPW) + (size_t)l * D * D, Nd, D, D);
        zero(dxq, ND);
        float *dkv = s->ga; /* dxp is spent */
        zero(dkv, (size_t)Ne * 2 * D);
        crec__nn_xattn_backward(dxq, dkv, dxo, xq, xkv, xatt, b->qoff, b->kbeg, b->klen, b->xatt_off, b->S, D, g->H);
        crec__nn_linear_backward(s->dM, PT(G, P_XKVW) + (size_t)l * 2 * D * D, PT(G, P_XKVB) + l * 2 * D, dkv, a->M,
                                 PT(P, P_XKVW) + (size_t)l * 2 * D * D, Ne, D, 2 * D);
        float *dln2 = s->gb;
        zero(dln2, ND);
        crec__nn_linear_backward(dln2, PT(G, P_XQW) + (size_t)l * D * D, PT(G, P_XQB) + l * D, dxq, ln2,
                                 PT(P, P_XQW) + (size_t)l * D * D, Nd, D, D);
        crec__nn_layernorm_backward(gx, PT(G, P_DLN2W) + l * D, PT(G, P_DLN2B) + l * D, dln2, r1,
                                    PT(P, P_DLN2W) + l * D, a->dln2m + (size_t)l * Nd, a->dln2r + (size_t)l * Nd, Nd, D);
        /* r1 = x + drop(prj(attn(qkv(ln1(x))))) ; grad of r1 in gx -> grad of x in d2 then gx */
        attn_backward(g, P, G, (sub_ids){P_DLN1W, P_DLN1B, P_DQKVW, P_DQKVB, P_DPRJW, P_DPRJB}, l, Nd, gx, d2, x, ln1,
                      a->dln1m + (size_t)l * Nd, a->dln1r + (size_t)l * Nd, qkv, atty, att, b->qoff, b->datt_off, b->S,
                      1, p, dseed(seed, 100 + 4 * l), s);
        memcpy(gx, d2, ND * sizeof(float));
    }
    /* embeddings: x0 = drop(TOK[din] + DPOS[dpos] (+ M[the history's last row] with mem_in)) */
    float *de = s->ga;
    zero(de, ND);
    crec__nn_dropout_backward(de, gx, ND, p, dseed(seed, 2));
    crec__nn_embedding_backward(PT(G, P_TOK), de, b->din, Nd, D, 1);
    crec__nn_embedding_backward(PT(G, P_DPOS), de, b->dpos, Nd, D, 1);
    if (g->memin) memin_backward(s->dM, de, b, D);
}

static void encoder_backward(const genrec *g, const float *P, float *G, const acts *a, const gbatch *b, uint64_t seed,
                             gscr *s, float *gx /* [Ne, D] scratch */, float *d2 /* [Ne, D] scratch */) {
    int D = g->D, F = g->F, Ne = b->Ne;
    size_t ND = (size_t)Ne * D;
    float p = seed ? g->drop : 0;
    zero(gx, ND);
    crec__nn_layernorm_backward(gx, PT(G, P_ELNFW), PT(G, P_ELNFB), s->dM, a->ex + g->Le * ND, PT(P, P_ELNFW), a->mm,
                                a->mr, Ne, D);
    for (int l = g->Le - 1; l >= 0; l--) {
        const float *x = a->ex + l * ND;
        const float *ln1 = a->eln1 + l * ND, *qkv = a->eqkv + l * 3 * ND, *atty = a->eatty + l * ND;
        const float *att = a->eatt + l * a->Ae, *r1 = a->er1 + l * ND, *ln2 = a->eln2 + l * ND;
        const float *fc1 = a->efc1 + (size_t)l * Ne * F, *fa = a->efa + (size_t)l * Ne * F;
        ffn_backward(g, P, G, (sub_ids){P_ELN2W, P_ELN2B, P_EFC1W, P_EFC1B, P_EFC2W, P_EFC2B}, l, Ne, gx, d2, r1, ln2,
                     a->eln2m + (size_t)l * Ne, a->eln2r + (size_t)l * Ne, fc1, fa, p, dseed(seed, 11 + 4 * l), s);
        attn_backward(g, P, G, (sub_ids){P_ELN1W, P_ELN1B, P_EQKVW, P_EQKVB, P_EPRJW, P_EPRJB}, l, Ne, d2, gx, x, ln1,
                      a->eln1m + (size_t)l * Ne, a->eln1r + (size_t)l * Ne, qkv, atty, att, b->eoff, b->eatt_off, b->Be,
                      g->causal, p, dseed(seed, 10 + 4 * l), s);
    }
    float *de = s->ga;
    zero(de, ND);
    crec__nn_dropout_backward(de, gx, ND, p, dseed(seed, 1));
    for (int l = 0; l < g->L; l++)
        crec__nn_embedding_backward(PT(G, P_TOK), de, b->etok + (size_t)l * b->Nemax, Ne, D, 1);
    crec__nn_embedding_backward(PT(G, P_EPOS), de, b->epos, Ne, D, 1);
    if (g->iemb) crec__nn_embedding_backward(PT(G, P_IEMB), de, b->eitem, Ne, D, 1);
}

/* ---- one training / evaluation context: batch, activations, scratch ---- */

typedef struct gctx {
    gbatch b;
    float *abase;
    size_t afloats;
    lscratch ls;
    gscr s;
    float *dh, *egx, *ed2;
    int Nemax, Ndmax;
    double auxsum; /* the last run_batch's summed auxiliary CE */
} gctx;

static void gctx_free(gctx *c) {
    batch_free(&c->b);
    free(c->abase);
    lscratch_free(&c->ls);
    free(c->s.ga), free(c->s.gb), free(c->s.gc), free(c->s.gd), free(c->s.dM);
    free(c->dh), free(c->egx), free(c->ed2);
    memset(c, 0, sizeof *c);
}

/* For batches of up to Bmax users (training windows) or Smax decoder sequences over one encoder sequence. */
static int gctx_alloc(const genrec *g, gctx *c, int Bseq, int Nemax, int Smax, int train) {
    memset(c, 0, sizeof *c);
    int Ndmax = Smax * g->L;
    c->Nemax = Nemax, c->Ndmax = Ndmax;
    int rc = batch_alloc(&c->b, Bseq, Nemax, Smax, g->L);
    if (rc) return rc;
    /* attention caches: bounded by the largest sequences */
    int Tr = g->T * g->rpi + g->npre; /* rows of the longest encoder sequence */
    int64_t Ae = (int64_t)g->H * Nemax * (Tr < Nemax ? Tr : Nemax);
    int64_t Ad = (int64_t)g->H * Ndmax * g->L;
    int64_t Ax = (int64_t)g->H * Ndmax * (Tr < Nemax ? Tr : Nemax);
    c->afloats = acts_layout(g, Nemax, Ndmax, Ae, Ad, Ax, NULL, NULL);
    c->abase = crec__aligned_alloc(c->afloats * sizeof(float));
    if (!c->abase) {
        gctx_free(c);
        return CREC_ENOMEM;
    }
    if (!train) return 0;
    int W = 3 * g->D > g->F ? 3 * g->D : g->F;
    int Nmx = Nemax > Ndmax ? Nemax : Ndmax;
    size_t gs = (size_t)Nmx * W;
    c->s.ga = malloc(gs * sizeof(float)), c->s.gb = malloc(gs * sizeof(float));
    c->s.gc = malloc(gs * sizeof(float)), c->s.gd = malloc(gs * sizeof(float));
    c->s.dM = malloc((size_t)Nemax * g->D * sizeof(float));
    c->dh = malloc((size_t)Ndmax * g->D * sizeof(float));
    c->egx = malloc((size_t)Nemax * g->D * sizeof(float));
    c->ed2 = malloc((size_t)Nemax * g->D * sizeof(float));
    rc = lscratch_alloc(g, &c->ls);
    if (rc || !c->s.ga || !c->s.gb || !c->s.gc || !c->s.gd || !c->s.dM || !c->dh || !c->egx || !c->ed2) {
        gctx_free(c);
        return CREC_ENOMEM;
    }
    return 0;
}

/* forward (+ loss, + backward when G) of the batch in c->b; returns the objective / gscale: the summed token CE plus,
 * with aux, aux L times the summed auxiliary CE (objective = mean token CE + aux mean auxiliary CE); c->auxsum = the
 * summed auxiliary CE */
static double run_batch(const genrec *g, const float *P, float *G, gctx *c, uint64_t seed, float gscale) {
    gbatch *b = &c->b;
    batch_offsets(g, b);
    acts a;
    acts_layout(g, b->Ne, b->Nd, b->eatt_off[b->Be], b->datt_off[b->S], b->xatt_off[b->S], c->abase, &a);
    encoder_forward(g, P, &a, b, seed);
    decoder_forward(g, P, &a, b, seed);
    double aw = (double)g->aux * g->L;
    c->auxsum = 0;
    if (!G) {
        if (g->aux > 0) c->auxsum = loss_aux(g, P, NULL, a.M, NULL, b, &c->ls, 0);
        return loss_ce(g, P, NULL, a.h, NULL, b, &c->ls, 0) + aw * c->auxsum;
    }
    zero(c->dh, (size_t)b->Nd * g->D);
    double loss = loss_ce(g, P, PT(G, P_TOK), a.h, c->dh, b, &c->ls, gscale);
    zero(c->s.dM, (size_t)b->Ne * g->D);
    if (g->aux > 0) c->auxsum = loss_aux(g, P, PT(G, P_TOK), a.M, c->s.dM, b, &c->ls, (float)(gscale * aw));
    loss += aw * c->auxsum;
    decoder_backward(g, P, G, &a, b, seed, c->dh, &c->s);
    encoder_backward(g, P, G, &a, b, seed, &c->s, c->egx, c->ed2);
    return loss;
}

/* ---- decoding: beam search over the trie with a KV cache ---- */

typedef struct cand {
    float score;
    int32_t node, parent;
} cand;

static int cand_cmp(const void *x, const void *y) {
    const cand *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->node > b->node) - (a->node < b->node);
}

/* The window of a history: its last min(n, T) known items (ids outside the catalog skipped), oldest first. */
static int window_of(const genrec *g, const int32_t *hist, int n, int32_t *w) {
    int k = 0, i = n - 1;
    for (; i >= 0 && k < g->T; i--)
        if (hist[i] >= 0 && hist[i] < g->NI) k++;
    int pos = 0;
    for (i = i + 1; i < n; i++)
        if (hist[i] >= 0 && hist[i] < g->NI) w[pos++] = hist[i];
    return pos;
}

/* Beam search for history hist: up to k items (exclude[i] != 0 skipped), best first, scores descending.
 * Returns the count or CREC_ENOMEM. */
static int beam_decode(const genrec *g, int32_t user, const int32_t *hist, int n, const uint8_t *exclude, int k,
                       int beamw,
                       int32_t *items, float *scores) {
    int D = g->D, F = g->F, L = g->L, Ld = g->Ld, H = g->H;
    int32_t *w = malloc((size_t)g->T * sizeof *w);
    if (!w) return CREC_ENOMEM;
    int Nw = window_of(g, hist, n, w);
    if (Nw == 0) {
        free(w);
        /* no known history: by training popularity */
        int cnt = 0;
        for (int c = 0; c < k; c++) {
            int32_t best = -1;
            for (int32_t i = 0; i < g->NI; i++) {
                if (exclude && exclude[i]) continue;
                int taken = 0;
                for (int q = 0; q < cnt && !taken; q++) taken = items[q] == i;
                if (taken) continue;
                if (best < 0 || g->pop[i] > g->pop[best]) best = i;
            }
            if (best < 0) break;
            items[cnt] = best;
            if (scores) scores[cnt] = -(float)cnt;
            cnt++;
        }
        return cnt;
    }
    /* encoder: one sequence (prefix rows + window), no dropout */
    int Ne = Nw * g->rpi + n_prefix(g, user);
    gctx c;
    int rc = gctx_alloc(g, &c, 1, Ne, 1, 0);
    if (rc) {
        free(w);
        return rc;
    }
    batch_begin(&c.b);
    enc_add(g, &c.b, user, 0, w, Nw);
    crec__nn_attention_offsets(c.b.eatt_off, c.b.eoff, 1, H);
    acts a;
    acts_layout(g, Ne, 0, c.b.eatt_off[1], 0, 0, c.abase, &a);
    const float *P = g->p.param;
    encoder_forward(g, P, &a, &c.b, 0);
    int WB = beamw;
    size_t xkvn = (size_t)Ld * Ne * 2 * D;
    size_t cstride = (size_t)Ld * L * 2 * D; /* one beam's self K|V cache */
    float *xkv = malloc(xkvn * sizeof(float));
    float *kc = malloc((size_t)WB * cstride * sizeof(float)), *kc2 = malloc((size_t)WB * cstride * sizeof(float));
    size_t rows = (size_t)WB;
    float *x = malloc(rows * D * sizeof(float)), *ln = malloc(rows * D * sizeof(float));
    float *qkv = malloc(rows * 3 * D * sizeof(float)), *ao = malloc(rows * D * sizeof(float));
    float *t1 = malloc(rows * (F > D ? F : D) * sizeof(float)), *t2 = malloc(rows * (F > D ? F : D) * sizeof(float));
    float *mean = malloc(rows * sizeof(float)), *rstd = malloc(rows * sizeof(float));
    float *pscr = malloc((size_t)(Ne > L ? Ne : L) * sizeof(float));
    int32_t *bnode = malloc((size_t)WB * sizeof(int32_t)), *tok = malloc((size_t)WB * sizeof(int32_t));
    float *bscore = malloc((size_t)WB * sizeof(float));
    int64_t ncap = 1024;
    cand *cd = malloc((size_t)ncap * sizeof *cd);
    if (!xkv || !kc || !kc2 || !x || !ln || !qkv || !ao || !t1 || !t2 || !mean || !rstd || !pscr || !bnode || !tok ||
        !bscore || !cd)
        rc = CREC_ENOMEM;
    int out = 0;
    if (!rc) {
        for (int l = 0; l < Ld; l++)
            crec__nn_linear_forward(xkv + (size_t)l * Ne * 2 * D, a.M, PT(P, P_XKVW) + (size_t)l * 2 * D * D,
                                    PT(P, P_XKVB) + l * 2 * D, Ne, D, 2 * D);
        int nb = 1;
        bnode[0] = 0, bscore[0] = 0;
        for (int j = 0; j < L && !rc; j++) {
            for (int q = 0; q < nb; q++) tok[q] = j == 0 ? g->vocab : g->ix.tok_off[j - 1] + g->trie.tok[bnode[q]];
            crec__nn_embedding_forward(x, tok, PT(P, P_TOK), nb, D, 1, 0);
            for (int q = 0; q < nb; q++)
                for (int i = 0; i < D; i++) x[(size_t)q * D + i] += PT(P, P_DPOS)[(size_t)j * D + i];
            if (g->memin) /* the window's last memory row */
                for (int q = 0; q < nb; q++)
                    for (int i = 0; i < D; i++) x[(size_t)q * D + i] += a.M[(size_t)(Ne - 1) * D + i];
            for (int l = 0; l < Ld; l++) {
                crec__nn_layernorm_forward(ln, mean, rstd, x, PT(P, P_DLN1W) + l * D, PT(P, P_DLN1B) + l * D, nb, D);
                crec__nn_linear_forward(qkv, ln, PT(P, P_DQKVW) + (size_t)l * 3 * D * D, PT(P, P_DQKVB) + l * 3 * D,
                                        nb, D, 3 * D);
                for (int q = 0; q < nb; q++) {
                    float *cache = kc + (size_t)q * cstride + (size_t)l * L * 2 * D;
                    memcpy(cache + (size_t)j * 2 * D, qkv + (size_t)q * 3 * D + D, 2 * D * sizeof(float));
                    crec__nn_attend_one(ao + (size_t)q * D, pscr, qkv + (size_t)q * 3 * D, cache, cache + D, 2 * D,
                                        j + 1, D, H);
                }
                crec__nn_linear_forward(t1, ao, PT(P, P_DPRJW) + (size_t)l * D * D, PT(P, P_DPRJB) + l * D, nb, D, D);
                for (size_t i = 0; i < (size_t)nb * D; i++) x[i] += t1[i];
                crec__nn_layernorm_forward(ln, mean, rstd, x, PT(P, P_DLN2W) + l * D, PT(P, P_DLN2B) + l * D, nb, D);
                crec__nn_linear_forward(t1, ln, PT(P, P_XQW) + (size_t)l * D * D, PT(P, P_XQB) + l * D, nb, D, D);
                const float *xk = xkv + (size_t)l * Ne * 2 * D;
                for (int q = 0; q < nb; q++)
                    crec__nn_attend_one(ao + (size_t)q * D, pscr, t1 + (size_t)q * D, xk, xk + D, 2 * D, Ne, D, H);
                crec__nn_linear_forward(t1, ao, PT(P, P_XPW) + (size_t)l * D * D, PT(P, P_XPB) + l * D, nb, D, D);
                for (size_t i = 0; i < (size_t)nb * D; i++) x[i] += t1[i];
                crec__nn_layernorm_forward(ln, mean, rstd, x, PT(P, P_DLN3W) + l * D, PT(P, P_DLN3B) + l * D, nb, D);
                crec__nn_linear_forward(t1, ln, PT(P, P_DFC1W) + (size_t)l * F * D, PT(P, P_DFC1B) + l * F, nb, D, F);
                crec__nn_act_forward(t2, t1, (size_t)nb * F, CREC_NN_GELU);
                crec__nn_linear_forward(t1, t2, PT(P, P_DFC2W) + (size_t)l * D * F, PT(P, P_DFC2B) + l * D, nb, F, D);
                for (size_t i = 0; i < (size_t)nb * D; i++) x[i] += t1[i];
            }
            crec__nn_layernorm_forward(ln, mean, rstd, x, PT(P, P_DLNFW), PT(P, P_DLNFB), nb, D);
            if (g->cos) crec__nn_cos_rows(ln, mean, ln, nb, D, 1.0f / g->temp);
            /* candidates: every valid child of every beam, log-softmax over the children */
            int64_t nc = 0;
            const float *Wj = (g->cos ? g->wn : PT(P, P_TOK)) + (size_t)g->ix.tok_off[j] * D;
            for (int q = 0; q < nb; q++) {
                int32_t v = bnode[q], c0 = g->trie.first[v], ncld = g->trie.nchild[v];
                if (nc + ncld > ncap) {
                    while (nc + ncld > ncap) ncap *= 2;
                    cand *nw = realloc(cd, (size_t)ncap * sizeof *cd);
                    if (!nw) {
                        rc = CREC_ENOMEM;
                        break;
                    }
                    cd = nw;
                }
                const float *hq = ln + (size_t)q * D;
                float mx = -INFINITY;
                for (int32_t cc = 0; cc < ncld; cc++) {
                    const float *wr = Wj + (size_t)g->trie.tok[c0 + cc] * D;
                    float s = 0;
                    for (int i = 0; i < D; i++) s += hq[i] * wr[i];
                    cd[nc + cc].score = s;
                    cd[nc + cc].node = c0 + cc;
                    cd[nc + cc].parent = q;
                    mx = s > mx ? s : mx;
                }
                double sum = 0;
                for (int32_t cc = 0; cc < ncld; cc++) sum += exp((double)cd[nc + cc].score - mx);
                float lse = (float)(mx + log(sum));
                for (int32_t cc = 0; cc < ncld; cc++) cd[nc + cc].score = bscore[q] + (cd[nc + cc].score - lse);
                nc += ncld;
            }
            if (rc) break;
            if (j + 1 < L) {
                int keep = nc < WB ? (int)nc : WB;
                qsort(cd, (size_t)nc, sizeof *cd, cand_cmp); /* beam x children: small */
                for (int q = 0; q < keep; q++)
                    memcpy(kc2 + (size_t)q * cstride, kc + (size_t)cd[q].parent * cstride, cstride * sizeof(float));
                float *tk = kc;
                kc = kc2, kc2 = tk;
                for (int q = 0; q < keep; q++) bnode[q] = cd[q].node, bscore[q] = cd[q].score;
                nb = keep;
            } else {
                /* leaves: drop excluded items, best k */
                int64_t m = 0;
                for (int64_t q = 0; q < nc; q++) {
                    int32_t it = g->trie.item[cd[q].node];
                    if (exclude && exclude[it]) continue;
                    cd[m++] = cd[q];
                }
                qsort(cd, (size_t)m, sizeof *cd, cand_cmp);
                for (int64_t q = 0; q < m && out < k; q++) {
                    items[out] = g->trie.item[cd[q].node];
                    if (scores) scores[out] = cd[q].score;
                    out++;
                }
            }
        }
    }
    free(w), free(xkv), free(kc), free(kc2), free(x), free(ln), free(qkv), free(ao), free(t1), free(t2), free(mean);
    free(rstd), free(pscr), free(bnode), free(tok), free(bscore), free(cd);
    gctx_free(&c);
    return rc ? rc : out;
}

/* ---- validation: NDCG@10 of beam decoding, history = training row, seen items excluded ---- */

static double validate(const genrec *g, const crec_csr *train, const crec_csr *valid, int32_t max_users) {
    int32_t nu = valid->n_rows, cnt = 0;
    int32_t with = 0;
    for (int32_t u = 0; u < nu; u++) with += valid->ptr[u + 1] > valid->ptr[u] && train->ptr[u + 1] > train->ptr[u];
    int32_t stride = max_users > 0 && with > max_users ? (with + max_users - 1) / max_users : 1;
    uint8_t *ex = calloc((size_t)g->NI, 1);
    if (!ex) return -1;
    double sum = 0;
    int32_t idx = 0;
    for (int32_t u = 0; u < nu; u++) {
        if (!(valid->ptr[u + 1] > valid->ptr[u] && train->ptr[u + 1] > train->ptr[u])) continue;
        if (idx++ % stride) continue;
        const int32_t *h = train->idx + train->ptr[u];
        int n = (int)(train->ptr[u + 1] - train->ptr[u]);
        for (int i = 0; i < n; i++) ex[h[i]] = 1;
        int32_t tgt = valid->idx[valid->ptr[u]];
        int32_t items[10];
        int got = beam_decode(g, u, h, n, ex, 10, g->beam, items, NULL);
        for (int i = 0; i < n; i++) ex[h[i]] = 0;
        cnt++;
        if (ex[tgt] == 0)
            for (int r = 0; r < got; r++)
                if (items[r] == tgt) {
                    sum += 1 / log2(r + 2.0);
                    break;
                }
    }
    free(ex);
    return cnt ? sum / cnt : 0;
}

/* ---- training ---- */

static void genrec_free_state(genrec *g) {
    if (!g) return;
    crec_index_free(&g->ix);
    crec_trie_free(&g->trie);
    free(g->tokid);
    free(g->pop);
    free(g->wn), free(g->wnrm);
    crec__nn_params_free(&g->p);
    free(g);
}

/* Architecture from the hyper-parameters and an index (moved into g). */
static int genrec_setup(const crec_model *m, genrec *g, crec_index *ix, int train) {
    g->D = (int)crec_model_param_int(m, "dim");
    g->Le = (int)crec_model_param_int(m, "enc_blocks");
    g->Ld = (int)crec_model_param_int(m, "dec_blocks");
    g->H = (int)crec_model_param_int(m, "heads");
    g->F = (int)crec_model_param_int(m, "ffn");
    if (g->F == 0) g->F = 2 * g->D;
    g->T = (int)crec_model_param_int(m, "max_len");
    g->drop = (float)crec_model_param_double(m, "dropout");
    g->causal = strcmp(crec_model_param_str(m, "encoder"), "bidir") != 0;
    g->beam = (int)crec_model_param_int(m, "beam");
    g->iemb = (int)crec_model_param_int(m, "item_emb");
    g->etok = (int)crec_model_param_int(m, "enc_tokens");
    g->ls = (float)crec_model_param_double(m, "ls");
    g->cos = (int)crec_model_param_int(m, "cos");
    g->temp = (float)crec_model_param_double(m, "temp");
    g->aux = (float)crec_model_param_double(m, "aux");
    g->memin = (int)crec_model_param_int(m, "mem_in");
    if (g->H < 1 || g->D % g->H) return CREC_EINVAL;
    g->ix = *ix;
    memset(ix, 0, sizeof *ix);
    g->NI = g->ix.n_items;
    g->L = g->ix.L;
    g->rpi = g->etok ? g->L : 1;
    g->vocab = g->ix.tok_off[g->L];
    g->ntask = strcmp(crec_model_param_str(m, "tasks"), "seq+direct") == 0 ? 2 : 0;
    g->nut = (int)crec_model_param_int(m, "user_tokens");
    g->cands = (int)crec_model_param_int(m, "direct_cands");
    if (g->cands > g->T) g->cands = g->T;
    g->npre = (g->ntask > 0) + (g->nut > 0);
    g->tok_task = g->vocab + 1, g->tok_user = g->tok_task + g->ntask;
    g->V = g->vocab + 1 + g->ntask + g->nut; /* tokens, BOS, task tokens, user tokens */
    int rc = crec_trie_build(&g->ix, &g->trie);
    if (rc) return rc;
    g->tokid = malloc((size_t)g->NI * g->L * sizeof *g->tokid);
    g->pop = calloc((size_t)g->NI, sizeof *g->pop);
    if (!g->tokid || !g->pop) return CREC_ENOMEM;
    if (g->cos) {
        g->wn = malloc((size_t)g->vocab * g->D * sizeof(float));
        g->wnrm = malloc((size_t)g->vocab * sizeof(float));
        if (!g->wn || !g->wnrm) return CREC_ENOMEM;
    }
    for (int32_t i = 0; i < g->NI; i++)
        for (int l = 0; l < g->L; l++)
            g->tokid[(size_t)i * g->L + l] = g->ix.tok_off[l] + g->ix.codes[(size_t)i * g->L + l];
    size_t sz[P_COUNT];
    param_sizes(g, sz);
    /* the per-item table is the last tensor and exists only with item_emb (checkpoints without it stay loadable) */
    return crec__nn_params_alloc(&g->p, sz, P_COUNT - !g->iemb, train);
}

static int get_index(const crec_model *m, const crec_train_input *in, crec_index *ix) {
    const char *path = crec_model_param_str(m, "index");
    if (path && path[0]) {
        int rc = crec_index_load(path, ix);
        if (rc) {
            crec__log("genrec: parameter 'index' = '%s': %s", path, crec_strerror(rc));
            return rc == CREC_EIO ? CREC_EINVAL : rc;
        }
        if (ix->n_items != m->n_items || (in->ds && ix->items_hash != crec_index_items_hash(in->ds))) {
            crec__log("genrec: parameter 'index' = '%s': built for another dataset (%d items; this one has %d, or other ids)",
                      path, ix->n_items, m->n_items);
            crec_index_free(ix);
            return CREC_EINVAL;
        }
        return 0;
    }
    if (!in->ds) {
        crec__log("genrec: parameter 'index' is empty and no dataset is given to build one");
        return CREC_EINVAL;
    }
    crec_index_opts o;
    crec_index_opts_default(&o);
    o.method = crec_model_param_str(m, "index_method");
    o.seed = in->seed;
    char err[256] = "";
    int rc = crec_index_build(in->ds, in->train, &o, ix, err, sizeof err);
    if (rc) crec__log("genrec: building the %s index: %s", o.method, err);
    return rc;
}

/* ---- attr=1 while training: the attribute rows F (with their AdamW state, beside the parameter block) and the
 * fused copy of the parameters that the forward, backward and validation read: item i's last-level token row is its
 * own row plus the mean of its attributes' rows (models/attrfuse.h). The kept parameters are the fused ones, so
 * the checkpoint is a plain genrec. ---- */

typedef struct gattr {
    crec_attrfuse af;
    int32_t *row;                 /* [NI] item i's row in TOK: its last-level (item) token */
    float *F, *dF, *mF, *vF, *Pf; /* [NA, D] x 4; [p.total] the fused parameters */
} gattr;

static void gattr_free(gattr *a) {
    crec__attrfuse_free(&a->af);
    free(a->row), free(a->F), free(a->dF), free(a->mF), free(a->vF), free(a->Pf);
    memset(a, 0, sizeof *a);
}

/* 0 without attr; CREC_EINVAL (no attributes, or the index's last level is not one token per item), CREC_ENOMEM. */
static int gattr_init(const crec_model *m, const crec_train_input *in, const genrec *g, gattr *a, crec_rng *r) {
    memset(a, 0, sizeof *a);
    if (!crec_model_param_int(m, "attr")) return 0;
    int L = g->L;
    int32_t K = g->ix.K[L - 1];
    uint8_t *seen = K == g->NI ? calloc((size_t)K, 1) : NULL;
    int ok = seen != NULL;
    for (int32_t i = 0; i < g->NI && ok; i++) {
        int32_t c = g->ix.codes[(size_t)i * L + L - 1];
        ok = c >= 0 && c < K && !seen[c];
        if (ok) seen[c] = 1;
    }
    free(seen);
    if (!ok) {
        crec__log("genrec: attr=1 needs an index whose last level is the item's own token (hybrid, or rq with "
                  "--item-token 1); this one's last level has %d tokens for %d items\n", K, g->NI);
        return CREC_EINVAL;
    }
    int rc = crec__attrfuse_init(&a->af, in->ds, g->NI, "genrec");
    if (rc) return rc;
    size_t nf = (size_t)a->af.NA * g->D;
    a->row = malloc((size_t)g->NI * sizeof *a->row);
    a->F = malloc(nf * sizeof(float)), a->dF = malloc(nf * sizeof(float));
    a->mF = calloc(nf, sizeof(float)), a->vF = calloc(nf, sizeof(float));
    a->Pf = malloc(g->p.total * sizeof(float));
    if (!a->row || !a->F || !a->dF || !a->mF || !a->vF || !a->Pf) {
        gattr_free(a);
        return CREC_ENOMEM;
    }
    for (int32_t i = 0; i < g->NI; i++) a->row[i] = g->tokid[(size_t)i * L + L - 1];
    for (size_t k = 0; k < nf; k++) a->F[k] = (float)(0.1 * crec__rng_normal(r)); /* as the token rows */
    return 0;
}

/* Pf = the parameters with the item-token rows fused; returns Pf. */
static const float *gattr_fuse(const genrec *g, gattr *a) {
    memcpy(a->Pf, g->p.param, g->p.total * sizeof(float));
    size_t o = g->p.off[P_TOK];
    crec__attrfuse_rows(&a->af, a->Pf + o, g->p.param + o, a->F, a->row, g->D);
    return a->Pf;
}

/* After a step's backward into g->p.grad (the gradient of the fused rows): dF, then both clipped to one norm. */
static void gattr_back(const genrec *g, gattr *a, double clip) {
    size_t nf = (size_t)a->af.NA * g->D;
    memset(a->dF, 0, nf * sizeof(float));
    crec__attrfuse_back(&a->af, g->p.grad + g->p.off[P_TOK], a->dF, a->row, g->D);
    if (clip <= 0) return;
    double n1 = crec__nn_grad_norm(g->p.grad, g->p.total), n2 = crec__nn_grad_norm(a->dF, nf);
    double n = sqrt(n1 * n1 + n2 * n2);
    if (n <= clip) return;
    float sc = (float)(clip / (n + 1e-6));
    for (size_t k = 0; k < g->p.total; k++) g->p.grad[k] *= sc;
    for (size_t k = 0; k < nf; k++) a->dF[k] *= sc;
}

static int genrec_train(crec_model *m, const crec_train_input *in) {
    crec_seqtrain_hp hp;
    int rc = crec__seqtrain_hp(m, &hp);
    if (rc) return rc;
    genrec *g = calloc(1, sizeof *g);
    if (!g) return CREC_ENOMEM;
    crec_index ix;
    rc = get_index(m, in, &ix);
    if (!rc) rc = genrec_setup(m, g, &ix, 1);
    if (rc) {
        crec_index_free(&ix);
        genrec_free_state(g);
        return rc;
    }
    const crec_csr *x = in->train;
    crec_rng r;
    crec__rng_seed(&r, in->seed);
    init_params(g, &r);
    gattr ga;
    rc = gattr_init(m, in, g, &ga, &r);
    if (rc) {
        genrec_free_state(g);
        return rc;
    }
    for (int32_t u = 0; u < x->n_rows; u++)
        for (int64_t p = x->ptr[u]; p < x->ptr[u + 1]; p++)
            if (x->idx[p] >= 0 && x->idx[p] < g->NI) g->pop[x->idx[p]] += 1;
    int32_t *users = malloc((size_t)(x->n_rows > 0 ? x->n_rows : 1) * sizeof *users), nu = 0;
    if (!users) rc = CREC_ENOMEM;
    for (int32_t u = 0; u < x->n_rows && !rc; u++)
        if (x->ptr[u + 1] - x->ptr[u] >= 2) users[nu++] = u;
    int B = hp.batch;
    int per = g->T, np = g->npre; /* targets per user, prefix rows per encoder sequence */
    int Nemax = g->causal ? B * (g->T * g->rpi + np) : B * (g->rpi * g->T * (g->T + 1) / 2 + g->T * np);
    int Bseq = g->causal ? B : B * per, Smax = B * per;
    if (g->ntask) Nemax += B * (g->cands * g->rpi + np), Bseq += B, Smax += B; /* one direct example per user */
    uint8_t *mark = g->ntask ? calloc((size_t)g->NI, 1) : NULL;
    int32_t *cand = g->ntask ? malloc((size_t)g->cands * sizeof *cand) : NULL;
    if (!rc && g->ntask && (!mark || !cand)) rc = CREC_ENOMEM;
    gctx c;
    memset(&c, 0, sizeof c);
    if (!rc) rc = gctx_alloc(g, &c, Bseq, Nemax, Smax, 1);
    float *best = rc ? NULL : malloc(g->p.total * sizeof(float));
    if (!rc && !best) rc = CREC_ENOMEM;
    crec_nn_threads th = crec__nn_threads_enter(in->n_threads); /* BLAS on one thread, OpenMP on n_threads */
    int64_t steps_per_epoch = (nu + B - 1) / B, total = steps_per_epoch * hp.epochs, step = 0;
    double best_ndcg = -1;
    int best_epoch = -1, since = 0;
    double t0 = crec__now();
    for (int ep = 0; ep < hp.epochs && !rc && nu > 0; ep++) {
        for (int32_t i = nu - 1; i > 0; i--) {
            int32_t j = (int32_t)crec__rng_below(&r, (uint64_t)i + 1), t = users[i];
            users[i] = users[j], users[j] = t;
        }
        double lsum = 0, asum = 0; /* token CE, auxiliary CE */
        int64_t lrows = 0;
        for (int32_t b0 = 0; b0 < nu; b0 += B) {
            int nb = nu - b0 < B ? nu - b0 : B;
            batch_begin(&c.b);
            for (int q = 0; q < nb; q++) {
                int32_t u = users[b0 + q];
                const int32_t *row = x->idx + x->ptr[u];
                int n = (int)(x->ptr[u + 1] - x->ptr[u]);
                batch_user(g, &c.b, u, row, n);
                if (g->ntask) {
                    for (int i = 0; i < n; i++) mark[row[i]] = 1;
                    batch_direct(g, &c.b, u, row, n, mark, cand, &r);
                    for (int i = 0; i < n; i++) mark[row[i]] = 0;
                }
            }
            memset(g->p.grad, 0, g->p.total * sizeof(float));
            float gscale = 1.0f / ((float)c.b.S * g->L);
            uint64_t seed = crec__nn_hash(in->seed ^ 0x6e6e72656367ull, (uint64_t)step) | 1;
            const float *P = ga.Pf ? gattr_fuse(g, &ga) : g->p.param;
            lsum += run_batch(g, P, g->p.grad, &c, g->drop > 0 ? seed : 0, gscale) - (double)g->aux * g->L * c.auxsum;
            asum += c.auxsum;
            lrows += (int64_t)c.b.S * g->L;
            if (ga.Pf)
                gattr_back(g, &ga, hp.clip);
            else if (hp.clip > 0)
                crec__nn_clip_grad_norm(g->p.grad, g->p.total, hp.clip);
            float lr = crec__nn_lr(hp.sched, (float)hp.lr, step, total, hp.warmup, 0.1f);
            if (ga.Pf)
                crec__nn_adamw(ga.F, ga.dF, ga.mF, ga.vF, (size_t)ga.af.NA * g->D, lr, 0.9f, (float)hp.beta2, 1e-8f,
                               (float)hp.wd, step + 1);
            for (int k = 0; k < g->p.n; k++) {
                size_t o = g->p.off[k];
                crec__nn_adamw(g->p.param + o, g->p.grad + o, g->p.m + o, g->p.v + o, g->p.size[k], lr, 0.9f,
                               (float)hp.beta2, 1e-8f, is_matrix(k) ? (float)hp.wd : 0.0f, step + 1);
            }
            step++;
        }
        float *raw = g->p.param;
        if (ga.Pf) g->p.param = (float *)gattr_fuse(g, &ga); /* validation reads the fused rows */
        cos_table(g);
        double nd = in->valid ? validate(g, x, in->valid, hp.valid_users) : -1;
        g->p.param = raw;
        if (in->verbose && g->aux > 0)
            crec__log("genrec epoch %d: loss %.4f per token, auxiliary %.4f per target, valid NDCG@10 %.4f (%d users "
                      "max), %.1fs", ep + 1, lrows ? lsum / lrows : 0, lrows ? asum * g->L / lrows : 0, nd,
                      hp.valid_users, crec__now() - t0);
        else if (in->verbose)
            crec__log("genrec epoch %d: loss %.4f per token, valid NDCG@10 %.4f (%d users max), %.1fs", ep + 1,
                      lrows ? lsum / lrows : 0, nd, hp.valid_users, crec__now() - t0);
        if (!in->valid) continue;
        if (nd > best_ndcg) {
            best_ndcg = nd, best_epoch = ep + 1, since = 0;
            memcpy(best, ga.Pf ? ga.Pf : g->p.param, g->p.total * sizeof(float));
        } else if (crec__early_stop(ep + 1, ++since, hp.patience, hp.min_epochs))
            break;
    }
    crec__nn_threads_leave(th);
    if (!rc && best_epoch > 0) {
        memcpy(g->p.param, best, g->p.total * sizeof(float));
        if (in->verbose) crec__log("genrec: best epoch %d (valid NDCG@10 %.4f) kept", best_epoch, best_ndcg);
    } else if (!rc && ga.Pf)
        memcpy(g->p.param, gattr_fuse(g, &ga), g->p.total * sizeof(float)); /* the last epoch's fused rows */
    gattr_free(&ga);
    cos_table(g);
    free(best);
    free(users);
    free(mark), free(cand);
    gctx_free(&c);
    if (rc) {
        genrec_free_state(g);
        return rc;
    }
    /* keep parameters only */
    free(g->p.grad), free(g->p.m), free(g->p.v);
    g->p.grad = g->p.m = g->p.v = NULL;
    m->state = g;
    return 0;
}

/* ---- hooks ---- */

static int genrec_recommend(const crec_model *m, const crec_context *ctx, const uint8_t *exclude, int k,
                            int32_t *items, float *scores_out) {
    const genrec *g = m->state;
    if (!g) return CREC_ESTATE;
    if (k <= 0) return 0;
    return beam_decode(g, ctx->user, ctx->hist, ctx->n_hist, exclude, k, g->beam, items, scores_out);
}

#define GENREC_MAGIC 0x47454e52u /* "GENR" */

static int genrec_save(const crec_model *m, crec_buf *out) {
    const genrec *g = m->state;
    int rc = crec__put_u32(out, GENREC_MAGIC);
    int32_t arch[] = {g->D, g->Le, g->Ld, g->H, g->F, g->T, g->causal | g->etok << 1, g->NI}; /* bit 1: enc_tokens */
    for (size_t i = 0; i < sizeof arch / sizeof arch[0] && !rc; i++) rc = crec__put_u32(out, (uint32_t)arch[i]);
    if (!rc) rc = crec_index_write(&g->ix, out);
    if (!rc) rc = crec_buf_write(out, g->pop, (size_t)g->NI * sizeof(float));
    if (!rc) rc = crec__nn_params_save(&g->p, out);
    return rc;
}

static int genrec_load(crec_model *m, crec_buf *in) {
    uint32_t magic, arch[8];
    int rc = crec__get_u32(in, &magic);
    if (!rc && magic != GENREC_MAGIC) rc = CREC_EFORMAT;
    for (int i = 0; i < 8 && !rc; i++) rc = crec__get_u32(in, &arch[i]);
    if (rc) return rc;
    crec_index ix;
    rc = crec_index_read(in, &ix);
    if (rc) return rc;
    genrec *g = calloc(1, sizeof *g);
    if (!g) {
        crec_index_free(&ix);
        return CREC_ENOMEM;
    }
    rc = genrec_setup(m, g, &ix, 0);
    if (!rc && ((uint32_t)g->D != arch[0] || (uint32_t)g->Le != arch[1] || (uint32_t)g->Ld != arch[2] ||
                (uint32_t)g->H != arch[3] || (uint32_t)g->F != arch[4] || (uint32_t)g->T != arch[5] ||
                (uint32_t)(g->causal | g->etok << 1) != arch[6] || (uint32_t)g->NI != arch[7] || g->NI != m->n_items))
        rc = CREC_EFORMAT;
    if (!rc) rc = crec_buf_read(in, g->pop, (size_t)g->NI * sizeof(float));
    if (!rc) rc = crec__nn_params_load(&g->p, in);
    if (!rc) cos_table(g);
    if (rc) {
        crec_index_free(&ix);
        genrec_free_state(g);
        return rc;
    }
    m->state = g;
    return 0;
}

static void genrec_free(crec_model *m) {
    genrec_free_state(m->state);
    m->state = NULL;
}

static int genrec_check(const crec_model *m, char *err, size_t errn) {
    int64_t d = crec_model_param_int(m, "dim"), h = crec_model_param_int(m, "heads");
    if (strcmp(crec_model_param_str(m, "tasks"), "seq+direct") == 0 && crec_model_param_int(m, "user_tokens") < 1) {
        snprintf(err, errn, "model 'genrec': parameter 'user_tokens' must be >= 1 with tasks=seq+direct (the direct "
                            "task names the user, as P5's prompts do)");
        return CREC_EINVAL;
    }
    if (d % h) {
        snprintf(err, errn, "model 'genrec': parameter 'heads' = %lld must divide 'dim' = %lld", (long long)h,
                 (long long)d);
        return CREC_EINVAL;
    }
    return 0;
}

static int genrec_score(const crec_model *m, const crec_context *ctx, float *scores);

const crec_model_type crec__model_genrec = {
    .name = "genrec",
    .summary = "generative retrieval: encoder-decoder transformer emitting item codes (index), trie-constrained beam",
    .params = GENREC_PARAMS,
    .train = genrec_train,
    .score = genrec_score,
    .save = genrec_save,
    .load = genrec_load,
    .free_state = genrec_free,
    .caps = CREC_CAP_SEQUENCE | CREC_CAP_LIST,
    .check = genrec_check,
    .recommend = genrec_recommend,
};

/* ---- test hooks (models/genrec.h) ---- */

/* Exact scores of every item (the score hook and the brute-force reference of the tests): one encoder pass, then
 * the teacher-forced decoder over every item's code in chunks of SCORE_CHUNK items (the encoder's tensors stay in
 * place while the decoder's are laid out again per chunk); item i's score is the sum over levels of its token's
 * logit minus the log-sum-exp over the valid children of its prefix (what beam search adds up). An empty history
 * scores by training popularity. */
#define SCORE_CHUNK 512

static int exact_scores(const genrec *g, int32_t user, const int32_t *hist, int n, float *scores) {
    int32_t *w = malloc((size_t)g->T * sizeof *w);
    if (!w) return CREC_ENOMEM;
    int Nw = window_of(g, hist, n, w);
    if (Nw == 0) {
        free(w);
        for (int32_t i = 0; i < g->NI; i++) scores[i] = logf(1 + g->pop[i]);
        return 0;
    }
    int Ne = Nw * g->rpi + n_prefix(g, user);
    int L = g->L, D = g->D;
    int Sc = g->NI < SCORE_CHUNK ? g->NI : SCORE_CHUNK;
    gctx c;
    int rc = gctx_alloc(g, &c, 1, Ne, Sc, 0);
    int32_t kmax = 1;
    for (int l = 0; l < L; l++) kmax = g->ix.K[l] > kmax ? g->ix.K[l] : kmax;
    float *hj = malloc((size_t)Sc * D * sizeof *hj), *lg = malloc((size_t)Sc * kmax * sizeof *lg);
    int32_t *node = malloc((size_t)Sc * sizeof *node);
    if (!rc && (!hj || !lg || !node)) rc = CREC_ENOMEM;
    if (rc) {
        free(w), free(hj), free(lg), free(node);
        if (c.abase) gctx_free(&c);
        return rc;
    }
    batch_begin(&c.b);
    enc_add(g, &c.b, user, 0, w, Nw);
    crec__nn_attention_offsets(c.b.eatt_off, c.b.eoff, 1, g->H);
    acts a;
    acts_layout(g, Ne, 0, c.b.eatt_off[1], 0, 0, c.abase, &a);
    encoder_forward(g, g->p.param, &a, &c.b, 0);
    for (int32_t i0 = 0; i0 < g->NI; i0 += Sc) {
        int nb = g->NI - i0 < Sc ? g->NI - i0 : Sc;
        c.b.S = 0, c.b.Nd = 0, c.b.qoff[0] = 0;
        for (int q = 0; q < nb; q++) dec_add(g, &c.b, i0 + q, 0, Ne);
        crec__nn_attention_offsets(c.b.datt_off, c.b.qoff, c.b.S, g->H);
        crec__nn_xattn_offsets(c.b.xatt_off, c.b.qoff, c.b.klen, c.b.S, g->H);
        acts_layout(g, Ne, c.b.Nd, c.b.eatt_off[1], c.b.datt_off[c.b.S], c.b.xatt_off[c.b.S], c.abase, &a);
        decoder_forward(g, g->p.param, &a, &c.b, 0);
        for (int q = 0; q < nb; q++) node[q] = 0, scores[i0 + q] = 0;
        for (int j = 0; j < L; j++) {
            int32_t K = g->ix.K[j];
            const float *Wj = (g->cos ? g->wn : g->p.param + g->p.off[P_TOK]) + (size_t)g->ix.tok_off[j] * D;
            for (int q = 0; q < nb; q++) memcpy(hj + (size_t)q * D, a.h + ((size_t)q * L + j) * D, D * sizeof(float));
            if (g->cos)
                for (int q = 0; q < nb; q++) { /* row by row: no norms array here */
                    float nq;
                    crec__nn_cos_rows(hj + (size_t)q * D, &nq, hj + (size_t)q * D, 1, D, 1.0f / g->temp);
                }
            crec__nn_gemm(0, 1, nb, K, D, 1, hj, D, Wj, D, 0, lg, K);
            for (int q = 0; q < nb; q++) {
                const float *l = lg + (size_t)q * K;
                int32_t v = node[q], c0 = g->trie.first[v], nc = g->trie.nchild[v];
                float mx = -INFINITY;
                for (int32_t cc = 0; cc < nc; cc++) mx = l[g->trie.tok[c0 + cc]] > mx ? l[g->trie.tok[c0 + cc]] : mx;
                double sum = 0;
                for (int32_t cc = 0; cc < nc; cc++) sum += exp((double)l[g->trie.tok[c0 + cc]] - mx);
                int32_t tk = g->ix.codes[(size_t)(i0 + q) * L + j];
                scores[i0 + q] += (float)((double)l[tk] - (mx + log(sum)));
                node[q] = crec_trie_child(&g->trie, v, tk);
            }
        }
    }
    free(w), free(hj), free(lg), free(node);
    gctx_free(&c);
    return 0;
}

static int genrec_score(const crec_model *m, const crec_context *ctx, float *scores) {
    const genrec *g = m->state;
    if (!g) return CREC_ESTATE;
    return exact_scores(g, ctx->user, ctx->hist, ctx->n_hist, scores);
}

int crec__genrec_bruteforce(const crec_model *m, int32_t user, const int32_t *hist, int n, float *scores) {
    const genrec *g = m->state;
    int32_t *w = malloc((size_t)g->T * sizeof *w);
    if (!w) return CREC_ENOMEM;
    int Ne = window_of(g, hist, n, w);
    free(w);
    if (Ne == 0) return CREC_EINVAL;
    return exact_scores(g, user, hist, n, scores);
}

int crec__genrec_gradcheck(const crec_index *ixin, int causal, float dropout, uint64_t seed, double *worst,
                           int *checked) {
    crec_index ix;
    int rc = crec_index_copy(ixin, &ix);
    if (rc) return rc;
    genrec *g = calloc(1, sizeof *g);
    if (!g) return CREC_ENOMEM;
    g->D = 8, g->Le = 1, g->Ld = 2, g->H = 2, g->F = 12, g->T = 5, g->causal = causal & 1, g->drop = dropout;
    g->iemb = (causal & 2) != 0; /* bit 1 of causal: with the per-item input embedding */
    g->etok = (causal & 8) != 0; /* bit 3: one encoder row per code token */
    g->ix = ix;
    g->NI = ix.n_items, g->L = ix.L, g->vocab = ix.tok_off[ix.L], g->rpi = g->etok ? g->L : 1;
    if (causal & 4) g->ntask = 2, g->nut = 3, g->cands = 3; /* bit 2: multi-task with user tokens */
    if (causal & 16) g->ls = 0.1f;                          /* bit 4: label smoothing 0.1 */
    if (causal & 64) g->cos = 1, g->temp = 0.5f;            /* bit 6: cosine scores */
    if (causal & 128) g->aux = 0.7f;                        /* bit 7: the auxiliary next-item loss */
    if (causal & 256) g->memin = 1;                         /* bit 8: mem_in */
    g->npre = (g->ntask > 0) + (g->nut > 0);
    g->tok_task = g->vocab + 1, g->tok_user = g->tok_task + g->ntask;
    g->V = g->vocab + 1 + g->ntask + g->nut;
    g->tokid = malloc((size_t)g->NI * g->L * sizeof *g->tokid);
    if (!g->tokid) {
        genrec_free_state(g);
        return CREC_ENOMEM;
    }
    for (int32_t i = 0; i < g->NI; i++)
        for (int l = 0; l < g->L; l++)
            g->tokid[(size_t)i * g->L + l] = ix.tok_off[l] + ix.codes[(size_t)i * g->L + l];
    size_t sz[P_COUNT];
    param_sizes(g, sz);
    rc = crec__nn_params_alloc(&g->p, sz, P_COUNT - !g->iemb, 1);
    if (rc) {
        genrec_free_state(g);
        return rc;
    }
    crec_rng r;
    crec__rng_seed(&r, seed);
    for (size_t i = 0; i < g->p.total; i++) g->p.param[i] = (float)(0.5 * crec__rng_normal(&r));
    /* bit 5: attribute fusion (attr=1) on the last level's item tokens: 5 attribute rows, items carry 0-3 of them
     * (the index's last level must be one token per item) */
    gattr ga;
    memset(&ga, 0, sizeof ga);
    if (causal & 32) {
        static const int32_t na[8] = {1, 2, 3, 0, 1, 2, 3, 1};
        int64_t np = 0;
        for (int32_t i = 0; i < g->NI; i++) np += na[i % 8];
        ga.af.NI = g->NI, ga.af.NA = 5;
        ga.af.aptr = malloc(((size_t)g->NI + 1) * sizeof *ga.af.aptr);
        ga.af.aidx = malloc((size_t)(np > 0 ? np : 1) * sizeof *ga.af.aidx);
        ga.row = malloc((size_t)g->NI * sizeof *ga.row);
        size_t nf = (size_t)5 * g->D;
        ga.F = malloc(nf * sizeof(float)), ga.dF = malloc(nf * sizeof(float));
        ga.Pf = malloc(g->p.total * sizeof(float));
        if (!ga.af.aptr || !ga.af.aidx || !ga.row || !ga.F || !ga.dF || !ga.Pf) rc = CREC_ENOMEM;
        if (!rc) ga.af.aptr[0] = 0;
        for (int32_t i = 0; i < g->NI && !rc; i++) {
            ga.af.aptr[i + 1] = ga.af.aptr[i];
            for (int k = 0; k < na[i % 8]; k++) ga.af.aidx[ga.af.aptr[i + 1]++] = (i + 2 * k) % 5;
            ga.row[i] = g->tokid[(size_t)i * g->L + g->L - 1];
        }
        for (size_t k = 0; k < nf && !rc; k++) ga.F[k] = (float)(0.5 * crec__rng_normal(&r));
    }
    gctx c;
    if (!rc) rc = gctx_alloc(g, &c, 4 * g->T, 4 * g->T * (g->T + 2) * g->rpi, 4 * g->T, 1);
    if (rc) {
        gattr_free(&ga);
        genrec_free_state(g);
        return rc;
    }
    int32_t rows[3][8] = {{0, 3, 1, 2}, {4, 2}, {1, 5, 0, 3, 2, 4, 1, 0}};
    int lens[3] = {4, 2, 8};
    batch_begin(&c.b);
    uint8_t mark[64] = {0};
    int32_t cand[8];
    for (int q = 0; q < 3; q++) {
        for (int i = 0; i < lens[q]; i++) rows[q][i] %= g->NI;
        batch_user(g, &c.b, g->nut ? q : -1, rows[q], lens[q]);
        if (g->ntask && g->NI <= 64) batch_direct(g, &c.b, q, rows[q], lens[q], mark, cand, &r);
    }
    uint64_t ds = dropout > 0 ? (seed | 1) : 0;
    float gscale = 1.0f / ((float)c.b.S * g->L);
    memset(g->p.grad, 0, g->p.total * sizeof(float));
    run_batch(g, ga.Pf ? gattr_fuse(g, &ga) : g->p.param, g->p.grad, &c, ds, gscale);
    if (ga.Pf) gattr_back(g, &ga, 0);
    double w = 0;
    int n = 0;
    for (int k = 0; k <= g->p.n; k++) { /* k = p.n: the attribute rows */
        if (k == g->p.n && !ga.Pf) break;
        for (int t = 0; t < 6; t++) {
            float *x = k < g->p.n ? g->p.param + g->p.off[k] : ga.F;
            const float *gx = k < g->p.n ? g->p.grad + g->p.off[k] : ga.dF;
            size_t i = crec__rng_below(&r, k < g->p.n ? g->p.size[k] : (size_t)ga.af.NA * g->D);
            float old = x[i], eps = 0.01f;
            x[i] = old + eps;
            double lp = run_batch(g, ga.Pf ? gattr_fuse(g, &ga) : g->p.param, NULL, &c, ds, 0) * gscale;
            x[i] = old - eps;
            double lm = run_batch(g, ga.Pf ? gattr_fuse(g, &ga) : g->p.param, NULL, &c, ds, 0) * gscale;
            x[i] = old;
            double num = (lp - lm) / (2 * eps), ana = gx[i];
            double den = fabs(num) > 0.05 ? fabs(num) : 0.05;
            double e = fabs(ana - num) / den;
            if (e > w) w = e;
            n++;
        }
    }
    *worst = w, *checked = n;
    gctx_free(&c);
    gattr_free(&ga);
    genrec_free_state(g);
    return 0;
}

int crec__genrec_set_beam(crec_model *m, int beam) {
    if (!m || m->type != &crec__model_genrec || !m->state || beam < 1) return CREC_EINVAL;
    ((genrec *)m->state)->beam = beam;
    return 0;
}

int crec__genrec_ce(int L, const int32_t *K, int D, int S, const float *h, const float *W, const int32_t *tgt,
                    float ls, float *dh, float *dW, double *loss) {
    if (L < 1 || D < 1 || S < 1 || !K || !h || !W || !tgt || !loss || !(ls >= 0 && ls < 1)) return CREC_EINVAL;
    if (L > CREC_INDEX_MAX_L) return CREC_EINVAL;
    genrec g;
    memset(&g, 0, sizeof g);
    g.D = D, g.L = L, g.ls = ls;
    g.ix.L = L;
    for (int l = 0; l < L; l++) {
        if (K[l] < 1) return CREC_EINVAL;
        g.ix.K[l] = K[l];
        g.ix.tok_off[l + 1] = g.ix.tok_off[l] + K[l];
    }
    for (int j = 0; j < S * L; j++)
        if (tgt[j] < 0 || tgt[j] >= K[j % L]) return CREC_EINVAL;
    /* the token table is tensor 0 (P_TOK) of a one-tensor parameter block */
    size_t sz[P_COUNT] = {0};
    sz[P_TOK] = (size_t)g.ix.tok_off[L] * D;
    int rc = crec__nn_params_alloc(&g.p, sz, 1, 0);
    if (rc) return rc;
    memcpy(g.p.param, W, sz[P_TOK] * sizeof(float));
    gbatch b;
    memset(&b, 0, sizeof b);
    b.S = S;
    b.dtgt = (int32_t *)tgt;
    lscratch s;
    rc = lscratch_alloc(&g, &s);
    if (!rc) {
        if (dh) memset(dh, 0, (size_t)S * L * D * sizeof(float));
        if (dW) memset(dW, 0, sz[P_TOK] * sizeof(float));
        *loss = loss_ce(&g, g.p.param, dW, h, dh, &b, &s, 1.0f);
    }
    lscratch_free(&s);
    crec__nn_params_free(&g.p);
    return rc;
}
