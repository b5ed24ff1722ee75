/*
 * cron: five-field cron expressions as sets of bits, and the walk to the
 * next (or previous) time all five fields match.
 *
 * The walk is on whole minutes of UTC, with the calendar computed from the
 * day number (Howard Hinnant's civil-date algorithms), not gmtime/timegm:
 * no time zone can leak in, and the module stays pure. It moves a field at
 * a time, the coarsest that does not match first (a month that does not
 * match skips to the next month, a day to the next day, an hour to the next
 * hour), so a year's walk is a few hundred steps at most.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cron.h"
#include "util.h"

#define DAY 86400
#define WALK_LIMIT ((int64_t)10 * 366 * DAY)    /* ten years */
#define FIELD_MAX 256                           /* bytes of one field */

enum field { F_MINUTE, F_HOUR, F_MDAY, F_MONTH, F_WDAY, NFIELDS };

static const struct field_def {
	const char *name;
	int min, max;
	const char *const *names;       /* names for min, min + 1, ... */
} fields[NFIELDS] = {
	[F_MINUTE] = { "minute", 0, 59, NULL },
	[F_HOUR] = { "hour", 0, 23, NULL },
	[F_MDAY] = { "day-of-month", 1, 31, NULL },
	[F_MONTH] = { "month", 1, 12, (const char *const[]){ "jan", "feb",
	    "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
	    "dec", NULL } },
	/* 7 is Sunday as well as 0, as in every cron. */
	[F_WDAY] = { "day-of-week", 0, 7, (const char *const[]){ "sun", "mon",
	    "tue", "wed", "thu", "fri", "sat", NULL } },
};

static const struct {
	const char *name;
	const char *expr;
} macros[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

/* A number or a name of field f; -1 with err filled if neither. */
static int
value_parse(const struct field_def *f, const char *s, size_t len, int *out,
    char *err, size_t errlen)
{
	long v = 0;
	size_t i;

	if (len == 0)
		return errf(err, errlen, "%s: a number is missing", f->name);
	if (isdigit((unsigned char)s[0])) {
		for (i = 0; i < len; i++) {
			if (!isdigit((unsigned char)s[i]))
				return errf(err, errlen, "%s: '%.*s' is not a "
				    "number", f->name, (int)len, s);
			if (v < 1000)
				v = v * 10 + (s[i] - '0');
		}
		if (v < f->min || v > f->max)
			return errf(err, errlen, "%s: %ld is out of range "
			    "%d..%d", f->name, v, f->min, f->max);
		*out = (int)v;
		return 0;
	}
	for (i = 0; f->names && f->names[i]; i++)
		if (len == 3 && strncasecmp(s, f->names[i], 3) == 0) {
			*out = f->min + (int)i;
			return 0;
		}
	return errf(err, errlen, "%s: '%.*s' is not a %s", f->name, (int)len,
	    s, f->names ? "number or a name" : "number");
}

/* One item of a list: *, N, N-M, each with an optional /STEP. */
static int
item_parse(const struct field_def *f, const char *s, size_t len,
    uint64_t *bits, char *err, size_t errlen)
{
	const char *slash = memchr(s, '/', len), *dash;
	size_t base = slash ? (size_t)(slash - s) : len;
	int lo, hi, step = 1, v;

	if (base == 1 && s[0] == '*') {
		lo = f->min;
		hi = f->max;
	} else if ((dash = memchr(s, '-', base)) != NULL) {
		if (value_parse(f, s, (size_t)(dash - s), &lo, err, errlen) ==
		    -1 || value_parse(f, dash + 1, base - (size_t)(dash - s) -
		    1, &hi, err, errlen) == -1)
			return -1;
		if (hi < lo)
			return errf(err, errlen, "%s: range %.*s goes "
			    "backwards", f->name, (int)base, s);
	} else {
		if (value_parse(f, s, base, &lo, err, errlen) == -1)
			return -1;
		/* N/STEP: from N to the end of the field. */
		hi = slash ? f->max : lo;
	}
	if (slash) {
		if (value_parse(&(struct field_def){ f->name, 1, f->max > 1 ?
		    f->max : 1, NULL }, slash + 1, len - base - 1, &step, err,
		    errlen) == -1)
			return errf(err, errlen, "%s: step '%.*s' is not a "
			    "number from 1 to %d", f->name,
			    (int)(len - base - 1), slash + 1, f->max);
	}
	for (v = lo; v <= hi; v += step)
		*bits |= (uint64_t)1 << v;
	return 0;
}

/* A comma-separated list of items into bits; *star when it began with '*'. */
static int
field_parse(const struct field_def *f, const char *s, uint64_t *bits,
    int *star, char *err, size_t errlen)
{
	const char *end;
	size_t len;

	*bits = 0;
	*star = s[0] == '*';
	for (;;) {
		end = strchr(s, ',');
		len = end ? (size_t)(end - s) : strlen(s);
		if (len == 0)
			return errf(err, errlen, "%s: an empty item in a list",
			    f->name);
		if (item_parse(f, s, len, bits, err, errlen) == -1)
			return -1;
		if (end == NULL)
			return 0;
		s = end + 1;
	}
}

static int
days_in_month(int month)
{
	static const int days[13] = { 0, 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };

	return days[month];
}

/* A day of month restricted alone (day of week *) must exist in one of the
 * months, or the expression never matches. */
static int
check_reachable(const struct cron *c, char *err, size_t errlen)
{
	int m, d;

	if (c->mday_star || !c->wday_star)
		return 0;
	for (m = 1; m <= 12; m++)
		for (d = 1; d <= days_in_month(m); d++)
			if ((c->months >> m & 1) && (c->mdays >> d & 1))
				return 0;
	return errf(err, errlen, "day-of-month: no day given exists in the "
	    "months given: the expression never matches");
}

int
cron_parse(const char *expr, struct cron *c, char *err, size_t errlen)
{
	char text[FIELD_MAX * NFIELDS], *tok[NFIELDS + 1], *save = NULL, *w;
	uint64_t bits[NFIELDS];
	int star[NFIELDS];
	size_t i, n = 0;

	while (isspace((unsigned char)*expr))
		expr++;
	if (*expr == '@') {
		for (i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
			if (strcasecmp(expr, macros[i].name) == 0)
				return cron_parse(macros[i].expr, c, err,
				    errlen);
		return errf(err, errlen, "unknown macro '%s' (@yearly, "
		    "@annually, @monthly, @weekly, @daily, @midnight, "
		    "@hourly)", expr);
	}
	if (strlen(expr) >= sizeof(text))
		return errf(err, errlen, "too long (at most %zu bytes)",
		    sizeof(text) - 1);
	memcpy(text, expr, strlen(expr) + 1);
	for (w = strtok_r(text, " \t", &save); w && n <= NFIELDS;
	    w = strtok_r(NULL, " \t", &save))
		tok[n++] = w;
	if (n != NFIELDS)
		return errf(err, errlen, "expected 5 fields (minute hour "
		    "day-of-month month day-of-week), found %s%zu",
		    n > NFIELDS ? "more than " : "", n > NFIELDS ? n - 1 : n);
	for (i = 0; i < NFIELDS; i++)
		if (field_parse(&fields[i], tok[i], &bits[i], &star[i], err,
		    errlen) == -1)
			return -1;
	memset(c, 0, sizeof(*c));
	c->minutes = bits[F_MINUTE];
	c->hours = (uint32_t)bits[F_HOUR];
	c->mdays = (uint32_t)bits[F_MDAY];
	c->months = (uint32_t)bits[F_MONTH];
	c->wdays = (uint32_t)((bits[F_WDAY] | bits[F_WDAY] >> 7) & 0x7f);
	c->mday_star = star[F_MDAY];
	c->wday_star = star[F_WDAY];
	return check_reachable(c, err, errlen);
}

/* Days since 1970-01-01 to year, month (1..12), day, and back. */
static void
civil_from_days(int64_t z, int *year, int *month, int *day)
{
	int64_t era, doe, yoe, doy, mp, y;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = (int)(y + (*month <= 2));
}

static int64_t
days_from_civil(int year, int month, int day)
{
	int64_t y = year - (month <= 2), era, yoe, doy, doe;

	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Where a walk stands: the calendar of minute x. */
struct at {
	int64_t days;
	int year, month, day, wday, hour, minute;
};

static void
at_of(int64_t x, struct at *a)
{
	a->days = x / DAY;
	civil_from_days(a->days, &a->year, &a->month, &a->day);
	a->wday = (int)((a->days + 4) % 7);         /* 1970-01-01: Thursday */
	a->hour = (int)(x % DAY / 3600);
	a->minute = (int)(x % 3600 / 60);
}

static int
day_matches(const struct cron *c, const struct at *a)
{
	int mday = c->mdays >> a->day & 1, wday = c->wdays >> a->wday & 1;

	if (c->mday_star || c->wday_star)
		return mday && wday;
	return mday || wday;
}

int64_t
cron_next(const struct cron *c, int64_t t)
{
	int64_t x = t < 0 ? 0 : (t / 60 + 1) * 60, limit = x + WALK_LIMIT;
	struct at a;

	while (x <= limit) {
		at_of(x, &a);
		if (!(c->months >> a.month & 1))
			x = days_from_civil(a.month == 12 ? a.year + 1 : a.year,
			    a.month == 12 ? 1 : a.month + 1, 1) * DAY;
		else if (!day_matches(c, &a))
			x = (a.days + 1) * DAY;
		else if (!(c->hours >> a.hour & 1))
			x = a.days * DAY + (a.hour + 1) * 3600;
		else if (!(c->minutes >> a.minute & 1))
			x += 60;
		else
			return x;
	}
	return -1;
}

int64_t
cron_prev(const struct cron *c, int64_t t)
{
	int64_t x = t / 60 * 60, limit = x - WALK_LIMIT;
	struct at a;

	if (t < 0)
		return -1;
	while (x >= 0 && x >= limit) {
		at_of(x, &a);
		if (!(c->months >> a.month & 1))
			x = days_from_civil(a.year, a.month, 1) * DAY - 60;
		else if (!day_matches(c, &a))
			x = a.days * DAY - 60;
		else if (!(c->hours >> a.hour & 1))
			x = a.days * DAY + a.hour * 3600 - 60;
		else if (!(c->minutes >> a.minute & 1))
			x -= 60;
		else
			return x;
	}
	return -1;
}
