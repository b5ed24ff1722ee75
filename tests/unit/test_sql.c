/*
 * test_sql: the shapes of the generated statements.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sql.h"

static unsigned
count(const char *s, const char *what)
{
	unsigned n = 0;

	while ((s = strstr(s, what)) != NULL) {
		n++;
		s += strlen(what);
	}
	return n;
}

START_TEST(test_variable_statements)
{
	char buf[8192];
	const char *q;

	q = sql_text(SQL_LEASE, 3, buf, sizeof(buf));
	ck_assert_ptr_nonnull(q);
	ck_assert_ptr_nonnull(strstr(q, "IN (?, ?, ?)"));
	ck_assert_uint_eq(strlen(q) + 1, sql_text_size(SQL_LEASE, 3));
	/* One select per function, joined into one statement. */
	q = sql_text(SQL_SELECT_DUE_FUNCS, 4, buf, sizeof(buf));
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(count(q, " UNION ALL "), 3);
	ck_assert_uint_eq(count(q, "FOR UPDATE SKIP LOCKED)"), 4);
	ck_assert_uint_eq(count(q, "?"), 4 * sql_params_per_row(
	    SQL_SELECT_DUE_FUNCS));
	ck_assert_uint_eq(strlen(q) + 1, sql_text_size(SQL_SELECT_DUE_FUNCS,
	    4));
	/* A buffer one byte short is refused, never overrun. */
	ck_assert_ptr_null(sql_text(SQL_SELECT_DUE_FUNCS, 4, buf,
	    sql_text_size(SQL_SELECT_DUE_FUNCS, 4) - 1));
	ck_assert_ptr_null(sql_text(SQL_LEASE, 0, buf, sizeof(buf)));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sql");
	TCase *tc = tcase_create("sql");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_variable_statements);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
