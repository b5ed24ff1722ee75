/*
 * controller_int: what the Controller's files share, internal to them: the
 * role's state (struct controller) with the one lock, and a slot (a thread
 * running one job at a time). controller.c runs the role and the slots'
 * lives (the design is in its header comment), controller_run.c a slot's
 * run on gearmand, controller_lane.c each database's connections and
 * flusher (struct lane is its own).
 */
#ifndef CONTROLLER_INT_H
#define CONTROLLER_INT_H

#include <pthread.h>
#include <stddef.h>

#include <libgearman-1.0/gearman.h>

#include "config.h"
#include "garivini.h"
#include "gm.h"
#include "gm_worker.h"
#include "role.h"
#include "thread.h"
#include "util.h"

#define SLOT_WAIT 1.0          /* the main thread's heartbeat while full */

/* The last SENT_BACK_KEEP jobs that went back to gearmand
 * (controller_back.c) are remembered. */
#define SENT_BACK_KEEP 256

struct controller;
struct dbreach;
struct lane;

/* A job that went back to gearmand, for its database did not answer. */
struct sent_back {
	unsigned dbid;
	uint64_t jobid;
	unsigned times;               /* 0: a free entry */
	double last;                  /* time_mono() */
};

/* One job in flight: its thread, its connections, what its worker said. */
struct slot {
	struct controller *c;
	struct thread thread;
	pthread_cond_t wake;          /* a job was handed over, or done */
	struct lane *lane;            /* the job's database */
	unsigned long claim_ticket;   /* its place in the lane's claims */
	gearman_client_st **clients;  /* per server */
	struct gv_job job;            /* the job in hand */
	struct buf doc;               /* its document */
	struct buf result;            /* its worker's result (RUN_DONE) */
	int has_result;               /* 0: the worker gave none */
	int result_lost;              /* memory ran out keeping it */
	int has_job;
	int created;                  /* gearmand acknowledged the job */
	int running;                  /* gearmand said a worker has it */
	double workers_check;         /* time_mono() of the next look */
	char message[GV_MESSAGE_MAX + 1]; /* the worker's warning or
	                                 exception, or why it failed */
	char untaken[512];            /* why it was given back (RUN_UNTAKEN) */
	char err[1024];
};

struct controller {
	struct role_ctx *ctx;
	const struct config *cfg;
	/* The lock guards memory only: the lanes' queues and taken flags,
	 * gm's choices and backoffs, and the slots' hand-over fields. */
	pthread_mutex_t lock;
	pthread_cond_t freed;         /* a slot became free */
	struct lane *lanes;           /* per database, in dbid order
	                                 (controller_lane.c) */
	size_t nlanes;
	struct gm_pool *gm;
	struct slot *slots;
	size_t nslots;
	size_t busy;                  /* slots with a job */
	size_t nthreads;              /* slot threads started */
	int done;                     /* the threads are to end */
	/* Per server: its `status` (workers per function), and when read
	 * (controller_run.c no_worker). */
	struct gm_depths *status;
	double *status_at;
	int said_no_error_table;      /* logged that reasons are dropped */
	struct dbreach *reach;        /* which databases answer */
	struct sent_back sent_back[SENT_BACK_KEEP];
	struct gm_serve how;          /* the main thread's worker */
	double resume_at;             /* time_mono(): take no job before */
	char err[1024];               /* the main thread's */
};

/* The lock: taken for a few memory operations at a time, never held
 * across a database or gearmand call. */
void controller_lock(struct controller *c);
void controller_unlock(struct controller *c);

#endif
