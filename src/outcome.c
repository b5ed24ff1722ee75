/*
 * outcome: job states and the records of jobs that ended (outcome.h).
 *
 * Why a state never goes backwards for a reader: a row is deleted and its
 * record written in one transaction (outcome_write_done runs inside the
 * completion's, outcome_end holds its own), so a reader that finds no row
 * finds the record, and one that finds the row has not seen the record;
 * the row is read first. A record is read only until its keep_until,
 * whether or not it was pruned yet, so its end does not hang on the
 * pruning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outcome.h"
#include "util.h"

#define STATUS_COLS 11            /* SQL_JOB_STATUS, SQL_OUTCOME_STATUS */
#define ERROR_COLS 6              /* SQL_JOB_ERRORS */
#define END_BATCH 200             /* ids per outcome_end statement */

/* The names are jobfield.c's (gv_state_name), where the job_status
 * answer finds them without a database client. */
enum gv_state
outcome_state_of(const char *name)
{
	enum gv_state s;

	for (s = GV_STATE_UNKNOWN; s <= GV_STATE_DELETED; s++)
		if (name && strcmp(name, gv_state_name(s)) == 0)
			return s;
	return GV_STATE_UNKNOWN;
}

void
gv_job_status_clear(struct gv_job_status *st)
{
	if (st == NULL)
		return;
	free(st->result);
	free(st->error);
	memset(st, 0, sizeof(*st));
}

int
outcome_write_done(struct db *db, const struct outcome_done *recs, size_t n,
    char *err, size_t errlen)
{
	struct dbval *p;
	uint64_t affected;
	size_t i, k = 0;
	int rc;

	if (n == 0)
		return 0;
	if ((p = calloc(n * 8, sizeof(*p))) == NULL)
		return errf(err, errlen, "out of memory");
	for (i = 0; i < n; i++) {
		const struct outcome_done *r = &recs[i];
		size_t len = r->result_len;
		int cut = len > GV_RESULT_MAX;

		if (cut)
			len = GV_RESULT_MAX;
		p[k++] = DBV_U(r->jobid);
		p[k++] = DBV_S(r->funcname);
		p[k++] = DBV_S(r->uniqkey);
		p[k++] = DBV_U(r->attempt);
		p[k++] = DBV_U(r->failcount);
		p[k++] = DBV_U(r->keep);
		p[k++] = r->result ? DBV_B(r->result, len) :
		    (struct dbval){ .type = DBV_NULL };
		p[k++] = DBV_U(cut);
	}
	rc = db_exec(db, SQL_OUTCOME_DONE, (unsigned)n, p, k, &affected, NULL,
	    err, errlen);
	free(p);
	if (rc == -1 && db_no_table(db))
		return 1;
	return rc;
}

/* Record and delete one batch of rows, inside outcome_end's transaction. */
static int
end_batch(struct db *db, const char *outcome, const char *state,
    const uint64_t *ids, size_t n, outcome_keep_fn *keep, void *keep_arg,
    int *no_table, uint64_t *ended, char *err, size_t errlen)
{
	struct dbval *p;
	struct dbrows rows = { 0 };
	uint64_t affected;
	size_t i, j, m;
	int rc = -1;

	if ((p = calloc(n + 2, sizeof(*p))) == NULL)
		return errf(err, errlen, "out of memory");
	p[0] = DBV_S(state);
	for (i = 0; i < n; i++)
		p[1 + i] = DBV_U(ids[i]);
	if (db_select_rows(db, SQL_ENDING_LOCK, p, n + 1, 2, &rows, err,
	    errlen) == -1)
		goto out;
	/* Recorded by keep_done, one statement per distinct value (most
	 * often one for all), then deleted: the locked rows are those. */
	for (i = 0; i < rows.nrows && !*no_table; i++) {
		unsigned k = keep(rows.cell[i * 2 + 1], keep_arg);

		for (j = 0; j < i; j++)
			if (keep(rows.cell[j * 2 + 1], keep_arg) == k)
				break;
		if (j < i || k == 0)
			continue;
		p[0] = DBV_S(outcome);
		p[1] = DBV_U(k);
		for (j = i, m = 0; j < rows.nrows; j++)
			if (keep(rows.cell[j * 2 + 1], keep_arg) == k)
				p[2 + m++] = DBV_U(strtoull(rows.cell[j * 2],
				    NULL, 10));
		if (db_exec(db, SQL_OUTCOME_END, (unsigned)m, p, m + 2,
		    &affected, NULL, err, errlen) == -1) {
			if (!db_no_table(db))
				goto out;
			*no_table = 1;
		}
	}
	for (i = 0; i < rows.nrows; i++)
		p[i] = DBV_U(strtoull(rows.cell[i * 2], NULL, 10));
	if (rows.nrows && db_exec(db, SQL_COMPLETE_MANY_ANY,
	    (unsigned)rows.nrows, p, rows.nrows, &affected, NULL, err,
	    errlen) == -1)
		goto out;
	*ended += rows.nrows ? affected : 0;
	rc = 0;
out:
	db_rows_free(&rows);
	free(p);
	return rc;
}

int
outcome_end(struct db *db, const char *outcome, const char *state,
    const uint64_t *ids, size_t n, outcome_keep_fn *keep, void *keep_arg,
    uint64_t *ended, char *err, size_t errlen)
{
	size_t i, chunk;
	int no_table = 0;

	*ended = 0;
	if (n == 0)
		return 0;
	if (db_begin(db, err, errlen) == -1)
		return -1;
	for (i = 0; i < n; i += chunk) {
		chunk = n - i < END_BATCH ? n - i : END_BATCH;
		if (end_batch(db, outcome, state, ids + i, chunk, keep,
		    keep_arg, &no_table, ended, err, errlen) == -1) {
			db_rollback(db);
			*ended = 0;
			return -1;
		}
	}
	if (db_commit(db, err, errlen) == -1) {
		*ended = 0;
		return -1;
	}
	return 0;
}

static int64_t
cell_i64(const struct dbrows *rows, unsigned c)
{
	const char *s = rows->cell[c];

	return s ? strtoll(s, NULL, 10) : 0;
}

/* A status row (STATUS_COLS columns) into st. */
static int
status_from(const struct dbrows *rows, unsigned dbid,
    struct gv_job_status *st, char *err, size_t errlen)
{
	const char *key = rows->cell[2];

	st->state = outcome_state_of(rows->cell[3]);
	st->jobid = (uint64_t)strtoull(rows->cell[0], NULL, 10);
	st->dbid = dbid;
	snprintf(st->funcname, sizeof(st->funcname), "%s",
	    rows->cell[1] ? rows->cell[1] : "");
	st->has_uniqkey = key != NULL;
	snprintf(st->uniqkey, sizeof(st->uniqkey), "%s", key ? key : "");
	st->failcount = (unsigned)cell_i64(rows, 4);
	st->attempt = (uint32_t)cell_i64(rows, 5);
	st->run_after = cell_i64(rows, 6);
	st->ended = cell_i64(rows, 7);
	st->kept_until = cell_i64(rows, 8);
	if (rows->cell[9]) {
		size_t len = rows->len[9];

		if ((st->result = malloc(len + 1)) == NULL)
			return errf(err, errlen, "out of memory");
		memcpy(st->result, rows->cell[9], len);
		st->result[len] = '\0';
		st->result_len = len;
	}
	st->result_cut = cell_i64(rows, 10) != 0;
	return 0;
}

/* One status statement: *found 1 and st filled when it had a row. A
 * database without job_outcome has no records. */
static int
status_read(struct db *db, enum sql_id id, const struct dbval *p, size_t np,
    struct gv_job_status *st, int *found, char *err, size_t errlen)
{
	struct dbrows rows = { 0 };
	int rc = 0;

	*found = 0;
	if (db_select_rows(db, id, p, np, STATUS_COLS, &rows, err,
	    errlen) == -1)
		return id != SQL_JOB_STATUS && db_no_table(db) ? 0 : -1;
	if (rows.nrows > 0) {
		*found = 1;
		rc = status_from(&rows, db_id(db), st, err, errlen);
	}
	db_rows_free(&rows);
	return rc;
}

/* The newest reason of a living job that failed (job_error), if it is
 * kept: a database without the table has none. */
static int
newest_error(struct db *db, struct gv_job_status *st, char *err,
    size_t errlen)
{
	struct dbval p[2] = { DBV_U(st->jobid), DBV_U(1) };
	struct dbrows rows = { 0 };
	int rc = 0;

	if (db_select_rows(db, SQL_JOB_ERRORS, p, 2, ERROR_COLS, &rows, err,
	    errlen) == -1)
		return db_no_table(db) ? 0 : -1;
	if (rows.nrows > 0 && rows.cell[2]) {
		if ((st->error = strdup(rows.cell[2])) == NULL)
			rc = errf(err, errlen, "out of memory");
		st->error_time = cell_i64(&rows, 3);
	}
	db_rows_free(&rows);
	return rc;
}

int
outcome_status(struct db *db, uint64_t jobid, struct gv_job_status *st,
    char *err, size_t errlen)
{
	struct dbval p = DBV_U(jobid);
	int found;

	gv_job_status_clear(st);
	if (status_read(db, SQL_JOB_STATUS, &p, 1, st, &found, err,
	    errlen) == -1)
		return -1;
	if (found && st->failcount > 0 && newest_error(db, st, err,
	    errlen) == -1)
		return -1;
	if (!found && status_read(db, SQL_OUTCOME_STATUS, &p, 1, st, &found,
	    err, errlen) == -1)
		return -1;
	if (!found) {
		gv_job_status_clear(st);
		st->dbid = db_id(db);
	}
	return 0;
}

int
outcome_status_key(struct db *db, const char *funcname, const char *uniqkey,
    struct gv_job_status *st, int *found, char *err, size_t errlen)
{
	struct dbval p[2] = { DBV_S(funcname), DBV_S(uniqkey) };

	gv_job_status_clear(st);
	return status_read(db, SQL_OUTCOME_BY_KEY, p, 2, st, found, err,
	    errlen);
}

int
outcome_done_since(struct db *db, const char *funcname, const char *uniqkey,
    unsigned seconds, uint64_t *jobid, int *found, char *err,
    size_t errlen)
{
	struct dbval p[3] = { DBV_S(funcname), DBV_S(uniqkey),
	    DBV_U(seconds) };

	*found = 0;
	if (db_select_u64(db, SQL_OUTCOME_DONE_SINCE, p, 3, jobid, found, err,
	    errlen) == -1)
		return db_no_table(db) ? 0 : -1;
	return 0;
}

int
outcome_prune(struct db *db, unsigned limit, uint64_t *pruned, char *err,
    size_t errlen)
{
	struct dbval p = DBV_U(limit);

	*pruned = 0;
	if (db_exec(db, SQL_OUTCOME_PRUNE, 1, &p, 1, pruned, NULL, err,
	    errlen) == -1)
		return db_no_table(db) ? 0 : -1;
	return 0;
}
