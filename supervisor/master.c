/*
 * master: one process, no database or gearman connection of its own,
 * forking pools of roles and keeping them as configured.
 *
 * The loop (nginx's): the control signals are blocked except inside
 * sigsuspend(), their handlers only raise flags, and every turn takes the
 * flags, reaps, applies the policy and computes the next deadline (a restart,
 * a SIGKILL, the status file) for the interval timer that ends the next
 * sigsuspend(). Nothing in the loop blocks anywhere else.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "daemon.h"
#include "fdlimit.h"
#include "funcstats.h"
#include "garivini.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "pidfile.h"
#include "pools.h"
#include "privs.h"
#include "signals.h"
#include "status.h"
#include "util.h"

#define READY_TIMEOUT 5.0       /* ready without every child up, after */
#define READY_POLL 0.05         /* children do not signal readiness */
#define LOOP_MAX_SLEEP 1.0      /* heartbeat checks need a look now and then */

struct master {
	struct config *cfg;
	char *config_path;
	const struct role *roles;
	struct pools *pools;
	struct funcstats *funcstats;    /* shared with every child */
	int daemonize;
	int pidfd;
	int life[2];            /* [0] children watch, [1] only we hold */
	int report_fd;          /* -d: the waiting parent; -1 */
	int ready;
	int stopping;           /* 0, SIGTERM or SIGQUIT */
	double start_mono, start_real;
	unsigned generation;
	int reload_result;      /* 0: none, 1: ok, -1: failed */
	char reload_error[CONFIG_ERRLEN];
	double reload_time;
	double next_status;
	int status_due;
	int status_failing;
};

static const char *
master_state(const struct master *m, int final)
{
	if (final)
		return "stopped";
	if (m->stopping)
		return "stopping";
	return m->ready ? "running" : "starting";
}

static void
write_status(struct master *m, double now, int final, int log_counts)
{
	struct status st;
	char err[512], line[2048];
	int failed = 0;

	memset(&st, 0, sizeof(st));
	st.master.pid = getpid();
	st.master.started = m->start_real;
	st.master.uptime = now - m->start_mono;
	st.master.config = m->config_path;
	st.master.state = master_state(m, final);
	st.master.generation = m->generation;
	if (m->reload_result) {
		st.master.reload_result = m->reload_result > 0 ? "ok" :
		    "failed";
		st.master.reload_error = m->reload_result < 0 ?
		    m->reload_error : NULL;
		st.master.reload_time = m->reload_time;
	}
	if (pools_snapshot(m->pools, &st, now) == -1) {
		log_warnx("status: out of memory");
		return;
	}
	/* Without them the file still says how the pools are. */
	if (funcstats_read(m->funcstats, &st.functions, &st.nfunctions) == -1)
		log_warnx("status: out of memory for the function metrics");
	st.written = time_real();
	if (status_write_json(m->cfg->status_file, &st, err,
	    sizeof(err)) == -1) {
		failed = 1;
		/* Once per failure, not every interval. */
		if (!m->status_failing)
			log_warnx("cannot write the status file: %s", err);
	}
	if (status_write_prometheus(m->cfg->prometheus_file, &st, err,
	    sizeof(err)) == -1) {
		failed = 1;
		if (!m->status_failing)
			log_warnx("cannot write the Prometheus file: %s", err);
	}
	if (m->status_failing && !failed)
		log_notice("status files written again");
	m->status_failing = failed;
	if (log_counts) {
		status_summary(&st, line, sizeof(line));
		log_notice("status: %s", line);
	}
	free(st.children);
	free(st.functions);
	m->status_due = 0;
	m->next_status = now + m->cfg->status_interval;
}

/* With -d there is no stderr to log to: "stderr" means syslog then. The
 * same rewrite on every configuration loaded, so a reload compares like
 * with like and does not replace every child over it. */
static int
set_log_target(struct master *m, struct config *cfg)
{
	char *s;

	if (!m->daemonize || (cfg->log_file &&
	    strcmp(cfg->log_file, "stderr") != 0))
		return 0;
	if ((s = strdup("syslog")) == NULL)
		return -1;
	free(cfg->log_file);
	cfg->log_file = s;
	return 0;
}

/* log_open's errno for an operator: ELOOP and EMLINK are links it refuses
 * on purpose (src/log.c), which strerror() words as something else. */
static const char *
open_error_text(int e)
{
	if (e == ELOOP)
		return "is a symbolic link: not followed, remove it";
	if (e == EMLINK)
		return "has another name (a hard link): refused, remove it";
	return strerror(e);
}

static void
become_ready(struct master *m, double now)
{
	m->ready = 1;
	if (!pools_ready(m->pools))
		log_warnx("not every child is up after %.0f s, carrying on",
		    READY_TIMEOUT);
	log_notice("ready (%zu children)", pools_children(m->pools));
	/* The status file first: whoever -d or systemd lets go on may read
	 * it at once. */
	write_status(m, now, 0, 0);
	notify_send("READY=1\nMAINPID=%ld\nSTATUS=running", (long)getpid());
	daemon_report(m->report_fd, 0);
	m->report_fd = -1;
}

static void
reload(struct master *m)
{
	char err[CONFIG_ERRLEN], note[256];
	struct config *fresh;
	struct timespec ts;
	char *nl;

	log_notice("reloading the configuration from %s", m->config_path);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	err[0] = '\0';
	fresh = config_load(m->config_path, err, sizeof(err));
	if (fresh && !config_same_fixed(m->cfg, fresh)) {
		errf(err, sizeof(err), "%s: pidfile, user, group and "
		    "metrics_functions cannot change on reload: restart "
		    "garivini to change them",
		    m->config_path);
		config_free(fresh);
		fresh = NULL;
	}
	/* Before anything is applied: a child that would run out of
	 * descriptors is refused here rather than failing job after job. */
	if (fresh && fdlimit_raise(fresh, CONFIG_NROLES, note, sizeof(note),
	    err, sizeof(err)) == -1) {
		config_free(fresh);
		fresh = NULL;
	}
	if (fresh && note[0])
		log_notice("%s", note);
	if (fresh && set_log_target(m, fresh) == -1) {
		errf(err, sizeof(err), "out of memory");
		config_free(fresh);
		fresh = NULL;
	}
	/* A new log file must open before anything is applied: after that,
	 * nothing can fail, so a reload is all or nothing. */
	if (fresh && (m->cfg->log_file == NULL || fresh->log_file == NULL ||
	    strcmp(m->cfg->log_file, fresh->log_file) != 0) &&
	    log_open(fresh->log_file) == -1) {
		errf(err, sizeof(err), "log_file %s: %s", fresh->log_file,
		    open_error_text(errno));
		config_free(fresh);
		fresh = NULL;
	}
	m->reload_time = time_real();
	m->status_due = 1;
	if (fresh == NULL) {
		/* config_load ends each error with a newline. */
		while ((nl = strrchr(err, '\n')) != NULL && nl[1] == '\0')
			*nl = '\0';
		if (err[0] == '\0')
			snprintf(err, sizeof(err), "unknown error");
		log_errx("reload failed, keeping the old configuration: %s",
		    err);
		m->reload_result = -1;
		snprintf(m->reload_error, sizeof(m->reload_error), "%s", err);
		notify_send("READY=1\nSTATUS=running; reload failed");
		return;
	}
	if (config_secret_warning(fresh, err, sizeof(err)))
		log_warnx("%s", err);
	log_set_level(fresh->log_level);
	pools_configure(m->pools, fresh, 1);
	config_free(m->cfg);
	m->cfg = fresh;
	m->generation++;
	m->reload_result = 1;
	m->reload_error[0] = '\0';
	log_notice("reload done, generation %u", m->generation);
	notify_send("READY=1\nSTATUS=running");
}

static void
begin_stop(struct master *m, int sig, int why, double now)
{
	if (sig == SIGQUIT)
		log_notice("stopping immediately (signal %s)",
		    signals_name(why));
	else
		log_notice("stopping gracefully (signal %s), children get "
		    "%.1f s to finish (Controllers %.1f s)", signals_name(why),
		    m->cfg->shutdown_timeout,
		    config_stop_grace(m->cfg,
		    config_role_name(CONFIG_CONTROLLER)));
	notify_send("STOPPING=1\nSTATUS=stopping");
	m->stopping = sig;
	pools_stop(m->pools, sig, now);
	m->status_due = 1;
}

/* A log file path, as opposed to "stderr" and "syslog". */
static int
target_is_file(const char *target)
{
	return target && strcmp(target, "stderr") != 0 &&
	    strcmp(target, "syslog") != 0;
}

static void
reopen_log(struct master *m)
{
	if (log_reopen() == -1)
		log_warnx("cannot reopen the log file %s: %s",
		    m->cfg->log_file, open_error_text(errno));
	else
		log_notice("log file reopened");
	/* Children hold their own descriptor on the file. */
	if (target_is_file(m->cfg->log_file))
		pools_signal(m->pools, SIGUSR2);
}

static void
loop(struct master *m)
{
	double now, timeout, next;
	unsigned bits;
	int termsig = SIGTERM;

	m->next_status = time_mono();
	for (;;) {
		bits = signals_take(&termsig);
		now = time_mono();
		/* Every turn, not only on SIGCHLD: waitpid() is cheap, and a
		 * child can never be left a zombie by a coalesced signal. */
		pools_reap(m->pools, now);
		if (bits & SIGNALS_QUIT && m->stopping != SIGQUIT)
			begin_stop(m, SIGQUIT, SIGQUIT, now);
		else if (bits & SIGNALS_TERM && !m->stopping)
			begin_stop(m, SIGTERM, termsig, now);
		if (bits & SIGNALS_HUP) {
			if (m->stopping)
				log_notice("stopping: reload ignored");
			else
				reload(m);
		}
		if (bits & SIGNALS_USR2)
			reopen_log(m);

		now = time_mono();
		pools_tend(m->pools, now);
		if (m->stopping && pools_children(m->pools) == 0)
			break;
		if (!m->ready && !m->stopping && (pools_ready(m->pools) ||
		    now - m->start_mono >= READY_TIMEOUT))
			become_ready(m, now);
		/* Coalesced: however many changes and USR1s this turn saw,
		 * one write. */
		if (pools_changed(m->pools) || m->status_due ||
		    now >= m->next_status || (bits & SIGNALS_USR1))
			write_status(m, now, 0, (bits & SIGNALS_USR1) != 0);

		timeout = m->next_status - now;
		if ((next = pools_next_event(m->pools, now)) >= 0 &&
		    next < timeout)
			timeout = next;
		if (timeout > LOOP_MAX_SLEEP)
			timeout = LOOP_MAX_SLEEP;
		if (!m->ready && timeout > READY_POLL)
			timeout = READY_POLL;
		signals_wait(timeout);
	}
}

/* A start-up failure goes to the log and, when the log is elsewhere, to
 * the terminal too: whoever ran garivini (or -d) must see why it did not. */
static void __attribute__((format(printf, 2, 3)))
startup_error(const struct master *m, const char *fmt, ...)
{
	char msg[CONFIG_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_errx("%s", msg);
	if (m->cfg->log_file && strcmp(m->cfg->log_file, "stderr") != 0)
		fprintf(stderr, "garivini: %s\n", msg);
}

/* Everything before the first fork; -1 with the exit code in *code. */
static int
start(struct master *m, int *code)
{
	char err[CONFIG_ERRLEN], note[256];
	struct privs privs;
	int closes[3];
	pid_t running;

	if (m->daemonize) {
		if ((m->report_fd = daemon_start(err, sizeof(err))) == -1) {
			fprintf(stderr, "garivini: %s\n", err);
			*code = EX_OSERR;
			return -1;
		}
	}
	m->start_mono = time_mono();
	m->start_real = time_real();
	log_set_role("master", -1);
	log_set_level(m->cfg->log_level);
	if (set_log_target(m, m->cfg) == -1 ||
	    log_open(m->cfg->log_file) == -1) {
		fprintf(stderr, "garivini: log_file %s: %s\n",
		    m->cfg->log_file, open_error_text(errno));
		*code = EX_CANTCREAT;
		return -1;
	}
	if (m->cfg->pidfile && *m->cfg->pidfile) {
		m->pidfd = pidfile_create(m->cfg->pidfile, &running, err,
		    sizeof(err));
		if (m->pidfd == -1) {
			startup_error(m, "%s", err);
			*code = running ? EX_TEMPFAIL : EX_CANTCREAT;
			return -1;
		}
	}
	/* After the pidfile and the log are open (as root, in root's
	 * directories), before any child exists. */
	if (privs_lookup(m->cfg->user, m->cfg->group, &privs, err,
	    sizeof(err)) == -1) {
		startup_error(m, "cannot drop privileges: %s", err);
		*code = EX_NOPERM;
		return -1;
	}
	if (privs.drop) {
		/* The log file must stay ours to reopen after rotation, and
		 * the children open it again as the user. */
		if (log_chown(privs.uid, privs.gid) == -1)
			log_warn("cannot hand %s to the user",
			    m->cfg->log_file);
		if (privs_drop(&privs, err, sizeof(err)) == -1) {
			startup_error(m, "cannot drop privileges: %s", err);
			*code = EX_NOPERM;
			return -1;
		}
		log_info("running as uid %ld, gid %ld", (long)privs.uid,
		    (long)privs.gid);
	} else if (geteuid() != 0 && ((m->cfg->user && *m->cfg->user) ||
	    (m->cfg->group && *m->cfg->group)))
		log_info("not started as root: user and group ignored");
	/* The children inherit it: raised once here for every pool. */
	if (fdlimit_raise(m->cfg, CONFIG_NROLES, note, sizeof(note), err,
	    sizeof(err)) == -1) {
		startup_error(m, "%s", err);
		*code = EX_CONFIG;
		return -1;
	}
	if (note[0])
		log_notice("%s", note);
	if (signals_master_init() == -1) {
		startup_error(m, "signals: %s", strerror(errno));
		*code = EX_OSERR;
		return -1;
	}
	if ((m->funcstats = funcstats_map((unsigned)
	    m->cfg->metrics_functions)) == NULL) {
		startup_error(m, "function metrics: %s", strerror(errno));
		*code = EX_OSERR;
		return -1;
	}
	if ((m->pools = pools_new(m->roles, err, sizeof(err))) == NULL) {
		startup_error(m, "%s", err);
		*code = EX_OSERR;
		return -1;
	}
	if (pipe2(m->life, O_CLOEXEC) == -1) {
		startup_error(m, "pipe: %s", strerror(errno));
		*code = EX_OSERR;
		return -1;
	}
	closes[0] = m->pidfd;
	closes[1] = m->life[1];
	closes[2] = m->report_fd;
	child_setup(m->life[0], closes, 3, getpid());
	/* Children must not hold the invoker's terminal or pipe open. */
	if (m->daemonize && daemon_detach_stdio() == -1)
		log_warn("cannot detach from the terminal");
	log_notice("garivini %s started (pid %ld, config %s)", GV_VERSION,
	    (long)getpid(), m->config_path);
	if (config_secret_warning(m->cfg, err, sizeof(err)))
		log_warnx("%s", err);
	m->generation = 1;
	pools_configure(m->pools, m->cfg, 0);
	return 0;
}

int
master_run(struct config *cfg, const char *path, int daemonize,
    const struct role *roles)
{
	struct master m;
	char *abs;
	int code = EX_OK;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.roles = roles;
	m.daemonize = daemonize;
	m.pidfd = m.report_fd = -1;
	m.life[0] = m.life[1] = -1;
	/* A reload reads the same file wherever the process is. */
	abs = realpath(path, NULL);
	m.config_path = abs ? abs : strdup(path);
	if (m.config_path == NULL) {
		fprintf(stderr, "garivini: out of memory\n");
		config_free(cfg);
		return EX_OSERR;
	}

	if (start(&m, &code) == 0) {
		loop(&m);
		write_status(&m, time_mono(), 1, 0);
		log_notice("stopped");
	}
	daemon_report(m.report_fd, code ? code : 1);
	if (m.pidfd != -1 && m.cfg->pidfile)
		pidfile_remove(m.cfg->pidfile, m.pidfd);
	pools_free(m.pools);
	funcstats_unmap(m.funcstats);
	if (m.life[0] != -1) {
		close(m.life[0]);
		close(m.life[1]);
	}
	config_free(m.cfg);
	free(m.config_path);
	log_close();
	return code;
}
