#!/usr/bin/perl
# Priorities: within a function, higher-priority jobs are claimed first and
# run first, also among jobs already queued in gearmand and in low-latency
# mode; across functions they change nothing, so a low-priority function is
# served as promptly as a high-priority one. Out-of-range priorities are
# refused by every entry point, and nothing is stored.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 60,
    'queue_runner.batch_run_sleep' => 0.1,
    'queue_runner.queue_watermark_depth' => 3);
sub role { $t->spawn($t->build_path('garivini'), '--role', @_) }

sub inject {
	my ($func, $n, $prio, @more) = @_;
	$t->gv_inject_ok($ini, "$n jobs of $func at priority $prio injected",
	    func => $func, n => $n, priority => $prio, arg => "$func {n}",
	    args => \@more);
}

sub priorities {
	my ($func) = @_;
	return { map { @$_ } @{ $t->dbh(1)->selectall_arrayref(
	    'SELECT jobid, priority FROM job WHERE funcname = ?', undef,
	    $func) } };
}

sub slurp_lines {
	my ($path) = @_;
	open(my $fh, '<', $path) or return [];
	return [ <$fh> ];
}

# The jobids in the order a gv_consume output file shows them run.
sub run_order {
	my ($path) = @_;
	open(my $fh, '<', $path) or return [];
	my @ids = map { (split /\t/)[1] } <$fh>;
	return \@ids;
}

sub descending {
	my ($prio, $ids) = @_;
	for my $k (1 .. $#$ids) {
		return 0 if $prio->{ $ids->[$k] } > $prio->{ $ids->[$k - 1] };
	}
	return 1;
}

sub consumer {
	my ($func, $out) = @_;
	return $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f', $func,
	    '-o', $out);
}

# 1. The claims: with the watermark at 3, gearmand never holds more than a
# few jobs, so the order of the runs is the order of the claims. The low
# jobs are the oldest, so without priorities they would run first.
inject('order', 15, -5);
inject('order', 15, 0);
inject('order', 15, 7);
$t->dbh(1)->do('UPDATE job SET run_after = run_after - 600 + 10 * priority '
    . 'WHERE funcname = ?', undef, 'order');
my $prio = priorities('order');
my $runner = role('queue_runner', '-c', $ini);
ok($t->wait_for('gearmand to hold order up to its watermark', 20, sub {
	my $s = $t->gearman_status(1)->{order};
	$s && $s->{total} >= 3 }), 'order is at its watermark');
my $order_out = $t->dir . '/order.txt';
my $c1 = consumer('order', $order_out);
ok($t->wait_for('the order jobs to run', 60,
    sub { @{ run_order($order_out) } >= 45 }), 'the 45 jobs ran');
my $ran = run_order($order_out);
ok(descending($prio, $ran), 'in priority order: every 7 before every 0, '
    . 'every 0 before every -5') or diag(join(' ', map { $prio->{$_} }
    @$ran));
my %seen;
$seen{$_}++ for @$ran;
is(scalar(keys %seen), 45, 'each job ran');
is(scalar(grep { $_ > 1 } values %seen), 0, 'none twice');
$t->stop($c1, 'TERM', 10);

# 2. Inside gearmand: low jobs are queued there first, high ones after;
# a worker that comes later runs the high ones first.
$t->stop($runner, 'TERM', 10);
$ini = $t->write_ini('queue_runner.lease_seconds' => 60,
    'queue_runner.batch_run_sleep' => 0.1);
$runner = role('queue_runner', '-c', $ini);
inject('queued', 10, -3);
ok($t->wait_for('the low jobs to be queued in gearmand', 20, sub {
	my $s = $t->gearman_status(1)->{queued};
	$s && $s->{total} == 10 }), 'ten low jobs queued in gearmand');
inject('queued', 10, 4);
ok($t->wait_for('the high jobs to be queued in gearmand', 20, sub {
	my $s = $t->gearman_status(1)->{queued};
	$s && $s->{total} == 20 }), 'then ten high jobs');
$prio = priorities('queued');
my $queued_out = $t->dir . '/queued.txt';
my $c2 = consumer('queued', $queued_out);
ok($t->wait_for('the queued jobs to run', 30,
    sub { @{ run_order($queued_out) } >= 20 }), 'the 20 jobs ran');
$ran = run_order($queued_out);
ok(descending($prio, $ran), 'the high ones first, though queued last')
    or diag(join(' ', map { $prio->{$_} } @$ran));
$t->stop($c2, 'TERM', 10);

# 3. Low latency: the Injector queues run_queued_job at the job's priority,
# so a Controller takes the high jobs first, and it queues each job in
# gearmand at its priority, so a worker takes the high ones first. Order
# is kept among jobs that wait, not between jobs a Controller with many
# slots sends side by side: those reach gearmand in whatever order their
# slots write them, and an idle worker takes the first to arrive (one CI
# run saw 9 ... 9 -2 9 -2). Sending them one by one would hold the lane
# across gearmand I/O; each order is tested where it holds.
# 3a. Injected while no Controller runs; one Controller running one job
# at a time then takes them in gearmand's order: the high ones first.
my $injector = role('injector', '-c', $ini);
my $echo_out = $t->dir . '/echo.txt';
my ($worker) = $t->perl_workers(1, $echo_out, [echo => 0]);
inject('echo', 10, -2, '-m', 'latency');
inject('echo', 10, 9, '-m', 'latency');
$prio = priorities('echo');
is(scalar(keys %$prio), 20, 'the 20 jobs are stored');
$ini = $t->write_ini('queue_runner.lease_seconds' => 60,
    'queue_runner.batch_run_sleep' => 0.1, 'controller.concurrency' => 1);
my $controller = role('controller', '-c', $ini);
ok($t->wait_for('the echo jobs to run', 30,
    sub { @{ run_order($echo_out) } >= 20 }), 'the 20 jobs ran');
$ran = run_order($echo_out);
ok(descending($prio, $ran), 'the high ones first')
    or diag(join(' ', map { $prio->{$_} } @$ran));
is(scalar(grep { $_->[4] =~ /^(-2|9)$/ }
    @{ $t->perl_worker_runs($echo_out) }), 20,
    'the worker reads each job\'s priority in its document');
ok($t->wait_for('the echo rows to go', 30,
    sub { $t->count(1, 'funcname = ?', 'echo') == 0 }),
    'and the Controller completed them');
$t->stop($controller, 'TERM', 10);
$t->stop($worker, 'TERM', 10);

# 3b. A Controller running many at once, while the worker is busy: it
# queues all of them in gearmand, each at its priority, and the worker
# runs the high ones first once it is free. (Each slot's submission could
# otherwise reach an idle worker first.)
$ini = $t->write_ini('queue_runner.lease_seconds' => 60,
    'queue_runner.batch_run_sleep' => 0.1);
$controller = role('controller', '-c', $ini);
my $later_out = $t->dir . '/later.txt';
my $free = $t->dir . '/free';
($worker) = $t->perl_workers(1, $later_out, [hold => $free], [later => 0]);
inject('hold', 1, 0, '-m', 'latency');
ok($t->wait_for('the worker to run the hold job', 30, sub {
	my $s = $t->gearman_status(1)->{hold};
	$s && $s->{running} == 1 }), 'the worker is busy');
inject('later', 10, -2, '-m', 'latency');
inject('later', 10, 9, '-m', 'latency');
$prio = priorities('later');
ok($t->wait_for('the Controller to queue the 20 jobs in gearmand', 30,
    sub { my $s = $t->gearman_status(1)->{later};
	$s && $s->{total} == 20 }), 'the 20 jobs wait in gearmand');
open(my $fh, '>', $free) or die "$free: $!";
close $fh;
ok($t->wait_for('the later jobs to run', 30,
    sub { (grep { /^later\t/ } @{ slurp_lines($later_out) }) >= 20 }),
    'the 20 jobs ran');
$ran = [ map { (split /\t/)[1] } grep { /^later\t/ }
    @{ slurp_lines($later_out) } ];
ok(descending($prio, $ran), 'the high ones first, though sent side by side')
    or diag(join(' ', map { $prio->{$_} } @$ran));

# 4. Fairness first: a large backlog of priority 10, older than
# everything, does not hold up a function whose jobs are all -10.
my %out = (big => $t->dir . '/big.txt', small => $t->dir . '/small.txt');
my @consumers = map { consumer($_, $out{$_}) } sort keys %out;
$t->stop($runner, 'TERM', 10);
inject('big', 20000, 10);
$t->dbh(1)->do('UPDATE job SET run_after = run_after - 3600 WHERE '
    . 'funcname = ?', undef, 'big');
inject('small', 30, -10);
$runner = role('queue_runner', '-c', $ini);
ok($t->wait_for('the small jobs to run', 60,
    sub { @{ run_order($out{small}) } >= 30 }), 'the -10 jobs ran');
my $big_left = $t->count(1, 'funcname = ?', 'big');
cmp_ok($big_left, '>=', 10000, "while big still had $big_left of its "
    . '20000 rows at priority 10');

# 5. Out of range, from each entry point: a clear error, nothing stored.
my $before = $t->count(1, 'funcname = ?', 'bad');
my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-f', 'bad', '-p', 11);
isnt($code, 0, 'libgarivini refuses priority 11');
like($err, qr/priority 11 is out of range -10\.\.10/, 'and says why');
($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-f', 'bad', '-p', -11, '-m', 'latency');
isnt($code, 0, 'inject_jobs refuses priority -11');
like($err, qr/priority must be an integer from -10 to 10/,
    'and says why');
is($t->count(1, 'funcname = ?', 'bad'), $before, 'nothing was stored');

# gvctl shows a job's priority.
inject('shown', 1, 6, '-d', 3600);
my ($id) = $t->dbh(1)->selectrow_array(
    'SELECT jobid FROM job WHERE funcname = ?', undef, 'shown');
my ($rc, $show) = $t->run($t->build_path('gvctl'), '-c', $ini, 'show',
    "1:$id");
is($rc, 0, 'gvctl show');
like($show, qr/^priority\s+6$/m, 'shows the priority');
my (undef, $list) = $t->run($t->build_path('gvctl'), '-c', $ini, 'list',
    '-f', 'shown');
like($list, qr/PRIO.*\n.*shown\s+scheduled\s+\S+\s+6\s/,
    'gvctl list has a PRIO column');

$t->stop($_, 'TERM', 10) for @consumers, $worker, $controller, $injector,
    $runner;
done_testing();
