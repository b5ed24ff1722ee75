/*
 * gv_inject: example client, both modes.
 *
 *   throughput: rows inserted with libgarivini (gv_insert_jobs in batches)
 *   latency:    JSON sent to the Gearman function inject_jobs; the answer
 *               (jobid, dbid) means the job is durable
 *
 * "{n}" in the arg or unique key becomes the job's number (0 .. N-1), so a
 * test can tell every job apart.
 *
 * Exit codes: 0 every job acknowledged, 1 some were not (each failure on
 * stderr), 2 every batch stored but some of unknown fate (the connection
 * lost during their COMMIT: each range on stderr), 64 usage, 78
 * configuration.
 *
 * An example to copy: it uses libgarivini's public API (garivini.h),
 * libgearman and jansson, nothing of Garivini's insides.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <garivini.h>
#include <jansson.h>
#include <libgearman-1.0/gearman.h>

struct opts {
	const char *ini;
	const char *funcname;
	const char *arg;
	const char *uniqkey;
	long count;
	long delay;
	long batch;
	long concurrency;
	long priority;     /* checked by the library or the Injector */
	int latency;
	int shim;          /* latency: flag shim instead of controller */
	int controller;    /* throughput: flag controller instead of shim */
	int verbose;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: gv_inject -c INI -f FUNC [-n COUNT] [-a ARG] [-u UNIQKEY] "
	    "[-d DELAY] [-p PRIORITY]\n"
	    "                 [-m throughput|latency] [-b BATCH] [-j PARALLEL] "
	    "[--shim|--controller] [-v]\n"
	    "  {n} in ARG or UNIQKEY becomes the job number\n");
	exit(EX_USAGE);
}

/* A whole number from min to max, the whole of s; else the usage. */
static long
whole(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || errno || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

static double
seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
alloc(size_t size)
{
	void *p;

	if ((p = malloc(size)) == NULL) {
		fprintf(stderr, "gv_inject: out of memory\n");
		exit(EX_OSERR);
	}
	return p;
}

/* s with every "{n}" replaced by n, in *out (freed first). */
static void
expand(char **out, const char *s, long n)
{
	const char *p;
	char *q;
	size_t marks = 0;

	for (p = s; (p = strstr(p, "{n}")) != NULL; p += 3)
		marks++;
	free(*out);
	q = *out = alloc(strlen(s) + marks * 20 + 1);
	while ((p = strstr(s, "{n}")) != NULL) {
		memcpy(q, s, (size_t)(p - s));
		q += p - s;
		q += sprintf(q, "%ld", n);
		s = p + 3;
	}
	strcpy(q, s);
}

static int
run_throughput(const struct opts *o)
{
	struct gv_new_job *jobs;
	char **args, **keys;
	size_t inserted, total = 0;
	double t0 = seconds_now(), dt;
	long i, k, n, unknown = 0, unknown_batches = 0;
	char err[4096];
	gv_client *gv;
	int rc = 0;

	if ((gv = gv_open_ini(o->ini, err, sizeof(err))) == NULL) {
		fprintf(stderr, "gv_inject: %s\n", err);
		return EX_CONFIG;
	}
	jobs = alloc((size_t)o->batch * sizeof(*jobs));
	args = calloc((size_t)o->batch, sizeof(*args));
	keys = calloc((size_t)o->batch, sizeof(*keys));
	if (!args || !keys) {
		fprintf(stderr, "gv_inject: out of memory\n");
		exit(EX_OSERR);
	}
	for (i = 0; i < o->count; i += n) {
		n = o->count - i < o->batch ? o->count - i : o->batch;
		for (k = 0; k < n; k++) {
			expand(&args[k], o->arg, i + k);
			jobs[k] = (struct gv_new_job){ .funcname = o->funcname,
			    .arg = args[k], .arg_len = strlen(args[k]),
			    .delay = o->delay, .flag = o->controller ?
			    GV_FLAG_CONTROLLER : GV_FLAG_SHIM,
			    .priority = (int)o->priority };
			if (o->uniqkey) {
				expand(&keys[k], o->uniqkey, i + k);
				jobs[k].uniqkey = keys[k];
			}
		}
		if (n == 1 && o->count == 1) {
			uint64_t jobid;
			unsigned dbid;
			int fresh;

			if (gv_insert_job(gv, &jobs[0], &jobid, &dbid,
			    &fresh) != GV_OK) {
				fprintf(stderr, "gv_inject: %s\n",
				    gv_errmsg(gv));
				rc = 1;
				break;
			}
			printf("%llu %u%s\n", (unsigned long long)jobid, dbid,
			    fresh ? "" : " duplicate");
			total = 1;
			break;
		}
		switch (gv_insert_jobs(gv, jobs, (size_t)n, &inserted)) {
		case GV_OK:
			break;
		case GV_EUNKNOWN:
			/* Stored or not, nobody can say: inserting again
			 * could store them twice. Named for the operator,
			 * and the next batches go on. */
			fprintf(stderr, "gv_inject: jobs %ld..%ld: fate unknown "
			    "(lost connection during COMMIT): %s\n", i,
			    i + n - 1, gv_errmsg(gv));
			unknown += n - (long)inserted;
			unknown_batches++;
			break;
		default:
			fprintf(stderr, "gv_inject: jobs %ld..%ld: %s\n", i,
			    i + n - 1, gv_errmsg(gv));
			rc = 1;
			break;
		}
		total += inserted;
		if (rc)
			break;
	}
	dt = seconds_now() - t0;
	if (o->verbose || o->count > 1)
		fprintf(stderr, "inserted %zu of %ld jobs in %.3f s (%.0f/s)\n",
		    total, o->count, dt, dt > 0 ? (double)total / dt : 0.0);
	if (unknown_batches) {
		fprintf(stderr, "fate unknown: %ld jobs of %ld batches (listed "
		    "above)\n", unknown, unknown_batches);
		if (rc == 0)
			rc = 2;
	}
	for (k = 0; k < o->batch; k++) {
		free(args[k]);
		free(keys[k]);
	}
	free(args);
	free(keys);
	free(jobs);
	gv_close(gv);
	return rc;
}

/* A byte string as a JSON string of code points U+0000..U+00FF (the arg
 * encoding of jobjson.h). */
static json_t *
byte_string(const char *p, size_t len)
{
	char *u = alloc(2 * len + 1), *q = u;
	json_t *s;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x80) {
			*q++ = (char)c;
		} else {
			*q++ = (char)(0xc0 | (c >> 6));
			*q++ = (char)(0x80 | (c & 0x3f));
		}
	}
	s = json_stringn(u, (size_t)(q - u));
	free(u);
	return s;
}

/* What came back for one inject_jobs call: the answer ({"jobid":N,
 * "dbid":N}) or a refusal's reason (a WORK_WARNING before the WORK_FAIL).
 * libgearman shows a packet's data only during its callback. */
struct answer {
	char *reply;           /* NULL: none yet */
	char *warning;
};

static gearman_return_t
keep_data(gearman_task_st *t, int warning)
{
	struct answer *a = gearman_task_context(t);
	char **text = warning ? &a->warning : &a->reply;
	size_t len = gearman_task_data_size(t);

	free(*text);
	*text = alloc(len + 1);
	memcpy(*text, gearman_task_data(t), len);
	(*text)[len] = '\0';
	return GEARMAN_SUCCESS;
}

static void
forget(struct answer *a)
{
	free(a->reply);
	free(a->warning);
	a->reply = a->warning = NULL;
}

static gearman_return_t
on_complete(gearman_task_st *t)
{
	return keep_data(t, 0);
}

static gearman_return_t
on_warning(gearman_task_st *t)
{
	return keep_data(t, 1);
}

static int
run_latency(const struct opts *o, const struct gv_server *servers,
    size_t nservers)
{
	gearman_client_st *client;
	gearman_task_st **tasks;
	char *arg = NULL, *key = NULL;
	char **payloads;
	struct answer *answers;
	long i, k, n, ok = 0, failed = 0;
	double t0 = seconds_now(), dt;
	gearman_return_t ret;
	size_t s;

	if ((client = gearman_client_create(NULL)) == NULL) {
		fprintf(stderr, "gv_inject: out of memory\n");
		return EX_OSERR;
	}
	for (s = 0; s < nservers; s++)
		gearman_client_add_server(client, servers[s].host,
		    (in_port_t)servers[s].port);
	gearman_client_set_warning_fn(client, on_warning);
	gearman_client_set_complete_fn(client, on_complete);
	tasks = calloc((size_t)o->concurrency, sizeof(*tasks));
	payloads = calloc((size_t)o->concurrency, sizeof(*payloads));
	answers = calloc((size_t)o->concurrency, sizeof(*answers));
	if (!tasks || !payloads || !answers) {
		fprintf(stderr, "gv_inject: out of memory\n");
		return EX_OSERR;
	}
	for (i = 0; i < o->count; i += n) {
		n = o->count - i < o->concurrency ? o->count - i :
		    o->concurrency;
		for (k = 0; k < n; k++) {
			json_t *doc = json_object();

			expand(&arg, o->arg, i + k);
			json_object_set_new(doc, "funcname",
			    json_string(o->funcname));
			json_object_set_new(doc, "arg",
			    byte_string(arg, strlen(arg)));
			if (o->uniqkey) {
				expand(&key, o->uniqkey, i + k);
				json_object_set_new(doc, "uniqkey",
				    json_string(key));
			}
			if (o->delay)
				json_object_set_new(doc, "delay",
				    json_integer(o->delay));
			if (o->shim)
				json_object_set_new(doc, "flag",
				    json_string("shim"));
			if (o->priority)
				json_object_set_new(doc, "priority",
				    json_integer(o->priority));
			payloads[k] = json_dumps(doc, JSON_COMPACT);
			json_decref(doc);
			tasks[k] = gearman_client_add_task(client, NULL,
			    &answers[k],
			    GV_FUNC_INJECT, NULL, payloads[k],
			    strlen(payloads[k]), &ret);
			if (tasks[k] == NULL)
				fprintf(stderr, "gv_inject: job %ld: %s\n",
				    i + k, gearman_client_error(client));
		}
		ret = gearman_client_run_tasks(client);
		for (k = 0; k < n; k++) {
			gearman_task_st *t = tasks[k];

			if (t == NULL) {
				failed++;
			} else if (ret == GEARMAN_SUCCESS &&
			    gearman_task_return(t) == GEARMAN_SUCCESS) {
				ok++;
				if (o->verbose || o->count == 1)
					printf("%s\n", answers[k].reply ?
					    answers[k].reply : "");
			} else {
				failed++;
				fprintf(stderr, "gv_inject: job %ld: %s%s%s\n",
				    i + k, gearman_strerror(ret ==
				    GEARMAN_SUCCESS ? gearman_task_return(t) :
				    ret), answers[k].warning ? ": " : "",
				    answers[k].warning ? answers[k].warning :
				    "");
			}
			forget(&answers[k]);
			free(payloads[k]);
		}
		gearman_client_task_free_all(client);
	}
	dt = seconds_now() - t0;
	if (o->verbose || o->count > 1)
		fprintf(stderr, "injected %ld of %ld jobs in %.3f s (%.0f/s)\n",
		    ok, o->count, dt, dt > 0 ? (double)ok / dt : 0.0);
	free(arg);
	free(key);
	free(answers);
	free(tasks);
	free(payloads);
	gearman_client_free(client);
	return failed ? 1 : 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "shim", no_argument, NULL, 'S' },
		{ "controller", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .ini = "garivini.ini", .arg = "", .count = 1,
	    .batch = 1000, .concurrency = 50 };
	struct gv_server servers[GV_SERVERS_MAX];
	size_t nservers;
	char err[4096];
	int ch;

	while ((ch = getopt_long(argc, argv, "c:f:n:a:u:d:p:m:b:j:vh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c': o.ini = optarg; break;
		case 'f': o.funcname = optarg; break;
		case 'a': o.arg = optarg; break;
		case 'u': o.uniqkey = optarg; break;
		case 'v': o.verbose = 1; break;
		case 'S': o.shim = 1; break;
		case 'C': o.controller = 1; break;
		case 'n':
			o.count = whole(optarg, 0, 1000000000L);
			break;
		case 'd':
			o.delay = whole(optarg, 0, 315360000L);
			break;
		case 'p':
			o.priority = whole(optarg, -1000, 1000);
			break;
		case 'b':
			o.batch = whole(optarg, 1, 100000);
			break;
		case 'j':
			o.concurrency = whole(optarg, 1, 10000);
			break;
		case 'm':
			if (strcmp(optarg, "latency") == 0)
				o.latency = 1;
			else if (strcmp(optarg, "throughput") != 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (o.funcname == NULL || optind != argc)
		usage();
	/* Read first in either mode, so that a bad file is reported the
	 * same way in both. */
	if (gv_ini_servers(o.ini, servers, GV_SERVERS_MAX, &nservers, err,
	    sizeof(err)) != GV_OK) {
		fprintf(stderr, "%s", err);
		return EX_CONFIG;
	}
	return o.latency ? run_latency(&o, servers, nservers) :
	    run_throughput(&o);
}
