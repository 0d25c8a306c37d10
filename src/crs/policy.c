/* policy.c: the conversational policies that need no training of their own: greedy, maxent and cpr.
 *
 * The one idea: every policy is "which items are still plausible, how plausible, and is one question worth
 * more than a list now". Item plausibility comes from the user-item-attribute model (uiam.c):
 * s(i) = v_i.(u + sum of accepted attribute vectors), minus UNICORN's soft penalty sigmoid(v_i.p) for each
 * rejected attribute p the item has - or, with hard_reject, such items are ranked after every other item and
 * left out of the question statistics (the simulator's user never rejects an attribute of the target, so this
 * is exact inference there, and an assumption about real users). Without a model, items rank by training
 * popularity. With exclude_seen the user's known items (training, and validation when testing) rank last and
 * stay out of the statistics, as the engine's full-ranking protocol excludes seen items.
 *   greedy  recommend the top k every turn;
 *   maxent  ask the attribute of highest entropy over the candidates (the papers' Max Entropy baseline);
 *           recommend when at most rec_below candidates remain, or on the last turn;
 *   cpr     SCPR's reasoning: the askable attributes are those of the candidate items (the attribute-item-
 *           attribute paths from what was accepted), scored by their entropy under the item posterior
 *           softmax(beta * s(i)) (SCPR weights by sigmoid(s(i))); recommend when the top k hold `mass` of the
 *           posterior, when at most rec_below candidates remain, or on the last turn (a rule tuned on the
 *           validation split in place of SCPR's policy network). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crs/crs_internal.h"

enum { P_GREEDY, P_MAXENT, P_CPR };

typedef struct pol {
    const crec_crs_catalog *c;
    crec_crs_policy_opts o;
    int kind;
    float *pop;      /* [n_items] training popularity */
    float *score;    /* [n_items] item score this turn */
    double *wa;      /* [n_attrs] attribute mass */
    int32_t *touched;
    int32_t *stat;   /* items the statistics run over */
    int32_t *bad;    /* candidates with a rejected attribute (hard_reject) */
    float *q;
    uint8_t *seen;   /* [n_items] the current user's known items (exclude_seen) */
    int32_t seen_user;
} pol;

void crec__crs_policy_defaults(crec_crs_policy_opts *o) {
    memset(o, 0, sizeof *o);
    o->hard_reject = 0;
    o->rec_below = 10;
    o->mass = 0.5;
    o->beta = 1.0;
    o->exclude_seen = 1;
}

static void pol_free(pol *p) {
    if (!p) return;
    free(p->pop), free(p->score), free(p->wa), free(p->touched), free(p->stat), free(p->bad), free(p->q), free(p->seen);
    free(p);
}

void crec__crs_policy_free(crec_crs_policy *p) {
    if (!p) return;
    pol_free(p->self);
    p->self = NULL;
}

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

/* Score every candidate into p->score; split them into stat (consistent) and bad (hard_reject only). */
static void score_cands(pol *p, const crec_crs_state *st, int32_t *n_stat, int32_t *n_bad) {
    const crec_crs_catalog *c = p->c;
    const crec_crs_uiam *m = p->o.model;
    int d = m ? m->dim : 0;
    if (m) {
        if (st->user >= 0) { /* an anonymous person (crec chat) has no user vector */
            const float *u = m->U + (size_t)st->user * d;
            for (int x = 0; x < d; x++) p->q[x] = u[x];
        } else {
            for (int x = 0; x < d; x++) p->q[x] = 0;
        }
        for (int k = 0; k < st->n_acc; k++) {
            const float *a = m->A + (size_t)st->acc[k] * d;
            for (int x = 0; x < d; x++) p->q[x] += a[x];
        }
    }
    int32_t ns = 0, nb = 0;
    for (int32_t k = 0; k < st->n_cand; k++) {
        int32_t i = st->cand[k];
        float s;
        int rejected = 0;
        if (m) {
            const float *v = m->V + (size_t)i * d;
            s = 0;
            for (int x = 0; x < d; x++) s += v[x] * p->q[x];
            for (int r = 0; r < st->n_rej; r++)
                if (crec_crs_item_has(c, i, st->rej[r])) {
                    rejected = 1;
                    if (!p->o.hard_reject) {
                        const float *a = m->A + (size_t)st->rej[r] * d;
                        float z = 0;
                        for (int x = 0; x < d; x++) z += v[x] * a[x];
                        s -= sigm(z);
                    }
                }
        } else {
            s = p->pop[i];
            if (p->o.hard_reject)
                for (int r = 0; r < st->n_rej && !rejected; r++) rejected = crec_crs_item_has(c, i, st->rej[r]);
        }
        p->score[i] = s;
        if ((p->o.hard_reject && rejected) || p->seen[i]) p->bad[nb++] = i;
        else p->stat[ns++] = i;
    }
    *n_stat = ns;
    *n_bad = nb;
}

/* Better: higher score, then lower id. */
static int better(const float *s, int32_t a, int32_t b) { return s[a] > s[b] || (s[a] == s[b] && a < b); }

/* Top k of list[0..n) into out (kept sorted); returns how many. */
static int topk(const float *s, const int32_t *list, int32_t n, int k, int32_t *out, int have) {
    int m = have;
    for (int32_t j = 0; j < n; j++) {
        int32_t i = list[j];
        if (m == k && !better(s, i, out[m - 1])) continue;
        int pos = m < k ? m++ : k - 1;
        while (pos > have && better(s, i, out[pos - 1])) {
            out[pos] = out[pos - 1];
            pos--;
        }
        out[pos] = i;
    }
    return m;
}

static void recommend(pol *p, const crec_crs_state *st, int32_t ns, int32_t nb, crec_crs_action *a) {
    a->kind = CREC_CRS_REC;
    int k = st->rec_k;
    int n = topk(p->score, p->stat, ns, k, a->items, 0);
    if (n < k) n = topk(p->score, p->bad, nb, k, a->items, n); /* then the inconsistent ones, by score */
    a->n_items = n;
}

/* Ask the not-yet-asked attribute of the stat items with the highest entropy of its weighted share. w == NULL:
 * every item weighs 1. Returns 0 and fills a, or 1 when no attribute splits the items. */
static int ask_entropy(pol *p, const crec_crs_state *st, int32_t ns, const double *w, double wsum,
                       crec_crs_action *a) {
    const crec_crs_catalog *c = p->c;
    int nt = 0;
    for (int32_t j = 0; j < ns; j++) {
        int32_t i = p->stat[j];
        double wi = w ? w[j] : 1.0;
        for (int64_t k = c->ia_ptr[i]; k < c->ia_ptr[i + 1]; k++) {
            int32_t at = c->ia_idx[k];
            if (st->asked[at]) continue;
            if (p->wa[at] == 0) p->touched[nt++] = at;
            p->wa[at] += wi + 1e-300; /* never exactly 0 once touched */
        }
    }
    double best = 0;
    int32_t ba = -1;
    for (int t = 0; t < nt; t++) {
        int32_t at = p->touched[t];
        double pr = p->wa[at] / wsum;
        p->wa[at] = 0;
        if (pr >= 1 - 1e-12 || pr <= 0) continue;
        double h = -pr * log2(pr) - (1 - pr) * log2(1 - pr);
        if (h > best || (h == best && ba >= 0 && at < ba)) best = h, ba = at;
    }
    if (ba < 0) return 1;
    a->kind = CREC_CRS_ASK;
    a->attr = ba;
    return 0;
}

/* Mark the user's known items (rows of train, and of valid with seen_valid) when exclude_seen. */
static void mark_rows(pol *p, int32_t u, uint8_t v) {
    if (!p->o.exclude_seen || !p->o.split || u < 0) return;
    const crec_csr *m[2] = {&p->o.split->train, p->o.seen_valid ? &p->o.split->valid : NULL};
    for (int k = 0; k < 2; k++)
        if (m[k] && u < m[k]->n_rows)
            for (int64_t j = m[k]->ptr[u]; j < m[k]->ptr[u + 1]; j++) p->seen[m[k]->idx[j]] = v;
}

static int pol_begin(void *self, const crec_crs_state *st) {
    pol *p = self;
    mark_rows(p, p->seen_user, 0);
    p->seen_user = st->user;
    mark_rows(p, p->seen_user, 1);
    return 0;
}

static int pol_act(void *self, const crec_crs_state *st, crec_crs_action *a) {
    pol *p = self;
    int32_t ns, nb;
    score_cands(p, st, &ns, &nb);
    int last = st->turn + 1 >= st->last_turn;
    if (p->kind == P_GREEDY || last || ns <= st->rec_k) {
        recommend(p, st, ns, nb, a);
        return 0;
    }
    if (p->kind == P_MAXENT) {
        if (ns <= p->o.rec_below || ask_entropy(p, st, ns, NULL, (double)ns, a)) recommend(p, st, ns, nb, a);
        return 0;
    }
    /* cpr: posterior over the consistent candidates */
    double mx = -INFINITY;
    for (int32_t j = 0; j < ns; j++)
        if (p->score[p->stat[j]] > mx) mx = p->score[p->stat[j]];
    double *w = malloc((size_t)(ns ? ns : 1) * sizeof *w);
    if (!w) return CREC_ENOMEM;
    double wsum = 0;
    for (int32_t j = 0; j < ns; j++) wsum += w[j] = exp(p->o.beta * (p->score[p->stat[j]] - mx));
    int32_t top[CREC_CRS_REC_MAX];
    int n = topk(p->score, p->stat, ns, st->rec_k, top, 0);
    double tm = 0;
    for (int k = 0; k < n; k++) tm += exp(p->o.beta * (p->score[top[k]] - mx));
    if (ns <= p->o.rec_below || tm >= p->o.mass * wsum || ask_entropy(p, st, ns, w, wsum, a))
        recommend(p, st, ns, nb, a);
    free(w);
    return 0;
}

int crec__crs_policy_scan(crec_crs_policy *pp, const crec_crs_state *st, int ka, crec_crs_scan *sc) {
    pol *p = pp->self;
    const crec_crs_catalog *c = p->c;
    int32_t ns, nb;
    score_cands(p, st, &ns, &nb);
    memset(sc, 0, sizeof *sc);
    sc->n_stat = ns;
    sc->q = p->o.model ? p->q : NULL;
    if (ka > CREC_CRS_SCAN_K) ka = CREC_CRS_SCAN_K;
    double mx = -INFINITY, wsum = 0;
    for (int32_t j = 0; j < ns; j++)
        if (p->score[p->stat[j]] > mx) mx = p->score[p->stat[j]];
    for (int32_t j = 0; j < ns; j++) wsum += exp(p->o.beta * (p->score[p->stat[j]] - mx));
    sc->n_item = topk(p->score, p->stat, ns, st->rec_k, sc->item, 0);
    if (sc->n_item < st->rec_k) sc->n_item = topk(p->score, p->bad, nb, st->rec_k, sc->item, sc->n_item);
    double tm = 0;
    for (int k = 0; k < sc->n_item; k++) {
        double w = k < ns ? exp(p->o.beta * (p->score[sc->item[k]] - mx)) / wsum : 0; /* known / rejected: 0 */
        tm += w;
        sc->item_w[k] = (float)w;
    }
    sc->mass = tm;
    /* attribute shares under the posterior, then the top ka by entropy */
    int nt = 0;
    for (int32_t j = 0; j < ns && ka > 0; j++) {
        int32_t i = p->stat[j];
        double wi = exp(p->o.beta * (p->score[i] - mx));
        for (int64_t k = c->ia_ptr[i]; k < c->ia_ptr[i + 1]; k++) {
            int32_t at = c->ia_idx[k];
            if (st->asked[at]) continue;
            if (p->wa[at] == 0) p->touched[nt++] = at;
            p->wa[at] += wi + 1e-300;
        }
    }
    for (int t = 0; t < nt; t++) {
        int32_t at = p->touched[t];
        double pr = p->wa[at] / wsum;
        p->wa[at] = 0;
        if (pr >= 1 - 1e-12 || pr <= 0) continue;
        float h = (float)(-pr * log2(pr) - (1 - pr) * log2(1 - pr));
        int m = sc->n_attr;
        if (m == ka && !(h > sc->attr_h[m - 1] || (h == sc->attr_h[m - 1] && at < sc->attr[m - 1]))) continue;
        int pos = m < ka ? sc->n_attr++ : ka - 1;
        while (pos > 0 && (h > sc->attr_h[pos - 1] || (h == sc->attr_h[pos - 1] && at < sc->attr[pos - 1]))) {
            sc->attr[pos] = sc->attr[pos - 1], sc->attr_h[pos] = sc->attr_h[pos - 1], sc->attr_p[pos] = sc->attr_p[pos - 1];
            pos--;
        }
        sc->attr[pos] = at, sc->attr_h[pos] = h, sc->attr_p[pos] = (float)pr;
    }
    return 0;
}

void crec__crs_policy_recommend(crec_crs_policy *pp, const crec_crs_state *st, crec_crs_action *a) {
    pol *p = pp->self;
    int32_t ns, nb;
    score_cands(p, st, &ns, &nb);
    recommend(p, st, ns, nb, a);
}

int crec__crs_policy_new(const char *name, const crec_crs_catalog *c, const crec_crs_policy_opts *o,
                         crec_crs_policy *out) {
    memset(out, 0, sizeof *out);
    int kind;
    if (strcmp(name, "greedy") == 0) kind = P_GREEDY;
    else if (strcmp(name, "maxent") == 0) kind = P_MAXENT;
    else if (strcmp(name, "cpr") == 0) kind = P_CPR;
    else return CREC_ENOTFOUND;
    if (o->model && (o->model->n_items != c->n_items || o->model->n_attrs != c->n_attrs ||
                     o->model->n_users != c->n_users))
        return CREC_EINVAL;
    pol *p = calloc(1, sizeof *p);
    if (!p) return CREC_ENOMEM;
    p->c = c;
    p->o = *o;
    p->kind = kind;
    p->pop = calloc((size_t)c->n_items + 1, sizeof *p->pop);
    p->score = calloc((size_t)c->n_items + 1, sizeof *p->score);
    p->wa = calloc((size_t)c->n_attrs + 1, sizeof *p->wa);
    p->touched = malloc(((size_t)c->n_attrs + 1) * sizeof *p->touched);
    p->stat = malloc(((size_t)c->n_items + 1) * sizeof *p->stat);
    p->bad = malloc(((size_t)c->n_items + 1) * sizeof *p->bad);
    p->q = malloc((size_t)(o->model ? o->model->dim : 1) * sizeof *p->q);
    p->seen = calloc((size_t)c->n_items + 1, 1);
    p->seen_user = -1;
    if (!p->pop || !p->score || !p->wa || !p->touched || !p->stat || !p->bad || !p->q || !p->seen) {
        pol_free(p);
        return CREC_ENOMEM;
    }
    if (o->split) {
        const crec_csr *tr = &o->split->train;
        for (int64_t k = 0; k < crec_csr_nnz(tr); k++)
            if (tr->idx[k] >= 0 && tr->idx[k] < c->n_items) p->pop[tr->idx[k]] += 1;
    }
    out->name = kind == P_GREEDY ? "greedy" : kind == P_MAXENT ? "maxent" : "cpr";
    out->self = p;
    out->act = pol_act;
    out->begin = pol_begin;
    return 0;
}
