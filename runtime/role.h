/*
 * role: what the master (or `garivini --role NAME`) hands a worker role, and
 * running one in this process. The table of roles is not here: main/main.c,
 * the one place that knows both the master and the workers, holds it.
 *
 * A role's main returns an exit code (<sysexits.h>): EX_OK after a graceful
 * stop, EX_CONFIG for a configuration or schema it cannot work with (the
 * master does not respawn that in a loop), EX_TEMPFAIL or EX_SOFTWARE
 * otherwise (respawned with backoff). Transient outages (database or gearmand
 * down) are survived inside the role with reconnects and backoff; they are
 * not a reason to exit.
 */
#ifndef ROLE_H
#define ROLE_H

#include <signal.h>
#include <stdatomic.h>

#include "config.h"
#include "funcstats.h"
#include "scoreboard.h"

struct role_ctx {
	const struct config *cfg;
	const char *name;                /* "queue_runner", ... */
	int slot;                        /* 0 .. processes-1 */
	struct sb_slot *sb;              /* this child's scoreboard slot */
	struct funcstats *fs;            /* per-function counters; NULL */
	const atomic_int *stop;          /* set on TERM/INT: finish, exit 0 */
};

typedef int (*role_main_fn)(struct role_ctx *ctx);

/* A role: its name is config's (the section that configures it). */
struct role {
	enum config_role id;
	role_main_fn main;
};

const char *role_name(const struct role *role);

/* The role called name in table (ended by a NULL main); NULL: none. */
const struct role *role_find(const struct role *table, const char *name);

/* On TERM or INT, besides raising the stop flag, write ROLE_STOP_BYTE to
 * fd (a non-blocking pipe; -1: none). For a watcher that has more to do
 * about a stop than the role's loop. */
#define ROLE_STOP_BYTE "s"
void role_notify_stop(int fd);

/* Run a role in this process: log prefix, signal handlers for TERM/INT
 * (graceful) and QUIT (immediate), then its main. Returns its exit code. */
int role_run(const struct role *role, const struct config *cfg, int slot,
    struct sb_slot *sb);

#endif
