/*
 * scoreboard: one shared-memory slot per child, written by the child and read
 * by the master for the status file and hung-child detection (php-fpm's
 * design). A role run alone (--role) gets a private slot, so roles never
 * check whether a master exists.
 *
 * A child writes only its own slot; the master reads every slot and resets a
 * slot only after reaping its child. Counters are 64-bit and updated with
 * relaxed atomics, so the master may read a counter mid-update of another
 * field but never a torn counter.
 */
#ifndef SCOREBOARD_H
#define SCOREBOARD_H

#include <stdint.h>
#include <sys/types.h>

enum sb_state {
	SB_FREE = 0,
	SB_STARTING,
	SB_IDLE,
	SB_BUSY,
	SB_STOPPING,
};

enum sb_counter {
	SB_JOBS_DONE,        /* completed (deleted) */
	SB_JOBS_FAILED,      /* failed, rescheduled or parked */
	SB_JOBS_DISPATCHED,  /* submitted to gearmand by a QueueRunner */
	SB_JOBS_INJECTED,    /* stored by an Injector */
	SB_JOBS_REFUSED,     /* malformed input refused */
	SB_DB_ERRORS,
	SB_GEARMAN_ERRORS,
	SB_DB_CONFLICTS,     /* deadlocks, lock waits, certification */
	SB_DB_FAILOVERS,     /* moves to another host of a database */
	SB_JOBS_UNTAKEN,     /* no worker took them in job_timeout: released */
	SB_NCOUNTERS
};

/* Databases a child reports broken at most (a QueueRunner: the job table
 * does not match this version). More are rare enough to leave out. */
#define SB_BROKEN_DBS 16
/* Databases whose host in use a child reports (CONFIG_MAX_DBS). */
#define SB_DBS 64

struct dbset;

struct sb_slot {
	pid_t pid;
	int state;               /* enum sb_state */
	double started;          /* time_real() at fork */
	double heartbeat;        /* time_mono() of the last sign of life */
	double job_started;      /* time_mono() when the job in hand began; 0 */
	uint64_t counters[SB_NCOUNTERS];
	uint32_t broken_dbs[SB_BROKEN_DBS];  /* dbids, 0: none; in order */
	/* dbids that do not answer the child's probes (dbreach), as
	 * broken_dbs; and 1 when it takes no work for it reaches none. */
	uint32_t unreachable_dbs[SB_BROKEN_DBS];
	int withdrawn;
	/* Per database, in dbid order (as configured): 1 + the index in its
	 * host list of the host this child uses; 0 before it connected. */
	uint8_t db_host[SB_DBS];
	/* Written by the master on a reload: 1 + the log level the child is
	 * to use from its next heartbeat; 0: its own. */
	int log_level;
};

/* Map n zeroed shared slots (MAP_SHARED | MAP_ANONYMOUS, before forking). */
struct sb_slot *scoreboard_map(size_t n);
void scoreboard_unmap(struct sb_slot *slots, size_t n);
/* A private slot for a role run alone. */
struct sb_slot *scoreboard_private(void);

/* Child side. Each also beats the heartbeat. */
void scoreboard_state(struct sb_slot *slot, enum sb_state state);
void scoreboard_heartbeat(struct sb_slot *slot);
void scoreboard_count(struct sb_slot *slot, enum sb_counter c, uint64_t n);
/* The databases this child cannot work with now (dbids, at most
 * SB_BROKEN_DBS kept); n = 0 clears. */
/* The same for the databases that do not answer, and whether the child
 * withdrew from gearmand for it reaches none. */
void scoreboard_unreachable_dbs(struct sb_slot *slot, const unsigned *dbids,
    size_t n);
void scoreboard_withdrawn(struct sb_slot *slot, int withdrawn);
void scoreboard_broken_dbs(struct sb_slot *slot, const unsigned *dbids,
    size_t n);
/* The host each database of dbs is on, and the conflict and failover
 * counts of this child's connections. */
void scoreboard_dbs(struct sb_slot *slot, struct dbset *dbs);
/* The same from figures a child gathered itself (a Controller's
 * connections each belong to a thread): the host of the i-th database in
 * dbid order (-1: none yet), and the totals of every connection. */
void scoreboard_db_host(struct sb_slot *slot, size_t i, int host);
void scoreboard_db_totals(struct sb_slot *slot, uint64_t conflicts,
    uint64_t failovers);
/* Master side: the log level a running child is to use (a reload that
 * changes only log_level needs no new process). */
void scoreboard_set_log_level(struct sb_slot *slot, int level);
/* Master side: a consistent-enough copy for reporting. */
void scoreboard_read(const struct sb_slot *slot, struct sb_slot *copy);

const char *scoreboard_state_name(int state);
const char *scoreboard_counter_name(enum sb_counter c);

#endif
