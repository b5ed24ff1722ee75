#!/usr/bin/perl
# The garivini command line: -t, -v, usage errors, --role, -s, and the
# pidfile (locked while running, a second master refused, a stale one taken
# over, removed at exit). No server is needed: the roles run against closed
# ports, which they survive.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 0, gearmands => 0);
my $bin = $t->build_path('garivini');
my %offline = (
	'garivini.gearman_servers' => '127.0.0.1:1',
	'db.1.host' => '127.0.0.1',
	'db.1.port' => 1,
	'db.1.database' => 'gv_none',
	'garivini.shutdown_timeout' => 5,
);
my $prom = $t->dir . '/garivini.prom';
my $ini = $t->write_ini(%offline, 'garivini.prometheus_file' => $prom);

# -t
my ($code, $out, $err) = $t->run($bin, '-t', '-c', $ini);
is($code, 0, '-t on a good file exits 0') or diag($err);
is($out, "configuration OK\n", '-t prints configuration OK');

my $bad = $t->write_ini(%offline, file => 'bad.ini',
    'controller.processes' => 'many', 'bogus.key' => 1);
($code, $out, $err) = $t->run($bin, '-t', '-c', $bad);
is($code, 78, '-t on a broken file exits EX_CONFIG');
my @errors = grep { /\S/ } split /\n/, $err;
cmp_ok(scalar(@errors), '>=', 2, 'every error is reported') or diag($err);
like($err, qr/\Q$bad\E:\d+: .*processes/, 'an error names file, line, key');
like($err, qr/\Q$bad\E:\d+: .*bogus/, 'the unknown section too');

($code, $out) = $t->run($bin, '-t', '-v', '-c', $ini);
is($code, 0, '-t -v exits 0');
like($out, qr/^\[controller\] processes = 1 /m, '-t -v prints the settings');

($code, $out) = $t->run($bin, '-v');
like($out, qr/^garivini \d+\.\d+\.\d+$/, '-v prints the version');
is($code, 0, '-v exits 0');
($code, $out) = $t->run($bin, '-h');
is($code, 0, '-h exits 0');
like($out, qr/usage: garivini/, '-h prints usage');
($code, undef, $err) = $t->run($bin, '--no-such-option');
is($code, 64, 'a bad option exits EX_USAGE');
($code) = $t->run($bin, '-c', $ini, 'extra');
is($code, 64, 'a stray argument exits EX_USAGE');
($code) = $t->run($bin, '-c', $ini, '-t', '-s', 'stop');
is($code, 64, '-t with -s exits EX_USAGE');
($code, undef, $err) = $t->run($bin, '-c', $ini, '--role', 'nobody');
is($code, 64, 'an unknown role exits EX_USAGE');
like($err, qr/unknown role nobody/, 'and says so');
($code) = $t->run($bin, '-c', $t->dir . '/missing.ini');
is($code, 78, 'a missing configuration exits EX_CONFIG');

# -s with no master
($code, undef, $err) = $t->run($bin, '-c', $ini, '-s', 'status');
is($code, 3, '-s status with no master exits 3 (LSB: not running)');
like($err, qr/not running/, 'and says so');
($code) = $t->run($bin, '-c', $ini, '-s', 'stop');
is($code, 3, '-s stop with no master exits 3');
($code) = $t->run($bin, '-c', $ini, '-s', 'dance');
is($code, 64, '-s with an unknown command exits EX_USAGE');

# --role: one role in the foreground, its own log prefix, exit 0 on TERM.
my $role = $t->spawn($bin, '-c', $ini, '--role', 'injector', '--slot', 3);
ok($t->wait_for_log(qr/\binjector\/3 info: started$/, 10),
    '--role logs started with role/slot');
is($t->stop($role, 'TERM', 10), 0, '--role exits 0 on TERM');
ok($t->wait_for_log(qr/\binjector\/3 info: exited with code 0$/, 5),
    'and logs its exit code');

# A stale pidfile (no lock) is taken over.
open(my $fh, '>', $t->pid_path) or die;
print {$fh} "999999\n";
close $fh;
my $master = $t->spawn($bin, '-c', $ini);
ok($t->wait_for('the master to be running', 15, sub {
	my $st = $t->status_json;
	$st && $st->{master}{state} eq 'running';
}), 'master up despite a stale pidfile');
open($fh, '<', $t->pid_path) or die;
my $written = <$fh>;
close $fh;
is($written, "$master\n", 'the pidfile holds the new pid');

# The Prometheus text file, for node_exporter's textfile collector.
ok($t->wait_for('the Prometheus file', 5, sub { -s $prom }),
    'prometheus_file written');
my $metrics = do { local (@ARGV, $/) = ($prom); <> };
like($metrics, qr/^garivini_pool_configured\{pool="controller"\} 1$/m,
    'configured per pool');
like($metrics, qr/^garivini_pool_restarts_total\{pool="injector"\} 0$/m,
    'restarts per pool');
like($metrics, qr/^garivini_jobs_done_total\{pool="controller"\} 0$/m,
    'job counters per pool');
like($metrics, qr/^# TYPE garivini_pool_restarts_total counter$/m,
    'typed');

# A second master is refused while the first holds the lock.
($code, undef, $err) = $t->run($bin, '-c', $ini);
is($code, 75, 'a second master exits EX_TEMPFAIL');
like($err, qr/already running \(pid $master/, 'naming the running one');
ok($t->running($master), 'the first master is unharmed');

# -s status prints the status file.
($code, $out) = $t->run($bin, '-c', $ini, '-s', 'status');
is($code, 0, '-s status exits 0 while running');
like($out, qr/"pid": $master\b/, '-s status prints the status file');

# -s stop: a graceful stop, the pidfile removed.
($code) = $t->run($bin, '-c', $ini, '-s', 'stop');
is($code, 0, '-s stop exits 0');
is($t->wait_exit($master, 15), 0, 'the master exits 0');
ok(!-e $t->pid_path, 'the pidfile is gone');
my $st = $t->status_json;
is($st->{master}{state}, 'stopped', 'the last status says stopped');
is(scalar(@{ $st->{children} }), 0, 'with no child');

# A pidfile rewritten by someone else is left alone at exit.
$master = $t->spawn($bin, '-c', $ini);
ok($t->wait_for('the master to write its pidfile', 15, sub {
	open(my $p, '<', $t->pid_path) or return 0;
	my $l = <$p> // '';
	$l eq "$master\n";
}), 'second master up');
open($fh, '+<', $t->pid_path) or die;
print {$fh} "1\n";
close $fh;
is($t->stop($master, 'TERM', 15), 0, 'stopped');
ok(-e $t->pid_path, 'a pidfile holding another pid is not removed');

# user/group: the master and its children run as the user, the pidfile is
# created as root first.
SKIP: {
	skip 'dropping privileges needs root', 9 unless $> == 0;
	chmod 0711, $t->dir or die "chmod: $!";
	my $run = $t->dir . '/run';
	mkdir $run or die "mkdir: $!";
	chmod 0777, $run or die "chmod: $!";
	my $user_ini = $t->write_ini(%offline, file => 'user.ini',
	    'garivini.user' => 'nobody', 'garivini.group' => 'nogroup',
	    'garivini.status_file' => "$run/status.json");
	my ($uid, $gid) = (getpwnam('nobody'))[2, 3];
	$gid = getgrnam('nogroup');
	$master = $t->spawn($bin, '-c', $user_ini);
	my $us;
	ok($t->wait_for('the master as nobody', 15, sub {
		$us = $t->status_json("$run/status.json");
		$us && $us->{master}{state} eq 'running';
	}), 'started as root with user = nobody');
	my %ids;
	for my $pid ($master, map { $_->{pid} } @{ $us->{children} }) {
		open(my $st, '<', "/proc/$pid/status") or next;
		my %f = map { /^(\w+):\s*(.*?)\s*$/ ? ($1, $2) : () } <$st>;
		close $st;
		$ids{"$f{Uid}/$f{Gid}/$f{Groups}"}++;
	}
	is_deeply([keys %ids], ["$uid\t$uid\t$uid\t$uid/$gid\t$gid\t$gid\t$gid/$gid"],
	    'master and children run as nobody:nogroup, no other group')
	    or diag(join("\n", keys %ids));
	is(scalar(@{ $us->{children} }), 3, 'with every child');
	my @owner = stat($t->log_path);
	is($owner[4], $uid, 'the log file was handed to the user');
	open(my $pf, '<', $t->pid_path) or die;
	is(scalar(<$pf>), "$master\n", 'the pidfile was written (as root)');
	close $pf;
	kill 'USR2', $master;
	ok($t->wait_for_log(qr/\[$master\] master notice: log file reopened$/, 5),
	    'the log reopens as the user');
	is($t->stop($master, 'TERM', 15), 0, 'stops cleanly');
	ok(!-s $t->pid_path,
	    'the pidfile it could not unlink any more is emptied');
	$master = $t->spawn($bin, '-c', $ini);
	ok($t->wait_for('a master after it', 15, sub {
		my $s = $t->status_json;
		$s && $s->{master}{pid} == $master &&
		    $s->{master}{state} eq 'running';
	}), 'which does not stop the next master');
	$t->stop($master, 'TERM', 15);
}

done_testing();
