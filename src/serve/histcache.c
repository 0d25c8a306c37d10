/* histcache.c: users' histories in memory (histcache.h): sharded chained hashes with FIFO eviction, a global
 * and a per-shard generation so that a copy read before a write can never be put in after it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crec/common.h"
#include "serve/histcache.h"

#define N_SHARDS 64 /* by the hash's top 6 bits (buckets use the low bits) */

typedef struct entry {
    struct entry *next;              /* hash chain */
    struct entry *older, *newer;     /* FIFO: newest at the shard's head */
    uint64_t hash, gen;              /* gen: the global generation the copy was read under */
    size_t bytes;
    int32_t n;
    uint16_t len;
    int32_t *sid;                    /* all three arrays and the name live in the entry's one allocation */
    int64_t *ts;
    uint8_t *type;
    char *name;
} entry;

typedef struct shard {
    pthread_mutex_t mu;
    entry **slot;
    uint32_t nslots, n;
    entry *newest, *oldest;
    size_t bytes;
    uint64_t sgen;                   /* bumped by every invalidation in the shard (under mu) */
    uint64_t hits, misses, puts, refused, evicted, invalidated;
} shard;

struct crec__hist {
    shard sh[N_SHARDS];
    size_t max_bytes, shard_max;
    atomic_ullong gen;               /* bumped by crec__hist_clear */
    atomic_ullong clears;
    pthread_mutex_t types_mu;
    char *types[CREC__HIST_MAX_TYPES];
    atomic_int n_types;
};

static uint64_t hash_of(const char *s, size_t n) { /* FNV-1a, then mixed */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

int crec__hist_open(size_t max_bytes, crec__hist **out) {
    *out = NULL;
    if (max_bytes == 0) return 0;
    crec__hist *h = calloc(1, sizeof *h);
    if (!h) return CREC_ENOMEM;
    h->max_bytes = max_bytes;
    h->shard_max = max_bytes / N_SHARDS;
    for (int k = 0; k < N_SHARDS; k++) pthread_mutex_init(&h->sh[k].mu, NULL);
    pthread_mutex_init(&h->types_mu, NULL);
    atomic_init(&h->gen, 1);
    *out = h;
    return 0;
}

static void unlink_entry(shard *s, entry *e) {
    entry **p = &s->slot[e->hash & (s->nslots - 1)];
    while (*p && *p != e) p = &(*p)->next;
    if (*p) *p = e->next;
    if (e->newer) e->newer->older = e->older;
    else s->newest = e->older;
    if (e->older) e->older->newer = e->newer;
    else s->oldest = e->newer;
    s->bytes -= e->bytes;
    s->n--;
    free(e);
}

void crec__hist_close(crec__hist *h) {
    if (!h) return;
    for (int k = 0; k < N_SHARDS; k++) {
        shard *s = &h->sh[k];
        while (s->oldest) unlink_entry(s, s->oldest);
        free(s->slot);
        pthread_mutex_destroy(&s->mu);
    }
    for (int k = 0; k < atomic_load(&h->n_types); k++) free(h->types[k]);
    pthread_mutex_destroy(&h->types_mu);
    free(h);
}

static entry *find(shard *s, uint64_t hash, const char *user, size_t len) {
    if (!s->nslots) return NULL;
    for (entry *e = s->slot[hash & (s->nslots - 1)]; e; e = e->next)
        if (e->hash == hash && e->len == len && memcmp(e->name, user, len) == 0) return e;
    return NULL;
}

int crec__hist_get(crec__hist *h, const char *user, size_t len, crec__hist_ticket *tk, crec__hist_buf *out) {
    if (!h) return 0;
    uint64_t hash = hash_of(user, len);
    shard *s = &h->sh[hash >> 58];
    uint64_t gen = atomic_load(&h->gen);
    pthread_mutex_lock(&s->mu);
    entry *e = find(s, hash, user, len);
    if (e && e->gen != gen) { /* from before a clear: gone */
        unlink_entry(s, e);
        e = NULL;
    }
    if (e) {
        out->n = e->n;
        memcpy(out->sid, e->sid, (size_t)e->n * sizeof *e->sid);
        memcpy(out->ts, e->ts, (size_t)e->n * sizeof *e->ts);
        memcpy(out->type, e->type, (size_t)e->n);
        s->hits++;
    } else {
        /* the ticket: taken before the caller's store read starts */
        tk->gen = gen;
        tk->sgen = s->sgen;
        tk->hash = hash;
        s->misses++;
    }
    pthread_mutex_unlock(&s->mu);
    return e != NULL;
}

static int grow(shard *s) {
    uint32_t nn = s->nslots ? s->nslots * 2 : 64;
    entry **ns = calloc(nn, sizeof *ns);
    if (!ns) return -1;
    for (uint32_t i = 0; i < s->nslots; i++)
        for (entry *e = s->slot[i], *next; e; e = next) {
            next = e->next;
            e->next = ns[e->hash & (nn - 1)];
            ns[e->hash & (nn - 1)] = e;
        }
    free(s->slot);
    s->slot = ns;
    s->nslots = nn;
    return 0;
}

void crec__hist_put(crec__hist *h, const crec__hist_ticket *tk, const char *user, size_t len,
                    const crec__hist_buf *ev) {
    if (!h || len > UINT16_MAX || ev->n < 0 || ev->n > CREC__HIST_MAX_EVENTS) return;
    size_t n = (size_t)ev->n;
    size_t bytes = sizeof(entry) + n * (sizeof(int64_t) + sizeof(int32_t) + 1) + len + 1;
    shard *s = &h->sh[tk->hash >> 58];
    if (bytes > h->shard_max) return;
    entry *e = malloc(bytes);
    if (!e) return;
    e->ts = (int64_t *)(e + 1); /* int64 first: aligned after the header */
    e->sid = (int32_t *)(e->ts + n);
    e->type = (uint8_t *)(e->sid + n);
    e->name = (char *)(e->type + n);
    memcpy(e->ts, ev->ts, n * sizeof *e->ts);
    memcpy(e->sid, ev->sid, n * sizeof *e->sid);
    memcpy(e->type, ev->type, n);
    memcpy(e->name, user, len);
    e->name[len] = 0;
    e->len = (uint16_t)len;
    e->n = (int32_t)n;
    e->hash = tk->hash;
    e->gen = tk->gen;
    e->bytes = bytes;
    pthread_mutex_lock(&s->mu);
    if (s->sgen != tk->sgen || atomic_load(&h->gen) != tk->gen || (s->n + 1 > s->nslots && grow(s))) {
        s->refused++; /* a write touched this shard or everything since the store read: the copy may be stale */
        pthread_mutex_unlock(&s->mu);
        free(e);
        return;
    }
    entry *old = find(s, tk->hash, user, len);
    if (old) unlink_entry(s, old); /* another reader's copy of the same moment */
    while (s->oldest && s->bytes + bytes > h->shard_max) {
        unlink_entry(s, s->oldest);
        s->evicted++;
    }
    uint32_t b = (uint32_t)(e->hash & (s->nslots - 1));
    e->next = s->slot[b];
    s->slot[b] = e;
    e->older = s->newest;
    e->newer = NULL;
    if (s->newest) s->newest->newer = e;
    else s->oldest = e;
    s->newest = e;
    s->bytes += bytes;
    s->n++;
    s->puts++;
    pthread_mutex_unlock(&s->mu);
}

void crec__hist_invalidate(crec__hist *h, const char *user, size_t len) {
    if (!h) return;
    uint64_t hash = hash_of(user, len);
    shard *s = &h->sh[hash >> 58];
    pthread_mutex_lock(&s->mu);
    s->sgen++; /* refuses the puts of readers that read the store before this */
    entry *e = find(s, hash, user, len);
    if (e) {
        unlink_entry(s, e);
        s->invalidated++;
    }
    pthread_mutex_unlock(&s->mu);
}

void crec__hist_clear(crec__hist *h) {
    if (!h) return;
    atomic_fetch_add(&h->gen, 1); /* entries of older generations are misses, freed when met or evicted */
    atomic_fetch_add(&h->clears, 1);
}

int crec__hist_type(crec__hist *h, const char *type) {
    if (!h) return -1;
    if (!type) type = "interaction";
    int n = atomic_load(&h->n_types);
    for (int k = 0; k < n; k++)
        if (strcmp(h->types[k], type) == 0) return k;
    pthread_mutex_lock(&h->types_mu);
    n = atomic_load(&h->n_types);
    int k = 0;
    while (k < n && strcmp(h->types[k], type) != 0) k++;
    if (k == n) {
        char *c = n < CREC__HIST_MAX_TYPES ? strdup(type) : NULL;
        if (!c) k = -1;
        else {
            h->types[n] = c;
            atomic_store(&h->n_types, n + 1); /* published after the name is in place */
        }
    }
    pthread_mutex_unlock(&h->types_mu);
    return k;
}

const char *crec__hist_type_name(const crec__hist *h, int idx) {
    return h && idx >= 0 && idx < atomic_load(&h->n_types) ? h->types[idx] : NULL;
}

int crec__hist_n_types(const crec__hist *h) { return h ? atomic_load(&h->n_types) : 0; }

void crec__hist_stats_get(crec__hist *h, crec__hist_stats *st) {
    memset(st, 0, sizeof *st);
    if (!h) return;
    st->max_bytes = (int64_t)h->max_bytes;
    st->clears = atomic_load(&h->clears);
    for (int k = 0; k < N_SHARDS; k++) {
        shard *s = &h->sh[k];
        pthread_mutex_lock(&s->mu);
        st->hits += s->hits;
        st->misses += s->misses;
        st->puts += s->puts;
        st->refused += s->refused;
        st->evicted += s->evicted;
        st->invalidated += s->invalidated;
        st->entries += s->n;
        st->bytes += (int64_t)s->bytes;
        pthread_mutex_unlock(&s->mu);
    }
}
