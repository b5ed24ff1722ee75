/*
 * injector: the worker of inject_jobs (low-latency mode), and of
 * cancel_jobs and job_status (either mode). For inject_jobs it validates
 * the client's JSON, stores the job as a row, and submits it at once as a
 * background job (run_queued_job for the Controller, or the job's own
 * function for a shim job), then answers the client with jobid and dbid.
 *
 * Why the client's answer means "durable": the row is committed by
 * gv_insert_job before anything is submitted or answered. A row submitted
 * now is stored with a lease of lease_seconds, the same as a QueueRunner's
 * claim, so no QueueRunner sends it again while it is out; if the submit
 * is lost, the lease ends and a QueueRunner sends it.
 *
 * How a job is refused: WORK_WARNING with the message, then WORK_FAIL.
 * Every client sees a failure; clients that read warnings (Perl
 * Gearman::Client's on_warning, libgearman's warning_fn, the gearman CLI)
 * also see why. WORK_EXCEPTION is not used: gearmand 1.1.20 turns it into
 * a malformed WORK_FAIL for clients that did not ask for exceptions, and
 * those hang (libgearman) or die (Perl Gearman::Client).
 *
 * No database answers (dbreach.c probes each): the threads take no call
 * until one does (gm_worker_serve's gate), and a call taken as the last
 * one went, or whose store failed while none answers, goes back to
 * gearmand (GM_HAND_BACK) for another master's Injector rather than being
 * refused. Nothing was stored for it, so it is stored once, there.
 *
 * Calls in hand at once: [injector] concurrency, one per thread, each
 * thread a whole Injector of its own (a gearman worker, a database
 * connection, a client to submit). A call's time is mostly waiting: for
 * its commit's fsync and for gearmand's answer to the submit, so one call
 * at a time per process bounded low latency at saturation (2 Injectors:
 * 0.90x the MySQL-queue baseline; 4: 1.10x, with 0.74 fsyncs per job
 * against 1.09, as InnoDB group-commits the commits of calls in flight).
 * Threads give that for one process's memory. Why not several calls
 * stored with one commit in one thread: that needs a worker that holds
 * several jobs, and libgearman 1.1.20's gearman_worker_grab_job() crashes
 * on the call after one that found no job (it keeps the position of the
 * server list it walked past the end of), so the only safe way to take
 * jobs is gearman_worker_work(), one at a time.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "client.h"
#include "dbreach.h"
#include "dbset.h"
#include "gm.h"
#include "gm_watch.h"
#include "gm_worker.h"
#include "injector.h"
#include "jobfield.h"
#include "jobjson.h"
#include "log.h"
#include "role.h"
#include "thread.h"
#include "util.h"

#define RESUBMIT_SECONDS 2       /* a job gearmand refused: due this soon */

/* What the threads of one Injector share. */
struct shared {
	pthread_mutex_t lock;
	size_t busy;                /* calls in hand, over all threads */
	/* The view of gearmand, one for all the threads: the watermark's
	 * depths and which servers may get jobs. */
	struct gm_watch *watch;
	/* Whether the databases answer: with none, no thread takes a
	 * call, every one of which it would refuse. */
	struct dbreach *reach;
};

/* One thread: its worker and connections. */
struct injector {
	struct role_ctx *ctx;
	const struct config *cfg;
	struct shared *sh;
	struct thread thread;
	gearman_worker_st *w;
	struct gm_serve how;        /* how w serves */
	gv_client *gv;
	struct gm_pool *gm;
	struct buf doc;             /* the job document being submitted */
	struct buf reply;
	char err[1024];
};


static gearman_return_t
refuse(gearman_job_st *job, const char *msg)
{
	gearman_job_send_warning(job, msg, strlen(msg));
	return GEARMAN_FAIL;
}

/* Send the answer built in in->reply; -1, counted, when it could not be
 * (the caller says what it had done). */
static int
send_reply(struct injector *in, gearman_job_st *gjob)
{
	if (gearman_job_send_complete(gjob, in->reply.data, in->reply.len) ==
	    GEARMAN_SUCCESS)
		return 0;
	scoreboard_count(in->ctx->sb, SB_GEARMAN_ERRORS, 1);
	return -1;
}

/*
 * 1 if gearmand holds fewer than watermark jobs of target, counting those
 * this Injector's threads let through and have not submitted yet: the job
 * is then counted at once, so that calls the other threads decide
 * meanwhile see it, and a burst over several threads cannot overshoot the
 * watermark. Every 1 is followed by one gm_watch_done with the job's fate.
 */
static int
room(struct injector *in, const char *target, int watermark)
{
	return gm_watch_reserve(in->sh->watch, target, watermark);
}

/*
 * Submit the stored job, job (stored as jobid of dbid), to a server the
 * Injector's threads all hold healthy; *server is the one chosen. A
 * failure is not the client's: the row is durable and leased, so it is
 * only brought forward for a QueueRunner to send when gearmand surely did
 * not queue it, and else left to its lease. Returns the job's fate.
 */
static enum gm_watch_fate
submit(struct injector *in, struct gv_job *job, uint64_t jobid,
    unsigned dbid, double received, size_t *server)
{
	struct fs_entry *e;
	char uniq[GV_GEARMAN_UNIQKEY_MAX + 1];
	unsigned char healthy[CONFIG_MAX_SERVERS];
	struct gm_task task;
	size_t s;
	int rc;

	job->jobid = jobid;
	job->dbid = dbid;
	job->run_after = (uint32_t)time_real();
	job->failcount = 0;
	/* A new row's attempt is 0; a QueueRunner's claim makes it 1, so a
	 * copy of this document cannot complete a later dispatch. */
	job->attempt = 0;
	job->fenced = 1;
	buf_reset(&in->doc);
	if (jobjson_encode(job, &in->doc) == -1) {
		log_warnx("job %llu of db %u: out of memory encoding it; a "
		    "QueueRunner sends it when its lease ends",
		    (unsigned long long)jobid, dbid);
		return GM_WATCH_UNSENT;
	}
	task = (struct gm_task){
	    .funcname = gm_job_target(job->flag, job->funcname),
	    .unique = gm_job_unique(job->flag, job->funcname, job->uniqkey,
	    uniq),
	    .workload = in->doc.data, .len = in->doc.len,
	    .priority = job->priority };
	gm_watch_healthy(in->sh->watch, healthy);
	*server = s = gm_pool_choose_job_among(in->gm, job->jobid, job->dbid,
	    task.unique, healthy);
	rc = gm_submit_background(in->gm, s, &task, 1, in->err,
	    sizeof(in->err));
	if (rc == 1 && task.ok) {
		/* Due the moment its request came: the latency is what
		 * storing and submitting it took. */
		scoreboard_count(in->ctx->sb, SB_JOBS_DISPATCHED, 1);
		e = funcstats_find(in->ctx->fs, job->funcname);
		funcstats_add(e, METRICS_DISPATCHED, 1);
		funcstats_latency(e, time_mono() - received);
		return GM_WATCH_QUEUED;
	}
	scoreboard_count(in->ctx->sb, SB_GEARMAN_ERRORS, 1);
	if (task.unsure) {
		/* gearmand got it and may queue it when it wakes: brought
		 * forward, it could run twice. Under its lease it runs once
		 * if queued, and a QueueRunner sends it when the lease ends
		 * if not. */
		log_warnx("job %llu of db %u: no answer from %s:%u in time "
		    "(%s); it may be queued there, so it is left to its lease",
		    (unsigned long long)jobid, dbid,
		    gm_pool_server(in->gm, s)->host,
		    gm_pool_server(in->gm, s)->port, in->err);
		return GM_WATCH_UNSURE;
	}
	log_warnx("job %llu of db %u not submitted to %s:%u: %s",
	    (unsigned long long)jobid, dbid, gm_pool_server(in->gm, s)->host,
	    gm_pool_server(in->gm, s)->port,
	    rc == -1 ? in->err : "not accepted");
	/* Fenced by attempt 0 and leased = 1: if gearmand queued it after
	 * all and its worker already completed, failed or rescheduled it,
	 * that decision stands. */
	if (client_release(in->gv, job, RESUBMIT_SECONDS) != GV_OK)
		log_info("job %llu of db %u: %s; a QueueRunner sends it when "
		    "its lease ends", (unsigned long long)jobid, dbid,
		    gv_errmsg(in->gv));
	return rc == -1 ? GM_WATCH_FAILED : GM_WATCH_REFUSED;
}

static gearman_return_t
inject(struct injector *in, gearman_job_st *gjob)
{
	struct inject_req req;
	struct gv_job *job = &req.job;
	const char *target;
	int watermark;
	struct gv_new_job nj;
	uint64_t jobid = 0;
	unsigned dbid = 0;
	int inserted = 0, submit_now, rc;
	enum gm_watch_fate fate = GM_WATCH_UNSENT;
	size_t server = 0;
	gearman_return_t ret;
	char why[1100];
	double received = time_mono();

	if (jobjson_inject_decode(gearman_job_workload(gjob),
	    gearman_job_workload_size(gjob), &req, in->err,
	    sizeof(in->err)) == -1) {
		scoreboard_count(in->ctx->sb, SB_JOBS_REFUSED, 1);
		log_info("refused an inject_jobs payload: %s", in->err);
		return refuse(gjob, in->err);
	}
	/* Submitted now: leased as if claimed. Delayed: due at its time.
	 * Over the watermark: due now, for a QueueRunner, which sends it
	 * once gearmand's queue has room. Paused ([function.NAME]): stored,
	 * due, and left for a QueueRunner, which sends it once the function
	 * is resumed. */
	dbreach_mark(in->sh->reach, client_dbset(in->gv));
	target = gm_job_target(job->flag, job->funcname);
	watermark = config_watermark(in->cfg, target);
	submit_now = req.delay == 0 && !config_paused(in->cfg, job->funcname) &&
	    room(in, target, watermark);
	nj = jobfield_new_job(job, req.delay > 0 ? req.delay :
	    submit_now ? config_lease_seconds(in->cfg, job->funcname) : 0);

	rc = submit_now ?
	    client_insert_leased(in->gv, &nj, &jobid, &dbid, &inserted) :
	    gv_insert_job(in->gv, &nj, &jobid, &dbid, &inserted);
	if (rc == GV_EDB && !dbreach_check(in->sh->reach)) {
		/* Nothing stored, and no database answers now: another
		 * master's Injector may reach one, and this one takes no
		 * call until a database answers (the gate). */
		scoreboard_count(in->ctx->sb, SB_DB_ERRORS, 1);
		log_info("a job for %s handed back to gearmand: %s",
		    job->funcname, gv_errmsg(in->gv));
		in->how.handed_back = 1;
		ret = GM_HAND_BACK;
		goto out;
	}
	if (rc == GV_EDB) {
		scoreboard_count(in->ctx->sb, SB_DB_ERRORS, 1);
		log_warnx("job for %s not stored: %s", job->funcname,
		    gv_errmsg(in->gv));
		/* The database's reason (unreachable, table full, ...)
		 * is the client's to see too: it decides what to do next. */
		snprintf(why, sizeof(why), "job not stored: %s",
		    gv_errmsg(in->gv));
		ret = refuse(gjob, why);
		goto out;
	}
	if (rc == GV_EUNKNOWN) {
		/* It may be stored, and run: the client is told so. */
		scoreboard_count(in->ctx->sb, SB_DB_ERRORS, 1);
		log_warnx("job for %s: %s", job->funcname, gv_errmsg(in->gv));
		ret = refuse(gjob, gv_errmsg(in->gv));
		goto out;
	}
	if (rc != GV_OK) {
		scoreboard_count(in->ctx->sb, SB_JOBS_REFUSED, 1);
		log_info("refused a job for %s: %s", job->funcname,
		    gv_errmsg(in->gv));
		ret = refuse(gjob, gv_errmsg(in->gv));
		goto out;
	}
	/* From here the job is committed: whatever happens to the submit,
	 * the client may be told it is stored. */
	if (inserted) {
		scoreboard_count(in->ctx->sb, SB_JOBS_INJECTED, 1);
		if (submit_now)
			fate = submit(in, job, jobid, dbid, received, &server);
	} else
		log_debug("job for %s with unique key %s is already stored as "
		    "job %llu of db %u", job->funcname, job->uniqkey,
		    (unsigned long long)jobid, dbid);

	buf_reset(&in->reply);
	if (jobjson_inject_reply(jobid, dbid, !inserted, &in->reply) == -1) {
		/* Stored all the same: fail rather than answer nothing, and
		 * say so. */
		ret = refuse(gjob, "out of memory after the job was "
		    "stored");
		goto out;
	}
	if (send_reply(in, gjob) == -1)
		log_warnx("job %llu of db %u stored, but the answer was not "
		    "sent: %s", (unsigned long long)jobid, dbid,
		    gearman_job_error(gjob));
	ret = GEARMAN_SUCCESS;
out:
	/* Let through by the watermark, then submitted or not: its count
	 * becomes what gearmand holds, or goes. */
	if (submit_now)
		gm_watch_done(in->sh->watch, target, server, fate);
	jobjson_inject_clear(&req);
	return ret;
}

/* The Injector is shown busy while any of its threads has a call. */
static void
show_busy(struct injector *in, int more)
{
	struct shared *sh = in->sh;

	pthread_mutex_lock(&sh->lock);
	if (more && sh->busy++ == 0)
		scoreboard_state(in->ctx->sb, SB_BUSY);
	else if (!more && --sh->busy == 0)
		scoreboard_state(in->ctx->sb, SB_IDLE);
	pthread_mutex_unlock(&sh->lock);
}

/* A call handled with the Injector shown busy. */
static gearman_return_t
busy(struct injector *in, gearman_job_st *gjob,
    gearman_return_t (*handle)(struct injector *, gearman_job_st *))
{
	gearman_return_t ret;

	show_busy(in, 1);
	ret = handle(in, gjob);
	show_busy(in, 0);
	return ret;
}

/* A call taken as the last database stopped answering (the thread was
 * waiting for a job when the gate closed) goes back to gearmand, for an
 * Injector that reaches a database, rather than being refused. */
static int
hand_back(struct injector *in)
{
	if (dbreach_any(in->sh->reach))
		return 0;
	in->how.handed_back = 1;
	return 1;
}

static gearman_return_t
inject_fn(gearman_job_st *gjob, void *arg)
{
	return hand_back(arg) ? GM_HAND_BACK : busy(arg, gjob, inject);
}

/* The function of a job to cancel by its id, for its metrics; "" when it
 * cannot be read (it then counts under METRICS_OTHER). A read more, only
 * for a cancel by id: the row's function is not in the request. */
static void
job_funcname(struct injector *in, unsigned dbid, uint64_t jobid, char *out,
    size_t len)
{
	struct db *db = dbset_find(client_dbset(in->gv), dbid);
	struct dbval id = DBV_U(jobid);
	struct dbrows rows = { 0 };

	out[0] = '\0';
	if (db == NULL || in->ctx->fs == NULL)
		return;
	if (db_select_rows(db, SQL_JOB_FUNCNAME, &id, 1, 1, &rows, in->err,
	    sizeof(in->err)) == 0 && rows.nrows == 1 && rows.cell[0] != NULL)
		snprintf(out, len, "%s", rows.cell[0]);
	db_rows_free(&rows);
}

/*
 * cancel_jobs: each job named is cancelled (gv_cancel_job), and the
 * answer says, job by job, what was. A job a worker runs is not stopped;
 * see gv_cancel_job. A malformed payload is refused as a whole, with the
 * reason, and nothing is cancelled.
 */
static gearman_return_t
cancel(struct injector *in, gearman_job_st *gjob)
{
	struct cancel_req *reqs;
	size_t n, i, done = 0;
	int array, rc;
	char funcname[GV_FUNCNAME_MAX + 1];

	if (jobjson_cancel_decode(gearman_job_workload(gjob),
	    gearman_job_workload_size(gjob), &reqs, &n, &array, in->err,
	    sizeof(in->err)) == -1) {
		scoreboard_count(in->ctx->sb, SB_JOBS_REFUSED, 1);
		log_info("refused a %s payload: %s", GV_FUNC_CANCEL, in->err);
		return refuse(gjob, in->err);
	}
	for (i = 0; i < n; i++) {
		struct job_name *r = &reqs[i].name;

		if (r->funcname)
			rc = gv_cancel_job(in->gv, r->funcname, r->uniqkey,
			    &r->jobid, &r->dbid);
		else {
			job_funcname(in, r->dbid, r->jobid, funcname,
			    sizeof(funcname));
			rc = gv_cancel_jobid(in->gv, r->dbid, r->jobid);
		}
		if (rc == GV_EDB)
			scoreboard_count(in->ctx->sb, SB_DB_ERRORS, 1);
		if ((reqs[i].cancelled = rc == GV_OK)) {
			done++;
			funcstats_count(in->ctx->fs, r->funcname ? r->funcname :
			    funcname, METRICS_CANCELLED, 1);
			log_info("cancelled job %llu of db %u",
			    (unsigned long long)r->jobid, r->dbid);
		} else
			snprintf(reqs[i].error, sizeof(reqs[i].error), "%s",
			    gv_errmsg(in->gv));
	}
	buf_reset(&in->reply);
	if (jobjson_cancel_reply(reqs, n, array, &in->reply) == -1) {
		jobjson_cancel_free(reqs, n);
		return refuse(gjob, done ? "out of memory after jobs were "
		    "cancelled" : "out of memory");
	}
	jobjson_cancel_free(reqs, n);
	if (send_reply(in, gjob) == -1)
		log_warnx("%zu jobs cancelled, but the answer was not sent: %s",
		    done, gearman_job_error(gjob));
	return GEARMAN_SUCCESS;
}

static gearman_return_t
cancel_fn(gearman_job_st *gjob, void *arg)
{
	return hand_back(arg) ? GM_HAND_BACK : busy(arg, gjob, cancel);
}

/*
 * The database of each job named by its ids, configured: a job_status
 * payload naming another is refused as a whole, as a malformed one, and
 * nothing is read. -1 with the reason in in->err.
 */
static int
status_dbids(struct injector *in, const struct job_name *names, size_t n,
    int array)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (names[i].funcname || dbset_find(client_dbset(in->gv),
		    names[i].dbid) != NULL)
			continue;
		if (array)
			snprintf(in->err, sizeof(in->err), "job %zu: database "
			    "%u is not configured", i, names[i].dbid);
		else
			snprintf(in->err, sizeof(in->err), "database %u is not "
			    "configured", names[i].dbid);
		return -1;
	}
	return 0;
}

/*
 * job_status: what became of each job named (gv_job_status,
 * gv_job_status_key), job by job, in order. It only reads: a malformed
 * payload is refused as a whole, with the reason. A job whose database
 * failed is answered with the error, the others with their states. Each
 * answer is written as it is read, so one result at most is held besides
 * the answer (bounded: JOBJSON_STATUS_REPLY_MAX).
 */
static gearman_return_t
status(struct injector *in, gearman_job_st *gjob)
{
	struct job_name *names;
	struct gv_job_status st;
	size_t n, i;
	int array, rc, full = 0;

	if (jobjson_status_decode(gearman_job_workload(gjob),
	    gearman_job_workload_size(gjob), &names, &n, &array, in->err,
	    sizeof(in->err)) == -1 || status_dbids(in, names, n, array) ==
	    -1) {
		jobjson_status_free(names, n);
		scoreboard_count(in->ctx->sb, SB_JOBS_REFUSED, 1);
		log_info("refused a %s payload: %s", GV_FUNC_STATUS, in->err);
		return refuse(gjob, in->err);
	}
	buf_reset(&in->reply);
	rc = jobjson_status_open(&in->reply, array);
	for (i = 0; i < n && rc != -1; i++) {
		const struct job_name *r = &names[i];

		if (full) {
			rc = jobjson_status_item(&in->reply, i, r, NULL,
			    JOBJSON_STATUS_FULL);
			continue;
		}
		rc = r->funcname ? gv_job_status_key(in->gv, r->funcname,
		    r->uniqkey, &st) : gv_job_status(in->gv, r->dbid, r->jobid,
		    &st);
		if (rc == GV_EDB)
			scoreboard_count(in->ctx->sb, SB_DB_ERRORS, 1);
		rc = jobjson_status_item(&in->reply, i, r, rc == GV_OK ? &st :
		    NULL, gv_errmsg(in->gv));
		gv_job_status_clear(&st);
		full = rc == 1;
	}
	jobjson_status_free(names, n);
	if (rc == -1 || jobjson_status_close(&in->reply, array) == -1)
		return refuse(gjob, "out of memory");
	if (send_reply(in, gjob) == -1)
		log_warnx("the answer to a %s call was not sent: %s",
		    GV_FUNC_STATUS, gearman_job_error(gjob));
	return GEARMAN_SUCCESS;
}

static gearman_return_t
status_fn(gearman_job_st *gjob, void *arg)
{
	return hand_back(arg) ? GM_HAND_BACK : busy(arg, gjob, status);
}

/* A thread's worker, its functions registered; NULL with the reason
 * logged. Made again after the databases were all away (the gate). */
static gearman_worker_st *
open_worker(void *arg)
{
	struct injector *in = arg;
	struct gm_worker_fn fns[] = {
		{ GV_FUNC_INJECT, gearman_function_create(inject_fn) },
		{ GV_FUNC_CANCEL, gearman_function_create(cancel_fn) },
		{ GV_FUNC_STATUS, gearman_function_create(status_fn) },
	};
	gearman_worker_st *w;

	if ((w = gm_worker_open(in->cfg->servers, in->cfg->nservers,
	    THREAD_STOP_POLL_MS, fns, sizeof(fns) / sizeof(fns[0]), in,
	    in->err, sizeof(in->err))) == NULL)
		log_errx("%s", in->err);
	return w;
}

static int
reach_any(void *arg)
{
	struct injector *in = arg;

	return dbreach_any(in->sh->reach);
}

/* One thread's Injector: its connections and its worker, functions
 * registered. EX_OK, or an exit code with the reason logged. */
static int
injector_open(struct injector *in, struct role_ctx *ctx, struct shared *sh)
{
	in->ctx = ctx;
	in->cfg = ctx->cfg;
	in->sh = sh;
	if ((in->gv = client_open_config(in->cfg, in->err,
	    sizeof(in->err))) == NULL) {
		log_errx("%s", in->err);
		return EX_CONFIG;
	}
	if ((in->gm = gm_pool_new(in->cfg->servers, in->cfg->nservers, in->err,
	    sizeof(in->err))) == NULL) {
		log_errx("%s", in->err);
		return EX_CONFIG;
	}
	return (in->w = open_worker(in)) == NULL ? EX_CONFIG : EX_OK;
}

static void
injector_close(struct injector *in)
{
	if (in->w)
		gearman_worker_free(in->w);
	buf_free(&in->doc);
	buf_free(&in->reply);
	gm_pool_free(in->gm);
	gv_close(in->gv);
}

static void
serve(void *arg)
{
	struct injector *in = arg;

	in->how = (struct gm_serve){ .stop = in->ctx->stop, .sb = in->ctx->sb,
	    .up = reach_any, .open = open_worker, .arg = in };
	gm_worker_serve(&in->w, &in->how);
}

/*
 * The first Injector is the main thread's, the others get a thread each.
 * Each finishes the call in hand when the role is asked to stop.
 */
int
injector_main(struct role_ctx *ctx)
{
	size_t n = (size_t)ctx->cfg->injector.concurrency, i, started = 1;
	struct shared sh = { .busy = 0 };
	struct injector *ins;
	int code = EX_OK;

	scoreboard_state(ctx->sb, SB_STARTING);
	if ((ins = calloc(n, sizeof(*ins))) == NULL) {
		log_errx("out of memory");
		return EX_OSERR;
	}
	if ((sh.watch = gm_watch_new(ctx->cfg->servers, ctx->cfg->nservers,
	    ins[0].err, sizeof(ins[0].err))) == NULL) {
		log_errx("%s", ins[0].err);
		free(ins);
		return EX_OSERR;
	}
	pthread_mutex_init(&sh.lock, NULL);
	for (i = 0; i < n && code == EX_OK; i++)
		code = injector_open(&ins[i], ctx, &sh);
	if (code != EX_OK)
		goto out;
	if ((sh.reach = dbreach_start(ctx->cfg, ctx->sb, GV_FUNC_INJECT ", "
	    GV_FUNC_CANCEL " and " GV_FUNC_STATUS, ins[0].err,
	    sizeof(ins[0].err))) == NULL) {
		log_errx("%s", ins[0].err);
		code = EX_OSERR;
		goto out;
	}
	for (; started < n; started++)
		if (thread_start(&ins[started].thread, serve, &ins[started],
		    ins[0].err, sizeof(ins[0].err)) == -1) {
			log_warnx("%s; %zu calls at once instead of %zu",
			    ins[0].err, started, n);
			break;
		}
	log_info("serving %s, %s and %s on %zu gearmand servers, %zu calls "
	    "at once, lease %d s", GV_FUNC_INJECT, GV_FUNC_CANCEL,
	    GV_FUNC_STATUS,
	    ctx->cfg->nservers, started, ctx->cfg->queue_runner.lease_seconds);
	scoreboard_state(ctx->sb, SB_IDLE);
	serve(&ins[0]);
	scoreboard_state(ctx->sb, SB_STOPPING);
	for (i = 1; i < started; i++)
		thread_join(&ins[i].thread);
out:
	dbreach_stop(sh.reach);
	for (i = 0; i < n; i++)
		injector_close(&ins[i]);
	free(ins);
	gm_watch_free(sh.watch);
	pthread_mutex_destroy(&sh.lock);
	return code;
}
