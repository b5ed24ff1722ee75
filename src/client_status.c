/*
 * client_status: what became of a job, asked by its ids or its unique key
 * (gv_job_status, gv_job_status_key), on outcome.c's reads.
 */
#include <string.h>

#include "client_int.h"
#include "dbset.h"
#include "outcome.h"

int
gv_job_status(gv_client *gv, unsigned dbid, uint64_t jobid,
    struct gv_job_status *st)
{
	struct db *db;

	if (st == NULL)
		return client_fail(gv, GV_EINVAL, "no status to fill");
	memset(st, 0, sizeof(*st));
	if (jobid == 0)
		return client_fail(gv, GV_EINVAL, "no jobid");
	if ((db = dbset_find(gv->dbs, dbid)) == NULL)
		return client_fail(gv, GV_EINVAL, "database %u is not "
		    "configured", dbid);
	if (outcome_status(db, jobid, st, gv->err, sizeof(gv->err)) == -1)
		return GV_EDB;
	return GV_OK;
}

/*
 * A job that lives wins over records, in whichever database it is: the
 * key's first (where gv_insert_job stores it), then the others (a job
 * inserted under another list of databases, or by a schedule). Then the
 * newest record of all the databases' (by when it ended, each database's
 * clock; on a tie, the first in the same order): the key's database may
 * keep an older one.
 */
int
gv_job_status_key(gv_client *gv, const char *funcname, const char *uniqkey,
    struct gv_job_status *st)
{
	size_t ndbs = dbset_count(gv->dbs), home, i;
	struct gv_job_status one = { 0 };
	struct dbval p[2];
	struct db *db;
	uint64_t id;
	int found;

	if (st == NULL)
		return client_fail(gv, GV_EINVAL, "no status to fill");
	memset(st, 0, sizeof(*st));
	if (funcname == NULL || *funcname == '\0')
		return client_fail(gv, GV_EINVAL, "funcname is missing");
	if (uniqkey == NULL || *uniqkey == '\0')
		return client_fail(gv, GV_EINVAL, "uniqkey is missing");
	p[0] = DBV_S(funcname);
	p[1] = DBV_S(uniqkey);
	home = dbset_key_index(gv->dbs, funcname, uniqkey);
	for (i = 0; i < ndbs; i++) {
		db = dbset_at(gv->dbs, (home + i) % ndbs);
		if (db_select_u64(db, SQL_FIND_UNIQUE, p, 2, &id, &found,
		    gv->err, sizeof(gv->err)) == -1)
			return GV_EDB;
		/* Its row may go between the two reads: its record is then
		 * read by its jobid. */
		if (found)
			return outcome_status(db, id, st, gv->err,
			    sizeof(gv->err)) == -1 ? GV_EDB : GV_OK;
	}
	for (i = 0; i < ndbs; i++) {
		db = dbset_at(gv->dbs, (home + i) % ndbs);
		if (outcome_status_key(db, funcname, uniqkey, &one, &found,
		    gv->err, sizeof(gv->err)) == -1) {
			gv_job_status_clear(&one);
			gv_job_status_clear(st);
			return GV_EDB;
		}
		if (found && (st->jobid == 0 || one.ended > st->ended)) {
			gv_job_status_clear(st);
			*st = one;
			memset(&one, 0, sizeof(one));
		}
		gv_job_status_clear(&one);
	}
	return GV_OK;
}
