/* test_service.c: the recommendation service (include/crec/service.h) with a probe model whose scores are
 * known (item i scores 8 - i: item 0 is best) and which records the context it was given: every business
 * rule by hand - seen items excluded or kept, explicit exclusions, must-have / must-not-have attributes, the
 * catalog's allowed mask, the popular fallback for a user the model cannot condition on, scores that are not
 * numbers - the history's times and types reaching the model, a catalog in its own ids (the server's), a
 * list model held to the mask, and a real markov model answering exactly what score + crec_topk give.
 *
 * The dataset: users u0, u1; items i0..i7 (dense 0..7), events (loaded out of time order):
 *   u0: i3 @30 (type 2), i1 @10, i2 @20 (type 1)   -> history i1, i2, i3 with times 10, 20, 30
 *   u1: i5 @5
 * attributes: i0 {a}, i1 {a, b}, i2 {b}, i4 {a}, i5 {c}, i6 {a, c}. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crec/crec.h"

/* ---- the probe model ---- */

typedef struct probe {
    float nan_item, inf_item;  /* item ids (as floats, -1 = none) scored NaN / +inf */
    float zero_from;           /* items >= this score exactly 0 (no evidence); -1 = none */
    int calls;
    int32_t user, n_hist, hist[16];
    int64_t ts[16], now;
    int has_ts, types[16];
} probe;

static int probe_score(const crec_model *m, const crec_context *ctx, float *scores) {
    probe *p = m->state;
    p->calls++;
    p->user = ctx->user;
    p->n_hist = ctx->n_hist;
    p->has_ts = ctx->hist_ts != NULL;
    p->now = ctx->now;
    for (int32_t h = 0; h < ctx->n_hist && h < 16; h++) {
        p->hist[h] = ctx->hist[h];
        p->ts[h] = ctx->hist_ts ? ctx->hist_ts[h] : -1;
        p->types[h] = ctx->hist_type ? ctx->hist_type[h] : -1;
    }
    for (int32_t i = 0; i < m->n_items; i++) scores[i] = (float)(m->n_items - i);
    if (p->zero_from >= 0)
        for (int32_t i = (int32_t)p->zero_from; i < m->n_items; i++) scores[i] = 0;
    if (p->nan_item >= 0) scores[(int)p->nan_item] = NAN;
    if (p->inf_item >= 0) scores[(int)p->inf_item] = INFINITY;
    return 0;
}

static const crec_param_def probe_params[] = {CREC_P_INT("dim", "4", 1, 64, "unused"), CREC_P_END};
static const crec_model_type probe_type = {.name = "probe", .summary = "item i scores n - i", .params = probe_params,
                                           .score = probe_score, .caps = CREC_CAP_TIME};

/* A list model that ignores the mask it is given (a buggy decoder): items 0, 1, 2, ... with scores 1, 0.5, ... */
static int rude_recommend(const crec_model *m, const crec_context *ctx, const uint8_t *exclude, int k, int32_t *items,
                          float *scores_out) {
    int n = k < m->n_items ? k : m->n_items;
    for (int r = 0; r < n; r++) {
        items[r] = r;
        if (scores_out) scores_out[r] = 1.0f / (float)(r + 1);
    }
    return n;
}
static const crec_model_type rude_type = {.name = "rude", .summary = "ignores exclusions", .params = probe_params,
                                          .score = probe_score, .recommend = rude_recommend};

static crec_model make_model(const crec_model_type *t, probe *p, int32_t n_users, int32_t n_items) {
    crec_model m;
    memset(&m, 0, sizeof m);
    m.type = t;
    m.state = p;
    m.n_users = n_users;
    m.n_items = n_items;
    memset(p, 0, sizeof *p);
    p->nan_item = p->inf_item = p->zero_from = -1;
    return m;
}

static crec_dataset *make_dataset(void) {
    crec_dataset *ds = crec_dataset_new();
    assert_non_null(ds);
    char name[16];
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "i%d", i);
        assert_int_equal(crec_dataset_item(ds, name, strlen(name)), i);
    }
    assert_int_equal(crec_dataset_add(ds, "u0", 2, "i3", 2, 30, 1, 2), 0);
    assert_int_equal(crec_dataset_add(ds, "u0", 2, "i1", 2, 10, 1, 0), 0);
    assert_int_equal(crec_dataset_add(ds, "u0", 2, "i2", 2, 20, 1, 1), 0);
    assert_int_equal(crec_dataset_add(ds, "u1", 2, "i5", 2, 5, 1, 0), 0);
    static const char *const attrs[][2] = {{"a", NULL}, {"a", "b"}, {"b", NULL}, {NULL, NULL},
                                           {"a", NULL}, {"c", NULL}, {"a", "c"}, {NULL, NULL}};
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 2; k++)
            if (attrs[i][k]) assert_int_equal(crec_dataset_add_attr(ds, i, attrs[i][k], 1), 0);
    return ds;
}

/* The answer's items as a string "0 4 5" (and its source), for readable failures. */
static const char *list_of(const crec_service_result *res) {
    static char buf[256];
    size_t o = 0;
    buf[0] = 0;
    for (int32_t r = 0; r < res->n && o < sizeof buf - 16; r++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%d", r ? " " : "", res->items[r]);
    return buf;
}

typedef struct fixture {
    crec_dataset *ds;
    probe p;
    crec_model m;
    crec_service_catalog cat;
    crec_service_request rq;
    crec_service_scratch sc;
    crec_service_result res;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->ds = make_dataset();
    f->m = make_model(&probe_type, &f->p, 2, 8);
    crec_service_catalog_dataset(&f->cat, &f->m, f->ds);
    crec_service_request_init(&f->rq);
    crec_service_scratch_init(&f->sc);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    crec_service_request_free(&f->rq);
    crec_service_scratch_free(&f->sc);
    crec_dataset_free(f->ds);
    free(f);
    return 0;
}

static void run(fixture *f, const char *want, crec_service_source src) {
    assert_int_equal(crec_service_recommend(&f->m, &f->cat, &f->rq, &f->sc, &f->res), 0);
    assert_string_equal(list_of(&f->res), want);
    assert_int_equal(f->res.source, src);
}

/* ---- the request builder ---- */

static void test_history_builder(void **state) {
    fixture *f = *state;
    crec_service_request *rq = &f->rq;
    assert_int_equal(crec_service_request_add_user(rq, f->ds, 0), 0);
    assert_int_equal(rq->n_hist, 3);
    int32_t want_item[3] = {1, 2, 3};
    int64_t want_ts[3] = {10, 20, 30};
    int want_type[3] = {0, 1, 2};
    for (int h = 0; h < 3; h++) {
        assert_int_equal(rq->hist[h], want_item[h]);
        assert_int_equal(rq->hist_ts[h], want_ts[h]);
        assert_int_equal(rq->hist_type[h], want_type[h]);
    }
    assert_int_equal(rq->hist_has_ts, 1);
    assert_int_equal(crec_service_request_add_user(rq, f->ds, 2), CREC_ERANGE);
    /* a matrix row without times appends the items and drops the times */
    int64_t ptr[2] = {0, 2};
    int32_t idx[2] = {6, 7};
    crec_csr csr = {1, 8, ptr, idx, NULL, NULL};
    assert_int_equal(crec_service_request_add_row(rq, &csr, 0), 0);
    assert_int_equal(rq->n_hist, 5);
    assert_int_equal(rq->hist[4], 7);
    assert_int_equal(rq->hist_has_ts, 0);
    assert_int_equal(crec_service_request_add_row(rq, &csr, 1), CREC_ERANGE);
    crec_service_request_reset(rq);
    assert_int_equal(rq->n_hist, 0);
    assert_int_equal(rq->hist_has_ts, 1);
    assert_int_equal(rq->k, 10);
    assert_int_equal(rq->user, -1);
    for (int k = 0; k < CREC_SERVICE_MAX_ATTRS; k++) assert_int_equal(crec_service_request_filter(rq, "a", 1), 0);
    assert_int_equal(crec_service_request_filter(rq, "a", 1), CREC_ERANGE);
}

/* ---- the rules ---- */

static void test_seen_excluded_and_context(void **state) {
    fixture *f = *state;
    f->rq.user = 0;
    f->rq.k = 3;
    f->rq.now = 12345;
    assert_int_equal(crec_service_request_add_user(&f->rq, f->ds, 0), 0);
    run(f, "0 4 5", CREC_SERVICE_MODEL); /* 1, 2, 3 are the history */
    assert_true(f->res.scores[0] == 8 && f->res.scores[1] == 4 && f->res.scores[2] == 3);
    assert_int_equal(f->res.n_hist_model, 3);
    /* what the model was given: the user, the history in time order with its times and types, now */
    assert_int_equal(f->p.calls, 1);
    assert_int_equal(f->p.user, 0);
    assert_int_equal(f->p.n_hist, 3);
    assert_int_equal(f->p.has_ts, 1);
    assert_int_equal(f->p.hist[0], 1);
    assert_int_equal(f->p.hist[2], 3);
    assert_int_equal(f->p.ts[0], 10);
    assert_int_equal(f->p.ts[2], 30);
    assert_int_equal(f->p.types[1], 1);
    assert_int_equal(f->p.types[2], 2);
    assert_int_equal(f->p.now, 12345);
}

static void test_keep_seen(void **state) {
    fixture *f = *state;
    f->rq.user = 0;
    f->rq.k = 3;
    f->rq.keep_seen = 1;
    assert_int_equal(crec_service_request_add_user(&f->rq, f->ds, 0), 0);
    run(f, "0 1 2", CREC_SERVICE_MODEL);
}

static void test_explicit_exclusions(void **state) {
    fixture *f = *state;
    f->rq.user = 0;
    f->rq.k = 3;
    assert_int_equal(crec_service_request_add_user(&f->rq, f->ds, 0), 0);
    assert_int_equal(crec_service_request_exclude(&f->rq, 0), 0);
    assert_int_equal(crec_service_request_exclude(&f->rq, 4), 0);
    run(f, "5 6 7", CREC_SERVICE_MODEL);
    /* every item excluded: an empty list, not an error */
    for (int i = 0; i < 8; i++) crec_service_request_exclude(&f->rq, i);
    run(f, "", CREC_SERVICE_MODEL);
    assert_int_equal(crec_service_request_exclude(&f->rq, 8), 0);
    assert_int_equal(crec_service_recommend(&f->m, &f->cat, &f->rq, &f->sc, &f->res), CREC_ERANGE);
    assert_int_equal(f->res.n, 0);
}

static void test_attribute_filters(void **state) {
    fixture *f = *state;
    f->rq.k = 5;
    f->rq.user = 1; /* history i5 (excluded) */
    assert_int_equal(crec_service_request_add_user(&f->rq, f->ds, 1), 0);
    crec_service_request_filter(&f->rq, "a", 1);
    run(f, "0 1 4 6", CREC_SERVICE_MODEL); /* the items with a */
    crec_service_request_filter(&f->rq, "c", 0);
    run(f, "0 1 4", CREC_SERVICE_MODEL); /* ... without c */
    crec_service_request_filter(&f->rq, "b", 1);
    run(f, "1", CREC_SERVICE_MODEL); /* ... and with b */
    f->rq.n_must = f->rq.n_must_not = 0;
    crec_service_request_filter(&f->rq, "a", 0);
    crec_service_request_filter(&f->rq, "b", 0);
    run(f, "3 7", CREC_SERVICE_MODEL); /* neither a nor b; 5 is seen */
    f->rq.n_must = f->rq.n_must_not = 0;
    crec_service_request_filter(&f->rq, "nobody-has-this", 1);
    run(f, "", CREC_SERVICE_MODEL);
    /* no attribute source: a filter cannot be honoured */
    crec_service_catalog bare;
    crec_service_catalog_dataset(&bare, &f->m, NULL);
    assert_int_equal(crec_service_recommend(&f->m, &bare, &f->rq, &f->sc, &f->res), CREC_EUNSUPPORTED);
}

static void test_allowed_mask(void **state) {
    fixture *f = *state;
    uint8_t allowed[8] = {0, 1, 0, 1, 1, 1, 1, 1}; /* 0 and 2 hidden */
    f->cat.allowed = allowed;
    f->rq.k = 3;
    f->rq.keep_seen = 1;
    f->rq.user = 0;
    run(f, "1 3 4", CREC_SERVICE_MODEL);
}

static void test_nonfinite_scores(void **state) {
    fixture *f = *state;
    f->p.nan_item = 0;
    f->p.inf_item = 1;
    f->rq.user = 1;
    f->rq.k = 3;
    run(f, "2 3 4", CREC_SERVICE_MODEL); /* still three: the list is taken again without them */
    for (int r = 0; r < f->res.n; r++) assert_true(isfinite(f->res.scores[r]));
}

/* A fallback source over a float array (ctx). */
static int pop_source(void *ctx, float *scores, int32_t n) {
    const float *pop = ctx;
    for (int32_t i = 0; i < n; i++) scores[i] = pop[i];
    return 0;
}

static void test_fallback(void **state) {
    fixture *f = *state;
    float pop[8] = {1, 9, 2, 8, 3, 7, 4, 6};
    f->cat.popularity = pop_source;
    f->cat.pop_ctx = pop;
    f->rq.k = 3;
    /* nobody the model knows, no history: popular items, and the model is not asked */
    run(f, "1 3 5", CREC_SERVICE_POPULAR);
    assert_int_equal(f->p.calls, 0);
    assert_true(f->res.scores[0] == 9 && f->res.scores[2] == 7);
    assert_string_equal(crec_service_source_name(f->res.source), "popular");
    /* the fallback obeys the same rules: exclusions and filters */
    crec_service_request_exclude(&f->rq, 1);
    crec_service_request_filter(&f->rq, "a", 1);
    run(f, "6 4 0", CREC_SERVICE_POPULAR);
    /* a history item the model knows: the model answers from the history */
    crec_service_request_reset(&f->rq);
    f->rq.k = 3;
    crec_service_request_add_event(&f->rq, 3, 0, 0);
    run(f, "0 1 2", CREC_SERVICE_MODEL_HISTORY);
    assert_int_equal(f->p.calls, 1);
    assert_int_equal(f->p.user, -1);
    assert_string_equal(crec_service_source_name(f->res.source), "model:history");
    /* a known user with no events: still the model */
    crec_service_request_reset(&f->rq);
    f->rq.user = 1;
    f->rq.k = 2;
    run(f, "0 1", CREC_SERVICE_MODEL);
    /* no fallback source: the model answers even an empty context */
    f->cat.popularity = NULL;
    f->rq.user = -1;
    run(f, "0 1", CREC_SERVICE_MODEL_HISTORY);
}

/* The server's case: a catalog in its own ids. Catalog ids 0..9; catalog c is model item 7 - c for c < 8;
 * catalog 8 and 9 are new (the model does not know them), 9 is hidden. */
static void test_catalog_with_own_ids(void **state) {
    fixture *f = *state;
    int32_t to_model[10] = {7, 6, 5, 4, 3, 2, 1, 0, -1, -1}, from_model[8] = {7, 6, 5, 4, 3, 2, 1, 0};
    uint8_t allowed[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    float pop[10] = {0, 0, 0, 0, 0, 0, 0, 1, 50, 60};
    crec_service_catalog cat = {.n_items = 10, .to_model = to_model, .from_model = from_model, .allowed = allowed,
                                .popularity = pop_source, .pop_ctx = pop};
    f->rq.k = 3;
    crec_service_request_add_event(&f->rq, 7, 100, 0); /* catalog 7 = model item 0 */
    crec_service_request_add_event(&f->rq, 8, 200, 0); /* new: no context for the model */
    assert_int_equal(crec_service_recommend(&f->m, &cat, &f->rq, &f->sc, &f->res), 0);
    /* the model saw one event, item 0 at 100; its best others are model 1, 2, 3 = catalog 6, 5, 4 */
    assert_int_equal(f->p.n_hist, 1);
    assert_int_equal(f->p.hist[0], 0);
    assert_int_equal(f->p.ts[0], 100);
    assert_int_equal(f->res.n_hist_model, 1);
    assert_string_equal(list_of(&f->res), "6 5 4");
    assert_int_equal(f->res.source, CREC_SERVICE_MODEL_HISTORY);
    /* only new items in the history: the fallback, which can return new items (8) but not hidden ones (9) */
    crec_service_request_reset(&f->rq);
    f->rq.k = 2;
    crec_service_request_add_event(&f->rq, 9, 0, 0);
    assert_int_equal(crec_service_recommend(&f->m, &cat, &f->rq, &f->sc, &f->res), 0);
    assert_int_equal(f->res.source, CREC_SERVICE_POPULAR);
    assert_string_equal(list_of(&f->res), "8 7");
    /* maps must come in pairs */
    cat.from_model = NULL;
    assert_int_equal(crec_service_recommend(&f->m, &cat, &f->rq, &f->sc, &f->res), CREC_EINVAL);
}

static void test_list_model_held_to_mask(void **state) {
    fixture *f = *state;
    f->m.type = &rude_type;
    f->rq.k = 3;
    crec_service_request_exclude(&f->rq, 0);
    run(f, "1 2", CREC_SERVICE_MODEL_HISTORY); /* item 0 came back from the model and was dropped */
    assert_int_equal(f->p.calls, 0);             /* the recommend hook answered, not score */
}

static void test_errors(void **state) {
    fixture *f = *state;
    f->rq.user = 2;
    assert_int_equal(crec_service_recommend(&f->m, &f->cat, &f->rq, &f->sc, &f->res), CREC_ERANGE);
    f->rq.user = 0;
    crec_service_request_add_event(&f->rq, 8, 0, 0);
    assert_int_equal(crec_service_recommend(&f->m, &f->cat, &f->rq, &f->sc, &f->res), CREC_ERANGE);
    crec_service_request_reset(&f->rq);
    f->rq.k = 0;
    run(f, "", CREC_SERVICE_MODEL_HISTORY);
    crec_service_catalog wrong = f->cat;
    wrong.n_items = 7; /* no maps: the catalog must be the model's items */
    assert_int_equal(crec_service_recommend(&f->m, &wrong, &f->rq, &f->sc, &f->res), CREC_EINVAL);
    assert_int_equal(crec_service_recommend(NULL, &f->cat, &f->rq, &f->sc, &f->res), CREC_EINVAL);
}

/* Scores of exactly 0 (itemknn's and markov's "no evidence") never pad a list in id order: without a fallback
 * the list is shorter; with one it is completed from the popular items, and the result says how many. */
static void test_no_evidence(void **state) {
    fixture *f = *state;
    f->p.zero_from = 4; /* items 0..3 score 8..5, items 4..7 score 0 */
    f->rq.user = 1;
    f->rq.k = 6;
    run(f, "0 1 2 3", CREC_SERVICE_MODEL);
    assert_int_equal(f->res.n_fallback, 0);
    float pop[8] = {1, 9, 2, 0, 3, 7, 0, 6};
    f->cat.popularity = pop_source;
    f->cat.pop_ctx = pop;
    run(f, "0 1 2 3 5 7", CREC_SERVICE_MODEL); /* then the most popular others, never a repeat */
    assert_int_equal(f->res.n_fallback, 2);
    assert_true(f->res.scores[3] == 5 && f->res.scores[4] == 7 && f->res.scores[5] == 6);
    f->rq.k = 8;
    run(f, "0 1 2 3 5 7 4", CREC_SERVICE_MODEL); /* a count of 0 is no evidence either */
    /* a model with no evidence at all (a known user whose events were erased): the popular fallback */
    f->p.zero_from = 0;
    f->rq.k = 3;
    run(f, "1 5 7", CREC_SERVICE_POPULAR);
    assert_int_equal(f->res.n_fallback, 3);
}

/* A backup model: item i scores i from item 4 on, 0 (no evidence) below; it counts its calls. */
static int back_calls;
static int back_score(const crec_model *m, const crec_context *ctx, float *scores) {
    (void)ctx;
    back_calls++;
    for (int32_t i = 0; i < m->n_items; i++) scores[i] = i >= 4 ? (float)i : 0.0f;
    return 0;
}
static const crec_model_type back_type = {.name = "back", .summary = "item i scores i from 4", .params = probe_params,
                                          .score = back_score};

/* The fallback chain: the main model's items with evidence, then the backup's (never a repeat, same rules), then
 * the popular ones; a cold request goes to the popular fallback without asking the backups; a backup of another
 * id space is refused. */
static void test_chain(void **state) {
    fixture *f = *state;
    probe p2;
    crec_model back = make_model(&back_type, &p2, 2, 8);
    const crec_model *chain[2] = {&f->m, &back};
    f->p.zero_from = 2; /* the main model knows items 0 and 1 only */
    f->rq.user = 1;
    f->rq.k = 5;
    back_calls = 0;
    assert_int_equal(crec_service_recommend_chain(chain, 2, &f->cat, &f->rq, &f->sc, &f->res), 0);
    assert_string_equal(list_of(&f->res), "0 1 7 6 5");
    assert_int_equal(f->res.source, CREC_SERVICE_MODEL);
    assert_int_equal(f->res.n_backup, 3);
    assert_int_equal(f->res.n_fallback, 0);
    assert_true(f->res.scores[1] == 7 && f->res.scores[2] == 7 && f->res.scores[4] == 5); /* each its own scores */
    assert_int_equal(back_calls, 1);
    /* the backup obeys the rules: a seen item and an excluded one never come back */
    crec_service_request_add_event(&f->rq, 6, 0, 0);
    crec_service_request_exclude(&f->rq, 7);
    assert_int_equal(crec_service_recommend_chain(chain, 2, &f->cat, &f->rq, &f->sc, &f->res), 0);
    assert_string_equal(list_of(&f->res), "0 1 5 4");
    assert_int_equal(f->res.n_backup, 2);
    /* then the popular fallback completes it */
    float pop[8] = {1, 9, 2, 8, 3, 7, 4, 6};
    f->cat.popularity = pop_source;
    f->cat.pop_ctx = pop;
    crec_service_request_reset(&f->rq);
    f->rq.user = 1;
    f->rq.k = 8;
    assert_int_equal(crec_service_recommend_chain(chain, 2, &f->cat, &f->rq, &f->sc, &f->res), 0);
    assert_string_equal(list_of(&f->res), "0 1 7 6 5 4 3 2");
    assert_int_equal(f->res.n_backup, 4);
    assert_int_equal(f->res.n_fallback, 2);
    /* the main model alone is crec_service_recommend: the popular items follow it directly */
    assert_int_equal(crec_service_recommend_chain(chain, 1, &f->cat, &f->rq, &f->sc, &f->res), 0);
    assert_string_equal(list_of(&f->res), "0 1 3 5 7 6 4 2");
    assert_int_equal(f->res.n_backup, 0);
    /* a cold request: popular, the backup is not asked */
    crec_service_request_reset(&f->rq);
    f->rq.k = 2;
    back_calls = 0;
    assert_int_equal(crec_service_recommend_chain(chain, 2, &f->cat, &f->rq, &f->sc, &f->res), 0);
    assert_string_equal(list_of(&f->res), "1 3");
    assert_int_equal(f->res.source, CREC_SERVICE_POPULAR);
    assert_int_equal(back_calls, 0);
    /* another id space, or a bad chain */
    back.n_items = 9;
    assert_int_equal(crec_service_recommend_chain(chain, 2, &f->cat, &f->rq, &f->sc, &f->res), CREC_EINVAL);
    back.n_items = 8;
    assert_int_equal(crec_service_recommend_chain(chain, 0, &f->cat, &f->rq, &f->sc, &f->res), CREC_EINVAL);
    assert_int_equal(crec_service_recommend_chain(chain, CREC_SERVICE_MAX_CHAIN + 1, &f->cat, &f->rq, &f->sc, &f->res),
                     CREC_EINVAL);
}

static int neg_score(const crec_model *m, const crec_context *ctx, float *scores) {
    (void)ctx;
    for (int32_t i = 0; i < m->n_items; i++) scores[i] = (float)(2 - i); /* 2, 1, 0, -1, ... */
    return 0;
}

/* A signed scorer (a negative score in the list): 0 is an ordinary score and is kept. */
static void test_signed_scores_keep_zero(void **state) {
    fixture *f = *state;
    crec_model_type t = probe_type;
    t.score = neg_score;
    f->m.type = &t;
    f->rq.user = 1;
    f->rq.k = 4;
    run(f, "0 1 2 3", CREC_SERVICE_MODEL);
    f->m.type = &probe_type;
}

/* A real model: the service's answer is exactly score + crec_topk with the history excluded. */
static void test_markov_equals_score_topk(void **state) {
    (void)state;
    crec_synth_opts so;
    crec_synth_defaults(&so);
    so.n_users = 200;
    so.n_items = 100;
    crec_dataset *ds = NULL;
    assert_int_equal(crec_synth_generate(&so, &ds), 0);
    crec_split_spec spec;
    crec_split s;
    assert_int_equal(crec_split_spec_parse("loo", &spec), 0);
    assert_int_equal(crec_split_make(ds, &spec, &s), 0);
    crec_model *m = NULL;
    char err[256];
    assert_int_equal(crec_model_new("markov", NULL, &m, err, sizeof err), 0);
    crec_train_input in = {.ds = ds, .train = &s.train, .n_threads = 1, .seed = 1};
    assert_int_equal(crec_model_train(m, &in), 0);
    crec_service_request rq;
    crec_service_scratch sc;
    crec_service_request_init(&rq);
    crec_service_scratch_init(&sc);
    float *scores = malloc((size_t)m->n_items * sizeof *scores);
    uint8_t *excl = calloc((size_t)m->n_items, 1);
    int32_t top[10];
    for (int32_t u = 0; u < 200; u += 37) {
        crec_service_request_reset(&rq);
        rq.user = u;
        assert_int_equal(crec_service_request_add_row(&rq, &s.train, u), 0);
        crec_service_result res;
        assert_int_equal(crec_service_recommend(m, NULL, &rq, &sc, &res), 0);
        crec_context ctx = {.user = u, .hist = rq.hist, .n_hist = rq.n_hist, .hist_ts = rq.hist_ts};
        assert_int_equal(crec_model_score(m, &ctx, scores), 0);
        memset(excl, 0, (size_t)m->n_items);
        for (int32_t h = 0; h < rq.n_hist; h++) excl[rq.hist[h]] = 1;
        for (int32_t i = 0; i < m->n_items; i++) excl[i] |= scores[i] == 0; /* markov: 0 = no evidence */
        int n = crec_topk(scores, m->n_items, excl, 10, top);
        assert_int_equal(res.n, n);
        for (int r = 0; r < n; r++) {
            assert_int_equal(res.items[r], top[r]);
            assert_true(res.scores[r] == scores[top[r]]);
        }
    }
    free(scores);
    free(excl);
    crec_service_scratch_free(&sc);
    crec_service_request_free(&rq);
    crec_model_free(m);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_history_builder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seen_excluded_and_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_explicit_exclusions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attribute_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allowed_mask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonfinite_scores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_evidence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signed_scores_keep_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalog_with_own_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_model_held_to_mask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test(test_markov_equals_score_topk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
