/* dataset.h: the in-memory dataset: an interaction log with external ids mapped to dense ints,
 * item metadata (title, multi-valued attributes, free text), loaders, the binary .crecds file, filters.
 *
 * The one idea: everything after loading speaks dense ints. users.names[u] and items.names[i] give the
 * external ids back. The log keeps load order; by-user time-ordered views are built by split.h. */
#ifndef CREC_DATASET_H
#define CREC_DATASET_H

#include <stdio.h>
#include "crec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* External string id <-> dense int32 id, 0..n-1 in order of first appearance. */
typedef struct crec_idmap {
    char **names;    /* names[id]: NUL-terminated external id, owned by the map */
    int32_t n, cap;
    int32_t *slots;  /* open-addressing hash table: id + 1, 0 = empty */
    uint32_t nslots; /* power of two */
    const char *pool;  /* names inside [pool, pool + pool_len) belong to a mapped file, not to the map */
    size_t pool_len;
} crec_idmap;

CREC_API void crec_idmap_init(crec_idmap *m);
CREC_API void crec_idmap_free(crec_idmap *m);
/* Dense id of s[0..len), or -1 when absent. */
CREC_API int32_t crec_idmap_get(const crec_idmap *m, const char *s, size_t len);
/* Dense id of s[0..len), adding it when absent. Returns the id (>= 0) or CREC_ENOMEM. */
CREC_API int32_t crec_idmap_intern(crec_idmap *m, const char *s, size_t len);

/* Item metadata arrays are indexed by dense item id and sized items.n (grown by the setters). */
typedef struct crec_dataset {
    crec_idmap users, items, attrs, event_types;
    crec_idmap user_attrs;   /* names of user features ("gender:F", "age:25-34", "occupation:writer") */

    /* Interaction log, load order. ts is seconds since the epoch when has_time, else the position
     * of the event in its source (so time order == file order). value is the rating, or 1. */
    int64_t n, cap;
    int32_t *user, *item;
    int64_t *ts;
    float *value;
    uint8_t *type;   /* index into event_types; 0 = "interaction" */
    int has_time;    /* 1 when ts holds real timestamps */
    int has_value;   /* 1 when value holds explicit ratings */

    /* Item metadata (may be NULL when no item has any). Strings owned by the dataset. */
    int32_t meta_cap;
    char **title;    /* title[i] or NULL */
    char **text;     /* free text of item i or NULL */
    /* Item attributes as (item, attr) pairs, in insertion order; crec_dataset_attr_csr builds the index. */
    int64_t n_attr_pairs, attr_cap;
    int32_t *attr_item, *attr_id;
    /* Lazily built CSR over attributes: attrs of item i are attr_idx[attr_ptr[i] .. attr_ptr[i+1]). */
    int64_t *attr_ptr;
    int32_t *attr_idx;

    /* User features as (user, feature) pairs; crec_dataset_user_attr_csr builds uattr_ptr/uattr_idx. */
    int64_t n_uattr_pairs, uattr_cap;
    int32_t *uattr_user, *uattr_id;
    int64_t *uattr_ptr;
    int32_t *uattr_idx;

    char name[128];  /* human label, e.g. "ml-100k" or "synth(seed=42)" */

    /* A dataset loaded from .crecds keeps the file mapped (private, copy-on-write) and its log and
     * attribute arrays point into it until the first append copies them out. */
    void *map;
    size_t map_len;
    int arrays_mapped;
} crec_dataset;

/* New empty dataset, or NULL on allocation failure. Free with crec_dataset_free. */
CREC_API crec_dataset *crec_dataset_new(void);
CREC_API void crec_dataset_free(crec_dataset *ds);

/* Append one interaction given external ids. Returns 0 or CREC_ENOMEM. */
CREC_API int crec_dataset_add(crec_dataset *ds, const char *user, size_t ulen, const char *item, size_t ilen,
                              int64_t ts, float value, uint8_t type);
/* Append one interaction given dense ids already in the maps. */
CREC_API int crec_dataset_add_dense(crec_dataset *ds, int32_t u, int32_t i, int64_t ts, float value, uint8_t type);
/* Dense id of an item, adding it (with no interactions) when absent. Returns id or CREC_ENOMEM. */
CREC_API int32_t crec_dataset_item(crec_dataset *ds, const char *item, size_t len);
/* Set (copy) the title / text of item i (dense). */
CREC_API int crec_dataset_set_title(crec_dataset *ds, int32_t i, const char *title, size_t len);
CREC_API int crec_dataset_set_text(crec_dataset *ds, int32_t i, const char *text, size_t len);
/* Attach attribute (external name) to item i. Duplicates are removed by crec_dataset_attr_csr. */
CREC_API int crec_dataset_add_attr(crec_dataset *ds, int32_t i, const char *attr, size_t len);
/* Build (or rebuild) attr_ptr/attr_idx, sorted and deduplicated per item. */
CREC_API int crec_dataset_attr_csr(crec_dataset *ds);
/* Attach feature (external name) to user u (dense). Duplicates are removed by crec_dataset_user_attr_csr. */
CREC_API int crec_dataset_add_user_attr(crec_dataset *ds, int32_t u, const char *attr, size_t len);
/* Build (or rebuild) uattr_ptr/uattr_idx over users.n users, sorted and deduplicated per user. */
CREC_API int crec_dataset_user_attr_csr(crec_dataset *ds);
/* Title of item i, or its external id when it has none. Never NULL for a valid i. */
CREC_API const char *crec_dataset_item_label(const crec_dataset *ds, int32_t i);

/* ---- loaders (each streams its file; see src/data/load_*.c) ---- */

typedef enum { CREC_FMT_UNKNOWN = -1, CREC_FMT_AUTO = 0, CREC_FMT_MOVIELENS, CREC_FMT_SEQUENCES, CREC_FMT_PAIRS, CREC_FMT_CSV, CREC_FMT_CRS } crec_format;

typedef struct crec_load_opts {
    int skip_bad;          /* 1: skip malformed lines, count them in n_skipped; 0: stop at the first */
    int64_t n_skipped;     /* out: lines skipped */
    int64_t n_lines;       /* out: lines read */
    char err[512];         /* out: "file:line: reason" of the first error (or first skipped line) */
    /* CSV/TSV only: column names (from the header) or 1-based numbers as text; NULL = default */
    const char *col_user, *col_item, *col_time, *col_value;
    char delim;            /* 0 = guess from the header (tab, comma, semicolon) */
    int no_header;         /* 1: the file has no header line; columns are numbers */
} crec_load_opts;

/* MovieLens: path is a directory holding u.data (100K), ratings.dat (1M/10M) or ratings.csv (latest/20M),
 * or one of those files; titles and genres come from u.item / movies.dat / movies.csv beside it, user
 * features (gender, age band, occupation) from u.user / users.dat when present. */
CREC_API int crec_load_movielens(crec_dataset *ds, const char *path, crec_load_opts *o);
/* One line per user: "user item item ..." in time order (SASRec/S3-Rec layout). */
CREC_API int crec_load_sequences(crec_dataset *ds, const char *path, crec_load_opts *o);
/* One "user item" pair per line (space, tab or "::" separated), in time order. */
CREC_API int crec_load_pairs(crec_dataset *ds, const char *path, crec_load_opts *o);
/* Generic CSV/TSV with a header; RFC 4180 quoting, CRLF, UTF-8 (a BOM is skipped). */
CREC_API int crec_load_csv(crec_dataset *ds, const char *path, crec_load_opts *o);
/* Item attributes: JSON {"item": [attr, ...], ...} or TSV lines "item<TAB>attr[ attr...]" (a header
 * line whose first field is not a known item is skipped). Items unknown to ds are ignored and counted. */
CREC_API int crec_load_item_attrs(crec_dataset *ds, const char *path, crec_load_opts *o);
/* Conversational-recommendation folder (SCPR/UNICORN review_dict_*.json + item_fea.json, or the plain
 * interactions.tsv + item_feature.tsv): items with attributes and the given split (event types "valid" and
 * "test"; split spec "given"). The coarse-attribute variant: crec_crs_load in crec/crs.h. */
CREC_API int crec_load_crs(crec_dataset *ds, const char *path, crec_load_opts *o);
/* Dispatch on fmt (AUTO guesses from the path). */
CREC_API int crec_load(crec_dataset *ds, crec_format fmt, const char *path, crec_load_opts *o);
CREC_API crec_format crec_format_parse(const char *name); /* "movielens" ... ; CREC_FMT_UNKNOWN when unknown */

/* ---- binary dataset file (.crecds): magic, version, sections, checksum ---- */
CREC_API int crec_dataset_save(const crec_dataset *ds, const char *path);
/* Load a .crecds into *out (caller frees). On failure *out is NULL and the code says why
 * (CREC_EFORMAT bad magic, CREC_EVERSION, CREC_ECHECKSUM, CREC_EIO). */
CREC_API int crec_dataset_load(const char *path, crec_dataset **out);

/* ---- filters (in place; ids are compacted afterwards so they stay dense) ---- */
/* Keep interactions with value >= min_value (implicit feedback from ratings); value is then set to 1. */
CREC_API int crec_dataset_filter_min_value(crec_dataset *ds, float min_value);
/* Remove repeated (user, item) pairs, keeping the earliest (keep_last=0) or latest (1). */
CREC_API int crec_dataset_dedup(crec_dataset *ds, int keep_last);
/* Iteratively drop users with < k_user and items with < k_item interactions. */
CREC_API int crec_dataset_kcore(crec_dataset *ds, int k_user, int k_item);
/* Drop users and items with no interactions and renumber densely (items with metadata are kept
 * only if keep_empty_items). */
CREC_API int crec_dataset_compact(crec_dataset *ds, int keep_empty_items);

/* ---- statistics ---- */
typedef struct crec_dataset_info {
    int64_t n_users, n_items, n_interactions, n_attrs, n_titled;
    double density;
    double seq_q[5];      /* min, 25%, median, 75%, max of per-user interaction counts */
    double seq_mean;
    double pop_gini;      /* Gini coefficient of item interaction counts (0 = uniform, 1 = one item) */
    int64_t n_repeats;    /* events whose (user, item) occurred earlier for the same user (repeat consumption) */
    int64_t n_repeat_users; /* users with at least one such event */
    int has_time, has_value;
} crec_dataset_info;
CREC_API int crec_dataset_info_compute(const crec_dataset *ds, crec_dataset_info *info);

/* ---- synthetic generator: the embedded default dataset ---- */
typedef struct crec_synth_opts {
    int32_t n_users, n_items, n_topics, n_attrs;
    int32_t min_len, max_len;   /* interactions per user: uniform-ish in [min_len, max_len] with a long tail */
    double pop_alpha;           /* power-law exponent of item popularity (Zipf) */
    double p_seq;               /* probability that the next item follows from the last one */
    double p_taste;             /* probability that it comes from the user's topics (else popularity) */
    double p_repeat;            /* probability that it repeats an earlier item of the user (default 0) */
    uint64_t seed;
} crec_synth_opts;
CREC_API void crec_synth_defaults(crec_synth_opts *o);
/* Generate into a new dataset (*out, caller frees). Deterministic for a given opts. */
CREC_API int crec_synth_generate(const crec_synth_opts *o, crec_dataset **out);

#ifdef __cplusplus
}
#endif
#endif
