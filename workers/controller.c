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
 * failures, which a slot takes, uses and gives back (struct lane).
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
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "client.h"
#include "controller.h"
#include "db.h"
#include "dbset.h"
#include "gm.h"
#include "gm_worker.h"
#include "jobjson.h"
#include "log.h"
#include "role.h"
#include "thread.h"
#include "util.h"

#define WAIT_MS 1000           /* slice of waiting for a job's result */
#define UNSENT_RETRY "+5"      /* no gearmand took the job: due this soon */
#define UNTAKEN_RETRY "+30"    /* no worker took it: due again this soon */
#define SLOT_WAIT 1.0          /* the main thread's heartbeat while full */
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
#define FLUSH_WAIT 0.005       /* a completion waits this long at most... */
#define FLUSH_MAX 100          /* ...or for this many (gv_complete_later's) */
/* A slot's document buffer is kept between jobs up to this size, and
 * freed after a bigger one: 64 slots that once carried 16 MB jobs held
 * 1 GB for good (48-controller-resources). */
#define SLOT_DOC_KEEP (64 * 1024)

enum outcome {
	RUN_DONE,       /* WORK_COMPLETE */
	RUN_FAILED,     /* WORK_FAIL or WORK_EXCEPTION */
	RUN_TIMEOUT,    /* no answer within job_timeout */
	RUN_LOST,       /* gearmand took the job, then the connection failed */
	RUN_UNSENT,     /* no gearmand took the job */
	RUN_ABANDONED,  /* stopping, and no worker had started it */
	RUN_UNTAKEN,    /* no worker started it within job_timeout */
	RUN_ORPHANED,   /* a worker took it just as it was taken back: its
	                   result cannot come back; its lease ends the run */
	RUN_UNKNOWN,    /* gearmand could not say whether a worker has it:
	                   left to its lease */
	RUN_UNACKED,    /* gearmand never acknowledged the submission */
	RUN_RESULT,     /* (take_back) its result came first: read it */
	RUN_WAITING,    /* (run_on) nothing decided yet */
};

struct controller;

/* One database: the slots' connection to it (taken by one slot at a time,
 * never under the lock while in use) and the completions for its flusher,
 * which writes them on a connection of its own. Each figure of the
 * connections is copied here by the thread that owns the connection, for
 * the scoreboard. */
struct lane {
	struct controller *c;
	unsigned dbid;
	size_t index;                 /* in dbid order */
	gv_client *gv;                /* the slots' */
	int taken;                    /* a slot is using gv */
	int sick;                     /* gv's last call failed (GV_EDB) */
	unsigned long claim_next;     /* the ticket of the next job handed */
	unsigned long claim_turn;     /* the ticket whose claim goes next */
	pthread_cond_t returned;      /* gv was given back */
	gv_client *fgv;               /* the flusher's */
	struct gv_job *done_jobs;     /* completions since done_since... */
	struct fs_entry **done_fs;    /* ...and their functions */
	size_t ndone, done_cap;
	double done_since;            /* time_mono() */
	pthread_cond_t held;          /* a completion is held */
	struct thread flusher;
	int flusher_started;
	unsigned long conflicts[2], failovers[2]; /* gv's, fgv's */
	int host;                     /* gv's host, else fgv's (-1: none) */
};

/* One job in flight: its thread, its connections, what its worker said. */
struct slot {
	struct controller *c;
	struct thread thread;
	pthread_cond_t wake;          /* a job was handed over, or done */
	struct lane *lane;            /* the job's database */
	unsigned long claim_ticket;   /* its place in the lane's claims */
	gearman_client_st **clients;  /* per server */
	struct gv_job job;            /* the job in hand */
	struct buf doc;               /* its document */
	int has_job;
	int created;                  /* gearmand acknowledged the job */
	int running;                  /* gearmand said a worker has it */
	double workers_check;         /* time_mono() of the next look */
	char message[GV_MESSAGE_MAX + 1]; /* the worker's warning or
	                                 exception, or why it failed */
	char untaken[512];            /* why it was given back (RUN_UNTAKEN) */
	char err[1024];
};

struct controller {
	struct role_ctx *ctx;
	const struct config *cfg;
	/* The lock guards memory only: the lanes' queues and taken flags,
	 * gm's choices and backoffs, and the slots' hand-over fields. */
	pthread_mutex_t lock;
	pthread_cond_t freed;         /* a slot became free */
	struct lane *lanes;           /* per database, in dbid order */
	size_t nlanes;
	struct gm_pool *gm;
	struct slot *slots;
	size_t nslots;
	size_t busy;                  /* slots with a job */
	size_t nthreads;              /* slot threads started */
	int done;                     /* the threads are to end */
	struct thread flusher;
	/* Per server: its `status` (workers per function), and when read. */
	struct gm_depths *status;
	double *status_at;
	int said_no_error_table;      /* logged that reasons are dropped */
	char err[1024];               /* the main thread's */
};

static void
lock(struct controller *c)
{
	pthread_mutex_lock(&c->lock);
}

static void
unlock(struct controller *c)
{
	pthread_mutex_unlock(&c->lock);
}

/* Wait on cond until time_mono() reaches until (at most). */
static void
wait_until(pthread_cond_t *cond, pthread_mutex_t *m, double until)
{
	struct timespec ts;
	double now, left;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = time_mono();
	left = until - now;
	if (left <= 0)
		return;
	ts.tv_sec += (time_t)left;
	ts.tv_nsec += (long)((left - (double)(time_t)left) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(cond, m, &ts);
}

/* The lane of database dbid; NULL when it is not configured. */
static struct lane *
lane_find(struct controller *c, unsigned dbid)
{
	size_t i;

	for (i = 0; i < c->nlanes; i++)
		if (c->lanes[i].dbid == dbid)
			return &c->lanes[i];
	return NULL;
}

/* The figures of db (the one database of gv) for the scoreboard, copied
 * by the thread that owns gv, with the lock held; k: 0 gv, 1 fgv. */
static void
lane_figures(struct lane *l, gv_client *gv, int k)
{
	struct db *db = dbset_at(client_dbset(gv), 0);
	int host = db_host_index(db);

	l->conflicts[k] = db_conflicts(db);
	l->failovers[k] = db_failovers(db);
	if (host >= 0 && (k == 0 || l->host < 0))
		l->host = host;
}

/* Take the slots' connection to the lane's database, waiting while
 * another slot uses it; NULL, at once, when must_wait is 0, another slot
 * uses it and its last call failed: a claim or a lease extension does not
 * queue behind a database that does not answer. */
static gv_client *
lane_take(struct lane *l, int must_wait)
{
	struct controller *c = l->c;

	lock(c);
	while (l->taken && (must_wait || !l->sick))
		pthread_cond_wait(&l->returned, &c->lock);
	if (l->taken) {
		unlock(c);
		return NULL;
	}
	l->taken = 1;
	unlock(c);
	return l->gv;
}

/* Give it back after a call that returned rc. */
static void
lane_give(struct lane *l, int rc)
{
	struct controller *c = l->c;

	lock(c);
	l->sick = rc == GV_EDB;
	lane_figures(l, l->gv, 0);
	l->taken = 0;
	pthread_cond_broadcast(&l->returned);
	unlock(c);
}

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

	if ((gv = lane_take(sl->lane, 0)) == NULL) {
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
	lane_give(sl->lane, rc);
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

	lock(c);
	if (time_mono() - c->status_at[s] > WORKERS_MAX_AGE) {
		unlock(c);
		if (gm_admin_status(gm_pool_server(c->gm, s), ADMIN_TIMEOUT,
		    &fresh, err, sizeof(err)) == -1) {
			log_debug("%s", err);
			gm_depths_free(&fresh);
			return 0;
		}
		lock(c);
		gm_depths_free(&c->status[s]);
		c->status[s] = fresh;
		c->status_at[s] = time_mono();
	}
	none = gm_depths_workers(&c->status[s], funcname) == 0;
	unlock(c);
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
static enum outcome
run(struct slot *sl)
{
	struct controller *c = sl->c;
	const struct gv_job *job = &sl->job;
	char uniq[GV_GEARMAN_UNIQKEY_MAX + 1];
	const char *unique = gm_unique(job->uniqkey, uniq);
	size_t tries, s, n = gm_pool_count(c->gm);
	enum outcome out = RUN_UNSENT;
	int reused;

	for (tries = 0; tries < 2 * n && out == RUN_UNSENT; tries++) {
		lock(c);
		s = gm_pool_choose_job(c->gm, job->jobid, job->dbid, unique);
		unlock(c);
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
			lock(c);
			gm_pool_failed(c->gm, s);
			unlock(c);
		}
	}
	return out;
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

/* Hand a completion to its database's flusher; the first of a batch sets
 * its deadline and wakes the flusher, the next ones share it. -1 when
 * memory ran out: the caller completes it itself. Memory only. */
static int
hold_done(struct controller *c, struct lane *l, const struct gv_job *job)
{
	struct fs_entry *fs = funcstats_find(c->ctx->fs, job->funcname);
	struct gv_job *grown;
	struct fs_entry **grown_fs;
	size_t cap;

	lock(c);
	if (l->ndone == l->done_cap) {
		cap = l->done_cap ? 2 * l->done_cap : 16;
		if ((grown_fs = realloc(l->done_fs, cap * sizeof(*grown_fs))) !=
		    NULL)
			l->done_fs = grown_fs;
		if (grown_fs == NULL || (grown = realloc(l->done_jobs,
		    cap * sizeof(*grown))) == NULL) {
			unlock(c);
			return -1;
		}
		l->done_jobs = grown;
		l->done_cap = cap;
	}
	l->done_fs[l->ndone] = fs;
	/* What a completion needs: where, which, which attempt, and whether
	 * it has failures to delete with it. */
	l->done_jobs[l->ndone] = (struct gv_job){ .jobid = job->jobid,
	    .dbid = job->dbid, .attempt = job->attempt,
	    .fenced = job->fenced, .failcount = job->failcount };
	if (l->ndone++ == 0) {
		l->done_since = time_mono();
		pthread_cond_signal(&l->held);
	}
	unlock(c);
	return 0;
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
		if (hold_done(c, sl->lane, job) == 0)
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
	gv = lane_take(sl->lane, 1);
	switch (out) {
	case RUN_DONE:
		if ((rc = gv_complete_job(gv, job)) == GV_OK)
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
		lock(c);
		said = c->said_no_error_table++;
		unlock(c);
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
	lane_give(sl->lane, rc);
}

/* Is this attempt still the job's, with enough lease for the run ahead?
 * A read, in the common case: the Injector or a QueueRunner has just
 * written a fresh lease; only a copy that waited long in gearmand's queue
 * needs its lease extended before it runs. A stale copy must never run:
 * its job may have completed already. When the database cannot say, the
 * job is not run either: its lease ends and it is sent again. 1 when it
 * is to run. */
static int
claim_now(struct slot *sl)
{
	struct controller *c = sl->c;
	const struct gv_job *job = &sl->job;
	unsigned long long jobid = (unsigned long long)job->jobid;
	int lease = config_lease_seconds(c->cfg, job->funcname);
	gv_client *gv;
	long left;
	int rc;

	if ((gv = lane_take(sl->lane, 0)) == NULL) {
		scoreboard_count(c->ctx->sb, SB_DB_ERRORS, 1);
		log_warnx("job %llu of db %u not run: the database did not "
		    "answer the last call; it runs when its lease ends", jobid,
		    job->dbid);
		return 0;
	}
	if ((rc = gv_lease_left(gv, job, &left)) == GV_OK &&
	    left < lease / 2)
		rc = gv_extend_lease(gv, job, (unsigned)lease);
	if (rc == GV_ESTALE)
		log_info("job %llu of db %u is stale, not run", jobid,
		    job->dbid);
	else if (rc != GV_OK) {
		if (rc == GV_EDB)
			scoreboard_count(c->ctx->sb, SB_DB_ERRORS, 1);
		log_warnx("job %llu of db %u not run: %s", jobid, job->dbid,
		    gv_errmsg(gv));
	}
	lane_give(sl->lane, rc);
	return rc == GV_OK;
}

/*
 * Claims take their lane in the order their jobs were handed over, which
 * is the order gearmand gave them (by priority, then age): slots racing
 * for the lane would otherwise reorder them, and a low-priority job could
 * reach its worker before a high one taken just before it.
 */
static int
claim(struct slot *sl)
{
	struct controller *c = sl->c;
	struct lane *l = sl->lane;
	int ok;

	if (l == NULL) {
		log_warnx("job %llu of db %u not run: database %u is not "
		    "configured", (unsigned long long)sl->job.jobid,
		    sl->job.dbid, sl->job.dbid);
		return 0;
	}
	lock(c);
	while (l->claim_turn != sl->claim_ticket)
		pthread_cond_wait(&l->returned, &c->lock);
	unlock(c);
	ok = claim_now(sl);
	lock(c);
	l->claim_turn++;
	pthread_cond_broadcast(&l->returned);
	unlock(c);
	return ok;
}

/* A slot: claim each job handed over, run it, settle it, wait for the
 * next. No lock is held while it does. */
static void
slot_main(void *arg)
{
	struct slot *sl = arg;
	struct controller *c = sl->c;
	size_t i;

	lock(c);
	for (;;) {
		while (!sl->has_job && !c->done)
			pthread_cond_wait(&sl->wake, &c->lock);
		if (!sl->has_job)
			break;
		unlock(c);
		if (claim(sl))
			settle(sl, run(sl));
		lock(c);
		gv_job_clear(&sl->job);
		if (sl->doc.cap > SLOT_DOC_KEEP)
			buf_free(&sl->doc);
		sl->has_job = 0;
		if (--c->busy == 0 && !*c->ctx->stop)
			scoreboard_state(c->ctx->sb, SB_IDLE);
		pthread_cond_signal(&c->freed);
		if (c->done && c->busy == 0)    /* the flushers may end */
			for (i = 0; i < c->nlanes; i++)
				pthread_cond_signal(&c->lanes[i].held);
	}
	unlock(c);
}

/* The figures of every database's connections, with the lock held. */
static void
publish_dbs(struct controller *c)
{
	unsigned long conflicts = 0, failovers = 0;
	size_t i;

	for (i = 0; i < c->nlanes; i++) {
		const struct lane *l = &c->lanes[i];

		conflicts += l->conflicts[0] + l->conflicts[1];
		failovers += l->failovers[0] + l->failovers[1];
		scoreboard_db_host(c->ctx->sb, l->index, l->host);
	}
	scoreboard_db_totals(c->ctx->sb, conflicts, failovers);
}

/* A database's flusher: its completions reach it within FLUSH_WAIT,
 * whatever the slots wait for (a completion held behind a job of minutes
 * outlived its lease, and its job ran again: 26-fast-then-slow), through
 * the flusher's own connection, without the lock. A database that does
 * not answer holds up its own completions only. After a stop it goes on
 * until the last job in flight is settled. */
static void
flusher_main(void *arg)
{
	struct lane *l = arg;
	struct controller *c = l->c;
	struct gv_job *batch;
	struct fs_entry **fs;
	unsigned char *done;
	size_t i, n, committed;
	int rc;

	lock(c);
	while (!c->done || c->busy > 0 || l->ndone > 0) {
		if (l->ndone == 0 || (l->ndone < FLUSH_MAX &&
		    time_mono() < l->done_since + FLUSH_WAIT)) {
			wait_until(&l->held, &c->lock, l->ndone ?
			    l->done_since + FLUSH_WAIT : time_mono() +
			    SLOT_WAIT);
			if (l == &c->lanes[0])
				publish_dbs(c);
			continue;
		}
		/* The batch is the flusher's: the slots start a new one. */
		batch = l->done_jobs;
		fs = l->done_fs;
		n = l->ndone;
		l->done_jobs = NULL;
		l->done_fs = NULL;
		l->ndone = l->done_cap = 0;
		unlock(c);
		/* A hundred to a statement; done says which committed. */
		if ((done = malloc(n)) == NULL)
			rc = GV_ENOMEM;
		else
			rc = client_complete_now(l->fgv, batch, n, done);
		if (rc != GV_OK) {
			if (rc == GV_EDB)
				scoreboard_count(c->ctx->sb, SB_DB_ERRORS, 1);
			log_warnx("completing jobs of db %u: %s; they run again "
			    "when their leases end", l->dbid, done ?
			    gv_errmsg(l->fgv) : "out of memory");
		}
		for (i = 0, committed = 0; done && i < n; i++)
			if (done[i]) {
				funcstats_add(fs[i], METRICS_DONE, 1);
				committed++;
			}
		scoreboard_count(c->ctx->sb, SB_JOBS_DONE, committed);
		free(done);
		free(fs);
		free(batch);
		lock(c);
		lane_figures(l, l->fgv, 1);
	}
	unlock(c);
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
	if ((sl->lane = lane_find(c, sl->job.dbid)) != NULL)
		sl->claim_ticket = sl->lane->claim_next++;
	sl->has_job = 1;
	if (c->busy++ == 0)
		scoreboard_state(c->ctx->sb, SB_BUSY);
	pthread_cond_signal(&sl->wake);
	return 0;
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
	lock(c);
	if (hand_over(c, &job, doc, len) == -1)
		log_warnx("job %llu of db %u not run: out of memory; it runs "
		    "when its lease ends", (unsigned long long)job.jobid,
		    job.dbid);
	unlock(c);
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

	lock(c);
	while (c->busy == c->nslots && !*c->ctx->stop) {
		wait_until(&c->freed, &c->lock, time_mono() + SLOT_WAIT);
		scoreboard_heartbeat(c->ctx->sb);
	}
	unlock(c);
}

static void
beat(void *sb)
{
	scoreboard_heartbeat(sb);
}

/* Start the slots and the flusher. -1 with a message in c->err. */
static int
start_threads(struct controller *c)
{
	char why[256];
	pthread_condattr_t ca;
	size_t i;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->freed, &ca);
	for (i = 0; i < c->nlanes; i++) {
		pthread_cond_init(&c->lanes[i].held, &ca);
		pthread_cond_init(&c->lanes[i].returned, NULL);
	}
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
	pthread_condattr_destroy(&ca);
	for (i = 0; i < c->nlanes; i++) {
		if (thread_start(&c->lanes[i].flusher, flusher_main,
		    &c->lanes[i], c->err, sizeof(c->err)) == -1)
			return -1;
		c->lanes[i].flusher_started = 1;
	}
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

	lock(c);
	c->done = 1;
	for (i = 0; i < c->nthreads; i++)
		pthread_cond_signal(&c->slots[i].wake);
	unlock(c);
	for (i = 0; i < c->nthreads; i++)
		thread_join(&c->slots[i].thread);
	lock(c);
	for (i = 0; i < c->nlanes; i++)
		pthread_cond_signal(&c->lanes[i].held);
	unlock(c);
	for (i = 0; i < c->nlanes; i++)
		if (c->lanes[i].flusher_started)
			thread_join(&c->lanes[i].flusher);
}

static void
slots_free(struct controller *c)
{
	size_t i, s;

	for (i = 0; i < c->nslots; i++) {
		struct slot *sl = &c->slots[i];

		for (s = 0; sl->clients && s < c->cfg->nservers; s++)
			drop_client(sl, s);
		free(sl->clients);
		buf_free(&sl->doc);
		gv_job_clear(&sl->job);
	}
	free(c->slots);
	for (s = 0; c->status && s < c->cfg->nservers; s++)
		gm_depths_free(&c->status[s]);
	free(c->status);
	free(c->status_at);
}

/* A lane per database: two connections of its own (none opened yet), each
 * retrying a write while most of a lease remains, so that a job that ran
 * does not run again because its result met a short outage. (The read
 * before a run does not retry: not knowing is a reason not to run.)
 * Retrying through an outage is a sign of life: with a long lease, the
 * retries would outlast heartbeat_timeout, and the master would kill the
 * Controller in the middle of them. -1 with a message in c->err. */
static int
lanes_open(struct controller *c)
{
	double retry = c->cfg->queue_runner.lease_seconds / 3.0;
	size_t i;

	if ((c->lanes = calloc(c->cfg->ndbs, sizeof(*c->lanes))) == NULL)
		return errf(c->err, sizeof(c->err), "out of memory");
	for (i = 0; i < c->cfg->ndbs; i++) {
		struct lane *l = &c->lanes[c->nlanes];

		l->c = c;
		l->dbid = c->cfg->dbs[i].dbid;
		l->index = i;
		l->host = -1;
		if ((l->gv = client_open_config_db(c->cfg, l->dbid, c->err,
		    sizeof(c->err))) == NULL)
			return -1;
		c->nlanes++;
		if ((l->fgv = client_open_config_db(c->cfg, l->dbid, c->err,
		    sizeof(c->err))) == NULL)
			return -1;
		gv_set_retry(l->gv, retry);
		gv_set_retry(l->fgv, retry);
		client_on_retry(l->gv, beat, c->ctx->sb);
		client_on_retry(l->fgv, beat, c->ctx->sb);
	}
	return 0;
}

static void
lanes_close(struct controller *c)
{
	size_t i;

	for (i = 0; i < c->nlanes; i++) {
		gv_close(c->lanes[i].gv);
		gv_close(c->lanes[i].fgv);
		free(c->lanes[i].done_jobs);
		free(c->lanes[i].done_fs);
	}
	free(c->lanes);
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
	scoreboard_state(ctx->sb, SB_STARTING);
	if (lanes_open(&c) == -1) {
		log_errx("%s", c.err);
		lanes_close(&c);
		return EX_CONFIG;
	}
	if ((c.gm = gm_pool_new(c.cfg->servers, c.cfg->nservers, c.err,
	    sizeof(c.err))) == NULL ||
	    (w = gm_worker_new(c.cfg->servers, c.cfg->nservers,
	    THREAD_STOP_POLL_MS, c.err, sizeof(c.err))) == NULL) {
		log_errx("%s", c.err);
		code = EX_CONFIG;
		goto out;
	}
	if (gm_worker_define(w, GV_FUNC_RUN_QUEUED,
	    gearman_function_create(controller_fn), &c, c.err,
	    sizeof(c.err)) == -1) {
		log_errx("%s", c.err);
		code = EX_SOFTWARE;
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
	gm_worker_serve(w, ctx->stop, ctx->sb, wait_slot, &c);
	scoreboard_state(ctx->sb, SB_STOPPING);
out:
	if (threads)
		stop_threads(&c);
	if (w)
		gearman_worker_free(w);
	slots_free(&c);
	gm_pool_free(c.gm);
	lanes_close(&c);
	return code;
}
