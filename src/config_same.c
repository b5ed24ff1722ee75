/*
 * config_same: whether two configurations differ where it matters: in a key
 * a reload may not change, or in a key a role's children read (the master
 * replaces those children on a reload).
 */
#include <string.h>

#include "config_table.h"

static int
same_value(const struct config *a, const void *abase,
    const struct config *b, const void *bbase, const struct key *k)
{
	const void *fa = config_table_cfield(abase, k);
	const void *fb = config_table_cfield(bbase, k);
	const char *sa, *sb;
	size_t i;

	switch (k->type) {
	case KT_STRING:
	case KT_HOSTS:
		sa = *(char *const *)fa;
		sb = *(char *const *)fb;
		return (sa == NULL && sb == NULL) ||
		    (sa && sb && strcmp(sa, sb) == 0);
	case KT_SERVERS:
		/* The parsed list: "h" and "h:4730" are the same servers. */
		if (a->nservers != b->nservers)
			return 0;
		for (i = 0; i < a->nservers; i++)
			if (a->servers[i].port != b->servers[i].port ||
			    strcmp(a->servers[i].host, b->servers[i].host))
				return 0;
		return 1;
	case KT_INT:
	case KT_LEVEL:
	case KT_BOOL:
		return *(const int *)fa == *(const int *)fb;
	case KT_UINT:
		return *(const unsigned *)fa == *(const unsigned *)fb;
	case KT_DOUBLE:
		return *(const double *)fa == *(const double *)fb;
	}
	return 0;
}

/* 1 if key k of [function.NAME] has the same value in b as in a for every
 * function a names; a section b lacks holds the defaults. */
static int
same_func_key(const struct config *a, const struct config *b,
    const struct key *k)
{
	const struct config_func *fb;
	struct config_func none;
	size_t i;

	config_func_defaults(&none);
	for (i = 0; i < a->nfuncs; i++) {
		fb = config_func(b, a->funcs[i].name);
		if (!same_value(a, &a->funcs[i], b, fb ? fb : &none, k))
			return 0;
	}
	return 1;
}

/* 1 if every key with one of flags, or read by one of readers, is the same.
 * Selecting a [db.N] key compares it in every database, and the set of
 * databases itself. */
static int
same_keys(const struct config *a, const struct config *b, unsigned flags,
    unsigned readers)
{
	size_t i, j;

	for (i = 0; i < config_table_len; i++) {
		const struct key *k = &config_table[i];

		if (!(k->flags & flags) && !(k->readers & readers))
			continue;
		if (config_table_kind(k) == MAIN) {
			if (!same_value(a, a, b, b, k))
				return 0;
			continue;
		}
		if (config_table_kind(k) == FUNC) {
			if (!same_func_key(a, b, k) || !same_func_key(b, a, k))
				return 0;
			continue;
		}
		/* Both sorted by name: a schedule added, removed or changed
		 * is a difference. */
		if (config_table_kind(k) == SCHED) {
			if (a->nscheds != b->nscheds)
				return 0;
			for (j = 0; j < a->nscheds; j++)
				if (strcmp(a->scheds[j].name,
				    b->scheds[j].name) != 0 ||
				    !same_value(a, &a->scheds[j], b,
				    &b->scheds[j], k))
					return 0;
			continue;
		}
		if (a->ndbs != b->ndbs)
			return 0;
		for (j = 0; j < a->ndbs; j++)
			if (a->dbs[j].dbid != b->dbs[j].dbid ||
			    !same_value(a, &a->dbs[j], b, &b->dbs[j], k))
				return 0;
	}
	return 1;
}

int
config_same_fixed(const struct config *a, const struct config *b)
{
	return same_keys(a, b, K_FIXED, 0);
}

int
config_same_role(const struct config *a, const struct config *b,
    const char *role)
{
	int r = config_role_index(role);

	/* An unknown role: replacing its children is safe. */
	return r < 0 ? 0 : same_keys(a, b, 0, config_role_readers(r));
}
