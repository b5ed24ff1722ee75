/*
 * log: one line per event, to stderr, a file or syslog.
 *
 * Each line goes out in a single write() on an O_APPEND descriptor, so the
 * children that share the master's log file never interleave their lines.
 * Lines below the level are dropped before anything is formatted. Logging
 * and log_reopen may run in different threads; log_open, log_set_role and
 * log_close may not run concurrently with logging.
 */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_MSG_MAX 8192        /* a message is cut here: one event, one line */
#define LOG_ROLE_MAX 64

enum log_target { TARGET_STDERR, TARGET_FILE, TARGET_SYSLOG };


static const int level_priorities[] = {
	[LOG_LEVEL_ERR] = LOG_ERR,
	[LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_NOTICE] = LOG_NOTICE,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};


/* Set by the heartbeat of any thread (the master's level, through the
 * scoreboard) and read by every log call: relaxed, since a line logged at
 * the old level an instant after a change is harmless. */
static atomic_int log_level = LOG_LEVEL_INFO;
static enum log_target log_target = TARGET_STDERR;
static int log_fd = -1;                 /* TARGET_FILE */
static char *log_path;                  /* TARGET_FILE, for log_reopen */
static char log_role[LOG_ROLE_MAX] = "garivini";
/* openlog() keeps the pointer, so the ident must outlive it; a copy of the
 * role, since the role changes after fork while syslog may still be open. */
static char log_ident[LOG_ROLE_MAX];

/* The log's directory may be writable by the service user, who could plant
 * a link there to a file that root (the master, before it drops privileges)
 * would then append to and hand over with log_chown. So a symbolic link is
 * not followed (ELOOP), and a regular file with another name is refused
 * (EMLINK): a log file has one name. Devices such as /dev/null still work. */
static int
open_file(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
	    0640);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || (S_ISREG(st.st_mode) && st.st_nlink > 1)) {
		close(fd);
		errno = EMLINK;
		return -1;
	}
	return fd;
}

static void
open_syslog(void)
{
	memcpy(log_ident, log_role, sizeof(log_ident));
	openlog(log_ident, LOG_PID, LOG_DAEMON);
}

/* Drop the current target, leaving stderr. */
static void
close_target(void)
{
	if (log_target == TARGET_FILE) {
		close(log_fd);
		free(log_path);
		log_fd = -1;
		log_path = NULL;
	} else if (log_target == TARGET_SYSLOG)
		closelog();
	log_target = TARGET_STDERR;
}

int
log_open(const char *target)
{
	char *path;
	int fd;

	if (target == NULL || strcmp(target, "stderr") == 0) {
		close_target();
		return 0;
	}
	if (strcmp(target, "syslog") == 0) {
		close_target();
		open_syslog();
		log_target = TARGET_SYSLOG;
		return 0;
	}
	if ((fd = open_file(target)) == -1)
		return -1;
	if ((path = strdup(target)) == NULL) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	close_target();
	log_fd = fd;
	log_path = path;
	log_target = TARGET_FILE;
	return 0;
}

/* After logrotate moved the file away: a new file at the same path. The old
 * descriptor stays until the new one is open, so a failure loses nothing.
 * The new file takes the old descriptor's number (dup3 replaces it in one
 * step) because the child's watcher thread reopens while the main thread may
 * be writing: a write then goes to the old file or the new one, never to a
 * closed descriptor or to one the number was reused for. */
int
log_reopen(void)
{
	int fd, saved;

	if (log_target != TARGET_FILE)
		return 0;
	if ((fd = open_file(log_path)) == -1)
		return -1;
	if (dup3(fd, log_fd, O_CLOEXEC) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	return 0;
}

/* Through the descriptor: the name may have been replaced since it was
 * opened, and chown() by name would follow whatever is there now. */
int
log_chown(uid_t uid, gid_t gid)
{
	if (log_target != TARGET_FILE)
		return 0;
	return fchown(log_fd, uid, gid);
}

void
log_set_level(int level)
{
	if (level < 0)
		level = 0;
	if (level >= LOG_LEVELS)
		level = LOG_LEVELS - 1;
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int
log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

void
log_set_role(const char *role, int slot)
{
	if (role == NULL)
		role = "garivini";
	if (slot < 0)
		snprintf(log_role, sizeof(log_role), "%s", role);
	else
		snprintf(log_role, sizeof(log_role), "%s/%d", role, slot);
	if (log_target == TARGET_SYSLOG) {
		closelog();
		open_syslog();
	}
}

void
log_close(void)
{
	close_target();
}

static void
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return;         /* nowhere left to complain */
		}
		p += n;
		len -= (size_t)n;
	}
}

static void
timestamp(char *out, size_t outlen)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, outlen - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void __attribute__((format(printf, 3, 0)))
log_emit(int level, int with_errno, const char *fmt, va_list ap)
{
	char msg[LOG_MSG_MAX], line[LOG_MSG_MAX + 512], when[40];
	const char *reason = "";
	int saved = errno, n;
	char *p;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		snprintf(msg, sizeof(msg), "(unprintable message: %s)", fmt);
	else if ((size_t)n >= sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	for (p = msg; (p = strpbrk(p, "\r\n")) != NULL; p++)
		*p = ' ';
	if (with_errno)
		reason = strerror(saved);

	if (log_target == TARGET_SYSLOG) {
		syslog(level_priorities[level], "%s%s%s", msg,
		    with_errno ? ": " : "", reason);
	} else {
		timestamp(when, sizeof(when));
		n = snprintf(line, sizeof(line), "%s [%ld] %s %s: %s%s%s\n",
		    when, (long)getpid(), log_role, log_level_name(level), msg,
		    with_errno ? ": " : "", reason);
		if (n < 0)
			goto out;
		if ((size_t)n >= sizeof(line)) {
			n = (int)sizeof(line) - 1;
			line[n - 1] = '\n';
		}
		write_all(log_target == TARGET_FILE ? log_fd : STDERR_FILENO,
		    line, (size_t)n);
	}
out:
	errno = saved;
}

/* The level test comes first: a debug line costs one comparison when off. */
#define LOG_AT(level, with_errno) do {                  \
	va_list ap;                                     \
	if ((level) > log_get_level())                  \
		return;                                 \
	va_start(ap, fmt);                              \
	log_emit((level), (with_errno), fmt, ap);       \
	va_end(ap);                                     \
} while (0)

void
log_debug(const char *fmt, ...)
{
	LOG_AT(LOG_LEVEL_DEBUG, 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_AT(LOG_LEVEL_INFO, 0);
}

void
log_notice(const char *fmt, ...)
{
	LOG_AT(LOG_LEVEL_NOTICE, 0);
}

void
log_warn(const char *fmt, ...)
{
	LOG_AT(LOG_LEVEL_WARN, 1);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_AT(LOG_LEVEL_WARN, 0);
}

void
log_err(const char *fmt, ...)
{
	LOG_AT(LOG_LEVEL_ERR, 1);
}

void
log_errx(const char *fmt, ...)
{
	LOG_AT(LOG_LEVEL_ERR, 0);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
