/*
 * gm_worker: the gearman workers of the roles: one worker connected to
 * every gearmand, its functions registered, and the loop that works jobs
 * until the role is asked to stop, waiting out gearmand's absence.
 */
#include <string.h>

#include "gm.h"
#include "gm_worker.h"
#include "log.h"
#include "util.h"

#define GM_WORK_BACKOFF_MAX 10.0  /* a worker waiting for gearmand */
#define GM_GATE_POLL 0.2          /* a closed worker looks at its gate */

gearman_worker_st *
gm_worker_new(const struct config_server *servers, size_t n, int timeout_ms,
    char *err, size_t errlen)
{
	gearman_worker_st *w;
	size_t i;

	if ((w = gearman_worker_create(NULL)) == NULL) {
		errf(err, errlen, "gearman_worker_create failed");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (gearman_worker_add_server(w, servers[i].host,
		    (in_port_t)servers[i].port) != GEARMAN_SUCCESS) {
			errf(err, errlen, "gearmand %s:%u: %s", servers[i].host,
			    servers[i].port, gearman_worker_error(w));
			gearman_worker_free(w);
			return NULL;
		}
	}
	/* Signals do not interrupt gearman_worker_work(): the timeout is what
	 * lets the role look at its stop flag. */
	gearman_worker_set_timeout(w, timeout_ms);
	gearman_worker_add_options(w, GEARMAN_WORKER_GRAB_UNIQ);
	return w;
}

int
gm_worker_define(gearman_worker_st *w, const char *function,
    gearman_function_t fn, void *context, char *err, size_t errlen)
{
	if (gearman_worker_define_function(w, function, strlen(function), fn,
	    0, context) != GEARMAN_SUCCESS)
		return errf(err, errlen, "registering %s: %s", function,
		    gearman_worker_error(w));
	return 0;
}

gearman_worker_st *
gm_worker_open(const struct config_server *servers, size_t nservers,
    int timeout_ms, const struct gm_worker_fn *fns, size_t n, void *context,
    char *err, size_t errlen)
{
	gearman_worker_st *w;
	size_t i;

	if ((w = gm_worker_new(servers, nservers, timeout_ms, err, errlen)) ==
	    NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (gm_worker_define(w, fns[i].name, fns[i].fn, context, err,
		    errlen) == -1) {
			gearman_worker_free(w);
			return NULL;
		}
	return w;
}

void
gm_worker_flush(gv_client *gv, struct sb_slot *sb)
{
	size_t n = gv_pending(gv);

	if (n && gv_flush(gv) != GV_OK) {
		scoreboard_count(sb, SB_DB_ERRORS, 1);
		log_warnx("completing %zu jobs: %s; they run again when their "
		    "leases end", n, gv_errmsg(gv));
	}
}

/* The gate of s: close *w while up() is 0, and wait; make a new worker
 * when it is 1 again. 0 when *w may take a job. */
static int
gate(gearman_worker_st **w, struct gm_serve *s)
{
	if (s->up == NULL)
		return 0;
	if (!s->up(s->arg)) {
		if (*w) {
			/* Between jobs: the one in hand was answered. */
			gearman_worker_free(*w);
			*w = NULL;
		}
		time_sleep(GM_GATE_POLL, s->stop);
		return -1;
	}
	if (*w == NULL && (*w = s->open(s->arg)) == NULL) {
		time_sleep(GM_WORK_BACKOFF_MAX, s->stop);
		return -1;
	}
	return 0;
}

void
gm_worker_serve(gearman_worker_st **w, struct gm_serve *s)
{
	gearman_return_t ret;
	double backoff = 0;

	while (!*s->stop) {
		scoreboard_heartbeat(s->sb);
		if (s->ready) {
			s->ready(s->arg);
			if (*s->stop)
				break;
		}
		if (gate(w, s) == -1)
			continue;
		ret = gearman_worker_work(*w);
		switch (ret) {
		case GEARMAN_SUCCESS:
		case GEARMAN_WORK_FAIL:     /* a job the function refused */
		case GEARMAN_TIMEOUT:
		case GEARMAN_NO_JOBS:
		case GEARMAN_IO_WAIT:
			if (backoff > 0)
				log_notice("gearmand reachable again");
			backoff = 0;
			continue;
		default:
			break;
		}
		/* A job handed back (GM_HAND_BACK): the connections went
		 * on purpose, and come back at the next work(). */
		if (s->handed_back) {
			s->handed_back = 0;
			continue;
		}
		scoreboard_count(s->sb, SB_GEARMAN_ERRORS, 1);
		if (backoff == 0)
			log_warnx("gearmand: %s", gearman_worker_error(*w));
		else
			log_debug("gearmand: %s", gearman_worker_error(*w));
		backoff = backoff_next(backoff, GM_BACKOFF_MIN,
		    GM_WORK_BACKOFF_MAX);
		time_sleep(backoff, s->stop);
	}
}
