/*
 * child: what a child of the master does between fork() and its role, and
 * the watcher thread that ties its life to the master's.
 */
#ifndef CHILD_H
#define CHILD_H

#include "config.h"
#include "role.h"
#include "scoreboard.h"

/* Master side, once before forking: the read end of the life pipe (the
 * master holds the only write end), and descriptors a child must not keep
 * (pidfile, the write end of the life pipe, the -d start-up pipe). */
void child_setup(int life_fd, const int *close_fds, size_t nclose,
    pid_t master);

/* In a new child (every signal blocked): reset the signals, drop the
 * master's descriptors, watch the master, run the role and _exit with its
 * code. */
void child_run(const struct role *role, const struct config *cfg, int slot,
    struct sb_slot *sb) __attribute__((noreturn));

/*
 * Start the watcher thread: it reopens the log on SIGUSR2 (the master sends
 * it after log rotation) and, if life_fd >= 0, stops the process when the
 * master goes away: SIGTERM to itself at once, _exit after grace seconds.
 * Call with every signal blocked. `garivini --role` calls it with -1.
 */
int child_watch(int life_fd, double grace, char *err, size_t errlen);

#endif
