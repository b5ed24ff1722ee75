/*
 * metrics: names, buckets and the written forms of the per-function
 * metrics. The JSON keys and the Prometheus names are defined here and
 * nowhere else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobjson.h"
#include "metrics.h"
#include "util.h"

const double metrics_bounds[METRICS_NBOUNDS] = {
	0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300,
};

static const char *const counter_names[METRICS_NCOUNTERS] = {
	[METRICS_DISPATCHED] = "dispatched",
	[METRICS_DONE] = "done",
	[METRICS_FAILED] = "failed",
	[METRICS_PARKED] = "parked",
	[METRICS_TIMED_OUT] = "timed_out",
	[METRICS_CANCELLED] = "cancelled",
};

static const char *const counter_help[METRICS_NCOUNTERS] = {
	[METRICS_DISPATCHED] = "Jobs handed to gearmand, by QueueRunners and "
	    "by Injectors (submitted at once).",
	[METRICS_DONE] = "Jobs completed through a Controller.",
	[METRICS_FAILED] = "Failures at a Controller, timeouts included.",
	[METRICS_PARKED] = "Failures that parked the job (max_failures).",
	[METRICS_TIMED_OUT] = "Failures for no answer within job_timeout.",
	[METRICS_CANCELLED] = "Jobs cancelled through cancel_jobs.",
};

#define LATENCY "function_start_latency_seconds"

const char *
metrics_counter_name(enum metrics_counter c)
{
	if ((unsigned)c >= METRICS_NCOUNTERS)
		return "unknown";
	return counter_names[c];
}

unsigned
metrics_bucket(double seconds)
{
	unsigned i;

	for (i = 0; i < METRICS_NBOUNDS; i++)
		if (seconds <= metrics_bounds[i])
			return i;
	return METRICS_NBOUNDS;
}

int
metrics_name_ok(const char *name)
{
	size_t len;

	if (name == NULL || (len = strlen(name)) == 0 ||
	    len > GV_FUNCNAME_MAX)
		return 0;
	return jobjson_utf8_valid(name, len);
}

void
metrics_add(struct metrics_func *to, const struct metrics_func *from)
{
	int i;

	for (i = 0; i < METRICS_NCOUNTERS; i++)
		to->counters[i] += from->counters[i];
	for (i = 0; i < METRICS_NBUCKETS; i++)
		to->buckets[i] += from->buckets[i];
	to->latency_us += from->latency_us;
}

/* A bucket's "le": the bound as Prometheus prints it, or "+Inf". */
static const char *
bucket_le(unsigned i, char *out, size_t len)
{
	if (i >= METRICS_NBOUNDS)
		return "+Inf";
	snprintf(out, len, "%g", metrics_bounds[i]);
	return out;
}

json_t *
metrics_json(const struct metrics_func *f, size_t n)
{
	json_t *all = json_object(), *o, *lat, *buckets;
	uint64_t cum;
	char le[32];
	size_t k;
	int i;

	for (k = 0; k < n; k++) {
		o = json_object();
		for (i = 0; i < METRICS_NCOUNTERS; i++)
			json_object_set_new(o, counter_names[i],
			    json_integer((json_int_t)f[k].counters[i]));
		lat = json_object();
		buckets = json_object();
		for (i = 0, cum = 0; i < METRICS_NBUCKETS; i++) {
			cum += f[k].buckets[i];
			json_object_set_new(buckets, bucket_le((unsigned)i, le,
			    sizeof(le)), json_integer((json_int_t)cum));
		}
		json_object_set_new(lat, "buckets", buckets);
		json_object_set_new(lat, "sum",
		    json_real((double)f[k].latency_us / 1e6));
		json_object_set_new(lat, "count", json_integer((json_int_t)cum));
		json_object_set_new(o, "latency", lat);
		json_object_set_new(all, f[k].name, o);
	}
	return all;
}

static int
get_u64(const json_t *o, const char *key, uint64_t *v)
{
	json_t *x = json_object_get(o, key);

	if (!json_is_integer(x) || json_integer_value(x) < 0)
		return -1;
	*v = (uint64_t)json_integer_value(x);
	return 0;
}

/* One function's object back into f. */
static int
func_from_json(const json_t *o, struct metrics_func *f)
{
	json_t *lat, *buckets, *sum;
	uint64_t cum, prev = 0;
	char le[32];
	int i;

	for (i = 0; i < METRICS_NCOUNTERS; i++)
		if (get_u64(o, counter_names[i], &f->counters[i]) == -1)
			return -1;
	if (!json_is_object(lat = json_object_get(o, "latency")) ||
	    !json_is_object(buckets = json_object_get(lat, "buckets")) ||
	    !json_is_number(sum = json_object_get(lat, "sum")))
		return -1;
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		if (get_u64(buckets, bucket_le((unsigned)i, le, sizeof(le)),
		    &cum) == -1 || cum < prev)
			return -1;
		f->buckets[i] = cum - prev;
		prev = cum;
	}
	f->latency_us = (uint64_t)(json_number_value(sum) * 1e6 + 0.5);
	return 0;
}

int
metrics_from_json(json_t *functions, struct metrics_func **f,
    size_t *n, char *err, size_t errlen)
{
	const char *name;
	json_t *o;
	size_t k = 0;

	*f = NULL;
	*n = 0;
	if (!json_is_object(functions))
		return errf(err, errlen, "\"functions\" is not an object");
	if (json_object_size(functions) == 0)
		return 0;
	if ((*f = calloc(json_object_size(functions), sizeof(**f))) == NULL)
		return errf(err, errlen, "out of memory");
	json_object_foreach(functions, name, o) {
		if (!metrics_name_ok(name) && strcmp(name, METRICS_OTHER) != 0)
			goto bad;
		snprintf((*f)[k].name, sizeof((*f)[k].name), "%s", name);
		if (func_from_json(o, &(*f)[k]) == -1)
			goto bad;
		k++;
	}
	*n = k;
	return 0;
bad:
	errf(err, errlen, "\"functions\": %s is not a function's metrics",
	    name);
	free(*f);
	*f = NULL;
	return -1;
}

void
metrics_prometheus(struct prom *p, const struct metrics_func *f, size_t n)
{
	char name[64], le[32];
	uint64_t cum;
	size_t k;
	int i;

	for (i = 0; i < METRICS_NCOUNTERS; i++) {
		snprintf(name, sizeof(name), "function_jobs_%s_total",
		    counter_names[i]);
		prom_family(p, name, "counter", counter_help[i]);
		for (k = 0; k < n; k++)
			prom_u64(p, name, f[k].counters[i], "function",
			    f[k].name, NULL);
	}
	prom_family(p, LATENCY, "histogram", "Seconds from the moment a job "
	    "was due to the moment it was handed to gearmand.");
	for (k = 0; k < n; k++) {
		for (i = 0, cum = 0; i < METRICS_NBUCKETS; i++) {
			cum += f[k].buckets[i];
			prom_u64(p, LATENCY "_bucket", cum, "function",
			    f[k].name, "le", bucket_le((unsigned)i, le,
			    sizeof(le)), NULL);
		}
		prom_num(p, LATENCY "_sum", (double)f[k].latency_us / 1e6,
		    "function", f[k].name, NULL);
		prom_u64(p, LATENCY "_count", cum, "function", f[k].name,
		    NULL);
	}
}
