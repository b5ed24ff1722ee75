/*
 * db: a configured database, its connection, health and prepared
 * statements (MariaDB Connector/C, binary protocol only).
 *
 * No SQL text is ever built from a job's strings: every value travels as a
 * bound parameter. The only generated SQL is the number of placeholders of a
 * multi-row or IN (...) statement (sql.c), cached per shape.
 *
 * Health: a database whose call failed with a connection error is closed and
 * avoided for a growing while (0.5 s doubling to 30 s); dbset_pick skips it
 * until then. Calls naming a database explicitly (completing a job) try it
 * anyway: there is no other place for that row.
 *
 * Hosts: a database may be an ordered list of hosts (Galera nodes, or a
 * primary and its failover targets). One is written to at a time: the first
 * in the list that connects and, for a Galera node, is synced and ready. A
 * host that fails is passed over for its own growing while; from a later
 * host, the earlier ones are tried again every 30 s between transactions,
 * so every writer comes back to the same first host.
 */
#ifndef DB_H
#define DB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "garivini.h"
#include "sql.h"

struct db;

enum dbval_type { DBV_NULL, DBV_U64, DBV_I64, DBV_STR, DBV_BLOB };

/* A bound parameter. STR and BLOB point at len bytes owned by the caller. */
struct dbval {
	enum dbval_type type;
	uint64_t u;
	int64_t i;
	const void *p;
	size_t len;
};

#define DBV_U(x) ((struct dbval){ .type = DBV_U64, .u = (x) })
#define DBV_I(x) ((struct dbval){ .type = DBV_I64, .i = (x) })
#define DBV_S(s) ((struct dbval){ .type = (s) ? DBV_STR : DBV_NULL, \
	.p = (s), .len = (s) ? strlen(s) : 0 })
#define DBV_B(ptr, n) ((struct dbval){ .type = DBV_BLOB, .p = (ptr), .len = (n) })

/* A database of the settings s, not yet connected (db_exec connects). NULL
 * with err filled on a bad host list or no memory. */
struct db *db_new(const struct gv_db_settings *s, char *err, size_t errlen);
/* Disconnect and free (NULL is nothing). */
void db_free(struct db *db);

unsigned db_id(const struct db *db);
/* 1 if not waiting out a backoff after a failure. */
int db_healthy(const struct db *db, double now);
/* Seconds until the backoff ends (0 if healthy). */
double db_backoff_left(const struct db *db, double now);
/* Close the connection (after fork, or on shutdown). */
void db_disconnect(struct db *db);
/* A thread that makes database calls, other than the one that made the
 * first, calls db_thread_init before its first and db_thread_end before it
 * exits: MySQL's client library keeps state per thread (MariaDB's needs
 * neither, and ignores both). */
void db_thread_init(void);
void db_thread_end(void);
/* A process whose threads may make their first database calls at once
 * calls this before it starts them (the library's setup is not safe to
 * race). */
void db_library_init(void);
/* The server's error number of the last failure (0 if none). */
unsigned db_errno(const struct db *db);
/* 1 if the last failure was a deadlock or a lock wait timeout: the server
 * rolled back the statement, or the whole transaction (a deadlock, and a
 * Galera certification conflict, which reports as one), and the same work
 * may simply be tried again. */
int db_conflict(const struct db *db);
/* 1 if the last failure was a row another session holds locked: a lock wait
 * timeout, or a NOWAIT read of a locked row. */
int db_lock_busy(const struct db *db);
/* 1 if the last failure was a statement naming a table that does not
 * exist (a schema not yet upgraded). */
int db_no_table(const struct db *db);
/* 1 if the last failed statement or COMMIT lost its connection after it was
 * sent: the server may have done it. A caller about to repeat work that is
 * not idempotent must read first. */
int db_maybe_applied(const struct db *db);
/* 1 if the last failure left the connection: lost or killed, a host that
 * stopped taking writes, or none could be made. A transaction it was in
 * is rolled back by the server (unless db_maybe_applied: its COMMIT was
 * sent), and the next call connects again, to the next usable host. */
int db_gone(const struct db *db);
/* The server's id of the open connection (0 if none), as KILL and the
 * process list name it. */
unsigned long db_connection_id(const struct db *db);
/* The host in use (or last used) of the database's list, and its port. */
const char *db_host(const struct db *db, unsigned *port);
/* How many times the database moved to another host of its list. */
unsigned long db_failovers(const struct db *db);
/* Deadlocks, lock waits and certification conflicts met so far. */
unsigned long db_conflicts(const struct db *db);
/* The index in the host list of the host in use (or last used), -1 before
 * the first connection. */
int db_host_index(const struct db *db);

/* Timeouts of the connections made from now on (DB_CONNECT_TIMEOUT and
 * DB_IO_TIMEOUT by default): a probe wants an answer soon or none. */
void db_set_timeouts(struct db *db, unsigned connect_seconds,
    unsigned io_seconds);
/* Does the database answer? One round trip on the open connection, else a
 * connection to the first usable host of its list (a Galera node that is
 * not synced and ready is not usable). 0 if so, -1 with the reason in err.
 * Between transactions only: inside one it only connects. */
int db_probe(struct db *db, char *err, size_t errlen);

/*
 * Run statement id (nrows: the number of rows or ids of a variable shape,
 * else 1) with params. affected and insert_id may be NULL. Connects first if
 * needed. On a connection error the database is closed and backs off. -1 with
 * err filled on error.
 */
int db_exec(struct db *db, enum sql_id id, unsigned nrows,
    const struct dbval *params, size_t nparams, uint64_t *affected,
    uint64_t *insert_id, char *err, size_t errlen);

/* Run a statement whose rows are jobs (columns as SQL_JOB_COLUMNS) and append
 * them to *jobs (realloc'd), counting *njobs. Each job's dbid is set. A
 * variable statement (an IN list) is shaped by nparams. */
int db_select_jobs(struct db *db, enum sql_id id, const struct dbval *params,
    size_t nparams, struct gv_job **jobs, size_t *njobs, char *err,
    size_t errlen);

/* Run a statement returning one unsigned integer (COUNT, jobid). *found is
 * 0 when there was no row. */
int db_select_u64(struct db *db, enum sql_id id, const struct dbval *params,
    size_t nparams, uint64_t *value, int *found, char *err, size_t errlen);

/* A transaction whose connection was lost fails as a whole: every later
 * call in it, and its COMMIT, return -1 until db_rollback or db_commit ends
 * it. A COMMIT refused for a conflict (db_conflict) has been rolled back. */
int db_begin(struct db *db, char *err, size_t errlen);
int db_commit(struct db *db, char *err, size_t errlen);
void db_rollback(struct db *db);

/* Free the jobs of db_select_jobs. */
void db_jobs_free(struct gv_job *jobs, size_t njobs);

/* Rows of any shape (gvctl's figures, failures): each cell a NUL-terminated
 * copy of its column's text (a number as its decimals), NULL for SQL NULL,
 * whole however long. */
struct dbrows {
	size_t nrows;
	unsigned ncols;
	char **cell;             /* row r, column c: cell[r * ncols + c] */
	size_t *len;             /* the cells' lengths in bytes */
};
/* The rows of id, whose result has ncols columns (at most DB_ROW_COLS). A
 * variable statement (an IN list) is shaped by nparams. -1 with the reason
 * in err; rows is then empty. */
#define DB_ROW_COLS 16
int db_select_rows(struct db *db, enum sql_id id, const struct dbval *params,
    size_t nparams, unsigned ncols, struct dbrows *rows, char *err,
    size_t errlen);
void db_rows_free(struct dbrows *rows);

#endif
