/*
 * test_funcstats: the shared-memory table of per-function counters (find
 * and claim, the cap and METRICS_OTHER, claims racing from threads and
 * processes) and the written forms of src/metrics.c (buckets, JSON there
 * and back, the Prometheus lines).
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "funcstats.h"
#include "metrics.h"
#include "prom.h"
#include "unit.h"

/* The function called name in f, or NULL. */
static const struct metrics_func *
get(const struct metrics_func *f, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	return NULL;
}

START_TEST(test_find_claims_once)
{
	struct funcstats *t = funcstats_map(10);
	struct metrics_func *f;
	struct fs_entry *a, *b;
	size_t n;

	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_eq(funcstats_current(), t);
	a = funcstats_find(t, "resize");
	b = funcstats_find(t, "mail");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_ne(a, b);
	ck_assert_ptr_eq(funcstats_find(t, "resize"), a);
	funcstats_add(a, METRICS_DONE, 2);
	funcstats_count(t, "resize", METRICS_FAILED, 1);
	funcstats_count(t, "mail", METRICS_DISPATCHED, 5);
	funcstats_latency(b, 0.003);
	funcstats_latency(b, 0.2);
	funcstats_latency(b, -1);          /* clocks apart: 0 */
	funcstats_latency(b, 1000);
	ck_assert_int_eq(funcstats_read(t, &f, &n), 0);
	/* In name order; nothing counted under _other, so it is left out. */
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(f[0].name, "mail");
	ck_assert_str_eq(f[1].name, "resize");
	ck_assert_uint_eq(f[1].counters[METRICS_DONE], 2);
	ck_assert_uint_eq(f[1].counters[METRICS_FAILED], 1);
	ck_assert_uint_eq(f[0].counters[METRICS_DISPATCHED], 5);
	ck_assert_uint_eq(f[0].buckets[0], 2);              /* <= 0.005 */
	ck_assert_uint_eq(f[0].buckets[metrics_bucket(0.2)], 1);
	ck_assert_uint_eq(f[0].buckets[METRICS_NBOUNDS], 1); /* +Inf */
	ck_assert_uint_eq(f[0].latency_us, 3000 + 200000 + 1000000000ULL);
	free(f);
	funcstats_unmap(t);
	ck_assert_ptr_null(funcstats_current());
	/* No table (a role run alone): nothing happens. */
	ck_assert_ptr_null(funcstats_find(NULL, "x"));
	funcstats_add(NULL, METRICS_DONE, 1);
	funcstats_latency(NULL, 1);
	funcstats_count(NULL, "x", METRICS_DONE, 1);
}
END_TEST

START_TEST(test_cap_and_other)
{
	struct funcstats *t = funcstats_map(3);
	char longname[GV_FUNCNAME_MAX + 2];
	const struct metrics_func *o;
	struct metrics_func *f;
	size_t n, i;
	char name[16];

	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%zu", i);
		funcstats_count(t, name, METRICS_DISPATCHED, i + 1);
	}
	/* Names no label can carry go to _other, cap or not. */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	funcstats_count(t, longname, METRICS_DONE, 1);
	funcstats_count(t, "", METRICS_DONE, 1);
	funcstats_count(t, "caf\xe9", METRICS_DONE, 1);
	funcstats_count(t, NULL, METRICS_DONE, 1);
	/* A known function still finds its own entry after the cap. */
	funcstats_count(t, "f0", METRICS_DISPATCHED, 10);
	ck_assert_int_eq(funcstats_read(t, &f, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(f[0].name, "f0");
	ck_assert_uint_eq(f[0].counters[METRICS_DISPATCHED], 11);
	ck_assert_str_eq(f[2].name, "f2");
	/* _other last: f3 and f4 (4 + 5), and the four bad names. */
	o = &f[3];
	ck_assert_str_eq(o->name, METRICS_OTHER);
	ck_assert_uint_eq(o->counters[METRICS_DISPATCHED], 9);
	ck_assert_uint_eq(o->counters[METRICS_DONE], 4);
	free(f);
	funcstats_unmap(t);
}
END_TEST

#define THREADS 8
#define NAMES 40
#define ROUNDS 2000

struct racer {
	struct funcstats *t;
	int id;
};

/* Every thread counts every name, each starting at another one, so that
 * first claims of one name collide. */
static void *
race(void *arg)
{
	struct racer *r = arg;
	char name[16];
	int i;

	for (i = 0; i < ROUNDS; i++) {
		snprintf(name, sizeof(name), "fn%d", (i + r->id) % NAMES);
		funcstats_count(r->t, name, METRICS_DISPATCHED, 1);
		funcstats_latency(funcstats_find(r->t, name), 0.01);
	}
	return NULL;
}

/* THREADS racing on a table of cap functions; its functions read back
 * into *f, and every count must be there, whatever the cap. */
static void
race_threads(unsigned cap, struct metrics_func **f, size_t *n)
{
	struct funcstats *t = funcstats_map(cap);
	pthread_t th[THREADS];
	struct racer r[THREADS];
	uint64_t total = 0;
	size_t k;
	int i;

	for (i = 0; i < THREADS; i++) {
		r[i] = (struct racer){ t, i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(funcstats_read(t, f, n), 0);
	for (k = 0; k < *n; k++)
		total += (*f)[k].counters[METRICS_DISPATCHED];
	ck_assert_uint_eq(total, THREADS * ROUNDS);
	funcstats_unmap(t);
}

START_TEST(test_concurrent_claims)
{
	struct metrics_func *f;
	size_t n, i;

	race_threads(100, &f, &n);
	/* Each name once, whatever entries the race made. */
	ck_assert_uint_eq(n, NAMES);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(f[i].counters[METRICS_DISPATCHED],
		    THREADS * ROUNDS / NAMES);
		ck_assert_uint_eq(f[i].buckets[1], THREADS * ROUNDS / NAMES);
	}
	free(f);
}
END_TEST

START_TEST(test_concurrent_claims_over_the_cap)
{
	struct metrics_func *f;
	size_t n;

	race_threads(10, &f, &n);
	/* Ten named at most (fewer if a race took two places for one),
	 * the rest under _other. */
	ck_assert_uint_le(n, 11);
	ck_assert_str_eq(f[n - 1].name, METRICS_OTHER);
	free(f);
}
END_TEST

/* Children write, the parent reads: the table is shared across fork(). */
START_TEST(test_shared_across_processes)
{
	struct funcstats *t = funcstats_map(100);
	const struct metrics_func *x;
	struct metrics_func *f;
	pid_t pid[4];
	int i, status;
	size_t n;

	for (i = 0; i < 4; i++) {
		if ((pid[i] = fork()) == 0) {
			struct racer r = { t, i };

			race(&r);
			funcstats_count(t, "from-children", METRICS_DONE, 1);
			_exit(0);
		}
		ck_assert_int_gt(pid[i], 0);
	}
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert_int_eq(status, 0);
	}
	ck_assert_int_eq(funcstats_read(t, &f, &n), 0);
	ck_assert_uint_eq(n, NAMES + 1);
	ck_assert_ptr_nonnull(x = get(f, n, "from-children"));
	ck_assert_uint_eq(x->counters[METRICS_DONE], 4);
	ck_assert_ptr_nonnull(x = get(f, n, "fn7"));
	ck_assert_uint_eq(x->counters[METRICS_DISPATCHED], 4 * ROUNDS / NAMES);
	free(f);
	funcstats_unmap(t);
}
END_TEST

START_TEST(test_buckets)
{
	ck_assert_uint_eq(metrics_bucket(0), 0);
	ck_assert_uint_eq(metrics_bucket(0.005), 0);     /* le: inclusive */
	ck_assert_uint_eq(metrics_bucket(0.0051), 1);
	ck_assert_uint_eq(metrics_bucket(1), 5);
	ck_assert_uint_eq(metrics_bucket(300), METRICS_NBOUNDS - 1);
	ck_assert_uint_eq(metrics_bucket(301), METRICS_NBOUNDS);
	ck_assert_str_eq(metrics_counter_name(METRICS_TIMED_OUT),
	    "timed_out");
}
END_TEST

START_TEST(test_json_there_and_back)
{
	struct metrics_func in[2], *out;
	json_t *j, *lat;
	char err[256];
	size_t n;

	memset(in, 0, sizeof(in));
	snprintf(in[0].name, sizeof(in[0].name), "a\"b");
	in[0].counters[METRICS_DISPATCHED] = 7;
	in[0].counters[METRICS_PARKED] = 1;
	in[0].buckets[0] = 3;
	in[0].buckets[4] = 2;
	in[0].buckets[METRICS_NBOUNDS] = 2;
	in[0].latency_us = 1234567;
	snprintf(in[1].name, sizeof(in[1].name), METRICS_OTHER);
	in[1].counters[METRICS_CANCELLED] = 2;
	j = metrics_json(in, 2);
	/* Cumulative buckets, as Prometheus has them. */
	lat = json_object_get(json_object_get(j, "a\"b"), "latency");
	ck_assert_int_eq(json_integer_value(json_object_get(
	    json_object_get(lat, "buckets"), "0.5")), 5);
	ck_assert_int_eq(json_integer_value(json_object_get(
	    json_object_get(lat, "buckets"), "+Inf")), 7);
	ck_assert_int_eq(json_integer_value(json_object_get(lat, "count")), 7);
	ck_assert_int_eq(metrics_from_json(j, &out, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(&out[0], &in[0], sizeof(in[0]));
	ck_assert_mem_eq(&out[1], &in[1], sizeof(in[1]));
	free(out);
	/* A function whose object lacks a key is refused. */
	json_object_del(json_object_get(j, "a\"b"), "parked");
	ck_assert_int_eq(metrics_from_json(j, &out, &n, err, sizeof(err)),
	    -1);
	ck_assert_ptr_null(out);
	json_decref(j);
}
END_TEST

START_TEST(test_prometheus_lines)
{
	struct metrics_func f;
	struct prom p = { 0 };

	memset(&f, 0, sizeof(f));
	snprintf(f.name, sizeof(f.name), "a\"b\\c");
	f.counters[METRICS_DONE] = 4;
	f.buckets[2] = 1;
	f.buckets[METRICS_NBOUNDS] = 1;
	f.latency_us = 500000;
	metrics_prometheus(&p, &f, 1);
	ck_assert_int_eq(p.failed, 0);
	ck_assert_int_eq(buf_appendc(&p.text, '\0'), 0);
	ck_assert_ptr_nonnull(strstr(p.text.data,
	    "# TYPE garivini_function_jobs_done_total counter\n"
	    "garivini_function_jobs_done_total{function=\"a\\\"b\\\\c\"} 4\n"));
	ck_assert_ptr_nonnull(strstr(p.text.data, "# TYPE "
	    "garivini_function_start_latency_seconds histogram\n"));
	ck_assert_ptr_nonnull(strstr(p.text.data,
	    "garivini_function_start_latency_seconds_bucket{function="
	    "\"a\\\"b\\\\c\",le=\"0.01\"} 0\n"
	    "garivini_function_start_latency_seconds_bucket{function="
	    "\"a\\\"b\\\\c\",le=\"0.05\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(p.text.data, "le=\"+Inf\"} 2\n"
	    "garivini_function_start_latency_seconds_sum{function="
	    "\"a\\\"b\\\\c\"} 0.5\n"
	    "garivini_function_start_latency_seconds_count{function="
	    "\"a\\\"b\\\\c\"} 2\n"));
	prom_free(&p);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_find_claims_once, test_cap_and_other,
		test_concurrent_claims, test_concurrent_claims_over_the_cap,
		test_shared_across_processes, test_buckets,
		test_json_there_and_back, test_prometheus_lines,
	};

	return unit_run("funcstats", tests, sizeof(tests) / sizeof(tests[0]),
	    NULL, NULL);
}
