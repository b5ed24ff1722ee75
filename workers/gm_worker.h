/*
 * gm_worker: the gearman workers of the roles (see doc/libgearman.md,
 * "Workers").
 */
#ifndef GM_WORKER_H
#define GM_WORKER_H

#include <stdatomic.h>
#include <stddef.h>

#include <libgearman-1.0/gearman.h>

#include "config.h"
#include "garivini.h"
#include "scoreboard.h"

/* A worker connected to every server, with a wake-up timeout (the only
 * one it gets: gm_worker_serve keeps it) so the caller can check its stop
 * flag; functions are registered with timeout 0. */
gearman_worker_st *gm_worker_new(const struct config_server *servers,
    size_t n, int timeout_ms, char *err, size_t errlen);
/* A function a worker registers, called with the worker's context. */
struct gm_worker_fn {
	const char *name;
	gearman_function_t fn;
};
/* gm_worker_new with fns[0..n) registered (gm_worker_define), each called
 * with context. NULL with err. */
gearman_worker_st *gm_worker_open(const struct config_server *servers,
    size_t nservers, int timeout_ms, const struct gm_worker_fn *fns,
    size_t n, void *context, char *err, size_t errlen);
/* Register function (timeout 0: a function timeout makes gearmand requeue
 * a job its worker still holds). */
int gm_worker_define(gearman_worker_st *w, const char *function,
    gearman_function_t fn, void *context, char *err, size_t errlen);
/* What a worker's function returns to hand the job in hand back to
 * gearmand, after it set handed_back in its struct gm_serve: libgearman
 * 1.1.20 then closes the worker's connections (made again by the next
 * work()), and gearmand 1.1.20 queues the job again for another worker
 * (--job-retries unset: no limit; see doc/libgearman.md). */
#define GM_HAND_BACK GEARMAN_ERROR

/* How gm_worker_serve works jobs. */
struct gm_serve {
	const atomic_int *stop;     /* until *stop */
	struct sb_slot *sb;         /* gearmand errors counted, heartbeats */
	/* If set, called before each wait for a job: it returns when the
	 * caller can take one. */
	void (*ready)(void *arg);
	/* If set, the gate: while up(arg) is 0 the worker is closed (its
	 * connections go, and with them what gearmand knows it can do, so
	 * gearmand gives those jobs to other workers), and once it is 1
	 * again, open(arg) makes a new one. */
	int (*up)(void *arg);
	gearman_worker_st *(*open)(void *arg);
	void *arg;
	int handed_back;            /* set by a function: GM_HAND_BACK */
};
/* Work jobs with *w until *s->stop: the job in hand always finishes,
 * since work() returns only after it. gearmand being away is waited out
 * with a growing pause (work() fails at once on every call while it is),
 * counted in sb. *w may be replaced (the gate), or NULL at the end. */
void gm_worker_serve(gearman_worker_st **w, struct gm_serve *s);
/* Write the completions gv holds; a failure is logged and counted in sb
 * (the jobs run again when their leases end). */
void gm_worker_flush(gv_client *gv, struct sb_slot *sb);

#endif
