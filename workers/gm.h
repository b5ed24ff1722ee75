/*
 * gm: the gearman side of the roles, over libgearman (read
 * doc/libgearman.md first).
 *
 * A gm_pool holds one gearman client per gearmand, because one client with
 * several servers neither balances nor survives one of them being down. A job
 * goes to the server chosen by a stable hash of its unique key (else of its
 * jobid, else of its funcname) among the servers that are not backing off
 * after a failure: rendezvous hashing, so a server going down moves only its
 * own share. A client that failed is freed (reusing one after an error can
 * spin) and its server backs off 0.5 s doubling to 30 s.
 */
#ifndef GM_H
#define GM_H

#include <stddef.h>
#include <stdint.h>

#include <libgearman-1.0/gearman.h>

#include "config.h"
#include "garivini.h"
#include "gm_admin.h"

/* The first pause after gearmand failed (a server of a pool, a worker's
 * connections): doubling from here. */
#define GM_BACKOFF_MIN 0.5
#define GM_BACKOFF_MAX 30.0
/* A submit or reply that takes longer than this means the server is stuck:
 * without a timeout libgearman would wait for it forever. */
#define GM_CLIENT_TIMEOUT_MS 3000

/*
 * A client of the one gearmand srv, whose calls give up after
 * GM_CLIENT_TIMEOUT_MS. With exceptions, GEARMAN_CLIENT_EXCEPTION is on
 * (and checked): a client that waits for a job's result needs it, since in
 * libgearman 1.1.20 a worker's WORK_EXCEPTION otherwise leaves it waiting
 * forever. NULL with err (libgearman's words; the caller names the server).
 */
gearman_client_st *gm_client_new(const struct config_server *srv,
    int exceptions, char *err, size_t errlen);

struct gm_pool;

struct gm_pool *gm_pool_new(const struct config_server *servers, size_t n,
    char *err, size_t errlen);
void gm_pool_free(struct gm_pool *pool);
size_t gm_pool_count(const struct gm_pool *pool);
const struct config_server *gm_pool_server(const struct gm_pool *pool,
    size_t i);

/* The server for a job: highest rendezvous weight of (key, server) among
 * healthy servers; if none is healthy, among all. key/keylen: the unique key,
 * else the decimal jobid. */
size_t gm_pool_choose(struct gm_pool *pool, const void *key, size_t keylen);
/* The server of a job: by its unique key (as gm_unique makes it), else by
 * jobid and dbid. QueueRunner, Injector and Controller choose alike, so a
 * job keeps its server and gearmand can merge equal unique keys. */
size_t gm_pool_choose_job(struct gm_pool *pool, uint64_t jobid, unsigned dbid,
    const char *unique);
/* gm_pool_choose_job among the servers healthy[0..count) marks (among all
 * when it marks none): for threads that share their servers' health
 * (gm_watch) rather than each keeping its own. */
size_t gm_pool_choose_job_among(const struct gm_pool *pool, uint64_t jobid,
    unsigned dbid, const char *unique, const unsigned char *healthy);
/* 1 if server i may get jobs: not backing off, and answering `status`
 * when asked. */
int gm_pool_healthy(const struct gm_pool *pool, size_t i, double now);
/* Mark server i failed: free its client, back off. */
void gm_pool_failed(struct gm_pool *pool, size_t i);
/* The backoff of a gearmand that failed at now: GM_BACKOFF_MIN doubling to
 * GM_BACKOFF_MAX, from the shortest again after a quiet while. */
void gm_backoff_fail(struct backoff *b, double now);

/* A background job to submit. */
struct gm_task {
	const char *funcname;
	const char *unique;      /* NULL: none; at most
	                            GV_GEARMAN_UNIQKEY_MAX bytes */
	const void *workload;
	size_t len;
	int priority;            /* > 0 high, 0 normal, < 0 low (gearmand's) */
	int ok;                  /* out: 1 when gearmand accepted it */
	int unsure;              /* out: 1 when its fate is unknown: sent,
	                            but gearmand did not answer in time (it
	                            may be stopped or slow, and queue it
	                            later) */
};

/*
 * Submit tasks to server i as background jobs, pipelined: every task added,
 * then one run. Sets each task's ok and unsure. Returns the number accepted,
 * or -1 when the server failed (then it backs off). A task neither ok nor
 * unsure was not queued: the connection failed or gearmand refused it. An
 * unsure task is never sent again here: sent again in the same attempt it
 * could be queued twice and run twice; the caller must leave it to its
 * lease, which brings it back if gearmand never queued it.
 */
int gm_submit_background(struct gm_pool *pool, size_t i,
    struct gm_task *tasks, size_t n, char *err, size_t errlen);

/*
 * The depths of every server (depths[0..count)), on admin connections the
 * pool keeps open across calls (and opens again after an error). A server
 * backing off is not asked (its depths are emptied). The call waits a short
 * while for the answers it asks for; a server that has not answered by then
 * keeps its last depths and gets no jobs until it answers (see
 * gm_pool_healthy), and fails (backs off) if it has not answered in 2 s. So
 * a stopped or black-holed gearmand costs a round at most that short wait,
 * and only when its backoff ends. -1 if a server failed, with err.
 */
int gm_pool_depths(struct gm_pool *pool, struct gm_depths *depths, char *err,
    size_t errlen);
/* The unique key as gearmand carries it: itself when it fits in
 * GV_GEARMAN_UNIQKEY_MAX bytes, else a fixed-length hex digest of it. out
 * must hold GV_GEARMAN_UNIQKEY_MAX + 1 bytes. Returns out, or NULL when
 * uniqkey is NULL/"". */
const char *gm_unique(const char *uniqkey, char *out);

/* The function a job is submitted to: its own, or run_queued_job for a
 * Controller's (flag controller). */
const char *gm_job_target(enum gv_flag flag, const char *funcname);
/* The unique a job is submitted with: gm_unique of its key under its own
 * function; under run_queued_job, which every function shares, a digest of
 * function and key, so that (resize, u42) and (thumb, u42) are two jobs
 * there and gearmand does not merge them. */
const char *gm_job_unique(enum gv_flag flag, const char *funcname,
    const char *uniqkey, char *out);

#endif
