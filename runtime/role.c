/*
 * role: running one worker role in this process (a child of the master, or
 * `garivini --role NAME`).
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "fdlimit.h"
#include "log.h"
#include "proctitle.h"
#include "role.h"
#include "scoreboard.h"
#include "util.h"

#define ROLE_MMAP_THRESHOLD (1024 * 1024)

/* The one stop flag of this process: a process runs one role. Set by the
 * handler on the main thread, read by every thread of the role: a lock-free
 * atomic, which a handler may write (C11 7.14.1.1) and threads may read
 * without a data race (a volatile sig_atomic_t is only for the thread the
 * handler interrupts). */
static atomic_int role_stop;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the stop flag must be lock-free");
/* Told of a stop with one byte, for whoever watches the process. */
static int role_stop_fd = -1;

static void
role_on_stop(int sig)
{
	int saved = errno;

	(void)sig;
	atomic_store(&role_stop, 1);
	if (role_stop_fd >= 0)
		(void)!write(role_stop_fd, ROLE_STOP_BYTE, 1);
	errno = saved;
}

void
role_notify_stop(int fd)
{
	role_stop_fd = fd;
}

static void
role_on_quit(int sig)
{
	(void)sig;
	/* Immediate stop: the job in hand is abandoned, its lease brings it
	 * back. Nothing but _exit is safe here. */
	_exit(EX_OK);
}

const char *
role_name(const struct role *role)
{
	return config_role_name(role->id);
}

const struct role *
role_find(const struct role *table, const char *name)
{
	const struct role *r;

	if (name == NULL)
		return NULL;
	for (r = table; r->main != NULL; r++)
		if (strcmp(role_name(r), name) == 0)
			return r;
	return NULL;
}

int
role_run(const struct role *role, const struct config *cfg, int slot,
    struct sb_slot *sb)
{
	struct role_ctx ctx;
	char note[256], err[512];
	struct sigaction sa;
	sigset_t mask;
	int code;

	log_set_role(role_name(role), slot);
	proctitle_set("%s/%d", role_name(role), slot);
	log_set_level(cfg->log_level);
	if (log_open(cfg->log_file) == -1)
		log_warn("cannot open the log %s, logging to stderr",
		    cfg->log_file ? cfg->log_file : "stderr");
	/* A big buffer (an arg of up to 16 MB, its document) is mapped on its
	 * own and unmapped when freed. By default glibc raises this threshold
	 * to the size of each big block freed, after which such blocks come
	 * from the heap and stay with the process: a Controller whose slots
	 * had carried 16 MB jobs kept 80 MB when idle
	 * (48-controller-resources). */
	mallopt(M_MMAP_THRESHOLD, ROLE_MMAP_THRESHOLD);
	/* A child of the master inherits a limit already raised for it;
	 * `garivini --role` alone raises its own. */
	if (fdlimit_raise(cfg, role->id, note, sizeof(note), err,
	    sizeof(err)) == -1) {
		log_errx("%s", err);
		return EX_CONFIG;
	}
	if (note[0])
		log_notice("%s", note);

	/* Reset before the handlers go in: a TERM already pending (sent by
	 * the master while this child was starting) is delivered when the mask
	 * opens below, and must not be wiped out by this line. */
	atomic_store(&role_stop, 0);

	memset(&sa, 0, sizeof(sa));
	sigfillset(&sa.sa_mask);
	/* No SA_RESTART: a role blocked in poll() or a server call must get
	 * EINTR and look at its stop flag, not go back to sleep. */
	sa.sa_flags = 0;
	sa.sa_handler = role_on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = role_on_quit;
	sigaction(SIGQUIT, &sa, NULL);
	/* A server closing a socket under us is an error to handle where the
	 * write fails, not a reason to die. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	sb->pid = getpid();
	sb->started = time_real();
	scoreboard_state(sb, SB_STARTING);

	ctx.cfg = cfg;
	ctx.name = role_name(role);
	ctx.slot = slot;
	ctx.sb = sb;
	/* The master's table, mapped before it forked; none alone. */
	ctx.fs = funcstats_current();
	ctx.stop = &role_stop;

	sigemptyset(&mask);
	sigprocmask(SIG_SETMASK, &mask, NULL);

	log_info("started");
	code = role->main(&ctx);
	scoreboard_state(sb, SB_STOPPING);
	log_info("exited with code %d", code);
	return code;
}
