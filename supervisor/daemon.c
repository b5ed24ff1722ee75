/*
 * daemon: detaching, with the start-up verdict carried back on a pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "util.h"

static void __attribute__((noreturn))
wait_for_daemon(int fd, pid_t pid)
{
	unsigned char code;
	ssize_t n;
	int status;

	do
		n = read(fd, &code, 1);
	while (n == -1 && errno == EINTR);
	if (n == 1)
		_exit(code);
	/* No word: the daemon ended before its pools were up. It is our
	 * child, so its exit code is ours to pass on. */
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			_exit(1);
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
	_exit(1);
}

int
daemon_start(char *err, size_t errlen)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) == -1)
		return errf(err, errlen, "pipe: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		return errf(err, errlen, "fork: %s", strerror(errno));
	}
	if (pid > 0) {
		close(fds[1]);
		wait_for_daemon(fds[0], pid);
	}
	close(fds[0]);
	/* A new session: no controlling terminal, no hangup from the shell
	 * that started us. */
	if (setsid() == -1) {
		close(fds[1]);
		return errf(err, errlen, "setsid: %s", strerror(errno));
	}
	return fds[1];
}

int
daemon_detach_stdio(void)
{
	int fd, i;

	if ((fd = open("/dev/null", O_RDWR)) == -1)
		return -1;
	for (i = 0; i <= 2; i++)
		if (fd != i && dup2(fd, i) == -1)
			return -1;
	if (fd > 2)
		close(fd);
	return 0;
}

void
daemon_report(int fd, int code)
{
	unsigned char c = (unsigned char)code;

	if (fd < 0)
		return;
	(void)!write(fd, &c, 1);
	close(fd);
}
