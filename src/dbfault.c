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
 * GV_FAULT_TRACE=FILE appends a line for each fault injected, "PID TID
 * KIND MODE" (MODE: before, after or deadlock; the kind of the call that
 * took it), so a test can check that a spec failed what it names.
 *
 * Compiled into every build, called only from one with -DGV_FAULTS
 * (dbfault.h).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
static unsigned
traced(int kind, const char *mode, unsigned e)
{
	const char *path = getenv("GV_FAULT_TRACE");
	static const char *const k[] = { "any", "connect", "claim",
	"insert", "delete", "update", "select", "commit", "fetch" };
	char line[128];
	int fd, n;

	if (path == NULL || *path == '\0')
		return e;
	n = snprintf(line, sizeof(line), "%ld %ld %s %s\n", (long)getpid(),
	    (long)syscall(SYS_gettid), k[kind], mode);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) != -1) {
		(void)!write(fd, line, (size_t)n);
		close(fd);
	}
	return e;
}

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "dbfault.h"

static const char *const fault_kinds[] = { "any", "connect", "claim",
	"insert", "delete", "update", "select", "commit", "fetch" };
static struct {
	int parsed, kind, after, random, deadlock, pending, fired;
	unsigned long nth, seen;
	unsigned seed;
} fault;

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

unsigned
dbfault_at(enum dbfault_kind kind, int after)
{
	const char *env, *p;
	size_t i;

	if (!fault.parsed) {
		fault.parsed = 1;
		if ((env = getenv("GV_FAULT_DB")) == NULL)
			return 0;
		fault.nth = strtoul(env, NULL, 10);
		for (p = strchr(env, ','); p; p = strchr(p + 1, ',')) {
			for (i = 0; i < sizeof(fault_kinds) /
			    sizeof(fault_kinds[0]); i++)
				if (strncmp(p + 1, fault_kinds[i],
				    strlen(fault_kinds[i])) == 0)
					fault.kind = (int)i;
			fault.after |= strncmp(p + 1, "after", 5) == 0;
			fault.random |= strncmp(p + 1, "random", 6) == 0;
			fault.deadlock |= strncmp(p + 1, "deadlock", 8) == 0;
		}
		fault.seed = (unsigned)getpid();
	}
	if (after) {
		if (!fault.pending)
			return 0;
		fault.pending = 0;
		fault.fired = 1;
		return traced(kind, "after", CR_SERVER_LOST);
	}
	/* A fetch is part of the call that made its result: faulted only
	 * when named, so "1 call in N" keeps its meaning for the rest. */
	if (fault.nth == 0 || (fault.kind != DBFAULT_ANY &&
	    (int)kind != fault.kind) || (fault.kind == DBFAULT_ANY &&
	    kind == DBFAULT_FETCH) || (!fault.random && fault.seen >= fault.nth))
		return 0;
	if (fault.random ? (unsigned long)rand_r(&fault.seed) % fault.nth != 0 :
	    ++fault.seen != fault.nth)
		return 0;
	if (fault.after && kind != DBFAULT_CONNECT && kind != DBFAULT_FETCH) {
		fault.pending = 1;
		return 0;
	}
	fault.fired = 1;
	if (fault.deadlock && kind != DBFAULT_CONNECT && kind != DBFAULT_FETCH)
		return traced(kind, "deadlock", ER_LOCK_DEADLOCK);
	return traced(kind, "before", CR_SERVER_GONE_ERROR);
}

const char *
dbfault_text(const char *real)
{
	if (!fault.fired)
		return real;
	fault.fired = 0;
	return fault.deadlock ? "Deadlock found when trying to get lock "
	    "(fault injected by GV_FAULT_DB)" :
	    "Lost connection (fault injected by GV_FAULT_DB)";
}
