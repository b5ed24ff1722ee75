/*
 * gvctl_schedules: gvctl schedules, the [schedule.NAME] sections with the
 * last slot their state rows hold and the next one.
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
#include "schedule.h"
#include "util.h"

/* One [schedule.NAME] as its database sees it. */
struct sched_row {
	const struct config_sched *cs;
	int failed;             /* its database could not be read */
	int has_last;           /* 0: no state row (never looked at yet) */
	uint64_t last;          /* the last slot accounted for */
	int64_t next;           /* the next slot to insert; -1: none */
	uint64_t now;           /* the database's clock */
};

static void
sched_read(struct ctl *c, struct sched_row *r)
{
	struct db *db = dbset_find(c->dbs, (unsigned)r->cs->dbid);
	char err[512];

	if (admin_schedule(db, r->cs->name, &r->now, &r->last, &r->has_last,
	    err, sizeof(err)) == -1) {
		gvctl_db_failed(c, err);
		r->failed = 1;
		return;
	}
	/* Without a state row, the first look starts at the last slot before
	 * it: the next slot after now is the first to run. */
	r->next = schedule_next(r->cs, r->has_last ? (int64_t)r->last :
	    (int64_t)r->now);
}

static void
sched_when(const struct config_sched *cs, char *out, size_t len)
{
	if (cs->cron)
		snprintf(out, len, "cron %s", cs->cron);
	else
		snprintf(out, len, "every %d s", cs->every);
}

static json_t *
sched_json(const struct sched_row *r)
{
	const struct config_sched *cs = r->cs;
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(cs->name));
	json_object_set_new(o, "function", json_string(cs->function));
	json_object_set_new(o, "dbid", json_integer(cs->dbid));
	json_object_set_new(o, cs->cron ? "cron" : "every", cs->cron ?
	    json_string(cs->cron) : json_integer(cs->every));
	json_object_set_new(o, "missed", json_string(cs->missed));
	json_object_set_new(o, "flag", json_string(cs->flag));
	json_object_set_new(o, "priority", json_integer(cs->priority));
	json_object_set_new(o, "last_slot", r->failed || !r->has_last ?
	    json_null() : json_integer((json_int_t)r->last));
	json_object_set_new(o, "next_slot", r->failed || r->next < 0 ?
	    json_null() : json_integer(r->next));
	return o;
}

static void
sched_print(const struct sched_row *r, size_t n)
{
	char when[300], last[32], next[32];
	size_t i;

	printf("%-20s %-20s %4s  %-24s %-6s %-22s %s\n", "NAME", "FUNCTION",
	    "DB", "WHEN (UTC)", "MISSED", "LAST SLOT", "NEXT SLOT");
	for (i = 0; i < n; i++) {
		sched_when(r[i].cs, when, sizeof(when));
		if (r[i].failed) {
			snprintf(last, sizeof(last), "?");
			snprintf(next, sizeof(next), "?");
		} else {
			if (!r[i].has_last)
				snprintf(last, sizeof(last), "-");
			else
				gvctl_iso_time(r[i].last, last, sizeof(last));
			if (r[i].next < 0)
				snprintf(next, sizeof(next), "never");
			else
				gvctl_iso_time((uint64_t)r[i].next, next,
				    sizeof(next));
		}
		printf("%-20s %-20s %4d  %-24s %-6s %-22s %s%s\n",
		    r[i].cs->name, gvctl_escaped(r[i].cs->function), r[i].cs->dbid,
		    when, r[i].cs->missed, last, next, !r[i].failed &&
		    r[i].next >= 0 && (uint64_t)r[i].next <= r[i].now ?
		    " (due)" : "");
	}
}

/* The [schedule.NAME] sections of the INI, each with the last slot its
 * state row holds and the next one. */
int
gvctl_schedules_print(struct ctl *c)
{
	struct sched_row *rows;
	json_t *list;
	size_t i, n = 0;

	if (c->o.state >= 0)
		return gvctl_usage_error("schedules: --state does not apply");
	if ((rows = calloc(c->cfg->nscheds + 1, sizeof(*rows))) == NULL) {
		fprintf(stderr, "gvctl: out of memory\n");
		return EX_OSERR;
	}
	for (i = 0; i < c->cfg->nscheds; i++) {
		if (c->o.funcname && strcmp(c->o.funcname,
		    c->cfg->scheds[i].function) != 0)
			continue;
		rows[n].cs = &c->cfg->scheds[i];
		sched_read(c, &rows[n++]);
	}
	if (c->o.json) {
		list = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(list, sched_json(&rows[i]));
		gvctl_json_print(json_pack("{s:o}", "schedules", list));
	} else {
		sched_print(rows, n);
	}
	free(rows);
	return c->unavailable ? EX_UNAVAILABLE : EX_OK;
}
