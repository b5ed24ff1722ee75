/*
 * gvctl_stats: gvctl stats, the jobs of each function per state and their
 * lag, in every database and in all, as a table, JSON or Prometheus text.
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
#include "metrics.h"
#include "prom.h"
#include "util.h"

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
		gvctl_db_failed(c, d->err);
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
		json_object_set_new(o, gvctl_state_names[i],
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
	const char *e = gvctl_escaped(funcname);

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
	gvctl_json_print(root);
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
	else if (gvctl_status_load(c, &root, &text) != EX_OK)
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
			    all[i].funcname, "state", gvctl_state_names[s], NULL);
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

int
gvctl_stats_print(struct ctl *c)
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
