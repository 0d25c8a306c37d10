/* split.h: by-user views of a dataset and the train / validation / test splits.
 *
 * A crec_csr is a user x item matrix in compressed rows, each row in time order (ties keep load order).
 * A split is three such matrices over the same users and items; no (user, event) is in two of them,
 * and a split is a pure function of (dataset, spec), so train and eval always agree on it. */
#ifndef CREC_SPLIT_H
#define CREC_SPLIT_H

#include "crec/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct crec_csr {
    int32_t n_rows, n_cols;
    int64_t *ptr;   /* [n_rows + 1] */
    int32_t *idx;   /* [nnz] column (item) ids */
    int64_t *ts;    /* [nnz] timestamps */
    float *val;     /* [nnz] values */
} crec_csr;

CREC_API void crec_csr_free(crec_csr *m);
static inline int64_t crec_csr_nnz(const crec_csr *m) { return m->ptr ? m->ptr[m->n_rows] : 0; }
/* Build the by-user, time-ordered matrix of the whole log. */
CREC_API int crec_csr_from_dataset(const crec_dataset *ds, crec_csr *out);
/* Transpose (item x user), rows sorted by user id. */
CREC_API int crec_csr_transpose(const crec_csr *m, crec_csr *out);

typedef enum {
    CREC_SPLIT_LOO = 0,
    CREC_SPLIT_TEMPORAL,
    CREC_SPLIT_RANDOM,
    CREC_SPLIT_COLD_ITEMS, /* a seeded fraction of items: every event of theirs in test (valid: another fraction) */
    CREC_SPLIT_COLD_USERS, /* the same over users: test users have no training events at all */
    CREC_SPLIT_GIVEN,      /* the split the data came with: events of type "valid" / "test" (crec_load_crs) */
} crec_split_kind;

typedef struct crec_split_spec {
    crec_split_kind kind;
    double test_frac;    /* temporal: fraction of events (global time cut) in test; random: per-event prob. */
    double valid_frac;   /* same, for validation (taken from what remains before test) */
    uint64_t seed;       /* random only */
    int min_train;       /* loo: users with fewer than min_train+2 events keep all in train (default 1) */
} crec_split_spec;

typedef struct crec_split {
    crec_split_spec spec;
    crec_csr train, valid, test;
} crec_split;

/* Parse "loo", "temporal:0.2[:0.1]", "random:0.2[:0.1][:seed]", "cold-items:0.1[:0.05[:seed]]",
 * "cold-users:0.1[:0.05[:seed]]", "given". */
CREC_API int crec_split_spec_parse(const char *s, crec_split_spec *spec);
/* Canonical text of a spec (inverse of parse), into buf. */
CREC_API void crec_split_spec_format(const crec_split_spec *spec, char *buf, size_t n);
CREC_API int crec_split_make(const crec_dataset *ds, const crec_split_spec *spec, crec_split *out);
CREC_API void crec_split_free(crec_split *s);

#ifdef __cplusplus
}
#endif
#endif
