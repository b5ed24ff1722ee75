/*
 * injector: the role that serves inject_jobs (low-latency mode): a job
 * stored, submitted and answered.
 */
#ifndef INJECTOR_H
#define INJECTOR_H

#include "role.h"

int injector_main(struct role_ctx *ctx);

#endif
