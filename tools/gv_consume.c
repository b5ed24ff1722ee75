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
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <libgearman-1.0/gearman.h>

#include "client.h"
#include "config.h"
#include "gm_worker.h"
#include "util.h"

struct consumer {
	gv_client *gv;
	int latency;
	int fail;
	const char *fail_message; /* --fail=MESSAGE: why; NULL: none */
	double work_seconds;
	int out;                 /* fd of the job lines */
	long done;
	int error;
	struct buf line;
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

static void
write_line(struct consumer *c, const struct gv_job *job)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	buf_reset(&c->line);
	buf_printf(&c->line, "%u\t%llu\t%u\t%u\t", job->dbid,
	    (unsigned long long)job->jobid, job->attempt, job->failcount);
	for (i = 0; i < job->arg_len; i++) {
		unsigned char b = job->arg[i];

		if (b >= 0x20 && b < 0x7f && b != '\\') {
			buf_appendc(&c->line, (char)b);
		} else {
			char esc[4] = { '\\', 'x', hex[b >> 4], hex[b & 15] };

			buf_append(&c->line, esc, 4);
		}
	}
	buf_appendc(&c->line, '\n');
	if (write(c->out, c->line.data, c->line.len) != (ssize_t)c->line.len)
		c->error = 1;
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
		time_sleep(c->work_seconds, NULL);
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
	struct config *cfg;
	gearman_worker_st *worker;
	gearman_return_t ret;
	struct sigaction sa;
	char err[CONFIG_ERRLEN];
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
			if (parse_long(optarg, 1, 1000000000L, &max) == -1)
				usage();
			break;
		case 'i':
			if (parse_double(optarg, 0, 86400, &idle) == -1)
				usage();
			break;
		case 's':
			if (parse_double(optarg, 0, 86400, &c.work_seconds) ==
			    -1)
				usage();
			break;
		case 'r':
			if (parse_double(optarg, 0, 86400, &retry) == -1)
				usage();
			break;
		default:
			usage();
		}
	}
	if (funcname == NULL || optind != argc)
		usage();
	if ((cfg = config_load(ini, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s", err);
		return EX_CONFIG;
	}
	if (outpath && (c.out = open(outpath, O_WRONLY | O_CREAT | O_APPEND |
	    O_CLOEXEC, 0644)) == -1) {
		perror(outpath);
		return EX_CANTCREAT;
	}
	if (!c.latency &&
	    (c.gv = client_open_config(cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "gv_consume: %s\n", err);
		return EX_CONFIG;
	}
	if (c.gv)
		gv_set_retry(c.gv, retry);
	if ((worker = gm_worker_new(cfg->servers, cfg->nservers, IDLE_WAIT_MS,
	    err, sizeof(err))) == NULL) {
		fprintf(stderr, "gv_consume: %s\n", err);
		return EX_CONFIG;
	}
	if (gearman_worker_define_function(worker, funcname, strlen(funcname),
	    gearman_function_create(work), 0, &c) != GEARMAN_SUCCESS) {
		fprintf(stderr, "gv_consume: %s\n", gearman_worker_error(worker));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	last = time_mono();
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
			last = time_mono();
		if (ret == GEARMAN_COULD_NOT_CONNECT ||
		    ret == GEARMAN_LOST_CONNECTION)
			time_sleep(0.5, (volatile const int *)&stop);
		else if (ret != GEARMAN_SUCCESS && ret != GEARMAN_TIMEOUT &&
		    ret != GEARMAN_NO_JOBS && ret != GEARMAN_IO_WAIT &&
		    ret != GEARMAN_NO_ACTIVE_FDS)
			fprintf(stderr, "gv_consume: %s\n",
			    gearman_worker_error(worker));
		if (idle > 0 && time_mono() - last > idle)
			break;
	}
	if (c.error) {
		perror("gv_consume: writing a job line");
		rc = 1;
	}
	gearman_worker_free(worker);
	gv_close(c.gv);
	buf_free(&c.line);
	config_free(cfg);
	return rc;
}
