/* index.h: item indexing for generative retrieval - every item gets a short, unique sequence of tokens (its code),
 * and a trie of the valid codes constrains decoding to real items.
 *
 * Methods (Hua et al. 2023, "How to Index Item IDs for Recommendation Foundation Models"; TIGER; PRORec):
 *   random         RID: a random permutation of the items, written as base-K digits
 *   sequential     SID: items numbered by first appearance in the users' time-ordered training histories, base-K
 *   collaborative  CID: spectral clustering of the item co-occurrence graph (training histories), recursively into
 *                  N clusters until each holds <= M items; code = cluster path (padded) + index within the leaf
 *   semantic       SemID: the item's attributes ordered most general first (descending item count: the category
 *                  hierarchy as the data gives it), depth levels, padded, + index within the leaf
 *   hybrid         CID (or SemID, base = semantic) followed by the item's own token (IID: vocabulary I)
 *   rq             residual k-means of an item vector into `levels` levels of K codes, + a last level that
 *                  numbers the items sharing a prefix (removes collisions)
 * Codes have one length L for every item (shorter paths are padded with a pad token, which is a real token of its
 * level), so the decoder always emits L tokens; level l has K[l] tokens, and token t of level l is vocabulary entry
 * tok_off[l] + t.
 *
 * File (.crecidx): [magic "CRECIDX\1"][version][flags][payload length][hash64] framing, payload: method, source,
 * n_items, L, K[L], the item names' hash (checked against the dataset a model is trained on), codes[I][L]; on load
 * every code is checked in range and unique. */
#ifndef CREC_INDEX_H
#define CREC_INDEX_H

#include <stdint.h>
#include <stdio.h>
#include "crec/common.h"
#include "crec/dataset.h"
#include "crec/split.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CREC_INDEX_MAX_L 16

typedef struct crec_index {
    int32_t n_items;
    int L;
    int32_t K[CREC_INDEX_MAX_L];           /* tokens of level l */
    int32_t tok_off[CREC_INDEX_MAX_L + 1]; /* vocabulary offset of level l; tok_off[L] = vocabulary size */
    int32_t *codes;                        /* [n_items * L], owned */
    uint64_t items_hash;                   /* crec_index_items_hash of the dataset it was built on */
    char method[32];                       /* random | sequential | iid | collaborative | semantic | hybrid | rq */
    char source[96];                       /* how: "N=20 M=500", "content d=64", ... */
} crec_index;

typedef struct crec_index_opts {
    const char *method;
    int K;          /* random / sequential: digit base; rq: codebook size (default 256) */
    int levels;     /* rq: quantised levels before the collision level (3) */
    int N, M;       /* collaborative: clusters per split (20), largest leaf (500) */
    int depth;      /* semantic: attribute levels (3) */
    const char *base; /* hybrid: collaborative | semantic */
    int iters;      /* k-means iterations (25) */
    uint64_t seed;
    /* rq's vectors [n_items * dim], row per dense item id (the caller builds them: crec_index_content_vectors,
     * a model's item table, a file, or a fusion), and their name for `source` */
    const float *vec;
    int dim;
    const char *vec_name;
    /* rq's quantiser: "kmeans" (residual k-means, default) or "rqvae" (TIGER's RQ-VAE: an MLP autoencoder with
     * residual quantisation of its latent, trained here; its sizes and budget below, 0 = default) */
    const char *quantizer;
    int vae_epochs, vae_batch, vae_latent; /* 200, 1024, 32 */
    int vae_hidden[4], vae_n_hidden;       /* 512, 256, 128 (vae_n_hidden 0: the default) */
    float vae_lr, vae_beta;                /* AdamW 1e-3; commitment weight 0.25 */
    int item_token; /* rq: 1 = the last level is the item's own token (as hybrid's), not the collision numbering */
    int verbose;
} crec_index_opts;

void crec_index_opts_default(crec_index_opts *o);

/* Hash of the dataset's item names in dense order (an index fits a dataset only if they agree). */
CREC_API uint64_t crec_index_items_hash(const crec_dataset *ds);

/* Builds an index of ds's items. train (user x item, time ordered; may be NULL for methods that do not read it) is
 * the training part of the split, so that collaborative and sequential codes never see validation or test events.
 * 0 or CREC_EINVAL (message in err naming the option) / CREC_ENOMEM; on failure out holds nothing. */
CREC_API int crec_index_build(const crec_dataset *ds, const crec_csr *train, const crec_index_opts *o,
                              crec_index *out, char *err, size_t errn);
CREC_API void crec_index_free(crec_index *ix);

/* Content vectors: TF-IDF over item attributes and title / text words, reduced to dim columns by a truncated SVD
 * (randomised subspace iteration, LAPACK for the small eigenproblem): rows U_d S_d. *out [n_items * dim] is the
 * caller's (free). Items without any feature get zero rows. 0, CREC_EEMPTY (no item has a feature), CREC_ENOMEM. */
CREC_API int crec_index_content_vectors(const crec_dataset *ds, int dim, uint64_t seed, float **out);
/* External vectors: a text file, one line per item "ITEM_ID v1 v2 ... vd" (ITEM_ID the dataset's external id;
 * space or tab separated; '#' lines and blank lines skipped; every row the same d; every item needs a row). *out
 * [n_items * d] the caller's. Errors: CREC_EIO, CREC_EPARSE with "path:line: reason" in err. */
CREC_API int crec_index_read_vectors(const crec_dataset *ds, const char *path, float **out, int *dim, char *err,
                                     size_t errn);
/* Fused vectors (the reduced version of PRORec's alignment: no alignment training, concatenation): each row of a
 * and b L2-normalised, then [a | b] / sqrt(2). *out [n * (da + db)] the caller's. */
CREC_API int crec_index_fuse_vectors(const float *a, int da, const float *b, int db, int32_t n, float **out);

CREC_API int crec_index_save(const crec_index *ix, const char *path);
/* Loads and checks (levels, sizes, codes in range, codes unique). CREC_EIO, CREC_EFORMAT, CREC_EVERSION,
 * CREC_ECHECKSUM, CREC_ENOMEM. */
CREC_API int crec_index_load(const char *path, crec_index *out);
/* Payload form (inside a model checkpoint). */
CREC_API int crec_index_write(const crec_index *ix, crec_buf *out);
CREC_API int crec_index_read(crec_buf *in, crec_index *out);
/* Checks codes in range and unique: 0 or CREC_EFORMAT. */
CREC_API int crec_index_check(const crec_index *ix);
/* Deep copy. */
CREC_API int crec_index_copy(const crec_index *src, crec_index *dst);

/* Trie of the valid codes. Node 0 is the root (depth 0); the children of a node are nodes first[v] ..
 * first[v] + nchild[v] - 1, sorted by token; a node at depth L is a leaf holding one item. */
typedef struct crec_trie {
    int L;
    int32_t n_nodes;
    int32_t *tok;    /* [n_nodes] token (within its level) of the edge into the node; -1 for the root */
    int32_t *first;  /* [n_nodes] first child */
    int32_t *nchild; /* [n_nodes] */
    int32_t *item;   /* [n_nodes] leaves: the item; inner nodes: -1 */
    int32_t *count;  /* [n_nodes] items under the node */
    int32_t *depth;  /* [n_nodes] */
} crec_trie;

CREC_API int crec_trie_build(const crec_index *ix, crec_trie *t);
CREC_API void crec_trie_free(crec_trie *t);
/* Child of node v with token tok (binary search), or -1. */
CREC_API int32_t crec_trie_child(const crec_trie *t, int32_t v, int32_t tok);
/* Node of a prefix of len tokens (0 <= len <= L), or -1 when no item has that prefix. */
CREC_API int32_t crec_trie_find(const crec_trie *t, const int32_t *prefix, int len);

/* Human report: method, levels, code usage per level (tokens used / K), items per prefix at each depth (min,
 * median, max), collisions of the code without its last level. json != 0: one JSON object. */
CREC_API int crec_index_info(const crec_index *ix, FILE *f, int json);

#ifdef __cplusplus
}
#endif
#endif
