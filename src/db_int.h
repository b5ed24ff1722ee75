/*
 * db_int: what the database module's two files share, internal to them:
 * struct db (a database's hosts, its connection, where its transaction
 * stands, and the statements prepared on that connection), the client
 * library's flag type, and the calls each file makes of the other. db.c
 * owns the connection, its hosts, its health and its transactions;
 * db_stmt.c prepares, binds and runs statements on that connection and
 * reads their results. The rest of the code sees db.h alone.
 */
#ifndef DB_INT_H
#define DB_INT_H

#include <stddef.h>

#include <mysql.h>

#include "db.h"
#include "hostport.h"
#include "util.h"

/* The flags MYSQL_BIND points at: my_bool in MariaDB Connector/C (whose
 * MYSQL_VERSION_ID is the server's, 10xxxx) and in MySQL's client before
 * 8.0, C's bool in MySQL 8.0's, which dropped my_bool. */
#if defined(MARIADB_PACKAGE_VERSION_ID) || MYSQL_VERSION_ID < 80000
typedef my_bool db_bool;
#else
#include <stdbool.h>
typedef bool db_bool;
#endif

#define DB_STMT_CACHE 32

struct cached_stmt {
	enum sql_id id;
	unsigned n;
	MYSQL_STMT *stmt;
	unsigned long used;      /* tick of the last use, for LRU eviction */
};

/* One host of a database's ordered list, with its own backoff: a host that
 * could not be connected to (or is not a synced Galera node) is passed over
 * for a while, so a dead first host does not cost a connect timeout on
 * every reconnect. */
struct db_host {
	struct hostport hp;
	struct backoff backoff;  /* reset by a connection */
};

struct db {
	unsigned dbid;
	struct db_host *hosts;
	size_t nhosts;
	size_t cur;              /* the host connected to, or last used */
	double failback_at;      /* time_mono() to try earlier hosts again */
	double recheck_at;       /* time_mono() to look at the host again */
	unsigned long failovers; /* moves to another host */
	unsigned long conflicts; /* deadlocks, lock waits, certification */
	int connected_once;      /* cur names a host that was connected */
	char *socket;
	char *database;
	char *user;
	char *password;
	MYSQL *conn;
	double last_used;        /* time_mono() */
	int in_txn;
	int txn_lost;            /* the connection went inside a transaction */
	int maybe_applied;       /* the last failed call may have been done */
	struct backoff backoff;  /* after a lost connection; reset by a
	                            success */
	unsigned last_errno;
	unsigned connect_timeout, io_timeout;   /* seconds */
	struct cached_stmt cache[DB_STMT_CACHE];
	size_t ncache;
	unsigned long tick;
};

/* db.c */

/* Connect db, or check the connection it has, before a statement or a
 * BEGIN: one idle for a while is pinged, one on a host that no longer takes
 * writes is left, one on a later host moves back to an earlier one now and
 * then. A transaction whose connection went fails instead: the rest of it
 * must not run outside it. -1 with err filled and the failure recorded. */
int db_connect(struct db *db, char *err, size_t errlen);
/* Record the failure e of a call (db_errno): a conflict is counted; a lost
 * connection, or a host that stopped taking writes, closes the connection
 * and backs the database off. */
void db_failed(struct db *db, unsigned e);
/* Record a success: no error, no backoff, and the connection counts as
 * just used (no ping before the next call). */
void db_ok(struct db *db);
/* Fill err for a call of a transaction whose connection went, which reads
 * as a lost connection (db_gone); -1. */
int db_txn_lost_error(struct db *db, char *err, size_t errlen);
/* 1 if the error number e says the connection is gone. */
int db_conn_lost(unsigned e);

/* db_stmt.c */

/* Free the statements prepared on the connection (as it is closed). */
void db_stmt_cache_clear(struct db *db);

#endif
