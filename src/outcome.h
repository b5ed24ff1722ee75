/*
 * outcome: what became of a job, on one database. A row that lives says
 * how it waits; a job that ended (done, cancelled, deleted by an operator)
 * leaves a record in job_outcome, written in the transaction that deletes
 * its row, and kept until the keep_until it was given. The client library
 * (gv_job_status, completions, cancels) and gvctl read and write through
 * here.
 */
#ifndef OUTCOME_H
#define OUTCOME_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "garivini.h"

/* The record of a completed job, as the worker's answer gives it. */
struct outcome_done {
	uint64_t jobid;
	const char *funcname;
	const char *uniqkey;      /* NULL: none */
	uint32_t attempt;
	unsigned failcount;
	unsigned keep;            /* seconds it is kept */
	const void *result;       /* NULL: none given */
	size_t result_len;        /* cut at GV_RESULT_MAX */
};

/* Write the records of n completed jobs, inside the transaction that
 * deleted their rows. 0 written; 1 when the database has no job_outcome
 * table (made by an earlier version: the jobs complete without records);
 * -1 with the reason in err. */
int outcome_write_done(struct db *db, const struct outcome_done *recs,
    size_t n, char *err, size_t errlen);

/* The seconds a record of funcname is kept (keep_done), for outcome_end. */
typedef unsigned outcome_keep_fn(const char *funcname, void *arg);

/*
 * End the jobs among ids[0..n) that are in state (NULL: any) in one
 * transaction: lock them, record each as outcome ("cancelled", "deleted")
 * for keep(its funcname) seconds, delete them. *ended counts the rows
 * deleted. Without a job_outcome table the rows are deleted unrecorded.
 * -1 with the reason in err, and nothing changed.
 */
int outcome_end(struct db *db, const char *outcome, const char *state,
    const uint64_t *ids, size_t n, outcome_keep_fn *keep, void *keep_arg,
    uint64_t *ended, char *err, size_t errlen);

/* The state of job jobid of db: its row's, else its record's (kept), else
 * GV_STATE_UNKNOWN. st is cleared first; gv_job_status_clear frees it.
 * -1 with the reason in err. */
int outcome_status(struct db *db, uint64_t jobid, struct gv_job_status *st,
    char *err, size_t errlen);
/* The newest record kept of (funcname, uniqkey) on db; *found 0: none. */
int outcome_status_key(struct db *db, const char *funcname,
    const char *uniqkey, struct gv_job_status *st, int *found, char *err,
    size_t errlen);
/* The jobid of a job of (funcname, uniqkey) done less than seconds ago,
 * whose record is kept; *found 0: none (or no job_outcome table). */
int outcome_done_since(struct db *db, const char *funcname,
    const char *uniqkey, unsigned seconds, uint64_t *jobid, int *found,
    char *err, size_t errlen);
/* Delete at most limit records past their time; *pruned says how many. */
int outcome_prune(struct db *db, unsigned limit, uint64_t *pruned,
    char *err, size_t errlen);

/* "done", "cancelled", ... as gv_state_name; the state of such a name
 * (GV_STATE_UNKNOWN for another). */
enum gv_state outcome_state_of(const char *name);

#endif
