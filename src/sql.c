/*
 * sql: every statement Garivini sends, in one table.
 *
 * Time is always the database's UNIX_TIMESTAMP(), never the client's clock:
 * each database is the one clock of the rows it holds, so hosts with skewed
 * clocks still agree on what is due and how long a lease lasts.
 *
 * Fencing: every claim bumps `attempt`; the fenced statements (the ones
 * without _ANY) match jobid AND attempt, so a completion or reschedule from an
 * attempt whose lease expired and was claimed again changes nothing. The
 * _ANY forms are the original client's unfenced statements, for documents
 * that carry no attempt.
 */
#include <stdio.h>
#include <string.h>

#include "sql.h"

#define JOB_INSERT_HEAD "INSERT IGNORE INTO job (funcname, arg, uniqkey, " \
	"`coalesce`, run_after, flag, leased) VALUES "
#define JOB_INSERT_ROW "(?, ?, ?, ?, UNIX_TIMESTAMP() + ?, ?, ?)"

/* failcount 1 waits 2 minutes, 2 waits 4, 3 waits 8 ... at most a day. The
 * run_after assignment comes first so it reads the old failcount whether or
 * not the server evaluates SET assignments left to right. The parameter is
 * the failure count that parks the job (a count failcount cannot reach means
 * never). */
#define FAIL_SET "UPDATE job SET run_after = IF(failcount + 1 >= ?, " \
	"2147483647, UNIX_TIMESTAMP() + LEAST(60 << LEAST(failcount + 1, 11), " \
	"86400)), failcount = LEAST(failcount + 1, 255), leased = 0 " \
	"WHERE jobid = ?"

static const struct sql_stmt {
	const char *name;
	const char *text;        /* fixed text, or the head of a variable one */
	const char *repeat;      /* variable: repeated n times, comma separated */
	const char *tail;        /* variable: after the repeats */
	unsigned fixed_params;   /* leading parameters */
	unsigned params_per_row; /* per repeat */
} stmts[SQL_COUNT] = {
	[SQL_INSERT] = { "insert", JOB_INSERT_HEAD, JOB_INSERT_ROW, "", 0, 7 },
	/* SKIP LOCKED: parallel QueueRunners each take different rows instead
	 * of queueing behind each other's row locks. */
	[SQL_SELECT_DUE] = { "select_due",
	    "SELECT " SQL_JOB_COLUMNS " FROM job WHERE run_after <= "
	    "UNIX_TIMESTAMP() ORDER BY run_after LIMIT ? FOR UPDATE SKIP LOCKED",
	    NULL, NULL, 1, 0 },
	[SQL_LEASE] = { "lease",
	    "UPDATE job SET run_after = UNIX_TIMESTAMP() + ?, attempt = "
	    "IF(attempt >= 4294967295, 1, attempt + 1), leased = 1 "
	    "WHERE jobid IN (",
	    "?", ")", 1, 1 },
	[SQL_PUSH_BACK] = { "push_back",
	    "UPDATE job SET run_after = UNIX_TIMESTAMP() + ?, leased = 0 "
	    "WHERE jobid IN (",
	    "?", ")", 1, 1 },
	[SQL_COMPLETE] = { "complete",
	    "DELETE FROM job WHERE jobid = ? AND attempt = ?", NULL, NULL, 2, 0 },
	[SQL_COMPLETE_ANY] = { "complete_any",
	    "DELETE FROM job WHERE jobid = ?", NULL, NULL, 1, 0 },
	[SQL_RESCHEDULE_AT] = { "reschedule_at",
	    "UPDATE job SET run_after = ?, leased = 0 WHERE jobid = ? AND "
	    "attempt = ?",
	    NULL, NULL, 3, 0 },
	[SQL_RESCHEDULE_IN] = { "reschedule_in",
	    "UPDATE job SET run_after = UNIX_TIMESTAMP() + ?, leased = 0 WHERE "
	    "jobid = ? AND attempt = ?", NULL, NULL, 3, 0 },
	[SQL_RESCHEDULE_AT_ANY] = { "reschedule_at_any",
	    "UPDATE job SET run_after = ?, leased = 0 WHERE jobid = ?", NULL,
	    NULL, 2, 0 },
	[SQL_RESCHEDULE_IN_ANY] = { "reschedule_in_any",
	    "UPDATE job SET run_after = UNIX_TIMESTAMP() + ?, leased = 0 WHERE "
	    "jobid = ?",
	    NULL, NULL, 2, 0 },
	[SQL_FAIL] = { "fail", FAIL_SET " AND attempt = ?", NULL, NULL, 3, 0 },
	[SQL_FAIL_ANY] = { "fail_any", FAIL_SET, NULL, NULL, 2, 0 },
	[SQL_EXTEND] = { "extend",
	    "UPDATE job SET run_after = UNIX_TIMESTAMP() + ?, leased = 1 WHERE "
	    "jobid = ? AND attempt = ?", NULL, NULL, 3, 0 },
	[SQL_EXTEND_ANY] = { "extend_any",
	    "UPDATE job SET run_after = UNIX_TIMESTAMP() + ?, leased = 1 WHERE "
	    "jobid = ?",
	    NULL, NULL, 2, 0 },
	[SQL_FIND_UNIQUE] = { "find_unique",
	    "SELECT jobid FROM job WHERE funcname = ? AND uniqkey = ?",
	    NULL, NULL, 2, 0 },
	[SQL_NOW] = { "now", "SELECT UNIX_TIMESTAMP()", NULL, NULL, 0, 0 },
};

int
sql_variable(enum sql_id id)
{
	return stmts[id].repeat != NULL;
}

unsigned
sql_params_per_row(enum sql_id id)
{
	return stmts[id].params_per_row;
}

unsigned
sql_params_fixed(enum sql_id id)
{
	return stmts[id].fixed_params;
}

const char *
sql_name(enum sql_id id)
{
	return stmts[id].name;
}

/* Only counts shape the generated text: no value ever enters it. */
const char *
sql_text(enum sql_id id, unsigned n, char *buf, size_t cap)
{
	const struct sql_stmt *s = &stmts[id];
	size_t head, rep, tail, need, off;
	unsigned i;

	if (s->repeat == NULL)
		return s->text;
	if (n == 0)
		return NULL;
	head = strlen(s->text);
	rep = strlen(s->repeat);
	tail = strlen(s->tail);
	need = head + (size_t)n * (rep + 2) + tail + 1;
	if (need > cap)
		return NULL;
	memcpy(buf, s->text, head);
	off = head;
	for (i = 0; i < n; i++) {
		if (i) {
			buf[off++] = ',';
			buf[off++] = ' ';
		}
		memcpy(buf + off, s->repeat, rep);
		off += rep;
	}
	memcpy(buf + off, s->tail, tail + 1);
	return buf;
}
