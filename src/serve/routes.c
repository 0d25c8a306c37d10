/* routes.c: the route table (request.h, CREC__ROUTES) as an array of handlers, and the dispatch around them.
 *
 * The one idea: what a route needs besides its handler is data in the table - the thread's store connection
 * and in which mode - so the dispatch is one lookup and one call: no route is special-cased here. A read sees
 * one consistent state of the store and takes its locks once. Writes queue on a mutex: SQLite lets one writer
 * in at a time and makes the others sleep and retry (1, 2, 5 ... 100 ms), which costs far more than waiting
 * in line here. */
#include "serve/online.h"
#include "serve/routes.h"

static crec__handler *const HANDLERS[CREC__R_COUNT] = {
#define CREC__ROUTE_HANDLER(name, method, pattern, label, auth, store, handler) [CREC__R_##name] = handler,
    CREC__ROUTES(CREC__ROUTE_HANDLER)
#undef CREC__ROUTE_HANDLER
};

void crec__route_run(crec_server *s, crec__req *q, crec__reply *r) {
    crec__route rt = q->m.route;
    crec__handler *h = rt > CREC__R_NONE && rt < CREC__R_COUNT ? HANDLERS[rt] : NULL;
    if (!h || q->m.status != 0) {
        crec__reply_err(r, 404, "not_found", "no such route");
        return;
    }
    if (!crec__route_uses_store(rt)) {
        h(s, NULL, q, r);
        return;
    }
    crec__tls *t = crec__tls_get(s);
    if (!t) {
        r->retry_after = 1;
        crec__reply_err(r, 503, "unavailable", "the store cannot be opened");
        return;
    }
    int write = crec__route_auth(rt) == CREC__WRITE;
    int read = !write && crec_store_read_begin(t->store) == 0;
    if (write) pthread_mutex_lock(&s->write_mu);
    h(s, t, q, r);
    if (read) crec_store_read_end(t->store);
    if (write) crec__hist_after_write(s, q, r); /* committed in the handler, not yet acknowledged */
    if (write) crec__online_commit(s); /* inline writes commit in their handler */
    if (write) pthread_mutex_unlock(&s->write_mu);
}

int crec__route_is_grouped(crec__route rt) {
    return rt > CREC__R_NONE && rt < CREC__R_COUNT && crec__route_auth(rt) == CREC__WRITE && crec__route_uses_store(rt);
}

void crec__route_run_write(crec_server *s, crec__tls *t, crec__req *q, crec__reply *r) {
    crec__route rt = q->m.route;
    crec__handler *h = crec__route_is_grouped(rt) ? HANDLERS[rt] : NULL;
    if (!h || q->m.status != 0) {
        crec__reply_err(r, 404, "not_found", "no such route");
        return;
    }
    h(s, t, q, r);
    if (!r->status) crec__reply_err(r, 500, "internal", "no answer");
}
