/*
 * master: the garivini master process. Start-up (pidfile, log, privileges,
 * scoreboard), the main loop on sigsuspend(), reload, stop, status.
 */
#ifndef MASTER_H
#define MASTER_H

#include "config.h"
#include "role.h"

/* Run the master on cfg (owned from here on), loaded from path, with a pool
 * for each of roles (ended by a NULL main). daemonize: detach first (-d).
 * Returns the process exit code. */
int master_run(struct config *cfg, const char *path, int daemonize,
    const struct role *roles);

#endif
