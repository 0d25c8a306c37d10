/* catalog.c: the server's in-memory copy of the store's items (id, title, attributes, visible), indexed by
 * store row id and by external id, so a ranking checks and describes its candidates without a query each.
 *
 * The one idea: the store stays the system of record; the catalog is loaded from it at start (and on reload)
 * and every item write that goes through this server updates both, the store first. Readers hold the read
 * lock while they copy what they answer; writers hold the write lock for one entry. Items written to the
 * store by another process appear after POST /v1/admin/reload, which scans and swaps under the server's write
 * mutex (bundle.c) so that no write through this server falls between the scan and the swap. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "serve/reccall.h"

static void entry_clear(crec__cat_entry *e) {
    free(e->id);
    free(e->title);
    for (int k = 0; k < e->n_attrs; k++) free(e->attrs[k]);
    free(e->attrs);
    free(e->frag);
    memset(e, 0, sizeof *e);
}

/* The entry as a recommendation answer lists it, up to its score: `{"id":..,"title":..,"attributes":[..],
 * "visible":..,"score":` - built once per item write, so that an answer copies it instead of building and
 * serializing a JSON object per item and request (reccall.c). The same bytes crec__entry_json would give. */
static int entry_frag(crec__cat_entry *e) {
    json_t *o = crec__entry_json(e, 0.0);
    json_object_del(o, "score");
    char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    size_t n = t ? strlen(t) : 0;
    char *f = n > 1 ? malloc(n + 9) : NULL;
    if (f) {
        memcpy(f, t, n - 1); /* without the closing brace */
        memcpy(f + n - 1, ",\"score\":", 10);
        e->frag = f;
        e->frag_len = n - 1 + 9;
    }
    free(t);
    return f ? 0 : CREC_ENOMEM;
}

/* Fill *e from it (copies). CREC_ENOMEM leaves *e cleared. */
static int entry_set(crec__cat_entry *e, const crec_store_item *it) {
    memset(e, 0, sizeof *e);
    e->id = strdup(it->id);
    e->title = it->title ? strdup(it->title) : NULL;
    e->attrs = it->n_attrs ? calloc((size_t)it->n_attrs, sizeof *e->attrs) : NULL;
    int ok = e->id && (!it->title || e->title) && (!it->n_attrs || e->attrs);
    for (int k = 0; ok && k < it->n_attrs; k++, e->n_attrs++) ok = (e->attrs[k] = strdup(it->attrs[k])) != NULL;
    if (!ok) {
        entry_clear(e);
        return CREC_ENOMEM;
    }
    e->visible = (uint8_t)(it->visible != 0);
    e->live = 1;
    if (entry_frag(e)) {
        entry_clear(e);
        return CREC_ENOMEM;
    }
    return 0;
}

/* Write lock held. */
static int put_locked(crec__catalog *c, const crec_store_item *it) {
    int64_t sid = it->sid;
    if (sid <= 0) return CREC_EINVAL;
    if (sid >= c->cap) {
        int64_t nc = c->cap * 2 > sid + 1 ? c->cap * 2 : sid + 1024;
        crec__cat_entry *ne = realloc(c->e, (size_t)nc * sizeof *ne);
        if (!ne) return CREC_ENOMEM;
        memset(ne + c->cap, 0, (size_t)(nc - c->cap) * sizeof *ne);
        c->e = ne;
        c->cap = nc;
    }
    if (sid >= c->n) c->n = sid + 1;
    int32_t d = crec_idmap_intern(&c->ids, it->id, strlen(it->id));
    if (d < 0) return d;
    if (d >= c->dcap) {
        int64_t nc = c->dcap ? c->dcap * 2 : 1024;
        while (nc <= d) nc *= 2;
        int64_t *nd = realloc(c->dense_sid, (size_t)nc * sizeof *nd);
        if (!nd) return CREC_ENOMEM;
        c->dense_sid = nd;
        c->dcap = nc;
    }
    c->dense_sid[d] = sid;
    entry_clear(&c->e[sid]);
    return entry_set(&c->e[sid], it);
}

static int load_cb(void *ctx, const crec_store_item *it) { return put_locked(ctx, it) != 0; }

/* Fault injection for tests/integration/serve.sh: CREC_TEST_RELOAD_PAUSE_MS widens the moment between a
 * reload's scan and its swap, where a write that is not held off would be lost. */
static void test_pause(void) {
    const char *v = getenv("CREC_TEST_RELOAD_PAUSE_MS");
    long ms = v ? strtol(v, NULL, 10) : 0;
    if (ms > 0 && ms <= 10000) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int crec__catalog_load(crec__catalog *c, crec_store *st) {
    crec__catalog fresh = {0};
    crec_idmap_init(&fresh.ids);
    int rc = crec_store_items_scan(st, load_cb, &fresh);
    if (rc) {
        crec__catalog_clear(&fresh);
        return rc;
    }
    test_pause();
    pthread_rwlock_wrlock(&c->lock);
    crec__catalog old = {.e = c->e, .n = c->n, .cap = c->cap, .ids = c->ids, .dense_sid = c->dense_sid,
                         .dcap = c->dcap};
    c->e = fresh.e;
    c->n = fresh.n;
    c->cap = fresh.cap;
    c->ids = fresh.ids;
    c->dense_sid = fresh.dense_sid;
    c->dcap = fresh.dcap;
    atomic_fetch_add(&c->gen, 1);
    pthread_rwlock_unlock(&c->lock);
    crec__catalog_clear(&old);
    return 0;
}

void crec__catalog_clear(crec__catalog *c) {
    for (int64_t i = 0; i < c->n; i++) entry_clear(&c->e[i]);
    free(c->e);
    free(c->dense_sid);
    crec_idmap_free(&c->ids);
    c->e = NULL;
    c->dense_sid = NULL;
    c->n = c->cap = c->dcap = 0;
}

int crec__catalog_put(crec__catalog *c, const crec_store_item *it) {
    pthread_rwlock_wrlock(&c->lock);
    int rc = put_locked(c, it);
    atomic_fetch_add(&c->gen, 1);
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

void crec__catalog_remove(crec__catalog *c, int64_t sid) {
    pthread_rwlock_wrlock(&c->lock);
    if (sid > 0 && sid < c->n) entry_clear(&c->e[sid]);
    atomic_fetch_add(&c->gen, 1);
    pthread_rwlock_unlock(&c->lock);
}

const crec__cat_entry *crec__catalog_get(const crec__catalog *c, int64_t sid) {
    return sid > 0 && sid < c->n && c->e[sid].live ? &c->e[sid] : NULL;
}

int64_t crec__catalog_sid(const crec__catalog *c, const char *id, size_t len) {
    int32_t d = crec_idmap_get(&c->ids, id, len);
    if (d < 0) return -1;
    int64_t sid = c->dense_sid[d];
    return crec__catalog_get(c, sid) ? sid : -1;
}
