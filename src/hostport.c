/*
 * hostport: parsing "host[:port], ..." lists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostport.h"
#include "util.h"

static int
parse_one(char *tok, unsigned default_port, struct hostport *s, char *why,
    size_t whylen)
{
	char *host = tok, *port = NULL, *colon, *close;
	long n = default_port;

	if (*tok == '[') {      /* [v6 address]:port */
		host = tok + 1;
		if ((close = strchr(host, ']')) == NULL)
			return errf(why, whylen, "missing ']' in '%s'", tok);
		*close = '\0';
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return errf(why, whylen, "bad server '%s]%s'", tok,
			    close + 1);
	} else if ((colon = strchr(tok, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		/* Exactly one colon: host:port. More than one is a bare IPv6
		 * address, which can only take the default port. */
		*colon = '\0';
		port = colon + 1;
	}
	if (*host == '\0')
		return errf(why, whylen, "a server has no host");
	if (strlen(host) >= sizeof(s->host))
		return errf(why, whylen, "host name '%.40s...' is too long",
		    host);
	if (port && parse_long(port, 1, 65535, &n) == -1)
		return errf(why, whylen, "bad port '%s' for %s (1..65535)",
		    port, host);
	snprintf(s->host, sizeof(s->host), "%s", host);
	s->port = (unsigned)n;
	return 0;
}

int
hostport_parse_list(const char *value, unsigned default_port,
    struct hostport *out, size_t max, size_t *n, char *why, size_t whylen)
{
	char *copy, *tok, *save;
	size_t k = 0;

	if ((copy = strdup(value)) == NULL)
		return errf(why, whylen, "out of memory");
	for (tok = strtok_r(copy, ", \t", &save); tok;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (k == max) {
			free(copy);
			return errf(why, whylen, "more than %zu servers", max);
		}
		if (parse_one(tok, default_port, &out[k], why, whylen) == -1) {
			free(copy);
			return -1;
		}
		k++;
	}
	free(copy);
	if (k == 0)
		return errf(why, whylen, "no server given");
	*n = k;
	return 0;
}
