/*
 * dbset: the configured databases, in dbid order, and which one a call
 * goes to: any healthy one for a new job, always the same one for a unique
 * key.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "dbset.h"
#include "util.h"

struct dbset {
	struct db **dbs;             /* in dbid order */
	unsigned char *away;         /* per db: dbset_set_away */
	size_t n;
	unsigned seed;
};

static int
by_dbid(const void *a, const void *b)
{
	unsigned x = db_id(*(struct db *const *)a),
	    y = db_id(*(struct db *const *)b);

	return (x > y) - (x < y);
}

struct dbset *
dbset_new(const struct gv_db_settings *s, size_t n, char *err, size_t errlen)
{
	struct dbset *set;
	size_t i, j;

	if (n == 0) {
		errf(err, errlen, "no database configured");
		return NULL;
	}
	if ((set = calloc(1, sizeof(*set))) == NULL ||
	    (set->dbs = calloc(n, sizeof(*set->dbs))) == NULL ||
	    (set->away = calloc(n, 1)) == NULL) {
		if (set)
			free(set->dbs);
		free(set);
		errf(err, errlen, "out of memory");
		return NULL;
	}
	set->n = n;
	set->seed = (unsigned)(time_real() * 1e6) ^ (unsigned)getpid();
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (s[j].dbid == s[i].dbid) {
				errf(err, errlen, "database %u configured twice",
				    s[i].dbid);
				goto fail;
			}
		if (s[i].dbid == 0) {
			errf(err, errlen, "a database needs a dbid above 0");
			goto fail;
		}
		if ((set->dbs[i] = db_new(&s[i], err, errlen)) == NULL)
			goto fail;
	}
	qsort(set->dbs, n, sizeof(*set->dbs), by_dbid);
	return set;
fail:
	dbset_free(set);
	return NULL;
}

void
dbset_free(struct dbset *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		db_free(set->dbs[i]);
	free(set->dbs);
	free(set->away);
	free(set);
}

size_t
dbset_count(const struct dbset *set)
{
	return set->n;
}

struct db *
dbset_at(struct dbset *set, size_t i)
{
	return i < set->n ? set->dbs[i] : NULL;
}

struct db *
dbset_find(struct dbset *set, unsigned dbid)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (db_id(set->dbs[i]) == dbid)
			return set->dbs[i];
	return NULL;
}

void
dbset_set_away(struct dbset *set, unsigned dbid, int away)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (db_id(set->dbs[i]) == dbid)
			set->away[i] = away != 0;
}

/* A database a pick may go to: not in its backoff, nor said away. */
static int
usable(const struct dbset *set, size_t i, double now)
{
	return !set->away[i] && db_healthy(set->dbs[i], now);
}

struct db *
dbset_pick(struct dbset *set)
{
	double now = time_mono();
	size_t i, start, healthy = 0, k;
	struct db *soonest = NULL;

	for (i = 0; i < set->n; i++)
		if (usable(set, i, now))
			healthy++;
	if (healthy == 0) {
		for (i = 0; i < set->n; i++)
			if (soonest == NULL ||
			    db_backoff_left(set->dbs[i], now) <
			    db_backoff_left(soonest, now))
				soonest = set->dbs[i];
		return soonest;
	}
	/* The k-th healthy database, k random. */
	k = (size_t)rand_r(&set->seed) % healthy;
	start = 0;
	for (i = 0; i < set->n; i++) {
		if (!usable(set, i, now))
			continue;
		if (start++ == k)
			return set->dbs[i];
	}
	return set->dbs[0];
}

/* Modulo over the configured databases, not the healthy ones: a key must
 * never move, or its uniqueness would hold in two places at once. */
size_t
dbset_key_index(const struct dbset *set, const char *funcname,
    const char *uniqkey)
{
	uint64_t h;

	h = hash_fnv1a(HASH_SEED, funcname, strlen(funcname) + 1);
	h = hash_fnv1a(h, uniqkey, strlen(uniqkey));
	return (size_t)(h % set->n);
}

struct db *
dbset_for_key(struct dbset *set, const char *funcname, const char *uniqkey)
{
	return set->dbs[dbset_key_index(set, funcname, uniqkey)];
}
