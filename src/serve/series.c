/* series.c: a small time series of the server's activity for the dashboard's charts, GET /v1/metrics/series:
 * requests, errors, events ingested and latency quantiles per interval (5 s by default), the last hour.
 *
 * The one idea: the counters already exist (metrics.c, cumulative, lock-free); this keeps a ring of their
 * values at the sample times and answers the differences. A sample is taken by whichever request first finds
 * the interval over (crec__series_tick, a try-lock: no thread, nothing blocks), so an idle server takes none
 * and the next sample covers the whole gap (its dt says how long). Latency quantiles come from the histogram
 * buckets' differences, interpolated within a bucket as Prometheus' histogram_quantile does. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/util.h"
#include "serve/routes.h"
#include "serve/series.h"

#define SERIES_CAP 720 /* one hour of 5 s samples */

typedef struct sample {
    double t;                                   /* unix seconds */
    unsigned long long requests, errors, events, recs;
    unsigned long long bucket[CREC__N_BUCKETS + 1];
} sample;

struct crec__series {
    pthread_mutex_t mu;
    double interval;
    _Atomic double next_due;                    /* unix seconds of the next sample */
    sample ring[SERIES_CAP];
    int head, n;                                /* ring[(head + k) % CAP], k < n, oldest first */
};

static double unix_now(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

static void take(crec_server *s, sample *o, double now) {
    memset(o, 0, sizeof *o);
    o->t = now;
    const crec__metrics *m = &s->metrics;
    for (int r = 0; r < CREC__R_COUNT; r++) {
        const crec__route_metrics *rm = &m->route[r];
        unsigned long long n = 0;
        for (int c = 1; c <= 5; c++) n += atomic_load_explicit(&rm->by_class[c], memory_order_relaxed);
        o->requests += n;
        o->errors += atomic_load_explicit(&rm->by_class[4], memory_order_relaxed) +
                     atomic_load_explicit(&rm->by_class[5], memory_order_relaxed);
        if (r == CREC__R_USER_RECS || r == CREC__R_SESSION_RECS || r == CREC__R_SIMILAR || r == CREC__R_POPULAR)
            o->recs += n;
        if (r == CREC__R_SERIES || r == CREC__R_METRICS) continue; /* the dashboard's own polling: not latency */
        for (int b = 0; b <= CREC__N_BUCKETS; b++)
            o->bucket[b] += atomic_load_explicit(&rm->bucket[b], memory_order_relaxed);
    }
    o->events = atomic_load_explicit(&m->events_ingested, memory_order_relaxed);
}

int crec__series_open(crec_server *s) {
    struct crec__series *x = calloc(1, sizeof *x);
    if (!x) return CREC_ENOMEM;
    pthread_mutex_init(&x->mu, NULL);
    const char *v = getenv("CREC_TEST_SERIES_INTERVAL_MS"); /* tests: a short interval */
    long ms = v ? strtol(v, NULL, 10) : 0;
    x->interval = ms >= 50 && ms <= 60000 ? (double)ms / 1000.0 : 5.0;
    double now = unix_now();
    take(s, &x->ring[0], now);
    x->n = 1;
    atomic_store(&x->next_due, now + x->interval);
    s->series = x;
    return 0;
}

void crec__series_close(crec_server *s) {
    if (!s->series) return;
    pthread_mutex_destroy(&s->series->mu);
    free(s->series);
    s->series = NULL;
}

void crec__series_tick(crec_server *s) {
    struct crec__series *x = s->series;
    if (!x) return;
    double now = unix_now();
    if (now < atomic_load_explicit(&x->next_due, memory_order_relaxed)) return;
    if (pthread_mutex_trylock(&x->mu)) return; /* someone else is sampling */
    if (now >= atomic_load(&x->next_due)) {
        int at = (x->head + x->n) % SERIES_CAP;
        if (x->n == SERIES_CAP) x->head = (x->head + 1) % SERIES_CAP;
        else x->n++;
        take(s, &x->ring[at], now);
        atomic_store(&x->next_due, now + x->interval);
    }
    pthread_mutex_unlock(&x->mu);
}

/* The q-quantile (seconds) of the requests counted in d[] (bucket differences), or NaN when none. */
static double quantile(const unsigned long long *d, double q) {
    unsigned long long total = 0;
    for (int b = 0; b <= CREC__N_BUCKETS; b++) total += d[b];
    if (!total) return NAN;
    double rank = q * (double)total, cum = 0;
    for (int b = 0; b <= CREC__N_BUCKETS; b++) {
        if (cum + (double)d[b] >= rank && d[b] > 0) {
            if (b == CREC__N_BUCKETS) return crec__bucket_le[CREC__N_BUCKETS - 1]; /* +Inf: the last bound */
            double lo = b ? crec__bucket_le[b - 1] : 0, hi = crec__bucket_le[b];
            return lo + (hi - lo) * (rank - cum) / (double)d[b];
        }
        cum += (double)d[b];
    }
    return crec__bucket_le[CREC__N_BUCKETS - 1];
}

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

void crec__h_series(crec_server *s, crec__tls *t, crec__req *req, crec__reply *r) {
    (void)t;
    struct crec__series *x = s->series;
    double since = 0;
    const char *sv = crec__query(req, "since");
    if (sv) {
        char *end = NULL;
        since = strtod(sv, &end);
        if (!*sv || *end || !isfinite(since)) {
            crec__reply_err(r, 400, "bad_parameter", "since must be a unix time in seconds");
            return;
        }
    }
    json_t *o = json_object(), *arr = json_array();
    if (x) {
        crec__series_tick(s);
        pthread_mutex_lock(&x->mu);
        for (int k = 1; k < x->n; k++) {
            const sample *a = &x->ring[(x->head + k - 1) % SERIES_CAP], *b = &x->ring[(x->head + k) % SERIES_CAP];
            double dt = b->t - a->t;
            if ((long long)(b->t * 1e3) <= llround(since * 1e3) || dt <= 0) continue; /* in ms, as t_ms says */
            unsigned long long d[CREC__N_BUCKETS + 1];
            for (int j = 0; j <= CREC__N_BUCKETS; j++) d[j] = b->bucket[j] - a->bucket[j];
            json_t *e = json_object();
            json_object_set_new(e, "t_ms", json_integer((json_int_t)(b->t * 1e3))); /* the interval's end */
            json_object_set_new(e, "dt", json_real(dt));
            json_object_set_new(e, "requests", json_integer((json_int_t)(b->requests - a->requests)));
            json_object_set_new(e, "requests_per_s", json_real((double)(b->requests - a->requests) / dt));
            json_object_set_new(e, "recommendations_per_s", json_real((double)(b->recs - a->recs) / dt));
            json_object_set_new(e, "errors_per_s", json_real((double)(b->errors - a->errors) / dt));
            json_object_set_new(e, "events_per_s", json_real((double)(b->events - a->events) / dt));
            json_object_set_new(e, "p50_ms", num_or_null(1e3 * quantile(d, 0.5)));
            json_object_set_new(e, "p99_ms", num_or_null(1e3 * quantile(d, 0.99)));
            json_array_append_new(arr, e);
        }
        json_object_set_new(o, "interval_s", json_real(x->interval));
        pthread_mutex_unlock(&x->mu);
    }
    json_object_set_new(o, "samples", arr);
    crec__reply_json(r, 200, o);
}
