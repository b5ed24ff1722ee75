/*
 * pools: slots, children, and what happens when they start and end.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "child.h"
#include "hostport.h"
#include "log.h"
#include "pools.h"
#include "scoreboard.h"
#include "signals.h"
#include "util.h"

#define NPOOLS_MAX 3
#define CRASH_LOOP_EXITS 3      /* short lives in a row: crash-looping */
#define REPLACE_WAIT 5.0        /* a rolling replacement waits this long at
                                 * most for the new child to be up */
#define KILL_REPEAT 1.0         /* SIGKILL again until the child is gone */
#define QUIT_GRACE 1.0          /* after SIGQUIT, before SIGKILL */
#define POOL_SB (2 * POOL_MAX_SLOTS)  /* scoreboard entries per pool */

/* Why the master stopped a child; WHY_NONE: it did not. */
enum why {
	WHY_NONE = 0,
	WHY_RETIRE,             /* slot beyond the configured count */
	WHY_REPLACE,            /* settings changed */
	WHY_SHUTDOWN,
	WHY_HUNG,               /* killed: busy, no heartbeat */
};

/*
 * A slot is a place for one child; slots 0 .. configured-1 are the pool's.
 * A child replaced by a reload drains (finishes its work in hand) in a slot
 * past the configured ones while a new child starts in its slot at once, so
 * the pool keeps its capacity: each child therefore has its own scoreboard
 * entry (sbi), of twice as many as slots, and keeps the slot number it was
 * started as (slotno) for its name.
 */
struct slot {
	pid_t pid;              /* 0: no child */
	int sbi;                /* its scoreboard entry, while pid */
	int slotno;             /* the slot it was started in */
	double started;         /* time_mono() at fork */
	double started_real;
	unsigned gen;           /* the pool's settings generation it runs */
	enum why why;
	double kill_at;         /* time_mono() of the next SIGKILL; 0: none */
	double backoff;         /* delay of the last restart; 0: none yet */
	double start_at;        /* no start before this time_mono() */
	int short_lives;        /* exits before HEALTHY_UPTIME, in a row */
	int failed;             /* exited EX_CONFIG: no start until a reload */
	int restart;            /* the next start is a restart (counted) */
	int rolling;            /* replaced by a reload, new child not up yet */
};

struct pool {
	const struct role *role;
	int configured;
	unsigned gen;           /* bumped when a reload changes its settings */
	struct slot slots[POOL_MAX_SLOTS];
	struct sb_slot *sb;     /* POOL_SB scoreboard entries */
	unsigned char sb_used[POOL_SB];
	unsigned long restarts;
	uint64_t retired[SB_NCOUNTERS];   /* counters of children gone */
};

struct pools {
	struct pool pools[NPOOLS_MAX];
	size_t npools;
	const struct config *cfg;
	struct sb_slot *sb;
	size_t nsb;
	int stopping;           /* 0, or the signal the stop sent */
	int changed;
};

static int
processes(const struct config *cfg, const char *role)
{
	if (strcmp(role, "queue_runner") == 0)
		return cfg->queue_runner.processes;
	if (strcmp(role, "injector") == 0)
		return cfg->injector.processes;
	if (strcmp(role, "controller") == 0)
		return cfg->controller.processes;
	return 0;
}

struct pools *
pools_new(const struct role *roles, char *err, size_t errlen)
{
	struct pools *ps;
	size_t i;

	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		errf(err, errlen, "out of memory");
		return NULL;
	}
	for (i = 0; roles[i].name != NULL && i < NPOOLS_MAX; i++)
		ps->pools[i].role = &roles[i];
	ps->npools = i;
	/* Sized for the largest pools a reload may ask for: the mapping must
	 * exist before the first fork to be shared with every child. */
	ps->nsb = ps->npools * POOL_SB;
	if ((ps->sb = scoreboard_map(ps->nsb)) == NULL) {
		errf(err, errlen, "scoreboard: %s", strerror(errno));
		free(ps);
		return NULL;
	}
	for (i = 0; i < ps->npools; i++)
		ps->pools[i].sb = ps->sb + i * POOL_SB;
	return ps;
}

void
pools_free(struct pools *ps)
{
	if (ps == NULL)
		return;
	scoreboard_unmap(ps->sb, ps->nsb);
	free(ps);
}

void
pools_configure(struct pools *ps, const struct config *cfg, int reload)
{
	struct pool *p;
	struct slot *s;
	size_t i;
	int n, j, running;

	for (i = 0; i < ps->npools; i++) {
		p = &ps->pools[i];
		n = processes(cfg, p->role->name);
		if (n > POOL_MAX_SLOTS)
			n = POOL_MAX_SLOTS;
		if (!reload) {
			p->configured = n;
			p->gen = 1;
			continue;
		}
		running = 0;
		for (j = 0; j < POOL_MAX_SLOTS; j++)
			if (p->slots[j].pid && p->slots[j].why == WHY_NONE)
				running++;
		if (n != p->configured)
			log_notice("%s: %d -> %d processes", p->role->name,
			    p->configured, n);
		/* The children keep the settings they were forked with; only
		 * a change to what they read makes them outdated. */
		if (!config_same_role(ps->cfg, cfg, p->role->name)) {
			p->gen++;
			if (running)
				log_notice("%s: settings changed, replacing "
				    "its children one by one", p->role->name);
		}
		p->configured = n;
		for (j = 0; j < POOL_MAX_SLOTS; j++) {
			s = &p->slots[j];
			if (s->pid)
				scoreboard_set_log_level(&p->sb[s->sbi],
				    cfg->log_level);
			if (s->failed) {
				/* Maybe the operator fixed the schema; the
				 * backoff still spaces the attempts. */
				s->failed = 0;
				s->restart = 1;
			}
		}
		ps->changed = 1;
	}
	ps->cfg = cfg;
}

/* A scoreboard entry no child has: slot i's own, else one past them (its
 * own is a draining child's). */
static int
sb_free(const struct pool *p, int i)
{
	int k;

	if (!p->sb_used[i])
		return i;
	for (k = POOL_MAX_SLOTS; k < POOL_SB; k++)
		if (!p->sb_used[k])
			return k;
	return -1;      /* cannot be: at most POOL_SB children */
}

static void
slot_spawn(struct pools *ps, struct pool *p, int i, double now)
{
	struct slot *s = &p->slots[i];
	int sbi = sb_free(p, i);
	struct sb_slot *sb;
	sigset_t saved;
	pid_t pid;

	if (sbi < 0)
		return;
	sb = &p->sb[sbi];
	/* Only the master touches an entry without a child. */
	memset(sb, 0, sizeof(*sb));
	/* Every signal blocked across fork(): the child must not run a
	 * master's handler before it has reset them, and the master loses
	 * nothing, the signals wait pending. */
	signals_block_all(&saved);
	pid = fork();
	if (pid == 0)
		child_run(p->role, ps->cfg, i, sb);
	signals_restore(&saved);
	if (pid == -1) {
		log_warn("%s/%d: fork", p->role->name, i);
		s->start_at = now + POOLS_BACKOFF_FIRST;
		return;
	}
	s->pid = pid;
	s->sbi = sbi;
	s->slotno = i;
	p->sb_used[sbi] = 1;
	s->started = now;
	s->started_real = time_real();
	s->gen = p->gen;
	s->why = WHY_NONE;
	s->kill_at = 0;
	if (s->restart) {
		p->restarts++;
		s->restart = 0;
	}
	ps->changed = 1;
	log_info("%s/%d (pid %ld) spawned", p->role->name, i, (long)pid);
}

static void
slot_stop(struct pool *p, int i, int sig, enum why why, double grace,
    double now)
{
	struct slot *s = &p->slots[i];
	double at = now + grace;

	if (s->pid == 0)
		return;
	kill(s->pid, sig);
	if (s->why != WHY_HUNG)
		s->why = why;
	if (s->kill_at == 0 || at < s->kill_at)
		s->kill_at = at;
}

static void
slot_exited(struct pools *ps, struct pool *p, int i, int status, double now)
{
	struct slot *s = &p->slots[i];
	const char *name = p->role->name;
	double lifetime = now - s->started, delay;
	struct sb_slot copy;
	enum why why = s->why;
	int c, expected;

	expected = why == WHY_RETIRE || why == WHY_REPLACE ||
	    why == WHY_SHUTDOWN;
	if (WIFEXITED(status)) {
		if (expected && WEXITSTATUS(status) == EX_OK)
			log_info("%s/%d (pid %ld) exited with code %d after "
			    "%.1f s", name, s->slotno, (long)s->pid,
			    WEXITSTATUS(status), lifetime);
		else
			log_warnx("%s/%d (pid %ld) exited with code %d after "
			    "%.1f s", name, s->slotno, (long)s->pid,
			    WEXITSTATUS(status), lifetime);
	} else if (WIFSIGNALED(status))
		log_warnx("%s/%d (pid %ld) killed by signal %s after %.1f s%s",
		    name, s->slotno, (long)s->pid,
		    signals_name(WTERMSIG(status)), lifetime,
		    WCOREDUMP(status) ? " (core dumped)" : "");

	/* Its counters stay in the pool's totals. */
	scoreboard_read(&p->sb[s->sbi], &copy);
	for (c = 0; c < SB_NCOUNTERS; c++)
		p->retired[c] += copy.counters[c];
	memset(&p->sb[s->sbi], 0, sizeof(p->sb[s->sbi]));
	p->sb_used[s->sbi] = 0;

	s->pid = 0;
	s->why = WHY_NONE;
	s->kill_at = 0;
	ps->changed = 1;
	if (ps->stopping)
		return;
	if (why == WHY_RETIRE || why == WHY_REPLACE) {
		/* The master asked: no backoff, the slot (if still wanted)
		 * starts again at once with the current settings. */
		s->start_at = 0;
		return;
	}

	if (lifetime >= POOLS_HEALTHY_UPTIME) {
		s->backoff = 0;
		s->short_lives = 0;
	} else
		s->short_lives++;
	s->backoff = backoff_next(s->backoff, POOLS_BACKOFF_FIRST,
	    POOLS_BACKOFF_MAX);
	delay = s->backoff;
	s->start_at = now + delay;
	s->restart = 1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG) {
		/* A configuration or schema the role cannot work with does
		 * not get better by retrying: wait for the operator. */
		s->failed = 1;
		log_errx("%s/%d exited with EX_CONFIG: pool %s marked failed, "
		    "not restarted until a reload", name, i, name);
		return;
	}
	if (i < p->configured)
		log_notice("%s/%d will restart in %.1f s", name, i, delay);
}

void
pools_reap(struct pools *ps, double now)
{
	struct pool *p;
	size_t k;
	pid_t pid;
	int status, i, found;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == 0)
			break;
		if (pid == -1) {
			if (errno == EINTR)
				continue;
			break;          /* ECHILD: nobody left */
		}
		found = 0;
		for (k = 0; k < ps->npools && !found; k++) {
			p = &ps->pools[k];
			for (i = 0; i < POOL_MAX_SLOTS; i++)
				if (p->slots[i].pid == pid) {
					slot_exited(ps, p, i, status, now);
					found = 1;
					break;
				}
		}
		if (!found)
			log_notice("unknown child pid %ld exited", (long)pid);
	}
}

/* Hung: busy, and no sign of life for longer than heartbeat_timeout. Only a
 * busy child can hang (unicorn's rule): an idle one may legitimately wait
 * long in a blocking call for work. */
static void
check_heartbeat(struct pools *ps, struct pool *p, int i, double now)
{
	double timeout = ps->cfg->heartbeat_timeout;
	struct slot *s = &p->slots[i];
	struct sb_slot copy;

	if (timeout <= 0 || s->why != WHY_NONE)
		return;
	scoreboard_read(&p->sb[s->sbi], &copy);
	if (copy.state != SB_BUSY || now - copy.heartbeat <= timeout)
		return;
	log_warnx("%s/%d (pid %ld) hung: busy with no heartbeat for %.1f s, "
	    "killing it", p->role->name, s->slotno, (long)s->pid,
	    now - copy.heartbeat);
	kill(s->pid, SIGKILL);
	s->why = WHY_HUNG;
	s->kill_at = now + KILL_REPEAT;
}

/*
 * Replace the child of slot i, whose settings changed: it is asked to stop
 * (TERM: it takes no more work and finishes what it has, within grace) in
 * a free slot past the configured ones, and slot i is left empty for a new
 * child, started at once. Without such a slot (a pool of POOL_MAX_SLOTS),
 * it stops in place and its slot starts again when it has gone.
 */
static void
slot_replace(struct pool *p, int i, double grace, double now)
{
	int d;

	for (d = POOL_MAX_SLOTS - 1; d >= p->configured; d--)
		if (p->slots[d].pid == 0 && !p->slots[d].failed)
			break;
	if (d < p->configured) {
		slot_stop(p, i, SIGTERM, WHY_REPLACE, grace, now);
		return;
	}
	p->slots[d] = p->slots[i];
	p->slots[d].rolling = 0;
	memset(&p->slots[i], 0, sizeof(p->slots[i]));
	slot_stop(p, d, SIGTERM, WHY_REPLACE, grace, now);
}

static void
tend_pool(struct pools *ps, struct pool *p, double now)
{
	double grace = config_stop_grace(ps->cfg, p->role->name);
	struct sb_slot copy;
	struct slot *s;
	int i, rolling = 0;

	/* A shrink: the highest slots go, gracefully. */
	for (i = p->configured; i < POOL_MAX_SLOTS; i++) {
		s = &p->slots[i];
		if (s->pid && s->why == WHY_NONE) {
			log_info("%s/%d (pid %ld) retired: the pool shrinks "
			    "to %d", p->role->name, s->slotno, (long)s->pid,
			    p->configured);
			slot_stop(p, i, SIGTERM, WHY_RETIRE, grace, now);
		} else if (s->pid == 0 && (s->failed || s->start_at)) {
			memset(s, 0, sizeof(*s));
		}
	}

	/* Rolling replacement: one slot of the pool at a time, the next only
	 * once the new child of the previous one is up, so a pool whose
	 * settings changed keeps serving throughout. */
	for (i = 0; i < p->configured; i++) {
		s = &p->slots[i];
		if (!s->rolling)
			continue;
		if (s->pid && s->why == WHY_NONE) {
			/* The new child (of whatever generation: a second
			 * reload may have come since). */
			scoreboard_read(&p->sb[s->sbi], &copy);
			if (copy.state != SB_STARTING ||
			    now - s->started >= REPLACE_WAIT)
				s->rolling = 0;
		} else if (s->pid == 0 && (s->failed || s->start_at > now))
			s->rolling = 0;     /* broken: do not hold the rest */
		rolling |= s->rolling;
	}
	for (i = 0; i < p->configured && !rolling; i++) {
		s = &p->slots[i];
		if (s->pid && s->gen != p->gen && s->why == WHY_NONE) {
			log_info("%s/%d (pid %ld) replaced: its settings "
			    "changed; it finishes its work in hand (at most "
			    "%.0f s) while a new one starts", p->role->name, i,
			    (long)s->pid, grace);
			slot_replace(p, i, grace, now);
			s->rolling = rolling = 1;
		}
	}

	for (i = 0; i < p->configured; i++) {
		s = &p->slots[i];
		if (s->pid == 0 && !s->failed && s->start_at <= now)
			slot_spawn(ps, p, i, now);
		else if (s->pid)
			check_heartbeat(ps, p, i, now);
	}
}

void
pools_tend(struct pools *ps, double now)
{
	struct pool *p;
	struct slot *s;
	size_t k;
	int i;

	for (k = 0; k < ps->npools; k++) {
		p = &ps->pools[k];
		if (!ps->stopping)
			tend_pool(ps, p, now);
		/* A SIGKILL timer fires again and again until the child is
		 * reaped: a stop can never hang on one lost signal. */
		for (i = 0; i < POOL_MAX_SLOTS; i++) {
			s = &p->slots[i];
			if (s->pid == 0 || s->kill_at == 0 || now < s->kill_at)
				continue;
			log_warnx("%s/%d (pid %ld) still running after its "
			    "stop timeout, sending KILL", p->role->name,
			    s->slotno, (long)s->pid);
			kill(s->pid, SIGKILL);
			s->kill_at = now + KILL_REPEAT;
		}
	}
}

void
pools_stop(struct pools *ps, int sig, double now)
{
	struct pool *p;
	double timeout;
	size_t k;
	int i;

	ps->stopping = sig;
	ps->changed = 1;
	for (k = 0; k < ps->npools; k++) {
		p = &ps->pools[k];
		timeout = sig == SIGQUIT ? QUIT_GRACE :
		    config_stop_grace(ps->cfg, p->role->name);
		for (i = 0; i < POOL_MAX_SLOTS; i++)
			if (p->slots[i].pid)
				slot_stop(p, i, sig, WHY_SHUTDOWN, timeout, now);
	}
}

void
pools_signal(struct pools *ps, int sig)
{
	size_t k;
	int i;

	for (k = 0; k < ps->npools; k++)
		for (i = 0; i < POOL_MAX_SLOTS; i++)
			if (ps->pools[k].slots[i].pid)
				kill(ps->pools[k].slots[i].pid, sig);
}

size_t
pools_children(const struct pools *ps)
{
	size_t k, n = 0;
	int i;

	for (k = 0; k < ps->npools; k++)
		for (i = 0; i < POOL_MAX_SLOTS; i++)
			if (ps->pools[k].slots[i].pid)
				n++;
	return n;
}

int
pools_ready(const struct pools *ps)
{
	const struct pool *p;
	struct sb_slot copy;
	size_t k;
	int i;

	for (k = 0; k < ps->npools; k++) {
		p = &ps->pools[k];
		for (i = 0; i < p->configured; i++) {
			if (p->slots[i].failed)
				continue;
			if (p->slots[i].pid == 0)
				return 0;
			scoreboard_read(&p->sb[p->slots[i].sbi], &copy);
			if (copy.state == SB_FREE || copy.state == SB_STARTING)
				return 0;
		}
	}
	return 1;
}

double
pools_next_event(const struct pools *ps, double now)
{
	const struct pool *p;
	const struct slot *s;
	double next = -1, at;
	size_t k;
	int i;

	for (k = 0; k < ps->npools; k++) {
		p = &ps->pools[k];
		for (i = 0; i < POOL_MAX_SLOTS; i++) {
			s = &p->slots[i];
			at = 0;
			if (s->pid && s->kill_at)
				at = s->kill_at;
			else if (!s->pid && !ps->stopping && i < p->configured &&
			    !s->failed)
				at = s->start_at;
			else
				continue;
			if (at < now)
				at = now;
			if (next < 0 || at - now < next)
				next = at - now;
		}
	}
	return next;
}

int
pools_changed(struct pools *ps)
{
	int changed = ps->changed;

	ps->changed = 0;
	return changed;
}

/* The host of its list each database of a child is on, from the index the
 * child reports and the configuration (a child outdated by a reload is
 * being replaced: its indexes may name the new list's hosts meanwhile). */
static void
dbs_on(const struct config *cfg, const struct sb_slot *copy,
    struct status_child *sc)
{
	struct hostport hosts[HOSTPORT_MAX_PER_DB];
	char why[128];
	size_t j, n;
	int h;

	for (j = 0; cfg && j < cfg->ndbs && j < SB_DBS; j++) {
		if ((h = copy->db_host[j]) == 0 ||
		    hostport_parse_list(cfg->dbs[j].host ? cfg->dbs[j].host :
		    "127.0.0.1", cfg->dbs[j].port, hosts, HOSTPORT_MAX_PER_DB,
		    &n, why, sizeof(why)) == -1 || (size_t)h > n)
			continue;
		sc->db_on[sc->ndb_on].dbid = cfg->dbs[j].dbid;
		if (cfg->dbs[j].socket)
			snprintf(sc->db_on[sc->ndb_on].host,
			    sizeof(sc->db_on[sc->ndb_on].host), "%s",
			    cfg->dbs[j].socket);
		else
			snprintf(sc->db_on[sc->ndb_on].host,
			    sizeof(sc->db_on[sc->ndb_on].host), "%s:%u",
			    hosts[h - 1].host, hosts[h - 1].port);
		sc->ndb_on++;
	}
}

/* Add dbid to the pool's broken databases, kept sorted and distinct. */
static void
dbids_add(struct status_pool *sp, unsigned dbid)
{
	size_t i, k;

	for (i = 0; i < sp->nbroken && sp->broken_dbs[i] < dbid; i++)
		;
	if ((i < sp->nbroken && sp->broken_dbs[i] == dbid) ||
	    sp->nbroken >= SB_BROKEN_DBS)
		return;
	for (k = sp->nbroken; k > i; k--)
		sp->broken_dbs[k] = sp->broken_dbs[k - 1];
	sp->broken_dbs[i] = dbid;
	sp->nbroken++;
}

int
pools_snapshot(const struct pools *ps, struct status *st, double now)
{
	const struct pool *p;
	const struct slot *s;
	struct status_pool *sp;
	struct status_child *sc;
	struct sb_slot copy;
	size_t k, n = pools_children(ps);
	int i, c;

	st->children = NULL;
	st->nchildren = 0;
	if (n && (st->children = calloc(n, sizeof(*st->children))) == NULL)
		return -1;
	st->npools = 0;
	for (k = 0; k < ps->npools && k < STATUS_MAX_POOLS; k++) {
		p = &ps->pools[k];
		sp = &st->pools[st->npools++];
		memset(sp, 0, sizeof(*sp));
		sp->name = p->role->name;
		sp->configured = p->configured;
		sp->restarts = p->restarts;
		memcpy(sp->counters, p->retired, sizeof(sp->counters));
		for (i = 0; i < POOL_MAX_SLOTS; i++) {
			s = &p->slots[i];
			if (s->failed)
				sp->failed_slots++;
			if (s->short_lives >= CRASH_LOOP_EXITS &&
			    (s->pid == 0 ||
			    now - s->started < POOLS_HEALTHY_UPTIME))
				sp->crash_looping = 1;
			if (s->pid == 0)
				continue;
			scoreboard_read(&p->sb[s->sbi], &copy);
			sp->running++;
			if (s->why != WHY_NONE || copy.state == SB_STOPPING)
				sp->stopping++;
			else if (copy.state == SB_IDLE)
				sp->idle++;
			else if (copy.state == SB_BUSY)
				sp->busy++;
			else
				sp->starting++;
			for (c = 0; c < SB_NCOUNTERS; c++)
				sp->counters[c] += copy.counters[c];
			if (st->nchildren >= n)
				continue;
			sc = &st->children[st->nchildren++];
			sc->pid = s->pid;
			sc->pool = p->role->name;
			sc->slot = s->slotno;
			sc->state = copy.state == SB_FREE ? SB_STARTING :
			    copy.state;
			if (s->why != WHY_NONE)
				sc->state = SB_STOPPING;
			sc->started = s->started_real;
			sc->heartbeat_age = copy.heartbeat > 0 ?
			    now - copy.heartbeat : now - s->started;
			sc->job_age = copy.state == SB_BUSY &&
			    copy.job_started > 0 ? now - copy.job_started : -1;
			memcpy(sc->counters, copy.counters,
			    sizeof(sc->counters));
			for (c = 0; c < SB_BROKEN_DBS && copy.broken_dbs[c];
			    c++) {
				sc->broken_dbs[sc->nbroken++] =
				    copy.broken_dbs[c];
				dbids_add(sp, copy.broken_dbs[c]);
			}
			dbs_on(ps->cfg, &copy, sc);
		}
	}
	return 0;
}
