/* recommend.c: the recommendation service (include/crec/service.h): requests, the business rules and the
 * one path from a request to a ranked list, for the CLI, the demo and the server alike.
 *
 * The one idea: the rules are masks. Everything that must not come back - not allowed by the catalog, a
 * missing must-have or a present must-not-have attribute, an explicit exclusion, a seen item - is one byte
 * per catalog item, translated once into the model's ids, and the model ranks under that mask
 * (crec_model_recommend: its recommend hook, or score + crec_topk). No rule is checked after the fact; the
 * only after-the-fact checks drop scores that are not finite numbers (the list is taken again without them)
 * and scores of exactly 0 from a model that never scores below 0 (no evidence: they would pad the list in id
 * order). A list shorter than k is completed from the popular fallback when the catalog has one. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crec/service.h"

/* ---- the catalog of a dataset ---- */

int crec_service_dataset_attrs(void *ctx, const char *attr, crec_service_item_fn each, void *arg) {
    const crec_dataset *ds = ctx;
    if (!ds || !attr || !each) return CREC_EINVAL;
    int32_t a = crec_idmap_get(&ds->attrs, attr, strlen(attr));
    if (a < 0) return 0; /* no item carries an attribute nobody has */
    for (int64_t k = 0; k < ds->n_attr_pairs; k++)
        if (ds->attr_id[k] == a && each(arg, ds->attr_item[k])) break;
    return 0;
}

void crec_service_catalog_dataset(crec_service_catalog *c, const crec_model *m, const crec_dataset *ds) {
    memset(c, 0, sizeof *c);
    c->n_items = m ? m->n_items : 0;
    if (ds) {
        c->attrs = crec_service_dataset_attrs;
        c->attrs_ctx = (void *)ds;
    }
}

/* ---- requests ---- */

void crec_service_request_init(crec_service_request *rq) {
    memset(rq, 0, sizeof *rq);
    crec_service_request_reset(rq);
}

void crec_service_request_reset(crec_service_request *rq) {
    rq->user = -1;
    rq->n_hist = 0;
    rq->hist_has_ts = 1;
    rq->now = 0;
    rq->k = 10;
    rq->keep_seen = 0;
    rq->n_exclude = 0;
    rq->n_must = rq->n_must_not = 0;
}

void crec_service_request_free(crec_service_request *rq) {
    if (!rq) return;
    free(rq->hist);
    free(rq->hist_ts);
    free(rq->hist_type);
    free(rq->exclude);
    memset(rq, 0, sizeof *rq);
}

/* Room for n more history events. */
static int hist_grow(crec_service_request *rq, int64_t more) {
    int64_t need = (int64_t)rq->n_hist + more;
    if (need <= rq->hist_cap) return 0;
    if (need > INT32_MAX) return CREC_ERANGE;
    int64_t nc = rq->hist_cap ? 2 * (int64_t)rq->hist_cap : 64;
    while (nc < need) nc *= 2;
    if (nc > INT32_MAX) nc = INT32_MAX;
    int32_t *h = realloc(rq->hist, (size_t)nc * sizeof *h);
    if (h) rq->hist = h;
    int64_t *t = realloc(rq->hist_ts, (size_t)nc * sizeof *t);
    if (t) rq->hist_ts = t;
    uint8_t *y = realloc(rq->hist_type, (size_t)nc);
    if (y) rq->hist_type = y;
    if (!h || !t || !y) return CREC_ENOMEM;
    rq->hist_cap = (int32_t)nc;
    return 0;
}

int crec_service_request_add_event(crec_service_request *rq, int32_t item, int64_t ts, uint8_t type) {
    int rc = hist_grow(rq, 1);
    if (rc) return rc;
    rq->hist[rq->n_hist] = item;
    rq->hist_ts[rq->n_hist] = ts;
    rq->hist_type[rq->n_hist] = type;
    rq->n_hist++;
    return 0;
}

int crec_service_request_add_row(crec_service_request *rq, const crec_csr *m, int32_t row) {
    if (!m || row < 0 || row >= m->n_rows) return CREC_ERANGE;
    int64_t a = m->ptr[row], b = m->ptr[row + 1];
    int rc = hist_grow(rq, b - a);
    if (rc) return rc;
    for (int64_t p = a; p < b; p++) {
        rq->hist[rq->n_hist] = m->idx[p];
        rq->hist_ts[rq->n_hist] = m->ts ? m->ts[p] : 0;
        rq->hist_type[rq->n_hist] = 0;
        rq->n_hist++;
    }
    if (!m->ts && b > a) rq->hist_has_ts = 0;
    return 0;
}

/* Sort log positions by time, stably (ties keep load order): bottom-up merge sort through tmp. */
static void sort_pos_by_ts(int64_t *pos, int64_t *tmp, int64_t n, const int64_t *ts) {
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) tmp[o++] = ts[pos[j]] < ts[pos[i]] ? pos[j++] : pos[i++];
            while (i < mid) tmp[o++] = pos[i++];
            while (j < hi) tmp[o++] = pos[j++];
        }
        memcpy(pos, tmp, (size_t)n * sizeof *pos);
    }
}

int crec_service_request_add_user(crec_service_request *rq, const crec_dataset *ds, int32_t user) {
    if (!ds || user < 0 || user >= ds->users.n) return CREC_ERANGE;
    int64_t n = 0;
    for (int64_t k = 0; k < ds->n; k++) n += ds->user[k] == user;
    if (n == 0) return 0;
    int64_t *pos = malloc((size_t)n * sizeof *pos), *tmp = malloc((size_t)n * sizeof *tmp);
    int rc = pos && tmp ? hist_grow(rq, n) : CREC_ENOMEM;
    if (!rc) {
        int64_t m = 0;
        for (int64_t k = 0; k < ds->n; k++)
            if (ds->user[k] == user) pos[m++] = k;
        if (ds->ts) sort_pos_by_ts(pos, tmp, n, ds->ts);
        for (int64_t a = 0; a < n; a++) {
            int64_t k = pos[a];
            rq->hist[rq->n_hist] = ds->item[k];
            rq->hist_ts[rq->n_hist] = ds->ts ? ds->ts[k] : k;
            rq->hist_type[rq->n_hist] = ds->type ? ds->type[k] : 0;
            rq->n_hist++;
        }
    }
    free(pos);
    free(tmp);
    return rc;
}

int crec_service_request_exclude(crec_service_request *rq, int32_t item) {
    if (rq->n_exclude == rq->exclude_cap) {
        int32_t nc = rq->exclude_cap ? 2 * rq->exclude_cap : 16;
        int32_t *e = realloc(rq->exclude, (size_t)nc * sizeof *e);
        if (!e) return CREC_ENOMEM;
        rq->exclude = e;
        rq->exclude_cap = nc;
    }
    rq->exclude[rq->n_exclude++] = item;
    return 0;
}

int crec_service_request_filter(crec_service_request *rq, const char *attr, int must) {
    if (!attr) return CREC_EINVAL;
    int *n = must ? &rq->n_must : &rq->n_must_not;
    if (*n >= CREC_SERVICE_MAX_ATTRS) return CREC_ERANGE;
    (must ? rq->must : rq->must_not)[(*n)++] = attr;
    return 0;
}

/* ---- scratch ---- */

void crec_service_scratch_init(crec_service_scratch *sc) { memset(sc, 0, sizeof *sc); }

void crec_service_scratch_free(crec_service_scratch *sc) {
    if (!sc) return;
    free(sc->mscores);
    free(sc->mexcl);
    free(sc->cscores);
    free(sc->cexcl);
    free(sc->mark);
    free(sc->mhist);
    free(sc->mts);
    free(sc->mtype);
    free(sc->top);
    free(sc->items);
    free(sc->top_scores);
    free(sc->scores);
    memset(sc, 0, sizeof *sc);
}

/* Grow the arrays of each group to hold n (+1, so that empty catalogs still get a valid pointer). */
static int scratch_reserve(crec_service_scratch *sc, int64_t nm, int64_t nc, int64_t nh, int64_t k) {
#define GROW(ptr, n)                                                   \
    do {                                                                    \
        void *p_ = realloc(sc->ptr, (size_t)((n) + 1) * sizeof *sc->ptr);   \
        if (!p_) return CREC_ENOMEM;                                        \
        sc->ptr = p_;                                                       \
    } while (0)
    if (nm >= sc->mcap) {
        GROW(mscores, nm);
        GROW(mexcl, nm);
        sc->mcap = nm + 1;
    }
    if (nc >= sc->ccap) {
        GROW(cscores, nc);
        GROW(cexcl, nc);
        GROW(mark, nc);
        sc->ccap = nc + 1;
    }
    if (nh >= sc->hcap) {
        GROW(mhist, nh);
        GROW(mts, nh);
        GROW(mtype, nh);
        sc->hcap = nh + 1;
    }
    if (k >= sc->kcap) {
        GROW(top, k);
        GROW(items, k);
        GROW(top_scores, k);
        GROW(scores, k);
        sc->kcap = k + 1;
    }
#undef GROW
    return 0;
}

/* ---- the service ---- */

const char *crec_service_source_name(crec_service_source s) {
    switch (s) {
    case CREC_SERVICE_MODEL: return "model";
    case CREC_SERVICE_MODEL_HISTORY: return "model:history";
    case CREC_SERVICE_POPULAR: return "popular";
    }
    return "none";
}

typedef struct mark_arg { uint8_t *mark; int32_t n; uint8_t value; } mark_arg;

static int mark_item(void *arg, int32_t item) {
    mark_arg *a = arg;
    if (item >= 0 && item < a->n) a->mark[item] = a->value;
    return 0;
}

/* The catalog mask: 1 = never returned. */
static int build_mask(const crec_service_catalog *cat, const crec_service_request *rq, crec_service_scratch *sc) {
    int32_t n = cat->n_items;
    uint8_t *restrict ex = sc->cexcl;
    if (cat->allowed) {
        const uint8_t *restrict al = cat->allowed; /* restrict: a vectorized loop, once per request */
#pragma omp simd
        for (int32_t c = 0; c < n; c++) ex[c] = (uint8_t)(al[c] == 0);
    } else
        memset(ex, 0, (size_t)n);
    int rc;
    for (int f = 0; f < rq->n_must; f++) {
        mark_arg a = {sc->mark, n, 1};
        memset(sc->mark, 0, (size_t)n);
        if ((rc = cat->attrs(cat->attrs_ctx, rq->must[f], mark_item, &a))) return rc;
        for (int32_t c = 0; c < n; c++) ex[c] |= (uint8_t)!sc->mark[c];
    }
    for (int f = 0; f < rq->n_must_not; f++) {
        mark_arg a = {ex, n, 1};
        if ((rc = cat->attrs(cat->attrs_ctx, rq->must_not[f], mark_item, &a))) return rc;
    }
    for (int32_t e = 0; e < rq->n_exclude; e++) ex[rq->exclude[e]] = 1;
    if (!rq->keep_seen)
        for (int32_t h = 0; h < rq->n_hist; h++) ex[rq->hist[h]] = 1;
    return 0;
}

/* The fallback: the catalog's popularity under the mask, appended after the `at` items already in the list
 * (which it never repeats). Scores that are not numbers, and counts of 0 (no evidence), are masked first. */
static int rank_popular(const crec_service_catalog *cat, int k, int at, crec_service_scratch *sc,
                        crec_service_result *out) {
    int32_t n = cat->n_items;
    int rc = cat->popularity(cat->pop_ctx, sc->cscores, n);
    if (rc) return rc;
    const float *restrict ps = sc->cscores;
    uint8_t *restrict ex = sc->cexcl;
#pragma omp simd /* branch-free: not a finite number, or 0 */
    for (int32_t c = 0; c < n; c++) ex[c] |= (uint8_t) !(fabsf(ps[c]) <= FLT_MAX && ps[c] != 0);
    for (int r = 0; r < at; r++) sc->cexcl[sc->items[r]] = 1;
    int got = crec_topk(sc->cscores, n, sc->cexcl, k - at, sc->items + at);
    if (got < 0) return got;
    for (int r = at; r < at + got; r++) sc->scores[r] = sc->cscores[sc->items[r]];
    out->n = at + got;
    return 0;
}

/* The model under the mask, in its own ids; answers in catalog ids, appended after the `at` items already in
 * the list (which it never repeats: they join the catalog mask). */
static int rank_model(const crec_model *m, const crec_service_catalog *cat, const crec_service_request *rq,
                      const crec_context *ctx, int k, int at, crec_service_scratch *sc, crec_service_result *out) {
    for (int r = 0; r < at; r++) sc->cexcl[sc->items[r]] = 1;
    k -= at;
    int32_t nm = m->n_items, n = cat->n_items;
    const int32_t *restrict from = cat->from_model;
    uint8_t *restrict mex = sc->mexcl;
    const uint8_t *restrict cex = sc->cexcl;
    if (from && cat->model_excl && rq->n_must == 0 && rq->n_must_not == 0) {
        /* the catalog's own model-space mask (one copy), then the request's few exclusions mapped: the same
         * mask as the gather below when no attribute filter is set (a catalog id counts only where it is the
         * model item's catalog id) */
        memcpy(mex, cat->model_excl, (size_t)nm);
        const int32_t *to = cat->to_model;
#define EXCL_ROW(c_)                                                           \
    do {                                                                       \
        int32_t c = (c_), i = to[c];                                           \
        if (i >= 0 && i < nm && from[i] == c) mex[i] = 1;                      \
    } while (0)
        if (!rq->keep_seen)
            for (int32_t h = 0; h < rq->n_hist; h++) EXCL_ROW(rq->hist[h]);
        for (int32_t e = 0; e < rq->n_exclude; e++) EXCL_ROW(rq->exclude[e]);
        for (int r = 0; r < at; r++) EXCL_ROW(sc->items[r]);
#undef EXCL_ROW
    } else if (from) /* once per request: branch-free (a catalog id outside [0, n) is never returned) */
        for (int32_t i = 0; i < nm; i++) mex[i] = (uint32_t)from[i] < (uint32_t)n ? cex[from[i]] : 1;
    else {
        int32_t both = nm < n ? nm : n;
        memcpy(mex, cex, (size_t)both);
        memset(mex + both, 1, (size_t)(nm - both));
    }
    int got = 0;
    for (int pass = 0; pass < 16; pass++) {
        got = crec_model_recommend(m, ctx, sc->mexcl, k, sc->top, sc->top_scores, sc->mscores);
        if (got < 0) return got;
        int bad = 0;
        for (int r = 0; r < got; r++)
            if (!isfinite(sc->top_scores[r])) {
                sc->mexcl[sc->top[r]] = 1;
                bad++;
            }
        if (!bad || got < k) break; /* a short list has no more candidates to take */
    }
    int kept = at;
    for (int r = 0; r < got; r++) {
        int32_t i = sc->top[r];
        /* a list model's answer is checked against the mask too: a hidden item never leaks */
        if (i < 0 || i >= nm || sc->mexcl[i] || !isfinite(sc->top_scores[r])) continue;
        sc->items[kept] = from ? from[i] : i;
        sc->scores[kept] = sc->top_scores[r];
        kept++;
    }
    /* No evidence: a model whose scores are never negative (itemknn, markov, pop, ease from an empty history)
     * scores exactly 0 the items it knows nothing about; ranked, they would pad the list in id order. They are
     * dropped (a list that has a negative score is a signed scorer, where 0 means nothing special). */
    int signed_scores = 0;
    for (int r = at; r < kept; r++) signed_scores |= sc->scores[r] < 0;
    if (!signed_scores) {
        int w = at;
        for (int r = at; r < kept; r++)
            if (sc->scores[r] != 0) {
                sc->items[w] = sc->items[r];
                sc->scores[w++] = sc->scores[r];
            }
        kept = w;
    }
    out->n = kept;
    return 0;
}

int crec_service_recommend(const crec_model *m, const crec_service_catalog *cat, const crec_service_request *rq,
                           crec_service_scratch *sc, crec_service_result *out) {
    return crec_service_recommend_chain(&m, 1, cat, rq, sc, out);
}

int crec_service_recommend_chain(const crec_model *const *models, int n_models, const crec_service_catalog *cat,
                                 const crec_service_request *rq, crec_service_scratch *sc, crec_service_result *out) {
    if (!out) return CREC_EINVAL;
    memset(out, 0, sizeof *out);
    if (!models || n_models < 1 || n_models > CREC_SERVICE_MAX_CHAIN || !models[0] || !rq || !sc) return CREC_EINVAL;
    const crec_model *m = models[0];
    for (int j = 1; j < n_models; j++)
        if (!models[j] || models[j]->n_items != m->n_items || models[j]->n_users != m->n_users) return CREC_EINVAL;
    crec_service_catalog self;
    if (!cat) {
        crec_service_catalog_dataset(&self, m, NULL);
        cat = &self;
    }
    int32_t n = cat->n_items;
    int mapped = cat->to_model || cat->from_model;
    if (n < 0 || rq->k < 0 || rq->n_hist < 0 || rq->n_exclude < 0 || (mapped && (!cat->to_model || !cat->from_model)) ||
        (!mapped && n != m->n_items) || (rq->n_hist > 0 && (!rq->hist || !rq->hist_ts || !rq->hist_type)))
        return CREC_EINVAL;
    if (rq->user < -1 || rq->user >= m->n_users) return CREC_ERANGE;
    for (int32_t h = 0; h < rq->n_hist; h++)
        if (rq->hist[h] < 0 || rq->hist[h] >= n) return CREC_ERANGE;
    for (int32_t e = 0; e < rq->n_exclude; e++)
        if (rq->exclude[e] < 0 || rq->exclude[e] >= n) return CREC_ERANGE;
    if ((rq->n_must > 0 || rq->n_must_not > 0) && !cat->attrs) return CREC_EUNSUPPORTED;
    int rc = scratch_reserve(sc, m->n_items, n, rq->n_hist, rq->k);
    if (rc) return rc;

    /* the model's view of the history: the events of items it knows, with their times and types */
    int32_t H = 0;
    for (int32_t h = 0; h < rq->n_hist; h++) {
        int32_t i = mapped ? cat->to_model[rq->hist[h]] : rq->hist[h];
        if (i < 0 || i >= m->n_items) continue;
        sc->mhist[H] = i;
        sc->mts[H] = rq->hist_ts[h];
        sc->mtype[H] = rq->hist_type[h];
        H++;
    }
    crec_service_source src = rq->user >= 0 ? CREC_SERVICE_MODEL
                              : H > 0 || !cat->popularity ? CREC_SERVICE_MODEL_HISTORY
                                                          : CREC_SERVICE_POPULAR;
    if ((rc = build_mask(cat, rq, sc))) return rc;
    int32_t n_fallback = 0;
    if (src == CREC_SERVICE_POPULAR) {
        rc = rank_popular(cat, rq->k, 0, sc, out);
        n_fallback = out->n;
    } else {
        crec_context ctx = {.user = rq->user, .hist = sc->mhist, .n_hist = H,
                            .hist_ts = rq->hist_has_ts ? sc->mts : NULL, .hist_type = sc->mtype, .now = rq->now};
        rc = rank_model(m, cat, rq, &ctx, rq->k, 0, sc, out);
        /* fewer items with evidence than asked: the backup models complete the list, in turn */
        int32_t main_n = out->n;
        for (int j = 1; !rc && j < n_models && out->n < rq->k; j++)
            rc = rank_model(models[j], cat, rq, &ctx, rq->k, out->n, sc, out);
        out->n_backup = out->n - main_n;
        /* still short: the rest from the fallback, said so (all of it: source popular) */
        int32_t got = out->n;
        if (!rc && got < rq->k && cat->popularity) {
            rc = rank_popular(cat, rq->k, got, sc, out);
            n_fallback = out->n - got;
            if (got == 0 && n_fallback > 0) src = CREC_SERVICE_POPULAR;
        }
    }
    if (rc) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->items = sc->items;
    out->scores = sc->scores;
    out->source = src;
    out->n_fallback = n_fallback;
    out->n_hist_model = H;
    return 0;
}
