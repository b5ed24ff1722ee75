/*
 * thread: the threads of a role (the Injector's calls, the Controller's
 * slots and flushers), started and joined here, with the one interval at
 * which a thread waiting on gearmand looks at its stop flag, and a wait on
 * a condition that ends at a time of the monotonic clock.
 */
#ifndef THREAD_H
#define THREAD_H

#include <pthread.h>
#include <stddef.h>

/* Milliseconds between two looks at a stop flag while waiting for work:
 * signals do not interrupt gearman_worker_work(), its timeout does (see
 * doc/libgearman.md, "Workers"). */
#define THREAD_STOP_POLL_MS 1000

struct thread {
	pthread_t id;
	void (*run)(void *);
	void *arg;
	int started;
};

/* Start run(arg) on a thread of its own, t kept until thread_join. It
 * starts with every signal blocked (the role's handlers run on the main
 * thread, which is where they expect them) and may make database calls.
 * 0, or -1 with the reason in err. */
int thread_start(struct thread *t, void (*run)(void *), void *arg,
    char *err, size_t errlen);
/* Wait for t's run to return, if it started. Telling it to return is the
 * caller's: its stop flag, or a condition it waits on. */
void thread_join(struct thread *t);

/* A condition variable on CLOCK_MONOTONIC, for thread_wait_until, whose
 * deadlines are of that clock: one set on the wall clock would move when
 * the clock is set. */
void thread_cond_init(pthread_cond_t *cond);
/* Wait on cond (made by thread_cond_init), m held, until time_mono()
 * reaches until at the most. */
void thread_wait_until(pthread_cond_t *cond, pthread_mutex_t *m,
    double until);

#endif
