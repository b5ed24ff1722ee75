/*
 * jobjson: every JSON document Garivini reads or writes, and the names of
 * their fields, in one module.
 *
 * The job document a worker receives:
 *   {"jobid":N,"dbid":N,"funcname":S,"arg":S,"uniqkey":S|null,
 *    "coalesce":S|null,"run_after":N,"flag":"shim"|"controller",
 *    "failcount":N,"attempt":N,"priority":N}
 *
 * The arg encoding: "arg" is a JSON string whose code points U+0000..U+00FF
 * are the payload's bytes, one code point per byte (what Perl's encode_json
 * makes of a byte string, so workers written for the original Garivini get
 * their bytes back from decode_json). ASCII stays as it is; other bytes
 * become two bytes of UTF-8 or a \u00XX escape.
 *
 * The inject_jobs payload:
 *   {"funcname":S, "arg":S, "uniqkey":S (or "unique"), "delay":N (or
 *    "run_after", seconds from now, as in the original), "flag":S,
 *    "coalesce":S, "priority":N (GV_PRIORITY_MIN..GV_PRIORITY_MAX)}
 * Its arg uses the same encoding when every code point is <= U+00FF; a string
 * with a larger code point is stored as its UTF-8 bytes.
 */
#ifndef JOBJSON_H
#define JOBJSON_H

#include <stddef.h>
#include <stdint.h>

#include "garivini.h"
#include "util.h"

/* 1 if len bytes of text are strict UTF-8 (what JSON and the utf8mb4
 * columns take), else 0. */
int jobjson_utf8_valid(const void *text, size_t len);
/* len bytes of text from elsewhere (a worker's message) as a message may
 * hold them: valid UTF-8, without leading or trailing blanks and control
 * bytes, each invalid or control byte inside as '?' (tabs and newlines
 * kept), cut at a character boundary to fit cap bytes with its NUL. The
 * length written. */
size_t jobjson_text_clean(char *dst, size_t cap, const void *text,
    size_t len);

/* Append the job document for job to b. 0, or -1 when memory ran out. */
int jobjson_encode(const struct gv_job *job, struct buf *b);

/* Parse a job document (the worker side). Accepts numbers as JSON numbers or
 * numeric strings (the original sent strings). -1 with a message in err. */
int jobjson_decode(const void *json, size_t len, struct gv_job *job,
    char *err, size_t errlen);

/* A parsed inject_jobs payload: the job as given (funcname, arg, uniqkey
 * and coalesce, NULL when none, owned; flag, by default
 * GV_FLAG_CONTROLLER; priority, by default 0) and its delay. */
struct inject_req {
	struct gv_job job;
	long delay;        /* >= 0 */
};

/* Validate and parse an inject_jobs payload. -1 with a message for the
 * sender in err ("funcname is missing", "uniqkey is longer than 63 bytes"). */
int jobjson_inject_decode(const void *json, size_t len,
    struct inject_req *req, char *err, size_t errlen);
void jobjson_inject_clear(struct inject_req *req);

/* The answer to an inject_jobs call: {"jobid":N,"dbid":N} and, when the
 * unique key was already queued, "duplicate":true. */
int jobjson_inject_reply(uint64_t jobid, unsigned dbid, int duplicate,
    struct buf *b);

/*
 * A job as a cancel_jobs or job_status payload names it: by key
 * ({"funcname","uniqkey"}) or by ids ({"dbid","jobid"}). Such a payload is
 * one object, or an array of at most the function's maximum of them.
 */
struct job_name {
	char *funcname;        /* by key; NULL: by id */
	char *uniqkey;
	unsigned dbid;         /* by id, or (cancel's answer) where it was */
	uint64_t jobid;        /* by id, or (cancel's answer) which it was */
};

/* A cancel_jobs payload: each answer keeps how the job was named and gets
 * what became of it. */
#define JOBJSON_CANCEL_MAX 1000
struct cancel_req {
	struct job_name name;  /* first: the decoder fills it */
	int cancelled;         /* answer: 1 cancelled, 0 not (error says) */
	char error[256];       /* answer: why not */
};
/* -1 with a message for the sender in err ("item 2: jobid is missing");
 * else *reqs (jobjson_cancel_free) and *n, *array if the payload was one. */
int jobjson_cancel_decode(const void *json, size_t len,
    struct cancel_req **reqs, size_t *n, int *array, char *err,
    size_t errlen);
void jobjson_cancel_free(struct cancel_req *reqs, size_t n);
/* The answer: one object per request ({"funcname","uniqkey"} or
 * {"dbid","jobid"} as named, then "cancelled":true with "dbid" and
 * "jobid", or "cancelled":false with "error"), an array if the payload
 * was one. */
int jobjson_cancel_reply(const struct cancel_req *reqs, size_t n, int array,
    struct buf *b);

/*
 * A job_status payload: the jobs named, as cancel_jobs names them, at most
 * JOBJSON_STATUS_MAX; a unique key may be as long as the column takes
 * (GV_UNIQKEY_MAX: a job inserted through libgarivini may have one longer
 * than gearmand's 63 bytes). -1 with a message for the sender in err;
 * else *names (jobjson_status_free), *n and *array.
 */
#define JOBJSON_STATUS_MAX 1000
int jobjson_status_decode(const void *json, size_t len,
    struct job_name **names, size_t *n, int *array, char *err,
    size_t errlen);
void jobjson_status_free(struct job_name *names, size_t n);

/*
 * The answer to a job_status call, written a job at a time so that one
 * result at most is in memory besides the answer: open (a '[' if the
 * payload was an array), an item per job named, in order (i from 0),
 * close. An item is the job's state:
 *   {"state":S,"jobid":N,"dbid":N,"funcname":S,"uniqkey":S|null,
 *    "failcount":N,"attempt":N,"run_after":N|null (ended),
 *    "ended":N|null (lives),"kept_until":N|null,
 *    "error":S|null,"error_time":N|null (a living job that failed),
 *    "result":S|null,"result_cut":B}
 * with the result's bytes encoded as the job document's arg; for a job
 * with no row nor record, {"state":"unknown"} and what was asked; with st
 * NULL, what was asked and "error":error. An item that would take the
 * answer past JOBJSON_STATUS_REPLY_MAX is written as an error, the
 * message JOBJSON_STATUS_FULL, and the item returns 1: the caller answers
 * the jobs after it the same way. 0, or -1 when memory ran out.
 */
#define JOBJSON_STATUS_REPLY_MAX (16u << 20)
#define JOBJSON_STATUS_FULL "the answer is full (16 MiB): ask for this " \
	"job again"
int jobjson_status_open(struct buf *b, int array);
int jobjson_status_item(struct buf *b, size_t i, const struct job_name *asked,
    const struct gv_job_status *st, const char *error);
int jobjson_status_close(struct buf *b, int array);

#endif
