/*
 * sql: every SQL statement of Garivini, in one table. Statements with a
 * variable number of rows or ids are generated here from a count only.
 */
#ifndef SQL_H
#define SQL_H

#include <stddef.h>

/* The job columns in the order db_select_jobs reads them. */
#define SQL_JOB_COLUMNS "jobid, funcname, arg, uniqkey, run_after, " \
	"`coalesce`, flag, failcount, attempt, priority"
/* The same, with the arg's length in bytes (decimal text) in place of the
 * arg. */
#define SQL_JOB_COLUMNS_ARG_LENGTH "jobid, funcname, " \
	"CAST(IFNULL(LENGTH(arg), 0) AS CHAR), uniqkey, run_after, " \
	"`coalesce`, flag, failcount, attempt, priority"

enum sql_id {
	SQL_INSERT,          /* n rows: funcname, arg, uniqkey, coalesce,
	                        delay, flag, leased (delay is then its lease),
	                        priority */
	SQL_SELECT_DUE,      /* limit: the oldest due rows, locked, skipping
	                        rows other claimers hold; in the arg column
	                        the arg's length (for tests) */
	SQL_DUE_FUNCS,       /* one row per function and priority with due
	                        rows, in the job reader's shape: funcname,
	                        priority, and run_after the oldest due row's */
	SQL_FUNC_DUE_INDEX,  /* -> columns of the func_due index (0: none) */
	SQL_SELECT_DUE_FUNCS, /* n (funcname, priority, run_after, run_after,
	                        jobid, limit): the due rows of each function
	                        and priority after (run_after, jobid), in
	                        that order, locked, skipping rows other
	                        claimers hold; in the arg column the arg's
	                        length, not the arg */
	SQL_SELECT_JOBS,     /* n jobids: those rows, whole, in due order */
	SQL_LEASE,           /* lease_seconds, then n jobids: hide them and
	                        bump attempt */
	SQL_PUSH_BACK,       /* seconds, then n (jobid, attempt): due again
	                        later, no attempt spent (over the watermark,
	                        inside the claim's transaction) */
	SQL_RELEASE,         /* seconds, then n (jobid, attempt): a leased
	                        submission gearmand did not queue, due again
	                        soon, if still out under that attempt */
	SQL_COMPLETE,        /* jobid, attempt */
	SQL_COMPLETE_ANY,    /* jobid: the original's unfenced delete */
	SQL_RESCHEDULE_AT,   /* when, jobid, attempt */
	SQL_RESCHEDULE_IN,   /* seconds, jobid, attempt */
	SQL_RESCHEDULE_AT_ANY, /* when, jobid */
	SQL_RESCHEDULE_IN_ANY, /* seconds, jobid */
	SQL_FAIL,            /* max_failures, retry_first, retry_max, jobid,
	                        attempt: parked at max_failures, else due
	                        in min(retry_first << (failcount before),
	                        retry_max) seconds */
	SQL_FAIL_ANY,        /* max_failures, retry_first, retry_max, jobid */
	SQL_EXTEND,          /* seconds, jobid, attempt */
	SQL_EXTEND_ANY,      /* seconds, jobid */
	SQL_FIND_UNIQUE,     /* funcname, uniqkey -> jobid */
	SQL_NOW,             /* -> UNIX_TIMESTAMP() */
	/* [schedule.NAME] (workers/scheduler.c): its state row. */
	SQL_SCHED_CLAIM,     /* name, initial last_slot: create the row if
	                        absent, and lock it either way */
	SQL_SCHED_LOCKED,    /* name -> last_slot, locked; a row another
	                        session holds fails at once (NOWAIT) */
	SQL_SCHED_ADVANCE,   /* last_slot, name */
	SQL_SCHED_LAST,      /* name -> last_slot (gvctl) */
	/* gvctl. A state parameter is "due", "scheduled", "leased",
	 * "failing", "parked", or NULL for any; a funcname parameter NULL
	 * means every function. */
	SQL_ADMIN_STATS,     /* funcname: one row per function: funcname,
	                        due, scheduled, leased, failing, parked,
	                        lag in seconds (NULL when nothing is due) */
	SQL_ADMIN_LIST,      /* funcname, state, state, limit: jobs in both
	                        states, in run_after order */
	SQL_ADMIN_JOB,       /* jobid: the job */
	SQL_ADMIN_JOB_STATE, /* jobid -> 0 due, 1 scheduled, 2 leased,
	                        3 parked */
	SQL_ADMIN_JOB_LEASED, /* jobid -> the leased column */
	SQL_JOB_FUNCNAME,     /* jobid -> its funcname */
	SQL_ADMIN_MATCH,     /* funcname, state, after jobid, limit: jobs in
	                        jobid order, without arg */
	SQL_ADMIN_RETRY,     /* reset failcount (0/1), state, then n jobids:
	                        due now, unleased, if still in the state */
	SQL_COMPLETE_MANY,   /* n (jobid, attempt) pairs */
	SQL_COMPLETE_MANY_ANY, /* n jobids */
	SQL_LEASE_LEFT,      /* jobid, attempt -> seconds until run_after */
	SQL_LEASE_LEFT_ANY,  /* jobid -> seconds until run_after */
	SQL_JOB_OUT,         /* jobid -> attempt * 2 + leased */
	/* Failure reasons (job_error). Read as rows of jobid, funcname,
	 * message, error_time, and failcount and attempt as they were after
	 * the failure. */
	SQL_ERROR_ADD,       /* message, jobid: one failure of the row as it
	                        is now (inside the failure's transaction) */
	SQL_ERROR_PRUNE,     /* jobid, jobid: all but its newest
	                        GV_ERRORS_KEPT */
	SQL_ERRORS_FORGET,   /* n jobids: the failures of those whose row is
	                        gone */
	SQL_ERRORS_SWEEP,    /* from errorid, to errorid: failures in that
	                        range whose row is gone */
	SQL_ERROR_MAX,       /* -> the newest errorid, 0 if none */
	SQL_JOB_ERRORS,      /* jobid, limit: its failures, newest first */
	SQL_FUNC_ERRORS,     /* funcname (NULL: any), limit: the newest
	                        failures */
	SQL_CANCEL,          /* jobid: delete the row, whatever its state */
	/* What became of jobs that ended (job_outcome): outcome.c. */
	SQL_OUTCOME_DONE,    /* n (jobid, funcname, uniqkey, attempt,
	                        failcount, keep seconds, result, result_cut):
	                        records of completed jobs */
	SQL_OUTCOME_END,     /* outcome, keep seconds, then n jobids: records
	                        of rows about to be deleted */
	SQL_ENDING_LOCK,     /* state (NULL: any), then n jobids -> jobid,
	                        funcname of those in the state, locked */
	SQL_JOB_STATUS,      /* jobid -> the row's state (status columns) */
	SQL_OUTCOME_STATUS,  /* jobid -> its record (status columns) */
	SQL_OUTCOME_BY_KEY,  /* funcname, uniqkey -> the newest record */
	SQL_OUTCOME_DONE_SINCE, /* funcname, uniqkey, seconds -> jobid of a
	                        done record that recent */
	SQL_OUTCOME_PRUNE,   /* limit: delete records past keep_until */
	SQL_READ_ONLY,       /* -> read_only: "0"/"OFF" when writable */
	SQL_WSREP_ON,        /* -> "ON" on a Galera node */
	SQL_WSREP_STATE,     /* -> "Synced/ON" when it may take writes */
	SQL_COUNT
};

/* The statement text of id for n rows/ids (ignored by fixed statements).
 * Returns a pointer to a static string or to text in buf (cap bytes); NULL
 * if buf is too small. */
const char *sql_text(enum sql_id id, unsigned n, char *buf, size_t cap);
/* The bytes sql_text needs for id and n, with its NUL. */
size_t sql_text_size(enum sql_id id, unsigned n);
/* 1 if the statement's shape depends on n. */
int sql_variable(enum sql_id id);
/* Bound parameters per row (INSERT) or per id, and fixed leading ones. */
unsigned sql_params_per_row(enum sql_id id);
unsigned sql_params_fixed(enum sql_id id);
const char *sql_name(enum sql_id id);

#endif
