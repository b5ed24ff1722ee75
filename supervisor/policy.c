/*
 * policy: what the master decides about a pool's children; pools does it.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>

#include "policy.h"
#include "scoreboard.h"
#include "util.h"

static size_t
act(struct policy_action *out, size_t n, enum policy_act what, int slot,
    pid_t pid, int sig)
{
	out[n].act = what;
	out[n].slot = slot;
	out[n].pid = pid;
	out[n].sig = sig;
	out[n].age = 0;
	return n + 1;
}

void
policy_init(struct policy_pool *p, int configured)
{
	p->configured = configured;
	p->gen = 1;
}

int
policy_reload(struct policy_pool *p, int configured, int settings_changed)
{
	struct policy_slot *s;
	int j, running = 0;

	for (j = 0; j < POOL_MAX_SLOTS; j++)
		if (p->slots[j].pid && p->slots[j].why == POLICY_WHY_NONE)
			running++;
	/* The children keep the settings they were forked with; only a
	 * change to what they read makes them outdated. */
	if (settings_changed)
		p->gen++;
	p->configured = configured;
	for (j = 0; j < POOL_MAX_SLOTS; j++) {
		s = &p->slots[j];
		if (s->failed) {
			/* Maybe the operator fixed the schema; the backoff
			 * still spaces the attempts. */
			s->failed = 0;
			s->restart = 1;
		}
	}
	return running;
}

void
policy_spawned(struct policy_pool *p, int i, pid_t pid, int sbi, double now,
    double now_real)
{
	struct policy_slot *s = &p->slots[i];

	s->pid = pid;
	s->sbi = sbi;
	s->slotno = i;
	s->started = now;
	s->started_real = now_real;
	s->gen = p->gen;
	s->why = POLICY_WHY_NONE;
	s->kill_at = 0;
	if (s->restart) {
		p->restarts++;
		s->restart = 0;
	}
}

void
policy_spawn_failed(struct policy_pool *p, int i, double now)
{
	p->slots[i].start_at = now + POLICY_BACKOFF_FIRST;
}

struct policy_exit
policy_exited(struct policy_pool *p, int i, int status, int stopping,
    double now)
{
	struct policy_slot *s = &p->slots[i];
	enum policy_why why = s->why;
	struct policy_exit e;

	memset(&e, 0, sizeof(e));
	e.lifetime = now - s->started;
	e.wanted = i < p->configured;
	e.asked = (why == POLICY_WHY_RETIRE || why == POLICY_WHY_REPLACE ||
	    why == POLICY_WHY_SHUTDOWN) && WIFEXITED(status) &&
	    WEXITSTATUS(status) == EX_OK;
	s->pid = 0;
	s->why = POLICY_WHY_NONE;
	s->kill_at = 0;
	if (stopping) {
		e.next = POLICY_NEXT_NONE;
		return e;
	}
	if (why == POLICY_WHY_RETIRE || why == POLICY_WHY_REPLACE) {
		/* The master asked: no backoff, the slot (if still wanted)
		 * starts again at once with the current settings. */
		s->start_at = 0;
		e.next = POLICY_NEXT_AT_ONCE;
		return e;
	}

	if (e.lifetime >= POLICY_HEALTHY_UPTIME) {
		s->backoff = 0;
		s->short_lives = 0;
	} else
		s->short_lives++;
	s->backoff = backoff_next(s->backoff, POLICY_BACKOFF_FIRST,
	    POLICY_BACKOFF_MAX);
	e.delay = s->backoff;
	s->start_at = now + e.delay;
	s->restart = 1;
	e.next = POLICY_NEXT_BACKOFF;
	if (WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG) {
		/* A configuration or schema the role cannot work with does not
		 * get better by retrying: wait for the operator. */
		s->failed = 1;
		e.next = POLICY_NEXT_FAILED;
	}
	return e;
}

/* Ask the child of slot i to stop with sig, SIGKILL after grace. */
static size_t
slot_stop(struct policy_pool *p, int i, int sig, enum policy_why why,
    double grace, double now, enum policy_act what,
    struct policy_action *out, size_t n)
{
	struct policy_slot *s = &p->slots[i];
	double at = now + grace;

	if (s->pid == 0)
		return n;
	if (s->why != POLICY_WHY_HUNG)
		s->why = why;
	if (s->kill_at == 0 || at < s->kill_at)
		s->kill_at = at;
	return act(out, n, what, i, s->pid, sig);
}

/*
 * Replace the child of slot i, whose settings changed: it is asked to stop
 * (TERM: it takes no more work and finishes what it has, within grace) in
 * a free slot past the configured ones, and slot i is left empty for a new
 * child, started at once. Without such a slot (a pool of POOL_MAX_SLOTS),
 * it stops in place and its slot starts again when it has gone.
 */
static size_t
slot_replace(struct policy_pool *p, int i, double grace, double now,
    struct policy_action *out, size_t n)
{
	int d;

	for (d = POOL_MAX_SLOTS - 1; d >= p->configured; d--)
		if (p->slots[d].pid == 0 && !p->slots[d].failed)
			break;
	if (d < p->configured)
		return slot_stop(p, i, SIGTERM, POLICY_WHY_REPLACE, grace, now,
		    POLICY_REPLACE, out, n);
	p->slots[d] = p->slots[i];
	p->slots[d].rolling = 0;
	memset(&p->slots[i], 0, sizeof(p->slots[i]));
	return slot_stop(p, d, SIGTERM, POLICY_WHY_REPLACE, grace, now,
	    POLICY_REPLACE, out, n);
}

/* Hung: busy, and no sign of life for longer than timeout. Only a busy
 * child can hang (unicorn's rule): an idle one may legitimately wait long in
 * a blocking call for work. */
static size_t
check_heartbeat(struct policy_pool *p, int i, const struct policy_seen *seen,
    double timeout, double now, struct policy_action *out, size_t n)
{
	struct policy_slot *s = &p->slots[i];

	if (timeout <= 0 || s->why != POLICY_WHY_NONE)
		return n;
	if (seen->state != SB_BUSY || now - seen->heartbeat <= timeout)
		return n;
	s->why = POLICY_WHY_HUNG;
	s->kill_at = now + POLICY_KILL_REPEAT;
	n = act(out, n, POLICY_HUNG, i, s->pid, SIGKILL);
	out[n - 1].age = now - seen->heartbeat;
	return n;
}

size_t
policy_tend(struct policy_pool *p, const struct policy_seen *seen,
    double grace, double heartbeat_timeout, double now,
    struct policy_action *out)
{
	struct policy_slot *s;
	size_t n = 0;
	int i, rolling = 0;

	/* A shrink: the highest slots go, gracefully. */
	for (i = p->configured; i < POOL_MAX_SLOTS; i++) {
		s = &p->slots[i];
		if (s->pid && s->why == POLICY_WHY_NONE)
			n = slot_stop(p, i, SIGTERM, POLICY_WHY_RETIRE, grace,
			    now, POLICY_RETIRE, out, n);
		else if (s->pid == 0 && (s->failed || s->start_at))
			memset(s, 0, sizeof(*s));
	}

	/* Rolling replacement: one slot of the pool at a time, the next only
	 * once the new child of the previous one is up, so a pool whose
	 * settings changed keeps serving throughout. */
	for (i = 0; i < p->configured; i++) {
		s = &p->slots[i];
		if (!s->rolling)
			continue;
		if (s->pid && s->why == POLICY_WHY_NONE) {
			/* The new child (of whatever generation: a second
			 * reload may have come since). */
			if (seen[i].state != SB_STARTING ||
			    now - s->started >= POLICY_REPLACE_WAIT)
				s->rolling = 0;
		} else if (s->pid == 0 && (s->failed || s->start_at > now))
			s->rolling = 0;     /* broken: do not hold the rest */
		rolling |= s->rolling;
	}
	for (i = 0; i < p->configured && !rolling; i++) {
		s = &p->slots[i];
		if (s->pid && s->gen != p->gen && s->why == POLICY_WHY_NONE) {
			n = slot_replace(p, i, grace, now, out, n);
			s->rolling = rolling = 1;
		}
	}

	for (i = 0; i < p->configured; i++) {
		s = &p->slots[i];
		if (s->pid == 0 && !s->failed && s->start_at <= now)
			n = act(out, n, POLICY_SPAWN, i, 0, 0);
		else if (s->pid)
			n = check_heartbeat(p, i, &seen[i], heartbeat_timeout,
			    now, out, n);
	}
	return n;
}

size_t
policy_kill_due(struct policy_pool *p, double now, struct policy_action *out)
{
	struct policy_slot *s;
	size_t n = 0;
	int i;

	/* A SIGKILL timer fires again and again until the child is reaped:
	 * a stop can never hang on one lost signal. */
	for (i = 0; i < POOL_MAX_SLOTS; i++) {
		s = &p->slots[i];
		if (s->pid == 0 || s->kill_at == 0 || now < s->kill_at)
			continue;
		s->kill_at = now + POLICY_KILL_REPEAT;
		n = act(out, n, POLICY_LATE, i, s->pid, SIGKILL);
	}
	return n;
}

size_t
policy_stop(struct policy_pool *p, int sig, double grace, double now,
    struct policy_action *out)
{
	size_t n = 0;
	int i;

	for (i = 0; i < POOL_MAX_SLOTS; i++)
		if (p->slots[i].pid)
			n = slot_stop(p, i, sig, POLICY_WHY_SHUTDOWN, grace, now,
			    POLICY_STOP, out, n);
	return n;
}

int
policy_ready(const struct policy_pool *p, const struct policy_seen *seen)
{
	int i;

	for (i = 0; i < p->configured; i++) {
		if (p->slots[i].failed)
			continue;
		if (p->slots[i].pid == 0)
			return 0;
		if (seen[i].state == SB_FREE || seen[i].state == SB_STARTING)
			return 0;
	}
	return 1;
}

double
policy_next_event(const struct policy_pool *p, int stopping, double now)
{
	const struct policy_slot *s;
	double next = -1, at;
	int i;

	for (i = 0; i < POOL_MAX_SLOTS; i++) {
		s = &p->slots[i];
		if (s->pid && s->kill_at)
			at = s->kill_at;
		else if (!s->pid && !stopping && i < p->configured &&
		    !s->failed)
			at = s->start_at;
		else
			continue;
		if (at < now)
			at = now;
		if (next < 0 || at - now < next)
			next = at - now;
	}
	return next;
}

int
policy_crash_looping(const struct policy_slot *s, double now)
{
	return s->short_lives >= POLICY_CRASH_LOOP_EXITS &&
	    (s->pid == 0 || now - s->started < POLICY_HEALTHY_UPTIME);
}
