/*
 * test_fdlimit: the open files a child of an INI needs (the formula of
 * runtime/fdlimit.c and garivini.ini(5), DESCRIPTORS), and that the master
 * counts only the pools that have processes.
 */
#include <check.h>
#include <stdlib.h>

#include "config.h"
#include "fdlimit.h"
#include "unit.h"

static struct config *
load(const char *text)
{
	char err[CONFIG_ERRLEN];
	struct config *cfg = config_load_string(text, "test.ini", err,
	    sizeof(err));

	ck_assert_msg(cfg != NULL, "%s", err);
	return cfg;
}

#define SERVERS(n) "[garivini]\ngearman_servers = " n "\n"
#define DB(n) "[db." #n "]\ndatabase = gv" #n "\n"

START_TEST(test_formula)
{
	/* S = 2 gearmands, D = 3 databases. */
	struct config *cfg = load(SERVERS("a:1, b:2") DB(1) DB(2) DB(3)
	    "[injector]\nconcurrency = 4\n"
	    "[controller]\nconcurrency = 100\n");

	/* n + n/4 + 32 */
	ck_assert_int_eq(fdlimit_need(cfg, CONFIG_QUEUE_RUNNER),
	    10 + 10 / 4 + 32);
	ck_assert_int_eq(fdlimit_need(cfg, CONFIG_INJECTOR),
	    39 + 39 / 4 + 32);
	ck_assert_int_eq(fdlimit_need(cfg, CONFIG_CONTROLLER),
	    411 + 411 / 4 + 32);
	config_free(cfg);
}
END_TEST

/* 300 slots, one gearmand: past a hard limit of 256, the figure the
 * issue's test starts the master with. */
START_TEST(test_three_hundred_slots)
{
	struct config *cfg = load(SERVERS("a:1") DB(1)
	    "[controller]\nconcurrency = 300\n");

	ck_assert_int_gt(fdlimit_need(cfg, CONFIG_CONTROLLER), 900);
	ck_assert_int_lt(fdlimit_need(cfg, CONFIG_QUEUE_RUNNER), 256);
	config_free(cfg);
}
END_TEST

/* A pool with no processes asks for nothing: the master raises (or
 * refuses) for the pools it will run. */
START_TEST(test_only_pools_with_processes)
{
	char note[256], err[512];
	struct config *cfg = load(SERVERS("a:1") DB(1)
	    "[queue_runner]\nprocesses = 0\n[injector]\nprocesses = 0\n"
	    "[controller]\nprocesses = 0\nconcurrency = 1024\n");

	ck_assert_int_eq(fdlimit_raise(cfg, CONFIG_NROLES, note,
	    sizeof(note), err, sizeof(err)), 0);
	ck_assert_str_eq(note, "");
	config_free(cfg);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_formula, test_three_hundred_slots,
		test_only_pools_with_processes,
	};

	return unit_run("fdlimit", tests, sizeof(tests) / sizeof(tests[0]),
	    NULL, NULL);
}
