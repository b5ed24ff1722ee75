/*
 * test_gm: unique keys, the stable choice of a gearmand, backoff of a failed
 * server, parsing of the admin `status` answer (from a scripted fake server:
 * only the parsing is under test there), and a real gearmand for submits.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gm.h"
#include "gm_worker.h"
#include "unit.h"
#include "util.h"

static struct config_server
server(const char *host, unsigned port)
{
	struct config_server s;

	memset(&s, 0, sizeof(s));
	snprintf(s.host, sizeof(s.host), "%s", host);
	s.port = port;
	return s;
}

static struct gm_pool *
pool_of(unsigned nservers, unsigned first_port)
{
	struct config_server s[CONFIG_MAX_SERVERS];
	struct gm_pool *pool;
	char err[256];
	unsigned i;

	for (i = 0; i < nservers; i++)
		s[i] = server("127.0.0.1", first_port + i);
	pool = gm_pool_new(s, nservers, err, sizeof(err));
	ck_assert_msg(pool != NULL, "gm_pool_new: %s", err);
	return pool;
}

static size_t
choose_key(struct gm_pool *pool, unsigned k)
{
	char key[32];
	int len;

	len = snprintf(key, sizeof(key), "%u", k);
	return gm_pool_choose(pool, key, (size_t)len);
}

/* Under run_queued_job, which every function shares, one key of two
 * functions is two uniques; under a job's own function the key is kept. */
START_TEST(unique_per_function_under_run_queued_job)
{
	char a[GV_GEARMAN_UNIQKEY_MAX + 1], b[GV_GEARMAN_UNIQKEY_MAX + 1];

	ck_assert_str_eq(gm_job_unique(GV_FLAG_SHIM, "resize", "u42", a), "u42");
	ck_assert_str_eq(gm_job_target(GV_FLAG_SHIM, "resize"), "resize");
	ck_assert_str_eq(gm_job_target(GV_FLAG_CONTROLLER, "resize"),
	    GV_FUNC_RUN_QUEUED);
	gm_job_unique(GV_FLAG_CONTROLLER, "resize", "u42", a);
	gm_job_unique(GV_FLAG_CONTROLLER, "thumb", "u42", b);
	ck_assert_str_ne(a, b);
	ck_assert_uint_le(strlen(a), GV_GEARMAN_UNIQKEY_MAX);
	/* Stable, and the key still merges with itself. */
	gm_job_unique(GV_FLAG_CONTROLLER, "resize", "u42", b);
	ck_assert_str_eq(a, b);
	/* The function and key are not simply joined: "ab"+"c" is not
	 * "a"+"bc". */
	gm_job_unique(GV_FLAG_CONTROLLER, "ab", "c", a);
	gm_job_unique(GV_FLAG_CONTROLLER, "a", "bc", b);
	ck_assert_str_ne(a, b);
	ck_assert_ptr_null(gm_job_unique(GV_FLAG_CONTROLLER, "resize", NULL,
	    a));
}
END_TEST

START_TEST(unique_short_keys)
{
	char out[GV_GEARMAN_UNIQKEY_MAX + 1], key[GV_GEARMAN_UNIQKEY_MAX + 1];

	ck_assert_ptr_null(gm_unique(NULL, out));
	ck_assert_ptr_null(gm_unique("", out));
	ck_assert_str_eq(gm_unique("abc", out), "abc");
	memset(key, 'k', GV_GEARMAN_UNIQKEY_MAX);
	key[GV_GEARMAN_UNIQKEY_MAX] = '\0';
	ck_assert_str_eq(gm_unique(key, out), key);
}
END_TEST

START_TEST(unique_long_keys)
{
	char a[300], b[300];
	char da[GV_GEARMAN_UNIQKEY_MAX + 1], db[GV_GEARMAN_UNIQKEY_MAX + 1];
	const char *p;
	size_t i;

	memset(a, 'x', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(b));
	b[sizeof(b) - 2] = 'y';    /* same first 298 bytes, different last */

	p = gm_unique(a, da);
	ck_assert_ptr_eq(p, da);
	ck_assert_uint_eq(strlen(da), 34);
	ck_assert_int_eq(strncmp(da, "h:", 2), 0);
	for (i = 2; i < 34; i++)
		ck_assert_msg(strchr("0123456789abcdef", da[i]) != NULL,
		    "not hex: %s", da);
	gm_unique(b, db);
	ck_assert_str_ne(da, db);
	gm_unique(a, db);
	ck_assert_str_eq(da, db);   /* stable */

	/* 64 bytes is one too many: gearmand would cut it. */
	a[GV_GEARMAN_UNIQKEY_MAX + 1] = '\0';
	ck_assert_uint_eq(strlen(gm_unique(a, da)), 34);
}
END_TEST

START_TEST(choose_is_stable)
{
	struct gm_pool *p1 = pool_of(4, 4730), *p2 = pool_of(4, 4730);
	struct config_server rev[4];
	struct gm_pool *p3;
	char err[256];
	unsigned k, i;

	/* The same servers listed in another order choose the same server:
	 * the weight depends on host:port, not on the position. */
	for (i = 0; i < 4; i++)
		rev[i] = server("127.0.0.1", 4733 - i);
	p3 = gm_pool_new(rev, 4, err, sizeof(err));
	ck_assert_ptr_nonnull(p3);
	for (k = 0; k < 2000; k++) {
		size_t c = choose_key(p1, k);

		ck_assert_uint_eq(c, choose_key(p2, k));
		ck_assert_uint_eq(choose_key(p1, k), c);
		ck_assert_uint_eq(gm_pool_server(p1, c)->port,
		    gm_pool_server(p3, choose_key(p3, k))->port);
	}
	gm_pool_free(p1);
	gm_pool_free(p2);
	gm_pool_free(p3);
}
END_TEST

START_TEST(choose_spreads)
{
	struct gm_pool *pool = pool_of(4, 4730);
	unsigned count[4] = { 0 }, k, i;
	char key[64];
	int len;

	for (k = 0; k < 20000; k++)
		count[choose_key(pool, k)]++;
	for (i = 0; i < 4; i++)
		ck_assert_msg(count[i] > 4000 && count[i] < 6000,
		    "server %u got %u of 20000 numeric keys", i, count[i]);
	memset(count, 0, sizeof(count));
	for (k = 0; k < 20000; k++) {
		len = snprintf(key, sizeof(key), "user-%u@example.org", k);
		count[gm_pool_choose(pool, key, (size_t)len)]++;
	}
	for (i = 0; i < 4; i++)
		ck_assert_msg(count[i] > 4000 && count[i] < 6000,
		    "server %u got %u of 20000 text keys", i, count[i]);
	ck_assert_uint_eq(gm_pool_count(pool), 4);
	gm_pool_free(pool);
}
END_TEST

START_TEST(failed_server_moves_only_its_keys)
{
	struct gm_pool *pool = pool_of(4, 4730);
	size_t before[3000], after;
	unsigned k, moved = 0;
	double now = time_mono();

	for (k = 0; k < 3000; k++)
		before[k] = choose_key(pool, k);
	ck_assert(gm_pool_healthy(pool, 2, now));
	gm_pool_failed(pool, 2);
	ck_assert(!gm_pool_healthy(pool, 2, time_mono()));
	ck_assert(gm_pool_healthy(pool, 1, time_mono()));
	for (k = 0; k < 3000; k++) {
		after = choose_key(pool, k);
		ck_assert_uint_ne(after, 2);
		if (before[k] == 2)
			moved++;
		else
			ck_assert_msg(after == before[k],
			    "key %u moved from healthy server %zu to %zu", k,
			    before[k], after);
	}
	ck_assert_uint_gt(moved, 0);
	/* The first backoff is half a second, then the server is back. */
	ck_assert(gm_pool_healthy(pool, 2, time_mono() + 0.6));
	gm_pool_free(pool);
}
END_TEST

START_TEST(backoff_grows_and_is_bounded)
{
	struct gm_pool *pool = pool_of(1, 4730);
	double t;
	int i;

	gm_pool_failed(pool, 0);
	gm_pool_failed(pool, 0);      /* 1 s */
	t = time_mono();
	ck_assert(!gm_pool_healthy(pool, 0, t + 0.9));
	ck_assert(gm_pool_healthy(pool, 0, t + 1.1));
	for (i = 0; i < 20; i++)
		gm_pool_failed(pool, 0);
	t = time_mono();
	ck_assert(!gm_pool_healthy(pool, 0, t + 29));
	ck_assert(gm_pool_healthy(pool, 0, t + 31));
	gm_pool_free(pool);
}
END_TEST

START_TEST(all_failed_still_chooses)
{
	struct gm_pool *pool = pool_of(3, 4730);
	size_t before[500];
	unsigned k, i;

	for (k = 0; k < 500; k++)
		before[k] = choose_key(pool, k);
	for (i = 0; i < 3; i++)
		gm_pool_failed(pool, i);
	/* With every server backing off, the choice is the usual one: the
	 * caller tries it rather than dropping the job. */
	for (k = 0; k < 500; k++)
		ck_assert_uint_eq(choose_key(pool, k), before[k]);
	gm_pool_free(pool);
}
END_TEST

/* The Injector's threads choose by the health they share (gm_watch): with
 * every server healthy the choice is gm_pool_choose_job's; a server marked
 * unhealthy loses only its own jobs; with none healthy, the usual choice. */
START_TEST(choose_among_shared_health)
{
	struct gm_pool *pool = pool_of(4, 4730);
	unsigned char all[4] = { 1, 1, 1, 1 }, none[4] = { 0 },
	    but2[4] = { 1, 1, 0, 1 };
	size_t usual, among;
	uint64_t id;
	unsigned moved = 0;

	for (id = 1; id <= 2000; id++) {
		usual = gm_pool_choose_job(pool, id, 1, NULL);
		ck_assert_uint_eq(gm_pool_choose_job_among(pool, id, 1, NULL,
		    all), usual);
		ck_assert_uint_eq(gm_pool_choose_job_among(pool, id, 1, NULL,
		    none), usual);
		among = gm_pool_choose_job_among(pool, id, 1, NULL, but2);
		ck_assert_uint_ne(among, 2);
		if (usual == 2)
			moved++;
		else
			ck_assert_uint_eq(among, usual);
	}
	ck_assert_uint_gt(moved, 0);
	ck_assert_uint_eq(gm_pool_choose_job_among(pool, 7, 1, "key", all),
	    gm_pool_choose_job(pool, 7, 1, "key"));
	gm_pool_free(pool);
}
END_TEST

/* Depths kept as counters: an entry made on first use, counts that go up
 * and down. */
START_TEST(depths_as_counters)
{
	struct gm_depths d = { NULL, 0 };

	ck_assert_int_eq(gm_depths_add(&d, "a", 1), 0);
	ck_assert_int_eq(gm_depths_add(&d, "b", 3), 0);
	ck_assert_int_eq(gm_depths_add(&d, "a", 1), 0);
	ck_assert_int_eq(gm_depths_add(&d, "b", -1), 0);
	ck_assert_int_eq(gm_depths_get(&d, "a"), 2);
	ck_assert_int_eq(gm_depths_get(&d, "b"), 2);
	ck_assert_int_eq(gm_depths_get(&d, "c"), 0);
	ck_assert_uint_eq(d.n, 2);
	gm_depths_free(&d);
	ck_assert_uint_eq(d.n, 0);
}
END_TEST

/* A listening socket on a free loopback port. */
static int
listen_any(unsigned *port)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/*
 * A fake admin port: accepts one connection, checks it was asked "status",
 * then writes the pieces of its script one write at a time (so lines split
 * across reads are exercised), then closes or, if hang, keeps silent.
 */
static pid_t
fake_status_server(unsigned *port, const char *const *pieces, int hang)
{
	int lfd = listen_any(port), cfd;
	char req[64];
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	if ((pid = fork()) != 0) {
		ck_assert_int_gt(pid, 0);
		close(lfd);
		return pid;
	}
	/* Check's SIGTERM handler, inherited, would kill the whole test
	 * process group. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	if ((cfd = accept(lfd, NULL, NULL)) == -1)
		_exit(2);
	while (got < 8 && (r = read(cfd, req + got, sizeof(req) - got)) > 0)
		got += (size_t)r;
	if (got != 8 || memcmp(req, "status\r\n", 8) != 0)
		_exit(3);
	for (; *pieces; pieces++) {
		if (write(cfd, *pieces, strlen(*pieces)) == -1)
			_exit(4);
		usleep(20000);
	}
	if (hang)
		pause();
	_exit(0);
}

/* The exit status of the fake server; kill it first if it hangs. */
static int
reap(pid_t pid, int hang)
{
	int status;

	if (hang)
		kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The depths a fake server's script parses to; the server must have seen
 * the whole exchange. */
static void
status_of(const char *const *script, struct gm_depths *d)
{
	struct config_server srv;
	char err[256];
	unsigned port;
	pid_t pid;

	pid = fake_status_server(&port, script, 0);
	srv = server("127.0.0.1", port);
	ck_assert_msg(gm_admin_status(&srv, 2.0, d, err, sizeof(err)) == 0,
	    "gm_admin_status: %s", err);
	ck_assert_int_eq(reap(pid, 0), 0);
}

START_TEST(admin_status_parses)
{
	static const char *const script[] = {
		"run_queued_job\t10\t3\t2\r\nhel", "lo\t5\t0\t1\r\n",
		"idle\t0\t0\t4\r\n", "busy\t2\t2\t", "2\r\n.\r\n", NULL
	};
	struct gm_depths d;

	status_of(script, &d);
	ck_assert_uint_eq(d.n, 4);
	ck_assert_int_eq(gm_depths_get(&d, "run_queued_job"), 7);
	ck_assert_int_eq(gm_depths_get(&d, "hello"), 5);
	ck_assert_int_eq(gm_depths_get(&d, "idle"), 0);
	ck_assert_int_eq(gm_depths_get(&d, "busy"), 0);
	ck_assert_int_eq(gm_depths_get(&d, "absent"), 0);
	gm_depths_free(&d);
	ck_assert_uint_eq(d.n, 0);
}
END_TEST

/* Function names are data: gearmand 1.1.20 prints them as they are, tabs
 * included, and lines end with a bare \n (checked against it). A name that
 * starts with ERR is a function, not an error. */
START_TEST(admin_status_odd_names)
{
	static const char *const script[] = {
		"ERRfunc\t1\t0\t0\n", "tab\there\t3\t1\t0\n",
		"ERR 1\t2\t5\t0\t0\n", "plain\t4\t0\t1\n.\n", NULL
	};
	struct gm_depths d;

	status_of(script, &d);
	ck_assert_uint_eq(d.n, 4);
	ck_assert_int_eq(gm_depths_get(&d, "ERRfunc"), 1);
	ck_assert_int_eq(gm_depths_get(&d, "tab\there"), 2);
	ck_assert_int_eq(gm_depths_get(&d, "ERR 1\t2"), 5);
	ck_assert_int_eq(gm_depths_get(&d, "plain"), 4);
	gm_depths_free(&d);
}
END_TEST

START_TEST(admin_status_empty)
{
	static const char *const script[] = { ".\r\n", NULL };
	struct gm_depths d;

	status_of(script, &d);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_int_eq(gm_depths_get(&d, "x"), 0);
	gm_depths_free(&d);
}
END_TEST

/* Answers gm_admin_status must reject, with a word its message holds. */
static const char *const truncated[] = { "a\t1\t0\t1\r\n", NULL };
static const char *const malformed[] = { "a\t1\r\n.\r\n", NULL };
static const char *const badnum[] = { "a\tx\t0\t1\r\n.\r\n", NULL };
static const char *const errline[] = { "ERR unknown_command x\r\n", NULL };
static const struct bad_status {
	const char *const *script;
	int hang;             /* keep the connection open, silent */
	const char *expect;
} bad_statuses[] = {
	{ truncated, 0, "closed" },
	{ malformed, 0, "unexpected status line" },
	{ badnum, 0, "unexpected status line" },
	{ errline, 0, "ERR unknown_command" },
	{ truncated, 1, "timed out" },
};

START_TEST(admin_status_errors)
{
	const struct bad_status *b = &bad_statuses[_i];
	double timeout = b->hang ? 0.3 : 2.0, took;
	struct config_server srv;
	struct gm_depths d;
	char err[256];
	unsigned port;
	pid_t pid;

	pid = fake_status_server(&port, b->script, b->hang);
	srv = server("127.0.0.1", port);
	took = time_mono();
	ck_assert_int_eq(gm_admin_status(&srv, timeout, &d, err, sizeof(err)),
	    -1);
	took = time_mono() - took;
	ck_assert_msg(strstr(err, b->expect) != NULL, "\"%s\" lacks \"%s\"",
	    err, b->expect);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_ptr_null(d.items);
	ck_assert_msg(took < timeout + 1.0, "took %.2f s", took);
	if (b->hang)
		ck_assert_msg(took >= timeout - 0.05, "gave up after %.2f s",
		    took);
	reap(pid, b->hang);
}
END_TEST

/* A server that accepts and never answers costs a read of the depths the
 * short wait only, gets no jobs while it keeps silent, and fails (backs
 * off) once it has not answered for 2 s. */
START_TEST(pool_depths_silent_server)
{
	static const char *const silent[] = { NULL };
	struct gm_depths d[1] = { { NULL, 0 } };
	struct config_server srv;
	struct gm_pool *pool;
	char err[256];
	unsigned port;
	double t0, took;
	pid_t pid;

	pid = fake_status_server(&port, silent, 1);
	srv = server("127.0.0.1", port);
	pool = gm_pool_new(&srv, 1, err, sizeof(err));
	ck_assert_ptr_nonnull(pool);
	t0 = time_mono();
	ck_assert_int_eq(gm_pool_depths(pool, d, err, sizeof(err)), 0);
	took = time_mono() - t0;
	ck_assert_msg(took < 1.0, "waited %.2f s", took);
	ck_assert_uint_eq(d[0].n, 0);
	ck_assert(!gm_pool_healthy(pool, 0, time_mono()));
	/* Asked again at once: the request is out, not sent again, not
	 * waited for. */
	t0 = time_mono();
	ck_assert_int_eq(gm_pool_depths(pool, d, err, sizeof(err)), 0);
	ck_assert_msg(time_mono() - t0 < 0.1, "waited again");
	while (time_mono() - t0 < 2.1)
		time_sleep(0.1, NULL);
	ck_assert_int_eq(gm_pool_depths(pool, d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no answer"));
	ck_assert(!gm_pool_healthy(pool, 0, time_mono()));
	gm_pool_free(pool);
	reap(pid, 1);
}
END_TEST

START_TEST(admin_status_refused)
{
	struct config_server srv;
	struct gm_depths d;
	char err[256];
	unsigned port;
	int fd = listen_any(&port);

	close(fd);    /* nothing listens there now */
	srv = server("127.0.0.1", port);
	ck_assert_int_eq(gm_admin_status(&srv, 1.0, &d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "connect"));
}
END_TEST

START_TEST(submit_to_dead_server_backs_off)
{
	struct gm_task task = { .funcname = "f", .workload = "x", .len = 1,
	    .ok = 1, .unsure = 1 };
	struct config_server srv;
	struct gm_pool *pool;
	char err[256];
	unsigned port;
	int fd = listen_any(&port);

	close(fd);
	srv = server("127.0.0.1", port);
	pool = gm_pool_new(&srv, 1, err, sizeof(err));
	ck_assert_int_eq(gm_submit_background(pool, 0, &task, 1, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(task.ok, 0);
	/* Nothing listens: nothing was sent, so it surely was not queued. */
	ck_assert_int_eq(task.unsure, 0);
	ck_assert(!gm_pool_healthy(pool, 0, time_mono()));
	gm_pool_free(pool);
}
END_TEST

/* The real gearmand, on a free port. The test fails if it cannot start:
 * gearmand is a build requirement of the tests. */
static pid_t gearmand_pid;
static unsigned gearmand_port;

/* Start gearmand on a free port, or on the last one when again is set. */
static void
gearmand_start(int again)
{
	struct config_server srv;
	struct gm_depths d;
	char portarg[32], err[256] = "";
	double until;

	if (!again)
		close(listen_any(&gearmand_port));
	snprintf(portarg, sizeof(portarg), "--port=%u", gearmand_port);
	if ((gearmand_pid = fork()) == 0) {
		/* A failed assertion ends the test process: gearmand goes
		 * with it instead of lingering. */
		signal(SIGTERM, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execlp("gearmand", "gearmand", "--listen=127.0.0.1", portarg,
		    "--log-file=none", (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(gearmand_pid, 0);
	srv = server("127.0.0.1", gearmand_port);
	for (until = time_mono() + 10; time_mono() < until;) {
		if (gm_admin_status(&srv, 1.0, &d, err, sizeof(err)) == 0) {
			gm_depths_free(&d);
			return;
		}
		usleep(50000);
	}
	ck_abort_msg("gearmand did not start on port %u: %s", gearmand_port,
	    err);
}

static void
gearmand_stop(void)
{
	if (gearmand_pid > 0) {
		kill(gearmand_pid, SIGTERM);
		waitpid(gearmand_pid, NULL, 0);
		gearmand_pid = 0;
	}
}

START_TEST(real_gearmand_submit_and_status)
{
	struct config_server srv;
	struct gm_task tasks[300];
	struct gm_depths d;
	struct gm_pool *pool;
	char err[256], uniq[GV_GEARMAN_UNIQKEY_MAX + 1], longkey[100];
	size_t i;

	gearmand_start(0);
	srv = server("127.0.0.1", gearmand_port);
	pool = gm_pool_new(&srv, 1, err, sizeof(err));
	ck_assert_ptr_nonnull(pool);
	for (i = 0; i < 300; i++) {
		tasks[i].funcname = i < 200 ? "gm_test_a" : "gm_test_b";
		tasks[i].unique = NULL;
		tasks[i].workload = "payload";
		tasks[i].len = 7;
	}
	ck_assert_int_eq(gm_submit_background(pool, 0, tasks, 300, err,
	    sizeof(err)), 300);
	for (i = 0; i < 300; i++)
		ck_assert_int_eq(tasks[i].ok, 1);

	/* The same long unique key twice is one job in gearmand. */
	memset(longkey, 'u', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	tasks[0].funcname = tasks[1].funcname = "gm_test_c";
	tasks[0].unique = tasks[1].unique = gm_unique(longkey, uniq);
	ck_assert_int_eq(gm_submit_background(pool, 0, tasks, 2, err,
	    sizeof(err)), 2);

	ck_assert_msg(gm_admin_status(&srv, 2.0, &d, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(gm_depths_get(&d, "gm_test_a"), 200);
	ck_assert_int_eq(gm_depths_get(&d, "gm_test_b"), 100);
	ck_assert_int_eq(gm_depths_get(&d, "gm_test_c"), 1);
	gm_depths_free(&d);
	ck_assert(gm_pool_healthy(pool, 0, time_mono()));

	/* gearmand restarts: the idle connection is dead, and the submit
	 * goes through on a new one. */
	gearmand_stop();
	gearmand_start(1);
	tasks[0].funcname = "gm_test_d";
	tasks[0].unique = NULL;
	ck_assert_msg(gm_submit_background(pool, 0, tasks, 1, err,
	    sizeof(err)) == 1, "after a restart: %s", err);
	ck_assert_msg(gm_admin_status(&srv, 2.0, &d, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(gm_depths_get(&d, "gm_test_d"), 1);
	gm_depths_free(&d);

	/* gearmand goes away: the submit fails and the server backs off. */
	gearmand_stop();
	tasks[0].unique = NULL;
	ck_assert_int_eq(gm_submit_background(pool, 0, tasks, 1, err,
	    sizeof(err)), -1);
	ck_assert(!gm_pool_healthy(pool, 0, time_mono()));
	gm_pool_free(pool);
}
END_TEST

START_TEST(real_gearmand_worker)
{
	struct config_server srv;
	gearman_worker_st *w;
	gearman_return_t ret;
	char err[256];
	double t;

	gearmand_start(0);
	srv = server("127.0.0.1", gearmand_port);
	w = gm_worker_new(&srv, 1, 200, err, sizeof(err));
	ck_assert_msg(w != NULL, "%s", err);
	ck_assert(gearman_worker_options(w) & GEARMAN_WORKER_GRAB_UNIQ);
	ck_assert_int_eq(gearman_worker_register(w, "gm_test_w", 0),
	    GEARMAN_SUCCESS);
	/* No job: work() comes back after the timeout, so a stop flag can be
	 * looked at. */
	t = time_mono();
	ret = gearman_worker_work(w);
	t = time_mono() - t;
	ck_assert_msg(ret == GEARMAN_TIMEOUT || ret == GEARMAN_NO_JOBS,
	    "work: %s", gearman_strerror(ret));
	ck_assert_msg(t < 2.0, "work() took %.2f s", t);
	gearman_worker_free(w);
	gearmand_stop();
}
END_TEST

static Suite *
gm_suite(void)
{
	Suite *s = suite_create("gm");
	TCase *tc = tcase_create("pure");
	TCase *net = tcase_create("network");

	tcase_add_test(tc, unique_short_keys);
	tcase_add_test(tc, unique_per_function_under_run_queued_job);
	tcase_add_test(tc, unique_long_keys);
	tcase_add_test(tc, choose_is_stable);
	tcase_add_test(tc, choose_spreads);
	tcase_add_test(tc, failed_server_moves_only_its_keys);
	tcase_add_test(tc, backoff_grows_and_is_bounded);
	tcase_add_test(tc, all_failed_still_chooses);
	tcase_add_test(tc, choose_among_shared_health);
	tcase_add_test(tc, depths_as_counters);
	suite_add_tcase(s, tc);

	tcase_set_timeout(net, 30);
	tcase_add_test(net, admin_status_parses);
	tcase_add_test(net, admin_status_empty);
	tcase_add_test(net, admin_status_odd_names);
	tcase_add_loop_test(net, admin_status_errors, 0,
	    sizeof(bad_statuses) / sizeof(bad_statuses[0]));
	tcase_add_test(net, admin_status_refused);
	tcase_add_test(net, pool_depths_silent_server);
	tcase_add_test(net, submit_to_dead_server_backs_off);
	tcase_add_test(net, real_gearmand_submit_and_status);
	tcase_add_test(net, real_gearmand_worker);
	suite_add_tcase(s, net);
	return s;
}

int
main(void)
{
	return unit_run_suite(gm_suite());
}
