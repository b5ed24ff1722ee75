/*
 * fairclaim: the fair share of a claim among due functions and their
 * priorities (fairclaim.h says why); pure, so tests/unit/test_fairclaim.c
 * drives it with made-up scans and select results.
 */
#include <stdlib.h>
#include <string.h>

#include "fairclaim.h"

/* The rows of a due scan: by function, then the highest priority first. */
static int
by_lane(const void *a, const void *b)
{
	const struct gv_job *x = a, *y = b;
	int c = strcmp(x->funcname, y->funcname);

	if (c != 0)
		return c;
	return (x->priority < y->priority) - (x->priority > y->priority);
}

static int
by_oldest(const void *a, const void *b)
{
	const struct fairclaim_func *x = a, *y = b;

	if (x->oldest != y->oldest)
		return x->oldest < y->oldest ? -1 : 1;
	return strcmp(x->funcname, y->funcname);
}

static int
by_due(const void *a, const void *b)
{
	const struct gv_job *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	if (x->run_after != y->run_after)
		return x->run_after < y->run_after ? -1 : 1;
	return x->jobid < y->jobid ? -1 : x->jobid > y->jobid;
}

int
fairclaim_group(struct gv_job *lanes, size_t nlanes,
    struct fairclaim_func **funcs, size_t *nfuncs)
{
	struct fairclaim_func *f;
	size_t k;

	if (nlanes > 1)
		qsort(lanes, nlanes, sizeof(*lanes), by_lane);
	free(*funcs);
	*funcs = NULL;
	*nfuncs = 0;
	if (nlanes == 0)
		return 0;
	if ((*funcs = calloc(nlanes, sizeof(**funcs))) == NULL)
		return -1;
	for (k = 0; k < nlanes; k++) {
		f = &(*funcs)[*nfuncs];
		if (k > 0 && strcmp(lanes[k].funcname, f[-1].funcname) == 0) {
			f--;
			if (lanes[k].run_after < f->oldest)
				f->oldest = lanes[k].run_after;
		} else {
			*f = (struct fairclaim_func){ .lane = k,
			    .funcname = lanes[k].funcname,
			    .oldest = lanes[k].run_after };
			(*nfuncs)++;
		}
		f->nlanes++;
	}
	qsort(*funcs, *nfuncs, sizeof(**funcs), by_oldest);
	return 0;
}

void
fairclaim_order(struct gv_job *rows, size_t n)
{
	if (n > 1)
		qsort(rows, n, sizeof(*rows), by_due);
}

int
fairclaim_begin(struct fairclaim *fc, unsigned rows, size_t ncand,
    size_t nlanes)
{
	void *p;

	if (ncand > fc->cand_cap) {
		if ((p = realloc(fc->cand, ncand * sizeof(*fc->cand))) == NULL)
			return -1;
		fc->cand = p;
		fc->cand_cap = ncand;
	}
	if (nlanes > fc->lane_cap) {
		if ((p = realloc(fc->lane, nlanes * sizeof(*fc->lane))) == NULL)
			return -1;
		fc->lane = p;
		fc->lane_cap = nlanes;
	}
	fc->ncand = fc->nlanes = 0;
	fc->left = rows;
	fc->pass = 0;
	fc->in_pass = 0;
	return 0;
}

void
fairclaim_add(struct fairclaim *fc, const char *funcname,
    const struct gv_job *lanes, size_t nlanes, long room)
{
	struct fairclaim_cand *c = &fc->cand[fc->ncand++];
	size_t j;

	c->room = room;
	c->lane = fc->nlanes;
	for (j = 0; j < nlanes; j++)
		fc->lane[fc->nlanes++] = (struct fairclaim_lane){
		    .funcname = funcname, .priority = lanes[j].priority };
	c->end = fc->nlanes;
}

/* A candidate that may give more rows. */
static int
cand_open(const struct fairclaim_cand *c)
{
	return c->room > 0 && c->lane < c->end;
}

/* Start the next pass: 0 when there is none (all passes made, the batch
 * full, or no candidate that may give more). */
static int
pass_start(struct fairclaim *fc)
{
	size_t k, open = 0;

	if (fc->pass >= FAIRCLAIM_PASSES || fc->left == 0)
		return 0;
	for (k = 0; k < fc->ncand; k++)
		open += cand_open(&fc->cand[k]);
	if (open == 0) {
		fc->pass = FAIRCLAIM_PASSES;
		return 0;
	}
	fc->share = (fc->left + (unsigned)open - 1) / (unsigned)open;
	fc->plan = fc->left;
	fc->next = 0;
	fc->in_pass = 1;
	return 1;
}

size_t
fairclaim_next(struct fairclaim *fc, struct fairclaim_part *parts)
{
	size_t n;

	for (;;) {
		if (!fc->in_pass && !pass_start(fc))
			return 0;
		/* The longest waiting first: when the batch is smaller than
		 * the functions, they take one row each. */
		for (n = 0; fc->next < fc->ncand && fc->plan > 0 &&
		    n < FAIRCLAIM_PARTS; fc->next++) {
			const struct fairclaim_cand *c = &fc->cand[fc->next];
			const struct fairclaim_lane *l = &fc->lane[c->lane];
			unsigned lim;

			if (!cand_open(c))
				continue;
			lim = fc->share < fc->plan ? fc->share : fc->plan;
			if ((long)lim > c->room)
				lim = (unsigned)c->room;
			fc->plan -= lim;
			parts[n++] = (struct fairclaim_part){
			    .funcname = l->funcname, .priority = l->priority,
			    .after_run = l->after_run, .after_id = l->after_id,
			    .limit = lim, .cand = fc->next };
		}
		if (fc->next >= fc->ncand || fc->plan == 0) {
			fc->in_pass = 0;
			fc->pass++;
		}
		if (n > 0)
			return n;
	}
}

void
fairclaim_took(struct fairclaim *fc, const struct fairclaim_part *parts,
    size_t n, const struct gv_job *rows, size_t nrows)
{
	long got[FAIRCLAIM_PARTS] = { 0 };
	size_t i, k;

	/* A UNION ALL promises no order: each row is its lane's. */
	for (i = 0; i < nrows; i++) {
		const struct gv_job *h = &rows[i];

		for (k = 0; k < n; k++) {
			struct fairclaim_lane *l =
			    &fc->lane[fc->cand[parts[k].cand].lane];

			if (l->priority != h->priority ||
			    strcmp(l->funcname, h->funcname) != 0)
				continue;
			got[k]++;
			if (h->run_after > l->after_run || (h->run_after ==
			    l->after_run && h->jobid > l->after_id)) {
				l->after_run = h->run_after;
				l->after_id = h->jobid;
			}
			break;
		}
	}
	for (k = 0; k < n; k++) {
		struct fairclaim_cand *c = &fc->cand[parts[k].cand];

		c->room -= got[k];
		if (got[k] < (long)parts[k].limit)
			c->lane++;
	}
	fc->left -= (unsigned)nrows;
}

void
fairclaim_free(struct fairclaim *fc)
{
	free(fc->cand);
	free(fc->lane);
	memset(fc, 0, sizeof(*fc));
}
