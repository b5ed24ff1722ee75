/*
 * jobfield: the vocabulary of a job's fields, one home per word: how its
 * flag is spelt (in the job table, job documents, inject_jobs payloads,
 * garivini.ini and gvctl), which function names are Garivini's own
 * (gv_funcname_reserved, garivini.h), how a job's states are named
 * (gv_state_name: job_outcome's ENUM, gvctl, the job_status answer), and
 * how a new job's fields fill the parameters of SQL_INSERT.
 */
#ifndef JOBFIELD_H
#define JOBFIELD_H

#include <stddef.h>

#include "db.h"
#include "garivini.h"

/* The flag's spellings, those of the job table's ENUM (schema.sql). */
#define JOBFIELD_FLAG_SHIM "shim"
#define JOBFIELD_FLAG_CONTROLLER "controller"

const char *jobfield_flag_name(enum gv_flag flag);
/* The flag spelt by the len bytes of name (a NUL among them spells
 * nothing). 0, or -1 when they spell no flag. */
int jobfield_flag_parse(const char *name, size_t len, enum gv_flag *flag);

/* A new job's row: p[0 .. JOBFIELD_INSERT_PARAMS) of SQL_INSERT, for job,
 * leased (its delay is then its lease) or not. p points into job's
 * strings. */
#define JOBFIELD_INSERT_PARAMS 8
void jobfield_insert_params(struct dbval *p, const struct gv_new_job *job,
    int leased);
/* job's fields as a job to insert, due in delay seconds; the strings are
 * job's. */
struct gv_new_job jobfield_new_job(const struct gv_job *job, long delay);

#endif
