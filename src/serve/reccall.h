/* reccall.h: one recommendation request in flight on the server's state, shared by the HTTP routes (recs.c)
 * and the MCP tools (mcp_tools.c): take the current model bundle, bring the thread's catalog view up to date,
 * describe the request in external ids (a user's events from the store, history items, exclusions,
 * attribute filters), run it through the library's service (crec/service.h) and describe the answer's items
 * from the catalog (id, title, attributes, score).
 *
 * The one idea: every front end of the server - REST or MCP, HTTP or stdio - asks the service in exactly
 * the same way, so the rules (seen items, exclusions, filters, hidden items, the popular fallback) and the
 * item descriptions cannot drift apart between them. */
#ifndef CREC_SERVE_RECCALL_H
#define CREC_SERVE_RECCALL_H

#include "serve/serve_internal.h"

/* One recommendation request in flight: the bundle it holds and the catalog it ranks. */
typedef struct crec__rec_call {
    crec_server *s;
    crec__tls *t;
    crec__bundle *b;
    crec_service_catalog cat;
    int hist_put;  /* 1: a history read from the store may be kept in the history cache (histcache.h): set by a
                      route whose user read is its first store read (its read transaction's snapshot is then
                      taken after the cache's ticket); 0 (crec__rec_begin's default): the cache is only read */
} crec__rec_call;

/* Take the current bundle (always, even on failure: call crec__rec_end), bring the thread's catalog view up
 * to date, start an empty request (now = the wall clock). 0 or CREC_ENOMEM / CREC_ERANGE. */
int crec__rec_begin(crec__rec_call *c, crec_server *s, crec__tls *t);
void crec__rec_end(crec__rec_call *c);
/* The fallback chain of --fallback ("model[,BACKUP.crecm...][,popular]"; NULL or "" = model,popular): loads
 * the backup models into s->backup (each must be trained on the served model's dataset: same users, items
 * and dataset label) and sets s->no_popular. Called after the bundle is loaded; an error names the part. */
int crec__fallback_open(crec_server *s, const char *spec, char *err, size_t errn);
void crec__fallback_close(crec_server *s);
/* The store row of an external item id within the view, or -1. */
int32_t crec__rec_row(const crec__rec_call *c, const char *id, size_t len);
/* Append the user's events (the history cache's copy, or the store's) to the request, oldest first, with times
 * and types, and set the
 * request's user to the model's id of the user (-1 when the model does not know them). *n_events (may be
 * NULL) gets the user's event count in the store (0 for a user the store does not hold: a cold user). */
int crec__rec_user(crec__rec_call *c, const char *user, int64_t *n_events);
/* Exclusions by external id (ids the catalog does not hold are ignored), and one must-have attribute
 * (category may be NULL). */
int crec__rec_rules(crec__rec_call *c, const crec__idlist *exclude, const char *category);
/* Run the request; on success a new answer {model, model_version, source, fallback_items, items} in *out.
 * Items are described from the catalog as it is now (one deleted or hidden since the view was built is left
 * out). */
int crec__rec_run(crec__rec_call *c, json_t **out);
/* A growing text buffer for answers written directly (the hot routes): put bytes, printf (one piece under
 * 256 bytes), the compact JSON of v (taken: decref'd). failed is set by the first allocation failure, after
 * which every put returns CREC_ENOMEM; s is NUL-terminated and owned by the caller (free). */
typedef struct crec__sbuf {
    char *s;
    size_t len, cap;
    int failed;
} crec__sbuf;
int crec__sb_put(crec__sbuf *b, const char *s, size_t n);
int crec__sb_printf(crec__sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int crec__sb_json(crec__sbuf *b, json_t *v);
/* crec__rec_run written as text: `{"model":..,"model_version":..,"source":..,"fallback_items":..,"items":[..]`
 * (the object left open for the route's own fields), the same bytes crec__rec_run's object serializes to,
 * the first `skip` listed items left out (offset paging). Each item is its catalog entry's prepared text
 * (crec__cat_entry.frag) and its score, instead of a JSON object built and serialized per item. */
int crec__rec_run_text(crec__rec_call *c, long skip, crec__sbuf *b);
/* {id, title, attributes, visible, score} of a catalog entry. */
json_t *crec__entry_json(const crec__cat_entry *e, double score);
#endif
