/*
 * daemon: `garivini -d`. The invoking process waits until the daemon says
 * its pools are up (or dies trying) and exits with the verdict, so an init
 * script that gets 0 knows the service runs.
 */
#ifndef DAEMON_H
#define DAEMON_H

#include <stddef.h>

/* Fork and start a session. In the daemon returns the write end of the
 * report pipe; the original process never returns: it exits 0 once the
 * daemon reports ready, or with the daemon's exit code (1 if it died of a
 * signal) if it ends first. -1 with err set if fork failed. */
int daemon_start(char *err, size_t errlen);
/* Standard input and output to /dev/null (before forking children, which
 * would otherwise keep the invoker's terminal or pipe open). */
int daemon_detach_stdio(void);
/* Tell the waiting process: 0 = up, else its exit code. Closes fd. */
void daemon_report(int fd, int code);

#endif
