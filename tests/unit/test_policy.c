/*
 * test_policy: the master's decisions about its children, without a
 * process: what an exit means, the restart backoff, crash loops, EX_CONFIG,
 * shrinking, rolling replacement, hung children and the SIGKILL timers.
 * Each test drives one pool's slot table with made-up pids and times.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "policy.h"
#include "scoreboard.h"
#include "unit.h"

#define EXITED(code) ((code) << 8)      /* a wait status */
#define GRACE 30.0
#define HEARTBEAT 300.0

static struct policy_pool pool;
static struct policy_seen seen[POOL_MAX_SLOTS];
static struct policy_action acts[POLICY_MAX_ACTIONS];
static pid_t next_pid;

static void
setup(void)
{
	memset(&pool, 0, sizeof(pool));
	memset(seen, 0, sizeof(seen));
	next_pid = 100;
}

/* One turn of the policy; the children it asks for start (a new pid each,
 * seen as state), and the number of actions is returned. */
static size_t
tend(double now, int state)
{
	size_t n = policy_tend(&pool, seen, GRACE, HEARTBEAT, now, acts), k;

	for (k = 0; k < n; k++)
		if (acts[k].act == POLICY_SPAWN) {
			policy_spawned(&pool, acts[k].slot, next_pid++,
			    acts[k].slot, now, 1e9 + now);
			seen[acts[k].slot].state = state;
			seen[acts[k].slot].heartbeat = now;
		}
	return n;
}

static size_t
count(size_t n, enum policy_act what)
{
	size_t k, c = 0;

	for (k = 0; k < n; k++)
		c += acts[k].act == what;
	return c;
}

START_TEST(test_first_start)
{
	size_t n;

	policy_init(&pool, 3);
	ck_assert_int_eq(policy_ready(&pool, seen), 0);
	ck_assert(policy_next_event(&pool, 0, 0) == 0);
	n = tend(0, SB_STARTING);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(count(n, POLICY_SPAWN), 3);
	ck_assert_int_eq(pool.slots[2].pid, 102);
	ck_assert_int_eq(pool.slots[2].slotno, 2);
	ck_assert_uint_eq(pool.restarts, 0);
	/* Up only once no child is starting. */
	ck_assert_int_eq(policy_ready(&pool, seen), 0);
	seen[0].state = seen[1].state = seen[2].state = SB_IDLE;
	ck_assert_int_eq(policy_ready(&pool, seen), 1);
	ck_assert_uint_eq(tend(1, SB_IDLE), 0);
	ck_assert(policy_next_event(&pool, 0, 1) < 0);
}
END_TEST

START_TEST(test_crash_backs_off_and_doubles)
{
	struct policy_exit e;
	double now = 0, want = 0.5;
	int i;

	policy_init(&pool, 1);
	tend(now, SB_IDLE);
	for (i = 0; i < 10; i++) {
		now += 1;
		e = policy_exited(&pool, 0, EXITED(EX_SOFTWARE), 0, now);
		ck_assert_int_eq(e.next, POLICY_NEXT_BACKOFF);
		ck_assert_int_eq(e.asked, 0);
		ck_assert_int_eq(e.wanted, 1);
		ck_assert(e.delay == want);
		ck_assert_int_eq(pool.slots[0].pid, 0);
		/* Nothing starts before the delay is over. */
		ck_assert_uint_eq(tend(now + e.delay / 2, SB_IDLE), 0);
		ck_assert(policy_next_event(&pool, 0, now) == e.delay);
		now += e.delay;
		ck_assert_uint_eq(tend(now, SB_IDLE), 1);
		ck_assert_uint_eq(pool.restarts, (unsigned long)i + 1);
		want = want * 2 > POLICY_BACKOFF_MAX ? POLICY_BACKOFF_MAX :
		    want * 2;
	}
	ck_assert(pool.slots[0].backoff == POLICY_BACKOFF_MAX);
	/* A healthy uptime starts the backoff again from the shortest. */
	now += POLICY_HEALTHY_UPTIME;
	e = policy_exited(&pool, 0, SIGKILL, 0, now);
	ck_assert_int_eq(e.next, POLICY_NEXT_BACKOFF);
	ck_assert(e.delay == POLICY_BACKOFF_FIRST);
	ck_assert_int_eq(pool.slots[0].short_lives, 0);
}
END_TEST

START_TEST(test_crash_loop)
{
	double now = 0;
	int i;

	policy_init(&pool, 1);
	tend(now, SB_IDLE);
	for (i = 0; i < POLICY_CRASH_LOOP_EXITS; i++) {
		ck_assert_int_eq(policy_crash_looping(&pool.slots[0], now), 0);
		now += 1;
		policy_exited(&pool, 0, EXITED(1), 0, now);
		now += 60;
		tend(now, SB_IDLE);
	}
	/* The child now running is young: still looping. */
	ck_assert_int_eq(policy_crash_looping(&pool.slots[0], now + 1), 1);
	/* Once it has lived a healthy uptime, it is not. */
	ck_assert_int_eq(policy_crash_looping(&pool.slots[0],
	    now + POLICY_HEALTHY_UPTIME), 0);
	/* And its exit then clears the count. */
	policy_exited(&pool, 0, EXITED(1), 0, now + POLICY_HEALTHY_UPTIME);
	ck_assert_int_eq(policy_crash_looping(&pool.slots[0], now + 100), 0);
}
END_TEST

START_TEST(test_ex_config_waits_for_a_reload)
{
	struct policy_exit e;
	size_t n;

	policy_init(&pool, 2);
	tend(0, SB_IDLE);
	seen[0].state = seen[1].state = SB_IDLE;
	e = policy_exited(&pool, 1, EXITED(EX_CONFIG), 0, 1);
	ck_assert_int_eq(e.next, POLICY_NEXT_FAILED);
	ck_assert_int_eq(pool.slots[1].failed, 1);
	/* Never again by itself, and no timer for it. */
	ck_assert_uint_eq(tend(1000, SB_IDLE), 0);
	ck_assert(policy_next_event(&pool, 0, 1000) < 0);
	/* The other slot is up: the pool counts as ready. */
	ck_assert_int_eq(policy_ready(&pool, seen), 1);
	/* A reload gives it another chance, still spaced by the backoff. */
	ck_assert_int_eq(policy_reload(&pool, 2, 0), 1);
	ck_assert_int_eq(pool.slots[1].failed, 0);
	n = tend(1000, SB_IDLE);
	ck_assert_uint_eq(count(n, POLICY_SPAWN), 1);
	ck_assert_int_eq(acts[0].slot, 1);
	ck_assert_uint_eq(pool.restarts, 1);
}
END_TEST

START_TEST(test_shrink_retires_the_highest)
{
	struct policy_exit e;
	size_t n;

	policy_init(&pool, 3);
	tend(0, SB_IDLE);
	ck_assert_int_eq(policy_reload(&pool, 1, 0), 3);
	n = tend(5, SB_IDLE);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(acts[0].act, POLICY_RETIRE);
	ck_assert_int_eq(acts[0].slot, 1);
	ck_assert_int_eq(acts[0].pid, 101);
	ck_assert_int_eq(acts[0].sig, SIGTERM);
	ck_assert_int_eq(acts[1].slot, 2);
	ck_assert(pool.slots[1].kill_at == 5 + GRACE);
	/* Asked once only. */
	ck_assert_uint_eq(tend(6, SB_IDLE), 0);
	/* A retired child that exits 0 is an expected exit, not restarted. */
	e = policy_exited(&pool, 1, EXITED(EX_OK), 0, 7);
	ck_assert_int_eq(e.next, POLICY_NEXT_AT_ONCE);
	ck_assert_int_eq(e.asked, 1);
	ck_assert_int_eq(e.wanted, 0);
	e = policy_exited(&pool, 2, EXITED(1), 0, 7);
	ck_assert_int_eq(e.next, POLICY_NEXT_AT_ONCE);
	ck_assert_int_eq(e.asked, 0);
	ck_assert_uint_eq(tend(8, SB_IDLE), 0);
	ck_assert_uint_eq(pool.restarts, 0);
	ck_assert(policy_next_event(&pool, 0, 8) < 0);
}
END_TEST

START_TEST(test_rolling_replacement)
{
	const int last = POOL_MAX_SLOTS - 1;
	struct policy_exit e;
	size_t n;

	policy_init(&pool, 2);
	tend(0, SB_IDLE);
	/* A reload that changes nothing they read replaces nobody. */
	policy_reload(&pool, 2, 0);
	ck_assert_uint_eq(tend(1, SB_IDLE), 0);

	policy_reload(&pool, 2, 1);
	n = tend(2, SB_STARTING);
	/* The child of slot 0 drains in a spare slot, a new one starts in
	 * slot 0 at once; slot 1 waits. */
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(acts[0].act, POLICY_REPLACE);
	ck_assert_int_eq(acts[0].slot, last);
	ck_assert_int_eq(acts[0].pid, 100);
	ck_assert_int_eq(acts[0].sig, SIGTERM);
	ck_assert_int_eq(pool.slots[last].slotno, 0);
	ck_assert_int_eq(acts[1].act, POLICY_SPAWN);
	ck_assert_int_eq(acts[1].slot, 0);
	ck_assert_int_eq(pool.slots[0].pid, 102);
	ck_assert_uint_eq(tend(3, SB_STARTING), 0);
	/* The new child is up: the next one goes. */
	seen[0].state = SB_IDLE;
	n = tend(4, SB_STARTING);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(acts[0].act, POLICY_REPLACE);
	ck_assert_int_eq(acts[0].slot, last - 1);
	ck_assert_int_eq(acts[0].pid, 101);
	/* The drained child leaves its spare slot; nothing restarts there. */
	e = policy_exited(&pool, last, EXITED(EX_OK), 0, 5);
	ck_assert_int_eq(e.asked, 1);
	ck_assert_int_eq(e.next, POLICY_NEXT_AT_ONCE);
	ck_assert_uint_eq(tend(6, SB_IDLE), 0);
	ck_assert_uint_eq(pool.restarts, 0);
}
END_TEST

START_TEST(test_rolling_does_not_wait_forever)
{
	size_t n;

	policy_init(&pool, 2);
	tend(0, SB_IDLE);
	policy_reload(&pool, 2, 1);
	tend(10, SB_STARTING);
	/* A new child that never leaves STARTING holds the rest for
	 * REPLACE_WAIT at most. */
	ck_assert_uint_eq(tend(10 + POLICY_REPLACE_WAIT / 2, SB_IDLE), 0);
	n = tend(10 + POLICY_REPLACE_WAIT, SB_IDLE);
	ck_assert_uint_eq(count(n, POLICY_REPLACE), 1);
	ck_assert_int_eq(acts[0].pid, 101);
}
END_TEST

START_TEST(test_hung_only_when_busy)
{
	size_t n;

	policy_init(&pool, 2);
	tend(0, SB_IDLE);
	/* Idle and silent for long: waiting for work, not hung. */
	ck_assert_uint_eq(tend(HEARTBEAT * 2, SB_IDLE), 0);
	seen[1].state = SB_BUSY;
	seen[1].heartbeat = 100;
	ck_assert_uint_eq(tend(100 + HEARTBEAT, SB_IDLE), 0);
	n = tend(101 + HEARTBEAT, SB_IDLE);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(acts[0].act, POLICY_HUNG);
	ck_assert_int_eq(acts[0].pid, 101);
	ck_assert_int_eq(acts[0].sig, SIGKILL);
	ck_assert(acts[0].age == HEARTBEAT + 1);
	/* Killed once; then the timer, every second until it is reaped. */
	ck_assert_uint_eq(tend(102 + HEARTBEAT, SB_IDLE), 0);
	ck_assert_uint_eq(policy_kill_due(&pool, 101.5 + HEARTBEAT, acts), 0);
	n = policy_kill_due(&pool, 102 + HEARTBEAT, acts);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(acts[0].act, POLICY_LATE);
	ck_assert_uint_eq(policy_kill_due(&pool, 103 + HEARTBEAT, acts), 1);
	/* Its death is a crash: restarted with backoff. */
	ck_assert_int_eq(policy_exited(&pool, 1, SIGKILL, 0,
	    104 + HEARTBEAT).next, POLICY_NEXT_BACKOFF);
}
END_TEST

START_TEST(test_no_hung_detection_when_off)
{
	policy_init(&pool, 1);
	tend(0, SB_IDLE);
	seen[0].state = SB_BUSY;
	ck_assert_uint_eq(policy_tend(&pool, seen, GRACE, 0, 1e6, acts), 0);
}
END_TEST

START_TEST(test_stop)
{
	size_t n;

	policy_init(&pool, 2);
	tend(0, SB_IDLE);
	n = policy_stop(&pool, SIGTERM, GRACE, 10, acts);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(acts[0].act, POLICY_STOP);
	ck_assert_int_eq(acts[1].sig, SIGTERM);
	/* No restart is planned while stopping, only the SIGKILLs. */
	ck_assert(policy_next_event(&pool, 1, 10) == GRACE);
	ck_assert_int_eq(policy_exited(&pool, 0, EXITED(EX_SOFTWARE), 1,
	    11).next, POLICY_NEXT_NONE);
	ck_assert_uint_eq(policy_kill_due(&pool, 10 + GRACE - 1, acts), 0);
	n = policy_kill_due(&pool, 10 + GRACE, acts);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(acts[0].pid, 101);
	ck_assert(policy_next_event(&pool, 1, 10 + GRACE) ==
	    POLICY_KILL_REPEAT);
	/* A QUIT after a TERM brings the SIGKILL forward, never back. */
	policy_stop(&pool, SIGQUIT, 1, 10 + GRACE, acts);
	ck_assert(pool.slots[1].kill_at == 10 + GRACE + POLICY_KILL_REPEAT);
	policy_stop(&pool, SIGQUIT, 0.5, 10 + GRACE, acts);
	ck_assert(pool.slots[1].kill_at == 10 + GRACE + 0.5);
	policy_exited(&pool, 1, SIGKILL, 1, 10 + GRACE + 1);
	ck_assert(policy_next_event(&pool, 1, 50) < 0);
}
END_TEST

START_TEST(test_fork_failure_retries)
{
	policy_init(&pool, 1);
	ck_assert_uint_eq(policy_tend(&pool, seen, GRACE, HEARTBEAT, 0, acts),
	    1);
	policy_spawn_failed(&pool, 0, 0);
	ck_assert_uint_eq(policy_tend(&pool, seen, GRACE, HEARTBEAT, 0.1,
	    acts), 0);
	ck_assert(policy_next_event(&pool, 0, 0.1) ==
	    POLICY_BACKOFF_FIRST - 0.1);
	ck_assert_uint_eq(tend(POLICY_BACKOFF_FIRST, SB_IDLE), 1);
	ck_assert_uint_eq(pool.restarts, 0);
}
END_TEST

START_TEST(test_grow)
{
	size_t n;

	policy_init(&pool, 1);
	tend(0, SB_IDLE);
	ck_assert_int_eq(policy_reload(&pool, 3, 0), 1);
	n = tend(1, SB_IDLE);
	ck_assert_uint_eq(count(n, POLICY_SPAWN), 2);
	ck_assert_int_eq(pool.slots[0].pid, 100);
	ck_assert_uint_eq(pool.restarts, 0);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_first_start, test_crash_backs_off_and_doubles,
		test_crash_loop, test_ex_config_waits_for_a_reload,
		test_shrink_retires_the_highest, test_rolling_replacement,
		test_rolling_does_not_wait_forever, test_hung_only_when_busy,
		test_no_hung_detection_when_off, test_stop,
		test_fork_failure_retries, test_grow,
	};

	return unit_run("policy", tests, sizeof(tests) / sizeof(tests[0]),
	    setup, NULL);
}
