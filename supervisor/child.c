/*
 * child: from fork() to the role, and the watcher that keeps a child from
 * outliving its master.
 *
 * Why a child needs two ways to learn that the master is gone:
 *
 * PR_SET_PDEATHSIG makes the kernel send SIGTERM the moment the master dies,
 * however it dies (SIGKILL, OOM killer), and SIGTERM is the graceful stop a
 * role already obeys: it finishes the job in hand. But it is Linux only, it
 * is cleared by a change of credentials, and it says nothing if the master
 * died between fork() and prctl() (checked with getppid() below).
 *
 * The life pipe covers every case: the master holds the only write end, so
 * the read end sees EOF exactly when the master is gone, on any system. A
 * role runs its own loop and cannot be asked to poll a pipe, so a thread
 * does it: on EOF it sends SIGTERM to its own process (the same graceful
 * stop, in case the death signal did not come), then gives the role the
 * shutdown timeout to finish and ends the process itself if the role has not
 * by then. A child therefore never outlives its master by more than
 * shutdown_timeout, even when a role ignores its stop flag.
 *
 * The thread runs with every signal blocked, so process signals (TERM for
 * the role, QUIT) are always delivered to the role's thread, where its
 * handlers expect them. It also reopens the log on SIGUSR2: log_reopen is no
 * code for a signal handler, and the role's loop does not know about it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sysexits.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "proctitle.h"
#include "role.h"
#include "signals.h"
#include "util.h"

#define CHILD_MAX_CLOSE 8

static int life_read = -1;
static int close_list[CHILD_MAX_CLOSE];
static size_t nclose_list;
static pid_t master_pid;

/* Signals -> watcher: one byte down this pipe, WAKE_REOPEN for SIGUSR2,
 * ROLE_STOP_BYTE for the role's TERM or INT. */
#define WAKE_REOPEN 'r'
static int wake_pipe[2] = { -1, -1 };
/* Who this child is, for its process title. */
static const char *title_role;
static int title_slot;
static int watch_life_fd = -1;
static double watch_grace;

void
child_setup(int life_fd, const int *close_fds, size_t nclose, pid_t master)
{
	size_t i;

	life_read = life_fd;
	nclose_list = 0;
	for (i = 0; i < nclose && i < CHILD_MAX_CLOSE; i++)
		if (close_fds[i] >= 0)
			close_list[nclose_list++] = close_fds[i];
	master_pid = master;
}

static void
on_usr2(int sig)
{
	int saved = errno;

	(void)sig;
	/* Non-blocking: if the pipe is full, a reopen is already due. */
	(void)!write(wake_pipe[1], &(char){ WAKE_REOPEN }, 1);
	errno = saved;
}

static void *
watcher(void *arg)
{
	struct pollfd pfd[2];
	double deadline = 0, now;
	char buf[64];
	int timeout, n;

	(void)arg;
	pfd[0].fd = wake_pipe[0];
	pfd[0].events = POLLIN;
	pfd[1].fd = watch_life_fd;
	pfd[1].events = POLLIN;
	for (;;) {
		timeout = -1;
		if (deadline > 0) {
			now = time_mono();
			if (now >= deadline) {
				log_warnx("still running %.1f s after the "
				    "master died, exiting", watch_grace);
				_exit(EX_SOFTWARE);
			}
			timeout = (int)((deadline - now) * 1000) + 1;
		}
		/* A negative fd is ignored by poll(): no master, no EOF. */
		if (poll(pfd, 2, timeout) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("watcher: poll");
			return NULL;
		}
		if (pfd[0].revents & POLLIN) {
			int reopen = 0, stopping = 0;

			while ((n = (int)read(wake_pipe[0], buf,
			    sizeof(buf))) > 0) {
				reopen |= memchr(buf, WAKE_REOPEN, (size_t)n)
				    != NULL;
				stopping |= memchr(buf, ROLE_STOP_BYTE[0],
				    (size_t)n) != NULL;
			}
			if (reopen && log_reopen() == -1)
				log_warn("cannot reopen the log file");
			/* What ps shows of a child that finishes its work
			 * before it exits (a stop, a reload that replaced it). */
			if (stopping && title_role != NULL)
				proctitle_set("%s/%d (draining)", title_role,
				    title_slot);
		}
		if (pfd[1].fd >= 0 && pfd[1].revents) {
			n = (int)read(pfd[1].fd, buf, sizeof(buf));
			if (n == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n > 0)
				continue;       /* the master never writes */
			log_warnx("the master is gone, stopping");
			pfd[1].fd = -1;
			kill(getpid(), SIGTERM);
			deadline = time_mono() + watch_grace;
		}
	}
	return NULL;
}

int
child_watch(int life_fd, double grace, char *err, size_t errlen)
{
	struct sigaction sa;
	pthread_t tid;
	int rc;

	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		return errf(err, errlen, "pipe: %s", strerror(errno));
	watch_life_fd = life_fd;
	watch_grace = grace;

	memset(&sa, 0, sizeof(sa));
	sigfillset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);

	/* The caller has every signal blocked, and the thread inherits that
	 * mask: it never takes a signal meant for the role. */
	if ((rc = pthread_create(&tid, NULL, watcher, NULL)) != 0)
		return errf(err, errlen, "pthread_create: %s", strerror(rc));
	pthread_detach(tid);
	return 0;
}

void
child_run(const struct role *role, const struct config *cfg, int slot,
    struct sb_slot *sb)
{
	char err[256];
	size_t i;
	int code;

	signals_child_reset();
	/* The readiness socket is the master's to speak on. */
	unsetenv("NOTIFY_SOCKET");
	for (i = 0; i < nclose_list; i++)
		close(close_list[i]);
	log_set_role(role_name(role), slot);

	/* The master dropped its privileges before forking, so nothing clears
	 * the death signal after this point. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		log_warn("prctl(PR_SET_PDEATHSIG)");
	if (getppid() != master_pid)
		_exit(EX_OK);   /* the master died before prctl() */

	title_role = role_name(role);
	title_slot = slot;
	if (child_watch(life_read, config_stop_grace(cfg, role_name(role)), err,
	    sizeof(err)) == -1)
		log_warnx("cannot watch the master: %s", err);
	else
		role_notify_stop(wake_pipe[1]);

	code = role_run(role, cfg, slot, sb);
	fflush(NULL);
	/* _exit: the master's atexit work (its pidfile) is not ours. */
	_exit(code);
}
