/*
 * test_schedule: the slots of every and cron schedules, their unique keys,
 * and what is due: the slot that came, the latest of several missed (once),
 * none of those found too late (skip).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"
#include "unit.h"

static struct config_sched
every(int seconds, enum config_missed policy)
{
	return (struct config_sched){ .name = "tick", .every = seconds,
	    .policy = policy };
}

static struct config_sched
cron(const char *expr, enum config_missed policy)
{
	static char text[64];
	struct config_sched s = { .name = "nightly", .cron = text,
	    .every = -1, .policy = policy };
	char err[256];

	snprintf(text, sizeof(text), "%s", expr);
	ck_assert_int_eq(cron_parse(expr, &s.parsed, err, sizeof(err)), 0);
	return s;
}

START_TEST(test_every_slots)
{
	struct config_sched s = every(10, MISSED_ONCE);
	char key[SCHEDULE_KEY_MAX];

	/* Multiples of the interval since the epoch, whoever asks. */
	ck_assert_int_eq(schedule_next(&s, 1000), 1010);
	ck_assert_int_eq(schedule_next(&s, 1009), 1010);
	ck_assert_int_eq(schedule_next(&s, 1010), 1020);
	ck_assert_int_eq(schedule_prev(&s, 1010), 1010);
	ck_assert_int_eq(schedule_prev(&s, 1019), 1010);
	ck_assert_int_eq(schedule_prev(&s, -1), -1);
	schedule_uniqkey(&s, 1010, key, sizeof(key));
	ck_assert_str_eq(key, "schedule:tick:1010");
}
END_TEST

START_TEST(test_due_on_time)
{
	struct config_sched s = every(10, MISSED_ONCE);
	struct schedule_step st;

	/* Nothing came since the last slot. */
	ck_assert_int_eq(schedule_due(&s, 1000, 1009, &st), 0);
	ck_assert_int_eq(st.insert, -1);
	ck_assert_int_eq(st.last, 1000);
	/* The next slot came: its job, nothing missed. */
	ck_assert_int_eq(schedule_due(&s, 1000, 1011, &st), 1);
	ck_assert_int_eq(st.insert, 1010);
	ck_assert_int_eq(st.last, 1010);
	ck_assert_int_eq(st.missed_first, -1);
	ck_assert_int_eq(st.missed_last, -1);
	/* The same under skip, found within its grace (5 s here). */
	s.policy = MISSED_SKIP;
	ck_assert_int_eq(schedule_due(&s, 1000, 1015, &st), 1);
	ck_assert_int_eq(st.insert, 1010);
	ck_assert_int_eq(st.missed_first, -1);
}
END_TEST

START_TEST(test_due_missed_once)
{
	struct config_sched s = every(10, MISSED_ONCE);
	struct schedule_step st;

	/* 1010 .. 1050 came while nothing ran: one job, for 1050. */
	ck_assert_int_eq(schedule_due(&s, 1000, 1058, &st), 1);
	ck_assert_int_eq(st.insert, 1050);
	ck_assert_int_eq(st.last, 1050);
	ck_assert_int_eq(st.missed_first, 1010);
	ck_assert_int_eq(st.missed_last, 1040);
	/* And then the next one as usual. */
	ck_assert_int_eq(schedule_due(&s, st.last, 1059, &st), 0);
	ck_assert_int_eq(schedule_due(&s, 1050, 1060, &st), 1);
	ck_assert_int_eq(st.insert, 1060);
}
END_TEST

START_TEST(test_due_missed_skip)
{
	struct config_sched s = every(20, MISSED_SKIP);
	struct schedule_step st;

	/* 1060 is 11 s old, over its grace of 10 s: no job at all, and the
	 * state moves past it. */
	ck_assert_int_eq(schedule_due(&s, 1000, 1071, &st), 1);
	ck_assert_int_eq(st.insert, -1);
	ck_assert_int_eq(st.last, 1060);
	ck_assert_int_eq(st.missed_first, 1020);
	ck_assert_int_eq(st.missed_last, 1060);
	/* Found within 10 s, 1060 is on time: it runs, the earlier ones are
	 * missed. */
	ck_assert_int_eq(schedule_due(&s, 1000, 1069, &st), 1);
	ck_assert_int_eq(st.insert, 1060);
	ck_assert_int_eq(st.missed_first, 1020);
	ck_assert_int_eq(st.missed_last, 1040);
	/* The grace is half the period within 5 .. 60 s: a daily schedule
	 * found 61 s late is missed, one found 59 s late is not. */
	s.every = 86400;
	ck_assert_int_eq(schedule_due(&s, 0, 86400 + 61, &st), 1);
	ck_assert_int_eq(st.insert, -1);
	ck_assert_int_eq(schedule_due(&s, 0, 86400 + 59, &st), 1);
	ck_assert_int_eq(st.insert, 86400);
	/* An interval of 2 s: the latest slot is never more than 2 s old,
	 * within the 5 s floor, so skip and once agree. */
	s.every = 2;
	ck_assert_int_eq(schedule_due(&s, 1000, 1101, &st), 1);
	ck_assert_int_eq(st.insert, 1100);
}
END_TEST

START_TEST(test_due_cron)
{
	/* 2026-12-02 (Wednesday) 03:00 UTC is 1796180400. */
	struct config_sched s = cron("0 3 * * *", MISSED_ONCE);
	struct schedule_step st;
	int64_t day = 86400, d2 = 1796180400;

	ck_assert_int_eq(schedule_prev(&s, d2 + 5), d2);
	ck_assert_int_eq(schedule_next(&s, d2), d2 + day);
	ck_assert_int_eq(schedule_due(&s, d2 - day, d2 - 1, &st), 0);
	ck_assert_int_eq(schedule_due(&s, d2 - day, d2 + 30, &st), 1);
	ck_assert_int_eq(st.insert, d2);
	/* Three days down: once runs the last day's. */
	ck_assert_int_eq(schedule_due(&s, d2 - day, d2 + 2 * day + 3600, &st),
	    1);
	ck_assert_int_eq(st.insert, d2 + 2 * day);
	ck_assert_int_eq(st.missed_first, d2);
	ck_assert_int_eq(st.missed_last, d2 + day);
	/* skip runs none of them: the last is an hour late. */
	s.policy = MISSED_SKIP;
	ck_assert_int_eq(schedule_due(&s, d2 - day, d2 + 2 * day + 3600, &st),
	    1);
	ck_assert_int_eq(st.insert, -1);
	ck_assert_int_eq(st.last, d2 + 2 * day);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_every_slots, test_due_on_time, test_due_missed_once,
		test_due_missed_skip, test_due_cron,
	};

	return unit_run("schedule", tests, sizeof(tests) / sizeof(tests[0]),
	    NULL, NULL);
}
