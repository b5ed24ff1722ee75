/*
 * client: libgarivini, the public C client API (garivini.h): a client
 * opened (on settings or an INI, with its functions' failure policies),
 * configured and closed, its errors, and the retry of a conflict. New jobs
 * are client_insert.c's, what becomes of a stored job client_answer.c's;
 * client_int.h holds what the three share.
 *
 * Every call fills gv->err and returns a gv_error code; nothing here prints,
 * logs or exits.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "client_int.h"
#include "dbset.h"
#include "util.h"

#define CONFLICT_TRIES 30         /* a deadlock or conflict, tried again */
#define CONFLICT_PAUSE 0.005      /* seconds before the first retry ... */
#define CONFLICT_PAUSE_MAX 0.5    /* ... doubling to this, with jitter */

/*
 * After a failure of db: 1 if it was a conflict (a deadlock, a lock wait
 * timeout, a Galera certification conflict) to try again, after a short
 * pause. The pause doubles and is jittered: two writers on two Galera
 * nodes that conflict on every commit (inserts of one function conflict,
 * as Galera certifies NULL unique keys) would otherwise retry in step and
 * conflict again (seen in tests/cluster/10-galera.t).
 */
int
client_conflict_retry(gv_client *gv, struct db *db, int *tries)
{
	double pause = 0;
	int i;

	if (!db_conflict(db) || *tries >= CONFLICT_TRIES)
		return 0;
	for (i = 0; i <= *tries && pause < CONFLICT_PAUSE_MAX; i++)
		pause = backoff_next(pause, CONFLICT_PAUSE,
		    CONFLICT_PAUSE_MAX);
	(*tries)++;
	time_sleep(pause * (0.5 + (double)rand_r(&gv->seed) / RAND_MAX),
	    NULL);
	return 1;
}

int
client_fail(gv_client *gv, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(gv->err, sizeof(gv->err), fmt, ap);
	va_end(ap);
	return code;
}

gv_client *
gv_open(const struct gv_db_settings *dbs, size_t ndbs, char *err,
    size_t errlen)
{
	gv_client *gv;

	if ((gv = calloc(1, sizeof(*gv))) == NULL) {
		errf(err, errlen, "out of memory");
		return NULL;
	}
	if ((gv->dbs = dbset_new(dbs, ndbs, err, errlen)) == NULL) {
		free(gv);
		return NULL;
	}
	gv->seed = (unsigned)(time_real() * 1e6) ^ (unsigned)getpid();
	gv->policy.retry_first = GV_RETRY_FIRST;
	gv->policy.retry_max = GV_RETRY_MAX;
	gv->keep_done = GV_KEEP_DONE;
	return gv;
}

/* A client of cfg on its databases, or only on database dbid (not 0). */
static gv_client *
open_config(const struct config *cfg, unsigned dbid, char *err,
    size_t errlen)
{
	struct gv_db_settings s[CONFIG_MAX_DBS];
	gv_client *gv;
	size_t i, n = 0;

	for (i = 0; i < cfg->ndbs; i++) {
		const struct config_db *d = &cfg->dbs[i];

		if (dbid && d->dbid != dbid)
			continue;
		s[n++] = (struct gv_db_settings){ .dbid = d->dbid,
		    .host = d->host, .port = d->port, .socket = d->socket,
		    .database = d->database, .user = d->user,
		    .password = d->password };
	}
	if (n == 0) {
		errf(err, errlen, "database %u is not configured", dbid);
		return NULL;
	}
	if ((gv = gv_open(s, n, err, errlen)) == NULL)
		return NULL;
	gv->policy = (struct fail_policy){
	    .max_failures = (unsigned)cfg->controller.max_failures,
	    .retry_first = (unsigned)cfg->controller.retry_first,
	    .retry_max = (unsigned)cfg->controller.retry_max };
	gv->keep_done = (unsigned)cfg->keep_done;
	if (cfg->nfuncs && (gv->ff = calloc(cfg->nfuncs, sizeof(*gv->ff))) ==
	    NULL) {
		errf(err, errlen, "out of memory");
		gv_close(gv);
		return NULL;
	}
	/* In cfg's order, sorted by name. */
	for (i = 0; i < cfg->nfuncs; i++) {
		const struct config_func *f = &cfg->funcs[i];
		struct func_policy *fp = &gv->ff[gv->nff];

		if (f->max_failures < 0 && f->retry_first < 0 &&
		    f->retry_max < 0 && f->keep_done < 0 && f->unique_for < 0)
			continue;
		if ((fp->funcname = strdup(f->name)) == NULL) {
			errf(err, errlen, "out of memory");
			gv_close(gv);
			return NULL;
		}
		gv->nff++;
		/* An unset (negative) retry value becomes 0: the client's. */
		fp->max_failures = f->max_failures;
		fp->retry_first = f->retry_first > 0 ?
		    (unsigned)f->retry_first : 0;
		fp->retry_max = f->retry_max > 0 ? (unsigned)f->retry_max : 0;
		fp->keep_done = f->keep_done;
		fp->unique_for = f->unique_for > 0 ? (unsigned)f->unique_for :
		    0;
	}
	return gv;
}

gv_client *
client_open_config(const struct config *cfg, char *err, size_t errlen)
{
	return open_config(cfg, 0, err, errlen);
}

gv_client *
client_open_config_db(const struct config *cfg, unsigned dbid, char *err,
    size_t errlen)
{
	return open_config(cfg, dbid, err, errlen);
}

gv_client *
gv_open_ini(const char *path, char *err, size_t errlen)
{
	struct config *cfg;
	gv_client *gv;

	if ((cfg = config_load(path, err, errlen)) == NULL)
		return NULL;
	gv = client_open_config(cfg, err, errlen);
	config_free(cfg);
	return gv;
}

/* The public struct and limit are config's, spelt for users. */
_Static_assert(GV_SERVERS_MAX == CONFIG_MAX_SERVERS,
    "GV_SERVERS_MAX is garivini.ini's limit");
_Static_assert(sizeof(((struct gv_server *)0)->host) ==
    sizeof(((struct config_server *)0)->host), "GV_HOST_MAX is config's");

int
gv_ini_servers(const char *path, struct gv_server *servers, size_t max,
    size_t *n, char *err, size_t errlen)
{
	struct config *cfg;
	size_t i;

	if ((cfg = config_load(path, err, errlen)) == NULL)
		return GV_ECONFIG;
	for (i = 0; i < cfg->nservers && i < max; i++) {
		memcpy(servers[i].host, cfg->servers[i].host,
		    sizeof(servers[i].host));
		servers[i].port = cfg->servers[i].port;
	}
	*n = cfg->nservers;
	config_free(cfg);
	return GV_OK;
}

void
gv_close(gv_client *gv)
{
	if (gv == NULL)
		return;
	gv_flush(gv);
	dbset_free(gv->dbs);
	free(gv->later);
	for (size_t i = 0; i < gv->nff; i++)
		free(gv->ff[i].funcname);
	free(gv->ff);
	free(gv);
}

const char *
gv_errmsg(const gv_client *gv)
{
	return gv ? gv->err : "no client";
}

struct dbset *
client_dbset(gv_client *gv)
{
	return gv->dbs;
}

void
gv_set_max_failures(gv_client *gv, unsigned max_failures)
{
	gv->policy.max_failures = max_failures;
}

int
gv_set_retry_backoff(gv_client *gv, unsigned first, unsigned max)
{
	if (first < 1 || first > GV_RETRY_FIRST_LIMIT)
		return client_fail(gv, GV_EINVAL, "retry first %u is out of "
		    "range 1..%d", first, GV_RETRY_FIRST_LIMIT);
	if (max < first || max > GV_RETRY_MAX_LIMIT)
		return client_fail(gv, GV_EINVAL, "retry max %u is out of "
		    "range %u..%d (at least the first)", max, first,
		    GV_RETRY_MAX_LIMIT);
	gv->policy.retry_first = first;
	gv->policy.retry_max = max;
	return GV_OK;
}

int
gv_set_keep_done(gv_client *gv, unsigned seconds)
{
	if (seconds > GV_KEEP_DONE_MAX)
		return client_fail(gv, GV_EINVAL, "keep_done %u is over %d",
		    seconds, GV_KEEP_DONE_MAX);
	gv->keep_done = seconds;
	return GV_OK;
}

static int
cmp_policy(const void *key, const void *elem)
{
	return strcmp(key, ((const struct func_policy *)elem)->funcname);
}

const struct func_policy *
client_func(const gv_client *gv, const char *funcname)
{
	return gv->nff && funcname ? bsearch(funcname, gv->ff, gv->nff,
	    sizeof(*gv->ff), cmp_policy) : NULL;
}

unsigned
client_keep(const gv_client *gv, const char *funcname, int done)
{
	const struct func_policy *f = client_func(gv, funcname);
	unsigned keep = f && f->keep_done >= 0 ? (unsigned)f->keep_done :
	    gv->keep_done;

	if (done && f && f->unique_for > keep)
		keep = f->unique_for;
	return keep;
}

void
client_on_retry(gv_client *gv, void (*fn)(void *), void *arg)
{
	gv->on_retry = fn;
	gv->on_retry_arg = arg;
}

void
gv_set_retry(gv_client *gv, double seconds)
{
	gv->retry_seconds = seconds > 0 ? seconds : 0;
}

const char *
gv_strerror(int code)
{
	switch (code) {
	case GV_OK: return "success";
	case GV_EINVAL: return "invalid argument";
	case GV_ECONFIG: return "bad configuration";
	case GV_EDB: return "database error";
	case GV_ESTALE: return "job gone or owned by a newer attempt";
	case GV_EJSON: return "malformed job document";
	case GV_ENOMEM: return "out of memory";
	case GV_EUNKNOWN: return "fate unknown: the connection was lost "
	    "during COMMIT";
	}
	return "unknown error";
}
