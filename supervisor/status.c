/*
 * status: serialising a struct status to JSON (jansson) and to the
 * Prometheus text format, and replacing a file atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "prom.h"
#include "scoreboard.h"
#include "status.h"
#include "util.h"

/* A unique temporary file next to path (rename() does not cross file
 * systems), written and fsync'd before it takes path's place: a crash
 * leaves the old file or the new one, and a reader opening path in between
 * never sees a partial document. */
static int
write_atomic(const char *path, const char *data, size_t len, char *err,
    size_t errlen)
{
	char *tmp = NULL;
	size_t off = 0;
	ssize_t n;
	int fd = -1;

	if (path == NULL || *path == '\0')
		return 0;
	if ((tmp = malloc(strlen(path) + 8)) == NULL)
		return errf(err, errlen, "out of memory");
	sprintf(tmp, "%s.XXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		errf(err, errlen, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	/* mkstemp makes it 0600; monitoring reads it as another user. */
	if (fchmod(fd, 0644) == -1)
		goto fail;
	while (off < len) {
		if ((n = write(fd, data + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	free(tmp);
	return 0;
fail:
	errf(err, errlen, "%s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

static void
add_counters(json_t *obj, const uint64_t *counters)
{
	int c;

	for (c = 0; c < SB_NCOUNTERS; c++)
		json_object_set_new(obj, scoreboard_counter_name(c),
		    json_integer((json_int_t)counters[c]));
}

static json_t *
dbids_json(const unsigned *dbids, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_integer(dbids[i]));
	return a;
}

static json_t *
encode_master(const struct status_master *m)
{
	json_t *o, *r;

	o = json_object();
	json_object_set_new(o, "pid", json_integer(m->pid));
	json_object_set_new(o, "started", json_real(m->started));
	json_object_set_new(o, "uptime", json_real(m->uptime));
	json_object_set_new(o, "config", json_string(m->config));
	json_object_set_new(o, "state", json_string(m->state));
	json_object_set_new(o, "generation", json_integer(m->generation));
	if (m->reload_result == NULL)
		r = json_null();
	else {
		r = json_object();
		json_object_set_new(r, "result",
		    json_string(m->reload_result));
		json_object_set_new(r, "error", m->reload_error ?
		    json_string(m->reload_error) : json_null());
		json_object_set_new(r, "time", json_real(m->reload_time));
	}
	json_object_set_new(o, "last_reload", r);
	return o;
}

static json_t *
pool_json(const struct status_pool *p)
{
	json_t *o = json_object();

	json_object_set_new(o, "configured", json_integer(p->configured));
	json_object_set_new(o, "running", json_integer(p->running));
	json_object_set_new(o, "starting", json_integer(p->starting));
	json_object_set_new(o, "idle", json_integer(p->idle));
	json_object_set_new(o, "busy", json_integer(p->busy));
	json_object_set_new(o, "stopping", json_integer(p->stopping));
	json_object_set_new(o, "restarts",
	    json_integer((json_int_t)p->restarts));
	json_object_set_new(o, "failed", json_boolean(p->failed_slots > 0));
	json_object_set_new(o, "failed_slots", json_integer(p->failed_slots));
	json_object_set_new(o, "crash_looping",
	    json_boolean(p->crash_looping));
	json_object_set_new(o, "broken_dbs", dbids_json(p->broken_dbs,
	    p->nbroken));
	json_object_set_new(o, "unreachable_dbs",
	    dbids_json(p->unreachable_dbs, p->nunreachable));
	json_object_set_new(o, "withdrawn", json_integer(p->withdrawn));
	add_counters(o, p->counters);
	return o;
}

static json_t *
encode_db_hosts(const struct status_child *c)
{
	json_t *o = json_object();
	char key[16];
	size_t i;

	for (i = 0; i < c->ndb_on; i++) {
		snprintf(key, sizeof(key), "%u", c->db_on[i].dbid);
		json_object_set_new(o, key, json_string(c->db_on[i].host));
	}
	return o;
}

static json_t *
encode_child(const struct status_child *c)
{
	json_t *o = json_object();

	json_object_set_new(o, "pid", json_integer(c->pid));
	json_object_set_new(o, "pool", json_string(c->pool));
	json_object_set_new(o, "slot", json_integer(c->slot));
	json_object_set_new(o, "state",
	    json_string(scoreboard_state_name(c->state)));
	json_object_set_new(o, "started", json_real(c->started));
	json_object_set_new(o, "heartbeat_age", json_real(c->heartbeat_age));
	json_object_set_new(o, "job_age", c->job_age < 0 ? json_null() :
	    json_real(c->job_age));
	json_object_set_new(o, "broken_dbs", dbids_json(c->broken_dbs,
	    c->nbroken));
	json_object_set_new(o, "unreachable_dbs",
	    dbids_json(c->unreachable_dbs, c->nunreachable));
	json_object_set_new(o, "withdrawn", json_boolean(c->withdrawn));
	json_object_set_new(o, "db_hosts", encode_db_hosts(c));
	add_counters(o, c->counters);
	return o;
}

int
status_write_json(const char *path, const struct status *st, char *err,
    size_t errlen)
{
	json_t *root, *pools, *children;
	char *text;
	size_t i;
	int rc;

	if (path == NULL || *path == '\0')
		return 0;
	root = json_object();
	json_object_set_new(root, "master", encode_master(&st->master));
	pools = json_object();
	for (i = 0; i < st->npools; i++)
		json_object_set_new(pools, st->pools[i].name,
		    pool_json(&st->pools[i]));
	json_object_set_new(root, "pools", pools);
	children = json_array();
	for (i = 0; i < st->nchildren; i++)
		json_array_append_new(children, encode_child(&st->children[i]));
	json_object_set_new(root, "children", children);
	json_object_set_new(root, "functions", metrics_json(st->functions,
	    st->nfunctions));
	json_object_set_new(root, "written", json_real(st->written));

	text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(15));
	json_decref(root);
	if (text == NULL)
		return errf(err, errlen, "%s: cannot encode JSON", path);
	rc = write_atomic(path, text, strlen(text), err, errlen);
	free(text);
	return rc;
}

/* The pool label of st's pool i. */
#define POOL(i) "pool", st->pools[i].name

int
status_write_prometheus(const char *path, const struct status *st,
    char *err, size_t errlen)
{
	static const struct {
		const char *name;
		int state;
	} states[] = {
		{ "starting", SB_STARTING }, { "idle", SB_IDLE },
		{ "busy", SB_BUSY }, { "stopping", SB_STOPPING },
	};
	struct prom b = { 0 };
	const struct status_pool *p;
	size_t i, s;
	int c, rc, n;

	if (path == NULL || *path == '\0')
		return 0;
	prom_family(&b, "master_start_time_seconds", "gauge",
	    "Unix time the master started.");
	prom_num(&b, "master_start_time_seconds", st->master.started, NULL);
	prom_family(&b, "master_reload_generation", "gauge",
	    "1 plus the number of reloads applied.");
	prom_u64(&b, "master_reload_generation", st->master.generation, NULL);
	prom_family(&b, "master_last_reload_success", "gauge",
	    "0 if the last reload failed, else 1.");
	prom_u64(&b, "master_last_reload_success",
	    st->master.reload_result &&
	    strcmp(st->master.reload_result, "failed") == 0 ? 0 : 1, NULL);

	prom_family(&b, "pool_configured", "gauge",
	    "Processes configured per pool.");
	for (i = 0; i < st->npools; i++)
		prom_u64(&b, "pool_configured",
		    (uint64_t)st->pools[i].configured, POOL(i), NULL);
	prom_family(&b, "pool_processes", "gauge",
	    "Running children per pool and state.");
	for (i = 0; i < st->npools; i++) {
		p = &st->pools[i];
		for (s = 0; s < sizeof(states) / sizeof(states[0]); s++) {
			switch (states[s].state) {
			case SB_STARTING:
				n = p->starting;
				break;
			case SB_IDLE:
				n = p->idle;
				break;
			case SB_BUSY:
				n = p->busy;
				break;
			default:
				n = p->stopping;
				break;
			}
			prom_u64(&b, "pool_processes", (uint64_t)n, POOL(i),
			    "state", states[s].name, NULL);
		}
	}
	prom_family(&b, "pool_restarts_total", "counter",
	    "Children restarted after an unrequested exit.");
	for (i = 0; i < st->npools; i++)
		prom_u64(&b, "pool_restarts_total", st->pools[i].restarts,
		    POOL(i), NULL);
	prom_family(&b, "pool_failed", "gauge",
	    "1 if a child exited with EX_CONFIG (until a reload).");
	for (i = 0; i < st->npools; i++)
		prom_u64(&b, "pool_failed", st->pools[i].failed_slots > 0,
		    POOL(i), NULL);
	prom_family(&b, "pool_broken_databases", "gauge",
	    "Databases the pool's children cannot work with now (schema).");
	for (i = 0; i < st->npools; i++)
		prom_u64(&b, "pool_broken_databases", st->pools[i].nbroken,
		    POOL(i), NULL);
	prom_family(&b, "pool_crash_looping", "gauge",
	    "1 if a slot keeps exiting soon after it starts.");
	for (i = 0; i < st->npools; i++)
		prom_u64(&b, "pool_crash_looping",
		    (uint64_t)st->pools[i].crash_looping, POOL(i), NULL);
	for (c = 0; c < SB_NCOUNTERS; c++) {
		char name[64];

		snprintf(name, sizeof(name), "%s_total",
		    scoreboard_counter_name(c));
		prom_family(&b, name, "counter",
		    "Summed over every child of the pool, past and present.");
		for (i = 0; i < st->npools; i++)
			prom_u64(&b, name, st->pools[i].counters[c], POOL(i),
			    NULL);
	}
	metrics_prometheus(&b, st->functions, st->nfunctions);
	if (b.failed || b.text.data == NULL) {
		prom_free(&b);
		return errf(err, errlen, "%s: out of memory", path);
	}
	rc = write_atomic(path, b.text.data, b.text.len, err, errlen);
	prom_free(&b);
	return rc;
}

void
status_summary(const struct status *st, char *out, size_t outlen)
{
	const struct status_pool *p;
	size_t i, used = 0;
	int n;

	out[0] = '\0';
	for (i = 0; i < st->npools && used < outlen; i++) {
		p = &st->pools[i];
		n = snprintf(out + used, outlen - used, "%s%s %d/%d (idle %d, "
		    "busy %d, starting %d, stopping %d, restarts %lu%s%s%s)",
		    i ? ", " : "", p->name, p->running, p->configured, p->idle,
		    p->busy, p->starting, p->stopping, p->restarts,
		    p->failed_slots ? ", failed" : "",
		    p->crash_looping ? ", crash-looping" : "",
		    p->nbroken ? ", databases broken" : "");
		if (n < 0)
			break;
		used += (size_t)n;
	}
}
