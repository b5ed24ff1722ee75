/*
 * thread: starting and joining the threads of a role, and their waits with
 * a deadline. A thread runs between db_thread_init and db_thread_end, as
 * MySQL's client library asks of a thread that makes database calls, and
 * the library's process-wide setup is done once, before the first thread
 * starts, since it is not safe to race.
 */
#include <signal.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "thread.h"
#include "util.h"

/*
 * The stack of each thread. glibc's default is the stack rlimit, 8 MB:
 * a Controller's 1,027 threads reserved 8.4 GB, and under an address space
 * limit (ulimit -v 4G) only 487 started. Measured (each thread's stack
 * scanned for the deepest byte written, over 20-lowlatency,
 * 27-controller-concurrency and 28-injector-concurrency): a Controller slot
 * that connected to gearmand and MariaDB and ran jobs used 24 KB at most,
 * an Injector thread 20 KB. 256 KB leaves ten times that for what the
 * tests do not reach: a TLS handshake in the MySQL client, the resolver's
 * NSS modules (getaddrinfo uses alloca). The sanitizers' instrumented
 * frames are several times larger.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define THREAD_STACK (1024 * 1024)
#else
#define THREAD_STACK (256 * 1024)
#endif

static pthread_once_t library_once = PTHREAD_ONCE_INIT;

static void *
trampoline(void *arg)
{
	struct thread *t = arg;

	db_thread_init();
	t->run(t->arg);
	db_thread_end();
	return NULL;
}

int
thread_start(struct thread *t, void (*run)(void *), void *arg, char *err,
    size_t errlen)
{
	pthread_attr_t attr;
	sigset_t all, saved;
	int rc;

	pthread_once(&library_once, db_library_init);
	t->run = run;
	t->arg = arg;
	if ((rc = pthread_attr_init(&attr)) != 0 ||
	    (rc = pthread_attr_setstacksize(&attr, THREAD_STACK)) != 0)
		return errf(err, errlen, "thread attributes: %s",
		    strerror(rc));
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	rc = pthread_create(&t->id, &attr, trampoline, t);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		return errf(err, errlen, "starting a thread: %s",
		    strerror(rc));
	t->started = 1;
	return 0;
}

void
thread_join(struct thread *t)
{
	if (!t->started)
		return;
	pthread_join(t->id, NULL);
	t->started = 0;
}

void
thread_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
}

void
thread_wait_until(pthread_cond_t *cond, pthread_mutex_t *m, double until)
{
	struct timespec ts;
	double now, left;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = time_mono();
	left = until - now;
	if (left <= 0)
		return;
	ts.tv_sec += (time_t)left;
	ts.tv_nsec += (long)((left - (double)(time_t)left) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(cond, m, &ts);
}
