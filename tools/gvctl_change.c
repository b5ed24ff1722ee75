/*
 * gvctl_change: gvctl retry and delete, of jobs named by id or matched by
 * function and state, in batches of GVCTL_BATCH ids (gvctl.c says why).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <jansson.h>

#include "admin.h"
#include "config.h"
#include "db.h"
#include "dbset.h"
#include "gvctl.h"
#include "util.h"

/* What one database did, or would do. */
struct change {
	unsigned dbid;
	uint64_t count;
	int failed;
	char err[1024];
	uint64_t *shown;        /* dry run: the first ids, up to the limit */
	size_t nshown, capshown;
	uint64_t *named;        /* ids named on the command line */
	size_t nnamed;
};

static void
change_note(struct ctl *c, struct change *ch, uint64_t jobid)
{
	uint64_t *grown;
	size_t cap;

	if ((long)ch->nshown >= c->o.limit)
		return;
	if (ch->nshown == ch->capshown) {
		cap = ch->capshown ? ch->capshown * 2 : 64;
		if ((grown = realloc(ch->shown, cap * sizeof(*grown))) ==
		    NULL) {
			fprintf(stderr, "gvctl: out of memory\n");
			exit(EX_OSERR);
		}
		ch->shown = grown;
		ch->capshown = cap;
	}
	ch->shown[ch->nshown++] = jobid;
}

/* Retry or delete ids of one database, if they are still in the state. */
static int
change_batch(struct ctl *c, struct db *db, enum command cmd,
    const uint64_t *ids, size_t n, const char *state, uint64_t *changed,
    char *err, size_t errlen)
{
	return cmd == CMD_RETRY ? admin_retry(db, ids, n, state,
	    c->o.reset_failcount, changed, err, errlen) :
	    admin_delete(db, c->cfg, ids, n, state, changed, err, errlen);
}

/* Every job of the function and state, walked in jobid order. */
static int
change_matching(struct ctl *c, struct db *db, enum command cmd,
    struct change *ch, char *err, size_t errlen)
{
	uint64_t ids[GVCTL_BATCH], cursor = 0, changed;
	size_t n, i;

	for (;;) {
		if (admin_match(db, c->o.funcname, gvctl_state_param(c->o.state),
		    cursor, ids, GVCTL_BATCH, &n, err, errlen) == -1)
			return -1;
		if (n == 0)
			return 0;
		cursor = ids[n - 1];
		if (c->o.dry_run) {
			for (i = 0; i < n; i++)
				change_note(c, ch, ids[i]);
			ch->count += n;
		} else {
			if (change_batch(c, db, cmd, ids, n,
			    gvctl_state_param(c->o.state), &changed, err, errlen) ==
			    -1)
				return -1;
			ch->count += changed;
		}
		if (n < GVCTL_BATCH)
			return 0;
	}
}

static int
change_named(struct ctl *c, struct db *db, enum command cmd,
    struct change *ch, char *err, size_t errlen)
{
	uint64_t changed;
	size_t i, n;

	if (c->o.dry_run) {
		for (i = 0; i < ch->nnamed; i++)
			change_note(c, ch, ch->named[i]);
		ch->count = ch->nnamed;
		return 0;
	}
	for (i = 0; i < ch->nnamed; i += n) {
		n = ch->nnamed - i < GVCTL_BATCH ? ch->nnamed - i :
		    GVCTL_BATCH;
		if (change_batch(c, db, cmd, ch->named + i, n, NULL, &changed,
		    err, errlen) == -1)
			return -1;
		ch->count += changed;
	}
	return 0;
}

static void
change_print(struct ctl *c, enum command cmd, const struct change *chs,
    size_t n, uint64_t total)
{
	const char *verb = cmd == CMD_RETRY ? "retry" : "delete";
	json_t *root, *arr, *o, *ids;
	char id[48];
	size_t i, k;

	if (c->o.json) {
		root = json_object();
		json_object_set_new(root, "command", json_string(verb));
		json_object_set_new(root, "dry_run",
		    json_boolean(c->o.dry_run));
		arr = json_array();
		for (i = 0; i < n; i++) {
			o = json_object();
			json_object_set_new(o, "dbid",
			    json_integer(chs[i].dbid));
			if (chs[i].failed) {
				json_object_set_new(o, "error",
				    json_string(chs[i].err));
			} else {
				json_object_set_new(o, "count",
				    json_integer((json_int_t)chs[i].count));
			}
			if (c->o.dry_run && !chs[i].failed) {
				ids = json_array();
				for (k = 0; k < chs[i].nshown; k++) {
					snprintf(id, sizeof(id), "%u:%" PRIu64,
					    chs[i].dbid, chs[i].shown[k]);
					json_array_append_new(ids,
					    json_string(id));
				}
				json_object_set_new(o, "ids", ids);
			}
			json_array_append_new(arr, o);
		}
		json_object_set_new(root, "databases", arr);
		json_object_set_new(root, "total",
		    json_integer((json_int_t)total));
		gvctl_json_print(root);
		return;
	}
	for (i = 0; i < n; i++) {
		if (chs[i].failed) {
			printf("database %u: unavailable\n", chs[i].dbid);
			continue;
		}
		if (c->o.dry_run) {
			printf("database %u: would %s %" PRIu64 " job%s",
			    chs[i].dbid, verb, chs[i].count,
			    chs[i].count == 1 ? "" : "s");
			for (k = 0; k < chs[i].nshown; k++)
				printf("%s%u:%" PRIu64, k ? " " : ": ",
				    chs[i].dbid, chs[i].shown[k]);
			if (chs[i].count > chs[i].nshown && chs[i].nshown)
				printf(" ... (%" PRIu64 " more)",
				    chs[i].count - chs[i].nshown);
			printf("\n");
		} else {
			printf("database %u: %s %" PRIu64 " job%s\n",
			    chs[i].dbid, cmd == CMD_RETRY ? "retried" :
			    "deleted", chs[i].count,
			    chs[i].count == 1 ? "" : "s");
		}
	}
	if (c->o.dry_run)
		printf("total: would %s %" PRIu64 " job%s\n", verb, total,
		    total == 1 ? "" : "s");
	else
		printf("total: %" PRIu64 " job%s %s\n", total,
		    total == 1 ? "" : "s",
		    cmd == CMD_RETRY ? "retried" : "deleted");
}

static int
change_run(struct ctl *c, enum command cmd, char **specs, int nspecs)
{
	size_t ndbs = dbset_count(c->dbs), i;
	struct change *chs;
	uint64_t jobid, total = 0, *grown;
	char err[1024];
	struct db *db;
	int k, rc, bad = 0;

	if ((chs = calloc(ndbs, sizeof(*chs))) == NULL) {
		fprintf(stderr, "gvctl: out of memory\n");
		return EX_OSERR;
	}
	for (i = 0; i < ndbs; i++)
		chs[i].dbid = db_id(dbset_at(c->dbs, i));
	for (k = 0; k < nspecs; k++) {
		if ((rc = gvctl_jobs_resolve(c, specs[k], &db, &jobid)) == EX_USAGE) {
			bad = 1;
			break;
		}
		if (rc != 0)
			continue;       /* said why; the others go on */
		for (i = 0; dbset_at(c->dbs, i) != db; i++)
			;
		if ((grown = realloc(chs[i].named, (chs[i].nnamed + 1) *
		    sizeof(*grown))) == NULL) {
			fprintf(stderr, "gvctl: out of memory\n");
			return EX_OSERR;
		}
		chs[i].named = grown;
		chs[i].named[chs[i].nnamed++] = jobid;
	}
	for (i = 0; i < ndbs && !bad; i++) {
		db = dbset_at(c->dbs, i);
		if (nspecs ? change_named(c, db, cmd, &chs[i], err,
		    sizeof(err)) : change_matching(c, db, cmd, &chs[i], err,
		    sizeof(err))) {
			chs[i].failed = 1;
			snprintf(chs[i].err, sizeof(chs[i].err), "%s", err);
			gvctl_db_failed(c, err);
		}
		total += chs[i].count;
	}
	if (!bad)
		change_print(c, cmd, chs, ndbs, total);
	for (i = 0; i < ndbs; i++) {
		free(chs[i].shown);
		free(chs[i].named);
	}
	free(chs);
	if (bad)
		return EX_USAGE;
	if (c->unavailable)
		return EX_UNAVAILABLE;
	return total ? EX_OK : EXIT_NO_MATCH;
}

int
gvctl_change_retry(struct ctl *c)
{
	return change_run(c, CMD_RETRY, c->args, c->nargs);
}

int
gvctl_change_delete(struct ctl *c)
{
	return change_run(c, CMD_DELETE, c->args, c->nargs);
}
