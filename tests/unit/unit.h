/*
 * unit: the one main of a unit test file. unit_run puts its tests in one
 * case, runs them and gives the exit status; a file whose suite needs more
 * (several cases, a timeout, loop tests) builds its Suite and hands it to
 * unit_run_suite.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdlib.h>

#include <check.h>

/* Runs suite s, and frees it; EXIT_SUCCESS when no test failed. */
static inline int
unit_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Runs tests[0..n) as suite name, with setup and teardown (NULL: none)
 * around each; EXIT_SUCCESS when none failed. */
static inline int
unit_run(const char *name, const TTest *const *tests, size_t n,
    void (*setup)(void), void (*teardown)(void))
{
	Suite *s = suite_create(name);
	TCase *tc = tcase_create(name);
	size_t k;

	if (setup != NULL || teardown != NULL)
		tcase_add_checked_fixture(tc, setup, teardown);
	for (k = 0; k < n; k++)
		tcase_add_test(tc, tests[k]);
	suite_add_tcase(s, tc);
	return unit_run_suite(s);
}

#endif
