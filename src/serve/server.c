/* server.c: the HTTP side of crec serve: libmicrohttpd daemon with an internal thread pool, request bodies
 * under a size limit, authentication, dispatch to the route table (routes.h), JSON replies on the wire,
 * metrics, start and stop. It is the top of the server's layers: nothing includes it.
 *
 * The one idea: one access handler does the same five steps for every request - match the route, refuse
 * early what is refused anyway (405, 413 from Content-Length, 401/403), collect the body up to the limit,
 * call the handler, answer - and every answer, errors included, goes through one reply function that also
 * counts it. Handlers never touch MHD, so nothing a client sends reaches code that was not written for it. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "core/util.h"
#include "serve/deadline.h"
#include "serve/events.h"
#include "serve/online.h"
#include "serve/reccall.h"
#include "serve/series.h"
#include "serve/routes.h"

/* Hostile clients: one client address holds at most conns_per_client (default CONNS_PER_CLIENT) of the MAX_CONNS
 * connections, so idle sockets from one place cannot lock everyone out. */
#define MAX_CONNS 1000
#define CONNS_PER_CLIENT 128
/* A request must be fully received (headers and body) within REQUEST_TIMEOUT seconds of the connection's
 * opening or its previous answer, however slowly it dribbles (--request-timeout; deadline.h). */
#define REQUEST_TIMEOUT 30.0

void crec_serve_opts_defaults(crec_serve_opts *o) {
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->threads = 2;
    o->max_body = 1 << 20;
    o->conns_per_client = CONNS_PER_CLIENT;
    o->request_timeout = REQUEST_TIMEOUT;
    o->history_cache_mb = 64;
}

/* The connection's receive budget (deadline.h): its entry, kept as MHD's socket context. */
static crec__dl_conn *dl_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    crec_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? crec__deadline_open(s->deadlines, ci->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        crec__deadline_close(s->deadlines, *socket_context); /* before MHD closes the socket */
        *socket_context = NULL;
    }
}

/* ---- the access handler ---- */

typedef struct conn_state {
    double t0;
    crec__match m;
    char *body;
    size_t len, cap;
    int too_big;      /* the body passed max_body: discard the rest, answer 413 */
    int answered;     /* a response was queued before the body arrived */
    int queued;       /* handed to the writer thread (writer.c); job.r is the answer once job.done */
    crec__wjob job;
} conn_state;

static enum MHD_Result send_reply(crec_server *s, struct MHD_Connection *c, conn_state *cs, crec__reply *r) {
    char *text = NULL;
    size_t len = 0;
    const char *ctype = r->ctype;
    if (r->json) {
        text = json_dumps(r->json, JSON_COMPACT | JSON_REAL_PRECISION(7));
        json_decref(r->json);
        r->json = NULL;
        if (!text) {
            r->status = 500;
            text = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"cannot serialize the answer\"}}");
        }
        len = text ? strlen(text) : 0;
        ctype = "application/json";
    }
    struct MHD_Response *resp;
    if (text) resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    else if (r->owned) resp = MHD_create_response_from_buffer(r->len, r->owned, MHD_RESPMEM_MUST_FREE);
    else resp = MHD_create_response_from_buffer(r->len, (void *)r->data, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(text ? text : r->owned);
        return MHD_NO;
    }
    if (ctype) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->header_name) MHD_add_response_header(resp, r->header_name, r->header_value);
    if (r->status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (r->retry_after) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", r->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    double dt = crec__now() - cs->t0;
    crec__metrics_observe(&s->metrics, cs->m.route, r->status, dt);
    crec__series_tick(s);
    if (s->opts.access_log) {
        fprintf(stderr, "%s %d %.2fms\n", crec__route_label(cs->m.route), r->status, dt * 1e3);
    }
    return ok;
}

/* Counts the Content-Length headers of a request and whether they disagree (request smuggling: a proxy and
 * crec must never read different bodies from the same bytes). */
typedef struct cl_scan { int n, differ; const char *first; } cl_scan;
static enum MHD_Result count_cl(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    cl_scan *sc = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0) return MHD_YES;
    if (sc->n++ == 0) sc->first = value;
    else if (strcmp(sc->first ? sc->first : "", value ? value : "") != 0) sc->differ = 1;
    return MHD_YES;
}

/* Refusals that do not need the body: malformed framing, route, method, size, key. Returns 1 when r was filled. */
static int early_refusal(crec_server *s, struct MHD_Connection *c, const char *method, const char *version,
                         conn_state *cs, crec__reply *r) {
    /* HTTP/1.1 requires Host (RFC 9112 3.2); a request without one is malformed */
    if (version && strcmp(version, MHD_HTTP_VERSION_1_1) == 0 &&
        !MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST)) {
        crec__reply_err(r, 400, "bad_request", "an HTTP/1.1 request needs a Host header");
        return 1;
    }
    cl_scan sc = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_cl, &sc);
    if (sc.differ) {
        crec__reply_err(r, 400, "bad_request", "conflicting Content-Length headers");
        return 1;
    }
    if (cs->m.status == 404) {
        crec__reply_err(r, 404, "not_found", "no such route");
        return 1;
    }
    if (cs->m.status == 405) {
        crec__reply_err(r, 405, "method_not_allowed", "%s is not allowed here (allowed: %s)", method, cs->m.allow);
        r->allow = cs->m.allow;
        return 1;
    }
    if (cs->m.status == 400 && cs->m.route == CREC__R_NONE) {
        crec__reply_err(r, 400, "bad_request", "the path holds a control character (or %%00)");
        return 1;
    }
    if (cs->m.status == 400) {
        crec__reply_err(r, 400, "bad_id", "the id in the path must be 1..%d bytes of UTF-8 without control "
                                          "characters or '/'", CREC_STORE_MAX_ID);
        return 1;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > s->opts.max_body) {
        atomic_fetch_add(&s->metrics.body_rejected, 1);
        crec__reply_err(r, 413, "body_too_large", "the body is larger than %zu bytes", s->opts.max_body);
        return 1;
    }
    crec__auth auth = crec__route_auth(cs->m.route);
    int needs_key = auth == CREC__WRITE || auth == CREC__PRIVATE ||
                    (auth == CREC__READ && s->opts.require_key_for_reads);
    if (needs_key && s->n_keys > 0) {
        int a = crec__auth_check(s, c);
        if (a) {
            atomic_fetch_add(&s->metrics.auth_failures, 1);
            if (a == 401) crec__reply_err(r, 401, "unauthorized", "an API key is required (Authorization: Bearer KEY)");
            else crec__reply_err(r, 403, "forbidden", "the API key is not valid");
            return 1;
        }
    }
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    crec_server *s = cls;
    conn_state *cs = *con_cls;
    if (!cs) {
        if (!(cs = calloc(1, sizeof *cs))) return MHD_NO;
        cs->t0 = crec__now();
        *con_cls = cs;
        crec__route_match(method, url, &cs->m);
        crec__reply r = {0};
        if (early_refusal(s, c, method, version, cs, &r)) {
            /* answered before any body byte is read (with Expect: 100-continue the client never sends it) */
            cs->answered = 1;
            crec__deadline_received(s->deadlines, dl_of(c));
            return send_reply(s, c, cs, &r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (cs->answered || cs->too_big) return MHD_YES;
        if (cs->len + n > s->opts.max_body) {
            cs->too_big = 1;
            free(cs->body);
            cs->body = NULL;
            cs->len = cs->cap = 0;
            return MHD_YES;
        }
        if (cs->len + n + 1 > cs->cap) {
            size_t nc = cs->cap ? cs->cap : 4096;
            while (nc < cs->len + n + 1) nc *= 2;
            char *nb = realloc(cs->body, nc);
            if (!nb) return MHD_NO;
            cs->body = nb;
            cs->cap = nc;
        }
        memcpy(cs->body + cs->len, upload, n);
        cs->len += n;
        cs->body[cs->len] = 0;
        return MHD_YES;
    }
    crec__deadline_received(s->deadlines, dl_of(c)); /* headers and body are in: the rest is not the client's */
    if (cs->queued) {
        /* called again after the writer resumed the connection: its answer is ready */
        if (!atomic_load(&cs->job.done) || cs->answered) return MHD_YES;
        cs->answered = 1;
        return send_reply(s, c, cs, &cs->job.r);
    }
    if (cs->answered) return MHD_YES;
    crec__reply r = {0};
    if (!cs->too_big && crec__route_is_grouped(cs->m.route)) {
        crec__wjob *j = &cs->job;
        memset(j, 0, sizeof *j);
        j->conn = c;
        j->q = (crec__req){.conn = c, .method = method, .m = cs->m, .body = cs->body, .body_len = cs->len};
        j->q.m.id = cs->m.id ? j->q.m.id_buf : NULL;
        j->q.m.allow = cs->m.allow ? j->q.m.allow_buf : NULL;
        cs->queued = 1;
        if (crec__writer_submit(s, j) == 0) return MHD_YES;
        cs->queued = 0;  /* the writer has stopped: answer here */
    }
    cs->answered = 1;
    if (cs->too_big) {
        atomic_fetch_add(&s->metrics.body_rejected, 1);
        crec__reply_err(&r, 413, "body_too_large", "the body is larger than %zu bytes", s->opts.max_body);
        return send_reply(s, c, cs, &r);
    }
    crec__req q = {.conn = c, .method = method, .m = cs->m, .body = cs->body, .body_len = cs->len};
    q.m.id = cs->m.id ? q.m.id_buf : NULL;
    q.m.allow = cs->m.allow ? q.m.allow_buf : NULL;
    crec__route_run(s, &q, &r);
    if (!r.status) crec__reply_err(&r, 500, "internal", "no answer");
    return send_reply(s, c, cs, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    crec_server *s = cls;
    crec__deadline_next(s->deadlines, dl_of(c)); /* a keep-alive connection's next request starts its clock */
    conn_state *cs = *con_cls;
    if (cs) {
        if (cs->queued && !cs->answered) {  /* the connection closed before its answer went out */
            json_decref(cs->job.r.json);
            free(cs->job.r.owned);
        }
        free(cs->body);
        free(cs);
    }
    *con_cls = NULL;
}

/* MHD's percent-decoder for the path and query values, replaced so that a %00 cannot cut them short. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s) {
    (void)cls, (void)c;
    return crec__url_unescape(s);
}

/* MHD's messages (a connection dropped, a malformed request) come from what clients do, so a client must not
 * be able to fill the log: at most LOG_BURST lines per second, then one line saying how many were left out. */
#define LOG_BURST 10
static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static time_t window;
    static int in_window;
    static unsigned long suppressed;
    time_t now = time(NULL);
    pthread_mutex_lock(&mu);
    if (now != window) {
        if (suppressed) fprintf(stderr, "crec serve: mhd: %lu more messages left out (at most %d a second)\n",
                                suppressed, LOG_BURST);
        window = now;
        in_window = 0;
        suppressed = 0;
    }
    if (in_window++ < LOG_BURST) {
        fputs("crec serve: mhd: ", stderr);
        vfprintf(stderr, fmt, ap);
    } else {
        suppressed++;
    }
    pthread_mutex_unlock(&mu);
}

/* ---- start / stop ---- */

static int is_loopback(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET) return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

static char *dup_opt(const char *s) { return s ? strdup(s) : NULL; }

/* The server's state (store, keys, catalog, popularity, model) and, when with_http, the HTTP daemon. Without it
 * (crec mcp over stdio) the state serves the calling thread alone. */
int crec__server_open(const crec_serve_opts *o, int with_http, crec_server **out, char *err, size_t errn) {
    *out = NULL;
    if (err && errn) err[0] = 0;
    if (!o || !o->db_path || !o->model_path) {
        crec__errf(err, errn, "the store (--db) and the model (--model) are required");
        return CREC_EINVAL;
    }
    if (o->threads < 1 || o->threads > 256 || o->port < 0 || o->port > 65535) {
        crec__errf(err, errn, "threads must be in [1, 256] and the port in [0, 65535]");
        return CREC_EINVAL;
    }
    crec_server *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    s->opts = *o;
    if (!s->opts.host) s->opts.host = "127.0.0.1";
    if (!s->opts.max_body) s->opts.max_body = 1 << 20;
    s->db_path = dup_opt(o->db_path);
    s->model_path = dup_opt(o->model_path);
    s->data_path = dup_opt(o->data_path);
    s->host = dup_opt(s->opts.host);
    s->opts.db_path = s->db_path;
    s->opts.model_path = s->model_path;
    s->opts.data_path = s->data_path;
    s->opts.host = s->host;
    s->opts.api_keys = s->opts.api_key_file = NULL;
    pthread_mutex_init(&s->store_mu, NULL);
    pthread_mutex_init(&s->bundle_mu, NULL);
    pthread_mutex_init(&s->reload_mu, NULL);
    pthread_mutex_init(&s->write_mu, NULL);
    atomic_init(&s->next_version, 0);
    int pop_ok = 0, key_ok = 0, cat_ok = 0, writer_ok = 0;
    int rc = 0;
    if (!s->db_path || !s->model_path || !s->host || (o->data_path && !s->data_path)) {
        rc = CREC_ENOMEM;
        goto fail;
    }
    if (pthread_key_create(&s->tls_key, crec__tls_free)) {
        rc = CREC_ENOMEM;
        goto fail;
    }
    key_ok = 1;
    if ((rc = crec__auth_load(s, o->api_keys, o->api_key_file, err, errn))) goto fail;
    /* the listening address */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", o->port);
    struct sockaddr_storage addr = {0};
    if (with_http && (getaddrinfo(s->host, port, &hints, &ai) != 0 || !ai)) {
        crec__errf(err, errn, "cannot resolve --host %s", s->host);
        rc = CREC_EINVAL;
        goto fail;
    }
    if (ai) {
        memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
        freeaddrinfo(ai);
    }
    if (with_http && !is_loopback((struct sockaddr *)&addr) && s->n_keys == 0 && !o->allow_open_writes) {
        crec__errf(err, errn, "refusing to listen on %s without an API key: writes would be open to anyone who can "
                              "reach it (set CREC_API_KEYS or --api-key-file, or pass --allow-open-writes)", s->host);
        rc = CREC_EINVAL;
        goto fail;
    }
    crec_store_opts so = {.sync_normal = o->sync_normal};
    if ((rc = crec_store_open(s->db_path, &so, &s->store, err, errn))) goto fail;
    /* the history cache: not for PostgreSQL, whose other writers it would not see */
    int pg = strncmp(s->db_path, "postgres://", 11) == 0 || strncmp(s->db_path, "postgresql://", 13) == 0;
    if (o->history_cache_mb < 0 || o->history_cache_mb > 1 << 20) {
        crec__errf(err, errn, "history_cache_mb must be in [0, %d]", 1 << 20);
        rc = CREC_EINVAL;
        goto fail;
    }
    if (!pg && (rc = crec__hist_open((size_t)o->history_cache_mb << 20, &s->hist))) goto fail;
    if ((rc = crec__pop_init(&s->pop, s->store))) {
        crec__errf(err, errn, "reading item popularity from the store: %s", crec_strerror(rc));
        goto fail;
    }
    pop_ok = 1;
    pthread_rwlock_init(&s->cat.lock, NULL);
    crec_idmap_init(&s->cat.ids);
    atomic_init(&s->cat.gen, 1);
    cat_ok = 1;
    if ((rc = crec__catalog_load(&s->cat, s->store))) {
        crec__errf(err, errn, "reading the items from the store: %s", crec_strerror(rc));
        goto fail;
    }
    if ((rc = crec__bundle_load(s, s->store, s->model_path, s->data_path, &s->bundle, err, errn))) goto fail;
    if ((rc = crec__fallback_open(s, o->fallback, err, errn))) goto fail; /* --fallback: backup models */
    if ((rc = crec__online_start(s, err, errn))) goto fail; /* --online: the learner (online.c) */
    if ((rc = crec__events_start(s, err, errn))) goto fail; /* --events / --deltas: Redis (events_redis.c) */
    if (o->crs_model_path && (rc = crec__conv_open(s, o->crs_model_path, o->crs_names_path, err, errn))) goto fail;
    s->started = crec__now();
    struct timeval tv;
    gettimeofday(&tv, NULL);
    s->started_unix = (double)tv.tv_sec;
    if ((rc = crec__writer_start(s))) {
        crec__errf(err, errn, "cannot start the writer thread");
        goto fail;
    }
    writer_ok = 1;
    if (!with_http) {
        *out = s;
        return 0;
    }
    if ((rc = crec__series_open(s))) goto fail;
    double budget = o->request_timeout > 0 ? o->request_timeout : REQUEST_TIMEOUT;
    if ((rc = crec__deadlines_start(&s->deadlines, budget, &s->metrics.requests_timed_out))) {
        crec__errf(err, errn, "cannot start the request deadline thread");
        goto fail;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, /* first, so MHD never logs on its own */
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                                 MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNS,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                 (unsigned)(o->conns_per_client > 0 ? o->conns_per_client : CONNS_PER_CLIENT),
                                 MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        crec__errf(err, errn, "cannot listen on %s port %d (in use, or not an address of this machine)", s->host,
                   o->port);
        rc = CREC_ENET;
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    *out = s;
    return 0;
fail:
    crec__deadlines_stop(s->deadlines);
    crec__series_close(s);
    crec__fallback_close(s);
    if (writer_ok) crec__writer_stop(s);
    crec__online_stop(s);
    crec__events_stop(s);
    crec__conv_close(s);
    if (s->bundle) crec__bundle_release(s->bundle);
    if (pop_ok) crec__pop_free(&s->pop);
    if (cat_ok) {
        crec__catalog_clear(&s->cat);
        pthread_rwlock_destroy(&s->cat.lock);
    }
    crec_store_close(s->store);
    crec__hist_close(s->hist);
    if (key_ok) pthread_key_delete(s->tls_key);
    crec__auth_free(s);
    pthread_mutex_destroy(&s->store_mu);
    pthread_mutex_destroy(&s->bundle_mu);
    pthread_mutex_destroy(&s->reload_mu);
    pthread_mutex_destroy(&s->write_mu);
    free(s->db_path);
    free(s->model_path);
    free(s->data_path);
    free(s->host);
    free(s);
    return rc ? rc : CREC_EIO;
}

int crec_server_start(const crec_serve_opts *o, crec_server **out, char *err, size_t errn) {
    return crec__server_open(o, 1, out, err, errn);
}

int crec_server_port(const crec_server *s) { return s ? s->port : -1; }

void crec_server_stop(crec_server *s) {
    if (!s) return;
    /* the writer first: it answers what is queued (write requests arriving later are answered inline) */
    crec__writer_stop(s);
    /* joins the pool threads: their crec__tls (store connections, scratch) go with them */
    if (s->daemon) MHD_stop_daemon(s->daemon);
    crec__deadlines_stop(s->deadlines); /* every connection is closed and removed by now */
    crec__series_close(s);
    crec__conv_close(s);
    crec__online_stop(s); /* applies what was acknowledged, writes a last checkpoint */
    crec__events_stop(s); /* publishes what was acknowledged (when Redis answers) */
    crec__bundle_release(s->bundle);
    crec__fallback_close(s);
    crec__pop_free(&s->pop);
    crec__catalog_clear(&s->cat);
    pthread_rwlock_destroy(&s->cat.lock);
    crec_store_close(s->store);
    crec__hist_close(s->hist);
    pthread_key_delete(s->tls_key);
    crec__auth_free(s);
    pthread_mutex_destroy(&s->store_mu);
    pthread_mutex_destroy(&s->bundle_mu);
    pthread_mutex_destroy(&s->reload_mu);
    pthread_mutex_destroy(&s->write_mu);
    free(s->db_path);
    free(s->model_path);
    free(s->data_path);
    free(s->host);
    free(s);
}
