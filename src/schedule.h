/*
 * schedule: the slots of a [schedule.NAME] and what is due at a time. Pure:
 * the caller brings the time (the database's clock) and the state row.
 *
 * A slot is a unix time at which the schedule fires: for `every = N` the
 * multiples of N seconds since the epoch (so every = 3600 fires on the hour
 * in UTC, on every host alike), for `cron` the minutes its fields match in
 * UTC. The job of a slot carries the unique key "schedule:NAME:SLOT".
 */
#ifndef SCHEDULE_H
#define SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "garivini.h"

/* A slot found more than this late, at most, is missed under skip: half
 * the time to the slot after it, within these bounds. */
#define SCHEDULE_GRACE_MIN 5
#define SCHEDULE_GRACE_MAX 60
#define SCHEDULE_KEY_PREFIX "schedule:"
#define SCHEDULE_KEY_MAX (GV_UNIQKEY_MAX + 1) /* a key with its NUL */

/* The first slot strictly after t; -1 if none (a cron that does not fire
 * within ten years). */
int64_t schedule_next(const struct config_sched *s, int64_t t);
/* The last slot at or before t; -1 if none. */
int64_t schedule_prev(const struct config_sched *s, int64_t t);
/* The unique key of the job of slot. */
void schedule_uniqkey(const struct config_sched *s, int64_t slot, char *out,
    size_t len);

/* What to do when the state row says last and the time is now. */
struct schedule_step {
	int64_t insert;         /* the slot to insert a job for, -1: none */
	int64_t last;           /* the new last_slot */
	int64_t missed_first;   /* slots passed over without a job, */
	int64_t missed_last;    /* first and last; -1: none */
};

/*
 * 0 when no slot after last has come by now. Else 1, with the step: every
 * slot after last up to now is accounted for (step->last is the latest of
 * them), and at most one of them gets a job. That is the latest, unless
 * missed = skip and it came more than its grace before now.
 */
int schedule_due(const struct config_sched *s, int64_t last, int64_t now,
    struct schedule_step *step);

#endif
