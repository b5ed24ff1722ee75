/*
 * fdlimit: the open files (RLIMIT_NOFILE) a child of an INI needs, and
 * raising the soft limit to that, or saying why it cannot be.
 *
 * Every connection of a role is a descriptor: a Controller keeps one per
 * gearmand for each slot, so concurrency 1024 with a few gearmands is far
 * past the soft limit of 1024 that systemd and most shells give, and EMFILE
 * would then look like a sick gearmand, job after job. The INI is refused
 * instead, with the number needed, when the hard limit is below it.
 */
#ifndef FDLIMIT_H
#define FDLIMIT_H

#include <stddef.h>

#include "config.h"

/* The descriptors one child of role needs under cfg (the formula is in
 * fdlimit.c and garivini.ini(5), DESCRIPTORS). */
long fdlimit_need(const struct config *cfg, enum config_role role);

/* Raise this process's soft limit to what a child of role needs, or of
 * every role with processes when role is CONFIG_NROLES (the master: its
 * children inherit it). Never lowers it. 0, with what was done in note
 * (empty when nothing was); or -1 with the number needed and the hard
 * limit in err, the limit left as it was. */
int fdlimit_raise(const struct config *cfg, enum config_role role,
    char *note, size_t notelen, char *err, size_t errlen);

#endif
