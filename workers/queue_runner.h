/*
 * queue_runner: the role that claims due rows and submits them to gearmand
 * (both modes need it).
 */
#ifndef QUEUE_RUNNER_H
#define QUEUE_RUNNER_H

#include "role.h"

int queue_runner_main(struct role_ctx *ctx);

#endif
