/*
 * unit: the one main of a unit test file: its tests in one case, run, and
 * the exit status. For a new file; the older ones still spell theirs out.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdlib.h>

#include <check.h>

/* Runs tests[0..n) as suite name, with setup and teardown (NULL: none)
 * around each; EXIT_SUCCESS when none failed. */
static inline int
unit_run(const char *name, const TTest *const *tests, size_t n,
    void (*setup)(void), void (*teardown)(void))
{
	Suite *s = suite_create(name);
	TCase *tc = tcase_create(name);
	SRunner *sr = srunner_create(s);
	size_t k;
	int failed;

	if (setup != NULL || teardown != NULL)
		tcase_add_checked_fixture(tc, setup, teardown);
	for (k = 0; k < n; k++)
		tcase_add_test(tc, tests[k]);
	suite_add_tcase(s, tc);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
