/*
 * client: the parts of libgarivini the roles share but users do not see.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include "config.h"
#include "db.h"
#include "garivini.h"

/* Open on the databases of a parsed configuration, with max_failures from
 * [controller]. */
gv_client *client_open_config(const struct config *cfg, char *err,
    size_t errlen);
/* The same on one of its databases only (dbid): a thread that works with
 * that database alone (the Controller's per database) opens nothing else. */
gv_client *client_open_config_db(const struct config *cfg, unsigned dbid,
    char *err, size_t errlen);
/* gv_insert_job for a job submitted at once (the Injector): its delay is
 * its lease, and the row shows as leased, not scheduled. */
int client_insert_leased(gv_client *gv, const struct gv_new_job *job,
    uint64_t *jobid, unsigned *dbid, int *inserted);
/* Hand back a submission gearmand is known not to have queued: due again in
 * seconds, fenced (SQL_RELEASE) so that it changes nothing once the job's
 * worker decided or the row was claimed again. GV_ESTALE when it matched
 * nothing. */
int client_release(gv_client *gv, const struct gv_job *job,
    unsigned seconds);
/* Complete jobs[0..n) now (with results[0..n), or NULL), many to a
 * statement, and say which deleted
 * their row (done[i] = 1), so that the caller counts what committed: not a
 * completion lost with its database, nor a stale one (its row gone, or a
 * newer attempt's). A statement commits only when it deleted every row it
 * named; one that met a stale copy is rolled back and its jobs completed
 * one by one to learn which. A COMMIT whose answer was lost is tried
 * again, and its jobs then say stale: not counted, on the safe side.
 * GV_EDB when some could not be written (their leases bring them back). */
struct client_result {      /* a worker's result, kept with the record */
	const void *data;   /* NULL: none */
	size_t len;
};
int client_complete_now(gv_client *gv, const struct gv_job *jobs,
    const struct client_result *results, size_t n, unsigned char *done);
/* The databases behind a client (the QueueRunner claims from each). */
struct dbset *client_dbset(gv_client *gv);
/* Called with arg at each pause of a retry through a database outage
 * (gv_set_retry): a process watched for signs of life (the Controller, by
 * the master) shows one while it waits for the database. */
void client_on_retry(gv_client *gv, void (*fn)(void *), void *arg);
/* 1 (once) if a failure's reason was dropped since the last call because
 * a database, *dbid, has no job_error table. */
int client_no_error_table(gv_client *gv, unsigned *dbid);
/* One step of the sweep of failures whose rows are gone (a completion
 * that could not delete them, a row deleted by another client): the next
 * CLIENT_SWEEP_SPAN errorids from *cursor, wrapping past the newest. -1 on
 * a database error (gv_errmsg); a database without the table is 0. */
#define CLIENT_SWEEP_SPAN 10000
int client_sweep_errors(gv_client *gv, struct db *db, uint64_t *cursor,
    uint64_t *swept);

#endif
