/*
 * client_insert: new jobs stored, one (gv_insert_job, and the Injector's
 * client_insert_leased) or many in one transaction per database
 * (gv_insert_jobs): checked before they reach the server, keyed jobs at
 * their one home, the others anywhere healthy, and a transaction done
 * again only when it is known to have stored nothing or its jobs are
 * keyed (insert_share says why).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_int.h"
#include "dbset.h"
#include "jobfield.h"
#include "jobjson.h"
#include "outcome.h"
#include "util.h"

#define CHUNK_ROWS 500            /* rows per multi-row INSERT */
#define CHUNK_BYTES (4u << 20)    /* payload bytes per multi-row INSERT */

/* Checked here rather than left to the server: INSERT IGNORE would turn an
 * over-long value into a silent truncation. */
static int
check_new_job(gv_client *gv, const struct gv_new_job *j)
{
	size_t len;

	if (j->funcname == NULL || (len = strlen(j->funcname)) == 0)
		return client_fail(gv, GV_EINVAL, "funcname is missing");
	if (len > GV_FUNCNAME_MAX)
		return client_fail(gv, GV_EINVAL, "funcname is longer than %d "
		    "bytes", GV_FUNCNAME_MAX);
	if (gv_funcname_reserved(j->funcname))
		return client_fail(gv, GV_EINVAL, "funcname %s is reserved: "
		    "Garivini serves it itself", j->funcname);
	/* The columns are utf8mb4, and INSERT IGNORE stores invalid UTF-8
	 * mangled ('?' for each bad byte): the job was acknowledged under a
	 * name no worker serves, its key merged with others
	 * (tests/faults/73-bad-client.t). */
	if (!jobjson_utf8_valid(j->funcname, len))
		return client_fail(gv, GV_EINVAL, "funcname is not valid "
		    "UTF-8");
	if (j->uniqkey && !jobjson_utf8_valid(j->uniqkey, strlen(j->uniqkey)))
		return client_fail(gv, GV_EINVAL, "uniqkey is not valid UTF-8");
	if (j->coalesce && !jobjson_utf8_valid(j->coalesce,
	    strlen(j->coalesce)))
		return client_fail(gv, GV_EINVAL, "coalesce is not valid "
		    "UTF-8");
	if (j->arg == NULL && j->arg_len > 0)
		return client_fail(gv, GV_EINVAL, "arg is NULL with a length");
	if (j->arg_len > GV_ARG_MAX)
		return client_fail(gv, GV_EINVAL, "arg is longer than %u bytes",
		    GV_ARG_MAX);
	if (j->uniqkey && strlen(j->uniqkey) > GV_UNIQKEY_MAX)
		return client_fail(gv, GV_EINVAL, "uniqkey is longer than %d "
		    "bytes", GV_UNIQKEY_MAX);
	if (j->coalesce && strlen(j->coalesce) > GV_COALESCE_MAX)
		return client_fail(gv, GV_EINVAL, "coalesce is longer than %d "
		    "bytes", GV_COALESCE_MAX);
	if (j->delay < 0 || j->delay > GV_DELAY_MAX)
		return client_fail(gv, GV_EINVAL, "delay %ld is out of range "
		    "0..%ld", j->delay, GV_DELAY_MAX);
	if (j->flag != GV_FLAG_SHIM && j->flag != GV_FLAG_CONTROLLER)
		return client_fail(gv, GV_EINVAL, "unknown flag %d",
		    (int)j->flag);
	if (j->priority < GV_PRIORITY_MIN || j->priority > GV_PRIORITY_MAX)
		return client_fail(gv, GV_EINVAL, "priority %d is out of range "
		    "%d..%d", j->priority, GV_PRIORITY_MIN, GV_PRIORITY_MAX);
	return GV_OK;
}

static const char *
key_or_null(const char *s)
{
	return s && *s ? s : NULL;
}

/* The unique window of a job's function (unique_for, 0: none); only a
 * keyed job has one. */
static unsigned
window_of(const gv_client *gv, const struct gv_new_job *job)
{
	const struct func_policy *f;

	if (key_or_null(job->uniqkey) == NULL ||
	    (f = client_func(gv, job->funcname)) == NULL)
		return 0;
	return f->unique_for;
}

/*
 * Whether a job of the key was done inside its window, by a locking read
 * inside the caller's transaction: the job's row and its record are
 * written in one transaction, so between the live duplicate (the row,
 * which INSERT IGNORE meets) and the done one (the record, met here) there
 * is no moment where neither is seen. 1 found (*old its jobid), 0 not, -1
 * on error.
 */
static int
window_dup(gv_client *gv, struct db *db, const struct gv_new_job *job,
    unsigned window, uint64_t *old)
{
	int found;

	if (outcome_done_since(db, job->funcname, job->uniqkey, window, old,
	    &found, gv->err, sizeof(gv->err)) == -1)
		return -1;
	return found;
}

/* One job's INSERT; for a keyed job with a unique window, in a
 * transaction after the window's read (*dup: the done job's id, when it
 * was one). */
static int
store_one(gv_client *gv, struct db *db, const struct gv_new_job *job,
    const struct dbval *p, uint64_t *affected, uint64_t *id, uint64_t *dup)
{
	unsigned window = window_of(gv, job);
	int rc;

	*dup = 0;
	if (window == 0)
		return db_exec(db, SQL_INSERT, 1, p, JOBFIELD_INSERT_PARAMS,
		    affected, id, gv->err, sizeof(gv->err));
	if (db_begin(db, gv->err, sizeof(gv->err)) == -1)
		return -1;
	if ((rc = window_dup(gv, db, job, window, dup)) != 0) {
		db_rollback(db);
		return rc == 1 ? 0 : -1;
	}
	if (db_exec(db, SQL_INSERT, 1, p, JOBFIELD_INSERT_PARAMS, affected, id,
	    gv->err, sizeof(gv->err)) == -1) {
		db_rollback(db);
		return -1;
	}
	return db_commit(db, gv->err, sizeof(gv->err));
}

static int
insert_one(gv_client *gv, const struct gv_new_job *job, int leased,
    uint64_t *jobid, unsigned *dbid, int *inserted)
{
	const char *key = key_or_null(job->uniqkey);
	struct dbval p[JOBFIELD_INSERT_PARAMS], q[2];
	uint64_t affected, id = 0, dup = 0;
	struct db *db;
	size_t tries, n = dbset_count(gv->dbs);
	int rc, found, conflicts;
	char why[sizeof(gv->err)];

	if ((rc = check_new_job(gv, job)) != GV_OK)
		return rc;
	jobfield_insert_params(p, job, leased);
	/*
	 * A job without a unique key may go anywhere, so a failed database is
	 * left for another. A keyed job has one home: trying elsewhere would
	 * break its uniqueness.
	 */
	db = key ? dbset_for_key(gv->dbs, job->funcname, key) :
	    dbset_pick(gv->dbs);
	for (tries = 0, conflicts = 0;; tries++) {
		if (store_one(gv, db, job, p, &affected, &id, &dup) == 0)
			break;
		/* A deadlock rolled the insert back: nothing was stored. */
		if (client_conflict_retry(gv, db, &conflicts)) {
			tries--;
			continue;
		}
		/* Lost after it was sent: the server may have stored it. A
		 * keyed job is settled on its home by its key (an insert
		 * again stores nothing if it is there); another, stored
		 * elsewhere too, would run twice. */
		if (db_maybe_applied(db) && key && tries == 0)
			continue;
		if (db_maybe_applied(db)) {
			snprintf(why, sizeof(why), "%s", gv->err);
			return client_fail(gv, GV_EUNKNOWN, "fate unknown (the "
			    "connection was lost after the insert was sent: "
			    "it may be stored): %s", why);
		}
		if (key || tries + 1 >= n)
			return GV_EDB;
		db = dbset_pick(gv->dbs);
	}
	if (dup) {
		/* Done inside its window: the answer a live duplicate
		 * gets, naming the job that was done. */
		affected = 0;
		id = dup;
	} else if (affected == 0 && key) {
		q[0] = DBV_S(job->funcname);
		q[1] = DBV_S(key);
		if (db_select_u64(db, SQL_FIND_UNIQUE, q, 2, &id, &found,
		    gv->err, sizeof(gv->err)) == -1)
			return GV_EDB;
		if (!found)
			return client_fail(gv, GV_EDB, "database %u: a job "
			    "with unique key %s was neither stored nor found",
			    db_id(db), key);
	}
	if (jobid)
		*jobid = id;
	if (dbid)
		*dbid = db_id(db);
	if (inserted)
		*inserted = affected > 0;
	return GV_OK;
}

int
gv_insert_job(gv_client *gv, const struct gv_new_job *job, uint64_t *jobid,
    unsigned *dbid, int *inserted)
{
	return insert_one(gv, job, 0, jobid, dbid, inserted);
}

int
client_insert_leased(gv_client *gv, const struct gv_new_job *job,
    uint64_t *jobid, unsigned *dbid, int *inserted)
{
	return insert_one(gv, job, 1, jobid, dbid, inserted);
}

/* How one try of a share's transaction ended, when it failed. */
enum share_fail {
	SHARE_REFUSED,    /* an error the server answered: nothing stored */
	SHARE_LOST,       /* the connection went before the COMMIT was sent
	                     (or answered): the server rolled it back */
	SHARE_UNREACHED,  /* no connection could be made */
	SHARE_UNKNOWN,    /* the connection went with the COMMIT sent */
};

/*
 * Insert idx[0..n) of jobs into db in one transaction, in multi-row
 * statements of at most CHUNK_ROWS rows and about CHUNK_BYTES of payload.
 * On GV_EDB, *why says how it failed.
 */
static int
insert_share_once(gv_client *gv, struct db *db, const struct gv_new_job *jobs,
    const size_t *idx, size_t n, size_t *inserted, enum share_fail *why)
{
	struct dbval *p;
	uint64_t affected, old;
	size_t done = 0, rows, bytes, k, stored = 0, i, m;
	size_t *use = NULL;
	int connected = db_connection_id(db) != 0, found;
	unsigned window;

	*why = SHARE_REFUSED;
	if ((p = calloc(CHUNK_ROWS * JOBFIELD_INSERT_PARAMS, sizeof(*p))) ==
	    NULL || (use = malloc(n * sizeof(*use))) == NULL) {
		free(p);
		return client_fail(gv, GV_ENOMEM, "out of memory");
	}
	if (db_begin(db, gv->err, sizeof(gv->err)) == -1) {
		/* A connection that was open went (found by the ping, or at
		 * the first statement): lost. None made: unreached. */
		if (db_gone(db))
			*why = connected ? SHARE_LOST : SHARE_UNREACHED;
		goto fail;
	}
	/* Keyed jobs done inside their unique windows are not stored, as a
	 * live duplicate is not (window_dup). */
	for (i = 0, m = 0; i < n; i++) {
		window = window_of(gv, &jobs[idx[i]]);
		if (window && (found = window_dup(gv, db, &jobs[idx[i]],
		    window, &old)) != 0) {
			if (found == 1)
				continue;
			if (db_gone(db))
				*why = SHARE_LOST;
			db_rollback(db);
			goto fail;
		}
		use[m++] = idx[i];
	}
	idx = use;
	n = m;
	while (done < n) {
		for (rows = 0, bytes = 0; done + rows < n && rows < CHUNK_ROWS &&
		    (rows == 0 || bytes + jobs[idx[done + rows]].arg_len <=
		    CHUNK_BYTES); rows++) {
			k = idx[done + rows];
			bytes += jobs[k].arg_len;
			jobfield_insert_params(&p[rows *
			    JOBFIELD_INSERT_PARAMS], &jobs[k], 0);
		}
		if (db_exec(db, SQL_INSERT, (unsigned)rows, p,
		    rows * JOBFIELD_INSERT_PARAMS,
		    &affected, NULL, gv->err, sizeof(gv->err)) == -1) {
			/* A statement of a transaction whose COMMIT was never
			 * sent: whatever the server did of it, it rolls it
			 * back with the connection, on every Galera node. */
			if (db_gone(db))
				*why = SHARE_LOST;
			db_rollback(db);
			goto fail;
		}
		stored += affected;
		done += rows;
	}
	if (db_commit(db, gv->err, sizeof(gv->err)) == -1) {
		if (db_maybe_applied(db))
			*why = SHARE_UNKNOWN;
		else if (db_gone(db))
			*why = SHARE_LOST;
		goto fail;
	}
	*inserted += stored;
	free(p);
	free(use);
	return GV_OK;
fail:
	free(p);
	free(use);
	return GV_EDB;
}

/* "jobs A..B, C, ..." of the caller's indices idx[0..n) (ascending), into
 * gv->err before the reason already there. */
static int
unknown_fate(gv_client *gv, const size_t *idx, size_t n)
{
	char why[sizeof(gv->err)], list[256];
	size_t i, j, len = 0;

	memcpy(why, gv->err, sizeof(why));
	for (i = 0; i < n && len < sizeof(list) - 40; i = j) {
		for (j = i + 1; j < n && idx[j] == idx[j - 1] + 1; j++)
			;
		len += (size_t)snprintf(list + len, sizeof(list) - len,
		    j - i > 1 ? "%s%zu..%zu" : "%s%zu", i ? ", " : "", idx[i],
		    idx[j - 1]);
	}
	if (i < n)
		snprintf(list + len, sizeof(list) - len, ", ...");
	return client_fail(gv, GV_EUNKNOWN, "jobs %s: fate unknown (the "
	    "connection was lost during COMMIT): %.700s", list, why);
}

/*
 * A share's transaction, until it is stored or its failure is final.
 *
 * Nothing is stored twice when nothing breaks, and nothing acknowledged is
 * lost: a transaction is only done again when it is known to have stored
 * nothing, or when its jobs are keyed.
 * - A deadlock, a lock wait or a Galera certification conflict rolled it
 *   back: tried again as a whole, a few times (conflict_retry).
 * - Its connection went before its COMMIT was sent (a killed Galera node,
 *   a KILL, a host that stopped taking writes): the server rolled it back,
 *   so it is done again at once, on a new connection, which is the next
 *   usable host's (at most LOST_REDO times: every host of a list may go in
 *   turn). No connection could be made at all: tried again within
 *   gv_set_retry's budget, pausing as exec_retry does.
 * - Its connection went with the COMMIT sent: it may be stored or not.
 *   Keyed jobs (keyed is 1: a keyed share holds only keyed jobs) are done
 *   again: INSERT IGNORE reads each back by its key, keeps what the lost
 *   COMMIT stored and stores what it did not. A job that the lost COMMIT
 *   stored, that ran and was completed in the few milliseconds before the
 *   redo, is stored again and runs twice; only then, and never lost.
 *   Others cannot be read back: GV_EUNKNOWN naming them.
 */
#define LOST_REDO 3

static int
insert_share(gv_client *gv, struct db *db, const struct gv_new_job *jobs,
    const size_t *idx, size_t n, size_t *inserted, int keyed)
{
	double deadline = time_mono() + gv->retry_seconds;
	double pause = RETRY_PAUSE_MIN;
	enum share_fail why = SHARE_REFUSED;
	int conflicts = 0, redos = 0, rc;

	for (;;) {
		rc = insert_share_once(gv, db, jobs, idx, n, inserted, &why);
		if (rc != GV_EDB)
			return rc;
		if (client_conflict_retry(gv, db, &conflicts))
			continue;
		if (why == SHARE_UNKNOWN && !keyed)
			return unknown_fate(gv, idx, n);
		if ((why == SHARE_LOST || why == SHARE_UNKNOWN) &&
		    redos++ < LOST_REDO)
			continue;
		if (why == SHARE_UNKNOWN)
			return unknown_fate(gv, idx, n);
		if (why == SHARE_REFUSED || time_mono() + pause > deadline)
			return GV_EDB;
		if (gv->on_retry)
			gv->on_retry(gv->on_retry_arg);
		time_sleep(pause, NULL);
		pause = backoff_next(pause, RETRY_PAUSE_MIN, RETRY_PAUSE_MAX);
	}
}

/* The group of a job in gv_insert_jobs: its database's index when keyed,
 * else ndbs (any database). */
static size_t
home_slot(gv_client *gv, const struct gv_new_job *j)
{
	const char *key = key_or_null(j->uniqkey);

	return key ? dbset_key_index(gv->dbs, j->funcname, key) :
	    dbset_count(gv->dbs);
}

int
gv_insert_jobs(gv_client *gv, const struct gv_new_job *jobs, size_t n,
    size_t *inserted)
{
	size_t ndbs = dbset_count(gv->dbs), *idx = NULL, *count = NULL;
	size_t *start = NULL, i, d, nfree, tries, total = 0;
	struct db *db;
	int rc = GV_OK;

	if (inserted)
		*inserted = 0;
	for (i = 0; i < n; i++) {
		if ((rc = check_new_job(gv, &jobs[i])) != GV_OK) {
			char why[sizeof(gv->err)];

			memcpy(why, gv->err, sizeof(why));
			return client_fail(gv, rc, "job %zu: %.900s", i, why);
		}
	}
	if (n == 0)
		return GV_OK;
	/*
	 * Group by database: keyed jobs by their stable home, the rest
	 * (slot ndbs) to one healthy database. Counting sort keeps each
	 * group in the caller's order.
	 */
	if ((idx = malloc(n * sizeof(*idx))) == NULL ||
	    (count = calloc(ndbs + 2, sizeof(*count))) == NULL ||
	    (start = calloc(ndbs + 2, sizeof(*start))) == NULL) {
		rc = client_fail(gv, GV_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		count[home_slot(gv, &jobs[i])]++;
	for (d = 1; d <= ndbs; d++)
		start[d] = start[d - 1] + count[d - 1];
	for (i = 0; i < n; i++)
		idx[start[home_slot(gv, &jobs[i])]++] = i;
	for (d = 0; d <= ndbs; d++)
		start[d] -= count[d];
	for (d = 0; d < ndbs; d++) {
		if (count[d] == 0)
			continue;
		if ((rc = insert_share(gv, dbset_at(gv->dbs, d), jobs,
		    idx + start[d], count[d], &total, 1)) != GV_OK)
			goto out;
	}
	nfree = count[ndbs];
	/* A share that failed with GV_EDB stored nothing, and goes to another
	 * database; one whose fate is unknown (GV_EUNKNOWN) goes nowhere
	 * else, or it could be stored twice. */
	for (tries = 0; nfree > 0 && tries < ndbs; tries++) {
		db = dbset_pick(gv->dbs);
		if ((rc = insert_share(gv, db, jobs, idx + start[ndbs], nfree,
		    &total, 0)) != GV_EDB)
			break;
	}
out:
	if (inserted)
		*inserted = total;
	free(idx);
	free(count);
	free(start);
	return rc;
}
