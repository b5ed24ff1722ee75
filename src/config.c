/*
 * config: garivini.ini into a struct config, driven by one table of keys.
 *
 * inih does the tokenising. Its handler is told neither the line of a key nor
 * that a section began, so we hand it our own line reader: it counts lines,
 * refuses lines longer than inih's buffer (inih would silently split them into
 * two lines) and notes each section header as it passes. Every error found is
 * collected, so an operator fixes a file in one round.
 */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ini.h>

#include "config.h"
#include "cron.h"
#include "garivini.h"
#include "hostport.h"
#include "jobfield.h"
#include "jobjson.h"
#include "log_level.h"
#include "util.h"

enum key_type {
	KT_STRING,      /* char *; "" means none when the default is none */
	KT_INT,         /* int */
	KT_UINT,        /* unsigned */
	KT_DOUBLE,      /* double */
	KT_LEVEL,       /* int, enum log_level */
	KT_SERVERS,     /* char * as written, parsed into cfg->servers */
	KT_HOSTS,       /* char * as written, checked as a host list */
	KT_BOOL,        /* int 0 or 1: yes/no, true/false, on/off, 1/0 */
};

/* flags */
#define K_FIXED         0x1     /* a reload may not change it */
#define K_REQUIRED      0x2
#define K_SECRET        0x4     /* never printed */

/* readers: the roles whose children read a key (config_same_role) */
#define R_QR            0x1
#define R_INJ           0x2
#define R_CTL           0x4
#define R_ALL           (R_QR | R_INJ | R_CTL)

struct key {
	const char *section;    /* "db" stands for every [db.N] */
	const char *name;
	enum key_type type;
	const char *def;        /* as it would be written; NULL: none */
	double min, max;        /* numbers only */
	unsigned flags;
	unsigned readers;
	size_t off;             /* in struct config, or struct config_db */
	const char *help;
};

#define G(field) offsetof(struct config, field)
#define D(field) offsetof(struct config_db, field)
#define F(field) offsetof(struct config_func, field)
#define S(field) offsetof(struct config_sched, field)
#define DB_SECTION "db"
#define FUNC_SECTION "function"
#define SCHED_SECTION "schedule"
#define SCHED_NAME_MAX 200      /* the name column of schedule_state */
#define SCHED_EVERY_MAX 31536000 /* a year */
/* A key of [function.NAME] without a value there takes the value of the
 * main sections: its field holds this. */
#define UNSET (-1)
/* A number of garivini.h as a default of the table. */
#define DEF_(n) #n
#define DEF(n) DEF_(n)

static const struct key keys[] = {
	{ "garivini", "gearman_servers", KT_SERVERS, "127.0.0.1:4730", 0, 0,
	    0, R_ALL, G(gearman_servers),
	    "gearmand servers, host[:port] separated by commas or spaces" },
	{ "garivini", "pidfile", KT_STRING, "/run/garivini/garivini.pid", 0, 0,
	    K_FIXED, 0, G(pidfile), "the master's pid, for garivini -s" },
	{ "garivini", "status_file", KT_STRING, "/run/garivini/status.json",
	    0, 0, 0, 0, G(status_file), "JSON status written by the master" },
	{ "garivini", "status_interval", KT_DOUBLE, "5", 0.1, 3600,
	    0, 0, G(status_interval), "seconds between status file writes" },
	{ "garivini", "log_file", KT_STRING, "stderr", 0, 0,
	    0, R_ALL, G(log_file), "stderr, syslog or a file path" },
	/* Read by every role, but no reason to replace one: the master hands
	 * a new level to its running children (scoreboard_set_log_level). */
	{ "garivini", "log_level", KT_LEVEL, "info", 0, 0,
	    0, 0, G(log_level), "err, warn, notice, info or debug" },
	{ "garivini", "user", KT_STRING, NULL, 0, 0,
	    K_FIXED, 0, G(user), "user to run as when started as root" },
	{ "garivini", "group", KT_STRING, NULL, 0, 0,
	    K_FIXED, 0, G(group), "group to run as when started as root" },
	{ "garivini", "shutdown_timeout", KT_DOUBLE, "30", 0, 86400,
	    0, 0, G(shutdown_timeout),
	    "seconds children get to finish on stop before SIGKILL" },
	{ "garivini", "heartbeat_timeout", KT_DOUBLE, "300", 0, 86400,
	    0, 0, G(heartbeat_timeout),
	    "seconds a busy child may go silent before it is killed; 0 = off" },
	{ "garivini", "prometheus_file", KT_STRING, NULL, 0, 0,
	    0, 0, G(prometheus_file),
	    "Prometheus text file written with the status; none = off" },
	/* The shared table is sized once, before the first fork. */
	{ "garivini", "metrics_functions", KT_INT, "100", 1, 5000,
	    K_FIXED, 0, G(metrics_functions),
	    "functions with metrics of their own; the rest count as _other" },

	{ DB_SECTION, "host", KT_HOSTS, "127.0.0.1", 0, 0,
	    0, R_ALL, D(host),
	    "database server host, or an ordered list of host[:port] (one "
	    "writer at a time, the first usable one)" },
	{ DB_SECTION, "port", KT_UINT, "3306", 1, 65535,
	    0, R_ALL, D(port), "database server TCP port" },
	{ DB_SECTION, "socket", KT_STRING, NULL, 0, 0,
	    0, R_ALL, D(socket),
	    "local socket path; when set, used instead of TCP" },
	{ DB_SECTION, "database", KT_STRING, NULL, 0, 0,
	    K_REQUIRED, R_ALL, D(database),
	    "database (schema) holding the job table" },
	{ DB_SECTION, "user", KT_STRING, "garivini", 0, 0,
	    0, R_ALL, D(user), "database user" },
	{ DB_SECTION, "password", KT_STRING, "", 0, 0,
	    K_SECRET, R_ALL, D(password), "database password" },

	{ "queue_runner", "processes", KT_INT, "1", 0, 1024,
	    0, 0, G(queue_runner.processes), "QueueRunner children" },
	{ "queue_runner", "batch_run_sleep", KT_DOUBLE, "1.0", 0, 3600,
	    0, R_QR, G(queue_runner.batch_run_sleep),
	    "seconds between batches when nothing was due" },
	{ "queue_runner", "batch_max_size", KT_INT, "1000", 1, 100000,
	    0, R_QR, G(queue_runner.batch_max_size),
	    "jobs claimed per batch" },
	/* A claim holds its rows' args, their documents and libgearman's
	 * copy at once: the budget bounds the QueueRunner's memory (about 3x
	 * this) whatever the rows hold. A row over it is still sent, alone. */
	{ "queue_runner", "batch_max_bytes", KT_INT, "67108864", 1048576,
	    1073741824,
	    0, R_QR, G(queue_runner.batch_max_bytes),
	    "bytes of args claimed per batch; a larger row goes alone" },
	{ "queue_runner", "queue_watermark_depth", KT_INT, "10000",
	    0, 100000000,
	    0, R_QR | R_INJ, G(queue_runner.queue_watermark_depth),
	    "gearmand queue depth above which dispatch pauses; 0 = off" },
	{ "queue_runner", "lease_seconds", KT_INT, "300", 1, 604800,
	    0, R_ALL, G(queue_runner.lease_seconds),
	    "seconds a dispatched job stays hidden before it is sent again" },

	/* Two, for a spare while one restarts. Each handles concurrency
	 * calls at once, one per thread, each with its own connections: a
	 * call waits for its commit (an fsync), and InnoDB group-commits the
	 * commits of calls in flight together (bench/README.md, "Current
	 * figures"). */
	{ "injector", "processes", KT_INT, "2", 0, 1024,
	    0, 0, G(injector.processes), "Injector children" },
	{ "injector", "concurrency", KT_INT, "4", 1, 64,
	    0, R_INJ, G(injector.concurrency),
	    "inject_jobs calls one Injector handles at once" },

	{ "controller", "processes", KT_INT, "2", 0, 1024,
	    0, 0, G(controller.processes), "Controller children" },
	/* Each job in flight holds a connection to its gearmand (closing it
	 * is how a job no worker took is taken back), so the bound is
	 * gearmand's file descriptors more than this process. */
	{ "controller", "concurrency", KT_INT, "64", 1, 1024,
	    0, R_CTL, G(controller.concurrency),
	    "jobs one Controller runs at once" },
	{ "controller", "max_failures", KT_INT, "10", 0, 255,
	    0, R_CTL, G(controller.max_failures),
	    "failures after which a job is parked; 0 = retry forever" },
	{ "controller", "job_timeout", KT_DOUBLE, "600", 0.1, 604800,
	    0, R_CTL, G(controller.job_timeout),
	    "seconds a job may run before it counts as failed" },
	/* The n-th failure waits retry_first << (n - 1), at most retry_max.
	 * retry_max stops at 30 days: a longer wait is a parked job in all
	 * but name, and max_failures says that better. */
	{ "controller", "retry_first", KT_INT, DEF(GV_RETRY_FIRST), 1,
	    GV_RETRY_FIRST_LIMIT,
	    0, R_CTL, G(controller.retry_first),
	    "seconds a job waits after its first failure, doubling after each" },
	{ "controller", "retry_max", KT_INT, DEF(GV_RETRY_MAX), 1,
	    GV_RETRY_MAX_LIMIT,
	    0, R_CTL, G(controller.retry_max),
	    "most seconds a failed job waits; at least retry_first" },

	/* [function.NAME]: one function's policy, over the sections above. */
	{ FUNC_SECTION, "paused", KT_BOOL, "no", 0, 0,
	    0, R_QR | R_INJ, F(paused),
	    "jobs are stored but not dispatched (yes/no)" },
	{ FUNC_SECTION, "queue_watermark_depth", KT_INT, NULL, 0, 100000000,
	    0, R_QR | R_INJ, F(queue_watermark_depth),
	    "this function's watermark; none = [queue_runner]'s" },
	{ FUNC_SECTION, "lease_seconds", KT_INT, NULL, 1, 604800,
	    0, R_ALL, F(lease_seconds),
	    "this function's lease_seconds; none = [queue_runner]'s" },
	{ FUNC_SECTION, "max_failures", KT_INT, NULL, 0, 255,
	    0, R_CTL, F(max_failures),
	    "this function's max_failures; none = [controller]'s" },
	{ FUNC_SECTION, "job_timeout", KT_DOUBLE, NULL, 0.1, 604800,
	    0, R_CTL, F(job_timeout),
	    "this function's job_timeout; none = [controller]'s" },
	{ FUNC_SECTION, "retry_first", KT_INT, NULL, 1, GV_RETRY_FIRST_LIMIT,
	    0, R_CTL, F(retry_first),
	    "this function's retry_first; none = [controller]'s" },
	{ FUNC_SECTION, "retry_max", KT_INT, NULL, 1, GV_RETRY_MAX_LIMIT,
	    0, R_CTL, F(retry_max),
	    "this function's retry_max; none = [controller]'s" },

	/* [schedule.NAME]: a recurring job, inserted by the QueueRunners
	 * (workers/scheduler.c); cron or every is checked after the parse,
	 * as are the function's name and the database. */
	{ SCHED_SECTION, "function", KT_STRING, NULL, 0, 0,
	    K_REQUIRED, R_QR, S(function), "the function of its jobs" },
	{ SCHED_SECTION, "arg", KT_STRING, "", 0, 0,
	    0, R_QR, S(arg), "the arg of its jobs" },
	{ SCHED_SECTION, "cron", KT_STRING, NULL, 0, 0,
	    0, R_QR, S(cron),
	    "minute hour day-of-month month day-of-week, in UTC; or every" },
	{ SCHED_SECTION, "every", KT_INT, NULL, 1, SCHED_EVERY_MAX,
	    0, R_QR, S(every),
	    "seconds between slots, from the epoch (UTC); or cron" },
	{ SCHED_SECTION, "priority", KT_INT, "0", GV_PRIORITY_MIN,
	    GV_PRIORITY_MAX,
	    0, R_QR, S(priority), "the priority of its jobs" },
	{ SCHED_SECTION, "missed", KT_STRING, "once", 0, 0,
	    0, R_QR, S(missed),
	    "slots missed while nothing ran: once (the latest) or skip" },
	{ SCHED_SECTION, "flag", KT_STRING, JOBFIELD_FLAG_SHIM, 0, 0,
	    0, R_QR, S(flag),
	    JOBFIELD_FLAG_SHIM ": the worker completes its jobs; "
	    JOBFIELD_FLAG_CONTROLLER ": a Controller runs them" },
	{ SCHED_SECTION, "dbid", KT_INT, NULL, 1, 65535,
	    0, R_QR, S(dbid),
	    "the database of its jobs and state; none = the lowest [db.N]" },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* The roles: the one table of their names. */
static const struct {
	const char *name;       /* the role, and the section of its keys */
	unsigned bit;           /* in struct key's readers */
} roles[CONFIG_NROLES] = {
	[CONFIG_QUEUE_RUNNER] = { "queue_runner", R_QR },
	[CONFIG_INJECTOR] = { "injector", R_INJ },
	[CONFIG_CONTROLLER] = { "controller", R_CTL },
};

/* The state of one parse, reached by the reader and the handler. */
struct parse {
	struct config *cfg;
	const char *name;               /* file name for messages */
	FILE *fp;
	int line;                       /* line last handed to inih */
	int key_seen;                   /* inih's prev_name is set */
	int continuation;               /* inih will join this line to a key */
	char section[256];              /* current section, as written */
	int skip;                       /* ignore its keys: reported already */
	struct config_db *db;           /* current [db.N], or NULL */
	size_t func;                    /* current [function.NAME] + 1, or 0 */
	int section_line[NKEYS];        /* header line, by first row */
	int key_line[NKEYS];            /* line each key was set on */
	int db_key_line[CONFIG_MAX_DBS][NKEYS];
	int (*func_key_line)[NKEYS];    /* per [function.NAME] */
	size_t sched;                   /* current [schedule.NAME] + 1, or 0 */
	int (*sched_key_line)[NKEYS];   /* per [schedule.NAME] */
	struct buf errors;
	int nerrors;
	int nomem;
};

static int
is_db(const struct key *k)
{
	return strcmp(k->section, DB_SECTION) == 0;
}

static int
is_func(const struct key *k)
{
	return strcmp(k->section, FUNC_SECTION) == 0;
}

static int
is_sched(const struct key *k)
{
	return strcmp(k->section, SCHED_SECTION) == 0;
}

/* The keys of the main sections, of a [db.N], of a [function.NAME], of a
 * [schedule.NAME]. */
enum kind { MAIN, DB, FUNC, SCHED };

static enum kind
kind(const struct key *k)
{
	return is_db(k) ? DB : is_func(k) ? FUNC : is_sched(k) ? SCHED : MAIN;
}

static void *
field(void *base, const struct key *k)
{
	return (char *)base + k->off;
}

static const void *
cfield(const void *base, const struct key *k)
{
	return (const char *)base + k->off;
}

/* "FILE:LINE: [section] key: reason", leaving out what is not known. */
static void __attribute__((format(printf, 5, 6)))
report(struct parse *p, int line, const char *section, const char *key,
    const char *fmt, ...)
{
	struct buf *b = &p->errors;
	char reason[1024];
	va_list ap;
	int rc = 0;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (b->len)
		rc |= buf_appendc(b, '\n');
	if (line > 0)
		rc |= buf_printf(b, "%s:%d: ", p->name, line);
	else
		rc |= buf_printf(b, "%s: ", p->name);
	if (section && key)
		rc |= buf_printf(b, "[%s] %s: ", section, key);
	else if (section)
		rc |= buf_printf(b, "[%s]: ", section);
	else if (key)
		rc |= buf_printf(b, "%s: ", key);
	rc |= buf_printf(b, "%s", reason);
	if (rc)
		p->nomem = 1;
	p->nerrors++;
}

/* Copy the collected errors into err; when they do not fit, keep whole lines
 * and say that more follow. */
static void
errors_out(const struct buf *b, char *err, size_t errlen)
{
	static const char more[] = "\n... more errors";
	size_t keep;
	const char *nl;

	if (err == NULL || errlen == 0)
		return;
	if (b->len < errlen) {
		memcpy(err, b->data, b->len + 1);
		return;
	}
	if (errlen <= sizeof(more)) {
		snprintf(err, errlen, "%s", more + 1);
		return;
	}
	keep = 0;
	for (nl = b->data; (nl = strchr(nl, '\n')) != NULL; nl++) {
		if ((size_t)(nl - b->data) + sizeof(more) > errlen)
			break;
		keep = (size_t)(nl - b->data);
	}
	if (keep == 0)  /* even the first error is too long: cut it */
		keep = errlen - sizeof(more);
	memcpy(err, b->data, keep);
	memcpy(err + keep, more, sizeof(more));
}

static int
find_key(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* The first row of a section: stands for the section itself. */
static int
find_section(const char *section)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0)
			return (int)i;
	return -1;
}

static int
parse_servers(struct config *cfg, const char *value, char *why,
    size_t whylen)
{
	struct hostport list[CONFIG_MAX_SERVERS];
	size_t i, n;

	if (hostport_parse_list(value, 4730, list, CONFIG_MAX_SERVERS, &n, why,
	    whylen) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		memcpy(cfg->servers[i].host, list[i].host,
		    sizeof(cfg->servers[i].host));
		cfg->servers[i].port = list[i].port;
	}
	cfg->nservers = n;
	return 0;
}

/* Store value (as written in the file, or a default) into the key's field. */
static int
set_value(struct config *cfg, void *base, const struct key *k,
    const char *value, char *why, size_t whylen)
{
	void *f = field(base, k);
	char **sp = f;
	char *copy = NULL;
	double d;
	long l;
	int level;

	switch (k->type) {
	case KT_STRING:
	case KT_SERVERS:
	case KT_HOSTS:
		if (*value == '\0' && k->def && *k->def)
			return errf(why, whylen, "must not be empty");
		if (*value == '\0' && (k->flags & K_REQUIRED))
			return errf(why, whylen, "must not be empty");
		if (k->type == KT_SERVERS &&
		    parse_servers(cfg, value, why, whylen) == -1)
			return -1;
		if (k->type == KT_HOSTS) {
			struct hostport hosts[HOSTPORT_MAX_PER_DB];
			size_t n;

			if (hostport_parse_list(value, 3306, hosts,
			    HOSTPORT_MAX_PER_DB, &n, why, whylen) == -1)
				return -1;
		}
		/* An empty value of a key whose default is none means none. */
		if ((*value || k->def) && (copy = strdup(value)) == NULL)
			return errf(why, whylen, "out of memory");
		free(*sp);
		*sp = copy;
		return 0;
	case KT_INT:
	case KT_UINT:
		if (parse_long(value, LONG_MIN, LONG_MAX, &l) == -1)
			return errf(why, whylen,
			    "'%s' is not an integer (%.15g..%.15g)", value,
			    k->min, k->max);
		if ((double)l < k->min || (double)l > k->max)
			return errf(why, whylen,
			    "%s is out of range %.15g..%.15g", value, k->min,
			    k->max);
		if (k->type == KT_INT)
			*(int *)f = (int)l;
		else
			*(unsigned *)f = (unsigned)l;
		return 0;
	case KT_DOUBLE:
		if (parse_double(value, -DBL_MAX, DBL_MAX, &d) == -1)
			return errf(why, whylen,
			    "'%s' is not a number (%.15g..%.15g)", value,
			    k->min, k->max);
		if (d < k->min || d > k->max)
			return errf(why, whylen,
			    "%s is out of range %.15g..%.15g", value, k->min,
			    k->max);
		*(double *)f = d;
		return 0;
	case KT_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 ||
		    strcmp(value, "on") == 0 || strcmp(value, "1") == 0)
			*(int *)f = 1;
		else if (strcmp(value, "no") == 0 ||
		    strcmp(value, "false") == 0 || strcmp(value, "off") == 0 ||
		    strcmp(value, "0") == 0)
			*(int *)f = 0;
		else
			return errf(why, whylen, "'%s' is not yes or no", value);
		return 0;
	case KT_LEVEL:
		if ((level = log_level_parse(value)) == -1)
			return errf(why, whylen, "unknown log level '%s' (err, "
			    "warn, notice, info or debug)", value);
		*(int *)f = level;
		return 0;
	}
	return errf(why, whylen, "unknown key type");
}

/* Set the defaults of the rows of one kind of section. */
static void
set_defaults(struct parse *p, void *base, enum kind want, const char *section)
{
	char why[256];
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if (kind(&keys[i]) != want || keys[i].def == NULL)
			continue;
		if (set_value(p->cfg, base, &keys[i], keys[i].def, why,
		    sizeof(why)) == -1)
			report(p, 0, section ? section : keys[i].section,
			    keys[i].name, "default: %s", why);
	}
}

static struct config_db *
find_db(struct config *cfg, unsigned dbid)
{
	size_t i;

	for (i = 0; i < cfg->ndbs; i++)
		if (cfg->dbs[i].dbid == dbid)
			return &cfg->dbs[i];
	return NULL;
}

static void
known_sections(char *out, size_t outlen)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < NKEYS; i++) {
		if ((int)i != find_section(keys[i].section))
			continue;
		len += (size_t)snprintf(out + len, outlen - len, "%s[%s%s]",
		    len ? ", " : "", keys[i].section,
		    is_db(&keys[i]) ? ".N" : kind(&keys[i]) != MAIN ? ".NAME" :
		    "");
		if (len >= outlen)
			return;
	}
}

/* A named section as no line of it sets: its numbers with no default are
 * UNSET (for a [function.NAME], the main sections' value). */
static void
named_defaults(void *base, enum kind want)
{
	char why[256];
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if (kind(&keys[i]) != want)
			continue;
		if (keys[i].def)
			(void)set_value(NULL, base, &keys[i], keys[i].def, why,
			    sizeof(why));
		else if (keys[i].type == KT_INT)
			*(int *)field(base, &keys[i]) = UNSET;
		else if (keys[i].type == KT_DOUBLE)
			*(double *)field(base, &keys[i]) = UNSET;
	}
}

static void
func_defaults(struct config_func *f)
{
	memset(f, 0, sizeof(*f));
	named_defaults(f, FUNC);
}

/* Room for one more named section in *arr (n of size bytes) and its key
 * lines, both zeroed; returns a copy of its name, or NULL when memory ran
 * out. */
static char *
named_grow(struct parse *p, void *arrp, size_t n, size_t size,
    int (**lines)[NKEYS], const char *name)
{
	void **arr = arrp, *a;
	int (*l)[NKEYS];
	char *copy = NULL;

	if ((a = realloc(*arr, (n + 1) * size)) != NULL)
		*arr = a;
	if ((l = realloc(*lines, (n + 1) * sizeof(**lines))) != NULL)
		*lines = l;
	if (a == NULL || l == NULL || (copy = strdup(name)) == NULL) {
		p->nomem = 1;
		p->skip = 1;
		return NULL;
	}
	memset((char *)a + n * size, 0, size);
	memset(l[n], 0, sizeof(l[n]));
	return copy;
}

/* The index of the named section called name in arr (n of size bytes, each
 * beginning with its name), or -1. */
static long
named_find(const void *arr, size_t n, size_t size, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(*(char *const *)(const void *)((const char *)arr +
		    i * size), name) == 0)
			return (long)i;
	return -1;
}

/* Why name cannot be a job's function (a section's or a schedule's), or
 * NULL. */
static const char *
funcname_problem(const char *name)
{
	size_t len = strlen(name);

	if (len > GV_FUNCNAME_MAX)
		return "a function name is at most " STR(GV_FUNCNAME_MAX)
		    " bytes";
	if (!jobjson_utf8_valid(name, len))
		return "a function name must be valid UTF-8";
	if (gv_funcname_reserved(name))
		return "names a function Garivini serves itself";
	return NULL;
}

/* [function.NAME]: NAME is a function's name as its jobs carry it, byte
 * for byte. */
static void
begin_func(struct parse *p, const char *name)
{
	struct config *cfg = p->cfg;
	struct config_func *f;
	char *copy;
	const char *bad;
	long i;

	bad = *name ? funcname_problem(name) :
	    "names no function: [function.NAME]";
	if (bad) {
		report(p, p->line, p->section, NULL, "%s", bad);
		p->skip = 1;
		return;
	}
	if ((i = named_find(cfg->funcs, cfg->nfuncs, sizeof(*cfg->funcs),
	    name)) >= 0) {
		report(p, p->line, p->section, NULL,
		    "duplicate section (first on line %d)", cfg->funcs[i].line);
		p->func = (size_t)i + 1;
		return;
	}
	if ((copy = named_grow(p, &cfg->funcs, cfg->nfuncs,
	    sizeof(*cfg->funcs), &p->func_key_line, name)) == NULL)
		return;
	f = &cfg->funcs[cfg->nfuncs];
	func_defaults(f);
	f->name = copy;
	f->line = p->line;
	cfg->nfuncs++;
	p->func = cfg->nfuncs;
}

/* [schedule.NAME]: NAME names its state row and its jobs' unique keys, so
 * it is kept to characters any shell, log and SQL client shows as they
 * are. */
static void
begin_sched(struct parse *p, const char *name)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.";
	struct config *cfg = p->cfg;
	struct config_sched *s;
	char *copy;
	long i;

	if (*name == '\0' || strlen(name) > SCHED_NAME_MAX ||
	    strspn(name, ok) != strlen(name)) {
		report(p, p->line, p->section, NULL, "the NAME of "
		    "[schedule.NAME] is 1 to %d letters, digits, '_', '-' or "
		    "'.'", SCHED_NAME_MAX);
		p->skip = 1;
		return;
	}
	if ((i = named_find(cfg->scheds, cfg->nscheds, sizeof(*cfg->scheds),
	    name)) >= 0) {
		report(p, p->line, p->section, NULL,
		    "duplicate section (first on line %d)",
		    cfg->scheds[i].line);
		p->sched = (size_t)i + 1;
		return;
	}
	if ((copy = named_grow(p, &cfg->scheds, cfg->nscheds,
	    sizeof(*cfg->scheds), &p->sched_key_line, name)) == NULL)
		return;
	s = &cfg->scheds[cfg->nscheds];
	named_defaults(s, SCHED);
	s->name = copy;
	s->line = p->line;
	cfg->nscheds++;
	p->sched = cfg->nscheds;
}

static void
begin_section(struct parse *p, const char *name)
{
	struct config *cfg = p->cfg;
	struct config_db *db;
	char known[256];
	const char *n;
	long dbid;
	int row;

	snprintf(p->section, sizeof(p->section), "%s", name);
	p->skip = 0;
	p->db = NULL;
	p->func = 0;
	p->sched = 0;
	if (strncmp(name, DB_SECTION ".", strlen(DB_SECTION ".")) == 0) {
		n = name + strlen(DB_SECTION ".");
		if (!(*n >= '1' && *n <= '9') || strspn(n, "0123456789") !=
		    strlen(n) || parse_long(n, 1, 65535, &dbid) == -1) {
			report(p, p->line, name, NULL,
			    "the N of [db.N] must be an integer 1..65535");
			p->skip = 1;
			return;
		}
		if ((db = find_db(cfg, (unsigned)dbid)) != NULL) {
			/* Its keys still go to the first one, so a key set in
			 * both is reported too. */
			report(p, p->line, name, NULL,
			    "duplicate section (first on line %d)", db->line);
			p->db = db;
			return;
		}
		if (cfg->ndbs == CONFIG_MAX_DBS) {
			report(p, p->line, name, NULL,
			    "too many databases (at most %d)", CONFIG_MAX_DBS);
			p->skip = 1;
			return;
		}
		db = &cfg->dbs[cfg->ndbs++];
		db->dbid = (unsigned)dbid;
		db->line = p->line;
		set_defaults(p, db, DB, name);
		p->db = db;
		return;
	}
	if (strncmp(name, FUNC_SECTION ".", strlen(FUNC_SECTION ".")) == 0) {
		begin_func(p, name + strlen(FUNC_SECTION "."));
		return;
	}
	if (strncmp(name, SCHED_SECTION ".", strlen(SCHED_SECTION ".")) == 0) {
		begin_sched(p, name + strlen(SCHED_SECTION "."));
		return;
	}
	if ((row = find_section(name)) == -1 || kind(&keys[row]) != MAIN) {
		known_sections(known, sizeof(known));
		report(p, p->line, name, NULL, "unknown section (known: %s)",
		    known);
		p->skip = 1;
		return;
	}
	if (p->section_line[row])
		report(p, p->line, name, NULL,
		    "duplicate section (first on line %d)",
		    p->section_line[row]);
	else
		p->section_line[row] = p->line;
}

/* inih's rule for where a value or header ends: at one of chars, or at an
 * inline ';' comment, which needs whitespace before it. */
static const char *
find_end(const char *s, const char *chars)
{
	int was_space = 0;

	while (*s && !strchr(chars, *s) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* Classify a line the way inih will, to see the section headers it does not
 * report and the malformed lines it reports only the first of. */
static void
classify(struct parse *p, const char *line)
{
	const char *s = line, *end;
	char name[sizeof(p->section)];
	size_t len;

	p->continuation = 0;
	if (p->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || *s == ';' || *s == '#')
		return;
	if (s > line && p->key_seen) {
		p->continuation = 1;
		return;
	}
	if (*s == '[') {
		end = find_end(s + 1, "]");
		p->key_seen = 0;
		if (*end != ']') {
			report(p, p->line, NULL, NULL,
			    "section header without ']'");
			p->section[0] = '\0';
			p->db = NULL;
			p->skip = 1;
			return;
		}
		len = (size_t)(end - (s + 1));
		if (len >= sizeof(name))
			len = sizeof(name) - 1;
		memcpy(name, s + 1, len);
		name[len] = '\0';
		begin_section(p, name);
		return;
	}
	end = find_end(s, "=:");
	if (*end != '=' && *end != ':') {
		report(p, p->line, NULL, NULL,
		    "expected \"key = value\", a [section] or a ; comment");
		return;
	}
	p->key_seen = 1;
}

/* inih's reader: fgets that counts lines and refuses lines that do not fit
 * inih's buffer (it would read the rest as a line of its own). */
static char *
read_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	size_t len;
	int c;

	if (fgets(str, num, p->fp) == NULL)
		return NULL;
	p->line++;
	len = strlen(str);
	if (len == (size_t)num - 1 && str[len - 1] != '\n') {
		/* The buffer is full: fine only if the line ends right here. */
		c = getc(p->fp);
		if (c == '\r')
			c = getc(p->fp);
		if (c != EOF && c != '\n') {
			while (c != EOF && c != '\n')
				c = getc(p->fp);
			report(p, p->line, NULL, NULL,
			    "line too long (at most %d characters)", num - 1);
			/* A header we cannot read: its keys would land in
			 * the section before it. */
			if (str[strspn(str, " \t")] == '[')
				p->skip = 1;
			p->continuation = 0;
			str[0] = '\0';
			return str;
		}
	}
	classify(p, str);
	return str;
}

static int
handle(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	struct config *cfg = p->cfg;
	char why[512];
	int row, *lines;
	void *base;

	(void)section;  /* ours is complete: inih truncates long names */
	if (p->continuation) {
		report(p, p->line, p->section[0] ? p->section : NULL, name,
		    "an indented line continues the value of the key above; "
		    "remove the indentation");
		return 1;
	}
	if (p->skip)
		return 1;
	if (p->section[0] == '\0') {
		report(p, p->line, NULL, name,
		    "key outside any section: put it under a [section]");
		return 1;
	}
	if ((row = find_key(p->db ? DB_SECTION : p->func ? FUNC_SECTION :
	    p->sched ? SCHED_SECTION : p->section, name)) == -1) {
		report(p, p->line, p->section, name, "unknown key");
		return 1;
	}
	if (p->db) {
		lines = p->db_key_line[p->db - cfg->dbs];
		base = p->db;
	} else if (p->func) {
		lines = p->func_key_line[p->func - 1];
		base = &cfg->funcs[p->func - 1];
	} else if (p->sched) {
		lines = p->sched_key_line[p->sched - 1];
		base = &cfg->scheds[p->sched - 1];
	} else {
		lines = p->key_line;
		base = cfg;
	}
	if (lines[row]) {
		report(p, p->line, p->section, name, "already set on line %d",
		    lines[row]);
		return 1;
	}
	lines[row] = p->line;
	if (set_value(cfg, base, &keys[row], value, why, sizeof(why)) == -1)
		report(p, p->line, p->section, name, "%s", why);
	return 1;
}

/* Named sections by name: struct config_func and struct config_sched both
 * begin with it. */
static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_db(const void *a, const void *b)
{
	const struct config_db *x = a, *y = b;

	return (x->dbid > y->dbid) - (x->dbid < y->dbid);
}

static void
check_required(struct parse *p)
{
	struct config *cfg = p->cfg;
	char section[300];
	size_t i, j;

	for (i = 0; i < NKEYS; i++) {
		if (!(keys[i].flags & K_REQUIRED))
			continue;
		if (kind(&keys[i]) == MAIN) {
			if (p->key_line[i] == 0)
				report(p, p->section_line[find_section(
				    keys[i].section)], keys[i].section,
				    keys[i].name, "required key missing");
			continue;
		}
		for (j = 0; kind(&keys[i]) == SCHED && j < cfg->nscheds; j++) {
			if (p->sched_key_line[j][i])
				continue;
			snprintf(section, sizeof(section), SCHED_SECTION ".%s",
			    cfg->scheds[j].name);
			report(p, cfg->scheds[j].line, section, keys[i].name,
			    "required key missing");
		}
		for (j = 0; kind(&keys[i]) == DB && j < cfg->ndbs; j++) {
			if (p->db_key_line[j][i])
				continue;
			snprintf(section, sizeof(section), DB_SECTION ".%u",
			    cfg->dbs[j].dbid);
			report(p, cfg->dbs[j].line, section, keys[i].name,
			    "required key missing");
		}
	}
}

/* The lowest dbid configured (0: none). */
static int
lowest_dbid(const struct config *cfg)
{
	unsigned low = 0;
	size_t i;

	for (i = 0; i < cfg->ndbs; i++)
		if (low == 0 || cfg->dbs[i].dbid < low)
			low = cfg->dbs[i].dbid;
	return (int)low;
}

/*
 * What the table cannot check of a [schedule.NAME]: exactly one of cron and
 * every, a cron that parses, a function a job may have, missed once or
 * skip, a database that is configured. Each error at the line of its key.
 */
static void
check_sched(struct parse *p, struct config_sched *s, const int *lines)
{
	char section[300], why[512];
	int row_cron = find_key(SCHED_SECTION, "cron");
	int row_every = find_key(SCHED_SECTION, "every");
	int row_func = find_key(SCHED_SECTION, "function");
	int row_missed = find_key(SCHED_SECTION, "missed");
	int row_dbid = find_key(SCHED_SECTION, "dbid");
	enum gv_flag flag;
	const char *bad;

	snprintf(section, sizeof(section), SCHED_SECTION ".%s", s->name);
	if (lines[row_func] && s->function &&
	    (bad = funcname_problem(s->function)) != NULL)
		report(p, lines[row_func], section, "function", "%s: %s",
		    s->function, bad);
	if (lines[row_cron] && lines[row_every])
		report(p, lines[row_cron] > lines[row_every] ?
		    lines[row_cron] : lines[row_every], section,
		    lines[row_cron] > lines[row_every] ? "cron" : "every",
		    "set both cron and every: give one of them");
	else if (!lines[row_cron] && !lines[row_every])
		report(p, s->line, section, "cron",
		    "missing: give cron or every");
	else if (lines[row_cron] && s->cron == NULL)
		report(p, lines[row_cron], section, "cron", "must not be empty");
	else if (lines[row_cron] && cron_parse(s->cron, &s->parsed, why,
	    sizeof(why)) == -1)
		report(p, lines[row_cron], section, "cron", "'%s': %s",
		    s->cron, why);
	if (strcmp(s->missed, "once") == 0)
		s->policy = MISSED_ONCE;
	else if (strcmp(s->missed, "skip") == 0)
		s->policy = MISSED_SKIP;
	else
		report(p, lines[row_missed], section, "missed",
		    "'%s' is not once or skip", s->missed);
	if (jobfield_flag_parse(s->flag, strlen(s->flag), &flag) == 0)
		s->controller = flag == GV_FLAG_CONTROLLER;
	else
		report(p, lines[find_key(SCHED_SECTION, "flag")], section,
		    "flag", "'%s' is not " JOBFIELD_FLAG_SHIM " or "
		    JOBFIELD_FLAG_CONTROLLER, s->flag);
	if (s->dbid == UNSET)
		s->dbid = lowest_dbid(p->cfg);
	else if (find_db(p->cfg, (unsigned)s->dbid) == NULL)
		report(p, lines[row_dbid], section, "dbid",
		    "no [db.%d] section", s->dbid);
}

/* The backoff of the function whose section is f (NULL: none). */
static int
retry_first(const struct config *cfg, const struct config_func *f)
{
	return f && f->retry_first != UNSET ? f->retry_first :
	    cfg->controller.retry_first;
}

static int
retry_max(const struct config *cfg, const struct config_func *f)
{
	return f && f->retry_max != UNSET ? f->retry_max :
	    cfg->controller.retry_max;
}

/*
 * A retry_max below retry_first would cap every delay at the first one and
 * void the doubling without a word: refused, at the line of the key the
 * section sets (retry_max when it sets both). A pair a function completes
 * with [controller]'s value is checked as it takes effect.
 */
static void
check_backoff_pair(struct parse *p, const char *section, const int *lines,
    int row_first, int row_max, int first, int max, int inherits)
{
	if (max >= first)
		return;
	if (lines[row_max])
		report(p, lines[row_max], section, "retry_max",
		    "%d is less than retry_first (%d%s)", max, first,
		    inherits && !lines[row_first] ? ", [controller]'s" : "");
	else if (lines[row_first])
		report(p, lines[row_first], section, "retry_first",
		    "%d is more than retry_max (%d%s)", first, max,
		    inherits ? ", [controller]'s" : "");
}

static void
check_backoff(struct parse *p)
{
	const struct config *cfg = p->cfg;
	char section[300];
	size_t i;

	check_backoff_pair(p, "controller", p->key_line,
	    find_key("controller", "retry_first"),
	    find_key("controller", "retry_max"), cfg->controller.retry_first,
	    cfg->controller.retry_max, 0);
	for (i = 0; i < cfg->nfuncs; i++) {
		snprintf(section, sizeof(section), FUNC_SECTION ".%s",
		    cfg->funcs[i].name);
		check_backoff_pair(p, section, p->func_key_line[i],
		    find_key(FUNC_SECTION, "retry_first"),
		    find_key(FUNC_SECTION, "retry_max"),
		    retry_first(cfg, &cfg->funcs[i]),
		    retry_max(cfg, &cfg->funcs[i]), 1);
	}
}

static struct config *
load_stream(FILE *fp, const char *name, char *err, size_t errlen)
{
	struct config *cfg = NULL;
	struct parse *p;
	int rc;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (cfg->path = strdup(name)) == NULL) {
		errf(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	p->cfg = cfg;
	p->name = name;
	p->fp = fp;
	set_defaults(p, cfg, MAIN, NULL);
	rc = ini_parse_stream(read_line, p, handle, p);
	if (rc == -2 || ferror(fp)) {
		report(p, 0, NULL, NULL, rc == -2 ? "out of memory" :
		    "read error");
	} else if (rc > 0 && p->nerrors == 0) {
		/* Our classification missed what inih refused. */
		report(p, rc, NULL, NULL, "syntax error");
	}
	if (cfg->ndbs == 0)
		report(p, 0, NULL, NULL,
		    "no database configured: add a [db.1] section");
	check_required(p);
	for (size_t i = 0; i < cfg->nscheds; i++)
		check_sched(p, &cfg->scheds[i], p->sched_key_line[i]);
	/* Only on an otherwise good file: a value refused above left its
	 * default in place, and comparing that would report a pair nobody
	 * wrote. Before the sort: func_key_line follows the file's order. */
	if (p->nerrors == 0)
		check_backoff(p);
	if (p->nomem) {
		errf(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	if (p->nerrors) {
		errors_out(&p->errors, err, errlen);
		goto fail;
	}
	qsort(cfg->dbs, cfg->ndbs, sizeof(cfg->dbs[0]), cmp_db);
	if (cfg->nfuncs)
		qsort(cfg->funcs, cfg->nfuncs, sizeof(cfg->funcs[0]), cmp_name);
	if (cfg->nscheds)
		qsort(cfg->scheds, cfg->nscheds, sizeof(cfg->scheds[0]),
		    cmp_name);
	buf_free(&p->errors);
	free(p->func_key_line);
	free(p->sched_key_line);
	free(p);
	return cfg;
fail:
	if (p) {
		buf_free(&p->errors);
		free(p->func_key_line);
		free(p->sched_key_line);
	}
	free(p);
	config_free(cfg);
	return NULL;
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct config *cfg;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	cfg = load_stream(fp, path, err, errlen);
	fclose(fp);
	return cfg;
}

struct config *
config_load_string(const char *text, const char *name, char *err,
    size_t errlen)
{
	struct config *cfg;
	char *copy;
	FILE *fp;

	/* A private copy: fmemopen wants a writable buffer, and may refuse an
	 * empty one, which reads the same as an empty line. */
	if ((copy = strdup(*text ? text : "\n")) == NULL) {
		errf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	if ((fp = fmemopen(copy, strlen(copy), "r")) == NULL) {
		errf(err, errlen, "%s: %s", name, strerror(errno));
		free(copy);
		return NULL;
	}
	cfg = load_stream(fp, name, err, errlen);
	fclose(fp);
	free(copy);
	return cfg;
}

static void
free_keys(void *base, enum kind want)
{
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if (kind(&keys[i]) != want)
			continue;
		if (keys[i].type == KT_STRING || keys[i].type == KT_SERVERS ||
		    keys[i].type == KT_HOSTS)
			free(*(char **)field(base, &keys[i]));
	}
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free_keys(cfg, MAIN);
	for (i = 0; i < cfg->ndbs; i++)
		free_keys(&cfg->dbs[i], DB);
	for (i = 0; i < cfg->nfuncs; i++) {
		free_keys(&cfg->funcs[i], FUNC);
		free(cfg->funcs[i].name);
	}
	free(cfg->funcs);
	for (i = 0; i < cfg->nscheds; i++) {
		free_keys(&cfg->scheds[i], SCHED);
		free(cfg->scheds[i].name);
	}
	free(cfg->scheds);
	free(cfg->path);
	free(cfg);
}

static int
same_value(const struct config *a, const void *abase,
    const struct config *b, const void *bbase, const struct key *k)
{
	const void *fa = cfield(abase, k), *fb = cfield(bbase, k);
	const char *sa, *sb;
	size_t i;

	switch (k->type) {
	case KT_STRING:
	case KT_HOSTS:
		sa = *(char *const *)fa;
		sb = *(char *const *)fb;
		return (sa == NULL && sb == NULL) ||
		    (sa && sb && strcmp(sa, sb) == 0);
	case KT_SERVERS:
		/* The parsed list: "h" and "h:4730" are the same servers. */
		if (a->nservers != b->nservers)
			return 0;
		for (i = 0; i < a->nservers; i++)
			if (a->servers[i].port != b->servers[i].port ||
			    strcmp(a->servers[i].host, b->servers[i].host))
				return 0;
		return 1;
	case KT_INT:
	case KT_LEVEL:
	case KT_BOOL:
		return *(const int *)fa == *(const int *)fb;
	case KT_UINT:
		return *(const unsigned *)fa == *(const unsigned *)fb;
	case KT_DOUBLE:
		return *(const double *)fa == *(const double *)fb;
	}
	return 0;
}

/* 1 if key k of [function.NAME] has the same value in b as in a for every
 * function a names; a section b lacks holds the defaults. */
static int
same_func_key(const struct config *a, const struct config *b,
    const struct key *k)
{
	const struct config_func *fb;
	struct config_func none;
	size_t i;

	func_defaults(&none);
	for (i = 0; i < a->nfuncs; i++) {
		fb = config_func(b, a->funcs[i].name);
		if (!same_value(a, &a->funcs[i], b, fb ? fb : &none, k))
			return 0;
	}
	return 1;
}

/* 1 if every key with one of flags, or read by one of readers, is the same.
 * Selecting a [db.N] key compares it in every database, and the set of
 * databases itself. */
static int
same_keys(const struct config *a, const struct config *b, unsigned flags,
    unsigned readers)
{
	size_t i, j;

	for (i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		if (!(k->flags & flags) && !(k->readers & readers))
			continue;
		if (kind(k) == MAIN) {
			if (!same_value(a, a, b, b, k))
				return 0;
			continue;
		}
		if (kind(k) == FUNC) {
			if (!same_func_key(a, b, k) || !same_func_key(b, a, k))
				return 0;
			continue;
		}
		/* Both sorted by name: a schedule added, removed or changed
		 * is a difference. */
		if (kind(k) == SCHED) {
			if (a->nscheds != b->nscheds)
				return 0;
			for (j = 0; j < a->nscheds; j++)
				if (strcmp(a->scheds[j].name,
				    b->scheds[j].name) != 0 ||
				    !same_value(a, &a->scheds[j], b,
				    &b->scheds[j], k))
					return 0;
			continue;
		}
		if (a->ndbs != b->ndbs)
			return 0;
		for (j = 0; j < a->ndbs; j++)
			if (a->dbs[j].dbid != b->dbs[j].dbid ||
			    !same_value(a, &a->dbs[j], b, &b->dbs[j], k))
				return 0;
	}
	return 1;
}

int
config_same_fixed(const struct config *a, const struct config *b)
{
	return same_keys(a, b, K_FIXED, 0);
}

/* The index of the role called name in roles; -1: none. */
static int
role_index(const char *name)
{
	int r;

	for (r = 0; r < CONFIG_NROLES; r++)
		if (strcmp(roles[r].name, name) == 0)
			return r;
	return -1;
}

const char *
config_role_name(enum config_role role)
{
	return roles[role].name;
}

int
config_processes(const struct config *cfg, const char *role)
{
	int r = role_index(role);

	/* Every role has its processes key in its section. */
	return r < 0 ? 0 : *(const int *)cfield(cfg,
	    &keys[find_key(roles[r].name, "processes")]);
}

int
config_same_role(const struct config *a, const struct config *b,
    const char *role)
{
	int r = role_index(role);

	/* An unknown role: replacing its children is safe. */
	return r < 0 ? 0 : same_keys(a, b, 0, roles[r].bit);
}

/* True when gid is the group the configuration names (key group): the
 * group the service runs as, which must read its own file when it does not
 * start as root (the Debian package: root:garivini, mode 0640). */
static int
service_group(const struct config *cfg, gid_t gid)
{
	struct group gr, *found = NULL;
	char names[4096];

	if (cfg->group == NULL || *cfg->group == '\0')
		return 0;
	if (getgrgid_r(gid, &gr, names, sizeof(names), &found) != 0 ||
	    found == NULL)
		return 0;
	return strcmp(found->gr_name, cfg->group) == 0;
}

/* A password is only as secret as the file holding it. Checked on the path
 * just loaded: a reload may bring a file with other permissions. */
const char *
config_secret_warning(const struct config *cfg, char *buf, size_t buflen)
{
	struct stat st;
	size_t i;

	for (i = 0; i < cfg->ndbs; i++)
		if (cfg->dbs[i].password && *cfg->dbs[i].password)
			break;
	if (i == cfg->ndbs || cfg->path == NULL ||
	    stat(cfg->path, &st) == -1 || (st.st_mode & (S_IRGRP | S_IROTH |
	    S_IWGRP | S_IWOTH)) == 0)
		return NULL;
	if ((st.st_mode & (S_IROTH | S_IWGRP | S_IWOTH)) == 0 &&
	    service_group(cfg, st.st_gid))
		return NULL;
	snprintf(buf, buflen, "%s holds a database password ([db.%u]) and is "
	    "%s by %s (mode %04o): let only its owner read it (chmod 600)",
	    cfg->path, cfg->dbs[i].dbid,
	    st.st_mode & (S_IWGRP | S_IWOTH) ? "writable" : "readable",
	    st.st_mode & (S_IROTH | S_IWOTH) ? "others" : "its group",
	    (unsigned)(st.st_mode & 07777));
	return buf;
}

static void
format_value(const struct config *cfg, const void *base, const struct key *k,
    char *out, size_t outlen)
{
	const void *f = cfield(base, k);
	const char *s;

	(void)cfg;
	switch (k->type) {
	case KT_STRING:
	case KT_SERVERS:
	case KT_HOSTS:
		s = *(char *const *)f;
		if (k->flags & K_SECRET)
			snprintf(out, outlen, "%s",
			    s && *s ? "(set)" : "(empty)");
		else
			snprintf(out, outlen, "%s", s ? s : "(none)");
		return;
	case KT_INT:
		if (k->def == NULL && *(const int *)f == UNSET)
			snprintf(out, outlen, "(none)");
		else
			snprintf(out, outlen, "%d", *(const int *)f);
		return;
	case KT_BOOL:
		snprintf(out, outlen, "%s", *(const int *)f ? "yes" : "no");
		return;
	case KT_UINT:
		snprintf(out, outlen, "%u", *(const unsigned *)f);
		return;
	case KT_DOUBLE:
		if (k->def == NULL && *(const double *)f == UNSET)
			snprintf(out, outlen, "(none)");
		else
			snprintf(out, outlen, "%.15g", *(const double *)f);
		return;
	case KT_LEVEL:
		snprintf(out, outlen, "%s", log_level_name(*(const int *)f));
		return;
	}
	snprintf(out, outlen, "?");
}

static void
dump_key(const struct config *cfg, const void *base, const char *section,
    const struct key *k, FILE *fp)
{
	char value[512];
	const char *def;

	format_value(cfg, base, k, value, sizeof(value));
	if (k->flags & K_REQUIRED)
		def = "required";
	else if (k->def == NULL)
		def = "none";
	else if (*k->def == '\0')
		def = "\"\"";
	else
		def = k->def;
	fprintf(fp, "[%s] %s = %s  (default %s; reload: %s)  # %s\n", section,
	    k->name, value, def, k->flags & K_FIXED ? "no" : "yes", k->help);
}

/* The keys of one section of kind want, base holding their values. */
static void
dump_section(const struct config *cfg, const void *base, const char *section,
    enum kind want, FILE *fp)
{
	size_t r;

	for (r = 0; r < NKEYS; r++)
		if (kind(&keys[r]) == want)
			dump_key(cfg, base, section, &keys[r], fp);
}

void
config_dump(const struct config *cfg, FILE *fp)
{
	char section[300];
	size_t i, j;

	for (i = 0; i < NKEYS; i++) {
		if (kind(&keys[i]) == MAIN) {
			dump_key(cfg, cfg, keys[i].section, &keys[i], fp);
			continue;
		}
		/* Every section of a kind in full, where its first key
		 * stands. */
		if ((int)i != find_section(keys[i].section))
			continue;
		for (j = 0; kind(&keys[i]) == FUNC && j < cfg->nfuncs; j++) {
			snprintf(section, sizeof(section), FUNC_SECTION ".%s",
			    cfg->funcs[j].name);
			dump_section(cfg, &cfg->funcs[j], section, FUNC, fp);
		}
		for (j = 0; kind(&keys[i]) == SCHED && j < cfg->nscheds; j++) {
			snprintf(section, sizeof(section), SCHED_SECTION ".%s",
			    cfg->scheds[j].name);
			dump_section(cfg, &cfg->scheds[j], section, SCHED, fp);
		}
		for (j = 0; kind(&keys[i]) == DB && j < cfg->ndbs; j++) {
			snprintf(section, sizeof(section), DB_SECTION ".%u",
			    cfg->dbs[j].dbid);
			dump_section(cfg, &cfg->dbs[j], section, DB, fp);
		}
	}
}

static int
cmp_func_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct config_func *)elem)->name);
}

const struct config_func *
config_func(const struct config *cfg, const char *funcname)
{
	if (cfg->nfuncs == 0)
		return NULL;
	return bsearch(funcname, cfg->funcs, cfg->nfuncs, sizeof(*cfg->funcs),
	    cmp_func_name);
}

int
config_paused(const struct config *cfg, const char *funcname)
{
	const struct config_func *f = config_func(cfg, funcname);

	return f && f->paused;
}

int
config_watermark(const struct config *cfg, const char *funcname)
{
	const struct config_func *f = config_func(cfg, funcname);

	return f && f->queue_watermark_depth != UNSET ?
	    f->queue_watermark_depth : cfg->queue_runner.queue_watermark_depth;
}

int
config_any_watermark(const struct config *cfg)
{
	size_t i;

	if (cfg->queue_runner.queue_watermark_depth > 0)
		return 1;
	for (i = 0; i < cfg->nfuncs; i++)
		if (cfg->funcs[i].queue_watermark_depth > 0)
			return 1;
	return 0;
}

int
config_max_failures(const struct config *cfg, const char *funcname)
{
	const struct config_func *f = config_func(cfg, funcname);

	return f && f->max_failures != UNSET ? f->max_failures :
	    cfg->controller.max_failures;
}

double
config_job_timeout(const struct config *cfg, const char *funcname)
{
	const struct config_func *f = config_func(cfg, funcname);

	return f && f->job_timeout != UNSET ? f->job_timeout :
	    cfg->controller.job_timeout;
}

double
config_stop_grace(const struct config *cfg, const char *role)
{
	double longest = cfg->controller.job_timeout;
	size_t i;

	if (strcmp(role, roles[CONFIG_CONTROLLER].name) != 0)
		return cfg->shutdown_timeout;
	for (i = 0; i < cfg->nfuncs; i++)
		if (cfg->funcs[i].job_timeout != UNSET &&
		    cfg->funcs[i].job_timeout > longest)
			longest = cfg->funcs[i].job_timeout;
	longest += CONFIG_STOP_SPARE;
	return cfg->shutdown_timeout > longest ? cfg->shutdown_timeout :
	    longest;
}

int
config_lease_seconds(const struct config *cfg, const char *funcname)
{
	const struct config_func *f = config_func(cfg, funcname);

	return f && f->lease_seconds != UNSET ? f->lease_seconds :
	    cfg->queue_runner.lease_seconds;
}

int
config_retry_first(const struct config *cfg, const char *funcname)
{
	return retry_first(cfg, config_func(cfg, funcname));
}

int
config_retry_max(const struct config *cfg, const char *funcname)
{
	return retry_max(cfg, config_func(cfg, funcname));
}
