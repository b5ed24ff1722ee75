/*
 * config_table: the one table of garivini.ini's keys (config_table.h).
 */
#include <stddef.h>
#include <string.h>

#include "config_table.h"
#include "garivini.h"
#include "jobfield.h"

const struct key config_table[] = {
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
	/* Records of jobs that ended (job_outcome): written by whoever ends
	 * a job (a Controller, an Injector's cancel, a worker through the
	 * library, gvctl), each with its keep_until. */
	{ "garivini", "keep_done", KT_INT, DEF(GV_KEEP_DONE), 0,
	    GV_KEEP_DONE_MAX,
	    0, R_INJ | R_CTL, G(keep_done),
	    "seconds a record of a job that ended is kept; 0 = none" },
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

	{ FUNC_SECTION, "keep_done", KT_INT, NULL, 0, GV_KEEP_DONE_MAX,
	    0, R_INJ | R_CTL, F(keep_done),
	    "this function's keep_done; none = [garivini]'s" },
	{ FUNC_SECTION, "unique_for", KT_INT, NULL, 0, GV_KEEP_DONE_MAX,
	    0, R_INJ | R_CTL, F(unique_for),
	    "seconds after a job of a unique key is done in which the key "
	    "is refused as a duplicate; none = 0" },

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

const size_t config_table_len = sizeof(config_table) / sizeof(config_table[0]);

_Static_assert(sizeof(config_table) / sizeof(config_table[0]) <=
    CONFIG_TABLE_MAX, "config_table has more rows than CONFIG_TABLE_MAX");

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

enum config_kind
config_table_kind(const struct key *k)
{
	return is_db(k) ? DB : is_func(k) ? FUNC : is_sched(k) ? SCHED : MAIN;
}

void *
config_table_field(void *base, const struct key *k)
{
	return (char *)base + k->off;
}

const void *
config_table_cfield(const void *base, const struct key *k)
{
	return (const char *)base + k->off;
}

int
config_table_find(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < config_table_len; i++)
		if (strcmp(config_table[i].section, section) == 0 &&
		    strcmp(config_table[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
config_table_section(const char *section)
{
	size_t i;

	for (i = 0; i < config_table_len; i++)
		if (strcmp(config_table[i].section, section) == 0)
			return (int)i;
	return -1;
}
