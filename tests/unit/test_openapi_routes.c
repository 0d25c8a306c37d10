/* test_openapi_routes.c: the OpenAPI description served at /openapi.json (web/openapi.json, compiled into the
 * binary) covers the route table exactly: every method and path of CREC__ROUTES (src/serve/request.h) is an
 * operation there, and every operation there is a route (no stale entries). Path parameters compare by position
 * ("/v1/feedback/{id}/{id}" is "/v1/feedback/{user}/{item}"). Each operation has a summary and responses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "serve/request.h"
#include "serve/web_assets.h"

/* "/a/{x}/b" -> "/a/{}/b" */
static void norm(const char *p, char *out, size_t n) {
    size_t k = 0;
    for (; *p && k + 3 < n; p++) {
        out[k++] = *p;
        if (*p == '{') {
            while (*p && *p != '}') p++;
            out[k++] = '}';
            if (!*p) break;
        }
    }
    out[k] = 0;
}

static json_t *load_openapi(void) {
    for (int i = 0; i < crec__web_n_assets; i++)
        if (strcmp(crec__web_assets[i].path, "/openapi.json") == 0) {
            json_error_t err;
            json_t *d = json_loadb((const char *)crec__web_assets[i].data, crec__web_assets[i].len, 0, &err);
            if (!d) fail_msg("openapi.json:%d: %s", err.line, err.text);
            return d;
        }
    fail_msg("no /openapi.json among the embedded web assets");
    return NULL;
}

typedef struct route { const char *method, *pattern; } route;
static const route ROUTES[] = {
#define R(name, method, pattern, label, auth, store, handler) {method, pattern},
    CREC__ROUTES(R)
#undef R
};
#define N_ROUTES (sizeof ROUTES / sizeof ROUTES[0])

static void lower(const char *s, char *out, size_t n) {
    size_t k = 0;
    for (; s[k] && k + 1 < n; k++) out[k] = (char)tolower((unsigned char)s[k]);
    out[k] = 0;
}

/* the operation of openapi path p (normalised) and method m (lower case), or NULL */
static json_t *find_op(json_t *paths, const char *p, const char *m) {
    const char *key;
    json_t *v;
    char nk[256];
    json_object_foreach(paths, key, v) {
        norm(key, nk, sizeof nk);
        if (strcmp(nk, p) == 0 && json_object_get(v, m)) return json_object_get(v, m);
    }
    return NULL;
}

static void test_every_route_documented(void **st) {
    json_t *d = load_openapi(), *paths = json_object_get(d, "paths");
    assert_non_null(paths);
    int missing = 0;
    for (size_t r = 0; r < N_ROUTES; r++) {
        char p[256], m[16];
        norm(ROUTES[r].pattern, p, sizeof p);
        lower(ROUTES[r].method, m, sizeof m);
        json_t *op = find_op(paths, p, m);
        if (!op) {
            print_error("route %s %s is not in web/openapi.json\n", ROUTES[r].method, ROUTES[r].pattern);
            missing++;
            continue;
        }
        if (!json_is_string(json_object_get(op, "summary")) || !json_is_object(json_object_get(op, "responses"))) {
            print_error("%s %s in web/openapi.json has no summary or no responses\n", ROUTES[r].method, ROUTES[r].pattern);
            missing++;
        }
    }
    assert_int_equal(missing, 0);
    json_decref(d);
}

static void test_every_operation_is_a_route(void **st) {
    json_t *d = load_openapi(), *paths = json_object_get(d, "paths");
    const char *key, *mk;
    json_t *v, *op;
    int stale = 0;
    json_object_foreach(paths, key, v) {
        char p[256];
        norm(key, p, sizeof p);
        json_object_foreach(v, mk, op) {
            if (strcmp(mk, "parameters") == 0) continue;
            int found = 0;
            for (size_t r = 0; r < N_ROUTES && !found; r++) {
                char rp[256], m[16];
                norm(ROUTES[r].pattern, rp, sizeof rp);
                lower(ROUTES[r].method, m, sizeof m);
                found = strcmp(rp, p) == 0 && strcmp(m, mk) == 0;
            }
            if (!found) {
                print_error("web/openapi.json documents %s %s, which no route serves\n", mk, key);
                stale++;
            }
        }
    }
    assert_int_equal(stale, 0);
    json_decref(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route_documented),
        cmocka_unit_test(test_every_operation_is_a_route),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
