/*
 * jobfield: the vocabulary of a job's fields (see jobfield.h). Here, and
 * not with the database client, so that every module that reads or checks
 * a job's field (the JSON documents, the INI's function and schedule
 * sections) finds it without one.
 */
#include <string.h>

#include "jobfield.h"

int
gv_funcname_reserved(const char *funcname)
{
	return funcname && (strcmp(funcname, GV_FUNC_INJECT) == 0 ||
	    strcmp(funcname, GV_FUNC_RUN_QUEUED) == 0 ||
	    strcmp(funcname, GV_FUNC_CANCEL) == 0 ||
	    strcmp(funcname, GV_FUNC_STATUS) == 0);
}

static const char *const state_names[] = {
	[GV_STATE_UNKNOWN] = "unknown",
	[GV_STATE_SCHEDULED] = "scheduled",
	[GV_STATE_DUE] = "due",
	[GV_STATE_RUNNING] = "running",
	[GV_STATE_RETRYING] = "retrying",
	[GV_STATE_PARKED] = "parked",
	[GV_STATE_DONE] = "done",
	[GV_STATE_CANCELLED] = "cancelled",
	[GV_STATE_DELETED] = "deleted",
};

const char *
gv_state_name(enum gv_state state)
{
	if ((unsigned)state >= sizeof(state_names) / sizeof(state_names[0]))
		return "unknown";
	return state_names[state];
}

const char *
jobfield_flag_name(enum gv_flag flag)
{
	return flag == GV_FLAG_CONTROLLER ? JOBFIELD_FLAG_CONTROLLER :
	    JOBFIELD_FLAG_SHIM;
}

static int
spells(const char *name, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(name, word, len) == 0;
}

int
jobfield_flag_parse(const char *name, size_t len, enum gv_flag *flag)
{
	if (spells(name, len, JOBFIELD_FLAG_SHIM))
		*flag = GV_FLAG_SHIM;
	else if (spells(name, len, JOBFIELD_FLAG_CONTROLLER))
		*flag = GV_FLAG_CONTROLLER;
	else
		return -1;
	return 0;
}

/* An empty key is no key: NULL in the row. */
static const char *
key_or_null(const char *s)
{
	return s && *s ? s : NULL;
}

void
jobfield_insert_params(struct dbval *p, const struct gv_new_job *job,
    int leased)
{
	p[0] = DBV_S(job->funcname);
	p[1] = DBV_B(job->arg, job->arg_len);
	p[2] = DBV_S(key_or_null(job->uniqkey));
	p[3] = DBV_S(key_or_null(job->coalesce));
	p[4] = DBV_I(job->delay);
	p[5] = DBV_S(jobfield_flag_name(job->flag));
	p[6] = DBV_U(leased ? 1 : 0);
	p[7] = DBV_I(job->priority);
}

struct gv_new_job
jobfield_new_job(const struct gv_job *job, long delay)
{
	return (struct gv_new_job){ .funcname = job->funcname,
	    .arg = job->arg, .arg_len = job->arg_len,
	    .uniqkey = job->uniqkey, .coalesce = job->coalesce,
	    .delay = delay, .flag = job->flag, .priority = job->priority };
}
