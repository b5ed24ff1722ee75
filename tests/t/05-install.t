#!/usr/bin/perl
# make install honours PREFIX and DESTDIR, and a program built against the
# installed header, library and pkg-config file works on a real database.
use strict;
use warnings;
use Test::More;
use File::Basename qw(basename);
use GvTest;

my $t = GvTest->new(dbs => 1, gearmands => 0);
my $root = $t->dir . '/root';
my $prefix = '/opt/gv';
my $build = GvTest::build_dir();
my ($code, $out, $err) = $t->run({ chdir => $t->repo_dir }, 'make', '-s',
    'install', "BUILD=$build", "DESTDIR=$root", "PREFIX=$prefix");
is($code, 0, 'make install') or diag($err);
for my $f (qw(sbin/garivini bin/gv_inject bin/gv_consume include/garivini.h
    lib/libgarivini.a lib/libgarivini.so lib/libgarivini.so.0
    lib/pkgconfig/garivini.pc share/garivini/schema.sql
    share/garivini/garivini.ini share/man/man8/garivini.8
    share/man/man5/garivini.ini.5 share/man/man1/gvctl.1
    share/man/man3/libgarivini.3)) {
	ok(-e "$root$prefix/$f", "installed $f");
}

local $ENV{PKG_CONFIG_SYSROOT_DIR} = $root;
local $ENV{PKG_CONFIG_PATH} = "$root$prefix/lib/pkgconfig";
($code, $out) = $t->run('pkg-config', '--cflags', '--libs', 'garivini');
is($code, 0, 'pkg-config knows garivini');
like($out, qr{-I\Q$root$prefix\E/include}, 'its include directory');
like($out, qr{-L\Q$root$prefix\E/lib -lgarivini}, 'its library');

my $src = $t->dir . '/client.c';
open(my $fh, '>', $src) or die;
print $fh <<'C';
#include <stdio.h>
#include <garivini.h>

int
main(int argc, char **argv)
{
	char err[4096];
	struct gv_new_job job = { .funcname = "installed", .arg = "ok",
	    .arg_len = 2 };
	uint64_t jobid;
	unsigned dbid;
	gv_client *gv = gv_open_ini(argv[1], err, sizeof(err));

	if (argc != 2 || gv == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (gv_insert_job(gv, &job, &jobid, &dbid, NULL) != GV_OK) {
		fprintf(stderr, "%s\n", gv_errmsg(gv));
		return 1;
	}
	printf("%llu %u\n", (unsigned long long)jobid, dbid);
	gv_close(gv);
	return 0;
}
C
close $fh;
my @san = basename($build) =~ /asan/ ? ('-fsanitize=address,undefined') : ();
my $bin = $t->dir . '/client';
($code, undef, $err) = $t->run('sh', '-c', "cc -std=c11 @san -o $bin $src "
    . "\$(pkg-config --cflags --libs garivini) -Wl,-rpath,$root$prefix/lib");
is($code, 0, 'a client builds against the installed library') or diag($err);
($code, $out, $err) = $t->run($bin,
    $t->write_ini('garivini.gearman_servers' => undef));
is($code, 0, 'and runs') or diag($err);
like($out, qr/^\d+ 1$/, 'printing its jobid and dbid');
is($t->count(1, 'funcname = ?', 'installed'), 1, 'the row is stored');

# The installed static library defines gv_* and nothing else, so that a
# program with its own fatal, log_info or errf links it (this failed with
# "multiple definition of log_info"), and it carries no logger.
my $archive = "$root$prefix/lib/libgarivini.a";
($code, $out) = $t->run('nm', '-g', '--defined-only', $archive);
my @foreign = grep { /^[0-9a-f]+ [A-Z] (\S+)$/ && $1 !~ /^gv_/ }
    split /\n/, $out;
is(scalar(@foreign), 0, 'libgarivini.a defines no global outside gv_*')
    or diag(join("\n", @foreign[0 .. ($#foreign < 9 ? $#foreign : 9)]));
($code, $out) = $t->run('nm', $archive);
unlike($out, qr/\blog_(?:info|open|warnx)\b/, 'and holds no logger');
# Nor calls one: a logger the library needed would be the program's own.
for my $lib ($archive, "$root$prefix/lib/libgarivini.so") {
	($code, $out) = $t->run('nm', '-u', ($lib =~ /\.so$/ ? '-D' : ()), $lib);
	my @logs = grep { /\b(?:fatalx?|log_\w+|errf)\b/ } split /\n/, $out;
	is(scalar(@logs), 0, basename($lib) . ' needs no logger') or diag("@logs");
}
my $own = $t->dir . '/own.c';
open($fh, '>', $own) or die;
print $fh <<'C';
#include <stdio.h>
#include <stdlib.h>
#include <garivini.h>

/* Names a program may well have of its own. */
void fatal(const char *msg);
void log_info(const char *msg);
int errf(const char *msg);
int buf_append(int x);

void fatal(const char *msg) { fprintf(stderr, "%s\n", msg); exit(1); }
void log_info(const char *msg) { printf("%s\n", msg); }
int errf(const char *msg) { return msg != NULL; }
int buf_append(int x) { return x + 1; }

int
main(int argc, char **argv)
{
	char err[4096];
	gv_client *gv;

	if (argc != 2 || (gv = gv_open_ini(argv[1], err, sizeof(err))) == NULL)
		fatal(err);
	log_info(gv_strerror(GV_OK));
	gv_close(gv);
	return errf("x") && buf_append(1) == 2 ? 0 : 1;
}
C
close $fh;
my $static = $t->dir . '/own';
($code, undef, $err) = $t->run('sh', '-c', "cc -std=c11 @san -o $static "
    . "$own \$(pkg-config --cflags garivini) $archive "
    . "\$(pkg-config --static --libs garivini | sed 's/-lgarivini//')");
is($code, 0, 'a program defining fatal, log_info and errf links the static '
    . 'library') or diag($err);
($code, $out, $err) = $t->run($static,
    $t->write_ini('garivini.gearman_servers' => undef));
is($code, 0, 'and runs') or diag($err);
like($out, qr/^success$/m, 'with its own log_info');
my $shared = $t->dir . '/own-shared';
($code, undef, $err) = $t->run('sh', '-c', "cc -std=c11 @san -o $shared "
    . "$own \$(pkg-config --cflags --libs garivini) "
    . "-Wl,-rpath,$root$prefix/lib");
is($code, 0, 'and the shared library') or diag($err);
($code, $out, $err) = $t->run($shared,
    $t->write_ini('garivini.gearman_servers' => undef));
is($code, 0, 'and runs') or diag($err);
like($out, qr/^success$/m, 'with its own log_info');

# The client library is a make variable: MYSQL names its pkg-config module
# (.ci/run builds and tests with the other one). The .pc file shows which.
for my $lib (qw(libmariadb mysqlclient)) {
	my $b = $t->dir . "/build-$lib";
	($code, undef, $err) = $t->run({ chdir => $t->repo_dir }, 'make', '-s',
	    "BUILD=$b", "MYSQL=$lib", "$b/garivini.pc");
	is($code, 0, "make MYSQL=$lib") or diag($err);
	like(GvTest::_read_file("$b/garivini.pc"),
	    qr/^Requires\.private: \Q$lib\E jansson inih$/m,
	    "MYSQL=$lib: built against $lib");
}
($code, undef, $err) = $t->run({ chdir => $t->repo_dir }, 'make', '-s',
    'BUILD=' . $t->dir . '/build-bogus', 'MYSQL=bogus');
isnt($code, 0, 'make MYSQL=bogus fails');
like($err, qr/MYSQL=bogus: .*libmariadb.*mysqlclient/, 'naming the choices');

done_testing();
