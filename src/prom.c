/*
 * prom: samples of the Prometheus text format. A failed append marks the
 * text failed and the caller discards it: a file that lost lines in the
 * middle would read as counters that went backwards.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "prom.h"

static void
put(struct prom *p, int rc)
{
	if (rc == -1)
		p->failed = 1;
}

void
prom_family(struct prom *p, const char *name, const char *type,
    const char *help)
{
	put(p, buf_printf(&p->text, "# HELP garivini_%s %s\n"
	    "# TYPE garivini_%s %s\n", name, help, name, type));
}

/* A label value: \, " and newline escaped, the rest as it is. */
static void
label_value(struct prom *p, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			put(p, buf_append(&p->text, "\\\\", 2));
		else if (*s == '"')
			put(p, buf_append(&p->text, "\\\"", 2));
		else if (*s == '\n')
			put(p, buf_append(&p->text, "\\n", 2));
		else
			put(p, buf_appendc(&p->text, *s));
	}
}

/* garivini_NAME{a="x",b="y"} and the space before the value. */
static void
head(struct prom *p, const char *name, va_list ap)
{
	const char *label, *value;
	int n = 0;

	put(p, buf_printf(&p->text, "garivini_%s", name));
	while ((label = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		put(p, buf_printf(&p->text, "%c%s=\"", n++ ? ',' : '{',
		    label));
		label_value(p, value ? value : "");
		put(p, buf_appendc(&p->text, '"'));
	}
	put(p, buf_append(&p->text, n ? "} " : " ", n ? 2 : 1));
}

void
prom_u64(struct prom *p, const char *name, uint64_t value, ...)
{
	va_list ap;

	va_start(ap, value);
	head(p, name, ap);
	va_end(ap);
	put(p, buf_printf(&p->text, "%llu\n", (unsigned long long)value));
}

void
prom_num(struct prom *p, const char *name, double value, ...)
{
	va_list ap;

	char text[512];
	size_t len;

	va_start(ap, value);
	head(p, name, ap);
	va_end(ap);
	/* Microseconds, without an exponent or trailing zeros: what any
	 * parser of the format reads. */
	len = (size_t)snprintf(text, sizeof(text), "%.6f", value);
	if (len >= sizeof(text))
		len = sizeof(text) - 1;
	while (len > 1 && text[len - 1] == '0')
		len--;
	if (text[len - 1] == '.')
		len--;
	put(p, buf_append(&p->text, text, len));
	put(p, buf_appendc(&p->text, '\n'));
}

void
prom_comment(struct prom *p, const char *fmt, ...)
{
	char text[1024], *nl;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* One line, whatever the text held. */
	while ((nl = strchr(text, '\n')) != NULL)
		*nl = ' ';
	put(p, buf_printf(&p->text, "# %s\n", text));
}

void
prom_free(struct prom *p)
{
	buf_free(&p->text);
	memset(p, 0, sizeof(*p));
}
