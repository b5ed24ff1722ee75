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
#include "policy.h"
#include "pools.h"
#include "scoreboard.h"
#include "signals.h"
#include "util.h"

#define NPOOLS_MAX 3
#define QUIT_GRACE 1.0          /* after SIGQUIT, before SIGKILL */
#define POOL_SB (2 * POOL_MAX_SLOTS)  /* scoreboard entries per pool */

struct pool {
	const struct role *role;
	const char *name;       /* the role's */
	struct policy_pool pol;
	struct sb_slot *sb;     /* POOL_SB scoreboard entries */
	unsigned char sb_used[POOL_SB];
	uint64_t retired[SB_NCOUNTERS];   /* counters of children gone */
	struct policy_seen seen[POOL_MAX_SLOTS];  /* for the policy */
};

struct pools {
	struct pool pools[NPOOLS_MAX];
	size_t npools;
	const struct config *cfg;
	struct sb_slot *sb;
	size_t nsb;
	int stopping;           /* 0, or the signal the stop sent */
	int changed;
	struct policy_action actions[POLICY_MAX_ACTIONS];
};

struct pools *
pools_new(const struct role *roles, char *err, size_t errlen)
{
	struct pools *ps;
	size_t i;

	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		errf(err, errlen, "out of memory");
		return NULL;
	}
	for (i = 0; roles[i].main != NULL && i < NPOOLS_MAX; i++) {
		ps->pools[i].role = &roles[i];
		ps->pools[i].name = role_name(&roles[i]);
	}
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
	struct policy_slot *s;
	size_t i;
	int n, j, running, changed;

	for (i = 0; i < ps->npools; i++) {
		p = &ps->pools[i];
		n = config_processes(cfg, p->name);
		if (n > POOL_MAX_SLOTS)
			n = POOL_MAX_SLOTS;
		if (!reload) {
			policy_init(&p->pol, n);
			continue;
		}
		if (n != p->pol.configured)
			log_notice("%s: %d -> %d processes", p->name,
			    p->pol.configured, n);
		changed = !config_same_role(ps->cfg, cfg, p->name);
		running = policy_reload(&p->pol, n, changed);
		if (changed && running)
			log_notice("%s: settings changed, replacing its "
			    "children one by one", p->name);
		for (j = 0; j < POOL_MAX_SLOTS; j++) {
			s = &p->pol.slots[j];
			if (s->pid)
				scoreboard_set_log_level(&p->sb[s->sbi],
				    cfg->log_level);
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
		log_warn("%s/%d: fork", p->name, i);
		policy_spawn_failed(&p->pol, i, now);
		return;
	}
	p->sb_used[sbi] = 1;
	policy_spawned(&p->pol, i, pid, sbi, now, time_real());
	ps->changed = 1;
	log_info("%s/%d (pid %ld) spawned", p->name, i, (long)pid);
}

/* Carry out the policy's decisions, in order. */
static void
carry_out(struct pools *ps, struct pool *p, size_t n, double grace,
    double now)
{
	const struct policy_action *a;
	const struct policy_slot *s;
	const char *name = p->name;
	size_t k;

	for (k = 0; k < n; k++) {
		a = &ps->actions[k];
		s = &p->pol.slots[a->slot];
		switch (a->act) {
		case POLICY_SPAWN:
			slot_spawn(ps, p, a->slot, now);
			continue;
		case POLICY_RETIRE:
			log_info("%s/%d (pid %ld) retired: the pool shrinks "
			    "to %d", name, s->slotno, (long)a->pid,
			    p->pol.configured);
			break;
		case POLICY_REPLACE:
			log_info("%s/%d (pid %ld) replaced: its settings "
			    "changed; it finishes its work in hand (at most "
			    "%.0f s) while a new one starts", name, s->slotno,
			    (long)a->pid, grace);
			break;
		case POLICY_HUNG:
			log_warnx("%s/%d (pid %ld) hung: busy with no "
			    "heartbeat for %.1f s, killing it", name,
			    s->slotno, (long)a->pid, a->age);
			break;
		case POLICY_LATE:
			log_warnx("%s/%d (pid %ld) still running after its "
			    "stop timeout, sending KILL", name, s->slotno,
			    (long)a->pid);
			break;
		case POLICY_STOP:
			break;
		}
		kill(a->pid, a->sig);
	}
}

static void
slot_exited(struct pools *ps, struct pool *p, int i, int status, double now)
{
	struct policy_slot *s = &p->pol.slots[i];
	const char *name = p->name;
	struct policy_exit e;
	struct sb_slot copy;
	int c, slotno = s->slotno;
	pid_t pid = s->pid;

	/* Its counters stay in the pool's totals. */
	scoreboard_read(&p->sb[s->sbi], &copy);
	for (c = 0; c < SB_NCOUNTERS; c++)
		p->retired[c] += copy.counters[c];
	memset(&p->sb[s->sbi], 0, sizeof(p->sb[s->sbi]));
	p->sb_used[s->sbi] = 0;
	ps->changed = 1;

	e = policy_exited(&p->pol, i, status, ps->stopping, now);
	if (WIFEXITED(status)) {
		if (e.asked)
			log_info("%s/%d (pid %ld) exited with code %d after "
			    "%.1f s", name, slotno, (long)pid,
			    WEXITSTATUS(status), e.lifetime);
		else
			log_warnx("%s/%d (pid %ld) exited with code %d after "
			    "%.1f s", name, slotno, (long)pid,
			    WEXITSTATUS(status), e.lifetime);
	} else if (WIFSIGNALED(status))
		log_warnx("%s/%d (pid %ld) killed by signal %s after %.1f s%s",
		    name, slotno, (long)pid, signals_name(WTERMSIG(status)),
		    e.lifetime, WCOREDUMP(status) ? " (core dumped)" : "");
	if (e.next == POLICY_NEXT_FAILED)
		log_errx("%s/%d exited with EX_CONFIG: pool %s marked failed, "
		    "not restarted until a reload", name, i, name);
	else if (e.next == POLICY_NEXT_BACKOFF && e.wanted)
		log_notice("%s/%d will restart in %.1f s", name, i, e.delay);
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
				if (p->pol.slots[i].pid == pid) {
					slot_exited(ps, p, i, status, now);
					found = 1;
					break;
				}
		}
		if (!found)
			log_notice("unknown child pid %ld exited", (long)pid);
	}
}

/* What the scoreboard shows of each child of p, for the policy. */
static void
pool_look(struct pool *p)
{
	const struct policy_slot *s;
	struct sb_slot copy;
	int i;

	for (i = 0; i < POOL_MAX_SLOTS; i++) {
		s = &p->pol.slots[i];
		if (s->pid == 0)
			continue;
		scoreboard_read(&p->sb[s->sbi], &copy);
		p->seen[i].state = copy.state;
		p->seen[i].heartbeat = copy.heartbeat;
	}
}

void
pools_tend(struct pools *ps, double now)
{
	struct pool *p;
	double grace;
	size_t k, n;

	for (k = 0; k < ps->npools; k++) {
		p = &ps->pools[k];
		grace = config_stop_grace(ps->cfg, p->name);
		if (!ps->stopping) {
			pool_look(p);
			n = policy_tend(&p->pol, p->seen, grace,
			    ps->cfg->heartbeat_timeout, now, ps->actions);
			carry_out(ps, p, n, grace, now);
		}
		n = policy_kill_due(&p->pol, now, ps->actions);
		carry_out(ps, p, n, grace, now);
	}
}

void
pools_stop(struct pools *ps, int sig, double now)
{
	struct pool *p;
	double timeout;
	size_t k, n;

	ps->stopping = sig;
	ps->changed = 1;
	for (k = 0; k < ps->npools; k++) {
		p = &ps->pools[k];
		timeout = sig == SIGQUIT ? QUIT_GRACE :
		    config_stop_grace(ps->cfg, p->name);
		n = policy_stop(&p->pol, sig, timeout, now, ps->actions);
		carry_out(ps, p, n, timeout, now);
	}
}

void
pools_signal(struct pools *ps, int sig)
{
	size_t k;
	int i;

	for (k = 0; k < ps->npools; k++)
		for (i = 0; i < POOL_MAX_SLOTS; i++)
			if (ps->pools[k].pol.slots[i].pid)
				kill(ps->pools[k].pol.slots[i].pid, sig);
}

size_t
pools_children(const struct pools *ps)
{
	size_t k, n = 0;
	int i;

	for (k = 0; k < ps->npools; k++)
		for (i = 0; i < POOL_MAX_SLOTS; i++)
			if (ps->pools[k].pol.slots[i].pid)
				n++;
	return n;
}

int
pools_ready(struct pools *ps)
{
	size_t k;

	for (k = 0; k < ps->npools; k++) {
		pool_look(&ps->pools[k]);
		if (!policy_ready(&ps->pools[k].pol, ps->pools[k].seen))
			return 0;
	}
	return 1;
}

double
pools_next_event(const struct pools *ps, double now)
{
	double next = -1, at;
	size_t k;

	for (k = 0; k < ps->npools; k++) {
		at = policy_next_event(&ps->pools[k].pol, ps->stopping, now);
		if (at >= 0 && (next < 0 || at < next))
			next = at;
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

/* Add dbid to a pool's list of databases (ids[0..*n)), kept sorted and
 * distinct. */
static void
dbids_add(unsigned *ids, size_t *n, unsigned dbid)
{
	size_t i, k;

	for (i = 0; i < *n && ids[i] < dbid; i++)
		;
	if ((i < *n && ids[i] == dbid) || *n >= SB_BROKEN_DBS)
		return;
	for (k = *n; k > i; k--)
		ids[k] = ids[k - 1];
	ids[i] = dbid;
	(*n)++;
}

/* A child's list of databases (from its scoreboard, 0-ended) into its
 * status, and into its pool's union. */
static void
dbids_copy(const uint32_t *from, unsigned *child, size_t *nchild,
    unsigned *pool, size_t *npool)
{
	size_t c;

	for (c = 0; c < SB_BROKEN_DBS && from[c]; c++) {
		child[(*nchild)++] = from[c];
		dbids_add(pool, npool, from[c]);
	}
}

int
pools_snapshot(const struct pools *ps, struct status *st, double now)
{
	const struct pool *p;
	const struct policy_slot *s;
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
		sp->name = p->name;
		sp->configured = p->pol.configured;
		sp->restarts = p->pol.restarts;
		memcpy(sp->counters, p->retired, sizeof(sp->counters));
		for (i = 0; i < POOL_MAX_SLOTS; i++) {
			s = &p->pol.slots[i];
			if (s->failed)
				sp->failed_slots++;
			if (policy_crash_looping(s, now))
				sp->crash_looping = 1;
			if (s->pid == 0)
				continue;
			scoreboard_read(&p->sb[s->sbi], &copy);
			sp->running++;
			if (s->why != POLICY_WHY_NONE || copy.state == SB_STOPPING)
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
			sc->pool = p->name;
			sc->slot = s->slotno;
			sc->state = copy.state == SB_FREE ? SB_STARTING :
			    copy.state;
			if (s->why != POLICY_WHY_NONE)
				sc->state = SB_STOPPING;
			sc->started = s->started_real;
			sc->heartbeat_age = copy.heartbeat > 0 ?
			    now - copy.heartbeat : now - s->started;
			sc->job_age = copy.state == SB_BUSY &&
			    copy.job_started > 0 ? now - copy.job_started : -1;
			memcpy(sc->counters, copy.counters,
			    sizeof(sc->counters));
			dbids_copy(copy.broken_dbs, sc->broken_dbs,
			    &sc->nbroken, sp->broken_dbs, &sp->nbroken);
			dbids_copy(copy.unreachable_dbs, sc->unreachable_dbs,
			    &sc->nunreachable, sp->unreachable_dbs,
			    &sp->nunreachable);
			sc->withdrawn = copy.withdrawn != 0;
			sp->withdrawn += sc->withdrawn;
			dbs_on(ps->cfg, &copy, sc);
		}
	}
	return 0;
}
