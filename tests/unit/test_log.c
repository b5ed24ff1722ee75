/*
 * test_log: the line format, levels, the role prefix, reopening after
 * rotation, one line per event, errno. Each test runs in its own forked
 * process (Check's default), so the module's state starts fresh.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

static char dir[64];
static char path[128];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/gvlogXXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/garivini.log", dir);
}

static void
teardown(void)
{
	char rotated[160];

	log_close();
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	unlink(path);
	unlink(rotated);
	rmdir(dir);
}

static char *
slurp(const char *file)
{
	static char data[1 << 20];
	size_t n;
	FILE *fp = fopen(file, "r");

	ck_assert_msg(fp != NULL, "cannot open %s", file);
	n = fread(data, 1, sizeof(data) - 1, fp);
	data[n] = '\0';
	fclose(fp);
	return data;
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void
assert_matches(const char *text, const char *pattern)
{
	regex_t re;
	int rc;

	ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&re, text, 0, NULL, 0);
	regfree(&re);
	ck_assert_msg(rc == 0, "\"%s\" does not match /%s/", text, pattern);
}

START_TEST(test_format)
{
	char want[256];

	ck_assert_int_eq(log_open(path), 0);
	log_info("started %d children", 3);
	snprintf(want, sizeof(want),
	    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
	    "\\[%ld\\] garivini info: started 3 children\n$", (long)getpid());
	assert_matches(slurp(path), want);
}
END_TEST

START_TEST(test_timestamp_is_utc)
{
	char *line, stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	setenv("TZ", "America/Los_Angeles", 1);
	tzset();
	ck_assert_int_eq(log_open(path), 0);
	log_notice("x");
	line = slurp(path);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:", &tm);
	/* Same UTC date and hour, unless the hour turned in between. */
	ck_assert_msg(strncmp(line, stamp, strlen(stamp)) == 0 ||
	    time(NULL) / 3600 != now / 3600, "%s vs %s", line, stamp);
}
END_TEST

START_TEST(test_levels)
{
	char *text;

	ck_assert_int_eq(log_open(path), 0);
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_INFO);
	log_debug("hidden debug");
	log_info("shown info");
	log_set_level(LOG_LEVEL_WARN);
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_WARN);
	log_info("hidden info");
	log_notice("hidden notice");
	log_warnx("shown warn");
	log_errx("shown err");
	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("shown debug");
	text = slurp(path);
	ck_assert_int_eq(count_lines(text), 4);
	ck_assert_ptr_null(strstr(text, "hidden"));
	ck_assert_ptr_nonnull(strstr(text, " garivini info: shown info\n"));
	ck_assert_ptr_nonnull(strstr(text, " garivini warn: shown warn\n"));
	ck_assert_ptr_nonnull(strstr(text, " garivini err: shown err\n"));
	ck_assert_ptr_nonnull(strstr(text, " garivini debug: shown debug\n"));
}
END_TEST

START_TEST(test_level_names)
{
	static const char *names[] = { "err", "warn", "notice", "info",
	    "debug" };
	int i;

	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(log_level_parse(names[i]), i);
		ck_assert_str_eq(log_level_name(i), names[i]);
	}
	ck_assert_int_eq(log_level_parse("warning"), -1);
	ck_assert_int_eq(log_level_parse(""), -1);
	ck_assert_int_eq(log_level_parse(NULL), -1);
	ck_assert_str_eq(log_level_name(99), "unknown");
	ck_assert_int_eq(LOG_LEVEL_ERR, 0);
	ck_assert_int_eq(LOG_LEVEL_DEBUG, 4);
}
END_TEST

START_TEST(test_role)
{
	char *text;

	ck_assert_int_eq(log_open(path), 0);
	log_set_role("controller", 3);
	log_info("one");
	log_set_role("master", -1);
	log_info("two");
	log_set_role("queue_runner", 0);
	log_info("three");
	log_set_role(NULL, -1);
	log_info("four");
	text = slurp(path);
	ck_assert_ptr_nonnull(strstr(text, "] controller/3 info: one\n"));
	ck_assert_ptr_nonnull(strstr(text, "] master info: two\n"));
	ck_assert_ptr_nonnull(strstr(text, "] queue_runner/0 info: three\n"));
	ck_assert_ptr_nonnull(strstr(text, "] garivini info: four\n"));
}
END_TEST

/* 1 if a program exec'd from here inherits a descriptor of a file whose
 * name matches pattern, 0 if not. */
static int
fd_seen_by_exec(const char *pattern)
{
	char cmd[256];
	int rc;

	snprintf(cmd, sizeof(cmd), "ls -l /proc/self/fd/ | grep -q '%s'",
	    pattern);
	rc = system(cmd);
	ck_assert_msg(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) <= 1,
	    "%s: %d", cmd, rc);
	return WEXITSTATUS(rc) == 0;
}

START_TEST(test_reopen)
{
	char rotated[160], *text;
	int fd;

	ck_assert_int_eq(log_open(path), 0);
	log_info("before rotation");
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	ck_assert_int_eq(rename(path, rotated), 0);
	log_info("still to the old file");
	ck_assert_int_eq(log_reopen(), 0);
	log_info("after rotation");
	/* Still close-on-exec after the reopen: a program run from here does
	 * not see the log file among its descriptors. */
	ck_assert_int_eq(fd_seen_by_exec("garivini\\.log$"), 0);
	fd = open(rotated, O_RDONLY);
	ck_assert_int_eq(fd_seen_by_exec("garivini\\.log\\.1$"), 1);
	close(fd);

	text = slurp(rotated);
	ck_assert_int_eq(count_lines(text), 2);
	ck_assert_ptr_nonnull(strstr(text, "before rotation"));
	ck_assert_ptr_nonnull(strstr(text, "still to the old file"));
	text = slurp(path);
	ck_assert_int_eq(count_lines(text), 1);
	ck_assert_ptr_nonnull(strstr(text, "after rotation"));
}
END_TEST

START_TEST(test_reopen_failure_keeps_file)
{
	char rotated[160], *text;

	ck_assert_int_eq(log_open(path), 0);
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	ck_assert_int_eq(rename(path, rotated), 0);
	/* A directory where the file was: the new open fails. */
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(log_reopen(), -1);
	ck_assert_int_eq(errno, EISDIR);
	log_info("kept the old descriptor");
	rmdir(path);
	text = slurp(rotated);
	ck_assert_ptr_nonnull(strstr(text, "kept the old descriptor"));
}
END_TEST

START_TEST(test_open_failure_keeps_target)
{
	char bad[160];

	ck_assert_int_eq(log_open(path), 0);
	snprintf(bad, sizeof(bad), "%s/no/such/dir/x.log", dir);
	ck_assert_int_eq(log_open(bad), -1);
	ck_assert_int_eq(errno, ENOENT);
	log_info("still here");
	ck_assert_ptr_nonnull(strstr(slurp(path), "still here"));
	/* stderr and a no-op reopen. */
	ck_assert_int_eq(log_open("stderr"), 0);
	ck_assert_int_eq(log_reopen(), 0);
	ck_assert_int_eq(log_open(NULL), 0);
}
END_TEST

START_TEST(test_stderr)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	log_set_role("injector", 1);
	log_warnx("to stderr");
	assert_matches(slurp(path), "Z \\[[0-9]+\\] injector/1 warn: to stderr\n$");
}
END_TEST

START_TEST(test_newlines_flattened)
{
	char *text;

	ck_assert_int_eq(log_open(path), 0);
	log_info("first\nsecond\r\nthird");
	log_errx("%s", "a\nb");
	text = slurp(path);
	ck_assert_int_eq(count_lines(text), 2);
	ck_assert_ptr_nonnull(strstr(text, "info: first second  third\n"));
	ck_assert_ptr_nonnull(strstr(text, "err: a b\n"));
}
END_TEST

START_TEST(test_long_message_cut)
{
	static char big[20000];
	char *text;

	memset(big, 'x', sizeof(big) - 1);
	ck_assert_int_eq(log_open(path), 0);
	log_info("%s", big);
	text = slurp(path);
	ck_assert_int_eq(count_lines(text), 1);
	ck_assert_uint_lt(strlen(text), 8192 + 128);
	ck_assert_uint_gt(strlen(text), 8000);
	ck_assert_ptr_nonnull(strstr(text, "xxx...\n"));
}
END_TEST

START_TEST(test_errno)
{
	char *text;

	ck_assert_int_eq(log_open(path), 0);
	errno = ENOENT;
	log_warn("open %s", "/x");
	ck_assert_int_eq(errno, ENOENT);
	errno = EACCES;
	log_err("bind");
	ck_assert_int_eq(errno, EACCES);
	errno = EPIPE;
	log_warnx("no errno here");
	ck_assert_int_eq(errno, EPIPE);
	/* Dropped by the level: errno is still untouched. */
	log_debug("dropped");
	ck_assert_int_eq(errno, EPIPE);
	text = slurp(path);
	ck_assert_ptr_nonnull(strstr(text, " warn: open /x: No such file or "
	    "directory\n"));
	ck_assert_ptr_nonnull(strstr(text, " err: bind: Permission denied\n"));
	ck_assert_ptr_nonnull(strstr(text, " warn: no errno here\n"));
}
END_TEST

/* fatal and fatalx in a child: the exit code and the line it left. */
static void
run_fatal(int with_errno)
{
	pid_t pid;
	int status;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (log_open(path) == -1)
			_exit(99);
		errno = ENOMEM;
		if (with_errno)
			fatal("cannot go on");
		fatalx("bad config");
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
}

START_TEST(test_fatal)
{
	char *text;

	run_fatal(1);
	run_fatal(0);
	text = slurp(path);
	ck_assert_int_eq(count_lines(text), 2);
	ck_assert_ptr_nonnull(strstr(text, " garivini err: cannot go on: Cannot "
	    "allocate memory\n"));
	ck_assert_ptr_nonnull(strstr(text, " garivini err: bad config\n"));
}
END_TEST

START_TEST(test_shared_file)
{
	enum { CHILDREN = 4, LINES = 100 };
	char *text, *line, *nl;
	pid_t pid;
	int i, j, status, n = 0;

	ck_assert_int_eq(log_open(path), 0);
	/* Children share the descriptor, as the master's pools do. */
	for (i = 0; i < CHILDREN; i++) {
		pid = fork();
		ck_assert_int_ne(pid, -1);
		if (pid == 0) {
			log_set_role("queue_runner", i);
			for (j = 0; j < LINES; j++)
				log_info("line %d of child %d padding %0200d",
				    j, i, 0);
			_exit(0);
		}
	}
	for (i = 0; i < CHILDREN; i++) {
		ck_assert_int_ne(wait(&status), -1);
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	text = slurp(path);
	for (line = text; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		*nl = '\0';
		assert_matches(line, "^[0-9T:.-]+Z \\[[0-9]+\\] queue_runner/[0-3] "
		    "info: line [0-9]+ of child [0-3] padding 0+$");
		n++;
	}
	ck_assert_int_eq(n, CHILDREN * LINES);
}
END_TEST

START_TEST(test_syslog)
{
	/* Nothing to read back without a syslog daemon; it must not fail or
	 * write to stderr instead. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	ck_assert_int_eq(log_open("syslog"), 0);
	log_set_role("controller", 1);
	errno = EINTR;
	log_warn("test_log syslog line");
	ck_assert_int_eq(errno, EINTR);
	ck_assert_int_eq(log_open("stderr"), 0);
	ck_assert_str_eq(slurp(path), "");
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_format, test_timestamp_is_utc, test_levels,
		test_level_names, test_role, test_reopen,
		test_reopen_failure_keeps_file, test_open_failure_keeps_target,
		test_stderr, test_newlines_flattened, test_long_message_cut,
		test_errno, test_fatal, test_shared_file, test_syslog,
	};

	return unit_run("log", tests, sizeof(tests) / sizeof(tests[0]),
	    setup, teardown);
}
