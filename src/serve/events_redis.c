/* events_redis.c: crec serve --events (acknowledged events out to a Redis stream) and --deltas (a trainer's rows
 * into the served model), see serve/events.h and crec/events.h.
 *
 * The one idea: Redis never sits on the acknowledgement path, and the store stays the one source of events. The
 * writer only raises a flag when it committed events; the publisher thread reads the events themselves from the
 * store, every row after the last one it published, in row id order (crec_store_events_after), and XADDs them
 * with entry id "E-0". So:
 *  - what is in the stream is exactly what the store committed (an event is never published before its COMMIT);
 *  - no event is skipped: row ids are never reused (AUTOINCREMENT, or PostgreSQL's counter table) and the store's
 *    writers are serialised (one SQLite writer; PostgreSQL's advisory lock), so ids become visible in increasing
 *    order and "every id <= the largest one published" is a watermark with nothing unpublished below it;
 *  - after Redis comes back (or on a restart) the publisher starts after the stream's last entry id and
 *    republishes from the store: at-least-once, and Redis itself refuses a second copy of an entry id;
 *  - events other processes commit to the same store are published too (the publisher also looks once a second).
 * Deleted events are not retracted. A fresh stream starts at the store's end (the events already there are the
 * model's training data). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "crec/events.h"
#include "crec/online.h"
#include "events/redis.h"
#include "serve/events.h"

#define LOG_EVERY 30.0    /* seconds between two "Redis is unreachable" lines */
#define PAGE 1000

#ifndef CREC_HAVE_HIREDIS
int crec__events_start(crec_server *s, char *err, size_t errn) {
    if (s->opts.events_url || s->opts.deltas_url) {
        crec__errf(err, errn, "%s: built without Redis support (install libhiredis-dev and rebuild)",
                   s->opts.events_url ? "--events" : "--deltas");
        return CREC_EUNSUPPORTED;
    }
    return 0;
}
void crec__events_stop(crec_server *s) { (void)s; }
void crec__events_stage(crec_server *s, const crec_store_event *ev, int64_t n) { (void)s, (void)ev, (void)n; }
void crec__events_commit(crec_server *s) { (void)s; }
void crec__events_drop(crec_server *s) { (void)s; }
int crec__events_get_stats(crec_server *s, crec__events_stats *out) {
    (void)s, (void)out;
    return -1;
}
#else

typedef struct pev { /* one event read from the store */
    uint64_t id;
    char *user, *item, *type;
    double value;
    int64_t ts;
} pev;

struct crec__events {
    crec_server *s;
    int pub, sub;
    crec_redis_url eu, du;
    int staged; /* the writer's open group holds events (atomic) */
    /* shared with the publisher (mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int dirty, stop;
    pthread_t pub_thread, sub_thread;
    int pub_running, sub_running;
    /* the publisher thread's own */
    crec_store *st;
    redisContext *c;
    uint64_t W;         /* watermark: every event id <= W is in the stream */
    uint64_t W0;        /* the store's last event id when the server started: where a fresh stream begins */
    int have_W, need_top;
    double last_log;
    pev *evs;
    size_t n_evs, cap_evs;
    /* the delta thread's own */
    redisContext *dc;
    char last_delta[64];
    uint64_t bundle_version;
    double last_dlog;
    /* counters (mu) */
    crec__events_stats stats;
};

/* ---- the write path (the writer thread, or a batch route after its commit) ---- */

void crec__events_stage(crec_server *s, const crec_store_event *ev, int64_t n) {
    crec__events *e = s->events;
    (void)ev;
    if (e && e->pub && n > 0) __atomic_store_n(&e->staged, 1, __ATOMIC_RELAXED);
}

void crec__events_drop(crec_server *s) {
    crec__events *e = s->events;
    if (e) __atomic_store_n(&e->staged, 0, __ATOMIC_RELAXED);
}

void crec__events_commit(crec_server *s) {
    crec__events *e = s->events;
    if (!e || !e->pub || !__atomic_exchange_n(&e->staged, 0, __ATOMIC_RELAXED)) return;
    pthread_mutex_lock(&e->mu);
    e->dirty = 1;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

/* ---- the publisher ---- */

static void say(crec__events *e, double *last, const char *what, const crec_redis_url *u, const char *why) {
    double now = crec__now();
    if (*last > 0 && now - *last < LOG_EVERY) return;
    *last = now;
    fprintf(stderr, "crec serve: %s redis://%s:%d/%s: %s%s\n", what, u->host, u->port, u->stream, why,
            what[2] == 'e' ? "; events stay in the store and are published when it is back (said at most every 30 s)"
                           : "; retrying (said at most every 30 s)");
    (void)e;
}

static void disconnect(crec__events *e, const char *why_in) {
    char why[256];
    snprintf(why, sizeof why, "%s", why_in); /* it may live in e->c */
    if (e->c) redisFree(e->c);
    e->c = NULL;
    pthread_mutex_lock(&e->mu);
    e->stats.failures++;
    e->stats.connected = 0;
    pthread_mutex_unlock(&e->mu);
    say(e, &e->last_log, "--events", &e->eu, why);
}

typedef struct collect { crec__events *e; uint64_t max; int64_t n; int rc; } collect;

static int on_feedback(void *ctx, const crec_store_feedback *f) {
    collect *c = ctx;
    c->n++;
    uint64_t id = (uint64_t)f->id;
    if (id > c->max) c->max = id;
    crec__events *e = c->e;
    if (e->n_evs == e->cap_evs) {
        size_t nc = e->cap_evs ? e->cap_evs * 2 : 1024;
        pev *ne = realloc(e->evs, nc * sizeof *ne);
        if (!ne) return c->rc = CREC_ENOMEM;
        e->evs = ne;
        e->cap_evs = nc;
    }
    pev *p = &e->evs[e->n_evs];
    p->id = id;
    p->user = strdup(f->user);
    p->item = strdup(f->item);
    p->type = strdup(f->type ? f->type : "interaction");
    p->value = f->value;
    p->ts = f->ts;
    if (!p->user || !p->item || !p->type) {
        free(p->user), free(p->item), free(p->type);
        return c->rc = CREC_ENOMEM;
    }
    e->n_evs++;
    return 0;
}

static void clear_evs(crec__events *e) {
    for (size_t k = 0; k < e->n_evs; k++) free(e->evs[k].user), free(e->evs[k].item), free(e->evs[k].type);
    e->n_evs = 0;
}

/* The stream's last entry id (0 when empty or absent); -1: the connection broke. */
static int stream_top(crec__events *e, uint64_t *top) {
    const char *argv[] = {"XREVRANGE", e->eu.stream, "+", "-", "COUNT", "1"};
    redisReply *r = crec__redis_cmd(e->c, 6, argv, NULL);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return -1;
    }
    *top = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements >= 1 && r->element[0]->element[0]->type == REDIS_REPLY_STRING)
        crec_redis_id_parse(r->element[0]->element[0]->str, r->element[0]->element[0]->len, top, NULL);
    freeReplyObject(r);
    return 0;
}

/* XADD e->evs (sorted) pipelined; 0, or -1 when the connection broke (what was not confirmed is republished) */
static int xadd_all(crec__events *e) {
    size_t k0 = 0;
    while (k0 < e->n_evs) {
        size_t n = e->n_evs - k0 < 256 ? e->n_evs - k0 : 256;
        for (size_t j = 0; j < n; j++) {
            pev *p = &e->evs[k0 + j];
            char id[32], ev[24], val[32], ts[24];
            crec_redis_event_id(p->id, id, sizeof id);
            snprintf(ev, sizeof ev, "%llu", (unsigned long long)p->id);
            snprintf(val, sizeof val, "%.9g", p->value);
            snprintf(ts, sizeof ts, "%lld", (long long)p->ts);
            const char *argv[] = {"XADD", e->eu.stream, id, "event", ev, "user", p->user, "item", p->item,
                                  "type", p->type, "value", val, "ts", ts};
            size_t lens[15];
            for (int a = 0; a < 15; a++) lens[a] = strlen(argv[a]);
            if (redisAppendCommandArgv(e->c, 15, argv, lens) != REDIS_OK) return -1;
        }
        for (size_t j = 0; j < n; j++) {
            redisReply *r = NULL;
            if (redisGetReply(e->c, (void **)&r) != REDIS_OK || !r) return -1;
            int ok = r->type == REDIS_REPLY_STRING;
            int dup = r->type == REDIS_REPLY_ERROR && strstr(r->str, "equal or smaller") != NULL;
            if (r->type == REDIS_REPLY_ERROR && !dup) {
                fprintf(stderr, "crec serve: --events: XADD %s: %s\n", e->eu.stream, r->str);
                freeReplyObject(r);
                return -1;
            }
            freeReplyObject(r);
            pthread_mutex_lock(&e->mu);
            if (ok) e->stats.published++;
            else e->stats.already++;
            e->W = e->evs[k0 + j].id > e->W ? e->evs[k0 + j].id : e->W;
            e->stats.last_event_id = e->W;
            pthread_mutex_unlock(&e->mu);
        }
        k0 += n;
    }
    return 0;
}

/* One pass: publish every stored event after W, a page at a time. Returns 0, or -1 when Redis broke. */
static int pass(crec__events *e) {
    if (!e->c) {
        char err[300];
        if (!(e->c = crec__redis_open(&e->eu, 1, 5, err, sizeof err))) {
            say(e, &e->last_log, "--events", &e->eu, err);
            return -1;
        }
        if (e->last_log > 0) fprintf(stderr, "crec serve: --events redis://%s:%d/%s: connected again; catching up "
                                             "from the store\n", e->eu.host, e->eu.port, e->eu.stream);
        e->last_log = 0;
        e->need_top = 1;
        pthread_mutex_lock(&e->mu);
        e->stats.connected = 1;
        pthread_mutex_unlock(&e->mu);
    }
    if (e->need_top) { /* the stream says how far it got (maybe another server got further) */
        uint64_t top = 0;
        if (stream_top(e, &top)) {
            disconnect(e, "XREVRANGE failed");
            return -1;
        }
        if (top) e->W = top, e->have_W = 1;
        e->need_top = 0;
    }
    if (!e->have_W) { /* a fresh stream: start at the store's end when the server started */
        e->W = e->W0, e->have_W = 1;
        pthread_mutex_lock(&e->mu);
        e->stats.last_event_id = e->W;
        pthread_mutex_unlock(&e->mu);
    }
    for (;;) {
        collect c = {.e = e, .max = e->W};
        int rc = crec_store_events_after(e->st, (int64_t)e->W, PAGE, on_feedback, &c);
        if (rc || c.rc) {
            clear_evs(e);
            fprintf(stderr, "crec serve: --events: reading the store: %s (retrying)\n", crec_strerror(rc ? rc : c.rc));
            return 0;
        }
        int xr = xadd_all(e); /* advances W entry by entry */
        clear_evs(e);
        if (xr) {
            disconnect(e, e->c && e->c->err ? e->c->errstr : "XADD failed");
            return -1;
        }
        if (c.n < PAGE) return 0;
    }
}

static void *publisher_main(void *arg) {
    crec__events *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        if (!e->dirty && !e->stop) { /* also once a second: other processes' events, a retry after a failure */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&e->cv, &e->mu, &ts);
        }
        int stop = e->stop;
        e->dirty = 0;
        pthread_mutex_unlock(&e->mu);
        int rc = pass(e); /* the last pass after stop publishes what was committed before it */
        if (stop) break;
        if (rc) { /* Redis away: wait a second before the next try, however many commits arrive */
            pthread_mutex_lock(&e->mu);
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            while (!e->stop && pthread_cond_timedwait(&e->cv, &e->mu, &ts) != ETIMEDOUT) {}
            pthread_mutex_unlock(&e->mu);
        }
    }
    return NULL;
}

/* ---- --deltas: row messages into the served model ---- */

typedef struct apply_ctx {
    crec__bundle *b;
    crec_online_table *tab;
    const crec_rowmsg_head *head;
    int dim, sdim, bad;
    unsigned long long rows;
} apply_ctx;

static int32_t dense_of(apply_ctx *a, int kind, const char *name) {
    crec_idmap *m = kind == 1 ? &a->b->ds->users : &a->b->ds->items;
    return crec_idmap_intern(m, name, strlen(name));
}

static int apply_row(void *ctx, const crec_rowmsg_row *r) {
    apply_ctx *a = ctx;
    if (a->head->dim != a->dim || a->head->state_dim != a->sdim) {
        a->bad = 1;
        return 1;
    }
    int32_t d = dense_of(a, r->kind, r->name);
    if (d < 0) return CREC_ENOMEM;
    uint64_t key = ((uint64_t)r->kind << 60) | (uint64_t)d;
    a->rows++;
    return crec_online_table_put(a->tab, key, r->vec, r->state, r->touch);
}

static int apply_removed(void *ctx, int kind, const char *name) {
    apply_ctx *a = ctx;
    const crec_idmap *m = kind == 1 ? &a->b->ds->users : &a->b->ds->items;
    int32_t d = crec_idmap_get(m, name, strlen(name));
    if (d >= 0) crec_online_table_remove(a->tab, ((uint64_t)kind << 60) | (uint64_t)d);
    return 0;
}

/* One row message into the current bundle, under its write lock. */
static int apply_msg(crec__events *e, const void *msg, size_t len) {
    crec_server *s = e->s;
    crec__bundle *b = crec__bundle_acquire(s);
    if (b->version != e->bundle_version) { /* reloaded: the new model has none of the rows; replay from the start */
        e->bundle_version = b->version;
        if (strcmp(e->last_delta, "0") != 0) {
            snprintf(e->last_delta, sizeof e->last_delta, "0");
            crec__bundle_release(b);
            return 1;
        }
    }
    if (strcmp(b->model->type->name, "onlinemf") != 0 || !b->model->state) {
        crec__bundle_release(b);
        return CREC_ESTATE;
    }
    pthread_rwlock_wrlock(&b->mu);
    crec_online_table *tab = crec_omf_table(b->model->state);
    crec_rowmsg_head head = {0};
    apply_ctx a = {.b = b, .tab = tab, .head = &head, .dim = crec_online_table_opts(tab)->dim,
                   .sdim = crec_online_table_state_dim(tab)};
    int32_t ni = b->model->n_items;
    int rc = crec_rowmsg_foreach(msg, len, &head, apply_row, apply_removed, &a);
    if (b->ds->users.n > b->model->n_users) b->model->n_users = b->ds->users.n;
    if (b->ds->items.n > b->model->n_items) b->model->n_items = b->ds->items.n;
    if (b->model->n_items != ni) atomic_fetch_add(&s->cat.gen, 1); /* views rebuild: the item space grew */
    pthread_rwlock_unlock(&b->mu);
    crec__bundle_release(b);
    if (a.bad) {
        fprintf(stderr, "crec serve: --deltas: a row message of dim %d (+%d state) does not fit the served model's "
                        "table (dim %d + %d): skipped\n", head.dim, head.state_dim, a.dim, a.sdim);
        return 0;
    }
    pthread_mutex_lock(&e->mu);
    e->stats.deltas_applied++;
    e->stats.rows_applied += a.rows;
    pthread_mutex_unlock(&e->mu);
    if (rc) fprintf(stderr, "crec serve: --deltas: a row message could not be applied: %s\n", crec_strerror(rc));
    return 0;
}

typedef struct delta_walk { crec__events *e; int restart; } delta_walk;

static int on_delta(void *ctx, const char *id, const redisReply *f) {
    delta_walk *w = ctx;
    crec__events *e = w->e;
    const redisReply *rows = crec__redis_field(f, "rows");
    if (rows && apply_msg(e, rows->str, rows->len) == 1) {
        w->restart = 1;
        return 1;
    }
    snprintf(e->last_delta, sizeof e->last_delta, "%s", id);
    return 0;
}

static void *deltas_main(void *arg) {
    crec__events *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        int stop = e->stop;
        pthread_mutex_unlock(&e->mu);
        if (stop) break;
        if (!e->dc) {
            char err[300];
            if (!(e->dc = crec__redis_open(&e->du, 1, 5, err, sizeof err))) {
                say(e, &e->last_dlog, "--deltas", &e->du, err);
                sleep(1);
                continue;
            }
            if (e->last_dlog > 0) fprintf(stderr, "crec serve: --deltas: connected again\n");
            e->last_dlog = 0;
            pthread_mutex_lock(&e->mu);
            e->stats.deltas_connected = 1;
            pthread_mutex_unlock(&e->mu);
        }
        const char *argv[] = {"XREAD", "COUNT", "64", "BLOCK", "500", "STREAMS", e->du.stream, e->last_delta};
        redisReply *r = crec__redis_cmd(e->dc, 8, argv, NULL);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            say(e, &e->last_dlog, "--deltas", &e->du, r ? r->str : e->dc->errstr);
            freeReplyObject(r);
            redisFree(e->dc);
            e->dc = NULL;
            pthread_mutex_lock(&e->mu);
            e->stats.deltas_connected = 0;
            pthread_mutex_unlock(&e->mu);
            sleep(1);
            continue;
        }
        delta_walk w = {e, 0};
        crec__redis_entries(r, on_delta, &w);
        freeReplyObject(r);
    }
    return NULL;
}

/* ---- start, stop ---- */

int crec__events_start(crec_server *s, char *err, size_t errn) {
    const char *eu = s->opts.events_url, *du = s->opts.deltas_url;
    if (!eu && !du) return 0;
    crec__events *e = calloc(1, sizeof *e);
    if (!e) return CREC_ENOMEM;
    e->s = s;
    int rc = 0;
    if (eu && (rc = crec_redis_url_parse(eu, &e->eu, err, errn))) {
        char m[600];
        snprintf(m, sizeof m, "--events %s", err);
        crec__errf(err, errn, "%s", m);
    }
    if (!rc && du && (rc = crec_redis_url_parse(du, &e->du, err, errn))) {
        char m[600];
        snprintf(m, sizeof m, "--deltas %s", err);
        crec__errf(err, errn, "%s", m);
    }
    crec__bundle *b = s->bundle;
    if (!rc && du && (strcmp(b->model->type->name, "onlinemf") != 0 || !b->model->state)) {
        crec__errf(err, errn, "--deltas: the served model %s is a '%s' model; row messages update an onlinemf model "
                              "(serve the model the trainers started from: crec stream train --init)",
                   b->model_path, b->model->type->name);
        rc = CREC_EINVAL;
    }
    if (!rc && du && s->opts.online) {
        crec__errf(err, errn, "--deltas and --online both change the served model: use one (the trainers learn, "
                              "the server applies their rows)");
        rc = CREC_EINVAL;
    }
    if (!rc && du && crec_omf_get_opts(b->model->state)->hist) {
        crec__errf(err, errn, "--deltas: the model has the session tower (hist > 0), whose second table row messages "
                              "do not carry yet");
        rc = CREC_EUNSUPPORTED;
    }
    crec_store_opts so = {.sync_normal = s->opts.sync_normal, .no_create = 1};
    if (!rc && eu && (rc = crec_store_open(s->db_path, &so, &e->st, err, errn))) {
        char m[600];
        snprintf(m, sizeof m, "--events: opening the store: %s", err);
        crec__errf(err, errn, "%s", m);
    }
    int64_t top = 0; /* read before the server accepts a request, so no acknowledged event falls below it */
    if (!rc && eu && (rc = crec_store_events_max_id(e->st, &top)))
        crec__errf(err, errn, "--events: reading the store: %s", crec_strerror(rc));
    if (rc) {
        crec_store_close(e->st);
        free(e);
        return rc;
    }
    e->W0 = (uint64_t)top;
    e->dirty = 1; /* the first pass at once */
    e->pub = eu != NULL;
    e->sub = du != NULL;
    snprintf(e->last_delta, sizeof e->last_delta, "0");
    e->bundle_version = b->version;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    s->events = e;
    if (e->pub && pthread_create(&e->pub_thread, NULL, publisher_main, e) == 0) e->pub_running = 1;
    if (e->sub && pthread_create(&e->sub_thread, NULL, deltas_main, e) == 0) e->sub_running = 1;
    if ((e->pub && !e->pub_running) || (e->sub && !e->sub_running)) {
        crec__events_stop(s);
        crec__errf(err, errn, "cannot start the --events / --deltas threads");
        return CREC_ENOMEM;
    }
    return 0;
}

void crec__events_stop(crec_server *s) {
    crec__events *e = s->events;
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->stop = 1;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (e->pub_running) pthread_join(e->pub_thread, NULL);
    if (e->sub_running) pthread_join(e->sub_thread, NULL);
    crec__events_drop(s);
    s->events = NULL;
    clear_evs(e);
    free(e->evs);
    if (e->c) redisFree(e->c);
    if (e->dc) redisFree(e->dc);
    crec_store_close(e->st);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e);
}

int crec__events_get_stats(crec_server *s, crec__events_stats *out) {
    crec__events *e = s->events;
    if (!e) return -1;
    pthread_mutex_lock(&e->mu);
    *out = e->stats;
    pthread_mutex_unlock(&e->mu);
    return 0;
}
#endif
