/* mf.c: an online factorisation model on the collisionless embedding table (crec_omf, crec/online.h).
 *
 * Every parameter is a table row: user u at key 1<<60 | u (p_u, D floats used of D + 1), item i at key 2<<60 | i
 * (q_i then b_i). A mini-batch is learned in three phases, because a row pointer stays valid only until the next
 * insertion: (1) every event's user and item are sighted (crec_online_table_get: new ids get rows, the filter
 * counts the others); (2) with no insertion left, rows are looked up, negatives drawn uniformly from the items
 * known so far, and each event's gradient (the kernel below, in double) summed per row; (3) each touched row takes
 * one Adagrad step on its sum (the table's update rule and per-row state). A dense array of the known items' row
 * pointers makes scoring the catalogue a flat loop; it is rebuilt after a batch that inserted or evicted rows. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"
#include "crec/online.h"
#include "online/mf.h"

#define OMF_USER_KEY(u) ((1ull << 60) | (uint64_t)(uint32_t)(u))
#define OMF_ITEM_KEY(i) ((2ull << 60) | (uint64_t)(uint32_t)(i))
#define OMF_INPUT_KEY(i) ((3ull << 60) | (uint64_t)(uint32_t)(i)) /* session tower: item as an input */
#define OMF_MAX_HIST 256
#define OMF_MAX_D 4096
#define OMF_FOLD_PASSES 10 /* BPR passes over the history when folding in a user without a row */
#define OMF_FOLD_HIST 200  /* most recent history items used by fold-in */
#define OMF_VERSION 2u

struct crec_omf {
    crec_omf_opts o;
    crec_online_table *t;
    crec_online_table *ti;     /* session tower: input embeddings of items (dim D); NULL when hist is 0 */
    int32_t *ring;             /* [cap_ring x hist]: each user's last items, a ring */
    int64_t *ring_n;           /* [cap_ring]: items appended per user */
    int32_t cap_ring;
    int32_t *known;            /* item ids with a row, in order of admission */
    const float **known_row;   /* their rows (valid between batches) */
    int32_t n_known, cap_known;
    int32_t *known_pos;        /* [item] -> position in known, -1 */
    int32_t cap_pos;
    int64_t events, learned;
    int32_t max_user, max_item, n_users;
    crec_rng rng;
    /* batch scratch: per-row gradient sums, keyed by row pointer (open addressing) */
    const float **acc_key;
    double *acc_g;
    int32_t *acc_cnt;
    uint8_t *acc_isuser;
    uint8_t *acc_seen;         /* the row's id was in an event of the batch (not only drawn as a negative) */
    uint8_t *acc_tab;          /* 0: the main table, 1: the input table */
    int64_t acc_cap;           /* slots, a power of two */
    int32_t *acc_used;         /* slots in use, in order */
    int64_t n_used;
    double *ev_buf;            /* p, qi, qj, gp, gqi, gqj of one event */
    int32_t *negs;
};

void crec_omf_opts_default(crec_omf_opts *o) {
    memset(o, 0, sizeof *o);
    o->dim = 32;
    o->loss = CREC_OMF_BPR;
    o->neg = 4;
    o->lr = 0.05f;
    o->reg = 0;
    o->init_scale = 0.1f;
    o->min_count = 1;
    o->ttl = 0;
    o->seed = 42;
    o->hist = 0;
}

/* ---- the kernel ---- */

static inline double neg_logit(const double *q, const double *p, int D, double corr) {
    double s = q[D] + corr;
    for (int d = 0; d < D; d++) s += p[d] * q[d];
    return s;
}

double crec__omf_event_grad(int loss, int D, int n, double corr, const double *p, const double *qi, const double *qj,
                            double *gp, double *gqi, double *gqj) {
    const int R = D + 1;
    double si = qi[D];
    for (int d = 0; d < D; d++) si += p[d] * qi[d];
    if (gp) memset(gp, 0, (size_t)D * sizeof *gp);
    double ci = 0, L = 0; /* ci: dL / ds_i */
    if (loss == CREC_OMF_BPR) {
        for (int k = 0; k < n; k++) {
            const double *q = qj + (size_t)k * R;
            double sj = q[D];
            for (int d = 0; d < D; d++) sj += p[d] * q[d];
            double x = si - sj;
            L += x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x)); /* -ln sigmoid(x) */
            double c = -1.0 / (1.0 + exp(x)) / n;             /* dL / dx */
            ci += c;
            if (gp)
                for (int d = 0; d < D; d++) gp[d] += c * (qi[d] - q[d]);
            if (gqj) {
                double *g = gqj + (size_t)k * R;
                for (int d = 0; d < D; d++) g[d] = -c * p[d];
                g[D] = -c;
            }
        }
        L /= n;
    } else { /* logits recomputed in each pass (no scratch): max, normaliser, gradients */
        double mx = si, z;
        for (int k = 0; k < n; k++) {
            double sj = neg_logit(qj + (size_t)k * R, p, D, corr);
            if (sj > mx) mx = sj;
        }
        z = exp(si - mx);
        for (int k = 0; k < n; k++) z += exp(neg_logit(qj + (size_t)k * R, p, D, corr) - mx);
        double lse = mx + log(z);
        L = lse - si;
        ci = exp(si - lse) - 1.0;
        for (int k = 0; k < n; k++) {
            const double *q = qj + (size_t)k * R;
            double c = exp(neg_logit(q, p, D, corr) - lse); /* dL / ds_j */
            if (gp)
                for (int d = 0; d < D; d++) gp[d] += c * q[d];
            if (gqj) {
                double *g = gqj + (size_t)k * R;
                for (int d = 0; d < D; d++) g[d] = c * p[d];
                g[D] = c;
            }
        }
        if (gp)
            for (int d = 0; d < D; d++) gp[d] += ci * qi[d];
    }
    if (gqi) {
        for (int d = 0; d < D; d++) gqi[d] = ci * p[d];
        gqi[D] = ci;
    }
    return L;
}

/* ---- construction ---- */

static int opts_ok(const crec_omf_opts *o) {
    return o && o->dim >= 1 && o->dim <= OMF_MAX_D && (o->loss == CREC_OMF_BPR || o->loss == CREC_OMF_SOFTMAX) &&
           o->neg >= 1 && o->neg <= 4096 && isfinite(o->lr) && o->lr > 0 && isfinite(o->reg) && o->reg >= 0 &&
           isfinite(o->init_scale) && o->init_scale >= 0 && o->min_count >= 1 && o->min_count <= 65535 &&
           o->ttl >= 0 && o->hist >= 0 && o->hist <= OMF_MAX_HIST;
}

static crec_omf *omf_alloc(const crec_omf_opts *o) {
    crec_omf *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->o = *o;
    m->max_user = m->max_item = -1;
    crec__rng_seed(&m->rng, o->seed ^ 0x0a11ce5eedull);
    int R = o->dim + 1;
    m->ev_buf = malloc(((size_t)4 * R + (size_t)2 * o->neg * R) * sizeof *m->ev_buf);
    m->negs = malloc((size_t)o->neg * sizeof *m->negs);
    if (!m->ev_buf || !m->negs) {
        crec_omf_free(m);
        return NULL;
    }
    return m;
}

crec_omf *crec_omf_new(const crec_omf_opts *o) {
    if (!opts_ok(o)) return NULL;
    crec_omf *m = omf_alloc(o);
    if (!m) return NULL;
    crec_online_opts to;
    crec_online_opts_default(&to, o->dim + 1);
    to.optim = CREC_ONLINE_ADAGRAD;
    to.lr = o->lr;
    to.init_scale = o->init_scale;
    to.min_count = o->min_count;
    to.filter_width = o->min_count > 1 ? 1u << 16 : 0;
    to.ttl = o->ttl;
    to.seed = o->seed;
    if (!(m->t = crec_online_table_new(&to))) {
        crec_omf_free(m);
        return NULL;
    }
    if (o->hist > 0) {
        to.dim = o->dim;
        to.seed = o->seed + 1;
        if (!(m->ti = crec_online_table_new(&to))) {
            crec_omf_free(m);
            return NULL;
        }
    }
    return m;
}

void crec_omf_free(crec_omf *m) {
    if (!m) return;
    crec_online_table_free(m->t);
    crec_online_table_free(m->ti);
    free(m->ring);
    free(m->ring_n);
    free(m->known);
    free(m->known_row);
    free(m->known_pos);
    free(m->acc_key);
    free(m->acc_g);
    free(m->acc_cnt);
    free(m->acc_isuser);
    free(m->acc_seen);
    free(m->acc_tab);
    free(m->acc_used);
    free(m->ev_buf);
    free(m->negs);
    free(m);
}

const crec_omf_opts *crec_omf_get_opts(const crec_omf *m) { return m ? &m->o : NULL; }
crec_online_table *crec_omf_table(crec_omf *m) { return m ? m->t : NULL; }

void crec_omf_get_stats(const crec_omf *m, crec_omf_stats *s) {
    memset(s, 0, sizeof *s);
    if (!m) return;
    s->events = m->events;
    s->learned = m->learned;
    s->items = m->n_known;
    crec_online_stats ts;
    crec_online_table_stats(m->t, &ts);
    s->users = (int32_t)((int64_t)ts.rows - m->n_known);
    s->max_user = m->max_user;
    s->max_item = m->max_item;
}

/* ---- the known items ---- */

static int known_grow_pos(crec_omf *m, int32_t item) {
    if (item < m->cap_pos) return 0;
    int32_t nc = m->cap_pos ? m->cap_pos : 1024;
    while (nc <= item) nc = nc > INT32_MAX / 2 ? INT32_MAX : nc * 2;
    int32_t *p = realloc(m->known_pos, (size_t)nc * sizeof *p);
    if (!p) return CREC_ENOMEM;
    for (int32_t k = m->cap_pos; k < nc; k++) p[k] = -1;
    m->known_pos = p;
    m->cap_pos = nc;
    return 0;
}

static int known_add(crec_omf *m, int32_t item) {
    int rc = known_grow_pos(m, item);
    if (rc) return rc;
    if (m->known_pos[item] >= 0) return 0;
    if (m->n_known == m->cap_known) {
        int32_t nc = m->cap_known ? m->cap_known * 2 : 1024;
        int32_t *k = realloc(m->known, (size_t)nc * sizeof *k);
        if (!k) return CREC_ENOMEM;
        m->known = k;
        const float **r = realloc(m->known_row, (size_t)nc * sizeof *r);
        if (!r) return CREC_ENOMEM;
        m->known_row = r;
        m->cap_known = nc;
    }
    m->known_pos[item] = m->n_known;
    m->known[m->n_known] = item;
    m->known_row[m->n_known] = NULL;
    m->n_known++;
    return 0;
}

/* After insertions or evictions: drop evicted items from the list, refresh every row pointer. */
static void known_refresh(crec_omf *m) {
    int32_t w = 0;
    for (int32_t k = 0; k < m->n_known; k++) {
        int32_t it = m->known[k];
        const float *r = crec_online_table_lookup(m->t, OMF_ITEM_KEY(it));
        if (!r) {
            m->known_pos[it] = -1;
            continue;
        }
        m->known[w] = it;
        m->known_row[w] = r;
        m->known_pos[it] = w;
        w++;
    }
    m->n_known = w;
}

/* ---- the batch's gradient accumulator ---- */

static int acc_reset(crec_omf *m, int64_t need) {
    int64_t cap = 64;
    while (cap < 2 * need) cap *= 2;
    int R = m->o.dim + 1;
    if (cap > m->acc_cap) {
        free(m->acc_key);
        free(m->acc_g);
        free(m->acc_cnt);
        free(m->acc_isuser);
        free(m->acc_seen);
        free(m->acc_tab);
        free(m->acc_used);
        m->acc_key = malloc((size_t)cap * sizeof *m->acc_key);
        m->acc_g = malloc((size_t)cap * R * sizeof *m->acc_g);
        m->acc_cnt = malloc((size_t)cap * sizeof *m->acc_cnt);
        m->acc_isuser = malloc((size_t)cap);
        m->acc_seen = malloc((size_t)cap);
        m->acc_tab = malloc((size_t)cap);
        m->acc_used = malloc((size_t)cap * sizeof *m->acc_used);
        if (!m->acc_key || !m->acc_g || !m->acc_cnt || !m->acc_isuser || !m->acc_seen || !m->acc_tab ||
            !m->acc_used) {
            m->acc_cap = 0;
            return CREC_ENOMEM;
        }
        m->acc_cap = cap;
        for (int64_t s = 0; s < cap; s++) m->acc_key[s] = NULL;
    } else {
        for (int64_t k = 0; k < m->n_used; k++) m->acc_key[m->acc_used[k]] = NULL;
    }
    m->n_used = 0;
    return 0;
}

/* Add scale * g[n] (n = D or D + 1) to row's sum; seen: the row's id is in one of the batch's events; tab: 1 for a
 * row of the input table. */
static void acc_add_t(crec_omf *m, const float *row, const double *g, double scale, int n, int is_user, int seen,
                      int tab) {
    uint64_t h = (uint64_t)(uintptr_t)row;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    int64_t mask = m->acc_cap - 1, s = (int64_t)(h & (uint64_t)mask);
    int R = m->o.dim + 1;
    while (m->acc_key[s] && m->acc_key[s] != row) s = (s + 1) & mask;
    double *a = m->acc_g + (size_t)s * R;
    if (!m->acc_key[s]) {
        m->acc_key[s] = row;
        memset(a, 0, (size_t)R * sizeof *a);
        m->acc_cnt[s] = 0;
        m->acc_isuser[s] = (uint8_t)is_user;
        m->acc_seen[s] = 0;
        m->acc_tab[s] = (uint8_t)tab;
        m->acc_used[m->n_used++] = (int32_t)s;
    }
    for (int d = 0; d < n; d++) a[d] += scale * g[d];
    m->acc_cnt[s]++;
    m->acc_seen[s] |= (uint8_t)seen;
}

static void acc_add(crec_omf *m, const float *row, const double *g, int n, int is_user, int seen) {
    acc_add_t(m, row, g, 1.0, n, is_user, seen, 0);
}

/* ---- the session tower's record of each user's last items ---- */

static int ring_grow(crec_omf *m, int32_t user) {
    if (user < m->cap_ring) return 0;
    int32_t nc = m->cap_ring ? m->cap_ring : 1024;
    while (nc <= user) nc = nc > INT32_MAX / 2 ? INT32_MAX : nc * 2;
    int32_t *r = realloc(m->ring, (size_t)nc * m->o.hist * sizeof *r);
    if (!r) return CREC_ENOMEM;
    m->ring = r;
    int64_t *rn = realloc(m->ring_n, (size_t)nc * sizeof *rn);
    if (!rn) return CREC_ENOMEM;
    m->ring_n = rn;
    memset(rn + m->cap_ring, 0, (size_t)(nc - m->cap_ring) * sizeof *rn);
    m->cap_ring = nc;
    return 0;
}

/* The user's last items (oldest first) into out[hist]; returns how many. */
static int ring_get(const crec_omf *m, int32_t user, int32_t *out) {
    if (user < 0 || user >= m->cap_ring) return 0;
    const int L = m->o.hist;
    int64_t n = m->ring_n[user];
    int c = n < L ? (int)n : L;
    for (int j = 0; j < c; j++) out[j] = m->ring[(size_t)user * L + (size_t)((n - c + j) % L)];
    return c;
}

/* p[D] += mean of the input embeddings of items[0..n) that have a row; rows[] gets them (NULL when missing).
 * Returns how many had a row. */
static int session_add(const crec_omf *m, const int32_t *items, int n, double *p, const float **rows) {
    const int D = m->o.dim;
    int c = 0;
    for (int j = 0; j < n; j++) {
        rows[j] = items[j] >= 0 ? crec_online_table_lookup(m->ti, OMF_INPUT_KEY(items[j])) : NULL;
        c += rows[j] != NULL;
    }
    if (!c) return 0;
    for (int j = 0; j < n; j++)
        if (rows[j])
            for (int d = 0; d < D; d++) p[d] += rows[j][d] / c;
    return c;
}

/* ---- learning ---- */

int crec_omf_learn(crec_omf *m, const crec_event *ev, int64_t n, double *loss) {
    if (loss) *loss = 0;
    if (!m || (n > 0 && !ev) || n < 0) return CREC_EINVAL;
    for (int64_t k = 0; k < n; k++)
        if (ev[k].user < 0 || ev[k].item < 0) return CREC_EINVAL;
    const int D = m->o.dim, R = D + 1, NN = m->o.neg;
    int changed = 0, rc = 0;
    int64_t now = INT64_MIN;
    crec_online_stats st0, st1;
    crec_online_table_stats(m->t, &st0);
    /* (1) sightings: rows for new ids */
    for (int64_t k = 0; k < n; k++) {
        float *ru, *ri;
        m->events++;
        if (ev[k].user > m->max_user) m->max_user = ev[k].user;
        if (ev[k].item > m->max_item) m->max_item = ev[k].item;
        if (ev[k].ts > now) now = ev[k].ts;
        if ((rc = crec_online_table_get(m->t, OMF_USER_KEY(ev[k].user), ev[k].ts, &ru))) goto out;
        if ((rc = crec_online_table_get(m->t, OMF_ITEM_KEY(ev[k].item), ev[k].ts, &ri))) goto out;
        if (m->ti) {
            float *re;
            if ((rc = crec_online_table_get(m->ti, OMF_INPUT_KEY(ev[k].item), ev[k].ts, &re))) goto out;
            if ((rc = ring_grow(m, ev[k].user))) goto out;
        }
        if (ri && (ev[k].item >= m->cap_pos || m->known_pos[ev[k].item] < 0)) {
            if ((rc = known_add(m, ev[k].item))) goto out;
            changed = 1;
        }
    }
    crec_online_table_stats(m->t, &st1);
    if (st1.admitted != st0.admitted) changed = 1;
    if (changed) known_refresh(m);
    /* (2) gradients summed per row; no insertion from here on, so row pointers hold */
    if ((rc = acc_reset(m, n * (2 + NN + m->o.hist)))) goto out;
    double *p = m->ev_buf, *qi = p + R, *qj = qi + R, *gp = qj + (size_t)NN * R, *gqi = gp + R,
           *gqj = gqi + R;
    double Lsum = 0, corr = log((m->n_known > 1 ? m->n_known - 1.0 : 1.0) / NN);
    int64_t taught = 0;
    for (int64_t k = 0; k < n; k++) {
        const float *ru = crec_online_table_lookup(m->t, OMF_USER_KEY(ev[k].user));
        const float *ri = crec_online_table_lookup(m->t, OMF_ITEM_KEY(ev[k].item));
        if (!ru || !ri || m->n_known < 2) continue;
        for (int j = 0; j < NN; j++) {
            int32_t c;
            do c = (int32_t)crec__rng_below(&m->rng, (uint64_t)m->n_known);
            while (m->known[c] == ev[k].item);
            m->negs[j] = c;
            const float *rj = m->known_row[c];
            for (int d = 0; d < R; d++) qj[(size_t)j * R + d] = rj[d];
        }
        for (int d = 0; d < D; d++) p[d] = ru[d];
        int nh = 0, nr = 0;
        int32_t hitems[OMF_MAX_HIST];
        const float *hrows[OMF_MAX_HIST];
        if (m->ti) {
            nh = ring_get(m, ev[k].user, hitems);
            nr = session_add(m, hitems, nh, p, hrows);
        }
        for (int d = 0; d < R; d++) qi[d] = ri[d];
        Lsum += crec__omf_event_grad((int)m->o.loss, D, NN, corr, p, qi, qj, gp, gqi, gqj);
        acc_add(m, ru, gp, D, 1, 1);
        for (int j = 0; j < nh; j++) /* d p / d e_h = 1 / nr */
            if (hrows[j]) acc_add_t(m, hrows[j], gp, 1.0 / nr, D, 1, 0, 1);
        acc_add(m, ri, gqi, R, 0, 1);
        for (int j = 0; j < NN; j++) acc_add(m, m->known_row[m->negs[j]], gqj + (size_t)j * R, R, 0, 0);
        taught++;
    }
    /* the batch's items join their users' records (after every gradient: a batch is learned as of its start) */
    if (m->ti)
        for (int64_t k = 0; k < n; k++) {
            int32_t u = ev[k].user;
            m->ring[(size_t)u * m->o.hist + (size_t)(m->ring_n[u] % m->o.hist)] = ev[k].item;
            m->ring_n[u]++;
        }
    /* (3) one Adagrad step per touched row; a row only drawn as a negative keeps its touch time, so expiry follows
     * the id's own events */
    {
        float g[OMF_MAX_D + 1];
        for (int64_t u = 0; u < m->n_used; u++) {
            int32_t s = m->acc_used[u];
            const float *row = m->acc_key[s];
            const double *a = m->acc_g + (size_t)s * R;
            crec_online_table *tab = m->acc_tab[s] ? m->ti : m->t;
            int nd = m->acc_isuser[s] ? D : R, dim = m->acc_tab[s] ? D : R;
            double rw = (double)m->o.reg * m->acc_cnt[s];
            for (int d = 0; d < nd; d++) g[d] = (float)(a[d] + rw * row[d]);
            for (int d = nd; d < dim; d++) g[d] = 0;
            int64_t when = m->acc_seen[s] || m->acc_tab[s] ? now : crec_online_table_row_touch(tab, row);
            if ((rc = crec_online_table_update_row(tab, (float *)row, g, when))) goto out;
        }
    }
    m->learned += taught;
    if (loss) *loss = taught ? Lsum / taught : 0;
    if (m->o.ttl > 0 && n > 0) {
        uint64_t ne = 0;
        if ((rc = crec_online_table_expire(m->t, now, &ne))) goto out;
        if (m->ti && (rc = crec_online_table_expire(m->ti, now, NULL))) goto out;
        if (ne) known_refresh(m);
    }
out:
    return rc;
}

/* ---- scoring ---- */

static float dotf(const float *a, const float *b, int n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int d = 0; d < n; d++) s += a[d] * b[d];
    return s;
}

/* A user vector fitted to hist with the items frozen: BPR with Adagrad per coordinate, a fixed seed. */
static void fold_in(const crec_omf *m, const int32_t *hist, int32_t n_hist, float *pu) {
    const int D = m->o.dim, R = D + 1;
    memset(pu, 0, (size_t)D * sizeof *pu);
    int32_t h0 = n_hist > OMF_FOLD_HIST ? n_hist - OMF_FOLD_HIST : 0;
    if (n_hist <= h0 || m->n_known < 2) return;
    double *buf = malloc((size_t)(4 * R + D) * sizeof *buf);
    if (!buf) return;
    double *p = buf, *qi = p + R, *qj = qi + R, *gp = qj + R, *G = gp + R;
    for (int d = 0; d < D; d++) p[d] = 0, G[d] = 0.1;
    crec_rng r;
    crec__rng_seed(&r, m->o.seed ^ 0xf01d1full);
    for (int pass = 0; pass < OMF_FOLD_PASSES; pass++)
        for (int32_t h = h0; h < n_hist; h++) {
            int32_t it = hist[h];
            if (it < 0 || it >= m->cap_pos || m->known_pos[it] < 0) continue;
            const float *ri = m->known_row[m->known_pos[it]];
            int32_t c = (int32_t)crec__rng_below(&r, (uint64_t)m->n_known);
            if (m->known[c] == it) continue;
            const float *rj = m->known_row[c];
            for (int d = 0; d < R; d++) qi[d] = ri[d], qj[d] = rj[d];
            crec__omf_event_grad(CREC_OMF_BPR, D, 1, 0, p, qi, qj, gp, NULL, NULL);
            for (int d = 0; d < D; d++) {
                G[d] += gp[d] * gp[d];
                p[d] -= m->o.lr * gp[d] / sqrt(G[d]);
            }
        }
    for (int d = 0; d < D; d++) pu[d] = (float)p[d];
    free(buf);
}

int crec_omf_score(const crec_omf *m, int32_t user, const int32_t *hist, int32_t n_hist, int32_t n_items,
                   float *scores) {
    if (!m || !scores || n_items < 0 || (n_hist > 0 && !hist)) return CREC_EINVAL;
    const int D = m->o.dim;
    for (int32_t i = 0; i < n_items; i++) scores[i] = -FLT_MAX;
    const float *pu = user >= 0 ? crec_online_table_lookup(m->t, OMF_USER_KEY(user)) : NULL;
    float *tmp = NULL;
    if (m->ti) { /* session tower: p_u (or 0) + the mean input embedding of the last items */
        tmp = malloc((size_t)D * sizeof *tmp);
        double p[OMF_MAX_D];
        int32_t items[OMF_MAX_HIST];
        const float *rows[OMF_MAX_HIST];
        if (!tmp) return CREC_ENOMEM;
        for (int d = 0; d < D; d++) p[d] = pu ? pu[d] : 0;
        int nh;
        if (n_hist > 0) {
            nh = n_hist < m->o.hist ? n_hist : m->o.hist;
            memcpy(items, hist + (n_hist - nh), (size_t)nh * sizeof *items);
        } else {
            nh = ring_get(m, user, items);
        }
        session_add(m, items, nh, p, rows);
        for (int d = 0; d < D; d++) tmp[d] = (float)p[d];
        pu = tmp;
    } else if (!pu) {
        tmp = malloc((size_t)D * sizeof *tmp);
        if (!tmp) return CREC_ENOMEM;
        fold_in(m, hist, n_hist, tmp);
        pu = tmp;
    }
    for (int32_t k = 0; k < m->n_known; k++) {
        int32_t it = m->known[k];
        if (it >= n_items) continue;
        const float *q = m->known_row[k];
        scores[it] = dotf(pu, q, D) + q[D];
    }
    free(tmp);
    return 0;
}

/* ---- persistence ---- */

int crec_omf_save(crec_omf *m, crec_buf *out) {
    if (!m || !out) return CREC_EINVAL;
    const crec_omf_opts *o = &m->o;
    int rc = crec__put_u32(out, OMF_VERSION);
    if (!rc) rc = crec__put_u32(out, (uint32_t)o->dim);
    if (!rc) rc = crec__put_u32(out, (uint32_t)o->loss);
    if (!rc) rc = crec__put_u32(out, (uint32_t)o->neg);
    if (!rc) rc = crec_buf_write(out, &o->lr, sizeof o->lr);
    if (!rc) rc = crec_buf_write(out, &o->reg, sizeof o->reg);
    if (!rc) rc = crec_buf_write(out, &o->init_scale, sizeof o->init_scale);
    if (!rc) rc = crec__put_u32(out, o->min_count);
    if (!rc) rc = crec__put_u64(out, (uint64_t)o->ttl);
    if (!rc) rc = crec__put_u64(out, o->seed);
    if (!rc) rc = crec__put_u32(out, (uint32_t)o->hist);
    if (!rc) rc = crec__put_u64(out, (uint64_t)m->events);
    if (!rc) rc = crec__put_u64(out, (uint64_t)m->learned);
    if (!rc) rc = crec__put_u32(out, (uint32_t)m->max_user);
    if (!rc) rc = crec__put_u32(out, (uint32_t)m->max_item);
    if (!rc) rc = crec_buf_write(out, &m->rng, sizeof m->rng);
    if (!rc) rc = crec__put_u32(out, (uint32_t)m->n_known);
    if (!rc && m->n_known) rc = crec_buf_write(out, m->known, (size_t)m->n_known * sizeof *m->known);
    if (!rc) rc = crec_online_table_export(m->t, CREC_ONLINE_FULL, out);
    if (!rc && m->ti) {
        rc = crec__put_u32(out, (uint32_t)m->cap_ring);
        if (!rc && m->cap_ring) rc = crec_buf_write(out, m->ring, (size_t)m->cap_ring * o->hist * sizeof *m->ring);
        if (!rc && m->cap_ring) rc = crec_buf_write(out, m->ring_n, (size_t)m->cap_ring * sizeof *m->ring_n);
        if (!rc) rc = crec_online_table_export(m->ti, CREC_ONLINE_FULL, out);
    }
    return rc;
}

int crec_omf_load(crec_buf *in, crec_omf **out) { return crec__omf_load_bounded(in, INT32_MAX, INT32_MAX, out); }

int crec__omf_load_bounded(crec_buf *in, int32_t max_users, int32_t max_items, crec_omf **out) {
    if (!in || !out) return CREC_EINVAL;
    *out = NULL;
    crec_omf_opts o;
    crec_omf_opts_default(&o);
    uint32_t ver, dim, loss, neg, mc, mu, mi, nk, hist = 0;
    uint64_t ttl, seed, evs, lrn;
    int rc = crec__get_u32(in, &ver);
    if (!rc && ver != OMF_VERSION) rc = CREC_EFORMAT;
    if (!rc) rc = crec__get_u32(in, &dim);
    if (!rc) rc = crec__get_u32(in, &loss);
    if (!rc) rc = crec__get_u32(in, &neg);
    if (!rc) rc = crec_buf_read(in, &o.lr, sizeof o.lr);
    if (!rc) rc = crec_buf_read(in, &o.reg, sizeof o.reg);
    if (!rc) rc = crec_buf_read(in, &o.init_scale, sizeof o.init_scale);
    if (!rc) rc = crec__get_u32(in, &mc);
    if (!rc) rc = crec__get_u64(in, &ttl);
    if (!rc) rc = crec__get_u64(in, &seed);
    if (!rc) rc = crec__get_u32(in, &hist);
    if (!rc) rc = crec__get_u64(in, &evs);
    if (!rc) rc = crec__get_u64(in, &lrn);
    if (!rc) rc = crec__get_u32(in, &mu);
    if (!rc) rc = crec__get_u32(in, &mi);
    if (rc) return rc == CREC_EFORMAT ? rc : CREC_EFORMAT;
    o.dim = (int)dim;
    o.loss = (crec_omf_loss)loss;
    o.neg = (int)neg;
    o.min_count = mc;
    o.ttl = (int64_t)ttl;
    o.seed = seed;
    o.hist = hist > OMF_MAX_HIST ? -1 : (int)hist;
    if (dim > OMF_MAX_D || neg > 4096 || ttl > (uint64_t)INT64_MAX || !opts_ok(&o) || evs > (uint64_t)INT64_MAX ||
        lrn > evs || (int32_t)mu < -1 || (int32_t)mi < -1 || (int32_t)mu >= max_users || (int32_t)mi >= max_items)
        return CREC_EFORMAT; /* before any allocation sized by the ids */
    crec_omf *m = omf_alloc(&o);
    if (!m) return CREC_ENOMEM;
    m->events = (int64_t)evs;
    m->learned = (int64_t)lrn;
    m->max_user = (int32_t)mu;
    m->max_item = (int32_t)mi;
    rc = crec_buf_read(in, &m->rng, sizeof m->rng);
    if (!rc) rc = crec__get_u32(in, &nk);
    if (!rc && (nk > (uint32_t)INT32_MAX || (uint64_t)nk * 4 > in->len - in->pos)) rc = CREC_EFORMAT;
    for (uint32_t k = 0; !rc && k < nk; k++) {
        int32_t it;
        rc = crec_buf_read(in, &it, sizeof it);
        if (!rc && (it < 0 || it > m->max_item)) rc = CREC_EFORMAT;
        if (!rc && it < m->cap_pos && m->known_pos[it] >= 0) rc = CREC_EFORMAT; /* listed twice */
        if (!rc) rc = known_add(m, it);
    }
    if (!rc) rc = crec_online_table_import(in, &m->t);
    if (!rc) {
        const crec_online_opts *to = crec_online_table_opts(m->t);
        if (to->dim != o.dim + 1 || to->optim != CREC_ONLINE_ADAGRAD) rc = CREC_EFORMAT;
    }
    if (!rc && o.hist > 0) {
        uint32_t cr;
        rc = crec__get_u32(in, &cr);
        if (!rc && (cr > (uint32_t)INT32_MAX || crec_buf_need(in, (uint64_t)cr, (size_t)o.hist * 4 + 8)))
            rc = CREC_EFORMAT;
        if (!rc && cr) rc = ring_grow(m, (int32_t)cr - 1);
        if (!rc && cr) rc = crec_buf_read(in, m->ring, (size_t)cr * o.hist * sizeof *m->ring);
        if (!rc && cr) rc = crec_buf_read(in, m->ring_n, (size_t)cr * sizeof *m->ring_n);
        for (uint32_t u = 0; !rc && u < cr; u++) {
            if (m->ring_n[u] < 0) rc = CREC_EFORMAT;
            for (int j = 0; !rc && j < o.hist && j < m->ring_n[u]; j++)
                if (m->ring[(size_t)u * o.hist + j] < 0) rc = CREC_EFORMAT;
        }
        if (!rc) rc = crec_online_table_import(in, &m->ti);
        if (!rc) {
            const crec_online_opts *to = crec_online_table_opts(m->ti);
            if (to->dim != o.dim || to->optim != CREC_ONLINE_ADAGRAD) rc = CREC_EFORMAT;
        }
    }
    if (rc) {
        crec_omf_free(m);
        return rc == CREC_ENOMEM ? rc : CREC_EFORMAT;
    }
    int32_t before = m->n_known;
    known_refresh(m);
    if (m->n_known != before) { /* a listed item without a row: the payload does not hang together */
        crec_omf_free(m);
        return CREC_EFORMAT;
    }
    *out = m;
    return 0;
}
