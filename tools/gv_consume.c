/*
 * gv_consume: example worker, both modes.
 *
 *   throughput: completes each job itself through libgarivini
 *               (gv_complete_later, so completions share commits; or
 *               gv_failed_job_message with --fail[=MESSAGE])
 *   latency:    returns to the Controller, which completes the job (success,
 *               or WORK_FAIL with --fail, after a warning with the
 *               MESSAGE, which the Controller keeps as the reason)
 *
 * Each job it starts is one line on stdout (or appended to -o FILE, one
 * write per line, so several consumers can share a file):
 *   DBID <tab> JOBID <tab> ATTEMPT <tab> FAILCOUNT <tab> ARG
 * with ARG's bytes outside printable ASCII (and backslash) written as \xHH.
 *
 * A completion that cannot reach the database is retried for -r seconds
 * (default 30) before the job is left to come back after its lease.
 *
 * Exit codes: 0 after -n jobs, an idle timeout (-i) or TERM; 1 on a runtime
 * error; 64 usage; 78 configuration.
 *
 * An example to copy: it uses libgarivini's public API (garivini.h) and
 * libgearman, nothing of Garivini's insides.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <garivini.h>
#include <libgearman-1.0/gearman.h>

struct consumer {
	gv_client *gv;
	int latency;
	int fail;
	const char *fail_message; /* --fail=MESSAGE: why; NULL: none */
	double work_seconds;
	int out;                 /* fd of the job lines */
	long done;
	int error;
};

#define IDLE_WAIT_MS 250     /* how often the stop flag is looked at */
#define FLUSH_WAIT_MS 5      /* waiting for a job while completions wait */

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
	    "usage: gv_consume -c INI -f FUNC [-m throughput|latency] [-n MAX] "
	    "[-i IDLE_SECONDS]\n"
	    "                  [-s WORK_SECONDS] [-r RETRY_SECONDS] "
	    "[--fail[=MESSAGE]] [-o FILE]\n"
	    "  -r: how long to retry a completion while the database is "
	    "unreachable (30)\n");
	exit(EX_USAGE);
}

/* A number from min to max, the whole of s; else the usage. */
static double
number(const char *s, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || errno || *end != '\0' || !(v >= min && v <= max))
		usage();
	return v;
}

/* The same, without a fraction (blanks may lead, as strtod takes them). */
static long
whole(const char *s, long min, long max)
{
	const char *digits = s + strspn(s, " \t\n\v\f\r");

	if (digits[strspn(digits, "+-0123456789")] != '\0')
		usage();
	return (long)number(s, (double)min, (double)max);
}

/* Seconds by the monotonic clock, which the idle timeout (-i) counts. */
static double
now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep seconds; a signal that stops the consumer cuts it short when
 * stoppable. */
static void
pause_for(double seconds, int stoppable)
{
	struct timespec left = { .tv_sec = (time_t)seconds,
	    .tv_nsec = (long)((seconds - floor(seconds)) * 1e9) };

	while (nanosleep(&left, &left) == -1 && errno == EINTR)
		if (stoppable && stop)
			return;
}

static void
write_line(struct consumer *c, const struct gv_job *job)
{
	static const char hex[] = "0123456789abcdef";
	char *line, *p;
	size_t i;

	/* The numbers take at most 70 bytes; each byte of the arg at most 4. */
	if ((line = malloc(80 + 4 * job->arg_len)) == NULL) {
		c->error = 1;
		return;
	}
	p = line + sprintf(line, "%u\t%llu\t%u\t%u\t", job->dbid,
	    (unsigned long long)job->jobid, job->attempt, job->failcount);
	for (i = 0; i < job->arg_len; i++) {
		unsigned char b = job->arg[i];

		if (b >= 0x20 && b < 0x7f && b != '\\') {
			*p++ = (char)b;
		} else {
			*p++ = '\\';
			*p++ = 'x';
			*p++ = hex[b >> 4];
			*p++ = hex[b & 15];
		}
	}
	*p++ = '\n';
	if (write(c->out, line, (size_t)(p - line)) != p - line)
		c->error = 1;
	free(line);
}

static gearman_return_t
work(gearman_job_st *gjob, void *context)
{
	struct consumer *c = context;
	struct gv_job job;
	char err[512];
	int rc;

	if (gv_job_parse(gearman_job_workload(gjob),
	    gearman_job_workload_size(gjob), &job, err, sizeof(err)) !=
	    GV_OK) {
		fprintf(stderr, "gv_consume: refused a job: %s\n", err);
		return GEARMAN_FAIL;
	}
	/* The line is written when the work starts, so a job in hand can be
	 * seen (and a worker killed mid-job still shows it ran). */
	write_line(c, &job);
	/* Completions held by gv_complete_later are written before a job
	 * that takes time: they would wait for it, past their 5 ms window,
	 * and for a job longer than their leases, past those too. */
	if (c->work_seconds > 0 && c->gv && gv_pending(c->gv) &&
	    gv_flush(c->gv) != GV_OK)
		fprintf(stderr, "gv_consume: completing held jobs: %s (they run "
		    "again when their leases end)\n", gv_errmsg(c->gv));
	if (c->work_seconds > 0)
		pause_for(c->work_seconds, 0);
	c->done++;
	if (c->latency) {
		gv_job_clear(&job);
		/* The Controller keeps a warning sent before WORK_FAIL as
		 * the failure's reason. */
		if (c->fail && c->fail_message)
			gearman_job_send_warning(gjob, c->fail_message,
			    strlen(c->fail_message));
		return c->fail ? GEARMAN_FAIL : GEARMAN_SUCCESS;
	}
	rc = c->fail ? gv_failed_job_message(c->gv, &job, c->fail_message) :
	    gv_complete_later(c->gv, &job);
	if (rc == GV_ESTALE)
		fprintf(stderr, "gv_consume: job %llu: %s\n",
		    (unsigned long long)job.jobid, gv_errmsg(c->gv));
	else if (rc != GV_OK)
		fprintf(stderr, "gv_consume: job %llu: %s (it runs again when "
		    "its lease ends)\n", (unsigned long long)job.jobid,
		    gv_errmsg(c->gv));
	gv_job_clear(&job);
	return GEARMAN_SUCCESS;
}

/* A worker on every server, with a wake-up timeout so that the stop flag
 * is looked at, and unique keys grabbed too. NULL, the reason said. */
static gearman_worker_st *
worker_new(const struct gv_server *servers, size_t n)
{
	gearman_worker_st *w;
	size_t i;

	if ((w = gearman_worker_create(NULL)) == NULL) {
		fprintf(stderr, "gv_consume: gearman_worker_create failed\n");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (gearman_worker_add_server(w, servers[i].host,
		    (in_port_t)servers[i].port) != GEARMAN_SUCCESS) {
			fprintf(stderr, "gv_consume: gearmand %s:%u: %s\n",
			    servers[i].host, servers[i].port,
			    gearman_worker_error(w));
			gearman_worker_free(w);
			return NULL;
		}
	}
	gearman_worker_set_timeout(w, IDLE_WAIT_MS);
	gearman_worker_add_options(w, GEARMAN_WORKER_GRAB_UNIQ);
	return w;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "fail", optional_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct consumer c = { .out = STDOUT_FILENO };
	const char *ini = "garivini.ini", *funcname = NULL, *outpath = NULL;
	double idle = 0, last, retry = 30;
	long max = 0;
	struct gv_server servers[GV_SERVERS_MAX];
	size_t nservers;
	gearman_worker_st *worker;
	gearman_return_t ret;
	struct sigaction sa;
	char err[4096];
	int ch, rc = 0;

	while ((ch = getopt_long(argc, argv, "c:f:m:n:i:s:o:r:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c': ini = optarg; break;
		case 'f': funcname = optarg; break;
		case 'o': outpath = optarg; break;
		case 'F':
			c.fail = 1;
			c.fail_message = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "latency") == 0)
				c.latency = 1;
			else if (strcmp(optarg, "throughput") != 0)
				usage();
			break;
		case 'n':
			max = whole(optarg, 1, 1000000000L);
			break;
		case 'i':
			idle = number(optarg, 0, 86400);
			break;
		case 's':
			c.work_seconds = number(optarg, 0, 86400);
			break;
		case 'r':
			retry = number(optarg, 0, 86400);
			break;
		default:
			usage();
		}
	}
	if (funcname == NULL || optind != argc)
		usage();
	if (gv_ini_servers(ini, servers, GV_SERVERS_MAX, &nservers, err,
	    sizeof(err)) != GV_OK) {
		fprintf(stderr, "%s", err);
		return EX_CONFIG;
	}
	if (outpath && (c.out = open(outpath, O_WRONLY | O_CREAT | O_APPEND |
	    O_CLOEXEC, 0644)) == -1) {
		perror(outpath);
		return EX_CANTCREAT;
	}
	if (!c.latency &&
	    (c.gv = gv_open_ini(ini, err, sizeof(err))) == NULL) {
		fprintf(stderr, "gv_consume: %s\n", err);
		return EX_CONFIG;
	}
	if (c.gv)
		gv_set_retry(c.gv, retry);
	if ((worker = worker_new(servers, nservers)) == NULL)
		return EX_CONFIG;
	if (gearman_worker_define_function(worker, funcname, strlen(funcname),
	    gearman_function_create(work), 0, &c) != GEARMAN_SUCCESS) {
		fprintf(stderr, "gv_consume: %s\n", gearman_worker_error(worker));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	last = now();
	/* The job in hand always finishes: the stop flag is read between
	 * jobs only. */
	while (!stop && (max == 0 || c.done < max) && !c.error) {
		long before = c.done;

		/* Completions wait a few milliseconds to share a commit:
		 * while some wait, look for the next job only that long,
		 * and flush them if none came. */
		gearman_worker_set_timeout(worker, c.gv && gv_pending(c.gv) ?
		    FLUSH_WAIT_MS : IDLE_WAIT_MS);
		ret = gearman_worker_work(worker);
		if (c.gv && ret != GEARMAN_SUCCESS && gv_flush(c.gv) != GV_OK)
			fprintf(stderr, "gv_consume: completing: %s (those "
			    "jobs run again when their leases end)\n",
			    gv_errmsg(c.gv));
		if (c.done != before)
			last = now();
		if (ret == GEARMAN_COULD_NOT_CONNECT ||
		    ret == GEARMAN_LOST_CONNECTION)
			pause_for(0.5, 1);
		else if (ret != GEARMAN_SUCCESS && ret != GEARMAN_TIMEOUT &&
		    ret != GEARMAN_NO_JOBS && ret != GEARMAN_IO_WAIT &&
		    ret != GEARMAN_NO_ACTIVE_FDS)
			fprintf(stderr, "gv_consume: %s\n",
			    gearman_worker_error(worker));
		if (idle > 0 && now() - last > idle)
			break;
	}
	if (c.error) {
		perror("gv_consume: writing a job line");
		rc = 1;
	}
	gearman_worker_free(worker);
	gv_close(c.gv);
	return rc;
}
