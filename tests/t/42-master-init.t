#!/usr/bin/perl
# -d and the SysV init script: start (returning once the pools are up),
# status, reload, restart, stop; start-up failures reported by -d's exit
# code; systemd's readiness protocol ($NOTIFY_SOCKET).
use strict;
use warnings;
use Test::More;
use IO::Socket::UNIX;
use Socket qw(SOCK_DGRAM);
use Time::HiRes qw(sleep time);
use GvTest;

my $t = GvTest->new(dbs => 0, gearmands => 0);
my $bin = $t->build_path('garivini');
my $script = $t->repo_dir . '/init/garivini.init';
my %base = (
	'garivini.gearman_servers' => '127.0.0.1:1',
	'db.1.host' => '127.0.0.1',
	'db.1.port' => 1,
	'db.1.database' => 'gv_none',
	'garivini.shutdown_timeout' => 5,
	'controller.processes' => 2,
);
my $ini = $t->write_ini(%base);
my %env = (GARIVINI_BIN => $bin, GARIVINI_CONF => $ini,
    GARIVINI_PIDFILE => $t->pid_path, GARIVINI_STOP_TIMEOUT => 15);

sub init {
	my ($cmd) = @_;
	my ($code, $out, $err) = $t->run({ env => \%env }, '/bin/sh', $script,
	    $cmd);
	return ($code, $out . $err);
}

sub pidfile {
	open(my $fh, '<', $t->pid_path) or return 0;
	my ($pid) = (<$fh> // '') =~ /(\d+)/;
	close $fh;
	return $pid // 0;
}

my ($code, $out) = init('status');
is($code, 3, 'status: 3 when not running');
like($out, qr/garivini is not running/, 'and says so');

($code, $out) = init('start');
is($code, 0, 'start: 0') or diag($out);
my $pid = pidfile();
ok($pid && kill(0, $pid), 'the master runs, its pid in the pidfile');
my $st = $t->status_json;
is($st->{master}{pid}, $pid, 'start returned with the status file written');
is($st->{master}{state}, 'running', 'pools up when start returns');
is($st->{pools}{controller}{running}, 2, 'both controllers running');

($code, $out) = init('start');
is($code, 0, 'start again: 0');
like($out, qr/already running/, 'already running');
is(pidfile(), $pid, 'same master');

($code, $out) = init('status');
is($code, 0, 'status: 0 when running');
like($out, qr/garivini is running \(pid $pid\)/, 'with its pid');

$t->write_ini(%base, 'controller.processes' => 3);
($code, $out) = init('reload');
is($code, 0, 'reload: 0') or diag($out);
ok($t->wait_for('three controllers', 10, sub {
	my $s = $t->status_json;
	$s->{master}{generation} == 2 && $s->{pools}{controller}{running} == 3;
}), 'the reload was applied');

$t->write_ini(%base, 'controller.processes' => -1);
($code, $out) = init('reload');
isnt($code, 0, 'reload of a broken file fails');
like($out, qr/processes/, 'naming the error');
ok(kill(0, $pid), 'the master runs on');
($code, $out) = init('status');
is($code, 0, 'status with a broken file: still running');
like($out, qr/running \(pid $pid\)/, 'same pid');
($code, $out) = init('restart');
isnt($code, 0, 'restart refuses a file that cannot start');
ok(kill(0, $pid), 'and leaves the master running');
$t->write_ini(%base, 'controller.processes' => 3);

($code, $out) = init('restart');
is($code, 0, 'restart: 0') or diag($out);
my $new = pidfile();
ok($new && $new != $pid && kill(0, $new), 'a new master');
ok(!kill(0, $pid), 'the old one is gone');

($code, $out) = init('stop');
is($code, 0, 'stop: 0') or diag($out);
ok(!kill(0, $new), 'the master is gone when stop returns');
ok(!-e $t->pid_path, 'its pidfile removed');
($code) = init('status');
is($code, 3, 'status: 3 again');
($code, $out) = init('stop');
is($code, 0, 'stop when stopped: 0');

# -d reports start-up failures.
my $bad = $t->write_ini(%base, file => 'nopid.ini',
    'garivini.pidfile' => $t->dir . '/no/such/dir/garivini.pid');
my $err;
($code, undef, $err) = $t->run($bin, '-d', '-c', $bad);
is($code, 73, '-d with an impossible pidfile: EX_CANTCREAT');
like($err, qr/no\/such\/dir/, 'the error reaches the terminal');

($code, undef, $err) = $t->run($bin, '-d', '-c', $ini);
is($code, 0, '-d: 0');
$pid = pidfile();
($code, undef, $err) = $t->run($bin, '-d', '-c', $ini);
is($code, 75, '-d while running: EX_TEMPFAIL');
like($err, qr/already running \(pid $pid/, 'already running');
($code) = $t->run($bin, '-c', $ini, '-s', 'stop');
is($code, 0, '-s stop');
is($t->wait_exit($pid, 10), 0, 'the daemon stops');

# sd_notify: READY once up, RELOADING/READY around a HUP, STOPPING.
my $sock_path = $t->dir . '/notify.sock';
my $sock = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $sock_path)
    or die "notify socket: $!";
my $master = $t->spawn({ env => { NOTIFY_SOCKET => $sock_path } },
    $bin, '-c', $ini);

sub notice {
	my $msg = '';
	my $rin = '';
	vec($rin, fileno($sock), 1) = 1;
	return undef unless select(my $rout = $rin, undef, undef, 10);
	$sock->recv($msg, 4096);
	return $msg;
}

my $msg = notice();
like($msg, qr/^READY=1$/m, 'READY=1 once up');
like($msg, qr/^MAINPID=$master$/m, 'with MAINPID');
is($t->status_json->{master}{state}, 'running', 'the status file agrees');
kill 'HUP', $master;
like(notice(), qr/^RELOADING=1$/m, 'RELOADING=1 on HUP');
like(notice(), qr/^READY=1$/m, 'READY=1 after the reload');
kill 'TERM', $master;
like(notice(), qr/^STOPPING=1$/m, 'STOPPING=1 on TERM');
is($t->wait_exit($master, 10), 0, 'stopped');

# /run emptied at boot: start makes the pidfile's directory again.
my $gone = $t->dir . '/run-gone';
my $ini2 = $t->write_ini(%base, 'garivini.pidfile' => "$gone/garivini.pid",
    'garivini.status_file' => "$gone/status.json", file => 'gone.ini');
my %env2 = (%env, GARIVINI_CONF => $ini2);
delete $env2{GARIVINI_PIDFILE};
($code, $out) = $t->run({ env => \%env2 }, '/bin/sh', $script, 'start');
is($code, 0, 'start with the pidfile\'s directory gone: 0') or diag($out);
ok(-d $gone && -s "$gone/garivini.pid", 'the directory is made again, '
    . 'the pidfile in it');
($code, $out) = $t->run({ env => \%env2 }, '/bin/sh', $script, 'stop');
is($code, 0, 'and it stops') or diag($out);

done_testing();
