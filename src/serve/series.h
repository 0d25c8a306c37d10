/* series.h: the activity time series behind GET /v1/metrics/series (series.c): requests, errors, events and
 * latency quantiles per interval, sampled by the requests themselves (no thread). */
#ifndef CREC_SERVE_SERIES_H
#define CREC_SERVE_SERIES_H

#include "serve/serve_internal.h"

/* Start the ring (first sample now) in s->series; CREC_ENOMEM. The interval is 5 s (tests:
 * CREC_TEST_SERIES_INTERVAL_MS). */
int crec__series_open(crec_server *s);
void crec__series_close(crec_server *s);
/* Take a sample when the interval is over (cheap when not; never blocks). */
void crec__series_tick(crec_server *s);
#endif
