/*
 * dbreach: whether a role reaches its databases now. Each database is
 * probed every DBREACH_EVERY seconds on a thread of its own, with a
 * connection of its own and short timeouts, so that a database that stops
 * answering holds up no call and no other database's probe.
 *
 * A role that reaches none of its databases takes no work from gearmand
 * (gm_worker_serve's gate): every job it took would be refused (an
 * Injector's call) or left to its lease (a Controller's job), while another
 * master's roles, on the same gearmand, could have done it at once.
 */
#ifndef DBREACH_H
#define DBREACH_H

#include "config.h"
#include "scoreboard.h"

#define DBREACH_EVERY 1.0        /* seconds between two probes of a db */
#define DBREACH_TIMEOUT 2        /* seconds a probe waits for an answer */

struct dbreach;
struct dbset;

/* Probe every database of cfg from now on. The probes log what changes
 * and write it in sb: the databases that do not answer, and whether the
 * role has withdrawn (none answers), naming its functions (for the log:
 * "inject_jobs and cancel_jobs"; NULL for a role that takes no work from
 * gearmand, the QueueRunner). Every database counts as answering until
 * its first probe says otherwise. NULL with err if a thread cannot start. */
struct dbreach *dbreach_start(const struct config *cfg, struct sb_slot *sb,
    const char *functions, char *err, size_t errlen);
/* Stop the probes (a probe in progress ends within DBREACH_TIMEOUT) and
 * free. NULL is nothing. */
void dbreach_stop(struct dbreach *r);
/* 1 if database dbid answered its last probe (or has had none yet, or is
 * not one of the role's). */
int dbreach_up(struct dbreach *r, unsigned dbid);
/* 1 if some database answers: the role may take work. NULL: 1. */
int dbreach_any(struct dbreach *r);
/* Mark in set (a thread's own) the databases that do not answer: a job
 * without a unique key goes to another at once, rather than waiting on
 * one that is stopped for the read timeout. */
void dbreach_mark(struct dbreach *r, struct dbset *set);
/* dbreach_any after each database was probed again (at most about
 * 2 * DBREACH_TIMEOUT): for a caller whose call just failed, and who
 * would hand the work back to gearmand if no database answers. */
int dbreach_check(struct dbreach *r);

#endif
