/*
 * config_dump: every key of a configuration with its value, default and
 * whether a reload may change it (`garivini -t -v`); secrets not printed.
 */
#include <stdio.h>

#include "config_table.h"
#include "log_level.h"

static void
format_value(const struct config *cfg, const void *base, const struct key *k,
    char *out, size_t outlen)
{
	const void *f = config_table_cfield(base, k);
	const char *s;

	(void)cfg;
	switch (k->type) {
	case KT_STRING:
	case KT_SERVERS:
	case KT_HOSTS:
		s = *(char *const *)f;
		if (k->flags & K_SECRET)
			snprintf(out, outlen, "%s",
			    s && *s ? "(set)" : "(empty)");
		else
			snprintf(out, outlen, "%s", s ? s : "(none)");
		return;
	case KT_INT:
		if (k->def == NULL && *(const int *)f == UNSET)
			snprintf(out, outlen, "(none)");
		else
			snprintf(out, outlen, "%d", *(const int *)f);
		return;
	case KT_BOOL:
		snprintf(out, outlen, "%s", *(const int *)f ? "yes" : "no");
		return;
	case KT_UINT:
		snprintf(out, outlen, "%u", *(const unsigned *)f);
		return;
	case KT_DOUBLE:
		if (k->def == NULL && *(const double *)f == UNSET)
			snprintf(out, outlen, "(none)");
		else
			snprintf(out, outlen, "%.15g", *(const double *)f);
		return;
	case KT_LEVEL:
		snprintf(out, outlen, "%s", log_level_name(*(const int *)f));
		return;
	}
	snprintf(out, outlen, "?");
}

static void
dump_key(const struct config *cfg, const void *base, const char *section,
    const struct key *k, FILE *fp)
{
	char value[512];
	const char *def;

	format_value(cfg, base, k, value, sizeof(value));
	if (k->flags & K_REQUIRED)
		def = "required";
	else if (k->def == NULL)
		def = "none";
	else if (*k->def == '\0')
		def = "\"\"";
	else
		def = k->def;
	fprintf(fp, "[%s] %s = %s  (default %s; reload: %s)  # %s\n", section,
	    k->name, value, def, k->flags & K_FIXED ? "no" : "yes", k->help);
}

/* The keys of one section of kind want, base holding their values. */
static void
dump_section(const struct config *cfg, const void *base, const char *section,
    enum config_kind want, FILE *fp)
{
	size_t r;

	for (r = 0; r < config_table_len; r++)
		if (config_table_kind(&config_table[r]) == want)
			dump_key(cfg, base, section, &config_table[r], fp);
}

void
config_dump(const struct config *cfg, FILE *fp)
{
	char section[300];
	enum config_kind k;
	size_t i, j;

	for (i = 0; i < config_table_len; i++) {
		k = config_table_kind(&config_table[i]);
		if (k == MAIN) {
			dump_key(cfg, cfg, config_table[i].section,
			    &config_table[i], fp);
			continue;
		}
		/* Every section of a kind in full, where its first key
		 * stands. */
		if ((int)i != config_table_section(config_table[i].section))
			continue;
		for (j = 0; k == FUNC && j < cfg->nfuncs; j++) {
			snprintf(section, sizeof(section), FUNC_SECTION ".%s",
			    cfg->funcs[j].name);
			dump_section(cfg, &cfg->funcs[j], section, FUNC, fp);
		}
		for (j = 0; k == SCHED && j < cfg->nscheds; j++) {
			snprintf(section, sizeof(section), SCHED_SECTION ".%s",
			    cfg->scheds[j].name);
			dump_section(cfg, &cfg->scheds[j], section, SCHED, fp);
		}
		for (j = 0; k == DB && j < cfg->ndbs; j++) {
			snprintf(section, sizeof(section), DB_SECTION ".%u",
			    cfg->dbs[j].dbid);
			dump_section(cfg, &cfg->dbs[j], section, DB, fp);
		}
	}
}
