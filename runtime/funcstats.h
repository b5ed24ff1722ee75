/*
 * funcstats: the per-function counters of a master and its children, in
 * one shared-memory table (anonymous, mapped by the master before it forks,
 * like the scoreboard). Children and the Controller's threads find or
 * claim their function's entry and count with relaxed atomics; the master
 * reads the table for the status and Prometheus files.
 *
 * The table holds at most cap functions (metrics_functions), the first
 * ones seen; every other function, and names no label can carry, count
 * under METRICS_OTHER, so the labels a master writes are bounded. Entries
 * are never freed: counters live as long as the master, like a pool's.
 *
 * Why no lock: a lock shared with a child that can be killed at any moment
 * can be left held. An entry's state word goes EMPTY -> CLAIMING -> READY
 * by compare-and-swap, and only its claimer writes the name, before it
 * publishes READY with a release store; readers compare names only of READY
 * entries (acquire), which never change again. A reader that meets a
 * CLAIMING entry does not wait for it (its claimer may have been killed):
 * it goes on probing, so two threads claiming one new name at the same
 * moment may each get an entry. funcstats_read merges entries of one name,
 * so that costs a place in the table, never a count.
 */
#ifndef FUNCSTATS_H
#define FUNCSTATS_H

#include <stddef.h>

#include "metrics.h"

struct funcstats;
struct fs_entry;

/* A zeroed table for cap functions (MAP_SHARED | MAP_ANONYMOUS), which
 * becomes this process's (funcstats_current), before forking; NULL with
 * errno on failure. */
struct funcstats *funcstats_map(unsigned cap);
void funcstats_unmap(struct funcstats *t);
/* The table funcstats_map made last in this process or a parent; NULL:
 * none (a role run alone), and counting does nothing. */
struct funcstats *funcstats_current(void);

/* The entry of funcname: found, claimed, or the METRICS_OTHER one. NULL
 * only when t is. Safe from any process and thread sharing t. */
struct fs_entry *funcstats_find(struct funcstats *t, const char *funcname);
/* Counting on an entry; e NULL does nothing. */
void funcstats_add(struct fs_entry *e, enum metrics_counter c, uint64_t n);
void funcstats_latency(struct fs_entry *e, double seconds);
/* Both in one: find funcname's entry and add n to counter c. */
void funcstats_count(struct funcstats *t, const char *funcname,
    enum metrics_counter c, uint64_t n);

/* Master side: a copy of every function, entries of one name merged, in
 * name order, METRICS_OTHER last when it counted anything. *out malloc'd
 * (free it); -1 when memory ran out. */
int funcstats_read(const struct funcstats *t, struct metrics_func **out,
    size_t *n);

#endif
