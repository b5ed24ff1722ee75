/*
 * client: the parts of libgarivini the roles share but users do not see.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include "config.h"
#include "db.h"
#include "garivini.h"

/* Open on the databases of a parsed configuration, with max_failures from
 * [controller]. */
gv_client *client_open_config(const struct config *cfg, char *err,
    size_t errlen);
/* The databases behind a client (the QueueRunner claims from each). */
struct dbset *client_dbset(gv_client *gv);

#endif
