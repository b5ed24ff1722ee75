/*
 * admin: the queries behind gvctl, as figures and records, not text:
 * counts per function and state, and the failures kept (job_error).
 */
#ifndef ADMIN_H
#define ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

struct config;

/* The states of a row, in the order of SQL_ADMIN_STATS's columns. due,
 * scheduled, leased and parked split the rows; failing overlaps them. */
enum admin_state { ADMIN_DUE, ADMIN_SCHEDULED, ADMIN_LEASED, ADMIN_FAILING,
	ADMIN_PARKED, ADMIN_STATES };

struct admin_figures {
	char *funcname;
	uint64_t n[ADMIN_STATES];
	int has_lag;            /* 0: nothing due */
	uint64_t lag;           /* seconds the oldest due row has waited */
};

/* One row per function of db (funcname NULL: every function), in the
 * server's order. -1 with the reason in err. */
int admin_stats(struct db *db, const char *funcname,
    struct admin_figures **out, size_t *n, char *err, size_t errlen);
void admin_figures_free(struct admin_figures *f, size_t n);

/* A failure kept for a job. */
struct admin_failure {
	unsigned dbid;
	uint64_t jobid;
	char *funcname;
	char *message;          /* UTF-8 as the library stored it; "" none */
	size_t message_len;
	uint32_t time;          /* unix time, the database's clock */
	unsigned failcount;     /* as the failure left them */
	uint32_t attempt;
};

/* The newest failures (at most limit) of job jobid or, jobid 0, of
 * funcname (NULL: any), newest first. A database without the job_error
 * table (made by an earlier version) has none. -1 with the reason in err. */
int admin_failures(struct db *db, uint64_t jobid, const char *funcname,
    uint64_t limit, struct admin_failure **out, size_t *n, char *err,
    size_t errlen);
void admin_failures_free(struct admin_failure *f, size_t n);

/*
 * Jobs. A state parameter names one of sql.c's states ("due",
 * "scheduled", "leased", "failing", "parked"), NULL for any; a funcname
 * NULL means every function.
 */
/* Jobs of funcname in both states, in run_after order, at most limit,
 * appended to *jobs (db_jobs_free). */
int admin_list(struct db *db, const char *funcname, const char *state,
    const char *also, uint64_t limit, struct gv_job **jobs, size_t *njobs,
    char *err, size_t errlen);
/* Where job jobid is: *found 0 if nowhere; else *state 0 due, 1 scheduled,
 * 2 leased, 3 parked. */
int admin_job_state(struct db *db, uint64_t jobid, uint64_t *state,
    int *found, char *err, size_t errlen);
/* Job jobid whole (*njobs 0 if it is gone), its state as admin_job_state
 * says it, and its leased column. */
int admin_job(struct db *db, uint64_t jobid, struct gv_job **jobs,
    size_t *njobs, uint64_t *state, uint64_t *leased, char *err,
    size_t errlen);
/* The ids (at most limit) of jobs of funcname in state after jobid
 * `after`, in jobid order. */
int admin_match(struct db *db, const char *funcname, const char *state,
    uint64_t after, uint64_t *ids, size_t limit, size_t *n, char *err,
    size_t errlen);
/* Due now (failcount reset if asked): those of ids still in state when
 * the statement runs. *changed: how many. */
int admin_retry(struct db *db, const uint64_t *ids, size_t n,
    const char *state, int reset_failcount, uint64_t *changed, char *err,
    size_t errlen);
/* Deleted with their failures: those of ids still in state, each
 * recorded as "deleted" in job_outcome in the transaction of its delete,
 * kept for its function's keep_done of cfg (0: no record). *changed: how
 * many. */
int admin_delete(struct db *db, struct config *cfg, const uint64_t *ids,
    size_t n, const char *state, uint64_t *changed, char *err,
    size_t errlen);

/* A schedule's state row: the database's clock, and *found 0 when the
 * schedule has no row yet, else its last slot. */
int admin_schedule(struct db *db, const char *name, uint64_t *now,
    uint64_t *last, int *found, char *err, size_t errlen);

#endif
