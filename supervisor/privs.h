/*
 * privs: dropping root for the configured user and group.
 */
#ifndef PRIVS_H
#define PRIVS_H

#include <stddef.h>
#include <sys/types.h>

struct privs {
	int drop;       /* 1: running as root with user or group set */
	uid_t uid;
	gid_t gid;
};

/* Resolve user and group (either may be NULL). p->drop is 0 when not root
 * or neither is set. -1 with err set if a name does not resolve. */
int privs_lookup(const char *user, const char *group, struct privs *p,
    char *err, size_t errlen);
/* setgroups, setgid, setuid, for good. -1 with err set on failure (the
 * caller must not go on as root). */
int privs_drop(const struct privs *p, char *err, size_t errlen);

#endif
