/* recs.c: the recommendation routes - a user's recommendations, an anonymous session's, similar items,
 * popular items - as requests to the library's recommendation service (crec/service.h).
 *
 * The one idea: a route only translates. It reads the user's events from the store at request time (an
 * event counts the moment it was acknowledged) with their times and types, turns external ids into store row
 * ids, and hands the service the store's catalog as it sees it: row ids, which rows the model knows
 * (to_model / from_model, kept per thread), which rows may be shown (live and visible), the store's attribute
 * index for category=, and the in-memory event counts as the popular fallback. Every rule - seen items,
 * exclusions, categories, hidden items, when to fall back - is the service's, the same as the CLI's. The
 * request plumbing shared with the MCP tools is in reccall.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve/reccall.h"
#include "serve/routes.h"

static void rec_fail(crec__reply *r, int rc) {
    if (rc == CREC_ESTATE) crec__reply_store_err(r, rc, "store", NULL);
    else crec__reply_err(r, 500, "internal", "ranking failed: %s", crec_strerror(rc));
}

/* Query parameters of the GET routes: k, keep_seen, exclude, category. */
typedef struct rec_params {
    long k;
    int keep_seen;
    crec__idlist exclude;
    const char *category;
} rec_params;

static int rec_params_parse(crec__req *req, rec_params *p, crec__reply *r) {
    crec__reqerr e;
    memset(p, 0, sizeof *p);
    if (crec__parse_int("k", crec__query(req, "k"), 1, CREC__MAX_K, 10, &p->k, &e) ||
        crec__parse_bool("keep_seen", crec__query(req, "keep_seen"), 0, &p->keep_seen, &e) ||
        crec__parse_idlist("exclude", crec__query(req, "exclude"), &p->exclude, &e)) {
        crec__reply_reqerr(r, &e);
        return -1;
    }
    p->category = crec__query(req, "category");
    if (p->category && !crec__id_ok(p->category, strlen(p->category))) {
        crec__idlist_free(&p->exclude);
        crec__reply_err(r, 400, "bad_parameter", "category must be an attribute name (1..%d bytes)", CREC_STORE_MAX_ID);
        return -1;
    }
    return 0;
}

/* A 200 answer written as text (crec__rec_run_text): close the object, hand the buffer to the reply. */
static void reply_text(crec__reply *r, crec__sbuf *b) {
    crec__sb_put(b, "}", 1);
    if (b->failed) {
        free(b->s);
        crec__reply_err(r, 500, "internal", "out of memory");
        return;
    }
    json_decref(r->json);
    r->json = NULL;
    r->status = 200;
    r->owned = b->s;
    r->len = b->len;
    r->ctype = "application/json";
}

/* ---- the routes ---- */

void crec__h_user_recs(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    rec_params p;
    if (rec_params_parse(req, &p, r)) return;
    const char *user = req->m.id, *wb = crec__query(req, "write_back");
    long offset = 0;
    crec__reqerr e;
    if (crec__parse_int("offset", crec__query(req, "offset"), 0, CREC__MAX_K - p.k, 0, &offset, &e) ||
        (wb && strcmp(wb, "shown") != 0 && crec__reqerr_set(&e, 400, "bad_parameter", "write_back must be \"shown\""))) {
        crec__idlist_free(&p.exclude);
        crec__reply_reqerr(r, &e);
        return;
    }
    int ka = wb && s->n_keys > 0 ? crec__auth_check(s, req->conn) : 0; /* write_back writes: a key when keys are set */
    if (ka) {
        atomic_fetch_add(&s->metrics.auth_failures, 1);
        crec__idlist_free(&p.exclude);
        crec__reply_err(r, ka, ka == 401 ? "unauthorized" : "forbidden", "write_back needs a valid API key");
        return;
    }
    crec__rec_call c;
    int rc = crec__rec_begin(&c, s, t);
    c.hist_put = 1; /* the user's events are this route's first store read (histcache.h) */
    int64_t n_hist = 0;
    if (!rc) rc = crec__rec_user(&c, user, &n_hist);
    int32_t uid = crec__bundle_user(c.b, user, strlen(user));
    t->rq.k = (int)(p.k + offset);
    t->rq.keep_seen = p.keep_seen;
    json_t *o = NULL;
    if (!rc) rc = crec__rec_rules(&c, &p.exclude, p.category);
    if (!rc && !wb) { /* the common case, written directly (see crec__rec_run_text) */
        crec__sbuf b = {0};
        rc = crec__rec_run_text(&c, offset, &b);
        if (!rc) {
            crec__sb_printf(&b, ",\"user\":");
            crec__sb_json(&b, crec__jstr(user));
            crec__sb_printf(&b, ",\"known_user\":%s,\"history_length\":%lld,\"offset\":%ld",
                            uid >= 0 ? "true" : "false", (long long)n_hist, offset);
            reply_text(r, &b);
        } else {
            free(b.s);
            rec_fail(r, rc);
        }
        crec__rec_end(&c);
        crec__idlist_free(&p.exclude);
        return;
    }
    if (!rc) rc = crec__rec_run(&c, &o);
    if (rc) {
        rec_fail(r, rc);
    } else {
        json_object_set_new(o, "user", crec__jstr(user));
        json_object_set_new(o, "known_user", json_boolean(uid >= 0));
        json_object_set_new(o, "history_length", json_integer((json_int_t)n_hist));
        int frc = crec__recs_finish(s, t, req, user, offset, wb != NULL, o, r);
        if (wb) crec__hist_invalidate(s->hist, user, strlen(user)); /* write_back wrote the user's events */
        if (frc) json_decref(o);
        else crec__reply_json(r, 200, o);
    }
    crec__rec_end(&c);
    crec__idlist_free(&p.exclude);
}

void crec__h_session_recs(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    crec__reqerr e;
    json_t *body = crec__parse_json(req->body, req->body_len, &e);
    crec__session_req sr;
    if (!body || crec__parse_session(body, &sr, &e)) {
        json_decref(body);
        crec__reply_reqerr(r, &e);
        return;
    }
    crec__rec_call c;
    int rc = crec__rec_begin(&c, s, t);
    json_t *unknown = json_array(), *o = NULL;
    /* the session's items, oldest first (times = positions); those the model cannot use are listed */
    for (int k = 0; !rc && k < sr.history.n; k++) {
        int32_t row = crec__rec_row(&c, sr.history.s[k], sr.history.len[k]);
        if (row >= 0) rc = crec_service_request_add_event(&t->rq, row, k, 0);
        if (row < 0 || t->to_model[row] < 0)
            json_array_append_new(unknown, crec__jstrn(sr.history.s[k], sr.history.len[k]));
    }
    t->rq.k = (int)sr.k;
    if (!rc) rc = crec__rec_rules(&c, &sr.exclude, sr.category);
    if (!rc) rc = crec__rec_run(&c, &o);
    if (rc) {
        rec_fail(r, rc);
    } else {
        json_object_set_new(o, "history_length", json_integer(sr.history.n));
        json_object_set_new(o, "unknown_items", json_incref(unknown));
        crec__reply_json(r, 200, o);
    }
    json_decref(unknown);
    crec__rec_end(&c);
    crec__session_req_free(&sr);
    json_decref(body);
}

void crec__h_similar(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    rec_params p;
    if (rec_params_parse(req, &p, r)) return;
    const char *item = req->m.id;
    crec__rec_call c;
    int rc = crec__rec_begin(&c, s, t);
    int32_t row = crec__rec_row(&c, item, strlen(item));
    if (!rc && row < 0) {
        crec__reply_store_err(r, CREC_ENOTFOUND, "item", item);
        crec__rec_end(&c);
        crec__idlist_free(&p.exclude);
        return;
    }
    /* scored as a history of one; the item itself is never its own neighbour (keep_seen does not apply) */
    t->rq.k = (int)p.k;
    if (!rc) rc = crec_service_request_add_event(&t->rq, row, 0, 0);
    if (!rc) rc = crec__rec_rules(&c, &p.exclude, p.category);
    crec__sbuf b = {0};
    if (!rc) rc = crec__rec_run_text(&c, 0, &b);
    if (rc) {
        free(b.s);
        rec_fail(r, rc);
    } else {
        crec__sb_printf(&b, ",\"item\":");
        crec__sb_json(&b, crec__jstr(item));
        reply_text(r, &b);
    }
    crec__rec_end(&c);
    crec__idlist_free(&p.exclude);
}

void crec__h_popular(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    rec_params p;
    if (rec_params_parse(req, &p, r)) return;
    crec__rec_call c;
    int rc = crec__rec_begin(&c, s, t);
    t->rq.k = (int)p.k; /* no user, no history: the service answers with the fallback */
    crec__sbuf b = {0};
    if (!rc) rc = crec__rec_rules(&c, &p.exclude, p.category);
    if (!rc) rc = crec__rec_run_text(&c, 0, &b);
    if (rc) {
        free(b.s);
        rec_fail(r, rc);
    } else {
        reply_text(r, &b);
    }
    crec__rec_end(&c);
    crec__idlist_free(&p.exclude);
}
