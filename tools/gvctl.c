/*
 * gvctl: the operator's tool. Counts, lists, shows, retries and deletes jobs
 * across every configured database, shows how a job ended (its record in
 * job_outcome, while kept), and prints the master's status file.
 *
 * The states of a row (due, scheduled, leased, failing, parked) are defined
 * once, in sql.c; this file only names them. Its queries are admin.c's and
 * libgarivini's (gv_job_status, gv_cancel_jobid), so it holds no SQL: every
 * value reaches the databases as a bound parameter, and figures come back
 * as columns. Bulk changes walk the table in batches of GVCTL_BATCH ids,
 * one short statement each (a delete: one short transaction, which records
 * each job deleted), so deleting a million parked jobs never holds one
 * giant transaction.
 *
 * The commands live one file a group (gvctl_stats.c, gvctl_jobs.c,
 * gvctl_change.c, gvctl_status.c, gvctl_schedules.c), named in the command
 * table here; gvctl.h is what they share.
 *
 * Exit codes: 0 success; 1 nothing matched (show of a job that neither
 * lives nor has a record kept, retry or delete of nothing); 64 usage; 69 a
 * database or the status file unavailable; 78 configuration. Errors go to
 * stderr, one line each.
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

#include "client.h"
#include "config.h"
#include "gvctl.h"
#include "util.h"

const char *const gvctl_state_names[STATE_COUNT] = {
	[STATE_DUE] = "due",
	[STATE_SCHEDULED] = "scheduled",
	[STATE_LEASED] = "leased",
	[STATE_FAILING] = "failing",
	[STATE_PARKED] = "parked",
};

const enum state gvctl_exclusive[GVCTL_NEXCLUSIVE] = {
	STATE_DUE, STATE_LEASED, STATE_SCHEDULED, STATE_PARKED,
};

const enum state gvctl_state_codes[GVCTL_NCODES] = {
	STATE_DUE, STATE_SCHEDULED, STATE_LEASED, STATE_PARKED,
};

/* The commands, in enum command's order, each in the file of its group
 * (gvctl.h). status reads the master's status file alone: it opens no
 * database. */
static const struct command_row {
	const char *name;
	int (*run)(struct ctl *c);
	int databases;
} commands[] = {
	[CMD_STATS] = { "stats", gvctl_stats_print, 1 },
	[CMD_LIST] = { "list", gvctl_jobs_list, 1 },
	[CMD_SHOW] = { "show", gvctl_jobs_show, 1 },
	[CMD_RETRY] = { "retry", gvctl_change_retry, 1 },
	[CMD_DELETE] = { "delete", gvctl_change_delete, 1 },
	[CMD_STATUS] = { "status", gvctl_status_print, 0 },
	[CMD_ERRORS] = { "errors", gvctl_jobs_errors, 1 },
	[CMD_CANCEL] = { "cancel", gvctl_jobs_cancel, 1 },
	[CMD_SCHEDULES] = { "schedules", gvctl_schedules_print, 1 },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: gvctl [-c INI] [--json] COMMAND [options]\n"
	    "\n"
	    "  stats  [-f FUNC] [--prometheus]   jobs per function and state, "
	    "lag\n"
	    "  list   [-f FUNC] [-s STATE] [-n LIMIT]\n"
	    "  show   [DBID:]JOBID                a job, or how it ended\n"
	    "  show   -f FUNC -k UNIQKEY\n"
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
	    "  -k, --key KEY      show or cancel the job of FUNC with unique key "
	    "KEY\n"
	    "  -n, --limit N      list at most N jobs (or failures); dry runs "
	    "show at most N ids (100)\n");
}

int
gvctl_usage_error(const char *fmt, ...)
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
		if (strcmp(s, gvctl_state_names[i]) == 0)
			return i;
	return -1;
}

const char *
gvctl_state_param(int state)
{
	return state < 0 ? NULL : gvctl_state_names[state];
}

/* Bytes as an operator can read them: printable ASCII as it is, every
 * other byte and the backslash as \xHH, so the text is unambiguous. */
void
gvctl_escape_bytes(struct buf *b, const void *data, size_t len)
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
const char *
gvctl_escaped(const char *s)
{
	static struct buf b;

	buf_reset(&b);
	if (s == NULL)
		return "-";
	gvctl_escape_bytes(&b, s, strlen(s));
	if (buf_appendc(&b, '\0') == -1)
		return "?";
	return b.data;
}

/* A failure's message on one line: UTF-8 as it is (the library stored
 * it valid), newlines as \n, tabs as spaces; at most max bytes, cut at a
 * character boundary, with "..." when cut (max 0: whole). "-" if empty. */
const char *
gvctl_message_line(const unsigned char *m, size_t len, size_t max)
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

const char *
gvctl_iso_time(uint64_t t, char *out, size_t len)
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

const char *
gvctl_duration(double seconds, char *out, size_t len)
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

int
gvctl_parse_u64(const char *s, uint64_t *out)
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

void
gvctl_json_print(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(doc);
}

void
gvctl_db_failed(struct ctl *c, const char *err)
{
	fprintf(stderr, "gvctl: %s\n", err);
	c->unavailable = 1;
}

/* Options that only some commands take. */
static int
check_options(const struct opts *o, enum command cmd, int nargs)
{
	const char *name = commands[cmd].name;

	if (o->prometheus && cmd != CMD_STATS)
		return gvctl_usage_error("%s: --prometheus is for stats", name);
	if (o->prometheus && o->json)
		return gvctl_usage_error("--prometheus and --json do not go together");
	if (o->funcname && cmd == CMD_STATUS)
		return gvctl_usage_error("%s: --function does not apply", name);
	if (o->state >= 0 && (cmd == CMD_STATS || cmd == CMD_SHOW ||
	    cmd == CMD_STATUS || cmd == CMD_ERRORS || cmd == CMD_CANCEL))
		return gvctl_usage_error("%s: --state does not apply", name);
	if (o->limit_set && cmd != CMD_LIST && cmd != CMD_ERRORS &&
	    !o->dry_run)
		return gvctl_usage_error("%s: --limit is for list, errors and dry "
		    "runs", name);
	if (o->dry_run && cmd != CMD_RETRY && cmd != CMD_DELETE)
		return gvctl_usage_error("%s: --dry-run is for retry and delete",
		    name);
	if (o->reset_failcount && cmd != CMD_RETRY)
		return gvctl_usage_error("%s: --reset-failcount is for retry", name);
	if (o->key && cmd != CMD_CANCEL && cmd != CMD_SHOW)
		return gvctl_usage_error("%s: --key is for show and cancel", name);
	switch (cmd) {
	case CMD_SHOW:
		if (nargs && (o->funcname || o->key))
			return gvctl_usage_error("show: name the job by id or by "
			    "--function and --key, not both");
		if (nargs > 1)
			return gvctl_usage_error("show takes one DBID:JOBID");
		if (!nargs && (!o->funcname || !o->key))
			return gvctl_usage_error("show: name the job by "
			    "DBID:JOBID, or by --function and --key");
		break;
	case CMD_RETRY:
	case CMD_DELETE:
		if (nargs && (o->funcname || o->state >= 0))
			return gvctl_usage_error("%s: name jobs by id or by "
			    "--function/--state, not both", name);
		if (!nargs && !o->funcname && o->state < 0)
			return gvctl_usage_error("%s: name jobs by id, or by "
			    "--function and/or --state", name);
		break;
	case CMD_CANCEL:
		if (nargs && (o->funcname || o->key))
			return gvctl_usage_error("cancel: name jobs by id or by "
			    "--function and --key, not both");
		if (!nargs && (!o->funcname || !o->key))
			return gvctl_usage_error("cancel: name jobs by id, or one by "
			    "--function and --key");
		break;
	default:
		if (nargs)
			return gvctl_usage_error("%s takes no argument", name);
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
				return gvctl_usage_error("--state %s: expected due, "
				    "scheduled, leased, failing or parked",
				    optarg);
			break;
		case 'n':
			if (parse_long(optarg, 1, 100000000L, &c.o.limit) ==
			    -1)
				return gvctl_usage_error("--limit %s: expected 1 .. "
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
		return gvctl_usage_error("no command given");
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			break;
	if (i == NCOMMANDS)
		return gvctl_usage_error("unknown command %s", argv[optind]);
	cmd = (enum command)i;
	optind++;
	c.args = argv + optind;
	c.nargs = argc - optind;
	if ((rc = check_options(&c.o, cmd, c.nargs)) != 0)
		return rc;

	err[0] = '\0';
	if ((c.cfg = config_load(c.o.ini, err, sizeof(err))) == NULL) {
		/* Every error found, one per line. */
		for (line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
			fprintf(stderr, "gvctl: %s\n", line);
		return EX_CONFIG;
	}
	if (!commands[cmd].databases) {
		rc = commands[cmd].run(&c);
		config_free(c.cfg);
		return rc;
	}
	if ((c.gv = client_open_config(c.cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "gvctl: %s: %s\n", c.o.ini, err);
		config_free(c.cfg);
		return EX_CONFIG;
	}
	c.dbs = client_dbset(c.gv);
	rc = commands[cmd].run(&c);
	gv_close(c.gv);
	config_free(c.cfg);
	return rc;
}
