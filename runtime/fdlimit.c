/*
 * fdlimit: what an INI needs of RLIMIT_NOFILE.
 *
 * Per child, with S gearmand servers, D databases and C the role's
 * concurrency (everything a role keeps open at its busiest):
 *
 *   QueueRunner  2D + 2S         a connection per database and its probe's
 *                                (dbreach); a client and a `status`
 *                                connection per gearmand
 *   Injector     D + C x (D + 3S) the probes' database connections; each
 *                                thread: its database connections, and
 *                                per gearmand its worker, its client and its
 *                                `status` connection
 *   Controller   3D + S          the slots', the flusher's and the probe's
 *                                database connections, the worker's
 *                                connection per gearmand
 *              + C x (S + 2)     each slot: a connection per gearmand it
 *                                used, and two of a moment (a job status
 *                                question, a `status` read)
 *
 * plus a quarter of that for what the libraries open on their own (the
 * resolver, a reconnect that opens before the old socket is closed), plus
 * FDLIMIT_BASE for stdio, the log, the pipes to the master and syslog.
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "fdlimit.h"
#include "util.h"

#define FDLIMIT_BASE 32

long
fdlimit_need(const struct config *cfg, enum config_role role)
{
	long s = (long)cfg->nservers, d = (long)cfg->ndbs, n = 0;

	switch (role) {
	case CONFIG_QUEUE_RUNNER:
		n = 2 * d + 2 * s;
		break;
	case CONFIG_INJECTOR:
		n = d + (long)cfg->injector.concurrency * (d + 3 * s);
		break;
	case CONFIG_CONTROLLER:
		n = 3 * d + s + (long)cfg->controller.concurrency * (s + 2);
		break;
	case CONFIG_NROLES:
		break;
	}
	return FDLIMIT_BASE + n + n / 4;
}

int
fdlimit_raise(const struct config *cfg, enum config_role role, char *note,
    size_t notelen, char *err, size_t errlen)
{
	enum config_role r, worst = CONFIG_NROLES;
	struct rlimit rl;
	long need = 0, n;

	if (notelen)
		note[0] = '\0';
	for (r = 0; r < CONFIG_NROLES; r++) {
		if (role == CONFIG_NROLES ? config_processes(cfg,
		    config_role_name(r)) == 0 : r != role)
			continue;
		if ((n = fdlimit_need(cfg, r)) > need) {
			need = n;
			worst = r;
		}
	}
	if (worst == CONFIG_NROLES)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return errf(err, errlen, "getrlimit: %s", strerror(errno));
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)need)
		return errf(err, errlen, "a %s needs %ld open files with "
		    "this configuration, and the hard limit is %llu: raise "
		    "it (ulimit -n, LimitNOFILE= of the service) or lower "
		    "[%s] concurrency (garivini.ini(5), DESCRIPTORS)",
		    config_role_name(worst), need,
		    (unsigned long long)rl.rlim_max, config_role_name(worst));
	if (notelen)
		snprintf(note, notelen, "raised the open files limit from "
		    "%llu to %ld (a %s needs that)",
		    (unsigned long long)rl.rlim_cur, need,
		    config_role_name(worst));
	rl.rlim_cur = (rlim_t)need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return errf(err, errlen, "raising the open files limit to "
		    "%ld: %s", need, strerror(errno));
	return 0;
}
