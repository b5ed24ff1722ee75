/*
 * gm_admin: gearmand's admin text protocol (on its job port, lines ending
 * in \r\n; libgearman has no C API for it), of which Garivini uses only
 * `status`: FUNC \t TOTAL \t RUNNING \t WORKERS per function, then ".".
 * It reads counters only (about 1 ms with a million jobs queued), unlike
 * `prioritystatus` and `show jobs`, which walk every job and stall dispatch:
 * never poll those. One connection per gearmand, kept open across requests
 * and read without blocking, so a pool can ask all its servers at once
 * (gm.c gm_pool_depths).
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gm_admin.h"
#include "util.h"

/* Connect with a deadline: a server that drops SYNs must not hold a
 * QueueRunner for the kernel's connect timeout of minutes. */
static int
connect_deadline(const struct config_server *srv, double deadline, char *err,
    size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	struct pollfd pfd;
	socklen_t sl;
	int fd = -1, rc, soerr = 0, ms;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", srv->port);
	if ((rc = getaddrinfo(srv->host, port, &hints, &res)) != 0)
		return errf(err, errlen, "gearmand %s:%u: %s", srv->host,
		    srv->port, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			ms = (int)((deadline - time_mono()) * 1000);
			if (ms < 0)
				ms = 0;
			if (poll(&pfd, 1, ms) == 1) {
				sl = sizeof(soerr);
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
				    &sl) == 0 && soerr == 0)
					break;
				errno = soerr;
			} else
				errno = ETIMEDOUT;
		}
		soerr = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		return errf(err, errlen, "gearmand %s:%u: connect: %s",
		    srv->host, srv->port, strerror(soerr ? soerr : ETIMEDOUT));
	return fd;
}

static int
depths_add(struct gm_depths *out, const char *func, size_t funclen,
    long waiting, long workers)
{
	struct gm_depth *items;

	items = realloc(out->items, (out->n + 1) * sizeof(*items));
	if (items == NULL)
		return -1;
	out->items = items;
	if ((items[out->n].funcname = strndup(func, funclen)) == NULL)
		return -1;
	items[out->n].waiting = waiting < 0 ? 0 : waiting;
	items[out->n].workers = workers;
	out->n++;
	return 0;
}

/*
 * One line of `status`: FUNC \t TOTAL \t RUNNING \t WORKERS. Function names
 * are data: gearmand prints them as they are, so a name may hold tabs or
 * start with "ERR". The three counters are therefore taken from the right
 * and the name is whatever precedes them. -1 when the line is not of that
 * shape (the caller then decides whether it is gearmand's error line).
 */
static int
parse_status_line(struct gm_depths *out, const char *line, size_t len,
    char *err, size_t errlen)
{
	char num[3][24];
	const char *end = line + len, *tab;
	long total, running, workers;
	size_t k, n;

	for (k = 3; k-- > 0;) {
		for (tab = end; tab > line && tab[-1] != '\t'; tab--)
			;
		if (tab == line)
			return errf(err, errlen, "unexpected status line "
			    "\"%.*s\"", (int)(len > 80 ? 80 : len), line);
		n = (size_t)(end - tab);
		if (n == 0 || n >= sizeof(num[k]))
			return errf(err, errlen, "unexpected status line "
			    "\"%.*s\"", (int)(len > 80 ? 80 : len), line);
		memcpy(num[k], tab, n);
		num[k][n] = '\0';
		end = tab - 1;
	}
	if (end == line ||
	    parse_long(num[0], 0, LONG_MAX, &total) == -1 ||
	    parse_long(num[1], 0, LONG_MAX, &running) == -1 ||
	    parse_long(num[2], 0, LONG_MAX, &workers) == -1)
		return errf(err, errlen, "unexpected status line \"%.*s\"",
		    (int)(len > 80 ? 80 : len), line);
	if (depths_add(out, line, (size_t)(end - line), total - running,
	    workers) == -1)
		return errf(err, errlen, "out of memory");
	return 0;
}

void
gm_admin_init(struct gm_admin *a)
{
	memset(a, 0, sizeof(*a));
	a->fd = -1;
}

void
gm_admin_close(struct gm_admin *a)
{
	if (a->fd != -1)
		close(a->fd);
	a->fd = -1;
	buf_reset(&a->in);
	a->off = 0;
	gm_depths_free(&a->pending);
	a->awaiting = 0;
	a->reused = 0;
}

void
gm_admin_free(struct gm_admin *a)
{
	gm_admin_close(a);
	buf_free(&a->in);
}

int
gm_admin_fd(const struct gm_admin *a)
{
	return a->awaiting ? a->fd : -1;
}

double
gm_admin_sent_at(const struct gm_admin *a)
{
	return a->awaiting ? a->sent_at : 0;
}

int
gm_admin_send(struct gm_admin *a, const struct config_server *srv,
    double deadline, char *err, size_t errlen)
{
	static const char cmd[] = "status\r\n";
	ssize_t r;

	if (a->fd == -1) {
		if ((a->fd = connect_deadline(srv, deadline, err, errlen)) ==
		    -1)
			return -1;
		a->reused = 0;
	} else
		a->reused = 1;
	buf_reset(&a->in);
	a->off = 0;
	gm_depths_free(&a->pending);
	/* Eight bytes on an idle connection always fit the socket buffer. */
	r = send(a->fd, cmd, sizeof(cmd) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (r != (ssize_t)sizeof(cmd) - 1) {
		errf(err, errlen, "gearmand %s:%u: send: %s", srv->host,
		    srv->port, r == -1 ? strerror(errno) : "short write");
		gm_admin_close(a);
		return -1;
	}
	a->awaiting = 1;
	a->sent_at = time_mono();
	return 0;
}

int
gm_admin_read(struct gm_admin *a, const struct config_server *srv,
    struct gm_depths *out, char *err, size_t errlen)
{
	char chunk[4096], *nl;
	size_t start, len;
	ssize_t r;
	int closed = 0;
	/* Nothing of the answer yet, on a connection that answered before. */
	int idle_died = a->reused && a->in.len == 0 && a->pending.n == 0;

	/* The lines that came before a close are read first: an answer and
	 * the end of the connection can both be waiting by the time this
	 * runs (seen under load: a malformed answer reported as a close). */
	for (;;) {
		r = recv(a->fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r == -1) {
			errf(err, errlen, "gearmand %s:%u: recv: %s",
			    srv->host, srv->port, strerror(errno));
			goto fail;
		}
		if (r == 0) {
			closed = 1;
			break;
		}
		if (buf_append(&a->in, chunk, (size_t)r) == -1) {
			errf(err, errlen, "out of memory");
			goto fail;
		}
	}
	while ((nl = memchr(a->in.data + a->off, '\n', a->in.len - a->off)) !=
	    NULL) {
		start = a->off;
		a->off = (size_t)(nl - a->in.data) + 1;
		len = (size_t)(nl - (a->in.data + start));
		if (len > 0 && a->in.data[start + len - 1] == '\r')
			len--;
		if (len == 1 && a->in.data[start] == '.') {
			gm_depths_free(out);
			*out = a->pending;
			a->pending = (struct gm_depths){ NULL, 0 };
			a->awaiting = 0;
			buf_reset(&a->in);
			a->off = 0;
			return 1;
		}
		if (parse_status_line(&a->pending, a->in.data + start, len, err,
		    errlen) == -1) {
			/* Only a line that is no status line may be
			 * gearmand's "ERR code text". */
			if (len >= 4 && strncmp(a->in.data + start, "ERR ", 4) ==
			    0)
				errf(err, errlen, "gearmand %s:%u: %.*s",
				    srv->host, srv->port, (int)len,
				    a->in.data + start);
			goto fail;
		}
	}
	if (!closed)
		return 0;
	errf(err, errlen, "gearmand %s:%u: connection closed before the end "
	    "of status", srv->host, srv->port);
fail:
	gm_admin_close(a);
	return idle_died ? -2 : -1;
}

int
gm_admin_status(const struct config_server *srv, double timeout,
    struct gm_depths *out, char *err, size_t errlen)
{
	struct gm_admin a;
	double deadline = time_mono() + timeout;
	struct pollfd pfd;
	int ms, rc = 0;

	gm_admin_init(&a);
	out->items = NULL;
	out->n = 0;
	if (gm_admin_send(&a, srv, deadline, err, errlen) == -1)
		goto out;
	pfd.fd = a.fd;
	pfd.events = POLLIN;
	while (rc == 0) {
		ms = (int)((deadline - time_mono()) * 1000);
		if (ms <= 0) {
			errf(err, errlen, "gearmand %s:%u: status timed out",
			    srv->host, srv->port);
			rc = -1;
			break;
		}
		if (poll(&pfd, 1, ms) == -1 && errno != EINTR) {
			rc = errf(err, errlen, "poll: %s", strerror(errno));
			break;
		}
		rc = gm_admin_read(&a, srv, out, err, errlen);
	}
out:
	gm_admin_free(&a);
	if (rc != 1) {
		gm_depths_free(out);
		return -1;
	}
	return 0;
}

static const struct gm_depth *
depth_of(const struct gm_depths *d, const char *funcname)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->items[i].funcname, funcname) == 0)
			return &d->items[i];
	return NULL;
}

int
gm_depths_add(struct gm_depths *d, const char *funcname, long n)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->items[i].funcname, funcname) == 0) {
			d->items[i].waiting += n;
			return 0;
		}
	if (depths_add(d, funcname, strlen(funcname), 0, 0) == -1)
		return -1;
	d->items[d->n - 1].waiting = n;
	return 0;
}

long
gm_depths_get(const struct gm_depths *d, const char *funcname)
{
	const struct gm_depth *x = depth_of(d, funcname);

	return x ? x->waiting : 0;
}

long
gm_depths_workers(const struct gm_depths *d, const char *funcname)
{
	const struct gm_depth *x = depth_of(d, funcname);

	return x ? x->workers : 0;
}

void
gm_depths_free(struct gm_depths *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->items[i].funcname);
	free(d->items);
	d->items = NULL;
	d->n = 0;
}
