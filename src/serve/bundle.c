/* bundle.c: the served model as a reference-counted bundle (model + the id maps of its dataset), the
 * in-memory popularity counters, and the per-thread state of the pool threads.
 *
 * The one idea: a request takes a reference to the current bundle under a mutex held for two instructions
 * and drops it when it answers; a reload builds the new bundle with no lock held, swaps the pointer under
 * the mutex and drops the server's reference to the old one, which is freed by whichever request finishes
 * with it last. No request ever sees a half-loaded model, and none fails because of a reload. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/util.h"
#include "serve/serve_internal.h"

/* ---- bundles ---- */

crec__bundle *crec__bundle_acquire(crec_server *s) {
    pthread_mutex_lock(&s->bundle_mu);
    crec__bundle *b = s->bundle;
    if (b) atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&s->bundle_mu);
    return b;
}

void crec__bundle_release(crec__bundle *b) {
    if (!b) return;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        crec_model_free(b->model);
        crec_dataset_free(b->ds);
        free(b);
    }
}

int crec__bundle_load(crec_server *s, crec_store *store, const char *model_path, const char *data_path,
                      crec__bundle **out, char *err, size_t errn) {
    *out = NULL;
    crec__bundle *b = calloc(1, sizeof *b);
    if (!b) return CREC_ENOMEM;
    atomic_init(&b->refs, 1);
    int rc = crec_model_load(model_path, &b->model);
    if (rc) {
        crec__errf(err, errn, "%s: %s", model_path,
                   rc == CREC_ENOTFOUND ? "no such file" : crec_strerror(rc));
        free(b);
        return rc;
    }
    if (data_path) {
        rc = crec_dataset_load(data_path, &b->ds);
        if (rc) crec__errf(err, errn, "%s: %s", data_path, rc == CREC_ENOTFOUND ? "no such file" : crec_strerror(rc));
        snprintf(b->data_desc, sizeof b->data_desc, "file %s", data_path);
    } else {
        rc = crec_store_snapshot(store, &b->ds);
        if (rc) crec__errf(err, errn, "store snapshot: %s", crec_strerror(rc));
        snprintf(b->data_desc, sizeof b->data_desc, "store snapshot");
    }
    /* A dataset file must be exactly the model's; a store snapshot must extend it: the same dataset label
     * (the first import's, which an export carries on) and at least its users and items, whose ids then agree
     * because snapshot ids are row ids and rows are never renumbered. */
    int match = !rc && (data_path ? b->ds->items.n == b->model->n_items && b->ds->users.n == b->model->n_users
                                  : b->ds->items.n >= b->model->n_items && b->ds->users.n >= b->model->n_users &&
                                        strcmp(b->ds->name, b->model->data_name) == 0);
    if (!rc && !match) {
        crec__errf(err, errn,
                   "model %s (%d users x %d items, trained on '%s') does not match the %s (%d users x %d items, "
                   "'%s'); pass the dataset it was trained on (--data D.crecds; crec db export writes the store's)",
                   model_path, b->model->n_users, b->model->n_items, b->model->data_name, b->data_desc,
                   b->ds->users.n, b->ds->items.n, b->ds->name);
        rc = CREC_ESTATE;
    }
    if (rc) {
        crec_model_free(b->model);
        crec_dataset_free(b->ds);
        free(b);
        return rc;
    }
    snprintf(b->model_path, sizeof b->model_path, "%s", model_path);
    b->version = atomic_fetch_add(&s->next_version, 1) + 1;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    b->loaded_unix = (double)tv.tv_sec;
    *out = b;
    return 0;
}

int crec_server_reload(crec_server *s, const char *model_path, const char *data_path, char *err, size_t errn) {
    if (!s) return CREC_EINVAL;
    pthread_mutex_lock(&s->reload_mu);
    crec__bundle *cur = crec__bundle_acquire(s);
    char mp[1024];
    snprintf(mp, sizeof mp, "%s", model_path ? model_path : cur ? cur->model_path : s->model_path);
    crec__bundle_release(cur);
    const char *dp = data_path ? data_path : s->data_path;
    crec__bundle *nb = NULL;
    pthread_mutex_lock(&s->store_mu);
    int rc = crec__bundle_load(s, s->store, mp, dp, &nb, err, errn);
    /* the catalog and popularity are refreshed too: they pick up what other processes wrote to the store */
    if (!rc && (rc = crec__catalog_load(&s->cat, s->store)) == 0) rc = crec__pop_reload(&s->pop, s->store);
    if (rc && nb) {
        crec__errf(err, errn, "reading the store: %s", crec_strerror(rc));
        crec__bundle_release(nb);
        nb = NULL;
    }
    pthread_mutex_unlock(&s->store_mu);
    if (!rc) {
        pthread_mutex_lock(&s->bundle_mu);
        crec__bundle *old = s->bundle;
        s->bundle = nb;
        pthread_mutex_unlock(&s->bundle_mu);
        crec__bundle_release(old); /* freed now, or by the last request still using it */
        atomic_fetch_add(&s->metrics.reloads, 1);
    } else {
        atomic_fetch_add(&s->metrics.reload_failures, 1);
    }
    pthread_mutex_unlock(&s->reload_mu);
    return rc;
}

/* ---- popularity ---- */

int crec__pop_init(crec__pop *p, crec_store *st) {
    memset(p, 0, sizeof *p);
    pthread_rwlock_init(&p->lock, NULL);
    return crec__pop_reload(p, st);
}

void crec__pop_free(crec__pop *p) {
    free(p->count);
    pthread_rwlock_destroy(&p->lock);
}

int crec__pop_reload(crec__pop *p, crec_store *st) {
    int64_t *c, n;
    int rc = crec_store_item_counts(st, &c, &n);
    if (rc) return rc;
    pthread_rwlock_wrlock(&p->lock);
    free(p->count);
    p->count = c;
    p->n = p->cap = n;
    pthread_rwlock_unlock(&p->lock);
    return 0;
}

void crec__pop_add(crec__pop *p, const int64_t *sids, int64_t n) {
    pthread_rwlock_wrlock(&p->lock);
    for (int64_t k = 0; k < n; k++) {
        int64_t sid = sids[k];
        if (sid < 0) continue;
        if (sid >= p->cap) {
            int64_t nc = p->cap * 2 > sid + 1 ? p->cap * 2 : sid + 1024;
            int64_t *np = realloc(p->count, (size_t)nc * sizeof *np);
            if (!np) continue; /* popularity is advisory: a missed count is not worth failing the ingest */
            memset(np + p->cap, 0, (size_t)(nc - p->cap) * sizeof *np);
            p->count = np;
            p->cap = nc;
        }
        if (sid >= p->n) p->n = sid + 1;
        p->count[sid]++;
    }
    pthread_rwlock_unlock(&p->lock);
}

void crec__pop_zero(crec__pop *p, int64_t sid) {
    pthread_rwlock_wrlock(&p->lock);
    if (sid >= 0 && sid < p->n) p->count[sid] = 0;
    pthread_rwlock_unlock(&p->lock);
}

/* ---- per-thread state ---- */

void crec__tls_free(void *ptr) {
    crec__tls *t = ptr;
    if (!t) return;
    crec_store_close(t->store);
    free(t->scores);
    free(t->excl);
    free(t->top);
    free(t->hist);
    free(t->hist_sid);
    free(t);
}

crec__tls *crec__tls_get(crec_server *s) {
    crec__tls *t = pthread_getspecific(s->tls_key);
    if (t) return t;
    if (!(t = calloc(1, sizeof *t))) return NULL;
    t->srv = s;
    crec_store_opts o = {.sync_normal = s->opts.sync_normal, .no_create = 1};
    char err[256];
    if (crec_store_open(s->db_path, &o, &t->store, err, sizeof err)) {
        fprintf(stderr, "crec serve: worker cannot open the store: %s\n", err);
        free(t);
        return NULL;
    }
    if (pthread_setspecific(s->tls_key, t)) {
        crec__tls_free(t);
        return NULL;
    }
    return t;
}

int crec__tls_reserve(crec__tls *t, int64_t n) {
    if (n <= t->cap) return 0;
    int64_t nc = n + 64;
    float *sc = realloc(t->scores, (size_t)nc * sizeof *sc);
    if (sc) t->scores = sc;
    uint8_t *ex = realloc(t->excl, (size_t)nc);
    if (ex) t->excl = ex;
    int32_t *tp = realloc(t->top, (size_t)nc * sizeof *tp);
    if (tp) t->top = tp;
    if (!sc || !ex || !tp) return CREC_ENOMEM;
    t->cap = nc;
    return 0;
}
