/* deadline.c: the per-request time budget (deadline.h): a list of open connections with the time their current
 * request began, and a watchdog thread that shuts down the sockets of those over budget. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "crec/common.h"
#include "serve/deadline.h"

struct crec__dl_conn {
    crec__dl_conn *prev, *next;
    int fd;
    int waiting;       /* 1: the request is not fully received yet (the clock runs) */
    int cut;           /* 1: shut down by the watchdog (once) */
    double since;      /* monotonic seconds: when the clock started */
};

struct crec__deadlines {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int stop;
    double budget;
    crec__dl_conn *head;
    atomic_ullong *timed_out;
};

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *watchdog(void *arg) {
    crec__deadlines *d = arg;
    double tick = d->budget / 4 < 0.25 ? d->budget / 4 : 0.25;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long ns = ts.tv_nsec + (long)(tick * 1e9);
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        int rc = pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        if (d->stop) break;
        if (rc != 0 && rc != ETIMEDOUT) continue;
        double now = mono();
        for (crec__dl_conn *c = d->head; c; c = c->next)
            if (c->waiting && !c->cut && now - c->since > d->budget) {
                /* the entry is in the list, so libmicrohttpd has not closed this socket yet (deadline.h) */
                shutdown(c->fd, SHUT_RDWR);
                c->cut = 1;
                if (d->timed_out) atomic_fetch_add(d->timed_out, 1);
            }
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

int crec__deadlines_start(crec__deadlines **out, double budget, atomic_ullong *timed_out) {
    *out = NULL;
    if (!(budget > 0)) return CREC_EINVAL;
    crec__deadlines *d = calloc(1, sizeof *d);
    if (!d) return CREC_ENOMEM;
    d->budget = budget;
    d->timed_out = timed_out;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&d->mu, NULL);
    if (pthread_create(&d->th, NULL, watchdog, d)) {
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d);
        return CREC_ENOMEM;
    }
    *out = d;
    return 0;
}

/* After the HTTP daemon stopped (every connection closed and removed). */
void crec__deadlines_stop(crec__deadlines *d) {
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->th, NULL);
    while (d->head) {
        crec__dl_conn *c = d->head;
        d->head = c->next;
        free(c);
    }
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

crec__dl_conn *crec__deadline_open(crec__deadlines *d, int fd) {
    if (!d || fd < 0) return NULL;
    crec__dl_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = fd;
    c->waiting = 1;
    c->since = mono();
    pthread_mutex_lock(&d->mu);
    c->next = d->head;
    if (d->head) d->head->prev = c;
    d->head = c;
    pthread_mutex_unlock(&d->mu);
    return c;
}

void crec__deadline_close(crec__deadlines *d, crec__dl_conn *c) {
    if (!d || !c) return;
    pthread_mutex_lock(&d->mu);
    if (c->prev) c->prev->next = c->next;
    else d->head = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&d->mu);
    free(c);
}

void crec__deadline_received(crec__deadlines *d, crec__dl_conn *c) {
    if (!d || !c) return;
    pthread_mutex_lock(&d->mu);
    c->waiting = 0;
    pthread_mutex_unlock(&d->mu);
}

void crec__deadline_next(crec__deadlines *d, crec__dl_conn *c) {
    if (!d || !c) return;
    pthread_mutex_lock(&d->mu);
    c->waiting = 1;
    c->since = mono();
    pthread_mutex_unlock(&d->mu);
}
