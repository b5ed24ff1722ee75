/*
 * metrics: what Garivini counts per function, and the two forms it is
 * written in: the "functions" object of the status file (JSON) and the
 * garivini_function_* families of the Prometheus text. The master writes
 * both from its shared-memory table (runtime/funcstats.c); gvctl reads the
 * JSON back to print the Prometheus form (gvctl stats --prometheus), so
 * both go through the same writer.
 *
 * The latency is a histogram of Prometheus buckets: buckets[i] counts the
 * observations in (bound[i-1], bound[i]], the last one those above the last
 * bound (+Inf); the written forms are cumulative, as Prometheus wants.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "garivini.h"
#include "prom.h"

enum metrics_counter {
	METRICS_DISPATCHED,  /* handed to gearmand (QueueRunner, Injector) */
	METRICS_DONE,        /* completed by a Controller */
	METRICS_FAILED,      /* failed at a Controller (timeouts included) */
	METRICS_PARKED,      /* of those, failures that parked the job */
	METRICS_TIMED_OUT,   /* of those, no answer within job_timeout */
	METRICS_CANCELLED,   /* cancelled through cancel_jobs */
	METRICS_NCOUNTERS
};

#define METRICS_NBOUNDS 10
#define METRICS_NBUCKETS (METRICS_NBOUNDS + 1)   /* the last: +Inf */
/* The label of every function past the cap, and of names no label can
 * carry (empty, too long, not UTF-8). */
#define METRICS_OTHER "_other"

struct metrics_func {
	char name[GV_FUNCNAME_MAX + 1];
	uint64_t counters[METRICS_NCOUNTERS];
	uint64_t buckets[METRICS_NBUCKETS];   /* per bucket, not cumulative */
	uint64_t latency_us;                  /* their sum, microseconds */
};

/* Upper bounds of the latency buckets, in seconds. */
extern const double metrics_bounds[METRICS_NBOUNDS];

const char *metrics_counter_name(enum metrics_counter c);
/* The bucket of a latency of seconds. */
unsigned metrics_bucket(double seconds);
/* 1 if name can be a label of its own. */
int metrics_name_ok(const char *name);
void metrics_add(struct metrics_func *to, const struct metrics_func *from);

/* The status file's "functions" object: one member per function. */
json_t *metrics_json(const struct metrics_func *f, size_t n);
/* Back from that object: *f malloc'd (free it), n functions. -1 with err
 * filled when it is not one. */
int metrics_from_json(json_t *functions, struct metrics_func **f,
    size_t *n, char *err, size_t errlen);
/* The garivini_function_* families. */
void metrics_prometheus(struct prom *p, const struct metrics_func *f,
    size_t n);

#endif
