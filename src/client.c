/*
 * client: libgarivini, the public C client API (garivini.h).
 *
 * Every call fills gv->err and returns a gv_error code; nothing here prints,
 * logs or exits.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "dbset.h"
#include "jobfield.h"
#include "jobjson.h"
#include "util.h"

#define CHUNK_ROWS 500            /* rows per multi-row INSERT */
#define CHUNK_BYTES (4u << 20)    /* payload bytes per multi-row INSERT */
#define NEVER_PARK 1000           /* a failcount a TINYINT cannot reach */

#define RETRY_PAUSE_MIN 0.1
#define RETRY_PAUSE_MAX 2.0
#define CONFLICT_TRIES 30         /* a deadlock or conflict, tried again */
#define CONFLICT_PAUSE 0.005      /* seconds before the first retry ... */
#define CONFLICT_PAUSE_MAX 0.5    /* ... doubling to this, with jitter */
#define LATER_MAX 100             /* completions shared by one commit */
#define LATER_WAIT 0.005          /* seconds a completion may wait */

/* How a job that failed is retried or parked. */
struct fail_policy {
	unsigned max_failures;    /* 0: never parked */
	unsigned retry_first;     /* seconds */
	unsigned retry_max;       /* seconds */
};

struct gv_client {
	struct dbset *dbs;
	struct fail_policy policy;
	/* [function.NAME] max_failures, retry_first and retry_max of the INI
	 * it was opened with, sorted by function: over policy for those
	 * functions. */
	struct func_policy {
		char *funcname;
		int max_failures;         /* -1: the client's */
		unsigned retry_first;     /* 0: the client's */
		unsigned retry_max;       /* 0: the client's */
	} *ff;
	size_t nff;
	double retry_seconds;     /* gv_set_retry */
	void (*on_retry)(void *); /* client_on_retry */
	void *on_retry_arg;
	struct later {            /* gv_complete_later, not yet flushed */
		uint64_t jobid;
		uint32_t attempt;
		unsigned dbid;
		int fenced;
		int failed_before;    /* it may have failures to forget */
	} *later;
	size_t nlater;
	double later_since;       /* time_mono() of the oldest */
	unsigned seed;            /* jitter of conflict retries */
	int no_error_table;       /* a failure's reason found no job_error */
	unsigned no_error_table_db; /* ... in this database */
	char err[1024];
};

static int
fail(gv_client *gv, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * After a failure of db: 1 if it was a conflict (a deadlock, a lock wait
 * timeout, a Galera certification conflict) to try again, after a short
 * pause. The pause doubles and is jittered: two writers on two Galera
 * nodes that conflict on every commit (inserts of one function conflict,
 * as Galera certifies NULL unique keys) would otherwise retry in step and
 * conflict again (seen in tests/cluster/10-galera.t).
 */
static int
conflict_retry(gv_client *gv, struct db *db, int *tries)
{
	double pause = 0;
	int i;

	if (!db_conflict(db) || *tries >= CONFLICT_TRIES)
		return 0;
	for (i = 0; i <= *tries && pause < CONFLICT_PAUSE_MAX; i++)
		pause = backoff_next(pause, CONFLICT_PAUSE,
		    CONFLICT_PAUSE_MAX);
	(*tries)++;
	time_sleep(pause * (0.5 + (double)rand_r(&gv->seed) / RAND_MAX),
	    NULL);
	return 1;
}

static int
fail(gv_client *gv, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(gv->err, sizeof(gv->err), fmt, ap);
	va_end(ap);
	return code;
}

gv_client *
gv_open(const struct gv_db_settings *dbs, size_t ndbs, char *err,
    size_t errlen)
{
	gv_client *gv;

	if ((gv = calloc(1, sizeof(*gv))) == NULL) {
		errf(err, errlen, "out of memory");
		return NULL;
	}
	if ((gv->dbs = dbset_new(dbs, ndbs, err, errlen)) == NULL) {
		free(gv);
		return NULL;
	}
	gv->seed = (unsigned)(time_real() * 1e6) ^ (unsigned)getpid();
	gv->policy.retry_first = GV_RETRY_FIRST;
	gv->policy.retry_max = GV_RETRY_MAX;
	return gv;
}

/* A client of cfg on its databases, or only on database dbid (not 0). */
static gv_client *
open_config(const struct config *cfg, unsigned dbid, char *err,
    size_t errlen)
{
	struct gv_db_settings s[CONFIG_MAX_DBS];
	gv_client *gv;
	size_t i, n = 0;

	for (i = 0; i < cfg->ndbs; i++) {
		const struct config_db *d = &cfg->dbs[i];

		if (dbid && d->dbid != dbid)
			continue;
		s[n++] = (struct gv_db_settings){ .dbid = d->dbid,
		    .host = d->host, .port = d->port, .socket = d->socket,
		    .database = d->database, .user = d->user,
		    .password = d->password };
	}
	if (n == 0) {
		errf(err, errlen, "database %u is not configured", dbid);
		return NULL;
	}
	if ((gv = gv_open(s, n, err, errlen)) == NULL)
		return NULL;
	gv->policy = (struct fail_policy){
	    .max_failures = (unsigned)cfg->controller.max_failures,
	    .retry_first = (unsigned)cfg->controller.retry_first,
	    .retry_max = (unsigned)cfg->controller.retry_max };
	if (cfg->nfuncs && (gv->ff = calloc(cfg->nfuncs, sizeof(*gv->ff))) ==
	    NULL) {
		errf(err, errlen, "out of memory");
		gv_close(gv);
		return NULL;
	}
	/* In cfg's order, sorted by name. */
	for (i = 0; i < cfg->nfuncs; i++) {
		const struct config_func *f = &cfg->funcs[i];
		struct func_policy *fp = &gv->ff[gv->nff];

		if (f->max_failures < 0 && f->retry_first < 0 &&
		    f->retry_max < 0)
			continue;
		if ((fp->funcname = strdup(f->name)) == NULL) {
			errf(err, errlen, "out of memory");
			gv_close(gv);
			return NULL;
		}
		gv->nff++;
		/* An unset (negative) retry value becomes 0: the client's. */
		fp->max_failures = f->max_failures;
		fp->retry_first = f->retry_first > 0 ?
		    (unsigned)f->retry_first : 0;
		fp->retry_max = f->retry_max > 0 ? (unsigned)f->retry_max : 0;
	}
	return gv;
}

gv_client *
client_open_config(const struct config *cfg, char *err, size_t errlen)
{
	return open_config(cfg, 0, err, errlen);
}

gv_client *
client_open_config_db(const struct config *cfg, unsigned dbid, char *err,
    size_t errlen)
{
	return open_config(cfg, dbid, err, errlen);
}

static int
cmp_policy(const void *key, const void *elem)
{
	return strcmp(key, ((const struct func_policy *)elem)->funcname);
}

/* How a failed job of funcname is retried or parked: its function's
 * values over the client's. A job without a funcname (a caller's own
 * struct) gets the client's. */
static struct fail_policy
fail_policy(const gv_client *gv, const char *funcname)
{
	const struct func_policy *f = gv->nff && funcname ? bsearch(funcname,
	    gv->ff, gv->nff, sizeof(*gv->ff), cmp_policy) : NULL;
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

gv_client *
gv_open_ini(const char *path, char *err, size_t errlen)
{
	struct config *cfg;
	gv_client *gv;

	if ((cfg = config_load(path, err, errlen)) == NULL)
		return NULL;
	gv = client_open_config(cfg, err, errlen);
	config_free(cfg);
	return gv;
}

/* The public struct and limit are config's, spelt for users. */
_Static_assert(GV_SERVERS_MAX == CONFIG_MAX_SERVERS,
    "GV_SERVERS_MAX is garivini.ini's limit");
_Static_assert(sizeof(((struct gv_server *)0)->host) ==
    sizeof(((struct config_server *)0)->host), "GV_HOST_MAX is config's");

int
gv_ini_servers(const char *path, struct gv_server *servers, size_t max,
    size_t *n, char *err, size_t errlen)
{
	struct config *cfg;
	size_t i;

	if ((cfg = config_load(path, err, errlen)) == NULL)
		return GV_ECONFIG;
	for (i = 0; i < cfg->nservers && i < max; i++) {
		memcpy(servers[i].host, cfg->servers[i].host,
		    sizeof(servers[i].host));
		servers[i].port = cfg->servers[i].port;
	}
	*n = cfg->nservers;
	config_free(cfg);
	return GV_OK;
}

void
gv_close(gv_client *gv)
{
	if (gv == NULL)
		return;
	gv_flush(gv);
	dbset_free(gv->dbs);
	free(gv->later);
	for (size_t i = 0; i < gv->nff; i++)
		free(gv->ff[i].funcname);
	free(gv->ff);
	free(gv);
}

const char *
gv_errmsg(const gv_client *gv)
{
	return gv ? gv->err : "no client";
}

struct dbset *
client_dbset(gv_client *gv)
{
	return gv->dbs;
}

void
gv_set_max_failures(gv_client *gv, unsigned max_failures)
{
	gv->policy.max_failures = max_failures;
}

int
gv_set_retry_backoff(gv_client *gv, unsigned first, unsigned max)
{
	if (first < 1 || first > GV_RETRY_FIRST_LIMIT)
		return fail(gv, GV_EINVAL, "retry first %u is out of range "
		    "1..%d", first, GV_RETRY_FIRST_LIMIT);
	if (max < first || max > GV_RETRY_MAX_LIMIT)
		return fail(gv, GV_EINVAL, "retry max %u is out of range "
		    "%u..%d (at least the first)", max, first,
		    GV_RETRY_MAX_LIMIT);
	gv->policy.retry_first = first;
	gv->policy.retry_max = max;
	return GV_OK;
}

void
client_on_retry(gv_client *gv, void (*fn)(void *), void *arg)
{
	gv->on_retry = fn;
	gv->on_retry_arg = arg;
}

void
gv_set_retry(gv_client *gv, double seconds)
{
	gv->retry_seconds = seconds > 0 ? seconds : 0;
}

const char *
gv_strerror(int code)
{
	switch (code) {
	case GV_OK: return "success";
	case GV_EINVAL: return "invalid argument";
	case GV_ECONFIG: return "bad configuration";
	case GV_EDB: return "database error";
	case GV_ESTALE: return "job gone or owned by a newer attempt";
	case GV_EJSON: return "malformed job document";
	case GV_ENOMEM: return "out of memory";
	case GV_EUNKNOWN: return "fate unknown: the connection was lost "
	    "during COMMIT";
	}
	return "unknown error";
}

/* Checked here rather than left to the server: INSERT IGNORE would turn an
 * over-long value into a silent truncation. */
static int
check_new_job(gv_client *gv, const struct gv_new_job *j)
{
	size_t len;

	if (j->funcname == NULL || (len = strlen(j->funcname)) == 0)
		return fail(gv, GV_EINVAL, "funcname is missing");
	if (len > GV_FUNCNAME_MAX)
		return fail(gv, GV_EINVAL, "funcname is longer than %d bytes",
		    GV_FUNCNAME_MAX);
	if (gv_funcname_reserved(j->funcname))
		return fail(gv, GV_EINVAL, "funcname %s is reserved: Garivini "
		    "serves it itself", j->funcname);
	/* The columns are utf8mb4, and INSERT IGNORE stores invalid UTF-8
	 * mangled ('?' for each bad byte): the job was acknowledged under a
	 * name no worker serves, its key merged with others
	 * (tests/faults/73-bad-client.t). */
	if (!jobjson_utf8_valid(j->funcname, len))
		return fail(gv, GV_EINVAL, "funcname is not valid UTF-8");
	if (j->uniqkey && !jobjson_utf8_valid(j->uniqkey, strlen(j->uniqkey)))
		return fail(gv, GV_EINVAL, "uniqkey is not valid UTF-8");
	if (j->coalesce && !jobjson_utf8_valid(j->coalesce,
	    strlen(j->coalesce)))
		return fail(gv, GV_EINVAL, "coalesce is not valid UTF-8");
	if (j->arg == NULL && j->arg_len > 0)
		return fail(gv, GV_EINVAL, "arg is NULL with a length");
	if (j->arg_len > GV_ARG_MAX)
		return fail(gv, GV_EINVAL, "arg is longer than %u bytes",
		    GV_ARG_MAX);
	if (j->uniqkey && strlen(j->uniqkey) > GV_UNIQKEY_MAX)
		return fail(gv, GV_EINVAL, "uniqkey is longer than %d bytes",
		    GV_UNIQKEY_MAX);
	if (j->coalesce && strlen(j->coalesce) > GV_COALESCE_MAX)
		return fail(gv, GV_EINVAL, "coalesce is longer than %d bytes",
		    GV_COALESCE_MAX);
	if (j->delay < 0 || j->delay > GV_DELAY_MAX)
		return fail(gv, GV_EINVAL, "delay %ld is out of range 0..%ld",
		    j->delay, GV_DELAY_MAX);
	if (j->flag != GV_FLAG_SHIM && j->flag != GV_FLAG_CONTROLLER)
		return fail(gv, GV_EINVAL, "unknown flag %d", (int)j->flag);
	if (j->priority < GV_PRIORITY_MIN || j->priority > GV_PRIORITY_MAX)
		return fail(gv, GV_EINVAL, "priority %d is out of range %d..%d",
		    j->priority, GV_PRIORITY_MIN, GV_PRIORITY_MAX);
	return GV_OK;
}

static const char *
key_or_null(const char *s)
{
	return s && *s ? s : NULL;
}

static int
insert_one(gv_client *gv, const struct gv_new_job *job, int leased,
    uint64_t *jobid, unsigned *dbid, int *inserted)
{
	const char *key = key_or_null(job->uniqkey);
	struct dbval p[JOBFIELD_INSERT_PARAMS], q[2];
	uint64_t affected, id = 0;
	struct db *db;
	size_t tries, n = dbset_count(gv->dbs);
	int rc, found, conflicts;

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
		if (db_exec(db, SQL_INSERT, 1, p, JOBFIELD_INSERT_PARAMS,
		    &affected, &id, gv->err, sizeof(gv->err)) == 0)
			break;
		/* A deadlock rolled the insert back: nothing was stored. */
		if (conflict_retry(gv, db, &conflicts)) {
			tries--;
			continue;
		}
		if (key || tries + 1 >= n)
			return GV_EDB;
		db = dbset_pick(gv->dbs);
	}
	if (affected == 0 && key) {
		q[0] = DBV_S(job->funcname);
		q[1] = DBV_S(key);
		if (db_select_u64(db, SQL_FIND_UNIQUE, q, 2, &id, &found,
		    gv->err, sizeof(gv->err)) == -1)
			return GV_EDB;
		if (!found)
			return fail(gv, GV_EDB, "database %u: a job with "
			    "unique key %s was neither stored nor found",
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
	uint64_t affected;
	size_t done = 0, rows, bytes, k, stored = 0;
	int connected = db_connection_id(db) != 0;

	*why = SHARE_REFUSED;
	if ((p = calloc(CHUNK_ROWS * JOBFIELD_INSERT_PARAMS, sizeof(*p))) ==
	    NULL)
		return fail(gv, GV_ENOMEM, "out of memory");
	if (db_begin(db, gv->err, sizeof(gv->err)) == -1) {
		/* A connection that was open went (found by the ping, or at
		 * the first statement): lost. None made: unreached. */
		if (db_gone(db))
			*why = connected ? SHARE_LOST : SHARE_UNREACHED;
		goto fail;
	}
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
	return GV_OK;
fail:
	free(p);
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
	return fail(gv, GV_EUNKNOWN, "jobs %s: fate unknown (the connection "
	    "was lost during COMMIT): %.700s", list, why);
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
		if (conflict_retry(gv, db, &conflicts))
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
			return fail(gv, rc, "job %zu: %.900s", i, why);
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
		rc = fail(gv, GV_ENOMEM, "out of memory");
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

/* The database of a job a worker names, or NULL with the reason in gv. */
static struct db *
job_db(gv_client *gv, const struct gv_job *job)
{
	struct db *db;

	if (job == NULL || job->jobid == 0) {
		fail(gv, GV_EINVAL, "job has no jobid");
		return NULL;
	}
	if ((db = dbset_find(gv->dbs, job->dbid)) == NULL)
		fail(gv, GV_EINVAL, "job %llu names database %u, which is not "
		    "configured", (unsigned long long)job->jobid, job->dbid);
	return db;
}

static int
stale(gv_client *gv, const struct gv_job *job)
{
	return fail(gv, GV_ESTALE, "job %llu of database %u is gone or owned "
	    "by a newer attempt", (unsigned long long)job->jobid, job->dbid);
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
    const struct dbval *p, size_t np, uint64_t *affected)
{
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
static int
exec_retry(gv_client *gv, struct db *db, enum sql_id id, unsigned nrows,
    const struct dbval *p, size_t np, uint64_t *affected,
    const struct gv_job *job, const char *message, int whole)
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
			    message, job->jobid) : whole ? whole_once(gv, db,
			    id, nrows, p, np, affected) : db_exec(db, id, nrows,
			    p, np, affected, NULL, gv->err, sizeof(gv->err))) ==
			    0)
				return 0;
			unknown |= db_maybe_applied(db);
		}
		if (conflict_retry(gv, db, &lock_tries))
			continue;
		if (db_healthy(db, time_mono()) ||
		    time_mono() + pause > deadline)
			return -1;
		if (gv->on_retry)
			gv->on_retry(gv->on_retry_arg);
		time_sleep(pause, NULL);
		pause = backoff_next(pause, RETRY_PAUSE_MIN, RETRY_PAUSE_MAX);
	}
}

#define LEAD_MAX 3                /* leading parameters of apply */

static int
apply_message(gv_client *gv, const struct gv_job *job, enum sql_id fenced,
    enum sql_id any, const struct dbval *lead, size_t nlead,
    const char *message)
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
	    &affected, job, message, 0) == -1)
		return GV_EDB;
	if (affected == 0)
		return stale(gv, job);
	return GV_OK;
}

static int
apply(gv_client *gv, const struct gv_job *job, enum sql_id fenced,
    enum sql_id any, const struct dbval *lead, size_t nlead)
{
	return apply_message(gv, job, fenced, any, lead, nlead, NULL);
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

int
gv_complete_job(gv_client *gv, const struct gv_job *job)
{
	struct dbval id;
	int rc;

	rc = apply(gv, job, SQL_COMPLETE, SQL_COMPLETE_ANY, NULL, 0);
	if (rc == GV_OK && job->failcount > 0) {
		id = DBV_U(job->jobid);
		forget_errors(dbset_find(gv->dbs, job->dbid), &id, 1);
	}
	return rc;
}

int
gv_reschedule_job(gv_client *gv, const struct gv_job *job, const char *when)
{
	struct dbval lead;
	long v;

	if (when == NULL)
		return fail(gv, GV_EINVAL, "no time to reschedule to");
	if (strcmp(when, "never") == 0) {
		lead = DBV_U(GV_NEVER);
		return apply(gv, job, SQL_RESCHEDULE_AT, SQL_RESCHEDULE_AT_ANY,
		    &lead, 1);
	}
	if (when[0] == '+') {
		if (when[1] < '0' || when[1] > '9' ||
		    parse_long(when + 1, 0, GV_DELAY_MAX, &v) == -1)
			return fail(gv, GV_EINVAL, "bad relative time \"%s\": "
			    "+SECONDS, at most %ld", when, GV_DELAY_MAX);
		lead = DBV_I(v);
		return apply(gv, job, SQL_RESCHEDULE_IN, SQL_RESCHEDULE_IN_ANY,
		    &lead, 1);
	}
	if (when[0] < '0' || when[0] > '9' ||
	    parse_long(when, 0, GV_NEVER, &v) == -1)
		return fail(gv, GV_EINVAL, "bad time \"%s\": \"never\", "
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
		return fail(gv, GV_EINVAL, "job has no jobid");
	if (message == NULL)
		message = "";
	if ((len = strlen(message)) > GV_MESSAGE_MAX)
		return fail(gv, GV_EINVAL, "message is longer than %d bytes",
		    GV_MESSAGE_MAX);
	if (!jobjson_utf8_valid(message, len))
		return fail(gv, GV_EINVAL, "message is not valid UTF-8");
	p = fail_policy(gv, job->funcname);
	lead[0] = DBV_U(p.max_failures ? p.max_failures : NEVER_PARK);
	lead[1] = DBV_U(p.retry_first);
	lead[2] = DBV_U(p.retry_max);
	return apply_message(gv, job, SQL_FAIL, SQL_FAIL_ANY, lead, LEAD_MAX,
	    message);
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

/* Delete the row, and its failures once it is gone. */
static int
cancel(gv_client *gv, struct db *db, uint64_t jobid)
{
	struct dbval id = DBV_U(jobid);
	uint64_t affected;

	if (exec_retry(gv, db, SQL_CANCEL, 1, &id, 1, &affected, NULL,
	    NULL, 0) == -1)
		return GV_EDB;
	forget_errors(db, &id, 1);
	if (affected == 0)
		return fail(gv, GV_ESTALE, "no job %llu in database %u",
		    (unsigned long long)jobid, db_id(db));
	return GV_OK;
}

int
gv_cancel_jobid(gv_client *gv, unsigned dbid, uint64_t jobid)
{
	struct db *db;

	if (jobid == 0)
		return fail(gv, GV_EINVAL, "no jobid");
	if ((db = dbset_find(gv->dbs, dbid)) == NULL)
		return fail(gv, GV_EINVAL, "database %u is not configured",
		    dbid);
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
		return fail(gv, GV_EINVAL, "funcname is missing");
	if (uniqkey == NULL || *uniqkey == '\0')
		return fail(gv, GV_EINVAL, "uniqkey is missing: only a job "
		    "with a unique key can be cancelled by key");
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
		return fail(gv, GV_ESTALE, "no job %s/%s in %s", funcname,
		    uniqkey, ndbs > 1 ? "any database" : "the database");
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
	    0) == -1)
		return GV_EDB;
	return affected ? GV_OK : stale(gv, job);
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
	gv->later[gv->nlater++] = (struct later){ .jobid = job->jobid,
	    .attempt = job->attempt, .dbid = job->dbid, .fenced = job->fenced,
	    .failed_before = job->failcount > 0 };
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

/* Delete the waiting completions of one database, fenced or not. With
 * done (client_complete_now), say which deleted their row. */
static int
flush_db(gv_client *gv, struct db *db, int fenced, struct dbval *p,
    unsigned char *done)
{
	uint64_t affected;
	size_t i, n = 0, rows;
	int rc = 0, one_rc;

	for (i = 0; i < gv->nlater; i++) {
		const struct later *l = &gv->later[i];

		if (l->dbid != db_id(db) || l->fenced != fenced)
			continue;
		p[n++] = DBV_U(l->jobid);
		if (fenced)
			p[n++] = DBV_U(l->attempt);
	}
	if (n == 0)
		return 0;
	rows = fenced ? n / 2 : n;
	if (exec_retry(gv, db, fenced ? SQL_COMPLETE_MANY :
	    SQL_COMPLETE_MANY_ANY, (unsigned)rows, p, n, &affected, NULL,
	    NULL, done != NULL) == -1)
		return -1;
	for (i = 0; done && i < gv->nlater; i++) {
		const struct later *l = &gv->later[i];
		struct gv_job one = { .jobid = l->jobid, .dbid = l->dbid,
		    .attempt = l->attempt, .fenced = l->fenced,
		    .failcount = (unsigned)l->failed_before };

		if (l->dbid != db_id(db) || l->fenced != fenced)
			continue;
		if (affected == rows) {
			done[i] = 1;
			continue;
		}
		/* Rolled back: a stale copy among them (a job that ran
		 * twice, a row deleted). One by one, each says whether it
		 * was one of them. */
		one_rc = gv_complete_job(gv, &one);
		done[i] = one_rc == GV_OK;
		if (one_rc == GV_EDB)
			rc = -1;
	}
	if (done && affected != rows)
		return rc;
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
client_complete_now(gv_client *gv, const struct gv_job *jobs, size_t n,
    unsigned char *done)
{
	size_t i, k, chunk;
	int rc, worst;

	memset(done, 0, n);
	worst = gv_flush(gv);
	if (gv->later == NULL &&
	    (gv->later = calloc(LATER_MAX, sizeof(*gv->later))) == NULL)
		return fail(gv, GV_ENOMEM, "out of memory");
	for (i = 0; i < n; i += chunk) {
		chunk = n - i < LATER_MAX ? n - i : LATER_MAX;
		for (k = 0; k < chunk; k++) {
			const struct gv_job *job = &jobs[i + k];

			/* An unknown database matches no group: not done. */
			gv->later[k] = (struct later){ .jobid = job->jobid,
			    .attempt = job->attempt, .dbid = job->dbid,
			    .fenced = job->fenced,
			    .failed_before = job->failcount > 0 };
		}
		gv->nlater = chunk;
		if ((rc = flush_all(gv, done + i)) != GV_OK)
			worst = rc;
	}
	return worst;
}
