/*
 * proctitle: what `ps` shows for this process.
 *
 * The master and every child run the same command line, so without this
 * `ps` shows identical lines. Linux shows a process's command line from
 * the memory its argv strings were given in, which the environment's
 * strings follow; so, as nginx and php-fpm do, the argv and environment
 * strings are copied elsewhere at start-up and that memory becomes the
 * title. The process name (comm, used by pidof and killall) stays
 * "garivini".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proctitle.h"

#define PROCTITLE_PREFIX "garivini: "

extern char **environ;

static char *area;       /* the argv and environment strings, contiguous */
static size_t area_len;

/* Moves strings[0 .. n-1] to the heap. *end follows the strings that lie
 * one right after the other in the original memory, from the first. */
static int
move_strings(char **strings, size_t n, char **end)
{
	size_t i, len;
	char *copy;

	for (i = 0; i < n; i++) {
		len = strlen(strings[i]) + 1;
		if (strings[i] == *end)
			*end = strings[i] + len;
		if ((copy = malloc(len)) == NULL)
			return -1;
		memcpy(copy, strings[i], len);
		strings[i] = copy;
	}
	return 0;
}

int
proctitle_init(int argc, char **argv)
{
	char **env, *start, *end;
	size_t nenv = 0;

	if (argc < 1 || argv[0] == NULL)
		return -1;
	while (environ[nenv] != NULL)
		nenv++;
	/* The environment's pointer array is not in the area, only its
	 * strings: a copy of the array keeps getenv() and setenv() working
	 * once the strings have moved. */
	if ((env = malloc((nenv + 1) * sizeof(*env))) == NULL)
		return -1;
	memcpy(env, environ, (nenv + 1) * sizeof(*env));

	start = end = argv[0];
	if (move_strings(argv, (size_t)argc, &end) == -1 ||
	    move_strings(env, nenv, &end) == -1)
		return -1;
	environ = env;
	area = start;
	area_len = (size_t)(end - start);
	return 0;
}

void
proctitle_set(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (area == NULL || area_len < 2)
		return;
	memset(area, 0, area_len);
	n = snprintf(area, area_len, "%s", PROCTITLE_PREFIX);
	if (n < 0 || (size_t)n >= area_len - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(area + n, area_len - (size_t)n, fmt, ap);
	va_end(ap);
}
