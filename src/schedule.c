/*
 * schedule: slots of a recurring job, and the policy for the ones missed.
 *
 * Slots come from the schedule alone, never from when a master started or
 * last looked: every master on every host computes the same slots, so the
 * unique key and the state row name the same slot everywhere.
 */
#include <inttypes.h>
#include <stdio.h>

#include "cron.h"
#include "schedule.h"

int64_t
schedule_next(const struct config_sched *s, int64_t t)
{
	if (s->cron)
		return cron_next(&s->parsed, t);
	if (t < 0)
		return 0;
	return (t / s->every + 1) * s->every;
}

int64_t
schedule_prev(const struct config_sched *s, int64_t t)
{
	if (t < 0)
		return -1;
	if (s->cron)
		return cron_prev(&s->parsed, t);
	return t / s->every * s->every;
}

void
schedule_uniqkey(const struct config_sched *s, int64_t slot, char *out,
    size_t len)
{
	snprintf(out, len, SCHEDULE_KEY_PREFIX "%s:%" PRId64, s->name, slot);
}

/* How late slot may be found and still count as on time under skip. */
static int64_t
grace(const struct config_sched *s, int64_t slot)
{
	int64_t after = schedule_next(s, slot), g;

	g = after < 0 ? SCHEDULE_GRACE_MAX : (after - slot) / 2;
	if (g < SCHEDULE_GRACE_MIN)
		g = SCHEDULE_GRACE_MIN;
	return g > SCHEDULE_GRACE_MAX ? SCHEDULE_GRACE_MAX : g;
}

int
schedule_due(const struct config_sched *s, int64_t last, int64_t now,
    struct schedule_step *step)
{
	int64_t first = schedule_next(s, last), latest;

	*step = (struct schedule_step){ .insert = -1, .last = last,
	    .missed_first = -1, .missed_last = -1 };
	if (first < 0 || first > now)
		return 0;
	latest = schedule_prev(s, now);
	step->last = latest;
	if (s->policy == MISSED_ONCE || now - latest <= grace(s, latest))
		step->insert = latest;
	if (first < latest || step->insert < 0) {
		step->missed_first = first;
		step->missed_last = step->insert < 0 ? latest :
		    schedule_prev(s, latest - 1);
	}
	return 1;
}
