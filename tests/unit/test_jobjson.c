/*
 * test_jobjson: the job document round trip (every byte value must come back
 * exactly), its compatibility with Perl's JSON module, the inject_jobs
 * validation messages, and robustness against hostile input.
 */
#include <check.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "garivini.h"
#include "jobjson.h"
#include "unit.h"
#include "util.h"

/* xorshift64*: a fixed seed makes every failure reproducible. */
static uint64_t rng_state;

static void
rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 1;
}

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void
rng_fill(unsigned char *p, size_t n)
{
	while (n--)
		*p++ = (unsigned char)(rng_next() >> 56);
}

static char funcname_resize[] = "resize";

static void
job_init(struct gv_job *j, unsigned char *arg, size_t arg_len)
{
	memset(j, 0, sizeof *j);
	j->jobid = 42;
	j->dbid = 3;
	j->funcname = funcname_resize;
	j->arg = arg;
	j->arg_len = arg_len;
	j->run_after = 1700000000;
	j->flag = GV_FLAG_SHIM;
	j->failcount = 2;
	j->attempt = 7;
}

/* The document must be valid JSON to jansson, which checks UTF-8 strictly;
 * \u0000 is valid JSON that jansson only refuses by default. */
static void
assert_strict_json(const struct buf *b)
{
	json_error_t jerr;
	json_t *root;

	root = json_loadb(b->data, b->len, JSON_ALLOW_NUL, &jerr);
	ck_assert_msg(root != NULL, "invalid JSON: %s at %d", jerr.text,
	    jerr.position);
	json_decref(root);
}

/* Encode, decode, and compare every field. */
static void
roundtrip(const struct gv_job *in)
{
	struct buf b = { 0 };
	struct gv_job out;
	char err[256] = "";

	ck_assert_int_eq(jobjson_encode(in, &b), 0);
	ck_assert_uint_eq(strlen(b.data), b.len);
	assert_strict_json(&b);
	ck_assert_msg(jobjson_decode(b.data, b.len, &out, err,
	    sizeof err) == 0, "decode: %s", err);
	ck_assert_uint_eq(out.jobid, in->jobid);
	ck_assert_uint_eq(out.dbid, in->dbid);
	ck_assert_str_eq(out.funcname, in->funcname);
	ck_assert_uint_eq(out.arg_len, in->arg_len);
	ck_assert_ptr_nonnull(out.arg);
	if (in->arg_len)
		ck_assert_mem_eq(out.arg, in->arg, in->arg_len);
	ck_assert_int_eq(out.arg[out.arg_len], '\0');
	if (in->uniqkey)
		ck_assert_str_eq(out.uniqkey, in->uniqkey);
	else
		ck_assert_ptr_null(out.uniqkey);
	if (in->coalesce)
		ck_assert_str_eq(out.coalesce, in->coalesce);
	else
		ck_assert_ptr_null(out.coalesce);
	ck_assert_uint_eq(out.run_after, in->run_after);
	ck_assert_int_eq(out.flag, in->flag);
	ck_assert_uint_eq(out.failcount, in->failcount);
	ck_assert_uint_eq(out.attempt, in->attempt);
	ck_assert_int_eq(out.priority, in->priority);
	ck_assert_int_eq(out.fenced, 1);
	gv_job_clear(&out);
	buf_free(&b);
}

/* ---- encoder ---------------------------------------------------------- */

START_TEST(encode_exact_format)
{
	unsigned char arg[] = "hi";
	struct buf b = { 0 };
	struct gv_job j;
	char uniq[] = "u1", coal[] = "c1";

	job_init(&j, arg, 2);
	ck_assert_int_eq(buf_append(&b, "X", 1), 0);
	ck_assert_int_eq(jobjson_encode(&j, &b), 0);
	ck_assert_str_eq(b.data, "X{\"jobid\":42,\"dbid\":3,"
	    "\"funcname\":\"resize\",\"arg\":\"hi\",\"uniqkey\":null,"
	    "\"coalesce\":null,\"run_after\":1700000000,\"flag\":\"shim\","
	    "\"failcount\":2,\"attempt\":7,\"priority\":0}");

	buf_reset(&b);
	j.uniqkey = uniq;
	j.coalesce = coal;
	j.flag = GV_FLAG_CONTROLLER;
	j.jobid = UINT64_MAX;	/* a string: see below */
	j.dbid = UINT32_MAX;
	j.run_after = 0;
	j.failcount = 0;
	j.attempt = UINT32_MAX;
	j.priority = GV_PRIORITY_MIN;
	ck_assert_int_eq(jobjson_encode(&j, &b), 0);
	ck_assert_str_eq(b.data, "{\"jobid\":\"18446744073709551615\","
	    "\"dbid\":4294967295,\"funcname\":\"resize\",\"arg\":\"hi\","
	    "\"uniqkey\":\"u1\",\"coalesce\":\"c1\",\"run_after\":0,"
	    "\"flag\":\"controller\",\"failcount\":0,"
	    "\"attempt\":4294967295,\"priority\":-10}");
	/* jansson (and many other parsers) refuse integers above INT64_MAX:
	 * those jobids go out as strings of digits, which every parser reads
	 * and the original's documents held anyway. */
	assert_strict_json(&b);
	roundtrip(&j);
	j.jobid = (uint64_t)INT64_MAX + 1;
	buf_reset(&b);
	ck_assert_int_eq(jobjson_encode(&j, &b), 0);
	ck_assert_str_eq(strtok(b.data, ","),
	    "{\"jobid\":\"9223372036854775808\"");
	roundtrip(&j);
	j.jobid = INT64_MAX;
	buf_reset(&b);
	ck_assert_int_eq(jobjson_encode(&j, &b), 0);
	ck_assert_str_eq(strtok(b.data, ","), "{\"jobid\":9223372036854775807");
	roundtrip(&j);
	buf_free(&b);
}
END_TEST

START_TEST(encode_escapes)
{
	unsigned char arg[] = "\"\\/\n\t\r\b\f\x01\x1f\x7f\x80\xff";
	struct buf b = { 0 };
	struct gv_job j;
	const char *start, *want = "\"arg\":\"\\\"\\\\/\\n\\t\\r\\b\\f"
	    "\\u0001\\u001f\x7f\xc2\x80\xc3\xbf\",";

	job_init(&j, arg, sizeof arg - 1);
	ck_assert_int_eq(jobjson_encode(&j, &b), 0);
	start = strstr(b.data, "\"arg\":");
	ck_assert_ptr_nonnull(start);
	/* The short escapes, lower-case \u00XX, DEL as it is (as Perl's
	 * encode_json writes them) and two-byte UTF-8 for 0x80..0xFF. */
	ck_assert_int_eq(strncmp(start, want, strlen(want)), 0);
	roundtrip(&j);
	buf_free(&b);
}
END_TEST

START_TEST(roundtrip_all_bytes)
{
	unsigned char arg[256];
	struct gv_job j;
	int i;

	for (i = 0; i < 256; i++)
		arg[i] = (unsigned char)i;
	job_init(&j, arg, sizeof arg);
	roundtrip(&j);
}
END_TEST

START_TEST(roundtrip_random)
{
	unsigned char *arg = malloc(4096);
	struct gv_job j;
	int i;

	ck_assert_ptr_nonnull(arg);
	rng_seed(20110101);
	for (i = 0; i < 2000; i++) {
		size_t len = (size_t)(rng_next() % 4097);

		rng_fill(arg, len);
		job_init(&j, arg, len);
		j.jobid = (rng_next() >> 1) | 1;
		j.dbid = (unsigned)(rng_next() % 1000) + 1;
		j.run_after = (uint32_t)rng_next();
		j.failcount = (unsigned)(rng_next() % 256);
		j.attempt = (uint32_t)rng_next();
		j.flag = (rng_next() & 1) ? GV_FLAG_SHIM : GV_FLAG_CONTROLLER;
		roundtrip(&j);
	}
	free(arg);
}
END_TEST

START_TEST(roundtrip_empty_arg)
{
	unsigned char empty[1] = "";
	struct gv_job j;

	job_init(&j, NULL, 0);
	roundtrip(&j);
	job_init(&j, empty, 0);
	roundtrip(&j);
}
END_TEST

START_TEST(roundtrip_one_megabyte)
{
	size_t len = 1024 * 1024;
	unsigned char *arg = malloc(len);
	struct gv_job j;

	ck_assert_ptr_nonnull(arg);
	rng_seed(7);
	rng_fill(arg, len);
	job_init(&j, arg, len);
	roundtrip(&j);
	free(arg);
}
END_TEST

START_TEST(arg_with_nul_bytes)
{
	unsigned char arg[] = { 'a', 0, 'b', 0, 0, 0xff, 0 };
	struct buf b = { 0 };
	struct gv_job j, out;
	char err[256] = "";

	job_init(&j, arg, sizeof arg);
	roundtrip(&j);
	ck_assert_int_eq(jobjson_encode(&j, &b), 0);
	ck_assert_ptr_nonnull(strstr(b.data,
	    "\"arg\":\"a\\u0000b\\u0000\\u0000\xc3\xbf\\u0000\""));
	ck_assert_int_eq(jobjson_decode(b.data, b.len, &out, err, sizeof err),
	    0);
	ck_assert_uint_eq(out.arg_len, 7);
	ck_assert_uint_eq(strlen((char *)out.arg), 1);
	gv_job_clear(&out);
	buf_free(&b);
}
END_TEST

START_TEST(text_fields_utf8)
{
	char name[] = "caf\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x98\x80"
	    "-\"q\"\\\t";
	char uniq[] = "\xe2\x82\xac", coal[] = "co\nal";
	unsigned char arg[] = "x";
	struct gv_job j;

	/* Valid UTF-8 text travels unchanged. */
	job_init(&j, arg, 1);
	j.funcname = name;
	j.uniqkey = uniq;
	j.coalesce = coal;
	roundtrip(&j);
}
END_TEST

START_TEST(text_fields_invalid_utf8)
{
	/* lone continuation, overlong '/', surrogate, truncated sequence,
	 * above U+10FFFF, 0xFF */
	static const char *const bad[] = {
		"\x80", "\xc0\xaf", "\xed\xa0\x80", "ab\xe6\x97", "\xf4\x90\x80\x80",
		"\xff\xfe", "ok\xc3", "\xf5\x80\x80\x80",
	};
	unsigned char arg[] = "x";
	struct buf b = { 0 };
	struct gv_job j, out;
	char err[256] = "", copy[3][32];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(copy[0], sizeof copy[0], "f%s", bad[i]);
		snprintf(copy[1], sizeof copy[1], "%s", bad[i]);
		snprintf(copy[2], sizeof copy[2], "%s\n", bad[i]);
		job_init(&j, arg, 1);
		j.funcname = copy[0];
		j.uniqkey = copy[1];
		j.coalesce = copy[2];
		buf_reset(&b);
		ck_assert_int_eq(jobjson_encode(&j, &b), 0);
		assert_strict_json(&b);
		ck_assert_msg(jobjson_decode(b.data, b.len, &out, err,
		    sizeof err) == 0, "%s", err);
		gv_job_clear(&out);
	}

	/* Bytes that are not UTF-8 come out as their Latin-1 reading. */
	snprintf(copy[0], sizeof copy[0], "\xff\xfe");
	job_init(&j, arg, 1);
	j.funcname = copy[0];
	buf_reset(&b);
	ck_assert_int_eq(jobjson_encode(&j, &b), 0);
	ck_assert_int_eq(jobjson_decode(b.data, b.len, &out, err, sizeof err),
	    0);
	ck_assert_str_eq(out.funcname, "\xc3\xbf\xc3\xbe");
	gv_job_clear(&out);
	buf_free(&b);
}
END_TEST

/* ---- decoder ---------------------------------------------------------- */

START_TEST(decode_numbers_as_strings)
{
	/* What the original's QueueRunner sent: DBI values are strings. */
	const char *doc = "{\"jobid\":\"18446744073709551615\",\"dbid\":\"2\","
	    "\"funcname\":\"f\",\"arg\":\"a\",\"uniqkey\":null,"
	    "\"coalesce\":null,\"run_after\":\"1300000000\",\"flag\":\"shim\","
	    "\"failcount\":\"0003\"}";
	struct gv_job j;
	char err[256] = "";

	ck_assert_msg(jobjson_decode(doc, strlen(doc), &j, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(j.jobid, UINT64_MAX);
	ck_assert_uint_eq(j.dbid, 2);
	ck_assert_uint_eq(j.run_after, 1300000000u);
	ck_assert_uint_eq(j.failcount, 3);
	ck_assert_int_eq(j.fenced, 0);
	ck_assert_uint_eq(j.attempt, 0);
	ck_assert_uint_eq(j.arg_len, 1);
	gv_job_clear(&j);
}
END_TEST

START_TEST(decode_fenced)
{
	const char *fenced = "{\"jobid\":1,\"dbid\":1,\"funcname\":\"f\","
	    "\"arg\":\"\",\"attempt\":0}";
	const char *fenced_str = "{\"jobid\":1,\"dbid\":1,\"funcname\":\"f\","
	    "\"attempt\":\"9\",\"flag\":\"controller\"}";
	const char *old = "{\"jobid\":1,\"dbid\":1,\"funcname\":\"f\"}";
	struct gv_job j;
	char err[256] = "";

	ck_assert_int_eq(jobjson_decode(fenced, strlen(fenced), &j, err,
	    sizeof err), 0);
	ck_assert_int_eq(j.fenced, 1);
	ck_assert_uint_eq(j.attempt, 0);
	gv_job_clear(&j);

	ck_assert_int_eq(jobjson_decode(fenced_str, strlen(fenced_str), &j,
	    err, sizeof err), 0);
	ck_assert_int_eq(j.fenced, 1);
	ck_assert_uint_eq(j.attempt, 9);
	ck_assert_int_eq(j.flag, GV_FLAG_CONTROLLER);
	gv_job_clear(&j);

	/* A missing arg is an empty payload, still NUL-terminated. */
	ck_assert_int_eq(jobjson_decode(old, strlen(old), &j, err,
	    sizeof err), 0);
	ck_assert_int_eq(j.fenced, 0);
	ck_assert_int_eq(j.flag, GV_FLAG_SHIM);
	ck_assert_ptr_nonnull(j.arg);
	ck_assert_uint_eq(j.arg_len, 0);
	ck_assert_int_eq(j.arg[0], '\0');
	ck_assert_ptr_null(j.uniqkey);
	gv_job_clear(&j);
}
END_TEST

struct bad_case {
	const char *json;
	const char *message;	/* an fnmatch(3) pattern */
};

static void
assert_message(const char *got, const char *want, const char *input)
{
	ck_assert_msg(fnmatch(want, got, FNM_NOESCAPE) == 0,
	    "%s: got \"%s\", want \"%s\"", input, got, want);
}

static const struct bad_case decode_bad[] = {
	{ "", "not JSON: * at byte 0" },
	{ "{", "not JSON: *" },
	{ "[1]", "document is not an object" },
	{ "{\"jobid\":1,\"jobid\":2}", "not JSON: duplicate object key*" },
	{ "{\"dbid\":1,\"funcname\":\"f\"}", "jobid is missing" },
	{ "{\"jobid\":0,\"dbid\":1,\"funcname\":\"f\"}",
	  "jobid must be a positive integer" },
	{ "{\"jobid\":-4,\"dbid\":1,\"funcname\":\"f\"}",
	  "jobid must be a positive integer" },
	{ "{\"jobid\":\"12x\",\"dbid\":1,\"funcname\":\"f\"}",
	  "jobid must be a positive integer" },
	{ "{\"jobid\":\"\",\"dbid\":1,\"funcname\":\"f\"}",
	  "jobid must be a positive integer" },
	{ "{\"jobid\":\"18446744073709551616\",\"dbid\":1,\"funcname\":\"f\"}",
	  "jobid must be a positive integer" },
	{ "{\"jobid\":1.5,\"dbid\":1,\"funcname\":\"f\"}",
	  "jobid must be a positive integer" },
	{ "{\"jobid\":[1],\"dbid\":1,\"funcname\":\"f\"}",
	  "jobid must be a positive integer" },
	{ "{\"jobid\":1,\"funcname\":\"f\"}", "dbid is missing" },
	{ "{\"jobid\":1,\"dbid\":0,\"funcname\":\"f\"}",
	  "dbid must be a positive integer" },
	{ "{\"jobid\":1,\"dbid\":4294967296,\"funcname\":\"f\"}",
	  "dbid must be a positive integer" },
	{ "{\"jobid\":1,\"dbid\":1}", "funcname is missing" },
	{ "{\"jobid\":1,\"dbid\":1,\"funcname\":null}",
	  "funcname must be a string" },
	{ "{\"jobid\":1,\"dbid\":1,\"funcname\":\"a\\u0000b\"}",
	  "funcname contains a NUL byte" },
	{ "{\"jobid\":1,\"dbid\":1,\"funcname\":\"f\",\"arg\":5}",
	  "arg must be a string" },
	{ "{\"jobid\":1,\"dbid\":1,\"funcname\":\"f\",\"arg\":\"\\u0100\"}",
	  "arg is not a byte string*" },
	{ "{\"jobid\":1,\"dbid\":1,\"funcname\":\"f\",\"arg\":\"ab\xe2\x82\xac\"}",
	  "arg is not a byte string*" },
	{ "{\"jobid\":1,\"dbid\":1,\"funcname\":\"f\",\"uniqkey\":7}",
	  "uniqkey must be a string or null" },
	{ "{\"jobid\":1,\"dbid\":1,\"funcname\":\"f\",\"coalesce\":{}}",
	  "coalesce must be a string or null" },
	{ "{\"jobid\":1,\"dbid\":1,\"funcname\":\"f\",\"run_after\":\"soon\"}",
	  "run_after must be an integer from 0 to 4294967295" },
	{ "{\"jobid\":1,\"dbid\":1,\"funcname\":\"f\",\"run_after\":4294967296}",
	  "run_after must be an integer from 0 to 4294967295" },
	{ "{\"jobid\":1,\"dbid\":1,\"funcname\":\"f\",\"failcount\":-1}",
	  "failcount must be an integer from 0 to 4294967295" },
	{ "{\"jobid\":1,\"dbid\":1,\"funcname\":\"f\",\"attempt\":true}",
	  "attempt must be an integer from 0 to 4294967295" },
	{ "{\"jobid\":1,\"dbid\":1,\"funcname\":\"f\",\"flag\":\"Shim\"}",
	  "flag must be \"shim\" or \"controller\"" },
	{ "{\"jobid\":1,\"dbid\":1,\"funcname\":\"f\",\"flag\":1}",
	  "flag must be \"shim\" or \"controller\"" },
	{ "{\"jobid\":1e999}", "not JSON: real number overflow*" },
	{ "{\"jobid\":99999999999999999999}", "not JSON: too big integer*" },
	{ "{\"jobid\":1,\"dbid\":1,\"funcname\":\"\xff\"}", "not JSON: *" },
};

START_TEST(decode_errors)
{
	const struct bad_case *c = &decode_bad[_i];
	struct gv_job j;
	char err[256] = "";

	memset(&j, 0xa5, sizeof j);
	ck_assert_int_eq(jobjson_decode(c->json, strlen(c->json), &j, err,
	    sizeof err), -1);
	assert_message(err, c->message, c->json);
	/* A failed parse leaves nothing to free. */
	ck_assert_ptr_null(j.funcname);
	ck_assert_ptr_null(j.arg);
	ck_assert_ptr_null(j.uniqkey);
	ck_assert_ptr_null(j.coalesce);
}
END_TEST

START_TEST(decode_error_position)
{
	const char *doc = "{\"jobid\":1,}";
	struct gv_job j;
	char err[256] = "";

	ck_assert_int_eq(jobjson_decode(doc, strlen(doc), &j, err, sizeof err),
	    -1);
	ck_assert_msg(strstr(err, " at byte 12") != NULL, "%s", err);
}
END_TEST

START_TEST(public_parse)
{
	const char *doc = "{\"jobid\":5,\"dbid\":1,\"funcname\":\"f\","
	    "\"arg\":\"\xc3\xbf\"}";
	struct gv_job j;
	char err[64] = "";

	ck_assert_int_eq(gv_job_parse(doc, strlen(doc), &j, err, sizeof err),
	    GV_OK);
	ck_assert_uint_eq(j.jobid, 5);
	ck_assert_uint_eq(j.arg_len, 1);
	ck_assert_int_eq(j.arg[0], 0xff);
	gv_job_clear(&j);
	ck_assert_ptr_null(j.arg);
	ck_assert_uint_eq(j.jobid, 0);
	gv_job_clear(&j);
	gv_job_clear(NULL);

	ck_assert_int_eq(gv_job_parse("{}", 2, &j, NULL, 0), GV_EJSON);
	ck_assert_int_eq(gv_job_parse("{}", 2, &j, err, sizeof err),
	    GV_EJSON);
	ck_assert_str_eq(err, "jobid is missing");
	ck_assert_int_eq(gv_job_parse(NULL, 0, &j, err, sizeof err),
	    GV_EJSON);
	ck_assert_int_eq(gv_job_parse(doc, strlen(doc), NULL, err,
	    sizeof err), GV_EINVAL);
	/* A long message is cut to the buffer, not written past it. */
	ck_assert_int_eq(gv_job_parse("x", 1, &j, err, 8), GV_EJSON);
	ck_assert_str_eq(err, "not JSO");
}
END_TEST

/* ---- inject_jobs ------------------------------------------------------ */

START_TEST(inject_ok)
{
	const char *doc = "{\"funcname\":\"resize\",\"arg\":\"a\\u0000\xc3\xbf\","
	    "\"uniqkey\":\"k1\",\"delay\":\"30\",\"flag\":\"shim\","
	    "\"coalesce\":\"\"}";
	const char *minimal = "{\"arg\":\"\",\"funcname\":\"f\"}";
	struct inject_req r;
	char err[256] = "";

	ck_assert_msg(jobjson_inject_decode(doc, strlen(doc), &r, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_str_eq(r.job.funcname, "resize");
	ck_assert_uint_eq(r.job.arg_len, 3);
	ck_assert_mem_eq(r.job.arg, "a\0\xff", 4);
	ck_assert_str_eq(r.job.uniqkey, "k1");
	ck_assert_str_eq(r.job.coalesce, "");
	ck_assert_int_eq(r.delay, 30);
	ck_assert_int_eq(r.job.flag, GV_FLAG_SHIM);
	jobjson_inject_clear(&r);
	ck_assert_ptr_null(r.job.funcname);
	jobjson_inject_clear(&r);
	jobjson_inject_clear(NULL);

	ck_assert_int_eq(jobjson_inject_decode(minimal, strlen(minimal), &r,
	    err, sizeof err), 0);
	ck_assert_uint_eq(r.job.arg_len, 0);
	ck_assert_ptr_nonnull(r.job.arg);
	ck_assert_int_eq(r.job.arg[0], '\0');
	ck_assert_ptr_null(r.job.uniqkey);
	ck_assert_ptr_null(r.job.coalesce);
	ck_assert_int_eq(r.delay, 0);
	ck_assert_int_eq(r.job.flag, GV_FLAG_CONTROLLER);
	ck_assert_int_eq(r.job.priority, 0);
	jobjson_inject_clear(&r);
}
END_TEST

/* A priority as a number, a whole real or a string of digits, as the other
 * numbers of a payload; null is the default. */
START_TEST(inject_priority)
{
	static const struct { const char *json; int want; } ok[] = {
		{ "{\"funcname\":\"f\",\"arg\":\"\",\"priority\":10}", 10 },
		{ "{\"funcname\":\"f\",\"arg\":\"\",\"priority\":-10}", -10 },
		{ "{\"funcname\":\"f\",\"arg\":\"\",\"priority\":\"-3\"}", -3 },
		{ "{\"funcname\":\"f\",\"arg\":\"\",\"priority\":2.0}", 2 },
		{ "{\"funcname\":\"f\",\"arg\":\"\",\"priority\":null}", 0 },
	};
	struct inject_req r;
	char err[256] = "";
	size_t i;

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		ck_assert_msg(jobjson_inject_decode(ok[i].json,
		    strlen(ok[i].json), &r, err, sizeof err) == 0, "%s: %s",
		    ok[i].json, err);
		ck_assert_int_eq(r.job.priority, ok[i].want);
		jobjson_inject_clear(&r);
	}
}
END_TEST

START_TEST(inject_synonyms_and_limits)
{
	char doc[1024];
	struct inject_req r;
	char err[256] = "";

	snprintf(doc, sizeof doc, "{\"funcname\":\"%0200d\",\"arg\":\"x\","
	    "\"unique\":\"%063d\",\"run_after\":315360000,"
	    "\"coalesce\":\"%0255d\"}", 0, 0, 0);
	ck_assert_msg(jobjson_inject_decode(doc, strlen(doc), &r, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(strlen(r.job.funcname), 200);
	ck_assert_uint_eq(strlen(r.job.uniqkey), 63);
	ck_assert_uint_eq(strlen(r.job.coalesce), 255);
	ck_assert_int_eq(r.delay, GV_DELAY_MAX);
	jobjson_inject_clear(&r);

	snprintf(doc, sizeof doc, "{\"funcname\":\"f\",\"arg\":\"x\","
	    "\"delay\":2.0,\"unique\":null,\"flag\":null}");
	ck_assert_msg(jobjson_inject_decode(doc, strlen(doc), &r, err,
	    sizeof err) == 0, "%s", err);
	ck_assert_int_eq(r.delay, 2);
	ck_assert_ptr_null(r.job.uniqkey);
	ck_assert_int_eq(r.job.flag, GV_FLAG_CONTROLLER);
	jobjson_inject_clear(&r);
}
END_TEST

START_TEST(inject_wide_code_points)
{
	/* U+00E9 and U+20AC: a text string, not a byte string, so its UTF-8
	 * bytes are stored as they are. */
	const char *wide = "{\"funcname\":\"f\",\"arg\":\"\xc3\xa9\\u20ac\"}";
	const char *narrow = "{\"funcname\":\"f\",\"arg\":\"\xc3\xa9\"}";
	struct inject_req r;
	char err[256] = "";

	ck_assert_int_eq(jobjson_inject_decode(wide, strlen(wide), &r, err,
	    sizeof err), 0);
	ck_assert_uint_eq(r.job.arg_len, 5);
	ck_assert_mem_eq(r.job.arg, "\xc3\xa9\xe2\x82\xac", 6);
	jobjson_inject_clear(&r);

	ck_assert_int_eq(jobjson_inject_decode(narrow, strlen(narrow), &r, err,
	    sizeof err), 0);
	ck_assert_uint_eq(r.job.arg_len, 1);
	ck_assert_int_eq(r.job.arg[0], 0xe9);
	ck_assert_int_eq(r.job.arg[1], 0);
	jobjson_inject_clear(&r);
}
END_TEST

#define F "\"funcname\":\"f\","
#define A "\"arg\":\"x\""
static const struct bad_case inject_bad[] = {
	{ "", "not JSON: *" },
	{ "nope", "not JSON: * at byte *" },
	{ "[\"f\",\"x\"]", "payload is not an object" },
	{ "{" F F A "}", "not JSON: duplicate object key*" },
	{ "{" A "}", "funcname is missing" },
	{ "{\"funcname\":5," A "}", "funcname must be a string" },
	{ "{\"funcname\":null," A "}", "funcname must be a string" },
	{ "{\"funcname\":\"\"," A "}", "funcname is empty" },
	{ "{\"funcname\":\"a\\u0000b\"," A "}", "funcname contains a NUL byte" },
	{ "{\"funcname\":\"" "01234567890123456789012345678901234567890123456789"
	  "01234567890123456789012345678901234567890123456789"
	  "01234567890123456789012345678901234567890123456789"
	  "01234567890123456789012345678901234567890123456789" "x\"," A "}",
	  "funcname is longer than 200 bytes" },
	{ "{\"funcname\":\"f\"}", "arg is missing" },
	{ "{" F "\"arg\":5}", "arg must be a string" },
	{ "{" F "\"arg\":null}", "arg must be a string" },
	{ "{" F "\"arg\":[\"x\"]}", "arg must be a string" },
	{ "{" F A ",\"uniqkey\":\"a\",\"unique\":\"b\"}",
	  "give uniqkey or unique, not both" },
	{ "{" F A ",\"uniqkey\":\"\"}", "uniqkey is empty" },
	{ "{" F A ",\"unique\":\"\"}", "unique is empty" },
	{ "{" F A ",\"uniqkey\":5}", "uniqkey must be a string" },
	{ "{" F A ",\"uniqkey\":\"a\\u0000\"}", "uniqkey contains a NUL byte" },
	{ "{" F A ",\"uniqkey\":\"0123456789012345678901234567890123456789"
	  "012345678901234567890123\"}", "uniqkey is longer than 63 bytes" },
	{ "{" F A ",\"unique\":\"0123456789012345678901234567890123456789"
	  "012345678901234567890123\"}", "unique is longer than 63 bytes" },
	{ "{" F A ",\"delay\":1,\"run_after\":2}",
	  "give delay or run_after, not both" },
	{ "{" F A ",\"delay\":-1}", "delay must not be negative" },
	{ "{" F A ",\"delay\":\"-5\"}", "delay must not be negative" },
	{ "{" F A ",\"delay\":-2.0}", "delay must not be negative" },
	{ "{" F A ",\"run_after\":-1}", "run_after must not be negative" },
	{ "{" F A ",\"delay\":315360001}",
	  "delay must be at most 315360000 seconds" },
	{ "{" F A ",\"delay\":\"99999999999999999999999\"}",
	  "delay must be at most 315360000 seconds" },
	{ "{" F A ",\"delay\":1e30}", "delay must be at most 315360000 seconds" },
	{ "{" F A ",\"run_after\":9223372036854775807}",
	  "run_after must be at most 315360000 seconds" },
	{ "{" F A ",\"delay\":1.5}", "delay must be a whole number of seconds" },
	{ "{" F A ",\"delay\":\"soon\"}", "delay must be a number of seconds" },
	{ "{" F A ",\"delay\":\"\"}", "delay must be a number of seconds" },
	{ "{" F A ",\"delay\":\"1.5\"}", "delay must be a number of seconds" },
	{ "{" F A ",\"delay\":\" 5\"}", "delay must be a number of seconds" },
	{ "{" F A ",\"delay\":true}", "delay must be a number of seconds" },
	{ "{" F A ",\"delay\":[5]}", "delay must be a number of seconds" },
	{ "{" F A ",\"flag\":\"other\"}", "flag must be \"controller\" or \"shim\"" },
	{ "{" F A ",\"flag\":1}", "flag must be \"controller\" or \"shim\"" },
	{ "{" F A ",\"coalesce\":5}", "coalesce must be a string" },
	{ "{" F A ",\"coalesce\":\"0123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789"
	  "0123456789012345\"}", "coalesce is longer than 255 bytes" },
	{ "{" F A ",\"priority\":11}", "priority must be an integer from -10 "
	  "to 10" },
	{ "{" F A ",\"priority\":-11}", "priority must be an integer from -10 "
	  "to 10" },
	{ "{" F A ",\"priority\":1.5}", "priority must be an integer from -10 "
	  "to 10" },
	{ "{" F A ",\"priority\":\"high\"}", "priority must be an integer "
	  "from -10 to 10" },
	{ "{" F A ",\"priority\":\"-\"}", "priority must be an integer from "
	  "-10 to 10" },
	{ "{" F A ",\"priority\":-9223372036854775807}", "priority must be an "
	  "integer from -10 to 10" },
	{ "{" F A ",\"priority\":true}", "priority must be an integer from "
	  "-10 to 10" },
	{ "{" F A ",\"delya\":5}", "unknown field delya" },
	{ "{" F A ",\"Arg\":\"x\"}", "unknown field Arg" },
};
#undef F
#undef A

START_TEST(inject_errors)
{
	const struct bad_case *c = &inject_bad[_i];
	struct inject_req r;
	char err[256] = "";

	memset(&r, 0xa5, sizeof r);
	ck_assert_int_eq(jobjson_inject_decode(c->json, strlen(c->json), &r,
	    err, sizeof err), -1);
	assert_message(err, c->message, c->json);
	ck_assert_ptr_null(r.job.funcname);
	ck_assert_ptr_null(r.job.arg);
	ck_assert_ptr_null(r.job.uniqkey);
	ck_assert_ptr_null(r.job.coalesce);
}
END_TEST

START_TEST(inject_reply_format)
{
	struct buf b = { 0 };

	ck_assert_int_eq(jobjson_inject_reply(12, 3, 0, &b), 0);
	ck_assert_str_eq(b.data, "{\"jobid\":12,\"dbid\":3}");
	buf_reset(&b);
	ck_assert_int_eq(jobjson_inject_reply(INT64_MAX, 1, 1, &b), 0);
	ck_assert_str_eq(b.data,
	    "{\"jobid\":9223372036854775807,\"dbid\":1,\"duplicate\":true}");
	assert_strict_json(&b);
	buf_reset(&b);
	ck_assert_int_eq(jobjson_inject_reply((uint64_t)INT64_MAX + 6, 1, 0,
	    &b), 0);
	ck_assert_str_eq(b.data,
	    "{\"jobid\":\"9223372036854775813\",\"dbid\":1}");
	assert_strict_json(&b);
	buf_free(&b);
}
END_TEST

/* ---- cancel_jobs and messages ----------------------------------------- */

static const char *
cancel_refused(const char *payload)
{
	static char err[256];
	struct cancel_req *reqs;
	size_t n;
	int array;

	err[0] = '\0';
	ck_assert_int_eq(jobjson_cancel_decode(payload, strlen(payload), &reqs,
	    &n, &array, err, sizeof(err)), -1);
	ck_assert_ptr_null(reqs);
	return err;
}

START_TEST(cancel_payloads)
{
	const char *ok = "[{\"funcname\":\"f\",\"uniqkey\":\"k\"},"
	    "{\"dbid\":2,\"jobid\":\"18446744073709551615\"}]";
	struct cancel_req *reqs;
	struct buf b = { 0 };
	size_t n;
	int array;

	ck_assert_int_eq(jobjson_cancel_decode(ok, strlen(ok), &reqs, &n,
	    &array, NULL, 0), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(array, 1);
	ck_assert_str_eq(reqs[0].name.funcname, "f");
	ck_assert_str_eq(reqs[0].name.uniqkey, "k");
	ck_assert_ptr_null(reqs[1].name.funcname);
	ck_assert_uint_eq(reqs[1].name.dbid, 2);
	ck_assert(reqs[1].name.jobid == UINT64_MAX);
	reqs[0].cancelled = 1;
	reqs[0].name.dbid = 1;
	reqs[0].name.jobid = 7;
	strcpy(reqs[1].error, "no job 18446744073709551615 in database 2");
	ck_assert_int_eq(jobjson_cancel_reply(reqs, n, array, &b), 0);
	ck_assert_str_eq(b.data, "[{\"funcname\":\"f\",\"uniqkey\":\"k\","
	    "\"cancelled\":true,\"dbid\":1,\"jobid\":7},{\"cancelled\":false,"
	    "\"dbid\":2,\"jobid\":\"18446744073709551615\",\"error\":\"no job "
	    "18446744073709551615 in database 2\"}]");
	jobjson_cancel_free(reqs, n);
	buf_reset(&b);
	ck_assert_int_eq(jobjson_cancel_decode("{\"dbid\":1,\"jobid\":3}", 20,
	    &reqs, &n, &array, NULL, 0), 0);
	ck_assert_int_eq(array, 0);
	ck_assert_int_eq(jobjson_cancel_reply(reqs, n, array, &b), 0);
	ck_assert_str_eq(b.data, "{\"cancelled\":false,\"dbid\":1,\"jobid\":3,"
	    "\"error\":\"\"}");
	jobjson_cancel_free(reqs, n);
	buf_free(&b);

	ck_assert_str_eq(cancel_refused("nope"), "not JSON: '[' or '{' "
	    "expected near 'nope' at byte 4");
	ck_assert_str_eq(cancel_refused("[]"), "no job named");
	ck_assert_str_eq(cancel_refused("{\"funcname\":\"f\"}"),
	    "uniqkey is missing");
	ck_assert_str_eq(cancel_refused("{\"uniqkey\":\"k\"}"),
	    "funcname is missing");
	ck_assert_str_eq(cancel_refused("{\"funcname\":\"f\",\"uniqkey\":\"k\","
	    "\"jobid\":1}"), "name a job by funcname and uniqkey, or by dbid "
	    "and jobid, not both");
	ck_assert_str_eq(cancel_refused("[{\"dbid\":1,\"jobid\":1},{}]"),
	    "job 1: name a job by funcname and uniqkey, or by dbid and jobid");
	ck_assert_str_eq(cancel_refused("{\"dbid\":1,\"jobid\":0}"),
	    "jobid must be a positive integer");
	ck_assert_str_eq(cancel_refused("{\"dbid\":70000,\"jobid\":1}"),
	    "dbid must be a positive integer");
	ck_assert_str_eq(cancel_refused("{\"dbid\":1,\"jobid\":1,\"x\":1}"),
	    "unknown field x");
	ck_assert_str_eq(cancel_refused("[1]"), "job 0: is not an object");
}
END_TEST

/* ---- job_status -------------------------------------------------------- */

static const char *
status_refused(const char *payload)
{
	static char err[256];
	struct job_name *names;
	size_t n;
	int array;

	err[0] = '\0';
	ck_assert_int_eq(jobjson_status_decode(payload, strlen(payload),
	    &names, &n, &array, err, sizeof(err)), -1);
	ck_assert_ptr_null(names);
	ck_assert_uint_eq(n, 0);
	return err;
}

START_TEST(status_payloads)
{
	char key[GV_UNIQKEY_MAX + 2], payload[600];
	struct job_name *names;
	struct buf b = { 0 };
	size_t n, i;
	int array;

	/* A key as long as the column takes, longer than gearmand's. */
	memset(key, 'k', GV_UNIQKEY_MAX);
	key[GV_UNIQKEY_MAX] = '\0';
	snprintf(payload, sizeof(payload), "[{\"funcname\":\"f\","
	    "\"uniqkey\":\"%s\"},{\"dbid\":2,\"jobid\":\"9\"}]", key);
	ck_assert_int_eq(jobjson_status_decode(payload, strlen(payload),
	    &names, &n, &array, NULL, 0), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(array, 1);
	ck_assert_str_eq(names[0].funcname, "f");
	ck_assert_str_eq(names[0].uniqkey, key);
	ck_assert_ptr_null(names[1].funcname);
	ck_assert_uint_eq(names[1].dbid, 2);
	ck_assert_uint_eq(names[1].jobid, 9);
	jobjson_status_free(names, n);
	ck_assert_int_eq(jobjson_status_decode("{\"dbid\":1,\"jobid\":3}", 20,
	    &names, &n, &array, NULL, 0), 0);
	ck_assert_int_eq(array, 0);
	ck_assert_uint_eq(n, 1);
	jobjson_status_free(names, n);

	strcat(key, "k");
	snprintf(payload, sizeof(payload), "{\"funcname\":\"f\","
	    "\"uniqkey\":\"%s\"}", key);
	ck_assert_str_eq(status_refused(payload),
	    "uniqkey is longer than 255 bytes");
	ck_assert_str_eq(status_refused("[]"), "no job named");
	ck_assert_str_eq(status_refused("[\"x\"]"),
	    "job 0: is not an object");
	ck_assert_str_eq(status_refused("[{\"dbid\":1,\"jobid\":1},"
	    "{\"dbid\":1,\"jobid\":-1}]"),
	    "job 1: jobid must be a positive integer");
	ck_assert_str_eq(status_refused("{\"funcname\":7,\"uniqkey\":\"k\"}"),
	    "funcname must be a string");
	buf_append(&b, "[", 1);
	for (i = 0; i <= JOBJSON_STATUS_MAX; i++)
		buf_printf(&b, "%s{\"dbid\":1,\"jobid\":%zu}", i ? "," : "",
		    i + 1);
	buf_append(&b, "]", 1);
	ck_assert_int_eq(jobjson_status_decode(b.data, b.len, &names, &n,
	    &array, payload, sizeof(payload)), -1);
	ck_assert_str_eq(payload, "more than 1000 jobs in one call");
	buf_free(&b);
}
END_TEST

/* A JSON string's code points U+0000..U+00FF as bytes; -1 on a larger. */
static long
latin1_bytes(const char *s, size_t len, unsigned char *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	long n = 0;

	while (i < len) {
		if (u[i] < 0x80)
			out[n++] = u[i++];
		else if ((u[i] == 0xc2 || u[i] == 0xc3) && i + 1 < len) {
			out[n++] = (unsigned char)(((u[i] & 3) << 6) |
			    (u[i + 1] & 0x3f));
			i += 2;
		} else
			return -1;
	}
	return n;
}

START_TEST(status_reply)
{
	unsigned char bytes[256], back[256];
	char name_f[] = "f", key_k[] = "k\xe2\x98\xba";
	char why[] = "disk \xe2\x98\xba full\n";
	struct job_name by_key = { .funcname = name_f, .uniqkey = key_k };
	struct job_name by_id = { .dbid = 2, .jobid = 7 };
	struct gv_job_status done = { .state = GV_STATE_DONE, .jobid = 7,
	    .dbid = 2, .failcount = 1, .attempt = 2, .ended = 1700000100,
	    .kept_until = 1700003700, .result = bytes, .result_len = 256,
	    .result_cut = 1 };
	struct gv_job_status lives = { .state = GV_STATE_RETRYING,
	    .jobid = UINT64_MAX, .dbid = 1, .failcount = 1, .attempt = 1,
	    .run_after = 1700000200, .has_uniqkey = 1, .error = why,
	    .error_time = 1700000150 };
	struct gv_job_status unknown = { .state = GV_STATE_UNKNOWN, .dbid = 2 };
	json_t *root, *v;
	const char *text;
	long len;
	size_t i;
	struct buf b = { 0 };

	for (i = 0; i < 256; i++)
		bytes[i] = (unsigned char)i;
	strcpy(done.funcname, "f");
	strcpy(lives.funcname, "f");
	strcpy(lives.uniqkey, key_k);
	ck_assert_int_eq(jobjson_status_open(&b, 1), 0);
	ck_assert_int_eq(jobjson_status_item(&b, 0, &by_id, &done, NULL), 0);
	ck_assert_int_eq(jobjson_status_item(&b, 1, &by_key, &lives, NULL), 0);
	ck_assert_int_eq(jobjson_status_item(&b, 2, &by_id, &unknown, NULL),
	    0);
	ck_assert_int_eq(jobjson_status_item(&b, 3, &by_key, NULL,
	    "db 1: gone \xff"), 0);
	ck_assert_int_eq(jobjson_status_close(&b, 1), 0);
	ck_assert_uint_eq(strlen(b.data), b.len);
	assert_strict_json(&b);
	/* Everything but the result, to the letter. */
	text = strstr(b.data, ",\"result\":\"");
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(strncmp(b.data, "[{\"state\":\"done\",\"jobid\":7,"
	    "\"dbid\":2,\"funcname\":\"f\",\"uniqkey\":null,\"failcount\":1,"
	    "\"attempt\":2,\"run_after\":null,\"ended\":1700000100,"
	    "\"kept_until\":1700003700,\"error\":null,\"error_time\":null",
	    (size_t)(text - b.data)), 0);
	text = strstr(b.data, ",\"result_cut\":true}");
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, ",\"result_cut\":true},"
	    "{\"state\":\"retrying\",\"jobid\":\"18446744073709551615\","
	    "\"dbid\":1,\"funcname\":\"f\",\"uniqkey\":\"k\xe2\x98\xba\","
	    "\"failcount\":1,\"attempt\":1,\"run_after\":1700000200,"
	    "\"ended\":null,\"kept_until\":null,\"error\":\"disk "
	    "\xe2\x98\xba full\\n\",\"error_time\":1700000150,"
	    "\"result\":null,\"result_cut\":false},"
	    "{\"state\":\"unknown\",\"jobid\":7,\"dbid\":2},"
	    "{\"state\":\"error\",\"funcname\":\"f\",\"uniqkey\":"
	    "\"k\xe2\x98\xba\",\"error\":\"db 1: gone \xc3\xbf\"}]");
	/* The result: every byte value back, as the job document's arg. */
	root = json_loadb(b.data, b.len, JSON_ALLOW_NUL, NULL);
	ck_assert_ptr_nonnull(root);
	v = json_object_get(json_array_get(root, 0), "result");
	len = latin1_bytes(json_string_value(v), json_string_length(v), back);
	ck_assert_int_eq(len, 256);
	ck_assert_mem_eq(back, bytes, 256);
	json_decref(root);

	buf_reset(&b);
	lives.error = NULL;
	ck_assert_int_eq(jobjson_status_item(&b, 0, &by_id, &lives, NULL), 0);
	ck_assert_str_eq(b.data, "{\"state\":\"retrying\",\"jobid\":"
	    "\"18446744073709551615\",\"dbid\":1,\"funcname\":\"f\","
	    "\"uniqkey\":\"k\xe2\x98\xba\",\"failcount\":1,\"attempt\":1,"
	    "\"run_after\":1700000200,\"ended\":null,\"kept_until\":null,"
	    "\"error\":null,\"error_time\":null,\"result\":null,"
	    "\"result_cut\":false}");
	buf_free(&b);
}
END_TEST

/* Results of the worst kind (six bytes of JSON each) fill the answer to
 * its bound, and the job past it is answered as full. */
START_TEST(status_reply_full)
{
	static unsigned char zeros[GV_RESULT_MAX];
	struct job_name by_id = { .dbid = 1, .jobid = 3 };
	struct gv_job_status done = { .state = GV_STATE_DONE, .jobid = 3,
	    .dbid = 1, .ended = 1, .kept_until = 2, .result = zeros,
	    .result_len = sizeof(zeros) };
	struct buf b = { 0 };
	size_t i, before = 0;
	int rc = 0;

	strcpy(done.funcname, "f");
	ck_assert_int_eq(jobjson_status_open(&b, 1), 0);
	for (i = 0; rc == 0 && i < 100; i++) {
		before = b.len;
		rc = jobjson_status_item(&b, i, &by_id, &done, NULL);
	}
	ck_assert_int_eq(rc, 1);
	ck_assert_uint_le(b.len, JOBJSON_STATUS_REPLY_MAX);
	ck_assert_uint_eq(i, JOBJSON_STATUS_REPLY_MAX / (6 * GV_RESULT_MAX) +
	    1);
	ck_assert_str_eq(b.data + before, ",{\"state\":\"error\",\"jobid\":3,"
	    "\"dbid\":1,\"error\":\"" JOBJSON_STATUS_FULL "\"}");
	ck_assert_int_eq(jobjson_status_close(&b, 1), 0);
	assert_strict_json(&b);
	buf_free(&b);
}
END_TEST

START_TEST(text_clean)
{
	char out[16];

	ck_assert_uint_eq(jobjson_text_clean(out, sizeof(out),
	    "\x05\x0a\x08  no luck\n\n", 14), 7);
	ck_assert_str_eq(out, "no luck");
	jobjson_text_clean(out, sizeof(out), "a\xff" "b\x01" "c\td\ne", 10);
	ck_assert_str_eq(out, "a?b?c\td\ne");
	/* Cut at a character boundary, never inside one. */
	jobjson_text_clean(out, 6, "ab\xe2\x98\xba" "cd", 7);
	ck_assert_str_eq(out, "ab\xe2\x98\xba");
	jobjson_text_clean(out, 5, "ab\xe2\x98\xba" "cd", 7);
	ck_assert_str_eq(out, "ab");
	ck_assert_uint_eq(jobjson_text_clean(out, sizeof(out), "\x01\x02", 2),
	    0);
	ck_assert_str_eq(out, "");
}
END_TEST

/* ---- hostile input ---------------------------------------------------- */

static void
parse_both(const void *data, size_t len)
{
	struct gv_job j;
	struct inject_req r;
	char err[128];

	err[0] = '\0';
	if (jobjson_decode(data, len, &j, err, sizeof err) == 0) {
		ck_assert_ptr_nonnull(j.funcname);
		ck_assert_ptr_nonnull(j.arg);
		ck_assert_int_eq(j.arg[j.arg_len], '\0');
		gv_job_clear(&j);
	} else {
		ck_assert(err[0] != '\0');
		ck_assert_ptr_null(j.funcname);
	}
	err[0] = '\0';
	if (jobjson_inject_decode(data, len, &r, err, sizeof err) == 0) {
		ck_assert_ptr_nonnull(r.job.funcname);
		ck_assert_ptr_nonnull(r.job.arg);
		jobjson_inject_clear(&r);
	} else {
		ck_assert(err[0] != '\0');
		ck_assert_ptr_null(r.job.funcname);
	}
}

START_TEST(deep_nesting)
{
	size_t n = 100000, i;
	char *p = malloc(n * 5 + 1);
	struct gv_job j;
	char err[128];

	ck_assert_ptr_nonnull(p);
	memset(p, '[', n);
	parse_both(p, n);
	ck_assert_int_eq(jobjson_decode(p, n, &j, err, sizeof err), -1);
	ck_assert_int_eq(strncmp(err, "not JSON: ", 10), 0);
	for (i = 0; i < n; i++)
		memcpy(p + i * 5, "{\"a\":", 5);
	parse_both(p, n * 5);
	free(p);
}
END_TEST

START_TEST(random_bytes)
{
	unsigned char buf[512];
	int i;

	rng_seed(0x6761726976696e69ULL);
	for (i = 0; i < 10000; i++) {
		size_t len = (size_t)(rng_next() % sizeof buf);

		rng_fill(buf, len);
		/* Half of them start like an object to get past the first
		 * byte of the parser. */
		if (len && (i & 1))
			buf[0] = '{';
		parse_both(buf, len);
	}
}
END_TEST

START_TEST(mutated_documents)
{
	static const char *const bases[] = {
		"{\"jobid\":1,\"dbid\":2,\"funcname\":\"f\",\"arg\":\"\\u00ff\xc3\xa9\","
		"\"uniqkey\":\"u\",\"coalesce\":null,\"run_after\":\"12\","
		"\"flag\":\"controller\",\"failcount\":1,\"attempt\":3}",
		"{\"funcname\":\"f\",\"arg\":\"\\u20ac\",\"unique\":\"k\","
		"\"delay\":5.0,\"flag\":\"shim\",\"coalesce\":\"c\"}",
	};
	char doc[256];
	size_t i, len, k, flips;

	rng_seed(99);
	for (i = 0; i < 20000; i++) {
		len = strlen(bases[i % 2]);
		memcpy(doc, bases[i % 2], len);
		parse_both(doc, len);
		flips = 1 + rng_next() % 3;
		for (k = 0; k < flips; k++)
			doc[rng_next() % len] = (char)(rng_next() >> 56);
		parse_both(doc, len);
		parse_both(doc, (size_t)(rng_next() % (len + 1)));
	}
}
END_TEST

/* ---- compatibility with Perl's JSON module ---------------------------- */

/* Run a Perl program on a file and return its whole standard output. */
static size_t
run_perl(const char *program, const char *path, unsigned char *out,
    size_t cap)
{
	char cmd[2048];
	FILE *fp;
	size_t n;

	snprintf(cmd, sizeof cmd, "perl -MJSON -e '%s' %s", program, path);
	fp = popen(cmd, "r");
	ck_assert_msg(fp != NULL, "cannot run perl");
	n = fread(out, 1, cap, fp);
	ck_assert_msg(pclose(fp) == 0, "perl failed (is libjson-perl "
	    "installed?): %s", cmd);
	return n;
}

START_TEST(perl_decodes_our_bytes)
{
	/* What a worker written for the original does: decode_json, then
	 * use arg. utf8::downgrade dies unless every character is a byte. */
	const char *program = "open my $f, q(<:raw), $ARGV[0] or die; "
	    "local $/; my $d = decode_json(<$f>); my $a = $d->{arg}; "
	    "utf8::downgrade($a); binmode STDOUT; "
	    "print qq($d->{jobid} $d->{dbid} $d->{funcname} $d->{flag}\\n), $a";
	char path[] = "/tmp/test_jobjson.XXXXXX";
	unsigned char arg[256], out[1024], *nl;
	struct buf b = { 0 };
	struct gv_job j;
	size_t n;
	int i, fd;

	for (i = 0; i < 256; i++)
		arg[i] = (unsigned char)i;
	job_init(&j, arg, sizeof arg);
	j.jobid = 9007199254740993ULL;	/* beyond a double's integers */
	ck_assert_int_eq(jobjson_encode(&j, &b), 0);
	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, b.data, b.len), (ssize_t)b.len);
	close(fd);
	n = run_perl(program, path, out, sizeof out);
	unlink(path);

	nl = memchr(out, '\n', n);
	ck_assert_ptr_nonnull(nl);
	*nl = '\0';
	ck_assert_str_eq((char *)out, "9007199254740993 3 resize shim");
	ck_assert_uint_eq(n - (size_t)(nl + 1 - out), 256);
	ck_assert_mem_eq(nl + 1, arg, 256);
	buf_free(&b);
}
END_TEST

START_TEST(we_decode_perls_bytes)
{
	/* The other direction: a document made by encode_json from a byte
	 * string, as the original's QueueRunner sent it (numbers as strings). */
	const char *program = "binmode STDOUT; print encode_json({jobid => "
	    "q(17), dbid => q(1), funcname => q(f), arg => join(q(), "
	    "map { chr } 0..255), uniqkey => undef, run_after => q(5), "
	    "flag => q(shim), failcount => q(0)})";
	unsigned char out[4096], arg[256];
	struct gv_job j;
	char err[256] = "";
	size_t n;
	int i;

	n = run_perl(program, "", out, sizeof out);
	ck_assert_msg(jobjson_decode(out, n, &j, err, sizeof err) == 0, "%s",
	    err);
	for (i = 0; i < 256; i++)
		arg[i] = (unsigned char)i;
	ck_assert_uint_eq(j.jobid, 17);
	ck_assert_uint_eq(j.arg_len, 256);
	ck_assert_mem_eq(j.arg, arg, 256);
	ck_assert_int_eq(j.fenced, 0);
	gv_job_clear(&j);
}
END_TEST

static Suite *
jobjson_suite(void)
{
	Suite *s = suite_create("jobjson");
	TCase *tc;

	tc = tcase_create("encode");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, encode_exact_format);
	tcase_add_test(tc, encode_escapes);
	tcase_add_test(tc, roundtrip_all_bytes);
	tcase_add_test(tc, roundtrip_random);
	tcase_add_test(tc, roundtrip_empty_arg);
	tcase_add_test(tc, roundtrip_one_megabyte);
	tcase_add_test(tc, arg_with_nul_bytes);
	tcase_add_test(tc, text_fields_utf8);
	tcase_add_test(tc, text_fields_invalid_utf8);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode");
	tcase_add_test(tc, decode_numbers_as_strings);
	tcase_add_test(tc, decode_fenced);
	tcase_add_loop_test(tc, decode_errors, 0,
	    (int)(sizeof decode_bad / sizeof decode_bad[0]));
	tcase_add_test(tc, decode_error_position);
	tcase_add_test(tc, public_parse);
	suite_add_tcase(s, tc);

	tc = tcase_create("inject");
	tcase_add_test(tc, inject_ok);
	tcase_add_test(tc, inject_priority);
	tcase_add_test(tc, inject_synonyms_and_limits);
	tcase_add_test(tc, inject_wide_code_points);
	tcase_add_loop_test(tc, inject_errors, 0,
	    (int)(sizeof inject_bad / sizeof inject_bad[0]));
	tcase_add_test(tc, inject_reply_format);
	tcase_add_test(tc, cancel_payloads);
	tcase_add_test(tc, status_payloads);
	tcase_add_test(tc, status_reply);
	tcase_add_test(tc, status_reply_full);
	tcase_add_test(tc, text_clean);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, deep_nesting);
	tcase_add_test(tc, random_bytes);
	tcase_add_test(tc, mutated_documents);
	suite_add_tcase(s, tc);

	tc = tcase_create("perl");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, perl_decodes_our_bytes);
	tcase_add_test(tc, we_decode_perls_bytes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run_suite(jobjson_suite());
}
