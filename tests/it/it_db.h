/*
 * it_db: what the C integration tests (tests/it/) share: the INI they run
 * with (GV_TEST_INI, loaded into cfg by their setup) and raw connections to
 * its databases, so that a check reads what a database holds, not what the
 * library believes. Included once per test program.
 */
#ifndef IT_DB_H
#define IT_DB_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <check.h>
#include <mysql.h>

#include "client.h"
#include "config.h"

static struct config *cfg;

/* A connection of its own to database dbid of cfg, kept open. */
static MYSQL *
raw(unsigned dbid)
{
	static MYSQL *conns[CONFIG_MAX_DBS];
	size_t i;

	for (i = 0; i < cfg->ndbs; i++) {
		const struct config_db *d = &cfg->dbs[i];

		if (d->dbid != dbid)
			continue;
		if (conns[i] == NULL) {
			conns[i] = mysql_init(NULL);
			ck_assert_ptr_nonnull(mysql_real_connect(conns[i],
			    d->host, d->user, d->password, d->database,
			    d->port, d->socket, 0));
		}
		return conns[i];
	}
	ck_abort_msg("no database %u", dbid);
	return NULL;
}

static void sql(unsigned dbid, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
sql(unsigned dbid, const char *fmt, ...)
{
	char q[1024];
	va_list ap;
	MYSQL *m = raw(dbid);

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	ck_assert_msg(mysql_query(m, q) == 0, "%s: %s", q, mysql_error(m));
}

/* The first column of the first row of a query, as a number (-1 if NULL
 * or none). */
static long long num(unsigned dbid, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static long long
num(unsigned dbid, const char *fmt, ...)
{
	char q[1024];
	va_list ap;
	MYSQL *m = raw(dbid);
	MYSQL_RES *res;
	MYSQL_ROW row;
	long long v = -1;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	ck_assert_msg(mysql_query(m, q) == 0, "%s: %s", q, mysql_error(m));
	res = mysql_store_result(m);
	if ((row = mysql_fetch_row(res)) != NULL && row[0])
		v = atoll(row[0]);
	mysql_free_result(res);
	return v;
}

/* The setup of a case: cfg loaded from GV_TEST_INI (two databases at
 * least), a client on it, and the tables named (NULL-terminated) emptied
 * in every database. */
static gv_client *
it_open(const char *const *tables)
{
	char err[CONFIG_ERRLEN];
	const char *ini = getenv("GV_TEST_INI");
	gv_client *c;
	size_t i, k;

	ck_assert_msg(ini != NULL, "GV_TEST_INI is not set");
	cfg = config_load(ini, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_uint_ge(cfg->ndbs, 2);
	c = client_open_config(cfg, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	for (i = 0; i < cfg->ndbs; i++)
		for (k = 0; tables[k]; k++)
			sql(cfg->dbs[i].dbid, "DELETE FROM %s", tables[k]);
	return c;
}

/* The teardown: the client and cfg closed. */
static void
it_close(gv_client *c)
{
	gv_close(c);
	config_free(cfg);
}

#endif
