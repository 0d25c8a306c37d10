/* online.c: `crec serve --online` - acknowledged events teach the served model (see online.h).
 *
 * The one idea: learning never sits on a request's path. The writer thread stages a batch's events inside the
 * group (write_mu held) and, once COMMIT returned, moves them to this thread's queue (one mutex, one signal);
 * a failed commit drops them. The learner takes everything queued, and per mini-batch of at most MB events takes
 * the bundle's rwlock for writing, interns new user / item ids into the bundle's id maps (dense ids after the
 * last), calls crec_model_update (which grows the model's id space), and bumps the catalog generation when the
 * model's item space grew so every pool thread rebuilds its view (to_model / from_model) at its next request.
 * Readers hold the read lock from crec__rec_begin to crec__rec_end, so they see a model and id maps from
 * between two mini-batches, never inside one (the lock prefers writers: the learner waits at most for the
 * requests already running).
 *
 * Durability: events are durable in the store when acknowledged (as without --online); the learned state is
 * checkpointed every online_sync seconds by an atomic rewrite (not snapshot + deltas): MODEL.online.ids (the
 * model's user and item ids in dense order) then MODEL.online (the model, crec_model_save), each written to a
 * temporary, fsync'd, renamed over the old one, then the directory fsync'd. Ids only ever grow, so an ids file
 * newer than the model (a crash between the two renames) still covers it. A restart loads both: at most the last
 * interval of learning is lost (its events are still in the store; they are not replayed). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/binio.h"
#include "core/util.h"
#include "crec/online.h"
#include "serve/online.h"

#define MB 1024 /* events per mini-batch: bounds how long readers wait for one */
static const char IDS_MAGIC[8] = {'C', 'R', 'E', 'C', 'O', 'I', 'D', 1};

typedef struct oev {
    const char *user, *item, *type;
    float value;
    int64_t ts;
} oev;

/* A batch of events as the store accepted them: events and their strings in one allocation. */
typedef struct chunk {
    struct chunk *next;
    double ack;  /* crec__now() at commit */
    int64_t n;
    oev ev[];
} chunk;

struct crec__online {
    crec_server *s;
    chunk *staged, *staged_tail;   /* write_mu */
    pthread_mutex_t mu;            /* guards the queue and stop */
    pthread_cond_t cv;
    chunk *head, *tail;
    int stop;
    unsigned long long queued;     /* events in the queue */
    pthread_mutex_t apply_mu;      /* held while applying or checkpointing (and by a reload's hold) */
    pthread_t thread;
    int running, dirty;
    char path[1100], ids_path[1110];
    double next_sync;
    crec_event *buf;
    pthread_mutex_t st_mu;         /* guards st */
    crec__online_stats st;
};

static double now_unix(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec * 1e-6;
}

/* ---- the write path ---- */

void crec__online_stage(crec_server *s, const crec_store_event *ev, int64_t n) {
    crec__online *o = s->online;
    if (!o || n <= 0) return;
    size_t bytes = sizeof(chunk) + (size_t)n * sizeof(oev);
    for (int64_t k = 0; k < n; k++)
        bytes += strlen(ev[k].user) + strlen(ev[k].item) + strlen(ev[k].type ? ev[k].type : "interaction") + 3;
    chunk *c = malloc(bytes);
    if (!c) {
        pthread_mutex_lock(&o->st_mu);
        o->st.staged_dropped += (unsigned long long)n; /* learning is advisory: the events are in the store */
        pthread_mutex_unlock(&o->st_mu);
        return;
    }
    char *p = (char *)(c->ev + n);
    c->next = NULL;
    c->n = n;
    for (int64_t k = 0; k < n; k++) {
        const char *src[3] = {ev[k].user, ev[k].item, ev[k].type ? ev[k].type : "interaction"};
        const char *dst[3];
        for (int j = 0; j < 3; j++) {
            size_t l = strlen(src[j]) + 1;
            memcpy(p, src[j], l);
            dst[j] = p;
            p += l;
        }
        c->ev[k] = (oev){dst[0], dst[1], dst[2], ev[k].value, ev[k].ts};
    }
    if (o->staged_tail) o->staged_tail->next = c;
    else o->staged = c;
    o->staged_tail = c;
}

void crec__online_drop(crec_server *s) {
    crec__online *o = s->online;
    if (!o) return;
    for (chunk *c = o->staged, *nx; c; c = nx) {
        nx = c->next;
        free(c);
    }
    o->staged = o->staged_tail = NULL;
}

void crec__online_commit(crec_server *s) {
    crec__online *o = s->online;
    if (!o || !o->staged) return;
    double t = crec__now();
    unsigned long long n = 0;
    for (chunk *c = o->staged; c; c = c->next) c->ack = t, n += (unsigned long long)c->n;
    pthread_mutex_lock(&o->mu);
    if (o->tail) o->tail->next = o->staged;
    else o->head = o->staged;
    o->tail = o->staged_tail;
    o->queued += n;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
    o->staged = o->staged_tail = NULL;
}

/* ---- learning ---- */

static void table_stats(crec__bundle *b, crec__online_stats *st) {
    st->users = b->model->n_users;
    st->items = b->model->n_items;
    st->rows = st->table_bytes = -1;
    if (strcmp(b->model->type->name, "onlinemf") == 0 && b->model->state) {
        crec_online_stats ts;
        crec_online_table_stats(crec_omf_table(b->model->state), &ts);
        st->rows = (int64_t)ts.rows;
        st->table_bytes = (int64_t)ts.bytes;
        st->evictions = ts.expired;
    }
}

/* One mini-batch of ev[0..n) (n <= MB) into the current bundle. Write lock held only here. */
static void apply_batch(crec__online *o, const oev *ev, int64_t n) {
    crec_server *s = o->s;
    crec__bundle *b = crec__bundle_acquire(s);
    double t0 = crec__now();
    pthread_rwlock_wrlock(&b->mu);
    int32_t ni = b->model->n_items;
    int64_t m = 0;
    int rc = 0;
    for (int64_t k = 0; k < n; k++) {
        int32_t u = crec_idmap_intern(&b->ds->users, ev[k].user, strlen(ev[k].user));
        int32_t i = crec_idmap_intern(&b->ds->items, ev[k].item, strlen(ev[k].item));
        if (u < 0 || i < 0) {
            rc = CREC_ENOMEM;
            continue;
        }
        int32_t ty = crec_idmap_get(&b->ds->event_types, ev[k].type, strlen(ev[k].type));
        o->buf[m++] = (crec_event){.user = u, .item = i, .ts = ev[k].ts, .value = ev[k].value,
                                   .type = ty > 0 && ty < 256 ? (uint8_t)ty : 0};
    }
    if (m) {
        int urc = crec_model_update(b->model, o->buf, m);
        if (!rc) rc = urc;
    }
    /* the id space covers every interned id even when the model admitted none of them yet (a filter) */
    if (b->model->n_users < b->ds->users.n && m) {
        int32_t mu = -1;
        for (int64_t k = 0; k < m; k++) mu = o->buf[k].user > mu ? o->buf[k].user : mu;
        if (mu >= b->model->n_users) b->model->n_users = mu + 1;
    }
    if (b->model->n_items != ni) atomic_fetch_add(&s->cat.gen, 1); /* views rebuild: the item space grew */
    crec__online_stats ts = {0};
    table_stats(b, &ts);
    pthread_rwlock_unlock(&b->mu);
    double held = crec__now() - t0;
    crec__bundle_release(b);
    pthread_mutex_lock(&o->st_mu);
    o->st.batches++;
    if (rc) o->st.failed += (unsigned long long)n;
    else o->st.applied += (unsigned long long)n;
    o->st.batch_last_s = held;
    if (held > o->st.batch_max_s) o->st.batch_max_s = held;
    o->st.users = ts.users;
    o->st.items = ts.items;
    o->st.rows = ts.rows;
    o->st.table_bytes = ts.table_bytes;
    o->st.evictions = ts.evictions;
    pthread_mutex_unlock(&o->st_mu);
    o->dirty = 1;
}

static void apply_chunks(crec__online *o, chunk *c) {
    while (c) {
        for (int64_t k0 = 0; k0 < c->n; k0 += MB) apply_batch(o, c->ev + k0, c->n - k0 < MB ? c->n - k0 : MB);
        double lag = crec__now() - c->ack;
        pthread_mutex_lock(&o->st_mu);
        o->st.lag_last = lag;
        if (lag > o->st.lag_max) o->st.lag_max = lag;
        pthread_mutex_unlock(&o->st_mu);
        chunk *nx = c->next;
        free(c);
        c = nx;
    }
}

/* ---- checkpoints ---- */

static int fsync_path(const char *path, int dir) {
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) return CREC_EIO;
    int rc = fsync(fd) == 0 ? 0 : CREC_EIO;
    close(fd);
    return rc;
}

/* path.w is written by writer (atomically itself, without fsync), fsync'd, renamed to path. */
static int durable_rename(const char *w, const char *path) {
    if (fsync_path(w, 0) || rename(w, path) != 0) return CREC_EIO;
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", path);
    char *sl = strrchr(dir, '/');
    if (sl) *(sl == dir ? sl + 1 : sl) = 0;
    else snprintf(dir, sizeof dir, ".");
    return fsync_path(dir, 1);
}

/* Bundle read-locked by the caller (the learner is the only writer and holds apply_mu). */
static int save_locked(crec__online *o, crec__bundle *b) {
    crec_model *m = b->model;
    crec_buf buf = {0};
    int rc = crec__put_u32(&buf, (uint32_t)m->n_users);
    if (!rc) rc = crec__put_u32(&buf, (uint32_t)m->n_items);
    for (int32_t u = 0; !rc && u < m->n_users; u++) rc = crec__put_str(&buf, b->ds->users.names[u]);
    for (int32_t i = 0; !rc && i < m->n_items; i++) rc = crec__put_str(&buf, b->ds->items.names[i]);
    char w[1200];
    snprintf(w, sizeof w, "%s.w", o->ids_path);
    if (!rc) rc = crec__binfile_write(w, IDS_MAGIC, 1, &buf);
    if (!rc) rc = durable_rename(w, o->ids_path);
    crec_buf_free(&buf);
    snprintf(w, sizeof w, "%s.w", o->path);
    if (!rc) rc = crec_model_save(m, w);
    if (!rc) rc = durable_rename(w, o->path);
    return rc;
}

static void sync_now(crec__online *o) {
    crec__bundle *b = crec__bundle_acquire(o->s);
    double t0 = crec__now();
    /* the table's export bookkeeping changes on save: exclusive, like a mini-batch */
    pthread_rwlock_wrlock(&b->mu);
    int rc = save_locked(o, b);
    pthread_rwlock_unlock(&b->mu);
    crec__bundle_release(b);
    double dt = crec__now() - t0;
    pthread_mutex_lock(&o->st_mu);
    if (rc) {
        o->st.sync_failures++;
    } else {
        o->st.syncs++;
        o->st.last_sync_unix = now_unix();
    }
    o->st.sync_last_s = dt;
    pthread_mutex_unlock(&o->st_mu);
    if (rc) fprintf(stderr, "crec serve: --online: cannot write the checkpoint %s: %s (will retry)\n", o->path,
                    crec_strerror(rc));
    else o->dirty = 0;
}

/* Load path + ids into b (not yet served, no lock needed). 0 when there is no checkpoint. */
static int load_into(crec__online *o, crec__bundle *b, char *err, size_t errn) {
    if (access(o->path, F_OK) != 0) return 0;
    crec_model *m = NULL;
    int rc = crec_model_load(o->path, &m);
    if (rc) {
        crec__errf(err, errn, "--online: cannot read the learned state %s: %s (move it away to start again from "
                              "the model)", o->path, crec_strerror(rc));
        return rc;
    }
    crec_buf in;
    uint32_t ver, nu = 0, ni = 0;
    rc = crec__binfile_read(o->ids_path, IDS_MAGIC, 1, &ver, &in);
    if (rc) {
        crec_model_free(m);
        crec__errf(err, errn, "--online: cannot read %s: %s (it goes with %s; move both away to start again)",
                   o->ids_path, crec_strerror(rc), o->path);
        return rc;
    }
    crec_idmap users, items;
    crec_idmap_init(&users);
    crec_idmap_init(&items);
    rc = crec__get_u32(&in, &nu);
    if (!rc) rc = crec__get_u32(&in, &ni);
    for (uint32_t k = 0; !rc && k < nu + ni; k++) {
        char *name = NULL;
        rc = crec__get_str(&in, &name);
        if (!rc && !name) rc = CREC_EFORMAT;
        if (!rc && crec_idmap_intern(k < nu ? &users : &items, name, strlen(name)) != (int32_t)(k < nu ? k : k - nu))
            rc = CREC_EFORMAT; /* a repeated id */
        free(name);
    }
    crec__binfile_release(&in);
    const char *why = NULL;
    if (rc) why = "corrupt id list";
    else if (strcmp(m->type->name, b->model->type->name) != 0) why = "another model type";
    else if ((int64_t)nu < m->n_users || (int64_t)ni < m->n_items) why = "the id list is shorter than the model";
    else if (m->n_users < b->model->n_users || m->n_items < b->model->n_items) why = "fewer ids than the model";
    /* learned on top of this model: its ids are a prefix of the checkpoint's */
    for (int32_t u = 0; !why && u < b->model->n_users; u++)
        if (strcmp(users.names[u], b->ds->users.names[u]) != 0) why = "learned on top of another model (user ids differ)";
    for (int32_t i = 0; !why && i < b->model->n_items; i++)
        if (strcmp(items.names[i], b->ds->items.names[i]) != 0) why = "learned on top of another model (item ids differ)";
    if (why) {
        crec__errf(err, errn, "--online: the learned state %s does not fit the model %s: %s (move %s and %s away to "
                              "start again from the model)", o->path, b->model_path, why, o->path, o->ids_path);
        crec_idmap_free(&users);
        crec_idmap_free(&items);
        crec_model_free(m);
        return CREC_ESTATE;
    }
    /* ids the checkpoint's model does not cover are dropped, then the bundle's other ids (a snapshot's rows the
     * model never saw) follow after */
    crec_idmap nu_map, ni_map;
    crec_idmap_init(&nu_map);
    crec_idmap_init(&ni_map);
    for (int32_t u = 0; !rc && u < m->n_users; u++) rc = crec_idmap_intern(&nu_map, users.names[u], strlen(users.names[u])) < 0;
    for (int32_t i = 0; !rc && i < m->n_items; i++) rc = crec_idmap_intern(&ni_map, items.names[i], strlen(items.names[i])) < 0;
    for (int32_t u = 0; !rc && u < b->ds->users.n; u++)
        rc = crec_idmap_intern(&nu_map, b->ds->users.names[u], strlen(b->ds->users.names[u])) < 0;
    for (int32_t i = 0; !rc && i < b->ds->items.n; i++)
        rc = crec_idmap_intern(&ni_map, b->ds->items.names[i], strlen(b->ds->items.names[i])) < 0;
    crec_idmap_free(&users);
    crec_idmap_free(&items);
    if (rc) {
        crec_idmap_free(&nu_map);
        crec_idmap_free(&ni_map);
        crec_model_free(m);
        crec__errf(err, errn, "--online: out of memory loading %s", o->path);
        return CREC_ENOMEM;
    }
    crec_idmap_free(&b->ds->users);
    crec_idmap_free(&b->ds->items);
    b->ds->users = nu_map;
    b->ds->items = ni_map;
    crec_model_free(b->model);
    b->model = m;
    return 0;
}

int crec__online_attach(crec_server *s, crec__bundle *b, char *err, size_t errn) {
    return s->online ? load_into(s->online, b, err, errn) : 0;
}

void crec__online_hold(crec_server *s, int on) {
    crec__online *o = s->online;
    if (!o) return;
    if (!on) {
        pthread_mutex_unlock(&o->apply_mu);
        return;
    }
    pthread_mutex_lock(&o->apply_mu);
    pthread_mutex_lock(&o->mu);
    chunk *c = o->head;
    o->head = o->tail = NULL;
    o->queued = 0;
    pthread_mutex_unlock(&o->mu);
    apply_chunks(o, c);
    if (o->dirty) sync_now(o);
}

static void *learner_main(void *arg) {
    crec__online *o = arg;
    for (;;) {
        pthread_mutex_lock(&o->mu);
        while (!o->head && !o->stop) {
            double left = o->next_sync - crec__now();
            if (left <= 0) break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            double until = (double)ts.tv_sec + ts.tv_nsec * 1e-9 + left;
            ts.tv_sec = (time_t)until;
            ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
            if (pthread_cond_timedwait(&o->cv, &o->mu, &ts) == ETIMEDOUT) break;
        }
        chunk *c = o->head;
        o->head = o->tail = NULL;
        o->queued = 0;
        int stop = o->stop;
        pthread_mutex_unlock(&o->mu);
        pthread_mutex_lock(&o->apply_mu);
        apply_chunks(o, c);
        if (crec__now() >= o->next_sync || stop) {
            if (o->dirty) sync_now(o);
            o->next_sync = crec__now() + o->st.sync_interval;
        }
        pthread_mutex_unlock(&o->apply_mu);
        if (stop) {
            pthread_mutex_lock(&o->mu);
            int more = o->head != NULL;
            pthread_mutex_unlock(&o->mu);
            if (!more) break;
        }
    }
    return NULL;
}

int crec__online_start(crec_server *s, char *err, size_t errn) {
    if (!s->opts.online) return 0;
    crec__bundle *b = s->bundle;
    if (!crec_model_has(b->model->type, CREC_CAP_ONLINE)) {
        char can[512] = "";
        size_t len = 0;
        for (int i = 0; i < crec_model_type_count(); i++) {
            const crec_model_type *t = crec_model_type_at(i);
            if (t && crec_model_has(t, CREC_CAP_ONLINE) && len + strlen(t->name) + 3 < sizeof can)
                len += (size_t)snprintf(can + len, sizeof can - len, "%s%s", len ? ", " : "", t->name);
        }
        crec__errf(err, errn, "--online: model '%s' (%s) cannot learn while serving: it has no update hook; models "
                              "that can: %s (`crec models --json` lists each model's caps: \"online\")",
                   b->model->type->name, b->model_path, len ? can : "none");
        return CREC_EINVAL;
    }
    if (!(s->opts.online_sync > 0)) s->opts.online_sync = 10;
    crec__online *o = calloc(1, sizeof *o);
    if (!o || !(o->buf = malloc(MB * sizeof *o->buf))) {
        if (o) free(o);
        return CREC_ENOMEM;
    }
    o->s = s;
    snprintf(o->path, sizeof o->path, "%s.online", b->model_path);
    snprintf(o->ids_path, sizeof o->ids_path, "%s.ids", o->path);
    o->st.sync_interval = s->opts.online_sync;
    s->online = o;
    int rc = load_into(o, b, err, errn);
    if (!rc && access(o->path, F_OK) == 0)
        fprintf(stderr, "crec serve: --online: learned state loaded from %s (%d users, %d items)\n", o->path,
                b->model->n_users, b->model->n_items);
    table_stats(b, &o->st);
    pthread_mutex_init(&o->mu, NULL);
    pthread_mutex_init(&o->apply_mu, NULL);
    pthread_mutex_init(&o->st_mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    o->next_sync = crec__now() + o->st.sync_interval;
    if (!rc && pthread_create(&o->thread, NULL, learner_main, o) != 0) rc = CREC_ENOMEM;
    if (rc) {
        s->online = NULL;
        pthread_mutex_destroy(&o->mu);
        pthread_mutex_destroy(&o->apply_mu);
        pthread_mutex_destroy(&o->st_mu);
        pthread_cond_destroy(&o->cv);
        free(o->buf);
        free(o);
        return rc;
    }
    o->running = 1;
    return 0;
}

void crec__online_stop(crec_server *s) {
    crec__online *o = s->online;
    if (!o) return;
    pthread_mutex_lock(&o->mu);
    o->stop = 1;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
    if (o->running) pthread_join(o->thread, NULL);
    crec__online_drop(s);
    for (chunk *c = o->head, *nx; c; c = nx) {
        nx = c->next;
        free(c);
    }
    s->online = NULL;
    pthread_mutex_destroy(&o->mu);
    pthread_mutex_destroy(&o->apply_mu);
    pthread_mutex_destroy(&o->st_mu);
    pthread_cond_destroy(&o->cv);
    free(o->buf);
    free(o);
}

int crec__online_get_stats(crec_server *s, crec__online_stats *out) {
    crec__online *o = s->online;
    if (!o) return -1;
    pthread_mutex_lock(&o->st_mu);
    *out = o->st;
    pthread_mutex_unlock(&o->st_mu);
    pthread_mutex_lock(&o->mu);
    out->queued = o->queued;
    pthread_mutex_unlock(&o->mu);
    return 0;
}
