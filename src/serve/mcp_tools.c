/* mcp_tools.c: the MCP tools over the server's state - recommend, similar_items, popular, search_items,
 * explain, user_history, record_feedback - with their input and output JSON Schemas.
 *
 * The one idea: a tool's arguments are declared once, in a table (name, type, bounds, help), and that table
 * is both the inputSchema tools/list publishes and the check every call passes (an unknown key, a wrong
 * type or a value out of bounds is invalid params naming the key), so the schema an agent reads cannot drift
 * from what the server accepts. The recommendation tools are requests to the one recommendation service
 * through reccall.h - the same calls as GET /v1/users/{id}/recommendations and the other REST routes - and
 * every item comes back with its external id, title and attributes so an agent can talk about it.
 * search_items is ToolRec's attribute-level retrieval over the catalog; explain reads the model's scores of
 * the item given each history item alone (crec_model_score) and the attributes they share. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "serve/mcp.h"
#include "serve/reccall.h"

#define MAX_TOOL_K 100        /* k of a tool's list: an agent reads every item */
#define MAX_WORDS 16
#define EXPLAIN_HIST 50       /* history items explain scores the target against (the newest distinct ones) */
#define EXPLAIN_TOP 5

typedef enum { T_STR, T_INT, T_NUM, T_BOOL, T_IDS } ptype;
typedef struct pdef {
    const char *name;
    ptype type;
    int required;
    long lo, hi;              /* int: bounds; string: length in bytes; ids: number of entries */
    const char *help;
} pdef;

typedef int tool_fn(crec_server *s, crec__tls *t, crec__mcp_client *cl, json_t *a, json_t **out, crec__mcp_err *e);

typedef struct tooldef {
    const char *name, *title, *help;
    const pdef *params;
    int n_params;
    const char *output;       /* the outputSchema, JSON with ' for " */
    tool_fn *fn;
    int writes;               /* 1: needs a key when keys are set; runs under the write lock, no read txn */
} tooldef;

static int64_t now_unix(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec;
}

/* ---- argument access (after validation) ---- */

static const char *a_str(json_t *a, const char *k) { return json_string_value(json_object_get(a, k)); }
static long a_int(json_t *a, const char *k, long def) {
    json_t *v = json_object_get(a, k);
    return json_is_integer(v) ? (long)json_integer_value(v) : def;
}
static int a_bool(json_t *a, const char *k, int def) {
    json_t *v = json_object_get(a, k);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

/* ---- the request pieces shared by the list tools ---- */

static int tool_fail(crec__mcp_err *e, int rc) {
    return crec__mcp_errf(e, 0, "the ranking failed: %s", crec_strerror(rc));
}

/* must_have / must_not_have (strings stay in the arguments, which outlive the call) and exclude. */
static int add_rules(crec__rec_call *c, json_t *a) {
    static const char *const keys[2] = {"must_not_have", "must_have"};
    int rc = 0;
    for (int must = 0; must < 2; must++) {
        json_t *l = json_object_get(a, keys[must]);
        for (size_t k = 0; !rc && k < json_array_size(l); k++)
            rc = crec_service_request_filter(&c->t->rq, json_string_value(json_array_get(l, k)), must);
    }
    crec__idlist ex = {0};
    crec__reqerr re;
    if (!rc && crec__json_idlist("exclude", json_object_get(a, "exclude"), &ex, &re)) rc = CREC_EINVAL;
    if (!rc) rc = crec__rec_rules(c, &ex, NULL);
    crec__idlist_free(&ex);
    return rc;
}

/* The history items of a (in order) appended to the request; ts: positions, or now when a user's events came
 * first (so the request stays oldest first). Items the catalog or the model does not know go to unknown. */
static int add_history(crec__rec_call *c, json_t *a, int after_user, json_t *unknown) {
    json_t *h = json_object_get(a, "history");
    int rc = 0;
    for (size_t k = 0; !rc && k < json_array_size(h); k++) {
        const char *id = json_string_value(json_array_get(h, k));
        int32_t row = crec__rec_row(c, id, strlen(id));
        if (row >= 0) rc = crec_service_request_add_event(&c->t->rq, row, after_user ? c->t->rq.now : (int64_t)k, 0);
        if (row < 0 || c->t->to_model[row] < 0) json_array_append_new(unknown, crec__jstr(id));
    }
    return rc;
}

/* ---- recommend, similar_items, popular ---- */

static int t_recommend(crec_server *s, crec__tls *t, crec__mcp_client *cl, json_t *a, json_t **out, crec__mcp_err *e) {
    const char *user = a_str(a, "user");
    crec__rec_call c;
    int rc = crec__rec_begin(&c, s, t);
    int64_t n_events = 0;
    json_t *unknown = json_array(), *o = NULL;
    if (!rc && user) rc = crec__rec_user(&c, user, &n_events);
    if (!rc) rc = add_history(&c, a, user != NULL, unknown);
    t->rq.k = (int)a_int(a, "k", 10);
    t->rq.keep_seen = a_bool(a, "keep_seen", 0);
    if (!rc) rc = add_rules(&c, a);
    if (!rc) rc = crec__rec_run(&c, &o);
    if (!rc) {
        json_object_set_new(o, "user", user ? crec__jstr(user) : json_null());
        json_object_set_new(o, "known_user", json_boolean(user && t->rq.user >= 0));
        json_object_set_new(o, "history_length", json_integer((json_int_t)t->rq.n_hist));
        json_object_set_new(o, "unknown_items", json_incref(unknown));
        *out = o;
    }
    json_decref(unknown);
    crec__rec_end(&c);
    return rc ? tool_fail(e, rc) : 0;
}

static int t_similar(crec_server *s, crec__tls *t, crec__mcp_client *cl, json_t *a, json_t **out, crec__mcp_err *e) {
    const char *item = a_str(a, "item");
    crec__rec_call c;
    int rc = crec__rec_begin(&c, s, t);
    int32_t row = crec__rec_row(&c, item, strlen(item));
    if (!rc && row < 0) {
        crec__rec_end(&c);
        return crec__mcp_errf(e, 0, "no item '%s' in the catalog (search_items finds items by title words)", item);
    }
    json_t *o = NULL;
    t->rq.k = (int)a_int(a, "k", 10);
    if (!rc) rc = crec_service_request_add_event(&t->rq, row, 0, 0); /* a history of one: never its own neighbour */
    if (!rc) rc = add_rules(&c, a);
    if (!rc) rc = crec__rec_run(&c, &o);
    if (!rc) {
        json_object_set_new(o, "item", crec__jstr(item));
        json_object_set_new(o, "known_item", json_boolean(t->to_model[row] >= 0));
        *out = o;
    }
    crec__rec_end(&c);
    return rc ? tool_fail(e, rc) : 0;
}

static int t_popular(crec_server *s, crec__tls *t, crec__mcp_client *cl, json_t *a, json_t **out, crec__mcp_err *e) {
    const char *attr = a_str(a, "attribute");
    crec__rec_call c;
    int rc = crec__rec_begin(&c, s, t);
    json_t *o = NULL;
    t->rq.k = (int)a_int(a, "k", 10); /* no user, no history: the service answers with the popularity */
    if (!rc && attr) rc = crec_service_request_filter(&t->rq, attr, 1);
    if (!rc) rc = add_rules(&c, a);
    if (!rc) rc = crec__rec_run(&c, &o);
    if (!rc) {
        json_object_set_new(o, "attribute", attr ? crec__jstr(attr) : json_null());
        *out = o;
    }
    crec__rec_end(&c);
    return rc ? tool_fail(e, rc) : 0;
}

/* ---- search_items: attribute-level retrieval ---- */

/* Lower-case ASCII copy of s into buf (n bytes). */
static void lower(char *buf, size_t n, const char *s) {
    size_t k = 0;
    for (; s && s[k] && k + 1 < n; k++) buf[k] = (char)tolower((unsigned char)s[k]);
    buf[k] = 0;
}

static int has_word(const char *s, const char *w) {
    char b[1024];
    lower(b, sizeof b, s);
    return strstr(b, w) != NULL;
}

typedef struct hit { int32_t sid; int score; int64_t pop; } hit;

static int hit_cmp(const void *x, const void *y) {
    const hit *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->pop != b->pop) return a->pop > b->pop ? -1 : 1;
    return a->sid < b->sid ? -1 : a->sid > b->sid;
}

static int t_search(crec_server *s, crec__tls *t, crec__mcp_client *cl, json_t *a, json_t **out, crec__mcp_err *e) {
    json_t *attrs = json_object_get(a, "attributes");
    const char *query = a_str(a, "query");
    int k = (int)a_int(a, "k", 10), all = a_bool(a, "match_all", 1);
    char words[MAX_WORDS][64];
    int nw = 0;
    for (const char *p = query; p && *p && nw < MAX_WORDS;) {
        while (*p && !isalnum((unsigned char)*p) && !((unsigned char)*p & 0x80)) p++;
        size_t n = 0;
        while (p[n] && (isalnum((unsigned char)p[n]) || ((unsigned char)p[n] & 0x80))) n++;
        if (n) {
            char tmp[64];
            snprintf(tmp, sizeof tmp, "%.*s", (int)(n < 63 ? n : 63), p);
            lower(words[nw++], sizeof words[0], tmp);
        }
        p += n;
    }
    int na = (int)json_array_size(attrs);
    if (na + nw == 0) return crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS, "search_items: give attributes or query (words)");
    crec__idlist ex = {0};
    crec__reqerr re;
    if (crec__json_idlist("exclude", json_object_get(a, "exclude"), &ex, &re))
        return crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS, "search_items: %s", re.message);
    crec__catalog *cat = &s->cat;
    hit *hits = NULL;
    int64_t nh = 0, cap = 0;
    crec_idmap names;
    crec_idmap_init(&names);
    int rc = 0;
    pthread_rwlock_rdlock(&cat->lock);
    for (int64_t sid = 1; !rc && sid < cat->n && sid <= INT32_MAX; sid++) {
        const crec__cat_entry *en = crec__catalog_get(cat, sid);
        if (!en || !en->visible) continue;
        int score = 0;
        for (int q = 0; q < na; q++) {
            const char *want = json_string_value(json_array_get(attrs, (size_t)q));
            for (int j = 0; j < en->n_attrs; j++)
                if (strcasecmp(en->attrs[j], want) == 0) {
                    score++;
                    break;
                }
        }
        for (int w = 0; w < nw; w++) {
            int m = has_word(en->title, words[w]) || has_word(en->id, words[w]);
            for (int j = 0; j < en->n_attrs; j++) {
                if (!has_word(en->attrs[j], words[w])) continue;
                m = 1;
                if (names.n < 20 && crec_idmap_intern(&names, en->attrs[j], strlen(en->attrs[j])) < 0) rc = CREC_ENOMEM;
            }
            score += m;
        }
        if (score == 0 || (all && score < na + nw)) continue;
        int skip = 0;
        for (int x = 0; x < ex.n && !skip; x++) skip = ex.len[x] == strlen(en->id) && memcmp(ex.s[x], en->id, ex.len[x]) == 0;
        if (skip) continue;
        if (nh == cap) {
            int64_t nc = cap ? cap * 2 : 256;
            hit *nhs = realloc(hits, (size_t)nc * sizeof *nhs);
            if (!nhs) {
                rc = CREC_ENOMEM;
                break;
            }
            hits = nhs;
            cap = nc;
        }
        hits[nh++] = (hit){(int32_t)sid, score, 0};
    }
    pthread_rwlock_unlock(&cat->lock);
    crec__idlist_free(&ex);
    if (rc) {
        free(hits);
        crec_idmap_free(&names);
        return tool_fail(e, rc);
    }
    pthread_rwlock_rdlock(&s->pop.lock);
    for (int64_t h = 0; h < nh; h++) hits[h].pop = hits[h].sid < s->pop.n ? s->pop.count[hits[h].sid] : 0;
    pthread_rwlock_unlock(&s->pop.lock);
    qsort(hits, (size_t)nh, sizeof *hits, hit_cmp);
    json_t *items = json_array(), *mattrs = json_array();
    pthread_rwlock_rdlock(&cat->lock);
    for (int64_t h = 0; h < nh && (int)json_array_size(items) < k; h++) {
        const crec__cat_entry *en = crec__catalog_get(cat, hits[h].sid);
        if (!en) continue;
        json_t *o = crec__entry_json(en, hits[h].score);
        json_object_set_new(o, "events", json_integer((json_int_t)hits[h].pop));
        json_array_append_new(items, o);
    }
    pthread_rwlock_unlock(&cat->lock);
    for (int32_t j = 0; j < names.n; j++) json_array_append_new(mattrs, crec__jstr(names.names[j]));
    *out = json_pack("{s:o,s:I,s:o,s:s}", "items", items, "total_matches", (json_int_t)nh, "matching_attributes",
                     mattrs, "ranking", "matched attributes and words, then events (popularity)");
    free(hits);
    crec_idmap_free(&names);
    return 0;
}

/* ---- explain ---- */

typedef struct support { int32_t row; float sim; } support;

static int support_cmp(const void *x, const void *y) {
    const support *a = x, *b = y;
    if (a->sim != b->sim) return a->sim > b->sim ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

static int entry_has(const crec__cat_entry *en, const char *attr) {
    for (int j = 0; j < en->n_attrs; j++)
        if (strcmp(en->attrs[j], attr) == 0) return 1;
    return 0;
}

static int t_explain(crec_server *s, crec__tls *t, crec__mcp_client *cl, json_t *a, json_t **out, crec__mcp_err *e) {
    const char *user = a_str(a, "user"), *item = a_str(a, "item");
    if (!user && !json_array_size(json_object_get(a, "history")))
        return crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS, "explain: give user or history (the items to explain from)");
    crec__rec_call c;
    int rc = crec__rec_begin(&c, s, t);
    json_t *unknown = json_array();
    int64_t n_events = 0;
    if (!rc && user) rc = crec__rec_user(&c, user, &n_events);
    if (!rc) rc = add_history(&c, a, user != NULL, unknown);
    json_decref(unknown);
    int32_t row = rc ? -1 : crec__rec_row(&c, item, strlen(item));
    if (!rc && row < 0) {
        crec__rec_end(&c);
        return crec__mcp_errf(e, 0, "no item '%s' in the catalog", item);
    }
    const crec_model *m = c.b->model;
    int32_t nh = t->rq.n_hist, mt = rc ? -1 : t->to_model[row];
    /* the newest distinct history rows */
    support *sup = calloc((size_t)(nh ? nh : 1), sizeof *sup);
    int32_t ns = 0, in_hist = 0;
    for (int32_t h = nh - 1; !rc && sup && h >= 0 && ns < EXPLAIN_HIST; h--) {
        int32_t r = t->rq.hist[h], dup = 0;
        in_hist |= r == row;
        for (int32_t q = 0; q < ns && !dup; q++) dup = sup[q].row == r;
        if (!dup && r != row) sup[ns++] = (support){r, NAN};
    }
    if (!sup) rc = CREC_ENOMEM;
    /* the model's score of the item given each history item alone */
    float *scores = !rc && mt >= 0 ? malloc((size_t)m->n_items * sizeof *scores) : NULL;
    if (!rc && mt >= 0 && !scores) rc = CREC_ENOMEM;
    for (int32_t q = 0; !rc && scores && q < ns; q++) {
        int32_t mh = t->to_model[sup[q].row];
        if (mh < 0) continue;
        crec_context ctx = {.user = -1, .hist = &mh, .n_hist = 1};
        if (crec_model_score(m, &ctx, scores) == 0 && isfinite(scores[mt])) sup[q].sim = scores[mt];
    }
    free(scores);
    /* the item's rank in the list this user / history gets (the service, top CREC__MAX_K) */
    json_t *rank = json_null();
    crec_service_result res = {0};
    t->rq.k = CREC__MAX_K;
    if (!rc && !in_hist && crec_service_recommend(m, &c.cat, &t->rq, &t->sc, &res) == 0) {
        for (int32_t r = 0; r < res.n; r++)
            if (res.items[r] == row) rank = json_integer(r + 1);
    }
    if (rc) {
        free(sup);
        crec__rec_end(&c);
        return tool_fail(e, rc);
    }
    /* unscored (unknown to the model) last; then by score */
    for (int32_t q = 0; q < ns; q++)
        if (isnan(sup[q].sim)) sup[q].sim = -INFINITY;
    qsort(sup, (size_t)ns, sizeof *sup, support_cmp);
    crec__catalog *cat = &s->cat;
    json_t *shared = json_array(), *supporting = json_array(), *desc = NULL;
    char summary[1200];
    int sl = 0;
    pthread_rwlock_rdlock(&cat->lock);
    const crec__cat_entry *te = crec__catalog_get(cat, row);
    if (te) {
        desc = crec__entry_json(te, 0);
        json_object_del(desc, "score");
        /* shared attributes: how many history items carry each of the item's attributes */
        for (int j = 0; j < te->n_attrs; j++) {
            int cnt = 0;
            for (int32_t q = 0; q < ns; q++) {
                const crec__cat_entry *he = crec__catalog_get(cat, sup[q].row);
                cnt += he && entry_has(he, te->attrs[j]);
            }
            if (cnt) json_array_append_new(shared, json_pack("{s:o,s:i}", "attribute", crec__jstr(te->attrs[j]),
                                                             "history_items", cnt));
        }
        for (int32_t q = 0; q < ns && (int)json_array_size(supporting) < EXPLAIN_TOP; q++) {
            const crec__cat_entry *he = crec__catalog_get(cat, sup[q].row);
            if (!he) continue;
            json_t *o = crec__entry_json(he, 0), *sa = json_array();
            json_object_del(o, "score");
            for (int j = 0; j < he->n_attrs; j++)
                if (entry_has(te, he->attrs[j])) json_array_append_new(sa, crec__jstr(he->attrs[j]));
            json_object_set_new(o, "similarity", isfinite(sup[q].sim) ? json_real(sup[q].sim) : json_null());
            json_object_set_new(o, "shared_attributes", sa);
            json_array_append_new(supporting, o);
        }
        sl = snprintf(summary, sizeof summary, "'%s'", te->title ? te->title : te->id);
    }
    pthread_rwlock_unlock(&cat->lock);
    if (!desc) desc = json_pack("{s:o,s:n,s:[]}", "id", crec__jstr(item), "title", "attributes");
    if (!sl) sl = snprintf(summary, sizeof summary, "'%s'", item);
    if (in_hist) sl += snprintf(summary + sl, sizeof summary - (size_t)sl, " is already in the history");
    else if (json_is_integer(rank))
        sl += snprintf(summary + sl, sizeof summary - (size_t)sl, " is #%lld of the recommendations",
                       (long long)json_integer_value(rank));
    else sl += snprintf(summary + sl, sizeof summary - (size_t)sl, " is not in the top %d", CREC__MAX_K);
    if (json_array_size(shared)) {
        sl += snprintf(summary + sl, sizeof summary - (size_t)sl, "; it shares");
        for (size_t j = 0; j < json_array_size(shared) && j < 4 && sl < (int)sizeof summary - 100; j++) {
            json_t *x = json_array_get(shared, j);
            sl += snprintf(summary + sl, sizeof summary - (size_t)sl, "%s '%s' (%lld of %d history items)",
                           j ? "," : "", json_string_value(json_object_get(x, "attribute")),
                           (long long)json_integer_value(json_object_get(x, "history_items")), ns);
        }
    }
    if (json_array_size(supporting) && json_is_real(json_object_get(json_array_get(supporting, 0), "similarity")) &&
        sl < (int)sizeof summary - 300) {
        json_t *x = json_array_get(supporting, 0);
        json_t *ti = json_object_get(x, "title");
        snprintf(summary + sl, sizeof summary - (size_t)sl, "; the history item the model ties closest to it is '%s'",
                 json_is_string(ti) ? json_string_value(ti) : json_string_value(json_object_get(x, "id")));
    }
    *out = json_pack("{s:o,s:o,s:i,s:b,s:o,s:i,s:o,s:o,s:s,s:s}", "user", user ? crec__jstr(user) : json_null(),
                     "item", desc, "history_length", (int)nh, "in_history", in_hist, "rank", rank, "rank_cutoff",
                     CREC__MAX_K, "shared_attributes", shared, "supporting_items", supporting, "similarity",
                     "the model's score of the item given that history item alone", "summary", summary);
    free(sup);
    crec__rec_end(&c);
    return 0;
}

/* ---- user_history ---- */

typedef struct hist_ctx { crec_server *s; json_t *events; } hist_ctx;

static int hist_cb(void *ctx, int64_t sid, const char *item, size_t len, const char *type, float value, int64_t ts) {
    hist_ctx *h = ctx;
    json_t *o = json_object(), *attrs = json_array(), *title = json_null();
    pthread_rwlock_rdlock(&h->s->cat.lock);
    const crec__cat_entry *en = crec__catalog_get(&h->s->cat, sid);
    if (en) {
        title = crec__jstr(en->title);
        for (int j = 0; j < en->n_attrs; j++) json_array_append_new(attrs, crec__jstr(en->attrs[j]));
    }
    pthread_rwlock_unlock(&h->s->cat.lock);
    json_object_set_new(o, "item", crec__jstrn(item, len));
    json_object_set_new(o, "title", title);
    json_object_set_new(o, "attributes", attrs);
    json_object_set_new(o, "type", crec__jstr(type));
    json_object_set_new(o, "value", json_real(isfinite(value) ? value : 0));
    json_object_set_new(o, "ts", json_integer((json_int_t)ts));
    json_array_append_new(h->events, o);
    return 0;
}

static int t_history(crec_server *s, crec__tls *t, crec__mcp_client *cl, json_t *a, json_t **out, crec__mcp_err *e) {
    const char *user = a_str(a, "user");
    hist_ctx h = {s, json_array()};
    int64_t n = 0;
    int rc = crec_store_user_events(t->store, user, a_int(a, "limit", 50), hist_cb, &h, &n);
    if (rc) {
        json_decref(h.events);
        if (rc == CREC_ENOTFOUND) return crec__mcp_errf(e, 0, "no user '%s' in the store", user);
        return crec__mcp_errf(e, 0, "reading the history failed: %s", crec_strerror(rc));
    }
    *out = json_pack("{s:o,s:I,s:o}", "user", crec__jstr(user), "n_events", (json_int_t)n, "events", h.events);
    return 0;
}

/* ---- record_feedback ---- */

static int t_feedback(crec_server *s, crec__tls *t, crec__mcp_client *cl, json_t *a, json_t **out, crec__mcp_err *e) {
    if (!cl->may_write)
        return crec__mcp_errf(e, 0, "record_feedback needs an API key: %s",
                              cl->key_status == 403 ? "the key given is not valid"
                                                    : "none was given (crec mcp --key or CREC_API_KEY; over HTTP "
                                                      "Authorization: Bearer KEY)");
    crec_store_event ev = {.user = a_str(a, "user"), .item = a_str(a, "item"), .type = a_str(a, "type"),
                           .value = 1, .ts = now_unix()};
    json_t *v = json_object_get(a, "value");
    if (v) ev.value = (float)json_number_value(v);
    if (json_is_integer(json_object_get(a, "ts"))) ev.ts = (int64_t)json_integer_value(json_object_get(a, "ts"));
    int64_t sid = -1, bad = -1;
    int rc = crec_store_add_events(t->store, &ev, 1, &sid, &bad);
    if (rc == CREC_ENOTFOUND) return crec__mcp_errf(e, 0, "no item '%s' in the catalog (nothing was written)", ev.item);
    if (rc == CREC_ERANGE) return crec__mcp_errf(e, 0, "the store holds at most 256 event types");
    if (rc) return crec__mcp_errf(e, 0, "writing the event failed: %s", crec_strerror(rc));
    crec__pop_add(&s->pop, &sid, 1); /* committed: only now is it acknowledged */
    crec__hist_invalidate(s->hist, ev.user, strlen(ev.user)); /* the user's cached history (histcache.h) */
    atomic_fetch_add(&s->metrics.events_ingested, 1);
    atomic_fetch_add(&s->metrics.event_batches, 1);
    *out = json_pack("{s:i,s:o,s:o,s:s,s:f,s:I}", "accepted", 1, "user", crec__jstr(ev.user), "item",
                     crec__jstr(ev.item), "type", ev.type ? ev.type : "interaction", "value", (double)ev.value, "ts",
                     (json_int_t)ev.ts);
    return 0;
}

/* ---- the table ---- */

#define P_K {"k", T_INT, 0, 1, MAX_TOOL_K, "how many items (default 10)"}
#define P_MUST {"must_have", T_IDS, 0, 0, CREC_SERVICE_MAX_ATTRS, "attribute names every returned item carries"}
#define P_MUSTNOT {"must_not_have", T_IDS, 0, 0, CREC_SERVICE_MAX_ATTRS, "attribute names no returned item carries"}
#define P_EXCL {"exclude", T_IDS, 0, 0, CREC__MAX_LIST, "item ids never to return"}
#define P_HIST(h) {"history", T_IDS, 0, 0, CREC__MAX_LIST, h}

static const pdef P_RECOMMEND[] = {
    {"user", T_STR, 0, 1, CREC_STORE_MAX_ID, "user id: their events in the store are the history"},
    P_HIST("item ids the user interacted with, oldest first (alone, or after the user's events)"),
    P_K, P_MUST, P_MUSTNOT, P_EXCL,
    {"keep_seen", T_BOOL, 0, 0, 0, "also return items of the history (default false)"},
};
static const pdef P_SIMILAR[] = {{"item", T_STR, 1, 1, CREC_STORE_MAX_ID, "item id"}, P_K, P_MUST, P_MUSTNOT, P_EXCL};
static const pdef P_POPULAR[] = {
    {"attribute", T_STR, 0, 1, CREC_STORE_MAX_ID, "only items with this attribute"}, P_K, P_MUSTNOT, P_EXCL};
static const pdef P_SEARCH[] = {
    {"attributes", T_IDS, 0, 0, MAX_WORDS, "attribute names (case-insensitive, exact)"},
    {"query", T_STR, 0, 1, 1024, "words found in the title, id or attribute names (case-insensitive)"},
    {"match_all", T_BOOL, 0, 0, 0, "every attribute and word must match (default true); false: any"},
    P_K, P_EXCL};
static const pdef P_EXPLAIN[] = {
    {"item", T_STR, 1, 1, CREC_STORE_MAX_ID, "the item to explain"},
    {"user", T_STR, 0, 1, CREC_STORE_MAX_ID, "user id (their events in the store)"},
    P_HIST("item ids the user interacted with, oldest first")};
static const pdef P_HISTORY[] = {
    {"user", T_STR, 1, 1, CREC_STORE_MAX_ID, "user id"},
    {"limit", T_INT, 0, 1, CREC__MAX_K, "the newest events to return (default 50)"}};
static const pdef P_FEEDBACK[] = {
    {"user", T_STR, 1, 1, CREC_STORE_MAX_ID, "user id (created when new)"},
    {"item", T_STR, 1, 1, CREC_STORE_MAX_ID, "item id (must exist)"},
    {"type", T_STR, 0, 1, CREC__MAX_TYPE, "event type (default \"interaction\"), e.g. click, purchase, like"},
    {"value", T_NUM, 0, 0, 0, "event value (default 1), e.g. a rating"},
    {"ts", T_INT, 0, 0, 0, "event time, seconds since the epoch (default now)"}};

#define ITEM_PROPS "'id':{'type':'string'},'title':{'type':['string','null']},'attributes':{'type':'array','items':{'type':'string'}},'visible':{'type':'boolean'}"
#define ITEM "{'type':'object','properties':{" ITEM_PROPS ",'score':{'type':'number'}},'required':['id','title','attributes','score']}"
#define LIST_PROPS "'model':{'type':'string'},'model_version':{'type':'integer'},'source':{'type':'string','enum':['model','model:history','popular']},'fallback_items':{'type':'integer'},'items':{'type':'array','items':" ITEM "}"
static const char O_RECOMMEND[] = "{'type':'object','properties':{" LIST_PROPS ",'user':{'type':['string','null']},'known_user':{'type':'boolean'},'history_length':{'type':'integer'},'unknown_items':{'type':'array','items':{'type':'string'}}},'required':['source','items','known_user','history_length']}";
static const char O_SIMILAR[] = "{'type':'object','properties':{" LIST_PROPS ",'item':{'type':'string'},'known_item':{'type':'boolean'}},'required':['source','items','item']}";
static const char O_POPULAR[] = "{'type':'object','properties':{" LIST_PROPS ",'attribute':{'type':['string','null']}},'required':['source','items']}";
static const char O_SEARCH[] = "{'type':'object','properties':{'items':{'type':'array','items':{'type':'object','properties':{" ITEM_PROPS ",'score':{'type':'number','description':'attributes and words matched'},'events':{'type':'integer'}},'required':['id','title','attributes','score','events']}},'total_matches':{'type':'integer'},'matching_attributes':{'type':'array','items':{'type':'string'}},'ranking':{'type':'string'}},'required':['items','total_matches','matching_attributes']}";
static const char O_EXPLAIN[] = "{'type':'object','properties':{'user':{'type':['string','null']},'item':{'type':'object','properties':{" ITEM_PROPS "},'required':['id','title','attributes']},'history_length':{'type':'integer'},'in_history':{'type':'boolean'},'rank':{'type':['integer','null']},'rank_cutoff':{'type':'integer'},'shared_attributes':{'type':'array','items':{'type':'object','properties':{'attribute':{'type':'string'},'history_items':{'type':'integer'}},'required':['attribute','history_items']}},'supporting_items':{'type':'array','items':{'type':'object','properties':{" ITEM_PROPS ",'similarity':{'type':['number','null']},'shared_attributes':{'type':'array','items':{'type':'string'}}},'required':['id','title','attributes','similarity','shared_attributes']}},'similarity':{'type':'string'},'summary':{'type':'string'}},'required':['item','rank','shared_attributes','supporting_items','summary']}";
static const char O_HISTORY[] = "{'type':'object','properties':{'user':{'type':'string'},'n_events':{'type':'integer'},'events':{'type':'array','items':{'type':'object','properties':{'item':{'type':'string'},'title':{'type':['string','null']},'attributes':{'type':'array','items':{'type':'string'}},'type':{'type':'string'},'value':{'type':'number'},'ts':{'type':'integer'}},'required':['item','title','attributes','type','value','ts']}}},'required':['user','n_events','events']}";
static const char O_FEEDBACK[] = "{'type':'object','properties':{'accepted':{'type':'integer'},'user':{'type':'string'},'item':{'type':'string'},'type':{'type':'string'},'value':{'type':'number'},'ts':{'type':'integer'}},'required':['accepted','user','item','type','ts']}";

#define TOOL(n, title, help, p, o, f, w) {n, title, help, p, (int)(sizeof p / sizeof *p), o, f, w}
static const tooldef TOOLS[] = {
    TOOL("recommend", "Recommend items",
         "Top-k items for a user (their events in the store) and/or a history of item ids, from the served "
         "model; filters on attributes (must_have, must_not_have) and exclusions. Seen items are left out unless "
         "keep_seen. Without a user the model knows or a known history item, the list is the most popular items "
         "(source 'popular').", P_RECOMMEND, O_RECOMMEND, t_recommend, 0),
    TOOL("similar_items", "Similar items",
         "Items the model ranks highest after this item alone (item-to-item), with attribute filters.", P_SIMILAR,
         O_SIMILAR, t_similar, 0),
    TOOL("popular", "Popular items",
         "The most interacted-with items, optionally only those with one attribute.", P_POPULAR, O_POPULAR,
         t_popular, 0),
    TOOL("search_items", "Search the catalog",
         "Attribute-level retrieval: items carrying the given attribute names and/or whose title, id or "
         "attributes contain the query words, best matched first, then the most popular. Also lists the "
         "attribute names that contain the query words (to use in filters).", P_SEARCH, O_SEARCH, t_search, 0),
    TOOL("explain", "Explain a recommendation",
         "Why an item suits a user: its rank in their recommendations, the item's attributes shared with their "
         "history, and the history items the model ties closest to it.", P_EXPLAIN, O_EXPLAIN, t_explain, 0),
    TOOL("user_history", "A user's history",
         "A user's newest events (oldest first) with item titles and attributes.", P_HISTORY, O_HISTORY,
         t_history, 0),
    TOOL("record_feedback", "Record feedback",
         "Store one event (the user clicked, bought, liked an item); it counts in their next recommendations. "
         "Needs an API key when the server has keys.", P_FEEDBACK, O_FEEDBACK, t_feedback, 1),
};
#define N_TOOLS ((int)(sizeof TOOLS / sizeof *TOOLS))

static json_t *schema_text(const char *s) {
    char *b = strdup(s);
    if (!b) return NULL;
    for (char *p = b; *p; p++)
        if (*p == '\'') *p = '"';
    json_error_t je;
    json_t *o = json_loads(b, 0, &je);
    free(b);
    return o;
}

static json_t *input_schema(const tooldef *t) {
    json_t *props = json_object(), *req = json_array();
    for (int k = 0; k < t->n_params; k++) {
        const pdef *p = &t->params[k];
        json_t *o = json_object();
        switch (p->type) {
        case T_STR:
            json_object_set_new(o, "type", json_string("string"));
            json_object_set_new(o, "minLength", json_integer(p->lo));
            json_object_set_new(o, "maxLength", json_integer(p->hi));
            break;
        case T_INT:
            json_object_set_new(o, "type", json_string("integer"));
            if (p->hi > p->lo) {
                json_object_set_new(o, "minimum", json_integer(p->lo));
                json_object_set_new(o, "maximum", json_integer(p->hi));
            }
            break;
        case T_NUM: json_object_set_new(o, "type", json_string("number")); break;
        case T_BOOL: json_object_set_new(o, "type", json_string("boolean")); break;
        case T_IDS:
            json_object_set_new(o, "type", json_string("array"));
            json_object_set_new(o, "items", json_pack("{s:s,s:i,s:i}", "type", "string", "minLength", 1, "maxLength",
                                                      CREC_STORE_MAX_ID));
            json_object_set_new(o, "maxItems", json_integer(p->hi));
            break;
        }
        json_object_set_new(o, "description", json_string(p->help));
        json_object_set_new(props, p->name, o);
        if (p->required) json_array_append_new(req, json_string(p->name));
    }
    return json_pack("{s:s,s:o,s:o,s:b}", "type", "object", "properties", props, "required", req,
                     "additionalProperties", 0);
}

json_t *crec__mcp_tools_list(void) {
    json_t *tools = json_array();
    for (int k = 0; k < N_TOOLS; k++) {
        const tooldef *t = &TOOLS[k];
        json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:o,s:{s:b,s:b,s:b}}", "name", t->name, "title", t->title,
                              "description", t->help, "inputSchema", input_schema(t), "outputSchema",
                              schema_text(t->output), "annotations", "readOnlyHint", !t->writes,
                              "destructiveHint", 0, "openWorldHint", 0);
        if (o) json_array_append_new(tools, o);
    }
    return json_pack("{s:o}", "tools", tools);
}

/* The check of args against t's table: the first problem as invalid params naming the key. */
static int check_args(const tooldef *t, json_t *args, crec__mcp_err *e) {
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        const pdef *p = NULL;
        for (int k = 0; k < t->n_params && !p; k++)
            if (strcmp(t->params[k].name, key) == 0) p = &t->params[k];
        if (!p) {
            char acc[256];
            int n = 0;
            acc[0] = 0;
            for (int k = 0; k < t->n_params && n < (int)sizeof acc - 40; k++)
                n += snprintf(acc + n, sizeof acc - (size_t)n, "%s%s", k ? ", " : "", t->params[k].name);
            return crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS, "%s: unknown argument '%.64s' (accepted: %s)", t->name,
                                  key, acc);
        }
        if (json_is_null(v) && !p->required) continue; /* null = absent */
        switch (p->type) {
        case T_STR: {
            size_t n = json_string_length(v);
            if (!json_is_string(v))
                return crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS, "%s: argument '%s' must be a string", t->name, key);
            if ((long)n < p->lo || (long)n > p->hi || memchr(json_string_value(v), 0, n) ||
                (p->hi == CREC_STORE_MAX_ID && !crec__id_ok(json_string_value(v), n)))
                return crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS,
                                      "%s: argument '%s' must be %ld..%ld bytes of UTF-8 without control characters%s",
                                      t->name, key, p->lo, p->hi, p->hi == CREC_STORE_MAX_ID ? " or '/'" : "");
            break;
        }
        case T_INT:
            if (!json_is_integer(v))
                return crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS, "%s: argument '%s' must be an integer", t->name, key);
            if (p->hi > p->lo && (json_integer_value(v) < p->lo || json_integer_value(v) > p->hi))
                return crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS, "%s: argument '%s' must be in [%ld, %ld] (got %lld)",
                                      t->name, key, p->lo, p->hi, (long long)json_integer_value(v));
            break;
        case T_NUM:
            if (!json_is_number(v) || !(fabs(json_number_value(v)) < 3e38)) /* a finite float */
                return crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS, "%s: argument '%s' must be a number (|x| < 3e38)",
                                      t->name, key);
            break;
        case T_BOOL:
            if (!json_is_boolean(v))
                return crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS, "%s: argument '%s' must be true or false", t->name, key);
            break;
        case T_IDS:
            if (!json_is_array(v) || (long)json_array_size(v) > p->hi)
                return crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS, "%s: argument '%s' must be an array of at most %ld strings",
                                      t->name, key, p->hi);
            for (size_t k = 0; k < json_array_size(v); k++) {
                json_t *x = json_array_get(v, k);
                if (!json_is_string(x) || !crec__id_ok(json_string_value(x), json_string_length(x)))
                    return crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS,
                                          "%s: argument '%s'[%zu] must be an id (1..%d bytes of UTF-8, no control "
                                          "characters or '/')", t->name, key, k, CREC_STORE_MAX_ID);
            }
            break;
        }
    }
    for (int k = 0; k < t->n_params; k++) {
        json_t *x = json_object_get(args, t->params[k].name);
        if (t->params[k].required && (!x || json_is_null(x)))
            return crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS, "%s: argument '%s' is required", t->name,
                                  t->params[k].name);
    }
    return 0;
}

int crec__mcp_tool_call(crec_server *s, crec__mcp_client *cl, const char *name, json_t *args, json_t **out,
                        crec__mcp_err *e) {
    *out = NULL;
    const tooldef *t = NULL;
    for (int k = 0; k < N_TOOLS && !t; k++)
        if (strcmp(TOOLS[k].name, name) == 0) t = &TOOLS[k];
    if (!t) return crec__mcp_errf(e, CREC__RPC_INVALID_PARAMS, "unknown tool: %.64s (tools/list names them)", name);
    json_t *a = args ? json_incref(args) : json_object();
    /* nulls are absent values: drop them so a tool reads only what was given */
    const char *key;
    json_t *v;
    void *tmp;
    int rc = check_args(t, a, e);
    if (!rc) {
        json_t *clean = json_object();
        json_object_foreach_safe(a, tmp, key, v) if (!json_is_null(v)) json_object_set(clean, key, v);
        json_decref(a);
        a = clean;
    }
    crec__tls *th = rc ? NULL : crec__tls_get(s);
    if (!rc && !th) rc = crec__mcp_errf(e, 0, "the store cannot be opened");
    if (!rc) {
        if (t->writes) {
            pthread_mutex_lock(&s->write_mu);
            rc = t->fn(s, th, cl, a, out, e);
            pthread_mutex_unlock(&s->write_mu);
        } else {
            int read = crec_store_read_begin(th->store) == 0;
            rc = t->fn(s, th, cl, a, out, e);
            if (read) crec_store_read_end(th->store);
        }
        if (!rc && !*out) rc = crec__mcp_errf(e, CREC__RPC_INTERNAL, "internal error: out of memory");
    }
    json_decref(a);
    return rc ? -1 : 0;
}
