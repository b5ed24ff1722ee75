/*
 * util: small helpers shared by every module: a growable byte buffer, the
 * stable hash, clocks, and filling an error buffer.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Each returns 0, or -1 when memory ran out (the buffer is unchanged). */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_appendc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);   /* len = 0, memory kept */
void buf_free(struct buf *b);

/* 64-bit FNV-1a: stable across hosts, releases and architectures, so the
 * database of a unique key and the gearmand of a job never move. */
uint64_t hash_fnv1a(uint64_t seed, const void *data, size_t len);
#define HASH_SEED 0xcbf29ce484222325ULL

double time_mono(void);          /* seconds, CLOCK_MONOTONIC */
double time_real(void);          /* seconds since the epoch */
/* Sleep for seconds, resuming after signals unless *stop becomes non-zero. */
void time_sleep(double seconds, const atomic_int *stop);
/* The doubling backoff of every retry loop, defined once: the pause after
 * cur (0: none yet) is min, then twice the last, never above max. */
double backoff_next(double cur, double min, double max);

/* The same backoff with its clock, for something that failed and is passed
 * over until its pause ends (a database host, a gearmand, a database whose
 * schema or schedules failed). All zero: working, no pause yet. */
struct backoff {
	double pause;            /* the last pause; 0 since it last worked */
	double until;            /* time_mono() the pause ends; 0 if none */
};

/* A failure at now: the next pause starts. Returns its length. */
double backoff_fail(struct backoff *b, double now, double min, double max);
/* It worked: not waiting, and the next failure pauses min. */
void backoff_reset(struct backoff *b);
/* 1 while the pause of the last failure lasts at now. */
int backoff_waiting(const struct backoff *b, double now);
/* Seconds of that pause left at now (0: not waiting). */
double backoff_left(const struct backoff *b, double now);

/* A macro's value as a string literal: STR(GV_ERRORS_KEPT) is "10". */
#define STR_(x) #x
#define STR(x) STR_(x)

/* snprintf into err (if err and errlen) and return -1: `return errf(...)`. */
int errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* strdup that accepts NULL. */
char *str_dup(const char *s);
/* Parse a whole string as an integer / number within [min, max]. */
int parse_long(const char *s, long min, long max, long *out);
int parse_double(const char *s, double min, double max, double *out);

#endif
