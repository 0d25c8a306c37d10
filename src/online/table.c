/* table.c: the collisionless embedding table (see crec/online.h).
 *
 * Two halves, each an array of nb buckets of 4 slots (bucketized cuckoo hashing, two hash functions: id lives in
 * half 0 at bucket h0(id) or in half 1 at bucket h1(id)). Per half three parallel arrays indexed by slot:
 *   keys[slot]   the id (UINT64_MAX = empty; the one id equal to it lives in a side row, `special`)
 *   flags[slot]  DIRTY when touched since the last export
 *   rows[slot]   stride bytes, 64-byte aligned base, stride a multiple of 16:
 *                [id u64][touch i64][vector dim floats][optimizer state sdim floats][pad]
 * A lookup reads at most two 32-byte key buckets, then the row. An insert that finds both buckets full evicts a
 * random occupant to its other bucket (random walk, at most MAX_KICKS steps); a walk that fails is undone swap by
 * swap and the table grows (rehash into twice the buckets), so an insert either succeeds or leaves the table as it
 * was. Rows move on eviction and growth, which is why row pointers live only until the next insert. */
#include "crec/online.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/binio.h"
#include "core/util.h"
#include "online/filter.h"
#include "online/mix.h"

#define SLOTS 4
#define EMPTY UINT64_MAX
#define HDR 16
#define F_DIRTY 1u
#define MAX_KICKS 256
#define LOAD_MAX 0.92
#define SNAP_MAGIC "CRECOTS\1"
#define DELTA_MAGIC "CRECOTD\1"
#define FILE_VERSION 1u

typedef struct half {
    uint64_t *keys;
    uint8_t *flags;
    uint8_t *rows;
} half;

struct crec_online_table {
    crec_online_opts o;
    int sdim;
    size_t stride;   /* bytes per slot row */
    size_t rowbytes; /* bytes of a row that carry data: HDR + (dim + sdim) * 4 */
    uint64_t nb, mask, seed0, seed1;
    half h[2];
    uint64_t n; /* rows in the halves (the special row excluded) */
    uint8_t *special, special_flags;
    int has_special;
    crec_cms cms;
    int has_cms;
    uint64_t *removed;
    int64_t n_removed, cap_removed;
    uint8_t *tmp, *build, *swap; /* scratch rows: the cuckoo walk's homeless row, a row being built, a swap */
    uint64_t rng;
    uint64_t admitted, filtered, expired, kicks, rehashes, seq;
};

/* ---- options ---- */

void crec_online_opts_default(crec_online_opts *o, int dim) {
    memset(o, 0, sizeof *o);
    o->dim = dim;
    o->optim = CREC_ONLINE_ADAGRAD;
    o->lr = 0.05f;
    o->adagrad_init = 0.1f;
    o->adagrad_eps = 1e-7f;
    o->ftrl_beta = 1.0f;
    o->init_scale = 0.01f;
    o->min_count = 1;
    o->filter_width = 1u << 20;
    o->filter_depth = 4;
    o->capacity = 1024;
    o->seed = 42;
}

static int nonneg(float x) { return isfinite(x) && x >= 0; }

/* Check o and fill its defaults; 0 or CREC_EINVAL. */
static int check_opts(crec_online_opts *o) {
    if (o->dim < 1 || o->dim > 65536) return CREC_EINVAL;
    if (o->optim != CREC_ONLINE_SGD && o->optim != CREC_ONLINE_ADAGRAD && o->optim != CREC_ONLINE_FTRL)
        return CREC_EINVAL;
    if (!isfinite(o->lr) || o->lr <= 0) return CREC_EINVAL;
    if (!nonneg(o->adagrad_init) || !nonneg(o->adagrad_eps) || !nonneg(o->ftrl_beta) || !nonneg(o->ftrl_l1) ||
        !nonneg(o->ftrl_l2) || !nonneg(o->init_scale))
        return CREC_EINVAL;
    if (o->optim == CREC_ONLINE_ADAGRAD && !(o->adagrad_init + o->adagrad_eps > 0)) return CREC_EINVAL;
    if (o->min_count < 1 || o->min_count > 65535) return CREC_EINVAL;
    if (o->filter_width == 0) o->filter_width = 1u << 20;
    if (o->filter_width > (1u << 30)) return CREC_EINVAL;
    uint32_t w = 1;
    while (w < o->filter_width) w <<= 1;
    o->filter_width = w;
    if (o->filter_depth == 0) o->filter_depth = 4;
    if (o->filter_depth > 16) return CREC_EINVAL;
    if (o->ttl < 0) return CREC_EINVAL;
    return 0;
}

static int state_dim(const crec_online_opts *o) {
    return o->optim == CREC_ONLINE_SGD ? 0 : o->optim == CREC_ONLINE_ADAGRAD ? o->dim : 2 * o->dim;
}

/* ---- rows and hashing ---- */

static inline uint64_t row_id(const uint8_t *r) {
    uint64_t id;
    memcpy(&id, r, 8);
    return id;
}
static inline int64_t row_touch(const uint8_t *r) {
    int64_t ts;
    memcpy(&ts, r + 8, 8);
    return ts;
}
static inline void set_touch(uint8_t *r, int64_t ts) { memcpy(r + 8, &ts, 8); }
static inline uint64_t hash_b(const crec_online_table *t, int i, uint64_t id) {
    return crec__mix64(id ^ (i ? t->seed1 : t->seed0)) & t->mask;
}
static inline uint8_t *slot_row(const crec_online_table *t, int i, uint64_t s) {
    return t->h[i].rows + s * t->stride;
}

static uint64_t next_rand(crec_online_table *t) {
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    return t->rng;
}

/* Row of id, or NULL; *hi / *slot say where (hi 2: the special row). */
static inline uint8_t *find(const crec_online_table *t, uint64_t id, int *hi, uint64_t *slot) {
    if (id == EMPTY) {
        *hi = 2;
        *slot = 0;
        return t->has_special ? t->special : NULL;
    }
    uint64_t b[2] = {hash_b(t, 0, id) * SLOTS, hash_b(t, 1, id) * SLOTS};
    __builtin_prefetch(t->h[1].keys + b[1]); /* both buckets' misses overlap */
    for (int i = 0; i < 2; i++) {
        const uint64_t *k = t->h[i].keys + b[i];
        for (int j = 0; j < SLOTS; j++)
            if (k[j] == id) {
                *hi = i;
                *slot = b[i] + j;
                return slot_row(t, i, b[i] + j);
            }
    }
    return NULL;
}

/* Large arrays: 2 MiB aligned and advised as transparent huge pages (where THP is in madvise mode), which cuts the
 * page faults of a growth and the TLB misses of random lookups; zeroed when zero, freed with free(). */
static void *big_alloc(size_t n, int zero) {
    const size_t huge = (size_t)2 << 20;
    if (n < 2 * huge) return zero ? crec__aligned_alloc(n) : aligned_alloc(64, (n + 63) & ~(size_t)63);
    size_t sz = (n + huge - 1) & ~(huge - 1);
    void *p = aligned_alloc(huge, sz);
    if (!p) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, sz, MADV_HUGEPAGE);
#endif
    if (zero) memset(p, 0, sz);
    return p;
}

static void half_free(half *h) {
    free(h->keys);
    free(h->flags);
    free(h->rows);
    memset(h, 0, sizeof *h);
}

static int half_alloc(half *h, uint64_t nb, size_t stride) {
    memset(h, 0, sizeof *h);
    uint64_t ns = nb * SLOTS;
    if (ns > (UINT64_MAX / 2) / (stride + 16)) return CREC_ENOMEM;
    h->keys = big_alloc(ns * 8, 0); /* set to EMPTY below */
    h->flags = big_alloc(ns, 1);
    h->rows = big_alloc(ns * stride, 0); /* a row is written whole before it is read */
    if (!h->keys || !h->flags || !h->rows) {
        half_free(h);
        return CREC_ENOMEM;
    }
    memset(h->keys, 0xff, ns * 8);
    return 0;
}

/* Write row src (flags fl) into slot s of half i. */
static inline void put_slot(crec_online_table *t, int i, uint64_t s, const uint8_t *src, uint8_t fl) {
    memcpy(slot_row(t, i, s), src, t->stride);
    t->h[i].keys[s] = row_id(src);
    t->h[i].flags[s] = fl;
}

static void swap_slot(crec_online_table *t, int i, uint64_t s, uint8_t *homeless, uint8_t *fl) {
    uint8_t *r = slot_row(t, i, s);
    memcpy(t->swap, r, t->stride);
    memcpy(r, homeless, t->stride);
    memcpy(homeless, t->swap, t->stride);
    uint8_t f = t->h[i].flags[s];
    t->h[i].flags[s] = *fl;
    *fl = f;
    t->h[i].keys[s] = row_id(r);
}

static inline int place_free(crec_online_table *t, int i, uint64_t id, const uint8_t *src, uint8_t fl) {
    uint64_t b = hash_b(t, i, id) * SLOTS;
    for (int j = 0; j < SLOTS; j++)
        if (t->h[i].keys[b + j] == EMPTY) {
            put_slot(t, i, b + j, src, fl);
            return 1;
        }
    return 0;
}

/* Place a row whose id is absent and not EMPTY: 0, or -1 with the table exactly as before. */
static int place(crec_online_table *t, const uint8_t *src, uint8_t fl) {
    uint64_t id = row_id(src);
    if (place_free(t, 0, id, src, fl) || place_free(t, 1, id, src, fl)) {
        t->n++;
        return 0;
    }
    struct { int i; uint64_t s; } path[MAX_KICKS];
    memcpy(t->tmp, src, t->stride);
    uint8_t hf = fl;
    int i = (int)(next_rand(t) & 1);
    for (int k = 0; k < MAX_KICKS; k++) {
        uint64_t s = hash_b(t, i, row_id(t->tmp)) * SLOTS + (next_rand(t) & (SLOTS - 1));
        swap_slot(t, i, s, t->tmp, &hf);
        path[k].i = i;
        path[k].s = s;
        t->kicks++;
        i = 1 - i; /* the evicted row's other bucket is in the other half */
        if (place_free(t, i, row_id(t->tmp), t->tmp, hf)) {
            t->n++;
            return 0;
        }
    }
    for (int k = MAX_KICKS - 1; k >= 0; k--) swap_slot(t, path[k].i, path[k].s, t->tmp, &hf);
    return -1;
}

/* Rehash into at least nb2 buckets per half; 0 or CREC_ENOMEM (table unchanged). */
static int rehash(crec_online_table *t, uint64_t nb2) {
    half old[2] = {t->h[0], t->h[1]};
    uint64_t old_nb = t->nb, old_n = t->n;
    for (;; nb2 *= 2) {
        half nh[2];
        if (half_alloc(&nh[0], nb2, t->stride)) return CREC_ENOMEM;
        if (half_alloc(&nh[1], nb2, t->stride)) {
            half_free(&nh[0]);
            return CREC_ENOMEM;
        }
        t->h[0] = nh[0];
        t->h[1] = nh[1];
        t->nb = nb2;
        t->mask = nb2 - 1;
        t->n = 0;
        int ok = 1;
        for (int i = 0; i < 2 && ok; i++)
            for (uint64_t s = 0; s < old_nb * SLOTS && ok; s++)
                if (old[i].keys[s] != EMPTY && place(t, old[i].rows + s * t->stride, old[i].flags[s])) ok = 0;
        if (ok) break;
        half_free(&t->h[0]);
        half_free(&t->h[1]);
        t->h[0] = old[0];
        t->h[1] = old[1];
        t->nb = old_nb;
        t->mask = old_nb - 1;
        t->n = old_n;
        if (nb2 > (UINT64_MAX >> 8)) return CREC_ENOMEM;
    }
    half_free(&old[0]);
    half_free(&old[1]);
    t->rehashes++;
    return 0;
}

/* Insert a row whose id is absent; 0 or CREC_ENOMEM (table unchanged). src must not be t->tmp. */
static int insert(crec_online_table *t, const uint8_t *src, uint8_t fl) {
    if (row_id(src) == EMPTY) {
        memcpy(t->special, src, t->stride);
        t->special_flags = fl;
        t->has_special = 1;
        return 0;
    }
    if ((double)(t->n + 1) > LOAD_MAX * (double)(2 * t->nb * SLOTS)) {
        int rc = rehash(t, t->nb * 2);
        if (rc) return rc;
    }
    while (place(t, src, fl)) {
        int rc = rehash(t, t->nb * 2);
        if (rc) return rc;
    }
    return 0;
}

/* Initial vector (uniform in [-s, s) from seed, id, coordinate) and optimizer state. */
static void init_row(const crec_online_table *t, uint8_t *r, uint64_t id, int64_t now) {
    memset(r, 0, t->stride);
    memcpy(r, &id, 8);
    set_touch(r, now);
    float *v = (float *)(r + HDR), *st = v + t->o.dim;
    if (t->o.init_scale > 0) {
        uint64_t base = crec__mix64(id ^ crec__mix64(t->o.seed + 0x9e3779b97f4a7c15ULL));
        for (int j = 0; j < t->o.dim; j++) {
            uint64_t u = crec__mix64(base + (uint64_t)j * 0x9e3779b97f4a7c15ULL);
            v[j] = (float)(((double)(u >> 40) * (1.0 / 16777216.0) * 2.0 - 1.0) * t->o.init_scale);
        }
    }
    if (t->o.optim == CREC_ONLINE_ADAGRAD)
        for (int j = 0; j < t->o.dim; j++) st[j] = t->o.adagrad_init;
}

/* ---- construction ---- */

crec_online_table *crec_online_table_new(const crec_online_opts *o) {
    if (!o) return NULL;
    crec_online_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->o = *o;
    if (check_opts(&t->o)) {
        free(t);
        return NULL;
    }
    t->sdim = state_dim(&t->o);
    t->rowbytes = HDR + (size_t)(t->o.dim + t->sdim) * 4;
    t->stride = (t->rowbytes + 15) & ~(size_t)15;
    t->seed0 = crec__mix64(t->o.seed ^ 0x243f6a8885a308d3ULL);
    t->seed1 = crec__mix64(t->o.seed ^ 0x13198a2e03707344ULL);
    t->rng = crec__mix64(t->o.seed ^ 0xa4093822299f31d0ULL) | 1;
    uint64_t nb = 1;
    double want = (double)t->o.capacity / (2.0 * SLOTS * 0.85);
    while ((double)nb < want && nb < (1ULL << 40)) nb <<= 1;
    t->nb = nb;
    t->mask = nb - 1;
    t->special = crec__aligned_alloc(t->stride);
    t->tmp = crec__aligned_alloc(t->stride);
    t->build = crec__aligned_alloc(t->stride);
    t->swap = crec__aligned_alloc(t->stride);
    int bad = !t->special || !t->tmp || !t->build || !t->swap || half_alloc(&t->h[0], nb, t->stride) ||
              half_alloc(&t->h[1], nb, t->stride);
    if (!bad && t->o.min_count > 1) {
        bad = crec__cms_init(&t->cms, t->o.filter_width, t->o.filter_depth, crec__mix64(t->o.seed ^ 0xcafef00dULL));
        t->has_cms = !bad;
    }
    if (bad) {
        crec_online_table_free(t);
        return NULL;
    }
    return t;
}

void crec_online_table_free(crec_online_table *t) {
    if (!t) return;
    half_free(&t->h[0]);
    half_free(&t->h[1]);
    if (t->has_cms) crec__cms_free(&t->cms);
    free(t->special);
    free(t->tmp);
    free(t->build);
    free(t->swap);
    free(t->removed);
    free(t);
}

const crec_online_opts *crec_online_table_opts(const crec_online_table *t) { return t ? &t->o : NULL; }
int crec_online_table_state_dim(const crec_online_table *t) { return t ? t->sdim : 0; }

void crec_online_table_stats(const crec_online_table *t, crec_online_stats *s) {
    if (!s) return;
    memset(s, 0, sizeof *s);
    if (!t) return;
    s->rows = t->n + (uint64_t)t->has_special;
    s->slots = 2 * t->nb * SLOTS;
    s->filter_bytes = t->has_cms ? crec__cms_bytes(&t->cms) : 0;
    s->bytes = sizeof *t + s->slots * (8 + 1 + t->stride) + 4 * t->stride + s->filter_bytes +
               (uint64_t)t->cap_removed * 8;
    s->admitted = t->admitted;
    s->filtered = t->filtered;
    s->expired = t->expired;
    s->kicks = t->kicks;
    s->rehashes = t->rehashes;
    s->export_seq = t->seq;
}

/* ---- lookups ---- */

const float *crec_online_table_lookup(const crec_online_table *t, uint64_t id) {
    if (!t) return NULL;
    int hi;
    uint64_t s;
    uint8_t *r = find(t, id, &hi, &s);
    return r ? (const float *)(r + HDR) : NULL;
}

/* Software-pipelined: the key buckets of group g + 1 are prefetched before group g is resolved, and every row found
 * is prefetched for the caller. */
size_t crec_online_table_lookup_batch(const crec_online_table *t, const uint64_t *ids, size_t n, const float **rows) {
    if (!t || (!ids && n) || (!rows && n)) return 0;
    enum { G = 16 };
    uint64_t bk[2][2][G];
    size_t found = 0;
    for (size_t base = 0, cur = 0; base < n; base += G, cur ^= 1) {
        if (base == 0)
            for (size_t k = 0; k < G && k < n; k++) {
                bk[0][0][k] = hash_b(t, 0, ids[k]) * SLOTS;
                bk[0][1][k] = hash_b(t, 1, ids[k]) * SLOTS;
                __builtin_prefetch(t->h[0].keys + bk[0][0][k]);
                __builtin_prefetch(t->h[1].keys + bk[0][1][k]);
            }
        size_t nx = base + G;
        for (size_t k = 0; k < G && nx + k < n; k++) {
            uint64_t id = ids[nx + k];
            bk[cur ^ 1][0][k] = hash_b(t, 0, id) * SLOTS;
            bk[cur ^ 1][1][k] = hash_b(t, 1, id) * SLOTS;
            __builtin_prefetch(t->h[0].keys + bk[cur ^ 1][0][k]);
            __builtin_prefetch(t->h[1].keys + bk[cur ^ 1][1][k]);
        }
        size_t m = n - base < G ? n - base : G;
        for (size_t k = 0; k < m; k++) {
            uint64_t id = ids[base + k], b0 = bk[cur][0][k], b1 = bk[cur][1][k];
            const uint8_t *r = NULL;
            if (id == EMPTY) {
                r = t->has_special ? t->special : NULL;
            } else {
                const uint64_t *k0 = t->h[0].keys + b0, *k1 = t->h[1].keys + b1;
                for (int j = 0; j < SLOTS && !r; j++) {
                    if (k0[j] == id) r = slot_row(t, 0, b0 + j);
                    else if (k1[j] == id) r = slot_row(t, 1, b1 + j);
                }
            }
            if (r) {
                __builtin_prefetch(r + HDR);
                found++;
            }
            rows[base + k] = r ? (const float *)(r + HDR) : NULL;
        }
    }
    return found;
}

/* ---- the training path ---- */

/* The flags byte of the row whose vector is vec, or NULL when vec is not a row of t. */
static uint8_t *row_flags(crec_online_table *t, const float *vec) {
    uintptr_t p = (uintptr_t)vec - HDR;
    if (p == (uintptr_t)t->special) return t->has_special ? &t->special_flags : NULL;
    uint64_t bytes = t->nb * SLOTS * t->stride;
    for (int i = 0; i < 2; i++) {
        uintptr_t b = (uintptr_t)t->h[i].rows;
        if (p >= b && p < b + bytes && (p - b) % t->stride == 0) {
            uint64_t s = (p - b) / t->stride;
            return t->h[i].keys[s] != EMPTY ? &t->h[i].flags[s] : NULL;
        }
    }
    return NULL;
}

int crec_online_table_get(crec_online_table *t, uint64_t id, int64_t now, float **row) {
    if (!t || !row) return CREC_EINVAL;
    int hi;
    uint64_t s;
    uint8_t *r = find(t, id, &hi, &s);
    if (r) {
        set_touch(r, now);
        if (hi == 2) t->special_flags |= F_DIRTY;
        else t->h[hi].flags[s] |= F_DIRTY;
        *row = (float *)(r + HDR);
        return 0;
    }
    *row = NULL;
    if (t->has_cms && crec__cms_add(&t->cms, id) < t->o.min_count) {
        t->filtered++;
        return 0;
    }
    init_row(t, t->build, id, now);
    int rc = insert(t, t->build, F_DIRTY);
    if (rc) return rc;
    t->admitted++;
    r = find(t, id, &hi, &s);
    *row = (float *)(r + HDR);
    return 0;
}

static void update_rule(const crec_online_opts *o, float *w, float *st, const float *g) {
    int d = o->dim;
    float lr = o->lr;
    if (o->optim == CREC_ONLINE_SGD) {
        for (int i = 0; i < d; i++) w[i] -= lr * g[i];
    } else if (o->optim == CREC_ONLINE_ADAGRAD) {
        float eps = o->adagrad_eps;
        for (int i = 0; i < d; i++) {
            st[i] += g[i] * g[i];
            w[i] -= lr * g[i] / (sqrtf(st[i]) + eps);
        }
    } else {
        float *z = st, *nn = st + d;
        float beta = o->ftrl_beta, l1 = o->ftrl_l1, l2 = o->ftrl_l2;
        for (int i = 0; i < d; i++) {
            float n2 = nn[i] + g[i] * g[i];
            float sigma = (sqrtf(n2) - sqrtf(nn[i])) / lr;
            z[i] += g[i] - sigma * w[i];
            nn[i] = n2;
            w[i] = fabsf(z[i]) <= l1 ? 0.0f : -(z[i] - copysignf(l1, z[i])) / ((beta + sqrtf(n2)) / lr + l2);
        }
    }
}

int crec_online_table_update_row(crec_online_table *t, float *row, const float *grad, int64_t now) {
    if (!t || !row || !grad) return CREC_EINVAL;
    uint8_t *fl = row_flags(t, row);
    if (!fl) return CREC_EINVAL;
    update_rule(&t->o, row, row + t->o.dim, grad);
    set_touch((uint8_t *)row - HDR, now);
    *fl |= F_DIRTY;
    return 0;
}

int crec_online_table_update(crec_online_table *t, uint64_t id, const float *grad, int64_t now) {
    if (!t || !grad) return CREC_EINVAL;
    float *row;
    int rc = crec_online_table_get(t, id, now, &row);
    if (rc) return rc;
    if (!row) return CREC_ENOTFOUND;
    update_rule(&t->o, row, row + t->o.dim, grad);
    return 0;
}

float *crec_online_table_row_state(crec_online_table *t, float *row) {
    return t && row && t->sdim ? row + t->o.dim : NULL;
}

int64_t crec_online_table_row_touch(const crec_online_table *t, const float *row) {
    return t && row ? row_touch((const uint8_t *)row - HDR) : 0;
}

/* Set a whole row (data bytes rowbytes, header included) with flags fl: overwrite or insert. */
static int set_row(crec_online_table *t, const uint8_t *data, uint8_t fl) {
    int hi;
    uint64_t s;
    uint8_t *r = find(t, row_id(data), &hi, &s);
    if (r) {
        memcpy(r, data, t->rowbytes);
        if (hi == 2) t->special_flags = fl;
        else t->h[hi].flags[s] = fl;
        return 0;
    }
    memset(t->build, 0, t->stride);
    memcpy(t->build, data, t->rowbytes);
    return insert(t, t->build, fl);
}

int crec_online_table_put(crec_online_table *t, uint64_t id, const float *vec, const float *state, int64_t now) {
    if (!t || !vec) return CREC_EINVAL;
    uint8_t *b = crec__aligned_alloc(t->stride);
    if (!b) return CREC_ENOMEM;
    init_row(t, b, id, now);
    memcpy(b + HDR, vec, (size_t)t->o.dim * 4);
    if (state && t->sdim) memcpy(b + HDR + (size_t)t->o.dim * 4, state, (size_t)t->sdim * 4);
    int rc = set_row(t, b, F_DIRTY);
    free(b);
    return rc;
}

/* Remove id; when log, record it for the next delta (CREC_ENOMEM before anything changes). */
static int remove_id(crec_online_table *t, uint64_t id, int log) {
    int hi;
    uint64_t s;
    if (!find(t, id, &hi, &s)) return CREC_ENOTFOUND;
    if (log && crec__grow((void **)&t->removed, &t->cap_removed, t->n_removed + 1, sizeof *t->removed))
        return CREC_ENOMEM;
    if (log) t->removed[t->n_removed++] = id;
    if (hi == 2) {
        t->has_special = 0;
        t->special_flags = 0;
    } else {
        t->h[hi].keys[s] = EMPTY;
        t->h[hi].flags[s] = 0;
        t->n--;
    }
    return 0;
}

int crec_online_table_remove(crec_online_table *t, uint64_t id) {
    if (!t) return CREC_EINVAL;
    return remove_id(t, id, 1);
}

int crec_online_table_expire(crec_online_table *t, int64_t now, uint64_t *n_evicted) {
    if (n_evicted) *n_evicted = 0;
    if (!t) return CREC_EINVAL;
    if (t->o.ttl == 0) return 0;
    uint64_t ev = 0;
    int rc = 0;
    for (int i = 0; i < 2 && !rc; i++)
        for (uint64_t s = 0; s < t->nb * SLOTS && !rc; s++)
            if (t->h[i].keys[s] != EMPTY && now - row_touch(slot_row(t, i, s)) >= t->o.ttl) {
                rc = remove_id(t, t->h[i].keys[s], 1);
                ev += !rc;
            }
    if (!rc && t->has_special && now - row_touch(t->special) >= t->o.ttl) {
        rc = remove_id(t, EMPTY, 1);
        ev += !rc;
    }
    t->expired += ev;
    if (n_evicted) *n_evicted = ev;
    return rc;
}

uint32_t crec_online_table_filter_count(const crec_online_table *t, uint64_t id) {
    return t && t->has_cms ? crec__cms_estimate(&t->cms, id) : 0;
}

int crec_online_table_foreach(const crec_online_table *t,
                              int (*fn)(uint64_t id, const float *vec, int64_t touch, void *ctx), void *ctx) {
    if (!t || !fn) return CREC_EINVAL;
    for (int i = 0; i < 2; i++)
        for (uint64_t s = 0; s < t->nb * SLOTS; s++)
            if (t->h[i].keys[s] != EMPTY) {
                const uint8_t *r = slot_row(t, i, s);
                int rc = fn(row_id(r), (const float *)(r + HDR), row_touch(r), ctx);
                if (rc) return rc;
            }
    if (t->has_special) return fn(EMPTY, (const float *)(t->special + HDR), row_touch(t->special), ctx);
    return 0;
}

/* ---- export and import ----
 * payload: kind u32, seq u64, base seq u64, options (dim, optim, lr, adagrad init/eps, FTRL beta/l1/l2,
 * init_scale, min_count, filter width/depth, ttl, capacity, seed), n_removed u64 + ids, n_rows u64 + rows of
 * rowbytes, then (full) has_filter u32 + the filter's counters. */

static int put_f32(crec_buf *b, float v) { return crec_buf_write(b, &v, 4); }
static int get_f32(crec_buf *b, float *v) { return crec_buf_read(b, v, 4); }

static int put_opts(crec_buf *b, const crec_online_opts *o) {
    int rc = crec__put_u32(b, (uint32_t)o->dim);
    rc = rc ? rc : crec__put_u32(b, (uint32_t)o->optim);
    rc = rc ? rc : put_f32(b, o->lr);
    rc = rc ? rc : put_f32(b, o->adagrad_init);
    rc = rc ? rc : put_f32(b, o->adagrad_eps);
    rc = rc ? rc : put_f32(b, o->ftrl_beta);
    rc = rc ? rc : put_f32(b, o->ftrl_l1);
    rc = rc ? rc : put_f32(b, o->ftrl_l2);
    rc = rc ? rc : put_f32(b, o->init_scale);
    rc = rc ? rc : crec__put_u32(b, o->min_count);
    rc = rc ? rc : crec__put_u32(b, o->filter_width);
    rc = rc ? rc : crec__put_u32(b, o->filter_depth);
    rc = rc ? rc : crec__put_u64(b, (uint64_t)o->ttl);
    rc = rc ? rc : crec__put_u64(b, o->capacity);
    rc = rc ? rc : crec__put_u64(b, o->seed);
    return rc;
}

static int get_opts(crec_buf *b, crec_online_opts *o) {
    uint32_t dim, optim;
    uint64_t ttl;
    memset(o, 0, sizeof *o);
    int rc = crec__get_u32(b, &dim);
    rc = rc ? rc : crec__get_u32(b, &optim);
    rc = rc ? rc : get_f32(b, &o->lr);
    rc = rc ? rc : get_f32(b, &o->adagrad_init);
    rc = rc ? rc : get_f32(b, &o->adagrad_eps);
    rc = rc ? rc : get_f32(b, &o->ftrl_beta);
    rc = rc ? rc : get_f32(b, &o->ftrl_l1);
    rc = rc ? rc : get_f32(b, &o->ftrl_l2);
    rc = rc ? rc : get_f32(b, &o->init_scale);
    rc = rc ? rc : crec__get_u32(b, &o->min_count);
    rc = rc ? rc : crec__get_u32(b, &o->filter_width);
    rc = rc ? rc : crec__get_u32(b, &o->filter_depth);
    rc = rc ? rc : crec__get_u64(b, &ttl);
    rc = rc ? rc : crec__get_u64(b, &o->capacity);
    rc = rc ? rc : crec__get_u64(b, &o->seed);
    if (rc) return CREC_EFORMAT;
    if (dim > 65536 || optim > 2 || ttl > (uint64_t)INT64_MAX) return CREC_EFORMAT;
    o->dim = (int)dim;
    o->optim = (crec_online_optim)optim;
    o->ttl = (int64_t)ttl;
    return check_opts(o) ? CREC_EFORMAT : 0;
}

int crec_online_table_export(crec_online_table *t, crec_online_export_kind kind, crec_buf *out) {
    if (!t || !out || (kind != CREC_ONLINE_FULL && kind != CREC_ONLINE_DELTA)) return CREC_EINVAL;
    size_t start = out->len;
    int full = kind == CREC_ONLINE_FULL;
    uint64_t nrows = 0;
    for (int i = 0; i < 2; i++)
        for (uint64_t s = 0; s < t->nb * SLOTS; s++)
            nrows += t->h[i].keys[s] != EMPTY && (full || (t->h[i].flags[s] & F_DIRTY));
    if (t->has_special && (full || (t->special_flags & F_DIRTY))) nrows++;
    int rc = crec__put_u32(out, (uint32_t)kind);
    rc = rc ? rc : crec__put_u64(out, t->seq + 1);
    rc = rc ? rc : crec__put_u64(out, t->seq);
    rc = rc ? rc : put_opts(out, &t->o);
    uint64_t nrem = full ? 0 : (uint64_t)t->n_removed;
    rc = rc ? rc : crec__put_u64(out, nrem);
    rc = rc || !nrem ? rc : crec_buf_write(out, t->removed, nrem * 8);
    rc = rc ? rc : crec__put_u64(out, nrows);
    for (int i = 0; i < 2 && !rc; i++)
        for (uint64_t s = 0; s < t->nb * SLOTS && !rc; s++)
            if (t->h[i].keys[s] != EMPTY && (full || (t->h[i].flags[s] & F_DIRTY)))
                rc = crec_buf_write(out, slot_row(t, i, s), t->rowbytes);
    if (!rc && t->has_special && (full || (t->special_flags & F_DIRTY)))
        rc = crec_buf_write(out, t->special, t->rowbytes);
    if (!rc && full) {
        rc = crec__put_u32(out, (uint32_t)t->has_cms);
        if (!rc && t->has_cms) rc = crec_buf_write(out, t->cms.c, crec__cms_bytes(&t->cms));
    }
    if (rc) {
        out->len = start;
        return rc;
    }
    for (int i = 0; i < 2; i++) memset(t->h[i].flags, 0, t->nb * SLOTS);
    t->special_flags = 0;
    t->n_removed = 0;
    t->seq++;
    return 0;
}

/* Header of an export: kind, seq, base seq, options. */
static int read_head(crec_buf *in, uint32_t *kind, uint64_t *seq, uint64_t *base, crec_online_opts *o) {
    if (crec__get_u32(in, kind) || crec__get_u64(in, seq) || crec__get_u64(in, base)) return CREC_EFORMAT;
    if (*kind > 1) return CREC_EFORMAT;
    return get_opts(in, o);
}

/* Removals then rows, from in into t (nothing logged, rows clean). */
static int read_body(crec_online_table *t, crec_buf *in) {
    uint64_t nrem, nrows;
    if (crec__get_u64(in, &nrem) || crec_buf_need(in, nrem, 8)) return CREC_EFORMAT;
    for (uint64_t k = 0; k < nrem; k++) {
        uint64_t id;
        crec__get_u64(in, &id);
        int rc = remove_id(t, id, 0);
        if (rc && rc != CREC_ENOTFOUND) return rc;
    }
    if (crec__get_u64(in, &nrows) || crec_buf_need(in, nrows, t->rowbytes)) return CREC_EFORMAT;
    for (uint64_t k = 0; k < nrows; k++) {
        int rc = set_row(t, in->data + in->pos, 0);
        if (rc) return rc;
        in->pos += t->rowbytes;
    }
    return 0;
}

int crec_online_table_import(crec_buf *in, crec_online_table **out) {
    if (!out) return CREC_EINVAL;
    *out = NULL;
    if (!in) return CREC_EINVAL;
    uint32_t kind;
    uint64_t seq, base;
    crec_online_opts o;
    int rc = read_head(in, &kind, &seq, &base, &o);
    if (rc) return rc;
    if (kind != CREC_ONLINE_FULL) return CREC_EINVAL;
    /* sizes come from the file: allocate only what the bytes left can fill */
    uint64_t left = in->len - in->pos, cap = o.capacity;
    if (o.min_count > 1 && (uint64_t)o.filter_width * o.filter_depth * 2 > left) return CREC_EFORMAT;
    o.capacity = cap < left / (HDR + 4) + 1024 ? cap : left / (HDR + 4) + 1024;
    crec_online_table *t = crec_online_table_new(&o);
    if (!t) return CREC_ENOMEM;
    t->o.capacity = cap;
    rc = read_body(t, in);
    uint32_t has;
    if (!rc && crec__get_u32(in, &has)) rc = CREC_EFORMAT;
    if (!rc && has != (uint32_t)t->has_cms) rc = CREC_EFORMAT;
    if (!rc && has) {
        if (crec_buf_need(in, crec__cms_bytes(&t->cms), 1)) rc = CREC_EFORMAT;
        else rc = crec_buf_read(in, t->cms.c, crec__cms_bytes(&t->cms));
    }
    if (rc) {
        crec_online_table_free(t);
        return rc;
    }
    t->seq = seq;
    *out = t;
    return 0;
}

int crec_online_table_apply_delta(crec_online_table *t, crec_buf *in) {
    if (!t || !in) return CREC_EINVAL;
    uint32_t kind;
    uint64_t seq, base;
    crec_online_opts o;
    int rc = read_head(in, &kind, &seq, &base, &o);
    if (rc) return rc;
    if (kind != CREC_ONLINE_DELTA) return CREC_EINVAL;
    if (o.dim != t->o.dim || o.optim != t->o.optim) return CREC_EFORMAT;
    if (base != t->seq) return CREC_ESTATE;
    rc = read_body(t, in);
    if (rc) return rc;
    t->seq = seq;
    return 0;
}

int crec_online_table_save(crec_online_table *t, crec_online_export_kind kind, const char *path) {
    if (!t || !path) return CREC_EINVAL;
    crec_buf b = {0};
    int rc = crec_online_table_export(t, kind, &b);
    if (!rc) rc = crec__binfile_write(path, kind == CREC_ONLINE_FULL ? SNAP_MAGIC : DELTA_MAGIC, FILE_VERSION, &b);
    crec_buf_free(&b);
    return rc;
}

int crec_online_table_load(const char *path, crec_online_table **out) {
    if (!out) return CREC_EINVAL;
    *out = NULL;
    if (!path) return CREC_EINVAL;
    crec_buf b;
    uint32_t ver;
    int rc = crec__binfile_read(path, SNAP_MAGIC, FILE_VERSION, &ver, &b);
    if (rc) return rc;
    rc = crec_online_table_import(&b, out);
    crec__binfile_release(&b);
    return rc;
}

int crec_online_table_apply_delta_file(crec_online_table *t, const char *path) {
    if (!t || !path) return CREC_EINVAL;
    crec_buf b;
    uint32_t ver;
    int rc = crec__binfile_read(path, DELTA_MAGIC, FILE_VERSION, &ver, &b);
    if (rc) return rc;
    rc = crec_online_table_apply_delta(t, &b);
    crec__binfile_release(&b);
    return rc;
}

/* Walk an export without applying it (crec/events.h turns a delta into rows named by external id). Rows are
 * copied into one aligned scratch row before the callback sees them. */
int crec_online_export_foreach(crec_buf *in, int *dim, int *sdim, int *optim,
                               int (*on_removed)(void *ctx, uint64_t id),
                               int (*on_row)(void *ctx, uint64_t id, int64_t touch, const float *vec,
                                             const float *state),
                               void *ctx) {
    if (!in) return CREC_EINVAL;
    uint32_t kind;
    uint64_t seq, base, nrem, nrows;
    crec_online_opts o;
    int rc = read_head(in, &kind, &seq, &base, &o);
    if (rc) return rc;
    int sd = state_dim(&o);
    size_t rowbytes = HDR + (size_t)(o.dim + sd) * 4;
    if (dim) *dim = o.dim;
    if (sdim) *sdim = sd;
    if (optim) *optim = (int)o.optim;
    if (crec__get_u64(in, &nrem) || crec_buf_need(in, nrem, 8)) return CREC_EFORMAT;
    for (uint64_t k = 0; k < nrem; k++) {
        uint64_t id;
        crec__get_u64(in, &id);
        if (on_removed && (rc = on_removed(ctx, id))) return rc;
    }
    if (crec__get_u64(in, &nrows) || crec_buf_need(in, nrows, rowbytes)) return CREC_EFORMAT;
    float *row = malloc((size_t)(o.dim + sd + 1) * sizeof *row);
    if (!row) return CREC_ENOMEM;
    for (uint64_t k = 0; k < nrows && !rc; k++) {
        uint64_t id;
        int64_t touch;
        const uint8_t *p = in->data + in->pos;
        memcpy(&id, p, 8);
        memcpy(&touch, p + 8, 8);
        memcpy(row, p + HDR, (size_t)(o.dim + sd) * 4);
        in->pos += rowbytes;
        if (on_row) rc = on_row(ctx, id, touch, row, sd ? row + o.dim : NULL);
    }
    free(row);
    return rc;
}
