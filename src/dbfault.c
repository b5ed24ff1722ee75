/*
 * dbfault: fault injection for tests/faults, SQLite's discipline: a build with
 * -DGV_FAULTS and GV_FAULT_DB=N[,KIND][,after][,random] in the environment
 * fails the Nth database call of this process (only counting calls of KIND:
 * connect, claim, insert, delete, update, select, commit, fetch (a row of a
 * result, the connection lost half-way through reading it: only when
 * named); default any) as a lost connection. By default the call never reaches the server
 * (CR_SERVER_GONE_ERROR); "after" lets the server do it and loses the answer
 * (CR_SERVER_LOST), the case where the caller cannot know the outcome.
 * "random" fails each such call with a chance of 1 in N instead of only
 * the Nth (at random: a fixed period can fall in step with a loop of calls
 * and fail the same call every time). "deadlock" fails it before it is sent
 * as ER_LOCK_DEADLOCK instead, on a connection that stays up (a COMMIT so
 * failed is rolled back for real, as the server would have).
 *
 * Threads (the Controller's slots and flusher, the Injector's calls): the
 * Nth call is counted over the whole process, and the fault it draws
 * belongs to the thread that made that call. Its "after" half and its
 * message are that thread's (thread-local): shared, an "after" armed by
 * one thread's call was taken by another thread's next call, on another
 * connection, and the message went to whichever thread asked first, so a
 * spec no longer failed the call it named.
 *
 * GV_FAULT_TRACE=FILE appends a line for each fault injected, "PID TID
 * KIND MODE" (MODE: before, after or deadlock; the kind of the call that
 * drew it), so a test can check that a spec failed what it names.
 *
 * Compiled into every build, called only from one with -DGV_FAULTS
 * (dbfault.h).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "dbfault.h"

static const char *const fault_kinds[] = { "any", "connect", "claim",
	"insert", "delete", "update", "select", "commit", "fetch" };
/* The spec, read once for the process; the calls counted over it. */
static pthread_once_t fault_once = PTHREAD_ONCE_INIT;
static struct {
	int kind, after, random, deadlock;
	unsigned long nth;
} fault;
static atomic_ulong fault_seen;
static atomic_uint fault_threads;
/* The calling thread's: a fault drawn by its call, "after" not yet
 * taken (pending) or not yet worded (fired); its random draws. */
static _Thread_local struct {
	int pending, fired, seeded;
	enum dbfault_kind pending_kind;
	unsigned seed;
} mine;

/* One line of GV_FAULT_TRACE, in one write: lines of several processes
 * and threads do not mix. */
static unsigned
traced(enum dbfault_kind kind, const char *mode, unsigned e)
{
	const char *path = getenv("GV_FAULT_TRACE");
	char line[128];
	int fd, n;

	if (path == NULL || *path == '\0')
		return e;
	n = snprintf(line, sizeof(line), "%ld %ld %s %s\n", (long)getpid(),
	    (long)syscall(SYS_gettid), fault_kinds[kind], mode);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) != -1) {
		(void)!write(fd, line, (size_t)n);
		close(fd);
	}
	return e;
}

enum dbfault_kind
dbfault_kind_of(enum sql_id id)
{
	switch (id) {
	case SQL_SELECT_DUE: case SQL_SELECT_DUE_FUNCS: case SQL_SELECT_JOBS:
	case SQL_LEASE:
		return DBFAULT_CLAIM;
	case SQL_INSERT: return DBFAULT_INSERT;
	case SQL_COMPLETE: case SQL_COMPLETE_ANY: case SQL_COMPLETE_MANY:
	case SQL_COMPLETE_MANY_ANY:
		return DBFAULT_DELETE;
	case SQL_PUSH_BACK: case SQL_RELEASE: case SQL_RESCHEDULE_AT:
	case SQL_RESCHEDULE_IN:
	case SQL_RESCHEDULE_AT_ANY: case SQL_RESCHEDULE_IN_ANY: case SQL_FAIL:
	case SQL_FAIL_ANY: case SQL_EXTEND: case SQL_EXTEND_ANY:
		return DBFAULT_UPDATE;
	default: return DBFAULT_SELECT;
	}
}

static void
fault_parse(void)
{
	const char *env, *p;
	size_t i;

	if ((env = getenv("GV_FAULT_DB")) == NULL)
		return;
	fault.nth = strtoul(env, NULL, 10);
	for (p = strchr(env, ','); p; p = strchr(p + 1, ',')) {
		for (i = 0; i < sizeof(fault_kinds) / sizeof(fault_kinds[0]);
		    i++)
			if (strncmp(p + 1, fault_kinds[i],
			    strlen(fault_kinds[i])) == 0)
				fault.kind = (int)i;
		fault.after |= strncmp(p + 1, "after", 5) == 0;
		fault.random |= strncmp(p + 1, "random", 6) == 0;
		fault.deadlock |= strncmp(p + 1, "deadlock", 8) == 0;
	}
}

unsigned
dbfault_at(enum dbfault_kind kind, int after)
{
	pthread_once(&fault_once, fault_parse);
	if (after) {
		if (!mine.pending)
			return 0;
		mine.pending = 0;
		mine.fired = 1;
		return traced(mine.pending_kind, "after", CR_SERVER_LOST);
	}
	/* A fetch is part of the call that made its result: faulted only
	 * when named, so "1 call in N" keeps its meaning for the rest. */
	if (fault.nth == 0 || (fault.kind != DBFAULT_ANY &&
	    (int)kind != fault.kind) || (fault.kind == DBFAULT_ANY &&
	    kind == DBFAULT_FETCH) || (!fault.random &&
	    atomic_load(&fault_seen) >= fault.nth))
		return 0;
	if (fault.random && !mine.seeded) {
		/* Each thread its own sequence: rand_r's state is not
		 * shared. */
		mine.seeded = 1;
		mine.seed = (unsigned)getpid() * 2654435761u +
		    atomic_fetch_add(&fault_threads, 1);
	}
	/* One thread's call is the Nth: the count is atomic. */
	if (fault.random ? (unsigned long)rand_r(&mine.seed) % fault.nth != 0 :
	    atomic_fetch_add(&fault_seen, 1) + 1 != fault.nth)
		return 0;
	if (fault.after && kind != DBFAULT_CONNECT && kind != DBFAULT_FETCH) {
		mine.pending = 1;
		mine.pending_kind = kind;
		return 0;
	}
	mine.fired = 1;
	if (fault.deadlock && kind != DBFAULT_CONNECT && kind != DBFAULT_FETCH)
		return traced(kind, "deadlock", ER_LOCK_DEADLOCK);
	return traced(kind, "before", CR_SERVER_GONE_ERROR);
}

const char *
dbfault_text(const char *real)
{
	if (!mine.fired)
		return real;
	mine.fired = 0;
	return fault.deadlock ? "Deadlock found when trying to get lock "
	    "(fault injected by GV_FAULT_DB)" :
	    "Lost connection (fault injected by GV_FAULT_DB)";
}
