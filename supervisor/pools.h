/*
 * pools: the children of the master, one pool per role, each child keyed by
 * (pool, slot) like unicorn's workers: a resize adds or retires the highest
 * slots and leaves the others alone.
 *
 * The decisions (restart backoff, EX_CONFIG, rolling replacement, shrinking,
 * hung children, SIGKILL timers) are policy.c's, on each pool's slot table;
 * pools carries them out: it forks, signals, reaps, logs, and keeps the
 * scoreboard. The master's loop drives it: pools_reap and pools_tend every
 * turn.
 */
#ifndef POOLS_H
#define POOLS_H

#include <stddef.h>

#include "config.h"
#include "policy.h"
#include "role.h"
#include "status.h"

struct pools;

/* A pool for each role of roles (ended by a NULL main, kept by pointer).
 * Maps the scoreboard: call before forking anything. */
struct pools *pools_new(const struct role *roles, char *err, size_t errlen);
void pools_free(struct pools *ps);

/* Take cfg (kept by pointer until the next call): the first time, set the
 * pools up; on a reload, diff against the previous cfg (still valid during
 * the call) and plan the changes, which pools_tend carries out. A reload
 * also gives slots that exited EX_CONFIG another chance. */
void pools_configure(struct pools *ps, const struct config *cfg, int reload);

/* Reap every child that exited (waitpid WNOHANG until none is left). */
void pools_reap(struct pools *ps, double now);
/* Start what is due, retire and replace, kill the hung and the late. */
void pools_tend(struct pools *ps, double now);
/* Stop every child: SIGTERM with its role's grace (config_stop_grace)
 * before SIGKILL, or SIGQUIT (immediate). No child is started after this. */
void pools_stop(struct pools *ps, int sig, double now);
/* Send sig to every live child. */
void pools_signal(struct pools *ps, int sig);

size_t pools_children(const struct pools *ps);
/* 1 when every configured slot has a child past STARTING (slots waiting for
 * a reload after EX_CONFIG do not count). */
int pools_ready(struct pools *ps);
/* Seconds until the next timed event (a restart, a SIGKILL); < 0: none. */
double pools_next_event(const struct pools *ps, double now);
/* 1 if a child started or ended or a pool changed since the last call. */
int pools_changed(struct pools *ps);

/* Fill st's pools and children (st->children is malloc'd: free it). */
int pools_snapshot(const struct pools *ps, struct status *st, double now);

#endif
