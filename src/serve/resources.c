/* resources.c: the routes of the store's resources - events (ingest), items (create, read, replace, delete,
 * list) and users (history, erasure).
 *
 * The one idea: the store is the system of record, so a write is acknowledged only after its transaction
 * committed, and only then are the server's in-memory copies (catalog, popularity counters) updated from
 * what the store now holds. Handlers of writes run under the server's write lock (routes.c). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "serve/events.h"
#include "serve/online.h"
#include "serve/routes.h"

static int64_t now_unix(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec;
}

static json_t *item_json(const crec_store_item *it, int with_text) {
    json_t *o = json_object();
    json_t *attrs = json_array();
    for (int k = 0; k < it->n_attrs; k++) json_array_append_new(attrs, crec__jstr(it->attrs[k]));
    json_object_set_new(o, "id", crec__jstr(it->id));
    json_object_set_new(o, "title", crec__jstr(it->title));
    if (with_text) json_object_set_new(o, "text", crec__jstr(it->text));
    json_object_set_new(o, "attributes", attrs);
    json_object_set_new(o, "visible", json_boolean(it->visible));
    return o;
}

/* ---- events ---- */

/* The batch's users (each run of one user's consecutive events named once), NUL-separated, into r->hist_users,
 * for crec__hist_after_write; on failure left NULL, which drops the whole cache. */
static void stage_hist_users(const crec_store_event *ev, int64_t n, crec__reply *r) {
    size_t len = 0;
    for (int64_t k = 0; k < n; k++)
        if (k == 0 || strcmp(ev[k].user, ev[k - 1].user) != 0) len += strlen(ev[k].user) + 1;
    char *b = malloc(len ? len : 1);
    if (!b) return;
    size_t o = 0;
    for (int64_t k = 0; k < n; k++)
        if (k == 0 || strcmp(ev[k].user, ev[k - 1].user) != 0) {
            size_t l = strlen(ev[k].user) + 1;
            memcpy(b + o, ev[k].user, l);
            o += l;
        }
    r->hist_users = b;
    r->hist_users_len = len;
}

void crec__h_events(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__reqerr e;
    json_t *body = crec__parse_json(req->body, req->body_len, &e);
    crec_store_event *ev = NULL;
    int64_t n = 0;
    if (!body || crec__parse_events(body, now_unix(), &ev, &n, &e)) {
        json_decref(body);
        crec__reply_reqerr(r, &e);
        return;
    }
    /* ?mode=append (default: every event a new row) | insert (skip a stored (user, item, type)) | upsert */
    const char *ms = crec__query(req, "mode");
    int mode = !ms || strcmp(ms, "append") == 0 ? CREC_STORE_APPEND
               : strcmp(ms, "insert") == 0      ? CREC_STORE_INSERT
               : strcmp(ms, "upsert") == 0      ? CREC_STORE_UPSERT
                                                : -1;
    if (mode < 0) {
        free(ev);
        json_decref(body);
        crec__reply_err(r, 400, "bad_parameter", "mode must be append, insert or upsert");
        return;
    }
    int64_t *sids = malloc((size_t)(n ? n : 1) * sizeof *sids), bad = -1, written = 0;
    int rc = sids ? crec_store_add_events_mode(t->store, ev, n, (crec_store_add_mode)mode, sids, &bad, &written)
                  : CREC_ENOMEM;
    if (!rc) {
        /* committed: only now is the batch acknowledged */
        stage_hist_users(ev, n, r); /* every user of the batch (before insert / upsert filter it): the history
                                     * cache drops them once the group committed */
        crec__pop_add(&s->pop, sids, n);
        int64_t n_new = n;
        if (mode != CREC_STORE_APPEND) { /* insert / upsert: only the events that added a row are new */
            n_new = 0;
            for (int64_t k = 0; k < n; k++)
                if (sids[k] >= 0) ev[n_new++] = ev[k];
        }
        crec__online_stage(s, ev, n_new); /* --online: handed to the learner once the group committed */
        crec__events_stage(s, ev, n_new); /* --events: published once the group committed */
        atomic_fetch_add(&s->metrics.events_ingested, (unsigned long long)n);
        atomic_fetch_add(&s->metrics.event_batches, 1);
        json_t *ok = json_pack("{s:I}", "accepted", (json_int_t)n);
        if (mode != CREC_STORE_APPEND) json_object_set_new(ok, "written", json_integer((json_int_t)written));
        crec__reply_json(r, 200, ok);
    } else if (rc == CREC_ENOTFOUND && bad >= 0) {
        crec__reply_err(r, 404, "item_not_found", "event %lld: item '%s' does not exist (nothing was written)",
                        (long long)bad, ev[bad].item);
    } else if (rc == CREC_ERANGE) {
        crec__reply_err(r, 400, "too_many_types", "event %lld: the store holds at most 256 event types", (long long)bad);
    } else {
        crec__reply_store_err(r, rc, "event", NULL);
    }
    free(sids);
    free(ev);
    json_decref(body);
}

/* ---- items ---- */

/* After a write: put the item as the store now has it into the catalog, and answer with it. */
static void reply_item(crec_server *s, crec__tls *t, const char *id, int status, crec__reply *r) {
    crec_store_item it;
    int rc = crec_store_item_get(t->store, id, strlen(id), 1, 0, &it);
    if (!rc) rc = crec__catalog_put(&s->cat, &it);
    if (rc) {
        crec__reply_store_err(r, rc, "item", id);
        crec_store_item_clear(&it);
        return;
    }
    crec__reply_json(r, status, item_json(&it, 1));
    crec_store_item_clear(&it);
}

typedef struct list_acc { crec_store *st; json_t *arr; int64_t last; } list_acc;

static int list_cb(void *ctx, int64_t sid, const char *id, size_t len, int visible) {
    list_acc *a = ctx;
    crec_store_item it;
    a->last = sid;
    if (crec_store_item_get_sid(a->st, sid, 1, &it) == 0) {
        json_array_append_new(a->arr, item_json(&it, 0));
        crec_store_item_clear(&it);
    }
    return 0;
}

void crec__h_items_list(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__reqerr e;
    long after = 0, limit = 50;
    if (crec__parse_int("after", crec__query(req, "after"), 0, LONG_MAX, 0, &after, &e) ||
        crec__parse_int("limit", crec__query(req, "limit"), 1, CREC__MAX_K, 50, &limit, &e)) {
        crec__reply_reqerr(r, &e);
        return;
    }
    list_acc a = {t->store, json_array(), 0};
    int rc = crec_store_items_list(t->store, after, limit, list_cb, &a);
    if (rc) {
        json_decref(a.arr);
        crec__reply_store_err(r, rc, "items", NULL);
        return;
    }
    /* next_after: the cursor of the next page, null on the last one */
    json_t *next = json_array_size(a.arr) == (size_t)limit ? json_integer((json_int_t)a.last) : json_null();
    crec__reply_json(r, 200, json_pack("{s:o,s:o}", "items", a.arr, "next_after", next));
}

/* POST /v1/items (create) and PUT /v1/items/{id} (create or replace; path_id set). */
static void put_item(crec_server *s, crec__tls *t, crec__req *req, const char *path_id, crec__reply *r) {
    crec__reqerr e;
    json_t *body = crec__parse_json(req->body, req->body_len, &e);
    crec_store_item it;
    if (!body || crec__parse_item(body, path_id, &it, &e)) {
        json_decref(body);
        crec__reply_reqerr(r, &e);
        return;
    }
    int created = 0;
    int rc = crec_store_item_put(t->store, &it, path_id ? CREC_STORE_REPLACE : CREC_STORE_CREATE, &created);
    if (rc) crec__reply_store_err(r, rc, "item", it.id);
    else reply_item(s, t, it.id, created ? 201 : 200, r);
    free(it.attrs);
    json_decref(body);
}

void crec__h_item_create(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) { put_item(s, t, req, NULL, r); }

void crec__h_item_put(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) { put_item(s, t, req, req->m.id, r); }

void crec__h_item_get(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    const char *id = req->m.id;
    crec_store_item it;
    int rc = crec_store_item_get(t->store, id, strlen(id), 1, 1, &it);
    if (rc) {
        crec__reply_store_err(r, rc, "item", id);
        return;
    }
    crec__bundle *b = crec__bundle_acquire(s);
    json_t *o = item_json(&it, 1);
    json_object_set_new(o, "n_events", json_integer((json_int_t)it.n_events));
    pthread_rwlock_rdlock(&b->mu);
    json_object_set_new(o, "in_model", json_boolean(crec__bundle_item(b, id, strlen(id)) >= 0));
    pthread_rwlock_unlock(&b->mu);
    crec__bundle_release(b);
    crec__reply_json(r, 200, o);
    crec_store_item_clear(&it);
}

void crec__h_item_delete(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    const char *id = req->m.id;
    crec_store_item it;
    int64_t n = 0;
    int rc = crec_store_item_get(t->store, id, strlen(id), 0, 0, &it);
    if (!rc) rc = crec_store_item_delete(t->store, id, &n);
    if (rc) {
        crec__reply_store_err(r, rc, "item", id);
    } else {
        crec__pop_zero(&s->pop, it.sid);
        crec__catalog_remove(&s->cat, it.sid);
        crec__reply_json(r, 200, json_pack("{s:o,s:I}", "deleted", crec__jstr(id), "events_deleted", (json_int_t)n));
    }
    crec_store_item_clear(&it);
}

/* ---- users ---- */

typedef struct user_hist { crec_store *st; json_t *arr; } user_hist;

static int user_hist_cb(void *ctx, int64_t sid, const char *item, size_t len, const char *type, float value,
                        int64_t ts) {
    user_hist *u = ctx;
    crec_store_item it;
    json_t *o = json_object();
    json_object_set_new(o, "item", crec__jstrn(item, len));
    if (crec_store_item_get_sid(u->st, sid, 1, &it) == 0) {
        json_object_set_new(o, "title", crec__jstr(it.title));
        json_t *attrs = json_array();
        for (int k = 0; k < it.n_attrs; k++) json_array_append_new(attrs, crec__jstr(it.attrs[k]));
        json_object_set_new(o, "attributes", attrs);
        crec_store_item_clear(&it);
    }
    json_object_set_new(o, "type", crec__jstr(type));
    json_object_set_new(o, "value", json_real((double)value));
    json_object_set_new(o, "ts", json_integer((json_int_t)ts));
    json_array_append_new(u->arr, o);
    return 0;
}

void crec__h_user_get(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    const char *id = req->m.id;
    crec__reqerr e;
    long limit = 50;
    if (crec__parse_int("limit", crec__query(req, "limit"), 1, CREC__MAX_K, 50, &limit, &e)) {
        crec__reply_reqerr(r, &e);
        return;
    }
    user_hist u = {t->store, json_array()};
    int64_t n = 0;
    int rc = crec_store_user_events(t->store, id, limit, user_hist_cb, &u, &n);
    crec__bundle *b = crec__bundle_acquire(s);
    pthread_rwlock_rdlock(&b->mu);
    int known = crec__bundle_user(b, id, strlen(id)) >= 0;
    pthread_rwlock_unlock(&b->mu);
    crec__bundle_release(b);
    if (rc && !(rc == CREC_ENOTFOUND && known)) {
        json_decref(u.arr);
        crec__reply_store_err(r, rc, "user", id);
        return;
    }
    crec__reply_json(r, 200, json_pack("{s:o,s:I,s:b,s:o,s:o}", "id", crec__jstr(id), "n_events", (json_int_t)n,
                                       "known_to_model", known, "labels", crec__user_labels_json(t->store, id),
                                       "history", u.arr));
}

void crec__h_user_delete(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    const char *id = req->m.id;
    int64_t n = 0, *sids = NULL, cap = 0, ns = 0;
    /* the items of their events, read under the same write lock, so the counters can be decremented instead
     * of recounted from every event in the store (62-180 ms at 1.6 M events) */
    int rc = crec_store_user_item_sids(t->store, id, &sids, &cap, &ns);
    if (!rc) rc = crec_store_delete_user(t->store, id, &n);
    if (rc) {
        free(sids);
        crec__reply_store_err(r, rc, "user", id);
        return;
    }
    crec__pop_sub(&s->pop, sids, ns); /* their events no longer count towards popularity */
    free(sids);
    crec__reply_json(r, 200, json_pack("{s:o,s:I}", "deleted", crec__jstr(id), "events_deleted", (json_int_t)n));
}
