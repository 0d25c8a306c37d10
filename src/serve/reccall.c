/* reccall.c: one recommendation request on the server's state (reccall.h), shared by the HTTP routes and
 * the MCP tools: the store's catalog as the service sees it, the user's events from the store, exclusions and
 * filters by external id, and the answer's items described from the catalog. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/util.h"
#include "serve/histcache.h"
#include "serve/reccall.h"

static int64_t now_unix(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec;
}

/* ---- the store's catalog as the service sees it ---- */

typedef struct attr_arg { crec_service_item_fn each; void *arg; int32_t n; } attr_arg;

static int attr_row(void *ctx, int64_t sid, const char *id, size_t len, int visible) {
    attr_arg *a = ctx;
    return sid > 0 && sid < a->n ? a->each(a->arg, (int32_t)sid) : 0;
}

/* Attribute filters read the store's index, so an item written a moment ago is filtered by what it has now. */
static int store_attrs(void *ctx, const char *attr, crec_service_item_fn each, void *arg) {
    crec__tls *t = ctx;
    attr_arg a = {each, arg, t->view_n};
    return crec_store_items_with_attr(t->store, attr, attr_row, &a);
}

/* The fallback: events per store row (kept in memory, bumped on ingest). */
static int store_popularity(void *ctx, float *scores, int32_t n) {
    crec__pop *p = ctx;
    pthread_rwlock_rdlock(&p->lock);
    int32_t m = p->n < n ? (int32_t)p->n : n;
    for (int32_t i = 0; i < m; i++) scores[i] = (float)p->count[i];
    pthread_rwlock_unlock(&p->lock);
    for (int32_t i = m; i < n; i++) scores[i] = 0;
    return 0;
}


/* Take the current bundle, bring the thread's catalog view up to date, start an empty request. */
int crec__rec_begin(crec__rec_call *c, crec_server *s, crec__tls *t) {
    c->s = s;
    c->t = t;
    c->hist_put = 0;
    c->b = crec__bundle_acquire(s);
    pthread_rwlock_rdlock(&c->b->mu); /* --online: model and id maps as between two mini-batches */
    crec_service_request_reset(&t->rq);
    t->rq.now = now_unix();
    int rc = crec__tls_view(t, c->b);
    /* the view's mask in the model's ids, built once per view: the service then copies it instead of gathering
     * the catalog's mask through from_model on every request */
    int32_t nm = c->b->model->n_items;
    if (!rc && (t->mexcl_version != t->view_version || t->mexcl_gen != t->view_gen || !t->model_excl)) {
        if (nm + 1 > t->mexcl_cap) {
            uint8_t *p = realloc(t->model_excl, (size_t)nm + 1);
            if (p) t->model_excl = p, t->mexcl_cap = nm + 1;
        }
        if (nm + 1 <= t->mexcl_cap) {
            for (int32_t i = 0; i < nm; i++) {
                int32_t r = t->from_model[i];
                t->model_excl[i] = r < 0 || r >= t->view_n || !t->allowed[r];
            }
            t->mexcl_version = t->view_version;
            t->mexcl_gen = t->view_gen;
        } else {
            t->mexcl_version = 0;
        }
    }
    int mx_ok = !rc && t->model_excl && t->mexcl_version == t->view_version && t->mexcl_gen == t->view_gen &&
                t->mexcl_cap > nm;
    c->cat = (crec_service_catalog){.n_items = t->view_n, .to_model = t->to_model, .from_model = t->from_model,
                                    .allowed = t->allowed, .attrs = store_attrs, .attrs_ctx = t,
                                    .popularity = s->no_popular ? NULL : store_popularity, .pop_ctx = &s->pop,
                                    .model_excl = mx_ok ? t->model_excl : NULL};
    return rc;
}

/* ---- the fallback chain (--fallback) ---- */

int crec__fallback_open(crec_server *s, const char *spec, char *err, size_t errn) {
    s->n_backup = 0;
    s->no_popular = 0;
    if (!spec || !*spec) return 0; /* the default: model, popular */
    char buf[4096];
    if (strlen(spec) >= sizeof buf) {
        crec__errf(err, errn, "--fallback is too long");
        return CREC_EINVAL;
    }
    strcpy(buf, spec);
    const crec_model *main_m = s->bundle ? s->bundle->model : NULL;
    int pos = 0, popular = 0, rc = 0;
    for (char *save = NULL, *p = strtok_r(buf, ",", &save); p && !rc; p = strtok_r(NULL, ",", &save), pos++) {
        if (pos == 0) {
            if (strcmp(p, "model") != 0) {
                crec__errf(err, errn, "--fallback: the chain starts with 'model' (the served model), not '%s'", p);
                rc = CREC_EINVAL;
            }
        } else if (popular) {
            crec__errf(err, errn, "--fallback: 'popular' is the end of the chain ('%s' after it)", p);
            rc = CREC_EINVAL;
        } else if (strcmp(p, "popular") == 0) {
            popular = 1;
        } else if (strcmp(p, "model") == 0) {
            crec__errf(err, errn, "--fallback: 'model' only once, first");
            rc = CREC_EINVAL;
        } else if (s->n_backup >= CREC_SERVICE_MAX_CHAIN - 1) {
            crec__errf(err, errn, "--fallback: at most %d backup models", CREC_SERVICE_MAX_CHAIN - 1);
            rc = CREC_EINVAL;
        } else {
            crec_model *m = NULL;
            if ((rc = crec_model_load(p, &m))) {
                crec__errf(err, errn, "--fallback: cannot load the model %s: %s", p, crec_strerror(rc));
            } else if (main_m && (m->n_items != main_m->n_items || m->n_users != main_m->n_users ||
                                  strcmp(m->data_name, main_m->data_name) != 0)) {
                crec__errf(err, errn, "--fallback: %s (%s, %d users, %d items of '%s') is not trained on the served "
                           "model's dataset (%d users, %d items of '%s')", p, m->type->name, (int)m->n_users,
                           (int)m->n_items, m->data_name, (int)main_m->n_users, (int)main_m->n_items,
                           main_m->data_name);
                crec_model_free(m);
                rc = CREC_EINVAL;
            } else {
                s->backup[s->n_backup++] = m;
            }
        }
    }
    if (!rc && pos == 0) {
        crec__errf(err, errn, "--fallback is empty (the default is model,popular)");
        rc = CREC_EINVAL;
    }
    if (rc) crec__fallback_close(s);
    else s->no_popular = !popular;
    return rc;
}

void crec__fallback_close(crec_server *s) {
    for (int j = 0; j < s->n_backup; j++) crec_model_free(s->backup[j]);
    s->n_backup = 0;
}

/* The chain for the current model: it, then the backups that share its id space (a reload or --online growth
 * can leave a backup behind: it is skipped until it matches again). */
static int chain_of(const crec__rec_call *c, const crec_model **models) {
    int n = 0;
    models[n++] = c->b->model;
    for (int j = 0; j < c->s->n_backup; j++)
        if (c->s->backup[j]->n_items == c->b->model->n_items && c->s->backup[j]->n_users == c->b->model->n_users)
            models[n++] = c->s->backup[j];
    return n;
}

void crec__rec_end(crec__rec_call *c) {
    pthread_rwlock_unlock(&c->b->mu);
    crec__bundle_release(c->b);
}

/* The store row of an external item id within the view, or -1. */
int32_t crec__rec_row(const crec__rec_call *c, const char *id, size_t len) {
    crec__catalog *cat = &c->s->cat;
    pthread_rwlock_rdlock(&cat->lock);
    int64_t sid = crec__catalog_sid(cat, id, len);
    pthread_rwlock_unlock(&cat->lock);
    return sid > 0 && sid < c->t->view_n ? (int32_t)sid : -1;
}

/* Exclusions by external id (ids the catalog does not hold are ignored), and the category. */
int crec__rec_rules(crec__rec_call *c, const crec__idlist *exclude, const char *category) {
    int rc = 0;
    for (int k = 0; !rc && exclude && k < exclude->n; k++) {
        int32_t row = crec__rec_row(c, exclude->s[k], exclude->len[k]);
        if (row >= 0) rc = crec_service_request_exclude(&c->t->rq, row);
    }
    if (!rc && category) rc = crec_service_request_filter(&c->t->rq, category, 1);
    return rc;
}

json_t *crec__entry_json(const crec__cat_entry *e, double score) {
    json_t *o = json_object(), *attrs = json_array();
    for (int k = 0; k < e->n_attrs; k++) json_array_append_new(attrs, crec__jstr(e->attrs[k]));
    json_object_set_new(o, "id", crec__jstr(e->id));
    json_object_set_new(o, "title", crec__jstr(e->title));
    json_object_set_new(o, "attributes", attrs);
    json_object_set_new(o, "visible", json_boolean(e->visible));
    json_object_set_new(o, "score", json_real(score));
    return o;
}

/* Run the request; on success a new answer {model, model_version, source, items} in *out. Items are described
 * from the catalog as it is now (one deleted or hidden since the view was built is left out). */
int crec__rec_run(crec__rec_call *c, json_t **out) {
    crec_service_result res;
    const crec_model *models[CREC_SERVICE_MAX_CHAIN];
    int rc = crec_service_recommend_chain(models, chain_of(c, models), &c->cat, &c->t->rq, &c->t->sc, &res);
    if (rc) return rc;
    json_t *items = json_array();
    crec__catalog *cat = &c->s->cat;
    pthread_rwlock_rdlock(&cat->lock);
    for (int32_t r = 0; r < res.n; r++) {
        const crec__cat_entry *e = crec__catalog_get(cat, res.items[r]);
        if (e && e->visible) json_array_append_new(items, crec__entry_json(e, (double)res.scores[r]));
    }
    pthread_rwlock_unlock(&cat->lock);
    json_t *o = json_object();
    json_object_set_new(o, "model", crec__jstr(c->b->model->type->name));
    json_object_set_new(o, "model_version", json_integer((json_int_t)c->b->version));
    json_object_set_new(o, "source", json_string(crec_service_source_name(res.source)));
    json_object_set_new(o, "fallback_items", json_integer(res.n_fallback)); /* the list's last ones: popular */
    if (c->s->n_backup > 0) json_object_set_new(o, "backup_items", json_integer(res.n_backup));
    json_object_set_new(o, "items", items);
    *out = o;
    return 0;
}

/* ---- the answer as text, without a JSON object per item ---- */

int crec__sb_put(crec__sbuf *b, const char *s, size_t n) {
    if (b->failed) return CREC_ENOMEM;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 2048;
        while (nc < b->len + n + 1) nc *= 2;
        char *p = realloc(b->s, nc);
        if (!p) {
            b->failed = 1;
            return CREC_ENOMEM;
        }
        b->s = p;
        b->cap = nc;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
    return 0;
}

int crec__sb_printf(crec__sbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->failed = 1;
        return CREC_ERANGE;
    }
    return crec__sb_put(b, tmp, (size_t)n);
}

int crec__sb_json(crec__sbuf *b, json_t *v) {
    char *t = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(7)) : NULL;
    json_decref(v);
    int rc = t ? crec__sb_put(b, t, strlen(t)) : (b->failed = 1, CREC_ENOMEM);
    free(t);
    return rc;
}

/* A score as jansson writes a real with JSON_REAL_PRECISION(7) (server.c): %.7g, and ".0" when that reads as
 * an integer. */
static void sb_score(crec__sbuf *b, double x) {
    char t[48];
    int n = snprintf(t, sizeof t, "%.7g", x);
    if (n > 0 && (size_t)n < sizeof t - 3 && !strpbrk(t, ".eE")) {
        memcpy(t + n, ".0", 3);
        n += 2;
    }
    crec__sb_put(b, t, n > 0 ? (size_t)n : 0);
}

int crec__rec_run_text(crec__rec_call *c, long skip, crec__sbuf *b) {
    crec_service_result res;
    const crec_model *models[CREC_SERVICE_MAX_CHAIN];
    int rc = crec_service_recommend_chain(models, chain_of(c, models), &c->cat, &c->t->rq, &c->t->sc, &res);
    if (rc) return rc;
    crec__sb_printf(b, "{\"model\":");
    crec__sb_json(b, crec__jstr(c->b->model->type->name));
    crec__sb_printf(b, ",\"model_version\":%lld,\"source\":\"%s\",\"fallback_items\":%d",
                    (long long)c->b->version, crec_service_source_name(res.source), (int)res.n_fallback);
    if (c->s->n_backup > 0) crec__sb_printf(b, ",\"backup_items\":%d", (int)res.n_backup);
    crec__sb_printf(b, ",\"items\":[");
    crec__catalog *cat = &c->s->cat;
    long shown = 0;
    pthread_rwlock_rdlock(&cat->lock);
    for (int32_t r = 0; r < res.n; r++) {
        const crec__cat_entry *e = crec__catalog_get(cat, res.items[r]);
        if (!e || !e->visible || !e->frag) continue;
        if (shown++ < skip) continue;
        if (shown > skip + 1) crec__sb_put(b, ",", 1);
        crec__sb_put(b, e->frag, e->frag_len);
        sb_score(b, (double)res.scores[r]);
        crec__sb_put(b, "}", 1);
    }
    pthread_rwlock_unlock(&cat->lock);
    crec__sb_put(b, "]", 1);
    return b->failed ? CREC_ENOMEM : 0;
}

/* The user's events, oldest first, with times and types (the model's event type ids): from the history cache
 * (histcache.h) when it holds them, else from the store - and then kept in the cache when they fit. */
typedef struct hist_arg {
    crec__rec_call *c;
    int64_t n;
    int rc;
    crec__hist_buf *keep; /* NULL: no cache; keep->n = -1 once the events do not fit */
    const char *last_type;
    int last_idx;
} hist_arg;

/* The model's id of an event type (0 = the default interaction), as before the cache. */
static uint8_t type_id(const crec__bundle *b, const char *type) {
    int32_t ty = crec_idmap_get(&b->ds->event_types, type, strlen(type));
    return ty > 0 && ty < 256 ? (uint8_t)ty : 0;
}

static int hist_event(void *ctx, int64_t sid, const char *item, size_t len, const char *type, float value,
                      int64_t ts) {
    hist_arg *h = ctx;
    h->n++;
    if (h->keep && h->keep->n >= 0) {
        crec__hist_buf *k = h->keep;
        int idx = h->last_type && strcmp(h->last_type, type) == 0 ? h->last_idx : crec__hist_type(h->c->s->hist, type);
        if (k->n >= CREC__HIST_MAX_EVENTS || idx < 0) {
            k->n = -1;
        } else {
            h->last_type = crec__hist_type_name(h->c->s->hist, idx);
            h->last_idx = idx;
            k->sid[k->n] = sid > 0 && sid < INT32_MAX ? (int32_t)sid : -1;
            k->ts[k->n] = ts;
            k->type[k->n++] = (uint8_t)idx;
        }
    }
    if (sid <= 0 || sid >= h->c->t->view_n) return 0; /* a row this server's catalog does not hold yet */
    h->rc = crec_service_request_add_event(&h->c->t->rq, (int32_t)sid, ts, type_id(h->c->b, type));
    return h->rc != 0;
}

/* Per thread: one user's events copied out of the cache, and the cache's type indexes -> the bundle's ids. */
static _Thread_local crec__hist_buf tl_hist;
static _Thread_local struct {
    const crec_dataset *ds;
    uint64_t version;
    int32_t n_ds_types;
    int n;
    uint8_t id[CREC__HIST_MAX_TYPES];
} tl_types;

static int hist_from_cache(crec__rec_call *c, const crec__hist_buf *ev) {
    const crec__hist *hc = c->s->hist;
    const crec_dataset *ds = c->b->ds;
    int nt = crec__hist_n_types(hc);
    if (tl_types.ds != ds || tl_types.version != c->b->version || tl_types.n_ds_types != ds->event_types.n ||
        tl_types.n != nt) {
        for (int k = 0; k < nt; k++) tl_types.id[k] = type_id(c->b, crec__hist_type_name(hc, k));
        tl_types.ds = ds;
        tl_types.version = c->b->version;
        tl_types.n_ds_types = ds->event_types.n;
        tl_types.n = nt;
    }
    int32_t view_n = c->t->view_n;
    for (int32_t k = 0; k < ev->n; k++) {
        int32_t sid = ev->sid[k];
        if (sid <= 0 || sid >= view_n) continue; /* a row this server's catalog does not hold yet */
        int rc = crec_service_request_add_event(&c->t->rq, sid, ev->ts[k], tl_types.id[ev->type[k]]);
        if (rc) return rc;
    }
    return 0;
}

int crec__rec_user(crec__rec_call *c, const char *user, int64_t *n_events) {
    size_t ulen = strlen(user);
    crec__hist_ticket tk = {0};
    int rc;
    if (c->s->hist && crec__hist_get(c->s->hist, user, ulen, &tk, &tl_hist)) {
        rc = hist_from_cache(c, &tl_hist);
        if (n_events) *n_events = tl_hist.n;
    } else {
        /* a miss: the ticket was taken above, before this read; the copy is kept only when the caller says this
         * is its first store read (hist_put), so the read transaction's snapshot is not older than the ticket */
        crec__hist_buf *keep = c->s->hist && c->hist_put ? &tl_hist : NULL;
        if (keep) keep->n = 0;
        hist_arg h = {c, 0, 0, keep, NULL, -1};
        rc = crec_store_user_events(c->t->store, user, 0, hist_event, &h, NULL);
        int cold = rc == CREC_ENOTFOUND;
        if (cold) rc = 0; /* no events yet: a cold user */
        if (!rc) rc = h.rc;
        if (!rc && !cold && keep && keep->n >= 0 && keep->n == h.n) crec__hist_put(c->s->hist, &tk, user, ulen, keep);
        if (n_events) *n_events = h.n;
    }
    c->t->rq.user = crec__bundle_user(c->b, user, ulen);
    return rc;
}
