/*
 * test_cron: parsing cron expressions, and the next and previous slots:
 * lists, ranges, steps, names, the day-of-month / day-of-week rule, month
 * ends and leap years, and the errors of bad expressions.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "unit.h"

/* The epoch second of a UTC date and time. */
static int64_t
utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
	    .tm_hour = h, .tm_min = mi };

	return (int64_t)timegm(&tm);
}

static struct cron
parsed(const char *expr)
{
	struct cron c;
	char err[256] = "";

	ck_assert_msg(cron_parse(expr, &c, err, sizeof(err)) == 0,
	    "%s: %s", expr, err);
	return c;
}

/* The next slot of expr after the date, as a date. */
static void
next_is(const char *expr, int64_t after, int64_t want)
{
	struct cron c = parsed(expr);
	int64_t got = cron_next(&c, after);

	ck_assert_msg(got == want, "%s after %lld: got %lld, want %lld", expr,
	    (long long)after, (long long)got, (long long)want);
}

static void
prev_is(const char *expr, int64_t at, int64_t want)
{
	struct cron c = parsed(expr);
	int64_t got = cron_prev(&c, at);

	ck_assert_msg(got == want, "%s at %lld: got %lld, want %lld", expr,
	    (long long)at, (long long)got, (long long)want);
}

static void
refused(const char *expr, const char *reason)
{
	struct cron c;
	char err[256] = "";

	ck_assert_msg(cron_parse(expr, &c, err, sizeof(err)) == -1,
	    "'%s' was accepted", expr);
	ck_assert_msg(strstr(err, reason) != NULL, "'%s': '%s' lacks '%s'",
	    expr, err, reason);
}

START_TEST(test_every_minute)
{
	int64_t t = utc(2026, 12, 2, 10, 30);

	/* Strictly after: a slot is never its own next. */
	next_is("* * * * *", t, t + 60);
	next_is("* * * * *", t + 59, t + 60);
	next_is("* * * * *", t - 1, t);
	prev_is("* * * * *", t, t);
	prev_is("* * * * *", t + 59, t);
	next_is("@hourly", t, utc(2026, 12, 2, 11, 0));
	next_is("@daily", t, utc(2026, 12, 3, 0, 0));
	next_is("@yearly", t, utc(2027, 1, 1, 0, 0));
	next_is("@monthly", t, utc(2027, 1, 1, 0, 0));
	/* 2026-12-02 is a Wednesday: the next Sunday is the 6th. */
	next_is("@weekly", t, utc(2026, 12, 6, 0, 0));
}
END_TEST

START_TEST(test_lists_ranges_steps)
{
	int64_t t = utc(2026, 12, 2, 10, 30);

	next_is("*/15 * * * *", t, utc(2026, 12, 2, 10, 45));
	next_is("*/15 * * * *", t + 15 * 60, utc(2026, 12, 2, 11, 0));
	next_is("5,20,50 * * * *", t, utc(2026, 12, 2, 10, 50));
	next_is("5,20,50 * * * *", utc(2026, 12, 2, 10, 50),
	    utc(2026, 12, 2, 11, 5));
	next_is("0 9-17 * * *", t, utc(2026, 12, 2, 11, 0));
	next_is("0 9-17 * * *", utc(2026, 12, 2, 17, 0),
	    utc(2026, 12, 3, 9, 0));
	next_is("0 9-17/4 * * *", t, utc(2026, 12, 2, 13, 0));
	next_is("0 9-17/4 * * *", utc(2026, 12, 2, 17, 0),
	    utc(2026, 12, 3, 9, 0));
	/* N/STEP runs from N to the end of the field. */
	next_is("10/20 * * * *", t, utc(2026, 12, 2, 10, 50));
	next_is("10/20 * * * *", utc(2026, 12, 2, 10, 50),
	    utc(2026, 12, 2, 11, 10));
	next_is("0 0 * jan,jul *", t, utc(2027, 1, 1, 0, 0));
	next_is("0 0 1 JUL *", t, utc(2027, 7, 1, 0, 0));
	next_is("30 4 * * mon-fri", utc(2026, 12, 4, 5, 0),
	    utc(2026, 12, 7, 4, 30));
	prev_is("0 9-17/4 * * *", t, utc(2026, 12, 2, 9, 0));
	prev_is("0 9-17/4 * * *", utc(2026, 12, 2, 8, 59),
	    utc(2026, 12, 1, 17, 0));
	prev_is("5,20,50 * * * *", t, utc(2026, 12, 2, 10, 20));
}
END_TEST

START_TEST(test_day_of_week_sunday_is_0_and_7)
{
	int64_t t = utc(2026, 12, 2, 10, 30);

	next_is("0 0 * * 0", t, utc(2026, 12, 6, 0, 0));
	next_is("0 0 * * 7", t, utc(2026, 12, 6, 0, 0));
	next_is("0 0 * * 5-7", t, utc(2026, 12, 4, 0, 0));
	next_is("0 0 * * 5-7", utc(2026, 12, 5, 0, 0),
	    utc(2026, 12, 6, 0, 0));
	next_is("0 0 * * 5-7", utc(2026, 12, 6, 0, 0),
	    utc(2026, 12, 11, 0, 0));
}
END_TEST

START_TEST(test_day_fields_or_when_both_restricted)
{
	int64_t t = utc(2026, 12, 2, 10, 30);   /* a Wednesday */

	/* Both restricted: the 15th OR a Friday. */
	next_is("0 0 15 * fri", t, utc(2026, 12, 4, 0, 0));
	next_is("0 0 15 * fri", utc(2026, 12, 12, 0, 0),
	    utc(2026, 12, 15, 0, 0));
	next_is("0 0 15 * fri", utc(2026, 12, 15, 0, 0),
	    utc(2026, 12, 18, 0, 0));
	/* One of them *: only the other counts. */
	next_is("0 0 15 * *", t, utc(2026, 12, 15, 0, 0));
	next_is("0 0 * * fri", t, utc(2026, 12, 4, 0, 0));
	/* A field starting with * (a step) is unrestricted for this rule,
	 * as in Vixie cron: odd days AND Fridays. */
	next_is("0 0 */2 * fri", t, utc(2026, 12, 11, 0, 0));
	prev_is("0 0 15 * fri", utc(2026, 12, 14, 0, 0),
	    utc(2026, 12, 11, 0, 0));
}
END_TEST

START_TEST(test_month_ends_and_leap_years)
{
	/* The 31st skips the months without one. */
	next_is("0 0 31 * *", utc(2027, 1, 31, 0, 0), utc(2027, 3, 31, 0, 0));
	next_is("0 0 31 * *", utc(2027, 3, 31, 0, 0), utc(2027, 5, 31, 0, 0));
	prev_is("0 0 31 * *", utc(2027, 5, 30, 0, 0), utc(2027, 3, 31, 0, 0));
	/* February 29th: leap years only; 2100 is not one. */
	next_is("0 0 29 2 *", utc(2026, 12, 2, 0, 0), utc(2028, 2, 29, 0, 0));
	next_is("0 0 29 2 *", utc(2096, 3, 1, 0, 0), utc(2104, 2, 29, 0, 0));
	prev_is("0 0 29 2 *", utc(2027, 1, 1, 0, 0), utc(2024, 2, 29, 0, 0));
	/* Across a year end. */
	next_is("59 23 31 12 *", utc(2026, 12, 31, 23, 58),
	    utc(2026, 12, 31, 23, 59));
	next_is("59 23 31 12 *", utc(2026, 12, 31, 23, 59),
	    utc(2027, 12, 31, 23, 59));
	next_is("0 0 1 1 *", utc(2026, 12, 31, 23, 59), utc(2027, 1, 1, 0, 0));
	prev_is("0 0 1 1 *", utc(2027, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0));
	prev_is("0 0 1 1 *", utc(2027, 1, 1, 0, 0) - 1, utc(2026, 1, 1, 0, 0));
}
END_TEST

START_TEST(test_next_and_prev_agree)
{
	const char *exprs[] = { "*/7 * * * *", "13 */5 * * *",
	    "0 0 1,15 * mon", "30 2 29 2 *", "0 12 * 3-5 sat,sun" };
	int64_t t = utc(2026, 1, 1, 0, 0), n;
	size_t i;
	int k;

	for (i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
		struct cron c = parsed(exprs[i]);
		int64_t x = t;

		for (k = 0; k < 50; k++) {
			n = cron_next(&c, x);
			ck_assert(n > x);
			ck_assert_int_eq(n % 60, 0);
			/* Nothing between: the previous of the slot before
			 * it is the last one. */
			ck_assert_int_eq(cron_prev(&c, n), n);
			ck_assert_int_eq(cron_prev(&c, n - 1), k ? x : cron_prev(
			    &c, t));
			x = n;
		}
	}
}
END_TEST

START_TEST(test_bad_expressions)
{
	struct cron c;
	char err[256];

	refused("", "expected 5 fields");
	refused("* * * *", "found 4");
	refused("* * * * * *", "found more than 5");
	refused("60 * * * *", "minute: 60 is out of range 0..59");
	refused("* 24 * * *", "hour: 24 is out of range 0..23");
	refused("* * 0 * *", "day-of-month: 0 is out of range 1..31");
	refused("* * * 13 *", "month: 13 is out of range 1..12");
	refused("* * * * 8", "day-of-week: 8 is out of range 0..7");
	refused("1x * * * *", "minute: '1x' is not a number");
	refused("* * * foo *", "month: 'foo' is not a number or a name");
	refused("5-3 * * * *", "minute: range 5-3 goes backwards");
	refused("*/0 * * * *", "minute: step '0' is not a number");
	refused("*/ * * * *", "minute: step");
	refused("1,,2 * * * *", "minute: an empty item");
	refused("0 0 30 2 *", "never matches");
	refused("0 0 31 4,6,9,11 *", "never matches");
	refused("@reboot", "unknown macro '@reboot'");
	/* Feb 30 with a day of week is reachable (OR): accepted. */
	ck_assert_int_eq(cron_parse("0 0 30 2 mon", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(cron_parse("  0  0  *  *  * ", &c, err, sizeof(err)),
	    0);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_every_minute, test_lists_ranges_steps,
		test_day_of_week_sunday_is_0_and_7,
		test_day_fields_or_when_both_restricted,
		test_month_ends_and_leap_years, test_next_and_prev_agree,
		test_bad_expressions,
	};

	return unit_run("cron", tests, sizeof(tests) / sizeof(tests[0]),
	    NULL, NULL);
}
