#!/usr/bin/perl
# The Debian packages (debian/): dpkg-buildpackage builds garivini,
# libgarivini0 and libgarivini-dev from a copy of the tree, lintian has
# nothing to say about them, dpkg -i installs them on this machine with the
# service neither enabled nor started, and the installed SysV script,
# master, tools and shared library run jobs through the test's MariaDB and
# gearmand, as the garivini user. The packages are purged and the garivini
# user removed at the end, however the test ends; packages or a user that
# were there before are left alone (the test refuses to run over installed
# packages). Installing needs root, as CI runs: without it the test fails.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use GvTest;

my @PACKAGES = qw(garivini libgarivini0 libgarivini-dev);
my $DEB_VERSION_RE = qr/[0-9][0-9A-Za-z.+~-]*/;

if ($> != 0) {
	fail('62-debian.t installs Debian packages: run it as root');
	done_testing();
	exit 1;
}

# Any state dpkg knows (installed, half-installed, config-files) counts: a
# purge at the end would take an operator's configuration with it.
sub known_packages {
	my @known;
	for my $p (@PACKAGES) {
		my $st = qx(dpkg-query -W -f='\${Status}' $p 2>/dev/null) // '';
		push @known, $p if $st =~ /\S/ && $st !~ /\bnot-installed$/;
	}
	return @known;
}

my @before = known_packages();
if (@before) {
	fail("Debian packages already on this machine: @before; purge them "
	    . "first (dpkg -P @PACKAGES), this test installs and purges its own");
	done_testing();
	exit 1;
}
my $user_before = defined getpwnam('garivini');
my $group_before = defined getgrnam('garivini');

my $t = GvTest->new(dbs => 1, gearmands => 1);
my $dir = $t->dir;
my $installed = 0;
my $master;

# Purges what this test installed and removes the user it brought, the
# master stopped first (its binary and its user go). Called at the end and,
# for a test that died or was interrupted on the way, from END.
sub cleanup {
	return unless $installed;
	$installed = 0;
	$t->teardown;
	kill('KILL', $master) if $master
	    && (readlink("/proc/$master/exe") // '') eq '/usr/sbin/garivini';
	my $out = qx(dpkg -P @PACKAGES 2>&1);
	diag("dpkg -P @PACKAGES failed:\n$out") if $?;
	system('userdel', 'garivini') if !$user_before
	    && defined getpwnam('garivini');
	system('groupdel', 'garivini') if !$group_before
	    && defined getgrnam('garivini');
}

END {
	my $code = $?;
	cleanup();
	$? = $code;
}

# --- build ------------------------------------------------------------------
# A copy of the files git tracks (and new ones not ignored), as they are in
# the work tree: never the build directories a tree may hold, and the tree
# itself stays clean.
my $src = "$dir/src";
mkdir $src or die "mkdir $src: $!";
my ($code, $out, $err) = $t->run({ chdir => $t->repo_dir }, 'sh', '-c',
    'git ls-files -z --cached --others --exclude-standard '
    . "| tar --null --ignore-failed-read -T - -cf - | tar -xf - -C $src");
is($code, 0, 'the tree copied') or diag($err);
ok(-x "$src/debian/rules", 'with debian/rules');

my $started = time;
my %build_env = (DEB_BUILD_OPTIONS => 'nocheck parallel=2 noddebs',
    MAKEFLAGS => undef, MFLAGS => undef, MAKELEVEL => undef);
($code, $out, $err) = $t->run({ chdir => $src, env => \%build_env,
    timeout => 900 }, 'dpkg-buildpackage', '-b', '-uc', '-us');
is($code, 0, 'dpkg-buildpackage -b -uc -us') or diag(join("\n",
    (split /\n/, "$out\n$err")[-40 .. -1]));
note(sprintf('built in %.0f s', time - $started));

my %deb;
for my $p (@PACKAGES) {
	my @found = glob("$dir/${p}_*.deb");
	is(scalar(@found), 1, "one $p package");
	$deb{$p} = $found[0] // '';
	like($deb{$p}, qr{/\Q$p\E_${DEB_VERSION_RE}_[a-z0-9]+\.deb$},
	    "named $p\_VERSION_ARCH.deb");
}
my ($changes) = glob("$dir/garivini_*.changes");
ok($changes, 'and a .changes file');
BAIL_OUT('the packages did not build') unless $changes && 3 == grep {
	$_ ne '' } values %deb;

($code, $out, $err) = $t->run({ timeout => 300 }, 'lintian', '-I', '-E',
    '--pedantic', $changes);
is($out, '', 'lintian -I -E --pedantic: no tag') or diag($out);
is($code, 0, 'lintian exits 0') or diag($err);

# --- install ----------------------------------------------------------------
$installed = 1;
($code, $out, $err) = $t->run({ env => {
	DEBIAN_FRONTEND => 'noninteractive' }, timeout => 300 },
    'dpkg', '-i', map { $deb{$_} } @PACKAGES);
is($code, 0, 'dpkg -i of the three packages') or diag("$out\n$err");
for my $p (@PACKAGES) {
	is(qx(dpkg-query -W -f='\${Status}' $p 2>/dev/null),
	    'install ok installed', "$p installed");
}

my @pw = getpwnam('garivini');
ok(@pw, 'the garivini user exists');
my ($uid, $gid, $home, $shell) = @pw[2, 3, 7, 8];
my $ggid = getgrnam('garivini');
is($gid, $ggid, 'its primary group is the group garivini');
ok(defined $uid && $uid > 0 && $uid < 1000, "a system user (uid $uid)");
is($shell, '/usr/sbin/nologin', 'with no login shell');
is($home, '/nonexistent', 'and no home');

my $conf = '/etc/garivini/garivini.ini';
my @st = stat($conf);
is(sprintf('%04o', ($st[2] // 0) & 07777), '0640', "$conf is mode 0640");
is($st[4], 0, 'owned by root');
is($st[5], $ggid, 'group garivini');
like(qx(dpkg-query -W -f='\${Conffiles}' garivini), qr{^ \Q$conf\E }m,
    'a conffile');
($code, $out, $err) = $t->run('runuser', '-u', 'garivini', '--',
    '/usr/sbin/garivini', '-t', '-c', $conf);
is($code, 0, 'the garivini user reads it: garivini -t passes') or diag($err);
like($out, qr/configuration OK/, 'configuration OK');
is($err, '', 'without a warning about its mode');
($code) = $t->run('runuser', '-u', 'nobody', '--', 'cat', $conf);
isnt($code, 0, 'nobody else reads it');
my $text = GvTest::_read_file($conf);
like($text, qr{^pidfile = /run/garivini/garivini\.pid$}m,
    'its pidfile in /run/garivini');
like($text, qr{^log_file = /var/log/garivini/garivini\.log$}m,
    'its log where logrotate looks');
like($text, qr{^user = garivini\ngroup = garivini$}m,
    'run as garivini when started as root');
@st = stat('/var/log/garivini');
is(sprintf('%04o', ($st[2] // 0) & 07777), '2750', '/var/log/garivini: 2750');
is($st[4], $uid, 'owned by garivini');
is($st[5], scalar(getgrnam('adm')), 'group adm');
@st = stat('/run/garivini');
is($st[4], $uid, '/run/garivini owned by garivini');

my $arch = qx(dpkg-architecture -qDEB_HOST_MULTIARCH);
chomp $arch;
my %files = (
	garivini => [qw(/usr/sbin/garivini /usr/bin/gvctl /usr/bin/gv_inject
	    /usr/bin/gv_consume /usr/share/man/man8/garivini.8.gz
	    /usr/share/man/man5/garivini.ini.5.gz
	    /usr/share/man/man1/gvctl.1.gz /usr/share/man/man1/gv_inject.1.gz
	    /usr/share/man/man1/gv_consume.1.gz /etc/init.d/garivini
	    /lib/systemd/system/garivini.service /etc/logrotate.d/garivini
	    /usr/share/garivini/schema.sql /usr/share/garivini/garivini.ini
	    /usr/share/doc/garivini/README.Debian)],
	libgarivini0 => ["/usr/lib/$arch/libgarivini.so.0"],
	'libgarivini-dev' => ['/usr/include/garivini.h',
	    "/usr/lib/$arch/libgarivini.a", "/usr/lib/$arch/libgarivini.so",
	    "/usr/lib/$arch/pkgconfig/garivini.pc",
	    '/usr/share/man/man3/libgarivini.3.gz'],
);
for my $p (@PACKAGES) {
	my %listed = map { $_ => 1 } split /\n/, qx(dpkg -L $p);
	for my $f (@{ $files{$p} }) {
		ok($listed{$f} && -e $f, "$p: $f");
	}
}
for my $f (qw(/etc/init.d/garivini /lib/systemd/system/garivini.service
    /etc/logrotate.d/garivini)) {
	unlike(GvTest::_read_file($f), qr{/usr/local}, "$f names no /usr/local");
}
like(GvTest::_read_file('/lib/systemd/system/garivini.service'),
    qr{^ExecStart=/usr/sbin/garivini -c /etc/garivini/garivini\.ini$}m,
    'the unit starts /usr/sbin/garivini');

# Nothing enabled, nothing started: the operator edits garivini.ini first.
ok(!-e '/etc/systemd/system/multi-user.target.wants/garivini.service',
    'the unit is not enabled');
# systemctl reads the unit files without a running systemd.
($code, $out) = $t->run('systemctl', 'is-enabled', 'garivini.service');
is($out, "disabled\n", 'systemctl is-enabled: disabled');
is(scalar(() = glob('/etc/rc[2-5].d/S*garivini')), 0,
    'the SysV script starts in no runlevel');
sub installed_masters {
	return grep { (readlink("/proc/$_/exe") // '') eq '/usr/sbin/garivini' }
	    map { m{/(\d+)$} } glob('/proc/[0-9]*');
}
is(scalar(installed_masters()), 0, 'no garivini runs');

# --- run --------------------------------------------------------------------
# The installed SysV script starts the installed master as root, which
# drops to the garivini user: its pidfile and status file go where that
# user may write, and the test directory must let it reach its log.
my $run = "$dir/run";
mkdir $run or die "mkdir $run: $!";
chown($uid, $ggid, $run) or die "chown $run: $!";
chmod(0755, $dir) or die "chmod $dir: $!";
my $ini = $t->write_ini('garivini.user' => 'garivini',
    'garivini.group' => 'garivini', 'garivini.pidfile' => "$run/garivini.pid",
    'garivini.status_file' => "$run/status.json");
# As the package has it: the master reads it again as garivini on a reload.
chown(0, $ggid, $ini) && chmod(0640, $ini) or die "chown/chmod $ini: $!";
my %init_env = (GARIVINI_CONF => $ini, GARIVINI_STOP_TIMEOUT => 30,
    SYSTEMCTL_SKIP_REDIRECT => 1);
($code, $out, $err) = $t->run({ env => \%init_env }, '/etc/init.d/garivini',
    'start');
is($code, 0, '/etc/init.d/garivini start') or diag("$out$err");
($master) = GvTest::_read_file("$run/garivini.pid") =~ /(\d+)/;
$t->track($master) if $master;
ok($master && kill(0, $master), "the master runs (pid $master)");
is(readlink("/proc/$master/exe"), '/usr/sbin/garivini',
    'the installed one');
ok($t->wait_for_log(qr/running as uid $uid, gid $ggid/, 10),
    'as the garivini user');
unlike(GvTest::_read_file($t->log_path), qr/holds a database password/,
    'with no warning about its configuration');

# One job: gv_consume works FUNC (in @$mode), @insert and ARG store the job
# and print $answer; the worker gets ARG and the row goes.
sub round_trip {
	my ($func, $mode, $arg, $answer, @insert) = @_;
	my $got = "$dir/$func.txt";
	$t->spawn('/usr/bin/gv_consume', '-c', $ini, @$mode, '-f', $func, '-o',
	    $got);
	my ($code, $out, $err) = $t->run(@insert, $arg);
	is($code, 0, "$func: the job stored") or diag($err);
	like($out, $answer, "$func: the answer");
	ok($t->wait_for("the $func job to run", 20, sub { -s $got }),
	    "$func: the job ran");
	like(GvTest::_read_file($got), qr/\t\Q$arg\E$/, "$func: with its arg");
	ok($t->wait_for("the $func row to go", 10, sub { $t->count(1) == 0 }),
	    "$func: completed");
}

round_trip('deb_latency', ['-m', 'latency'], 'through the Controller',
    qr/^\{"jobid":\d+,"dbid":1\}$/, '/usr/bin/gv_inject', '-c', $ini, '-m',
    'latency', '-f', 'deb_latency', '-a');

# A client built against libgarivini-dev, run on libgarivini0.
my $client_src = "$dir/insert.c";
open(my $fh, '>', $client_src) or die "$client_src: $!";
print $fh <<'C';
#include <stdio.h>
#include <string.h>
#include <garivini.h>

/* insert INI FUNCNAME ARG: one job, its jobid on stdout. */
int
main(int argc, char **argv)
{
	char err[1024];
	struct gv_new_job job = { 0 };
	uint64_t jobid = 0;
	gv_client *gv;

	if (argc != 4 || (gv = gv_open_ini(argv[1], err, sizeof(err))) == NULL) {
		fprintf(stderr, "insert: %s\n", argc == 4 ? err : "usage");
		return 2;
	}
	job.funcname = argv[2];
	job.arg = argv[3];
	job.arg_len = strlen(argv[3]);
	if (gv_insert_job(gv, &job, &jobid, NULL, NULL) != GV_OK) {
		fprintf(stderr, "insert: %s\n", gv_errmsg(gv));
		return 1;
	}
	printf("%llu\n", (unsigned long long)jobid);
	gv_close(gv);
	return 0;
}
C
close $fh;
my $client = "$dir/insert";
($code, $out, $err) = $t->run('sh', '-c', "cc -std=c11 -o $client "
    . "$client_src \$(pkg-config --cflags --libs garivini)");
is($code, 0, 'a client builds with pkg-config garivini') or diag($err);
($code, $out) = $t->run('ldd', $client);
like($out,
    qr{libgarivini\.so\.0 => (?:/usr)?/lib/\Q$arch\E/libgarivini\.so\.0 },
    'and links the installed libgarivini.so.0');
round_trip('deb_throughput', [], 'through a QueueRunner', qr/^\d+$/, $client,
    $ini, 'deb_throughput');

($code, $out, $err) = $t->run('/usr/bin/gvctl', '-c', $ini, 'status');
is($code, 0, 'the installed gvctl reads the status file') or diag($err);
like($out, qr/controller/, 'and shows the pools');

($code, $out, $err) = $t->run({ env => \%init_env, timeout => 60 },
    '/etc/init.d/garivini', 'stop');
is($code, 0, '/etc/init.d/garivini stop') or diag("$out$err");
ok(!kill(0, $master), 'the master is gone');

# --- purge ------------------------------------------------------------------
cleanup();
is(scalar(known_packages()), 0, 'dpkg -P purged the three packages');
ok(!-e $_, "$_ is gone") for qw(/etc/garivini /usr/sbin/garivini
    /var/log/garivini /run/garivini /etc/init.d/garivini);
is(scalar(() = glob('/etc/rc[0-6S].d/[SK]*garivini')), 0,
    'and its runlevel links');
is(defined getpwnam('garivini') ? 1 : 0, $user_before ? 1 : 0,
    'the garivini user is as it was before');
is(defined getgrnam('garivini') ? 1 : 0, $group_before ? 1 : 0,
    'and its group');

done_testing();
