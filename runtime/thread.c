/*
 * thread: starting and joining the threads of a role. A thread runs
 * between db_thread_init and db_thread_end, as MySQL's client library asks
 * of a thread that makes database calls, and the library's process-wide
 * setup is done once, before the first thread starts, since it is not safe
 * to race.
 */
#include <signal.h>
#include <string.h>

#include "db.h"
#include "thread.h"
#include "util.h"

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
	sigset_t all, saved;
	int rc;

	pthread_once(&library_once, db_library_init);
	t->run = run;
	t->arg = arg;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	rc = pthread_create(&t->id, NULL, trampoline, t);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
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
