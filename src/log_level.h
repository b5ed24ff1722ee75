/*
 * log_level: the names of the log levels, which the configuration parses
 * and the log prints. Apart from log.c so that libgarivini, which reads
 * garivini.ini but never logs, does not carry the logger.
 */
#ifndef LOG_LEVEL_H
#define LOG_LEVEL_H

enum log_level {
	LOG_LEVEL_ERR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

#define LOG_LEVELS (LOG_LEVEL_DEBUG + 1)

/* "err", "warn", "notice", "info", "debug"; -1 if none of them. */
int log_level_parse(const char *name);
const char *log_level_name(int level);

#endif
