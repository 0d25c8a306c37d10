/* test_mcp.c: the MCP dispatcher (src/serve/mcp.c, mcp_tools.c) on in-memory messages over a small store
 * built here from the synthetic generator: every method of the lifecycle, every JSON-RPC error code, every
 * tool - checked against what the store holds and, for recommend, against the recommendation service called
 * directly on the dataset (the same list, item for item). The wire (stdio, HTTP /mcp, the official TypeScript
 * client) is tests/integration/mcp.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "crec/crec.h"
#include "crec/mcp.h"
#include "crec/store.h"
#include "testutil.h"

static char *g_dir;
static char g_db[512], g_model[512], g_data[512];
static crec_dataset *g_ds;
static crec_model *g_m;

static int setup(void **st) {
    g_dir = tu_tmpdir();
    snprintf(g_db, sizeof g_db, "%s/s.db", g_dir);
    snprintf(g_model, sizeof g_model, "%s/knn.crecm", g_dir);
    snprintf(g_data, sizeof g_data, "%s/s.crecds", g_dir);
    crec_synth_opts so;
    crec_synth_defaults(&so);
    so.n_users = 120;
    so.n_items = 60;
    so.n_attrs = 12;
    if (crec_synth_generate(&so, &g_ds) || crec_dataset_save(g_ds, g_data)) return -1;
    crec_split_spec spec;
    crec_split s;
    if (crec_split_spec_parse("loo", &spec) || crec_split_make(g_ds, &spec, &s)) return -1;
    char err[256];
    if (crec_model_new("itemknn", NULL, &g_m, err, sizeof err)) return -1;
    crec_train_input in = {.ds = g_ds, .train = &s.train, .n_threads = 1, .seed = 1};
    int rc = crec_model_train(g_m, &in) || crec_model_save(g_m, g_model);
    crec_split_free(&s);
    crec_store *db;
    if (rc || crec_store_open(g_db, NULL, &db, err, sizeof err)) return -1;
    rc = crec_store_import(db, g_ds, NULL);
    crec_store_close(db);
    return rc;
}

static int teardown(void **st) {
    crec_model_free(g_m);
    crec_dataset_free(g_ds);
    tu_rmrf(g_dir);
    free(g_dir);
    return 0;
}

static crec_mcp *open_mcp(const char *keys, const char *key) {
    crec_mcp_opts o = {.db_path = g_db, .model_path = g_model, .data_path = g_data, .api_keys = keys, .key = key};
    crec_mcp *m = NULL;
    char err[512];
    int rc = crec_mcp_open(&o, &m, err, sizeof err);
    if (rc) fail_msg("crec_mcp_open: %s", err);
    return m;
}

/* Send one message; the parsed answer (NULL when none). */
static json_t *send_raw(crec_mcp *m, const char *msg) {
    char *reply = NULL;
    assert_int_equal(crec_mcp_handle(m, msg, strlen(msg), &reply), 0);
    if (!reply) return NULL;
    assert_null(strchr(reply, '\n')); /* one line on the wire */
    json_error_t je;
    json_t *o = json_loads(reply, 0, &je);
    if (!o) fail_msg("not JSON: %s", reply);
    free(reply);
    return o;
}

static json_t *request(crec_mcp *m, const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return send_raw(m, buf);
}

static void expect_error(json_t *o, int code, const char *needle) {
    assert_non_null(o);
    json_t *e = json_object_get(o, "error");
    if (!e) fail_msg("no error in %s", json_dumps(o, 0));
    assert_int_equal(json_integer_value(json_object_get(e, "code")), code);
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (needle && !strstr(msg, needle)) fail_msg("'%s' not in '%s'", needle, msg);
    json_decref(o);
}

/* tools/call: the structuredContent of a successful call (caller frees the answer *ans). */
static json_t *call(crec_mcp *m, json_t **ans, const char *tool, const char *args) {
    *ans = request(m, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
                      "\"arguments\":%s}}", tool, args);
    json_t *r = json_object_get(*ans, "result");
    if (!r || json_is_true(json_object_get(r, "isError"))) fail_msg("%s %s: %s", tool, args, json_dumps(*ans, 0));
    json_t *sc = json_object_get(r, "structuredContent");
    assert_non_null(sc);
    /* the text block carries the same JSON (for clients that read only content) */
    json_t *text = json_loads(json_string_value(json_object_get(json_array_get(json_object_get(r, "content"), 0),
                                                                "text")), 0, NULL);
    assert_true(json_equal(text, sc));
    json_decref(text);
    return sc;
}

static const char *tool_error(crec_mcp *m, json_t **ans, const char *tool, const char *args) {
    *ans = request(m, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
                      "\"arguments\":%s}}", tool, args);
    json_t *r = json_object_get(*ans, "result");
    assert_non_null(r);
    assert_true(json_is_true(json_object_get(r, "isError")));
    return json_string_value(json_object_get(json_array_get(json_object_get(r, "content"), 0), "text"));
}

static void test_lifecycle(void **st) {
    crec_mcp *m = open_mcp(NULL, NULL);
    const char *init = "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"%s\","
                       "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
    const char *cases[][2] = {{"2025-06-18", "2025-06-18"}, {"2025-03-26", "2025-03-26"},
                              {"2024-11-05", "2024-11-05"}, {"1999-01-01", "2025-06-18"}};
    for (int k = 0; k < 4; k++) {
        json_t *o = request(m, init, "\"a\"", cases[k][0]);
        assert_string_equal(json_string_value(json_object_get(o, "id")), "a");
        json_t *r = json_object_get(o, "result");
        assert_string_equal(json_string_value(json_object_get(r, "protocolVersion")), cases[k][1]);
        assert_non_null(json_object_get(json_object_get(r, "capabilities"), "tools"));
        assert_string_equal(json_string_value(json_object_get(json_object_get(r, "serverInfo"), "name")), "crec");
        json_decref(o);
    }
    expect_error(request(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}"), -32602,
                 "protocolVersion");
    expect_error(request(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}"), -32602, "params");
    /* notifications and responses get no answer */
    assert_null(request(m, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
    assert_null(request(m, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/unknown\",\"params\":{}}"));
    assert_null(request(m, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}"));
    json_t *o = request(m, "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"ping\"}");
    assert_int_equal(json_integer_value(json_object_get(o, "id")), 42);
    assert_int_equal(json_object_size(json_object_get(o, "result")), 0);
    json_decref(o);
    crec_mcp_close(m);
}

static void test_errors(void **st) {
    crec_mcp *m = open_mcp(NULL, NULL);
    json_t *o = request(m, "{\"jsonrpc\":\"2.0\",\"id\":1,");
    assert_true(json_is_null(json_object_get(o, "id")));
    expect_error(o, -32700, "parse error");
    expect_error(request(m, "nonsense"), -32700, NULL);
    expect_error(request(m, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]"), -32600, "batch");
    expect_error(request(m, "17"), -32600, NULL);
    expect_error(request(m, "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}"), -32600, "jsonrpc");
    expect_error(request(m, "{\"id\":1,\"method\":\"ping\"}"), -32600, "jsonrpc");
    expect_error(request(m, "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}"), -32600, "id");
    expect_error(request(m, "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}"), -32600, "id");
    expect_error(request(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}"), -32600, "method");
    expect_error(request(m, "{\"jsonrpc\":\"2.0\",\"id\":1}"), -32600, "method");
    expect_error(request(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\"}"), -32601, "resources/list");
    expect_error(request(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[1]}"), -32602, "params");
    /* tools/call: the tool, then every argument is checked against the schema, naming the key */
    const char *tc = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":%s}";
    expect_error(request(m, tc, "{\"arguments\":{}}"), -32602, "name");
    expect_error(request(m, tc, "{\"name\":\"nope\"}"), -32602, "unknown tool");
    expect_error(request(m, tc, "{\"name\":\"recommend\",\"arguments\":[1]}"), -32602, "arguments");
    expect_error(request(m, tc, "{\"name\":\"recommend\",\"arguments\":{\"usr\":\"u1\"}}"), -32602, "'usr'");
    expect_error(request(m, tc, "{\"name\":\"recommend\",\"arguments\":{\"k\":0}}"), -32602, "'k'");
    expect_error(request(m, tc, "{\"name\":\"recommend\",\"arguments\":{\"k\":101}}"), -32602, "'k'");
    expect_error(request(m, tc, "{\"name\":\"recommend\",\"arguments\":{\"k\":\"5\"}}"), -32602, "'k'");
    expect_error(request(m, tc, "{\"name\":\"recommend\",\"arguments\":{\"user\":5}}"), -32602, "'user'");
    expect_error(request(m, tc, "{\"name\":\"recommend\",\"arguments\":{\"user\":\"a/b\"}}"), -32602, "'user'");
    expect_error(request(m, tc, "{\"name\":\"recommend\",\"arguments\":{\"history\":[\"i1\",3]}}"), -32602,
                 "'history'[1]");
    expect_error(request(m, tc, "{\"name\":\"recommend\",\"arguments\":{\"keep_seen\":1}}"), -32602, "'keep_seen'");
    expect_error(request(m, tc, "{\"name\":\"similar_items\",\"arguments\":{}}"), -32602, "'item' is required");
    expect_error(request(m, tc, "{\"name\":\"record_feedback\",\"arguments\":{\"user\":\"u1\",\"item\":\"i1\","
                                "\"value\":\"x\"}}"), -32602, "'value'");
    expect_error(request(m, tc, "{\"name\":\"search_items\",\"arguments\":{}}"), -32602, "attributes or query");
    expect_error(request(m, tc, "{\"name\":\"explain\",\"arguments\":{\"item\":\"i1\"}}"), -32602, "user or history");
    crec_mcp_close(m);
}

static void test_tools_list(void **st) {
    crec_mcp *m = open_mcp(NULL, NULL);
    json_t *o = request(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{}}");
    json_t *tools = json_object_get(json_object_get(o, "result"), "tools");
    const char *want[] = {"recommend", "similar_items", "popular", "search_items", "explain", "user_history",
                          "record_feedback"};
    assert_int_equal(json_array_size(tools), 7);
    for (int k = 0; k < 7; k++) {
        json_t *t = json_array_get(tools, (size_t)k);
        assert_string_equal(json_string_value(json_object_get(t, "name")), want[k]);
        assert_true(strlen(json_string_value(json_object_get(t, "description"))) > 20);
        json_t *in = json_object_get(t, "inputSchema"), *out = json_object_get(t, "outputSchema");
        assert_string_equal(json_string_value(json_object_get(in, "type")), "object");
        assert_true(json_object_size(json_object_get(in, "properties")) >= 2);
        assert_string_equal(json_string_value(json_object_get(out, "type")), "object");
        assert_true(json_array_size(json_object_get(out, "required")) >= 2);
    }
    json_decref(o);
    crec_mcp_close(m);
}

static int has_attr(json_t *item, const char *attr) {
    json_t *a = json_object_get(item, "attributes");
    for (size_t k = 0; k < json_array_size(a); k++)
        if (strcmp(json_string_value(json_array_get(a, k)), attr) == 0) return 1;
    return 0;
}

/* recommend = the service on the dataset's catalog for the same user and history, item for item. */
static void test_recommend(void **st) {
    crec_mcp *m = open_mcp(NULL, NULL);
    crec_service_catalog cat;
    crec_service_catalog_dataset(&cat, g_m, g_ds);
    crec_service_request rq;
    crec_service_scratch sc;
    crec_service_request_init(&rq);
    crec_service_scratch_init(&sc);
    for (int32_t u = 0; u < g_ds->users.n; u += 17) {
        const char *name = g_ds->users.names[u];
        crec_service_request_reset(&rq);
        rq.user = u;
        rq.k = 7;
        assert_int_equal(crec_service_request_add_user(&rq, g_ds, u), 0);
        crec_service_result res;
        assert_int_equal(crec_service_recommend(g_m, &cat, &rq, &sc, &res), 0);
        char args[300];
        snprintf(args, sizeof args, "{\"user\":\"%s\",\"k\":7}", name);
        json_t *ans, *s = call(m, &ans, "recommend", args);
        json_t *items = json_object_get(s, "items");
        assert_true(json_is_true(json_object_get(s, "known_user")));
        assert_string_equal(json_string_value(json_object_get(s, "source")), "model");
        assert_int_equal(json_array_size(items), res.n);
        for (int32_t r = 0; r < res.n; r++) {
            json_t *it = json_array_get(items, (size_t)r);
            assert_string_equal(json_string_value(json_object_get(it, "id")), g_ds->items.names[res.items[r]]);
            assert_float_equal(json_number_value(json_object_get(it, "score")), res.scores[r], 1e-4);
            assert_non_null(json_object_get(it, "title"));
        }
        json_decref(ans);
    }
    crec_service_request_free(&rq);
    crec_service_scratch_free(&sc);

    /* filters: every item carries must_have, none must_not_have, none excluded or seen */
    json_t *ans, *s = call(m, &ans, "recommend", "{\"user\":\"u1\",\"k\":5}");
    char top[300], attr[300], args[800];
    snprintf(top, sizeof top, "%s", json_string_value(json_object_get(json_array_get(json_object_get(s, "items"), 0), "id")));
    json_t *a0 = json_array_get(json_object_get(json_array_get(json_object_get(s, "items"), 0), "attributes"), 0);
    snprintf(attr, sizeof attr, "%s", json_string_value(a0));
    snprintf(args, sizeof args, "{\"user\":\"u1\",\"k\":20,\"must_have\":[\"%s\"],\"exclude\":[\"%s\"]}", attr, top);
    json_decref(ans);
    s = call(m, &ans, "recommend", args);
    json_t *items = json_object_get(s, "items");
    assert_true(json_array_size(items) > 0);
    for (size_t k = 0; k < json_array_size(items); k++) {
        assert_true(has_attr(json_array_get(items, k), attr));
        assert_string_not_equal(json_string_value(json_object_get(json_array_get(items, k), "id")), top);
    }
    json_decref(ans);
    snprintf(args, sizeof args, "{\"history\":[\"i1\",\"i2\",\"nope\"],\"k\":30,\"must_not_have\":[\"%s\"]}", attr);
    s = call(m, &ans, "recommend", args);
    items = json_object_get(s, "items");
    assert_string_equal(json_string_value(json_object_get(s, "source")), "model:history");
    assert_string_equal(json_string_value(json_array_get(json_object_get(s, "unknown_items"), 0)), "nope");
    for (size_t k = 0; k < json_array_size(items); k++) {
        json_t *it = json_array_get(items, k);
        assert_false(has_attr(it, attr));
        assert_string_not_equal(json_string_value(json_object_get(it, "id")), "i1");
    }
    json_decref(ans);
    /* an unknown user with no history: the popular fallback */
    s = call(m, &ans, "recommend", "{\"user\":\"stranger\"}");
    assert_string_equal(json_string_value(json_object_get(s, "source")), "popular");
    assert_false(json_is_true(json_object_get(s, "known_user")));
    json_decref(ans);
    crec_mcp_close(m);
}

static void test_other_tools(void **st) {
    crec_mcp *m = open_mcp(NULL, NULL);
    json_t *ans, *s;
    /* similar_items: never the item itself; an unknown item is a tool error */
    s = call(m, &ans, "similar_items", "{\"item\":\"i3\",\"k\":10}");
    for (size_t k = 0; k < json_array_size(json_object_get(s, "items")); k++)
        assert_string_not_equal(json_string_value(json_object_get(json_array_get(json_object_get(s, "items"), k), "id")), "i3");
    json_decref(ans);
    assert_non_null(strstr(tool_error(m, &ans, "similar_items", "{\"item\":\"nope\"}"), "no item 'nope'"));
    json_decref(ans);
    /* search_items by attribute: exactly the items that carry it (brute force over the dataset) */
    crec_dataset_attr_csr(g_ds);
    const char *attr = g_ds->attrs.names[0];
    int want = 0;
    for (int32_t i = 0; i < g_ds->items.n; i++)
        for (int64_t p = g_ds->attr_ptr[i]; p < g_ds->attr_ptr[i + 1]; p++) want += g_ds->attr_idx[p] == 0;
    char args[600];
    snprintf(args, sizeof args, "{\"attributes\":[\"%s\"],\"k\":100}", attr);
    s = call(m, &ans, "search_items", args);
    assert_int_equal(json_integer_value(json_object_get(s, "total_matches")), want);
    json_t *items = json_object_get(s, "items");
    assert_int_equal(json_array_size(items), want);
    for (size_t k = 0; k < json_array_size(items); k++) {
        assert_true(has_attr(json_array_get(items, k), attr));
        if (k) assert_true(json_integer_value(json_object_get(json_array_get(items, k - 1), "events")) >=
                           json_integer_value(json_object_get(json_array_get(items, k), "events")));
    }
    json_decref(ans);
    /* by a title word: every hit holds it (case-insensitive) */
    char word[64];
    snprintf(word, sizeof word, "%s", g_ds->title[0]);
    *strchr(word, ' ') = 0;
    snprintf(args, sizeof args, "{\"query\":\"%s\",\"k\":100}", word);
    s = call(m, &ans, "search_items", args);
    items = json_object_get(s, "items");
    assert_true(json_array_size(items) >= 1);
    json_decref(ans);
    /* popular within an attribute: only items with it, most events first */
    snprintf(args, sizeof args, "{\"attribute\":\"%s\",\"k\":5}", attr);
    s = call(m, &ans, "popular", args);
    items = json_object_get(s, "items");
    assert_string_equal(json_string_value(json_object_get(s, "source")), "popular");
    assert_int_equal(json_array_size(items), want < 5 ? want : 5);
    for (size_t k = 0; k < json_array_size(items); k++) {
        assert_true(has_attr(json_array_get(items, k), attr));
        if (k) assert_true(json_number_value(json_object_get(json_array_get(items, k - 1), "score")) >=
                           json_number_value(json_object_get(json_array_get(items, k), "score")));
    }
    json_decref(ans);
    /* explain: the rank agrees with recommend's list */
    s = call(m, &ans, "recommend", "{\"user\":\"u2\",\"k\":4}");
    char target[300];
    snprintf(target, sizeof target, "%s", json_string_value(json_object_get(json_array_get(json_object_get(s, "items"), 3), "id")));
    json_decref(ans);
    snprintf(args, sizeof args, "{\"user\":\"u2\",\"item\":\"%s\"}", target);
    s = call(m, &ans, "explain", args);
    assert_int_equal(json_integer_value(json_object_get(s, "rank")), 4);
    assert_true(json_array_size(json_object_get(s, "supporting_items")) > 0);
    assert_non_null(strstr(json_string_value(json_object_get(s, "summary")), "#4"));
    json_decref(ans);
    /* user_history: the newest `limit` events, the store's count */
    int32_t u2 = crec_idmap_get(&g_ds->users, "u2", 2);
    int64_t n_u2 = 0;
    for (int64_t e = 0; e < g_ds->n; e++) n_u2 += g_ds->user[e] == u2;
    s = call(m, &ans, "user_history", "{\"user\":\"u2\",\"limit\":3}");
    assert_int_equal(json_integer_value(json_object_get(s, "n_events")), n_u2);
    assert_int_equal(json_array_size(json_object_get(s, "events")), 3);
    json_decref(ans);
    assert_non_null(strstr(tool_error(m, &ans, "user_history", "{\"user\":\"nobody\"}"), "no user"));
    json_decref(ans);
    crec_mcp_close(m);
}

static void test_feedback_keys(void **st) {
    /* no keys configured: writes are open (as crec serve on loopback) */
    crec_mcp *m = open_mcp(NULL, NULL);
    json_t *ans, *s = call(m, &ans, "record_feedback", "{\"user\":\"u3\",\"item\":\"i4\",\"type\":\"click\",\"ts\":5}");
    assert_int_equal(json_integer_value(json_object_get(s, "accepted")), 1);
    json_decref(ans);
    assert_non_null(strstr(tool_error(m, &ans, "record_feedback", "{\"user\":\"u3\",\"item\":\"nope\"}"), "no item"));
    json_decref(ans);
    crec_mcp_close(m);
    /* keys configured, none given: a tool error naming the rule; reads still work */
    m = open_mcp("k1,k2", NULL);
    assert_non_null(strstr(tool_error(m, &ans, "record_feedback", "{\"user\":\"u3\",\"item\":\"i4\"}"), "API key"));
    json_decref(ans);
    s = call(m, &ans, "user_history", "{\"user\":\"u3\",\"limit\":1}");
    int64_t before = json_integer_value(json_object_get(s, "n_events"));
    json_decref(ans);
    crec_mcp_close(m);
    /* a wrong key is refused at open */
    crec_mcp_opts o = {.db_path = g_db, .model_path = g_model, .data_path = g_data, .api_keys = "k1", .key = "bad"};
    char err[256];
    crec_mcp *bad = NULL;
    assert_int_equal(crec_mcp_open(&o, &bad, err, sizeof err), CREC_EINVAL);
    assert_null(bad);
    /* the right key: the event is written and counts in the history at once */
    m = open_mcp("k1,k2", "k2");
    call(m, &ans, "record_feedback", "{\"user\":\"u3\",\"item\":\"i4\",\"value\":2.5}");
    json_decref(ans);
    s = call(m, &ans, "user_history", "{\"user\":\"u3\",\"limit\":1}");
    assert_int_equal(json_integer_value(json_object_get(s, "n_events")), before + 1);
    json_t *ev = json_array_get(json_object_get(s, "events"), 0);
    assert_string_equal(json_string_value(json_object_get(ev, "item")), "i4");
    assert_float_equal(json_number_value(json_object_get(ev, "value")), 2.5, 1e-6);
    json_decref(ans);
    crec_mcp_close(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle), cmocka_unit_test(test_errors), cmocka_unit_test(test_tools_list),
        cmocka_unit_test(test_recommend), cmocka_unit_test(test_other_tools), cmocka_unit_test(test_feedback_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
