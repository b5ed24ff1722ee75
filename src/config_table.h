/*
 * config_table: the table of garivini.ini's keys, one row a key with its
 * type, default, bounds, whether a reload may change it and which roles read
 * it. Internal to the config module's files: config.c parses a file with it,
 * config_same.c compares two configurations by it, config_dump.c prints one.
 */
#ifndef CONFIG_TABLE_H
#define CONFIG_TABLE_H

#include <stddef.h>

#include "config.h"

enum key_type {
	KT_STRING,      /* char *; "" means none when the default is none */
	KT_INT,         /* int */
	KT_UINT,        /* unsigned */
	KT_DOUBLE,      /* double */
	KT_LEVEL,       /* int, enum log_level */
	KT_SERVERS,     /* char * as written, parsed into cfg->servers */
	KT_HOSTS,       /* char * as written, checked as a host list */
	KT_BOOL,        /* int 0 or 1: yes/no, true/false, on/off, 1/0 */
};

/* flags */
#define K_FIXED         0x1     /* a reload may not change it */
#define K_REQUIRED      0x2
#define K_SECRET        0x4     /* never printed */

/* readers: the roles whose children read a key (config_same_role) */
#define R_QR            0x1
#define R_INJ           0x2
#define R_CTL           0x4
#define R_ALL           (R_QR | R_INJ | R_CTL)

struct key {
	const char *section;    /* "db" stands for every [db.N] */
	const char *name;
	enum key_type type;
	const char *def;        /* as it would be written; NULL: none */
	double min, max;        /* numbers only */
	unsigned flags;
	unsigned readers;
	size_t off;             /* in struct config, or struct config_db */
	const char *help;
};

#define G(field) offsetof(struct config, field)
#define D(field) offsetof(struct config_db, field)
#define F(field) offsetof(struct config_func, field)
#define S(field) offsetof(struct config_sched, field)
#define DB_SECTION "db"
#define FUNC_SECTION "function"
#define SCHED_SECTION "schedule"
#define SCHED_NAME_MAX 200      /* the name column of schedule_state */
#define SCHED_EVERY_MAX 31536000 /* a year */
/* A key of [function.NAME] without a value there takes the value of the
 * main sections: its field holds this. */
#define UNSET (-1)
/* A number of garivini.h as a default of the table. */
#define DEF_(n) #n
#define DEF(n) DEF_(n)

/* Rows the table may hold: sizes the parser's per-key arrays (a static
 * assertion in config_table.c holds the table to it). */
#define CONFIG_TABLE_MAX 64

extern const struct key config_table[];
extern const size_t config_table_len;

/* The keys of the main sections, of a [db.N], of a [function.NAME], of a
 * [schedule.NAME]. */
enum config_kind { MAIN, DB, FUNC, SCHED };

enum config_kind config_table_kind(const struct key *k);
/* Where key k's value is in base (struct config, config_db, config_func or
 * config_sched, by its kind). */
void *config_table_field(void *base, const struct key *k);
const void *config_table_cfield(const void *base, const struct key *k);
/* The row of key name in section ("db" for every [db.N]); -1: none. */
int config_table_find(const char *section, const char *name);
/* The first row of a section: stands for the section itself; -1: none. */
int config_table_section(const char *section);

/* In config.c, for config_same.c: a [function.NAME] section as no line of
 * it sets; the index of the role called name (-1: none); the readers bit
 * of role r. */
void config_func_defaults(struct config_func *f);
int config_role_index(const char *name);
unsigned config_role_readers(int r);

#endif
