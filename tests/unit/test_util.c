/*
 * test_util: the doubling backoff every retry loop shares (alone and with
 * its clock), and the number parsers.
 */
#include <check.h>
#include <stdlib.h>

#include "unit.h"
#include "util.h"

START_TEST(test_backoff_doubles_to_its_cap)
{
	double d = 0;

	d = backoff_next(d, 0.5, 30);
	ck_assert(d == 0.5);
	d = backoff_next(d, 0.5, 30);
	ck_assert(d == 1);
	for (int i = 0; i < 10; i++)
		d = backoff_next(d, 0.5, 30);
	ck_assert(d == 30);
	ck_assert(backoff_next(d, 0.5, 30) == 30);
	/* A success starts it again from the shortest pause. */
	ck_assert(backoff_next(0, 0.5, 30) == 0.5);
	/* A minimum over the cap is cut to the cap. */
	ck_assert(backoff_next(0, 5, 2) == 2);
}
END_TEST

/* The backoff with its clock: a failure starts a pause, the next one a
 * pause twice as long, and a success ends it and starts again from min. */
START_TEST(test_backoff_clock)
{
	struct backoff b = { 0, 0 };

	ck_assert(!backoff_waiting(&b, 100));
	ck_assert(backoff_left(&b, 100) == 0);
	ck_assert(backoff_fail(&b, 100, 0.5, 30) == 0.5);
	ck_assert(backoff_waiting(&b, 100.4));
	ck_assert(!backoff_waiting(&b, 100.5));
	ck_assert(backoff_fail(&b, 200, 0.5, 30) == 1);
	ck_assert(backoff_left(&b, 200.25) == 0.75);
	ck_assert(backoff_left(&b, 202) == 0);
	backoff_reset(&b);
	ck_assert(!backoff_waiting(&b, 200.25));
	ck_assert(backoff_fail(&b, 300, 0.5, 30) == 0.5);
}
END_TEST

START_TEST(test_parse_numbers)
{
	long l;
	double d;

	ck_assert_int_eq(parse_long("42", 0, 100, &l), 0);
	ck_assert_int_eq(l, 42);
	ck_assert_int_eq(parse_long("101", 0, 100, &l), -1);
	ck_assert_int_eq(parse_long("4x", 0, 100, &l), -1);
	ck_assert_int_eq(parse_double("0.25", 0, 1, &d), 0);
	ck_assert(d == 0.25);
	ck_assert_int_eq(parse_double("nan", 0, 1, &d), -1);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_backoff_doubles_to_its_cap, test_backoff_clock,
		test_parse_numbers,
	};

	return unit_run("util", tests, sizeof(tests) / sizeof(tests[0]),
	    NULL, NULL);
}
