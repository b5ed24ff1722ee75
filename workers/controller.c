/*
 * controller: the worker of run_queued_job (low-latency mode). It runs the
 * job's function through gearman as a foreground task, with the job
 * document as the workload (what the original Controller sent: workers
 * decode it and use "arg"), and deletes the row on success or applies the
 * backoff on failure, exception or timeout.
 *
 * The database row is the truth, not gearmand's copy. A copy is claimed
 * for this run by extending its lease, fenced by the attempt it names: a
 * copy whose row is gone (the job completed) or whose row a newer dispatch
 * owns is stale and never runs.
 *
 * Jobs in flight. One Controller runs up to [controller] concurrency jobs
 * at once, each on a thread of its own (a slot) that submits the job on
 * its own connection to the job's gearmand and waits for the result with
 * the job's deadlines (job_timeout, lease extensions). The main thread
 * takes run_queued_job work only while a slot is free, and answers it as
 * soon as the job is in a slot's hands; the slot claims it (below). Each
 * database has a flusher thread that writes its completions within
 * FLUSH_WAIT (5 ms), many in one commit, whatever the slots are waiting
 * for, on a connection of its own (a commit's fsync then holds up no
 * claim), and one connection for the slots' claims, lease extensions and
 * failures, which a slot takes, uses and gives back (a lane).
 *
 * One database's trouble is its own. The lock guards memory only: the
 * hand-over fields, the lanes' queues and whether a lane's connection is
 * taken, gm's choices and backoffs; no database or gearmand call is made
 * under it. A database that stops answering holds up only what needs it:
 * the slot using its connection (a call waits up to the read timeout, a
 * write retries for lease/3), the slots waiting for that connection (a
 * claim or an extension gives up at once when the connection is taken and
 * its last call failed) and its own flusher. The main thread makes no
 * database call at all: the other databases' jobs are taken, run, extended
 * and completed as before, and their leases never end under them. This
 * changes neither half of the rule below: a job is still claimed (fenced by
 * its attempt) before it runs, now in its slot after run_queued_job is
 * answered, which is what a claim that failed always led to (the job left
 * to its lease); a completion still waits in memory until its flusher
 * commits it, and one that never commits leaves its row, which comes back
 * when its lease ends (tests/t/18-controller-dead-db.t: with one lock over
 * one connection, a stopped database stalled every job, whose leases ended,
 * and the healthy database's jobs all ran twice).
 *
 * Why threads and not one event loop (weighed first, from libgearman's
 * source): libgearman waits on the connections of one client or of one
 * worker, never both, and takes no descriptor of ours; and a job that no
 * worker took can only be taken back by closing the connection that
 * submitted it (gearmand never hands a foreground job whose clients are
 * gone to a worker), which must happen before its row is rescheduled, or
 * it could run twice. One connection per job in flight
 * keeps that, and a thread per slot keeps each job's code straight-line.
 *
 * Why nothing runs twice when nothing breaks: run_queued_job is answered
 * once the job is in a slot, so gearmand never hands the same copy to a
 * second Controller while the first runs it; a Controller that dies leaves
 * its jobs to their leases, after which a QueueRunner sends them again.
 *
 * A database that does not answer (dbreach.c probes each): its jobs go
 * back to gearmand at once, for a Controller that reaches it, rather than
 * waiting here for their leases (controller_back.c); with none answering,
 * the Controller takes no run_queued_job at all until one does
 * (gm_worker_serve's gate).
 *
 * The files. This one is the role: the main thread, which takes work and
 * hands it over, and each slot's life: claim, run, settle. A slot's run on
 * gearmand is controller_run.c's, the lanes and their flushers are
 * controller_lane.c's, jobs going back to gearmand controller_back.c's,
 * and what they share (the lock, struct controller, struct slot) is in
 * controller_int.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "client.h"
#include "controller.h"
#include "controller_back.h"
#include "controller_int.h"
#include "controller_lane.h"
#include "controller_run.h"
#include "dbreach.h"
#include "gm_worker.h"
#include "jobjson.h"
#include "log.h"

#define UNSENT_RETRY "+5"      /* no gearmand took the job: due this soon */
#define UNTAKEN_RETRY "+30"    /* no worker took it: due again this soon */
/* A slot's document buffer is kept between jobs up to this size, and
 * freed after a bigger one: 64 slots that once carried 16 MB jobs held
 * 1 GB for good (48-controller-resources). */
#define SLOT_DOC_KEEP (64 * 1024)

void
controller_lock(struct controller *c)
{
	pthread_mutex_lock(&c->lock);
}

void
controller_unlock(struct controller *c)
{
	pthread_mutex_unlock(&c->lock);
}

/* A completion that committed, counted. Not before: one that never
 * reaches the database (a failed or stale flush, a SIGQUIT with
 * completions held) runs again, and would be counted twice. */
static void
count_done(struct controller *c, struct fs_entry *fs, size_t n)
{
	scoreboard_count(c->ctx->sb, SB_JOBS_DONE, n);
	funcstats_add(fs, METRICS_DONE, n);
}

/* A failure recorded, in the function's metrics. Whether it parked the
 * job is the rule SQL_FAIL applies, on the failcount the attempt's copy
 * carries: the attempt fences the row, so no one else changed it since. */
static void
count_failure(struct controller *c, const struct gv_job *job,
    enum outcome out)
{
	struct fs_entry *e = funcstats_find(c->ctx->fs, job->funcname);
	int max = config_max_failures(c->cfg, job->funcname);

	funcstats_add(e, METRICS_FAILED, 1);
	if (out == RUN_TIMEOUT)
		funcstats_add(e, METRICS_TIMED_OUT, 1);
	if (max > 0 && job->failcount + 1 >= (unsigned)max)
		funcstats_add(e, METRICS_PARKED, 1);
}

/* The worker's result, "" when it gave an empty one, NULL none. */
static const void *
slot_result(const struct slot *sl)
{
	if (!sl->has_result)
		return NULL;
	return sl->result.data ? sl->result.data : "";
}

/* Record the outcome in the row, through the slots' connection to the
 * job's database (waited for: an outcome matters more than a claim). A
 * stale answer means a newer attempt owns the row or it is gone: that
 * attempt decides, not this one. */
static void
settle(struct slot *sl, enum outcome out)
{
	struct controller *c = sl->c;
	const struct gv_job *job = &sl->job;
	unsigned long long jobid = (unsigned long long)job->jobid;
	const char *what;
	gv_client *gv;
	unsigned nodb;
	int rc, said;

	switch (out) {
	case RUN_DONE:
		/* Completions share commits: one fsync for many jobs. The
		 * flusher writes them within their window. */
		if (controller_lane_hold_done(sl->lane, job,
		    slot_result(sl),
		    sl->result.len) == 0)
			return;
		what = "completing";
		break;
	case RUN_UNSENT:
	case RUN_ABANDONED:
	case RUN_LOST:
	case RUN_UNACKED:
		/* Not the job's fault: no failure is counted against it. A
		 * job lost with its gearmand was counted failed before: it
		 * waited out a 2-minute backoff, and enough gearmand restarts
		 * parked a job that never failed (tests/faults/20-gearmand.t).
		 * Whether it ran is unknown: it runs again. */
		if (out == RUN_LOST)
			log_info("job %llu of db %u (%s) lost with its "
			    "gearmand: it runs again", jobid, job->dbid,
			    job->funcname);
		if (out == RUN_UNACKED)
			log_info("job %llu of db %u (%s): %s; it runs again",
			    jobid, job->dbid, job->funcname, sl->err);
		what = "rescheduling";
		break;
	case RUN_UNTAKEN:
		log_info("job %llu of db %u (%s): %s; it runs again in %s s",
		    jobid, job->dbid, job->funcname, sl->untaken,
		    UNTAKEN_RETRY + 1);
		what = "releasing";
		break;
	case RUN_ORPHANED:
		log_warnx("job %llu of db %u (%s) was taken by a worker just "
		    "as this Controller took it back: it runs without this "
		    "Controller, and again when its lease ends", jobid,
		    job->dbid, job->funcname);
		return;
	case RUN_UNKNOWN:
		/* Released, it could run again while a worker still runs
		 * it; failed, it would be charged for gearmand's trouble. */
		log_warnx("job %llu of db %u (%s): %s; it is left to its "
		    "lease", jobid, job->dbid, job->funcname, sl->err);
		return;
	default:
		if (out == RUN_TIMEOUT)
			snprintf(sl->message, sizeof(sl->message), "timed out "
			    "after %g s", config_job_timeout(c->cfg,
			    job->funcname));
		log_info("job %llu of db %u (%s) failed%s%s", jobid,
		    job->dbid, job->funcname, sl->message[0] ? ": " : "",
		    sl->message);
		what = "failing";
		break;
	}
	gv = controller_lane_take(sl->lane, 1);
	switch (out) {
	case RUN_DONE:
		if ((rc = gv_complete_job_result(gv, job, slot_result(sl),
		    sl->result.len)) == GV_OK)
			count_done(c, funcstats_find(c->ctx->fs,
			    job->funcname), 1);
		break;
	case RUN_UNTAKEN:
		if ((rc = gv_reschedule_job(gv, job, UNTAKEN_RETRY)) == GV_OK)
			scoreboard_count(c->ctx->sb, SB_JOBS_UNTAKEN, 1);
		break;
	case RUN_FAILED:
	case RUN_TIMEOUT:
		if ((rc = gv_failed_job_message(gv, job, sl->message)) ==
		    GV_OK) {
			scoreboard_count(c->ctx->sb, SB_JOBS_FAILED, 1);
			count_failure(c, job, out);
		}
		break;
	default:
		rc = gv_reschedule_job(gv, job, UNSENT_RETRY);
		break;
	}
	if (client_no_error_table(gv, &nodb)) {
		controller_lock(c);
		said = c->said_no_error_table++;
		controller_unlock(c);
		if (!said)
			log_warnx("database %u has no job_error table: "
			    "failures are counted, but their reasons are "
			    "dropped (create it with its statement in "
			    "schema.sql)", nodb);
	}
	if (rc == GV_ESTALE)
		log_debug("job %llu of db %u: %s", jobid, job->dbid,
		    gv_errmsg(gv));
	else if (rc != GV_OK) {
		if (rc == GV_EDB)
			scoreboard_count(c->ctx->sb, SB_DB_ERRORS, 1);
		/* The lease brings the job back: it may run again. */
		log_warnx("job %llu of db %u: %s it: %s", jobid, job->dbid,
		    what, gv_errmsg(gv));
	}
	controller_lane_give(sl->lane, rc);
}

/* What a slot's claim found. */
enum claim {
	CLAIM_RUN,      /* claimed: run it */
	CLAIM_NOT,      /* stale, or not to run here: dropped */
	CLAIM_NO_DB,    /* its database did not answer: unclaimed */
};

/* Is this attempt still the job's, with enough lease for the run ahead?
 * A read, in the common case: the Injector or a QueueRunner has just
 * written a fresh lease; only a copy that waited long in gearmand's queue
 * needs its lease extended before it runs. A stale copy must never run:
 * its job may have completed already. When the database cannot say, the
 * job is not run either: it goes back to gearmand (controller_back.c),
 * the reason in sl->err. */
static enum claim
claim_now(struct slot *sl)
{
	struct controller *c = sl->c;
	const struct gv_job *job = &sl->job;
	unsigned long long jobid = (unsigned long long)job->jobid;
	int lease = config_lease_seconds(c->cfg, job->funcname);
	gv_client *gv;
	long left;
	int rc;

	if (!dbreach_up(c->reach, job->dbid)) {
		snprintf(sl->err, sizeof(sl->err), "database %u does not "
		    "answer", job->dbid);
		return CLAIM_NO_DB;
	}
	if ((gv = controller_lane_take(sl->lane, 0)) == NULL) {
		scoreboard_count(c->ctx->sb, SB_DB_ERRORS, 1);
		snprintf(sl->err, sizeof(sl->err), "database %u did not "
		    "answer the last call", job->dbid);
		return CLAIM_NO_DB;
	}
	if ((rc = gv_lease_left(gv, job, &left)) == GV_OK &&
	    left < lease / 2)
		rc = gv_extend_lease(gv, job, (unsigned)lease);
	if (rc == GV_ESTALE)
		log_info("job %llu of db %u is stale, not run", jobid,
		    job->dbid);
	else if (rc == GV_EDB) {
		scoreboard_count(c->ctx->sb, SB_DB_ERRORS, 1);
		snprintf(sl->err, sizeof(sl->err), "%s", gv_errmsg(gv));
	} else if (rc != GV_OK)
		log_warnx("job %llu of db %u not run: %s", jobid, job->dbid,
		    gv_errmsg(gv));
	controller_lane_give(sl->lane, rc);
	return rc == GV_OK ? CLAIM_RUN : rc == GV_EDB ? CLAIM_NO_DB :
	    CLAIM_NOT;
}

/*
 * Claims take their lane in the order their jobs were handed over, which
 * is the order gearmand gave them (by priority, then age): slots racing
 * for the lane would otherwise reorder them. The slots then send their
 * jobs to gearmand side by side, each at its priority: jobs that wait
 * there are taken highest first, but an idle worker takes whichever
 * arrives first. Keeping the turn until the job is sent would hold the
 * lane across gearmand I/O (52-priorities tests both orders).
 */
static enum claim
claim(struct slot *sl)
{
	struct lane *l = sl->lane;
	enum claim ok;

	if (l == NULL) {
		log_warnx("job %llu of db %u not run: database %u is not "
		    "configured", (unsigned long long)sl->job.jobid,
		    sl->job.dbid, sl->job.dbid);
		return CLAIM_NOT;
	}
	controller_lane_wait_turn(l, sl->claim_ticket);
	ok = claim_now(sl);
	controller_lane_end_turn(l);
	return ok;
}

/* A slot: claim each job handed over, run it, settle it, wait for the
 * next. No lock is held while it does. */
static void
slot_main(void *arg)
{
	struct slot *sl = arg;
	struct controller *c = sl->c;

	controller_lock(c);
	for (;;) {
		while (!sl->has_job && !c->done)
			pthread_cond_wait(&sl->wake, &c->lock);
		if (!sl->has_job)
			break;
		controller_unlock(c);
		switch (claim(sl)) {
		case CLAIM_RUN:
			settle(sl, controller_run(sl));
			break;
		case CLAIM_NO_DB:
			controller_send_back(sl);
			break;
		case CLAIM_NOT:
			break;
		}
		controller_lock(c);
		gv_job_clear(&sl->job);
		if (sl->doc.cap > SLOT_DOC_KEEP)
			buf_free(&sl->doc);
		if (sl->result.cap > SLOT_DOC_KEEP)
			buf_free(&sl->result);
		buf_reset(&sl->result);
		sl->has_result = 0;
		sl->has_job = 0;
		if (--c->busy == 0 && !*c->ctx->stop)
			scoreboard_state(c->ctx->sb, SB_IDLE);
		pthread_cond_signal(&c->freed);
		if (c->done && c->busy == 0)    /* the flushers may end */
			controller_lane_wake_flushers(c);
	}
	controller_unlock(c);
}

/* Hand job and its document to a free slot (the main thread waited for
 * one before taking the job), with the lock held. -1 when memory ran out
 * (or, which cannot happen, no slot was free): the job is left to its
 * lease. */
static int
hand_over(struct controller *c, struct gv_job *job, const void *doc,
    size_t len)
{
	struct slot *sl = NULL;
	size_t i;

	for (i = 0; i < c->nslots && sl == NULL; i++)
		if (!c->slots[i].has_job)
			sl = &c->slots[i];
	if (sl == NULL)
		return -1;
	buf_reset(&sl->doc);
	if (buf_append(&sl->doc, doc, len) == -1)
		return -1;
	sl->job = *job;
	memset(job, 0, sizeof(*job));
	/* The slot sends the document as it came; settling needs the job's
	 * ids, never its decoded arg, which would double what a big job
	 * holds. */
	free(sl->job.arg);
	sl->job.arg = NULL;
	sl->job.arg_len = 0;
	if ((sl->lane = controller_lane_find(c, sl->job.dbid)) != NULL)
		sl->claim_ticket = controller_lane_ticket(sl->lane);
	sl->has_job = 1;
	if (c->busy++ == 0)
		scoreboard_state(c->ctx->sb, SB_BUSY);
	pthread_cond_signal(&sl->wake);
	return 0;
}

/* A job of a database that does not answer, before it is answered: back
 * to gearmand as it is (GM_HAND_BACK), this Controller's worker
 * disconnected for the pause, so that another Controller takes it; or,
 * once it came back too often, answered and left to its lease. */
static gearman_return_t
hand_back(struct controller *c, const struct gv_job *job)
{
	unsigned long long jobid = (unsigned long long)job->jobid;
	double pause;

	if (controller_going_back(c, job, &pause) == -1) {
		log_warnx("job %llu of db %u not run: database %u does not "
		    "answer, and the job kept coming back; it runs when its "
		    "lease ends", jobid, job->dbid, job->dbid);
		return GEARMAN_SUCCESS;
	}
	log_info("job %llu of db %u handed back to gearmand: database %u "
	    "does not answer", jobid, job->dbid, job->dbid);
	c->resume_at = time_mono() + pause;
	c->how.handed_back = 1;
	return GM_HAND_BACK;
}

/* A run_queued_job: checked and handed to a slot, then answered. The
 * claim and the run are the slot's: the main thread waits for no
 * database. */
static gearman_return_t
handle(struct controller *c, gearman_job_st *gjob)
{
	const void *doc = gearman_job_workload(gjob);
	size_t len = gearman_job_workload_size(gjob);
	struct gv_job job;
	gearman_return_t ret;

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
	if (!dbreach_up(c->reach, job.dbid)) {
		ret = hand_back(c, &job);
		gv_job_clear(&job);
		return ret;
	}
	controller_lock(c);
	if (hand_over(c, &job, doc, len) == -1)
		log_warnx("job %llu of db %u not run: out of memory; it runs "
		    "when its lease ends", (unsigned long long)job.jobid,
		    job.dbid);
	controller_unlock(c);
	gv_job_clear(&job);
	return GEARMAN_SUCCESS;
}

static gearman_return_t
controller_fn(gearman_job_st *gjob, void *arg)
{
	return handle(arg, gjob);
}

/* Before taking work: wait for a free slot, beating the heart meanwhile.
 * Only a Controller with room asks gearmand for a job. */
static void
wait_slot(void *arg)
{
	struct controller *c = arg;

	/* After a job went back: not taken again by this Controller at
	 * once (its worker is disconnected meanwhile). */
	time_sleep(c->resume_at - time_mono(), c->ctx->stop);
	controller_lock(c);
	while (c->busy == c->nslots && !*c->ctx->stop) {
		thread_wait_until(&c->freed, &c->lock, time_mono() + SLOT_WAIT);
		scoreboard_heartbeat(c->ctx->sb);
	}
	controller_unlock(c);
}

/* The worker of run_queued_job; NULL with the reason logged. Made again
 * after the databases were all away (the gate). */
static gearman_worker_st *
open_worker(void *arg)
{
	struct controller *c = arg;
	struct gm_worker_fn fn = { GV_FUNC_RUN_QUEUED,
	    gearman_function_create(controller_fn) };
	gearman_worker_st *w;

	if ((w = gm_worker_open(c->cfg->servers, c->cfg->nservers,
	    THREAD_STOP_POLL_MS, &fn, 1, c, c->err, sizeof(c->err))) == NULL)
		log_errx("%s", c->err);
	return w;
}

static int
reach_any(void *arg)
{
	struct controller *c = arg;

	return dbreach_any(c->reach);
}

/* Start the slots and the flushers. -1 with a message in c->err. */
static int
start_threads(struct controller *c)
{
	char why[256];
	size_t i;

	pthread_mutex_init(&c->lock, NULL);
	thread_cond_init(&c->freed);
	if ((c->slots = calloc((size_t)c->cfg->controller.concurrency,
	    sizeof(*c->slots))) == NULL)
		return errf(c->err, sizeof(c->err), "out of memory");
	c->nslots = (size_t)c->cfg->controller.concurrency;
	if ((c->status = calloc(c->cfg->nservers, sizeof(*c->status))) ==
	    NULL || (c->status_at = calloc(c->cfg->nservers,
	    sizeof(*c->status_at))) == NULL)
		return errf(c->err, sizeof(c->err), "out of memory");
	for (i = 0; i < c->nslots; i++) {
		struct slot *sl = &c->slots[i];

		sl->c = c;
		pthread_cond_init(&sl->wake, NULL);
		if ((sl->clients = calloc(c->cfg->nservers,
		    sizeof(*sl->clients))) == NULL)
			return errf(c->err, sizeof(c->err), "out of memory");
	}
	if (controller_lane_start_flushers(c) == -1)
		return -1;
	for (i = 0; i < c->nslots; i++) {
		if (thread_start(&c->slots[i].thread, slot_main, &c->slots[i],
		    why, sizeof(why)) == -1)
			return errf(c->err, sizeof(c->err), "%s: started %zu of "
			    "the %zu threads [controller] concurrency asks for "
			    "(a slot each, and a flusher per database): lower "
			    "it, or raise the limit that stopped them (ulimit "
			    "-v, ulimit -u)", why, c->nthreads + c->nlanes,
			    c->nslots + c->nlanes);
		c->nthreads++;
	}
	return 0;
}

/* Let the jobs in flight end (a stop abandons those no worker started),
 * then end the threads, the flushers last so that they write the last
 * completions. */
static void
stop_threads(struct controller *c)
{
	size_t i;

	controller_lock(c);
	c->done = 1;
	for (i = 0; i < c->nthreads; i++)
		pthread_cond_signal(&c->slots[i].wake);
	controller_unlock(c);
	for (i = 0; i < c->nthreads; i++)
		thread_join(&c->slots[i].thread);
	controller_lane_stop_flushers(c);
}

static void
slots_free(struct controller *c)
{
	size_t i, s;

	for (i = 0; i < c->nslots; i++) {
		struct slot *sl = &c->slots[i];

		controller_run_drop_clients(sl);
		free(sl->clients);
		buf_free(&sl->doc);
		buf_free(&sl->result);
		gv_job_clear(&sl->job);
	}
	free(c->slots);
	for (s = 0; c->status && s < c->cfg->nservers; s++)
		gm_depths_free(&c->status[s]);
	free(c->status);
	free(c->status_at);
}

int
controller_main(struct role_ctx *ctx)
{
	struct controller c;
	gearman_worker_st *w = NULL;
	int code = EX_OK, threads = 0;

	memset(&c, 0, sizeof(c));
	c.ctx = ctx;
	c.cfg = ctx->cfg;
	c.how = (struct gm_serve){ .stop = ctx->stop, .sb = ctx->sb,
	    .ready = wait_slot, .up = reach_any, .open = open_worker,
	    .arg = &c };
	scoreboard_state(ctx->sb, SB_STARTING);
	if (controller_lane_open_all(&c) == -1) {
		log_errx("%s", c.err);
		controller_lane_close_all(&c);
		return EX_CONFIG;
	}
	if ((c.gm = gm_pool_new(c.cfg->servers, c.cfg->nservers, c.err,
	    sizeof(c.err))) == NULL) {
		log_errx("%s", c.err);
		code = EX_CONFIG;
		goto out;
	}
	if ((w = open_worker(&c)) == NULL) {
		code = EX_CONFIG;
		goto out;
	}
	if ((c.reach = dbreach_start(c.cfg, ctx->sb, GV_FUNC_RUN_QUEUED, c.err,
	    sizeof(c.err))) == NULL) {
		log_errx("%s", c.err);
		code = EX_OSERR;
		goto out;
	}
	threads = 1;
	/* What stops threads here is a limit the INI's concurrency does not
	 * fit in; it stops the next start too, so it is not respawned in a
	 * loop (the master does not restart EX_CONFIG at once). */
	if (start_threads(&c) == -1) {
		log_errx("%s", c.err);
		code = EX_CONFIG;
		goto out;
	}
	log_info("serving %s on %zu gearmand servers, %zu jobs at a time, "
	    "job timeout %g s, lease %d s", GV_FUNC_RUN_QUEUED,
	    c.cfg->nservers, c.nslots, c.cfg->controller.job_timeout,
	    c.cfg->queue_runner.lease_seconds);
	scoreboard_state(ctx->sb, SB_IDLE);
	gm_worker_serve(&w, &c.how);
	scoreboard_state(ctx->sb, SB_STOPPING);
out:
	if (threads)
		stop_threads(&c);
	dbreach_stop(c.reach);
	if (w)
		gearman_worker_free(w);
	slots_free(&c);
	gm_pool_free(c.gm);
	controller_lane_close_all(&c);
	return code;
}
