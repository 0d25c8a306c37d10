/* online.h: the collisionless embedding table of online learning (Monolith, issue 13).
 *
 * A table maps ids of any 64-bit value to rows: a float vector of a fixed dim, the optimizer's state for it
 * (Adagrad or FTRL, per coordinate), the id and the last-touch time. Ids are placed by cuckoo hashing over two
 * tables of 4-slot buckets (insert by eviction), so two ids never share a row; the table grows by rehashing.
 * An id gets a row only once it was seen min_count times, counted in a count-min sketch (rare ids cost a few
 * counters, no row). Rows untouched for ttl time units are evicted by crec_online_table_expire; time is whatever
 * integer clock the caller passes in (seconds, event index...). Every row touched since the last export, and every
 * id evicted since then, goes into the next delta; a full snapshot plus the deltas after it, applied in order,
 * restore the rows bit for bit (crec_online_table_export / _import, or the _save / _load file helpers).
 *
 * Threads: one writer; any number of readers (crec_online_table_lookup*) when no writer runs. Row pointers handed
 * out stay valid only until the next call that may insert or remove a row (get, put, remove, expire, import). */
#ifndef CREC_ONLINE_H
#define CREC_ONLINE_H

#include "crec/common.h"
#include "crec/model.h" /* crec_event */

#ifdef __cplusplus
extern "C" {
#endif

/* The per-row update rule applied by crec_online_table_update, per coordinate i, gradient g:
 *   SGD:      w -= lr * g                                                           (no state)
 *   ADAGRAD:  a += g^2;  w -= lr * g / (sqrt(a) + eps)                  (state: a, starts at adagrad_init)
 *   FTRL:     (FTRL-Proximal, McMahan et al. 2013; alpha = lr, state z and n, both start at 0)
 *             s = (sqrt(n + g^2) - sqrt(n)) / lr;  z += g - s * w;  n += g^2;
 *             w = |z| <= l1 ? 0 : -(z - sign(z) * l1) / ((beta + sqrt(n)) / lr + l2) */
typedef enum { CREC_ONLINE_SGD = 0, CREC_ONLINE_ADAGRAD = 1, CREC_ONLINE_FTRL = 2 } crec_online_optim;

typedef struct crec_online_opts {
    int dim;                 /* floats per row, 1..65536 */
    crec_online_optim optim; /* update rule */
    float lr;                /* learning rate (FTRL's alpha), > 0 */
    float adagrad_init;      /* Adagrad: initial accumulator, >= 0 */
    float adagrad_eps;       /* Adagrad: added to sqrt(a), >= 0 (adagrad_init + eps must be > 0) */
    float ftrl_beta, ftrl_l1, ftrl_l2; /* FTRL, each >= 0 */
    float init_scale;        /* a new row's vector: uniform in [-init_scale, init_scale), a pure function of
                              * (seed, id, coordinate); 0 gives zeros */
    uint32_t min_count;      /* sightings before an id gets a row, 1..65535 (1: admitted on first sight) */
    uint32_t filter_width;   /* count-min counters per hash row (rounded up to a power of two); 0: 1<<20 */
    uint32_t filter_depth;   /* count-min hash rows, 1..16; 0: 4. Guarantee (per queried id): the estimate
                              * exceeds the true count by more than e * N / width, N = all sightings counted, with
                              * probability at most exp(-depth); it is never below the true count */
    int64_t ttl;             /* crec_online_table_expire evicts rows with now - touch >= ttl; 0: never */
    uint64_t capacity;       /* expected ids (sizes the first allocation; the table grows past it) */
    uint64_t seed;           /* hash and init seed */
} crec_online_opts;

/* Defaults: the given dim, Adagrad, lr 0.05, adagrad_init 0.1, eps 1e-7, FTRL beta 1, l1 0, l2 0,
 * init_scale 0.01, min_count 1, filter 4 x 1<<20, ttl 0, capacity 1024, seed 42. */
CREC_API void crec_online_opts_default(crec_online_opts *o, int dim);

typedef struct crec_online_table crec_online_table;

typedef struct crec_online_stats {
    uint64_t rows;        /* ids holding a row */
    uint64_t slots;       /* row slots allocated (both tables) */
    uint64_t bytes;       /* heap bytes of the table, filter included */
    uint64_t filter_bytes;
    uint64_t admitted;    /* rows created since construction */
    uint64_t filtered;    /* sightings of ids that got no row yet */
    uint64_t expired;     /* rows evicted by expiry */
    uint64_t kicks;       /* cuckoo displacements */
    uint64_t rehashes;    /* growths */
    uint64_t export_seq;  /* sequence number of the last export (0: none) */
} crec_online_stats;

/* New empty table; NULL on bad options (dim 0, lr <= 0, ...) or no memory. The caller owns it. */
CREC_API crec_online_table *crec_online_table_new(const crec_online_opts *o);
CREC_API void crec_online_table_free(crec_online_table *t); /* NULL is fine */

/* The options the table runs with (filter size rounded, defaults filled). */
CREC_API const crec_online_opts *crec_online_table_opts(const crec_online_table *t);
CREC_API void crec_online_table_stats(const crec_online_table *t, crec_online_stats *out);
/* Floats of optimizer state per row: 0 (SGD), dim (Adagrad), 2 * dim (FTRL: z then n). */
CREC_API int crec_online_table_state_dim(const crec_online_table *t);

/* Read-only lookup: the row's vector (dim floats, 16-byte aligned) or NULL when id has no row; touches nothing.
 * The pointer belongs to the table (see the validity rule above). */
CREC_API const float *crec_online_table_lookup(const crec_online_table *t, uint64_t id);
/* n lookups at once, memory prefetched ahead (several times faster than a loop of lookups on a table larger
 * than the caches): rows[i] = lookup(ids[i]). Returns how many were found. */
CREC_API size_t crec_online_table_lookup_batch(const crec_online_table *t, const uint64_t *ids, size_t n,
                                               const float **rows);

/* The training path: a sighting of id at time now. An id with a row is touched (touch time = now, marked for the
 * next delta) and *row set to its vector; an id without one is counted in the filter and gets a row (initialised
 * from seed and id) once seen min_count times, else *row = NULL. Returns 0, or CREC_ENOMEM (table unchanged),
 * CREC_EINVAL (NULL argument). */
CREC_API int crec_online_table_get(crec_online_table *t, uint64_t id, int64_t now, float **row);
/* Apply the update rule to a row from crec_online_table_get with gradient grad[dim]; touches it. 0 or CREC_EINVAL. */
CREC_API int crec_online_table_update_row(crec_online_table *t, float *row, const float *grad, int64_t now);
/* get + update_row: CREC_ENOTFOUND (and no update) when id has no row after the sighting. */
CREC_API int crec_online_table_update(crec_online_table *t, uint64_t id, const float *grad, int64_t now);
/* The optimizer state of a row (state_dim floats) for reading or seeding; NULL for SGD. */
CREC_API float *crec_online_table_row_state(crec_online_table *t, float *row);
/* Last-touch time of a row. */
CREC_API int64_t crec_online_table_row_touch(const crec_online_table *t, const float *row);
/* Set id's row (bypassing the filter): vector vec[dim], optimizer state state[state_dim] (NULL: initial state),
 * touch time now. 0, CREC_EINVAL, CREC_ENOMEM (table unchanged). */
CREC_API int crec_online_table_put(crec_online_table *t, uint64_t id, const float *vec, const float *state,
                                   int64_t now);
/* Remove id's row (recorded for the next delta). 0 or CREC_ENOTFOUND. */
CREC_API int crec_online_table_remove(crec_online_table *t, uint64_t id);
/* Evict every row with now - touch >= ttl (no-op when ttl is 0); *n_evicted (may be NULL) gets the count. */
CREC_API int crec_online_table_expire(crec_online_table *t, int64_t now, uint64_t *n_evicted);
/* The filter's (over-)estimate of id's sightings so far; ids with rows are no longer counted. */
CREC_API uint32_t crec_online_table_filter_count(const crec_online_table *t, uint64_t id);

/* Call fn on every row (order unspecified); a non-zero return stops and is returned. The table must not change. */
CREC_API int crec_online_table_foreach(const crec_online_table *t,
                                       int (*fn)(uint64_t id, const float *vec, int64_t touch, void *ctx), void *ctx);

/* Export: CREC_ONLINE_FULL writes every row, the filter and the options; CREC_ONLINE_DELTA writes the rows touched
 * and the ids removed since the previous export (of either kind). Both append to out (caller owns it; free with
 * crec_buf_free), number the export (stats.export_seq) and start a new delta. */
typedef enum { CREC_ONLINE_FULL = 0, CREC_ONLINE_DELTA = 1 } crec_online_export_kind;
CREC_API int crec_online_table_export(crec_online_table *t, crec_online_export_kind kind, crec_buf *out);
/* A new table from a full export read from in (from in->pos): *out is owned by the caller (NULL on error); it
 * carries the export's sequence number, so the deltas exported after it apply in order.
 * CREC_EFORMAT on a corrupt or truncated payload, CREC_EINVAL on a delta, CREC_ENOMEM. */
CREC_API int crec_online_table_import(crec_buf *in, crec_online_table **out);
/* Apply a delta export to t: it must follow t's last export or import in sequence (CREC_ESTATE otherwise) and
 * have t's dim and optimizer (CREC_EFORMAT). Removals first, then rows set as exported. On error t may hold part
 * of the delta. */
CREC_API int crec_online_table_apply_delta(crec_online_table *t, crec_buf *in);

/* The same as framed, checksummed files (written to path.tmp, then renamed; magic CRECOTS\1 for a snapshot,
 * CRECOTD\1 for a delta). Errors as above plus CREC_EIO, CREC_ENOTFOUND (no file), CREC_ECHECKSUM, CREC_EVERSION.
 * A save that fails after its export still counts as an export: the next delta then no longer chains (applying it
 * gives CREC_ESTATE), so write a full snapshot next. */
CREC_API int crec_online_table_save(crec_online_table *t, crec_online_export_kind kind, const char *path);
CREC_API int crec_online_table_load(const char *path, crec_online_table **out);
CREC_API int crec_online_table_apply_delta_file(crec_online_table *t, const char *path);
/* Walk an export (full or delta, read from in->pos) without applying it: *dim, *sdim (state floats per row) and
 * *optim (each may be NULL) from its header, then on_removed for each removed id and on_row for each row (vec and
 * state are aligned copies valid during the call; state NULL when sdim is 0). A non-zero callback return stops the
 * walk and is returned; CREC_EFORMAT on a corrupt export. */
CREC_API int crec_online_export_foreach(crec_buf *in, int *dim, int *sdim, int *optim,
                                        int (*on_removed)(void *ctx, uint64_t id),
                                        int (*on_row)(void *ctx, uint64_t id, int64_t touch, const float *vec,
                                                      const float *state),
                                        void *ctx);

/* ---- the online factorisation model (src/online/mf.c) ----
 * A matrix factorisation / two-tower model whose every parameter lives in one collisionless table: user u's row
 * (key 1<<60 | u) is its vector p_u, item i's row (key 2<<60 | i) its vector q_i and its bias b_i (coordinate D):
 *   s(u, i) = p_u . q_i + b_i.
 * It learns from events one mini-batch at a time: a new user or item gets a row when its first event arrives (its
 * min_count-th with the admission filter), negatives are drawn uniformly from the items known so far (items with a
 * row), and each touched row takes one Adagrad step (the table's per-row state) on the batch's summed gradient
 * plus reg * w per occurrence. Losses, per event (u, i+) with negatives j_1..j_n:
 *   BPR:      (1/n) sum_k -ln sigmoid(s(u, i) - s(u, j_k))
 *   SOFTMAX:  -s(u, i) + ln(exp s(u, i) + sum_k exp(s(u, j_k) + ln(max(1, N - 1) / n)))   (sampled softmax with the
 *             uniform-proposal correction, N = known items: an estimate of the full softmax over them).
 * Threads: one writer (learn); readers (score) only while no writer runs. */

typedef enum { CREC_OMF_BPR = 0, CREC_OMF_SOFTMAX = 1 } crec_omf_loss;

typedef struct crec_omf_opts {
    int dim;             /* factors D, 1..4096 */
    crec_omf_loss loss;
    int neg;             /* negatives per event, 1..4096 */
    float lr;            /* Adagrad learning rate, > 0 */
    float reg;           /* L2 on every touched row, >= 0 */
    float init_scale;    /* a new row: uniform in [-init_scale, init_scale) (the table's rule) */
    uint32_t min_count;  /* events before an id gets a row (the table's filter), >= 1 */
    int64_t ttl;         /* rows untouched for ttl (event time units) are evicted after each batch; 0: never */
    uint64_t seed;
    int hist;            /* session tower, 0..256 (0: off): the user's representation is p_u + the mean of input
                          * embeddings e_h (a second table, key 3<<60 | h) of the user's last `hist` items - the
                          * context's history when scoring, the model's own record of the user's events when learning */
} crec_omf_opts;

/* Defaults: dim 32, BPR, neg 4, lr 0.05, reg 0, init_scale 0.1, min_count 1, ttl 0, seed 42, hist 0. */
CREC_API void crec_omf_opts_default(crec_omf_opts *o);

typedef struct crec_omf crec_omf;

/* New empty model (no rows); NULL on bad options or no memory. The caller owns it (crec_omf_free). */
CREC_API crec_omf *crec_omf_new(const crec_omf_opts *o);
CREC_API void crec_omf_free(crec_omf *m); /* NULL is fine */
/* Learn one mini-batch of n events (ids dense, >= 0; ev[k].ts is the table's clock). Events whose user or item
 * gets no row yet (admission filter) teach nothing but are counted. *loss (may be NULL) gets the batch's mean loss
 * before the step. Returns 0, CREC_EINVAL (negative id, NULL), CREC_ENOMEM (the model may hold part of the batch). */
CREC_API int crec_omf_learn(crec_omf *m, const crec_event *ev, int64_t n, double *loss);
/* Scores of items 0..n_items-1 for user (-1: none) into scores: p . q_i + b_i for items with a row, -FLT_MAX for
 * the others. Without the session tower a user without a row is folded in from hist (items frozen: a fixed number
 * of deterministic BPR passes over the history); with no history its vector is 0 (scores are the item biases).
 * With it, p = p_u (0 without a row) + the mean input embedding of the last `hist` items of hist (of the model's
 * record of the user when n_hist is 0). Returns 0 or CREC_ENOMEM. */
CREC_API int crec_omf_score(const crec_omf *m, int32_t user, const int32_t *hist, int32_t n_hist, int32_t n_items,
                            float *scores);
typedef struct crec_omf_stats {
    int64_t events, learned;      /* events seen by learn; those that taught (both rows present) */
    int32_t users, items;         /* ids with a row */
    int32_t max_user, max_item;   /* largest ids seen (-1: none) */
} crec_omf_stats;
CREC_API void crec_omf_get_stats(const crec_omf *m, crec_omf_stats *out);
CREC_API const crec_omf_opts *crec_omf_get_opts(const crec_omf *m);
/* The table holding every row: for snapshots and deltas (crec_online_table_export); the model stays the owner. */
CREC_API crec_online_table *crec_omf_table(crec_omf *m);
/* Serialise the whole model (options, known items, a full table export) to out / read it back into a new model.
 * Export numbers the table's exports (see crec_online_table_export). CREC_EFORMAT on a corrupt payload. */
CREC_API int crec_omf_save(crec_omf *m, crec_buf *out);
CREC_API int crec_omf_load(crec_buf *in, crec_omf **out);

/* ---- ReLoop2's error memory (src/online/errmem.c) ----
 * A fast memory of recent prediction errors that corrects a model's scores at serving time without retraining
 * (ReLoop2, Zhu et al. KDD 2023): each entry is (key, item, residual = observed - predicted) for a served request,
 * key the request's representation (a dim-float vector, stored L2-normalised). Entries live in a FIFO of fixed
 * capacity (the oldest is overwritten) and are indexed by random-hyperplane LSH (`tables` tables of `bits`-bit
 * signatures, each bucket keeping its most recent entries). A query gathers the candidates of its buckets, keeps
 * the k most cosine-similar (cos > 0), weights them softmax(cos / temp), and adds lambda * weight * residual to the
 * score of each neighbour's item. Threads: one writer, readers when no writer runs. */
typedef struct crec_errmem_opts {
    int dim;          /* key length, 1..4096 */
    int tables;       /* LSH tables, 1..64; default 4 */
    int bits;         /* signature bits per table, 1..24; default 10 */
    int bucket;       /* most recent entries kept per bucket, 1..1024; default 16 */
    int capacity;     /* entries in the FIFO, >= 1; default 8192 */
    int k;            /* neighbours used per query, >= 1; default 16 */
    float temp;       /* softmax temperature over cosines, > 0; default 0.1 */
    uint64_t seed;
} crec_errmem_opts;
CREC_API void crec_errmem_opts_default(crec_errmem_opts *o, int dim);

typedef struct crec_errmem crec_errmem;
/* New empty memory; NULL on bad options or no memory. The caller owns it. */
CREC_API crec_errmem *crec_errmem_new(const crec_errmem_opts *o);
CREC_API void crec_errmem_free(crec_errmem *m);
/* Store (key[dim], item, residual); a zero key is ignored. 0 or CREC_EINVAL (NULL, item < 0, non-finite). */
CREC_API int crec_errmem_add(crec_errmem *m, const float *key, int32_t item, float residual);
/* Add the correction for key to scores[0..n_items) (neighbours' items past n_items are skipped). Returns how many
 * neighbours were used (>= 0) or CREC_EINVAL. */
CREC_API int crec_errmem_correct(const crec_errmem *m, const float *key, float lambda, float *scores, int32_t n_items);
CREC_API int64_t crec_errmem_size(const crec_errmem *m); /* entries held */

#ifdef __cplusplus
}
#endif
#endif
