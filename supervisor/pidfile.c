/*
 * pidfile: create, lock, check and remove the master's pidfile.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pidfile.h"
#include "util.h"

/* The pid written in an open pidfile, or 0 if it holds none. */
static pid_t
read_pid(int fd)
{
	char buf[32];
	ssize_t n;
	long pid;
	char *nl;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	if (parse_long(buf, 1, 0x7fffffff, &pid) == -1)
		return 0;
	return (pid_t)pid;
}

/* 1 if fd is still the file at path: a lock taken on a file that another
 * master unlinked and replaced in the meantime is worth nothing. */
static int
same_file(int fd, const char *path)
{
	struct stat a, b;

	if (fstat(fd, &a) == -1 || lstat(path, &b) == -1)
		return 0;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* 1 if fd is a regular file with no other name. */
static int
plain_file(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1;
}

/* `garivini -s` takes a shared lock for an instant to see whether a master
 * runs: a master starting at that instant retries for a while rather than
 * call a stale file running. */
static int
try_lock(int fd)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < 50; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return -1;
		if (read_pid(fd) != 0 && kill(read_pid(fd), 0) == 0)
			break;          /* a live master: no point waiting */
		nanosleep(&pause, NULL);
	}
	errno = EWOULDBLOCK;
	return -1;
}

int
pidfile_create(const char *path, pid_t *running, char *err, size_t errlen)
{
	char buf[32];
	int fd, tries, len;

	*running = 0;
	for (tries = 0; tries < 10; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
		if (fd == -1 && errno == EEXIST)
			/* Someone's, maybe stale: its lock decides.
			 * Non-blocking: a fifo put there must not hang us. */
			fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK |
			    O_CLOEXEC);
		if (fd == -1) {
			if (errno == ENOENT)
				continue;       /* removed under us: again */
			return errf(err, errlen, "pidfile %s: %s", path,
			    strerror(errno));
		}
		/* O_NOFOLLOW stops a planted symlink, not a planted hard link
		 * to another file (or a fifo, a device): we are about to
		 * truncate it. */
		if (!plain_file(fd)) {
			close(fd);
			return errf(err, errlen, "pidfile %s: not a regular "
			    "file of one link: remove it", path);
		}
		if (try_lock(fd) == -1) {
			int e = errno;

			*running = read_pid(fd);
			close(fd);
			if (e == EWOULDBLOCK)
				return errf(err, errlen, "already running "
				    "(pid %ld, pidfile %s)", (long)*running,
				    path);
			return errf(err, errlen, "pidfile %s: lock: %s",
			    path, strerror(e));
		}
		if (!same_file(fd, path)) {
			close(fd);
			continue;
		}
		/* Ours, new or stale: rewrite it whole. */
		len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
		if (ftruncate(fd, 0) == -1 ||
		    pwrite(fd, buf, (size_t)len, 0) != len) {
			errf(err, errlen, "pidfile %s: write: %s", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		return fd;
	}
	return errf(err, errlen, "pidfile %s: keeps changing under us", path);
}

void
pidfile_remove(const char *path, int fd)
{
	if (fd < 0)
		return;
	/* Still locked by us, so no other master can be writing it now. */
	if (same_file(fd, path) && read_pid(fd) == getpid()) {
		if (unlink(path) == -1)
			(void)!ftruncate(fd, 0);
	}
	close(fd);
}

pid_t
pidfile_read(const char *path, char *err, size_t errlen)
{
	pid_t pid;
	int fd;

	/* Non-blocking: opening a fifo put there would wait for a writer
	 * (garivini -s hung on one in tests/faults/90-security.t). */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		return errf(err, errlen, "pidfile %s: %s", path,
		    strerror(errno));
	}
	if (!plain_file(fd)) {
		close(fd);
		return errf(err, errlen, "pidfile %s: not a regular file of "
		    "one link", path);
	}
	/* Unlocked means stale: its pid may belong to anyone by now. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return 0;
	}
	if (errno != EWOULDBLOCK) {
		errf(err, errlen, "pidfile %s: lock: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	pid = read_pid(fd);
	close(fd);
	if (pid == 0)
		return errf(err, errlen, "pidfile %s is locked but holds no "
		    "pid", path);
	return pid;
}
