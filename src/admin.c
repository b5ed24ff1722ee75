/*
 * admin: the queries behind gvctl (admin.h). Every value reaches the
 * database as a bound parameter; the rows come back through
 * db_select_rows, one column per figure.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "config.h"
#include "outcome.h"
#include "util.h"

#define DELETE_TRIES 3          /* tries of a batch a deadlock rolled back */
#define DELETE_PAUSE 0.05       /* seconds before the next, times the try */

/* A cell of decimal digits (a count, an id, a time); NULL or anything
 * else: -1. */
static int
cell_u64(const char *s, uint64_t *v)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end != '\0' ? -1 : 0;
}

static char *
take(struct dbrows *rows, size_t r, unsigned c)
{
	char **cell = &rows->cell[r * rows->ncols + c];
	char *s = *cell;

	*cell = NULL;
	return s ? s : strdup("");
}

int
admin_stats(struct db *db, const char *funcname, struct admin_figures **out,
    size_t *n, char *err, size_t errlen)
{
	struct dbval p[1] = { DBV_S(funcname) };
	struct admin_figures *f;
	struct dbrows rows;
	uint64_t lag;
	size_t r;
	unsigned s;

	*out = NULL;
	*n = 0;
	if (db_select_rows(db, SQL_ADMIN_STATS, p, 1, 1 + ADMIN_STATES + 1,
	    &rows, err, errlen) == -1)
		return -1;
	if ((f = calloc(rows.nrows ? rows.nrows : 1, sizeof(*f))) == NULL) {
		db_rows_free(&rows);
		return errf(err, errlen, "out of memory");
	}
	for (r = 0; r < rows.nrows; r++) {
		char **cell = &rows.cell[r * rows.ncols];

		for (s = 0; s < ADMIN_STATES; s++)
			if (cell_u64(cell[1 + s], &f[r].n[s]) == -1)
				goto bad;
		/* A negative lag (the clock went back) is none yet. */
		if (cell[1 + ADMIN_STATES] && cell_u64(cell[1 + ADMIN_STATES],
		    &lag) == 0) {
			f[r].has_lag = 1;
			f[r].lag = lag;
		}
		if ((f[r].funcname = take(&rows, r, 0)) == NULL)
			goto nomem;
	}
	*out = f;
	*n = rows.nrows;
	db_rows_free(&rows);
	return 0;
bad:
	errf(err, errlen, "database %u: unexpected figures of %s", db_id(db),
	    rows.cell[r * rows.ncols] ? rows.cell[r * rows.ncols] : "?");
	admin_figures_free(f, rows.nrows);
	db_rows_free(&rows);
	return -1;
nomem:
	admin_figures_free(f, rows.nrows);
	db_rows_free(&rows);
	return errf(err, errlen, "out of memory");
}

void
admin_figures_free(struct admin_figures *f, size_t n)
{
	size_t i;

	for (i = 0; f && i < n; i++)
		free(f[i].funcname);
	free(f);
}

int
admin_failures(struct db *db, uint64_t jobid, const char *funcname,
    uint64_t limit, struct admin_failure **out, size_t *n, char *err,
    size_t errlen)
{
	struct admin_failure *f;
	struct dbval p[2];
	struct dbrows rows;
	uint64_t v[4];
	size_t r;
	int k;

	*out = NULL;
	*n = 0;
	p[0] = jobid ? DBV_U(jobid) : DBV_S(funcname);
	p[1] = DBV_U(limit);
	if (db_select_rows(db, jobid ? SQL_JOB_ERRORS : SQL_FUNC_ERRORS, p, 2,
	    6, &rows, err, errlen) == -1)
		return db_no_table(db) ? 0 : -1;
	if ((f = calloc(rows.nrows ? rows.nrows : 1, sizeof(*f))) == NULL) {
		db_rows_free(&rows);
		return errf(err, errlen, "out of memory");
	}
	for (r = 0; r < rows.nrows; r++) {
		char **cell = &rows.cell[r * rows.ncols];

		/* jobid, error_time, failcount, attempt */
		for (k = 0; k < 4; k++)
			if (cell_u64(cell[k ? k + 2 : 0], &v[k]) == -1)
				v[k] = 0;
		f[r].dbid = db_id(db);
		f[r].jobid = v[0];
		f[r].time = (uint32_t)v[1];
		f[r].failcount = (unsigned)v[2];
		f[r].attempt = (uint32_t)v[3];
		f[r].message_len = rows.len[r * rows.ncols + 2];
		if ((f[r].funcname = take(&rows, r, 1)) == NULL ||
		    (f[r].message = take(&rows, r, 2)) == NULL) {
			admin_failures_free(f, rows.nrows);
			db_rows_free(&rows);
			return errf(err, errlen, "out of memory");
		}
	}
	*out = f;
	*n = rows.nrows;
	db_rows_free(&rows);
	return 0;
}

void
admin_failures_free(struct admin_failure *f, size_t n)
{
	size_t i;

	for (i = 0; f && i < n; i++) {
		free(f[i].funcname);
		free(f[i].message);
	}
	free(f);
}

int
admin_list(struct db *db, const char *funcname, const char *state,
    const char *also, uint64_t limit, struct gv_job **jobs, size_t *njobs,
    char *err, size_t errlen)
{
	struct dbval p[4] = { DBV_S(funcname), DBV_S(state), DBV_S(also),
	    DBV_U(limit) };

	return db_select_jobs(db, SQL_ADMIN_LIST, p, 4, jobs, njobs, err,
	    errlen);
}

int
admin_job_state(struct db *db, uint64_t jobid, uint64_t *state, int *found,
    char *err, size_t errlen)
{
	struct dbval p[1] = { DBV_U(jobid) };

	return db_select_u64(db, SQL_ADMIN_JOB_STATE, p, 1, state, found, err,
	    errlen);
}

int
admin_job(struct db *db, uint64_t jobid, struct gv_job **jobs, size_t *njobs,
    uint64_t *state, uint64_t *leased, char *err, size_t errlen)
{
	struct dbval p[1] = { DBV_U(jobid) };
	int hit;

	return db_select_jobs(db, SQL_ADMIN_JOB, p, 1, jobs, njobs, err,
	    errlen) == -1 ||
	    db_select_u64(db, SQL_ADMIN_JOB_STATE, p, 1, state, &hit, err,
	    errlen) == -1 ||
	    db_select_u64(db, SQL_ADMIN_JOB_LEASED, p, 1, leased, &hit, err,
	    errlen) == -1 ? -1 : 0;
}

int
admin_match(struct db *db, const char *funcname, const char *state,
    uint64_t after, uint64_t *ids, size_t limit, size_t *n, char *err,
    size_t errlen)
{
	struct dbval p[4] = { DBV_U(after), DBV_S(funcname), DBV_S(state),
	    DBV_U(limit) };
	struct gv_job *jobs = NULL;
	size_t i;

	*n = 0;
	if (db_select_jobs(db, SQL_ADMIN_MATCH, p, 4, &jobs, n, err,
	    errlen) == -1)
		return -1;
	for (i = 0; i < *n && i < limit; i++)
		ids[i] = jobs[i].jobid;
	db_jobs_free(jobs, *n);
	*n = i;
	return 0;
}

/* The statement of a change: leading parameters, then the ids. */
static int
change(struct db *db, enum sql_id id, const struct dbval *lead, size_t nlead,
    const uint64_t *ids, size_t n, uint64_t *changed, char *err,
    size_t errlen)
{
	struct dbval *p;
	size_t i;
	int rc;

	if ((p = calloc(nlead + n, sizeof(*p))) == NULL)
		return errf(err, errlen, "out of memory");
	for (i = 0; i < nlead; i++)
		p[i] = lead[i];
	for (i = 0; i < n; i++)
		p[nlead + i] = DBV_U(ids[i]);
	rc = db_exec(db, id, (unsigned)n, p, nlead + n, changed, NULL, err,
	    errlen);
	free(p);
	return rc;
}

int
admin_retry(struct db *db, const uint64_t *ids, size_t n, const char *state,
    int reset_failcount, uint64_t *changed, char *err, size_t errlen)
{
	struct dbval lead[2] = { DBV_U(reset_failcount ? 1 : 0),
	    DBV_S(state) };

	return change(db, SQL_ADMIN_RETRY, lead, 2, ids, n, changed, err,
	    errlen);
}

/* Seconds the record of a deleted job of funcname is kept. */
static unsigned
keep_deleted(const char *funcname, void *cfg)
{
	int keep = config_keep_done(cfg, funcname);

	return keep > 0 ? (unsigned)keep : 0;
}

int
admin_delete(struct db *db, struct config *cfg, const uint64_t *ids,
    size_t n, const char *state, uint64_t *changed, char *err,
    size_t errlen)
{
	uint64_t forgotten;
	char ferr[256];
	int tries = 0;

	/* The rows still in the state are locked, recorded as deleted and
	 * deleted in one transaction (outcome_end), so a job is never gone
	 * without its record. A deadlock with a claim rolls the batch back
	 * whole: it is tried again, its rows' states read anew. */
	while (outcome_end(db, "deleted", state, ids, n, keep_deleted, cfg,
	    changed, err, errlen) == -1) {
		if (!db_conflict(db) || ++tries >= DELETE_TRIES)
			return -1;
		time_sleep(DELETE_PAUSE * tries, NULL);
	}
	/* The failures of the rows deleted go with them (those of rows
	 * left, because they changed state, stay). Missed, the QueueRunners'
	 * sweep takes them. */
	if (*changed)
		(void)change(db, SQL_ERRORS_FORGET, NULL, 0, ids, n,
		    &forgotten, ferr, sizeof(ferr));
	return 0;
}

int
admin_schedule(struct db *db, const char *name, uint64_t *now, uint64_t *last,
    int *found, char *err, size_t errlen)
{
	struct dbval p = DBV_S(name);
	int hit;

	return db_select_u64(db, SQL_NOW, NULL, 0, now, &hit, err, errlen) ==
	    -1 || db_select_u64(db, SQL_SCHED_LAST, &p, 1, last, found, err,
	    errlen) == -1 ? -1 : 0;
}
