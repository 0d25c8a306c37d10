/* rowmsg.c: the pure parts of the Redis Streams event path (crec/events.h): redis:// URLs, stream entry ids, and
 * row messages - an onlinemf table export re-keyed by external id, so processes with different dense ids (two
 * trainers, N servers) can exchange rows.
 *
 * The one idea: a dense id means nothing outside the process that interned it; an external id means the same
 * everywhere. So a row leaves a trainer under its external id and is re-keyed by whoever applies it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"
#include "crec/events.h"

static const char RM_MAGIC[8] = {'C', 'R', 'E', 'C', 'R', 'M', 0, 1};
#define KEY_SHIFT 60
#define DENSE_MASK ((UINT64_C(1) << KEY_SHIFT) - 1)

int crec_events_have_redis(void) {
#ifdef CREC_HAVE_HIREDIS
    return 1;
#else
    return 0;
#endif
}

static int stream_char(int c) { return isalnum(c) || strchr("_.:{}-", c) != NULL; }

int crec_redis_url_parse(const char *url, crec_redis_url *out, char *err, size_t errn) {
    if (!url || !out) return CREC_EINVAL;
    memset(out, 0, sizeof *out);
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0) {
        crec__errf(err, errn, "'%s': expected redis://HOST[:PORT]/STREAM", url);
        return CREC_EINVAL;
    }
    p += 8;
    const char *slash = strchr(p, '/'), *at = strchr(p, '@');
    if (at && (!slash || at < slash)) {
        crec__errf(err, errn, "'%s': user:password@ is not supported (bind Redis to a private address)", url);
        return CREC_EINVAL;
    }
    const char *host = p, *host_end;
    if (*p == '[') {
        host = ++p;
        while (*p && *p != ']') p++;
        if (*p != ']') {
            crec__errf(err, errn, "'%s': unterminated [IPv6] host", url);
            return CREC_EINVAL;
        }
        host_end = p++;
    } else {
        while (*p && *p != ':' && *p != '/') p++;
        host_end = p;
    }
    size_t hl = (size_t)(host_end - host);
    if (hl == 0 || hl >= sizeof out->host) {
        crec__errf(err, errn, "'%s': the host is empty or longer than %zu bytes", url, sizeof out->host - 1);
        return CREC_EINVAL;
    }
    for (size_t k = 0; k < hl; k++)
        if ((unsigned char)host[k] <= ' ') {
            crec__errf(err, errn, "'%s': bad character in the host", url);
            return CREC_EINVAL;
        }
    memcpy(out->host, host, hl);
    out->port = 6379;
    if (*p == ':') {
        p++;
        long port = 0;
        int digits = 0;
        while (isdigit((unsigned char)*p) && digits < 6) port = port * 10 + (*p++ - '0'), digits++;
        if (!digits || port < 1 || port > 65535 || (*p && *p != '/')) {
            crec__errf(err, errn, "'%s': the port must be 1..65535", url);
            return CREC_EINVAL;
        }
        out->port = (int)port;
    }
    if (*p != '/' || !p[1]) {
        crec__errf(err, errn, "'%s': no stream name (redis://HOST:PORT/STREAM)", url);
        return CREC_EINVAL;
    }
    p++;
    size_t sl = strlen(p);
    if (sl > 200) {
        crec__errf(err, errn, "'%s': the stream name is longer than 200 bytes", url);
        return CREC_EINVAL;
    }
    for (size_t k = 0; k < sl; k++)
        if (!stream_char((unsigned char)p[k])) {
            crec__errf(err, errn, "'%s': the stream name may hold letters, digits and _.:{}- only", url);
            return CREC_EINVAL;
        }
    memcpy(out->stream, p, sl + 1);
    return 0;
}

int crec_redis_id_parse(const char *s, size_t n, uint64_t *ms, uint64_t *seq) {
    uint64_t a = 0, b = 0;
    size_t k = 0, d = 0;
    if (!s) return CREC_EPARSE;
    for (; k < n && isdigit((unsigned char)s[k]); k++, d++) {
        if (a > (UINT64_MAX - 9) / 10) return CREC_EPARSE;
        a = a * 10 + (uint64_t)(s[k] - '0');
    }
    if (!d || k >= n || s[k] != '-') return CREC_EPARSE;
    k++;
    d = 0;
    for (; k < n && isdigit((unsigned char)s[k]); k++, d++) {
        if (b > (UINT64_MAX - 9) / 10) return CREC_EPARSE;
        b = b * 10 + (uint64_t)(s[k] - '0');
    }
    if (!d || k != n) return CREC_EPARSE;
    if (ms) *ms = a;
    if (seq) *seq = b;
    return 0;
}

void crec_redis_event_id(uint64_t event_id, char *buf, size_t n) {
    snprintf(buf, n, "%llu-0", (unsigned long long)event_id);
}

/* ---- row messages ---- */

typedef struct conv {
    crec_rowmsg_name_fn name;
    void *ctx;
    crec_buf rem, rows;
    uint64_t n_rem, n_rows;
    int dim, sdim;
} conv;

static int put_named(crec_buf *b, int kind, const char *name) {
    uint8_t k = (uint8_t)kind;
    int rc = crec_buf_write(b, &k, 1);
    return rc ? rc : crec__put_str(b, name);
}

static const char *key_name(conv *c, uint64_t id, int *kind) {
    *kind = (int)(id >> KEY_SHIFT);
    uint64_t dense = id & DENSE_MASK;
    if ((*kind != 1 && *kind != 2) || dense > INT32_MAX) return NULL;
    return c->name(c->ctx, *kind, (int32_t)dense);
}

static int conv_removed(void *ctx, uint64_t id) {
    conv *c = ctx;
    int kind;
    const char *nm = key_name(c, id, &kind);
    if (!nm) return 0;
    c->n_rem++;
    return put_named(&c->rem, kind, nm);
}

static int conv_row(void *ctx, uint64_t id, int64_t touch, const float *vec, const float *state) {
    conv *c = ctx;
    int kind;
    const char *nm = key_name(c, id, &kind);
    if (!nm) return 0;
    int rc = put_named(&c->rows, kind, nm);
    rc = rc ? rc : crec__put_u64(&c->rows, (uint64_t)touch);
    rc = rc ? rc : crec_buf_write(&c->rows, vec, (size_t)c->dim * 4);
    if (!rc && c->sdim) rc = crec_buf_write(&c->rows, state, (size_t)c->sdim * 4);
    c->n_rows++;
    return rc;
}

/* the export's header is read again by foreach: peek dim / state dim first with a walk that stops at once */
static int stop_at_once(void *ctx, uint64_t id) {
    (void)ctx, (void)id;
    return 1;
}

int crec_rowmsg_from_export(crec_buf *in, crec_rowmsg_name_fn name, void *ctx, crec_buf *out, uint64_t *n_rows) {
    if (!in || !name || !out) return CREC_EINVAL;
    conv c = {.name = name, .ctx = ctx};
    int optim = 0;
    size_t pos0 = in->pos;
    int rc = crec_online_export_foreach(in, &c.dim, &c.sdim, &optim, stop_at_once, NULL, NULL);
    if (rc == 1) rc = 0;
    in->pos = pos0;
    if (!rc) rc = crec_online_export_foreach(in, NULL, NULL, NULL, conv_removed, conv_row, &c);
    size_t start = out->len;
    if (!rc) rc = crec_buf_write(out, RM_MAGIC, 8);
    if (!rc) rc = crec__put_u32(out, (uint32_t)c.dim);
    if (!rc) rc = crec__put_u32(out, (uint32_t)c.sdim);
    if (!rc) rc = crec__put_u32(out, (uint32_t)optim);
    if (!rc) rc = crec__put_u64(out, c.n_rem);
    if (!rc && c.rem.len) rc = crec_buf_write(out, c.rem.data, c.rem.len);
    if (!rc) rc = crec__put_u64(out, c.n_rows);
    if (!rc && c.rows.len) rc = crec_buf_write(out, c.rows.data, c.rows.len);
    if (rc) out->len = start;
    else if (n_rows) *n_rows = c.n_rows;
    crec_buf_free(&c.rem);
    crec_buf_free(&c.rows);
    return rc;
}

/* kind + name from b into name (NUL-terminated, CREC_STORE-sized ids and more: up to 4095 bytes) */
static int get_named(crec_buf *b, int *kind, char *name, size_t n) {
    uint8_t k;
    if (crec_buf_read(b, &k, 1) || (k != 1 && k != 2)) return CREC_EFORMAT;
    *kind = k;
    return crec__get_str_into(b, name, n) ? CREC_EFORMAT : 0;
}

int crec_rowmsg_foreach(const void *msg, size_t len, crec_rowmsg_head *head,
                        int (*on_row)(void *ctx, const crec_rowmsg_row *r),
                        int (*on_removed)(void *ctx, int kind, const char *name), void *ctx) {
    if (!msg) return CREC_EINVAL;
    crec_buf b = {.data = (uint8_t *)msg, .len = len};
    char magic[8];
    uint32_t dim, sdim, optim;
    uint64_t nrem, nrows;
    if (crec_buf_read(&b, magic, 8) || memcmp(magic, RM_MAGIC, 8) != 0) return CREC_EFORMAT;
    if (crec__get_u32(&b, &dim) || crec__get_u32(&b, &sdim) || crec__get_u32(&b, &optim)) return CREC_EFORMAT;
    if (dim < 1 || dim > 65536 || sdim > 2 * dim || optim > 2) return CREC_EFORMAT;
    if (crec__get_u64(&b, &nrem) || crec_buf_need(&b, nrem, 5)) return CREC_EFORMAT;
    crec_rowmsg_head h = {(int)dim, (int)sdim, (int)optim, nrem, 0};
    char name[4096];
    int rc = 0;
    for (uint64_t k = 0; k < nrem && !rc; k++) {
        int kind;
        if (get_named(&b, &kind, name, sizeof name)) return CREC_EFORMAT;
        if (on_removed) rc = on_removed(ctx, kind, name);
    }
    if (rc) return rc;
    if (crec__get_u64(&b, &nrows) || crec_buf_need(&b, nrows, 5 + 8 + (size_t)(dim + sdim) * 4)) return CREC_EFORMAT;
    h.n_rows = nrows;
    if (head) *head = h;
    float *row = malloc((size_t)(dim + sdim) * sizeof *row);
    if (!row) return CREC_ENOMEM;
    for (uint64_t k = 0; k < nrows && !rc; k++) {
        crec_rowmsg_row r;
        uint64_t touch;
        if (get_named(&b, &r.kind, name, sizeof name) || crec__get_u64(&b, &touch) ||
            crec_buf_read(&b, row, (size_t)(dim + sdim) * 4)) {
            rc = CREC_EFORMAT;
            break;
        }
        r.name = name;
        r.touch = (int64_t)touch;
        r.vec = row;
        r.state = sdim ? row + dim : NULL;
        if (on_row) rc = on_row(ctx, &r);
    }
    free(row);
    if (!rc && b.pos != b.len) rc = CREC_EFORMAT; /* trailing bytes */
    return rc;
}
