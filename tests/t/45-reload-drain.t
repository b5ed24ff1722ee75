#!/usr/bin/perl
# Reloads do not kill work in hand. With ten 8 s jobs running behind one
# Controller and a shutdown_timeout of 2 s: a HUP that changes log_level
# replaces no child; a HUP that changes a Controller's settings starts a new
# Controller at once, which serves new jobs, while the old one finishes its
# ten jobs (its grace is its job_timeout and some, not shutdown_timeout)
# and exits by itself. Each job runs once.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use GvTest;

my $t = GvTest->new(dbs => 1);
my %base = ('garivini.shutdown_timeout' => 2,
    'garivini.status_interval' => 0.2, 'queue_runner.lease_seconds' => 60,
    'queue_runner.batch_run_sleep' => 0.2, 'controller.processes' => 1,
    'controller.concurrency' => 16, 'controller.job_timeout' => 30);
my $ini = $t->write_ini(%base);
my $master = $t->spawn($t->build_path('garivini'), '-c', $ini);
ok($t->wait_for('the master to be running', 20, sub {
	my $st = $t->status_json;
	$st && $st->{master}{state} eq 'running' }), 'the master runs');

sub controllers {
	my $st = $t->status_json or return ();
	return grep { $_->{pool} eq 'controller' } @{ $st->{children} };
}

my $ran = $t->dir . '/ran.txt';
my @workers = ($t->perl_workers(10, $ran, [slow => 8]),
    $t->perl_workers(1, $ran, [quick => 0]));

# How many times each job of $func ran.
sub runs {
	my ($func) = @_;
	my %n;
	$n{ $_->[1] }++ for grep { $_->[0] eq $func }
	    @{ $t->perl_worker_runs($ran) };
	return \%n;
}

sub inject {
	my ($func, $n) = @_;
	$t->gv_inject_ok($ini, "$n jobs of $func injected", mode => 'latency',
	    func => $func, n => $n);
}

inject('slow', 10);
ok($t->wait_for('ten jobs running', 20, sub {
	my $s = $t->gearman_status(1)->{slow};
	$s && $s->{running} == 10 }), 'ten slow jobs running');
my ($old) = map { $_->{pid} } controllers();

# log_level: handed to the children, no new process.
$ini = $t->write_ini(%base, 'garivini.log_level' => 'debug');
kill 'HUP', $master;
ok($t->wait_for_log(qr/master notice: reload done, generation 2/, 10),
    'reloaded');
sleep 1;
is(join(',', map { $_->{pid} } controllers()), $old,
    'a new log_level replaces no Controller');

# A Controller's setting: a new Controller at once, the old one drains.
$ini = $t->write_ini(%base, 'garivini.log_level' => 'debug',
    'controller.job_timeout' => 40);
kill 'HUP', $master;
ok($t->wait_for('a new Controller beside the old one', 10, sub {
	my @c = controllers();
	(grep { $_->{pid} == $old && $_->{state} eq 'stopping' } @c) &&
	    (grep { $_->{pid} != $old && $_->{state} ne 'stopping' } @c) }),
    'the new Controller starts while the old one finishes its jobs');
# ps: the old Controller says it is draining, the new one holds the slot.
my ($new) = map { $_->{pid} } grep { $_->{pid} != $old } controllers();
ok($t->wait_for('the old Controller\'s title', 5, sub {
	GvTest::process_title($old) eq 'garivini: controller/0 (draining)' }),
    'ps: garivini: controller/0 (draining)')
    or diag(GvTest::process_title($old));
is(GvTest::process_title($new), 'garivini: controller/0',
    'ps: garivini: controller/0 for its successor');
is(GvTest::process_title($master), "garivini: master -c $ini",
    'ps: the master names its INI');
inject('quick', 3);
ok($t->wait_for('the quick jobs to run', 10,
    sub { keys(%{ runs('quick') }) == 3 }),
    'new jobs run on the new Controller meanwhile');
is(scalar(keys %{ runs('slow') }), 0, 'the slow jobs are still running')
    or diag('a slow job ended before 8 s?');

ok($t->wait_for('the slow jobs to complete', 30,
    sub { $t->count(1, 'funcname = ?', 'slow') == 0 }),
    'the ten slow jobs completed');
ok($t->wait_for_log(qr/controller\/0 \(pid $old\) exited with code 0 after /,
    10), 'the old Controller exited by itself');
my $log = do { local (@ARGV, $/) = ($t->log_path); <> };
unlike($log, qr/pid $old\) still running after its stop timeout/,
    'it was not killed');
sleep 1;
my $n = runs('slow');
is(scalar(keys %$n), 10, 'each slow job ran');
is(scalar(grep { $_ > 1 } values %$n), 0, 'none twice');
is(scalar(grep { $_ > 1 } values %{ runs('quick') }), 0,
    'no quick job twice');

kill 'TERM', $master;
is($t->wait_exit($master, 20), 0, 'the master stops');
$t->stop($_, 'TERM', 10) for @workers;
done_testing();
