/*
 * jobjson: the job document (written by QueueRunners, read by workers), the
 * inject_jobs payload and its reply. Every JSON field name lives here.
 *
 * The encoder is written by hand because it runs once per dispatched job;
 * everything that reads JSON goes through jansson, since its input comes
 * from the network and must never crash us.
 */
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "garivini.h"
#include "jobfield.h"
#include "jobjson.h"
#include "util.h"

/*
 * Every byte of the document outside fixed text is at most 6 bytes of output
 * (\u00XX). The fixed text (keys, punctuation, six numbers of at most 20
 * digits, the jobid's quotes, the flag's name) stays well under
 * ENCODE_FIXED.
 */
#define ENCODE_WORST 6
#define ENCODE_FIXED 256
/* The same for a job_status item: its keys and eight numbers, under 450. */
#define STATUS_FIXED 512

static const char hexdigits[] = "0123456789abcdef";

/* The two-character escapes JSON has; 0 where \u00XX must be used. */
static const char short_escape[0x20] = {
	['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
};

static char *
put_text(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

static char *
put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/*
 * A jobid (BIGINT UNSIGNED) as a JSON number up to INT64_MAX, above it as a
 * string of its digits. jansson, and so gv_job_parse and the Controller,
 * refuses a larger integer and with it the whole document: such a job could
 * never run and was sent again every lease. A string is read by every JSON
 * parser; ours take digit strings for any number, and the original's
 * documents held DBI's strings, so Perl workers get what they always got.
 */
static char *
put_jobid(char *p, uint64_t jobid)
{
	if (jobid <= INT64_MAX)
		return put_u64(p, jobid);
	*p++ = '"';
	p = put_u64(p, jobid);
	*p++ = '"';
	return p;
}

/* The ASCII part of a string: shared by bytes and by UTF-8 text. */
static char *
put_ascii(char *p, unsigned char c)
{
	if (c >= 0x20 && c != '"' && c != '\\') {
		*p++ = (char)c;	/* DEL included: Perl's encode_json keeps it */
	} else if (c == '"' || c == '\\') {
		*p++ = '\\';
		*p++ = (char)c;
	} else if (short_escape[c]) {
		*p++ = '\\';
		*p++ = short_escape[c];
	} else {
		memcpy(p, "\\u00", 4);
		p[4] = hexdigits[c >> 4];
		p[5] = hexdigits[c & 0xf];
		p += 6;
	}
	return p;
}

/* Bytes as code points U+0000..U+00FF, what Perl's encode_json does with a
 * byte string. */
static char *
put_bytes(char *p, const unsigned char *s, size_t len)
{
	const unsigned char *end = s + len;
	unsigned char c;

	*p++ = '"';
	for (; s < end; s++) {
		c = *s;
		if (c < 0x80) {
			p = put_ascii(p, c);
		} else {
			*p++ = (char)(0xc0 | (c >> 6));
			*p++ = (char)(0x80 | (c & 0x3f));
		}
	}
	*p++ = '"';
	return p;
}

/* The length of the strict UTF-8 sequence (as jansson checks it: no
 * overlong forms, no surrogates, nothing above U+10FFFF) at s, of at most
 * len bytes; 0 if there is none. */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, k;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (len - 1 < need || s[1] < lo || s[1] > hi)
		return 0;
	for (k = 2; k <= need; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0;
	return need + 1;
}

int
jobjson_utf8_valid(const void *text, size_t len)
{
	const unsigned char *s = text;
	size_t i = 0, n;

	while (i < len) {
		if ((n = utf8_seq(s + i, len - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

/* A byte a message keeps as it is: printable, or a tab or newline. */
static int
text_byte(unsigned char c)
{
	return c >= 0x20 ? c != 0x7f : c == '\t' || c == '\n';
}

size_t
jobjson_text_clean(char *dst, size_t cap, const void *text, size_t len)
{
	const unsigned char *s = text, *end = s + len;
	size_t out = 0, n;

	if (cap == 0)
		return 0;
	while (s < end && (isspace(*s) || !text_byte(*s)))
		s++;
	while (end > s && (isspace(end[-1]) || (end[-1] < 0x80 &&
	    !text_byte(end[-1]))))
		end--;
	while (s < end) {
		n = utf8_seq(s, (size_t)(end - s));
		if (n == 0 || (n == 1 && !text_byte(*s))) {
			if (out + 1 >= cap)
				break;
			dst[out++] = '?';
			s++;
			continue;
		}
		if (out + n >= cap)
			break;
		memcpy(dst + out, s, n);
		out += n;
		s += n;
	}
	dst[out] = '\0';
	return out;
}

/*
 * Text columns hold whatever a client stored, in whatever charset. Valid
 * UTF-8 goes out as such; anything else is mapped byte by byte like arg, so
 * the document stays valid JSON instead of being rejected by every parser.
 */
static char *
put_text_string(char *p, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i;

	if (!jobjson_utf8_valid(u, len))
		return put_bytes(p, u, len);
	*p++ = '"';
	for (i = 0; i < len; i++) {
		if (u[i] < 0x80)
			p = put_ascii(p, u[i]);
		else
			*p++ = (char)u[i];
	}
	*p++ = '"';
	return p;
}

static char *
put_text_or_null(char *p, const char *s, size_t len)
{
	if (s == NULL)
		return put_text(p, "null");
	return put_text_string(p, s, len);
}

int
jobjson_encode(const struct gv_job *job, struct buf *b)
{
	const char *funcname = job->funcname ? job->funcname : "";
	size_t flen, ulen, clen, strings, limit, worst;
	char *p;

	flen = strlen(funcname);
	ulen = job->uniqkey ? strlen(job->uniqkey) : 0;
	clen = job->coalesce ? strlen(job->coalesce) : 0;
	/* Reserving once for the worst case keeps the loops free of checks. */
	strings = flen + ulen + clen;
	limit = (SIZE_MAX - ENCODE_FIXED) / ENCODE_WORST;
	if (strings > limit || job->arg_len > limit - strings)
		return -1;
	worst = ENCODE_FIXED + ENCODE_WORST * (strings + job->arg_len);
	if (buf_reserve(b, worst) == -1)
		return -1;

	p = b->data + b->len;
	p = put_text(p, "{\"jobid\":");
	p = put_jobid(p, job->jobid);
	p = put_text(p, ",\"dbid\":");
	p = put_u64(p, job->dbid);
	p = put_text(p, ",\"funcname\":");
	p = put_text_string(p, funcname, flen);
	p = put_text(p, ",\"arg\":");
	p = put_bytes(p, job->arg, job->arg ? job->arg_len : 0);
	p = put_text(p, ",\"uniqkey\":");
	p = put_text_or_null(p, job->uniqkey, ulen);
	p = put_text(p, ",\"coalesce\":");
	p = put_text_or_null(p, job->coalesce, clen);
	p = put_text(p, ",\"run_after\":");
	p = put_u64(p, job->run_after);
	p = put_text(p, ",\"flag\":\"");
	p = put_text(p, jobfield_flag_name(job->flag));
	*p++ = '"';
	p = put_text(p, ",\"failcount\":");
	p = put_u64(p, job->failcount);
	p = put_text(p, ",\"attempt\":");
	p = put_u64(p, job->attempt);
	p = put_text(p, ",\"priority\":");
	if (job->priority < 0)
		*p++ = '-';
	p = put_u64(p, job->priority < 0 ? (uint64_t)-(int64_t)job->priority :
	    (uint64_t)job->priority);
	*p++ = '}';
	*p = '\0';	/* buf keeps its contents a C string */
	b->len = (size_t)(p - b->data);
	return 0;
}

/* ---- reading ---------------------------------------------------------- */

static json_t *
load_object(const void *json, size_t len, const char *what, char *err,
    size_t errlen)
{
	json_error_t jerr;
	json_t *root;

	if (json == NULL)
		json = "";
	root = json_loadb(json, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES,
	    &jerr);
	if (root == NULL) {
		errf(err, errlen, "not JSON: %s at byte %d", jerr.text,
		    jerr.position);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		errf(err, errlen, "%s is not an object", what);
		return NULL;
	}
	return root;
}

enum num_result { NUM_OK, NUM_NOT_NUMBER, NUM_FRACTION, NUM_NEGATIVE,
	NUM_TOO_BIG };

/*
 * A non-negative integer up to max, given as a JSON integer, a JSON real
 * without a fraction, or a string of decimal digits (the original Perl sent
 * DBI's strings). A string may carry a leading '-' only so that the caller
 * can say "negative" rather than "not a number".
 */
static enum num_result
json_uint(const json_t *v, uint64_t max, uint64_t *out)
{
	const char *s;
	size_t len, i;
	uint64_t n = 0;
	int negative = 0;
	double r;

	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);

		if (x < 0)
			return NUM_NEGATIVE;
		if ((uint64_t)x > max)
			return NUM_TOO_BIG;
		*out = (uint64_t)x;
		return NUM_OK;
	}
	if (json_is_real(v)) {
		r = json_real_value(v);
		if (!isfinite(r))
			return NUM_NOT_NUMBER;
		if (r != floor(r))
			return NUM_FRACTION;
		if (r < 0)
			return NUM_NEGATIVE;
		/* 2^64 is exact in a double; anything from it up is too big
		 * even for the widest max. */
		if (r >= 18446744073709551616.0 || (uint64_t)r > max)
			return NUM_TOO_BIG;
		*out = (uint64_t)r;
		return NUM_OK;
	}
	if (!json_is_string(v))
		return NUM_NOT_NUMBER;
	s = json_string_value(v);
	len = json_string_length(v);
	i = 0;
	if (len && s[0] == '-') {
		negative = 1;
		i = 1;
	}
	if (i == len)
		return NUM_NOT_NUMBER;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return NUM_NOT_NUMBER;
		if (n > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return negative ? NUM_NEGATIVE : NUM_TOO_BIG;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	if (negative && n)
		return NUM_NEGATIVE;
	if (n > max)
		return NUM_TOO_BIG;
	*out = n;
	return NUM_OK;
}

/*
 * Map a string's code points U+0000..U+00FF back to bytes. jansson hands us
 * valid UTF-8, so only 0xC2 and 0xC3 can lead a code point below U+0100;
 * the bounds checks are there anyway so that no input can read past the end.
 * Returns the byte count, or -1 when a larger code point is present.
 */
static long long
latin1_from_utf8(const unsigned char *s, size_t len, unsigned char *out)
{
	size_t i = 0, n = 0;

	while (i < len) {
		if (s[i] < 0x80) {
			out[n++] = s[i++];
		} else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < len &&
		    (s[i + 1] & 0xc0) == 0x80) {
			out[n++] = (unsigned char)(((s[i] & 0x03) << 6) |
			    (s[i + 1] & 0x3f));
			i += 2;
		} else
			return -1;
	}
	return (long long)n;
}

/*
 * The bytes of a JSON string holding a payload: its code points when all
 * are <= U+00FF, else (if utf8_fallback) its UTF-8 bytes. *arg is allocated
 * with a NUL after the payload. 0, -1 on a larger code point without the
 * fallback, -2 when memory ran out.
 */
static int
arg_bytes(const json_t *v, int utf8_fallback, unsigned char **arg,
    size_t *arg_len)
{
	const unsigned char *s;
	unsigned char *out;
	size_t len;
	long long n;

	if (v == NULL || json_is_null(v)) {
		s = (const unsigned char *)"";
		len = 0;
	} else {
		s = (const unsigned char *)json_string_value(v);
		len = json_string_length(v);
	}
	if ((out = malloc(len + 1)) == NULL)
		return -2;
	if ((n = latin1_from_utf8(s, len, out)) < 0) {
		if (!utf8_fallback) {
			free(out);
			return -1;
		}
		memcpy(out, s, len);
		n = (long long)len;
	}
	out[n] = '\0';
	*arg = out;
	*arg_len = (size_t)n;
	return 0;
}

/* A copy of a JSON string as a C string; NUL bytes inside are refused,
 * since the C string would silently lose what follows them. 0, -1 on an
 * embedded NUL, -2 when memory ran out. */
static int
text_copy(const json_t *v, char **out)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);

	if (memchr(s, '\0', len) != NULL)
		return -1;
	if ((*out = strdup(s)) == NULL)
		return -2;
	return 0;
}

/* Optional string-or-null text field of a job document. */
static int
decode_text(json_t *root, const char *key, char **out, char *err,
    size_t errlen)
{
	json_t *v = json_object_get(root, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return errf(err, errlen, "%s must be a string or null", key);
	switch (text_copy(v, out)) {
	case -1:
		return errf(err, errlen, "%s contains a NUL byte", key);
	case -2:
		return errf(err, errlen, "out of memory");
	}
	return 0;
}

/* The flag a JSON string spells (jobfield_flag_parse): 0, or -1 when v is
 * not a string or spells none. */
static int
json_flag(const json_t *v, enum gv_flag *flag)
{
	return json_is_string(v) ? jobfield_flag_parse(json_string_value(v),
	    json_string_length(v), flag) : -1;
}

/* A priority: an integer from GV_PRIORITY_MIN to GV_PRIORITY_MAX, as a
 * JSON number without a fraction or a string of decimal digits with an
 * optional '-' (what json_uint takes, signed). null counts as missing (0).
 * 0, or -1 with a message in err. */
static int
json_priority(const json_t *v, int *out, char *err, size_t errlen)
{
	const char *s;
	double r = GV_PRIORITY_MAX + 1;
	size_t len, i;

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		r = (double)json_integer_value(v);
	else if (json_is_real(v) && isfinite(json_real_value(v)))
		r = json_real_value(v);
	else if (json_is_string(v)) {
		s = json_string_value(v);
		len = json_string_length(v);
		i = len && s[0] == '-';
		if (len > i && len - i <= 3) {
			for (r = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
				r = r * 10 + (s[i] - '0');
			if (i < len)
				r = GV_PRIORITY_MAX + 1;
			else if (s[0] == '-')
				r = -r;
		}
	}
	if (r != floor(r) || r < GV_PRIORITY_MIN || r > GV_PRIORITY_MAX)
		return errf(err, errlen, "priority must be an integer from %d "
		    "to %d", GV_PRIORITY_MIN, GV_PRIORITY_MAX);
	*out = (int)r;
	return 0;
}

/* Optional non-negative integer field of a job document; null counts as
 * missing. 1 if present, 0 if not, -1 on error. */
static int
decode_uint(json_t *root, const char *key, uint64_t max, uint64_t *out,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(root, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_uint(v, max, out) != NUM_OK)
		return errf(err, errlen, "%s must be an integer from 0 to %"
		    PRIu64, key, max);
	return 1;
}

static int
decode_id(json_t *root, const char *key, uint64_t max, uint64_t *out,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(root, key);

	if (v == NULL)
		return errf(err, errlen, "%s is missing", key);
	if (json_uint(v, max, out) != NUM_OK || *out == 0)
		return errf(err, errlen, "%s must be a positive integer", key);
	return 0;
}

int
jobjson_decode(const void *json, size_t len, struct gv_job *job, char *err,
    size_t errlen)
{
	json_t *root, *v;
	uint64_t n;
	int present;

	memset(job, 0, sizeof *job);
	if ((root = load_object(json, len, "document", err, errlen)) == NULL)
		return -1;

	if (decode_id(root, "jobid", UINT64_MAX, &job->jobid, err,
	    errlen) == -1)
		goto fail;
	if (decode_id(root, "dbid", UINT_MAX, &n, err, errlen) == -1)
		goto fail;
	job->dbid = (unsigned)n;

	v = json_object_get(root, "funcname");
	if (v == NULL) {
		errf(err, errlen, "funcname is missing");
		goto fail;
	}
	if (!json_is_string(v)) {
		errf(err, errlen, "funcname must be a string");
		goto fail;
	}
	switch (text_copy(v, &job->funcname)) {
	case -1:
		errf(err, errlen, "funcname contains a NUL byte");
		goto fail;
	case -2:
		errf(err, errlen, "out of memory");
		goto fail;
	}

	v = json_object_get(root, "arg");
	if (v != NULL && !json_is_null(v) && !json_is_string(v)) {
		errf(err, errlen, "arg must be a string");
		goto fail;
	}
	switch (arg_bytes(v, 0, &job->arg, &job->arg_len)) {
	case -1:
		errf(err, errlen, "arg is not a byte string (a code point "
		    "above U+00FF)");
		goto fail;
	case -2:
		errf(err, errlen, "out of memory");
		goto fail;
	}

	if (decode_text(root, "uniqkey", &job->uniqkey, err, errlen) == -1 ||
	    decode_text(root, "coalesce", &job->coalesce, err, errlen) == -1)
		goto fail;

	/* Reset: an absent run_after leaves n alone, and it held the dbid
	 * (found by fuzz/fuzz_jobjson). */
	n = 0;
	if (decode_uint(root, "run_after", UINT32_MAX, &n, err, errlen) == -1)
		goto fail;
	job->run_after = (uint32_t)n;
	n = 0;
	if (decode_uint(root, "failcount", UINT_MAX, &n, err, errlen) == -1)
		goto fail;
	job->failcount = (unsigned)n;
	n = 0;
	/* Documents of the original carry no attempt: completing those cannot
	 * be fenced, and the caller must know. */
	present = decode_uint(root, "attempt", UINT32_MAX, &n, err, errlen);
	if (present == -1)
		goto fail;
	job->attempt = (uint32_t)n;
	job->fenced = present;
	if (json_priority(json_object_get(root, "priority"), &job->priority,
	    err, errlen) == -1)
		goto fail;

	job->flag = GV_FLAG_SHIM;
	v = json_object_get(root, "flag");
	if (v != NULL && !json_is_null(v) && json_flag(v, &job->flag) == -1) {
		errf(err, errlen, "flag must be \"" JOBFIELD_FLAG_SHIM
		    "\" or \"" JOBFIELD_FLAG_CONTROLLER "\"");
		goto fail;
	}

	json_decref(root);
	return 0;
fail:
	json_decref(root);
	gv_job_clear(job);
	return -1;
}

int
gv_job_parse(const void *json, size_t len, struct gv_job *job, char *err,
    size_t errlen)
{
	if (job == NULL) {
		errf(err, errlen, "no job to fill");
		return GV_EINVAL;
	}
	if (jobjson_decode(json, len, job, err, errlen) == -1)
		return GV_EJSON;
	return GV_OK;
}

void
gv_job_clear(struct gv_job *job)
{
	if (job == NULL)
		return;
	free(job->funcname);
	free(job->arg);
	free(job->uniqkey);
	free(job->coalesce);
	memset(job, 0, sizeof *job);
}

/* ---- inject_jobs ------------------------------------------------------ */

static int
key_is(const char *key, size_t key_len, const char *name)
{
	return key_len == strlen(name) && memcmp(key, name, key_len) == 0;
}

/* One of two synonymous keys, or NULL; both at once is an error. */
static int
either(json_t *root, const char *a, const char *b, json_t **v,
    const char **name, char *err, size_t errlen)
{
	json_t *va = json_object_get(root, a), *vb = json_object_get(root, b);

	if (va && vb)
		return errf(err, errlen, "give %s or %s, not both", a, b);
	*v = va ? va : vb;
	*name = va ? a : b;
	/* null stands for "not given", as clients serialize absent options */
	if (*v && json_is_null(*v))
		*v = NULL;
	return 0;
}

/* A string field of the payload: copied, checked for length and NUL. */
static int
inject_text(json_t *v, const char *name, size_t max, int allow_empty,
    char **out, char *err, size_t errlen)
{
	size_t len;

	if (!json_is_string(v))
		return errf(err, errlen, "%s must be a string", name);
	len = json_string_length(v);
	if (len == 0 && !allow_empty)
		return errf(err, errlen, "%s is empty", name);
	if (len > max)
		return errf(err, errlen, "%s is longer than %zu bytes", name,
		    max);
	switch (text_copy(v, out)) {
	case -1:
		return errf(err, errlen, "%s contains a NUL byte", name);
	case -2:
		return errf(err, errlen, "out of memory");
	}
	return 0;
}

static int
inject_delay(json_t *v, const char *name, long *delay, char *err,
    size_t errlen)
{
	uint64_t n;

	switch (json_uint(v, GV_DELAY_MAX, &n)) {
	case NUM_OK:
		*delay = (long)n;
		return 0;
	case NUM_NEGATIVE:
		return errf(err, errlen, "%s must not be negative", name);
	case NUM_TOO_BIG:
		return errf(err, errlen, "%s must be at most %ld seconds",
		    name, GV_DELAY_MAX);
	case NUM_FRACTION:
		return errf(err, errlen, "%s must be a whole number of seconds",
		    name);
	case NUM_NOT_NUMBER:
		break;
	}
	return errf(err, errlen, "%s must be a number of seconds", name);
}

static const char *const inject_keys[] = {
	"funcname", "arg", "uniqkey", "unique", "delay", "run_after", "flag",
	"coalesce", "priority",
};

int
jobjson_inject_decode(const void *json, size_t len, struct inject_req *req,
    char *err, size_t errlen)
{
	json_t *root, *v;
	const char *key, *name;
	size_t key_len, i;

	memset(req, 0, sizeof *req);
	req->job.flag = GV_FLAG_CONTROLLER;
	if ((root = load_object(json, len, "payload", err, errlen)) == NULL)
		return -1;

	/* A misspelt option would otherwise be ignored in silence. */
	json_object_keylen_foreach(root, key, key_len, v) {
		for (i = 0; i < sizeof inject_keys / sizeof inject_keys[0];
		    i++)
			if (key_is(key, key_len, inject_keys[i]))
				break;
		if (i == sizeof inject_keys / sizeof inject_keys[0]) {
			errf(err, errlen, "unknown field %.*s",
			    key_len > 64 ? 64 : (int)key_len, key);
			goto fail;
		}
	}

	if ((v = json_object_get(root, "funcname")) == NULL) {
		errf(err, errlen, "funcname is missing");
		goto fail;
	}
	if (inject_text(v, "funcname", GV_FUNCNAME_MAX, 0, &req->job.funcname,
	    err, errlen) == -1)
		goto fail;

	if ((v = json_object_get(root, "arg")) == NULL) {
		errf(err, errlen, "arg is missing");
		goto fail;
	}
	if (!json_is_string(v)) {
		errf(err, errlen, "arg must be a string");
		goto fail;
	}
	if (arg_bytes(v, 1, &req->job.arg, &req->job.arg_len) != 0) {
		errf(err, errlen, "out of memory");
		goto fail;
	}

	if (either(root, "uniqkey", "unique", &v, &name, err, errlen) == -1)
		goto fail;
	if (v && inject_text(v, name, GV_GEARMAN_UNIQKEY_MAX, 0,
	    &req->job.uniqkey, err, errlen) == -1)
		goto fail;

	if (either(root, "delay", "run_after", &v, &name, err, errlen) == -1)
		goto fail;
	if (v && inject_delay(v, name, &req->delay, err, errlen) == -1)
		goto fail;

	if ((v = json_object_get(root, "flag")) != NULL && !json_is_null(v) &&
	    json_flag(v, &req->job.flag) == -1) {
		errf(err, errlen, "flag must be \"" JOBFIELD_FLAG_CONTROLLER
		    "\" or \"" JOBFIELD_FLAG_SHIM "\"");
		goto fail;
	}

	if ((v = json_object_get(root, "coalesce")) != NULL &&
	    !json_is_null(v) && inject_text(v, "coalesce",
	    GV_COALESCE_MAX, 1, &req->job.coalesce, err, errlen) == -1)
		goto fail;

	if (json_priority(json_object_get(root, "priority"), &req->job.priority,
	    err, errlen) == -1)
		goto fail;

	json_decref(root);
	return 0;
fail:
	json_decref(root);
	jobjson_inject_clear(req);
	return -1;
}

void
jobjson_inject_clear(struct inject_req *req)
{
	if (req == NULL)
		return;
	gv_job_clear(&req->job);
	req->delay = 0;
	req->job.flag = GV_FLAG_CONTROLLER;
}

int
jobjson_inject_reply(uint64_t jobid, unsigned dbid, int duplicate,
    struct buf *b)
{
	/* The jobid as in the job document (put_jobid): a string above
	 * INT64_MAX, which a client's parser may otherwise refuse. */
	const char *q = jobid > INT64_MAX ? "\"" : "";

	return buf_printf(b, "{\"jobid\":%s%" PRIu64 "%s,\"dbid\":%u%s}", q,
	    jobid, q, dbid, duplicate ? ",\"duplicate\":true" : "");
}

/* ---- cancel_jobs and job_status: jobs named --------------------------- */

/* One job named, by key (each part at most key_max bytes) or by ids. */
static int
name_item(json_t *o, struct job_name *r, size_t key_max, char *err,
    size_t errlen)
{
	const char *key;
	size_t key_len;
	uint64_t dbid;
	json_t *v;

	if (!json_is_object(o))
		return errf(err, errlen, "is not an object");
	json_object_keylen_foreach(o, key, key_len, v) {
		if (!key_is(key, key_len, "funcname") &&
		    !key_is(key, key_len, "uniqkey") &&
		    !key_is(key, key_len, "dbid") &&
		    !key_is(key, key_len, "jobid"))
			return errf(err, errlen, "unknown field %.*s",
			    key_len > 64 ? 64 : (int)key_len, key);
	}
	if (json_object_get(o, "funcname") || json_object_get(o, "uniqkey")) {
		if (json_object_get(o, "dbid") || json_object_get(o, "jobid"))
			return errf(err, errlen, "name a job by funcname and "
			    "uniqkey, or by dbid and jobid, not both");
		if ((v = json_object_get(o, "funcname")) == NULL)
			return errf(err, errlen, "funcname is missing");
		if (inject_text(v, "funcname", GV_FUNCNAME_MAX, 0,
		    &r->funcname, err, errlen) == -1)
			return -1;
		if ((v = json_object_get(o, "uniqkey")) == NULL)
			return errf(err, errlen, "uniqkey is missing");
		return inject_text(v, "uniqkey", key_max, 0, &r->uniqkey, err,
		    errlen);
	}
	if (decode_id(o, "dbid", 65535, &dbid, err, errlen) == -1 ||
	    decode_id(o, "jobid", UINT64_MAX, &r->jobid, err, errlen) == -1) {
		if (!json_object_get(o, "dbid") && !json_object_get(o, "jobid"))
			return errf(err, errlen, "name a job by funcname and "
			    "uniqkey, or by dbid and jobid");
		return -1;
	}
	r->dbid = (unsigned)dbid;
	return 0;
}

/* The i-th request of an array of requests of size bytes each, every one
 * beginning with the job it names. */
static struct job_name *
name_at(void *reqs, size_t size, size_t i)
{
	return (struct job_name *)(void *)((char *)reqs + i * size);
}

static void
names_free(void *reqs, size_t size, size_t n)
{
	size_t i;

	for (i = 0; reqs && i < n; i++) {
		free(name_at(reqs, size, i)->funcname);
		free(name_at(reqs, size, i)->uniqkey);
	}
	free(reqs);
}

/*
 * A payload naming jobs, one object or an array of at most max, into
 * *reqs: n requests of size bytes each (zeroed), each beginning with a
 * struct job_name. Refused as a whole, with the reason in err.
 */
static int
names_decode(const void *json, size_t len, size_t max, size_t key_max,
    size_t size, void **reqs, size_t *n, int *array, char *err,
    size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	size_t i, count;
	char why[256];

	*reqs = NULL;
	*n = 0;
	root = json_loadb(json ? json : "", len, JSON_ALLOW_NUL |
	    JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return errf(err, errlen, "not JSON: %s at byte %d", jerr.text,
		    jerr.position);
	*array = json_is_array(root);
	count = *array ? json_array_size(root) : 1;
	if (*array && count == 0) {
		json_decref(root);
		return errf(err, errlen, "no job named");
	}
	if (count > max) {
		json_decref(root);
		return errf(err, errlen, "more than %zu jobs in one call", max);
	}
	if ((*reqs = calloc(count, size)) == NULL) {
		json_decref(root);
		return errf(err, errlen, "out of memory");
	}
	*n = count;
	for (i = 0; i < count; i++) {
		if (name_item(*array ? json_array_get(root, i) : root,
		    name_at(*reqs, size, i), key_max, why, sizeof(why)) == -1) {
			if (*array)
				errf(err, errlen, "job %zu: %s", i, why);
			else
				errf(err, errlen, "%s", why);
			json_decref(root);
			names_free(*reqs, size, *n);
			*reqs = NULL;
			*n = 0;
			return -1;
		}
	}
	json_decref(root);
	return 0;
}

int
jobjson_cancel_decode(const void *json, size_t len, struct cancel_req **reqs,
    size_t *n, int *array, char *err, size_t errlen)
{
	void *v;
	int rc;

	/* A cancel's key went to gearmand with its job: at most 63 bytes. */
	rc = names_decode(json, len, JOBJSON_CANCEL_MAX, GV_GEARMAN_UNIQKEY_MAX,
	    sizeof(**reqs), &v, n, array, err, errlen);
	*reqs = v;
	return rc;
}

void
jobjson_cancel_free(struct cancel_req *reqs, size_t n)
{
	names_free(reqs, sizeof(*reqs), n);
}

int
jobjson_cancel_reply(const struct cancel_req *reqs, size_t n, int array,
    struct buf *b)
{
	json_t *root = array ? json_array() : NULL, *o;
	char *text;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		const struct cancel_req *r = &reqs[i];

		o = json_object();
		if (r->name.funcname) {
			json_object_set_new(o, "funcname",
			    json_string(r->name.funcname));
			json_object_set_new(o, "uniqkey",
			    json_string(r->name.uniqkey));
		}
		json_object_set_new(o, "cancelled", json_boolean(r->cancelled));
		if (r->name.jobid) {
			json_object_set_new(o, "dbid",
			    json_integer(r->name.dbid));
			json_object_set_new(o, "jobid",
			    r->name.jobid > INT64_MAX ?
			    json_sprintf("%" PRIu64, r->name.jobid) :
			    json_integer((json_int_t)r->name.jobid));
		}
		if (!r->cancelled)
			json_object_set_new(o, "error", json_string(r->error));
		if (!array) {
			root = o;
			break;
		}
		json_array_append_new(root, o);
	}
	text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (text == NULL)
		return -1;
	rc = buf_append(b, text, strlen(text));
	free(text);
	return rc;
}

/* ---- job_status ---------------------------------------------------------- */

int
jobjson_status_decode(const void *json, size_t len, struct job_name **names,
    size_t *n, int *array, char *err, size_t errlen)
{
	void *v;
	int rc;

	rc = names_decode(json, len, JOBJSON_STATUS_MAX, GV_UNIQKEY_MAX,
	    sizeof(**names), &v, n, array, err, errlen);
	*names = v;
	return rc;
}

void
jobjson_status_free(struct job_name *names, size_t n)
{
	names_free(names, sizeof(*names), n);
}

int
jobjson_status_open(struct buf *b, int array)
{
	return array ? buf_appendc(b, '[') : 0;
}

int
jobjson_status_close(struct buf *b, int array)
{
	return array ? buf_appendc(b, ']') : 0;
}

static char *
put_u64_or_null(char *p, int64_t v)
{
	return v > 0 ? put_u64(p, (uint64_t)v) : put_text(p, "null");
}

/* What was asked: ",\"jobid\":N,\"dbid\":N" or the key's two fields. */
static char *
put_asked(char *p, const struct job_name *asked)
{
	if (asked->funcname == NULL) {
		p = put_text(p, ",\"jobid\":");
		p = put_jobid(p, asked->jobid);
		p = put_text(p, ",\"dbid\":");
		return put_u64(p, asked->dbid);
	}
	p = put_text(p, ",\"funcname\":");
	p = put_text_string(p, asked->funcname, strlen(asked->funcname));
	p = put_text(p, ",\"uniqkey\":");
	return put_text_string(p, asked->uniqkey, strlen(asked->uniqkey));
}

/* A job's state, known: every field of struct gv_job_status. */
static char *
put_state(char *p, const struct gv_job_status *st)
{
	p = put_text(p, ",\"jobid\":");
	p = put_jobid(p, st->jobid);
	p = put_text(p, ",\"dbid\":");
	p = put_u64(p, st->dbid);
	p = put_text(p, ",\"funcname\":");
	p = put_text_string(p, st->funcname, strlen(st->funcname));
	p = put_text(p, ",\"uniqkey\":");
	p = put_text_or_null(p, st->has_uniqkey ? st->uniqkey : NULL,
	    strlen(st->uniqkey));
	p = put_text(p, ",\"failcount\":");
	p = put_u64(p, st->failcount);
	p = put_text(p, ",\"attempt\":");
	p = put_u64(p, st->attempt);
	/* A job that ended has no run_after; one that lives, no end. */
	p = put_text(p, ",\"run_after\":");
	p = st->ended ? put_text(p, "null") : put_u64(p, (uint64_t)
	    (st->run_after > 0 ? st->run_after : 0));
	p = put_text(p, ",\"ended\":");
	p = put_u64_or_null(p, st->ended);
	p = put_text(p, ",\"kept_until\":");
	p = put_u64_or_null(p, st->kept_until);
	/* A living job that failed: why, the newest time. */
	p = put_text(p, ",\"error\":");
	p = put_text_or_null(p, st->error, st->error ? strlen(st->error) : 0);
	p = put_text(p, ",\"error_time\":");
	p = put_u64_or_null(p, st->error ? st->error_time : 0);
	p = put_text(p, ",\"result\":");
	p = st->result ? put_bytes(p, st->result, st->result_len) :
	    put_text(p, "null");
	return put_text(p, st->result_cut ? ",\"result_cut\":true" :
	    ",\"result_cut\":false");
}

/* One item, written in room reserved for its worst case. */
static int
status_item(struct buf *b, size_t i, const struct job_name *asked,
    const struct gv_job_status *st, const char *error)
{
	size_t strings, worst;
	char *p;

	strings = (asked->funcname ? strlen(asked->funcname) : 0) +
	    (asked->uniqkey ? strlen(asked->uniqkey) : 0) +
	    (error ? strlen(error) : 0);
	if (st)
		strings += strlen(st->funcname) + strlen(st->uniqkey) +
		    (st->error ? strlen(st->error) : 0) +
		    (st->result ? st->result_len : 0);
	/* A result is at most GV_RESULT_MAX bytes, the rest a few hundred:
	 * no product here can overflow. */
	worst = STATUS_FIXED + ENCODE_WORST * strings;
	if (buf_reserve(b, worst) == -1)
		return -1;
	p = b->data + b->len;
	if (i > 0)
		*p++ = ',';
	p = put_text(p, "{\"state\":\"");
	if (st == NULL) {
		p = put_text(p, "error\"");
		p = put_asked(p, asked);
		p = put_text(p, ",\"error\":");
		p = put_text_string(p, error ? error : "", error ?
		    strlen(error) : 0);
	} else if (st->state == GV_STATE_UNKNOWN) {
		p = put_text(p, "unknown\"");
		p = put_asked(p, asked);
	} else {
		p = put_text(p, gv_state_name(st->state));
		*p++ = '"';
		p = put_state(p, st);
	}
	*p++ = '}';
	*p = '\0';
	b->len = (size_t)(p - b->data);
	return 0;
}

int
jobjson_status_item(struct buf *b, size_t i, const struct job_name *asked,
    const struct gv_job_status *st, const char *error)
{
	size_t mark = b->len;

	if (status_item(b, i, asked, st, error) == -1)
		return -1;
	if (b->len <= JOBJSON_STATUS_REPLY_MAX || st == NULL)
		return 0;
	b->len = mark;
	b->data[mark] = '\0';
	return status_item(b, i, asked, NULL, JOBJSON_STATUS_FULL) == -1 ?
	    -1 : 1;
}
