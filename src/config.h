/*
 * config: garivini.ini, parsed through inih into a struct config.
 *
 * Every key lives in one table in config.c with its type, default, bounds and
 * whether a reload may change it. An unknown key, a bad value or a missing
 * required key is an error naming the file, the line and the key. A reload
 * parses into a fresh struct config; the caller keeps the old one on failure.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "cron.h"

#define CONFIG_MAX_DBS 64
#define CONFIG_MAX_SERVERS 32
#define CONFIG_ERRLEN 4096

struct config_server {
	char host[256];
	unsigned port;          /* 4730 when not given */
};

struct config_db {
	unsigned dbid;          /* N of [db.N], 1 .. 65535 */
	char *host;             /* default 127.0.0.1; or "h1[:p1], h2..." */
	unsigned port;          /* default 3306 */
	char *socket;           /* NULL: TCP */
	char *database;         /* required */
	char *user;             /* default "garivini" */
	char *password;         /* default "" */
	int line;               /* line of the [db.N] header, for messages */
};

/* [function.NAME]: one function's policy over the main sections. */
struct config_func {
	char *name;             /* the funcname, byte for byte */
	int line;               /* line of its header, for messages */
	int paused;             /* 1: its jobs are stored, not dispatched */
	int queue_watermark_depth; /* -1: [queue_runner]'s */
	int lease_seconds;      /* -1: [queue_runner]'s */
	int max_failures;       /* -1: [controller]'s */
	double job_timeout;     /* -1: [controller]'s */
	int retry_first;        /* -1: [controller]'s */
	int retry_max;          /* -1: [controller]'s */
	int keep_done;          /* -1: [garivini]'s */
	int unique_for;         /* -1: none (0) */
};

/* [schedule.NAME]: a recurring job (schedule.h says what a slot is). */
enum config_missed {
	MISSED_ONCE,            /* one job for the latest missed slot */
	MISSED_SKIP,            /* none for missed slots */
};

struct config_sched {
	char *name;             /* NAME: letters, digits, _ - . */
	int line;               /* line of its header, for messages */
	char *function;         /* the jobs' funcname */
	char *arg;              /* their arg ("" by default) */
	char *cron;             /* as written, or NULL: every */
	int every;              /* seconds, or -1: cron */
	int priority;
	char *missed;           /* as written: "once" or "skip" */
	char *flag;             /* as written: "shim" or "controller" */
	int dbid;               /* the database of its jobs and state */
	struct cron parsed;     /* of cron */
	enum config_missed policy; /* of missed */
	int controller;         /* of flag: 1 controller, 0 shim */
};

struct config {
	char *path;

	/* [garivini] */
	char *gearman_servers;  /* as written: "host[:port], ..." */
	struct config_server servers[CONFIG_MAX_SERVERS];
	size_t nservers;
	char *pidfile;
	char *status_file;
	double status_interval;
	char *log_file;         /* "stderr", "syslog" or a path */
	int log_level;          /* enum log_level */
	char *user;
	char *group;
	double shutdown_timeout;
	double heartbeat_timeout;
	char *prometheus_file;  /* NULL: none */
	int metrics_functions;  /* functions with metrics of their own */
	int keep_done;          /* seconds records of ended jobs are kept */

	/* [db.N], sorted by dbid */
	struct config_db dbs[CONFIG_MAX_DBS];
	size_t ndbs;

	struct {
		int processes;
		double batch_run_sleep;
		int batch_max_size;
		int batch_max_bytes;
		int queue_watermark_depth;
		int lease_seconds;
	} queue_runner;
	struct {
		int processes;
		int concurrency;        /* calls in hand per Injector */
	} injector;
	struct {
		int processes;
		int concurrency;        /* jobs in flight per Controller */
		int max_failures;
		double job_timeout;
		int retry_first;        /* seconds before the first retry */
		int retry_max;          /* cap of the doubling delay */
	} controller;

	/* [function.NAME], sorted by name */
	struct config_func *funcs;
	size_t nfuncs;

	/* [schedule.NAME], sorted by name */
	struct config_sched *scheds;
	size_t nscheds;
};

/* The worker roles. Each is named as the section of garivini.ini that
 * configures it; config.c holds the one table of their names. */
enum config_role {
	CONFIG_QUEUE_RUNNER,
	CONFIG_INJECTOR,
	CONFIG_CONTROLLER,
	CONFIG_NROLES
};
/* "queue_runner", "injector", "controller". */
const char *config_role_name(enum config_role role);
/* The processes of the role called name; 0 for an unknown name. */
int config_processes(const struct config *cfg, const char *role);

/* The policy of funcname, as its [function.NAME] section (if any) over the
 * main sections sets it. */
const struct config_func *config_func(const struct config *cfg,
    const char *funcname);
int config_paused(const struct config *cfg, const char *funcname);
int config_watermark(const struct config *cfg, const char *funcname);
int config_lease_seconds(const struct config *cfg, const char *funcname);
int config_max_failures(const struct config *cfg, const char *funcname);
double config_job_timeout(const struct config *cfg, const char *funcname);
/* Seconds a stopping child of role gets before it is killed: shutdown_timeout,
 * and for Controllers at least their longest job_timeout and some, so that a
 * stop or a reload lets the jobs in hand finish by default. */
#define CONFIG_STOP_SPARE 10.0
double config_stop_grace(const struct config *cfg, const char *role);
int config_retry_first(const struct config *cfg, const char *funcname);
int config_retry_max(const struct config *cfg, const char *funcname);
/* Seconds a record of a job of funcname that ended is kept (keep_done; a
 * done one at least its unique_for), and its unique window (0: none). */
int config_keep_done(const struct config *cfg, const char *funcname);
int config_unique_for(const struct config *cfg, const char *funcname);
/* 1 if any function has a watermark (gearmand's depths are then read). */
int config_any_watermark(const struct config *cfg);

/* Parse path into a fresh config. NULL on error; err holds every error found,
 * one per line, each "FILE:LINE: [section] key: reason". */
struct config *config_load(const char *path, char *err, size_t errlen);
/* The same, from a string (unit tests); name stands for the file name. */
struct config *config_load_string(const char *text, const char *name,
    char *err, size_t errlen);
void config_free(struct config *cfg);

/* 1 if every key of a section that a reload may not change is the same. */
int config_same_fixed(const struct config *a, const struct config *b);
/* 1 if the settings that the children of a role read are the same in a and
 * b, so a reload may keep its running children. role: "queue_runner",
 * "injector" or "controller". */
int config_same_role(const struct config *a, const struct config *b,
    const char *role);

/* A warning when the file cfg was loaded from holds a non-empty database
 * password and group or others may read it (in buf, which is returned);
 * NULL when there is nothing to say. Its group may read it (not write it)
 * when that group is the one the key group names. */
const char *config_secret_warning(const struct config *cfg, char *buf,
    size_t buflen);

/* Write every key with its value, default and reload rule (for -t -v and the
 * manual). */
void config_dump(const struct config *cfg, FILE *fp);

#endif
