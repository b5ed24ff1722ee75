/*
 * scheduler: the recurring jobs of [schedule.NAME], inserted by the
 * QueueRunners, about once a second, into each schedule's database.
 *
 * Why each slot is inserted exactly once, whatever the number of
 * QueueRunners, masters and hosts:
 *
 *   A job for slot S is inserted only inside a transaction that holds the
 *   exclusive lock of the schedule's row in schedule_state, has read its
 *   last_slot below S (a locking read sees the latest committed value, not
 *   a snapshot), and commits the job row together with last_slot >= S. Two
 *   inserters lock the same row in the same database (all masters name the
 *   same dbid for a schedule), so their transactions are serialized: the
 *   second one finds the row locked and gives up its turn (NOWAIT), and at
 *   its next look reads the first one's committed last_slot and inserts
 *   nothing for S. On a Galera cluster, where the lock is local to a node,
 *   two such transactions both write the state row, so certification lets
 *   only one of them commit; the other fails as a deadlock and inserts
 *   nothing.
 *
 *   A crash, a lost connection or a kill between any two steps loses or
 *   doubles nothing: until COMMIT, neither the job nor the new last_slot is
 *   visible, and the rollback undoes both, so the slot is still due at the
 *   next look. A COMMIT whose answer was lost either stored both or
 *   neither; the next look reads last_slot and decides again.
 *
 *   The job's unique key, "schedule:NAME:SLOT", is a second fence: while a
 *   slot's job is in the table, no insert can store it again, even if the
 *   state row was dropped and made again. It cannot be the only one: a
 *   completed job's row is deleted, and with it what the key remembered.
 *
 * Time is the database's UNIX_TIMESTAMP(), as for every other time of a
 * job, so hosts whose clocks disagree still agree on which slot is due.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysqld_error.h>

#include "db.h"
#include "dbset.h"
#include "jobfield.h"
#include "log.h"
#include "schedule.h"
#include "scheduler.h"
#include "util.h"

#define CHECK_EVERY 1.0         /* seconds between two looks */
/* A database whose schedules failed is looked at again after 1 s, doubling
 * to 60 s, and said so in the log at most once a minute. */
#define TROUBLE_BACKOFF_MIN 1.0
#define TROUBLE_BACKOFF_MAX 60.0
#define TROUBLE_LOG_EVERY 60.0
/* A state row another session holds this long is said in the log (then at
 * most every TROUBLE_LOG_EVERY): its holder is stuck, not just busy. */
#define BUSY_WARN_AFTER 10.0
#define NEVER INT64_MAX

struct sched {
	const struct config_sched *cs;
	size_t dbi;             /* its database, as dbset_at counts */
	int64_t next_due;       /* database time of its next slot; 0: unknown */
	double busy_since;      /* time_mono() its state row was first found
	                           locked by another session; 0: free */
	double busy_logged;     /* time_mono() that was last logged */
};

/* Per database (dbset order). */
struct sched_db {
	int nscheds;            /* schedules whose jobs live there */
	double offset;          /* its clock minus ours, at the last look */
	int have_offset;
	struct backoff backoff; /* after a failure; reset when fine */
	double logged_at;       /* time_mono() of the last warning */
};

struct scheduler {
	struct dbset *dbs;
	struct sched *s;
	size_t n;
	struct sched_db *d;
	double check_at;        /* time_mono() of the next look */
	char err[1024];
};

struct scheduler *
scheduler_new(const struct config *cfg, struct dbset *dbs, char *err,
    size_t errlen)
{
	struct scheduler *sc;
	size_t i, j;

	if ((sc = calloc(1, sizeof(*sc))) == NULL ||
	    (cfg->nscheds && (sc->s = calloc(cfg->nscheds,
	    sizeof(*sc->s))) == NULL) ||
	    (sc->d = calloc(dbset_count(dbs), sizeof(*sc->d))) == NULL) {
		scheduler_free(sc);
		errf(err, errlen, "out of memory");
		return NULL;
	}
	sc->dbs = dbs;
	for (i = 0; i < cfg->nscheds; i++) {
		/* config_load checked that the database is configured. */
		for (j = 0; j < dbset_count(dbs); j++)
			if (db_id(dbset_at(dbs, j)) ==
			    (unsigned)cfg->scheds[i].dbid)
				break;
		if (j == dbset_count(dbs))
			continue;
		sc->s[sc->n++] = (struct sched){ .cs = &cfg->scheds[i],
		    .dbi = j };
		sc->d[j].nscheds++;
	}
	if (sc->n)
		log_info("%zu schedules: inserting their jobs", sc->n);
	return sc;
}

void
scheduler_free(struct scheduler *sc)
{
	if (sc == NULL)
		return;
	free(sc->s);
	free(sc->d);
	free(sc);
}

static const char *
slot_text(int64_t slot, char *out, size_t len)
{
	time_t t = (time_t)slot;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "%" PRId64, slot);
	return out;
}

/* Insert the job of slot: the job table's statement, a row of it. */
static int
insert_job(struct scheduler *sc, struct db *db, const struct config_sched *cs,
    int64_t slot, uint64_t *jobid, uint64_t *stored)
{
	char key[SCHEDULE_KEY_MAX];
	struct dbval p[JOBFIELD_INSERT_PARAMS];
	struct gv_new_job job = { .funcname = cs->function, .arg = cs->arg,
	    .arg_len = strlen(cs->arg), .uniqkey = key, .delay = 0,
	    .flag = cs->controller ? GV_FLAG_CONTROLLER : GV_FLAG_SHIM,
	    .priority = cs->priority };

	schedule_uniqkey(cs, slot, key, sizeof(key));
	jobfield_insert_params(p, &job, 0);        /* due now, not leased */
	return db_exec(db, SQL_INSERT, 1, p, JOBFIELD_INSERT_PARAMS, stored,
	    jobid, sc->err, sizeof(sc->err));
}

static void
report_step(const struct config_sched *cs, const struct schedule_step *st,
    uint64_t jobid, uint64_t stored, unsigned dbid)
{
	char a[32], b[32];

	if (st->missed_first >= 0)
		log_notice("schedule %s: slots from %s to %s were missed "
		    "(nothing ran then); missed = %s: %s", cs->name,
		    slot_text(st->missed_first, a, sizeof(a)),
		    slot_text(st->missed_last, b, sizeof(b)), cs->missed,
		    st->insert >= 0 ? "the latest runs" : "none runs");
	if (st->insert < 0)
		return;
	if (stored)
		log_info("schedule %s: job %" PRIu64 " of database %u for %s, "
		    "slot %s", cs->name, jobid, dbid, cs->function,
		    slot_text(st->insert, a, sizeof(a)));
	else
		log_notice("schedule %s: slot %s has a job in the table "
		    "already (unique key " SCHEDULE_KEY_PREFIX "%s:%" PRId64
		    "): not inserted again", cs->name,
		    slot_text(st->insert, a, sizeof(a)), cs->name, st->insert);
}

/*
 * One schedule's turn, one transaction (the argument at the top of this
 * file): lock its state row, creating it if absent, read last_slot, insert
 * the job of the slot due, advance last_slot, commit. A schedule seen for
 * the first time starts at its last slot before now: its first job is for
 * the next slot, not for one that passed before it existed.
 */
static int
run_one(struct scheduler *sc, struct db *db, struct sched *s, int64_t now)
{
	const struct config_sched *cs = s->cs;
	struct schedule_step st;
	int64_t start = schedule_prev(cs, now);
	uint64_t last = 0, jobid = 0, stored = 0;
	struct dbval p[2];
	int found = 0;

	if (db_begin(db, sc->err, sizeof(sc->err)) == -1)
		return -1;
	/* The row is read without waiting for it: one another session
	 * holds (a master frozen half-way through its turn) would otherwise
	 * hold up this QueueRunner's claims, on the same connection, for
	 * innodb_lock_wait_timeout at every look. Only a row not yet made is
	 * made, and locked, by the INSERT. */
	p[0] = DBV_S(cs->name);
	p[1] = DBV_U(start < 0 ? (uint64_t)now : (uint64_t)start);
	if (db_select_u64(db, SQL_SCHED_LOCKED, p, 1, &last, &found, sc->err,
	    sizeof(sc->err)) == -1 ||
	    (!found && (db_exec(db, SQL_SCHED_CLAIM, 1, p, 2, NULL, NULL,
	    sc->err, sizeof(sc->err)) == -1 ||
	    db_select_u64(db, SQL_SCHED_LOCKED, p, 1, &last, &found, sc->err,
	    sizeof(sc->err)) == -1)))
		goto fail;
	if (!found) {
		errf(sc->err, sizeof(sc->err), "database %u: schedule %s: its "
		    "state row was neither made nor found", db_id(db),
		    cs->name);
		goto fail;
	}
	if (!schedule_due(cs, (int64_t)last, now, &st)) {
		/* Committed, not rolled back: a state row made just now must
		 * stay, or a new schedule would start again at every look
		 * and never fire. */
		if (db_commit(db, sc->err, sizeof(sc->err)) == -1)
			return -1;
		s->next_due = schedule_next(cs, (int64_t)last);
		return 0;
	}
	if (st.insert >= 0 && insert_job(sc, db, cs, st.insert, &jobid,
	    &stored) == -1)
		goto fail;
	p[0] = DBV_U((uint64_t)st.last);
	p[1] = DBV_S(cs->name);
	if (db_exec(db, SQL_SCHED_ADVANCE, 1, p, 2, NULL, NULL, sc->err,
	    sizeof(sc->err)) == -1)
		goto fail;
	/* A failed COMMIT leaves the outcome unknown: the next look reads
	 * the state row and knows. */
	if (db_commit(db, sc->err, sizeof(sc->err)) == -1)
		return -1;
	report_step(cs, &st, jobid, stored, db_id(db));
	s->next_due = schedule_next(cs, st.last);
	return 0;
fail:
	db_rollback(db);
	return -1;
}

/* A database whose schedules failed: looked at again later, said so. */
static void
trouble(struct scheduler *sc, size_t i)
{
	struct sched_db *d = &sc->d[i];
	struct db *db = dbset_at(sc->dbs, i);
	double now = time_mono();

	backoff_fail(&d->backoff, now, TROUBLE_BACKOFF_MIN,
	    TROUBLE_BACKOFF_MAX);
	if (d->logged_at && now - d->logged_at < TROUBLE_LOG_EVERY) {
		log_debug("schedules: %s", sc->err);
		return;
	}
	d->logged_at = now;
	if (db_errno(db) == ER_NO_SUCH_TABLE)
		log_warnx("schedules: %s: database %u has no schedule_state "
		    "table (apply schema.sql); its schedules wait, trying "
		    "again up to every %.0f s", sc->err, db_id(db),
		    TROUBLE_BACKOFF_MAX);
	else
		log_warnx("schedules: %s; the schedules of database %u wait, "
		    "trying again in %.0f s", sc->err, db_id(db), d->backoff.pause);
}

/* The schedule's state row was found locked by another session: said in
 * the log once that has lasted BUSY_WARN_AFTER. */
static void
row_busy(struct sched *s)
{
	double now = time_mono();

	if (s->busy_since == 0)
		s->busy_since = now;
	if (now - s->busy_since < BUSY_WARN_AFTER || (s->busy_logged &&
	    now - s->busy_logged < TROUBLE_LOG_EVERY))
		return;
	s->busy_logged = now;
	log_warnx("schedule %s: its state row is locked by another session "
	    "for %.0f s (one stopped inside a transaction?); its slots wait "
	    "until the row is free, the other jobs do not", s->cs->name,
	    now - s->busy_since);
}

static void
row_free(struct sched *s)
{
	if (s->busy_logged)
		log_notice("schedule %s: its state row is free again",
		    s->cs->name);
	s->busy_since = s->busy_logged = 0;
}

/* 1 if a schedule of database i may be due by its clock's estimate. */
static int
maybe_due(const struct scheduler *sc, size_t i)
{
	double now = time_real() + sc->d[i].offset + CHECK_EVERY;
	size_t k;

	if (!sc->d[i].have_offset)
		return 1;
	for (k = 0; k < sc->n; k++)
		if (sc->s[k].dbi == i && (double)sc->s[k].next_due <= now)
			return 1;
	return 0;
}

/* The schedules of database i. */
static void
tick_db(struct scheduler *sc, size_t i)
{
	struct db *db = dbset_at(sc->dbs, i);
	struct sched_db *d = &sc->d[i];
	uint64_t now = 0;
	size_t k;
	int found = 0;

	if (db_select_u64(db, SQL_NOW, NULL, 0, &now, &found, sc->err,
	    sizeof(sc->err)) == -1 || !found) {
		trouble(sc, i);
		return;
	}
	d->offset = (double)now - time_real();
	d->have_offset = 1;
	for (k = 0; k < sc->n; k++) {
		struct sched *s = &sc->s[k];

		if (s->dbi != i || s->next_due > (int64_t)now)
			continue;
		if (run_one(sc, db, s, (int64_t)now) == -1) {
			/* A deadlock, a certification conflict or a locked
			 * row: another inserter had the row; nothing was
			 * done, and the next look sees what it did. */
			if (db_conflict(db)) {
				log_debug("schedule %s: %s", s->cs->name,
				    sc->err);
				if (db_lock_busy(db))
					row_busy(s);
				continue;
			}
			trouble(sc, i);
			return;
		}
		row_free(s);
		if (s->next_due < 0)
			s->next_due = NEVER;
	}
	if (d->backoff.pause && d->logged_at)
		log_notice("schedules: database %u works again",
		    db_id(db));
	backoff_reset(&d->backoff);
	d->logged_at = 0;
}

void
scheduler_tick(struct scheduler *sc)
{
	double mono = time_mono();
	size_t i;

	if (sc == NULL || sc->n == 0 || mono < sc->check_at)
		return;
	sc->check_at = mono + CHECK_EVERY;
	for (i = 0; i < dbset_count(sc->dbs); i++) {
		if (sc->d[i].nscheds == 0 ||
		    backoff_waiting(&sc->d[i].backoff, mono) ||
		    !db_healthy(dbset_at(sc->dbs, i), mono) ||
		    !maybe_due(sc, i))
			continue;
		tick_db(sc, i);
	}
}
