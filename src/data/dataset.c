/* dataset.c: id maps, the interaction log and item metadata of a crec_dataset.
 * The id map is an open-addressing hash (FNV-1a, linear probing) over the names array, so the
 * dense id of a name is its index in names[]: the map is the vocabulary in both directions. */
#include "crec/dataset.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/util.h"
#include "data/dataset_internal.h"

void crec_idmap_init(crec_idmap *m) { memset(m, 0, sizeof *m); }

static int in_pool(const crec_idmap *m, const char *s) {
    return m->pool && s >= m->pool && s < m->pool + m->pool_len;
}

void crec_idmap_free(crec_idmap *m) {
    if (!m) return;
    for (int32_t i = 0; i < m->n; i++)
        if (!in_pool(m, m->names[i])) free(m->names[i]);
    free(m->names);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static uint32_t name_hash(const char *s, size_t len) { return (uint32_t)crec__fnv1a(s, len); }

int32_t crec_idmap_get(const crec_idmap *m, const char *s, size_t len) {
    if (!m->slots) return -1;
    uint32_t mask = m->nslots - 1;
    for (uint32_t h = name_hash(s, len) & mask;; h = (h + 1) & mask) {
        int32_t v = m->slots[h];
        if (v == 0) return -1;
        const char *nm = m->names[v - 1];
        if (strncmp(nm, s, len) == 0 && nm[len] == 0) return v - 1;
    }
}

static int idmap_rehash(crec_idmap *m, uint32_t nslots) {
    int32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots) return CREC_ENOMEM;
    uint32_t mask = nslots - 1;
    for (int32_t i = 0; i < m->n; i++) {
        uint32_t h = name_hash(m->names[i], strlen(m->names[i])) & mask;
        while (slots[h]) h = (h + 1) & mask;
        slots[h] = i + 1;
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = nslots;
    return 0;
}

int crec__idmap_from_pool(crec_idmap *m, const char *pool, size_t pool_len, int32_t n) {
    crec_idmap_init(m);
    if (n < 0 || (n > 0 && (pool_len == 0 || pool[pool_len - 1] != 0))) return CREC_EFORMAT;
    m->names = malloc(((size_t)n + 1) * sizeof *m->names);
    if (!m->names) return CREC_ENOMEM;
    const char *p = pool, *end = pool + pool_len;
    for (int32_t i = 0; i < n; i++) {
        if (p >= end) {
            free(m->names);
            m->names = NULL;
            return CREC_EFORMAT;
        }
        m->names[i] = (char *)p;
        p += strlen(p) + 1; /* the pool ends with NUL, so strlen stays inside */
    }
    if (p != end) {
        free(m->names);
        m->names = NULL;
        return CREC_EFORMAT;
    }
    m->n = m->cap = n;
    m->pool = pool;
    m->pool_len = pool_len;
    uint32_t ns = 64;
    while ((uint64_t)ns < (uint64_t)n * 2 + 2) ns *= 2;
    int rc = idmap_rehash(m, ns);
    /* a crafted file can repeat a name: ids would no longer be one per name (compaction, lookups rely on it) */
    for (int32_t i = 0; !rc && i < n; i++)
        if (crec_idmap_get(m, m->names[i], strlen(m->names[i])) != i) rc = CREC_EFORMAT;
    if (rc) {
        free(m->slots);
        free(m->names);
        crec_idmap_init(m);
    }
    return rc;
}

int32_t crec_idmap_intern(crec_idmap *m, const char *s, size_t len) {
    int32_t id = crec_idmap_get(m, s, len);
    if (id >= 0) return id;
    if ((uint64_t)(m->n + 1) * 2 > m->nslots) {
        if (idmap_rehash(m, m->nslots ? m->nslots * 2 : 64)) return CREC_ENOMEM;
    }
    if (m->n == m->cap) {
        int64_t cap = m->cap;
        void *p = m->names;
        if (crec__grow(&p, &cap, m->n + 1, sizeof(char *))) return CREC_ENOMEM;
        m->names = p;
        m->cap = (int32_t)cap;
    }
    char *nm = crec__strndup(s, len);
    if (!nm) return CREC_ENOMEM;
    id = m->n++;
    m->names[id] = nm;
    uint32_t mask = m->nslots - 1;
    uint32_t h = name_hash(s, len) & mask;
    while (m->slots[h]) h = (h + 1) & mask;
    m->slots[h] = id + 1;
    return id;
}

crec_dataset *crec_dataset_new(void) {
    crec_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return NULL;
    if (crec_idmap_intern(&ds->event_types, "interaction", 11) < 0) {
        free(ds);
        return NULL;
    }
    return ds;
}

void crec_dataset_free(crec_dataset *ds) {
    if (!ds) return;
    crec_idmap_free(&ds->users);
    crec_idmap_free(&ds->attrs);
    crec_idmap_free(&ds->event_types);
    crec_idmap_free(&ds->user_attrs);
    if (ds->title)
        for (int32_t i = 0; i < ds->meta_cap; i++) free(ds->title[i]);
    if (ds->text)
        for (int32_t i = 0; i < ds->meta_cap; i++) free(ds->text[i]);
    crec_idmap_free(&ds->items);
    free(ds->title);
    free(ds->text);
    if (!ds->arrays_mapped) {
        free(ds->user);
        free(ds->item);
        free(ds->ts);
        free(ds->value);
        free(ds->type);
        free(ds->attr_item);
        free(ds->attr_id);
        free(ds->uattr_user);
        free(ds->uattr_id);
    }
    free(ds->uattr_ptr);
    free(ds->uattr_idx);
    free(ds->attr_ptr);
    free(ds->attr_idx);
    if (ds->map) munmap(ds->map, ds->map_len);
    free(ds);
}

/* Copy arrays that point into a mapped file out to the heap, so they can grow. */
static int detach_arrays(crec_dataset *ds) {
    if (!ds->arrays_mapped) return 0;
    int64_t n = ds->n, na = ds->n_attr_pairs;
    int32_t *u = malloc((size_t)(n + 1) * 4), *it = malloc((size_t)(n + 1) * 4);
    int64_t *ts = malloc((size_t)(n + 1) * 8);
    float *v = malloc((size_t)(n + 1) * 4);
    uint8_t *ty = malloc((size_t)n + 1);
    int32_t *ai = malloc((size_t)(na + 1) * 4), *aid = malloc((size_t)(na + 1) * 4);
    int64_t nua = ds->n_uattr_pairs;
    int32_t *uu = malloc((size_t)(nua + 1) * 4), *uid = malloc((size_t)(nua + 1) * 4);
    if (!u || !it || !ts || !v || !ty || !ai || !aid || !uu || !uid) {
        free(u), free(it), free(ts), free(v), free(ty), free(ai), free(aid), free(uu), free(uid);
        return CREC_ENOMEM;
    }
    memcpy(uu, ds->uattr_user, (size_t)nua * 4);
    memcpy(uid, ds->uattr_id, (size_t)nua * 4);
    ds->uattr_user = uu, ds->uattr_id = uid;
    ds->uattr_cap = nua + 1;
    memcpy(u, ds->user, (size_t)n * 4);
    memcpy(it, ds->item, (size_t)n * 4);
    memcpy(ts, ds->ts, (size_t)n * 8);
    memcpy(v, ds->value, (size_t)n * 4);
    memcpy(ty, ds->type, (size_t)n);
    memcpy(ai, ds->attr_item, (size_t)na * 4);
    memcpy(aid, ds->attr_id, (size_t)na * 4);
    ds->user = u, ds->item = it, ds->ts = ts, ds->value = v, ds->type = ty;
    ds->attr_item = ai, ds->attr_id = aid;
    ds->cap = n + 1;
    ds->attr_cap = na + 1;
    ds->arrays_mapped = 0;
    return 0;
}

int crec_dataset_add_dense(crec_dataset *ds, int32_t u, int32_t i, int64_t ts, float value, uint8_t type) {
    if (u < 0 || i < 0 || u >= ds->users.n || i >= ds->items.n) return CREC_EINVAL;
    if (ds->arrays_mapped && detach_arrays(ds)) return CREC_ENOMEM;
    if (ds->n == ds->cap) {
        int64_t need = ds->n + 1, cap;
        void *p;
#define GROW(field)                                                        \
    cap = ds->cap;                                                         \
    p = ds->field;                                                         \
    if (crec__grow(&p, &cap, need, sizeof *ds->field)) return CREC_ENOMEM; \
    ds->field = p;
        GROW(user) GROW(item) GROW(ts) GROW(value) GROW(type)
#undef GROW
        ds->cap = cap;
    }
    ds->user[ds->n] = u;
    ds->item[ds->n] = i;
    ds->ts[ds->n] = ts;
    ds->value[ds->n] = value;
    ds->type[ds->n] = type;
    ds->n++;
    return 0;
}

int crec_dataset_add(crec_dataset *ds, const char *user, size_t ulen, const char *item, size_t ilen, int64_t ts,
                     float value, uint8_t type) {
    int32_t u = crec_idmap_intern(&ds->users, user, ulen);
    if (u < 0) return u;
    int32_t i = crec_dataset_item(ds, item, ilen);
    if (i < 0) return i;
    return crec_dataset_add_dense(ds, u, i, ts, value, type);
}

int32_t crec_dataset_item(crec_dataset *ds, const char *item, size_t len) {
    return crec_idmap_intern(&ds->items, item, len);
}

/* Make the per-item metadata arrays cover item i. */
static int meta_reserve(crec_dataset *ds, int32_t i) {
    if (i < ds->meta_cap) return 0;
    int32_t nc = ds->meta_cap ? ds->meta_cap : 64;
    while (nc <= i) nc *= 2;
    char **t = realloc(ds->title, (size_t)nc * sizeof *t);
    if (!t) return CREC_ENOMEM;
    ds->title = t;
    char **x = realloc(ds->text, (size_t)nc * sizeof *x);
    if (!x) return CREC_ENOMEM;
    ds->text = x;
    for (int32_t k = ds->meta_cap; k < nc; k++) ds->title[k] = ds->text[k] = NULL;
    ds->meta_cap = nc;
    return 0;
}

static int set_str(crec_dataset *ds, char ***arr, int32_t i, const char *s, size_t len) {
    if (i < 0 || i >= ds->items.n) return CREC_EINVAL;
    if (meta_reserve(ds, i)) return CREC_ENOMEM;
    char *c = crec__strndup(s, len);
    if (!c) return CREC_ENOMEM;
    free((*arr)[i]);
    (*arr)[i] = c;
    return 0;
}

int crec_dataset_set_title(crec_dataset *ds, int32_t i, const char *t, size_t len) {
    return set_str(ds, &ds->title, i, t, len);
}
int crec_dataset_set_text(crec_dataset *ds, int32_t i, const char *t, size_t len) {
    return set_str(ds, &ds->text, i, t, len);
}

int crec_dataset_add_attr(crec_dataset *ds, int32_t i, const char *attr, size_t len) {
    if (i < 0 || i >= ds->items.n) return CREC_EINVAL;
    int32_t a = crec_idmap_intern(&ds->attrs, attr, len);
    if (a < 0) return a;
    if (ds->arrays_mapped && detach_arrays(ds)) return CREC_ENOMEM;
    if (ds->n_attr_pairs == ds->attr_cap) {
        int64_t cap = ds->attr_cap;
        void *p = ds->attr_item;
        if (crec__grow(&p, &cap, ds->n_attr_pairs + 1, sizeof(int32_t))) return CREC_ENOMEM;
        ds->attr_item = p;
        cap = ds->attr_cap;
        p = ds->attr_id;
        if (crec__grow(&p, &cap, ds->n_attr_pairs + 1, sizeof(int32_t))) return CREC_ENOMEM;
        ds->attr_id = p;
        ds->attr_cap = cap;
    }
    ds->attr_item[ds->n_attr_pairs] = i;
    ds->attr_id[ds->n_attr_pairs] = a;
    ds->n_attr_pairs++;
    free(ds->attr_ptr); /* index is stale */
    free(ds->attr_idx);
    ds->attr_ptr = NULL;
    ds->attr_idx = NULL;
    return 0;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* CSR of (row, id) pairs over nrows rows, each row sorted and deduplicated. New arrays into ptr_out and idx_out. */
static int pairs_csr(int32_t ni, const int32_t *row, const int32_t *id, int64_t npairs, int64_t **ptr_out,
                     int32_t **idx_out) {
    int64_t *ptr = calloc((size_t)ni + 1, sizeof *ptr);
    int32_t *idx = malloc((size_t)(npairs ? npairs : 1) * sizeof *idx);
    int64_t *fill = malloc(((size_t)ni + 1) * sizeof *fill);
    if (!ptr || !idx || !fill) {
        free(ptr);
        free(idx);
        free(fill);
        return CREC_ENOMEM;
    }
    for (int64_t k = 0; k < npairs; k++)
        if (row[k] >= 0 && row[k] < ni) ptr[row[k] + 1]++;
    for (int32_t i = 0; i < ni; i++) ptr[i + 1] += ptr[i];
    memcpy(fill, ptr, ((size_t)ni + 1) * sizeof *fill);
    for (int64_t k = 0; k < npairs; k++)
        if (row[k] >= 0 && row[k] < ni) idx[fill[row[k]]++] = id[k];
    free(fill);
    /* sort + dedup each row, compacting in place */
    int64_t w = 0;
    for (int32_t i = 0; i < ni; i++) {
        int64_t b = ptr[i], e = ptr[i + 1];
        qsort(idx + b, (size_t)(e - b), sizeof *idx, cmp_i32);
        ptr[i] = w;
        for (int64_t k = b; k < e; k++)
            if (k == b || idx[k] != idx[k - 1]) idx[w++] = idx[k];
    }
    ptr[ni] = w;
    *ptr_out = ptr;
    *idx_out = idx;
    return 0;
}

int crec_dataset_attr_csr(crec_dataset *ds) {
    int64_t *ptr;
    int32_t *idx;
    int rc = pairs_csr(ds->items.n, ds->attr_item, ds->attr_id, ds->n_attr_pairs, &ptr, &idx);
    if (rc) return rc;
    free(ds->attr_ptr);
    free(ds->attr_idx);
    ds->attr_ptr = ptr;
    ds->attr_idx = idx;
    return 0;
}

int crec_dataset_add_user_attr(crec_dataset *ds, int32_t u, const char *attr, size_t len) {
    if (u < 0 || u >= ds->users.n) return CREC_EINVAL;
    int32_t a = crec_idmap_intern(&ds->user_attrs, attr, len);
    if (a < 0) return a;
    if (ds->arrays_mapped && detach_arrays(ds)) return CREC_ENOMEM;
    if (ds->n_uattr_pairs == ds->uattr_cap) {
        int64_t cap = ds->uattr_cap;
        void *p = ds->uattr_user;
        if (crec__grow(&p, &cap, ds->n_uattr_pairs + 1, sizeof(int32_t))) return CREC_ENOMEM;
        ds->uattr_user = p;
        cap = ds->uattr_cap;
        p = ds->uattr_id;
        if (crec__grow(&p, &cap, ds->n_uattr_pairs + 1, sizeof(int32_t))) return CREC_ENOMEM;
        ds->uattr_id = p;
        ds->uattr_cap = cap;
    }
    ds->uattr_user[ds->n_uattr_pairs] = u;
    ds->uattr_id[ds->n_uattr_pairs] = a;
    ds->n_uattr_pairs++;
    free(ds->uattr_ptr);
    free(ds->uattr_idx);
    ds->uattr_ptr = NULL;
    ds->uattr_idx = NULL;
    return 0;
}

int crec_dataset_user_attr_csr(crec_dataset *ds) {
    int64_t *ptr;
    int32_t *idx;
    int rc = pairs_csr(ds->users.n, ds->uattr_user, ds->uattr_id, ds->n_uattr_pairs, &ptr, &idx);
    if (rc) return rc;
    free(ds->uattr_ptr);
    free(ds->uattr_idx);
    ds->uattr_ptr = ptr;
    ds->uattr_idx = idx;
    return 0;
}

const char *crec_dataset_item_label(const crec_dataset *ds, int32_t i) {
    if (i < 0 || i >= ds->items.n) return "?";
    if (ds->title && i < ds->meta_cap && ds->title[i]) return ds->title[i];
    return ds->items.names[i];
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double quantile_sorted(const int64_t *v, int64_t n, double q) {
    if (n == 0) return 0;
    double pos = q * (double)(n - 1);
    int64_t lo = (int64_t)pos;
    int64_t hi = lo + 1 < n ? lo + 1 : lo;
    double f = pos - (double)lo;
    return (double)v[lo] * (1 - f) + (double)v[hi] * f;
}

/* Gini of non-negative counts (sorted ascending in place). */
static double gini_counts(int64_t *c, int64_t n) {
    qsort(c, (size_t)n, sizeof *c, cmp_i64);
    double num = 0, sum = 0;
    for (int64_t i = 0; i < n; i++) {
        num += (double)(2 * (i + 1) - n - 1) * (double)c[i];
        sum += (double)c[i];
    }
    return sum > 0 ? num / ((double)n * sum) : 0;
}

int crec_dataset_info_compute(const crec_dataset *ds, crec_dataset_info *info) {
    memset(info, 0, sizeof *info);
    info->n_users = ds->users.n;
    info->n_items = ds->items.n;
    info->n_interactions = ds->n;
    info->n_attrs = ds->attrs.n;
    info->has_time = ds->has_time;
    info->has_value = ds->has_value;
    for (int32_t i = 0; ds->title && i < ds->items.n && i < ds->meta_cap; i++) info->n_titled += ds->title[i] != NULL;
    if (ds->users.n > 0 && ds->items.n > 0)
        info->density = (double)ds->n / ((double)ds->users.n * (double)ds->items.n);
    int64_t *uc = calloc((size_t)ds->users.n + 1, sizeof *uc);
    int64_t *ic = calloc((size_t)ds->items.n + 1, sizeof *ic);
    if (!uc || !ic) {
        free(uc);
        free(ic);
        return CREC_ENOMEM;
    }
    for (int64_t k = 0; k < ds->n; k++) {
        uc[ds->user[k]]++;
        ic[ds->item[k]]++;
    }
    qsort(uc, (size_t)ds->users.n, sizeof *uc, cmp_i64);
    double qs[5] = {0, 0.25, 0.5, 0.75, 1};
    for (int k = 0; k < 5; k++) info->seq_q[k] = quantile_sorted(uc, ds->users.n, qs[k]);
    info->seq_mean = ds->users.n ? (double)ds->n / ds->users.n : 0;
    info->pop_gini = gini_counts(ic, ds->items.n);
    free(uc);
    free(ic);
    /* repeat consumption: sort the (user, item) keys; a key equal to its predecessor is a repeat */
    uint64_t *key = malloc((size_t)(ds->n > 0 ? ds->n : 1) * sizeof *key);
    if (!key) return CREC_ENOMEM;
    for (int64_t k = 0; k < ds->n; k++) key[k] = (uint64_t)(uint32_t)ds->user[k] << 32 | (uint32_t)ds->item[k];
    qsort(key, (size_t)ds->n, sizeof *key, cmp_u64);
    int64_t last_user = -1;
    for (int64_t k = 1; k < ds->n; k++) {
        if (key[k] != key[k - 1]) continue;
        info->n_repeats++;
        if ((int64_t)(key[k] >> 32) != last_user) {
            last_user = (int64_t)(key[k] >> 32);
            info->n_repeat_users++;
        }
    }
    free(key);
    return 0;
}
