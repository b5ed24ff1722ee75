/*
 * controller: the worker of run_queued_job (low-latency mode). It runs the
 * job's function synchronously through gearman, with the job document as
 * the workload (what the original Controller sent: workers decode it and use
 * "arg"), and deletes the row on success or applies the backoff on failure,
 * exception or timeout.
 *
 * The database row is the truth, not gearmand's copy. A copy is claimed
 * for this run by extending its lease, fenced by the attempt it names: a
 * copy whose row is gone (the job completed) or whose row a newer dispatch
 * owns is stale and never runs. run_queued_job itself always succeeds once
 * handled, so gearmand never runs a copy again on its own.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "client.h"
#include "gm.h"
#include "jobjson.h"
#include "log.h"
#include "role.h"
#include "util.h"

#define WORK_TIMEOUT_MS 1000   /* how often the stop flag is looked at */
#define WAIT_MS 1000           /* slice of waiting for a job's result */
#define CONNECT_TIMEOUT_MS 3000 /* connecting and asking for exceptions */
#define UNSENT_RETRY "+5"      /* no gearmand took the job: due this soon */

enum outcome {
	RUN_DONE,       /* WORK_COMPLETE */
	RUN_FAILED,     /* WORK_FAIL or WORK_EXCEPTION */
	RUN_TIMEOUT,    /* no answer within job_timeout */
	RUN_LOST,       /* gearmand took the job, then the connection failed */
	RUN_UNSENT,     /* no gearmand took the job */
	RUN_ABANDONED,  /* stopping, and no worker had started it */
};

struct controller {
	struct role_ctx *ctx;
	const struct config *cfg;
	gv_client *gv;
	struct gm_pool *gm;
	gearman_client_st **clients;  /* per server, for synchronous runs */
	int created;                  /* gearmand acknowledged the job */
	char message[512];            /* the worker's warning or exception */
	char err[1024];
};

/* A worker's message as a log can show it. A Perl worker's exception is a
 * Storable blob: its binary head and tail are dropped, other bytes that are
 * not printable ASCII become '?'. */
static void
keep_message(struct controller *c, const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len;
	size_t i, n;

	while (p < end && (*p < 0x20 || *p >= 0x7f))
		p++;
	while (end > p && (end[-1] < 0x20 || end[-1] >= 0x7f))
		end--;
	n = (size_t)(end - p);
	if (n > sizeof(c->message) - 1)
		n = sizeof(c->message) - 1;
	for (i = 0; i < n; i++)
		c->message[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	c->message[n] = '\0';
}

static gearman_return_t
on_created(gearman_task_st *task)
{
	struct controller *c = gearman_task_context(task);

	c->created = 1;
	return GEARMAN_SUCCESS;
}

static gearman_return_t
on_warning(gearman_task_st *task)
{
	struct controller *c = gearman_task_context(task);

	keep_message(c, gearman_task_data(task), gearman_task_data_size(task));
	return GEARMAN_SUCCESS;
}

static void
keep_exception(struct controller *c, const gearman_task_st *task)
{
	const gearman_string_t exc = gearman_task_exception(task);

	if (exc.size > 0)
		keep_message(c, exc.c_str, exc.size);
}

static void
drop_client(struct controller *c, size_t i)
{
	if (c->clients[i]) {
		gearman_client_free(c->clients[i]);
		c->clients[i] = NULL;
	}
}

/*
 * The client for server i. Exceptions must be on: in libgearman 1.1.20 a
 * worker's WORK_EXCEPTION otherwise leaves the client waiting forever. The
 * option is a round trip to the server, so it is asked for after the server
 * is added and checked; the client is non-blocking only after that, so the
 * wait for a job's result comes back every WAIT_MS.
 */
static gearman_client_st *
run_client(struct controller *c, size_t i)
{
	const struct config_server *srv = gm_pool_server(c->gm, i);
	gearman_client_st *cl;

	if (c->clients[i])
		return c->clients[i];
	if ((cl = gearman_client_create(NULL)) == NULL) {
		errf(c->err, sizeof(c->err), "gearman_client_create failed");
		return NULL;
	}
	gearman_client_set_timeout(cl, CONNECT_TIMEOUT_MS);
	if (gearman_client_add_server(cl, srv->host, (in_port_t)srv->port) !=
	    GEARMAN_SUCCESS) {
		errf(c->err, sizeof(c->err), "%s", gearman_client_error(cl));
		goto fail;
	}
	gearman_client_add_options(cl, GEARMAN_CLIENT_EXCEPTION);
	if (!gearman_client_has_option(cl, GEARMAN_CLIENT_EXCEPTION)) {
		errf(c->err, sizeof(c->err), "exceptions not enabled: %s",
		    gearman_client_error(cl));
		goto fail;
	}
	gearman_client_add_options(cl, GEARMAN_CLIENT_NON_BLOCKING);
	gearman_client_set_created_fn(cl, on_created);
	gearman_client_set_warning_fn(cl, on_warning);
	c->clients[i] = cl;
	return cl;
fail:
	gearman_client_free(cl);
	return NULL;
}

/* Keep the job hidden while it runs. A stale answer only means our result
 * will not count; the run goes on. */
static void
extend(struct controller *c, const struct gv_job *job)
{
	int rc;

	rc = gv_extend_lease(c->gv, job, (unsigned)config_lease_seconds(c->cfg,
	    job->funcname));
	if (rc == GV_EDB)
		scoreboard_count(c->ctx->sb, SB_DB_ERRORS, 1);
	if (rc != GV_OK)
		log_info("job %llu of db %u: extending its lease: %s",
		    (unsigned long long)job->jobid, job->dbid,
		    gv_errmsg(c->gv));
}

/* Milliseconds to wait for a result: up to the next thing to do (the
 * deadline, a lease extension, held completions falling due: flush_due,
 * 0 when none), at most WAIT_MS so the heartbeat goes on. */
static int
wait_ms(double deadline, double next_extend, double flush_due)
{
	double until = deadline < next_extend ? deadline : next_extend;
	double ms;

	if (flush_due > 0 && flush_due < until)
		until = flush_due;
	ms = (until - time_mono()) * 1000 + 1;
	if (ms > WAIT_MS)
		return WAIT_MS;
	return ms < 1 ? 1 : (int)ms;
}

/*
 * Asked to stop while waiting: has a worker started the job? gearmand knows;
 * ask it on a connection of its own (job handles are the server's). When it
 * cannot say, the job counts as started, and the wait goes on: a job a
 * worker runs must be waited for.
 */
static int
started(struct controller *c, size_t s, gearman_task_st *task)
{
	const struct config_server *srv = gm_pool_server(c->gm, s);
	gearman_client_st *cl;
	bool known = true, running = true;
	uint32_t num, den;

	if ((cl = gearman_client_create(NULL)) == NULL)
		return 1;
	gearman_client_set_timeout(cl, CONNECT_TIMEOUT_MS);
	if (gearman_client_add_server(cl, srv->host, (in_port_t)srv->port) !=
	    GEARMAN_SUCCESS ||
	    gearman_client_job_status(cl, gearman_task_job_handle(task), &known,
	    &running, &num, &den) != GEARMAN_SUCCESS)
		known = running = true;
	gearman_client_free(cl);
	return !known || running;
}

/* Run the job on server s and wait for its result, extending its lease
 * every third of lease_seconds. */
static enum outcome
run_on(struct controller *c, size_t s, const struct gv_job *job,
    const char *unique, const void *doc, size_t len)
{
	double lease_step = config_lease_seconds(c->cfg, job->funcname) / 3.0;
	double now, deadline, next_extend, flush_due;
	gearman_client_st *cl;
	gearman_task_st *task;
	gearman_return_t ret;
	enum outcome out;

	if ((cl = run_client(c, s)) == NULL)
		return RUN_UNSENT;
	c->created = 0;
	c->message[0] = '\0';
	/* At the job's priority: the worker's queue orders the foreground
	 * jobs of every Controller, as the QueueRunner's submissions do. */
	if (job->priority > 0)
		task = gearman_client_add_task_high(cl, NULL, c, job->funcname,
		    unique, doc, len, &ret);
	else if (job->priority < 0)
		task = gearman_client_add_task_low(cl, NULL, c, job->funcname,
		    unique, doc, len, &ret);
	else
		task = gearman_client_add_task(cl, NULL, c, job->funcname,
		    unique, doc, len, &ret);
	if (task == NULL) {
		errf(c->err, sizeof(c->err), "%s", gearman_client_error(cl));
		drop_client(c, s);
		return RUN_UNSENT;
	}
	now = time_mono();
	deadline = now + config_job_timeout(c->cfg, job->funcname);
	next_extend = now + lease_step;
	for (;;) {
		ret = gearman_client_run_tasks(cl);
		if (ret == GEARMAN_SUCCESS)
			break;
		if (ret == GEARMAN_IO_WAIT) {
			gearman_client_set_timeout(cl, wait_ms(deadline,
			    next_extend, client_flush_due(c->gv)));
			ret = gearman_client_wait(cl);
		}
		if (ret != GEARMAN_SUCCESS && ret != GEARMAN_IO_WAIT &&
		    ret != GEARMAN_TIMEOUT) {
			errf(c->err, sizeof(c->err), "%s",
			    gearman_client_error(cl));
			/* Freeing the client ends the job on gearmand if no
			 * worker has it yet. */
			drop_client(c, s);
			return c->created ? RUN_LOST : RUN_UNSENT;
		}
		scoreboard_heartbeat(c->ctx->sb);
		now = time_mono();
		if (now >= deadline) {
			/* The job stays alive on gearmand while this client
			 * is connected, and would run later although it is
			 * now failed: freeing the client removes it (unless
			 * a worker already runs it, which no one can stop). */
			drop_client(c, s);
			return RUN_TIMEOUT;
		}
		if (now >= next_extend) {
			extend(c, job);
			next_extend = now + lease_step;
		}
		/* The completions of the jobs before this one are written
		 * within their window, not when this job ends: held for a
		 * job of minutes, they outlived their leases and those jobs
		 * ran again (26-fast-then-slow). */
		flush_due = client_flush_due(c->gv);
		if (flush_due > 0 && now >= flush_due)
			gm_flush(c->gv, c->ctx->sb);
		/* A job still queued (no worker for its function) is not in
		 * hand yet: a graceful stop need not wait for it. Freeing
		 * the client takes it off gearmand's queue. */
		if (*c->ctx->stop && c->created && !started(c, s, task)) {
			drop_client(c, s);
			return RUN_ABANDONED;
		}
	}
	switch (gearman_task_return(task)) {
	case GEARMAN_SUCCESS:
		out = RUN_DONE;
		break;
	case GEARMAN_WORK_EXCEPTION:
		keep_exception(c, task);
		out = RUN_FAILED;
		break;
	case GEARMAN_WORK_FAIL:
		out = RUN_FAILED;
		break;
	default:
		snprintf(c->message, sizeof(c->message), "%s",
		    gearman_strerror(gearman_task_return(task)));
		out = RUN_FAILED;
		break;
	}
	gearman_task_free(task);
	return out;
}

/* The gearmand of a job: by its unique key, else by jobid and dbid, the
 * same choice a QueueRunner makes. A server that cannot take the job is
 * backed off and the next choice tried. */
static enum outcome
run(struct controller *c, const struct gv_job *job, const void *doc,
    size_t len)
{
	char uniq[GM_UNIQUE_MAX + 1];
	const char *unique = gm_unique(job->uniqkey, uniq);
	size_t tries, s, n = gm_pool_count(c->gm);
	enum outcome out = RUN_UNSENT;
	int reused;

	for (tries = 0; tries < 2 * n && out == RUN_UNSENT; tries++) {
		s = gm_pool_choose_job(c->gm, job->jobid, job->dbid, unique);
		reused = c->clients[s] != NULL;
		out = run_on(c, s, job, unique, doc, len);
		if (out == RUN_UNSENT && reused) {
			/* A connection that died while idle (gearmand
			 * restarted) fails its first use: try a new one
			 * before judging the server. */
			log_debug("gearmand %s:%u: %s; reconnecting",
			    gm_pool_server(c->gm, s)->host,
			    gm_pool_server(c->gm, s)->port, c->err);
			continue;
		}
		if (out == RUN_UNSENT || out == RUN_LOST) {
			scoreboard_count(c->ctx->sb, SB_GEARMAN_ERRORS, 1);
			log_warnx("gearmand %s:%u: %s",
			    gm_pool_server(c->gm, s)->host,
			    gm_pool_server(c->gm, s)->port, c->err);
			gm_pool_failed(c->gm, s);
		}
	}
	return out;
}

/* Record the outcome in the row. A stale answer means a newer attempt
 * owns the row or it is gone: that attempt decides, not this one. */
static void
settle(struct controller *c, const struct gv_job *job, enum outcome out)
{
	unsigned long long jobid = (unsigned long long)job->jobid;
	const char *what;
	int rc;

	switch (out) {
	case RUN_DONE:
		/* Completions share commits: one fsync for many jobs. */
		what = "completing";
		if ((rc = gv_complete_later(c->gv, job)) == GV_OK)
			scoreboard_count(c->ctx->sb, SB_JOBS_DONE, 1);
		break;
	case RUN_UNSENT:
	case RUN_ABANDONED:
	case RUN_LOST:
		/* Not the job's fault: no failure is counted against it. A
		 * job lost with its gearmand was counted failed before: it
		 * waited out a 2-minute backoff, and enough gearmand restarts
		 * parked a job that never failed (tests/faults/20-gearmand.t).
		 * Whether it ran is unknown: it runs again. */
		if (out == RUN_LOST)
			log_info("job %llu of db %u (%s) lost with its "
			    "gearmand: it runs again", jobid, job->dbid,
			    job->funcname);
		what = "rescheduling";
		rc = gv_reschedule_job(c->gv, job, UNSENT_RETRY);
		break;
	default:
		log_info("job %llu of db %u (%s) %s%s%s", jobid, job->dbid,
		    job->funcname, out == RUN_TIMEOUT ? "timed out" : "failed",
		    c->message[0] ? ": " : "", c->message);
		what = "failing";
		if ((rc = gv_failed_job(c->gv, job)) == GV_OK)
			scoreboard_count(c->ctx->sb, SB_JOBS_FAILED, 1);
		break;
	}
	if (rc == GV_ESTALE)
		log_debug("job %llu of db %u: %s", jobid, job->dbid,
		    gv_errmsg(c->gv));
	else if (rc != GV_OK) {
		if (rc == GV_EDB)
			scoreboard_count(c->ctx->sb, SB_DB_ERRORS, 1);
		/* The lease brings the job back: it may run again. */
		log_warnx("job %llu of db %u: %s it: %s", jobid, job->dbid,
		    what, gv_errmsg(c->gv));
	}
}

/* Is this attempt still the job's, with enough lease for the run ahead?
 * A read, in the common case: the Injector or a QueueRunner has just
 * written a fresh lease; only a copy that waited long in gearmand's queue
 * needs its lease extended before it runs. */
static int
claim(struct controller *c, const struct gv_job *job)
{
	int lease = config_lease_seconds(c->cfg, job->funcname);
	long left;
	int rc;

	if ((rc = gv_lease_left(c->gv, job, &left)) != GV_OK)
		return rc;
	if (left >= lease / 2)
		return GV_OK;
	return gv_extend_lease(c->gv, job, (unsigned)lease);
}

static gearman_return_t
handle(struct controller *c, gearman_job_st *gjob)
{
	const void *doc = gearman_job_workload(gjob);
	size_t len = gearman_job_workload_size(gjob);
	struct gv_job job;
	int rc;

	if (jobjson_decode(doc, len, &job, c->err, sizeof(c->err)) == -1) {
		scoreboard_count(c->ctx->sb, SB_JOBS_REFUSED, 1);
		log_info("refused a %s document: %s", GV_FUNC_RUN_QUEUED, c->err);
		gearman_job_send_warning(gjob, c->err, strlen(c->err));
		return GEARMAN_FAIL;
	}
	/* Running it would call a Controller from a Controller. Its row,
	 * if any, is parked by a QueueRunner when its lease ends. */
	if (gv_funcname_reserved(job.funcname)) {
		scoreboard_count(c->ctx->sb, SB_JOBS_REFUSED, 1);
		snprintf(c->err, sizeof(c->err), "funcname %s is reserved: "
		    "Garivini serves it itself", job.funcname);
		log_info("refused job %llu of db %u: %s",
		    (unsigned long long)job.jobid, job.dbid, c->err);
		gearman_job_send_warning(gjob, c->err, strlen(c->err));
		gv_job_clear(&job);
		return GEARMAN_FAIL;
	}
	/* Claim the row for this run. A stale copy must never run: its job
	 * may have completed already. When the database cannot say, the
	 * job is not run either: its lease ends and it is sent again. */
	rc = claim(c, &job);
	if (rc == GV_ESTALE)
		log_info("job %llu of db %u is stale, not run",
		    (unsigned long long)job.jobid, job.dbid);
	else if (rc != GV_OK) {
		if (rc == GV_EDB)
			scoreboard_count(c->ctx->sb, SB_DB_ERRORS, 1);
		log_warnx("job %llu of db %u not run: %s",
		    (unsigned long long)job.jobid, job.dbid, gv_errmsg(c->gv));
	} else
		settle(c, &job, run(c, &job, doc, len));
	gv_job_clear(&job);
	return GEARMAN_SUCCESS;
}

static gearman_return_t
controller_fn(gearman_job_st *gjob, void *arg)
{
	struct controller *c = arg;
	gearman_return_t ret;

	scoreboard_state(c->ctx->sb, SB_BUSY);
	ret = handle(c, gjob);
	scoreboard_state(c->ctx->sb, SB_IDLE);
	return ret;
}

int
controller_main(struct role_ctx *ctx)
{
	struct controller c;
	gearman_worker_st *w = NULL;
	size_t i;
	int code = EX_OK;

	memset(&c, 0, sizeof(c));
	c.ctx = ctx;
	c.cfg = ctx->cfg;
	scoreboard_state(ctx->sb, SB_STARTING);
	if ((c.gv = client_open_config(c.cfg, c.err, sizeof(c.err))) == NULL) {
		log_errx("%s", c.err);
		return EX_CONFIG;
	}
	/* A job that ran must not run again because its result met a short
	 * database outage: retry while most of its lease remains. (The read
	 * before a run does not retry: not knowing is a reason not to run.) */
	gv_set_retry(c.gv, c.cfg->queue_runner.lease_seconds / 3.0);
	if ((c.gm = gm_pool_new(c.cfg->servers, c.cfg->nservers, c.err,
	    sizeof(c.err))) == NULL ||
	    (w = gm_worker_new(c.cfg->servers, c.cfg->nservers,
	    WORK_TIMEOUT_MS, c.err, sizeof(c.err))) == NULL) {
		log_errx("%s", c.err);
		code = EX_CONFIG;
		goto out;
	}
	if ((c.clients = calloc(c.cfg->nservers, sizeof(*c.clients))) ==
	    NULL) {
		log_errx("out of memory");
		code = EX_OSERR;
		goto out;
	}
	if (gm_worker_define(w, GV_FUNC_RUN_QUEUED,
	    gearman_function_create(controller_fn), &c, c.err,
	    sizeof(c.err)) == -1) {
		log_errx("%s", c.err);
		code = EX_SOFTWARE;
		goto out;
	}
	log_info("serving %s on %zu gearmand servers, job timeout %g s, "
	    "lease %d s", GV_FUNC_RUN_QUEUED, c.cfg->nservers,
	    c.cfg->controller.job_timeout, c.cfg->queue_runner.lease_seconds);
	scoreboard_state(ctx->sb, SB_IDLE);
	gm_worker_serve(w, ctx->stop, ctx->sb, c.gv);
	scoreboard_state(ctx->sb, SB_STOPPING);
out:
	if (w)
		gearman_worker_free(w);
	for (i = 0; c.clients && i < c.cfg->nservers; i++)
		drop_client(&c, i);
	free(c.clients);
	gm_pool_free(c.gm);
	gv_close(c.gv);
	return code;
}
