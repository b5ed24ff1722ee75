/*
 * test_config: garivini.ini parsing, defaults, bounds, error messages, the
 * reload comparisons and the dump.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "unit.h"

#define DB1 "[db.1]\ndatabase = d\n"

static char err[CONFIG_ERRLEN];
static char text[16384];

static struct config *
load(const char *s)
{
	err[0] = '\0';
	return config_load_string(s, "t.ini", err, sizeof(err));
}

/* A config that must load; fails the test with the errors otherwise. */
static struct config *
load_ok(const char *s)
{
	struct config *cfg = load(s);

	ck_assert_msg(cfg != NULL, "config refused: %s\n---\n%s", err, s);
	return cfg;
}

/* A config that must be refused with an error line starting with prefix. */
static void
load_bad(const char *s, const char *prefix)
{
	struct config *cfg = load(s);
	char *line;
	int found = 0;

	ck_assert_msg(cfg == NULL, "config accepted, wanted \"%s\"\n---\n%s",
	    prefix, s);
	for (line = err; line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			found = 1;
	}
	ck_assert_msg(found, "no error line starts with \"%s\"; got:\n%s",
	    prefix, err);
}

static int
count_lines(const char *s)
{
	int n = *s ? 1 : 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

START_TEST(test_defaults)
{
	struct config *cfg = load_ok(DB1);

	ck_assert_str_eq(cfg->path, "t.ini");
	ck_assert_str_eq(cfg->gearman_servers, "127.0.0.1:4730");
	ck_assert_uint_eq(cfg->nservers, 1);
	ck_assert_str_eq(cfg->servers[0].host, "127.0.0.1");
	ck_assert_uint_eq(cfg->servers[0].port, 4730);
	ck_assert_str_eq(cfg->pidfile, "/run/garivini/garivini.pid");
	ck_assert_str_eq(cfg->status_file, "/run/garivini/status.json");
	ck_assert_double_eq(cfg->status_interval, 5);
	ck_assert_str_eq(cfg->log_file, "stderr");
	ck_assert_int_eq(cfg->log_level, LOG_LEVEL_INFO);
	ck_assert_ptr_null(cfg->user);
	ck_assert_ptr_null(cfg->group);
	ck_assert_double_eq(cfg->shutdown_timeout, 30);
	ck_assert_double_eq(cfg->heartbeat_timeout, 300);
	ck_assert_ptr_null(cfg->prometheus_file);
	ck_assert_int_eq(cfg->metrics_functions, 100);

	ck_assert_uint_eq(cfg->ndbs, 1);
	ck_assert_uint_eq(cfg->dbs[0].dbid, 1);
	ck_assert_int_eq(cfg->dbs[0].line, 1);
	ck_assert_str_eq(cfg->dbs[0].host, "127.0.0.1");
	ck_assert_uint_eq(cfg->dbs[0].port, 3306);
	ck_assert_ptr_null(cfg->dbs[0].socket);
	ck_assert_str_eq(cfg->dbs[0].database, "d");
	ck_assert_str_eq(cfg->dbs[0].user, "garivini");
	ck_assert_str_eq(cfg->dbs[0].password, "");

	ck_assert_int_eq(cfg->queue_runner.processes, 1);
	ck_assert_double_eq(cfg->queue_runner.batch_run_sleep, 1.0);
	ck_assert_int_eq(cfg->queue_runner.batch_max_size, 1000);
	ck_assert_int_eq(cfg->queue_runner.batch_max_bytes, 67108864);
	ck_assert_int_eq(cfg->queue_runner.queue_watermark_depth, 10000);
	ck_assert_int_eq(cfg->queue_runner.lease_seconds, 300);
	ck_assert_int_eq(cfg->injector.processes, 2);
	ck_assert_int_eq(cfg->controller.processes, 2);
	ck_assert_int_eq(cfg->controller.max_failures, 10);
	ck_assert_double_eq(cfg->controller.job_timeout, 600);
	ck_assert_int_eq(cfg->controller.retry_first, 120);
	ck_assert_int_eq(cfg->controller.retry_max, 86400);
	config_free(cfg);
	config_free(NULL);
}
END_TEST

START_TEST(test_every_key_set)
{
	struct config *cfg = load_ok(
	    "; a comment\n"
	    "# another\n"
	    "[garivini]\n"
	    "gearman_servers = gm1:4731, gm2\n"
	    "pidfile = /p/pid\n"
	    "status_file = /p/status.json\n"
	    "status_interval = 0.5\n"
	    "log_file = /p/log ; inline comment\n"
	    "log_level = debug\n"
	    "user = nobody\n"
	    "group = nogroup\n"
	    "shutdown_timeout = 2.5\n"
	    "heartbeat_timeout = 0\n"
	    "prometheus_file = /p/prom\n"
	    "metrics_functions = 3\n"
	    "[db.7]\n"
	    "host = dbhost\n"
	    "port = 3307\n"
	    "socket = /run/mysqld.sock\n"
	    "database = jobs\n"
	    "user = u\n"
	    "password = p;w#x\n"
	    "[queue_runner]\n"
	    "processes = 4\n"
	    "batch_run_sleep = 0.25\n"
	    "batch_max_size = 50\n"
	    "queue_watermark_depth = 0\n"
	    "lease_seconds = 60\n"
	    "[injector]\n"
	    "processes = 0\n"
	    "[controller]\n"
	    "processes = 8\n"
	    "max_failures = 0\n"
	    "job_timeout = 12.5\n"
	    "retry_first = 30\n"
	    "retry_max = 3600\n");

	ck_assert_str_eq(cfg->gearman_servers, "gm1:4731, gm2");
	ck_assert_uint_eq(cfg->nservers, 2);
	ck_assert_str_eq(cfg->servers[0].host, "gm1");
	ck_assert_uint_eq(cfg->servers[0].port, 4731);
	ck_assert_str_eq(cfg->servers[1].host, "gm2");
	ck_assert_uint_eq(cfg->servers[1].port, 4730);
	ck_assert_str_eq(cfg->pidfile, "/p/pid");
	ck_assert_str_eq(cfg->status_file, "/p/status.json");
	ck_assert_double_eq(cfg->status_interval, 0.5);
	ck_assert_str_eq(cfg->log_file, "/p/log");
	ck_assert_int_eq(cfg->log_level, LOG_LEVEL_DEBUG);
	ck_assert_str_eq(cfg->user, "nobody");
	ck_assert_str_eq(cfg->group, "nogroup");
	ck_assert_double_eq(cfg->shutdown_timeout, 2.5);
	ck_assert_double_eq(cfg->heartbeat_timeout, 0);
	ck_assert_str_eq(cfg->prometheus_file, "/p/prom");
	ck_assert_int_eq(cfg->metrics_functions, 3);
	ck_assert_uint_eq(cfg->ndbs, 1);
	ck_assert_uint_eq(cfg->dbs[0].dbid, 7);
	ck_assert_int_eq(cfg->dbs[0].line, 16);
	ck_assert_str_eq(cfg->dbs[0].host, "dbhost");
	ck_assert_uint_eq(cfg->dbs[0].port, 3307);
	ck_assert_str_eq(cfg->dbs[0].socket, "/run/mysqld.sock");
	ck_assert_str_eq(cfg->dbs[0].database, "jobs");
	ck_assert_str_eq(cfg->dbs[0].user, "u");
	/* ";" and "#" inside a value are kept: only " ;" starts a comment. */
	ck_assert_str_eq(cfg->dbs[0].password, "p;w#x");
	ck_assert_int_eq(cfg->queue_runner.processes, 4);
	ck_assert_double_eq(cfg->queue_runner.batch_run_sleep, 0.25);
	ck_assert_int_eq(cfg->queue_runner.batch_max_size, 50);
	ck_assert_int_eq(cfg->queue_runner.queue_watermark_depth, 0);
	ck_assert_int_eq(cfg->queue_runner.lease_seconds, 60);
	ck_assert_int_eq(cfg->injector.processes, 0);
	ck_assert_int_eq(cfg->controller.processes, 8);
	ck_assert_int_eq(cfg->controller.max_failures, 0);
	ck_assert_double_eq(cfg->controller.job_timeout, 12.5);
	ck_assert_int_eq(cfg->controller.retry_first, 30);
	ck_assert_int_eq(cfg->controller.retry_max, 3600);
	config_free(cfg);
}
END_TEST

/* The roles' names are their sections, and each has its processes. */
START_TEST(test_roles)
{
	struct config *cfg = load_ok(DB1 "[queue_runner]\nprocesses = 3\n"
	    "[injector]\nprocesses = 4\n[controller]\nprocesses = 5\n");

	ck_assert_str_eq(config_role_name(CONFIG_QUEUE_RUNNER),
	    "queue_runner");
	ck_assert_str_eq(config_role_name(CONFIG_INJECTOR), "injector");
	ck_assert_str_eq(config_role_name(CONFIG_CONTROLLER), "controller");
	ck_assert_int_eq(config_processes(cfg, "queue_runner"), 3);
	ck_assert_int_eq(config_processes(cfg, "injector"), 4);
	ck_assert_int_eq(config_processes(cfg, "controller"), 5);
	ck_assert_int_eq(config_processes(cfg, "master"), 0);
	config_free(cfg);
}
END_TEST

START_TEST(test_log_levels)
{
	static const char *names[] = { "err", "warn", "notice", "info",
	    "debug" };
	struct config *cfg;
	int i;

	for (i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "[garivini]\nlog_level = %s\n" DB1,
		    names[i]);
		cfg = load_ok(text);
		ck_assert_int_eq(cfg->log_level, i);
		config_free(cfg);
	}
	load_bad("[garivini]\nlog_level = warning\n" DB1,
	    "t.ini:2: [garivini] log_level: unknown log level 'warning'");
	load_bad("[garivini]\nlog_level = INFO\n" DB1,
	    "t.ini:2: [garivini] log_level: unknown log level");
}
END_TEST

START_TEST(test_optional_strings)
{
	struct config *cfg;

	/* Empty means none for keys whose default is none. */
	cfg = load_ok("[garivini]\nuser =\nprometheus_file =\n"
	    "[db.1]\ndatabase = d\nsocket =\npassword =\n");
	ck_assert_ptr_null(cfg->user);
	ck_assert_ptr_null(cfg->prometheus_file);
	ck_assert_ptr_null(cfg->dbs[0].socket);
	ck_assert_str_eq(cfg->dbs[0].password, "");
	config_free(cfg);
	load_bad("[garivini]\npidfile =\n" DB1,
	    "t.ini:2: [garivini] pidfile: must not be empty");
	load_bad("[db.1]\ndatabase =\n",
	    "t.ini:2: [db.1] database: must not be empty");
	load_bad("[garivini]\ngearman_servers =\n" DB1,
	    "t.ini:2: [garivini] gearman_servers: must not be empty");
}
END_TEST

struct bound {
	const char *section;
	const char *key;
	const char *low, *high;         /* the bounds: accepted */
	const char *below, *above;      /* just outside: refused */
};

static const struct bound bounds[] = {
	{ "garivini", "status_interval", "0.1", "3600", "0.09", "3600.01" },
	{ "garivini", "shutdown_timeout", "0", "86400", "-0.01", "86400.5" },
	{ "garivini", "heartbeat_timeout", "0", "86400", "-1", "86401" },
	{ "db.1", "port", "1", "65535", "0", "65536" },
	{ "queue_runner", "processes", "0", "1024", "-1", "1025" },
	{ "queue_runner", "batch_run_sleep", "0", "3600", "-0.001", "3600.001" },
	{ "queue_runner", "batch_max_size", "1", "100000", "0", "100001" },
	{ "queue_runner", "batch_max_bytes", "1048576", "1073741824", "1048575",
	    "1073741825" },
	{ "queue_runner", "queue_watermark_depth", "0", "100000000", "-1",
	    "100000001" },
	{ "queue_runner", "lease_seconds", "1", "604800", "0", "604801" },
	{ "injector", "processes", "0", "1024", "-1", "1025" },
	{ "controller", "processes", "0", "1024", "-1", "1025" },
	{ "controller", "max_failures", "0", "255", "-1", "256" },
	{ "controller", "job_timeout", "0.1", "604800", "0.05", "604800.1" },
	{ "controller", "retry_first", "1", "86400", "0", "86401" },
	/* Its low end, 1, is refused beside the default retry_first: see
	 * test_retry_backoff. */
	{ "controller", "retry_max", "120", "2592000", "0", "2592001" },
	{ "function.f", "retry_first", "1", "86400", "0", "86401" },
	{ "function.f", "retry_max", "120", "2592000", "0", "2592001" },
};

/* The key on line 4 in every case, after [db.1] and its database. */
static void
with_value(const struct bound *b, const char *value)
{
	if (strcmp(b->section, "db.1") == 0)
		snprintf(text, sizeof(text), "[db.1]\ndatabase = d\n\n%s = %s\n",
		    b->key, value);
	else
		snprintf(text, sizeof(text), DB1 "[%s]\n%s = %s\n", b->section,
		    b->key, value);
}

START_TEST(test_bounds)
{
	const struct bound *b = &bounds[_i];
	const char *inside[] = { b->low, b->high };
	const char *outside[] = { b->below, b->above };
	char prefix[256];
	int i;

	for (i = 0; i < 2; i++) {
		with_value(b, inside[i]);
		config_free(load_ok(text));
	}
	for (i = 0; i < 2; i++) {
		with_value(b, outside[i]);
		snprintf(prefix, sizeof(prefix),
		    "t.ini:4: [%s] %s: %s is out of range ", b->section, b->key,
		    outside[i]);
		load_bad(text, prefix);
	}
}
END_TEST

START_TEST(test_bad_numbers)
{
	load_bad(DB1 "[queue_runner]\nbatch_max_size = 10x\n",
	    "t.ini:4: [queue_runner] batch_max_size: '10x' is not an integer");
	load_bad(DB1 "[queue_runner]\nbatch_max_size = 1.5\n",
	    "t.ini:4: [queue_runner] batch_max_size: '1.5' is not an integer");
	load_bad(DB1 "[queue_runner]\nlease_seconds = 0x10\n",
	    "t.ini:4: [queue_runner] lease_seconds: '0x10' is not an integer");
	load_bad(DB1 "[queue_runner]\nlease_seconds = 99999999999999999999\n",
	    "t.ini:4: [queue_runner] lease_seconds: ");
	load_bad(DB1 "[queue_runner]\nbatch_run_sleep = 1s\n",
	    "t.ini:4: [queue_runner] batch_run_sleep: '1s' is not a number");
	load_bad(DB1 "[queue_runner]\nbatch_run_sleep = nan\n",
	    "t.ini:4: [queue_runner] batch_run_sleep: 'nan' is not a number");
	load_bad(DB1 "[queue_runner]\nbatch_run_sleep = inf\n",
	    "t.ini:4: [queue_runner] batch_run_sleep: 'inf' is not a number");
	load_bad(DB1 "[controller]\nmax_failures =\n",
	    "t.ini:4: [controller] max_failures: '' is not an integer");
	load_bad("[db.1]\ndatabase = d\nport = 33o6\n",
	    "t.ini:3: [db.1] port: '33o6' is not an integer");
	/* The exact message of the brief. */
	snprintf(text, sizeof(text), DB1 "\n\n\n\n\n\n\n\n[queue_runner]\n"
	    "batch_max_size = 0\n");
	load_bad(text, "t.ini:12: [queue_runner] batch_max_size: 0 is out of "
	    "range 1..100000");
	ck_assert_str_eq(err, "t.ini:12: [queue_runner] batch_max_size: 0 is "
	    "out of range 1..100000");
}
END_TEST

START_TEST(test_fractional_sleep)
{
	struct config *cfg = load_ok(DB1 "[queue_runner]\n"
	    "batch_run_sleep = 0.05\n");

	ck_assert_double_eq(cfg->queue_runner.batch_run_sleep, 0.05);
	ck_assert(cfg->queue_runner.batch_run_sleep > 0);
	config_free(cfg);
}
END_TEST

START_TEST(test_unknown_key_and_section)
{
	load_bad(DB1 "[queue_runner]\nbatch_size = 5\n",
	    "t.ini:4: [queue_runner] batch_size: unknown key");
	load_bad("[db.1]\ndatabase = d\ndb = x\n",
	    "t.ini:3: [db.1] db: unknown key");
	/* A key of another section is unknown here. */
	load_bad(DB1 "[injector]\nmax_failures = 5\n",
	    "t.ini:4: [injector] max_failures: unknown key");
	load_bad(DB1 "[queue-runner]\nprocesses = 1\n",
	    "t.ini:3: [queue-runner]: unknown section");
	load_bad(DB1 "[db]\nhost = x\n", "t.ini:3: [db]: unknown section");
	load_bad("processes = 1\n" DB1,
	    "t.ini:1: processes: key outside any section");
	/* The keys of an unknown section are not reported once more. */
	ck_assert(load(DB1 "[nope]\na = 1\nb = 2\n") == NULL);
	ck_assert_int_eq(count_lines(err), 1);
	ck_assert_msg(strstr(err, "[garivini]") && strstr(err, "[db.N]") &&
	    strstr(err, "[controller]"), "known sections not listed: %s", err);
}
END_TEST

START_TEST(test_duplicates)
{
	load_bad(DB1 "[queue_runner]\nprocesses = 1\nprocesses = 2\n",
	    "t.ini:5: [queue_runner] processes: already set on line 4");
	load_bad("[db.1]\ndatabase = d\nhost = a\nhost = b\n",
	    "t.ini:4: [db.1] host: already set on line 3");
	/* The same key in two databases is fine. */
	config_free(load_ok("[db.1]\ndatabase = d\n[db.2]\ndatabase = d\n"));
	load_bad("[db.1]\ndatabase = d\n[db.1]\nhost = h\n",
	    "t.ini:3: [db.1]: duplicate section (first on line 1)");
	load_bad("[db.1]\ndatabase = d\n[db.1]\ndatabase = e\n",
	    "t.ini:4: [db.1] database: already set on line 2");
	load_bad("[garivini]\nuser = a\n" DB1 "[garivini]\nuser = b\n",
	    "t.ini:5: [garivini]: duplicate section (first on line 1)");
	load_bad("[garivini]\nuser = a\n" DB1 "[garivini]\nuser = b\n",
	    "t.ini:6: [garivini] user: already set on line 2");
}
END_TEST

/* retry_first and retry_max, in [controller] and over it per function, and
 * the pair refused where the cap is below the first delay. */
START_TEST(test_retry_backoff)
{
	static const struct {
		const char *func;
		int first, max;
	} want[] = { { "f", 5, 600 }, { "g", 30, 60 }, { "h", 30, 600 },
	    { "i", 1, 1 }, { "other", 30, 600 } };
	struct config *cfg;
	size_t i;

	cfg = load_ok(DB1);
	ck_assert_int_eq(config_retry_first(cfg, "f"), 120);
	ck_assert_int_eq(config_retry_max(cfg, "f"), 86400);
	config_free(cfg);
	cfg = load_ok(DB1 "[controller]\nretry_first = 30\nretry_max = 600\n"
	    "[function.f]\nretry_first = 5\n[function.g]\nretry_max = 60\n"
	    "[function.h]\nmax_failures = 2\n"
	    "[function.i]\nretry_first = 1\nretry_max = 1\n");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_msg(config_retry_first(cfg, want[i].func) ==
		    want[i].first, "%s: retry_first %d", want[i].func,
		    config_retry_first(cfg, want[i].func));
		ck_assert_msg(config_retry_max(cfg, want[i].func) ==
		    want[i].max, "%s: retry_max %d", want[i].func,
		    config_retry_max(cfg, want[i].func));
	}
	config_free(cfg);

	load_bad(DB1 "[controller]\nretry_first = 300\nretry_max = 200\n",
	    "t.ini:5: [controller] retry_max: 200 is less than retry_first "
	    "(300)");
	ck_assert_int_eq(count_lines(err), 1);
	load_bad(DB1 "[controller]\nretry_max = 60\n",
	    "t.ini:4: [controller] retry_max: 60 is less than retry_first "
	    "(120)");
	load_bad(DB1 "[function.f]\nretry_first = 50\nretry_max = 40\n",
	    "t.ini:5: [function.f] retry_max: 40 is less than retry_first "
	    "(50)");
	/* A function's pair completed by [controller]'s value. */
	load_bad(DB1 "[function.f]\nretry_max = 60\n",
	    "t.ini:4: [function.f] retry_max: 60 is less than retry_first "
	    "(120, [controller]'s)");
	load_bad(DB1 "[controller]\nretry_max = 100\n[function.f]\n"
	    "retry_first = 200\n", "t.ini:6: [function.f] retry_first: 200 "
	    "is more than retry_max (100, [controller]'s)");
	/* and [controller]'s own pair, with the default retry_first. */
	ck_assert_ptr_nonnull(strstr(err, "t.ini:4: [controller] retry_max: "
	    "100 is less than retry_first (120)"));
	ck_assert_int_eq(count_lines(err), 2);
	config_free(load_ok(DB1 "[controller]\nretry_first = 10\n"
	    "[function.f]\nretry_max = 10\n"));
	/* Out of range, named with file and line. */
	load_bad(DB1 "[function.f]\nretry_first = 0\n",
	    "t.ini:4: [function.f] retry_first: 0 is out of range 1..86400");
	load_bad(DB1 "[controller]\nretry_max = 2592001\n",
	    "t.ini:4: [controller] retry_max: 2592001 is out of range "
	    "1..2592000");
	/* A refused value is not compared as well. */
	load_bad(DB1 "[controller]\nretry_first = x\nretry_max = 60\n",
	    "t.ini:4: [controller] retry_first: 'x' is not an integer");
	ck_assert_int_eq(count_lines(err), 1);
}
END_TEST

/* [function.NAME]: one function's policy over the main sections. */
START_TEST(test_function_sections)
{
	struct config *cfg;
	char name[300];

	cfg = load_ok(DB1 "[function.resize]\npaused = yes\n"
	    "queue_watermark_depth = 5\n[function.Thumb]\n"
	    "[function.off]\nqueue_watermark_depth = 0\npaused = no\n");
	ck_assert_uint_eq(cfg->nfuncs, 3);
	/* Sorted byte for byte, for the lookup. */
	ck_assert_str_eq(cfg->funcs[0].name, "Thumb");
	ck_assert_int_eq(cfg->funcs[0].line, 6);
	ck_assert_int_eq(config_paused(cfg, "resize"), 1);
	ck_assert_int_eq(config_paused(cfg, "Resize"), 0);
	ck_assert_int_eq(config_paused(cfg, "Thumb"), 0);
	ck_assert_int_eq(config_watermark(cfg, "resize"), 5);
	ck_assert_int_eq(config_watermark(cfg, "Thumb"), 10000);
	ck_assert_int_eq(config_watermark(cfg, "off"), 0);
	ck_assert_int_eq(config_watermark(cfg, "other"), 10000);
	ck_assert_int_eq(config_any_watermark(cfg), 1);
	ck_assert_int_eq(config_max_failures(cfg, "resize"), 10);
	ck_assert(config_job_timeout(cfg, "resize") == 600);
	config_free(cfg);
	cfg = load_ok(DB1 "[function.f]\nmax_failures = 0\njob_timeout = 2.5\n"
	    "lease_seconds = 7\n");
	ck_assert_int_eq(config_lease_seconds(cfg, "f"), 7);
	ck_assert_int_eq(config_lease_seconds(cfg, "g"), 300);
	ck_assert_int_eq(config_max_failures(cfg, "f"), 0);
	ck_assert(config_job_timeout(cfg, "f") == 2.5);
	ck_assert_int_eq(config_max_failures(cfg, "g"), 10);
	config_free(cfg);
	cfg = load_ok(DB1 "[queue_runner]\nqueue_watermark_depth = 0\n"
	    "[function.f]\npaused = true\n");
	ck_assert_int_eq(config_any_watermark(cfg), 0);
	ck_assert_int_eq(config_paused(cfg, "f"), 1);
	config_free(cfg);
	cfg = load_ok(DB1 "[queue_runner]\nqueue_watermark_depth = 0\n"
	    "[function.f]\nqueue_watermark_depth = 7\n");
	ck_assert_int_eq(config_any_watermark(cfg), 1);
	config_free(cfg);

	load_bad(DB1 "[function.]\npaused = yes\n",
	    "t.ini:3: [function.]: names no function");
	ck_assert_int_eq(count_lines(err), 1);
	load_bad(DB1 "[function.run_queued_job]\n",
	    "t.ini:3: [function.run_queued_job]: names a function Garivini "
	    "serves itself");
	load_bad(DB1 "[function.f\xff]\n", "t.ini:3: [function.f\xff]: a "
	    "function name must be valid UTF-8");
	/* A line holds at most 199 characters: a header names at most 187
	 * bytes of function. */
	memset(name, 'x', 201);
	name[201] = '\0';
	snprintf(text, sizeof(text), DB1 "[function.%s]\n", name);
	ck_assert(load(text) == NULL);
	ck_assert_msg(strstr(err, "line too long"), "%s", err);
	name[187] = '\0';
	snprintf(text, sizeof(text), DB1 "[function.%s]\npaused = 1\n", name);
	config_free(load_ok(text));
	load_bad(DB1 "[function.f]\nbatch_max_size = 5\n",
	    "t.ini:4: [function.f] batch_max_size: unknown key");
	load_bad(DB1 "[function.f]\npaused = maybe\n",
	    "t.ini:4: [function.f] paused: 'maybe' is not yes or no");
	load_bad(DB1 "[function.f]\nqueue_watermark_depth = -1\n",
	    "t.ini:4: [function.f] queue_watermark_depth: -1 is out of range");
	load_bad(DB1 "[function.f]\n[function.f]\npaused = yes\n",
	    "t.ini:4: [function.f]: duplicate section (first on line 3)");
	load_bad(DB1 "[function.f]\npaused = yes\n[function.f]\npaused = no\n",
	    "t.ini:6: [function.f] paused: already set on line 4");
}
END_TEST

START_TEST(test_schedule_sections)
{
	struct config *cfg, *other;

	cfg = load_ok("[db.2]\ndatabase = d2\n[db.1]\ndatabase = d1\n"
	    "[schedule.tick]\nfunction = hello\nevery = 2\n"
	    "[schedule.nightly]\nfunction = report\ncron = 0 3 * * mon-fri\n"
	    "arg = {\"a\":1}\npriority = -3\nmissed = skip\ndbid = 2\n"
	    "flag = controller\n");
	ck_assert_uint_eq(cfg->nscheds, 2);
	/* Sorted by name. */
	ck_assert_str_eq(cfg->scheds[0].name, "nightly");
	ck_assert_str_eq(cfg->scheds[0].function, "report");
	ck_assert_str_eq(cfg->scheds[0].arg, "{\"a\":1}");
	ck_assert_str_eq(cfg->scheds[0].cron, "0 3 * * mon-fri");
	ck_assert_int_eq(cfg->scheds[0].every, -1);
	ck_assert_int_eq(cfg->scheds[0].priority, -3);
	ck_assert_int_eq(cfg->scheds[0].policy, MISSED_SKIP);
	ck_assert_int_eq(cfg->scheds[0].dbid, 2);
	ck_assert_int_eq(cfg->scheds[0].controller, 1);
	ck_assert_uint_eq(cfg->scheds[0].parsed.hours, 1u << 3);
	ck_assert_str_eq(cfg->scheds[1].name, "tick");
	ck_assert_str_eq(cfg->scheds[1].arg, "");
	ck_assert_ptr_null(cfg->scheds[1].cron);
	ck_assert_int_eq(cfg->scheds[1].every, 2);
	ck_assert_int_eq(cfg->scheds[1].priority, 0);
	ck_assert_int_eq(cfg->scheds[1].policy, MISSED_ONCE);
	ck_assert_int_eq(cfg->scheds[1].controller, 0);
	/* No dbid: the lowest [db.N]. */
	ck_assert_int_eq(cfg->scheds[1].dbid, 1);

	/* Read by QueueRunners only: a change, an addition or a removal
	 * replaces them and nothing else. */
	other = load_ok("[db.2]\ndatabase = d2\n[db.1]\ndatabase = d1\n"
	    "[schedule.tick]\nfunction = hello\nevery = 3\n"
	    "[schedule.nightly]\nfunction = report\ncron = 0 3 * * mon-fri\n"
	    "arg = {\"a\":1}\npriority = -3\nmissed = skip\ndbid = 2\n");
	ck_assert_int_eq(config_same_role(cfg, other, "queue_runner"), 0);
	ck_assert_int_eq(config_same_role(cfg, other, "controller"), 1);
	ck_assert_int_eq(config_same_role(cfg, other, "injector"), 1);
	config_free(other);
	other = load_ok("[db.2]\ndatabase = d2\n[db.1]\ndatabase = d1\n"
	    "[schedule.tick]\nfunction = hello\nevery = 2\n");
	ck_assert_int_eq(config_same_role(cfg, other, "queue_runner"), 0);
	ck_assert_int_eq(config_same_role(other, cfg, "queue_runner"), 0);
	ck_assert_int_eq(config_same_role(cfg, cfg, "queue_runner"), 1);
	config_free(other);
	config_free(cfg);

	/* Bad input: each error at the line of its key. */
	load_bad(DB1 "[schedule.a]\nfunction = inject_jobs\nevery = 2\n",
	    "t.ini:4: [schedule.a] function: inject_jobs: names a function "
	    "Garivini serves itself");
	load_bad(DB1 "[schedule.a]\nfunction = run_queued_job\nevery = 2\n",
	    "t.ini:4: [schedule.a] function: run_queued_job");
	load_bad(DB1 "[schedule.a]\nfunction = f\ncron = 61 * * * *\n",
	    "t.ini:5: [schedule.a] cron: '61 * * * *': minute: 61 is out of "
	    "range 0..59");
	load_bad(DB1 "[schedule.a]\nfunction = f\ncron = 0 0 30 2 *\n",
	    "t.ini:5: [schedule.a] cron: '0 0 30 2 *': day-of-month");
	load_bad(DB1 "[schedule.a]\nfunction = f\ncron = * * * *\n",
	    "t.ini:5: [schedule.a] cron: '* * * *': expected 5 fields");
	load_bad(DB1 "[schedule.a]\nfunction = f\ncron = \n",
	    "t.ini:5: [schedule.a] cron: must not be empty");
	load_bad(DB1 "[schedule.a]\nfunction = f\ncron = * * * * *\n"
	    "every = 5\n", "t.ini:6: [schedule.a] every: set both cron and "
	    "every");
	load_bad(DB1 "[schedule.a]\nfunction = f\n",
	    "t.ini:3: [schedule.a] cron: missing: give cron or every");
	load_bad(DB1 "[schedule.a]\nevery = 5\n",
	    "t.ini:3: [schedule.a] function: required key missing");
	load_bad(DB1 "[schedule.a]\nfunction = f\nevery = 0\n",
	    "t.ini:5: [schedule.a] every: 0 is out of range 1..31536000");
	load_bad(DB1 "[schedule.a]\nfunction = f\nevery = 5\npriority = 11\n",
	    "t.ini:6: [schedule.a] priority: 11 is out of range -10..10");
	load_bad(DB1 "[schedule.a]\nfunction = f\nevery = 5\n"
	    "priority = high\n", "t.ini:6: [schedule.a] priority: 'high' is "
	    "not an integer");
	load_bad(DB1 "[schedule.a]\nfunction = f\nevery = 5\nmissed = all\n",
	    "t.ini:6: [schedule.a] missed: 'all' is not once or skip");
	load_bad(DB1 "[schedule.a]\nfunction = f\nevery = 5\nflag = x\n",
	    "t.ini:6: [schedule.a] flag: 'x' is not shim or controller");
	load_bad(DB1 "[schedule.a]\nfunction = f\nevery = 5\ndbid = 2\n",
	    "t.ini:6: [schedule.a] dbid: no [db.2] section");
	load_bad(DB1 "[schedule.a b]\nfunction = f\nevery = 5\n",
	    "t.ini:3: [schedule.a b]: the NAME of [schedule.NAME]");
	load_bad(DB1 "[schedule.]\nfunction = f\nevery = 5\n",
	    "t.ini:3: [schedule.]: the NAME");
	load_bad(DB1 "[schedule.a]\nfunction = f\nevery = 5\n"
	    "[schedule.a]\nfunction = g\n",
	    "t.ini:6: [schedule.a]: duplicate section (first on line 3)");
	load_bad(DB1 "[schedule.a]\nfunction = f\nevery = 5\nhour = 3\n",
	    "t.ini:6: [schedule.a] hour: unknown key");
}
END_TEST

START_TEST(test_db_sections)
{
	static const char *bad[] = { "db.x", "db.0", "db.65536", "db.", "db.-1",
	    "db.01", "db.1x", "db.+2", "db. 1" };
	struct config *cfg;
	char prefix[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), DB1 "[%s]\ndatabase = d\n", bad[i]);
		snprintf(prefix, sizeof(prefix), "t.ini:3: [%s]: ", bad[i]);
		load_bad(text, prefix);
		ck_assert_msg(strstr(err, "1..65535"), "%s", err);
		/* Its keys are not reported again. */
		ck_assert_int_eq(count_lines(err), 1);
	}
	cfg = load_ok("[db.65535]\ndatabase = a\n[db.5]\ndatabase = b\n"
	    "[db.2]\ndatabase = c\n");
	ck_assert_uint_eq(cfg->ndbs, 3);
	ck_assert_uint_eq(cfg->dbs[0].dbid, 2);
	ck_assert_str_eq(cfg->dbs[0].database, "c");
	ck_assert_int_eq(cfg->dbs[0].line, 5);
	ck_assert_uint_eq(cfg->dbs[1].dbid, 5);
	ck_assert_str_eq(cfg->dbs[1].database, "b");
	ck_assert_uint_eq(cfg->dbs[2].dbid, 65535);
	ck_assert_str_eq(cfg->dbs[2].database, "a");
	config_free(cfg);
}
END_TEST

/* A database's host may be an ordered list; a bad one names its line. */
START_TEST(test_db_host_list)
{
	struct config *cfg;

	cfg = load_ok("[db.1]\ndatabase = d\nhost = n1:3307, n2  [::1]:3309\n");
	ck_assert_str_eq(cfg->dbs[0].host, "n1:3307, n2  [::1]:3309");
	config_free(cfg);
	load_bad("[db.1]\ndatabase = d\nhost = n1:99999, n2\n",
	    "t.ini:3: [db.1] host: bad port '99999' for n1");
	load_bad("[db.1]\ndatabase = d\nhost = [n1, n2\n",
	    "t.ini:3: [db.1] host: missing ']'");
	load_bad("[db.1]\ndatabase = d\nhost = a b c d e f g h i j k l m n o "
	    "p q\n", "t.ini:3: [db.1] host: more than 16 servers");
}
END_TEST

START_TEST(test_too_many_dbs)
{
	size_t len = 0;
	int i;

	for (i = 1; i <= CONFIG_MAX_DBS + 1; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "[db.%d]\ndatabase = d\n", i);
	load_bad(text, "t.ini:129: [db.65]: too many databases (at most 64)");
	ck_assert_int_eq(count_lines(err), 1);
}
END_TEST

START_TEST(test_missing_database)
{
	load_bad("[garivini]\n\n[db.3]\nhost = h\n[db.4]\ndatabase = x\n",
	    "t.ini:3: [db.3] database: required key missing");
	/* A section with no key at all is seen too. */
	load_bad(DB1 "[db.2]\n[queue_runner]\n",
	    "t.ini:3: [db.2] database: required key missing");
	load_bad("", "t.ini: no database configured: add a [db.1] section");
	load_bad("[garivini]\nlog_level = info\n",
	    "t.ini: no database configured: add a [db.1] section");
}
END_TEST

START_TEST(test_servers)
{
	struct config *cfg;

	cfg = load_ok("[garivini]\ngearman_servers = a, b:1234 c,d:5\n" DB1);
	ck_assert_uint_eq(cfg->nservers, 4);
	ck_assert_str_eq(cfg->servers[0].host, "a");
	ck_assert_uint_eq(cfg->servers[0].port, 4730);
	ck_assert_str_eq(cfg->servers[1].host, "b");
	ck_assert_uint_eq(cfg->servers[1].port, 1234);
	ck_assert_str_eq(cfg->servers[2].host, "c");
	ck_assert_uint_eq(cfg->servers[2].port, 4730);
	ck_assert_str_eq(cfg->servers[3].host, "d");
	ck_assert_uint_eq(cfg->servers[3].port, 5);
	ck_assert_str_eq(cfg->gearman_servers, "a, b:1234 c,d:5");
	config_free(cfg);

	cfg = load_ok("[garivini]\ngearman_servers = 10.0.0.1:4731\n" DB1);
	ck_assert_uint_eq(cfg->nservers, 1);
	ck_assert_str_eq(cfg->servers[0].host, "10.0.0.1");
	ck_assert_uint_eq(cfg->servers[0].port, 4731);
	config_free(cfg);

	cfg = load_ok("[garivini]\ngearman_servers = [::1]:4732,::1 "
	    "[fe80::1]\n" DB1);
	ck_assert_uint_eq(cfg->nservers, 3);
	ck_assert_str_eq(cfg->servers[0].host, "::1");
	ck_assert_uint_eq(cfg->servers[0].port, 4732);
	ck_assert_str_eq(cfg->servers[1].host, "::1");
	ck_assert_uint_eq(cfg->servers[1].port, 4730);
	ck_assert_str_eq(cfg->servers[2].host, "fe80::1");
	ck_assert_uint_eq(cfg->servers[2].port, 4730);
	config_free(cfg);

	load_bad("[garivini]\ngearman_servers = a:0\n" DB1,
	    "t.ini:2: [garivini] gearman_servers: bad port '0'");
	load_bad("[garivini]\ngearman_servers = a:65536\n" DB1,
	    "t.ini:2: [garivini] gearman_servers: bad port '65536'");
	load_bad("[garivini]\ngearman_servers = a, b:x\n" DB1,
	    "t.ini:2: [garivini] gearman_servers: bad port 'x'");
	load_bad("[garivini]\ngearman_servers = a:\n" DB1,
	    "t.ini:2: [garivini] gearman_servers: bad port ''");
	load_bad("[garivini]\ngearman_servers = :4730\n" DB1,
	    "t.ini:2: [garivini] gearman_servers: a server has no host");
	load_bad("[garivini]\ngearman_servers = [::1\n" DB1,
	    "t.ini:2: [garivini] gearman_servers: missing ']'");
	load_bad("[garivini]\ngearman_servers = , ,\n" DB1,
	    "t.ini:2: [garivini] gearman_servers: no server given");
	snprintf(text, sizeof(text), "[garivini]\ngearman_servers = ");
	for (int i = 0; i < CONFIG_MAX_SERVERS + 1; i++)
		strcat(text, "h:1,");
	strcat(text, "\n" DB1);
	load_bad(text, "t.ini:2: [garivini] gearman_servers: more than 32 "
	    "servers");
}
END_TEST

START_TEST(test_syntax_errors)
{
	load_bad(DB1 "[queue_runner\nprocesses = 1\n",
	    "t.ini:3: section header without ']'");
	/* The keys after it are not blamed on the section before it. */
	ck_assert_int_eq(count_lines(err), 1);
	load_bad(DB1 "[queue_runner]\nprocesses 1\n",
	    "t.ini:4: expected \"key = value\"");
	load_bad(DB1 "[queue_runner]\nprocesses = 1\n  lease_seconds = 5\n",
	    "t.ini:5: [queue_runner] processes: an indented line continues");
	/* Indented keys right after a header are only indented. */
	config_free(load_ok(DB1 "[queue_runner]\n  processes = 3\n"));
	/* Comments and blank lines, indented or not. */
	config_free(load_ok("\n  \n; c\n  ; c\n# c\n\t# c\n" DB1 "  ; c\n"));
	/* "#" after a value is not a comment. */
	load_bad(DB1 "[queue_runner]\nprocesses = 1 # one\n",
	    "t.ini:4: [queue_runner] processes: '1 # one' is not an integer");
	/* "name: value" is inih's other spelling. */
	config_free(load_ok("[db.1]\ndatabase: d\n"));
	/* CRLF line ends. */
	config_free(load_ok("[db.1]\r\ndatabase = d\r\n[queue_runner]\r\n"
	    "processes = 3\r\n"));
}
END_TEST

static void
long_line(char *out, size_t outlen, const char *key, size_t len)
{
	size_t n = (size_t)snprintf(out, outlen, "%s = /", key);

	while (n < len)
		out[n++] = 'a';
	out[n] = '\0';
}

START_TEST(test_too_long_line)
{
	char line[400];
	struct config *cfg;

	/* 199 characters is the longest line inih's buffer holds. */
	long_line(line, sizeof(line), "status_file", 199);
	snprintf(text, sizeof(text), DB1 "[garivini]\n%s\n", line);
	cfg = load_ok(text);
	ck_assert_uint_eq(strlen(cfg->status_file), 199 - strlen("status_file = "));
	config_free(cfg);
	/* The same as the last line, without its newline. */
	snprintf(text, sizeof(text), DB1 "[garivini]\n%s", line);
	config_free(load_ok(text));
	/* And with CRLF. */
	snprintf(text, sizeof(text), DB1 "[garivini]\r\n%s\r\n", line);
	config_free(load_ok(text));

	long_line(line, sizeof(line), "status_file", 200);
	snprintf(text, sizeof(text), DB1 "[garivini]\n%s\nbad_key = 1\n", line);
	load_bad(text, "t.ini:4: line too long (at most 199 characters)");
	/* Line counting went on past it. */
	load_bad(text, "t.ini:5: [garivini] bad_key: unknown key");
	ck_assert_int_eq(count_lines(err), 2);

	long_line(line, sizeof(line), "; comment", 300);
	snprintf(text, sizeof(text), "%s\n" DB1, line);
	load_bad(text, "t.ini:1: line too long");

	/* A header too long to read: its keys are not put in the section
	 * before it. */
	snprintf(text, sizeof(text), DB1 "[%0250d]\nfoo = 1\n", 0);
	load_bad(text, "t.ini:3: line too long");
	ck_assert_int_eq(count_lines(err), 1);
}
END_TEST

START_TEST(test_many_errors)
{
	struct config *cfg;
	char small[200];

	cfg = load("[garivini]\n"
	    "log_level = loud\n"                /* 2 */
	    "nope = 1\n"                        /* 3 */
	    "[db.1]\n"                          /* 4 */
	    "port = 0\n"                        /* 5 */
	    "[queue_runner]\n"
	    "batch_max_size = 0\n"              /* 7 */
	    "batch_max_size = 1\n"              /* 8 */
	    "[controller]\n"
	    "job_timeout = soon\n"              /* 10 */
	    "[db.z]\n");                        /* 11 */
	ck_assert_ptr_null(cfg);
	ck_assert_msg(count_lines(err) == 8, "%s", err);
	ck_assert_msg(strncmp(err, "t.ini:2: [garivini] log_level: ", 31) == 0,
	    "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "\nt.ini:3: [garivini] nope: "));
	ck_assert_ptr_nonnull(strstr(err, "\nt.ini:5: [db.1] port: "));
	ck_assert_ptr_nonnull(strstr(err, "\nt.ini:7: [queue_runner] "
	    "batch_max_size: 0 is out of range"));
	ck_assert_ptr_nonnull(strstr(err, "\nt.ini:8: [queue_runner] "
	    "batch_max_size: already set on line 7"));
	ck_assert_ptr_nonnull(strstr(err, "\nt.ini:10: [controller] "
	    "job_timeout: "));
	ck_assert_ptr_nonnull(strstr(err, "\nt.ini:11: [db.z]: "));
	ck_assert_ptr_nonnull(strstr(err, "\nt.ini:4: [db.1] database: "
	    "required key missing"));
	ck_assert(err[strlen(err) - 1] != '\n');

	/* A small buffer: whole lines, then a note that more were cut. */
	ck_assert_ptr_null(config_load_string(
	    "[garivini]\nlog_level = loud\nnope = 1\n[db.1]\nport = 0\n",
	    "t.ini", small, sizeof(small)));
	ck_assert_msg(strlen(small) < sizeof(small), "%s", small);
	ck_assert_msg(strstr(small, "\n... more errors") != NULL &&
	    strcmp(small + strlen(small) - 16, "\n... more errors") == 0,
	    "%s", small);
	ck_assert_msg(strncmp(small, "t.ini:2: [garivini] log_level: ", 31)
	    == 0, "%s", small);
	ck_assert_ptr_null(config_load_string("[db.1]\nport = 0\n", "t.ini",
	    small, 10));
	ck_assert_uint_lt(strlen(small), 10);
}
END_TEST

START_TEST(test_load_file)
{
	char dir[] = "/tmp/gvcfgXXXXXX", path[64];
	struct config *cfg;
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/x.ini", dir);
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	ck_assert_msg(strstr(err, path) && strstr(err, "No such file"), "%s",
	    err);

	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs("[db.1]\ndatabase = d\n[queue_runner]\nprocesses = many\n", fp);
	fclose(fp);
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	snprintf(text, sizeof(text), "%s:4: [queue_runner] processes: ", path);
	ck_assert_msg(strncmp(err, text, strlen(text)) == 0, "%s", err);

	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs("[db.1]\ndatabase = d\n", fp);
	fclose(fp);
	ck_assert_ptr_nonnull(cfg = config_load(path, err, sizeof(err)));
	ck_assert_str_eq(cfg->path, path);
	config_free(cfg);
	unlink(path);
	rmdir(dir);
}
END_TEST

static const char *base_ini =
    "[garivini]\n"
    "gearman_servers = 127.0.0.1:4730\n"
    "pidfile = /p/pid\n"
    "status_interval = 5\n"
    "log_level = info\n"
    "[db.1]\n"
    "database = d\n"
    "password = pw\n"
    "[queue_runner]\n"
    "processes = 1\n"
    "batch_run_sleep = 1\n"
    "batch_max_size = 100\n"
    "queue_watermark_depth = 10\n"
    "lease_seconds = 300\n"
    "[injector]\n"
    "processes = 1\n"
    "[controller]\n"
    "processes = 2\n"
    "max_failures = 10\n"
    "job_timeout = 600\n";

/* base_ini with the first line starting with `from` replaced by `to`, or
 * `to` added at the end when from is NULL. */
static struct config *
variant(const char *from, const char *to)
{
	const char *at, *eol;

	if (from == NULL) {
		snprintf(text, sizeof(text), "%s%s\n", base_ini, to);
		return load_ok(text);
	}
	at = strstr(base_ini, from);
	ck_assert_ptr_nonnull(at);
	eol = strchr(at, '\n');
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - base_ini), base_ini,
	    to, eol);
	return load_ok(text);
}

struct role_case {
	const char *from, *to;
	int qr, inj, ctl;       /* config_same_role for each role */
	int fixed;              /* config_same_fixed */
};

static const struct role_case role_cases[] = {
	{ "processes = 1\nbatch", "processes = 7", 1, 1, 1, 1 },
	{ "processes = 2", "processes = 0", 1, 1, 1, 1 },
	{ "batch_max_size", "batch_max_size = 99", 0, 1, 1, 1 },
	{ "batch_run_sleep", "batch_run_sleep = 0.5", 0, 1, 1, 1 },
	{ "queue_watermark_depth", "queue_watermark_depth = 0", 0, 0, 1, 1 },
	{ "lease_seconds", "lease_seconds = 30", 0, 0, 0, 1 },
	{ "max_failures", "max_failures = 0", 1, 1, 0, 1 },
	{ "job_timeout", "job_timeout = 60", 1, 1, 0, 1 },
	{ "gearman_servers", "gearman_servers = 127.0.0.1", 1, 1, 1, 1 },
	{ "gearman_servers", "gearman_servers = 127.0.0.1:4731", 0, 0, 0, 1 },
	{ "gearman_servers", "gearman_servers = 127.0.0.1, 10.0.0.1", 0, 0, 0,
	    1 },
	{ "password", "password = other", 0, 0, 0, 1 },
	{ NULL, "[db.2]\ndatabase = d", 0, 0, 0, 1 },
	{ NULL, "[function.f]\npaused = yes", 0, 0, 1, 1 },
	{ NULL, "[function.f]\nqueue_watermark_depth = 3", 0, 0, 1, 1 },
	{ NULL, "[function.f]\nmax_failures = 3", 1, 1, 0, 1 },
	{ NULL, "[function.f]\njob_timeout = 3", 1, 1, 0, 1 },
	{ NULL, "[function.f]\nlease_seconds = 3", 0, 0, 0, 1 },
	{ NULL, "retry_first = 60", 1, 1, 0, 1 },
	{ NULL, "retry_max = 600", 1, 1, 0, 1 },
	{ NULL, "[function.f]\nretry_first = 5", 1, 1, 0, 1 },
	{ NULL, "[function.f]\nretry_max = 600", 1, 1, 0, 1 },
	/* A section that sets nothing changes nothing. */
	{ NULL, "[function.f]", 1, 1, 1, 1 },
	{ NULL, "[function.f]\npaused = no", 1, 1, 1, 1 },
	/* Handed to running children: none is replaced for it. */
	{ "log_level", "log_level = debug", 1, 1, 1, 1 },
	{ NULL, "concurrency = 8", 1, 1, 0, 1 },
	{ "log_level", "log_file = /tmp/x.log", 0, 0, 0, 1 },
	{ "status_interval", "status_interval = 1", 1, 1, 1, 1 },
	{ "pidfile", "pidfile = /q/pid", 1, 1, 1, 0 },
	{ "pidfile", "pidfile = /p/pid\nuser = nobody", 1, 1, 1, 0 },
	{ "pidfile", "pidfile = /p/pid\ngroup = nogroup", 1, 1, 1, 0 },
	{ "pidfile", "pidfile = /p/pid\nstatus_file = /q/s.json", 1, 1, 1, 1 },
	{ "pidfile", "pidfile = /p/pid\nheartbeat_timeout = 0", 1, 1, 1, 1 },
};

START_TEST(test_same_role)
{
	const struct role_case *c = &role_cases[_i];
	struct config *a, *b;

	a = load_ok(base_ini);
	b = variant(c->from, c->to);
	ck_assert_msg(config_same_role(a, b, "queue_runner") == c->qr,
	    "queue_runner after %s", c->to);
	ck_assert_msg(config_same_role(a, b, "injector") == c->inj,
	    "injector after %s", c->to);
	ck_assert_msg(config_same_role(a, b, "controller") == c->ctl,
	    "controller after %s", c->to);
	ck_assert_msg(config_same_fixed(a, b) == c->fixed,
	    "fixed after %s", c->to);
	/* Symmetric, and a config is the same as itself. */
	ck_assert_int_eq(config_same_role(b, a, "queue_runner"),
	    config_same_role(a, b, "queue_runner"));
	ck_assert_int_eq(config_same_role(a, a, "controller"), 1);
	ck_assert_int_eq(config_same_fixed(b, b), 1);
	ck_assert_int_eq(config_same_role(a, a, "master"), 0);
	config_free(a);
	config_free(b);
}
END_TEST

static char *
sample_path(void)
{
	static char path[4096];
	const char *dir = getenv("GV_SRCDIR");

	snprintf(path, sizeof(path), "%s/garivini.ini", dir ? dir : ".");
	return path;
}

static char *
slurp(const char *path)
{
	static char data[65536];
	size_t n;
	FILE *fp = fopen(path, "r");

	ck_assert_msg(fp != NULL, "cannot open %s", path);
	n = fread(data, 1, sizeof(data) - 1, fp);
	data[n] = '\0';
	fclose(fp);
	return data;
}

static char *
dump(const struct config *cfg)
{
	static char out[65536];
	FILE *fp = fmemopen(out, sizeof(out), "w");

	ck_assert_ptr_nonnull(fp);
	config_dump(cfg, fp);
	fclose(fp);
	return out;
}

START_TEST(test_sample)
{
	struct config *cfg;
	char *sample, *d, *line, key[128], *eq, pattern[160];

	cfg = config_load(sample_path(), err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s: %s", sample_path(), err);
	ck_assert_str_eq(cfg->gearman_servers, "127.0.0.1:4730");
	ck_assert_str_eq(cfg->pidfile, "/tmp/garivini/garivini.pid");
	ck_assert_str_eq(cfg->status_file, "/tmp/garivini/status.json");
	ck_assert_str_eq(cfg->log_file, "stderr");
	ck_assert_uint_eq(cfg->ndbs, 1);
	ck_assert_uint_eq(cfg->dbs[0].dbid, 1);
	ck_assert_str_eq(cfg->dbs[0].host, "127.0.0.1");
	ck_assert_uint_eq(cfg->dbs[0].port, 3306);
	ck_assert_str_eq(cfg->dbs[0].database, "garivini");
	ck_assert_str_eq(cfg->dbs[0].user, "garivini");
	ck_assert_str_eq(cfg->dbs[0].password, "garivini");
	ck_assert_int_eq(cfg->queue_runner.processes, 1);
	ck_assert_int_eq(cfg->injector.processes, 2);
	ck_assert_int_eq(cfg->controller.processes, 2);

	/* Every key that the dump shows is in the sample, set or commented. */
	sample = slurp(sample_path());
	d = dump(cfg);
	for (line = d; line && *line; line = strchr(line, '\n'),
	    line = line ? line + 1 : NULL) {
		ck_assert_int_eq(sscanf(line, "[%*[^]]] %127s =", key), 1);
		eq = strstr(line, " = ");
		ck_assert_ptr_nonnull(eq);
		snprintf(pattern, sizeof(pattern), "\n%s = ", key);
		if (strstr(sample, pattern) == NULL) {
			snprintf(pattern, sizeof(pattern), "\n;%s = ", key);
			ck_assert_msg(strstr(sample, pattern) != NULL,
			    "key %s is not in the sample", key);
		}
	}
	config_free(cfg);
}
END_TEST

START_TEST(test_dump)
{
	struct config *cfg;
	char *d;

	cfg = load_ok("[db.2]\ndatabase = d2\npassword = s3cr3t-pw\n"
	    "[db.1]\ndatabase = d1\n[queue_runner]\nbatch_run_sleep = 0.05\n");
	d = dump(cfg);
	ck_assert_msg(strstr(d, "s3cr3t-pw") == NULL, "password printed:\n%s", d);
	ck_assert_ptr_nonnull(strstr(d, "[db.2] password = (set)  (default "));
	ck_assert_ptr_nonnull(strstr(d, "[db.1] password = (empty)  (default "));
	ck_assert_ptr_nonnull(strstr(d, "[db.1] database = d1  (default "
	    "required; reload: yes)"));
	ck_assert_ptr_nonnull(strstr(d, "[db.2] database = d2  ("));
	ck_assert_msg(strstr(d, "[db.1] host") < strstr(d, "[db.2] host"),
	    "%s", d);
	ck_assert_ptr_nonnull(strstr(d, "[garivini] pidfile = "
	    "/run/garivini/garivini.pid  (default /run/garivini/garivini.pid; "
	    "reload: no)"));
	ck_assert_ptr_nonnull(strstr(d, "[garivini] user = (none)  (default "
	    "none; reload: no)"));
	ck_assert_ptr_nonnull(strstr(d, "[garivini] log_level = info  (default "
	    "info; reload: yes)"));
	ck_assert_ptr_nonnull(strstr(d, "[queue_runner] batch_run_sleep = 0.05"
	    "  (default 1.0; reload: yes)"));
	ck_assert_ptr_nonnull(strstr(d, "[queue_runner] batch_max_size = 1000"
	    "  (default 1000; reload: yes)"));
	ck_assert_ptr_nonnull(strstr(d, "[queue_runner] batch_max_bytes = "
	    "67108864  (default 67108864; reload: yes)"));
	ck_assert_ptr_nonnull(strstr(d, "[controller] processes = 2"));
	ck_assert_ptr_nonnull(strstr(d, "[controller] concurrency = 64  "
	    "(default 64; reload: yes)"));
	ck_assert_ptr_nonnull(strstr(d, "[injector] concurrency = 4  "
	    "(default 4; reload: yes)"));
	/* 13 [garivini] keys, 6 per database, 6 + 2 + 6 in the pools. */
	ck_assert_int_eq(count_lines(d) - 1, 13 + 2 * 6 + 14);
	config_free(cfg);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_key_set);
	tcase_add_test(tc, test_roles);
	tcase_add_test(tc, test_log_levels);
	tcase_add_test(tc, test_optional_strings);
	tcase_add_loop_test(tc, test_bounds, 0,
	    (int)(sizeof(bounds) / sizeof(bounds[0])));
	tcase_add_test(tc, test_bad_numbers);
	tcase_add_test(tc, test_fractional_sleep);
	tcase_add_test(tc, test_unknown_key_and_section);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_db_sections);
	tcase_add_test(tc, test_db_host_list);
	tcase_add_test(tc, test_too_many_dbs);
	tcase_add_test(tc, test_missing_database);
	tcase_add_test(tc, test_servers);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_too_long_line);
	tcase_add_test(tc, test_many_errors);
	tcase_add_test(tc, test_load_file);
	tcase_add_loop_test(tc, test_same_role, 0,
	    (int)(sizeof(role_cases) / sizeof(role_cases[0])));
	tcase_add_test(tc, test_sample);
	tcase_add_test(tc, test_dump);
	tcase_add_test(tc, test_function_sections);
	tcase_add_test(tc, test_schedule_sections);
	tcase_add_test(tc, test_retry_backoff);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run_suite(config_suite());
}
