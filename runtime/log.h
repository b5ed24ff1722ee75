/*
 * log: levelled log lines with a timestamp, the pid and the role, to stderr,
 * a file or syslog. Only the master and the workers log; library code never.
 *
 *   2026-11-22T17:50:01.123Z [12345] controller/3 info: started
 *
 * log_warn and log_err append strerror(errno); log_warnx and log_errx do not.
 * fatal/fatalx log at the "err" level and exit(1).
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <sys/types.h>

#include "log_level.h"

/* target: NULL or "stderr", "syslog", or a file path (opened for append).
 * Returns 0, or -1 with errno set (the previous target stays). A file path
 * that is a symbolic link fails with ELOOP, a regular file with more than
 * one name with EMLINK: neither is followed. */
int log_open(const char *target);
/* Reopen the same file after rotation. No-op for stderr and syslog. */
int log_reopen(void);
/* Give the open log file to uid:gid (fchown); 0 for stderr and syslog. */
int log_chown(uid_t uid, gid_t gid);
void log_set_level(int level);
int log_get_level(void);
/* "master", "queue_runner/2", ...: the rest of each line's prefix. */
void log_set_role(const char *role, int slot);
void log_close(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
