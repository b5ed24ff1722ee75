/*
 * queue_runner: claims due rows from every database in short transactions,
 * hides them for lease_seconds, and submits them to gearmand as background
 * jobs in pipelined batches.
 *
 * Why nothing is lost: a row leaves the due set only by a committed lease,
 * and a lease ends by itself. Whatever happens after the commit (gearmand
 * down, the submit lost, this process killed, the worker killed), the row is
 * due again when its lease ends and another round dispatches it. The worker's
 * completion deletes the row, fenced by the attempt the claim wrote, so a
 * late completion of an old attempt cannot delete a newer one.
 *
 * Why nothing runs twice in the normal case: the claim and the lease are one
 * transaction with SELECT ... FOR UPDATE SKIP LOCKED, so two QueueRunners
 * (on any hosts) never both take a row within its lease; only a job that
 * outlives its lease (or whose worker dies) is dispatched again.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <mysqld_error.h>

#include "client.h"
#include "dbreach.h"
#include "dbset.h"
#include "fairclaim.h"
#include "gm.h"
#include "jobjson.h"
#include "log.h"
#include "outcome.h"
#include "queue_runner.h"
#include "role.h"
#include "scheduler.h"
#include "util.h"

#define BATCH_MIN 50           /* the first claim, and the floor */
#define LEASE_CHUNK 10000      /* ids per UPDATE: under 65535 placeholders */
#define PUSH_BACK_SECONDS 2    /* over the watermark: due again this soon */
#define RELEASE_SECONDS 5      /* not accepted by gearmand: retry this soon */
/* A database whose job table does not match this version is tried again
 * after 1 s, doubling to 60 s, and said so in the log when it breaks and
 * then every BROKEN_LOG_EVERY seconds while it stays broken. */
#define BROKEN_BACKOFF_MIN 1.0
#define BROKEN_BACKOFF_MAX 60.0
#define BROKEN_LOG_EVERY 60.0
#define BYTES_CAP_SPARE 8      /* rows selected past twice what fit */
#define SWEEP_EVERY 60.0       /* seconds between two sweeps of job_error */
/* Records of ended jobs past their time (job_outcome) are pruned in
 * batches of PRUNE_BATCH, for at most PRUNE_BUDGET seconds a round, every
 * PRUNE_EVERY seconds, or at once while batches come back full. */
#define PRUNE_BATCH 1000
#define PRUNE_BUDGET 0.1
#define PRUNE_EVERY 5.0
/* Fair claims (fairclaim.h). A claim serves at most FUNCS_PER_CLAIM
 * functions, the ones whose oldest due job waits longest. The scan that
 * finds the functions with due rows takes at most 1/SCAN_SHARE of a
 * QueueRunner's time on each database: it runs again only that many times
 * its own duration later. */
#define FUNCS_PER_CLAIM 200
#define SCAN_SHARE 10

struct runner {
	struct role_ctx *ctx;
	const struct config *cfg;
	gv_client *gv;
	/* Which databases answer: one that does not is passed over, rather
	 * than costing each round a connect timeout (a stopped server). */
	struct dbreach *reach;
	struct dbset *dbs;
	struct gm_pool *gm;
	struct scheduler *sched;   /* [schedule.NAME]: their jobs, each slot
	                              once (scheduler.c) */
	/* Per database (dbset order): the schema trouble of each. One broken
	 * database must not stop the others, so it is backed off alone. */
	struct schema_trouble {
		int broken;        /* its last claim failed on the schema */
		struct backoff backoff;
		double logged_at;  /* time_mono() of the last warning */
	} *trouble;
	unsigned batch;            /* rows to claim per database this round */
	/* While claims stop at batch_max_bytes, the rows to select: twice
	 * what fit last time, and some. A backlog of large rows then costs
	 * the database a few budgets' worth of reading per claim, not a
	 * whole batch's. 0: no cap. */
	unsigned bytes_cap;
	size_t next_db;            /* rotates the first database of a round */
	struct gv_job *jobs;       /* the claim in hand */
	size_t njobs;
	struct buf docs;           /* their encoded documents */
	size_t *doc_off;
	struct gm_task *tasks;
	size_t *task_job;          /* task index -> job index */
	size_t cap;
	/* Watermark: waiting jobs per function, summed over the servers, plus
	 * what this round planned to add. */
	struct gm_depths *depths;  /* one per server */
	struct plan {
		char *funcname;    /* a copy: the claim's rows come and go */
		long waiting;
	} *plan;
	size_t nplan;
	/* Per database (dbset order): its functions with due rows, oldest
	 * due first, as the last scan found them. */
	struct due_funcs {
		struct gv_job *lanes; /* funcname, priority; run_after: its
		                         oldest due row. By function, then
		                         the highest priority first */
		size_t nlanes;
		struct fairclaim_func *funcs; /* oldest due first */
		size_t nfuncs;
		double scan_at;       /* time_mono() of the next scan */
		int index_checked;    /* its func_due index looked for */
		double sweep_at;      /* time_mono() of the next sweep */
		uint64_t sweep_from;  /* the errorid it starts from */
		double prune_at;      /* time_mono() of the next pruning */
	} *due;
	/* The claim in hand selects from these functions, and from each
	 * function's lanes (its due rows of one priority) highest first. */
	struct fairclaim fair;
	char err[1024];
};

/* The function a row is submitted to. */
static const char *
target(const struct gv_job *job)
{
	return gm_job_target(job->flag, job->funcname);
}

static int
grow(struct runner *r, size_t n)
{
	void *a, *b, *c, *d;

	if (n <= r->cap)
		return 0;
	a = realloc(r->doc_off, n * sizeof(*r->doc_off));
	if (a)
		r->doc_off = a;
	b = realloc(r->tasks, n * sizeof(*r->tasks));
	if (b)
		r->tasks = b;
	c = realloc(r->task_job, n * sizeof(*r->task_job));
	if (c)
		r->task_job = c;
	d = realloc(r->plan, n * sizeof(*r->plan));
	if (d)
		r->plan = d;
	if (!a || !b || !c || !d)
		return -1;
	r->cap = n;
	return 0;
}

static void
plan_clear(struct runner *r)
{
	size_t i;

	for (i = 0; i < r->nplan; i++)
		free(r->plan[i].funcname);
	r->nplan = 0;
}

static void
depths_refresh(struct runner *r)
{
	/* A server that is unreadable, or backing off, counts as empty: its
	 * jobs go elsewhere anyway while it is. */
	if (gm_pool_depths(r->gm, r->depths, r->err, sizeof(r->err)) == -1)
		log_debug("queue depth: %s", r->err);
	plan_clear(r);
}

/* The waiting count of funcname: what gearmand said plus what this round
 * already planned. Linear, but a round holds few distinct functions (at
 * most FUNCS_PER_CLAIM per claim). NULL when memory ran out. The caller
 * made room for one more entry (grow). */
static struct plan *
plan_get(struct runner *r, const char *funcname)
{
	struct plan *p;
	size_t i;

	for (i = 0; i < r->nplan; i++)
		if (strcmp(r->plan[i].funcname, funcname) == 0)
			return &r->plan[i];
	p = &r->plan[r->nplan];
	if ((p->funcname = strdup(funcname)) == NULL)
		return NULL;
	r->nplan++;
	p->waiting = 0;
	for (i = 0; i < gm_pool_count(r->gm); i++)
		p->waiting += gm_depths_get(&r->depths[i], funcname);
	return p;
}

/* A row as a fenced statement names it. */
struct fence {
	uint64_t jobid;
	uint32_t attempt;
};

/* Run statement id (a leading value, then jobids, or (jobid, attempt) pairs
 * when with_attempt) over rows[0..n) in chunks. */
static int
update_rows(struct runner *r, struct db *db, enum sql_id id, uint64_t lead,
    const struct fence *rows, size_t n, int with_attempt)
{
	size_t per = with_attempt ? 2 : 1, done, k, m, np;
	struct dbval *p;

	if (n == 0)
		return 0;
	if ((p = calloc((n < LEASE_CHUNK ? n : LEASE_CHUNK) * per + 1,
	    sizeof(*p))) == NULL)
		return errf(r->err, sizeof(r->err), "out of memory");
	for (done = 0; done < n; done += m) {
		m = n - done < LEASE_CHUNK ? n - done : LEASE_CHUNK;
		np = 0;
		p[np++] = DBV_U(lead);
		for (k = 0; k < m; k++) {
			p[np++] = DBV_U(rows[done + k].jobid);
			if (with_attempt)
				p[np++] = DBV_U(rows[done + k].attempt);
		}
		if (db_exec(db, id, (unsigned)m, p, np, NULL, NULL,
		    r->err, sizeof(r->err)) == -1) {
			free(p);
			return -1;
		}
	}
	free(p);
	return 0;
}

/* Lease rows[0..n), secs[k] seconds for rows[k] (its function's
 * lease_seconds): one UPDATE per distinct lease, each gathered in front of
 * the rows not leased yet (both arrays are reordered). */
static int
lease_rows(struct runner *r, struct db *db, struct fence *rows,
    unsigned *secs, size_t n)
{
	size_t done, i, m;
	struct fence f;
	unsigned s;

	for (done = 0; done < n; done = m) {
		for (i = m = done + 1; i < n; i++) {
			if (secs[i] != secs[done])
				continue;
			f = rows[m], rows[m] = rows[i], rows[i] = f;
			s = secs[m], secs[m] = secs[i], secs[i] = s;
			m++;
		}
		if (update_rows(r, db, SQL_LEASE, secs[done], rows + done,
		    m - done, 0) == -1)
			return -1;
	}
	return 0;
}

/* Park rows that can never be dispatched, visibly: an empty funcname, or
 * one Garivini serves itself (a job for run_queued_job would make the
 * Controllers call themselves; rows any client inserted are checked here,
 * as libgarivini and inject_jobs check theirs). */
static void
park(struct runner *r, struct db *db, const struct gv_job *job)
{
	struct dbval p[2] = { DBV_U(GV_NEVER), DBV_U(job->jobid) };

	if (job->funcname[0] == '\0')
		log_warnx("job %llu of database %u has an empty funcname: "
		    "parked", (unsigned long long)job->jobid, db_id(db));
	else
		log_warnx("job %llu of database %u is for %s, a function "
		    "Garivini serves itself: parked",
		    (unsigned long long)job->jobid, db_id(db), job->funcname);
	if (db_exec(db, SQL_RESCHEDULE_AT_ANY, 1, p, 2, NULL, NULL, r->err,
	    sizeof(r->err)) == -1)
		log_warnx("%s", r->err);
}

/* The arg's length that a row of SQL_SELECT_DUE carries in its arg. */
static uint64_t
head_bytes(const struct gv_job *head)
{
	return strtoull((const char *)head->arg, NULL, 10);
}

/* Append the whole rows of ids[0..n) to r->jobs, in chunks. */
static int
fetch_jobs(struct runner *r, struct db *db, const struct fence *rows_in,
    size_t n)
{
	struct dbval *p;
	size_t done, k, rows;

	if ((p = calloc(n < LEASE_CHUNK ? n : LEASE_CHUNK, sizeof(*p))) ==
	    NULL)
		return errf(r->err, sizeof(r->err), "out of memory");
	for (done = 0; done < n; done += rows) {
		rows = n - done < LEASE_CHUNK ? n - done : LEASE_CHUNK;
		for (k = 0; k < rows; k++)
			p[k] = DBV_U(rows_in[done + k].jobid);
		if (db_select_jobs(db, SQL_SELECT_JOBS, p, rows, &r->jobs,
		    &r->njobs, r->err, sizeof(r->err)) == -1) {
			free(p);
			return -1;
		}
	}
	free(p);
	return 0;
}

/* Say once when db's job table lacks this version's func_due index (a
 * table made by an earlier version): claims work without it, scanning the
 * whole table. */
static void
index_check(struct runner *r, struct db *db, struct due_funcs *d)
{
	uint64_t n = 0;
	int found = 0;

	if (db_select_u64(db, SQL_FUNC_DUE_INDEX, NULL, 0, &n, &found, r->err,
	    sizeof(r->err)) == -1) {
		log_debug("%s", r->err);
		return;
	}
	d->index_checked = 1;
	if (found && n == 0)
		log_warnx("database %u: the job table has no func_due index "
		    "on (funcname, priority, run_after), so every claim "
		    "scans the whole table: ALTER TABLE job DROP INDEX IF "
		    "EXISTS func_due, ADD INDEX func_due (funcname, priority, "
		    "run_after)", db_id(db));
}

/* Now and then, the failures (job_error) of rows that are gone: those a
 * completion could not delete with its row, or rows another client
 * deleted. Each step reads a bounded range of errorids. */
static void
sweep_errors(struct runner *r)
{
	double now = time_mono();
	uint64_t swept;
	size_t i;

	for (i = 0; i < dbset_count(r->dbs); i++) {
		struct due_funcs *d = &r->due[i];
		struct db *db = dbset_at(r->dbs, i);

		if (now < d->sweep_at || !db_healthy(db, now))
			continue;
		d->sweep_at = now + SWEEP_EVERY;
		if (client_sweep_errors(r->gv, db, &d->sweep_from, &swept) ==
		    -1)
			log_debug("sweeping failures: %s", gv_errmsg(r->gv));
		else if (swept)
			log_info("database %u: deleted %llu failures of jobs "
			    "that are gone", db_id(db),
			    (unsigned long long)swept);
	}
}

/*
 * The records of ended jobs past their keep_until. A batch is one short
 * DELETE in keep_until order from the oldest, far from the records being
 * written (kept from now on), and it locks no job row, so no claim waits
 * on it. Between two full rounds (work waits) a QueueRunner prunes one
 * batch; between quieter ones, for at most PRUNE_BUDGET, and again at the
 * next round while there is more: at the default batch_run_sleep an idle
 * QueueRunner prunes about 10,000 records a second.
 */
static void
prune_outcomes(struct runner *r, int busy)
{
	double now = time_mono(), until = busy ? now : now + PRUNE_BUDGET;
	uint64_t pruned, total;
	size_t i;

	for (i = 0; i < dbset_count(r->dbs); i++) {
		struct due_funcs *d = &r->due[i];
		struct db *db = dbset_at(r->dbs, i);

		if (now < d->prune_at || !db_healthy(db, now))
			continue;
		d->prune_at = now + PRUNE_EVERY;
		total = 0;
		do {
			if (outcome_prune(db, PRUNE_BATCH, &pruned, r->err,
			    sizeof(r->err)) == -1) {
				log_debug("database %u: pruning records: %s",
				    db_id(db), r->err);
				break;
			}
			total += pruned;
		} while (pruned == PRUNE_BATCH && time_mono() < until);
		if (pruned == PRUNE_BATCH)
			d->prune_at = now;
		if (total)
			log_debug("database %u: pruned %llu records of ended "
			    "jobs", db_id(db), (unsigned long long)total);
	}
}

/* The functions of database i with due rows, and their priorities: scanned
 * again once the last scan is old enough (SCAN_SHARE). Until then a lane
 * drained since costs one empty select per claim, and one that became due
 * waits for the next scan. */
static int
due_refresh(struct runner *r, struct db *db, size_t i)
{
	struct due_funcs *d = &r->due[i];
	struct gv_job *lanes = NULL;
	size_t n = 0;
	double t0 = time_mono();
	int rc;

	if (t0 < d->scan_at)
		return 0;
	if (!d->index_checked)
		index_check(r, db, d);
	if (db_select_jobs(db, SQL_DUE_FUNCS, NULL, 0, &lanes, &n, r->err,
	    sizeof(r->err)) == -1)
		return -1;
	rc = fairclaim_group(lanes, n, &d->funcs, &d->nfuncs);
	db_jobs_free(d->lanes, d->nlanes);
	d->lanes = lanes;
	d->nlanes = n;
	if (rc == -1) {
		db_jobs_free(d->lanes, d->nlanes);
		d->lanes = NULL;
		d->nlanes = 0;
		return errf(r->err, sizeof(r->err), "out of memory");
	}
	d->scan_at = t0 + SCAN_SHARE * (time_mono() - t0);
	return 0;
}

/* Choose the claim's functions among database i's due ones: those with room
 * under their watermark, oldest due first, at most FUNCS_PER_CLAIM, each
 * with its lanes. A function at its watermark costs nothing: no select, no
 * row rewritten. Rows that can never be dispatched (see park) are taken
 * whatever the watermark, to be parked. Returns the number chosen, or -1. */
static long
candidates(struct runner *r, size_t i, unsigned rows)
{
	const struct due_funcs *d = &r->due[i];
	size_t k, n = 0;
	size_t max = d->nfuncs < FUNCS_PER_CLAIM ? d->nfuncs : FUNCS_PER_CLAIM;
	int watermark;
	struct plan *p;
	long room;

	/* plan_get may add an entry per function and, later, per head. */
	if (fairclaim_begin(&r->fair, rows, max, d->nlanes) == -1 ||
	    grow(r, r->nplan + max + rows) == -1)
		return errf(r->err, sizeof(r->err), "out of memory");
	for (k = 0; k < d->nfuncs && n < max; k++) {
		const struct fairclaim_func *df = &d->funcs[k];
		const char *f = df->funcname;

		room = LONG_MAX;
		/* Paused ([function.NAME]): its rows are not even read. Rows
		 * that can never be dispatched are parked whatever the
		 * policy. */
		if (f[0] != '\0' && !gv_funcname_reserved(f)) {
			if (config_paused(r->cfg, f))
				continue;
			if ((watermark = config_watermark(r->cfg, f)) > 0) {
				if ((p = plan_get(r, f)) == NULL)
					return errf(r->err, sizeof(r->err),
					    "out of memory");
				if (p->waiting >= watermark)
					continue;
				room = watermark - p->waiting;
			}
		}
		fairclaim_add(&r->fair, f, &d->lanes[df->lane], df->nlanes,
		    room);
		n++;
	}
	return (long)n;
}

/* A select has 1, 2, 4 ... FAIRCLAIM_PARTS parts (padded with parts that
 * ask for no row), so that few statement shapes are prepared. */
#define LANE_PARAMS 6           /* per part of SQL_SELECT_DUE_FUNCS */

/* One select of the due rows parts[0..n) ask for, locked, appending their
 * heads and telling r->fair what they were. Returns the rows selected, or
 * -1. */
static long
select_some(struct runner *r, struct db *db,
    const struct fairclaim_part *parts, size_t n, struct gv_job **heads,
    size_t *nheads)
{
	struct dbval p[FAIRCLAIM_PARTS * LANE_PARAMS], *q;
	size_t nparts = 1, k, first = *nheads;

	while (nparts < n)
		nparts *= 2;
	for (k = 0; k < nparts; k++) {
		const struct fairclaim_part *part = &parts[k < n ? k : 0];

		q = &p[k * LANE_PARAMS];
		q[0] = DBV_S(part->funcname);
		q[1] = DBV_I(part->priority);
		q[2] = DBV_U(part->after_run);
		q[3] = DBV_U(part->after_run);
		q[4] = DBV_U(part->after_id);
		q[5] = DBV_U(k < n ? part->limit : 0);
	}
	if (db_select_jobs(db, SQL_SELECT_DUE_FUNCS, p, nparts * LANE_PARAMS,
	    heads, nheads, r->err, sizeof(r->err)) == -1)
		return -1;
	fairclaim_took(&r->fair, parts, n, *heads + first, *nheads - first);
	return (long)(*nheads - first);
}

/*
 * Inside the claim's transaction: select up to rows due rows of database i,
 * shared fairly among its functions (fairclaim.h), locked, heads only (see
 * SQL_SELECT_DUE_FUNCS), in the claim's order (fairclaim_order).
 */
static int
select_heads(struct runner *r, struct db *db, size_t i, unsigned rows,
    struct gv_job **heads, size_t *nheads)
{
	struct fairclaim_part parts[FAIRCLAIM_PARTS];
	long ncand;
	size_t n;

	if ((ncand = candidates(r, i, rows)) <= 0)
		return (int)ncand;
	while ((n = fairclaim_next(&r->fair, parts)) > 0)
		if (select_some(r, db, parts, n, heads, nheads) == -1)
			return -1;
	fairclaim_order(*heads, *nheads);
	return 0;
}

/* The rows a claim chose among its heads: to lease, each for its
 * function's lease_seconds, and to push back, over the watermark. */
struct choice {
	struct fence *lease;
	unsigned *secs;
	struct fence *back;
	size_t nlease, nback;
	uint64_t bytes;          /* the leased rows' args */
	int cut;                 /* batch_max_bytes left rows out */
};

/* Room in ch for a choice among n heads. */
static int
choice_alloc(struct runner *r, struct choice *ch, size_t n)
{
	if ((ch->lease = malloc(n * sizeof(*ch->lease))) == NULL ||
	    (ch->secs = malloc(n * sizeof(*ch->secs))) == NULL ||
	    (ch->back = malloc(n * sizeof(*ch->back))) == NULL)
		return errf(r->err, sizeof(r->err), "out of memory");
	return 0;
}

static void
choice_free(struct choice *ch)
{
	free(ch->lease);
	free(ch->secs);
	free(ch->back);
}

/* Forget the claim in hand. */
static void
jobs_clear(struct runner *r)
{
	db_jobs_free(r->jobs, r->njobs);
	r->jobs = NULL;
	r->njobs = 0;
}

/* Choose among heads[0..nheads) (in due order) what to lease and what to
 * push back; rows that can never be dispatched are parked on the way. The
 * budget stops at the first row that does not fit, so a large row is next
 * in line rather than overtaken by small ones round after round. */
static void
choose(struct runner *r, struct db *db, const struct gv_job *heads,
    size_t nheads, struct choice *ch)
{
	uint64_t budget = (uint64_t)r->cfg->queue_runner.batch_max_bytes;
	uint64_t size;
	struct plan *p;
	int watermark;
	size_t i;

	for (i = 0; i < nheads; i++) {
		const struct gv_job *head = &heads[i];

		if (head->funcname[0] == '\0' ||
		    gv_funcname_reserved(head->funcname)) {
			park(r, db, head);
			continue;
		}
		p = NULL;
		if ((watermark = config_watermark(r->cfg, target(head))) > 0) {
			p = plan_get(r, target(head));
			if (p == NULL || p->waiting >= watermark) {
				ch->back[ch->nback++] = (struct fence){
				    head->jobid, head->attempt };
				continue;
			}
		}
		size = head_bytes(head);
		if (ch->nlease > 0 && ch->bytes + size > budget) {
			ch->cut = 1;
			break;
		}
		/* Alone in its batch, since it is first: the next row finds
		 * the budget spent. */
		if (size > budget)
			log_warnx("job %llu of database %u: its arg of %llu "
			    "bytes is over batch_max_bytes (%llu): sent alone",
			    (unsigned long long)head->jobid, db_id(db),
			    (unsigned long long)size,
			    (unsigned long long)budget);
		if (p)
			p->waiting++;
		ch->secs[ch->nlease] = (unsigned)config_lease_seconds(r->cfg,
		    head->funcname);
		ch->lease[ch->nlease++] = (struct fence){ head->jobid,
		    head->attempt };
		ch->bytes += size;
	}
}

/* Inside the claim's transaction: read the rows to lease whole, lease
 * them, push the others back. Both on rows this transaction holds locked
 * since its SELECT: the locks are the fence (the push-back matches the
 * attempt read all the same, see SQL_PUSH_BACK). */
static int
claim_write(struct runner *r, struct db *db, struct choice *ch)
{
	if ((ch->nlease && fetch_jobs(r, db, ch->lease, ch->nlease) == -1) ||
	    lease_rows(r, db, ch->lease, ch->secs, ch->nlease) == -1 ||
	    update_rows(r, db, SQL_PUSH_BACK, PUSH_BACK_SECONDS, ch->back,
	    ch->nback, 1) == -1)
		return -1;
	return 0;
}

/* The claim committed: r->jobs take the attempt the lease wrote, and the
 * next claim its size. Returns what claim does. */
static long
claimed(struct runner *r, struct db *db, const struct choice *ch,
    size_t nheads)
{
	size_t i;

	for (i = 0; i < r->njobs; i++)
		r->jobs[i].attempt = r->jobs[i].attempt >= 4294967295u ? 1 :
		    r->jobs[i].attempt + 1;
	if (ch->nback)
		log_debug("database %u: %zu jobs over the watermark pushed back",
		    db_id(db), ch->nback);
	if (ch->cut) {
		r->bytes_cap = 2 * (unsigned)ch->nlease + BYTES_CAP_SPARE;
		log_debug("database %u: %zu jobs (%llu bytes of args) within "
		    "batch_max_bytes, the rest wait", db_id(db), ch->nlease,
		    (unsigned long long)ch->bytes);
		return (long)r->batch;
	}
	r->bytes_cap = 0;
	return (long)nheads;
}

/*
 * One claim on db: select due rows (locked, skipping rows other claimers
 * hold) without their args, choose the ones to dispatch within
 * batch_max_bytes of args, read only those whole, lease them, push back the
 * ones over the watermark, commit. The rows after the budget ran out stay
 * as they were, due, and their locks go with the commit: a batch of large
 * rows can neither exhaust memory nor, after a crash, come back whole to do
 * it again. On return r->jobs[0..njobs) are the leased rows, to be
 * submitted only now that the lease is committed. Returns the number of
 * rows selected (0 when all of them were over the watermark; the batch size
 * when the budget cut the claim short, since rows are waiting), or -1.
 */
static long
claim(struct runner *r, struct db *db, size_t dbi)
{
	unsigned rows = r->bytes_cap && r->bytes_cap < r->batch ?
	    r->bytes_cap : r->batch;
	struct choice ch = { 0 };
	struct gv_job *heads = NULL;
	size_t nheads = 0;
	long ret = -1;

	jobs_clear(r);
	if (due_refresh(r, db, dbi) == -1)
		return -1;
	if (r->due[dbi].nfuncs == 0) {
		r->bytes_cap = 0;
		return 0;
	}
	if (db_begin(db, r->err, sizeof(r->err)) == -1)
		return -1;
	if (select_heads(r, db, dbi, rows, &heads, &nheads) == -1)
		goto fail;
	if (nheads == 0) {
		db_rollback(db);
		r->bytes_cap = 0;
		free(heads);
		return 0;
	}
	if (choice_alloc(r, &ch, nheads) == -1)
		goto fail;
	choose(r, db, heads, nheads, &ch);
	/* Every row is over the watermark (rows for run_queued_job, whose
	 * room select_heads cannot know per function): write nothing and let
	 * the round count as empty, so the QueueRunner sleeps. Pushing a
	 * saturated backlog back would rewrite a batch of rows each round
	 * for nothing (measured: a million-row backlog drained 35%
	 * slower). */
	if (ch.nback == nheads) {
		ret = 0;
		goto fail;
	}
	if (claim_write(r, db, &ch) == -1)
		goto fail;
	if (db_commit(db, r->err, sizeof(r->err)) == -1) {
		/* The outcome is unknown: dispatch nothing. Leased or not,
		 * every row is due again by the end of its lease. */
		goto fail_committed;
	}
	ret = claimed(r, db, &ch, nheads);
	choice_free(&ch);
	db_jobs_free(heads, nheads);
	return ret;
fail:
	db_rollback(db);
fail_committed:
	choice_free(&ch);
	db_jobs_free(heads, nheads);
	jobs_clear(r);
	return ret;
}

/* Count a job gearmand accepted for its function. Its latency runs from
 * the moment it was due, its run_after as claimed (whole seconds, by the
 * database's clock: a job due at 12.7 s reads as due at 12 s), to now. */
static void
dispatched(struct runner *r, const struct gv_job *job, double now)
{
	struct fs_entry *e = funcstats_find(r->ctx->fs, job->funcname);

	funcstats_add(e, METRICS_DISPATCHED, 1);
	funcstats_latency(e, now - (double)job->run_after);
}

/*
 * Submit r->jobs to gearmand, grouped by server, each group one pipelined
 * batch. Jobs gearmand is known not to have queued are released to be due
 * again soon rather than at the end of their lease; jobs whose fate is
 * unknown (no answer in time) are left to their lease.
 */
static size_t
dispatch(struct runner *r, struct db *db)
{
	size_t nserv = gm_pool_count(r->gm), s, i, n, ok = 0, nrel = 0;
	size_t nunsure;
	double now;
	char (*uniq)[GV_GEARMAN_UNIQKEY_MAX + 1] = NULL;
	const char **unique = NULL;
	size_t *server = NULL;
	struct fence *release = NULL;

	if (r->njobs == 0)
		return 0;
	if (grow(r, r->njobs) == -1 ||
	    (uniq = malloc(r->njobs * sizeof(*uniq))) == NULL ||
	    (unique = malloc(r->njobs * sizeof(*unique))) == NULL ||
	    (server = malloc(r->njobs * sizeof(*server))) == NULL ||
	    (release = malloc(r->njobs * sizeof(*release))) == NULL) {
		log_warnx("dispatch: out of memory; %zu jobs wait for their "
		    "lease to end", r->njobs);
		goto out;
	}
	buf_reset(&r->docs);
	for (i = 0; i < r->njobs; i++) {
		r->doc_off[i] = r->docs.len;
		if (jobjson_encode(&r->jobs[i], &r->docs) == -1) {
			log_warnx("dispatch: out of memory");
			goto out;
		}
		unique[i] = gm_job_unique(r->jobs[i].flag, r->jobs[i].funcname,
		    r->jobs[i].uniqkey, uniq[i]);
		server[i] = gm_pool_choose_job(r->gm, r->jobs[i].jobid,
		    r->jobs[i].dbid, unique[i]);
	}
	for (s = 0; s < nserv; s++) {
		for (i = 0, n = 0; i < r->njobs; i++) {
			if (server[i] != s)
				continue;
			r->tasks[n] = (struct gm_task){
			    .funcname = target(&r->jobs[i]),
			    .unique = unique[i],
			    .workload = r->docs.data + r->doc_off[i],
			    .len = (i + 1 < r->njobs ? r->doc_off[i + 1] :
			    r->docs.len) - r->doc_off[i],
			    .priority = r->jobs[i].priority };
			r->task_job[n++] = i;
		}
		if (n == 0)
			continue;
		if (gm_submit_background(r->gm, s, r->tasks, n, r->err,
		    sizeof(r->err)) == -1) {
			log_warnx("gearmand %s:%u: %s",
			    gm_pool_server(r->gm, s)->host,
			    gm_pool_server(r->gm, s)->port, r->err);
			scoreboard_count(r->ctx->sb, SB_GEARMAN_ERRORS, 1);
		}
		now = time_real();
		for (i = 0, nunsure = 0; i < n; i++) {
			if (r->tasks[i].ok) {
				ok++;
				dispatched(r, &r->jobs[r->task_job[i]], now);
			} else if (r->tasks[i].unsure)
				nunsure++;
			else
				release[nrel++] = (struct fence){
				    r->jobs[r->task_job[i]].jobid,
				    r->jobs[r->task_job[i]].attempt };
		}
		/* Sent, but gearmand did not answer in time: it may queue
		 * them when it wakes. Released or sent again they could run
		 * twice; kept out under their lease they run once if it
		 * queues them, and come back when the lease ends if not. */
		if (nunsure)
			log_warnx("gearmand %s:%u did not answer in time: %zu "
			    "jobs may be queued there; they are left to their "
			    "lease (%d s)", gm_pool_server(r->gm, s)->host,
			    gm_pool_server(r->gm, s)->port, nunsure,
			    r->cfg->queue_runner.lease_seconds);
	}
	/* Released rows are due again in a few seconds; if this fails they
	 * are due when their lease ends. Fenced by the attempt this claim
	 * wrote and leased = 1: a worker's decision about a job gearmand
	 * queued after all is never overwritten. */
	if (nrel && update_rows(r, db, SQL_RELEASE, RELEASE_SECONDS, release,
	    nrel, 1) == -1)
		log_warnx("releasing %zu jobs: %s", nrel, r->err);
out:
	free(uniq);
	free(unique);
	free(server);
	free(release);
	scoreboard_count(r->ctx->sb, SB_JOBS_DISPATCHED, ok);
	return ok;
}

/* Start small, grow while claims come back full, shrink when they do not:
 * a lightly loaded system keeps batches small, so several QueueRunners share
 * the work and latency stays low. */
static void
adapt(struct runner *r, int full)
{
	unsigned max = (unsigned)r->cfg->queue_runner.batch_max_size;
	unsigned floor = max < BATCH_MIN ? max : BATCH_MIN;
	unsigned step_up = max / 10 ? max / 10 : 1;
	unsigned step_down = max / 20 ? max / 20 : 1;

	if (full)
		r->batch = r->batch + step_up > max ? max : r->batch + step_up;
	else
		r->batch = r->batch < floor + step_down ? floor :
		    r->batch - step_down;
}

/* A schema this version cannot work with: a configuration error of that
 * database. */
static int
schema_error(struct db *db)
{
	unsigned e = db_errno(db);

	return e == ER_NO_SUCH_TABLE || e == ER_BAD_FIELD_ERROR;
}

/* Tell the master which databases are broken (status file, gvctl). */
static void
trouble_report(struct runner *r)
{
	unsigned ids[SB_BROKEN_DBS];
	size_t i, n = 0;

	for (i = 0; i < dbset_count(r->dbs) && n < SB_BROKEN_DBS; i++)
		if (r->trouble[i].broken)
			ids[n++] = db_id(dbset_at(r->dbs, i));
	scoreboard_broken_dbs(r->ctx->sb, ids, n);
}

/* The claim on database i failed on its schema: back it off alone. */
static void
schema_broken(struct runner *r, size_t i)
{
	struct schema_trouble *t = &r->trouble[i];
	struct db *db = dbset_at(r->dbs, i);
	double now = time_mono();
	int first = !t->broken;

	backoff_fail(&t->backoff, now, BROKEN_BACKOFF_MIN, BROKEN_BACKOFF_MAX);
	t->broken = 1;
	if (first || now - t->logged_at >= BROKEN_LOG_EVERY) {
		log_warnx("%s: the job table of database %u does not match "
		    "this version (apply schema.sql); its jobs wait, the "
		    "other databases go on; trying it again in %.0f s, up to "
		    "every %.0f s", r->err, db_id(db), t->backoff.pause,
		    BROKEN_BACKOFF_MAX);
		t->logged_at = now;
	} else
		log_debug("%s", r->err);
	if (first)
		trouble_report(r);
}

static void
schema_repaired(struct runner *r, size_t i)
{
	log_notice("database %u: the job table works again; its jobs are "
	    "dispatched", db_id(dbset_at(r->dbs, i)));
	memset(&r->trouble[i], 0, sizeof(r->trouble[i]));
	trouble_report(r);
}

/* 1 when every database is broken: the configuration is wrong for all of
 * them, and only then is it the master's business (EX_CONFIG). */
static int
all_broken(const struct runner *r)
{
	size_t i;

	for (i = 0; i < dbset_count(r->dbs); i++)
		if (!r->trouble[i].broken)
			return 0;
	return 1;
}

/* One round over every database. Returns 1 if any claim came back full,
 * 0 if not, -1 when every database has a schema this version cannot use. */
static int
round_once(struct runner *r)
{
	size_t n = dbset_count(r->dbs), k, i;
	double now = time_mono();
	int full = 0;
	long got;

	if (config_any_watermark(r->cfg))
		depths_refresh(r);
	for (k = 0; k < n; k++) {
		struct db *db = dbset_at(r->dbs, i = (r->next_db + k) % n);

		if (!db_healthy(db, now) || !dbreach_up(r->reach, db_id(db)) ||
		    backoff_waiting(&r->trouble[i].backoff, now))
			continue;
		if ((got = claim(r, db, i)) == -1) {
			/* A conflict (a deadlock, or a Galera certification
			 * conflict with another writer) rolled the claim
			 * back: nothing was leased, the rows are claimed
			 * next round, and the database is fine. Counted
			 * (db_conflicts), not logged: two writers conflict
			 * on many rounds. */
			if (db_conflict(db)) {
				log_debug("claim: %s", r->err);
				continue;
			}
			scoreboard_count(r->ctx->sb, SB_DB_ERRORS, 1);
			if (schema_error(db)) {
				schema_broken(r, i);
				if (all_broken(r))
					return -1;
			} else
				log_warnx("claim: %s", r->err);
			continue;
		}
		if (r->trouble[i].broken)
			schema_repaired(r, i);
		if (got > 0)
			dispatch(r, db);
		if (got >= (long)r->batch)
			full = 1;
		scoreboard_heartbeat(r->ctx->sb);
	}
	r->next_db = (r->next_db + 1) % n;
	scoreboard_dbs(r->ctx->sb, r->dbs);
	db_jobs_free(r->jobs, r->njobs);
	r->jobs = NULL;
	r->njobs = 0;
	return full;
}

int
queue_runner_main(struct role_ctx *ctx)
{
	struct runner r;
	double started, left;
	int full, code = EX_OK;
	char err[1024];

	memset(&r, 0, sizeof(r));
	r.ctx = ctx;
	r.cfg = ctx->cfg;
	if ((r.gv = client_open_config(r.cfg, err, sizeof(err))) == NULL) {
		log_errx("%s", err);
		return EX_CONFIG;
	}
	r.dbs = client_dbset(r.gv);
	if ((r.gm = gm_pool_new(r.cfg->servers, r.cfg->nservers, err,
	    sizeof(err))) == NULL) {
		log_errx("%s", err);
		gv_close(r.gv);
		return EX_CONFIG;
	}
	if ((r.depths = calloc(r.cfg->nservers, sizeof(*r.depths))) == NULL ||
	    (r.trouble = calloc(dbset_count(r.dbs), sizeof(*r.trouble))) ==
	    NULL ||
	    (r.due = calloc(dbset_count(r.dbs), sizeof(*r.due))) == NULL ||
	    (r.sched = scheduler_new(r.cfg, r.dbs, err, sizeof(err))) ==
	    NULL) {
		log_errx("out of memory");
		code = EX_OSERR;
		goto out;
	}
	/* With one database, a round has nothing else to do meanwhile. */
	if (dbset_count(r.dbs) > 1 && (r.reach = dbreach_start(r.cfg, ctx->sb,
	    NULL, err, sizeof(err))) == NULL) {
		log_errx("%s", err);
		code = EX_OSERR;
		goto out;
	}
	r.batch = (unsigned)r.cfg->queue_runner.batch_max_size < BATCH_MIN ?
	    (unsigned)r.cfg->queue_runner.batch_max_size : BATCH_MIN;
	log_info("claiming from %zu databases for %zu gearmand servers, "
	    "lease %d s, batches up to %d", dbset_count(r.dbs),
	    r.cfg->nservers, r.cfg->queue_runner.lease_seconds,
	    r.cfg->queue_runner.batch_max_size);
	/* The batch in hand is the job in hand: TERM lets a round finish. */
	while (!*ctx->stop) {
		started = time_mono();
		scoreboard_state(ctx->sb, SB_BUSY);
		if ((full = round_once(&r)) == -1) {
			log_errx("the job table of every database does not "
			    "match this version; apply schema.sql");
			code = EX_CONFIG;
			break;
		}
		adapt(&r, full);
		sweep_errors(&r);
		prune_outcomes(&r, full);
		scheduler_tick(r.sched);
		scoreboard_state(ctx->sb, SB_IDLE);
		if (full)
			continue;
		/* The pause is batch_run_sleep minus the time the round took,
		 * so the rate does not depend on how slow the round was. */
		left = r.cfg->queue_runner.batch_run_sleep -
		    (time_mono() - started);
		while (left > 0 && !*ctx->stop) {
			time_sleep(left > 0.5 ? 0.5 : left, ctx->stop);
			/* Schedules are looked at about once a second,
			 * however long batch_run_sleep is. */
			scheduler_tick(r.sched);
			scoreboard_heartbeat(ctx->sb);
			left = r.cfg->queue_runner.batch_run_sleep -
			    (time_mono() - started);
		}
	}
out:
	dbreach_stop(r.reach);
	db_jobs_free(r.jobs, r.njobs);
	for (size_t i = 0; r.depths && i < r.cfg->nservers; i++)
		gm_depths_free(&r.depths[i]);
	free(r.depths);
	free(r.trouble);
	for (size_t i = 0; r.due && i < dbset_count(r.dbs); i++) {
		db_jobs_free(r.due[i].lanes, r.due[i].nlanes);
		free(r.due[i].funcs);
	}
	free(r.due);
	fairclaim_free(&r.fair);
	free(r.doc_off);
	free(r.tasks);
	free(r.task_job);
	plan_clear(&r);
	free(r.plan);
	buf_free(&r.docs);
	gm_pool_free(r.gm);
	scheduler_free(r.sched);
	gv_close(r.gv);
	return code;
}
