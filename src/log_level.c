/*
 * log_level: level names.
 */
#include <string.h>

#include "log_level.h"

static const char *const level_names[LOG_LEVELS] = {
	[LOG_LEVEL_ERR] = "err",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_NOTICE] = "notice",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

int
log_level_parse(const char *name)
{
	int i;

	for (i = 0; i < LOG_LEVELS; i++)
		if (name && strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

const char *
log_level_name(int level)
{
	if (level < 0 || level >= LOG_LEVELS)
		return "unknown";
	return level_names[level];
}
