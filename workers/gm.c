/*
 * gm: gearman clients, one per gearmand, the stable choice of a server for
 * a job, pipelined background submits, the depths of a pool's servers (over
 * gm_admin's `status`), and unique keys that fit gearmand. The workers are
 * gm_worker's.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gm.h"
#include "util.h"

/* A round of gm_pool_depths waits GM_STATUS_WAIT (gm_admin.h) for the
 * answers it asked for. */
/* A second seed for the long unique key digest: two independent 64-bit
 * hashes make an accidental collision of distinct keys negligible. */
#define GM_UNIQUE_SEED2 0x84222325cbf29ce4ULL

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
		gm_admin_init(&pool->servers[i].admin);
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
		gm_admin_free(&pool->servers[i].admin);
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

/* The highest rendezvous weight among the servers healthy marks, or among
 * all when it marks none. */
static size_t
choose(const struct gm_pool *pool, const void *key, size_t keylen,
    const unsigned char *healthy)
{
	uint64_t w, best_w = 0;
	size_t i, best = 0;
	int any_healthy = 0, found = 0;

	for (i = 0; i < pool->n; i++)
		if (healthy[i])
			any_healthy = 1;
	for (i = 0; i < pool->n; i++) {
		if (any_healthy && !healthy[i])
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

size_t
gm_pool_choose(struct gm_pool *pool, const void *key, size_t keylen)
{
	unsigned char healthy[CONFIG_MAX_SERVERS];
	double now = time_mono();
	size_t i;

	for (i = 0; i < pool->n && i < CONFIG_MAX_SERVERS; i++)
		healthy[i] = (unsigned char)gm_pool_healthy(pool, i, now);
	return choose(pool, key, keylen, healthy);
}

/* Not backing off, and not sitting on a `status` request it has not
 * answered in the time it always takes: a gearmand that is stopped or stuck
 * still accepts connections, and would hold every submit sent to it for the
 * client timeout. */
int
gm_pool_healthy(const struct gm_pool *pool, size_t i, double now)
{
	const struct gm_server *s = &pool->servers[i];
	double asked = gm_admin_sent_at(&s->admin);

	return !backoff_waiting(&s->backoff, now) && !(asked &&
	    now - asked >= GM_STATUS_WAIT);
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
	gm_admin_close(&s->admin);
	gm_backoff_fail(&s->backoff, now);
}

void
gm_backoff_fail(struct backoff *b, double now)
{
	/* A failure long after the last backoff ended is a new outage, not
	 * the same one going on: it starts from the shortest pause again. */
	if (now - b->until > GM_BACKOFF_MAX)
		backoff_reset(b);
	backoff_fail(b, now, GM_BACKOFF_MIN, GM_BACKOFF_MAX);
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

/* The option is a round trip to the server: asked for after the server is
 * added, and checked, since a gearmand that is down leaves it off. */
gearman_client_st *
gm_client_new(const struct config_server *srv, int exceptions, char *err,
    size_t errlen)
{
	gearman_client_st *c;

	if ((c = gearman_client_create(NULL)) == NULL) {
		errf(err, errlen, "gearman_client_create failed");
		return NULL;
	}
	gearman_client_set_timeout(c, GM_CLIENT_TIMEOUT_MS);
	if (gearman_client_add_server(c, srv->host, (in_port_t)srv->port) !=
	    GEARMAN_SUCCESS) {
		errf(err, errlen, "%s", gearman_client_error(c));
		goto fail;
	}
	if (exceptions) {
		gearman_client_add_options(c, GEARMAN_CLIENT_EXCEPTION);
		if (!gearman_client_has_option(c, GEARMAN_CLIENT_EXCEPTION)) {
			errf(err, errlen, "exceptions not enabled: %s",
			    gearman_client_error(c));
			goto fail;
		}
	}
	return c;
fail:
	gearman_client_free(c);
	return NULL;
}

static gearman_client_st *
server_client(struct gm_server *s, char *err, size_t errlen)
{
	gearman_client_st *c;
	char why[256];

	if (s->client)
		return s->client;
	if ((c = gm_client_new(&s->srv, 0, why, sizeof(why))) == NULL) {
		errf(err, errlen, "gearmand %s:%u: %s", s->srv.host,
		    s->srv.port, why);
		return NULL;
	}
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

/* Take what has arrived on the connections with a request out, waiting up
 * to ms for it. fresh[i]: server i was asked in this call; *fresh_left
 * counts those not answered yet. -1 if a server failed (err says which). */
static int
poll_admin(struct gm_pool *pool, struct gm_depths *depths, const int *fresh,
    size_t *fresh_left, int ms, double deadline, char *err, size_t errlen)
{
	struct pollfd pfd[CONFIG_MAX_SERVERS];
	size_t idx[CONFIG_MAX_SERVERS], i, k, n = 0;
	int rc, failed = 0, fd;

	for (i = 0; i < pool->n && n < CONFIG_MAX_SERVERS; i++) {
		if ((fd = gm_admin_fd(&pool->servers[i].admin)) == -1)
			continue;
		pfd[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
		idx[n++] = i;
	}
	if (n == 0 || poll(pfd, (nfds_t)n, ms < 0 ? 0 : ms) <= 0)
		return 0;
	for (k = 0; k < n; k++) {
		struct gm_server *s = &pool->servers[idx[k]];
		struct gm_admin *a = &s->admin;

		if (pfd[k].revents == 0)
			continue;
		if ((rc = gm_admin_read(a, &s->srv, &depths[idx[k]], err,
		    errlen)) == 0)
			continue;
		/* A kept connection that fails before a byte of the answer
		 * was most likely closed while idle (gearmand restarted):
		 * one new connection before the server is judged. */
		if (rc == -2 && fresh[idx[k]] &&
		    gm_admin_send(a, &s->srv, deadline, err, errlen) == 0)
			continue;
		if (rc < 0) {
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
	double asked;

	for (i = 0; i < pool->n && i < CONFIG_MAX_SERVERS; i++) {
		struct gm_server *s = &pool->servers[i];

		if (backoff_waiting(&s->backoff, now)) {
			/* Backing off: not asked, and its jobs go to the
			 * others meanwhile. */
			gm_depths_free(&depths[i]);
			continue;
		}
		if ((asked = gm_admin_sent_at(&s->admin)) > 0) {
			/* An earlier request is out: taken below if it has
			 * come since, not waited for. */
			if (now - asked < GM_STATUS_TIMEOUT)
				continue;
			errf(err, errlen, "gearmand %s:%u: no answer to status "
			    "in %.1f s", s->srv.host, s->srv.port,
			    GM_STATUS_TIMEOUT);
		} else if (gm_admin_send(&s->admin, &s->srv, deadline, err,
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
		if (fresh[i] && (asked = gm_admin_sent_at(
		    &pool->servers[i].admin)) + GM_STATUS_WAIT > deadline)
			deadline = asked + GM_STATUS_WAIT;
	while (fresh_left > 0 && time_mono() < deadline)
		if (poll_admin(pool, depths, fresh, &fresh_left,
		    ms_until(deadline), deadline, err, errlen) == -1)
			failed = 1;
	/* Answers to earlier requests that came in the meantime. */
	if (poll_admin(pool, depths, fresh, &fresh_left, 0, deadline, err,
	    errlen) == -1)
		failed = 1;
	return failed ? -1 : 0;
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

/* The key a job's server is chosen by: its unique key, else jobid:dbid. */
static const char *
job_key(uint64_t jobid, unsigned dbid, const char *unique, char *id,
    size_t idlen)
{
	if (unique)
		return unique;
	snprintf(id, idlen, "%llu:%u", (unsigned long long)jobid, dbid);
	return id;
}

size_t
gm_pool_choose_job(struct gm_pool *pool, uint64_t jobid, unsigned dbid,
    const char *unique)
{
	char id[32];
	const char *key = job_key(jobid, dbid, unique, id, sizeof(id));

	return gm_pool_choose(pool, key, strlen(key));
}

size_t
gm_pool_choose_job_among(const struct gm_pool *pool, uint64_t jobid,
    unsigned dbid, const char *unique, const unsigned char *healthy)
{
	char id[32];
	const char *key = job_key(jobid, dbid, unique, id, sizeof(id));

	return choose(pool, key, strlen(key), healthy);
}
