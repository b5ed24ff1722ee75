/*
 * pidfile: the master's pid, locked (flock) for as long as it runs. The lock,
 * not the file's existence, says whether a master runs: a file left by a
 * crash is not locked and is taken over.
 */
#ifndef PIDFILE_H
#define PIDFILE_H

#include <sys/types.h>

/* Create (O_EXCL) or take over a stale pidfile, lock it and write our pid.
 * Returns the locked descriptor (close-on-exec; keep it open), or -1 with err
 * set; *running gets the pid of a live master holding it (0 if none). */
int pidfile_create(const char *path, pid_t *running, char *err,
    size_t errlen);
/* At exit: unlink path if it still holds our pid (else leave it), then
 * close fd. If the directory is no longer writable (privileges dropped), the
 * file is emptied instead, so no stale pid is left. */
void pidfile_remove(const char *path, int fd);
/* The pid of the master holding path's lock: > 0, or 0 if none runs (no
 * file, or not locked), or -1 with err set. */
pid_t pidfile_read(const char *path, char *err, size_t errlen);

#endif
