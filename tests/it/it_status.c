/*
 * it_status: what became of a job, through libgarivini, against two real
 * MariaDB databases: each state of a living job, the records of jobs that
 * ended (completed one at a time, shared commits, with results; cancelled),
 * by jobid and by unique key, keep_done, the cut of a long result, the
 * pruning, and a database without the job_outcome table.
 *
 * Run by tests/t/14-job-status.t with the INI of its private servers in
 * GV_TEST_INI ([function.nokeep] keep_done = 0, [function.short]
 * keep_done = 5, [function.window] unique_for = 600).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <mysql.h>

#include "client.h"
#include "config.h"
#include "dbset.h"
#include "outcome.h"
#include "it_db.h"

static gv_client *gv;

static void
setup(void)
{
	static const char *const tables[] = { "job", "job_outcome", NULL };

	gv = it_open(tables);
}

static void
teardown(void)
{
	it_close(gv);
}

/* A job of funcname (key: NULL none) as a worker holds it once claimed:
 * leased, attempt 1. Its strings are never freed (a test's few). */
static struct gv_job
claimed(const char *funcname, const char *key)
{
	struct gv_new_job nj = { .funcname = funcname, .uniqkey = key };
	struct gv_job job = { .fenced = 1, .attempt = 1 };

	job.funcname = strdup(funcname);
	job.uniqkey = key ? strdup(key) : NULL;
	ck_assert_msg(gv_insert_job(gv, &nj, &job.jobid, &job.dbid, NULL) ==
	    GV_OK, "%s", gv_errmsg(gv));
	sql(job.dbid, "UPDATE job SET attempt = 1, leased = 1, run_after = "
	    "UNIX_TIMESTAMP() + 300 WHERE jobid = %llu",
	    (unsigned long long)job.jobid);
	return job;
}

static enum gv_state
state_of(const struct gv_job *job, struct gv_job_status *st)
{
	gv_job_status_clear(st);
	ck_assert_msg(gv_job_status(gv, job->dbid, job->jobid, st) == GV_OK,
	    "%s", gv_errmsg(gv));
	return st->state;
}

START_TEST(living_states)
{
	struct gv_new_job nj = { .funcname = "live", .delay = 600 };
	struct gv_job job = { .funcname = "live", .fenced = 1 };
	struct gv_job_status st = { 0 };

	ck_assert_int_eq(gv_insert_job(gv, &nj, &job.jobid, &job.dbid, NULL),
	    GV_OK);
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_SCHEDULED);
	ck_assert_ptr_null(st.error);
	ck_assert_str_eq(st.funcname, "live");
	ck_assert_int_eq(st.has_uniqkey, 0);
	ck_assert_int_gt(st.run_after, 0);
	ck_assert_int_eq(st.ended, 0);
	sql(job.dbid, "UPDATE job SET run_after = UNIX_TIMESTAMP() - 1");
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_DUE);
	sql(job.dbid, "UPDATE job SET run_after = UNIX_TIMESTAMP() + 300, "
	    "leased = 1, attempt = 1");
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_RUNNING);
	ck_assert_uint_eq(st.attempt, 1);
	job.attempt = 1;
	ck_assert_int_eq(gv_failed_job_message(gv, &job, "boom"), GV_OK);
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_RETRYING);
	ck_assert_uint_eq(st.failcount, 1);
	ck_assert_int_gt(st.run_after, 0);
	ck_assert_str_eq(st.error, "boom");
	ck_assert_int_gt(st.error_time, 0);
	ck_assert_int_eq(gv_reschedule_job(gv, &job, "never"), GV_OK);
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_PARKED);
	ck_assert_str_eq(st.error, "boom");
	/* Never existed. */
	job.jobid += 1000000;
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_UNKNOWN);
	ck_assert_uint_eq(st.jobid, 0);
	ck_assert_str_eq(gv_state_name(GV_STATE_RETRYING), "retrying");
	gv_job_status_clear(&st);
	ck_assert_int_eq(gv_job_status(gv, 999, 1, &st), GV_EINVAL);
	ck_assert_int_eq(gv_job_status(gv, job.dbid, 0, &st), GV_EINVAL);
}
END_TEST

START_TEST(done_with_result)
{
	struct gv_job job = claimed("echo", "k-result");
	struct gv_job_status st = { 0 };
	unsigned char bytes[256];
	int i;

	for (i = 0; i < 256; i++)
		bytes[i] = (unsigned char)i;
	ck_assert_int_eq(gv_complete_job_result(gv, &job, bytes,
	    sizeof(bytes)), GV_OK);
	ck_assert_int_eq(num(job.dbid, "SELECT COUNT(*) FROM job"), 0);
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_DONE);
	ck_assert_str_eq(st.funcname, "echo");
	ck_assert_int_eq(st.has_uniqkey, 1);
	ck_assert_str_eq(st.uniqkey, "k-result");
	ck_assert_uint_eq(st.attempt, 1);
	ck_assert_int_gt(st.ended, 0);
	ck_assert_int_ge(st.kept_until, st.ended + GV_KEEP_DONE - 1);
	ck_assert_uint_eq(st.result_len, 256);
	ck_assert_int_eq(memcmp(st.result, bytes, 256), 0);
	ck_assert_int_eq(st.result_cut, 0);
	/* By key, once the row is gone: the record. */
	ck_assert_int_eq(gv_job_status_key(gv, "echo", "k-result", &st),
	    GV_OK);
	ck_assert_int_eq(st.state, GV_STATE_DONE);
	ck_assert_uint_eq(st.jobid, job.jobid);
	ck_assert_uint_eq(st.result_len, 256);
	/* A new job of the key lives: it is the one asked about. */
	job = claimed("echo", "k-result");
	ck_assert_int_eq(gv_job_status_key(gv, "echo", "k-result", &st),
	    GV_OK);
	ck_assert_int_eq(st.state, GV_STATE_RUNNING);
	ck_assert_uint_eq(st.jobid, job.jobid);
	ck_assert_ptr_null(st.result);
	/* A completion without a result keeps none; a stale one changes
	 * nothing. */
	ck_assert_int_eq(gv_complete_job(gv, &job), GV_OK);
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_DONE);
	ck_assert_ptr_null(st.result);
	ck_assert_int_eq(gv_complete_job_result(gv, &job, "x", 1), GV_ESTALE);
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_DONE);
	ck_assert_ptr_null(st.result);
	ck_assert_int_eq(gv_job_status_key(gv, "echo", "nope", &st), GV_OK);
	ck_assert_int_eq(st.state, GV_STATE_UNKNOWN);
	gv_job_status_clear(&st);
}
END_TEST

START_TEST(long_result_cut)
{
	struct gv_job job = claimed("echo", NULL);
	struct gv_job_status st = { 0 };
	size_t len = GV_RESULT_MAX + 1000;
	char *big = malloc(len);

	memset(big, 'r', len);
	ck_assert_int_eq(gv_complete_job_result(gv, &job, big, len), GV_OK);
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_DONE);
	ck_assert_uint_eq(st.result_len, GV_RESULT_MAX);
	ck_assert_int_eq(st.result_cut, 1);
	ck_assert_int_eq(memcmp(st.result, big, GV_RESULT_MAX), 0);
	gv_job_status_clear(&st);
	free(big);
}
END_TEST

START_TEST(shared_commits_recorded)
{
	enum { N = 250 };
	static struct gv_job jobs[N];
	static struct client_result res[N];
	static unsigned char done[N];
	static char text[N][16];
	struct gv_job_status st = { 0 };
	size_t i;

	for (i = 0; i < N; i++)
		jobs[i] = claimed(i % 2 ? "echo" : "nokeep", NULL);
	/* Deferred completions (a throughput worker): records, no result. */
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(gv_complete_later(gv, &jobs[i]), GV_OK);
	ck_assert_int_eq(gv_flush(gv), GV_OK);
	/* A Controller's, with results. */
	for (i = 100; i < N; i++) {
		snprintf(text[i], sizeof(text[i]), "result %zu", i);
		res[i - 100] = (struct client_result){ text[i],
		    strlen(text[i]) };
	}
	ck_assert_int_eq(client_complete_now(gv, jobs + 100, res, N - 100,
	    done), GV_OK);
	for (i = 100; i < N; i++)
		ck_assert_int_eq(done[i - 100], 1);
	for (i = 0; i < N; i++) {
		enum gv_state want = i % 2 ? GV_STATE_DONE : GV_STATE_UNKNOWN;

		ck_assert_msg(state_of(&jobs[i], &st) == want, "job %zu: %s",
		    i, gv_state_name(st.state));
		if (i >= 100 && i % 2) {
			ck_assert_uint_eq(st.result_len, strlen(text[i]));
			ck_assert_int_eq(memcmp(st.result, text[i],
			    st.result_len), 0);
		} else
			ck_assert_ptr_null(st.result);
	}
	gv_job_status_clear(&st);
	/* A stale copy among shared completions: rolled back, then one by
	 * one, and only the jobs whose rows it deleted are recorded. */
	for (i = 0; i < 10; i++)
		jobs[i] = claimed("echo", NULL);
	sql(jobs[3].dbid, "UPDATE job SET attempt = 2 WHERE jobid = %llu",
	    (unsigned long long)jobs[3].jobid);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(gv_complete_later(gv, &jobs[i]), GV_OK);
	gv_flush(gv);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(state_of(&jobs[i], &st),
		    i == 3 ? GV_STATE_RUNNING : GV_STATE_DONE);
	gv_job_status_clear(&st);
}
END_TEST

START_TEST(cancel_recorded)
{
	struct gv_job job = claimed("echo", "to-cancel");
	struct gv_job_status st = { 0 };
	uint64_t id;
	unsigned dbid;

	ck_assert_int_eq(gv_cancel_job(gv, "echo", "to-cancel", &id, &dbid),
	    GV_OK);
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_CANCELLED);
	ck_assert_str_eq(st.uniqkey, "to-cancel");
	job = claimed("short", NULL);
	ck_assert_int_eq(gv_cancel_jobid(gv, job.dbid, job.jobid), GV_OK);
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_CANCELLED);
	/* [function.short] keep_done = 5. */
	ck_assert_int_le(st.kept_until, st.ended + 5);
	ck_assert_int_ge(st.kept_until, st.ended + 4);
	/* Past its time it is unknown, pruned or not. */
	sql(job.dbid, "UPDATE job_outcome SET keep_until = UNIX_TIMESTAMP() - "
	    "1 WHERE jobid = %llu", (unsigned long long)job.jobid);
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_UNKNOWN);
	ck_assert_int_eq(gv_cancel_jobid(gv, job.dbid, job.jobid), GV_ESTALE);
	gv_job_status_clear(&st);
}
END_TEST

START_TEST(pruned_in_batches)
{
	struct db *db = dbset_at(client_dbset(gv), 0);
	unsigned dbid = db_id(db);
	uint64_t pruned;
	char err[512];

	sql(dbid, "INSERT INTO job_outcome (jobid, funcname, outcome, ended, "
	    "attempt, failcount, keep_until) SELECT seq, 'old', 'done', "
	    "UNIX_TIMESTAMP() - 100, 1, 0, UNIX_TIMESTAMP() - 10 FROM "
	    "seq_1_to_2500");
	sql(dbid, "INSERT INTO job_outcome (jobid, funcname, outcome, ended, "
	    "attempt, failcount, keep_until) VALUES (9000000, 'kept', 'done', "
	    "UNIX_TIMESTAMP(), 1, 0, UNIX_TIMESTAMP() + 600)");
	ck_assert_msg(outcome_prune(db, 1000, &pruned, err, sizeof(err)) ==
	    0, "%s", err);
	ck_assert_uint_eq(pruned, 1000);
	ck_assert_int_eq(outcome_prune(db, 1000, &pruned, err, sizeof(err)),
	    0);
	ck_assert_int_eq(outcome_prune(db, 1000, &pruned, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(pruned, 500);
	ck_assert_int_eq(num(dbid, "SELECT COUNT(*) FROM job_outcome"), 1);
}
END_TEST

START_TEST(keep_done_zero)
{
	struct gv_job job = claimed("nokeep", NULL);
	struct gv_job_status st = { 0 };

	ck_assert_int_eq(gv_complete_job(gv, &job), GV_OK);
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_UNKNOWN);
	ck_assert_int_eq(num(job.dbid, "SELECT COUNT(*) FROM job_outcome"), 0);
	/* The client's own default, set to none. */
	ck_assert_int_eq(gv_set_keep_done(gv, 0), GV_OK);
	job = claimed("echo", NULL);
	ck_assert_int_eq(gv_complete_job(gv, &job), GV_OK);
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_UNKNOWN);
	ck_assert_int_eq(gv_set_keep_done(gv, GV_KEEP_DONE_MAX + 1),
	    GV_EINVAL);
}
END_TEST

/* A database made before job_outcome: jobs complete and cancel as
 * before, without records, and their state is unknown once they end. */
START_TEST(without_outcome_table)
{
	struct gv_job job = claimed("echo", NULL);
	struct gv_job_status st = { 0 };
	struct gv_job later[5];
	unsigned dbid = job.dbid;
	size_t i;

	sql(dbid, "RENAME TABLE job_outcome TO job_outcome_away");
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_RUNNING);
	ck_assert_msg(gv_complete_job_result(gv, &job, "r", 1) == GV_OK, "%s",
	    gv_errmsg(gv));
	ck_assert_int_eq(num(dbid, "SELECT COUNT(*) FROM job WHERE jobid = "
	    "%llu", (unsigned long long)job.jobid), 0);
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_UNKNOWN);
	for (i = 0; i < 5; i++) {
		do
			later[i] = claimed("echo", NULL);
		while (later[i].dbid != dbid);
		ck_assert_int_eq(gv_complete_later(gv, &later[i]), GV_OK);
	}
	ck_assert_int_eq(gv_flush(gv), GV_OK);
	ck_assert_int_eq(num(dbid, "SELECT COUNT(*) FROM job WHERE funcname = "
	    "'echo'"), 0);
	do
		job = claimed("echo", NULL);
	while (job.dbid != dbid);
	ck_assert_int_eq(gv_cancel_jobid(gv, job.dbid, job.jobid), GV_OK);
	ck_assert_int_eq(num(dbid, "SELECT COUNT(*) FROM job WHERE funcname = "
	    "'echo'"), 0);
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_UNKNOWN);
	sql(dbid, "RENAME TABLE job_outcome_away TO job_outcome");
	gv_job_status_clear(&st);
}
END_TEST

/* [function.window] unique_for = 600, keep_done = 0: its done records are
 * kept for the window, and a key done inside it is a duplicate, for one
 * insert, for a batch and in any database the key maps to. */
START_TEST(unique_window)
{
	struct gv_job job = claimed("window", "w1");
	struct gv_new_job nj = { .funcname = "window", .uniqkey = "w1" };
	struct gv_new_job batch[3] = {
		{ .funcname = "window", .uniqkey = "w1" },
		{ .funcname = "window", .uniqkey = "w2" },
		{ .funcname = "echo", .uniqkey = "w1" },
	};
	struct gv_job_status st = { 0 };
	uint64_t id;
	unsigned dbid, w1db = job.dbid;
	size_t n;
	int inserted;

	ck_assert_int_eq(gv_complete_job(gv, &job), GV_OK);
	ck_assert_int_eq(state_of(&job, &st), GV_STATE_DONE);
	ck_assert_int_ge(st.kept_until, st.ended + 599);
	ck_assert_int_le(st.kept_until, st.ended + 600);
	ck_assert_int_eq(gv_insert_job(gv, &nj, &id, &dbid, &inserted), GV_OK);
	ck_assert_int_eq(inserted, 0);
	ck_assert_uint_eq(id, job.jobid);
	ck_assert_uint_eq(dbid, job.dbid);
	ck_assert_int_eq(num(job.dbid, "SELECT COUNT(*) FROM job WHERE "
	    "funcname = 'window'"), 0);
	/* Leased (the Injector's insert) too. */
	ck_assert_int_eq(client_insert_leased(gv, &nj, &id, &dbid, &inserted),
	    GV_OK);
	ck_assert_int_eq(inserted, 0);
	ck_assert_int_eq(gv_insert_jobs(gv, batch, 3, &n), GV_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(num(job.dbid, "SELECT COUNT(*) FROM job WHERE "
	    "uniqkey = 'w1' AND funcname = 'window'"), 0);
	/* A cancelled or deleted key is not done: no window. */
	job = claimed("window", "w3");
	ck_assert_int_eq(gv_cancel_jobid(gv, job.dbid, job.jobid), GV_OK);
	nj.uniqkey = "w3";
	ck_assert_int_eq(gv_insert_job(gv, &nj, &id, NULL, &inserted), GV_OK);
	ck_assert_int_eq(inserted, 1);
	/* Past the window, accepted again. */
	nj.uniqkey = "w1";
	sql(w1db, "UPDATE job_outcome SET ended = "
	    "ended - 601 WHERE funcname = 'window' AND uniqkey = 'w1'");
	ck_assert_int_eq(gv_insert_job(gv, &nj, &id, NULL, &inserted), GV_OK);
	ck_assert_int_eq(inserted, 1);
	gv_job_status_clear(&st);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("job states and records on MariaDB");
	TCase *tc = tcase_create("status");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, living_states);
	tcase_add_test(tc, done_with_result);
	tcase_add_test(tc, long_result_cut);
	tcase_add_test(tc, shared_commits_recorded);
	tcase_add_test(tc, cancel_recorded);
	tcase_add_test(tc, pruned_in_batches);
	tcase_add_test(tc, keep_done_zero);
	tcase_add_test(tc, without_outcome_table);
	tcase_add_test(tc, unique_window);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
