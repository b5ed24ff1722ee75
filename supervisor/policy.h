/*
 * policy: the master's decisions about the children of one pool, as
 * functions of its slot table, what the scoreboard shows and the time.
 *
 * They change only the slot table and return what is to be done (a slot to
 * start, a signal to send and why); pools carries it out (fork, kill, the
 * log). Nothing here forks, signals, logs or reads a clock, so every rule is
 * tested without a process (tests/unit/test_policy.c):
 *
 * - an exit the master did not ask for is restarted after a capped doubling
 *   backoff per slot, reset by a healthy uptime; one asked for (a retired
 *   or replaced child) is not delayed; during a stop, nothing restarts;
 * - EX_CONFIG marks the slot failed: no restart until a reload;
 * - CRASH_LOOP_EXITS short lives in a row is a crash loop (for the status);
 * - a shrink retires the highest slots gracefully;
 * - a reload that changes a pool's settings replaces its children one at a
 *   time, each old child draining in a spare slot beside its replacement;
 * - a busy child without a heartbeat for heartbeat_timeout is hung: killed;
 * - a child asked to stop gets its grace, then SIGKILL, again every second
 *   until it is reaped.
 */
#ifndef POLICY_H
#define POLICY_H

#include <sys/types.h>

#define POOL_MAX_SLOTS 1024     /* config.c's bound on processes */

#define POLICY_BACKOFF_FIRST 0.5        /* seconds before the first restart */
#define POLICY_BACKOFF_MAX 30.0
#define POLICY_HEALTHY_UPTIME 10.0      /* resets the backoff */
#define POLICY_CRASH_LOOP_EXITS 3       /* short lives in a row */
#define POLICY_REPLACE_WAIT 5.0 /* a rolling replacement waits this long at
                                 * most for the new child to be up */
#define POLICY_KILL_REPEAT 1.0  /* SIGKILL again until the child is gone */

/* Why the master stopped a child; POLICY_WHY_NONE: it did not. */
enum policy_why {
	POLICY_WHY_NONE = 0,
	POLICY_WHY_RETIRE,      /* slot beyond the configured count */
	POLICY_WHY_REPLACE,     /* settings changed */
	POLICY_WHY_SHUTDOWN,
	POLICY_WHY_HUNG,        /* killed: busy, no heartbeat */
};

/*
 * A slot is a place for one child; slots 0 .. configured-1 are the pool's.
 * A child replaced by a reload drains (finishes its work in hand) in a slot
 * past the configured ones while a new child starts in its slot at once, so
 * the pool keeps its capacity: each child therefore has its own scoreboard
 * entry (sbi, pools' business), and keeps the slot number it was started as
 * (slotno) for its name.
 */
struct policy_slot {
	pid_t pid;              /* 0: no child */
	int sbi;                /* its scoreboard entry, while pid */
	int slotno;             /* the slot it was started in */
	double started;         /* time_mono() at fork */
	double started_real;
	unsigned gen;           /* the pool's settings generation it runs */
	enum policy_why why;
	double kill_at;         /* time_mono() of the next SIGKILL; 0: none */
	double backoff;         /* delay of the last restart; 0: none yet */
	double start_at;        /* no start before this time_mono() */
	int short_lives;        /* exits before HEALTHY_UPTIME, in a row */
	int failed;             /* exited EX_CONFIG: no start until a reload */
	int restart;            /* the next start is a restart (counted) */
	int rolling;            /* replaced by a reload, new child not up yet */
};

struct policy_pool {
	int configured;
	unsigned gen;           /* bumped when a reload changes its settings */
	unsigned long restarts;
	struct policy_slot slots[POOL_MAX_SLOTS];
};

/* What the scoreboard shows of the child of a slot (read by the caller). */
struct policy_seen {
	int state;              /* enum sb_state */
	double heartbeat;       /* time_mono() of its last sign of life */
};

enum policy_act {
	POLICY_SPAWN,           /* start a child in slot */
	POLICY_RETIRE,          /* sig (TERM): the pool shrinks */
	POLICY_REPLACE,         /* sig (TERM): its settings changed; it drains
	                         * in slot, its own slot starts anew */
	POLICY_HUNG,            /* sig (KILL): busy, no heartbeat for age s */
	POLICY_LATE,            /* sig (KILL): still running after its grace */
	POLICY_STOP,            /* sig: the master stops */
};

struct policy_action {
	enum policy_act act;
	int slot;               /* index in the slot table */
	pid_t pid;              /* the child to signal; 0 for POLICY_SPAWN */
	int sig;
	double age;             /* POLICY_HUNG: seconds since its heartbeat */
};

/* Enough for one call of any policy function on one pool. */
#define POLICY_MAX_ACTIONS (POOL_MAX_SLOTS + 1)

/* What an exit means. */
enum policy_next {
	POLICY_NEXT_NONE,       /* the master stops: no restart */
	POLICY_NEXT_AT_ONCE,    /* asked to go (retired, replaced) */
	POLICY_NEXT_BACKOFF,    /* restarts in delay seconds */
	POLICY_NEXT_FAILED,     /* EX_CONFIG: not until a reload */
};

struct policy_exit {
	enum policy_next next;
	int asked;              /* the master stopped it, and it exited EX_OK */
	double lifetime;        /* seconds */
	double delay;           /* POLICY_NEXT_BACKOFF and _FAILED */
	int wanted;             /* its slot is one of the configured ones */
};

/* The first configuration: configured slots, generation 1. */
void policy_init(struct policy_pool *p, int configured);
/* A reload: the new count, and whether the settings its children read
 * changed (its children are then replaced). Slots that exited EX_CONFIG get
 * another chance. Returns the children running and not being stopped. */
int policy_reload(struct policy_pool *p, int configured,
    int settings_changed);

/* The child of slot i started as pid (its scoreboard entry sbi). */
void policy_spawned(struct policy_pool *p, int i, pid_t pid, int sbi,
    double now, double now_real);
/* fork() failed for slot i. */
void policy_spawn_failed(struct policy_pool *p, int i, double now);
/* The child of slot i exited with wait status; stopping: the master is
 * stopping. Frees the slot and plans its next start. */
struct policy_exit policy_exited(struct policy_pool *p, int i, int status,
    int stopping, double now);

/* One turn: retire, replace, start what is due, find the hung. seen[i] is
 * read for each slot with a child. Returns the number of actions in out
 * (POLICY_MAX_ACTIONS at most). grace: what a stopping child gets;
 * heartbeat_timeout 0: no hung detection. */
size_t policy_tend(struct policy_pool *p, const struct policy_seen *seen,
    double grace, double heartbeat_timeout, double now,
    struct policy_action *out);
/* SIGKILL timers that are due, in every slot. */
size_t policy_kill_due(struct policy_pool *p, double now,
    struct policy_action *out);
/* Stop every child with sig, SIGKILL after grace. */
size_t policy_stop(struct policy_pool *p, int sig, double grace, double now,
    struct policy_action *out);

/* 1 when every configured slot that is not failed has a child past
 * starting (seen[i].state neither SB_FREE nor SB_STARTING). */
int policy_ready(const struct policy_pool *p, const struct policy_seen *seen);
/* Seconds until the next restart or SIGKILL of the pool; < 0: none. */
double policy_next_event(const struct policy_pool *p, int stopping,
    double now);
/* 1 if slot s is crash-looping: its last CRASH_LOOP_EXITS lives were short,
 * and the present one (if any) is short so far. */
int policy_crash_looping(const struct policy_slot *s, double now);

#endif
