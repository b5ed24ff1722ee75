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
 * A cancel_jobs payload: one object, or an array of at most
 * JOBJSON_CANCEL_MAX, each naming a job by {"funcname","uniqkey"} or by
 * {"dbid","jobid"}. Each answer keeps how the job was named and gets what
 * became of it.
 */
#define JOBJSON_CANCEL_MAX 1000
struct cancel_req {
	char *funcname;        /* by key; NULL: by id */
	char *uniqkey;
	unsigned dbid;         /* by id, or (answer) where it was */
	uint64_t jobid;        /* by id, or (answer) which it was */
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

#endif
