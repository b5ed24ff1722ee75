/*
 * gvctl: the operator's tool. Counts, lists, shows, retries and deletes jobs
 * across every configured database, and prints the master's status file.
 *
 * The states of a row (due, scheduled, leased, failing, parked) are defined
 * once, in sql.c; this file only names them. Its queries are admin.c's, so
 * it holds no SQL: every value reaches the databases as a bound parameter,
 * and figures come back as columns. Bulk changes walk the table in batches of
 * GVCTL_BATCH ids, one short statement each, so deleting a million parked
 * jobs never holds one giant transaction.
 *
 * Exit codes: 0 success; 1 nothing matched (show, retry or delete of
 * nothing); 64 usage; 69 a database or the status file unavailable; 78
 * configuration. Errors go to stderr, one line each.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
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
#include "jobfield.h"
#include "jobjson.h"
#include "metrics.h"
#include "prom.h"
#include "schedule.h"
#include "util.h"

#define EXIT_NO_MATCH 1
#define GVCTL_BATCH 1000        /* ids per statement of a bulk change */
#define GVCTL_LIMIT 100         /* list lines, dry-run ids shown */
#define ARG_PREFIX 32           /* bytes of arg a list line shows */
#define MESSAGE_PREFIX 60       /* bytes of a failure a list line shows */

/* The states, in admin.h's order (the figures of a stats row). */
enum state {
	STATE_DUE,
	STATE_SCHEDULED,
	STATE_LEASED,
	STATE_FAILING,
	STATE_PARKED,
	STATE_COUNT
};

static const char *const state_names[STATE_COUNT] = {
	[STATE_DUE] = "due",
	[STATE_SCHEDULED] = "scheduled",
	[STATE_LEASED] = "leased",
	[STATE_FAILING] = "failing",
	[STATE_PARKED] = "parked",
};

/* The states that split the rows, in the order list prints them. */
static const enum state exclusive[] = {
	STATE_DUE, STATE_LEASED, STATE_SCHEDULED, STATE_PARKED,
};
#define NEXCLUSIVE (sizeof(exclusive) / sizeof(exclusive[0]))

/* The codes of admin_job_state. */
static const enum state state_codes[] = {
	STATE_DUE, STATE_SCHEDULED, STATE_LEASED, STATE_PARKED,
};

enum command { CMD_STATS, CMD_LIST, CMD_SHOW, CMD_RETRY, CMD_DELETE,
	CMD_STATUS, CMD_ERRORS, CMD_CANCEL, CMD_SCHEDULES };

static const char *const command_names[] = {
	[CMD_STATS] = "stats", [CMD_LIST] = "list", [CMD_SHOW] = "show",
	[CMD_RETRY] = "retry", [CMD_DELETE] = "delete",
	[CMD_STATUS] = "status", [CMD_ERRORS] = "errors",
	[CMD_CANCEL] = "cancel", [CMD_SCHEDULES] = "schedules",
};

struct opts {
	const char *ini;
	int json;
	const char *funcname;   /* NULL: every function */
	int state;              /* -1: any */
	long limit;
	int limit_set;
	int dry_run;
	int reset_failcount;
	int prometheus;
	const char *key;        /* cancel --key */
};

struct ctl {
	struct opts o;
	struct config *cfg;
	gv_client *gv;
	struct dbset *dbs;
	int unavailable;        /* a database failed: exit 69 */
};

/* Figures of one function (or a total) in one database (or all). */
struct figures {
	uint64_t n[STATE_COUNT];
	int has_lag;            /* 0: nothing due */
	uint64_t lag;           /* seconds */
};

struct func_figures {
	char *funcname;
	struct figures f;
};

struct db_figures {
	unsigned dbid;
	int failed;
	char err[512];
	struct func_figures *funcs;
	size_t nfuncs;
	struct figures total;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: gvctl [-c INI] [--json] COMMAND [options]\n"
	    "\n"
	    "  stats  [-f FUNC] [--prometheus]   jobs per function and state, "
	    "lag\n"
	    "  list   [-f FUNC] [-s STATE] [-n LIMIT]\n"
	    "  show   [DBID:]JOBID\n"
	    "  retry  [--dry-run] [--reset-failcount] [-n LIMIT] "
	    "[DBID:]JOBID...\n"
	    "  retry  [--dry-run] [--reset-failcount] [-n LIMIT] "
	    "-f FUNC | -s STATE\n"
	    "  delete [--dry-run] [-n LIMIT] [DBID:]JOBID...\n"
	    "  delete [--dry-run] [-n LIMIT] -f FUNC | -s STATE\n"
	    "  errors [-f FUNC] [-n LIMIT]       the newest failures, and why\n"
	    "  cancel [DBID:]JOBID...\n"
	    "  cancel -f FUNC -k UNIQKEY\n"
	    "  status                            the master's status file\n"
	    "  schedules [-f FUNC]               recurring jobs, last and next "
	    "slot\n"
	    "\n"
	    "  STATE: due, scheduled, leased, failing or parked\n"
	    "  -c, --config INI   default ./garivini.ini\n"
	    "  -j, --json         output for scripts\n"
	    "  -f, --function F   only jobs of function F\n"
	    "  -s, --state S      only jobs in state S\n"
	    "  -k, --key KEY      cancel the job of FUNC with unique key KEY\n"
	    "  -n, --limit N      list at most N jobs (or failures); dry runs "
	    "show at most N ids (100)\n");
}

static int
usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("gvctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (gvctl --help for usage)\n", stderr);
	return EX_USAGE;
}

static int
state_parse(const char *s)
{
	int i;

	for (i = 0; i < STATE_COUNT; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return -1;
}

static const char *
state_param(int state)
{
	return state < 0 ? NULL : state_names[state];
}

/* Bytes as an operator can read them: printable ASCII as it is, every
 * other byte and the backslash as \xHH, so the text is unambiguous. */
static void
escape_bytes(struct buf *b, const void *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
			buf_appendc(b, (char)p[i]);
		} else {
			char esc[4] = { '\\', 'x', hex[p[i] >> 4],
			    hex[p[i] & 15] };

			buf_append(b, esc, sizeof(esc));
		}
	}
}

/* A string escaped into a static buffer: one at a time. */
static const char *
escaped(const char *s)
{
	static struct buf b;

	buf_reset(&b);
	if (s == NULL)
		return "-";
	escape_bytes(&b, s, strlen(s));
	if (buf_appendc(&b, '\0') == -1)
		return "?";
	return b.data;
}

/* A failure's message on one line: UTF-8 as it is (the library stored
 * it valid), newlines as \n, tabs as spaces; at most max bytes, cut at a
 * character boundary, with "..." when cut (max 0: whole). "-" if empty. */
static const char *
message_line(const unsigned char *m, size_t len, size_t max)
{
	static struct buf b;
	size_t i = 0, n;

	buf_reset(&b);
	if (len == 0)
		return "(no message)";
	while (i < len) {
		n = 1;
		while (i + n < len && (m[i + n] & 0xc0) == 0x80)
			n++;
		if (max && b.len + n > max) {
			buf_append(&b, "...", 3);
			break;
		}
		if (m[i] == '\n')
			buf_append(&b, "\\n", 2);
		else if (m[i] == '\t')
			buf_appendc(&b, ' ');
		else
			buf_append(&b, m + i, n);
		i += n;
	}
	if (buf_appendc(&b, '\0') == -1)
		return "?";
	return b.data;
}

static const char *
iso_time(uint64_t t, char *out, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t >= GV_NEVER)
		return "never";
	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "%" PRIu64, t);
	return out;
}

static const char *
duration(double seconds, char *out, size_t len)
{
	unsigned long s = seconds > 0 ? (unsigned long)seconds : 0;

	if (s >= 86400)
		snprintf(out, len, "%lud%02luh%02lum", s / 86400,
		    s % 86400 / 3600, s % 3600 / 60);
	else if (s >= 3600)
		snprintf(out, len, "%luh%02lum%02lus", s / 3600, s % 3600 / 60,
		    s % 60);
	else if (s >= 60)
		snprintf(out, len, "%lum%02lus", s / 60, s % 60);
	else
		snprintf(out, len, "%lus", s);
	return out;
}

static int
parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static void
json_print(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(doc);
}

static void
report_db_failure(struct ctl *c, const char *err)
{
	fprintf(stderr, "gvctl: %s\n", err);
	c->unavailable = 1;
}

/* ---- stats -------------------------------------------------------------- */

static void
figures_add(struct figures *to, const struct figures *f)
{
	int i;

	for (i = 0; i < STATE_COUNT; i++)
		to->n[i] += f->n[i];
	if (f->has_lag && (!to->has_lag || f->lag > to->lag)) {
		to->has_lag = 1;
		to->lag = f->lag;
	}
}

static struct func_figures *
func_find(struct func_figures **funcs, size_t *n, const char *funcname)
{
	struct func_figures *grown;
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*funcs)[i].funcname, funcname) == 0)
			return &(*funcs)[i];
	if ((grown = realloc(*funcs, (*n + 1) * sizeof(**funcs))) == NULL)
		return NULL;
	*funcs = grown;
	memset(&grown[*n], 0, sizeof(grown[*n]));
	if ((grown[*n].funcname = strdup(funcname)) == NULL)
		return NULL;
	return &grown[(*n)++];
}

static int
func_cmp(const void *a, const void *b)
{
	const struct func_figures *x = a, *y = b;

	return strcmp(x->funcname, y->funcname);
}

static void
funcs_free(struct func_figures *funcs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(funcs[i].funcname);
	free(funcs);
}

/* One GROUP BY per database: the figures are of one moment of its clock. */
static void
stats_db(struct ctl *c, struct db *db, struct db_figures *d)
{
	struct admin_figures *rows = NULL;
	struct func_figures *ff;
	struct figures f;
	size_t n = 0, i;
	int k;

	_Static_assert((int)STATE_COUNT == (int)ADMIN_STATES,
	    "gvctl's states are admin.h's");
	d->dbid = db_id(db);
	if (admin_stats(db, c->o.funcname, &rows, &n, d->err,
	    sizeof(d->err)) == -1) {
		d->failed = 1;
		report_db_failure(c, d->err);
		return;
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < STATE_COUNT; k++)
			f.n[k] = rows[i].n[k];
		f.has_lag = rows[i].has_lag;
		f.lag = rows[i].lag;
		if ((ff = func_find(&d->funcs, &d->nfuncs,
		    rows[i].funcname)) == NULL) {
			fprintf(stderr, "gvctl: out of memory\n");
			exit(EX_OSERR);
		}
		figures_add(&ff->f, &f);
		figures_add(&d->total, &f);
	}
	admin_figures_free(rows, n);
	/* The server orders by its collation; the output orders by bytes. */
	if (d->nfuncs)
		qsort(d->funcs, d->nfuncs, sizeof(*d->funcs), func_cmp);
}

static json_t *
figures_json(const struct figures *f)
{
	json_t *o = json_object();
	int i;

	for (i = 0; i < STATE_COUNT; i++)
		json_object_set_new(o, state_names[i],
		    json_integer((json_int_t)f->n[i]));
	json_object_set_new(o, "lag", f->has_lag ?
	    json_integer((json_int_t)f->lag) : json_null());
	return o;
}

/* The configuration whose [function.NAME] sections stats reports (paused). */
static const struct config *policy;

static json_t *
funcs_json(const struct func_figures *funcs, size_t n)
{
	json_t *o = json_object(), *f;
	size_t i;

	for (i = 0; i < n; i++) {
		f = figures_json(&funcs[i].f);
		json_object_set_new(f, "paused", json_boolean(
		    config_paused(policy, funcs[i].funcname)));
		json_object_set_new(o, funcs[i].funcname, f);
	}
	return o;
}

/* A function's name in the table, marked when it is paused. */
static const char *
func_label(const char *funcname)
{
	static struct buf b;
	const char *e = escaped(funcname);

	if (!config_paused(policy, funcname))
		return e;
	buf_reset(&b);
	if (buf_printf(&b, "%s (paused)", e) == -1)
		return e;
	return b.data;
}

static void
stats_print_json(const struct db_figures *dbs, size_t ndbs,
    const struct func_figures *all, size_t nall, const struct figures *total)
{
	json_t *root = json_object(), *arr = json_array(), *o;
	size_t i;

	for (i = 0; i < ndbs; i++) {
		o = json_object();
		json_object_set_new(o, "dbid", json_integer(dbs[i].dbid));
		if (dbs[i].failed) {
			json_object_set_new(o, "error",
			    json_string(dbs[i].err));
		} else {
			json_object_set_new(o, "functions",
			    funcs_json(dbs[i].funcs, dbs[i].nfuncs));
			json_object_set_new(o, "total",
			    figures_json(&dbs[i].total));
		}
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "databases", arr);
	json_object_set_new(root, "functions", funcs_json(all, nall));
	json_object_set_new(root, "total", figures_json(total));
	json_print(root);
}

static void
stats_row(const char *db, const char *func, int width,
    const struct figures *f)
{
	char lag[32];

	if (f->has_lag)
		snprintf(lag, sizeof(lag), "%" PRIu64 "s", f->lag);
	else
		snprintf(lag, sizeof(lag), "-");
	printf("%-5s %-*s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64
	    " %9" PRIu64 " %9s\n", db, width, func, f->n[STATE_DUE],
	    f->n[STATE_SCHEDULED], f->n[STATE_LEASED], f->n[STATE_FAILING],
	    f->n[STATE_PARKED], lag);
}

static void
stats_print_table(const struct db_figures *dbs, size_t ndbs,
    const struct func_figures *all, size_t nall, const struct figures *total)
{
	char dbid[16];
	int width = (int)strlen("(total)");
	size_t i, k, len;

	for (i = 0; i < nall; i++)
		if ((len = strlen(func_label(all[i].funcname))) > (size_t)width)
			width = (int)len;
	printf("%-5s %-*s %9s %9s %9s %9s %9s %9s\n", "DB", width, "FUNCTION",
	    "DUE", "SCHEDULED", "LEASED", "FAILING", "PARKED", "LAG");
	for (i = 0; i < ndbs; i++) {
		snprintf(dbid, sizeof(dbid), "%u", dbs[i].dbid);
		if (dbs[i].failed) {
			printf("%-5s %-*s (unavailable)\n", dbid, width, "-");
			continue;
		}
		for (k = 0; k < dbs[i].nfuncs; k++)
			stats_row(dbid, func_label(dbs[i].funcs[k].funcname),
			    width, &dbs[i].funcs[k].f);
		stats_row(dbid, "(total)", width, &dbs[i].total);
	}
	for (i = 0; i < nall; i++)
		stats_row("all", func_label(all[i].funcname), width,
		    &all[i].f);
	stats_row("all", "(total)", width, total);
}

static int load_status(struct ctl *c, json_t **root, struct buf *text);

/* The master's counters per function, from its status file, in the same
 * families as its prometheus_file (src/metrics.c writes both). Not when the
 * master writes a prometheus_file: published beside it (gvctl(1)), they
 * would repeat its series, which a textfile collector refuses. Without a
 * readable status file (no master running) a comment says so: the database
 * figures stand on their own. */
static void
stats_functions_prometheus(struct ctl *c, struct prom *b)
{
	struct buf text = { 0 };
	struct metrics_func *f = NULL;
	const char *why = NULL;
	char err[256];
	json_t *root;
	size_t n;

	root = NULL;
	if (c->cfg->prometheus_file && *c->cfg->prometheus_file)
		why = "the master writes them to its prometheus_file";
	else if (load_status(c, &root, &text) != EX_OK)
		why = "the master's status file cannot be read";
	else if (metrics_from_json(json_object_get(root, "functions"), &f, &n,
	    err, sizeof(err)) == -1)
		why = err;
	else
		metrics_prometheus(b, f, n);
	if (why)
		prom_comment(b, "no per-function counters: %s", why);
	free(f);
	json_decref(root);
	buf_free(&text);
}

static void
stats_print_prometheus(struct ctl *c, const struct db_figures *dbs,
    size_t ndbs, const struct func_figures *all, size_t nall)
{
	struct prom b = { 0 };
	char dbid[16];
	size_t i;
	int s;

	prom_family(&b, "jobs", "gauge", "Jobs per function and state, "
	    "summed over the databases that answered; failing overlaps due, "
	    "scheduled and leased.");
	for (i = 0; i < nall; i++)
		for (s = 0; s < STATE_COUNT; s++)
			prom_u64(&b, "jobs", all[i].f.n[s], "function",
			    all[i].funcname, "state", state_names[s], NULL);
	prom_family(&b, "oldest_due_seconds", "gauge", "Age of the oldest "
	    "due job per function (0: none is due).");
	for (i = 0; i < nall; i++)
		prom_u64(&b, "oldest_due_seconds",
		    all[i].f.has_lag ? all[i].f.lag : 0, "function",
		    all[i].funcname, NULL);
	prom_family(&b, "function_paused", "gauge", "1 if the function is "
	    "paused ([function.NAME] paused = yes).");
	for (i = 0; i < nall; i++)
		prom_u64(&b, "function_paused",
		    (uint64_t)config_paused(policy, all[i].funcname),
		    "function", all[i].funcname, NULL);
	prom_family(&b, "database_up", "gauge", "1 if the database answered.");
	for (i = 0; i < ndbs; i++) {
		snprintf(dbid, sizeof(dbid), "%u", dbs[i].dbid);
		prom_u64(&b, "database_up", !dbs[i].failed, "dbid", dbid,
		    NULL);
	}
	stats_functions_prometheus(c, &b);
	if (b.failed)
		fprintf(stderr, "gvctl: out of memory\n");
	else
		fwrite(b.text.data, 1, b.text.len, stdout);
	prom_free(&b);
}

static int
cmd_stats(struct ctl *c)
{
	size_t ndbs = dbset_count(c->dbs), nall = 0, i, k;
	struct func_figures *all = NULL, *ff;
	struct figures total;
	struct db_figures *dbs;

	if ((dbs = calloc(ndbs, sizeof(*dbs))) == NULL) {
		fprintf(stderr, "gvctl: out of memory\n");
		return EX_OSERR;
	}
	memset(&total, 0, sizeof(total));
	policy = c->cfg;
	for (i = 0; i < ndbs; i++) {
		stats_db(c, dbset_at(c->dbs, i), &dbs[i]);
		if (dbs[i].failed)
			continue;
		for (k = 0; k < dbs[i].nfuncs; k++) {
			ff = func_find(&all, &nall, dbs[i].funcs[k].funcname);
			if (ff == NULL) {
				fprintf(stderr, "gvctl: out of memory\n");
				return EX_OSERR;
			}
			figures_add(&ff->f, &dbs[i].funcs[k].f);
		}
		figures_add(&total, &dbs[i].total);
	}
	if (nall)
		qsort(all, nall, sizeof(*all), func_cmp);
	if (c->o.prometheus)
		stats_print_prometheus(c, dbs, ndbs, all, nall);
	else if (c->o.json)
		stats_print_json(dbs, ndbs, all, nall, &total);
	else
		stats_print_table(dbs, ndbs, all, nall, &total);
	for (i = 0; i < ndbs; i++)
		funcs_free(dbs[i].funcs, dbs[i].nfuncs);
	free(dbs);
	funcs_free(all, nall);
	return c->unavailable ? EX_UNAVAILABLE : EX_OK;
}

/* ---- list and show ------------------------------------------------------ */

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
		json_object_set_new(o, "state", json_string(state_names[state]));
	json_object_set_new(o, "arg_len", json_integer((json_int_t)job->arg_len));
	return o;
}

/* ---- failures ---------------------------------------------------------- */

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
	report_db_failure(c, err);
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
		if ((len = (int)strlen(escaped(jobs[i].funcname))) > fw)
			fw = len;
		if ((len = (int)strlen(escaped(jobs[i].uniqkey))) > uw)
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
		escape_bytes(&arg, j->arg, j->arg_len < ARG_PREFIX ?
		    j->arg_len : ARG_PREFIX);
		if (j->arg_len > ARG_PREFIX)
			buf_append(&arg, "...", 3);
		printf("%-*s %-*s %-9s %-20s %4d %5u %7" PRIu32 " ", idw, id,
		    fw, escaped(j->funcname), state_names[states[i]],
		    iso_time(j->run_after, when, sizeof(when)), j->priority,
		    j->failcount, j->attempt);
		printf("%-*s %7zu %-*.*s", uw, escaped(j->uniqkey), j->arg_len,
		    lasts ? ARG_PREFIX + 3 : 0, (int)arg.len,
		    arg.data ? arg.data : "");
		if (lasts && lasts[i].jobid)
			printf(" %s", message_line((const unsigned char *)
			    lasts[i].message, lasts[i].message_len,
			    MESSAGE_PREFIX));
		else if (lasts)
			printf(" -");
		printf("\n");
	}
	buf_free(&arg);
}

static int
cmd_list(struct ctl *c)
{
	struct gv_job *jobs = NULL;
	struct admin_failure *lasts = NULL;
	int *states = NULL, *grown;
	size_t njobs = 0, before, i, k, s;
	char err[1024];
	json_t *root, *arr;

	for (i = 0; i < dbset_count(c->dbs); i++) {
		struct db *db = dbset_at(c->dbs, i);

		for (s = 0; s < NEXCLUSIVE; s++) {
			enum state shown = exclusive[s];

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
			if (admin_list(db, c->o.funcname, state_names[shown],
			    state_param(c->o.state), (uint64_t)c->o.limit -
			    njobs, &jobs, &njobs, err, sizeof(err)) == -1) {
				report_db_failure(c, err);
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
		json_print(root);
	} else {
		list_print_table(jobs, states, njobs, lasts);
	}
	db_jobs_free(jobs, njobs);
	admin_failures_free(lasts, lasts ? njobs : 0);
	free(states);
	return c->unavailable ? EX_UNAVAILABLE : EX_OK;
}

/* The job a DBID:JOBID or JOBID names: 0 with *dbp and *jobid set, or an
 * exit code with the reason on stderr. A bare JOBID must exist in exactly
 * one database. */
static int
resolve(struct ctl *c, const char *spec, struct db **dbp, uint64_t *jobid)
{
	const char *colon = strchr(spec, ':');
	struct db *found = NULL, *db;
	uint64_t dbid = 0, state;
	char err[1024], part[32];
	int hit, unavailable = 0;
	size_t i;

	if (colon) {
		if ((size_t)(colon - spec) >= sizeof(part))
			return usage_error("%s: expected DBID:JOBID or JOBID",
			    spec);
		memcpy(part, spec, (size_t)(colon - spec));
		part[colon - spec] = '\0';
		if (parse_u64(part, &dbid) == -1 ||
		    parse_u64(colon + 1, jobid) == -1)
			return usage_error("%s: expected DBID:JOBID or JOBID",
			    spec);
		if (dbid > 65535 || (db = dbset_find(c->dbs,
		    (unsigned)dbid)) == NULL)
			return usage_error("%s: database %" PRIu64 " is not "
			    "configured in %s", spec, dbid, c->o.ini);
	} else if (parse_u64(spec, jobid) == -1) {
		return usage_error("%s: expected DBID:JOBID or JOBID", spec);
	}
	for (i = 0; i < dbset_count(c->dbs); i++) {
		db = dbset_at(c->dbs, i);
		if (colon && db_id(db) != dbid)
			continue;
		if (admin_job_state(db, *jobid, &state, &hit, err,
		    sizeof(err)) == -1) {
			report_db_failure(c, err);
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

static int
cmd_show(struct ctl *c, const char *spec)
{
	struct gv_job *jobs = NULL;
	struct admin_failure *errs = NULL;
	size_t nerrs = 0, i;
	const struct gv_job *j;
	struct buf b = { 0 };
	uint64_t jobid, code = 0, leased = 0;
	char err[1024], when[32];
	size_t njobs = 0;
	struct db *db;
	int rc, state = -1;

	if ((rc = resolve(c, spec, &db, &jobid)) != 0)
		return rc;
	if (admin_job(db, jobid, &jobs, &njobs, &code, &leased, err,
	    sizeof(err)) == -1) {
		report_db_failure(c, err);
		db_jobs_free(jobs, njobs);
		return EX_UNAVAILABLE;
	}
	if (njobs == 0) {
		/* Completed between the two statements. */
		fprintf(stderr, "gvctl: job %u:%" PRIu64 " not found\n",
		    db_id(db), jobid);
		db_jobs_free(jobs, njobs);
		return EXIT_NO_MATCH;
	}
	j = &jobs[0];
	if (code < sizeof(state_codes) / sizeof(state_codes[0]))
		state = (int)state_codes[code];
	if (failures_read(c, db, jobid, NULL, GV_ERRORS_KEPT, &errs, &nerrs) ==
	    -1)
		rc = EX_UNAVAILABLE;
	if (c->o.json) {
		json_t *doc, *arr;
		json_error_t error;

		if (jobjson_encode(j, &b) == -1 || (doc = json_loadb(b.data,
		    b.len, JSON_ALLOW_NUL, &error)) == NULL) {
			fprintf(stderr, "gvctl: out of memory\n");
			return EX_OSERR;
		}
		arr = json_array();
		for (i = 0; i < nerrs; i++)
			json_array_append_new(arr, failure_json(&errs[i]));
		json_object_set_new(doc, "failures", arr);
		json_print(doc);
	} else {
		printf("job        %u:%" PRIu64 "\n", j->dbid, j->jobid);
		printf("funcname   %s\n", escaped(j->funcname));
		printf("state      %s%s\n", state < 0 ? "?" : state_names[state],
		    j->failcount && state != STATE_PARKED ? ", failing" : "");
		printf("run_after  %s (%" PRIu32 ")\n",
		    iso_time(j->run_after, when, sizeof(when)), j->run_after);
		printf("priority   %d\n", j->priority);
		printf("failcount  %u\n", j->failcount);
		printf("attempt    %" PRIu32 "\n", j->attempt);
		printf("leased     %" PRIu64 "\n", leased);
		printf("flag       %s\n", jobfield_flag_name(j->flag));
		printf("uniqkey    %s\n", escaped(j->uniqkey));
		printf("coalesce   %s\n", escaped(j->coalesce));
		printf("arg_len    %zu\n", j->arg_len);
		escape_bytes(&b, j->arg, j->arg_len);
		printf("arg        %.*s\n", (int)b.len, b.data ? b.data : "");
		printf("failures   %s\n", nerrs ? "newest first" : "none kept");
		for (i = 0; i < nerrs; i++)
			printf("  %s  failcount %u  attempt %" PRIu32 "  %s\n",
			    iso_time(errs[i].time, when, sizeof(when)),
			    errs[i].failcount, errs[i].attempt,
			    message_line((const unsigned char *)errs[i].message,
			    errs[i].message_len, 0));
	}
	buf_free(&b);
	db_jobs_free(jobs, njobs);
	admin_failures_free(errs, nerrs);
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
static int
cmd_errors(struct ctl *c)
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
		json_print(root);
	} else {
		if (shown)
			printf("%-20s %-12s %-16s %5s %7s %s\n", "TIME", "JOB",
			    "FUNCTION", "FAILS", "ATTEMPT", "MESSAGE");
		for (i = 0; i < shown; i++) {
			snprintf(id, sizeof(id), "%u:%" PRIu64, all[i].dbid,
			    all[i].jobid);
			printf("%-20s %-12s %-16s %5u %7" PRIu32 " ",
			    iso_time(all[i].time, when, sizeof(when)), id,
			    escaped(all[i].funcname), all[i].failcount,
			    all[i].attempt);
			printf("%s\n", message_line((const unsigned char *)
			    all[i].message, all[i].message_len, 0));
		}
	}
	admin_failures_free(all, nall);
	return c->unavailable ? EX_UNAVAILABLE : EX_OK;
}

/* ---- cancel ------------------------------------------------------------- */

/* Cancel by key (-f FUNC -k KEY) or by id: the row goes, whatever its
 * state, with its failures (gv_cancel_job). */
static int
cmd_cancel(struct ctl *c, char **specs, int nspecs)
{
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
		if ((rc = resolve(c, specs[k], &db, &jobid)) == EX_USAGE)
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

/* ---- retry and delete --------------------------------------------------- */

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
	    admin_delete(db, ids, n, state, changed, err, errlen);
}

/* Every job of the function and state, walked in jobid order. */
static int
change_matching(struct ctl *c, struct db *db, enum command cmd,
    struct change *ch, char *err, size_t errlen)
{
	uint64_t ids[GVCTL_BATCH], cursor = 0, changed;
	size_t n, i;

	for (;;) {
		if (admin_match(db, c->o.funcname, state_param(c->o.state),
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
			    state_param(c->o.state), &changed, err, errlen) ==
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
		json_print(root);
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
cmd_change(struct ctl *c, enum command cmd, char **specs, int nspecs)
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
		if ((rc = resolve(c, specs[k], &db, &jobid)) == EX_USAGE) {
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
			report_db_failure(c, err);
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

/* ---- status ------------------------------------------------------------- */

static const char *
jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

static long long
jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return 0;
}

static double
jnum(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

/* Which host of its list each database is on, over the children: one line
 * per database and host ("database 1 on 10.0.0.11:3306, 5 children"), so
 * a failover, and children that disagree, show at a glance. */
static void
print_db_hosts(json_t *children)
{
	json_t *seen = json_object(), *ch, *hosts, *host, *per;
	const char *dbid, *h;
	char key[320];
	size_t i;

	json_array_foreach(children, i, ch) {
		hosts = json_object_get(ch, "db_hosts");
		json_object_foreach(hosts, dbid, host) {
			if (!json_is_string(host))
				continue;
			snprintf(key, sizeof(key), "%s %s", dbid,
			    json_string_value(host));
			per = json_object_get(seen, key);
			json_object_set_new(seen, key, json_integer(
			    json_integer_value(per) + 1));
		}
	}
	i = 0;
	json_object_foreach(seen, h, per) {
		const char *sp = strchr(h, ' ');

		printf("%sdatabase %.*s on %s, %lld child%s\n", i++ ? "" : "\n",
		    (int)(sp - h), h, sp + 1,
		    (long long)json_integer_value(per),
		    json_integer_value(per) == 1 ? "" : "ren");
	}
	json_decref(seen);
}

static void
print_status_table(json_t *root, double now)
{
	json_t *master = json_object_get(root, "master");
	json_t *pools = json_object_get(root, "pools");
	json_t *children = json_object_get(root, "children");
	json_t *reload, *p, *ch;
	const char *name;
	char when[32], up[32], pool[64];
	double written = jnum(root, "written");
	size_t i;

	printf("master      pid %lld, %s, up %s\n", jint(master, "pid"),
	    jstr(master, "state"), duration(jnum(master, "uptime"), up,
	    sizeof(up)));
	printf("config      %s\n", jstr(master, "config"));
	reload = json_object_get(master, "last_reload");
	printf("generation  %lld\n", jint(master, "generation"));
	if (!json_is_object(reload)) {
		printf("reload      none since start\n");
	} else {
		printf("reload      %s at %s", jstr(reload, "result"),
		    iso_time((uint64_t)jnum(reload, "time"), when,
		    sizeof(when)));
		if (json_is_string(json_object_get(reload, "error")))
			printf(": %s", jstr(reload, "error"));
		printf("\n");
	}
	printf("written     %s (%s ago)\n", iso_time((uint64_t)written, when,
	    sizeof(when)), duration(now - written, up, sizeof(up)));

	printf("\n%-14s %10s %7s %5s %5s %8s %-13s %9s %9s\n", "POOL",
	    "CONFIGURED", "RUNNING", "BUSY", "IDLE", "RESTARTS", "FAILED",
	    "JOBS_DONE", "JOBS_FAIL");
	json_object_foreach(pools, name, p) {
		const char *failed = "no";

		if (json_is_true(json_object_get(p, "failed")))
			failed = "yes";
		else if (json_is_true(json_object_get(p, "crash_looping")))
			failed = "crash-looping";
		printf("%-14s %10lld %7lld %5lld %5lld %8lld %-13s %9lld "
		    "%9lld\n", name, jint(p, "configured"), jint(p, "running"),
		    jint(p, "busy"), jint(p, "idle"), jint(p, "restarts"),
		    failed, jint(p, "jobs_done"), jint(p, "jobs_failed"));
	}
	/* Said apart from the table: a broken database is rare and must not
	 * be missed, and the table's columns stay as scripts read them. */
	json_object_foreach(pools, name, p) {
		json_t *broken = json_object_get(p, "broken_dbs"), *id;

		json_array_foreach(broken, i, id)
			printf("%s%s: database %lld cannot be used (its job "
			    "table does not match this version); its jobs "
			    "wait\n", i ? "" : "\n", name,
			    (long long)json_integer_value(id));
	}

	print_db_hosts(children);

	printf("\n%-16s %8s %-9s %10s %9s %9s\n", "CHILD", "PID", "STATE",
	    "UPTIME", "JOBS_DONE", "JOBS_FAIL");
	json_array_foreach(children, i, ch) {
		snprintf(pool, sizeof(pool), "%s/%lld", jstr(ch, "pool"),
		    jint(ch, "slot"));
		printf("%-16s %8lld %-9s %10s %9lld %9lld\n", pool,
		    jint(ch, "pid"), jstr(ch, "state"),
		    duration(written - jnum(ch, "started"), up, sizeof(up)),
		    jint(ch, "jobs_done"), jint(ch, "jobs_failed"));
	}
}

/* The master's status file, parsed into *root (an object with a
 * "master"), its text in *text; EX_OK, or the exit code after saying why
 * on stderr. */
static int
load_status(struct ctl *c, json_t **root, struct buf *text)
{
	const char *path = c->cfg->status_file;
	json_error_t error;
	char chunk[8192];
	size_t n;
	FILE *fp;

	*root = NULL;
	if (path == NULL || *path == '\0') {
		fprintf(stderr, "gvctl: %s: no status_file configured\n",
		    c->o.ini);
		return EX_CONFIG;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "gvctl: status file %s: %s (is garivini "
		    "running?)\n", path, strerror(errno));
		return EX_UNAVAILABLE;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (buf_append(text, chunk, n) == -1) {
			fclose(fp);
			fprintf(stderr, "gvctl: out of memory\n");
			return EX_OSERR;
		}
	fclose(fp);
	*root = json_loadb(text->data ? text->data : "", text->len, 0, &error);
	if (!json_is_object(*root) ||
	    !json_is_object(json_object_get(*root, "master"))) {
		fprintf(stderr, "gvctl: status file %s: %s%s\n", path,
		    *root ? "not a garivini status document" :
		    "not valid JSON: ", *root ? "" : error.text);
		json_decref(*root);
		*root = NULL;
		return EX_UNAVAILABLE;
	}
	return EX_OK;
}

static int
cmd_status(struct ctl *c)
{
	struct buf text = { 0 };
	json_t *root;
	int code;

	if ((code = load_status(c, &root, &text)) == EX_OK) {
		if (c->o.json)
			fwrite(text.data, 1, text.len, stdout);
		else
			print_status_table(root, time_real());
	}
	json_decref(root);
	buf_free(&text);
	return code;
}

/* ---- schedules ---------------------------------------------------------- */

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
		report_db_failure(c, err);
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
				iso_time(r[i].last, last, sizeof(last));
			if (r[i].next < 0)
				snprintf(next, sizeof(next), "never");
			else
				iso_time((uint64_t)r[i].next, next,
				    sizeof(next));
		}
		printf("%-20s %-20s %4d  %-24s %-6s %-22s %s%s\n",
		    r[i].cs->name, escaped(r[i].cs->function), r[i].cs->dbid,
		    when, r[i].cs->missed, last, next, !r[i].failed &&
		    r[i].next >= 0 && (uint64_t)r[i].next <= r[i].now ?
		    " (due)" : "");
	}
}

/* The [schedule.NAME] sections of the INI, each with the last slot its
 * state row holds and the next one. */
static int
cmd_schedules(struct ctl *c)
{
	struct sched_row *rows;
	json_t *list;
	size_t i, n = 0;

	if (c->o.state >= 0)
		return usage_error("schedules: --state does not apply");
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
		json_print(json_pack("{s:o}", "schedules", list));
	} else {
		sched_print(rows, n);
	}
	free(rows);
	return c->unavailable ? EX_UNAVAILABLE : EX_OK;
}

/* ---- main --------------------------------------------------------------- */

/* Options that only some commands take. */
static int
check_options(const struct opts *o, enum command cmd, int nargs)
{
	const char *name = command_names[cmd];

	if (o->prometheus && cmd != CMD_STATS)
		return usage_error("%s: --prometheus is for stats", name);
	if (o->prometheus && o->json)
		return usage_error("--prometheus and --json do not go together");
	if (o->funcname && (cmd == CMD_SHOW || cmd == CMD_STATUS))
		return usage_error("%s: --function does not apply", name);
	if (o->state >= 0 && (cmd == CMD_STATS || cmd == CMD_SHOW ||
	    cmd == CMD_STATUS || cmd == CMD_ERRORS || cmd == CMD_CANCEL))
		return usage_error("%s: --state does not apply", name);
	if (o->limit_set && cmd != CMD_LIST && cmd != CMD_ERRORS &&
	    !o->dry_run)
		return usage_error("%s: --limit is for list, errors and dry "
		    "runs", name);
	if (o->dry_run && cmd != CMD_RETRY && cmd != CMD_DELETE)
		return usage_error("%s: --dry-run is for retry and delete",
		    name);
	if (o->reset_failcount && cmd != CMD_RETRY)
		return usage_error("%s: --reset-failcount is for retry", name);
	if (o->key && cmd != CMD_CANCEL)
		return usage_error("%s: --key is for cancel", name);
	switch (cmd) {
	case CMD_SHOW:
		if (nargs != 1)
			return usage_error("show takes one DBID:JOBID");
		break;
	case CMD_RETRY:
	case CMD_DELETE:
		if (nargs && (o->funcname || o->state >= 0))
			return usage_error("%s: name jobs by id or by "
			    "--function/--state, not both", name);
		if (!nargs && !o->funcname && o->state < 0)
			return usage_error("%s: name jobs by id, or by "
			    "--function and/or --state", name);
		break;
	case CMD_CANCEL:
		if (nargs && (o->funcname || o->key))
			return usage_error("cancel: name jobs by id or by "
			    "--function and --key, not both");
		if (!nargs && (!o->funcname || !o->key))
			return usage_error("cancel: name jobs by id, or one by "
			    "--function and --key");
		break;
	default:
		if (nargs)
			return usage_error("%s takes no argument", name);
		break;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "function", required_argument, NULL, 'f' },
		{ "state", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'n' },
		{ "dry-run", no_argument, NULL, 'D' },
		{ "reset-failcount", no_argument, NULL, 'R' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl c = { .o = { .ini = "garivini.ini", .state = -1,
	    .limit = GVCTL_LIMIT } };
	char err[CONFIG_ERRLEN];
	enum command cmd;
	char *line;
	size_t i;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "c:jf:s:n:k:hV", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			c.o.ini = optarg;
			break;
		case 'j':
			c.o.json = 1;
			break;
		case 'f':
			c.o.funcname = optarg;
			break;
		case 's':
			if ((c.o.state = state_parse(optarg)) < 0)
				return usage_error("--state %s: expected due, "
				    "scheduled, leased, failing or parked",
				    optarg);
			break;
		case 'n':
			if (parse_long(optarg, 1, 100000000L, &c.o.limit) ==
			    -1)
				return usage_error("--limit %s: expected 1 .. "
				    "100000000", optarg);
			c.o.limit_set = 1;
			break;
		case 'D':
			c.o.dry_run = 1;
			break;
		case 'k':
			c.o.key = optarg;
			break;
		case 'R':
			c.o.reset_failcount = 1;
			break;
		case 'P':
			c.o.prometheus = 1;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("gvctl %s\n", GV_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind == argc)
		return usage_error("no command given");
	for (i = 0; i < sizeof(command_names) / sizeof(command_names[0]); i++)
		if (strcmp(argv[optind], command_names[i]) == 0)
			break;
	if (i == sizeof(command_names) / sizeof(command_names[0]))
		return usage_error("unknown command %s", argv[optind]);
	cmd = (enum command)i;
	optind++;
	if ((rc = check_options(&c.o, cmd, argc - optind)) != 0)
		return rc;

	err[0] = '\0';
	if ((c.cfg = config_load(c.o.ini, err, sizeof(err))) == NULL) {
		/* Every error found, one per line. */
		for (line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
			fprintf(stderr, "gvctl: %s\n", line);
		return EX_CONFIG;
	}
	if (cmd == CMD_STATUS) {
		rc = cmd_status(&c);
		config_free(c.cfg);
		return rc;
	}
	if ((c.gv = client_open_config(c.cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "gvctl: %s: %s\n", c.o.ini, err);
		config_free(c.cfg);
		return EX_CONFIG;
	}
	c.dbs = client_dbset(c.gv);
	switch (cmd) {
	case CMD_STATS:
		rc = cmd_stats(&c);
		break;
	case CMD_LIST:
		rc = cmd_list(&c);
		break;
	case CMD_SHOW:
		rc = cmd_show(&c, argv[optind]);
		break;
	case CMD_ERRORS:
		rc = cmd_errors(&c);
		break;
	case CMD_CANCEL:
		rc = cmd_cancel(&c, argv + optind, argc - optind);
		break;
	case CMD_SCHEDULES:
		rc = cmd_schedules(&c);
		break;
	default:
		rc = cmd_change(&c, cmd, argv + optind, argc - optind);
		break;
	}
	gv_close(c.gv);
	config_free(c.cfg);
	return rc;
}
