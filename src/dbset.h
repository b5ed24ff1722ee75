/*
 * dbset: the configured databases (db.h), and which of them a call goes to.
 */
#ifndef DBSET_H
#define DBSET_H

#include <stddef.h>

#include "garivini.h"

struct dbset;
struct db;

struct dbset *dbset_new(const struct gv_db_settings *s, size_t n, char *err,
    size_t errlen);
void dbset_free(struct dbset *set);
size_t dbset_count(const struct dbset *set);
struct db *dbset_at(struct dbset *set, size_t i);   /* in dbid order */
struct db *dbset_find(struct dbset *set, unsigned dbid);
/* Whether database dbid is known not to answer now (a probe said so):
 * dbset_pick passes it over as it does one in its backoff. */
void dbset_set_away(struct dbset *set, unsigned dbid, int away);
/* A random database not in its backoff nor away; if all are, the one
 * whose backoff ends first. */
struct db *dbset_pick(struct dbset *set);
/* The database a unique key always maps to (stable hash). */
struct db *dbset_for_key(struct dbset *set, const char *funcname,
    const char *uniqkey);
/* Its index, as dbset_at counts. */
size_t dbset_key_index(const struct dbset *set, const char *funcname,
    const char *uniqkey);

#endif
