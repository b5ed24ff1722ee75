/*
 * test_sql: the shapes of the generated statements.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sql.h"
#include "unit.h"

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

/* A fixed statement binds as many parameters as the table says; the backoff
 * of a failure is two of them, after max_failures. */
START_TEST(test_fixed_params)
{
	int id;

	for (id = 0; id < SQL_COUNT; id++) {
		if (sql_variable((enum sql_id)id))
			continue;
		ck_assert_msg(count(sql_text((enum sql_id)id, 0, NULL, 0), "?") ==
		    sql_params_fixed((enum sql_id)id), "%s",
		    sql_name((enum sql_id)id));
	}
	ck_assert_uint_eq(sql_params_fixed(SQL_FAIL), 5);
	ck_assert_uint_eq(sql_params_fixed(SQL_FAIL_ANY), 4);
	ck_assert_ptr_nonnull(strstr(sql_text(SQL_FAIL, 0, NULL, 0),
	    "LEAST(CAST(? AS UNSIGNED) << LEAST(failcount, 30), "
	    "CAST(? AS UNSIGNED))"));
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_variable_statements, test_fixed_params,
	};

	return unit_run("sql", tests, sizeof(tests) / sizeof(tests[0]),
	    NULL, NULL);
}
