/*
 * controller_back: jobs going back to gearmand. A job of a database that
 * does not answer goes back at once, for a Controller that reaches it
 * (another master's, on the same gearmand), rather than waiting for its
 * lease here: from the main thread before it is answered (gearmand keeps
 * it: GM_HAND_BACK, controller.c), or from a slot that found out at its
 * claim (controller_send_back: gearmand forgot it when it was answered).
 * One that comes back to this Controller goes back again after a short,
 * growing pause, during which this Controller takes nothing (the main
 * thread's worker is disconnected, or the slot waits), so that another
 * Controller takes it; after SEND_BACK_TIMES trips it is left to its
 * lease: no Controller with room reaches its database, and a job going
 * round for good would be load for nothing, and its pauses would hold up
 * the jobs of the databases that answer. The pauses of one job add up to
 * 0.75 s at most.
 *
 * Why it still runs once: it is neither claimed nor run here, and one
 * copy goes on living (see controller_send_back); whoever takes it claims
 * it first, fenced by its attempt.
 */
#include <stdio.h>

#include "controller_back.h"
#include "controller_int.h"
#include "log.h"

#define SEND_BACK_PAUSE 0.05       /* the pause before a job goes again, */
#define SEND_BACK_TIMES 5          /* doubling, for this many trips */

int
controller_going_back(struct controller *c, const struct gv_job *job,
    double *pause)
{
	struct sent_back *e, *oldest = &c->sent_back[0];
	double now = time_mono();
	unsigned times;
	size_t i;

	controller_lock(c);
	for (i = 0, e = NULL; i < SENT_BACK_KEEP && e == NULL; i++) {
		if (c->sent_back[i].times && c->sent_back[i].dbid ==
		    job->dbid && c->sent_back[i].jobid == job->jobid)
			e = &c->sent_back[i];
		else if (c->sent_back[i].last < oldest->last)
			oldest = &c->sent_back[i];
	}
	if (e == NULL) {
		e = oldest;
		*e = (struct sent_back){ .dbid = job->dbid,
		    .jobid = job->jobid };
	}
	if (e->times >= SEND_BACK_TIMES) {
		e->times = 0;               /* forgotten */
		controller_unlock(c);
		return -1;
	}
	times = e->times++;
	e->last = now;
	controller_unlock(c);
	for (*pause = 0; times > 0; times--)
		*pause = *pause > 0 ? 2 * *pause : SEND_BACK_PAUSE;
	return 0;
}

/* Submit the slot's document as a run_queued_job of its own on server s:
 * 0 if gearmand queued it, 1 if surely not (no connection: another
 * server may be tried), -1 if unsure (it may be queued). */
static int
send_back_to(struct slot *sl, size_t s)
{
	const struct gv_job *job = &sl->job;
	char uniq[GV_GEARMAN_UNIQKEY_MAX + 1];
	char handle[GEARMAN_JOB_HANDLE_SIZE];
	const char *unique = gm_job_unique(job->flag, job->funcname,
	    job->uniqkey, uniq);
	gearman_client_st *cl;
	gearman_return_t ret;

	if ((cl = gm_client_new(gm_pool_server(sl->c->gm, s), 0, sl->err,
	    sizeof(sl->err))) == NULL)
		return 1;
	if (job->priority > 0)
		ret = gearman_client_do_high_background(cl, GV_FUNC_RUN_QUEUED,
		    unique, sl->doc.data, sl->doc.len, handle);
	else if (job->priority < 0)
		ret = gearman_client_do_low_background(cl, GV_FUNC_RUN_QUEUED,
		    unique, sl->doc.data, sl->doc.len, handle);
	else
		ret = gearman_client_do_background(cl, GV_FUNC_RUN_QUEUED,
		    unique, sl->doc.data, sl->doc.len, handle);
	if (ret != GEARMAN_SUCCESS)
		errf(sl->err, sizeof(sl->err), "%s",
		    gearman_client_error(cl));
	gearman_client_free(cl);
	return ret == GEARMAN_SUCCESS ? 0 :
	    ret == GEARMAN_COULD_NOT_CONNECT ? 1 : -1;
}

/*
 * The slot's job, unclaimed since its database did not answer, goes back
 * to gearmand as a run_queued_job of its own: the copy that came, fenced
 * by its attempt. gearmand handed it to this Controller alone and forgot
 * it once answered, so one copy goes on living; a submission whose fate
 * is unknown is not repeated, since two copies of one attempt could both
 * be claimed. A copy that is stale by the time it is taken (its lease
 * ended, and a QueueRunner sent a newer attempt) never runs.
 */
void
controller_send_back(struct slot *sl)
{
	struct controller *c = sl->c;
	const struct gv_job *job = &sl->job;
	unsigned long long jobid = (unsigned long long)job->jobid;
	char uniq[GV_GEARMAN_UNIQKEY_MAX + 1];
	const char *unique = gm_unique(job->uniqkey, uniq);
	char why[sizeof(sl->err)];
	size_t tries, s = 0, n = gm_pool_count(c->gm);
	double pause;
	int rc = 1;

	snprintf(why, sizeof(why), "%s", sl->err);
	if (controller_going_back(c, job, &pause) == -1) {
		log_warnx("job %llu of db %u not run: %s, and it came back "
		    "%d times; it runs when its lease ends", jobid, job->dbid,
		    why, SEND_BACK_TIMES);
		return;
	}
	time_sleep(pause, c->ctx->stop);
	for (tries = 0; tries < n && rc == 1; tries++) {
		controller_lock(c);
		if (tries > 0)
			gm_pool_failed(c->gm, s);
		s = gm_pool_choose_job(c->gm, job->jobid, job->dbid, unique);
		controller_unlock(c);
		rc = send_back_to(sl, s);
	}
	if (rc == 0)
		log_info("job %llu of db %u sent back to gearmand: %s", jobid,
		    job->dbid, why);
	else
		log_warnx("job %llu of db %u not run: %s; sending it back to "
		    "gearmand %s:%u failed (%s); it runs when its lease ends",
		    jobid, job->dbid, why, gm_pool_server(c->gm, s)->host,
		    gm_pool_server(c->gm, s)->port, sl->err);
}
