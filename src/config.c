/*
 * config: garivini.ini into a struct config, driven by one table of keys.
 *
 * inih does the tokenising. Its handler is told neither the line of a key nor
 * that a section began, so we hand it our own line reader: it counts lines,
 * refuses lines longer than inih's buffer (inih would silently split them into
 * two lines) and notes each section header as it passes. Every error found is
 * collected, so an operator fixes a file in one round.
 */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ini.h>

#include "config_table.h"
#include "cron.h"
#include "garivini.h"
#include "hostport.h"
#include "jobfield.h"
#include "jobjson.h"
#include "log_level.h"
#include "util.h"


/* The roles: the one table of their names. */
static const struct {
	const char *name;       /* the role, and the section of its keys */
	unsigned bit;           /* in struct key's readers */
} roles[CONFIG_NROLES] = {
	[CONFIG_QUEUE_RUNNER] = { "queue_runner", R_QR },
	[CONFIG_INJECTOR] = { "injector", R_INJ },
	[CONFIG_CONTROLLER] = { "controller", R_CTL },
};


/* The state of one parse, reached by the reader and the handler. */
struct parse {
	struct config *cfg;
	const char *name;               /* file name for messages */
	FILE *fp;
	int line;                       /* line last handed to inih */
	int key_seen;                   /* inih's prev_name is set */
	int continuation;               /* inih will join this line to a key */
	char section[256];              /* current section, as written */
	int skip;                       /* ignore its keys: reported already */
	struct config_db *db;           /* current [db.N], or NULL */
	size_t func;                    /* current [function.NAME] + 1, or 0 */
	int section_line[CONFIG_TABLE_MAX]; /* header line, by first row */
	int key_line[CONFIG_TABLE_MAX];     /* line each key was set on */
	int db_key_line[CONFIG_MAX_DBS][CONFIG_TABLE_MAX];
	int (*func_key_line)[CONFIG_TABLE_MAX];    /* per [function.NAME] */
	size_t sched;                   /* current [schedule.NAME] + 1, or 0 */
	int (*sched_key_line)[CONFIG_TABLE_MAX];   /* per [schedule.NAME] */
	struct buf errors;
	int nerrors;
	int nomem;
};


/* "FILE:LINE: [section] key: reason", leaving out what is not known. */
static void __attribute__((format(printf, 5, 6)))
report(struct parse *p, int line, const char *section, const char *key,
    const char *fmt, ...)
{
	struct buf *b = &p->errors;
	char reason[1024];
	va_list ap;
	int rc = 0;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (b->len)
		rc |= buf_appendc(b, '\n');
	if (line > 0)
		rc |= buf_printf(b, "%s:%d: ", p->name, line);
	else
		rc |= buf_printf(b, "%s: ", p->name);
	if (section && key)
		rc |= buf_printf(b, "[%s] %s: ", section, key);
	else if (section)
		rc |= buf_printf(b, "[%s]: ", section);
	else if (key)
		rc |= buf_printf(b, "%s: ", key);
	rc |= buf_printf(b, "%s", reason);
	if (rc)
		p->nomem = 1;
	p->nerrors++;
}

/* Copy the collected errors into err; when they do not fit, keep whole lines
 * and say that more follow. */
static void
errors_out(const struct buf *b, char *err, size_t errlen)
{
	static const char more[] = "\n... more errors";
	size_t keep;
	const char *nl;

	if (err == NULL || errlen == 0)
		return;
	if (b->len < errlen) {
		memcpy(err, b->data, b->len + 1);
		return;
	}
	if (errlen <= sizeof(more)) {
		snprintf(err, errlen, "%s", more + 1);
		return;
	}
	keep = 0;
	for (nl = b->data; (nl = strchr(nl, '\n')) != NULL; nl++) {
		if ((size_t)(nl - b->data) + sizeof(more) > errlen)
			break;
		keep = (size_t)(nl - b->data);
	}
	if (keep == 0)  /* even the first error is too long: cut it */
		keep = errlen - sizeof(more);
	memcpy(err, b->data, keep);
	memcpy(err + keep, more, sizeof(more));
}


static int
parse_servers(struct config *cfg, const char *value, char *why,
    size_t whylen)
{
	struct hostport list[CONFIG_MAX_SERVERS];
	size_t i, n;

	if (hostport_parse_list(value, 4730, list, CONFIG_MAX_SERVERS, &n, why,
	    whylen) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		memcpy(cfg->servers[i].host, list[i].host,
		    sizeof(cfg->servers[i].host));
		cfg->servers[i].port = list[i].port;
	}
	cfg->nservers = n;
	return 0;
}

/* Store value (as written in the file, or a default) into the key's field. */
static int
set_value(struct config *cfg, void *base, const struct key *k,
    const char *value, char *why, size_t whylen)
{
	void *f = config_table_field(base, k);
	char **sp = f;
	char *copy = NULL;
	double d;
	long l;
	int level;

	switch (k->type) {
	case KT_STRING:
	case KT_SERVERS:
	case KT_HOSTS:
		if (*value == '\0' && k->def && *k->def)
			return errf(why, whylen, "must not be empty");
		if (*value == '\0' && (k->flags & K_REQUIRED))
			return errf(why, whylen, "must not be empty");
		if (k->type == KT_SERVERS &&
		    parse_servers(cfg, value, why, whylen) == -1)
			return -1;
		if (k->type == KT_HOSTS) {
			struct hostport hosts[HOSTPORT_MAX_PER_DB];
			size_t n;

			if (hostport_parse_list(value, 3306, hosts,
			    HOSTPORT_MAX_PER_DB, &n, why, whylen) == -1)
				return -1;
		}
		/* An empty value of a key whose default is none means none. */
		if ((*value || k->def) && (copy = strdup(value)) == NULL)
			return errf(why, whylen, "out of memory");
		free(*sp);
		*sp = copy;
		return 0;
	case KT_INT:
	case KT_UINT:
		if (parse_long(value, LONG_MIN, LONG_MAX, &l) == -1)
			return errf(why, whylen,
			    "'%s' is not an integer (%.15g..%.15g)", value,
			    k->min, k->max);
		if ((double)l < k->min || (double)l > k->max)
			return errf(why, whylen,
			    "%s is out of range %.15g..%.15g", value, k->min,
			    k->max);
		if (k->type == KT_INT)
			*(int *)f = (int)l;
		else
			*(unsigned *)f = (unsigned)l;
		return 0;
	case KT_DOUBLE:
		if (parse_double(value, -DBL_MAX, DBL_MAX, &d) == -1)
			return errf(why, whylen,
			    "'%s' is not a number (%.15g..%.15g)", value,
			    k->min, k->max);
		if (d < k->min || d > k->max)
			return errf(why, whylen,
			    "%s is out of range %.15g..%.15g", value, k->min,
			    k->max);
		*(double *)f = d;
		return 0;
	case KT_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 ||
		    strcmp(value, "on") == 0 || strcmp(value, "1") == 0)
			*(int *)f = 1;
		else if (strcmp(value, "no") == 0 ||
		    strcmp(value, "false") == 0 || strcmp(value, "off") == 0 ||
		    strcmp(value, "0") == 0)
			*(int *)f = 0;
		else
			return errf(why, whylen, "'%s' is not yes or no", value);
		return 0;
	case KT_LEVEL:
		if ((level = log_level_parse(value)) == -1)
			return errf(why, whylen, "unknown log level '%s' (err, "
			    "warn, notice, info or debug)", value);
		*(int *)f = level;
		return 0;
	}
	return errf(why, whylen, "unknown key type");
}

/* Set the defaults of the rows of one kind of section. */
static void
set_defaults(struct parse *p, void *base, enum config_kind want,
    const char *section)
{
	char why[256];
	size_t i;

	for (i = 0; i < config_table_len; i++) {
		const struct key *k = &config_table[i];

		if (config_table_kind(k) != want ||
		    k->def == NULL)
			continue;
		if (set_value(p->cfg, base, k, k->def, why,
		    sizeof(why)) == -1)
			report(p, 0, section ? section : k->section,
			    k->name, "default: %s", why);
	}
}

static struct config_db *
find_db(struct config *cfg, unsigned dbid)
{
	size_t i;

	for (i = 0; i < cfg->ndbs; i++)
		if (cfg->dbs[i].dbid == dbid)
			return &cfg->dbs[i];
	return NULL;
}

static void
known_sections(char *out, size_t outlen)
{
	enum config_kind k;
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < config_table_len; i++) {
		if ((int)i != config_table_section(config_table[i].section))
			continue;
		k = config_table_kind(&config_table[i]);
		len += (size_t)snprintf(out + len, outlen - len, "%s[%s%s]",
		    len ? ", " : "", config_table[i].section,
		    k == DB ? ".N" : k != MAIN ? ".NAME" : "");
		if (len >= outlen)
			return;
	}
}

/* A named section as no line of it sets: its numbers with no default are
 * UNSET (for a [function.NAME], the main sections' value). */
static void
named_defaults(void *base, enum config_kind want)
{
	char why[256];
	size_t i;

	for (i = 0; i < config_table_len; i++) {
		const struct key *k = &config_table[i];

		if (config_table_kind(k) != want)
			continue;
		if (k->def)
			(void)set_value(NULL, base, k, k->def, why,
			    sizeof(why));
		else if (k->type == KT_INT)
			*(int *)config_table_field(base, k) = UNSET;
		else if (k->type == KT_DOUBLE)
			*(double *)config_table_field(base, k) = UNSET;
	}
}

void
config_func_defaults(struct config_func *f)
{
	memset(f, 0, sizeof(*f));
	named_defaults(f, FUNC);
}

/* Room for one more named section in *arr (n of size bytes) and its key
 * lines, both zeroed; returns a copy of its name, or NULL when memory ran
 * out. */
static char *
named_grow(struct parse *p, void *arrp, size_t n, size_t size,
    int (**lines)[CONFIG_TABLE_MAX], const char *name)
{
	void **arr = arrp, *a;
	int (*l)[CONFIG_TABLE_MAX];
	char *copy = NULL;

	if ((a = realloc(*arr, (n + 1) * size)) != NULL)
		*arr = a;
	if ((l = realloc(*lines, (n + 1) * sizeof(**lines))) != NULL)
		*lines = l;
	if (a == NULL || l == NULL || (copy = strdup(name)) == NULL) {
		p->nomem = 1;
		p->skip = 1;
		return NULL;
	}
	memset((char *)a + n * size, 0, size);
	memset(l[n], 0, sizeof(l[n]));
	return copy;
}

/* The index of the named section called name in arr (n of size bytes, each
 * beginning with its name), or -1. */
static long
named_find(const void *arr, size_t n, size_t size, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(*(char *const *)(const void *)((const char *)arr +
		    i * size), name) == 0)
			return (long)i;
	return -1;
}

/* Why name cannot be a job's function (a section's or a schedule's), or
 * NULL. */
static const char *
funcname_problem(const char *name)
{
	size_t len = strlen(name);

	if (len > GV_FUNCNAME_MAX)
		return "a function name is at most " STR(GV_FUNCNAME_MAX)
		    " bytes";
	if (!jobjson_utf8_valid(name, len))
		return "a function name must be valid UTF-8";
	if (gv_funcname_reserved(name))
		return "names a function Garivini serves itself";
	return NULL;
}

/* [function.NAME]: NAME is a function's name as its jobs carry it, byte
 * for byte. */
static void
begin_func(struct parse *p, const char *name)
{
	struct config *cfg = p->cfg;
	struct config_func *f;
	char *copy;
	const char *bad;
	long i;

	bad = *name ? funcname_problem(name) :
	    "names no function: [function.NAME]";
	if (bad) {
		report(p, p->line, p->section, NULL, "%s", bad);
		p->skip = 1;
		return;
	}
	if ((i = named_find(cfg->funcs, cfg->nfuncs, sizeof(*cfg->funcs),
	    name)) >= 0) {
		report(p, p->line, p->section, NULL,
		    "duplicate section (first on line %d)", cfg->funcs[i].line);
		p->func = (size_t)i + 1;
		return;
	}
	if ((copy = named_grow(p, &cfg->funcs, cfg->nfuncs,
	    sizeof(*cfg->funcs), &p->func_key_line, name)) == NULL)
		return;
	f = &cfg->funcs[cfg->nfuncs];
	config_func_defaults(f);
	f->name = copy;
	f->line = p->line;
	cfg->nfuncs++;
	p->func = cfg->nfuncs;
}

/* [schedule.NAME]: NAME names its state row and its jobs' unique keys, so
 * it is kept to characters any shell, log and SQL client shows as they
 * are. */
static void
begin_sched(struct parse *p, const char *name)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.";
	struct config *cfg = p->cfg;
	struct config_sched *s;
	char *copy;
	long i;

	if (*name == '\0' || strlen(name) > SCHED_NAME_MAX ||
	    strspn(name, ok) != strlen(name)) {
		report(p, p->line, p->section, NULL, "the NAME of "
		    "[schedule.NAME] is 1 to %d letters, digits, '_', '-' or "
		    "'.'", SCHED_NAME_MAX);
		p->skip = 1;
		return;
	}
	if ((i = named_find(cfg->scheds, cfg->nscheds, sizeof(*cfg->scheds),
	    name)) >= 0) {
		report(p, p->line, p->section, NULL,
		    "duplicate section (first on line %d)",
		    cfg->scheds[i].line);
		p->sched = (size_t)i + 1;
		return;
	}
	if ((copy = named_grow(p, &cfg->scheds, cfg->nscheds,
	    sizeof(*cfg->scheds), &p->sched_key_line, name)) == NULL)
		return;
	s = &cfg->scheds[cfg->nscheds];
	named_defaults(s, SCHED);
	s->name = copy;
	s->line = p->line;
	cfg->nscheds++;
	p->sched = cfg->nscheds;
}

static void
begin_section(struct parse *p, const char *name)
{
	struct config *cfg = p->cfg;
	struct config_db *db;
	char known[256];
	const char *n;
	long dbid;
	int row;

	snprintf(p->section, sizeof(p->section), "%s", name);
	p->skip = 0;
	p->db = NULL;
	p->func = 0;
	p->sched = 0;
	if (strncmp(name, DB_SECTION ".", strlen(DB_SECTION ".")) == 0) {
		n = name + strlen(DB_SECTION ".");
		if (!(*n >= '1' && *n <= '9') || strspn(n, "0123456789") !=
		    strlen(n) || parse_long(n, 1, 65535, &dbid) == -1) {
			report(p, p->line, name, NULL,
			    "the N of [db.N] must be an integer 1..65535");
			p->skip = 1;
			return;
		}
		if ((db = find_db(cfg, (unsigned)dbid)) != NULL) {
			/* Its keys still go to the first one, so a key set in
			 * both is reported too. */
			report(p, p->line, name, NULL,
			    "duplicate section (first on line %d)", db->line);
			p->db = db;
			return;
		}
		if (cfg->ndbs == CONFIG_MAX_DBS) {
			report(p, p->line, name, NULL,
			    "too many databases (at most %d)", CONFIG_MAX_DBS);
			p->skip = 1;
			return;
		}
		db = &cfg->dbs[cfg->ndbs++];
		db->dbid = (unsigned)dbid;
		db->line = p->line;
		set_defaults(p, db, DB, name);
		p->db = db;
		return;
	}
	if (strncmp(name, FUNC_SECTION ".", strlen(FUNC_SECTION ".")) == 0) {
		begin_func(p, name + strlen(FUNC_SECTION "."));
		return;
	}
	if (strncmp(name, SCHED_SECTION ".", strlen(SCHED_SECTION ".")) == 0) {
		begin_sched(p, name + strlen(SCHED_SECTION "."));
		return;
	}
	if ((row = config_table_section(name)) == -1 ||
	    config_table_kind(&config_table[row]) != MAIN) {
		known_sections(known, sizeof(known));
		report(p, p->line, name, NULL, "unknown section (known: %s)",
		    known);
		p->skip = 1;
		return;
	}
	if (p->section_line[row])
		report(p, p->line, name, NULL,
		    "duplicate section (first on line %d)",
		    p->section_line[row]);
	else
		p->section_line[row] = p->line;
}

/* inih's rule for where a value or header ends: at one of chars, or at an
 * inline ';' comment, which needs whitespace before it. */
static const char *
find_end(const char *s, const char *chars)
{
	int was_space = 0;

	while (*s && !strchr(chars, *s) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* Classify a line the way inih will, to see the section headers it does not
 * report and the malformed lines it reports only the first of. */
static void
classify(struct parse *p, const char *line)
{
	const char *s = line, *end;
	char name[sizeof(p->section)];
	size_t len;

	p->continuation = 0;
	if (p->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || *s == ';' || *s == '#')
		return;
	if (s > line && p->key_seen) {
		p->continuation = 1;
		return;
	}
	if (*s == '[') {
		end = find_end(s + 1, "]");
		p->key_seen = 0;
		if (*end != ']') {
			report(p, p->line, NULL, NULL,
			    "section header without ']'");
			p->section[0] = '\0';
			p->db = NULL;
			p->skip = 1;
			return;
		}
		len = (size_t)(end - (s + 1));
		if (len >= sizeof(name))
			len = sizeof(name) - 1;
		memcpy(name, s + 1, len);
		name[len] = '\0';
		begin_section(p, name);
		return;
	}
	end = find_end(s, "=:");
	if (*end != '=' && *end != ':') {
		report(p, p->line, NULL, NULL,
		    "expected \"key = value\", a [section] or a ; comment");
		return;
	}
	p->key_seen = 1;
}

/* inih's reader: fgets that counts lines and refuses lines that do not fit
 * inih's buffer (it would read the rest as a line of its own). */
static char *
read_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	size_t len;
	int c;

	if (fgets(str, num, p->fp) == NULL)
		return NULL;
	p->line++;
	len = strlen(str);
	if (len == (size_t)num - 1 && str[len - 1] != '\n') {
		/* The buffer is full: fine only if the line ends right here. */
		c = getc(p->fp);
		if (c == '\r')
			c = getc(p->fp);
		if (c != EOF && c != '\n') {
			while (c != EOF && c != '\n')
				c = getc(p->fp);
			report(p, p->line, NULL, NULL,
			    "line too long (at most %d characters)", num - 1);
			/* A header we cannot read: its keys would land in
			 * the section before it. */
			if (str[strspn(str, " \t")] == '[')
				p->skip = 1;
			p->continuation = 0;
			str[0] = '\0';
			return str;
		}
	}
	classify(p, str);
	return str;
}

static int
handle(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	struct config *cfg = p->cfg;
	char why[512];
	int row, *lines;
	void *base;

	(void)section;  /* ours is complete: inih truncates long names */
	if (p->continuation) {
		report(p, p->line, p->section[0] ? p->section : NULL, name,
		    "an indented line continues the value of the key above; "
		    "remove the indentation");
		return 1;
	}
	if (p->skip)
		return 1;
	if (p->section[0] == '\0') {
		report(p, p->line, NULL, name,
		    "key outside any section: put it under a [section]");
		return 1;
	}
	if ((row = config_table_find(p->db ? DB_SECTION : p->func ?
	    FUNC_SECTION : p->sched ? SCHED_SECTION : p->section, name)) == -1) {
		report(p, p->line, p->section, name, "unknown key");
		return 1;
	}
	if (p->db) {
		lines = p->db_key_line[p->db - cfg->dbs];
		base = p->db;
	} else if (p->func) {
		lines = p->func_key_line[p->func - 1];
		base = &cfg->funcs[p->func - 1];
	} else if (p->sched) {
		lines = p->sched_key_line[p->sched - 1];
		base = &cfg->scheds[p->sched - 1];
	} else {
		lines = p->key_line;
		base = cfg;
	}
	if (lines[row]) {
		report(p, p->line, p->section, name, "already set on line %d",
		    lines[row]);
		return 1;
	}
	lines[row] = p->line;
	if (set_value(cfg, base, &config_table[row], value, why,
	    sizeof(why)) == -1)
		report(p, p->line, p->section, name, "%s", why);
	return 1;
}

/* Named sections by name: struct config_func and struct config_sched both
 * begin with it. */
static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_db(const void *a, const void *b)
{
	const struct config_db *x = a, *y = b;

	return (x->dbid > y->dbid) - (x->dbid < y->dbid);
}

static void
check_required(struct parse *p)
{
	struct config *cfg = p->cfg;
	char section[300];
	size_t i, j;

	for (i = 0; i < config_table_len; i++) {
		const struct key *k = &config_table[i];

		if (!(k->flags & K_REQUIRED))
			continue;
		if (config_table_kind(k) == MAIN) {
			if (p->key_line[i] == 0)
				report(p, p->section_line[config_table_section(
				    k->section)], k->section,
				    k->name, "required key missing");
			continue;
		}
		for (j = 0; config_table_kind(k) == SCHED &&
		    j < cfg->nscheds; j++) {
			if (p->sched_key_line[j][i])
				continue;
			snprintf(section, sizeof(section), SCHED_SECTION ".%s",
			    cfg->scheds[j].name);
			report(p, cfg->scheds[j].line, section, k->name,
			    "required key missing");
		}
		for (j = 0; config_table_kind(k) == DB && j < cfg->ndbs; j++) {
			if (p->db_key_line[j][i])
				continue;
			snprintf(section, sizeof(section), DB_SECTION ".%u",
			    cfg->dbs[j].dbid);
			report(p, cfg->dbs[j].line, section, k->name,
			    "required key missing");
		}
	}
}

/* The lowest dbid configured (0: none). */
static int
lowest_dbid(const struct config *cfg)
{
	unsigned low = 0;
	size_t i;

	for (i = 0; i < cfg->ndbs; i++)
		if (low == 0 || cfg->dbs[i].dbid < low)
			low = cfg->dbs[i].dbid;
	return (int)low;
}

/*
 * What the table cannot check of a [schedule.NAME]: exactly one of cron and
 * every, a cron that parses, a function a job may have, missed once or
 * skip, a database that is configured. Each error at the line of its key.
 */
static void
check_sched(struct parse *p, struct config_sched *s, const int *lines)
{
	char section[300], why[512];
	int row_cron = config_table_find(SCHED_SECTION, "cron");
	int row_every = config_table_find(SCHED_SECTION, "every");
	int row_func = config_table_find(SCHED_SECTION, "function");
	int row_missed = config_table_find(SCHED_SECTION, "missed");
	int row_dbid = config_table_find(SCHED_SECTION, "dbid");
	enum gv_flag flag;
	const char *bad;

	snprintf(section, sizeof(section), SCHED_SECTION ".%s", s->name);
	if (lines[row_func] && s->function &&
	    (bad = funcname_problem(s->function)) != NULL)
		report(p, lines[row_func], section, "function", "%s: %s",
		    s->function, bad);
	if (lines[row_cron] && lines[row_every])
		report(p, lines[row_cron] > lines[row_every] ?
		    lines[row_cron] : lines[row_every], section,
		    lines[row_cron] > lines[row_every] ? "cron" : "every",
		    "set both cron and every: give one of them");
	else if (!lines[row_cron] && !lines[row_every])
		report(p, s->line, section, "cron",
		    "missing: give cron or every");
	else if (lines[row_cron] && s->cron == NULL)
		report(p, lines[row_cron], section, "cron", "must not be empty");
	else if (lines[row_cron] && cron_parse(s->cron, &s->parsed, why,
	    sizeof(why)) == -1)
		report(p, lines[row_cron], section, "cron", "'%s': %s",
		    s->cron, why);
	if (strcmp(s->missed, "once") == 0)
		s->policy = MISSED_ONCE;
	else if (strcmp(s->missed, "skip") == 0)
		s->policy = MISSED_SKIP;
	else
		report(p, lines[row_missed], section, "missed",
		    "'%s' is not once or skip", s->missed);
	if (jobfield_flag_parse(s->flag, strlen(s->flag), &flag) == 0)
		s->controller = flag == GV_FLAG_CONTROLLER;
	else
		report(p, lines[config_table_find(SCHED_SECTION, "flag")],
		    section, "flag", "'%s' is not " JOBFIELD_FLAG_SHIM " or "
		    JOBFIELD_FLAG_CONTROLLER, s->flag);
	if (s->dbid == UNSET)
		s->dbid = lowest_dbid(p->cfg);
	else if (find_db(p->cfg, (unsigned)s->dbid) == NULL)
		report(p, lines[row_dbid], section, "dbid",
		    "no [db.%d] section", s->dbid);
}

/* The backoff of the function whose section is f (NULL: none). */
static int
retry_first(const struct config *cfg, const struct config_func *f)
{
	return f && f->retry_first != UNSET ? f->retry_first :
	    cfg->controller.retry_first;
}

static int
retry_max(const struct config *cfg, const struct config_func *f)
{
	return f && f->retry_max != UNSET ? f->retry_max :
	    cfg->controller.retry_max;
}

/*
 * A retry_max below retry_first would cap every delay at the first one and
 * void the doubling without a word: refused, at the line of the key the
 * section sets (retry_max when it sets both). A pair a function completes
 * with [controller]'s value is checked as it takes effect.
 */
static void
check_backoff_pair(struct parse *p, const char *section, const int *lines,
    int row_first, int row_max, int first, int max, int inherits)
{
	if (max >= first)
		return;
	if (lines[row_max])
		report(p, lines[row_max], section, "retry_max",
		    "%d is less than retry_first (%d%s)", max, first,
		    inherits && !lines[row_first] ? ", [controller]'s" : "");
	else if (lines[row_first])
		report(p, lines[row_first], section, "retry_first",
		    "%d is more than retry_max (%d%s)", first, max,
		    inherits ? ", [controller]'s" : "");
}

static void
check_backoff(struct parse *p)
{
	const struct config *cfg = p->cfg;
	char section[300];
	size_t i;

	check_backoff_pair(p, "controller", p->key_line,
	    config_table_find("controller", "retry_first"),
	    config_table_find("controller", "retry_max"),
	    cfg->controller.retry_first, cfg->controller.retry_max, 0);
	for (i = 0; i < cfg->nfuncs; i++) {
		snprintf(section, sizeof(section), FUNC_SECTION ".%s",
		    cfg->funcs[i].name);
		check_backoff_pair(p, section, p->func_key_line[i],
		    config_table_find(FUNC_SECTION, "retry_first"),
		    config_table_find(FUNC_SECTION, "retry_max"),
		    retry_first(cfg, &cfg->funcs[i]),
		    retry_max(cfg, &cfg->funcs[i]), 1);
	}
}

static struct config *
load_stream(FILE *fp, const char *name, char *err, size_t errlen)
{
	struct config *cfg = NULL;
	struct parse *p;
	int rc;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (cfg->path = strdup(name)) == NULL) {
		errf(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	p->cfg = cfg;
	p->name = name;
	p->fp = fp;
	set_defaults(p, cfg, MAIN, NULL);
	rc = ini_parse_stream(read_line, p, handle, p);
	if (rc == -2 || ferror(fp)) {
		report(p, 0, NULL, NULL, rc == -2 ? "out of memory" :
		    "read error");
	} else if (rc > 0 && p->nerrors == 0) {
		/* Our classification missed what inih refused. */
		report(p, rc, NULL, NULL, "syntax error");
	}
	if (cfg->ndbs == 0)
		report(p, 0, NULL, NULL,
		    "no database configured: add a [db.1] section");
	check_required(p);
	for (size_t i = 0; i < cfg->nscheds; i++)
		check_sched(p, &cfg->scheds[i], p->sched_key_line[i]);
	/* Only on an otherwise good file: a value refused above left its
	 * default in place, and comparing that would report a pair nobody
	 * wrote. Before the sort: func_key_line follows the file's order. */
	if (p->nerrors == 0)
		check_backoff(p);
	if (p->nomem) {
		errf(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	if (p->nerrors) {
		errors_out(&p->errors, err, errlen);
		goto fail;
	}
	qsort(cfg->dbs, cfg->ndbs, sizeof(cfg->dbs[0]), cmp_db);
	if (cfg->nfuncs)
		qsort(cfg->funcs, cfg->nfuncs, sizeof(cfg->funcs[0]), cmp_name);
	if (cfg->nscheds)
		qsort(cfg->scheds, cfg->nscheds, sizeof(cfg->scheds[0]),
		    cmp_name);
	buf_free(&p->errors);
	free(p->func_key_line);
	free(p->sched_key_line);
	free(p);
	return cfg;
fail:
	if (p) {
		buf_free(&p->errors);
		free(p->func_key_line);
		free(p->sched_key_line);
	}
	free(p);
	config_free(cfg);
	return NULL;
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct config *cfg;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	cfg = load_stream(fp, path, err, errlen);
	fclose(fp);
	return cfg;
}

struct config *
config_load_string(const char *text, const char *name, char *err,
    size_t errlen)
{
	struct config *cfg;
	char *copy;
	FILE *fp;

	/* A private copy: fmemopen wants a writable buffer, and may refuse an
	 * empty one, which reads the same as an empty line. */
	if ((copy = strdup(*text ? text : "\n")) == NULL) {
		errf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	if ((fp = fmemopen(copy, strlen(copy), "r")) == NULL) {
		errf(err, errlen, "%s: %s", name, strerror(errno));
		free(copy);
		return NULL;
	}
	cfg = load_stream(fp, name, err, errlen);
	fclose(fp);
	free(copy);
	return cfg;
}

static void
free_keys(void *base, enum config_kind want)
{
	size_t i;

	for (i = 0; i < config_table_len; i++) {
		const struct key *k = &config_table[i];

		if (config_table_kind(k) != want)
			continue;
		if (k->type == KT_STRING || k->type == KT_SERVERS ||
		    k->type == KT_HOSTS)
			free(*(char **)config_table_field(base, k));
	}
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free_keys(cfg, MAIN);
	for (i = 0; i < cfg->ndbs; i++)
		free_keys(&cfg->dbs[i], DB);
	for (i = 0; i < cfg->nfuncs; i++) {
		free_keys(&cfg->funcs[i], FUNC);
		free(cfg->funcs[i].name);
	}
	free(cfg->funcs);
	for (i = 0; i < cfg->nscheds; i++) {
		free_keys(&cfg->scheds[i], SCHED);
		free(cfg->scheds[i].name);
	}
	free(cfg->scheds);
	free(cfg->path);
	free(cfg);
}


int
config_role_index(const char *name)
{
	int r;

	for (r = 0; r < CONFIG_NROLES; r++)
		if (strcmp(roles[r].name, name) == 0)
			return r;
	return -1;
}

const char *
config_role_name(enum config_role role)
{
	return roles[role].name;
}

int
config_processes(const struct config *cfg, const char *role)
{
	int r = config_role_index(role);

	/* Every role has its processes key in its section. */
	return r < 0 ? 0 : *(const int *)config_table_cfield(cfg,
	    &config_table[config_table_find(roles[r].name, "processes")]);
}

unsigned
config_role_readers(int r)
{
	return roles[r].bit;
}


/* True when gid is the group the configuration names (key group): the
 * group the service runs as, which must read its own file when it does not
 * start as root (the Debian package: root:garivini, mode 0640). */
static int
service_group(const struct config *cfg, gid_t gid)
{
	struct group gr, *found = NULL;
	char names[4096];

	if (cfg->group == NULL || *cfg->group == '\0')
		return 0;
	if (getgrgid_r(gid, &gr, names, sizeof(names), &found) != 0 ||
	    found == NULL)
		return 0;
	return strcmp(found->gr_name, cfg->group) == 0;
}

/* A password is only as secret as the file holding it. Checked on the path
 * just loaded: a reload may bring a file with other permissions. */
const char *
config_secret_warning(const struct config *cfg, char *buf, size_t buflen)
{
	struct stat st;
	size_t i;

	for (i = 0; i < cfg->ndbs; i++)
		if (cfg->dbs[i].password && *cfg->dbs[i].password)
			break;
	if (i == cfg->ndbs || cfg->path == NULL ||
	    stat(cfg->path, &st) == -1 || (st.st_mode & (S_IRGRP | S_IROTH |
	    S_IWGRP | S_IWOTH)) == 0)
		return NULL;
	if ((st.st_mode & (S_IROTH | S_IWGRP | S_IWOTH)) == 0 &&
	    service_group(cfg, st.st_gid))
		return NULL;
	snprintf(buf, buflen, "%s holds a database password ([db.%u]) and is "
	    "%s by %s (mode %04o): let only its owner read it (chmod 600)",
	    cfg->path, cfg->dbs[i].dbid,
	    st.st_mode & (S_IWGRP | S_IWOTH) ? "writable" : "readable",
	    st.st_mode & (S_IROTH | S_IWOTH) ? "others" : "its group",
	    (unsigned)(st.st_mode & 07777));
	return buf;
}


static int
cmp_func_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct config_func *)elem)->name);
}

const struct config_func *
config_func(const struct config *cfg, const char *funcname)
{
	if (cfg->nfuncs == 0)
		return NULL;
	return bsearch(funcname, cfg->funcs, cfg->nfuncs, sizeof(*cfg->funcs),
	    cmp_func_name);
}

int
config_paused(const struct config *cfg, const char *funcname)
{
	const struct config_func *f = config_func(cfg, funcname);

	return f && f->paused;
}

int
config_watermark(const struct config *cfg, const char *funcname)
{
	const struct config_func *f = config_func(cfg, funcname);

	return f && f->queue_watermark_depth != UNSET ?
	    f->queue_watermark_depth : cfg->queue_runner.queue_watermark_depth;
}

int
config_any_watermark(const struct config *cfg)
{
	size_t i;

	if (cfg->queue_runner.queue_watermark_depth > 0)
		return 1;
	for (i = 0; i < cfg->nfuncs; i++)
		if (cfg->funcs[i].queue_watermark_depth > 0)
			return 1;
	return 0;
}

int
config_max_failures(const struct config *cfg, const char *funcname)
{
	const struct config_func *f = config_func(cfg, funcname);

	return f && f->max_failures != UNSET ? f->max_failures :
	    cfg->controller.max_failures;
}

double
config_job_timeout(const struct config *cfg, const char *funcname)
{
	const struct config_func *f = config_func(cfg, funcname);

	return f && f->job_timeout != UNSET ? f->job_timeout :
	    cfg->controller.job_timeout;
}

double
config_stop_grace(const struct config *cfg, const char *role)
{
	double longest = cfg->controller.job_timeout;
	size_t i;

	if (strcmp(role, roles[CONFIG_CONTROLLER].name) != 0)
		return cfg->shutdown_timeout;
	for (i = 0; i < cfg->nfuncs; i++)
		if (cfg->funcs[i].job_timeout != UNSET &&
		    cfg->funcs[i].job_timeout > longest)
			longest = cfg->funcs[i].job_timeout;
	longest += CONFIG_STOP_SPARE;
	return cfg->shutdown_timeout > longest ? cfg->shutdown_timeout :
	    longest;
}

int
config_lease_seconds(const struct config *cfg, const char *funcname)
{
	const struct config_func *f = config_func(cfg, funcname);

	return f && f->lease_seconds != UNSET ? f->lease_seconds :
	    cfg->queue_runner.lease_seconds;
}

int
config_retry_first(const struct config *cfg, const char *funcname)
{
	return retry_first(cfg, config_func(cfg, funcname));
}

int
config_retry_max(const struct config *cfg, const char *funcname)
{
	return retry_max(cfg, config_func(cfg, funcname));
}

int
config_keep_done(const struct config *cfg, const char *funcname)
{
	const struct config_func *f = config_func(cfg, funcname);

	return f && f->keep_done != UNSET ? f->keep_done : cfg->keep_done;
}

int
config_unique_for(const struct config *cfg, const char *funcname)
{
	const struct config_func *f = config_func(cfg, funcname);

	return f && f->unique_for != UNSET ? f->unique_for : 0;
}
