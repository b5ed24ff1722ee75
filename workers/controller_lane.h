/*
 * controller_lane: a Controller's connections to each database, one lane
 * a database: the one its slots share, taken by one slot at a time, and
 * its flusher's, which commits the slots' completions in batches
 * (controller_lane.c).
 */
#ifndef CONTROLLER_LANE_H
#define CONTROLLER_LANE_H

#include "garivini.h"

struct controller;
struct lane;

/* A lane per database of c->cfg, its connections open, into c->lanes. -1
 * with a message in c->err (controller_lane_close_all closes what was
 * opened). */
int controller_lane_open_all(struct controller *c);
void controller_lane_close_all(struct controller *c);
/* The lane of database dbid; NULL when it is not configured. */
struct lane *controller_lane_find(struct controller *c, unsigned dbid);

/* Take the slots' connection, waiting while another slot uses it, unless
 * must_wait is 0 and its last call failed: NULL then, at once. Each take
 * is followed by a give, with the call's return code. No lock is held
 * between them. */
gv_client *controller_lane_take(struct lane *l, int must_wait);
void controller_lane_give(struct lane *l, int rc);

/* Claims in the order their jobs were handed over: each job gets a ticket
 * when handed over (the lock held), its claim waits for its turn and ends
 * it. */
unsigned long controller_lane_ticket(struct lane *l);
void controller_lane_wait_turn(struct lane *l, unsigned long ticket);
void controller_lane_end_turn(struct lane *l);

/* Hand a completion, with its worker's result (NULL: none) when its
 * function keeps records, to the lane's flusher, memory only. -1 when
 * memory ran out: the caller completes it itself. */
int controller_lane_hold_done(struct lane *l, const struct gv_job *job,
    const void *result, size_t len);

/* The flushers: started with the slots; woken (the lock held) when the
 * last slot ended after c->done, since they end once c->done is set, no
 * slot is busy and they have written what they held; stopped after the
 * slots were joined. */
int controller_lane_start_flushers(struct controller *c);
void controller_lane_wake_flushers(struct controller *c);
void controller_lane_stop_flushers(struct controller *c);

#endif
