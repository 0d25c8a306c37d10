/* fuzz_request.c: libFuzzer target for everything the server parses from a client (src/serve/request.c):
 * routes, query values, id lists, JSON bodies, events, items, sessions, reloads.
 *
 * Input layout: byte 0 picks the method, then a first line (the path, also used as a query value), then the
 * body. Besides "does not crash" (ASan + UBSan), it checks the parser's promises: an accepted id is a valid
 * id, an accepted batch has at most CREC__MAX_EVENTS events with ids, k stays in range. Built with clang by
 * tests/fuzz/CMakeLists.txt: fuzz_request [corpus] -max_total_time=20. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/request.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", ""};
    const char *method = methods[data[0] & 7];
    data++, size--;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hl = nl ? (size_t)(nl - data) : size;
    char *head = malloc(hl + 1);
    if (!head) return 0;
    memcpy(head, data, hl);
    head[hl] = 0; /* an embedded NUL just shortens it, as in a C string from MHD */
    const char *body = nl ? (const char *)nl + 1 : "";
    size_t bl = nl ? size - hl - 1 : 0;

    crec__match m;
    crec__reqerr e;
    /* the server decodes the path once (crec__url_unescape), then routes it: the decoder never grows the string,
     * leaves no NUL inside it, and routing the decoded path keeps the invariants below */
    char *dec = malloc(hl + 1);
    if (!dec) {
        free(head);
        return 0;
    }
    memcpy(dec, head, hl + 1);
    size_t dl = crec__url_unescape(dec);
    CHECK(dl <= strlen(head) && dl == strlen(dec));
    int rd = crec__route_match(method, dec, &m);
    if (rd == 0) CHECK(m.route > CREC__R_NONE && m.route < CREC__R_COUNT && m.status == 0);
    free(dec);
    int r = crec__route_match(method, head, &m);
    if (r == 0) {
        CHECK(m.route > CREC__R_NONE && m.route < CREC__R_COUNT && m.status == 0);
        if (m.id) CHECK(crec__id_ok(m.id, strlen(m.id)));
        (void)crec__route_is_write(m.route, method);
    } else {
        CHECK(m.status == 400 || m.status == 404 || m.status == 405);
    }
    (void)crec__route_label(m.route);

    crec__idlist l;
    if (crec__parse_idlist("exclude", head, &l, &e) == 0) {
        CHECK(l.n <= CREC__MAX_LIST);
        for (int k = 0; k < l.n; k++) CHECK(crec__id_ok(l.s[k], l.len[k]));
        crec__idlist_free(&l);
    }
    long v;
    if (crec__parse_int("k", head, 1, CREC__MAX_K, 10, &v, &e) == 0) CHECK(v >= 1 && v <= CREC__MAX_K);
    int b;
    (void)crec__parse_bool("keep_seen", head, 0, &b, &e);
    (void)crec__json_depth(body, bl);

    json_t *j = crec__parse_json(body, bl, &e);
    if (j) {
        crec_store_event *ev;
        int64_t n;
        if (crec__parse_events(j, 12345, &ev, &n, &e) == 0) {
            CHECK(n >= 1 && n <= CREC__MAX_EVENTS);
            for (int64_t k = 0; k < n; k++) {
                CHECK(crec__id_ok(ev[k].user, strlen(ev[k].user)) && crec__id_ok(ev[k].item, strlen(ev[k].item)));
                CHECK(ev[k].ts >= 0);
            }
            free(ev);
        }
        crec_store_item it;
        if (crec__parse_item(j, r == 0 ? m.id : NULL, &it, &e) == 0) {
            CHECK(it.id && crec__id_ok(it.id, strlen(it.id)) && it.n_attrs <= CREC__MAX_LIST);
            free(it.attrs);
        }
        crec__session_req s;
        if (crec__parse_session(j, &s, &e) == 0) {
            CHECK(s.k >= 1 && s.k <= CREC__MAX_K && s.history.n <= CREC__MAX_LIST);
            crec__session_req_free(&s);
        }
        const char *mp, *dp;
        (void)crec__parse_reload(j, &mp, &dp, &e);
        json_decref(j);
    } else {
        CHECK(e.status >= 400 && e.status < 500 && e.code);
    }
    free(head);
    return 0;
}
