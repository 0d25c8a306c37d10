/* redis.h: the few hiredis helpers the event path shares (redis.c): connect with a timeout, and walk the entries
 * of an XREAD / XREADGROUP / XRANGE reply. Only compiled with CREC_HAVE_HIREDIS. */
#ifndef CREC_EVENTS_REDIS_H
#define CREC_EVENTS_REDIS_H

#include "crec/events.h"

#ifdef CREC_HAVE_HIREDIS
#include <hiredis/hiredis.h>

/* Connected context (caller frees with redisFree) or NULL with err saying why. Replies wait at most
 * reply_timeout_s (a BLOCK command must block for less). */
redisContext *crec__redis_open(const crec_redis_url *u, double connect_timeout_s, double reply_timeout_s, char *err,
                               size_t errn);
/* A command from argv (NUL-terminated strings, or with lens), reply owned by the caller (freeReplyObject); NULL on
 * a broken connection. */
redisReply *crec__redis_cmd(redisContext *c, int argc, const char **argv, const size_t *lens);
/* fn(ctx, id, fields) for every entry of an XREAD(GROUP) reply (array of [stream, entries]) or of an XRANGE reply
 * (entries); fields is the entry's array of field, value (NULL for an entry deleted while pending). */
int crec__redis_entries(const redisReply *r, int (*fn)(void *ctx, const char *id, const redisReply *fields), void *ctx);
/* The value of field name in fields (a STRING reply) or NULL. */
const redisReply *crec__redis_field(const redisReply *fields, const char *name);
#endif
#endif
