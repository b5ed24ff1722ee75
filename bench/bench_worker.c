/*
 * bench_worker: the C worker of the benchmarks (bench/bench.pl).
 *
 * It works the Gearman functions of -f, a comma-separated list (one name,
 * or many: each is registered with the same callback, so the jobs of all of
 * them are counted and recorded alike), and records, per job, when the work
 * started, when the job was done (completed in the database, when this
 * worker does that) and how long after its submit it started. The submit
 * time is the leading number of the job's arg: microseconds of
 * CLOCK_REALTIME, put there by bench_client.
 *
 *   -m complete   throughput mode: parse the job document and complete the
 *                 job through libgarivini (gv_complete_later: completions
 *                 share one DELETE and one commit, flushed at 100 jobs,
 *                 after 5 ms, or when no job comes)
 *   -m complete-each  the same with gv_complete_job: one fenced DELETE and
 *                 one commit per job
 *   -m return     low-latency mode: parse the job document and return
 *                 success; the Controller completes the job
 *   -m raw        the baselines: the workload is the arg itself, and there
 *                 is no database
 *
 * -s MS makes each job take MS milliseconds (a sleep before it answers),
 * and -t K serves with K threads, each with its own gearmand connection,
 * so that one process holds K slow jobs at once (the slow-jobs scenario:
 * a thousand 5 s jobs, where a thousand processes would crowd the
 * machine). Threads share nothing but the records, under a lock, so -t
 * is for -m return and -m raw, which have no database connection. An
 * idle thread looks at the stop flag every 5 s, not 100 ms (see
 * THREAD_WORK_TIMEOUT_MS), so TERM takes up to 5 s more.
 *
 * The jobs done so far are a 64-bit counter in a shared mapping of -p FILE,
 * so the driver can watch progress without costing this process a syscall.
 * On TERM (or INT) the worker finishes the job in hand, writes its records
 * to -r FILE (binary: three doubles per job, start, done, latency; latency
 * is NaN when the arg carries no time) and a one-line summary to -o FILE:
 *   jobs N errors N utime SECONDS stime SECONDS switches N oom 0|1
 * (switches: context switches, voluntary or not; oom: records were lost).
 *
 * Exit codes: 0, 1 on a runtime error, 64 usage, 78 configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <libgearman-1.0/gearman.h>

#include "garivini.h"

#define WORK_TIMEOUT_MS 100      /* how often the stop flag is looked at */
/* The same with -t: each timeout costs a GRAB_JOB round trip, and a
 * thousand threads at 100 ms made 10,000 a second, which took both CPUs
 * from the programs under test. TERM is then seen within this. */
#define THREAD_WORK_TIMEOUT_MS 5000
#define FLUSH_WAIT_MS 5          /* waiting for a job while completions wait */
#define RECORDS_FIRST 65536
#define THREADS_MAX 4096
#define THREAD_STACK (256 * 1024) /* a thousand threads: keep them small */

enum mode { MODE_COMPLETE, MODE_COMPLETE_EACH, MODE_RETURN, MODE_RAW };

struct record {
	double start;            /* CLOCK_REALTIME seconds */
	double done;
	double latency;          /* seconds from submit to start, or NaN */
};

struct worker {
	enum mode mode;
	gv_client *gv;               /* complete modes: one thread only */
	long job_ms;                 /* -s: each job sleeps this long */
	int idle_ms;                 /* how often the stop flag is looked at */
	char **funcs;                /* -f, split at the commas */
	size_t nfuncs;
	const char *host;
	in_port_t port;
	/* The lock guards what the threads share: the records, the counts
	 * and the progress counter. */
	pthread_mutex_t lock;
	volatile uint64_t *progress;
	struct record *rec;
	size_t nrec, caprec;
	uint64_t errors;
	int oom;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: bench_worker -m complete|return|raw -f FUNC[,FUNC...] "
	    "-g HOST:PORT [-c INI]\n"
	    "                    [-s JOB_MS] [-t THREADS (return, raw)]\n"
	    "                    -p PROGRESS_FILE -o SUMMARY_FILE "
	    "-r RECORDS_FILE\n");
	exit(EX_USAGE);
}

static double
now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The submit time at the head of an arg, in seconds; NaN if there is none. */
static double
submit_time(const unsigned char *arg, size_t len)
{
	uint64_t us = 0;
	size_t i;

	for (i = 0; i < len && i < 20 && arg[i] >= '0' && arg[i] <= '9'; i++)
		us = us * 10 + (uint64_t)(arg[i] - '0');
	if (i < 16)   /* not a plausible time in microseconds */
		return NAN;
	return (double)us / 1e6;
}

static struct record *
record_new(struct worker *w)
{
	struct record *grown;
	size_t cap;

	if (w->nrec == w->caprec) {
		cap = w->caprec ? w->caprec * 2 : RECORDS_FIRST;
		if ((grown = realloc(w->rec, cap * sizeof(*grown))) == NULL) {
			w->oom = 1;
			return NULL;
		}
		w->rec = grown;
		w->caprec = cap;
	}
	return &w->rec[w->nrec++];
}

static gearman_return_t
work(gearman_job_st *gjob, void *context)
{
	struct worker *w = context;
	const void *load = gearman_job_workload(gjob);
	size_t len = gearman_job_workload_size(gjob);
	double start = now_real(), sent;
	struct timespec nap;
	struct record *r;
	struct gv_job job;
	char err[256];
	int rc;

	/* The job's work comes before its answer. Completions held from the
	 * jobs before are written first: they would wait for this one. */
	if (w->job_ms > 0) {
		if (w->gv && gv_pending(w->gv))
			gv_flush(w->gv);
		nap.tv_sec = w->job_ms / 1000;
		nap.tv_nsec = w->job_ms % 1000 * 1000000L;
		while (nanosleep(&nap, &nap) == -1 && errno == EINTR)
			;
	}
	if (w->mode == MODE_RAW) {
		sent = submit_time(load, len);
	} else {
		if (gv_job_parse(load, len, &job, err, sizeof(err)) != GV_OK) {
			fprintf(stderr, "bench_worker: %s\n", err);
			pthread_mutex_lock(&w->lock);
			w->errors++;
			pthread_mutex_unlock(&w->lock);
			return GEARMAN_FAIL;
		}
		sent = submit_time(job.arg, job.arg_len);
		if (w->mode == MODE_COMPLETE)
			rc = gv_complete_later(w->gv, &job);
		else if (w->mode == MODE_COMPLETE_EACH)
			rc = gv_complete_job(w->gv, &job);
		else
			rc = GV_OK;
		/* Only the complete modes fail here, and they run one
		 * thread: no lock. */
		if (rc != GV_OK) {
			if (w->errors++ < 10)
				fprintf(stderr, "bench_worker: job %llu: %s\n",
				    (unsigned long long)job.jobid,
				    gv_errmsg(w->gv));
		}
		gv_job_clear(&job);
	}
	pthread_mutex_lock(&w->lock);
	if ((r = record_new(w)) != NULL) {
		r->start = start;
		r->done = now_real();
		r->latency = isnan(sent) ? NAN : start - sent;
	}
	(*w->progress)++;
	pthread_mutex_unlock(&w->lock);
	return GEARMAN_SUCCESS;
}

/* Cut the comma-separated list names (from argv) in place into w->funcs.
 * strtok_r skips empty names: "a,,b" is a and b, "," is none. */
static int
split_functions(struct worker *w, char *names)
{
	char *name, *save = NULL;

	if ((w->funcs = calloc(strlen(names) / 2 + 1, sizeof(*w->funcs))) ==
	    NULL)
		return -1;
	for (name = strtok_r(names, ",", &save); name != NULL;
	    name = strtok_r(NULL, ",", &save))
		w->funcs[w->nfuncs++] = name;
	return w->nfuncs ? 0 : -1;
}

/* A worker connection with every function of -f on the one callback. */
static gearman_worker_st *
worker_new(struct worker *w)
{
	gearman_worker_st *gw;
	size_t i;

	if ((gw = gearman_worker_create(NULL)) == NULL ||
	    gearman_worker_add_server(gw, w->host, w->port) !=
	    GEARMAN_SUCCESS) {
		fprintf(stderr, "bench_worker: cannot set up the worker\n");
		goto fail;
	}
	for (i = 0; i < w->nfuncs; i++) {
		if (gearman_worker_define_function(gw, w->funcs[i],
		    strlen(w->funcs[i]), gearman_function_create(work), 0,
		    w) != GEARMAN_SUCCESS) {
			fprintf(stderr, "bench_worker: %s: %s\n", w->funcs[i],
			    gearman_worker_error(gw));
			goto fail;
		}
	}
	return gw;
fail:
	if (gw)
		gearman_worker_free(gw);
	return NULL;
}

/* Work jobs on gw until TERM. */
static void
serve(struct worker *w, gearman_worker_st *gw)
{
	gearman_return_t ret;

	while (!stop) {
		/* Signals do not interrupt gearman_worker_work(): the timeout
		 * lets the loop see the stop flag. While completions wait to
		 * share a commit, wait for the next job only briefly, and
		 * flush them if none came. */
		gearman_worker_set_timeout(gw, w->gv && gv_pending(w->gv) ?
		    FLUSH_WAIT_MS : w->idle_ms);
		ret = gearman_worker_work(gw);
		if (w->gv && ret != GEARMAN_SUCCESS)
			gv_flush(w->gv);
		if (ret == GEARMAN_COULD_NOT_CONNECT ||
		    ret == GEARMAN_LOST_CONNECTION)
			usleep(100000);
		else if (ret != GEARMAN_SUCCESS && ret != GEARMAN_TIMEOUT &&
		    ret != GEARMAN_NO_JOBS && ret != GEARMAN_IO_WAIT &&
		    ret != GEARMAN_NO_ACTIVE_FDS && ret != GEARMAN_WORK_FAIL)
			fprintf(stderr, "bench_worker: %s\n",
			    gearman_worker_error(gw));
	}
}

static void *
serve_thread(void *arg)
{
	gearman_worker_st *gw = arg;

	serve(gearman_worker_context(gw), gw);
	return NULL;
}

/*
 * Serve with nthreads threads, each on a worker connection of its own,
 * until TERM. The threads block TERM and INT, so the main thread, waiting
 * in pthread_join, takes them and sets the flag they all look at.
 */
static int
serve_threads(struct worker *w, long nthreads)
{
	gearman_worker_st **gws;
	pthread_t *ids;
	pthread_attr_t attr;
	sigset_t block, old;
	long i, started = 0;
	int rc = 0;

	gws = calloc((size_t)nthreads, sizeof(*gws));
	ids = calloc((size_t)nthreads, sizeof(*ids));
	if (!gws || !ids) {
		fprintf(stderr, "bench_worker: out of memory\n");
		free(gws);
		free(ids);
		return -1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (i = 0; i < nthreads; i++) {
		if ((gws[i] = worker_new(w)) == NULL) {
			rc = -1;
			break;
		}
		gearman_worker_set_context(gws[i], w);
		if ((errno = pthread_create(&ids[i], &attr, serve_thread,
		    gws[i])) != 0) {
			perror("bench_worker: pthread_create");
			rc = -1;
			break;
		}
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc == -1)
		stop = 1;
	for (i = 0; i < started; i++)
		pthread_join(ids[i], NULL);
	for (i = 0; i < nthreads; i++)
		if (gws[i])
			gearman_worker_free(gws[i]);
	free(gws);
	free(ids);
	return rc;
}

static volatile uint64_t *
map_progress(const char *path)
{
	uint64_t zero = 0;
	void *p;
	int fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) ==
	    -1 || write(fd, &zero, sizeof(zero)) != (ssize_t)sizeof(zero)) {
		perror(path);
		exit(EX_CANTCREAT);
	}
	p = mmap(NULL, sizeof(zero), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(EX_OSERR);
	}
	close(fd);
	return p;
}

static int
write_results(const struct worker *w, const char *summary,
    const char *records)
{
	struct rusage ru;
	FILE *f;
	int rc = 0;

	if ((f = fopen(records, "w")) == NULL) {
		perror(records);
		return -1;
	}
	if (w->nrec && fwrite(w->rec, sizeof(*w->rec), w->nrec, f) != w->nrec)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	getrusage(RUSAGE_SELF, &ru);
	if ((f = fopen(summary, "w")) == NULL) {
		perror(summary);
		return -1;
	}
	fprintf(f, "jobs %zu errors %llu utime %.3f stime %.3f switches %ld "
	    "oom %d\n", w->nrec, (unsigned long long)w->errors,
	    (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
	    ru.ru_nvcsw + ru.ru_nivcsw, w->oom);
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

int
main(int argc, char **argv)
{
	struct worker w = { .mode = MODE_RAW, .idle_ms = WORK_TIMEOUT_MS };
	const char *ini = NULL, *server = NULL;
	char *funcnames = NULL;
	const char *progress = NULL, *summary = NULL, *records = NULL;
	char host[256], err[1024], *colon, *end;
	gearman_worker_st *gw;
	struct sigaction sa;
	long port, nthreads = 1;
	int ch, rc = 0;

	while ((ch = getopt(argc, argv, "m:f:g:c:p:o:r:s:t:")) != -1) {
		switch (ch) {
		case 'm':
			if (strcmp(optarg, "complete") == 0)
				w.mode = MODE_COMPLETE;
			else if (strcmp(optarg, "complete-each") == 0)
				w.mode = MODE_COMPLETE_EACH;
			else if (strcmp(optarg, "return") == 0)
				w.mode = MODE_RETURN;
			else if (strcmp(optarg, "raw") == 0)
				w.mode = MODE_RAW;
			else
				usage();
			break;
		case 'f': funcnames = optarg; break;
		case 'g': server = optarg; break;
		case 'c': ini = optarg; break;
		case 'p': progress = optarg; break;
		case 'o': summary = optarg; break;
		case 'r': records = optarg; break;
		case 's':
			w.job_ms = strtol(optarg, &end, 10);
			if (*end != '\0' || w.job_ms < 0)
				usage();
			break;
		case 't':
			nthreads = strtol(optarg, &end, 10);
			if (*end != '\0' || nthreads < 1 ||
			    nthreads > THREADS_MAX)
				usage();
			break;
		default: usage();
		}
	}
	if (!funcnames || split_functions(&w, funcnames) == -1 ||
	    !server || !progress || !summary || !records ||
	    optind != argc || ((w.mode == MODE_COMPLETE ||
	    w.mode == MODE_COMPLETE_EACH) && (!ini || nthreads > 1)))
		usage();
	snprintf(host, sizeof(host), "%s", server);
	if ((colon = strrchr(host, ':')) == NULL)
		usage();
	*colon = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (port <= 0 || port > 65535)
		usage();
	w.host = host;
	w.port = (in_port_t)port;
	if ((w.mode == MODE_COMPLETE || w.mode == MODE_COMPLETE_EACH) &&
	    (w.gv = gv_open_ini(ini, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_worker: %s\n", err);
		return EX_CONFIG;
	}
	pthread_mutex_init(&w.lock, NULL);
	w.progress = map_progress(progress);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (nthreads > 1) {
		w.idle_ms = THREAD_WORK_TIMEOUT_MS;
		if (serve_threads(&w, nthreads) == -1)
			rc = 1;
	} else {
		if ((gw = worker_new(&w)) == NULL)
			return EX_CONFIG;
		serve(&w, gw);
		gearman_worker_free(gw);
	}
	gv_close(w.gv);
	if (write_results(&w, summary, records) == -1)
		rc = 1;
	free(w.rec);
	free(w.funcs);
	return rc;
}
