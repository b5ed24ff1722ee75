/*
 * dbreach: whether a role reaches its databases now, from a probe of each
 * on a thread of its own (see dbreach.h).
 *
 * Why a probe and not the role's own calls: a role that withdrew makes no
 * calls, so nothing else would tell it that a database is back; and an
 * idle role would learn that its database went only from the first jobs it
 * then failed. Why a thread per database: a probe of a database that does
 * not answer waits DBREACH_TIMEOUT, which must not delay finding out about
 * the others. The lock guards the flags only; no probe is made under it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dbreach.h"
#include "dbset.h"
#include "log.h"
#include "thread.h"
#include "util.h"

struct probe {
	struct dbreach *r;
	unsigned dbid;
	struct db *db;
	struct thread thread;
	int up;                     /* under r->lock */
	unsigned long probes;       /* made so far, under r->lock */
};

struct dbreach {
	pthread_mutex_t lock;
	struct probe *probes;       /* in dbid order */
	size_t n, started;
	size_t nup;                 /* under lock */
	int hurry;                  /* callers of dbreach_check, under lock */
	pthread_cond_t wake;        /* hurry or stop */
	pthread_cond_t probed;      /* a probe ended */
	atomic_int stop;
	struct sb_slot *sb;
	char functions[128];
};

/* The scoreboard's view, with the lock held. */
static void
publish(struct dbreach *r)
{
	unsigned down[SB_BROKEN_DBS];
	size_t i, n = 0;

	for (i = 0; i < r->n && n < SB_BROKEN_DBS; i++)
		if (!r->probes[i].up)
			down[n++] = r->probes[i].dbid;
	scoreboard_unreachable_dbs(r->sb, down, n);
	if (r->functions[0] != '\0')
		scoreboard_withdrawn(r->sb, r->nup == 0);
}

/* Record probe p's answer; log and publish what changed. */
static void
note(struct probe *p, int up, const char *why)
{
	struct dbreach *r = p->r;
	int was_any, is_any;

	pthread_mutex_lock(&r->lock);
	p->probes++;
	pthread_cond_broadcast(&r->probed);
	if (p->up == up) {
		pthread_mutex_unlock(&r->lock);
		return;
	}
	was_any = r->nup > 0;
	p->up = up;
	if (up)
		r->nup++;
	else
		r->nup--;
	is_any = r->nup > 0;
	publish(r);
	pthread_mutex_unlock(&r->lock);
	if (up)
		log_notice("database %u answers again", p->dbid);
	else
		log_warnx("database %u does not answer: %s", p->dbid, why);
	if (r->functions[0] == '\0')
		return;
	if (was_any && !is_any)
		log_warnx("not taking %s from gearmand until a database "
		    "answers", r->functions);
	else if (!was_any && is_any)
		log_notice("taking %s again", r->functions);
}

static void
probe_main(void *arg)
{
	struct probe *p = arg;
	struct dbreach *r = p->r;
	char why[512];
	double next;

	db_thread_init();
	while (!r->stop) {
		if (db_probe(p->db, why, sizeof(why)) == 0)
			note(p, 1, NULL);
		else
			note(p, 0, why);
		next = time_mono() + DBREACH_EVERY;
		pthread_mutex_lock(&r->lock);
		while (!r->stop && !r->hurry && time_mono() < next)
			thread_wait_until(&r->wake, &r->lock, next);
		pthread_mutex_unlock(&r->lock);
	}
	db_disconnect(p->db);
	db_thread_end();
}

struct dbreach *
dbreach_start(const struct config *cfg, struct sb_slot *sb,
    const char *functions, char *err, size_t errlen)
{
	struct dbreach *r;
	size_t i;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->probes = calloc(cfg->ndbs, sizeof(*r->probes))) == NULL) {
		free(r);
		errf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	thread_cond_init(&r->wake);
	thread_cond_init(&r->probed);
	r->sb = sb;
	r->n = r->nup = cfg->ndbs;
	snprintf(r->functions, sizeof(r->functions), "%s",
	    functions ? functions : "");
	for (i = 0; i < r->n; i++) {
		const struct config_db *d = &cfg->dbs[i];
		struct gv_db_settings s = { .dbid = d->dbid, .host = d->host,
		    .port = d->port, .socket = d->socket,
		    .database = d->database, .user = d->user,
		    .password = d->password };
		struct probe *p = &r->probes[i];

		p->r = r;
		p->dbid = d->dbid;
		p->up = 1;
		if ((p->db = db_new(&s, err, errlen)) == NULL)
			goto fail;
		db_set_timeouts(p->db, DBREACH_TIMEOUT, DBREACH_TIMEOUT);
	}
	for (i = 0; i < r->n; i++) {
		if (thread_start(&r->probes[i].thread, probe_main,
		    &r->probes[i], err, errlen) == -1)
			goto fail;
		r->started++;
	}
	return r;
fail:
	dbreach_stop(r);
	return NULL;
}

void
dbreach_stop(struct dbreach *r)
{
	size_t i;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < r->started; i++)
		thread_join(&r->probes[i].thread);
	for (i = 0; i < r->n; i++)
		db_free(r->probes[i].db);
	free(r->probes);
	pthread_cond_destroy(&r->wake);
	pthread_cond_destroy(&r->probed);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int
dbreach_up(struct dbreach *r, unsigned dbid)
{
	size_t i;
	int up = 1;

	if (r == NULL)
		return 1;
	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->n; i++)
		if (r->probes[i].dbid == dbid)
			up = r->probes[i].up;
	pthread_mutex_unlock(&r->lock);
	return up;
}

int
dbreach_any(struct dbreach *r)
{
	int any;

	if (r == NULL)
		return 1;
	pthread_mutex_lock(&r->lock);
	any = r->nup > 0;
	pthread_mutex_unlock(&r->lock);
	return any;
}

int
dbreach_check(struct dbreach *r)
{
	unsigned long before[CONFIG_MAX_DBS];
	double until = time_mono() + 2 * DBREACH_TIMEOUT + 1;
	size_t i, done = 0;
	int any;

	if (r == NULL)
		return 1;
	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->n; i++)
		before[i] = r->probes[i].probes;
	r->hurry++;
	pthread_cond_broadcast(&r->wake);
	/* A probe that began before the call may have begun before the
	 * failure: two more make sure one began after it. */
	while (done < r->n && !r->stop && time_mono() < until) {
		thread_wait_until(&r->probed, &r->lock, until);
		for (i = 0, done = 0; i < r->n; i++)
			done += r->probes[i].probes >= before[i] + 2;
	}
	r->hurry--;
	any = r->nup > 0;
	pthread_mutex_unlock(&r->lock);
	return any;
}

void
dbreach_mark(struct dbreach *r, struct dbset *set)
{
	size_t i;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->n; i++)
		dbset_set_away(set, r->probes[i].dbid, !r->probes[i].up);
	pthread_mutex_unlock(&r->lock);
}
