/* metrics.c: request counters and latency histograms per route, ingestion counters and model gauges,
 * rendered as Prometheus text (exposition format 0.0.4) for GET /metrics.
 *
 * The one idea: every counter is a C11 _Atomic updated with relaxed adds on the request path (no lock);
 * rendering reads them without stopping anyone, so a scrape is a consistent-enough picture, never a pause. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "serve/online.h"
#include "serve/serve_internal.h"

const double crec__bucket_le[CREC__N_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                 0.01,   0.025,   0.05,   0.1,   0.5,    2.5};

void crec__metrics_observe(crec__metrics *m, crec__route r, int status, double seconds) {
    if (r < 0 || r >= CREC__R_COUNT) r = CREC__R_NONE;
    crec__route_metrics *rm = &m->route[r];
    int cls = status / 100;
    if (cls < 1 || cls > 5) cls = 5;
    atomic_fetch_add_explicit(&rm->by_class[cls], 1, memory_order_relaxed);
    int b = 0;
    while (b < CREC__N_BUCKETS && seconds > crec__bucket_le[b]) b++;
    atomic_fetch_add_explicit(&rm->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rm->sum_us, (unsigned long long)(seconds * 1e6), memory_order_relaxed);
}

typedef struct sbuf { char *p; size_t len, cap; int oom; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = b->cap * 2 + (size_t)n + 1;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
}

/* Prometheus label value: escape backslash, quote and newline. */
static void sb_label(sbuf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') sb_printf(b, "\\%c", *s);
        else if (*s == '\n') sb_printf(b, "\\n");
        else sb_printf(b, "%c", *s);
    }
}

char *crec__metrics_render(crec_server *s) {
    sbuf b = {malloc(8192), 0, 8192, 0};
    if (!b.p) return NULL;
    b.p[0] = 0;
    crec__metrics *m = &s->metrics;
    /* the table's lines of one path share a label: their series are summed into one */
    struct { unsigned long long by_class[6], bucket[CREC__N_BUCKETS + 1], sum_us; } sums[CREC__R_COUNT];
    int first[CREC__R_COUNT];
    for (int r = 0; r < CREC__R_COUNT; r++) {
        first[r] = 1;
        for (int q = 0; q < r && first[r]; q++) first[r] = strcmp(crec__route_label(q), crec__route_label(r)) != 0;
        memset(&sums[r], 0, sizeof sums[r]);
        if (!first[r]) continue;
        for (int q = r; q < CREC__R_COUNT; q++) {
            if (strcmp(crec__route_label(q), crec__route_label(r)) != 0) continue;
            const crec__route_metrics *rm = &m->route[q];
            for (int c = 0; c < 6; c++)
                sums[r].by_class[c] += atomic_load_explicit(&rm->by_class[c], memory_order_relaxed);
            for (int k = 0; k <= CREC__N_BUCKETS; k++)
                sums[r].bucket[k] += atomic_load_explicit(&rm->bucket[k], memory_order_relaxed);
            sums[r].sum_us += atomic_load_explicit(&rm->sum_us, memory_order_relaxed);
        }
    }
    sb_printf(&b, "# HELP crec_http_requests_total HTTP responses by route and status class.\n"
                  "# TYPE crec_http_requests_total counter\n");
    for (int r = 0; r < CREC__R_COUNT; r++)
        for (int c = 1; c <= 5 && first[r]; c++) {
            unsigned long long v = sums[r].by_class[c];
            if (!v && c != 2) continue;
            sb_printf(&b, "crec_http_requests_total{route=\"%s\",code=\"%dxx\"} %llu\n", crec__route_label(r), c, v);
        }
    sb_printf(&b, "# HELP crec_http_request_duration_seconds Time from the first byte of a request to its response.\n"
                  "# TYPE crec_http_request_duration_seconds histogram\n");
    for (int r = 0; r < CREC__R_COUNT; r++) {
        if (!first[r]) continue;
        unsigned long long cum = 0;
        for (int k = 0; k <= CREC__N_BUCKETS; k++) {
            cum += sums[r].bucket[k];
            if (k < CREC__N_BUCKETS)
                sb_printf(&b, "crec_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                          crec__route_label(r), crec__bucket_le[k], cum);
            else
                sb_printf(&b, "crec_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                          crec__route_label(r), cum);
        }
        sb_printf(&b, "crec_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", crec__route_label(r),
                  (double)sums[r].sum_us / 1e6);
        sb_printf(&b, "crec_http_request_duration_seconds_count{route=\"%s\"} %llu\n", crec__route_label(r), cum);
    }
    struct { const char *name, *help; atomic_ullong *v; } counters[] = {
        {"crec_events_ingested_total", "Events committed to the store through POST /v1/events.", &m->events_ingested},
        {"crec_event_batches_total", "Committed POST /v1/events batches.", &m->event_batches},
        {"crec_write_groups_total", "Store transactions (one fsync each) of the group-committing writer.", &m->write_groups},
        {"crec_write_requests_total", "Write requests acknowledged through those transactions.", &m->write_requests},
        {"crec_model_reloads_total", "Successful model reloads.", &m->reloads},
        {"crec_model_reload_failures_total", "Failed model reloads (the old model stayed).", &m->reload_failures},
        {"crec_auth_failures_total", "Requests refused for a missing or wrong API key.", &m->auth_failures},
        {"crec_body_rejected_total", "Requests refused for a body over the size limit.", &m->body_rejected},
        {"crec_requests_timed_out_total", "Connections closed because a request was not fully received within "
                                          "--request-timeout.", &m->requests_timed_out},
    };
    for (size_t k = 0; k < sizeof counters / sizeof counters[0]; k++)
        sb_printf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counters[k].name, counters[k].help,
                  counters[k].name, counters[k].name, atomic_load_explicit(counters[k].v, memory_order_relaxed));
    crec__bundle *bu = crec__bundle_acquire(s);
    if (bu) {
        sb_printf(&b, "# HELP crec_model_info The model being served (value 1).\n# TYPE crec_model_info gauge\n"
                      "crec_model_info{name=\"");
        sb_label(&b, bu->model->type->name);
        sb_printf(&b, "\",path=\"");
        sb_label(&b, bu->model_path);
        sb_printf(&b, "\",data=\"");
        sb_label(&b, bu->model->data_name);
        sb_printf(&b, "\",version=\"%llu\"} 1\n", (unsigned long long)bu->version);
        sb_printf(&b, "# HELP crec_model_version Load counter of the model being served.\n"
                      "# TYPE crec_model_version gauge\ncrec_model_version %llu\n"
                      "# HELP crec_model_items Items the model scores.\n# TYPE crec_model_items gauge\n"
                      "crec_model_items %d\n"
                      "# HELP crec_model_loaded_timestamp_seconds When the model was loaded.\n"
                      "# TYPE crec_model_loaded_timestamp_seconds gauge\ncrec_model_loaded_timestamp_seconds %.0f\n",
                  (unsigned long long)bu->version, bu->model->n_items, bu->loaded_unix);
        crec__bundle_release(bu);
    }
    crec__online_stats os;
    if (crec__online_get_stats(s, &os) == 0) /* --online */
        sb_printf(&b, "# HELP crec_online_updates_total Acknowledged events applied to the model by the learner.\n"
                      "# TYPE crec_online_updates_total counter\ncrec_online_updates_total %llu\n"
                      "# HELP crec_online_update_failures_total Events the learner could not apply (out of memory).\n"
                      "# TYPE crec_online_update_failures_total counter\ncrec_online_update_failures_total %llu\n"
                      "# HELP crec_online_batches_total Mini-batches applied (one write lock each).\n"
                      "# TYPE crec_online_batches_total counter\ncrec_online_batches_total %llu\n"
                      "# HELP crec_online_queued_events Events acknowledged and waiting for the learner.\n"
                      "# TYPE crec_online_queued_events gauge\ncrec_online_queued_events %llu\n"
                      "# HELP crec_online_update_lag_seconds Seconds from acknowledgement to applied (last batch).\n"
                      "# TYPE crec_online_update_lag_seconds gauge\ncrec_online_update_lag_seconds %.6f\n"
                      "# HELP crec_online_update_lag_max_seconds Largest such lag since start.\n"
                      "# TYPE crec_online_update_lag_max_seconds gauge\ncrec_online_update_lag_max_seconds %.6f\n"
                      "# HELP crec_online_lock_hold_max_seconds Longest write-lock hold of one mini-batch.\n"
                      "# TYPE crec_online_lock_hold_max_seconds gauge\ncrec_online_lock_hold_max_seconds %.6f\n"
                      "# HELP crec_online_users Users in the model's id space.\n"
                      "# TYPE crec_online_users gauge\ncrec_online_users %lld\n"
                      "# HELP crec_online_items Items in the model's id space.\n"
                      "# TYPE crec_online_items gauge\ncrec_online_items %lld\n"
                      "# HELP crec_online_table_rows Rows of the online embedding table (-1: not a table model).\n"
                      "# TYPE crec_online_table_rows gauge\ncrec_online_table_rows %lld\n"
                      "# HELP crec_online_table_bytes Heap bytes of the online table.\n"
                      "# TYPE crec_online_table_bytes gauge\ncrec_online_table_bytes %lld\n"
                      "# HELP crec_online_evictions_total Rows evicted by the table's ttl.\n"
                      "# TYPE crec_online_evictions_total counter\ncrec_online_evictions_total %llu\n"
                      "# HELP crec_online_syncs_total Checkpoints of the learned state written.\n"
                      "# TYPE crec_online_syncs_total counter\ncrec_online_syncs_total %llu\n"
                      "# HELP crec_online_sync_failures_total Checkpoints that failed (retried).\n"
                      "# TYPE crec_online_sync_failures_total counter\ncrec_online_sync_failures_total %llu\n"
                      "# HELP crec_online_last_sync_timestamp_seconds When the last checkpoint was written (0: none).\n"
                      "# TYPE crec_online_last_sync_timestamp_seconds gauge\ncrec_online_last_sync_timestamp_seconds %.3f\n"
                      "# HELP crec_online_sync_seconds Seconds the last checkpoint took (the model's write lock held).\n"
                      "# TYPE crec_online_sync_seconds gauge\ncrec_online_sync_seconds %.6f\n",
                  os.applied, os.failed, os.batches, os.queued, os.lag_last, os.lag_max, os.batch_max_s,
                  (long long)os.users, (long long)os.items, (long long)os.rows, (long long)os.table_bytes, os.evictions,
                  os.syncs, os.sync_failures, os.last_sync_unix, os.sync_last_s);
    if (s->hist) { /* --history-cache (histcache.h) */
        crec__hist_stats hs;
        crec__hist_stats_get(s->hist, &hs);
        sb_printf(&b, "# HELP crec_history_cache_hits_total Recommendations whose history came from memory.\n"
                      "# TYPE crec_history_cache_hits_total counter\ncrec_history_cache_hits_total %llu\n"
                      "# HELP crec_history_cache_misses_total Histories read from the store.\n"
                      "# TYPE crec_history_cache_misses_total counter\ncrec_history_cache_misses_total %llu\n"
                      "# HELP crec_history_cache_refused_total Copies not kept: a write touched the user meanwhile.\n"
                      "# TYPE crec_history_cache_refused_total counter\ncrec_history_cache_refused_total %llu\n"
                      "# HELP crec_history_cache_invalidations_total Entries dropped by writes touching their user.\n"
                      "# TYPE crec_history_cache_invalidations_total counter\ncrec_history_cache_invalidations_total %llu\n"
                      "# HELP crec_history_cache_clears_total Times every entry was dropped (reloads, item deletions).\n"
                      "# TYPE crec_history_cache_clears_total counter\ncrec_history_cache_clears_total %llu\n"
                      "# HELP crec_history_cache_evictions_total Entries evicted for room.\n"
                      "# TYPE crec_history_cache_evictions_total counter\ncrec_history_cache_evictions_total %llu\n"
                      "# HELP crec_history_cache_entries Users whose history is held.\n"
                      "# TYPE crec_history_cache_entries gauge\ncrec_history_cache_entries %lld\n"
                      "# HELP crec_history_cache_bytes Bytes held (limit: --history-cache).\n"
                      "# TYPE crec_history_cache_bytes gauge\ncrec_history_cache_bytes %lld\n",
                  (unsigned long long)hs.hits, (unsigned long long)hs.misses, (unsigned long long)hs.refused,
                  (unsigned long long)hs.invalidated, (unsigned long long)hs.clears, (unsigned long long)hs.evicted,
                  (long long)hs.entries, (long long)hs.bytes);
    }
    sb_printf(&b, "# HELP crec_uptime_seconds Seconds since the server started.\n# TYPE crec_uptime_seconds gauge\n"
                  "crec_uptime_seconds %.1f\n"
                  "# HELP crec_process_resident_memory_peak_bytes Peak resident set size.\n"
                  "# TYPE crec_process_resident_memory_peak_bytes gauge\ncrec_process_resident_memory_peak_bytes %lld\n",
              crec__now() - s->started, (long long)crec__peak_rss());
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
