/*
 * dbfault: database calls failed on purpose, for tests/faults.
 *
 * Always compiled, active only in a build with -DGV_FAULTS (make FAULTS=1):
 * there DBFAULT and DBFAULT_TEXT call the module, elsewhere they are the
 * constants below and the calls cost nothing.
 */
#ifndef DBFAULT_H
#define DBFAULT_H

#include "sql.h"

enum dbfault_kind { DBFAULT_ANY, DBFAULT_CONNECT, DBFAULT_CLAIM,
	DBFAULT_INSERT, DBFAULT_DELETE, DBFAULT_UPDATE, DBFAULT_SELECT,
	DBFAULT_COMMIT, DBFAULT_FETCH };

/* The kind of call statement id makes. */
enum dbfault_kind dbfault_kind_of(enum sql_id id);
/* The error to fake at this point of a call of kind (0: none). Each call
 * passes here once before it is made and, when it succeeded, once after. */
unsigned dbfault_at(enum dbfault_kind kind, int after);
/* The server's message, or the fault's when one was just faked. */
const char *dbfault_text(const char *real);

#ifdef GV_FAULTS
#define DBFAULT(kind, after) dbfault_at((kind), (after))
#define DBFAULT_TEXT(real) dbfault_text(real)
#else
#define DBFAULT(kind, after) 0u
#define DBFAULT_TEXT(real) (real)
#endif

#endif
