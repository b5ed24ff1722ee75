/*
 * gm_watch: one process's view of its gearmands, shared by its threads
 * (the Injector's): the jobs waiting per function on each server and each
 * server's health, kept by a refresher thread of its own, which asks
 * `status` with no lock held and publishes the answers under the lock.
 * For a watermark it also counts the jobs this process's threads are about
 * to submit or submitted since their server's last answer.
 */
#ifndef GM_WATCH_H
#define GM_WATCH_H

#include <stddef.h>

#include "config.h"

struct gm_watch;

/* What became of a job gm_watch_reserve let through. */
enum gm_watch_fate {
	GM_WATCH_UNSENT,    /* not submitted: stored before, not stored, ... */
	GM_WATCH_QUEUED,    /* gearmand acknowledged it */
	GM_WATCH_REFUSED,   /* gearmand answered and did not queue it */
	GM_WATCH_FAILED,    /* the server failed, the job surely not queued */
	GM_WATCH_UNSURE     /* the server failed after it got the job: it may
	                       queue it when it wakes */
};

/* The view of servers[0..n), its refresher started. NULL with err. */
struct gm_watch *gm_watch_new(const struct config_server *servers, size_t n,
    char *err, size_t errlen);
/* The refresher stopped and joined, everything freed. */
void gm_watch_free(struct gm_watch *w);

/*
 * 1 if fewer than watermark jobs of funcname wait over all servers,
 * counting this process's jobs let through and not yet known submitted and
 * those submitted since their server last answered (always 1 when
 * watermark <= 0); the job is then counted as let through until
 * gm_watch_done. 0 when there is no room. Waits for the refresher's first
 * read, never for a later one.
 */
int gm_watch_reserve(struct gm_watch *w, const char *funcname, int watermark);
/* The fate of a job reserve let through, submitted (or not) to server s. */
void gm_watch_done(struct gm_watch *w, const char *funcname, size_t s,
    enum gm_watch_fate fate);
/* healthy[0..n): 1 for each server that may get jobs now (not backing
 * off, not silent on a `status` request, and answering since its last
 * failure). */
void gm_watch_healthy(struct gm_watch *w, unsigned char *healthy);

#endif
