#!/usr/bin/perl
# One Controller keeps many slow jobs in flight at once (its concurrency),
# not one: ten workers of a function whose jobs take seconds all work at
# the same time behind a single Controller. Stopped with TERM, it lets the
# jobs workers run finish and gives back the ones still queued, so each job
# runs once. Killed with jobs in flight, it loses none: they run again when
# their leases end.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 8,
    'queue_runner.batch_run_sleep' => 0.1, 'controller.concurrency' => 64,
    'function.nobody.job_timeout' => 2, 'function.nobody.max_failures' => 1);
sub role { $t->spawn($t->build_path('garivini'), '--role', @_) }
my @roles = (role('injector', '-c', $ini), role('queue_runner', '-c', $ini));
my $controller = role('controller', '-c', $ini);

# Ten workers of slow (2 s a job) and slower (4 s).
my $ran = $t->dir . '/ran.txt';
my @workers = $t->perl_workers(10, $ran, [slow => 2], [slower => 4]);

# Each run: [jobid, start, end].
sub runs { [map { [@$_[1 .. 3]] } @{ $t->perl_worker_runs($ran) }] }

sub inject {
	my ($n, $func) = @_;
	$func //= 'slow';
	$t->gv_inject_ok($ini, "$n jobs of $func injected", mode => 'latency',
	    func => $func, n => $n, arg => 'job {n}');
}

sub rows { $t->count(1, 'funcname = ?', $_[0] // 'slow') }

# The most jobs that ran at the same time (a run: job, start, end).
sub overlap { GvTest::max_overlap([map { [@$_[1, 2]] } @{ $_[0] }]) }

sub times_run {
	my %n;
	$n{ $_->[0] }++ for @{ runs() };
	return \%n;
}

# 1. Thirty jobs of 2 s, ten workers, one Controller; and three jobs of a
# function no worker serves, whose job_timeout is 2 s and whose first
# failure would park it, and two of another with the default job_timeout
# (600 s), given back as soon as the Controller sees no worker for it.
inject(3, 'nobody');
inject(2, 'noone');
inject(30);
ok($t->wait_for('the 30 jobs to run and their rows to go', 60,
    sub { rows() == 0 && @{ runs() } >= 30 }), 'the 30 jobs ran');
cmp_ok(overlap(runs()), '>=', 8, 'one Controller had the ten workers busy '
    . 'at once (it ran one job at a time before)');
my $n = times_run();
is(scalar(keys %$n), 30, 'each job ran');
is(scalar(grep { $_ > 1 } values %$n), 0, 'none twice');
my $nobody = $t->dbh(1)->selectall_arrayref('SELECT failcount, run_after '
    . 'FROM job WHERE funcname = ?', { Slice => {} }, 'nobody');
is(scalar(@$nobody), 3, 'the jobs no worker took are kept');
is(scalar(grep { $_->{failcount} == 0 && $_->{run_after} < 2147483647 }
    @$nobody), 3, 'neither failed nor parked');
ok($t->wait_for_log(qr/\(nobody\): no worker took it within 2 s/, 10),
    'the Controller says no worker took them');
ok($t->wait_for_log(qr/\(noone\): no worker for noone on gearmand /, 15),
    'a job with no worker at all is given back long before its job_timeout');
ok($t->wait_for('both noone jobs to be given back', 10, sub {
	$t->dbh(1)->selectrow_array('SELECT COUNT(*) FROM job WHERE '
	    . 'funcname = ? AND failcount = 0 AND leased = 0', undef,
	    'noone') == 2 }), 'uncharged, and not in flight');

# 2. TERM with thirty jobs of 4 s: ten running, twenty queued in gearmand.
# The Controller lets the ten finish, and the ten after them, which start
# 4 s later; the last ten, still queued 5 s after they were sent, are given
# back, and a new Controller runs them. Nothing broke: nothing runs twice.
unlink $ran;
inject(30, 'slower');
ok($t->wait_for('ten jobs to be running', 20, sub {
	my $s = $t->gearman_status(1)->{slower};
	$s && $s->{running} >= 10 && $s->{total} >= 30 }),
    'ten running, thirty in gearmand');
kill 'TERM', $controller;
is($t->wait_exit($controller, 30), 0, 'the Controller exits cleanly');
is(scalar(@{ runs() }), 20, 'after the twenty jobs workers took ran');
cmp_ok(rows('slower'), '==', 10, 'their rows went; the ten others wait');
$controller = role('controller', '-c', $ini);
ok($t->wait_for('the ten to run', 60,
    sub { rows('slower') == 0 && @{ runs() } >= 30 }),
    'a new Controller ran them');
sleep 1;
$n = times_run();
is(scalar(keys %$n), 30, 'each of the 30 ran');
is(scalar(grep { $_ > 1 } values %$n), 0, 'none twice') or diag(explain($n));

# 3. SIGKILL with fifty jobs in flight: none lost.
unlink $ran;
inject(50);
ok($t->wait_for('fifty jobs in gearmand', 20, sub {
	my $s = $t->gearman_status(1)->{slow};
	$s && $s->{total} >= 50 && $s->{running} >= 10 }),
    'fifty in flight, ten running');
kill 'KILL', $controller;
$t->wait_exit($controller, 10);
is(rows(), 50, 'the fifty rows are still there');
$controller = role('controller', '-c', $ini);
ok($t->wait_for('the fifty to run after their leases', 90,
    sub { rows() == 0 }), 'all fifty ran again after their leases');
$n = times_run();
is(scalar(keys %$n), 50, 'each of the fifty ran');

$t->stop($_, 'TERM', 10) for @workers, $controller, @roles;
done_testing();
