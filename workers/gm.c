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
#define GM_FLUSH_WAIT_MS 5        /* waiting for a job while completions wait */
/* A second seed for the long unique key digest: two independent 64-bit
 * hashes make an accidental collision of distinct keys negligible. */
#define GM_UNIQUE_SEED2 0x84222325cbf29ce4ULL

struct gm_server {
	struct config_server srv;
	uint64_t weight_seed;        /* hash of host:port, for rendezvous */
	gearman_client_st *client;   /* NULL until needed, and after a failure */
	double backoff;              /* length of the last backoff, 0 if none */
	double retry_at;             /* time_mono() when it may be used again */
};

struct gm_pool {
	struct gm_server *servers;
	size_t n;
};

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
	}
	return pool;
}

void
gm_pool_free(struct gm_pool *pool)
{
	size_t i;

	if (pool == NULL)
		return;
	for (i = 0; i < pool->n; i++)
		if (pool->servers[i].client)
			gearman_client_free(pool->servers[i].client);
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

int
gm_pool_healthy(const struct gm_pool *pool, size_t i, double now)
{
	return now >= pool->servers[i].retry_at;
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
	/* A failure long after the last backoff ended is a new outage, not
	 * the same one going on: it starts from the shortest pause again. */
	if (s->backoff == 0 || now - s->retry_at > GM_BACKOFF_MAX)
		s->backoff = GM_BACKOFF_MIN;
	else if ((s->backoff *= 2) > GM_BACKOFF_MAX)
		s->backoff = GM_BACKOFF_MAX;
	s->retry_at = now + s->backoff;
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

/* One pipelined run of the tasks not yet accepted. 0, or -1 on any error
 * of the client (then it must not be reused). */
static int
submit_once(struct gm_server *s, struct gm_task *tasks, size_t n, char *err,
    size_t errlen)
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
		if (gearman_client_add_task_background(c, NULL, &tasks[k],
		    tasks[k].funcname, tasks[k].unique, tasks[k].workload,
		    tasks[k].len, &ret) == NULL) {
			errf(err, errlen, "gearmand %s:%u: adding a task: %s",
			    s->srv.host, s->srv.port, gearman_client_error(c));
			gearman_client_task_free_all(c);
			return -1;
		}
	}
	ret = gearman_client_run_tasks(c);
	gearman_client_task_free_all(c);
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
	int reused;

	for (k = 0; k < n; k++)
		tasks[k].ok = 0;
	if (n == 0)
		return 0;
	reused = s->client != NULL;
	if (submit_once(s, tasks, n, err, errlen) == -1) {
		if (!reused)
			goto fail;
		/* A connection that died while idle (gearmand restarted)
		 * fails its first use: one try on a new connection, for the
		 * tasks not acknowledged, before the server is judged. */
		gearman_client_free(s->client);
		s->client = NULL;
		if (submit_once(s, tasks, n, err, errlen) == -1)
			goto fail;
	}
	for (k = 0; k < n; k++)
		accepted += tasks[k].ok != 0;
	s->backoff = 0;
	return (int)accepted;

fail:
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
    long waiting)
{
	struct gm_depth *items;

	items = realloc(out->items, (out->n + 1) * sizeof(*items));
	if (items == NULL)
		return -1;
	out->items = items;
	if ((items[out->n].funcname = strndup(func, funclen)) == NULL)
		return -1;
	items[out->n].waiting = waiting < 0 ? 0 : waiting;
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
	if (depths_add(out, line, (size_t)(end - line), total - running) ==
	    -1)
		return errf(err, errlen, "out of memory");
	return 0;
}

int
gm_admin_status(const struct config_server *srv, double timeout,
    struct gm_depths *out, char *err, size_t errlen)
{
	static const char cmd[] = "status\r\n";
	double deadline = time_mono() + timeout;
	struct buf in = { 0 };
	struct pollfd pfd;
	size_t off = 0, start = 0, sent = 0, len;
	ssize_t r;
	char chunk[4096], *nl;
	int fd, ms, done = 0;

	out->items = NULL;
	out->n = 0;
	if ((fd = connect_deadline(srv, deadline, err, errlen)) == -1)
		return -1;
	pfd.fd = fd;
	while (!done) {
		ms = (int)((deadline - time_mono()) * 1000);
		if (ms <= 0) {
			errf(err, errlen, "gearmand %s:%u: status timed out",
			    srv->host, srv->port);
			goto fail;
		}
		pfd.events = sent < sizeof(cmd) - 1 ? POLLOUT : POLLIN;
		if (poll(&pfd, 1, ms) == -1) {
			if (errno == EINTR)
				continue;
			errf(err, errlen, "poll: %s", strerror(errno));
			goto fail;
		}
		if (pfd.events == POLLOUT) {
			r = send(fd, cmd + sent, sizeof(cmd) - 1 - sent,
			    MSG_NOSIGNAL);
			if (r == -1 && errno != EAGAIN && errno != EINTR) {
				errf(err, errlen, "gearmand %s:%u: send: %s",
				    srv->host, srv->port, strerror(errno));
				goto fail;
			}
			if (r > 0)
				sent += (size_t)r;
			continue;
		}
		r = recv(fd, chunk, sizeof(chunk), 0);
		if (r == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			errf(err, errlen, "gearmand %s:%u: recv: %s",
			    srv->host, srv->port, strerror(errno));
			goto fail;
		}
		if (r == 0) {
			errf(err, errlen, "gearmand %s:%u: connection closed "
			    "before the end of status", srv->host, srv->port);
			goto fail;
		}
		if (buf_append(&in, chunk, (size_t)r) == -1) {
			errf(err, errlen, "out of memory");
			goto fail;
		}
		while (!done && (nl = memchr(in.data + off, '\n',
		    in.len - off)) != NULL) {
			start = off;
			off = (size_t)(nl - in.data) + 1;
			len = (size_t)(nl - (in.data + start));
			if (len > 0 && in.data[start + len - 1] == '\r')
				len--;
			if (len == 1 && in.data[start] == '.')
				done = 1;
			else if (status_line(out, in.data + start, len, err,
			    errlen) == -1) {
				/* Only a line that is no status line may be
				 * gearmand's "ERR code text". */
				if (len >= 4 && strncmp(in.data + start,
				    "ERR ", 4) == 0)
					errf(err, errlen, "gearmand %s:%u: "
					    "%.*s", srv->host, srv->port,
					    (int)len, in.data + start);
				goto fail;
			}
		}
	}
	close(fd);
	buf_free(&in);
	return 0;

fail:
	close(fd);
	buf_free(&in);
	gm_depths_free(out);
	return -1;
}

long
gm_depths_get(const struct gm_depths *d, const char *funcname)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->items[i].funcname, funcname) == 0)
			return d->items[i].waiting;
	return 0;
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
	if (len <= GM_UNIQUE_MAX) {
		memcpy(out, uniqkey, len + 1);
		return out;
	}
	/* gearmand rejects longer keys (and cuts 64 to 63). A digest keeps
	 * one key one gearman job, so duplicates still merge there. */
	snprintf(out, GM_UNIQUE_MAX + 1, "h:%016llx%016llx",
	    (unsigned long long)hash_fnv1a(HASH_SEED, uniqkey, len),
	    (unsigned long long)hash_fnv1a(GM_UNIQUE_SEED2, uniqkey, len));
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

static void
flush(gv_client *gv, struct sb_slot *sb)
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
    struct sb_slot *sb, gv_client *gv)
{
	gearman_return_t ret;
	double backoff = 0;

	while (!*stop) {
		scoreboard_heartbeat(sb);
		gearman_worker_set_timeout(w, gv && gv_pending(gv) ?
		    GM_FLUSH_WAIT_MS : GM_WORK_WAIT_MS);
		ret = gearman_worker_work(w);
		if (gv && ret != GEARMAN_SUCCESS)
			flush(gv, sb);
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
		backoff = backoff == 0 ? GM_BACKOFF_MIN : backoff * 2;
		if (backoff > GM_WORK_BACKOFF_MAX)
			backoff = GM_WORK_BACKOFF_MAX;
		time_sleep(backoff, (volatile const int *)stop);
	}
	if (gv)
		flush(gv, sb);
}
