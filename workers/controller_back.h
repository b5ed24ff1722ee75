/*
 * controller_back: jobs of a database that does not answer, going back to
 * gearmand (see controller_back.c).
 */
#ifndef CONTROLLER_BACK_H
#define CONTROLLER_BACK_H

#include "controller_int.h"

/* Note that job goes back once more: *pause is how long this Controller
 * waits before it may take it again (0 the first time). -1 once it has
 * gone back SEND_BACK_TIMES times: it is forgotten, and left to its
 * lease. */
int controller_going_back(struct controller *c, const struct gv_job *job,
    double *pause);
/* The slot's job, unclaimed since its database did not answer (the
 * reason in sl->err), back to gearmand as a run_queued_job of its own;
 * or, once it went round for long, left to its lease. Logged. */
void controller_send_back(struct slot *sl);

#endif
