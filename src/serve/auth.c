/* auth.c: API keys for the server: loaded from a comma-separated list (CREC_API_KEYS) and/or a file (one key
 * per line, '#' comments), checked against "Authorization: Bearer KEY" or "X-API-Key: KEY".
 *
 * The one idea: every key is compared in time that does not depend on where the bytes differ, so a client
 * cannot find a key byte by byte from response times. A key source that is given but holds no key (an empty
 * file, CREC_API_KEYS=',' or ' ') is an error, never silently open auth. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "serve/serve_internal.h"

static int add_key(crec_server *s, const char *k, size_t n) {
    while (n && (*k == ' ' || *k == '\t')) k++, n--;
    while (n && (k[n - 1] == ' ' || k[n - 1] == '\t' || k[n - 1] == '\r' || k[n - 1] == '\n')) n--;
    if (n == 0) return 0;
    if (n > 512) return CREC_EINVAL;
    char **nk = realloc(s->keys, ((size_t)s->n_keys + 1) * sizeof *nk);
    if (!nk) return CREC_ENOMEM;
    s->keys = nk;
    if (!(s->keys[s->n_keys] = crec__strndup(k, n))) return CREC_ENOMEM;
    s->n_keys++;
    return 0;
}

int crec__auth_load(crec_server *s, const char *keys, const char *file, char *err, size_t errn) {
    int rc, before = s->n_keys;
    for (const char *p = keys; p && *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if ((rc = add_key(s, p, n))) {
            crec__errf(err, errn, "API keys: a key is longer than 512 bytes");
            return rc;
        }
        p = c ? c + 1 : p + n;
    }
    if (keys && *keys && s->n_keys == before) {
        crec__errf(err, errn, "CREC_API_KEYS holds no key (only commas and blanks): set keys or unset it");
        return CREC_EINVAL;
    }
    before = s->n_keys;
    if (file) {
        FILE *f = fopen(file, "r");
        if (!f) {
            crec__errf(err, errn, "--api-key-file %s: cannot read", file);
            return CREC_ENOTFOUND;
        }
        char line[1024];
        while (fgets(line, sizeof line, f)) {
            if (line[0] == '#') continue;
            if ((rc = add_key(s, line, strlen(line)))) {
                fclose(f);
                crec__errf(err, errn, "--api-key-file %s: a key is longer than 512 bytes", file);
                return rc;
            }
        }
        fclose(f);
        if (s->n_keys == before) {
            crec__errf(err, errn, "--api-key-file %s holds no key (one key per line, '#' comments)", file);
            return CREC_EINVAL;
        }
    }
    return 0;
}

void crec__auth_free(crec_server *s) {
    for (int i = 0; i < s->n_keys; i++) free(s->keys[i]);
    free(s->keys);
    s->keys = NULL;
    s->n_keys = 0;
}

/* 1 when a (length n) equals key; runs over all of key whatever a holds. */
static int key_eq(const char *a, size_t n, const char *key) {
    size_t kn = strlen(key);
    unsigned diff = (unsigned)(n ^ kn);
    for (size_t i = 0; i < kn; i++) diff |= (unsigned char)key[i] ^ (unsigned char)(i < n ? a[i] : 0);
    return diff == 0;
}

int crec__auth_key_ok(const crec_server *s, const char *key, size_t n) {
    int ok = 0;
    for (int i = 0; i < s->n_keys; i++) ok |= key_eq(key, n, s->keys[i]);
    return ok;
}

int crec__auth_check(const crec_server *s, struct MHD_Connection *c) {
    const char *k = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key");
    size_t n = k ? strlen(k) : 0;
    if (!k) {
        const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (a && strncasecmp(a, "Bearer ", 7) == 0) {
            k = a + 7;
            while (*k == ' ') k++;
            n = strlen(k);
        }
    }
    if (!k || n == 0) return 401;
    return crec__auth_key_ok(s, k, n) ? 0 : 403;
}
