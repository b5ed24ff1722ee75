/*
 * privs: giving up root, for good.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "privs.h"
#include "util.h"

int
privs_lookup(const char *user, const char *group, struct privs *p,
    char *err, size_t errlen)
{
	struct passwd *pw;
	struct group *gr;

	memset(p, 0, sizeof(*p));
	p->uid = geteuid();
	p->gid = getegid();
	if (p->uid != 0)
		return 0;
	if ((user == NULL || *user == '\0') && (group == NULL || *group == '\0'))
		return 0;
	if (user && *user) {
		errno = 0;
		if ((pw = getpwnam(user)) == NULL)
			return errf(err, errlen, "user %s: %s", user,
			    errno ? strerror(errno) : "no such user");
		p->uid = pw->pw_uid;
		p->gid = pw->pw_gid;
	}
	if (group && *group) {
		errno = 0;
		if ((gr = getgrnam(group)) == NULL)
			return errf(err, errlen, "group %s: %s", group,
			    errno ? strerror(errno) : "no such group");
		p->gid = gr->gr_gid;
	}
	p->drop = 1;
	return 0;
}

int
privs_drop(const struct privs *p, char *err, size_t errlen)
{
	if (!p->drop)
		return 0;
	/* Groups first: after setuid() we could no longer change them, and
	 * root's supplementary groups must not stay behind. */
	if (setgroups(1, &p->gid) == -1)
		return errf(err, errlen, "setgroups: %s", strerror(errno));
	if (setgid(p->gid) == -1)
		return errf(err, errlen, "setgid(%ld): %s", (long)p->gid,
		    strerror(errno));
	if (p->uid != 0 && setuid(p->uid) == -1)
		return errf(err, errlen, "setuid(%ld): %s", (long)p->uid,
		    strerror(errno));
	/* setuid() from root sets every uid; make sure root cannot come back. */
	if (p->uid != 0 && setuid(0) == 0)
		return errf(err, errlen, "could regain root after setuid");
	return 0;
}
