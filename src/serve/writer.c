/* writer.c: the server's one writer thread and its group commit.
 *
 * The one idea: a write request never holds a pool thread while it waits for the store. The access handler
 * (server.c) suspends the connection and queues the request here; this thread takes everything queued, runs
 * the handlers inside ONE store transaction (each handler's write is a savepoint: a bad request undoes only
 * itself), commits once - one fsync for the whole group - and only then resumes the connections with their
 * answers. So reads never queue behind writes (the pool threads stay free), and N concurrent durable writes
 * cost one fsync instead of N, without weakening "acknowledged means on disk": no reply leaves before COMMIT
 * returned. If the COMMIT fails, every request of the group gets a 503 and the in-memory copies (catalog,
 * popularity), which the handlers updated inside the group, are reloaded from the store. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "serve/events.h"
#include "serve/online.h"
#include "serve/routes.h"

#define GROUP_MAX 512  /* requests per transaction: bounds the latency of the first one in the group */

/* The history cache (histcache.h) after a committed write, before it is acknowledged: drop the entries of the
 * users the write touched; a write route not known to leave events alone and not attributable to its users
 * (item deletion, any route added later) drops everything. */
void crec__hist_after_write(crec_server *s, const crec__req *q, crec__reply *r) {
    char *users = r->hist_users;
    size_t users_len = r->hist_users_len;
    r->hist_users = NULL, r->hist_users_len = 0;
    if (!s->hist) {
        free(users);
        return;
    }
    switch (q->m.route) {
    case CREC__R_EVENTS:
        if (r->status < 200 || r->status >= 300) { /* refused: nothing was written */
            free(users);
            return;
        }
        if (!users) { /* committed, but the handler could not name its users (out of memory) */
            crec__hist_clear(s->hist);
            return;
        }
        /* the names the handler staged when it parsed the batch: no second parse of the body here */
        for (size_t o = 0; o < users_len;) {
            size_t len = strlen(users + o);
            crec__hist_invalidate(s->hist, users + o, len);
            o += len + 1;
        }
        free(users);
        return;
    case CREC__R_USER_DELETE:
    case CREC__R_FEEDBACK_DELETE: /* /v1/feedback/{user}/{item} */
        if (q->m.id) crec__hist_invalidate(s->hist, q->m.id, strlen(q->m.id));
        else crec__hist_clear(s->hist);
        return;
    case CREC__R_ITEMS_CREATE: case CREC__R_ITEM_PUT: case CREC__R_ITEM_PATCH: case CREC__R_ITEMS_BATCH:
    case CREC__R_ITEM_CAT_PUT: case CREC__R_ITEM_CAT_DELETE: case CREC__R_USER_PUT:
    case CREC__R_CONV_START: case CREC__R_CONV_TURN:
        return; /* items, labels, conversations: no events */
    default:
        crec__hist_clear(s->hist);
    }
    free(users);
}

static void *writer_main(void *arg) {
    crec_server *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->wq_mu);
        while (!s->wq_head && !s->wq_stop) pthread_cond_wait(&s->wq_cv, &s->wq_mu);
        if (!s->wq_head) {  /* stopping and drained */
            s->wq_running = 0;
            pthread_mutex_unlock(&s->wq_mu);
            break;
        }
        crec__wjob *group = s->wq_head, *last = group;
        int n = 1;
        while (last->next && n < GROUP_MAX) last = last->next, n++;
        s->wq_head = last->next;
        if (!s->wq_head) s->wq_tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&s->wq_mu);

        crec__tls *t = crec__tls_get(s);
        pthread_mutex_lock(&s->write_mu);
        int rc = t ? crec_store_group_begin(t->store) : CREC_EIO;
        if (s->wq_test_delay_ms > 0) usleep((useconds_t)s->wq_test_delay_ms * 1000);  /* tests: a slow disk */
        for (crec__wjob *j = group; j; j = j->next) {
            if (rc) {
                j->r.retry_after = 1;
                crec__reply_err(&j->r, 503, "unavailable", "the store cannot start a write: %s", crec_strerror(rc));
                continue;
            }
            crec__route_run_write(s, t, &j->q, &j->r);
        }
        if (!rc) {
            int crc = crec_store_group_commit(t->store);
            if (crc) {
                for (crec__wjob *j = group; j; j = j->next) {
                    json_decref(j->r.json);
                    free(j->r.owned);
                    free(j->r.hist_users);
                    memset(&j->r, 0, sizeof j->r);
                    j->r.retry_after = 1;
                    crec__reply_err(&j->r, 503, "unavailable", "the store could not commit: %s (nothing was written)",
                                    crec_strerror(crc));
                }
                /* the handlers updated the in-memory copies before the commit that failed */
                crec__online_drop(s);
                crec__events_drop(s);
                crec__hist_clear(s->hist); /* nothing was written; dropped all the same */
                if (crec__catalog_load(&s->cat, t->store) == 0) crec__pop_reload(&s->pop, t->store);
            } else {
                /* committed, not yet acknowledged: the cached histories it touched go first */
                for (crec__wjob *j = group; j; j = j->next) crec__hist_after_write(s, &j->q, &j->r);
                crec__online_commit(s); /* --online: only committed events are learned */
                crec__events_commit(s); /* --events: the publisher reads them from the store */
                atomic_fetch_add(&s->metrics.write_groups, 1);
                atomic_fetch_add(&s->metrics.write_requests, (unsigned long long)n);
            }
        }
        pthread_mutex_unlock(&s->write_mu);
        for (crec__wjob *j = group, *next; j; j = next) {
            next = j->next;  /* j belongs to its connection, which may be answered and freed once resumed */
            atomic_store(&j->done, 1);
            MHD_resume_connection(j->conn);
        }
    }
    return NULL;
}

int crec__writer_start(crec_server *s) {
    pthread_mutex_init(&s->wq_mu, NULL);
    pthread_cond_init(&s->wq_cv, NULL);
    s->wq_head = s->wq_tail = NULL;
    s->wq_stop = 0;
    s->wq_running = 1;
    /* tests only: hold every group open this long, as a slow disk would (serve.sh checks that reads go on
     * meanwhile and that requests queued meanwhile share one transaction) */
    const char *d = getenv("CREC_SERVE_TEST_WRITE_DELAY_MS");
    s->wq_test_delay_ms = d ? atoi(d) : 0;
    if (pthread_create(&s->wq_thread, NULL, writer_main, s)) {
        s->wq_running = 0;
        pthread_cond_destroy(&s->wq_cv);
        pthread_mutex_destroy(&s->wq_mu);
        return CREC_ENOMEM;
    }
    return 0;
}

void crec__writer_stop(crec_server *s) {
    pthread_mutex_lock(&s->wq_mu);
    s->wq_stop = 1;
    pthread_cond_signal(&s->wq_cv);
    pthread_mutex_unlock(&s->wq_mu);
    pthread_join(s->wq_thread, NULL);
    pthread_cond_destroy(&s->wq_cv);
    pthread_mutex_destroy(&s->wq_mu);
}

int crec__writer_submit(crec_server *s, crec__wjob *j) {
    pthread_mutex_lock(&s->wq_mu);
    if (!s->wq_running || s->wq_stop) {
        pthread_mutex_unlock(&s->wq_mu);
        return -1;
    }
    /* suspended before it is queued: the writer may resume it at once */
    MHD_suspend_connection(j->conn);
    j->next = NULL;
    atomic_store(&j->done, 0);
    if (s->wq_tail) s->wq_tail->next = j;
    else s->wq_head = j;
    s->wq_tail = j;
    pthread_cond_signal(&s->wq_cv);
    pthread_mutex_unlock(&s->wq_mu);
    return 0;
}
