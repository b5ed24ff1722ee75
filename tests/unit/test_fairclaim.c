/*
 * test_fairclaim: a claim's fair share without a database: due scans
 * grouped into functions, the passes of a claim (equal shares, what a
 * drained function leaves, the watermark's room, priorities) and the lane
 * cursors that follow what each select gave.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fairclaim.h"
#include "unit.h"

static char fa[] = "a", fb[] = "b", fc_[] = "c", fd[] = "d";
static struct fairclaim fc;
static struct fairclaim_part parts[FAIRCLAIM_PARTS];

static struct gv_job
row(char *funcname, int priority, uint32_t run_after, uint64_t jobid)
{
	return (struct gv_job){ .funcname = funcname, .priority = priority,
	    .run_after = run_after, .jobid = jobid };
}

/* n rows of part k's lane, jobids from first. */
static size_t
rows_of(const struct fairclaim_part *part, size_t n, uint64_t first,
    struct gv_job *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = row((char *)(uintptr_t)part->funcname, part->priority,
		    100, first + i);
	return n;
}

/* The select of parts[0..n) gives give[k] rows of part k's lane, jobids
 * from 10 k + 1. */
static void
select_gives(size_t n, const size_t *give)
{
	struct gv_job got[10 * FAIRCLAIM_PARTS];
	size_t k, ngot = 0;

	for (k = 0; k < n; k++)
		ngot += rows_of(&parts[k], give[k], 10 * k + 1, got + ngot);
	fairclaim_took(&fc, parts, n, got, ngot);
}

static void
setup(void)
{
	memset(&fc, 0, sizeof(fc));
}

static void
teardown(void)
{
	fairclaim_free(&fc);
}

/* One lane per function, of priority 0, functions in the order given. */
static void
begin(unsigned rows, char *const *funcs, const long *room, size_t n)
{
	struct gv_job lane = row(NULL, 0, 0, 0);
	size_t k;

	ck_assert_int_eq(fairclaim_begin(&fc, rows, n, n), 0);
	for (k = 0; k < n; k++) {
		lane.funcname = funcs[k];
		fairclaim_add(&fc, funcs[k], &lane, 1, room ? room[k] :
		    LONG_MAX);
	}
}

START_TEST(test_group_oldest_first)
{
	struct gv_job lanes[] = { row(fb, 0, 50, 0), row(fa, 0, 100, 0),
	    row(fa, 5, 80, 0), row(fc_, -1, 10, 0) };
	struct fairclaim_func *funcs = NULL;
	size_t nfuncs = 0;

	ck_assert_int_eq(fairclaim_group(lanes, 4, &funcs, &nfuncs), 0);
	ck_assert_uint_eq(nfuncs, 3);
	ck_assert_str_eq(funcs[0].funcname, "c");
	ck_assert_str_eq(funcs[1].funcname, "b");
	ck_assert_str_eq(funcs[2].funcname, "a");
	ck_assert_uint_eq(funcs[2].oldest, 80);
	ck_assert_uint_eq(funcs[2].nlanes, 2);
	/* a's lanes, the highest priority first */
	ck_assert_int_eq(lanes[funcs[2].lane].priority, 5);
	ck_assert_int_eq(lanes[funcs[2].lane + 1].priority, 0);
	ck_assert_int_eq(fairclaim_group(lanes, 0, &funcs, &nfuncs), 0);
	ck_assert_uint_eq(nfuncs, 0);
	ck_assert_ptr_null(funcs);
}
END_TEST

START_TEST(test_equal_shares)
{
	char *funcs[] = { fa, fb, fc_ };
	size_t give[] = { 3, 3, 3 }, k;

	begin(9, funcs, NULL, 3);
	ck_assert_uint_eq(fairclaim_next(&fc, parts), 3);
	for (k = 0; k < 3; k++) {
		ck_assert_str_eq(parts[k].funcname, funcs[k]);
		ck_assert_uint_eq(parts[k].limit, 3);
	}
	select_gives(3, give);
	ck_assert_uint_eq(fairclaim_next(&fc, parts), 0);
}
END_TEST

/* Two functions a and b, a batch of 10: the first pass asks a for first_a
 * rows and b for 5, a gives gives_a and b its 5; the second pass asks b
 * alone for the 3 left, after its last row. */
static void
b_takes_the_rest(const long *room, unsigned first_a, size_t gives_a)
{
	char *funcs[] = { fa, fb };
	size_t give[] = { gives_a, 5 };

	begin(10, funcs, room, 2);
	ck_assert_uint_eq(fairclaim_next(&fc, parts), 2);
	ck_assert_uint_eq(parts[0].limit, first_a);
	ck_assert_uint_eq(parts[1].limit, 5);
	select_gives(2, give);
	ck_assert_uint_eq(fairclaim_next(&fc, parts), 1);
	ck_assert_str_eq(parts[0].funcname, "b");
	ck_assert_uint_eq(parts[0].limit, 3);
	ck_assert_uint_eq(parts[0].after_run, 100);
	ck_assert_uint_eq(parts[0].after_id, 15);
}

/* What a function without enough due rows leaves goes to the others in
 * the next pass. */
START_TEST(test_second_pass_shares_the_rest)
{
	size_t give[] = { 3 };

	b_takes_the_rest(NULL, 5, 2);
	select_gives(1, give);
	ck_assert_uint_eq(fairclaim_next(&fc, parts), 0);
}
END_TEST

START_TEST(test_only_two_passes)
{
	char *funcs[] = { fa };
	size_t give[] = { 4 };

	begin(10, funcs, NULL, 1);
	ck_assert_uint_eq(fairclaim_next(&fc, parts), 1);
	ck_assert_uint_eq(parts[0].limit, 10);
	/* Short of the limit: drained, and a's only lane is done. */
	select_gives(1, give);
	ck_assert_uint_eq(fairclaim_next(&fc, parts), 0);
}
END_TEST

/* a has room for 2 under its watermark: b takes the rest. */
START_TEST(test_room_under_the_watermark)
{
	long room[] = { 2, LONG_MAX };

	b_takes_the_rest(room, 2, 2);
}
END_TEST

/* A batch smaller than the functions: one row each, the longest waiting
 * first. */
START_TEST(test_small_batch_longest_waiting_first)
{
	char *funcs[] = { fd, fc_, fb, fa };
	size_t n;

	begin(2, funcs, NULL, 4);
	n = fairclaim_next(&fc, parts);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(parts[0].funcname, "d");
	ck_assert_str_eq(parts[1].funcname, "c");
	ck_assert_uint_eq(parts[0].limit, 1);
	ck_assert_uint_eq(parts[1].limit, 1);
}
END_TEST

/* Priorities order a function's own rows: its highest lane first, the
 * next one with what the drained lane left. */
START_TEST(test_priorities_within_a_function)
{
	struct gv_job lanes[] = { row(fa, 5, 0, 0), row(fa, 0, 0, 0) };
	size_t give[] = { 4 }, n;

	ck_assert_int_eq(fairclaim_begin(&fc, 10, 1, 2), 0);
	fairclaim_add(&fc, fa, lanes, 2, LONG_MAX);
	n = fairclaim_next(&fc, parts);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(parts[0].priority, 5);
	ck_assert_uint_eq(parts[0].limit, 10);
	select_gives(1, give);
	n = fairclaim_next(&fc, parts);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(parts[0].priority, 0);
	ck_assert_uint_eq(parts[0].limit, 6);
	ck_assert_uint_eq(parts[0].after_id, 0);
}
END_TEST

/* More functions than parts in a select: several selects in one pass. */
START_TEST(test_many_functions_several_selects)
{
	static char names[40][8];
	char *funcs[40];
	size_t k;

	for (k = 0; k < 40; k++) {
		snprintf(names[k], sizeof(names[k]), "f%02zu", k);
		funcs[k] = names[k];
	}
	begin(400, funcs, NULL, 40);
	ck_assert_uint_eq(fairclaim_next(&fc, parts), FAIRCLAIM_PARTS);
	ck_assert_uint_eq(parts[0].limit, 10);
	ck_assert_str_eq(parts[31].funcname, "f31");
	fairclaim_took(&fc, parts, FAIRCLAIM_PARTS, NULL, 0);
	ck_assert_uint_eq(fairclaim_next(&fc, parts), 40 - FAIRCLAIM_PARTS);
	ck_assert_str_eq(parts[0].funcname, "f32");
	ck_assert_uint_eq(parts[0].limit, 10);
}
END_TEST

/* Rows come back in any order; each lane's cursor is its last row. */
START_TEST(test_cursor_follows_the_rows)
{
	char *funcs[] = { fa, fb };
	struct gv_job got[] = { row(fb, 0, 7, 3), row(fa, 0, 9, 1),
	    row(fa, 0, 9, 4), row(fa, 0, 8, 9) };
	size_t n;

	begin(6, funcs, NULL, 2);
	n = fairclaim_next(&fc, parts);
	ck_assert_uint_eq(n, 2);
	fairclaim_took(&fc, parts, n, got, 4);
	/* b gave 1 of 3: drained; a gave 3 of 3 and goes on after (9, 4). */
	n = fairclaim_next(&fc, parts);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(parts[0].funcname, "a");
	ck_assert_uint_eq(parts[0].after_run, 9);
	ck_assert_uint_eq(parts[0].after_id, 4);
	ck_assert_uint_eq(parts[0].limit, 2);
}
END_TEST

START_TEST(test_no_candidates)
{
	begin(10, NULL, NULL, 0);
	ck_assert_uint_eq(fairclaim_next(&fc, parts), 0);
}
END_TEST

START_TEST(test_claim_order)
{
	struct gv_job rows[] = { row(fa, 0, 5, 2), row(fb, 3, 9, 1),
	    row(fa, 0, 5, 1), row(fa, 0, 4, 7) };

	fairclaim_order(rows, 4);
	ck_assert_int_eq(rows[0].priority, 3);
	ck_assert_uint_eq(rows[1].jobid, 7);
	ck_assert_uint_eq(rows[2].jobid, 1);
	ck_assert_uint_eq(rows[3].jobid, 2);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_group_oldest_first, test_equal_shares,
		test_second_pass_shares_the_rest, test_only_two_passes,
		test_room_under_the_watermark,
		test_small_batch_longest_waiting_first,
		test_priorities_within_a_function,
		test_many_functions_several_selects,
		test_cursor_follows_the_rows, test_no_candidates,
		test_claim_order,
	};

	return unit_run("fairclaim", tests, sizeof(tests) / sizeof(tests[0]),
	    setup, teardown);
}
