/* routes.h: the handlers of the route table (request.h, CREC__ROUTES) and the one function that runs them.
 *
 * The one idea: a route is one line of the table, and its handler is a plain function of (server, thread
 * state, request, reply). routes.c turns the table into an array of handlers and wraps each call in what the
 * table's columns ask for (the thread's store connection, a read transaction, the write lock); the handlers
 * live in files by what they serve: recs.c (recommendations, through crec/service.h), resources.c (events,
 * items, users), admin.c (reload, stats, health, metrics), web.c (dashboard, OpenAPI), mcp_http.c (MCP at
 * POST /mcp: it takes its own store connection, since one call may read or write). */
#ifndef CREC_SERVE_ROUTES_H
#define CREC_SERVE_ROUTES_H

#include "serve/serve_internal.h"

/* A handler fills r (status 0 = "no answer", made a 500 by the server). t is the thread's state, NULL for
 * the routes whose STORE column is 0. */
typedef void crec__handler(crec_server *s, crec__tls *t, crec__req *q, crec__reply *r);

#define CREC__ROUTE_DECL(name, method, pattern, label, auth, store, handler) crec__handler handler;
CREC__ROUTES(CREC__ROUTE_DECL)
#undef CREC__ROUTE_DECL

/* Answer q (matched: q->m.status == 0) with its route's handler. */
void crec__route_run(crec_server *s, crec__req *q, crec__reply *r);
/* Run the handler of a write route (AUTH CREC__WRITE, STORE 1) on store connection t, the caller holding the
 * write lock and, for a group commit, the group transaction (writer.c). */
void crec__route_run_write(crec_server *s, crec__tls *t, crec__req *q, crec__reply *r);
/* api2.c, for recs.c and resources.c: drop the first `offset` items of a recommendation answer o and, with
 * write_back, record a "shown" event of user for each item left (0, or a store error already put in r); the
 * labels of a user as a JSON array (empty when the store does not hold them). */
int crec__recs_finish(crec_server *s, crec__tls *t, crec__req *req, const char *user, long offset, int write_back,
                      json_t *o, crec__reply *r);
json_t *crec__user_labels_json(crec_store *st, const char *user);
/* 1 when q's route goes through the writer thread (its AUTH is CREC__WRITE and it uses the store). */
int crec__route_is_grouped(crec__route rt);
#endif
