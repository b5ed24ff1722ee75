/*
 * scheduler: inserts the jobs of the [schedule.NAME] sections, each slot
 * once however many QueueRunners, masters and hosts run (the QueueRunners
 * call it between their rounds).
 */
#ifndef SCHEDULER_H
#define SCHEDULER_H

#include <stddef.h>

#include "config.h"
#include "db.h"

struct scheduler;

/* For cfg's schedules, on the databases of dbs (both outlive it). NULL when
 * memory ran out, with the reason in err. */
struct scheduler *scheduler_new(const struct config *cfg, struct dbset *dbs,
    char *err, size_t errlen);
void scheduler_free(struct scheduler *s);
/* Insert what is due. Returns at once unless a second passed since the last
 * look; never blocks longer than the database calls it makes, and leaves a
 * database that fails alone for a growing while. */
void scheduler_tick(struct scheduler *s);

#endif
