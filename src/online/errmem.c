/* errmem.c: ReLoop2's error memory (crec/online.h): recent residuals, found again by random-hyperplane LSH over
 * the request's representation, added back to the scores at serving time.
 *
 * The one idea: entries sit in one FIFO ring; buckets only hold (slot, sequence number) pairs, so an entry the ring
 * has overwritten is recognised as stale by its sequence number and nothing ever has to be unlinked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/online.h"

typedef struct {
    int32_t slot;
    uint32_t pad;
    uint64_t seq;
} em_ref;

struct crec_errmem {
    crec_errmem_opts o;
    float *planes;     /* [tables * bits * dim] */
    float *keys;       /* [capacity * dim], normalised */
    int32_t *item;     /* [capacity] */
    float *resid;      /* [capacity] */
    uint64_t *seq;     /* [capacity]: sequence number of the entry in the slot (0: empty) */
    em_ref *buckets;   /* [tables * 2^bits * bucket] */
    uint32_t *bfill;   /* [tables * 2^bits]: insertions into the bucket (its ring position) */
    uint64_t next_seq; /* starts at 1 */
};

void crec_errmem_opts_default(crec_errmem_opts *o, int dim) {
    memset(o, 0, sizeof *o);
    o->dim = dim;
    o->tables = 4;
    o->bits = 10;
    o->bucket = 16;
    o->capacity = 8192;
    o->k = 16;
    o->temp = 0.1f;
    o->seed = 42;
}

void crec_errmem_free(crec_errmem *m) {
    if (!m) return;
    free(m->planes);
    free(m->keys);
    free(m->item);
    free(m->resid);
    free(m->seq);
    free(m->buckets);
    free(m->bfill);
    free(m);
}

crec_errmem *crec_errmem_new(const crec_errmem_opts *o) {
    if (!o || o->dim < 1 || o->dim > 4096 || o->tables < 1 || o->tables > 64 || o->bits < 1 || o->bits > 24 ||
        o->bucket < 1 || o->bucket > 1024 || o->capacity < 1 || o->k < 1 || !(o->temp > 0) || !isfinite(o->temp))
        return NULL;
    crec_errmem *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->o = *o;
    size_t D = (size_t)o->dim, nb = (size_t)o->tables << o->bits;
    m->planes = malloc((size_t)o->tables * o->bits * D * sizeof *m->planes);
    m->keys = malloc((size_t)o->capacity * D * sizeof *m->keys);
    m->item = malloc((size_t)o->capacity * sizeof *m->item);
    m->resid = malloc((size_t)o->capacity * sizeof *m->resid);
    m->seq = calloc((size_t)o->capacity, sizeof *m->seq);
    m->buckets = calloc(nb * (size_t)o->bucket, sizeof *m->buckets);
    m->bfill = calloc(nb, sizeof *m->bfill);
    if (!m->planes || !m->keys || !m->item || !m->resid || !m->seq || !m->buckets || !m->bfill) {
        crec_errmem_free(m);
        return NULL;
    }
    crec_rng r;
    crec__rng_seed(&r, o->seed ^ 0x4e10092ull);
    for (size_t k = 0; k < (size_t)o->tables * o->bits * D; k++) m->planes[k] = (float)crec__rng_normal(&r);
    m->next_seq = 1;
    return m;
}

int64_t crec_errmem_size(const crec_errmem *m) {
    if (!m) return 0;
    uint64_t n = m->next_seq - 1;
    return (int64_t)(n < (uint64_t)m->o.capacity ? n : (uint64_t)m->o.capacity);
}

/* Unit copy of key into out; 0 when the key is zero or not finite. */
static int normalise(const float *key, int D, float *out) {
    double s = 0;
    for (int d = 0; d < D; d++) s += (double)key[d] * key[d];
    if (!(s > 0) || !isfinite(s)) return 0;
    float inv = (float)(1 / sqrt(s));
    for (int d = 0; d < D; d++) out[d] = key[d] * inv;
    return 1;
}

static uint32_t signature(const crec_errmem *m, int t, const float *x) {
    const int D = m->o.dim;
    uint32_t h = 0;
    for (int b = 0; b < m->o.bits; b++) {
        const float *pl = m->planes + ((size_t)t * m->o.bits + b) * D;
        float s = 0;
        for (int d = 0; d < D; d++) s += pl[d] * x[d];
        h = h << 1 | (s >= 0);
    }
    return h;
}

int crec_errmem_add(crec_errmem *m, const float *key, int32_t item, float residual) {
    if (!m || !key || item < 0 || !isfinite(residual)) return CREC_EINVAL;
    const int D = m->o.dim;
    uint64_t sq = m->next_seq;
    int32_t slot = (int32_t)((sq - 1) % (uint64_t)m->o.capacity);
    float *x = m->keys + (size_t)slot * D;
    if (!normalise(key, D, x)) return 0;
    m->next_seq++;
    m->seq[slot] = sq;
    m->item[slot] = item;
    m->resid[slot] = residual;
    for (int t = 0; t < m->o.tables; t++) {
        size_t b = ((size_t)t << m->o.bits) + signature(m, t, x);
        uint32_t pos = m->bfill[b]++ % (uint32_t)m->o.bucket;
        m->buckets[b * m->o.bucket + pos] = (em_ref){slot, 0, sq};
    }
    return 0;
}

int crec_errmem_correct(const crec_errmem *m, const float *key, float lambda, float *scores, int32_t n_items) {
    if (!m || !key || !scores || n_items < 0 || !isfinite(lambda)) return CREC_EINVAL;
    const int D = m->o.dim, K = m->o.k, nc_max = m->o.tables * m->o.bucket;
    float *q = malloc((size_t)D * sizeof *q);
    int32_t *cand = malloc((size_t)nc_max * sizeof *cand);
    float *top_c = malloc((size_t)K * sizeof *top_c);
    int32_t *top_s = malloc((size_t)K * sizeof *top_s);
    int used = 0;
    if (!q || !cand || !top_c || !top_s) {
        used = CREC_ENOMEM;
        goto out;
    }
    if (!normalise(key, D, q)) goto out;
    int nc = 0;
    for (int t = 0; t < m->o.tables; t++) {
        size_t b = ((size_t)t << m->o.bits) + signature(m, t, q);
        for (int j = 0; j < m->o.bucket; j++) {
            em_ref r = m->buckets[b * m->o.bucket + j];
            if (!r.seq || m->seq[r.slot] != r.seq) continue; /* empty, or overwritten by the ring */
            int dup = 0;
            for (int c = 0; c < nc && !dup; c++) dup = cand[c] == r.slot;
            if (!dup) cand[nc++] = r.slot;
        }
    }
    /* the k most similar with cos > 0 (insertion into a small sorted list; ties keep the earlier candidate) */
    for (int c = 0; c < nc; c++) {
        const float *x = m->keys + (size_t)cand[c] * D;
        float cs = 0;
        for (int d = 0; d < D; d++) cs += q[d] * x[d];
        if (!(cs > 0)) continue;
        int p = used < K ? used : K;
        if (p == K && cs <= top_c[K - 1]) continue;
        if (p == K) p--;
        while (p > 0 && top_c[p - 1] < cs) {
            top_c[p] = top_c[p - 1];
            top_s[p] = top_s[p - 1];
            p--;
        }
        top_c[p] = cs;
        top_s[p] = cand[c];
        if (used < K) used++;
    }
    if (used) {
        double z = 0, mx = top_c[0];
        for (int j = 0; j < used; j++) z += exp((top_c[j] - mx) / m->o.temp);
        for (int j = 0; j < used; j++) {
            int32_t it = m->item[top_s[j]];
            if (it >= n_items) continue;
            double w = exp((top_c[j] - mx) / m->o.temp) / z;
            scores[it] += (float)(lambda * w * m->resid[top_s[j]]);
        }
    }
out:
    free(q);
    free(cand);
    free(top_c);
    free(top_s);
    return used;
}
