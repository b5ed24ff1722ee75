/*
 * client_int: what libgarivini's client files share, internal to them: the
 * client (struct gv_client), the pauses of a retry through an outage, and
 * how a call fails and retries a conflict. client.c opens, configures and
 * closes a client; client_insert.c stores new jobs; client_answer.c writes
 * what becomes of a stored job (its completion, now or deferred, its
 * failure, its lease, its cancel).
 */
#ifndef CLIENT_INT_H
#define CLIENT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "garivini.h"

/* The pauses of a retry through an outage (gv_set_retry): the first,
 * doubling to the longest. */
#define RETRY_PAUSE_MIN 0.1
#define RETRY_PAUSE_MAX 2.0

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
		int keep_done;            /* -1: the client's */
		unsigned unique_for;      /* 0: none */
	} *ff;
	size_t nff;
	unsigned keep_done;       /* gv_set_keep_done */
	double retry_seconds;     /* gv_set_retry */
	void (*on_retry)(void *); /* client_on_retry */
	void *on_retry_arg;
	struct later {            /* gv_complete_later, not yet flushed */
		uint64_t jobid;
		uint32_t attempt;
		unsigned dbid;
		int fenced;
		int failed_before;    /* it may have failures to forget */
		unsigned failcount;
		unsigned keep;        /* seconds its record is kept; 0 none */
		const void *result;   /* client_complete_now's, or NULL */
		size_t result_len;
		char funcname[GV_FUNCNAME_MAX * 4 + 1]; /* as stored */
		char uniqkey[GV_UNIQKEY_MAX * 4 + 1];
		int has_uniqkey;
	} *later;
	size_t nlater;
	double later_since;       /* time_mono() of the oldest */
	unsigned seed;            /* jitter of conflict retries */
	int no_error_table;       /* a failure's reason found no job_error */
	int no_outcome_table;     /* a record found no job_outcome */
	unsigned no_error_table_db; /* ... in this database */
	char err[1024];
};

/* The policy of funcname's jobs: its [function.NAME] entry, or NULL. */
const struct func_policy *client_func(const gv_client *gv,
    const char *funcname);
/* Seconds a record of a job of funcname that ended is kept: its
 * function's keep_done, else the client's; a done one at least its
 * unique_for. */
unsigned client_keep(const gv_client *gv, const char *funcname, int done);

/* Fill gv->err from fmt and return code: `return client_fail(gv, ...)`. */
int client_fail(gv_client *gv, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* After a failure of db: 1, once a short pause is over, if it was a
 * conflict (a deadlock, a lock wait timeout, a Galera certification
 * conflict) to try again; 0 when it was not, or *tries ran out. */
int client_conflict_retry(gv_client *gv, struct db *db, int *tries);

#endif
