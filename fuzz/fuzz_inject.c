/*
 * fuzz_inject: libFuzzer target for the payload parsers of the Injector's
 * functions, inject_jobs (jobjson_inject_decode), cancel_jobs
 * (jobjson_cancel_decode) and job_status (jobjson_status_decode), fed by
 * any gearman client on the network.
 *
 * Beyond "no crash": an accepted payload obeys every limit the Injector
 * relies on (the columns' and gearmand's), and its arg survives the trip
 * through the job document a worker receives, byte for byte. A refusal
 * always says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobjson.h"
#include "util.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An accepted cancel_jobs payload names each job fully, within the limits,
 * and its answer can always be written. */
static void
cancel_payload(const uint8_t *data, size_t size)
{
	struct cancel_req *reqs;
	struct buf reply = { 0 };
	char err[512];
	size_t n, i, len;
	int array;

	err[0] = '\0';
	if (jobjson_cancel_decode(data, size, &reqs, &n, &array, err,
	    sizeof(err)) == -1) {
		if (err[0] == '\0' || reqs != NULL || n != 0)
			abort();
		return;
	}
	if (n == 0 || n > JOBJSON_CANCEL_MAX || (!array && n != 1))
		abort();
	for (i = 0; i < n; i++) {
		struct job_name *r = &reqs[i].name;

		if (r->funcname) {
			len = strlen(r->funcname);
			if (len == 0 || len > GV_FUNCNAME_MAX ||
			    r->uniqkey == NULL || *r->uniqkey == '\0' ||
			    strlen(r->uniqkey) > GV_GEARMAN_UNIQKEY_MAX)
				abort();
		} else if (r->jobid == 0 || r->dbid == 0 || r->dbid > 65535 ||
		    r->uniqkey != NULL)
			abort();
		reqs[i].cancelled = (int)(i & 1);
		strcpy(reqs[i].error, "no such job");
	}
	if (jobjson_cancel_reply(reqs, n, array, &reply) == -1)
		abort();
	buf_free(&reply);
	jobjson_cancel_free(reqs, n);
}

/* An accepted job_status payload names each job fully, within the limits,
 * and its answer (each job unknown, what was asked) is valid JSON. */
static void
status_payload(const uint8_t *data, size_t size)
{
	struct job_name *names;
	struct gv_job_status unknown = { .state = GV_STATE_UNKNOWN };
	struct buf reply = { 0 };
	char err[512];
	size_t n, i;
	int array;

	err[0] = '\0';
	if (jobjson_status_decode(data, size, &names, &n, &array, err,
	    sizeof(err)) == -1) {
		if (err[0] == '\0' || names != NULL || n != 0)
			abort();
		return;
	}
	if (n == 0 || n > JOBJSON_STATUS_MAX || (!array && n != 1))
		abort();
	if (jobjson_status_open(&reply, array) == -1)
		abort();
	for (i = 0; i < n; i++) {
		struct job_name *r = &names[i];

		if (r->funcname ? r->uniqkey == NULL || *r->uniqkey == '\0' ||
		    strlen(r->uniqkey) > GV_UNIQKEY_MAX : r->jobid == 0 ||
		    r->dbid == 0 || r->dbid > 65535)
			abort();
		if (jobjson_status_item(&reply, i, r, i & 1 ? &unknown : NULL,
		    "no such job") != 0)
			abort();
	}
	if (jobjson_status_close(&reply, array) == -1 ||
	    !jobjson_utf8_valid(reply.data, reply.len))
		abort();
	buf_free(&reply);
	jobjson_status_free(names, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inject_req req;
	struct gv_job job, back;
	struct buf doc = { 0 };
	char err[512];
	size_t len;

	cancel_payload(data, size);
	status_payload(data, size);
	err[0] = '\0';
	if (jobjson_inject_decode(data, size, &req, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	job = req.job;
	len = job.funcname ? strlen(job.funcname) : 0;
	if (len == 0 || len > GV_FUNCNAME_MAX || job.arg == NULL ||
	    job.arg[job.arg_len] != '\0' ||
	    (job.uniqkey && (*job.uniqkey == '\0' ||
	    strlen(job.uniqkey) > GV_GEARMAN_UNIQKEY_MAX)) ||
	    (job.coalesce && strlen(job.coalesce) > GV_COALESCE_MAX) ||
	    req.delay < 0 || req.delay > GV_DELAY_MAX ||
	    (job.flag != GV_FLAG_SHIM && job.flag != GV_FLAG_CONTROLLER))
		abort();
	/* The Injector's document of it: req.job's strings, not a copy. */
	job.jobid = 1;
	job.dbid = 1;
	job.fenced = 1;
	if (jobjson_encode(&job, &doc) == -1 ||
	    jobjson_decode(doc.data, doc.len, &back, err, sizeof(err)) == -1)
		abort();
	if (back.arg_len != job.arg_len ||
	    memcmp(back.arg, job.arg, job.arg_len) != 0 ||
	    strcmp(back.funcname, job.funcname) != 0)
		abort();
	gv_job_clear(&back);
	buf_reset(&doc);
	if (jobjson_inject_reply(1, 1, 1, &doc) == -1)
		abort();
	buf_free(&doc);
	jobjson_inject_clear(&req);
	return 0;
}
