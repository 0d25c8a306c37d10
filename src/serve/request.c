/* request.c: routes, query values, id lists and JSON bodies of the server, parsed and bounded.
 *
 * The one idea: nothing here trusts its input or touches the network, the store or the model, so it is
 * fuzzed on its own (tests/fuzz/fuzz_request.c). Every failure says what was wrong, with the HTTP status
 * and the error code the client gets. */
#include "serve/request.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int crec__reqerr_set(crec__reqerr *e, int status, const char *code, const char *fmt, ...) {
    e->status = status;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- routes ---- */

/* The table's data columns (the handlers are routes.c's business); row r describes route r + 1. */
typedef struct route_row {
    const char *method, *pattern, *label;
    crec__auth auth;
    int store;
} route_row;

static const route_row ROUTES[] = {
#define CREC__ROUTE_ROW(name, method, pattern, label, auth, store, handler) {method, pattern, label, auth, store},
    CREC__ROUTES(CREC__ROUTE_ROW)
#undef CREC__ROUTE_ROW
};
#define N_ROUTES (int)(sizeof ROUTES / sizeof ROUTES[0])
_Static_assert(N_ROUTES == CREC__R_COUNT - 1, "one row per route");

static const route_row *row_of(crec__route r) { return r > CREC__R_NONE && r < CREC__R_COUNT ? &ROUTES[r - 1] : NULL; }

const char *crec__route_label(crec__route r) {
    const route_row *w = row_of(r);
    return !w ? "unmatched" : w->label ? w->label : w->pattern;
}

crec__auth crec__route_auth(crec__route r) {
    const route_row *w = row_of(r);
    return w ? w->auth : CREC__OPEN;
}

int crec__route_uses_store(crec__route r) {
    const route_row *w = row_of(r);
    return w ? w->store : 0;
}

/* HEAD goes wherever GET does. */
static int method_is(const char *method, const char *want) {
    if (strcmp(method, "HEAD") == 0) method = "GET";
    return strcmp(method, want) == 0;
}

int crec__route_is_write(crec__route r, const char *method) {
    const route_row *w = row_of(r);
    return w && w->auth == CREC__WRITE && method && method_is(method, w->method);
}

/* Path segments: at most 8, each a slice. */
typedef struct segs { const char *p[8]; size_t n[8]; int count; } segs;

static int split_path(const char *path, segs *s) {
    s->count = 0;
    if (path[0] != '/') return -1;
    const char *p = path + 1;
    if (!*p) return 0; /* "/" */
    for (;;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || s->count == 8) return -1; /* "//", trailing "/", or too deep */
        s->p[s->count] = p;
        s->n[s->count++] = n;
        if (!e) return 0;
        p = e + 1;
    }
}

/* A dashboard file name: [a-z0-9_.-]+ ending in a known extension. */
static int asset_name_ok(const char *p, size_t n) {
    if (n == 0 || n > 64 || p[0] == '.') return 0;
    for (size_t k = 0; k < n; k++) {
        char c = p[k];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) return 0;
    }
    return 1;
}

/* Does path (its segments) fit pattern? *param gets the segment of "{id}" / "{file}" (-1: none), *param2 that
 * of a second "{id}". */
static int pattern_fits(const char *pattern, const segs *s, int *param, int *param2) {
    segs ps;
    *param = *param2 = -1;
    if (split_path(pattern, &ps) || ps.count != s->count) return 0;
    for (int i = 0; i < s->count; i++) {
        if (ps.n[i] == 4 && memcmp(ps.p[i], "{id}", 4) == 0) {
            /* any segment: a bad id is the caller's 400, not a 404 */
            if (*param < 0) *param = i;
            else *param2 = i;
        } else if (ps.n[i] == 6 && memcmp(ps.p[i], "{file}", 6) == 0) {
            if (!asset_name_ok(s->p[i], s->n[i])) return 0;
            *param = i;
        } else if (ps.n[i] != s->n[i] || memcmp(ps.p[i], s->p[i], s->n[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

static int match_path(const char *method, const char *path, crec__match *m);

int crec__route_match(const char *method, const char *path, crec__match *m) {
    int rc = match_path(method, path, m);
    if (rc && m->status == 404 && path) {
        /* a control character (a %00 among them, see crec__url_unescape) that no route owns: a bad path, 400 */
        for (const unsigned char *p = (const unsigned char *)path; *p; p++)
            if (*p < 0x20 || *p == 0x7f) {
                m->status = 400;
                break;
            }
    }
    return rc;
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

size_t crec__url_unescape(char *s) {
    char *w = s;
    for (const char *r = s; *r;) {
        int h1 = r[0] == '%' ? hexval(r[1]) : -1, h2 = h1 >= 0 ? hexval(r[2]) : -1;
        if (h2 < 0) {
            *w++ = *r++;
            continue;
        }
        unsigned c = (unsigned)(h1 << 4 | h2);
        *w++ = (char)(c ? c : CREC__NUL_MARK);
        r += 3;
    }
    *w = 0;
    return (size_t)(w - s);
}

static int match_path(const char *method, const char *path, crec__match *m) {
    m->route = CREC__R_NONE;
    m->status = 404;
    m->allow = NULL;
    m->id = NULL;
    m->id2 = NULL;
    m->id_buf[0] = 0;
    m->id2_buf[0] = 0;
    m->allow_buf[0] = 0;
    segs s;
    if (!method || !path || split_path(path, &s)) return -1;
    /* the first line that fits owns the path; the lines with its pattern are its methods */
    int owner = -1, hit = -1, param = -1, param2 = -1;
    /* a pattern of literal segments only wins over one with parameters ("/v1/items/latest", "/v1/items/{id}") */
    for (int r = 0; r < N_ROUTES && owner < 0; r++)
        if (!strchr(ROUTES[r].pattern, '{') && pattern_fits(ROUTES[r].pattern, &s, &param, &param2)) owner = r;
    for (int r = 0; r < N_ROUTES && owner < 0; r++)
        if (pattern_fits(ROUTES[r].pattern, &s, &param, &param2)) owner = r;
    if (owner < 0) return -1;
    size_t used = 0;
    for (int r = owner; r < N_ROUTES; r++) {
        if (strcmp(ROUTES[r].pattern, ROUTES[owner].pattern) != 0) continue;
        if (hit < 0 && method_is(method, ROUTES[r].method)) hit = r;
        int w = snprintf(m->allow_buf + used, sizeof m->allow_buf - used, "%s%s", used ? ", " : "", ROUTES[r].method);
        if (w > 0 && (size_t)w < sizeof m->allow_buf - used) used += (size_t)w;
    }
    m->allow = m->allow_buf;
    m->route = (crec__route)((hit >= 0 ? hit : owner) + 1);
    if (hit < 0) {
        m->status = 405;
        return -1;
    }
    if (param >= 0) {
        size_t n = s.n[param];
        if (n > CREC_STORE_MAX_ID || !crec__id_ok(s.p[param], n)) {
            m->status = 400;
            return -1;
        }
        memcpy(m->id_buf, s.p[param], n);
        m->id_buf[n] = 0;
        m->id = m->id_buf;
    }
    if (param2 >= 0) {
        size_t n = s.n[param2];
        if (n > CREC_STORE_MAX_ID || !crec__id_ok(s.p[param2], n)) {
            m->status = 400;
            return -1;
        }
        memcpy(m->id2_buf, s.p[param2], n);
        m->id2_buf[n] = 0;
        m->id2 = m->id2_buf;
    }
    m->status = 0;
    return 0;
}

/* ---- values ---- */

int crec__id_ok(const char *s, size_t n) {
    if (!s || n == 0 || n > CREC_STORE_MAX_ID) return 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t k = 0; k < n;) {
        unsigned c = p[k];
        if (c < 0x20 || c == 0x7f || c == '/') return 0;
        if (c < 0x80) {
            k++;
            continue;
        }
        size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || k + len > n || (len == 2 && c < 0xC2)) return 0;
        for (size_t j = 1; j < len; j++)
            if ((p[k + j] & 0xC0) != 0x80) return 0;
        k += len;
    }
    return 1;
}

int crec__parse_int(const char *name, const char *s, long lo, long hi, long def, long *out, crec__reqerr *e) {
    if (!s) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return crec__reqerr_set(e, 400, "bad_parameter", "%s must be an integer in [%ld, %ld]", name, lo, hi);
    *out = v;
    return 0;
}

int crec__parse_bool(const char *name, const char *s, int def, int *out, crec__reqerr *e) {
    if (!s) *out = def;
    else if (strcmp(s, "1") == 0 || strcmp(s, "true") == 0) *out = 1;
    else if (strcmp(s, "0") == 0 || strcmp(s, "false") == 0) *out = 0;
    else return crec__reqerr_set(e, 400, "bad_parameter", "%s must be true or false", name);
    return 0;
}

void crec__idlist_free(crec__idlist *l) {
    free(l->s);
    free(l->len);
    memset(l, 0, sizeof *l);
}

static int idlist_alloc(crec__idlist *l, size_t n) {
    l->n = 0;
    l->s = malloc((n + 1) * sizeof *l->s);
    l->len = malloc((n + 1) * sizeof *l->len);
    if (!l->s || !l->len) {
        crec__idlist_free(l);
        return -1;
    }
    return 0;
}

int crec__parse_idlist(const char *name, const char *s, crec__idlist *l, crec__reqerr *e) {
    memset(l, 0, sizeof *l);
    if (!s || !*s) return 0;
    size_t parts = 1;
    for (const char *p = s; *p; p++) parts += *p == ',';
    if (parts > CREC__MAX_LIST)
        return crec__reqerr_set(e, 400, "bad_parameter", "%s has more than %d ids", name, CREC__MAX_LIST);
    if (idlist_alloc(l, parts)) return crec__reqerr_set(e, 500, "internal", "out of memory");
    for (const char *p = s;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n) {
            if (!crec__id_ok(p, n)) {
                crec__idlist_free(l);
                return crec__reqerr_set(e, 400, "bad_parameter", "%s holds an invalid id", name);
            }
            l->s[l->n] = p;
            l->len[l->n++] = n;
        }
        if (!c) break;
        p = c + 1;
    }
    return 0;
}

int crec__json_idlist(const char *name, json_t *v, crec__idlist *l, crec__reqerr *e) {
    memset(l, 0, sizeof *l);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_array(v)) return crec__reqerr_set(e, 400, "bad_request", "\"%s\" must be an array of ids", name);
    size_t n = json_array_size(v);
    if (n > CREC__MAX_LIST)
        return crec__reqerr_set(e, 400, "bad_request", "\"%s\" has more than %d ids", name, CREC__MAX_LIST);
    if (idlist_alloc(l, n)) return crec__reqerr_set(e, 500, "internal", "out of memory");
    for (size_t k = 0; k < n; k++) {
        json_t *x = json_array_get(v, k);
        if (!json_is_string(x) || !crec__id_ok(json_string_value(x), json_string_length(x))) {
            crec__idlist_free(l);
            return crec__reqerr_set(e, 400, "bad_request", "\"%s\"[%zu] must be an id string (1..%d bytes)", name, k,
                                    CREC_STORE_MAX_ID);
        }
        l->s[l->n] = json_string_value(x);
        l->len[l->n++] = json_string_length(x);
    }
    return 0;
}

/* ---- JSON ---- */

int crec__json_depth(const char *s, size_t n) {
    int depth = 0, max = 0, in_str = 0;
    for (size_t k = 0; k < n; k++) {
        char c = s[k];
        if (in_str) {
            if (c == '\\') k++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max) max = depth;
        } else if (c == ']' || c == '}') {
            if (--depth < 0) return -1;
        }
    }
    return max;
}

json_t *crec__parse_json(const char *body, size_t n, crec__reqerr *e) {
    if (!body || n == 0) {
        crec__reqerr_set(e, 400, "bad_json", "a JSON body is required");
        return NULL;
    }
    int d = crec__json_depth(body, n);
    if (d > CREC__MAX_DEPTH) {
        crec__reqerr_set(e, 400, "too_deep", "JSON nested deeper than %d levels", CREC__MAX_DEPTH);
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb(body, n, JSON_REJECT_DUPLICATES, &je);
    if (!v) crec__reqerr_set(e, 400, "bad_json", "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
    return v;
}

/* A string member: absent/null -> NULL (ok unless required); wrong type or length -> error. */
static int get_str(json_t *obj, const char *key, size_t maxlen, int required, int id, const char **out, const char *ctx,
                   crec__reqerr *e) {
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required) return crec__reqerr_set(e, 400, "bad_request", "%s: \"%s\" is required", ctx, key);
        return 0;
    }
    if (!json_is_string(v)) return crec__reqerr_set(e, 400, "bad_request", "%s: \"%s\" must be a string", ctx, key);
    size_t n = json_string_length(v);
    if (id ? !crec__id_ok(json_string_value(v), n) : (n > maxlen || strlen(json_string_value(v)) != n))
        return crec__reqerr_set(e, 400, "bad_request", "%s: \"%s\" must be %s of at most %zu bytes", ctx, key,
                                id ? "an id (no control characters or '/')" : "a string", maxlen);
    *out = json_string_value(v);
    return 0;
}

int crec__parse_events(json_t *body, int64_t now, crec_store_event **ev, int64_t *n, crec__reqerr *e) {
    *ev = NULL;
    *n = 0;
    if (!json_is_array(body))
        return crec__reqerr_set(e, 400, "bad_request", "the body must be a JSON array of events");
    size_t cnt = json_array_size(body);
    if (cnt == 0) return crec__reqerr_set(e, 400, "bad_request", "the batch is empty");
    if (cnt > CREC__MAX_EVENTS)
        return crec__reqerr_set(e, 413, "batch_too_large", "at most %d events per batch", CREC__MAX_EVENTS);
    crec_store_event *out = calloc(cnt, sizeof *out);
    if (!out) return crec__reqerr_set(e, 500, "internal", "out of memory");
    for (size_t k = 0; k < cnt; k++) {
        json_t *o = json_array_get(body, k);
        char ctx[32];
        snprintf(ctx, sizeof ctx, "event %zu", k);
        if (!json_is_object(o)) {
            free(out);
            return crec__reqerr_set(e, 400, "bad_request", "%s: must be an object", ctx);
        }
        if (get_str(o, "user", CREC_STORE_MAX_ID, 1, 1, &out[k].user, ctx, e) ||
            get_str(o, "item", CREC_STORE_MAX_ID, 1, 1, &out[k].item, ctx, e) ||
            get_str(o, "type", CREC__MAX_TYPE, 0, 1, &out[k].type, ctx, e)) {
            free(out);
            return -1;
        }
        json_t *v = json_object_get(o, "value");
        out[k].value = 1.0f;
        if (v && !json_is_null(v)) {
            double d = json_number_value(v);
            if (!json_is_number(v) || !isfinite(d) || fabs(d) > 1e30) {
                free(out);
                return crec__reqerr_set(e, 400, "bad_request", "%s: \"value\" must be a finite number", ctx);
            }
            out[k].value = (float)d;
        }
        v = json_object_get(o, "ts");
        out[k].ts = now;
        if (v && !json_is_null(v)) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > ((json_int_t)1 << 53)) {
                free(out);
                return crec__reqerr_set(e, 400, "bad_request", "%s: \"ts\" must be a non-negative integer (seconds)",
                                        ctx);
            }
            out[k].ts = (int64_t)json_integer_value(v);
        }
    }
    *ev = out;
    *n = (int64_t)cnt;
    return 0;
}

int crec__parse_item(json_t *body, const char *path_id, crec_store_item *it, crec__reqerr *e) {
    memset(it, 0, sizeof *it);
    if (!json_is_object(body)) return crec__reqerr_set(e, 400, "bad_request", "the body must be a JSON object");
    const char *id = NULL, *title = NULL, *text = NULL;
    if (get_str(body, "id", CREC_STORE_MAX_ID, path_id == NULL, 1, &id, "item", e) ||
        get_str(body, "title", CREC__MAX_TEXT, 0, 0, &title, "item", e) ||
        get_str(body, "text", CREC__MAX_TEXT, 0, 0, &text, "item", e))
        return -1;
    if (path_id && id && strcmp(id, path_id) != 0)
        return crec__reqerr_set(e, 400, "bad_request", "item: \"id\" differs from the id in the path");
    json_t *vis = json_object_get(body, "visible");
    if (vis && !json_is_null(vis) && !json_is_boolean(vis))
        return crec__reqerr_set(e, 400, "bad_request", "item: \"visible\" must be true or false");
    json_t *attrs = json_object_get(body, "attributes");
    if (attrs && !json_is_null(attrs) && !json_is_array(attrs))
        return crec__reqerr_set(e, 400, "bad_request", "item: \"attributes\" must be an array of strings");
    size_t na = attrs ? json_array_size(attrs) : 0;
    if (na > CREC__MAX_LIST)
        return crec__reqerr_set(e, 400, "bad_request", "item: more than %d attributes", CREC__MAX_LIST);
    char **av = calloc(na + 1, sizeof *av);
    if (!av) return crec__reqerr_set(e, 500, "internal", "out of memory");
    for (size_t k = 0; k < na; k++) {
        json_t *a = json_array_get(attrs, k);
        if (!json_is_string(a) || !crec__id_ok(json_string_value(a), json_string_length(a))) {
            free(av);
            return crec__reqerr_set(e, 400, "bad_request", "item: \"attributes\"[%zu] must be a string of 1..%d bytes",
                                    k, CREC_STORE_MAX_ID);
        }
        av[k] = (char *)json_string_value(a);
    }
    it->id = (char *)(path_id ? path_id : id);
    it->title = (char *)title;
    it->text = (char *)text;
    it->attrs = av;
    it->n_attrs = (int)na;
    it->visible = vis && json_is_boolean(vis) ? json_is_true(vis) : 1;
    return 0;
}

void crec__session_req_free(crec__session_req *r) {
    crec__idlist_free(&r->history);
    crec__idlist_free(&r->exclude);
}

int crec__parse_session(json_t *body, crec__session_req *r, crec__reqerr *e) {
    memset(r, 0, sizeof *r);
    r->k = 10;
    if (!json_is_object(body)) return crec__reqerr_set(e, 400, "bad_request", "the body must be a JSON object");
    json_t *h = json_object_get(body, "history");
    if (!h) return crec__reqerr_set(e, 400, "bad_request", "\"history\" is required (an array of item ids)");
    if (crec__json_idlist("history", h, &r->history, e)) return -1;
    if (crec__json_idlist("exclude", json_object_get(body, "exclude"), &r->exclude, e)) {
        crec__session_req_free(r);
        return -1;
    }
    json_t *k = json_object_get(body, "k");
    if (k && !json_is_null(k)) {
        if (!json_is_integer(k) || json_integer_value(k) < 1 || json_integer_value(k) > CREC__MAX_K) {
            crec__session_req_free(r);
            return crec__reqerr_set(e, 400, "bad_parameter", "k must be an integer in [1, %d]", CREC__MAX_K);
        }
        r->k = (long)json_integer_value(k);
    }
    if (get_str(body, "category", CREC_STORE_MAX_ID, 0, 1, &r->category, "session", e)) {
        crec__session_req_free(r);
        return -1;
    }
    return 0;
}

int crec__parse_reload(json_t *body, const char **model, const char **data, crec__reqerr *e) {
    *model = *data = NULL;
    if (!body) return 0;
    if (!json_is_object(body)) return crec__reqerr_set(e, 400, "bad_request", "the body must be a JSON object");
    if (get_str(body, "model", 4096, 0, 0, model, "reload", e) || get_str(body, "data", 4096, 0, 0, data, "reload", e))
        return -1;
    if ((*model && !**model) || (*data && !**data))
        return crec__reqerr_set(e, 400, "bad_request", "reload: empty path");
    return 0;
}
