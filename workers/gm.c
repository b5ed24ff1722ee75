/*
 * gm: one gearman client per gearmand, the stable choice of a server for a
 * job, pipelined background submits, the admin `status` command, unique keys
 * that fit gearmand, and the workers of the roles.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "gm.h"
#include "log.h"
#include "util.h"

/* A submit or reply that takes longer than this means the server is stuck:
 * without a timeout run_tasks would wait for it forever. */
#define GM_CLIENT_TIMEOUT_MS 3000
#define GM_BACKOFF_MIN 0.5
#define GM_BACKOFF_MAX 30.0
#define GM_WORK_BACKOFF_MAX 10.0  /* a worker waiting for gearmand */
#define GM_WORK_WAIT_MS 1000      /* how often the stop flag is looked at */
/* gearmand answers `status` from counters in about a millisecond, even with
 * a million jobs queued. A round waits this long for the answers it asked
 * for, and a server that has not answered by then gets no jobs until it
 * does; one that has not answered in GM_STATUS_TIMEOUT is failed (backoff),
 * like a server whose submit failed. */
#define GM_STATUS_WAIT 0.5
#define GM_STATUS_TIMEOUT 2.0
/* A second seed for the long unique key digest: two independent 64-bit
 * hashes make an accidental collision of distinct keys negligible. */
#define GM_UNIQUE_SEED2 0x84222325cbf29ce4ULL

/* An admin connection kept open across reads of `status`. */
struct gm_admin {
	int fd;                      /* -1: not connected */
	struct buf in;               /* the answer so far */
	size_t off;                  /* lines before off are parsed */
	struct gm_depths pending;    /* the answer's lines so far */
	int awaiting;                /* a request is unanswered */
	int reused;                  /* the connection answered before */
	double sent_at;              /* time_mono() of the request */
};

struct gm_server {
	struct config_server srv;
	struct gm_admin admin;
	uint64_t weight_seed;        /* hash of host:port, for rendezvous */
	gearman_client_st *client;   /* NULL until needed, and after a failure */
	struct backoff backoff;      /* not used until it ends */
};

struct gm_pool {
	struct gm_server *servers;
	size_t n;
};

static void admin_close(struct gm_admin *a);

struct gm_pool *
gm_pool_new(const struct config_server *servers, size_t n, char *err,
    size_t errlen)
{
	struct gm_pool *pool;
	char name[300];
	size_t i;
	int len;

	if (n == 0) {
		errf(err, errlen, "no gearman servers configured");
		return NULL;
	}
	if ((pool = calloc(1, sizeof(*pool))) == NULL ||
	    (pool->servers = calloc(n, sizeof(*pool->servers))) == NULL) {
		free(pool);
		errf(err, errlen, "out of memory");
		return NULL;
	}
	pool->n = n;
	for (i = 0; i < n; i++) {
		pool->servers[i].srv = servers[i];
		len = snprintf(name, sizeof(name), "%s:%u", servers[i].host,
		    servers[i].port);
		pool->servers[i].weight_seed = hash_fnv1a(HASH_SEED, name,
		    (size_t)len);
		pool->servers[i].admin.fd = -1;
	}
	return pool;
}

void
gm_pool_free(struct gm_pool *pool)
{
	size_t i;

	if (pool == NULL)
		return;
	for (i = 0; i < pool->n; i++) {
		if (pool->servers[i].client)
			gearman_client_free(pool->servers[i].client);
		admin_close(&pool->servers[i].admin);
		buf_free(&pool->servers[i].admin.in);
	}
	free(pool->servers);
	free(pool);
}

size_t
gm_pool_count(const struct gm_pool *pool)
{
	return pool->n;
}

const struct config_server *
gm_pool_server(const struct gm_pool *pool, size_t i)
{
	return &pool->servers[i].srv;
}

/* FNV-1a alone mixes its last bytes poorly into the high bits; a splitmix64
 * finaliser makes every bit of the weight depend on the whole key, so the
 * comparison of weights spreads keys evenly. */
static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

size_t
gm_pool_choose(struct gm_pool *pool, const void *key, size_t keylen)
{
	double now = time_mono();
	uint64_t w, best_w = 0;
	size_t i, best = 0;
	int any_healthy = 0, found = 0;

	for (i = 0; i < pool->n; i++)
		if (gm_pool_healthy(pool, i, now))
			any_healthy = 1;
	for (i = 0; i < pool->n; i++) {
		if (any_healthy && !gm_pool_healthy(pool, i, now))
			continue;
		w = mix64(hash_fnv1a(pool->servers[i].weight_seed, key,
		    keylen));
		if (!found || w > best_w) {
			best = i;
			best_w = w;
			found = 1;
		}
	}
	return best;
}

/* Not backing off, and not sitting on a `status` request it has not
 * answered in the time it always takes: a gearmand that is stopped or stuck
 * still accepts connections, and would hold every submit sent to it for the
 * client timeout. */
int
gm_pool_healthy(const struct gm_pool *pool, size_t i, double now)
{
	const struct gm_server *s = &pool->servers[i];

	return !backoff_waiting(&s->backoff, now) && !(s->admin.awaiting &&
	    now - s->admin.sent_at >= GM_STATUS_WAIT);
}

void
gm_pool_failed(struct gm_pool *pool, size_t i)
{
	struct gm_server *s = &pool->servers[i];
	double now = time_mono();

	/* A client that saw an error is not reused: in libgearman 1.1.20
	 * its next run_tasks can spin. */
	if (s->client) {
		gearman_client_free(s->client);
		s->client = NULL;
	}
	admin_close(&s->admin);
	/* A failure long after the last backoff ended is a new outage, not
	 * the same one going on: it starts from the shortest pause again. */
	if (now - s->backoff.until > GM_BACKOFF_MAX)
		backoff_reset(&s->backoff);
	backoff_fail(&s->backoff, now, GM_BACKOFF_MIN, GM_BACKOFF_MAX);
}

static gearman_return_t
task_created(gearman_task_st *task)
{
	struct gm_task *t = gearman_task_context(task);

	/* JOB_CREATED is gearmand's acknowledgement of a background job:
	 * from here on the job is queued there. */
	if (t)
		t->ok = 1;
	return GEARMAN_SUCCESS;
}

static gearman_client_st *
server_client(struct gm_server *s, char *err, size_t errlen)
{
	gearman_client_st *c;
	gearman_return_t ret;

	if (s->client)
		return s->client;
	if ((c = gearman_client_create(NULL)) == NULL) {
		errf(err, errlen, "gearman_client_create failed");
		return NULL;
	}
	ret = gearman_client_add_server(c, s->srv.host, (in_port_t)s->srv.port);
	if (ret != GEARMAN_SUCCESS) {
		errf(err, errlen, "gearmand %s:%u: %s", s->srv.host,
		    s->srv.port, gearman_client_error(c));
		gearman_client_free(c);
		return NULL;
	}
	gearman_client_set_timeout(c, GM_CLIENT_TIMEOUT_MS);
	/* Without FREE_TASKS every reply is matched by a scan of all the
	 * tasks of the batch: quadratic in the batch size. */
	gearman_client_add_options(c, GEARMAN_CLIENT_FREE_TASKS);
	gearman_client_set_created_fn(c, task_created);
	s->client = c;
	return c;
}

/* Add a background task at gearmand's priority for priority (see struct
 * gm_task). */
static gearman_task_st *
add_background(gearman_client_st *c, struct gm_task *t, gearman_return_t *ret)
{
	if (t->priority > 0)
		return gearman_client_add_task_high_background(c, NULL, t,
		    t->funcname, t->unique, t->workload, t->len, ret);
	if (t->priority < 0)
		return gearman_client_add_task_low_background(c, NULL, t,
		    t->funcname, t->unique, t->workload, t->len, ret);
	return gearman_client_add_task_background(c, NULL, t, t->funcname,
	    t->unique, t->workload, t->len, ret);
}

/* One pipelined run of the tasks not yet accepted. 0, or -1 on any error
 * of the client (then it must not be reused); *timed_out is set when the
 * error is that gearmand did not answer in time. */
static int
submit_once(struct gm_server *s, struct gm_task *tasks, size_t n,
    int *timed_out, char *err, size_t errlen)
{
	gearman_client_st *c;
	gearman_return_t ret;
	size_t k;

	if ((c = server_client(s, err, errlen)) == NULL)
		return -1;
	/* libgearman prepends each task to its list, so the batch goes out
	 * last-added first: adding in reverse keeps the caller's order. */
	for (k = n; k-- > 0;) {
		if (tasks[k].ok)
			continue;
		if (add_background(c, &tasks[k], &ret) == NULL) {
			errf(err, errlen, "gearmand %s:%u: adding a task: %s",
			    s->srv.host, s->srv.port, gearman_client_error(c));
			gearman_client_task_free_all(c);
			return -1;
		}
	}
	ret = gearman_client_run_tasks(c);
	gearman_client_task_free_all(c);
	*timed_out = ret == GEARMAN_TIMEOUT;
	if (ret != GEARMAN_SUCCESS)
		return errf(err, errlen, "gearmand %s:%u: %s", s->srv.host,
		    s->srv.port, gearman_client_error(c));
	return 0;
}

int
gm_submit_background(struct gm_pool *pool, size_t i, struct gm_task *tasks,
    size_t n, char *err, size_t errlen)
{
	struct gm_server *s = &pool->servers[i];
	size_t k, accepted = 0;
	int reused, timed_out = 0;

	for (k = 0; k < n; k++)
		tasks[k].ok = tasks[k].unsure = 0;
	if (n == 0)
		return 0;
	reused = s->client != NULL;
	if (submit_once(s, tasks, n, &timed_out, err, errlen) == -1) {
		/* No answer in time is not a dead connection: gearmand got
		 * the tasks, or some of them, and may be stopped or slow.
		 * It can queue them when it wakes, so they are never sent
		 * again here (the same attempt queued twice runs twice). */
		if (!reused || timed_out)
			goto fail;
		/* A connection that died while idle (gearmand restarted)
		 * fails its first use: one try on a new connection, for the
		 * tasks not acknowledged, before the server is judged. What
		 * the old connection carried died with the old gearmand. */
		gearman_client_free(s->client);
		s->client = NULL;
		if (submit_once(s, tasks, n, &timed_out, err, errlen) == -1)
			goto fail;
	}
	for (k = 0; k < n; k++)
		accepted += tasks[k].ok != 0;
	backoff_reset(&s->backoff);
	return (int)accepted;

fail:
	for (k = 0; k < n; k++)
		tasks[k].unsure = timed_out && !tasks[k].ok;
	gm_pool_failed(pool, i);
	return -1;
}

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
status_line(struct gm_depths *out, const char *line, size_t len, char *err,
    size_t errlen)
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

static void
admin_close(struct gm_admin *a)
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

/* Send `status`, connecting first if there is no connection. */
static int
admin_send(struct gm_admin *a, const struct config_server *srv,
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
		admin_close(a);
		return -1;
	}
	a->awaiting = 1;
	a->sent_at = time_mono();
	return 0;
}

/* Read what has arrived. 1 when the answer is complete (then it replaces
 * *out), 0 when more is to come, -1 on error (the connection is closed). */
static int
admin_read(struct gm_admin *a, const struct config_server *srv,
    struct gm_depths *out, char *err, size_t errlen)
{
	char chunk[4096], *nl;
	size_t start, len;
	ssize_t r;
	int closed = 0;

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
		if (status_line(&a->pending, a->in.data + start, len, err,
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
	admin_close(a);
	return -1;
}

int
gm_admin_status(const struct config_server *srv, double timeout,
    struct gm_depths *out, char *err, size_t errlen)
{
	struct gm_admin a = { .fd = -1 };
	double deadline = time_mono() + timeout;
	struct pollfd pfd;
	int ms, rc = 0;

	out->items = NULL;
	out->n = 0;
	if (admin_send(&a, srv, deadline, err, errlen) == -1)
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
		rc = admin_read(&a, srv, out, err, errlen);
	}
out:
	admin_close(&a);
	buf_free(&a.in);
	if (rc != 1) {
		gm_depths_free(out);
		return -1;
	}
	return 0;
}

/* Take what has arrived on the connections with a request out, waiting up
 * to ms for it. fresh[i]: server i was asked in this call; *fresh_left
 * counts those not answered yet. -1 if a server failed (err says which). */
static int
admin_poll(struct gm_pool *pool, struct gm_depths *depths, const int *fresh,
    size_t *fresh_left, int ms, double deadline, char *err, size_t errlen)
{
	struct pollfd pfd[CONFIG_MAX_SERVERS];
	size_t idx[CONFIG_MAX_SERVERS], i, k, n = 0;
	int rc, failed = 0, reused, answered;

	for (i = 0; i < pool->n && n < CONFIG_MAX_SERVERS; i++) {
		struct gm_admin *a = &pool->servers[i].admin;

		if (a->fd == -1 || !a->awaiting)
			continue;
		pfd[n] = (struct pollfd){ .fd = a->fd, .events = POLLIN };
		idx[n++] = i;
	}
	if (n == 0 || poll(pfd, (nfds_t)n, ms < 0 ? 0 : ms) <= 0)
		return 0;
	for (k = 0; k < n; k++) {
		struct gm_server *s = &pool->servers[idx[k]];
		struct gm_admin *a = &s->admin;

		if (pfd[k].revents == 0)
			continue;
		reused = a->reused;
		answered = a->in.len > 0 || a->pending.n > 0;
		if ((rc = admin_read(a, &s->srv, &depths[idx[k]], err,
		    errlen)) == 0)
			continue;
		/* A kept connection that fails before a byte of the answer
		 * was most likely closed while idle (gearmand restarted):
		 * one new connection before the server is judged. */
		if (rc == -1 && fresh[idx[k]] && reused && !answered &&
		    admin_send(a, &s->srv, deadline, err, errlen) == 0)
			continue;
		if (rc == -1) {
			gm_pool_failed(pool, idx[k]);
			gm_depths_free(&depths[idx[k]]);
			failed = 1;
		}
		if (fresh[idx[k]])
			(*fresh_left)--;
	}
	return failed ? -1 : 0;
}

static int
ms_until(double deadline)
{
	double left = deadline - time_mono();

	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

int
gm_pool_depths(struct gm_pool *pool, struct gm_depths *depths, char *err,
    size_t errlen)
{
	double now = time_mono(), deadline = now + GM_STATUS_WAIT;
	int fresh[CONFIG_MAX_SERVERS] = { 0 }, failed = 0;
	size_t i, fresh_left = 0;

	for (i = 0; i < pool->n && i < CONFIG_MAX_SERVERS; i++) {
		struct gm_server *s = &pool->servers[i];

		if (backoff_waiting(&s->backoff, now)) {
			/* Backing off: not asked, and its jobs go to the
			 * others meanwhile. */
			gm_depths_free(&depths[i]);
			continue;
		}
		if (s->admin.awaiting) {
			/* An earlier request is out: taken below if it has
			 * come since, not waited for. */
			if (now - s->admin.sent_at < GM_STATUS_TIMEOUT)
				continue;
			errf(err, errlen, "gearmand %s:%u: no answer to status "
			    "in %.1f s", s->srv.host, s->srv.port,
			    GM_STATUS_TIMEOUT);
		} else if (admin_send(&s->admin, &s->srv, deadline, err,
		    errlen) == 0) {
			fresh[i] = 1;
			fresh_left++;
			continue;
		}
		gm_pool_failed(pool, i);
		gm_depths_free(&depths[i]);
		failed = 1;
	}
	/* GM_STATUS_WAIT from the last request sent, not from the start: a
	 * server still silent when the wait ends is one gm_pool_healthy
	 * already calls silent, however long the connects took
	 * (test_gm pool_depths_silent_server failed under ASan). */
	for (i = 0; i < pool->n && i < CONFIG_MAX_SERVERS; i++)
		if (fresh[i] && pool->servers[i].admin.sent_at +
		    GM_STATUS_WAIT > deadline)
			deadline = pool->servers[i].admin.sent_at +
			    GM_STATUS_WAIT;
	while (fresh_left > 0 && time_mono() < deadline)
		if (admin_poll(pool, depths, fresh, &fresh_left,
		    ms_until(deadline), deadline, err, errlen) == -1)
			failed = 1;
	/* Answers to earlier requests that came in the meantime. */
	if (admin_poll(pool, depths, fresh, &fresh_left, 0, deadline, err,
	    errlen) == -1)
		failed = 1;
	return failed ? -1 : 0;
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

const char *
gm_unique(const char *uniqkey, char *out)
{
	size_t len;

	if (uniqkey == NULL || *uniqkey == '\0')
		return NULL;
	len = strlen(uniqkey);
	if (len <= GV_GEARMAN_UNIQKEY_MAX) {
		memcpy(out, uniqkey, len + 1);
		return out;
	}
	/* gearmand rejects longer keys (and cuts 64 to 63). A digest keeps
	 * one key one gearman job, so duplicates still merge there. */
	snprintf(out, GV_GEARMAN_UNIQKEY_MAX + 1, "h:%016llx%016llx",
	    (unsigned long long)hash_fnv1a(HASH_SEED, uniqkey, len),
	    (unsigned long long)hash_fnv1a(GM_UNIQUE_SEED2, uniqkey, len));
	return out;
}

const char *
gm_job_target(enum gv_flag flag, const char *funcname)
{
	return flag == GV_FLAG_CONTROLLER ? GV_FUNC_RUN_QUEUED : funcname;
}

const char *
gm_job_unique(enum gv_flag flag, const char *funcname, const char *uniqkey,
    char *out)
{
	uint64_t a, b;

	if (flag != GV_FLAG_CONTROLLER || uniqkey == NULL || *uniqkey == '\0')
		return gm_unique(uniqkey, out);
	a = hash_fnv1a(HASH_SEED, funcname, strlen(funcname) + 1);
	a = hash_fnv1a(a, uniqkey, strlen(uniqkey));
	b = hash_fnv1a(GM_UNIQUE_SEED2, funcname, strlen(funcname) + 1);
	b = hash_fnv1a(b, uniqkey, strlen(uniqkey));
	snprintf(out, GV_GEARMAN_UNIQKEY_MAX + 1, "f:%016llx%016llx",
	    (unsigned long long)a, (unsigned long long)b);
	return out;
}

gearman_worker_st *
gm_worker_new(const struct config_server *servers, size_t n, int timeout_ms,
    char *err, size_t errlen)
{
	gearman_worker_st *w;
	size_t i;

	if ((w = gearman_worker_create(NULL)) == NULL) {
		errf(err, errlen, "gearman_worker_create failed");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (gearman_worker_add_server(w, servers[i].host,
		    (in_port_t)servers[i].port) != GEARMAN_SUCCESS) {
			errf(err, errlen, "gearmand %s:%u: %s", servers[i].host,
			    servers[i].port, gearman_worker_error(w));
			gearman_worker_free(w);
			return NULL;
		}
	}
	/* Signals do not interrupt gearman_worker_work(): the timeout is what
	 * lets the role look at its stop flag. */
	gearman_worker_set_timeout(w, timeout_ms);
	gearman_worker_add_options(w, GEARMAN_WORKER_GRAB_UNIQ);
	return w;
}

size_t
gm_pool_choose_job(struct gm_pool *pool, uint64_t jobid, unsigned dbid,
    const char *unique)
{
	char id[32];
	int n;

	if (unique)
		return gm_pool_choose(pool, unique, strlen(unique));
	n = snprintf(id, sizeof(id), "%llu:%u", (unsigned long long)jobid,
	    dbid);
	return gm_pool_choose(pool, id, (size_t)n);
}

int
gm_worker_define(gearman_worker_st *w, const char *function,
    gearman_function_t fn, void *context, char *err, size_t errlen)
{
	if (gearman_worker_define_function(w, function, strlen(function), fn,
	    0, context) != GEARMAN_SUCCESS)
		return errf(err, errlen, "registering %s: %s", function,
		    gearman_worker_error(w));
	return 0;
}

void
gm_flush(gv_client *gv, struct sb_slot *sb)
{
	size_t n = gv_pending(gv);

	if (n && gv_flush(gv) != GV_OK) {
		scoreboard_count(sb, SB_DB_ERRORS, 1);
		log_warnx("completing %zu jobs: %s; they run again when their "
		    "leases end", n, gv_errmsg(gv));
	}
}

void
gm_worker_serve(gearman_worker_st *w, volatile sig_atomic_t *stop,
    struct sb_slot *sb, void (*ready)(void *), void *arg)
{
	gearman_return_t ret;
	double backoff = 0;

	while (!*stop) {
		scoreboard_heartbeat(sb);
		if (ready) {
			ready(arg);
			if (*stop)
				break;
		}
		gearman_worker_set_timeout(w, GM_WORK_WAIT_MS);
		ret = gearman_worker_work(w);
		switch (ret) {
		case GEARMAN_SUCCESS:
		case GEARMAN_WORK_FAIL:     /* a job the function refused */
		case GEARMAN_TIMEOUT:
		case GEARMAN_NO_JOBS:
		case GEARMAN_IO_WAIT:
			if (backoff > 0)
				log_notice("gearmand reachable again");
			backoff = 0;
			continue;
		default:
			break;
		}
		scoreboard_count(sb, SB_GEARMAN_ERRORS, 1);
		if (backoff == 0)
			log_warnx("gearmand: %s", gearman_worker_error(w));
		else
			log_debug("gearmand: %s", gearman_worker_error(w));
		backoff = backoff_next(backoff, GM_BACKOFF_MIN,
		    GM_WORK_BACKOFF_MAX);
		time_sleep(backoff, (volatile const int *)stop);
	}
}
