#!/usr/bin/perl
# TERM while a job is in hand: the Controller finishes it (the row is
# deleted), then the master and every child are gone within
# shutdown_timeout and the pidfile is removed. A Controller gets at least
# its job_timeout and 10 s: a job slower than job_timeout is given up at
# job_timeout and the Controller exits by itself, the row kept for a later
# attempt; a child still there after its grace is SIGKILLed on time. A busy child that stops beating its heartbeat is killed and
# replaced. A child that exits EX_CONFIG (schema missing) is not restarted
# until a reload.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use GvTest;

my $t = GvTest->new(dbs => 1, gearmands => 1);
my $bin = $t->build_path('garivini');
my $shutdown = 10;

sub start_master {
	my ($ini) = @_;
	my $pid = $t->spawn($bin, '-c', $ini);
	$t->wait_for('the master to be running', 20, sub {
		my $st = $t->status_json;
		$st && $st->{master}{pid} == $pid &&
		    $st->{master}{state} eq 'running';
	}) or BAIL_OUT('the master did not start');
	return $pid;
}

sub busy_controller {
	my $st = $t->status_json or return 0;
	return $st->{pools}{controller}{busy} == 1;
}

my $ini = $t->write_ini('garivini.shutdown_timeout' => $shutdown,
    'garivini.status_interval' => 0.2);
my $master = start_master($ini);
my @children = map { $_->{pid} } @{ $t->status_json->{children} };
is(scalar(@children), 3, 'three children');

my $out = $t->dir . '/slow.txt';
my $worker = $t->spawn($t->build_path('gv_consume'), '-c', $ini,
    '-f', 'slow', '-m', 'latency', '-s', 3, '-o', $out);
my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-m', 'latency', '-f', 'slow', '-a', 'in hand');
is($code, 0, 'job injected') or diag($err);
ok($t->wait_for('the worker to take the job', 20, sub { -s $out }),
    'the job is in hand');
ok($t->wait_for('the controller to be busy', 5, \&busy_controller),
    'the status file shows the controller busy');
is($t->count(1), 1, 'its row exists');

my $t0 = time;
kill 'TERM', $master;
is($t->wait_exit($master, $shutdown + 5), 0, 'the master exits 0');
my $took = time - $t0;
cmp_ok($took, '<', $shutdown, 'within shutdown_timeout');
cmp_ok($took, '>', 1, 'after the job (it takes 3 s)');
is($t->count(1), 0, 'the job completed: its row is deleted');
ok(!(grep { kill 0, $_ } @children), 'every child is gone');
ok(!-e $t->pid_path, 'the pidfile is removed');
ok($t->wait_for_log(qr/stopping gracefully \(signal TERM\), children get 10\.0 s to finish \(Controllers 610\.0 s\)$/, 1),
    'the stop is logged');
ok($t->wait_for_log(qr/master info: controller\/0 \(pid \d+\) exited with code 0 after /, 1),
    'the controller exited 0');
ok($t->wait_for_log(qr/master notice: stopped$/, 1), 'stopped is logged');
is($t->status_json->{master}{state}, 'stopped', 'the status file says so');

# A job slower than job_timeout: the Controller, whose grace is job_timeout
# and 10 s, gives it up at job_timeout and exits by itself; the row is kept.
# A QueueRunner that cannot exit (SIGSTOP) is SIGKILLed after its grace,
# shutdown_timeout.
$ini = $t->write_ini('garivini.shutdown_timeout' => 1,
    'controller.job_timeout' => 2, 'garivini.status_interval' => 0.2);
$master = start_master($ini);
$t->stop($worker, 'TERM', 10);
unlink $out;
$worker = $t->spawn($t->build_path('gv_consume'), '-c', $ini,
    '-f', 'slower', '-m', 'latency', '-s', 30, '-o', $out);
($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-m', 'latency', '-f', 'slower', '-a', 'too slow');
is($code, 0, 'slow job injected') or diag($err);
ok($t->wait_for('the worker to take it', 20, sub { -s $out }),
    'in hand');
ok($t->wait_for('the controller to be busy', 5, \&busy_controller),
    'controller busy');
@children = map { $_->{pid} } @{ $t->status_json->{children} };
my ($runner) = map { $_->{pid} } grep { $_->{pool} eq 'queue_runner' }
    @{ $t->status_json->{children} };
kill 'STOP', $runner;
$t0 = time;
kill 'TERM', $master;
is($t->wait_exit($master, 15), 0, 'the master exits 0');
$took = time - $t0;
cmp_ok($took, '<', 8, 'soon after job_timeout (2 s)');
ok(!(grep { kill 0, $_ } @children), 'every child is gone');
ok($t->wait_for_log(qr/queue_runner\/0 \(pid $runner\) still running after its stop timeout, sending KILL$/, 1),
    'the QueueRunner past its grace was killed');
ok($t->wait_for_log(qr/queue_runner\/0 \(pid $runner\) killed by signal KILL after /, 1),
    'and its end logged');
ok($t->wait_for_log(qr/master info: controller\/0 \(pid \d+\) exited with code 0 after /, 1),
    'the Controller exited by itself');
is($t->count(1, 'failcount = 1'), 1,
    'the job it gave up keeps its row, failed once');
ok(!-e $t->pid_path, 'the pidfile is removed');
$t->stop($worker, 'KILL', 5);

sub log_count {
	my ($re) = @_;
	open(my $fh, '<', $t->log_path) or return 0;
	my $n = grep { $_ =~ $re } <$fh>;
	close $fh;
	return $n;
}

# Hung: busy, and no heartbeat for heartbeat_timeout (SIGSTOP stands in for
# a child stuck in a call that never returns).
$ini = $t->write_ini('garivini.shutdown_timeout' => 5,
    'garivini.heartbeat_timeout' => 1, 'garivini.status_interval' => 0.2);
$master = start_master($ini);
unlink $out;
$worker = $t->spawn($t->build_path('gv_consume'), '-c', $ini,
    '-f', 'stuck', '-m', 'latency', '-s', 30, '-o', $out);
($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-m', 'latency', '-f', 'stuck', '-a', 'stuck');
is($code, 0, 'job injected') or diag($err);
ok($t->wait_for('the controller to be busy', 20, \&busy_controller),
    'controller busy');
my ($hung) = map { $_->{pid} } grep { $_->{pool} eq 'controller' }
    @{ $t->status_json->{children} };
kill 'STOP', $hung;
ok($t->wait_for_log(qr/master warn: controller\/0 \(pid $hung\) hung: busy with no heartbeat for \d+\.\d s, killing it$/, 5),
    'the hung child is detected');
my $st;
ok($t->wait_for('a new controller/0', 5, sub {
	$st = $t->status_json;
	my ($c) = grep { $_->{pool} eq 'controller' } @{ $st->{children} };
	$c && $c->{pid} != $hung && $st->{pools}{controller}{restarts} == 1;
}), 'and replaced, the restart counted');
ok(!kill(0, $hung), 'the hung child is gone');
is($t->stop($master, 'TERM', 10), 0, 'stopped');
$t->stop($worker, 'KILL', 5);

# EX_CONFIG: the job table is missing, the QueueRunner says so and exits 78;
# its pool is marked failed and not restarted until a reload.
my $qr_spawned = qr/master info: queue_runner\/0 \(pid \d+\) spawned$/;
my $spawns = log_count($qr_spawned);
$t->dbh(1)->do('RENAME TABLE job TO job_away');
$ini = $t->write_ini('garivini.status_interval' => 0.2);
$master = start_master($ini);
ok($t->wait_for_log(qr/master err: queue_runner\/0 exited with EX_CONFIG: pool queue_runner marked failed, not restarted until a reload$/, 10),
    'EX_CONFIG: the pool is marked failed');
ok($t->wait_for('the status file to show it', 5, sub {
	$st = $t->status_json;
	$st->{pools}{queue_runner}{failed};
}), 'the status file shows the pool failed');
is($st->{pools}{queue_runner}{running}, 0, 'no queue_runner runs');
sleep 2;
is(log_count($qr_spawned) - $spawns, 1, 'not restarted in a loop');
$t->dbh(1)->do('RENAME TABLE job_away TO job');
kill 'HUP', $master;
ok($t->wait_for('the queue_runner to come back', 10, sub {
	$st = $t->status_json;
	!$st->{pools}{queue_runner}{failed} &&
	    $st->{pools}{queue_runner}{running} == 1;
}), 'a reload gives it another chance');
is(log_count($qr_spawned) - $spawns, 2, 'started once more');
is($t->stop($master, 'TERM', 10), 0, 'stopped');

done_testing();
