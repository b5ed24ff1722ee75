/*
 * garivini.h: libgarivini, the public C client API of Garivini.
 *
 * A client inserts jobs as rows in one of several MySQL/MariaDB databases; a
 * worker parses the JSON document it receives from gearmand and, when done,
 * completes, reschedules or fails the job through the same library.
 *
 * Every call returns GV_OK (0) or a negative gv_error code; the message of the
 * last error is gv_errmsg(). The library never prints, logs or exits.
 * A gv_client is not thread-safe: use one per thread.
 */
#ifndef GARIVINI_H
#define GARIVINI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GV_VERSION "0.1.0"

/* run_after of a parked job: rescheduled "never", or failed too often. */
#define GV_NEVER 2147483647u

enum gv_error {
	GV_OK = 0,
	GV_EINVAL = -1,   /* a bad argument: the message says which */
	GV_ECONFIG = -2,  /* bad configuration (INI file or settings) */
	GV_EDB = -3,      /* database error; the job may be retried */
	GV_ESTALE = -4,   /* the job is gone, or a newer attempt owns it */
	GV_EJSON = -5,    /* a malformed job document */
	GV_ENOMEM = -6,
	GV_EUNKNOWN = -7, /* the connection was lost during COMMIT: the jobs
	                     the message names may or may not be stored */
};

enum gv_flag {
	GV_FLAG_SHIM = 0,       /* the worker completes through this library */
	GV_FLAG_CONTROLLER = 1, /* the Controller runs it and completes it */
};

typedef struct gv_client gv_client;

/* One database, as in a [db.N] section of garivini.ini. */
struct gv_db_settings {
	unsigned dbid;
	const char *host;     /* NULL or "" with socket set: local socket */
	unsigned port;        /* 0: 3306 */
	const char *socket;   /* NULL: TCP */
	const char *database;
	const char *user;
	const char *password;
};

/* The longest fields of a job, in bytes: those of the job table's columns
 * (schema.sql). gv_insert_job refuses a longer one (GV_EINVAL) rather than
 * let the database cut it. */
#define GV_FUNCNAME_MAX 200         /* funcname VARCHAR(200) */
#define GV_UNIQKEY_MAX 255          /* uniqkey VARCHAR(255) */
#define GV_COALESCE_MAX 255         /* coalesce VARCHAR(255) */
#define GV_ARG_MAX 16777215u        /* arg MEDIUMBLOB */
#define GV_DELAY_MAX 315360000L     /* seconds: ten years */
/* gearmand carries unique keys of at most 63 bytes (it cuts 64 to 63 and
 * refuses longer ones). The uniqkey of an inject_jobs payload goes to
 * gearmand as it is, so it may have no more; the longer key of a job a
 * QueueRunner sends goes as a digest of it. */
#define GV_GEARMAN_UNIQKEY_MAX 63

/* A job to insert. */
struct gv_new_job {
	const char *funcname;  /* required, at most GV_FUNCNAME_MAX bytes */
	const void *arg;       /* payload, any bytes; may be NULL if arg_len 0 */
	size_t arg_len;        /* at most GV_ARG_MAX */
	const char *uniqkey;   /* NULL: none; at most GV_UNIQKEY_MAX bytes */
	const char *coalesce;  /* NULL: none; at most GV_COALESCE_MAX bytes */
	long delay;            /* seconds from now, 0 .. GV_DELAY_MAX */
	enum gv_flag flag;
	int priority;          /* GV_PRIORITY_MIN..GV_PRIORITY_MAX; 0: normal */
};

/* A job as a worker receives it (gv_job_parse) or a QueueRunner claims it. */
struct gv_job {
	uint64_t jobid;
	unsigned dbid;
	char *funcname;
	unsigned char *arg;    /* the exact bytes inserted, NUL-terminated too */
	size_t arg_len;
	char *uniqkey;         /* NULL if none */
	char *coalesce;        /* NULL if none */
	uint32_t run_after;
	enum gv_flag flag;
	unsigned failcount;
	uint32_t attempt;      /* the claim this document belongs to */
	int fenced;            /* 1 if attempt is known; 0: an old-style document */
	int priority;          /* GV_PRIORITY_MIN..GV_PRIORITY_MAX */
};

/*
 * Priority orders the due jobs of one function: a higher one is claimed
 * first, then the longest due, and gearmand queues it at high (> 0), normal
 * (0) or low (< 0) priority, so the order holds inside gearmand too. It does
 * not order functions: every function with due jobs gets its fair share of
 * each claim, whatever the priorities of the others.
 */
#define GV_PRIORITY_MIN (-10)
#define GV_PRIORITY_MAX 10

/* The Gearman functions Garivini serves itself. No job may be for one of
 * them: a job for run_queued_job would make Controllers call themselves. */
#define GV_FUNC_INJECT "inject_jobs"
#define GV_FUNC_RUN_QUEUED "run_queued_job"
#define GV_FUNC_CANCEL "cancel_jobs"
#define GV_FUNC_STATUS "job_status"
/* 1 if funcname is a function Garivini serves (refused as a job's). */
int gv_funcname_reserved(const char *funcname);

/* Open from garivini.ini ([db.N] sections; [controller] max_failures,
 * retry_first and retry_max; the same keys of [function.NAME]). NULL on
 * error, with the reason (file:line: key: ...) in err. */
gv_client *gv_open_ini(const char *path, char *err, size_t errlen);
/* Open from explicit settings. No connection is made until needed. */
gv_client *gv_open(const struct gv_db_settings *dbs, size_t ndbs, char *err,
    size_t errlen);
void gv_close(gv_client *gv);
const char *gv_errmsg(const gv_client *gv);

/* One gearmand, as garivini.ini's [gearmand] servers names it. */
#define GV_SERVERS_MAX 32           /* servers garivini.ini may name */
#define GV_HOST_MAX 255
struct gv_server {
	char host[GV_HOST_MAX + 1];
	unsigned port;                  /* 4730 when not given */
};
/* The gearmand servers of garivini.ini, in the order written: at most max
 * of them into servers, and how many it names (at most GV_SERVERS_MAX) in
 * *n. A worker or client of gearmand connects to these, as Garivini does.
 * GV_ECONFIG, with the reasons as gv_open_ini gives them in err, when the
 * file cannot be read or is not a valid configuration. */
int gv_ini_servers(const char *path, struct gv_server *servers, size_t max,
    size_t *n, char *err, size_t errlen);

/* After max_failures failures gv_failed_job parks the job; 0 = never park.
 * A client of gv_open_ini starts with [controller] max_failures, and keeps
 * [function.NAME] max_failures, over this, for the functions that set it. */
void gv_set_max_failures(gv_client *gv, unsigned max_failures);
/* gv_failed_job's backoff: the n-th failure makes the job due again after
 * first << (n - 1) seconds, at most max. gv_open starts with these defaults,
 * gv_open_ini with [controller] retry_first and retry_max; garivini.ini
 * takes the same bounds. */
#define GV_RETRY_FIRST 120
#define GV_RETRY_MAX 86400
#define GV_RETRY_FIRST_LIMIT 86400      /* first is 1 .. this */
#define GV_RETRY_MAX_LIMIT 2592000      /* max is first .. this (30 days) */
/* Set the backoff. A client of gv_open_ini keeps [function.NAME]
 * retry_first and retry_max, over these, for the functions that set them.
 * GV_EINVAL, changing nothing, when first or max is out of its bounds. */
int gv_set_retry_backoff(gv_client *gv, unsigned first, unsigned max);
/* Keep retrying a completion, reschedule, failure, lease extension or
 * gv_insert_jobs share whose database cannot be reached (not one the database refused), for up to
 * seconds (pausing 0.1 s doubling to
 * 2 s), before returning GV_EDB. Default 0: return at once. A worker that
 * rides out a short database outage this way does not run its job twice. */
void gv_set_retry(gv_client *gv, double seconds);

/*
 * Insert one job. A job with a unique key always goes to the same database
 * (a stable hash of funcname and key), so the key is unique across all of
 * them; a second insert of the same (funcname, uniqkey) stores nothing and
 * returns the existing jobid with *inserted = 0. Other jobs go to a random
 * healthy database, and to another if that one fails before the insert was
 * sent. One whose connection was lost after the insert was sent may be
 * stored: a keyed job is settled by its key; another gives GV_EUNKNOWN
 * (tried again elsewhere, it could be stored, and run, twice). jobid, dbid
 * and inserted may be NULL.
 */
int gv_insert_job(gv_client *gv, const struct gv_new_job *job,
    uint64_t *jobid, unsigned *dbid, int *inserted);
/*
 * Insert many jobs: one multi-row statement (or a few, for big batches) and
 * one transaction per database. *inserted counts the rows stored (duplicates
 * of a unique key are not). On error nothing of the failed database's share
 * is stored; shares of other databases already committed stay.
 *
 * A share whose connection was lost before its COMMIT was sent stored
 * nothing and is done again on a new connection (the next host of the
 * database's list), a few times. One lost with its COMMIT sent: keyed jobs
 * are inserted again (their keys keep what was stored); the jobs without a
 * key, which nothing can tell apart, give GV_EUNKNOWN, the message naming
 * them by index ("jobs 0..999: fate unknown ..."); keyed jobs of the call
 * are stored by then.
 */
int gv_insert_jobs(gv_client *gv, const struct gv_new_job *jobs, size_t n,
    size_t *inserted);

/* Done: delete the row. GV_ESTALE if a newer attempt owns it or it is gone. */
int gv_complete_job(gv_client *gv, const struct gv_job *job);
/*
 * Done, later: the completion waits (at most 100 of them, at most 5 ms) to
 * share one DELETE and one commit with others, for workers that complete
 * many jobs a second. The library has no timer: the held completions are
 * written by the next gv_complete_later past the window, or by gv_flush.
 * Call gv_flush when no job came for a while (a few milliseconds), before
 * a job that may take longer than that (or the completions wait for it),
 * and before exiting (gv_close flushes too). A completion that never reaches the
 * database only means the job runs again when its lease ends. Stale
 * completions are not reported one by one.
 */
int gv_complete_later(gv_client *gv, const struct gv_job *job);
/* Send the waiting completions now. GV_EDB if a database failed them. */
int gv_flush(gv_client *gv);
/* How many completions wait. */
size_t gv_pending(const gv_client *gv);

/* when: "never", "+SECONDS" or an absolute unix time "SECONDS". */
int gv_reschedule_job(gv_client *gv, const struct gv_job *job,
    const char *when);
/* Failed: failcount + 1 and retry after the backoff (gv_set_retry_backoff;
 * by default 2, 4, 8 ... minutes, at most a day); parked (run_after =
 * GV_NEVER) once failcount reaches max_failures. The failure is recorded,
 * without a reason, as by gv_failed_job_message(gv, job, NULL). */
int gv_failed_job(gv_client *gv, const struct gv_job *job);
/*
 * Failed, and why: message (NULL or "": none given; valid UTF-8, at most
 * GV_MESSAGE_MAX bytes, else GV_EINVAL and nothing changes) is stored with
 * the failure's time, attempt and failcount in the job_error table, in the
 * same transaction as the failure. A job keeps its GV_ERRORS_KEPT newest
 * failures, which go with its row (completed, cancelled or deleted); gvctl
 * shows them. Without a job_error table (not yet upgraded: see
 * doc/schema.md) the failure is recorded as before and the reason is
 * dropped.
 */
int gv_failed_job_message(gv_client *gv, const struct gv_job *job,
    const char *message);
#define GV_MESSAGE_MAX 2000
#define GV_ERRORS_KEPT 10
/*
 * Cancel a job: delete its row, whatever its state, with its failures. By
 * key: looked for in the database the key's hash picks (where
 * gv_insert_job stored it), then in the others; *jobid and *dbid (each may
 * be NULL) say which job it was. GV_ESTALE when
 * there is no such job. A job a worker is already running is not
 * interrupted (its completion then changes nothing), and a job already
 * queued in gearmand in high-throughput mode may still run once; in
 * low-latency mode the Controller checks the row before it runs a job.
 */
int gv_cancel_job(gv_client *gv, const char *funcname, const char *uniqkey,
    uint64_t *jobid, unsigned *dbid);
int gv_cancel_jobid(gv_client *gv, unsigned dbid, uint64_t jobid);

/*
 * What became of a job. A job that lives is scheduled (waits for its time),
 * due, running (out: queued in gearmand or running, run_after the end of its
 * lease), retrying (failed failcount times, runs again at run_after) or
 * parked (failed max_failures times, or rescheduled "never"). A job that
 * ended is done, cancelled or deleted (by an operator) while its record is
 * kept: keep_done seconds ([function.NAME] keep_done over [garivini]
 * keep_done, default GV_KEEP_DONE; 0 keeps none, as the original kept
 * none). Otherwise, and for a job that never existed, unknown. A job
 * completed by a foreign worker's own DELETE leaves no record.
 */
enum gv_state {
	GV_STATE_UNKNOWN = 0,
	GV_STATE_SCHEDULED,
	GV_STATE_DUE,
	GV_STATE_RUNNING,
	GV_STATE_RETRYING,
	GV_STATE_PARKED,
	GV_STATE_DONE,
	GV_STATE_CANCELLED,
	GV_STATE_DELETED,
};
#define GV_KEEP_DONE 3600           /* seconds, by default */
#define GV_KEEP_DONE_MAX 31536000   /* a year */
/* A done job's result is kept up to this many bytes; a longer one is cut
 * there (result_cut), and never fails its job. */
#define GV_RESULT_MAX 65535

struct gv_job_status {
	enum gv_state state;
	uint64_t jobid;           /* 0: unknown */
	unsigned dbid;
	/* As the columns hold them: up to 200 and 255 characters, of up to
	 * 4 bytes each (the original's SQL stores what this library would
	 * refuse as too long in bytes). */
	char funcname[GV_FUNCNAME_MAX * 4 + 1];
	char uniqkey[GV_UNIQKEY_MAX * 4 + 1];
	int has_uniqkey;
	unsigned failcount;       /* failures so far, or when it ended */
	uint32_t attempt;         /* claims so far, or when it ended */
	int64_t run_after;        /* a living job's (unix time); 0 ended */
	int64_t ended;            /* when it ended (unix time); 0 lives */
	int64_t kept_until;       /* its record is kept until then */
	unsigned char *result;    /* a done job's result (NUL-terminated
	                             too), NULL when its worker gave none */
	size_t result_len;
	int result_cut;           /* 1: the result was longer, cut here */
	char *error;              /* a living job's newest failure reason
	                             (UTF-8, "" none given), NULL when it
	                             never failed */
	int64_t error_time;       /* when it failed so (unix time) */
};
/* The state of job jobid of database dbid, into st (GV_STATE_UNKNOWN when
 * there is no such job or record). st is filled whole: release it with
 * gv_job_status_clear before it is filled again. */
int gv_job_status(gv_client *gv, unsigned dbid, uint64_t jobid,
    struct gv_job_status *st);
/* The same by unique key: the job of (funcname, uniqkey) that lives, in
 * any database (the key's first), else the newest record of the key. */
int gv_job_status_key(gv_client *gv, const char *funcname,
    const char *uniqkey, struct gv_job_status *st);
void gv_job_status_clear(struct gv_job_status *st);
/* "unknown", "scheduled", "due", "running", "retrying", "parked", "done",
 * "cancelled", "deleted". */
const char *gv_state_name(enum gv_state state);
/* Done, with the worker's result (any bytes; NULL or 0: none), kept with
 * the job's record. As gv_complete_job otherwise. */
int gv_complete_job_result(gv_client *gv, const struct gv_job *job,
    const void *result, size_t len);
/* Seconds the records of ended jobs are kept, for functions the INI does
 * not set (GV_KEEP_DONE until set; 0: none). GV_EINVAL over
 * GV_KEEP_DONE_MAX. */
int gv_set_keep_done(gv_client *gv, unsigned seconds);

/* Seconds left of the job's lease (0 if it ran out); GV_ESTALE if the job
 * is gone, a newer attempt owns it, or it is not out (rescheduled, failed
 * and waiting for its retry). Reads only. */
int gv_lease_left(gv_client *gv, const struct gv_job *job, long *seconds);
/* Still working on it: keep it hidden for another `seconds`. */
int gv_extend_lease(gv_client *gv, const struct gv_job *job,
    unsigned seconds);

/*
 * Parse the JSON document a worker receives. The document's "arg" is a JSON
 * string whose code points U+0000..U+00FF are the payload's bytes (what Perl's
 * encode_json does with a byte string); job->arg gets those bytes back. The
 * job must be released with gv_job_clear. err may be NULL.
 */
int gv_job_parse(const void *json, size_t len, struct gv_job *job, char *err,
    size_t errlen);
void gv_job_clear(struct gv_job *job);

const char *gv_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif
