/*
 * main: the garivini command line. Runs the master, one role alone, a
 * configuration test, or sends a signal to the running master.
 *
 * It holds the table of roles, and is the one place that knows both the
 * master (supervisor/) and the roles (workers/): neither of them includes
 * the other (relayd.c and proc.c). The Makefile enforces it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "controller.h"
#include "fdlimit.h"
#include "garivini.h"
#include "injector.h"
#include "log.h"
#include "master.h"
#include "pidfile.h"
#include "proctitle.h"
#include "pools.h"
#include "queue_runner.h"
#include "role.h"
#include "scoreboard.h"
#include "util.h"

/* `garivini -s` when no master runs: LSB's "program is not running", so an
 * init script can pass the code on. */
#define EXIT_NOT_RUNNING 3

static const struct role roles[] = {
	{ CONFIG_QUEUE_RUNNER, queue_runner_main },
	{ CONFIG_INJECTOR, injector_main },
	{ CONFIG_CONTROLLER, controller_main },
	{ CONFIG_NROLES, NULL },
};

static const struct {
	const char *name;
	int sig;                /* 0: print the status file */
} commands[] = {
	{ "reload", SIGHUP },
	{ "stop", SIGTERM },
	{ "quit", SIGQUIT },
	{ "reopen", SIGUSR2 },
	{ "status", 0 },
};

static void
usage(FILE *fp)
{
	const struct role *r;

	fprintf(fp,
	    "usage: garivini [-dtv] [-c file]\n"
	    "       garivini [-c file] -s reload|stop|quit|reopen|status\n"
	    "       garivini [-c file] --role name [--slot n]\n"
	    "\n"
	    "  -c, --config file   configuration (default ./garivini.ini)\n"
	    "  -d, --daemon        detach; return once the pools are up\n"
	    "  -t, --test          test the configuration and exit "
	    "(-t -v: print it)\n"
	    "  -s, --signal cmd    act on the running master (its pidfile)\n"
	    "      --role name     run one role alone in the foreground:");
	for (r = roles; r->main; r++)
		fprintf(fp, " %s", role_name(r));
	fprintf(fp, "\n"
	    "      --slot n        the slot number it reports (default 0)\n"
	    "  -v, --version       print the version\n"
	    "  -h, --help          this text\n");
}

static struct config *
load(const char *path)
{
	char err[CONFIG_ERRLEN];
	struct config *cfg;
	size_t len;

	err[0] = '\0';
	if ((cfg = config_load(path, err, sizeof(err))) != NULL)
		return cfg;
	len = strlen(err);
	fprintf(stderr, "%s%s", err, len && err[len - 1] == '\n' ? "" : "\n");
	return NULL;
}

static int
print_file(const char *path)
{
	char buf[8192];
	size_t n;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "garivini: status file %s: %s\n", path,
		    strerror(errno));
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(fp);
	return 0;
}

static int
send_command(const struct config *cfg, const char *cmd)
{
	char err[512];
	size_t i;
	pid_t pid;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, cmd) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		fprintf(stderr, "garivini: -s %s: expected reload, stop, "
		    "quit, reopen or status\n", cmd);
		return EX_USAGE;
	}
	if (cfg->pidfile == NULL || *cfg->pidfile == '\0') {
		fprintf(stderr, "garivini: no pidfile configured\n");
		return EX_CONFIG;
	}
	if ((pid = pidfile_read(cfg->pidfile, err, sizeof(err))) == -1) {
		fprintf(stderr, "garivini: %s\n", err);
		return 1;
	}
	if (pid == 0) {
		fprintf(stderr, "garivini is not running (pidfile %s)\n",
		    cfg->pidfile);
		return EXIT_NOT_RUNNING;
	}
	if (commands[i].sig == 0) {
		if (cfg->status_file == NULL || *cfg->status_file == '\0') {
			printf("garivini is running (pid %ld)\n", (long)pid);
			return 0;
		}
		return print_file(cfg->status_file);
	}
	if (kill(pid, commands[i].sig) == -1) {
		fprintf(stderr, "garivini: kill %ld: %s\n", (long)pid,
		    strerror(errno));
		return errno == ESRCH ? EXIT_NOT_RUNNING : 1;
	}
	return 0;
}

static int
run_role(struct config *cfg, const char *name, int slot)
{
	const struct role *role;
	struct sb_slot *sb;
	char err[256];
	sigset_t all, saved;
	int code;

	if ((role = role_find(roles, name)) == NULL) {
		fprintf(stderr, "garivini: unknown role %s\n", name);
		usage(stderr);
		return EX_USAGE;
	}
	if ((sb = scoreboard_private()) == NULL) {
		fprintf(stderr, "garivini: scoreboard: %s\n", strerror(errno));
		return EX_OSERR;
	}
	log_set_role(role_name(role), slot);
	/* The watcher thread must start with every signal blocked; role_run
	 * opens the mask of this thread again. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &saved);
	if (child_watch(-1, cfg->shutdown_timeout, err, sizeof(err)) == -1)
		fprintf(stderr, "garivini: %s\n", err);
	code = role_run(role, cfg, slot, sb);
	scoreboard_unmap(sb, 1);
	return code;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "test", no_argument, NULL, 't' },
		{ "signal", required_argument, NULL, 's' },
		{ "role", required_argument, NULL, 'r' },
		{ "slot", required_argument, NULL, 'n' },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = "garivini.ini", *command = NULL, *role = NULL;
	int ch, daemonize = 0, test = 0, version = 0, code;
	struct config *cfg;
	long slot = 0;

	/* Before getopt: optarg points into argv, which this moves. */
	(void)proctitle_init(argc, argv);
	while ((ch = getopt_long(argc, argv, "c:dts:vh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			daemonize = 1;
			break;
		case 't':
			test = 1;
			break;
		case 's':
			command = optarg;
			break;
		case 'r':
			role = optarg;
			break;
		case 'n':
			if (parse_long(optarg, 0, (POOL_MAX_SLOTS - 1), &slot)
			    == -1) {
				fprintf(stderr, "garivini: --slot %s: "
				    "expected 0 .. %d\n", optarg,
				    (POOL_MAX_SLOTS - 1));
				return EX_USAGE;
			}
			break;
		case 'v':
			version = 1;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "garivini: unexpected argument %s\n",
		    argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	if ((test != 0) + (command != NULL) + (role != NULL) > 1 ||
	    (daemonize && (test || command || role))) {
		fprintf(stderr, "garivini: -t, -s, --role and -d do not go "
		    "together\n");
		usage(stderr);
		return EX_USAGE;
	}
	if (version && !test) {
		printf("garivini %s\n", GV_VERSION);
		return EX_OK;
	}

	if ((cfg = load(path)) == NULL)
		return EX_CONFIG;
	/* The master logs it itself (at start and on every reload), to
	 * wherever its log goes. */
	if (test || role) {
		char warn[PATH_MAX + 256];

		if (config_secret_warning(cfg, warn, sizeof(warn)))
			fprintf(stderr, "garivini: warning: %s\n", warn);
	}
	if (test) {
		char note[256], err[512];

		/* What the master would refuse at start under these limits:
		 * more open files than the hard limit allows. */
		if (fdlimit_raise(cfg, CONFIG_NROLES, note, sizeof(note), err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "garivini: %s\n", err);
			config_free(cfg);
			return EX_CONFIG;
		}
		printf("configuration OK\n");
		if (version)
			config_dump(cfg, stdout);
		config_free(cfg);
		return EX_OK;
	}
	if (command) {
		code = send_command(cfg, command);
		config_free(cfg);
		return code;
	}
	if (role) {
		code = run_role(cfg, role, (int)slot);
		config_free(cfg);
		return code;
	}
	proctitle_set("master -c %s", path);
	return master_run(cfg, path, daemonize, roles);
}
