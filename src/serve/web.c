/* web.c: the dashboard and the OpenAPI description, served from memory (the files of web/ are compiled into
 * libcrec by web/embed.cmake), with caching headers left to the defaults: they are small.
 *
 * The one idea: the binary is the deployment; nothing is read from disk to serve the dashboard. */
#include <stdio.h>
#include <string.h>

#include "serve/routes.h"
#include "serve/web_assets.h"

static const crec__web_asset *find_asset(const char *path) {
    for (int i = 0; i < crec__web_n_assets; i++)
        if (strcmp(crec__web_assets[i].path, path) == 0) return &crec__web_assets[i];
    return NULL;
}

static void send_asset(const crec__web_asset *a, crec__reply *r) {
    r->status = 200;
    r->data = a->data;
    r->len = a->len;
    r->ctype = a->type;
}

void crec__h_web(crec_server *s, crec__tls *t, crec__req *q, crec__reply *r) {
    char path[80];
    snprintf(path, sizeof path, "/%s", q->m.id ? q->m.id : "index.html");
    const crec__web_asset *a = find_asset(path);
    if (!a || strcmp(path, "/openapi.json") == 0) {
        crec__reply_err(r, 404, "not_found", "no such route");
        return;
    }
    send_asset(a, r);
}

void crec__h_openapi(crec_server *s, crec__tls *t, crec__req *q, crec__reply *r) {
    const crec__web_asset *a = find_asset("/openapi.json");
    if (!a) {
        crec__reply_err(r, 404, "not_found", "this build has no openapi.json");
        return;
    }
    send_asset(a, r);
}
