/*
 * db_stmt: the statements run on a database's connection: each prepared
 * once per shape and kept (the least recently used evicted), its
 * parameters bound, run (again on a new connection only when that is safe,
 * stmt_run says when), and its result read as jobs, as one integer or as
 * rows of text, over the client library's binary protocol. No SQL is built
 * from a value: every value is a bound parameter. The connection, and what
 * a failure does to it, are db.c's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <errmsg.h>

#include "db.h"
#include "db_int.h"
#include "dbfault.h"
#include "jobfield.h"
#include "util.h"

#define DB_STR_BUF 1024          /* VARCHAR(255) of utf8mb4 fits */
#define DB_ARG_BUF 65536         /* bigger args are fetched column by column */

void
db_stmt_cache_clear(struct db *db)
{
	size_t i;

	for (i = 0; i < db->ncache; i++)
		mysql_stmt_close(db->cache[i].stmt);
	db->ncache = 0;
}

static MYSQL_STMT *
stmt_get(struct db *db, enum sql_id id, unsigned n, char *err, size_t errlen)
{
	struct cached_stmt *c, *victim = NULL;
	size_t cap;
	char *text;
	const char *sql;
	MYSQL_STMT *stmt;
	size_t i;

	if (!sql_variable(id))
		n = 1;
	db->tick++;
	for (i = 0; i < db->ncache; i++) {
		c = &db->cache[i];
		if (c->id == id && c->n == n) {
			c->used = db->tick;
			return c->stmt;
		}
	}
	cap = sql_text_size(id, n);
	if ((text = malloc(cap)) == NULL ||
	    (sql = sql_text(id, n, text, cap)) == NULL ||
	    (stmt = mysql_stmt_init(db->conn)) == NULL) {
		free(text);
		errf(err, errlen, "database %u: out of memory", db->dbid);
		return NULL;
	}
	if (mysql_stmt_prepare(stmt, sql, strlen(sql)) != 0) {
		errf(err, errlen, "database %u: preparing %s: %s", db->dbid,
		    sql_name(id), mysql_stmt_error(stmt));
		db_failed(db, mysql_stmt_errno(stmt));
		mysql_stmt_close(stmt);
		free(text);
		return NULL;
	}
	free(text);
	if (db->ncache < DB_STMT_CACHE) {
		victim = &db->cache[db->ncache++];
	} else {
		victim = &db->cache[0];
		for (i = 1; i < db->ncache; i++)
			if (db->cache[i].used < victim->used)
				victim = &db->cache[i];
		mysql_stmt_close(victim->stmt);
	}
	victim->id = id;
	victim->n = n;
	victim->stmt = stmt;
	victim->used = db->tick;
	return stmt;
}

static int
bind_params(MYSQL_BIND *b, const struct dbval *p, size_t n)
{
	size_t i;

	memset(b, 0, n * sizeof(*b));
	for (i = 0; i < n; i++) {
		switch (p[i].type) {
		case DBV_NULL:
			b[i].buffer_type = MYSQL_TYPE_NULL;
			break;
		case DBV_U64:
			b[i].buffer_type = MYSQL_TYPE_LONGLONG;
			b[i].buffer = (void *)(uintptr_t)&p[i].u;
			b[i].is_unsigned = 1;
			break;
		case DBV_I64:
			b[i].buffer_type = MYSQL_TYPE_LONGLONG;
			b[i].buffer = (void *)(uintptr_t)&p[i].i;
			break;
		case DBV_STR:
		case DBV_BLOB:
			b[i].buffer_type = p[i].type == DBV_STR ?
			    MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
			/* The API takes a non-const pointer but only reads
			 * input buffers. */
			b[i].buffer = (void *)(uintptr_t)(p[i].p ? p[i].p : "");
			b[i].buffer_length = (unsigned long)p[i].len;
			break;
		default:
			return -1;
		}
	}
	return 0;
}

/*
 * Prepare (or reuse) and execute. A statement that failed because the
 * connection was gone before it was sent is retried once on a new connection
 * when it is safe: outside a transaction, and not an INSERT (an INSERT that
 * the server received but could not answer would be stored twice).
 */
static MYSQL_STMT *
stmt_run(struct db *db, enum sql_id id, unsigned n, const struct dbval *params,
    size_t nparams, char *err, size_t errlen)
{
	MYSQL_BIND stackbind[16], *bind = stackbind;
	MYSQL_STMT *stmt = NULL;
	int tries;
	unsigned e;

	if (nparams > 16 && (bind = calloc(nparams, sizeof(*bind))) == NULL) {
		errf(err, errlen, "out of memory");
		return NULL;
	}
	if (bind_params(bind, params, nparams) == -1) {
		errf(err, errlen, "bad parameter type");
		goto out;
	}
	db->maybe_applied = 0;
	for (tries = 0; tries < 2; tries++) {
		if (db->txn_lost) {
			db_txn_lost_error(db, err, errlen);
			break;
		}
		if (db_connect(db, err, errlen) == -1)
			break;
		if ((stmt = stmt_get(db, id, n, err, errlen)) == NULL)
			break;
		if (mysql_stmt_param_count(stmt) != nparams) {
			errf(err, errlen, "%s takes %lu parameters, not %zu",
			    sql_name(id), mysql_stmt_param_count(stmt), nparams);
			stmt = NULL;
			break;
		}
		e = 0;
		if (mysql_stmt_bind_param(stmt, bind) == 0 &&
		    (e = DBFAULT(dbfault_kind_of(id), 0)) == 0 &&
		    mysql_stmt_execute(stmt) == 0 &&
		    (e = DBFAULT(dbfault_kind_of(id), 1)) == 0)
			break;
		if (e == 0)
			e = mysql_stmt_errno(stmt);
		errf(err, errlen, "database %u: %s: %s", db->dbid, sql_name(id),
		    DBFAULT_TEXT(mysql_stmt_error(stmt)));
		stmt = NULL;
		if (e == CR_SERVER_GONE_ERROR && !db->in_txn && id != SQL_INSERT) {
			db_disconnect(db);
			continue;
		}
		/* Gone before the statement was sent: not done. Lost after:
		 * the server may have done it, and only a read can tell. */
		db->maybe_applied = db_conn_lost(e) &&
		    e != CR_SERVER_GONE_ERROR;
		db_failed(db, e);
		break;
	}
out:
	if (bind != stackbind)
		free(bind);
	return stmt;
}

int
db_exec(struct db *db, enum sql_id id, unsigned nrows,
    const struct dbval *params, size_t nparams, uint64_t *affected,
    uint64_t *insert_id, char *err, size_t errlen)
{
	MYSQL_STMT *stmt;

	if ((stmt = stmt_run(db, id, nrows, params, nparams, err, errlen)) ==
	    NULL)
		return -1;
	if (affected)
		*affected = (uint64_t)mysql_stmt_affected_rows(stmt);
	if (insert_id)
		*insert_id = (uint64_t)mysql_stmt_insert_id(stmt);
	db_ok(db);
	return 0;
}

/* The job columns of SQL_JOB_COLUMNS, in order. */
enum { C_JOBID, C_FUNCNAME, C_ARG, C_UNIQKEY, C_RUN_AFTER, C_COALESCE, C_FLAG,
	C_FAILCOUNT, C_ATTEMPT, C_PRIORITY, C_NCOLS };

struct job_row {
	MYSQL_BIND bind[C_NCOLS];
	unsigned long length[C_NCOLS];
	db_bool is_null[C_NCOLS];
	db_bool error[C_NCOLS];
	unsigned long long num[C_NCOLS];
	char str[C_NCOLS][DB_STR_BUF];
	char *arg;
};

static void
job_row_bind(struct job_row *r)
{
	int c;

	memset(r->bind, 0, sizeof(r->bind));
	for (c = 0; c < C_NCOLS; c++) {
		MYSQL_BIND *b = &r->bind[c];

		b->length = &r->length[c];
		b->is_null = &r->is_null[c];
		b->error = &r->error[c];
		switch (c) {
		case C_JOBID: case C_RUN_AFTER: case C_FAILCOUNT: case C_ATTEMPT:
			b->buffer_type = MYSQL_TYPE_LONGLONG;
			b->buffer = &r->num[c];
			b->is_unsigned = 1;
			break;
		case C_PRIORITY:
			b->buffer_type = MYSQL_TYPE_LONGLONG;
			b->buffer = &r->num[c];
			break;
		case C_ARG:
			b->buffer_type = MYSQL_TYPE_BLOB;
			b->buffer = r->arg;
			b->buffer_length = DB_ARG_BUF;
			break;
		default:
			b->buffer_type = MYSQL_TYPE_STRING;
			b->buffer = r->str[c];
			b->buffer_length = DB_STR_BUF;
			break;
		}
	}
}

/* A copy of column c of the current row, whole even when it did not fit the
 * bound buffer. NULL column: *out = NULL. */
static int
column_copy(MYSQL_STMT *stmt, struct job_row *r, int c, char **out,
    size_t *len)
{
	MYSQL_BIND b;
	char *p;

	*out = NULL;
	if (len)
		*len = 0;
	if (r->is_null[c])
		return 0;
	if ((p = malloc(r->length[c] + 1)) == NULL)
		return -1;
	if (r->length[c] <= r->bind[c].buffer_length) {
		memcpy(p, r->bind[c].buffer, r->length[c]);
	} else {
		memset(&b, 0, sizeof(b));
		b.buffer_type = r->bind[c].buffer_type;
		b.buffer = p;
		b.buffer_length = r->length[c];
		if (mysql_stmt_fetch_column(stmt, &b, (unsigned)c, 0) != 0) {
			free(p);
			return -1;
		}
	}
	p[r->length[c]] = '\0';
	*out = p;
	if (len)
		*len = r->length[c];
	return 0;
}

static int
job_from_row(MYSQL_STMT *stmt, struct job_row *r, unsigned dbid,
    struct gv_job *job)
{
	char *flag = NULL;

	memset(job, 0, sizeof(*job));
	job->jobid = r->num[C_JOBID];
	job->dbid = dbid;
	job->run_after = (uint32_t)r->num[C_RUN_AFTER];
	job->failcount = (unsigned)r->num[C_FAILCOUNT];
	job->attempt = (uint32_t)r->num[C_ATTEMPT];
	job->priority = (int)(long long)r->num[C_PRIORITY];
	job->fenced = 1;
	if (column_copy(stmt, r, C_FUNCNAME, &job->funcname, NULL) == -1 ||
	    column_copy(stmt, r, C_ARG, (char **)&job->arg, &job->arg_len) ==
	    -1 ||
	    column_copy(stmt, r, C_UNIQKEY, &job->uniqkey, NULL) == -1 ||
	    column_copy(stmt, r, C_COALESCE, &job->coalesce, NULL) == -1 ||
	    column_copy(stmt, r, C_FLAG, &flag, NULL) == -1) {
		gv_job_clear(job);
		return -1;
	}
	if (job->funcname == NULL)
		job->funcname = strdup("");
	if (job->arg == NULL)
		job->arg = (unsigned char *)strdup("");
	/* NULL (the original client inserted flag undef) or an unexpected
	 * value: the column's default, shim. */
	if (flag == NULL ||
	    jobfield_flag_parse(flag, strlen(flag), &job->flag) == -1)
		job->flag = GV_FLAG_SHIM;
	free(flag);
	if (job->funcname == NULL || job->arg == NULL) {
		gv_job_clear(job);
		return -1;
	}
	return 0;
}

/* mysql_stmt_fetch of row number nrow (from 0), with the error number of a
 * failure in *e. A row read from a connection that died reports its error
 * on the connection, not on the statement (seen with a KILL in the middle
 * of a claim). A fault is one call per result: it loses the connection
 * after the first row. */
static int
fetch_row(struct db *db, MYSQL_STMT *stmt, size_t nrow, unsigned *e)
{
	int rc;

	if (nrow == 1 && (*e = DBFAULT(DBFAULT_FETCH, 0)) != 0) {
		*e = CR_SERVER_LOST;
		return 1;
	}
	if ((rc = mysql_stmt_fetch(stmt)) == 1 &&
	    (*e = mysql_stmt_errno(stmt)) == 0 &&
	    (*e = mysql_errno(db->conn)) == 0)
		*e = CR_SERVER_LOST;
	return rc;
}

/*
 * A fetch that failed: the result is freed before the failure is recorded,
 * because recording a lost connection closes the connection and every
 * statement prepared on it (using stmt after that was a use after free when
 * a connection died in the middle of a claim).
 */
static int
fetch_failed(struct db *db, MYSQL_STMT *stmt, enum sql_id id, unsigned e,
    char *err, size_t errlen)
{
	const char *why = mysql_stmt_errno(stmt) ? mysql_stmt_error(stmt) :
	    mysql_errno(db->conn) ? mysql_error(db->conn) :
	    "the connection was lost while reading a row";

	errf(err, errlen, "database %u: %s: %s", db->dbid, sql_name(id),
	    DBFAULT_TEXT(why));
	mysql_stmt_free_result(stmt);
	db_failed(db, e);
	return -1;
}

/* The rows of a variable statement (its shape follows from its
 * parameters); 1 for another. */
static unsigned
stmt_rows(enum sql_id id, size_t nparams)
{
	if (sql_variable(id) && sql_params_per_row(id))
		return (unsigned)((nparams - sql_params_fixed(id)) /
		    sql_params_per_row(id));
	return 1;
}

int
db_select_jobs(struct db *db, enum sql_id id, const struct dbval *params,
    size_t nparams, struct gv_job **jobs, size_t *njobs, char *err,
    size_t errlen)
{
	struct job_row *r;
	MYSQL_STMT *stmt;
	struct gv_job *grown;
	size_t cap = *njobs, first = *njobs;
	unsigned e, n = stmt_rows(id, nparams);
	int rc, ret = -1;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->arg = malloc(DB_ARG_BUF)) == NULL) {
		free(r);
		return errf(err, errlen, "out of memory");
	}
	job_row_bind(r);
	if ((stmt = stmt_run(db, id, n, params, nparams, err, errlen)) == NULL)
		goto out;
	if (mysql_stmt_bind_result(stmt, r->bind) != 0) {
		errf(err, errlen, "database %u: %s: %s", db->dbid, sql_name(id),
		    mysql_stmt_error(stmt));
		goto drain;
	}
	for (;;) {
		rc = fetch_row(db, stmt, *njobs - first, &e);
		if (rc == MYSQL_NO_DATA)
			break;
		if (rc == 1) {
			fetch_failed(db, stmt, id, e, err, errlen);
			goto out;
		}
		if (*njobs == cap) {
			cap = cap ? cap * 2 : 64;
			if ((grown = realloc(*jobs, cap * sizeof(**jobs))) ==
			    NULL) {
				errf(err, errlen, "out of memory");
				goto drain;
			}
			*jobs = grown;
		}
		if (job_from_row(stmt, r, db->dbid, &(*jobs)[*njobs]) == -1) {
			errf(err, errlen, "database %u: reading a job failed",
			    db->dbid);
			goto drain;
		}
		(*njobs)++;
	}
	db_ok(db);
	ret = 0;
drain:
	mysql_stmt_free_result(stmt);
out:
	free(r->arg);
	free(r);
	return ret;
}

/* Every column bound as text: the client library converts numbers. */
struct text_row {
	MYSQL_BIND bind[DB_ROW_COLS];
	char buf[DB_ROW_COLS][DB_STR_BUF];
	unsigned long length[DB_ROW_COLS];
	db_bool is_null[DB_ROW_COLS];
};

/* Append the current row to rows: each cell copied whole, fetched again
 * by column when it did not fit its buffer. */
static int
rows_append(MYSQL_STMT *stmt, struct text_row *t, struct dbrows *rows,
    size_t *cap)
{
	unsigned c, nc = rows->ncols;
	size_t at = rows->nrows * nc, newcap;
	MYSQL_BIND b;
	void *grown;
	char *p;

	if (rows->nrows == *cap) {
		newcap = *cap ? *cap * 2 : 16;
		if ((grown = realloc(rows->cell, newcap * nc *
		    sizeof(*rows->cell))) == NULL)
			return -1;
		rows->cell = grown;
		if ((grown = realloc(rows->len, newcap * nc *
		    sizeof(*rows->len))) == NULL)
			return -1;
		rows->len = grown;
		*cap = newcap;
	}
	for (c = 0; c < nc; c++) {
		rows->cell[at + c] = NULL;
		rows->len[at + c] = 0;
	}
	rows->nrows++;      /* so that a failure below frees what was copied */
	for (c = 0; c < nc; c++) {
		if (t->is_null[c])
			continue;
		if ((p = malloc(t->length[c] + 1)) == NULL)
			return -1;
		rows->cell[at + c] = p;
		if (t->length[c] <= DB_STR_BUF) {
			memcpy(p, t->buf[c], t->length[c]);
		} else {
			memset(&b, 0, sizeof(b));
			b.buffer_type = MYSQL_TYPE_STRING;
			b.buffer = p;
			b.buffer_length = t->length[c] + 1;
			if (mysql_stmt_fetch_column(stmt, &b, c, 0) != 0)
				return -1;
		}
		p[t->length[c]] = '\0';
		rows->len[at + c] = t->length[c];
	}
	return 0;
}

int
db_select_rows(struct db *db, enum sql_id id, const struct dbval *params,
    size_t nparams, unsigned ncols, struct dbrows *rows, char *err,
    size_t errlen)
{
	struct text_row *t;
	MYSQL_STMT *stmt;
	size_t cap = 0;
	unsigned c, e;
	int rc, ret = -1;

	memset(rows, 0, sizeof(*rows));
	rows->ncols = ncols;
	if (ncols == 0 || ncols > DB_ROW_COLS)
		return errf(err, errlen, "%s: %u columns", sql_name(id), ncols);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return errf(err, errlen, "out of memory");
	for (c = 0; c < ncols; c++) {
		t->bind[c].buffer_type = MYSQL_TYPE_STRING;
		t->bind[c].buffer = t->buf[c];
		t->bind[c].buffer_length = DB_STR_BUF;
		t->bind[c].length = &t->length[c];
		t->bind[c].is_null = &t->is_null[c];
	}
	if ((stmt = stmt_run(db, id, stmt_rows(id, nparams), params, nparams,
	    err, errlen)) == NULL)
		goto out;
	if (mysql_stmt_field_count(stmt) != ncols ||
	    mysql_stmt_bind_result(stmt, t->bind) != 0) {
		errf(err, errlen, "database %u: %s: %s", db->dbid, sql_name(id),
		    mysql_stmt_field_count(stmt) != ncols ? "unexpected "
		    "columns" : mysql_stmt_error(stmt));
		goto drain;
	}
	for (;;) {
		rc = fetch_row(db, stmt, rows->nrows, &e);
		if (rc == MYSQL_NO_DATA)
			break;
		if (rc == 1) {
			fetch_failed(db, stmt, id, e, err, errlen);
			goto out;
		}
		/* A row, or one truncated (MYSQL_DATA_TRUNCATED): a cell
		 * longer than its buffer is fetched whole by rows_append. */
		if (rows_append(stmt, t, rows, &cap) == -1) {
			errf(err, errlen, "database %u: %s: reading a row "
			    "failed", db->dbid, sql_name(id));
			goto drain;
		}
	}
	db_ok(db);
	ret = 0;
drain:
	mysql_stmt_free_result(stmt);
out:
	free(t);
	if (ret == -1)
		db_rows_free(rows);
	return ret;
}

void
db_rows_free(struct dbrows *rows)
{
	size_t i;

	for (i = 0; rows->cell && i < rows->nrows * rows->ncols; i++)
		free(rows->cell[i]);
	free(rows->cell);
	free(rows->len);
	memset(rows, 0, sizeof(*rows));
}

int
db_select_u64(struct db *db, enum sql_id id, const struct dbval *params,
    size_t nparams, uint64_t *value, int *found, char *err, size_t errlen)
{
	MYSQL_STMT *stmt;
	MYSQL_BIND b;
	unsigned long long v = 0;
	db_bool is_null = 0;
	unsigned e = 0;
	size_t nrow;
	int rc, ret = -1;

	*found = 0;
	if ((stmt = stmt_run(db, id, 1, params, nparams, err, errlen)) == NULL)
		return -1;
	memset(&b, 0, sizeof(b));
	b.buffer_type = MYSQL_TYPE_LONGLONG;
	b.buffer = &v;
	b.is_unsigned = 1;
	b.is_null = &is_null;
	if (mysql_stmt_bind_result(stmt, &b) != 0) {
		errf(err, errlen, "database %u: %s: %s", db->dbid, sql_name(id),
		    mysql_stmt_error(stmt));
		goto out;
	}
	for (nrow = 0; (rc = fetch_row(db, stmt, nrow, &e)) == 0; nrow++) {
		if (!*found && !is_null) {
			*value = v;
			*found = 1;
		}
	}
	if (rc == 1)
		return fetch_failed(db, stmt, id, e, err, errlen);
	db_ok(db);
	ret = 0;
out:
	mysql_stmt_free_result(stmt);
	return ret;
}

void
db_jobs_free(struct gv_job *jobs, size_t njobs)
{
	size_t i;

	for (i = 0; i < njobs; i++)
		gv_job_clear(&jobs[i]);
	free(jobs);
}
