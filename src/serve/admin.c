/* admin.c: the routes about the server itself - model reload, stats, health, Prometheus metrics.
 *
 * The one idea: none of them holds anything across a reload: each takes a reference to the current bundle
 * for as long as it reads it, so a reload (this route's or SIGHUP's) never pulls a model from under one. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "serve/online.h"
#include "serve/routes.h"

void crec__h_reload(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__reqerr e;
    json_t *body = NULL;
    const char *model = NULL, *data = NULL;
    if (req->body_len > 0 && !(body = crec__parse_json(req->body, req->body_len, &e))) {
        crec__reply_reqerr(r, &e);
        return;
    }
    if (crec__parse_reload(body, &model, &data, &e)) {
        json_decref(body);
        crec__reply_reqerr(r, &e);
        return;
    }
    char err[1024];
    int rc = crec_server_reload(s, model, data, err, sizeof err);
    json_decref(body);
    if (rc == CREC_ESTATE) {
        crec__reply_err(r, 409, "model_mismatch", "%s", err);
    } else if (rc == CREC_ENOTFOUND) {
        crec__reply_err(r, 404, "file_not_found", "%s", err);
    } else if (rc) {
        crec__reply_err(r, 400, "bad_model", "%s (the old model is still served)", err);
    } else {
        crec__bundle *b = crec__bundle_acquire(s);
        crec__reply_json(r, 200, json_pack("{s:o,s:I,s:o,s:o,s:i,s:i}", "model", crec__jstr(b->model->type->name),
                                           "model_version", (json_int_t)b->version, "path", crec__jstr(b->model_path),
                                           "data", crec__jstr(b->data_desc), "n_items", b->model->n_items, "n_users",
                                           b->model->n_users));
        crec__bundle_release(b);
    }
}

static json_t *model_json(const crec__bundle *b) {
    json_t *cfg = json_object();
    for (int k = 0; k < b->model->cfg.n; k++)
        json_object_set_new(cfg, b->model->cfg.key[k], crec__jstr(b->model->cfg.val[k]));
    return json_pack("{s:o,s:I,s:o,s:o,s:o,s:o,s:i,s:i,s:o}", "name", crec__jstr(b->model->type->name), "version",
                     (json_int_t)b->version, "path", crec__jstr(b->model_path), "data", crec__jstr(b->data_desc),
                     "trained_on", crec__jstr(b->model->data_name), "split", crec__jstr(b->model->split), "n_items",
                     b->model->n_items, "n_users", b->model->n_users, "params", cfg);
}

void crec__h_stats(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec_store_stats st;
    int rc = crec_store_stats_get(t->store, &st);
    if (rc) {
        crec__reply_store_err(r, rc, "stats", NULL);
        return;
    }
    crec__bundle *b = crec__bundle_acquire(s);
    crec__online_stats os;
    json_t *online = json_null();
    if (crec__online_get_stats(s, &os) == 0) /* --online */
        online = json_pack("{s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f}", "updates_applied",
                           (json_int_t)os.applied, "update_failures", (json_int_t)os.failed, "batches",
                           (json_int_t)os.batches, "queued", (json_int_t)os.queued, "lag_last_s", os.lag_last,
                           "lag_max_s", os.lag_max, "lock_hold_max_s", os.batch_max_s, "users", (json_int_t)os.users,
                           "items", (json_int_t)os.items, "table_rows", (json_int_t)os.rows, "table_bytes",
                           (json_int_t)os.table_bytes, "evictions", (json_int_t)os.evictions, "syncs",
                           (json_int_t)os.syncs, "sync_failures", (json_int_t)os.sync_failures, "last_sync_unix",
                           os.last_sync_unix, "sync_interval_s", os.sync_interval);
    pthread_rwlock_rdlock(&b->mu);
    json_t *mj = model_json(b);
    pthread_rwlock_unlock(&b->mu);
    crec__reply_json(r, 200, json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I,s:f,s:o}", "users", (json_int_t)st.n_users,
                                       "items", (json_int_t)st.n_items, "hidden_items", (json_int_t)st.n_hidden_items,
                                       "events", (json_int_t)st.n_events, "event_types", (json_int_t)st.n_event_types,
                                       "attributes", (json_int_t)st.n_attrs, "first_ts", (json_int_t)st.min_ts,
                                       "last_ts", (json_int_t)st.max_ts, "model", mj, "events_ingested",
                                       (json_int_t)atomic_load(&s->metrics.events_ingested), "uptime_s",
                                       crec__now() - s->started, "online", online));
    crec__bundle_release(b);
}

void crec__h_health(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__bundle *b = crec__bundle_acquire(s);
    crec__reply_json(r, 200, json_pack("{s:s,s:o,s:I,s:f}", "status", "ok", "model", crec__jstr(b->model->type->name),
                                       "model_version", (json_int_t)b->version, "uptime_s", crec__now() - s->started));
    crec__bundle_release(b);
}

void crec__h_metrics(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    char *text = crec__metrics_render(s);
    if (!text) {
        crec__reply_err(r, 500, "internal", "out of memory");
        return;
    }
    r->status = 200;
    r->owned = text;
    r->len = strlen(text);
    r->ctype = "text/plain; version=0.0.4; charset=utf-8";
}
