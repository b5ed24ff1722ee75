/*
 * db: a configured database and its connection: its ordered hosts, the one
 * written to and when to move off it or back (connect_first, failback,
 * still_usable), its health and backoffs, how a failure is read (a lost
 * connection, a host refusing writes, a conflict), and its transactions,
 * which live and die with the connection. The statements run on it and
 * their results are db_stmt.c's; db_int.h holds what the two share.
 *
 * Sessions run at READ COMMITTED so the claim's locking read takes row locks
 * only, not gap locks that would stall concurrent inserts of due jobs.
 * CLIENT_FOUND_ROWS makes an UPDATE report the rows it matched, not the rows
 * it changed: a fenced statement that matched its (jobid, attempt) succeeded
 * even when it wrote the value the row already had.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "db.h"
#include "db_int.h"
#include "dbfault.h"
#include "hostport.h"
#include "util.h"

#define DB_CONNECT_TIMEOUT 5     /* seconds */
#define DB_IO_TIMEOUT 60         /* seconds, read and write */
#define DB_IDLE_PING 2.0         /* seconds idle before a ping */
#define DB_BACKOFF_MIN 0.5      /* after a failure, doubling to */
#define DB_BACKOFF_MAX 30.0
#define DB_FAILBACK 30.0         /* seconds on a later host before trying
				    the earlier ones again */
#define DB_RECHECK 5.0           /* seconds between two looks at whether
				    the host in use still takes writes */

/* The hosts of s: its host list, each without a port taking s's port. */
static int
hosts_new(struct db *db, const struct gv_db_settings *s, char *err,
    size_t errlen)
{
	struct hostport list[HOSTPORT_MAX_PER_DB];
	const char *host = s->host && *s->host ? s->host :
	    (s->socket ? "localhost" : "127.0.0.1");
	char why[256];
	size_t i, n;

	if (hostport_parse_list(host, s->port ? s->port : 3306, list,
	    HOSTPORT_MAX_PER_DB, &n, why, sizeof(why)) == -1)
		return errf(err, errlen, "database %u: host: %s", s->dbid,
		    why);
	if ((db->hosts = calloc(n, sizeof(*db->hosts))) == NULL)
		return errf(err, errlen, "out of memory");
	for (i = 0; i < n; i++)
		db->hosts[i].hp = list[i];
	db->nhosts = n;
	return 0;
}

struct db *
db_new(const struct gv_db_settings *s, char *err, size_t errlen)
{
	struct db *db;

	if ((db = calloc(1, sizeof(*db))) == NULL) {
		errf(err, errlen, "out of memory");
		return NULL;
	}
	db->dbid = s->dbid;
	db->connect_timeout = DB_CONNECT_TIMEOUT;
	db->io_timeout = DB_IO_TIMEOUT;
	if (hosts_new(db, s, err, errlen) == -1)
		goto fail;
	db->socket = str_dup(s->socket);
	db->database = str_dup(s->database ? s->database : "");
	db->user = str_dup(s->user ? s->user : "");
	db->password = str_dup(s->password ? s->password : "");
	if (!db->database || !db->user || !db->password ||
	    (s->socket && !db->socket)) {
		errf(err, errlen, "out of memory");
		goto fail;
	}
	return db;
fail:
	db_free(db);
	return NULL;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	db_disconnect(db);
	free(db->hosts);
	free(db->socket);
	free(db->database);
	free(db->user);
	if (db->password)
		explicit_bzero(db->password, strlen(db->password));
	free(db->password);
	free(db);
}

unsigned
db_id(const struct db *db)
{
	return db->dbid;
}

int
db_healthy(const struct db *db, double now)
{
	return !backoff_waiting(&db->backoff, now);
}

double
db_backoff_left(const struct db *db, double now)
{
	return backoff_left(&db->backoff, now);
}

unsigned
db_errno(const struct db *db)
{
	return db->last_errno;
}

const char *
db_host(const struct db *db, unsigned *port)
{
	if (port)
		*port = db->hosts[db->cur].hp.port;
	return db->hosts[db->cur].hp.host;
}

unsigned long
db_failovers(const struct db *db)
{
	return db->failovers;
}

unsigned long
db_conflicts(const struct db *db)
{
	return db->conflicts;
}

int
db_host_index(const struct db *db)
{
	return db->connected_once ? (int)db->cur : -1;
}

unsigned long
db_connection_id(const struct db *db)
{
	return db->conn ? mysql_thread_id(db->conn) : 0;
}

/* MySQL 8's answer to a NOWAIT read of a locked row (MariaDB answers with
 * ER_LOCK_WAIT_TIMEOUT); absent from MariaDB's headers. */
#define ER_LOCK_NOWAIT_MYSQL 3572

int
db_conflict(const struct db *db)
{
	return db->last_errno == ER_LOCK_DEADLOCK || db_lock_busy(db);
}

int
db_lock_busy(const struct db *db)
{
	return db->last_errno == ER_LOCK_WAIT_TIMEOUT ||
	    db->last_errno == ER_LOCK_NOWAIT_MYSQL;
}

int
db_no_table(const struct db *db)
{
	return db->last_errno == ER_NO_SUCH_TABLE;
}

int
db_maybe_applied(const struct db *db)
{
	return db->maybe_applied;
}

void
db_library_init(void)
{
	mysql_library_init(0, NULL, NULL);
}

void
db_thread_init(void)
{
	mysql_thread_init();
}

void
db_thread_end(void)
{
	mysql_thread_end();
}

/* A transaction lives and dies with its connection: one closed inside it
 * is marked lost, and every later call of that transaction fails until the
 * caller ends it (db_rollback, db_commit or a new db_begin). Reconnecting
 * and carrying on would run the rest in autocommit, without the locks the
 * transaction took (a claim's lease written on rows it no longer holds). */
void
db_disconnect(struct db *db)
{
	/* The connection first: closing it detaches its statements (both
	 * client libraries), which are then freed without a word to the
	 * server. Closed first, a statement whose result was never read
	 * (an answer lost, as far as the caller knows, on a connection
	 * that is in fact alive) made libmariadb read that result, and wait
	 * for it for the read timeout while the server held the
	 * transaction's locks (it_client select_answer_lost). */
	if (db->conn)
		mysql_close(db->conn);
	db_stmt_cache_clear(db);
	db->conn = NULL;
	if (db->in_txn)
		db->txn_lost = 1;
	db->in_txn = 0;
}

/* The connection went between two statements of the transaction (found
 * by a ping, or at the COMMIT): the failure reads as a lost connection. */
int
db_txn_lost_error(struct db *db, char *err, size_t errlen)
{
	db->last_errno = CR_SERVER_LOST;
	return errf(err, errlen, "database %u: the connection was lost inside "
	    "a transaction, which the server rolled back", db->dbid);
}

/* Client errors (CR_*, 2000..2999) and the server's own goodbyes mean the
 * connection is gone; anything else is about the statement. */
int
db_conn_lost(unsigned e)
{
	return (e >= 2000 && e < 3000) || e == ER_SERVER_SHUTDOWN ||
	    e == ER_CON_COUNT_ERROR || e == 1927 /* connection killed */ ||
	    e == 4031 /* idle disconnect */;
}

static void
host_failed(struct db_host *h)
{
	backoff_fail(&h->backoff, time_mono(), DB_BACKOFF_MIN, DB_BACKOFF_MAX);
}

/*
 * A host that stopped taking writes while connected, on a connection that
 * stays open: a Galera node no longer ready (cut off from the primary
 * component, or shutting down) answers every statement with "WSREP has not
 * yet prepared node for application use"; a primary made read-only at a
 * switchover answers every write with ER_OPTION_PREVENTS_STATEMENT. It is
 * left as if the connection were lost, so the next statement goes to the
 * next usable host; kept, it refused everything for as long as it was so.
 * The statement was refused, not done.
 */
static int
host_refuses(unsigned e)
{
	return e == ER_UNKNOWN_COM_ERROR || e == ER_OPTION_PREVENTS_STATEMENT;
}

int
db_gone(const struct db *db)
{
	return db_conn_lost(db->last_errno) || host_refuses(db->last_errno);
}

void
db_failed(struct db *db, unsigned e)
{
	db->last_errno = e;
	if (db_conflict(db))
		db->conflicts++;
	if (!db_conn_lost(e) && !host_refuses(e))
		return;
	if (host_refuses(e))
		host_failed(&db->hosts[db->cur]);
	db_disconnect(db);
	backoff_fail(&db->backoff, time_mono(), DB_BACKOFF_MIN,
	    DB_BACKOFF_MAX);
}

void
db_ok(struct db *db)
{
	backoff_reset(&db->backoff);
	db->last_errno = 0;
	db->last_used = time_mono();
}

/* 1 if statement id (no parameters, one text column) gives want as its
 * first row, 0 if another value or no row, -1 if it failed. Prepared like
 * every other statement, on a connection not yet db's own. */
static int
value_is(MYSQL *m, enum sql_id id, const char *want)
{
	const char *q = sql_text(id, 1, NULL, 0);
	MYSQL_STMT *stmt;
	MYSQL_BIND b;
	char value[64];
	unsigned long len = 0;
	db_bool is_null = 0;
	int rc = -1;

	if ((stmt = mysql_stmt_init(m)) == NULL)
		return -1;
	memset(&b, 0, sizeof(b));
	b.buffer_type = MYSQL_TYPE_STRING;
	b.buffer = value;
	b.buffer_length = sizeof(value) - 1;
	b.length = &len;
	b.is_null = &is_null;
	if (mysql_stmt_prepare(stmt, q, strlen(q)) == 0 &&
	    mysql_stmt_execute(stmt) == 0 &&
	    mysql_stmt_bind_result(stmt, &b) == 0) {
		rc = 0;
		if (mysql_stmt_fetch(stmt) == 0 && !is_null) {
			value[len < sizeof(value) ? len : sizeof(value) - 1] =
			    '\0';
			rc = strcmp(value, want) == 0;
		}
		mysql_stmt_free_result(stmt);
	}
	mysql_stmt_close(stmt);
	return rc;
}

/*
 * A read-only server (read_only set: a replica not yet promoted) is never
 * written to, even by a user whose privileges would let it write there (as
 * root's do): rows stored on a replica would be stranded once every writer
 * is back on the primary. A value that cannot be read counts as writable.
 *
 * A Galera node is used only while it is synced and ready: a node that is
 * joining, donating or cut off from the primary component refuses writes or
 * serves stale data. A server that is not a Galera node (wsrep_on absent or
 * OFF) is always usable.
 */
static int
host_usable(MYSQL *m, char *why, size_t whylen)
{
	/* "0" or "1" (MySQL, MariaDB before 11.x), "OFF", "ON" and more
	 * (MariaDB's enum since). */
	if (value_is(m, SQL_READ_ONLY, "0") == 0 &&
	    value_is(m, SQL_READ_ONLY, "OFF") == 0)
		return errf(why, whylen, "read-only (read_only is set: a "
		    "replica not promoted?)");
	if (value_is(m, SQL_WSREP_ON, "ON") != 1)
		return 0;
	if (value_is(m, SQL_WSREP_STATE, "Synced/ON") != 1)
		return errf(why, whylen, "a Galera node that is not synced "
		    "and ready");
	return 0;
}

/* A new connection to host i of db, or NULL with the reason in err and
 * the server's error number in *e. */
static MYSQL *
connect_host(struct db *db, size_t i, unsigned *e, char *err, size_t errlen)
{
	const struct hostport *h = &db->hosts[i].hp;
	unsigned int timeout;
	db_bool off = 0;
	char why[256];
	MYSQL *m;

	if ((m = mysql_init(NULL)) == NULL) {
		*e = CR_OUT_OF_MEMORY;
		errf(err, errlen, "database %u: out of memory", db->dbid);
		return NULL;
	}
	timeout = db->connect_timeout;
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	timeout = db->io_timeout;
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
#if defined(MARIADB_PACKAGE_VERSION_ID) || MYSQL_VERSION_ID < 80000
	mysql_options(m, MYSQL_OPT_RECONNECT, &off);
#else
	/* Off by default there too; MySQL 8.0.34's client warns on stderr at
	 * every use of the option. */
	(void)off;
#endif
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* Standard SQL, not the tx_isolation variable, which MySQL 8.0.3
	 * removed (MariaDB 11 deprecates it): with it, MySQL 8 refused every
	 * session. */
	mysql_options(m, MYSQL_INIT_COMMAND,
	    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
	if ((*e = DBFAULT(DBFAULT_CONNECT, 0)) != 0 ||
	    mysql_real_connect(m, h->host, db->user, db->password,
	    db->database, db->socket ? 0 : h->port, db->socket,
	    CLIENT_FOUND_ROWS) == NULL) {
		if (*e == 0)
			*e = mysql_errno(m);
		errf(err, errlen, "database %u: cannot connect to %s:%u: %s",
		    db->dbid, h->host, h->port, DBFAULT_TEXT(mysql_error(m)));
		mysql_close(m);
		return NULL;
	}
	if (host_usable(m, why, sizeof(why)) == -1) {
		*e = CR_CONNECTION_ERROR;
		errf(err, errlen, "database %u: %s:%u is %s", db->dbid,
		    h->host, h->port, why);
		mysql_close(m);
		return NULL;
	}
	return m;
}

/* Take m, a connection to host i, as db's connection. */
static void
use_host(struct db *db, size_t i, MYSQL *m)
{
	double now = time_mono();

	if (db->conn)
		db_disconnect(db);
	if (i != db->cur)
		db->failovers++;
	db->conn = m;
	db->cur = i;
	db->connected_once = 1;
	backoff_reset(&db->hosts[i].backoff);
	db->failback_at = now + DB_FAILBACK;
	db->recheck_at = now + DB_RECHECK;
	db->last_used = now;
}

/*
 * Connect to the first usable host in the list's order, passing over hosts
 * in their own backoff (unless every host is). One writer at a time, and
 * every process of every master picks the same one: Galera's advice, since
 * writers on several nodes conflict at certification.
 */
static int
connect_first(struct db *db, char *err, size_t errlen)
{
	double now = time_mono();
	size_t i, tried = 0;
	unsigned e = 0, first_e = 0;
	int pass;
	MYSQL *m;

	for (pass = 0; pass < 2 && tried == 0; pass++) {
		for (i = 0; i < db->nhosts; i++) {
			if (pass == 0 && db->nhosts > 1 &&
			    backoff_waiting(&db->hosts[i].backoff, now))
				continue;
			tried++;
			if ((m = connect_host(db, i, &e, err, errlen)) != NULL) {
				use_host(db, i, m);
				return 0;
			}
			if (first_e == 0)
				first_e = e;
			host_failed(&db->hosts[i]);
		}
	}
	/* Every connect failure backs off, even "access denied": it may be
	 * fixed any moment and must not be hammered. */
	db_failed(db, first_e >= 2000 && first_e < 3000 ? first_e :
	    CR_CONNECTION_ERROR);
	db->last_errno = first_e;
	return -1;
}

/* On a later host than the first, between transactions, now and then: move
 * back to an earlier host that connects and is usable again, so that every
 * writer returns to the same one after a failover. The connection in use is
 * dropped only once the new one works. */
static void
failback(struct db *db)
{
	double now = time_mono();
	char why[256];
	unsigned e;
	size_t i;
	MYSQL *m;

	if (db->cur == 0 || db->in_txn || now < db->failback_at)
		return;
	db->failback_at = now + DB_FAILBACK;
	for (i = 0; i < db->cur; i++) {
		if (backoff_waiting(&db->hosts[i].backoff, now))
			continue;
		if ((m = connect_host(db, i, &e, why, sizeof(why))) != NULL) {
			use_host(db, i, m);
			return;
		}
		host_failed(&db->hosts[i]);
	}
}

/*
 * Between transactions, every DB_RECHECK seconds: does the host in use still
 * take writes? A primary made read-only at a switchover, or a Galera node
 * that left the primary component, may still answer reads; a process that
 * only reads there (a QueueRunner with nothing due on it) would never meet
 * a refused write, and stay. 0 when it must be left.
 */
static int
still_usable(struct db *db)
{
	double now = time_mono();
	char why[256];

	if (db->in_txn || now < db->recheck_at)
		return 1;
	db->recheck_at = now + DB_RECHECK;
	if (host_usable(db->conn, why, sizeof(why)) == 0)
		return 1;
	host_failed(&db->hosts[db->cur]);
	return 0;
}

int
db_connect(struct db *db, char *err, size_t errlen)
{
	if (db->conn) {
		/* A connection idle for long may have been closed by the
		 * server (wait_timeout) or a restart: find out before a
		 * statement fails half-way. */
		if ((time_mono() - db->last_used < DB_IDLE_PING ||
		    mysql_ping(db->conn) == 0) && still_usable(db)) {
			failback(db);
			return 0;
		}
		db_disconnect(db);
	}
	if (db->txn_lost)
		return db_txn_lost_error(db, err, errlen);
	return connect_first(db, err, errlen);
}

void
db_set_timeouts(struct db *db, unsigned connect_seconds, unsigned io_seconds)
{
	db->connect_timeout = connect_seconds;
	db->io_timeout = io_seconds;
}

int
db_probe(struct db *db, char *err, size_t errlen)
{
	if (db->conn && !db->in_txn) {
		if (mysql_ping(db->conn) != 0) {
			errf(err, errlen, "database %u: %s", db->dbid,
			    mysql_error(db->conn));
			db_failed(db, mysql_errno(db->conn));
			db_disconnect(db);
		} else
			db->last_used = time_mono();
	}
	return db_connect(db, err, errlen);
}

int
db_begin(struct db *db, char *err, size_t errlen)
{
	db->txn_lost = 0;
	if (db_connect(db, err, errlen) == -1)
		return -1;
	if (mysql_autocommit(db->conn, 0) != 0) {
		errf(err, errlen, "database %u: begin: %s", db->dbid,
		    mysql_error(db->conn));
		db_failed(db, mysql_errno(db->conn));
		return -1;
	}
	db->in_txn = 1;
	return 0;
}

/* A failed COMMIT leaves the outcome unknown to us: the connection is
 * dropped, and callers must treat the work as possibly committed (a claim:
 * the rows may be leased, and come back when the lease ends; an insert: it
 * may be stored, so it may run twice, never zero times). */
int
db_commit(struct db *db, char *err, size_t errlen)
{
	unsigned e;
	int rc;

	db->maybe_applied = 0;
	if (db->txn_lost || db->conn == NULL || !db->in_txn) {
		db->txn_lost = 0;
		db->in_txn = 0;
		return db_txn_lost_error(db, err, errlen);
	}
	e = DBFAULT(DBFAULT_COMMIT, 0);
	rc = e ? -1 : mysql_commit(db->conn);
	if (rc == 0 && (e = DBFAULT(DBFAULT_COMMIT, 1)) != 0)
		rc = -1;
	if (rc != 0) {
		if (e == 0)
			e = mysql_errno(db->conn);
		errf(err, errlen, "database %u: commit: %s", db->dbid,
		    DBFAULT_TEXT(mysql_error(db->conn)));
		db_failed(db, e);
		if (db_conflict(db)) {
			/* A deadlock or a certification conflict (Galera
			 * reports one as a deadlock at COMMIT): the server
			 * rolled the whole transaction back, the outcome is
			 * known and the connection is fine. */
			db_rollback(db);
			return -1;
		}
		/* Unknown only when the connection went with the COMMIT
		 * sent; an error the server answered (a host that stopped
		 * taking writes) was not a commit. */
		db->maybe_applied = db_conn_lost(e) &&
		    e != CR_SERVER_GONE_ERROR;
		if (db->conn)
			db_disconnect(db);
		db->txn_lost = 0;
		return -1;
	}
	if (mysql_autocommit(db->conn, 1) != 0) {
		db_failed(db, mysql_errno(db->conn));
		if (db->conn)
			db_disconnect(db);
	}
	db->in_txn = 0;
	return 0;
}

void
db_rollback(struct db *db)
{
	int ok = db->conn != NULL && mysql_rollback(db->conn) == 0 &&
	    mysql_autocommit(db->conn, 1) == 0;

	/* The caller has ended the transaction either way: a connection
	 * stuck in an unknown transaction state is dropped, and the server
	 * rolls back what it held, without the next statement, outside any
	 * transaction, being refused as part of a lost one
	 * (it_client rollback_on_a_dead_connection_ends_it). */
	db->in_txn = 0;
	if (!ok && db->conn)
		db_disconnect(db);
	db->txn_lost = 0;
}
