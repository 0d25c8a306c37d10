/* train.c: the online trainer of crec stream train (crec/events.h): events from a Redis stream through a consumer
 * group into an onlinemf model, its touched rows out as row messages.
 *
 * The one idea: the trainer's durable state and Redis's acknowledgements advance in one order - apply, publish
 * the rows, save the state (with the ids of the events applied since the last XACK), XACK. A crash before the save
 * loses the interval from the state and Redis redelivers its entries (still pending): they are applied again to
 * the state that never saw them. A crash after the save and before the XACK redelivers entries the state already
 * holds: their ids are in the saved set, so they are skipped. Either way every event counts once in the state.
 * Rows go out as absolute values under external ids, so a row message seen twice changes nothing.
 *
 * Two trainers in one group each learn on the half of the events Redis hands them, with their own copy of every
 * row; a server applies both trainers' messages in arrival order, so a row both touched is the one written last
 * (last-writer-wins per row, not an average). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/binio.h"
#include "core/util.h"
#include "crec/dataset.h"
#include "crec/events.h"
#include "crec/model.h"
#include "events/redis.h"

void crec_events_train_opts_default(crec_events_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->every = 1000;
    o->every_s = 1;
    o->batch = 64;
    o->read_count = 512;
}

#ifndef CREC_HAVE_HIREDIS
int crec_events_train(const crec_events_train_opts *o, crec_events_train_result *res, char *err, size_t errn) {
    (void)o;
    if (res) memset(res, 0, sizeof *res);
    crec__errf(err, errn, "built without Redis support (install libhiredis-dev and rebuild)");
    return CREC_EUNSUPPORTED;
}
#else

static const char STATE_MAGIC[8] = {'C', 'R', 'E', 'C', 'T', 'R', 'S', 1};

/* a set of u64 event ids (open addressing, 0 is never an event id: store row ids start at 1) */
typedef struct idset {
    uint64_t *k;
    size_t cap, n;
} idset;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    return x;
}

static int idset_add(idset *s, uint64_t id) { /* 1 added, 0 present, <0 error */
    if ((s->n + 1) * 2 > s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 1024;
        uint64_t *nk = calloc(nc, sizeof *nk);
        if (!nk) return CREC_ENOMEM;
        for (size_t j = 0; j < s->cap; j++)
            if (s->k[j]) {
                size_t h = mix64(s->k[j]) & (nc - 1);
                while (nk[h]) h = (h + 1) & (nc - 1);
                nk[h] = s->k[j];
            }
        free(s->k);
        s->k = nk;
        s->cap = nc;
    }
    size_t h = mix64(id) & (s->cap - 1);
    while (s->k[h]) {
        if (s->k[h] == id) return 0;
        h = (h + 1) & (s->cap - 1);
    }
    s->k[h] = id;
    s->n++;
    return 1;
}

static int idset_has(const idset *s, uint64_t id) {
    if (!s->cap) return 0;
    size_t h = mix64(id) & (s->cap - 1);
    while (s->k[h]) {
        if (s->k[h] == id) return 1;
        h = (h + 1) & (s->cap - 1);
    }
    return 0;
}

static void idset_clear(idset *s) {
    if (s->cap) memset(s->k, 0, s->cap * sizeof *s->k);
    s->n = 0;
}

typedef struct trainer {
    const crec_events_train_opts *o;
    crec_events_train_result *res;
    crec_omf *om;
    crec_idmap users, items;
    idset applied;           /* event ids applied since the last confirmed XACK (saved with the state) */
    char **acks;             /* entry ids to XACK after the next save */
    size_t n_acks, cap_acks;
    crec_event *batch;
    int n_batch;
    uint64_t unpublished;    /* events applied since the last publication */
    uint64_t pub_seq;
    double oldest_read;      /* when the oldest unacknowledged entry was read (-1: none) */
    redisContext *ev, *dl;
    crec_redis_url eu, du;
    char state_path[1200], deltas_dir[1100];
    char *err;
    size_t errn;
} trainer;

static const char *name_of(void *ctx, int kind, int32_t dense) {
    trainer *t = ctx;
    const crec_idmap *m = kind == 1 ? &t->users : &t->items;
    return dense >= 0 && dense < m->n ? m->names[dense] : NULL;
}

static int fsync_file(const char *path, int dir) {
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) return CREC_EIO;
    int rc = fsync(fd) == 0 ? 0 : CREC_EIO;
    close(fd);
    return rc;
}

static int save_state(trainer *t) {
    crec_buf b = {0};
    crec_events_train_result *r = t->res;
    uint64_t head[7] = {r->applied_total, r->id_sum, r->publications, r->rows_published, r->bytes_published,
                        t->pub_seq, (uint64_t)t->applied.n};
    int rc = 0;
    for (int k = 0; k < 7 && !rc; k++) rc = crec__put_u64(&b, head[k]);
    for (size_t j = 0; j < t->applied.cap && !rc; j++)
        if (t->applied.k[j]) rc = crec__put_u64(&b, t->applied.k[j]);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)t->users.n);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)t->items.n);
    for (int32_t u = 0; u < t->users.n && !rc; u++) rc = crec__put_str(&b, t->users.names[u]);
    for (int32_t i = 0; i < t->items.n && !rc; i++) rc = crec__put_str(&b, t->items.names[i]);
    crec_buf m = {0};
    if (!rc) rc = crec_omf_save(t->om, &m);
    if (!rc) rc = crec__put_u64(&b, m.len);
    if (!rc) rc = crec_buf_write(&b, m.data, m.len);
    crec_buf_free(&m);
    char w[1300];
    snprintf(w, sizeof w, "%s.w", t->state_path);
    if (!rc) rc = crec__binfile_write(w, STATE_MAGIC, 1, &b);
    if (!rc && (fsync_file(w, 0) || rename(w, t->state_path) != 0 || fsync_file(t->o->out_dir, 1))) rc = CREC_EIO;
    crec_buf_free(&b);
    if (rc) crec__errf(t->err, t->errn, "%s: cannot write the trainer's state: %s", t->state_path, crec_strerror(rc));
    return rc;
}

/* 0 and the state loaded; CREC_ENOTFOUND when there is none */
static int load_state(trainer *t) {
    crec_buf in;
    uint32_t ver;
    int rc = crec__binfile_read(t->state_path, STATE_MAGIC, 1, &ver, &in);
    if (rc) return rc;
    uint64_t head[7];
    for (int k = 0; k < 7 && !rc; k++) rc = crec__get_u64(&in, &head[k]);
    crec_events_train_result *r = t->res;
    if (!rc) {
        r->applied_total = head[0], r->id_sum = head[1], r->publications = head[2], r->rows_published = head[3];
        r->bytes_published = head[4], t->pub_seq = head[5];
        if (crec_buf_need(&in, head[6], 8)) rc = CREC_EFORMAT;
    }
    for (uint64_t k = 0; k < head[6] && !rc; k++) {
        uint64_t id;
        rc = crec__get_u64(&in, &id);
        if (!rc && idset_add(&t->applied, id) < 0) rc = CREC_ENOMEM;
    }
    uint32_t nu = 0, ni = 0;
    if (!rc) rc = crec__get_u32(&in, &nu);
    if (!rc) rc = crec__get_u32(&in, &ni);
    for (uint64_t k = 0; k < (uint64_t)nu + ni && !rc; k++) {
        char *s = NULL;
        rc = crec__get_str(&in, &s);
        if (!rc && !s) rc = CREC_EFORMAT;
        if (!rc && crec_idmap_intern(k < nu ? &t->users : &t->items, s, strlen(s)) != (int32_t)(k < nu ? k : k - nu))
            rc = CREC_EFORMAT;
        free(s);
    }
    uint64_t ml = 0;
    if (!rc) rc = crec__get_u64(&in, &ml);
    if (!rc && crec_buf_need(&in, ml, 1)) rc = CREC_EFORMAT;
    if (!rc) {
        crec_buf m = {.data = in.data + in.pos, .len = ml};
        crec_omf_free(t->om);
        t->om = NULL;
        rc = crec_omf_load(&m, &t->om);
    }
    crec__binfile_release(&in);
    return rc ? (rc == CREC_ENOTFOUND ? CREC_EFORMAT : rc) : 0;
}

static int init_model(trainer *t) {
    const crec_events_train_opts *o = t->o;
    crec_omf_opts oo;
    crec_omf_opts_default(&oo);
    if (o->init_model) {
        crec_model *m = NULL;
        int rc = crec_model_load(o->init_model, &m);
        if (rc) {
            crec__errf(t->err, t->errn, "--init %s: %s", o->init_model, rc == CREC_ENOTFOUND ? "no such file"
                                                                                             : crec_strerror(rc));
            return rc;
        }
        if (strcmp(m->type->name, "onlinemf") != 0 || !m->state) {
            crec__errf(t->err, t->errn, "--init %s: a '%s' model; the trainer learns an onlinemf model", o->init_model,
                       m->type->name);
            crec_model_free(m);
            return CREC_EINVAL;
        }
        crec_dataset *ds = NULL;
        rc = o->init_data ? crec_dataset_load(o->init_data, &ds) : CREC_EINVAL;
        if (rc || ds->users.n != m->n_users || ds->items.n != m->n_items) {
            if (!rc)
                crec__errf(t->err, t->errn, "--data %s (%d users x %d items) is not the dataset %s was trained on "
                                            "(%d x %d)", o->init_data, ds->users.n, ds->items.n, o->init_model,
                           m->n_users, m->n_items);
            else if (!o->init_data) crec__errf(t->err, t->errn, "--init needs --data (the dataset it was trained on)");
            else crec__errf(t->err, t->errn, "--data %s: %s", o->init_data, crec_strerror(rc));
            crec_dataset_free(ds);
            crec_model_free(m);
            return rc ? rc : CREC_ESTATE;
        }
        crec_buf b = {0};
        rc = crec_omf_save(m->state, &b);
        if (!rc) rc = crec_omf_load(&b, &t->om);
        crec_buf_free(&b);
        for (int32_t u = 0; u < ds->users.n && !rc; u++)
            if (crec_idmap_intern(&t->users, ds->users.names[u], strlen(ds->users.names[u])) != u) rc = CREC_ENOMEM;
        for (int32_t i = 0; i < ds->items.n && !rc; i++)
            if (crec_idmap_intern(&t->items, ds->items.names[i], strlen(ds->items.names[i])) != i) rc = CREC_ENOMEM;
        crec_dataset_free(ds);
        crec_model_free(m);
        if (rc) crec__errf(t->err, t->errn, "--init %s: %s", o->init_model, crec_strerror(rc));
    } else {
        crec_model *m = NULL;
        int rc = crec_model_new("onlinemf", o->cfg, &m, t->err, t->errn);
        if (rc) return rc;
        oo.dim = (int)crec_model_param_int(m, "factors");
        oo.loss = strcmp(crec_model_param_str(m, "loss"), "softmax") ? CREC_OMF_BPR : CREC_OMF_SOFTMAX;
        oo.neg = (int)crec_model_param_int(m, "neg");
        oo.lr = (float)crec_model_param_double(m, "lr");
        oo.reg = (float)crec_model_param_double(m, "reg");
        oo.init_scale = (float)crec_model_param_double(m, "init_scale");
        oo.min_count = (uint32_t)crec_model_param_int(m, "min_count");
        oo.ttl = crec_model_param_int(m, "ttl");
        oo.hist = (int)crec_model_param_int(m, "hist");
        crec_model_free(m);
        if (!(t->om = crec_omf_new(&oo))) return CREC_ENOMEM;
    }
    if (t->om && crec_omf_get_opts(t->om)->hist) {
        crec__errf(t->err, t->errn, "onlinemf with the session tower (hist > 0) keeps a second table that row messages "
                                    "do not carry yet: use hist=0 for crec stream train");
        return CREC_EUNSUPPORTED;
    }
    return t->om ? 0 : CREC_ENOMEM;
}

static int learn_batch(trainer *t) {
    if (!t->n_batch) return 0;
    int rc = crec_omf_learn(t->om, t->batch, t->n_batch, NULL);
    t->n_batch = 0;
    if (rc) crec__errf(t->err, t->errn, "learning: %s", crec_strerror(rc));
    return rc;
}

static int xack_all(trainer *t) {
    for (size_t k0 = 0; k0 < t->n_acks; k0 += 500) {
        size_t n = t->n_acks - k0 < 500 ? t->n_acks - k0 : 500;
        const char *argv[503];
        argv[0] = "XACK", argv[1] = t->eu.stream, argv[2] = t->o->group;
        for (size_t j = 0; j < n; j++) argv[3 + j] = t->acks[k0 + j];
        redisReply *r = crec__redis_cmd(t->ev, (int)(3 + n), argv, NULL);
        int ok = r && r->type == REDIS_REPLY_INTEGER;
        if (!r) crec__errf(t->err, t->errn, "XACK: %s", t->ev->errstr);
        else if (!ok) crec__errf(t->err, t->errn, "XACK: %s", r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        freeReplyObject(r);
        if (!ok) return CREC_ENET;
        t->res->acked_run += n;
    }
    for (size_t k = 0; k < t->n_acks; k++) free(t->acks[k]);
    t->n_acks = 0;
    return 0;
}

/* apply what is batched, publish the touched rows, save, XACK */
static int publish(trainer *t) {
    int rc = learn_batch(t);
    if (rc) return rc;
    crec_events_train_result *r = t->res;
    if (t->unpublished) {
        crec_buf ex = {0}, msg = {0};
        uint64_t nrows = 0;
        rc = crec_online_table_export(crec_omf_table(t->om), CREC_ONLINE_DELTA, &ex);
        if (!rc) rc = crec_rowmsg_from_export(&ex, name_of, t, &msg, &nrows);
        crec_buf_free(&ex);
        if (rc) crec__errf(t->err, t->errn, "exporting rows: %s", crec_strerror(rc));
        t->pub_seq++;
        char seq[32];
        snprintf(seq, sizeof seq, "%llu", (unsigned long long)t->pub_seq);
        if (!rc && t->dl) {
            const char *argv[] = {"XADD", t->du.stream, "*", "producer", t->o->consumer, "seq", seq, "rows",
                                  (const char *)msg.data};
            size_t lens[] = {4, strlen(t->du.stream), 1, 8, strlen(t->o->consumer), 3, strlen(seq), 4, msg.len};
            redisReply *x = crec__redis_cmd(t->dl, 9, argv, lens);
            if (!x || x->type == REDIS_REPLY_ERROR) {
                crec__errf(t->err, t->errn, "XADD to %s: %s", t->du.stream, x ? x->str : t->dl->errstr);
                rc = CREC_ENET;
            }
            freeReplyObject(x);
        }
        if (!rc && t->o->write_files) {
            char path[1300];
            snprintf(path, sizeof path, "%s/%s-%010llu.rows", t->deltas_dir, t->o->consumer,
                     (unsigned long long)t->pub_seq);
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(msg.data, 1, msg.len, f) != msg.len || fflush(f) || fsync(fileno(f))) {
                crec__errf(t->err, t->errn, "%s: cannot write", path);
                rc = CREC_EIO;
            }
            if (f) fclose(f);
        }
        if (!rc) {
            r->publications++;
            r->published_run++;
            r->rows_published += nrows;
            r->bytes_published += msg.len;
            t->unpublished = 0;
        }
        crec_buf_free(&msg);
        if (rc) return rc;
    }
    if ((rc = save_state(t))) return rc;
    const char *crash = getenv("CREC_STREAM_TEST_EXIT_BEFORE_ACK"); /* tests: die between the save and the XACK */
    if (crash && r->published_run >= (uint64_t)atoll(crash)) _exit(3);
    if ((rc = xack_all(t))) return rc;
    idset_clear(&t->applied);
    if (t->oldest_read >= 0) {
        double lag = crec__now() - t->oldest_read;
        if (lag > r->max_lag_s) r->max_lag_s = lag;
        t->oldest_read = -1;
    }
    if (t->o->progress)
        fprintf(stderr, "crec stream train: %s: publication %llu: %llu rows; %llu applied in this run, %llu total\n",
                t->o->consumer, (unsigned long long)r->publications, (unsigned long long)r->rows_published,
                (unsigned long long)r->applied_run, (unsigned long long)r->applied_total);
    return 0;
}

static int field_str(const redisReply *f, const char *name, char *dst, size_t n) {
    const redisReply *v = crec__redis_field(f, name);
    if (!v || v->len == 0 || v->len >= n) return -1;
    memcpy(dst, v->str, v->len);
    dst[v->len] = 0;
    return 0;
}

typedef struct entry_ctx {
    trainer *t;
    size_t n;
    char last[64];
    int rc;
} entry_ctx;

static int on_entry(void *ctx, const char *id, const redisReply *f) {
    entry_ctx *e = ctx;
    trainer *t = e->t;
    e->n++;
    snprintf(e->last, sizeof e->last, "%s", id);
    if (t->n_acks == t->cap_acks) {
        size_t nc = t->cap_acks ? t->cap_acks * 2 : 1024;
        char **na = realloc(t->acks, nc * sizeof *na);
        if (!na) return e->rc = CREC_ENOMEM;
        t->acks = na;
        t->cap_acks = nc;
    }
    if (!(t->acks[t->n_acks] = strdup(id))) return e->rc = CREC_ENOMEM;
    t->n_acks++;
    if (t->oldest_read < 0) t->oldest_read = crec__now();
    if (!f) return 0; /* deleted from the stream while pending: nothing to learn, acknowledged */
    char ev[32], user[1024], item[1024], val[64], ts[32];
    uint64_t eid = 0;
    if (field_str(f, "event", ev, sizeof ev) || field_str(f, "user", user, sizeof user) ||
        field_str(f, "item", item, sizeof item) || !(eid = strtoull(ev, NULL, 10))) {
        fprintf(stderr, "crec stream train: entry %s: no event/user/item field: skipped\n", id);
        t->res->skipped_run++;
        return 0;
    }
    if (idset_has(&t->applied, eid)) {
        t->res->skipped_run++;
        return 0;
    }
    if (idset_add(&t->applied, eid) < 0) return e->rc = CREC_ENOMEM;
    int32_t u = crec_idmap_intern(&t->users, user, strlen(user));
    int32_t i = crec_idmap_intern(&t->items, item, strlen(item));
    if (u < 0 || i < 0) return e->rc = CREC_ENOMEM;
    float value = field_str(f, "value", val, sizeof val) ? 1.0f : strtof(val, NULL);
    int64_t when = field_str(f, "ts", ts, sizeof ts) ? 0 : strtoll(ts, NULL, 10);
    t->batch[t->n_batch++] = (crec_event){.user = u, .item = i, .ts = when, .value = value};
    t->res->applied_run++;
    t->res->applied_total++;
    t->res->id_sum += eid;
    t->unpublished++;
    if (t->n_batch == t->o->batch && (e->rc = learn_batch(t))) return e->rc;
    return 0;
}

int crec_events_train(const crec_events_train_opts *o, crec_events_train_result *res, char *err, size_t errn) {
    crec_events_train_result dummy;
    if (!res) res = &dummy;
    memset(res, 0, sizeof *res);
    if (!o || !o->events_url || !o->group || !o->consumer || !o->out_dir) {
        crec__errf(err, errn, "--events, --group, --consumer and --out are required");
        return CREC_EINVAL;
    }
    if (!*o->consumer || strchr(o->consumer, '/') || strlen(o->consumer) > 100) {
        crec__errf(err, errn, "--consumer '%s': 1..100 bytes, no '/'", o->consumer);
        return CREC_EINVAL;
    }
    trainer T = {.o = o, .res = res, .err = err, .errn = errn, .oldest_read = -1};
    trainer *t = &T;
    crec_idmap_init(&t->users);
    crec_idmap_init(&t->items);
    int rc = crec_redis_url_parse(o->events_url, &t->eu, err, errn);
    if (!rc && o->deltas_url) rc = crec_redis_url_parse(o->deltas_url, &t->du, err, errn);
    int batch = o->batch > 0 ? o->batch : 64, count = o->read_count > 0 ? o->read_count : 512;
    if (!rc && !(t->batch = malloc((size_t)batch * sizeof *t->batch))) rc = CREC_ENOMEM;
    if (!rc && mkdir(o->out_dir, 0777) != 0 && errno != EEXIST) {
        crec__errf(err, errn, "--out %s: cannot create: %s", o->out_dir, strerror(errno));
        rc = CREC_EIO;
    }
    snprintf(t->state_path, sizeof t->state_path, "%s/%s.state", o->out_dir, o->consumer);
    snprintf(t->deltas_dir, sizeof t->deltas_dir, "%s/deltas", o->out_dir);
    if (!rc && o->write_files && mkdir(t->deltas_dir, 0777) != 0 && errno != EEXIST) {
        crec__errf(err, errn, "%s: cannot create: %s", t->deltas_dir, strerror(errno));
        rc = CREC_EIO;
    }
    int resumed = 0;
    if (!rc) {
        rc = load_state(t);
        if (rc == 0) resumed = 1;
        else if (rc == CREC_ENOTFOUND) rc = init_model(t);
        else crec__errf(err, errn, "%s: cannot read the trainer's state: %s (move it away to start again)",
                        t->state_path, crec_strerror(rc));
    }
    if (!rc && !(t->ev = crec__redis_open(&t->eu, 2, 10, err, errn))) rc = CREC_ENET;
    if (!rc && o->deltas_url && !(t->dl = crec__redis_open(&t->du, 2, 10, err, errn))) rc = CREC_ENET;
    if (!rc) { /* the group, from the start of the stream; BUSYGROUP: it exists */
        const char *argv[] = {"XGROUP", "CREATE", t->eu.stream, o->group, "0", "MKSTREAM"};
        redisReply *r = crec__redis_cmd(t->ev, 6, argv, NULL);
        if (!r || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0)) {
            crec__errf(err, errn, "XGROUP CREATE %s %s: %s", t->eu.stream, o->group, r ? r->str : t->ev->errstr);
            rc = CREC_ENET;
        }
        freeReplyObject(r);
    }
    if (!rc && o->progress)
        fprintf(stderr, "crec stream train: %s in group %s on %s: %s (%llu events applied so far)\n", o->consumer,
                o->group, o->events_url, resumed ? "resumed from its state" : "new state",
                (unsigned long long)res->applied_total);
    double t0 = crec__now(), last_pub = t0, last_new = t0;
    char cursor[64] = "0"; /* own pending entries first (history from id 0), then ">" */
    int pending = 1;
    char cnt[16];
    snprintf(cnt, sizeof cnt, "%d", count);
    const char *slow = getenv("CREC_STREAM_TEST_SLOW_MS"); /* tests: a slow trainer, to be killed mid-way */
    int slow_ms = slow ? atoi(slow) : 0;
    while (!rc) {
        int stopping = (o->stop && *o->stop) || (o->max_events && res->applied_run >= (uint64_t)o->max_events);
        if (stopping) break;
        const char *argv[12];
        int argc = 0;
        argv[argc++] = "XREADGROUP", argv[argc++] = "GROUP", argv[argc++] = o->group, argv[argc++] = o->consumer;
        argv[argc++] = "COUNT", argv[argc++] = cnt;
        if (!pending) argv[argc++] = "BLOCK", argv[argc++] = "200";
        argv[argc++] = "STREAMS", argv[argc++] = t->eu.stream, argv[argc++] = pending ? cursor : ">";
        redisReply *r = crec__redis_cmd(t->ev, argc, argv, NULL);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            crec__errf(err, errn, "XREADGROUP on %s: %s", t->eu.stream, r ? r->str : t->ev->errstr);
            freeReplyObject(r);
            rc = CREC_ENET;
            break;
        }
        entry_ctx e = {.t = t};
        crec__redis_entries(r, on_entry, &e);
        freeReplyObject(r);
        if ((rc = e.rc)) break;
        if (slow_ms > 0 && e.n) usleep((useconds_t)slow_ms * 1000);
        if (pending) {
            if (e.n == 0) pending = 0;
            else snprintf(cursor, sizeof cursor, "%s", e.last);
        }
        double now = crec__now();
        if (e.n) last_new = now;
        if (t->unpublished >= (uint64_t)(o->every > 0 ? o->every : 1000) ||
            ((t->unpublished || t->n_acks) && now - last_pub >= (o->every_s > 0 ? o->every_s : 1))) {
            if ((rc = publish(t))) break;
            last_pub = now;
        }
        if (!pending && o->idle_exit_s > 0 && now - last_new >= o->idle_exit_s) break;
    }
    if (!rc && (t->unpublished || t->n_acks || t->n_batch)) rc = publish(t);
    res->seconds = crec__now() - t0;
    if (t->ev) redisFree(t->ev);
    if (t->dl) redisFree(t->dl);
    crec_omf_free(t->om);
    crec_idmap_free(&t->users);
    crec_idmap_free(&t->items);
    free(t->applied.k);
    for (size_t k = 0; k < t->n_acks; k++) free(t->acks[k]);
    free(t->acks);
    free(t->batch);
    return rc;
}
#endif
