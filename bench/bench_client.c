/*
 * bench_client: the submitting side of the benchmarks (bench/bench.pl).
 *
 *   insert   rows through libgarivini (throughput mode): gv_insert_jobs in
 *            batches of -b, or with -r one gv_insert_job at a time at RATE
 *            jobs per second
 *   inject   JSON to inject_jobs (low-latency mode): windows of -j calls in
 *            flight, or with -r one call at a time at RATE jobs per second
 *   gearman  background jobs straight to gearmand (the baselines): batches of
 *            -b pipelined gearman_client_add_task_background, or with -r one
 *            gearman_client_do_background at a time at RATE jobs per second
 *
 * Every job's arg starts with its submit time (CLOCK_REALTIME microseconds,
 * taken just before the call that submits it), then its number, so a worker
 * can tell how long the job waited. With -r the calls follow a fixed
 * schedule (i / RATE after the start) and a late call is not made up by a
 * burst; the summary says how late the schedule ran.
 *
 * One summary line on stdout:
 *   jobs N ok N first T last T utime U stime S switches N behind SECONDS
 * first and last are CLOCK_REALTIME seconds of the first submit and the last
 * acknowledgement. Exit codes: 0 every job acknowledged, 1 some were not,
 * 64 usage, 78 configuration.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <time.h>

#include <libgearman-1.0/gearman.h>

#include "garivini.h"

#define ARG_MAX_LEN 64
#define CLIENT_TIMEOUT_MS 30000

enum cmd { CMD_INSERT, CMD_INJECT, CMD_GEARMAN };

struct opts {
	enum cmd cmd;
	const char *ini;
	const char *funcname;
	char host[256];
	in_port_t port;
	long count;
	long batch;
	long window;
	double rate;
};

struct result {
	long ok;
	double first;
	double last;
	double behind;           /* worst lateness of the schedule, seconds */
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: bench_client insert  -c INI -f FUNC -n N [-b BATCH] "
	    "[-r RATE]\n"
	    "       bench_client inject  -g HOST:PORT -f FUNC -n N [-j WINDOW] "
	    "[-r RATE]\n"
	    "       bench_client gearman -g HOST:PORT -f FUNC -n N [-b BATCH] "
	    "[-r RATE]\n");
	exit(EX_USAGE);
}

static double
now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for job i of a schedule that started at t0 (monotonic); returns how
 * late the call is. */
static double
pace(const struct opts *o, double t0, long i)
{
	double due = t0 + (double)i / o->rate, late;
	struct timespec ts;

	late = now_mono() - due;
	if (late >= 0)
		return late;
	ts.tv_sec = (time_t)due;
	ts.tv_nsec = (long)((due - (double)ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
		;
	return 0;
}

/* The arg of job i: submit time in microseconds, then the number. */
static size_t
make_arg(char *out, long i)
{
	int n;

	n = snprintf(out, ARG_MAX_LEN, "%llu job %ld",
	    (unsigned long long)(now_real() * 1e6), i);
	return (size_t)n;
}

static int
run_insert(const struct opts *o, struct result *res)
{
	struct gv_new_job *jobs;
	char (*args)[ARG_MAX_LEN];
	char err[1024];
	size_t inserted;
	double t0;
	long i, k, n;
	gv_client *gv;
	int rc = 0;

	if ((gv = gv_open_ini(o->ini, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_client: %s\n", err);
		return EX_CONFIG;
	}
	jobs = calloc((size_t)o->batch, sizeof(*jobs));
	args = calloc((size_t)o->batch, sizeof(*args));
	if (!jobs || !args) {
		fprintf(stderr, "bench_client: out of memory\n");
		return EX_OSERR;
	}
	t0 = now_mono();
	res->first = now_real();
	if (o->rate > 0) {
		for (i = 0; i < o->count; i++) {
			double late = pace(o, t0, i);

			if (late > res->behind)
				res->behind = late;
			jobs[0] = (struct gv_new_job){ .funcname = o->funcname,
			    .arg = args[0], .arg_len = make_arg(args[0], i) };
			if (gv_insert_job(gv, &jobs[0], NULL, NULL, NULL) !=
			    GV_OK) {
				fprintf(stderr, "bench_client: job %ld: %s\n",
				    i, gv_errmsg(gv));
				rc = 1;
				continue;
			}
			res->ok++;
		}
	} else {
		for (i = 0; i < o->count; i += n) {
			n = o->count - i < o->batch ? o->count - i : o->batch;
			for (k = 0; k < n; k++)
				jobs[k] = (struct gv_new_job){
				    .funcname = o->funcname, .arg = args[k],
				    .arg_len = make_arg(args[k], i + k) };
			if (gv_insert_jobs(gv, jobs, (size_t)n, &inserted) !=
			    GV_OK) {
				fprintf(stderr, "bench_client: jobs %ld..%ld: "
				    "%s\n", i, i + n - 1, gv_errmsg(gv));
				rc = 1;
			}
			res->ok += (long)inserted;
		}
	}
	res->last = now_real();
	free(jobs);
	free(args);
	gv_close(gv);
	return rc;
}

static gearman_client_st *
client_new(const struct opts *o)
{
	gearman_client_st *c;

	if ((c = gearman_client_create(NULL)) == NULL ||
	    gearman_client_add_server(c, o->host, o->port) != GEARMAN_SUCCESS) {
		fprintf(stderr, "bench_client: cannot set up the client\n");
		exit(EX_CONFIG);
	}
	gearman_client_set_timeout(c, CLIENT_TIMEOUT_MS);
	return c;
}

static size_t
inject_payload(const struct opts *o, char *out, size_t cap, long i)
{
	char arg[ARG_MAX_LEN];

	make_arg(arg, i);
	/* The funcname is the caller's and plain ASCII; the arg is digits and
	 * letters: nothing needs escaping. */
	return (size_t)snprintf(out, cap,
	    "{\"funcname\":\"%s\",\"arg\":\"%s\"}", o->funcname, arg);
}

static int
run_inject(const struct opts *o, struct result *res)
{
	gearman_client_st *c = client_new(o);
	gearman_task_st **tasks;
	gearman_return_t ret;
	char (*payload)[ARG_MAX_LEN + 300];
	size_t len, rlen;
	double t0;
	long i, k, n;
	void *reply;
	int rc = 0;

	tasks = calloc((size_t)o->window, sizeof(*tasks));
	payload = calloc((size_t)o->window, sizeof(*payload));
	if (!tasks || !payload) {
		fprintf(stderr, "bench_client: out of memory\n");
		return EX_OSERR;
	}
	t0 = now_mono();
	res->first = now_real();
	if (o->rate > 0) {
		for (i = 0; i < o->count; i++) {
			double late = pace(o, t0, i);

			if (late > res->behind)
				res->behind = late;
			len = inject_payload(o, payload[0], sizeof(payload[0]),
			    i);
			reply = gearman_client_do(c, GV_FUNC_INJECT, NULL,
			    payload[0], len, &rlen, &ret);
			free(reply);
			if (ret != GEARMAN_SUCCESS) {
				fprintf(stderr, "bench_client: job %ld: %s\n",
				    i, gearman_client_error(c));
				rc = 1;
				continue;
			}
			res->ok++;
		}
		goto out;
	}
	for (i = 0; i < o->count; i += n) {
		n = o->count - i < o->window ? o->count - i : o->window;
		for (k = 0; k < n; k++) {
			len = inject_payload(o, payload[k], sizeof(payload[k]),
			    i + k);
			tasks[k] = gearman_client_add_task(c, NULL, NULL,
			    GV_FUNC_INJECT, NULL, payload[k], len, &ret);
		}
		ret = gearman_client_run_tasks(c);
		for (k = 0; k < n; k++) {
			if (tasks[k] && ret == GEARMAN_SUCCESS &&
			    gearman_task_return(tasks[k]) == GEARMAN_SUCCESS)
				res->ok++;
			else
				rc = 1;
		}
		gearman_client_task_free_all(c);
		if (ret != GEARMAN_SUCCESS) {
			fprintf(stderr, "bench_client: %s\n",
			    gearman_client_error(c));
			/* A client that saw an error is not reused. */
			gearman_client_free(c);
			c = client_new(o);
		}
	}
out:
	res->last = now_real();
	free(tasks);
	free(payload);
	gearman_client_free(c);
	return rc;
}

static gearman_return_t
on_created(gearman_task_st *task)
{
	long *acked = gearman_task_context(task);

	(*acked)++;
	return GEARMAN_SUCCESS;
}

static int
run_gearman(const struct opts *o, struct result *res)
{
	gearman_client_st *c = client_new(o);
	char (*args)[ARG_MAX_LEN];
	gearman_job_handle_t handle;
	gearman_return_t ret;
	long i, k, n, acked;
	size_t len;
	double t0;
	int rc = 0;

	if ((args = calloc((size_t)o->batch, sizeof(*args))) == NULL) {
		fprintf(stderr, "bench_client: out of memory\n");
		return EX_OSERR;
	}
	/* Without FREE_TASKS every reply is matched by a scan of all the
	 * tasks of the batch (see doc/libgearman.md). */
	gearman_client_add_options(c, GEARMAN_CLIENT_FREE_TASKS);
	gearman_client_set_created_fn(c, on_created);
	t0 = now_mono();
	res->first = now_real();
	if (o->rate > 0) {
		for (i = 0; i < o->count; i++) {
			double late = pace(o, t0, i);

			if (late > res->behind)
				res->behind = late;
			len = make_arg(args[0], i);
			ret = gearman_client_do_background(c, o->funcname, NULL,
			    args[0], len, handle);
			if (ret != GEARMAN_SUCCESS) {
				fprintf(stderr, "bench_client: job %ld: %s\n",
				    i, gearman_client_error(c));
				rc = 1;
				continue;
			}
			res->ok++;
		}
		goto out;
	}
	for (i = 0; i < o->count; i += n) {
		n = o->count - i < o->batch ? o->count - i : o->batch;
		acked = 0;
		/* Added in reverse: libgearman sends the last added first. */
		for (k = n; k-- > 0;) {
			len = make_arg(args[k], i + k);
			if (gearman_client_add_task_background(c, NULL, &acked,
			    o->funcname, NULL, args[k], len, &ret) == NULL)
				rc = 1;
		}
		ret = gearman_client_run_tasks(c);
		gearman_client_task_free_all(c);
		res->ok += acked;
		if (ret != GEARMAN_SUCCESS || acked != n) {
			fprintf(stderr, "bench_client: %ld of %ld "
			    "acknowledged: %s\n", acked, n,
			    gearman_client_error(c));
			rc = 1;
			gearman_client_free(c);
			c = client_new(o);
			gearman_client_add_options(c,
			    GEARMAN_CLIENT_FREE_TASKS);
			gearman_client_set_created_fn(c, on_created);
		}
	}
out:
	res->last = now_real();
	free(args);
	gearman_client_free(c);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o = { .batch = 1000, .window = 100, .count = 1 };
	struct result res = { 0 };
	struct rusage ru;
	char *colon, *end;
	const char *server = NULL;
	long port;
	int ch, rc;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "insert") == 0)
		o.cmd = CMD_INSERT;
	else if (strcmp(argv[1], "inject") == 0)
		o.cmd = CMD_INJECT;
	else if (strcmp(argv[1], "gearman") == 0)
		o.cmd = CMD_GEARMAN;
	else
		usage();
	optind = 2;
	while ((ch = getopt(argc, argv, "c:f:g:n:b:j:r:")) != -1) {
		switch (ch) {
		case 'c': o.ini = optarg; break;
		case 'f': o.funcname = optarg; break;
		case 'g': server = optarg; break;
		case 'n':
			o.count = strtol(optarg, &end, 10);
			if (*end || o.count < 1)
				usage();
			break;
		case 'b':
			o.batch = strtol(optarg, &end, 10);
			if (*end || o.batch < 1 || o.batch > 100000)
				usage();
			break;
		case 'j':
			o.window = strtol(optarg, &end, 10);
			if (*end || o.window < 1 || o.window > 100000)
				usage();
			break;
		case 'r':
			o.rate = strtod(optarg, &end);
			if (*end || o.rate < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (o.funcname == NULL || optind != argc || strlen(o.funcname) > 200 ||
	    strpbrk(o.funcname, "\"\\") != NULL)
		usage();
	if (o.cmd == CMD_INSERT) {
		if (o.ini == NULL)
			usage();
	} else {
		if (server == NULL || strlen(server) >= sizeof(o.host))
			usage();
		snprintf(o.host, sizeof(o.host), "%s", server);
		if ((colon = strrchr(o.host, ':')) == NULL)
			usage();
		*colon = '\0';
		port = strtol(colon + 1, &end, 10);
		if (*end || port <= 0 || port > 65535)
			usage();
		o.port = (in_port_t)port;
	}
	rc = o.cmd == CMD_INSERT ? run_insert(&o, &res) :
	    o.cmd == CMD_INJECT ? run_inject(&o, &res) : run_gearman(&o, &res);
	getrusage(RUSAGE_SELF, &ru);
	printf("jobs %ld ok %ld first %.6f last %.6f utime %.3f stime %.3f "
	    "switches %ld behind %.6f\n", o.count, res.ok, res.first, res.last,
	    (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
	    ru.ru_nvcsw + ru.ru_nivcsw, res.behind);
	return rc;
}
