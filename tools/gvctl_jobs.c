/*
 * gvctl_jobs: gvctl list, show, errors and cancel: jobs one by one, with
 * their failures, and the records of those that ended (show).
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
#include "client.h"
#include "config.h"
#include "db.h"
#include "dbset.h"
#include "gvctl.h"
#include "jobfield.h"
#include "jobjson.h"
#include "util.h"

#define ARG_PREFIX 32           /* bytes of arg a list line shows */
#define MESSAGE_PREFIX 60       /* bytes of a failure a list line shows */

/* The job document with the state and the arg's length added. */
static json_t *
job_json(const struct gv_job *job, int state)
{
	struct buf b = { 0 };
	json_error_t error;
	json_t *o;

	if (jobjson_encode(job, &b) == -1 || (o = json_loadb(b.data, b.len,
	    JSON_ALLOW_NUL, &error)) == NULL) {
		fprintf(stderr, "gvctl: job %u:%" PRIu64 ": cannot encode it\n",
		    job->dbid, job->jobid);
		exit(EX_SOFTWARE);
	}
	buf_free(&b);
	if (state >= 0)
		json_object_set_new(o, "state", json_string(gvctl_state_names[state]));
	json_object_set_new(o, "arg_len", json_integer((json_int_t)job->arg_len));
	return o;
}

/* The newest failures of a job, or of a function (jobid 0; funcname NULL:
 * any). A database without the job_error table (not upgraded) has none. */
static int
failures_read(struct ctl *c, struct db *db, uint64_t jobid,
    const char *funcname, long limit, struct admin_failure **errs, size_t *n)
{
	char err[1024];

	if (admin_failures(db, jobid, funcname, (uint64_t)limit, errs, n, err,
	    sizeof(err)) == 0)
		return 0;
	gvctl_db_failed(c, err);
	return -1;
}

static json_t *
failure_json(const struct admin_failure *e)
{
	char text[GV_MESSAGE_MAX + 1];
	json_t *o = json_object();

	jobjson_text_clean(text, sizeof(text), e->message, e->message_len);
	json_object_set_new(o, "time", json_integer(e->time));
	json_object_set_new(o, "failcount", json_integer(e->failcount));
	json_object_set_new(o, "attempt", json_integer(e->attempt));
	json_object_set_new(o, "message", json_string(text));
	return o;
}

/* The last failure of each job listed (list --state failing or parked):
 * lasts[i] is jobs[i]'s, jobid 0 when it has none. */
static struct admin_failure *
last_failures(struct ctl *c, const struct gv_job *jobs, size_t n)
{
	struct admin_failure *lasts, *errs;
	size_t i, nerrs;
	struct db *db;

	if ((lasts = calloc(n ? n : 1, sizeof(*lasts))) == NULL) {
		fprintf(stderr, "gvctl: out of memory\n");
		exit(EX_OSERR);
	}
	for (i = 0; i < n; i++) {
		errs = NULL;
		nerrs = 0;
		if ((db = dbset_find(c->dbs, jobs[i].dbid)) == NULL ||
		    failures_read(c, db, jobs[i].jobid, NULL, 1, &errs,
		    &nerrs) == -1)
			continue;
		if (nerrs) {
			lasts[i] = errs[0];
			memset(&errs[0], 0, sizeof(errs[0]));
		}
		admin_failures_free(errs, nerrs);
	}
	return lasts;
}

static void
list_print_table(const struct gv_job *jobs, const int *states, size_t n,
    const struct admin_failure *lasts)
{
	char id[48], when[32];
	struct buf arg = { 0 };
	int idw = 3, fw = 8, uw = 7, len;
	size_t i;

	for (i = 0; i < n; i++) {
		len = snprintf(id, sizeof(id), "%u:%" PRIu64, jobs[i].dbid,
		    jobs[i].jobid);
		if (len > idw)
			idw = len;
		if ((len = (int)strlen(gvctl_escaped(jobs[i].funcname))) > fw)
			fw = len;
		if ((len = (int)strlen(gvctl_escaped(jobs[i].uniqkey))) > uw)
			uw = len;
	}
	if (n)
		printf("%-*s %-*s %-9s %-20s %4s %5s %7s %-*s %7s %-*s%s\n",
		    idw, "JOB", fw, "FUNCTION", "STATE", "RUN_AFTER", "PRIO",
		    "FAILS", "ATTEMPT", uw, "UNIQKEY", "ARG_LEN",
		    lasts ? ARG_PREFIX + 3 : 0, "ARG",
		    lasts ? " LAST_FAILURE" : "");
	for (i = 0; i < n; i++) {
		const struct gv_job *j = &jobs[i];

		snprintf(id, sizeof(id), "%u:%" PRIu64, j->dbid, j->jobid);
		buf_reset(&arg);
		gvctl_escape_bytes(&arg, j->arg, j->arg_len < ARG_PREFIX ?
		    j->arg_len : ARG_PREFIX);
		if (j->arg_len > ARG_PREFIX)
			buf_append(&arg, "...", 3);
		printf("%-*s %-*s %-9s %-20s %4d %5u %7" PRIu32 " ", idw, id,
		    fw, gvctl_escaped(j->funcname), gvctl_state_names[states[i]],
		    gvctl_iso_time(j->run_after, when, sizeof(when)), j->priority,
		    j->failcount, j->attempt);
		printf("%-*s %7zu %-*.*s", uw, gvctl_escaped(j->uniqkey), j->arg_len,
		    lasts ? ARG_PREFIX + 3 : 0, (int)arg.len,
		    arg.data ? arg.data : "");
		if (lasts && lasts[i].jobid)
			printf(" %s", gvctl_message_line((const unsigned char *)
			    lasts[i].message, lasts[i].message_len,
			    MESSAGE_PREFIX));
		else if (lasts)
			printf(" -");
		printf("\n");
	}
	buf_free(&arg);
}

int
gvctl_jobs_list(struct ctl *c)
{
	struct gv_job *jobs = NULL;
	struct admin_failure *lasts = NULL;
	int *states = NULL, *grown;
	size_t njobs = 0, before, i, k, s;
	char err[1024];
	json_t *root, *arr;

	for (i = 0; i < dbset_count(c->dbs); i++) {
		struct db *db = dbset_at(c->dbs, i);

		for (s = 0; s < GVCTL_NEXCLUSIVE; s++) {
			enum state shown = gvctl_exclusive[s];

			if ((long)njobs >= c->o.limit)
				break;
			/* failing overlaps the others; any other state is
			 * one of them. */
			if (c->o.state >= 0 && c->o.state != STATE_FAILING &&
			    c->o.state != (int)shown)
				continue;
			if (c->o.state == STATE_FAILING &&
			    shown == STATE_PARKED)
				continue;
			before = njobs;
			if (admin_list(db, c->o.funcname, gvctl_state_names[shown],
			    gvctl_state_param(c->o.state), (uint64_t)c->o.limit -
			    njobs, &jobs, &njobs, err, sizeof(err)) == -1) {
				gvctl_db_failed(c, err);
				break;
			}
			if ((grown = realloc(states, (njobs ? njobs : 1) *
			    sizeof(*states))) == NULL) {
				fprintf(stderr, "gvctl: out of memory\n");
				return EX_OSERR;
			}
			states = grown;
			for (k = before; k < njobs; k++)
				states[k] = (int)shown;
		}
	}
	/* Why they fail: the last failure of each. */
	if (c->o.state == STATE_FAILING || c->o.state == STATE_PARKED)
		lasts = last_failures(c, jobs, njobs);
	if (c->o.json) {
		root = json_object();
		arr = json_array();
		for (i = 0; i < njobs; i++) {
			json_t *o = job_json(&jobs[i], states[i]);

			if (lasts)
				json_object_set_new(o, "last_failure",
				    lasts[i].jobid ? failure_json(&lasts[i]) :
				    json_null());
			json_array_append_new(arr, o);
		}
		json_object_set_new(root, "jobs", arr);
		gvctl_json_print(root);
	} else {
		list_print_table(jobs, states, njobs, lasts);
	}
	db_jobs_free(jobs, njobs);
	admin_failures_free(lasts, lasts ? njobs : 0);
	free(states);
	return c->unavailable ? EX_UNAVAILABLE : EX_OK;
}

/* A DBID:JOBID (*dbp its database) or a JOBID (*dbp NULL): 0, or an exit
 * code with the reason on stderr. */
static int
spec_parse(struct ctl *c, const char *spec, struct db **dbp,
    uint64_t *jobid)
{
	const char *colon = strchr(spec, ':');
	uint64_t dbid = 0;
	char part[32];

	*dbp = NULL;
	if (colon == NULL)
		return gvctl_parse_u64(spec, jobid) == -1 ? gvctl_usage_error(
		    "%s: expected DBID:JOBID or JOBID", spec) : 0;
	if ((size_t)(colon - spec) >= sizeof(part))
		return gvctl_usage_error("%s: expected DBID:JOBID or JOBID",
		    spec);
	memcpy(part, spec, (size_t)(colon - spec));
	part[colon - spec] = '\0';
	if (gvctl_parse_u64(part, &dbid) == -1 ||
	    gvctl_parse_u64(colon + 1, jobid) == -1)
		return gvctl_usage_error("%s: expected DBID:JOBID or JOBID",
		    spec);
	if (dbid > 65535 || (*dbp = dbset_find(c->dbs, (unsigned)dbid)) ==
	    NULL)
		return gvctl_usage_error("%s: database %" PRIu64 " is not "
		    "configured in %s", spec, dbid, c->o.ini);
	return 0;
}

/* The job a DBID:JOBID or JOBID names: 0 with *dbp and *jobid set, or an
 * exit code with the reason on stderr. A bare JOBID must exist in exactly
 * one database. */
int
gvctl_jobs_resolve(struct ctl *c, const char *spec, struct db **dbp,
    uint64_t *jobid)
{
	struct db *named, *found = NULL, *db;
	uint64_t state;
	char err[1024];
	int hit, rc, unavailable = 0;
	size_t i;

	if ((rc = spec_parse(c, spec, &named, jobid)) != 0)
		return rc;
	for (i = 0; i < dbset_count(c->dbs); i++) {
		db = dbset_at(c->dbs, i);
		if (named && db != named)
			continue;
		if (admin_job_state(db, *jobid, &state, &hit, err,
		    sizeof(err)) == -1) {
			gvctl_db_failed(c, err);
			unavailable = 1;
			continue;
		}
		if (hit) {
			if (found) {
				fprintf(stderr, "gvctl: job %" PRIu64 " exists "
				    "in databases %u and %u: name it as "
				    "DBID:JOBID\n", *jobid, db_id(found),
				    db_id(db));
				return EX_USAGE;
			}
			found = db;
		}
	}
	if (found == NULL) {
		/* It may be in the database that did not answer. */
		if (unavailable)
			return EX_UNAVAILABLE;
		fprintf(stderr, "gvctl: job %s not found\n", spec);
		return EXIT_NO_MATCH;
	}
	*dbp = found;
	return 0;
}

/* A state of job_status that a row has (the others are a record's). */
static int
status_lives(enum gv_state state)
{
	return state == GV_STATE_SCHEDULED || state == GV_STATE_DUE ||
	    state == GV_STATE_RUNNING || state == GV_STATE_RETRYING ||
	    state == GV_STATE_PARKED;
}

/*
 * The status of the job a DBID:JOBID or JOBID names (gv_job_status): 0
 * with st filled, or an exit code with the reason on stderr. A bare JOBID
 * names the job that lives in exactly one database, else the one whose
 * record is kept in exactly one: jobids are per database, and a live job
 * wins, as with gv_job_status_key.
 */
static int
show_find_id(struct ctl *c, const char *spec, struct gv_job_status *st)
{
	struct gv_job_status one = { 0 }, live = { 0 }, kept = { 0 };
	unsigned live_in[2] = { 0 }, kept_in[2] = { 0 };
	size_t nlive = 0, nkept = 0, i;
	int rc, unavailable = 0;
	struct db *named, *db;
	uint64_t jobid;

	if ((rc = spec_parse(c, spec, &named, &jobid)) != 0)
		return rc;
	for (i = 0; i < dbset_count(c->dbs); i++) {
		db = dbset_at(c->dbs, i);
		if (named && db != named)
			continue;
		if (gv_job_status(c->gv, db_id(db), jobid, &one) != GV_OK) {
			gvctl_db_failed(c, gv_errmsg(c->gv));
			unavailable = 1;
		} else if (status_lives(one.state)) {
			if (nlive < 2)
				live_in[nlive] = db_id(db);
			if (nlive++ == 0) {
				live = one;
				continue;       /* kept: not cleared */
			}
		} else if (one.state != GV_STATE_UNKNOWN) {
			if (nkept < 2)
				kept_in[nkept] = db_id(db);
			if (nkept++ == 0) {
				kept = one;
				continue;
			}
		}
		gv_job_status_clear(&one);
	}
	rc = 0;
	if (nlive > 1 || (nlive == 0 && nkept > 1)) {
		fprintf(stderr, "gvctl: job %" PRIu64 " %s in databases %u and "
		    "%u: name it as DBID:JOBID\n", jobid, nlive ? "exists" :
		    "ended", nlive ? live_in[0] : kept_in[0],
		    nlive ? live_in[1] : kept_in[1]);
		rc = EX_USAGE;
	} else if (nlive || nkept) {
		*st = nlive ? live : kept;
		return 0;
	} else if (unavailable) {
		/* It may be in the database that did not answer. */
		rc = EX_UNAVAILABLE;
	} else {
		fprintf(stderr, "gvctl: job %s not found\n", spec);
		rc = EXIT_NO_MATCH;
	}
	gv_job_status_clear(&live);
	gv_job_status_clear(&kept);
	return rc;
}

/* The status of the job of -f FUNC -k KEY, as gv_job_status_key finds
 * it: the job that lives, in any database (the key's first), else the
 * newest record. 0, or an exit code with the reason on stderr. */
static int
show_find_key(struct ctl *c, struct gv_job_status *st)
{
	int rc = gv_job_status_key(c->gv, c->o.funcname, c->o.key, st);

	if (rc == GV_EDB) {
		gvctl_db_failed(c, gv_errmsg(c->gv));
		return EX_UNAVAILABLE;
	}
	if (rc != GV_OK)
		return gvctl_usage_error("show: %s", gv_errmsg(c->gv));
	if (st->state == GV_STATE_UNKNOWN) {
		fprintf(stderr, "gvctl: job %s", gvctl_escaped(c->o.funcname));
		fprintf(stderr, "/%s not found\n", gvctl_escaped(c->o.key));
		return EXIT_NO_MATCH;
	}
	return 0;
}

/* A byte string as the job document's arg is: one code point per byte. */
static json_t *
bytes_json(const void *data, size_t len)
{
	const unsigned char *p = data;
	struct buf b = { 0 };
	json_t *s;
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] < 0x80) {
			buf_appendc(&b, (char)p[i]);
		} else {
			buf_appendc(&b, (char)(0xc0 | p[i] >> 6));
			buf_appendc(&b, (char)(0x80 | (p[i] & 0x3f)));
		}
	}
	s = json_stringn(b.data ? b.data : "", b.len);
	buf_free(&b);
	return s;
}

/* Text from a column: as it is when it is UTF-8, else byte by byte. */
static json_t *
text_json(const char *s)
{
	size_t len = strlen(s);

	return jobjson_utf8_valid(s, len) ? json_stringn(s, len) :
	    bytes_json(s, len);
}

/* A job that ended, from its record. */
static void
show_record(struct ctl *c, const struct gv_job_status *st)
{
	struct buf b = { 0 };
	char when[32];
	json_t *doc;

	if (c->o.json) {
		doc = json_object();
		json_object_set_new(doc, "jobid", json_integer((json_int_t)
		    st->jobid));
		json_object_set_new(doc, "dbid", json_integer(st->dbid));
		json_object_set_new(doc, "funcname", text_json(st->funcname));
		json_object_set_new(doc, "uniqkey", st->has_uniqkey ?
		    text_json(st->uniqkey) : json_null());
		json_object_set_new(doc, "status",
		    json_string(gv_state_name(st->state)));
		json_object_set_new(doc, "ended", json_integer(st->ended));
		json_object_set_new(doc, "attempt", json_integer(st->attempt));
		json_object_set_new(doc, "failcount",
		    json_integer(st->failcount));
		json_object_set_new(doc, "kept_until",
		    json_integer(st->kept_until));
		json_object_set_new(doc, "result", st->result ?
		    bytes_json(st->result, st->result_len) : json_null());
		json_object_set_new(doc, "result_len", st->result ?
		    json_integer((json_int_t)st->result_len) : json_null());
		json_object_set_new(doc, "result_cut",
		    json_boolean(st->result_cut));
		gvctl_json_print(doc);
		return;
	}
	printf("job        %u:%" PRIu64 "\n", st->dbid, st->jobid);
	printf("funcname   %s\n", gvctl_escaped(st->funcname));
	printf("uniqkey    %s\n", gvctl_escaped(st->has_uniqkey ?
	    st->uniqkey : NULL));
	printf("status     %s\n", gv_state_name(st->state));
	printf("ended      %s (%" PRId64 ")\n", gvctl_iso_time(
	    (uint64_t)st->ended, when, sizeof(when)), st->ended);
	printf("attempt    %" PRIu32 "\n", st->attempt);
	printf("failcount  %u\n", st->failcount);
	printf("kept_until %s (%" PRId64 ")\n", gvctl_iso_time(
	    (uint64_t)st->kept_until, when, sizeof(when)), st->kept_until);
	if (st->state != GV_STATE_DONE)
		return;
	if (st->result == NULL) {
		printf("result_len -\nresult     -\n");
		return;
	}
	printf("result_len %zu%s\n", st->result_len, st->result_cut ?
	    " (cut: the worker's result was longer)" : "");
	gvctl_escape_bytes(&b, st->result, st->result_len);
	printf("result     %.*s\n", (int)b.len, b.data ? b.data : "");
	buf_free(&b);
}

#define SHOW_GONE -1            /* show_row: the row went meanwhile */
#define SHOW_TRIES 3            /* reads of a job that ends meanwhile */

/* A job that lives, from its row, with its failures. 0 shown, SHOW_GONE
 * when the row went since its status was read, or an exit code. */
static int
show_row(struct ctl *c, const struct gv_job_status *st)
{
	struct gv_job *jobs = NULL;
	struct admin_failure *errs = NULL;
	size_t nerrs = 0, njobs = 0, i;
	const struct gv_job *j;
	struct buf b = { 0 };
	uint64_t code = 0, leased = 0;
	char err[1024], when[32];
	struct db *db = dbset_find(c->dbs, st->dbid);
	int rc = 0, state = -1;

	if (admin_job(db, st->jobid, &jobs, &njobs, &code, &leased, err,
	    sizeof(err)) == -1) {
		gvctl_db_failed(c, err);
		db_jobs_free(jobs, njobs);
		return EX_UNAVAILABLE;
	}
	if (njobs == 0) {
		db_jobs_free(jobs, njobs);
		return SHOW_GONE;
	}
	j = &jobs[0];
	if (code < GVCTL_NCODES)
		state = (int)gvctl_state_codes[code];
	if (failures_read(c, db, st->jobid, NULL, GV_ERRORS_KEPT, &errs,
	    &nerrs) == -1)
		rc = EX_UNAVAILABLE;
	if (c->o.json) {
		json_t *doc, *arr;
		json_error_t error;

		if (jobjson_encode(j, &b) == -1 || (doc = json_loadb(b.data,
		    b.len, JSON_ALLOW_NUL, &error)) == NULL) {
			fprintf(stderr, "gvctl: out of memory\n");
			return EX_OSERR;
		}
		if (state >= 0)
			json_object_set_new(doc, "state",
			    json_string(gvctl_state_names[state]));
		json_object_set_new(doc, "status",
		    json_string(gv_state_name(st->state)));
		arr = json_array();
		for (i = 0; i < nerrs; i++)
			json_array_append_new(arr, failure_json(&errs[i]));
		json_object_set_new(doc, "failures", arr);
		gvctl_json_print(doc);
	} else {
		printf("job        %u:%" PRIu64 "\n", j->dbid, j->jobid);
		printf("funcname   %s\n", gvctl_escaped(j->funcname));
		printf("state      %s%s\n", state < 0 ? "?" : gvctl_state_names[state],
		    j->failcount && state != STATE_PARKED ? ", failing" : "");
		printf("status     %s\n", gv_state_name(st->state));
		printf("run_after  %s (%" PRIu32 ")\n",
		    gvctl_iso_time(j->run_after, when, sizeof(when)), j->run_after);
		printf("priority   %d\n", j->priority);
		printf("failcount  %u\n", j->failcount);
		printf("attempt    %" PRIu32 "\n", j->attempt);
		printf("leased     %" PRIu64 "\n", leased);
		printf("flag       %s\n", jobfield_flag_name(j->flag));
		printf("uniqkey    %s\n", gvctl_escaped(j->uniqkey));
		printf("coalesce   %s\n", gvctl_escaped(j->coalesce));
		printf("arg_len    %zu\n", j->arg_len);
		gvctl_escape_bytes(&b, j->arg, j->arg_len);
		printf("arg        %.*s\n", (int)b.len, b.data ? b.data : "");
		printf("failures   %s\n", nerrs ? "newest first" : "none kept");
		for (i = 0; i < nerrs; i++)
			printf("  %s  failcount %u  attempt %" PRIu32 "  %s\n",
			    gvctl_iso_time(errs[i].time, when, sizeof(when)),
			    errs[i].failcount, errs[i].attempt,
			    gvctl_message_line((const unsigned char *)errs[i].message,
			    errs[i].message_len, 0));
	}
	buf_free(&b);
	db_jobs_free(jobs, njobs);
	admin_failures_free(errs, nerrs);
	return rc;
}

/* A job by [DBID:]JOBID or by -f FUNC -k KEY: its row while it lives,
 * else the record of how it ended while that is kept. */
int
gvctl_jobs_show(struct ctl *c)
{
	struct gv_job_status st = { 0 };
	uint64_t jobid;
	unsigned dbid;
	int rc, tries;

	rc = c->nargs ? show_find_id(c, c->args[0], &st) :
	    show_find_key(c, &st);
	for (tries = 1; rc == 0; tries++) {
		if (!status_lives(st.state)) {
			show_record(c, &st);
			break;
		}
		if ((rc = show_row(c, &st)) != SHOW_GONE)
			break;
		/* It ended between the two reads: its record, if kept. */
		dbid = st.dbid;
		jobid = st.jobid;
		gv_job_status_clear(&st);
		if (gv_job_status(c->gv, dbid, jobid, &st) != GV_OK) {
			gvctl_db_failed(c, gv_errmsg(c->gv));
			rc = EX_UNAVAILABLE;
		} else if (st.state == GV_STATE_UNKNOWN ||
		    (status_lives(st.state) && tries == SHOW_TRIES)) {
			fprintf(stderr, "gvctl: job %u:%" PRIu64 " not found\n",
			    dbid, jobid);
			rc = EXIT_NO_MATCH;
		} else {
			rc = 0;
		}
	}
	gv_job_status_clear(&st);
	return rc;
}

/* Newest first across databases. */
static int
failure_cmp(const void *a, const void *b)
{
	const struct admin_failure *x = a, *y = b;

	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	return x->dbid != y->dbid ? (x->dbid < y->dbid ? -1 : 1) :
	    (x->jobid > y->jobid ? -1 : x->jobid < y->jobid);
}

/* The newest failures of a function (or all), over every database. */
int
gvctl_jobs_errors(struct ctl *c)
{
	struct admin_failure *all = NULL, *errs, *grown;
	size_t nall = 0, nerrs, i, k, shown;
	char id[48], when[32];
	json_t *root, *arr, *o;

	for (i = 0; i < dbset_count(c->dbs); i++) {
		struct db *db = dbset_at(c->dbs, i);

		errs = NULL;
		nerrs = 0;
		if (failures_read(c, db, 0, c->o.funcname, c->o.limit, &errs,
		    &nerrs) == -1 || nerrs == 0) {
			free(errs);
			continue;
		}
		if ((grown = realloc(all, (nall + nerrs) * sizeof(*all))) ==
		    NULL) {
			fprintf(stderr, "gvctl: out of memory\n");
			return EX_OSERR;
		}
		all = grown;
		for (k = 0; k < nerrs; k++)
			all[nall++] = errs[k];
		free(errs);     /* the strings moved to all */
	}
	qsort(all, nall, sizeof(*all), failure_cmp);
	shown = nall < (size_t)c->o.limit ? nall : (size_t)c->o.limit;
	if (c->o.json) {
		root = json_object();
		arr = json_array();
		for (i = 0; i < shown; i++) {
			o = failure_json(&all[i]);
			json_object_set_new(o, "dbid",
			    json_integer(all[i].dbid));
			json_object_set_new(o, "jobid",
			    json_integer((json_int_t)all[i].jobid));
			json_object_set_new(o, "funcname",
			    json_string(all[i].funcname));
			json_array_append_new(arr, o);
		}
		json_object_set_new(root, "failures", arr);
		gvctl_json_print(root);
	} else {
		if (shown)
			printf("%-20s %-12s %-16s %5s %7s %s\n", "TIME", "JOB",
			    "FUNCTION", "FAILS", "ATTEMPT", "MESSAGE");
		for (i = 0; i < shown; i++) {
			snprintf(id, sizeof(id), "%u:%" PRIu64, all[i].dbid,
			    all[i].jobid);
			printf("%-20s %-12s %-16s %5u %7" PRIu32 " ",
			    gvctl_iso_time(all[i].time, when, sizeof(when)), id,
			    gvctl_escaped(all[i].funcname), all[i].failcount,
			    all[i].attempt);
			printf("%s\n", gvctl_message_line((const unsigned char *)
			    all[i].message, all[i].message_len, 0));
		}
	}
	admin_failures_free(all, nall);
	return c->unavailable ? EX_UNAVAILABLE : EX_OK;
}

/* Cancel by key (-f FUNC -k KEY) or by id: the row goes, whatever its
 * state, with its failures (gv_cancel_job). */
int
gvctl_jobs_cancel(struct ctl *c)
{
	char **specs = c->args;
	int nspecs = c->nargs;
	uint64_t jobid;
	unsigned dbid;
	struct db *db;
	int k, rc, cancelled = 0, missing = 0;

	if (c->o.key) {
		rc = gv_cancel_job(c->gv, c->o.funcname, c->o.key, &jobid,
		    &dbid);
		if (rc == GV_OK) {
			printf("cancelled %u:%" PRIu64 "\n", dbid, jobid);
			return EX_OK;
		}
		fprintf(stderr, "gvctl: %s\n", gv_errmsg(c->gv));
		return rc == GV_ESTALE ? EXIT_NO_MATCH : rc == GV_EDB ?
		    EX_UNAVAILABLE : EX_USAGE;
	}
	for (k = 0; k < nspecs; k++) {
		if ((rc = gvctl_jobs_resolve(c, specs[k], &db, &jobid)) == EX_USAGE)
			return EX_USAGE;
		if (rc == EXIT_NO_MATCH)
			missing++;
		if (rc != 0)
			continue;       /* said why; the others go on */
		if ((rc = gv_cancel_jobid(c->gv, db_id(db), jobid)) == GV_OK) {
			printf("cancelled %u:%" PRIu64 "\n", db_id(db), jobid);
			cancelled++;
		} else {
			fprintf(stderr, "gvctl: %s\n", gv_errmsg(c->gv));
			if (rc == GV_EDB)
				c->unavailable = 1;
			else
				missing++;
		}
	}
	if (c->unavailable)
		return EX_UNAVAILABLE;
	return missing || !cancelled ? EXIT_NO_MATCH : EX_OK;
}
