/*
 * hostport: lists of servers as operators write them, "host[:port], ...",
 * for gearman_servers and a database's host list alike.
 */
#ifndef HOSTPORT_H
#define HOSTPORT_H

#include <stddef.h>

/* Hosts of one database ([db.N] host): a Galera cluster's nodes, or a
 * primary and its failover targets. */
#define HOSTPORT_MAX_PER_DB 16

struct hostport {
	char host[256];
	unsigned port;
};

/*
 * Parse value: entries separated by commas or spaces, each "host",
 * "host:port", "[v6 address]:port" or a bare v6 address (which can only
 * take the default port). At most max entries; none is an error. -1 with
 * the reason in why.
 */
int hostport_parse_list(const char *value, unsigned default_port,
    struct hostport *out, size_t max, size_t *n, char *why, size_t whylen);

#endif
