/*
 * controller: the role that serves run_queued_job (low-latency mode): a
 * job's function run through gearman, then the row completed or backed off.
 */
#ifndef CONTROLLER_H
#define CONTROLLER_H

#include "role.h"

int controller_main(struct role_ctx *ctx);

#endif
