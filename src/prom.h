/*
 * prom: the Prometheus text exposition format, written in one place. The
 * master's prometheus_file (supervisor/status.c) and gvctl stats
 * --prometheus both build their text here, so a metric family, its HELP and
 * TYPE lines, its labels and their escaping look the same wherever they
 * come from.
 *
 * Every name given is prefixed with "garivini_". Labels are pairs of
 * (name, value) arguments ended by NULL; values are escaped (\, " and
 * newline), names are the caller's constants.
 */
#ifndef PROM_H
#define PROM_H

#include <stdint.h>

#include "util.h"

struct prom {
	struct buf text;
	int failed;          /* memory ran out: the text is incomplete */
};

/* The HELP and TYPE lines of a family ("counter", "gauge", "histogram"). */
void prom_family(struct prom *p, const char *name, const char *type,
    const char *help);
/* One sample: garivini_NAME{labels} value. */
void prom_u64(struct prom *p, const char *name, uint64_t value, ...)
    __attribute__((sentinel));
void prom_num(struct prom *p, const char *name, double value, ...)
    __attribute__((sentinel));
/* A comment line ("# " and the text). */
void prom_comment(struct prom *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void prom_free(struct prom *p);

#endif
