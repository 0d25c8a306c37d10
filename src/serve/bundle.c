/* bundle.c: the served model as a reference-counted bundle (model + the id maps of its dataset), the
 * in-memory popularity counters, and the per-thread state of the pool threads.
 *
 * The one idea: a request takes a reference to the current bundle under a mutex held for two instructions
 * and drops it when it answers; a reload builds the new bundle with no lock held, swaps the pointer under
 * the mutex and drops the server's reference to the old one, which is freed by whichever request finishes
 * with it last. No request ever sees a half-loaded model, and none fails because of a reload. The catalog and
 * popularity a reload re-reads from the store are read and swapped under the write lock, so no write is lost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/util.h"
#include "serve/online.h"
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
        pthread_rwlock_destroy(&b->mu);
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
    /* writer-preferring: the --online learner waits only for the requests already running */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&b->mu, &ra);
    pthread_rwlockattr_destroy(&ra);
    if (rc) {
        pthread_rwlock_destroy(&b->mu);
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
    /* The dimensions agreeing is not enough: a dataset (--data) of other ids would make every user and item
     * unknown, every answer the popular fallback. The model must share at least one item id with the store's
     * catalog (when the store has items at all). */
    if (!rc) {
        int64_t live = 0, shared = 0;
        pthread_rwlock_rdlock(&s->cat.lock);
        for (int64_t sid = 1; sid < s->cat.n; sid++) live += crec__catalog_get(&s->cat, sid) != NULL;
        for (int32_t i = 0; live && i < b->model->n_items && i < b->ds->items.n; i++) {
            const char *id = b->ds->items.names[i];
            shared += crec__catalog_sid(&s->cat, id, strlen(id)) >= 0;
        }
        pthread_rwlock_unlock(&s->cat.lock);
        if (live && !shared) {
            crec__errf(err, errn,
                       "model %s (trained on '%s', ids from the %s) shares no item id with the store's %lld items: "
                       "every answer would be the popular fallback; pass the dataset it was trained on",
                       model_path, b->model->data_name, b->data_desc, (long long)live);
            rc = CREC_ESTATE;
        }
    }
    if (rc) {
        crec_model_free(b->model);
        crec_dataset_free(b->ds);
        pthread_rwlock_destroy(&b->mu);
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
    crec__online_hold(s, 1); /* --online: learned state checkpointed, the learner paused until the swap */
    pthread_mutex_lock(&s->store_mu);
    int rc = crec__bundle_load(s, s->store, mp, dp, &nb, err, errn);
    if (!rc && (rc = crec__online_attach(s, nb, err, errn))) {
        crec__bundle_release(nb);
        nb = NULL;
    }
    /* the catalog and popularity are refreshed too: they pick up what other processes wrote to the store. Under
     * the write lock: every write through this server commits and updates the catalog and the counters under
     * it, so none can commit between the scan and the swap and be lost with the old copy. */
    pthread_mutex_lock(&s->write_mu);
    if (!rc && (rc = crec__catalog_load(&s->cat, s->store)) == 0) rc = crec__pop_reload(&s->pop, s->store);
    crec__hist_clear(s->hist); /* cached histories: read again from the store (other processes may have written) */
    pthread_mutex_unlock(&s->write_mu);
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
    crec__online_hold(s, 0);
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

void crec__pop_sub(crec__pop *p, const int64_t *sids, int64_t n) {
    pthread_rwlock_wrlock(&p->lock);
    for (int64_t k = 0; k < n; k++)
        if (sids[k] >= 0 && sids[k] < p->n && p->count[sids[k]] > 0) p->count[sids[k]]--;
    pthread_rwlock_unlock(&p->lock);
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
    crec_service_request_free(&t->rq);
    crec_service_scratch_free(&t->sc);
    free(t->to_model);
    free(t->from_model);
    free(t->allowed);
    free(t->model_excl);
    free(t);
}

crec__tls *crec__tls_get(crec_server *s) {
    crec__tls *t = pthread_getspecific(s->tls_key);
    if (t) return t;
    if (!(t = calloc(1, sizeof *t))) return NULL;
    t->srv = s;
    crec_service_request_init(&t->rq);
    crec_service_scratch_init(&t->sc);
    crec_store_opts o = {.sync_normal = s->opts.sync_normal, .no_create = 1};
    char err[256];
    if (crec_store_open(s->db_path, &o, &t->store, err, sizeof err)) {
        fprintf(stderr, "crec serve: worker cannot open the store: %s\n", err);
        crec__tls_free(t);
        return NULL;
    }
    if (pthread_setspecific(s->tls_key, t)) {
        crec__tls_free(t);
        return NULL;
    }
    return t;
}

/* The catalog through the model's eyes: per store row, is it live and visible, which model item is it; per
 * model item, which row. O(rows) hash lookups, so it is kept until the bundle or the catalog changes. */
int crec__tls_view(crec__tls *t, const crec__bundle *b) {
    crec__catalog *c = &t->srv->cat;
    pthread_rwlock_rdlock(&c->lock);
    unsigned long long gen = atomic_load(&c->gen);
    int rc = 0;
    if (t->view_version == b->version && t->view_gen == gen && t->to_model) goto done;
    int64_t n = c->n, nm = b->model->n_items;
    if (n > INT32_MAX) {
        rc = CREC_ERANGE;
        goto done;
    }
    if (n + 1 > t->view_cap) {
        int32_t *tm = realloc(t->to_model, (size_t)(n + 1) * sizeof *tm);
        if (tm) t->to_model = tm;
        uint8_t *al = realloc(t->allowed, (size_t)(n + 1));
        if (al) t->allowed = al;
        if (!tm || !al) {
            rc = CREC_ENOMEM;
            goto done;
        }
        t->view_cap = n + 1;
    }
    if (nm + 1 > t->from_cap) {
        int32_t *fm = realloc(t->from_model, (size_t)(nm + 1) * sizeof *fm);
        if (!fm) {
            rc = CREC_ENOMEM;
            goto done;
        }
        t->from_model = fm;
        t->from_cap = nm + 1;
    }
    for (int64_t i = 0; i < nm; i++) t->from_model[i] = -1;
    for (int64_t sid = 0; sid < n; sid++) {
        const crec__cat_entry *e = crec__catalog_get(c, sid);
        int32_t i = e ? crec__bundle_item(b, e->id, strlen(e->id)) : -1;
        t->allowed[sid] = e && e->visible;
        t->to_model[sid] = i;
        if (i >= 0) t->from_model[i] = (int32_t)sid;
    }
    t->view_n = (int32_t)n;
    t->view_version = b->version;
    t->view_gen = gen;
done:
    if (rc) t->view_version = 0; /* rebuild next time */
    pthread_rwlock_unlock(&c->lock);
    return rc;
}
