/*
 * cron: five-field cron expressions (minute hour day-of-month month
 * day-of-week), parsed once and asked for the slot after or at a time.
 *
 * Times are seconds since the epoch, read in UTC: no time zone, no daylight
 * saving, so every host computes the same slots. Pure: no clock, no I/O.
 */
#ifndef CRON_H
#define CRON_H

#include <stddef.h>
#include <stdint.h>

struct cron {
	uint64_t minutes;       /* bit m: minute m, 0..59 */
	uint32_t hours;         /* bit h: hour h, 0..23 */
	uint32_t mdays;         /* bit d: day of month d, 1..31 */
	uint32_t months;        /* bit m: month m, 1..12 */
	uint32_t wdays;         /* bit d: day of week d, 0..6, 0 = Sunday */
	/* The day fields as written began with '*': cron's rule for the
	 * days is then AND of the two, else OR (see cron_parse). */
	int mday_star;
	int wday_star;
};

/*
 * Parse expr: five fields separated by blanks, each a comma-separated list
 * of *, N, N-M, with an optional /STEP (*, N-M or N followed by /STEP: N/S
 * means N to the field's end), or one of the macros @yearly (@annually),
 * @monthly, @weekly, @daily (@midnight), @hourly. Months may be named
 * jan..dec and days of week sun..sat (any case); day of week 7 is Sunday
 * too. When both day fields are restricted, a day matches if either does
 * (cron's rule: "0 0 1 * mon" runs on the 1st and on every Monday). -1 with
 * the reason in err; an expression that can never match (day 31 of
 * February only, say) is refused too.
 */
int cron_parse(const char *expr, struct cron *c, char *err, size_t errlen);

/* The first slot strictly after t, or -1 if none within ten years. */
int64_t cron_next(const struct cron *c, int64_t t);
/* The last slot at or before t, or -1 if none within ten years. */
int64_t cron_prev(const struct cron *c, int64_t t);

#endif
