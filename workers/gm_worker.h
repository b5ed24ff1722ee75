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
/* Register function (timeout 0: a function timeout makes gearmand requeue
 * a job its worker still holds). */
int gm_worker_define(gearman_worker_st *w, const char *function,
    gearman_function_t fn, void *context, char *err, size_t errlen);
/* Work jobs until *stop: the job in hand always finishes, since work()
 * returns only after it. gearmand being away is waited out with a growing
 * pause (work() fails at once on every call while it is), counted in sb.
 * With ready, ready(arg) is called before each wait for a job: it returns
 * when the caller can take one. */
void gm_worker_serve(gearman_worker_st *w, const atomic_int *stop,
    struct sb_slot *sb, void (*ready)(void *), void *arg);
/* Write the completions gv holds; a failure is logged and counted in sb
 * (the jobs run again when their leases end). */
void gm_worker_flush(gv_client *gv, struct sb_slot *sb);

#endif
