/*
 * fairclaim: which due rows a QueueRunner's claim selects, decided without
 * a database or gearmand (the QueueRunner does the selects and says what
 * they gave): a due scan grouped into functions, the longest waiting first,
 * and a claim's selects planned pass by pass.
 *
 * Why fair: each function is selected alone, within its room under the
 * watermark and its share of the batch, so no function's backlog (over its
 * watermark, without a worker, or just large) holds up the due rows of
 * another: every function with room is served by every claim, the longest
 * waiting first.
 *
 * Priorities order a function's own rows and nothing else: its share is
 * taken from its highest lane (its due rows of one priority) first; what a
 * drained lane leaves goes, in the next pass, to the function's next lane
 * as to the other functions.
 */
#ifndef FAIRCLAIM_H
#define FAIRCLAIM_H

#include <stddef.h>
#include <stdint.h>

#include "garivini.h"

/* A claim's passes: the first gives each function an equal share of the
 * batch, the next ones share what the functions that ran out of due rows
 * left among those that did not (a function with due rows of several
 * priorities runs out of its highest first, and goes on with the next in
 * the next pass). */
#define FAIRCLAIM_PASSES 2
/* Lanes per select at the most (the parts of its UNION ALL). */
#define FAIRCLAIM_PARTS 32

/* A function with due rows, as a scan found it. */
struct fairclaim_func {
	const char *funcname;    /* its lanes' */
	size_t lane;             /* its first lane */
	size_t nlanes;
	uint32_t oldest;         /* the oldest due row of its lanes */
};

/* Sort the lanes of a due scan (funcname, priority; run_after: the lane's
 * oldest due row) by function, then the highest priority first, and group
 * them into *funcs (replaced), the oldest due first. -1 when memory ran
 * out (*funcs is then NULL). */
int fairclaim_group(struct gv_job *lanes, size_t nlanes,
    struct fairclaim_func **funcs, size_t *nfuncs);

/* The claim's order: within a function the highest priority first, then
 * the longest due; the batch byte budget and gearmand's queue see them so. */
void fairclaim_order(struct gv_job *rows, size_t n);

/* One part of a select: up to limit due rows of the lane (funcname,
 * priority) after (after_run, after_id), for candidate cand. */
struct fairclaim_part {
	const char *funcname;
	int priority;
	uint32_t after_run;
	uint64_t after_id;
	unsigned limit;
	size_t cand;
};

/* The claim in hand: its candidates (functions) and their lanes, and where
 * the plan of selects stands. */
struct fairclaim {
	struct fairclaim_cand {
		long room;       /* rows it may still take */
		size_t lane;     /* its current lane */
		size_t end;      /* past its last lane */
	} *cand;
	size_t ncand, cand_cap;
	struct fairclaim_lane {
		const char *funcname;
		int priority;
		uint32_t after_run; /* its last row selected, to select */
		uint64_t after_id;  /* the next ones after it */
	} *lane;
	size_t nlanes, lane_cap;
	unsigned left;           /* rows still wanted */
	int pass;
	int in_pass;
	size_t next;             /* the candidate the pass goes on with */
	unsigned share;          /* per candidate in this pass */
	unsigned plan;           /* rows this pass has yet to ask for */
};

/* A new claim of up to rows rows, with room for ncand candidates of nlanes
 * lanes in all. -1 when memory ran out. */
int fairclaim_begin(struct fairclaim *fc, unsigned rows, size_t ncand,
    size_t nlanes);
/* Add a candidate, in the order it is to be served (the longest waiting
 * first): funcname with its lanes (priorities, highest first), taking at
 * most room rows (LONG_MAX: no watermark). */
void fairclaim_add(struct fairclaim *fc, const char *funcname,
    const struct gv_job *lanes, size_t nlanes, long room);
/* The parts of the next select (at most FAIRCLAIM_PARTS), or 0 when the
 * claim is done. */
size_t fairclaim_next(struct fairclaim *fc, struct fairclaim_part *parts);
/* What the select of parts[0..n) gave: rows[0..nrows), each of one part's
 * lane. Each candidate's room and current lane, and each lane's cursor,
 * follow: a lane that gave less than asked is drained, and its function
 * goes on with its next lane. */
void fairclaim_took(struct fairclaim *fc, const struct fairclaim_part *parts,
    size_t n, const struct gv_job *rows, size_t nrows);
void fairclaim_free(struct fairclaim *fc);

#endif
