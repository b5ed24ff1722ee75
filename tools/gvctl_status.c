/*
 * gvctl_status: gvctl status, the master's status file as a table or as it
 * is; stats reads the master's counters from it too.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "gvctl.h"
#include "util.h"

static const char *
jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

static long long
jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return 0;
}

static double
jnum(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

/* Which host of its list each database is on, over the children: one line
 * per database and host ("database 1 on 10.0.0.11:3306, 5 children"), so
 * a failover, and children that disagree, show at a glance. */
static void
print_db_hosts(json_t *children)
{
	json_t *seen = json_object(), *ch, *hosts, *host, *per;
	const char *dbid, *h;
	char key[320];
	size_t i;

	json_array_foreach(children, i, ch) {
		hosts = json_object_get(ch, "db_hosts");
		json_object_foreach(hosts, dbid, host) {
			if (!json_is_string(host))
				continue;
			snprintf(key, sizeof(key), "%s %s", dbid,
			    json_string_value(host));
			per = json_object_get(seen, key);
			json_object_set_new(seen, key, json_integer(
			    json_integer_value(per) + 1));
		}
	}
	i = 0;
	json_object_foreach(seen, h, per) {
		const char *sp = strchr(h, ' ');

		printf("%sdatabase %.*s on %s, %lld child%s\n", i++ ? "" : "\n",
		    (int)(sp - h), h, sp + 1,
		    (long long)json_integer_value(per),
		    json_integer_value(per) == 1 ? "" : "ren");
	}
	json_decref(seen);
}

static void
print_table(json_t *root, double now)
{
	json_t *master = json_object_get(root, "master");
	json_t *pools = json_object_get(root, "pools");
	json_t *children = json_object_get(root, "children");
	json_t *reload, *p, *ch;
	const char *name;
	char when[32], up[32], pool[64];
	double written = jnum(root, "written");
	size_t i;

	printf("master      pid %lld, %s, up %s\n", jint(master, "pid"),
	    jstr(master, "state"), gvctl_duration(jnum(master, "uptime"), up,
	    sizeof(up)));
	printf("config      %s\n", jstr(master, "config"));
	reload = json_object_get(master, "last_reload");
	printf("generation  %lld\n", jint(master, "generation"));
	if (!json_is_object(reload)) {
		printf("reload      none since start\n");
	} else {
		printf("reload      %s at %s", jstr(reload, "result"),
		    gvctl_iso_time((uint64_t)jnum(reload, "time"), when,
		    sizeof(when)));
		if (json_is_string(json_object_get(reload, "error")))
			printf(": %s", jstr(reload, "error"));
		printf("\n");
	}
	printf("written     %s (%s ago)\n", gvctl_iso_time((uint64_t)written, when,
	    sizeof(when)), gvctl_duration(now - written, up, sizeof(up)));

	printf("\n%-14s %10s %7s %5s %5s %8s %-13s %9s %9s\n", "POOL",
	    "CONFIGURED", "RUNNING", "BUSY", "IDLE", "RESTARTS", "FAILED",
	    "JOBS_DONE", "JOBS_FAIL");
	json_object_foreach(pools, name, p) {
		const char *failed = "no";

		if (json_is_true(json_object_get(p, "failed")))
			failed = "yes";
		else if (json_is_true(json_object_get(p, "crash_looping")))
			failed = "crash-looping";
		printf("%-14s %10lld %7lld %5lld %5lld %8lld %-13s %9lld "
		    "%9lld\n", name, jint(p, "configured"), jint(p, "running"),
		    jint(p, "busy"), jint(p, "idle"), jint(p, "restarts"),
		    failed, jint(p, "jobs_done"), jint(p, "jobs_failed"));
	}
	/* Said apart from the table: a broken database is rare and must not
	 * be missed, and the table's columns stay as scripts read them. */
	json_object_foreach(pools, name, p) {
		json_t *broken = json_object_get(p, "broken_dbs"), *id;
		json_t *away = json_object_get(p, "unreachable_dbs");

		json_array_foreach(broken, i, id)
			printf("%s%s: database %lld cannot be used (its job "
			    "table does not match this version); its jobs "
			    "wait\n", i ? "" : "\n", name,
			    (long long)json_integer_value(id));
		json_array_foreach(away, i, id)
			printf("%s%s: database %lld does not answer\n",
			    i || json_array_size(broken) ? "" : "\n", name,
			    (long long)json_integer_value(id));
		if (jint(p, "withdrawn") > 0)
			printf("%s: %lld of its processes take no work from "
			    "gearmand: they reach no database\n", name,
			    jint(p, "withdrawn"));
	}

	print_db_hosts(children);

	printf("\n%-16s %8s %-9s %10s %9s %9s\n", "CHILD", "PID", "STATE",
	    "UPTIME", "JOBS_DONE", "JOBS_FAIL");
	json_array_foreach(children, i, ch) {
		snprintf(pool, sizeof(pool), "%s/%lld", jstr(ch, "pool"),
		    jint(ch, "slot"));
		printf("%-16s %8lld %-9s %10s %9lld %9lld\n", pool,
		    jint(ch, "pid"), jstr(ch, "state"),
		    gvctl_duration(written - jnum(ch, "started"), up, sizeof(up)),
		    jint(ch, "jobs_done"), jint(ch, "jobs_failed"));
	}
}

/* The master's status file, parsed into *root (an object with a
 * "master"), its text in *text; EX_OK, or the exit code after saying why
 * on stderr. */
int
gvctl_status_load(struct ctl *c, json_t **root, struct buf *text)
{
	const char *path = c->cfg->status_file;
	json_error_t error;
	char chunk[8192];
	size_t n;
	FILE *fp;

	*root = NULL;
	if (path == NULL || *path == '\0') {
		fprintf(stderr, "gvctl: %s: no status_file configured\n",
		    c->o.ini);
		return EX_CONFIG;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "gvctl: status file %s: %s (is garivini "
		    "running?)\n", path, strerror(errno));
		return EX_UNAVAILABLE;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (buf_append(text, chunk, n) == -1) {
			fclose(fp);
			fprintf(stderr, "gvctl: out of memory\n");
			return EX_OSERR;
		}
	fclose(fp);
	*root = json_loadb(text->data ? text->data : "", text->len, 0, &error);
	if (!json_is_object(*root) ||
	    !json_is_object(json_object_get(*root, "master"))) {
		fprintf(stderr, "gvctl: status file %s: %s%s\n", path,
		    *root ? "not a garivini status document" :
		    "not valid JSON: ", *root ? "" : error.text);
		json_decref(*root);
		*root = NULL;
		return EX_UNAVAILABLE;
	}
	return EX_OK;
}

int
gvctl_status_print(struct ctl *c)
{
	struct buf text = { 0 };
	json_t *root;
	int code;

	if ((code = gvctl_status_load(c, &root, &text)) == EX_OK) {
		if (c->o.json)
			fwrite(text.data, 1, text.len, stdout);
		else
			print_table(root, time_real());
	}
	json_decref(root);
	buf_free(&text);
	return code;
}
