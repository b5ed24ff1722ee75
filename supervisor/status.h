/*
 * status: the status file (JSON) and the optional Prometheus text file, both
 * written by the master alone and replaced atomically: a unique temporary
 * file in the same directory, written, fsync'd, renamed over the old one. A
 * reader sees the old file or the new one, never a part.
 *
 * The JSON document:
 *
 *   { "master": { "pid", "started" (unix time), "uptime" (s), "config",
 *                 "state": "starting"|"running"|"stopping"|"stopped",
 *                 "generation" (1, +1 per applied reload),
 *                 "last_reload": null | { "result": "ok"|"failed",
 *                                         "error": null|"...", "time" } },
 *     "pools": { "queue_runner": { "configured", "running", "starting",
 *                 "idle", "busy", "stopping", "restarts", "failed" (bool:
 *                 a child exited EX_CONFIG; cleared by a reload),
 *                 "failed_slots", "crash_looping" (bool),
 *                 "broken_dbs" (dbids its children cannot work with now,
 *                 as a QueueRunner finding a job table that does not match
 *                 this version; [] if none), "unreachable_dbs" (dbids
 *                 that do not answer its children's probes), "withdrawn"
 *                 (children that take no work from gearmand, for they
 *                 reach no database), "jobs_done", "jobs_failed",
 *                 ... every scoreboard counter }, ... },
 *     "children": [ { "pid", "pool", "slot", "state", "started" (unix
 *                 time), "heartbeat_age" (s), "job_age" (s busy with the
 *                 job in hand, or null), "broken_dbs",
 *                 "unreachable_dbs", "withdrawn" (bool), "db_hosts" (per
 *                 dbid the "host:port" of its list the child uses, for
 *                 the databases it connected to), counters... },
 *                 ... ],
 *     "functions": { NAME: { "dispatched", "done", "failed", "parked",
 *                 "timed_out", "cancelled", "latency": { "buckets":
 *                 { "0.005": N, ... "+Inf": N } (cumulative), "sum" (s),
 *                 "count" } }, ... } (src/metrics.c),
 *     "written": unix time }
 */
#ifndef STATUS_H
#define STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "metrics.h"
#include "scoreboard.h"

#define STATUS_MAX_POOLS 8

struct status_master {
	pid_t pid;
	double started;             /* time_real() */
	double uptime;
	const char *config;
	const char *state;
	unsigned generation;
	const char *reload_result;  /* NULL: no reload yet; "ok", "failed" */
	const char *reload_error;   /* NULL if none */
	double reload_time;         /* time_real() */
};

struct status_pool {
	const char *name;
	int configured;
	int running, starting, idle, busy, stopping;
	unsigned long restarts;
	int failed_slots;           /* exited EX_CONFIG, waiting for a reload */
	int crash_looping;
	unsigned broken_dbs[SB_BROKEN_DBS];  /* union over its children */
	size_t nbroken;
	unsigned unreachable_dbs[SB_BROKEN_DBS];  /* the same */
	size_t nunreachable;
	int withdrawn;              /* children that take no work now */
	uint64_t counters[SB_NCOUNTERS];
};

/* The host of a database a child is on, as "host:port". */
struct status_db_on {
	unsigned dbid;
	char host[272];
};

struct status_child {
	pid_t pid;
	const char *pool;
	int slot;
	int state;                  /* enum sb_state */
	double started;             /* time_real() */
	double heartbeat_age;
	double job_age;             /* < 0: no job in hand */
	unsigned broken_dbs[SB_BROKEN_DBS];
	size_t nbroken;
	unsigned unreachable_dbs[SB_BROKEN_DBS];
	size_t nunreachable;
	int withdrawn;
	struct status_db_on db_on[SB_DBS];
	size_t ndb_on;
	uint64_t counters[SB_NCOUNTERS];
};

struct status {
	struct status_master master;
	struct status_pool pools[STATUS_MAX_POOLS];
	size_t npools;
	struct status_child *children;
	size_t nchildren;
	struct metrics_func *functions;   /* in name order, _other last */
	size_t nfunctions;
	double written;             /* time_real() */
};

int status_write_json(const char *path, const struct status *st, char *err,
    size_t errlen);
int status_write_prometheus(const char *path, const struct status *st,
    char *err, size_t errlen);
/* One line of per-pool counts for the log (SIGUSR1). */
void status_summary(const struct status *st, char *out, size_t outlen);

#endif
