/* redis.c: hiredis helpers shared by the publisher (src/serve/events_redis.c) and the trainer (train.c). */
#include "events/redis.h"

#ifdef CREC_HAVE_HIREDIS
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/util.h"

static struct timeval tv_of(double s) {
    struct timeval tv;
    tv.tv_sec = (time_t)s;
    tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
    return tv;
}

redisContext *crec__redis_open(const crec_redis_url *u, double connect_timeout_s, double reply_timeout_s, char *err,
                               size_t errn) {
    redisContext *c = redisConnectWithTimeout(u->host, u->port, tv_of(connect_timeout_s));
    if (!c || c->err) {
        crec__errf(err, errn, "redis://%s:%d: %s", u->host, u->port, c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv_of(reply_timeout_s)) != REDIS_OK) {
        crec__errf(err, errn, "redis://%s:%d: cannot set the socket timeout", u->host, u->port);
        redisFree(c);
        return NULL;
    }
    return c;
}

redisReply *crec__redis_cmd(redisContext *c, int argc, const char **argv, const size_t *lens) {
    size_t l[64], *heap = NULL;
    if (!lens) {
        size_t *ls = argc <= 64 ? l : (heap = malloc((size_t)argc * sizeof *heap));
        if (!ls) return NULL;
        for (int k = 0; k < argc; k++) ls[k] = strlen(argv[k]);
        lens = ls;
    }
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    free(heap);
    return r;
}

static int walk(const redisReply *entries, int (*fn)(void *, const char *, const redisReply *), void *ctx) {
    if (!entries || entries->type != REDIS_REPLY_ARRAY) return 0;
    for (size_t k = 0; k < entries->elements; k++) {
        const redisReply *e = entries->element[k];
        if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 1 || e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const redisReply *f = e->elements > 1 && e->element[1]->type == REDIS_REPLY_ARRAY ? e->element[1] : NULL;
        int rc = fn(ctx, e->element[0]->str, f);
        if (rc) return rc;
    }
    return 0;
}

int crec__redis_entries(const redisReply *r, int (*fn)(void *ctx, const char *id, const redisReply *fields), void *ctx) {
    if (!r || r->type != REDIS_REPLY_ARRAY) return 0;
    /* XREAD: [[stream, entries], ...]; XRANGE: entries ([id, fields] each) */
    if (r->elements && r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
        r->element[0]->element[1]->type == REDIS_REPLY_ARRAY && r->element[0]->element[0]->type == REDIS_REPLY_STRING &&
        crec_redis_id_parse(r->element[0]->element[0]->str, r->element[0]->element[0]->len, NULL, NULL) != 0) {
        for (size_t s = 0; s < r->elements; s++) {
            int rc = walk(r->element[s]->element[1], fn, ctx);
            if (rc) return rc;
        }
        return 0;
    }
    return walk(r, fn, ctx);
}

const redisReply *crec__redis_field(const redisReply *fields, const char *name) {
    if (!fields || fields->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t k = 0; k + 1 < fields->elements; k += 2) {
        const redisReply *f = fields->element[k];
        if (f->type == REDIS_REPLY_STRING && strcmp(f->str, name) == 0)
            return fields->element[k + 1]->type == REDIS_REPLY_STRING ? fields->element[k + 1] : NULL;
    }
    return NULL;
}
#else
typedef int crec__events_redis_unused; /* ISO C: a translation unit is not empty */
#endif
