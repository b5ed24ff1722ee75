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

#include "garivini.h"
#include "sql.h"
#include "util.h"

#define JOB_INSERT_HEAD "INSERT IGNORE INTO job (funcname, arg, uniqkey, " \
	"`coalesce`, run_after, flag, leased, priority) VALUES "
#define JOB_INSERT_ROW "(?, ?, ?, ?, UNIX_TIMESTAMP() + ?, ?, ?, ?)"

/* The n-th failure waits retry_first << (n - 1) seconds, at most retry_max
 * (by default 2, 4, 8 ... minutes, at most a day). The shift reads the old
 * failcount, n - 1, capped at 30: retry_first (at most 86400, under 2^17)
 * << 30 stays far inside the BIGINT UNSIGNED that << works in, and far
 * above any retry_max, so the cap is what holds, never a wrapped value. The
 * run_after assignment comes first so it reads the old failcount whether or
 * not the server evaluates SET assignments left to right. The first
 * parameter is the failure count that parks the job (a count failcount
 * cannot reach means never). */
#define FAIL_SET "UPDATE job SET run_after = IF(failcount + 1 >= ?, " \
	"2147483647, UNIX_TIMESTAMP() + LEAST(CAST(? AS UNSIGNED) << " \
	"LEAST(failcount, 30), CAST(? AS UNSIGNED))), " \
	"failcount = LEAST(failcount + 1, 255), leased = 0 WHERE jobid = ?"

/*
 * The states of a row, for gvctl, each defined here and nowhere else (gvctl(1)
 * documents them). due, scheduled, leased and parked split the rows between
 * them; failing overlaps due, scheduled and leased. UNIX_TIMESTAMP() holds
 * one value for a whole statement, so no row falls between two states.
 */
#define AT_NEVER "2147483647"
#define ST_PARKED "(run_after >= " AT_NEVER ")"
#define ST_DUE "(run_after <= UNIX_TIMESTAMP())"
#define ST_LATER "run_after > UNIX_TIMESTAMP() AND run_after < " AT_NEVER
#define ST_LEASED "(leased <> 0 AND " ST_LATER ")"
#define ST_SCHEDULED "(leased = 0 AND " ST_LATER ")"
#define ST_FAILING "(failcount > 0 AND run_after < " AT_NEVER ")"
/* The state a parameter names; NULL: any. An unknown name matches nothing. */
#define ST_IS "(CASE IFNULL(?, 'any') WHEN 'due' THEN " ST_DUE \
	" WHEN 'scheduled' THEN " ST_SCHEDULED " WHEN 'leased' THEN " \
	ST_LEASED " WHEN 'failing' THEN " ST_FAILING " WHEN 'parked' THEN " \
	ST_PARKED " WHEN 'any' THEN 1 ELSE 0 END)"
/* A function a parameter names; NULL: any. */
#define FUNC_IS "funcname = IFNULL(?, funcname)"
/* SQL_JOB_COLUMNS without the payload, for statements that only need ids. */
#define JOB_COLUMNS_NO_ARG "jobid, funcname, NULL, uniqkey, run_after, " \
	"`coalesce`, flag, failcount, attempt, priority"

/* job_outcome (outcome.c). A record is read as jobid, funcname,
 * uniqkey, state, failcount, attempt, run_after (NULL), ended, keep_until,
 * result, result_cut, as SQL_JOB_STATUS reads a row. */
#define OUTCOME_INSERT "INSERT INTO job_outcome (jobid, funcname, uniqkey, " \
	"outcome, ended, attempt, failcount, keep_until, result, result_cut)"
#define OUTCOME_REPLACE " ON DUPLICATE KEY UPDATE funcname = " \
	"VALUES(funcname), uniqkey = VALUES(uniqkey), outcome = " \
	"VALUES(outcome), ended = VALUES(ended), attempt = VALUES(attempt), " \
	"failcount = VALUES(failcount), keep_until = VALUES(keep_until), " \
	"result = VALUES(result), result_cut = VALUES(result_cut)"
#define OUTCOME_COLUMNS "jobid, funcname, uniqkey, outcome, failcount, " \
	"attempt, NULL, ended, keep_until, result, result_cut"

/* A failure, as admin.c reads it (SQL_JOB_ERRORS, SQL_FUNC_ERRORS). */
#define ERROR_COLUMNS "jobid, funcname, message, error_time, failcount, " \
	"attempt"

static const struct sql_stmt {
	const char *name;
	const char *text;        /* fixed text, or the head of a variable one */
	const char *repeat;      /* variable: repeated n times, comma separated */
	const char *tail;        /* variable: after the repeats */
	unsigned fixed_params;   /* leading parameters */
	unsigned params_per_row; /* per repeat */
	const char *sep;         /* variable: between repeats, if not ", " */
} stmts[SQL_COUNT] = {
	[SQL_INSERT] = { "insert", JOB_INSERT_HEAD, JOB_INSERT_ROW, "", 0, 8 },
	/* The oldest due rows of the whole table, locked, in the claims'
	 * shape (tests read a claim's rows with it). */
	[SQL_SELECT_DUE] = { "select_due",
	    "SELECT " SQL_JOB_COLUMNS_ARG_LENGTH " FROM job WHERE run_after <= "
	    "UNIX_TIMESTAMP() ORDER BY run_after LIMIT ? FOR UPDATE SKIP LOCKED",
	    NULL, NULL, 1, 0 },
	/* The functions with due rows, per priority, each with the run_after
	 * of its oldest due row. With the func_due index (funcname, priority,
	 * run_after) the server reads it as a loose index scan: one index
	 * dive per function and priority in the table, however many rows
	 * each holds. */
	[SQL_DUE_FUNCS] = { "due_funcs",
	    "SELECT 0, funcname, NULL, NULL, MIN(run_after), NULL, NULL, 0, 0, "
	    "priority FROM job WHERE run_after <= UNIX_TIMESTAMP() "
	    "GROUP BY funcname, priority", NULL, NULL, 0, 0 },
	/* 1 when func_due is this version's (priority its second column). */
	[SQL_FUNC_DUE_INDEX] = { "func_due_index",
	    "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE "
	    "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'job' AND "
	    "INDEX_NAME = 'func_due' AND SEQ_IN_INDEX = 2 AND "
	    "COLUMN_NAME = 'priority'", NULL, NULL, 0, 0 },
	/* For each of n (function, priority) pairs, in one statement, its
	 * due rows after a (run_after, jobid) already taken: a second pass
	 * of the same claim must not select the rows its first pass locked
	 * (SKIP LOCKED skips only other claimers' locks). (run_after, jobid)
	 * is the func_due index's order within a function and priority, so
	 * each part is one range read. One statement for many functions: a
	 * round trip and an execution each would cost more than the rows
	 * (measured, bench many_functions). SKIP LOCKED: parallel
	 * QueueRunners each take different rows instead of queueing behind
	 * each other's row locks. The arg column holds the arg's length, as
	 * text: a claim reads no payload before it knows which rows fit its
	 * byte budget (SQL_SELECT_JOBS reads those). */
	[SQL_SELECT_DUE_FUNCS] = { "select_due_funcs", "",
	    "(SELECT " SQL_JOB_COLUMNS_ARG_LENGTH " FROM job WHERE funcname = ? "
	    "AND priority = ? AND run_after <= UNIX_TIMESTAMP() AND "
	    "(run_after > ? OR (run_after = ? AND jobid > ?)) "
	    "ORDER BY run_after, jobid LIMIT ? FOR UPDATE SKIP LOCKED)", "", 0,
	    6, " UNION ALL " },
	/* The rows a claim chose, locked by its SQL_SELECT_DUE_FUNCS: nobody
	 * else can change them before its commit. In the claim's order. */
	[SQL_SELECT_JOBS] = { "select_jobs",
	    "SELECT " SQL_JOB_COLUMNS " FROM job WHERE jobid IN (",
	    "?", ") ORDER BY priority DESC, run_after, jobid", 0, 1 },
	[SQL_LEASE] = { "lease",
	    "UPDATE job SET run_after = UNIX_TIMESTAMP() + ?, attempt = "
	    "IF(attempt >= 4294967295, 1, attempt + 1), leased = 1 "
	    "WHERE jobid IN (",
	    "?", ")", 1, 1 },
	/* Only inside the claim's transaction, on rows its SELECT ... FOR
	 * UPDATE holds locked and has not leased: no other writer can have
	 * touched them since, so the lock is the fence. The attempt the claim
	 * read is matched as well, so the statement cannot undo a newer
	 * attempt even if it is ever used outside such a transaction. No
	 * leased condition: a row whose lease ran out is still leased = 1. */
	[SQL_PUSH_BACK] = { "push_back",
	    "UPDATE job SET run_after = UNIX_TIMESTAMP() + ?, leased = 0 "
	    "WHERE (jobid, attempt) IN (",
	    "(?, ?)", ")", 1, 2 },
	/* Hands back a submission known not to be queued in gearmand. Only
	 * while the row is still out under the attempt that submitted it: a
	 * worker that already completed, rescheduled or failed the job (it
	 * may have run: gearmand can queue a job whose acknowledgement was
	 * lost) set leased = 0 or deleted the row, and its decision stands;
	 * a row claimed again since has a newer attempt. */
	[SQL_RELEASE] = { "release",
	    "UPDATE job SET run_after = UNIX_TIMESTAMP() + ?, leased = 0 "
	    "WHERE leased = 1 AND (jobid, attempt) IN (",
	    "(?, ?)", ")", 1, 2 },
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
	[SQL_FAIL] = { "fail", FAIL_SET " AND attempt = ?", NULL, NULL, 5, 0 },
	[SQL_FAIL_ANY] = { "fail_any", FAIL_SET, NULL, NULL, 4, 0 },
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
	/* An insert that takes the row's exclusive lock whether it creates
	 * the row or finds it: two inserters that both found it cannot hold
	 * shared locks and then deadlock upgrading them, as INSERT IGNORE
	 * followed by SELECT ... FOR UPDATE would. */
	[SQL_SCHED_CLAIM] = { "sched_claim",
	    "INSERT INTO schedule_state (name, last_slot) VALUES (?, ?) "
	    "ON DUPLICATE KEY UPDATE last_slot = last_slot", NULL, NULL, 2, 0 },
	[SQL_SCHED_LOCKED] = { "sched_locked",
	    "SELECT last_slot FROM schedule_state WHERE name = ? "
	    "FOR UPDATE NOWAIT", NULL, NULL, 1, 0 },
	[SQL_SCHED_ADVANCE] = { "sched_advance",
	    "UPDATE schedule_state SET last_slot = ? WHERE name = ?", NULL,
	    NULL, 2, 0 },
	[SQL_SCHED_LAST] = { "sched_last",
	    "SELECT last_slot FROM schedule_state WHERE name = ?", NULL, NULL,
	    1, 0 },
	/* Read by db_select_rows (admin.c). The lag is computed signed:
	 * run_after is unsigned, and MariaDB would compute an unsigned
	 * difference. */
	[SQL_ADMIN_STATS] = { "admin_stats",
	    "SELECT funcname, SUM" ST_DUE ", SUM" ST_SCHEDULED ", SUM"
	    ST_LEASED ", SUM" ST_FAILING ", SUM" ST_PARKED ", "
	    "UNIX_TIMESTAMP() - CAST(MIN(IF(" ST_DUE ", run_after, NULL)) AS "
	    "SIGNED) FROM job WHERE " FUNC_IS " GROUP BY funcname ORDER BY "
	    "funcname", NULL, NULL, 1, 0 },
	[SQL_ADMIN_LIST] = { "admin_list",
	    "SELECT " SQL_JOB_COLUMNS " FROM job WHERE " FUNC_IS " AND " ST_IS
	    " AND " ST_IS " ORDER BY run_after, jobid LIMIT ?",
	    NULL, NULL, 4, 0 },
	[SQL_ADMIN_JOB] = { "admin_job",
	    "SELECT " SQL_JOB_COLUMNS " FROM job WHERE jobid = ?",
	    NULL, NULL, 1, 0 },
	[SQL_ADMIN_JOB_STATE] = { "admin_job_state",
	    "SELECT CASE WHEN " ST_PARKED " THEN 3 WHEN " ST_DUE " THEN 0 "
	    "WHEN " ST_LEASED " THEN 2 WHEN " ST_SCHEDULED " THEN 1 END "
	    "FROM job WHERE jobid = ?", NULL, NULL, 1, 0 },
	[SQL_ADMIN_JOB_LEASED] = { "admin_job_leased",
	    "SELECT leased FROM job WHERE jobid = ?", NULL, NULL, 1, 0 },
	[SQL_JOB_FUNCNAME] = { "job_funcname",
	    "SELECT funcname FROM job WHERE jobid = ?", NULL, NULL, 1, 0 },
	/* In jobid order from a cursor: a bulk change walks the table once
	 * in batches, each its own short statement, and ends even when the
	 * change leaves rows in the state (retrying due jobs). */
	[SQL_ADMIN_MATCH] = { "admin_match",
	    "SELECT " JOB_COLUMNS_NO_ARG " FROM job WHERE jobid > ? AND "
	    FUNC_IS " AND " ST_IS " ORDER BY jobid LIMIT ?",
	    NULL, NULL, 4, 0 },
	/* The state is checked again: a row claimed or completed since it
	 * was selected is left alone. failcount is kept unless asked, so a
	 * parked job retried fails into the parked state again at its next
	 * failure. */
	[SQL_ADMIN_RETRY] = { "admin_retry",
	    "UPDATE job SET run_after = UNIX_TIMESTAMP(), leased = 0, "
	    "failcount = IF(?, 0, failcount) WHERE " ST_IS " AND jobid IN (",
	    "?", ")", 2, 1 },
	/* Completions shared by one commit (gv_complete_later): the row
	 * constructor IN is a primary-key range. */
	[SQL_COMPLETE_MANY] = { "complete_many",
	    "DELETE FROM job WHERE (jobid, attempt) IN (", "(?, ?)", ")", 0,
	    2 },
	[SQL_COMPLETE_MANY_ANY] = { "complete_many_any",
	    "DELETE FROM job WHERE jobid IN (", "?", ")", 0, 1 },
	/* A read where a write is rarely needed: the Controller asks before
	 * running a job and extends the lease only when little is left. Only
	 * a row that is out (leased) has a lease: a row failed and waiting
	 * for its retry, or made due again, is not this copy's to run. */
	[SQL_LEASE_LEFT] = { "lease_left",
	    "SELECT GREATEST(CAST(run_after AS SIGNED) - UNIX_TIMESTAMP(), 0) "
	    "FROM job WHERE jobid = ? AND attempt = ? AND leased = 1", NULL,
	    NULL, 2, 0 },
	[SQL_LEASE_LEFT_ANY] = { "lease_left_any",
	    "SELECT GREATEST(CAST(run_after AS SIGNED) - UNIX_TIMESTAMP(), 0) "
	    "FROM job WHERE jobid = ? AND leased = 1", NULL, NULL, 1, 0 },
	/* What a worker's answer whose reply was lost left behind: read
	 * before repeating one that is not idempotent. */
	[SQL_JOB_OUT] = { "job_out",
	    "SELECT attempt * 2 + leased FROM job WHERE jobid = ?", NULL, NULL,
	    1, 0 },
	/* The row as it is after the failure's UPDATE, in the same
	 * transaction (its lock held): failcount and attempt are this
	 * failure's. */
	[SQL_ERROR_ADD] = { "error_add",
	    "INSERT INTO job_error (jobid, attempt, funcname, failcount, "
	    "error_time, message) SELECT jobid, attempt, funcname, failcount, "
	    "UNIX_TIMESTAMP(), ? FROM job WHERE jobid = ?", NULL, NULL, 2, 0 },
	/* The derived table is materialized (it has a LIMIT), which is what
	 * lets a DELETE read its own table on MySQL too. While fewer are
	 * kept the subquery is NULL and nothing matches. */
	[SQL_ERROR_PRUNE] = { "error_prune",
	    "DELETE FROM job_error WHERE jobid = ? AND errorid <= (SELECT "
	    "errorid FROM (SELECT errorid FROM job_error WHERE jobid = ? "
	    "ORDER BY errorid DESC LIMIT 1 OFFSET " STR(GV_ERRORS_KEPT)
	    ") oldest)", NULL, NULL, 2, 0 },
	/* Never a failure of a row that exists: safe whenever a row may
	 * have gone (completed, cancelled, deleted). */
	[SQL_ERRORS_FORGET] = { "errors_forget",
	    "DELETE FROM job_error WHERE jobid IN (", "?",
	    ") AND NOT EXISTS (SELECT 1 FROM job WHERE job.jobid = "
	    "job_error.jobid)", 0, 1 },
	[SQL_ERRORS_SWEEP] = { "errors_sweep",
	    "DELETE FROM job_error WHERE errorid >= ? AND errorid < ? AND NOT "
	    "EXISTS (SELECT 1 FROM job WHERE job.jobid = job_error.jobid)",
	    NULL, NULL, 2, 0 },
	[SQL_ERROR_MAX] = { "error_max",
	    "SELECT IFNULL(MAX(errorid), 0) FROM job_error", NULL, NULL, 0, 0 },
	[SQL_JOB_ERRORS] = { "job_errors",
	    "SELECT " ERROR_COLUMNS " FROM job_error WHERE jobid = ? ORDER BY "
	    "errorid DESC LIMIT ?", NULL, NULL, 2, 0 },
	[SQL_FUNC_ERRORS] = { "func_errors",
	    "SELECT " ERROR_COLUMNS " FROM job_error WHERE " FUNC_IS
	    " ORDER BY errorid DESC LIMIT ?", NULL, NULL, 2, 0 },
	[SQL_CANCEL] = { "cancel", "DELETE FROM job WHERE jobid = ?", NULL,
	    NULL, 1, 0 },
	/* Asked once per new connection: a read-only server takes no
	 * writes, and a Galera node only while it is synced and ready
	 * ("Synced/ON"). MySQL 8 has no information_schema.GLOBAL_VARIABLES:
	 * the failed query reads as no Galera there. */
	/* Records of jobs that ended (job_outcome). Written in the
	 * transaction that deletes the rows, after the DELETE (whose
	 * exclusive locks they follow): a job is never gone without its
	 * record, nor recorded while its row lives. A jobid met again (an
	 * AUTO_INCREMENT that went back after a restart) replaces the old
	 * record. */
	[SQL_OUTCOME_DONE] = { "outcome_done", OUTCOME_INSERT " VALUES ",
	    "(?, ?, ?, 'done', UNIX_TIMESTAMP(), ?, ?, UNIX_TIMESTAMP() + ?, "
	    "?, ?)", OUTCOME_REPLACE, 0, 8 },
	/* From the rows themselves, locked before (SQL_ENDING_LOCK). */
	[SQL_OUTCOME_END] = { "outcome_end", OUTCOME_INSERT " SELECT jobid, "
	    "funcname, uniqkey, ?, UNIX_TIMESTAMP(), attempt, failcount, "
	    "UNIX_TIMESTAMP() + ?, NULL, 0 FROM job WHERE jobid IN (", "?",
	    ")" OUTCOME_REPLACE, 2, 1 },
	/* The rows a cancel or an operator's delete is about to end, in the
	 * state asked (NULL: any), locked until its commit, with their
	 * functions (whose keep_done their records take). */
	[SQL_ENDING_LOCK] = { "ending_lock",
	    "SELECT jobid, funcname FROM job WHERE " ST_IS " AND jobid IN (",
	    "?", ") FOR UPDATE", 1, 1 },
	/* A job's state, as job_status names it: a row that lives says how
	 * it waits (its lease or its next run in run_after), a record how
	 * it ended. A record past keep_until is not read, whether or not it
	 * was pruned yet. */
	[SQL_JOB_STATUS] = { "job_status",
	    "SELECT jobid, funcname, uniqkey, CASE WHEN " ST_PARKED " THEN "
	    "'parked' WHEN " ST_LEASED " THEN 'running' WHEN failcount > 0 "
	    "THEN 'retrying' WHEN " ST_DUE " THEN 'due' ELSE 'scheduled' END, "
	    "failcount, attempt, run_after, NULL, NULL, NULL, 0 FROM job "
	    "WHERE jobid = ?", NULL, NULL, 1, 0 },
	[SQL_OUTCOME_STATUS] = { "outcome_status",
	    "SELECT " OUTCOME_COLUMNS " FROM job_outcome WHERE jobid = ? AND "
	    "keep_until >= UNIX_TIMESTAMP()", NULL, NULL, 1, 0 },
	[SQL_OUTCOME_BY_KEY] = { "outcome_by_key",
	    "SELECT " OUTCOME_COLUMNS " FROM job_outcome WHERE funcname = ? "
	    "AND uniqkey = ? AND keep_until >= UNIX_TIMESTAMP() ORDER BY "
	    "ended DESC, jobid DESC LIMIT 1", NULL, NULL, 2, 0 },
	/* A unique window: the newest done job of the key that ended less
	 * than the given seconds ago. A locking read: inside an insert's
	 * transaction it reads the newest records, and the key's range stays
	 * locked until that transaction ends, so a completion of the key's
	 * job cannot slip its record in between (client_insert.c). */
	[SQL_OUTCOME_DONE_SINCE] = { "outcome_done_since",
	    "SELECT jobid FROM job_outcome WHERE funcname = ? AND uniqkey = ? "
	    "AND outcome = 'done' AND ended > UNIX_TIMESTAMP() - ? AND "
	    "keep_until >= UNIX_TIMESTAMP() ORDER BY ended DESC, jobid DESC "
	    "LIMIT 1 LOCK IN SHARE MODE", NULL, NULL, 3, 0 },
	/* One bounded batch of the records past their time, in the order of
	 * the keep_until index: a short statement that holds no claim up. */
	[SQL_OUTCOME_PRUNE] = { "outcome_prune",
	    "DELETE FROM job_outcome WHERE keep_until < UNIX_TIMESTAMP() "
	    "ORDER BY keep_until LIMIT ?", NULL, NULL, 1, 0 },
	[SQL_READ_ONLY] = { "read_only",
	    "SELECT CAST(@@GLOBAL.read_only AS CHAR)", NULL, NULL, 0, 0 },
	[SQL_WSREP_ON] = { "wsrep_on",
	    "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES "
	    "WHERE VARIABLE_NAME = 'WSREP_ON'", NULL, NULL, 0, 0 },
	[SQL_WSREP_STATE] = { "wsrep_state",
	    "SELECT CONCAT(s.VARIABLE_VALUE, '/', r.VARIABLE_VALUE) FROM "
	    "information_schema.GLOBAL_STATUS s, "
	    "information_schema.GLOBAL_STATUS r WHERE s.VARIABLE_NAME = "
	    "'WSREP_LOCAL_STATE_COMMENT' AND r.VARIABLE_NAME = 'WSREP_READY'",
	    NULL, NULL, 0, 0 },
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

size_t
sql_text_size(enum sql_id id, unsigned n)
{
	const struct sql_stmt *s = &stmts[id];
	const char *sep = s->sep ? s->sep : ", ";

	if (s->repeat == NULL || n == 0)
		return strlen(s->text) + 1;
	return strlen(s->text) + (size_t)n * strlen(s->repeat) +
	    (size_t)(n - 1) * strlen(sep) + strlen(s->tail) + 1;
}

/* Only counts shape the generated text: no value ever enters it. */
const char *
sql_text(enum sql_id id, unsigned n, char *buf, size_t cap)
{
	const struct sql_stmt *s = &stmts[id];
	const char *sep = s->sep ? s->sep : ", ";
	size_t head, rep, tail, seplen, off;
	unsigned i;

	if (s->repeat == NULL)
		return s->text;
	if (n == 0 || sql_text_size(id, n) > cap)
		return NULL;
	head = strlen(s->text);
	rep = strlen(s->repeat);
	tail = strlen(s->tail);
	seplen = strlen(sep);
	memcpy(buf, s->text, head);
	off = head;
	for (i = 0; i < n; i++) {
		if (i) {
			memcpy(buf + off, sep, seplen);
			off += seplen;
		}
		memcpy(buf + off, s->repeat, rep);
		off += rep;
	}
	memcpy(buf + off, s->tail, tail + 1);
	return buf;
}
