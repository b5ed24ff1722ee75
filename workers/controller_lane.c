/*
 * controller_lane: a Controller's lanes, one per database. A lane holds the
 * slots' connection to its database, for claims, lease extensions and
 * failures, which one slot at a time takes, uses with no lock held and
 * gives back (claims take it in the order their jobs were handed over);
 * and the database's completions, which its flusher thread writes within
 * FLUSH_WAIT, many in one commit, on a connection of its own, whatever the
 * slots are waiting for. A database that stops answering holds up its own
 * lane only (controller.c says why that is the design).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "config.h"
#include "controller_int.h"
#include "controller_lane.h"
#include "db.h"
#include "dbset.h"
#include "log.h"

#define FLUSH_WAIT 0.005       /* a completion waits this long at most... */
#define FLUSH_MAX 100          /* ...or for this many (gv_complete_later's) */

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
	struct fs_entry **done_fs;    /* ...their functions' metrics... */
	struct client_result *done_res; /* ...and results; a job's funcname
	                                 owns one block with its uniqkey and
	                                 result, when its record is kept */
	size_t ndone, done_cap;
	double done_since;            /* time_mono() */
	pthread_cond_t held;          /* a completion is held */
	struct thread flusher;
	int flusher_started;
	unsigned long conflicts[2], failovers[2]; /* gv's, fgv's */
	int host;                     /* gv's host, else fgv's (-1: none) */
};

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

/* The lane of database dbid; NULL when it is not configured. */
struct lane *
controller_lane_find(struct controller *c, unsigned dbid)
{
	size_t i;

	for (i = 0; i < c->nlanes; i++)
		if (c->lanes[i].dbid == dbid)
			return &c->lanes[i];
	return NULL;
}

/* Take the slots' connection to the lane's database, waiting while
 * another slot uses it; NULL, at once, when must_wait is 0, another slot
 * uses it and its last call failed: a claim or a lease extension does not
 * queue behind a database that does not answer. */
gv_client *
controller_lane_take(struct lane *l, int must_wait)
{
	struct controller *c = l->c;

	controller_lock(c);
	while (l->taken && (must_wait || !l->sick))
		pthread_cond_wait(&l->returned, &c->lock);
	if (l->taken) {
		controller_unlock(c);
		return NULL;
	}
	l->taken = 1;
	controller_unlock(c);
	return l->gv;
}

/* Give it back after a call that returned rc. */
void
controller_lane_give(struct lane *l, int rc)
{
	struct controller *c = l->c;

	controller_lock(c);
	l->sick = rc == GV_EDB;
	lane_figures(l, l->gv, 0);
	l->taken = 0;
	pthread_cond_broadcast(&l->returned);
	controller_unlock(c);
}

/* The ticket of a job handed over for this lane, with the lock held: its
 * claim's place in the lane's order. */
unsigned long
controller_lane_ticket(struct lane *l)
{
	return l->claim_next++;
}

/* Wait until the claim of ticket is the lane's next (controller.c claim
 * says why claims keep their order). */
void
controller_lane_wait_turn(struct lane *l, unsigned long ticket)
{
	struct controller *c = l->c;

	controller_lock(c);
	while (l->claim_turn != ticket)
		pthread_cond_wait(&l->returned, &c->lock);
	controller_unlock(c);
}

/* The claim whose turn it was is over: the next one goes. */
void
controller_lane_end_turn(struct lane *l)
{
	struct controller *c = l->c;

	controller_lock(c);
	l->claim_turn++;
	pthread_cond_broadcast(&l->returned);
	controller_unlock(c);
}

/*
 * What a completion's record needs, copied out of the slot (which goes on
 * to its next job): one block holding the funcname, the uniqkey and the
 * result, owned by copy->funcname. Nothing when the function keeps no
 * records. -1 when memory ran out.
 */
static int
copy_record(struct controller *c, const struct gv_job *job,
    const void *result, size_t len, struct gv_job *copy,
    struct client_result *res)
{
	size_t flen, ulen;
	char *blk;

	*res = (struct client_result){ 0 };
	if (job->funcname == NULL ||
	    (config_keep_done(c->cfg, job->funcname) == 0 &&
	    config_unique_for(c->cfg, job->funcname) == 0))
		return 0;
	flen = strlen(job->funcname) + 1;
	ulen = job->uniqkey ? strlen(job->uniqkey) + 1 : 0;
	if ((blk = malloc(flen + ulen + (result ? len : 0) + 1)) == NULL)
		return -1;
	memcpy(blk, job->funcname, flen);
	copy->funcname = blk;
	if (job->uniqkey) {
		memcpy(blk + flen, job->uniqkey, ulen);
		copy->uniqkey = blk + flen;
	}
	if (result) {
		memcpy(blk + flen + ulen, result, len);
		*res = (struct client_result){ blk + flen + ulen, len };
	}
	return 0;
}

/* Hand a completion to its database's flusher; the first of a batch sets
 * its deadline and wakes the flusher, the next ones share it. -1 when
 * memory ran out: the caller completes it itself. Memory only. */
int
controller_lane_hold_done(struct lane *l, const struct gv_job *job,
    const void *result, size_t len)
{
	struct controller *c = l->c;
	struct fs_entry *fs = funcstats_find(c->ctx->fs, job->funcname);
	/* What a completion needs: where, which, which attempt, whether it
	 * has failures to delete with it, and what its record says. */
	struct gv_job copy = { .jobid = job->jobid, .dbid = job->dbid,
	    .attempt = job->attempt, .fenced = job->fenced,
	    .failcount = job->failcount };
	struct client_result res;
	struct gv_job *grown;
	struct fs_entry **grown_fs;
	struct client_result *grown_res;
	size_t cap;

	if (copy_record(c, job, result, len, &copy, &res) == -1)
		return -1;
	controller_lock(c);
	if (l->ndone == l->done_cap) {
		cap = l->done_cap ? 2 * l->done_cap : 16;
		if ((grown_fs = realloc(l->done_fs, cap * sizeof(*grown_fs))) !=
		    NULL)
			l->done_fs = grown_fs;
		if ((grown_res = realloc(l->done_res, cap *
		    sizeof(*grown_res))) != NULL)
			l->done_res = grown_res;
		if (grown_fs == NULL || grown_res == NULL ||
		    (grown = realloc(l->done_jobs, cap * sizeof(*grown))) ==
		    NULL) {
			controller_unlock(c);
			free(copy.funcname);
			return -1;
		}
		l->done_jobs = grown;
		l->done_cap = cap;
	}
	l->done_fs[l->ndone] = fs;
	l->done_res[l->ndone] = res;
	l->done_jobs[l->ndone] = copy;
	if (l->ndone++ == 0) {
		l->done_since = time_mono();
		pthread_cond_signal(&l->held);
	}
	controller_unlock(c);
	return 0;
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
	struct client_result *res;
	unsigned char *done;
	size_t i, n, committed;
	int rc;

	controller_lock(c);
	while (!c->done || c->busy > 0 || l->ndone > 0) {
		if (l->ndone == 0 || (l->ndone < FLUSH_MAX &&
		    time_mono() < l->done_since + FLUSH_WAIT)) {
			thread_wait_until(&l->held, &c->lock, l->ndone ?
			    l->done_since + FLUSH_WAIT : time_mono() +
			    SLOT_WAIT);
			if (l == &c->lanes[0])
				publish_dbs(c);
			continue;
		}
		/* The batch is the flusher's: the slots start a new one. */
		batch = l->done_jobs;
		fs = l->done_fs;
		res = l->done_res;
		n = l->ndone;
		l->done_jobs = NULL;
		l->done_fs = NULL;
		l->done_res = NULL;
		l->ndone = l->done_cap = 0;
		controller_unlock(c);
		/* A hundred to a statement; done says which committed. */
		if ((done = malloc(n)) == NULL)
			rc = GV_ENOMEM;
		else
			rc = client_complete_now(l->fgv, batch, res, n, done);
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
		free(res);
		for (i = 0; i < n; i++)
			free(batch[i].funcname);
		free(batch);
		controller_lock(c);
		lane_figures(l, l->fgv, 1);
	}
	controller_unlock(c);
}

/* Start each lane's flusher. -1 with a message in c->err. */
int
controller_lane_start_flushers(struct controller *c)
{
	size_t i;

	for (i = 0; i < c->nlanes; i++) {
		if (thread_start(&c->lanes[i].flusher, flusher_main,
		    &c->lanes[i], c->err, sizeof(c->err)) == -1)
			return -1;
		c->lanes[i].flusher_started = 1;
	}
	return 0;
}

/* Wake every flusher, with the lock held: it looks whether it may end. */
void
controller_lane_wake_flushers(struct controller *c)
{
	size_t i;

	for (i = 0; i < c->nlanes; i++)
		pthread_cond_signal(&c->lanes[i].held);
}

/* End the flushers, once the slots have ended: each writes its last
 * completions first. */
void
controller_lane_stop_flushers(struct controller *c)
{
	size_t i;

	controller_lock(c);
	controller_lane_wake_flushers(c);
	controller_unlock(c);
	for (i = 0; i < c->nlanes; i++)
		if (c->lanes[i].flusher_started)
			thread_join(&c->lanes[i].flusher);
}

static void
beat(void *sb)
{
	scoreboard_heartbeat(sb);
}

/* A lane per database: two connections of its own (none opened yet), each
 * retrying a write while most of a lease remains, so that a job that ran
 * does not run again because its result met a short outage. (The read
 * before a run does not retry: not knowing is a reason not to run.)
 * Retrying through an outage is a sign of life: with a long lease, the
 * retries would outlast heartbeat_timeout, and the master would kill the
 * Controller in the middle of them. -1 with a message in c->err. */
int
controller_lane_open_all(struct controller *c)
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
		thread_cond_init(&l->held);
		pthread_cond_init(&l->returned, NULL);
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

void
controller_lane_close_all(struct controller *c)
{
	size_t i;

	for (i = 0; i < c->nlanes; i++) {
		gv_close(c->lanes[i].gv);
		gv_close(c->lanes[i].fgv);
		for (size_t k = 0; k < c->lanes[i].ndone; k++)
			free(c->lanes[i].done_jobs[k].funcname);
		free(c->lanes[i].done_jobs);
		free(c->lanes[i].done_fs);
		free(c->lanes[i].done_res);
	}
	free(c->lanes);
}
