/* sim.c: the multi-round conversational-recommendation simulator and its metrics (SR@k, AT, hDCG).
 *
 * The one idea: the rules are UNICORN's evaluation code, step for step. The user opens with one random attribute
 * of the target (the turn counter is then 1); each system turn either asks one attribute (accepted iff the target
 * has it; accepted narrows the candidates, a rejection changes only what may be asked) or recommends a list
 * (success iff the target is in it; otherwise the list leaves the candidates). When the counter reaches
 * max_turns the user quits, so the system acts at most max_turns - 1 times and a failure counts max_turns
 * turns. The target never leaves the candidate set, so a list holding every candidate always succeeds. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/crs.h"

/* ---- catalogue ---- */

void crec_crs_catalog_free(crec_crs_catalog *c) {
    if (!c) return;
    free(c->ia_ptr);
    free(c->ia_idx);
    free(c->ai_ptr);
    free(c->ai_idx);
    memset(c, 0, sizeof *c);
}

int crec_crs_catalog_init(crec_crs_catalog *c, crec_dataset *ds) {
    memset(c, 0, sizeof *c);
    if (!ds) return CREC_EINVAL;
    if (ds->n_attr_pairs == 0 || ds->attrs.n == 0) return CREC_EEMPTY;
    if (!ds->attr_ptr) {
        int rc = crec_dataset_attr_csr(ds);
        if (rc) return rc;
    }
    int32_t ni = ds->items.n, na = ds->attrs.n;
    c->ds = ds;
    c->n_users = ds->users.n;
    c->n_items = ni;
    c->n_attrs = na;
    /* the dataset's CSR covers the items that existed when it was built; later items have no attributes */
    int32_t covered = ni;
    int64_t nnz = ds->attr_ptr[covered];
    c->ia_ptr = calloc((size_t)ni + 1, sizeof *c->ia_ptr);
    c->ia_idx = malloc((size_t)(nnz ? nnz : 1) * sizeof *c->ia_idx);
    c->ai_ptr = calloc((size_t)na + 1, sizeof *c->ai_ptr);
    c->ai_idx = malloc((size_t)(nnz ? nnz : 1) * sizeof *c->ai_idx);
    int64_t *fill = malloc(((size_t)na + 1) * sizeof *fill);
    if (!c->ia_ptr || !c->ia_idx || !c->ai_ptr || !c->ai_idx || !fill) {
        free(fill);
        crec_crs_catalog_free(c);
        return CREC_ENOMEM;
    }
    memcpy(c->ia_ptr, ds->attr_ptr, ((size_t)ni + 1) * sizeof *c->ia_ptr);
    memcpy(c->ia_idx, ds->attr_idx, (size_t)nnz * sizeof *c->ia_idx);
    for (int64_t k = 0; k < nnz; k++) c->ai_ptr[c->ia_idx[k] + 1]++;
    for (int32_t a = 0; a < na; a++) c->ai_ptr[a + 1] += c->ai_ptr[a];
    memcpy(fill, c->ai_ptr, ((size_t)na + 1) * sizeof *fill);
    for (int32_t i = 0; i < ni; i++)
        for (int64_t k = c->ia_ptr[i]; k < c->ia_ptr[i + 1]; k++) c->ai_idx[fill[c->ia_idx[k]]++] = i;
    free(fill);
    return 0;
}

int crec_crs_item_has(const crec_crs_catalog *c, int32_t i, int32_t a) {
    int64_t lo = c->ia_ptr[i], hi = c->ia_ptr[i + 1];
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (c->ia_idx[mid] < a) lo = mid + 1;
        else hi = mid;
    }
    return lo < c->ia_ptr[i + 1] && c->ia_idx[lo] == a;
}

/* ---- pairs ---- */

int crec_crs_pairs(const crec_crs_catalog *c, const crec_split *s, int part, int64_t max_pairs, uint64_t seed,
                   crec_crs_pair **out, int64_t *n_out, int64_t *n_skipped) {
    *out = NULL;
    *n_out = 0;
    if (n_skipped) *n_skipped = 0;
    if (part < 0 || part > 2) return CREC_EINVAL;
    const crec_csr *m = part == 0 ? &s->train : part == 1 ? &s->valid : &s->test;
    int64_t nnz = crec_csr_nnz(m), n = 0, skipped = 0;
    crec_crs_pair *p = malloc((size_t)(nnz ? nnz : 1) * sizeof *p);
    if (!p) return CREC_ENOMEM;
    for (int32_t u = 0; u < m->n_rows; u++)
        for (int64_t k = m->ptr[u]; k < m->ptr[u + 1]; k++) {
            int32_t i = m->idx[k];
            if (i < 0 || i >= c->n_items || c->ia_ptr[i + 1] == c->ia_ptr[i]) {
                skipped++;
                continue;
            }
            p[n++] = (crec_crs_pair){u, i};
        }
    if (max_pairs > 0 && max_pairs < n) {
        crec_rng rng;
        crec__rng_seed(&rng, seed);
        for (int64_t k = 0; k < max_pairs; k++) { /* partial Fisher-Yates: the first max_pairs are the sample */
            int64_t j = k + (int64_t)crec__rng_below(&rng, (uint64_t)(n - k));
            crec_crs_pair t = p[k];
            p[k] = p[j];
            p[j] = t;
        }
        n = max_pairs;
    }
    *out = p;
    *n_out = n;
    if (n_skipped) *n_skipped = skipped;
    return 0;
}

/* ---- the simulator ---- */

struct crec_crs_sim {
    const crec_crs_catalog *cat;
    crec_crs_sim_opts o;
    crec_crs_state st;
    int32_t target;
};

void crec_crs_sim_defaults(crec_crs_sim_opts *o) {
    o->max_turns = 15;
    o->rec_k = 10;
    o->seed = 42;
}

void crec_crs_sim_free(crec_crs_sim *s) {
    if (!s) return;
    free(s->st.acc);
    free(s->st.rej);
    free(s->st.asked);
    free(s->st.cand);
    free(s->st.in_cand);
    free(s->st.rej_items);
    free(s);
}

crec_crs_sim *crec_crs_sim_new(const crec_crs_catalog *c, const crec_crs_sim_opts *o) {
    if (!c || !o || o->max_turns < 2 || o->max_turns > 63 || o->rec_k < 1 || o->rec_k > CREC_CRS_REC_MAX) return NULL;
    crec_crs_sim *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cat = c;
    s->o = *o;
    int T = o->max_turns + 1 + CREC_CRS_EXTRA_ATTRS;
    s->st.cat = c;
    s->st.acc = malloc((size_t)T * sizeof *s->st.acc);
    s->st.rej = malloc((size_t)T * sizeof *s->st.rej);
    s->st.asked = calloc((size_t)c->n_attrs + 1, 1);
    s->st.cand = malloc(((size_t)c->n_items + 1) * sizeof *s->st.cand);
    s->st.in_cand = calloc((size_t)c->n_items + 1, 1);
    s->st.rej_items = malloc((size_t)(o->max_turns + 1) * (size_t)o->rec_k * sizeof *s->st.rej_items);
    if (!s->st.acc || !s->st.rej || !s->st.asked || !s->st.cand || !s->st.in_cand || !s->st.rej_items) {
        crec_crs_sim_free(s);
        return NULL;
    }
    return s;
}

const crec_crs_state *crec_crs_sim_state(const crec_crs_sim *s) { return &s->st; }

static const char *attr_name(const crec_crs_catalog *c, int32_t a) {
    return c->ds && a >= 0 && a < c->ds->attrs.n ? c->ds->attrs.names[a] : "?";
}

static uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Clear what the last episode set, touching only what it touched. */
static void reset(crec_crs_sim *s) {
    crec_crs_state *st = &s->st;
    for (int k = 0; k < st->n_acc; k++) st->asked[st->acc[k]] = 0;
    for (int k = 0; k < st->n_rej; k++) st->asked[st->rej[k]] = 0;
    for (int32_t k = 0; k < st->n_cand; k++) st->in_cand[st->cand[k]] = 0;
    st->n_acc = st->n_rej = 0;
    st->n_cand = st->n_rej_items = 0;
    st->turn = 0;
    memset(st->history, 0, sizeof st->history);
}

int crec_crs_episode(crec_crs_sim *s, crec_crs_policy *pol, crec_crs_pair p, int64_t pair_index,
                     crec_crs_result *r, FILE *tr) {
    const crec_crs_catalog *c = s->cat;
    crec_crs_state *st = &s->st;
    memset(r, 0, sizeof *r);
    if (!pol || !pol->act || p.user < 0 || p.user >= c->n_users || p.item < 0 || p.item >= c->n_items)
        return CREC_EINVAL;
    int64_t na = c->ia_ptr[p.item + 1] - c->ia_ptr[p.item];
    if (na == 0) return CREC_EINVAL;
    reset(s);
    s->target = p.item;
    st->user = p.user;
    st->last_turn = s->o.max_turns - 1;
    st->rec_k = s->o.rec_k;
    crec_rng rng;
    crec__rng_seed(&rng, mix64(s->o.seed) ^ mix64((uint64_t)pair_index + 0x51ED));
    int32_t a0 = c->ia_idx[c->ia_ptr[p.item] + (int64_t)crec__rng_below(&rng, (uint64_t)na)];
    st->acc[st->n_acc++] = a0;
    st->asked[a0] = 1;
    for (int64_t k = c->ai_ptr[a0]; k < c->ai_ptr[a0 + 1]; k++) {
        int32_t i = c->ai_idx[k];
        st->cand[st->n_cand++] = i;
        st->in_cand[i] = 1;
    }
    if (tr)
        fprintf(tr, "pair %lld user %s target %s: opens with attribute %s (%d candidates)\n", (long long)pair_index,
                c->ds ? c->ds->users.names[p.user] : "?", c->ds ? c->ds->items.names[p.item] : "?", attr_name(c, a0),
                st->n_cand);
    int rc = pol->begin ? pol->begin(pol->self, st) : 0;
    if (rc) return rc;
    int counter = 1; /* UNICORN's cur_conver_step after the opening statement */
    for (int t = 1;; t++) {
        if (counter >= s->o.max_turns) { /* the user quits */
            r->success = 0;
            r->turns = s->o.max_turns;
            if (tr) fprintf(tr, "  turn %d: the user quits\n", t);
            break;
        }
        crec_crs_action a;
        memset(&a, 0, sizeof a);
        if ((rc = pol->act(pol->self, st, &a))) return rc;
        int outcome;
        if (a.kind == CREC_CRS_ASK) {
            if (a.attr < 0 || a.attr >= c->n_attrs || st->asked[a.attr]) return CREC_EINVAL;
            st->asked[a.attr] = 1;
            r->n_asks++;
            if (crec_crs_item_has(c, p.item, a.attr)) {
                st->acc[st->n_acc++] = a.attr;
                int32_t w = 0;
                for (int32_t k = 0; k < st->n_cand; k++) {
                    int32_t i = st->cand[k];
                    if (crec_crs_item_has(c, i, a.attr)) st->cand[w++] = i;
                    else st->in_cand[i] = 0;
                }
                st->n_cand = w;
                outcome = CREC_CRS_H_ASK_ACC;
                r->n_acc++;
            } else {
                st->rej[st->n_rej++] = a.attr;
                outcome = CREC_CRS_H_ASK_REJ;
            }
            if (tr)
                fprintf(tr, "  turn %d: ask %s -> %s (%d candidates)\n", t, attr_name(c, a.attr),
                        outcome == CREC_CRS_H_ASK_ACC ? "yes" : "no", st->n_cand);
        } else if (a.kind == CREC_CRS_REC) {
            if (a.n_items < 1 || a.n_items > s->o.rec_k) return CREC_EINVAL;
            int hit = 0;
            for (int k = 0; k < a.n_items; k++) {
                int32_t i = a.items[k];
                if (i < 0 || i >= c->n_items || !st->in_cand[i]) return CREC_EINVAL;
                for (int j = 0; j < k; j++)
                    if (a.items[j] == i) return CREC_EINVAL;
                if (i == p.item) hit = k + 1;
            }
            r->n_recs++;
            if (hit) {
                outcome = CREC_CRS_H_REC_OK;
                r->success = 1;
                r->turns = t;
                r->rank = hit;
            } else {
                for (int k = 0; k < a.n_items; k++) {
                    st->in_cand[a.items[k]] = 0;
                    st->rej_items[st->n_rej_items++] = a.items[k];
                }
                int32_t w = 0;
                for (int32_t k = 0; k < st->n_cand; k++)
                    if (st->in_cand[st->cand[k]]) st->cand[w++] = st->cand[k];
                st->n_cand = w;
                outcome = CREC_CRS_H_REC_FAIL;
            }
            if (tr) {
                fprintf(tr, "  turn %d: recommend", t);
                for (int k = 0; k < a.n_items; k++)
                    fprintf(tr, " %s", c->ds ? c->ds->items.names[a.items[k]] : "?");
                if (hit) fprintf(tr, " -> accepted (target at rank %d)\n", hit);
                else fprintf(tr, " -> rejected (%d candidates)\n", st->n_cand);
            }
        } else {
            return CREC_EINVAL;
        }
        st->history[t] = (uint8_t)outcome;
        st->turn = t;
        if (pol->observe) pol->observe(pol->self, st, &a, outcome);
        if (r->success) break;
        counter++;
    }
    return 0;
}

/* ---- conversations with a person (crec chat): the answers come from outside ---- */

int crec_crs_sim_start(crec_crs_sim *s, int32_t user, const int32_t *acc, int n_acc) {
    const crec_crs_catalog *c = s->cat;
    crec_crs_state *st = &s->st;
    if (user >= c->n_users || n_acc < 0 || n_acc > CREC_CRS_EXTRA_ATTRS) return CREC_EINVAL;
    for (int k = 0; k < n_acc; k++)
        if (acc[k] < 0 || acc[k] >= c->n_attrs) return CREC_EINVAL;
    reset(s);
    s->target = -1;
    st->user = user < 0 ? -1 : user;
    st->last_turn = s->o.max_turns - 1;
    st->rec_k = s->o.rec_k;
    for (int32_t i = 0; i < c->n_items; i++) {
        int ok = 1;
        for (int k = 0; k < n_acc && ok; k++) ok = crec_crs_item_has(c, i, acc[k]);
        if (ok) st->cand[st->n_cand++] = i, st->in_cand[i] = 1;
    }
    for (int k = 0; k < n_acc; k++)
        if (!st->asked[acc[k]]) st->asked[acc[k]] = 1, st->acc[st->n_acc++] = acc[k];
    return 0;
}

int crec_crs_sim_answer(crec_crs_sim *s, int32_t attr, int accepted) {
    const crec_crs_catalog *c = s->cat;
    crec_crs_state *st = &s->st;
    if (attr < 0 || attr >= c->n_attrs) return CREC_EINVAL;
    if (st->asked[attr]) return 0;
    if (st->n_acc + st->n_rej >= s->o.max_turns + CREC_CRS_EXTRA_ATTRS) return CREC_ERANGE;
    st->asked[attr] = 1;
    if (!accepted) {
        st->rej[st->n_rej++] = attr;
        return 0;
    }
    st->acc[st->n_acc++] = attr;
    int32_t w = 0;
    for (int32_t k = 0; k < st->n_cand; k++) {
        int32_t i = st->cand[k];
        if (crec_crs_item_has(c, i, attr)) st->cand[w++] = i;
        else st->in_cand[i] = 0;
    }
    st->n_cand = w;
    return 0;
}

int crec_crs_sim_reject_items(crec_crs_sim *s, const int32_t *items, int n) {
    crec_crs_state *st = &s->st;
    for (int k = 0; k < n; k++) {
        int32_t i = items[k];
        if (i < 0 || i >= s->cat->n_items || !st->in_cand[i]) continue;
        if (st->n_rej_items >= (s->o.max_turns + 1) * s->o.rec_k) return CREC_ERANGE;
        st->in_cand[i] = 0;
        st->rej_items[st->n_rej_items++] = i;
    }
    int32_t w = 0;
    for (int32_t k = 0; k < st->n_cand; k++)
        if (st->in_cand[st->cand[k]]) st->cand[w++] = st->cand[k];
    st->n_cand = w;
    return 0;
}

void crec_crs_sim_end_turn(crec_crs_sim *s, int outcome) {
    crec_crs_state *st = &s->st;
    if (st->turn < 63) st->history[++st->turn] = (uint8_t)outcome;
}

/* ---- metrics ---- */

double crec_crs_hdcg(int t, int r) {
    if (t <= 0 || r <= 0) return 0;
    double a = 1.0 / log2(t + 2.0), b = 1.0 / log2(t + 1.0);
    return a + (b - a) / log2(r + 1.0);
}

void crec_crs_metrics_compute(const crec_crs_result *r, int64_t n, crec_crs_metrics *m) {
    memset(m, 0, sizeof *m);
    m->n = n;
    if (n <= 0) return;
    for (int64_t k = 0; k < n; k++) {
        if (r[k].success) {
            m->sr5 += r[k].turns <= 5;
            m->sr10 += r[k].turns <= 10;
            m->sr15 += r[k].turns <= 15;
            m->hdcg += crec_crs_hdcg(r[k].turns, r[k].rank);
        }
        m->at += r[k].turns;
        m->asks += r[k].n_asks;
        m->recs += r[k].n_recs;
    }
    double d = (double)n;
    m->sr5 /= d, m->sr10 /= d, m->sr15 /= d, m->at /= d, m->hdcg /= d, m->asks /= d, m->recs /= d;
}
