/* deadline.h: a fixed time budget for each request's headers and body, however slowly they dribble in.
 *
 * libmicrohttpd's own timeout is an idle timeout: every byte a client sends resets it, so a client sending one
 * byte every few seconds holds a connection (and a slot of the per-client and global caps) for ever. Here every
 * connection gets a clock, started when it opens and restarted when an answer has gone out (the next request of
 * a keep-alive connection begins then); when the request has not been fully received (headers and body) within
 * the budget, the connection is closed. The time a handler or the writer thread takes is not the client's and
 * does not count: the clock stops when the whole request is in.
 *
 * How it closes: a watchdog thread shuts the socket down (shutdown(2), never close(2)); libmicrohttpd then sees
 * the end of the stream and closes the connection itself. The watchdog only touches a socket while its entry is
 * in the list, and libmicrohttpd removes the entry (MHD_CONNECTION_NOTIFY_CLOSED) before it closes the socket,
 * under the same mutex, so a socket number reused by a newer connection is never shut down by mistake. */
#ifndef CREC_SERVE_DEADLINE_H
#define CREC_SERVE_DEADLINE_H

#include <stdatomic.h>

typedef struct crec__deadlines crec__deadlines;
typedef struct crec__dl_conn crec__dl_conn;

/* Start the watchdog: budget seconds (> 0) per request; *timed_out is bumped for each connection closed. */
int crec__deadlines_start(crec__deadlines **out, double budget, atomic_ullong *timed_out);
void crec__deadlines_stop(crec__deadlines *d);
/* A connection opened (socket fd) / closed: its entry (NULL when out of memory: that connection has no
 * budget). */
crec__dl_conn *crec__deadline_open(crec__deadlines *d, int fd);
void crec__deadline_close(crec__deadlines *d, crec__dl_conn *c);
/* The whole request is in (stop the clock) / an answer went out (start it again for the next request). */
void crec__deadline_received(crec__deadlines *d, crec__dl_conn *c);
void crec__deadline_next(crec__deadlines *d, crec__dl_conn *c);
#endif
