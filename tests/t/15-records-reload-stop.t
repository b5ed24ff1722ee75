#!/usr/bin/perl
# Records of ended jobs under a running master: a HUP that changes keep_done
# gives the records written after it the new time (those before keep
# theirs), and a stop with low-latency jobs in flight records each of them
# as it completes; in both modes, with two databases, none runs twice and
# none is lost.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 2);
my %base = ('garivini.status_interval' => 0.2,
    'queue_runner.batch_run_sleep' => 0.1, 'controller.job_timeout' => 30,
    'function.once.unique_for' => 600, 'function.oncetp.unique_for' => 600);
my $ini = $t->write_ini(%base);
my $master = $t->spawn($t->build_path('garivini'), '-c', $ini);
ok($t->wait_for('the master to be running', 20, sub {
	my $st = $t->status_json;
	$st && $st->{master}{state} eq 'running' }), 'the master runs');
my $ran = $t->dir . '/ran.txt';
my @workers = $t->perl_workers(4, $ran, [quick => 0], [slow => 2],
    [once => 0]);
my $consumed = $t->dir . '/consumed.txt';
my $consumer = $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f',
    'batch', '-o', $consumed);
my $consumed2 = $t->dir . '/consumed2.txt';
my $consumer2 = $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f',
    'oncetp', '-o', $consumed2);

# Every record of $func, in both databases: [dbid, jobid, outcome,
# keep_until - ended].
sub records {
	my ($func) = @_;
	return [ map { my $db = $_; map { [$db, @$_] }
	    @{ $t->dbh($db)->selectall_arrayref(q{SELECT jobid, outcome,
	    CAST(keep_until AS SIGNED) - ended FROM job_outcome WHERE
	    funcname = ?}, undef, $func) } } 1, 2 ];
}

sub rows {
	my ($func) = @_;
	return $t->count(1, 'funcname = ?', $func) +
	    $t->count(2, 'funcname = ?', $func);
}

sub kept_for {
	my ($recs) = @_;
	my %k;
	$k{ $_->[3] }++ for @$recs;
	return join(',', map { "$_ x$k{$_}" } sort { $a <=> $b } keys %k);
}

$t->gv_inject_ok($ini, '40 low-latency jobs', mode => 'latency',
    func => 'quick', n => 40);
$t->gv_inject_ok($ini, '40 throughput jobs', func => 'batch', n => 40);
ok($t->wait_for('the 80 jobs to end', 60, sub {
	rows('quick') == 0 && rows('batch') == 0 }), 'they ran');
is(scalar @{ records('quick') }, 40, '40 low-latency records');
is(scalar @{ records('batch') }, 40, '40 throughput records');
is(kept_for([ @{ records('quick') }, @{ records('batch') } ]), '3600 x80',
    'each kept the default 3600 s');

# The Controllers and Injectors: keep_done is theirs, so a reload that
# changes it replaces them.
sub ending_roles {
	my $st = $t->status_json or return {};
	return { map { $_->{pid} => 1 } grep { $_->{pool} =~
	    /^(controller|injector)$/ } @{ $st->{children} } };
}

# HUP: [function.quick] and [function.batch] keep_done = 60. The jobs are
# injected once the old Controllers and Injectors are gone: a job one of
# them took while it stopped is recorded under the old policy.
my $old = ending_roles();
$ini = $t->write_ini(%base, 'function.quick.keep_done' => 60,
    'function.batch.keep_done' => 60);
kill 'HUP', $master;
ok($t->wait_for_log(qr/master notice: reload done, generation 2/, 20),
    'reloaded');
ok($t->wait_for('the old Controllers and Injectors to go', 30, sub {
	my $now = ending_roles();
	%$now && !grep { $old->{$_} } keys %$now }),
    'new Controllers and Injectors serve');
# gv_consume reads the INI when it starts: a new one for the new policy.
$t->stop($consumer, 'TERM', 10);
$consumer = $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f',
    'batch', '-o', $consumed);
$t->gv_inject_ok($ini, '20 more low-latency jobs', mode => 'latency',
    func => 'quick', n => 20);
$t->gv_inject_ok($ini, '20 more throughput jobs', func => 'batch', n => 20);
ok($t->wait_for('the 40 jobs to end', 60, sub {
	rows('quick') == 0 && rows('batch') == 0 }), 'they ran');
is(kept_for([ @{ records('quick') }, @{ records('batch') } ]),
    '60 x40,3600 x80', 'the new records keep 60 s, the old ones 3600 s');

# Unique windows, through inject_jobs and through the library: keys done a
# moment ago are duplicates; the answer names the job that was done, and
# nothing is stored or run again.
my %done;
for my $db (1, 2) {
	$done{"$db/$_->[0]"} = 1 for @{ $t->dbh($db)->selectall_arrayref(
	    q{SELECT jobid FROM job_outcome WHERE funcname IN ('quick',
	    'batch') AND outcome = 'done'}) };
}
$t->gv_inject_ok($ini, '10 keyed low-latency jobs', mode => 'latency',
    func => 'once', n => 10, args => ['-u', 'k{n}']);
$t->gv_inject_ok($ini, '10 keyed throughput jobs', func => 'oncetp', n => 10,
    args => ['-u', 'k{n}']);
ok($t->wait_for('the keyed jobs to end', 60, sub {
	rows('once') == 0 && rows('oncetp') == 0 }), 'they ran');
sub all_runs {
	return @{ $t->perl_worker_runs($ran) } +
	    @{ $t->consume_runs($consumed) } +
	    @{ $t->consume_runs($consumed2) };
}
my $before = all_runs();
my ($code, $out, $err) = $t->gv_inject($ini, mode => 'latency',
    func => 'once', n => 10, args => ['-u', 'k{n}', '-v']);
is($code, 0, 'the same keys injected again') or diag($err);
like($out . $err, qr/duplicate|existing|exists/i, 'answered as duplicates');
($code) = $t->gv_inject($ini, func => 'oncetp', n => 10,
    args => ['-u', 'k{n}']);
is($code, 0, 'and inserted again');
is(rows('once') + rows('oncetp'), 0, 'nothing stored');
sleep 1;
is(all_runs(), $before, 'nothing ran again');

# A stop with ten 2 s jobs in flight: the Controllers finish them and
# record each.
$t->gv_inject_ok($ini, '10 slow jobs', mode => 'latency', func => 'slow',
    n => 10);
ok($t->wait_for('the slow jobs to run', 20, sub {
	my $s = $t->gearman_status(1)->{slow};
	$s && $s->{running} >= 4 }), 'slow jobs running');
is($t->stop($master, 'TERM', 60), 0, 'the master stopped cleanly');
my $slow = records('slow');
my $left = rows('slow');
is(scalar(@$slow) + $left, 10, 'every slow job is recorded or waits: '
    . scalar(@$slow) . ' done, ' . $left . ' left');
cmp_ok(scalar @$slow, '>=', 4, 'the jobs in flight were recorded');
is(scalar(grep { $_->[2] ne 'done' } @$slow), 0, 'as done');

my %runs;
$runs{"$_->[6]/$_->[1]"}++ for @{ $t->perl_worker_runs($ran) };
is(scalar(grep { $_ > 1 } values %runs), 0, 'no job ran twice');
$t->stop($_, 'TERM', 10) for @workers, $consumer, $consumer2;
done_testing();
