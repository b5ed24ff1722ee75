/*
 * gm_admin: gearmand's admin `status` command over a TCP connection of its
 * own (libgearman has no C API for admin commands), and the depths it
 * gives: the jobs waiting and the workers of each function on one server.
 */
#ifndef GM_ADMIN_H
#define GM_ADMIN_H

#include <stddef.h>

#include "config.h"
#include "util.h"

/* Waiting jobs (total - running) per function on one server. */
struct gm_depth {
	char *funcname;
	long waiting;
	long workers;            /* connected workers that can do it */
};
struct gm_depths {
	struct gm_depth *items;
	size_t n;
};

/* gearmand answers `status` from counters in about a millisecond, even with
 * a million jobs queued. A server that has not answered GM_STATUS_WAIT after
 * it was asked is silent: it gets no jobs until it answers. One that has
 * not answered in GM_STATUS_TIMEOUT is failed (backs off), like a server
 * whose submit failed. */
#define GM_STATUS_WAIT 0.5
#define GM_STATUS_TIMEOUT 2.0

/* One `status` on a connection of its own, closed after. */
int gm_admin_status(const struct config_server *srv, double timeout,
    struct gm_depths *out, char *err, size_t errlen);

/* The waiting count of funcname in d (0 if absent). */
long gm_depths_get(const struct gm_depths *d, const char *funcname);
/* The workers of funcname on that server; 0 when it has none or does not
 * know the function. */
long gm_depths_workers(const struct gm_depths *d, const char *funcname);
void gm_depths_free(struct gm_depths *d);
/* Add n to the count of funcname in d (an entry made at 0 if absent), for
 * depths kept as counters. -1 when out of memory. */
int gm_depths_add(struct gm_depths *d, const char *funcname, long n);

/* An admin connection kept open across requests, read without blocking.
 * Its fields are gm_admin's. */
struct gm_admin {
	int fd;                      /* -1: not connected */
	struct buf in;               /* the answer so far */
	size_t off;                  /* lines before off are parsed */
	struct gm_depths pending;    /* the answer's lines so far */
	int awaiting;                /* a request is unanswered */
	int reused;                  /* the connection answered before */
	double sent_at;              /* time_mono() of the request */
};

void gm_admin_init(struct gm_admin *a);     /* not connected */
void gm_admin_close(struct gm_admin *a);    /* closed; may be sent again */
void gm_admin_free(struct gm_admin *a);     /* closed, memory freed */
/* Send `status`, connecting first (by deadline, a time_mono()) if there
 * is no connection. -1 with err, the connection closed. */
int gm_admin_send(struct gm_admin *a, const struct config_server *srv,
    double deadline, char *err, size_t errlen);
/* Read what has arrived of the answer. 1 when it is complete (then it
 * replaces *out), 0 when more is to come, -1 on error, or -2 when a kept
 * connection failed before a byte of the answer came (most likely it was
 * closed while idle: gearmand restarted), the connection closed in both
 * cases. */
int gm_admin_read(struct gm_admin *a, const struct config_server *srv,
    struct gm_depths *out, char *err, size_t errlen);
/* The descriptor to poll for the answer, -1 when no request is out. */
int gm_admin_fd(const struct gm_admin *a);
/* time_mono() of the request not answered yet, 0 when none is out. */
double gm_admin_sent_at(const struct gm_admin *a);

#endif
