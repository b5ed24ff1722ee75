/*
 * controller_run: one job of a Controller's slot run on gearmand, as a
 * foreground task of its function with the job document as the workload,
 * waited for with the job's deadlines (job_timeout, a lease extension every
 * third of a lease) on the slot's own connection to each server, and its
 * outcome told: done, failed (with the worker's message), timed out, or
 * not the job's fault (no gearmand took it, no worker did, its gearmand
 * was lost). A job no worker has started is taken back by closing the
 * connection that submitted it (take_back); whether a worker has it is
 * asked on a connection of its own, and what each server's `status` said
 * of its workers is kept here for all the slots (no_worker).
 *
 * Why a connection and a thread per job in flight: controller.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "controller_int.h"
#include "controller_lane.h"
#include "controller_run.h"
#include "jobjson.h"
#include "log.h"

#define WAIT_MS 1000           /* slice of waiting for a job's result */
/* A stopping Controller gives back a job no worker took for this long:
 * idle workers take a job within milliseconds, so one still queued after
 * that waits for a busy or absent worker, and is not about to start. */
#define ABANDON_AFTER 5.0
/* A job still queued this long is looked at: if its gearmand has no worker
 * for its function at all, it is given back at once rather than at the end
 * of job_timeout. The servers' `status` is read at most every
 * WORKERS_MAX_AGE seconds for all the slots. */
#define NO_WORKER_AFTER 5.0
#define WORKERS_MAX_AGE 2.0
#define ADMIN_TIMEOUT 1.0
/* gearmand could not say whether a worker has a job (a fresh connection
 * refused or timed out): asked again this often, while the job's lease is
 * extended, for at most a lease past its job_timeout. */
#define ASK_AGAIN 1.0

/*
 * The text of a Perl worker's exception: Gearman::Worker sends
 * Storable::nfreeze(\$error), which is a header (0x05, minor version), then
 * the scalar: 0x0a (bytes) or 0x17 (UTF-8) with a 1-byte length, or 0x01 or
 * 0x18 with a 4-byte big-endian one. NULL if data is not one such scalar.
 */
static const unsigned char *
perl_frozen_text(const unsigned char *p, size_t len, size_t *tlen)
{
	size_t n, head;

	if (len < 4 || p[0] != 0x05)
		return NULL;
	if (p[2] == 0x0a || p[2] == 0x17) {
		n = p[3];
		head = 4;
	} else if ((p[2] == 0x01 || p[2] == 0x18) && len >= 7) {
		n = (size_t)p[3] << 24 | (size_t)p[4] << 16 |
		    (size_t)p[5] << 8 | p[6];
		head = 7;
	} else
		return NULL;
	if (head + n != len)
		return NULL;
	*tlen = n;
	return p + head;
}

/* A worker's message as the job's failure keeps it (UTF-8, at most
 * GV_MESSAGE_MAX bytes) and a log can show it. */
static void
keep_message(struct slot *c, const void *data, size_t len)
{
	const unsigned char *text;
	size_t n;

	if ((text = perl_frozen_text(data, len, &n)) == NULL) {
		text = data;
		n = len;
	}
	jobjson_text_clean(c->message, sizeof(c->message), text, n);
}

/*
 * The worker's result, as the job's record keeps it: its WORK_DATA and
 * WORK_COMPLETE data, up to one byte over GV_RESULT_MAX, so that the
 * record says it was cut. libgearman keeps a task's result
 * (gearman_task_result) only for gearman_client_do and gearman_execute,
 * whose own callbacks store it: a task added to a client has its data only
 * in these callbacks. Without the memory, the job completes without it.
 */
static void
keep_result(struct slot *sl, const gearman_task_st *task)
{
	size_t len = gearman_task_data_size(task);

	if (sl->result.len + len > GV_RESULT_MAX + 1)
		len = GV_RESULT_MAX + 1 - sl->result.len;
	if (len > 0 && buf_append(&sl->result, gearman_task_data(task),
	    len) == -1)
		sl->result_lost = 1;
}

static gearman_return_t
on_data(gearman_task_st *task)
{
	keep_result(gearman_task_context(task), task);
	return GEARMAN_SUCCESS;
}

static gearman_return_t
on_complete(gearman_task_st *task)
{
	struct slot *sl = gearman_task_context(task);

	keep_result(sl, task);
	sl->has_result = !sl->result_lost;
	return GEARMAN_SUCCESS;
}

static gearman_return_t
on_created(gearman_task_st *task)
{
	struct slot *c = gearman_task_context(task);

	c->created = 1;
	return GEARMAN_SUCCESS;
}

static gearman_return_t
on_warning(gearman_task_st *task)
{
	struct slot *c = gearman_task_context(task);

	keep_message(c, gearman_task_data(task), gearman_task_data_size(task));
	return GEARMAN_SUCCESS;
}

static void
keep_exception(struct slot *c, const gearman_task_st *task)
{
	const gearman_string_t exc = gearman_task_exception(task);

	if (exc.size > 0)
		keep_message(c, exc.c_str, exc.size);
}

static void
drop_client(struct slot *c, size_t i)
{
	if (c->clients[i]) {
		gearman_client_free(c->clients[i]);
		c->clients[i] = NULL;
	}
}

/*
 * The client for server i, with exceptions on (it waits for results). It
 * is non-blocking only once the exceptions option was asked for (a round
 * trip), so the wait for a job's result comes back every WAIT_MS.
 */
static gearman_client_st *
run_client(struct slot *c, size_t i)
{
	gearman_client_st *cl;

	if (c->clients[i])
		return c->clients[i];
	if ((cl = gm_client_new(gm_pool_server(c->c->gm, i), 1, c->err,
	    sizeof(c->err))) == NULL)
		return NULL;
	gearman_client_add_options(cl, GEARMAN_CLIENT_NON_BLOCKING);
	gearman_client_set_created_fn(cl, on_created);
	gearman_client_set_warning_fn(cl, on_warning);
	gearman_client_set_data_fn(cl, on_data);
	gearman_client_set_complete_fn(cl, on_complete);
	c->clients[i] = cl;
	return cl;
}

/* Keep the job hidden while it runs. A stale answer only means our result
 * will not count; the run goes on. When another slot waits on the job's
 * database, which failed its last call, this extension is let go: the
 * next one (a third of a lease later) tries again. */
static void
extend(struct slot *sl)
{
	struct controller *c = sl->c;
	const struct gv_job *job = &sl->job;
	gv_client *gv;
	int rc;

	if ((gv = controller_lane_take(sl->lane, 0)) == NULL) {
		log_info("job %llu of db %u: extending its lease: the database "
		    "did not answer the last call; trying again later",
		    (unsigned long long)job->jobid, job->dbid);
		return;
	}
	rc = gv_extend_lease(gv, job, (unsigned)config_lease_seconds(c->cfg,
	    job->funcname));
	if (rc == GV_EDB)
		scoreboard_count(c->ctx->sb, SB_DB_ERRORS, 1);
	if (rc != GV_OK)
		log_info("job %llu of db %u: extending its lease: %s",
		    (unsigned long long)job->jobid, job->dbid, gv_errmsg(gv));
	controller_lane_give(sl->lane, rc);
}

/* Milliseconds to wait for a result: up to the next thing to do (the
 * deadline, a lease extension), at most WAIT_MS so the heartbeat and the
 * stop flag are seen. */
static int
wait_ms(double deadline, double next_extend)
{
	double until = deadline < next_extend ? deadline : next_extend;
	double ms;

	ms = (until - time_mono()) * 1000 + 1;
	if (ms > WAIT_MS)
		return WAIT_MS;
	return ms < 1 ? 1 : (int)ms;
}

/* What gearmand knows of the job with handle on server s, asked on a
 * connection of its own (handles are the server's): 1 a worker runs it,
 * 0 it is queued, -1 gearmand does not know it (gone), -2 it could not
 * say. */
static int
job_state(struct slot *sl, size_t s, const char *handle)
{
	gearman_client_st *cl;
	bool known = true, running = true;
	uint32_t num, den;
	int state = -2;

	if ((cl = gm_client_new(gm_pool_server(sl->c->gm, s), 0, NULL, 0)) ==
	    NULL)
		return -2;
	if (gearman_client_job_status(cl, handle, &known, &running, &num,
	    &den) == GEARMAN_SUCCESS)
		state = !known ? -1 : running ? 1 : 0;
	gearman_client_free(cl);
	return state;
}

/*
 * Is the acknowledged job still queued, no worker having started it? 1 it
 * is, 0 a worker has it, -1 gearmand could not say. Unknown is never read
 * as queued: the question goes on a fresh connection, which can fail
 * (EMFILE, gearmand at its -f limit, the client timeout under load) while
 * the slot's own connection and the worker running the job are well, and
 * a job taken back while a worker runs it would run again. Once a worker
 * has it, it stays so until its result comes: gearmand is not asked again.
 */
static int
queued(struct slot *sl, size_t s, gearman_task_st *task)
{
	int state;

	if (sl->running)
		return 0;
	if ((state = job_state(sl, s, gearman_task_job_handle(task))) == -2)
		return -1;
	if (state == 1)
		sl->running = 1;
	return !sl->running;
}

/*
 * Take a job that no worker has started off gearmand: close the connection
 * that submitted it (gearmand drops a foreground job whose clients are gone,
 * unless a worker runs it), then ask again. A result that arrived since the
 * question is read first (RUN_RESULT). A worker that took the job between
 * the question and the close runs it without us: the row is left to its
 * lease rather than sent again at once (RUN_ORPHANED). Otherwise the job
 * never ran and never will from this submission: outcome.
 *
 * What remains: a worker that takes the job and finishes it within the
 * instant between reading the connection and closing it. Its result is
 * lost and the job runs again. The callers make it rare: they give back
 * only a job that has waited for a worker for seconds.
 */
static enum outcome
take_back(struct slot *sl, size_t s, gearman_task_st *task,
    enum outcome outcome)
{
	char handle[GEARMAN_JOB_HANDLE_SIZE + 1];

	if (gearman_client_run_tasks(sl->clients[s]) == GEARMAN_SUCCESS)
		return RUN_RESULT;
	snprintf(handle, sizeof(handle), "%s", gearman_task_job_handle(task));
	drop_client(sl, s);
	switch (job_state(sl, s, handle)) {
	case 1:
		return RUN_ORPHANED;
	case -2:
		/* A worker may have taken it since the question: the row is
		 * left to its lease, neither released nor charged. */
		errf(sl->err, sizeof(sl->err), "taken back from gearmand, "
		    "which could not say then whether a worker had it");
		return RUN_UNKNOWN;
	default:
		return outcome;
	}
}

/* 1 when server s has no worker for funcname (as its `status` said at
 * most WORKERS_MAX_AGE ago), 0 when it has or cannot say. The status is
 * read without the lock, which only guards the copy kept. */
static int
no_worker(struct controller *c, size_t s, const char *funcname)
{
	struct gm_depths fresh;
	char err[256];
	int none;

	controller_lock(c);
	if (time_mono() - c->status_at[s] > WORKERS_MAX_AGE) {
		controller_unlock(c);
		if (gm_admin_status(gm_pool_server(c->gm, s), ADMIN_TIMEOUT,
		    &fresh, err, sizeof(err)) == -1) {
			log_debug("%s", err);
			gm_depths_free(&fresh);
			return 0;
		}
		controller_lock(c);
		gm_depths_free(&c->status[s]);
		c->status[s] = fresh;
		c->status_at[s] = time_mono();
	}
	none = gm_depths_workers(&c->status[s], funcname) == 0;
	controller_unlock(c);
	return none;
}

/* Submit the job on server s at its priority. */
static gearman_task_st *
submit(struct slot *sl, gearman_client_st *cl, const char *unique,
    gearman_return_t *ret)
{
	const struct gv_job *job = &sl->job;
	const char *f = job->funcname, *doc = sl->doc.data;
	size_t len = sl->doc.len;

	/* At the job's priority: the worker's queue orders the foreground
	 * jobs of every Controller, as the QueueRunner's submissions do. */
	if (job->priority > 0)
		return gearman_client_add_task_high(cl, NULL, sl, f, unique,
		    doc, len, ret);
	if (job->priority < 0)
		return gearman_client_add_task_low(cl, NULL, sl, f, unique,
		    doc, len, ret);
	return gearman_client_add_task(cl, NULL, sl, f, unique, doc, len,
	    ret);
}

/* Run the slot's job on server s and wait for its result, extending its
 * lease every third of lease_seconds. */
static enum outcome
run_on(struct slot *sl, size_t s, const char *unique)
{
	struct controller *c = sl->c;
	const struct gv_job *job = &sl->job;
	double lease_step = config_lease_seconds(c->cfg, job->funcname) / 3.0;
	double now, submitted, deadline, next_extend, next_look;
	gearman_client_st *cl;
	gearman_task_st *task;
	gearman_return_t ret;
	enum outcome out, back;
	int q = -1;

	if ((cl = run_client(sl, s)) == NULL)
		return RUN_UNSENT;
	sl->created = sl->running = 0;
	sl->message[0] = '\0';
	buf_reset(&sl->result);
	sl->has_result = sl->result_lost = 0;
	if ((task = submit(sl, cl, unique, &ret)) == NULL) {
		errf(sl->err, sizeof(sl->err), "%s", gearman_client_error(cl));
		drop_client(sl, s);
		return RUN_UNSENT;
	}
	submitted = now = time_mono();
	sl->workers_check = now + NO_WORKER_AFTER;
	deadline = next_look = now + config_job_timeout(c->cfg,
	    job->funcname);
	next_extend = now + lease_step;
	for (;;) {
		ret = gearman_client_run_tasks(cl);
		if (ret == GEARMAN_SUCCESS)
			break;
		if (ret == GEARMAN_IO_WAIT) {
			gearman_client_set_timeout(cl, wait_ms(next_look,
			    next_extend));
			ret = gearman_client_wait(cl);
		}
		if (ret != GEARMAN_SUCCESS && ret != GEARMAN_IO_WAIT &&
		    ret != GEARMAN_TIMEOUT) {
			errf(sl->err, sizeof(sl->err), "%s",
			    gearman_client_error(cl));
			/* Freeing the client ends the job on gearmand if no
			 * worker has it yet. */
			drop_client(sl, s);
			return sl->created ? RUN_LOST : RUN_UNSENT;
		}
		scoreboard_heartbeat(c->ctx->sb);
		now = time_mono();
		if (now >= next_extend) {
			extend(sl);
			next_extend = now + lease_step;
		}
		back = RUN_WAITING;
		if (now >= next_look && !sl->created) {
			/* Sent, never acknowledged (JOB_CREATED lost, or
			 * gearmand stalled): not the job's fault, and whether
			 * a worker runs it is unknown, as for RUN_LOST.
			 * Freeing the client removes it if it is queued. */
			errf(sl->err, sizeof(sl->err), "no JOB_CREATED from "
			    "gearmand within %g s", config_job_timeout(c->cfg,
			    job->funcname));
			drop_client(sl, s);
			return RUN_UNACKED;
		} else if (now >= next_look &&
		    (q = queued(sl, s, task)) == 0) {
			/* The job stays alive on gearmand while this client
			 * is connected, and would run later although it is
			 * now failed: freeing the client removes it (unless a
			 * worker already runs it, which no one can stop). */
			drop_client(sl, s);
			return RUN_TIMEOUT;
		} else if (now >= next_look && q == 1) {
			/* No worker took it in all that time: not its
			 * fault, and not a failure. */
			snprintf(sl->untaken, sizeof(sl->untaken), "no worker "
			    "took it within %g s", config_job_timeout(c->cfg,
			    job->funcname));
			back = take_back(sl, s, task, RUN_UNTAKEN);
		} else if (now >= next_look) {
			/* gearmand could not say whether a worker has it.
			 * Its result may still come on this connection:
			 * wait, extending its lease, and ask again; after
			 * a lease of not knowing, leave it to its lease. */
			if (now >= deadline + 3 * lease_step) {
				errf(sl->err, sizeof(sl->err), "gearmand "
				    "could not say for %g s whether a worker "
				    "had it", now - deadline);
				drop_client(sl, s);
				return RUN_UNKNOWN;
			}
			next_look = now + ASK_AGAIN;
		} else if (*c->ctx->stop && now - submitted >= ABANDON_AFTER &&
		    !sl->created) {
			/* Never acknowledged: a graceful stop need not wait
			 * its job_timeout out. */
			errf(sl->err, sizeof(sl->err), "no JOB_CREATED from "
			    "gearmand within %g s", now - submitted);
			drop_client(sl, s);
			return RUN_UNACKED;
		} else if (*c->ctx->stop && now - submitted >= ABANDON_AFTER &&
		    queued(sl, s, task) == 1) {
			/* Not in hand yet (no free worker for its function):
			 * a graceful stop need not wait for it. Unknown is
			 * waited for, as a job a worker runs. */
			back = take_back(sl, s, task, RUN_ABANDONED);
		} else if (now >= sl->workers_check && sl->created &&
		    !sl->running && no_worker(c, s, job->funcname) &&
		    queued(sl, s, task) == 1) {
			/* Nobody to take it: it need not hold a slot for
			 * its whole job_timeout. */
			snprintf(sl->untaken, sizeof(sl->untaken), "no worker "
			    "for %s on gearmand %s:%u", job->funcname,
			    gm_pool_server(c->gm, s)->host,
			    gm_pool_server(c->gm, s)->port);
			back = take_back(sl, s, task, RUN_UNTAKEN);
		}
		if (now >= sl->workers_check)
			sl->workers_check = now + NO_WORKER_AFTER;
		if (back == RUN_RESULT)
			break;
		if (back != RUN_WAITING)
			return back;
	}
	switch (gearman_task_return(task)) {
	case GEARMAN_SUCCESS:
		out = RUN_DONE;
		break;
	case GEARMAN_WORK_EXCEPTION:
		keep_exception(sl, task);
		out = RUN_FAILED;
		break;
	case GEARMAN_WORK_FAIL:
		/* A warning sent before it is the reason, if any. */
		if (sl->message[0] == '\0')
			snprintf(sl->message, sizeof(sl->message), "the worker "
			    "sent WORK_FAIL without a message");
		out = RUN_FAILED;
		break;
	default:
		snprintf(sl->message, sizeof(sl->message), "%s",
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
enum outcome
controller_run(struct slot *sl)
{
	struct controller *c = sl->c;
	const struct gv_job *job = &sl->job;
	char uniq[GV_GEARMAN_UNIQKEY_MAX + 1];
	const char *unique = gm_unique(job->uniqkey, uniq);
	size_t tries, s, n = gm_pool_count(c->gm);
	enum outcome out = RUN_UNSENT;
	int reused;

	for (tries = 0; tries < 2 * n && out == RUN_UNSENT; tries++) {
		controller_lock(c);
		s = gm_pool_choose_job(c->gm, job->jobid, job->dbid, unique);
		controller_unlock(c);
		reused = sl->clients[s] != NULL;
		out = run_on(sl, s, unique);
		if (out == RUN_UNSENT && reused) {
			/* A connection that died while idle (gearmand
			 * restarted) fails its first use: try a new one
			 * before judging the server. */
			log_debug("gearmand %s:%u: %s; reconnecting",
			    gm_pool_server(c->gm, s)->host,
			    gm_pool_server(c->gm, s)->port, sl->err);
			continue;
		}
		if (out == RUN_UNSENT || out == RUN_LOST) {
			scoreboard_count(c->ctx->sb, SB_GEARMAN_ERRORS, 1);
			log_warnx("gearmand %s:%u: %s",
			    gm_pool_server(c->gm, s)->host,
			    gm_pool_server(c->gm, s)->port, sl->err);
			controller_lock(c);
			gm_pool_failed(c->gm, s);
			controller_unlock(c);
		}
	}
	return out;
}

void
controller_run_drop_clients(struct slot *sl)
{
	size_t s;

	for (s = 0; sl->clients && s < sl->c->cfg->nservers; s++)
		drop_client(sl, s);
}
