/*
 * gvctl's own header: what its command files (gvctl_*.c) share with
 * gvctl.c, which holds the command table, the options and the helpers that
 * print. Not installed, and no other program includes it.
 */
#ifndef GVCTL_H
#define GVCTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "garivini.h"
#include "util.h"

struct config;
struct db;
struct dbset;

#define EXIT_NO_MATCH 1
#define GVCTL_BATCH 1000        /* ids per statement of a bulk change */
#define GVCTL_LIMIT 100         /* list lines, dry-run ids shown */

/* The states, in admin.h's order (the figures of a stats row). */
enum state {
	STATE_DUE,
	STATE_SCHEDULED,
	STATE_LEASED,
	STATE_FAILING,
	STATE_PARKED,
	STATE_COUNT
};

extern const char *const gvctl_state_names[STATE_COUNT];
/* The states that split the rows, in the order list prints them. */
#define GVCTL_NEXCLUSIVE 4
extern const enum state gvctl_exclusive[GVCTL_NEXCLUSIVE];

/* The codes of admin_job_state. */
#define GVCTL_NCODES 4
extern const enum state gvctl_state_codes[GVCTL_NCODES];

enum command { CMD_STATS, CMD_LIST, CMD_SHOW, CMD_RETRY, CMD_DELETE,
	CMD_STATUS, CMD_ERRORS, CMD_CANCEL, CMD_SCHEDULES };

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
	const char *key;        /* show and cancel --key */
};

struct ctl {
	struct opts o;
	char **args;            /* the command's arguments */
	int nargs;
	struct config *cfg;
	gv_client *gv;
	struct dbset *dbs;
	int unavailable;        /* a database failed: exit 69 */
};

/* gvctl.c: usage errors and what the commands print with. */
int gvctl_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* A state's name as an admin.c parameter (NULL: any). */
const char *gvctl_state_param(int state);
/* Bytes as an operator can read them: printable ASCII as it is, every
 * other byte and the backslash as \xHH, so the text is unambiguous. */
void gvctl_escape_bytes(struct buf *b, const void *data, size_t len);
/* A string escaped into a static buffer: one at a time. */
const char *gvctl_escaped(const char *s);
/* A failure's message on one line: UTF-8 as it is (the library stored
 * it valid), newlines as \n, tabs as spaces; at most max bytes, cut at a
 * character boundary, with "..." when cut (max 0: whole). "-" if empty. */
const char *gvctl_message_line(const unsigned char *m, size_t len,
    size_t max);
const char *gvctl_iso_time(uint64_t t, char *out, size_t len);
const char *gvctl_duration(double seconds, char *out, size_t len);
int gvctl_parse_u64(const char *s, uint64_t *out);
/* Print doc on stdout, and free it. */
void gvctl_json_print(json_t *doc);
/* Say why a database failed; gvctl then exits 69. */
void gvctl_db_failed(struct ctl *c, const char *err);

/* The commands, one file a group. Each returns gvctl's exit code. */
int gvctl_stats_print(struct ctl *c);                   /* gvctl_stats.c */
int gvctl_jobs_list(struct ctl *c);                     /* gvctl_jobs.c */
int gvctl_jobs_show(struct ctl *c);
int gvctl_jobs_errors(struct ctl *c);
int gvctl_jobs_cancel(struct ctl *c);
/* A job named [DBID:]JOBID: its database and id, or an exit code. */
int gvctl_jobs_resolve(struct ctl *c, const char *spec, struct db **dbp,
    uint64_t *jobid);
int gvctl_change_retry(struct ctl *c);                  /* gvctl_change.c */
int gvctl_change_delete(struct ctl *c);
int gvctl_status_print(struct ctl *c);                  /* gvctl_status.c */
/* The master's status file, parsed into *root and as text. */
int gvctl_status_load(struct ctl *c, json_t **root, struct buf *text);
int gvctl_schedules_print(struct ctl *c);               /* gvctl_schedules.c */

#endif
