/* test_serve.c: the server's request parsing (src/serve/request.c) with exact expectations: which route a
 * method and path reach (404 / 405 / 400 otherwise), what an id may hold, query values, JSON depth, and the
 * messages a client gets for bad events, items and sessions. The HTTP side is tests/integration/serve.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "serve/request.h"

static void expect_route(const char *method, const char *path, crec__route want, int status, const char *id) {
    crec__match m;
    int rc = crec__route_match(method, path, &m);
    if (m.route != want || m.status != status || (id ? !m.id || strcmp(m.id, id) != 0 : m.id != NULL))
        fail_msg("%s %s: route %d status %d id %s; want route %d status %d id %s", method, path, m.route, m.status,
                 m.id ? m.id : "-", want, status, id ? id : "-");
    assert_int_equal(rc, status ? -1 : 0);
}

static void test_routes(void **st) {
    expect_route("GET", "/v1/users/u1/recommendations", CREC__R_USER_RECS, 0, "u1");
    expect_route("HEAD", "/v1/users/u1/recommendations", CREC__R_USER_RECS, 0, "u1");
    expect_route("POST", "/v1/users/u1/recommendations", CREC__R_USER_RECS, 405, NULL);
    expect_route("POST", "/v1/sessions/recommendations", CREC__R_SESSION_RECS, 0, NULL);
    expect_route("GET", "/v1/items/i%20x/similar", CREC__R_SIMILAR, 0, "i%20x");
    expect_route("GET", "/v1/popular", CREC__R_POPULAR, 0, NULL);
    expect_route("POST", "/v1/events", CREC__R_EVENTS, 0, NULL);
    expect_route("GET", "/v1/events", CREC__R_EVENTS, 405, NULL);
    expect_route("GET", "/v1/items", CREC__R_ITEMS, 0, NULL);
    expect_route("POST", "/v1/items", CREC__R_ITEMS_CREATE, 0, NULL);
    expect_route("DELETE", "/v1/items", CREC__R_ITEMS, 405, NULL);
    expect_route("PUT", "/v1/items/sku-1", CREC__R_ITEM_PUT, 0, "sku-1");
    expect_route("HEAD", "/v1/items/sku-1", CREC__R_ITEM, 0, "sku-1");
    expect_route("PATCH", "/v1/items/sku-1", CREC__R_ITEM_PATCH, 0, "sku-1");
    expect_route("POST", "/v1/items/sku-1", CREC__R_ITEM, 405, NULL);
    expect_route("DELETE", "/v1/users/\xc3\xa9t\xc3\xa9", CREC__R_USER_DELETE, 0, "\xc3\xa9t\xc3\xa9");
    expect_route("POST", "/v1/admin/reload", CREC__R_RELOAD, 0, NULL);
    expect_route("GET", "/v1/stats", CREC__R_STATS, 0, NULL);
    expect_route("GET", "/healthz", CREC__R_HEALTH, 0, NULL);
    expect_route("GET", "/metrics", CREC__R_METRICS, 0, NULL);
    expect_route("GET", "/openapi.json", CREC__R_OPENAPI, 0, NULL);
    expect_route("GET", "/", CREC__R_WEB, 0, NULL);
    expect_route("GET", "/app.js", CREC__R_ASSET, 0, "app.js");
    expect_route("POST", "/healthz", CREC__R_HEALTH, 405, NULL);   /* a literal line wins over "/{file}" */
    expect_route("GET", "/App.js", CREC__R_NONE, 404, NULL);      /* dashboard names are lower case */
    expect_route("GET", "/v1/users/u1/", CREC__R_NONE, 404, NULL); /* trailing slash */
    expect_route("GET", "/v1//users", CREC__R_NONE, 404, NULL);
    expect_route("GET", "/v2/popular", CREC__R_NONE, 404, NULL);
    expect_route("GET", "v1/popular", CREC__R_NONE, 404, NULL);
    expect_route("GET", "/a/b/c/d/e/f/g/h/i", CREC__R_NONE, 404, NULL);
    expect_route("", "/v1/popular", CREC__R_POPULAR, 405, NULL); /* the fuzzer's find: this used to loop */
    expect_route("GET", "/v1/users/a\x01z/recommendations", CREC__R_USER_RECS, 400, NULL);
    expect_route("GET", "/v1/users/\xff\xfe/recommendations", CREC__R_USER_RECS, 400, NULL);
    char longp[400] = "/v1/users/";
    memset(longp + 10, 'x', 257);
    longp[267] = 0;
    expect_route("GET", longp, CREC__R_USER, 400, NULL);
    longp[266] = 0; /* 256 bytes: the longest id */
    crec__match m;
    assert_int_equal(crec__route_match("GET", longp, &m), 0);
    assert_int_equal(strlen(m.id), 256);

    /* the server decodes the path once (crec__url_unescape), then routes it: a %00 must not cut it short */
    char u[64] = "/v1/users/5%00/recommendations";
    assert_int_equal(crec__url_unescape(u), strlen("/v1/users/5?/recommendations"));
    expect_route("GET", u, CREC__R_USER_RECS, 400, NULL);
    strcpy(u, "/v1/pop%00ular");
    crec__url_unescape(u);
    expect_route("GET", u, CREC__R_NONE, 400, NULL); /* a control character no route owns: 400, not 404 */
    strcpy(u, "/v1/%70op%75lar%");
    assert_int_equal(crec__url_unescape(u), strlen("/v1/popular%"));
    assert_string_equal(u, "/v1/popular%");
    strcpy(u, "/v1/items/a%2x%4/similar");
    crec__url_unescape(u);
    assert_string_equal(u, "/v1/items/a%2x%4/similar"); /* not an escape: kept */
    strcpy(u, "/v1/items/%C3%A9/similar");
    crec__url_unescape(u);
    expect_route("GET", u, CREC__R_SIMILAR, 0, "\xc3\xa9");

    assert_true(crec__route_is_write(CREC__R_EVENTS, "POST"));
    assert_true(crec__route_is_write(CREC__R_USER_DELETE, "DELETE"));
    assert_false(crec__route_is_write(CREC__R_USER, "DELETE")); /* a 405's route: not this method's line */
    assert_false(crec__route_is_write(CREC__R_SESSION_RECS, "POST"));
    assert_false(crec__route_is_write(CREC__R_ITEM, "GET"));
    assert_string_equal(crec__route_label(CREC__R_SIMILAR), "/v1/items/{id}/similar");

    /* the table's other columns: a 405's Allow lists the path's lines in table order, the lines of one path
     * share their metrics label, and who may call what */
    assert_int_equal(crec__route_match("POST", "/v1/items/sku-1", &m), -1);
    assert_string_equal(m.allow, "GET, PUT, DELETE, PATCH");
    assert_int_equal(crec__route_match("DELETE", "/v1/items", &m), -1);
    assert_string_equal(m.allow, "GET, POST");
    assert_int_equal(crec__route_match("GET", "/v1/events", &m), -1);
    assert_string_equal(m.allow, "POST");
    assert_string_equal(crec__route_label(CREC__R_ITEM_PUT), "/v1/items/{id}");
    assert_string_equal(crec__route_label(CREC__R_ITEM_DELETE), crec__route_label(CREC__R_ITEM));
    assert_string_equal(crec__route_label(CREC__R_ASSET), "/ (dashboard)");
    assert_string_equal(crec__route_label(CREC__R_WEB), "/ (dashboard)");
    assert_string_equal(crec__route_label(CREC__R_NONE), "unmatched");
    assert_int_equal(crec__route_auth(CREC__R_HEALTH), CREC__OPEN);
    assert_int_equal(crec__route_auth(CREC__R_OPENAPI), CREC__OPEN);
    assert_int_equal(crec__route_auth(CREC__R_METRICS), CREC__PRIVATE);  /* needs a key whenever keys are set */
    assert_int_equal(crec__route_auth(CREC__R_STATS), CREC__PRIVATE);
    assert_int_equal(crec__route_auth(CREC__R_USER), CREC__PRIVATE);     /* a person's history */
    assert_int_equal(crec__route_auth(CREC__R_USER_RECS), CREC__READ);
    assert_int_equal(crec__route_auth(CREC__R_SESSION_RECS), CREC__READ);
    assert_int_equal(crec__route_auth(CREC__R_RELOAD), CREC__WRITE);
    assert_int_equal(crec__route_auth(CREC__R_ITEMS_CREATE), CREC__WRITE);
    assert_int_equal(crec__route_auth(CREC__R_ITEMS), CREC__READ);
    assert_true(crec__route_uses_store(CREC__R_USER_RECS));
    assert_false(crec__route_uses_store(CREC__R_RELOAD));
    assert_false(crec__route_uses_store(CREC__R_NONE));
}

/* The routes of issue 15: literal paths beat "{id}", two ids in one path, their auth classes. */
static void test_routes_api(void **st) {
    crec__match m;
    expect_route("GET", "/v1/users", CREC__R_USERS, 0, NULL);
    expect_route("POST", "/v1/users", CREC__R_USERS, 405, NULL);
    expect_route("PUT", "/v1/users/u1", CREC__R_USER_PUT, 0, "u1");
    expect_route("GET", "/v1/users/u1/similar", CREC__R_USER_SIMILAR, 0, "u1");
    expect_route("GET", "/v1/users/u1/feedback", CREC__R_USER_FEEDBACK, 0, "u1");
    expect_route("GET", "/v1/items/i1/feedback", CREC__R_ITEM_FEEDBACK, 0, "i1");
    expect_route("POST", "/v1/items/batch", CREC__R_ITEMS_BATCH, 0, NULL);   /* not the item "batch" */
    expect_route("GET", "/v1/items/batch", CREC__R_ITEMS_BATCH, 405, NULL);
    expect_route("GET", "/v1/items/latest", CREC__R_ITEMS_LATEST, 0, NULL);
    expect_route("DELETE", "/v1/items/latest", CREC__R_ITEMS_LATEST, 405, NULL);
    expect_route("GET", "/v1/items/latesT", CREC__R_ITEM, 0, "latesT");      /* any other id is an item */
    expect_route("GET", "/healthz/live", CREC__R_LIVE, 0, NULL);
    expect_route("GET", "/healthz/ready", CREC__R_READY, 0, NULL);
    expect_route("GET", "/healthz/other", CREC__R_NONE, 404, NULL);
    assert_int_equal(crec__route_match("DELETE", "/v1/feedback/u%201/i1", &m), 0);
    assert_int_equal(m.route, CREC__R_FEEDBACK_DELETE);
    assert_string_equal(m.id, "u%201");
    assert_string_equal(m.id2, "i1");
    assert_int_equal(crec__route_match("PUT", "/v1/items/i1/categories/sale", &m), 0);
    assert_int_equal(m.route, CREC__R_ITEM_CAT_PUT);
    assert_string_equal(m.id, "i1");
    assert_string_equal(m.id2, "sale");
    assert_int_equal(crec__route_match("GET", "/v1/items/i1/categories/sale", &m), -1);
    assert_int_equal(m.status, 405);
    assert_string_equal(m.allow, "PUT, DELETE");
    assert_int_equal(crec__route_match("DELETE", "/v1/feedback/u1/a\x01b", &m), -1); /* a bad second id */
    assert_int_equal(m.status, 400);
    assert_int_equal(crec__route_match("GET", "/v1/items/i1", &m), 0);
    assert_null(m.id2);
    assert_int_equal(crec__route_auth(CREC__R_USERS), CREC__PRIVATE);
    assert_int_equal(crec__route_auth(CREC__R_USER_FEEDBACK), CREC__PRIVATE);
    assert_int_equal(crec__route_auth(CREC__R_ITEM_FEEDBACK), CREC__PRIVATE);
    assert_int_equal(crec__route_auth(CREC__R_USER_SIMILAR), CREC__PRIVATE);
    assert_int_equal(crec__route_auth(CREC__R_ITEMS_LATEST), CREC__READ);
    assert_int_equal(crec__route_auth(CREC__R_LIVE), CREC__OPEN);
    assert_int_equal(crec__route_auth(CREC__R_READY), CREC__OPEN);
    assert_false(crec__route_uses_store(CREC__R_READY));
    assert_true(crec__route_is_write(CREC__R_USER_PUT, "PUT"));
    assert_true(crec__route_is_write(CREC__R_ITEM_PATCH, "PATCH"));
    assert_true(crec__route_is_write(CREC__R_ITEMS_BATCH, "POST"));
    assert_true(crec__route_is_write(CREC__R_FEEDBACK_DELETE, "DELETE"));
    assert_true(crec__route_is_write(CREC__R_ITEM_CAT_PUT, "PUT"));
    assert_true(crec__route_is_write(CREC__R_ITEM_CAT_DELETE, "DELETE"));
    assert_string_equal(crec__route_label(CREC__R_FEEDBACK_DELETE), "/v1/feedback/{id}/{id}");
}

static void test_values(void **st) {
    assert_true(crec__id_ok("u1", 2));
    assert_true(crec__id_ok("caf\xc3\xa9", 5));
    assert_false(crec__id_ok("", 0));
    assert_false(crec__id_ok("a/b", 3));
    assert_false(crec__id_ok("a\tb", 3));
    assert_false(crec__id_ok("\xc3", 1));      /* cut UTF-8 */
    assert_false(crec__id_ok("\xc0\xaf", 2));  /* overlong encoding of '/' */
    crec__reqerr e;
    long v = 0;
    assert_int_equal(crec__parse_int("k", NULL, 1, 1000, 10, &v, &e), 0);
    assert_int_equal(v, 10);
    assert_int_equal(crec__parse_int("k", "1000", 1, 1000, 10, &v, &e), 0);
    assert_int_equal(v, 1000);
    assert_int_equal(crec__parse_int("k", "1001", 1, 1000, 10, &v, &e), -1);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.code, "bad_parameter");
    assert_string_equal(e.message, "k must be an integer in [1, 1000]");
    assert_int_equal(crec__parse_int("k", "5x", 1, 1000, 10, &v, &e), -1);
    assert_int_equal(crec__parse_int("k", "", 1, 1000, 10, &v, &e), -1);
    int b = 0;
    assert_int_equal(crec__parse_bool("keep_seen", "true", 0, &b, &e), 0);
    assert_int_equal(b, 1);
    assert_int_equal(crec__parse_bool("keep_seen", "yes", 0, &b, &e), -1);
    crec__idlist l;
    assert_int_equal(crec__parse_idlist("exclude", "a,,b,c", &l, &e), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.len[1], 1);
    assert_memory_equal(l.s[2], "c", 1);
    crec__idlist_free(&l);
    assert_int_equal(crec__parse_idlist("exclude", "a,b/c", &l, &e), -1);
    char many[4100];
    for (int k = 0; k < 1001; k++) memcpy(many + 2 * k, "x,", 2);
    many[2001] = 0;
    assert_int_equal(crec__parse_idlist("exclude", many, &l, &e), -1);
    assert_string_equal(e.message, "exclude has more than 1000 ids");
}

static void test_json(void **st) {
    assert_int_equal(crec__json_depth("[1, {\"a\": [2]}]", 15), 3);
    assert_int_equal(crec__json_depth("{\"a\": \"[[[[\\\"[[\"}", 17), 1); /* brackets inside strings */
    assert_int_equal(crec__json_depth("]", 1), -1);
    crec__reqerr e;
    char deep[64];
    memset(deep, '[', 17);
    memset(deep + 17, ']', 17);
    assert_null(crec__parse_json(deep, 34, &e));
    assert_string_equal(e.code, "too_deep");
    json_t *ok = crec__parse_json(deep + 1, 32, &e); /* 16 deep is fine */
    assert_non_null(ok);
    json_decref(ok);
    assert_null(crec__parse_json("{\"a\": 1,}", 9, &e));
    assert_string_equal(e.code, "bad_json");
    assert_null(crec__parse_json("", 0, &e));
    assert_null(crec__parse_json("{\"a\": 1, \"a\": 2}", 16, &e)); /* duplicate keys */
}

static json_t *J(const char *s) {
    json_error_t je;
    json_t *v = json_loads(s, 0, &je);
    assert_non_null(v);
    return v;
}

static void test_events(void **st) {
    crec__reqerr e;
    crec_store_event *ev;
    int64_t n;
    json_t *v = J("[{\"user\": \"u\", \"item\": \"i\"}, {\"user\": \"u\", \"item\": \"j\", \"type\": \"buy\", "
                  "\"value\": 2.5, \"ts\": 99}]");
    assert_int_equal(crec__parse_events(v, 1234, &ev, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].item, "i");
    assert_null(ev[0].type);
    assert_true(ev[0].value == 1.0f);
    assert_int_equal(ev[0].ts, 1234); /* no ts: now */
    assert_string_equal(ev[1].type, "buy");
    assert_true(ev[1].value == 2.5f);
    assert_int_equal(ev[1].ts, 99);
    free(ev);
    json_decref(v);
    struct { const char *body, *msg; int status; } bad[] = {
        {"{\"user\": \"u\"}", "the body must be a JSON array of events", 400},
        {"[]", "the batch is empty", 400},
        {"[1]", "event 0: must be an object", 400},
        {"[{\"user\": \"u\", \"item\": \"i\"}, {\"item\": \"i\"}]", "event 1: \"user\" is required", 400},
        {"[{\"user\": 5, \"item\": \"i\"}]", "event 0: \"user\" must be a string", 400},
        {"[{\"user\": \"u/v\", \"item\": \"i\"}]",
         "event 0: \"user\" must be an id (no control characters or '/') of at most 256 bytes", 400},
        {"[{\"user\": \"u\", \"item\": \"i\", \"value\": \"x\"}]", "event 0: \"value\" must be a finite number", 400},
        {"[{\"user\": \"u\", \"item\": \"i\", \"ts\": 1.5}]",
         "event 0: \"ts\" must be a non-negative integer (seconds)", 400},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        v = J(bad[k].body);
        assert_int_equal(crec__parse_events(v, 0, &ev, &n, &e), -1);
        assert_int_equal(e.status, bad[k].status);
        assert_string_equal(e.message, bad[k].msg);
        assert_null(ev);
        json_decref(v);
    }
}

static void test_items_sessions(void **st) {
    crec__reqerr e;
    crec_store_item it;
    json_t *v = J("{\"title\": \"T\", \"attributes\": [\"a\", \"b\"], \"visible\": false}");
    assert_int_equal(crec__parse_item(v, "sku", &it, &e), 0);
    assert_string_equal(it.id, "sku");
    assert_string_equal(it.title, "T");
    assert_null(it.text);
    assert_int_equal(it.n_attrs, 2);
    assert_int_equal(it.visible, 0);
    free(it.attrs);
    assert_int_equal(crec__parse_item(v, NULL, &it, &e), -1); /* POST needs an id in the body */
    assert_string_equal(e.message, "item: \"id\" is required");
    json_decref(v);
    v = J("{\"id\": \"other\"}");
    assert_int_equal(crec__parse_item(v, "sku", &it, &e), -1);
    assert_string_equal(e.message, "item: \"id\" differs from the id in the path");
    json_decref(v);
    v = J("{\"id\": \"x\", \"visible\": 1}");
    assert_int_equal(crec__parse_item(v, NULL, &it, &e), -1);
    json_decref(v);

    crec__session_req r;
    v = J("{\"history\": [\"a\", \"b\"], \"k\": 3, \"exclude\": [\"c\"], \"category\": \"x\"}");
    assert_int_equal(crec__parse_session(v, &r, &e), 0);
    assert_int_equal(r.history.n, 2);
    assert_int_equal(r.k, 3);
    assert_int_equal(r.exclude.n, 1);
    assert_string_equal(r.category, "x");
    crec__session_req_free(&r);
    json_decref(v);
    v = J("{\"history\": [\"a\"], \"k\": 0}");
    assert_int_equal(crec__parse_session(v, &r, &e), -1);
    assert_string_equal(e.code, "bad_parameter");
    json_decref(v);
    v = J("{\"history\": [\"a\", 3]}");
    assert_int_equal(crec__parse_session(v, &r, &e), -1);
    assert_string_equal(e.message, "\"history\"[1] must be an id string (1..256 bytes)");
    json_decref(v);

    const char *mp, *dp;
    assert_int_equal(crec__parse_reload(NULL, &mp, &dp, &e), 0);
    assert_null(mp);
    v = J("{\"model\": \"m.crecm\"}");
    assert_int_equal(crec__parse_reload(v, &mp, &dp, &e), 0);
    assert_string_equal(mp, "m.crecm");
    assert_null(dp);
    json_decref(v);
    v = J("{\"model\": \"\"}");
    assert_int_equal(crec__parse_reload(v, &mp, &dp, &e), -1);
    json_decref(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes), cmocka_unit_test(test_routes_api), cmocka_unit_test(test_values), cmocka_unit_test(test_json),
        cmocka_unit_test(test_events), cmocka_unit_test(test_items_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
