/*
 * client_answer: what becomes of a stored job, written to its row (fenced
 * by its attempt when the job names one): a worker's answers (completed,
 * failed with its reason, rescheduled, its lease extended), a read of its
 * lease, a QueueRunner's release, a cancel, the sweep of failures left
 * behind, and completions deferred to share a commit (gv_complete_later,
 * client_complete_now). An answer is tried again through a short outage
 * (gv_set_retry) or a conflict, and after a lost reply its row is read
 * before it is repeated (exec_retry).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_int.h"
#include "dbset.h"
#include "jobjson.h"
#include "outcome.h"
#include "util.h"

#define NEVER_PARK 1000           /* a failcount a TINYINT cannot reach */
#define LATER_MAX 100             /* completions shared by one commit */
#define LATER_WAIT 0.005          /* seconds a completion may wait */

/* How a failed job of funcname is retried or parked: its function's
 * values over the client's. A job without a funcname (a caller's own
 * struct) gets the client's. */
static struct fail_policy
fail_policy(const gv_client *gv, const char *funcname)
{
	const struct func_policy *f = client_func(gv, funcname);
	struct fail_policy p = gv->policy;

	if (f == NULL)
		return p;
	if (f->max_failures >= 0)
		p.max_failures = (unsigned)f->max_failures;
	if (f->retry_first)
		p.retry_first = f->retry_first;
	if (f->retry_max)
		p.retry_max = f->retry_max;
	return p;
}

/* The database of a job a worker names, or NULL with the reason in gv. */
static struct db *
job_db(gv_client *gv, const struct gv_job *job)
{
	struct db *db;

	if (job == NULL || job->jobid == 0) {
		client_fail(gv, GV_EINVAL, "job has no jobid");
		return NULL;
	}
	if ((db = dbset_find(gv->dbs, job->dbid)) == NULL)
		client_fail(gv, GV_EINVAL, "job %llu names database %u, which "
		    "is not configured", (unsigned long long)job->jobid,
		    job->dbid);
	return db;
}

static int
stale(gv_client *gv, const struct gv_job *job)
{
	return client_fail(gv, GV_ESTALE, "job %llu of database %u is gone or "
	    "owned by a newer attempt", (unsigned long long)job->jobid,
	    job->dbid);
}

/*
 * Whether a worker's answer whose reply was lost was done: 1 yes, 0 no (or
 * it is not this answer's any more; running it again then matches no row
 * and says so), -1 when the row cannot be read now. A completion is done
 * when the row is gone; a failure when the attempt is no longer out (the
 * failure is the one write that clears leased and keeps the attempt).
 */
static int
answer_done(gv_client *gv, struct db *db, enum sql_id id,
    const struct gv_job *job)
{
	struct dbval q = DBV_U(job->jobid);
	uint64_t out;
	int found;

	if (db_select_u64(db, SQL_JOB_OUT, &q, 1, &out, &found, gv->err,
	    sizeof(gv->err)) == -1)
		return -1;
	if (id == SQL_COMPLETE || id == SQL_COMPLETE_ANY)
		return !found;
	/* A failure or a release: the one write that clears leased. */
	return found && (out & 1) == 0 &&
	    (!job->fenced || out >> 1 == job->attempt);
}

/*
 * A failure and its reason, one transaction: the failure's UPDATE, then,
 * if it matched (the attempt still owns the row), the reason from the row
 * as the UPDATE left it, and the pruning of the job's oldest reasons. A
 * database without the job_error table (not upgraded) records the failure
 * alone: the reason is not worth a failure that is never counted, and a
 * job that is never parked.
 */
static int
fail_once(gv_client *gv, struct db *db, enum sql_id id, const struct dbval *p,
    size_t np, uint64_t *affected, const char *message, uint64_t jobid)
{
	struct dbval e[2] = { DBV_S(message), DBV_U(jobid) };
	struct dbval pr[2] = { DBV_U(jobid), DBV_U(jobid) };
	uint64_t n;

	if (db_begin(db, gv->err, sizeof(gv->err)) == -1)
		return -1;
	if (db_exec(db, id, 1, p, np, affected, NULL, gv->err,
	    sizeof(gv->err)) == -1)
		goto fail;
	if (*affected && db_exec(db, SQL_ERROR_ADD, 1, e, 2, &n, NULL,
	    gv->err, sizeof(gv->err)) == -1) {
		if (!db_no_table(db))
			goto fail;
		db_rollback(db);
		gv->no_error_table = 1;
		gv->no_error_table_db = db_id(db);
		return db_exec(db, id, 1, p, np, affected, NULL, gv->err,
		    sizeof(gv->err));
	}
	if (*affected && db_exec(db, SQL_ERROR_PRUNE, 1, pr, 2, &n, NULL,
	    gv->err, sizeof(gv->err)) == -1)
		goto fail;
	return db_commit(db, gv->err, sizeof(gv->err));
fail:
	db_rollback(db);
	return -1;
}

/*
 * One statement that counts only whole (client_complete_now): committed
 * when it changed every row it named, else rolled back, so that the caller
 * learns row by row which of them still apply. *affected says which.
 */
static int
whole_once(gv_client *gv, struct db *db, enum sql_id id, unsigned nrows,
    const struct dbval *p, size_t np, uint64_t *affected,
    const struct outcome_done *recs, size_t nrecs)
{
	int rc;

	if (db_begin(db, gv->err, sizeof(gv->err)) == -1)
		return -1;
	if (db_exec(db, id, nrows, p, np, affected, NULL, gv->err,
	    sizeof(gv->err)) == -1) {
		db_rollback(db);
		return -1;
	}
	if (*affected < nrows) {
		db_rollback(db);
		return 0;
	}
	/* The records of the jobs it ended, in its transaction: after the
	 * DELETE, whose locks they follow. */
	if ((rc = outcome_write_done(db, recs, nrecs, gv->err,
	    sizeof(gv->err))) == -1) {
		db_rollback(db);
		return -1;
	}
	if (rc == 1)
		gv->no_outcome_table = 1;
	return db_commit(db, gv->err, sizeof(gv->err));
}

/*
 * db_exec for the statements of a worker's answer (with a message, a
 * failure and its reason: fail_once). An unreachable database
 * (it backs off) is waited for up to retry_seconds; a deadlock or lock wait
 * timeout, which InnoDB rolled back, is tried again a few times in any
 * case: a QueueRunner releasing jobs gearmand did not acknowledge deadlocks
 * with the completion of one that ran all the same
 * (tests/faults/20-gearmand.t), and without a retry the job ran again. An
 * SQL error is not retried: it will not go away by itself.
 *
 * Fenced updates and deletes are safe to repeat, but a repeat after a lost
 * reply is not the same as the first try: a failure would count twice
 * (failcount + 1), and a completion would find its row gone and report
 * GV_ESTALE for a job it did complete. So for those (job given), once a
 * reply was lost the row is read first, and the answer is repeated only if
 * it was not done (tests/faults/61-lost-answers.t).
 */
/* After a failed try on db: 1 to try again, a conflict's pause or an
 * outage's (within deadline) over; 0 to give up. */
static int
again(gv_client *gv, struct db *db, int *lock_tries, double *pause,
    double deadline)
{
	if (client_conflict_retry(gv, db, lock_tries))
		return 1;
	if (db_healthy(db, time_mono()) || time_mono() + *pause > deadline)
		return 0;
	if (gv->on_retry)
		gv->on_retry(gv->on_retry_arg);
	time_sleep(*pause, NULL);
	*pause = backoff_next(*pause, RETRY_PAUSE_MIN, RETRY_PAUSE_MAX);
	return 1;
}

static int
exec_retry(gv_client *gv, struct db *db, enum sql_id id, unsigned nrows,
    const struct dbval *p, size_t np, uint64_t *affected,
    const struct gv_job *job, const char *message, int whole,
    const struct outcome_done *recs, size_t nrecs)
{
	double deadline = time_mono() + gv->retry_seconds;
	double pause = RETRY_PAUSE_MIN;
	int lock_tries = 0, unknown = 0, done;

	for (;;) {
		if (unknown && job) {
			if ((done = answer_done(gv, db, id, job)) == 1) {
				*affected = 1;
				return 0;
			}
			if (done == 0)
				unknown = 0;
		}
		if (!unknown || !job) {
			if ((message ? fail_once(gv, db, id, p, np, affected,
			    message, job->jobid) : whole || nrecs ?
			    whole_once(gv, db, id, nrows, p, np, affected, recs,
			    nrecs) : db_exec(db, id, nrows, p, np, affected,
			    NULL, gv->err, sizeof(gv->err))) == 0)
				return 0;
			unknown |= db_maybe_applied(db);
		}
		if (!again(gv, db, &lock_tries, &pause, deadline))
			return -1;
	}
}

#define LEAD_MAX 3                /* leading parameters of apply */

static int
apply_message(gv_client *gv, const struct gv_job *job, enum sql_id fenced,
    enum sql_id any, const struct dbval *lead, size_t nlead,
    const char *message, const struct outcome_done *rec)
{
	struct dbval p[LEAD_MAX + 2];
	uint64_t affected;
	struct db *db;
	size_t n = 0;

	if ((db = job_db(gv, job)) == NULL)
		return GV_EINVAL;
	while (n < nlead) {
		p[n] = lead[n];
		n++;
	}
	p[n++] = DBV_U(job->jobid);
	if (job->fenced)
		p[n++] = DBV_U(job->attempt);
	if (exec_retry(gv, db, job->fenced ? fenced : any, 1, p, n,
	    &affected, job, message, 0, rec, rec != NULL) == -1)
		return GV_EDB;
	if (affected == 0)
		return stale(gv, job);
	return GV_OK;
}

static int
apply(gv_client *gv, const struct gv_job *job, enum sql_id fenced,
    enum sql_id any, const struct dbval *lead, size_t nlead)
{
	return apply_message(gv, job, fenced, any, lead, nlead, NULL, NULL);
}

/*
 * The failures of jobs whose rows are gone (SQL_ERRORS_FORGET never takes
 * those of a row that exists). Best effort: what is left behind here is
 * swept later by the QueueRunners (client_sweep_errors). Only jobs that
 * failed before have any, so completions of jobs that never failed, the
 * common case, pay nothing.
 */
static void
forget_errors(struct db *db, const struct dbval *ids, size_t n)
{
	char err[256];
	uint64_t affected;

	if (n > 0)
		(void)db_exec(db, SQL_ERRORS_FORGET, (unsigned)n, ids, n,
		    &affected, NULL, err, sizeof(err));
}

/* A completion's record, when its function keeps them (a job without a
 * funcname, a caller's own struct, cannot be recorded). */
static int
done_record(const gv_client *gv, const struct gv_job *job,
    const void *result, size_t len, struct outcome_done *rec)
{
	if (job == NULL || job->funcname == NULL)
		return 0;
	*rec = (struct outcome_done){ .jobid = job->jobid,
	    .funcname = job->funcname, .uniqkey = job->uniqkey,
	    .attempt = job->attempt, .failcount = job->failcount,
	    .keep = client_keep(gv, job->funcname, 1), .result = result,
	    .result_len = result ? len : 0 };
	return rec->keep > 0;
}

int
gv_complete_job_result(gv_client *gv, const struct gv_job *job,
    const void *result, size_t len)
{
	struct outcome_done rec;
	struct dbval id;
	int rc;

	rc = apply_message(gv, job, SQL_COMPLETE, SQL_COMPLETE_ANY, NULL, 0,
	    NULL, done_record(gv, job, result, len, &rec) ? &rec : NULL);
	if (rc == GV_OK && job->failcount > 0) {
		id = DBV_U(job->jobid);
		forget_errors(dbset_find(gv->dbs, job->dbid), &id, 1);
	}
	return rc;
}

int
gv_complete_job(gv_client *gv, const struct gv_job *job)
{
	return gv_complete_job_result(gv, job, NULL, 0);
}

int
gv_reschedule_job(gv_client *gv, const struct gv_job *job, const char *when)
{
	struct dbval lead;
	long v;

	if (when == NULL)
		return client_fail(gv, GV_EINVAL, "no time to reschedule to");
	if (strcmp(when, "never") == 0) {
		lead = DBV_U(GV_NEVER);
		return apply(gv, job, SQL_RESCHEDULE_AT, SQL_RESCHEDULE_AT_ANY,
		    &lead, 1);
	}
	if (when[0] == '+') {
		if (when[1] < '0' || when[1] > '9' ||
		    parse_long(when + 1, 0, GV_DELAY_MAX, &v) == -1)
			return client_fail(gv, GV_EINVAL, "bad relative time "
			    "\"%s\": +SECONDS, at most %ld", when,
			    GV_DELAY_MAX);
		lead = DBV_I(v);
		return apply(gv, job, SQL_RESCHEDULE_IN, SQL_RESCHEDULE_IN_ANY,
		    &lead, 1);
	}
	if (when[0] < '0' || when[0] > '9' ||
	    parse_long(when, 0, GV_NEVER, &v) == -1)
		return client_fail(gv, GV_EINVAL, "bad time \"%s\": \"never\", "
		    "\"+SECONDS\" or a unix time", when);
	lead = DBV_U((uint64_t)v);
	return apply(gv, job, SQL_RESCHEDULE_AT, SQL_RESCHEDULE_AT_ANY, &lead,
	    1);
}

int
gv_failed_job_message(gv_client *gv, const struct gv_job *job,
    const char *message)
{
	struct fail_policy p;
	struct dbval lead[LEAD_MAX];
	size_t len;

	if (job == NULL)
		return client_fail(gv, GV_EINVAL, "job has no jobid");
	if (message == NULL)
		message = "";
	if ((len = strlen(message)) > GV_MESSAGE_MAX)
		return client_fail(gv, GV_EINVAL, "message is longer than %d "
		    "bytes", GV_MESSAGE_MAX);
	if (!jobjson_utf8_valid(message, len))
		return client_fail(gv, GV_EINVAL, "message is not valid UTF-8");
	p = fail_policy(gv, job->funcname);
	lead[0] = DBV_U(p.max_failures ? p.max_failures : NEVER_PARK);
	lead[1] = DBV_U(p.retry_first);
	lead[2] = DBV_U(p.retry_max);
	return apply_message(gv, job, SQL_FAIL, SQL_FAIL_ANY, lead, LEAD_MAX,
	    message, NULL);
}

int
gv_failed_job(gv_client *gv, const struct gv_job *job)
{
	return gv_failed_job_message(gv, job, NULL);
}

int
client_no_error_table(gv_client *gv, unsigned *dbid)
{
	int was = gv->no_error_table;

	*dbid = gv->no_error_table_db;
	gv->no_error_table = 0;
	return was;
}

int
client_sweep_errors(gv_client *gv, struct db *db, uint64_t *cursor,
    uint64_t *swept)
{
	struct dbval p[2];
	uint64_t newest;
	int found;

	*swept = 0;
	if (db_select_u64(db, SQL_ERROR_MAX, NULL, 0, &newest, &found,
	    gv->err, sizeof(gv->err)) == -1)
		return db_no_table(db) ? 0 : -1;
	if (*cursor > newest)
		*cursor = 0;
	p[0] = DBV_U(*cursor);
	p[1] = DBV_U(*cursor + CLIENT_SWEEP_SPAN);
	if (db_exec(db, SQL_ERRORS_SWEEP, 1, p, 2, swept, NULL, gv->err,
	    sizeof(gv->err)) == -1)
		return -1;
	*cursor += CLIENT_SWEEP_SPAN;
	return 0;
}

static unsigned
keep_ended(const char *funcname, void *arg)
{
	return client_keep(arg, funcname, 0);
}

/* Delete the row with its record (cancelled), and its failures once it
 * is gone. */
static int
cancel(gv_client *gv, struct db *db, uint64_t jobid)
{
	double deadline = time_mono() + gv->retry_seconds;
	double pause = RETRY_PAUSE_MIN;
	struct dbval id = DBV_U(jobid);
	uint64_t affected;
	int lock_tries = 0;

	while (outcome_end(db, "cancelled", NULL, &jobid, 1, keep_ended, gv,
	    &affected, gv->err, sizeof(gv->err)) == -1)
		if (!again(gv, db, &lock_tries, &pause, deadline))
			return GV_EDB;
	forget_errors(db, &id, 1);
	if (affected == 0)
		return client_fail(gv, GV_ESTALE, "no job %llu in database %u",
		    (unsigned long long)jobid, db_id(db));
	return GV_OK;
}

int
gv_cancel_jobid(gv_client *gv, unsigned dbid, uint64_t jobid)
{
	struct db *db;

	if (jobid == 0)
		return client_fail(gv, GV_EINVAL, "no jobid");
	if ((db = dbset_find(gv->dbs, dbid)) == NULL)
		return client_fail(gv, GV_EINVAL, "database %u is not "
		    "configured", dbid);
	return cancel(gv, db, jobid);
}

int
gv_cancel_job(gv_client *gv, const char *funcname, const char *uniqkey,
    uint64_t *jobid, unsigned *dbid)
{
	size_t ndbs = dbset_count(gv->dbs), home, i;
	struct dbval p[2];
	uint64_t id;
	struct db *db = NULL;
	int found, rc;

	if (funcname == NULL || *funcname == '\0')
		return client_fail(gv, GV_EINVAL, "funcname is missing");
	if (uniqkey == NULL || *uniqkey == '\0')
		return client_fail(gv, GV_EINVAL, "uniqkey is missing: only a "
		    "job with a unique key can be cancelled by key");
	/* The key's database first, where gv_insert_job stored it; then
	 * the others: a job inserted under another list of databases, or
	 * by a schedule ([schedule.NAME] dbid), lives elsewhere. */
	p[0] = DBV_S(funcname);
	p[1] = DBV_S(uniqkey);
	home = dbset_key_index(gv->dbs, funcname, uniqkey);
	for (i = 0, found = 0; i < ndbs && !found; i++) {
		db = dbset_at(gv->dbs, (home + i) % ndbs);
		if (db_select_u64(db, SQL_FIND_UNIQUE, p, 2, &id, &found,
		    gv->err, sizeof(gv->err)) == -1)
			return GV_EDB;
	}
	if (!found)
		return client_fail(gv, GV_ESTALE, "no job %s/%s in %s",
		    funcname, uniqkey,
		    ndbs > 1 ? "any database" : "the database");
	/* Deleted by its jobid: a job of the same key inserted after this
	 * one ran and went is a new job, not the one asked about. */
	if ((rc = cancel(gv, db, id)) != GV_OK)
		return rc;
	if (jobid)
		*jobid = id;
	if (dbid)
		*dbid = db_id(db);
	return GV_OK;
}

int
gv_lease_left(gv_client *gv, const struct gv_job *job, long *seconds)
{
	struct dbval p[2];
	uint64_t left;
	struct db *db;
	int found;

	if ((db = job_db(gv, job)) == NULL)
		return GV_EINVAL;
	p[0] = DBV_U(job->jobid);
	p[1] = DBV_U(job->attempt);
	if (db_select_u64(db, job->fenced ? SQL_LEASE_LEFT :
	    SQL_LEASE_LEFT_ANY, p, job->fenced ? 2 : 1, &left, &found,
	    gv->err, sizeof(gv->err)) == -1)
		return GV_EDB;
	if (!found)
		return stale(gv, job);
	*seconds = (long)left;
	return GV_OK;
}

int
gv_extend_lease(gv_client *gv, const struct gv_job *job, unsigned seconds)
{
	struct dbval lead = DBV_U(seconds);

	return apply(gv, job, SQL_EXTEND, SQL_EXTEND_ANY, &lead, 1);
}

int
client_release(gv_client *gv, const struct gv_job *job, unsigned seconds)
{
	struct dbval p[3] = { DBV_U(seconds), DBV_U(job->jobid),
	    DBV_U(job->attempt) };
	uint64_t affected = 0;
	struct db *db;

	if ((db = job_db(gv, job)) == NULL)
		return GV_EINVAL;
	if (exec_retry(gv, db, SQL_RELEASE, 1, p, 3, &affected, job, NULL,
	    0, NULL, 0) == -1)
		return GV_EDB;
	return affected ? GV_OK : stale(gv, job);
}

/* A completion to write with others, with what its record needs. */
static void
later_set(const gv_client *gv, struct later *l, const struct gv_job *job,
    const void *result, size_t len)
{
	*l = (struct later){ .jobid = job->jobid, .attempt = job->attempt,
	    .dbid = job->dbid, .fenced = job->fenced,
	    .failed_before = job->failcount > 0,
	    .failcount = job->failcount, .result = result,
	    .result_len = result ? len : 0 };
	if (job->funcname == NULL)
		return;
	l->keep = client_keep(gv, job->funcname, 1);
	snprintf(l->funcname, sizeof(l->funcname), "%s", job->funcname);
	l->has_uniqkey = job->uniqkey != NULL;
	snprintf(l->uniqkey, sizeof(l->uniqkey), "%s",
	    job->uniqkey ? job->uniqkey : "");
}

/* The later completion as a job, for its completion alone. */
static struct gv_job
later_job(struct later *l)
{
	return (struct gv_job){ .jobid = l->jobid, .dbid = l->dbid,
	    .attempt = l->attempt, .fenced = l->fenced,
	    .failcount = l->failcount,
	    .funcname = l->keep ? l->funcname : NULL,
	    .uniqkey = l->has_uniqkey ? l->uniqkey : NULL };
}

/*
 * Deferred completion: several completions share one DELETE and one commit
 * (one fsync instead of one per job). Why nothing is lost: a completion only
 * deletes; one that waits here and never reaches the database leaves its
 * row, which comes back when its lease ends and runs again.
 */
int
gv_complete_later(gv_client *gv, const struct gv_job *job)
{
	if (job_db(gv, job) == NULL)
		return GV_EINVAL;
	if (gv->later == NULL &&
	    (gv->later = calloc(LATER_MAX, sizeof(*gv->later))) == NULL)
		return gv_complete_job(gv, job);
	if (gv->nlater == 0)
		gv->later_since = time_mono();
	later_set(gv, &gv->later[gv->nlater++], job, NULL, 0);
	if (gv->nlater >= LATER_MAX ||
	    time_mono() - gv->later_since >= LATER_WAIT)
		return gv_flush(gv);
	return GV_OK;
}

size_t
gv_pending(const gv_client *gv)
{
	return gv->nlater;
}

/*
 * Delete the waiting completions of one database, fenced or not, with the
 * records of those whose functions keep them. With done
 * (client_complete_now), say which deleted their row.
 *
 * A statement that deletes fewer rows than it names (a stale copy among
 * them: a job that ran twice, a row deleted) counts only whole when it
 * must say which deleted theirs, or when it writes records (a record
 * written for a row not deleted would say done of a job that lives, or
 * overwrite a cancel): it is rolled back and its completions are written
 * one by one. Otherwise it stands, and the stale ones change nothing.
 */
static int
flush_db(gv_client *gv, struct db *db, int fenced, struct dbval *p,
    unsigned char *done)
{
	struct outcome_done recs[LATER_MAX];
	uint64_t affected;
	size_t i, n = 0, rows, nrecs = 0;
	int rc = 0, one_rc, whole;

	for (i = 0; i < gv->nlater; i++) {
		struct later *l = &gv->later[i];

		if (l->dbid != db_id(db) || l->fenced != fenced)
			continue;
		p[n++] = DBV_U(l->jobid);
		if (fenced)
			p[n++] = DBV_U(l->attempt);
		if (l->keep)
			recs[nrecs++] = (struct outcome_done){
			    .jobid = l->jobid, .funcname = l->funcname,
			    .uniqkey = l->has_uniqkey ? l->uniqkey : NULL,
			    .attempt = l->attempt, .failcount = l->failcount,
			    .keep = l->keep, .result = l->result,
			    .result_len = l->result_len };
	}
	if (n == 0)
		return 0;
	rows = fenced ? n / 2 : n;
	whole = done != NULL || nrecs > 0;
	if (exec_retry(gv, db, fenced ? SQL_COMPLETE_MANY :
	    SQL_COMPLETE_MANY_ANY, (unsigned)rows, p, n, &affected, NULL,
	    NULL, whole, recs, nrecs) == -1)
		return -1;
	for (i = 0; whole && affected != rows && i < gv->nlater; i++) {
		struct later *l = &gv->later[i];
		struct gv_job one = later_job(l);

		if (l->dbid != db_id(db) || l->fenced != fenced)
			continue;
		one_rc = gv_complete_job_result(gv, &one, l->result,
		    l->result_len);
		if (done)
			done[i] = one_rc == GV_OK;
		if (one_rc == GV_EDB)
			rc = -1;
	}
	if (whole && affected != rows)
		return rc;
	for (i = 0; done && i < gv->nlater; i++)
		if (gv->later[i].dbid == db_id(db) &&
		    gv->later[i].fenced == fenced)
			done[i] = 1;
	for (i = 0, n = 0; i < gv->nlater; i++) {
		const struct later *l = &gv->later[i];

		if (l->dbid == db_id(db) && l->fenced == fenced &&
		    l->failed_before)
			p[n++] = DBV_U(l->jobid);
	}
	forget_errors(db, p, n);
	return 0;
}

static int
flush_all(gv_client *gv, unsigned char *done)
{
	struct dbval p[LATER_MAX * 2];
	size_t d;
	int rc = GV_OK;

	if (gv == NULL || gv->nlater == 0)
		return GV_OK;
	for (d = 0; d < dbset_count(gv->dbs); d++) {
		struct db *db = dbset_at(gv->dbs, d);

		if (flush_db(gv, db, 1, p, done) == -1 ||
		    flush_db(gv, db, 0, p, done) == -1)
			rc = GV_EDB;
	}
	/* Failed ones are dropped, not kept: their rows come back when their
	 * leases end, and memory stays bounded through an outage. */
	gv->nlater = 0;
	return rc;
}

int
gv_flush(gv_client *gv)
{
	return flush_all(gv, NULL);
}

int
client_complete_now(gv_client *gv, const struct gv_job *jobs,
    const struct client_result *results, size_t n, unsigned char *done)
{
	size_t i, k, chunk;
	int rc, worst;

	memset(done, 0, n);
	worst = gv_flush(gv);
	if (gv->later == NULL &&
	    (gv->later = calloc(LATER_MAX, sizeof(*gv->later))) == NULL)
		return client_fail(gv, GV_ENOMEM, "out of memory");
	for (i = 0; i < n; i += chunk) {
		chunk = n - i < LATER_MAX ? n - i : LATER_MAX;
		/* An unknown database matches no group: not done. */
		for (k = 0; k < chunk; k++)
			later_set(gv, &gv->later[k], &jobs[i + k],
			    results ? results[i + k].data : NULL,
			    results ? results[i + k].len : 0);
		gv->nlater = chunk;
		if ((rc = flush_all(gv, done + i)) != GV_OK)
			worst = rc;
	}
	return worst;
}
