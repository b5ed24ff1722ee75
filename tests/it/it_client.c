/*
 * it_client: libgarivini against real MariaDB databases.
 *
 * Run by tests/t/10-client.t, which starts the servers and passes the INI in
 * GV_TEST_INI (two databases). Checks go through a separate raw connection,
 * so what is verified is what the database holds, not what the library
 * believes.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <mysql.h>
#include <unistd.h>

#include "admin.h"
#include "client.h"
#include "config.h"
#include "db.h"
#include "dbset.h"
#include "jobjson.h"
#include "util.h"
#include "it_db.h"

/* Seconds until a row is due; signed, as run_after is unsigned. */
#define DUE_IN "CAST(run_after AS SIGNED) - UNIX_TIMESTAMP()"

static gv_client *gv;

static long long
count_all(const char *where)
{
	long long total = 0;
	size_t i;

	for (i = 0; i < cfg->ndbs; i++)
		total += num(cfg->dbs[i].dbid, "SELECT COUNT(*) FROM job %s",
		    where);
	return total;
}

static void
setup(void)
{
	static const char *const tables[] = { "job", "job_error", NULL };

	gv = it_open(tables);
}

static void
teardown(void)
{
	it_close(gv);
}

/* The row of jobid as a worker would receive it: due, read whole the way a
 * claim reads the rows it chose, encoded to the job document, parsed back
 * by the worker-side parser. */
static void
fetch_as_worker(unsigned dbid, uint64_t jobid, struct gv_job *out)
{
	struct gv_job *jobs = NULL, *whole = NULL;
	size_t n = 0, nwhole = 0, i;
	struct buf doc = { 0 };
	struct db *db = dbset_find(client_dbset(gv), dbid);
	struct dbval limit = DBV_U(100000), id = DBV_U(jobid);
	char err[512];

	ck_assert_ptr_nonnull(db);
	ck_assert_msg(db_select_jobs(db, SQL_SELECT_DUE, &limit, 1, &jobs, &n,
	    err, sizeof(err)) == 0, "%s", err);
	for (i = 0; i < n; i++)
		if (jobs[i].jobid == jobid)
			break;
	ck_assert_msg(i < n, "job %llu is not due", (unsigned long long)jobid);
	ck_assert_msg(db_select_jobs(db, SQL_SELECT_JOBS, &id, 1, &whole,
	    &nwhole, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(nwhole, 1);
	ck_assert_int_eq(jobjson_encode(&whole[0], &doc), 0);
	ck_assert_msg(gv_job_parse(doc.data, doc.len, out, err, sizeof(err)) ==
	    GV_OK, "%s", err);
	db_jobs_free(jobs, n);
	db_jobs_free(whole, nwhole);
	buf_free(&doc);
}

START_TEST(insert_jobs_lands_everywhere)
{
	enum { N = 10000, KEYED = 1000 };
	static struct gv_new_job jobs[N];
	static char args[N][32], keys[KEYED][32];
	size_t inserted, total = 0, i, k;

	for (k = 0; k < 10; k++) {
		for (i = 0; i < N / 10; i++) {
			snprintf(args[i], sizeof(args[i]), "job %zu", k * 1000 + i);
			jobs[i] = (struct gv_new_job){ .funcname = "bulk",
			    .arg = args[i], .arg_len = strlen(args[i]) };
		}
		ck_assert_msg(gv_insert_jobs(gv, jobs, N / 10, &inserted) ==
		    GV_OK, "%s", gv_errmsg(gv));
		ck_assert_uint_eq(inserted, N / 10);
		total += inserted;
	}
	ck_assert_uint_eq(total, N);
	ck_assert_int_eq(count_all("WHERE funcname = 'bulk'"), N);
	/* Keyed jobs spread over both databases by their stable hash. */
	for (i = 0; i < KEYED; i++) {
		snprintf(keys[i], sizeof(keys[i]), "key-%zu", i);
		jobs[i] = (struct gv_new_job){ .funcname = "keyed",
		    .arg = "x", .arg_len = 1, .uniqkey = keys[i] };
	}
	ck_assert_int_eq(gv_insert_jobs(gv, jobs, KEYED, &inserted), GV_OK);
	ck_assert_uint_eq(inserted, KEYED);
	for (i = 0; i < cfg->ndbs; i++)
		ck_assert_int_gt(num(cfg->dbs[i].dbid, "SELECT COUNT(*) FROM "
		    "job WHERE funcname = 'keyed'"), KEYED / 4);
	/* Again: every one a duplicate, nothing stored. */
	ck_assert_int_eq(gv_insert_jobs(gv, jobs, KEYED, &inserted), GV_OK);
	ck_assert_uint_eq(inserted, 0);
	ck_assert_int_eq(count_all("WHERE funcname = 'keyed'"), KEYED);
}
END_TEST

START_TEST(unique_key_stored_once)
{
	struct gv_new_job j = { .funcname = "uniq", .arg = "a", .arg_len = 1,
	    .uniqkey = "the-one" };
	uint64_t id1, id2, id3;
	unsigned db1, db2, db3;
	int fresh;
	char err[256];
	gv_client *other;

	ck_assert_int_eq(gv_insert_job(gv, &j, &id1, &db1, &fresh), GV_OK);
	ck_assert_int_eq(fresh, 1);
	ck_assert_int_eq(gv_insert_job(gv, &j, &id2, &db2, &fresh), GV_OK);
	ck_assert_int_eq(fresh, 0);
	ck_assert_uint_eq(id1, id2);
	ck_assert_uint_eq(db1, db2);
	/* Another client, with its own random choices, maps the key to the
	 * same database. */
	other = client_open_config(cfg, err, sizeof(err));
	ck_assert_ptr_nonnull(other);
	ck_assert_int_eq(gv_insert_job(other, &j, &id3, &db3, &fresh), GV_OK);
	ck_assert_int_eq(fresh, 0);
	ck_assert_uint_eq(id3, id1);
	ck_assert_uint_eq(db3, db1);
	gv_close(other);
	ck_assert_int_eq(count_all("WHERE uniqkey = 'the-one'"), 1);
	/* Keys and function names compare byte for byte: case matters. */
	j.uniqkey = "THE-ONE";
	ck_assert_int_eq(gv_insert_job(gv, &j, &id3, &db3, &fresh), GV_OK);
	ck_assert_int_eq(fresh, 1);
	j.uniqkey = "the-one";
	j.funcname = "UNIQ";
	ck_assert_int_eq(gv_insert_job(gv, &j, &id3, &db3, &fresh), GV_OK);
	ck_assert_int_eq(fresh, 1);
	/* The same key under another function is another job. */
	j.funcname = "uniq2";
	ck_assert_int_eq(gv_insert_job(gv, &j, &id3, &db3, &fresh), GV_OK);
	ck_assert_int_eq(fresh, 1);
}
END_TEST

START_TEST(delay_sets_run_after)
{
	struct gv_new_job j = { .funcname = "later", .delay = 300 };
	uint64_t id;
	unsigned dbid;
	long long d;

	ck_assert_int_eq(gv_insert_job(gv, &j, &id, &dbid, NULL), GV_OK);
	d = num(dbid, "SELECT " DUE_IN " FROM job WHERE "
	    "jobid = %llu", (unsigned long long)id);
	ck_assert_msg(d >= 299 && d <= 301, "run_after is now + %lld", d);
	j.delay = -1;
	ck_assert_int_eq(gv_insert_job(gv, &j, &id, &dbid, NULL), GV_EINVAL);
}
END_TEST

/* A priority is stored, reaches the worker in its document, and is
 * refused out of range, one job or many, with nothing stored. */
START_TEST(priority_stored_and_checked)
{
	struct gv_new_job j[2] = {
		{ .funcname = "prio", .priority = GV_PRIORITY_MIN },
		{ .funcname = "prio", .priority = GV_PRIORITY_MAX },
	};
	struct gv_job got;
	uint64_t id;
	unsigned dbid;
	size_t n;

	ck_assert_int_eq(gv_insert_job(gv, &j[1], &id, &dbid, NULL), GV_OK);
	ck_assert_int_eq(num(dbid, "SELECT priority FROM job WHERE jobid = "
	    "%llu", (unsigned long long)id), GV_PRIORITY_MAX);
	fetch_as_worker(dbid, id, &got);
	ck_assert_int_eq(got.priority, GV_PRIORITY_MAX);
	gv_job_clear(&got);
	ck_assert_int_eq(gv_insert_jobs(gv, j, 2, &n), GV_OK);
	ck_assert_uint_eq(n, 2);
	j[0].priority = GV_PRIORITY_MIN - 1;
	ck_assert_int_eq(gv_insert_jobs(gv, j, 2, &n), GV_EINVAL);
	ck_assert_str_eq(gv_errmsg(gv), "job 0: priority -11 is out of "
	    "range -10..10");
	j[1].priority = GV_PRIORITY_MAX + 1;
	ck_assert_int_eq(gv_insert_job(gv, &j[1], &id, &dbid, NULL),
	    GV_EINVAL);
	ck_assert_int_eq(num(1, "SELECT COUNT(*) FROM job") +
	    num(2, "SELECT COUNT(*) FROM job"), 3);
}
END_TEST

/* A new job of funcname, as a worker holding it would name it. */
static struct gv_job
new_job(gv_client *c, char *funcname)
{
	struct gv_new_job j = { .funcname = funcname };
	struct gv_job job = { .funcname = funcname, .fenced = 1 };

	ck_assert_msg(gv_insert_job(c, &j, &job.jobid, &job.dbid, NULL) ==
	    GV_OK, "%s", gv_errmsg(c));
	return job;
}

/* Fail job through c: the seconds until it is due again. */
static long long
fail_due_in(gv_client *c, const struct gv_job *job)
{
	ck_assert_msg(gv_failed_job(c, job) == GV_OK, "%s", gv_errmsg(c));
	return num(job->dbid, "SELECT " DUE_IN " FROM job WHERE jobid = %llu",
	    (unsigned long long)job->jobid);
}

/* The n-th failure is due in want[n - 1] s (the second may have turned
 * between the UPDATE and the read). */
static void
check_backoff(gv_client *c, const struct gv_job *job, const long *want,
    int n)
{
	long long d;
	int i;

	for (i = 0; i < n; i++) {
		d = fail_due_in(c, job);
		ck_assert_msg(d >= want[i] - 1 && d <= want[i], "%s, failure "
		    "%d: due in %lld s, want %ld", job->funcname, i + 1, d,
		    want[i]);
	}
}

START_TEST(failed_job_backs_off)
{
	struct gv_job job = new_job(gv, "flaky");
	static const long want[] = { 120, 240, 480 };
	long long d;

	check_backoff(gv, &job, want, 3);
	ck_assert_int_eq(num(job.dbid, "SELECT failcount FROM job WHERE "
	    "jobid = %llu", (unsigned long long)job.jobid), 3);
	/* Parked once failcount reaches max_failures. */
	gv_set_max_failures(gv, 4);
	ck_assert_int_eq(gv_failed_job(gv, &job), GV_OK);
	ck_assert_int_eq(num(job.dbid, "SELECT run_after FROM job WHERE jobid = "
	    "%llu", (unsigned long long)job.jobid), GV_NEVER);
	/* The cap: a day. */
	gv_set_max_failures(gv, 0);
	sql(job.dbid, "UPDATE job SET failcount = 20");
	d = fail_due_in(gv, &job);
	ck_assert_msg(d >= 86399 && d <= 86400, "capped delay %lld", d);
}
END_TEST

static long long
errors_of(const struct gv_job *job, const char *where)
{
	return num(job->dbid, "SELECT COUNT(*) FROM job_error WHERE jobid = "
	    "%llu%s%s", (unsigned long long)job->jobid, where ? " AND " : "",
	    where ? where : "");
}

/* A failure keeps its reason (job_error), with the failcount and attempt
 * it left; a message that is not UTF-8 or too long changes nothing; only
 * the newest GV_ERRORS_KEPT stay; a completion takes them with the row. */
START_TEST(failure_reasons_kept)
{
	struct gv_job job = new_job(gv, "reasons");
	char big[GV_MESSAGE_MAX + 2];
	int i;

	ck_assert_msg(gv_failed_job_message(gv, &job, "disk full \xe2\x98\xb9"
	    "\nat line 3") == GV_OK, "%s", gv_errmsg(gv));
	ck_assert_int_eq(errors_of(&job, "message = 'disk full \xe2\x98\xb9"
	    "\\nat line 3' AND failcount = 1 AND attempt = 0 AND funcname = "
	    "'reasons' AND ABS(error_time - UNIX_TIMESTAMP()) <= 2"), 1);
	ck_assert_int_eq(gv_failed_job_message(gv, &job, "bad \xff byte"),
	    GV_EINVAL);
	ck_assert_ptr_nonnull(strstr(gv_errmsg(gv), "UTF-8"));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(gv_failed_job_message(gv, &job, big), GV_EINVAL);
	ck_assert_ptr_nonnull(strstr(gv_errmsg(gv), "longer than 2000"));
	ck_assert_int_eq(num(job.dbid, "SELECT failcount FROM job"), 1);
	ck_assert_int_eq(errors_of(&job, NULL), 1);
	big[GV_MESSAGE_MAX] = '\0';
	ck_assert_int_eq(gv_failed_job_message(gv, &job, big), GV_OK);
	ck_assert_int_eq(errors_of(&job, "LENGTH(message) = 2000"), 1);
	/* gv_failed_job: recorded, without a reason. */
	for (i = 0; i < 15; i++)
		ck_assert_int_eq(gv_failed_job(gv, &job), GV_OK);
	ck_assert_int_eq(errors_of(&job, NULL), GV_ERRORS_KEPT);
	ck_assert_int_eq(errors_of(&job, "message = '' AND failcount > 7"),
	    GV_ERRORS_KEPT);
	/* A stale failure records nothing. */
	job.attempt = 5;
	ck_assert_int_eq(gv_failed_job_message(gv, &job, "late"), GV_ESTALE);
	ck_assert_int_eq(errors_of(&job, "message = 'late'"), 0);
	job.attempt = 0;
	job.failcount = 17;
	ck_assert_int_eq(gv_complete_later(gv, &job), GV_OK);
	ck_assert_int_eq(gv_flush(gv), GV_OK);
	ck_assert_int_eq(errors_of(&job, NULL), 0);
	/* By gv_complete_job too, and not for another job's failures. */
	job = new_job(gv, "reasons");
	ck_assert_int_eq(gv_failed_job_message(gv, &job, "once"), GV_OK);
	{
		struct gv_job other = new_job(gv, "reasons");

		ck_assert_int_eq(gv_failed_job(gv, &other), GV_OK);
		job.failcount = 1;
		ck_assert_int_eq(gv_complete_job(gv, &job), GV_OK);
		ck_assert_int_eq(errors_of(&job, NULL), 0);
		ck_assert_int_eq(errors_of(&other, NULL), 1);
	}
}
END_TEST

/* gvctl's queries as records (admin.c over db_select_rows): the counts
 * per state and the lag of each function, none when nothing is due; the
 * failures of a job and of a function, newest first, a message longer than
 * a row buffer whole. */
START_TEST(admin_queries)
{
	struct gv_job job = new_job(gv, "adm-a");
	struct db *db = dbset_find(client_dbset(gv), job.dbid);
	struct admin_figures *f = NULL;
	struct admin_failure *e = NULL;
	char big[GV_MESSAGE_MAX + 1], err[512];
	size_t n = 0, i;

	memset(big, 'm', GV_MESSAGE_MAX);
	big[GV_MESSAGE_MAX] = '\0';
	ck_assert_int_eq(gv_failed_job_message(gv, &job, "first"), GV_OK);
	ck_assert_int_eq(gv_failed_job_message(gv, &job, big), GV_OK);
	sql(job.dbid, "INSERT INTO job (funcname, run_after) VALUES "
	    "('adm-b', UNIX_TIMESTAMP() - 7), ('adm-b', 2147483647)");

	ck_assert_msg(admin_stats(db, NULL, &f, &n, err, sizeof(err)) == 0,
	    "%s", err);
	for (i = 0; i < n && strcmp(f[i].funcname, "adm-b") != 0; i++)
		;
	ck_assert_uint_lt(i, n);
	ck_assert(f[i].n[ADMIN_DUE] == 1 && f[i].n[ADMIN_PARKED] == 1 &&
	    f[i].n[ADMIN_SCHEDULED] == 0 && f[i].n[ADMIN_LEASED] == 0);
	ck_assert_int_eq(f[i].has_lag, 1);
	ck_assert(f[i].lag >= 7 && f[i].lag <= 9);
	admin_figures_free(f, n);
	ck_assert_int_eq(admin_stats(db, "adm-a", &f, &n, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(n, 1);
	ck_assert(f[0].n[ADMIN_FAILING] == 1 && f[0].n[ADMIN_SCHEDULED] == 1);
	ck_assert_int_eq(f[0].has_lag, 0);
	admin_figures_free(f, n);

	ck_assert_int_eq(admin_failures(db, job.jobid, NULL, 10, &e, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(e[0].message_len, GV_MESSAGE_MAX);
	ck_assert_str_eq(e[0].message, big);
	ck_assert_uint_eq(e[0].failcount, 2);
	ck_assert_str_eq(e[1].message, "first");
	ck_assert_str_eq(e[1].funcname, "adm-a");
	ck_assert(e[1].jobid == job.jobid && e[1].dbid == job.dbid &&
	    e[1].time > 0);
	admin_failures_free(e, n);
	ck_assert_int_eq(admin_failures(db, 0, "adm-a", 1, &e, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(e[0].failcount, 2);
	admin_failures_free(e, n);
	ck_assert_int_eq(admin_failures(db, 0, "adm-none", 5, &e, &n, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(n, 0);
	admin_failures_free(e, n);
}
END_TEST

/* Failures of rows deleted behind the library's back (the original's
 * client, an operator's DELETE) are swept; those of live rows stay. */
START_TEST(failure_reasons_swept)
{
	struct gv_job gone = new_job(gv, "swept"), kept;
	struct db *db = dbset_find(client_dbset(gv), gone.dbid);
	uint64_t cursor = 0, swept = 0;
	int tries;

	/* Both in one database, so the sweep's count is theirs alone. */
	for (tries = 0; tries < 100; tries++) {
		kept = new_job(gv, "swept");
		if (kept.dbid == gone.dbid)
			break;
		ck_assert_int_eq(gv_cancel_jobid(gv, kept.dbid, kept.jobid),
		    GV_OK);
	}
	ck_assert_uint_eq(kept.dbid, gone.dbid);
	ck_assert_int_eq(gv_failed_job_message(gv, &gone, "a"), GV_OK);
	ck_assert_int_eq(gv_failed_job_message(gv, &kept, "b"), GV_OK);
	sql(gone.dbid, "DELETE FROM job WHERE funcname = 'swept' AND jobid = "
	    "(SELECT MIN(jobid) FROM job_error WHERE message = 'a')");
	ck_assert_int_eq(client_sweep_errors(gv, db, &cursor, &swept), 0);
	ck_assert_int_eq(swept, 1);
	ck_assert_int_eq(errors_of(&kept, NULL), 1);
	ck_assert_int_eq(errors_of(&gone, NULL), 0);
	ck_assert_uint_eq(cursor, CLIENT_SWEEP_SPAN);
}
END_TEST

/* A database without job_error (a table of an earlier version): the
 * failure still counts, the reason is dropped, and the caller is told. */
START_TEST(failure_without_error_table)
{
	struct gv_job job = new_job(gv, "old-schema");
	unsigned dbid = 0;
	int rc;

	ck_assert_int_eq(client_no_error_table(gv, &dbid), 0);
	sql(job.dbid, "RENAME TABLE job_error TO job_error_away");
	rc = gv_failed_job_message(gv, &job, "why");
	sql(job.dbid, "RENAME TABLE job_error_away TO job_error");
	ck_assert_msg(rc == GV_OK, "%s", gv_errmsg(gv));
	ck_assert_int_eq(num(job.dbid, "SELECT failcount FROM job"), 1);
	ck_assert_int_eq(client_no_error_table(gv, &dbid), 1);
	ck_assert_uint_eq(dbid, job.dbid);
	ck_assert_int_eq(client_no_error_table(gv, &dbid), 0);
}
END_TEST

/* Cancel by key (in the key's database) and by id, with the failures; a
 * key or id with no job is GV_ESTALE; a completion after it changes
 * nothing. */
START_TEST(cancel_by_key_and_id)
{
	struct gv_new_job nj = { .funcname = "cancel-me", .uniqkey = "k1" };
	struct gv_job job = { .funcname = "cancel-me", .fenced = 1 };
	uint64_t id = 0;
	unsigned dbid = 0, id_db = 0;

	ck_assert_int_eq(gv_insert_job(gv, &nj, &job.jobid, &job.dbid, NULL),
	    GV_OK);
	ck_assert_int_eq(gv_failed_job_message(gv, &job, "x"), GV_OK);
	ck_assert_msg(gv_cancel_job(gv, "cancel-me", "k1", &id, &dbid) ==
	    GV_OK, "%s", gv_errmsg(gv));
	ck_assert_uint_eq(id, job.jobid);
	ck_assert_uint_eq(dbid, job.dbid);
	ck_assert_int_eq(count_all("WHERE funcname = 'cancel-me'"), 0);
	ck_assert_int_eq(errors_of(&job, NULL), 0);
	ck_assert_int_eq(gv_complete_job(gv, &job), GV_ESTALE);
	ck_assert_int_eq(gv_cancel_job(gv, "cancel-me", "k1", NULL, NULL),
	    GV_ESTALE);
	ck_assert_ptr_nonnull(strstr(gv_errmsg(gv), "no job cancel-me/k1 in any database"));
	ck_assert_int_eq(gv_cancel_job(gv, "cancel-me", NULL, NULL, NULL),
	    GV_EINVAL);
	ck_assert_int_eq(gv_cancel_job(gv, NULL, "k1", NULL, NULL),
	    GV_EINVAL);
	/* A keyed job away from its key's database (a schedule's, or one
	 * inserted under another list of databases) is found too. */
	dbid = cfg->dbs[0].dbid == job.dbid ? cfg->dbs[1].dbid :
	    cfg->dbs[0].dbid;
	sql(dbid, "INSERT INTO job (funcname, uniqkey, run_after) VALUES "
	    "('cancel-me', 'k1', UNIX_TIMESTAMP() + 600)");
	ck_assert_msg(gv_cancel_job(gv, "cancel-me", "k1", &id, &id_db) ==
	    GV_OK, "%s", gv_errmsg(gv));
	ck_assert_uint_eq(id_db, dbid);
	ck_assert_int_eq(count_all("WHERE funcname = 'cancel-me'"), 0);
	job = new_job(gv, "cancel-me");
	ck_assert_int_eq(gv_cancel_jobid(gv, job.dbid, job.jobid), GV_OK);
	ck_assert_int_eq(count_all("WHERE funcname = 'cancel-me'"), 0);
	ck_assert_int_eq(gv_cancel_jobid(gv, job.dbid, job.jobid), GV_ESTALE);
	ck_assert_int_eq(gv_cancel_jobid(gv, 999, 1), GV_EINVAL);
	ck_assert_int_eq(gv_cancel_jobid(gv, job.dbid, 0), GV_EINVAL);
}
END_TEST

/* gv_set_retry_backoff: its doubling and cap, a shift that cannot wrap
 * however many failures, and bad values refused without a change. */
START_TEST(retry_backoff_set)
{
	struct gv_job job = new_job(gv, "flaky");
	static const long want[] = { 5, 10, 12, 12 };
	long long d;

	ck_assert_int_eq(gv_set_retry_backoff(gv, 5, 12), GV_OK);
	check_backoff(gv, &job, want, 4);
	gv_set_max_failures(gv, 0);
	ck_assert_int_eq(gv_set_retry_backoff(gv, GV_RETRY_FIRST_LIMIT,
	    GV_RETRY_MAX_LIMIT), GV_OK);
	sql(job.dbid, "UPDATE job SET failcount = 254");
	d = fail_due_in(gv, &job);
	ck_assert_msg(d >= GV_RETRY_MAX_LIMIT - 1 && d <= GV_RETRY_MAX_LIMIT,
	    "delay after 255 failures %lld", d);
	ck_assert_int_eq(gv_set_retry_backoff(gv, 0, 10), GV_EINVAL);
	ck_assert_ptr_nonnull(strstr(gv_errmsg(gv), "out of range 1..86400"));
	ck_assert_int_eq(gv_set_retry_backoff(gv, 10, 5), GV_EINVAL);
	ck_assert_ptr_nonnull(strstr(gv_errmsg(gv), "at least the first"));
	ck_assert_int_eq(gv_set_retry_backoff(gv, GV_RETRY_FIRST_LIMIT + 1,
	    GV_RETRY_MAX_LIMIT), GV_EINVAL);
	ck_assert_int_eq(gv_set_retry_backoff(gv, 1, GV_RETRY_MAX_LIMIT + 1),
	    GV_EINVAL);
	/* Still the last good backoff: the first failure waits a day. */
	sql(job.dbid, "UPDATE job SET failcount = 0");
	d = fail_due_in(gv, &job);
	ck_assert_msg(d >= 86399 && d <= 86400, "first delay %lld", d);
}
END_TEST

/* A client of gv_open_ini keeps a function's retry_first and retry_max
 * over the client's backoff; other functions keep the client's. */
START_TEST(retry_backoff_per_function)
{
	static const char funcs[] = "\n[function.quick]\nretry_first = 3\n"
	    "retry_max = 7\n[function.capped]\nretry_max = 200\n";
	static const long quick[] = { 3, 6, 7 }, other[] = { 120, 240 },
	    capped[] = { 120, 200 }, other_set[] = { 10, 20, 20 };
	char path[] = "/tmp/it_client_ini.XXXXXX", err[CONFIG_ERRLEN];
	const char *ini = getenv("GV_TEST_INI");
	struct gv_job job;
	char buf[8192];
	gv_client *c;
	FILE *in, *out;
	size_t n;
	int fd;

	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_ptr_nonnull(out = fdopen(fd, "w"));
	ck_assert_ptr_nonnull(in = fopen(ini, "r"));
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	fputs(funcs, out);
	ck_assert_int_eq(fclose(out), 0);
	c = gv_open_ini(path, err, sizeof(err));
	unlink(path);
	ck_assert_msg(c != NULL, "%s", err);

	job = new_job(c, "quick");
	check_backoff(c, &job, quick, 3);
	job = new_job(c, "other");
	check_backoff(c, &job, other, 2);
	job = new_job(c, "capped");
	check_backoff(c, &job, capped, 2);
	/* The client's own backoff changes the others, not quick. */
	ck_assert_int_eq(gv_set_retry_backoff(c, 10, 20), GV_OK);
	job = new_job(c, "other");
	check_backoff(c, &job, other_set, 3);
	job = new_job(c, "quick");
	check_backoff(c, &job, quick, 3);
	gv_close(c);
}
END_TEST

START_TEST(every_byte_round_trips)
{
	unsigned char arg[256 * 3];
	struct gv_new_job j = { .funcname = "bytes", .arg = arg,
	    .arg_len = sizeof(arg) };
	struct gv_job job;
	uint64_t id;
	unsigned dbid;
	size_t i;

	for (i = 0; i < sizeof(arg); i++)
		arg[i] = (unsigned char)(i * 7);
	ck_assert_int_eq(gv_insert_job(gv, &j, &id, &dbid, NULL), GV_OK);
	fetch_as_worker(dbid, id, &job);
	ck_assert_uint_eq(job.arg_len, sizeof(arg));
	ck_assert_mem_eq(job.arg, arg, sizeof(arg));
	ck_assert_str_eq(job.funcname, "bytes");
	ck_assert_int_eq(job.flag, GV_FLAG_SHIM);
	gv_job_clear(&job);
}
END_TEST

START_TEST(completion_is_fenced)
{
	struct gv_new_job j = { .funcname = "fenced" };
	struct gv_job job = { 0 };
	uint64_t id;
	unsigned dbid;

	ck_assert_int_eq(gv_insert_job(gv, &j, &id, &dbid, NULL), GV_OK);
	job.jobid = id;
	job.dbid = dbid;
	job.fenced = 1;
	/* A newer claim owns the row: the old attempt changes nothing. */
	sql(dbid, "UPDATE job SET attempt = 2");
	job.attempt = 1;
	ck_assert_int_eq(gv_complete_job(gv, &job), GV_ESTALE);
	ck_assert_int_eq(gv_reschedule_job(gv, &job, "never"), GV_ESTALE);
	ck_assert_int_eq(gv_failed_job(gv, &job), GV_ESTALE);
	ck_assert_int_eq(gv_extend_lease(gv, &job, 60), GV_ESTALE);
	ck_assert_int_eq(num(dbid, "SELECT failcount FROM job"), 0);
	job.attempt = 2;
	ck_assert_int_eq(gv_extend_lease(gv, &job, 60), GV_OK);
	/* Extending by the same amount twice within a second still
	 * succeeds: the row matched. */
	ck_assert_int_eq(gv_extend_lease(gv, &job, 60), GV_OK);
	ck_assert_int_eq(num(dbid, "SELECT leased FROM job"), 1);
	{
		long left = -1;
		struct gv_job old = job;

		ck_assert_int_eq(gv_lease_left(gv, &job, &left), GV_OK);
		ck_assert_msg(left >= 59 && left <= 60, "lease left %ld", left);
		old.attempt = 1;
		ck_assert_int_eq(gv_lease_left(gv, &old, &left), GV_ESTALE);
	}
	ck_assert_int_eq(gv_reschedule_job(gv, &job, "+100"), GV_OK);
	ck_assert_int_eq(num(dbid, "SELECT leased FROM job"), 0);
	{
		/* Rescheduled: not out, so no copy of it may run now. */
		long left;

		ck_assert_int_eq(gv_lease_left(gv, &job, &left), GV_ESTALE);
	}
	ck_assert_int_ge(num(dbid, "SELECT " DUE_IN " FROM "
	    "job"), 99);
	ck_assert_int_eq(gv_reschedule_job(gv, &job, "1234567890"), GV_OK);
	ck_assert_int_eq(num(dbid, "SELECT run_after FROM job"), 1234567890);
	ck_assert_int_eq(gv_reschedule_job(gv, &job, "never"), GV_OK);
	ck_assert_int_eq(num(dbid, "SELECT run_after FROM job"), GV_NEVER);
	ck_assert_int_eq(gv_reschedule_job(gv, &job, "soon"), GV_EINVAL);
	ck_assert_int_eq(gv_reschedule_job(gv, &job, "+x"), GV_EINVAL);
	ck_assert_int_eq(gv_complete_job(gv, &job), GV_OK);
	ck_assert_int_eq(count_all(""), 0);
	ck_assert_int_eq(gv_complete_job(gv, &job), GV_ESTALE);
	job.dbid = 999;
	ck_assert_int_eq(gv_complete_job(gv, &job), GV_EINVAL);
}
END_TEST

/* What the original Perl Garivini::Client wrote is a valid row: NULL flag,
 * no attempt given; its unfenced documents complete it. */
START_TEST(original_client_rows)
{
	struct gv_job job;
	unsigned dbid = cfg->dbs[0].dbid;
	long long id;

	sql(dbid, "INSERT IGNORE INTO job (funcname, run_after, uniqkey, "
	    "`coalesce`, arg, flag) VALUES ('perl', UNIX_TIMESTAMP(), NULL, "
	    "NULL, 'from perl', NULL)");
	id = num(dbid, "SELECT jobid FROM job WHERE funcname = 'perl'");
	fetch_as_worker(dbid, (uint64_t)id, &job);
	ck_assert_int_eq(job.flag, GV_FLAG_SHIM);
	ck_assert_str_eq((char *)job.arg, "from perl");
	job.fenced = 0;  /* as an original worker's document */
	ck_assert_int_eq(gv_failed_job(gv, &job), GV_OK);
	ck_assert_int_eq(num(dbid, "SELECT failcount FROM job"), 1);
	ck_assert_int_eq(gv_complete_job(gv, &job), GV_OK);
	ck_assert_int_eq(count_all(""), 0);
	gv_job_clear(&job);
}
END_TEST

/* Completions deferred to share commits: all land by gv_flush (or by
 * themselves at 100), still fenced. */
START_TEST(completions_share_commits)
{
	enum { N = 150 };
	static struct gv_new_job jobs[N];
	struct gv_job job = { 0 };
	size_t inserted, i;
	unsigned dbid = cfg->dbs[0].dbid;
	long long first;

	for (i = 0; i < N; i++)
		jobs[i] = (struct gv_new_job){ .funcname = "later" };
	ck_assert_int_eq(gv_insert_jobs(gv, jobs, N, &inserted), GV_OK);
	/* All of them in one database, whichever was picked. */
	dbid = num(cfg->dbs[0].dbid, "SELECT COUNT(*) FROM job") ?
	    cfg->dbs[0].dbid : cfg->dbs[1].dbid;
	first = num(dbid, "SELECT MIN(jobid) FROM job");
	sql(dbid, "UPDATE job SET attempt = 1");
	job.dbid = dbid;
	job.fenced = 1;
	for (i = 0; i < N; i++) {
		job.jobid = (uint64_t)first + i;
		/* Every tenth names an old attempt: it must not delete. */
		job.attempt = i % 10 ? 1 : 0;
		ck_assert_int_eq(gv_complete_later(gv, &job), GV_OK);
	}
	ck_assert_uint_eq(gv_pending(gv), N - 100);
	ck_assert_int_eq(count_all(""), N - 100 + 10);
	ck_assert_int_eq(gv_flush(gv), GV_OK);
	ck_assert_uint_eq(gv_pending(gv), 0);
	ck_assert_int_eq(count_all(""), N / 10);
	ck_assert_int_eq(count_all("WHERE (jobid - (SELECT MIN(jobid) FROM job "
	    "j)) % 10 = 0"), N / 10);
}
END_TEST

/* A database that cannot be reached is avoided: jobs without a unique key
 * land in the healthy one; a keyed job whose home is down fails rather than
 * break its uniqueness elsewhere. */
START_TEST(failed_database_avoided)
{
	const struct config_db *d = &cfg->dbs[0];
	struct gv_db_settings s[2] = {
		{ .dbid = 1, .host = d->host, .port = d->port,
		    .database = d->database, .user = d->user,
		    .password = d->password },
		{ .dbid = 7, .host = "127.0.0.1", .port = 1, .database = "gone",
		    .user = "x", .password = "x" },
	};
	struct gv_new_job j = { .funcname = "detour" };
	char err[256], key[32];
	unsigned dbid;
	int i, homeless = 0;
	gv_client *two = gv_open(s, 2, err, sizeof(err));

	ck_assert_ptr_nonnull(two);
	for (i = 0; i < 20; i++) {
		ck_assert_msg(gv_insert_job(two, &j, NULL, &dbid, NULL) ==
		    GV_OK, "%s", gv_errmsg(two));
		ck_assert_uint_eq(dbid, 1);
	}
	ck_assert_int_eq(num(1, "SELECT COUNT(*) FROM job WHERE funcname = "
	    "'detour'"), 20);
	for (i = 0; i < 20 && !homeless; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		j.uniqkey = key;
		homeless = gv_insert_job(two, &j, NULL, &dbid, NULL) == GV_EDB;
	}
	ck_assert_msg(homeless, "no key mapped to the dead database");
	gv_close(two);
}
END_TEST

/* The one job row of a test, as a fenced worker would hold it once a
 * QueueRunner leased it (attempt 1, leased). */
static struct gv_job
leased_job(const char *funcname)
{
	struct gv_new_job j = { .funcname = funcname };
	struct gv_job job = { 0 };
	uint64_t id;
	unsigned dbid;

	ck_assert_msg(gv_insert_job(gv, &j, &id, &dbid, NULL) == GV_OK, "%s",
	    gv_errmsg(gv));
	sql(dbid, "UPDATE job SET attempt = 1, leased = 1, run_after = "
	    "UNIX_TIMESTAMP() + 300");
	job.jobid = id;
	job.dbid = dbid;
	job.attempt = 1;
	job.fenced = 1;
	return job;
}

/* Another session that KILLs a connection once the server shows it
 * running a statement that starts with prefix: from the side, while the
 * test's own thread is inside the db call. With lock, it holds LOCK TABLES
 * job WRITE first (the barrier says when), so that the statement waits
 * there, and lets go of it after the kill. */
struct killer {
	const struct config_db *d;
	unsigned long victim;
	const char *prefix;
	int lock;
	pthread_barrier_t locked;
	int fired;
	pthread_t thread;
};

static void *
killer_run(void *arg)
{
	struct killer *k = arg;
	MYSQL *m = mysql_init(NULL);
	MYSQL_RES *res;
	char q[512];
	int i, seen, ok;

	ok = mysql_real_connect(m, k->d->host, k->d->user, k->d->password,
	    k->d->database, k->d->port, k->d->socket, 0) != NULL &&
	    (!k->lock || mysql_query(m, "LOCK TABLES job WRITE") == 0);
	if (k->lock)
		pthread_barrier_wait(&k->locked);
	if (!ok)
		goto out;
	/* Caught once it sends rows, not while it still sorts them; behind
	 * the lock, as soon as it is there. */
	snprintf(q, sizeof(q), "SELECT 1 FROM information_schema.PROCESSLIST "
	    "WHERE ID = %lu AND INFO LIKE '%s%%'%s", k->victim, k->prefix,
	    k->lock ? "" : " AND STATE IN ('Sending data', 'Writing to net', "
	    "'Sending to client')");
	for (i = 0; i < 20000 && !k->fired; i++) {
		if (mysql_query(m, q) != 0 ||
		    (res = mysql_store_result(m)) == NULL)
			break;
		seen = mysql_num_rows(res) > 0;
		mysql_free_result(res);
		if (seen) {
			snprintf(q, sizeof(q), "KILL CONNECTION %lu",
			    k->victim);
			k->fired = mysql_query(m, q) == 0;
			break;
		}
		usleep(500);
	}
	if (k->lock)
		mysql_query(m, "UNLOCK TABLES");
out:
	mysql_close(m);
	return NULL;
}

/* Twenty jobs of funcname: none keyed (keyed 0), every other one (1) or
 * all (2). */
static void
twenty_jobs(struct gv_new_job *j, char (*args)[16], char (*keys)[16],
    const char *funcname, int keyed)
{
	size_t i;

	for (i = 0; i < 20; i++) {
		snprintf(args[i], 16, "a%zu", i);
		snprintf(keys[i], 16, "k%zu", i);
		j[i] = (struct gv_new_job){ .funcname = funcname,
		    .arg = args[i], .arg_len = strlen(args[i]),
		    .uniqkey = keyed == 2 || (keyed && i % 2) ? keys[i] :
		    NULL };
	}
}

/* gv_insert_jobs of jobs[0..n) (of one function) on a client of the one
 * database d, whose connection another session kills while its first
 * INSERT waits on a table lock: that transaction stored nothing. The batch
 * must succeed all the same, every job stored once. */
static void
insert_killed(const struct config_db *d, const struct gv_new_job *jobs,
    size_t n)
{
	struct gv_db_settings s = { .dbid = d->dbid, .host = d->host,
	    .port = d->port, .database = d->database, .user = d->user,
	    .password = d->password };
	struct killer k = { .d = d, .prefix = "INSERT", .lock = 1 };
	char err[256];
	size_t inserted = 0;
	uint64_t now;
	int found, rc;
	struct db *db;
	gv_client *one;

	ck_assert_ptr_nonnull(one = gv_open(&s, 1, err, sizeof(err)));
	db = dbset_at(client_dbset(one), 0);
	ck_assert_msg(db_select_u64(db, SQL_NOW, NULL, 0, &now, &found, err,
	    sizeof(err)) == 0, "%s", err);
	k.victim = db_connection_id(db);
	ck_assert_int_eq(pthread_barrier_init(&k.locked, NULL, 2), 0);
	ck_assert_int_eq(pthread_create(&k.thread, NULL, killer_run, &k), 0);
	pthread_barrier_wait(&k.locked);
	rc = gv_insert_jobs(one, jobs, n, &inserted);
	pthread_join(k.thread, NULL);
	pthread_barrier_destroy(&k.locked);
	ck_assert_msg(k.fired, "the INSERT was never caught waiting");
	ck_assert_msg(rc == GV_OK, "a batch killed before its COMMIT: %s",
	    gv_errmsg(one));
	gv_close(one);
	ck_assert_uint_eq(inserted, n);
	ck_assert_int_eq(num(d->dbid, "SELECT COUNT(*) FROM job WHERE "
	    "funcname = '%s'", jobs[0].funcname), (long long)n);
	ck_assert_int_eq(num(d->dbid, "SELECT COUNT(DISTINCT arg) FROM job "
	    "WHERE funcname = '%s'", jobs[0].funcname), (long long)n);
}

/* A database's connection lost before the COMMIT of an insert batch was
 * sent (a Galera node killed under a writer: tests/cluster/40-node-kill.t)
 * stored nothing: the batch is done again on a new connection, the next
 * host's. Keyed jobs (their database's share) and jobs without a key (the
 * share for any database) alike. */
START_TEST(insert_batch_connection_killed)
{
	struct gv_new_job j[20];
	char args[20][16], keys[20][16];

	twenty_jobs(j, args, keys, "redo", 1);
	insert_killed(&cfg->dbs[0], j, 20);
	twenty_jobs(j, args, keys, "redo-free", 0);
	insert_killed(&cfg->dbs[0], j, 20);
}
END_TEST

/* The connection is killed in the middle of reading a large claim: the
 * claim fails cleanly (under ASan: without a use after free of the closed
 * statement) and the next call reconnects. */
START_TEST(connection_killed_during_fetch)
{
	struct db *db = dbset_find(client_dbset(gv), cfg->dbs[0].dbid);
	struct dbval ids[120];
	struct gv_job *jobs = NULL;
	struct killer k = { .d = &cfg->dbs[0], .prefix = "SELECT jobid" };
	MYSQL_RES *res;
	MYSQL_ROW row;
	uint64_t now;
	size_t n = 0, nids = 0;
	char err[512];
	int found, tries, rc = 0;

	/* 60 MB of result: reading it takes far longer than the killer's
	 * look at the process list. The claim reads whole rows by id
	 * (SQL_SELECT_JOBS) once it chose them. */
	sql(cfg->dbs[0].dbid, "INSERT INTO job (funcname, arg, run_after) "
	    "SELECT 'big', REPEAT('x', 524288), 0 FROM seq_1_to_120");
	sql(cfg->dbs[0].dbid, "SELECT jobid FROM job WHERE funcname = 'big'");
	res = mysql_store_result(raw(cfg->dbs[0].dbid));
	while ((row = mysql_fetch_row(res)) != NULL && nids < 120)
		ids[nids++] = DBV_U(strtoull(row[0], NULL, 10));
	mysql_free_result(res);
	ck_assert_uint_eq(nids, 120);
	for (tries = 0; tries < 5 && !k.fired; tries++) {
		ck_assert_msg(db_select_u64(db, SQL_NOW, NULL, 0, &now, &found,
		    err, sizeof(err)) == 0, "%s", err);
		k.victim = db_connection_id(db);
		ck_assert_uint_ne(k.victim, 0);
		ck_assert_int_eq(pthread_create(&k.thread, NULL, killer_run,
		    &k), 0);
		rc = db_select_jobs(db, SQL_SELECT_JOBS, ids, nids, &jobs, &n,
		    err, sizeof(err));
		pthread_join(k.thread, NULL);
		db_jobs_free(jobs, n);
		jobs = NULL;
		n = 0;
	}
	ck_assert_msg(k.fired, "the claim was never caught reading");
	ck_assert_msg(rc == -1, "a claim whose connection was killed "
	    "succeeded");
	/* Read as a lost connection, which the next call replaces. */
	ck_assert_msg(db_errno(db) >= 2000 || db_errno(db) == 1927,
	    "the killed connection read as error %u: %s", db_errno(db), err);
	ck_assert_msg(db_select_u64(db, SQL_NOW, NULL, 0, &now, &found, err,
	    sizeof(err)) == 0, "no reconnect after the kill: %s", err);
}
END_TEST

/* A connection lost inside a claim's transaction fails the whole
 * transaction: no later statement of it runs on a new connection (in
 * autocommit, without the claim's locks), and COMMIT reports failure. */
START_TEST(transaction_fails_with_its_connection)
{
	unsigned dbid = cfg->dbs[0].dbid;
	struct db *db = dbset_find(client_dbset(gv), dbid);
	struct dbval limit = DBV_U(10), p[4];
	struct gv_job *jobs = NULL;
	size_t n = 0, i;
	char err[512];

	sql(dbid, "INSERT INTO job (funcname, arg, run_after) VALUES "
	    "('t', 'a', 0), ('t', 'b', 0), ('t', 'c', 0)");
	ck_assert_int_eq(db_begin(db, err, sizeof(err)), 0);
	ck_assert_msg(db_select_jobs(db, SQL_SELECT_DUE, &limit, 1, &jobs, &n,
	    err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(n, 3);
	sql(dbid, "KILL CONNECTION %lu", db_connection_id(db));
	p[0] = DBV_U(300);
	for (i = 0; i < n; i++)
		p[i + 1] = DBV_U(jobs[i].jobid);
	/* The first statement meets the dead connection; the second must
	 * not find a new one. */
	ck_assert_int_eq(db_exec(db, SQL_LEASE, 3, p, 4, NULL, NULL, err,
	    sizeof(err)), -1);
	ck_assert_msg(db_exec(db, SQL_LEASE, 3, p, 4, NULL, NULL, err,
	    sizeof(err)) == -1, "a statement of a lost transaction ran");
	ck_assert_msg(db_commit(db, err, sizeof(err)) == -1,
	    "the commit of a lost transaction succeeded");
	db_rollback(db);
	ck_assert_int_eq(num(dbid, "SELECT SUM(attempt + leased) FROM job"),
	    0);
	/* Then the database serves the next transaction. */
	ck_assert_int_eq(db_begin(db, err, sizeof(err)), 0);
	ck_assert_msg(db_exec(db, SQL_LEASE, 3, p, 4, NULL, NULL, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_msg(db_commit(db, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(num(dbid, "SELECT SUM(leased) FROM job"), 3);
	db_jobs_free(jobs, n);
}
END_TEST

/* A ROLLBACK that meets a dead connection still ends the transaction:
 * the next statement, outside any transaction, connects again. It was
 * refused for good, as if still inside the lost transaction, and a
 * QueueRunner whose scheduler's rollback met a Galera node going away
 * claimed nothing again (tests/cluster/11-galera-partition-rolling.t,
 * rolling restart with a schedule). */
START_TEST(rollback_on_a_dead_connection_ends_it)
{
	unsigned dbid = cfg->dbs[0].dbid;
	struct db *db = dbset_find(client_dbset(gv), dbid);
	uint64_t now = 0;
	int found = 0;
	char err[512];

	ck_assert_int_eq(db_begin(db, err, sizeof(err)), 0);
	ck_assert_msg(db_select_u64(db, SQL_NOW, NULL, 0, &now, &found, err,
	    sizeof(err)) == 0, "%s", err);
	sql(dbid, "KILL CONNECTION %lu", db_connection_id(db));
	db_rollback(db);
	ck_assert_msg(db_select_u64(db, SQL_NOW, NULL, 0, &now, &found, err,
	    sizeof(err)) == 0, "after a rollback on a dead connection: %s",
	    err);
	ck_assert_int_eq(found, 1);
}
END_TEST

/*
 * Run by tests/faults/61-lost-answers.t on a GV_FAULTS build, one case per
 * process (CK_RUN_CASE) with the GV_FAULT_DB that case needs.
 */

/* GV_FAULT_DB=1,update,after: the failure is recorded, its answer lost,
 * and the retry must not count it twice (it parked jobs early). */
START_TEST(failure_answer_lost)
{
	struct gv_job job = leased_job("lost-fail");

	gv_set_retry(gv, 10);
	gv_set_max_failures(gv, 3);
	ck_assert_msg(gv_failed_job(gv, &job) == GV_OK, "%s", gv_errmsg(gv));
	ck_assert_int_eq(num(job.dbid, "SELECT failcount FROM job"), 1);
	ck_assert_int_lt(num(job.dbid, "SELECT run_after FROM job"), GV_NEVER);
	/* A failure that is not lost still counts. */
	sql(job.dbid, "UPDATE job SET leased = 1");
	ck_assert_msg(gv_failed_job(gv, &job) == GV_OK, "%s", gv_errmsg(gv));
	ck_assert_int_eq(num(job.dbid, "SELECT failcount FROM job"), 2);
}
END_TEST

/* GV_FAULT_DB=1,delete,after: the completion is done, its answer lost: the
 * retry finds the row gone and it is a success, not GV_ESTALE. */
START_TEST(completion_answer_lost)
{
	struct gv_job job = leased_job("lost-done");

	gv_set_retry(gv, 10);
	ck_assert_msg(gv_complete_job(gv, &job) == GV_OK, "%s",
	    gv_errmsg(gv));
	ck_assert_int_eq(num(job.dbid, "SELECT COUNT(*) FROM job"), 0);
	/* A stale completion is still stale. */
	job = leased_job("lost-done");
	sql(job.dbid, "UPDATE job SET attempt = 2");
	ck_assert_int_eq(gv_complete_job(gv, &job), GV_ESTALE);
}
END_TEST

/* GV_FAULT_DB=1,commit,deadlock: an insert batch whose COMMIT deadlocked
 * (a Galera certification conflict reports the same) was rolled back and
 * is tried again as a whole: acknowledged once, stored once. */
START_TEST(insert_commit_deadlock)
{
	struct gv_new_job j[10];
	char keys[10][8];
	size_t i, inserted = 0;

	/* Keyed, so that each has one home and no other database to go to
	 * after a failure. */
	for (i = 0; i < 10; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
		j[i] = (struct gv_new_job){ .funcname = "conflict",
		    .uniqkey = keys[i] };
	}
	ck_assert_msg(gv_insert_jobs(gv, j, 10, &inserted) == GV_OK, "%s",
	    gv_errmsg(gv));
	ck_assert_uint_eq(inserted, 10);
	ck_assert_int_eq(count_all("WHERE funcname = 'conflict'"), 10);
}
END_TEST

/* gv_insert_jobs of twenty_jobs(funcname, keyed). */
static int
insert_twenty(const char *funcname, int keyed, size_t *inserted)
{
	struct gv_new_job j[20];
	char args[20][16], keys[20][16];

	twenty_jobs(j, args, keys, funcname, keyed);
	return gv_insert_jobs(gv, j, 20, inserted);
}

/* GV_FAULT_DB=1,commit: the first COMMIT of a batch meets a connection
 * already gone, so it was never sent and the server rolled the
 * transaction back: the batch is done again, every job stored once. */
START_TEST(insert_commit_gone)
{
	size_t inserted = 0;

	ck_assert_msg(insert_twenty("gone", 1, &inserted) == GV_OK, "%s",
	    gv_errmsg(gv));
	ck_assert_uint_eq(inserted, 20);
	ck_assert_int_eq(count_all("WHERE funcname = 'gone'"), 20);
}
END_TEST

/* GV_FAULT_DB=1,commit,after: the first COMMIT is done and its answer
 * lost. Keyed jobs are settled by their keys: GV_OK, stored once. */
START_TEST(insert_commit_lost_keyed)
{
	size_t inserted = 0;

	ck_assert_msg(insert_twenty("lost-keyed", 2, &inserted) == GV_OK,
	    "%s", gv_errmsg(gv));
	ck_assert_int_eq(count_all("WHERE funcname = 'lost-keyed' AND "
	    "uniqkey IS NOT NULL"), 20);
	ck_assert_int_eq(count_all("WHERE funcname = 'lost-keyed'"), 20);
}
END_TEST

/* GV_FAULT_DB=1,commit,after, jobs without keys: nothing can tell whether
 * the lost COMMIT was done. GV_EUNKNOWN, naming the jobs, not GV_EDB; and
 * they are not stored a second time in the other database. */
START_TEST(insert_commit_lost_unkeyed)
{
	size_t inserted = 0;
	int rc;

	rc = insert_twenty("lost-free", 0, &inserted);
	ck_assert_msg(rc == GV_EUNKNOWN, "a lost COMMIT gave %d (%s): %s", rc,
	    gv_strerror(rc), gv_errmsg(gv));
	ck_assert_msg(strstr(gv_errmsg(gv), "jobs 0..19") != NULL,
	    "the message does not name the jobs: %s", gv_errmsg(gv));
	ck_assert_ptr_nonnull(strstr(gv_strerror(GV_EUNKNOWN), "unknown"));
	ck_assert_int_eq(count_all("WHERE funcname = 'lost-free'"), 20);
}
END_TEST

/* GV_FAULT_DB=1,insert,after: a single insert done by the server and its
 * answer lost. A job without a key is GV_EUNKNOWN, and is not stored a
 * second time on the other database (it was, and ran twice). */
START_TEST(insert_one_lost_unkeyed)
{
	struct gv_new_job j = { .funcname = "lost-one", .arg = "x",
	    .arg_len = 1, .flag = GV_FLAG_CONTROLLER };
	uint64_t jobid = 0;
	unsigned dbid = 0;
	int inserted = 0, rc;

	rc = gv_insert_job(gv, &j, &jobid, &dbid, &inserted);
	ck_assert_msg(rc == GV_EUNKNOWN, "a lost insert gave %d (%s): %s", rc,
	    gv_strerror(rc), gv_errmsg(gv));
	ck_assert_int_eq(count_all("WHERE funcname = 'lost-one'"), 1);
}
END_TEST

/* The same for a keyed job: settled by its key, GV_OK, stored once. */
START_TEST(insert_one_lost_keyed)
{
	struct gv_new_job j = { .funcname = "lost-one-keyed", .arg = "x",
	    .arg_len = 1, .uniqkey = "k1", .flag = GV_FLAG_CONTROLLER };
	uint64_t jobid = 0;
	unsigned dbid = 0;
	int inserted = 0;

	ck_assert_msg(gv_insert_job(gv, &j, &jobid, &dbid, &inserted) ==
	    GV_OK, "%s", gv_errmsg(gv));
	ck_assert_uint_gt(jobid, 0);
	ck_assert_int_eq(count_all("WHERE funcname = 'lost-one-keyed'"), 1);
}
END_TEST

/* GV_FAULT_DB=2,claim,after: the second select of a claim is done by the
 * server and its answer lost, the result still unread on a connection that
 * is in fact alive. Dropping that connection must not wait for the result:
 * closing the statements first made libmariadb read for it, and the
 * QueueRunner hung for the read timeout (60 s) holding the claim's row
 * locks, twice in a row (60-db-faults, "4,after,random one db"). */
START_TEST(select_answer_lost)
{
	unsigned dbid = cfg->dbs[0].dbid;
	struct db *db = dbset_find(client_dbset(gv), dbid);
	struct dbval limit = DBV_U(10), ids[3];
	struct gv_job *jobs = NULL, *whole = NULL;
	size_t n = 0, nwhole = 0, i;
	uint64_t now;
	int found;
	double t0;
	char err[512];

	sql(dbid, "INSERT INTO job (funcname, arg, run_after) VALUES "
	    "('t', 'a', 0), ('t', 'b', 0), ('t', 'c', 0)");
	ck_assert_int_eq(db_begin(db, err, sizeof(err)), 0);
	ck_assert_msg(db_select_jobs(db, SQL_SELECT_DUE, &limit, 1, &jobs, &n,
	    err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(n, 3);
	for (i = 0; i < n; i++)
		ids[i] = DBV_U(jobs[i].jobid);
	t0 = time_mono();
	ck_assert_int_eq(db_select_jobs(db, SQL_SELECT_JOBS, ids, n, &whole,
	    &nwhole, err, sizeof(err)), -1);
	ck_assert_msg(time_mono() - t0 < 10, "dropping the connection took "
	    "%.1f s", time_mono() - t0);
	ck_assert_ptr_nonnull(strstr(err, "fault injected"));
	db_rollback(db);
	/* The server let go of the claim's locks, and the next call finds a
	 * new connection. */
	ck_assert_msg(db_select_u64(db, SQL_NOW, NULL, 0, &now, &found, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(db_begin(db, err, sizeof(err)), 0);
	db_jobs_free(jobs, n);
	jobs = NULL;
	n = 0;
	ck_assert_msg(db_select_jobs(db, SQL_SELECT_DUE, &limit, 1, &jobs, &n,
	    err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(n, 3);
	db_rollback(db);
	db_jobs_free(jobs, n);
	db_jobs_free(whole, nwhole);
}
END_TEST

/* A database named by a list of hosts: a dead first host is passed over for
 * the next one, at once and without losing the insert. */
START_TEST(host_list_passes_over_a_dead_host)
{
	const struct config_db *d = &cfg->dbs[0];
	char hosts[300], err[256];
	struct gv_db_settings s;
	struct gv_new_job j = { .funcname = "hosts" };
	unsigned port;
	gv_client *one;

	snprintf(hosts, sizeof(hosts), "127.0.0.1:1, %s:%u", d->host, d->port);
	s = (struct gv_db_settings){ .dbid = d->dbid, .host = hosts,
	    .database = d->database, .user = d->user, .password = d->password };
	ck_assert_ptr_nonnull(one = gv_open(&s, 1, err, sizeof(err)));
	ck_assert_msg(gv_insert_job(one, &j, NULL, NULL, NULL) == GV_OK, "%s",
	    gv_errmsg(one));
	ck_assert_str_eq(db_host(dbset_at(client_dbset(one), 0), &port),
	    d->host);
	ck_assert_uint_eq(port, d->port);
	ck_assert_int_eq(num(d->dbid, "SELECT COUNT(*) FROM job WHERE "
	    "funcname = 'hosts'"), 1);
	gv_close(one);
	/* A list that cannot be parsed is refused at open. */
	s.host = "127.0.0.1:99999";
	ck_assert_ptr_null(gv_open(&s, 1, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "bad port"));
}
END_TEST

START_TEST(bad_arguments)
{
	struct gv_new_job j = { .funcname = "" };
	char longname[300];

	ck_assert_int_eq(gv_insert_job(gv, &j, NULL, NULL, NULL), GV_EINVAL);
	memset(longname, 'f', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	j.funcname = longname;
	ck_assert_int_eq(gv_insert_job(gv, &j, NULL, NULL, NULL), GV_EINVAL);
	ck_assert_ptr_nonnull(strstr(gv_errmsg(gv), "200"));
	j.funcname = GV_FUNC_RUN_QUEUED;
	ck_assert_int_eq(gv_insert_job(gv, &j, NULL, NULL, NULL), GV_EINVAL);
	ck_assert_ptr_nonnull(strstr(gv_errmsg(gv), "reserved"));
	ck_assert_int_eq(count_all(""), 0);
}
END_TEST

/* A case of its own, run only when GV_FAULT_DB is set: it needs a fault
 * build and the fault its .t file names. */
static void
fault_case(Suite *s, const char *name, const TTest *test)
{
	TCase *tc;

	if (getenv("GV_FAULT_DB") == NULL)
		return;
	tc = tcase_create(name);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

int
main(void)
{
	Suite *s = suite_create("libgarivini on MariaDB");
	TCase *tc = tcase_create("client");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, insert_jobs_lands_everywhere);
	tcase_add_test(tc, unique_key_stored_once);
	tcase_add_test(tc, delay_sets_run_after);
	tcase_add_test(tc, priority_stored_and_checked);
	tcase_add_test(tc, failed_job_backs_off);
	tcase_add_test(tc, retry_backoff_set);
	tcase_add_test(tc, failure_reasons_kept);
	tcase_add_test(tc, failure_reasons_swept);
	tcase_add_test(tc, admin_queries);
	tcase_add_test(tc, failure_without_error_table);
	tcase_add_test(tc, cancel_by_key_and_id);
	tcase_add_test(tc, retry_backoff_per_function);
	tcase_add_test(tc, every_byte_round_trips);
	tcase_add_test(tc, completion_is_fenced);
	tcase_add_test(tc, original_client_rows);
	tcase_add_test(tc, completions_share_commits);
	tcase_add_test(tc, failed_database_avoided);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, host_list_passes_over_a_dead_host);
	tcase_add_test(tc, insert_batch_connection_killed);
	suite_add_tcase(s, tc);
	/* Also run under valgrind by tests/t/10-client.t: libmariadb is not
	 * instrumented, so ASan misses a use after free inside it. */
	tc = tcase_create("db");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, connection_killed_during_fetch);
	tcase_add_test(tc, transaction_fails_with_its_connection);
	tcase_add_test(tc, rollback_on_a_dead_connection_ends_it);
	suite_add_tcase(s, tc);
	fault_case(s, "failure_answer_lost", failure_answer_lost);
	fault_case(s, "completion_answer_lost", completion_answer_lost);
	fault_case(s, "insert_commit_deadlock", insert_commit_deadlock);
	fault_case(s, "select_answer_lost", select_answer_lost);
	fault_case(s, "insert_commit_gone", insert_commit_gone);
	fault_case(s, "insert_commit_lost_keyed", insert_commit_lost_keyed);
	fault_case(s, "insert_commit_lost_unkeyed",
	    insert_commit_lost_unkeyed);
	fault_case(s, "insert_one_lost_unkeyed", insert_one_lost_unkeyed);
	fault_case(s, "insert_one_lost_keyed", insert_one_lost_keyed);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
