/*
 * gm_watch: what the threads of one process (the Injector's) know of their
 * gearmands, kept in one place so that they all see the same: the depths
 * their watermark reads, and which servers may get jobs.
 *
 * One refresher thread asks every server `status` (gm_admin), once a
 * second while the threads want it, and waits for the answers with no lock
 * held: a slow or stuck gearmand holds up the refresher, never a call. An
 * answer is published under the lock when it comes, however late; a server
 * silent for GM_STATUS_WAIT gets no jobs meanwhile, and one silent for
 * GM_STATUS_TIMEOUT backs off. A server that failed (a submit of any
 * thread, or the refresher's request) backs off for every thread, and gets
 * no jobs after its pause until it answered again (a `status` or a submit):
 * a stuck gearmand that accepts connections would hold each job sent to it
 * for the client timeout and leave it to its lease.
 *
 * Why the watermark is never overshot by this process: a job is counted
 * from the moment a thread is let through (pending), through its submit
 * (sent[s] once gearmand acknowledged it, or may have), until an answer of
 * server s that surely counts it. Before the refresher asks s, it moves
 * sent[s] to prior[s]: those were acknowledged before the request went out,
 * so gearmand counts them in its answer (or its workers took them), and the
 * answer replaces depths[s] and drops prior[s]. What is acknowledged after
 * the request stays in sent[s], counted twice until the next answer at
 * worst: the sum errs high, never low. Jobs other processes submit are
 * theirs to count; the watermark is per process as it always was.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gm.h"
#include "gm_watch.h"
#include "log.h"
#include "thread.h"
#include "util.h"

#define WATCH_REFRESH 1.0      /* seconds between two rounds of `status` */
#define WATCH_POLL_MS 100      /* the refresher looks at its stop flag */

struct watch_server {
	struct config_server srv;
	struct gm_admin admin;      /* the refresher's alone */
	/* Under the lock: */
	struct gm_depths depths;    /* its last answer */
	struct gm_depths prior;     /* acknowledged before the request out */
	struct gm_depths sent;      /* acknowledged since */
	struct backoff backoff;
	double asked_at;            /* time_mono() of the request out, 0: none */
	int probation;              /* failed, and not answered since */
};

struct gm_watch {
	pthread_mutex_t lock;
	pthread_cond_t cond;        /* wanted, stopping, ready */
	struct watch_server *servers;
	size_t n;
	struct gm_depths pending;   /* let through, fate not known yet */
	int wanted;                 /* a thread asked since the last round */
	int ready;                  /* the first round has settled */
	int stopping;
	struct thread thread;
};

/* Count into a counter map; out of memory leaves the count low until the
 * next answer, as a read that failed would. */
static void
count(struct gm_depths *d, const char *funcname, long n)
{
	if (gm_depths_add(d, funcname, n) == -1)
		log_warnx("queue depth: out of memory");
}

static void
count_all(struct gm_depths *into, const struct gm_depths *from)
{
	size_t i;

	for (i = 0; i < from->n; i++)
		count(into, from->items[i].funcname, from->items[i].waiting);
}

/* Server s failed: it backs off for every thread, counts as empty
 * meanwhile, and gets no jobs until it answers again. Under the lock. */
static void
failed_locked(struct watch_server *s, double now)
{
	gm_backoff_fail(&s->backoff, now);
	s->probation = 1;
	gm_depths_free(&s->depths);
}

/* Server s answered: it may get jobs. Under the lock. */
static void
answered_locked(struct watch_server *s)
{
	backoff_reset(&s->backoff);
	s->probation = 0;
}

static int
healthy_locked(const struct watch_server *s, double now)
{
	return !backoff_waiting(&s->backoff, now) && !s->probation &&
	    !(s->asked_at > 0 && now - s->asked_at >= GM_STATUS_WAIT);
}

/* The refresher's own failure of server i: its connection closed, the
 * server failed for all. */
static void
refresh_failed(struct gm_watch *w, size_t i, const char *err)
{
	struct watch_server *s = &w->servers[i];

	log_debug("queue depth: %s", err);
	gm_admin_close(&s->admin);
	pthread_mutex_lock(&w->lock);
	failed_locked(s, time_mono());
	s->asked_at = 0;
	pthread_mutex_unlock(&w->lock);
}

/* Ask server i, unless it backs off (it then counts as empty). 1 when a
 * request is out. */
static int
ask(struct gm_watch *w, size_t i)
{
	struct watch_server *s = &w->servers[i];
	double now = time_mono();
	char err[512];

	pthread_mutex_lock(&w->lock);
	if (backoff_waiting(&s->backoff, now)) {
		gm_depths_free(&s->depths);
		pthread_mutex_unlock(&w->lock);
		return 0;
	}
	/* Everything acknowledged so far comes before this request. */
	count_all(&s->prior, &s->sent);
	gm_depths_free(&s->sent);
	/* Asked from here: a connect that takes long is silence too. */
	s->asked_at = now;
	pthread_mutex_unlock(&w->lock);
	if (gm_admin_send(&s->admin, &s->srv, now + GM_STATUS_WAIT, err,
	    sizeof(err)) == -1) {
		refresh_failed(w, i, err);
		return 0;
	}
	return 1;
}

/* Take what came of server i's answer. 1 when i is done with (answered
 * or failed), 0 when more is to come. */
static int
take(struct gm_watch *w, size_t i, int *retried)
{
	struct watch_server *s = &w->servers[i];
	struct gm_depths answer = { NULL, 0 };
	char err[512];
	int rc;

	if ((rc = gm_admin_read(&s->admin, &s->srv, &answer, err,
	    sizeof(err))) == 0)
		return 0;
	if (rc == -2 && !*retried) {
		/* A kept connection closed while idle (gearmand restarted):
		 * one new connection before the server is judged. */
		*retried = 1;
		if (gm_admin_send(&s->admin, &s->srv, time_mono() +
		    GM_STATUS_WAIT, err, sizeof(err)) == 0)
			return 0;
	}
	if (rc < 0) {
		refresh_failed(w, i, err);
		return 1;
	}
	pthread_mutex_lock(&w->lock);
	gm_depths_free(&s->depths);
	s->depths = answer;
	gm_depths_free(&s->prior);
	s->asked_at = 0;
	answered_locked(s);
	pthread_mutex_unlock(&w->lock);
	return 1;
}

static void
set_ready(struct gm_watch *w)
{
	pthread_mutex_lock(&w->lock);
	if (!w->ready) {
		w->ready = 1;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
}

static int
stopping(struct gm_watch *w)
{
	int stop;

	pthread_mutex_lock(&w->lock);
	stop = w->stopping;
	pthread_mutex_unlock(&w->lock);
	return stop;
}

/*
 * One round: every server asked at once, each answer taken when it comes,
 * for up to GM_STATUS_TIMEOUT. The first round is ready (the threads
 * waiting for it go on) once every server answered, failed, or has been
 * silent for GM_STATUS_WAIT.
 */
static void
round_once(struct gm_watch *w)
{
	struct pollfd pfd[CONFIG_MAX_SERVERS];
	size_t idx[CONFIG_MAX_SERVERS], i, k, m, left = 0;
	int out[CONFIG_MAX_SERVERS] = { 0 }, retried[CONFIG_MAX_SERVERS] = { 0 };
	double asked[CONFIG_MAX_SERVERS], now, wake;
	char err[512];
	int ms, all_silent;

	for (i = 0; i < w->n; i++) {
		asked[i] = time_mono();
		if ((out[i] = ask(w, i)))
			left++;
	}
	while (left > 0 && !stopping(w)) {
		now = time_mono();
		wake = now + WATCH_POLL_MS / 1000.0;
		all_silent = 1;
		for (i = 0, m = 0; i < w->n; i++) {
			if (!out[i])
				continue;
			if (now - asked[i] >= GM_STATUS_TIMEOUT) {
				errf(err, sizeof(err), "gearmand %s:%u: no "
				    "answer to status in %.1f s",
				    w->servers[i].srv.host,
				    w->servers[i].srv.port, GM_STATUS_TIMEOUT);
				refresh_failed(w, i, err);
				out[i] = 0;
				left--;
				continue;
			}
			if (now - asked[i] < GM_STATUS_WAIT) {
				all_silent = 0;
				if (asked[i] + GM_STATUS_WAIT < wake)
					wake = asked[i] + GM_STATUS_WAIT;
			}
			pfd[m] = (struct pollfd){ .fd = gm_admin_fd(
			    &w->servers[i].admin), .events = POLLIN };
			idx[m++] = i;
		}
		if (all_silent)
			set_ready(w);
		if (m == 0)
			break;
		ms = (int)((wake - now) * 1000) + 1;
		if (poll(pfd, (nfds_t)m, ms) == -1 && errno != EINTR) {
			log_warnx("queue depth: poll: %s", strerror(errno));
			break;
		}
		for (k = 0; k < m; k++) {
			if (pfd[k].revents == 0)
				continue;
			if (take(w, idx[k], &retried[idx[k]])) {
				out[idx[k]] = 0;
				left--;
			}
		}
	}
	/* Stopping, or poll failed: what is still out is closed, to be
	 * asked again on a fresh connection. */
	for (i = 0; i < w->n; i++)
		if (out[i]) {
			gm_admin_close(&w->servers[i].admin);
			pthread_mutex_lock(&w->lock);
			w->servers[i].asked_at = 0;
			pthread_mutex_unlock(&w->lock);
		}
	set_ready(w);
}

static void
refresher(void *arg)
{
	struct gm_watch *w = arg;
	double next = 0, left;

	pthread_mutex_lock(&w->lock);
	while (!w->stopping) {
		if (!w->wanted) {
			pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		if ((left = next - time_mono()) > 0) {
			/* Wanted again within a second of the last round: it
			 * comes at its time, the stop flag looked at on the
			 * way. */
			pthread_mutex_unlock(&w->lock);
			poll(NULL, 0, left * 1000 < WATCH_POLL_MS ?
			    (int)(left * 1000) + 1 : WATCH_POLL_MS);
			pthread_mutex_lock(&w->lock);
			continue;
		}
		w->wanted = 0;
		pthread_mutex_unlock(&w->lock);
		next = time_mono() + WATCH_REFRESH;
		round_once(w);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
}

struct gm_watch *
gm_watch_new(const struct config_server *servers, size_t n, char *err,
    size_t errlen)
{
	struct gm_watch *w;
	size_t i;

	if (n == 0 || n > CONFIG_MAX_SERVERS) {
		errf(err, errlen, "%zu gearmand servers", n);
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->servers = calloc(n, sizeof(*w->servers))) == NULL) {
		free(w);
		errf(err, errlen, "out of memory");
		return NULL;
	}
	w->n = n;
	for (i = 0; i < n; i++) {
		w->servers[i].srv = servers[i];
		gm_admin_init(&w->servers[i].admin);
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	/* The first round at once: the threads wait for it. */
	w->wanted = 1;
	if (thread_start(&w->thread, refresher, w, err, errlen) == -1) {
		gm_watch_free(w);
		return NULL;
	}
	return w;
}

void
gm_watch_free(struct gm_watch *w)
{
	size_t i;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	thread_join(&w->thread);
	for (i = 0; i < w->n; i++) {
		struct watch_server *s = &w->servers[i];

		gm_admin_free(&s->admin);
		gm_depths_free(&s->depths);
		gm_depths_free(&s->prior);
		gm_depths_free(&s->sent);
	}
	gm_depths_free(&w->pending);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->servers);
	free(w);
}

/* The jobs of funcname gearmand holds or will, as far as this process
 * knows. Under the lock. */
static long
waiting_locked(const struct gm_watch *w, const char *funcname)
{
	long sum = gm_depths_get(&w->pending, funcname);
	size_t i;

	for (i = 0; i < w->n; i++) {
		const struct watch_server *s = &w->servers[i];

		sum += gm_depths_get(&s->depths, funcname) +
		    gm_depths_get(&s->prior, funcname) +
		    gm_depths_get(&s->sent, funcname);
	}
	return sum;
}

int
gm_watch_reserve(struct gm_watch *w, const char *funcname, int watermark)
{
	int yes;

	pthread_mutex_lock(&w->lock);
	if (!w->wanted) {
		w->wanted = 1;
		pthread_cond_broadcast(&w->cond);
	}
	while (!w->ready && !w->stopping)
		pthread_cond_wait(&w->cond, &w->lock);
	if ((yes = watermark <= 0 || waiting_locked(w, funcname) < watermark))
		count(&w->pending, funcname, 1);
	pthread_mutex_unlock(&w->lock);
	return yes;
}

void
gm_watch_done(struct gm_watch *w, const char *funcname, size_t s,
    enum gm_watch_fate fate)
{
	struct watch_server *srv = fate == GM_WATCH_UNSENT ? NULL :
	    &w->servers[s];

	pthread_mutex_lock(&w->lock);
	count(&w->pending, funcname, -1);
	switch (fate) {
	case GM_WATCH_UNSENT:
		break;
	case GM_WATCH_QUEUED:
		count(&srv->sent, funcname, 1);
		answered_locked(srv);
		break;
	case GM_WATCH_REFUSED:
		answered_locked(srv);
		break;
	case GM_WATCH_UNSURE:
		/* Queued when it wakes, maybe: counted until it answers. */
		count(&srv->sent, funcname, 1);
		failed_locked(srv, time_mono());
		break;
	case GM_WATCH_FAILED:
		failed_locked(srv, time_mono());
		break;
	}
	pthread_mutex_unlock(&w->lock);
}

void
gm_watch_healthy(struct gm_watch *w, unsigned char *healthy)
{
	double now = time_mono();
	size_t i;

	pthread_mutex_lock(&w->lock);
	for (i = 0; i < w->n; i++)
		healthy[i] = (unsigned char)healthy_locked(&w->servers[i], now);
	pthread_mutex_unlock(&w->lock);
}
